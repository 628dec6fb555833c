import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gcms.quantitation import IntegrationSettings, integrate_between, integrate_peak
from gcms.quantitation.integration import moving_average, robust_noise

T = np.arange(0.0, 120.0, 0.25)


def gaussian(area, rt, sigma):
    return area * stats.norm.pdf(T, rt, sigma)


def test_gaussian_area_height_and_limits():
    y = gaussian(10_000.0, 60.0, 1.5)
    out = integrate_peak(T, y, rt_s=61.0, window_s=5.0, signal="m/z 342")
    assert out.detected and out.signal == "m/z 342"
    assert out.rt_s == pytest.approx(60.0)
    # limits at 1 % of the height: ±√(2 ln 100)·σ = ±3.03σ; the drop line there removes
    # 1 % of the height over the width, and the tails beyond hold 0.25 %
    assert out.start_s == pytest.approx(60.0 - 3.03 * 1.5, abs=0.3)
    assert out.end_s == pytest.approx(60.0 + 3.03 * 1.5, abs=0.3)
    assert out.start_rule == "level" and out.end_rule == "level"
    assert out.area == pytest.approx(10_000.0, rel=0.03)
    assert out.height == pytest.approx(10_000.0 / (1.5 * np.sqrt(2 * np.pi)), rel=0.02)
    assert not out.saturated and out.message is None
    assert out.to_dict()["window_s"] == [56.0, 66.0]


def test_drifting_baseline_is_removed_by_the_drop_line():
    flat = integrate_peak(T, gaussian(5_000.0, 60.0, 1.5), rt_s=60, window_s=5)
    drift = 200.0 + 3.0 * T
    out = integrate_peak(T, gaussian(5_000.0, 60.0, 1.5) + drift, rt_s=60, window_s=5)
    # both within 3 % of the true area (the 1 % drop line and the tails beyond it)
    assert out.area == pytest.approx(5_000.0, rel=0.03)
    assert flat.area == pytest.approx(5_000.0, rel=0.03)
    assert out.baseline_start == pytest.approx(200 + 3 * out.start_s, rel=0.01)
    assert out.baseline_end == pytest.approx(200 + 3 * out.end_s, rel=0.01)


def test_valley_between_two_peaks_is_a_drop_line():
    y = gaussian(10_000.0, 60.0, 1.5) + gaussian(10_000.0, 66.0, 1.5)
    out = integrate_peak(T, y, rt_s=60.0, window_s=2.0)
    assert out.end_rule == "valley"
    assert out.end_s == pytest.approx(63.0, abs=0.3)
    assert out.area == pytest.approx(10_000.0, rel=0.05)
    closest = integrate_peak(T, y * np.where(T > 63, 1.2, 1.0), rt_s=61.0, window_s=8.0,
                             settings=IntegrationSettings(peak_selection="closest"))
    assert closest.rt_s == pytest.approx(60.0)
    largest = integrate_peak(T, y * np.where(T > 63, 1.2, 1.0), rt_s=61.0, window_s=8.0)
    assert largest.rt_s == pytest.approx(66.0)


def test_noise_only_is_not_detected_and_says_why():
    rng = np.random.default_rng(0)
    y = 100 + rng.normal(0, 5, T.size)
    out = integrate_peak(T, y, rt_s=60, window_s=5, signal="m/z 342")
    assert not out.detected
    assert "m/z 342" in out.message and "S/N" in out.message


def test_a_single_spike_on_a_thresholded_trace_is_not_a_peak():
    y = np.zeros(T.size)
    y[240] = 153.0  # one scan just above a 150-count threshold
    out = integrate_peak(T, y, rt_s=60, window_s=5, noise_floor=50.0)
    assert not out.detected
    empty = integrate_peak(T, np.zeros(T.size), rt_s=60, window_s=5)
    assert not empty.detected and "no peak maximum" in empty.message


def test_snr_uses_the_robust_noise_and_the_floor():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 10, T.size)
    y = gaussian(2_000.0, 60.0, 1.5) + noise
    out = integrate_peak(T, y, rt_s=60, window_s=5)
    assert out.noise == pytest.approx(10.0, rel=0.25)
    floored = integrate_peak(T, y, rt_s=60, window_s=5, noise_floor=100.0)
    assert floored.noise == 100.0 and floored.snr < out.snr


def test_clipped_peak_is_saturated_by_plateau_and_by_ceiling():
    y = np.minimum(gaussian(1e7, 60.0, 1.5), 1e6)
    out = integrate_peak(T, y, rt_s=60, window_s=5)
    assert out.saturated and "flat top" in out.saturation
    ceiling = integrate_peak(T, gaussian(1e7, 60.0, 1.5), rt_s=60, window_s=5,
                             saturation_counts=2e6)
    assert ceiling.saturated and "ceiling" in ceiling.saturation
    assert not integrate_peak(T, gaussian(1e7, 60.0, 1.5), rt_s=60, window_s=5).saturated


def test_broad_noisy_apex_is_not_mistaken_for_saturation():
    rng = np.random.default_rng(2)
    y = gaussian(1e6, 60.0, 6.0) * (1 + rng.normal(0, 0.002, T.size))
    assert not integrate_peak(T, y, rt_s=60, window_s=10).saturated


def test_width_limit_is_kept_as_the_reason():
    y = gaussian(10_000.0, 60.0, 1.5) + np.where(T > 60, 300.0, 0.0)  # a step that never ends
    out = integrate_peak(T, y, rt_s=60, window_s=5,
                         settings=IntegrationSettings(max_half_width_s=10.0, end_fraction=0.001,
                                                      noise_multiple=0.0))
    assert out.end_rule == "width limit" and out.end_s == pytest.approx(70.0, abs=0.25)


def test_qualifier_between_fixed_limits_keeps_the_ratio():
    quant = gaussian(10_000.0, 60.0, 1.5)
    qual = 0.35 * quant + 50.0
    main = integrate_peak(T, quant, rt_s=60, window_s=5)
    q = integrate_between(T, qual, start_scan=main.start_scan, end_scan=main.end_scan)
    assert q.area / main.area == pytest.approx(0.35, rel=1e-6)
    assert q.start_rule == "fixed" and q.detected
    with pytest.raises(ValueError, match="outside"):
        integrate_between(T, qual, start_scan=10, end_scan=T.size)


def test_inputs_are_not_modified():
    y = gaussian(10_000.0, 60.0, 1.5)
    y.flags.writeable = False
    t = T.copy()
    t.flags.writeable = False
    before = y.copy()
    integrate_peak(t, y, rt_s=60, window_s=5)
    np.testing.assert_array_equal(y, before)


@given(scale=st.floats(0.01, 1e4), shift=st.floats(-20, 20))
@settings(max_examples=30, deadline=None)
def test_area_scales_with_amount_and_follows_the_peak(scale, shift):
    base = integrate_peak(T, gaussian(1_000.0, 60.0, 1.5), rt_s=60, window_s=5)
    out = integrate_peak(T, scale * gaussian(1_000.0, 60.0 + shift, 1.5), rt_s=60 + shift,
                         window_s=5)
    assert out.area == pytest.approx(scale * base.area, rel=0.02)
    assert out.rt_s == pytest.approx(60.0 + shift, abs=0.25)


def test_helpers():
    np.testing.assert_allclose(moving_average([0, 3, 0, 3, 0], 3), [1, 1, 2, 1, 1])
    assert moving_average([1.0, 2.0], 1).tolist() == [1.0, 2.0]
    rng = np.random.default_rng(4)
    assert robust_noise(rng.normal(0, 7, 5000)) == pytest.approx(7, rel=0.05)
    assert robust_noise([1.0]) == 0.0


def test_settings_are_checked():
    with pytest.raises(ValueError, match="odd"):
        IntegrationSettings(smoothing_scans=4)
    assert dataclasses.asdict(IntegrationSettings())["end_fraction"] == 0.01
