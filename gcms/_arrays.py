"""Small helpers shared by the array dataclasses (internal)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike


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
