"""The SQLite store: round trips, NaN never cached, chunked lookups, concurrent writers."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import multiprocessing.synchronize
import sqlite3
from pathlib import Path

import pytest

from accord.store import ScoreStore, default_store_path, segment_key


def test_segment_key_is_sha256_of_canonical_json() -> None:
    expected = hashlib.sha256(
        json.dumps({"hyp": "h", "refs": ["r1", "r2"], "src": "s"}, sort_keys=True,
                   separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    ).hexdigest()
    assert segment_key("h", ("r1", "r2"), "s") == expected
    assert segment_key("h", ["r1", "r2"], "s") == expected  # list or tuple: same input
    keys = {
        segment_key("h"),
        segment_key("h", ()),
        segment_key("h", ("r",)),
        segment_key("h", ("r",), ""),
        segment_key("h", ("r", "q")),
        segment_key("h", ("q", "r")),
        segment_key("h ", ("r",)),
        segment_key("h\u00e9", ("r",)),
    }
    assert len(keys) == 8


def test_scores_round_trip_and_replace(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path / "sub" / "s.sqlite")
    assert store.put_scores("sig", {"a": 1.5, "b": -2.0}) == 2
    assert store.get_scores("sig", ["a", "b", "c"]) == {"a": 1.5, "b": -2.0}
    assert store.get_scores("other", ["a"]) == {}
    store.put_scores("sig", {"a": 3.0})
    assert store.get_scores("sig", ["a"]) == {"a": 3.0}
    assert store.signatures() == {"sig": 2}
    store.close()
    # persisted on disk, and in WAL mode
    again = ScoreStore(tmp_path / "sub" / "s.sqlite")
    assert again.get_scores("sig", ["a", "b"]) == {"a": 3.0, "b": -2.0}
    mode = sqlite3.connect(tmp_path / "sub" / "s.sqlite").execute("PRAGMA journal_mode")
    assert mode.fetchone()[0] == "wal"


def test_nan_is_never_stored(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path / "s.sqlite")
    assert store.put_scores("sig", {"a": float("nan"), "b": 0.0}) == 1
    assert store.get_scores("sig", ["a", "b"]) == {"b": 0.0}
    # a NaN does not overwrite a stored score either
    store.put_scores("sig", {"b": float("nan")})
    assert store.get_scores("sig", ["b"]) == {"b": 0.0}


def test_many_keys_are_chunked(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path / "s.sqlite")
    mapping = {f"k{i}": float(i) for i in range(5000)}
    store.put_scores("sig", mapping)
    keys = [f"k{i}" for i in range(0, 6000, 1)]  # 1,000 of them absent
    assert store.get_scores("sig", keys) == mapping


def test_clear(tmp_path: Path) -> None:
    store = ScoreStore(tmp_path / "s.sqlite")
    store.put_scores("one", {"a": 1.0, "b": 2.0})
    store.put_scores("two", {"a": 1.0})
    store.put_records("judge", {"a": {"text": "x"}})
    assert store.clear("one") == 2
    assert store.signatures() == {"two": 1}
    assert store.clear() == 1
    assert store.signatures() == {}
    assert store.get_records("judge", ["a"]) == {"a": {"text": "x"}}
    assert store.clear_records("judge") == 1
    assert store.get_records("judge", ["a"]) == {}


def test_records_round_trip(tmp_path: Path) -> None:
    with ScoreStore(tmp_path / "s.sqlite") as store:
        value = {"response": "Score: 4", "tokens": [1, 2, 3], "ok": True, "note": "caf\u00e9"}
        store.put_records("judge-da|model:x", {"k1": value, "k2": [1.5], "k3": None})
        found = store.get_records("judge-da|model:x", ["k1", "k2", "k3", "k4"])
        assert found == {"k1": value, "k2": [1.5], "k3": None}
        with pytest.raises(TypeError, match="'bad'"):
            store.put_records("ns", {"bad": {1, 2}})
        with pytest.raises(TypeError, match="'nan'"):
            store.put_records("ns", {"nan": float("nan")})


def test_default_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCORD_STORE", str(tmp_path / "env.sqlite"))
    assert default_store_path() == tmp_path / "env.sqlite"
    store = ScoreStore()
    store.put_scores("s", {"k": 1.0})
    assert (tmp_path / "env.sqlite").exists()
    monkeypatch.delenv("ACCORD_STORE")
    assert default_store_path().name == "store.sqlite"
    assert "accord" in default_store_path().parts


def test_memory_store() -> None:
    store = ScoreStore(":memory:")
    store.put_scores("s", {"k": 2.0})
    assert store.get_scores("s", ["k"]) == {"k": 2.0}


def _writer(path: str, worker: int, n: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    """Write n scores one transaction each: n/2 keys of its own, n/2 shared with the other."""
    store = ScoreStore(path)
    # both processes start writing at the same moment, so their transactions interleave
    barrier.wait(timeout=120)
    for i in range(n):
        if i % 2 == 0:
            store.put_scores("sig", {f"own{worker}-{i}": float(i)})
        else:
            store.put_scores("sig", {f"shared-{i}": float(worker)})
        if i % 100 == 0:
            store.put_records("ns", {f"w{worker}-{i}": {"i": i}})
    store.close()


def test_two_processes_writing_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "concurrent.sqlite")
    ScoreStore(path).close()  # create the schema before the race
    n = 2000
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    workers = [context.Process(target=_writer, args=(path, w, n, barrier)) for w in (0, 1)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=300)
        assert p.exitcode == 0
    store = ScoreStore(path)
    own = [f"own{w}-{i}" for w in (0, 1) for i in range(0, n, 2)]
    shared = [f"shared-{i}" for i in range(1, n, 2)]
    scores = store.get_scores("sig", own + shared)
    assert all(scores[f"own{w}-{i}"] == float(i) for w in (0, 1) for i in range(0, n, 2))
    assert set(scores) == set(own + shared)
    assert all(scores[k] in (0.0, 1.0) for k in shared)  # one writer's value, never lost
    assert store.signatures() == {"sig": len(own) + len(shared)}
    records = store.get_records("ns", [f"w{w}-{i}" for w in (0, 1) for i in range(0, n, 100)])
    assert len(records) == 2 * (n // 100)
