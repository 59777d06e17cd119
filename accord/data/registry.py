"""Registered public datasets of human judgments: where they come from and how to load them.

Each dataset is a :class:`DatasetSpec`: one file, pinned by the sha256 of its bytes, served
from a public repository at a fixed commit. :func:`locate` finds the file in this order:

1. ``$ACCORD_DATA/<filename>`` (a folder the user filled by hand, e.g. on a machine without
   internet);
2. the cache, ``<cache>/data/<filename>``, where ``<cache>`` is ``$ACCORD_CACHE`` if set, else
   the user cache folder of accord (``platformdirs.user_cache_dir("accord")``);
3. a download with pooch into the cache.

A file found on disk is checked against the pinned sha256 too (once per process and file
version), so a truncated or different file is reported, never silently loaded. Offline,
:class:`accord.errors.DatasetUnavailableError` says which file is missing, its URL and where
to put it.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import pooch

from accord.data.judgments import Judgments
from accord.data.loaders import LOADERS
from accord.errors import ConfigError, DataError, DatasetUnavailableError

logger = logging.getLogger(__name__)

_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class DatasetSpec:
    """A public judgment file and how to load it.

    Attributes:
        name: the short name users type, e.g. ``"mqm-ted-ende"``.
        filename: the file's path relative to the data root or cache, e.g.
            ``"mqm-ted/mqm_ted_ende.tsv"``.
        url: where to download it, pinned to a commit
            (``https://raw.githubusercontent.com/OWNER/REPO/COMMIT/PATH``).
        sha256: hex digest of the file's bytes.
        license: the license of the data.
        format: a key of :data:`accord.data.loaders.LOADERS`.
        description: one line for ``accord data list``.
        options: keyword arguments for the loader (a user's options override them).
    """

    name: str
    filename: str
    url: str
    sha256: str
    license: str
    format: str
    description: str
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class FetchedFile:
    """A dataset file on disk whose sha256 was checked.

    Attributes:
        name: the dataset name.
        path: where the file is.
        sha256: its verified digest.
        origin: ``"ACCORD_DATA"``, ``"cache"`` or ``"downloaded"``.
    """

    name: str
    path: Path
    sha256: str
    origin: str


DATASETS: dict[str, DatasetSpec] = {}


def register(spec: DatasetSpec, replace: bool = False) -> DatasetSpec:
    """Add a dataset to :data:`DATASETS`; a name already taken needs ``replace=True``."""
    if spec.format not in LOADERS:
        raise ConfigError(f"dataset {spec.name!r}: unknown format {spec.format!r}; known: "
                          f"{', '.join(sorted(LOADERS))}")
    if len(spec.sha256) != 64 or any(c not in "0123456789abcdef" for c in spec.sha256):
        raise ConfigError(f"dataset {spec.name!r}: sha256 must be 64 lower-case hex digits, got "
                          f"{spec.sha256!r}")
    if spec.name in DATASETS and not replace:
        raise ConfigError(f"a dataset named {spec.name!r} is already registered")
    DATASETS[spec.name] = spec
    return spec


def _github(owner_repo: str, commit: str, path: str) -> str:
    return f"{_RAW}/{owner_repo}/{commit}/{path}"


_MQM_COMMIT = "7fadea281aff8db61cc72fc3d469a4dca78b82a6"
_BARTSCORE_COMMIT = "248f511cb34ae3753fc81f7d7a945de5bfe33458"
_HH_COMMIT = "354e5c3cb8960630860dd5774a6ac2a58313bf4d"

register(DatasetSpec(
    name="mqm-ted-ende",
    filename="mqm-ted/mqm_ted_ende.tsv",
    url=_github("google/wmt-mqm-human-evaluation", _MQM_COMMIT, "ted/ende/mqm_ted_ende.tsv"),
    sha256="3952dc904997dda31c03421243862cb8a093f9a712fd90dc97b9709b4bb387b3",
    license="Apache-2.0",
    format="mqm-tsv",
    description="WMT21 TED en-de: MQM error annotations of 13 MT systems and the reference "
                "on 529 segments (Freitag et al. 2021)",
))
register(DatasetSpec(
    name="summeval",
    filename="summeval/data.pkl",
    url=_github("neulab/BARTScore", _BARTSCORE_COMMIT, "SUM/SummEval/data.pkl"),
    sha256="008f1639a3352f0248cac88b74ff431c27287a027a888902ef425a26005f0acf",
    license="Apache-2.0 (BARTScore packaging); SummEval annotations MIT",
    format="summeval-pkl",
    description="SummEval: 100 CNN/DM articles x 16 summarizers, expert coherence, "
                "consistency, fluency, relevance (Fabbri et al. 2021)",
))
register(DatasetSpec(
    name="wmt19-darr-kk-en",
    filename="wmt19-darr/kk-en.data.pkl",
    url=_github("neulab/BARTScore", _BARTSCORE_COMMIT, "WMT/kk-en/data.pkl"),
    sha256="cac631542aa21a1a712d724e5b0cd95198544d03abb22cf007b5a5acc53181e7",
    license="Apache-2.0",
    format="darr-pkl",
    description="WMT19 kk-en DARR: 9,728 relative-ranking pairs from direct assessments "
                "(Ma et al. 2019)",
))
register(DatasetSpec(
    name="hh-rlhf-harmless-base-test",
    filename="hh-rlhf/harmless-base-test.jsonl.gz",
    url=_github("anthropics/hh-rlhf", _HH_COMMIT, "harmless-base/test.jsonl.gz"),
    sha256="ebfaaed21162a4de120ae85366075b34425e2a6303fac59b99555002f7016f03",
    license="MIT",
    format="hh-rlhf-jsonl",
    description="Anthropic HH-RLHF harmless-base test: 2,312 chosen/rejected dialogue pairs "
                "(Bai et al. 2022)",
))
# The other WMT19 DARR pairs (de-en, fi-en, gu-en, lt-en, ru-en, zh-en) sit beside kk-en
# upstream, but their sha256 could not be checked where this registry was written; they are
# left out rather than pinned to unverified digests.


def get_spec(name: str | DatasetSpec) -> DatasetSpec:
    """The spec of a registered dataset (a spec is returned as is)."""
    if isinstance(name, DatasetSpec):
        return name
    spec = DATASETS.get(name)
    if spec is None:
        raise ConfigError(f"unknown dataset {name!r}; registered: {', '.join(sorted(DATASETS))}")
    return spec


def data_root() -> Path | None:
    """``$ACCORD_DATA`` as a Path, or None when it is unset or empty."""
    value = os.environ.get("ACCORD_DATA", "").strip()
    return Path(value).expanduser() if value else None


def _checkout_data_dir() -> Path | None:
    """The ``data/`` folder of a source checkout that accord runs from, if there is one."""
    folder = Path(__file__).resolve().parents[2] / "data"
    return folder if (folder / "README.md").is_file() else None


def cache_dir() -> Path:
    """Where downloaded datasets go.

    ``$ACCORD_CACHE/data`` when set; else, when accord runs from a source checkout, that
    checkout's ``data/`` folder (its contents are git-ignored); else the user cache's ``data``.
    """
    root = os.environ.get("ACCORD_CACHE", "").strip()
    if root:
        return Path(root).expanduser() / "data"
    checkout = _checkout_data_dir()
    if checkout is not None:
        return checkout
    return Path(platformdirs.user_cache_dir("accord")) / "data"


# Digests already computed in this process, keyed by (path, size, mtime): hashing the same
# unchanged file on every load would dominate the time of loading small datasets.
_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, cached per process while the file is unchanged."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    digest = _HASHES.get(key)
    if digest is None:
        hasher = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                hasher.update(block)
        digest = hasher.hexdigest()
        _HASHES[key] = digest
    return digest


def _verified(spec: DatasetSpec, path: Path) -> str:
    digest = file_sha256(path)
    if digest != spec.sha256:
        raise DataError(
            path,
            f"sha256 is {digest}, but dataset {spec.name!r} is pinned to {spec.sha256}: the file "
            f"is not the registered one (truncated, edited or another version). Replace it with "
            f"the file from {spec.url}, or delete it to download it again",
        )
    return digest


def fetch(name: str | DatasetSpec) -> FetchedFile:
    """Find (or download) a registered dataset's file and verify its sha256.

    Raises:
        ConfigError: an unknown dataset name.
        DataError: a file on disk (or downloaded) whose sha256 differs from the pinned one.
        DatasetUnavailableError: the file is not on disk and cannot be downloaded.
    """
    spec = get_spec(name)
    root = data_root()
    if root is not None:
        candidate = root / spec.filename
        if candidate.is_file():
            return FetchedFile(spec.name, candidate, _verified(spec, candidate), "ACCORD_DATA")
    cached = cache_dir() / spec.filename
    if cached.is_file():
        return FetchedFile(spec.name, cached, _verified(spec, cached), "cache")

    logger.info("downloading %s from %s to %s", spec.name, spec.url, cached)
    try:
        downloaded = pooch.retrieve(
            spec.url,
            known_hash=f"sha256:{spec.sha256}",
            fname=cached.name,
            path=cached.parent,
            progressbar=False,
        )
    except OSError as exc:  # requests' errors derive from OSError
        places = f"{root / spec.filename} ($ACCORD_DATA) or " if root is not None else (
            f"$ACCORD_DATA/{spec.filename} or "
        )
        raise DatasetUnavailableError(
            f"dataset {spec.name!r}: the file {spec.filename} is not on disk and could not be "
            f"downloaded from {spec.url} ({type(exc).__name__}: {exc}). Download it on a "
            f"machine with internet access (sha256 {spec.sha256}) and place it at {places}"
            f"{cached}"
        ) from exc
    except ValueError as exc:  # pooch: the downloaded bytes do not match known_hash
        raise DataError(spec.url, f"the downloaded file does not match the pinned sha256 "
                        f"{spec.sha256}: {exc}") from exc
    path = Path(downloaded)
    return FetchedFile(spec.name, path, _verified(spec, path), "downloaded")


def locate(name: str | DatasetSpec) -> Path:
    """The path of a registered dataset's verified file (see :func:`fetch`)."""
    return fetch(name).path


def load_dataset(name: str | DatasetSpec, **options: Any) -> Judgments:
    """Locate a registered dataset and load it as Judgments named after the dataset.

    ``options`` go to the loader (see :mod:`accord.data.loaders`) and override the spec's.
    """
    spec = get_spec(name)
    path = locate(spec)
    merged = {"name": spec.name, **dict(spec.options), **options}
    return LOADERS[spec.format](path, **merged)
