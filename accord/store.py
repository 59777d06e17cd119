"""The SQLite store: cached metric scores and JSON records (judge responses, run records).

Two tables:

``scores(signature, key, value)``
    One metric score per (metric signature, segment key). A segment key is the sha256 of the
    segment's inputs (:func:`segment_key`); equal signatures mean equal scores, so a hit may be
    reused by any later run. NaN means "no score" and is never stored, so it is recomputed or
    reported instead of being served from the cache.
``records(namespace, key, value, created)``
    Any JSON value under a namespace (e.g. one namespace per judge prompt + model), with the
    Unix time it was written.

The database runs in WAL mode with a busy timeout, so several processes may read and write
it at once; each write is one short ``BEGIN IMMEDIATE`` transaction, so concurrent writers
wait for each other rather than fail or lose rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STORE_ENV = "ACCORD_STORE"
# SQLite builds before 3.32 allow at most 999 bound parameters per statement.
_CHUNK = 900
_BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    signature TEXT NOT NULL,
    key TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (signature, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    namespace TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
"""


def default_store_path() -> Path:
    """``$ACCORD_STORE`` if set, else ``<user cache dir>/accord/store.sqlite``."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("accord")) / "store.sqlite"


def segment_key(hyp: str, refs: Sequence[str] | None = None, src: str | None = None) -> str:
    """A stable hex key for one segment's inputs: sha256 of a canonical JSON of them.

    References keep their order (a multi-reference metric may, in principle, treat the first
    reference specially). ``None`` (not given) and an empty tuple are different inputs.
    """
    payload = {"hyp": hyp, "refs": None if refs is None else list(refs), "src": src}
    text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ScoreStore:
    """A score cache and record store in one SQLite file.

    Args:
        path: the database file (created with its folder if missing); None takes
            :func:`default_store_path`; ``":memory:"`` keeps everything in memory.

    One instance may be shared by threads (calls are serialised by a lock); each process
    should open its own instance.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            path = default_store_path()
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a write transaction is
        # IMMEDIATE (takes the write lock up front, waiting out other writers via the busy
        # timeout) instead of failing when a deferred read lock cannot be upgraded.
        self._conn = sqlite3.connect(
            self.path,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._write():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: committed on success, rolled back on error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection; the instance is unusable afterwards."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ScoreStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScoreStore({self.path!r})"

    # -- scores ---------------------------------------------------------------------------

    def get_scores(self, signature: str, keys: Iterable[str]) -> dict[str, float]:
        """Cached scores of ``signature`` for those ``keys`` that have one."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, float] = {}
        with self._lock:
            for chunk in _chunks(unique):
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, value FROM scores WHERE signature = ? AND key IN ({marks})",
                    (signature, *chunk),
                )
                found.update(rows)
        return found

    def put_scores(self, signature: str, mapping: Mapping[str, float]) -> int:
        """Store scores (replacing existing ones); NaN values are skipped, never stored.

        Returns:
            The number of scores written.
        """
        rows = []
        n_nan = 0
        for key, value in mapping.items():
            value = float(value)
            if math.isnan(value):
                n_nan += 1
                continue
            rows.append((signature, key, value))
        if n_nan:
            logger.debug("store: %d NaN score(s) of %s not cached", n_nan, signature)
        if rows:
            with self._lock, self._write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO scores (signature, key, value) VALUES (?, ?, ?)",
                    rows,
                )
        return len(rows)

    def signatures(self) -> dict[str, int]:
        """Every signature with cached scores, and how many each has."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT signature, COUNT(*) FROM scores GROUP BY signature ORDER BY signature"
            )
            return dict(rows)

    def clear(self, signature: str | None = None) -> int:
        """Delete the cached scores of one signature, or all scores when None.

        Records are kept (see :meth:`clear_records`). Returns the number of rows deleted.
        """
        with self._lock, self._write() as conn:
            if signature is None:
                cursor = conn.execute("DELETE FROM scores")
            else:
                cursor = conn.execute("DELETE FROM scores WHERE signature = ?", (signature,))
            return cursor.rowcount

    # -- records --------------------------------------------------------------------------

    def get_records(self, namespace: str, keys: Iterable[str]) -> dict[str, Any]:
        """The JSON values stored under ``namespace`` for those ``keys`` that have one."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, Any] = {}
        with self._lock:
            for chunk in _chunks(unique):
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, value FROM records WHERE namespace = ? AND key IN ({marks})",
                    (namespace, *chunk),
                )
                found.update((key, json.loads(value)) for key, value in rows)
        return found

    def put_records(self, namespace: str, mapping: Mapping[str, Any]) -> int:
        """Store JSON-serialisable values under ``namespace`` (replacing existing ones).

        Raises:
            TypeError: a value cannot be written as JSON (named by its key).
        """
        now = time.time()
        rows = []
        for key, value in mapping.items():
            try:
                # allow_nan=False: NaN is not JSON; the caller must decide what it means
                text = json.dumps(value, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TypeError(
                    f"store: record {key!r} in namespace {namespace!r} is not JSON-serialisable: "
                    f"{exc}"
                ) from exc
            rows.append((namespace, key, text, now))
        if rows:
            with self._lock, self._write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO records (namespace, key, value, created) "
                    "VALUES (?, ?, ?, ?)",
                    rows,
                )
        return len(rows)

    def clear_records(self, namespace: str | None = None) -> int:
        """Delete the records of one namespace, or all records when None; returns the count."""
        with self._lock, self._write() as conn:
            if namespace is None:
                cursor = conn.execute("DELETE FROM records")
            else:
                cursor = conn.execute("DELETE FROM records WHERE namespace = ?", (namespace,))
            return cursor.rowcount
