"""Gradient estimators: baselines, advantages, and which shared loss each algorithm uses.

The algorithms the trainer offers, and the losses (from :mod:`accord.train.losses`) they use:

- ``sft``: maximum likelihood on references (:func:`~accord.train.losses.nll_loss`);
- ``self_train``: sample ``k`` completions per prompt, keep the best by reward, maximum
  likelihood on those (expert iteration; :func:`best_of_groups` + ``nll_loss``);
- ``reinforce``: the policy gradient with a baseline (``policy_gradient_loss``), with truncated
  importance weights for replayed samples;
- ``ppo``: several epochs over each batch of rollouts with clipped ratios
  (``clipped_surrogate_loss``);
- ``dpo``: preference pairs, sigmoid or IPO loss (``dpo_loss``).

A KL penalty to the frozen reference (``kl_per_token``) is either subtracted from the per-token
rewards before returns are computed, or added to the loss; a learned value baseline adds
``value_loss``.
"""

from __future__ import annotations

import logging
from typing import Literal

import torch

from accord.train.losses import (
    clipped_surrogate_loss,
    discounted_returns,
    policy_gradient_loss,
    truncated_importance_weights,
)

logger = logging.getLogger(__name__)

Algorithm = Literal["sft", "self_train", "reinforce", "ppo", "dpo"]
Baseline = Literal["none", "mean", "loo", "value"]
SAMPLING_ALGORITHMS = ("self_train", "reinforce", "ppo")


def batch_mean_baseline(returns: torch.Tensor) -> torch.Tensor:
    """Every sample's baseline is the mean return of the batch. ``(B,) -> (B,)``."""
    return returns.mean().expand_as(returns)


def leave_one_out_baseline(returns: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Each sample's baseline is the mean return of the *other* samples of its prompt.

    Leaving the sample out keeps the baseline independent of the sample's own action, so the
    estimator stays unbiased (Kool et al. 2019, "Buy 4 REINFORCE samples, get a baseline for
    free!"). A prompt with a single sample has no other sample, so its baseline is 0; such
    samples are counted in the log.

    Args:
        returns: ``(B,)`` sequence returns.
        groups: ``(B,)`` prompt index of each sample.

    Returns:
        ``(B,)`` baselines.
    """
    same = (groups.unsqueeze(0) == groups.unsqueeze(1)).to(returns.dtype)  # (B, B)
    counts = same.sum(dim=1) - 1.0  # (B,) other samples of the same prompt
    sums = same @ returns - returns  # (B,)
    lonely = int((counts == 0).sum())
    if lonely:
        logger.warning("leave-one-out baseline: %d sample(s) are their prompt's only sample; "
                       "their baseline is 0", lonely)
    return torch.where(counts > 0, sums / counts.clamp(min=1.0), torch.zeros_like(returns))


def advantages_from_rewards(rewards: torch.Tensor, token_rewards: torch.Tensor,
                            mask: torch.Tensor, groups: torch.Tensor, gamma: float,
                            baseline: Baseline, values: torch.Tensor | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token returns and advantages for a batch of fresh samples.

    The sequence reward is received at each row's last completion token and added to the
    per-token rewards; returns are discounted sums of what follows (``gamma``). The ``mean`` and
    ``loo`` baselines are computed from the returns of the first completion token (the whole
    discounted reward of the sequence) and subtracted from every token's return; the ``value``
    baseline subtracts the learned value of each token's state.

    Args:
        rewards: ``(B,)`` sequence rewards (finite).
        token_rewards: ``(B, T)`` per-token rewards (penalties), 0 where none.
        mask: ``(B, T)`` completion-token mask.
        groups: ``(B,)`` prompt index of each sample.
        gamma: discount factor.
        baseline: ``"none"``, ``"mean"``, ``"loo"`` or ``"value"``.
        values: ``(B, T)`` value estimates, needed for ``"value"``.

    Returns:
        ``(advantages, returns)``, each ``(B, T)`` and 0 at masked positions.
    """
    last = mask.cumsum(dim=1) == mask.sum(dim=1, keepdim=True)  # (B, T) at/after last token
    last = last & (mask > 0)
    per_token = token_rewards + last.to(rewards.dtype) * rewards.unsqueeze(1)
    returns = discounted_returns(per_token, mask, gamma)  # (B, T)
    first = (mask.cumsum(dim=1) == 1) & (mask > 0)
    sequence_return = (returns * first).sum(dim=1)  # (B,)
    if baseline == "none":
        base = torch.zeros_like(returns)
    elif baseline == "mean":
        base = batch_mean_baseline(sequence_return).unsqueeze(1).expand_as(returns)
    elif baseline == "loo":
        base = leave_one_out_baseline(sequence_return, groups).unsqueeze(1).expand_as(returns)
    elif baseline == "value":
        if values is None:
            raise ValueError("the value baseline needs value estimates")
        base = values.detach()
    else:
        raise ValueError(f"unknown baseline {baseline!r}")
    return (returns - base) * mask, returns


def best_of_groups(rewards: list[float], groups: list[int]) -> list[int]:
    """Index of the highest-reward sample of each prompt (first on ties; NaN rewards skipped)."""
    best: dict[int, int] = {}
    for i, (r, g) in enumerate(zip(rewards, groups, strict=True)):
        if r != r:  # NaN: no score
            continue
        if g not in best or r > rewards[best[g]]:
            best[g] = i
    return [best[g] for g in sorted(best)]


def policy_loss(algorithm: Algorithm, logp: torch.Tensor, behaviour_logp: torch.Tensor,
                advantages: torch.Tensor, mask: torch.Tensor, clip_eps: float,
                importance_cap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The policy part of the loss for ``reinforce`` or ``ppo``.

    ``reinforce`` weights each sample by its truncated importance weight ``min(pi/mu, cap)``
    (about 1 for samples drawn by the current policy, the correction for replayed ones);
    ``ppo`` uses the clipped ratio to the behaviour policy, which bounds the step for fresh and
    replayed samples alike.

    Returns:
        The loss and the clip fraction (0 for ``reinforce``).
    """
    if algorithm == "ppo":
        return clipped_surrogate_loss(logp, behaviour_logp, advantages, mask, clip_eps)
    if algorithm == "reinforce":
        weights = truncated_importance_weights(logp, behaviour_logp, mask, importance_cap)
        return policy_gradient_loss(logp, advantages, mask, weights), torch.zeros(())
    raise ValueError(f"policy_loss is for 'reinforce' and 'ppo', not {algorithm!r}")
