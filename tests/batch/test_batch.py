"""Sequence behaviour: carry-over, lookalikes, damaged files, resume, parallel workers, hooks."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from batch_sim import (
    component_of,
    spectrum,
    standard_sequence,
    write_run,
    write_sequence,
)
from click.testing import CliRunner

from gcms.batch import BatchSettings, run_batch
from gcms.demo import demo_library_path
from gcms.errors import CriteriaError, FormatError


def record(result, sample_id):
    return next(r for r in result.records if r["sample_id"] == sample_id)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clean")
    return standard_sequence(folder)


def test_clean_sequence_identifies_against_the_standard(clean):
    result = run_batch(clean, library=demo_library_path(), workers=1)
    exhibit = record(result, "X1")
    assert [f["substance"] for f in exhibit["findings"]["identified"]] == ["Methamphetamine"]
    meth = component_of(exhibit, "Methamphetamine")
    criteria = {c["criterion"]: c for c in meth["criteria"]}
    assert criteria["retention_time"]["decisive"] and criteria["retention_time"]["result"] == "pass"
    assert criteria["retention_time"]["evidence"]["file"] == "std.cdf"
    assert criteria["retention_index"]["result"] == "pass"        # supporting, via the ladder
    assert criteria["blank"]["result"] == "pass"
    assert exhibit["blank"] == {"blank_file": "blank2.cdf", "blank_position": 3}
    assert exhibit["retention_calibration"]["ladder_file"] == "ladder.cdf"
    assert record(result, "B2")["blank_status"]["clean"]
    assert record(result, "L1")["ladder"]["members"][0]["name"] == "C10"


def test_blank_with_carry_over_is_flagged(tmp_path):
    result = run_batch(standard_sequence(tmp_path, carry_over=0.2),
                       library=demo_library_path(), workers=1)
    blank = record(result, "B2")
    assert not blank["blank_status"]["clean"]
    assert "Methamphetamine" in blank["blank_status"]["carry_over_detected"]
    flag = next(c for c in blank["carry_over"] if c["substance"] == "Methamphetamine")
    assert flag["donor_file"] == "std.cdf" and flag["detected"]
    # 20 % of the exhibit's S/N in the blank: above the 10 % the profile allows
    meth = component_of(record(result, "X1"), "Methamphetamine")
    assert meth["verdict"] == "inconclusive"
    assert meth["failed"] == ["blank"]
    blank_criterion = next(c for c in meth["criteria"] if c["criterion"] == "blank")
    assert blank_criterion["value"] == pytest.approx(20.0, abs=4.0)
    assert "carry-over" in result.summary()
    # What the blank holds is carry-over, not an identification in the blank.
    in_blank = component_of(blank, "Methamphetamine")
    assert in_blank["verdict"] == "inconclusive" and in_blank["failed"] == ["blank_run"]
    assert blank["blank_status"]["substances_in_blank"] == ["Methamphetamine"]
    assert blank["findings"]["identified"] == []


def test_lookalike_with_matching_spectrum_but_wrong_ri_is_not_identified(tmp_path):
    # An exhibit compound with amphetamine's spectrum eluting 200 RI units later, and no
    # amphetamine standard in the sequence: the ladder's RI must reject it.
    write_run(tmp_path / "ladder.cdf", [], seed=1, ladder=True)
    write_run(tmp_path / "blank.cdf", [], seed=2)
    write_run(tmp_path / "exhibit.cdf", [("Amphetamine", 700.0, 200.0)], seed=3)
    sequence = write_sequence(tmp_path, [("ladder.cdf", "ladder", "L", "", ""),
                                         ("blank.cdf", "blank", "B", "", ""),
                                         ("exhibit.cdf", "sample", "X", "E", "")])
    result = run_batch(sequence, library=demo_library_path(), workers=1)
    exhibit = record(result, "X")
    lookalike = component_of(exhibit, "Amphetamine")
    assert lookalike is not None and lookalike["match_factor"] >= 800   # the spectrum matches
    assert lookalike["verdict"] == "not identified"
    assert "retention_index" in lookalike["failed"]
    assert lookalike["delta_ri"] == pytest.approx(200.0, abs=5.0)
    assert exhibit["findings"]["identified"] == []


def test_damaged_and_missing_files_are_named_and_skipped(tmp_path):
    standard_sequence(tmp_path)
    good = (tmp_path / "exhibit.cdf").read_bytes()
    (tmp_path / "truncated.cdf").write_bytes(good[: len(good) // 2])
    (tmp_path / "garbage.cdf").write_bytes(b"CDF\x01" + b"\x00garbage" * 20)
    sequence = write_sequence(tmp_path, [
        ("ladder.cdf", "ladder", "L1", "", ""),
        ("blank1.cdf", "blank", "B1", "", ""),
        ("std.cdf", "standard", "S1", "", "Amphetamine;Methamphetamine"),
        ("truncated.cdf", "sample", "T1", "E-T", ""),
        ("blank2.cdf", "blank", "B2", "", ""),
        ("missing.cdf", "sample", "M1", "E-M", ""),
        ("garbage.cdf", "blank", "G1", "", ""),
        ("exhibit.cdf", "sample", "X1", "EX-1", ""),
    ])
    out = tmp_path / "out"
    result = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert result.exit_code == 1
    failed = {f["file"].rsplit("/", 1)[-1]: f["problem"] for f in result.failed}
    assert set(failed) == {"truncated.cdf", "missing.cdf", "garbage.cdf"}
    assert all(name in problem for name, problem in failed.items())
    document = json.loads((out / "results.json").read_text())
    assert [r["sample_id"] for r in document["runs"]] == ["L1", "B1", "S1", "T1", "B2", "M1",
                                                         "G1", "X1"]
    assert record(result, "M1")["failure_kind"] == "missing"
    # The exhibit after the damaged blank uses that blank: the check cannot be made.
    exhibit = record(result, "X1")
    assert exhibit["status"] == "ok"
    meth = component_of(exhibit, "Methamphetamine")
    blank = next(c for c in meth["criteria"] if c["criterion"] == "blank")
    assert blank["result"] == "not evaluated" and "could not be processed" in blank["detail"]
    assert "garbage.cdf" in result.summary()

    from gcms_cli.identify import batch

    cli = CliRunner().invoke(batch, [str(sequence), "--out", str(tmp_path / "cli"),
                                     "--library", str(demo_library_path()),
                                     "--workers", "1", "--quiet"])
    assert cli.exit_code == 1
    assert "truncated.cdf" in cli.output and "Traceback" not in cli.output
    assert (tmp_path / "cli" / "results.json").exists()


def test_resume_does_not_redo_finished_runs(tmp_path, monkeypatch):
    sequence = standard_sequence(tmp_path)
    out = tmp_path / "out"
    first = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert (first.processed, first.cached) == (5, 0)

    import gcms.batch.pipeline as pipeline

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run was processed again")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "analyse_run", refuse)
        second = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert (second.processed, second.cached) == (0, 5)
    assert second.records[4]["processing"]["cached"]
    strip = [{k: v for k, v in r.items() if k != "processing"} for r in first.records]
    assert strip == [{k: v for k, v in r.items() if k != "processing"} for r in second.records]
    # A changed file, a damaged cache record, or other settings: processed again.
    write_run(tmp_path / "exhibit.cdf", [("Methamphetamine", 500.0)], seed=99)
    from batch_sim import library

    from gcms.batch import cache_key, input_digest

    key = cache_key(input_digest(tmp_path / "ladder.cdf"), BatchSettings().pass1_fingerprint(),
                    library().content_sha256)
    (out / "cache" / "pass1" / f"{key}.json").write_text("{ not json", encoding="utf-8")
    third = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert third.processed == 2 and third.cached == 3
    fourth = run_batch(sequence, out_dir=out,
                       library=demo_library_path(), workers=1, settings=BatchSettings(top=3))
    assert fourth.processed == 5
    assert run_batch(sequence, out_dir=out,
                     library=demo_library_path(), workers=1, resume=False).processed == 5


def test_runs_moved_after_processing_are_reused_under_their_new_place(tmp_path, monkeypatch):
    first_place = tmp_path / "received"
    first_place.mkdir()
    out = tmp_path / "out"
    first = run_batch(standard_sequence(first_place), out_dir=out,
                      library=demo_library_path(), workers=1)
    moved = shutil.copytree(first_place, tmp_path / "archive" / "case-7")
    shutil.rmtree(first_place)

    import gcms.batch.pipeline as pipeline

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "analyse_run", lambda *a, **k: pytest.fail("processed again"))
        second = run_batch(moved / "sequence.csv", out_dir=out,
                           library=demo_library_path(), workers=1)
    assert second.cached == 5
    text = (out / "results.json").read_text(encoding="utf-8")
    assert str(first_place) not in text  # nothing names where the runs no longer are
    for before, after in zip(first.records, second.records, strict=True):
        assert after["file"] == str(moved / Path(before["file"]).name)
        assert after["run"]["data_file"] == after["file"]
        assert after["run"]["sha256"] == before["run"]["sha256"]
        assert after["findings"] == before["findings"]


def test_a_relocated_folder_run_names_its_data_file_inside_the_new_folder(tmp_path):
    from dataclasses import replace

    from gcms.batch.pass1 import RunAnalysis

    run_batch(standard_sequence(tmp_path), out_dir=tmp_path / "out",
              library=demo_library_path(), workers=1)
    analysis = RunAnalysis.from_dict(json.loads(next(
        (tmp_path / "out" / "cache" / "pass1").glob("*.json")).read_text()))
    folder = replace(analysis, file="/old/R1.D", run={**analysis.run,
                                                     "data_file": "/old/R1.D/AcqData/MSScan.bin"})
    moved = folder.relocated("/new/R1.D")
    assert moved.run["data_file"] == "/new/R1.D/AcqData/MSScan.bin"
    assert moved.file == "/new/R1.D" and moved.hits == folder.hits
    assert folder.relocated("/old/R1.D") is folder


def test_parallel_workers_give_the_serial_result(clean, tmp_path):
    events = []
    parallel = run_batch(clean, library=demo_library_path(), workers=2, progress=events.append)
    serial = run_batch(clean, library=demo_library_path(), workers=1)
    assert [e.done for e in events] == [1, 2, 3, 4, 5]
    assert {e.status for e in events} == {"processed"}
    for a, b in zip(parallel.records, serial.records, strict=True):
        assert a["components"] == b["components"]
        assert a["findings"] == b["findings"]


def test_workers_that_cannot_start_leave_the_work_to_the_main_process(clean, tmp_path):
    from batch_sim import library

    from gcms.demo import demo_library_path
    from gcms.library import Library

    copy = tmp_path / "lib.h5"
    shutil.copyfile(demo_library_path(), copy)
    opened = Library.open(copy)
    copy.unlink()  # the workers cannot open it; this process holds it mapped
    result = run_batch(clean, library=opened, workers=2)
    assert result.ok
    assert "processed in the main process" in result.document["sequence_notes"][0]
    assert "note: the worker processes stopped" in result.summary()
    assert record(result, "X1")["findings"]["identified"][0]["substance"] == "Methamphetamine"
    assert opened.content_sha256 == library().content_sha256


def test_steps_plug_in_and_can_fail_the_batch(clean, tmp_path):
    seen = []

    class Section:
        name, stage = "quantitation", "after-judgement"

        def __call__(self, context):
            for index, rec in enumerate(context.records):
                # a step's own key goes in the typed record's extra (a declared one, e.g.
                # "quantitation", is set with rec.replace and must keep to its type)
                context.records[index] = dataclasses.replace(rec, extra={
                    **rec.extra,
                    "substance_count": {"substances": len(rec.findings.identified)}})

    class Gate:
        name, stage = "qa-gate", "before-judgement"

        def __call__(self, context):
            seen.append((len(context.runs), len(context.evidence.standards)))
            context.fail("tune older than 24 h")

    class Recorder:
        name, stage = "custody", "after-write"

        def __call__(self, context):
            seen.append((context.out_dir / "results.json").exists())

    result = run_batch(clean, out_dir=tmp_path,
                       library=demo_library_path(), workers=1, steps=[Section(), Gate(),
                                                                   Recorder()])
    assert seen == [(5, 2), True]
    assert record(result, "X1")["substance_count"] == {"substances": 1}
    assert result.exit_code == 1 and result.step_failures == ["tune older than 24 h"]
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["runs"][4]["substance_count"] == {"substances": 1}
    assert [s["name"] for s in written["steps"]] == ["quantitation", "qa-gate", "custody"]

    class Wrong:
        name, stage = "x", "whenever"

    with pytest.raises(ValueError, match="stage"):
        run_batch(clean, library=demo_library_path(), workers=1, steps=[Wrong()])


def test_bad_inputs_raise_before_any_work(clean, tmp_path):
    with pytest.raises(CriteriaError):
        run_batch(clean, library=demo_library_path(), workers=1, criteria="no-such-profile")
    bad = tmp_path / "seq.csv"
    bad.write_text("file,kind\nx.cdf,sample\n", encoding="utf-8")
    with pytest.raises(FormatError, match="missing column"):
        run_batch(bad, library=demo_library_path(), workers=1)
    from gcms_cli.identify import batch

    cli = CliRunner().invoke(batch, [str(bad), "--out", str(tmp_path / "o"),
                                     "--library", str(demo_library_path())])
    assert cli.exit_code == 2 and "seq.csv" in cli.output


def test_identify_command(clean, tmp_path):
    from gcms_cli.identify import identify

    folder = clean.parent
    args = [str(folder / "exhibit.cdf"), "--ladder", str(folder / "ladder.cdf"),
            "--blank", str(folder / "blank2.cdf"),
            "--standard", f"{folder / 'std.cdf'}=Methamphetamine",
            "--library", str(demo_library_path())]
    human = CliRunner().invoke(identify, args)
    assert human.exit_code == 0, human.output
    assert "identified:   Methamphetamine" in human.output
    assert "C10-C16" in human.output
    as_json = CliRunner().invoke(identify, [*args, "--json"])
    records = json.loads(as_json.output)
    exhibit = next(r for r in records if r["type"] == "sample")
    assert component_of(exhibit, "Methamphetamine")["verdict"] == "identified"
    # Without retention evidence or a blank the default profile stays inconclusive.
    alone = CliRunner().invoke(identify, [str(folder / "exhibit.cdf"), "--json",
                                          "--library", str(demo_library_path())])
    meth = component_of(json.loads(alone.output)[0], "Methamphetamine")
    assert meth["verdict"] == "inconclusive"
    assert set(meth["failed"]) == {"retention_time", "blank"}
    shutil.copy(folder / "exhibit.cdf", tmp_path / "copy.cdf")
    (tmp_path / "copy.cdf").write_bytes(b"not a run")
    broken = CliRunner().invoke(identify, [str(tmp_path / "copy.cdf"),
                                           str(folder / "exhibit.cdf"),
                                           "--library", str(demo_library_path())])
    assert broken.exit_code == 2 and "copy.cdf" in broken.output
    shown = CliRunner().invoke(identify, ["x", "--show-criteria", "--criteria", "enfsi-dwg"])
    assert shown.exit_code == 0 and "enfsi-dwg" in shown.output
    assert spectrum("Methamphetamine").retention_index == 1180.0


def test_standard_substance_outside_the_hit_list_is_still_the_candidate(clean, tmp_path):
    # A library where a lookalike with methamphetamine's very spectrum comes first: with
    # one hit per component the searches only ever list the lookalike. The standard's
    # substance is found by name and scored directly, and the exhibit's component is
    # judged as methamphetamine too; retention excludes the lookalike.
    from batch_sim import library

    from gcms.library import Library

    demo = library()
    twin = spectrum("Methamphetamine").replace(name="Lookalike-58", retention_index=1330.0,
                                              synonyms=(), cas=None, inchikey=None)
    lib = Library.from_spectra([twin, *(demo.spectrum(i) for i in range(len(demo)))])
    result = run_batch(clean, library=lib, workers=1, settings=BatchSettings(top=1))
    standard = record(result, "S1")
    meth_ref = next(r for r in standard["references"] if r["substance"] == "Methamphetamine")
    assert meth_ref["found"] and meth_ref["found_by"].startswith("targeted")
    exhibit = record(result, "X1")
    meth = component_of(exhibit, "Methamphetamine")
    assert meth["verdict"] == "identified"
    assert meth["library"]["rank"] == 0
    runner = next(c for c in meth["criteria"] if c["criterion"] == "distinct_from_runner_up")
    assert runner["result"] == "pass" and "Lookalike-58" in runner["detail"]
    assert [a["substance"] for a in meth["alternatives"]] == ["Lookalike-58"]
    assert meth["alternatives"][0]["verdict"] == "not identified"


def test_command_modules_extend_gcms_batch(clean, tmp_path, monkeypatch):
    import sys
    import types

    import click
    import gcms_cli.identify as command

    module = types.ModuleType("gcms_cli.fake_extension")
    calls = []

    class Recorder:
        name, stage = "fake-store", "after-write"

        def __init__(self, store):
            self.store = store

        def __call__(self, context):
            calls.append((self.store, (context.out_dir / "results.json").exists()))

    option = click.Option(["--fake-store"], help="record somewhere")
    module.BATCH_OPTIONS = [option]
    module.batch_steps = lambda options: ([Recorder(options["fake_store"])]
                                          if options.get("fake_store") else [])
    monkeypatch.setitem(sys.modules, "gcms_cli.fake_extension", module)
    monkeypatch.setattr(command, "BATCH_EXTENSIONS", ("gcms_cli.fake_extension",))
    monkeypatch.setattr(command.importlib.util, "find_spec", lambda name: True)
    command.batch.params.append(option)
    try:
        result = CliRunner().invoke(command.batch, [str(clean), "--out", str(tmp_path / "o"),
                                                    "--library", str(demo_library_path()),
                                                    "--workers", "1", "--quiet",
                                                    "--fake-store", "S1"])
    finally:
        command.batch.params.remove(option)
    assert result.exit_code == 0, result.output
    assert calls == [("S1", True)]


def test_a_profile_pinning_other_libraries_refuses_the_batch_before_any_run(clean, tmp_path):
    import gcms.identify
    from gcms.demo import demo_library_path
    from gcms.errors import LibraryError
    from gcms.identify import load_criteria
    from gcms.library import Library

    identity = Library.open(demo_library_path()).identity_sha256
    profile = tmp_path / "pinned.toml"
    text = (Path(gcms.identify.__file__).parent / "profiles" / "swgdrug-gcms.toml").read_text(
        encoding="utf-8")
    profile.write_text(text + f'\n[library]\naccepted_sha256 = ["{"0" * 64}"]\n',
                       encoding="utf-8")
    with pytest.raises(LibraryError, match=f"identity {identity}.*pinned.toml") as info:
        run_batch(clean,
                  library=demo_library_path(), workers=1, criteria=profile,
                  out_dir=tmp_path / "refused")
    assert "nothing was processed" in str(info.value)
    assert not (tmp_path / "refused").exists()
    # the same library accepted: processed, and the pin recorded with the criteria
    profile.write_text(text + f'\n[library]\naccepted_sha256 = ["{identity.upper()}"]\n',
                       encoding="utf-8")
    result = run_batch(clean, library=demo_library_path(), workers=1, criteria=profile)
    assert record(result, "X1")["components"]
    assert result.document["criteria"]["library"]["accepted_sha256"] == [identity]
    with pytest.raises(CriteriaError, match="accepted_sha256: must be a list of SHA-256"):
        profile.write_text(text + '\n[library]\naccepted_sha256 = ["abc"]\n', encoding="utf-8")
        load_criteria(profile)
