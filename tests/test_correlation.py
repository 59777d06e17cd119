"""correlate / correlate_pairs against naive loops with scipy, materialized bootstraps, and the
published TED and WMT19 numbers."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from oracles import scipy_coefficient

from accord.errors import AccordError, ConfigError
from accord.metaeval.correlation import (
    MeanScorer,
    StatsScorer,
    correlate,
    correlate_pairs,
)


def _matrices(seed: int, n_systems: int = 6, n_items: int = 30) -> tuple[np.ndarray, ...]:
    """MQM-like gold (few values, many ties) and a noisy metric, with missing cells."""
    rng = np.random.default_rng(seed)
    gold = -rng.choice([0.0, 0.0, 0.0, 1.0, 5.0, 6.0], (n_systems, n_items))
    metric = np.round(gold + rng.normal(0, 3, gold.shape), 1)
    metric[rng.random(gold.shape) < 0.08] = np.nan
    gold[rng.random(gold.shape) < 0.08] = np.nan
    gold[:, 0] = -1.0  # an item where the gold is constant: undefined per-item correlation
    metric[1:, 1] = np.nan  # an item with a single system
    return metric, gold


def _naive_grouped(coefficient: str, metric: np.ndarray, gold: np.ndarray, axis: int) -> float:
    """Mean over rows (axis=0: systems) or columns (axis=1... items) of the per-group value."""
    values = []
    groups = metric.shape[1] if axis == 1 else metric.shape[0]
    for g in range(groups):
        x = metric[:, g] if axis == 1 else metric[g]
        y = gold[:, g] if axis == 1 else gold[g]
        keep = ~(np.isnan(x) | np.isnan(y))
        value = scipy_coefficient(coefficient, x[keep], y[keep])
        if not math.isnan(value):
            values.append(value)
    return float(np.mean(values))


COEFFICIENTS = ["pearson", "spearman", "kendall_b", "kendall_c"]


@pytest.mark.parametrize("coefficient", COEFFICIENTS)
def test_segment_level_against_naive_loops(coefficient: str) -> None:
    metric, gold = _matrices(1)
    keep = ~(np.isnan(metric) | np.isnan(gold))
    flat = correlate(metric, gold, coefficient, "segment", "none", ci=None)
    expected = scipy_coefficient(coefficient, metric[keep], gold[keep])
    assert flat.value == pytest.approx(expected, abs=1e-12)
    assert flat.n == keep.sum()
    by_item = correlate(metric, gold, coefficient, "segment", "item", ci=None)
    assert by_item.value == pytest.approx(_naive_grouped(coefficient, metric, gold, 1), abs=1e-12)
    assert by_item.extra["groups_too_few"] == 1
    assert by_item.extra["groups_constant"] >= 1
    by_system = correlate(metric, gold, coefficient, "segment", "system", ci=None)
    assert by_system.value == pytest.approx(
        _naive_grouped(coefficient, metric, gold, 0), abs=1e-12
    )


def _brute_pooled_acc_eq(metric: np.ndarray, gold: np.ndarray) -> float:
    """Pooled within-item pairs, best single epsilon, by explicit loops."""
    pairs = []
    for i in range(metric.shape[1]):
        for s in range(metric.shape[0]):
            for t in range(s + 1, metric.shape[0]):
                if not np.isnan([metric[s, i], metric[t, i], gold[s, i], gold[t, i]]).any():
                    pairs.append((metric[s, i] - metric[t, i], gold[s, i] - gold[t, i]))
    best = 0.0
    for eps in {0.0} | {abs(dm) for dm, _ in pairs}:
        correct = sum(
            (abs(dm) <= eps and dg == 0) or (abs(dm) > eps and dm * dg > 0) for dm, dg in pairs
        )
        best = max(best, correct / len(pairs))
    return best


def test_pooled_acc_eq_and_wmt_kendall_by_item() -> None:
    metric, gold = _matrices(2, n_systems=5, n_items=12)
    got = correlate(metric, gold, "acc_eq", "segment", "item", ci=None)
    assert got.value == pytest.approx(_brute_pooled_acc_eq(metric, gold), abs=1e-12)

    concordant = discordant = 0
    for i in range(metric.shape[1]):
        for s in range(metric.shape[0]):
            for t in range(s + 1, metric.shape[0]):
                dm, dg = metric[s, i] - metric[t, i], gold[s, i] - gold[t, i]
                if np.isnan(dm) or np.isnan(dg) or dg == 0:
                    continue
                concordant += dm * dg > 0
                discordant += dm * dg <= 0
    wmt = correlate(metric, gold, "wmt_kendall", "segment", "item", ci=None)
    assert wmt.value == pytest.approx((concordant - discordant) / (concordant + discordant))
    assert wmt.n == concordant + discordant


def test_system_level_mean_scorer_against_scipy() -> None:
    metric, gold = _matrices(3, n_systems=8, n_items=40)
    both = ~np.isnan(gold)
    human = np.nanmean(gold, axis=1)
    # the metric averages over the segments that have a human score
    system_metric = np.array(
        [np.nanmean(np.where(both[s], metric[s], np.nan)) for s in range(metric.shape[0])]
    )
    for coefficient in COEFFICIENTS:
        got = correlate(metric, gold, coefficient, "system", ci=None)
        expected = scipy_coefficient(coefficient, system_metric, human)
        assert got.value == pytest.approx(expected, abs=1e-12)
        assert got.n == 8


def test_stats_scorer_matches_naive_loop() -> None:
    rng = np.random.default_rng(4)
    hits = rng.integers(0, 10, (4, 15)).astype(float)
    total = hits + rng.integers(1, 5, (4, 15))
    stats_ = np.stack([hits, total], axis=2)
    stats_[2, 3] = np.nan  # a missing segment
    scorer = StatsScorer(stats_, lambda s: s[..., 0] / s[..., 1])
    weights = rng.multinomial(15, np.full(15, 1 / 15), size=5).astype(float)
    got = scorer(weights)
    for r in range(5):
        for s in range(4):
            h = t = 0.0
            for i in range(15):
                if not (s == 2 and i == 3):
                    h += weights[r, i] * hits[s, i]
                    t += weights[r, i] * total[s, i]
            assert got[r, s] == pytest.approx(h / t)
    with pytest.raises(AccordError, match="item_weights"):
        scorer(np.ones((2, 14)))


def test_system_level_bootstrap_equals_materialized_resamples() -> None:
    rng = np.random.default_rng(6)
    hits = rng.integers(0, 10, (5, 20)).astype(float)
    total = hits + rng.integers(1, 6, (5, 20))
    gold = hits / total + rng.normal(0, 0.2, (5, 20))
    scorer = StatsScorer(np.stack([hits, total], axis=2), lambda s: s[..., 0] / s[..., 1])
    got = correlate(scorer, gold, "pearson", "system", ci="items", n_resamples=40, seed=3)
    # the documented draw: one default_rng(seed), items resampled by multinomial counts
    counts = np.random.default_rng(3).multinomial(20, np.full(20, 1 / 20), size=40)
    values = []
    for row in counts:
        index = np.repeat(np.arange(20), row)
        metric_sys = hits[:, index].sum(axis=1) / total[:, index].sum(axis=1)
        values.append(scipy_coefficient("pearson", metric_sys, gold[:, index].mean(axis=1)))
    low, high = np.quantile(values, [0.025, 0.975])
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-12)


def _materialized_values(
    metric: np.ndarray, gold: np.ndarray, grouping: str, ci: str, n_resamples: int, seed: int
) -> list[float]:
    """Bootstrap by copying cells, in the documented draw order: systems, then items."""
    n_systems, n_items = metric.shape
    rng = np.random.default_rng(seed)
    sys_counts = (
        rng.multinomial(n_systems, np.full(n_systems, 1 / n_systems), size=n_resamples)
        if ci in ("systems", "both")
        else np.ones((n_resamples, n_systems), dtype=int)
    )
    item_counts = (
        rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=n_resamples)
        if ci in ("items", "both")
        else np.ones((n_resamples, n_items), dtype=int)
    )
    values = []
    for r in range(n_resamples):
        systems = np.repeat(np.arange(n_systems), sys_counts[r])
        items = np.repeat(np.arange(n_items), item_counts[r])
        m = metric[systems][:, items]  # every copy of an item is its own column
        g = gold[systems][:, items]
        if grouping == "none":
            keep = ~(np.isnan(m) | np.isnan(g))
            values.append(scipy_coefficient("kendall_b", m[keep], g[keep]))
        elif grouping == "item":
            values.append(_naive_grouped("kendall_b", m, g, 1))
        else:
            values.append(_naive_grouped("kendall_b", m, g, 0))
    return values


@pytest.mark.parametrize("grouping", ["none", "item", "system"])
@pytest.mark.parametrize("ci", ["items", "systems", "both"])
def test_segment_bootstrap_equals_materialized_resamples(grouping: str, ci: str) -> None:
    metric, gold = _matrices(8, n_systems=5, n_items=16)
    # items with no usable cell are dropped before resampling; keep all usable here
    got = correlate(
        metric, gold, "kendall_b", "segment", grouping, ci=ci, n_resamples=25, seed=2
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # means of empty lists in degenerate resamples
        values = np.array(_materialized_values(metric, gold, grouping, ci, 25, 2))
    finite = values[np.isfinite(values)]
    low, high = np.quantile(finite, [0.025, 0.975])
    assert (got.ci_low, got.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert got.extra["resamples_undefined"] == values.size - finite.size
    assert got.signature == (
        f"kendall_b|alpha:0.05|ci:{ci}|grouping:{grouping}|level:segment|resamples:25|seed:2"
        "|version:0.1.0"
    )


def test_same_seed_same_interval_and_interval_covers_point() -> None:
    rng = np.random.default_rng(0)
    gold = rng.normal(size=(10, 80))
    metric = gold + rng.normal(size=gold.shape)
    for coefficient in ("pearson", "spearman", "kendall_b", "acc_eq"):
        first = correlate(metric, gold, coefficient, "segment", "item", n_resamples=200, seed=5)
        again = correlate(metric, gold, coefficient, "segment", "item", n_resamples=200, seed=5)
        other = correlate(metric, gold, coefficient, "segment", "item", n_resamples=200, seed=6)
        assert (first.ci_low, first.ci_high) == (again.ci_low, again.ci_high)
        assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)
        assert first.ci_low < first.value < first.ci_high


@pytest.mark.parametrize("coefficient", ["pearson", "kendall_b"])
def test_interval_coverage_of_a_known_correlation(coefficient: str) -> None:
    rho = 0.6
    # population values: Pearson's rho, and Kendall's tau = 2 arcsin(rho) / pi for a normal
    truth = rho if coefficient == "pearson" else 2 * math.asin(rho) / math.pi
    rng = np.random.default_rng(12)
    covered = 0
    n_sims = 100
    for sim in range(n_sims):
        x = rng.normal(size=80)
        y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=80)
        got = correlate(x[None, :], y[None, :], coefficient, ci="items", n_resamples=300, seed=sim)
        covered += got.ci_low <= truth <= got.ci_high
    assert 0.86 <= covered / n_sims <= 1.0


def test_correlate_pairs_against_naive_counts() -> None:
    a = np.array([0.3, 0.5, 0.5, 0.9, 0.1, 0.7, np.nan, 0.2])
    b = np.array([0.1, 0.6, 0.5, 0.2, 0.4, 0.7, 0.3, 0.2])
    winner = np.array(["a", "b", "a", "b", "tie", "b", "a", "a"])
    # verdicts kept: a>b right, b won and b>a right, a won but tie (discordant),
    # b won but a>b (discordant), b won but tie (discordant), a won but tie (discordant)
    got = correlate_pairs(a, b, winner, ci=None)
    assert got.value == pytest.approx((2 - 4) / 6)
    assert got.extra["human_ties"] == 1 and got.extra["pairs_missing"] == 1
    numeric = correlate_pairs(a, b, np.array([1, -1, 1, -1, 0, -1, 1, 1]), ci=None)
    assert numeric.value == got.value
    with pytest.raises(AccordError, match="winner"):
        correlate_pairs(a, b, np.array(["a"] * 7 + ["left"]), ci=None)
    with pytest.raises(ConfigError, match="items"):
        correlate_pairs(a, b, winner, ci="items")


def test_correlate_pairs_item_bootstrap_equals_materialized() -> None:
    rng = np.random.default_rng(1)
    n = 60
    items = rng.integers(0, 12, n)
    a, b = rng.normal(size=n), rng.normal(size=n)
    winner = np.where(a - b + rng.normal(size=n) > 0, "a", "b")
    got = correlate_pairs(a, b, winner, ci="items", items=items, n_resamples=50, seed=4)
    ids = np.unique(items)
    counts = np.random.default_rng(4).multinomial(ids.size, np.full(ids.size, 1 / ids.size), 50)
    values = []
    for row in counts:
        index = np.concatenate([np.flatnonzero(items == i).repeat(c) for i, c in zip(ids, row)])
        better = np.where(winner[index] == "a", a[index], b[index])
        worse = np.where(winner[index] == "a", b[index], a[index])
        values.append(((better > worse).sum() - (better <= worse).sum()) / index.size)
    assert (got.ci_low, got.ci_high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])))


def test_bad_options_raise() -> None:
    metric, gold = _matrices(1)
    with pytest.raises(ConfigError, match="coefficient"):
        correlate(metric, gold, "kendall")
    with pytest.raises(ConfigError, match="grouping"):
        correlate(metric, gold, "pearson", "system", "item")
    with pytest.raises(ConfigError, match="ci"):
        correlate(metric, gold, "pearson", ci="segments")
    with pytest.raises(AccordError, match="same shape"):
        correlate(metric[:, :5], gold, "pearson")
    with pytest.raises(TypeError):
        correlate(MeanScorer(metric), gold, "pearson", "segment")


# --- published numbers on the real files ----------------------------------------------------


@pytest.fixture(scope="module")
def ted_chrf(data_dir: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from accord.data.loaders import load_mqm_tsv
    from accord.metrics.lexical import ChrF

    judgments = load_mqm_tsv(data_dir / "mqm-ted" / "mqm_ted_ende.tsv")
    systems, items = judgments.ranked_systems(), judgments.item_ids
    gold = judgments.gold_matrix("mqm", systems, items)
    outputs = judgments.output_matrix(systems, items)
    refs = judgments.refs_for(items)
    chrf = ChrF()
    segment = np.full(gold.shape, np.nan)
    stats_ = np.full((*gold.shape, chrf.n_stats), np.nan)
    for s in range(gold.shape[0]):
        present = [i for i in range(gold.shape[1]) if outputs[s, i] is not None]
        hyps = [outputs[s, i] for i in present]
        segment[s, present] = chrf.score_segments(hyps, [refs[i] for i in present])
        stats_[s, present] = chrf.segment_stats(hyps, [refs[i] for i in present])
    return segment, gold, stats_


@pytest.mark.slow
def test_published_ted_numbers(ted_chrf: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    from accord.metrics.lexical import ChrF

    segment, gold, stats_ = ted_chrf
    assert gold.shape == (13, 529)
    flat = correlate(segment, gold, "kendall_b", "segment", "none", n_resamples=200)
    assert round(flat.value, 3) == 0.147
    assert flat.ci_low < flat.value < flat.ci_high
    by_item = correlate(segment, gold, "kendall_b", "segment", "item", ci=None)
    assert round(by_item.value, 3) == 0.075
    scorer = StatsScorer(stats_, ChrF().score_from_stats)
    system = correlate(scorer, gold, "pearson", "system", n_resamples=200)
    assert round(system.value, 3) == 0.562


@pytest.mark.slow
def test_published_wmt19_kk_en_number(data_dir: Path) -> None:
    from accord.data.loaders import load_darr_pkl
    from accord.metrics.lexical import ChrF

    judgments = load_darr_pkl(data_dir / "wmt19-darr" / "kk-en.data.pkl")
    pairs = judgments.pairs
    hyp = judgments.outputs.set_index(["item", "system"])["hyp"]
    refs = dict(zip(judgments.items["item"], judgments.items["refs"]))
    pair_refs = [refs[i] for i in pairs["item"]]
    chrf = ChrF()
    a = chrf.score_segments([hyp[k] for k in zip(pairs["item"], pairs["system_a"])], pair_refs)
    b = chrf.score_segments([hyp[k] for k in zip(pairs["item"], pairs["system_b"])], pair_refs)
    got = correlate_pairs(a, b, pairs["winner"].to_numpy(), ci=None)
    assert round(got.value, 3) == 0.323
    assert got.n == 9728


def _draws(
    n_systems: int, n_items: int, n_resamples: int, seed: int
) -> list[tuple[np.ndarray, ...]]:
    """Materialized (systems, items) index lists for ci="both", in the documented draw order."""
    rng = np.random.default_rng(seed)
    sys_counts = rng.multinomial(n_systems, np.full(n_systems, 1 / n_systems), size=n_resamples)
    item_counts = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=n_resamples)
    return [
        (np.repeat(np.arange(n_systems), s), np.repeat(np.arange(n_items), i))
        for s, i in zip(sys_counts, item_counts)
    ]


def _pooled_pairs(metric: np.ndarray, gold: np.ndarray) -> list[tuple[float, float]]:
    """(metric difference, gold difference) of every within-column pair of rows."""
    pairs = []
    for i in range(metric.shape[1]):
        for s in range(metric.shape[0]):
            for t in range(s + 1, metric.shape[0]):
                dm, dg = metric[s, i] - metric[t, i], gold[s, i] - gold[t, i]
                if not (np.isnan(dm) or np.isnan(dg)):
                    pairs.append((dm, dg))
    return pairs


def test_pooled_bootstrap_equals_materialized_resamples() -> None:
    metric, gold = _matrices(5, n_systems=4, n_items=7)
    wmt_values, acc_values = [], []
    for systems, items in _draws(4, 7, 12, seed=1):
        pairs = _pooled_pairs(metric[systems][:, items], gold[systems][:, items])
        judged = [(dm, dg) for dm, dg in pairs if dg != 0]
        good = sum(dm * dg > 0 for dm, dg in judged)
        wmt_values.append((2 * good - len(judged)) / len(judged) if judged else math.nan)
        best = max(
            sum((abs(dm) <= eps and dg == 0) or (abs(dm) > eps and dm * dg > 0) for dm, dg in pairs)
            for eps in {0.0} | {abs(dm) for dm, _ in pairs}
        )
        acc_values.append(best / len(pairs))
    for coefficient, values in (("wmt_kendall", wmt_values), ("acc_eq", acc_values)):
        got = correlate(metric, gold, coefficient, "segment", "item", ci="both", n_resamples=12,
                        seed=1)
        finite = np.array(values)[np.isfinite(values)]
        expected = tuple(np.quantile(finite, [0.025, 0.975]))
        assert (got.ci_low, got.ci_high) == pytest.approx(expected, abs=1e-12), coefficient


def test_system_level_both_bootstrap_equals_materialized_resamples() -> None:
    metric, gold = _matrices(9, n_systems=6, n_items=25)
    got = correlate(metric, gold, "kendall_b", "system", ci="both", n_resamples=30, seed=7)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a system copy may have no scored item in a resample
        for systems, items in _draws(6, 25, 30, seed=7):
            m, g = metric[systems][:, items], gold[systems][:, items]
            m = np.where(np.isnan(g), np.nan, m)
            human, machine = np.nanmean(g, axis=1), np.nanmean(m, axis=1)
            keep = ~(np.isnan(human) | np.isnan(machine))
            values.append(scipy_coefficient("kendall_b", machine[keep], human[keep]))
    finite = np.array(values)[np.isfinite(values)]
    assert (got.ci_low, got.ci_high) == pytest.approx(
        tuple(np.quantile(finite, [0.025, 0.975])), abs=1e-12
    )
