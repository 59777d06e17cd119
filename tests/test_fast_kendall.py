"""The compiled permutation-row Kendall tau-b against scipy on the materialized rows."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from accord.metaeval.fast_kendall import choice_kendall_b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rows_match_scipy_with_heavy_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 257
    gold = rng.choice([0.0, 0.0, 0.0, -1.0, -5.0, -6.0, -0.1], n)  # MQM-like: many ties
    a = np.round(gold + rng.normal(0, 2, n))  # integer-valued: ties within a
    b = np.round(gold + rng.normal(0, 2, n), 1)  # ties within b and across a and b
    take_b = rng.random((25, n)) < 0.5
    take_b[0] = False  # all a
    take_b[1] = True  # all b
    got = choice_kendall_b(a, b, gold, take_b)
    expected = [scipy.stats.kendalltau(np.where(row, b, a), gold).statistic for row in take_b]
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_constant_rows_are_undefined_and_shapes_are_checked() -> None:
    gold = np.array([0.0, 1.0, 2.0])
    got = choice_kendall_b(np.ones(3), np.ones(3), gold, np.zeros((2, 3), dtype=bool))
    assert np.isnan(got).all()
    with pytest.raises(ValueError, match="one value per column"):
        choice_kendall_b(np.ones(3), np.ones(2), gold, np.zeros((2, 3), dtype=bool))
