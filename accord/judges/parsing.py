"""Reading judge answers: scores, MQM error lists and pairwise verdicts.

Every parser first blanks out the data regions of the answer (text between the tags that
delimit system outputs in the prompt, see :func:`accord.judges.prompts.strip_data`), so a
verdict quoted from a system output is never taken as the judge's. A parser returns None when
the answer holds no usable verdict, or holds contradictory ones; callers count such answers
as unparsed and leave them out of correlations (NaN), never as a score of 0.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from accord.judges.backends import Completion
from accord.judges.prompts import strip_data

# -- direct assessment scores --------------------------------------------------------------------

_LABELLED = re.compile(r"\bscore\s*(?:is|=|:)?\s*\**\s*(\d{1,3}(?:\.\d+)?)(?![\d.]*\d)",
                       re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d+)?)(?![\w]|\.\d)")
_OUT_OF = re.compile(r"(?:\bout\s+of|/)\s*100\b", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedScore:
    """A score read from an answer, with the character span of its number in the answer."""

    value: float
    start: int
    end: int


def parse_score(answer: str, low: float = 0.0, high: float = 100.0) -> ParsedScore | None:
    """Read a ``low``..``high`` score from a judge answer.

    The answer is read outside data regions. ``Score: N`` (also ``score is N``, ``score = N``)
    is preferred; every such label must give the same number. Without a label the answer must
    contain exactly one number in range (a trailing "out of 100" or "/100" is ignored). A
    number outside the range, conflicting numbers, or no number give None.
    """
    text = strip_data(answer)
    labelled = list(_LABELLED.finditer(text))
    matches = labelled or [m for m in _NUMBER.finditer(_OUT_OF.sub(_spaces, text))]
    if not matches:
        return None
    values = {float(m.group(1)) for m in matches}
    if len(values) != 1:
        return None
    value = values.pop()
    if not low <= value <= high:
        return None
    last = matches[-1]
    return ParsedScore(value=value, start=last.start(1), end=last.end(1))


def _spaces(match: re.Match[str]) -> str:
    return " " * len(match.group(0))


def expected_score(completion: Completion, parsed: ParsedScore, low: float = 0.0,
                   high: float = 100.0) -> float | None:
    """The probability-weighted score: the expectation over the score tokens' alternatives.

    G-Eval (Liu et al. 2023, "G-Eval: NLG Evaluation using GPT-4 with Better Human
    Alignment") replaces the sampled score ``s`` by ``sum_v p(v) v`` over the candidate score
    tokens ``v`` at the score's position. Here:

    - a score that is one token: ``E = sum_v p(v) v / sum_v p(v)`` over the alternatives at
      that position that are whole numbers in ``[low, high]``;
    - a score written one digit per token (SmolLM2 and Llama tokenizers split numbers into
      digits): ``E = sum_i 10**(k-1-i) E_i`` where ``E_i`` is the expected digit at position
      ``i`` given the digits generated before it. This holds the number of digits fixed (an
      alternative of "100" to "85" is not seen), an approximation stated in reports.

    Returns None when the completion has no log-probabilities, its tokens do not spell its
    text, or the score is not a whole number made of whole tokens; callers then fall back to
    the parsed score and count it.
    """
    tokens = completion.tokens
    if not tokens or "".join(t.token for t in tokens) != completion.text:
        return None
    covering, offset = [], 0
    for token in tokens:
        end = offset + len(token.token)
        if end > parsed.start and offset < parsed.end:
            covering.append(token)
        offset = end
    digits = "".join(t.token.strip() for t in covering)
    if not covering or digits != completion.text[parsed.start:parsed.end] or not digits.isdigit():
        return None
    if any(not t.token.strip().isdigit() for t in covering):
        return None
    if len(covering) == 1:
        return _expectation(covering[0].top, lambda v: low <= v <= high)
    if any(len(t.token.strip()) != 1 for t in covering):
        return None
    value = 0.0
    k = len(covering)
    for i, token in enumerate(covering):
        digit = _expectation(token.top, lambda v: v <= 9)
        if digit is None:
            return None
        value += 10 ** (k - 1 - i) * digit
    return min(high, max(low, value))


def _expectation(top: tuple[tuple[str, float], ...], valid: Callable[[int], bool]
                 ) -> float | None:
    weights: dict[int, float] = {}
    for token, logprob in top:
        text = token.strip()
        if text.isdigit() and valid(int(text)):
            # " 8" and "8" are different tokens with the same value: their mass adds up.
            weights[int(text)] = weights.get(int(text), 0.0) + math.exp(logprob)
    total = sum(weights.values())
    if total <= 0:
        return None
    return sum(v * p for v, p in weights.items()) / total


# -- MQM error annotations -----------------------------------------------------------------------

SEVERITIES = ("critical", "major", "minor", "neutral")
_ERROR_LINE = re.compile(
    r"^[\s\-*•>\d.)]*\**\s*"  # list markers and bold before the severity
    r"(critical|major|minor|neutral)\b\**\s*(?:error)?\s*[;:|,\-–]?\s*"
    r"(.*)$",  # the rest: category and quoted span
    re.IGNORECASE,
)
_NO_ERRORS = re.compile(r"\bno[\s-]+errors?\b", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeError:
    """One error the judge listed: severity (lower case), category (lower case) and span."""

    severity: str
    category: str
    span: str


def parse_mqm(answer: str) -> list[JudgeError] | None:
    """Read the error list of an MQM-style answer (see the ``mqm`` prompt template).

    Each error is a line ``severity; category; erroneous words`` (``;``, ``|`` or `` - ``
    separate the parts; list markers and bold are tolerated). "no errors" with no error line
    means an empty list. An answer with neither gives None (unparsed). A category left out
    becomes ``"other"``.
    """
    text = strip_data(answer)
    errors = []
    for line in text.splitlines():
        match = _ERROR_LINE.match(line)
        if match is None:
            continue
        severity = match.group(1).lower()
        parts = [p.strip(" \"'`*.") for p in re.split(r"\s*(?:;|\||\s-\s|:\s)\s*", match.group(2))]
        category = parts[0].lower() if parts and parts[0] else "other"
        span = parts[1] if len(parts) > 1 else ""
        errors.append(JudgeError(severity=severity, category=category, span=span))
    if errors:
        return errors
    if _NO_ERRORS.search(text):
        return []
    return None


def locate_spans(text: str, spans: Sequence[str]) -> list[tuple[int, int] | None]:
    """Character offsets in ``text`` of each span the judge quoted, in order.

    A span is matched as a substring, its words separated by any whitespace; an exact-case
    match is preferred and, when there is none, a case-insensitive one is taken (judges often
    change the case of the first word). A span whose text occurs several times takes the first
    occurrence that no earlier span of the same list took, so two errors quoting "the" mark
    the first and the second "the"; when every occurrence is taken already (the judge listed
    the same words twice, e.g. under two categories) the span reuses the first occurrence.

    Args:
        text: the text the spans were quoted from (the hyp).
        spans: the quoted span texts, in the order the judge listed them.

    Returns:
        One ``(start, end)`` per span (``text[start:end]`` is the matched text), or None for a
        span that is empty or does not occur in ``text`` (the judge quoted the source, or
        paraphrased). Callers count the Nones.
    """
    taken: set[tuple[int, int]] = set()
    located: list[tuple[int, int] | None] = []
    for span in spans:
        occurrences = _occurrences(text, span)
        if not occurrences:
            located.append(None)
            continue
        pick = next((o for o in occurrences if o not in taken), occurrences[0])
        taken.add(pick)
        located.append(pick)
    return located


def _occurrences(text: str, span: str) -> list[tuple[int, int]]:
    words = span.split()
    if not words:
        return []
    pattern = r"\s+".join(re.escape(w) for w in words)
    exact = [m.span() for m in re.finditer(pattern, text)]
    if exact:
        return exact
    return [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]


# -- pairwise verdicts ---------------------------------------------------------------------------

_BRACKETED = re.compile(r"\[\[\s*(a|b|tie|c)\s*\]\]", re.IGNORECASE)
_VERDICT_LINE = re.compile(r"\bverdict\s*(?:is|:)\s*\[*\s*(a|b|tie)\b", re.IGNORECASE)


def parse_verdict(answer: str) -> str | None:
    """Read a pairwise verdict: ``"a"``, ``"b"`` or ``"tie"``, or None.

    ``[[A]]``, ``[[B]]`` and ``[[tie]]`` (``[[C]]`` is read as tie) outside data regions; when
    there is none, ``Verdict: A`` and the like. Several different verdicts give None: an
    answer that names both cannot be read as either.
    """
    text = strip_data(answer)
    found = {m.group(1).lower() for m in _BRACKETED.finditer(text)}
    if not found:
        found = {m.group(1).lower() for m in _VERDICT_LINE.finditer(text)}
    found = {"tie" if v == "c" else v for v in found}
    if len(found) != 1:
        return None
    return found.pop()
