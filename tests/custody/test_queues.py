"""Work queues (analyst, reviewer, QA) and the QA dashboard's data, on a real store."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import pytest

from gcms.custody.canonical import sha256_hex
from gcms.custody.decisions import review_outcome
from gcms.custody.queues import qa_dashboard, work_queue
from gcms.errors import CustodyError

from ._review_case import DEMO, build_review_case, record


@pytest.fixture
def case(sqlite_location, tmp_path, analyst_keys):
    return build_review_case(sqlite_location, tmp_path, analyst_keys)


def _ids(items):
    return [(i.exhibit_id, i.state) for i in items]


def test_analyst_and_reviewer_queues(case):
    with case.store("bob") as store:
        alice = work_queue(store, "alice")
        assert _ids(alice.exhibits) == [("E1", "awaiting review"), ("E2", "awaiting review")]
        assert alice.review == () and alice.instruments == ()  # admin: instruments, none yet
        [batch] = alice.batches
        assert (batch.analysis_id, batch.open_exhibits) == ("A1", ("E1", "E2", "E3"))
        assert _ids(work_queue(store, "bob").review) == [
            ("E1", "awaiting review"), ("E2", "awaiting review"), ("E3", "awaiting review")]
        dave = work_queue(store, "dave")
        assert [i.exhibit_id for i in dave.review] == ["E1", "E2"]  # never his own E3
        assert _ids(dave.exhibits) == [("E3", "awaiting review")]

        review_outcome(store, "C1", "E2", outcome="returned",
                       comments="no blank before this run", key=case.keys["bob"])
        alice = work_queue(store, "alice")
        assert _ids(alice.exhibits) == [("E2", "returned"), ("E1", "awaiting review")]
        assert alice.exhibits[0].comments == ("no blank before this run",)
        assert alice.exhibits[0].returned_by == ("bob",)
        assert [i.exhibit_id for i in work_queue(store, "bob").review] == ["E1", "E3"]
    with case.store("carol") as store:
        review_outcome(store, "C1", "E1", outcome="approved", comments="checked",
                       key=case.keys["carol"])
        assert {s.meaning for s in store.signatures("C1", "RS1")} == {"authored", "reviewed"}
        assert [i.exhibit_id for i in work_queue(store, "carol").review] == ["E3"]
    with case.store("alice") as store:
        assert _ids(work_queue(store, "alice").exhibits) == [("E2", "returned")]
        # the analyst answers the return with a corrected result: it waits for review again
        data = {**store.results("C1", "E2")[0].data, "notes": ["blank R9 added"]}
        store.correct_result("C1", "RS2", data, reason="blank added", key=case.keys["alice"])
        [item] = work_queue(store, "alice").exhibits
        assert (item.state, item.comments) == ("awaiting review", ("no blank before this run",))
        assert "E2" in [i.exhibit_id for i in work_queue(store, "bob").review]
        store.disable_user("erin", reason="left", key=case.keys["alice"])
        with pytest.raises(CustodyError, match="disabled"):
            work_queue(store, "erin")


def _qa(kind, when, criteria, ok=True):
    from gcms.qa.records import Criterion, Limit, QAResult

    return QAResult(kind=kind, instrument_id="GCMS-1", criteria_set=kind,
                    criteria=tuple(Criterion(key=k, name=k, value=v, unit=u,
                                             limit=Limit(low=lo, high=hi), passed=ok)
                                   for k, v, u, lo, hi in criteria),
                    performed_at=when, source={"path": f"{kind}-{when:%d%H}.cdf",
                                               "sha256": sha256_hex(str(when))})


def test_qa_queue_and_dashboard(case, tmp_path):
    from gcms.custody.qa import record_qa
    from gcms.qa.gate import _result_summary
    from gcms.qa.history import HISTORY_FILE, open_history

    start = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)
    folder = tmp_path / "qa"
    recoveries = [100.0 + (-1.0) ** i * (i % 3) for i in range(20)] + [112.0]
    with open_history(folder) as history:
        for i, value in enumerate(recoveries):
            history.record(_qa("check", start + timedelta(hours=i),
                               [("recovery_cocaine", value, "%", 80.0, 120.0)]))
        for i in range(3):
            history.record(_qa("ladder", start + timedelta(hours=i),
                               [("rt_shift_c20", 0.5 * i, "s", -3.0, 3.0)]))
        good = _qa("tune", start, [("abundance_69", 50.0, "%", 30.0, 60.0)])
        bad = _qa("tune", start + timedelta(days=1), [("abundance_69", 5.0, "%", 30.0, 60.0)],
                  ok=False)
        good_id, bad_id = history.record(good), history.record(bad)
    qa = {"status": "failing", "reason": "tune failed", "instrument": {"id": "GCMS-1"},
          "history": str(folder / HISTORY_FILE),
          "checks": [{"kind": "tune", "status": "failing", "source": "history",
                      "results": [_result_summary(good, history_id=good_id),
                                  _result_summary(bad, history_id=bad_id)]}]}
    run = tmp_path / "X1.cdf"
    shutil.copyfile(DEMO / "09-exhibit-E3.cdf", run)
    with case.store("alice") as store:
        record_qa(store, {"qa": qa})
        store.open_case("C2")
        store.register_exhibits("C2", {"X1": "herbal"}, reason="from the sequence")
        [attached] = store.record_runs("C2", [{"path": str(run), "exhibit_id": "X1"}])
        analysis = store.record_analysis("C2", run_ids=[attached.run_id],
                                         parameters={"sections": {"qa": qa}})
        store.record_results("C2", [record(run, "X1")], analysis_id=analysis.analysis_id)
        [item] = [i for i in work_queue(store, "alice").exhibits if i.case_id == "C2"]
        assert item.withheld == ("QA failing: tune failed",)
        [instrument] = work_queue(store, "erin").instruments
        assert instrument.instrument_id == "GCMS-1" and instrument.state == "failing"
        assert instrument.last_tune["verdict"] == "fail"
        assert instrument.last_tune["failed"] == ["abundance_69"]
        [failure] = instrument.failures
        assert failure.kind == "tune" and failure.withheld == (("C2", "X1"),)
        assert instrument.westgard == ("recovery_cocaine: 1-3s",)

        board = qa_dashboard(store, "GCMS-1")
        assert [t["verdict"] for t in board["tune"]] == ["pass", "fail"]
        assert board["tune"][1]["withheld"] == [{"case_id": "C2", "exhibit_id": "X1"}]
        assert board["tune_metrics"]["abundance_69"]["values"] == [50.0, 5.0]
        chart = board["check_standard"]["recovery_cocaine"]
        assert len(chart["values"]) == 21 and chart["status"][-1] == "rejection"
        assert chart["rules_at_last"] == ["1-3s"] and len(chart["times"]) == 21
        assert board["ladder_drift"]["rt_shift_c20"]["values"] == [0.0, 0.5, 1.0]
        assert board["history"] == str(folder / HISTORY_FILE)
        with pytest.raises(CustodyError, match="no QA result of instrument"):
            qa_dashboard(store, "GCMS-9")
    # without the history: the chain's results only, and a note saying why
    shutil.rmtree(folder)
    with case.store("erin") as store:
        board = qa_dashboard(store, "GCMS-1")
        assert [t["verdict"] for t in board["tune"]] == ["pass", "fail"]
        assert board["check_standard"] == {} and "not reachable" in board["notes"][0]
