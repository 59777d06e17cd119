"""Rollouts: sampling completions, scoring them, laying them out as tensors, and replaying them.

A :class:`Sample` is one prompt with one sampled completion, its token ids, the log-probabilities
the sampling policy gave them (the behaviour policy, needed for PPO ratios and for importance
weights when the sample is replayed later), its reward and per-token rewards. Samples are plain
lists and floats so that a replay buffer is easy to checkpoint.

Tensor layout (:func:`collate`): each row is ``prompt + completion``, right-padded to length
``L``; the model's logits at position ``t`` predict token ``t + 1``, so every per-token tensor has
``T = L - 1`` columns and ``mask[b, t] = 1`` where token ``t + 1`` of row ``b`` is a completion
token.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from accord.train.losses import token_logprobs
from accord.train.reward import Span

logger = logging.getLogger(__name__)


@dataclass
class Sample:
    """One prompt and one sampled completion.

    Attributes:
        prompt: the prompt text as the task gives it (before any chat template).
        completion: the decoded completion (special tokens removed).
        prompt_ids: token ids the model saw (after the chat template).
        completion_ids: sampled token ids, including the stop token when one was sampled.
        behaviour_logp: log-probability of each completion token under the sampling policy.
        ref_logp: log-probability of each completion token under the frozen reference model
            (empty when no reference model is used).
        reward: the scaled sequence reward (NaN where the reward function gave none).
        token_rewards: reward received at each completion token besides ``reward`` (error-span
            penalties, per-token KL penalties); all zeros for sequence-level credit.
        group: index of the prompt within its rollout batch (samples of one prompt share it).
        step: optimizer step at which the sample was drawn.
        advantages: per-token advantages computed when the sample was drawn (reused on replay).
        returns: per-token discounted returns (targets of a learned value baseline).
        values: per-token value estimates at sampling time (with a learned value baseline).
        columns: the task's other fields for this prompt (``reference``, ...).
    """

    prompt: str
    completion: str
    prompt_ids: list[int]
    completion_ids: list[int]
    behaviour_logp: list[float]
    ref_logp: list[float] = field(default_factory=list)
    reward: float = float("nan")
    token_rewards: list[float] = field(default_factory=list)
    group: int = 0
    step: int = 0
    advantages: list[float] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    columns: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    """Samples laid out on one grid (see the module docstring)."""

    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    labels: torch.Tensor  # (B, T) = input_ids[:, 1:]
    mask: torch.Tensor  # (B, T) float, 1 at completion tokens

    def per_token(self, rows: Sequence[Sequence[float]]) -> torch.Tensor:
        """Scatter per-completion-token lists (one per row) onto the ``(B, T)`` grid."""
        out = torch.zeros_like(self.mask)
        for b, values in enumerate(rows):
            positions = torch.nonzero(self.mask[b], as_tuple=True)[0]
            if len(values) != len(positions):
                raise ValueError(f"row {b}: {len(values)} values for {len(positions)} tokens")
            if len(values):
                out[b, positions] = torch.tensor(list(values), dtype=out.dtype,
                                                 device=out.device)
        return out

    def gather(self, grid: torch.Tensor) -> list[list[float]]:
        """The inverse of :meth:`per_token`: per-row lists of the completion-token values."""
        return [grid[b][self.mask[b] > 0].tolist() for b in range(grid.shape[0])]


def collate(prompt_ids: Sequence[Sequence[int]], completion_ids: Sequence[Sequence[int]],
            pad_id: int, device: torch.device) -> Batch:
    """Lay prompts and completions out as one right-padded batch."""
    rows = [list(p) + list(c) for p, c in zip(prompt_ids, completion_ids, strict=True)]
    length = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), length), dtype=torch.long)
    mask = torch.zeros((len(rows), length - 1))
    for b, (p, c) in enumerate(zip(prompt_ids, completion_ids, strict=True)):
        n = len(p) + len(c)
        input_ids[b, :n] = torch.tensor(rows[b], dtype=torch.long)
        attention[b, :n] = 1
        # Token j of the row is predicted at column j - 1.
        mask[b, len(p) - 1:n - 1] = 1.0
    return Batch(input_ids.to(device), attention.to(device), input_ids[:, 1:].to(device),
                 mask.to(device))


def autocast(device: torch.device) -> Any:
    """bf16 autocast on CUDA, a no-op on CPU (one code path for both)."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=device.type == "cuda")


def forward(model: Any, batch: Batch, value_head: torch.nn.Module | None = None
            ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probabilities of the batch's tokens, and value estimates when a head is given.

    Returns:
        ``logp`` ``(B, T)`` and ``values`` ``(B, T)`` (the value of the state before each
        token) or None.
    """
    with autocast(batch.input_ids.device):
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask,
                    output_hidden_states=value_head is not None)
    logp = token_logprobs(out.logits[:, :-1], batch.labels)  # (B, T)
    values = None
    if value_head is not None:
        # Detached: fitting the baseline must not move the policy's own features.
        hidden = out.hidden_states[-1][:, :-1].detach().float()  # (B, T, H)
        values = value_head(hidden).squeeze(-1)  # (B, T)
    return logp, values


def encode_prompt(tokenizer: Any, prompt: str, chat: bool) -> list[int]:
    """Token ids of a prompt: through the chat template as one user turn, or as plain text."""
    if chat:
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                            add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        return [int(i) for i in ids]
    return [int(i) for i in tokenizer(prompt)["input_ids"]]


@torch.no_grad()
def generate(model: Any, prompt_ids: Sequence[Sequence[int]], max_new_tokens: int,
             temperature: float, pad_id: int, stop_ids: Sequence[int], do_sample: bool = True
             ) -> list[list[int]]:
    """Sample one completion per prompt with ``model.generate`` (KV cache, left padding).

    Randomness comes from torch's global generator, which the trainer seeds and checkpoints.

    Returns:
        Completion token ids per prompt, cut after the first stop token (which is kept: the
        policy chose to stop, and that choice gets credit like any other token).
    """
    device = next(model.parameters()).device
    width = max(len(p) for p in prompt_ids)
    input_ids = torch.full((len(prompt_ids), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompt_ids), width), dtype=torch.long)
    for b, p in enumerate(prompt_ids):
        input_ids[b, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
        attention[b, width - len(p):] = 1
    options: dict[str, Any] = {"do_sample": do_sample, "max_new_tokens": max_new_tokens,
                               "pad_token_id": pad_id, "eos_token_id": list(stop_ids)}
    if do_sample:
        options.update(temperature=temperature, top_k=0, top_p=1.0)
    with autocast(device):
        out = model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                             **options)
    completions = []
    stops = set(stop_ids)
    for row in out[:, width:].tolist():
        kept: list[int] = []
        for token in row:
            kept.append(token)
            if token in stops:
                break
        completions.append(kept)
    return completions


def token_char_ends(tokenizer: Any, completion_ids: Sequence[int]) -> list[int]:
    """End offset, in the decoded completion text, of each completion token.

    Offsets come from decoding growing prefixes of the sampled ids, so they match the text the
    reward saw exactly; re-tokenising the text would give offsets for the canonical
    tokenisation, which need not be the one that was sampled.
    """
    ends = []
    for i in range(1, len(completion_ids) + 1):
        ends.append(len(tokenizer.decode(list(completion_ids[:i]), skip_special_tokens=True)))
    return ends


def spans_to_token_penalties(spans: Sequence[Span], char_ends: Sequence[int]) -> list[float]:
    """Per-token rewards from error spans: each span's penalty is spread over its tokens.

    A token covers characters ``[end of previous token, its end)``; a span ``(start, end,
    penalty)`` covers every token whose characters overlap ``[start, end)``, and each of those
    tokens receives ``-penalty / n_covered``, so that the sum over tokens equals ``-penalty``
    whatever the tokenisation. A span that covers no token (e.g. outside the text) is counted
    and logged.
    """
    rewards = [0.0] * len(char_ends)
    starts = [0, *char_ends[:-1]]
    missed = 0
    for start, end, penalty in spans:
        covered = [i for i, (a, b) in enumerate(zip(starts, char_ends))
                   if a < b and max(a, start) < min(b, end)]
        if not covered:
            missed += 1
            continue
        for i in covered:
            rewards[i] -= penalty / len(covered)
    if missed:
        logger.warning("%d error span(s) cover no completion token and were not used", missed)
    return rewards


class ReplayBuffer:
    """A first-in-first-out store of past samples, for reuse with importance weights.

    Args:
        capacity: the most samples kept (the oldest leave first).
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._samples: deque[Sample] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, samples: Sequence[Sample]) -> None:
        self._samples.extend(samples)

    def draw(self, n: int, rng: np.random.Generator) -> list[Sample]:
        """``n`` samples drawn uniformly without replacement (fewer if the buffer is smaller)."""
        n = min(n, len(self._samples))
        if n == 0:
            return []
        picks = rng.choice(len(self._samples), size=n, replace=False)
        return [self._samples[int(i)] for i in picks]

    def state_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "samples": [asdict(s) for s in self._samples]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.capacity = int(state["capacity"])
        self._samples = deque((Sample(**s) for s in state["samples"]), maxlen=self.capacity)
