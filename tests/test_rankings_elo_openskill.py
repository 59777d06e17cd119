"""Online Elo on hand-worked updates and a naive loop; openskill ratings against openskill."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from openskill.models import PlackettLuce, ThurstoneMostellerFull

from accord.errors import ConfigError
from accord.rankings.elo import elo_ratings, online_elo
from accord.rankings.scale import ELO_PER_LOGIT
from accord.rankings.trueskill import openskill_ratings
from accord.rankings.uncertainty import rate, rate_elo, rate_openskill


def table(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([(str(i), a, b, w) for i, (a, b, w) in enumerate(rows)],
                        columns=["item", "system_a", "system_b", "winner"])


def test_elo_hand_worked() -> None:
    battles = table([("x", "y", "a"), ("x", "y", "tie"), ("z", "x", "a")])
    ratings = elo_ratings(battles, k=32)
    # 1) x beats y at 1000 vs 1000: expected 0.5, so x 1016, y 984.
    # 2) tie: x expects 1 / (1 + 10 ** (-32 / 400)) = 0.545922..., so x loses 1.46951 points.
    e2 = 1 / (1 + 10 ** (-32 / 400))
    x2 = 1016 + 32 * (0.5 - e2)
    y2 = 984 - 32 * (0.5 - e2)
    # 3) z (1000) beats x (x2).
    e3 = 1 / (1 + 10 ** ((x2 - 1000) / 400))
    z3 = 1000 + 32 * (1 - e3)
    x3 = x2 - 32 * (1 - e3)
    assert x2 == pytest.approx(1014.53049, abs=1e-5)
    assert ratings["x"] == pytest.approx(x3)
    assert ratings["y"] == pytest.approx(y2)
    assert ratings["z"] == pytest.approx(z3)
    assert ratings.sum() == pytest.approx(3000)


def naive_elo(a, b, outcome, n, k, base, scale, initial):
    r = [initial] * n
    for i, j, o in zip(a, b, outcome):
        s = {0: 1.0, 1: 0.0, 2: 0.5}[o]
        e = 1 / (1 + base ** ((r[j] - r[i]) / scale))
        r[i], r[j] = r[i] + k * (s - e), r[j] - k * (s - e)
    return np.array(r)


def test_batched_elo_equals_naive_loop() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, (4, 300))
    b = (a + rng.integers(1, 5, (4, 300))) % 5
    outcome = rng.integers(0, 3, (4, 300))
    runs = online_elo(5, a, b, outcome, k=16, base=math.e, scale=200, initial=1500)
    for r in range(4):
        np.testing.assert_allclose(runs[r], naive_elo(a[r], b[r], outcome[r], 5, 16, math.e,
                                                      200, 1500))
    np.testing.assert_allclose(online_elo(5, a[0], b[0], outcome[0], 16, math.e, 200, 1500),
                               runs[0])


def test_elo_shuffles_are_seeded_means() -> None:
    rng = np.random.default_rng(1)
    rows = [(f"s{i}", f"s{j}", w) for i, j, w in zip(rng.integers(0, 3, 200),
                                                     rng.integers(3, 6, 200),
                                                     rng.choice(["a", "b", "tie"], 200))]
    battles = table(rows)
    first = elo_ratings(battles, n_shuffles=5, seed=3)
    again = elo_ratings(battles, n_shuffles=5, seed=3)
    pd.testing.assert_series_equal(first, again)
    names = list(first.index)
    index = {s: i for i, s in enumerate(names)}
    a = np.array([index[r[0]] for r in rows])
    b = np.array([index[r[1]] for r in rows])
    o = np.array([{"a": 0, "b": 1, "tie": 2}[r[2]] for r in rows])
    orders = np.argsort(np.random.default_rng(3).random((5, 200)), axis=1)
    expected = np.mean([naive_elo(a[p], b[p], o[p], 6, 32, 10, 400, 1000) for p in orders], axis=0)
    np.testing.assert_allclose(first.to_numpy(), expected)


def test_rate_elo_converts_other_bases_to_the_common_scale() -> None:
    battles = table([("x", "y", "a")] * 3 + [("y", "x", "a")])
    natural = rate_elo(battles, base=math.e, elo_scale=1.0, k=0.1, n_resamples=0)
    diff_logits = (natural["x"].value - natural["y"].value) / ELO_PER_LOGIT
    raw = elo_ratings(battles, base=math.e, scale=1.0, k=0.1)
    assert diff_logits == pytest.approx(raw["x"] - raw["y"])
    assert natural.values.mean() == pytest.approx(1000.0)


def test_rate_elo_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(2)
    rows = [("x", "y", w) for w in rng.choice(["a", "a", "b", "tie"], 300)]
    first = rate_elo(table(rows), n_resamples=100, seed=7)
    second = rate_elo(table(rows), n_resamples=100, seed=7)
    np.testing.assert_array_equal(first.ci_low, second.ci_low)
    assert first["x"].ci_low < first["x"].value < first["x"].ci_high
    assert "seed:7" in first.signature


def test_elo_rejects_bad_options() -> None:
    with pytest.raises(ConfigError, match="k must be"):
        elo_ratings(table([("x", "y", "a")]), k=-1)
    with pytest.raises(ConfigError, match="rating method"):
        rate(table([("x", "y", "a")]), method="glicko")


@pytest.mark.parametrize("model_class,name", [(ThurstoneMostellerFull, "thurstone-mosteller"),
                                              (PlackettLuce, "plackett-luce")])
def test_openskill_matches_calling_openskill(model_class, name) -> None:
    rng = np.random.default_rng(9)
    systems = ["p", "q", "r", "s"]
    rows = []
    for _ in range(60):
        i, j = rng.choice(4, 2, replace=False)
        rows.append((systems[i], systems[j], str(rng.choice(["a", "b", "tie"]))))
    result = openskill_ratings(table(rows), model=name, options={"beta": 3.0})

    model = model_class(beta=3.0)
    current = {s: model.rating() for s in systems}
    for sa, sb, w in rows:
        ranks = {"a": [1, 2], "b": [2, 1], "tie": [1, 1]}[w]
        [[new_a], [new_b]] = model.rate([[current[sa]], [current[sb]]], ranks=ranks)
        current[sa], current[sb] = new_a, new_b
    np.testing.assert_allclose(result.mu, [current[s].mu for s in systems])
    np.testing.assert_allclose(result.sigma, [current[s].sigma for s in systems])
    np.testing.assert_allclose(result.ordinal, [current[s].ordinal() for s in systems])

    ratings = rate_openskill(table(rows), model=name, options={"beta": 3.0})
    factor = 1.702 * 400 / math.log(10) / (math.sqrt(2) * 3.0)
    mus = np.array([current[s].mu for s in systems])
    np.testing.assert_allclose(ratings.values, (mus - mus.mean()) * factor + 1000)
    sigmas = np.array([current[s].sigma for s in systems])
    np.testing.assert_allclose(ratings.ci_high - ratings.values, 1.959964 * sigmas * factor,
                               rtol=1e-6)
