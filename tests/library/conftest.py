"""Library tests run the compiled scan even on their small libraries.

A search of a library of at most ``_engine.SMALL_LIBRARY`` entries scores every entry
instead of running the compiled scan (the same lists); the tests here set the limit to
0 so that their small libraries still test the scan against the reference, except a
test that asks for the ``shipped_small_library`` fixture (the limit as shipped).
"""

from __future__ import annotations

import pytest

from gcms.library import _engine

SHIPPED_SMALL_LIBRARY = _engine.SMALL_LIBRARY


@pytest.fixture
def shipped_small_library() -> int:
    """The shipped ``SMALL_LIBRARY`` limit, left in force for the test."""
    return SHIPPED_SMALL_LIBRARY


@pytest.fixture(autouse=True)
def _scan_small_libraries(request, monkeypatch):
    if "shipped_small_library" not in request.fixturenames:
        monkeypatch.setattr(_engine, "SMALL_LIBRARY", 0)
