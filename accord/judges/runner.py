"""Asking a judge many prompts: deduplication, the answer cache, concurrency and counts.

:func:`ask_all` sends each distinct prompt once, at most ``concurrency`` at a time, and writes
every answer that parses to the store the moment it arrives, so a run killed halfway resumes
without asking again what was answered. Answers that cannot be parsed are returned (their text
kept for reports) and counted, but never cached: the next run asks again. Requests that fail
for good (retries exhausted) are counted as failed.

The cache key is the sha256 of the backend kind, model, prompt template id, messages and
sampling parameters (:func:`answer_key`); nothing else (no server address, no API key) enters
it. Cached answers are parsed again when read, so a parser fix applies to them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

from accord.judges.backends import BackendError, ChatBackend, Completion, Sampling
from accord.judges.prompts import Messages, messages_as_dicts

logger = logging.getLogger(__name__)

NAMESPACE = "judge-answers"
T = TypeVar("T")
Status = Literal["answered", "cached", "unparsed", "failed"]


class RecordStore(Protocol):
    """The part of :class:`accord.store.ScoreStore` the judges use."""

    def get_records(self, namespace: str, keys: Sequence[str]) -> dict[str, Any]: ...

    def put_records(self, namespace: str, mapping: dict[str, Any]) -> int: ...


@dataclass
class Answer(Generic[T]):
    """The judge's answer to one prompt.

    Attributes:
        status: ``"answered"`` (asked in this run, parsed), ``"cached"`` (read from the store,
            parsed), ``"unparsed"`` (an answer came but holds no usable verdict) or
            ``"failed"`` (no answer: the request failed for good).
        completion: the answer text and log-probabilities (None when failed).
        value: what the parser read (None unless answered or cached).
        error: why the request failed (failed answers only).
    """

    status: Status
    completion: Completion | None = None
    value: T | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("answered", "cached")


@dataclass
class RunStats:
    """Counts of one :func:`ask_all` call (distinct prompts, not prompt occurrences).

    ``asked + cached == prompts`` unless the run was interrupted; ``answered + unparsed +
    failed == asked``.
    """

    prompts: int = 0
    cached: int = 0
    asked: int = 0
    answered: int = 0
    unparsed: int = 0
    failed: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, other: RunStats) -> RunStats:
        """The sum of two runs' counts (for judges that ask in several passes)."""
        return RunStats(
            prompts=self.prompts + other.prompts,
            cached=self.cached + other.cached,
            asked=self.asked + other.asked,
            answered=self.answered + other.answered,
            unparsed=self.unparsed + other.unparsed,
            failed=self.failed + other.failed,
            requests=self.requests + other.requests,
            retries=self.retries + other.retries,
            seconds=self.seconds + other.seconds,
            failures=self.failures + other.failures,
        )


def answer_key(backend: ChatBackend, template_id: str, messages: Messages,
               sampling: Sampling) -> str:
    """The cache key of one prompt: sha256 of backend, model, template, messages, sampling."""
    payload = {
        **backend.identity(),
        "prompt": template_id,
        "messages": [list(m) for m in messages],
        "sampling": sampling.as_dict(),
    }
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ask_all(
    backend: ChatBackend,
    template_id: str,
    prompts: Sequence[Messages],
    parse: Callable[[Completion], T | None],
    sampling: Sampling,
    store: RecordStore | None = None,
    concurrency: int = 4,
    progress: bool = False,
) -> tuple[list[Answer[T]], RunStats]:
    """Ask the judge every prompt; return one answer per prompt (in order) and the counts.

    Args:
        backend: the judge.
        template_id: the prompt template's id (enters the cache key).
        prompts: rendered messages, one per segment; equal prompts are asked once.
        parse: reads the verdict from a completion; None means unparsed.
        sampling: generation parameters (enter the cache key).
        store: where parsed answers are cached (None: no cache).
        concurrency: the most requests in flight at once.
        progress: show a progress bar.

    Raises:
        ConfigError: the server refused the requests (wrong address, model or key); requests
            in flight are let finish and their parsed answers are kept in the store.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    start = time.perf_counter()
    before = (backend.counters.requests, backend.counters.retries)
    keys = [answer_key(backend, template_id, p, sampling) for p in prompts]
    unique = list(dict.fromkeys(keys))
    first: dict[str, Messages] = {}
    for key, prompt in zip(keys, prompts, strict=True):
        first.setdefault(key, prompt)
    stats = RunStats(prompts=len(unique))
    results: dict[str, Answer[T]] = {}

    # 1. Answers already in the store (parsed again: a parser fix applies to them).
    cached = store.get_records(NAMESPACE, unique) if store is not None else {}
    for key, record in cached.items():
        completion = Completion.from_json(record)
        value = parse(completion)
        status: Status = "cached" if value is not None else "unparsed"
        results[key] = Answer(status=status, completion=completion, value=value)
        stats.cached += 1
        stats.unparsed += value is None
    pending = [k for k in unique if k not in results]
    logger.info("judge %s: %d distinct prompts, %d cached, %d to ask", template_id,
                len(unique), len(cached), len(pending))

    # 2. The rest, concurrently; each parsed answer is stored as soon as it arrives.
    bar = _progress_bar(len(pending), template_id) if progress and pending else None
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="judge") as pool:
        queue = iter(pending)
        in_flight: dict[Future[Completion], str] = {}

        def submit_next() -> None:
            key = next(queue, None)
            if key is not None:
                in_flight[pool.submit(backend.complete, messages_as_dicts(first[key]),
                                      sampling)] = key

        # Submitting only as slots free up (not all at once) means that a run stopped by an
        # error leaves no queue of requests behind that would still be sent.
        for _ in range(concurrency):
            submit_next()
        refused: BaseException | None = None
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                key = in_flight.pop(future)
                stats.asked += 1
                try:
                    completion = future.result()
                except BackendError as exc:
                    results[key] = Answer(status="failed", error=str(exc))
                    stats.failed += 1
                    stats.failures.append(str(exc))
                except Exception as exc:  # ConfigError and anything unexpected: stop asking
                    refused = refused or exc
                    results[key] = Answer(status="failed", error=str(exc))
                    stats.failed += 1
                else:
                    value = parse(completion)
                    if value is None:
                        results[key] = Answer(status="unparsed", completion=completion)
                        stats.unparsed += 1
                    else:
                        if store is not None:
                            store.put_records(NAMESPACE, {key: completion.to_json()})
                        results[key] = Answer(status="answered", completion=completion,
                                              value=value)
                        stats.answered += 1
                if bar is not None:
                    bar.update(1)
                if refused is None:
                    submit_next()
        if bar is not None:
            bar.close()
    stats.requests = backend.counters.requests - before[0]
    stats.retries = backend.counters.retries - before[1]
    stats.seconds = time.perf_counter() - start
    if refused is not None:
        raise refused
    if stats.failed:
        logger.warning("judge %s: %d of %d requests failed, e.g. %s", template_id, stats.failed,
                       stats.asked, stats.failures[:1])
    return [results[k] for k in keys], stats


def _progress_bar(total: int, label: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=f"judge {label}", unit="req")
