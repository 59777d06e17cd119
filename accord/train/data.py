"""Training data: prompt rows (with the reward's columns) and preference pairs.

A prompt row is a dict with a ``prompt`` string and any other columns the reward needs
(``reference``: a string or a list of strings). Preference pairs come from HH-RLHF-style JSONL
(``{"chosen": dialogue, "rejected": dialogue}``, optionally gzipped): the two dialogues share
every turn but the last assistant reply, so the shared part up to and including the last
``"\\n\\nAssistant:"`` is the prompt and the two replies are the completions.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

_ASSISTANT = "\n\nAssistant:"


@dataclass(frozen=True)
class PreferencePair:
    """A prompt with a preferred (``chosen``) and a dispreferred (``rejected``) completion."""

    prompt: str
    chosen: str
    rejected: str


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSONL file (``.gz`` is decompressed); every line must hold a JSON object."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(path, f"not valid JSON: {exc.msg}", number) from None
                if not isinstance(row, dict):
                    raise DataError(path, f"expected a JSON object, got {type(row).__name__}",
                                    number)
                rows.append(row)
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    return rows


def prompt_rows(rows: Sequence[dict[str, Any]], template: str, source: str
                ) -> list[dict[str, Any]]:
    """Rows with ``prompt`` set from ``template`` (``str.format`` over each row's fields)."""
    out = []
    for number, row in enumerate(rows, start=1):
        try:
            prompt = template.format(**row)
        except KeyError as exc:
            raise DataError(source, f"prompt_template {template!r} names field {exc.args[0]!r}, "
                            f"which the row lacks (fields: {', '.join(sorted(row))})",
                            number) from None
        out.append({**row, "prompt": prompt})
    return out


def split_dialogue_pair(chosen: str, rejected: str) -> PreferencePair:
    """Split two dialogues that differ only in the last assistant reply."""
    cut_c = chosen.rfind(_ASSISTANT)
    cut_r = rejected.rfind(_ASSISTANT)
    if cut_c < 0 or cut_r < 0:
        raise ValueError("a dialogue has no '\\n\\nAssistant:' turn")
    prompt = chosen[:cut_c + len(_ASSISTANT)]
    if rejected[:cut_r + len(_ASSISTANT)] != prompt:
        raise ValueError("the two dialogues differ before their last assistant reply")
    return PreferencePair(prompt, chosen[len(prompt):], rejected[len(prompt):])


def load_preference_pairs(path: str | Path, limit: int | None = None) -> list[PreferencePair]:
    """Preference pairs from HH-RLHF-style JSONL.

    Pairs whose dialogues differ before the last reply, or whose two replies are identical
    (they carry no preference), are left out; their number is logged.

    Args:
        path: the JSONL (or ``.jsonl.gz``) file.
        limit: read at most this many usable pairs (None: all).
    """
    pairs: list[PreferencePair] = []
    skipped: dict[str, int] = {}
    for number, row in enumerate(read_jsonl(path), start=1):
        if not isinstance(row.get("chosen"), str) or not isinstance(row.get("rejected"), str):
            raise DataError(path, "expected string fields 'chosen' and 'rejected'", number)
        try:
            pair = split_dialogue_pair(row["chosen"], row["rejected"])
        except ValueError as exc:
            skipped[str(exc)] = skipped.get(str(exc), 0) + 1
            continue
        if pair.chosen == pair.rejected:
            skipped["identical replies"] = skipped.get("identical replies", 0) + 1
            continue
        pairs.append(pair)
        if limit is not None and len(pairs) >= limit:
            break
    for reason, count in skipped.items():
        logger.warning("%s: left out %d pair(s): %s", path, count, reason)
    if not pairs:
        raise ConfigError(f"{path}: no usable preference pairs")
    return pairs
