"""Decisions that leave a trail: verdicts, re-integration, review outcomes, on real stores."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from gcms.custody.decisions import (
    decide_verdict,
    decision_lines,
    decisions_for,
    reintegrate,
    review_outcome,
)
from gcms.custody.keys import load_signing_key
from gcms.errors import CustodyError, TamperError

from ._review_case import build_review_case
from .conftest import PASSPHRASE


@pytest.fixture
def case(sqlite_location, tmp_path, analyst_keys):
    return build_review_case(sqlite_location, tmp_path, analyst_keys)


@pytest.fixture
def both(location, tmp_path, analyst_keys):
    return build_review_case(location, tmp_path, analyst_keys)


def _component(result, number):
    return next(c for c in result.data["components"] if c["component"] == number)


def test_override_is_a_new_signed_version_with_the_original_kept(both):
    with both.store("bob") as store:
        decision = decide_verdict(store, "C1", "RS1", 1, action="override",
                                  new_verdict="inconclusive",
                                  reason="RI 25 units off the library value",
                                  key=both.keys["bob"])
        assert (decision.by, decision.role, decision.result_version) == ("bob", "reviewer", 2)
        assert (decision.before, decision.after) == ({"verdict": "identified"},
                                                     {"verdict": "inconclusive"})
        current = store.results("C1", "E1")[0]
        assert current.version == 2 and _component(current, 1)["verdict"] == "inconclusive"
        assert "verdict changed by reviewer Bob Person" in _component(current, 1)["notes"][0]
        assert [f["component"] for f in current.data["findings"]["inconclusive"]] == [2, 1]
        assert not current.data["findings"]["identified"]
        entry = next(e for e in store.log(case_id="C1") if e.action == "result.decide")
        assert entry.before["version"] == 1  # the original, kept as the before-image
        assert entry.before["data"]["components"][0]["verdict"] == "identified"
        assert entry.reason == "RI 25 units off the library value"
        assert entry.proof["key_fingerprint"] == both.keys["bob"].fingerprint
        # the signature alice made stays on version 1
        assert {(s.signer, s.result_version) for s in store.signatures("C1", "RS1")} == {
            ("alice", 1)}
        report = store.verify()
        assert report.ok, report.findings[:3]
        listed = decisions_for(store, "C1", "E1")
        assert [(d.kind, d.action, d.by, d.reason, d.seq) for d in listed] == [
            ("verdict", "override", "bob", "RI 25 units off the library value", entry.seq)]
        assert listed[0].at == entry.at
        assert decision_lines(listed) == [
            "etizolam (component 1): verdict changed by reviewer Bob Person (bob) from "
            "identified to inconclusive: RI 25 units off the library value"]


def test_accept_and_reject(case):
    with case.store("carol") as store:
        accepted = decide_verdict(store, "C1", "RS2", 1, action="accept",
                                  reason="spectrum and RI agree", key=case.keys["carol"])
        assert not accepted.changed and decision_lines([accepted]) == []
        rejected = decide_verdict(store, "C1", "RS2", "caffeine", action="reject",
                                  reason="co-elutes with a matrix peak",
                                  key=case.keys["carol"])
        assert rejected.after == {"verdict": "not identified"} and rejected.component == 2
        result = store.results("C1", "E2")[0]
        assert result.version == 3 and len(result.data["decisions"]) == 2
        assert not result.data["findings"]["inconclusive"]
        with pytest.raises(CustodyError, match="nothing to reject"):
            decide_verdict(store, "C1", "RS2", 2, action="reject", reason="again",
                           key=case.keys["carol"])
        assert store.verify().ok


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_decision_needs_a_reason(case, reason):
    with case.store("bob") as store, pytest.raises(CustodyError, match="needs a reason"):
        decide_verdict(store, "C1", "RS1", 1, action="accept", reason=reason,
                       key=case.keys["bob"])


def test_impersonations_are_refused(case, tmp_path, analyst_keys):
    keys = case.keys
    # a user without the reviewer role who did not author the result
    with case.store("erin") as store, pytest.raises(CustodyError, match="may not"):
        decide_verdict(store, "C1", "RS1", 1, action="reject", reason="x", key=keys["erin"])
    # someone else's key
    with case.store("bob") as store, pytest.raises(CustodyError, match="registered to carol"):
        decide_verdict(store, "C1", "RS1", 1, action="reject", reason="x", key=keys["carol"])
    # a wrong passphrase never yields a key
    with pytest.raises(CustodyError, match="wrong passphrase"):
        load_signing_key(analyst_keys["bob"][0], PASSPHRASE + "!")
    # a name that is not enrolled
    with case.store("mallory") as store, pytest.raises(CustodyError, match="not an enrolled"):
        decide_verdict(store, "C1", "RS1", 1, action="reject", reason="x", key=keys["bob"])
    # a disabled user
    with case.store("alice") as store:
        store.disable_user("carol", reason="left the lab", key=keys["alice"])
    with case.store("carol") as store, pytest.raises(CustodyError, match="disabled"):
        decide_verdict(store, "C1", "RS1", 1, action="reject", reason="x", key=keys["carol"])
    # no key at all
    with case.store("bob") as store, pytest.raises(CustodyError, match="private key"):
        decide_verdict(store, "C1", "RS1", 1, action="reject", reason="x", key=None)
    # an author approving their own work (dave recorded RS3 and holds the reviewer role)
    with case.store("dave") as store, pytest.raises(CustodyError, match="author"):
        review_outcome(store, "C1", "E3", outcome="approved", comments="fine",
                       key=keys["dave"])
    # an analyst without the reviewer role reviewing
    with case.store("alice") as store, pytest.raises(CustodyError, match="reviewer"):
        review_outcome(store, "C1", "E2", outcome="approved", key=keys["alice"])
    with case.store("bob") as store:
        assert [r.version for r in store.results("C1")] == [1, 1, 1]  # nothing written
        assert store.reviews("C1") == []
        assert store.verify().ok


def test_stale_decision_is_refused(case):
    with case.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 1, action="accept", reason="ok",
                       key=case.keys["bob"], expected_version=1)
        with pytest.raises(CustodyError, match="changed it meanwhile"):
            decide_verdict(store, "C1", "RS1", 1, action="reject", reason="no",
                           key=case.keys["bob"], expected_version=1)


def test_verify_finds_a_tampered_decision(both, raw):
    with both.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 1, action="override", new_verdict="inconclusive",
                       reason="RI off", key=both.keys["bob"])
        seq = next(e.seq for e in store.log() if e.action == "result.decide")
    db = raw(both.location)
    content = json.loads(db.query("SELECT content FROM audit_log WHERE seq = ?", (seq,))[0][0])
    content["reason"] = "the analyst asked for it"
    content["after"]["data"]["decisions"][0]["reason"] = "the analyst asked for it"
    db.drop_guards("audit_log")
    db.execute(("UPDATE audit_log SET content = ? WHERE seq = ?",
                (json.dumps(content, sort_keys=True, separators=(",", ":")), seq)))
    with both.store("bob") as store:
        report = store.verify()
    assert not report.ok
    assert any(f"#{seq}" in str(f) for f in report.findings), report.findings[:3]


def test_reintegration_recomputes_the_area_from_the_stored_run(case):
    with case.store("bob") as store:
        before = _component(store.results("C1", "E2")[0], 1)["area"]
        decision = reintegrate(store, "C1", "RS2", 1, start_s=590.0, end_s=640.0,
                               reason="tail cut by the automatic limit", key=case.keys["bob"])
        result = store.results("C1", "E2")[0]
        part = _component(result, 1)
        assert decision.before["area"] == before and part["area"] == decision.after["area"]
        assert part["area"] > 0 and part["area"] != before
        assert part["integration"]["start_rule"] == "manual"
        assert 590.0 <= part["integration"]["start_s"] < part["integration"]["end_s"] <= 640.0
        dropped = reintegrate(store, "C1", "RS2", "etizolam", start_s=590.0, end_s=640.0,
                              baseline="drop", reason="level baseline", key=case.keys["bob"])
        row = store.results("C1", "E2")[0].data["quantitation"][0]
        assert row["integration"]["baseline"] == "drop" and row["reportable"] is False
        assert "reintegrated" in row["flags"] and dropped.analyte == "etizolam"
        assert store.verify().ok
        # a re-integration makes its maker an author: bob can no longer approve E2
        with pytest.raises(CustodyError, match="author"):
            review_outcome(store, "C1", "E2", outcome="approved", key=case.keys["bob"])


def test_reintegration_refuses_an_unreachable_or_altered_run(case, tmp_path):
    path = case.runs["E1"]
    moved = tmp_path / "moved.cdf"
    shutil.move(path, moved)
    with case.store("bob") as store:
        with pytest.raises(CustodyError, match="not reachable"):
            reintegrate(store, "C1", "RS1", 1, start_s=590.0, end_s=640.0, reason="x",
                        key=case.keys["bob"])
        shutil.copyfile(moved, path)
        with open(path, "r+b") as handle:
            handle.seek(os.path.getsize(path) // 2)
            handle.write(b"\x00\x01\x02")
        with pytest.raises(TamperError, match="not re-integrated"):
            reintegrate(store, "C1", "RS1", 1, start_s=590.0, end_s=640.0, reason="x",
                        key=case.keys["bob"])
        with pytest.raises(CustodyError, match="outside the run"):
            shutil.copyfile(moved, path)
            reintegrate(store, "C1", "RS1", 1, start_s=590.0, end_s=99999.0, reason="x",
                        key=case.keys["bob"])
        assert store.results("C1", "E1")[0].version == 1


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """The demo batch recorded into a store (case DEMO-1, analyst jdoe), copied per test."""
    from gcms.batch import run_batch
    from gcms.custody.batch import RecordInStore
    from gcms.demo import demo_library_path, demo_sequence_path

    folder = tmp_path_factory.mktemp("demo")
    done = run_batch(demo_sequence_path(), out_dir=folder / "out", library=demo_library_path(),
                     workers=1, steps=[RecordInStore(str(folder / "store"), "DEMO-1", "jdoe")])
    assert done.exit_code == 0 and not done.step_failures
    return folder / "store"


def test_the_report_shows_a_changed_verdict_and_its_reviewer(demo_store, tmp_path):
    """A reviewer overrides a verdict of the demo batch, then approves the exhibit: the
    report's finding carries the sentence, its conclusion the new verdict; the policy's
    'reviewed' is met by the reviewer, 'authored' waits for the analyst's new signature."""
    from gcms.custody import CaseStore
    from gcms.custody.reports import unmet_requirements
    from gcms.report.adapters import from_store

    from .conftest import memory_key

    location = tmp_path / "store"
    shutil.copytree(demo_store, location)
    analyst, reviewer = memory_key(), memory_key()
    with CaseStore(location, actor="jdoe", create=False) as store:
        store.register_key(analyst, user="jdoe", printed_name="J. Doe")
        store.add_user("rev", roles=["reviewer"], printed_name="R. Viewer", key=analyst)
        store.register_key(reviewer.public_raw, user="rev", key=analyst)
        [result] = store.results("DEMO-1", "E1")
        store.sign_result("DEMO-1", result.result_id, analyst, meaning="authored")
        caffeine = next(c for c in result.data["components"]
                        if c["substance"] == "Caffeine" and c["verdict"] == "identified")
    with CaseStore(location, actor="rev", create=False) as store:
        decide_verdict(store, "DEMO-1", result.result_id, caffeine["component"],
                       action="override", new_verdict="inconclusive",
                       reason="retention index outside the window", key=reviewer)
        [approved] = review_outcome(store, "DEMO-1", "E1", outcome="approved",
                                    comments="spectra checked", key=reviewer)
        assert approved.result_version == 2
        assert {(s.signer, s.meaning, s.result_version)
                for s in store.signatures("DEMO-1", result.result_id)} == {
            ("jdoe", "authored", 1), ("rev", "reviewed", 2)}
        assert unmet_requirements(store, "DEMO-1", "E1", None,
                                  ["authored", "reviewed"]) == ["authored"]
        model = from_store(store, "E1", draw_chromatograms=False)
        assert store.verify(rehash=False).ok
        kinds = [(d.kind, d.action) for d in decisions_for(store, "DEMO-1", "E1")]
        assert kinds == [("verdict", "override"), ("review", "approved")]
    [finding] = [f for f in model.findings if f.substance == "Caffeine"
                 and f.verdict == "inconclusive"]
    assert finding.notes == ("verdict changed by reviewer R. Viewer from identified to "
                             "inconclusive: retention index outside the window",)
    assert f"Caffeine (component {caffeine['component']}): verdict changed by reviewer " \
           "R. Viewer (rev) from identified to inconclusive: retention index outside the " \
           "window" in model.deviations
    assert "Caffeine" in model.conclusion.inconclusive
    assert "Caffeine" not in model.conclusion.identified
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed: the PDF's text not checked")
    import subprocess

    from click.testing import CliRunner
    from gcms_cli.main import cli

    pdf = tmp_path / "E1.pdf"
    made = CliRunner().invoke(cli, ["report", "--store", str(location), "--exhibit", "E1",
                                    "--language", "en", "-o", str(pdf)],
                              env={"GCMS_ACTOR": "rev"})
    assert made.exit_code == 0, made.output
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "verdict changed by reviewer R. Viewer (rev) from identified to inconclusive" in (
        " ".join(text.split()))


def test_a_decision_slipped_in_by_a_correction_is_a_finding(case):
    """Only a decision entry adds to ``data.decisions``: a correction that does is named."""
    with case.store("alice") as store:
        data = dict(store.results("C1", "E1")[0].data)
        data["decisions"] = [{"decision": 1, "kind": "verdict", "action": "accept",
                              "by": "bob", "reason": "looks fine", "result_version": 2}]
        store.correct_result("C1", "RS1", data, reason="tidy", key=case.keys["alice"])
        report = store.verify()
    assert not report.ok
    assert "only a decision entry adds" in str(report.first)


def test_approving_twice_is_refused_before_anything_is_written(case):
    with case.store("carol") as store:
        review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"])
        head = store.head()
        with pytest.raises(CustodyError, match="already approved by carol"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"])
        assert store.head() == head
        with pytest.raises(CustodyError, match="needs a reason"):
            review_outcome(store, "C1", "E1", outcome="returned", key=case.keys["carol"])
        with pytest.raises(CustodyError, match="not one of"):
            review_outcome(store, "C1", "E1", outcome="agreed", key=case.keys["carol"])
        returned = review_outcome(store, "C1", "E1", outcome="returned",
                                  comments="second look: blank missing",
                                  key=case.keys["carol"])
        assert [(d.action, d.reason) for d in returned] == [
            ("returned", "second look: blank missing")]
