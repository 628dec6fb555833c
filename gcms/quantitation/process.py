"""Quantitation of a whole sequence: measure every run, calibrate, quantify, check.

:func:`quantitate` is the one entry point (the ``gcms quant`` command and the batch call
it)::

    from gcms.sequence import read_sequence
    from gcms.quantitation import load_method, quantitate

    result = quantitate(read_sequence("seq.csv"), load_method("etizolam.toml"))
    result.record("LR-014").quantities[0].concentration
    result.calibrations["Etizolam"].fit.r_squared

What it does, in order:

1. every run of the sequence (ladders excepted) is read (or taken from ``runs``) and
   each internal standard and analyte is integrated on its quantifier ion (or the TIC)
   by :func:`gcms.quantitation.integration.integrate_peak`; qualifier ions between the
   quantifier's limits;
2. per analyte, the calibrators are the ``standard`` rows with a ``concentration`` whose
   ``reference_substance`` names it (or names nothing, in a one-analyte method). A
   calibrator whose analyte or internal standard is missing or saturated is excluded,
   with the reason. Their qualifier/quantifier ratios (mean) and retention times
   (range) become the sequence's reference for identity checks;
3. the blanks' responses at the analyte's retention time (integrated over the
   calibrators' typical limits) give the blank-based limits;
4. :func:`gcms.quantitation.calibration.build_calibration` fits and judges the curve;
5. every run gets a :class:`~gcms.quantitation.quantity.Quantity` per analyte: a
   calibrator its back-calculated value, a ``qc`` row with a concentration its check
   against the nominal value, a sample its concentration, uncertainty and amount in
   the exhibit.

The response is the analyte/IS area ratio; the internal standard must be added at the
same amount to every injected solution (calibrators, checks and samples alike).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from gcms.errors import GcmsError, QuantitationError
from gcms.quantitation.calibration import Calibration, CalibrationPoint, build_calibration
from gcms.quantitation.integration import Integration, integrate_between, integrate_peak
from gcms.quantitation.method import Analyte, InternalStandard, QuantMethod
from gcms.quantitation.quantity import (
    CheckResult,
    QualifierCheck,
    Quantity,
    amount_in_exhibit,
)
from gcms.quantitation.units import convert_concentration
from gcms.run import Run
from gcms.sequence import Injection, Sequence

__all__ = ["Measurement", "QuantitationResult", "RunRecord", "measure", "quantitate"]

#: A run at the acquisition threshold counts as S/N 3 (see integration step 3).
THRESHOLD_TO_NOISE = 1.0 / 3.0
#: Bands of Commission Decision 2002/657/EC, table 5 (GC-EI-MS): (ratio above, ±%).
EU_2002_657_EI_BANDS = ((0.50, 10.0), (0.20, 15.0), (0.10, 20.0), (0.0, 50.0))

RunSource = Mapping[str, Run] | Callable[[Injection], Run] | None


@dataclass(frozen=True, slots=True)
class Measurement:
    """One compound (analyte or internal standard) integrated in one run."""

    name: str
    integration: Integration
    qualifier_mz: tuple[float, ...] = ()
    qualifiers: tuple[Integration, ...] = ()

    @property
    def ratios(self) -> tuple[float | None, ...]:
        """Qualifier/quantifier area ratios (None where the quantifier area is not > 0)."""
        area = self.integration.area
        return tuple(q.area / area if area > 0 else None for q in self.qualifiers)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "integration": self.integration.to_dict(),
                "qualifiers": [{"mz": mz, "area": q.area, "ratio": r}
                               for mz, q, r in zip(self.qualifier_mz, self.qualifiers,
                                                   self.ratios, strict=True)]}


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What quantitation found in one run of the sequence."""

    injection: Injection
    sha256: str | None = None
    sample_name: str | None = None
    acquired_at: str | None = None
    internal_standards: tuple[Measurement, ...] = ()
    quantities: tuple[Quantity, ...] = ()
    error: str | None = None

    @property
    def sample_id(self) -> str:
        """The sequence's sample id of this run."""
        return self.injection.sample_id

    def quantity(self, substance: str) -> Quantity | None:
        """The quantity of one substance (by its method name), None if absent."""
        wanted = substance.casefold()
        return next((q for q in self.quantities if q.substance.casefold() == wanted), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: one record of ``results.json``."""
        inj = self.injection
        return {
            "sample_id": inj.sample_id, "file": str(inj.file), "type": inj.type,
            "position": inj.position, "case_id": inj.case_id, "exhibit_id": inj.exhibit_id,
            "sample_name": self.sample_name, "acquired_at": self.acquired_at,
            "sha256": self.sha256, "error": self.error,
            "internal_standards": [m.to_dict() for m in self.internal_standards],
            "quantitation": [q.to_dict() for q in self.quantities],
        }


@dataclass(frozen=True, slots=True)
class QuantitationResult:
    """The quantitation of one sequence: per-run records and per-analyte calibrations."""

    method: QuantMethod
    sequence_path: str
    records: tuple[RunRecord, ...]
    calibrations: Mapping[str, Calibration]
    references: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "calibrations", MappingProxyType(dict(self.calibrations)))
        object.__setattr__(self, "references", MappingProxyType(dict(self.references)))

    def __reduce__(self):
        return (_rebuild_result, (self.method, self.sequence_path, self.records,
                                  dict(self.calibrations), dict(self.references)))

    def record(self, sample_id: str) -> RunRecord:
        """The record of one run by its sample id (KeyError when absent)."""
        for record in self.records:
            if record.sample_id == sample_id:
                return record
        raise KeyError(sample_id)

    def quantitation_for(self, sample_id: str) -> list[dict[str, Any]]:
        """The ``quantitation`` list of one run's record, as JSON (what a batch embeds)."""
        return [q.to_dict() for q in self.record(sample_id).quantities]

    @property
    def findings(self) -> tuple[str, ...]:
        """What failed: calibrations, check standards, unreadable runs (empty when all held)."""
        out = [f"calibration of {name} failed: {'; '.join(c.reasons)}"
               for name, c in self.calibrations.items() if not c.ok]
        for record in self.records:
            if record.error:
                out.append(f"{record.sample_id}: {record.error}")
            for q in record.quantities:
                if q.role == "check" and q.check is not None and not q.check.passed:
                    found = (f"{q.check.recovery_percent:.1f} % of nominal"
                             if q.check.recovery_percent is not None else q.message)
                    out.append(f"{record.sample_id}: check standard {q.substance} "
                               f"{q.check.nominal:g} {q.unit}: {found} (limit "
                               f"±{q.check.tolerance_percent:g} %)")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``results.json``."""
        import gcms

        return {
            "schema": "gcms-quant-results/1", "gcms_version": gcms.__version__,
            "sequence": self.sequence_path, "method": self.method.to_dict(),
            "runs": [r.to_dict() for r in self.records],
            "calibration_summary": {
                name: {"status": c.status, "reasons": list(c.reasons), "model": c.model,
                       "weighting": c.weighting,
                       "r_squared": c.fit.r_squared if c.fit else None,
                       "range": list(c.range) if c.range else None, "unit": c.unit}
                for name, c in self.calibrations.items()},
            "findings": list(self.findings),
        }

    def calibration_dict(self) -> dict[str, Any]:
        """JSON form: ``calibration.json``."""
        return {
            "schema": "gcms-quant-calibration/1", "sequence": self.sequence_path,
            "method": {"name": self.method.name, "path": self.method.path,
                       "sha256": self.method.sha256},
            "calibrations": {name: {**c.to_dict(), "reference": dict(self.references.get(
                name, {}))} for name, c in self.calibrations.items()},
        }


def _rebuild_result(method, sequence_path, records, calibrations, references):
    return QuantitationResult(method=method, sequence_path=sequence_path, records=records,
                              calibrations=calibrations, references=references)


# ------------------------------------------------------------------------ measuring
def _traces(run: Run, mzs: list[float], tolerance: float) -> dict[float, np.ndarray]:
    return {mz: run.xic(mz, tolerance) for mz in dict.fromkeys(mzs)}


def _measure_one(run: Run, name: str, trace: np.ndarray, label: str, qualifiers: tuple[float, ...],
                 qualifier_traces: dict[float, np.ndarray], *, rt_s: float, window_s: float,
                 method: QuantMethod, noise_floor: float) -> Measurement:
    settings = method.integration
    main = integrate_peak(run.scan_times, trace, rt_s=rt_s, window_s=window_s,
                          settings=settings, noise_floor=noise_floor,
                          saturation_counts=method.saturation_counts, signal=label)
    found: tuple[Integration, ...] = ()
    if main.start_scan is not None:
        found = tuple(integrate_between(run.scan_times, qualifier_traces[mz],
                                        start_scan=main.start_scan, end_scan=main.end_scan,
                                        settings=settings, signal=f"m/z {mz:g}")
                      for mz in qualifiers)
    return Measurement(name=name, integration=main, qualifier_mz=qualifiers if found else (),
                       qualifiers=found)


def quantifier_trace(run: Run, analyte: Analyte) -> np.ndarray:
    """The trace an analyte is quantified on: its quantifier ion's XIC, or the TIC."""
    if analyte.signal == "tic":
        return np.asarray(run.tic, dtype=np.float64)
    return run.xic(analyte.quantifier_mz, analyte.mz_tolerance)


def measure(run: Run, method: QuantMethod) -> dict[str, Measurement]:
    """Integrate every internal standard and analyte of ``method`` in one run.

    Keys are the internal standards' ids and the analytes' names.
    """
    positive = run.intensity[run.intensity > 0]
    noise_floor = float(positive.min()) * THRESHOLD_TO_NOISE if positive.size else 0.0
    out: dict[str, Measurement] = {}
    compounds: list[InternalStandard | Analyte] = [*method.internal_standards, *method.analytes]
    for compound in compounds:
        tolerance = compound.mz_tolerance
        quals = tuple(compound.qualifier_mz)
        traces = _traces(run, [*( [compound.quantifier_mz] if compound.quantifier_mz else []),
                               *quals], tolerance)
        if isinstance(compound, Analyte) and compound.signal == "tic":
            trace, label = np.asarray(run.tic, dtype=np.float64), "TIC"
        else:
            trace, label = traces[compound.quantifier_mz], f"m/z {compound.quantifier_mz:g}"
        key = compound.id if isinstance(compound, InternalStandard) else compound.name
        out[key] = _measure_one(run, key, trace, label, quals, traces, rt_s=compound.rt_s,
                                window_s=compound.rt_window_s, method=method,
                                noise_floor=noise_floor)
    return out


# ---------------------------------------------------------------------- the sequence
def _load(injection: Injection, runs: RunSource) -> Run:
    if runs is None:
        import gcms.io

        return gcms.io.read(injection.file)
    if callable(runs):
        return runs(injection)
    for key in (injection.sample_id, str(injection.file)):
        if key in runs:
            return runs[key]
    raise QuantitationError(f"{injection.sample_id}: no run given for {injection.file}")


def _applies(analyte: Analyte, injection: Injection, method: QuantMethod) -> bool:
    """Whether the nominal concentration of a standard/qc row is this analyte's."""
    if injection.reference_substances:
        return any(analyte.matches(s) for s in injection.reference_substances)
    return len(method.analytes) == 1


def _role(analyte: Analyte, injection: Injection, method: QuantMethod) -> str:
    nominal = injection.concentration is not None and _applies(analyte, injection, method)
    if injection.type == "standard" and nominal:
        return "calibrator"
    if injection.type == "qc" and nominal:
        return "check"
    if injection.type == "blank":
        return "blank"
    return "unknown"


def _nominal(injection: Injection, method: QuantMethod) -> float:
    unit = injection.unit or method.unit
    try:
        return convert_concentration(injection.concentration, unit, method.unit)
    except QuantitationError as error:
        raise QuantitationError(f"{injection.sample_id}: {error}") from None


def _response(analyte: Analyte, standard: InternalStandard | None,
              found: Mapping[str, Measurement]) -> tuple[float | None, str | None]:
    """Area (ratio) of one analyte in one run, or why there is none."""
    m = found[analyte.name].integration
    if not m.detected:
        return None, f"{analyte.name} not detected ({m.message})"
    if m.saturated:
        return None, (f"{analyte.name} quantifier {m.signal} saturated ({m.saturation}): "
                      "dilute and re-inject")
    if standard is None:
        return m.area, None
    s = found[standard.id].integration
    if not s.detected:
        return None, (f"internal standard {standard.name} not found ({s.message})")
    if s.saturated:
        return None, f"internal standard {standard.name} saturated ({s.saturation})"
    if s.area <= 0:
        return None, f"internal standard {standard.name} has no positive area"
    return m.area / s.area, None


def _ratio_tolerance(reference: float, method: QuantMethod) -> float:
    acceptance = method.acceptance
    if acceptance.ion_ratio_rule == "relative":
        return acceptance.ion_ratio_tolerance_percent
    for above, tolerance in EU_2002_657_EI_BANDS:
        if reference > above:
            return tolerance
    return EU_2002_657_EI_BANDS[-1][1]


def quantitate(sequence: Sequence, method: QuantMethod, *, runs: RunSource = None,
               progress: Callable[[Injection], None] | None = None) -> QuantitationResult:
    """Quantify every analyte of ``method`` in every run of ``sequence`` (module notes).

    Parameters
    ----------
    sequence : Sequence
        The injections, with their roles, nominal concentrations and sample amounts.
    method : QuantMethod
        Analytes, internal standards, models and acceptance limits.
    runs : mapping or callable, optional
        Runs already read (keyed by sample id or by file path), or a function
        ``Injection -> Run``; by default each file is read with :func:`gcms.io.read`.
    progress : callable, optional
        Called with each injection once it is measured.

    A run that cannot be read gets a record with ``error`` and no quantities; the others
    go on. A failed calibration makes every result of its analyte ``not reportable``
    with the calibration's reasons.
    """
    measured: dict[int, dict[str, Measurement]] = {}
    blank_traces: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
    base: dict[int, RunRecord] = {}
    for injection in sequence:
        if injection.type == "ladder":
            if progress is not None:
                progress(injection)
            continue
        try:
            run = _load(injection, runs)
            measured[injection.position] = measure(run, method)
            if injection.type == "blank":
                blank_traces[injection.position] = {
                    a.name: (run.scan_times, quantifier_trace(run, a)) for a in method.analytes}
        except GcmsError as error:
            base[injection.position] = RunRecord(injection=injection, error=str(error))
        else:
            meta = run.metadata
            base[injection.position] = RunRecord(
                injection=injection, sha256=meta.sha256, sample_name=meta.sample_name,
                acquired_at=meta.acquired_at.isoformat() if meta.acquired_at else None,
                internal_standards=tuple(measured[injection.position][s.id]
                                         for s in method.internal_standards))
        if progress is not None:
            progress(injection)

    calibrations: dict[str, Calibration] = {}
    references: dict[str, dict[str, Any]] = {}
    quantities: dict[int, list[Quantity]] = {p: [] for p in base}
    for analyte in method.analytes:
        calibration, reference = _calibrate(analyte, sequence, method, measured,
                                            blank_traces)
        calibrations[analyte.name] = calibration
        references[analyte.name] = reference
        for position, record in base.items():
            if record.error is None:
                quantities[position].append(_quantify(
                    analyte, record.injection, method, measured[position], calibration,
                    reference))
    records = tuple(dataclasses.replace(base[p], quantities=tuple(quantities[p]))
                    for p in sorted(base))
    return QuantitationResult(method=method, sequence_path=str(sequence.path), records=records,
                              calibrations=calibrations, references=references)


def _calibrate(analyte: Analyte, sequence: Sequence, method: QuantMethod,
               measured: Mapping[int, Mapping[str, Measurement]],
               traces: Mapping[int, Mapping[str, tuple[np.ndarray, np.ndarray]]]
               ) -> tuple[Calibration, dict[str, Any]]:
    standard = method.internal_standard(analyte)
    points: list[CalibrationPoint] = []
    accepted: list[Measurement] = []
    accepted_is: list[Measurement] = []
    for injection in sequence:
        if _role(analyte, injection, method) != "calibrator":
            continue
        if injection.position not in measured:
            points.append(CalibrationPoint(sample_id=injection.sample_id,
                                           concentration=_nominal(injection, method),
                                           response=None, used=False,
                                           reason="run could not be read"))
            continue
        found = measured[injection.position]
        response, why = _response(analyte, standard, found)
        points.append(CalibrationPoint(sample_id=injection.sample_id,
                                       concentration=_nominal(injection, method),
                                       response=response, used=response is not None,
                                       reason=why))
        if response is not None:
            accepted.append(found[analyte.name])
            if standard is not None:
                accepted_is.append(found[standard.id])
    reference = _reference(analyte, accepted)
    if standard is not None and accepted_is:
        areas = np.array([m.integration.area for m in accepted_is])
        ratios = np.array([[np.nan if r is None else r for r in m.ratios] for m in accepted_is],
                          dtype=np.float64).reshape(len(accepted_is), len(standard.qualifier_mz))
        with np.errstate(invalid="ignore"):
            mean = np.nanmean(ratios, axis=0) if ratios.size else np.zeros(0)
        reference["internal_standard"] = {
            "id": standard.id, "area_mean": float(areas.mean()),
            "area_rsd_percent": float(100 * areas.std(ddof=1) / areas.mean())
            if areas.size > 1 else None,
            "qualifier_mz": list(standard.qualifier_mz),
            "qualifier_ratio": [None if not np.isfinite(v) else float(v) for v in mean]}
    blanks = _blank_responses(analyte, standard, sequence, method, measured, traces, reference)
    response_label = (f"area {analyte.signal_label} / area m/z {standard.quantifier_mz:g} "
                      f"of {standard.id}" if standard else f"area {analyte.signal_label}")
    calibration = build_calibration(
        analyte.name, points, model=analyte.model, weighting=analyte.weighting,
        acceptance=method.acceptance, unit=method.unit, response=response_label,
        blank_responses=blanks)
    if standard is not None:
        missing = [p for p in points if p.reason and "internal standard" in p.reason]
        if missing and not calibration.ok:
            calibration = dataclasses.replace(calibration, reasons=(
                f"internal standard {standard.name} absent or unusable in "
                f"{len(missing)} of {len(points)} calibrators", *calibration.reasons))
    return calibration, reference


def _reference(analyte: Analyte, accepted: list[Measurement]) -> dict[str, Any]:
    """Identity reference from the accepted calibrators: qualifier ratios and RT range."""
    if not accepted:
        return {"n_standards": 0}
    rts = np.array([m.integration.rt_s for m in accepted])
    ratios = np.array([[np.nan if r is None else r for r in m.ratios] for m in accepted],
                      dtype=np.float64).reshape(len(accepted), len(analyte.qualifier_mz))
    starts = np.array([m.integration.start_s - m.integration.rt_s for m in accepted])
    ends = np.array([m.integration.end_s - m.integration.rt_s for m in accepted])
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(ratios, axis=0) if ratios.size else np.zeros(0)
        sd = np.nanstd(ratios, axis=0, ddof=1) if len(accepted) > 1 else np.full(mean.shape,
                                                                                   np.nan)
    return {
        "n_standards": len(accepted),
        "rt_s": float(np.median(rts)), "rt_min_s": float(rts.min()), "rt_max_s": float(rts.max()),
        "start_offset_s": float(np.median(starts)), "end_offset_s": float(np.median(ends)),
        "qualifier_mz": list(analyte.qualifier_mz),
        "qualifier_ratio": [None if not np.isfinite(v) else float(v) for v in mean],
        "qualifier_ratio_sd": [None if not np.isfinite(v) else float(v) for v in sd],
    }


def _blank_responses(analyte: Analyte, standard: InternalStandard | None, sequence: Sequence,
                     method: QuantMethod, measured: Mapping[int, Mapping[str, Measurement]],
                     traces: Mapping[int, Mapping[str, tuple[np.ndarray, np.ndarray]]],
                     reference: Mapping[str, Any]) -> list[float]:
    """Responses of the blanks at the analyte's retention time.

    The quantifier is integrated between the calibrators' typical limits (median offsets
    from the apex) around their median retention time, peak or no peak.
    """
    if not reference.get("n_standards"):
        return []
    lo = reference["rt_s"] + reference["start_offset_s"]
    hi = reference["rt_s"] + reference["end_offset_s"]
    out = []
    for injection in sequence.of_type("blank"):
        if injection.position not in traces:
            continue
        times, trace = traces[injection.position][analyte.name]
        start = int(np.searchsorted(times, lo))
        end = int(np.searchsorted(times, hi, "right")) - 1
        if not 0 <= start < end < times.size:
            continue
        area = integrate_between(times, trace, start_scan=start, end_scan=end,
                                 settings=method.integration).area
        if standard is not None:
            s = measured[injection.position][standard.id].integration
            if not (s.detected and s.area > 0):
                continue
            area /= s.area
        out.append(area)
    return out


def _quantify(analyte: Analyte, injection: Injection, method: QuantMethod,
              found: Mapping[str, Measurement], calibration: Calibration,
              reference: Mapping[str, Any]) -> Quantity:
    role = _role(analyte, injection, method)
    standard = method.internal_standard(analyte)
    m = found[analyte.name]
    unit = method.unit
    common: dict[str, Any] = {
        "substance": analyte.name, "role": role, "unit": unit,
        "internal_standard": standard.name if standard else None,
        "integration": m.integration, "rt_s": m.integration.rt_s if m.integration.detected
        else None, "lod": calibration.lod, "loq": calibration.reporting_loq,
    }
    nominal = _nominal(injection, method) if role in ("calibrator", "check") else None
    tolerance = method.acceptance.check_tolerance_percent

    def no_number(status: str, message: str, flags: tuple[str, ...] = ()) -> Quantity:
        check = (CheckResult(nominal=nominal, found=None, recovery_percent=None,
                             tolerance_percent=tolerance, passed=False)
                 if role == "check" else None)
        return Quantity(status=status, reportable=False, message=message, flags=flags,
                        check=check, **common)

    if not calibration.ok:
        return no_number("not reportable", f"calibration of {analyte.name} failed: "
                         + "; ".join(calibration.reasons), ("calibration failed",))
    if not m.integration.detected:
        lod = f" (LOD {calibration.lod:.3g} {unit})" if calibration.lod is not None else ""
        return no_number("not detected", f"{analyte.name} not detected: "
                         f"{m.integration.message}{lod}")
    response, why = _response(analyte, standard, found)
    if response is None:
        flag = ("saturated" if "saturated" in why else
                "internal standard absent" if "internal standard" in why else "no response")
        return no_number("not reportable", why, (flag,))
    try:
        x0, u = calibration.quantify(response)
    except QuantitationError as error:
        return no_number("not reportable", str(error), ("outside the curve",))

    flags: list[str] = []
    qualifiers = _qualifier_checks(m, reference, method)
    for q in qualifiers:
        if q.passed is False:
            ratio = "absent" if q.ratio is None else f"{q.ratio:.3f}"
            flags.append(f"qualifier m/z {q.mz:g} ratio {ratio} outside "
                         f"{q.reference:.3f} ± {q.tolerance_percent:g} %")
    rt = m.integration.rt_s
    if reference.get("n_standards"):
        low = reference["rt_min_s"] - analyte.rt_tolerance_s
        high = reference["rt_max_s"] + analyte.rt_tolerance_s
        if not low <= rt <= high:
            flags.append(f"retention time {rt:.1f} s outside the standards' "
                         f"{reference['rt_min_s']:.1f}-{reference['rt_max_s']:.1f} s "
                         f"± {analyte.rt_tolerance_s:g} s")
    identity_flags = len(flags)
    if standard is not None and role != "calibrator":
        flags.extend(_internal_standard_checks(found[standard.id], standard,
                                               reference.get("internal_standard"), method))
    k = calibration.coverage_factor
    low, high = calibration.range
    status, reportable, message = "quantified", True, None
    concentration: float | None = x0
    if flags:
        status, reportable = "not confirmed", False
        message = ("identity not confirmed against the sequence's reference standard"
                   if identity_flags else
                   "the internal standard's response does not match the calibrators'")
    if role == "calibrator":
        pass  # judged by its back-calculated accuracy below, not by the range it defines
    elif x0 < calibration.reporting_loq:
        flags.append(f"below LOQ ({calibration.reporting_loq:.4g} {unit})")
        status, reportable, concentration = "below LOQ", False, None
        message = (f"detected below the LOQ of {calibration.reporting_loq:.4g} {unit} "
                   f"({calibration.loq_basis.replace('_', ' ')}); no value reported")
    elif x0 > high:
        flags.append(f"above the top calibrator ({high:g} {unit}): extrapolated")
        status, reportable = "above range", False
        message = "above the calibrated range: dilute and re-inject for a reportable value"
    ceiling = method.saturation_counts
    for mz, integration in zip(m.qualifier_mz, m.qualifiers, strict=True):
        if ceiling is not None and integration.height + integration.baseline_start >= ceiling:
            flags.append(f"qualifier m/z {mz:g} at the detector ceiling: its ratio is not "
                         "reliable")
    check = None
    if role in ("calibrator", "check"):
        recovery = 100.0 * x0 / nominal if nominal else None
        limit = tolerance if role == "check" else next(
            (p.tolerance_percent for p in calibration.points
             if p.sample_id == injection.sample_id and p.tolerance_percent is not None),
            method.acceptance.calibrator_tolerance_percent)
        passed = recovery is not None and abs(recovery - 100.0) <= limit
        check = CheckResult(nominal=nominal, found=x0, recovery_percent=recovery,
                            tolerance_percent=limit, passed=bool(passed))
        if not passed:
            flags.append(f"{recovery:.1f} % of nominal {nominal:g} {unit}, outside "
                         f"±{limit:g} %" if recovery is not None else "no recovery")
    if role == "blank":
        flags.append(f"{analyte.name} detected in a blank (carry-over or contamination)")
        reportable = False
    amount = None
    if role == "unknown" and concentration is not None:
        amount = amount_in_exhibit(x0, u, unit, injection)
    return Quantity(
        status=status, reportable=reportable, concentration=concentration,
        uncertainty=u if concentration is not None else None,
        expanded_uncertainty=k * u if concentration is not None else None,
        coverage_factor=k, estimate=x0, flags=tuple(flags), message=message,
        response=response, qualifiers=qualifiers, amount=amount, check=check, **common)


def _internal_standard_checks(m: Measurement, standard: InternalStandard,
                              reference: Mapping[str, Any] | None,
                              method: QuantMethod) -> list[str]:
    """Flags where a run's internal standard differs from the calibrators'.

    Its area outside the method's range of the calibrators' mean (suppression, the IS
    added twice or not at all) or a qualifier ratio off theirs (an interference).
    """
    if not reference:
        return []
    flags = []
    acceptance = method.acceptance
    share = 100.0 * m.integration.area / reference["area_mean"]
    if not acceptance.is_area_min_percent <= share <= acceptance.is_area_max_percent:
        flags.append(f"internal standard area {share:.0f} % of the calibrators' mean "
                     f"(accepted {acceptance.is_area_min_percent:g}-"
                     f"{acceptance.is_area_max_percent:g} %)")
    for check in _qualifier_checks(m, reference, method):
        if check.passed is False:
            ratio = "absent" if check.ratio is None else f"{check.ratio:.3f}"
            flags.append(f"internal standard qualifier m/z {check.mz:g} ratio {ratio} outside "
                         f"{check.reference:.3f} ± {check.tolerance_percent:g} %")
    return flags


def _qualifier_checks(m: Measurement, reference: Mapping[str, Any],
                      method: QuantMethod) -> tuple[QualifierCheck, ...]:
    refs = list(reference.get("qualifier_ratio") or [None] * len(m.ratios))
    out = []
    for mz, ratio, ref in zip(m.qualifier_mz, m.ratios, refs, strict=True):
        if ref is None or ref <= 0:
            out.append(QualifierCheck(mz=mz, ratio=ratio, reference=ref, tolerance_percent=None,
                                      passed=None))
            continue
        tolerance = _ratio_tolerance(ref, method)
        passed = ratio is not None and abs(ratio - ref) <= tolerance / 100.0 * ref
        out.append(QualifierCheck(mz=mz, ratio=ratio, reference=ref,
                                  tolerance_percent=tolerance, passed=bool(passed)))
    return tuple(out)
