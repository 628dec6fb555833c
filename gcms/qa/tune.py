"""Tune evaluation: PFTBA autotune spectra, EPA DFTPP and BFB ion-abundance checks.

Input is the calibrant's spectrum: a :class:`gcms.Spectrum`, a spectrum file, or a run
(a PFTBA acquisition with the calibrant valve open, or a GC run of a DFTPP / BFB
standard). From a run the spectrum is the mean of the apex scan and
``scans_each_side`` neighbours, the apex being where the criteria set's key ions
(69+219+502, 198+442, 95+174) peak, minus a background: the mean of the
``background_scans`` quietest scans (on the key-ion trace) within
``max_background_distance`` scans before (and, with ``background="both"``, after) the
peak, beyond twice its half-height half-width. EPA 8270 asks for background subtraction
from no more than 20 scans before the DFTPP peak, hence the default distance. A
calibrant that never falls to half its height (continuous infusion) is used without
background subtraction, and the result says so. Centroid scans are averaged on nominal
masses, each reported at the m/z the apex scan measured for it (its mass assignment).

Profile and centroid data
-------------------------
A spectrum is profile (continuum) data when the median spacing of its m/z values is
below ``profile_spacing_u``. On profile data each ion's *height* is the top of its
profile peak (a local maximum within ``window_u`` of the nominal mass: the flank of a
strong neighbour is not a peak), its *mass* the centre of the peak at half height
(midpoint of the two half-maximum crossings, interpolated linearly between points; the
intensity-weighted centroid of the points above half height where a side does not fall
to half), and its width PW50 the distance between the crossings. On centroid data the
height is the largest centroid in the ion's nominal-mass bin (:func:`gcms.nominal_mass`),
the mass that centroid's reported m/z, and no width can be measured. Abundance ratios
are ratios of heights (for peaks of one width, equal to ratios of areas).

An ion below the lowest m/z the spectrum holds is "not acquired": its criterion is not
judged (a required one then fails the verdict, saying why).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gcms.errors import FormatError, ProfileError
from gcms.qa.profile import InstrumentProfile
from gcms.qa.records import Criterion, Limit, QAResult
from gcms.qa.tune_criteria import TUNE_CRITERIA, TuneCriteriaSet, TuneRule, tune_criteria
from gcms.run import Run
from gcms.spectrum import Spectrum, nominal_mass

__all__ = [
    "CalibrantSpectrum",
    "TuneSettings",
    "calibrant_spectrum",
    "detect_calibrant",
    "evaluate_tune",
    "measure_ions",
    "read_tune_source",
]


@dataclass(frozen=True, slots=True)
class TuneSettings:
    """How the calibrant spectrum is taken from a run and read.

    Parameters
    ----------
    scans_each_side
        Scans averaged on each side of the apex scan.
    background
        ``"both"`` (before and after the peak), ``"before"`` (EPA practice) or ``"none"``.
    background_scans
        Number of quietest scans averaged on each side for the background.
    max_background_distance
        How far (scans) beyond the peak's edge the background may be taken.
    profile_spacing_u
        Median m/z spacing below which a spectrum counts as profile data.
    window_u
        Half-width (u) around a nominal mass searched for the ion's profile peak.
    """

    scans_each_side: int = 1
    background: Literal["both", "before", "none"] = "both"
    background_scans: int = 3
    max_background_distance: int = 20
    profile_spacing_u: float = 0.3
    window_u: float = 0.5


@dataclass(frozen=True, slots=True)
class CalibrantSpectrum:
    """The spectrum a tune is judged on, and how it was taken."""

    spectrum: Spectrum
    profile: bool
    apex_scan: int | None = None
    scans: tuple[int, ...] = ()
    background_scans: tuple[int, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the spectrum's peaks included)."""
        return {"profile": self.profile, "apex_scan": self.apex_scan,
                "scans": list(self.scans), "background_scans": list(self.background_scans),
                "notes": list(self.notes),
                "spectrum": {"mz": self.spectrum.mz.tolist(),
                             "intensity": self.spectrum.intensity.tolist()}}


@dataclass(frozen=True, slots=True, eq=False)
class IonMeasures:
    """Per requested nominal mass: height, measured m/z and PW50 (NaN where absent)."""

    mz: np.ndarray
    height: np.ndarray
    measured_mz: np.ndarray
    pw50: np.ndarray
    acquired: np.ndarray
    base_mz: int
    base_height: float

    def of(self, mz: int) -> tuple[float, float, float, bool]:
        """``(height, measured m/z, PW50, acquired)`` of nominal mass ``mz``."""
        i = int(np.searchsorted(self.mz, mz))
        return (float(self.height[i]), float(self.measured_mz[i]), float(self.pw50[i]),
                bool(self.acquired[i]))


# ---------------------------------------------------------------------- reading
def _is_profile(spectrum: Spectrum, settings: TuneSettings) -> bool:
    if len(spectrum) < 10:
        return False
    return float(np.median(np.diff(spectrum.mz))) < settings.profile_spacing_u


def read_tune_source(path: str | os.PathLike) -> Run | Spectrum:
    """Read a tune file: a run, a single-spectrum file, or gcms spectrum JSON.

    JSON is the form :meth:`gcms.Spectrum.to_dict` writes (``{"mz": [...],
    "intensity": [...], ...}``). Other files go through :mod:`gcms.io`: a format that
    holds runs gives a :class:`Run`, one that holds library spectra must hold exactly one.

    Raises
    ------
    FormatError
        Unreadable file, or a spectrum file with several spectra (which one is the tune?).
    """
    path = Path(path)
    if path.suffix.lower() == ".json":
        try:
            with open(path, "rb") as handle:
                data = json.loads(handle.read().decode("utf-8"))
            data = data.get("spectrum", data) if isinstance(data, dict) else data
            spectrum = Spectrum.from_dict(data)
        except OSError as error:
            raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
        except (ValueError, TypeError, AttributeError, KeyError) as error:
            raise FormatError(f"{path}: not a gcms spectrum JSON file ({error})") from error
        return spectrum.replace(source=spectrum.source or str(path))

    import gcms.io

    holds = {f.name: f.holds for f in gcms.io.FORMATS}[gcms.io.sniff(path)]
    if holds in ("runs", "both"):
        try:
            return gcms.io.read(path)
        except FormatError:
            if holds == "runs":
                raise
    spectra = gcms.io.read_spectra(path)
    if len(spectra) != 1:
        raise FormatError(f"{path}: holds {len(spectra)} spectra; a tune file must hold one")
    return spectra[0]


def _top_of_bins(mz: np.ndarray, intensity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per nominal-mass bin present: the bin, and the index of its largest peak."""
    bins = nominal_mass(mz)
    order = np.lexsort((intensity, bins))  # per bin, the largest peak last
    last = np.flatnonzero(np.diff(np.append(bins[order], np.iinfo(np.int64).max)) != 0)
    return bins[order][last], order[last]


# ---------------------------------------------------------------------- from a run
def _key_trace(run: Run, ions: Sequence[int]) -> np.ndarray:
    inside = np.isin(nominal_mass(run.mz), np.asarray(ions))
    scan_of_peak = np.repeat(np.arange(run.n_scans), run.points_per_scan)
    return np.bincount(scan_of_peak[inside], weights=run.intensity[inside].astype(np.float64),
                       minlength=run.n_scans)


def _mean_scans(run: Run, scans: Sequence[int], grid: np.ndarray | None) -> np.ndarray:
    """Mean of the scans on ``grid`` (profile: interpolated) or on nominal masses."""
    if grid is None:
        from gcms.retention.ladder import dense_rows

        low, high = run.nominal_mz_range
        return dense_rows(run, np.asarray(scans), max(low, 1), high).mean(axis=0)
    rows = []
    for scan in scans:  # a handful of scans: interpolation onto the apex scan's m/z grid
        start, stop = run.scan_offsets[scan], run.scan_offsets[scan + 1]
        rows.append(np.interp(grid, run.mz[start:stop], run.intensity[start:stop],
                              left=0.0, right=0.0))
    return np.mean(rows, axis=0)


def calibrant_spectrum(run: Run, key_ions: Sequence[int], *,
                       settings: TuneSettings | None = None) -> CalibrantSpectrum:
    """The background-subtracted calibrant spectrum of ``run`` (see the module notes).

    Raises
    ------
    FormatError
        The run holds no signal on ``key_ions`` (not a run of this calibrant).
    """
    settings = settings or TuneSettings()
    label = run.metadata.source_path or run.metadata.sample_name or "run"
    trace = _key_trace(run, key_ions)
    if run.n_scans == 0 or trace.max(initial=0.0) <= 0:
        ions = ", ".join(str(i) for i in key_ions)
        raise FormatError(f"{label}: no signal on the calibrant's key ions (m/z {ions})")
    apex = int(np.argmax(trace))
    k = settings.scans_each_side
    scans = tuple(range(max(0, apex - k), min(run.n_scans, apex + k + 1)))
    half = trace[apex] / 2.0
    below = np.flatnonzero(trace < half)
    notes: list[str] = []
    background: list[int] = []
    sides = {"both": (-1, 1), "before": (-1,), "none": ()}[settings.background]
    for side in sides:
        edge = below[below < apex] if side < 0 else below[below > apex]
        if not edge.size:
            continue
        crossing = int(edge[-1] if side < 0 else edge[0])
        start = apex + side * 2 * abs(apex - crossing)
        stop = start + side * settings.max_background_distance
        lo, hi = sorted((start, stop))
        lo, hi = max(lo, 0), min(hi, run.n_scans - 1)
        if lo > hi:
            continue
        window = np.arange(lo, hi + 1)
        quiet = window[np.argsort(trace[window], kind="stable")[:settings.background_scans]]
        background.extend(sorted(quiet.tolist()))
    if settings.background != "none" and not background:
        notes.append("the calibrant signal never falls to half height (continuous "
                     "infusion?): no background subtracted")
    profile = run.metadata.acquisition == "profile"
    if profile:
        start, stop = run.scan_offsets[apex], run.scan_offsets[apex + 1]
        mz = np.array(run.mz[start:stop], dtype=np.float64)
        grid = mz
    else:
        low, high = run.nominal_mz_range
        mz = np.arange(max(low, 1), high + 1, dtype=np.float64)
        grid = None
    values = _mean_scans(run, scans, grid)
    if background:
        values = np.maximum(values - _mean_scans(run, background, grid), 0.0)
    if not profile:
        # each nominal mass at the m/z the apex scan reported: the mass assignment
        start, stop = run.scan_offsets[apex], run.scan_offsets[apex + 1]
        bins, top = _top_of_bins(run.mz[start:stop], run.intensity[start:stop])
        inside = (bins >= mz[0]) & (bins <= mz[-1])
        mz[bins[inside] - int(mz[0])] = run.mz[start:stop][top[inside]]
    keep = values > 0
    spectrum = Spectrum(mz=mz[keep], intensity=values[keep],
                        name=run.metadata.sample_name, source=run.metadata.source_path,
                        rt_seconds=float(run.scan_times[apex]),
                        source_entry=f"scans {scans[0]}-{scans[-1]}")
    return CalibrantSpectrum(spectrum, profile, apex, scans, tuple(background), tuple(notes))


# ---------------------------------------------------------------------- measuring
def measure_ions(spectrum: Spectrum, ions: Sequence[int], *, profile: bool,
                 settings: TuneSettings | None = None) -> IonMeasures:
    """Height, measured m/z and PW50 of each nominal mass in ``ions`` (see module notes)."""
    settings = settings or TuneSettings()
    ions = np.unique(np.asarray(ions, dtype=np.int64))
    mz, intensity = spectrum.mz, spectrum.intensity
    n = ions.size
    height = np.zeros(n)
    measured = np.full(n, np.nan)
    pw50 = np.full(n, np.nan)
    lowest = float(mz.min()) if mz.size else math.inf
    acquired = ions + 0.5 >= lowest
    if not mz.size:
        return IonMeasures(ions, height, measured, pw50, acquired, 0, 0.0)
    if not profile:
        unique_bins, top = _top_of_bins(mz, intensity)
        found = np.isin(ions, unique_bins)
        where = np.searchsorted(unique_bins, ions[found])
        height[found] = intensity[top[where]]
        measured[found] = mz[top[where]]
        base = int(np.argmax(intensity))
        return IonMeasures(ions, height, measured, pw50, acquired,
                           int(nominal_mass(mz[base])), float(intensity[base]))
    # an ion's peak is a local maximum: the flank of a strong neighbour (69 beside the
    # 1 % isotope peak at 70) never is
    rising = np.concatenate([[True], intensity[1:] >= intensity[:-1]])
    falling = np.concatenate([intensity[:-1] > intensity[1:], [True]])
    is_top = rising & falling & (intensity > 0)
    for i, target in enumerate(ions.tolist()):  # a dozen tune ions, each a local walk
        window = np.flatnonzero((np.abs(mz - target) <= settings.window_u) & is_top)
        if not window.size:
            continue
        top = int(window[np.argmax(intensity[window])])
        h = float(intensity[top])
        height[i] = h
        left = top
        while left > 0 and intensity[left - 1] >= h / 2 and mz[top] - mz[left - 1] < 1.0:
            left -= 1
        right = top
        while (right < mz.size - 1 and intensity[right + 1] >= h / 2
               and mz[right + 1] - mz[top] < 1.0):
            right += 1
        core = slice(left, right + 1)
        measured[i] = float(np.sum(mz[core] * intensity[core]) / np.sum(intensity[core]))
        if left > 0 and right < mz.size - 1 and intensity[left - 1] < h / 2 \
                and intensity[right + 1] < h / 2:
            x_left = np.interp(h / 2, [intensity[left - 1], intensity[left]],
                               [mz[left - 1], mz[left]])
            x_right = np.interp(h / 2, [intensity[right + 1], intensity[right]],
                                [mz[right + 1], mz[right]])
            pw50[i] = float(x_right - x_left)
            measured[i] = float((x_left + x_right) / 2)  # peak centre at half height
    base = int(np.argmax(intensity))
    return IonMeasures(ions, height, measured, pw50, acquired,
                       int(nominal_mass(mz[base])), float(intensity[base]))


# ---------------------------------------------------------------------- judging
def _rule_ions(criteria: TuneCriteriaSet) -> list[int]:
    ions = set()
    for rule in criteria.rules:
        ions.add(rule.mz)
        if isinstance(rule.reference, int):
            ions.add(rule.reference)
    if any(r.kind == "air-leak" for r in criteria.rules):
        ions.update((28, 32, 69))
    return sorted(ions)


def _judge(rule: TuneRule, ions: IonMeasures, profile: bool) -> Criterion:
    def criterion(value: float | None, passed: bool | None, note: str = "") -> Criterion:
        return Criterion(key=rule.key, name=rule.name, value=value, unit=rule.unit,
                         limit=rule.limit, passed=passed, required=rule.required,
                         note=note, wording=rule.limit_text())

    height, measured, width, acquired = ions.of(rule.mz)
    if not acquired:
        return criterion(None, None, f"m/z {rule.mz} not acquired (below the spectrum's range)")
    if rule.kind == "mass":
        if height <= 0:
            return criterion(None, False, f"no peak at m/z {rule.mz}")
        return criterion(measured, rule.limit.contains(measured))
    if rule.kind == "width":
        if not profile:
            return criterion(None, None, "centroid data: peak width not measurable")
        if not math.isfinite(width):
            return criterion(None, None, f"m/z {rule.mz} profile peak not resolved to half height")
        return criterion(width, rule.limit.contains(width))
    if rule.kind == "air-leak":
        h28, h32, h69 = (ions.of(m)[0] for m in (28, 32, 69))
        if h32 <= 0 or h69 <= 0:
            return criterion(None, None, "m/z 32 or 69 absent: air-leak ratio not computed")
        ratio, level = h28 / h32, 100.0 * h28 / h69
        leak = level > rule.threshold and rule.limit.contains(ratio)
        note = (f"28/69 = {level:.2f} %, 28:32 = {ratio:.2f}: air leak" if leak else
                f"28/69 = {level:.2f} %" + ("" if level > rule.threshold else
                                           f" (<= {rule.threshold:g} %: no leak signature)"))
        return criterion(ratio, not leak, note)
    # abundance
    reference = ions.base_height if rule.reference == "base" else ions.of(rule.reference)[0]
    is_base = ions.base_mz == rule.mz
    if rule.reference != "base" and not ions.of(rule.reference)[3]:
        return criterion(None, None, f"reference m/z {rule.reference} not acquired")
    if reference <= 0:
        return criterion(None, False, f"reference m/z {rule.reference} absent")
    value = 100.0 * height / reference
    if rule.limit.is_open:
        return criterion(value, None, "recorded")
    if rule.or_base_peak and is_base:
        return criterion(value, True, f"m/z {rule.mz} is the base peak")
    return criterion(value, rule.limit.contains(value))


def detect_calibrant(spectrum: Spectrum, candidates: Sequence[TuneCriteriaSet]
                     ) -> tuple[TuneCriteriaSet, str]:
    """Which of ``candidates`` the spectrum is a tune of, and why.

    The set whose key ions carry the most signal relative to the base peak (PFTBA
    69/219/502, DFTPP 198/442, BFB 95/174).
    """
    if len(candidates) == 1:
        return candidates[0], f"criteria {candidates[0].name} (the only set given)"
    nominal = spectrum.nominal()
    base = float(nominal.intensity.max()) if len(nominal) else 0.0
    scores = []
    for candidate in candidates:
        at = np.isin(nominal.mz.astype(np.int64), candidate.key_ions)
        scores.append(float(nominal.intensity[at].sum()) / base if base > 0 else 0.0)
    best = int(np.argmax(scores))
    return candidates[best], (f"criteria {candidates[best].name} chosen: its key ions "
                              f"{list(candidates[best].key_ions)} carry the most signal")


def evaluate_tune(
    source: Spectrum | Run | str | os.PathLike,
    *,
    profile: InstrumentProfile | None = None,
    criteria: str | TuneCriteriaSet | None = None,
    settings: TuneSettings | None = None,
    instrument_id: str | None = None,
    electron_multiplier_v: float | None = None,
    previous_electron_multiplier_v: float | None = None,
    performed_at: datetime | None = None,
) -> QAResult:
    """Judge a tune spectrum against a criteria set; every criterion and the verdict.

    Parameters
    ----------
    source
        The calibrant: a :class:`Spectrum`, a :class:`Run`, or a file
        (:func:`read_tune_source`).
    profile
        The instrument profile: its criteria sets (with the lab's limit overrides), its
        ID, and its electron-multiplier limits.
    criteria
        A set name or :class:`TuneCriteriaSet`; by default the profile's (detected from
        the spectrum when it names several), else detected among all built-in sets.
    settings
        :class:`TuneSettings`.
    instrument_id
        Overrides the profile's ID (or names the instrument when there is no profile).
    electron_multiplier_v, previous_electron_multiplier_v
        Electron-multiplier voltage of this tune and of the previous one: checked
        against the profile's ``electron_multiplier_max_v`` and
        ``electron_multiplier_jump_v``.
    performed_at
        When the tune was acquired; default the run's acquisition time, else now (UTC).

    Raises
    ------
    FormatError
        Unreadable file, or a run without the calibrant's ions.
    ProfileError
        ``criteria`` names a set the profile does not hold or that does not exist.
    """
    settings = settings or TuneSettings()
    if isinstance(source, (str, os.PathLike)):
        source = read_tune_source(source)
    candidates = _candidate_sets(profile, criteria)
    notes: list[str] = []
    if isinstance(source, Run):
        run = source
        if len(candidates) > 1:  # pick on the scan where any calibrant peaks
            peak = calibrant_spectrum(run, sorted({i for c in candidates for i in c.key_ions}),
                                      settings=settings)
            chosen, why = detect_calibrant(peak.spectrum, candidates)
        else:
            chosen, why = candidates[0], ""
        taken = calibrant_spectrum(run, chosen.key_ions, settings=settings)
        meta = run.metadata
        evidence = {"path": meta.source_path, "sha256": meta.sha256,
                    "sample_name": meta.sample_name, "format": meta.format,
                    "acquired_at": meta.acquired_at.isoformat() if meta.acquired_at else None,
                    "tune_file": meta.tune_file, "apex_scan": taken.apex_scan,
                    "scans": list(taken.scans), "background_scans": list(taken.background_scans)}
        when = performed_at or meta.acquired_at
        instrument = instrument_id or (profile.id if profile else None) or meta.instrument
        spectrum, is_profile = taken.spectrum, taken.profile
        notes.extend(taken.notes)
    else:
        spectrum = source
        is_profile = _is_profile(spectrum, settings)
        chosen, why = detect_calibrant(spectrum, candidates)
        evidence = {"path": spectrum.source, "entry": spectrum.source_entry,
                    "sample_name": spectrum.name, "format": "spectrum"}
        when = performed_at
        instrument = instrument_id or (profile.id if profile else None)
    if why and len(candidates) > 1:
        notes.append(why)
    notes.append("profile data: masses are peak centroids, PW50 measured" if is_profile
                 else "centroid data: masses as reported, no peak widths")
    ions = measure_ions(spectrum, _rule_ions(chosen), profile=is_profile, settings=settings)
    results = [_judge(rule, ions, is_profile) for rule in chosen.rules]
    results.extend(_electron_multiplier(profile, electron_multiplier_v,
                                        previous_electron_multiplier_v))
    when = when or datetime.now(timezone.utc)
    return QAResult(
        kind="tune",
        instrument_id=instrument or "unknown",
        criteria_set=chosen.name,
        criteria=tuple(results),
        performed_at=when,
        source=evidence,
        profile=profile.reference() if profile else {},
        notes=tuple(notes),
    )


def _candidate_sets(profile: InstrumentProfile | None,
                    criteria: str | TuneCriteriaSet | None) -> list[TuneCriteriaSet]:
    overrides: Mapping[str, Mapping[str, Any]] = {}
    if profile is not None:
        overrides = {k: v.to_dict() for k, v in profile.tune.limits.items()}
    if isinstance(criteria, TuneCriteriaSet):
        return [criteria]
    if isinstance(criteria, str):
        try:
            base = tune_criteria(criteria)
        except KeyError as error:
            raise ProfileError(str(error.args[0])) from None
        if profile is not None and criteria not in profile.tune.criteria:
            raise ProfileError(
                f"{profile.source_path or profile.id}: tune.criteria: the profile holds "
                f"{', '.join(profile.tune.criteria)}, not {criteria!r}")
        return [base.with_overrides(overrides)]
    if profile is not None:
        return list(profile.tune_criteria())
    return list(TUNE_CRITERIA.values())


def _electron_multiplier(profile: InstrumentProfile | None, volts: float | None,
                         previous: float | None) -> list[Criterion]:
    out: list[Criterion] = []
    if volts is None:
        return out
    maximum = profile.tune.electron_multiplier_max_v if profile else None
    out.append(Criterion(
        key="electron_multiplier_v", name="electron multiplier voltage", value=float(volts),
        unit="V", limit=Limit(high=maximum), passed=None if maximum is None else
        volts <= maximum, required=False,
        note="" if maximum is not None else "recorded (no maximum in the profile)"))
    jump = profile.tune.electron_multiplier_jump_v if profile else None
    if previous is not None:
        change = abs(float(volts) - float(previous))
        out.append(Criterion(
            key="electron_multiplier_jump_v", name="change of EM voltage since last tune",
            value=change, unit="V", limit=Limit(high=jump),
            passed=None if jump is None else change <= jump, required=False,
            note=f"previous tune {previous:g} V"))
    return out
