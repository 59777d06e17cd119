"""Online Elo ratings (Elo 1978, "The Rating of Chessplayers, Past and Present").

Every system starts at ``initial``. For each battle in turn, system ``a`` expects to score
``E_a = 1 / (1 + base ** ((R_b - R_a) / scale))`` and scores ``S_a`` = 1 for a win, 0.5 for a
tie and 0 for a loss; then ``R_a += k * (S_a - E_a)`` and ``R_b -= k * (S_a - E_a)``. The mean
rating stays at ``initial``. Elo reads battles in order and weights recent ones more, so the
result depends on the order; :func:`elo_ratings` can average over seeded shuffled orders.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from accord.errors import ConfigError
from accord.rankings.battles import encode_battles

logger = logging.getLogger(__name__)

#: What system ``a`` scores for each outcome code (0 = a wins, 1 = b wins, 2 = tie).
A_SCORE = np.array([1.0, 0.0, 0.5])


def check_elo_options(k: float, base: float, scale: float) -> None:
    if not (np.isfinite(k) and k > 0):
        raise ConfigError(f"Elo k must be a positive number, got {k}")
    if not (np.isfinite(base) and base > 1):
        raise ConfigError(f"Elo base must be a number > 1, got {base}")
    if not (np.isfinite(scale) and scale > 0):
        raise ConfigError(f"Elo scale must be a positive number, got {scale}")


def online_elo(
    n_systems: int,
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray,
    k: float = 32.0,
    base: float = 10.0,
    scale: float = 400.0,
    initial: float = 1000.0,
) -> np.ndarray:
    """Run Elo over battle sequences, one per row, all rows at once.

    Args:
        n_systems: number of systems; indices in ``a`` and ``b`` refer to them.
        a: ``(n_runs, n_battles)`` or ``(n_battles,)`` index of system a in each battle.
        b: same shape, index of system b.
        outcome: same shape; 0 = a wins, 1 = b wins, 2 = tie.
        k, base, scale, initial: the Elo parameters (see the module docstring).

    Returns:
        ``(n_runs, n_systems)`` ratings after the last battle (``(n_systems,)`` for 1-D input).
    """
    check_elo_options(k, base, scale)
    one_run = np.ndim(a) == 1
    a2, b2, o2 = (np.atleast_2d(np.asarray(x, dtype=np.int64)) for x in (a, b, outcome))
    n_runs, n_battles = a2.shape
    if one_run:
        # A plain loop over Python floats is several times faster than numpy for one sequence.
        ratings = [float(initial)] * n_systems
        scores = A_SCORE[o2[0]].tolist()
        for ia, ib, s in zip(a2[0].tolist(), b2[0].tolist(), scores):
            expected = 1.0 / (1.0 + base ** ((ratings[ib] - ratings[ia]) / scale))
            delta = k * (s - expected)
            ratings[ia] += delta
            ratings[ib] -= delta
        return np.array(ratings)
    ratings_2d = np.full((n_runs, n_systems), float(initial))
    rows = np.arange(n_runs)
    score = A_SCORE[o2]
    for t in range(n_battles):
        ia, ib = a2[:, t], b2[:, t]
        expected = 1.0 / (1.0 + base ** ((ratings_2d[rows, ib] - ratings_2d[rows, ia]) / scale))
        delta = k * (score[:, t] - expected)
        ratings_2d[rows, ia] += delta
        ratings_2d[rows, ib] -= delta
    return ratings_2d


def elo_ratings(
    battles: pd.DataFrame,
    systems: Sequence[str] | None = None,
    k: float = 32.0,
    base: float = 10.0,
    scale: float = 400.0,
    initial: float = 1000.0,
    n_shuffles: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> pd.Series:
    """Elo ratings of the systems in a battle table.

    Args:
        battles: a battle table (see :mod:`accord.rankings.battles`).
        systems: the systems to rate (default: all in the table, sorted).
        k: the update size: the most a rating moves in one battle.
        base, scale: a rating difference of ``scale`` means odds of ``base`` to 1.
        initial: every system's starting rating (and so the mean rating).
        n_shuffles: 0 reads the battles in table order; ``n > 0`` returns the mean rating over
            ``n`` random orders drawn with ``seed``.
        seed: seed or generator for the shuffles (unused when ``n_shuffles`` is 0).

    Returns:
        Ratings indexed by system name.
    """
    names, a, b, outcome = encode_battles(battles, systems)
    if n_shuffles < 0:
        raise ConfigError(f"n_shuffles must be >= 0, got {n_shuffles}")
    if n_shuffles == 0:
        values = online_elo(len(names), a, b, outcome, k, base, scale, initial)
    else:
        rng = np.random.default_rng(seed)
        orders = np.argsort(rng.random((n_shuffles, len(a))), axis=1)
        runs = online_elo(len(names), a[orders], b[orders], outcome[orders], k, base, scale,
                          initial)
        values = runs.mean(axis=0)
    return pd.Series(values, index=list(names), name="elo")
