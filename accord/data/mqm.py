"""MQM error weights and the segment scores they give.

Multidimensional Quality Metrics (MQM) annotators mark each error in a translation with a
category (``Accuracy/Mistranslation``, ``Fluency/Punctuation``, ...) and a severity
(``Major``, ``Minor``, ...). A segment's MQM score is the sum of the weights of its errors,
so lower is better; accord negates it so that, like every human score after loading, higher is
better. The default weights are those published with Google's MQM annotations of WMT
translations (Freitag et al. 2021, "Experts, Errors, and Context: A Large-Scale Study of Human
Evaluation for Machine Translation", TACL): Major 5, Minor 1, a Minor
``Fluency/Punctuation`` error 0.1, a ``Non-translation!`` 25 whatever its severity, Neutral 0.

Severity and category names are compared case-insensitively, because releases of the same
data spell them differently (``No-error`` and ``no-error``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from accord.errors import DataError

logger = logging.getLogger(__name__)

NO_ERROR = "no-error"


def _default_severities() -> dict[str, float]:
    return {"major": 5.0, "minor": 1.0, "neutral": 0.0, NO_ERROR: 0.0}


def _default_categories() -> dict[str, float]:
    # Google spells the category "Non-translation!"; the bare spelling is accepted too.
    return {"non-translation!": 25.0, "non-translation": 25.0}


def _default_pairs() -> dict[tuple[str, str], float]:
    return {("minor", "fluency/punctuation"): 0.1}


PENALTY_DECIMALS = 9


@dataclass
class MQMWeights:
    """Weights that turn one MQM error into a penalty (0 = harmless, larger = worse).

    A weight is looked up in this order: ``category`` (a category that weighs the same at any
    severity), then ``severity_category`` (a weight for one severity within one category),
    then ``severity``. Keys are lower-case; :meth:`weight` lower-cases what it is given.

    Attributes:
        severity: weight of each severity, e.g. ``{"major": 5, "minor": 1}``. Add a key to
            accept a new severity, e.g. ``weights.severity["critical"] = 10``.
        category: categories whose weight does not depend on the severity.
        severity_category: ``(severity, category)`` pairs with their own weight.
    """

    severity: dict[str, float] = field(default_factory=_default_severities)
    category: dict[str, float] = field(default_factory=_default_categories)
    severity_category: dict[tuple[str, str], float] = field(default_factory=_default_pairs)

    def __post_init__(self) -> None:
        self.severity = {k.lower(): float(v) for k, v in self.severity.items()}
        self.category = {k.lower(): float(v) for k, v in self.category.items()}
        self.severity_category = {
            (s.lower(), c.lower()): float(v) for (s, c), v in self.severity_category.items()
        }

    def knows(self, severity: str) -> bool:
        """Whether ``severity`` has a weight."""
        return severity.lower() in self.severity

    def weight(self, severity: str, category: str) -> float:
        """The penalty of one error; raises ``KeyError`` for a severity with no weight."""
        sev, cat = severity.lower(), category.lower()
        if cat in self.category:
            return self.category[cat]
        if (sev, cat) in self.severity_category:
            return self.severity_category[(sev, cat)]
        return self.severity[sev]


def score_errors(
    errors: pd.DataFrame, weights: MQMWeights | None = None, source: str = "<errors table>"
) -> pd.DataFrame:
    """Sum error weights per (item, system, rater).

    Args:
        errors: one row per error with columns ``item``, ``system``, ``rater``, ``category``
            and ``severity`` (the ``errors`` table of a Judgments). A segment rated as free of
            errors is one row with severity ``No-error``, which weighs 0 and so makes the
            segment's sum 0 rather than leaving it out. An optional ``line`` column gives the
            line of each row in the file it came from, for error messages.
        weights: the weights; defaults to :class:`MQMWeights` ().
        source: the file (or description) the rows came from, named in error messages.

    Returns:
        A DataFrame with columns ``item``, ``system``, ``rater`` and ``penalty`` (the sum of
        weights, >= 0 for non-negative weights; lower is better), one row per group, sorted.

    Raises:
        DataError: a severity with no weight, naming ``source`` and the line (or row number).
    """
    weights = weights or MQMWeights()
    penalties = []
    lines = errors["line"] if "line" in errors.columns else None
    severities = [str(s) for s in errors["severity"]]
    categories = [str(c) for c in errors["category"]]
    for pos, (severity, category) in enumerate(zip(severities, categories, strict=True)):
        if not weights.knows(severity):
            line = int(lines.iloc[pos]) if lines is not None else None
            where = "" if lines is not None else f" (row {pos} of the table)"
            raise DataError(
                source,
                f"unknown MQM severity {severity!r}{where}; known severities: "
                f"{', '.join(sorted(weights.severity))} (add a weight to MQMWeights.severity "
                f"to accept it)",
                line,
            )
        penalties.append(weights.weight(severity, category))
    table = errors.loc[:, ["item", "system", "rater"]].astype(str).copy()
    table["penalty"] = pd.Series(penalties, index=table.index, dtype=float)
    sums = table.groupby(["item", "system", "rater"], sort=True)["penalty"].sum()
    # Weights like 0.1 are not exact in binary, so sums of the same errors in another order
    # differ in the last bits (0.1 + 0.1 + 0.1 != 0.3) and equal scores would stop being ties.
    # Rounding to 9 decimals restores exact ties; no weighting scheme needs finer resolution.
    return sums.round(PENALTY_DECIMALS).reset_index()


def mqm_scores(
    errors: pd.DataFrame, weights: MQMWeights | None = None, source: str = "<errors table>"
) -> pd.DataFrame:
    """The Judgments ``scores`` rows of aspect ``"mqm"``: minus the error sum, per rater.

    Averaging over raters is left to :meth:`accord.data.judgments.Judgments.gold_matrix`.
    """
    sums = score_errors(errors, weights, source)
    return pd.DataFrame(
        {
            "item": sums["item"],
            "system": sums["system"],
            "rater": sums["rater"],
            "aspect": "mqm",
            # Adding 0.0 turns -0.0 (an error-free segment) into 0.0.
            "score": -sums["penalty"] + 0.0,
        }
    )
