"""``accord judge SUITE.toml``: run LLM judges against human scores and audit a pairwise judge."""

from __future__ import annotations

import argparse

NAME = "judge"
HELP = "run a judge suite: judge metrics vs human MQM, parse failures, pairwise bias audit"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="judge suite TOML file (e.g. benchmarks/judge-ted-ende.toml)")
    parser.add_argument("--out", help="output folder (default: the suite's output.dir)")
    parser.add_argument("--store", default="default",
                        help="answer cache: a SQLite file, 'default' ($ACCORD_STORE or the user "
                        "cache) or 'none'")
    parser.add_argument("--base-url", help="judge server API root (overrides the suite and "
                        "$ACCORD_JUDGE_BASE_URL)")
    parser.add_argument("--progress", action="store_true", help="show progress bars")


def run(args: argparse.Namespace) -> int:
    from accord.judges.report import load_judge_suite, run_judge_suite
    from accord.store import ScoreStore

    config = load_judge_suite(args.suite)
    if args.base_url:
        config.backend.base_url = args.base_url
    store = None
    if args.store != "none":
        store = ScoreStore(None if args.store == "default" else args.store)
    paths = run_judge_suite(config, store=store, out_dir=args.out, progress=args.progress)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0
