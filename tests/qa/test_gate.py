"""The batch QA gate: tune current/stale/failing/missing under both policies, and the demo
batch end to end (a passing tune lets it report, a failing one blocks it)."""

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner

from gcms.batch import run_batch
from gcms.demo import (
    DEMO_SEED,
    DEMO_START,
    DEMO_TUNES,
    demo_folder,
    demo_library_path,
    demo_sequence_path,
    make_tune,
)
from gcms.io import read
from gcms.qa import (
    QAResult,
    assess_batch_qa,
    evaluate_tune,
    load_profile,
    open_history,
    parse_profile,
    qa_batch_steps,
)
from gcms.qa.simulate import pftba_spectrum

FIRST_INJECTION = datetime(2024, 5, 14, 9, 0, tzinfo=timezone.utc)
BASE = """schema = "gcms-instrument-profile/1"
[identity]
id = "GCMS-G"
[tune]
criteria = "agilent-pftba-autotune"
max_age_days = 1
[qa]
block_reporting = {block}
"""
LEAK = {18: 3.0, 28: 18.0, 32: 4.8, 44: 0.6}


def profile(block=True, extra=""):
    return parse_profile(BASE.format(block=str(block).lower()) + extra, source="gate.toml")


def record_tune(store, prof, hours_before, *, leak=False):
    spectrum = pftba_spectrum(air_water=LEAK if leak else None)
    result = evaluate_tune(spectrum, profile=prof,
                           performed_at=FIRST_INJECTION - timedelta(hours=hours_before))
    assert result.passed is (not leak)
    store.record(result)
    return result


def assess(store, prof, policy=None, **options):
    return assess_batch_qa(prof, history=store, reference_time=FIRST_INJECTION, policy=policy,
                           **options)


@pytest.mark.parametrize("policy", ["record", "block"])
def test_a_current_passing_tune_passes_under_both_policies(tmp_path, policy):
    prof = profile()
    with open_history(tmp_path) as store:
        record_tune(store, prof, 2.0)
        qa = assess(store, prof, policy)
    assert qa.status == "passing" and qa.current and qa.passing and not qa.blocks
    (tune,) = qa.checks
    assert tune.kind == "tune" and tune.source == "history"
    assert tune.results[0]["age_hours"] == pytest.approx(2.0)
    document = qa.to_dict()
    assert document["reportable"] and document["policy"] == policy
    assert document["summary"][0].startswith("tune: passing")


@pytest.mark.parametrize("policy, blocks", [("record", False), ("block", True)])
def test_a_stale_tune(tmp_path, policy, blocks):
    prof = profile()
    with open_history(tmp_path) as store:
        record_tune(store, prof, 30.0)          # the profile allows 24 h
        qa = assess(store, prof, policy)
    assert qa.status == "stale" and not qa.current and not qa.passing
    assert qa.blocks is blocks
    assert "30.0 h before" in qa.reason and "allows 24 h" in qa.reason


@pytest.mark.parametrize("policy, blocks", [("record", False), ("block", True)])
def test_a_failing_tune(tmp_path, policy, blocks):
    prof = profile()
    with open_history(tmp_path) as store:
        record_tune(store, prof, 3.0)
        record_tune(store, prof, 1.0, leak=True)      # the later one counts
        qa = assess(store, prof, policy)
    assert qa.status == "failing" and qa.current and qa.blocks is blocks
    assert "air_28_69" in qa.reason and qa.checks[0].results[0]["failed"] == [
        "air_28_69", "air_leak_28_32"]


@pytest.mark.parametrize("policy, blocks", [("record", False), ("block", True)])
def test_a_missing_tune(tmp_path, policy, blocks):
    prof = profile()
    with open_history(tmp_path) as store:
        record_tune(store, prof, -1.0)     # tuned after the first injection: does not cover it
        other = parse_profile(BASE.format(block="true").replace("GCMS-G", "GCMS-H"),
                              source="other.toml")
        record_tune(store, other, 2.0)     # another instrument's tune does not count either
        qa = assess(store, prof, policy)
    assert qa.status == "missing" and qa.blocks is blocks
    assert "no tune of GCMS-G" in qa.reason


def test_a_newer_passing_tune_supersedes_a_failing_one(tmp_path):
    prof = profile()
    with open_history(tmp_path) as store:
        record_tune(store, prof, 5.0, leak=True)
        record_tune(store, prof, 1.0)
        assert assess(store, prof).status == "passing"


def test_default_policy_comes_from_the_profile(tmp_path):
    with open_history(tmp_path) as store:
        assert assess(store, profile(block=True)).policy == "block"
        assert assess(store, profile(block=False)).policy == "record"
        with pytest.raises(ValueError, match="policy"):
            assess(store, profile(), "warn")


def _ladder_result(prof, passed):
    from gcms.qa.records import Criterion, Limit

    criterion = Criterion(key="members_found", name="members", value=18.0 if passed else 3.0,
                          unit="", limit=Limit(low=15), passed=passed)
    return QAResult(kind="ladder", instrument_id=prof.id, criteria_set="ladder",
                    criteria=(criterion,), performed_at=FIRST_INJECTION,
                    source={"path": "/runs/01-ladder.cdf", "sha256": "0" * 64})


def test_ladder_and_check_standard_of_the_sequence_and_of_the_history(tmp_path):
    ladder = '[ladder]\nfirst_carbon = 9\nlast_carbon = 26\nmax_age_hours = 24\n'
    check = ('[check_standard]\n[[check_standard.compounds]]\nname = "Cocaine"\n'
             'expected_rt_s = 481.0\n')
    prof = profile(extra=ladder + check)
    with open_history(tmp_path) as store:
        record_tune(store, prof, 2.0)
        # the sequence's own ladder decides; a check standard is not required (no max age)
        good = assess(store, prof, sequence_ladders=[("/runs/01-ladder.cdf", 0,
                                                      _ladder_result(prof, True))])
        assert good.status == "passing"
        kinds = {c.kind: c for c in good.checks}
        assert kinds["ladder"].source == "sequence" and kinds["check"].status == "missing"
        assert not kinds["check"].counts and "(not required)" in good.summary()[2]
        bad = assess(store, prof, sequence_ladders=[("/runs/01-ladder.cdf", 0,
                                                     _ladder_result(prof, False))])
        assert bad.status == "failing" and "01-ladder.cdf (#1) failed members_found" in bad.reason
        unreadable = assess(store, prof, sequence_checks=[("/runs/qc.cdf", 4, "cannot read")])
        assert unreadable.status == "failing"
        # no ladder in the sequence: one in the history within 24 h is required
        assert assess(store, prof).status == "missing"
        store.record(_ladder_result(prof, True))
        assert assess(store, prof).status == "passing"


# --------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo_batch(tmp_path_factory):
    """The demo batch's folder with its pass-1 cache filled, and a QA history folder."""
    root = tmp_path_factory.mktemp("qa-gate-demo")
    plain = run_batch(demo_sequence_path(), out_dir=root / "out",
                      library=demo_library_path(), workers=1)
    return root, plain


def _tune(store, prof, name):
    result = evaluate_tune(demo_folder() / name, profile=prof)
    store.record(result)
    return result


def test_demo_batch_without_instrument_is_unchanged(demo_batch):
    _, plain = demo_batch
    assert plain.ok and "qa" not in plain.document and "instrument" not in plain.document
    assert all("reportable" not in r for r in plain.records)


def test_demo_tunes_are_what_the_demo_says():
    prof = load_profile("demo-quadrupole")
    passing, failing = (evaluate_tune(demo_folder() / t.file, profile=prof) for t in DEMO_TUNES)
    assert passing.passed and passing.performed_at < failing.performed_at < DEMO_START
    assert {c.key for c in failing.failures} == {"air_28_69", "air_leak_28_32"}
    for k, tune in enumerate(DEMO_TUNES):
        assert (demo_folder() / tune.file).stat().st_size < 50_000
        # the committed file is what the generator makes (same seed, same scans)
        committed = read(demo_folder() / tune.file)
        again = make_tune(tune, DEMO_SEED * 10 + k)
        assert committed.metadata.acquired_at == again.metadata.acquired_at == tune.acquired_at
        assert np.allclose(committed.intensity, again.intensity, rtol=1e-6)
        assert np.allclose(committed.mz, again.mz)


def test_demo_passing_tune_reports_failing_tune_blocks(demo_batch):
    root, _ = demo_batch
    prof = load_profile("demo-quadrupole")
    history = root / "history"
    with open_history(history) as store:
        _tune(store, prof, "tune-pass.cdf")
    allowed = run_batch(demo_sequence_path(), out_dir=root / "out",
                        library=demo_library_path(), workers=1,
                        steps=qa_batch_steps(prof, history_dir=history))
    assert allowed.exit_code == 0 and allowed.cached == len(allowed.records)
    qa = allowed.document["qa"]
    assert qa["status"] == "passing" and qa["reportable"] and qa["policy"] == "block"
    assert {c["kind"]: c["status"] for c in qa["checks"]} == {
        "tune": "passing", "ladder": "passing", "check": "missing"}
    assert allowed.document["instrument"]["id"] == "GCMS-DEMO"
    exhibits = [r for r in allowed.records if r.get("exhibit_id")]
    assert len(exhibits) == 4 and all(r["reportable"] for r in exhibits)
    assert all("reportable" not in r for r in allowed.records if not r.get("exhibit_id"))

    with open_history(history) as store:
        _tune(store, prof, "tune-fail.cdf")
        assert len(store.results(prof.id, kind="ladder")) == 1     # the ladder, once
    blocked = run_batch(demo_sequence_path(), out_dir=root / "out",
                        library=demo_library_path(), workers=1,
                        steps=qa_batch_steps(prof, history_dir=history))
    assert blocked.exit_code == 1 and not blocked.failed and blocked.step_failures
    document = json.loads((root / "out" / "results.json").read_text(encoding="utf-8"))
    qa = document["qa"]
    assert qa["status"] == "failing" and not qa["reportable"] and qa["blocks_reporting"]
    assert "tune-fail.cdf" in qa["reason"] and "air_28_69" in qa["reason"]
    assert [e["exhibit_id"] for e in qa["blocked_exhibits"]] == ["E1", "E2", "E3", "E4"]
    for record in document["runs"]:
        if record.get("exhibit_id"):
            assert record["reportable"] is False and record["qa"]["status"] == "failing"
            assert any(p.startswith("not reportable: instrument QA failing")
                       for p in record["problems"])
    # the verdicts themselves are untouched: the gate says whether they may be reported
    assert [r["findings"] for r in blocked.records] == [r["findings"] for r in allowed.records]

    recorded = run_batch(demo_sequence_path(), out_dir=root / "out",
                         library=demo_library_path(), workers=1,
                         steps=qa_batch_steps(prof, history_dir=history, policy="record"))
    assert recorded.exit_code == 0
    assert recorded.document["qa"]["status"] == "failing"
    assert all(r["reportable"] for r in recorded.records if r.get("exhibit_id"))

    from gcms.report.adapters import from_results

    model = from_results(root / "out" / "results.json", "E2", draw_chromatograms=False)
    assert model.instrument.qa_status == "fail" and model.instrument.instrument_id == "GCMS-DEMO"
    assert any("tune-fail.cdf" in line for line in model.instrument.qa_summary)


def test_batch_cli_options(demo_batch, monkeypatch):
    root, _ = demo_batch
    from gcms_cli.main import cli

    monkeypatch.setenv("GCMS_DATA_DIR", str(root / "cli-data"))
    runner = CliRunner()
    # the demo batch is already in root/out: these runs continue it (--resume)
    base = ["batch", str(demo_sequence_path()), "--out", str(root / "out"), "--workers", "1",
            "--quiet", "--resume"]
    lonely = runner.invoke(cli, [*base, "--qa-policy", "block"])
    assert lonely.exit_code == 2 and "--qa-policy" in lonely.output
    unknown = runner.invoke(cli, [*base, "--instrument", "no-such-instrument"])
    assert unknown.exit_code == 2 and "no-such-instrument" in unknown.output
    missing = runner.invoke(cli, [*base, "--instrument", "demo-quadrupole"])
    assert missing.exit_code == 1
    assert "instrument QA of GCMS-DEMO is missing" in missing.output
    record = runner.invoke(cli, [*base, "--instrument", "demo-quadrupole", "--qa-policy",
                                 "record"])
    assert record.exit_code == 0 and "missing (policy record)" in record.output
