"""Noise of ion traces: a robust per-trace estimate and the ion-counting noise model.

Two estimates, for two uses:

``difference_noise(y)``
    σ of one trace from its second differences, robust to peaks and drift::

        σ = 1.4826 · median(|y[i-1] - 2 y[i] + y[i+1]|) / √6

    For white noise of variance σ² a second difference has variance 6σ²; the median
    absolute value (scaled by 1.4826, the normal consistency constant) ignores the few
    differences that fall on peak flanks. Zeros from an acquisition threshold count as
    zero differences, so a thresholded trace has a small σ: use :func:`estimate_noise`
    where the level-dependence of the noise matters.

``estimate_noise(matrix)``
    The ion-counting noise model of a whole run, the model AMDIS builds in its noise
    perception step (Stein, JASMS 10 (1999) 770): in an electron-multiplier detector the
    noise grows with the square root of the signal, so one *noise factor* describes
    every ion at every level. Here the model has a constant term as well::

        σ(s)² = σ₀² + N_f² · max(s, T)

    where ``T`` is the acquisition threshold (the smallest positive abundance the run
    holds: below it nothing was recorded). The two parameters are fitted to noise
    *segments*: every ion is cut into windows of 13 scans (AMDIS's segment length); a
    window is kept when the ion is non-zero in all 13 scans and its residual around a
    straight line crosses zero at least 4 times out of 12 (a peak or a step crosses it
    once or twice, noise about six times). Each kept window gives a level (its mean) and
    a variance (residual variance, 2 degrees of freedom for the line). The windows are
    grouped in ten level bins of equal counts; the median variance of each bin against
    its median level is fitted by non-negative least squares for ``σ₀²`` and ``N_f²``.
    Medians make the fit indifferent to the few windows that still hold a peak flank.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["NoiseModel", "difference_noise", "estimate_noise"]

#: Consistency constant of the median absolute deviation for normal noise.
MAD_TO_SIGMA = 1.4826
#: Length of the noise segments in scans (AMDIS uses 13-scan segments).
NOISE_SEGMENT_SCANS = 13
#: Minimum number of zero crossings of a segment's residual for it to count as noise.
MIN_NOISE_CROSSINGS = 4


def difference_noise(y: ArrayLike, *, axis: int = 0) -> np.ndarray | float:
    """Robust σ of white noise in ``y`` from its second differences (see module notes).

    Parameters
    ----------
    y : array_like
        A 1-D trace or a matrix of traces.
    axis : int, default 0
        The axis along which the traces run (the scans of a scan × ion matrix).

    Returns
    -------
    float or numpy.ndarray
        A float for a 1-D trace, one σ per trace (float64 array) for a matrix; 0 for a
        trace of fewer than 3 points.

    Examples
    --------
    The σ of Gaussian noise is found, and a peak on it hardly changes it:

    >>> import numpy as np
    >>> from gcms.signal import difference_noise
    >>> noise = np.random.default_rng(0).normal(0.0, 2.0, 2000)
    >>> round(difference_noise(noise), 1)
    2.0
    >>> peak = 500.0 * np.exp(-0.5 * ((np.arange(2000) - 1000) / 5.0) ** 2)
    >>> round(difference_noise(noise + peak), 1)
    2.0
    """
    array = np.asarray(y, dtype=np.float64)
    if array.shape[axis] < 3:
        sigma = np.zeros(np.delete(array.shape, axis)) if array.ndim > 1 else 0.0
        return sigma
    second = np.diff(array, n=2, axis=axis)
    sigma = MAD_TO_SIGMA * np.median(np.abs(second), axis=axis) / np.sqrt(6.0)
    return float(sigma) if array.ndim == 1 else sigma


@dataclass(frozen=True, slots=True, eq=False)
class NoiseModel:
    """Ion-counting noise model of one run: ``σ(s) = sqrt(σ₀² + N_f² · max(s, T))``.

    Attributes
    ----------
    factor : float
        Noise factor ``N_f`` (square root of abundance units): the σ of a signal of
        abundance ``s`` grows as ``N_f · √s``. 1.0 for a detector that reports ion counts.
    floor : float
        ``σ₀``, the level-independent part (electronic noise), abundance units.
    threshold : float
        ``T``, the smallest positive abundance in the data (the acquisition threshold);
        0 when the data have none.
    n_segments : int
        Number of 13-scan noise segments the fit used; 0 means the data held no noise
        segment and the model fell back to pure counting noise (``N_f = 1``).
    """

    factor: float
    floor: float
    threshold: float
    n_segments: int

    def sigma(self, signal: ArrayLike) -> np.ndarray:
        """σ of the noise on a signal of the given abundance (array in, array out)."""
        level = np.maximum(np.asarray(signal, dtype=np.float64), self.threshold)
        return np.sqrt(self.floor**2 + self.factor**2 * level)

    @property
    def baseline_sigma(self) -> float:
        """σ at the lowest recorded level (the threshold): the noise of an empty baseline."""
        return float(self.sigma(0.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


def _segments(matrix: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Levels and residual variances of the noise segments of every ion."""
    n_scans, n_ions = matrix.shape
    n_seg = n_scans // length
    if n_seg == 0:
        return np.empty(0), np.empty(0)
    blocks: np.ndarray = matrix[: n_seg * length].reshape(n_seg, length, n_ions)
    blocks = np.moveaxis(blocks, 1, 2).reshape(-1, length)  # one row per (segment, ion)
    full = (blocks > 0).all(axis=1)
    blocks = blocks[full].astype(np.float64)
    if not blocks.size:
        return np.empty(0), np.empty(0)
    x = np.arange(length, dtype=np.float64) - (length - 1) / 2.0
    mean = blocks.mean(axis=1)
    slope = blocks @ x / (x @ x)
    residual = blocks - mean[:, None] - slope[:, None] * x
    crossings = np.count_nonzero(np.diff(np.signbit(residual), axis=1), axis=1)
    noise_like = crossings >= MIN_NOISE_CROSSINGS
    variance = (residual**2).sum(axis=1) / (length - 2)
    return mean[noise_like], variance[noise_like]


def estimate_noise(matrix: ArrayLike) -> NoiseModel:
    """Fit the ion-counting noise model to a scan × ion matrix (see module notes).

    Vectorised over all ions and segments; a 3,600 × 516 matrix takes a few milliseconds.

    Parameters
    ----------
    matrix : array_like
        Abundances, scans × ions (e.g. :meth:`gcms.Run.matrix`).

    Returns
    -------
    NoiseModel
        The fitted factor, floor and threshold, and the number of noise segments used;
        with fewer than 10 segments the factor is 1 and the floor 0 (``n_segments``
        says so).

    Raises
    ------
    ValueError
        ``matrix`` not 2-D.

    Examples
    --------
    Poisson counts have a noise factor of 1 (σ² = s):

    >>> import numpy as np
    >>> from gcms.signal import estimate_noise
    >>> counts = np.random.default_rng(1).poisson(400.0, size=(1300, 40))
    >>> model = estimate_noise(counts)
    >>> round(model.factor, 1), model.n_segments > 3000
    (1.0, True)
    """
    from gcms._imports import nnls  # scipy.optimize.nnls, without all of scipy.optimize

    data = np.asarray(matrix)
    if data.dtype not in (np.float32, np.float64):
        data = data.astype(np.float64)
    if data.ndim != 2:
        raise ValueError(f"expected a scan × ion matrix, got shape {data.shape}")
    smallest = float(np.min(data, initial=np.inf, where=data > 0))
    threshold = smallest if np.isfinite(smallest) else 0.0
    level, variance = _segments(data, NOISE_SEGMENT_SCANS)
    if level.size < 10:
        return NoiseModel(factor=1.0, floor=0.0, threshold=threshold, n_segments=int(level.size))
    order = np.argsort(level)
    bins = np.array_split(order, 10)
    bin_level = np.array([np.median(level[b]) for b in bins])
    # The median of a chi-square(11) variance is 0.94 of its mean: correct the bias.
    bin_variance = np.array([np.median(variance[b]) for b in bins]) / 0.94
    design = np.column_stack([np.ones_like(bin_level), bin_level])
    # Relative (not absolute) residuals: weight each bin by 1/variance so that the
    # low-level bins, where the floor shows, count as much as the high ones.
    weight = 1.0 / np.maximum(bin_variance, np.finfo(float).tiny)
    coef, _ = nnls(design * weight[:, None], bin_variance * weight)
    floor2, factor2 = coef
    if factor2 <= 0 and floor2 <= 0:
        return NoiseModel(factor=1.0, floor=0.0, threshold=threshold, n_segments=int(level.size))
    return NoiseModel(
        factor=float(np.sqrt(factor2)),
        floor=float(np.sqrt(floor2)),
        threshold=threshold,
        n_segments=int(level.size),
    )


