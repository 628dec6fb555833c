"""Baselines of ion traces and of the TIC.

Two tools for two jobs:

* :func:`rolling_ball` works on a whole scan × ion matrix at once (one vectorised
  morphological opening along the scans, then a moving average), which is what the
  deconvolution needs for hundreds of ion traces in milliseconds. It is the rolling-ball
  algorithm of pybaselines (Kneen et al. 1996; Liland et al. 2010) applied column-wise,
  and the tests check it value for value against ``pybaselines.Baseline().rolling_ball``.
* :func:`baseline` fits one trace (the TIC, a detector signal) with the penalised
  least-squares methods of pybaselines, which follow a drifting baseline under wide and
  overlapping peaks better than any window method, at a cost that only matters when it
  is run for hundreds of traces.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["BaselineMethod", "baseline", "centre_baseline", "rolling_ball"]

#: Baseline algorithms offered for single traces (all from pybaselines):
#: ``"arpls"`` asymmetrically reweighted penalised least squares (Baek et al., Analyst 140
#: (2015) 250); ``"asls"`` asymmetric least squares (Eilers & Boelens 2005);
#: ``"snip"`` statistics-sensitive non-linear iterative peak clipping (Ryan et al. 1988);
#: ``"rolling_ball"`` morphological opening then moving average.
BaselineMethod = Literal["arpls", "asls", "snip", "rolling_ball"]

#: Passes of :func:`centre_baseline` (each re-cuts the peaks at the new offset).
CENTRE_ITERATIONS = 3


def _floating(values: ArrayLike) -> np.ndarray:
    """float32 stays float32 (a whole run's matrix), anything else becomes float64."""
    array = np.asarray(values)
    return array if array.dtype in (np.float32, np.float64) else array.astype(np.float64)


def rolling_ball(
    y: ArrayLike,
    half_window: int,
    *,
    smooth_half_window: int | None = None,
    axis: int = 0,
) -> np.ndarray:
    """Rolling-ball baseline of every trace along ``axis`` (same shape as ``y``).

    ``b = mean_{2s+1}(max_{2h+1}(min_{2h+1}(y)))``: a grey opening (erosion then
    dilation) with a flat window of ``2h+1`` points removes every feature narrower than
    the window, and a moving average of ``2s+1`` points (``s`` defaults to ``h``) rounds
    the corners. ``half_window`` must exceed the half base width of the widest peak that
    should survive. Edges repeat the end value (pybaselines' ``pad_kwargs={"mode":
    "edge"}``). float32 input is computed in float32, anything else in float64.

    Parameters
    ----------
    y : array_like
        A 1-D trace or a 2-D scan × ion matrix.
    half_window : int
        ``h``, the half width of the ball in points (the window is ``2h+1`` points).
    smooth_half_window : int, optional
        ``s``, the half width of the moving average; ``half_window`` by default.
    axis : int, default 0
        The axis along which the traces run.

    Returns
    -------
    numpy.ndarray
        The baseline, of the shape of ``y``.

    Examples
    --------
    A peak narrower than the ball leaves the baseline; a straight line stays one:

    >>> import numpy as np
    >>> from gcms.signal import rolling_ball
    >>> x = np.arange(200.0)
    >>> trace = 10.0 + 0.05 * x + 100.0 * np.exp(-0.5 * ((x - 100.0) / 3.0) ** 2)
    >>> base = rolling_ball(trace, half_window=20)
    >>> round(float(base[100])), round(float(trace[100] - base[100]))
    (15, 100)
    """
    from scipy.ndimage import grey_opening, uniform_filter1d

    array = _floating(y)
    if array.ndim not in (1, 2):
        raise ValueError(f"expected a 1-D trace or a 2-D matrix, got shape {array.shape}")
    if half_window < 1:
        raise ValueError(f"half_window must be >= 1, got {half_window}")
    smooth = half_window if smooth_half_window is None else smooth_half_window
    if smooth < 0:
        raise ValueError(f"smooth_half_window must be >= 0, got {smooth}")
    size = [1] * array.ndim
    size[axis] = 2 * half_window + 1
    opened = grey_opening(array, size=tuple(size))
    if smooth == 0:
        return opened
    return uniform_filter1d(opened, 2 * smooth + 1, axis=axis, mode="nearest")


def centre_baseline(
    y: ArrayLike,
    envelope: ArrayLike,
    sigma: ArrayLike,
    half_window: int,
    *,
    k: float = 3.0,
    axis: int = 0,
) -> np.ndarray:
    """Lift a lower-envelope baseline to the local mean of the points that are not peaks.

    A rolling ball follows the *minima* of the noise, so ``y - envelope`` keeps a
    positive offset of a few σ that would end up in every extracted spectrum. Here the
    residual ``r = y - envelope`` is averaged over a moving window of ``2h+1`` points,
    leaving out the points more than ``k σ`` away from the current offset: above it
    (peaks) and below it (the flanks of a peak wider than the ball, where the smoothed
    envelope overshoots the trace)::

        o ← Σ_w r·[|r - o| ≤ kσ] / Σ_w [|r - o| ≤ kσ],    b = envelope + o

    starting from ``o = 0`` and repeated three times (the first pass, cut at ``kσ``
    above the envelope, still clips the top of the noise), so that the noise of the
    corrected trace is centred on zero. Where a whole window is
    peak, the envelope is kept. ``sigma`` is the noise σ per point (broadcast to ``y``).
    float32 input is computed in float32 (a whole run's matrix), anything else in
    float64.

    Parameters
    ----------
    y : array_like
        A 1-D trace or a 2-D scan × ion matrix.
    envelope : array_like
        Its lower-envelope baseline (e.g. :func:`rolling_ball`), of the shape of ``y``.
    sigma : array_like
        Noise σ per point, broadcast to ``y``.
    half_window : int
        ``h``: the offset is averaged over ``2h+1`` points.
    k : float, default 3.0
        Points more than ``k σ`` from the current offset are left out as peaks.
    axis : int, default 0
        The axis along which the traces run.

    Returns
    -------
    numpy.ndarray
        The centred baseline ``envelope + o``, of the shape of ``y``.
    """
    from scipy.ndimage import uniform_filter1d

    array = _floating(y)
    lower = _floating(envelope)
    limit = k * _floating(sigma)
    residual = array - lower
    size = 2 * half_window + 1
    offset = np.zeros_like(residual)
    for _ in range(CENTRE_ITERATIONS):
        quiet = np.abs(residual - offset) <= limit
        total = uniform_filter1d(np.where(quiet, residual, 0.0), size, axis=axis, mode="nearest")
        count = uniform_filter1d(quiet.astype(np.float64), size, axis=axis, mode="nearest")
        offset = np.where(count > 0.5 / size, total / np.maximum(count, 1e-300), 0.0)
    return lower + offset


def baseline(
    y: ArrayLike,
    *,
    method: BaselineMethod = "arpls",
    lam: float = 1e7,
    half_window: int | None = None,
) -> np.ndarray:
    """Baseline of one trace (TIC or detector signal) by a pybaselines algorithm.

    Parameters
    ----------
    y : array_like
        The trace, one value per scan.
    method : {"arpls", "asls", "snip", "rolling_ball"}
        See :data:`BaselineMethod`. arPLS is the default: it needs no asymmetry
        parameter and is not pulled up by noise the way AsLS is.
    lam : float
        Smoothness penalty of the penalised least-squares methods (second differences);
        1e7 keeps the baseline straight over a few hundred points, so peaks a few tens of
        points wide are never absorbed.
    half_window : int, optional
        Window of ``"snip"`` and ``"rolling_ball"`` in points; by default a tenth of the
        trace (at least 15 points).

    Returns
    -------
    numpy.ndarray
        The baseline (float64), never above the trace's own maximum.
    """
    import warnings

    from pybaselines import Baseline
    from pybaselines.utils import ParameterWarning

    array = np.asarray(y, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D trace, got shape {array.shape}")
    if array.size < 3:
        return np.zeros_like(array)
    if not np.isfinite(array).all():
        raise ValueError("trace holds NaN or infinite values")
    if method not in ("arpls", "asls", "snip", "rolling_ball"):
        raise ValueError(f"unknown baseline method {method!r}")
    if np.ptp(array) == 0:
        return array.copy()
    fitter = Baseline(check_finite=False)
    window = half_window if half_window is not None else max(15, array.size // 10)
    with warnings.catch_warnings():
        # arPLS warns when its weights degenerate (a trace that is nearly all peak or
        # nearly all flat); the baseline it returns is still the best it found.
        warnings.simplefilter("ignore", ParameterWarning)
        if method == "arpls":
            result, _ = fitter.arpls(array, lam=lam)
        elif method == "asls":
            result, _ = fitter.asls(array, lam=lam, p=0.01)
        elif method == "snip":
            result, _ = fitter.snip(array, max_half_window=window, decreasing=True)
        else:
            result = rolling_ball(array, min(window, (array.size - 1) // 2 or 1))
    return np.minimum(np.asarray(result, dtype=np.float64), array.max())
