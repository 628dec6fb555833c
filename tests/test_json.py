"""One JSON cleaning for every document gcms writes (gcms._json)."""

import doctest
import json
import math
from types import MappingProxyType

import numpy as np

import gcms._json
from gcms._json import finite_or_none, json_safe


def test_examples_run():
    result = doctest.testmod(gcms._json)
    assert result.attempted >= 2 and result.failed == 0


def test_every_non_finite_float_becomes_null_at_any_depth():
    value = {"a": (1.5, math.nan, [math.inf, {"b": -math.inf}]), 7: np.float64("nan"),
             "m": MappingProxyType({"x": 2}), "s": "NaN", "i": 3}
    cleaned = json_safe(value)
    assert cleaned == {"a": [1.5, None, [None, {"b": None}]], "7": None, "m": {"x": 2},
                       "s": "NaN", "i": 3}
    text = json.dumps(cleaned, allow_nan=False)  # strict JSON: would raise on NaN
    assert json.loads(text)["a"] == [1.5, None, [None, {"b": None}]]
    assert list(json_safe({7: 1}, str_keys=False)) == [7]


def test_finite_or_none():
    assert finite_or_none(np.float32(2.5)) == 2.5 and type(finite_or_none(np.int64(3))) is float
    assert [finite_or_none(v) for v in (None, math.nan, -math.inf, "4")] == [None, None, None, 4.0]
