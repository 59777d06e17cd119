"""Battles from the sources a ranking can rest on: human scores, human pairs, metrics, judges.

A source is named by a string:

- ``"human"``: the human segment scores of one aspect (``Judgments.gold_matrix``; MQM is
  already "higher is better" after loading), every two systems on every item;
- ``"pairs"``: the human pairwise preferences in ``Judgments.pairs``;
- any registered metric name (``"chrf"``, ``"bleu"``, ``"comet"``, ...): the metric's segment
  scores (through the score store), every two systems on every item, in the metric's direction.

A pairwise judge's verdicts are already battles; pass them as a table (see
:func:`accord.rankings.battles.validate_battles`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from accord.data.judgments import Judgments
from accord.errors import ConfigError
from accord.rankings.battles import battles_from_pairs, battles_from_scores
from accord.store import ScoreStore

logger = logging.getLogger(__name__)

HUMAN = "human"
PAIRS = "pairs"


def human_aspect(judgments: Judgments, aspect: str | None) -> str:
    """The aspect to use: ``aspect`` if given, else ``"mqm"`` if present, else the first one."""
    if aspect is not None:
        return aspect
    if not judgments.aspects:
        raise ConfigError(f"{judgments.name} has no human scores to rank by")
    return "mqm" if "mqm" in judgments.aspects else judgments.aspects[0]


def mean_human_scores(
    judgments: Judgments, systems: Sequence[str], aspect: str | None = None
) -> pd.Series:
    """Each system's mean human score over the items it was scored on (higher is better)."""
    gold = judgments.gold_matrix(human_aspect(judgments, aspect), systems)
    with np.errstate(invalid="ignore"):
        counts = (~np.isnan(gold)).sum(axis=1)
        means = np.where(counts > 0, np.nansum(gold, axis=1) / np.maximum(counts, 1), np.nan)
    return pd.Series(means, index=list(systems), name="mean human score")


def source_battles(
    judgments: Judgments,
    source: str,
    systems: Sequence[str],
    aspect: str | None = None,
    store: ScoreStore | None = None,
    tie_tolerance: float = 0.0,
    progress: bool | None = None,
) -> pd.DataFrame:
    """The battle table of one source (see the module docstring) among ``systems``.

    Args:
        judgments: items, outputs and human judgments.
        source: ``"human"``, ``"pairs"`` or a registered metric name.
        systems: the systems to rank.
        aspect: the human aspect for ``"human"`` (default: ``"mqm"`` if present, else the
            first aspect).
        store: the score cache for metrics (None: no caching).
        tie_tolerance: score differences at most this are ties (``"human"`` and metrics).
        progress: progress bar for metric scoring; None shows it only on a terminal.
    """
    if source == HUMAN:
        chosen = human_aspect(judgments, aspect)
        gold = judgments.gold_matrix(chosen, systems)
        return battles_from_scores(gold, systems, judgments.item_ids,
                                   tie_tolerance=tie_tolerance)
    if source == PAIRS:
        if judgments.pairs.empty:
            raise ConfigError(f"{judgments.name} has no human pairwise preferences")
        return battles_from_pairs(judgments, systems)

    from accord.metrics import create_metric, metric_names
    from accord.scoring import score_judgments

    if source not in metric_names():
        raise ConfigError(
            f"unknown ranking source {source!r}: use 'human', 'pairs' or a metric name "
            f"({', '.join(metric_names())})"
        )
    metric = create_metric(source)
    scores = score_judgments(metric, judgments, systems, judgments.item_ids, store=store,
                             progress=progress)
    return battles_from_scores(scores.segment, systems, judgments.item_ids,
                               higher_is_better=scores.higher_is_better,
                               tie_tolerance=tie_tolerance)
