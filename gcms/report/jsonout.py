"""The report as JSON (for laboratory information systems) and as CSV (one row per verdict).

JSON: ``{"schema": "gcms-report/1", ...}``, the :class:`~gcms.report.model.ReportModel`
field by field, described by the JSON Schema shipped as ``gcms/report/schema/report.schema.json``
(draft 2020-12; :func:`schema` loads it). Spectra and chromatograms are included as m/z
and intensity lists, so a LIMS can redraw the evidence. Keys are sorted and the text is
UTF-8 without escapes, so the same model gives the same bytes.

CSV: one row per component verdict, the columns of :data:`CSV_COLUMNS`; criteria as
``name=value (limit) result`` joined by ``; ``. ``substance`` is what the component is
reported as (empty when it is not identified); ``library_hit`` is its best library hit,
whose scores ``match_factor`` and ``reverse_match_factor`` are; ``reportable`` is "no"
when the batch withheld the exhibit's results (the instrument-QA gate).
"""

from __future__ import annotations

import csv
import io
import json
import math
from importlib import resources
from typing import Any

from gcms._json import json_safe
from gcms.identifiers import spreadsheet_safe_row
from gcms.report.model import ReportModel

__all__ = ["CSV_COLUMNS", "SCHEMA_ID", "report_csv", "report_json", "report_json_bytes",
           "schema"]

#: Identifier of the JSON layout; a change that breaks readers bumps the number.
SCHEMA_ID = "gcms-report/1"

#: Columns of the CSV, one row per component verdict.
CSV_COLUMNS = (
    "report_id", "case_id", "exhibit_id", "sample_id", "rt_min", "retention_index",
    "substance", "verdict", "library_hit", "match_factor", "reverse_match_factor", "delta_ri",
    "delta_rt_s", "criteria", "criteria_failed", "reference_run", "run_sha256",
    "library", "library_sha256", "reportable",
)


def report_json(model: ReportModel) -> dict[str, Any]:
    """The report's facts as a JSON-ready dict (schema :data:`SCHEMA_ID`)."""
    return json_safe({"schema": SCHEMA_ID, **model.to_dict()}, str_keys=False)


def report_json_bytes(model: ReportModel) -> bytes:
    """:func:`report_json` as canonical UTF-8 bytes (sorted keys, 1-space indent)."""
    return (json.dumps(report_json(model), sort_keys=True, ensure_ascii=False, indent=1)
            + "\n").encode("utf-8")


def schema() -> dict[str, Any]:
    """The JSON Schema of :func:`report_json` (draft 2020-12)."""
    text = resources.files("gcms.report").joinpath("schema", "report.schema.json").read_text(
        encoding="utf-8")
    return json.loads(text)


def _n(value: float | None, digits: int) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def report_csv(model: ReportModel) -> str:
    """The component verdicts as CSV text (header line, then one row per component)."""
    by_sample = {e.label: e.sha256 for e in model.evidence}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for f in model.findings:
        hit = f.top_hit
        writer.writerow(spreadsheet_safe_row({  # OWASP CSV injection: gcms.identifiers
            "report_id": model.report_id, "case_id": model.case_id,
            "exhibit_id": model.exhibit_id, "sample_id": f.sample_id,
            "rt_min": _n(f.rt_s / 60.0 if f.rt_s is not None else None, 4),
            "retention_index": _n(f.retention_index, 1),
            "substance": f.substance or "", "verdict": f.verdict,
            "library_hit": hit.name if hit else "",
            "match_factor": _n(hit.match_factor if hit else None, 0),
            "reverse_match_factor": _n(hit.reverse_match_factor if hit else None, 0),
            "delta_ri": _n(f.delta_ri if f.delta_ri is not None else
                           (hit.delta_ri if hit else None), 1),
            "delta_rt_s": _n(f.delta_rt_s, 2),
            "criteria": "; ".join(f"{c.name}={c.value} ({c.limit}) {c.result}"
                                  for c in f.criteria),
            "criteria_failed": "; ".join(c.name for c in f.criteria if c.result == "fail"),
            "reference_run": f.reference_run or "",
            "run_sha256": by_sample.get(f.sample_id, ""),
            "library": model.library_name or "", "library_sha256": model.library_sha256 or "",
            "reportable": "no" if model.withheld else "yes",
        }))
    return out.getvalue()
