"""Is one metric's correlation with humans significantly higher than another's?

Three tests of the difference ``delta = r(metric_a, gold) - r(metric_b, gold)`` of two metrics
scored on the same ``(n_systems, n_items)`` cells against the same human scores, for every
variant :func:`accord.metaeval.correlation.correlate` computes (coefficient, level, grouping):

:func:`permutation_test`
    Deutsch, Dror & Roth 2021, "A Statistical Analysis of Summarization Evaluation Metrics
    using Resampling Methods" (TACL 9), section 5. Each metric is first standardized (z-score
    over the cells of the test) so that the two are on one scale; under the null hypothesis
    that both agree with humans equally, the two metrics' scores are exchangeable, so a
    resample swaps them. The paper defines three units to swap: whole systems
    (PERM-SYSTEMS), whole items (PERM-INPUTS) or each (system, item) cell independently
    (PERM-BOTH), and uses the same three at system and summary (segment) level, finding
    PERM-BOTH the most powerful with a correct type-I error. accord's default, ``unit="cells"``,
    is PERM-BOTH at every level; ``"items"`` and ``"systems"`` are the other two. At system level
    a resample's system score is the mean of its (swapped, standardized) segment scores, so
    for metrics whose system score is a corpus statistic (BLEU, chrF) the test is on the mean of
    segment scores; :func:`paired_bootstrap_test` tests corpus scores as they are.
:func:`paired_bootstrap_test`
    Resample items with replacement (Koehn 2004, "Statistical Significance Tests for Machine
    Translation Evaluation"), compute delta on each resample with the same draws for both
    metrics, and take the p-value of the shifted bootstrap distribution (Efron & Tibshirani
    1993, section 16.4; used for NLP by Berg-Kirkpatrick et al. 2012 and Deutsch et al. 2021):
    ``p = #{delta*_r - delta >= delta} / R`` for ``H1: delta > 0``. The interval of delta is the
    percentile interval.
:func:`williams_test`
    Williams' (1959) t-test for two dependent Pearson correlations that share the human
    variable, as the WMT metrics tasks use it (Graham & Baldwin 2014, "Testing for
    Significance of Increased Correlation with Human Judgment"). Parametric, Pearson only.

P-values of resampling tests are ``(1 + b) / (1 + R)`` with ``b`` the number of resamples at
least as extreme as the observed delta (Phipson & Smyth 2010), so they are never 0 and the test
keeps its level. Every test is one-sided by default (``alternative="greater"``: H1 is that
metric a is better); ``"two-sided"`` doubles nothing and instead compares ``|delta|``.

Early stopping (permutation test, ``early_stop=True``): resamples are drawn in fixed chunks from
one generator, so the first ``k`` resamples are the same whether or not the run stops. After
each chunk, if ``1 + b > alpha (1 + R)`` the final p-value (at least ``(1 + b) / (1 + R)``)
already exceeds ``alpha`` whatever the remaining resamples give, so the run stops: the verdict
"not significant at alpha" is exactly the full run's, and the reported p-value
``(1 + b) / (1 + R)`` is a lower bound of the full run's (``extra["p_value_is_lower_bound"]``).
A significant result never stops early.

Cells: a test uses the cells where both metrics and the human have a score; cells one metric
lacks are left out of both and counted in ``extra["cells_not_shared"]``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from accord import __version__
from accord.errors import AccordError, ConfigError
from accord.metaeval.coefficients import (
    AccEqPlan,
    KendallCounts,
    PairedSample,
    check_coefficient,
    pairwise_statistic,
)
from accord.metaeval.correlation import GROUPINGS, LEVELS, as_matrix, correlate
from accord.metaeval.fast_kendall import choice_kendall_b
from accord.metaeval.resample import bootstrap_counts, percentile_interval
from accord.metaeval.result import Estimate
from accord.metaeval.scorers import MeanScorer, SystemScorer
from accord.signature import make_signature

logger = logging.getLogger(__name__)

ALTERNATIVES = ("greater", "two-sided")
UNITS = ("cells", "items", "systems")
METHODS = ("permutation", "bootstrap", "williams")

# A chunk of resamples materializes arrays of about this many cells.
_CHUNK_CELLS = 2_000_000
# With early stopping the verdict is checked after every chunk of this many resamples.
_EARLY_STOP_CHUNK = 50
# Groups up to this size use the pair-table kernel for Kendall-type statistics.
_SMALL_GROUP = 40
# Resampled deltas within this distance of the observed one count as equally extreme, so that
# rounding cannot split exact ties (discrete statistics such as Kendall's tie often).
_TIE_TOLERANCE = 1e-9


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _check_variant(coefficient: str, level: str, grouping: str) -> None:
    check_coefficient(coefficient)
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {LEVELS}; got {level!r}")
    if grouping not in GROUPINGS:
        raise ConfigError(f"grouping must be one of {GROUPINGS}; got {grouping!r}")
    if level == "system" and grouping != "none":
        raise ConfigError(f"system-level correlation has no grouping; got grouping={grouping!r}")


def _check_options(n_resamples: int, alpha: float, alternative: str) -> None:
    if not isinstance(n_resamples, int) or n_resamples < 1:
        raise ConfigError(f"n_resamples must be a positive integer; got {n_resamples!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1; got {alpha!r}")
    if alternative not in ALTERNATIVES:
        raise ConfigError(f"alternative must be one of {ALTERNATIVES}; got {alternative!r}")


def _shared_cells(
    a: np.ndarray, b: np.ndarray, gold: np.ndarray
) -> tuple[np.ndarray, dict[str, Any]]:
    if not a.shape == b.shape == gold.shape:
        raise AccordError(
            f"metric_a, metric_b and gold must have one shape; got {a.shape}, {b.shape} and "
            f"{gold.shape}"
        )
    has_gold = np.isfinite(gold)
    either = has_gold & (np.isfinite(a) | np.isfinite(b))
    valid = has_gold & np.isfinite(a) & np.isfinite(b)
    extra: dict[str, Any] = {
        "cells": int(valid.sum()), "cells_not_shared": int((either & ~valid).sum())
    }
    if extra["cells_not_shared"]:
        logger.info("%d cells scored by only one of the two metrics are left out of the test",
                    extra["cells_not_shared"])
    return valid, extra


def standardize(matrix: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Z-scores over all cells of a matrix: ``(x - mean) / std`` (population std).

    Args:
        matrix: ``(n_systems, n_items)`` scores, NaN = missing.
        mask: cells to use for the mean and standard deviation (default: the finite ones);
            other cells become NaN.

    Returns:
        The standardized matrix; a constant matrix becomes all zeros on the masked cells.
    """
    values = np.asarray(matrix, dtype=np.float64)
    use = np.isfinite(values) if mask is None else (np.asarray(mask, dtype=bool)
                                                    & np.isfinite(values))
    out = np.full(values.shape, math.nan)
    if not use.any():
        return out
    mean = values[use].mean()
    std = values[use].std()
    out[use] = (values[use] - mean) / std if std > 0 else 0.0
    return out


# ---------------------------------------------------------------------------------------------
# The statistic of rows that take each cell's score from metric a or metric b
# ---------------------------------------------------------------------------------------------


def _weighted_group_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray,
                            axes: tuple[int, ...]) -> np.ndarray:
    """Weighted Pearson r over ``axes`` of broadcastable arrays; NaN if constant or n < 2."""
    present = w > 0
    n = w.sum(axis=axes)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = (w * x).sum(axis=axes, keepdims=True) / w.sum(axis=axes, keepdims=True)
        mean_y = (w * y).sum(axis=axes, keepdims=True) / w.sum(axis=axes, keepdims=True)
        dx = x - mean_x
        dy = y - mean_y
        r = (w * dx * dy).sum(axis=axes) / np.sqrt(
            (w * dx * dx).sum(axis=axes) * (w * dy * dy).sum(axis=axes)
        )
    x_b = np.broadcast_to(x, np.broadcast_shapes(x.shape, w.shape))
    y_b = np.broadcast_to(y, np.broadcast_shapes(y.shape, w.shape))
    constant = (np.where(present, x_b, np.inf).min(axis=axes)
                == np.where(present, x_b, -np.inf).max(axis=axes))
    constant |= (np.where(present, y_b, np.inf).min(axis=axes)
                 == np.where(present, y_b, -np.inf).max(axis=axes))
    return np.where((n < 2) | constant, math.nan, np.clip(r, -1.0, 1.0))


def _group_mean(values: np.ndarray, group_w: np.ndarray | None) -> np.ndarray:
    """Mean over groups (last axis) of the defined values, weighted by group counts."""
    weights = np.ones(values.shape) if group_w is None else np.broadcast_to(group_w, values.shape)
    weights = np.where(np.isfinite(values), weights, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (weights * np.nan_to_num(values)).sum(axis=-1) / weights.sum(axis=-1)


class _GroupPairTable:
    """Kendall pair counts of small groups when each observation comes from metric a or b.

    For a pair of observations ``(i, j)`` of one group, the metric comparison depends only on
    which metric each of the two takes: four combinations, tabulated once. A row of choices
    then costs one table look-up per pair; the counts feed the core's :class:`KendallCounts`.
    The look-up packs three flags into one integer (discordant + 2^10 metric tie + 2^20 joint
    tie), so one sum per group counts all three; groups have at most ``_SMALL_GROUP``
    observations, so fewer than 2^10 pairs.
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, gold: np.ndarray, valid: np.ndarray):
        # rows of a, b, gold and valid are groups; columns the observations inside them
        n_groups, width = valid.shape
        first, second = np.triu_indices(width, 1)
        pair_ok = valid[:, first] & valid[:, second]  # (G, P_all)
        group_of, pair_index = np.nonzero(pair_ok)
        self.cell_i = group_of * width + first[pair_index]  # flat index of each pair's cells
        self.cell_j = group_of * width + second[pair_index]
        g, i, j = group_of, first[pair_index], second[pair_index]
        sources = (a, b)
        sign_g = np.sign(gold[g, i] - gold[g, j])
        gold_tie = sign_g == 0
        self.packed = []
        for combo in range(4):  # combo = 2 * (i takes b) + (j takes b)
            left, right = sources[combo // 2], sources[combo % 2]
            sign_m = np.sign(left[g, i] - right[g, j])
            tie = sign_m == 0
            flags = (sign_m * sign_g < 0) + (tie << 10) + ((tie & gold_tie) << 20)
            self.packed.append(flags.astype(np.int32))
        self.n_groups = n_groups
        self.n_obs = valid.sum(axis=1).astype(np.float64)  # (G,)
        self.gold_ties = np.bincount(g, weights=gold_tie, minlength=n_groups)
        # np.nonzero lists pairs group by group, so each group's pairs are one run
        self.groups_with_pairs, self.starts = np.unique(g, return_index=True)

    def counts(self, choose_b: np.ndarray) -> KendallCounts:
        """Counts per row and group, arrays ``(R, G)``, for choices ``(R, G, width)``."""
        rows, n_groups, width = choose_b.shape
        flat = np.ascontiguousarray(choose_b).reshape(rows, n_groups * width)
        take_i = np.take(flat, self.cell_i, axis=1)  # (R, P): i takes metric b
        take_j = np.take(flat, self.cell_j, axis=1)
        # the table entry of combination (take_i, take_j), as bilinear interpolation of the
        # four corners: exact on 0/1 inputs and cheaper than a gather
        v00, v01, v10, v11 = self.packed
        packed = np.where(take_i, v10, v00)  # (R, P) int32
        packed += take_j * np.where(take_i, v11 - v10, v01 - v00)
        sums = np.zeros((rows, self.n_groups), dtype=np.int64)
        if self.starts.size:
            sums[:, self.groups_with_pairs] = np.add.reduceat(packed, self.starts, axis=1)
        metric_ties = ((sums >> 10) & 1023).astype(np.float64)
        nan = np.full((rows, self.n_groups), math.nan)
        return KendallCounts(
            n_obs=np.broadcast_to(self.n_obs, (rows, self.n_groups)),
            pairs=np.broadcast_to(self.n_obs * (self.n_obs - 1.0) / 2.0, (rows, self.n_groups)),
            discordant=(sums & 1023).astype(np.float64),
            metric_ties=metric_ties,
            gold_ties=np.broadcast_to(self.gold_ties, (rows, self.n_groups)),
            joint_ties=(sums >> 20).astype(np.float64),
            metric_distinct=nan,
            gold_distinct=nan,
        )


class ChoiceStatistic:
    """A correlation variant computed on rows that take each cell from metric a or metric b.

    Row ``r`` is the matrix ``where(choose_b[r], b, a)``; a permutation test evaluates the rows
    of its swap masks and of their complements, a paired bootstrap the all-a and all-b rows
    under item weights. The core kernels of :mod:`accord.metaeval.coefficients` do the work:
    at segment level the ``2n`` values of both metrics are one fixed sample and a row is a 0/1
    weighting of it (cell ``c`` counts once, from a or from b), which the weighted kernels
    (merge-sort Kendall, ranks, tie-calibrated accuracy) compute exactly. Two faster paths give
    the same values: weighted Pearson on the materialized rows, and a pair table for Kendall's
    tau-b and WMT's tau in small groups (grouping by item).

    Args:
        a, b: ``(n_systems, n_items)`` scores of the two metrics.
        gold: ``(n_systems, n_items)`` human scores.
        valid: the cells to use (all three scored).
        coefficient, level, grouping: the variant, as in
            :func:`~accord.metaeval.correlation.correlate`. At system level a system's score is
            the mean over its valid cells (for metric and human alike).
    """

    def __init__(self, a: np.ndarray, b: np.ndarray, gold: np.ndarray, valid: np.ndarray,
                 coefficient: str, level: str, grouping: str) -> None:
        self.coefficient, self.level, self.grouping = coefficient, level, grouping
        self.valid = valid
        self.a = np.where(valid, a, 0.0)
        self.b = np.where(valid, b, 0.0)
        self.gold = np.where(valid, gold, 0.0)
        self.shape = valid.shape
        self._plans: dict[str, Any] = {}

    # The orientation used by grouped kernels: rows are groups.
    def _grouped(self, matrix: np.ndarray) -> np.ndarray:
        return matrix.swapaxes(-1, -2) if self.grouping == "item" else matrix

    def values(self, choose_b: np.ndarray, item_w: np.ndarray | None = None) -> np.ndarray:
        """The statistic of each row.

        Args:
            choose_b: ``(R, n_systems, n_items)`` booleans (broadcastable), True where the row
                takes metric b's score.
            item_w: ``(R, n_items)`` item multiplicities (a bootstrap resample), or None.

        Returns:
            ``(R,)`` values, NaN where undefined.
        """
        choose_b = np.broadcast_to(choose_b, (choose_b.shape[0], *self.shape))
        if self.level == "system":
            return self._system(choose_b, item_w)
        if self.coefficient == "pearson":
            return self._pearson(choose_b, item_w)
        if self.grouping == "none":
            return self._ungrouped(choose_b, item_w)
        if self.coefficient == "acc_eq":
            return self._pooled_acc_eq(choose_b, item_w)
        small = self._grouped(self.valid).shape[1] <= _SMALL_GROUP
        within_ones = item_w is None or self.grouping == "item"
        if self.coefficient in ("kendall_b", "wmt_kendall") and small and within_ones:
            return self._pair_table(choose_b, item_w)
        return self._group_loop(choose_b, item_w)

    def _system(self, choose_b: np.ndarray, item_w: np.ndarray | None) -> np.ndarray:
        rows = choose_b.shape[0]
        w = np.broadcast_to(self.valid, (rows, *self.shape)).astype(np.float64)
        if item_w is not None:
            w = w * item_w[:, None, :]
        x = np.where(choose_b, self.b, self.a)
        with np.errstate(divide="ignore", invalid="ignore"):
            count = w.sum(axis=2)
            metric_sys = (w * x).sum(axis=2) / count  # (R, S)
            gold_sys = (w * self.gold).sum(axis=2) / count
        present = np.isfinite(metric_sys).astype(np.float64)
        return pairwise_statistic(self.coefficient, metric_sys, gold_sys, present)[0]

    def _pearson(self, choose_b: np.ndarray, item_w: np.ndarray | None) -> np.ndarray:
        if item_w is None:
            return self._pearson_sums(choose_b)
        x = np.where(choose_b, self.b, self.a)  # (R, S, I)
        w = np.broadcast_to(self.valid, x.shape).astype(np.float64)
        if self.grouping == "none":
            if item_w is not None:
                w = w * item_w[:, None, :]
            return _weighted_group_pearson(x, self.gold, w, (1, 2))
        group_w = None
        if item_w is not None:
            if self.grouping == "item":
                group_w = item_w  # copies of an item are separate groups
            else:
                w = w * item_w[:, None, :]  # a system's items are resampled within it
        axis = 1 if self.grouping == "item" else 2
        per_group = _weighted_group_pearson(x, self.gold, w, (axis,))
        return _group_mean(per_group, group_w)

    def _pearson_sums(self, choose_b: np.ndarray) -> np.ndarray:
        """Pearson's r of swapped rows from sums: a row's sums are the all-a sums plus the
        swapped cells' changes, so each costs one pass over the swap mask."""
        w = self.valid.astype(np.float64)
        a, b, gold = self.a, self.b, self.gold
        # (3, S, I) per-cell change of sum x, sum x^2 and sum x*gold when a cell takes b
        change = np.stack([w * (b - a), w * (b * b - a * a), w * (b - a) * gold])
        base = np.stack([w * a, w * a * a, w * a * gold, w, w * gold, w * gold * gold])
        mask = choose_b.astype(np.float64)  # (R, S, I)
        if self.grouping == "none":
            delta = mask.reshape(mask.shape[0], -1) @ change.reshape(3, -1).T  # (R, 3)
            delta = delta.T[:, :, None]  # (3, R, 1)
            fixed = base.reshape(6, -1).sum(axis=1)[:, None, None]  # (6, 1, 1)
        elif self.grouping == "item":
            delta = np.einsum("rsi,ksi->kri", mask, change)  # (3, R, I)
            fixed = base.sum(axis=1)[:, None, :]  # (6, 1, I)
        else:
            delta = np.einsum("rsi,ksi->krs", mask, change)  # (3, R, S)
            fixed = base.sum(axis=2)[:, None, :]  # (6, 1, S)
        sx, sxx, sxy = fixed[0] + delta[0], fixed[1] + delta[1], fixed[2] + delta[2]
        n, sy, syy = fixed[3], fixed[4], fixed[5]
        with np.errstate(divide="ignore", invalid="ignore"):
            var_x = n * sxx - sx * sx
            var_y = n * syy - sy * sy
            r = np.clip((n * sxy - sx * sy) / np.sqrt(var_x * var_y), -1.0, 1.0)
        # Rounding leaves a constant vector a variance near 0 instead of exactly 0.
        constant = (var_x <= 1e-10 * n * sxx) | (var_y <= 1e-10 * n * syy)
        r = np.where((n < 2) | constant, math.nan, r)
        if self.grouping == "none":
            return r[:, 0]
        return _group_mean(r, None)

    def _ungrouped(self, choose_b: np.ndarray, item_w: np.ndarray | None) -> np.ndarray:
        if self.coefficient == "kendall_b" and item_w is None:
            # Permutation rows: each cell counts once, so the compiled kernel applies.
            return choice_kendall_b(self.a[self.valid], self.b[self.valid],
                                    self.gold[self.valid], choose_b[:, self.valid])
        if "none" not in self._plans:
            both = np.r_[self.a[self.valid], self.b[self.valid]]
            gold = np.r_[self.gold[self.valid], self.gold[self.valid]]
            self._plans["none"] = (PairedSample(both, gold), np.nonzero(self.valid)[1])
        sample, item_of = self._plans["none"]
        chosen = choose_b[:, self.valid]  # (R, n)
        weights = np.concatenate([~chosen, chosen], axis=1).astype(np.float64)  # (R, 2n)
        if item_w is not None:
            weights *= np.tile(item_w[:, item_of], 2)
        if self.coefficient == "acc_eq":
            return sample.acc_eq(weights)[0]
        return sample.statistic(self.coefficient, weights)

    def _pooled_acc_eq(self, choose_b: np.ndarray, item_w: np.ndarray | None) -> np.ndarray:
        valid = self._grouped(self.valid)
        if "acc_eq" not in self._plans:
            group_of, _ = np.nonzero(valid)
            a, b, gold = (self._grouped(m)[valid] for m in (self.a, self.b, self.gold))
            plan = AccEqPlan(np.r_[a, b], np.r_[gold, gold], np.r_[group_of, group_of])
            self._plans["acc_eq"] = (plan, np.unique(group_of), np.nonzero(valid)[1])
        plan, groups_present, within_of = self._plans["acc_eq"]
        chosen = self._grouped(choose_b)[:, valid]
        weights = np.concatenate([~chosen, chosen], axis=1).astype(np.float64)
        group_w = None
        if item_w is not None:
            if self.grouping == "item":
                group_w = item_w[:, groups_present]
            else:
                weights *= np.tile(item_w[:, within_of], 2)
        return plan.values(weights, group_w)[0]

    def _pair_table(self, choose_b: np.ndarray, item_w: np.ndarray | None) -> np.ndarray:
        if "table" not in self._plans:
            self._plans["table"] = _GroupPairTable(
                self._grouped(self.a), self._grouped(self.b), self._grouped(self.gold),
                self._grouped(self.valid),
            )
        table: _GroupPairTable = self._plans["table"]
        counts = table.counts(self._grouped(choose_b))
        group_w = item_w if (item_w is not None and self.grouping == "item") else None
        if self.coefficient == "wmt_kendall":
            weights = np.ones(counts.discordant.shape) if group_w is None else group_w
            # pooled over groups (copies of a group count as many times as drawn)
            pooled = KendallCounts(**{
                f.name: (getattr(counts, f.name) * weights).sum(axis=1)
                for f in fields(KendallCounts)
            })
            return pooled.wmt()
        per_group = counts.tau_b()
        per_group = np.where((table.n_obs >= 2)[None, :], per_group, math.nan)
        return _group_mean(per_group, group_w)

    def _group_loop(self, choose_b: np.ndarray, item_w: np.ndarray | None) -> np.ndarray:
        valid = self._grouped(self.valid)
        a, b, gold = (self._grouped(m) for m in (self.a, self.b, self.gold))
        chosen_all = self._grouped(choose_b)
        rows, n_groups = choose_b.shape[0], valid.shape[0]
        if "samples" not in self._plans:
            self._plans["samples"] = [
                PairedSample(np.r_[a[g, valid[g]], b[g, valid[g]]],
                             np.r_[gold[g, valid[g]], gold[g, valid[g]]])
                if valid[g].sum() >= 2 else None
                for g in range(n_groups)
            ]
        samples: list[PairedSample | None] = self._plans["samples"]
        per_group = np.full((rows, n_groups), math.nan)
        pooled: KendallCounts | None = None
        group_w = item_w if (item_w is not None and self.grouping == "item") else None
        for g, sample in enumerate(samples):
            if sample is None:
                continue
            chosen = chosen_all[:, g, valid[g]]
            weights = np.concatenate([~chosen, chosen], axis=1).astype(np.float64)
            if item_w is not None and self.grouping == "system":
                weights *= np.tile(item_w[:, valid[g]], 2)
            if self.coefficient == "wmt_kendall":
                counts = sample.kendall_counts(weights)
                if group_w is not None:
                    counts = counts.scaled(group_w[:, g])
                pooled = counts if pooled is None else pooled + counts
                continue
            per_group[:, g] = sample.statistic(self.coefficient, weights)
        if self.coefficient == "wmt_kendall":
            return pooled.wmt() if pooled is not None else np.full(rows, math.nan)
        return _group_mean(per_group, group_w)


# ---------------------------------------------------------------------------------------------
# Permutation test
# ---------------------------------------------------------------------------------------------


def _chunk_size(n_cells: int, n_resamples: int) -> int:
    return int(min(n_resamples, max(8, _CHUNK_CELLS // max(1, 2 * n_cells))))


def _draw_swaps(rng: np.random.Generator, rows: int, shape: tuple[int, int],
                unit: str) -> np.ndarray:
    n_systems, n_items = shape
    if unit == "cells":
        return rng.random((rows, n_systems, n_items)) < 0.5
    if unit == "items":
        return np.broadcast_to(rng.random((rows, 1, n_items)) < 0.5, (rows, n_systems, n_items))
    return np.broadcast_to(rng.random((rows, n_systems, 1)) < 0.5, (rows, n_systems, n_items))


def _extreme(resampled: np.ndarray, observed: float, alternative: str) -> np.ndarray:
    """Which resampled deltas are at least as extreme as the observed one (NaN never)."""
    if alternative == "greater":
        return resampled >= observed - _TIE_TOLERANCE
    return np.abs(resampled) >= abs(observed) - _TIE_TOLERANCE


@dataclass
class _Permutations:
    """Observed delta and, per direction, the count of resamples at least as extreme."""

    observed: float
    value_a: float
    value_b: float
    at_least: int  # resamples with delta* >= observed (H1: a better)
    at_most: int  # resamples with delta* <= observed (H1: b better)
    two_sided: int
    used: int
    undefined: int
    stopped_early: bool


def _run_permutations(
    statistic: ChoiceStatistic, shape: tuple[int, int], n_cells: int, *, unit: str,
    n_resamples: int, seed: int, alternative: str, alpha: float, early_stop: bool,
) -> _Permutations:
    none = np.zeros((1, *shape), dtype=bool)
    value_a = float(statistic.values(none)[0])
    value_b = float(statistic.values(~none)[0])
    observed = value_a - value_b
    rng = np.random.default_rng(seed)
    chunk = _chunk_size(n_cells, n_resamples)
    if early_stop:
        # Generator.random fills arrays from one stream, so chunking never changes the draws.
        chunk = min(chunk, _EARLY_STOP_CHUNK)
    at_least = at_most = two_sided = used = undefined = 0
    stopped = False
    while used < n_resamples:
        rows = min(chunk, n_resamples - used)
        swaps = _draw_swaps(rng, rows, shape, unit)
        delta = statistic.values(swaps) - statistic.values(~swaps)
        undefined += int((~np.isfinite(delta)).sum())
        at_least += int((delta >= observed - _TIE_TOLERANCE).sum())
        at_most += int((delta <= observed + _TIE_TOLERANCE).sum())
        two_sided += int((np.abs(delta) >= abs(observed) - _TIE_TOLERANCE).sum())
        used += rows
        b = at_least if alternative == "greater" else two_sided
        if early_stop and used < n_resamples and 1 + b > alpha * (1 + n_resamples):
            stopped = True
            break
    return _Permutations(observed, value_a, value_b, at_least, at_most, two_sided, used,
                         undefined, stopped)


def _variant_params(coefficient: str, level: str, grouping: str) -> dict[str, Any]:
    return {"coefficient": coefficient, "level": level, "grouping": grouping}


def permutation_test(
    metric_a: object,
    metric_b: object,
    gold: object,
    coefficient: str,
    level: str = "segment",
    grouping: str = "none",
    *,
    unit: str = "cells",
    n_resamples: int = 1000,
    seed: int = 1,
    alternative: str = "greater",
    alpha: float = 0.05,
    early_stop: bool = False,
) -> Estimate:
    """Permutation test of ``r(metric_a, gold) - r(metric_b, gold)`` (Deutsch et al. 2021).

    Args:
        metric_a, metric_b: ``(n_systems, n_items)`` metric scores, higher is better, NaN =
            missing.
        gold: ``(n_systems, n_items)`` human scores, higher is better.
        coefficient, level, grouping: the variant, as in
            :func:`~accord.metaeval.correlation.correlate` (``acc_eq`` included; at system level
            system scores are means of segment scores).
        unit: what a resample swaps between the two standardized metrics: ``"cells"`` (each
            (system, item) cell independently: PERM-BOTH), ``"items"`` (PERM-INPUTS) or
            ``"systems"`` (PERM-SYSTEMS).
        n_resamples: random swap patterns.
        seed: seed of ``numpy.random.default_rng`` for the swaps.
        alternative: ``"greater"`` (H1: metric a correlates better) or ``"two-sided"``.
        alpha: significance level; only used for early stopping and ``extra["significant"]``.
        early_stop: stop once the verdict at ``alpha`` can only be "not significant" (see the
            module docstring); the p-value is then a lower bound.

    Returns:
        :class:`Estimate` with value = delta (on the shared cells), n = shared cells, and
        ``extra``: ``p_value``, ``p_value_reverse`` (one-sided p of "b is better" from the same
        resamples), ``value_a``, ``value_b``, ``significant`` (p < alpha),
        ``p_value_is_lower_bound``, ``resamples_used``, ``resamples_undefined`` (a resample
        whose delta is undefined never counts as extreme), ``cells_not_shared``, ``method``.
    """
    _check_variant(coefficient, level, grouping)
    _check_options(n_resamples, alpha, alternative)
    if unit not in UNITS:
        raise ConfigError(f"unit must be one of {UNITS}; got {unit!r}")
    a, b, g = (as_matrix(v, name) for v, name in ((metric_a, "metric_a"), (metric_b, "metric_b"),
                                                   (gold, "gold")))
    valid, extra = _shared_cells(a, b, g)
    statistic = ChoiceStatistic(standardize(a, valid), standardize(b, valid), g, valid,
                                coefficient, level, grouping)
    shape = (valid.shape[0], valid.shape[1])
    run = _run_permutations(statistic, shape, int(valid.sum()), unit=unit,
                            n_resamples=n_resamples, seed=seed, alternative=alternative,
                            alpha=alpha, early_stop=early_stop)
    b_count = run.at_least if alternative == "greater" else run.two_sided
    p_value = (1 + b_count) / (1 + n_resamples) if math.isfinite(run.observed) else math.nan
    p_reverse = (1 + run.at_most) / (1 + n_resamples) if math.isfinite(run.observed) else math.nan
    params = {**_variant_params(coefficient, level, grouping), "test": "permutation",
              "unit": unit, "alternative": alternative, "n_resamples": n_resamples,
              "seed": seed, "early_stop": early_stop or None}
    extra.update({
        "p_value": p_value,
        "p_value_reverse": None if run.stopped_early else p_reverse,
        "value_a": run.value_a,
        "value_b": run.value_b,
        "significant": bool(p_value < alpha),
        "p_value_is_lower_bound": run.stopped_early,
        "resamples_used": run.used,
        "resamples_undefined": run.undefined,
        "method": f"permutation ({unit})",
    })
    return Estimate(value=run.observed, n=extra["cells"],
                    signature=make_signature("delta", params, version=__version__), extra=extra)


def permutation_test_pairs(
    metric_a: object,
    metric_b: object,
    better: np.ndarray,
    worse: np.ndarray,
    *,
    n_resamples: int = 1000,
    seed: int = 1,
    alternative: str = "greater",
    alpha: float = 0.05,
) -> Estimate:
    """Permutation test of two metrics' WMT Kendall-like tau on relative judgments.

    The PERM-BOTH scheme of Deutsch et al. (2021) on judged pairs: both metrics are
    standardized over the output cells the pairs use, and each resample swaps the two
    metrics' scores of every cell independently (a cell shared by several pairs swaps for all
    of them). The statistic is tau = (concordant - discordant) / pairs with a metric tie
    discordant; preference accuracy is (tau + 1) / 2, so its test is the same.

    Args:
        metric_a, metric_b: ``(n_cells,)`` scores of every output cell, higher is better.
        better, worse: ``(n_pairs,)`` cell indices of the preferred and the other output.
        n_resamples, seed, alternative, alpha: as in :func:`permutation_test`.

    Returns:
        :class:`Estimate` with value = tau(a) - tau(b), n = pairs used, and ``extra`` with
        ``p_value``, ``p_value_reverse``, ``value_a``, ``value_b``, ``significant``,
        ``pairs_missing`` (a score missing in either metric) and ``method``.
    """
    _check_options(n_resamples, alpha, alternative)
    a = np.asarray(metric_a, dtype=np.float64).ravel()
    b = np.asarray(metric_b, dtype=np.float64).ravel()
    better = np.asarray(better, dtype=np.int64)
    worse = np.asarray(worse, dtype=np.int64)
    if a.shape != b.shape or better.shape != worse.shape:
        raise ConfigError(
            f"permutation_test_pairs: metrics of {a.size} and {b.size} cells, "
            f"{better.size} preferred and {worse.size} other cells: they must match"
        )
    ok = np.isfinite(a[better]) & np.isfinite(a[worse]) & np.isfinite(b[better]) \
        & np.isfinite(b[worse])
    better, worse = better[ok], worse[ok]
    used = np.zeros(a.size, dtype=bool)
    used[better] = used[worse] = True
    za, zb = standardize(a[None, :], used[None, :])[0], standardize(b[None, :], used[None, :])[0]
    n = better.size

    def tau(x: np.ndarray) -> np.ndarray:  # x: (..., n_cells) -> (...,)
        return ((x[..., better] > x[..., worse]).sum(axis=-1) * 2.0 - n) / n

    observed = float(tau(za) - tau(zb)) if n else math.nan
    rng = np.random.default_rng(seed)
    at_least = at_most = two_sided = 0
    for start in range(0, n_resamples, 200):
        rows = min(200, n_resamples - start)
        swap = rng.random((rows, a.size)) < 0.5  # (rows, n_cells)
        delta = tau(np.where(swap, zb, za)) - tau(np.where(swap, za, zb))
        at_least += int((delta >= observed - 1e-12).sum())
        at_most += int((delta <= observed + 1e-12).sum())
        two_sided += int((np.abs(delta) >= abs(observed) - 1e-12).sum())
    count = at_least if alternative == "greater" else two_sided
    p_value = (1 + count) / (1 + n_resamples) if n else math.nan
    params = {"coefficient": "wmt_kendall", "test": "permutation", "unit": "cells",
              "alternative": alternative, "n_resamples": n_resamples, "seed": seed}
    return Estimate(
        value=observed, n=n,
        signature=make_signature("delta", params, version=__version__),
        extra={
            "p_value": p_value,
            "p_value_reverse": (1 + at_most) / (1 + n_resamples) if n else math.nan,
            "value_a": float(tau(za)) if n else math.nan,
            "value_b": float(tau(zb)) if n else math.nan,
            "significant": bool(p_value < alpha),
            "pairs_missing": int((~ok).sum()),
            "method": "permutation (cells)",
        },
    )


# ---------------------------------------------------------------------------------------------
# Paired bootstrap
# ---------------------------------------------------------------------------------------------


def paired_bootstrap_test(
    metric_a: object,
    metric_b: object,
    gold: object,
    coefficient: str,
    level: str = "segment",
    grouping: str = "none",
    *,
    scorer_a: SystemScorer | None = None,
    scorer_b: SystemScorer | None = None,
    n_resamples: int = 1000,
    seed: int = 1,
    alternative: str = "greater",
    alpha: float = 0.05,
) -> Estimate:
    """Paired bootstrap test of ``r(metric_a, gold) - r(metric_b, gold)`` resampling items.

    Both metrics are evaluated on the same resamples of items (Koehn 2004). The p-value is
    that of the bootstrap distribution shifted to the null (Efron & Tibshirani 1993, 16.4):
    ``(1 + #{delta*_r - delta >= delta}) / (1 + R)`` for ``"greater"``, and with absolute
    values for ``"two-sided"``.

    Args:
        metric_a, metric_b, gold: as in :func:`permutation_test` (not standardized: the
            deltas are those of the reported correlations).
        coefficient, level, grouping: the variant.
        scorer_a, scorer_b: at system level, :class:`SystemScorer` objects giving each
            metric's system scores for item weights (e.g. corpus BLEU from statistics);
            default: the mean over the shared cells.
        n_resamples: bootstrap resamples of the items.
        seed: seed of ``numpy.random.default_rng`` for the draws.
        alternative: ``"greater"`` or ``"two-sided"``.
        alpha: the interval of delta covers ``1 - alpha``; ``extra["significant"]`` is
            ``p < alpha``.

    Returns:
        :class:`Estimate` with value = delta, its percentile interval, n = shared cells, and
        ``extra``: ``p_value``, ``value_a``, ``value_b``, ``significant``,
        ``resamples_undefined``, ``cells_not_shared``, ``method``.
    """
    _check_variant(coefficient, level, grouping)
    _check_options(n_resamples, alpha, alternative)
    a, b, g = (as_matrix(v, name) for v, name in ((metric_a, "metric_a"), (metric_b, "metric_b"),
                                                   (gold, "gold")))
    valid, extra = _shared_cells(a, b, g)
    n_items = valid.shape[1]
    rng = np.random.default_rng(seed)
    item_w = bootstrap_counts(n_items, n_resamples, rng)  # (R, I)
    ones = np.ones((1, n_items))

    if level == "system" and (scorer_a is not None or scorer_b is not None):
        def system_values(scorer: SystemScorer | None, matrix: np.ndarray,
                          weights: np.ndarray) -> np.ndarray:
            scorer = scorer if scorer is not None else MeanScorer(matrix, mask=valid)
            metric_sys = scorer(weights)
            gold_sys = MeanScorer(g, mask=valid)(weights)
            present = (np.isfinite(metric_sys) & np.isfinite(gold_sys)).astype(np.float64)
            return pairwise_statistic(coefficient, np.nan_to_num(metric_sys),
                                      np.nan_to_num(gold_sys), present)[0]

        value_a = float(system_values(scorer_a, a, ones)[0])
        value_b = float(system_values(scorer_b, b, ones)[0])
        boot = system_values(scorer_a, a, item_w) - system_values(scorer_b, b, item_w)
    else:
        statistic = ChoiceStatistic(a, b, g, valid, coefficient, level, grouping)
        none = np.zeros((1, *valid.shape), dtype=bool)
        value_a = float(statistic.values(none)[0])
        value_b = float(statistic.values(~none)[0])
        boot = np.empty(n_resamples)
        chunk = _chunk_size(int(valid.sum()), n_resamples)
        for start in range(0, n_resamples, chunk):
            w = item_w[start:start + chunk]
            rows = np.zeros((w.shape[0], *valid.shape), dtype=bool)
            boot[start:start + chunk] = statistic.values(rows, w) - statistic.values(~rows, w)

    observed = value_a - value_b
    finite = np.isfinite(boot)
    shifted = boot[finite] - observed
    b_count = int(_extreme(shifted, observed, alternative).sum())
    p_value = (1 + b_count) / (1 + n_resamples) if math.isfinite(observed) else math.nan
    low, high, undefined = percentile_interval(boot, alpha)
    params = {**_variant_params(coefficient, level, grouping), "test": "paired-bootstrap",
              "resample": "items", "alternative": alternative, "n_resamples": n_resamples,
              "seed": seed, "alpha": alpha,
              "system_scores": "scorer" if scorer_a is not None or scorer_b is not None
              else None}
    extra.update({
        "p_value": p_value, "value_a": value_a, "value_b": value_b,
        "significant": bool(p_value < alpha), "resamples_undefined": undefined,
        "method": "paired bootstrap (items)",
    })
    return Estimate(value=observed, ci_low=low, ci_high=high, n=extra["cells"],
                    signature=make_signature("delta", params, version=__version__), extra=extra)


# ---------------------------------------------------------------------------------------------
# Williams' test
# ---------------------------------------------------------------------------------------------


def williams_t(r12: float, r13: float, r23: float, n: int) -> float:
    """Williams' t statistic for ``r12 - r13``, two correlations sharing variable 1.

    ``t = (r12 - r13) sqrt((n - 1)(1 + r23) / (2 K (n - 1)/(n - 3) + rbar^2 (1 - r23)^3))``
    with ``K = 1 - r12^2 - r13^2 - r23^2 + 2 r12 r13 r23`` (the determinant of the correlation
    matrix) and ``rbar = (r12 + r13) / 2``; it has a t distribution with ``n - 3`` degrees of
    freedom (Williams 1959; Steiger 1980, eq. 7). Variable 1 is the human score, 2 and 3 the
    two metrics.
    """
    if n <= 3:
        raise AccordError(f"Williams' test needs more than 3 observations; got n={n}")
    det = 1.0 - r12**2 - r13**2 - r23**2 + 2.0 * r12 * r13 * r23
    rbar = (r12 + r13) / 2.0
    denom = 2.0 * det * (n - 1.0) / (n - 3.0) + rbar**2 * (1.0 - r23) ** 3
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((r12 - r13) * np.sqrt((n - 1.0) * (1.0 + r23) / denom))


def williams_test(
    metric_a: object,
    metric_b: object,
    gold: object,
    level: str = "segment",
    *,
    alternative: str = "greater",
    alpha: float = 0.05,
) -> Estimate:
    """Williams' test of ``pearson(metric_a, gold) - pearson(metric_b, gold)``.

    Args:
        metric_a, metric_b, gold: ``(n_systems, n_items)`` matrices.
        level: ``"segment"`` (all shared cells, no grouping) or ``"system"`` (means of the
            shared cells per system).
        alternative: ``"greater"`` (H1: a correlates better) or ``"two-sided"``.
        alpha: ``extra["significant"]`` is ``p < alpha``.

    Returns:
        :class:`Estimate` with value = delta, n = observations, and ``extra``: ``p_value``,
        ``t``, ``df`` (n - 3), ``r_ab`` (correlation of the two metrics), ``value_a``,
        ``value_b``, ``significant``, ``method``.
    """
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {LEVELS}; got {level!r}")
    if alternative not in ALTERNATIVES:
        raise ConfigError(f"alternative must be one of {ALTERNATIVES}; got {alternative!r}")
    a, b, g = (as_matrix(v, name) for v, name in ((metric_a, "metric_a"), (metric_b, "metric_b"),
                                                   (gold, "gold")))
    valid, extra = _shared_cells(a, b, g)
    if level == "system":
        ones = np.ones((1, valid.shape[1]))
        x, y, z = (MeanScorer(m, mask=valid)(ones)[0] for m in (a, b, g))
        keep = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
        x, y, z = x[keep], y[keep], z[keep]
    else:
        x, y, z = a[valid], b[valid], g[valid]
    n = int(z.size)
    corr = np.corrcoef(np.vstack([z, x, y]))
    r12, r13, r23 = float(corr[0, 1]), float(corr[0, 2]), float(corr[1, 2])
    t = williams_t(r12, r13, r23, n)
    df = n - 3
    p_value = float(stats.t.sf(t, df)) if alternative == "greater" else float(
        2.0 * stats.t.sf(abs(t), df))
    extra.update({"p_value": p_value, "t": t, "df": df, "r_ab": r23, "value_a": r12,
                  "value_b": r13, "significant": bool(p_value < alpha),
                  "method": "Williams t-test"})
    params = {"coefficient": "pearson", "level": level, "test": "williams",
              "alternative": alternative}
    return Estimate(value=r12 - r13, n=n,
                    signature=make_signature("delta", params, version=__version__), extra=extra)


# ---------------------------------------------------------------------------------------------
# All pairs of metrics
# ---------------------------------------------------------------------------------------------


@dataclass
class PairwiseSignificance:
    """Every metric's correlation and the significance of every pairwise difference.

    Attributes:
        coefficient, level, grouping: the variant.
        method: ``"permutation"``, ``"bootstrap"`` or ``"williams"``.
        values: each metric's correlation (from :func:`correlate`, no interval), by label.
        p_values: square table, rows and columns labelled by metric: entry ``[a, b]`` is the
            one-sided p-value of "a correlates better than b" (NaN on the diagonal).
        deltas: square table of ``value[a] - value[b]`` on the cells shared by a and b.
        tests: the :class:`Estimate` of each tested pair ``(a, b)``, a before b in label order.
        n_resamples, seed, alpha: the test's settings.
    """

    coefficient: str
    level: str
    grouping: str
    method: str
    values: dict[str, float]
    p_values: pd.DataFrame
    deltas: pd.DataFrame
    tests: dict[tuple[str, str], Estimate]
    n_resamples: int
    seed: int
    alpha: float

    def long(self) -> pd.DataFrame:
        """One row per ordered pair: metric_a, metric_b, values, delta, p_value, significant."""
        rows = []
        for a in self.p_values.index:
            for b in self.p_values.columns:
                if a == b:
                    continue
                p = float(self.p_values.loc[a, b])
                rows.append({
                    "level": self.level, "grouping": self.grouping,
                    "coefficient": self.coefficient, "metric_a": a, "metric_b": b,
                    "value_a": self.values[a], "value_b": self.values[b],
                    "delta": float(self.deltas.loc[a, b]), "p_value": p,
                    "significant": bool(p < self.alpha), "method": self.method,
                    "n_resamples": self.n_resamples, "seed": self.seed,
                })
        return pd.DataFrame(rows)


def compare_metrics(
    metrics: Mapping[str, np.ndarray],
    gold: np.ndarray,
    coefficient: str,
    level: str = "segment",
    grouping: str = "none",
    *,
    method: str = "permutation",
    n_resamples: int = 1000,
    seed: int = 1,
    alpha: float = 0.05,
    unit: str = "cells",
    scorers: Mapping[str, SystemScorer] | None = None,
    progress: Callable[[str, str], None] | None = None,
) -> PairwiseSignificance:
    """Test every pair of metrics in one variant; one-sided p-values in both directions.

    Each unordered pair is tested once with the same seed (so results do not depend on the
    order of the metrics). For the permutation test, the p-value of "b better than a" comes
    from the same resamples (the swap distribution is symmetric: swapping the roles of a and b
    negates every resampled delta); the bootstrap and Williams' test are run per direction
    from their one-sided formulas on the same draws.

    Args:
        metrics: label -> ``(n_systems, n_items)`` metric scores (higher is better).
        gold: ``(n_systems, n_items)`` human scores.
        coefficient, level, grouping: the variant.
        method: ``"permutation"``, ``"bootstrap"`` or ``"williams"`` (Pearson only).
        n_resamples, seed, alpha, unit: test settings (``unit`` for permutations).
        scorers: optional system scorers by label, for the bootstrap at system level.
        progress: called with ``(label_a, label_b)`` before each pair (e.g. to log).
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {METHODS}; got {method!r}")
    if method == "williams" and coefficient != "pearson":
        raise ConfigError(f"Williams' test is for Pearson correlations; got {coefficient!r}")
    if len(metrics) < 2:
        raise ConfigError(f"compare_metrics needs at least two metrics; got {len(metrics)}")
    labels = list(metrics)
    gold_matrix = as_matrix(gold, "gold")
    use_corpus = method == "bootstrap" and scorers is not None and level == "system"
    values = {
        label: correlate(
            scorers[label] if use_corpus and scorers is not None and label in scorers
            else metrics[label],
            gold_matrix, coefficient, level, grouping, ci=None,
        ).value
        for label in labels
    }
    p = pd.DataFrame(math.nan, index=labels, columns=labels)
    d = pd.DataFrame(math.nan, index=labels, columns=labels)
    tests: dict[tuple[str, str], Estimate] = {}
    for a, b in combinations(labels, 2):
        if progress is not None:
            progress(a, b)
        if method == "permutation":
            est = permutation_test(metrics[a], metrics[b], gold_matrix, coefficient, level,
                                   grouping, unit=unit, n_resamples=n_resamples, seed=seed,
                                   alpha=alpha)
            p_ab, p_ba = est.extra["p_value"], est.extra["p_value_reverse"]
        elif method == "bootstrap":
            use_scorers = scorers is not None and level == "system"
            scorer_a = scorers.get(a) if scorers is not None and use_scorers else None
            scorer_b = scorers.get(b) if scorers is not None and use_scorers else None
            est = paired_bootstrap_test(metrics[a], metrics[b], gold_matrix, coefficient,
                                        level, grouping, scorer_a=scorer_a, scorer_b=scorer_b,
                                        n_resamples=n_resamples, seed=seed, alpha=alpha)
            reverse = paired_bootstrap_test(metrics[b], metrics[a], gold_matrix, coefficient,
                                            level, grouping, scorer_a=scorer_b,
                                            scorer_b=scorer_a, n_resamples=n_resamples,
                                            seed=seed, alpha=alpha)
            p_ab, p_ba = est.extra["p_value"], reverse.extra["p_value"]
        else:
            est = williams_test(metrics[a], metrics[b], gold_matrix, level, alpha=alpha)
            p_ab = est.extra["p_value"]
            p_ba = float(stats.t.sf(-est.extra["t"], est.extra["df"]))
        tests[(a, b)] = est
        p.loc[a, b], p.loc[b, a] = p_ab, p_ba
        d.loc[a, b], d.loc[b, a] = est.value, -est.value
    return PairwiseSignificance(coefficient, level, grouping, method, values, p, d, tests,
                                n_resamples, seed, alpha)


def compare_metrics_pairs(
    metrics: Mapping[str, np.ndarray],
    better: np.ndarray,
    worse: np.ndarray,
    coefficient: str = "wmt_kendall",
    *,
    n_resamples: int = 1000,
    seed: int = 1,
    alpha: float = 0.05,
) -> PairwiseSignificance:
    """:func:`permutation_test_pairs` for every two metrics, as one table.

    ``coefficient`` is ``"wmt_kendall"`` (values are taus) or ``"accuracy"`` (values and
    deltas are halved: accuracy = (tau + 1) / 2; the p-values are the same).
    """
    if coefficient not in ("wmt_kendall", "accuracy"):
        raise ConfigError(f"relative judgments take wmt_kendall or accuracy; got {coefficient!r}")
    if len(metrics) < 2:
        raise ConfigError(f"compare_metrics_pairs needs at least two metrics; got {len(metrics)}")
    scale = 0.5 if coefficient == "accuracy" else 1.0
    labels = list(metrics)
    p = pd.DataFrame(math.nan, index=labels, columns=labels)
    d = pd.DataFrame(math.nan, index=labels, columns=labels)
    tests: dict[tuple[str, str], Estimate] = {}
    values: dict[str, float] = {}
    for a, b in combinations(labels, 2):
        est = permutation_test_pairs(metrics[a], metrics[b], better, worse,
                                     n_resamples=n_resamples, seed=seed, alpha=alpha)
        for label, key in ((a, "value_a"), (b, "value_b")):
            tau = est.extra[key]
            values[label] = tau * scale + (1 - scale) if coefficient == "accuracy" else tau
        scaled = Estimate(value=est.value * scale, n=est.n, signature=est.signature,
                          extra=est.extra)
        tests[(a, b)] = scaled
        p.loc[a, b], p.loc[b, a] = est.extra["p_value"], est.extra["p_value_reverse"]
        d.loc[a, b], d.loc[b, a] = scaled.value, -scaled.value
    return PairwiseSignificance(coefficient, "segment", "none", "permutation", values, p, d,
                                tests, n_resamples, seed, alpha)
