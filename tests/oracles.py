"""Independent oracles shared by the tests: statistics computed by scipy, not by accord."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def scipy_coefficient(coefficient: str, x: np.ndarray, y: np.ndarray) -> float:
    """scipy's Pearson, Spearman or Kendall (b or c); NaN where scipy calls it undefined."""
    if x.size < 2:
        return math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: scipy's NaN is the expected answer
        if coefficient == "pearson":
            if np.ptp(x) == 0 or np.ptp(y) == 0:
                return math.nan
            return float(stats.pearsonr(x, y).statistic)
        if coefficient == "spearman":
            return float(stats.spearmanr(x, y).statistic)
        variant = "b" if coefficient == "kendall_b" else "c"
        return float(stats.kendalltau(x, y, variant=variant).statistic)
