"""Error types that every part of accord raises on bad input.

Each message names where the problem is (file and line, or argument), what was expected and
what arrived, so that a user can fix the input without reading accord's code.
"""

from __future__ import annotations

from pathlib import Path


class AccordError(ValueError):
    """Base class of accord's input errors; a ``ValueError`` so callers may catch either."""


class DataError(AccordError):
    """A data file does not have the expected content.

    Args:
        path: the file that was read.
        problem: what is wrong, including what was expected and what arrived.
        line: 1-based line (or record) number in the file, when one can be named.
    """

    def __init__(self, path: str | Path, problem: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class ConfigError(AccordError):
    """A configuration value (suite file, CLI option, function argument) is not valid."""


class DatasetUnavailableError(AccordError):
    """A registered dataset is neither on disk nor downloadable (offline, or the server failed)."""
