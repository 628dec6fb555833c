import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcms.signal import Peaks, PeakSettings, find_peaks
from gcms.simulate import emg

TIMES = np.arange(0.0, 600.0, 0.25)


def gaussian_peak(height, centre, sigma, t=TIMES):
    return height * np.exp(-0.5 * ((t - centre) / sigma) ** 2)


def test_gaussian_peaks_height_area_width_and_symmetry():
    y = gaussian_peak(1e5, 200.0, 1.5) + gaussian_peak(4e4, 400.0, 2.5)
    peaks = find_peaks(y, TIMES, settings=PeakSettings(baseline=None))
    assert len(peaks) == 2
    np.testing.assert_allclose(peaks.rt_s, [200.0, 400.0], atol=0.01)
    np.testing.assert_allclose(peaks.height, [1e5, 4e4], rtol=1e-6)
    # Area of a Gaussian: H σ √(2π); FWHM: 2 √(2 ln 2) σ.
    np.testing.assert_allclose(peaks.area, [1e5 * 1.5 * np.sqrt(2 * np.pi),
                                            4e4 * 2.5 * np.sqrt(2 * np.pi)], rtol=2e-3)
    np.testing.assert_allclose(peaks.width_s, [2.35482 * 1.5, 2.35482 * 2.5], rtol=0.01)
    np.testing.assert_allclose(peaks.tailing, [1.0, 1.0], atol=0.02)
    assert np.all(peaks.start_s < peaks.rt_s) and np.all(peaks.rt_s < peaks.end_s)


def test_usp_tailing_of_an_emg_against_a_brute_force_measurement():
    sigma, tau = 1.0, 1.2
    y = 1e5 * emg(TIMES, 300.0, sigma, tau)
    peaks = find_peaks(y, TIMES, settings=PeakSettings(baseline=None, smooth_points=3))
    # Independent: the same curve on a 1 ms grid, crossings of 5 % found by search.
    fine = np.arange(280.0, 330.0, 0.001)
    curve = emg(fine, 300.0, sigma, tau)
    apex = fine[np.argmax(curve)]
    above = fine[curve >= 0.05 * curve.max()]
    front, back = apex - above[0], above[-1] - apex
    expected = (front + back) / (2 * front)
    assert expected > 1.3  # it does tail
    assert len(peaks) == 1
    assert peaks.tailing[0] == pytest.approx(expected, rel=0.05)
    assert peaks.rt_s[0] == pytest.approx(apex, abs=0.25)
    assert peaks.area[0] == pytest.approx(1e5, rel=0.01)  # EMG has unit area


def test_fused_peaks_split_at_the_valley():
    y = gaussian_peak(1e5, 200.0, 1.5) + gaussian_peak(6e4, 206.0, 1.5)
    peaks = find_peaks(y, TIMES, settings=PeakSettings(baseline=None))
    assert len(peaks) == 2
    assert peaks.end[0] == peaks.start[1]
    valley = np.argmin(y[(TIMES > 200) & (TIMES < 206)]) + np.searchsorted(TIMES, 200.0, "right")
    assert abs(peaks.end[0] - valley) <= 1
    total = 1e5 * 1.5 * np.sqrt(2 * np.pi) + 6e4 * 1.5 * np.sqrt(2 * np.pi)
    assert peaks.area.sum() == pytest.approx(total, rel=0.02)


def test_baseline_drift_and_noise():
    rng = np.random.default_rng(0)
    drift = 2000 + 3.0 * TIMES
    y = drift + gaussian_peak(5e4, 150.0, 1.2) + gaussian_peak(2e3, 420.0, 1.2) \
        + rng.normal(0, 100, TIMES.size)
    peaks = find_peaks(y, TIMES)
    assert len(peaks) == 2
    np.testing.assert_allclose(peaks.rt_s, [150.0, 420.0], atol=0.3)
    assert peaks.area[0] == pytest.approx(5e4 * 1.2 * np.sqrt(2 * np.pi), rel=0.03)
    assert peaks.noise == pytest.approx(100, rel=0.15)
    assert peaks.snr[1] == pytest.approx(2e3 / 100, rel=0.25)
    assert np.median(np.abs(peaks.baseline - drift)) < 50


def test_min_snr_and_min_width_filter_peaks():
    rng = np.random.default_rng(1)
    y = gaussian_peak(300, 100.0, 1.5) + gaussian_peak(3000, 300.0, 1.5) \
        + rng.normal(0, 100, TIMES.size)
    strict = find_peaks(y, TIMES, settings=PeakSettings(baseline=None, min_snr=10))
    assert len(strict) == 1 and strict.rt_s[0] == pytest.approx(300, abs=0.3)
    wide_only = find_peaks(y, TIMES, settings=PeakSettings(baseline=None, min_snr=10,
                                                           min_width_s=10.0))
    assert len(wide_only) == 0


def test_a_flat_or_tiny_trace_has_no_peaks():
    assert len(find_peaks(np.zeros(TIMES.size), TIMES)) == 0
    assert len(find_peaks(np.ones(3), np.arange(3.0))) == 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="equal length"):
        find_peaks(np.zeros(10), np.arange(9.0))
    with pytest.raises(ValueError, match="NaN"):
        find_peaks(np.array([0, 1, np.nan, 1, 0, 0.0]), np.arange(6.0))
    with pytest.raises(ValueError, match="min_snr"):
        PeakSettings(min_snr=0)
    with pytest.raises(ValueError, match="odd"):
        PeakSettings(smooth_points=4)


def test_peaks_table_is_read_only_serialisable_and_pickles():
    y = gaussian_peak(1e4, 100.0, 1.5)
    peaks = find_peaks(y, TIMES, settings=PeakSettings(baseline=None))
    with pytest.raises(ValueError):
        peaks.area[0] = 0.0
    data = peaks.to_dict()
    assert data["apex"] == peaks.apex.tolist() and "baseline" not in data
    again = pickle.loads(pickle.dumps(peaks))
    assert isinstance(again, Peaks)
    np.testing.assert_array_equal(again.area, peaks.area)
    with pytest.raises(ValueError, match="rows"):
        Peaks(*([np.zeros(2, dtype=int)] * 3 + [np.zeros(2)] * 7 + [np.zeros(3)]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=5, max_size=300))
def test_any_trace_gives_consistent_peaks(values):
    y = np.array(values)
    t = np.arange(y.size, dtype=float)
    peaks = find_peaks(y, t)
    assert np.all(peaks.start <= peaks.apex) and np.all(peaks.apex <= peaks.end)
    assert np.all((peaks.apex >= 0) & (peaks.apex < y.size))
    assert np.all(np.diff(peaks.apex) > 0)


def test_a_peak_standing_in_a_dip_still_gets_boundaries_and_area():
    # The baseline (here none) runs above this region: the apex is below the noise level
    # over the baseline, yet the peak rises well above its own surroundings.
    dip = -2000.0 * ((TIMES > 250) & (TIMES < 350))
    y = dip + gaussian_peak(1500.0, 300.0, 1.5)
    y = y + np.random.default_rng(2).normal(0, 20, TIMES.size)
    peaks = find_peaks(y, TIMES, settings=PeakSettings(baseline=None))
    k = int(np.argmin(np.abs(peaks.rt_s - 300.0)))
    assert abs(peaks.rt_s[k] - 300.0) < 0.3
    assert peaks.start[k] < peaks.apex[k] < peaks.end[k]
    assert peaks.area[k] == pytest.approx(1500.0 * 1.5 * np.sqrt(2 * np.pi), rel=0.15)
