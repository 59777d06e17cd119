"""The judge suite: judge metrics against human MQM, parse failures, and a pairwise bias audit.

A judge suite is a TOML file (``benchmarks/judge-ted-ende.toml``)::

    name = "judge-ted-ende"
    title = "..."

    [data]                          # segment-level human scores to correlate with
    dataset = "mqm-ted-ende"        # a registered dataset
    limit_items = 8                 # the first N items
    limit_systems = 4               # the first N ranked systems (sorted by name)

    [backend]                       # shared by every judge below
    kind = "openai"                 # or "transformers"
    base_url = "http://127.0.0.1:8089/v1"   # optional; else $ACCORD_JUDGE_BASE_URL
    model = "smollm2-135m-instruct"
    api_key_env = "ACCORD_JUDGE_API_KEY"    # the NAME of the variable, never the key
    concurrency = 2
    timeout = 300

    [[judges]]
    name = "judge-da"               # a registered judge metric
    label = "DA"
    params = { logprobs = true }

    [audit]                         # pairwise bias audit on human preference pairs
    dataset = "hh-rlhf-harmless-base-test"
    limit_pairs = 24
    max_chars = 1500                # only pairs whose context and replies fit this many chars
    judge_system = ""               # the judge's own system name, if it is one of the systems

    [bootstrap]
    n_resamples = 200
    seed = 1

    [output]
    dir = "reports/judge-ted-ende"

:func:`judge_report_sections` runs it and returns the report sections; :func:`run_judge_suite`
also writes ``report.md``, ``report.html`` and ``segment_scores.csv``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from accord.config import MetricConfig, read_toml, validate_config
from accord.errors import ConfigError
from accord.judges.audit import bias_audit_section
from accord.judges.metrics import (
    DirectAssessmentJudge,
    DirectAssessmentQEJudge,
    JudgeMetric,
    JudgeRun,
    MQMJudge,
)
from accord.judges.pairwise import PairwiseJudge
from accord.judges.runner import RecordStore
from accord.metaeval.correlation import correlate
from accord.metaeval.result import Estimate
from accord.reports.document import Section, write_report

logger = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JudgeDataConfig(_Strict):
    dataset: str = "mqm-ted-ende"
    aspect: str = "mqm"
    limit_items: int = Field(default=8, ge=1)
    limit_systems: int | None = Field(default=None, ge=1)


class BackendConfig(_Strict):
    kind: str = "openai"
    base_url: str | None = None
    model: str | None = None
    api_key_env: str | None = None
    concurrency: int = Field(default=2, ge=1)
    timeout: float = Field(default=300.0, gt=0)


class AuditConfig(_Strict):
    dataset: str = "hh-rlhf-harmless-base-test"
    limit_pairs: int = Field(default=24, ge=1)
    max_chars: int | None = Field(default=1500, ge=1)
    prompt: str = "pairwise-dialogue-v1"
    judge_system: str | None = None


class JudgeBootstrapConfig(_Strict):
    n_resamples: int = Field(default=200, ge=0)
    seed: int = 1


class JudgeOutputConfig(_Strict):
    dir: str = "out/judge"


class JudgeSuiteConfig(_Strict):
    """A judge suite (see the module docstring for the TOML layout)."""

    name: str
    title: str | None = None
    data: JudgeDataConfig = Field(default_factory=JudgeDataConfig)
    backend: BackendConfig = Field(default_factory=BackendConfig)
    # A judge is configured like any metric: registered name, display label, parameters.
    judges: list[MetricConfig] = Field(default_factory=list)
    audit: AuditConfig | None = None
    bootstrap: JudgeBootstrapConfig = Field(default_factory=JudgeBootstrapConfig)
    output: JudgeOutputConfig = Field(default_factory=JudgeOutputConfig)


def load_judge_suite(path: str | Path) -> JudgeSuiteConfig:
    """Read and validate a judge suite TOML file; errors name the file and the key."""
    return validate_config(JudgeSuiteConfig, read_toml(path, "judge suite"), str(path),
                           "judge suite")


# -- correlations --------------------------------------------------------------------------------


# Report label -> (coefficient, level, grouping) of accord.metaeval.correlation.correlate.
STATISTICS: dict[str, tuple[str, str, str]] = {
    "segment pearson": ("pearson", "segment", "none"),
    "segment kendall-b": ("kendall_b", "segment", "none"),
    "segment kendall (grouped by item)": ("kendall_b", "segment", "item"),
    "system pearson": ("pearson", "system", "none"),
}


def correlation(kind: str, metric: np.ndarray, gold: np.ndarray, n_resamples: int,
                seed: int) -> Estimate:
    """One of :data:`STATISTICS` with a 95% percentile bootstrap CI over items (seeded).

    NaN cells (unparsed or failed judge answers) are left out, never counted as 0; ``n`` in
    ``extra["cells"]`` is the number of (system, item) cells where both scores exist.
    """
    coefficient, level, grouping = STATISTICS[kind]
    estimate = correlate(metric, gold, coefficient, level, grouping,
                         ci="items" if n_resamples > 0 else None,
                         n_resamples=n_resamples, seed=seed)
    estimate.extra["cells"] = int((~(np.isnan(metric) | np.isnan(gold))).sum())
    return estimate


JUDGE_CLASSES: dict[str, type[JudgeMetric]] = {
    "judge-da": DirectAssessmentJudge,
    "judge-da-qe": DirectAssessmentQEJudge,
    "judge-mqm": MQMJudge,
}

# -- the suite -----------------------------------------------------------------------------------


def _run_stats_row(label: str, run: JudgeRun, n_segments: int) -> dict[str, Any]:
    s = run.stats
    return {"judge": label, "segments": n_segments, "distinct prompts": s.prompts,
            "cached": s.cached, "asked": s.asked, "answered": s.answered,
            "unparsed": s.unparsed, "failed": s.failed,
            "segments scored NaN": run.unparsed_segments + run.failed_segments,
            "retries": s.retries, "not weighted": run.unweighted,
            "seconds": round(s.seconds, 1)}


def judge_report_sections(config: JudgeSuiteConfig, store: RecordStore | None = None,
                          progress: bool = False) -> tuple[list[Section], pd.DataFrame]:
    """Run every judge of the suite and the audit; return the report sections and a table
    of segment scores (one row per system and item: each judge and the human score).

    Args:
        config: the validated judge suite.
        store: where judge answers are cached (None: no cache); a killed run resumes from it.
        progress: show progress bars.
    """
    from accord.data.registry import load_dataset

    # 1. The slice of human judgments.
    judgments = load_dataset(config.data.dataset)
    items = judgments.item_ids[: config.data.limit_items]
    systems = judgments.ranked_systems()[: config.data.limit_systems]
    gold = judgments.gold_matrix(config.data.aspect, systems, items)
    hyps = judgments.output_matrix(systems, items)
    cells = [(s, i) for s in range(len(systems)) for i in range(len(items))
             if hyps[s, i] is not None]
    srcs = judgments.srcs_for(items)
    refs = judgments.refs_for(items)

    # 2. Every judge on every cell.
    backend = config.backend
    common = {"backend": backend.kind, "base_url": backend.base_url, "model": backend.model,
              "api_key_env": backend.api_key_env, "concurrency": backend.concurrency,
              "timeout": backend.timeout, "store": store, "progress": progress}
    scores: dict[str, np.ndarray] = {}
    runs: dict[str, JudgeRun] = {}
    signatures: dict[str, str] = {}
    examples: dict[str, list[str]] = {}
    for judge in config.judges:
        cls = JUDGE_CLASSES.get(judge.name)
        if cls is None:
            raise ConfigError(f"judges: unknown judge {judge.name!r}; expected one of "
                              f"{', '.join(JUDGE_CLASSES)}")
        try:
            metric = cls(**{**common, **judge.params})
        except TypeError as exc:
            raise ConfigError(f"judges: {judge.name!r}: bad params {judge.params!r}: {exc}"
                              ) from None
        cell_scores = metric.score_segments(
            [hyps[s, i] for s, i in cells],
            [refs[i] for _, i in cells] if metric.needs_reference else None,
            [srcs[i] for _, i in cells],
        )
        matrix = np.full((len(systems), len(items)), np.nan)
        for (s, i), value in zip(cells, cell_scores, strict=True):
            matrix[s, i] = value
        assert metric.last_run is not None  # set by score_segments
        scores[judge.display], runs[judge.display] = matrix, metric.last_run
        signatures[judge.display] = metric.signature
        examples[judge.display] = [a.completion.text for a in metric.last_run.answers
                                   if a.status == "unparsed" and a.completion is not None][:3]

    sections = [_setup_section(config, systems, items, len(cells), signatures)]
    sections.append(_correlation_section(config, scores, gold))
    sections.append(_answers_section(runs, len(cells), examples))

    # 3. The pairwise audit on human preference pairs.
    if config.audit is not None:
        sections.append(_audit_section(config, store, progress, common))

    table = pd.DataFrame({"system": [systems[s] for s, _ in cells],
                          "item": [items[i] for _, i in cells]})
    for label, matrix in scores.items():
        table[label] = [matrix[s, i] for s, i in cells]
    table[f"human:{config.data.aspect}"] = [gold[s, i] for s, i in cells]
    return sections, table


def _setup_section(config: JudgeSuiteConfig, systems: list[str], items: list[str],
                   n_cells: int, signatures: dict[str, str]) -> Section:
    b = config.backend
    section = Section("Set-up")
    section.text(
        f"Human scores: `{config.data.dataset}` ({config.data.aspect}), the first "
        f"{len(items)} items and {len(systems)} systems ({', '.join(systems)}): {n_cells} "
        f"segments. Judge backend: `{b.kind}`, model `{b.model or 'smollm2-135m-instruct'}`, "
        f"{b.concurrency} requests in flight at most. Unparsed answers score NaN and are left "
        f"out of the correlations; they are counted below."
    )
    section.table(pd.DataFrame({"judge": list(signatures), "signature": list(signatures.values())}),
                  caption="Judge signatures (prompt template id and sampling included)")
    return section


def _correlation_section(config: JudgeSuiteConfig, scores: dict[str, np.ndarray],
                         gold: np.ndarray) -> Section:
    rows = []
    for label, matrix in scores.items():
        for kind in STATISTICS:
            est = correlation(kind, matrix, gold, config.bootstrap.n_resamples,
                              config.bootstrap.seed)
            rows.append({"judge": label, "statistic": kind, "value": est.value,
                         "ci_low": est.ci_low, "ci_high": est.ci_high,
                         "n": est.extra["cells"]})
    section = Section(f"Correlations with human {config.data.aspect.upper()}")
    section.text(
        "Segment-level Pearson and Kendall tau-b over all scored (system, item) cells, Kendall "
        "tau-b within each item averaged over items, and system-level Pearson of the systems' "
        "mean scores. 95% percentile bootstrap intervals resample items "
        f"({config.bootstrap.n_resamples} resamples, seed {config.bootstrap.seed}); `n` counts "
        "cells with both a judge score and a human score. Empty cells are undefined (a "
        "constant judge score, or too few scored cells)."
    )
    section.table(pd.DataFrame(rows))
    return section


def _answers_section(runs: dict[str, JudgeRun], n_cells: int,
                     examples: dict[str, list[str]]) -> Section:
    section = Section("Judge answers and parse failures")
    section.text(
        "Counts are over distinct prompts (equal outputs of two systems are asked once). "
        "`unparsed`: an answer came but held no score; `failed`: no answer after retries. "
        "`not weighted`: probability weighting was asked for but the score's tokens carried no "
        "usable log-probabilities, so the parsed score was kept."
    )
    section.table(pd.DataFrame([_run_stats_row(k, r, n_cells) for k, r in runs.items()]))
    for label, texts in examples.items():
        if texts:
            shown = "\n".join(f"- `{' '.join(t.split())[:160]}`" for t in texts)
            section.text(f"Unparsed answers of {label}, for example:\n{shown}")
    return section


def _audit_section(config: JudgeSuiteConfig, store: RecordStore | None, progress: bool,
                   common: dict[str, Any]) -> Section:
    from accord.data.registry import load_dataset

    audit = config.audit
    assert audit is not None  # checked by the caller
    pairs_data = load_dataset(audit.dataset)
    outputs = {(str(i), str(s)): str(h) for i, s, h in pairs_data.outputs.itertuples(index=False)}
    srcs = dict(zip(pairs_data.items["item"], pairs_data.items["src"], strict=True))
    chosen: list[tuple[str, str, str, str, str, str]] = []
    skipped = 0
    for row in pairs_data.pairs.itertuples(index=False):
        item, sys_a, sys_b = str(row.item), str(row.system_a), str(row.system_b)
        a, b = outputs[(item, sys_a)], outputs[(item, sys_b)]
        context = str(srcs[item])
        if audit.max_chars is not None and len(context) + len(a) + len(b) > audit.max_chars:
            skipped += 1
            continue
        chosen.append((context, a, b, sys_a, sys_b, str(row.winner)))
        if len(chosen) == audit.limit_pairs:
            break
    judge = PairwiseJudge(
        backend=common["backend"], base_url=common["base_url"], model=common["model"],
        api_key_env=common["api_key_env"], prompt=audit.prompt,
        concurrency=common["concurrency"], timeout=common["timeout"], store=store,
        progress=progress,
    )
    run = judge.compare([c[0] for c in chosen], [c[1] for c in chosen], [c[2] for c in chosen])
    note = (f"Pairs: `{audit.dataset}` in file order, keeping the first {len(chosen)} whose "
            f"conversation and two replies fit in {audit.max_chars} characters ({skipped} longer "
            f"pairs before them skipped, to keep CPU judging within minutes); the first output "
            f"is the reply the humans chose.")
    return bias_audit_section(
        run, human=[c[5] for c in chosen], lengths_a=[len(c[1]) for c in chosen],
        lengths_b=[len(c[2]) for c in chosen], systems_a=[c[3] for c in chosen],
        systems_b=[c[4] for c in chosen], judge_system=audit.judge_system,
        title="Bias audit of the pairwise judge (human preference pairs)", data_note=note,
    )


def run_judge_suite(config: JudgeSuiteConfig, store: RecordStore | None = None,
                    out_dir: str | Path | None = None, progress: bool = False,
                    ) -> dict[str, Path]:
    """Run the suite and write ``report.md``, ``report.html`` and ``segment_scores.csv``."""
    sections, table = judge_report_sections(config, store=store, progress=progress)
    out = Path(out_dir or config.output.dir)
    out.mkdir(parents=True, exist_ok=True)
    scores_path = out / "segment_scores.csv"
    table.to_csv(scores_path, index=False)
    md, html = write_report(out, config.title or config.name, sections)
    return {"report_md": md, "report_html": html, "segment_scores": scores_path}
