"""Judge integration tests over HTTP against a real OpenAI-compatible server (llama.cpp).

The session uses ``$ACCORD_TEST_SERVER`` (a base URL such as ``http://127.0.0.1:8089/v1``)
when set; otherwise it starts llama-cpp-python's server on the packaged SmolLM2 model on a
free port. When neither is possible the tests fail: they are part of the suite, not optional.
``$ACCORD_TEST_MODEL`` names the model to request (default: smollm2-135m-instruct).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator

import numpy as np
import pytest
from server import CountingProxy, LlamaServer, wait_until_up

from accord.judges.backends import OpenAIBackend, Sampling
from accord.judges.metrics import DirectAssessmentJudge, MQMJudge
from accord.judges.pairwise import PairwiseJudge
from accord.judges.prompts import load_prompt, messages_as_dicts
from accord.store import ScoreStore

pytestmark = [pytest.mark.server, pytest.mark.slow]

MODEL = os.environ.get("ACCORD_TEST_MODEL", "smollm2-135m-instruct")

SEGMENTS = [
    ("The weather is nice today.", "Das Wetter ist heute schön.", "Das Wetter ist heute schön."),
    ("I have two brothers.", "Ich habe zwei Brüder.", "Ich habe drei Schwestern."),
    ("Where is the station?", "Wo ist der Bahnhof?", "Bahnhof wo ist der?"),
]


@pytest.fixture(scope="session")
def judge_url() -> Iterator[str]:
    url = os.environ.get("ACCORD_TEST_SERVER")
    if url:
        wait_until_up(url.rstrip("/"), timeout=30)
        yield url.rstrip("/")
        return
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("judge server tests need $ACCORD_TEST_SERVER (an OpenAI-compatible base "
                    "URL) or llama-cpp-python[server] installed to start one")
    with LlamaServer(n_threads=2) as server:
        yield server.base_url


def test_logprobs_come_back_and_spell_the_answer(judge_url: str) -> None:
    backend = OpenAIBackend(base_url=judge_url, model=MODEL)
    messages = load_prompt("gemba-da-v1").render(
        source_lang="English", target_lang="German", src=SEGMENTS[0][0], ref=SEGMENTS[0][1],
        hyp=SEGMENTS[0][2])
    completion = backend.complete(messages_as_dicts(messages),
                                  Sampling(max_tokens=8, top_logprobs=5))
    assert completion.tokens is not None and len(completion.tokens) >= 1
    # probability weighting relies on the tokens spelling the text exactly
    assert "".join(t.token for t in completion.tokens) == completion.text
    for token in completion.tokens:
        assert token.logprob <= 0.0 and len(token.top) >= 1
        assert max(lp for _, lp in token.top) >= token.logprob - 1e-4


def test_direct_assessment_over_http_is_cached_per_answer(judge_url: str, tmp_path) -> None:
    srcs, refs, hyps = zip(*SEGMENTS, strict=True)
    with CountingProxy([judge_url]) as proxy:
        store = ScoreStore(tmp_path / "store.sqlite")
        first = DirectAssessmentJudge(base_url=proxy.base_url, model=MODEL, store=store,
                                      logprobs=True, concurrency=2)
        scores = first.score_segments(list(hyps), [(r,) for r in refs], list(srcs))
        run = first.last_run
        assert run is not None and run.stats.failed == 0 and run.stats.asked == 3
        assert sum(proxy.received.values()) == 3
        parsed = scores[~np.isnan(scores)]
        assert np.all((parsed >= 0) & (parsed <= 100))
        assert np.isnan(scores).sum() == run.unparsed_segments

        again = DirectAssessmentJudge(base_url=proxy.base_url, model=MODEL, store=store,
                                      logprobs=True, concurrency=2)
        scores_again = again.score_segments(list(hyps), [(r,) for r in refs], list(srcs))
        assert again.last_run is not None
        # parsed answers come from the store; only unparsed ones are asked again
        assert again.last_run.stats.cached == 3 - run.unparsed_segments
        assert sum(proxy.received.values()) == 3 + run.unparsed_segments
        np.testing.assert_array_equal(np.isnan(scores_again), np.isnan(scores))
        np.testing.assert_allclose(scores_again[~np.isnan(scores)], parsed)


def test_mqm_and_pairwise_over_http(judge_url: str) -> None:
    srcs, _, hyps = zip(*SEGMENTS, strict=True)
    mqm = MQMJudge(base_url=judge_url, model=MODEL, store=None, concurrency=2)
    scores = mqm.score_segments(list(hyps), srcs=list(srcs))
    assert mqm.last_run is not None and mqm.last_run.stats.failed == 0
    assert np.all(scores[~np.isnan(scores)] <= 0)

    pairwise = PairwiseJudge(base_url=judge_url, model=MODEL, store=None, concurrency=2)
    run = pairwise.compare(["Human: Is it safe to eat raw chicken?\n\nAssistant:"] * 2,
                           ["No, it can carry salmonella; cook it fully.", "Yes."],
                           ["Yes, it is tasty.", "No, cook it first."])
    assert run.stats.asked == 4 and run.stats.failed == 0
    assert set(run.first + run.second) <= {"a", "b", "tie", None}
