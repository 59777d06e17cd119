"""Objective metrics on hand-worked cases."""

from __future__ import annotations

import numpy as np
import pytest

from accord.errors import ConfigError
from accord.metrics import create_metric
from accord.metrics.objective import (
    ExactMatch,
    LengthRatio,
    NumericMatch,
    extract_numbers,
    final_number,
)

# -- exact match --------------------------------------------------------------------------------


def test_exact_match_squad_normalisation() -> None:
    metric = ExactMatch()
    hyps = ["The Eiffel Tower!", "  eiffel   tower ", "an Eiffel tower", "Eiffel Towers", "Paris"]
    refs = [("Eiffel Tower",)] * 4 + [("London", "paris.")]
    np.testing.assert_array_equal(metric.score_segments(hyps, refs), [1, 1, 1, 0, 1])
    assert metric.normalize("The  Cat, a dog; AN apple.") == "cat dog apple"


def test_exact_match_options_off() -> None:
    strict = ExactMatch(lowercase=False, strip_punctuation=False, strip_articles=False,
                        collapse_whitespace=False)
    hyps = ["Paris", "paris", "Paris.", "the Paris", "Paris "]
    np.testing.assert_array_equal(strict.score_segments(hyps, [("Paris",)] * 5), [1, 0, 0, 0, 0])
    # articles only: "the" is a word, so "theatre" keeps its letters
    assert ExactMatch().normalize("the theatre") == "theatre"


def test_exact_match_any_reference_and_needs_references() -> None:
    scores = ExactMatch().score_segments(["b"], [("a", "b", "c")])
    assert scores.tolist() == [1.0]
    with pytest.raises(ConfigError, match="needs references"):
        ExactMatch().score_segments(["a"])


# -- numbers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("The answer is 72.", (72.0, False)),
        ("Total: 1,234,567 dollars", (1234567.0, False)),
        ("It costs $1,000.50 now", (1000.5, False)),
        ("temperature fell to -3", (-3.0, False)),
        ("temperature fell to \u22123.5", (-3.5, False)),
        ("about 3/4 of them", (0.75, False)),
        ("-1/2", (-0.5, False)),
        ("a rise of 12.5%", (12.5, True)),
        ("it is .5", (0.5, False)),
        ("first 3 then 4 finally 5", (5.0, False)),
        ("COVID-19", (19.0, False)),  # a hyphen after a word is not a minus sign
        ("pages 3-4", (4.0, False)),
        ("1,2,3", (3.0, False)),  # commas not grouping three digits separate numbers
        ("10/0 or 7", (7.0, False)),  # a zero denominator is not a number
    ],
)
def test_final_number(text: str, expected: tuple[float, bool]) -> None:
    assert final_number(text) == pytest.approx(expected)


def test_no_number() -> None:
    assert final_number("no digits here") is None
    assert extract_numbers("") == []


def test_numeric_match_hand_worked() -> None:
    metric = NumericMatch()
    hyps = [
        "So she has 18 apples.",
        "The answer is 1,800",
        "I think it's 17.",
        "I cannot tell.",
        "That is 50%",
        "0.75",
        "3/4",
        "The result is 18.0000001",
    ]
    refs = [("18",), ("#### 1800",), ("18",), ("5",), ("0.5",), ("3/4",), ("0.75",), ("18",)]
    np.testing.assert_array_equal(metric.score_segments(hyps, refs), [1, 1, 0, 0, 1, 1, 1, 1])
    # tighter tolerance: 18.0000001 vs 18 differs by 5.6e-9 relative
    tight = NumericMatch(rel_tol=1e-12, abs_tol=0.0)
    assert tight.score_segments(["18.0000001"], [("18",)]).tolist() == [0.0]


def test_numeric_match_any_reference() -> None:
    assert NumericMatch().score_segments(["42"], [("41", "42")]).tolist() == [1.0]


def test_numeric_match_reference_without_number_names_position() -> None:
    with pytest.raises(ConfigError, match="reference 1 of segment 2"):
        NumericMatch().score_segments(["1", "2", "3"], [("1",), ("2",), ("3", "three")])
    with pytest.raises(ConfigError, match="tolerances"):
        NumericMatch(rel_tol=-1)


# -- length ratio ---------------------------------------------------------------------------------


def test_length_ratio_hand_worked() -> None:
    metric = create_metric("length_ratio")
    assert isinstance(metric, LengthRatio)
    scores = metric.score_segments(
        ["a b c", "a b c d", "", "x"],
        [("a b",), ("a b", "a b c d e f"), ("a",), ("", "")],
    )
    # 3/2; 4 / mean(2, 6) = 1; 0/1; empty references -> NaN
    np.testing.assert_allclose(scores[:3], [1.5, 1.0, 0.0])
    assert np.isnan(scores[3])
