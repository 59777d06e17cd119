"""``accord report``: one leaderboard from several suite output folders.

``accord report out/mqm-ted-ende out/summeval --out out/leaderboard`` reads each folder's
``correlations-all.csv``, ``run.json`` and (if present) ``significance.csv`` and writes
``leaderboard.csv`` with ranks and significance clusters per suite and variant, plus
``report.md`` and ``report.html``.
"""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "combine several suite results into one leaderboard with ranks and clusters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", help="suite output folders written by accord run")
    parser.add_argument("--out", required=True, help="folder for leaderboard.csv and report")
    parser.add_argument("--alpha", type=float, default=0.05,
                        help="significance level of the clusters (default 0.05)")
    parser.add_argument("--title", default="Leaderboard", help="report title")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from accord.errors import ConfigError
    from accord.reports.document import write_report
    from accord.reports.significance import leaderboard, leaderboard_sections

    if not 0.0 < args.alpha < 1.0:
        raise ConfigError(f"--alpha must lie strictly between 0 and 1; got {args.alpha}")
    table = leaderboard(args.folders, alpha=args.alpha)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "leaderboard.csv"
    table.to_csv(csv_path, index=False)
    md, html = write_report(out, args.title, leaderboard_sections(table, args.alpha))
    suites = table["suite"].nunique()
    variants = table.groupby(["suite", "aspect", "level", "grouping", "coefficient"]).ngroups
    print(f"{suites} suite(s), {variants} variant(s), {table['metric'].nunique()} metric(s)")
    best = table[table["rank"] == 1]
    for row in best.itertuples(index=False):
        print(f"  best in {row.suite} {row.aspect} {row.level}/{row.grouping}/"
              f"{row.coefficient}: {row.metric} ({row.value:.3f})")
    print(f"leaderboard: {csv_path}")
    print(f"report: {md}  {html}")
    return 0
