"""The Metric interface that every scorer in accord implements, and the metric registry.

A metric scores system outputs (``hyps``), given per segment zero or more references
(``refs``: one tuple of strings per hyp) and optionally the source (``srcs``). It declares
what it needs as class data (``needs_source``, ``needs_reference``, ``device``), so callers
never test which class they hold. Every metric has a ``signature`` that pins its name,
parameters and the versions of the code that computes it; scores are cached under it.

Metrics are registered under a short name (``chrf``, ``bleu``, ...). Third-party packages add
their own through the ``accord.metrics`` entry-point group, each entry naming a Metric
subclass: ``mymetric = "my_package.module:MyMetric"``.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from accord.errors import ConfigError
from accord.signature import make_signature

if TYPE_CHECKING:
    from accord.train.reward import MetricReward

logger = logging.getLogger(__name__)

Refs = Sequence[Sequence[str]]


class Metric(ABC):
    """Base class of all metrics.

    Subclasses set the class attributes, take their parameters as keyword arguments in
    ``__init__`` (storing them with :meth:`_set_params`), and implement
    :meth:`score_segments`; a metric that has a corpus-level statistic distinct from the mean
    of segment scores (BLEU, chrF, TER) also sets ``has_corpus_score`` and implements
    :meth:`score_corpus`.
    """

    name: ClassVar[str] = ""
    needs_source: ClassVar[bool] = False
    needs_reference: ClassVar[bool] = True
    has_corpus_score: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    device: ClassVar[str] = "cpu"
    # Segments per call to score_segments when scoring through the store (None: the store's
    # default). Metrics that batch internally and pay a per-call set-up cost (neural models)
    # ask for larger chunks.
    chunk_size: ClassVar[int | None] = None

    def __init__(self) -> None:
        self._params: dict[str, Any] = {}

    # -- parameters and signature -------------------------------------------------------

    def _set_params(self, **params: Any) -> None:
        self._params = dict(params)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters that change this metric's scores."""
        return dict(self._params)

    def versions(self) -> dict[str, str]:
        """Versions of the libraries this metric's scores depend on, e.g. ``{"sacrebleu": ...}``.

        Subclasses extend it; accord's own version is always included.
        """
        from accord import __version__

        return {"accord": __version__}

    @property
    def signature(self) -> str:
        """``name|param:value|...|version:lib=x,...``: equal signatures mean equal scores."""
        version = ",".join(f"{k}={v}" for k, v in sorted(self.versions().items()))
        return make_signature(self.name, self._params, version=version)

    # -- scoring --------------------------------------------------------------------------

    @abstractmethod
    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """Score each hyp; returns a float array of ``len(hyps)``, NaN where no score exists."""

    def score_corpus(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> float:
        """A corpus-level score of all hyps together (default: mean of the segment scores)."""
        return float(np.nanmean(self.score_segments(hyps, refs, srcs)))

    def as_reward(self, **options: Any) -> MetricReward:
        """This metric as a training reward in TRL's reward-function convention.

        Options are those of :class:`accord.train.reward.MetricReward` (scale, low, high,
        reference_column, store, ...).
        """
        from accord.train.reward import MetricReward

        return MetricReward(self, **options)

    def check_inputs(
        self, hyps: Sequence[str], refs: Refs | None, srcs: Sequence[str] | None
    ) -> None:
        """Raise ConfigError if the inputs this metric needs are absent or misaligned."""
        if isinstance(hyps, str):
            raise TypeError(f"{self.name}: hyps must be a sequence of strings, not one string")
        if self.needs_reference:
            if refs is None:
                raise ConfigError(f"metric {self.name!r} needs references, and none were given")
            if len(refs) != len(hyps):
                raise ConfigError(
                    f"metric {self.name!r}: {len(hyps)} hyps but {len(refs)} reference lists"
                )
            empty = [i for i, r in enumerate(refs) if len(r) == 0]
            if empty:
                raise ConfigError(
                    f"metric {self.name!r} needs at least one reference per segment; "
                    f"{len(empty)} segment(s) have none (first at position {empty[0]})"
                )
        if self.needs_source:
            if srcs is None:
                raise ConfigError(f"metric {self.name!r} needs sources, and none were given")
            if len(srcs) != len(hyps):
                raise ConfigError(
                    f"metric {self.name!r}: {len(hyps)} hyps but {len(srcs)} sources"
                )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.signature}>"


# -- registry -------------------------------------------------------------------------------

# Built-in metrics by short name, as "module:Class" so that heavy dependencies (torch) are only
# imported when a metric that needs them is created.
_BUILTIN: dict[str, str] = {}
_CLASSES: dict[str, type[Metric]] = {}
ENTRY_POINT_GROUP = "accord.metrics"


def register_builtin(name: str, target: str) -> None:
    """Register a built-in metric lazily: ``target`` is ``"module:Class"``."""
    _BUILTIN[name] = target


def register_metric(name: str, cls: type[Metric]) -> None:
    """Register a Metric subclass under ``name`` (for metrics defined at run time)."""
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise TypeError(f"register_metric({name!r}): expected a Metric subclass, got {cls!r}")
    _CLASSES[name] = cls


def _entry_point_targets() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def metric_names() -> list[str]:
    """Every registered metric name: built-in, registered at run time and from entry points."""
    return sorted(set(_BUILTIN) | set(_CLASSES) | set(_entry_point_targets()))


def metric_class(name: str) -> type[Metric]:
    """The Metric subclass registered under ``name`` (imported on first use)."""
    if name in _CLASSES:
        return _CLASSES[name]
    target = _BUILTIN.get(name) or _entry_point_targets().get(name)
    if target is None:
        raise ConfigError(
            f"unknown metric {name!r}; registered metrics: {', '.join(metric_names())}"
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"metric {name!r} needs a package that is not installed ({exc}); install the "
            f"extra that provides it, e.g. pip install 'accord[neural]'"
        ) from exc
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Metric)):
        raise ConfigError(f"metric {name!r} points to {target}, which is not a Metric subclass")
    _CLASSES[name] = cls
    return cls


def create_metric(name: str, **params: Any) -> Metric:
    """Instantiate the metric registered under ``name`` with keyword parameters."""
    cls = metric_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"metric {name!r}: bad parameters {params!r}: {exc}") from exc
