"""The runnable examples of the API reference, run as part of the test suite.

Only these modules: their examples need nothing beyond gcms's own dependencies (no
shared data, no optional extras). A module listed here with no example fails, so an
example deleted by mistake is noticed.
"""

import doctest
import importlib

import pytest

MODULES = [
    "gcms.run",
    "gcms.io",
    "gcms.signal.smoothing",
    "gcms.signal.noise",
    "gcms.signal.baseline",
    "gcms.signal.peaks",
    "gcms.deconvolution.similarity",
    "gcms.library.scores",
    "gcms.library.search",
    "gcms.library.store",
    "gcms.retention.calibration",
    "gcms.retention.series",
    "gcms.retention.ladder",
    "gcms.identify.criteria",
    "gcms.identify.evidence",
    "gcms.identify.substance",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             report=True)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
