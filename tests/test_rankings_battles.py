"""Battle tables: from score matrices, from human pairs, validation and per-pair counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accord.data.judgments import Judgments
from accord.errors import AccordError
from accord.rankings.battles import (
    battles_from_pairs,
    battles_from_scores,
    count_battles,
    encode_battles,
    validate_battles,
)


def test_battles_from_scores_hand_worked() -> None:
    scores = np.array([
        [0.9, 0.2, np.nan],
        [0.5, 0.2, 0.7],
        [0.5, np.nan, 0.1],
    ])
    table = battles_from_scores(scores, ["x", "y", "z"], items=["i1", "i2", "i3"])
    rows = set(table.itertuples(index=False, name=None))
    assert rows == {
        ("i1", "x", "y", "a"), ("i1", "x", "z", "a"), ("i1", "y", "z", "tie"),
        ("i2", "x", "y", "tie"),
        ("i3", "y", "z", "a"),
    }
    assert len(table) == 5


def test_battles_from_scores_lower_is_better_and_tolerance() -> None:
    penalties = np.array([[1.0, 5.0], [1.05, 2.0]])
    table = battles_from_scores(penalties, ["x", "y"], higher_is_better=False, tie_tolerance=0.1)
    assert list(table["winner"]) == ["tie", "b"]
    strict = battles_from_scores(penalties, ["x", "y"], higher_is_better=False)
    assert list(strict["winner"]) == ["a", "b"]


def test_battles_from_scores_rounding_is_a_tie() -> None:
    sums = np.array([[-(0.1 + 0.1 + 0.1)], [-0.3], [-0.3000001]])
    table = battles_from_scores(sums, ["x", "y", "z"])
    assert list(table["winner"]) == ["tie", "a", "a"]


def test_battles_from_scores_counts_every_pair_on_every_item() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(size=(5, 40))
    scores[rng.random(scores.shape) < 0.2] = np.nan
    table = battles_from_scores(scores, list("abcde"))
    k = (~np.isnan(scores)).sum(axis=0)
    assert len(table) == int((k * (k - 1) // 2).sum())


def test_battles_from_scores_rejects_wrong_shapes() -> None:
    with pytest.raises(AccordError, match="3 system names"):
        battles_from_scores(np.zeros((2, 4)), ["a", "b", "c"])
    with pytest.raises(AccordError, match="tie_tolerance"):
        battles_from_scores(np.zeros((2, 4)), ["a", "b"], tie_tolerance=-1)


def test_validate_battles_accepts_arrays_and_rejects_bad_rows() -> None:
    table = validate_battles({"item": [1, 2], "system_a": ["p", "q"], "system_b": ["q", "p"],
                              "winner": ["A", " tie"]})
    assert list(table["winner"]) == ["a", "tie"]
    assert list(table["item"]) == ["1", "2"]
    with pytest.raises(AccordError, match="row 1: winner"):
        validate_battles(pd.DataFrame({"item": ["1", "2"], "system_a": ["p", "q"],
                                       "system_b": ["q", "p"], "winner": ["a", "left"]}))
    with pytest.raises(AccordError, match="battles itself"):
        validate_battles({"item": ["1"], "system_a": ["p"], "system_b": ["p"], "winner": ["a"]})
    with pytest.raises(AccordError, match="lacks column"):
        validate_battles({"item": ["1"], "system_a": ["p"], "winner": ["a"]})
    with pytest.raises(TypeError):
        validate_battles([("1", "p", "q", "a")])  # type: ignore[arg-type]


def test_battles_from_pairs_keeps_ranked_systems() -> None:
    items = pd.DataFrame({"item": ["1", "2"], "doc": ["d", "d"], "src": ["s", "s"],
                          "refs": [(), ()]})
    outputs = pd.DataFrame([(i, s, f"{s}{i}") for i in "12" for s in ("x", "y", "ref")],
                           columns=["item", "system", "hyp"])
    pairs = pd.DataFrame({"item": ["1", "2", "2"], "system_a": ["x", "x", "ref"],
                          "system_b": ["y", "y", "y"], "winner": ["a", "tie", "b"],
                          "rater": ["r1", "r1", "r2"]})
    judgments = Judgments("toy", items, outputs, pairs=pairs, reference_system="ref")
    table = battles_from_pairs(judgments, systems=["x", "y"])
    assert list(table["winner"]) == ["a", "tie"]
    assert "rater" in table.columns


def test_counts_and_win_rates_by_hand() -> None:
    table = validate_battles({
        "item": list("123456"),
        "system_a": ["x", "y", "x", "x", "z", "y"],
        "system_b": ["y", "x", "y", "z", "x", "z"],
        "winner": ["a", "a", "tie", "a", "a", "b"],
    })
    counts = count_battles(table)
    assert counts.systems == ("x", "y", "z")
    by_pair = {(counts.systems[i], counts.systems[j]): tuple(w)
               for i, j, w in zip(counts.left, counts.right, counts.wins)}
    # x-y: x won once, y won once (as a), one tie; x-z: each won once; y-z: z won once.
    assert by_pair == {("x", "y"): (1, 1, 1), ("x", "z"): (1, 1, 0), ("y", "z"): (0, 1, 0)}
    rates = counts.win_rate_matrix()
    assert rates[0, 1] == pytest.approx(0.5)
    assert rates[2, 1] == pytest.approx(1.0)
    assert np.isnan(rates[0, 0])
    assert list(counts.battles_per_system()) == [5, 4, 3]


def test_encode_battles_leaves_out_unranked_systems() -> None:
    table = validate_battles({"item": ["1", "2"], "system_a": ["x", "x"],
                              "system_b": ["y", "ref"], "winner": ["b", "a"]})
    names, a, b, outcome = encode_battles(table, ["y", "x"])
    assert names == ("y", "x")
    assert list(a) == [1] and list(b) == [0] and list(outcome) == [1]
