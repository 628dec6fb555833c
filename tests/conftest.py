"""Shared fixtures: where the real data lives, and the skip marker for its absence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: ../shared/data beside the project root, or GCMS_SHARED_DATA when set.
SHARED_DATA = Path(
    os.environ.get("GCMS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


def shared_file(*parts: str) -> Path:
    """Path of a file in the shared data folder; skips the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def shared():
    """Callable fixture: ``shared("netcdf-gcms", "agilent-gcms.cdf")`` or skip."""
    return shared_file
