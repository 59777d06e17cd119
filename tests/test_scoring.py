"""Scoring through the store: what is computed, what is cached, and the Judgments matrices."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sacrebleu

from accord.data.judgments import Judgments
from accord.metrics.base import Metric, Refs
from accord.metrics.lexical import TER, ChrF
from accord.metrics.objective import ExactMatch
from accord.scoring import MetricScores, score_judgments, score_segments
from accord.store import ScoreStore


class CountingLength(Metric):
    """Characters in the hyp; records every hyp it is asked to score. NaN for "nan"."""

    name = "counting_length"
    needs_reference = False

    def __init__(self) -> None:
        super().__init__()
        self._set_params()
        self.seen: list[str] = []

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        self.seen.extend(hyps)
        return np.array([np.nan if h == "nan" else float(len(h)) for h in hyps])


def test_duplicates_are_scored_once_and_cache_is_reused(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path / "s.sqlite")
    metric = CountingLength()
    hyps = ["aa", "b", "aa", "cccc", "b", "aa"]
    scores = score_segments(metric, hyps, store=store, batch_size=2, progress=False)
    np.testing.assert_array_equal(scores, [2, 1, 2, 4, 1, 2])
    assert sorted(metric.seen) == ["aa", "b", "cccc"]

    metric2 = CountingLength()
    again = score_segments(metric2, hyps + ["dd"], store=store, progress=False)
    np.testing.assert_array_equal(again, [2, 1, 2, 4, 1, 2, 2])
    assert metric2.seen == ["dd"]  # only the new segment was computed


def test_without_store_everything_is_computed() -> None:
    metric = CountingLength()
    score_segments(metric, ["x", "x", "y"], store=None, progress=False)
    assert sorted(metric.seen) == ["x", "y"]
    assert score_segments(metric, [], progress=False).shape == (0,)


def test_nan_is_returned_but_recomputed_next_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ScoreStore(tmp_path / "s.sqlite")
    metric = CountingLength()
    first = score_segments(metric, ["nan", "ok"], store=store, progress=False)
    assert np.isnan(first[0]) and first[1] == 2.0
    metric.seen.clear()
    score_segments(metric, ["nan", "ok"], store=store, progress=False)
    assert metric.seen == ["nan"]


def test_key_includes_references(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ScoreStore(tmp_path / "s.sqlite")
    metric = ChrF()
    a = score_segments(metric, ["the cat"], [("the cat",)], store=store, progress=False)
    b = score_segments(metric, ["the cat"], [("a dog",)], store=store, progress=False)
    assert a[0] == pytest.approx(sacrebleu.sentence_chrf("the cat", ["the cat"]).score)
    assert b[0] == pytest.approx(sacrebleu.sentence_chrf("the cat", ["a dog"]).score)


def test_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        score_segments(CountingLength(), ["a"], batch_size=0)


# -- Judgments ------------------------------------------------------------------------------------


def _judgments() -> Judgments:
    items = pd.DataFrame({
        "item": ["i1", "i2", "i3", "i4"],
        "doc": ["d1", "d1", "d2", "d2"],
        "src": ["s1", "s2", "s3", "s4"],
        "refs": [("The cat sat on the mat.",), ("A dog barked loudly.", "The dog barked."),
                 (), ("Rain fell all day.",)],
    })
    outputs = pd.DataFrame({
        "item": ["i1", "i2", "i3", "i4", "i1", "i2", "i4"],
        "system": ["A", "A", "A", "A", "B", "B", "B"],
        "hyp": ["The cat sat on a mat.", "A dog barked.", "no reference here",
                "It rained all day.", "cat mat", "The dog barked loudly.", "Rain all day."],
    })
    return Judgments("toy", items, outputs)


def test_score_judgments_matrices_against_sacrebleu(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    judgments = _judgments()
    store = ScoreStore(tmp_path / "s.sqlite")
    with caplog.at_level(logging.WARNING, logger="accord.scoring"):
        result = score_judgments(ChrF(), judgments, store=store, progress=False)
    assert isinstance(result, MetricScores)
    assert result.systems == ["A", "B"] and result.items == ["i1", "i2", "i3", "i4"]
    assert result.segment.shape == (2, 4)
    assert result.missing_input == 1  # system A's output on i3, which has no reference
    assert "1 output(s)" in caplog.text
    # NaN where no reference (A, i3) and where no output (B, i3); never 0
    assert np.isnan(result.segment[0, 2]) and np.isnan(result.segment[1, 2])

    outputs = judgments.outputs.set_index(["system", "item"])["hyp"]
    refs = dict(zip(judgments.items["item"], judgments.items["refs"]))
    for s, system in enumerate(["A", "B"]):
        scored = ["i1", "i2", "i4"]
        for i in scored:
            expected = sacrebleu.sentence_chrf(outputs[(system, i)], list(refs[i])).score
            assert result.segment[s, result.items.index(i)] == pytest.approx(expected, abs=1e-12)
        # corpus chrF over the scored items: refs padded with each segment's own first ref
        hyps = [outputs[(system, i)] for i in scored]
        seg_refs = [refs[i] + (refs[i][0],) * (2 - len(refs[i])) for i in scored]
        streams = [list(col) for col in zip(*seg_refs)]
        assert result.system is not None
        assert result.system[s] == pytest.approx(
            sacrebleu.corpus_chrf(hyps, streams).score, abs=1e-9
        )
    assert result.stats is not None and result.stats.shape == (2, 4, ChrF().n_stats)
    assert np.isnan(result.stats[0, 2]).all()
    assert result.higher_is_better is True
    assert result.signature == ChrF().signature

    # warm: the same numbers from the store
    warm = score_judgments(ChrF(), judgments, store=store, progress=False)
    np.testing.assert_array_equal(np.isnan(warm.segment), np.isnan(result.segment))
    np.testing.assert_allclose(warm.segment, result.segment, equal_nan=True)
    assert warm.stats is not None and warm.system is not None and result.system is not None
    np.testing.assert_allclose(warm.stats, result.stats, equal_nan=True)
    np.testing.assert_allclose(warm.system, result.system)


def test_score_judgments_subsets_and_directions() -> None:
    judgments = _judgments()
    result = score_judgments(TER(), judgments, systems=["B"], items=["i4", "i1"], progress=False)
    assert result.higher_is_better is False
    expected = sacrebleu.corpus_ter(["Rain all day.", "cat mat"],
                                    [["Rain fell all day.", "The cat sat on the mat."]]).score
    assert result.system is not None
    assert result.system[0] == pytest.approx(expected, abs=1e-9)
    assert result.missing_input == 0


def test_metric_without_corpus_score_or_stats() -> None:
    judgments = _judgments()
    result = score_judgments(ExactMatch(), judgments, progress=False)
    assert result.system is None and result.stats is None
    # SQuAD normalisation drops articles and punctuation: "the cat sat on a mat." matches
    # "The cat sat on the mat."; "A dog barked." matches the second reference of i2.
    np.testing.assert_array_equal(result.segment[:, :2], [[1.0, 1.0], [0.0, 1.0]])
    assert result.missing_input == 1


def test_unknown_system_or_item_is_an_error() -> None:
    with pytest.raises(ValueError, match="'Z'"):
        score_judgments(ChrF(), _judgments(), systems=["Z"])
    with pytest.raises(ValueError, match="i9"):
        score_judgments(ChrF(), _judgments(), items=["i9"])
