"""System scores under item resampling: how a metric's corpus-level score is recomputed.

System-level meta-evaluation resamples items; every resample needs each system's metric score
on the resampled items. A :class:`SystemScorer` computes those for many resamples at once from
item weights (how often each item was drawn), so corpus metrics such as chrF or BLEU are
recomputed exactly from summed sufficient statistics instead of by rescoring text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from accord.errors import AccordError


@runtime_checkable
class SystemScorer(Protocol):
    """Computes every system's metric score for weighted sets of items.

    Attributes:
        n_systems: number of systems (rows of the judgment matrices).
        n_items: number of items (columns).
    """

    n_systems: int
    n_items: int

    def __call__(self, item_weights: np.ndarray) -> np.ndarray:
        """System scores for each weight row.

        Args:
            item_weights: ``(R, n_items)`` non-negative weights; row ``r`` counts how often each
                item occurs in resample ``r`` (all ones for the full data).

        Returns:
            ``(R, n_systems)`` scores, NaN for a system none of whose scored items has weight.
        """
        ...


def _check_weights(item_weights: np.ndarray, n_items: int) -> np.ndarray:
    weights = np.asarray(item_weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape[1] != n_items:
        raise AccordError(
            f"item_weights must have shape (n_resamples, {n_items}); got {weights.shape}"
        )
    return weights


class MeanScorer:
    """A system's score is the weighted mean of its segment scores.

    Args:
        matrix: ``(n_systems, n_items)`` segment scores, NaN where a system has no score.
        mask: optional ``(n_systems, n_items)`` booleans; only cells where it is True count
            (e.g. the cells that have a human score, so metric and human average over the
            same segments).
    """

    def __init__(self, matrix: np.ndarray, mask: np.ndarray | None = None) -> None:
        values = np.asarray(matrix, dtype=np.float64)
        if values.ndim != 2:
            raise AccordError(f"matrix must be 2-D (n_systems, n_items); got shape {values.shape}")
        present = np.isfinite(values)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != values.shape:
                raise AccordError(f"mask must have shape {values.shape}; got {mask.shape}")
            present &= mask
        self.n_systems, self.n_items = values.shape
        self._present = present.astype(np.float64).T  # (n_items, n_systems)
        self._filled = np.where(present, values, 0.0).T  # (n_items, n_systems)

    def __call__(self, item_weights: np.ndarray) -> np.ndarray:
        weights = _check_weights(item_weights, self.n_items)
        total = weights @ self._filled  # (R, n_systems)
        count = weights @ self._present
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, total / count, np.nan)


class StatsScorer:
    """A corpus score recomputed from summed per-segment sufficient statistics.

    BLEU, chrF and TER score a corpus from statistics (n-gram matches, lengths, edits) summed
    over its segments. Summing weighted statistics gives the exact corpus score of each
    resample.

    Args:
        stats: ``(n_systems, n_items, k)`` statistics of each segment; a cell with any NaN
            statistic is treated as missing.
        score_fn: maps summed statistics ``(..., k)`` to corpus scores ``(...)``; it must work
            on any leading shape (it receives ``(R, n_systems, k)``).
        mask: optional ``(n_systems, n_items)`` booleans; only cells where it is True count.
    """

    def __init__(
        self,
        stats: np.ndarray,
        score_fn: Callable[[np.ndarray], np.ndarray],
        mask: np.ndarray | None = None,
    ) -> None:
        values = np.asarray(stats, dtype=np.float64)
        if values.ndim != 3:
            raise AccordError(
                f"stats must be 3-D (n_systems, n_items, k); got shape {values.shape}"
            )
        present = np.isfinite(values).all(axis=2)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != present.shape:
                raise AccordError(f"mask must have shape {present.shape}; got {mask.shape}")
            present &= mask
        self.n_systems, self.n_items, self.k = values.shape
        self.score_fn = score_fn
        filled = np.where(present[:, :, None], values, 0.0)
        self._flat = filled.transpose(1, 0, 2).reshape(self.n_items, -1)  # (n_items, S * k)
        self._present = present.astype(np.float64).T  # (n_items, n_systems)

    def __call__(self, item_weights: np.ndarray) -> np.ndarray:
        weights = _check_weights(item_weights, self.n_items)
        summed = (weights @ self._flat).reshape(weights.shape[0], self.n_systems, self.k)
        scores = np.asarray(self.score_fn(summed), dtype=np.float64)
        if scores.shape != (weights.shape[0], self.n_systems):
            raise AccordError(
                f"score_fn must map summed stats {summed.shape} to shape "
                f"{(weights.shape[0], self.n_systems)}; it returned {scores.shape}"
            )
        has_items = (weights @ self._present) > 0
        return np.where(has_items, scores, np.nan)
