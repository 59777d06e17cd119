"""Metrics as rewards: TRL's calling convention, scaling, the store, and TRL's GRPOTrainer."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sacrebleu.metrics import CHRF

from accord.errors import ConfigError
from accord.metrics import create_metric
from accord.metrics.base import Metric
from accord.store import ScoreStore
from accord.train.reward import MetricReward

HYPS = ["The cat sat on the mat.", "A dog barked.", "", "the cat sat on a mat"]
REFS = ["The cat sat on the mat.", "The dog barked loudly.", "Nothing here.",
        "The cat sat on the mat."]


def sacrebleu_chrf(hyp: str, refs: list[str]) -> float:
    return CHRF().sentence_score(hyp, refs).score


def test_chrf_reward_is_sacrebleu_chrf_over_100() -> None:
    reward = create_metric("chrf").as_reward()
    out = reward(prompts=["p"] * 4, completions=HYPS, reference=REFS)
    expected = [sacrebleu_chrf(h, [r]) / 100 for h, r in zip(HYPS, REFS)]
    assert out == pytest.approx(expected)
    assert out[0] == pytest.approx(1.0)
    assert reward.__name__ == "accord_chrf"
    assert "scale:range" in reward.signature and "high:100.0" in reward.signature


def test_several_references_per_row() -> None:
    refs = [["A dog barked.", "The cat sat."], ["Nothing."]]
    out = MetricReward("chrf")(completions=["The cat sat.", "A dog"], reference=refs)
    assert out == pytest.approx([sacrebleu_chrf("The cat sat.", refs[0]) / 100,
                                 sacrebleu_chrf("A dog", refs[1]) / 100])


def test_conversational_completions_and_prompts() -> None:
    # TRL passes conversational prompts and completions as lists of message dicts.
    prompts = [[{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Copy: A dog barked."}]]
    completions = [[{"role": "assistant", "content": "A dog barked."}]]
    out = MetricReward("chrf")(prompts=prompts, completions=completions,
                               reference=["A dog barked."], completion_ids=[[1, 2]],
                               trainer_state=None, log_metric=None)
    assert out == pytest.approx([1.0])
    with pytest.raises(TypeError, match="list of message dicts"):
        MetricReward("chrf")(completions=[42], reference=["x"])


class NoScoreForEmpty(Metric):
    """Length in characters, NaN for an empty hyp (to check None rewards)."""

    name = "chars"
    needs_reference = False

    def score_segments(self, hyps: Any, refs: Any = None, srcs: Any = None) -> np.ndarray:
        return np.array([len(h) if h else np.nan for h in hyps], dtype=float)


class EchoSource(Metric):
    """1 when the hyp equals the source, else 0."""

    name = "echo_source"
    needs_reference = False
    needs_source = True

    def score_segments(self, hyps: Any, refs: Any = None, srcs: Any = None) -> np.ndarray:
        return np.array([float(h == s) for h, s in zip(hyps, srcs)])


def test_none_where_the_metric_gives_no_score() -> None:
    reward = MetricReward(NoScoreForEmpty())
    assert reward.scale == "none"  # no stated range
    assert reward(completions=["abc", "", "a"]) == [3.0, None, 1.0]


def test_scalings_by_hand() -> None:
    raw = np.array([1.0, 3.0, np.nan, 5.0])
    affine = MetricReward(NoScoreForEmpty(), scale="affine", factor=-2.0, offset=1.0)
    assert affine.scale_scores(raw)[[0, 1, 3]].tolist() == [-1.0, -5.0, -9.0]
    ranged = MetricReward(NoScoreForEmpty(), scale="range", low=1.0, high=5.0)
    assert ranged.scale_scores(raw)[[0, 1, 3]].tolist() == [0.0, 0.5, 1.0]
    z = MetricReward(NoScoreForEmpty(), scale="zscore").scale_scores(raw)
    finite = np.array([1.0, 3.0, 5.0])
    assert z[[0, 1, 3]].tolist() == pytest.approx(((finite - 3.0) / finite.std()).tolist())
    assert np.isnan(z[2])


def test_range_is_reversed_for_lower_is_better_metrics() -> None:
    ter = create_metric("ter")
    assert not ter.higher_is_better
    reward = ter.as_reward(scale="range", low=0.0, high=100.0)
    out = reward(completions=["The cat sat on the mat.", "dog"],
                 reference=["The cat sat on the mat.", "The cat sat on the mat."])
    assert out[0] == pytest.approx(1.0)
    assert out[1] is not None and out[1] < 1.0


def test_source_falls_back_to_the_prompt() -> None:
    reward = MetricReward(EchoSource())
    assert reward(prompts=["x", "y"], completions=["x", "x"]) == [1.0, 0.0]
    assert reward(prompts=["x"], completions=["z"], source=["z"]) == [1.0]


def test_bad_options_and_inputs_raise() -> None:
    with pytest.raises(ConfigError, match="needs low and high"):
        MetricReward(NoScoreForEmpty(), scale="range")
    with pytest.raises(ConfigError, match="high > low"):
        MetricReward("chrf", low=5.0, high=1.0)
    with pytest.raises(ConfigError, match="'reference'"):
        MetricReward("chrf")(completions=["a"], answer=["a"])
    with pytest.raises(ConfigError, match="2 completions but 1"):
        MetricReward("chrf")(completions=["a", "b"], reference=["a"])


def test_pickles_and_uses_the_store(tmp_path: Path) -> None:
    store_path = tmp_path / "store.sqlite"
    reward = MetricReward("chrf", store=ScoreStore(store_path))
    first = reward(completions=HYPS, reference=REFS)
    copy = pickle.loads(pickle.dumps(reward))
    assert copy(completions=HYPS, reference=REFS) == first
    with ScoreStore(store_path) as store:
        counts = store.signatures()
    assert counts == {reward.metric.signature: len(HYPS)}


def test_grpo_trainer_runs_with_an_accord_metric(tmp_path: Path) -> None:
    """TRL's GRPOTrainer, two steps, a tiny Llama, chrF as the reward."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    from accord.train.models import tiny_causal_lm

    torch.set_num_threads(1)
    words = ["copy", "the", "cat", "sat", "on", "mat", "a", "dog"]
    model, tokenizer = tiny_causal_lm(words, seed=0)
    rows = [{"prompt": "copy the cat", "reference": "the cat"},
            {"prompt": "copy a dog", "reference": "a dog"}] * 4
    calls: list[tuple[list[str], list[str], list[float | None]]] = []
    inner = create_metric("chrf").as_reward()

    def recorder(prompts: Any, completions: Any, **columns: Any) -> list[float | None]:
        out = create_metric("chrf").as_reward()(prompts=prompts, completions=completions,
                                                **columns)
        calls.append((list(completions), list(columns["reference"]), out))
        return out

    args = GRPOConfig(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=4,
                      num_generations=4, max_completion_length=4, report_to=[], use_cpu=True,
                      logging_steps=1, bf16=False, save_strategy="no", seed=0,
                      learning_rate=1e-3)
    # The MetricReward object itself is a reward function; the recorder beside it keeps the
    # completions TRL generated so that they can be scored independently.
    trainer = GRPOTrainer(model=model, reward_funcs=[inner, recorder], args=args,
                          train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    trainer.train()

    assert len(calls) == 2
    logged = [h for h in trainer.state.log_history if "rewards/accord_chrf/mean" in h]
    assert len(logged) == 2
    for (completions, references, out), entry in zip(calls, logged):
        expected = [sacrebleu_chrf(c, [r]) / 100 for c, r in zip(completions, references)]
        assert out == pytest.approx(expected)
        assert entry["rewards/accord_chrf/mean"] == pytest.approx(np.mean(expected), abs=1e-6)
        assert entry["rewards/recorder/mean"] == pytest.approx(np.mean(expected), abs=1e-6)
