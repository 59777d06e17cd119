"""The Judgments data model: schema checks, views, and per-rater z-scores (scipy as oracle)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from accord.data.judgments import Judgments, zscore_by_rater
from accord.errors import AccordError


def _items(*ids: str) -> pd.DataFrame:
    return pd.DataFrame({"item": list(ids), "doc": ["d"] * len(ids), "src": [f"s{i}" for i in ids],
                         "refs": [(f"r{i}",) for i in ids]})


def _outputs(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "system", "hyp"])


def _scores(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["item", "system", "rater", "aspect", "score"])


@pytest.fixture
def small() -> Judgments:
    outputs = _outputs([(i, s, f"{s}{i}") for i in ("1", "2", "3") for s in ("A", "B", "ref")])
    scores = _scores([
        ("1", "A", "x", "da", 80.0), ("1", "A", "y", "da", 60.0),
        ("1", "B", "x", "da", 50.0),
        ("2", "A", "x", "da", 90.0), ("2", "B", "y", "da", math.nan),
        ("3", "B", "x", "da", 10.0), ("3", "B", "x", "fluency", 3.0),
    ])
    return Judgments("small", _items("1", "2", "3"), outputs, scores=scores,
                     reference_system="ref", human_systems=frozenset({"ref"}))


def test_gold_matrix_means_over_raters(small):
    matrix = small.gold_matrix("da", systems=["A", "B"], items=["1", "2", "3"])
    # Hand-worked: A/1 = mean(80, 60); B/2 is NaN (the only score is missing); A/3 unscored.
    expected = np.array([[70.0, 90.0, np.nan], [50.0, np.nan, 10.0]])
    np.testing.assert_array_equal(matrix, expected)
    assert small.gold_matrix("fluency").shape == (3, 3)
    with pytest.raises(AccordError, match="no human scores for aspect 'mqm'; available: da, "
                                          "fluency"):
        small.gold_matrix("mqm")


def test_views(small):
    assert small.systems == ["A", "B", "ref"]
    assert small.ranked_systems() == ["A", "B"]
    assert small.ranked_systems(exclude_reference=False, exclude_human=False) == ["A", "B", "ref"]
    assert small.aspects == ["da", "fluency"]
    assert small.refs_for(["2", "1"]) == [("r2",), ("r1",)]
    assert small.srcs_for(["3"]) == ["s3"]
    out = small.output_matrix(systems=["A", "C"], items=["1"])
    assert out.tolist() == [["A1"], [None]]
    assert small.summary() == {"items": 3, "systems": 3, "outputs": 9, "scores": 6,
                               "missing_scores": 1, "errors": 0, "pairs": 0}


def test_subset(small):
    cut = small.subset(items=["1"], systems=["A"])
    assert cut.item_ids == ["1"] and cut.systems == ["A"]
    assert sorted(cut.scores["score"]) == [60.0, 80.0]


@pytest.mark.parametrize("change, message", [
    (lambda kw: kw.update(items=_items("1", "1")), "duplicate item ids"),
    (lambda kw: kw.update(outputs=_outputs([("9", "A", "h")])), "not in the items table"),
    (lambda kw: kw.update(outputs=_outputs([("1", "A", "h"), ("1", "A", "g")])),
     "two outputs for system 'A' on item '1'"),
    (lambda kw: kw.update(scores=_scores([("1", "A", "x", "da", 1.0), ("1", "A", "x", "da", 2.0)])),
     "two 'da' scores by rater 'x'"),
    (lambda kw: kw.update(scores=_scores([("1", "B", "", "da", 1.0)])),
     "judged \\(item, system\\) pair\\(s\\) have no output"),
    (lambda kw: kw.update(pairs=pd.DataFrame({"item": ["1"], "system_a": ["A"], "system_b": ["A"],
                                              "winner": ["left"], "rater": [""]})),
     "winner must be one of"),
    (lambda kw: kw.update(items=_items("1").drop(columns="refs")), "lacks column\\(s\\) refs"),
])
def test_schema_errors(change, message):
    kwargs: dict[str, Any] = {"name": "t", "items": _items("1"),
                              "outputs": _outputs([("1", "A", "h")])}
    change(kwargs)
    with pytest.raises(AccordError, match=message):
        Judgments(**kwargs)


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="Judgments.items must be a pandas DataFrame, got list"):
        Judgments("t", [], _outputs([]))  # type: ignore[arg-type]


def test_zscore_by_rater_matches_scipy():
    rng = np.random.default_rng(7)
    raw = {"x": rng.normal(70, 10, 6), "y": rng.normal(40, 3, 6)}
    rows = [(str(i), "A", rater, "da", float(v)) for rater, vals in raw.items()
            for i, v in enumerate(vals)]
    rows.append(("0", "A", "z", "da", 55.0))  # a rater with one score: std undefined
    judgments = Judgments("t", _items(*map(str, range(6))),
                          _outputs([(str(i), "A", "h") for i in range(6)]), scores=_scores(rows))
    z = zscore_by_rater(judgments)
    for rater, vals in raw.items():
        got = z.scores[z.scores["rater"] == rater]["score"].to_numpy()
        np.testing.assert_allclose(got, stats.zscore(vals, ddof=0))
    assert math.isnan(z.scores[z.scores["rater"] == "z"]["score"].iloc[0])
    assert sum(z.excluded.values()) == 1
