"""Ranks from intervals, agreement coefficients, Ratings views and the report section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accord.errors import AccordError
from accord.rankings.agreement import ranking_agreement
from accord.rankings.battles import battles_from_scores
from accord.rankings.report import comparison_section, rankings_section
from accord.rankings.uncertainty import ranks_from_intervals, rate
from accord.reports.document import Figure, Table, write_report


def test_ranks_from_intervals_hand_worked() -> None:
    low = np.array([10.0, 8.0, 4.0, 1.0])
    high = np.array([12.0, 11.0, 9.0, 3.0])
    # Row 0: nobody's low > 12 -> 1. Row 1: nobody's low > 11 -> 1.
    # Row 2: lows 10 > 9 -> 2. Row 3: lows 10, 8, 4 > 3 -> 4.
    assert list(ranks_from_intervals(low, high)) == [1, 1, 2, 4]


def test_agreement_hand_worked() -> None:
    mine = {"a": 4.0, "b": 3.0, "c": 1.0, "d": 2.0, "only_mine": 9.0}
    reference = pd.Series({"a": 40.0, "b": 30.0, "c": 20.0, "d": 10.0})
    result = ranking_agreement(mine, reference)
    # One discordant pair (c, d) of six: tau = (5 - 1) / 6; rho = 1 - 6 * 2 / (4 * 15).
    assert result["kendall"].value == pytest.approx(4 / 6)
    assert result["spearman"].value == pytest.approx(0.8)
    assert result["kendall"].n == 4
    with pytest.raises(AccordError, match="at least 3"):
        ranking_agreement({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0})


@pytest.fixture(scope="module")
def ratings_and_scores():
    rng = np.random.default_rng(6)
    quality = np.array([0.6, 0.3, 0.0, -0.2, -0.5])
    scores = quality[:, None] + rng.normal(0, 1, (5, 200))
    systems = ["s1", "s2", "s3", "s4", "s5"]
    battles = battles_from_scores(np.round(scores, 0), systems)
    return rate(battles, "bt", n_resamples=200, seed=1), pd.Series(quality, index=systems)


def test_ratings_views(ratings_and_scores) -> None:
    ratings, _ = ratings_and_scores
    table = ratings.table()
    assert list(table.columns) == ["system", "rating", "ci_low", "ci_high", "rank", "n_battles"]
    assert table["rating"].is_monotonic_decreasing
    assert (table["n_battles"] == 4 * 200).all()
    rating = ratings["s1"]
    assert rating.ci_low <= rating.value <= rating.ci_high
    assert rating.as_estimate().n == 800
    expected = ratings.expected_matrix().to_numpy()
    off = ~np.eye(5, dtype=bool)
    np.testing.assert_allclose((expected + expected.T)[off], 1.0)
    # The fitted model's expected scores track the observed win rates.
    observed = ratings.win_rate_matrix().to_numpy()
    assert np.nanmax(np.abs(observed - expected)) < 0.08
    with pytest.raises(KeyError):
        ratings["nobody"]


def test_report_section_writes(tmp_path, ratings_and_scores) -> None:
    ratings, quality = ratings_and_scores
    section = rankings_section(ratings, "Toy ranking", reference=quality,
                               reference_label="true quality", description="Simulated.")
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    tables = [b for b in section.blocks if isinstance(b, Table)]
    assert len(figures) == 2 and all(f.png.startswith(b"\x89PNG") for f in figures)
    assert list(tables[0].frame["system"]) == list(ratings.table()["system"])
    agreement = tables[-1].frame
    direct = ranking_agreement(ratings, quality)
    assert agreement["kendall_tau"].iloc[0] == pytest.approx(direct["kendall"].value)
    compare = comparison_section({"toy": ratings}, quality, "true quality")
    md, html = write_report(tmp_path, "toy", [section, compare])
    text = md.read_text()
    assert "Toy ranking" in text and "kendall_tau" in text
    assert (tmp_path / "figures" / "report-toy-ranking-intervals.png").exists()
    assert "data:image/png;base64" in html.read_text()
