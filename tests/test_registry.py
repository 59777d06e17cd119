"""The dataset registry: lookup order, sha256 checks, the offline message, and `accord data`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest

from accord.cli import main
from accord.data import registry
from accord.data.registry import (
    DATASETS,
    DatasetSpec,
    cache_dir,
    fetch,
    get_spec,
    load_dataset,
    locate,
    register,
)
from accord.errors import ConfigError, DataError, DatasetUnavailableError

# Published in /work/shared/data/README.md, copied by hand (not computed by the code).
PINNED = {
    "mqm-ted-ende": ("mqm-ted/mqm_ted_ende.tsv",
                     "3952dc904997dda31c03421243862cb8a093f9a712fd90dc97b9709b4bb387b3"),
    "summeval": ("summeval/data.pkl",
                 "008f1639a3352f0248cac88b74ff431c27287a027a888902ef425a26005f0acf"),
    "wmt19-darr-kk-en": ("wmt19-darr/kk-en.data.pkl",
                         "cac631542aa21a1a712d724e5b0cd95198544d03abb22cf007b5a5acc53181e7"),
    "hh-rlhf-harmless-base-test": (
        "hh-rlhf/harmless-base-test.jsonl.gz",
        "ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03",
    ),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_registered_specs_match_published_table():
    assert set(DATASETS) == set(PINNED)
    for name, (filename, sha) in PINNED.items():
        spec = get_spec(name)
        assert (spec.filename, spec.sha256) == (filename, sha)
        assert re.fullmatch(r"https://raw\.githubusercontent\.com/[\w-]+/[\w-]+/[0-9a-f]{40}/.+",
                            spec.url)
    assert get_spec("mqm-ted-ende").url.endswith(
        "google/wmt-mqm-human-evaluation/7fadea281aff8db61cc72fc3d469a4dca78b82a6/"
        "ted/ende/mqm_ted_ende.tsv")


def test_locate_finds_shared_files(data_dir):
    for name, (filename, sha) in PINNED.items():
        path = locate(name)
        assert path == data_dir / filename
        assert _sha256(path) == sha
    assert fetch("summeval").origin == "ACCORD_DATA"


def test_load_dataset_uses_spec_name_and_options(data_dir):
    judgments = load_dataset("mqm-ted-ende", reference_system=None)
    assert judgments.name == "mqm-ted-ende" and judgments.reference_system is None
    assert len(judgments.items) == 529


def _spec(tmp_path: Path, content: bytes, url: str = "http://127.0.0.1:9/x") -> DatasetSpec:
    return DatasetSpec(name="tiny", filename="tiny/t.csv", url=url,
                       sha256=hashlib.sha256(content).hexdigest(), license="MIT",
                       format="scores-csv", description="test")


def test_wrong_hash_is_rejected(tmp_path, monkeypatch):
    good = b"item,system,hyp,score\n1,A,h,1\n"
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "t.csv").write_bytes(good + b"1,B,g,2\n")
    monkeypatch.setenv("ACCORD_DATA", str(tmp_path))
    spec = _spec(tmp_path, good)
    with pytest.raises(DataError) as caught:
        locate(spec)
    message = str(caught.value)
    assert str(tmp_path / "tiny" / "t.csv") in message
    assert f"pinned to {spec.sha256}" in message and spec.url in message


def test_cache_used_and_hash_checked(tmp_path, monkeypatch):
    good = b"item,system,hyp,score\n1,A,h,1\n"
    monkeypatch.setenv("ACCORD_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("ACCORD_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache" / "data"
    cached = tmp_path / "cache" / "data" / "tiny" / "t.csv"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(good)
    spec = _spec(tmp_path, good)
    found = fetch(spec)
    assert (found.path, found.origin, found.sha256) == (cached, "cache", _sha256(cached))
    judgments = load_dataset(spec)
    assert judgments.name == "tiny" and judgments.scores["score"].tolist() == [1.0]


def test_offline_message_names_file_url_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCORD_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("ACCORD_CACHE", str(tmp_path / "cache"))
    spec = _spec(tmp_path, b"x")
    with pytest.raises(DatasetUnavailableError) as caught:
        locate(spec)
    message = str(caught.value)
    assert "tiny/t.csv" in message and "http://127.0.0.1:9/x" in message
    assert str(tmp_path / "data" / "tiny" / "t.csv") in message
    assert str(tmp_path / "cache" / "data" / "tiny" / "t.csv") in message


def test_offline_via_monkeypatched_pooch(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise ConnectionError("no route to host")

    monkeypatch.delenv("ACCORD_DATA", raising=False)
    monkeypatch.setenv("ACCORD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(registry.pooch, "retrieve", no_network)
    spec = replace(get_spec("summeval"))
    with pytest.raises(DatasetUnavailableError, match=r"\$ACCORD_DATA/summeval/data\.pkl"):
        locate(spec)


def test_register_checks(tmp_path):
    spec = _spec(tmp_path, b"x")
    with pytest.raises(ConfigError, match="already registered"):
        register(replace(spec, name="summeval"))
    with pytest.raises(ConfigError, match="unknown format 'nope'"):
        register(replace(spec, format="nope"))
    with pytest.raises(ConfigError, match="64 lower-case hex"):
        register(replace(spec, sha256="abc"))
    with pytest.raises(ConfigError, match="unknown dataset 'nope'; registered: "):
        get_spec("nope")


def test_cli_list_and_fetch(capsys, data_dir):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in PINNED:
        assert name in out
    assert main(["data", "fetch", "wmt19-darr-kk-en"]) == 0
    out = capsys.readouterr().out
    assert str(data_dir / "wmt19-darr" / "kk-en.data.pkl") in out
    assert PINNED["wmt19-darr-kk-en"][1] in out and "verified" in out
    assert main(["data", "fetch", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err


def test_hash_computed_once_per_unchanged_file(tmp_path, monkeypatch):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    calls = []
    real = hashlib.sha256

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(registry.hashlib, "sha256", counting)
    expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2
    assert registry.file_sha256(path) == expected
    assert registry.file_sha256(path) == expected
    assert len(calls) == 1
    path.write_bytes(b"abcd")
    assert registry.file_sha256(path) != expected and len(calls) == 2
