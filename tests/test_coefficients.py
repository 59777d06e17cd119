"""Coefficients on paired vectors, checked against scipy, brute force and hand-worked cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from oracles import scipy_coefficient

from accord.errors import AccordError
from accord.metaeval.coefficients import (
    PairedSample,
    acc_eq,
    kendall_tau_b,
    kendall_tau_c,
    pairwise_statistic,
    pearson,
    spearman,
    wmt_kendall_like,
)


def _same(a: float, b: float, tol: float = 1e-10) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol


def _data(rng: np.random.Generator, n: int, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Correlated integer-valued vectors (ties when levels is small) with some NaNs."""
    x = rng.integers(0, levels, n).astype(float)
    y = np.round(x + rng.normal(0, levels / 3, n))
    x[rng.random(n) < 0.1] = np.nan
    y[rng.random(n) < 0.1] = np.nan
    return x, y


FUNCTIONS = {
    "pearson": pearson,
    "spearman": spearman,
    "kendall_b": kendall_tau_b,
    "kendall_c": kendall_tau_c,
}


@pytest.mark.parametrize("coefficient", sorted(FUNCTIONS))
@pytest.mark.parametrize("levels", [2, 3, 10, 10_000])
def test_coefficients_match_scipy_with_ties_and_nans(coefficient: str, levels: int) -> None:
    rng = np.random.default_rng(levels)
    for n in (3, 8, 57, 400):
        x, y = _data(rng, n, levels)
        keep = ~(np.isnan(x) | np.isnan(y))
        got = FUNCTIONS[coefficient](x, y)
        assert got.n == keep.sum()
        assert got.extra["n_missing"] == (~keep).sum()
        assert _same(got.value, scipy_coefficient(coefficient, x[keep], y[keep])), (n, levels)


@pytest.mark.parametrize("variant", ["b", "c"])
def test_kendall_heavy_ties_against_scipy(variant: str) -> None:
    rng = np.random.default_rng(7)
    function = kendall_tau_b if variant == "b" else kendall_tau_c
    for _ in range(30):
        n = int(rng.integers(2, 300))
        x = rng.integers(0, 2, n).astype(float)  # two values only
        y = rng.choice([0.0, 0.0, 0.0, 1.0, 25.0], n)  # MQM-like: mostly zero
        expected = scipy_coefficient("kendall_b" if variant == "b" else "kendall_c", x, y)
        assert _same(function(x, y).value, expected)


def test_kendall_large_input_is_exact() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=20_000).round(2)
    y = (x + rng.normal(size=20_000)).round(1)
    assert _same(kendall_tau_b(x, y).value, scipy_coefficient("kendall_b", x, y), 1e-12)
    assert _same(kendall_tau_c(x, y).value, scipy_coefficient("kendall_c", x, y), 1e-12)


def test_undefined_cases_are_nan() -> None:
    for function in (pearson, spearman, kendall_tau_b, kendall_tau_c):
        assert math.isnan(function([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]).value)
        assert math.isnan(function([1.0], [2.0]).value)
        assert math.isnan(function([1.0, np.nan], [2.0, 3.0]).value)
    assert math.isnan(acc_eq([1.0], [1.0]).value)


def test_bad_input_raises() -> None:
    with pytest.raises(AccordError, match="same length"):
        pearson([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(AccordError, match="infinite"):
        kendall_tau_b([1.0, np.inf], [1.0, 2.0])
    with pytest.raises(TypeError):
        spearman(["a", "b"], [1.0, 2.0])


# --- weighted kernels: the statistic of the materialized multiset --------------------------


@pytest.mark.parametrize("coefficient", sorted(FUNCTIONS))
def test_weighted_kernels_equal_statistic_of_materialized_resample(coefficient: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(15):
        n = int(rng.integers(2, 25))
        x = rng.integers(0, 4, n).astype(float)
        y = rng.integers(0, 3, n).astype(float)
        weights = rng.multinomial(n, np.full(n, 1 / n), size=6).astype(float)
        fixed = PairedSample(x, y).statistic(coefficient, weights)
        varying, _ = pairwise_statistic(
            coefficient, np.tile(x, (6, 1)), np.tile(y, (6, 1)), weights
        )
        for r in range(6):
            index = np.repeat(np.arange(n), weights[r].astype(int))
            expected = scipy_coefficient(coefficient, x[index], y[index])
            assert _same(fixed[r], expected), (coefficient, r)
            assert _same(varying[r], expected), (coefficient, r)


# --- acc_eq ----------------------------------------------------------------------------------


def _brute_acc_eq(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy of every candidate epsilon over every pair, the slow way (first best wins)."""
    pairs = list(itertools.combinations(range(x.size), 2))
    candidates = sorted({0.0} | {abs(x[i] - x[j]) for i, j in pairs})
    best = (-1.0, math.nan)
    for eps in candidates:
        correct = 0
        for i, j in pairs:
            metric_tie = abs(x[i] - x[j]) <= eps
            gold_tie = y[i] == y[j]
            if metric_tie and gold_tie:
                correct += 1
            elif not metric_tie and not gold_tie and (x[i] - x[j]) * (y[i] - y[j]) > 0:
                correct += 1
        if correct / len(pairs) > best[0]:
            best = (correct / len(pairs), eps)
    return best


def test_acc_eq_against_brute_force() -> None:
    rng = np.random.default_rng(5)
    for _ in range(40):
        n = int(rng.integers(2, 18))
        x = rng.integers(0, 6, n) / 2.0
        y = rng.integers(0, 3, n).astype(float)
        got = acc_eq(x, y)
        accuracy, epsilon = _brute_acc_eq(x, y)
        assert got.value == pytest.approx(accuracy, abs=1e-12)
        assert got.extra["epsilon"] == pytest.approx(epsilon, abs=1e-12)
        assert got.n == n


def test_acc_eq_hand_worked() -> None:
    # pairs and verdicts:  (0,1) gold tie, |d|=0.2     (0,2) agree, |d|=1.0
    # (0,3) agree, 0.9     (1,2) agree, 0.8     (1,3) agree, 0.7     (2,3) disagree, 0.1
    # eps=0 or 0.1: 4/6 correct; eps=0.2 ties (0,1): 5/6; eps=0.7 loses (1,3): 4/6.
    got = acc_eq([1.0, 1.2, 2.0, 1.9], [0.0, 0.0, 1.0, 2.0])
    assert got.value == pytest.approx(5 / 6)
    assert got.extra["epsilon"] == pytest.approx(0.2)


def test_weighted_acc_eq_equals_brute_force_on_materialized_resample() -> None:
    rng = np.random.default_rng(9)
    for _ in range(10):
        n = int(rng.integers(3, 10))
        x = rng.integers(0, 5, n).astype(float)
        y = rng.integers(0, 3, n).astype(float)
        weights = rng.multinomial(n, np.full(n, 1 / n), size=4).astype(float)
        fixed, _ = PairedSample(x, y).acc_eq(weights)
        varying, _ = pairwise_statistic("acc_eq", np.tile(x, (4, 1)), np.tile(y, (4, 1)), weights)
        for r in range(4):
            index = np.repeat(np.arange(n), weights[r].astype(int))
            expected = _brute_acc_eq(x[index], y[index])[0]
            assert fixed[r] == pytest.approx(expected, abs=1e-12)
            assert varying[r] == pytest.approx(expected, abs=1e-12)


# --- WMT Kendall-like --------------------------------------------------------------------


def test_wmt_kendall_hand_worked() -> None:
    # concordant: 3>1, 1>0; metric ties 2=2, 4=4 and the inversion 5<6 are discordant
    got = wmt_kendall_like([3, 2, 5, 1, 4, np.nan], [1, 2, 6, 0, 4, 1])
    assert got.value == pytest.approx((2 - 3) / 5)
    assert got.extra == {"concordant": 2, "discordant": 3, "metric_ties": 2, "n_missing": 1}
    assert got.n == 5
