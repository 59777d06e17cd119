"""How far two rankings of the same systems agree: Kendall's tau and Spearman's rho.

Used to ask whether battles judged by a metric or an LLM judge rank the systems as human
judgments do. Both coefficients come from scipy (``kendalltau`` with the tau-b tie correction,
``spearmanr``); they are computed on the systems both rankings contain.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from accord.errors import AccordError
from accord.metaeval.result import Estimate
from accord.rankings.uncertainty import Ratings
from accord.signature import make_signature

logger = logging.getLogger(__name__)

RankingLike = Ratings | pd.Series | Mapping[str, float]


def _as_series(ranking: RankingLike, name: str) -> pd.Series:
    if isinstance(ranking, Ratings):
        return ranking.as_series()
    if isinstance(ranking, pd.Series):
        return ranking.astype(float)
    if isinstance(ranking, Mapping):
        return pd.Series({str(k): float(v) for k, v in ranking.items()}, dtype=float)
    raise TypeError(
        f"{name} must be Ratings, a pandas Series or a mapping of system to value, "
        f"got {type(ranking).__name__}"
    )


def ranking_agreement(
    ranking: RankingLike,
    reference: RankingLike,
    label: str = "",
) -> dict[str, Estimate]:
    """Kendall tau-b and Spearman rho between two system rankings (higher value = better).

    Args:
        ranking: ratings, or per-system values, from metric or judge battles.
        reference: ratings or per-system values to compare with (e.g. mean human score).
        label: what is compared, put into the signatures (e.g. ``"chrf-bt~human-mean"``).

    Returns:
        ``{"kendall": Estimate, "spearman": Estimate}``; ``n`` is the number of systems in
        both, ``extra["p_value"]`` scipy's two-sided p-value. No interval is computed.

    Raises:
        AccordError: fewer than 3 systems in common.
    """
    mine = _as_series(ranking, "ranking")
    theirs = _as_series(reference, "reference")
    common = [s for s in theirs.index if s in mine.index]
    mine_only = sorted(set(mine.index) - set(common))
    theirs_only = sorted(set(theirs.index) - set(common))
    if mine_only or theirs_only:
        logger.info(
            "ranking agreement on %d common systems; left out %d only in the ranking and %d "
            "only in the reference", len(common), len(mine_only), len(theirs_only),
        )
    x = mine[common].to_numpy(dtype=float)
    y = theirs[common].to_numpy(dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if (~finite).any():
        logger.info("ranking agreement: %d system(s) with a NaN value left out",
                    int((~finite).sum()))
    x, y = x[finite], y[finite]
    if len(x) < 3:
        raise AccordError(
            f"ranking agreement needs at least 3 systems in both rankings, got {len(x)}"
        )
    tau = kendalltau(x, y, variant="b")
    rho = spearmanr(x, y)
    extra = {"systems": [s for s, keep in zip(common, finite) if keep]}
    return {
        "kendall": Estimate(
            float(tau.statistic), n=len(x),
            signature=make_signature("kendall-b", {"level": "system", "compare": label or None}),
            extra={"p_value": float(tau.pvalue), **extra},
        ),
        "spearman": Estimate(
            float(rho.statistic), n=len(x),
            signature=make_signature("spearman", {"level": "system", "compare": label or None}),
            extra={"p_value": float(rho.pvalue), **extra},
        ),
    }
