"""``accord run``: score outputs, meta-evaluate against humans and write a report.

Either a suite file (``accord run benchmarks/mqm-ted-ende.toml``) or a file brought by the
user (``accord run --data FILE --format mqm-tsv --metrics chrf,bleu --out DIR``).
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from typing import Any

from accord.config import SuiteConfig, load_suite, parse_suite
from accord.errors import ConfigError

NAME = "run"
HELP = "score system outputs, meta-evaluate metrics against human judgments, write a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", nargs="?", help="suite TOML file (see benchmarks/); a judge "
                        "suite (with [backend] and [[judges]]) runs as `accord judge` does")
    parser.add_argument("--data", help="a judgments file instead of a suite")
    parser.add_argument("--format", help="format of --data: mqm-tsv, summeval-pkl, darr-pkl, "
                        "hh-rlhf-jsonl, scores-csv, pairs-csv")
    parser.add_argument("--dataset", help="a registered dataset instead of a suite")
    parser.add_argument("--metrics", help="comma-separated metric names (with --data/--dataset)")
    parser.add_argument("--out", help="output folder (overrides the suite's)")
    parser.add_argument("--resamples", type=int, help="bootstrap resamples (overrides the suite)")
    parser.add_argument("--seed", type=int, help="bootstrap seed (overrides the suite)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the score store")
    parser.add_argument("--store", help="score store path (default: $ACCORD_STORE or user cache)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _config_from_args(args: argparse.Namespace) -> SuiteConfig:
    if args.suite:
        if args.data or args.dataset or args.metrics:
            raise ConfigError("give either a suite file or --data/--dataset with --metrics")
        return load_suite(args.suite)
    if not (args.data or args.dataset):
        raise ConfigError("give a suite file, or --data FILE --format FORMAT --metrics M1,M2")
    if not args.metrics:
        raise ConfigError("--metrics is required with --data/--dataset, e.g. --metrics chrf,bleu")
    data: dict[str, Any] = (
        {"dataset": args.dataset} if args.dataset else {"path": args.data, "format": args.format}
    )
    if args.data and not args.format:
        raise ConfigError("--data needs --format (mqm-tsv, summeval-pkl, darr-pkl, scores-csv...)")
    name = args.dataset or args.data
    metrics = [{"name": m.strip()} for m in args.metrics.split(",") if m.strip()]
    return parse_suite(
        {"name": str(name), "data": data, "metrics": metrics,
         "output": {"dir": args.out or "out"}},
        source="command line",
    )


def _is_judge_suite(path: str) -> bool:
    """A judge suite (``[[judges]]`` with a ``[backend]``) runs through accord.judges."""
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return False  # load_suite reports the problem with the file
    return "judges" in data and "backend" in data


def _run_judge_suite(args: argparse.Namespace) -> int:
    from accord.judges.report import load_judge_suite, run_judge_suite
    from accord.store import ScoreStore

    config = load_judge_suite(args.suite)
    store = None if args.no_cache else ScoreStore(args.store)
    progress = not args.no_progress and sys.stderr.isatty()
    paths = run_judge_suite(config, store=store, out_dir=args.out, progress=progress)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    from accord.store import ScoreStore
    from accord.suite import run_suite, write_outputs

    if args.suite and _is_judge_suite(args.suite):
        return _run_judge_suite(args)
    config = _config_from_args(args)
    if args.out:
        config.output.dir = args.out
    if args.resamples is not None:
        config.bootstrap.n_resamples = args.resamples
    if args.seed is not None:
        config.bootstrap.seed = args.seed
    store = None if args.no_cache else ScoreStore(args.store)
    progress = not args.no_progress and sys.stderr.isatty()

    result = run_suite(config, store=store, progress=progress)
    paths = write_outputs(result)

    print(f"{config.title or config.name}: {len(result.systems)} systems, "
          f"{len(result.items)} items, {len(result.scores)} metrics")
    for row in result.rows:
        e, v = row.estimate, row.variant
        ci = "" if math.isnan(e.ci_low) else f" [{e.ci_low:.3f}, {e.ci_high:.3f}]"
        print(f"  {row.aspect:<12} {row.metric:<12} {v.level:<8} {v.grouping:<7} "
              f"{v.coefficient:<12} {e.value:.3f}{ci}  n={e.n}")
    for reason, count in result.excluded.items():
        print(f"  excluded: {count} {reason}")
    print(f"report: {paths['report_md']}  {paths['report_html']}")
    print(f"correlations: {paths['correlations']}")
    return 0
