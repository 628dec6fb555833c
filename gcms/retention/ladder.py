"""Find a homologous marker ladder (n-alkanes C8-C40, FAMEs) in a run and name its members.

How it works
------------
1. **Trace.** The series' ions (n-alkanes: m/z 57 + 71 + 85) are summed per scan; a
   morphological baseline (grey opening, then a moving mean) is removed and the noise
   is estimated from the median absolute first difference.
2. **Candidates.** Peaks on the trace (``scipy.signal.find_peaks``) above
   ``min_signal_to_noise`` and ``min_relative_height``. Apex times are refined by a
   parabola through the apex scan and its neighbours.
3. **Spectra.** Each candidate's apex spectrum is the mean of the apex scan and
   ``apex_scans_each_side`` neighbours minus the mean of the two quietest scans found
   2-6 half-widths before and after the apex (background subtraction). A candidate
   stays a member when at least ``series.min_family_fraction`` of its signal (m/z >= 39)
   lies on the series' fragment family (n-alkanes: CkH2k+1+, 14k+1).
4. **Spacing.** Consecutive members of a series elute at smoothly changing intervals.
   The expected interval at each position comes from a Theil-Sen line through the log
   of the neighbouring intervals; a peak that splits an interval (ratio below
   ``intruder_spacing_ratio``) is not a member (the weaker of the two is dropped); an
   interval close to two or three times the expected one is a missing member.
5. **Naming.** Carbon numbers come, in order of preference, from the molecular ion
   (n-alkanes M+ = 14n+2: the highest such m/z carrying signal above both the threshold
   and its own M-1 neighbour, which the 13C isotope peaks of fragments never do), from
   the expected retention times of an instrument profile, or from the expected first
   carbon number. Members without a visible M+ are named by elution order and spacing.
   Anchors vote; disagreement is reported, never hidden. For n-alkanes, a fragment
   CkH2k+1+ with ``k >= n`` (stronger than its own M+1 neighbour, so not the M-H ion)
   in a member named Cn contradicts the naming and is counted: a name two or more
   carbons too low shows up this way.

The result states how the names were decided and how far they can be trusted
(:class:`LadderNaming`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np

from gcms._arrays import frozen_array
from gcms.retention.calibration import RetentionCalibration, RIMethod, estimate_dead_time, source_of
from gcms.retention.series import N_ALKANES, HomologousSeries
from gcms.run import Run
from gcms.signal.noise import MAD_TO_SIGMA
from gcms.spectrum import nominal_mass

__all__ = ["DroppedPeak", "Ladder", "LadderNaming", "LadderSettings", "find_ladder"]

#: Lowest m/z counted in a member's signal: below it sit air, water and (for many
#: methods) nothing acquired at all.
_SIGNAL_FLOOR_MZ = 39

#: Carbon steps between consecutive members a ladder may have (every alkane, even ones
#: only, every third, every fourth); the smaller wins a tie.
_STEPS = (1, 2, 3, 4)


@dataclass(frozen=True, slots=True)
class LadderSettings:
    """Knobs of :func:`find_ladder`, with defaults for a marker standard at 10-100 ng on column.

    Parameters
    ----------
    min_members
        Fewer members than this is no ladder (``ValueError``).
    min_signal_to_noise
        Least peak prominence on the series trace, in noise units.
    min_relative_height
        Least peak height as a fraction of the highest peak on the trace.
    apex_scans_each_side
        Scans averaged on each side of the apex for the member's spectrum.
    molecular_ion_min_relative
        Least M+ height as a fraction of the spectrum's base peak (n-alkane reference
        spectra: 0.8-36 % for C8-C36).
    molecular_ion_min_snr
        Least M+ height in units of the spectrum's noise.
    intruder_spacing_ratio
        An interval shorter than this fraction of the expected one holds a peak that is
        not a member.
    gap_tolerance
        How far (in expected intervals) an interval may be from a whole number before the
        spacing is reported as irregular.
    expected_rt_window_s
        Window for matching members to a profile's expected retention times.
    baseline_window_s
        Width of the baseline estimator: longer than the widest peak.
    """

    min_members: int = 3
    min_signal_to_noise: float = 10.0
    min_relative_height: float = 0.005
    apex_scans_each_side: int = 1
    molecular_ion_min_relative: float = 0.002
    molecular_ion_min_snr: float = 3.0
    intruder_spacing_ratio: float = 0.6
    gap_tolerance: float = 0.25
    expected_rt_window_s: float = 10.0
    baseline_window_s: float = 60.0


@dataclass(frozen=True, slots=True)
class DroppedPeak:
    """A peak on the series trace that was not taken as a member, and why."""

    rt_seconds: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"rt_seconds": self.rt_seconds, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LadderNaming:
    """How the carbon numbers were decided and how far they can be trusted.

    ``method``: ``"molecular-ion"`` (anchored on M+ of one or more members),
    ``"expected-rt"`` (on an instrument profile's expected retention times) or
    ``"assumed-first-carbon"`` (the first member assumed to be ``first_carbon``).
    ``confidence``: ``"high"`` (two or more anchors, all agreeing, spacing regular),
    ``"medium"`` or ``"low"``; ``statement`` says why in a sentence for the report.
    """

    method: Literal["molecular-ion", "expected-rt", "assumed-first-carbon"]
    confidence: Literal["high", "medium", "low"]
    statement: str
    step: int
    anchors_agreeing: int
    anchors_conflicting: int
    fragment_conflicts: int
    irregular_spacings: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True, eq=False)
class Ladder:
    """The members of a marker ladder found in one run.

    Arrays have one entry per member, in elution order: ``carbon_numbers`` (int64),
    ``rt_seconds`` (apex, parabola-refined), ``apex_scans``, ``heights`` (on the series
    trace, baseline removed), ``signal_to_noise``, ``family_fraction`` (share of the
    apex spectrum on the series' fragment family; NaN for a trace without spectra) and
    ``molecular_ion_seen``.
    """

    series: HomologousSeries
    carbon_numbers: np.ndarray
    rt_seconds: np.ndarray
    apex_scans: np.ndarray
    heights: np.ndarray
    signal_to_noise: np.ndarray
    family_fraction: np.ndarray
    molecular_ion_seen: np.ndarray
    naming: LadderNaming
    dropped: tuple[DroppedPeak, ...] = ()
    source: Mapping[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, dtype in (("carbon_numbers", np.int64), ("rt_seconds", np.float64),
                            ("apex_scans", np.int64), ("heights", np.float64),
                            ("signal_to_noise", np.float64), ("family_fraction", np.float64),
                            ("molecular_ion_seen", np.bool_)):
            object.__setattr__(self, name, frozen_array(getattr(self, name), dtype, name=name))

    def __len__(self) -> int:
        return int(self.carbon_numbers.size)

    def __repr__(self) -> str:
        return (f"Ladder({self.series.name}, C{self.carbon_numbers[0]}-C{self.carbon_numbers[-1]}, "
                f"{len(self)} members, {self.naming.method}, {self.naming.confidence})")

    @property
    def names(self) -> tuple[str, ...]:
        """Member labels, ``"C8"`` ..."""
        return tuple(f"C{n}" for n in self.carbon_numbers.tolist())

    @property
    def retention_indices(self) -> np.ndarray:
        """Index of each member by definition: ``ri_per_carbon · n``."""
        return self.carbon_numbers * self.series.ri_per_carbon

    def calibration(
        self, *, method: RIMethod = "van-den-dool-kratz",
        dead_time_s: float | Literal["estimate"] | None = None,
    ) -> RetentionCalibration:
        """The ladder as a :class:`RetentionCalibration` to apply to the sequence's runs.

        ``method="kovats"`` (isothermal) needs ``dead_time_s``; ``"estimate"`` fits it
        from the members (:func:`gcms.retention.estimate_dead_time`).

        Parameters
        ----------
        method : {"van-den-dool-kratz", "kovats"}
            Temperature-programmed (linear) or isothermal (logarithmic) indices.
        dead_time_s : float or "estimate", optional
            The column's dead time, for Kovats indices.

        Returns
        -------
        RetentionCalibration
            The members' times and indices, with the ladder run as its source.
        """
        if dead_time_s == "estimate":
            dead_time_s = estimate_dead_time(self.rt_seconds, self.carbon_numbers)
        return RetentionCalibration(
            rt_seconds=self.rt_seconds,
            retention_index=self.retention_indices,
            names=self.names,
            method=method,
            dead_time_s=dead_time_s,
            series=self.series.name,
            # no library match was made: AMDIS's "Net" stays unknown, never invented
            signal_to_noise=self.signal_to_noise,
            source=self.source,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "series": self.series.name,
            "members": [
                {"carbon_number": int(n), "name": f"C{n}", "rt_seconds": float(t),
                 "apex_scan": int(s), "height": float(h), "signal_to_noise": float(q),
                 "family_fraction": None if np.isnan(f) else float(f),
                 "molecular_ion_seen": bool(m)}
                for n, t, s, h, q, f, m in zip(
                    self.carbon_numbers.tolist(), self.rt_seconds, self.apex_scans,
                    self.heights, self.signal_to_noise, self.family_fraction,
                    self.molecular_ion_seen, strict=True)
            ],
            "naming": self.naming.to_dict(),
            "dropped": [d.to_dict() for d in self.dropped],
            "source": dict(self.source),
        }


# ---------------------------------------------------------------------- arrays
def _series_trace(run: Run, ions: tuple[int, ...]) -> np.ndarray:
    """Per scan, the summed intensity of the nominal masses ``ions``."""
    inside = np.isin(nominal_mass(run.mz), np.asarray(ions))
    scan_of_peak = np.repeat(np.arange(run.n_scans), run.points_per_scan)
    return np.bincount(scan_of_peak[inside], weights=run.intensity[inside].astype(np.float64),
                       minlength=run.n_scans)


def dense_rows(run: Run, scans: np.ndarray, mz_min: int, mz_max: int) -> np.ndarray:
    """Nominal-mass spectra of the scans ``scans`` (any shape) as a dense float64 array.

    Shape ``scans.shape + (mz_max - mz_min + 1,)``; m/z binned as :meth:`Run.matrix` does
    (the larger of two peaks in one bin is kept). Only the requested scans are touched.
    """
    scans = np.asarray(scans, dtype=np.int64)
    unique, inverse = np.unique(scans.ravel(), return_inverse=True)
    starts = run.scan_offsets[unique]
    counts = run.scan_offsets[unique + 1] - starts
    row_of_peak = np.repeat(np.arange(unique.size), counts)
    first_of_row = np.repeat(np.cumsum(counts) - counts, counts)
    peak = np.repeat(starts, counts) + (np.arange(counts.sum()) - first_of_row)
    column = nominal_mass(run.mz[peak]) - mz_min
    keep = (column >= 0) & (column <= mz_max - mz_min)
    out = np.zeros((unique.size, mz_max - mz_min + 1))
    np.maximum.at(out, (row_of_peak[keep], column[keep]), run.intensity[peak][keep])
    return out[inverse].reshape(scans.shape + (out.shape[1],))


def _baseline(trace: np.ndarray, width: int) -> np.ndarray:
    from scipy.ndimage import grey_opening, uniform_filter1d

    width = max(3, min(width, trace.size))
    return uniform_filter1d(grey_opening(trace, size=width), size=width)


def _noise(signal: np.ndarray) -> float:
    """Noise standard deviation from the median absolute first difference (robust to peaks)."""
    if signal.size < 3:
        return 1.0
    diff = np.diff(signal)
    mad = float(np.median(np.abs(diff - np.median(diff))))
    noise = MAD_TO_SIGMA * mad / np.sqrt(2.0)
    if noise > 0:
        return noise
    # An acquisition threshold leaves exact zeros between peaks: the smallest signal
    # stored is then the best available scale of the noise.
    positive = signal[signal > 0]
    return float(positive.min()) if positive.size else 1.0


def _expected_spacing(t: np.ndarray) -> np.ndarray:
    """Expected interval at each position from a local Theil-Sen line through log(interval).

    For interval ``i`` the line is fitted to the seven intervals around it (shifted at
    the ends to keep seven): slope = median of the pairwise slopes, intercept = median of
    ``y - slope·x`` (Theil 1950, Sen 1968). The robust fit keeps a missing member (an
    interval twice as long) or an intruder (two short ones) from biasing the expectation.
    """
    s = np.diff(t)
    n = s.size
    if n < 3:
        return np.full(n, float(np.median(s)) if n else np.nan)
    width = min(7, n)
    start = np.clip(np.arange(n) - width // 2, 0, n - width)
    x = start[:, None] + np.arange(width)[None, :]  # window positions, one row per interval
    y = np.log(s)[x]
    i, j = np.triu_indices(width, k=1)
    slope = np.median((y[:, j] - y[:, i]) / (x[:, j] - x[:, i]), axis=1)
    intercept = np.median(y - slope[:, None] * x, axis=1)
    return np.exp(intercept + slope * np.arange(n))


def _mode(values: np.ndarray) -> tuple[int, int]:
    """Most frequent integer in ``values`` (lowest on ties) and its count."""
    unique, counts = np.unique(values, return_counts=True)
    best = int(np.argmax(counts))
    return int(unique[best]), int(counts[best])


# ---------------------------------------------------------------------- main
def find_ladder(
    run: Run,
    *,
    series: HomologousSeries = N_ALKANES,
    settings: LadderSettings | None = None,
    expected_rt_s: Mapping[int, float] | None = None,
    first_carbon: int | None = None,
    step: int | None = None,
) -> Ladder:
    """Find the members of ``series`` in ``run`` and name their carbon numbers.

    Parameters
    ----------
    run
        A full-scan run of the marker standard (a ``"trace"`` run, e.g. FID, works
        without the spectral checks and without molecular-ion naming).
    series
        :data:`gcms.retention.N_ALKANES` (default) or another
        :class:`~gcms.retention.HomologousSeries`.
    settings
        :class:`LadderSettings`.
    expected_rt_s
        Expected apex time (s) per carbon number, from an instrument profile: used to
        name the ladder when no molecular ion is visible.
    first_carbon
        Carbon number of the first member when nothing else names the ladder (default
        ``series.default_first_carbon``).
    step
        Carbon numbers between consecutive members (2 for an even-numbered standard);
        by default found from molecular ions, else 1.

    Returns
    -------
    Ladder
        The members found (apex times, carbon numbers, names), how the names were
        decided and how far to trust them (``naming``), and ``calibration()`` giving the
        retention indices of other runs.

    Raises
    ------
    ValueError
        Fewer than ``settings.min_members`` members found (the message says what was
        seen), or a run with no scans.

    Examples
    --------
    A simulated C8-C40 ladder, named from its molecular ions; an index past the last
    member is flagged as extrapolated:

    >>> from gcms.retention import find_ladder
    >>> from gcms.retention.simulate import simulate_ladder
    >>> ladder = find_ladder(simulate_ladder().run)
    >>> ladder.names[:3], ladder.naming.method, ladder.naming.confidence
    (('C8', 'C9', 'C10'), 'molecular-ion', 'high')
    >>> indices = ladder.calibration().apply([312.0, 2000.0])
    >>> indices.retention_index.round(0).tolist(), indices.extrapolated.tolist()
    ([1030.0, 4519.0], [False, True])
    """
    settings = settings or LadderSettings()
    label = run.metadata.source_path or run.metadata.sample_name or "run"
    if run.n_scans < 5:
        raise ValueError(f"{label}: {run.n_scans} scans, too few to hold a ladder")
    has_spectra = run.metadata.acquisition != "trace" and run.n_peaks > 0
    trace = _series_trace(run, series.trace_ions) if has_spectra else np.asarray(run.tic, float)
    dt = float(np.median(np.diff(run.scan_times)))
    signal = trace - _baseline(trace, int(round(settings.baseline_window_s / max(dt, 1e-9))))
    noise = _noise(signal)

    # scipy's find_peaks, not gcms.signal.find_peaks: the ladder's candidates are the
    # maxima of its own baseline-corrected trace above an absolute floor (S/N and a
    # fraction of the tallest peak); gcms.signal.find_peaks fits another baseline and
    # smooths first, and on the demo ladder gives 35 peaks where this gives 18.
    from scipy.signal import find_peaks, peak_widths

    floor = max(settings.min_signal_to_noise * noise,
                settings.min_relative_height * float(signal.max(initial=0.0)))
    peaks, props = find_peaks(signal, height=floor,
                              prominence=settings.min_signal_to_noise * noise)
    if peaks.size == 0:
        raise ValueError(f"{label}: no peak on the {series.name} trace "
                         f"(m/z {'+'.join(map(str, series.trace_ions))}) above S/N "
                         f"{settings.min_signal_to_noise:g}")
    half_width = np.maximum(peak_widths(signal, peaks, rel_height=0.5)[0] / 2, 1.0)

    # apex time by a parabola through the apex and its neighbours
    inner = np.clip(peaks, 1, run.n_scans - 2)
    y0, y1, y2 = signal[inner - 1], signal[inner], signal[inner + 1]
    curvature = y0 - 2 * y1 + y2
    delta = np.where(curvature < 0, 0.5 * (y0 - y2) / np.where(curvature < 0, curvature, -1), 0.0)
    delta = np.clip(delta, -0.5, 0.5)
    times = run.scan_times
    rt = np.where(delta >= 0, times[inner] + delta * (times[inner + 1] - times[inner]),
                  times[inner] + delta * (times[inner] - times[inner - 1]))
    heights = props["peak_heights"]
    snr = heights / noise

    dropped: list[DroppedPeak] = []
    keep = np.ones(peaks.size, dtype=bool)
    family_fraction = np.full(peaks.size, np.nan)
    molecular_carbon = np.full(peaks.size, -1, dtype=np.int64)
    highest_fragment = np.full(peaks.size, -1, dtype=np.int64)
    if has_spectra:
        spectra, weakest, mz_min, spectrum_noise = _apex_spectra(
            run, signal, peaks, half_width, settings)
        family_fraction = _family_fraction(spectra, mz_min, series)
        keep = family_fraction >= series.min_family_fraction
        for t, f in zip(rt[~keep], family_fraction[~keep], strict=True):
            dropped.append(DroppedPeak(float(t), f"spectrum not {series.name}-like: "
                                       f"{f:.2f} of the signal on the series' ions "
                                       f"(< {series.min_family_fraction:.2f})"))
        molecular_carbon, highest_fragment = _molecular_ions(
            spectra, weakest, mz_min, spectrum_noise, series, settings)

    members = np.flatnonzero(keep)
    members, intruders = _remove_intruders(rt, members, heights, family_fraction,
                                           molecular_carbon, settings)
    dropped.extend(DroppedPeak(float(rt[i]), "elutes between ladder members (spacing)")
                   for i in intruders)
    if members.size < settings.min_members:
        raise ValueError(
            f"{label}: {members.size} {series.name} member(s) found, fewer than "
            f"{settings.min_members} ({peaks.size} peaks on the trace, "
            f"{int((~keep).sum())} without a {series.name} spectrum)"
        )

    carbons, naming = _name_members(
        rt[members], molecular_carbon[members], highest_fragment[members], series, settings,
        expected_rt_s=expected_rt_s, first_carbon=first_carbon, step=step)
    dropped.sort(key=lambda d: d.rt_seconds)
    return Ladder(
        series=series,
        carbon_numbers=carbons,
        rt_seconds=rt[members],
        apex_scans=peaks[members],
        heights=heights[members],
        signal_to_noise=snr[members],
        family_fraction=family_fraction[members],
        molecular_ion_seen=molecular_carbon[members] == carbons,
        naming=naming,
        dropped=tuple(dropped),
        source=source_of(run),
    )


def _apex_spectra(run: Run, signal: np.ndarray, peaks: np.ndarray, half_width: np.ndarray,
                  settings: LadderSettings) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Apex spectra of the candidates, background subtracted (candidates x m/z).

    Returns the spectra, the weakest apex scan above background (same shape), the first
    m/z, and the noise of each m/z channel.
    """
    n = run.n_scans
    k = settings.apex_scans_each_side
    apex_rows = np.clip(peaks[:, None] + np.arange(-k, k + 1)[None, :], 0, n - 1)
    # the quietest scan 2-6 half-widths out on each side is the background there
    reach = np.ceil(6 * half_width).astype(np.int64)
    near = np.ceil(2 * half_width).astype(np.int64)
    span = int(reach.max() - near.min()) + 1
    offsets = near[:, None] + np.arange(span)[None, :]
    valid = offsets <= reach[:, None]
    backgrounds = []
    for sign in (-1, 1):
        idx = np.clip(peaks[:, None] + sign * offsets, 0, n - 1)
        values = np.where(valid, signal[idx], np.inf)
        backgrounds.append(idx[np.arange(peaks.size), np.argmin(values, axis=1)])
    background_rows = np.stack(backgrounds, axis=1)
    low, high = cast(tuple[int, int], run.nominal_mz_range)  # a ladder run holds peaks
    low = max(low, 1)
    apex = dense_rows(run, apex_rows, low, high)
    background = dense_rows(run, background_rows, low, high).mean(axis=1)
    spectra = np.maximum(apex.mean(axis=1) - background, 0.0)
    # weakest apex scan above background, per m/z: an ion that belongs to the peak is
    # there in every apex scan, a noise spike in one
    weakest = apex.min(axis=1) - background
    return spectra, weakest, low, _channel_noise(run, low, high)


def _channel_noise(run: Run, mz_min: int, mz_max: int, pairs: int = 256) -> np.ndarray:
    """Noise standard deviation of each nominal-mass channel over the run.

    From the median absolute difference between consecutive scans, taken at ``pairs``
    places spread over the run (peaks cover a small part of it, the median ignores them).
    Noise differs by orders of magnitude between channels (ion counting on a background
    that falls with m/z), so a threshold needs it per m/z.
    """
    first = np.unique(np.linspace(0, run.n_scans - 2, min(pairs, run.n_scans - 1)).astype(np.int64))
    rows = dense_rows(run, np.stack([first, first + 1], axis=1), mz_min, mz_max)
    return MAD_TO_SIGMA * np.median(np.abs(rows[:, 1] - rows[:, 0]), axis=0) / np.sqrt(2.0)


def _family_fraction(spectra: np.ndarray, mz_min: int, series: HomologousSeries) -> np.ndarray:
    mz = np.arange(mz_min, mz_min + spectra.shape[1])
    counted = mz >= _SIGNAL_FLOOR_MZ
    family = np.isin(mz, series.family(int(mz[-1]))) & counted
    total = spectra[:, counted].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, spectra[:, family].sum(axis=1) / total, 0.0)


def _molecular_ions(spectra: np.ndarray, weakest: np.ndarray, mz_min: int, noise: np.ndarray,
                    series: HomologousSeries, settings: LadderSettings
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Carbon numbers named by the molecular ion, and the heaviest fragment, per candidate.

    The first array holds the carbon number of the visible molecular ion (-1: none); the
    second, for series whose fragments lie below M+, the largest fragment carbon count
    seen (-1: none).

    An ion is seen when its mean apex intensity passes the threshold (a fraction of the
    base peak, and ``molecular_ion_min_snr`` noise units) and it stands above the
    background in every apex scan.
    """
    mz_max = mz_min + spectra.shape[1] - 1
    base = spectra.max(axis=1)
    threshold = np.maximum(settings.molecular_ion_min_relative * base[:, None],
                           settings.molecular_ion_min_snr * noise[None, :])
    present = (spectra > threshold) & (weakest > noise[None, :])
    carbons = np.arange(series.carbon_range[0], series.carbon_range[1] + 1)
    m = series.molecular_ion(carbons)
    fits = (m - 1 >= mz_min) & (m <= mz_max)
    carbons, m = carbons[fits], m[fits]
    molecular = np.full(spectra.shape[0], -1, dtype=np.int64)
    if carbons.size:
        at_m = spectra[:, m - mz_min]
        below = spectra[:, m - 1 - mz_min]
        seen = present[:, m - mz_min] & (at_m > below)
        last = seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
        molecular = np.where(seen.any(axis=1), carbons[last], -1)
    fragment = np.full(spectra.shape[0], -1, dtype=np.int64)
    if series.fragments_below_molecular_ion:
        slope, intercept, k_min = series.family_ions
        k = np.arange(k_min, (mz_max - intercept) // slope + 1)
        ions = slope * k + intercept
        if k.size:
            # a fragment, not the M-H ion of the member (14n+1, weaker than its M+ at 14n+2)
            above = np.minimum(ions + 1 - mz_min, spectra.shape[1] - 1)
            seen = present[:, ions - mz_min] & (spectra[:, ions - mz_min] > spectra[:, above])
            last = seen.shape[1] - 1 - np.argmax(seen[:, ::-1], axis=1)
            fragment = np.where(seen.any(axis=1), k[last], -1)
    return molecular, fragment


def _remove_intruders(rt: np.ndarray, members: np.ndarray, heights: np.ndarray,
                      family_fraction: np.ndarray, molecular: np.ndarray,
                      settings: LadderSettings) -> tuple[np.ndarray, list[int]]:
    """Drop peaks that split a ladder interval; returns the members left and those dropped."""
    members = members[np.argsort(rt[members], kind="stable")]
    dropped: list[int] = []
    fraction = np.nan_to_num(family_fraction, nan=1.0)
    while members.size >= 4:  # each pass drops one peak: at most len(members) passes
        t = rt[members]
        ratio = np.diff(t) / _expected_spacing(t)
        worst = int(np.argmin(ratio))
        if ratio[worst] >= settings.intruder_spacing_ratio:
            break
        pair = members[worst:worst + 2]
        local = np.median(heights[members])
        # a member has a series spectrum, a molecular ion, and a height like the others'
        score = (fraction[pair] + (molecular[pair] >= 0)
                 - np.abs(np.log(heights[pair] / local)) / 10)
        loser = int(pair[int(np.argmin(score))])
        dropped.append(loser)
        members = members[members != loser]
    return members, dropped


def _name_members(
    rt: np.ndarray, molecular: np.ndarray, fragment: np.ndarray, series: HomologousSeries,
    settings: LadderSettings, *, expected_rt_s: Mapping[int, float] | None,
    first_carbon: int | None, step: int | None,
) -> tuple[np.ndarray, LadderNaming]:
    spacing = np.diff(rt)
    if spacing.size >= 2:
        ratio = spacing / _expected_spacing(rt)
        units = np.maximum(np.rint(ratio), 1).astype(np.int64)
        irregular = int(np.sum(np.abs(ratio - units) > settings.gap_tolerance))
    else:
        units = np.ones(spacing.size, dtype=np.int64)
        irregular = 0
    offset = np.concatenate([[0], np.cumsum(units)])

    anchors = np.flatnonzero(molecular >= 0)
    if step is None:
        # the step (1, or 2 for an even-numbered standard...) that most anchors agree on
        step = 1
        if anchors.size >= 2:
            agreement = [_mode(molecular[anchors] - s * offset[anchors])[1] for s in _STEPS]
            step = _STEPS[int(np.argmax(agreement))]
    method: Literal["molecular-ion", "expected-rt", "assumed-first-carbon"]
    votes = np.empty(0, dtype=np.int64)
    if anchors.size:
        method = "molecular-ion"
        votes = molecular[anchors] - step * offset[anchors]
    elif expected_rt_s:
        expected_n = np.array(sorted(expected_rt_s), dtype=np.int64)
        expected_t = np.array([expected_rt_s[n] for n in expected_n], dtype=np.float64)
        nearest = np.argmin(np.abs(rt[:, None] - expected_t[None, :]), axis=1)
        close = np.abs(rt - expected_t[nearest]) <= settings.expected_rt_window_s
        if close.any():
            method = "expected-rt"
            votes = expected_n[nearest[close]] - step * offset[close]
    if votes.size:
        first, agreeing = _mode(votes)
        conflicting = int(votes.size - agreeing)
    else:
        method = "assumed-first-carbon"
        first = series.default_first_carbon if first_carbon is None else int(first_carbon)
        agreeing = conflicting = 0
    carbons = first + step * offset
    fragment_conflicts = int(np.sum((fragment >= 0) & (fragment >= carbons)))

    span = f"C{carbons[0]}-C{carbons[-1]}"
    gaps = int(np.sum(units > 1))
    gap_note = f"; {gaps} missing member(s) inferred from spacing" if gaps else ""
    problems = []
    if conflicting:
        problems.append(f"{conflicting} anchor(s) disagree")
    if fragment_conflicts:
        problems.append(f"{fragment_conflicts} member(s) show fragments too heavy for the "
                        "carbon number named")
    if irregular:
        problems.append(f"{irregular} interval(s) irregular")
    problem_note = f" Doubts: {', '.join(problems)}." if problems else ""
    confidence: Literal["high", "medium", "low"]
    if method == "molecular-ion":
        confidence = ("high" if agreeing >= 2 and not problems
                      else "medium" if agreeing > conflicting else "low")
        others = carbons.size - anchors.size
        rest = (f", the other {others} named by elution order and spacing" if others
                else "")
        statement = (f"{span} named from the molecular ion (M+ = 14n+"
                     f"{series.molecular_ion_intercept}): {agreeing} of {anchors.size} "
                     f"members with a visible M+ agree{rest}{gap_note}.")
    elif method == "expected-rt":
        confidence = "medium" if agreeing > conflicting and not problems else "low"
        statement = (f"{span} named from the expected retention times of the instrument "
                     f"profile ({agreeing} of {votes.size} matching members agree); no "
                     f"molecular ion visible{gap_note}.")
    else:
        confidence = "low"
        statement = (f"{span} named by assuming the first member is C{first} and "
                     f"consecutive members differ by {step} carbon(s): no molecular ion "
                     f"visible and no expected retention times given{gap_note}. Confirm one "
                     "member's identity before relying on these indices.")
    naming = LadderNaming(
        method=method, confidence=confidence, statement=statement + problem_note, step=step,
        anchors_agreeing=agreeing, anchors_conflicting=conflicting,
        fragment_conflicts=fragment_conflicts, irregular_spacings=irregular)
    return carbons.astype(np.int64), naming
