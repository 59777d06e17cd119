"""Every estimator on problems whose answer is known, with a tiny Llama on the CPU.

The bandit: the prompt ``go`` is followed by one sampled token, whose reward is a fixed table;
the optimal policy puts all mass on the best token, and the expected reward of the policy is
computed exactly from its next-token distribution (no sampling in the check). With a KL
penalty of weight beta the optimum is known in closed form (pi* proportional to
pi_ref * exp(r / beta)) or, for the reverse KL that k3 in the loss optimises, by root finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

from accord.metrics.base import Metric
from accord.train.config import parse_config
from accord.train.data import PreferencePair
from accord.train.models import tiny_causal_lm
from accord.train.reward import MetricReward
from accord.train.trainer import Trainer

WORDS = ["go", "a", "b", "c", "d"]
REWARD = {"a": 0.0, "b": 0.3, "c": 1.0, "d": 0.5}
OPTIMUM = 1.0


def table_reward(prompts: list[str], completions: list[str], **_: Any) -> list[float]:
    return [REWARD.get(c, 0.0) for c in completions]


def make_trainer(tmp_path: Path, algorithm: dict[str, Any], optim: dict[str, Any] | None = None,
                 reward: Any = table_reward, **kwargs: Any) -> Trainer:
    torch.set_num_threads(1)
    model, tokenizer = tiny_causal_lm(WORDS, seed=0)
    config = parse_config({
        "model": {"chat": False},
        "algorithm": algorithm,
        "optim": {"steps": 40, "prompts_per_step": 2, "lr": 0.05, "max_new_tokens": 1,
                  **(optim or {})},
        "watch": {"every": 1000},
        "run": {"out_dir": str(tmp_path / "run"), "resume": False, "checkpoint_every": 1000},
    })
    kwargs.setdefault("train_rows", [{"prompt": "go"}])
    return Trainer(config, model=model, tokenizer=tokenizer, reward=reward,
                   device=torch.device("cpu"), **kwargs)


def next_token_probs(trainer: Trainer, model: Any = None, prompt: str = "go") -> torch.Tensor:
    ids = torch.tensor([trainer._prompt_ids(prompt)])
    with torch.no_grad():
        logits = (model or trainer.model)(input_ids=ids).logits[0, -1]
    return torch.softmax(logits.float(), dim=-1)


def expected_reward(trainer: Trainer, model: Any = None) -> float:
    probs = next_token_probs(trainer, model)
    return sum(float(probs[trainer.tokenizer.convert_tokens_to_ids(w)]) * r
               for w, r in REWARD.items())


@pytest.mark.parametrize("algorithm", [
    {"name": "reinforce", "baseline": "none", "samples_per_prompt": 8},
    {"name": "reinforce", "baseline": "mean", "samples_per_prompt": 8},
    {"name": "reinforce", "baseline": "loo", "samples_per_prompt": 8},
    {"name": "reinforce", "baseline": "value", "samples_per_prompt": 8},
    {"name": "reinforce", "baseline": "loo", "samples_per_prompt": 8, "replay_capacity": 64,
     "replay_per_step": 8, "importance_cap": 2.0},
    {"name": "ppo", "baseline": "loo", "samples_per_prompt": 8, "epochs": 4},
    {"name": "self_train", "samples_per_prompt": 8},
], ids=["reinforce-none", "reinforce-mean", "reinforce-loo", "reinforce-value",
        "reinforce-replay", "ppo", "self-train"])
def test_expected_reward_rises_to_the_optimum(tmp_path: Path, algorithm: dict[str, Any]
                                              ) -> None:
    trainer = make_trainer(tmp_path, algorithm)
    before = expected_reward(trainer)
    trainer.train()
    after = expected_reward(trainer)
    assert before < 0.5
    assert after > 0.9 * OPTIMUM
    log = trainer.log_rows
    # The logged (sampled) reward follows the exact expectation upwards.
    assert np.mean([r["reward_mean"] for r in log[-5:]]) > np.mean(
        [r["reward_mean"] for r in log[:5]])


def test_replay_uses_the_buffer_with_bounded_weights(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, {"name": "reinforce", "samples_per_prompt": 4,
                                      "replay_capacity": 16, "replay_per_step": 4},
                           {"steps": 6})
    trainer.train()
    assert [r["replayed"] for r in trainer.log_rows] == [0, 4, 4, 4, 4, 4]
    assert len(trainer.replay) == 16


def exact_kl(p: torch.Tensor, q: torch.Tensor) -> float:
    return float((p * (p / q).log()).sum())


def ppo_run(tmp_path: Path, clip_eps: float) -> tuple[Trainer, list[float]]:
    trainer = make_trainer(tmp_path / str(clip_eps),
                           {"name": "ppo", "samples_per_prompt": 8, "epochs": 4,
                            "clip_eps": clip_eps}, {"lr": 0.01})
    step_kls = []
    for _ in range(40):
        before = next_token_probs(trainer)
        trainer.train_step()
        step_kls.append(exact_kl(before, next_token_probs(trainer)))
    return trainer, step_kls


def test_ppo_clip_fraction_and_kl_stay_bounded(tmp_path: Path) -> None:
    trainer, step_kls = ppo_run(tmp_path, clip_eps=0.2)
    fractions = [r["clip_fraction"] for r in trainer.log_rows]
    assert all(0.0 <= f <= 0.6 for f in fractions)
    assert max(fractions) > 0.0  # the clip was active
    assert np.mean(fractions[-10:]) < 0.1  # and rarely needed once the policy has converged
    # Each batch of rollouts (4 epochs) moves the policy by a bounded amount; without the clip
    # (eps = 100) the same updates move it further.
    _, unclipped = ppo_run(tmp_path, clip_eps=100.0)
    assert max(step_kls) < 0.2
    assert max(step_kls) < 0.8 * max(unclipped)
    # The KL to the reference cannot exceed log(1 / pi_ref(best token)), which it approaches.
    ref = next_token_probs(trainer, trainer.ref_model)
    best = trainer.tokenizer.convert_tokens_to_ids("c")
    assert exact_kl(next_token_probs(trainer), ref) <= -float(ref[best].log()) + 1e-6
    assert expected_reward(trainer) > 0.9


def reverse_kl_optimum(ref: np.ndarray, rewards: np.ndarray, beta: float) -> np.ndarray:
    """argmax_pi E_pi[r] - beta KL(ref || pi): pi(v) = beta ref(v) / (lam - r(v))."""
    def excess(lam: float) -> float:
        return float(np.sum(beta * ref / (lam - rewards)) - 1.0)

    low = rewards.max() + 1e-12
    lam = brentq(excess, low + 1e-9, low + beta + 10.0)
    return beta * ref / (lam - rewards)


@pytest.mark.slow
@pytest.mark.parametrize(("kl_in", "estimator"), [("reward", "k1"), ("loss", "k2"),
                                                  ("loss", "k3")])
def test_kl_regularised_optimum(tmp_path: Path, kl_in: str, estimator: str) -> None:
    beta = 0.5
    trainer = make_trainer(
        tmp_path, {"name": "reinforce", "baseline": "loo", "samples_per_prompt": 32,
                   "kl_coef": beta, "kl_in": kl_in, "kl_estimator": estimator},
        {"steps": 250, "lr": 0.01, "grad_clip": None})
    ref = next_token_probs(trainer, trainer.ref_model).numpy().astype(float)
    rewards = np.zeros_like(ref)
    for word, value in REWARD.items():
        rewards[trainer.tokenizer.convert_tokens_to_ids(word)] = value
    # E[r] - beta KL(pi || ref) is maximised by pi* = ref exp(r / beta) / Z; k1 in the reward
    # and k2 in the loss both have its gradient. k3 in the loss has the gradient of the
    # reverse KL(ref || pi), whose optimum differs.
    forward_kl = ref * np.exp(rewards / beta)
    forward_kl /= forward_kl.sum()
    reverse_kl = reverse_kl_optimum(ref, rewards, beta)
    target, other = (reverse_kl, forward_kl) if estimator == "k3" else (forward_kl, reverse_kl)
    assert 0.5 * np.abs(target - other).sum() > 0.1  # the two optima are distinguishable
    trainer.train()
    policy = next_token_probs(trainer).numpy()
    tv_target = 0.5 * np.abs(policy - target).sum()
    tv_other = 0.5 * np.abs(policy - other).sum()
    assert 0.5 * np.abs(ref - target).sum() > 0.3
    assert tv_target < 0.075
    assert tv_target < tv_other / 2


def test_sft_learns_the_reference(tmp_path: Path) -> None:
    # max_new_tokens 2: the reference "d" and the end token.
    trainer = make_trainer(tmp_path, {"name": "sft"}, {"steps": 30, "max_new_tokens": 2},
                           train_rows=[{"prompt": "go", "reference": "d"}])
    token = trainer.tokenizer.convert_tokens_to_ids("d")
    before = float(next_token_probs(trainer)[token])
    trainer.train()
    assert before < 0.3
    assert float(next_token_probs(trainer)[token]) > 0.9
    losses = [r["loss"] for r in trainer.log_rows]
    assert losses[-1] < losses[0]


def test_warm_start_then_reinforce_resets_the_kl_anchor(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, {"name": "reinforce", "samples_per_prompt": 8,
                                      "warm_start_steps": 10},
                           {"steps": 1, "max_new_tokens": 2},
                           train_rows=[{"prompt": "go", "reference": "d"}])
    trainer.train()
    assert [r["phase"] for r in trainer.log_rows] == ["sft"] * 10 + ["reinforce"]
    # The reference model is the warm-started policy, which put most mass on "d".
    ref = next_token_probs(trainer, trainer.ref_model)
    assert float(ref[trainer.tokenizer.convert_tokens_to_ids("d")]) > 0.5


def test_dpo_raises_heldout_margin(tmp_path: Path) -> None:
    # Prompts p0..p7; on every prompt "a" is preferred to "b". Train on four prompts and
    # measure the implicit reward margin on the four others.
    words = [f"p{i}" for i in range(8)]

    def pairs(indices: range) -> list[PreferencePair]:
        return [PreferencePair(f"p{i}", "a", "b") for i in indices]

    torch.set_num_threads(1)
    model, tokenizer = tiny_causal_lm(words + ["a", "b", "c"], seed=1)
    for kind in ("sigmoid", "ipo"):
        config = parse_config({
            "model": {"chat": False},
            "algorithm": {"name": "dpo", "dpo_beta": 0.5, "dpo_loss": kind},
            "optim": {"steps": 25, "prompts_per_step": 4, "lr": 0.02},
            "watch": {"every": 5},
            "run": {"out_dir": str(tmp_path / kind), "resume": False},
        })
        trainer = Trainer(config, model=model, tokenizer=tokenizer, pairs=pairs(range(4)),
                          heldout_pairs=pairs(range(4, 8)), reward=table_reward,
                          device=torch.device("cpu"))
        start_margin, _ = trainer.heldout_margin()
        trainer.train()
        margin, accuracy = trainer.heldout_margin()
        assert start_margin == pytest.approx(0.0, abs=1e-6)  # policy = reference at start
        assert margin > 0.5
        assert accuracy >= 0.75
        assert trainer.watch_rows[-1]["heldout_margin"] == pytest.approx(margin)


class CountB(Metric):
    """Scores 0 and marks every "b" as an error of penalty 1 (a toy MQM judge)."""

    name = "count_b"
    needs_reference = False

    def score_segments(self, hyps: Any, refs: Any = None, srcs: Any = None) -> np.ndarray:
        return np.zeros(len(hyps))

    def error_spans(self, hyps: Any, refs: Any = None, srcs: Any = None
                    ) -> list[list[tuple[int, int, float]]]:
        spans = []
        for hyp in hyps:
            row, position = [], 0
            for word in hyp.split(" "):
                if word == "b":
                    row.append((position, position + 1, 1.0))
                position += len(word) + 1
            spans.append(row)
        return spans


def test_token_level_penalties_remove_the_penalised_token(tmp_path: Path) -> None:
    reward = MetricReward(CountB(), scale="none")
    trainer = make_trainer(tmp_path, {"name": "reinforce", "baseline": "mean",
                                      "samples_per_prompt": 8, "credit": "token"},
                           {"steps": 30, "max_new_tokens": 3}, reward=reward)
    b = trainer.tokenizer.convert_tokens_to_ids("b")
    before = float(next_token_probs(trainer)[b])
    trainer.train()
    assert float(next_token_probs(trainer)[b]) < before / 3
    # The last steps' samples hold (almost) no "b" at any position.
    late = trainer.rollout([{"prompt": "go"}], 16)[0]
    assert sum(s.completion_ids.count(b) for s in late) <= 2
