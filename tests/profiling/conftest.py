"""Fixtures of the profiling tests: the PostgreSQL server of the custody tests, reused."""

from __future__ import annotations

import pytest
from custody.conftest import postgres_server  # noqa: F401 (a fixture, used by name)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    """A fresh, empty store location on each database."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return request.getfixturevalue("postgres_server").new_database()
