"""The one scale every rating in accord is reported on: Elo-like points.

A difference of ``400 * log10(odds)`` points between two systems means the first beats the
second with those odds (Elo 1978, "The Rating of Chessplayers, Past and Present"): 400 points
is odds of 10 to 1, 0 points is a coin flip. Ratings only fix differences, so the scale also
says where zero sits: either the mean of the rated systems, or one anchor system, is pinned at
``center`` (1000 by default, Elo's usual starting rating).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from accord.errors import ConfigError

#: Elo points per unit of natural log-odds: 400 / ln(10).
ELO_PER_LOGIT = 400.0 / math.log(10.0)


@dataclass(frozen=True)
class Scale:
    """Where ratings sit: the mean of all systems, or ``anchor``, is placed at ``center``.

    Attributes:
        center: the rating given to the mean system (or to the anchor).
        anchor: a system whose rating is pinned at ``center``; None pins the mean instead.
    """

    center: float = 1000.0
    anchor: str | None = None

    def place(self, points: np.ndarray, systems: Sequence[str]) -> np.ndarray:
        """Shift ratings already in Elo points so the mean (or anchor) sits at ``center``.

        Args:
            points: ``(..., n_systems)`` ratings in Elo points, any offset.
            systems: the system of each entry of the last axis.
        """
        values = np.asarray(points, dtype=float)
        if self.anchor is None:
            reference = values.mean(axis=-1, keepdims=True)
        else:
            reference = values[..., [self.anchor_index(systems)]]
        return values - reference + self.center

    def from_logits(self, logits: np.ndarray, systems: Sequence[str]) -> np.ndarray:
        """Turn ``(..., n_systems)`` natural log-odds strengths into placed Elo points."""
        return self.place(ELO_PER_LOGIT * np.asarray(logits, dtype=float), systems)

    def anchor_index(self, systems: Sequence[str]) -> int:
        if self.anchor is None:
            raise ConfigError("this scale has no anchor system")
        try:
            return list(systems).index(self.anchor)
        except ValueError:
            raise ConfigError(
                f"anchor system {self.anchor!r} is not among the rated systems: "
                f"{', '.join(systems)}"
            ) from None

    def describe(self) -> str:
        """Short text for signatures, e.g. ``mean=1000.0`` or ``anchor:sysA=1000.0``."""
        where = "mean" if self.anchor is None else f"anchor:{self.anchor}"
        return f"{where}={self.center!r}"
