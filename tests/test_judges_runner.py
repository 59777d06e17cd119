"""The judge runner over HTTP against a fake local chat server: retries, cache, counts, resume.

The fake server (tests/server.py) runs on 127.0.0.1 and counts every request per prompt, so
"no request lost or asked twice" is checked at the server, not trusted from the client.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from server import FakeChatServer

from accord.errors import ConfigError
from accord.judges.backends import OpenAIBackend, RetryPolicy
from accord.judges.metrics import DirectAssessmentQEJudge
from accord.store import ScoreStore

REPO = Path(__file__).resolve().parent.parent
HYP = re.compile(r"<translation>hyp (\d+)</translation>")


def score_of_hyp(messages: list[dict[str, str]]) -> str:
    """The fake judge: "hyp N" scores N % 101; "hyp 999" gets an answer with no score."""
    match = HYP.search(messages[-1]["content"])
    if match is None:
        return "?"
    n = int(match.group(1))
    return "I like this translation." if n == 999 else f"Score: {n % 101}"


def judge(url: str, store: ScoreStore | None, concurrency: int = 1,
          **backend: object) -> DirectAssessmentQEJudge:
    client = OpenAIBackend(base_url=url, retry=RetryPolicy(max_attempts=4, base_delay=0.0),
                           **backend)  # type: ignore[arg-type]
    return DirectAssessmentQEJudge(backend=client, store=store, concurrency=concurrency)


def test_scores_match_the_server_answers_and_duplicates_are_asked_once(tmp_path) -> None:
    with FakeChatServer(score_of_hyp) as server:
        j = judge(server.base_url, ScoreStore(tmp_path / "s.sqlite"))
        hyps = ["hyp 5", "hyp 7", "hyp 5", "hyp 150"]
        scores = j.score_segments(hyps, srcs=["x"] * 4)
    np.testing.assert_array_equal(scores, [5.0, 7.0, 5.0, 49.0])
    assert sum(server.received.values()) == 3 and set(server.received.values()) == {1}
    assert j.last_run is not None and j.last_run.stats.prompts == 3


def test_retries_on_429_and_5xx_with_retry_after(tmp_path) -> None:
    waits: list[float] = []
    with FakeChatServer(score_of_hyp, fail_first=[429, 503, 500]) as server:
        j = judge(server.base_url, None, sleep=waits.append)
        scores = j.score_segments(["hyp 1", "hyp 2"], srcs=["x", "x"])
    np.testing.assert_array_equal(scores, [1.0, 2.0])
    assert server.statuses == {429: 1, 503: 1, 500: 1, 200: 2}
    assert j.last_run is not None and j.last_run.stats.retries == 3
    assert waits == [0.0, 0.0, 0.0]  # the server's Retry-After: 0 replaces the backoff


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0)
    assert [policy.delay(a) for a in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(0, retry_after=7.0) == 3.0


def test_exhausted_retries_fail_one_segment_not_the_run(tmp_path) -> None:
    store = ScoreStore(tmp_path / "s.sqlite")
    with FakeChatServer(score_of_hyp, fail_first=[503] * 4) as server:
        j = judge(server.base_url, store)
        scores = j.score_segments(["hyp 1", "hyp 2"], srcs=["x", "x"])
    assert np.isnan(scores[0]) and scores[1] == 2.0
    run = j.last_run
    assert run is not None and run.failed_segments == 1 and run.stats.failed == 1
    assert sum(server.received.values()) == 5  # 4 tries for the first, 1 for the second


def test_refusal_stops_the_run_with_a_config_error() -> None:
    with FakeChatServer(score_of_hyp, fail_first=[401]) as server:
        j = judge(server.base_url, None)
        with pytest.raises(ConfigError, match="HTTP 401"):
            j.score_segments(["hyp 1", "hyp 2", "hyp 3"], srcs=["x"] * 3)
    assert sum(server.received.values()) == 1


def test_unparsed_answers_are_nan_counted_and_never_cached(tmp_path) -> None:
    store = ScoreStore(tmp_path / "s.sqlite")
    hyps = ["hyp 3", "hyp 999"]
    with FakeChatServer(score_of_hyp) as server:
        first = judge(server.base_url, store)
        s1 = first.score_segments(hyps, srcs=["x", "x"])
        second = judge(server.base_url, store)
        s2 = second.score_segments(hyps, srcs=["x", "x"])
    for scores in (s1, s2):
        assert scores[0] == 3.0 and np.isnan(scores[1])
    assert first.last_run is not None and first.last_run.unparsed_segments == 1
    assert second.last_run is not None
    assert second.last_run.stats.cached == 1 and second.last_run.stats.asked == 1
    # the parsed answer was asked once; the unparsed one is asked again by every run
    assert sorted(server.received.values()) == [1, 2]
    assert second.last_run.answers[1].completion is not None
    assert second.last_run.answers[1].completion.text == "I like this translation."


def test_concurrency_is_bounded_and_used() -> None:
    with FakeChatServer(score_of_hyp, delay=0.3) as server:
        j = judge(server.base_url, None, concurrency=3)
        scores = j.score_segments([f"hyp {i}" for i in range(9)], srcs=["x"] * 9)
    np.testing.assert_array_equal(scores, np.arange(9, dtype=float))
    assert server.max_in_flight == 3


def test_api_key_is_sent_but_never_stored(tmp_path, monkeypatch) -> None:
    secret = "sk-test-very-secret-0042"
    monkeypatch.setenv("ACCORD_TEST_JUDGE_KEY", secret)
    path = tmp_path / "s.sqlite"
    with FakeChatServer(score_of_hyp) as server:
        j = judge(server.base_url, ScoreStore(path), api_key_env="ACCORD_TEST_JUDGE_KEY")
        j.score_segments(["hyp 1"], srcs=["x"])
    assert server.auth_headers == {f"Bearer {secret}"}
    for file in tmp_path.iterdir():
        assert secret.encode() not in file.read_bytes()
    assert secret not in j.signature


KILL_SCRIPT = """
import json, sys
from accord.judges.backends import OpenAIBackend
from accord.judges.metrics import DirectAssessmentQEJudge
from accord.store import ScoreStore
url, store_path, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
judge = DirectAssessmentQEJudge(backend=OpenAIBackend(base_url=url), store=ScoreStore(store_path),
                                concurrency=1)
scores = judge.score_segments([f"hyp {i}" for i in range(n)], srcs=["x"] * n)
stats = judge.last_run.stats
with open(out, "w") as f:
    json.dump({"scores": scores.tolist(), "cached": stats.cached, "asked": stats.asked}, f)
"""


def test_run_killed_halfway_resumes_without_loss_or_repeats(tmp_path) -> None:
    n, kill_after = 20, 10
    store_path, out = tmp_path / "store.sqlite", tmp_path / "out.json"
    script = tmp_path / "run_judge.py"
    script.write_text(KILL_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, str(script)]
    with FakeChatServer(score_of_hyp, hold_at=kill_after + 1) as server:
        # 1. The first run gets 10 answers; the 11th request is held and the run is killed.
        first = subprocess.Popen([*args, server.base_url, str(store_path), str(out), str(n)],
                                 env=env)
        assert server.held.wait(timeout=120), "the first run never reached request 11"
        stored_before = len(ScoreStore(store_path).get_records(
            "judge-answers", _all_keys(store_path)))
        first.send_signal(signal.SIGKILL)
        first.wait()
        server.release()
        assert not out.exists()

        # 2. A second run finishes the job from the store.
        second = subprocess.run([*args, server.base_url, str(store_path), str(out), str(n)],
                                env=env, timeout=120)
        assert second.returncode == 0

    result = json.loads(out.read_text())
    assert stored_before == kill_after
    assert result["scores"] == [float(i) for i in range(n)]
    assert result["cached"] == kill_after and result["asked"] == n - kill_after
    # every prompt answered exactly once; only the request cut off by the kill was sent again
    assert len(server.answered) == n and set(server.answered.values()) == {1}
    assert sum(server.received.values()) == n + 1
    assert sorted(server.received.values()).count(2) == 1


def _all_keys(store_path: Path) -> list[str]:
    import sqlite3

    deadline = time.monotonic() + 10
    while True:
        try:
            with sqlite3.connect(store_path) as conn:
                return [k for (k,) in conn.execute("SELECT key FROM records")]
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
