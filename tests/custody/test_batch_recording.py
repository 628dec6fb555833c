"""``gcms batch --store S --case C``: a batch's runs, analysis and results in the case store.

Runs on a part of the bundled demo sequence (ladder, blanks, standard, two exhibits),
copied to a temporary folder so that tests can damage it; pass 1 is done once per
module and reused through the batch's own resume cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.demo import demo_folder, demo_library_path

ROWS = [
    ("01-ladder.cdf", "ladder", "LAD-01", ""),
    ("02-blank.cdf", "blank", "BLK-01", ""),
    ("03-standard.cdf", "standard", "STD-01", ""),
    ("04-blank.cdf", "blank", "BLK-02", ""),
    ("05-exhibit-E1.cdf", "sample", "E1-01", "E1"),
    ("06-blank.cdf", "blank", "BLK-03", ""),
    ("07-exhibit-E2.cdf", "sample", "E2-01", "E2"),
]
STANDARD = "Amphetamine;Methamphetamine;Caffeine;Theophylline"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sequence(folder: Path, rows=ROWS, case_id: str = "LAB-17") -> Path:
    lines = ["file,type,sample_id,case_id,exhibit_id,reference_substance"]
    for file, kind, sample, exhibit, *case in rows:
        substances = STANDARD if kind == "standard" else ""
        lines.append(f"{file},{kind},{sample},{case[0] if case else case_id},{exhibit},"
                     f"{substances}")
    path = folder / "sequence.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    """The demo runs and a batch output folder whose pass-1 cache holds every run."""
    from gcms.batch import run_batch

    folder = tmp_path_factory.mktemp("demo")
    for file, *_ in ROWS:
        shutil.copyfile(demo_folder() / file, folder / file)
    result = run_batch(write_sequence(folder), out_dir=folder / "out",
                       library=demo_library_path(), workers=1)
    assert result.ok, result.failed
    return folder


@pytest.fixture
def work(processed, tmp_path) -> Path:
    """A private copy of the runs and of the cache: a batch here only runs pass 2."""
    folder = tmp_path / "seq"
    shutil.copytree(processed, folder)
    (folder / "out" / "results.json").unlink()
    return folder


@pytest.fixture
def gcms(monkeypatch):
    monkeypatch.delenv("GCMS_STORE", raising=False)
    monkeypatch.delenv("GCMS_ACTOR", raising=False)

    def run(*args: str, env: dict | None = None):
        return CliRunner().invoke(cli, [str(a) for a in args], env=env or {},
                                  catch_exceptions=False)

    return run


def batch_args(folder: Path, *extra: str) -> list[str]:
    # out/ already holds the batch of this sequence (its cache): continued with --resume
    return ["batch", str(folder / "sequence.csv"), "--library", str(demo_library_path()),
            "--out", str(folder / "out"),
            "--workers", "1", "--quiet", "--resume", *extra]


def open_store(location, actor: str = "reader"):
    from gcms.custody import CaseStore

    return CaseStore(location, actor=actor, create=False)


def test_batch_records_runs_analysis_and_results(gcms, work, tmp_path):
    import gcms as package

    store_dir = tmp_path / "store"
    result = gcms(*batch_args(work, "--store", store_dir, "--case", "C-1",
                              "--analyst", "alice"))
    assert result.exit_code == 0, result.output
    assert "case store" in result.output and "case C-1" in result.output
    document = json.loads((work / "out" / "results.json").read_text(encoding="utf-8"))
    with open_store(store_dir) as store:
        log = store.log(case_id="C-1")
        case_file = store.case_file("C-1")
        assert store.verify(case_id="C-1").ok

    # every entry is the analyst's; the case says a batch opened it, and from what
    assert {e.actor for e in log if e.case_id} == {"alice"}
    opened = next(e for e in log if e.action == "case.open")
    assert "gcms batch" in opened.reason and str(work / "sequence.csv") in opened.reason
    # exhibits registered, nothing of the receipt invented
    registered = [e for e in log if e.action == "exhibit.register"]
    assert [e.object_id for e in registered] == ["E1", "E2"]
    for exhibit in case_file["exhibits"]:
        assert "registered from sequence" in exhibit["description"]
        assert "not yet recorded" in exhibit["description"]
        assert exhibit["received_at"] is None and exhibit["received_by"] is None
        assert exhibit["seal_numbers"] == [] and exhibit["net_weight"] is None
    # every run attached with its own SHA-256 (hashed independently here)
    runs = case_file["runs"]
    assert [Path(r["path"]).name for r in runs] == [row[0] for row in ROWS]
    for run, row in zip(runs, ROWS, strict=True):
        assert run["sha256"] == _sha256(work / row[0])
        assert run["kind"] == row[1] and run["sample_name"] == row[2]
        assert run["exhibit_id"] == (row[3] or None)
    # the analysis: software, library file and criteria profile with their digests
    [analysis] = case_file["analyses"]
    assert analysis["software_version"] == package.__version__
    assert analysis["library_sha256"] == _sha256(demo_folder() / "demo_drugs.h5")
    assert analysis["criteria_profile"] == "swgdrug-gcms"
    assert analysis["criteria_sha256"] == document["criteria"]["sha256"]
    # the library's identity (content, title, sources), which a lab profile can pin
    from gcms.library import Library

    identity = Library.open(demo_folder() / "demo_drugs.h5").identity_sha256
    assert analysis["parameters"]["library"]["identity_sha256"] == identity
    assert analysis["run_ids"] == [r["run_id"] for r in runs]
    assert analysis["parameters"]["sequence"]["sha256"] == _sha256(work / "sequence.csv")
    assert analysis["parameters"]["batch"]["settings"] == document["settings"]
    # one result per run record, the record kept whole but the invocation's bookkeeping
    results = case_file["results"]
    assert len(results) == len(document["runs"])
    for stored, record, run in zip(results, document["runs"], runs, strict=True):
        expected = json.loads(json.dumps(record))
        for name in ("cached", "seconds"):
            expected["processing"].pop(name)
        assert stored["data"] == expected
        assert stored["run_id"] == run["run_id"]
        assert stored["analysis_id"] == analysis["analysis_id"]
        assert stored["exhibit_id"] == (record["exhibit_id"] or None)
    e1 = next(r for r in results if r["exhibit_id"] == "E1")
    assert "identified" in e1["summary"] and "Amphetamine" in e1["summary"]

    verify = gcms("custody", "verify", "--store", store_dir, "--case", "C-1")
    assert verify.exit_code == 0, verify.output


def _added_since(store_dir, head: tuple[int, str]) -> list[str]:
    """Actions of the entries after ``head``, but the digests of results.json rewritten."""
    with open_store(store_dir) as store:
        return [e.action for e in store.log()[head[0]:] if e.action != "results_file.record"]


def test_rerun_adds_no_entry(gcms, work, tmp_path):
    store_dir = tmp_path / "store"
    args = batch_args(work, "--store", store_dir, "--case", "C-1", "--analyst", "alice")
    assert gcms(*args, "--no-resume").exit_code == 0
    with open_store(store_dir) as store:
        head = store.head()
    # resumed from the cache, and processed afresh (other timings): nothing new but the
    # digest of the results.json written again
    again = gcms(*args)
    assert again.exit_code == 0 and _added_since(store_dir, head) == []
    assert gcms(*args, "--no-resume").exit_code == 0
    assert _added_since(store_dir, head) == []


def test_a_changed_result_is_a_correction(work, tmp_path):
    import copy

    from gcms.batch import BatchContext, run_batch
    from gcms.custody.batch import RecordInStore

    step = RecordInStore(str(tmp_path / "store"), "C-1", "alice")
    result = run_batch(work / "sequence.csv", out_dir=work / "out",
                       library=demo_library_path(), workers=1, steps=[step])
    assert result.ok, result.step_failures
    records = copy.deepcopy(result.records)
    e1 = next(r for r in records if r["exhibit_id"] == "E1")
    e1["problems"] = [*e1["problems"], "integration reviewed by hand"]
    context = BatchContext(sequence=None, library=None, criteria=None, settings=None,
                           out_dir=work / "out",
                           records=records, document={**result.document, "runs": records})
    step(context)
    assert context.failures == []
    with open_store(step.location) as store:
        [changed] = store.results("C-1", exhibit_id="E1")
        log = store.log(case_id="C-1")
        assert store.verify(case_id="C-1").ok
    assert changed.version == 2 and changed.to_dict()["data"]["problems"][-1] == (
        "integration reviewed by hand")
    correction = log[-1]
    assert correction.action == "result.rerecord" and correction.object_id == changed.result_id
    assert correction.before["version"] == 1 and correction.before["data"]["problems"] == (
        e1["problems"][:-1])
    assert correction.actor == "alice" and "batch" in correction.reason


def test_tampered_evidence_is_caught_and_a_rerun_refuses_it(gcms, work, tmp_path):
    store_dir = tmp_path / "store"
    args = batch_args(work, "--store", store_dir, "--case", "C-1", "--analyst", "alice")
    assert gcms(*args).exit_code == 0
    target = work / "05-exhibit-E1.cdf"
    with open(target, "ab") as handle:
        handle.write(b"\0")
    verify = gcms("custody", "verify", "--store", store_dir, "--case", "C-1")
    assert verify.exit_code == 1
    assert "05-exhibit-E1.cdf" in verify.output
    # the batch processes the changed file, but the store refuses it as the same run;
    # results.json is still written
    (work / "out" / "results.json").unlink()
    again = gcms(*args)
    assert again.exit_code == 1
    assert "05-exhibit-E1.cdf" in again.output and "has changed" in again.output
    assert (work / "out" / "results.json").is_file()


def test_missing_and_damaged_runs_are_recorded_as_failed(gcms, work, tmp_path):
    damaged = work / "08-exhibit-E3.cdf"
    damaged.write_bytes(b"CDF\x01" + b"\x17" * 300)
    rows = [*ROWS, ("08-exhibit-E3.cdf", "sample", "E3-01", "E3"),
            ("09-exhibit-E4.cdf", "sample", "E4-01", "E4")]
    write_sequence(work, rows)
    store_dir = tmp_path / "store"
    args = batch_args(work, "--store", store_dir, "--case", "C-1", "--analyst", "alice")
    args[args.index("--resume")] = "--replace"  # another sequence: never into its folder
    result = gcms(*args)
    assert result.exit_code == 1  # two runs not processed; everything else recorded
    assert "09-exhibit-E4.cdf: missing" in result.output
    with open_store(store_dir) as store:
        case_file = store.case_file("C-1")
        head = store.head()
        assert store.verify(case_id="C-1").ok
    by_exhibit = {r["exhibit_id"]: r for r in case_file["results"] if r["exhibit_id"]}
    # the damaged file is evidence of what was there: attached, its failure a result
    e3 = by_exhibit["E3"]
    [run] = [r for r in case_file["runs"] if r["run_id"] == e3["run_id"]]
    assert run["sha256"] == _sha256(damaged)
    assert e3["data"]["status"] == "failed" and e3["data"]["problem"]
    assert "not processed" in e3["summary"]
    # the missing file cannot be hashed: its record is a result without a run
    e4 = by_exhibit["E4"]
    assert e4["run_id"] is None and e4["data"]["status"] == "failed"
    assert "09-exhibit-E4.cdf" in e4["data"]["problem"]
    assert len(case_file["runs"]) == len(rows) - 1
    assert len(case_file["results"]) == len(rows)
    assert gcms(*args).exit_code == 1
    assert _added_since(store_dir, head) == []  # the failed runs are not recorded twice


def test_options_without_each_other_are_usage_errors(gcms, work, tmp_path):
    store_dir = tmp_path / "store"
    for extra in (["--store", store_dir], ["--case", "C-1"],
                  ["--store", store_dir, "--case", " C-1"]):
        result = gcms(*batch_args(work, *extra))
        assert result.exit_code == 2, (extra, result.output)
        assert not (work / "out" / "results.json").exists()
    assert not store_dir.exists()
    assert "--case" in gcms(*batch_args(work, "--store", store_dir)).output
    # neither: no step, no store
    assert gcms(*batch_args(work)).exit_code == 0
    assert not store_dir.exists()
    # --case alone takes the store from GCMS_STORE, like the custody commands
    result = gcms(*batch_args(work, "--case", "C-1"),
                  env={"GCMS_STORE": str(store_dir), "GCMS_ACTOR": "bob"})
    assert result.exit_code == 0, result.output
    with open_store(store_dir) as store:
        assert {e.actor for e in store.log(case_id="C-1") if e.case_id} == {"bob"}


def test_a_store_that_cannot_be_used_stops_the_batch_before_any_work(gcms, work, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    result = gcms(*batch_args(work, "--store", blocker, "--case", "C-1"))
    assert result.exit_code == 2 and "not-a-folder" in result.output
    assert not (work / "out" / "results.json").exists()


def test_runs_of_other_cases_are_left_out():
    from gcms.custody.batch import runs_of_case
    from gcms.errors import CustodyError
    from gcms.results import RunResult

    def run(position, kind, case_id, exhibit_id):
        return RunResult.from_json({
            "position": position, "file": f"{position}.D", "file_name": f"{position}.D",
            "type": kind, "sample_id": f"S{position}", "case_id": case_id,
            "exhibit_id": exhibit_id, "reference_substances": [], "concentration": None,
            "unit": None, "amount": None, "amount_unit": None, "volume_ml": None,
            "dilution": None, "status": "ok", "problem": None, "components": []})

    records = [run(0, "blank", "", None), run(1, "standard", "C-2", None),
               run(2, "sample", "C-1", "E1"), run(3, "sample", "C-2", "X9")]
    kept, notes = runs_of_case(records, "C-1")
    assert kept == records[:3] and "C-2" in notes[0]
    with pytest.raises(CustodyError, match="C-3 is none of them"):
        runs_of_case(records, "C-3")
    single = [dataclasses.replace(r, case_id="LAB-17") for r in records]
    kept, notes = runs_of_case(single, "C-9")
    assert kept == single and "LAB-17" in notes[0]


def test_the_report_shows_what_the_store_holds(work, tmp_path):
    from gcms.batch import run_batch
    from gcms.custody.batch import RecordInStore
    from gcms.report.adapters import from_store

    step = RecordInStore(str(tmp_path / "store"), "C-1", "alice")
    assert run_batch(work / "sequence.csv", out_dir=work / "out",
                     library=demo_library_path(), workers=1,
                     steps=[step]).ok
    class QASection:  # a step's sequence-level section, as the QA gate writes one
        name, stage = "qa-section", "after-judgement"

        def __call__(self, context):
            context.sections["qa"] = {"status": "passing", "policy": "block",
                                      "reportable": True, "summary": ["tune of 2 h before"]}
            context.sections["instrument"] = {"id": "GCMS-2", "column": "HP-5MS 30 m"}

    # a second analysis of the same runs (another criteria profile): a new analysis
    assert run_batch(work / "sequence.csv", out_dir=work / "out",
                     library=demo_library_path(), workers=1,
                     criteria="screening", steps=[QASection(), step]).ok
    with open_store(step.location) as store:
        assert [a.analysis_id for a in store.analyses("C-1")] == ["A1", "A2"]
        model = from_store(store, "E1", draw_chromatograms=False)
        first = from_store(store, "E1", analysis_id="A1", draw_chromatograms=False)
    assert model.criteria_profile == "screening" and first.criteria_profile == "swgdrug-gcms"
    assert model.instrument.qa_status == "pass" and model.instrument.column == "HP-5MS 30 m"
    assert first.instrument.qa_status == "not evaluated"
    assert {f.sample_id for f in model.findings} == {"E1-01"}
    assert len(model.findings) == len(first.findings)  # one analysis, never both mixed
    assert "Amphetamine" in model.conclusion.identified
    assert any("other analyses of exhibit E1 (A1)" in d for d in model.deviations)
    assert any("without its receipt" in d and "date received" in d
               for d in model.deviations)
    assert "registered from sequence" in model.item.description
    assert model.item.received_at is None
    assert {e.sha256 for e in model.evidence} >= {_sha256(work / "05-exhibit-E1.cdf")}
    assert ("analysis.record", "analysis A2") in {(a.action, a.object) for a in model.audit}


def test_batch_step_on_postgresql(postgres_server, work):
    from gcms.batch import run_batch
    from gcms.custody.batch import RecordInStore

    step = RecordInStore(postgres_server.new_database(), "C-1", "alice")
    result = run_batch(work / "sequence.csv", out_dir=work / "out",
                       library=demo_library_path(), workers=1, steps=[step])
    assert result.ok, result.step_failures
    with open_store(step.location) as store:
        head = store.head()
        report = store.verify(case_id="C-1")
        assert report.ok, report.first
        assert report.files == len(ROWS)
        assert len(store.results("C-1")) == len(ROWS)
    assert run_batch(work / "sequence.csv", out_dir=work / "out",
                     library=demo_library_path(), workers=1,
                     steps=[step]).ok
    assert _added_since(step.location, head) == []
