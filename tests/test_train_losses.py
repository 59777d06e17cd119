"""The shared losses and baselines against hand-worked values and brute-force loops."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from accord.train.estimators import (
    advantages_from_rewards,
    best_of_groups,
    leave_one_out_baseline,
)
from accord.train.losses import (
    clipped_surrogate_loss,
    discounted_returns,
    dpo_loss,
    kl_per_token,
    masked_mean,
    nll_loss,
    policy_gradient_loss,
    token_logprobs,
    truncated_importance_weights,
    value_loss,
)


def test_token_logprobs_by_hand() -> None:
    logits = torch.tensor([[[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]])  # (1, 2, 3)
    labels = torch.tensor([[2, 1]])
    expected = [3.0 - math.log(math.e + math.e**2 + math.e**3), -math.log(3.0)]
    assert token_logprobs(logits, labels)[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_masked_mean_ignores_masked_positions() -> None:
    values = torch.tensor([[1.0, 100.0], [3.0, 5.0]])
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert float(masked_mean(values, mask)) == pytest.approx(3.0)
    assert float(nll_loss(-values, mask)) == pytest.approx(3.0)


def test_kl_estimators_by_hand() -> None:
    # pi(x) = 0.5, pi_ref(x) = 0.25: log ratio = log 2, r = pi_ref / pi = 0.5.
    logp = torch.tensor([[math.log(0.5)]])
    ref = torch.tensor([[math.log(0.25)]])
    assert float(kl_per_token(logp, ref, "k1")) == pytest.approx(math.log(2))
    assert float(kl_per_token(logp, ref, "k2")) == pytest.approx(0.5 * math.log(2) ** 2)
    assert float(kl_per_token(logp, ref, "k3")) == pytest.approx(0.5 - 1 + math.log(2))
    with pytest.raises(ValueError, match="k1"):
        kl_per_token(logp, ref, "k4")  # type: ignore[arg-type]


def test_kl_estimators_expectations_match_exact_kl() -> None:
    # Over the full support, E_pi[k1] and E_pi[k3] equal KL(pi || pi_ref) exactly.
    p = np.array([0.5, 0.3, 0.2])
    q = np.array([0.2, 0.3, 0.5])
    exact = float(np.sum(p * np.log(p / q)))
    logp = torch.tensor(np.log(p))[None]
    ref = torch.tensor(np.log(q))[None]
    for estimator in ("k1", "k3"):
        weighted = float((torch.tensor(p)[None] * kl_per_token(logp, ref, estimator)).sum())
        assert weighted == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize(
    ("log_ratio", "advantage", "loss", "clipped"),
    [
        (0.5, 1.0, -1.2, 1.0),  # ratio 1.65 > 1.2 with A > 0: clipped at 1.2
        (0.5, -1.0, math.exp(0.5), 0.0),  # A < 0: the unclipped (worse) term is kept
        (math.log(0.5), 1.0, -0.5, 0.0),  # ratio 0.5 with A > 0: unclipped is smaller
        (math.log(0.5), -1.0, 0.8, 1.0),  # ratio 0.5 with A < 0: clipped at 0.8
        (0.0, 2.0, -2.0, 0.0),  # ratio 1: plain surrogate
    ],
)
def test_clipped_surrogate_by_hand(log_ratio: float, advantage: float, loss: float,
                                   clipped: float) -> None:
    old = torch.tensor([[-1.0]])
    logp = old + log_ratio
    out, fraction = clipped_surrogate_loss(logp, old, torch.tensor([[advantage]]),
                                           torch.ones(1, 1), clip_eps=0.2)
    assert float(out) == pytest.approx(loss, rel=1e-6)
    assert float(fraction) == clipped


def test_clipped_surrogate_gradient_is_zero_when_clipped() -> None:
    old = torch.tensor([[-1.0, -1.0]])
    logp = (old + torch.tensor([[0.5, 0.0]])).requires_grad_(True)
    loss, fraction = clipped_surrogate_loss(logp, old, torch.tensor([[1.0, 1.0]]),
                                            torch.ones(1, 2), 0.2)
    loss.backward()
    assert logp.grad is not None
    # Token 0 is clipped (no gradient); token 1 has ratio 1: d(-ratio * A / 2)/dlogp = -0.5.
    assert logp.grad[0].tolist() == pytest.approx([0.0, -0.5])
    assert float(fraction) == 0.5


def test_policy_gradient_loss_gradient_by_hand() -> None:
    logp = torch.tensor([[-1.0, -2.0], [-0.5, 0.0]], requires_grad=True)
    advantages = torch.tensor([[2.0, 2.0], [-1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    weights = torch.tensor([1.0, 0.5])
    loss = policy_gradient_loss(logp, advantages, mask, weights)
    # -(2*-1 + 2*-2 + 0.5*-1*-0.5) / 3
    assert float(loss.detach()) == pytest.approx(-(-2.0 - 4.0 + 0.25) / 3)
    loss.backward()
    assert logp.grad is not None
    assert logp.grad.flatten().tolist() == pytest.approx([-2 / 3, -2 / 3, 0.5 / 3, 0.0])


def test_value_loss_by_hand() -> None:
    values = torch.tensor([[1.0, 2.0]])
    returns = torch.tensor([[0.0, 0.0]])
    assert float(value_loss(values, returns, torch.ones(1, 2))) == pytest.approx(0.5 * 2.5)


def test_discounted_returns_by_hand() -> None:
    # Row 0: prompt column then 3 completion tokens with the reward on the last.
    rewards = torch.tensor([[0.0, 0.0, 0.0, 1.0], [0.0, -1.0, 2.0, 0.0]])
    mask = torch.tensor([[0.0, 1.0, 1.0, 1.0], [1.0, 1.0, 1.0, 0.0]])
    out = discounted_returns(rewards, mask, gamma=0.5)
    assert out[0].tolist() == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert out[1].tolist() == pytest.approx([0.0 + 0.5 * (-1 + 0.5 * 2), -1 + 0.5 * 2, 2.0,
                                             0.0])


def test_truncated_importance_weights_by_hand() -> None:
    behaviour = torch.tensor([[-1.0, -1.0], [-1.0, -1.0]])
    logp = behaviour + torch.tensor([[math.log(3.0), 0.0], [math.log(0.5), 5.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    weights = truncated_importance_weights(logp, behaviour, mask, cap=2.0)
    assert weights.tolist() == pytest.approx([2.0, 0.5])


def test_dpo_losses_by_hand() -> None:
    chosen, rejected = torch.tensor([-1.0]), torch.tensor([-2.0])
    ref_chosen, ref_rejected = torch.tensor([-1.5]), torch.tensor([-1.5])
    # h = (-1 + 1.5) - (-2 + 1.5) = 1
    loss, margin = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.1)
    assert float(loss) == pytest.approx(math.log1p(math.exp(-0.1)))
    assert float(margin) == pytest.approx(0.1)
    loss, _ = dpo_loss(chosen, rejected, ref_chosen, ref_rejected, beta=0.1, kind="ipo")
    assert float(loss) == pytest.approx((1.0 - 1.0 / 0.2) ** 2)


def test_leave_one_out_baseline_against_loops() -> None:
    rng = np.random.default_rng(3)
    returns = rng.normal(size=9)
    groups = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    expected = [np.mean([returns[j] for j in range(9) if groups[j] == groups[i] and j != i])
                for i in range(9)]
    out = leave_one_out_baseline(torch.tensor(returns), torch.tensor(groups))
    assert out.tolist() == pytest.approx(expected)
    lonely = leave_one_out_baseline(torch.tensor([1.0, 2.0]), torch.tensor([0, 1]))
    assert lonely.tolist() == [0.0, 0.0]


def test_advantages_sequence_reward_on_last_token() -> None:
    mask = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    rewards = torch.tensor([1.0, 3.0])
    groups = torch.tensor([0, 0])
    adv, returns = advantages_from_rewards(rewards, torch.zeros(2, 3), mask, groups, 1.0, "loo")
    assert returns.tolist() == [[0.0, 1.0, 1.0], [3.0, 3.0, 0.0]]
    assert adv.tolist() == [[0.0, -2.0, -2.0], [2.0, 2.0, 0.0]]
    adv, _ = advantages_from_rewards(rewards, torch.zeros(2, 3), mask, groups, 1.0, "mean")
    assert adv.tolist() == [[0.0, -1.0, -1.0], [1.0, 1.0, 0.0]]
    values = torch.tensor([[0.0, 0.5, 0.25], [1.0, 2.0, 0.0]])
    adv, _ = advantages_from_rewards(rewards, torch.zeros(2, 3), mask, groups, 1.0, "value",
                                     values)
    assert adv.tolist() == [[0.0, 0.5, 0.75], [2.0, 1.0, 0.0]]


def test_best_of_groups() -> None:
    assert best_of_groups([0.1, 0.5, float("nan"), 0.2, 0.2], [0, 0, 1, 1, 1]) == [1, 3]
