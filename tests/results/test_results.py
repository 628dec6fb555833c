"""The typed results document: every results.json the batch writes (demo, a failed run,
the QA gate, quantitation) validates against the published schema, reads as a
``ResultsDocument`` with every key typed, and writes back the same text; versions are
checked on load; bad documents are gcms errors naming the file and the key."""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import json
import math
import pickle
from pathlib import Path

import jsonschema
import pytest
import tomllib

import gcms.batch.output
from gcms.errors import FormatError, GcmsError
from gcms.results import (
    FORMAT_VERSION,
    QUANT_FORMAT,
    QUANT_FORMAT_VERSION,
    UPGRADES,
    ComponentResult,
    CriterionResult,
    FailedRun,
    Finding,
    Hit,
    Note,
    ProcessedBy,
    QASection,
    Quantity,
    QuantResultsDocument,
    Record,
    ResultsDocument,
    RunQA,
    load_results,
    published_schema,
    results_schema,
)
from results.documents import MAKERS, check_results_document

ROOT = Path(__file__).resolve().parents[2]


def _raw(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _untyped(value, where="$"):
    """JSON paths of records holding keys the types do not declare."""
    out = []
    if isinstance(value, Record):
        if value.extra:
            out.append((where, sorted(value.extra)))
        for name in value._fields():
            out.extend(_untyped(getattr(value, name), f"{where}.{name}"))
    elif isinstance(value, tuple):
        for i, item in enumerate(value):
            out.extend(_untyped(item, f"{where}[{i}]"))
    return out


# ------------------------------------------------------------- the documents made
@pytest.mark.parametrize("name", list(MAKERS))
def test_every_document_validates_reads_and_writes_back_the_same_text(results_files, name):
    document = check_results_document(results_files[name])
    assert isinstance(document, QuantResultsDocument if name == "quant-alone"
                      else ResultsDocument)
    # every key the producers write is declared by a type: nothing lands in `extra`
    assert _untyped(document) == []


def test_the_published_schema_is_what_the_types_make():
    schema = published_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == results_schema()
    batch = schema["$defs"]["ResultsDocument"]["properties"]
    assert batch["format_version"] == {"const": FORMAT_VERSION}
    assert schema["$defs"]["QuantResultsDocument"]["properties"]["schema"] == {
        "const": f"{QUANT_FORMAT}/{QUANT_FORMAT_VERSION}"}


def test_the_format_version_is_the_one_the_batch_declares(results_files):
    assert FORMAT_VERSION == gcms.batch.output.RESULTS_FORMAT_VERSION
    assert _raw(results_files["demo"])["format_version"] == FORMAT_VERSION


def test_the_schema_ships_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["gcms"]
    assert any(fnmatch.fnmatch("results/results.schema.json", p) for p in patterns)
    assert (ROOT / "gcms" / "results" / "results.schema.json").is_file()


def test_demo_document_typed(results_files):
    document = load_results(results_files["demo"])
    assert [r.type for r in document.runs[:4]] == ["ladder", "blank", "standard", "blank"]
    assert document.sequence.n_runs == len(document.runs) == 11
    assert document.library.n_entries > 0 and not document.failed
    exhibit = document.run(4)
    assert exhibit.ok and exhibit.exhibit_id == "E1"
    found = exhibit.findings.identified
    assert all(isinstance(f, Finding) for f in found)
    assert "Amphetamine" in {f.substance for f in found}
    chosen = [c for c in exhibit.components if c.substance is not None]
    assert chosen and all(isinstance(c, ComponentResult) for c in exhibit.components)
    component = next(c for c in chosen if c.substance == "Amphetamine")
    assert isinstance(component.library, Hit) and component.library.name == "Amphetamine"
    assert all(isinstance(c, CriterionResult) for c in component.criteria)
    assert {c.criterion for c in component.criteria} >= {"match_factor"}
    assert component.spectrum["mz"] and isinstance(component.spectrum["mz"], tuple)
    blank = document.run(1)
    assert blank.blank_status is not None and blank.findings is not None
    assert document.exhibits[0].exhibit_id == "E1"


def test_records_are_frozen_to_the_leaves(results_files):
    document = load_results(results_files["demo"])
    run = document.run(4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.status = "failed"
    with pytest.raises(TypeError):
        run.processing["cached"] = True
    assert isinstance(run.components, tuple) and isinstance(run.reference_substances, tuple)


def test_records_pickle_to_equal_records(results_files):
    document = load_results(results_files["qa-gated"])
    again = pickle.loads(pickle.dumps(document))
    assert again == document and again.to_text() == document.to_text()
    note = Note(kind="lookalike", substances=("MDMA",), text="a look-alike")
    assert pickle.loads(pickle.dumps(note)) == note


def test_failed_runs_typed(results_files):
    document = load_results(results_files["failed-run"])
    assert {(f.position, f.kind) for f in document.failed} == {(4, "unreadable"),
                                                               (11, "missing")}
    assert all(isinstance(f, FailedRun) for f in document.failed)
    unreadable, missing = document.run(4), document.run(11)
    assert not unreadable.ok and unreadable.failure_kind == "unreadable"
    assert "05-exhibit-E1.cdf" in unreadable.problem and unreadable.components == ()
    assert unreadable.findings is None and unreadable.processing is None
    assert missing.failure_kind == "missing" and "no such file" in missing.problem
    # absent stays absent when written back (no null keys appear)
    assert "findings" not in unreadable.to_json()


def test_qa_gated_document_typed(results_files):
    document = load_results(results_files["qa-gated"])
    assert isinstance(document.qa, QASection)
    assert document.qa.status == "failing" and document.qa.blocks_reporting
    assert not document.qa.reportable and "tune-fail.cdf" in document.qa.reason
    assert [e["exhibit_id"] for e in document.qa.blocked_exhibits] == ["E1", "E2", "E3", "E4"]
    assert document.instrument["id"] == "GCMS-DEMO"
    exhibits = [r for r in document.runs if r.exhibit_id]
    assert exhibits and all(isinstance(r.qa, RunQA) and r.reportable is False
                            for r in exhibits)
    assert all(r.qa is None and r.reportable is None for r in document.runs
               if not r.exhibit_id)
    assert document.step_failures
    assert [s.name for s in document.steps] == ["qa-gate", "qa-reportable", "processed-by"]
    assert isinstance(document.processed_by, ProcessedBy)
    assert document.processed_by.user == "analyst-7"


def test_quantitation_document_typed(results_files):
    document = load_results(results_files["quantitation"])
    assert not document.step_failures
    sample = next(r for r in document.runs if r.sample_id == "X1")
    (quantity,) = sample.quantitation
    assert isinstance(quantity, Quantity) and quantity.status == "quantified"
    assert quantity.reportable and abs(quantity.concentration - 80.0) <= \
        quantity.expanded_uncertainty
    assert quantity.amount_in_exhibit["mass_mg"] == pytest.approx(
        quantity.concentration * 10 / 1000)
    assert sample.internal_standards[0]["integration"]["detected"]
    assert sample.quantitation_method["calibrations"]["Methamphetamine"]["status"] == "ok"
    blank = next(r for r in document.runs if r.sample_id == "B1")
    assert blank.quantitation[0].concentration is None


def test_quant_alone_document_typed(results_files):
    document = load_results(results_files["quant-alone"])
    assert isinstance(document, QuantResultsDocument)
    sample = next(r for r in document.runs if r.sample_id == "X1")
    (quantity,) = sample.quantitation
    assert isinstance(quantity, Quantity) and quantity.identification is None
    batch = load_results(results_files["quantitation"])
    in_batch = next(r for r in batch.runs if r.sample_id == "X1").quantitation[0]
    assert quantity.concentration == pytest.approx(in_batch.concentration)
    assert document.calibration_summary["Methamphetamine"]["status"] == "ok"
    assert not document.findings


# ------------------------------------------------------------------------ versions
def test_a_newer_version_is_refused_naming_file_and_versions(results_files, tmp_path):
    data = _raw(results_files["demo"])
    data["format_version"] = FORMAT_VERSION + 1
    path = tmp_path / "newer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FormatError) as error:
        load_results(path)
    message = str(error.value)
    assert str(path) in message
    assert f"version {FORMAT_VERSION + 1}" in message and f"version {FORMAT_VERSION})" in message


def test_version_0_is_upgraded_through_the_hook(results_files):
    data = _raw(results_files["demo"])
    del data["format_version"]               # version 0: no version key (gcms.results.versions)
    document = ResultsDocument.from_json(data, source="v0.json")
    assert document.format_version == 1 == FORMAT_VERSION and 0 in UPGRADES
    assert document.to_json()["format_version"] == 1
    assert "format_version" not in data                  # the caller's object is untouched
    jsonschema.validate(document.to_json(), published_schema())


@pytest.mark.parametrize("version", ["1", -1, 1.0, True])
def test_a_version_that_is_not_a_number_is_refused(results_files, version):
    data = _raw(results_files["demo"])
    data["format_version"] = version
    with pytest.raises(FormatError, match="format_version"):
        ResultsDocument.from_json(data, source="odd.json")


def test_quant_versions_checked(results_files):
    data = _raw(results_files["quant-alone"])
    data["schema"] = f"{QUANT_FORMAT}/{QUANT_FORMAT_VERSION + 1}"
    with pytest.raises(FormatError, match=r"q\.json: quantitation results version 2 is "
                                          r"newer than this gcms reads \(version 1\)"):
        QuantResultsDocument.from_json(data, source="q.json")
    data["schema"] = "gcms-quant-results"
    with pytest.raises(FormatError, match="q.json: schema 'gcms-quant-results' is not"):
        QuantResultsDocument.from_json(data, source="q.json")


# ------------------------------------------------------------------- bad documents
def test_bad_documents_are_gcms_errors_naming_file_and_key(results_files, tmp_path):
    data = _raw(results_files["demo"])
    del data["runs"][4]["status"]
    with pytest.raises(GcmsError, match=r"bad\.json: .*\$\.runs\[4\]: the key 'status'"):
        ResultsDocument.from_json(data, source="bad.json")
    data = _raw(results_files["demo"])
    data["runs"][4]["components"][0]["match_factor"] = "901"
    with pytest.raises(FormatError,
                       match=r"\$\.runs\[4\]\.components\[0\]\.match_factor: expected an "
                             r"integer, found a string"):
        ResultsDocument.from_json(data, source="bad.json")
    data = _raw(results_files["demo"])
    data["runs"] = {"0": data["runs"][0]}
    with pytest.raises(FormatError, match=r"\$\.runs: expected an array"):
        ResultsDocument.from_json(data, source="bad.json")
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"format": "gcms-report/1"}), encoding="utf-8")
    with pytest.raises(FormatError, match="report.json: not a gcms batch results document"):
        load_results(report)
    cut = tmp_path / "cut.json"
    cut.write_text(results_files["demo"].read_text(encoding="utf-8")[:500], encoding="utf-8")
    with pytest.raises(FormatError, match="cut.json: not a JSON file"):
        load_results(cut)
    with pytest.raises(FormatError, match="gone.json: cannot read"):
        load_results(tmp_path / "gone.json")
    listed = tmp_path / "listed.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(FormatError, match="listed.json: not a results document"):
        load_results(listed)
    with pytest.raises(FormatError, match="not a results document"):
        ResultsDocument.from_json([1, 2])


def test_nan_reads_as_null_as_the_producers_write_it(results_files):
    data = _raw(results_files["demo"])
    data["runs"][4]["components"][0]["snr"] = math.nan
    data["runs"][4]["components"][0]["delta_ri"] = math.inf
    text = json.dumps(data)                              # NaN / Infinity tokens
    document = ResultsDocument.from_json(json.loads(text), source="nan.json")
    component = document.run(4).components[0]
    assert component.snr is None and component.delta_ri is None
    written = document.to_text()                          # allow_nan=False: would raise
    assert json.loads(written)["runs"][4]["components"][0]["snr"] is None


def test_keys_not_typed_are_kept_in_extra(results_files):
    data = _raw(results_files["demo"])
    data["lab_step"] = {"signed_by": "A. Analyst"}
    data["runs"][4]["lab_note"] = ["re-injected"]
    document = ResultsDocument.from_json(data, source="extra.json")
    assert document.extra["lab_step"]["signed_by"] == "A. Analyst"
    assert document.run(4).extra["lab_note"] == ("re-injected",)
    assert document.to_json() == data
    jsonschema.validate(data, published_schema())


def test_records_made_in_python_write_their_keys():
    note = Note(kind="lookalike", substances=("MDMA",), text="a look-alike")
    assert note.to_json() == {"kind": "lookalike", "substances": ["MDMA"],
                              "text": "a look-alike"}
    qa = RunQA(status="passing", policy="block", reportable=True)
    assert qa.to_json() == {"status": "passing", "policy": "block", "reportable": True}


def test_a_changed_record_writes_its_new_values(results_files):
    document = load_results(results_files["demo"])
    runs = list(document.runs)
    runs[4] = dataclasses.replace(runs[4], reportable=False)
    changed = dataclasses.replace(document, runs=tuple(runs)).to_json()
    assert changed["runs"][4]["reportable"] is False
    assert changed["runs"][3] == _raw(results_files["demo"])["runs"][3]
    jsonschema.validate(changed, published_schema())


def test_the_results_package_depends_on_no_stage():
    """Types below the batch: producers (batch, QA, quantitation) and consumers (report,
    custody, CLI) can all import it (issue 16: layers in one direction)."""
    imported = set()
    for path in (ROOT / "gcms" / "results").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(a.name for a in node.names)
    gcms_modules = {m for m in imported if m == "gcms" or m.startswith("gcms.")}
    assert gcms_modules - {"gcms.errors"} == {m for m in gcms_modules
                                               if m.startswith("gcms.results")}


# ------------------------------------------------------------ producers and readers
def test_readers_upgrade_an_older_document_on_load(results_files, tmp_path):
    """A version-0 document (no version key) reads through the upgrade path in the
    report and the report verifier, giving the same report as the current version."""
    from gcms.report.adapters import from_results

    data = _raw(results_files["qa-gated"])
    del data["format_version"]
    older = tmp_path / "v0" / "results.json"
    older.parent.mkdir()
    older.write_text(json.dumps(data), encoding="utf-8")
    current = from_results(results_files["qa-gated"], "E1", draw_chromatograms=False,
                           issued_at="2026-01-01T00:00:00Z")
    upgraded = from_results(older, "E1", draw_chromatograms=False,
                            issued_at="2026-01-01T00:00:00Z")
    facts = [{k: v for k, v in model.to_dict().items() if k not in ("source", "report_id")}
             for model in (current, upgraded)]
    assert facts[0] == facts[1]                      # the same report, from another file
    assert upgraded.withheld == current.withheld and upgraded.withheld
    assert upgraded.instrument == current.instrument


def test_a_reader_refuses_a_quantitation_document_naming_it(results_files):
    from gcms.report.adapters import from_results

    with pytest.raises(FormatError, match="gcms quant results document"):
        from_results(results_files["quant-alone"], "EX-1")


def test_replace_adds_a_typed_section_after_the_keys_read(results_files):
    """How a batch step adds its section: a new record, the key written where setting
    it in the JSON object would have put it, the value checked against its type."""
    run = load_results(results_files["demo"]).runs[4]
    word = RunQA(status="passing", policy="block", reportable=True)
    changed = run.replace(reportable=True, qa=word)
    assert list(changed.to_json())[-2:] == ["reportable", "qa"]
    assert changed.qa == word and run.qa is None                   # the original untouched
    assert changed.to_json()["qa"] == {"status": "passing", "policy": "block",
                                       "reportable": True}
    entry = {"substance": "MDMA", "status": "quantified", "reportable": True,
             "concentration": 41.2, "unit": "ug/mL"}
    assert changed.replace(quantitation=[entry]).quantitation[0].concentration == 41.2
    with pytest.raises(FormatError, match=r"RunResult\.quantitation\[0\]: the key 'unit'"):
        run.replace(quantitation=[{k: v for k, v in entry.items() if k != "unit"}])
    with pytest.raises(TypeError, match="declares no key 'quantity'"):
        run.replace(quantity=())


def test_a_step_writing_a_malformed_section_stops_the_batch(tmp_path):
    """A step sets its section through the typed record: a declared section not of its
    type fails the batch with the key named, and nothing is written."""
    from gcms.batch import run_batch
    from gcms.demo import demo_library_path, demo_sequence_path

    class Broken:
        name, stage = "broken", "after-judgement"

        def __call__(self, context):
            context.records[0] = context.records[0].replace(quantitation={"substances": 1})

    with pytest.raises(FormatError, match=r"RunResult\.quantitation: expected an array"):
        run_batch(demo_sequence_path(), library=demo_library_path(), workers=1,
                  out_dir=tmp_path / "out", steps=[Broken()])
    assert not (tmp_path / "out" / "results.json").exists()


def test_the_suite_checks_every_written_document_against_the_schema(results_files):
    """tests/conftest.py keeps schema_checked_writers open: both writers' text is
    validated against results.schema.json as it is made."""
    for kind in (ResultsDocument, QuantResultsDocument):
        assert hasattr(kind.to_text, "__wrapped__")
    document = load_results(results_files["demo"])
    broken = dataclasses.replace(document, format_version=FORMAT_VERSION + 1)
    with pytest.raises(jsonschema.ValidationError):
        broken.to_text()
