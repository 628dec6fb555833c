"""Results documents made once per session by real batches (:mod:`results.documents`)."""

from __future__ import annotations

import pytest

from results.documents import MAKERS


@pytest.fixture(scope="session")
def results_files(tmp_path_factory):
    """Name -> path of the ``results.json`` of each batch of :data:`MAKERS`."""
    root = tmp_path_factory.mktemp("results-documents")
    return {name: make(root) for name, make in MAKERS.items()}
