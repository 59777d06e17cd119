"""Lexical metrics against sacrebleu and rouge-score called directly (the oracles)."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from rouge_score.rouge_scorer import RougeScorer

from accord.errors import ConfigError
from accord.metrics import create_metric
from accord.metrics.lexical import BLEU, TER, ChrF, Rouge1, Rouge2, RougeL

HYPS = [
    "The cat sat on the mat.",
    "A quick brown fox jumps over the lazy dog",
    "Hello there, general Kenobi!",
    "",
    "completely unrelated words here",
    "the the the the the",
    "It is raining cats and dogs in London today.",
    "Short.",
]
REFS = [
    ("The cat is sitting on the mat.", "A cat sat on the mat."),
    ("The quick brown fox jumped over the lazy dog.",),
    ("Hello there, General Kenobi.", "Hi there general Kenobi!", "Hello, Kenobi."),
    ("Something was said.",),
    ("The weather is nice.", "Nice weather today."),
    ("The cat is on the mat.",),
    ("It rains heavily in London today.", "Today it is pouring in London."),
    ("Short.", "Very short indeed."),
]


def _synthetic(n: int, seed: int) -> tuple[list[str], list[tuple[str, ...]]]:
    """Random sentences over a small vocabulary, 1-3 references each (varying)."""
    rng = np.random.default_rng(seed)
    vocab = "the a cat dog sat ran on under mat house big small red quickly , .".split()
    hyps, refs = [], []
    for _ in range(n):
        hyps.append(" ".join(rng.choice(vocab, size=rng.integers(1, 15))))
        n_refs = int(rng.integers(1, 4))
        refs.append(tuple(" ".join(rng.choice(vocab, size=rng.integers(1, 15)))
                          for _ in range(n_refs)))
    return hyps, refs


def _streams(refs: list[tuple[str, ...]]) -> list[list[str]]:
    """Equal-count references as sacrebleu streams."""
    return [list(col) for col in zip(*refs)]


def _pad_with_own(refs: list[tuple[str, ...]]) -> list[list[str]]:
    """Make every segment have the same number of refs by repeating its own first ref."""
    width = max(len(r) for r in refs)
    return _streams([tuple(r) + (r[0],) * (width - len(r)) for r in refs])


# -- segment scores ---------------------------------------------------------------------------


def test_sentence_scores_match_sacrebleu() -> None:
    bleu = BLEU().score_segments(HYPS, REFS)
    chrf = ChrF().score_segments(HYPS, REFS)
    chrfpp = ChrF(word_order=2).score_segments(HYPS, REFS)
    ter = TER().score_segments(HYPS, REFS)
    for i, (hyp, refs) in enumerate(zip(HYPS, REFS)):
        assert bleu[i] == pytest.approx(sacrebleu.sentence_bleu(hyp, list(refs)).score, abs=1e-12)
        assert chrf[i] == pytest.approx(sacrebleu.sentence_chrf(hyp, list(refs)).score, abs=1e-12)
        assert chrfpp[i] == pytest.approx(
            sacrebleu.sentence_chrf(hyp, list(refs), word_order=2).score, abs=1e-12
        )
        assert ter[i] == pytest.approx(sacrebleu.sentence_ter(hyp, list(refs)).score, abs=1e-12)


def test_sentence_bleu_options_reach_sacrebleu() -> None:
    ours = BLEU(lowercase=True, smooth_method="floor", smooth_value=0.2).score_segments(
        HYPS, REFS
    )
    for i, (hyp, refs) in enumerate(zip(HYPS, REFS)):
        expected = sacrebleu.sentence_bleu(
            hyp, list(refs), lowercase=True, smooth_method="floor", smooth_value=0.2
        ).score
        assert ours[i] == pytest.approx(expected, abs=1e-12)


# -- corpus scores --------------------------------------------------------------------------------


def test_corpus_scores_match_sacrebleu_with_equal_ref_counts() -> None:
    hyps, refs = HYPS[:3], [r[:1] for r in REFS[:3]]
    streams = _streams(refs)
    assert BLEU().score_corpus(hyps, refs) == pytest.approx(
        sacrebleu.corpus_bleu(hyps, streams).score, abs=1e-12
    )
    assert ChrF().score_corpus(hyps, refs) == pytest.approx(
        sacrebleu.corpus_chrf(hyps, streams).score, abs=1e-12
    )
    assert TER().score_corpus(hyps, refs) == pytest.approx(
        sacrebleu.corpus_ter(hyps, streams).score, abs=1e-12
    )


def test_corpus_scores_with_varying_reference_counts() -> None:
    # BLEU and chrF are unchanged when a segment's own reference is repeated (max counts,
    # closest length, best reference), so that padding gives an independent oracle.
    padded = _pad_with_own(REFS)
    assert BLEU().score_corpus(HYPS, REFS) == pytest.approx(
        sacrebleu.corpus_bleu(HYPS, padded).score, abs=1e-12
    )
    assert ChrF(word_order=2).score_corpus(HYPS, REFS) == pytest.approx(
        sacrebleu.corpus_chrf(HYPS, padded, word_order=2).score, abs=1e-12
    )
    # TER averages reference lengths, so repeating one would change it; sum sentence stats.
    sentence = [sacrebleu.sentence_ter(h, list(r)) for h, r in zip(HYPS, REFS)]
    edits = sum(s.num_edits for s in sentence)
    ref_len = sum(s.ref_length for s in sentence)
    assert TER().score_corpus(HYPS, REFS) == pytest.approx(100 * edits / ref_len, abs=1e-9)


def test_empty_corpus_and_missing_references_are_errors() -> None:
    with pytest.raises(ConfigError, match="at least one hyp"):
        BLEU().score_corpus([], [])
    with pytest.raises(ConfigError, match="needs references"):
        ChrF().score_segments(["a"], None)
    with pytest.raises(ConfigError, match="position 1"):
        TER().score_segments(["a", "b"], [("a",), ()])


# -- sufficient statistics ----------------------------------------------------------------------

# (our metric, its parameters, sacrebleu called directly on the same corpus)
STAT_CASES = [
    (BLEU, {}, lambda h, r: sacrebleu.corpus_bleu(h, r)),
    (BLEU, {"lowercase": True}, lambda h, r: sacrebleu.corpus_bleu(h, r, lowercase=True)),
    (BLEU, {"smooth_method": "floor"},
     lambda h, r: sacrebleu.corpus_bleu(h, r, smooth_method="floor")),
    (BLEU, {"smooth_method": "add-k", "smooth_value": 2},
     lambda h, r: sacrebleu.corpus_bleu(h, r, smooth_method="add-k", smooth_value=2)),
    (BLEU, {"smooth_method": "none"},
     lambda h, r: sacrebleu.corpus_bleu(h, r, smooth_method="none")),
    # corpus_bleu has no max_ngram_order argument: the sacrebleu class directly
    (BLEU, {"tokenize": "char", "max_ngram_order": 2},
     lambda h, r: sacrebleu.BLEU(tokenize="char", max_ngram_order=2).corpus_score(h, r)),
    (ChrF, {}, lambda h, r: sacrebleu.corpus_chrf(h, r)),
    (ChrF, {"word_order": 2}, lambda h, r: sacrebleu.corpus_chrf(h, r, word_order=2)),
    (ChrF, {"beta": 1, "eps_smoothing": True},
     lambda h, r: sacrebleu.corpus_chrf(h, r, beta=1, eps_smoothing=True)),
    (ChrF, {"char_order": 3, "lowercase": True},
     lambda h, r: sacrebleu.CHRF(char_order=3, lowercase=True).corpus_score(h, r)),
    (TER, {}, lambda h, r: sacrebleu.corpus_ter(h, r)),
    (TER, {"case_sensitive": True, "no_punct": True},
     lambda h, r: sacrebleu.corpus_ter(h, r, case_sensitive=True, no_punct=True)),
]


@pytest.mark.parametrize("cls,params,oracle", STAT_CASES)
def test_score_from_summed_stats_equals_sacrebleu_corpus(  # type: ignore[no-untyped-def]
    cls, params, oracle
):
    metric = cls(**params)
    hyps, refs = _synthetic(60, seed=3)
    refs = [r[:1] for r in refs]  # equal counts so sacrebleu's corpus_* can be called directly
    stats = metric.segment_stats(hyps, refs)
    assert stats.shape == (60, metric.n_stats)
    expected = oracle(hyps, _streams(refs)).score
    assert float(metric.score_from_stats(stats.sum(0))) == pytest.approx(expected, abs=1e-9)

    # vectorized over resamples: every row is sacrebleu's corpus score of that subset
    rng = np.random.default_rng(0)
    subsets = [np.sort(rng.choice(60, size=int(rng.integers(1, 60)), replace=False))
               for _ in range(5)]
    sums = np.stack([stats[s].sum(0) for s in subsets])  # (5, k)
    vectorized = metric.score_from_stats(sums)
    assert vectorized.shape == (5,)
    for value, subset in zip(vectorized, subsets):
        sub_hyps = [hyps[i] for i in subset]
        sub_refs = [refs[i] for i in subset]
        assert value == pytest.approx(oracle(sub_hyps, _streams(sub_refs)).score, abs=1e-9)


def test_stats_with_varying_reference_counts() -> None:
    hyps, refs = _synthetic(40, seed=5)
    assert len({len(r) for r in refs}) > 1
    padded = _pad_with_own(refs)
    bleu, chrf = BLEU(), ChrF(word_order=2)
    assert float(bleu.score_from_stats(bleu.segment_stats(hyps, refs).sum(0))) == pytest.approx(
        sacrebleu.corpus_bleu(hyps, padded).score, abs=1e-9
    )
    assert float(chrf.score_from_stats(chrf.segment_stats(hyps, refs).sum(0))) == pytest.approx(
        sacrebleu.corpus_chrf(hyps, padded, word_order=2).score, abs=1e-9
    )
    ter = TER()
    sentence = [sacrebleu.sentence_ter(h, list(r)) for h, r in zip(hyps, refs)]
    expected = 100 * sum(s.num_edits for s in sentence) / sum(s.ref_length for s in sentence)
    assert float(ter.score_from_stats(ter.segment_stats(hyps, refs).sum(0))) == pytest.approx(
        expected, abs=1e-9
    )


def test_per_segment_stats_give_sentence_scores() -> None:
    bleu = BLEU()
    per_segment = bleu.score_from_stats(bleu.segment_stats(HYPS, REFS), effective_order=True)
    expected = [sacrebleu.sentence_bleu(h, list(r)).score for h, r in zip(HYPS, REFS)]
    np.testing.assert_allclose(per_segment, expected, atol=1e-9)
    chrf = ChrF()
    expected = [sacrebleu.sentence_chrf(h, list(r)).score for h, r in zip(HYPS, REFS)]
    np.testing.assert_allclose(chrf.score_from_stats(chrf.segment_stats(HYPS, REFS)), expected,
                               atol=1e-9)


def test_stats_shape_is_checked() -> None:
    with pytest.raises(ConfigError, match="last dimension 10"):
        BLEU().score_from_stats(np.zeros(3))


# -- signatures ---------------------------------------------------------------------------------


def test_signature_carries_sacrebleu_signature() -> None:
    probe = sacrebleu.BLEU(effective_order=True)
    probe.sentence_score("x y", ["x y"])
    theirs = probe.get_signature().format().replace("nrefs:1|", "")
    signature = BLEU().signature
    assert f'sacrebleu:"{theirs}"' in signature
    assert signature.startswith("bleu|")
    assert f"sacrebleu={sacrebleu.__version__}" in signature
    assert BLEU(lowercase=True).signature != signature
    # the signature does not change once the metric has scored something
    metric = ChrF(word_order=2)
    before = metric.signature
    metric.score_corpus(HYPS, REFS)
    assert metric.signature == before
    assert "nw:2" in before


def test_directions_and_registry() -> None:
    assert TER.higher_is_better is False
    assert BLEU.has_corpus_score and ChrF.has_corpus_score and TER.has_corpus_score
    assert isinstance(create_metric("chrf", word_order=2), ChrF)
    with pytest.raises(ConfigError):
        BLEU(smooth_method="magic")


# -- ROUGE --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls,rouge_type", [(Rouge1, "rouge1"), (Rouge2, "rouge2"),
                                             (RougeL, "rougeL")])
@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_fmeasure_is_score_multi(  # type: ignore[no-untyped-def]
    cls, rouge_type, use_stemmer
):
    ours = cls(use_stemmer=use_stemmer).score_segments(HYPS, REFS)
    scorer = RougeScorer([rouge_type], use_stemmer=use_stemmer)
    expected = [scorer.score_multi(list(r), h)[rouge_type].fmeasure for h, r in zip(HYPS, REFS)]
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_rouge_precision_and_recall_take_max_over_references() -> None:
    scorer = RougeScorer(["rouge1"], use_stemmer=False)
    for component in ("precision", "recall"):
        ours = Rouge1(component=component).score_segments(HYPS, REFS)
        expected = [max(getattr(scorer.score(ref, h)["rouge1"], component) for ref in r)
                    for h, r in zip(HYPS, REFS)]
        np.testing.assert_allclose(ours, expected, atol=1e-12)
    with pytest.raises(ConfigError, match="component"):
        Rouge1(component="f1")


def test_rouge_hand_worked() -> None:
    # hyp "the cat sat", ref "the cat ran": 2 of 3 unigrams match -> P = R = F = 2/3;
    # bigrams: "the cat" matches, 1 of 2 -> 1/2.
    assert Rouge1().score_segments(["the cat sat"], [("the cat ran",)])[0] == pytest.approx(2 / 3)
    assert Rouge2().score_segments(["the cat sat"], [("the cat ran",)])[0] == pytest.approx(0.5)
