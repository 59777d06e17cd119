"""How well a metric agrees with humans: correlations at segment and system level, with CIs.

Inputs are two ``(n_systems, n_items)`` matrices, ``metric`` and ``gold`` (human scores, higher
is better), NaN where a cell is missing. The variants follow the usual WMT meta-evaluation
(Freitag et al. 2021, "Results of the WMT21 Metrics Shared Task"; mt-metrics-eval):

level ``"segment"``
    grouping ``"none"``: one coefficient over all cells that have both scores.
    grouping ``"item"``: a coefficient per item across systems, averaged over items; items
    where it is undefined (fewer than two systems, or a constant vector) are skipped and
    counted. ``"system"``: per system across items, averaged over systems. ``acc_eq`` and
    ``wmt_kendall`` are not averaged but pooled: all within-group pairs count together
    (with one epsilon for ``acc_eq``, as in Deutsch et al. 2023).
level ``"system"``
    A system's human score is its mean over the items with a human score; its metric score
    comes from a :class:`~accord.metaeval.scorers.SystemScorer` (the mean of its segment
    scores on the same items by default, or a corpus score from sufficient statistics).

Confidence intervals are percentile bootstrap intervals. A resample draws items, systems or
both with replacement; it is stored as counts (see :mod:`accord.metaeval.resample`) and the
statistic is computed exactly on the resampled multiset: a cell drawn twice is two
observations, tied with each other in both metric and gold. When items are resampled, all
cells of a drawn item go together; with both, cell ``(s, i)`` occurs
``count(s) * count(i)`` times. In grouped variants, copies of a group are separate groups
(they are averaged, or pooled without pairs between copies).
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from accord import __version__
from accord.errors import AccordError, ConfigError
from accord.metaeval.coefficients import (
    AccEqPlan,
    KendallCounts,
    PairedSample,
    check_coefficient,
    pairwise_statistic,
)
from accord.metaeval.resample import bootstrap_counts, check_resampling, percentile_interval
from accord.metaeval.result import Estimate
from accord.metaeval.scorers import MeanScorer, StatsScorer, SystemScorer
from accord.signature import make_signature

__all__ = ["MeanScorer", "StatsScorer", "SystemScorer", "correlate", "correlate_pairs"]

logger = logging.getLogger(__name__)

LEVELS = ("segment", "system")
GROUPINGS = ("none", "item", "system")
POOLED = ("acc_eq", "wmt_kendall")


def as_matrix(values: object, name: str) -> np.ndarray:
    """``values`` as a 2-D float matrix; TypeError or AccordError naming ``name`` otherwise."""
    try:
        matrix = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (n_systems, n_items) matrix: {exc}") from exc
    if matrix.ndim != 2:
        raise AccordError(f"{name} must be 2-D (n_systems, n_items); got shape {matrix.shape}")
    if np.isinf(matrix).any():
        raise AccordError(f"{name} must not contain infinite values (use NaN for missing)")
    return matrix


def _signature(coefficient: str, params: dict[str, Any], ci: str | None) -> str:
    if ci is None:
        params = {**params, "ci": "none"}
    return make_signature(coefficient, params, version=__version__)


def _finish(
    coefficient: str,
    params: dict[str, Any],
    point: float,
    boot: np.ndarray | None,
    n: int,
    extra: dict[str, Any],
    ci: str | None,
    n_resamples: int,
    seed: int,
    alpha: float,
) -> Estimate:
    low = high = math.nan
    if ci is not None and boot is not None:
        low, high, n_undefined = percentile_interval(boot, alpha)
        extra["resamples_undefined"] = n_undefined
        if n_undefined:
            logger.info("%s: %d of %d resamples undefined", coefficient, n_undefined, boot.size)
        params = {**params, "ci": ci, "resamples": n_resamples, "seed": seed, "alpha": alpha}
    return Estimate(
        value=point,
        ci_low=low,
        ci_high=high,
        n=n,
        signature=_signature(coefficient, params, ci),
        extra=extra,
    )


def _draw(
    ci: str | None, n_systems: int, n_items: int, n_resamples: int, seed: int
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Resampling counts for systems and items; None for a unit that is not resampled.

    Systems are drawn before items from one ``numpy.random.default_rng(seed)``.
    """
    if ci is None:
        return None, None
    rng = np.random.default_rng(seed)
    systems = bootstrap_counts(n_systems, n_resamples, rng) if ci in ("systems", "both") else None
    items = bootstrap_counts(n_items, n_resamples, rng) if ci in ("items", "both") else None
    return systems, items


def correlate(
    metric: np.ndarray | SystemScorer,
    gold: np.ndarray,
    coefficient: str,
    level: str = "segment",
    grouping: str = "none",
    *,
    ci: str | None = "items",
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Estimate:
    """Agreement between a metric and human scores, with a bootstrap confidence interval.

    Args:
        metric: ``(n_systems, n_items)`` metric segment scores (NaN = missing); at system
            level a :class:`SystemScorer` may be given instead, to score systems from summed
            statistics. A matrix at system level becomes ``MeanScorer(metric, mask)`` with
            ``mask`` the cells that have a human score.
        gold: ``(n_systems, n_items)`` human scores, higher is better, NaN = missing.
        coefficient: ``pearson``, ``spearman``, ``kendall_b``, ``kendall_c``, ``acc_eq`` or
            ``wmt_kendall`` (pairs the human ties are left out; metric ties are discordant).
        level: ``"segment"`` or ``"system"``.
        grouping: at segment level ``"none"``, ``"item"`` or ``"system"``; at system level
            only ``"none"``.
        ci: what the bootstrap resamples: ``"items"``, ``"systems"``, ``"both"``, or None
            for no interval.
        n_resamples: number of bootstrap resamples.
        seed: seed of ``numpy.random.default_rng`` for the resampling.
        alpha: the interval covers ``1 - alpha``.

    Returns:
        An :class:`Estimate`. ``n`` is the number of cells (grouping none), groups averaged
        (item/system grouping), pairs (pooled ``acc_eq``/``wmt_kendall``) or systems (system
        level). ``extra`` counts what was left out and why, and holds ``epsilon`` for
        ``acc_eq``.
    """
    check_coefficient(coefficient)
    if level not in LEVELS:
        raise ConfigError(f"level must be one of {LEVELS}; got {level!r}")
    if grouping not in GROUPINGS:
        raise ConfigError(f"grouping must be one of {GROUPINGS}; got {grouping!r}")
    if level == "system" and grouping != "none":
        raise ConfigError(f"system-level correlation has no grouping; got grouping={grouping!r}")
    check_resampling(ci, n_resamples, alpha, ("items", "systems", "both"))
    gold_matrix = as_matrix(gold, "gold")
    params: dict[str, Any] = {"level": level, "grouping": grouping}

    if level == "system":
        point, boot, n, extra = _system_level(
            metric, gold_matrix, coefficient, ci, n_resamples, seed
        )
    else:
        if isinstance(metric, SystemScorer) and not isinstance(metric, np.ndarray):
            raise TypeError("segment-level correlation needs a metric matrix, not a SystemScorer")
        metric_matrix = as_matrix(metric, "metric")
        if metric_matrix.shape != gold_matrix.shape:
            raise AccordError(
                f"metric and gold must have the same shape; got {metric_matrix.shape} "
                f"and {gold_matrix.shape}"
            )
        point, boot, n, extra = _segment_level(
            metric_matrix, gold_matrix, coefficient, grouping, ci, n_resamples, seed
        )
    return _finish(coefficient, params, point, boot, n, extra, ci, n_resamples, seed, alpha)


# ---------------------------------------------------------------------------------------------
# Segment level
# ---------------------------------------------------------------------------------------------


def _segment_level(
    metric: np.ndarray,
    gold: np.ndarray,
    coefficient: str,
    grouping: str,
    ci: str | None,
    n_resamples: int,
    seed: int,
) -> tuple[float, np.ndarray | None, int, dict[str, Any]]:
    # 1. Keep the cells with both scores, and the systems and items that have any.
    valid = np.isfinite(metric) & np.isfinite(gold)
    keep_systems = valid.any(axis=1)
    keep_items = valid.any(axis=0)
    extra: dict[str, Any] = {
        "cells_missing": int((~valid).sum()),
        "systems_without_cells": int((~keep_systems).sum()),
        "items_without_cells": int((~keep_items).sum()),
    }
    metric = metric[keep_systems][:, keep_items]
    gold = gold[keep_systems][:, keep_items]
    valid = valid[keep_systems][:, keep_items]
    n_systems, n_items = valid.shape
    if extra["cells_missing"]:
        logger.info(
            "segment-level %s: %d cells lack a metric or human score", coefficient,
            extra["cells_missing"],
        )

    # 2. Resampling counts per system and per item.
    system_w, item_w = _draw(ci, n_systems, n_items, n_resamples, seed)

    # 3. The statistic on the full data and on each resample.
    if grouping == "none":
        point, boot, n = _ungrouped(metric, gold, valid, coefficient, system_w, item_w, extra)
    elif grouping == "item":
        # rows are groups: items; within a group the observations are systems
        point, boot, n = _grouped(
            metric.T, gold.T, valid.T, coefficient, item_w, system_w, extra
        )
    else:
        point, boot, n = _grouped(metric, gold, valid, coefficient, system_w, item_w, extra)
    return point, boot, n, extra


def _ungrouped(
    metric: np.ndarray,
    gold: np.ndarray,
    valid: np.ndarray,
    coefficient: str,
    system_w: np.ndarray | None,
    item_w: np.ndarray | None,
    extra: dict[str, Any],
) -> tuple[float, np.ndarray | None, int]:
    system_of, item_of = np.nonzero(valid)
    sample = PairedSample(metric[valid], gold[valid])
    ones = np.ones((1, sample.n))
    if coefficient == "acc_eq":
        accuracy, epsilon = sample.acc_eq(ones)
        point = float(accuracy[0])
        extra["epsilon"] = float(epsilon[0])
    else:
        point = float(sample.statistic(coefficient, ones)[0])
    if coefficient == "wmt_kendall":
        extra.update(_pair_counts(sample.kendall_counts(ones)))
    if system_w is None and item_w is None:
        return point, None, sample.n
    cell_w = np.ones((1, sample.n))
    if system_w is not None:
        cell_w = cell_w * system_w[:, system_of]
    if item_w is not None:
        cell_w = cell_w * item_w[:, item_of]
    return point, sample.statistic(coefficient, cell_w), sample.n


def _pair_counts(counts: KendallCounts) -> dict[str, int]:
    concordant = int(counts.concordant[0])
    metric_only_ties = int(counts.metric_ties[0] - counts.joint_ties[0])
    return {
        "concordant": concordant,
        "discordant": int(counts.discordant[0]) + metric_only_ties,
        "metric_ties": metric_only_ties,
        "gold_ties_excluded": int(counts.gold_ties[0]),
    }


def _rows(*weights: np.ndarray | None) -> int:
    """Number of resamples in the first weight matrix given (0 if none is)."""
    return next((w.shape[0] for w in weights if w is not None), 0)


def _grouped(
    metric: np.ndarray,
    gold: np.ndarray,
    valid: np.ndarray,
    coefficient: str,
    group_w: np.ndarray | None,
    within_w: np.ndarray | None,
    extra: dict[str, Any],
) -> tuple[float, np.ndarray | None, int]:
    """A statistic per group (row) averaged over groups, or pooled over within-group pairs.

    Args:
        metric, gold, valid: ``(n_groups, n_within)`` matrices.
        group_w: ``(R, n_groups)`` resampling counts of groups, or None.
        within_w: ``(R, n_within)`` resampling counts of the observations inside each group
            (the other unit), or None.
    """
    if coefficient == "acc_eq":
        return _pooled_acc_eq(metric, gold, valid, group_w, within_w, extra)
    resampled = group_w is not None or within_w is not None
    n_groups = valid.shape[0]
    rows = _rows(group_w, within_w)
    point_values = np.full(n_groups, math.nan)
    boot_values = np.full((rows, n_groups), math.nan)
    too_few = 0
    pooled_point: KendallCounts | None = None
    pooled_boot: KendallCounts | None = None

    for g in range(n_groups):
        members = valid[g]
        if members.sum() < 2:
            too_few += 1
            continue
        sample = PairedSample(metric[g, members], gold[g, members])
        ones = np.ones((1, sample.n))
        if coefficient == "wmt_kendall":
            counts = sample.kendall_counts(ones)
            pooled_point = counts if pooled_point is None else pooled_point + counts
            if resampled:
                weights = within_w[:, members] if within_w is not None else ones
                boot_counts = sample.kendall_counts(weights)
                if group_w is not None:
                    boot_counts = boot_counts.scaled(group_w[:, g])
                pooled_boot = boot_counts if pooled_boot is None else pooled_boot + boot_counts
            continue
        point_values[g] = sample.statistic(coefficient, ones)[0]
        if resampled and np.isfinite(point_values[g]):
            boot_values[:, g] = (
                sample.statistic(coefficient, within_w[:, members])
                if within_w is not None
                else point_values[g]
            )

    extra["groups_too_few"] = too_few
    if coefficient == "wmt_kendall":
        if pooled_point is None:
            return math.nan, (np.full(rows, math.nan) if resampled else None), 0
        extra.update(_pair_counts(pooled_point))
        n_pairs = extra["concordant"] + extra["discordant"]
        boot = None
        if resampled and pooled_boot is not None:
            boot = np.broadcast_to(pooled_boot.wmt(), (rows,)).copy()
        return float(pooled_point.wmt()[0]), boot, n_pairs

    defined = np.isfinite(point_values)
    extra["groups_constant"] = int(n_groups - too_few - defined.sum())
    if too_few or extra["groups_constant"]:
        logger.info(
            "%s: %d groups skipped with fewer than 2 observations, %d with a constant vector",
            coefficient, too_few, extra["groups_constant"],
        )
    point = float(point_values[defined].mean()) if defined.any() else math.nan
    if not resampled:
        return point, None, int(defined.sum())
    weights = np.ones((rows, n_groups)) if group_w is None else group_w
    weights = np.where(np.isfinite(boot_values), weights, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        boot = np.nansum(weights * np.nan_to_num(boot_values), axis=1) / weights.sum(axis=1)
    return point, boot, int(defined.sum())


def _pooled_acc_eq(
    metric: np.ndarray,
    gold: np.ndarray,
    valid: np.ndarray,
    group_w: np.ndarray | None,
    within_w: np.ndarray | None,
    extra: dict[str, Any],
) -> tuple[float, np.ndarray | None, int]:
    group_of, within_of = np.nonzero(valid)
    plan = AccEqPlan(metric[valid], gold[valid], group_of)
    extra["groups_too_few"] = int((valid.sum(axis=1) < 2).sum())
    accuracy, epsilon = plan.values(np.ones((1, group_of.size)))
    extra["epsilon"] = float(epsilon[0])
    point = float(accuracy[0])
    if group_w is None and within_w is None:
        return point, None, plan.n_pairs
    rows = _rows(group_w, within_w)
    cell_w = within_w[:, within_of] if within_w is not None else np.ones((rows, group_of.size))
    # group ids in the plan are dense ranks of group_of, i.e. the groups that have cells
    groups_present = np.unique(group_of)
    groups = group_w[:, groups_present] if group_w is not None else None
    return point, plan.values(cell_w, groups)[0], plan.n_pairs


# ---------------------------------------------------------------------------------------------
# System level
# ---------------------------------------------------------------------------------------------


def _system_level(
    metric: np.ndarray | SystemScorer,
    gold: np.ndarray,
    coefficient: str,
    ci: str | None,
    n_resamples: int,
    seed: int,
) -> tuple[float, np.ndarray | None, int, dict[str, Any]]:
    n_systems, n_items = gold.shape
    has_gold = np.isfinite(gold)
    if isinstance(metric, SystemScorer) and not isinstance(metric, np.ndarray):
        scorer: SystemScorer = metric
        if (scorer.n_systems, scorer.n_items) != gold.shape:
            raise AccordError(
                f"the system scorer covers {(scorer.n_systems, scorer.n_items)} systems x "
                f"items but gold has shape {gold.shape}"
            )
    else:
        matrix = as_matrix(metric, "metric")
        if matrix.shape != gold.shape:
            raise AccordError(
                f"metric and gold must have the same shape; got {matrix.shape} and {gold.shape}"
            )
        scorer = MeanScorer(matrix, mask=has_gold)
    gold_filled = np.where(has_gold, gold, 0.0).T  # (n_items, n_systems)
    gold_count = has_gold.astype(np.float64).T

    def system_scores(item_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(divide="ignore", invalid="ignore"):
            human = (item_w @ gold_filled) / (item_w @ gold_count)  # (R, n_systems)
        return scorer(item_w), human

    ones_items = np.ones((1, n_items))
    metric_sys, gold_sys = system_scores(ones_items)
    usable = np.isfinite(metric_sys[0]) & np.isfinite(gold_sys[0])
    extra: dict[str, Any] = {"systems_missing": int((~usable).sum())}
    values, epsilon = pairwise_statistic(coefficient, metric_sys, gold_sys, np.ones((1, n_systems)))
    if coefficient == "acc_eq":
        extra["epsilon"] = float(epsilon[0])
    point = float(values[0])

    system_w, item_w = _draw(ci, n_systems, n_items, n_resamples, seed)
    if system_w is None and item_w is None:
        return point, None, int(usable.sum()), extra
    if item_w is not None:
        metric_sys, gold_sys = system_scores(item_w)
    rows = n_resamples
    weights = system_w if system_w is not None else np.ones((rows, n_systems))
    metric_sys = np.broadcast_to(metric_sys, (rows, n_systems))
    gold_sys = np.broadcast_to(gold_sys, (rows, n_systems))
    boot, _ = pairwise_statistic(coefficient, metric_sys, gold_sys, weights)
    return point, boot, int(usable.sum()), extra


# ---------------------------------------------------------------------------------------------
# Relative judgments
# ---------------------------------------------------------------------------------------------


def _winner_sign(winner: object) -> np.ndarray:
    """+1 where output a won, -1 where b won, 0 for a tie, NaN when unknown."""
    values = np.asarray(winner)
    if values.ndim != 1:
        raise AccordError(f"winner must be a 1-D vector; got shape {values.shape}")
    if values.dtype.kind in "biuf":
        return np.sign(values.astype(np.float64))
    sign = np.full(values.size, math.nan)
    for index, value in enumerate(values):
        if value == "a":
            sign[index] = 1.0
        elif value == "b":
            sign[index] = -1.0
        elif value == "tie":
            sign[index] = 0.0
        elif value is not None and value == value:  # None and NaN are missing judgments
            raise AccordError(
                f"winner[{index}] must be 'a', 'b' or 'tie' (or a number: >0 a, <0 b, 0 tie); "
                f"got {value!r}"
            )
    return sign


def correlate_pairs(
    metric_a: object,
    metric_b: object,
    winner: object,
    *,
    ci: str | None = "pairs",
    items: object = None,
    n_resamples: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> Estimate:
    """WMT's Kendall-like tau between metric scores and human relative judgments.

    Args:
        metric_a, metric_b: metric scores of the two outputs of each judged pair, ``(n,)``.
        winner: the human verdict per pair: ``"a"``, ``"b"``, ``"tie"`` (as in
            ``Judgments.pairs``) or a number (> 0: a, < 0: b, 0: tie). Human ties are left out
            and counted in ``extra["human_ties"]``; pairs with a missing score or verdict in
            ``extra["pairs_missing"]``.
        ci: resample ``"pairs"``, ``"items"`` (all pairs of a drawn item go together; needs
            ``items``) or None.
        items: ``(n,)`` item id of each pair, for ``ci="items"``.
        n_resamples, seed, alpha: as in :func:`correlate`.

    Returns:
        An :class:`Estimate` of (concordant - discordant) / (concordant + discordant), metric
        ties counted as discordant (Ma et al. 2019); ``n`` is the number of pairs compared.
    """
    check_resampling(ci, n_resamples, alpha, ("pairs", "items"))
    try:
        a = np.asarray(metric_a, dtype=np.float64)
        b = np.asarray(metric_b, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"metric_a and metric_b must be numeric vectors: {exc}") from exc
    sign = _winner_sign(winner)
    if not (a.ndim == b.ndim == 1 and a.shape == b.shape == sign.shape):
        raise AccordError(
            f"metric_a, metric_b and winner must be vectors of one length; got shapes "
            f"{a.shape}, {b.shape} and {sign.shape}"
        )
    item_ids = None
    if ci == "items":
        if items is None:
            raise ConfigError("ci='items' needs the item id of each pair (items=...)")
        item_ids = np.asarray(items)
        if item_ids.shape != a.shape:
            raise AccordError(f"items must have shape {a.shape}; got {item_ids.shape}")

    # 1. Leave out missing values and human ties, counting both.
    missing = np.isnan(a) | np.isnan(b) | np.isnan(sign)
    human_tie = ~missing & (sign == 0)
    keep = ~missing & ~human_tie
    better = np.where(sign > 0, a, b)[keep]
    worse = np.where(sign > 0, b, a)[keep]
    concordant = (better > worse).astype(np.float64)
    extra: dict[str, Any] = {
        "concordant": int(concordant.sum()),
        "discordant": int(keep.sum() - concordant.sum()),
        "metric_ties": int((better == worse).sum()),
        "human_ties": int(human_tie.sum()),
        "pairs_missing": int(missing.sum()),
    }
    n = int(keep.sum())
    point = (2.0 * concordant.sum() - n) / n if n else math.nan

    # 2. Bootstrap: weighted (C - D) / (C + D) with pair weights.
    boot = None
    if ci is not None:
        rng = np.random.default_rng(seed)
        if item_ids is not None:
            _, item_of = np.unique(item_ids[keep], return_inverse=True)
            n_items = int(item_of.max()) + 1 if n else 0
            weights = bootstrap_counts(n_items, n_resamples, rng)[:, item_of.reshape(-1)]
        else:
            weights = bootstrap_counts(n, n_resamples, rng)
        total = weights.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = (2.0 * (weights @ concordant) - total) / total
    params: dict[str, Any] = {"level": "pairs"}
    return _finish("wmt_kendall", params, point, boot, n, extra, ci, n_resamples, seed, alpha)
