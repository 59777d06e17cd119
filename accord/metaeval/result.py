"""The named result that every statistic in accord returns.

A statistic is a value with its 95% (or other) confidence interval, the number of
observations it rests on, and a signature naming how it was computed (coefficient, level,
grouping, resampling, seed). The same shape serves correlations, accuracies and ratings, so
reports and CSV writers handle them all alike.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """A statistic with its confidence interval.

    Attributes:
        value: the point estimate on the full data (NaN when undefined, e.g. constant input).
        ci_low: lower end of the confidence interval (NaN when no CI was computed).
        ci_high: upper end of the confidence interval (NaN when no CI was computed).
        n: the number of observations the value rests on (pairs, segments, systems, groups).
        signature: how the value was computed, e.g.
            ``kendall-b|level:segment|grouping:item|ci:bootstrap-items|n_resamples:1000|seed:1``.
        extra: further named numbers (p-value, number of groups skipped, ...).
    """

    value: float
    ci_low: float = math.nan
    ci_high: float = math.nan
    n: int = 0
    signature: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
