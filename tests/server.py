"""Local HTTP servers for judge tests and benchmarks, on 127.0.0.1 only.

``LlamaServer``
    Starts ``python -m accord.judges.llama_server`` (llama-cpp-python serving the packaged
    SmolLM2-135M-Instruct) on a free port as a subprocess and stops it.
``FakeChatServer``
    A minimal ``/v1/chat/completions`` endpoint whose answers come from a Python function;
    it counts every request it receives and every answer it delivers, per prompt, and can
    fail requests (429/503), delay answers, or hold one request until released (to kill a
    client mid-request).
``CountingProxy``
    Forwards ``/v1/*`` to upstream servers, each upstream serving one request at a time (a
    "slot"), and counts the requests per prompt.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def prompt_id(messages: list[dict[str, str]]) -> str:
    """A short stable id of a request's messages (to count requests per prompt)."""
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def wait_until_up(base_url: str, timeout: float, process: subprocess.Popen[Any] | None = None,
                  ) -> None:
    """Poll ``GET {base_url}/models`` until it answers; raise RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server process exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"no server answered at {base_url} within {timeout:.0f} s")


def _die_with_parent() -> None:
    # A server left behind by a killed test run would hold a CPU and a port: ask the kernel to
    # send it SIGKILL when the process that started it dies (Linux prctl PR_SET_PDEATHSIG).
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class LlamaServer:
    """llama-cpp-python's server on the packaged SmolLM2 model, as a subprocess.

    Args:
        port: the port (None: a free one).
        n_threads: CPU threads of the server.
        n_ctx: context size in tokens.
        log_path: where the server's output goes (None: a file in the temp folder).
    """

    def __init__(self, port: int | None = None, n_threads: int = 1, n_ctx: int = 4096,
                 log_path: str | Path | None = None) -> None:
        self.port = port or free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}/v1"
        self.n_threads, self.n_ctx = n_threads, n_ctx
        self.log_path = Path(log_path or f"/tmp/accord-llama-{self.port}.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> LlamaServer:
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "accord.judges.llama_server", "--host", LOOPBACK,
             "--port", str(self.port), "--n_threads", str(self.n_threads),
             "--n_ctx", str(self.n_ctx)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            preexec_fn=_die_with_parent,
        )
        try:
            wait_until_up(self.base_url, timeout, self.process)
        except RuntimeError as exc:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"llama server failed to start: {exc}\n{tail}") from None
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                # uvicorn finishes the request in flight before it exits; do not wait long.
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __enter__(self) -> LlamaServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _read_json(handler: BaseHTTPRequestHandler) -> dict[str, Any]:
    length = int(handler.headers.get("Content-Length", "0"))
    return json.loads(handler.rfile.read(length) or b"{}")


def _send_json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
               headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)
    handler.wfile.flush()


def completion_body(text: str, model: str) -> dict[str, Any]:
    """A chat-completions response with one choice holding ``text``."""
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class FakeChatServer:
    """A fake OpenAI-compatible chat server on 127.0.0.1 with request counts.

    Args:
        respond: maps the request's messages to the answer text.
        delay: seconds to wait before answering each request.
        fail_first: HTTP statuses to answer the first requests with, in order (e.g.
            ``[429, 503]``), each with ``Retry-After: 0``.
        hold_at: the 1-based number of a request to hold (not answer) until
            :meth:`release` is called; it is then dropped without an answer.

    Attributes:
        received: requests received per prompt id.
        answered: answers fully delivered per prompt id.
    """

    def __init__(self, respond: Callable[[list[dict[str, str]]], str], delay: float = 0.0,
                 fail_first: list[int] | None = None, hold_at: int | None = None) -> None:
        self.respond, self.delay = respond, delay
        self.fail_first = list(fail_first or [])
        self.hold_at = hold_at
        self.received: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.n_received = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.auth_headers: set[str] = set()
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Silence the per-request access log; tests count requests themselves."""

            def do_GET(self) -> None:
                _send_json(self, 200, {"object": "list", "data": [{"id": "fake"}]})

            def do_POST(self) -> None:
                fake._handle(self)

        self._server = _Server((LOOPBACK, 0), Handler)
        self.base_url = f"http://{LOOPBACK}:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = _read_json(handler)
        messages = body.get("messages", [])
        pid = prompt_id(messages)
        with self._lock:
            self.n_received += 1
            number = self.n_received
            self.received[pid] += 1
            self.auth_headers.add(handler.headers.get("Authorization", ""))
            status = self.fail_first.pop(0) if self.fail_first else 200
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self._answer(handler, body, pid, number, status)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, handler: BaseHTTPRequestHandler, body: dict[str, Any], pid: str,
                number: int, status: int) -> None:
        if number == self.hold_at:
            self.held.set()
            self._release.wait()
            handler.close_connection = True
            return
        if status != 200:
            with self._lock:
                self.statuses[status] += 1
            _send_json(handler, status, {"error": {"message": f"fake {status}"}},
                       {"Retry-After": "0"})
            return
        if self.delay:
            time.sleep(self.delay)
        text = self.respond(body.get("messages", []))
        try:
            _send_json(handler, 200, completion_body(text, body.get("model", "fake")))
        except (BrokenPipeError, ConnectionResetError):
            return
        with self._lock:
            self.statuses[200] += 1
            self.answered[pid] += 1

    def release(self) -> None:
        """Let a held request go (it is dropped without an answer)."""
        self._release.set()

    def start(self) -> FakeChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CountingProxy:
    """Forwards ``/v1/*`` requests to upstream servers and counts requests per prompt.

    Each upstream serves one request at a time: a request waits for a free upstream (a
    slot), so ``len(upstreams)`` is the number of slots.

    Attributes:
        received: requests per prompt id (chat completions only).
        completed: successful upstream answers per prompt id.
    """

    def __init__(self, upstreams: list[str]) -> None:
        if not upstreams:
            raise ValueError("CountingProxy needs at least one upstream base URL")
        self.received: Counter[str] = Counter()
        self.completed: Counter[str] = Counter()
        self.max_in_flight = 0
        self._in_flight = 0
        self._free: queue.Queue[str] = queue.Queue()
        for url in upstreams:
            self._free.put(url.rstrip("/").removesuffix("/v1"))
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                """Silence the per-request access log; tests count requests themselves."""

            def do_GET(self) -> None:
                proxy._forward(self, None)

            def do_POST(self) -> None:
                proxy._forward(self, _read_json(self))

        self._server = _Server((LOOPBACK, 0), Handler)
        self.base_url = f"http://{LOOPBACK}:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _forward(self, handler: BaseHTTPRequestHandler, body: dict[str, Any] | None) -> None:
        pid = prompt_id(body.get("messages", [])) if body is not None else None
        if pid is not None:
            with self._lock:
                self.received[pid] += 1
        upstream = self._free.get()
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            data = json.dumps(body).encode("utf-8") if body is not None else None
            request = urllib.request.Request(
                upstream + handler.path, data=data, method="POST" if data else "GET",
                headers={"Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=600) as response:
                    status, payload = response.status, json.loads(response.read())
            except urllib.error.HTTPError as exc:
                status, payload = exc.code, json.loads(exc.read() or b"{}")
        finally:
            with self._lock:
                self._in_flight -= 1
            self._free.put(upstream)
        if pid is not None and status == 200:
            with self._lock:
                self.completed[pid] += 1
        _send_json(handler, status, payload)

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
