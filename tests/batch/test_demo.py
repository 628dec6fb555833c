"""The bundled demo sequence, end to end: exactly the substances put in, per exhibit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import strings_in

from gcms.batch import run_batch
from gcms.demo import DEMO_PLAN, demo_folder, demo_library_path, demo_sequence_path, make_demo
from gcms.io import read
from gcms.library import Library

VERDICTS = {"identified", "inconclusive", "not identified"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-results")
    result = run_batch(demo_sequence_path(), out_dir=out, library=demo_library_path(), workers=1)
    return result, out


def test_each_exhibit_gives_exactly_what_was_put_in(demo):
    result, _ = demo
    assert result.ok and result.exit_code == 0
    records = {r["sample_id"]: r for r in result.records}
    for run in DEMO_PLAN:
        record = records[run.sample_id]
        found = sorted(f["substance"] for f in record["findings"]["identified"])
        if run.type in ("sample", "standard"):
            assert found == sorted(name for name, _ in run.compounds), run.sample_id
            assert record["findings"]["inconclusive"] == [], run.sample_id
        elif run.type == "blank":
            assert found == [] and record["blank_status"]["clean"], run.sample_id
    standard = records["STD-01"]
    assert all(r["found"] for r in standard["references"])
    assert len(standard["references"]) == 7


def test_demo_notes_fenetylline_and_lookalikes(demo):
    result, _ = demo
    e1 = next(r for r in result.records if r["exhibit_id"] == "E1")
    kinds = {n["kind"] for n in e1["findings"]["notes"]}
    assert {"ambiguity", "lookalike", "limitation"} <= kinds
    e4 = next(r for r in result.records if r["exhibit_id"] == "E4")
    paracetamol = next(f for f in e4["findings"]["identified"] if f["substance"] == "Paracetamol")
    assert paracetamol["retention_source"] == "index"   # no standard: the ladder's RI decided
    caffeine = next(f for f in e4["findings"]["identified"] if f["substance"] == "Caffeine")
    assert caffeine["retention_source"] == "standard"


def test_retention_numbers_match_the_simulation(demo):
    result, _ = demo
    truth = json.loads((demo_folder() / "truth.json").read_text(encoding="utf-8"))
    by_file = {run["file"]: run for run in truth["runs"]}
    for record in result.records:
        if record["type"] != "sample":
            continue
        planted = {c["name"]: c for c in by_file[record["file_name"]]["compounds"]}
        for finding in record["findings"]["identified"]:
            compound = planted[finding["substance"]]
            assert finding["rt_s"] == pytest.approx(compound["rt_s"], abs=0.5)
            # the RI through the ladder recovers the simulated column's RI
            assert finding["retention_index"] == pytest.approx(compound["column_ri"], abs=2.0)
            if finding["retention_source"] == "index":
                offset = compound["column_ri"] - compound["library_ri"]
                assert finding["delta_ri"] == pytest.approx(offset, abs=2.0)


def _objects(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from _objects(value)


def test_results_layout(demo):
    result, out = demo
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    ids = [run.sample_id for run in DEMO_PLAN]
    assert [r["sample_id"] for r in document["runs"]] == ids
    for record in document["runs"]:
        mentioned = {s for s in strings_in(record) if s in ids}
        assert mentioned == {record["sample_id"]}, record["sample_id"]  # no other run's id
        # the smallest object naming the sample is the record itself
        holders = [o for o in _objects(record) if record["sample_id"] in o.values()]
        assert holders == [record]
        for component in record["components"]:
            assert component["verdict"] in VERDICTS
            assert component["substance"] is None or isinstance(component["substance"], str)
    assert document["library"]["content_sha256"] == Library.open(
        demo_library_path()).content_sha256
    assert document["criteria"]["name"] == "swgdrug-gcms"
    rows = (out / "summary.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + len(DEMO_PLAN)
    assert "Amphetamine; Caffeine; Theophylline" in rows[5]
    assert len(list((out / "runs").glob("*.json"))) == len(DEMO_PLAN)
    assert len(list((out / "runs").glob("*.csv"))) == len(DEMO_PLAN)
    exhibits = {e["exhibit_id"]: e for e in document["exhibits"]}
    for run in DEMO_PLAN:
        if run.exhibit_id:
            entry = exhibits[run.exhibit_id]
            assert sorted(s["substance"] for s in entry["substances"]
                          if s["verdict"] == "identified") == sorted(n for n, _ in run.compounds)
            assert entry["injections"] == [{"file": run.file, "position": DEMO_PLAN.index(run),
                                            "status": "ok"}]
    assert not {s for s in strings_in(document["exhibits"]) if s in ids}
    text = result.summary()
    assert "Methamphetamine" in text and "results.json" in text


def test_bundled_library_is_the_demo_library():
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "spectral_libraries" / "demo_drugs.h5"
    if not source.exists():
        pytest.skip("repository layout not available (installed package)")
    assert Library.open(demo_library_path()).content_sha256 == Library.open(
        source).content_sha256


def test_generator_reproduces_the_committed_runs(tmp_path):
    # Same seeds, same runs. Compared to the count rather than the bit: another numpy or
    # scipy may round an expected count differently and flip one Poisson draw.
    make_demo(tmp_path)
    assert (tmp_path / "sequence.csv").read_text() == demo_sequence_path().read_text()
    planned = json.loads((tmp_path / "truth.json").read_text())["runs"]
    committed_truth = json.loads((demo_folder() / "truth.json").read_text())["runs"]
    for a, b in zip(planned, committed_truth, strict=True):
        assert [c["name"] for c in a["compounds"]] == [c["name"] for c in b["compounds"]]
        for x, y in zip(a["compounds"], b["compounds"], strict=True):
            assert x["rt_s"] == pytest.approx(y["rt_s"], abs=1e-3)
            assert x["amount"] == pytest.approx(y["amount"], rel=1e-6)
    for run in DEMO_PLAN:
        committed, again = read(demo_folder() / run.file), read(tmp_path / run.file)
        assert np.array_equal(committed.scan_times, again.scan_times)
        assert abs(committed.n_peaks - again.n_peaks) <= max(3, 0.002 * committed.n_peaks)
        assert np.allclose(committed.tic, again.tic, rtol=1e-3, atol=2000.0)
        assert (demo_folder() / run.file).stat().st_size < 1_000_000
