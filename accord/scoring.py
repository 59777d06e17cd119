"""Scoring with the store: compute each distinct segment once per metric signature, ever.

:func:`score_segments` scores a list of segments, serving what the store already holds and
computing only the rest (identical inputs are scored once). :func:`score_judgments` scores
every system output of a :class:`~accord.data.judgments.Judgments` into a
``(n_systems, n_items)`` matrix, with corpus-level system scores and per-segment sufficient
statistics where the metric has them (BLEU, chrF, TER), for meta-evaluation.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from accord.data.judgments import Judgments
from accord.errors import ConfigError
from accord.metrics.base import Metric, Refs
from accord.store import ScoreStore, segment_key

if TYPE_CHECKING:
    from accord.metaeval.scorers import SystemScorer

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 256


@runtime_checkable
class SufficientStatistics(Protocol):
    """A metric whose corpus score is a function of summed per-segment statistics."""

    @property
    def n_stats(self) -> int: ...

    def segment_stats(self, hyps: Sequence[str], refs: Refs) -> np.ndarray: ...

    def score_from_stats(self, stats: np.ndarray) -> np.ndarray: ...


@dataclass
class MetricScores:
    """A metric's scores of the system outputs of a judgments table.

    Attributes:
        segment: ``(n_systems, n_items)`` segment scores; NaN where a system has no output
            for the item, where the item lacks an input the metric needs, or where the
            metric gave no score.
        system: ``(n_systems,)`` corpus-level scores over the items scored for each system,
            for metrics with a corpus score distinct from the mean (BLEU, chrF, TER); None
            otherwise.
        stats: ``(n_systems, n_items, k)`` sufficient statistics (NaN where ``segment`` has
            no input), for metrics that provide them; None otherwise. Summing over items and
            applying the metric's ``score_from_stats`` gives a corpus score.
        signature: the metric's signature.
        higher_is_better: the metric's direction (False for TER; meta-evaluation negates).
        systems: row labels.
        items: column labels.
        missing_input: number of system outputs left unscored because their item has no
            reference (or source) that the metric needs.
    """

    segment: np.ndarray
    system: np.ndarray | None
    stats: np.ndarray | None
    signature: str
    higher_is_better: bool
    systems: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    missing_input: int = 0
    score_fn: Callable[[np.ndarray], np.ndarray] | None = None

    def system_scorer(self, mask: np.ndarray | None = None) -> SystemScorer:
        """How this metric scores a system on any (re)sampled set of items.

        With sufficient statistics the corpus score is recomputed from summed statistics
        (exactly what sacrebleu's corpus score gives); otherwise a system's score is the mean
        of its segment scores. ``mask`` (``(n_systems, n_items)`` booleans) restricts both to
        the cells that have a human score.
        """
        from accord.metaeval.scorers import MeanScorer, StatsScorer

        if self.stats is not None and self.score_fn is not None:
            return StatsScorer(self.stats, self.score_fn, mask=mask)
        if self.system is not None:
            logger.warning(
                "%s has a corpus score but no sufficient statistics; its system-level score "
                "in meta-evaluation is the mean of its segment scores", self.signature
            )
        return MeanScorer(self.segment, mask=mask)

    def negated(self) -> MetricScores:
        """The same scores with the sign flipped, so that higher is better (TER)."""
        score_fn = self.score_fn
        return replace(
            self,
            segment=-self.segment,
            system=None if self.system is None else -self.system,
            higher_is_better=not self.higher_is_better,
            score_fn=None if score_fn is None else (lambda stats: -score_fn(stats)),
        )


def _progress_disabled(progress: bool | None) -> bool:
    if progress is None:
        return not sys.stderr.isatty()
    return not progress


def _cached_compute(
    keys: Sequence[str],
    cached: dict[str, Any],
    compute: Callable[[list[int]], list[Any]],
    save: Callable[[dict[str, Any]], object] | None,
    batch_size: int,
    progress: bool | None,
    label: str,
) -> dict[str, Any]:
    """Values for every key: ``cached`` ones as given, the rest computed in batches.

    ``compute`` receives positions into ``keys`` (the first position of each missing distinct
    key) and returns one value per position; ``save`` is called with each batch's results.
    """
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    missing = [key for key in first if key not in cached]
    logger.info(
        "%s: %d segment(s), %d distinct, %d from the store, %d to compute",
        label, len(keys), len(first), len(first) - len(missing), len(missing),
    )
    values = dict(cached)
    if not missing:
        return values
    from tqdm.auto import tqdm

    with tqdm(total=len(missing), desc=label, unit="seg",
              disable=_progress_disabled(progress)) as bar:
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            results = compute([first[key] for key in batch])
            if len(results) != len(batch):
                raise ConfigError(
                    f"{label}: the metric returned {len(results)} values for a batch of "
                    f"{len(batch)} segments"
                )
            batch_values = dict(zip(batch, results))
            values.update(batch_values)
            if save is not None:
                save(batch_values)
            bar.update(len(batch))
    return values


def _keys(hyps: Sequence[str], refs: Refs | None, srcs: Sequence[str] | None) -> list[str]:
    return [
        segment_key(
            hyp,
            None if refs is None else refs[i],
            None if srcs is None else srcs[i],
        )
        for i, hyp in enumerate(hyps)
    ]


def score_segments(
    metric: Metric,
    hyps: Sequence[str],
    refs: Refs | None = None,
    srcs: Sequence[str] | None = None,
    store: ScoreStore | None = None,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """Score each hyp with ``metric``, reusing and filling the store.

    Scores are cached under ``(metric.signature, segment_key(hyp, ref list, src))``; the
    key includes exactly the refs and srcs passed here. Identical segments are scored once.
    NaN scores ("no score") are returned but not cached.

    Args:
        metric: the metric.
        hyps: system outputs.
        refs: one sequence of references per hyp, or None.
        srcs: one source per hyp, or None.
        store: the score cache; None computes everything and caches nothing.
        batch_size: segments per call to ``metric.score_segments`` (and per store write);
            None takes the metric's ``chunk_size``, else the default of 256.
        progress: show a tqdm bar; None shows it only when stderr is a terminal.

    Returns:
        ``(len(hyps),)`` float array of scores.
    """
    if batch_size is None:
        batch_size = metric.chunk_size or DEFAULT_BATCH_SIZE
    if batch_size < 1:
        raise ConfigError(f"score_segments: batch_size must be >= 1, got {batch_size!r}")
    metric.check_inputs(hyps, refs, srcs)
    if len(hyps) == 0:
        return np.empty(0, dtype=float)
    signature = metric.signature
    keys = _keys(hyps, refs, srcs)
    cached = store.get_scores(signature, keys) if store is not None else {}

    def compute(positions: list[int]) -> list[float]:
        scores = metric.score_segments(
            [hyps[i] for i in positions],
            None if refs is None else [refs[i] for i in positions],
            None if srcs is None else [srcs[i] for i in positions],
        )
        return [float(s) for s in np.asarray(scores, dtype=float)]

    save = None
    if store is not None:
        save = lambda batch: store.put_scores(signature, batch)  # noqa: E731
    values = _cached_compute(keys, cached, compute, save, batch_size, progress, metric.name)
    out = np.array([values[key] for key in keys], dtype=float)
    n_nan = int(np.isnan(out).sum())
    if n_nan:
        logger.warning("%s: %d of %d segment(s) got no score (NaN)", metric.name, n_nan, len(out))
    return out


def segment_stats(
    metric: SufficientStatistics,
    signature: str,
    hyps: Sequence[str],
    refs: Refs,
    store: ScoreStore | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool | None = None,
) -> np.ndarray:
    """Sufficient statistics ``(len(hyps), k)`` of each segment, cached as store records.

    Records live in namespace ``"stats|" + signature``, keyed like scores.
    """
    if len(hyps) == 0:
        return np.empty((0, metric.n_stats), dtype=float)
    namespace = f"stats|{signature}"
    keys = _keys(hyps, refs, None)
    cached = store.get_records(namespace, keys) if store is not None else {}

    def compute(positions: list[int]) -> list[list[float]]:
        stats = metric.segment_stats([hyps[i] for i in positions], [refs[i] for i in positions])
        return np.asarray(stats, dtype=float).tolist()

    save = None
    if store is not None:
        save = lambda batch: store.put_records(namespace, batch)  # noqa: E731
    label = f"{signature.split('|', 1)[0]} statistics"
    values = _cached_compute(keys, cached, compute, save, batch_size, progress, label)
    return np.array([values[key] for key in keys], dtype=float).reshape(len(keys), metric.n_stats)


def score_judgments(
    metric: Metric,
    judgments: Judgments,
    systems: Sequence[str] | None = None,
    items: Sequence[str] | None = None,
    store: ScoreStore | None = None,
    batch_size: int | None = None,
    progress: bool | None = None,
) -> MetricScores:
    """Score every output of ``systems`` on ``items`` with ``metric``.

    Args:
        metric: the metric.
        judgments: the items, outputs and references.
        systems: rows, in order (default: ``judgments.systems``).
        items: columns, in order (default: ``judgments.item_ids``).
        store: the score cache (None: no caching).
        batch_size: segments per metric call (None: the metric's ``chunk_size`` or 256).
        progress: tqdm bar on/off; None shows it only on a terminal.

    Returns:
        :class:`MetricScores`. Outputs whose item lacks a reference (or a source) that the
        metric needs are NaN, counted in ``missing_input`` and logged, never scored as 0.
    """
    systems = list(systems if systems is not None else judgments.systems)
    items = list(items if items is not None else judgments.item_ids)
    unknown_systems = sorted(set(systems) - set(judgments.systems))
    if unknown_systems:
        raise ConfigError(
            f"score_judgments: {judgments.name} has no outputs of system(s) "
            f"{', '.join(map(repr, unknown_systems))}"
        )
    unknown_items = sorted(set(items) - set(judgments.item_ids))
    if unknown_items:
        raise ConfigError(
            f"score_judgments: {judgments.name} has no item(s) {unknown_items[:3]!r}"
            + (" ..." if len(unknown_items) > 3 else "")
        )
    shape = (len(systems), len(items))

    # 1. which cells can be scored: an output exists and the item has what the metric needs
    outputs = judgments.output_matrix(systems, items)  # (n_systems, n_items), None = missing
    item_refs = judgments.refs_for(items)
    item_srcs = judgments.srcs_for(items)
    has_output = np.array([[o is not None for o in row] for row in outputs], dtype=bool)
    has_output = has_output.reshape(shape)
    item_ok = np.ones(len(items), dtype=bool)
    if metric.needs_reference:
        item_ok &= np.array([len(r) > 0 for r in item_refs], dtype=bool)
    if metric.needs_source:
        item_ok &= np.array([s != "" for s in item_srcs], dtype=bool)
    cells = has_output & item_ok[None, :]
    missing_input = int((has_output & ~item_ok[None, :]).sum())
    if missing_input:
        needs = " and ".join(
            w for w, n in (("a reference", metric.needs_reference),
                           ("a source", metric.needs_source)) if n
        )
        logger.warning(
            "%s on %s: %d output(s) on %d item(s) left unscored (NaN): the metric needs %s",
            metric.name, judgments.name, missing_input, int((~item_ok).sum()), needs,
        )

    # 2. segment scores of the scorable cells
    rows, cols = np.nonzero(cells)
    hyps = [str(outputs[r, c]) for r, c in zip(rows, cols)]
    refs = [item_refs[c] for c in cols] if metric.needs_reference else None
    srcs = [item_srcs[c] for c in cols] if metric.needs_source else None
    segment = np.full(shape, np.nan)
    segment[rows, cols] = score_segments(
        metric, hyps, refs, srcs, store=store, batch_size=batch_size, progress=progress
    )

    # 3. sufficient statistics and corpus-level system scores
    stats = None
    system = None
    stats_metric = metric if isinstance(metric, SufficientStatistics) else None
    if stats_metric is not None and refs is not None:
        flat = segment_stats(
            stats_metric, metric.signature, hyps, refs, store=store,
            batch_size=batch_size or DEFAULT_BATCH_SIZE,
            progress=progress,
        )
        stats = np.full((*shape, stats_metric.n_stats), np.nan)
        stats[rows, cols] = flat
    if metric.has_corpus_score:
        system = np.full(len(systems), np.nan)
        counts = cells.sum(axis=1)
        for s in range(len(systems)):
            if counts[s] == 0:
                continue
            if stats is not None and stats_metric is not None:
                system[s] = float(stats_metric.score_from_stats(stats[s][cells[s]].sum(axis=0)))
            else:
                mask = rows == s
                system[s] = metric.score_corpus(
                    [h for h, m in zip(hyps, mask) if m],
                    None if refs is None else [r for r, m in zip(refs, mask) if m],
                    None if srcs is None else [x for x, m in zip(srcs, mask) if m],
                )
        if len(set(counts.tolist())) > 1:
            logger.warning(
                "%s on %s: corpus scores cover different numbers of items per system "
                "(%d to %d); they are not strictly comparable",
                metric.name, judgments.name, int(counts.min()), int(counts.max()),
            )
    return MetricScores(
        segment=segment,
        system=system,
        stats=stats,
        signature=metric.signature,
        higher_is_better=metric.higher_is_better,
        systems=systems,
        items=items,
        missing_input=missing_input,
        score_fn=getattr(metric, "score_from_stats", None) if stats is not None else None,
    )
