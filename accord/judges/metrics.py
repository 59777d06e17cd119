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
    :meth:`MQMJudge.error_spans` locates the same errors in the hyp as character spans with
    their weights, which the trainer turns into token-level penalties
    (:meth:`accord.train.reward.MetricReward.error_spans`).

A segment whose answer cannot be parsed, or whose request failed, scores NaN: it is left out
of correlations and counted in :attr:`JudgeMetric.last_run`, never scored 0.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from accord.data.mqm import MQMWeights
from accord.judges.backends import ChatBackend, Completion, Sampling, create_backend
from accord.judges.parsing import (
    JudgeError,
    expected_score,
    locate_spans,
    parse_mqm,
    parse_score,
)
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


class RecentAnswers:
    """An in-memory layer of the last ``capacity`` cached answers over an optional store.

    A judge whose answers are read twice in a row (:class:`MQMJudge`: once for the segment
    scores, once for the error spans) reads them here the second time, even when it has no
    persistent store; with a store, answers found there are remembered too. It follows the
    :class:`~accord.judges.runner.RecordStore` protocol, so :func:`ask_all` uses it like any
    store; like the store, it only ever holds answers that parsed.
    """

    def __init__(self, backing: RecordStore | None, capacity: int) -> None:
        self.backing = backing
        self.capacity = capacity
        self._records: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def get_records(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]:
        found = {}
        for key in keys:
            if (namespace, key) in self._records:
                self._records.move_to_end((namespace, key))
                found[key] = self._records[(namespace, key)]
        rest = [k for k in keys if k not in found]
        if self.backing is not None and rest:
            stored = self.backing.get_records(namespace, rest)
            self._remember(namespace, stored)
            found.update(stored)
        return found

    def put_records(self, namespace: str, mapping: dict[str, Any]) -> int:
        self._remember(namespace, mapping)
        if self.backing is not None:
            return self.backing.put_records(namespace, mapping)
        return len(mapping)

    def _remember(self, namespace: str, mapping: dict[str, Any]) -> None:
        for key, record in mapping.items():
            self._records[(namespace, key)] = record
            self._records.move_to_end((namespace, key))
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)


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
    # Answers kept in memory over the store (0: none); see RecentAnswers.
    remembered_answers: ClassVar[int] = 0

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
        self._answer_store: RecordStore | None = (
            RecentAnswers(self.store, self.remembered_answers) if self.remembered_answers
            else self.store)
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

    @abstractmethod
    def parse(self, completion: Completion) -> Any:
        """Read the answer; None means unparsed."""

    @abstractmethod
    def value_to_score(self, value: Any, run: JudgeRun) -> float:
        """The segment score of a parsed value."""

    def ask(self, hyps: Sequence[str], refs: Refs | None = None,
            srcs: Sequence[str] | None = None) -> JudgeRun:
        """The judge's answer about each segment, from the cache where it holds one.

        Every reading of the answers (scores, error spans) goes through here, so a segment
        asked once is never asked again while its answer is cached. Sets :attr:`last_run`.
        """
        self.check_inputs(hyps, refs, srcs)
        prompts = self.prompts(hyps, refs, srcs)
        answers, stats = ask_all(self.backend, self.template.id, prompts, self.parse,
                                 self.sampling, store=self._answer_store,
                                 concurrency=self.concurrency, progress=self.progress)
        run = JudgeRun(answers=answers, stats=stats)
        for answer in answers:
            if answer.status == "unparsed":
                run.unparsed_segments += 1
            elif answer.status == "failed":
                run.failed_segments += 1
        self.last_run = run
        if run.unparsed_segments or run.failed_segments:
            logger.warning("%s: %d of %d segments unparsed and %d failed (no score)",
                           self.name, run.unparsed_segments, len(hyps), run.failed_segments)
        return run

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """Ask the judge about each segment; NaN where the answer is unparsed or failed."""
        run = self.ask(hyps, refs, srcs)
        scores = np.full(len(hyps), np.nan)
        for i, answer in enumerate(run.answers):
            if answer.ok:
                scores[i] = self.value_to_score(answer.value, run)
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


Span = tuple[int, int, float]

_CRITICAL = "critical errors weighted as major"
_NOT_FOUND = "error spans not found in the hyp"
_NO_SPAN = "errors quoting no words"
_SHARED = "error spans sharing an occurrence"


class MQMJudge(JudgeMetric):
    """MQM-style error annotation by the judge, scored with human MQM weights.

    The score is ``-sum(weight(severity, category))`` over the listed errors (0 when the judge
    lists none), with :class:`accord.data.mqm.MQMWeights` (Major 5, Minor 1, Minor
    fluency/punctuation 0.1, non-translation 25, Neutral 0). Human MQM has no "critical"
    severity; a critical error is weighted as major and counted in ``last_run.notes``.

    :meth:`error_spans` gives the same errors as character spans of the hyp, for token-level
    rewards. Both read the same answers: the last ``remembered_answers`` parsed answers are
    kept in memory over the store, so spans asked right after scores (as the trainer does)
    send no request, even with ``store=None``.

    Extra args:
        weights: the MQM weights (default: human MQM's).
    """

    name = "judge-mqm"
    needs_reference: ClassVar[bool] = False
    default_prompt = "mqm-v1"
    default_max_tokens = 160
    remembered_answers: ClassVar[int] = 4096

    def __init__(self, *, weights: MQMWeights | None = None, **kwargs: Any) -> None:
        self.weights = weights or MQMWeights()
        super().__init__(**kwargs)

    def parse(self, completion: Completion) -> list[JudgeError] | None:
        return parse_mqm(completion.text)

    def error_weight(self, error: JudgeError, run: JudgeRun | None = None) -> float:
        """The penalty of one listed error (>= 0 with the default weights); a "critical"
        error is weighted as major and counted in ``run.notes``."""
        severity = error.severity
        if not self.weights.knows(severity):
            if run is not None:
                run.notes[_CRITICAL] = run.notes.get(_CRITICAL, 0) + 1
            severity = "major"
        return self.weights.weight(severity, error.category)

    def value_to_score(self, value: Any, run: JudgeRun) -> float:
        penalty = sum(self.error_weight(error, run) for error in value)
        return -penalty + 0.0

    def error_spans(self, hyps: Sequence[str], refs: Refs | None = None,
                    srcs: Sequence[str] | None = None) -> list[list[Span]]:
        """The judge's errors located in each hyp, for token-level rewards.

        Args:
            hyps: the translations (completions).
            refs: unused (the MQM prompt has no reference); accepted for the metric contract.
            srcs: one source per hyp (the prompt needs it).

        Returns:
            Per hyp, one ``(char_start, char_end, penalty)`` per error the judge listed and
            that could be found in the hyp, in the judge's order: ``hyp[char_start:char_end]``
            is the quoted text (located by :func:`accord.judges.parsing.locate_spans`: a
            repeated text takes the first occurrence no earlier error of the same answer
            took) and ``penalty`` is the error's MQM weight, a positive number that the
            trainer subtracts from the tokens the span covers. The segment score is minus the
            sum of the weights of ALL listed errors, so it equals minus the sum of the
            penalties only when every error was located.

        An error whose words are not in the hyp (the judge quoted the source or paraphrased),
        or that quotes no words, gives no span: it stays in the segment score and is counted
        in ``last_run.notes`` and logged. A segment whose answer is unparsed or failed gives
        no span (its score is NaN; counted in ``last_run``).
        """
        run = self.ask(hyps, refs, srcs)
        out: list[list[Span]] = []
        for hyp, answer in zip(hyps, run.answers, strict=True):
            errors: list[JudgeError] = answer.value if answer.ok and answer.value else []
            located = locate_spans(hyp, [error.span for error in errors])
            spans: list[Span] = []
            for error, where in zip(errors, located, strict=True):
                if where is None:
                    reason = _NO_SPAN if not error.span.strip() else _NOT_FOUND
                    run.notes[reason] = run.notes.get(reason, 0) + 1
                    logger.debug("%s: error %r not located in hyp %r", self.name, error, hyp)
                    continue
                spans.append((where[0], where[1], self.error_weight(error, run)))
            shared = len(spans) - len({(s, e) for s, e, _ in spans})
            if shared:
                run.notes[_SHARED] = run.notes.get(_SHARED, 0) + shared
            out.append(spans)
        lost = run.notes.get(_NOT_FOUND, 0) + run.notes.get(_NO_SPAN, 0)
        if lost:
            total = sum(len(a.value) for a in run.answers if a.ok and a.value)
            logger.warning("%s: %d of %d listed errors could not be located in their hyp "
                           "(%d quote words not in the hyp, %d quote none); they count in the "
                           "segment score but give no token penalty", self.name, lost, total,
                           run.notes.get(_NOT_FOUND, 0), run.notes.get(_NO_SPAN, 0))
        return out
