"""What each screen shows, gathered from the case store, the results and the run bytes.

Presentation only: every fact comes from a ``gcms`` call (the exhibit's records read by
:meth:`CaseStore.exhibit_file`, which reads what the page shows and not the whole case;
the typed results records of :mod:`gcms.results`, the run read by :func:`gcms.io.read`,
the library the batch used); nothing here judges or changes a result.

The run's bytes are read and hashed once per process and file version (path, size,
modification time): a later view of the same file reuses the checked run.

The run shown is the file the store attached, read again from its recorded path; its
bytes are checked against the SHA-256 the store recorded before the chromatogram is
drawn (a mismatch is shown, and no chromatogram drawn from bytes that are not the
evidence).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gcms.errors import GcmsError
from gcms.review import charts
from gcms.review.i18n import translate

__all__ = ["ExhibitView", "exhibit_view", "read_run", "xic_traces"]

#: Extracted-ion traces drawn at first: the model ions of this many identified components.
DEFAULT_XICS = 3
#: Most extracted-ion traces one request may ask for.
MAX_XICS = 8

_run_lock = threading.Lock()


@dataclass
class ExhibitView:
    """Everything the exhibit page draws (plain values and Plotly figure dicts)."""

    case_id: str
    exhibit: Mapping[str, Any]
    injections: list[dict[str, Any]]
    result: Mapping[str, Any] | None = None
    record: Any = None                   # gcms.results.RunResult of the chosen injection
    run: Mapping[str, Any] | None = None  # the store's run record
    evidence: str = "missing"            # ok | bad | missing
    evidence_note: str | None = None
    chromatogram: dict[str, Any] | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    component: Any = None                 # gcms.results.ComponentResult chosen
    spectrum: dict[str, Any] | None = None
    spectrum_notes: list[str] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    criteria: list[dict[str, Any]] = field(default_factory=list)
    blank: str | None = None
    blank_result: str | None = None
    ladder: str | None = None
    signatures: list[Mapping[str, Any]] = field(default_factory=list)
    reviews: list[Mapping[str, Any]] = field(default_factory=list)
    corrections: list[Mapping[str, Any]] = field(default_factory=list)
    quantities: list[Any] = field(default_factory=list)
    findings: Any = None
    xic_ions: list[float] = field(default_factory=list)
    library_name: str | None = None
    quant_figures: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@functools.lru_cache(maxsize=4)
def _run_cached(path: str, size: int, mtime_ns: int) -> Any:
    from gcms.io import read

    return read(path)


def read_run(run_record: Mapping[str, Any]) -> tuple[Any, str, str | None]:
    """The run the store attached: ``(Run or None, ok|bad|missing, note)``.

    The bytes the reader decoded must be the recorded file's (or, for a ``.D`` folder,
    one of its files'), as ``gcms batch --store`` checked when it attached them.
    """
    path = Path(str(run_record.get("path")))
    try:
        stat = path.stat()
    except OSError as error:
        return None, "missing", f"{path}: {error.strerror or error}"
    try:
        with _run_lock:  # one reading at a time: the 2-core machines of a small lab
            run = _run_cached(str(path), stat.st_size, stat.st_mtime_ns)
    except GcmsError as error:
        return None, "bad", str(error)
    recorded = {run_record.get("sha256"), *(f.get("sha256") for f in
                                           run_record.get("files") or ())}
    if run.metadata.sha256 not in recorded:
        return None, "bad", (f"{path}: the bytes read have SHA-256 {run.metadata.sha256}, "
                             f"not the {run_record.get('sha256')} the store recorded")
    return run, "ok", None


def xic_traces(run: Any, ions: Sequence[float]) -> list[dict[str, Any]]:
    """Extracted-ion chromatogram traces (m/z ± 0.5) of ``ions`` for the chart."""
    times = np.asarray(run.scan_times) / 60.0
    return [charts.xic_trace(times, run.xic(float(mz)), float(mz), i + 1)
            for i, mz in enumerate(list(ions)[:MAX_XICS])]


def _typed(result: Mapping[str, Any]) -> Any:
    from gcms.results import RunResult

    return RunResult.from_json(result["data"], source=f"result {result['result_id']}")


def _label(component: Any) -> str:
    if component.verdict in ("identified", "inconclusive") and component.substance:
        return component.substance
    return f"#{component.component}"


def _fmt(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _limit(limit: Any, unit: str) -> str:
    if limit is None:
        return "—"
    return f"{limit} {unit}".strip()


class _Libraries:
    """The batch's library, opened once per (path, content hash) via the report's loader."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str | None], Any] = {}
        self._lock = threading.Lock()

    def get(self, path: str | None, content_sha256: str | None, file_sha256: str | None):
        from gcms.report.adapters import _Library

        key = (str(path), content_sha256)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = _Library(path, content_sha256=content_sha256,
                                            file_sha256=file_sha256)
            return self._cache[key]


LIBRARIES = _Libraries()


def _component_rows(record: Any, language: str) -> list[dict[str, Any]]:
    rows = []
    for c in record.components:
        rows.append({"component": c.component, "rt_min": c.rt_min, "label": _label(c),
                     "rt": _fmt(c.rt_min, 3), "ri": _fmt(c.retention_index, 1),
                     "area": f"{c.area:.4g}" if c.area is not None else "—",
                     "purity": _fmt(c.purity, 2), "verdict": c.verdict,
                     "substance": c.substance or "—", "mf": _fmt(c.match_factor, 0),
                     "rmf": _fmt(c.reverse_match_factor, 0), "model_mz": c.model_mz})
    return rows


def _chosen_component(record: Any, component: int | None) -> Any:
    by_number = {c.component: c for c in record.components}
    if component is not None and component in by_number:
        return by_number[component]
    findings = record.findings
    for finding in [*(findings.identified if findings else ()),
                    *(findings.inconclusive if findings else ())]:
        if finding.component in by_number:
            return by_number[finding.component]
    named = [c for c in record.components if c.substance]
    return named[0] if named else (record.components[0] if record.components else None)


def _standard_spectrum(component: Any, results: Sequence[Mapping[str, Any]],
                       analysis_id: str | None) -> tuple[str, list, list] | None:
    ref = component.reference_standard
    if not ref or ref.get("position") is None:
        return None
    for other in results:
        data = other["data"]
        if other.get("analysis_id") == analysis_id and data.get("position") == ref["position"]:
            for c in data.get("components") or ():
                if c.get("component") == ref.get("component") and c.get("spectrum"):
                    return (f"{ref.get('file')} #{ref.get('component')}",
                            list(c["spectrum"]["mz"]), list(c["spectrum"]["intensity"]))
    return None


def exhibit_view(store: Any, case_id: str, exhibit_id: str | None, *,
                 result_id: str | None = None,
                 component: int | None = None, language: str = "en",
                 ions: Sequence[float] | None = None) -> ExhibitView:
    """Gather the exhibit page: its injections, the chosen one's run, components, spectra.

    With ``exhibit_id`` None, the page of one run of the sequence (``result_id``): a
    blank, a standard or a ladder, which belong to no exhibit.

    Raises
    ------
    CustodyError
        The case or exhibit is not in the store.
    """
    case = store.exhibit_file(case_id, exhibit_id, result_id=result_id)
    mine = case["results"]
    if exhibit_id is None:  # one run of the sequence (a blank, a standard, a ladder)
        data = mine[0]["data"]
        exhibit = {"exhibit_id": "", "run_only": True,
                   "description": f"{data.get('type')} {data.get('sample_id') or ''} "
                                  f"({data.get('file_name')})"}
    else:
        exhibit = case["exhibits"][0]
    view = ExhibitView(case_id, exhibit, [
        {"result_id": r["result_id"], "version": r["version"], "summary": r.get("summary"),
         "sample": r["data"].get("sample_id"), "file": r["data"].get("file_name"),
         "analysis_id": r.get("analysis_id")} for r in mine])
    chosen = case["chosen"]
    if chosen is None:
        return view
    # the chosen result's analysis: the runs of the sequence its blank, standard and
    # calibrators come from (read for the chosen result only: see CaseStore.exhibit_file)
    results = [*mine, *(r for r in case["related"]
                        if r["result_id"] not in {m["result_id"] for m in mine})]
    view.result = chosen
    view.signatures = [s for s in case["signatures"] if s["result_id"] == chosen["result_id"]]
    view.reviews = [r for r in case["reviews"] if r["result_id"] == chosen["result_id"]]
    view.corrections = case["corrections"].get(f"result {chosen['result_id']}", [])
    record = view.record = _typed(chosen)
    view.findings = record.findings
    view.quantities = list(record.quantitation or ())
    run_record = next((r for r in case["runs"] if r["run_id"] == chosen.get("run_id")), None)
    view.run = run_record
    labels = {k: translate(language, k) for k in ("time", "abundance", "components",
                                                   "relative")}
    view.components = _component_rows(record, language)
    picked = view.component = _chosen_component(record, component)
    if ions is None:
        ions = list(dict.fromkeys(
            float(c.model_mz) for c in record.components
            if c.model_mz is not None and c.verdict in ("identified", "inconclusive")))
        if picked is not None:
            first = [float(picked.model_mz)] if picked.model_mz is not None else []
            if picked.spectrum and picked.spectrum.get("mz"):
                spectrum = picked.spectrum
                first.insert(0, float(spectrum["mz"][int(np.argmax(spectrum["intensity"]))]))
            ions = list(dict.fromkeys([*first, *ions]))
        ions = ions[:DEFAULT_XICS]
    view.xic_ions = list(ions)[:MAX_XICS]
    if run_record is not None:
        run, view.evidence, view.evidence_note = read_run(run_record)
        if run is not None:
            times = np.asarray(run.scan_times) / 60.0
            xics = {float(mz): run.xic(float(mz)) for mz in view.xic_ions}
            view.chromatogram = charts.chromatogram_figure(
                times, np.asarray(run.tic), xics, view.components, labels)
            view.quant_figures += _integrations(run, view.quantities)
    else:
        view.evidence_note = "no run file is attached to this result"
    blank = record.blank or {}
    if blank.get("blank_file"):
        view.blank = f"{blank['blank_file']} (#{int(blank.get('blank_position', 0)) + 1})"
        view.blank_result = next(
            (r["result_id"] for r in results
             if r.get("analysis_id") == chosen.get("analysis_id")
             and r["data"].get("position") == blank.get("blank_position")), None)
    calibration = record.retention_calibration or record.ladder_calibration or {}
    if calibration:
        view.ladder = str(calibration.get("file") or calibration.get("ladder_file")
                          or calibration.get("source") or dict(calibration))
    analysis = next((a for a in case["analyses"]
                     if a["analysis_id"] == chosen.get("analysis_id")), None)
    if picked is not None:
        _spectra(view, picked, analysis, results, labels)
    view.quant_figures[:0] = _calibrations(view.quantities, results,
                                           chosen.get("analysis_id"))
    return view


def _integrations(run: Any, quantities: Sequence[Any]) -> list[tuple[str, dict[str, Any]]]:
    """The quantifier ion's integration of each quantity, as the batch recorded it."""
    out = []
    for i, q in enumerate(quantities):
        integration = q.integration or {}
        signal = str(integration.get("signal") or "")
        if integration.get("start_s") is None or integration.get("end_s") is None:
            continue
        if signal.startswith("m/z "):
            trace = run.xic(float(signal[4:]))
        elif signal == "TIC":
            trace = np.asarray(run.tic)
        else:
            continue
        out.append((f"integration-{i}", charts.integration_figure(
            np.asarray(run.scan_times), np.asarray(trace), integration, analyte=q.substance)))
    return out


def _calibrations(quantities: Sequence[Any], results: Sequence[Mapping[str, Any]],
                  analysis_id: str | None) -> list[tuple[str, dict[str, Any]]]:
    """Calibration points and accuracies of each quantified analyte.

    From the records of the same analysis's calibrators: nominal concentration, response,
    back-calculated % of nominal and its tolerance, as the batch recorded them.
    """
    out = []
    for i, q in enumerate(quantities):
        if q.response is None:
            continue
        calibrators = []
        for other in results:
            if other.get("analysis_id") != analysis_id:
                continue
            data = other["data"]
            for row in data.get("quantitation") or ():
                check = row.get("check") or {}
                if (row.get("substance") == q.substance and row.get("role") == "calibrator"
                        and row.get("response") is not None and check.get("nominal")):
                    calibrators.append({
                        "x": check["nominal"], "y": row["response"],
                        "label": str(data.get("sample_id") or data.get("file_name")),
                        "accuracy": check.get("recovery_percent"),
                        "tolerance": check.get("tolerance_percent"),
                        "passed": check.get("passed", True)})
        if not calibrators:
            continue
        calibrators.sort(key=lambda c: c["x"])
        unit = q.unit or ""
        sample = [{"x": q.concentration, "y": q.response, "label": q.substance,
                   "error_x": q.expanded_uncertainty}] if q.concentration is not None else []
        out.append((f"calibration-{i}", charts.calibration_figure(
            calibrators, sample, analyte=q.substance, unit=unit)))
        out.append((f"accuracy-{i}", charts.accuracy_figure(calibrators, analyte=q.substance,
                                                             unit=unit)))
    return out


def _spectra(view: ExhibitView, c: Any, analysis: Mapping[str, Any] | None,
             results: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> None:
    library_info = ((analysis or {}).get("parameters") or {}).get("library") or {}
    library = LIBRARIES.get(library_info.get("path"), library_info.get("content_sha256"),
                            (analysis or {}).get("library_sha256"))
    view.library_name = (analysis or {}).get("library_name")
    if library.problem:
        view.spectrum_notes.append(library.problem)
    references: list[tuple[str, list, list]] = []
    if c.library is not None and library.library is not None:
        trace = library.spectrum(c.library.index, c.library.name)
        if trace is not None:
            references.append((trace.label, list(trace.mz), list(trace.intensity)))
    standard = _standard_spectrum(c, results, view.result.get("analysis_id")
                                  if view.result else None)
    if standard is not None:
        references.append(standard)
    if c.spectrum:
        view.spectrum = charts.head_to_tail_figure(
            (f"#{c.component} {_label(c)}", list(c.spectrum["mz"]),
             list(c.spectrum["intensity"])), references, labels)
    if c.library is not None:
        view.hits.append({"rank": c.library.rank or 1, "name": c.library.name,
                          "mf": c.match_factor, "rmf": c.reverse_match_factor,
                          "verdict": c.verdict, "delta_ri": _fmt(c.delta_ri, 1),
                          "delta_rt": _fmt(c.delta_rt_s, 2)})
    for i, alt in enumerate(c.alternatives):
        view.hits.append({"rank": i + 2, "name": alt.get("substance"),
                          "mf": alt.get("match_factor"), "rmf": alt.get("reverse_match_factor"),
                          "verdict": alt.get("verdict"), "delta_ri": _fmt(alt.get("delta_ri"), 1),
                          "delta_rt": _fmt(alt.get("delta_rt_s"), 2)})
    for k in c.criteria or ():
        view.criteria.append({"name": k.criterion.replace("_", " "), "key": k.criterion,
                              "result": k.result,
                              "value": "—" if k.value is None else f"{k.value} {k.unit}".strip()
                              if isinstance(k.value, (int, float)) else str(k.value),
                              "limit": _limit(k.limit, k.unit), "sentence": k.detail,
                              "required": k.required, "decisive": k.decisive})
