"""Smoothing of chromatographic traces, vectorised along one axis of an array.

Every function takes a 1-D trace or a 2-D scan × ion matrix (``axis=0`` smooths each
ion's trace at once) and returns a new float64 array of the same shape; the input is
never modified.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["gaussian", "moving_average", "savitzky_golay"]


def _as_float(y: ArrayLike) -> np.ndarray:
    array = np.asarray(y, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D trace or a 2-D matrix, got shape {array.shape}")
    return array


def savitzky_golay(y: ArrayLike, window: int = 5, order: int = 2, *, axis: int = 0) -> np.ndarray:
    """Savitzky–Golay smoothing: a least-squares polynomial of ``order`` in a sliding window.

    Savitzky & Golay, Anal. Chem. 36 (1964) 1627. The value at each point is the centre of
    the polynomial fitted to the ``window`` points around it (``window`` odd, > ``order``);
    peak heights and widths are kept far better than by a moving average of the same
    window. Edges are fitted with the polynomial of the first/last window (``mode="interp"``).

    Parameters
    ----------
    y : array_like
        A 1-D trace or a 2-D scan × ion matrix.
    window : int, default 5
        Points in the sliding window: odd and larger than ``order``. A trace shorter than
        the window is returned unsmoothed (as a copy).
    order : int, default 2
        Degree of the fitted polynomial.
    axis : int, default 0
        The axis along which to smooth (the scans of a matrix).

    Returns
    -------
    numpy.ndarray
        The smoothed values, float64, of the shape of ``y``.

    Raises
    ------
    ValueError
        ``window`` even or not larger than ``order``; ``y`` neither 1-D nor 2-D.

    Examples
    --------
    A polynomial of degree ``order`` or less passes through unchanged; a lone spike in one
    window becomes the parabola fitted to it:

    >>> import numpy as np
    >>> from gcms.signal import savitzky_golay
    >>> line = np.arange(10.0) ** 2
    >>> bool(np.allclose(savitzky_golay(line, window=5, order=2), line))
    True
    >>> savitzky_golay([0, 0, 9, 0, 0], window=5, order=2).round(2).tolist()
    [-0.77, 3.09, 4.37, 3.09, -0.77]
    """
    from scipy.signal import savgol_filter

    array = _as_float(y)
    if window % 2 == 0 or window <= order:
        raise ValueError(f"window must be odd and larger than order {order}, got {window}")
    if array.shape[axis] < window:
        return array.copy()
    return savgol_filter(array, window, order, axis=axis, mode="interp")


def moving_average(y: ArrayLike, window: int = 3, *, axis: int = 0) -> np.ndarray:
    """Centred moving average over ``window`` points (odd); edges repeat the end value.

    Each trace is padded with ``window // 2`` copies of its end values and convolved with
    a flat kernel of ``1 / window`` (:func:`numpy.convolve`), one trace at a time, so a
    column of a matrix is averaged exactly as the same trace alone. Quantitation places
    its apex and peak limits on this average
    (:mod:`gcms.quantitation.integration`).

    Parameters
    ----------
    y : array_like
        A 1-D trace or a 2-D scan × ion matrix.
    window : int, default 3
        Points averaged: a positive odd number (1 leaves ``y`` as it is).
    axis : int, default 0
        The axis along which to average.

    Returns
    -------
    numpy.ndarray
        The averaged values, float64, of the shape of ``y``.

    Raises
    ------
    ValueError
        ``window`` not a positive odd number.

    Examples
    --------
    >>> from gcms.signal import moving_average
    >>> moving_average([0.0, 3.0, 6.0, 3.0, 0.0], window=3).tolist()
    [1.0, 3.0, 4.0, 3.0, 1.0]
    """
    array = _as_float(y)
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    if window == 1 or array.shape[axis] == 0:
        return array.copy()
    kernel = np.full(window, 1.0 / window)
    half = window // 2

    def average(trace: np.ndarray) -> np.ndarray:
        return np.convolve(np.pad(trace, half, mode="edge"), kernel, mode="valid")

    if array.ndim == 1:
        return average(array)
    # one trace at a time: np.convolve's sums, the same for a trace alone or in a matrix
    return np.apply_along_axis(average, axis, array)


def gaussian(y: ArrayLike, sigma: float, *, axis: int = 0) -> np.ndarray:
    """Convolution with a normalised Gaussian of standard deviation ``sigma`` points.

    The kernel is truncated at 4 σ; edges repeat the end value. A Gaussian of σ about
    half the peak's own σ is close to the matched filter for chromatographic peaks and
    broadens them by only ``sqrt(1 + 1/4)``, about 12 %.

    Parameters
    ----------
    y : array_like
        A 1-D trace or a 2-D scan × ion matrix.
    sigma : float
        Standard deviation of the kernel in points (> 0).
    axis : int, default 0
        The axis along which to smooth.

    Returns
    -------
    numpy.ndarray
        The smoothed values, float64, of the shape of ``y``; their sum is that of ``y``
        away from the edges.

    Raises
    ------
    ValueError
        ``sigma`` not positive.

    Examples
    --------
    A spike spreads into the kernel's shape, its area kept:

    >>> import numpy as np
    >>> from gcms.signal import gaussian
    >>> spike = np.zeros(21)
    >>> spike[10] = 1.0
    >>> smoothed = gaussian(spike, sigma=2.0)
    >>> round(float(smoothed.sum()), 6), int(smoothed.argmax())
    (1.0, 10)
    """
    from scipy.ndimage import gaussian_filter1d

    array = _as_float(y)
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return gaussian_filter1d(array, sigma, axis=axis, mode="nearest", truncate=4.0)
