"""System-suitability figures of chromatographic peaks: S/N, width, tailing, plates, resolution.

:func:`measure_peaks` measures given peaks (apex times known from a ladder or a
deconvolution) on one trace, all peaks at once:

1. **Baseline** (:func:`gcms.signal.baseline`, arPLS) is subtracted from the trace.
2. **Noise** σ is the larger of :func:`gcms.signal.difference_noise` of the corrected
   trace and, where a run's ion-counting :class:`~gcms.signal.NoiseModel` is given, the
   model's σ at the baseline under the apex (a trace cut by an acquisition threshold
   holds mostly zeros, whose differences would make the noise vanish). For a trace that
   sums ``n_ions`` ions the model σ is ``sqrt(n·σ₀² + N_f²·max(B, n·T))``.
3. **Smoothing**: a quadratic Savitzky–Golay filter over about half the half-height
   width, as :func:`gcms.signal.find_peaks` does; the figures are read on it.
4. **Apex**: the highest smoothed point within ``apex_search_fwhm`` widths of the given
   time, refined by a parabola through it and its neighbours; the height ``H`` is the
   smoothed, baseline-corrected value there. A maximum at the edge of the search window
   is no apex (the peak is elsewhere): the peak is "not found".
5. **Crossings** of ``f·H`` (half height; ``tailing_height``) are found walking out from
   the apex on each side and interpolated linearly between scans. A walk that meets a
   valley first (the trace rises more than ``valley_snr`` σ above its running minimum,
   σ of the noise at the level it rises to under the counting-noise model: a neighbouring
   peak) or runs out of trace leaves that side unmeasured. Walks reach ``reach_fwhm``
   widths, and at least ``min_reach_s``.

The figures (Ph. Eur. 2.2.46 and USP <621> conventions):

* **S/N** ``= H / σ`` (root-mean-square noise; the pharmacopoeial peak-to-peak form
  ``2H/h`` with ``h`` ≈ 5σ reads about 2.5 times lower).
* **Width** ``W½``: the distance between the half-height crossings. When one side meets
  a neighbour above half height, twice the free side's half-width (and
  ``width_from_one_side`` says so).
* **Tailing factor** (USP) ``T = W₀.₀₅ / (2 f)``: ``W₀.₀₅`` the width at 5 % of the
  height, ``f`` the apex minus the leading edge at that height; 1 for a symmetric peak,
  > 1 tailing. Not measured when either 5 % crossing is not (NaN).
* **Plate count** ``N = 8 ln 2 · (t_R / W½)²`` (= 5.54 (t_R/W½)², exactly ``(t_R/σ)²``
  for a Gaussian), ``t_R`` the apex time from injection.
* **Resolution** (:func:`resolution`) ``Rs = √(2 ln 2) · (t₂ − t₁) / (W½,₁ + W½,₂)``
  (Ph. Eur. writes 1.18 for √(2 ln 2) = 1.1774); for Gaussians it equals the baseline
  definition ``(t₂ − t₁) / (2σ₁ + 2σ₂)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array
from gcms.run import Run
from gcms.spectrum import nominal_mass

__all__ = [
    "PEAK_WIDTH_FACTOR",
    "PeakMeasureSettings",
    "PeakMeasures",
    "ion_trace",
    "measure_peaks",
    "plate_count",
    "resolution",
]

#: √(2 ln 2): half-height resolution and the baseline (4σ) definition agree for Gaussians.
PEAK_WIDTH_FACTOR = math.sqrt(2.0 * math.log(2.0))
#: 8 ln 2 = 5.545: plates from the half-height width (USP, Ph. Eur. write 5.54).
PLATES_HALF_HEIGHT = 8.0 * math.log(2.0)
#: Width (s, FWHM) assumed when neither the caller nor the trace gives one.
DEFAULT_WIDTH_S = 2.5


@dataclass(frozen=True, slots=True)
class PeakMeasureSettings:
    """Knobs of :func:`measure_peaks` (module notes).

    Parameters
    ----------
    tailing_height
        Fraction of the height at which the tailing factor is measured (USP: 0.05).
    apex_search_fwhm
        The apex is looked for within this many widths of the given time.
    reach_fwhm, min_reach_s
        Crossings are looked for up to this many widths from the apex, and at least this
        far (s): a long tail reaches 5 % far beyond the width the walk was given.
    valley_snr
        A rise of this many σ above the running minimum of a walk is a valley.
    smooth
        Savitzky–Golay smoothing before reading the figures.
    """

    tailing_height: float = 0.05
    apex_search_fwhm: float = 0.6
    reach_fwhm: float = 10.0
    min_reach_s: float = 60.0
    valley_snr: float = 3.0
    smooth: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.tailing_height < 0.5:
            raise ValueError(f"tailing_height must lie in (0, 0.5), got {self.tailing_height}")
        for name in ("apex_search_fwhm", "reach_fwhm", "min_reach_s", "valley_snr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


_FLOATS = ("rt_s", "height", "noise", "signal_to_noise", "width_s", "tailing_factor",
           "plate_count", "left_half_s", "right_half_s")


@dataclass(frozen=True, slots=True, eq=False)
class PeakMeasures:
    """The figures of each measured peak, one entry per requested peak (NaN: not measured).

    ``found`` is False where no apex lies near the requested time; ``width_from_one_side``
    where ``width_s`` is twice one side's half-width (a neighbour on the other);
    ``left_half_s``/``right_half_s`` the apex-to-half-height distances.
    """

    rt_s: np.ndarray
    height: np.ndarray
    noise: np.ndarray
    signal_to_noise: np.ndarray
    width_s: np.ndarray
    tailing_factor: np.ndarray
    plate_count: np.ndarray
    left_half_s: np.ndarray
    right_half_s: np.ndarray
    found: np.ndarray
    width_from_one_side: np.ndarray

    def __post_init__(self) -> None:
        for name in _FLOATS:
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.float64,
                                                        name=name))
        for name in ("found", "width_from_one_side"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.bool_,
                                                        name=name))

    def __len__(self) -> int:
        return int(self.rt_s.size)

    def row(self, i: int) -> dict[str, Any]:
        """Peak ``i`` as a JSON-ready dict (None where not measured)."""
        out: dict[str, Any] = {}
        for name in _FLOATS:
            value = float(getattr(self, name)[i])
            out[name] = value if math.isfinite(value) else None
        out["found"] = bool(self.found[i])
        out["width_from_one_side"] = bool(self.width_from_one_side[i])
        return out


def ion_trace(run: Run, ions: Sequence[int]) -> np.ndarray:
    """Per scan, the summed abundance of the nominal masses ``ions`` (float64)."""
    inside = np.isin(nominal_mass(run.mz), np.asarray(list(ions), dtype=np.int64))
    scan_of_peak = np.repeat(np.arange(run.n_scans), run.points_per_scan)
    return np.bincount(scan_of_peak[inside], weights=run.intensity[inside].astype(np.float64),
                       minlength=run.n_scans)


def resolution(rt1_s: ArrayLike, width1_s: ArrayLike, rt2_s: ArrayLike, width2_s: ArrayLike
               ) -> np.ndarray:
    """Half-height resolution ``√(2 ln 2)·|t₂ − t₁| / (W½,₁ + W½,₂)`` (module notes)."""
    t1, w1, t2, w2 = (np.asarray(x, dtype=np.float64) for x in (rt1_s, width1_s, rt2_s,
                                                                   width2_s))
    with np.errstate(invalid="ignore", divide="ignore"):
        return PEAK_WIDTH_FACTOR * np.abs(t2 - t1) / (w1 + w2)


def plate_count(rt_s: ArrayLike, width_s: ArrayLike) -> np.ndarray:
    """Plates from the half-height width: ``8 ln 2 · (t_R / W½)²``."""
    t, w = np.asarray(rt_s, dtype=np.float64), np.asarray(width_s, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return PLATES_HALF_HEIGHT * (t / w) ** 2


def _typical_width_s(corrected: np.ndarray, times: np.ndarray, sigma: float) -> float:
    """Median half-height width (s) of the strongest peaks of a trace."""
    from gcms.signal.peaks import typical_half_width

    width = typical_half_width(corrected, sigma)
    if width is None:
        return DEFAULT_WIDTH_S
    dt = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    return float(width * dt) or DEFAULT_WIDTH_S


def _crossings(smoothed: np.ndarray, apex: np.ndarray, level: np.ndarray, side: int,
               reach: int, valley) -> np.ndarray:
    """Fractional scan offset (>0) from each apex to where ``smoothed`` falls to ``level``.

    ``side`` -1 walks left, +1 right; NaN where a valley (a rise above the running minimum
    larger than ``valley(value)``, the noise allowance at the level reached) or the end
    of the trace comes before the trace falls to ``level``. Where noise makes the trace
    cross the level several times (a long tail at 5 % height), the crossing is where a
    straight line fitted to the points from the one before the first fall to the one
    after the last rise crosses it: the first fall alone comes early, biased by the
    noise. A clean crossing is the linear interpolation between its two points. One
    matrix over all peaks.
    """
    n = smoothed.size
    steps = np.arange(1, reach + 1)
    index = apex[:, None] + side * steps[None, :]
    outside = (index < 0) | (index >= n)
    walk = np.where(outside, np.inf, smoothed[np.clip(index, 0, n - 1)])
    running = np.minimum.accumulate(np.where(outside, -np.inf, walk), axis=1)
    rise = (walk - running > valley(np.where(outside, 0.0, walk))) | outside
    # column 0 is the apex itself: x = 0 .. reach
    full = np.concatenate([smoothed[apex][:, None], walk], axis=1)
    x = np.arange(reach + 1, dtype=np.float64)[None, :]
    below = full <= level[:, None]
    first_below = np.where(below.any(axis=1), np.argmax(below, axis=1), reach + 1)
    stop = np.where(rise.any(axis=1), np.argmax(rise, axis=1) + 1, reach + 1)
    ok = first_below < stop
    inside = x < stop[:, None]
    above = (full > level[:, None]) & inside
    last_above = reach - np.argmax(above[:, ::-1], axis=1)
    lo = np.maximum(first_below - 1, 0)
    hi = np.minimum(np.maximum(last_above + 1, first_below), stop - 1)
    mask = (x >= lo[:, None]) & (x <= hi[:, None]) & ok[:, None]
    count = np.maximum(mask.sum(axis=1), 1)
    y = np.where(mask, full, 0.0)
    x_mean = (x * mask).sum(axis=1) / count
    y_mean = y.sum(axis=1) / count
    dx = np.where(mask, x - x_mean[:, None], 0.0)
    slope = (dx * (y - y_mean[:, None] * mask)).sum(axis=1) / np.maximum(
        (dx**2).sum(axis=1), 1e-300)
    with np.errstate(invalid="ignore", divide="ignore"):
        fitted = x_mean + (level - y_mean) / slope
    offset = np.where(slope < 0, np.clip(fitted, lo, hi), np.nan)
    return np.where(ok, offset, np.nan)


def measure_peaks(
    times: ArrayLike,
    trace: ArrayLike,
    rt_s: ArrayLike,
    *,
    width_s: ArrayLike | None = None,
    noise_model=None,
    n_ions: int = 1,
    settings: PeakMeasureSettings | None = None,
) -> PeakMeasures:
    """Measure the peaks of ``trace`` near the times ``rt_s`` (module notes).

    Parameters
    ----------
    times, trace
        Scan times (s, from injection) and the trace (one value per scan).
    rt_s
        Where each peak is expected (its apex is searched near it).
    width_s
        Expected half-height width of each peak (one value or one per peak), which sets
        the search window, the reach of the walks and the smoothing; default the median
        width of the trace's strongest peaks.
    noise_model
        The run's :class:`gcms.signal.NoiseModel` (a floor under the trace's own noise).
    n_ions
        How many ion traces ``trace`` sums (for the noise model).
    settings
        :class:`PeakMeasureSettings`.
    """
    from gcms.signal import baseline, difference_noise, savitzky_golay

    settings = settings or PeakMeasureSettings()
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(trace, dtype=np.float64)
    wanted = np.atleast_1d(np.asarray(rt_s, dtype=np.float64))
    if y.ndim != 1 or t.shape != y.shape:
        raise ValueError(f"times and trace must be 1-D of equal length, got {t.shape} and "
                         f"{y.shape}")
    m = wanted.size
    nan = np.full(m, np.nan)
    if y.size < 7 or m == 0 or not np.any(y):
        return PeakMeasures(nan, nan, nan, nan, nan, nan, nan, nan, nan,
                            np.zeros(m, bool), np.zeros(m, bool))
    base = baseline(y, method="arpls")
    corrected = y - base
    sigma_trace = float(difference_noise(corrected))
    dt = float(np.median(np.diff(t)))
    if width_s is None:
        width = np.full(m, _typical_width_s(corrected, t, max(sigma_trace, 1e-12)))
    else:
        width = np.broadcast_to(np.asarray(width_s, dtype=np.float64), (m,)).copy()
        width[~(width > 0)] = DEFAULT_WIDTH_S
    window = max(3, int(np.median(width) / dt / 2) | 1)
    smoothed = (savitzky_golay(corrected, window, 2) if settings.smooth and window >= 5
                else corrected)

    # apex: the highest smoothed point within the search window, not on its edge
    half_search = np.maximum(np.rint(settings.apex_search_fwhm * width / dt), 1).astype(np.int64)
    centre = np.clip(np.searchsorted(t, wanted), 0, y.size - 1)
    span = int(half_search.max())
    offsets = np.arange(-span, span + 1)
    index = centre[:, None] + offsets[None, :]
    valid = (np.abs(offsets)[None, :] <= half_search[:, None]) & (index >= 0) & (index < y.size)
    values = np.where(valid, smoothed[np.clip(index, 0, y.size - 1)], -np.inf)
    best = np.argmax(values, axis=1)
    apex = index[np.arange(m), best]
    interior = (apex > 0) & (apex < y.size - 1)
    left = smoothed[np.clip(apex - 1, 0, y.size - 1)]
    right = smoothed[np.clip(apex + 1, 0, y.size - 1)]
    height = smoothed[apex]
    found = interior & (height >= left) & (height >= right) & (height > 0)

    noise = np.full(m, sigma_trace)
    if noise_model is not None:
        level = np.maximum(base[apex], n_ions * noise_model.threshold)
        model = np.sqrt(n_ions * noise_model.floor**2 + noise_model.factor**2 * level)
        noise = np.maximum(noise, model)
    noise = np.maximum(noise, 1e-12)

    # apex time by a parabola through the apex and its neighbours
    curvature = left - 2 * height + right
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
    delta = np.clip(np.nan_to_num(delta), -0.5, 0.5)
    apex_time = np.interp(apex + delta, np.arange(y.size, dtype=np.float64), t)

    reach = max(2, int(np.ceil(max(settings.reach_fwhm * float(width.max()),
                                   settings.min_reach_s) / dt)))
    reach = min(reach, y.size)
    under = base[apex][:, None]

    def valley(level: np.ndarray) -> np.ndarray:
        # valley_snr σ of the noise at ``level`` above the baseline: counting noise grows
        # with the signal, and a flank's own scatter is no valley
        if noise_model is None:
            return settings.valley_snr * noise[:, None]
        signal = np.maximum(level + under, n_ions * noise_model.threshold)
        local = np.sqrt(n_ions * noise_model.floor**2 + noise_model.factor**2 * signal)
        return settings.valley_snr * np.maximum(local, noise[:, None])

    def crossing_times(fraction: float) -> tuple[np.ndarray, np.ndarray]:
        level = fraction * height
        out = []
        for side in (-1, 1):
            offset = _crossings(smoothed, apex, level, side, reach, valley)
            out.append(np.interp(apex + side * offset, np.arange(y.size, dtype=np.float64), t))
        return out[0], out[1]

    half_left, half_right = crossing_times(0.5)
    left_half = apex_time - half_left
    right_half = half_right - apex_time
    both = np.isfinite(left_half) & np.isfinite(right_half)
    one_side = ~both & (np.isfinite(left_half) | np.isfinite(right_half))
    width_measured = np.where(both, left_half + right_half,
                              2.0 * np.where(np.isfinite(left_half), left_half, right_half))
    foot_left, foot_right = crossing_times(settings.tailing_height)
    front = apex_time - foot_left
    with np.errstate(invalid="ignore", divide="ignore"):
        tailing = (foot_right - foot_left) / (2.0 * front)
    tailing = np.where(front > 0, tailing, np.nan)

    def keep(values: np.ndarray) -> np.ndarray:
        return np.where(found, values, np.nan)

    return PeakMeasures(
        rt_s=keep(apex_time), height=keep(height), noise=keep(noise),
        signal_to_noise=keep(height / noise), width_s=keep(width_measured),
        tailing_factor=keep(tailing), plate_count=keep(plate_count(apex_time, width_measured)),
        left_half_s=keep(left_half), right_half_s=keep(right_half), found=found,
        width_from_one_side=found & one_side)
