"""LLM-as-judge segment metrics: direct assessment (0-100) and MQM-style error annotation.

``judge-da``
    :class:`DirectAssessmentJudge`: the judge rates a translation from 0 to 100 given the
    source and a reference (GEMBA-DA, Kocmi & Federmann 2023);
    :class:`DirectAssessmentQEJudge` does the same without a reference. With ``logprobs=True``
    the score is the expectation over the score tokens' probabilities (G-Eval, Liu et al.
    2023; see :func:`accord.judges.parsing.expected_score`).
``judge-mqm``
    :class:`MQMJudge`: the judge lists error spans with a category and a severity (GEMBA-MQM,
    AutoMQM); the segment score is minus the sum of their weights under the weights of human
    MQM (:class:`accord.data.mqm.MQMWeights`), so it is on the scale of the human scores.

A segment whose answer cannot be parsed, or whose request failed, scores NaN: it is left out
of correlations and counted in :attr:`JudgeMetric.last_run`, never scored 0.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from accord.data.mqm import MQMWeights
from accord.judges.backends import ChatBackend, Completion, Sampling, create_backend
from accord.judges.parsing import JudgeError, expected_score, parse_mqm, parse_score
from accord.judges.prompts import Messages, PromptTemplate, load_prompt
from accord.judges.runner import Answer, RecordStore, RunStats, ask_all
from accord.metrics.base import Metric, Refs

logger = logging.getLogger(__name__)


@dataclass
class JudgeRun:
    """What one scoring call of a judge metric did: every answer and the counts.

    Attributes:
        answers: one per segment, in input order.
        stats: requests, cache hits, unparsed and failed answers (distinct prompts).
        unparsed_segments: segments scored NaN because their answer could not be parsed.
        failed_segments: segments scored NaN because their request failed.
        unweighted: segments whose probability-weighted score could not be computed (no
            log-probabilities, or a score not made of digit tokens) and that kept the parsed
            score; 0 when weighting was not asked for.
    """

    answers: list[Answer[Any]]
    stats: RunStats
    unparsed_segments: int = 0
    failed_segments: int = 0
    unweighted: int = 0
    notes: dict[str, int] = field(default_factory=dict)


def open_store(store: str | RecordStore | None) -> RecordStore | None:
    """``"default"``: the user's score store; a path: that file; None: no cache."""
    if store is None or not isinstance(store, str):
        return store
    from accord.store import ScoreStore

    return ScoreStore(None if store == "default" else store)


class JudgeMetric(Metric):
    """Shared machinery of the judge metrics: backend, prompt, sampling, cache and counts.

    Args:
        backend: ``"openai"`` (an OpenAI-compatible server), ``"transformers"`` (in-process
            model), or a :class:`ChatBackend` instance.
        base_url: the server's API root (openai; None: ``$ACCORD_JUDGE_BASE_URL``).
        model: model name (openai) or path (transformers); None: SmolLM2-135M-Instruct.
        api_key_env: NAME of the environment variable holding the API key.
        prompt: a shipped template id or a TOML file; None: the class default.
        source_lang: the source language as named in the prompt.
        target_lang: the target language as named in the prompt.
        temperature: sampling temperature (0: greedy).
        max_tokens: the most tokens per answer.
        seed: the sampling seed sent with each request.
        concurrency: the most requests in flight at once.
        timeout: seconds per request before a retry.
        store: ``"default"`` (the user's score store), a file path, a store object, or None
            (no cache).
        progress: show a progress bar.

    Only what changes the answers enters the signature: backend kind, model, prompt id,
    languages and sampling. The address, the key, the concurrency and the cache do not.
    """

    needs_source: ClassVar[bool] = True
    default_prompt: ClassVar[str] = ""
    default_max_tokens: ClassVar[int] = 32

    def __init__(
        self,
        *,
        backend: str | ChatBackend = "openai",
        base_url: str | None = None,
        model: str | None = None,
        api_key_env: str | None = None,
        prompt: str | None = None,
        source_lang: str = "English",
        target_lang: str = "German",
        temperature: float = 0.0,
        max_tokens: int | None = None,
        seed: int = 0,
        concurrency: int = 4,
        timeout: float = 120.0,
        store: str | RecordStore | None = "default",
        progress: bool = False,
        **extra: Any,
    ) -> None:
        super().__init__()
        self.template: PromptTemplate = load_prompt(prompt or self.default_prompt)
        self.sampling = Sampling(
            temperature=float(temperature),
            max_tokens=int(max_tokens or self.default_max_tokens),
            top_logprobs=self._top_logprobs(extra),
            seed=int(seed),
        )
        self._backend_spec = backend
        self._backend_options: dict[str, Any] = {"base_url": base_url, "model": model,
                                                 "api_key_env": api_key_env, "timeout": timeout}
        self._backend: ChatBackend | None = backend if isinstance(backend, ChatBackend) else None
        self.source_lang, self.target_lang = source_lang, target_lang
        self.concurrency = int(concurrency)
        self.progress = progress
        self.store = open_store(store)
        self.last_run: JudgeRun | None = None
        if isinstance(backend, ChatBackend):
            identity = backend.identity()
        else:
            identity = {"backend": {"openai": "openai-chat"}.get(backend, backend),
                        "model": model or "smollm2-135m-instruct"}
        self._set_params(
            backend=identity["backend"],
            model=identity["model"],
            prompt=self.template.id,
            src_lang=source_lang,
            tgt_lang=target_lang,
            temperature=self.sampling.temperature,
            max_tokens=self.sampling.max_tokens,
            seed=self.sampling.seed,
            **self._extra_params(extra),
        )

    def _top_logprobs(self, extra: dict[str, Any]) -> int:
        return 0

    def _extra_params(self, extra: dict[str, Any]) -> dict[str, Any]:
        if extra:
            raise TypeError(f"unexpected parameter(s) {', '.join(sorted(extra))}")
        return {}

    @property
    def backend(self) -> ChatBackend:
        """The backend, created on first use (so listing signatures connects to nothing)."""
        if self._backend is None:
            assert isinstance(self._backend_spec, str)  # instances are set in __init__
            self._backend = create_backend(self._backend_spec, **self._backend_options)
        return self._backend

    def prompts(self, hyps: Sequence[str], refs: Refs | None, srcs: Sequence[str] | None,
                ) -> list[Messages]:
        """The rendered messages for each segment."""
        out = []
        for i, hyp in enumerate(hyps):
            values = {"source_lang": self.source_lang, "target_lang": self.target_lang,
                      "src": srcs[i] if srcs is not None else "", "hyp": hyp}
            if "ref" in self.template.fields:
                values["ref"] = refs[i][0] if refs is not None else ""
            out.append(self.template.render(**values))
        return out

    def parse(self, completion: Completion) -> Any:
        """Read the answer; None means unparsed."""
        raise NotImplementedError

    def value_to_score(self, value: Any, run: JudgeRun) -> float:
        """The segment score of a parsed value."""
        raise NotImplementedError

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """Ask the judge about each segment; NaN where the answer is unparsed or failed."""
        self.check_inputs(hyps, refs, srcs)
        prompts = self.prompts(hyps, refs, srcs)
        answers, stats = ask_all(self.backend, self.template.id, prompts, self.parse,
                                 self.sampling, store=self.store,
                                 concurrency=self.concurrency, progress=self.progress)
        run = JudgeRun(answers=answers, stats=stats)
        scores = np.full(len(hyps), np.nan)
        for i, answer in enumerate(answers):
            if answer.ok:
                scores[i] = self.value_to_score(answer.value, run)
            elif answer.status == "unparsed":
                run.unparsed_segments += 1
            else:
                run.failed_segments += 1
        self.last_run = run
        if run.unparsed_segments or run.failed_segments:
            logger.warning("%s: %d of %d segments unparsed and %d failed (scored NaN)",
                           self.name, run.unparsed_segments, len(hyps), run.failed_segments)
        return scores


class DirectAssessmentJudge(JudgeMetric):
    """GEMBA-DA style 0-100 rating of a translation given its source and a reference.

    Extra args:
        logprobs: weight the score by the score tokens' probabilities (G-Eval style); needs
            a backend that returns log-probabilities.
        top_logprobs: alternatives per token to ask for when ``logprobs`` is on.
    """

    name = "judge-da"
    needs_reference: ClassVar[bool] = True
    default_prompt = "gemba-da-v1"
    default_max_tokens = 16

    def _top_logprobs(self, extra: dict[str, Any]) -> int:
        return int(extra.get("top_logprobs", 10)) if extra.get("logprobs", False) else 0

    def _extra_params(self, extra: dict[str, Any]) -> dict[str, Any]:
        unknown = set(extra) - {"logprobs", "top_logprobs"}
        if unknown:
            raise TypeError(f"unexpected parameter(s) {', '.join(sorted(unknown))}")
        self.weighted = bool(extra.get("logprobs", False))
        return {"weighted": self.weighted, "top_logprobs": self.sampling.top_logprobs or None}

    def parse(self, completion: Completion) -> Any:
        parsed = parse_score(completion.text)
        if parsed is None:
            return None
        weighted = expected_score(completion, parsed) if self.weighted else None
        return {"score": parsed.value, "weighted": weighted}

    def value_to_score(self, value: Any, run: JudgeRun) -> float:
        if not self.weighted:
            return float(value["score"])
        if value["weighted"] is None:
            run.unweighted += 1
            return float(value["score"])
        return float(value["weighted"])


class DirectAssessmentQEJudge(DirectAssessmentJudge):
    """:class:`DirectAssessmentJudge` without a reference (quality estimation)."""

    name = "judge-da-qe"
    needs_reference: ClassVar[bool] = False
    default_prompt = "gemba-da-qe-v1"


class MQMJudge(JudgeMetric):
    """MQM-style error annotation by the judge, scored with human MQM weights.

    The score is ``-sum(weight(severity, category))`` over the listed errors (0 when the judge
    lists none), with :class:`accord.data.mqm.MQMWeights` (Major 5, Minor 1, Minor
    fluency/punctuation 0.1, non-translation 25, Neutral 0). Human MQM has no "critical"
    severity; a critical error is weighted as major and counted in ``last_run.notes``.
    """

    name = "judge-mqm"
    needs_reference: ClassVar[bool] = False
    default_prompt = "mqm-v1"
    default_max_tokens = 160

    def __init__(self, *, weights: MQMWeights | None = None, **kwargs: Any) -> None:
        self.weights = weights or MQMWeights()
        super().__init__(**kwargs)

    def parse(self, completion: Completion) -> list[JudgeError] | None:
        return parse_mqm(completion.text)

    def value_to_score(self, value: Any, run: JudgeRun) -> float:
        penalty = 0.0
        for error in value:
            severity = error.severity
            if not self.weights.knows(severity):
                run.notes["critical errors weighted as major"] = (
                    run.notes.get("critical errors weighted as major", 0) + 1
                )
                severity = "major"
            penalty += self.weights.weight(severity, error.category)
        return -penalty + 0.0
