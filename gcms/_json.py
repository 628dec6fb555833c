"""JSON-safe values: NaN and infinities as null (the one home of that cleaning).

JSON has no NaN or infinity (RFC 8259, section 6); Python's :mod:`json` writes them as
bare ``NaN``/``Infinity`` tokens that other readers reject. Every document gcms writes
(results, runs, quantitation, reports, the command line's ``--json``) is cleaned here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["finite_or_none", "json_safe"]


def finite_or_none(value: Any) -> float | None:
    """``value`` as a float when it is a finite number; None for None, NaN and infinities.

    >>> finite_or_none(2), finite_or_none(float("nan")), finite_or_none(None)
    (2.0, None, None)
    """
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def json_safe(value: Any, *, str_keys: bool = True) -> Any:
    """A copy of ``value`` that :func:`json.dumps` writes as strict JSON.

    Floats that are not finite become None (null); mappings become dicts (their keys
    made strings with ``str_keys``, kept as they are otherwise), lists and tuples lists;
    anything else is returned as it is.

    >>> json_safe({1: (0.5, float("inf")), "a": [float("nan"), "x"]})
    {'1': [0.5, None], 'a': [None, 'x']}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {(str(k) if str_keys else k): json_safe(v, str_keys=str_keys)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v, str_keys=str_keys) for v in value]
    return value
