import json
import math
import pickle
import re
from datetime import datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcms import Run, RunMetadata
from gcms.retention import (
    RetentionCalibration,
    estimate_dead_time,
    kovats,
    van_den_dool_kratz,
)


def reference_vdk(t, ladder_t, ladder_ri):
    """Plain scalar Van den Dool & Kratz, written from the formula, end segments continued."""
    n = len(ladder_t)
    for i in range(n - 1):
        if ladder_t[i] <= t <= ladder_t[i + 1] or (i == 0 and t < ladder_t[0]) or (
            i == n - 2 and t > ladder_t[-1]
        ):
            return ladder_ri[i] + (ladder_ri[i + 1] - ladder_ri[i]) * (t - ladder_t[i]) / (
                ladder_t[i + 1] - ladder_t[i]
            )
    raise AssertionError("unreachable")


def test_van_den_dool_kratz_textbook_value():
    # C10 at 600 s, C11 at 720 s: a peak at 660 s is half way, RI 1050;
    # at 630 s a quarter of the way: 100 * (10 + 30/120) = 1025.
    ri, flags = van_den_dool_kratz([660.0, 630.0], [600.0, 720.0], [1000.0, 1100.0])
    np.testing.assert_allclose(ri, [1050.0, 1025.0])
    assert not flags.any()


def test_kovats_textbook_value():
    # isothermal, dead time 60 s; C10 at 600 s, C11 at 1200 s; peak at 900 s:
    # I = 100 [10 + (log 840 - log 540) / (log 1140 - log 540)]
    expected = 100 * (10 + (math.log(840) - math.log(540)) / (math.log(1140) - math.log(540)))
    ri, flags = kovats([900.0], [600.0, 1200.0], [1000.0, 1100.0], dead_time=60.0)
    assert ri[0] == pytest.approx(expected, abs=1e-9)
    assert expected == pytest.approx(1059.13, abs=0.01)
    assert not flags.any()


def fames_reference(shared):
    """RT (min) and RI of the FAMEs marker entries in CoreMS's FAMES_REF.msp."""
    text = shared("corems-fames-ri", "FAMES_REF.msp").read_text()
    pairs = {}
    for block in text.split("Name:")[1:]:
        ri = float(re.search(r"^RI:\s*([\d.]+)", block, re.M).group(1))
        rt = float(re.search(r"^RetentionTime:\s*([\d.]+)", block, re.M).group(1))
        pairs[ri] = rt
    ri = np.array(sorted(pairs))
    return np.array([pairs[v] for v in ri]), ri


def test_fames_reference_ladder_gives_hand_computed_indices(shared):
    rt_min, ri = fames_reference(shared)
    assert ri.tolist() == [800, 900, 1000, 1200, 1400, 1600, 1800, 2000, 2200, 2400, 2600,
                           2800, 3000]
    calibration = RetentionCalibration(rt_seconds=rt_min * 60, retention_index=ri,
                                       series="FAME methyl esters")
    # every marker maps to its own index
    np.testing.assert_allclose(calibration.apply(rt_min * 60).retention_index, ri)
    # 14.000 min lies between methyl laurate (13.250, 1200) and myristate (15.597, 1400):
    # 1200 + 200 * 0.75 / 2.347 = 1263.91 (computed by hand)
    result = calibration.apply(14.0 * 60)
    assert result.retention_index[0] == pytest.approx(1263.91, abs=0.01)
    assert not result.extrapolated[0]


def test_indices_outside_the_ladder_are_extrapolated_and_flagged():
    calibration = RetentionCalibration(rt_seconds=[300.0, 400.0, 520.0],
                                       retention_index=[800.0, 900.0, 1000.0])
    result = calibration.apply([250.0, 300.0, 450.0, 520.0, 580.0, np.nan])
    assert result.extrapolated.tolist() == [True, False, False, False, True, True]
    # end segments continued: (250 - 300)/100 * 100 + 800, (580 - 520)/120 * 100 + 1000
    np.testing.assert_allclose(result.retention_index[:5], [750.0, 800.0, 941.6666667, 1000.0,
                                                            1050.0])
    assert np.isnan(result.retention_index[5])
    assert result.n_extrapolated == 3
    assert result.to_dict()["retention_index"][5] is None


def test_kovats_times_at_or_before_dead_time_have_no_index():
    calibration = RetentionCalibration(rt_seconds=[600.0, 1200.0], retention_index=[1000, 1100],
                                       method="kovats", dead_time_s=60.0)
    result = calibration.apply([30.0, 60.0, 300.0])
    assert np.isnan(result.retention_index[:2]).all()
    assert result.extrapolated.tolist() == [True, True, True]
    assert np.isfinite(result.retention_index[2])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(1.0, 50.0), min_size=2, max_size=12),
    st.lists(st.floats(0.0, 3000.0), min_size=1, max_size=20),
)
def test_vectorised_vdk_equals_the_scalar_formula(gaps, query):
    ladder_t = 100.0 + np.cumsum(gaps)
    ladder_ri = 100.0 * (8 + np.arange(ladder_t.size))
    ri, flags = van_den_dool_kratz(query, ladder_t, ladder_ri)
    for value, t, flag in zip(ri, query, flags, strict=True):
        assert value == pytest.approx(reference_vdk(t, ladder_t, ladder_ri), rel=1e-9, abs=1e-6)
        assert flag == (t < ladder_t[0] or t > ladder_t[-1])


@pytest.mark.parametrize("method, dead", [("van-den-dool-kratz", None), ("kovats", 45.0)])
def test_retention_time_inverts_retention_index(method, dead):
    calibration = RetentionCalibration(rt_seconds=[120.0, 200.0, 330.0, 540.0],
                                       retention_index=[800, 900, 1000, 1100],
                                       method=method, dead_time_s=dead)
    rt = np.linspace(60.0, 700.0, 50)
    forward = calibration.apply(rt)
    back = calibration.predict_rt(forward.retention_index)
    np.testing.assert_allclose(back.rt_seconds, rt, rtol=1e-9)
    np.testing.assert_array_equal(back.extrapolated, forward.extrapolated)


def test_dead_time_is_recovered_from_an_isothermal_ladder():
    n = np.arange(8, 15)
    t = 72.5 + 40.0 * 1.45 ** (n - 8)
    assert estimate_dead_time(t, n) == pytest.approx(72.5, abs=1e-3)
    # Peterson & Hirsch closed form for three equally spaced members
    t1, t2, t3 = t[2], t[3], t[4]
    closed = (t1 * t3 - t2**2) / (t1 + t3 - 2 * t2)
    assert estimate_dead_time([t1, t2, t3], n[2:5]) == pytest.approx(closed, abs=1e-3)


def test_dead_time_refuses_a_temperature_program():
    n = np.arange(8, 20)
    with pytest.raises(ValueError, match="no dead time fits"):
        estimate_dead_time(300.0 + 45.0 * (n - 8), n)
    with pytest.raises(ValueError, match="at least three"):
        estimate_dead_time([100.0, 200.0], [8, 9])


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"rt_seconds": [100.0], "retention_index": [800.0]}, "at least 2 markers"),
        ({"rt_seconds": [100.0, 90.0], "retention_index": [800, 900]}, "increase strictly"),
        ({"rt_seconds": [100.0, 190.0], "retention_index": [900, 800]}, "increase strictly"),
        ({"rt_seconds": [100.0, np.nan], "retention_index": [800, 900]}, "NaN"),
        ({"rt_seconds": [100.0, 200.0], "retention_index": [800]}, "2 retention times but 1"),
        ({"rt_seconds": [100.0, 200.0], "retention_index": [800, 900], "method": "kovats"},
         "need dead_time_s"),
        ({"rt_seconds": [100.0, 200.0], "retention_index": [800, 900], "method": "kovats",
          "dead_time_s": 100.0}, "before the first marker"),
        ({"rt_seconds": [100.0, 200.0], "retention_index": [800, 900], "method": "cubic"},
         "unknown method"),
        ({"rt_seconds": [100.0, 200.0], "retention_index": [800, 900], "names": ("C8",)},
         "1 names for 2"),
    ],
)
def test_invalid_calibrations_are_refused(fields, message):
    with pytest.raises(ValueError, match=message):
        RetentionCalibration(**fields)


def calibration_example():
    return RetentionCalibration(
        rt_seconds=[300.0, 400.0, 520.0], retention_index=[800.0, 900.0, 1000.0],
        names=("C8", "C9", "C10"), match_percent=[99, None, 97],
        column={"COLUMN_NAME": "DB-5ms"},
        source={"path": "ladder.D", "sha256": "ab" * 32, "instrument": "GCMS-01",
                "method": "DRUGS.M", "acquired_at": "2026-03-01T08:00:00"},
    )


def test_json_and_pickle_round_trips_keep_everything():
    calibration = calibration_example()
    data = json.loads(json.dumps(calibration.to_dict()))
    again = RetentionCalibration.from_dict(data)
    copy = pickle.loads(pickle.dumps(calibration))
    for other in (again, copy):
        np.testing.assert_array_equal(other.rt_seconds, calibration.rt_seconds)
        np.testing.assert_array_equal(other.retention_index, calibration.retention_index)
        np.testing.assert_array_equal(other.match_percent, calibration.match_percent)
        assert other.names == calibration.names and other.column == calibration.column
        assert dict(other.source) == dict(calibration.source)
        assert not other.rt_seconds.flags.writeable
    with pytest.raises(ValueError, match="unknown fields"):
        RetentionCalibration.from_dict({**data, "slope": 1})


def test_callers_arrays_are_not_frozen_or_changed():
    rt = np.array([300.0, 400.0])
    calibration = RetentionCalibration(rt_seconds=rt, retention_index=[800, 900])
    assert rt.flags.writeable
    with pytest.raises(ValueError):
        calibration.rt_seconds[0] = 1.0


def test_applicability_names_each_reason_to_doubt():
    calibration = calibration_example()
    meta = RunMetadata(instrument="GCMS-02", method="DRUGS.M",
                       acquired_at=datetime(2026, 3, 3, 8, 0))
    run = Run(scan_times=[200.0, 600.0], scan_offsets=[0, 0, 0], mz=[], intensity=[],
              metadata=meta)
    notes = calibration.applicability(run, max_age_hours=24)
    assert any("instrument differs" in n for n in notes)
    assert not any("method differs" in n for n in notes)
    assert any("extrapolated" in n for n in notes)
    assert any("48.0 h older" in n for n in notes)
    earlier = meta.replace(acquired_at=datetime(2026, 3, 1, 8, 0) - timedelta(hours=2),
                           instrument="gcms-01")
    assert calibration.applicability(earlier) == ("run acquired 2.0 h before the ladder",)



def test_applicability_of_a_run_summary_is_that_of_the_run():
    # a batch keeps a run's summary, not the run: the same notes from its facts
    calibration = calibration_example()
    meta = RunMetadata(instrument="GCMS-02", method="DRUGS.M",
                       acquired_at=datetime(2026, 3, 3, 8, 0))
    run = Run(scan_times=[200.0, 600.0], scan_offsets=[0, 0, 0], mz=[], intensity=[],
              metadata=meta)
    notes = calibration.applicability(run, max_age_hours=24)
    assert len(notes) == 3
    assert calibration.applicability_of_summary(run.summary(), max_age_hours=24) == notes
    bare = {**run.summary(), "acquired_at": "not a time", "rt_range_s": None}
    assert calibration.applicability_of_summary(bare) == (notes[0],)

def test_a_million_retention_times_convert_as_one_array():
    calibration = RetentionCalibration(rt_seconds=np.linspace(200, 2000, 33),
                                       retention_index=100.0 * np.arange(8, 41))
    rt = np.random.default_rng(1).uniform(100, 2100, 1_000_000)
    result = calibration.apply(rt)
    assert result.retention_index.shape == rt.shape
    assert result.n_extrapolated == int(np.sum((rt < 200) | (rt > 2000)))
    # between markers Van den Dool & Kratz is linear in retention time: np.interp over
    # the markers is an independent statement of the same formula
    inside = (rt >= 200) & (rt <= 2000)
    np.testing.assert_allclose(result.retention_index[inside],
                               np.interp(rt[inside], calibration.rt_seconds,
                                         calibration.retention_index), rtol=1e-12)
