import math
import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from gcms.errors import TamperError
from gcms.qa import (
    Criterion,
    Limit,
    QAHistory,
    QAResult,
    control_chart,
    default_data_dir,
    evaluate_tune,
    open_history,
)
from gcms.qa.history import HISTORY_FILE
from gcms.qa.simulate import pftba_spectrum

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def result(day, value, *, instrument="GCMS-01", kind="tune", extra=None):
    criteria = [Criterion("abundance_219", "m/z 219 relative to m/z 69", value, "%",
                          Limit(40.0), None if value is None else value >= 40.0)]
    if extra is not None:
        criteria.append(Criterion("air_28_69", "air", extra, "%", Limit(high=10.0), True))
    return QAResult(kind=kind, instrument_id=instrument, criteria_set="agilent-pftba-autotune",
                    criteria=tuple(criteria), performed_at=T0 + timedelta(days=day),
                    source={"path": f"tune{day}.json", "sha256": "00" * 32})


def test_record_and_read_back_in_acquisition_order(tmp_path):
    with open_history(tmp_path) as store:
        assert isinstance(store, QAHistory)
        ids = [store.record(result(d, v)) for d, v in ((2, 50.0), (0, 55.0), (1, 35.0))]
        store.record(result(0, 60.0, instrument="GCMS-02"))
        store.record(result(3, 58.0, kind="ladder"))
        stored = store.results("GCMS-01", kind="tune")
        assert [s.id for s in stored] == [ids[1], ids[2], ids[0]]
        assert [s.result.verdict for s in stored] == ["pass", "fail", "pass"]
        assert stored[0].result.to_dict() == result(0, 55.0).to_dict()
        assert len(store.results("GCMS-01")) == 4
        since = store.results("GCMS-01", since=datetime(2026, 3, 2, 8, 0))
        assert len(since) == 3
        assert store.instruments() == ["GCMS-01", "GCMS-02"]
        assert store.latest("GCMS-01", kind="tune").id == ids[0]
    assert (tmp_path / HISTORY_FILE).exists()


def test_series_holds_nan_where_a_value_was_not_measured(tmp_path):
    with open_history(tmp_path) as store:
        store.record(result(0, 55.0, extra=2.0))
        store.record(result(1, None, extra=3.0))
        store.record(result(2, 57.0))
        series = store.series("GCMS-01", "abundance_219", kind="tune")
        assert np.isnan(series.values[1]) and series.values[[0, 2]].tolist() == [55.0, 57.0]
        assert series.unit == "%" and len(series.performed_at) == 3
        assert len(store.series("GCMS-01", "air_28_69")) == 2
        assert store.metrics("GCMS-01") == ["abundance_219", "air_28_69"]


def test_history_is_append_only(tmp_path):
    with open_history(tmp_path) as store:
        store.record(result(0, 55.0))
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    for statement in ("UPDATE qa_result SET verdict = 'pass'", "DELETE FROM qa_result",
                      "UPDATE qa_value SET value = 1.0", "DELETE FROM qa_value"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()


def test_a_changed_row_is_detected(tmp_path):
    with open_history(tmp_path) as store:
        store.record(result(0, 55.0))
    db = sqlite3.connect(tmp_path / HISTORY_FILE)
    db.execute("DROP TRIGGER qa_result_no_update")
    db.execute("UPDATE qa_result SET result_json = replace(result_json, '55.0', '65.0')")
    db.commit()
    db.close()
    with open_history(tmp_path) as store, pytest.raises(TamperError, match="does not match"):
        store.results("GCMS-01")


def test_real_tune_results_chart_with_westgard_flags(tmp_path):
    rng = np.random.default_rng(11)
    values = list(55.0 + rng.normal(0, 1.0, 20)) + [55.5, 58.6, 58.9]  # 2-2s at the end
    with open_history(tmp_path) as store:
        for day, value in enumerate(values):
            tune = evaluate_tune(pftba_spectrum({219: value}), criteria="agilent-pftba-autotune",
                                 instrument_id="GCMS-01", performed_at=T0 + timedelta(days=day))
            store.record(tune)
        series = store.series("GCMS-01", "abundance_219", kind="tune")
    np.testing.assert_allclose(series.values, values, rtol=1e-6)
    chart = control_chart(series.values, metric="abundance_219", baseline_points=20)
    z = (np.array(values) - np.mean(values[:20])) / np.std(values[:20], ddof=1)
    assert z[-1] > 2 and z[-2] > 2
    assert "2-2s" in chart.rules_at(len(values) - 1) and chart.rejected


def test_default_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GCMS_DATA_DIR", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"
    monkeypatch.delenv("GCMS_DATA_DIR")
    assert default_data_dir().name == "gcms"


def test_values_that_are_not_finite_are_stored_as_null(tmp_path):
    with open_history(tmp_path) as store:
        store.record(result(0, math.inf))
        assert math.isnan(store.series("GCMS-01", "abundance_219").values[0])
