"""Alkane-ladder suitability: the ladder of a run judged against the instrument profile.

:func:`evaluate_ladder` finds the ladder (:func:`gcms.retention.find_ladder`, named with
the profile's expected times where no molecular ion is visible), measures every member
on the series trace (:func:`gcms.qa.chromatography.measure_peaks`) and returns a
:class:`~gcms.qa.QAResult` of kind ``"ladder"`` with these criteria (keys as stored in
the QA history and charted):

``members_found``
    members found, at least ``ladder.min_members``;
``missing_members``
    members of ``first_carbon``-``last_carbon`` (every ``step``) not found, at most
    ``ladder.max_missing_members`` (the note names them);
``rt_C<n>``
    each member's retention time; judged against the profile's expected time
    ± ``rt_window_s`` where the profile gives one (an expected member not found fails),
    recorded otherwise (the Levey–Jennings chart of a member's RT is its drift);
``rt_shift_C<n>``
    each member's shift from the mean of its times in the ``history_points`` latest
    passing ladders of the QA history (performed before this one, other evidence),
    within ± ``history_rt_window_s`` (recorded when that is unset, absent without
    history);
``resolution``, ``tailing_factor``, ``plate_count``, ``signal_to_noise``
    the least resolved consecutive pair (``Rs >= min_resolution``), the worst-tailing
    member (``T <= max_tailing_factor``), the least efficient member (``N >=
    min_plate_count``) and the weakest member (``S/N >= min_signal_to_noise``); each
    note names the member. A limit left unset in the profile records the value without
    judging it.

Every member's figures are in ``result.details["members"]``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from gcms._json import finite_or_none
from gcms.errors import ProfileError
from gcms.qa.chromatography import PeakMeasureSettings, ion_trace, measure_peaks, resolution
from gcms.qa.profile import InstrumentProfile, LadderSection
from gcms.qa.records import Criterion, Limit, QAResult
from gcms.retention.ladder import LadderSettings
from gcms.run import Run

__all__ = ["LadderQASettings", "evaluate_ladder", "ladder_calibration", "run_evidence"]


@dataclass(frozen=True, slots=True)
class LadderQASettings:
    """How the ladder is found and measured.

    ``finder`` is handed to :func:`gcms.retention.find_ladder`; its ``min_members`` is
    only the least it will call a ladder (the profile's ``min_members`` is judged as a
    criterion, so a short ladder is a failed check, not an unreadable run).
    """

    peaks: PeakMeasureSettings = field(default_factory=PeakMeasureSettings)
    finder: LadderSettings = field(default_factory=lambda: LadderSettings(min_members=3))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        import dataclasses

        return {"peaks": self.peaks.to_dict(), "finder": dataclasses.asdict(self.finder)}


def run_evidence(run: Run) -> dict[str, Any]:
    """What a QA result records about the run it judged (file, digest, sample, time)."""
    meta = run.metadata
    return {"path": meta.source_path, "sha256": meta.sha256, "sample_name": meta.sample_name,
            "format": meta.format,
            "acquired_at": meta.acquired_at.isoformat() if meta.acquired_at else None,
            "instrument": meta.instrument, "method": meta.method}


def _read(run: Run | str | os.PathLike) -> Run:
    if isinstance(run, Run):
        return run
    import gcms.io

    return gcms.io.read(run)


def ladder_calibration(run: Run | str | os.PathLike, profile: InstrumentProfile | None = None,
                       *, settings: LadderSettings | None = None):
    """The RT -> RI calibration of the ladder in ``run``, found as the profile expects it.

    The profile's ``[ladder]`` names the series, the expected times, the first carbon,
    the step, the RI method and the dead time; without one, :func:`find_ladder`'s
    defaults and Van den Dool & Kratz.

    Raises
    ------
    FormatError
        The run cannot be read, or holds no ladder (the message says what was seen).
    """
    from gcms.errors import FormatError
    from gcms.retention import find_ladder, series_named

    run = _read(run)
    section = profile.ladder if profile is not None else None
    label = run.metadata.source_path or run.metadata.sample_name or "ladder run"
    try:
        if section is None:
            ladder = find_ladder(run, settings=settings)
            return ladder.calibration()
        ladder = find_ladder(run, series=series_named(section.series), settings=settings,
                             expected_rt_s=section.expected_rt_by_carbon() or None,
                             first_carbon=section.first_carbon, step=section.step)
    except ValueError as error:
        message = str(error)
        raise FormatError(message if message.startswith(str(label)) else
                          f"{label}: {message}") from None
    return ladder.calibration(method=section.ri_method, dead_time_s=section.dead_time_s)


def _history_means(history, instrument_id: str, before: datetime, evidence_sha256: str | None,
                   points: int) -> tuple[dict[str, float], list[Any]]:
    """Mean RT per member over the latest passing ladders before ``before``."""
    if history is None:
        return {}, []
    stored = [s for s in history.results(instrument_id, kind="ladder", until=before)
              if s.result.passed and s.result.performed_at < before
              and (evidence_sha256 is None or s.result.source.get("sha256") != evidence_sha256)]
    stored = stored[-points:]
    values: dict[str, list[float]] = {}
    for item in stored:
        for criterion in item.result.criteria:
            if (criterion.key.startswith("rt_C") and criterion.value is not None
                    and math.isfinite(criterion.value)):
                values.setdefault(criterion.key[3:], []).append(float(criterion.value))
    return {name: float(np.mean(v)) for name, v in values.items()}, stored


def _aggregate(key: str, name: str, values: np.ndarray, labels: list[str], *, worst: str,
               limit: Limit, unit: str = "", what: str) -> Criterion:
    """One criterion from the worst member's value (``worst``: "min" or "max")."""
    finite = np.isfinite(values)
    judged = not limit.is_open
    if not finite.any():
        return Criterion(key=key, name=name, value=None, unit=unit, limit=limit,
                         passed=None, required=judged,
                         note=f"no member's {what} could be measured")
    index = int(np.nanargmin(values) if worst == "min" else np.nanargmax(values))
    value = float(values[index])
    unmeasured = [label for label, ok in zip(labels, finite, strict=True) if not ok]
    note = f"{labels[index]}"
    if unmeasured:
        note += f"; not measured: {', '.join(unmeasured)}"
    return Criterion(key=key, name=name, value=value, unit=unit, limit=limit,
                     passed=limit.contains(value) if judged else None, required=judged,
                     note=note)


def _open_or(bound_low: float | None = None, bound_high: float | None = None) -> Limit:
    return Limit(low=bound_low, high=bound_high)


def evaluate_ladder(
    run: Run | str | os.PathLike,
    *,
    profile: InstrumentProfile,
    history=None,
    settings: LadderQASettings | None = None,
    noise_model=None,
    performed_at: datetime | None = None,
) -> QAResult:
    """Judge the alkane ladder of ``run`` against ``profile`` (module notes).

    Parameters
    ----------
    run
        The ladder run, or its file.
    profile
        The instrument profile; its ``[ladder]`` section sets the expectations.
    history
        A :class:`gcms.qa.QAHistory` for the shift of each member from earlier ladders
        (None: no history criteria).
    settings
        :class:`LadderQASettings`.
    noise_model
        The run's :class:`gcms.signal.NoiseModel` when already known (a batch's
        deconvolution); otherwise it is fitted here.
    performed_at
        When the ladder was acquired; default the run's acquisition time, else now.

    Raises
    ------
    ProfileError
        The profile has no ``[ladder]`` section.
    FormatError
        The run file cannot be read.
    """
    from gcms.retention import find_ladder, series_named

    settings = settings or LadderQASettings()
    section = profile.ladder
    if section is None:
        raise ProfileError(f"{profile.source_path or profile.id}: ladder: the profile holds "
                           "no [ladder] section (expected members and limits)")
    run = _read(run)
    series = series_named(section.series)
    expected = section.expected_rt_by_carbon()
    notes: list[str] = []
    ladder = None
    try:
        ladder = find_ladder(run, series=series, settings=settings.finder,
                             expected_rt_s=expected or None, first_carbon=section.first_carbon,
                             step=section.step)
    except ValueError as error:
        notes.append(f"no ladder found: {error}")
    carbons = ladder.carbon_numbers.tolist() if ladder is not None else []
    rts = ladder.rt_seconds if ladder is not None else np.zeros(0)
    if ladder is not None:
        notes.append(ladder.naming.statement)

    # figures of every member on the series trace
    has_spectra = run.metadata.acquisition != "trace" and run.n_peaks > 0
    trace = ion_trace(run, series.trace_ions) if has_spectra else np.asarray(run.tic, float)
    if has_spectra and noise_model is None and run.n_scans >= 13:
        from gcms.signal import estimate_noise

        low, high = run.nominal_mz_range
        noise_model = estimate_noise(run.matrix(max(low, 1), high))
    measures = measure_peaks(run.scan_times, trace, rts, noise_model=noise_model if
                             has_spectra else None, n_ions=len(series.trace_ions),
                             settings=settings.peaks)

    when = performed_at or run.metadata.acquired_at or datetime.now(timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    means, reference = _history_means(history, profile.id, when, run.metadata.sha256,
                                      section.history_points)
    criteria = _criteria(section, carbons, rts, measures, means, len(reference))
    rs = resolution(measures.rt_s[:-1], measures.width_s[:-1], measures.rt_s[1:],
                    measures.width_s[1:]) if len(carbons) > 1 else np.zeros(0)
    members = []
    for i, n in enumerate(carbons):
        row = measures.row(i)
        expected_rt = expected.get(n)
        members.append({
            "name": f"C{n}", "carbon_number": n, "rt_s": float(rts[i]),
            "expected_rt_s": expected_rt,
            "drift_s": None if expected_rt is None else float(rts[i]) - expected_rt,
            "history_mean_rt_s": means.get(f"C{n}"),
            "shift_s": (float(rts[i]) - means[f"C{n}"]) if f"C{n}" in means else None,
            "signal_to_noise": row["signal_to_noise"], "width_s": row["width_s"],
            "width_from_one_side": row["width_from_one_side"],
            "tailing_factor": row["tailing_factor"], "plate_count": row["plate_count"],
            "resolution_to_next": finite_or_none(rs[i]) if i < rs.size else None,
        })
    if reference:
        notes.append(f"shifts against the mean of {len(reference)} earlier passing ladder(s), "
                     f"{reference[0].result.performed_at.isoformat(timespec='minutes')} to "
                     f"{reference[-1].result.performed_at.isoformat(timespec='minutes')}")
    details = {"series": series.name, "members": members,
               "naming": ladder.naming.to_dict() if ladder is not None else None,
               "dropped": [d.to_dict() for d in ladder.dropped] if ladder is not None else [],
               "history_results": [s.id for s in reference],
               "settings": settings.to_dict()}
    return QAResult(
        kind="ladder", instrument_id=profile.id,
        criteria_set=f"ladder {section.series} C{section.first_carbon}-C{section.last_carbon}",
        criteria=tuple(criteria), performed_at=when, source=run_evidence(run),
        profile=profile.reference(), notes=tuple(notes), details=details)


def _criteria(section: LadderSection, carbons: list[int], rts: np.ndarray, measures,
              means: dict[str, float], n_history: int) -> list[Criterion]:
    expected = section.expected_rt_by_carbon()
    wanted = list(range(section.first_carbon, section.last_carbon + 1, section.step))
    missing = [n for n in wanted if n not in carbons]
    extra = [n for n in carbons if n not in wanted]
    out = [
        Criterion(key="members_found", name="ladder members found", value=float(len(carbons)),
                  unit="", limit=Limit(low=section.min_members), passed=len(carbons) >=
                  section.min_members, note=(f"C{carbons[0]}-C{carbons[-1]}" if carbons
                                             else "no ladder found")),
        Criterion(key="missing_members",
                  name=f"members of C{section.first_carbon}-C{section.last_carbon} missing",
                  value=float(len(missing)), unit="", limit=Limit(high=section.max_missing_members),
                  passed=len(missing) <= section.max_missing_members,
                  note=("missing: " + ", ".join(f"C{n}" for n in missing) if missing else "")
                  + ("; outside the expected range: " + ", ".join(f"C{n}" for n in extra)
                     if extra else "")),
    ]
    window = section.rt_window_s
    found_rt = dict(zip(carbons, rts.tolist(), strict=True))
    for n in sorted(set(carbons) | set(expected)):
        rt = found_rt.get(n)
        if n in expected:
            limit = Limit(expected[n] - window, expected[n] + window)
            wording = f"{expected[n]:g} ± {window:g} s"
            if rt is None:
                out.append(Criterion(key=f"rt_C{n}", name=f"retention time of C{n}", value=None,
                                     unit="s", limit=limit, passed=False, wording=wording,
                                     note=f"C{n} not found"))
            else:
                out.append(Criterion(key=f"rt_C{n}", name=f"retention time of C{n}", value=rt,
                                     unit="s", limit=limit, passed=limit.contains(rt),
                                     wording=wording, note=f"drift {rt - expected[n]:+.2f} s"))
        else:
            out.append(Criterion(key=f"rt_C{n}", name=f"retention time of C{n}", value=rt,
                                 unit="s", limit=Limit(), passed=None, required=False,
                                 note="no expected time in the profile"))
    history_window = section.history_rt_window_s
    for n in carbons:
        mean = means.get(f"C{n}")
        if mean is None:
            continue
        shift = found_rt[n] - mean
        limit = Limit(-history_window, history_window) if history_window else Limit()
        out.append(Criterion(
            key=f"rt_shift_C{n}", name=f"shift of C{n} from the QA history", value=shift,
            unit="s", limit=limit, passed=limit.contains(shift) if history_window else None,
            required=bool(history_window),
            wording=(f"within ± {history_window:g} s of the mean of {n_history} ladder(s)"
                     if history_window else ""),
            note=f"mean of {n_history} earlier ladder(s): {mean:.2f} s"))
    labels = [f"C{n}" for n in carbons]
    if len(carbons) > 1:
        rs = resolution(measures.rt_s[:-1], measures.width_s[:-1], measures.rt_s[1:],
                        measures.width_s[1:])
        pair_labels = [f"{a}/{b}" for a, b in zip(labels[:-1], labels[1:], strict=True)]
    else:
        rs, pair_labels = np.zeros(0), []
    out.append(_aggregate("resolution", "least resolution between consecutive members", rs,
                          pair_labels, worst="min", limit=_open_or(section.min_resolution),
                          what="resolution"))
    out.append(_aggregate("tailing_factor", "largest tailing factor (USP, 5 % height)",
                          np.asarray(measures.tailing_factor), labels, worst="max",
                          limit=_open_or(bound_high=section.max_tailing_factor),
                          what="tailing factor"))
    out.append(_aggregate("plate_count", "least plate count (half-height width)",
                          np.asarray(measures.plate_count), labels, worst="min",
                          limit=_open_or(section.min_plate_count), what="plate count"))
    out.append(_aggregate("signal_to_noise", "weakest member's S/N (series trace)",
                          np.asarray(measures.signal_to_noise), labels, worst="min",
                          limit=_open_or(section.min_signal_to_noise), what="S/N"))
    return out
