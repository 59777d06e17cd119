"""Bootstrap resampling as count matrices, and percentile confidence intervals.

A bootstrap resample of ``n`` units (items, systems or judged pairs) is stored as how often each
unit was drawn: a row of ``n`` non-negative integers summing to ``n``. Statistics are then
computed on the weighted data instead of on copied arrays, which is what makes 1,000 resamples
of a 13 x 529 matrix cheap. Counts are exact multiplicities, so a statistic computed with them
equals the statistic computed on the materialized resample (duplicates included).
"""

from __future__ import annotations

import math

import numpy as np

from accord.errors import ConfigError

# What a confidence interval may resample; None means no interval.
RESAMPLE_UNITS = ("items", "systems", "both", "pairs")


def bootstrap_counts(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n_resamples`` bootstrap samples of ``n`` units as counts.

    Args:
        n: number of units to resample (each sample draws ``n`` units with replacement).
        n_resamples: number of bootstrap samples.
        rng: the random generator; the draws depend only on its state.

    Returns:
        ``(n_resamples, n)`` float array; entry ``[r, u]`` is how often unit ``u`` was drawn in
        sample ``r``. Floats because they are used as weights in float arithmetic.
    """
    if n <= 0:
        return np.zeros((n_resamples, 0))
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_resamples)  # (R, n)
    return counts.astype(np.float64)


def check_resampling(
    ci: str | None, n_resamples: int, alpha: float, allowed: tuple[str, ...]
) -> None:
    """Raise :class:`ConfigError` if the resampling options are not usable."""
    if ci is not None and ci not in allowed:
        raise ConfigError(f"ci must be one of {allowed} or None; got {ci!r}")
    if ci is not None and (not isinstance(n_resamples, int) or n_resamples < 1):
        raise ConfigError(f"n_resamples must be a positive integer; got {n_resamples!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1; got {alpha!r}")


def percentile_interval(values: np.ndarray, alpha: float) -> tuple[float, float, int]:
    """The percentile bootstrap interval of resampled statistics.

    Args:
        values: ``(n_resamples,)`` statistic per resample; NaN where it was undefined in that
            resample (e.g. every resampled metric score equal).
        alpha: 1 - confidence level; the interval spans the ``alpha/2`` and ``1 - alpha/2``
            quantiles (linear interpolation) of the defined values.

    Returns:
        ``(low, high, n_undefined)``: the interval (NaN, NaN when no resample was defined)
        and how many resamples were left out because the statistic was undefined.
    """
    finite = values[np.isfinite(values)]
    n_undefined = int(values.size - finite.size)
    if finite.size == 0:
        return math.nan, math.nan, n_undefined
    low, high = np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high), n_undefined
