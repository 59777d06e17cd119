"""Pairwise preference judging: which of two outputs is better, asked in both orders.

A pairwise judge is not a per-segment metric: it compares two outputs for the same context.
:class:`PairwiseJudge` asks each pair twice, once with the first output shown as A and once
with it shown as B, and maps the second verdict back to the original orientation; a judge
without position bias gives the same verdict both times. The combined verdict is the shared
one when both agree, ``"tie"`` when they disagree (the judge's preference follows the
position, not the outputs), and None when either answer could not be read (MT-Bench's
swap-and-tie rule, Zheng et al. 2023).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from accord.judges.backends import ChatBackend, Sampling, create_backend
from accord.judges.metrics import open_store
from accord.judges.parsing import parse_verdict
from accord.judges.prompts import Messages, PromptTemplate, load_prompt
from accord.judges.runner import Answer, RecordStore, RunStats, ask_all
from accord.signature import make_signature

logger = logging.getLogger(__name__)

_SWAP = {"a": "b", "b": "a", "tie": "tie"}


@dataclass
class PairwiseRun:
    """Verdicts for ``n`` pairs, in the pairs' own orientation (``"a"`` = the first output).

    Attributes:
        first: verdict with the first output shown as A (None: unparsed or failed).
        second: verdict with the first output shown as B, mapped back (``"a"`` still means
            the first output won).
        combined: the shared verdict when both agree, ``"tie"`` when they disagree, None when
            either is missing.
        answers_first: the raw answers of the first order.
        answers_second: the raw answers of the swapped order.
        stats: counts over both orders.
        signature: the judge's signature.
    """

    first: list[str | None]
    second: list[str | None]
    combined: list[str | None]
    answers_first: list[Answer[Any]]
    answers_second: list[Answer[Any]]
    stats: RunStats
    signature: str

    def __len__(self) -> int:
        return len(self.combined)


class PairwiseJudge:
    """Asks a judge which of two outputs is better, in both presentation orders.

    Args:
        backend: ``"openai"``, ``"transformers"`` or a :class:`ChatBackend`.
        base_url: the server's API root (openai; None: ``$ACCORD_JUDGE_BASE_URL``).
        model: model name (openai) or path (transformers); None: SmolLM2-135M-Instruct.
        api_key_env: NAME of the environment variable holding the API key.
        prompt: a shipped template id or a TOML file with fields ``context``, ``output_a``
            and ``output_b``.
        temperature: sampling temperature (0: greedy).
        max_tokens: the most tokens per answer.
        seed: the sampling seed sent with each request.
        concurrency: the most requests in flight at once.
        timeout: seconds per request before a retry.
        store: ``"default"``, a file path, a store object, or None (no cache).
        progress: show a progress bar.
    """

    name = "judge-pairwise"

    def __init__(
        self,
        *,
        backend: str | ChatBackend = "openai",
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = None,
        prompt: str = "pairwise-dialogue-v1",
        temperature: float = 0.0,
        max_tokens: int = 8,
        seed: int = 0,
        concurrency: int = 4,
        timeout: float = 120.0,
        store: str | RecordStore | None = "default",
        progress: bool = False,
    ) -> None:
        self.template: PromptTemplate = load_prompt(prompt)
        missing = {"context", "output_a", "output_b"} - set(self.template.fields)
        if missing:
            raise TypeError(f"pairwise prompt {self.template.id} lacks field(s) "
                            f"{', '.join(sorted(missing))}")
        self.sampling = Sampling(temperature=float(temperature), max_tokens=int(max_tokens),
                                 seed=int(seed))
        if isinstance(backend, ChatBackend):
            self.backend = backend
        else:
            self.backend = create_backend(backend, base_url=base_url, model=model,
                                          api_key_env=api_key_env, timeout=timeout)
        self.concurrency = int(concurrency)
        self.store = open_store(store)
        self.progress = progress

    @property
    def signature(self) -> str:
        from accord import __version__

        params = {**self.backend.identity(), "prompt": self.template.id,
                  "temperature": self.sampling.temperature,
                  "max_tokens": self.sampling.max_tokens, "seed": self.sampling.seed,
                  "orders": "both"}
        return make_signature(self.name, params, version=f"accord={__version__}")

    def _render(self, contexts: Sequence[str], a: Sequence[str], b: Sequence[str],
                ) -> list[Messages]:
        return [self.template.render(context=c, output_a=x, output_b=y)
                for c, x, y in zip(contexts, a, b, strict=True)]

    def compare(self, contexts: Sequence[str], outputs_a: Sequence[str],
                outputs_b: Sequence[str]) -> PairwiseRun:
        """Judge each pair ``(outputs_a[i], outputs_b[i])`` in the context ``contexts[i]``.

        Raises:
            ValueError: the three sequences differ in length.
        """
        if not len(contexts) == len(outputs_a) == len(outputs_b):
            raise ValueError(
                f"compare: {len(contexts)} contexts, {len(outputs_a)} outputs_a and "
                f"{len(outputs_b)} outputs_b; expected equal lengths"
            )
        # Both orders go in one batch, so that concurrency covers them together.
        prompts = (self._render(contexts, outputs_a, outputs_b)
                   + self._render(contexts, outputs_b, outputs_a))
        answers, stats = ask_all(self.backend, self.template.id, prompts,
                                 lambda c: parse_verdict(c.text), self.sampling,
                                 store=self.store, concurrency=self.concurrency,
                                 progress=self.progress)
        n = len(contexts)
        first = [a.value if a.ok else None for a in answers[:n]]
        second = [_SWAP[a.value] if a.ok and a.value is not None else None for a in answers[n:]]
        combined: list[str | None] = []
        for x, y in zip(first, second, strict=True):
            if x is None or y is None:
                combined.append(None)
            else:
                combined.append(x if x == y else "tie")
        return PairwiseRun(first=first, second=second, combined=combined,
                           answers_first=answers[:n], answers_second=answers[n:],
                           stats=stats, signature=self.signature)
