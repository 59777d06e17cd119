"""Signatures: short strings that pin what produced a number.

A signature lists a name, the parameters that change the result and the versions of the code
that computed it, in the form ``name|key:value|...|version:X``. Two results with the same
signature were computed the same way, so a signature is both a cache key and the provenance
line printed beside every score and correlation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return ",".join(_format_value(v) for v in value)
    return str(value)


def make_signature(name: str, params: Mapping[str, Any], version: str | None = None) -> str:
    """Build ``name|k1:v1|k2:v2|...|version:V`` with parameters in sorted key order.

    ``None`` values are left out, so adding an optional parameter with its default off does
    not change existing signatures.
    """
    parts = [name]
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        parts.append(f"{key}:{_format_value(value)}")
    if version is not None:
        parts.append(f"version:{version}")
    return "|".join(parts)
