"""The exhibit page reads what it shows, not the whole case (issue 15: under 1 s a page).

Structure, not time: the page's reads do not grow with the case (counted records and SQL
statements), a record that does not verify is still refused, and a chromatogram sends
at most :data:`gcms.review.charts.MAX_TRACE_POINTS` points a trace.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest
import sqlalchemy as sa

from gcms.custody import CaseStore
from gcms.errors import GcmsError
from gcms.review import charts
from gcms.review.views import exhibit_view


class _Counted:
    """Records decoded and SQL statements run by one store while a page is gathered."""

    def __init__(self, store: CaseStore) -> None:
        self.records = 0
        self.statements = 0
        records = store._records

        def counting(*args, **kwargs):
            found = records(*args, **kwargs)
            self.records += len(found)
            return found

        store._records = counting  # an instance hook: the store's own method still runs
        sa.event.listen(store._engine, "before_cursor_execute", self._statement)

    def _statement(self, *args) -> None:
        self.statements += 1


def _page(recorded) -> tuple[int, int, object]:
    with CaseStore(recorded.store, actor="bob", create=False) as store:
        def refused(case_id):
            raise AssertionError("the exhibit page read the whole case file")

        store.case_file = refused
        counted = _Counted(store)
        view = exhibit_view(store, recorded.case_id, recorded.exhibit_id)
        return counted.records, counted.statements, view


def test_the_exhibit_page_reads_the_same_records_however_large_the_case(recorded):
    before_records, before_statements, view = _page(recorded)
    assert view.injections and view.evidence == "ok" and view.chromatogram is not None
    with CaseStore(recorded.store, actor="alice", create=False) as store:
        whole = store.case_file(recorded.case_id)
        for i in range(6):  # the case grows: other exhibits, each with its custody
            store.receive_exhibit(recorded.case_id, f"OTHER-{i}", description=f"bag {i}")
            store.transfer_exhibit(recorded.case_id, f"OTHER-{i}", from_party="alice",
                                   to_party="bob", purpose="analysis")
    after_records, after_statements, again = _page(recorded)
    assert (after_records, after_statements) == (before_records, before_statements)
    # and the page shows what the whole case file holds for that exhibit
    expected = [r["result_id"] for r in whole["results"]
                if r.get("exhibit_id") == recorded.exhibit_id]
    assert [i["result_id"] for i in again.injections] == expected
    assert again.exhibit["exhibit_id"] == recorded.exhibit_id
    assert again.run is not None and again.run["run_id"] == again.result["run_id"]


def test_a_run_page_reads_that_run_only(recorded):
    with CaseStore(recorded.store, actor="bob", create=False) as store:
        blank = next(r for r in store.results(recorded.case_id) if r.exhibit_id is None)
        page = store.exhibit_file(recorded.case_id, None, result_id=blank.result_id)
        assert [r["result_id"] for r in page["results"]] == [blank.result_id]
        assert page["exhibits"] == []
        with pytest.raises(GcmsError, match="not in the store"):
            store.exhibit_file(recorded.case_id, None, result_id="R999")
        with pytest.raises(GcmsError, match="not in the store"):
            store.exhibit_file(recorded.case_id, "NO-SUCH")


def test_a_result_that_does_not_verify_is_still_refused(recorded):
    with CaseStore(recorded.store, actor="bob", create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
    conn = sqlite3.connect(recorded.store / "gcms.sqlite")
    try:
        conn.executescript("DROP TRIGGER IF EXISTS audit_log_no_update;")
        row = conn.execute("SELECT seq, content FROM audit_log WHERE object_type = 'result' "
                           "AND object_id = ? ORDER BY seq DESC", (result.result_id,)).fetchone()
        assert row is not None
        content = json.loads(row[1])
        content["after"]["version"] = "one"  # a record no check accepts
        conn.execute("UPDATE audit_log SET content = ? WHERE seq = ?",
                     (json.dumps(content), row[0]))
        conn.commit()
    finally:
        conn.close()
    with CaseStore(recorded.store, actor="bob", create=False) as store:
        with pytest.raises(GcmsError) as whole:
            store.case_file(recorded.case_id)
        with pytest.raises(GcmsError) as page:
            exhibit_view(store, recorded.case_id, recorded.exhibit_id)
    assert str(page.value) == str(whole.value)


def test_a_long_chromatogram_is_decimated_for_display_keeping_every_extreme():
    rng = np.random.default_rng(7)
    n = 20_000
    times = np.linspace(0.0, 40.0, n)
    tic = rng.random(n) * 1e4
    tic[12_345] = 9e6  # a one-scan peak
    tic[777] = -5.0
    xics = {150.0: rng.random(n) * 10, 105.0: rng.random(n)}
    figure = charts.chromatogram_figure(times, tic, xics, [
        {"rt_min": 20.0, "label": "x", "component": 1}], {
        "time": "t", "abundance": "a", "components": "c", "relative": "r"})
    lines = [t for t in figure["data"] if t["mode"] == "lines"]
    assert len(lines) == 3
    for trace in lines:
        assert 0 < len(trace["x"]) <= charts.MAX_TRACE_POINTS
        assert trace["x"] == sorted(trace["x"])
    assert max(lines[0]["y"]) == 9e6 and min(lines[0]["y"]) == -5.0
    assert len(json.dumps(figure)) < 200_000
    # a 2,400-scan run is drawn whole, scan by scan, and the stored arrays are unchanged
    short = tic[:2400].copy()
    x, y = charts.decimate(times[:2400], short)
    assert len(y) == 2400 and np.array_equal(short, tic[:2400])
