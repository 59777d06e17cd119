"""Rankings of systems from pairwise battles: Elo, Bradley-Terry, openskill, with intervals.

Battles (:mod:`~accord.rankings.battles`) come from human pairs, any segment score matrix or a
judge's verdicts; :func:`rate` turns them into :class:`Ratings` on one Elo-like scale
(:mod:`~accord.rankings.scale`), with bootstrap or posterior intervals and ranks from the
intervals (:mod:`~accord.rankings.uncertainty`); :func:`ranking_agreement` compares two
rankings and :func:`rankings_section` reports one.
"""

from accord.rankings.agreement import ranking_agreement
from accord.rankings.battles import (
    PairCounts,
    battles_from_pairs,
    battles_from_scores,
    count_battles,
    validate_battles,
)
from accord.rankings.bradley_terry import BradleyTerryFit, fit_bradley_terry
from accord.rankings.elo import elo_ratings
from accord.rankings.report import comparison_section, rankings_section
from accord.rankings.scale import Scale
from accord.rankings.trueskill import openskill_ratings
from accord.rankings.uncertainty import (
    Rating,
    Ratings,
    ranks_from_intervals,
    rate,
    rate_bradley_terry,
    rate_elo,
    rate_openskill,
)

__all__ = [
    "BradleyTerryFit",
    "PairCounts",
    "Rating",
    "Ratings",
    "Scale",
    "battles_from_pairs",
    "battles_from_scores",
    "comparison_section",
    "count_battles",
    "elo_ratings",
    "fit_bradley_terry",
    "openskill_ratings",
    "ranking_agreement",
    "rankings_section",
    "ranks_from_intervals",
    "rate",
    "rate_bradley_terry",
    "rate_elo",
    "rate_openskill",
    "validate_battles",
]
