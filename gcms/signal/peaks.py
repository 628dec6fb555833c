"""Peak picking on one chromatographic trace (TIC, an extracted ion, a detector signal).

:func:`find_peaks` returns every peak as columns of a :class:`Peaks` table: apex, start
and end, height, baseline-corrected area, S/N, width at half height and USP tailing.
All steps are array operations over the whole trace (scipy.signal.find_peaks and
peak_widths for the geometry, cumulative sums for the areas); there is no loop over
peaks.

The steps, each with its defensible default in :class:`PeakSettings`:

1. **Baseline** (:func:`gcms.signal.baseline`, arPLS by default) is subtracted.
2. **Noise** σ is :func:`gcms.signal.difference_noise` of the corrected trace (at
   least 1e-4 of the trace's range, for noise-free or thresholded traces).
3. **Smoothing**: a Savitzky–Golay filter (quadratic) over ``smooth_points`` points,
   by default about half the median half-height width of the strongest peaks.
4. **Apexes**: local maxima of the smoothed trace whose prominence is at least
   ``min_snr · σ`` (the prominence is the height above the higher of the two valleys
   that separate the peak from taller ones, scipy's definition).
5. **Boundaries**: going out from the apex, the first point where the smoothed trace
   falls to ``boundary_snr · σ`` above the baseline (for a peak in a dip below the
   fitted baseline: to its own base, apex minus prominence), or the lowest point
   between this apex and the next (a valley: drop-line split of fused peaks), whichever
   comes first.
6. **Height** is the baseline-corrected trace at the apex; **area** the trapezoidal
   integral of the corrected trace from start to end above the straight line that joins
   the ends of its cluster of fused peaks (an integrator's baseline drawn from the start
   of the cluster to its end, with drop lines at the valleys between its peaks), in
   signal units × seconds.
7. **S/N** = height / σ. **Width** is the full width at half height (seconds, linear
   interpolation). **Tailing** is the USP tailing factor at 5 % of the height,
   ``T = W₀.₀₅ / (2 f)``, where ``W₀.₀₅`` is the width at 5 % height and ``f`` the apex
   minus the leading edge at the same height (1.0 for a symmetric peak; > 1 tails).
   Heights for width and tailing are taken relative to the peak's prominence, so a
   shoulder on a larger peak is measured above its valley.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array
from gcms.signal.baseline import BaselineMethod, baseline
from gcms.signal.noise import difference_noise
from gcms.signal.smoothing import savitzky_golay

__all__ = ["PeakSettings", "Peaks", "find_peaks", "typical_half_width"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PeakSettings:
    """Knobs of :func:`find_peaks`, with the defaults a lab can defend.

    Attributes
    ----------
    min_snr : float
        Minimum prominence in units of the noise σ. 3 is the usual limit of detection,
        10 the limit of quantitation; 5 keeps noise spikes out of a full-scan TIC.
    baseline : {"arpls", "asls", "snip", "rolling_ball"} or None
        Baseline algorithm, None when the trace is already baseline-corrected.
    lam : float
        Smoothness of the penalised least-squares baselines (see :func:`baseline`).
    smooth_points : int, optional
        Savitzky–Golay window (odd); None picks it from the trace (about half the
        half-height width of the tallest peaks, at least 3: no smoothing below 5).
    boundary_snr : float
        A peak ends where the smoothed trace falls to this many σ above the baseline.
    min_width_s : float
        Peaks narrower than this at half height are dropped (spikes); 0 keeps all.
    """

    min_snr: float = 5.0
    baseline: BaselineMethod | None = "arpls"
    lam: float = 1e7
    smooth_points: int | None = None
    boundary_snr: float = 1.0
    min_width_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.min_snr > 0:
            raise ValueError(f"min_snr must be > 0, got {self.min_snr}")
        points = self.smooth_points
        if points is not None and (points < 1 or not points % 2):
            raise ValueError(f"smooth_points must be a positive odd number, got {points}")
        if self.boundary_snr < 0:
            raise ValueError(f"boundary_snr must be >= 0, got {self.boundary_snr}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


#: Smallest noise σ, as a fraction of the trace's range: a noise-free or thresholded
#: trace has no measurable noise and its numerical ripple must not make peaks.
RELATIVE_NOISE_FLOOR = 1e-4

_INT_COLUMNS = ("apex", "start", "end")
_FLOAT_COLUMNS = (
    "rt_s", "start_s", "end_s", "height", "area", "snr", "width_s", "tailing",
)


@dataclass(frozen=True, slots=True, eq=False)
class Peaks:
    """Peaks of one trace as columns (one row per peak, in time order).

    ``apex``, ``start``, ``end`` are indices into the trace (``end`` inclusive);
    ``rt_s``, ``start_s``, ``end_s`` the matching times; ``height`` and ``area`` are
    baseline-corrected (signal, signal × s); ``snr`` is height over the noise σ;
    ``width_s`` the full width at half height; ``tailing`` the USP tailing factor at 5 %.
    ``noise`` is the σ used and ``baseline`` the baseline subtracted (per point).
    """

    apex: np.ndarray
    start: np.ndarray
    end: np.ndarray
    rt_s: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    height: np.ndarray
    area: np.ndarray
    snr: np.ndarray
    width_s: np.ndarray
    tailing: np.ndarray
    noise: float = 0.0
    baseline: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        n = None
        for name in _INT_COLUMNS + _FLOAT_COLUMNS:
            dtype = np.int64 if name in _INT_COLUMNS else np.float64
            array = frozen_array(getattr(self, name), dtype, name=name)
            if n is not None and array.size != n:
                raise ValueError(f"peak column {name} has {array.size} rows, not {n}")
            n = array.size
            object.__setattr__(self, name, array)
        base = frozen_array(self.baseline, np.float64, name="baseline")
        object.__setattr__(self, "baseline", base)
        object.__setattr__(self, "noise", float(self.noise))

    def __reduce__(self):
        return (_rebuild, ({f.name: getattr(self, f.name) for f in dataclasses.fields(self)},))

    def __len__(self) -> int:
        return int(self.apex.size)

    def to_dict(self) -> dict[str, Any]:
        """Column-wise JSON form (the baseline left out; ``noise`` as a number)."""
        out: dict[str, Any] = {name: getattr(self, name).tolist()
                               for name in _INT_COLUMNS + _FLOAT_COLUMNS}
        out["noise"] = self.noise
        return out


def _rebuild(values: dict[str, Any]) -> Peaks:
    return Peaks(**values)


def _interp_time(times: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Time at fractional index positions (linear between scans)."""
    return np.interp(position, np.arange(times.size, dtype=np.float64), times)


def typical_half_width(y: ArrayLike, sigma: float) -> float | None:
    """Median full width at half height, in points, of the most prominent peaks of ``y``.

    The (up to) ten most prominent peaks whose prominence is at least ``10 σ``
    (:func:`scipy.signal.find_peaks`, :func:`scipy.signal.peak_widths` at half height):
    the width a trace's peaks typically have, to size a smoothing window or a search
    window before the peaks themselves are measured.

    Parameters
    ----------
    y : array_like
        A 1-D trace, baseline-corrected.
    sigma : float
        Its noise σ (:func:`gcms.signal.difference_noise`).

    Returns
    -------
    float or None
        The median width in points; None when no peak stands 10 σ high.

    Examples
    --------
    >>> import numpy as np
    >>> from gcms.signal import typical_half_width
    >>> x = np.arange(400.0)
    >>> trace = sum(h * np.exp(-0.5 * ((x - c) / 4.0) ** 2)
    ...             for c, h in ((100, 50.0), (200, 80.0), (300, 60.0)))
    >>> round(typical_half_width(trace, 1.0), 1)   # 2 √(2 ln 2) · 4
    9.4
    >>> typical_half_width(np.zeros(50), 1.0) is None
    True
    """
    from scipy.signal import find_peaks as scipy_find_peaks
    from scipy.signal import peak_widths

    trace = np.asarray(y, dtype=np.float64)
    apexes, props = scipy_find_peaks(trace, prominence=max(10 * sigma, 1e-300))
    if apexes.size == 0:
        return None
    top = apexes[np.argsort(props["prominences"])[-10:]]
    return float(np.median(peak_widths(trace, top, rel_height=0.5)[0]))


def _auto_window(smoothed_guess: np.ndarray, sigma: float) -> int:
    """Savitzky–Golay window from the half-height width of the tallest peaks."""
    width = typical_half_width(smoothed_guess, sigma)
    if width is None:
        return 3
    half = int(width / 2)
    window = max(3, half | 1)
    return window


def _valley_indices(y: np.ndarray, apexes: np.ndarray) -> np.ndarray:
    """Index of the lowest point between each pair of consecutive apexes."""
    if apexes.size < 2:
        return np.empty(0, dtype=np.int64)
    index = np.arange(apexes[0], apexes[-1] + 1)
    segment = np.searchsorted(apexes, index, side="right") - 1  # 0..n-1; last apex alone
    inside = segment < apexes.size - 1
    index, segment = index[inside], segment[inside]
    order = np.lexsort((y[index], segment))
    first = np.concatenate([[True], np.diff(segment[order]) != 0])
    return index[order][first]


def find_peaks(
    y: ArrayLike,
    times: ArrayLike,
    *,
    settings: PeakSettings | None = None,
) -> Peaks:
    """Pick the peaks of one trace (see the module notes for the method).

    Parameters
    ----------
    y : array_like
        The trace, one value per scan (TIC, extracted ion, detector signal).
    times : array_like
        Scan times in seconds, non-decreasing, same length as ``y``.
    settings : PeakSettings, optional
        Thresholds and methods; the defaults when None.

    Returns
    -------
    Peaks
        One row per peak in time order (empty when the trace has none).

    Raises
    ------
    ValueError
        ``y`` and ``times`` not 1-D of equal length, or holding NaN or infinite values.

    Examples
    --------
    Two Gaussian peaks on a sloping baseline with noise, at 30 s and 60 s:

    >>> import numpy as np
    >>> from gcms.signal import find_peaks
    >>> t = np.arange(0.0, 90.0, 0.2)
    >>> peak = lambda at, height: height * np.exp(-0.5 * ((t - at) / 1.0) ** 2)
    >>> noise = np.random.default_rng(2).normal(0.0, 5.0, t.size)
    >>> trace = 100.0 + 0.5 * t + peak(30.0, 2000.0) + peak(60.0, 800.0) + noise
    >>> peaks = find_peaks(trace, t)
    >>> peaks.rt_s.round(1).tolist()
    [30.0, 60.0]
    >>> bool(np.all(peaks.snr > 100))
    True
    """
    from scipy.signal import find_peaks as scipy_find_peaks
    from scipy.signal import peak_widths

    settings = settings or PeakSettings()
    trace = np.asarray(y, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    if trace.ndim != 1 or t.shape != trace.shape:
        raise ValueError(f"y and times must be 1-D of equal length, got {trace.shape} "
                         f"and {t.shape}")
    if not (np.isfinite(trace).all() and np.isfinite(t).all()):
        raise ValueError("trace or times hold NaN or infinite values")
    empty = Peaks(**dict.fromkeys(_INT_COLUMNS + _FLOAT_COLUMNS, np.zeros(0)), noise=0.0,
                  baseline=np.zeros(trace.size))
    if trace.size < 5 or np.ptp(trace) == 0:
        return empty
    base = baseline(trace, method=settings.baseline, lam=settings.lam) if settings.baseline \
        else np.zeros_like(trace)
    corrected = trace - base
    span = float(np.ptp(corrected))
    sigma = max(cast(float, difference_noise(corrected)), RELATIVE_NOISE_FLOOR * span)
    if sigma <= 0:
        return dataclasses.replace(empty, baseline=base)
    window = settings.smooth_points or _auto_window(corrected, sigma)
    smoothed = savitzky_golay(corrected, window, 2) if window >= 5 else corrected
    apex, props = scipy_find_peaks(smoothed, prominence=settings.min_snr * sigma)
    if apex.size == 0:
        return dataclasses.replace(empty, noise=sigma, baseline=base)

    # Boundaries: fall to boundary_snr·σ (or, for a peak whose apex does not even rise
    # that far above the fitted baseline, to its own base: apex minus prominence), or
    # the valley towards the neighbouring apex; whichever comes first.
    n = trace.size
    index = np.arange(n)
    level = settings.boundary_snr * sigma
    low = smoothed <= level
    last_low = np.maximum.accumulate(np.where(low, index, 0))
    next_low = np.minimum.accumulate(np.where(low, index, n - 1)[::-1])[::-1]
    above = smoothed[apex] > level
    foot = peak_widths(smoothed, apex, rel_height=1.0, prominence_data=(
        props["prominences"], props["left_bases"], props["right_bases"]))
    start = np.where(above, last_low[apex], np.floor(foot[2]).astype(np.int64))
    end = np.where(above, next_low[apex], np.ceil(foot[3]).astype(np.int64))
    start = np.minimum(start, apex)
    end = np.maximum(end, apex)
    valleys = _valley_indices(smoothed, apex)
    if valleys.size:
        start[1:] = np.maximum(start[1:], valleys)
        end[:-1] = np.minimum(end[:-1], valleys)

    height = corrected[apex]
    # Area above the line joining the ends of each cluster of fused peaks (peaks split
    # at valleys share one line, drop-line split), trapezoid rule on real times.
    cluster = np.cumsum(np.concatenate([[True], start[1:] != end[:-1]])) - 1
    first = np.flatnonzero(np.concatenate([[True], cluster[1:] != cluster[:-1]]))
    last = np.concatenate([first[1:] - 1, [apex.size - 1]])
    c_start, c_end = start[first][cluster], end[last][cluster]
    slope = (corrected[c_end] - corrected[c_start]) / np.maximum(t[c_end] - t[c_start], 1e-300)
    line_start = corrected[c_start] + slope * (t[start] - t[c_start])
    line_end = corrected[c_start] + slope * (t[end] - t[c_start])
    segment_area = 0.5 * (corrected[1:] + corrected[:-1]) * np.diff(t)
    cumulative = np.concatenate([[0.0], np.cumsum(segment_area)])
    under_line = 0.5 * (line_start + line_end) * (t[end] - t[start])
    area = cumulative[end] - cumulative[start] - under_line

    half = peak_widths(smoothed, apex, rel_height=0.5, prominence_data=(
        props["prominences"], props["left_bases"], props["right_bases"]))
    width_s = _interp_time(t, half[3]) - _interp_time(t, half[2])
    foot = peak_widths(smoothed, apex, rel_height=0.95, prominence_data=(
        props["prominences"], props["left_bases"], props["right_bases"]))
    front = apex - foot[2]
    tailing = np.where(front > 0, (foot[3] - foot[2]) / (2.0 * np.maximum(front, 1e-12)), np.nan)

    keep = width_s >= settings.min_width_s
    columns = dict(
        apex=apex, start=start, end=end, rt_s=t[apex], start_s=t[start], end_s=t[end],
        height=height, area=area, snr=height / sigma, width_s=width_s, tailing=tailing,
    )
    return Peaks(**{k: v[keep] for k, v in columns.items()}, noise=sigma, baseline=base)
