"""Check-standard suitability: each compound found where expected, matched, sensitive, sharp.

:func:`evaluate_check_standard` deconvolutes the run (:func:`gcms.deconvolution.deconvolve`,
or takes a batch's deconvolution), scores every component against the library entries
of every check-standard compound (by name or synonym; the identity match factor of
:func:`gcms.library.search_arrays`, the scores of a library search) and locates each
compound:

1. the components within its retention window (``expected_rt_s`` ± ``rt_window_s``;
   or, for a compound given by index only, ``expected_ri`` ± ``ri_window`` through the
   ladder calibration) are its candidates; candidate pairs are assigned best match
   factor first (nearest the expected time on a tie), one component per compound;
2. a compound whose best candidate falls below its minimum MF is looked for outside the
   window: a component there matching at least the minimum is reported as the compound
   *out of place* (its retention criterion fails, saying where it eluted);
3. failing both, the best candidate in the window counts if it reaches
   ``min_match_factor_found`` (the compound is there, its spectrum is poor: the MF
   criterion fails); otherwise the compound is not found (every criterion of it fails).

Each located compound is measured on the extracted-ion trace of its ``quantitation_ion``
(else the base peak of its deconvoluted spectrum) with
:func:`gcms.qa.chromatography.measure_peaks`, the run's ion-counting noise model under it.
Criteria (keys use the compound's name folded to ``[a-z0-9_]``):

``rt_<c>``, ``ri_<c>``
    retention time within ``expected_rt_s`` ± ``rt_window_s``; retention index within
    ``expected_ri`` ± ``ri_window`` (needs a ladder: without one it is recorded as not
    judged, and required only for a compound given by index alone);
``mf_<c>``
    identity match factor against the compound's library entry, at least
    ``min_match_factor``;
``snr_<c>``
    S/N on the measured ion, at least ``min_signal_to_noise`` (the low-level compound is
    the sensitivity check; the name says so);
``tailing_<c>``, ``plates_<c>``
    USP tailing factor at most ``max_tailing_factor``; plates at least
    ``min_plate_count`` (recorded when unset);
``resolution_<a>_<b>``
    each critical pair, ``Rs >= min_resolution``.

Compound limits left unset fall back to the section's. ``result.details["compounds"]``
holds each compound's component, library entry, top search hit and figures.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import numpy as np

from gcms.errors import LibraryError, ProfileError
from gcms.qa.chromatography import PeakMeasureSettings, ion_trace, measure_peaks, resolution
from gcms.qa.ladder import run_evidence
from gcms.qa.profile import CheckCompound, CheckStandardSection, InstrumentProfile
from gcms.qa.records import Criterion, Limit, QAResult
from gcms.run import Run

if TYPE_CHECKING:  # pragma: no cover
    from gcms.deconvolution import Deconvolution, DeconvolutionSettings
    from gcms.library import Library
    from gcms.retention import RetentionCalibration

__all__ = ["CheckStandardSettings", "compound_key", "evaluate_check_standard"]


@dataclass(frozen=True, slots=True)
class CheckStandardSettings:
    """How the check standard is deconvoluted, searched and measured.

    Parameters
    ----------
    peaks
        :class:`gcms.qa.chromatography.PeakMeasureSettings`.
    deconvolution
        :class:`gcms.deconvolution.DeconvolutionSettings` (None: its defaults).
    min_match_factor_found
        Least identity MF for a component in the window to count as the compound when
        it misses the compound's own minimum (below it the compound is not found).
    top
        Library hits recorded for each located component.
    """

    peaks: PeakMeasureSettings = field(default_factory=PeakMeasureSettings)
    deconvolution: DeconvolutionSettings | None = None
    min_match_factor_found: int = 500
    top: int = 5

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"peaks": self.peaks.to_dict(),
                "deconvolution": (self.deconvolution.to_dict()
                                  if self.deconvolution is not None else None),
                "min_match_factor_found": self.min_match_factor_found, "top": self.top}


_NOT_KEY = re.compile(r"[^a-z0-9]+")


def compound_key(name: str) -> str:
    """``"Methamphetamine (d5)"`` -> ``"methamphetamine_d5"``: the criterion-key form."""
    return _NOT_KEY.sub("_", name.casefold()).strip("_") or "compound"


@dataclass(frozen=True, slots=True)
class _Limits:
    rt_window_s: float
    ri_window: float
    min_match_factor: int
    min_signal_to_noise: float
    max_tailing_factor: float
    min_plate_count: float | None


def _limits(section: CheckStandardSection, compound: CheckCompound) -> _Limits:
    def pick(name: str):
        own = getattr(compound, name)
        return getattr(section, name) if own is None else own

    return _Limits(pick("rt_window_s"), pick("ri_window"), pick("min_match_factor"),
                   pick("min_signal_to_noise"), pick("max_tailing_factor"),
                   pick("min_plate_count"))


def library_entries(library: Library, names: list[str]) -> dict[str, list[int]]:
    """Library entries whose name or synonym folds to each of ``names`` (name_key)."""
    from gcms.identify import name_key

    wanted = {name_key(n): n for n in names}
    found: dict[str, list[int]] = {n: [] for n in names}
    for index, (entry, synonyms) in enumerate(zip(library.column("name"),
                                                  library.column("synonyms"), strict=True)):
        keys = {name_key(entry)}
        if synonyms:
            keys.update(name_key(s) for s in json.loads(synonyms))
        for key in keys & wanted.keys():
            found[wanted[key]].append(index)
    return found


def _match_factors(library: Library, entries: dict[str, list[int]], spectra) -> np.ndarray:
    """Identity MF of every component against each compound (best of its entries)."""
    from gcms.library import Library as _Library
    from gcms.library import search_arrays

    names = list(entries)
    flat = [(k, e) for k, name in enumerate(names) for e in entries[name]]
    out = np.zeros((len(names), len(spectra)), dtype=np.int64)
    if not flat or not spectra:
        return out
    sub = _Library.from_spectra([library.spectrum(e) for _, e in flat])
    hits = search_arrays(sub, spectra, top=len(flat))
    owner = np.array([k for k, _ in flat])
    for q in range(len(spectra)):  # components of one run: tens
        valid = hits.index[q] >= 0
        np.maximum.at(out[:, q], owner[hits.index[q][valid]], hits.match_factor[q][valid])
    return out


def _read(run: Run | str | os.PathLike) -> Run:
    if isinstance(run, Run):
        return run
    import gcms.io

    return gcms.io.read(run)


def evaluate_check_standard(
    run: Run | str | os.PathLike,
    *,
    profile: InstrumentProfile,
    library: Library | str | os.PathLike,
    calibration: RetentionCalibration | None = None,
    deconvolution: Deconvolution | None = None,
    settings: CheckStandardSettings | None = None,
    performed_at: datetime | None = None,
) -> QAResult:
    """Judge a check-standard run against the profile's ``[check_standard]`` (module notes).

    Parameters
    ----------
    run
        The check-standard run, or its file.
    profile
        The instrument profile.
    library
        Where the compounds' reference spectra are: a :class:`gcms.library.Library` or
        a compiled library file (required: there is no default library).
    calibration
        RT -> RI calibration of the sequence's ladder (for the RI criteria).
    deconvolution
        The run's deconvolution when already made (a batch's pass 1).
    settings
        :class:`CheckStandardSettings`.
    performed_at
        When the standard was acquired; default the run's acquisition time, else now.

    Raises
    ------
    ProfileError
        The profile has no ``[check_standard]`` section or no compound in it.
    LibraryError
        The library holds no entry for a compound (the check cannot be made with it).
    FormatError
        The run file cannot be read.
    """
    from gcms.library import Library as _Library
    from gcms.library import search

    settings = settings or CheckStandardSettings()
    section = profile.check_standard
    where = profile.source_path or profile.id
    if section is None or not section.compounds:
        raise ProfileError(f"{where}: check_standard: the profile defines no check-standard "
                           "compounds")
    run = _read(run)
    if library is None:
        raise LibraryError(f"{where}: check_standard: no library given: the check "
                           "compounds' reference spectra come from the library it is given")
    if not isinstance(library, _Library):
        library = _Library.open(library)
    names = [c.name for c in section.compounds]
    entries = library_entries(library, names)
    absent = [n for n, found in entries.items() if not found]
    if absent:
        raise LibraryError(f"{library.path or library.title or 'library'}: no entry for "
                           f"{', '.join(repr(n) for n in absent)} (check standard of "
                           f"{profile.id}): use a library holding every check compound")
    if deconvolution is None:
        from gcms.deconvolution import deconvolve

        deconvolution = deconvolve(run, settings.deconvolution)
    components = list(deconvolution.components)
    rts = np.array([c.rt_s for c in components], dtype=np.float64)
    indices = calibration.apply(rts) if calibration is not None and rts.size else None
    ri = indices.retention_index if indices is not None else np.full(rts.size, np.nan)
    mf = _match_factors(library, entries, [c.spectrum for c in components])
    limits = [_limits(section, c) for c in section.compounds]
    located = _locate(section.compounds, limits, rts, ri, mf, settings)

    notes: list[str] = []
    if calibration is None:
        notes.append("no ladder calibration: retention indices not computed")
    measures = _measure(run, section.compounds, located, components, deconvolution,
                        settings)
    top_hits = {}
    chosen = sorted({j for j, _ in located.values() if j is not None})
    if chosen:
        for j, result in zip(chosen, search(library, [components[j].spectrum for j in chosen],
                                            top=settings.top), strict=True):
            top_hits[j] = result.hits
    criteria: list[Criterion] = []
    details = []
    for k, (compound, lim) in enumerate(zip(section.compounds, limits, strict=True)):
        j, how = located[compound.name]
        row = measures.get(compound.name)
        criteria.extend(_compound_criteria(compound, lim, j, how, rts, ri, indices, mf[k],
                                           row, calibration is not None))
        details.append(_detail(compound, j, how, rts, ri, mf[k], row, top_hits.get(j, ()),
                               entries[compound.name], library))
    for pair in section.critical_pairs:
        criteria.append(_pair_criterion(pair, measures))
    when = performed_at or run.metadata.acquired_at or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    source = run_evidence(run)
    source["library"] = {"path": str(library.path) if library.path else None,
                         "title": library.title, "content_sha256": library.content_sha256}
    if calibration is not None:
        source["ladder"] = dict(calibration.source)
    return QAResult(
        kind="check", instrument_id=profile.id, criteria_set=section.name or "check standard",
        criteria=tuple(criteria), performed_at=when, source=source,
        profile=profile.reference(), notes=tuple(notes),
        details={"compounds": details, "n_components": len(components),
                 "settings": settings.to_dict()})


def _locate(compounds, limits, rts: np.ndarray, ri: np.ndarray, mf: np.ndarray,
            settings: CheckStandardSettings) -> dict[str, tuple[int | None, str]]:
    """Component index (or None) of each compound and how it was located."""
    n_components = rts.size
    in_window = np.zeros((len(compounds), n_components), dtype=bool)
    distance = np.full((len(compounds), n_components), np.inf)
    for k, (compound, lim) in enumerate(zip(compounds, limits, strict=True)):
        if compound.expected_rt_s is not None:
            distance[k] = np.abs(rts - compound.expected_rt_s) / lim.rt_window_s
        elif compound.expected_ri is not None:
            distance[k] = np.where(np.isfinite(ri), np.abs(ri - compound.expected_ri)
                                   / lim.ri_window, np.inf)
        in_window[k] = distance[k] <= 1.0
    minimum = np.array([lim.min_match_factor for lim in limits])[:, None]
    floor = settings.min_match_factor_found
    out: dict[str, tuple[int | None, str]] = {}
    taken: set[int] = set()

    def assign(mask: np.ndarray, how: str) -> None:
        k_idx, j_idx = np.nonzero(mask)
        order = np.lexsort((distance[k_idx, j_idx], -mf[k_idx, j_idx]))
        for k, j in zip(k_idx[order].tolist(), j_idx[order].tolist(), strict=True):
            name = compounds[k].name
            if name not in out and j not in taken:
                out[name] = (j, how)
                taken.add(j)

    assign(in_window & (mf >= minimum), "in window")
    assign(~in_window & (mf >= minimum), "outside the window")
    assign(in_window & (mf >= floor), "in window, poor match")
    for compound in compounds:
        out.setdefault(compound.name, (None, "not found"))
    return out


def _measure(run: Run, compounds, located, components, deconvolution, settings):
    """Figures of every located compound on its ion's trace (one trace per ion)."""
    by_ion: dict[int, list[tuple[str, int]]] = {}
    for compound in compounds:
        j, _ = located[compound.name]
        if j is None:
            continue
        ion = compound.quantitation_ion or components[j].spectrum.base_peak_mz
        by_ion.setdefault(int(ion), []).append((compound.name, j))
    out: dict[str, dict[str, Any]] = {}
    for ion, members in by_ion.items():  # a handful of ions
        trace = ion_trace(run, [ion])
        found = measure_peaks(run.scan_times, trace, [components[j].rt_s for _, j in members],
                              width_s=[components[j].width_s for _, j in members],
                              noise_model=deconvolution.noise, n_ions=1,
                              settings=settings.peaks)
        for i, (name, _) in enumerate(members):
            out[name] = {**found.row(i), "ion": ion}
    return out


def _judge(limit: Limit, value: float | None) -> bool | None:
    if value is None or not math.isfinite(value):
        return None
    return limit.contains(value)


def _compound_criteria(compound: CheckCompound, lim: _Limits, j: int | None, how: str,
                       rts: np.ndarray, ri: np.ndarray, indices, mf_row: np.ndarray,
                       row: dict[str, Any] | None, have_calibration: bool) -> list[Criterion]:
    name, key = compound.name, compound_key(compound.name)
    found = j is not None
    missing = f"{name} not found (no component matching it at MF >= the minimum)"
    out: list[Criterion] = []
    rt = float(rts[j]) if found else None
    if compound.expected_rt_s is not None:
        limit = Limit(compound.expected_rt_s - lim.rt_window_s,
                      compound.expected_rt_s + lim.rt_window_s)
        note = missing if not found else (
            f"Δ {rt - compound.expected_rt_s:+.2f} s" + ("" if how != "outside the window"
                                                         else "; found outside the window"))
        out.append(Criterion(key=f"rt_{key}", name=f"retention time of {name}", value=rt,
                             unit="s", limit=limit, passed=limit.contains(rt) if found
                             else False, wording=f"{compound.expected_rt_s:g} ± "
                             f"{lim.rt_window_s:g} s", note=note))
    else:
        out.append(Criterion(key=f"rt_{key}", name=f"retention time of {name}", value=rt,
                             unit="s", limit=Limit(), passed=None, required=False,
                             note="located by retention index" if found else missing))
    if compound.expected_ri is not None:
        limit = Limit(compound.expected_ri - lim.ri_window, compound.expected_ri + lim.ri_window)
        wording = f"{compound.expected_ri:g} ± {lim.ri_window:g}"
        value = float(ri[j]) if found and math.isfinite(ri[j]) else None
        if not have_calibration:
            out.append(Criterion(key=f"ri_{key}", name=f"retention index of {name}", value=None,
                                 unit="", limit=limit, passed=None,
                                 required=compound.expected_rt_s is None, wording=wording,
                                 note="no ladder calibration: index not computed"))
        else:
            note = missing if not found else (
                f"Δ {value - compound.expected_ri:+.1f}" if value is not None else
                "no index at this time")
            if found and indices is not None and bool(indices.extrapolated[j]):
                note += "; extrapolated beyond the ladder"
            out.append(Criterion(key=f"ri_{key}", name=f"retention index of {name}", value=value,
                                 unit="", limit=limit, passed=(limit.contains(value)
                                                               if value is not None else False),
                                 wording=wording, note=note))
    mf = float(mf_row[j]) if found else None
    limit = Limit(low=lim.min_match_factor)
    out.append(Criterion(key=f"mf_{key}", name=f"match factor of {name}", value=mf, unit="",
                         limit=limit, passed=limit.contains(mf) if found else False,
                         note="" if found else missing))
    measured = row is not None and row.get("found")
    ion = f" on m/z {row['ion']}" if row is not None else ""

    def figure(suffix: str, label: str, value_key: str, limit: Limit, *, unit: str = ""
               ) -> Criterion:
        judged = not limit.is_open
        value = row.get(value_key) if measured else None
        if not found:
            passed, note = (False if judged else None), missing
        elif value is None:
            passed = None
            note = ("not measurable (a neighbouring peak or the end of the run)" if measured
                    else "no peak on the trace at the component's time")
        else:
            passed, note = (limit.contains(value) if judged else None), ""
        return Criterion(key=f"{suffix}_{key}", name=label, value=value, unit=unit,
                         limit=limit, passed=passed, required=judged, note=note)

    out.append(figure("snr", f"S/N of {name}{ion}" + (" (low-level)" if compound.low_level
                                                      else ""),
                      "signal_to_noise", Limit(low=lim.min_signal_to_noise)))
    out.append(figure("tailing", f"tailing factor of {name} (USP, 5 % height)",
                      "tailing_factor", Limit(high=lim.max_tailing_factor)))
    out.append(figure("plates", f"plate count of {name}", "plate_count",
                      Limit(low=lim.min_plate_count) if lim.min_plate_count is not None
                      else Limit()))
    return out


def _pair_criterion(pair, measures: dict[str, dict[str, Any]]) -> Criterion:
    key = f"resolution_{compound_key(pair.first)}_{compound_key(pair.second)}"
    name = f"resolution {pair.first} / {pair.second}"
    limit = Limit(low=pair.min_resolution)
    a, b = measures.get(pair.first), measures.get(pair.second)
    if not (a and b and a.get("found") and b.get("found")):
        gone = [n for n, m in ((pair.first, a), (pair.second, b)) if not (m and m.get("found"))]
        return Criterion(key=key, name=name, value=None, unit="", limit=limit, passed=False,
                         note=f"{' and '.join(gone)} not found")
    value = float(resolution(a["rt_s"], a["width_s"] if a["width_s"] is not None else np.nan,
                             b["rt_s"], b["width_s"] if b["width_s"] is not None else np.nan))
    if not math.isfinite(value):
        return Criterion(key=key, name=name, value=None, unit="", limit=limit, passed=None,
                         note="peak widths not measurable")
    one_side = [n for n, m in ((pair.first, a), (pair.second, b)) if m["width_from_one_side"]]
    note = (f"width of {', '.join(one_side)} from the free side (overlap above half height)"
            if one_side else "")
    return Criterion(key=key, name=name, value=value, unit="", limit=limit,
                     passed=limit.contains(value), note=note)


def _detail(compound: CheckCompound, j: int | None, how: str, rts, ri, mf_row, row, hits,
            entries: list[int], library) -> dict[str, Any]:
    found = j is not None
    top = hits[0] if hits else None
    rank = next((h.rank for h in hits if h.library_index in entries), None)
    return {
        "name": compound.name, "located": how, "component": j,
        "rt_s": float(rts[j]) if found else None,
        "retention_index": (float(ri[j]) if found and math.isfinite(ri[j]) else None),
        "match_factor": int(mf_row[j]) if found else None,
        "library_entries": [library.entry(e).name for e in entries],
        "top_hit": ({"name": top.name, "match_factor": top.match_factor} if top else None),
        "rank_in_search": rank,
        "peak": row,
        "low_level": compound.low_level,
    }
