"""Bradley-Terry: objective against a per-battle brute force, gradient, fit against scipy,
recovery of known strengths and bootstrap interval coverage on simulated battles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import check_grad, minimize

from accord.errors import AccordError
from accord.rankings.battles import count_encoded
from accord.rankings.bradley_terry import (
    TieModel,
    _Design,
    _evaluate,
    _solve_positive_definite,
    fit_batch,
    fit_bradley_terry,
    gradient,
    mle_exists,
    negative_log_likelihood,
    predicted_probabilities,
)
from accord.rankings.scale import ELO_PER_LOGIT, Scale
from accord.rankings.uncertainty import bootstrap_counts, rate_bradley_terry


def simulate(theta: np.ndarray, nu: float, n_battles: int, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Battles between random pairs under Davidson's model, drawn independently of the code."""
    n = len(theta)
    a = rng.integers(0, n, n_battles)
    b = (a + rng.integers(1, n, n_battles)) % n
    pi_a, pi_b = np.exp(theta[a]), np.exp(theta[b])
    tie = nu * np.sqrt(pi_a * pi_b)
    denom = pi_a + pi_b + tie
    u = rng.random(n_battles)
    outcome = np.where(u < pi_a / denom, 0, np.where(u < (pi_a + tie) / denom, 2, 1))
    return a, b, outcome


def as_table(a: np.ndarray, b: np.ndarray, outcome: np.ndarray) -> pd.DataFrame:
    names = np.array([f"sys{i}" for i in range(max(a.max(), b.max()) + 1)], dtype=object)
    return pd.DataFrame({
        "item": np.arange(len(a)).astype(str), "system_a": names[a], "system_b": names[b],
        "winner": np.array(["a", "b", "tie"], dtype=object)[outcome],
    })


def brute_force_nll(theta: np.ndarray, eta: float | None, a: np.ndarray, b: np.ndarray,
                    outcome: np.ndarray, ties: str) -> float:
    """Per-battle negative log-likelihood written straight from the papers' formulas."""
    total = 0.0
    for ia, ib, o in zip(a.tolist(), b.tolist(), outcome.tolist()):
        pa, pb = math.exp(theta[ia]), math.exp(theta[ib])
        if ties == "davidson":
            assert eta is not None
            nu = math.exp(eta)
            denom = pa + pb + nu * math.sqrt(pa * pb)
            p = [pa / denom, pb / denom, nu * math.sqrt(pa * pb) / denom][o]
            total -= math.log(p)
        elif o == 2 and ties == "half":
            total -= 0.5 * math.log(pa / (pa + pb)) + 0.5 * math.log(pb / (pa + pb))
        elif o != 2:
            total -= math.log([pa, pb][o] / (pa + pb))
    return total


@pytest.fixture(scope="module")
def small() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return simulate(np.array([0.4, -0.3, 0.0, 0.9, -1.0]), 0.7, 300, rng)


@pytest.mark.parametrize("ties", ["davidson", "half", "drop"])
def test_objective_equals_brute_force(small, ties: TieModel) -> None:
    a, b, outcome = small
    counts = count_encoded([f"s{i}" for i in range(5)], a, b, outcome)
    rng = np.random.default_rng(0)
    theta = rng.normal(size=5)
    eta = -0.4
    params = np.r_[theta, eta] if ties == "davidson" else theta
    l2 = 0.3
    expected = (brute_force_nll(theta, eta, a, b, outcome, ties)
                + 0.5 * l2 * float(theta @ theta) + 0.5 * float(theta.sum()) ** 2)
    assert negative_log_likelihood(params, counts, ties, l2) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("ties", ["davidson", "half", "drop"])
def test_gradient_and_hessian_match_finite_differences(small, ties: TieModel) -> None:
    a, b, outcome = small
    counts = count_encoded([f"s{i}" for i in range(5)], a, b, outcome)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.normal(size=6 if ties == "davidson" else 5)
        error = check_grad(negative_log_likelihood, gradient, x, counts, ties, 0.2)
        assert error < 1e-4 * max(1.0, float(np.linalg.norm(gradient(x, counts, ties, 0.2))))
        # The Hessian Newton uses, column by column, against central differences of the gradient.
        _, _, h = _evaluate(x[None], _Design.of(counts), counts.wins[None], ties, 0.2, order=2)
        assert h is not None
        step = 1e-5
        numeric = np.column_stack([
            (gradient(x + step * e, counts, ties, 0.2) - gradient(x - step * e, counts, ties, 0.2))
            / (2 * step) for e in np.eye(len(x))
        ])
        np.testing.assert_allclose(h[0], numeric, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("ties", ["davidson", "half", "drop"])
def test_fit_matches_scipy_on_the_per_battle_likelihood(small, ties: TieModel) -> None:
    a, b, outcome = small
    counts = count_encoded([f"s{i}" for i in range(5)], a, b, outcome)
    fit = fit_bradley_terry(counts, ties=ties)

    # Oracle: scipy on the brute-force per-battle likelihood, system 0 pinned at 0.
    def objective(z: np.ndarray) -> float:
        theta = np.r_[0.0, z[:4]]
        return brute_force_nll(theta, z[4] if ties == "davidson" else None, a, b, outcome, ties)

    z0 = np.zeros(5 if ties == "davidson" else 4)
    best = minimize(objective, z0, method="BFGS", options={"gtol": 1e-8})
    theta = np.r_[0.0, best.x[:4]]
    np.testing.assert_allclose(fit.strengths, theta - theta.mean(), atol=2e-4)
    if ties == "davidson":
        assert fit.tie_param == pytest.approx(math.exp(best.x[4]), rel=1e-3)
    assert fit.log_likelihood == pytest.approx(-best.fun, abs=1e-6)


def test_recovers_order_and_tie_parameter() -> None:
    rng = np.random.default_rng(5)
    theta = np.array([-1.2, -0.7, -0.3, 0.1, 0.6, 1.0, 1.5])
    a, b, outcome = simulate(theta, 0.5, 8000, rng)
    fit = fit_bradley_terry(count_encoded([f"s{i}" for i in range(7)], a, b, outcome))
    assert list(np.argsort(fit.strengths)) == list(range(7))
    assert fit.tie_param == pytest.approx(0.5, abs=0.08)
    np.testing.assert_allclose(fit.strengths, theta - theta.mean(), atol=0.15)


def test_small_solver_equals_numpy() -> None:
    rng = np.random.default_rng(3)
    for m in (2, 9, 21, 70):
        root = rng.normal(size=(5, m, m))
        h = root @ root.transpose(0, 2, 1) + m * np.eye(m)
        g = rng.normal(size=(5, m))
        np.testing.assert_allclose(_solve_positive_definite(h, g),
                                   np.linalg.solve(h, g[..., None])[..., 0], rtol=1e-8,
                                   atol=1e-10)


def test_predicted_probabilities_sum_to_one() -> None:
    p_win, p_tie = predicted_probabilities(np.array([0.0, 1.0, -0.5]), 0.4)
    total = p_win + p_win.T + p_tie
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(total[off], 1.0)
    # Equal strengths: a tie is nu / (2 + nu) likely.
    _, tie_equal = predicted_probabilities(np.zeros(2), 0.4)
    assert tie_equal[0, 1] == pytest.approx(0.4 / 2.4)


def test_never_losing_system_needs_a_prior() -> None:
    a = np.array([0, 0, 1, 1, 2, 0])
    b = np.array([1, 2, 2, 2, 1, 1])
    outcome = np.array([0, 0, 0, 1, 0, 0])  # system 0 never loses
    counts = count_encoded(["s0", "s1", "s2"], a, b, outcome)
    assert not mle_exists(counts, "half")
    with pytest.raises(AccordError, match="l2 > 0"):
        fit_bradley_terry(counts, ties="half")
    fit = fit_bradley_terry(counts, ties="half", l2=0.1)
    assert np.argmax(fit.strengths) == 0


def test_davidson_needs_ties() -> None:
    counts = count_encoded(["x", "y"], np.array([0, 1]), np.array([1, 0]), np.array([0, 0]))
    with pytest.raises(AccordError, match="Davidson"):
        fit_bradley_terry(counts, ties="davidson")


def test_batch_fit_equals_single_fits() -> None:
    rng = np.random.default_rng(8)
    a, b, outcome = simulate(np.linspace(-1, 1, 6), 0.6, 2000, rng)
    counts = count_encoded([f"s{i}" for i in range(6)], a, b, outcome)
    wins = bootstrap_counts(counts, 5, rng)
    strengths, nu, converged = fit_batch(counts, wins, ties="davidson")
    assert converged.all()
    for k in range(5):
        single = fit_bradley_terry(counts.with_wins(wins[k]), ties="davidson")
        np.testing.assert_allclose(strengths[k] - strengths[k].mean(), single.strengths,
                                   atol=1e-7)
        assert nu[k] == pytest.approx(single.tie_param, rel=1e-7)


def test_bootstrap_counts_match_per_battle_resampling_moments() -> None:
    rng = np.random.default_rng(2)
    a, b, outcome = simulate(np.linspace(-1, 1, 4), 0.6, 1000, rng)
    counts = count_encoded([f"s{i}" for i in range(4)], a, b, outcome)
    draws = bootstrap_counts(counts, 4000, np.random.default_rng(0))
    # Per-battle resampling: each cell count is Binomial(N, cell share).
    share = counts.wins / counts.n_battles
    np.testing.assert_allclose(draws.mean(axis=0), counts.wins, rtol=0.05, atol=1.0)
    np.testing.assert_allclose(draws.var(axis=0), counts.n_battles * share * (1 - share),
                               rtol=0.15, atol=1.0)
    assert (draws.sum(axis=(1, 2)) == counts.n_battles).all()


def test_anchor_pins_one_system() -> None:
    rng = np.random.default_rng(4)
    a, b, outcome = simulate(np.linspace(-1, 1, 6), 0.6, 3000, rng)
    table = as_table(a, b, outcome)
    anchored = rate_bradley_terry(table, scale=Scale(1500.0, anchor="sys2"), n_resamples=50)
    centred = rate_bradley_terry(table, n_resamples=0)
    assert anchored["sys2"].value == pytest.approx(1500.0)
    assert anchored["sys2"].ci_low == pytest.approx(1500.0)
    assert centred.values.mean() == pytest.approx(1000.0)
    np.testing.assert_allclose(np.diff(anchored.values), np.diff(centred.values), atol=1e-6)
    assert "seed:0" in anchored.signature and "anchor:sys2=1500.0" in anchored.signature


@pytest.mark.slow
def test_bootstrap_intervals_cover_true_strengths() -> None:
    theta = np.array([-1.0, -0.6, -0.2, 0.0, 0.3, 0.7, 1.1])
    true_points = Scale().from_logits(theta, [f"sys{i}" for i in range(7)])
    rng = np.random.default_rng(2024)
    n_reps = 200
    covered = np.zeros((n_reps, len(theta)), dtype=bool)
    order_right = 0
    for rep in range(n_reps):
        table = as_table(*simulate(theta, 0.5, 3000, rng))
        ratings = rate_bradley_terry(table, n_resamples=500, seed=rep)
        assert ratings.systems == tuple(f"sys{i}" for i in range(7))
        covered[rep] = (ratings.ci_low <= true_points) & (true_points <= ratings.ci_high)
        order_right += list(np.argsort(ratings.values)) == list(range(7))
    rate = covered.mean()
    print(f"coverage {rate:.4f}, per system {covered.mean(axis=0).round(3)}, order {order_right}")
    # 1400 intervals at nominal 95%: a binomial sd of about 0.006 (more with correlation).
    assert 0.90 <= rate <= 0.99, rate
    assert order_right >= 0.9 * n_reps
    # The Elo-like scale: one logit is 400 / ln 10 points.
    assert true_points[6] - true_points[0] == pytest.approx(2.1 * ELO_PER_LOGIT)
