"""Ratings with confidence intervals and ranks, for every rating method, on one scale.

:func:`rate` (or :func:`rate_bradley_terry`, :func:`rate_elo`, :func:`rate_openskill`) turns a
battle table into :class:`Ratings`: per system a value on the Elo-like scale of
:mod:`accord.rankings.scale`, a confidence interval, a rank and the number of battles.

Intervals for Bradley-Terry and Elo are percentile bootstrap intervals over battles (Efron &
Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13): each resample draws as many
battles as there are, with replacement. For Bradley-Terry this is done exactly and cheaply by
drawing the outcome counts of every pair from one multinomial distribution, and all resamples
are fitted together. openskill's intervals are its own posterior ``mu +- z * sigma``.

A rank comes from the intervals, not the point values: a system's rank is 1 plus the number of
systems whose lower bound lies above its upper bound, so systems whose intervals overlap share
a rank (the rule the LMSYS Chatbot Arena leaderboard uses).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from accord import __version__
from accord.errors import AccordError, ConfigError
from accord.metaeval.result import Estimate
from accord.rankings.battles import PairCounts, count_encoded, encode_battles
from accord.rankings.bradley_terry import (
    TieModel,
    fit_batch,
    fit_bradley_terry,
    predicted_probabilities,
)
from accord.rankings.elo import check_elo_options, online_elo
from accord.rankings.scale import ELO_PER_LOGIT, Scale
from accord.rankings.trueskill import openskill_ratings, openskill_version
from accord.signature import make_signature

logger = logging.getLogger(__name__)

METHODS = ("bt", "elo", "openskill")

#: Most bootstrap resamples held in memory at once.
_CHUNK = 256


@dataclass(frozen=True)
class Rating:
    """One system's rating.

    Attributes:
        system: the system's name.
        value: rating on the Elo-like scale (400 points = odds of 10 to 1).
        ci_low: lower end of the confidence interval (same scale).
        ci_high: upper end of the confidence interval.
        rank: 1 + the number of systems whose interval lies wholly above this one's.
        n_battles: battles this system took part in.
        signature: method, parameters, scale, interval kind, number of resamples and seed.
    """

    system: str
    value: float
    ci_low: float
    ci_high: float
    rank: int
    n_battles: int
    signature: str

    def as_estimate(self) -> Estimate:
        """The rating as accord's general :class:`~accord.metaeval.result.Estimate`."""
        return Estimate(self.value, self.ci_low, self.ci_high, self.n_battles, self.signature,
                        {"system": self.system, "rank": self.rank})


def ranks_from_intervals(ci_low: np.ndarray, ci_high: np.ndarray) -> np.ndarray:
    """``(n,)`` int ranks: 1 + the number of systems whose lower bound exceeds this upper bound."""
    low = np.asarray(ci_low, dtype=float)
    high = np.asarray(ci_high, dtype=float)
    return 1 + (low[None, :] > high[:, None]).sum(axis=1)


def expected_scores_from_points(values: np.ndarray) -> np.ndarray:
    """``(n, n)``: row's expected score (win + half a tie) against column, from Elo points."""
    v = np.asarray(values, dtype=float)
    out = 1.0 / (1.0 + np.exp(-(v[:, None] - v[None, :]) / ELO_PER_LOGIT))
    np.fill_diagonal(out, np.nan)
    return out


@dataclass(frozen=True)
class Ratings:
    """Ratings of all systems from one method, with intervals, ranks and model predictions.

    Attributes:
        systems: system names; every array follows this order.
        values: ``(n_systems,)`` ratings on the scale ``scale``.
        ci_low: ``(n_systems,)`` lower interval ends.
        ci_high: ``(n_systems,)`` upper interval ends.
        counts: the observed outcome counts per pair.
        method: ``"bt"``, ``"elo"`` or ``"openskill"``.
        scale: where the ratings sit (mean or anchor at ``scale.center``).
        signature: method, parameters, interval kind, number of resamples and seed.
        expected: ``(n_systems, n_systems)`` the model's expected score (win + half a tie) of
            row against column.
        tie_probability: ``(n_systems, n_systems)`` the model's tie probability (Davidson
            Bradley-Terry only), else None.
        replicates: ``(n_resamples, n_systems)`` bootstrap ratings on the same scale, or None.
        extra: further numbers (Davidson's ``nu``, resamples without a finite fit, openskill's
            raw ``mu``/``sigma``/``ordinal``).
    """

    systems: tuple[str, ...]
    values: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    counts: PairCounts
    method: str
    scale: Scale
    signature: str
    expected: np.ndarray
    tie_probability: np.ndarray | None = None
    replicates: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ranks(self) -> np.ndarray:
        return ranks_from_intervals(self.ci_low, self.ci_high)

    @property
    def n_battles(self) -> np.ndarray:
        return np.rint(self.counts.battles_per_system()).astype(int)

    def __getitem__(self, system: str) -> Rating:
        try:
            i = self.systems.index(system)
        except ValueError:
            raise KeyError(f"no rating for system {system!r}") from None
        return Rating(system, float(self.values[i]), float(self.ci_low[i]),
                      float(self.ci_high[i]), int(self.ranks[i]), int(self.n_battles[i]),
                      self.signature)

    def ratings(self) -> list[Rating]:
        """One :class:`Rating` per system, best first."""
        return [self[self.systems[i]] for i in np.argsort(-self.values, kind="stable")]

    def table(self) -> pd.DataFrame:
        """Columns system, rating, ci_low, ci_high, rank, n_battles; best first."""
        return pd.DataFrame([
            {"system": r.system, "rating": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high,
             "rank": r.rank, "n_battles": r.n_battles}
            for r in self.ratings()
        ])

    def as_series(self) -> pd.Series:
        return pd.Series(self.values, index=list(self.systems), name=self.method)

    def win_rate_matrix(self) -> pd.DataFrame:
        """Observed share of wins (a tie is half) of row against column; NaN if never met."""
        names = list(self.systems)
        return pd.DataFrame(self.counts.win_rate_matrix(), index=names, columns=names)

    def expected_matrix(self) -> pd.DataFrame:
        """The model's expected score (win + half a tie) of row against column."""
        names = list(self.systems)
        return pd.DataFrame(self.expected, index=names, columns=names)


def _percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    alpha = 1.0 - confidence
    low, high = np.quantile(replicates, [alpha / 2, 1 - alpha / 2], axis=0)
    return low, high


def _check_common(n_resamples: int, confidence: float) -> None:
    if n_resamples < 0:
        raise ConfigError(f"n_resamples must be >= 0, got {n_resamples}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be between 0 and 1, got {confidence}")


def _no_interval(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(n, np.nan), np.full(n, np.nan)


def bootstrap_counts(
    counts: PairCounts, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """``(n_resamples, n_pairs, 3)`` outcome counts of battle resamples drawn with replacement.

    Drawing ``N`` battles with replacement from ``N`` and counting outcomes per pair is the
    same as drawing the counts from a multinomial with the observed shares, which is what
    this does: same distribution, no per-battle arrays.
    """
    total = counts.n_battles
    shares = counts.wins.ravel() / counts.wins.sum()
    draws = rng.multinomial(total, shares, size=n_resamples)
    return draws.reshape(n_resamples, *counts.wins.shape).astype(float)


def rate_bradley_terry(
    battles: pd.DataFrame,
    systems: Sequence[str] | None = None,
    ties: TieModel = "davidson",
    l2: float = 0.0,
    scale: Scale | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> Ratings:
    """Bradley-Terry ratings with bootstrap intervals (see :mod:`accord.rankings.bradley_terry`).

    Args:
        battles: a battle table.
        systems: the systems to rate (default: all in the table, sorted).
        ties: ``"davidson"`` (modelled), ``"half"`` (half a win each) or ``"drop"``.
        l2: L2 penalty on the strengths; use a small value (e.g. 0.01) when a system never loses.
        scale: where ratings sit (default: the mean at 1000).
        n_resamples: bootstrap resamples of the battles; 0 gives no interval.
        confidence: the interval's coverage, e.g. 0.95.
        seed: the bootstrap's seed; recorded in the signature.
    """
    _check_common(n_resamples, confidence)
    scale = scale or Scale()
    counts = count_encoded(*encode_battles(battles, systems))
    fit = fit_bradley_terry(counts, ties=ties, l2=l2)
    values = scale.from_logits(fit.strengths, counts.systems)
    extra: dict[str, Any] = {"tie_param": fit.tie_param, "log_likelihood": fit.log_likelihood,
                             "n_battles": fit.n_battles}

    replicates = None
    ci_low, ci_high = _no_interval(len(values))
    if n_resamples:
        rng = np.random.default_rng(seed)
        start = fit.strengths if fit.tie_param is None else np.r_[fit.strengths,
                                                                  math.log(fit.tie_param)]
        kept = []
        n_failed = 0
        for done in range(0, n_resamples, _CHUNK):
            wins = bootstrap_counts(counts, min(_CHUNK, n_resamples - done), rng)
            strengths, _, converged = fit_batch(counts, wins, ties=ties, l2=l2, start=start)
            kept.append(strengths[converged])
            n_failed += int((~converged).sum())
        if n_failed:
            # A resample where a system never loses has no finite strength; dropping it makes
            # the interval a little too narrow, so the count is reported.
            logger.warning(
                "Bradley-Terry bootstrap: %d of %d resamples have no finite fit and were left "
                "out; set l2 > 0 to keep them", n_failed, n_resamples,
            )
        extra["n_resamples_failed"] = n_failed
        replicates = scale.from_logits(np.concatenate(kept), counts.systems)
        if len(replicates):
            ci_low, ci_high = _percentile_interval(replicates, confidence)

    p_win, p_tie = predicted_probabilities(fit.strengths, fit.tie_param)
    signature = make_signature("bradley-terry", {
        "ties": ties, "l2": float(l2), "scale": scale.describe(),
        "ci": "bootstrap-battles-percentile" if n_resamples else "none",
        "confidence": confidence if n_resamples else None,
        "n_resamples": n_resamples or None, "seed": seed if n_resamples else None,
    }, version=__version__)
    return Ratings(
        systems=counts.systems, values=values, ci_low=ci_low, ci_high=ci_high, counts=counts,
        method="bt", scale=scale, signature=signature, expected=p_win + 0.5 * p_tie,
        tie_probability=p_tie if fit.tie_param is not None else None, replicates=replicates,
        extra=extra,
    )


def rate_elo(
    battles: pd.DataFrame,
    systems: Sequence[str] | None = None,
    k: float = 32.0,
    base: float = 10.0,
    elo_scale: float = 400.0,
    initial: float = 1000.0,
    n_shuffles: int = 0,
    scale: Scale | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int | None = 0,
) -> Ratings:
    """Online Elo ratings with bootstrap intervals (see :mod:`accord.rankings.elo`).

    Args:
        battles: a battle table; its row order is the order Elo reads.
        systems: the systems to rate (default: all in the table, sorted).
        k, base, elo_scale, initial: Elo's parameters; a difference of ``elo_scale`` means
            odds ``base`` to 1. Results are converted to accord's scale (400 points per factor
            10 of odds), which changes nothing with the defaults.
        n_shuffles: 0 reads battles in table order; ``n > 0`` averages over ``n`` seeded
            random orders.
        scale: where ratings sit (default: the mean at 1000).
        n_resamples: bootstrap resamples (each also a random order); 0 gives no interval.
        confidence: the interval's coverage.
        seed: seed of the shuffles and of the bootstrap; recorded in the signature.
    """
    _check_common(n_resamples, confidence)
    check_elo_options(k, base, elo_scale)
    if n_shuffles < 0:
        raise ConfigError(f"n_shuffles must be >= 0, got {n_shuffles}")
    scale = scale or Scale()
    names, a, b, outcome = encode_battles(battles, systems)
    if len(a) == 0:
        raise AccordError("Elo: no battles to rate")
    counts = count_encoded(names, a, b, outcome)
    n = len(names)
    rng = np.random.default_rng(seed)
    to_points = math.log(base) / elo_scale * ELO_PER_LOGIT

    if n_shuffles == 0:
        raw = online_elo(n, a, b, outcome, k, base, elo_scale, initial)
    else:
        orders = np.argsort(rng.random((n_shuffles, len(a))), axis=1)
        raw = online_elo(n, a[orders], b[orders], outcome[orders], k, base, elo_scale,
                         initial).mean(axis=0)
    values = scale.place(raw * to_points, names)

    replicates = None
    ci_low, ci_high = _no_interval(n)
    if n_resamples:
        runs = []
        for done in range(0, n_resamples, _CHUNK):
            picks = rng.integers(0, len(a), size=(min(_CHUNK, n_resamples - done), len(a)))
            runs.append(online_elo(n, a[picks], b[picks], outcome[picks], k, base, elo_scale,
                                   initial))
        replicates = scale.place(np.concatenate(runs) * to_points, names)
        ci_low, ci_high = _percentile_interval(replicates, confidence)

    signature = make_signature("elo", {
        "k": float(k), "base": float(base), "elo_scale": float(elo_scale),
        "initial": float(initial), "order": f"mean-of-{n_shuffles}-shuffles" if n_shuffles
        else "table", "scale": scale.describe(),
        "ci": "bootstrap-battles-percentile" if n_resamples else "none",
        "confidence": confidence if n_resamples else None,
        "n_resamples": n_resamples or None,
        "seed": seed if (n_resamples or n_shuffles) else None,
    }, version=__version__)
    return Ratings(
        systems=names, values=values, ci_low=ci_low, ci_high=ci_high, counts=counts,
        method="elo", scale=scale, signature=signature,
        expected=expected_scores_from_points(values), replicates=replicates,
    )


def rate_openskill(
    battles: pd.DataFrame,
    systems: Sequence[str] | None = None,
    model: str = "thurstone-mosteller",
    options: dict[str, Any] | None = None,
    scale: Scale | None = None,
    confidence: float = 0.95,
) -> Ratings:
    """TrueSkill-style ratings from openskill, with intervals ``mu +- z * sigma``.

    Args:
        battles: a battle table; its row order is the order openskill reads.
        systems: the systems to rate (default: all in the table, sorted).
        model: ``"thurstone-mosteller"``, ``"plackett-luce"`` or ``"bradley-terry"``.
        options: keyword arguments for the openskill model (``beta``, ``tau``, ...).
        scale: where ratings sit (default: the mean at 1000).
        confidence: the interval's coverage under openskill's Gaussian posterior.
    """
    _check_common(0, confidence)
    scale = scale or Scale()
    result = openskill_ratings(battles, systems, model=model, options=options)
    names, a, b, outcome = encode_battles(battles, systems)
    counts = count_encoded(names, a, b, outcome)
    factor = result.elo_per_unit
    values = scale.place(result.mu * factor, names)
    z = float(norm.ppf(0.5 + confidence / 2))
    half_width = z * result.sigma * factor
    signature = make_signature("openskill", {
        "model": model, **{f"opt_{k}": v for k, v in sorted((options or {}).items())},
        "conversion": "probit-1.702", "scale": scale.describe(), "ci": "posterior-sigma",
        "confidence": confidence, "order": "table",
    }, version=f"accord={__version__},openskill={openskill_version()}")
    return Ratings(
        systems=names, values=values, ci_low=values - half_width, ci_high=values + half_width,
        counts=counts, method="openskill", scale=scale, signature=signature,
        expected=expected_scores_from_points(values),
        extra={"mu": result.mu, "sigma": result.sigma, "ordinal": result.ordinal,
               "elo_per_unit": factor},
    )


def rate(battles: pd.DataFrame, method: str = "bt", **options: Any) -> Ratings:
    """Rate systems from battles with ``method`` ``"bt"``, ``"elo"`` or ``"openskill"``.

    ``options`` go to :func:`rate_bradley_terry`, :func:`rate_elo` or :func:`rate_openskill`.
    """
    if method == "bt":
        return rate_bradley_terry(battles, **options)
    if method == "elo":
        return rate_elo(battles, **options)
    if method == "openskill":
        return rate_openskill(battles, **options)
    raise ConfigError(f"rating method must be one of {', '.join(METHODS)}, got {method!r}")
