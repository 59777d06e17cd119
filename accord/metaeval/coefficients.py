"""Agreement coefficients between metric scores and human (gold) scores.

Public functions take two paired vectors, drop the pairs where either value is NaN (and count
them in ``Estimate.extra["n_missing"]``), and return an :class:`~accord.metaeval.result.Estimate`
without a confidence interval; :func:`accord.metaeval.correlation.correlate` adds grouping and
bootstrap intervals on top of the weighted kernels defined here.

Coefficient names, used everywhere in accord:

``pearson``, ``spearman``
    Pearson's r, and Pearson's r of average ranks (Spearman's rho).
``kendall_b``, ``kendall_c``
    Kendall's tau-b and tau-c, computed with a merge-sort count of discordant pairs in
    O(n log n) (Knight 1966, "A computer method for calculating Kendall's tau with ungrouped
    data"), with ties handled as in scipy.stats.kendalltau.
``acc_eq``
    Pairwise accuracy with tie calibration (Deutsch, Foster & Freitag 2023, "Ties Matter:
    Meta-Evaluating Modern Metrics with Pairwise Accuracy and Tie Calibration"): the share of
    all pairs on which metric and human agree (same order, or both tied), where the metric is
    said to tie a pair when its scores differ by at most epsilon, and epsilon is chosen to
    maximize the accuracy.
``wmt_kendall``
    WMT's Kendall-like tau for relative judgments (Ma et al. 2019, "Results of the WMT19
    Metrics Shared Task"): (concordant - discordant) / (concordant + discordant) over pairs the
    human did not tie, where a metric tie counts as discordant.

Weighted data. Every kernel accepts integer weights ``(R, n)``: row ``r`` describes a multiset
in which observation ``i`` occurs ``weights[r, i]`` times (a bootstrap resample stored as
counts). The statistic is the one of that multiset, exactly: copies of one observation form
pairs that are tied in both metric and gold, as they would in a materialized resample.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from accord.errors import AccordError, ConfigError
from accord.metaeval.result import Estimate

logger = logging.getLogger(__name__)

COEFFICIENTS = ("pearson", "spearman", "kendall_b", "kendall_c", "acc_eq", "wmt_kendall")

# Kernels process resamples in chunks so that one chunk's (rows, n) arrays stay near this size.
_CHUNK_CELLS = 4_000_000
# The Kendall merge levels run on chunks this small, so that their arrays stay in CPU cache.
_CACHE_CELLS = 262_144


def check_coefficient(coefficient: str) -> None:
    """Raise :class:`ConfigError` unless ``coefficient`` is one of :data:`COEFFICIENTS`."""
    if coefficient not in COEFFICIENTS:
        raise ConfigError(f"coefficient must be one of {COEFFICIENTS}; got {coefficient!r}")


def _chunks(n_rows: int, n_cols: int, cells: int = _CHUNK_CELLS) -> Iterator[slice]:
    step = max(1, cells // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _dense_rank(values: np.ndarray) -> np.ndarray:
    """0-based ranks where equal values share a rank and ranks have no gaps."""
    _, inverse = np.unique(values, return_inverse=True)
    return inverse.reshape(-1)


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Indices where a new run of equal values begins in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _tie_pairs(group_weights: np.ndarray) -> np.ndarray:
    """Pairs inside groups of equal values: sum of c(c-1)/2 over groups ``(groups, r)``."""
    return (group_weights * (group_weights - 1.0) / 2.0).sum(axis=0)


# ---------------------------------------------------------------------------------------------
# Kendall counts
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KendallCounts:
    """Pair counts of a (weighted) paired sample, one entry per resample row.

    Attributes:
        n_obs: number of observations N (sum of weights).
        pairs: number of pairs counted: N(N-1)/2 for one sample, the sum over samples when
            several are pooled (no pairs across them).
        discordant: pairs ordered oppositely by metric and gold.
        metric_ties: pairs tied in the metric (whatever the gold does).
        gold_ties: pairs tied in the gold.
        joint_ties: pairs tied in both.
        metric_distinct: number of distinct metric values present (for tau-c).
        gold_distinct: number of distinct gold values present.
    """

    n_obs: np.ndarray
    pairs: np.ndarray
    discordant: np.ndarray
    metric_ties: np.ndarray
    gold_ties: np.ndarray
    joint_ties: np.ndarray
    metric_distinct: np.ndarray
    gold_distinct: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.pairs

    @property
    def concordant(self) -> np.ndarray:
        # total = concordant + discordant + metric_ties + gold_ties - joint_ties
        return self.total - self.metric_ties - self.gold_ties + self.joint_ties - self.discordant

    def tau_b(self) -> np.ndarray:
        """Kendall's tau-b: (C - D) / sqrt((total - metric ties) (total - gold ties))."""
        c_minus_d = self.concordant - self.discordant
        denom = np.sqrt((self.total - self.metric_ties) * (self.total - self.gold_ties))
        return _ratio(c_minus_d, denom, self._undefined())

    def tau_c(self) -> np.ndarray:
        """Kendall's tau-c (Stuart): 2 (C - D) / (N^2 (m - 1) / m), m = fewer distinct values."""
        m = np.minimum(self.metric_distinct, self.gold_distinct)
        with np.errstate(divide="ignore", invalid="ignore"):
            denom = self.n_obs**2 * (m - 1.0) / m
        return _ratio(2.0 * (self.concordant - self.discordant), denom, self._undefined())

    def wmt(self) -> np.ndarray:
        """WMT Kendall-like tau over pairs not tied by the gold; metric ties are discordant."""
        metric_only_ties = self.metric_ties - self.joint_ties
        bad = self.discordant + metric_only_ties
        denom = self.concordant + bad
        return _ratio(self.concordant - bad, denom, denom <= 0)

    def _undefined(self) -> np.ndarray:
        # as scipy: undefined when every pair is tied in metric or in gold
        return (self.total <= 0) | (self.metric_ties >= self.total) | (self.gold_ties >= self.total)

    def __add__(self, other: KendallCounts) -> KendallCounts:
        """Pool the pairs of two samples (no pairs across them); distinct counts are not kept."""
        nan = np.full_like(self.n_obs, math.nan)
        return KendallCounts(
            self.n_obs + other.n_obs,
            self.pairs + other.pairs,
            self.discordant + other.discordant,
            self.metric_ties + other.metric_ties,
            self.gold_ties + other.gold_ties,
            self.joint_ties + other.joint_ties,
            nan,
            nan,
        )

    def scaled(self, factor: np.ndarray) -> KendallCounts:
        """The pair counts of ``factor`` independent copies of this sample (for pooling)."""
        nan = np.full_like(self.n_obs, math.nan)
        return KendallCounts(
            self.n_obs * factor,
            self.pairs * factor,
            self.discordant * factor,
            self.metric_ties * factor,
            self.gold_ties * factor,
            self.joint_ties * factor,
            nan,
            nan,
        )


def _ratio(num: np.ndarray, denom: np.ndarray, undefined: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.clip(num / denom, -1.0, 1.0)
    return np.where(undefined, math.nan, value)


class _KendallPlan:
    """Index arrays that let discordant pairs be counted for any weights in O(n log n).

    The observations are sorted by (metric, gold). A discordant pair is then an inversion of
    the gold sequence (i before j, gold_i > gold_j); pairs tied in the metric are sorted by gold
    and so are never inversions. Inversions are counted as in a bottom-up merge sort: at the
    level where blocks of size 2h are merged, each element j of a right half is inverted with
    the elements of its left half whose gold is larger. Which left elements those are depends
    only on the values, so it is computed once, as a range in the left halves sorted by gold;
    the weighted count for any weights is then a difference of two cumulative sums.
    """

    def __init__(self, metric: np.ndarray, gold: np.ndarray) -> None:
        n = metric.size
        rank_m = _dense_rank(metric)
        rank_g = _dense_rank(gold)
        self.n = n
        self.order = np.lexsort((rank_g, rank_m))
        sorted_m = rank_m[self.order]
        sorted_g = rank_g[self.order]
        self.metric_starts = _run_starts(sorted_m)
        # runs of equal (metric, gold): a combined dense key is sorted in this order too
        self.joint_starts = _run_starts(sorted_m * (int(sorted_g.max(initial=0)) + 1) + sorted_g)
        self.gold_order = np.argsort(sorted_g, kind="stable")  # positions, sorted by gold
        self.gold_starts = _run_starts(sorted_g[self.gold_order])
        self.levels = self._merge_levels(sorted_g)

    def _discordant(self, w: np.ndarray) -> np.ndarray:
        """Weighted discordant pairs for weights ``(n, r)`` in (metric, gold) order.

        Observations run along the first axis so that every gather copies whole rows; callers
        keep ``r`` small enough for the arrays to stay in cache, which makes this several
        times faster than the ``(r, n)`` layout.
        """
        discordant = np.zeros(w.shape[1])
        for left_sorted, right_pos, start, end in self.levels:
            cum_left = np.zeros((left_sorted.size + 1, w.shape[1]))
            np.cumsum(w[left_sorted], axis=0, out=cum_left[1:])
            larger_left = cum_left[end]
            larger_left -= cum_left[start]  # (n_right, r): left weight with larger gold
            larger_left *= w[right_pos]
            discordant += larger_left.sum(axis=0)
        return discordant

    @staticmethod
    def _merge_levels(sorted_g: np.ndarray) -> list[tuple[np.ndarray, ...]]:
        n = sorted_g.size
        n_gold = int(sorted_g.max()) + 1 if n else 0
        position = np.arange(n)
        merged = position.copy()  # positions sorted by (block, gold); blocks of size 1 at first
        levels: list[tuple[np.ndarray, ...]] = []
        half = 1
        while half < n:
            block = position // (2 * half)
            is_left = (position // half) % 2 == 0
            # Each block is two runs already sorted by gold, so the stable sort (timsort) merges
            # runs in linear time per level.
            key = block[merged] * (n_gold + 1) + sorted_g[merged]
            merged = merged[np.argsort(key, kind="stable")]
            left_in_merged = is_left[merged]
            # Equal keys keep left elements first, so `before` counts the left elements of
            # earlier blocks plus those of the same block with gold <= gold_j.
            before = np.cumsum(left_in_merged) - left_in_merged
            right = ~left_in_merged
            right_pos = merged[right]
            n_blocks = int(block[-1]) + 1
            left_per_block = np.bincount(block[is_left], minlength=n_blocks)
            end = np.cumsum(left_per_block)[block[right_pos]]
            levels.append((merged[left_in_merged], right_pos, before[right], end))
            half *= 2
        return levels

    def counts(self, weights: np.ndarray) -> KendallCounts:
        """Pair counts for weights ``(R, n)``; returns arrays of shape ``(R,)``."""
        rows = weights.shape[0]
        if self.n == 0:
            zero = np.zeros(rows)
            return KendallCounts(zero, zero, zero, zero, zero, zero, zero, zero)
        w = weights[:, self.order]  # (R, n), in (metric, gold) order
        discordant = np.zeros(rows)
        metric_ties, gold_ties, joint_ties = np.zeros(rows), np.zeros(rows), np.zeros(rows)
        metric_distinct, gold_distinct = np.zeros(rows), np.zeros(rows)
        for chunk in _chunks(rows, self.n, _CACHE_CELLS):
            w_t = np.ascontiguousarray(w[chunk].T)  # (n, r)
            discordant[chunk] = self._discordant(w_t)
            metric_groups = np.add.reduceat(w_t, self.metric_starts, axis=0)  # (runs, r)
            gold_groups = np.add.reduceat(w_t[self.gold_order], self.gold_starts, axis=0)
            metric_ties[chunk] = _tie_pairs(metric_groups)
            gold_ties[chunk] = _tie_pairs(gold_groups)
            joint_ties[chunk] = _tie_pairs(np.add.reduceat(w_t, self.joint_starts, axis=0))
            metric_distinct[chunk] = (metric_groups > 0).sum(axis=0)
            gold_distinct[chunk] = (gold_groups > 0).sum(axis=0)
        n_obs = w.sum(axis=1)
        return KendallCounts(
            n_obs=n_obs,
            pairs=n_obs * (n_obs - 1.0) / 2.0,
            discordant=discordant,
            metric_ties=metric_ties,
            gold_ties=gold_ties,
            joint_ties=joint_ties,
            metric_distinct=metric_distinct,
            gold_distinct=gold_distinct,
        )


# ---------------------------------------------------------------------------------------------
# Pearson and Spearman
# ---------------------------------------------------------------------------------------------


def _weighted_pearson(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Pearson's r of each weighted row; x, y broadcast against weights ``(R, n)``.

    NaN where fewer than two observations have weight or either side is constant on them.
    """
    n_obs = weights.sum(axis=1)
    present = weights > 0
    x = np.broadcast_to(x, weights.shape)
    y = np.broadcast_to(y, weights.shape)
    # Constancy is tested exactly: a centred constant vector can leave rounding noise that
    # would otherwise give a meaningless r.
    x_const = np.where(present, x, np.inf).min(axis=1) == np.where(present, x, -np.inf).max(axis=1)
    y_const = np.where(present, y, np.inf).min(axis=1) == np.where(present, y, -np.inf).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_x = (weights * x).sum(axis=1) / n_obs
        mean_y = (weights * y).sum(axis=1) / n_obs
        dx = x - mean_x[:, None]
        dy = y - mean_y[:, None]
        cov = (weights * dx * dy).sum(axis=1)
        var_x = (weights * dx * dx).sum(axis=1)
        var_y = (weights * dy * dy).sum(axis=1)
        r = np.clip(cov / np.sqrt(var_x * var_y), -1.0, 1.0)
    return np.where((n_obs < 2) | x_const | y_const, math.nan, r)


class _RankPlan:
    """Average ranks (1-based, ties share the mean rank) of fixed values under any weights."""

    def __init__(self, values: np.ndarray) -> None:
        self.order = np.argsort(values, kind="stable")
        self.starts = _run_starts(values[self.order])
        # run index of each sorted position
        self.run_of = np.cumsum(np.r_[0, np.diff(values[self.order]) != 0]) if values.size else None

    def ranks(self, weights: np.ndarray) -> np.ndarray:
        """``(R, n)`` rank of each observation within its weighted row."""
        out = np.zeros(weights.shape)
        if weights.shape[1] == 0:
            return out
        run_weight = np.add.reduceat(weights[:, self.order], self.starts, axis=1)  # (R, runs)
        run_rank = np.cumsum(run_weight, axis=1) - run_weight + (run_weight + 1.0) / 2.0
        out[:, self.order] = run_rank[:, self.run_of]
        return out


# ---------------------------------------------------------------------------------------------
# Tie-calibrated pairwise accuracy
# ---------------------------------------------------------------------------------------------


def _pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i < j) of observations that share a group id, as int arrays."""
    order = np.argsort(groups, kind="stable")
    starts = _run_starts(groups[order])
    ends = np.r_[starts[1:], groups.size]
    first: list[np.ndarray] = []
    second: list[np.ndarray] = []
    for start, end in zip(starts, ends):
        members = order[start:end]
        a, b = np.triu_indices(members.size, 1)
        first.append(members[a].astype(np.int32))
        second.append(members[b].astype(np.int32))
    if not first:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    return np.concatenate(first), np.concatenate(second)


class AccEqPlan:
    """Pairs sorted by metric difference, so acc_eq is one cumulative sum per weight row.

    With the pairs sorted by ``|metric_i - metric_j|``, raising epsilon past a pair's
    difference turns its metric verdict from "ordered" into "tied": its correctness changes by
    ``[gold tie] - [same order]``. The accuracy at every candidate epsilon (0 and each distinct
    difference) is then a prefix sum, and the best epsilon is its first maximum (the smallest
    epsilon that reaches the best accuracy). Memory and time are O(number of pairs).

    Args:
        metric, gold: ``(n,)`` finite values.
        groups: ``(n,)`` group ids, or None. With groups, only pairs inside a group count (the
            pooled within-item accuracy of Deutsch et al. 2023, one epsilon for all groups).
    """

    def __init__(self, metric: np.ndarray, gold: np.ndarray, groups: np.ndarray | None) -> None:
        n = metric.size
        self.group_of = (
            np.zeros(n, dtype=np.intp) if groups is None else _dense_rank(np.asarray(groups))
        )
        first, second = _pairs_within(self.group_of)
        d_metric = metric[first] - metric[second]
        d_gold = gold[first] - gold[second]
        distance = np.abs(d_metric)
        order = np.argsort(distance, kind="stable")
        self.first = first[order]
        self.second = second[order]
        self.pair_group = self.group_of[self.first]
        d_metric = d_metric[order]
        d_gold = d_gold[order]
        distance = distance[order]
        agree = (np.sign(d_metric) == np.sign(d_gold)) & (d_gold != 0) & (d_metric != 0)
        gold_tie = d_gold == 0
        self.agree = agree.astype(np.float64)
        self.delta = gold_tie.astype(np.float64) - self.agree
        self.n_pairs = int(distance.size)
        # candidate k has prefix length prefix_len[k] and threshold epsilon[k]
        ends = np.flatnonzero(np.r_[distance[1:] != distance[:-1], True][: distance.size])
        prefix_len = ends + 1
        epsilon = distance[ends]
        if distance.size == 0 or distance[0] > 0:
            prefix_len = np.r_[0, prefix_len]
            epsilon = np.r_[0.0, epsilon]
        self.prefix_len = prefix_len
        self.epsilon = epsilon

    def values(
        self, weights: np.ndarray, group_weights: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Accuracy and chosen epsilon per weight row.

        Args:
            weights: ``(R, n)`` multiplicity of each observation within its group.
            group_weights: ``(R, n_groups)`` multiplicity of each group (copies of a group form
                no pairs with each other), or None for ones.

        Returns:
            ``(accuracy, epsilon)``, each ``(R,)``; NaN where no pair exists.
        """
        rows = weights.shape[0]
        accuracy = np.full(rows, math.nan)
        epsilon = np.full(rows, math.nan)
        for chunk in _chunks(rows, max(1, self.n_pairs)):
            w = weights[chunk]
            pair_w = w[:, self.first] * w[:, self.second]  # (r, P)
            self_w = w * (w - 1.0) / 2.0  # pairs between copies: tied in both, so correct
            if group_weights is not None:
                pair_w *= group_weights[chunk][:, self.pair_group]
                self_w *= group_weights[chunk][:, self.group_of]
            self_total = self_w.sum(axis=1)
            total = pair_w.sum(axis=1) + self_total
            base = pair_w @ self.agree + self_total
            prefix = np.zeros((pair_w.shape[0], self.n_pairs + 1))
            np.cumsum(pair_w * self.delta, axis=1, out=prefix[:, 1:])
            candidates = base[:, None] + prefix[:, self.prefix_len]  # (r, candidates)
            best = np.argmax(candidates, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                acc = candidates[np.arange(best.size), best] / total
            accuracy[chunk] = np.where(total > 0, acc, math.nan)
            epsilon[chunk] = np.where(total > 0, self.epsilon[best], math.nan)
        return accuracy, epsilon


# ---------------------------------------------------------------------------------------------
# Fixed values, varying weights: the segment-level kernel
# ---------------------------------------------------------------------------------------------


class PairedSample:
    """Paired metric and gold values whose observations are reweighted by resampling.

    Sorting and index work is done once per coefficient; :meth:`statistic` then costs
    O(R n log n) for Kendall and O(R n) for Pearson and Spearman.

    Args:
        metric, gold: ``(n,)`` finite paired values (NaN pairs removed by the caller).
    """

    def __init__(self, metric: np.ndarray, gold: np.ndarray) -> None:
        self.metric = np.asarray(metric, dtype=np.float64)
        self.gold = np.asarray(gold, dtype=np.float64)
        self.n = self.metric.size
        self._kendall: _KendallPlan | None = None
        self._ranks: tuple[_RankPlan, _RankPlan] | None = None
        self._acc_eq: AccEqPlan | None = None

    def kendall_counts(self, weights: np.ndarray) -> KendallCounts:
        """Pair counts for weights ``(R, n)``."""
        if self._kendall is None:
            self._kendall = _KendallPlan(self.metric, self.gold)
        return self._kendall.counts(weights)

    def acc_eq(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tie-calibrated accuracy and its epsilon, each ``(R,)``, for weights ``(R, n)``."""
        if self._acc_eq is None:
            self._acc_eq = AccEqPlan(self.metric, self.gold, None)
        return self._acc_eq.values(weights)

    def statistic(self, coefficient: str, weights: np.ndarray) -> np.ndarray:
        """The coefficient of each weighted row.

        Args:
            coefficient: one of :data:`COEFFICIENTS`.
            weights: ``(R, n)`` non-negative integer multiplicities.

        Returns:
            ``(R,)`` values, NaN where undefined.
        """
        out = np.full(weights.shape[0], math.nan)
        for chunk in _chunks(weights.shape[0], self.n):
            out[chunk] = self._statistic(coefficient, weights[chunk])
        return out

    def _statistic(self, coefficient: str, weights: np.ndarray) -> np.ndarray:
        if coefficient == "pearson":
            return _weighted_pearson(self.metric, self.gold, weights)
        if coefficient == "spearman":
            if self._ranks is None:
                self._ranks = (_RankPlan(self.metric), _RankPlan(self.gold))
            rank_m, rank_g = self._ranks
            return _weighted_pearson(rank_m.ranks(weights), rank_g.ranks(weights), weights)
        if coefficient in ("kendall_b", "kendall_c", "wmt_kendall"):
            counts = self.kendall_counts(weights)
            if coefficient == "kendall_b":
                return counts.tau_b()
            return counts.tau_c() if coefficient == "kendall_c" else counts.wmt()
        if coefficient == "acc_eq":
            return self.acc_eq(weights)[0]
        raise ConfigError(f"coefficient must be one of {COEFFICIENTS}; got {coefficient!r}")


# ---------------------------------------------------------------------------------------------
# Varying values and weights, few observations: the system-level kernel
# ---------------------------------------------------------------------------------------------


def pairwise_statistic(
    coefficient: str, metric: np.ndarray, gold: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """A coefficient per row when the values themselves change from row to row.

    Used at system level, where each resample recomputes the system scores. Works on all
    n(n-1)/2 pairs at once, so it is meant for few observations (systems).

    Args:
        coefficient: one of :data:`COEFFICIENTS`.
        metric, gold: ``(R, n)`` values; NaN marks an observation absent from that row.
        weights: ``(R, n)`` multiplicities.

    Returns:
        ``(values, epsilon)``, each ``(R,)``; epsilon is the tie threshold for ``acc_eq`` and
        NaN otherwise.
    """
    present = (weights > 0) & np.isfinite(metric) & np.isfinite(gold)
    w = np.where(present, weights, 0.0)
    x = np.where(present, metric, 0.0)
    y = np.where(present, gold, 0.0)
    no_eps = np.full(w.shape[0], math.nan)
    if coefficient == "pearson":
        return _weighted_pearson(x, y, w), no_eps
    if coefficient == "spearman":
        return _weighted_pearson(_pairwise_ranks(x, w), _pairwise_ranks(y, w), w), no_eps

    first, second = np.triu_indices(w.shape[1], 1)
    sign_m = np.sign(x[:, first] - x[:, second])  # (R, P)
    sign_g = np.sign(y[:, first] - y[:, second])
    pair_w = w[:, first] * w[:, second]
    self_pairs = (w * (w - 1.0) / 2.0).sum(axis=1)
    if coefficient == "acc_eq":
        return _pairwise_acc_eq(x, y, pair_w, self_pairs, first, second)
    if coefficient not in ("kendall_b", "kendall_c", "wmt_kendall"):
        raise ConfigError(f"coefficient must be one of {COEFFICIENTS}; got {coefficient!r}")
    n_obs = w.sum(axis=1)
    counts = KendallCounts(
        n_obs=n_obs,
        pairs=n_obs * (n_obs - 1.0) / 2.0,
        discordant=(pair_w * (sign_m * sign_g < 0)).sum(axis=1),
        metric_ties=(pair_w * (sign_m == 0)).sum(axis=1) + self_pairs,
        gold_ties=(pair_w * (sign_g == 0)).sum(axis=1) + self_pairs,
        joint_ties=(pair_w * ((sign_m == 0) & (sign_g == 0))).sum(axis=1) + self_pairs,
        metric_distinct=_pairwise_distinct(x, w),
        gold_distinct=_pairwise_distinct(y, w),
    )
    if coefficient == "kendall_b":
        return counts.tau_b(), no_eps
    return (counts.tau_c() if coefficient == "kendall_c" else counts.wmt()), no_eps


def _pairwise_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    # rank_i = weight strictly below x_i + (weight equal to x_i + 1) / 2
    below = (values[:, None, :] < values[:, :, None]) * weights[:, None, :]  # (R, n, n)
    equal = (values[:, None, :] == values[:, :, None]) * weights[:, None, :]
    return below.sum(axis=2) + (equal.sum(axis=2) + 1.0) / 2.0


def _pairwise_distinct(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    present = weights > 0
    same = (values[:, :, None] == values[:, None, :]) & present[:, None, :]  # [r, i, j]
    earlier = np.tril(np.ones(values.shape[1], dtype=bool), -1)  # j < i
    repeated = (same & earlier).any(axis=2)
    return (present & ~repeated).sum(axis=1).astype(np.float64)


def _pairwise_acc_eq(
    x: np.ndarray,
    y: np.ndarray,
    pair_w: np.ndarray,
    self_pairs: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    d_metric = x[:, first] - x[:, second]
    d_gold = y[:, first] - y[:, second]
    # Absent pairs go last so that their distances never become a smaller best epsilon.
    distance = np.where(pair_w > 0, np.abs(d_metric), np.inf)
    agree = ((np.sign(d_metric) == np.sign(d_gold)) & (d_gold != 0) & (d_metric != 0)) * pair_w
    delta = (d_gold == 0) * pair_w - agree
    order = np.argsort(distance, axis=1, kind="stable")
    distance = np.take_along_axis(distance, order, axis=1)
    prefix = np.cumsum(np.take_along_axis(delta, order, axis=1), axis=1)
    base = agree.sum(axis=1) + self_pairs
    run_end = np.ones(distance.shape, dtype=bool)
    run_end[:, :-1] = distance[:, 1:] != distance[:, :-1]
    candidates = np.where(run_end, base[:, None] + prefix, -np.inf)
    empty_ok = distance[:, 0] > 0 if distance.shape[1] else np.ones(x.shape[0], dtype=bool)
    candidates = np.concatenate([np.where(empty_ok, base, -np.inf)[:, None], candidates], axis=1)
    thresholds = np.concatenate([np.zeros((x.shape[0], 1)), distance], axis=1)
    best = np.argmax(candidates, axis=1)
    rows = np.arange(best.size)
    total = pair_w.sum(axis=1) + self_pairs
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = candidates[rows, best] / total
    defined = total > 0
    epsilon = np.where(defined, thresholds[rows, best], math.nan)
    return np.where(defined, accuracy, math.nan), epsilon


# ---------------------------------------------------------------------------------------------
# Public coefficients on paired vectors
# ---------------------------------------------------------------------------------------------


def _paired(metric: object, gold: object, names: tuple[str, str]) -> tuple[np.ndarray, ...]:
    """Both vectors as float arrays with NaN pairs removed, and the number removed."""
    try:
        x = np.asarray(metric, dtype=np.float64)
        y = np.asarray(gold, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{names[0]} and {names[1]} must be numeric vectors: {exc}") from exc
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise AccordError(
            f"{names[0]} and {names[1]} must be 1-D vectors of the same length; "
            f"got shapes {x.shape} and {y.shape}"
        )
    if np.isinf(x).any() or np.isinf(y).any():
        raise AccordError(f"{names[0]} and {names[1]} must not contain infinite values")
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep], np.asarray(int((~keep).sum()))


def _vector_estimate(coefficient: str, metric: object, gold: object) -> Estimate:
    x, y, n_missing = _paired(metric, gold, ("metric", "gold"))
    sample = PairedSample(x, y)
    ones = np.ones((1, x.size))
    extra: dict[str, object] = {"n_missing": int(n_missing)}
    if coefficient == "acc_eq":
        accuracy, epsilon = sample.acc_eq(ones)
        value = float(accuracy[0])
        extra["epsilon"] = float(epsilon[0])
    else:
        value = float(sample.statistic(coefficient, ones)[0])
    if n_missing:
        logger.info("%s: left out %d pairs with a missing value", coefficient, int(n_missing))
    return Estimate(value=value, n=int(x.size), signature=coefficient, extra=extra)


def pearson(metric: object, gold: object) -> Estimate:
    """Pearson's r between paired vectors (NaN pairs removed; NaN value if either is constant)."""
    return _vector_estimate("pearson", metric, gold)


def spearman(metric: object, gold: object) -> Estimate:
    """Spearman's rho: Pearson's r of average ranks (ties share their mean rank)."""
    return _vector_estimate("spearman", metric, gold)


def kendall_tau_b(metric: object, gold: object) -> Estimate:
    """Kendall's tau-b, O(n log n); NaN when every pair is tied in one of the vectors."""
    return _vector_estimate("kendall_b", metric, gold)


def kendall_tau_c(metric: object, gold: object) -> Estimate:
    """Kendall's tau-c (Stuart's tau), O(n log n), defined as in scipy's ``variant="c"``."""
    return _vector_estimate("kendall_c", metric, gold)


def acc_eq(metric: object, gold: object) -> Estimate:
    """Tie-calibrated pairwise accuracy over all pairs (Deutsch, Foster & Freitag 2023).

    A pair counts as correct when the human orders it and the metric orders it the same way
    with ``|metric_i - metric_j| > epsilon``, or when the human ties it and
    ``|metric_i - metric_j| <= epsilon``. Epsilon is the smallest threshold (0 or a pairwise
    metric difference) that maximizes the accuracy; it is in ``extra["epsilon"]``.
    O(n^2) time and memory in the number of pairs.
    """
    return _vector_estimate("acc_eq", metric, gold)


def wmt_kendall_like(metric_better: object, metric_worse: object) -> Estimate:
    """WMT's Kendall-like tau for relative judgments (Ma et al. 2019).

    Args:
        metric_better: metric score of the output the human preferred, one per judged pair.
        metric_worse: metric score of the other output.

    Returns:
        ``(concordant - discordant) / (concordant + discordant)``: concordant when
        ``metric_better > metric_worse``; discordant otherwise, so a metric tie counts against
        the metric. ``extra`` holds the counts and the pairs left out for a missing score.
    """
    names = ("metric_better", "metric_worse")
    better, worse, n_missing = _paired(metric_better, metric_worse, names)
    concordant = int((better > worse).sum())
    ties = int((better == worse).sum())
    discordant = int(better.size) - concordant
    value = (concordant - discordant) / better.size if better.size else math.nan
    return Estimate(
        value=value,
        n=int(better.size),
        signature="wmt_kendall",
        extra={
            "concordant": concordant,
            "discordant": discordant,
            "metric_ties": ties,
            "n_missing": int(n_missing),
        },
    )
