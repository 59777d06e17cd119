"""Agreement among humans (the ceiling a metric can reach) and on the order of systems.

Human ceiling. Where items carry several raters' scores, the raters' agreement bounds how well
any metric can be expected to agree with "the" human score:

- :func:`krippendorff_alpha`: Krippendorff's alpha over (system, item) units, interval or
  ordinal, computed by the ``krippendorff`` package.
- :func:`rater_correlation`: each rater against the mean of the *other* raters (leave one
  out), with exactly the variants metrics are evaluated with
  (:func:`~accord.metaeval.correlation.correlate`), averaged over raters. Beside a metric's
  correlation with the mean of all raters it is a conservative ceiling: the mean of the others
  is noisier than the mean of all.

:func:`human_ceiling` computes both and says plainly why when it cannot (one rater per cell).

System order. :func:`pairwise_accuracy` is the share of system pairs a metric orders as the
humans do (Kocmi et al. 2021, "To Ship or Not to Ship: An Extensive Evaluation of Automatic
Metrics for Machine Translation"), pooled over several datasets; :func:`soft_pairwise_accuracy`
its confidence-weighted form (Thompson et al. 2024, "Improving Statistical Significance in
Human Evaluation of Automatic Metrics via Soft Pairwise Accuracy").
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from accord.errors import AccordError, ConfigError
from accord.metaeval.correlation import correlate
from accord.metaeval.resample import bootstrap_counts, percentile_interval
from accord.metaeval.result import Estimate
from accord.metaeval.scorers import MeanScorer
from accord.signature import make_signature

if TYPE_CHECKING:
    from accord.config import VariantConfig
    from accord.data.judgments import Judgments

logger = logging.getLogger(__name__)

LEVELS_OF_MEASUREMENT = ("interval", "ordinal", "ratio", "nominal")


# ---------------------------------------------------------------------------------------------
# Several raters per cell
# ---------------------------------------------------------------------------------------------


def rater_matrices(
    judgments: Judgments,
    aspect: str,
    systems: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Each rater's scores as a ``(n_systems, n_items)`` matrix (NaN where not rated).

    Scores without a rater name (``rater == ""``) are grouped under ``""``.
    """
    if aspect not in judgments.aspects:
        raise AccordError(f"{judgments.name}: no human scores for aspect {aspect!r}; "
                          f"available: {', '.join(judgments.aspects) or 'none'}")
    systems = list(systems if systems is not None else judgments.systems)
    items = list(items if items is not None else judgments.item_ids)
    table = judgments.scores[judgments.scores["aspect"] == aspect]
    out = {}
    for rater, part in table.groupby("rater", sort=True):
        wide = part.pivot(index="system", columns="item", values="score")
        out[str(rater)] = wide.reindex(index=systems, columns=items).to_numpy(dtype=float)
    return out


def raters_per_cell(matrices: dict[str, np.ndarray]) -> np.ndarray:
    """``(n_systems, n_items)`` number of raters who scored each cell."""
    if not matrices:
        raise AccordError("no rater matrices given")
    return np.sum([np.isfinite(m) for m in matrices.values()], axis=0)


def krippendorff_alpha(
    matrices: dict[str, np.ndarray], level_of_measurement: str = "interval"
) -> Estimate:
    """Krippendorff's alpha of raters over (system, item) units.

    Args:
        matrices: rater -> ``(n_systems, n_items)`` scores (see :func:`rater_matrices`).
        level_of_measurement: ``"interval"`` (differences matter), ``"ordinal"`` (only order),
            ``"ratio"`` or ``"nominal"``.

    Returns:
        :class:`Estimate` with value = alpha (1 perfect agreement, 0 chance level), n = units
        with at least two ratings (only those are pairable), and ``extra`` with ``raters`` and
        ``units_single`` (units with one rating, which alpha ignores). NaN when no unit has two
        ratings.
    """
    import krippendorff

    if level_of_measurement not in LEVELS_OF_MEASUREMENT:
        raise ConfigError(f"level_of_measurement must be one of {LEVELS_OF_MEASUREMENT}; "
                          f"got {level_of_measurement!r}")
    counts = raters_per_cell(matrices).reshape(-1)
    pairable = counts >= 2
    signature = make_signature("krippendorff_alpha", {"level": level_of_measurement})
    extra: dict[str, Any] = {"raters": len(matrices), "units_single": int((counts == 1).sum())}
    if not pairable.any():
        return Estimate(value=math.nan, n=0, signature=signature, extra=extra)
    data = np.vstack([m.reshape(-1)[pairable] for m in matrices.values()])  # (raters, units)
    alpha = krippendorff.alpha(
        reliability_data=data,
        level_of_measurement=level_of_measurement,  # type: ignore[arg-type]
    )
    value = float(alpha)
    return Estimate(value=value, n=int(pairable.sum()), signature=signature, extra=extra)


def rater_correlation(
    matrices: dict[str, np.ndarray],
    coefficient: str,
    level: str = "segment",
    grouping: str = "none",
    min_cells: int = 2,
) -> Estimate:
    """Leave-one-out agreement: each rater against the mean of the other raters, averaged.

    Args:
        matrices: rater -> ``(n_systems, n_items)`` scores.
        coefficient, level, grouping: the variant, as in
            :func:`~accord.metaeval.correlation.correlate`.
        min_cells: a rater takes part when at least this many of their cells are also scored
            by another rater.

    Returns:
        :class:`Estimate` with value = mean over the raters taking part of
        ``correlate(rater, mean of the others)``, n = number of those raters, and ``extra``:
        ``per_rater`` (rater -> value) and ``raters_left_out`` (too few shared cells or an
        undefined value).
    """
    raters = list(matrices)
    stack = np.stack([matrices[r] for r in raters])  # (n_raters, S, I)
    present = np.isfinite(stack)
    total = np.where(present, stack, 0.0).sum(axis=0)
    count = present.sum(axis=0)
    per_rater: dict[str, float] = {}
    left_out = 0
    for index, rater in enumerate(raters):
        others = count - present[index]
        with np.errstate(divide="ignore", invalid="ignore"):
            others_mean = np.where(others > 0,
                                   (total - np.where(present[index], stack[index], 0.0))
                                   / others, np.nan)
        shared = present[index] & (others > 0)
        if shared.sum() < min_cells:
            left_out += 1
            continue
        value = correlate(np.where(shared, stack[index], np.nan), others_mean, coefficient,
                          level, grouping, ci=None).value
        if math.isnan(value):
            left_out += 1
            continue
        per_rater[rater] = value
    mean = float(np.mean(list(per_rater.values()))) if per_rater else math.nan
    signature = make_signature(coefficient, {"level": level, "grouping": grouping,
                                             "human": "leave-one-rater-out"})
    return Estimate(value=mean, n=len(per_rater), signature=signature,
                    extra={"per_rater": per_rater, "raters_left_out": left_out})


def human_ceiling(
    judgments: Judgments,
    aspect: str,
    variants: Sequence[VariantConfig],
    systems: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
) -> tuple[pd.DataFrame | None, str]:
    """Inter-annotator agreement beside the variants metrics are evaluated with.

    Returns:
        ``(table, message)``. ``table`` has one row per variant (columns ``variant``,
        ``value``, ``raters``) plus rows for Krippendorff's alpha (interval and ordinal), or is
        None when no cell has two raters; ``message`` says in plain words what was computed or
        why no ceiling could be.
    """
    matrices = rater_matrices(judgments, aspect, systems, items)
    counts = raters_per_cell(matrices)
    scored = counts > 0
    multi = counts >= 2
    if not multi.any():
        return None, (
            f"No human ceiling for `{aspect}`: every scored (system, item) cell of "
            f"{judgments.name} has exactly one rater ({int(scored.sum())} cells, "
            f"{len(matrices)} rater name(s)), so inter-annotator agreement cannot be computed."
        )
    rows = []
    for variant in variants:
        if variant.coefficient == "wmt_kendall":
            continue
        est = rater_correlation(matrices, variant.coefficient, variant.level, variant.grouping)
        rows.append({"variant": variant.key, "value": est.value, "raters": est.n})
    for lom in ("interval", "ordinal"):
        est = krippendorff_alpha(matrices, lom)
        rows.append({"variant": f"Krippendorff's alpha ({lom})", "value": est.value,
                     "raters": est.extra["raters"]})
    message = (
        f"Human ceiling for `{aspect}`: {int(multi.sum())} of {int(scored.sum())} scored "
        f"cells have two or more raters ({len(matrices)} raters). Rater correlations are each "
        "rater against the mean of the other raters, averaged over raters."
    )
    return pd.DataFrame(rows), message


# ---------------------------------------------------------------------------------------------
# Agreement on the order of systems
# ---------------------------------------------------------------------------------------------


def _dataset(metric: object, gold: object, index: int) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(metric, dtype=np.float64)
    g = np.asarray(gold, dtype=np.float64)
    if m.shape != g.shape or m.ndim not in (1, 2):
        raise AccordError(
            f"dataset {index}: metric and gold must both be system vectors (n_systems,) or "
            f"segment matrices (n_systems, n_items) of one shape; got {m.shape} and {g.shape}"
        )
    if m.ndim == 1:
        return m[:, None], g[:, None]
    return m, g


def _system_scores(m: np.ndarray, g: np.ndarray, item_w: np.ndarray) -> tuple[np.ndarray, ...]:
    cells = np.isfinite(m) & np.isfinite(g)
    return MeanScorer(m, mask=cells)(item_w), MeanScorer(g, mask=cells)(item_w)


def _pair_agreement(metric_sys: np.ndarray, gold_sys: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per row: pairs agreeing in sign, and pairs with both systems scored."""
    first, second = np.triu_indices(metric_sys.shape[1], 1)
    dm = metric_sys[:, first] - metric_sys[:, second]  # (R, P)
    dg = gold_sys[:, first] - gold_sys[:, second]
    ok = np.isfinite(dm) & np.isfinite(dg)
    agree = ok & (np.sign(dm) == np.sign(dg))
    return agree.sum(axis=1).astype(np.float64), ok.sum(axis=1).astype(np.float64)


def pairwise_accuracy(
    datasets: Sequence[tuple[object, object]],
    *,
    n_resamples: int = 1000,
    seed: int = 1,
    alpha: float = 0.05,
) -> Estimate:
    """Share of system pairs ordered as the humans order them, pooled over datasets.

    Kocmi et al. 2021: accuracy = #{pairs with sign(metric delta) = sign(human delta)} /
    #{pairs}, counted over the system pairs of every dataset together. A metric tie on a pair
    the humans order counts as wrong; a pair both tie counts as right.

    Args:
        datasets: ``(metric, gold)`` per dataset (e.g. one per language pair): system vectors
            ``(n_systems,)``, or segment matrices ``(n_systems, n_items)`` whose system scores
            are means over the cells both scored.
        n_resamples: bootstrap resamples of the items of every dataset (0: no interval; with
            system vectors the interval is degenerate).
        seed: seed of the bootstrap.
        alpha: the interval covers ``1 - alpha``.

    Returns:
        :class:`Estimate` with value = accuracy, n = system pairs, and ``extra["per_dataset"]``.
    """
    if not datasets:
        raise ConfigError("pairwise_accuracy needs at least one (metric, gold) dataset")
    rng = np.random.default_rng(seed)
    agree_total = pairs_total = 0.0
    boot_agree = np.zeros(n_resamples)
    boot_pairs = np.zeros(n_resamples)
    per_dataset = []
    for index, (metric, gold) in enumerate(datasets):
        m, g = _dataset(metric, gold, index)
        agree, pairs = _pair_agreement(*_system_scores(m, g, np.ones((1, m.shape[1]))))
        agree_total += agree[0]
        pairs_total += pairs[0]
        per_dataset.append(agree[0] / pairs[0] if pairs[0] else math.nan)
        if n_resamples:
            item_w = bootstrap_counts(m.shape[1], n_resamples, rng)
            a, p = _pair_agreement(*_system_scores(m, g, item_w))
            boot_agree += a
            boot_pairs += p
    value = agree_total / pairs_total if pairs_total else math.nan
    low = high = math.nan
    if n_resamples:
        with np.errstate(divide="ignore", invalid="ignore"):
            low, high, _ = percentile_interval(boot_agree / boot_pairs, alpha)
    signature = make_signature("pairwise_accuracy", {
        "datasets": len(datasets), "ci": "bootstrap-items" if n_resamples else None,
        "n_resamples": n_resamples or None, "seed": seed if n_resamples else None})
    return Estimate(value=value, ci_low=low, ci_high=high, n=int(pairs_total),
                    signature=signature, extra={"per_dataset": per_dataset})


def system_pair_pvalues(
    scores: np.ndarray, signs: np.ndarray
) -> np.ndarray:
    """One-sided permutation p-values of "system i is better than system j", all pairs.

    A paired permutation test per pair on the items both systems have: under the null the two
    systems' scores of an item are exchangeable, so a resample flips the sign of the item's
    difference. The statistic is the sum of the differences over those items (equivalent to
    the difference of means there).

    Args:
        scores: ``(n_systems, n_items)`` segment scores, NaN = missing.
        signs: ``(R, n_items)`` of +1/-1, the flips shared by every pair.

    Returns:
        ``(P,)`` p-values ``(1 + #{flipped >= observed}) / (1 + R)`` for the pairs of
        ``numpy.triu_indices(n_systems, 1)``; NaN for a pair with no shared item.
    """
    first, second = np.triu_indices(scores.shape[0], 1)
    diff = scores[first] - scores[second]  # (P, I)
    shared = np.isfinite(diff)
    diff = np.where(shared, diff, 0.0)
    observed = diff.sum(axis=1)  # (P,)
    flipped = signs @ diff.T  # (R, P)
    scale = np.maximum(1.0, np.abs(diff).sum(axis=1))
    extreme = (flipped >= observed - 1e-9 * scale).sum(axis=0)
    p = (1.0 + extreme) / (1.0 + signs.shape[0])
    return np.where(shared.any(axis=1), p, math.nan)


def soft_pairwise_accuracy(
    datasets: Sequence[tuple[object, object]],
    *,
    n_resamples: int = 1000,
    seed: int = 1,
) -> Estimate:
    """Soft pairwise accuracy (Thompson et al. 2024), pooled over datasets.

    For every pair of systems ``(i, j)`` of a dataset, ``p_h`` and ``p_m`` are the one-sided
    p-values of "i is better than j" under the human scores and under the metric's scores
    (:func:`system_pair_pvalues`, a paired permutation test over items with the same flips for
    both, ``n_resamples`` of them). SPA is the mean over all pairs of all datasets of
    ``1 - |p_h - p_m|``: a metric earns full credit on a pair when it is exactly as confident
    as the humans, and pairs humans cannot separate are not forced to a side.

    Args:
        datasets: ``(metric, gold)`` segment matrices ``(n_systems, n_items)`` per dataset;
            a pair's test uses the items where both systems have a metric and a human score.
        n_resamples: permutations per dataset.
        seed: seed of the permutations.

    Returns:
        :class:`Estimate` with value = SPA in [0, 1], n = system pairs, and
        ``extra["per_dataset"]``.
    """
    if not datasets:
        raise ConfigError("soft_pairwise_accuracy needs at least one (metric, gold) dataset")
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be >= 1; got {n_resamples!r}")
    rng = np.random.default_rng(seed)
    credits = []
    per_dataset = []
    for index, (metric, gold) in enumerate(datasets):
        m, g = _dataset(metric, gold, index)
        if m.shape[1] < 2:
            raise AccordError(f"dataset {index}: soft pairwise accuracy needs segment matrices "
                              "(n_systems, n_items) with several items")
        cells = np.isfinite(m) & np.isfinite(g)
        signs = rng.integers(0, 2, size=(n_resamples, m.shape[1])) * 2.0 - 1.0
        p_m = system_pair_pvalues(np.where(cells, m, np.nan), signs)
        p_h = system_pair_pvalues(np.where(cells, g, np.nan), signs)
        credit = 1.0 - np.abs(p_h - p_m)
        credit = credit[np.isfinite(credit)]
        credits.append(credit)
        per_dataset.append(float(credit.mean()) if credit.size else math.nan)
    pooled = np.concatenate(credits)
    signature = make_signature("soft_pairwise_accuracy", {
        "datasets": len(datasets), "test": "paired-permutation", "n_resamples": n_resamples,
        "seed": seed})
    return Estimate(value=float(pooled.mean()) if pooled.size else math.nan, n=int(pooled.size),
                    signature=signature, extra={"per_dataset": per_dataset})
