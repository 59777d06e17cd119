"""The reward-hacking watch: held-out metrics beside the training reward, against KL.

A policy trained on one metric learns that metric's blind spots: the training reward keeps
rising while metrics it was not trained on (embedding similarity, a length ratio, a judge) stop
improving and then fall (Gao et al. 2023, "Scaling laws for reward model overoptimization").
Every few steps the trainer samples completions for held-out prompts and records the training
reward, each held-out metric and the KL to the reference model (:func:`score_heldout`);
:func:`find_turns` marks the watch points where a held-out metric has turned down while the
training reward is still above where it stood at that metric's best.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from accord.train.rollout import Sample

logger = logging.getLogger(__name__)


def score_heldout(samples: Sequence[Sample], metrics: Mapping[str, Any],
                  reference_column: str = "reference") -> dict[str, Any]:
    """Mean training reward and mean held-out metric scores of held-out samples.

    Returns:
        ``reward`` and ``reward_std`` (the training reward), ``metric:NAME`` per held-out
        metric (its raw score, NaN where it gave none), ``completion_tokens`` (mean length),
        ``no_reward`` (samples without a training reward) and ``examples`` (the first three
        prompts with their completions).
    """
    rewards = np.array([s.reward for s in samples], dtype=float)
    finite = rewards[np.isfinite(rewards)]
    row: dict[str, Any] = {
        "reward": float(finite.mean()) if finite.size else math.nan,
        "reward_std": float(finite.std()) if finite.size else math.nan,
        "no_reward": int(rewards.size - finite.size),
        "completion_tokens": float(np.mean([len(s.completion_ids) for s in samples])),
    }
    hyps = [s.completion for s in samples]
    for name, metric in metrics.items():
        refs = None
        if getattr(metric, "needs_reference", False):
            values = [s.columns.get(reference_column) for s in samples]
            if any(v is None for v in values):
                logger.warning("watch metric %s needs %r, which some held-out rows lack; "
                               "not scored", name, reference_column)
                row[f"metric:{name}"] = math.nan
                continue
            refs = [(v,) if isinstance(v, str) else tuple(v or ()) for v in values]
        srcs = None
        if getattr(metric, "needs_source", False):
            srcs = [str(s.columns.get("source", s.prompt)) for s in samples]
        scores = np.asarray(metric.score_segments(hyps, refs, srcs), dtype=float)
        row[f"metric:{name}"] = float(np.nanmean(scores)) if np.isfinite(scores).any() \
            else math.nan
    row["examples"] = [{"prompt": s.prompt, "completion": s.completion} for s in samples[:3]]
    return row


@dataclass(frozen=True)
class Turn:
    """A watch point where a held-out metric turned down while the training reward rose.

    Attributes:
        metric: the held-out metric's column (``metric:NAME``).
        step: the trainer step of the watch point.
        kl: the KL to the reference at that point.
        best_step: the step at which the metric was best so far.
        drop: how far the metric stands below its best (in its own units, positive).
        reward_gain: how far the training reward stands above its value at ``best_step``.
    """

    metric: str
    step: int
    kl: float
    best_step: int
    drop: float
    reward_gain: float


def find_turns(rows: Sequence[Mapping[str, Any]], metric: str, higher_is_better: bool = True,
               tolerance: float = 0.0, patience: int = 1, reward: str = "reward"
               ) -> list[Turn]:
    """Watch points where ``metric`` has turned down while the training reward still rises.

    A point is marked when the metric has stood more than ``tolerance`` below its best value so
    far for ``patience`` consecutive watch points (this one included), and the training reward
    at this point is above the training reward at the metric's best point.

    Args:
        rows: watch rows in step order (``step``, ``kl``, ``reward`` and the metric column).
        metric: the column to check.
        higher_is_better: the metric's direction (a lower-is-better metric turns *up*).
        tolerance: the drop, in the metric's units, that counts as turning down.
        patience: consecutive points the drop must last.
        reward: the training reward's column.
    """
    sign = 1.0 if higher_is_better else -1.0
    turns: list[Turn] = []
    best_value, best_index = -math.inf, -1
    below = 0
    for i, row in enumerate(rows):
        value = row.get(metric)
        if value is None or not math.isfinite(float(value)):
            continue
        value = sign * float(value)
        if value > best_value:
            best_value, best_index, below = value, i, 0
            continue
        below = below + 1 if best_value - value > tolerance else 0
        gain = float(row.get(reward, math.nan)) - float(rows[best_index].get(reward, math.nan))
        if below >= patience and gain > 0:
            turns.append(Turn(metric, int(row["step"]), float(row.get("kl", math.nan)),
                              int(rows[best_index]["step"]), best_value - value, gain))
    return turns
