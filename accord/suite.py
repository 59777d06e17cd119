"""Run a benchmark suite: load judgments, score every metric, meta-evaluate, write a report.

This is the data flow of accord in one place::

    judgments (data) -> metric scores (metrics + store) -> correlations (metaeval) -> report

:func:`run_suite` returns a :class:`RunResult` holding everything that was computed;
:func:`write_outputs` writes ``report.md``, ``report.html``, ``correlations.csv`` and the
segment and system scores as CSV into the suite's output folder.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accord.config import (
    PAIR_COEFFICIENTS,
    DataConfig,
    SuiteConfig,
    VariantConfig,
    default_variants,
)
from accord.data.judgments import Judgments, zscore_by_rater
from accord.errors import ConfigError
from accord.metaeval.result import Estimate
from accord.metrics import create_metric
from accord.scoring import MetricScores, score_judgments
from accord.store import ScoreStore

logger = logging.getLogger(__name__)

CORRELATION_COLUMNS = ["metric", "level", "grouping", "coefficient", "value", "ci_low",
                       "ci_high", "n"]
PAIRS_ASPECT = "pairwise"


@dataclass
class CorrelationRow:
    """One meta-evaluation result: a metric against one human aspect in one variant."""

    aspect: str
    metric: str
    variant: VariantConfig
    estimate: Estimate

    def as_record(self) -> dict[str, Any]:
        e = self.estimate
        return {
            "aspect": self.aspect,
            "metric": self.metric,
            "level": self.variant.level,
            "grouping": self.variant.grouping,
            "coefficient": self.variant.coefficient,
            "value": e.value,
            "ci_low": e.ci_low,
            "ci_high": e.ci_high,
            "n": e.n,
            "signature": e.signature,
        }


@dataclass
class RunResult:
    """Everything a suite run computed, for reports and for tests."""

    config: SuiteConfig
    judgments: Judgments
    systems: list[str]
    items: list[str]
    aspects: list[str]
    variants: list[VariantConfig]
    scores: dict[str, MetricScores]
    metric_signatures: dict[str, str]
    rows: list[CorrelationRow]
    excluded: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    extra_sections: list[Any] = field(default_factory=list)

    def correlations(self) -> pd.DataFrame:
        """All results as a table (aspect, metric, variant columns, value, CI, n, signature)."""
        return pd.DataFrame([row.as_record() for row in self.rows])


def load_judgments(data: DataConfig) -> Judgments:
    """The judgments a ``[data]`` section names: a registered dataset, or a file and format.

    ``$VARIABLES`` in a file path are expanded; ``limit_items`` keeps the first items and
    records how many were left out.
    """
    from accord.data import loaders, registry

    if data.dataset is not None:
        judgments = registry.load_dataset(data.dataset, **data.options)
    else:
        if data.path is None or data.format is None:  # DataConfig's validator forbids this
            raise ConfigError("data: give dataset, or path with format")
        judgments = loaders.load(data.format, os.path.expandvars(data.path), **data.options)
    if data.limit_items is not None and data.limit_items < len(judgments.items):
        keep = judgments.item_ids[: data.limit_items]
        excluded = dict(judgments.excluded)
        excluded[f"items beyond data.limit_items={data.limit_items}"] = (
            len(judgments.items) - len(keep)
        )
        judgments = judgments.subset(items=keep)
        judgments.excluded = excluded
    return judgments


def run_suite(config: SuiteConfig, store: ScoreStore | None = None,
              progress: bool = False) -> RunResult:
    """Score every metric of the suite and compute every correlation variant.

    Args:
        config: the validated suite.
        store: the score store to read and fill (None: no caching).
        progress: show progress bars on long steps.
    """
    timings: dict[str, float] = {}

    # 1. Judgments, and the systems and items the run compares.
    start = time.perf_counter()
    judgments = load_judgments(config.data)
    if config.judgments.normalize == "z":
        judgments = zscore_by_rater(judgments, config.judgments.aspects)
    has_pairs = len(judgments.pairs) > 0
    has_scores = judgments.scores["score"].notna().any()
    aspects = _choose_aspects(config, judgments, has_scores)
    if has_pairs:
        systems = judgments.systems
    else:
        systems = judgments.ranked_systems(
            exclude_reference=config.judgments.exclude_reference,
            exclude_human=config.judgments.exclude_human,
        )
    items = judgments.item_ids
    excluded = dict(judgments.excluded)
    left_out = sorted(set(judgments.systems) - set(systems))
    if left_out:
        excluded[f"systems left out of the ranking ({', '.join(left_out)})"] = len(left_out)
    variants = list(config.correlations) or default_variants(has_pairs, bool(has_scores))
    _check_variants(variants, has_pairs, bool(has_scores), config)
    timings["load"] = time.perf_counter() - start

    # 2. Metric scores for every (system, item) cell.
    start = time.perf_counter()
    scores: dict[str, MetricScores] = {}
    signatures: dict[str, str] = {}
    for metric_config in config.metrics:
        metric = create_metric(metric_config.name, **metric_config.params)
        logger.info("scoring %s (%s)", metric_config.display, metric.signature)
        scores[metric_config.display] = score_judgments(
            metric, judgments, systems, items, store=store, progress=progress
        )
        signatures[metric_config.display] = metric.signature
    timings["score"] = time.perf_counter() - start

    # 3. Correlations with bootstrap confidence intervals.
    start = time.perf_counter()
    rows: list[CorrelationRow] = []
    for label, metric_scores in scores.items():
        for variant in variants:
            if variant.coefficient in PAIR_COEFFICIENTS:
                estimate = _pairs_estimate(config, variant, judgments, systems, items,
                                           metric_scores)
                rows.append(CorrelationRow(PAIRS_ASPECT, label, variant, estimate))
                continue
            for aspect in aspects:
                gold = judgments.gold_matrix(aspect, systems, items)
                estimate = _score_estimate(config, variant, metric_scores, gold)
                rows.append(CorrelationRow(aspect, label, variant, estimate))
    timings["metaeval"] = time.perf_counter() - start

    result = RunResult(
        config=config,
        judgments=judgments,
        systems=systems,
        items=items,
        aspects=aspects,
        variants=variants,
        scores=scores,
        metric_signatures=signatures,
        rows=rows,
        excluded=excluded,
        timings=timings,
    )

    # 4. Optional sections: rankings from battles, significance between metrics.
    if config.rankings.enabled:
        start = time.perf_counter()
        result.extra_sections += ranking_sections(result)
        timings["rankings"] = time.perf_counter() - start
    if config.significance.enabled:
        from accord.reports.significance import significance_sections

        start = time.perf_counter()
        result.extra_sections += significance_sections(
            result,
            variants=config.significance.variants or None,
            n_resamples=config.significance.n_resamples,
            seed=config.bootstrap.seed,
        )
        timings["significance"] = time.perf_counter() - start
    return result


def ranking_sections(result: RunResult) -> list[Any]:
    """Rank systems from battles derived from human and from each metric's segment scores.

    Every two systems scored on the same item make one battle (a tie when their scores are
    within ``rankings.tie_tolerance``); ratings come with bootstrap intervals over battles, and
    each metric's ranking is compared with the ranking by mean human score.
    """
    from accord.rankings.battles import battles_from_scores
    from accord.rankings.report import comparison_section, rankings_section
    from accord.rankings.uncertainty import rate

    cfg = result.config.rankings
    if result.aspects:
        aspect = result.aspects[0]
        gold = result.judgments.gold_matrix(aspect, result.systems, result.items)
        human_label = f"human {aspect}"
        with np.errstate(invalid="ignore"):
            reference = pd.Series(np.nanmean(gold, axis=1), index=result.systems)
        sources: dict[str, np.ndarray] = {human_label: gold}
    else:
        return []
    for label, ms in result.scores.items():
        sources[label] = oriented(ms).segment
    options: dict[str, Any] = {}
    if cfg.method in ("bt", "elo"):
        options = {"n_resamples": cfg.n_resamples, "seed": result.config.bootstrap.seed}
    ratings = {}
    sections = []
    for label, matrix in sources.items():
        battles = battles_from_scores(matrix, result.systems, result.items,
                                      tie_tolerance=cfg.tie_tolerance)
        ratings[label] = rate(battles, cfg.method, **options)
        sections.append(rankings_section(
            ratings[label], f"Ranking from {label} battles", reference=reference,
            reference_label=f"mean {aspect}",
            description=f"Battles: every two systems on every item where both have a {label} "
                        f"score ({len(battles)} battles).",
        ))
    summary = comparison_section(ratings, reference, f"mean {aspect}",
                                 title="Rankings against the mean human score")
    return [summary, *sections]


def _choose_aspects(config: SuiteConfig, judgments: Judgments, has_scores: bool) -> list[str]:
    if not has_scores:
        return []
    available = judgments.aspects
    if config.judgments.aspects is None:
        return available
    unknown = [a for a in config.judgments.aspects if a not in available]
    if unknown:
        raise ConfigError(
            f"suite {config.name}: judgments.aspects names {', '.join(unknown)}, but the data "
            f"has {', '.join(available) or 'no scored aspects'}"
        )
    return list(config.judgments.aspects)


def _check_variants(variants: list[VariantConfig], has_pairs: bool, has_scores: bool,
                    config: SuiteConfig) -> None:
    for variant in variants:
        if variant.coefficient in PAIR_COEFFICIENTS and not has_pairs:
            raise ConfigError(
                f"suite {config.name}: {variant.coefficient} needs relative judgments (pairs), "
                "and the data has none"
            )
        if variant.coefficient not in PAIR_COEFFICIENTS and not has_scores:
            raise ConfigError(
                f"suite {config.name}: {variant.key} needs direct or MQM scores, and the data "
                "has only relative judgments; use coefficient = 'wmt_kendall' or 'accuracy'"
            )


def oriented(metric_scores: MetricScores) -> MetricScores:
    """The scores with "higher is better" (error rates such as TER are negated)."""
    if metric_scores.higher_is_better:
        return metric_scores
    return metric_scores.negated()


def _score_estimate(config: SuiteConfig, variant: VariantConfig, metric_scores: MetricScores,
                    gold: np.ndarray) -> Estimate:
    from accord.metaeval.correlation import correlate

    boot = config.bootstrap
    ms = oriented(metric_scores)
    if variant.level == "system":
        metric_input: Any = ms.system_scorer(mask=np.isfinite(gold))
    else:
        metric_input = ms.segment
    return correlate(
        metric_input,
        gold,
        coefficient=variant.coefficient,
        level=variant.level,
        grouping=variant.grouping,
        ci=boot.resample if boot.n_resamples > 0 else None,
        n_resamples=boot.n_resamples,
        seed=boot.seed,
        alpha=boot.alpha,
    )


def decided_pair_cells(judgments: Judgments, systems: list[str], items: list[str],
                       ) -> tuple[np.ndarray, np.ndarray, int]:
    """Cells of the preferred and the other output of every relative judgment with a winner.

    Returns flat indices into a ``(n_systems, n_items)`` matrix (row-major) of the preferred
    and the dispreferred output of each pair, and the number of pairs the human tied, which
    are left out.
    """
    system_index = {s: i for i, s in enumerate(systems)}
    item_index = {it: j for j, it in enumerate(items)}
    pairs = judgments.pairs
    col = pairs["item"].map(item_index).to_numpy()
    row_a = pairs["system_a"].map(system_index).to_numpy()
    row_b = pairs["system_b"].map(system_index).to_numpy()
    winner = pairs["winner"].to_numpy()
    decided = winner != "tie"
    first_won = winner[decided] == "a"
    cell_a = row_a[decided] * len(items) + col[decided]
    cell_b = row_b[decided] * len(items) + col[decided]
    better = np.where(first_won, cell_a, cell_b)
    worse = np.where(first_won, cell_b, cell_a)
    return better, worse, int((~decided).sum())


def _pairs_estimate(config: SuiteConfig, variant: VariantConfig, judgments: Judgments,
                    systems: list[str], items: list[str], metric_scores: MetricScores,
                    ) -> Estimate:
    from accord.metaeval.correlation import correlate_pairs
    from accord.metaeval.preference import preference_accuracy

    boot = config.bootstrap
    scores = oriented(metric_scores).segment.ravel()
    better, worse, human_ties = decided_pair_cells(judgments, systems, items)
    if variant.coefficient == "accuracy":
        estimate = preference_accuracy(
            scores[better], scores[worse],
            n_resamples=boot.n_resamples, seed=boot.seed, alpha=boot.alpha, name="accuracy",
        )
        estimate.extra["human_ties_left_out"] = human_ties
        return estimate
    pair_items = np.asarray(items)[better % len(items)]
    estimate = correlate_pairs(
        scores[better],
        scores[worse],
        np.full(better.size, "a"),
        items=pair_items,
        ci="items" if boot.n_resamples > 0 else None,
        n_resamples=boot.n_resamples,
        seed=boot.seed,
        alpha=boot.alpha,
    )
    estimate.extra["human_ties_left_out"] = human_ties
    return estimate


# -- outputs --------------------------------------------------------------------------------


def write_outputs(result: RunResult, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write the report, correlations and scores of a run; returns the written paths by role.

    ``correlations.csv`` has the columns ``metric,level,grouping,coefficient,value,ci_low,
    ci_high,n`` for the first human aspect of the run (for relative judgments: the pairwise
    results); with several aspects each gets ``correlations-<aspect>.csv`` in the same
    columns, and ``correlations-all.csv`` holds every row with its aspect and signature.
    """
    from accord.reports.document import write_report
    from accord.reports.metaeval import build_sections

    out = Path(out_dir if out_dir is not None else result.config.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}

    table = result.correlations()
    all_aspects = list(dict.fromkeys(table["aspect"]))
    primary = all_aspects[0]
    paths["correlations"] = out / "correlations.csv"
    table[table["aspect"] == primary][CORRELATION_COLUMNS].to_csv(
        paths["correlations"], index=False
    )
    if len(all_aspects) > 1:
        for aspect in all_aspects:
            path = out / f"correlations-{aspect}.csv"
            table[table["aspect"] == aspect][CORRELATION_COLUMNS].to_csv(path, index=False)
            paths[f"correlations-{aspect}"] = path
    paths["correlations-all"] = out / "correlations-all.csv"
    table.to_csv(paths["correlations-all"], index=False)

    paths["segment_scores"] = out / "segment_scores.csv"
    segment_table(result).to_csv(paths["segment_scores"], index=False)
    paths["system_scores"] = out / "system_scores.csv"
    system_table(result).to_csv(paths["system_scores"], index=False)

    paths["run"] = out / "run.json"
    paths["run"].write_text(json.dumps(run_record(result), indent=2), encoding="utf-8")

    title = result.config.title or result.config.name
    sections = build_sections(result) + list(result.extra_sections)
    paths["report_md"], paths["report_html"] = write_report(out, title, sections)
    return paths


def segment_table(result: RunResult) -> pd.DataFrame:
    """One row per (item, system) with an output: each metric's score and each human aspect."""
    j = result.judgments
    docs = dict(zip(j.items["item"], j.items["doc"], strict=True))
    grid = pd.MultiIndex.from_product([result.systems, result.items], names=["system", "item"])
    frame = pd.DataFrame(index=grid).reset_index()
    frame.insert(1, "doc", frame["item"].map(docs))
    for label, ms in result.scores.items():
        frame[label] = ms.segment.reshape(-1)
    for aspect in result.aspects:
        frame[f"human:{aspect}"] = j.gold_matrix(aspect, result.systems, result.items).reshape(-1)
    has_output = pd.Series(
        j.output_matrix(result.systems, result.items).reshape(-1)
    ).notna().to_numpy()
    return frame[has_output].reset_index(drop=True)


def system_table(result: RunResult) -> pd.DataFrame:
    """One row per system: each metric's system-level score and each human aspect's mean."""
    frame = pd.DataFrame({"system": result.systems})
    mask = human_mask(result)
    for label, ms in result.scores.items():
        frame[label] = ms.system_scorer(mask)(np.ones((1, len(result.items))))[0]
    for aspect in result.aspects:
        gold = result.judgments.gold_matrix(aspect, result.systems, result.items)
        with np.errstate(invalid="ignore"):
            frame[f"human:{aspect}"] = np.nanmean(gold, axis=1)
    return frame


def human_mask(result: RunResult) -> np.ndarray | None:
    """Cells with a human score in the run's first aspect (None for relative judgments)."""
    if not result.aspects:
        return None
    gold = result.judgments.gold_matrix(result.aspects[0], result.systems, result.items)
    return np.isfinite(gold)


def run_record(result: RunResult) -> dict[str, Any]:
    """Provenance of a run: suite, data source, counts, exclusions, signatures, seed, timings."""
    from accord import __version__

    return {
        "accord": __version__,
        "suite": result.config.model_dump(),
        "source": (result.config.data.dataset if result.config.data.dataset is not None
                   else result.judgments.source),
        "summary": result.judgments.summary(),
        "read_rows": result.judgments.read_rows,
        "systems": result.systems,
        "n_items": len(result.items),
        "aspects": result.aspects,
        "excluded": result.excluded,
        "metric_signatures": result.metric_signatures,
        "seed": result.config.bootstrap.seed,
        "timings_s": result.timings,
    }
