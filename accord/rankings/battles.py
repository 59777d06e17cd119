"""Battles: one row per comparison of two systems on one item, and their counts per pair.

A battle table is a pandas DataFrame with columns ``item``, ``system_a``, ``system_b`` and
``winner`` (``"a"``, ``"b"`` or ``"tie"``). It is built from

- human pairwise preferences (:func:`battles_from_pairs`, from ``Judgments.pairs``),
- any segment-level score matrix, human or metric (:func:`battles_from_scores`): every pair of
  systems scored on the same item becomes one battle,
- a pairwise judge's verdicts, already in that shape (:func:`validate_battles` checks them).

Rating models that are not online (Bradley-Terry) only need how often each outcome happened
for each pair of systems; :func:`count_battles` aggregates a table into :class:`PairCounts`,
whose size is the number of pairs, not the number of battles.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accord.data.judgments import WINNERS, Judgments
from accord.errors import AccordError

logger = logging.getLogger(__name__)

BATTLE_COLUMNS = ("item", "system_a", "system_b", "winner")

#: Relative difference below which two scores count as equal (floating-point rounding).
_ROUNDING = 1e-9


def validate_battles(
    battles: pd.DataFrame | Mapping[str, Sequence[Any] | np.ndarray],
    name: str = "battles",
) -> pd.DataFrame:
    """Check a battle table (a judge's verdicts, or any table of this shape) and return a copy.

    Args:
        battles: a DataFrame, or a mapping of equally long arrays, with columns ``item``,
            ``system_a``, ``system_b`` and ``winner``; extra columns are kept.
        name: what to call the table in error messages.

    Returns:
        A DataFrame with ``item``, ``system_a`` and ``system_b`` as str and ``winner`` one of
        ``"a"``, ``"b"``, ``"tie"``, index reset.

    Raises:
        AccordError: a column is missing, a winner is not one of the three values, a system is
            missing, or a system battles itself.
    """
    if isinstance(battles, pd.DataFrame):
        table = battles.copy()
    elif isinstance(battles, Mapping):
        lengths = {key: len(values) for key, values in battles.items()}
        if len(set(lengths.values())) > 1:
            raise AccordError(f"{name}: columns have different lengths: {lengths}")
        table = pd.DataFrame({key: list(values) for key, values in battles.items()})
    else:
        raise TypeError(
            f"{name} must be a pandas DataFrame or a mapping of column arrays, "
            f"got {type(battles).__name__}"
        )
    missing = [c for c in BATTLE_COLUMNS if c not in table.columns]
    if missing:
        raise AccordError(
            f"{name} lacks column(s) {', '.join(missing)}; expected {', '.join(BATTLE_COLUMNS)}, "
            f"got {', '.join(map(str, table.columns))}"
        )
    for column in ("system_a", "system_b"):
        if table[column].isna().any():
            row = int(np.flatnonzero(table[column].isna().to_numpy())[0])
            raise AccordError(f"{name}, row {row}: {column} is missing")
    table = table.astype({"item": str, "system_a": str, "system_b": str})
    winner = pd.Series([str(w).strip().lower() for w in table["winner"]], index=table.index)
    bad = ~winner.isin(WINNERS)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise AccordError(
            f"{name}, row {row}: winner must be one of {WINNERS}, got {table['winner'].iloc[row]!r}"
        )
    table["winner"] = winner
    self_battles = table["system_a"] == table["system_b"]
    if self_battles.any():
        row = int(np.flatnonzero(self_battles.to_numpy())[0])
        raise AccordError(
            f"{name}, row {row}: system {table['system_a'].iloc[row]!r} battles itself"
        )
    return table.reset_index(drop=True)


def battles_from_pairs(judgments: Judgments, systems: Sequence[str] | None = None) -> pd.DataFrame:
    """Battles from human pairwise preferences (``Judgments.pairs``), one per judged pair.

    Args:
        judgments: judgments whose ``pairs`` table holds the preferences; a rater column is
            kept as ``rater``.
        systems: keep only battles between these systems (None keeps all); the number left out
            is logged.
    """
    table = validate_battles(judgments.pairs, name=f"{judgments.name}: pairs")
    if systems is not None:
        keep = table["system_a"].isin(systems) & table["system_b"].isin(systems)
        if (~keep).any():
            logger.info(
                "%s: %d of %d pairs left out: a system is not among the %d ranked",
                judgments.name, int((~keep).sum()), len(table), len(systems),
            )
        table = table[keep].reset_index(drop=True)
    return table


def battles_from_scores(
    scores: np.ndarray,
    systems: Sequence[str],
    items: Sequence[str] | None = None,
    higher_is_better: bool = True,
    tie_tolerance: float = 0.0,
) -> pd.DataFrame:
    """Battles from a segment-level score matrix: every two systems scored on the same item.

    Args:
        scores: ``(n_systems, n_items)`` float array, human or metric scores; NaN is missing.
        systems: the system of each row.
        items: the item of each column (default ``"0"``, ``"1"``, ...).
        higher_is_better: False for scores where lower is better (e.g. raw MQM penalties, TER).
        tie_tolerance: two scores whose absolute difference is at most this are a tie. With
            0, scores equal up to floating-point rounding (a relative 1e-9, so that an MQM
            sum of 0.1 + 0.1 + 0.1 ties with 0.3) are ties.

    Returns:
        A battle table with ``system_a`` the earlier system in ``systems`` order, ordered by
        item, then by pair. An item contributes ``k * (k - 1) / 2`` battles where ``k`` systems
        have a score for it; the number of (system, item) cells without a score is logged.
    """
    matrix = np.asarray(scores, dtype=float)
    if matrix.ndim != 2:
        raise AccordError(f"scores must be a (n_systems, n_items) array, got shape {matrix.shape}")
    n_systems, n_items = matrix.shape
    if len(systems) != n_systems:
        raise AccordError(
            f"scores has {n_systems} rows but {len(systems)} system names were given"
        )
    if len(set(systems)) != len(systems):
        raise AccordError("system names must be unique")
    item_names = [str(i) for i in range(n_items)] if items is None else [str(i) for i in items]
    if len(item_names) != n_items:
        raise AccordError(f"scores has {n_items} columns but {len(item_names)} items were given")
    if tie_tolerance < 0 or not np.isfinite(tie_tolerance):
        raise AccordError(f"tie_tolerance must be a finite number >= 0, got {tie_tolerance}")

    n_missing = int(np.isnan(matrix).sum())
    if n_missing:
        logger.info(
            "%d of %d (system, item) cells have no score and take part in no battle",
            n_missing, matrix.size,
        )
    signed = matrix if higher_is_better else -matrix
    a_idx, b_idx = np.triu_indices(n_systems, k=1)
    # (n_items, n_pairs): difference a - b per item and pair, NaN where either score is missing.
    diff = (signed[a_idx, :] - signed[b_idx, :]).T
    size = np.maximum(np.abs(signed[a_idx, :]), np.abs(signed[b_idx, :])).T
    item_idx, pair_idx = np.nonzero(~np.isnan(diff))
    d = diff[item_idx, pair_idx]
    tolerance = np.maximum(tie_tolerance, _ROUNDING * np.maximum(size[item_idx, pair_idx], 1.0))
    winner = np.where(np.abs(d) <= tolerance, "tie", np.where(d > 0, "a", "b"))
    names = np.asarray(systems, dtype=object)
    return pd.DataFrame({
        "item": np.asarray(item_names, dtype=object)[item_idx],
        "system_a": names[a_idx[pair_idx]],
        "system_b": names[b_idx[pair_idx]],
        "winner": winner.astype(object),
    })


@dataclass(frozen=True)
class PairCounts:
    """Outcome counts per unordered pair of systems: the sufficient statistics of paired models.

    Pair ``p`` is systems ``left[p] < right[p]`` (indices into ``systems``); only pairs that
    met at least once are listed.

    Attributes:
        systems: system names; every index refers to this order.
        left: ``(n_pairs,)`` int index of the first system of each pair.
        right: ``(n_pairs,)`` int index of the second system.
        wins: ``(n_pairs, 3)`` float counts of (left wins, right wins, ties).
    """

    systems: tuple[str, ...]
    left: np.ndarray
    right: np.ndarray
    wins: np.ndarray

    @property
    def n_battles(self) -> int:
        return int(round(float(self.wins.sum())))

    def battles_per_system(self) -> np.ndarray:
        """``(n_systems,)`` number of battles each system took part in."""
        per_pair = self.wins.sum(axis=1)
        n = len(self.systems)
        return np.bincount(self.left, per_pair, n) + np.bincount(self.right, per_pair, n)

    def win_rate_matrix(self) -> np.ndarray:
        """``(n_systems, n_systems)``: row system's share of wins against column system.

        A tie counts as half a win; pairs that never met and the diagonal are NaN.
        """
        n = len(self.systems)
        rate = np.full((n, n), np.nan)
        total = self.wins.sum(axis=1)
        left_score = (self.wins[:, 0] + 0.5 * self.wins[:, 2]) / total
        rate[self.left, self.right] = left_score
        rate[self.right, self.left] = 1.0 - left_score
        return rate

    def with_wins(self, wins: np.ndarray) -> PairCounts:
        """The same pairs with other counts (a bootstrap resample)."""
        return PairCounts(self.systems, self.left, self.right, wins)


def encode_battles(
    battles: pd.DataFrame, systems: Sequence[str] | None = None
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """Battles as integer arrays: the systems, and per battle the index of a, of b, the outcome.

    Args:
        battles: a battle table (see :func:`validate_battles`).
        systems: the systems to rate, in this order (default: all in the table, sorted).
            Battles involving any other system are left out and their number is logged.

    Returns:
        ``(systems, a, b, outcome)``: ``a`` and ``b`` are ``(n_battles,)`` indices into
        ``systems``; ``outcome`` is ``(n_battles,)`` with 0 = a wins, 1 = b wins, 2 = tie.
    """
    table = validate_battles(battles)
    if systems is None:
        names = tuple(sorted(set(table["system_a"]) | set(table["system_b"])))
    else:
        names = tuple(str(s) for s in systems)
        if len(set(names)) != len(names):
            raise AccordError(f"systems must be unique, got {list(names)}")
    index = {s: i for i, s in enumerate(names)}
    a = table["system_a"].map(index)
    b = table["system_b"].map(index)
    keep = (a.notna() & b.notna()).to_numpy()
    if not keep.all():
        logger.info(
            "%d of %d battles left out: a system is not among the %d rated",
            int((~keep).sum()), len(table), len(names),
        )
    outcome = table["winner"].map({"a": 0, "b": 1, "tie": 2}).to_numpy()
    return (
        names,
        a.to_numpy()[keep].astype(np.int64),
        b.to_numpy()[keep].astype(np.int64),
        outcome[keep].astype(np.int64),
    )


def count_encoded(
    systems: Sequence[str], a: np.ndarray, b: np.ndarray, outcome: np.ndarray
) -> PairCounts:
    """Aggregate encoded battles (see :func:`encode_battles`) into :class:`PairCounts`."""
    n = len(systems)
    swap = a > b
    left = np.where(swap, b, a)
    right = np.where(swap, a, b)
    # Seen from the left system: a swap turns "a wins" into "right wins" and vice versa.
    side = np.where(outcome == 2, 2, np.where(swap, 1 - outcome, outcome))
    cell = (left * n + right) * 3 + side
    flat = np.bincount(cell, minlength=n * n * 3).reshape(n * n, 3).astype(float)
    met = np.flatnonzero(flat.sum(axis=1) > 0)
    return PairCounts(
        systems=tuple(systems),
        left=(met // n).astype(np.int64),
        right=(met % n).astype(np.int64),
        wins=flat[met],
    )


def count_battles(battles: pd.DataFrame, systems: Sequence[str] | None = None) -> PairCounts:
    """Outcome counts per pair of systems (see :class:`PairCounts` and :func:`encode_battles`)."""
    return count_encoded(*encode_battles(battles, systems))
