"""Small helpers shared by the array dataclasses (internal): read-only arrays, memory budget."""

from __future__ import annotations

import re

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from gcms.config import environment

#: Most bytes one run may take in memory: the file's bytes while decoding, the run's
#: arrays, one dense scan x m/z matrix. A real GC-MS run takes megabytes (6,401 scans of
#: petrol: 2.5 MB of netCDF, 2 MB of arrays, 16 MB as a dense matrix); a size beyond this
#: comes from a damaged or hostile file (a flipped bit making m/z 3,670,016, a
#: decompression bomb) and is refused by name before it is allocated. A laboratory with
#: larger runs raises it with the environment variable ``GCMS_MEMORY_BUDGET`` (bytes,
#: or a number with K, M or G: ``GCMS_MEMORY_BUDGET=16G``).
MEMORY_BUDGET_BYTES = 4 * 2**30

_BUDGET_ENV = "GCMS_MEMORY_BUDGET"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([KMGT]?)i?B?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def memory_budget() -> int:
    """The memory budget in bytes: ``GCMS_MEMORY_BUDGET`` when set, else the default.

    Raises
    ------
    ValueError
        ``GCMS_MEMORY_BUDGET`` is set to something that is not a size.
    """
    text = environment().memory_budget
    if not text:
        return MEMORY_BUDGET_BYTES
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{_BUDGET_ENV}={text!r} is not a size (bytes, or e.g. 512M, 16G)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_bytes(n: float) -> str:
    """A byte count for a message: ``87.5 GiB``, ``3.2 MiB``, ``212 bytes``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def budget_problem(nbytes: float, what: str) -> str | None:
    """Why allocating ``nbytes`` for ``what`` is refused, or None when it fits the budget."""
    budget = memory_budget()
    if nbytes <= budget:
        return None
    return (f"{what} would take {format_bytes(nbytes)}, over the memory budget of "
            f"{format_bytes(budget)} ({_BUDGET_ENV} raises it)")


def frozen_array(values: ArrayLike, dtype: DTypeLike, *, name: str, ndim: int = 1) -> np.ndarray:
    """Return ``values`` as a read-only array of ``dtype``.

    A view when no conversion is needed, else a copy; the caller's array is never made
    read-only (the view carries the flag, not the base).
    """
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {array.shape}")
    if array.dtype != np.dtype(dtype):
        if array.size and np.issubdtype(np.dtype(dtype), np.integer):
            if not np.issubdtype(array.dtype, np.integer):
                raise ValueError(f"{name} must hold integers, got {array.dtype}")
        array = array.astype(dtype)
    view = array.view()
    view.flags.writeable = False
    return view
