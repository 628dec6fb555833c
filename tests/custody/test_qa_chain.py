"""The demo batch end to end: its instrument QA recorded in the chain, a deleted failing
tune caught by verify and by the next batch."""

from __future__ import annotations

import sqlite3

import pytest


@pytest.mark.slow
def test_batch_records_its_qa_and_a_deleted_failing_tune_is_a_break(tmp_path):
    from gcms.batch import run_batch
    from gcms.custody import CaseStore
    from gcms.custody.batch import RecordInStore
    from gcms.demo import demo_folder, demo_library_path, demo_sequence_path
    from gcms.qa import evaluate_tune, load_profile, open_history, qa_batch_steps
    from gcms.qa.history import HISTORY_FILE

    prof = load_profile("demo-quadrupole")
    history, store_dir = tmp_path / "history", tmp_path / "store"
    with open_history(history) as qa:
        for name in ("tune-pass.cdf", "tune-fail.cdf"):
            qa.record(evaluate_tune(demo_folder() / name, profile=prof))
    step = RecordInStore(str(store_dir), "DEMO-1", "jdoe")

    def batch():
        return run_batch(demo_sequence_path(), out_dir=tmp_path / "out",
                         library=demo_library_path(), workers=1,
                         steps=[*qa_batch_steps(prof, history_dir=history, policy="record"),
                                step])

    first = batch()
    assert first.exit_code == 0 and not first.step_failures, first.step_failures
    with CaseStore(store_dir, actor="auditor", create=False) as store:
        recorded = {(r.kind, r.verdict) for r in store.qa_results()}
        assert ("tune", "fail") in recorded and ("ladder", "pass") in recorded
        assert all(r.data.get("result_sha256") for r in store.qa_results())
        assert any(e.action == "qa_result.record" for e in store.log())
        assert store.verify(rehash=False).ok
    # someone deletes the failing tune from the QA history: the instrument now "passes"
    conn = sqlite3.connect(history / HISTORY_FILE)
    conn.executescript("DROP TRIGGER qa_result_no_delete; DROP TRIGGER qa_value_no_delete;")
    [(bad,)] = conn.execute("SELECT id FROM qa_result WHERE kind = 'tune' AND verdict = 'fail'")
    conn.execute("DELETE FROM qa_value WHERE result_id = ?", (bad,))
    conn.execute("DELETE FROM qa_result WHERE id = ?", (bad,))
    conn.commit()
    conn.close()
    with CaseStore(store_dir, actor="auditor", create=False) as store:
        report = store.verify(rehash=False)
    assert not report.ok and report.first.kind == "qa"
    assert "tune of GCMS-DEMO" in report.first.subject and "(fail)" in report.first.subject
    again = batch()
    assert again.document["qa"]["status"] == "passing"  # what the edited history says
    assert again.exit_code == 1 and any("deleted or altered in the QA history" in f
                                        for f in map(str, again.step_failures))
