"""Report sections for rankings: rating tables, interval plots, win-rate heat maps, agreement.

:func:`rankings_section` shows one :class:`~accord.rankings.uncertainty.Ratings`;
:func:`comparison_section` sets several rankings of the same systems side by side (e.g. from
human scores, from a metric, from a judge) with their agreement with a reference ranking.
Plots use matplotlib's Agg backend, so no display is needed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from accord.metaeval.result import Estimate
from accord.rankings.agreement import RankingLike, ranking_agreement
from accord.rankings.uncertainty import Ratings
from accord.reports.document import Figure, Section

if TYPE_CHECKING:
    from matplotlib.figure import Figure as MplFigure

logger = logging.getLogger(__name__)


def _pyplot() -> Any:
    # The Agg backend renders without a display; it must be chosen before pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

_METHOD_NAMES = {"bt": "Bradley-Terry", "elo": "Elo", "openskill": "openskill"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "ranking"


def interval_plot(ratings: Ratings, title: str = "") -> MplFigure:
    """Dot-and-whisker plot: each system's rating and interval, best at the top."""
    plt = _pyplot()
    order = np.argsort(ratings.values, kind="stable")
    names = [ratings.systems[i] for i in order]
    values = ratings.values[order]
    low = ratings.ci_low[order]
    high = ratings.ci_high[order]
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(names) + 1.2))
    rows = np.arange(len(names))
    has_ci = np.isfinite(low) & np.isfinite(high)
    # Whiskers run from end to end: an order-dependent Elo point may lie outside its interval.
    ax.hlines(rows[has_ci], low[has_ci], high[has_ci], color="#6a8fb5", linewidth=2)
    ax.plot(values, rows, "o", color="#1f4e79", markersize=5)
    ax.set_yticks(rows, labels=names)
    ax.axvline(ratings.scale.center, color="#bbbbbb", linewidth=0.8, zorder=0)
    ax.set_xlabel("rating (400 points = odds of 10 to 1)")
    ax.set_title(title or f"{_METHOD_NAMES.get(ratings.method, ratings.method)} ratings")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def win_rate_heatmap(ratings: Ratings, title: str = "") -> MplFigure:
    """Heat map of the observed win rate (a tie is half a win) of row against column.

    Systems are ordered by rating, best first; cells of pairs that never met are blank.
    """
    plt = _pyplot()
    order = np.argsort(-ratings.values, kind="stable")
    names = [ratings.systems[i] for i in order]
    rates = ratings.counts.win_rate_matrix()[np.ix_(order, order)]
    size = 0.42 * len(names) + 2.0
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    # Colours span the observed range around 0.5, so that close races still show their sign.
    spread = max(0.1, float(np.nanmax(np.abs(rates - 0.5)))) if np.isfinite(rates).any() else 0.5
    image = ax.imshow(np.ma.masked_invalid(rates), cmap="RdBu", vmin=0.5 - spread,
                      vmax=0.5 + spread)
    ax.set_xticks(np.arange(len(names)), labels=names, rotation=60, ha="right")
    ax.set_yticks(np.arange(len(names)), labels=names)
    if len(names) <= 16:
        for i in range(len(names)):
            for j in range(len(names)):
                if np.isfinite(rates[i, j]):
                    ax.text(j, i, f"{rates[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                            color="white" if abs(rates[i, j] - 0.5) > 0.6 * spread
                            else "black")
    ax.set_xlabel("opponent")
    ax.set_ylabel("system")
    ax.set_title(title or "observed win rate of row against column")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def agreement_table(agreements: Mapping[str, Mapping[str, Estimate]]) -> pd.DataFrame:
    """One row per comparison: Kendall tau-b, Spearman rho, their p-values and n systems."""
    rows = []
    for label, result in agreements.items():
        kendall, spearman = result["kendall"], result["spearman"]
        rows.append({
            "comparison": label,
            "kendall_tau": kendall.value,
            "kendall_p": float(kendall.extra.get("p_value", np.nan)),
            "spearman_rho": spearman.value,
            "spearman_p": float(spearman.extra.get("p_value", np.nan)),
            "n_systems": kendall.n,
        })
    return pd.DataFrame(rows)


def _ratings_table(ratings: Ratings) -> pd.DataFrame:
    frame = ratings.table()
    frame["n_battles"] = frame["n_battles"].astype(str)
    frame["rank"] = frame["rank"].astype(str)
    return frame


def rankings_section(
    ratings: Ratings,
    title: str,
    reference: RankingLike | None = None,
    reference_label: str = "reference",
    description: str = "",
) -> Section:
    """A report section for one set of ratings.

    Args:
        ratings: the ratings to show.
        title: the section title (also names the figure files).
        reference: another ranking of the same systems (ratings or per-system values, higher
            is better) to compare with; None shows no agreement numbers.
        reference_label: what ``reference`` is, for the text.
        description: a paragraph put first (where the battles came from).

    Returns:
        A :class:`~accord.reports.document.Section` with the rating table (value, interval,
        rank), a dot-and-whisker interval plot, a win-rate heat map and, with a reference,
        Kendall's tau and Spearman's rho.
    """
    section = Section(title)
    if description:
        section.text(description)
    n_battles = ratings.counts.n_battles
    method = _METHOD_NAMES.get(ratings.method, ratings.method)
    lines = [
        f"- method: {method}, {len(ratings.systems)} systems, {n_battles} battles",
        f"- signature: `{ratings.signature}`",
    ]
    tie_param = ratings.extra.get("tie_param")
    if tie_param is not None:
        lines.append(f"- Davidson tie parameter nu: {tie_param:.3f}")
    n_failed = ratings.extra.get("n_resamples_failed")
    if n_failed:
        lines.append(f"- bootstrap resamples without a finite fit, left out: {n_failed}")
    section.text("\n".join(lines))
    section.table(
        _ratings_table(ratings),
        caption="Ratings (mean at the scale's center unless an anchor is named), interval ends "
                "and ranks from the intervals: 1 + the number of systems whose interval lies "
                "wholly above.",
        float_format="{:.1f}",
    )
    slug = _slug(title)
    section.figure(Figure.from_matplotlib(
        interval_plot(ratings, title), f"{slug}-intervals",
        caption=f"{title}: ratings with their intervals."))
    section.figure(Figure.from_matplotlib(
        win_rate_heatmap(ratings, f"{title}: observed win rate of row against column"),
        f"{slug}-win-rates",
        caption=f"{title}: observed win rate (ties count half) of row against column."))
    if reference is not None:
        agreement = ranking_agreement(ratings, reference, label=f"{title}~{reference_label}")
        section.table(agreement_table({f"{title} vs {reference_label}": agreement}),
                      caption="Agreement of this ranking with the reference ranking.")
    return section


def comparison_section(
    rankings: Mapping[str, Ratings],
    reference: RankingLike,
    reference_label: str,
    title: str = "Agreement between rankings",
) -> Section:
    """Rankings from several sources side by side, each compared with one reference ranking.

    Args:
        rankings: ratings by source name (e.g. ``{"MQM": ..., "chrF": ...}``).
        reference: the ranking to compare with (ratings or per-system values).
        reference_label: what the reference is, e.g. ``"mean MQM score"``.
        title: the section title.
    """
    section = Section(title)
    agreements = {
        f"{name} vs {reference_label}": ranking_agreement(ratings, reference,
                                                          label=f"{name}~{reference_label}")
        for name, ratings in rankings.items()
    }
    section.table(agreement_table(agreements),
                  caption="Kendall tau-b and Spearman rho between system rankings (scipy).")
    ref_series = _reference_series(reference)
    frame = pd.DataFrame({"system": list(ref_series.index), reference_label: ref_series.values})
    for name, ratings in rankings.items():
        series = ratings.as_series()
        ranks = pd.Series(ratings.ranks, index=list(ratings.systems))
        frame[name] = frame["system"].map(series)
        frame[f"{name} rank"] = frame["system"].map(ranks).astype("Int64").astype(str)
    frame = frame.sort_values(reference_label, ascending=False).reset_index(drop=True)
    section.table(frame, caption=f"Systems ordered by {reference_label}; ratings and CI ranks "
                                 "from each source.", float_format="{:.3f}")
    return section


def _reference_series(reference: RankingLike) -> pd.Series:
    if isinstance(reference, Ratings):
        return reference.as_series()
    if isinstance(reference, pd.Series):
        return reference.astype(float)
    return pd.Series({str(k): float(v) for k, v in reference.items()}, dtype=float)
