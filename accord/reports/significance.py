"""Report sections for significance between metrics, human ceilings, preference accuracy,
and the leaderboard that combines several suite runs.

:func:`significance_sections` is what a suite run adds when ``[significance] enabled = true``:
for every variant, each pair of metrics with its delta and one-sided p-value, the clusters of
metrics that are not significantly different (rule in :mod:`accord.metaeval.clusters`), a plot,
and the human ceiling (or a plain statement that none can be computed). It also writes
``significance.csv`` into the suite's output folder, which :func:`leaderboard` reads back.

:func:`leaderboard` reads suite output folders (``correlations-all.csv``, ``run.json`` and, when
present, ``significance.csv``) and ranks the metrics of every suite and variant.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accord.config import PAIR_COEFFICIENTS
from accord.errors import AccordError, DataError
from accord.metaeval.clusters import significance_clusters
from accord.metaeval.result import Estimate
from accord.metaeval.significance import (
    PairwiseSignificance,
    compare_metrics,
    compare_metrics_pairs,
)
from accord.reports.document import Figure, Section

if TYPE_CHECKING:
    from accord.config import VariantConfig
    from accord.suite import RunResult

logger = logging.getLogger(__name__)

SIGNIFICANCE_CSV = "significance.csv"
SIGNIFICANCE_COLUMNS = ["aspect", "level", "grouping", "coefficient", "metric_a", "metric_b",
                        "value_a", "value_b", "delta", "p_value", "significant", "method",
                        "n_resamples", "seed"]


def _matplotlib():  # type: ignore[no-untyped-def]
    # The Agg backend renders without a display; select it before pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _variant_key(level: str, grouping: str, coefficient: str) -> str:
    return f"{level}/{grouping}/{coefficient}"


# ---------------------------------------------------------------------------------------------
# One suite run
# ---------------------------------------------------------------------------------------------


def cluster_figure(test: PairwiseSignificance, clusters: pd.DataFrame, name: str) -> Figure:
    """Bars of each metric's correlation coloured by cluster, beside the p-value matrix."""
    plt = _matplotlib()
    order = list(clusters["metric"])
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(10.5, 0.9 + 0.42 * len(order)),
        gridspec_kw={"width_ratios": [1.0, 1.1]},
    )
    colours = plt.get_cmap("tab10")
    cluster_ids = clusters["cluster"].fillna(0).astype(int).to_numpy()
    positions = np.arange(len(order))[::-1]
    left.barh(positions, clusters["value"].fillna(0.0), color=[colours(c % 10)
                                                               for c in cluster_ids])
    left.set_yticks(positions, [f"{m} (c{c})" if c else m for m, c in zip(order, cluster_ids)],
                    fontsize=8)
    left.set_xlabel(f"{test.coefficient} ({test.level}/{test.grouping})")
    left.grid(axis="x", alpha=0.3)
    matrix = test.p_values.reindex(index=order, columns=order).to_numpy(dtype=float)
    image = right.imshow(matrix, cmap="viridis_r", vmin=0.0, vmax=1.0)
    right.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=7)
    right.set_yticks(range(len(order)), order, fontsize=7)
    for (r, c), v in np.ndenumerate(matrix):
        if not np.isnan(v):
            right.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6,
                       color="white" if v < 0.5 else "black")
    right.set_title("p(row better than column)", fontsize=8)
    fig.colorbar(image, ax=right, fraction=0.04)
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, name,
        caption=f"{test.level}/{test.grouping}/{test.coefficient}: correlation per metric, "
                "coloured by significance cluster (left); one-sided p-values (right).",
    )


def _method_text(test: PairwiseSignificance, unit: str) -> str:
    if test.method == "permutation":
        return (f"Permutation test of Deutsch et al. (2021), swapping the two standardized "
                f"metrics' scores per {unit[:-1] if unit != 'cells' else '(system, item) cell'} "
                f"(PERM-{'BOTH' if unit == 'cells' else unit.upper()}), {test.n_resamples} "
                f"resamples, seed {test.seed}, one-sided p-values "
                "(1 + #{resampled delta >= observed}) / (1 + resamples).")
    if test.method == "bootstrap":
        return (f"Paired bootstrap over items ({test.n_resamples} resamples, seed {test.seed}), "
                "p-value of the bootstrap distribution shifted to the null.")
    return "Williams' t-test for dependent Pearson correlations sharing the human scores."


def pairs_table(test: PairwiseSignificance) -> pd.DataFrame:
    """One row per unordered pair, better metric first: delta, p-value, verdict."""
    rows = []
    for (a, b), est in test.tests.items():
        better, worse = (a, b) if est.value >= 0 else (b, a)
        p = float(test.p_values.at[better, worse])  # type: ignore[arg-type]
        rows.append({"better": better, "worse": worse, "delta": abs(est.value),
                     "p_value": p, "significant": "yes" if p < test.alpha else "no"})
    return pd.DataFrame(rows).sort_values(["p_value", "better"]).reset_index(drop=True)


def human_ceiling_section(result: RunResult) -> Section:
    """Inter-annotator agreement per aspect, or why none can be computed."""
    from accord.metaeval.agreement import human_ceiling

    section = Section("Human ceiling (inter-annotator agreement)")
    if not result.aspects:
        section.text("No human ceiling: the data has relative judgments only, no scores "
                     "per rater.")
    for aspect in result.aspects:
        table, message = human_ceiling(result.judgments, aspect, result.variants,
                                       result.systems, result.items)
        section.text(message)
        if table is not None:
            section.table(table, caption=f"Agreement among raters of `{aspect}` (compare "
                                         "with the metric correlations above)")
    return section


def significance_sections(
    result: RunResult,
    variants: Sequence[VariantConfig] | None = None,
    n_resamples: int = 1000,
    seed: int = 1,
    *,
    method: str = "permutation",
    alpha: float = 0.05,
    unit: str = "cells",
    write_csv: bool = True,
) -> list[Section]:
    """Pairwise significance between the run's metrics, clusters, and the human ceiling.

    Args:
        result: a suite run.
        variants: the variants to test (default: the run's variants). ``wmt_kendall`` on
            relative judgments is not tested (no permutation scheme for judged pairs here) and
            the report says so.
        n_resamples, seed, method, alpha, unit: test settings
            (see :func:`accord.metaeval.significance.compare_metrics`).
        write_csv: write ``significance.csv`` (both directions of every pair, all variants)
            into ``result.config.output.dir`` for :func:`leaderboard`.

    Returns:
        One section per aspect and variant, then the human ceiling section.
    """
    from accord.suite import PAIRS_ASPECT, decided_pair_cells, oriented

    variants = list(variants if variants is not None else result.variants)
    metrics = {label: oriented(ms).segment for label, ms in result.scores.items()}
    sections: list[Section] = []
    frames: list[pd.DataFrame] = []
    if len(metrics) < 2:
        section = Section("Significance between metrics")
        section.text("Only one metric was scored, so there is no pair to test.")
        return [section, human_ceiling_section(result)]
    for aspect in result.aspects:
        gold = result.judgments.gold_matrix(aspect, result.systems, result.items)
        for variant in variants:
            if variant.coefficient in PAIR_COEFFICIENTS:
                continue
            logger.info("significance %s %s: %d pairs", aspect, variant.key,
                        len(metrics) * (len(metrics) - 1) // 2)
            # At system level the scores of BLEU, chrF and TER are corpus statistics, which a
            # cell-swapping permutation cannot reproduce; the paired bootstrap recomputes them
            # on every resample, so its deltas are those of the correlation table.
            corpus_level = variant.level == "system"
            variant_method = "bootstrap" if corpus_level else method
            scorers = None
            if corpus_level:
                mask = np.isfinite(gold)
                scorers = {label: oriented(ms).system_scorer(mask)
                           for label, ms in result.scores.items()}
            test = compare_metrics(metrics, gold, variant.coefficient, variant.level,
                                   variant.grouping, method=variant_method,
                                   n_resamples=n_resamples, seed=seed, alpha=alpha, unit=unit,
                                   scorers=scorers)
            note = ("At system level the test is the paired bootstrap over items, with each "
                    "metric's system score (a corpus statistic for BLEU, chrF and TER) "
                    "recomputed on every resample." if corpus_level else None)
            sections.append(_variant_section(test, aspect, variant, unit, alpha, note))
            frames.append(test.long().assign(aspect=aspect))
    if len(result.judgments.pairs):
        better, worse, _ = decided_pair_cells(result.judgments, result.systems, result.items)
        flat = {label: matrix.ravel() for label, matrix in metrics.items()}
        for variant in variants:
            if variant.coefficient not in PAIR_COEFFICIENTS:
                continue
            test = compare_metrics_pairs(flat, better, worse, variant.coefficient,
                                         n_resamples=n_resamples, seed=seed, alpha=alpha)
            note = ("Relative judgments: each resample swaps the two standardized metrics' "
                    "scores of every output, for all the pairs that output is in.")
            sections.append(_variant_section(test, PAIRS_ASPECT, variant, "cells", alpha, note))
            frames.append(test.long().assign(aspect=PAIRS_ASPECT))
    if write_csv and frames:
        out = Path(result.config.output.dir)
        out.mkdir(parents=True, exist_ok=True)
        table = pd.concat(frames, ignore_index=True)[SIGNIFICANCE_COLUMNS]
        table.to_csv(out / SIGNIFICANCE_CSV, index=False)
    sections.append(human_ceiling_section(result))
    return sections


def _variant_section(test: PairwiseSignificance, aspect: str, variant: VariantConfig,
                     unit: str, alpha: float, note: str | None) -> Section:
    """Pairs table, clusters and cluster figure of one tested variant."""
    clusters = significance_clusters(test.values, test.p_values, alpha)
    section = Section(f"Significance: {aspect}, {variant.key}")
    section.text(_method_text(test, unit) + f" Significant means p < {alpha}.")
    if note:
        section.text(note)
    section.table(pairs_table(test), caption="Each pair of metrics, better metric "
                  "first: difference in correlation and one-sided p-value")
    section.table(clusters, caption="Clusters: sorted by correlation; a new cluster "
                  "starts at the first metric significantly worse than the best metric "
                  "of the current cluster. Rank: 1 + metrics significantly better.")
    section.figure(cluster_figure(test, clusters,
                                  f"significance-{aspect}-{variant.level}-"
                                  f"{variant.grouping}-{variant.coefficient}"))
    return section


def preference_section(estimates: dict[str, Estimate], title: str,
                       tests: dict[tuple[str, str], Estimate] | None = None) -> Section:
    """Preference accuracy of several scorers (ties counted wrong), with intervals."""
    section = Section(title)
    rows = []
    for label, est in estimates.items():
        rows.append({"scorer": label, "accuracy": est.value, "ci_low": est.ci_low,
                     "ci_high": est.ci_high, "pairs": est.n, "ties": est.extra.get("ties", 0),
                     "missing": est.extra.get("n_missing", 0)})
    section.table(pd.DataFrame(rows), caption="Share of pairs whose chosen response scores "
                  "strictly higher (a tie counts as wrong), with percentile bootstrap "
                  "intervals over pairs")
    if tests:
        section.table(pd.DataFrame([
            {"a": a, "b": b, "delta": t.value, "p_value": t.extra["p_value"]}
            for (a, b), t in tests.items()
        ]), caption="Paired sign-flip test of accuracy differences (one-sided, a better)")
    return section


# ---------------------------------------------------------------------------------------------
# Leaderboard across suites
# ---------------------------------------------------------------------------------------------


def read_suite_folder(folder: str | Path) -> tuple[str, pd.DataFrame, pd.DataFrame | None]:
    """The suite name, its ``correlations-all.csv`` and its ``significance.csv`` (or None)."""
    path = Path(folder)
    corr_path = path / "correlations-all.csv"
    run_path = path / "run.json"
    for needed in (corr_path, run_path):
        if not needed.is_file():
            raise DataError(needed, "missing: a suite output folder holds correlations-all.csv "
                            "and run.json (written by `accord run`)")
    try:
        record = json.loads(run_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(run_path, f"not valid JSON: {exc.msg}", exc.lineno) from None
    name = str(record.get("suite", {}).get("name") or path.name)
    correlations = pd.read_csv(corr_path)
    required = ["aspect", "metric", "level", "grouping", "coefficient", "value"]
    missing = [c for c in required if c not in correlations.columns]
    if missing:
        raise DataError(corr_path, f"missing column(s) {', '.join(missing)}; expected "
                        f"{', '.join(required)}, ci_low, ci_high, n, signature", 1)
    significance = None
    sig_path = path / SIGNIFICANCE_CSV
    if sig_path.is_file():
        significance = pd.read_csv(sig_path)
        missing = [c for c in SIGNIFICANCE_COLUMNS[:10] if c not in significance.columns]
        if missing:
            raise DataError(sig_path, f"missing column(s) {', '.join(missing)}", 1)
    return name, correlations, significance


def _dense_rank_desc(values: pd.Series) -> pd.Series:
    # competition ranking ("1, 2, 2, 4"): tied values share the best rank
    return values.rank(method="min", ascending=False)


def leaderboard(folders: Sequence[str | Path], alpha: float = 0.05) -> pd.DataFrame:
    """Every metric of every suite and variant with its rank and significance cluster.

    Args:
        folders: suite output folders (see :func:`read_suite_folder`).
        alpha: significance level for the clusters.

    Returns:
        Long table: ``suite, aspect, level, grouping, coefficient, metric, value, ci_low,
        ci_high, n, rank`` (1 = best; ties share the best rank) and ``cluster`` (NaN where the
        suite folder has no p-values for that variant).
    """
    if not folders:
        raise AccordError("leaderboard needs at least one suite output folder")
    frames = []
    seen: dict[str, Path] = {}
    for folder in folders:
        name, correlations, significance = read_suite_folder(folder)
        if name in seen:
            name = f"{name} ({Path(folder).name})"
        seen[name] = Path(folder)
        keys = ["aspect", "level", "grouping", "coefficient"]
        for key, part in correlations.groupby(keys, sort=False):
            part = part.copy()
            part.insert(0, "suite", name)
            part["rank"] = _dense_rank_desc(part["value"])
            part["cluster"] = math.nan
            if significance is not None:
                aspect, level, grouping, coefficient = key
                sig = significance[(significance["aspect"] == aspect)
                                   & (significance["level"] == level)
                                   & (significance["grouping"] == grouping)
                                   & (significance["coefficient"] == coefficient)]
                if len(sig):
                    labels = list(part["metric"])
                    p = sig.pivot(index="metric_a", columns="metric_b", values="p_value")
                    p = p.reindex(index=labels, columns=labels)
                    values = dict(zip(part["metric"], part["value"].astype(float)))
                    clusters = significance_clusters(values, p, alpha)
                    part["cluster"] = part["metric"].map(
                        dict(zip(clusters["metric"], clusters["cluster"])))
            frames.append(part)
    table = pd.concat(frames, ignore_index=True)
    columns = ["suite", "aspect", "level", "grouping", "coefficient", "metric", "value",
               "ci_low", "ci_high", "n", "rank", "cluster"]
    return table[[c for c in columns if c in table.columns]]


def leaderboard_sections(table: pd.DataFrame, alpha: float = 0.05) -> list[Section]:
    """A wide table (metrics x suite variants, "value (rank, cluster)") and the long table."""
    table = table.assign(column=table["suite"] + ": " + table["aspect"] + " "
                         + table["level"] + "/" + table["grouping"] + "/"
                         + table["coefficient"])

    def cell(row: pd.Series) -> str:
        if pd.isna(row["value"]):
            return "n/a"
        cluster = "" if pd.isna(row["cluster"]) else f", c{int(row['cluster'])}"
        return f"{row['value']:.3f} (#{int(row['rank'])}{cluster})"

    table = table.assign(cell=table.apply(cell, axis=1))
    wide = table.pivot(index="metric", columns="column", values="cell")
    mean_rank = table.groupby("metric")["rank"].mean()
    wide = wide.reindex(index=mean_rank.sort_values().index,
                        columns=list(dict.fromkeys(table["column"])))
    wide.insert(0, "mean rank", mean_rank.reindex(wide.index))
    suites = list(dict.fromkeys(table["suite"]))
    section = Section("Leaderboard")
    section.text(f"Suites: {', '.join(f'`{s}`' for s in suites)}. Each cell: correlation "
                 "(#rank within that suite and variant, c = significance cluster at "
                 f"alpha = {alpha} where the suite folder has `{SIGNIFICANCE_CSV}`). Metrics "
                 "are ordered by their mean rank over the columns they appear in.")
    if table["cluster"].isna().all():
        section.text(f"No suite folder had `{SIGNIFICANCE_CSV}`, so no clusters are shown; "
                     "run the suites with `[significance] enabled = true`.")
    section.table(wide.reset_index(), caption="Metrics across suites and variants",
                  float_format="{:.2f}")
    long = Section("Leaderboard (all rows)")
    long.table(table.drop(columns=["column", "cell"]),
               caption="Every suite, aspect, variant and metric")
    return [section, long]
