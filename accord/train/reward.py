"""Any accord metric as a training reward, in TRL's reward-function convention.

:class:`MetricReward` is a picklable callable ``reward(prompts=..., completions=..., **columns)``
that returns one float per completion (``None`` where the metric gives no score), which is what
TRL's trainers (GRPOTrainer, RLOOTrainer, ...) call and what accord's own trainer calls.

Completions come either as strings (standard datasets) or, for conversational datasets, as lists
of message dicts (``[{"role": "assistant", "content": "..."}]``); prompts likewise as strings or
message lists. The dataset's other columns arrive as keyword lists of the same length: the
reference column (default ``reference``; a string or a list of strings per row) and optionally
a source column. Unknown keywords that TRL adds (``completion_ids``, ``trainer_state``,
``log_metric``, ...) are accepted and ignored.

Scaling maps the metric's raw score to the reward:

- ``"range"``: ``(raw - low) / (high - low)``, so the metric's stated range ``[low, high]``
  becomes ``[0, 1]`` (reversed for lower-is-better metrics such as TER: ``(high - raw) /
  (high - low)``); the range comes from ``low``/``high`` or from the metric's ``score_range``;
- ``"affine"``: ``factor * raw + offset`` (``factor`` negative for lower-is-better metrics);
- ``"zscore"``: ``(raw - mean) / std`` over the completions of one call (a batch-relative
  reward; ``std`` 0 gives 0);
- ``"none"``: the raw score.

Token-level rewards: a metric that locates errors (an MQM-style judge) exposes
``error_spans(hyps, refs, srcs)`` returning, per hyp, a list of ``(char_start, char_end,
penalty)``; :meth:`MetricReward.error_spans` passes them on and the trainer turns them into
penalties on the tokens they cover.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from accord.errors import ConfigError
from accord.signature import make_signature

if TYPE_CHECKING:
    from accord.metrics.base import Metric

logger = logging.getLogger(__name__)

Scale = Literal["range", "affine", "zscore", "none"]
Span = tuple[int, int, float]

# Stated score ranges of built-in metrics whose class does not declare ``score_range``.
_KNOWN_RANGES: dict[str, tuple[float, float]] = {
    "chrf": (0.0, 100.0),
    "bleu": (0.0, 100.0),
    "rouge1": (0.0, 1.0),
    "rouge2": (0.0, 1.0),
    "rougeL": (0.0, 1.0),
    "exact_match": (0.0, 1.0),
    "numeric_match": (0.0, 1.0),
}


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the contents of a list of message dicts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        return "".join(str(m.get("content") or "") for m in completion
                       if m.get("role", "assistant") == "assistant")
    raise TypeError(
        "a completion must be a string or a list of message dicts "
        f"({{'role': ..., 'content': ...}}), got {type(completion).__name__}"
    )


def prompt_text(prompt: Any) -> str:
    """The text of one prompt: a string, or the content of the last user message."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence) and all(isinstance(m, Mapping) for m in prompt):
        users = [str(m.get("content") or "") for m in prompt if m.get("role") == "user"]
        return users[-1] if users else ""
    raise TypeError(
        f"a prompt must be a string or a list of message dicts, got {type(prompt).__name__}"
    )


def _as_refs(value: Any, row: int, column: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(
        f"column {column!r}, row {row}: expected a reference string or a list of strings, "
        f"got {type(value).__name__}"
    )


class MetricReward:
    """A metric wrapped as a reward function (see the module docstring for the convention).

    Args:
        metric: an accord Metric, or the registered name of one (created with
            ``metric_params``).
        scale: ``"range"``, ``"affine"``, ``"zscore"`` or ``"none"``. Default: ``"range"`` when
            the metric's range is known, else ``"none"``.
        low, high: the raw range for ``"range"`` scaling (override the metric's stated range).
        factor, offset: the map for ``"affine"`` scaling.
        reference_column: the keyword that carries references.
        source_column: the keyword that carries sources; when absent and the metric needs a
            source, the prompt text is used.
        store: an accord :class:`~accord.store.ScoreStore` or the path of one; scores are
            then looked up there and new ones cached. Scoring always goes through
            ``accord.scoring.score_segments``, so identical completions are scored once.
        batch_size: completions scored per metric call.
        metric_params: parameters for :func:`accord.metrics.create_metric` when ``metric`` is a
            name.
    """

    def __init__(self, metric: Metric | str, *, scale: Scale | None = None,
                 low: float | None = None, high: float | None = None, factor: float = 1.0,
                 offset: float = 0.0, reference_column: str = "reference",
                 source_column: str = "source", store: Any = None, batch_size: int = 256,
                 metric_params: Mapping[str, Any] | None = None) -> None:
        if isinstance(metric, str):
            from accord.metrics import create_metric

            metric = create_metric(metric, **dict(metric_params or {}))
        self.metric = metric
        stated = getattr(metric, "score_range", None) or _KNOWN_RANGES.get(metric.name)
        if low is None and high is None and stated is not None:
            low, high = float(stated[0]), float(stated[1])
        if scale is None:
            scale = "range" if low is not None and high is not None else "none"
        if scale not in ("range", "affine", "zscore", "none"):
            raise ConfigError(
                f"reward scale must be 'range', 'affine', 'zscore' or 'none', got {scale!r}"
            )
        if scale == "range":
            if low is None or high is None:
                raise ConfigError(
                    f"reward scale 'range' needs low and high for metric {metric.name!r}, "
                    "which states no range; pass low=..., high=..."
                )
            if not high > low:
                raise ConfigError(f"reward range needs high > low, got low={low}, high={high}")
        if batch_size < 1:
            raise ConfigError(f"reward batch_size must be at least 1, got {batch_size}")
        self.scale: Scale = scale
        self.low, self.high = low, high
        self.factor, self.offset = float(factor), float(offset)
        self.reference_column = reference_column
        self.source_column = source_column
        # The store is kept by path so that the reward pickles (TRL may copy it to workers).
        self._store = None if store is None or isinstance(store, str | Path) else store
        self.store_path: str | None = (
            None if store is None else str(store) if isinstance(store, str | Path)
            else str(getattr(store, "path", ":memory:")))
        self.batch_size = batch_size
        # TRL names a reward function by ``__name__`` in its logs.
        self.__name__ = f"accord_{metric.name}"

    @property
    def signature(self) -> str:
        """The metric's signature with the scaling appended."""
        params: dict[str, Any] = {"scale": self.scale}
        if self.scale == "range":
            params.update(low=self.low, high=self.high)
        elif self.scale == "affine":
            params.update(factor=self.factor, offset=self.offset)
        return self.metric.signature + "|" + make_signature("reward", params)

    # -- inputs --------------------------------------------------------------------------

    def _inputs(self, prompts: Sequence[Any] | None, completions: Sequence[Any],
                columns: Mapping[str, Any]
                ) -> tuple[list[str], list[tuple[str, ...]] | None, list[str] | None]:
        hyps = [completion_text(c) for c in completions]
        refs: list[tuple[str, ...]] | None = None
        if self.metric.needs_reference:
            if self.reference_column not in columns:
                raise ConfigError(
                    f"reward {self.__name__}: metric {self.metric.name!r} needs references, "
                    f"but no {self.reference_column!r} column was passed (columns: "
                    f"{', '.join(sorted(columns)) or 'none'})"
                )
            values = columns[self.reference_column]
            if len(values) != len(hyps):
                raise ConfigError(
                    f"reward {self.__name__}: {len(hyps)} completions but {len(values)} values "
                    f"in column {self.reference_column!r}"
                )
            refs = [_as_refs(v, i, self.reference_column) for i, v in enumerate(values)]
        srcs: list[str] | None = None
        if self.metric.needs_source:
            if self.source_column in columns:
                srcs = [str(s) for s in columns[self.source_column]]
            elif prompts is not None:
                srcs = [prompt_text(p) for p in prompts]
            else:
                raise ConfigError(
                    f"reward {self.__name__}: metric {self.metric.name!r} needs sources; pass "
                    f"a {self.source_column!r} column or prompts"
                )
        return hyps, refs, srcs

    # -- scoring -------------------------------------------------------------------------

    def _open_store(self) -> Any:
        if self._store is None and self.store_path is not None:
            from accord.store import ScoreStore

            self._store = ScoreStore(self.store_path)
        return self._store

    def __getstate__(self) -> dict[str, Any]:
        # An open SQLite connection does not pickle; the copy reopens the store by path.
        state = dict(self.__dict__)
        state["_store"] = None
        return state

    def raw_scores(self, hyps: Sequence[str], refs: Sequence[Sequence[str]] | None = None,
                   srcs: Sequence[str] | None = None) -> np.ndarray:
        """The metric's raw segment scores, in batches, identical segments scored once, and
        looked up in / added to the score store when one is set."""
        from accord.scoring import score_segments

        return score_segments(self.metric, hyps, refs, srcs, store=self._open_store(),
                              batch_size=self.batch_size, progress=False)

    def scale_scores(self, raw: np.ndarray) -> np.ndarray:
        """Map raw metric scores to rewards (NaN stays NaN)."""
        raw = np.asarray(raw, dtype=float)
        if self.scale == "range":
            assert self.low is not None and self.high is not None  # checked in __init__
            width = self.high - self.low
            if self.metric.higher_is_better:
                return (raw - self.low) / width
            return (self.high - raw) / width
        if self.scale == "affine":
            return self.factor * raw + self.offset
        if self.scale == "zscore":
            finite = raw[np.isfinite(raw)]
            if finite.size == 0:
                return raw
            std = float(finite.std())
            sign = 1.0 if self.metric.higher_is_better else -1.0
            if std == 0.0:
                return np.where(np.isfinite(raw), 0.0, np.nan)
            return sign * (raw - float(finite.mean())) / std
        return raw

    def __call__(self, prompts: Sequence[Any] | None = None,
                 completions: Sequence[Any] | None = None, **columns: Any
                 ) -> list[float | None]:
        """Rewards for ``completions`` (TRL convention); ``None`` where the metric gives none."""
        if completions is None:
            raise TypeError(f"reward {self.__name__}: the 'completions' keyword is required")
        hyps, refs, srcs = self._inputs(prompts, completions, columns)
        rewards = self.scale_scores(self.raw_scores(hyps, refs, srcs))
        missing = int(np.sum(~np.isfinite(rewards)))
        if missing:
            logger.warning("reward %s: %d of %d completions have no score (reward None)",
                           self.__name__, missing, len(hyps))
        return [float(r) if math.isfinite(r) else None for r in rewards]

    @property
    def gives_spans(self) -> bool:
        """Whether the metric locates errors (so token-level rewards are possible)."""
        return callable(getattr(self.metric, "error_spans", None))

    def error_spans(self, prompts: Sequence[Any] | None, completions: Sequence[Any],
                    **columns: Any) -> list[list[Span]]:
        """Per completion, the metric's ``(char_start, char_end, penalty)`` error spans."""
        if not self.gives_spans:
            raise ConfigError(
                f"metric {self.metric.name!r} gives no error spans (it has no error_spans "
                "method), so token-level credit is not available; use credit = 'sequence'"
            )
        hyps, refs, srcs = self._inputs(prompts, completions, columns)
        spans = self.metric.error_spans(hyps, refs, srcs)  # type: ignore[attr-defined]
        return [[(int(s), int(e), float(p)) for s, e, p in row] for row in spans]

    def __repr__(self) -> str:
        return f"<MetricReward {self.signature}>"
