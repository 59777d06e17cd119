"""Report sections for a meta-evaluation run: data accounting, correlation tables, plots.

The figures are a metric-vs-human scatter plot per metric at system level and a heat map of
correlations across metrics and variants; tables show each value with its confidence interval.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from accord.reports.document import Figure, Section

if TYPE_CHECKING:
    from accord.suite import RunResult


def _matplotlib():  # type: ignore[no-untyped-def]
    # The Agg backend renders without a display; select it before pyplot is imported.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def format_estimate(value: float, low: float, high: float) -> str:
    """``0.147 [0.131, 0.163]``; the interval is left out when it was not computed."""
    if math.isnan(value):
        return "n/a"
    if math.isnan(low) or math.isnan(high):
        return f"{value:.3f}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def data_section(result: RunResult) -> Section:
    """What was read, what was used, what was excluded and why."""
    j = result.judgments
    summary = j.summary()
    section = Section("Data")
    dataset = result.config.data.dataset
    if dataset is not None:
        from accord.data.registry import get_spec

        spec = get_spec(dataset)
        section.text(
            f"Dataset `{dataset}`: `{spec.url}` (sha256 `{spec.sha256}`, license {spec.license})."
        )
    else:
        section.text(f"File: `{j.source or j.name}` (format `{result.config.data.format}`).")
    section.text(
        f"Rows read: {j.read_rows}. "
        f"Items: {summary['items']}; systems with outputs: {summary['systems']}; "
        f"outputs: {summary['outputs']}; human scores: {summary['scores']} "
        f"(missing: {summary['missing_scores']}); MQM error rows: {summary['errors']}; "
        f"relative judgments: {summary['pairs']}."
    )
    section.text(
        f"Systems compared ({len(result.systems)}): " + ", ".join(f"`{s}`" for s in result.systems)
    )
    if j.reference_system:
        section.text(f"Reference in use: the outputs of `{j.reference_system}`.")
    if result.aspects:
        section.text("Human aspects: " + ", ".join(f"`{a}`" for a in result.aspects))
    if result.excluded:
        frame = pd.DataFrame(
            [{"excluded": reason, "count": count} for reason, count in result.excluded.items()]
        )
        section.table(frame, caption="Left out of the run, with reasons", float_format="{:.0f}")
    else:
        section.text("Nothing was excluded.")
    return section


def correlation_tables(result: RunResult) -> list[Section]:
    """One table per human aspect: metrics as rows, variants as columns, values with CIs."""
    table = result.correlations()
    boot = result.config.bootstrap
    ci_text = (
        f"{100 * (1 - boot.alpha):.0f}% percentile bootstrap intervals over "
        f"{boot.n_resamples} resamples of {boot.resample} (seed {boot.seed})"
        if boot.n_resamples > 0
        else "no confidence intervals (n_resamples = 0)"
    )
    sections = []
    for aspect, part in table.groupby("aspect", sort=False):
        section = Section(f"Correlation with human judgments: {aspect}")
        part = part.assign(variant=part["level"] + " / " + part["grouping"] + " / "
                           + part["coefficient"])
        part = part.assign(cell=[format_estimate(v, lo, hi) for v, lo, hi in
                                 zip(part["value"], part["ci_low"], part["ci_high"], strict=True)])
        wide = part.pivot(index="metric", columns="variant", values="cell")
        wide = wide.reindex(index=list(dict.fromkeys(part["metric"])),
                            columns=list(dict.fromkeys(part["variant"])))
        section.table(wide.reset_index(), caption=f"Values with {ci_text}.")
        counts = part.drop_duplicates("variant")[["variant", "n"]]
        section.text(
            "Observations per variant (n): "
            + "; ".join(f"{v}: {n}" for v, n in zip(counts["variant"], counts["n"], strict=True))
        )
        sections.append(section)
    return sections


def scatter_figure(result: RunResult, aspect: str) -> Figure:
    """System-level metric score against the human mean, one panel per metric."""
    plt = _matplotlib()
    labels = list(result.scores)
    gold = result.judgments.gold_matrix(aspect, result.systems, result.items)
    with np.errstate(invalid="ignore"):
        human = np.nanmean(gold, axis=1)
    cols = min(3, len(labels))
    rows = math.ceil(len(labels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    ones = np.ones((1, len(result.items)))
    for ax, label in zip(axes.flat, labels, strict=False):
        metric = result.scores[label].system_scorer(np.isfinite(gold))(ones)[0]
        ax.scatter(metric, human, s=22, color="#3366aa")
        for x, y, name in zip(metric, human, result.systems, strict=True):
            ax.annotate(name, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points")
        ax.set_xlabel(f"{label} (system)")
        ax.set_ylabel(f"human {aspect} (mean)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(labels):]:
        ax.axis("off")
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, f"scatter-{aspect}",
        caption=f"System level: each metric's score against the mean human {aspect} score.",
    )


def heatmap_figure(result: RunResult) -> Figure:
    """Correlation values of every metric (rows) in every aspect and variant (columns)."""
    plt = _matplotlib()
    table = result.correlations()
    table = table.assign(column=table["aspect"] + ": " + table["level"] + "/" + table["grouping"]
                         + "/" + table["coefficient"])
    wide = table.pivot(index="metric", columns="column", values="value")
    wide = wide.reindex(index=list(dict.fromkeys(table["metric"])),
                        columns=list(dict.fromkeys(table["column"])))
    values = wide.to_numpy(dtype=float)
    # Room below the axes for the rotated variant names, whatever the number of metrics.
    fig, ax = plt.subplots(figsize=(2.0 + 0.9 * values.shape[1], 2.8 + 0.45 * values.shape[0]))
    image = ax.imshow(values, cmap="viridis", aspect="auto")
    ax.set_xticks(range(values.shape[1]), wide.columns, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(values.shape[0]), wide.index, fontsize=8)
    for (r, c), v in np.ndenumerate(values):
        if not np.isnan(v):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=6,
                    color="white" if v < np.nanmean(values) else "black")
    fig.colorbar(image, ax=ax, fraction=0.03)
    fig.tight_layout()
    return Figure.from_matplotlib(
        fig, "heatmap", caption="Correlation with humans across metrics, aspects and variants."
    )


def provenance_section(result: RunResult) -> Section:
    """Metric signatures, correlation signatures, seed and timings."""
    section = Section("Signatures and provenance")
    section.table(
        pd.DataFrame(
            [{"metric": k, "signature": v} for k, v in result.metric_signatures.items()]
        ),
        caption="Metric signatures (equal signatures mean equal scores)",
    )
    sigs = result.correlations()["signature"].map(lambda s: s.split("|", 1)[-1]).unique()
    section.text("Correlation signatures (after the coefficient name):\n"
                 + "\n".join(f"- `{s}`" for s in sigs))
    section.text(
        f"Bootstrap seed: {result.config.bootstrap.seed}. Timings (s): "
        + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items())
    )
    return section


def build_sections(result: RunResult) -> list[Section]:
    """All meta-evaluation sections of a run's report, in reading order."""
    sections = [data_section(result)]
    sections += correlation_tables(result)
    plots = Section("Plots")
    if result.config.output.scatter:
        for aspect in result.aspects:
            plots.figure(scatter_figure(result, aspect))
    if len(result.rows) > 1:
        plots.figure(heatmap_figure(result))
    if plots.blocks:
        sections.append(plots)
    sections.append(provenance_section(result))
    return sections
