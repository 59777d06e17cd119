"""``accord train-metric CONFIG.toml``: train a COMET-style metric on human judgments.

Trains on the configuration's train documents with early stopping on the dev documents, then
scores the held-out test documents with the trained checkpoint and the configured baselines
and writes the comparison report (``output.report_dir``, or ``--report``).
"""

from __future__ import annotations

import argparse

NAME = "train-metric"
HELP = "train a COMET-style metric on human judgments and compare it with baselines"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="train-metric TOML file (see benchmarks/)")
    parser.add_argument("--out", help="model folder (overrides output.dir)")
    parser.add_argument("--report", help="report folder (overrides output.report_dir)")
    parser.add_argument("--no-report", action="store_true",
                        help="train only; skip the held-out comparison")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="skip training: compare the model already in the model folder")
    parser.add_argument("--threads", type=int, help="CPU threads for torch (overrides "
                        "train.threads)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the score store when comparing")
    parser.add_argument("--store", help="score store path (default: $ACCORD_STORE or user cache)")


def run(args: argparse.Namespace) -> int:
    from accord.metrics.regressor import (
        compare_on_test,
        load_config,
        load_train_result,
        train_metric,
        write_comparison_report,
    )
    from accord.store import ScoreStore
    from accord.suite import load_judgments

    config = load_config(args.config)
    if args.threads is not None:
        config.train.threads = args.threads
    judgments = load_judgments(config.data)
    if args.evaluate_only:
        result = load_train_result(args.out or config.output.dir or f"runs/{config.name}",
                                   judgments)
    else:
        result = train_metric(config, judgments, out_dir=args.out)
    print(f"model: {result.model_dir} (use it as: comet with model={result.model_dir})")
    for part in ("train", "dev", "test"):
        docs = getattr(result.split, part)
        print(f"  {part:5s} {len(result.split.items(judgments, part)):5d} items  "
              f"{', '.join(docs)}")
    print(f"  best dev {config.train.monitor}: {result.best_dev:.4f} "
          f"({result.seconds:.0f} s of training)")
    if args.no_report:
        return 0

    store = None if args.no_cache else ScoreStore(args.store)
    comparison = compare_on_test(config, result, judgments, store=store)
    print(f"held-out {config.evaluate.coefficient} (segment level, no grouping):")
    for _, row in comparison.table.iterrows():
        print(f"  {row['metric']:32s} {row['value']:.4f} "
              f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]  n={row['n']}")
    report_dir = args.report or config.output.report_dir or result.model_dir / "report"
    md_path, html_path = write_comparison_report(config, result, comparison, judgments,
                                                 report_dir)
    print(f"report: {md_path} and {html_path}")
    return 0
