"""``accord metrics``: list every registered metric with its signature and what it needs.

A metric whose optional dependencies are not installed is listed with the install hint
instead of failing the whole listing.
"""

from __future__ import annotations

import argparse
import json

from accord.errors import AccordError

NAME = "metrics"
HELP = "list the registered metrics: signature at default parameters, needs, corpus score"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per metric")


def _describe(name: str) -> dict[str, object]:
    """What ``accord metrics`` shows for one metric; ``error`` set when it cannot be created."""
    from accord.metrics import create_metric

    try:
        metric = create_metric(name)
        signature = metric.signature
    except (AccordError, ImportError) as exc:
        # AccordError covers the registry's "install the extra" message for a missing package
        return {"name": name, "error": str(exc)}
    needs = [w for w, n in (("source", metric.needs_source),
                            ("reference", metric.needs_reference)) if n]
    return {
        "name": name,
        "signature": signature,
        "needs": needs,
        "corpus_score": metric.has_corpus_score,
        "higher_is_better": metric.higher_is_better,
        "device": metric.device,
    }


def run(args: argparse.Namespace) -> int:
    from accord.metrics import metric_names

    rows = [_describe(name) for name in metric_names()]
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    width = max(len(str(row["name"])) for row in rows) if rows else 0
    for row in rows:
        name = str(row["name"]).ljust(width)
        if "error" in row:
            print(f"{name}  cannot be created with default parameters: {row['error']}")
            continue
        needs = row["needs"]
        needs_text = "+".join(needs) if isinstance(needs, list) and needs else "nothing"
        corpus = "corpus score" if row["corpus_score"] else "segment mean"
        direction = "higher better" if row["higher_is_better"] else "lower better"
        print(f"{name}  needs {needs_text}; {corpus}; {direction}")
        print(f"{' ' * width}  {row['signature']}")
    return 0
