"""Results and reports name the governed version of the library a batch searched."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from custody.conftest import memory_key
from gcms_cli.main import cli

from gcms.custody import CaseStore
from gcms.demo import demo_folder, demo_library_path
from gcms.library import Library
from gcms.library.governance import correct_entry, retire_entry
from gcms.report.adapters import from_results, from_store, governed_text
from gcms.report.jsonout import report_json

ROWS = (("01-ladder.cdf", "ladder", "LAD-01", ""), ("10-blank.cdf", "blank", "BLK-05", ""),
        ("11-exhibit-E4.cdf", "sample", "E4-01", "E4"))


def test_governed_text():
    assert governed_text({"library_id": "lab", "version": 3, "title": "in-house drugs",
                          "approved_by": ["bob"], "current_version": 3}) == \
        "v3 of in-house drugs, approved by bob"
    assert governed_text({"library_id": "lab", "version": 1, "title": None,
                          "approved_by": [], "current_version": 2}) == \
        "v1 of lab, not approved; v2 is current"
    assert governed_text({"library_id": "lab", "version": 0, "title": "x",
                          "approved_by": [], "current_version": 1}) == \
        "x before its first governed change; v1 is current"


@pytest.fixture
def governed(tmp_path):
    """The demo library corrected (v1, by alice, approved by bob) and a short sequence."""
    keys = {"alice": memory_key(), "bob": memory_key()}
    location = tmp_path / "store"
    demo = Library.open(demo_library_path())
    corrected, change = correct_entry(demo, 0, cas="0-00-0")
    path = corrected.write(tmp_path / "lab.h5")
    with CaseStore(location, actor="alice") as store:
        store.register_key(keys["alice"], user="alice", printed_name="Alice")
        store.add_user("bob", roles=["reviewer"], printed_name="Bob", key=keys["alice"])
        store.register_key(keys["bob"], user="bob", key=keys["alice"])
        store.record_library_change("lab", "correct", previous_identity=demo.identity_sha256,
                                    identity=corrected.identity_sha256, details=change,
                                    reason="CAS corrected", key=keys["alice"],
                                    title="demo drugs")
    with CaseStore(location, actor="bob", create=False) as store:
        store.approve_library_change("lab", 1, key=keys["bob"])
    lines = ["file,type,sample_id,case_id,exhibit_id,reference_substance"]
    lines += [f"{demo_folder() / file},{kind},{sample},C-1,{exhibit},"
              for file, kind, sample, exhibit in ROWS]
    (tmp_path / "sequence.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return location, keys, path, tmp_path


def test_results_and_reports_name_the_version_used(governed):
    location, keys, path, folder = governed
    result = CliRunner().invoke(cli, [
        "batch", str(folder / "sequence.csv"), "--library", str(path), "--out",
        str(folder / "out"), "--store", str(location), "--case", "C-1", "--analyst", "alice",
        "--quiet", "--workers", "1"])
    assert result.exit_code == 0, result.output
    document = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
    assert document["library_version"] == {
        "library_id": "lab", "version": 1, "title": "demo drugs",
        "identity_sha256": Library.open(path).identity_sha256, "approved_by": ["bob"],
        "current_version": 1}
    model = from_results(folder / "out" / "results.json", "E4", draw_chromatograms=False)
    assert model.library_name.endswith("(v1 of demo drugs, approved by bob)")
    assert model.library_sha256 == document["library"]["content_sha256"]  # beside its hash
    assert "(v1 of demo drugs, approved by bob)" in json.dumps(report_json(model),
                                                             ensure_ascii=False)
    # a later correction: the result made before it still names v1, and says v2 is current
    corrected = Library.open(path)
    retired, change = retire_entry(corrected, 1, reason="contaminated", by="alice")
    with CaseStore(location, actor="alice", create=False) as store:
        store.record_library_change("lab", "retire", previous_identity=corrected.identity_sha256,
                                    identity=retired.identity_sha256, details=change,
                                    reason="contaminated", key=keys["alice"])
        later = from_store(store, "E4", case_id="C-1", draw_chromatograms=False)
    assert later.library_name.endswith(
        "(v1 of demo drugs, approved by bob; v2 is current)")
