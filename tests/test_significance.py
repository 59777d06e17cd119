"""Significance between metrics: values against scipy on materialized resamples, exact
enumeration, calibration under the null (uniform p-values, 5% false positives), power, the
Williams test against a hand-worked example, early stopping and clusters."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from accord.errors import AccordError, ConfigError
from accord.metaeval.clusters import significance_clusters
from accord.metaeval.correlation import correlate
from accord.metaeval.significance import (
    ChoiceStatistic,
    compare_metrics,
    paired_bootstrap_test,
    permutation_test,
    standardize,
    williams_t,
    williams_test,
)

VARIANTS = [
    ("system", "none", c) for c in ("pearson", "spearman", "kendall_b", "kendall_c", "acc_eq")
] + [
    ("segment", g, c)
    for g in ("none", "item", "system")
    for c in ("pearson", "spearman", "kendall_b", "kendall_c", "acc_eq", "wmt_kendall")
]


def _mqm_like(rng: np.random.Generator, n_systems: int, n_items: int) -> np.ndarray:
    """Human scores with MQM-like ties: many zeros, a few integer penalties."""
    gold = -np.round(np.abs(rng.normal(size=(n_systems, n_items))) * 3)
    return np.where(rng.random((n_systems, n_items)) < 0.4, 0.0, gold)


def _scipy_value(coefficient: str, x: np.ndarray, y: np.ndarray) -> float:
    if coefficient == "pearson":
        return float(stats.pearsonr(x, y)[0])
    if coefficient == "spearman":
        return float(stats.spearmanr(x, y)[0])
    return float(stats.kendalltau(x, y, variant="b" if coefficient == "kendall_b" else "c")[0])


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    gold = _mqm_like(rng, 6, 15)
    a = gold + rng.normal(size=gold.shape)
    b = np.round(gold + rng.normal(size=gold.shape), 1)  # ties in the metric too
    a[0, 3] = np.nan
    gold[2, 5] = np.nan
    valid = np.isfinite(a) & np.isfinite(b) & np.isfinite(gold)
    return a, b, gold, valid


@pytest.mark.parametrize(("level", "grouping", "coefficient"), VARIANTS)
def test_swapped_rows_match_correlate_on_materialized_matrices(small, level, grouping,
                                                               coefficient):
    a, b, gold, valid = small
    rng = np.random.default_rng(7)
    swaps = rng.random((5, *a.shape)) < 0.5
    statistic = ChoiceStatistic(a, b, gold, valid, coefficient, level, grouping)
    got = statistic.values(swaps)
    gold_used = np.where(valid, gold, np.nan)
    expected = [
        correlate(np.where(valid, np.where(s, b, a), np.nan), gold_used, coefficient, level,
                  grouping, ci=None).value
        for s in swaps
    ]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("coefficient", ["pearson", "spearman", "kendall_b", "kendall_c"])
def test_swapped_rows_match_scipy(small, coefficient):
    a, b, gold, valid = small
    swaps = np.random.default_rng(8).random((3, *a.shape)) < 0.5
    got = ChoiceStatistic(a, b, gold, valid, coefficient, "segment", "none").values(swaps)
    for value, s in zip(got, swaps, strict=True):
        x = np.where(s, b, a)[valid]
        assert value == pytest.approx(_scipy_value(coefficient, x, gold[valid]), abs=1e-12)
    per_item = ChoiceStatistic(a, b, gold, valid, coefficient, "segment", "item").values(swaps)
    for value, s in zip(per_item, swaps, strict=True):
        x = np.where(s, b, a)
        values = []
        for i in range(a.shape[1]):
            keep = valid[:, i]
            if keep.sum() >= 2 and np.ptp(x[keep, i]) > 0 and np.ptp(gold[keep, i]) > 0:
                values.append(_scipy_value(coefficient, x[keep, i], gold[keep, i]))
        assert value == pytest.approx(np.mean(values), abs=1e-12)


@pytest.mark.parametrize(("grouping", "coefficient"),
                         [("none", "kendall_b"), ("item", "kendall_b"), ("item", "pearson"),
                          ("system", "spearman"), ("item", "acc_eq")])
def test_bootstrap_rows_reproduce_the_core_interval(grouping, coefficient):
    rng = np.random.default_rng(4)
    gold = _mqm_like(rng, 5, 30)
    a = gold + rng.normal(size=gold.shape)
    b = gold + 2 * rng.normal(size=gold.shape)
    est = paired_bootstrap_test(a, b, gold, coefficient, "segment", grouping, n_resamples=200,
                                seed=11)
    core_a = correlate(a, gold, coefficient, "segment", grouping, ci="items", n_resamples=200,
                       seed=11)
    core_b = correlate(b, gold, coefficient, "segment", grouping, ci=None)
    assert est.extra["value_a"] == pytest.approx(core_a.value, abs=1e-12)
    assert est.value == pytest.approx(core_a.value - core_b.value, abs=1e-12)
    # the all-a rows under the same item draws give the core's bootstrap interval
    valid = np.ones(gold.shape, dtype=bool)
    statistic = ChoiceStatistic(a, b, gold, valid, coefficient, "segment", grouping)
    counts = np.random.default_rng(11).multinomial(30, np.full(30, 1 / 30), size=200)
    boot = statistic.values(np.zeros((200, *gold.shape), dtype=bool), counts.astype(float))
    low, high = np.quantile(boot[np.isfinite(boot)], [0.025, 0.975])
    assert (low, high) == pytest.approx((core_a.ci_low, core_a.ci_high), abs=1e-12)


def test_permutation_p_value_matches_exact_enumeration():
    # 2 x 4 cells: all 256 swap patterns can be enumerated with scipy
    rng = np.random.default_rng(5)
    gold = rng.normal(size=(2, 4))
    a = gold + 0.6 * rng.normal(size=gold.shape)
    b = gold + 1.0 * rng.normal(size=gold.shape)
    za, zb = standardize(a), standardize(b)
    observed = (stats.pearsonr(za.ravel(), gold.ravel())[0]
                - stats.pearsonr(zb.ravel(), gold.ravel())[0])
    deltas = []
    for bits in itertools.product([False, True], repeat=8):
        s = np.array(bits).reshape(2, 4)
        x, y = np.where(s, zb, za), np.where(s, za, zb)
        deltas.append(stats.pearsonr(x.ravel(), gold.ravel())[0]
                      - stats.pearsonr(y.ravel(), gold.ravel())[0])
    exact = np.mean(np.array(deltas) >= observed - 1e-12)
    est = permutation_test(a, b, gold, "pearson", n_resamples=20000, seed=2)
    assert est.value == pytest.approx(observed, abs=1e-12)
    # Monte Carlo p-value within 4 standard errors of the exact one
    assert abs(est.extra["p_value"] - exact) < 4 * math.sqrt(exact * (1 - exact) / 20000) + 1e-3


def _null_pair(rng: np.random.Generator, shape: tuple[int, int],
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    truth = rng.normal(size=shape)
    gold = truth + rng.normal(size=shape)
    return truth + rng.normal(size=shape), truth + rng.normal(size=shape), gold


def test_permutation_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(20)
    p_values = np.array([
        permutation_test(*_null_pair(rng, (4, 10)), "pearson", n_resamples=199,
                         seed=int(rng.integers(1 << 30))).extra["p_value"]
        for _ in range(200)
    ])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01
    # the level: P(p <= 0.05) = 9/200 for 199 resamples; 200 runs, binomial 99.9% band
    rejections = int((p_values < 0.05).sum())
    assert stats.binom.ppf(0.0005, 200, 0.045) <= rejections <= stats.binom.ppf(0.9995, 200,
                                                                                 0.05)


@pytest.mark.parametrize(("level", "grouping", "coefficient"),
                         [("segment", "item", "kendall_b"), ("segment", "none", "kendall_b"),
                          ("system", "none", "kendall_b"), ("segment", "item", "acc_eq")])
def test_permutation_false_positive_rate_near_alpha(level, grouping, coefficient):
    rng = np.random.default_rng(21)
    rejections = sum(
        permutation_test(*_null_pair(rng, (5, 8)), coefficient, level, grouping,
                         n_resamples=99, seed=int(rng.integers(1 << 30))).extra["p_value"] < 0.05
        for _ in range(200)
    )
    # Discrete statistics tie often, which only makes (1 + b) / (1 + R) more conservative.
    assert rejections <= stats.binom.ppf(0.9995, 200, 0.05)


def test_bootstrap_false_positive_rate_near_alpha():
    rng = np.random.default_rng(22)
    p_values = np.array([
        paired_bootstrap_test(*_null_pair(rng, (4, 25)), "pearson", n_resamples=199,
                              seed=int(rng.integers(1 << 30))).extra["p_value"]
        for _ in range(200)
    ])
    # the bootstrap test is only asymptotically exact: a wider band than the permutation test
    assert (p_values < 0.05).sum() <= stats.binom.ppf(0.9995, 200, 0.08)
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_williams_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(23)
    p_values = []
    for _ in range(400):
        a, b, gold = _null_pair(rng, (1, 30))
        p_values.append(williams_test(a, b, gold).extra["p_value"])
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


@pytest.mark.parametrize(("method", "coefficient", "grouping"),
                         [("permutation", "kendall_b", "item"),
                          ("permutation", "pearson", "none"),
                          ("bootstrap", "kendall_b", "none"),
                          ("williams", "pearson", "none")])
def test_a_real_difference_is_detected(method, coefficient, grouping):
    rng = np.random.default_rng(24)
    detected = 0
    for _ in range(20):
        truth = rng.normal(size=(6, 40))
        gold = truth + 0.5 * rng.normal(size=truth.shape)
        good = truth + 0.5 * rng.normal(size=truth.shape)
        bad = truth + 2.0 * rng.normal(size=truth.shape)
        if method == "permutation":
            est = permutation_test(good, bad, gold, coefficient, "segment", grouping,
                                   n_resamples=199, seed=1)
        elif method == "bootstrap":
            est = paired_bootstrap_test(good, bad, gold, coefficient, "segment", grouping,
                                        n_resamples=199, seed=1)
        else:
            est = williams_test(good, bad, gold)
        detected += est.extra["p_value"] < 0.05
    assert detected >= 19


def test_williams_hand_worked_example():
    # Steiger (1980): r12 = .5, r13 = .4, r23 = .1, n = 103. By hand:
    # K = 1 - .25 - .16 - .01 + 2(.5)(.4)(.1) = .62, rbar = .45,
    # t = .1 * sqrt(102 * 1.1 / (2 * .62 * 102/100 + .2025 * .9^3)) = .1 * sqrt(112.2/1.4124225)
    assert williams_t(0.5, 0.4, 0.1, 103) == pytest.approx(0.891280, abs=1e-5)


def test_williams_test_on_data_matches_determinant_formula():
    rng = np.random.default_rng(25)
    gold = rng.normal(size=(3, 20))
    a = gold + rng.normal(size=gold.shape)
    b = gold + 1.5 * rng.normal(size=gold.shape)
    est = williams_test(a, b, gold, alternative="two-sided")
    corr = np.corrcoef([gold.ravel(), a.ravel(), b.ravel()])
    n = 60
    det = np.linalg.det(corr)
    rbar = (corr[0, 1] + corr[0, 2]) / 2
    t = (corr[0, 1] - corr[0, 2]) * math.sqrt(
        (n - 1) * (1 + corr[1, 2]) / (2 * det * (n - 1) / (n - 3) + rbar**2 * (1 - corr[1, 2])**3)
    )
    assert est.extra["t"] == pytest.approx(t, rel=1e-10)
    assert est.extra["p_value"] == pytest.approx(2 * stats.t.sf(abs(t), n - 3), rel=1e-10)


def test_early_stopping_keeps_the_verdict_and_gives_a_lower_bound():
    rng = np.random.default_rng(26)
    a, b, gold = _null_pair(rng, (13, 60))
    full = permutation_test(a, b, gold, "kendall_b", "segment", "item", n_resamples=1000,
                            seed=3)
    early = permutation_test(a, b, gold, "kendall_b", "segment", "item", n_resamples=1000,
                             seed=3, early_stop=True)
    assert full.extra["p_value"] > 0.05  # a null pair: not significant
    assert early.extra["p_value_is_lower_bound"]
    assert early.extra["resamples_used"] < 1000
    assert 0.05 < early.extra["p_value"] <= full.extra["p_value"]
    assert early.extra["significant"] == full.extra["significant"]
    # a significant result runs to the end and equals the full run
    good = gold + 0.1 * rng.normal(size=gold.shape)
    sig_full = permutation_test(good, b, gold, "kendall_b", "segment", "item", seed=3)
    sig_early = permutation_test(good, b, gold, "kendall_b", "segment", "item", seed=3,
                                 early_stop=True)
    assert sig_early.extra["p_value"] == sig_full.extra["p_value"] < 0.05
    assert not sig_early.extra["p_value_is_lower_bound"]


def test_units_and_reverse_direction():
    rng = np.random.default_rng(27)
    a, b, gold = _null_pair(rng, (5, 12))
    for unit in ("cells", "items", "systems"):
        est = permutation_test(a, b, gold, "pearson", unit=unit, n_resamples=300, seed=1)
        flipped = permutation_test(b, a, gold, "pearson", unit=unit, n_resamples=300, seed=1)
        assert flipped.value == pytest.approx(-est.value)
        assert flipped.extra["p_value"] == pytest.approx(est.extra["p_value_reverse"])


def test_standardize_and_missing_cells():
    matrix = np.array([[1.0, 2.0], [np.nan, 3.0]])
    z = standardize(matrix)
    assert np.nanmean(z) == pytest.approx(0.0) and np.nanstd(z) == pytest.approx(1.0)
    assert np.isnan(z[1, 0])
    rng = np.random.default_rng(28)
    a, b, gold = _null_pair(rng, (4, 10))
    b[0, :3] = np.nan
    est = permutation_test(a, b, gold, "pearson", n_resamples=50)
    assert est.extra["cells_not_shared"] == 3 and est.n == 37


def test_bad_input_is_named():
    gold = np.zeros((2, 3))
    with pytest.raises(AccordError, match="one shape"):
        permutation_test(np.zeros((2, 2)), gold, gold, "pearson")
    with pytest.raises(ConfigError, match="unit"):
        permutation_test(gold, gold, gold, "pearson", unit="rows")
    with pytest.raises(ConfigError, match="coefficient"):
        permutation_test(gold, gold, gold, "tau")
    with pytest.raises(ConfigError, match="system-level"):
        permutation_test(gold, gold, gold, "pearson", "system", "item")
    with pytest.raises(ConfigError, match="Williams"):
        compare_metrics({"a": gold, "b": gold}, gold, "kendall_b", method="williams")


def test_compare_metrics_and_clusters():
    rng = np.random.default_rng(29)
    truth = rng.normal(size=(6, 60))
    gold = truth + 0.5 * rng.normal(size=truth.shape)
    metrics = {
        "good": truth + 0.3 * rng.normal(size=truth.shape),
        "good2": truth + 0.3 * rng.normal(size=truth.shape),
        "bad": truth + 3.0 * rng.normal(size=truth.shape),
    }
    test = compare_metrics(metrics, gold, "pearson", n_resamples=300, seed=1)
    matrix = test.p_values.to_numpy(dtype=float)
    labels = list(test.p_values.index)
    p = {(a, b): matrix[i, j] for i, a in enumerate(labels) for j, b in enumerate(labels)}
    assert p["good", "bad"] < 0.01 and p["good2", "bad"] < 0.01
    assert p["bad", "good"] > 0.9
    clusters = significance_clusters(test.values, test.p_values)
    cluster = dict(zip(clusters["metric"], clusters["cluster"]))
    rank = dict(zip(clusters["metric"], clusters["rank"]))
    assert cluster["good"] == cluster["good2"] == 1
    assert cluster["bad"] == 2 and rank["bad"] == 3
    assert len(test.long()) == 6


def test_cluster_rule_by_hand():
    # m1 > m2 > m3 > m4 by value. m1 beats m3 and m4 but not m2; m3 does not beat m4.
    labels = ["m1", "m2", "m3", "m4"]
    p = pd.DataFrame(0.5, index=labels, columns=labels)
    p.loc["m1", "m3"] = p.loc["m1", "m4"] = 0.01
    p.loc["m2", "m4"] = 0.02
    values = {"m1": 0.4, "m2": 0.35, "m3": 0.3, "m4": 0.2, "broken": math.nan}
    p.loc["broken"] = p["broken"] = 0.5
    table = significance_clusters(values, p)
    # m3 opens cluster 2 (m1 beats it); m4 stays with m3 (its head m3 does not beat it)
    assert list(table["metric"]) == ["m1", "m2", "m3", "m4", "broken"]
    assert list(table["cluster"][:4]) == [1, 1, 2, 2]
    assert list(table["rank"][:4]) == [1, 1, 2, 3]
    assert math.isnan(float(table["cluster"].iloc[4]))
