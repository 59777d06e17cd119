"""accord's trainer for causal LMs: SFT, self-training, REINFORCE, PPO and DPO on one code path.

One trainer step is one batch: of rollouts (``self_train``, ``reinforce``, ``ppo``: prompts,
``samples_per_prompt`` completions each, scored by the reward), of references (``sft``, and the
warm start before any other algorithm) or of preference pairs (``dpo``). The same code runs on
CUDA (forward passes under bf16 autocast, float32 master weights) and on the CPU (float32).

Outputs in ``run.out_dir``: ``log.jsonl`` and ``log.csv`` (one row per step), ``watch.jsonl``
(the reward-hacking watch, see :mod:`accord.train.watch`), ``checkpoint.pt`` (model, reference
model when it differs from the starting weights, value head, optimizer, random-number states,
step, data order and replay buffer), and TensorBoard events when asked for and installed. A
run whose ``out_dir`` holds a checkpoint resumes from it (unless ``run.resume`` is false).

Randomness: ``run.seed`` seeds torch's global generator (sampling), a numpy Generator (prompt
order, replay draws, minibatches) and nothing else; both states are checkpointed, so a resumed
run continues the same random streams. The watch samples under a forked torch generator with a
fixed seed, so it neither disturbs training nor varies between watch points.
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from accord.errors import ConfigError
from accord.train.config import TrainConfig
from accord.train.data import PreferencePair, load_preference_pairs, prompt_rows, read_jsonl
from accord.train.estimators import SAMPLING_ALGORITHMS, advantages_from_rewards, policy_loss
from accord.train.estimators import best_of_groups as best_of_groups
from accord.train.losses import dpo_loss, kl_per_token, masked_mean, nll_loss, value_loss
from accord.train.models import default_device, load_model, stop_token_ids
from accord.train.reward import MetricReward
from accord.train.rollout import (
    Batch,
    ReplayBuffer,
    Sample,
    collate,
    encode_prompt,
    forward,
    generate,
    spans_to_token_penalties,
    token_char_ends,
)

logger = logging.getLogger(__name__)

RewardFn = Callable[..., Sequence[float | None]]

LOG_FIELDS = [
    "step", "phase", "reward_mean", "reward_std", "kl", "loss", "policy_loss", "kl_loss",
    "value_loss", "clip_fraction", "dpo_margin", "tokens_per_second", "step_seconds",
    "optimizer_steps", "samples", "replayed", "no_reward", "kept", "completion_tokens",
]
_WATCH_SEED_OFFSET = 1_000_003


@dataclass
class TrainResult:
    """What a finished run leaves: its folder and the logged rows."""

    out_dir: Path
    log: list[dict[str, Any]] = field(default_factory=list)
    watch: list[dict[str, Any]] = field(default_factory=list)


def _nan_stats(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return float(np.mean(finite)), float(np.std(finite))


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Trainer:
    """Train a causal LM with a metric (or any TRL-style reward function) as the reward.

    Args:
        config: the validated run configuration.
        model, tokenizer: the policy and its tokenizer (default: loaded from ``config.model``).
        reward: a reward function in TRL's convention (default: ``config.reward``'s metric
            wrapped by :class:`~accord.train.reward.MetricReward`).
        train_rows, heldout_rows: prompt rows (default: from ``config.data``).
        pairs, heldout_pairs: preference pairs for DPO (default: from
            ``config.data.preferences_file``).
        watch_metrics: held-out metrics by name (default: created from ``config.watch``).
        device: where to train (default: CUDA when present, else CPU).
    """

    def __init__(self, config: TrainConfig, *, model: Any = None, tokenizer: Any = None,
                 reward: RewardFn | None = None,
                 train_rows: Sequence[dict[str, Any]] | None = None,
                 heldout_rows: Sequence[dict[str, Any]] | None = None,
                 pairs: Sequence[PreferencePair] | None = None,
                 heldout_pairs: Sequence[PreferencePair] | None = None,
                 watch_metrics: dict[str, Any] | None = None,
                 device: torch.device | None = None) -> None:
        self.config = cfg = config
        algo = cfg.algorithm
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.device = device or default_device()
        torch.manual_seed(cfg.run.seed)
        self.rng = np.random.default_rng(cfg.run.seed)

        # 1. Policy, reference model, value head, optimizer.
        if model is None:
            model, tokenizer = load_model(cfg.model.name, cfg.model.gguf_file, self.device)
        if tokenizer is None:
            raise ConfigError("Trainer: a model was passed without its tokenizer")
        self.model = model.to(self.device)
        self.tokenizer = tokenizer
        self.chat = (cfg.model.chat if cfg.model.chat is not None
                     else bool(getattr(tokenizer, "chat_template", None)))
        self.stop_ids = stop_token_ids(model, tokenizer)
        vocab = tokenizer.get_vocab()
        self.end_id = (int(vocab["<|im_end|>"]) if self.chat and "<|im_end|>" in vocab
                       else int(tokenizer.eos_token_id))
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                          else tokenizer.eos_token_id)
        self.ref_model = copy.deepcopy(self.model).eval()
        for p in self.ref_model.parameters():
            p.requires_grad_(False)
        self.value_head: torch.nn.Linear | None = None
        groups: list[dict[str, Any]] = [{"params": [p for p in self.model.parameters()
                                                     if p.requires_grad], "lr": cfg.optim.lr}]
        if algo.name in ("reinforce", "ppo") and algo.baseline == "value":
            hidden = int(self.model.config.hidden_size)
            self.value_head = torch.nn.Linear(hidden, 1).to(self.device)
            torch.nn.init.zeros_(self.value_head.weight)
            torch.nn.init.zeros_(self.value_head.bias)
            groups.append({"params": list(self.value_head.parameters()),
                           "lr": cfg.optim.value_lr})
        self.optimizer = torch.optim.AdamW(groups, weight_decay=cfg.optim.weight_decay)

        # 2. Reward, data, watch metrics.
        self.reward: RewardFn = reward if reward is not None else MetricReward(
            cfg.reward.metric, metric_params=cfg.reward.params, scale=cfg.reward.scale,
            low=cfg.reward.low, high=cfg.reward.high, factor=cfg.reward.factor,
            offset=cfg.reward.offset, reference_column=cfg.reward.reference_column,
            store=self._store_path())
        self.train_rows = list(train_rows) if train_rows is not None else self._rows("train")
        self.heldout_rows = (list(heldout_rows) if heldout_rows is not None
                             else self._rows("heldout"))
        self.pairs, self.heldout_pairs = self._pairs(pairs, heldout_pairs)
        needs_rows = algo.name != "dpo" or algo.warm_start_steps > 0
        if needs_rows and not self.train_rows:
            raise ConfigError("no training prompts: set data.train or data.train_file")
        if algo.credit == "token" and not getattr(self.reward, "gives_spans", False):
            raise ConfigError("algorithm.credit = 'token' needs a reward whose metric gives "
                              "error spans (an MQM-style judge); this reward gives none")
        self.watch_metrics, self.unavailable_metrics = self._watch_metrics(watch_metrics)

        # 3. State that checkpoints carry.
        self.step = 0
        self.optimizer_steps = 0
        self.replay = ReplayBuffer(max(algo.replay_capacity, 1))
        self._order: list[int] = []
        self._cursor = 0
        self._truncated_prompts = 0
        self._truncated_texts = 0
        self.out_dir = Path(cfg.run.out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.checkpoint_path = self.out_dir / "checkpoint.pt"
        self.log_rows: list[dict[str, Any]] = []
        self.watch_rows: list[dict[str, Any]] = []
        if cfg.run.resume and self.checkpoint_path.exists():
            self.load_checkpoint()
        else:
            for name in ("log.jsonl", "log.csv", "watch.jsonl"):
                (self.out_dir / name).unlink(missing_ok=True)
        self._tensorboard = self._open_tensorboard()
        self._write_run_record()

    # -- set-up helpers ------------------------------------------------------------------

    def _store_path(self) -> str | None:
        store = self.config.reward.store
        if store == "default":
            from accord.store import default_store_path

            return str(default_store_path())
        return store

    def _rows(self, which: str) -> list[dict[str, Any]]:
        data = self.config.data
        inline = data.train if which == "train" else data.heldout
        path = data.train_file if which == "train" else data.heldout_file
        rows = list(inline)
        if path is not None:
            rows += read_jsonl(path)
        return prompt_rows(rows, data.prompt_template, str(path or f"data.{which}"))

    def _pairs(self, pairs: Sequence[PreferencePair] | None,
               heldout: Sequence[PreferencePair] | None
               ) -> tuple[list[PreferencePair], list[PreferencePair]]:
        data = self.config.data
        if pairs is not None:
            return list(pairs), list(heldout or [])
        if data.preferences_file is None:
            if self.config.algorithm.name == "dpo":
                raise ConfigError("algorithm 'dpo' needs data.preferences_file")
            return [], []
        loaded = load_preference_pairs(data.preferences_file, limit=data.max_pairs)
        if len(loaded) <= data.heldout_pairs:
            raise ConfigError(f"{data.preferences_file}: {len(loaded)} pairs, not more than "
                              f"data.heldout_pairs = {data.heldout_pairs}")
        return loaded[:-data.heldout_pairs], loaded[-data.heldout_pairs:]

    def _watch_metrics(self, given: dict[str, Any] | None
                       ) -> tuple[dict[str, Any], dict[str, str]]:
        if given is not None:
            return dict(given), {}
        from accord.metrics import create_metric

        metrics: dict[str, Any] = {}
        unavailable: dict[str, str] = {}
        for spec in self.config.watch.metrics:
            try:
                metrics[spec.name] = create_metric(spec.name, **spec.params)
            except (ConfigError, ImportError, OSError) as exc:
                # A held-out metric that cannot run here leaves the watch thinner, not broken.
                logger.warning("watch metric %r is not available: %s", spec.name, exc)
                unavailable[spec.name] = str(exc)
        return metrics, unavailable

    def _write_run_record(self) -> None:
        """``run.json``: the config and what the report needs to read the logs."""
        specs = {spec.name: spec for spec in self.config.watch.metrics}
        metrics = {}
        for name, metric in self.watch_metrics.items():
            spec = specs.get(name)
            direction = spec.direction if spec is not None else None
            tolerance = spec.tolerance if spec is not None else None
            if direction is None:
                direction = ("none" if name == "length_ratio" else
                             "higher" if getattr(metric, "higher_is_better", True) else "lower")
            metrics[name] = {"direction": direction,
                             "tolerance": (self.config.watch.tolerance if tolerance is None
                                           else tolerance),
                             "signature": getattr(metric, "signature", name)}
        record = {
            "config": self.config.model_dump(mode="json"),
            "device": str(self.device),
            "reward_signature": getattr(self.reward, "signature", repr(self.reward)),
            "watch_metrics": metrics,
            "unavailable_metrics": self.unavailable_metrics,
            "watch": {"tolerance": self.config.watch.tolerance,
                      "patience": self.config.watch.patience},
        }
        (self.out_dir / "run.json").write_text(json.dumps(record, indent=2), encoding="utf-8")

    def _open_tensorboard(self) -> Any:
        if not self.config.run.tensorboard:
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.warning("run.tensorboard is on but tensorboard is not installed; "
                           "the JSONL and CSV logs are written as always")
            return None
        return SummaryWriter(str(self.out_dir / "tensorboard"))

    # -- data ----------------------------------------------------------------------------

    def _next_rows(self, n: int) -> list[dict[str, Any]]:
        """The next ``n`` training rows of a reshuffled-each-epoch order."""
        rows = []
        for _ in range(n):
            if self._cursor >= len(self._order):
                self._order = [int(i) for i in self.rng.permutation(len(self.train_rows))]
                self._cursor = 0
            rows.append(self.train_rows[self._order[self._cursor]])
            self._cursor += 1
        return rows

    def _prompt_ids(self, prompt: str, chat: bool | None = None) -> list[int]:
        ids = encode_prompt(self.tokenizer, prompt, self.chat if chat is None else chat)
        limit = self.config.optim.max_prompt_tokens
        if len(ids) > limit:
            self._truncated_prompts += 1
            ids = ids[-limit:]
        return ids

    def _text_ids(self, text: str) -> list[int]:
        """Token ids of a reference or preferred reply, cut to fit ``max_new_tokens`` with the
        end token (cuts are counted and logged at the end of training)."""
        ids = [int(i) for i in self.tokenizer(text, add_special_tokens=False)["input_ids"]]
        room = self.config.optim.max_new_tokens - 1
        if len(ids) > room:
            self._truncated_texts += 1
            ids = ids[:room]
        return ids + [self.end_id]

    # -- rollouts ------------------------------------------------------------------------

    def rollout(self, rows: Sequence[dict[str, Any]], k: int) -> tuple[list[Sample], float]:
        """Sample ``k`` completions per row and score them.

        Returns:
            The samples (``k`` per row, consecutive, ``group`` = row index) and the
            generation throughput in completion tokens per second.
        """
        cfg, algo = self.config, self.config.algorithm
        expanded = [row for row in rows for _ in range(k)]
        group_of = [g for g in range(len(rows)) for _ in range(k)]
        prompt_ids = [self._prompt_ids(row["prompt"]) for row in expanded]

        # 1. Generate.
        self.model.eval()
        started = time.perf_counter()
        completion_ids = generate(self.model, prompt_ids, cfg.optim.max_new_tokens,
                                  cfg.optim.temperature, self.pad_id, self.stop_ids)
        seconds = time.perf_counter() - started
        n_tokens = sum(len(c) for c in completion_ids)
        texts = [self.tokenizer.decode(c, skip_special_tokens=True) for c in completion_ids]

        # 2. Behaviour and reference log-probabilities of what was sampled.
        # An empty completion has nothing to learn from; give it the stop token so every row
        # has at least one token (generate() never returns one, but a caller's model might).
        completion_ids = [c or [self.end_id] for c in completion_ids]
        batch = collate(prompt_ids, completion_ids, self.pad_id, self.device)
        with torch.no_grad():
            logp, values = forward(self.model, batch, self.value_head)
            ref_logp, _ = forward(self.ref_model, batch)
        beh = batch.gather(logp)
        ref = batch.gather(ref_logp)

        # 3. Rewards (and error spans for token-level credit).
        prompts = [row["prompt"] for row in expanded]
        columns = {key: [row.get(key) for row in expanded]
                   for key in rows[0] if key != "prompt"} if rows else {}
        raw = list(self.reward(prompts=prompts, completions=texts, **columns))
        if len(raw) != len(texts):
            raise ConfigError(f"the reward returned {len(raw)} values for {len(texts)} "
                              "completions; it must return one per completion")
        rewards = [math.nan if r is None else float(r) for r in raw]
        penalties = [[0.0] * len(c) for c in completion_ids]
        if algo.credit == "token":
            spans = self.reward.error_spans(prompts, texts, **columns)  # type: ignore[attr-defined]
            penalties = [spans_to_token_penalties(s, token_char_ends(self.tokenizer, c))
                         for s, c in zip(spans, completion_ids, strict=True)]
        samples = [
            Sample(prompt=prompts[i], completion=texts[i], prompt_ids=prompt_ids[i],
                   completion_ids=completion_ids[i], behaviour_logp=beh[i], ref_logp=ref[i],
                   reward=rewards[i], token_rewards=penalties[i], group=group_of[i],
                   step=self.step,
                   columns={key: values_[i] for key, values_ in columns.items()})
            for i in range(len(texts))
        ]
        if values is not None:
            for sample, v in zip(samples, batch.gather(values), strict=True):
                sample.values = v
        return samples, n_tokens / max(seconds, 1e-9)

    def _batch(self, samples: Sequence[Sample]) -> Batch:
        return collate([s.prompt_ids for s in samples], [s.completion_ids for s in samples],
                       self.pad_id, self.device)

    @staticmethod
    def _sequence_kl(samples: Sequence[Sample]) -> float:
        """Mean over samples of the summed per-token k3 estimate of KL(policy || reference)."""
        if not samples or not samples[0].ref_logp:
            return math.nan
        totals = [float(kl_per_token(torch.tensor(s.behaviour_logp), torch.tensor(s.ref_logp),
                                     "k3").sum()) for s in samples]
        return float(np.mean(totals))

    # -- one optimizer update ------------------------------------------------------------

    def _apply(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.config.optim.grad_clip
        if clip is not None:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, clip)
        self.optimizer.step()
        self.optimizer_steps += 1

    # -- steps ---------------------------------------------------------------------------

    def _sft_step(self) -> dict[str, Any]:
        rows = self._next_rows(self.config.optim.prompts_per_step)
        column = self.config.reward.reference_column
        prompt_ids, completion_ids = [], []
        for row in rows:
            ref = row.get(column)
            text = ref if isinstance(ref, str) else (ref[0] if ref else None)
            if text is None:
                raise ConfigError(f"SFT needs a {column!r} in every row; a row has none: "
                                  f"{row.get('prompt')!r}")
            prompt_ids.append(self._prompt_ids(row["prompt"]))
            completion_ids.append(self._text_ids(text))
        self.model.train()
        batch = collate(prompt_ids, completion_ids, self.pad_id, self.device)
        logp, _ = forward(self.model, batch)
        loss = nll_loss(logp, batch.mask)
        self._apply(loss)
        return {"loss": float(loss.detach()), "samples": len(rows),
                "completion_tokens": float(batch.mask.sum()) / len(rows)}

    def _self_train_step(self) -> dict[str, Any]:
        algo = self.config.algorithm
        rows = self._next_rows(self.config.optim.prompts_per_step)
        samples, tps = self.rollout(rows, algo.samples_per_prompt)
        rewards = [s.reward for s in samples]
        keep = best_of_groups(rewards, [s.group for s in samples])
        if algo.self_train_min_reward is not None:
            keep = [i for i in keep if rewards[i] >= algo.self_train_min_reward]
        mean, std = _nan_stats(rewards)
        stats: dict[str, Any] = {"reward_mean": mean, "reward_std": std,
                                 "kl": self._sequence_kl(samples), "tokens_per_second": tps,
                                 "samples": len(samples), "kept": len(keep),
                                 "no_reward": sum(not math.isfinite(r) for r in rewards)}
        if not keep:
            logger.warning("step %d: no sample reached self_train_min_reward; no update",
                           self.step)
            return stats
        self.model.train()
        chosen = [samples[i] for i in keep]
        for _ in range(algo.epochs):
            batch = self._batch(chosen)
            logp, _ = forward(self.model, batch)
            loss = nll_loss(logp, batch.mask)
            self._apply(loss)
        stats["loss"] = float(loss.detach())
        return stats

    def _policy_step(self) -> dict[str, Any]:
        algo = self.config.algorithm
        rows = self._next_rows(self.config.optim.prompts_per_step)
        samples, tps = self.rollout(rows, algo.samples_per_prompt)
        rewards = [s.reward for s in samples]
        mean, std = _nan_stats(rewards)
        stats: dict[str, Any] = {"reward_mean": mean, "reward_std": std,
                                 "kl": self._sequence_kl(samples), "tokens_per_second": tps,
                                 "samples": len(samples),
                                 "completion_tokens": float(np.mean([len(s.completion_ids)
                                                                     for s in samples]))}

        # 1. Drop what has no reward (counted), put KL into the rewards if asked.
        fresh = [s for s in samples if math.isfinite(s.reward)]
        stats["no_reward"] = len(samples) - len(fresh)
        if not fresh:
            logger.warning("step %d: no completion has a reward; no update", self.step)
            return stats
        if algo.kl_in == "reward" and algo.kl_coef > 0:
            for s in fresh:
                kl = kl_per_token(torch.tensor(s.behaviour_logp), torch.tensor(s.ref_logp),
                                  algo.kl_estimator)
                s.token_rewards = [r - algo.kl_coef * float(k)
                                   for r, k in zip(s.token_rewards, kl, strict=True)]

        # 2. Returns and advantages of the fresh samples.
        batch = self._batch(fresh)
        values = batch.per_token([s.values for s in fresh]) if self.value_head else None
        advantages, returns = advantages_from_rewards(
            torch.tensor([s.reward for s in fresh], device=self.device),
            batch.per_token([s.token_rewards for s in fresh]), batch.mask,
            torch.tensor([s.group for s in fresh], device=self.device), algo.gamma,
            algo.baseline, values)
        for s, a, g in zip(fresh, batch.gather(advantages), batch.gather(returns), strict=True):
            s.advantages, s.returns = a, g

        # 3. Mix in replayed samples, then update for `epochs` passes over minibatches.
        replayed = self.replay.draw(algo.replay_per_step, self.rng) if algo.replay_per_step \
            else []
        if algo.replay_capacity:
            self.replay.add(fresh)
        train = fresh + replayed
        size = algo.minibatch_size or len(train)
        totals: dict[str, list[float]] = {"loss": [], "policy_loss": [], "kl_loss": [],
                                          "value_loss": [], "clip_fraction": []}
        self.model.train()
        for _ in range(algo.epochs):
            order = self.rng.permutation(len(train))
            for start in range(0, len(train), size):
                part = [train[int(i)] for i in order[start:start + size]]
                parts = self._policy_loss(part)
                self._apply(parts["loss"])
                for key, value in parts.items():
                    totals[key].append(float(value.detach()))
        stats.update({key: float(np.mean(v)) if v else math.nan for key, v in totals.items()})
        stats["replayed"] = len(replayed)
        return stats

    def _policy_loss(self, samples: Sequence[Sample]) -> dict[str, torch.Tensor]:
        algo = self.config.algorithm
        batch = self._batch(samples)
        logp, values = forward(self.model, batch, self.value_head)
        behaviour = batch.per_token([s.behaviour_logp for s in samples])
        advantages = batch.per_token([s.advantages for s in samples])
        pi_loss, clip_fraction = policy_loss(algo.name, logp, behaviour, advantages, batch.mask,
                                             algo.clip_eps, algo.importance_cap)
        loss = pi_loss
        kl_loss = torch.zeros(())
        if algo.kl_in == "loss" and algo.kl_coef > 0:
            ref = batch.per_token([s.ref_logp for s in samples])
            kl_loss = masked_mean(kl_per_token(logp, ref, algo.kl_estimator), batch.mask)
            loss = loss + algo.kl_coef * kl_loss
        v_loss = torch.zeros(())
        if values is not None:
            v_loss = value_loss(values, batch.per_token([s.returns for s in samples]),
                                batch.mask)
            loss = loss + algo.value_coef * v_loss
        return {"loss": loss, "policy_loss": pi_loss.detach(), "kl_loss": kl_loss.detach(),
                "value_loss": v_loss.detach(), "clip_fraction": clip_fraction}

    def _pair_logps(self, pairs: Sequence[PreferencePair], model: Any
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed completion log-probabilities ``(B,)`` of chosen and rejected replies.

        A pair's prompt is a whole dialogue already in its own format (HH-RLHF's
        ``Human:``/``Assistant:`` turns), so it is encoded as plain text, not through the chat
        template.
        """
        prompt_ids = [self._prompt_ids(p.prompt, chat=False) for p in pairs]
        completions = ([self._text_ids(p.chosen) for p in pairs]
                       + [self._text_ids(p.rejected) for p in pairs])
        batch = collate(prompt_ids + prompt_ids, completions, self.pad_id, self.device)
        logp, _ = forward(model, batch)
        sums = (logp * batch.mask).sum(dim=1)  # (2B,)
        return sums[:len(pairs)], sums[len(pairs):]

    def _dpo_step(self) -> dict[str, Any]:
        algo = self.config.algorithm
        n = self.config.optim.prompts_per_step
        picks = self.rng.choice(len(self.pairs), size=min(n, len(self.pairs)), replace=False)
        pairs = [self.pairs[int(i)] for i in picks]
        self.model.train()
        with torch.no_grad():
            ref_c, ref_r = self._pair_logps(pairs, self.ref_model)
        pol_c, pol_r = self._pair_logps(pairs, self.model)
        loss, margin = dpo_loss(pol_c, pol_r, ref_c, ref_r, algo.dpo_beta, algo.dpo_loss)
        self._apply(loss)
        return {"loss": float(loss.detach()), "dpo_margin": float(margin), "samples": len(pairs)}

    def heldout_margin(self) -> tuple[float, float]:
        """Mean implicit reward margin ``beta * h`` and accuracy (margin > 0) on held-out pairs."""
        if not self.heldout_pairs:
            return math.nan, math.nan
        beta = self.config.algorithm.dpo_beta
        self.model.eval()
        with torch.no_grad():
            pol_c, pol_r = self._pair_logps(self.heldout_pairs, self.model)
            ref_c, ref_r = self._pair_logps(self.heldout_pairs, self.ref_model)
        margins = beta * ((pol_c - ref_c) - (pol_r - ref_r))
        return float(margins.mean()), float((margins > 0).float().mean())

    def phase(self) -> str:
        """The algorithm of the current step (``sft`` during the warm start)."""
        algo = self.config.algorithm
        return "sft" if self.step < algo.warm_start_steps else algo.name

    def train_step(self) -> dict[str, Any]:
        """Run one trainer step and log it; returns the logged row."""
        algo = self.config.algorithm
        phase = self.phase()
        if algo.warm_start_steps and self.step == algo.warm_start_steps:
            # The KL anchor is the policy the main algorithm starts from.
            self.ref_model.load_state_dict(self.model.state_dict())
        started = time.perf_counter()
        if phase == "sft":
            stats = self._sft_step()
        elif phase == "self_train":
            stats = self._self_train_step()
        elif phase == "dpo":
            stats = self._dpo_step()
        else:
            stats = self._policy_step()
        self.step += 1
        row: dict[str, Any] = {key: math.nan for key in LOG_FIELDS}
        row.update(stats)
        row.update(step=self.step, phase=phase, optimizer_steps=self.optimizer_steps,
                   step_seconds=time.perf_counter() - started)
        self._log(row)
        return row

    # -- the watch -----------------------------------------------------------------------

    def run_watch(self) -> dict[str, Any]:
        """Score held-out prompts with the training reward and the watch metrics; log KL."""
        from accord.train.watch import score_heldout

        cfg = self.config
        row: dict[str, Any] = {"step": self.step}
        if self.heldout_rows:
            rows = self.heldout_rows[:cfg.watch.prompts]
            devices = [self.device.index or 0] if self.device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(cfg.run.seed + _WATCH_SEED_OFFSET)
                samples, _ = self.rollout(rows, cfg.watch.samples_per_prompt)
            row.update(score_heldout(samples, self.watch_metrics, cfg.reward.reference_column))
            row["kl"] = self._sequence_kl(samples)
        if self.heldout_pairs:
            row["heldout_margin"], row["heldout_pair_accuracy"] = self.heldout_margin()
        with (self.out_dir / "watch.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({k: _jsonable(v) for k, v in row.items()}) + "\n")
        self.watch_rows.append(row)
        if self._tensorboard is not None:
            for key, value in row.items():
                if isinstance(value, float) and math.isfinite(value):
                    self._tensorboard.add_scalar(f"watch/{key}", value, self.step)
        logger.info("watch at step %d: %s", self.step,
                    {k: v for k, v in row.items() if isinstance(v, float)})
        return row

    # -- the loop ------------------------------------------------------------------------

    @property
    def total_steps(self) -> int:
        return self.config.algorithm.warm_start_steps + self.config.optim.steps

    def train(self) -> TrainResult:
        """Train until ``total_steps``, watching and checkpointing on the way."""
        cfg = self.config
        if self.step == 0 and not self.watch_rows:
            self.run_watch()
        while self.step < self.total_steps:
            row = self.train_step()
            logger.info("step %d/%d %s: reward %.4f kl %.4f loss %.4f", self.step,
                        self.total_steps, row["phase"], row["reward_mean"], row["kl"],
                        row["loss"])
            if self.step % cfg.watch.every == 0 or self.step == self.total_steps:
                self.run_watch()
            if self.step % cfg.run.checkpoint_every == 0 or self.step == self.total_steps:
                self.save_checkpoint()
        if self._truncated_prompts:
            logger.warning("%d prompt(s) were longer than optim.max_prompt_tokens = %d and kept "
                           "only their last tokens", self._truncated_prompts,
                           cfg.optim.max_prompt_tokens)
        if self._truncated_texts:
            logger.warning("%d reference or preference text(s) were longer than "
                           "optim.max_new_tokens = %d and were cut", self._truncated_texts,
                           cfg.optim.max_new_tokens)
        if self._tensorboard is not None:
            self._tensorboard.close()
        return TrainResult(self.out_dir, list(self.log_rows), list(self.watch_rows))

    def _log(self, row: dict[str, Any]) -> None:
        self.log_rows.append(row)
        with (self.out_dir / "log.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({k: _jsonable(v) for k, v in row.items()}) + "\n")
        self._write_csv()
        if self._tensorboard is not None:
            for key, value in row.items():
                if isinstance(value, float) and math.isfinite(value):
                    self._tensorboard.add_scalar(f"train/{key}", value, self.step)

    def _write_csv(self) -> None:
        with (self.out_dir / "log.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(self.log_rows)

    # -- checkpoints ---------------------------------------------------------------------

    def save_checkpoint(self) -> Path:
        """Write everything a resumed run needs to ``checkpoint.pt`` (atomically)."""
        state: dict[str, Any] = {
            "step": self.step,
            "optimizer_steps": self.optimizer_steps,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "value_head": self.value_head.state_dict() if self.value_head else None,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "numpy_rng": self.rng.bit_generator.state,
            "order": list(self._order),
            "cursor": self._cursor,
            "replay": self.replay.state_dict(),
            "config": self.config.model_dump(mode="json"),
        }
        if self.config.algorithm.warm_start_steps and self.step > \
                self.config.algorithm.warm_start_steps:
            state["ref_model"] = self.ref_model.state_dict()
        tmp = self.checkpoint_path.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)
        logger.info("checkpoint at step %d: %s", self.step, self.checkpoint_path)
        return self.checkpoint_path

    def load_checkpoint(self) -> None:
        """Resume from ``checkpoint.pt``; logs after the checkpoint's step are dropped."""
        state = torch.load(self.checkpoint_path, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"])
        if "ref_model" in state:
            self.ref_model.load_state_dict(state["ref_model"])
        elif self.config.algorithm.warm_start_steps and \
                state["step"] >= self.config.algorithm.warm_start_steps:
            self.ref_model.load_state_dict(state["model"])
        if self.value_head is not None and state["value_head"] is not None:
            self.value_head.load_state_dict(state["value_head"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self._order, self._cursor = list(state["order"]), int(state["cursor"])
        self.replay.load_state_dict(state["replay"])
        self.step, self.optimizer_steps = int(state["step"]), int(state["optimizer_steps"])
        self.log_rows = self._reload(self.out_dir / "log.jsonl")
        self.watch_rows = self._reload(self.out_dir / "watch.jsonl")
        self._write_csv()
        logger.info("resumed from %s at step %d", self.checkpoint_path, self.step)

    def _reload(self, path: Path) -> list[dict[str, Any]]:
        """Rows of a JSONL log up to the checkpoint's step; later rows are rewritten away."""
        if not path.exists():
            return []
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip()]
        kept = [{k: (math.nan if v is None else v) for k, v in r.items()} for r in rows
                if r["step"] <= self.step]
        if len(kept) < len(rows):
            logger.info("%s: dropped %d row(s) logged after the checkpoint", path,
                        len(rows) - len(kept))
        path.write_text("".join(json.dumps({k: _jsonable(v) for k, v in r.items()}) + "\n"
                                for r in kept), encoding="utf-8")
        return kept


def train_from_config(config: TrainConfig, **overrides: Any) -> TrainResult:
    """Build a :class:`Trainer` from ``config`` (keyword overrides go to it) and run it."""
    if config.algorithm.name not in SAMPLING_ALGORITHMS + ("sft", "dpo"):
        raise ConfigError(f"unknown algorithm {config.algorithm.name!r}")
    return Trainer(config, **overrides).train()
