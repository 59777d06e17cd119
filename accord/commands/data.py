"""``accord data``: list the registered judgment datasets and fetch their files."""

from __future__ import annotations

import argparse

from accord.data.registry import DATASETS, cache_dir, data_root, fetch

NAME = "data"
HELP = "list the registered human-judgment datasets, or fetch one and verify its sha256"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    sub.add_parser("list", help="list the registered datasets",
                   description="List the registered datasets with format, license and source.")
    fetch_parser = sub.add_parser(
        "fetch", help="find or download a dataset and verify its sha256",
        description="Find a dataset under $ACCORD_DATA or the cache, or download it into the "
                    "cache; print its path and verified sha256.",
    )
    fetch_parser.add_argument("names", nargs="+", metavar="NAME", help="dataset name(s)")


def run(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        return _list()
    for name in args.names:
        fetched = fetch(name)
        print(f"{fetched.name}\t{fetched.path}\tsha256 {fetched.sha256} verified "
              f"({fetched.origin})")
    return 0


def _list() -> int:
    root = data_root()
    print(f"data root ($ACCORD_DATA): {root if root is not None else '(unset)'}")
    print(f"cache: {cache_dir()}")
    for spec in sorted(DATASETS.values(), key=lambda s: s.name):
        print(f"\n{spec.name}  [{spec.format}]  {spec.license}")
        print(f"  {spec.description}")
        print(f"  file:   {spec.filename}")
        print(f"  url:    {spec.url}")
        print(f"  sha256: {spec.sha256}")
    return 0
