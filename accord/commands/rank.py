"""``accord rank``: rank systems from pairwise battles, with intervals, and write a report.

Battles come from human scores, human pairwise preferences, metric scores or a judge's
verdicts; each source gives one ranking (Bradley-Terry, Elo or openskill, with bootstrap or
posterior intervals), compared with the ranking by mean human score where there are human
scores. Example::

    accord rank --data mqm_ted_ende.tsv --format mqm-tsv --by human,chrf --method bt --out DIR
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from accord.errors import ConfigError, DataError

NAME = "rank"
HELP = "rank systems from pairwise battles (human, metric or judge) with confidence intervals"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="a judgments file")
    parser.add_argument("--format", help="format of --data: mqm-tsv, summeval-pkl, darr-pkl, "
                        "hh-rlhf-jsonl, scores-csv, pairs-csv")
    parser.add_argument("--dataset", help="a registered dataset instead of --data")
    parser.add_argument("--by", default="human",
                        help="comma-separated sources of battles: 'human' (human scores), "
                        "'pairs' (human preferences) or metric names (default: human)")
    parser.add_argument("--battles", action="append", default=[], metavar="FILE",
                        help="a judge's verdicts: CSV/TSV with item, system_a, system_b, "
                        "winner (a, b or tie); repeatable; the file stem names the source")
    parser.add_argument("--aspect", help="human aspect for 'human' (default: mqm, else first)")
    parser.add_argument("--method", default="bt", choices=["bt", "elo", "openskill"])
    parser.add_argument("--ties", default="davidson", choices=["davidson", "half", "drop"],
                        help="Bradley-Terry tie model (default: davidson)")
    parser.add_argument("--l2", type=float, default=0.0,
                        help="Bradley-Terry L2 penalty, for systems that never lose")
    parser.add_argument("--k", type=float, default=32.0, help="Elo update size")
    parser.add_argument("--shuffles", type=int, default=0,
                        help="Elo: average over this many seeded battle orders")
    parser.add_argument("--openskill-model", default="thurstone-mosteller",
                        choices=["thurstone-mosteller", "plackett-luce", "bradley-terry"])
    parser.add_argument("--tie-tolerance", type=float, default=0.0,
                        help="score differences at most this are ties (default: 0)")
    parser.add_argument("--anchor", help="pin this system at --center instead of the mean")
    parser.add_argument("--center", type=float, default=1000.0)
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--include-human", action="store_true",
                        help="also rank the reference and other human outputs")
    parser.add_argument("--title", help="report title")
    parser.add_argument("--out", default="rankings", help="output folder (default: rankings)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the score store")
    parser.add_argument("--store", help="score store path (default: $ACCORD_STORE or user cache)")


def _load(args: argparse.Namespace) -> Any:
    if args.dataset:
        if args.data:
            raise ConfigError("give either --data or --dataset, not both")
        from accord.data.registry import load_dataset

        return load_dataset(args.dataset)
    if not args.data:
        raise ConfigError("give --data FILE --format FORMAT, or --dataset NAME")
    if not args.format:
        raise ConfigError("--data needs --format (mqm-tsv, summeval-pkl, scores-csv, ...)")
    from accord.data.loaders import load

    return load(args.format, args.data)


def _read_battles(path: str) -> pd.DataFrame:
    from accord.rankings.battles import validate_battles

    file = Path(path)
    if not file.is_file():
        raise DataError(path, "no such file")
    sep = "\t" if file.suffix.lower() in (".tsv", ".tab") else ","
    try:
        table = pd.read_csv(file, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a readable {'TSV' if sep == chr(9) else 'CSV'} file: {exc}"
                        ) from exc
    return validate_battles(table, name=path)


def _rate_options(args: argparse.Namespace) -> dict[str, Any]:
    from accord.rankings.scale import Scale

    scale = Scale(center=args.center, anchor=args.anchor)
    if args.method == "bt":
        return {"ties": args.ties, "l2": args.l2, "scale": scale,
                "n_resamples": args.resamples, "confidence": args.confidence, "seed": args.seed}
    if args.method == "elo":
        return {"k": args.k, "n_shuffles": args.shuffles, "scale": scale,
                "n_resamples": args.resamples, "confidence": args.confidence, "seed": args.seed}
    return {"model": args.openskill_model, "scale": scale, "confidence": args.confidence}


def run(args: argparse.Namespace) -> int:
    from accord.rankings.report import comparison_section, rankings_section
    from accord.rankings.sources import HUMAN, human_aspect, mean_human_scores, source_battles
    from accord.rankings.uncertainty import rate
    from accord.reports.document import Section, write_report
    from accord.store import ScoreStore

    judgments = _load(args)
    sources = [s.strip() for s in args.by.split(",") if s.strip()]
    if not sources and not args.battles:
        raise ConfigError("--by names no source and no --battles file was given")
    systems = (judgments.systems if args.include_human
               else judgments.ranked_systems())
    store = None if args.no_cache else ScoreStore(args.store)
    progress = sys.stderr.isatty()
    options = _rate_options(args)

    # 1. battles per source
    battles: dict[str, pd.DataFrame] = {}
    for source in sources:
        battles[source] = source_battles(judgments, source, systems, aspect=args.aspect,
                                         store=store, tie_tolerance=args.tie_tolerance,
                                         progress=progress)
    for path in args.battles:
        battles[Path(path).stem] = _read_battles(path)

    # 2. ratings, and the reference ranking: mean human score where there are human scores
    ratings = {name: rate(table, args.method, systems=None, **options)
               for name, table in battles.items()}
    reference = None
    reference_label = ""
    if judgments.aspects:
        aspect = human_aspect(judgments, args.aspect)
        reference = mean_human_scores(judgments, systems, aspect)
        reference_label = f"mean human {aspect}"

    # 3. report
    title = args.title or f"Rankings of {judgments.name} from pairwise battles"
    where = f"--dataset {args.dataset}" if args.dataset else (
        f"--data {Path(args.data).name} --format {args.format}")
    command = (f"accord rank {where} --by {args.by} --method {args.method} "
               f"--resamples {args.resamples} --seed {args.seed}")
    intro = Section("Data and method").text(
        f"- data: {judgments.name}, {len(systems)} systems ranked, "
        f"{len(judgments.item_ids)} items\n"
        f"- sources of battles: {', '.join(battles)}\n"
        f"- method: {args.method}; every pair of systems scored on the same item is one battle "
        f"(scores within {args.tie_tolerance} are a tie)\n"
        f"- reference ranking: {reference_label or 'none (no human scores)'}\n"
        f"- made with: `{command}`"
    )
    sections = [intro]
    for name, result in ratings.items():
        if name == HUMAN:
            what = f"human {human_aspect(judgments, args.aspect)} scores"
        elif name in sources:
            what = f"{name} segment scores"
        else:
            what = f"the verdicts in {name}"
        description = f"Battles from {what}."
        sections.append(rankings_section(result, f"Ranking by {name}", reference=reference,
                                         reference_label=reference_label,
                                         description=description))
    if reference is not None and ratings:
        sections.append(comparison_section(ratings, reference, reference_label))
    out = Path(args.out)
    md_path, html_path = write_report(out, title, sections)
    frames = []
    for name, result in ratings.items():
        frame = result.table()
        frame.insert(0, "source", name)
        frame["signature"] = result.signature
        frames.append(frame)
    pd.concat(frames).to_csv(out / "ratings.csv", index=False)

    # 4. summary on stdout
    from accord.rankings.agreement import ranking_agreement

    print(f"{judgments.name}: {len(systems)} systems, method {args.method}")
    for name, result in ratings.items():
        line = f"  {name:<12} {result.counts.n_battles} battles"
        if reference is not None:
            agreement = ranking_agreement(result, reference)
            line += (f"; vs {reference_label}: Kendall tau {agreement['kendall'].value:.3f}, "
                     f"Spearman {agreement['spearman'].value:.3f}")
        print(line)
        best = result.ratings()[0]
        print(f"  {'':<12} top: {best.system} {best.value:.1f} "
              f"[{best.ci_low:.1f}, {best.ci_high:.1f}]")
    print(f"report: {md_path}  {html_path}")
    print(f"ratings: {out / 'ratings.csv'}")
    if store is not None:
        store.close()
    return 0
