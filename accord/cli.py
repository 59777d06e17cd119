"""The ``accord`` command. Nothing in the library imports this module.

Subcommands live in :mod:`accord.commands`, one module each; this file finds them, sets up
logging and turns accord's input errors into a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from collections.abc import Sequence

import accord.commands
from accord import __version__
from accord.errors import AccordError


def _build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(
        prog="accord",
        description="Evaluate text generation, and evaluate the evaluators against humans.",
    )
    parser.add_argument("--version", action="version", version=f"accord {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules: dict[str, object] = {}
    for info in sorted(pkgutil.iter_modules(accord.commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"accord.commands.{info.name}")
        name = getattr(module, "NAME", None)
        if name is None:
            continue
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        modules[name] = module
    return parser, modules


def main(argv: Sequence[str] | None = None) -> int:
    parser, modules = _build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    module = modules[args.command]
    try:
        return int(module.run(args))  # type: ignore[attr-defined]
    except AccordError as exc:
        print(f"accord {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
