"""Shared test set-up: point the dataset lookup at the exact public files in ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

if "ACCORD_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["ACCORD_DATA"] = str(SHARED_DATA)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding the public judgment files (ACCORD_DATA)."""
    path = Path(os.environ.get("ACCORD_DATA", SHARED_DATA))
    if not path.is_dir():
        raise RuntimeError(
            f"the public judgment files are needed at {path}; set ACCORD_DATA to their folder"
        )
    return path
