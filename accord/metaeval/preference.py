"""Reward models, judges and metrics as classifiers of human preference pairs.

A preference pair is two responses to one prompt of which a human chose one (HH-RLHF: Bai et
al. 2022, "Training a Helpful and Harmless Assistant with Reinforcement Learning from Human
Feedback"). Any scorer that gives a single response a number (a reward model, a judge, an
accord metric that needs no reference) classifies the pair by which response it scores higher.
Its *preference accuracy* is the share of pairs where the chosen response scores strictly
higher; a tie counts as wrong, because a scorer that cannot tell two responses apart gives a
reward model no signal (the convention of reward-model benchmarks such as RewardBench,
Lambert et al. 2024).

:func:`preference_accuracy` computes it with a percentile bootstrap interval over pairs;
:func:`paired_accuracy_test` tells whether two scorers' accuracies differ on the same pairs;
:func:`score_preferences` scores the pairs of a :class:`~accord.data.judgments.Judgments`
(e.g. from :func:`accord.data.loaders.load_hh_rlhf`) with a metric or a plain function.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from accord.errors import AccordError, ConfigError
from accord.metaeval.resample import bootstrap_counts, percentile_interval
from accord.metaeval.result import Estimate
from accord.signature import make_signature

if TYPE_CHECKING:
    from accord.data.judgments import Judgments
    from accord.metrics.base import Metric
    from accord.store import ScoreStore

logger = logging.getLogger(__name__)

# A scorer that is not an accord Metric: responses (and their prompts) in, one score each out.
ScoreFunction = Callable[[Sequence[str], Sequence[str]], Sequence[float] | np.ndarray]


def _check_resampling(n_resamples: int, alpha: float) -> None:
    if not isinstance(n_resamples, int) or n_resamples < 0:
        raise ConfigError(f"n_resamples must be a non-negative integer; got {n_resamples!r}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must lie strictly between 0 and 1; got {alpha!r}")


def _paired_scores(chosen: object, rejected: object) -> tuple[np.ndarray, np.ndarray, int]:
    """Both score vectors as floats, pairs with a NaN removed, and how many were removed."""
    try:
        c = np.asarray(chosen, dtype=np.float64)
        r = np.asarray(rejected, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"chosen and rejected scores must be numeric vectors: {exc}") from exc
    if c.ndim != 1 or c.shape != r.shape:
        raise AccordError(
            "chosen and rejected scores must be 1-D vectors of the same length; got shapes "
            f"{c.shape} and {r.shape}"
        )
    keep = ~(np.isnan(c) | np.isnan(r))
    return c[keep], r[keep], int((~keep).sum())


def preference_accuracy(
    chosen: object,
    rejected: object,
    *,
    n_resamples: int = 1000,
    seed: int = 1,
    alpha: float = 0.05,
    name: str = "preference_accuracy",
) -> Estimate:
    """Share of preference pairs whose chosen response the scorer ranks strictly higher.

    Args:
        chosen: ``(n_pairs,)`` scorer's score of the response the human chose.
        rejected: ``(n_pairs,)`` score of the other response. Pairs where either score is NaN
            are left out and counted in ``extra["n_missing"]``.
        n_resamples: bootstrap resamples of the pairs for the interval (0: no interval).
        seed: seed of the bootstrap.
        alpha: the interval covers ``1 - alpha``.
        name: first field of the signature (e.g. the scorer's name).

    Returns:
        :class:`Estimate` with value = accuracy in [0, 1] (NaN without pairs), percentile
        bootstrap interval, n = pairs used, and ``extra`` with ``correct``, ``ties`` (pairs the
        scorer tied, counted wrong), ``wrong`` (rejected scored higher) and ``n_missing``.
    """
    _check_resampling(n_resamples, alpha)
    c, r, n_missing = _paired_scores(chosen, rejected)
    if n_missing:
        logger.info("%s: left out %d pair(s) with a missing score", name, n_missing)
    correct = (c > r).astype(np.float64)  # (n,)
    n = int(correct.size)
    value = float(correct.mean()) if n else math.nan
    low = high = math.nan
    if n and n_resamples:
        counts = bootstrap_counts(n, n_resamples, np.random.default_rng(seed))  # (R, n)
        low, high, _ = percentile_interval(counts @ correct / n, alpha)
    signature = make_signature(
        name,
        {"ties": "wrong", "ci": "bootstrap-pairs" if n_resamples else None,
         "n_resamples": n_resamples or None, "seed": seed if n_resamples else None,
         "alpha": alpha if n_resamples else None},
    )
    return Estimate(
        value=value, ci_low=low, ci_high=high, n=n, signature=signature,
        extra={"correct": int(correct.sum()), "ties": int((c == r).sum()),
               "wrong": int((c < r).sum()), "n_missing": n_missing},
    )


def paired_accuracy_test(
    chosen_a: object,
    rejected_a: object,
    chosen_b: object,
    rejected_b: object,
    *,
    n_resamples: int = 1000,
    seed: int = 1,
) -> Estimate:
    """Is scorer A's preference accuracy higher than scorer B's on the same pairs?

    An exact-in-distribution paired permutation (sign-flip) test: under the null hypothesis
    that the two scorers are exchangeable, swapping which scorer got each pair right leaves the
    distribution of ``accuracy_A - accuracy_B`` unchanged. Only pairs where exactly one
    scorer is right change the statistic (as in McNemar's test).

    Args:
        chosen_a, rejected_a: scorer A's scores of each pair's chosen and rejected response.
        chosen_b, rejected_b: scorer B's, same pairs in the same order. Pairs with a NaN in
            either scorer are left out (``extra["n_missing"]``).
        n_resamples: random sign flips.
        seed: seed of the flips.

    Returns:
        :class:`Estimate` with value = accuracy_A - accuracy_B, n = pairs used and
        ``extra["p_value"]``: one-sided p-value of "A is better", ``(1 + #{flipped >=
        observed}) / (1 + n_resamples)``, which is never 0 (Phipson & Smyth 2010).
    """
    _check_resampling(n_resamples, 0.05)
    if n_resamples < 1:
        raise ConfigError("paired_accuracy_test needs n_resamples >= 1")
    arrays = [np.asarray(v, dtype=np.float64) for v in (chosen_a, rejected_a, chosen_b,
                                                          rejected_b)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise AccordError("the four score vectors must be 1-D and of the same length; got "
                          f"shapes {[a.shape for a in arrays]}")
    keep = ~np.any([np.isnan(a) for a in arrays], axis=0)
    ca, ra, cb, rb = (a[keep] for a in arrays)
    diff = (ca > ra).astype(np.float64) - (cb > rb)  # (n,) in {-1, 0, 1}
    n = int(diff.size)
    value = float(diff.mean()) if n else math.nan
    p_value = math.nan
    if n:
        rng = np.random.default_rng(seed)
        signs = rng.integers(0, 2, size=(n_resamples, n)) * 2.0 - 1.0  # (R, n)
        flipped = signs @ diff / n
        # a tolerance keeps exact ties with the observed value from being lost to rounding
        extreme = int((flipped >= value - 1e-12).sum())
        p_value = (1 + extreme) / (1 + n_resamples)
    return Estimate(
        value=value, n=n,
        signature=make_signature("preference_accuracy_delta",
                                 {"test": "sign-flip", "n_resamples": n_resamples, "seed": seed}),
        extra={"p_value": p_value, "n_missing": int((~keep).sum()),
               "discordant": int((diff != 0).sum())},
    )


@dataclass
class PreferenceScores:
    """A scorer's scores of the two responses of each usable preference pair.

    Attributes:
        chosen: ``(n_pairs,)`` score of the response the human preferred.
        rejected: ``(n_pairs,)`` score of the other response.
        items: the pair's item id, one per pair.
        excluded: pairs left out, per reason (human ties: no preferred response).
    """

    chosen: np.ndarray
    rejected: np.ndarray
    items: list[str]
    excluded: dict[str, int] = field(default_factory=dict)


def score_preferences(
    judgments: Judgments,
    scorer: Metric | ScoreFunction,
    store: ScoreStore | None = None,
) -> PreferenceScores:
    """Score both responses of every relative judgment in ``judgments.pairs``.

    Args:
        judgments: items with sources (the prompts) and ``pairs``; the winner of each pair is
            the chosen response. Pairs the human tied are left out and counted.
        scorer: an accord :class:`~accord.metrics.base.Metric` that needs no reference (it gets
            the item's source when it declares ``needs_source``), or a function
            ``(responses, prompts) -> scores``.
        store: score cache for a Metric (None: no caching).

    Returns:
        :class:`PreferenceScores`.

    Raises:
        ConfigError: if the metric needs a reference (preference pairs have none) or a function
            returns the wrong number of scores.
    """
    from accord.metrics.base import Metric

    pairs = judgments.pairs
    if len(pairs) == 0:
        raise AccordError(f"{judgments.name}: has no relative judgments (pairs) to score")
    tie = pairs["winner"].to_numpy() == "tie"
    excluded = {"pairs the human tied (no chosen response)": int(tie.sum())} if tie.any() else {}
    used = pairs[~tie]
    a_won = (used["winner"] == "a").to_numpy()
    chosen_sys = np.where(a_won, used["system_a"], used["system_b"])
    rejected_sys = np.where(a_won, used["system_b"], used["system_a"])
    item_ids = used["item"].astype(str).tolist()
    hyp_of = {
        (i, s): h for i, s, h in zip(judgments.outputs["item"], judgments.outputs["system"],
                                     judgments.outputs["hyp"], strict=True)
    }
    src_of = dict(zip(judgments.items["item"], judgments.items["src"], strict=True))
    hyps = [hyp_of[(i, s)] for i, s in zip(item_ids, chosen_sys, strict=True)]
    hyps += [hyp_of[(i, s)] for i, s in zip(item_ids, rejected_sys, strict=True)]
    srcs = [src_of[i] for i in item_ids] * 2

    if isinstance(scorer, Metric):
        if scorer.needs_reference:
            raise ConfigError(
                f"metric {scorer.name!r} needs a reference, and preference pairs have none; "
                "use a reference-free metric, a judge or a reward model"
            )
        from accord.scoring import score_segments

        scores = score_segments(scorer, hyps, None, srcs if scorer.needs_source else None,
                                store=store)
    else:
        scores = np.asarray(scorer(hyps, srcs), dtype=np.float64)
        if scores.shape != (len(hyps),):
            raise ConfigError(
                f"the scoring function returned shape {scores.shape}; expected one score per "
                f"response, ({len(hyps)},)"
            )
    n = len(item_ids)
    return PreferenceScores(scores[:n], scores[n:], item_ids, excluded)


def reply_length(responses: Sequence[str], prompts: Sequence[str]) -> np.ndarray:
    """Number of whitespace-separated words in each response (prompts are ignored).

    A baseline scorer: how often the longer reply is the one humans preferred. On helpfulness
    data length is a known confound of reward models (Singhal et al. 2023, "A Long Way to Go:
    Investigating Length Correlations in RLHF").
    """
    return np.array([len(r.split()) for r in responses], dtype=np.float64)


def evaluate_preferences(
    judgments: Judgments,
    scorers: dict[str, Any],
    *,
    n_resamples: int = 1000,
    seed: int = 1,
    alpha: float = 0.05,
    store: ScoreStore | None = None,
) -> dict[str, Estimate]:
    """Preference accuracy of several scorers on the same pairs, keyed by label.

    ``scorers`` maps a label to a reference-free Metric or a scoring function (see
    :func:`score_preferences`); all use the same bootstrap resamples (same seed).
    """
    out: dict[str, Estimate] = {}
    for label, scorer in scorers.items():
        scored = score_preferences(judgments, scorer, store=store)
        estimate = preference_accuracy(
            scored.chosen, scored.rejected, n_resamples=n_resamples, seed=seed, alpha=alpha,
            name=label,
        )
        estimate.extra["excluded"] = scored.excluded
        out[label] = estimate
    return out
