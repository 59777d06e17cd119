"""Human ceiling on simulated multi-rater data, the real files' single raters, Krippendorff's
alpha by hand, and (soft) pairwise accuracy against brute-force loops."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from accord.config import VariantConfig
from accord.data.judgments import Judgments
from accord.data.loaders import load_mqm_tsv, load_summeval_pkl
from accord.metaeval.agreement import (
    human_ceiling,
    krippendorff_alpha,
    pairwise_accuracy,
    rater_correlation,
    rater_matrices,
    soft_pairwise_accuracy,
    system_pair_pvalues,
)


def _multi_rater(rng: np.random.Generator, n_systems=4, n_items=12, n_raters=3, noise=0.5):
    truth = rng.normal(size=(n_systems, n_items))
    systems = [f"s{i}" for i in range(n_systems)]
    items = [f"i{j}" for j in range(n_items)]
    rows = []
    for r in range(n_raters):
        scores = truth + noise * rng.normal(size=truth.shape)
        for (s, i), v in np.ndenumerate(scores):
            rows.append({"item": items[i], "system": systems[s], "rater": f"r{r}",
                         "aspect": "quality", "score": float(v)})
    judgments = Judgments(
        name="simulated",
        items=pd.DataFrame({"item": items, "doc": "d", "src": "", "refs": [()] * n_items}),
        outputs=pd.DataFrame([{"item": i, "system": s, "hyp": f"{s}-{i}"}
                              for s in systems for i in items]),
        scores=pd.DataFrame(rows),
    )
    return judgments, truth


def test_krippendorff_interval_alpha_by_hand():
    # two raters, three units: (1, 1), (2, 2), (3, 4). By hand: D_o = (1/6) * 2 * 1 = 1/3,
    # sum over ordered pairs of all six values = 2 * (6 * 35 - 13^2) = 82, D_e = 82 / 30,
    # alpha = 1 - D_o / D_e = 1 - 10/82
    matrices = {"r1": np.array([[1.0, 2.0, 3.0]]), "r2": np.array([[1.0, 2.0, 4.0]])}
    est = krippendorff_alpha(matrices, "interval")
    assert est.value == pytest.approx(1 - 10 / 82, abs=1e-12)
    assert est.n == 3 and est.extra["units_single"] == 0


def test_krippendorff_ignores_units_with_one_rating():
    matrices = {"r1": np.array([[1.0, 2.0, 3.0, 5.0]]),
                "r2": np.array([[1.0, 2.0, 4.0, np.nan]])}
    est = krippendorff_alpha(matrices, "interval")
    assert est.value == pytest.approx(1 - 10 / 82, abs=1e-12)
    assert est.extra["units_single"] == 1


def test_rater_correlation_is_leave_one_out_against_scipy():
    judgments, _ = _multi_rater(np.random.default_rng(1))
    matrices = rater_matrices(judgments, "quality")
    assert sorted(matrices) == ["r0", "r1", "r2"]
    est = rater_correlation(matrices, "kendall_b", "segment", "none")
    expected = []
    for rater in matrices:
        others = np.mean([m for r, m in matrices.items() if r != rater], axis=0)
        expected.append(stats.kendalltau(matrices[rater].ravel(), others.ravel())[0])
    assert est.value == pytest.approx(np.mean(expected), abs=1e-12)
    assert est.n == 3


def test_human_ceiling_on_simulated_raters_rises_with_agreement():
    rng = np.random.default_rng(2)
    variants = [VariantConfig(level="segment", coefficient="pearson"),
                VariantConfig(level="system", coefficient="kendall_b")]
    tight, _ = _multi_rater(rng, noise=0.2)
    loose, _ = _multi_rater(rng, noise=2.0)
    table_tight, message = human_ceiling(tight, "quality", variants)
    table_loose, _ = human_ceiling(loose, "quality", variants)
    assert table_tight is not None and table_loose is not None
    assert "48 of 48 scored cells have two or more raters" in message
    tight_values = table_tight.set_index("variant")["value"]
    loose_values = table_loose.set_index("variant")["value"]
    for key in ("segment/none/pearson", "Krippendorff's alpha (interval)"):
        assert tight_values[key] > loose_values[key]
    assert tight_values["Krippendorff's alpha (interval)"] > 0.8


def test_real_files_have_one_rater_per_cell_and_the_report_says_so(data_dir):
    ted = load_mqm_tsv(data_dir / "mqm-ted" / "mqm_ted_ende.tsv")
    per_cell = ted.scores.groupby(["item", "system", "aspect"])["rater"].nunique()
    assert per_cell.max() == 1  # independent check: one rater per segment
    variants = [VariantConfig(level="segment", coefficient="kendall_b")]
    table, message = human_ceiling(ted, "mqm", variants)
    assert table is None
    assert "exactly one rater" in message and "No human ceiling" in message

    summeval = load_summeval_pkl(data_dir / "summeval" / "data.pkl")
    assert set(summeval.scores["rater"]) == {""}  # means of three experts, no rater ids
    table, message = human_ceiling(summeval, summeval.aspects[0], variants)
    assert table is None and "exactly one rater" in message


def _brute_pairwise_accuracy(pairs):
    agree = total = 0
    for metric, gold in pairs:
        for i, j in itertools.combinations(range(len(metric)), 2):
            total += 1
            agree += np.sign(metric[i] - metric[j]) == np.sign(gold[i] - gold[j])
    return agree / total


def test_pairwise_accuracy_pooled_over_datasets():
    rng = np.random.default_rng(3)
    datasets = []
    for n_systems in (5, 7):
        gold = rng.normal(size=(n_systems, 20))
        metric = gold + rng.normal(size=gold.shape)
        metric[0, 0] = np.nan
        datasets.append((metric, gold))
    est = pairwise_accuracy(datasets, n_resamples=200, seed=1)
    vectors = []
    for metric, gold in datasets:
        cells = np.isfinite(metric) & np.isfinite(gold)
        vectors.append((
            [metric[s][cells[s]].mean() for s in range(len(metric))],
            [gold[s][cells[s]].mean() for s in range(len(gold))],
        ))
    assert est.value == pytest.approx(_brute_pairwise_accuracy(vectors))
    assert est.n == 10 + 21
    assert est.ci_low <= est.value <= est.ci_high
    # system vectors directly; a metric tie on an ordered pair counts as wrong
    hand = pairwise_accuracy([(np.array([1.0, 1.0, 3.0]), np.array([1.0, 2.0, 3.0]))],
                             n_resamples=0)
    assert hand.value == pytest.approx(2 / 3)


def test_system_pair_pvalues_match_exact_enumeration():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(3, 8)) + np.array([[0.8], [0.0], [-0.2]])
    flips = np.array(list(itertools.product([-1.0, 1.0], repeat=8)))  # all 256 sign patterns
    got = system_pair_pvalues(scores, flips)
    for p, (i, j) in zip(got, itertools.combinations(range(3), 2), strict=True):
        diff = scores[i] - scores[j]
        exact = np.mean((flips * diff).sum(axis=1) >= diff.sum() - 1e-12)
        # (1 + b) / (1 + R) with every pattern enumerated
        assert p == pytest.approx((1 + exact * 256) / 257)


def test_soft_pairwise_accuracy_bounds_and_ordering():
    rng = np.random.default_rng(5)
    gold = rng.normal(size=(5, 30)) + np.linspace(1, -1, 5)[:, None]
    perfect = soft_pairwise_accuracy([(gold, gold)], n_resamples=200)
    assert perfect.value == pytest.approx(1.0) and perfect.n == 10
    good = gold + 0.2 * rng.normal(size=gold.shape)
    reversed_metric = -gold
    spa_good = soft_pairwise_accuracy([(good, gold)], n_resamples=500, seed=2).value
    spa_bad = soft_pairwise_accuracy([(reversed_metric, gold)], n_resamples=500, seed=2).value
    assert spa_good > 0.85 > 0.3 > spa_bad
    with pytest.raises(Exception, match="at least one"):
        soft_pairwise_accuracy([])
    assert not math.isnan(soft_pairwise_accuracy([(good, gold), (gold, gold)]).value)
