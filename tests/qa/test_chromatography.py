"""Peak figures against closed forms: Gaussian width, plates, resolution; EMG tailing."""

import math

import numpy as np
import pytest
from scipy.special import erfc

from gcms.qa.chromatography import (
    PeakMeasureSettings,
    measure_peaks,
    plate_count,
    resolution,
)
from gcms.signal import NoiseModel

DT = 0.1  # s between scans
T = np.arange(0.0, 800.0, DT)


def gaussian(t0, sigma, height=1.0e5):
    return height * np.exp(-0.5 * ((T - t0) / sigma) ** 2)


def emg_exact(t, t0, sigma, tau):
    """Exponentially modified Gaussian written out here (Grushka 1972), unit area."""
    z = (t - t0) / sigma
    return (0.5 / tau) * np.exp(0.5 * (sigma / tau) ** 2 - (t - t0) / tau) * erfc(
        (sigma / tau - z) / math.sqrt(2.0))


def usp_tailing_dense(t0, sigma, tau):
    """USP tailing at 5 % of a noise-free EMG, on a 1 ms grid."""
    t = np.arange(t0 - 10 * sigma, t0 + 12 * sigma + 30 * tau, 0.001)
    y = emg_exact(t, t0, sigma, tau)
    apex, height = t[np.argmax(y)], y.max()
    above = t[y >= 0.05 * height]
    return (above[-1] - above[0]) / (2 * (apex - above[0])), above, apex


def test_gaussian_width_plates_and_snr_match_the_closed_forms():
    rng = np.random.default_rng(3)
    sigma, noise = 1.2, 50.0
    trace = gaussian(300.0, sigma) + 400.0 + rng.normal(0.0, noise, T.size)
    m = measure_peaks(T, trace, [300.2], width_s=2.8)
    assert m.found[0]
    assert m.rt_s[0] == pytest.approx(300.0, abs=0.02)
    assert m.width_s[0] == pytest.approx(2 * math.sqrt(2 * math.log(2)) * sigma, rel=0.02)
    # for a Gaussian the half-height plate count is exactly (t_R / sigma)^2
    assert m.plate_count[0] == pytest.approx((300.0 / sigma) ** 2, rel=0.04)
    assert m.tailing_factor[0] == pytest.approx(1.0, abs=0.03)
    assert m.noise[0] == pytest.approx(noise, rel=0.15)
    assert m.signal_to_noise[0] == pytest.approx(1.0e5 / noise, rel=0.15)


@pytest.mark.parametrize("tau", [0.5, 2.0, 4.0])
def test_emg_tailing_matches_a_dense_evaluation(tau):
    sigma = 1.0
    expected, _, _ = usp_tailing_dense(300.0, sigma, tau)
    trace = 1.0e6 * emg_exact(T, 300.0, sigma, tau)
    m = measure_peaks(T, trace, [300.0 + tau / 2], width_s=2.5 + tau,
                      settings=PeakMeasureSettings(smooth=False))
    assert m.tailing_factor[0] == pytest.approx(expected, rel=0.02)
    assert m.tailing_factor[0] > 1.0


def test_resolution_equals_the_baseline_definition_for_gaussians():
    s1, s2 = 1.0, 1.4
    trace = gaussian(400.0, s1) + gaussian(407.0, s2)
    m = measure_peaks(T, trace, [400.0, 407.0], width_s=[2.4, 3.3])
    rs = resolution(m.rt_s[0], m.width_s[0], m.rt_s[1], m.width_s[1])
    assert float(rs) == pytest.approx(7.0 / (2 * s1 + 2 * s2), rel=0.03)
    # the closed forms themselves
    assert float(resolution(0.0, 2.0, 4.0, 2.0)) == pytest.approx(1.1774 * 4 / 4, rel=1e-4)
    assert float(plate_count(100.0, 2.0)) == pytest.approx(5.545 * 2500, rel=1e-3)


def test_a_neighbour_above_half_height_leaves_one_side_to_double():
    sigma = 1.0
    trace = gaussian(500.0, sigma) + gaussian(503.0, sigma, 0.8e5)  # valley above half
    m = measure_peaks(T, trace, [500.0], width_s=2.4)
    assert m.width_from_one_side[0]
    assert m.width_s[0] == pytest.approx(2.3548 * sigma, rel=0.05)
    assert math.isnan(m.tailing_factor[0])  # the 5 % crossing on the right is not there


def test_no_apex_near_the_time_is_not_found():
    trace = gaussian(200.0, 1.0) + np.linspace(0, 10, T.size)
    m = measure_peaks(T, trace, [205.0], width_s=2.4)
    assert not m.found[0]
    assert math.isnan(m.signal_to_noise[0]) and m.row(0)["width_s"] is None


def test_noise_model_floors_a_thresholded_trace():
    # an acquisition threshold leaves zeros between peaks: the trace alone has no noise
    trace = np.where(gaussian(300.0, 1.0) > 450.0, gaussian(300.0, 1.0), 0.0)
    model = NoiseModel(factor=math.sqrt(10.0), floor=0.0, threshold=450.0, n_segments=100)
    m = measure_peaks(T, trace, [300.0], width_s=2.4, noise_model=model)
    assert m.noise[0] == pytest.approx(math.sqrt(10.0 * 450.0), rel=1e-6)
    assert m.signal_to_noise[0] == pytest.approx(1.0e5 / math.sqrt(4500.0), rel=0.01)


def test_inputs_are_not_modified_and_shapes_are_checked():
    trace = gaussian(300.0, 1.0)
    trace.flags.writeable = False
    measure_peaks(T, trace, [300.0])
    with pytest.raises(ValueError, match="equal length"):
        measure_peaks(T[:-1], trace, [300.0])
    with pytest.raises(ValueError, match="tailing_height"):
        PeakMeasureSettings(tailing_height=0.7)
