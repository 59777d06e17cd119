"""Read pickles of plain data without running code from the file.

Unpickling calls whatever global a pickle names (``os.system``, ``builtins.eval``, a class's
``__reduce__``), so a pickle from the internet can run arbitrary code. The judgment pickles
accord reads (SummEval and WMT DARR in the BARTScore repository layout) hold only dicts, lists,
strings and numbers, which the pickle protocol encodes without naming any global. The
unpickler here therefore refuses every global: plain data loads, anything else is an error.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from accord.errors import DataError


class _NoGlobalsUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, path: Path) -> None:
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        raise DataError(
            self._path,
            f"the pickle refers to the global {module}.{name}; accord loads only pickles of "
            f"plain dicts, lists, strings and numbers, and refuses globals because loading "
            f"them can run code from the file",
        )

    def persistent_load(self, pid: Any) -> Any:
        raise DataError(self._path, f"the pickle uses a persistent id ({pid!r}); not supported")


def load_pickle(path: str | Path) -> Any:
    """Load a pickle that contains only built-in containers and scalars.

    Args:
        path: the pickle file.

    Returns:
        The unpickled object (dicts, lists, tuples, sets, str, bytes, int, float, bool, None).

    Raises:
        DataError: the file names a global (the message names it), or is not a valid pickle.
    """
    path = Path(path)
    with path.open("rb") as handle:
        try:
            return _NoGlobalsUnpickler(handle, path).load()
        except DataError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, IndexError) as exc:
            raise DataError(path, f"not a readable pickle: {exc}") from exc
