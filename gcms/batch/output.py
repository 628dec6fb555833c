"""Result records of a batch and the files they are written to.

``OUT/results.json``
    ``{"format": "gcms.batch.results", "format_version", "gcms_version", "created_utc",
    "sequence", "library", "criteria", "settings", "steps", "runs": [record, ...],
    "exhibits": [...], "failed": [{"position", "file", "problem"}],
    "sequence_notes": [...]}`` (``exhibits``: :func:`exhibit_summaries`).
``OUT/runs/NN-<sample_id>.json`` / ``.csv``
    One run's record, and its components one row each.
``OUT/summary.csv``
    One row per run: what was identified, what stayed inconclusive, what failed.

A run record (:func:`run_record`) holds that run's ``sample_id`` once, at its top level,
and never another run's: the ladder, standard and blank a run's verdicts rest on are
named by file name and sequence position (``ladder_file``, ``file``, ``blank_file``,
``..._position``; positions are 0-based, "#n" in sentences is 1-based). Every component
carries its ``substance`` and ``verdict`` side by side, then each criterion's value,
limit and result.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gcms._files import write_atomic
from gcms._json import json_safe as _clean
from gcms.batch.pass2 import RunContext, file_name
from gcms.identifiers import spreadsheet_safe_row
from gcms.results import FORMAT, FORMAT_VERSION, ResultsDocument, RunResult

__all__ = [
    "COMPONENT_COLUMNS",
    "exhibit_summaries",
    "SUMMARY_COLUMNS",
    "component_rows",
    "results_document",
    "run_record",
    "summary_rows",
    "summary_text",
    "write_atomic",
    "write_outputs",
]

#: The format results.json names, and its version (:mod:`gcms.results.versions`).
RESULTS_FORMAT = FORMAT
RESULTS_FORMAT_VERSION = FORMAT_VERSION

COMPONENT_COLUMNS = (
    "component", "rt_s", "rt_min", "retention_index", "ri_extrapolated", "model_mz", "snr",
    "purity", "area", "substance", "verdict", "match_factor", "reverse_match_factor",
    "retention_source", "delta_rt_s", "delta_ri", "failed", "warnings",
)
SUMMARY_COLUMNS = (
    "position", "file", "type", "sample_id", "case_id", "exhibit_id", "status",
    "identified", "inconclusive", "n_components", "notes", "problem",
)


def run_record(context: RunContext, *, cached: bool = False,
               cache_note: str | None = None) -> dict[str, Any]:
    """The record of one run (module docstring).

    ``cache_note``: why the run's cached pass-1 entry was not trusted and the run was
    processed again (:attr:`gcms.batch.cache.CacheLookup.note`), kept in
    ``processing.cache_check`` (the batch's ``sequence_notes`` say it too).
    """
    injection = context.injection
    record: dict[str, Any] = {
        "position": injection.position,
        "file": str(injection.file),
        "file_name": file_name(injection.file),
        "type": injection.type,
        "sample_id": injection.sample_id,
        "case_id": injection.case_id,
        "exhibit_id": injection.exhibit_id,
        "reference_substances": list(injection.reference_substances),
        "concentration": injection.concentration,
        "unit": injection.unit,
        "amount": injection.amount,
        "amount_unit": injection.amount_unit,
        "volume_ml": injection.volume_ml,
        "dilution": injection.dilution,
        "status": "ok" if context.ok else "failed",
        "problem": None if context.ok else context.failure.problem,
    }
    if not context.ok:
        record["failure_kind"] = context.failure.kind
        record["components"] = []
        return _clean(record)
    analysis = context.analysis
    run = dict(analysis.run)
    record["sample_name"] = run.pop("sample_name", None)
    record["run"] = {**run, "input_sha256": analysis.input_sha256}
    deconvolution = analysis.deconvolution
    record["processing"] = {
        "cached": cached,
        "cache_check": cache_note,
        "seconds": dict(analysis.seconds),
        "library_sha256": analysis.library_sha256,
        "n_components": len(deconvolution.components),
        "peak_width_s": deconvolution.peak_width_s,
        "mz_range": list(deconvolution.mz_range),
        "noise": deconvolution.noise.to_dict(),
        "rejected": dict(deconvolution.rejected),
    }
    calibration = None
    if context.calibration_position is not None:
        calibration = {**(context.ladder_evidence or {}),
                       "notes": list(context.calibration_notes),
                       "n_extrapolated": sum(1 for e in context.extrapolated if e)}
    record["retention_calibration"] = calibration
    record["blank"] = ({"blank_file": context.blank_file,
                        "blank_position": context.blank_position}
                       if context.blank_position is not None else None)
    if injection.type == "ladder":
        record["ladder"] = dict(analysis.ladder) if analysis.ladder else None
        if analysis.calibration is not None:
            record["ladder_calibration"] = analysis.calibration.to_dict()
    if injection.type == "standard":
        record["references"] = list(context.references)
    if injection.type == "blank":
        detected = [c["substance"] for c in context.carry_over if c.get("detected")]
        own = sorted({j.chosen.name for j in context.judgements
                      if j.chosen is not None and j.chosen.failed == ("blank_run",)})
        record["carry_over"] = list(context.carry_over)
        record["blank_status"] = {
            "clean": not detected and not own,
            "carry_over_detected": detected,
            "substances_in_blank": own,
        }
    if injection.type == "qc" and injection.reference_substances:
        found = context.findings.identified if context.findings else ()
        expected = list(injection.reference_substances)
        missing = [name for name in expected
                   if not any(_named(f.substance, name, context) for f in found)]
        record["qc"] = {"expected": expected, "missing": missing, "passed": not missing}
    record["findings"] = context.findings.to_dict() if context.findings else None
    record["components"] = [j.to_dict() for j in context.judgements]
    record["problems"] = list(context.problems)
    return _clean(record)


def _named(found_name: str, expected: str, context: RunContext) -> bool:
    for judgement in context.judgements:
        chosen = judgement.chosen
        if chosen is not None and chosen.name == found_name:
            return chosen.substance.matches_name(expected)
    return False


def exhibit_summaries(records: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Per exhibit (case, exhibit id), what its injections show together.

    A substance is "identified" for the exhibit when every processed injection of it
    identified the substance; identified in some injections only, it is "inconclusive"
    for the exhibit, with a note saying in how many. Injections are named by file and
    position (no sample ids: those belong to the run records).
    """
    groups: dict[tuple[str, str], list[RunResult]] = {}
    for record in records:
        if record.type in ("sample", "qc") and record.exhibit_id:
            key = (record.case_id or "", record.exhibit_id)
            groups.setdefault(key, []).append(record)
    out = []
    for (case, exhibit), runs in groups.items():
        done = [r for r in runs if r.ok]
        seen: dict[str, dict[str, list[int]]] = {}
        notes: list[str] = []
        for r in done:
            findings = r.findings
            if findings is None:
                continue
            for verdict, found in (("identified", findings.identified),
                                   ("inconclusive", findings.inconclusive)):
                for f in found:
                    entry = seen.setdefault(f.substance, {"identified": [],
                                                          "inconclusive": []})
                    entry[verdict].append(r.position)
            for note in findings.notes:
                if note.kind != "limitation" and note.text not in notes:
                    notes.append(note.text)
        substances = []
        for name, where in seen.items():
            everywhere = bool(done) and len(where["identified"]) == len(done)
            substances.append({"substance": name,
                               "verdict": "identified" if everywhere else "inconclusive",
                               "identified_in": where["identified"],
                               "inconclusive_in": where["inconclusive"]})
            if where["identified"] and not everywhere:
                notes.append(f"{name} identified in {len(where['identified'])} of "
                             f"{len(done)} injections of the exhibit")
        out.append({"case_id": case or None, "exhibit_id": exhibit,
                    "injections": [{"file": r.file_name, "position": r.position,
                                    "status": r.status} for r in runs],
                    "substances": substances, "notes": notes})
    return out


def component_rows(record: RunResult) -> list[dict[str, Any]]:
    """One CSV row per component of a run record (:data:`COMPONENT_COLUMNS`)."""
    rows = []
    for c in record.components:
        rows.append({
            **{k: getattr(c, k) for k in COMPONENT_COLUMNS},
            "failed": ";".join(c.failed or ()),
            "warnings": " | ".join(c.warnings),
        })
    return rows


def summary_rows(records: Iterable[RunResult]) -> list[dict[str, Any]]:
    """One row per run (:data:`SUMMARY_COLUMNS`)."""
    rows = []
    for r in records:
        findings = r.findings
        identified = findings.identified if findings is not None else ()
        inconclusive = findings.inconclusive if findings is not None else ()
        notes = findings.notes if findings is not None else ()
        rows.append({
            "position": r.position + 1,
            "file": r.file_name,
            "type": r.type,
            "sample_id": r.sample_id,
            "case_id": r.case_id or "",
            "exhibit_id": r.exhibit_id or "",
            "status": r.status,
            "identified": "; ".join(f.substance for f in identified),
            "inconclusive": "; ".join(f"{f.substance} ({', '.join(f.failed)})"
                                      for f in inconclusive),
            "n_components": len(r.components),
            "notes": len([n for n in notes if n.kind != "limitation"]),
            "problem": r.problem or "; ".join(r.problems or ()),
        })
    return rows


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def summary_text(records: Sequence[RunResult], *, out_dir: Path | None = None,
                 criteria_name: str = "", library: str = "") -> str:
    """A human-readable summary of a batch: one line per run, then notes and failures."""
    rows = [("#", "type", "sample", "exhibit", "identified", "inconclusive")]
    for r in records:
        findings = r.findings
        if not r.ok:
            identified, inconclusive = "FAILED: see below", ""
        else:
            identified = ", ".join(f.substance for f in (
                findings.identified if findings is not None else ())) or "-"
            inconclusive = ", ".join(f.substance for f in (
                findings.inconclusive if findings is not None else ()))
        if r.type == "blank" and r.ok:
            status = r.blank_status or {}
            if status.get("carry_over_detected"):
                identified += f"  [carry-over: {', '.join(status['carry_over_detected'])}]"
        rows.append((str(r.position + 1), r.type, str(r.sample_id),
                     r.exhibit_id or "", identified, inconclusive))
    lines = []
    if criteria_name or library:
        lines.append(f"criteria {criteria_name}; library {library}")
    lines.extend(_table(rows))
    notes = []
    for r in records:
        for note in r.findings.notes if r.findings is not None else ():
            if note.kind in ("ambiguity", "lookalike", "runner-up"):
                notes.append(f"  #{r.position + 1} {r.sample_id}: {note.text}")
        for problem in r.problems or ():
            notes.append(f"  #{r.position + 1} {r.sample_id}: {problem}")
        calibration = r.retention_calibration or {}
        for note in calibration.get("notes") or ():
            if note.startswith("run spans"):
                continue  # every run is longer than its ladder: in the JSON, not here
            notes.append(f"  #{r.position + 1} {r.sample_id}: ladder: {note}")
    if notes:
        lines.append("notes:")
        lines.extend(notes)
    failed = [r for r in records if not r.ok]
    if failed:
        lines.append("runs that could not be processed (skipped):")
        lines.extend(f"  #{r.position + 1} {r.file}: {r.problem}" for r in failed)
    if out_dir is not None:
        lines.append(f"results: {out_dir / 'results.json'} (per run: {out_dir / 'runs'}; "
                     f"table: {out_dir / 'summary.csv'})")
    return "\n".join(lines)


def _csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(spreadsheet_safe_row(
            {k: "" if row.get(k) is None else row.get(k) for k in columns}))
    return buffer.getvalue()


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def run_file_stem(record: RunResult) -> str:
    """``NN-<sample_id>`` with characters unsafe in file names replaced."""
    sample = _UNSAFE.sub("_", record.sample_id).strip("._") or "run"
    return f"{record.position + 1:03d}-{sample}"


def results_document(document: Mapping[str, Any]) -> ResultsDocument:
    """The typed results document of a batch's document dict (:mod:`gcms.results`).

    Reading it checks every key the format declares (its name, ``format_version`` and
    the type of each value), so that no batch writes a ``results.json`` its readers
    (report, custody, review) would refuse; a step's own keys are kept as written.

    Raises
    ------
    FormatError
        A key is missing or of the wrong type: a bug in a producer (the batch or one
        of its steps), named by its JSON path.
    """
    return ResultsDocument.from_json(_clean(document), source="results.json being written")


def write_outputs(out_dir: Path, document: Mapping[str, Any] | ResultsDocument) -> None:
    """Write results.json, summary.csv and the per-run JSON and CSV files.

    ``document`` is checked by reading it as a :class:`~gcms.results.ResultsDocument`
    (:func:`results_document`) before anything is written; results.json is its
    :meth:`~gcms.results.ResultsDocument.to_text`.
    """
    typed = document if isinstance(document, ResultsDocument) else results_document(document)
    runs = out_dir / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    for run in typed.runs:
        stem = run_file_stem(run)
        write_atomic(runs / f"{stem}.json",
                     json.dumps(run.to_json(), indent=1, allow_nan=False) + "\n")
        write_atomic(runs / f"{stem}.csv", _csv(component_rows(run), COMPONENT_COLUMNS))
    write_atomic(out_dir / "summary.csv", _csv(summary_rows(typed.runs), SUMMARY_COLUMNS))
    write_atomic(out_dir / "results.json", typed.to_text())
