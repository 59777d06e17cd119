"""Every loss the trainer uses, written once and shared by the estimators that need it.

All functions take per-token tensors laid out on one grid: ``(B, T)`` where ``B`` is the number
of sequences and ``T`` the number of predicted positions, with a ``mask`` (``(B, T)``, 1.0 where
the position holds a completion token that the loss should see, 0.0 elsewhere). Log-probabilities
are natural-log probabilities of the token actually at that position.

Token averages are "token means": the sum over all unmasked tokens of the batch divided by their
number, so that long and short completions weigh each token alike.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

KLEstimator = Literal["k1", "k2", "k3"]
DPOLoss = Literal["sigmoid", "ipo"]


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Log-probability of each label under the logits.

    Args:
        logits: ``(B, T, V)`` unnormalised scores.
        labels: ``(B, T)`` token ids.

    Returns:
        ``(B, T)`` log p(label).
    """
    # log_softmax in float32: bf16 log-probabilities lose the small differences that ratios need.
    logp = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    return logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (B, T)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over positions where ``mask`` is 1 (0.0 when nothing is unmasked)."""
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def kl_per_token(logp: torch.Tensor, ref_logp: torch.Tensor, estimator: KLEstimator
                 ) -> torch.Tensor:
    """Per-token estimate of KL(policy || reference) from tokens sampled by the policy.

    With ``log_ratio = log pi(x) - log pi_ref(x)`` and ``r = pi_ref(x) / pi(x)``
    (Schulman, "Approximating KL divergence", 2020):

    - ``k1 = log_ratio``: unbiased, high variance, can be negative;
    - ``k2 = log_ratio**2 / 2``: biased but low variance, never negative; its gradient is the
      exact gradient of KL(pi || pi_ref) when used as a loss;
    - ``k3 = (r - 1) - log r``: unbiased and never negative; used as a loss its gradient is that
      of the reverse KL(pi_ref || pi).

    Args:
        logp: ``(B, T)`` policy log-probabilities of the sampled tokens.
        ref_logp: ``(B, T)`` reference-model log-probabilities of the same tokens.
        estimator: ``"k1"``, ``"k2"`` or ``"k3"``.

    Returns:
        ``(B, T)`` per-token estimates (sum them over a sequence for the sequence KL).
    """
    log_ratio = logp - ref_logp
    if estimator == "k1":
        return log_ratio
    if estimator == "k2":
        return 0.5 * log_ratio**2
    if estimator == "k3":
        return torch.expm1(-log_ratio) + log_ratio
    raise ValueError(f"kl estimator must be 'k1', 'k2' or 'k3', got {estimator!r}")


def nll_loss(logp: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximum-likelihood loss: token mean of ``-log p`` (SFT and self-training)."""
    return -masked_mean(logp, mask)


def policy_gradient_loss(logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                         weights: torch.Tensor | None = None) -> torch.Tensor:
    """REINFORCE surrogate (Williams 1992): token mean of ``-w * A * log p``.

    Its gradient is the policy gradient when the tokens were sampled from the current policy
    (``weights`` = 1) or, with importance weights, from an earlier one.

    Args:
        logp: ``(B, T)`` log-probabilities under the current policy (with gradient).
        advantages: ``(B, T)`` advantage of each token (no gradient flows through it).
        mask: ``(B, T)`` completion-token mask.
        weights: ``(B,)`` or ``(B, T)`` importance weights (detached), or None for 1.
    """
    term = advantages.detach() * logp
    if weights is not None:
        term = term * (weights.detach().unsqueeze(-1) if weights.dim() == 1 else weights.detach())
    return -masked_mean(term, mask)


def clipped_surrogate_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                           mask: torch.Tensor, clip_eps: float
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), negated to be minimised.

    ``L = -mean(min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A))`` per token, with
    ``ratio = exp(logp - old_logp)``.

    Returns:
        The loss and the clip fraction: the share of unmasked tokens whose ratio lay outside
        ``[1 - eps, 1 + eps]`` with the clipped term the smaller one (so clipping removed their
        gradient).
    """
    advantages = advantages.detach()
    ratio = torch.exp(logp - old_logp.detach())  # (B, T)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_eps, 1.0 + clip_eps) * advantages
    loss = -masked_mean(torch.minimum(unclipped, clipped), mask)
    was_clipped = (clipped < unclipped).float()
    return loss, masked_mean(was_clipped, mask).detach()


def value_loss(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Squared error of a learned value baseline: token mean of ``(V - G)**2 / 2``."""
    return 0.5 * masked_mean((values - returns.detach()) ** 2, mask)


def discounted_returns(token_rewards: torch.Tensor, mask: torch.Tensor, gamma: float
                       ) -> torch.Tensor:
    """Reward-to-go ``G_t = r_t + gamma * G_{t+1}`` within each sequence's unmasked tokens.

    A sequence-level reward placed on the last completion token gives
    ``G_t = gamma**(T_last - t) * R``; with ``gamma = 1`` every token gets ``R``.

    Args:
        token_rewards: ``(B, T)`` reward received at each token (0 where none).
        mask: ``(B, T)``; the unmasked tokens of a row must be contiguous.
        gamma: discount in ``[0, 1]``.

    Returns:
        ``(B, T)`` returns, 0 at masked positions.
    """
    returns = torch.zeros_like(token_rewards)
    running = torch.zeros_like(token_rewards[:, 0])  # (B,)
    for t in range(token_rewards.shape[1] - 1, -1, -1):
        running = (token_rewards[:, t] + gamma * running) * mask[:, t]
        returns[:, t] = running
    return returns


def truncated_importance_weights(logp: torch.Tensor, behaviour_logp: torch.Tensor,
                                 mask: torch.Tensor, cap: float) -> torch.Tensor:
    """Sequence importance weights ``min(pi(y) / mu(y), cap)`` for reusing old rollouts.

    ``mu`` is the policy that sampled the rollout. Truncation at ``cap`` bounds the variance at
    the price of a bias towards the behaviour policy (as in Retrace/V-trace, Espeholt et al.
    2018).

    Args:
        logp: ``(B, T)`` current-policy log-probabilities.
        behaviour_logp: ``(B, T)`` log-probabilities when the rollout was sampled.
        mask: ``(B, T)`` completion-token mask.
        cap: truncation level (> 0).

    Returns:
        ``(B,)`` detached weights.
    """
    log_w = ((logp.detach() - behaviour_logp) * mask).sum(dim=1)  # (B,)
    return torch.exp(torch.clamp(log_w, max=torch.log(torch.tensor(cap)).item()))


def dpo_loss(chosen_logp: torch.Tensor, rejected_logp: torch.Tensor,
             ref_chosen_logp: torch.Tensor, ref_rejected_logp: torch.Tensor, beta: float,
             kind: DPOLoss = "sigmoid") -> tuple[torch.Tensor, torch.Tensor]:
    """Preference loss on sequence log-probabilities (each ``(B,)``, summed over tokens).

    With the log-ratio margin ``h = (log pi(y_w) - log pi_ref(y_w)) - (log pi(y_l) -
    log pi_ref(y_l))``:

    - ``"sigmoid"`` (DPO, Rafailov et al. 2023, eq. 7): ``-log sigmoid(beta * h)``;
    - ``"ipo"`` (IPO, Azar et al. 2023, eq. 17 with ``tau = beta``): ``(h - 1 / (2 beta))**2``.

    Returns:
        The mean loss and the mean implicit reward margin ``beta * h`` (detached).
    """
    h = (chosen_logp - ref_chosen_logp.detach()) - (rejected_logp - ref_rejected_logp.detach())
    if kind == "sigmoid":
        losses = -F.logsigmoid(beta * h)
    elif kind == "ipo":
        losses = (h - 1.0 / (2.0 * beta)) ** 2
    else:
        raise ValueError(f"dpo loss must be 'sigmoid' or 'ipo', got {kind!r}")
    return losses.mean(), (beta * h).detach().mean()
