import numpy as np
import pytest

from gcms.signal import (
    baseline,
    centre_baseline,
    gaussian,
    moving_average,
    rolling_ball,
    savitzky_golay,
)


def test_savitzky_golay_keeps_a_quadratic_exactly():
    x = np.linspace(-3, 3, 61)
    y = 2.0 + 0.5 * x - 1.5 * x**2
    np.testing.assert_allclose(savitzky_golay(y, 7, 2), y, atol=1e-9)


def test_savitzky_golay_on_a_matrix_equals_column_by_column():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(80, 5))
    whole = savitzky_golay(matrix, 9, 2, axis=0)
    for j in range(5):
        np.testing.assert_allclose(whole[:, j], savitzky_golay(matrix[:, j], 9, 2))


def test_savitzky_golay_refuses_even_or_short_windows():
    with pytest.raises(ValueError, match="odd"):
        savitzky_golay(np.zeros(20), 6, 2)
    with pytest.raises(ValueError, match="odd"):
        savitzky_golay(np.zeros(20), 3, 3)


def test_smoothers_keep_the_area_of_a_peak_and_leave_the_input_alone():
    t = np.arange(200.0)
    y = 100 * np.exp(-0.5 * ((t - 100) / 4) ** 2)
    y.flags.writeable = False
    for smoothed in (gaussian(y, 2.0), moving_average(y, 5), savitzky_golay(y, 9, 2)):
        assert smoothed is not y
        assert abs(smoothed.sum() - y.sum()) < 1e-6 * y.sum()
    # A Gaussian of σ 2 on a peak of σ 4 lowers the apex by sqrt(16/20).
    assert gaussian(y, 2.0).max() == pytest.approx(100 * np.sqrt(16 / 20), rel=1e-3)


def test_smoothing_reduces_white_noise_as_the_kernel_predicts():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 1, 200_000)
    # Moving average of 5: σ / √5.
    assert moving_average(noise, 5).std() == pytest.approx(1 / np.sqrt(5), rel=0.02)



def test_moving_average_of_a_matrix_is_each_trace_averaged_alone():
    # quantitation places its apex and limits on this average: a trace gives the same
    # numbers, to the last bit, alone or as a column of a matrix
    matrix = np.random.default_rng(3).gamma(2.0, 500.0, (300, 4))
    by_column = moving_average(matrix, 5)
    by_row = moving_average(matrix.T, 5, axis=1)
    for j in range(4):
        alone = moving_average(matrix[:, j], 5)
        assert np.array_equal(by_column[:, j], alone) and np.array_equal(by_row[j], alone)
    # edges repeat the end value: the first point averages (y0, y0, y0, y1, y2)
    assert by_column[0, 0] == pytest.approx((3 * matrix[0, 0] + matrix[1, 0] + matrix[2, 0]) / 5)
    assert moving_average(np.zeros(0), 3).shape == (0,)
    with pytest.raises(ValueError, match="odd"):
        moving_average(matrix, 4)

def test_rolling_ball_matches_pybaselines_column_by_column():
    from pybaselines import Baseline

    rng = np.random.default_rng(2)
    t = np.arange(400.0)
    columns = []
    for j in range(4):
        drift = 50 + 0.1 * j * t + 20 * np.sin(t / 90)
        peaks = 300 * np.exp(-0.5 * ((t - 100 - 60 * j) / 3) ** 2)
        columns.append(drift + peaks + rng.normal(0, 2, t.size))
    matrix = np.column_stack(columns)
    ours = rolling_ball(matrix, 20, smooth_half_window=10, axis=0)
    fitter = Baseline(check_finite=False)
    for j in range(4):
        theirs, _ = fitter.rolling_ball(matrix[:, j], half_window=20, smooth_half_window=10,
                                        pad_kwargs={"mode": "edge"})
        np.testing.assert_allclose(ours[:, j], theirs, rtol=1e-10, atol=1e-9)


def test_rolling_ball_removes_peaks_narrower_than_its_window():
    t = np.arange(300.0)
    drift = 10 + 0.05 * t
    y = drift + 500 * np.exp(-0.5 * ((t - 150) / 3) ** 2)
    base = rolling_ball(y, 25, smooth_half_window=0)
    assert np.max(np.abs(base - drift)[30:-30]) < 1.5


def test_centre_baseline_puts_the_noise_on_zero():
    rng = np.random.default_rng(3)
    t = np.arange(3000.0)
    truth = 200 + 0.02 * t
    y = truth + rng.normal(0, 10, t.size)
    y[1000:1010] += 400  # a peak, left out of the average
    envelope = rolling_ball(y, 60)
    assert np.median(y - envelope) > 15  # the envelope follows the minima
    lifted = centre_baseline(y, envelope, np.full(t.size, 10.0), 60)
    quiet = np.r_[100:900, 1200:2900]
    assert abs(np.mean(y[quiet] - lifted[quiet])) < 1.0
    assert np.max(np.abs(lifted - truth)[100:-100]) < 8


def test_arpls_baseline_follows_drift_under_peaks():
    rng = np.random.default_rng(4)
    t = np.linspace(0, 600, 2400)
    drift = 1000 + 2.0 * t + 300 * np.sin(t / 200)
    peaks = sum(5e4 * np.exp(-0.5 * ((t - c) / 1.2) ** 2) for c in (100, 230, 231.5, 400, 520))
    y = drift + peaks + rng.normal(0, 30, t.size)
    for method in ("arpls", "asls"):
        fitted = baseline(y, method=method)
        assert np.median(np.abs(fitted - drift)) < 60, method
    assert baseline(y, method="snip").shape == y.shape
    assert baseline(y, method="rolling_ball").shape == y.shape


def test_baseline_refuses_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        baseline(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        baseline(np.array([1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(ValueError, match="unknown baseline method"):
        baseline(np.zeros(10), method="magic")
    with pytest.raises(ValueError, match="half_window"):
        rolling_ball(np.zeros(10), 0)
