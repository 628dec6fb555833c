"""Peak integration on one trace (an extracted ion or the TIC), by a rule a reviewer can redo.

The rule, step by step (knobs in :class:`~gcms.quantitation.method.IntegrationSettings`):

1. **Smoothing.** ``s`` is the trace smoothed by a centred moving average of
   ``smoothing_scans`` scans. It is used only to place the apex and the limits; the area
   and the height are taken on the raw trace.
2. **Apex.** The local maxima of ``s`` inside the retention window
   ``[rt_s - window_s, rt_s + window_s]``; the largest (``peak_selection = "largest"``)
   or the one nearest ``rt_s`` among those that pass the S/N test (``"closest"``).
3. **Noise and background.** σ is the robust noise of the raw trace around the apex
   (``±2 × max_half_width_s``) from its second differences,
   ``σ = 1.4826 · median|y[i-1] - 2y[i] + y[i+1]| / √6``, never below ``noise_floor``
   (the caller passes a third of the acquisition threshold: a signal at the threshold
   is S/N 3, since nothing below it was recorded). The local background ``b`` is the
   lowest value of ``s`` within ``±max_half_width_s`` of the apex; the height above it
   is ``h = s[apex] - b``.
4. **Limits.** Walking out from the apex on each side, a limit is the first scan where
   ``s ≤ b + max(end_fraction · h, noise_multiple · σ)`` ("level"), or the lowest scan
   before ``s`` rises again by more than ``max(valley_rise_fraction · h,
   noise_multiple · σ)`` ("valley": a neighbouring peak), whichever comes first; never
   further than ``max_half_width_s`` from the apex ("width limit").
5. **Baseline.** A straight line between ``s`` at the two ends of the peak *cluster*:
   at a "level" or "width limit" limit the cluster ends there; past a valley it ends
   where ``s`` next falls to the level (within ``max_half_width_s`` of the apex). So a
   lone peak is cut at its own limits, and a peak beside a neighbour is cut by a
   perpendicular drop at the valley under the common baseline (the "drop line" of
   chromatography data systems), not by a line to the valley's top. Area = trapezoidal
   integral of ``raw - baseline`` between the peak's limits (intensity × s); height =
   the largest ``raw - baseline`` there. Smoothed values anchor the line, so one noisy
   scan does not tilt it.
6. **Detection.** S/N = ``(s[apex] - baseline) / σ`` at least ``min_snr`` and at least
   ``min_scans`` scans between the limits.
7. **Saturation.** The raw apex at or above ``saturation_counts`` (the detector's or the
   file encoding's ceiling, from the method), or a flat top: ``saturation_plateau_scans``
   consecutive scans within ``saturation_plateau_tolerance`` of the apex value on a peak
   of S/N ≥ 100 (a clipped detector repeats one value; a real apex does not).

Qualifier ions are integrated between the quantifier's limits, their baseline a line
between their own smoothed values at those limits (:func:`integrate_between`).
Everything a reviewer needs to redraw the integration (limits, why each limit is where
it is, the baseline's anchors and ends, σ) is kept in the :class:`Integration` result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gcms.quantitation.method import IntegrationSettings
from gcms.signal.noise import difference_noise
from gcms.signal.smoothing import moving_average  # re-exported: the one moving average

__all__ = [
    "Integration",
    "integrate_between",
    "integrate_peak",
    "moving_average",
    "robust_noise",
]

#: A flat top is only taken for saturation on a peak this far above the noise: at low
#: levels quantised counts repeat by chance, and no detector saturates near its noise.
PLATEAU_MIN_SNR = 100.0


@dataclass(frozen=True, slots=True)
class Integration:
    """One integrated peak (or the reason there is none), with its limits for review.

    Times in seconds, scans as indices into the run, ``area`` in intensity × s,
    ``baseline_start``/``baseline_end`` the baseline's intensity at the two limits,
    ``baseline_from_s``/``baseline_to_s`` where the baseline line is anchored (the
    cluster's ends; the limits themselves for a lone peak).
    """

    signal: str
    detected: bool
    window_s: tuple[float, float]
    rt_s: float | None = None
    apex_scan: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    start_scan: int | None = None
    end_scan: int | None = None
    start_rule: str = ""
    end_rule: str = ""
    baseline_start: float = 0.0
    baseline_end: float = 0.0
    baseline_from_s: float | None = None
    baseline_to_s: float | None = None
    area: float = 0.0
    height: float = 0.0
    noise: float = 0.0
    snr: float = 0.0
    saturated: bool = False
    saturation: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dataclasses.asdict(self)
        out["window_s"] = list(self.window_s)
        return out


def robust_noise(y: ArrayLike) -> float:
    """σ of white noise in one trace from second differences: ``1.4826 · median|Δ²y| / √6``.

    :func:`gcms.signal.difference_noise` of a 1-D trace (0 for fewer than 3 points).
    """
    return float(difference_noise(np.asarray(y, dtype=np.float64).reshape(-1)))


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def _walk(s: np.ndarray, level: float, rise: float) -> tuple[int | None, str, int | None]:
    """Limit and cluster end (offsets into ``s``, which walks outwards from the apex)."""
    at_level = _first(s <= level)
    running_min = np.minimum.accumulate(s) if s.size else s
    rising = _first(s - running_min > rise)
    valley = int(np.argmin(s[: rising + 1])) if rising is not None else None
    if at_level is not None and (valley is None or at_level <= valley):
        return at_level, "level", at_level
    if valley is not None:
        back = _first(s[valley:] <= level)
        return valley, "valley", (valley + back if back is not None else None)
    return None, "", None


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def _baseline_area(t: np.ndarray, y: np.ndarray, s: np.ndarray, start: int, end: int,
                   anchors: tuple[int, int] | None = None
                   ) -> tuple[float, float, float, int, float]:
    """Baseline at the limits, area, raw apex index and height between two limits.

    The baseline is the line through ``s`` at ``anchors`` (default: the limits).
    """
    a0, a1 = anchors or (start, end)
    span = t[a1] - t[a0]
    tt, yy = t[start:end + 1], y[start:end + 1]
    slope = (s[a1] - s[a0]) / span if span > 0 else 0.0
    base = s[a0] + slope * (tt - t[a0])
    net = yy - base
    area = float(np.sum((net[1:] + net[:-1]) * np.diff(tt)) / 2.0) if tt.size > 1 else 0.0
    top = int(np.argmax(net))
    return float(base[0]), float(base[-1]), area, start + top, float(net[top])


def integrate_peak(
    times: ArrayLike,
    trace: ArrayLike,
    *,
    rt_s: float,
    window_s: float,
    settings: IntegrationSettings | None = None,
    noise_floor: float = 0.0,
    saturation_counts: float | None = None,
    signal: str = "",
) -> Integration:
    """Find and integrate the peak of ``trace`` near ``rt_s`` (the rule: module notes).

    Parameters
    ----------
    times : array_like
        Scan times (s), non-decreasing.
    trace : array_like
        Intensity per scan (an extracted ion, or the TIC).
    rt_s, window_s : float
        Expected retention time and the half-width of the search window (s).
    settings : IntegrationSettings, optional
        The rule's knobs (defaults: :class:`IntegrationSettings`).
    noise_floor : float
        Smallest noise σ to assume (intensity units).
    saturation_counts : float, optional
        The detector's (or the file encoding's) ceiling.
    signal : str
        Label kept with the result (``"m/z 342"``).
    """
    settings = settings or IntegrationSettings()
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(trace, dtype=np.float64)
    window = (float(rt_s - window_s), float(rt_s + window_s))
    missing = Integration(signal=signal, detected=False, window_s=window)
    i0, i1 = np.searchsorted(t, window[0], "left"), np.searchsorted(t, window[1], "right")
    if i1 <= i0 or y.size < 3:
        return dataclasses.replace(missing, message=f"{signal}: no scans in "
                                   f"{window[0]:.1f}-{window[1]:.1f} s")
    s = moving_average(y, settings.smoothing_scans)
    inner = np.arange(max(i0, 1), min(i1, y.size - 1))
    maxima = inner[(s[inner] >= s[inner - 1]) & (s[inner] > s[inner + 1])]
    if maxima.size == 0:
        return dataclasses.replace(missing, message=f"{signal}: no peak maximum in "
                                   f"{window[0]:.1f}-{window[1]:.1f} s")

    half = settings.max_half_width_s

    def local(apex: int) -> tuple[float, float, int, int]:
        near = slice(np.searchsorted(t, t[apex] - 2 * half), np.searchsorted(t, t[apex] + 2 * half,
                                                                            "right"))
        sigma = max(robust_noise(y[near]), noise_floor)
        lo = int(np.searchsorted(t, t[apex] - half, "left"))
        hi = int(np.searchsorted(t, t[apex] + half, "right")) - 1
        return sigma, float(s[lo:hi + 1].min()), lo, hi

    if settings.peak_selection == "largest":
        apex = int(maxima[np.argmax(s[maxima])])
    else:
        # nearest maximum whose smoothed height clears min_snr above its own background
        passing = [m for m in maxima if (s[m] - local(m)[1]) >= settings.min_snr * local(m)[0]]
        pool = np.array(passing or maxima)
        apex = int(pool[np.argmin(np.abs(t[pool] - rt_s))])
    sigma, background, lo, hi = local(apex)
    height_s = float(s[apex] - background)
    level = background + max(settings.end_fraction * height_s, settings.noise_multiple * sigma)
    rise = max(settings.valley_rise_fraction * height_s, settings.noise_multiple * sigma)

    right, end_rule, right_cluster = _walk(s[apex + 1:hi + 1], level, rise)
    end = apex + 1 + right if right is not None else hi
    left, start_rule, left_cluster = _walk(s[lo:apex][::-1], level, rise)
    start = apex - 1 - left if left is not None else lo
    if right is None:
        end_rule = "trace end" if hi == y.size - 1 and t[-1] < t[apex] + half else "width limit"
    if left is None:
        start_rule = "trace start" if lo == 0 and t[0] > t[apex] - half else "width limit"
    anchor_end = apex + 1 + right_cluster if right_cluster is not None else hi
    anchor_start = apex - 1 - left_cluster if left_cluster is not None else lo
    if right is None:
        anchor_end = end
    if left is None:
        anchor_start = start

    b0, b1, area, top, height = _baseline_area(t, y, s, start, end,
                                               (anchor_start, anchor_end))
    span = t[end] - t[start]
    base_at_apex = b0 + (b1 - b0) * ((t[apex] - t[start]) / span if span > 0 else 0.0)
    snr = float((s[apex] - base_at_apex) / sigma) if sigma > 0 else float("inf")

    saturated, why = False, None
    peak_max = float(y[top])
    if saturation_counts is not None and peak_max >= saturation_counts:
        saturated, why = True, (f"apex {peak_max:.0f} at or above the ceiling "
                                f"{saturation_counts:.0f}")
    else:
        flat = y[start:end + 1] >= peak_max * (1.0 - settings.saturation_plateau_tolerance)
        run = _longest_run(flat)
        if run >= settings.saturation_plateau_scans and snr >= PLATEAU_MIN_SNR:
            saturated, why = True, f"flat top: {run} consecutive scans at {peak_max:.0f}"

    n_scans = end - start + 1
    detected = snr >= settings.min_snr and n_scans >= settings.min_scans
    message = None
    if not detected:
        message = (f"{signal}: no peak with S/N >= {settings.min_snr:g} over "
                   f">= {settings.min_scans} scans in {window[0]:.1f}-{window[1]:.1f} s "
                   f"(best: S/N {snr:.1f}, {n_scans} scans at {t[apex]:.1f} s)")
    return Integration(
        signal=signal, detected=bool(detected), window_s=window,
        rt_s=float(t[top]), apex_scan=int(top),
        start_s=float(t[start]), end_s=float(t[end]), start_scan=int(start),
        end_scan=int(end), start_rule=start_rule, end_rule=end_rule,
        baseline_start=b0, baseline_end=b1, baseline_from_s=float(t[anchor_start]),
        baseline_to_s=float(t[anchor_end]), area=area, height=height, noise=float(sigma),
        snr=snr, saturated=saturated, saturation=why, message=message,
    )


def integrate_between(
    times: ArrayLike,
    trace: ArrayLike,
    *,
    start_scan: int,
    end_scan: int,
    settings: IntegrationSettings | None = None,
    signal: str = "",
) -> Integration:
    """Integrate ``trace`` between fixed limits (a qualifier over its quantifier's limits).

    The baseline is the line between the smoothed trace at the two limits; area and
    height as in :func:`integrate_peak`. ``detected`` is True when the net height is
    above zero.
    """
    settings = settings or IntegrationSettings()
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(trace, dtype=np.float64)
    if not 0 <= start_scan <= end_scan < y.size:
        raise ValueError(f"limits {start_scan}..{end_scan} outside a trace of {y.size} scans")
    s = moving_average(y, settings.smoothing_scans)
    b0, b1, area, top, height = _baseline_area(t, y, s, start_scan, end_scan)
    return Integration(
        signal=signal, detected=bool(height > 0), window_s=(float(t[start_scan]),
                                                            float(t[end_scan])),
        rt_s=float(t[top]), apex_scan=int(top), start_s=float(t[start_scan]),
        end_s=float(t[end_scan]), start_scan=int(start_scan), end_scan=int(end_scan),
        start_rule="fixed", end_rule="fixed", baseline_start=b0, baseline_end=b1,
        baseline_from_s=float(t[start_scan]), baseline_to_s=float(t[end_scan]),
        area=area, height=height,
    )
