"""Intake before any work: an invalid sequence, a run used twice or an output folder that
holds something else are refused before a single run is processed; folders never mix
two batches; an interrupted batch says how to continue."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time

import pytest
from batch_sim import standard_sequence
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.batch import run_batch
from gcms.batch.folder import MARKER, OutFolderError, write_atomic
from gcms.demo import demo_library_path
from gcms.sequence import SequenceError


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The simulated runs and sequence of tests/batch (shared, read-only)."""
    folder = tmp_path_factory.mktemp("intake")
    standard_sequence(folder)
    return folder


@pytest.fixture
def work(made, tmp_path):
    folder = tmp_path / "seq"
    shutil.copytree(made, folder)
    return folder


def batch(*args):
    return CliRunner().invoke(cli, ["batch", *map(str, args), "--library", demo_library_path(),
                                    "--workers", "1", "--quiet"])


def rewrite(path, old, new, count=1):
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return path


def test_a_misspelt_column_stops_the_batch_before_any_run(work):
    sequence = rewrite(work / "sequence.csv", "reference_substance", "refernce_substance")
    result = batch(sequence, "--out", work / "out")
    assert result.exit_code == 2
    assert "line 1, column refernce_substance" in result.output
    assert "did you mean 'reference_substance'" in result.output
    assert "line 4, column reference_substance: a standard must give" in result.output
    assert "nothing was processed" in result.output and "Traceback" not in result.output
    assert not (work / "out").exists()
    # the same checks alone, as the contract runs them
    check = CliRunner().invoke(cli, ["sequence", "check", str(sequence)])
    assert check.exit_code == 1 and "refernce_substance" in check.output
    as_json = json.loads(CliRunner().invoke(cli, ["sequence", "check", "--json",
                                                  str(sequence)]).output)
    assert as_json["valid"] is False
    assert {(p["line"], p["column"]) for p in as_json["problems"]} >= {
        (1, "refernce_substance"), (4, "reference_substance")}


def test_one_run_listed_as_two_calibrators_is_refused(work):
    sequence = work / "sequence.csv"
    with open(sequence, "a", encoding="utf-8") as handle:
        handle.write("std.cdf,standard,S2,C-T,,Amphetamine;Methamphetamine\n")
    shutil.copy(work / "std.cdf", work / "std-copy.cdf")
    with open(sequence, "a", encoding="utf-8") as handle:
        handle.write("std-copy.cdf,standard,S3,C-T,,Amphetamine;Methamphetamine\n")
    result = batch(sequence, "--out", work / "out")
    assert result.exit_code == 2
    assert "line 7, column file" in result.output and "line 4 (sample_id 'S1')" in result.output
    assert "line 8, column file" in result.output and "holds the same data" in result.output
    assert not (work / "out").exists()
    with pytest.raises(SequenceError) as caught:
        run_batch(sequence, library=demo_library_path(), workers=1)
    assert [p.line for p in caught.value.problems] == [7, 8]


def test_spoofing_and_formula_ids_are_refused_at_intake(work):
    sequence = rewrite(work / "sequence.csv", "EX-1", "\u202e1-XE")
    sequence = rewrite(sequence, "B2", "=HYPERLINK(\"http://x\")")
    result = batch(sequence, "--out", work / "out")
    assert result.exit_code == 2
    assert "column exhibit_id" in result.output and "U+202E RIGHT-TO-LEFT OVERRIDE" in result.output
    assert "column sample_id" in result.output and "U+003D EQUALS SIGN" in result.output
    assert "\u202e" not in result.output  # escaped in the message, never displayed
    assert not (work / "out").exists()


def test_a_thousand_rows_naming_one_file_are_refused_in_seconds(work):
    sequence = work / "sequence.csv"
    with open(sequence, "a", encoding="utf-8") as handle:
        for i in range(1000):
            handle.write(f"exhibit.cdf,sample,R{i},C-T,E{i},\n")
    started = time.perf_counter()
    result = batch(sequence, "--out", work / "out")
    assert result.exit_code == 2
    assert time.perf_counter() - started < 20
    assert "is the file of line 6 (sample_id 'X1') too" in result.output
    assert not (work / "out").exists()


def test_results_record_the_sequence_hash_and_the_folder_is_marked(work):
    sequence = work / "sequence.csv"
    result = batch(sequence, "--out", work / "out")
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(sequence.read_bytes()).hexdigest()
    document = json.loads((work / "out" / "results.json").read_text(encoding="utf-8"))
    assert document["sequence"]["sha256"] == digest
    marker = json.loads((work / "out" / MARKER).read_text(encoding="utf-8"))
    assert marker["sequence_sha256"] == digest and marker["status"] == "complete"
    # nothing half-written is left behind (every file went through a temporary + rename)
    assert not [p for p in (work / "out").rglob("*.tmp")]


def test_a_non_empty_out_is_refused_unless_resume_or_replace(work):
    sequence = work / "sequence.csv"
    out = work / "out"
    assert batch(sequence, "--out", out).exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}

    # the same sequence again: refused, says --resume / --replace
    again = batch(sequence, "--out", out)
    assert again.exit_code == 2
    assert "holds the finished batch of this sequence" in again.output
    assert "--resume" in again.output and "--replace" in again.output
    # a shorter sequence into the same folder (the runs of the first would stay beside it)
    shorter = work / "shorter.csv"
    shorter.write_text("".join(sequence.read_text(encoding="utf-8").splitlines(True)[:4]),
                       encoding="utf-8")
    other = batch(shorter, "--out", out, "--resume")
    assert other.exit_code == 2 and "holds the batch of another sequence" in other.output
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before

    # --resume: the same sequence continues, every run reused from the cache
    resumed = batch(sequence, "--out", out, "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "0 processed, 5 reused from the cache" in resumed.output

    # --replace: the old folder moved aside, intact; the new one holds only the new batch
    old_results = (out / "results.json").read_bytes()
    replaced = batch(shorter, "--out", out, "--replace")
    assert replaced.exit_code == 0, replaced.output
    (aside,) = [p for p in work.iterdir() if p.name.startswith("out.replaced-")]
    assert (aside / "results.json").read_bytes() == old_results
    assert len(list((aside / "runs").glob("*.json"))) == 5
    assert sorted(p.name for p in (out / "runs").glob("*.json")) == [
        "001-L1.json", "002-B1.json", "003-S1.json"]
    assert "moved aside to" in replaced.output
    assert batch(sequence, "--out", out, "--resume", "--replace").exit_code == 2


def test_a_folder_holding_other_files_is_refused(work, tmp_path):
    out = tmp_path / "elsewhere"
    out.mkdir()
    (out / "notes.txt").write_text("lab notes")
    result = batch(work / "sequence.csv", "--out", out)
    assert result.exit_code == 2
    assert "not empty (1 entry: notes.txt) and holds no batch" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    with pytest.raises(OutFolderError, match="not empty"):
        run_batch(work / "sequence.csv", out_dir=out,
                  library=demo_library_path(), workers=1, out_mode="new")


def test_an_interrupted_batch_says_how_to_continue(work):
    sequence = work / "sequence.csv"

    class PowerCut:
        name, stage = "power-cut", "after-judgement"

        def __call__(self, context):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_batch(sequence, out_dir=work / "out",
                  library=demo_library_path(), workers=1, steps=[PowerCut()])
    marker = json.loads((work / "out" / MARKER).read_text(encoding="utf-8"))
    assert marker["status"] == "running"
    assert not (work / "out" / "results.json").exists()
    again = batch(sequence, "--out", work / "out")
    assert again.exit_code == 2
    assert "holds an interrupted batch of this sequence" in again.output
    assert "add --resume to continue it" in again.output
    resumed = batch(sequence, "--out", work / "out", "--resume")
    assert resumed.exit_code == 0, resumed.output
    assert "0 processed, 5 reused from the cache" in resumed.output
    assert json.loads((work / "out" / MARKER).read_text())["status"] == "complete"


def test_the_readme_first_command_in_a_fresh_folder(tmp_path, monkeypatch):
    from gcms.demo import demo_sequence_path

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["batch", str(demo_sequence_path()), "--out",
                                      "demo-results", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "demo-results" / "results.json").is_file()
    assert "11 runs: 11 processed" in result.output



def test_a_batch_has_no_default_library(tmp_path):
    # a casework batch never falls back to the demo library: the library is named
    import shutil

    from gcms.demo import demo_folder, demo_sequence_path, is_demo_file
    from gcms.errors import LibraryError

    with pytest.raises(LibraryError, match="no library given"):
        run_batch(demo_sequence_path(), library=None, workers=1)
    with pytest.raises(TypeError, match="library"):
        run_batch(demo_sequence_path(), workers=1)  # a required argument
    # the demo's own data (by name and bytes, wherever the copy is) gets the demo library
    copy = shutil.copyfile(demo_sequence_path(), tmp_path / "sequence.csv")
    assert is_demo_file(copy) and is_demo_file(demo_folder() / "05-exhibit-E1.cdf")
    copy.write_text(copy.read_text() + "\n", encoding="utf-8")
    assert not is_demo_file(copy) and not is_demo_file(tmp_path / "absent.csv")
    # anything else needs --library: exit 2, said in one line, nothing processed
    sequence = tmp_path / "cases.csv"
    sequence.write_text("file,type,sample_id,case_id,exhibit_id,reference_substance\n"
                        f"{demo_folder() / '05-exhibit-E1.cdf'},sample,E1,C-1,E1,\n",
                        encoding="utf-8")
    refused = CliRunner().invoke(cli, ["batch", str(sequence), "--out", str(tmp_path / "o"),
                                       "--workers", "1"])
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        "gcms: error: no --library given: name the compiled library to search (only the "
        "bundled demo data is searched in the demo library without one)"]
    assert not (tmp_path / "o").exists()

def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "results.json"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not text or bytes: fails inside the temporary file
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["results.json"]
