"""The pass-1 cache is authenticated: an edited entry is recomputed, never reported.

The red-team case of issue 20: editing ``out/cache/pass1/<key>.json`` (Methamphetamine ->
Phentermine) and re-running gave "Phentermine", "reused from the cache", exit 0.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from batch_sim import library, standard_sequence
from click.testing import CliRunner

from gcms.batch import BatchSettings, cache_key, input_digest, run_batch
from gcms.batch.cache import FAILED_CHECK, KEY_FILE, load_cached
from gcms.demo import demo_library_path

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes and owners")


def entry_path(out: Path, run: Path) -> Path:
    key = cache_key(input_digest(run), BatchSettings().pass1_fingerprint(),
                    library().content_sha256)
    return out / "cache" / "pass1" / f"{key}.json"


def batch_cli(sequence: Path, out: Path):
    """``gcms batch`` into ``out``, continuing the batch already there."""
    from gcms_cli.identify import batch

    again = ["--resume"] if (out / "results.json").exists() else []
    return CliRunner().invoke(batch, [str(sequence), "--out", str(out), "--workers", "1",
                                      "--library", str(demo_library_path()), *again])


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    """A standard sequence processed once, its cache filled."""
    folder = tmp_path_factory.mktemp("cache")
    sequence = standard_sequence(folder)
    out = folder / "out"
    first = batch_cli(sequence, out)
    assert first.exit_code == 0, first.output
    return folder, sequence, out


@pytest.fixture()
def fresh(processed, tmp_path):
    """A private copy of the processed sequence's output folder (modes kept)."""
    folder, sequence, out = processed
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return folder, sequence, copy


def findings(out: Path, sample_id: str) -> list[str]:
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    record = next(r for r in document["runs"] if r["sample_id"] == sample_id)
    return [f["substance"] for f in record["findings"]["identified"]]


def without_processing(document: dict) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "processing"} for r in document["runs"]]


def test_poisoned_entry_is_recomputed_and_never_reaches_the_results(fresh):
    folder, sequence, out = fresh
    before = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert findings(out, "X1") == ["Methamphetamine"]
    poisoned = entry_path(out, folder / "exhibit.cdf")
    text = poisoned.read_text(encoding="utf-8")
    assert text.count('"name": "Methamphetamine"') >= 1
    poisoned.write_text(text.replace("Methamphetamine", "Phentermine"), encoding="utf-8")

    again = batch_cli(sequence, out)
    assert again.exit_code == 0, again.output
    assert "1 processed, 4 reused from the cache" in again.output
    assert FAILED_CHECK in again.output and "exhibit.cdf" in again.output
    # Phentermine is a lookalike the criteria name beside methamphetamine; the poisoned
    # entry would have made it the exhibit's finding and every component's best hit.
    exhibit_line = next(line for line in again.output.splitlines()
                        if line.startswith("5 ") and "X1" in line)
    assert "Methamphetamine" in exhibit_line and "Phentermine" not in exhibit_line
    results = (out / "results.json").read_text(encoding="utf-8")
    document = json.loads(results)
    assert findings(out, "X1") == ["Methamphetamine"]
    assert without_processing(document) == without_processing(before)
    exhibit = next(r for r in document["runs"] if r["sample_id"] == "X1")
    assert all(c["substance"] != "Phentermine" for c in exhibit["components"])
    summary = (out / "summary.csv").read_text(encoding="utf-8")
    assert "Phentermine" not in summary and "Methamphetamine" in summary
    assert exhibit["processing"]["cached"] is False
    assert exhibit["processing"]["cache_check"].startswith(FAILED_CHECK)
    assert "HMAC does not match" in exhibit["processing"]["cache_check"]
    assert any(FAILED_CHECK in note for note in document["sequence_notes"])
    others = [r for r in document["runs"] if r["sample_id"] != "X1"]
    assert all(r["processing"]["cached"] and r["processing"]["cache_check"] is None
               for r in others)
    # The recomputed entry replaced the poisoned one: a third run trusts all five.
    third = batch_cli(sequence, out)
    assert "0 processed, 5 reused from the cache" in third.output
    assert FAILED_CHECK not in third.output


def test_an_edit_that_keeps_the_json_valid_but_changes_a_number_is_caught(fresh):
    folder, sequence, out = fresh
    path = entry_path(out, folder / "exhibit.cdf")
    entry = json.loads(path.read_text(encoding="utf-8"))
    entry["hits"][0][0]["match_factor"] = 999.0
    path.write_text(json.dumps(entry), encoding="utf-8")
    lookup = load_cached(path.parent, path.stem, input_sha256=entry["input_sha256"],
                         library_sha256=entry["library_sha256"],
                         settings_fingerprint=BatchSettings().pass1_fingerprint())
    assert lookup.analysis is None and "HMAC does not match" in lookup.problem


def test_an_entry_moved_under_another_runs_key_is_refused(fresh):
    # Signed, unedited, but written for the exhibit: placed where the blank's entry is
    # looked up, its key inputs disagree (the HMAC covers them).
    folder, sequence, out = fresh
    exhibit, blank = entry_path(out, folder / "exhibit.cdf"), entry_path(out, folder / "blank2.cdf")
    shutil.copyfile(exhibit, blank)
    result = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert (result.processed, result.cached) == (1, 4)
    record = next(r for r in result.records if r["sample_id"] == "B2")
    assert "written for other inputs" in record["processing"]["cache_check"]
    assert "input_sha256" in record["processing"]["cache_check"]
    assert record["findings"]["identified"] == []


def test_a_plain_unsigned_record_is_not_trusted(fresh):
    folder, sequence, out = fresh
    path = entry_path(out, folder / "exhibit.cdf")
    entry = json.loads(path.read_text(encoding="utf-8"))
    del entry["cache_entry"]
    path.write_text(json.dumps(entry), encoding="utf-8")
    result = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert result.processed == 1
    assert "carries no authentication" in result.records[4]["processing"]["cache_check"]


@posix_only
def test_the_secret_is_created_owner_only(processed):
    _, _, out = processed
    key = out / "cache" / "pass1" / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32


@posix_only
def test_a_secret_others_can_read_is_not_trusted_and_is_replaced(fresh):
    folder, sequence, out = fresh
    key = out / "cache" / "pass1" / KEY_FILE
    old = key.read_bytes()
    key.chmod(0o644)
    result = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert (result.processed, result.cached) == (5, 0)
    assert all("open to other users" in r["processing"]["cache_check"]
               and "0644" in r["processing"]["cache_check"] for r in result.records)
    notes = [n for n in result.document["sequence_notes"] if FAILED_CHECK in n]
    assert len(notes) == 1 and "open to other users" in notes[0]  # once, not per run
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes() != old
    assert run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1).cached == 5


@posix_only
def test_a_secret_behind_a_symbolic_link_is_not_followed(fresh, tmp_path):
    folder, sequence, out = fresh
    key = out / "cache" / "pass1" / KEY_FILE
    planted = tmp_path / "planted.key"
    planted.write_bytes(key.read_bytes())
    planted.chmod(0o600)
    key.unlink()
    key.symlink_to(planted)
    result = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert result.processed == 5
    assert "cannot be opened" in result.records[0]["processing"]["cache_check"]
    assert not key.is_symlink() and planted.read_bytes() != key.read_bytes()


def test_a_missing_secret_means_every_entry_is_recomputed(fresh):
    folder, sequence, out = fresh
    (out / "cache" / "pass1" / KEY_FILE).unlink()
    result = run_batch(sequence, out_dir=out, library=demo_library_path(), workers=1)
    assert result.processed == 5
    assert "no key" in result.records[0]["processing"]["cache_check"]
