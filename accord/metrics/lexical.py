"""Lexical-overlap metrics: BLEU, chrF, TER (sacrebleu) and ROUGE-1/2/L (rouge-score).

The libraries do the scoring; this module adapts them to :class:`accord.metrics.base.Metric`
and adds, for the sacrebleu metrics, per-segment *sufficient statistics* with a vectorized
score function. A corpus BLEU/chrF/TER is a function of the sum of its segments' statistics,
so ``score_from_stats(segment_stats(hyps, refs).sum(0))`` equals ``score_corpus(hyps, refs)``
and a bootstrap over segments costs one matrix product instead of re-tokenizing the corpus.

References: Papineni et al. 2002 (BLEU), Popović 2015/2017 (chrF, chrF++), Snover et al. 2006
(TER), Lin 2004 (ROUGE), Post 2018 (sacrebleu and its signatures).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections.abc import Sequence
from importlib.metadata import version as package_version
from typing import Any, ClassVar, cast

import numpy as np
import sacrebleu
from sacrebleu.metrics.base import Metric as SacreMetric

from accord.errors import ConfigError
from accord.metrics.base import Metric, Refs
from accord.signature import make_signature

logger = logging.getLogger(__name__)

# sacrebleu replaces log(0) by this value (utils.my_log) so that a zero precision drives BLEU
# to exactly 0 instead of raising; the vectorized BLEU below uses the same floor.
_LOG_ZERO = -9999999999.0


def _ref_streams(refs: Refs) -> Sequence[Sequence[str]]:
    """Per-segment reference lists -> sacrebleu's reference streams.

    sacrebleu takes one stream per reference "slot" (stream j holds the j-th reference of
    every segment) and accepts ``None`` for a segment that has fewer references than the
    others; such gaps are dropped per segment, so segments may have different numbers of
    references.
    """
    n_streams = max(len(r) for r in refs)
    streams = [[r[j] if j < len(r) else None for r in refs] for j in range(n_streams)]
    # sacrebleu's type hints say str, but its reference caching documents and handles None
    return cast(Sequence[Sequence[str]], streams)


class _SacrebleuMetric(Metric):
    """Shared machinery of the sacrebleu metrics (BLEU, chrF, TER).

    Subclasses build two sacrebleu objects in ``__init__``: ``_sentence`` scores single
    segments (``sentence_score``), ``_corpus`` scores corpora and extracts statistics.
    """

    has_corpus_score: ClassVar[bool] = True
    _sentence: SacreMetric
    _corpus: SacreMetric
    _sacrebleu_signature: str | None = None

    def versions(self) -> dict[str, str]:
        return {**super().versions(), "sacrebleu": sacrebleu.__version__}

    @property
    def sacrebleu_signature(self) -> str:
        """sacrebleu's own signature of the segment-level scorer, without ``nrefs``.

        ``nrefs`` depends on the input, not on the metric, so it is left out: our signature
        must be the same before and after scoring to serve as a cache key.
        """
        if self._sacrebleu_signature is not None:
            return self._sacrebleu_signature
        # sacrebleu only builds a signature once it has seen references; a throwaway scorer
        # with the same options scores one dummy segment so that it can describe itself.
        probe = type(self._sentence)(**self._sacrebleu_kwargs(sentence=True))
        probe.sentence_score("a", ["a"])
        signature = probe.get_signature()
        signature.update("nrefs", None)
        self._sacrebleu_signature = signature.format()
        return self._sacrebleu_signature

    @property
    def signature(self) -> str:
        """Our signature with sacrebleu's inside it, quoted: ``...|sacrebleu:"case:mixed|..."``."""
        version = ",".join(f"{k}={v}" for k, v in sorted(self.versions().items()))
        params = {**self._params, "sacrebleu": f'"{self.sacrebleu_signature}"'}
        return make_signature(self.name, params, version=version)

    @abstractmethod
    def _sacrebleu_kwargs(self, sentence: bool) -> dict[str, Any]:
        """Keyword arguments of the sacrebleu metric class (sentence or corpus use)."""

    # -- scoring --------------------------------------------------------------------------

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """Sentence-level scores (sacrebleu ``sentence_score``), each hyp against its refs.

        Returns:
            ``(len(hyps),)`` floats on sacrebleu's 0-100 scale.
        """
        self.check_inputs(hyps, refs, srcs)
        refs = cast(Refs, refs)  # check_inputs raised if None
        scores = [self._sentence.sentence_score(h, list(r)).score for h, r in zip(hyps, refs)]
        return np.asarray(scores, dtype=float)

    def score_corpus(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> float:
        """Corpus-level score (sacrebleu ``corpus_score``); refs may vary in number by segment."""
        self._check_corpus(hyps, refs, srcs)
        refs = cast(Refs, refs)  # check_inputs raised if None
        return float(self._corpus.corpus_score(list(hyps), _ref_streams(refs)).score)

    def segment_stats(self, hyps: Sequence[str], refs: Refs) -> np.ndarray:
        """Sufficient statistics of each segment, as a ``(len(hyps), n_stats)`` float array.

        Summing rows over any subset of segments and passing the sum to
        :meth:`score_from_stats` gives the corpus score of that subset.
        """
        self._check_corpus(hyps, refs, None)
        # `_extract_corpus_statistics` is the (underscored) entry point that sacrebleu's own
        # significance tests use to get per-segment statistics; the public API has no other.
        stats = self._corpus._extract_corpus_statistics(list(hyps), _ref_streams(refs))
        return np.asarray(stats, dtype=float).reshape(len(hyps), self.n_stats)

    @property
    @abstractmethod
    def n_stats(self) -> int:
        """Number of sufficient statistics per segment (the ``k`` of ``segment_stats``)."""

    @abstractmethod
    def score_from_stats(self, stats: np.ndarray) -> np.ndarray:
        """Corpus scores from summed statistics ``(..., n_stats)``; returns shape ``(...)``."""

    def _check_corpus(self, hyps: Sequence[str], refs: Refs | None, srcs: Any) -> None:
        self.check_inputs(hyps, refs, srcs)
        if len(hyps) == 0:
            raise ConfigError(f"metric {self.name!r}: a corpus score needs at least one hyp")

    def _check_stats(self, stats: np.ndarray) -> np.ndarray:
        stats = np.asarray(stats, dtype=float)
        if stats.ndim == 0 or stats.shape[-1] != self.n_stats:
            raise ConfigError(
                f"metric {self.name!r}: statistics must have last dimension {self.n_stats}, "
                f"got shape {stats.shape}"
            )
        return stats


class BLEU(_SacrebleuMetric):
    """BLEU (Papineni et al. 2002) through sacrebleu, 0-100.

    Segment scores are sacrebleu's sentence BLEU, which uses effective order (n-gram orders
    the hyp is too short to have are left out) as ``sacrebleu.sentence_bleu`` does; the
    corpus score is ``sacrebleu.corpus_bleu``'s (no effective order). The quoted sacrebleu
    signature inside ours is the sentence-level one (``eff:yes``).

    Args:
        lowercase: compare lowercased text.
        tokenize: sacrebleu tokenizer name (``13a``, ``intl``, ``zh``, ``char``, ``none``...).
        smooth_method: ``exp`` (default), ``floor``, ``add-k`` or ``none`` (Chen & Cherry 2014).
        smooth_value: the value for ``floor``/``add-k``; None takes sacrebleu's default.
        max_ngram_order: highest n-gram order (4).
    """

    name = "bleu"

    def __init__(
        self,
        lowercase: bool = False,
        tokenize: str = "13a",
        smooth_method: str = "exp",
        smooth_value: float | None = None,
        max_ngram_order: int = 4,
    ) -> None:
        super().__init__()
        if smooth_method not in sacrebleu.BLEU.SMOOTH_DEFAULTS:
            raise ConfigError(
                f"bleu: smooth_method must be one of {sorted(sacrebleu.BLEU.SMOOTH_DEFAULTS)}, "
                f"got {smooth_method!r}"
            )
        if tokenize not in sacrebleu.BLEU.TOKENIZERS:
            raise ConfigError(
                f"bleu: tokenize must be one of {sorted(sacrebleu.BLEU.TOKENIZERS)}, "
                f"got {tokenize!r}"
            )
        if int(max_ngram_order) < 1:
            raise ConfigError(f"bleu: max_ngram_order must be >= 1, got {max_ngram_order!r}")
        self._set_params(
            lowercase=lowercase,
            tokenize=tokenize,
            smooth_method=smooth_method,
            smooth_value=smooth_value,
            max_ngram_order=int(max_ngram_order),
        )
        self._sentence = sacrebleu.BLEU(**self._sacrebleu_kwargs(sentence=True))
        self._corpus = sacrebleu.BLEU(**self._sacrebleu_kwargs(sentence=False))

    def _sacrebleu_kwargs(self, sentence: bool) -> dict[str, Any]:
        return {**self._params, "effective_order": sentence}

    @property
    def n_stats(self) -> int:
        # [hyp_len, ref_len, matches per order..., hyp n-grams per order...]
        return 2 + 2 * int(self._params["max_ngram_order"])

    def score_from_stats(self, stats: np.ndarray, effective_order: bool = False) -> np.ndarray:
        """BLEU from summed statistics ``(..., 2 + 2 * max_ngram_order)``; shape ``(...)``.

        Follows sacrebleu's ``BLEU.compute_bleu``: brevity penalty, the chosen smoothing of
        zero precisions, and a score of 0 when no n-gram of any order matches.

        Args:
            stats: ``[hyp_len, ref_len, matches_1..N, totals_1..N]`` along the last axis.
            effective_order: average only over orders the hyp has n-grams of (True gives
                sentence BLEU from a single segment's statistics; False, corpus BLEU).
        """
        stats = self._check_stats(stats)
        order = int(self._params["max_ngram_order"])
        method = self._params["smooth_method"]
        value = self._params["smooth_value"]
        if value is None:
            value = sacrebleu.BLEU.SMOOTH_DEFAULTS[method]
        sys_len, ref_len = stats[..., 0], stats[..., 1]
        correct = stats[..., 2 : 2 + order].copy()  # (..., N)
        total = stats[..., 2 + order :].copy()  # (..., N)

        # 1. brevity penalty exp(1 - r/c) when the hyp is shorter than the reference
        with np.errstate(divide="ignore", invalid="ignore"):
            short = np.exp(1.0 - ref_len / np.where(sys_len > 0, sys_len, 1.0))
        bp = np.where(sys_len < ref_len, np.where(sys_len > 0, short, 0.0), 1.0)
        no_match = ~np.any(correct != 0, axis=-1)

        # 2. smoothed precisions; orders from the first one with no hyp n-grams on are unused
        if method == "add-k":
            correct[..., 1:] += value
            total[..., 1:] += value
        active = np.cumprod(total > 0, axis=-1).astype(bool)  # (..., N)
        zero = (correct == 0) & active
        safe_total = np.where(total > 0, total, 1.0)
        precision = 100.0 * correct / safe_total
        if method == "exp":
            # NIST smoothing: the k-th zero precision becomes 1 / (2^k * total)
            doubling = 2.0 ** np.cumsum(zero, axis=-1)
            precision = np.where(zero, 100.0 / (doubling * safe_total), precision)
        elif method == "floor":
            precision = np.where(zero, 100.0 * value / safe_total, precision)
        precision = np.where(active, precision, 0.0)

        # 3. geometric mean over the (effective) orders
        with np.errstate(divide="ignore"):
            log_p = np.where(precision > 0, np.log(np.where(precision > 0, precision, 1.0)),
                             _LOG_ZERO)
        if effective_order:
            n_active = active.sum(axis=-1)
            eff = np.where(n_active > 0, n_active, order)
        else:
            eff = np.full(bp.shape, order)
        used = np.arange(order) < eff[..., None]  # (..., N)
        mean_log = np.where(used, log_p, 0.0).sum(axis=-1) / eff
        return np.where(no_match, 0.0, bp * np.exp(mean_log))


class ChrF(_SacrebleuMetric):
    """chrF (Popović 2015) and chrF++ (Popović 2017, ``word_order=2``) through sacrebleu, 0-100.

    With several references a segment takes the statistics of its best-scoring reference
    (sacrebleu's rule), so corpus chrF sums those.

    Args:
        char_order: highest character n-gram order (6).
        word_order: highest word n-gram order (0 = chrF, 2 = chrF++).
        beta: recall weight of the F-score (2).
        lowercase: compare lowercased text.
        whitespace: keep whitespace inside character n-grams.
        eps_smoothing: chrF++.py/Moses-style epsilon smoothing instead of sacrebleu 2's
            effective-order averaging.
    """

    name = "chrf"

    def __init__(
        self,
        char_order: int = 6,
        word_order: int = 0,
        beta: int = 2,
        lowercase: bool = False,
        whitespace: bool = False,
        eps_smoothing: bool = False,
    ) -> None:
        super().__init__()
        if int(char_order) < 0 or int(word_order) < 0 or int(char_order) + int(word_order) < 1:
            raise ConfigError(
                f"chrf: char_order and word_order must be >= 0 and not both 0, got "
                f"char_order={char_order!r}, word_order={word_order!r}"
            )
        self._set_params(
            char_order=int(char_order),
            word_order=int(word_order),
            beta=beta,
            lowercase=lowercase,
            whitespace=whitespace,
            eps_smoothing=eps_smoothing,
        )
        self._sentence = sacrebleu.CHRF(**self._sacrebleu_kwargs(sentence=True))
        self._corpus = sacrebleu.CHRF(**self._sacrebleu_kwargs(sentence=False))

    def _sacrebleu_kwargs(self, sentence: bool) -> dict[str, Any]:
        return dict(self._params)

    @property
    def n_stats(self) -> int:
        # [hyp n-grams, ref n-grams, matches] for each character then word order
        return 3 * (int(self._params["char_order"]) + int(self._params["word_order"]))

    def score_from_stats(self, stats: np.ndarray) -> np.ndarray:
        """chrF from summed statistics ``(..., 3 * (char_order + word_order))``; shape ``(...)``.

        The F-beta of precision and recall averaged over the orders with n-grams on both sides
        (sacrebleu 2 default), or the average of per-order F-scores with epsilon smoothing.
        """
        stats = self._check_stats(stats)
        n_orders = self.n_stats // 3
        triples = stats.reshape(*stats.shape[:-1], n_orders, 3)  # (..., orders, 3)
        n_hyp, n_ref, n_match = triples[..., 0], triples[..., 1], triples[..., 2]
        factor = float(self._params["beta"]) ** 2
        eps = 1e-16  # sacrebleu's epsilon for an order with no n-grams
        precision = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1.0), eps)
        recall = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1.0), eps)
        if self._params["eps_smoothing"]:
            denom = factor * precision + recall
            f = np.where(
                denom > 0, (1 + factor) * precision * recall / np.where(denom > 0, denom, 1.0),
                eps,
            )
            return 100 * f.sum(axis=-1) / n_orders
        valid = (n_hyp > 0) & (n_ref > 0)
        n_valid = valid.sum(axis=-1)
        safe_n = np.where(n_valid > 0, n_valid, 1)
        avg_p = np.where(n_valid > 0, np.where(valid, precision, 0.0).sum(axis=-1) / safe_n, 0.0)
        avg_r = np.where(n_valid > 0, np.where(valid, recall, 0.0).sum(axis=-1) / safe_n, 0.0)
        denom = factor * avg_p + avg_r
        f = (1 + factor) * avg_p * avg_r / np.where(denom > 0, denom, 1.0)
        return np.where(avg_p + avg_r > 0, 100 * f, 0.0)


class TER(_SacrebleuMetric):
    """Translation edit rate (Snover et al. 2006) through sacrebleu, 0-100+; lower is better.

    ``higher_is_better`` is False: meta-evaluation negates TER before correlating it with
    human scores. With several references a segment counts the fewest edits to any of them
    over the mean reference length (Tercom's rule).

    Args:
        normalized: Tercom's normalisation of punctuation and XML entities.
        no_punct: remove punctuation.
        asian_support: split CJK characters (with ``normalized``/``no_punct``).
        case_sensitive: keep case (default: compare lowercased).
    """

    name = "ter"
    higher_is_better: ClassVar[bool] = False

    def __init__(
        self,
        normalized: bool = False,
        no_punct: bool = False,
        asian_support: bool = False,
        case_sensitive: bool = False,
    ) -> None:
        super().__init__()
        self._set_params(
            normalized=normalized,
            no_punct=no_punct,
            asian_support=asian_support,
            case_sensitive=case_sensitive,
        )
        self._sentence = sacrebleu.TER(**self._sacrebleu_kwargs(sentence=True))
        self._corpus = sacrebleu.TER(**self._sacrebleu_kwargs(sentence=False))

    def _sacrebleu_kwargs(self, sentence: bool) -> dict[str, Any]:
        return dict(self._params)

    @property
    def n_stats(self) -> int:
        return 2  # [fewest edits, mean reference length]

    def score_from_stats(self, stats: np.ndarray) -> np.ndarray:
        """TER from summed ``(..., 2)`` statistics ``[edits, ref_len]``; shape ``(...)``.

        ``100 * edits / ref_len``; with empty references, 100 if there are edits, else 0.
        """
        stats = self._check_stats(stats)
        edits, ref_len = stats[..., 0], stats[..., 1]
        rate = edits / np.where(ref_len > 0, ref_len, 1.0)
        return 100 * np.where(ref_len > 0, rate, np.where(edits > 0, 1.0, 0.0))


# -- ROUGE ------------------------------------------------------------------------------------

_ROUGE_COMPONENTS = ("fmeasure", "precision", "recall")


class _Rouge(Metric):
    """ROUGE-N / ROUGE-L (Lin 2004) through rouge-score, 0-1.

    With several references the score is the maximum over references of the chosen
    component. For ``fmeasure`` this is exactly rouge-score's ``score_multi``, which keeps the
    reference with the highest F-measure; for precision or recall we take the maximum of that
    component itself rather than the precision of the best-F reference.

    rouge-score's default tokenizer lowercases and splits on non-alphanumerics, so the
    pre-tokenized, lowercased SummEval texts and raw text are treated alike.

    Args:
        use_stemmer: Porter-stem tokens before matching (ROUGE-1.5.5's ``-m``).
        component: ``"fmeasure"`` (default), ``"precision"`` or ``"recall"``.
    """

    rouge_type: ClassVar[str] = ""

    def __init__(self, use_stemmer: bool = False, component: str = "fmeasure") -> None:
        super().__init__()
        if component not in _ROUGE_COMPONENTS:
            raise ConfigError(
                f"{self.name}: component must be one of {_ROUGE_COMPONENTS}, got {component!r}"
            )
        self._set_params(use_stemmer=use_stemmer, component=component)
        from rouge_score.rouge_scorer import RougeScorer

        self._scorer = RougeScorer([self.rouge_type], use_stemmer=use_stemmer)

    def versions(self) -> dict[str, str]:
        return {**super().versions(), "rouge-score": package_version("rouge-score")}

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """Per-segment ROUGE in [0, 1], the maximum over each segment's references."""
        self.check_inputs(hyps, refs, srcs)
        refs = cast(Refs, refs)  # check_inputs raised if None
        component = self._params["component"]
        out = np.empty(len(hyps), dtype=float)
        for i, (hyp, seg_refs) in enumerate(zip(hyps, refs)):
            values = [
                getattr(self._scorer.score(ref, hyp)[self.rouge_type], component)
                for ref in seg_refs
            ]
            out[i] = max(values)
        return out


class Rouge1(_Rouge):
    __doc__ = _Rouge.__doc__
    name = "rouge1"
    rouge_type = "rouge1"


class Rouge2(_Rouge):
    __doc__ = _Rouge.__doc__
    name = "rouge2"
    rouge_type = "rouge2"


class RougeL(_Rouge):
    __doc__ = _Rouge.__doc__
    name = "rougeL"
    rouge_type = "rougeL"
