"""Permutation tests between metrics on relative judgments (WMT Kendall-like tau, accuracy)."""

from __future__ import annotations

import numpy as np
import pytest

from accord.metaeval.significance import compare_metrics_pairs, permutation_test_pairs


def _tau(scores: np.ndarray, better: np.ndarray, worse: np.ndarray) -> float:
    """WMT's Kendall-like tau by hand: a metric tie is discordant."""
    concordant = sum(scores[b] > scores[w] for b, w in zip(better, worse, strict=True))
    return (2 * concordant - len(better)) / len(better)


def _simulated(rng: np.random.Generator, n_cells: int, n_pairs: int, noise_b: float,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    quality = rng.normal(size=n_cells)
    cells = rng.choice(n_cells, size=(n_pairs, 2))
    cells = cells[cells[:, 0] != cells[:, 1]]
    first_better = quality[cells[:, 0]] > quality[cells[:, 1]]
    better = np.where(first_better, cells[:, 0], cells[:, 1])
    worse = np.where(first_better, cells[:, 1], cells[:, 0])
    a = quality + rng.normal(0, 1.0, n_cells)
    b = quality + rng.normal(0, noise_b, n_cells)
    return a, b, better, worse


def test_observed_delta_and_values_by_hand() -> None:
    a = np.array([3.0, 1.0, 2.0, 2.0])
    b = np.array([1.0, 2.0, 3.0, 0.0])
    better, worse = np.array([0, 2, 3]), np.array([1, 1, 2])
    est = permutation_test_pairs(a, b, better, worse, n_resamples=50, seed=0)
    # a: 3>1 yes, 2>1 yes, 2>2 tie (discordant) -> tau 1/3; b: 1>2 no, 3>2 yes, 0>3 no -> -1/3
    assert est.extra["value_a"] == pytest.approx(_tau(a, better, worse)) == pytest.approx(1 / 3)
    # standardizing is monotone, so taus are those of the raw scores
    assert est.extra["value_b"] == pytest.approx(-1 / 3)
    assert est.value == pytest.approx(2 / 3)
    assert est.n == 3


def test_false_positive_rate_under_the_null_and_power() -> None:
    rejections = 0
    p_values = []
    for sim in range(200):
        rng = np.random.default_rng(1000 + sim)
        a, b, better, worse = _simulated(rng, 80, 120, noise_b=1.0)
        est = permutation_test_pairs(a, b, better, worse, n_resamples=200, seed=sim)
        p_values.append(est.extra["p_value"])
        rejections += est.extra["p_value"] < 0.05
    # 200 tests at 0.05: a binomial 99.9% band is roughly 2 to 22 rejections.
    assert 2 <= rejections <= 22
    assert 0.35 < float(np.mean(p_values)) < 0.65  # uniform p-values have mean 0.5

    detected = 0
    for sim in range(20):
        rng = np.random.default_rng(5000 + sim)
        a, b, better, worse = _simulated(rng, 300, 600, noise_b=3.0)  # b is much noisier
        est = permutation_test_pairs(a, b, better, worse, n_resamples=200, seed=sim)
        detected += est.extra["p_value"] < 0.05
    assert detected >= 19


def test_accuracy_halves_tau_with_the_same_p_values() -> None:
    rng = np.random.default_rng(7)
    a, b, better, worse = _simulated(rng, 100, 150, noise_b=2.0)
    tau = compare_metrics_pairs({"a": a, "b": b}, better, worse, "wmt_kendall",
                                n_resamples=300, seed=3)
    acc = compare_metrics_pairs({"a": a, "b": b}, better, worse, "accuracy",
                                n_resamples=300, seed=3)
    assert acc.values["a"] == pytest.approx((tau.values["a"] + 1) / 2)
    assert acc.deltas.loc["a", "b"] == pytest.approx(tau.deltas.loc["a", "b"] / 2)
    assert acc.p_values.loc["a", "b"] == tau.p_values.loc["a", "b"]
