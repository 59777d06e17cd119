"""Objective metrics: exact match, numeric match and the hyp/reference length ratio.

These need no model and no library: each answer is right or wrong by a rule (exact and
numeric match), or is a plain count (length ratio, a cheap watch for reward hacking by
length).
"""

from __future__ import annotations

import logging
import math
import re
import string
from collections.abc import Sequence
from typing import ClassVar, cast

import numpy as np

from accord.errors import ConfigError
from accord.metrics.base import Metric, Refs

logger = logging.getLogger(__name__)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


class ExactMatch(Metric):
    """1.0 when the normalised hyp equals the normalised form of ANY reference, else 0.0.

    With every option on (the default) the normalisation is the SQuAD one (Rajpurkar et al.
    2016): lowercase, drop ASCII punctuation, drop the articles a/an/the, collapse whitespace.

    Args:
        lowercase: compare lowercased text.
        strip_punctuation: remove ASCII punctuation characters.
        strip_articles: remove the English words a, an, the (after lowercasing when on).
        collapse_whitespace: split on whitespace and rejoin with single spaces (also trims).
    """

    name = "exact_match"

    def __init__(
        self,
        lowercase: bool = True,
        strip_punctuation: bool = True,
        strip_articles: bool = True,
        collapse_whitespace: bool = True,
    ) -> None:
        super().__init__()
        self._set_params(
            lowercase=lowercase,
            strip_punctuation=strip_punctuation,
            strip_articles=strip_articles,
            collapse_whitespace=collapse_whitespace,
        )

    def normalize(self, text: str) -> str:
        """The text as compared, after the options chosen."""
        if self._params["lowercase"]:
            text = text.lower()
        if self._params["strip_punctuation"]:
            text = "".join(ch for ch in text if ch not in _PUNCTUATION)
        if self._params["strip_articles"]:
            text = _ARTICLES.sub(" ", text)
        if self._params["collapse_whitespace"]:
            text = " ".join(text.split())
        return text

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """1.0 or 0.0 per hyp."""
        self.check_inputs(hyps, refs, srcs)
        refs = cast(Refs, refs)  # check_inputs raised if None
        out = np.empty(len(hyps), dtype=float)
        for i, (hyp, seg_refs) in enumerate(zip(hyps, refs)):
            norm = self.normalize(hyp)
            out[i] = float(any(norm == self.normalize(r) for r in seg_refs))
        return out


# A number as written in text: optional sign (only where it cannot be a hyphen, e.g. not in
# "COVID-19" or "3-4"), digits with optional comma thousands separators, optional decimals
# (or a bare ".5"), optional "/ denominator" (a fraction), optional "%".
_INT = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)"
_NUMBER = re.compile(
    rf"""
    (?:(?<![\w)\].])(?P<sign>[-+\u2212]))?
    (?<![\d.])
    (?P<value>{_INT}(?:\.\d+)?|\.\d+)
    (?:\s*/\s*(?P<den>{_INT}(?:\.\d+)?))?
    (?P<percent>\s*%)?
    """,
    re.VERBOSE,
)


def extract_numbers(text: str) -> list[tuple[float, bool]]:
    """Every number in ``text`` as ``(value, is_percent)``, in order of appearance.

    Commas between groups of three digits are thousands separators ("1,234" is 1234); a
    fraction "3/4" is 0.75; "-2" and "\u22122" are negative; "50%" is ``(50.0, True)``. A
    fraction with a zero denominator is not a number and is skipped. Scientific notation is
    not read ("2.5e3" gives 2.5 and 3), nor are numbers written in words.
    """
    found = []
    for match in _NUMBER.finditer(text):
        value = float(match.group("value").replace(",", ""))
        den = match.group("den")
        if den is not None:
            den_value = float(den.replace(",", ""))
            if den_value == 0:
                continue
            value /= den_value
        if match.group("sign") in ("-", "\u2212"):
            value = -value
        found.append((value, match.group("percent") is not None))
    return found


def final_number(text: str) -> tuple[float, bool] | None:
    """The last number in ``text`` (see :func:`extract_numbers`), or None if there is none."""
    numbers = extract_numbers(text)
    return numbers[-1] if numbers else None


class NumericMatch(Metric):
    """1.0 when the final number of the hyp equals the final number of ANY reference.

    Numbers are read by :func:`extract_numbers` (thousands commas, signs, decimals,
    fractions, percent). Equal means ``math.isclose(hyp, ref, rel_tol, abs_tol)``. A percent
    counts as either its written value or that value / 100, so "50%" matches 50 and 0.5.
    A hyp with no number scores 0.0 (it gave no answer, which is wrong). A reference with no
    number is an error in the data and raises :class:`ConfigError` naming its position.

    Args:
        rel_tol: relative tolerance.
        abs_tol: absolute tolerance.
    """

    name = "numeric_match"

    def __init__(self, rel_tol: float = 1e-6, abs_tol: float = 1e-9) -> None:
        super().__init__()
        if not (rel_tol >= 0 and abs_tol >= 0):
            raise ConfigError(
                f"numeric_match: tolerances must be >= 0, got rel_tol={rel_tol!r}, "
                f"abs_tol={abs_tol!r}"
            )
        self._set_params(rel_tol=float(rel_tol), abs_tol=float(abs_tol))

    def _values(self, number: tuple[float, bool]) -> list[float]:
        value, is_percent = number
        return [value, value / 100] if is_percent else [value]

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """1.0 or 0.0 per hyp."""
        self.check_inputs(hyps, refs, srcs)
        refs = cast(Refs, refs)  # check_inputs raised if None
        rel_tol, abs_tol = self._params["rel_tol"], self._params["abs_tol"]
        out = np.zeros(len(hyps), dtype=float)
        for i, (hyp, seg_refs) in enumerate(zip(hyps, refs)):
            ref_values = []
            for j, ref in enumerate(seg_refs):
                number = final_number(ref)
                if number is None:
                    raise ConfigError(
                        f"numeric_match: reference {j} of segment {i} contains no number: "
                        f"{ref[:80]!r}"
                    )
                ref_values += self._values(number)
            hyp_number = final_number(hyp)
            if hyp_number is None:
                continue
            out[i] = float(
                any(
                    math.isclose(h, r, rel_tol=rel_tol, abs_tol=abs_tol)
                    for h in self._values(hyp_number)
                    for r in ref_values
                )
            )
        return out


class LengthRatio(Metric):
    """Whitespace tokens of the hyp over the mean whitespace tokens of its references.

    1.0 is "as long as the references". It is a watch for reward hacking (a policy that
    games a metric often drifts in length), not a quality score: neither direction is
    better, so ``higher_is_better`` (True, the base default) should not be read as a
    preference. A segment whose references are all empty has no ratio: NaN, counted in the
    log.
    """

    name = "length_ratio"
    higher_is_better: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self._set_params()

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """``len(hyp.split()) / mean(len(ref.split()))`` per hyp; NaN for empty references."""
        self.check_inputs(hyps, refs, srcs)
        refs = cast(Refs, refs)  # check_inputs raised if None
        out = np.empty(len(hyps), dtype=float)
        n_empty = 0
        for i, (hyp, seg_refs) in enumerate(zip(hyps, refs)):
            ref_len = sum(len(r.split()) for r in seg_refs) / len(seg_refs)
            if ref_len == 0:
                out[i] = np.nan
                n_empty += 1
            else:
                out[i] = len(hyp.split()) / ref_len
        if n_empty:
            logger.warning(
                "length_ratio: %d segment(s) have only empty references; their ratio is NaN",
                n_empty,
            )
        return out


class ResponseLength(Metric):
    """Whitespace tokens of the hyp, with no reference: a length baseline.

    Not a quality score. Scored as "higher is better", it says how often the longer of two
    responses is the preferred one, the confound that reward models and LLM judges are most
    often caught on (Singhal et al. 2023, "A Long Way to Go: Investigating Length Correlations
    in RLHF"); a learned metric should beat it on preference pairs.
    """

    name = "length"
    needs_reference: ClassVar[bool] = False

    def __init__(self) -> None:
        super().__init__()
        self._set_params(unit="words")

    def score_segments(
        self, hyps: Sequence[str], refs: Refs | None = None, srcs: Sequence[str] | None = None
    ) -> np.ndarray:
        """``len(hyp.split())`` per hyp."""
        self.check_inputs(hyps, refs, srcs)
        return np.array([len(hyp.split()) for hyp in hyps], dtype=float)
