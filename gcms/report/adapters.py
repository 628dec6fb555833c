"""Report models from a batch's ``results.json`` or from a case store.

``results.json`` (written by ``gcms batch``) holds one record per run of the sequence::

    {"runs": [{"sample_id", "file", "sha256", "type", "case_id", "exhibit_id",
               "acquired_at", "instrument", "method", "reference_substances",
               "components": [{"rt_s", "retention_index", "substance", "verdict",
                               "match_factor", "reverse_match_factor", "probability",
                               "delta_rt_s", "delta_ri", "library": {"index", "name",
                               "sha256", ...}, "reference_standard": {"file", "position",
                               "component", ...}, "criteria": [{"criterion", "result",
                               "value", "limit", "unit", ...}], "notes", "alternatives",
                               "spectrum": {"mz", "intensity"}}, ...],
               "findings": {"identified", "inconclusive", "notes": [{"kind", "text"}]},
               "quantitation": [...]}, ...],
     "library": {...}, "criteria": {...}, "gcms_version": "..."}

The adapter reads what is there and leaves out what is not (a field a batch did not
write is shown as "—", never invented). The chromatogram is redrawn from the run file
when it is still at its path *and* still hashes to the recorded SHA-256; the library
entry's spectrum is read from the library when its file is given and its SHA-256 is the
one the batch recorded.

From a case store, the same records are the stored results (``Result.data``), and the
store adds the item as received, custody transfers, every evidence file's digest (file
by file), reviews, signatures, the audit entries of the exhibit and the chain head.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gcms.errors import GcmsError
from gcms.report.lab import UNCONFIGURED
from gcms.report.model import (
    OUTCOMES,
    VERDICTS,
    AuditLine,
    Chromatogram,
    ComponentFinding,
    Conclusion,
    Criterion,
    EvidenceRecord,
    InstrumentStatus,
    ItemReceived,
    Laboratory,
    LibraryHit,
    PeakLabel,
    Person,
    QCRun,
    QuantitationRow,
    ReportModel,
    SignatureLine,
    SpectrumTrace,
    Transfer,
)

__all__ = ["from_records", "from_results", "from_store", "load_results", "record_field",
           "run_records"]

#: Audit entries of the exhibit shown in the report (the latest; the whole log is in
#: the store and its bundles).
AUDIT_EXCERPT_ENTRIES = 25
_QC_KINDS = ("blank", "standard", "qc", "ladder")


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a batch ``results.json``; ``GcmsError`` names the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GcmsError(f"{path}: cannot read ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GcmsError(f"{path}: not a JSON results file ({error})") from None
    if not run_records(data):
        raise GcmsError(f"{path}: holds no run records (expected a 'runs' list)")
    return data


def run_records(results: Any) -> list[dict[str, Any]]:
    """The per-run records of a results document (``{"runs": [...]}`` or a list)."""
    runs = results.get("runs", results.get("records")) if isinstance(results, Mapping) \
        else results
    if not isinstance(runs, list):
        return []
    return [r for r in runs if isinstance(r, Mapping)]


def record_field(record: Mapping[str, Any], key: str) -> Any:
    """A run record's field, at its top level or in its ``run`` part (batch layout)."""
    if record.get(key) is not None:
        return record[key]
    run = record.get("run")
    if isinstance(run, Mapping):
        if key == "sha256":
            return run.get("sha256") or run.get("input_sha256")
        return run.get(key)
    return None


def _error(record: Mapping[str, Any]) -> str | None:
    return record.get("error") or record.get("problem")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _outcome(value: Any) -> str:
    if value is True:
        return "pass"
    if value is False:
        return "fail"
    text = str(value or "not evaluated").lower()
    return {"passed": "pass", "failed": "fail", "ok": "pass"}.get(text, text) \
        if text in (*OUTCOMES, "passed", "failed", "ok") else "not evaluated"


def _qa_status(value: Any) -> str:
    """The batch QA gate's status (``passing``, ``failing``, ``stale``, ``missing``)."""
    text = str(value or "").lower()
    if text in ("failing", "stale", "missing"):
        return "fail"
    return "pass" if text == "passing" else _outcome(value)


def _criterion(item: Mapping[str, Any]) -> Criterion:
    unit = item.get("unit") or ""
    value = _text(item.get("value"))
    limit = _text(item.get("limit"))
    if unit and value != "—":
        value = f"{value} {unit}"
    return Criterion(name=str(item.get("criterion", item.get("name", "?"))), value=value,
                     limit=limit, result=_outcome(item.get("result")),
                     note=item.get("detail") or None)


def _trace(label: str, spectrum: Any) -> SpectrumTrace | None:
    if not isinstance(spectrum, Mapping) or "mz" not in spectrum:
        return None
    return SpectrumTrace(label, spectrum["mz"], spectrum["intensity"])


class _Library:
    """Library entry spectra by index, from the library file the batch used."""

    def __init__(self, path: str | os.PathLike | None, sha256: str | None) -> None:
        self.library = None
        self.problem = None
        if path is None or not Path(path).is_file():
            return
        from gcms.custody import hash_evidence

        digest = hash_evidence(path).sha256
        if sha256 and digest != sha256:
            self.problem = (f"library {path} has SHA-256 {digest}, the batch used {sha256}: "
                            "library spectra not shown")
            return
        from gcms.library import Library

        self.library = Library.open(path)

    def spectrum(self, index: Any, name: str) -> SpectrumTrace | None:
        if self.library is None or not isinstance(index, int):
            return None
        spectrum = self.library.spectrum(index)
        return SpectrumTrace(f"library: {name}", spectrum.mz, spectrum.intensity)


def _finding(record: Mapping[str, Any], component: Mapping[str, Any],
             records: Sequence[Mapping[str, Any]], library: _Library) -> ComponentFinding:
    sample = str(record.get("sample_id") or Path(str(record.get("file", "?"))).name)
    lib = component.get("library") or {}
    name = component.get("substance")
    hits = []
    if component.get("match_factor") is not None or lib.get("name"):
        hits.append(LibraryHit(1, str(lib.get("name") or name or "?"),
                               _number(component.get("match_factor")),
                               _number(component.get("reverse_match_factor")),
                               _number(component.get("probability")),
                               _number(component.get("delta_ri")), cas=lib.get("cas")))
    for alt in component.get("alternatives") or []:
        if isinstance(alt, Mapping):
            hits.append(LibraryHit(len(hits) + 1, str(alt.get("substance", alt.get("name", "?"))),
                                   _number(alt.get("match_factor")),
                                   _number(alt.get("reverse_match_factor")),
                                   _number(alt.get("probability")), _number(alt.get("delta_ri"))))
    rt = _number(component.get("rt_s"))
    reference_trace, reference_run = None, None
    ref = component.get("reference_standard")
    if isinstance(ref, Mapping):
        for other in records:
            same_file = str(other.get("file")) == str(ref.get("file"))
            if same_file or other.get("position") == ref.get("position") is not None:
                reference_run = str(other.get("sample_id") or ref.get("file"))
                parts = other.get("components") or []
                index = ref.get("component")
                chosen = next((c for c in parts if c.get("component") == index), None)
                if chosen is not None:
                    reference_trace = _trace(f"reference standard {reference_run}: "
                                             f"{ref.get('substance', name)}",
                                             chosen.get("spectrum"))
                break
        reference_run = reference_run or str(ref.get("file"))
    verdict = str(component.get("verdict", "not identified"))
    if verdict not in VERDICTS:
        raise GcmsError(f"run {sample}: component verdict {verdict!r} is not one of "
                        f"{', '.join(VERDICTS)}")
    rt_text = f"{rt / 60.0:.2f} min" if rt is not None else "?"
    return ComponentFinding(
        sample_id=sample, substance=name, verdict=verdict, rt_s=rt,
        retention_index=_number(component.get("retention_index")),
        delta_ri=_number(component.get("delta_ri")),
        delta_rt_s=_number(component.get("delta_rt_s")),
        criteria=tuple(_criterion(c) for c in component.get("criteria") or []
                       if isinstance(c, Mapping)),
        hits=tuple(hits),
        spectrum=_trace(f"{sample} at {rt_text}", component.get("spectrum")),
        library_spectrum=_trace(f"library: {lib.get('name') or name}", lib.get("spectrum"))
        or (library.spectrum(lib.get("index"), str(lib.get("name") or name))
            if verdict == "identified" else None),
        reference_spectrum=reference_trace, reference_run=reference_run,
        notes=tuple(str(n) for n in component.get("notes") or []),
    )


def _chromatogram(record: Mapping[str, Any], findings: Sequence[ComponentFinding],
                  deviations: list[str]) -> Chromatogram | None:
    path = record.get("file")
    if not path or not Path(path).exists():
        return None
    from gcms.io import read

    try:
        run = read(path)
    except GcmsError as error:
        deviations.append(f"chromatogram of {record.get('sample_id')} not drawn: {error}")
        return None
    recorded = record_field(record, "sha256")
    if recorded and run.metadata.sha256 and run.metadata.sha256 != recorded:
        deviations.append(f"{path}: now hashes to {run.metadata.sha256}, the batch recorded "
                          f"{recorded}: its chromatogram is not drawn")
        return None
    peaks = tuple(PeakLabel(f.rt_s, f.substance, f.verdict == "identified")
                  for f in findings if f.rt_s is not None and f.substance
                  and f.verdict != "not identified")
    label = f"{record.get('sample_id')} ({Path(str(path)).name})"
    return Chromatogram(label, run.scan_times, run.tic, peaks)


def _qc(record: Mapping[str, Any]) -> QCRun:
    kind = str(record.get("type", "qc"))
    sample = str(record.get("sample_id") or Path(str(record.get("file"))).name)
    components = record.get("components") or []
    found = sorted({str(c.get("substance")) for c in components
                    if c.get("verdict") == "identified" and c.get("substance")})
    if _error(record):
        outcome, summary = "fail", str(_error(record))
    elif kind == "blank":
        status = record.get("blank_status") or {}
        if status.get("carry_over_detected"):
            found = sorted({*found, *status["carry_over_detected"]})
        outcome = "pass" if not found else "fail"
        summary = ("no library substance identified" if not found
                   else "identified: " + ", ".join(found))
    elif kind in ("standard", "qc"):
        wanted = record.get("reference_substances") or record.get("reference_substance") or []
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        missing = [w for w in wanted if w.casefold() not in {f.casefold() for f in found}]
        outcome = "fail" if missing else ("pass" if wanted or found else "not evaluated")
        summary = ("found: " + ", ".join(found)) if found else "no substance identified"
        if missing:
            summary += "; missing: " + ", ".join(missing)
    else:
        ladder = record.get("ladder")
        outcome = "pass" if isinstance(ladder, Mapping) and not ladder.get("error") else \
            "not evaluated"
        summary = _text(ladder.get("names")) if isinstance(ladder, Mapping) else ""
    return QCRun(sample, kind, outcome, summary, str(record.get("file")),
                 record_field(record, "sha256"), record_field(record, "acquired_at"))


def _quantitation(record: Mapping[str, Any]) -> list[QuantitationRow]:
    rows = []
    for q in record.get("quantitation") or []:
        if not isinstance(q, Mapping) or q.get("role", "unknown") != "unknown":
            continue
        amount = q.get("amount_in_exhibit") or {}
        k = _number(q.get("coverage_factor"))
        u = _number(amount.get("purity_uncertainty_percent"))
        u_mass = _number(amount.get("mass_uncertainty_mg"))
        rows.append(QuantitationRow(
            sample_id=str(record.get("sample_id")), substance=str(q.get("substance")),
            status=str(q.get("status")), reportable=bool(q.get("reportable")),
            concentration=_number(q.get("concentration")),
            expanded_uncertainty=_number(q.get("expanded_uncertainty")), coverage_factor=k,
            unit=str(q.get("unit") or ""), purity_percent=_number(amount.get("purity_percent")),
            purity_expanded_uncertainty=u * k if u is not None and k else None,
            mass_mg=_number(amount.get("mass_mg")),
            mass_expanded_uncertainty_mg=u_mass * k if u_mass is not None and k else None,
            basis=q.get("uncertainty_basis"), message=q.get("message")))
    return rows


def _meta(results: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = results.get(key)
    return value if isinstance(value, Mapping) else {}


def _report_id(case_id: str, exhibit_id: str, facts: Any) -> str:
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
    return f"{case_id}-{exhibit_id}-{digest[:8].upper()}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_records(records: Sequence[Mapping[str, Any]], exhibit_id: str, *,
                 results: Mapping[str, Any] | None = None, source: str = "results",
                 laboratory: Laboratory | None = None, library: str | os.PathLike | None = None,
                 issued_at: str | None = None, report_id: str | None = None,
                 draw_chromatograms: bool = True) -> ReportModel:
    """A report model of one exhibit from per-run result records (see module notes)."""
    results = results or {}
    mine = [r for r in records if str(r.get("exhibit_id") or "") == exhibit_id
            and str(r.get("type", "sample")) == "sample"]
    if not mine:
        known = sorted({str(r.get("exhibit_id")) for r in records if r.get("exhibit_id")})
        raise GcmsError(f"{source}: no sample run of exhibit {exhibit_id!r} (exhibits: "
                        f"{', '.join(known) or 'none'})")
    cases = {str(r.get("case_id")) for r in mine if r.get("case_id")}
    case_id = sorted(cases)[0] if cases else "—"
    lib_meta = _meta(results, "library")
    lib_sha = lib_meta.get("sha256") or next(
        ((c.get("library") or {}).get("sha256") for r in mine for c in r.get("components") or []
         if (c.get("library") or {}).get("sha256")), None)
    lib = _Library(library or lib_meta.get("path"), lib_sha)
    deviations = [lib.problem] if lib.problem else []
    findings, chromatograms, quantitation = [], [], []
    for record in mine:
        if _error(record):
            deviations.append(f"run {record.get('sample_id')}: {_error(record)}")
        own = [_finding(record, c, records, lib) for c in record.get("components") or []
               if isinstance(c, Mapping)]
        own.sort(key=lambda f: (f.rt_s is None, f.rt_s or 0.0))
        findings += own
        if draw_chromatograms:
            chrom = _chromatogram(record, own, deviations)
            if chrom is not None:
                chromatograms.append(chrom)
        quantitation += _quantitation(record)
    identified = list(dict.fromkeys(f.substance for f in findings
                                    if f.verdict == "identified" and f.substance))
    inconclusive = [s for s in dict.fromkeys(f.substance for f in findings
                                             if f.verdict == "inconclusive" and f.substance)
                    if s not in identified]
    limitations, ambiguities = [], []
    for record in mine:
        for note in (record.get("findings") or {}).get("notes") or []:
            text = note.get("text") if isinstance(note, Mapping) else str(note)
            kind = str(note.get("kind", "")) if isinstance(note, Mapping) else ""
            target = limitations if ("limit" in kind or "isomer" in kind) else ambiguities
            if text and text not in target:
                target.append(text)
    qc_records = [r for r in records if str(r.get("type")) in _QC_KINDS]
    sequence = [*mine, *qc_records]
    times = sorted(str(record_field(r, "acquired_at")) for r in mine
                   if record_field(r, "acquired_at"))
    first = mine[0]
    qa = _meta(results, "qa")
    for record in mine:  # the batch QA gate (gcms.qa.gate) refused to report this run
        if record.get("reportable") is False:
            why = (record.get("qa") or {}).get("reason") or "instrument QA not passing"
            deviations.append(f"run {record.get('sample_id')}: not reportable: {why}")
    instrument = InstrumentStatus(
        instrument_id=_meta(results, "instrument").get("id") or record_field(first, "instrument"),
        model=_meta(results, "instrument").get("model"),
        serial=_meta(results, "instrument").get("serial"),
        column=_meta(results, "instrument").get("column"),
        ionization=_meta(results, "instrument").get("ionization") or "EI 70 eV",
        method=record_field(first, "method"), tune_file=record_field(first, "tune_file"),
        qa_status=_qa_status(qa.get("status")) if qa else "not evaluated",
        qa_summary=tuple(str(x) for x in qa.get("summary", ())) if qa else ())
    evidence = tuple(EvidenceRecord(str(r.get("sample_id")), str(r.get("type", "sample")),
                                    str(r.get("file")), str(record_field(r, "sha256")),
                                    acquired_at=record_field(r, "acquired_at"))
                     for r in sequence if record_field(r, "sha256"))
    criteria = _meta(results, "criteria")
    model = ReportModel(
        report_id="pending", case_id=case_id, exhibit_id=exhibit_id,
        issued_at=issued_at or _now(), laboratory=laboratory or UNCONFIGURED,
        analysed_from=times[0] if times else None, analysed_to=times[-1] if times else None,
        instrument=instrument,
        conclusion=Conclusion(identified=tuple(identified), inconclusive=tuple(inconclusive),
                              limitations=tuple(limitations), ambiguities=tuple(ambiguities)),
        findings=tuple(findings), chromatograms=tuple(chromatograms),
        quantitation=tuple(quantitation), qc_runs=tuple(_qc(r) for r in qc_records),
        evidence=evidence, software_version=str(results.get("gcms_version", "")),
        library_name=lib_meta.get("name") or (Path(str(lib_meta["path"])).name
                                              if lib_meta.get("path") else None),
        library_sha256=lib_sha, criteria_profile=criteria.get("name") or criteria.get("profile"),
        criteria_sha256=criteria.get("sha256"), source=source, deviations=tuple(deviations))
    if report_id is None:
        facts = {k: v for k, v in model.to_dict().items() if k not in ("report_id", "issued_at")}
        report_id = _report_id(case_id, exhibit_id, facts)
    return model.replace(report_id=report_id)


def from_results(path: str | os.PathLike, exhibit_id: str, **options: Any) -> ReportModel:
    """A report model of one exhibit from a batch's ``results.json`` (module notes).

    Options are those of :func:`from_records` (``laboratory``, ``library``,
    ``issued_at``, ``report_id``, ``draw_chromatograms``).
    """
    results = load_results(path)
    return from_records(run_records(results), exhibit_id, results=results,
                        source=str(Path(path).resolve()), **options)


def _find_case(store, exhibit_id: str) -> str:
    owners = [c.case_id for c in store.cases()
              if any(e.exhibit_id == exhibit_id for e in store.exhibits(c.case_id))]
    if not owners:
        raise GcmsError(f"{store.location}: no case holds exhibit {exhibit_id!r}")
    if len(owners) > 1:
        raise GcmsError(f"{store.location}: exhibit {exhibit_id!r} is in cases "
                        f"{', '.join(owners)}: name the case (--case)")
    return owners[0]


def _weight(value: str | None, unit: str | None) -> str | None:
    return f"{value} {unit}" if value is not None else None


def _store_analysis(case_file: Mapping[str, Any], exhibit_id: str,
                    analysis_id: str | None) -> tuple[dict[str, Any], list[str]]:
    """The analysis a store report shows, and a note naming the exhibit's others.

    One analysis (one batch: its runs, standards and blanks) per report, so that the
    records of different sequences are never mixed; by default the latest that has a
    result of the exhibit.
    """
    analyses = {a["analysis_id"]: a for a in case_file["analyses"]}
    if analysis_id is not None and analysis_id not in analyses:
        raise GcmsError(f"case {case_file['case']['case_id']}: no analysis {analysis_id!r}")
    used = list(dict.fromkeys(r["analysis_id"] for r in case_file["results"]
                              if r["exhibit_id"] == exhibit_id and r["analysis_id"] in analyses))
    used.sort(key=list(analyses).index)  # the order the store recorded them in
    chosen = analysis_id or (used[-1] if used else None)
    others = [a for a in used if a != chosen]
    notes = [f"the case store holds other analyses of exhibit {exhibit_id} "
             f"({', '.join(others)}); this report shows analysis {chosen}"] if others else []
    return (analyses[chosen] if chosen else {}), notes


def from_store(store, exhibit_id: str, *, case_id: str | None = None,
               analysis_id: str | None = None, **options: Any) -> ReportModel:
    """A report model of one exhibit from a :class:`~gcms.custody.CaseStore`.

    The exhibit's results (and the case's QC runs) are the stored batch records of one
    analysis (``analysis_id``; default: the latest with a result of the exhibit); the
    store adds the item as received, transfers, per-file digests, reviews, signatures,
    an audit excerpt and the chain head. An exhibit registered from a sequence, whose
    receipt the store does not hold, is shown as such, never filled in.
    """
    case_id = case_id or _find_case(store, exhibit_id)
    case_file = store.case_file(case_id)
    case = case_file["case"]
    exhibit = next((e for e in case_file["exhibits"] if e["exhibit_id"] == exhibit_id), None)
    if exhibit is None:
        raise GcmsError(f"{store.location}: case {case_id} has no exhibit {exhibit_id!r}")
    analysis, store_notes = _store_analysis(case_file, exhibit_id, analysis_id)
    results = [r for r in case_file["results"]
               if not analysis or r["analysis_id"] == analysis["analysis_id"]]
    run_paths = {r["run_id"]: r["path"] for r in case_file["runs"]}
    # the run file as attached (absolute, hashed) rather than as the sequence named it
    records = [dict(r["data"], exhibit_id=r["data"].get("exhibit_id") or r["exhibit_id"],
                    case_id=case_id, **({"file": run_paths[r["run_id"]]}
                                        if r.get("run_id") in run_paths else {}))
               for r in results]
    mine = [r for r in results if r["exhibit_id"] == exhibit_id]
    if exhibit.get("received_at") is None:  # registered (from a sequence), not received
        missing = [label for label, value in (
            ("seal numbers", exhibit.get("seal_numbers")), ("packaging", exhibit.get("packaging")),
            ("weights", exhibit.get("gross_weight") or exhibit.get("net_weight")),
            ("received from", exhibit.get("received_from")),
            ("received by", exhibit.get("received_by")), ("date received", None)) if not value]
        store_notes.append(f"exhibit {exhibit_id} is registered in the case store without "
                           f"its receipt; not recorded: {', '.join(missing)}")
    parameters = analysis.get("parameters") or {}
    library_path = (parameters.get("library") or {}).get("path")
    meta = {"library": {"name": analysis.get("library_name"), "path": library_path,
                        "sha256": analysis.get("library_sha256")},
            "criteria": {"name": analysis.get("criteria_profile"),
                         "sha256": analysis.get("criteria_sha256")},
            "gcms_version": analysis.get("software_version", "")}
    # sequence-level sections the batch's steps added (QA status, instrument), as recorded
    for key, value in (parameters.get("sections") or {}).items():
        meta.setdefault(key, value)
    model = from_records(records, exhibit_id, results=meta,
                         source=f"case store {store.location}, case {case_id}",
                         **{k: v for k, v in options.items() if k != "report_id"})
    runs = {r["run_id"]: r for r in case_file["runs"]}
    result_ids = {r["result_id"] for r in mine}
    used_runs = [runs[r["run_id"]] for r in results if r.get("run_id") in runs
                 and (r["exhibit_id"] == exhibit_id or runs[r["run_id"]]["kind"] != "sample")]
    sample_of = {r["run_id"]: str(r["data"].get("sample_id") or runs[r["run_id"]]["path"])
                 for r in results if r.get("run_id") in runs}
    evidence = tuple(EvidenceRecord(
        sample_of.get(run["run_id"], run["run_id"]), run["kind"], run["path"], run["sha256"],
        run["size_bytes"], tuple((f["path"], f["sha256"], f["size_bytes"])
                                 for f in run["files"]), run.get("acquired_at"))
        for run in dict((r["run_id"], r) for r in used_runs).values())
    reviews = [v for v in case_file["reviews"] if v["result_id"] in result_ids]
    signatures = [s for s in case_file["signatures"] if s["result_id"] in result_ids]
    keys = {k["user"]: k["printed_name"] for k in case_file["keys"]}
    authors = list(dict.fromkeys(s["signer"] for s in signatures if s["meaning"] == "authored"))
    reviewers = list(dict.fromkeys([*(v["reviewer"] for v in reviews),
                                    *(s["signer"] for s in signatures
                                      if s["meaning"] == "reviewed")]))
    wanted = {("exhibit", exhibit_id), *(("result", i) for i in result_ids),
              *(("run", r["run_id"]) for r in used_runs)}
    wanted |= {("review", v["review_id"]) for v in reviews}
    wanted |= {("signature", s["signature_id"]) for s in signatures}
    wanted |= {("custody_transfer", t["transfer_id"]) for t in exhibit["custody"]}
    if analysis:
        wanted.add(("analysis", analysis["analysis_id"]))
    audit = [e for e in store.log(case_id=case_id) if (e.object_type, e.object_id) in wanted
             or e.object_type == "case"]
    model = model.replace(
        case_id=case_id,
        item=ItemReceived(
            description=exhibit.get("description"), seal_numbers=tuple(exhibit["seal_numbers"]),
            packaging=exhibit.get("packaging"), condition=exhibit.get("condition"),
            gross_weight=_weight(exhibit.get("gross_weight"), exhibit.get("gross_weight_unit")),
            net_weight=_weight(exhibit.get("net_weight"), exhibit.get("net_weight_unit")),
            item_count=exhibit.get("item_count"), received_from=exhibit.get("received_from"),
            received_by=exhibit.get("received_by"), received_at=exhibit.get("received_at"),
            submitting_agency=case.get("submitting_agency"),
            agency_reference=case.get("agency_reference")),
        analysts=tuple(Person(keys.get(u, u), u) for u in authors),
        reviewers=tuple(Person(keys.get(u, u), u) for u in reviewers),
        evidence=evidence or model.evidence,
        transfers=tuple(Transfer(t["transferred_at"], t["from_party"], t["to_party"],
                                 t.get("purpose"), t.get("seal_intact"))
                        for t in exhibit["custody"]),
        audit=tuple(AuditLine(e.seq, e.at, e.actor, e.action, f"{e.object_type} {e.object_id}")
                    for e in audit[-AUDIT_EXCERPT_ENTRIES:]),
        signatures=tuple(SignatureLine(s["printed_name"], s["meaning"], s["signed_at"],
                                       "case store", s["signer"], s["key_fingerprint"],
                                       f"result {s['result_id']} v{s['result_version']}")
                         for s in signatures),
        chain_head=(case_file["chain_head"]["seq"], case_file["chain_head"]["entry_sha256"]),
        deviations=(*model.deviations, *store_notes),
    )
    report_id = options.get("report_id")
    if report_id is None:
        facts = {k: v for k, v in model.to_dict().items() if k not in ("report_id", "issued_at")}
        report_id = _report_id(case_id, exhibit_id, facts)
    return model.replace(report_id=report_id)
