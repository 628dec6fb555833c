import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from gcms.errors import QuantitationError
from gcms.quantitation import (
    Acceptance,
    CalibrationPoint,
    build_calibration,
    fit_curve,
    mandel_test,
)

X = np.array([25.0, 50, 75, 100, 150, 200, 250])
Y = np.array([0.0275, 0.0957, 0.1742, 0.2920, 0.5009, 0.7412, 0.9699])  # a curved real-like set


def points(x, y, **kw):
    return [CalibrationPoint(sample_id=f"S{i}", concentration=float(a), response=float(b),
                             used=True, **kw) for i, (a, b) in enumerate(zip(x, y, strict=True))]


# ------------------------------------------------------------- against independent fits
def test_unweighted_line_matches_linregress_and_polyfit():
    y = 0.004 * X - 0.03 + np.array([0.002, -0.001, 0.003, -0.002, 0.0, 0.001, -0.003])
    fit = fit_curve(X, y, model="linear", weighting="none")
    ref = stats.linregress(X, y)
    assert fit.slope == pytest.approx(ref.slope, rel=1e-10)
    assert fit.intercept == pytest.approx(ref.intercept, rel=1e-9)
    assert fit.r_squared == pytest.approx(ref.rvalue**2, rel=1e-10)
    assert np.sqrt(fit.covariance[1, 1]) == pytest.approx(ref.stderr, rel=1e-9)
    assert np.sqrt(fit.covariance[0, 0]) == pytest.approx(ref.intercept_stderr, rel=1e-9)
    residuals = y - np.polyval([ref.slope, ref.intercept], X)
    assert fit.s == pytest.approx(np.sqrt(np.sum(residuals**2) / (X.size - 2)), rel=1e-10)


@pytest.mark.parametrize("weighting, power", [("none", 0), ("1/x", 1), ("1/x2", 2)])
@pytest.mark.parametrize("model, degree", [("linear", 1), ("quadratic", 2)])
def test_weighted_fits_match_numpy_polyfit(model, degree, weighting, power):
    w = X ** -float(power)
    coef, cov = np.polyfit(X, Y, degree, w=np.sqrt(w), cov="unscaled")
    fit = fit_curve(X, Y, model=model, weighting=weighting)
    np.testing.assert_allclose(fit.coefficients[: degree + 1], coef[::-1], rtol=1e-8)
    residuals = Y - np.polyval(coef, X)
    wn = w * X.size / w.sum()
    s2 = np.sum(wn * residuals**2) / (X.size - degree - 1)
    # polyfit's unscaled covariance is (XᵀWX)⁻¹ for the raw weights; ours is s²(XᵀWₙX)⁻¹
    # with Wₙ = W·n/Σw, so (XᵀWₙX)⁻¹ = (Σw/n)(XᵀWX)⁻¹
    np.testing.assert_allclose(fit.covariance[: degree + 1, : degree + 1],
                               s2 * (w.sum() / X.size) * cov[::-1, ::-1], rtol=1e-7)
    mean = np.sum(wn * Y) / X.size
    r2 = 1 - np.sum(wn * residuals**2) / np.sum(wn * (Y - mean) ** 2)
    assert fit.r_squared == pytest.approx(r2, rel=1e-10)


def test_through_zero_has_no_intercept_and_centred_r2():
    y = 0.004 * X + 0.1  # an offset the model cannot take
    fit = fit_curve(X, y, model="linear_through_zero")
    assert fit.intercept == 0.0 and fit.covariance[0, 0] == 0.0
    assert fit.slope == pytest.approx(np.sum(X * y) / np.sum(X * X))
    residual = np.sum((y - fit.slope * X) ** 2)
    centred = 1 - residual / np.sum((y - y.mean()) ** 2)
    uncentred = 1 - residual / np.sum(y**2)  # what spreadsheets print for this model
    assert fit.r_squared == pytest.approx(centred)
    assert fit.r_squared < 0.99 < uncentred


def test_inverse_prediction_uncertainty_is_miller_and_miller_for_a_line():
    rng = np.random.default_rng(3)
    y = 0.01 * X + 0.02 + rng.normal(0, 0.01, X.size)
    fit = fit_curve(X, y, model="linear")
    b, a, s, n = fit.slope, fit.intercept, fit.s, X.size
    for y0, m in ((0.5, 1), (1.9, 1), (1.2, 3)):
        x0, u = fit.inverse_uncertainty(y0, replicates=m)
        sxx = np.sum((X - X.mean()) ** 2)
        expected = s / b * np.sqrt(1 / m + 1 / n + (y0 - y.mean()) ** 2 / (b**2 * sxx))
        assert x0 == pytest.approx((y0 - a) / b)
        assert u == pytest.approx(expected, rel=1e-10)


def test_inverse_prediction_uncertainty_weighted_line_miller_and_miller_5_16():
    w_raw = 1 / X
    y = 0.01 * X + 0.002 * np.sqrt(X) * np.array([1, -1, 0.5, -0.5, 1, -1, 0.2])
    fit = fit_curve(X, y, model="linear", weighting="1/x")
    w = w_raw * X.size / w_raw.sum()
    xw, yw = np.sum(w * X) / X.size, np.sum(w * y) / X.size
    b = np.sum(w * X * y - X.size * xw * yw) / np.sum(w * X**2 - X.size * xw**2) * 1.0
    b = (np.sum(w * X * y) - X.size * xw * yw) / (np.sum(w * X**2) - X.size * xw**2)
    a = yw - b * xw
    s_w = np.sqrt(np.sum(w * (y - a - b * X) ** 2) / (X.size - 2))
    assert fit.slope == pytest.approx(b) and fit.intercept == pytest.approx(a)
    y0 = 1.1
    x0 = (y0 - a) / b
    w0 = (1 / x0) * X.size / w_raw.sum()
    expected = s_w / b * np.sqrt(1 / w0 + 1 / X.size
                                 + (y0 - yw) ** 2 / (b**2 * (np.sum(w * X**2) - X.size * xw**2)))
    assert fit.inverse_uncertainty(y0)[1] == pytest.approx(expected, rel=1e-9)


def test_quadratic_inverse_is_the_root_on_the_calibrated_branch():
    fit = fit_curve(X, Y, model="quadratic", weighting="1/x")
    a, b, c = fit.coefficients
    for y0 in (0.03, 0.4, 0.95):
        roots = np.roots([c, b, a - y0])
        real = roots[np.isreal(roots)].real
        expected = real[(real > -50) & (real < 400)]
        assert expected.size == 1
        assert float(fit.inverse(y0)) == pytest.approx(expected[0], rel=1e-10)
    # a curve that bends down: the root must stay on the rising branch
    down = fit_curve(X, 0.01 * X - 1.5e-5 * X**2, model="quadratic")
    assert float(down.inverse(down.predict(240.0))) == pytest.approx(240.0, rel=1e-9)
    assert np.isnan(down.inverse(10.0))  # beyond the vertex: never reached


def test_quadratic_uncertainty_matches_a_numerical_delta_method():
    fit = fit_curve(X, Y, model="quadratic", weighting="1/x")
    y0 = 0.35
    x0, u = fit.inverse_uncertainty(y0)
    # gradient of x0(a, b, c, y0) by central differences
    def x_of(params, yy):
        a, b, c = params
        roots = np.roots([c, b, a - yy]).real
        return roots[np.argmin(np.abs(roots - x0))]
    params = fit.coefficients.copy()
    grad = np.zeros(3)
    for i in range(3):
        h = 1e-6 * max(abs(params[i]), 1e-12)
        up, dn = params.copy(), params.copy()
        up[i] += h
        dn[i] -= h
        grad[i] = (x_of(up, y0) - x_of(dn, y0)) / (2 * h)
    dy = (x_of(params, y0 + 1e-7) - x_of(params, y0 - 1e-7)) / 2e-7
    var_y0 = fit.s**2 / float(fit.weight(x0))
    expected = np.sqrt(grad @ fit.covariance @ grad + dy**2 * var_y0)
    assert u == pytest.approx(expected, rel=1e-4)


def test_inverse_prediction_uncertainty_covers_the_truth_as_stated():
    # Monte Carlo: with normal scatter, |x0 - x_true| <= t(0.975, n-2) u in about 95 % of
    # calibrations; a wrong formula (say, the first term left out) gives far less.
    rng = np.random.default_rng(11)
    hits, trials, x_true = 0, 400, 120.0
    for _ in range(trials):
        y = 0.01 * X + 0.05 + rng.normal(0, 0.03, X.size)
        fit = fit_curve(X, y, model="linear")
        x0, u = fit.inverse_uncertainty(0.01 * x_true + 0.05 + rng.normal(0, 0.03))
        hits += abs(x0 - x_true) <= stats.t.ppf(0.975, X.size - 2) * u
    assert 0.91 <= hits / trials <= 0.99


def test_mandel_test_matches_the_din_formula():
    out = mandel_test(X, Y)
    line = fit_curve(X, Y, model="linear")
    quad = fit_curve(X, Y, model="quadratic")
    f = ((X.size - 2) * line.s**2 - (X.size - 3) * quad.s**2) / quad.s**2
    assert out["F"] == pytest.approx(f)
    assert out["critical_F"] == pytest.approx(stats.f.ppf(0.99, 1, X.size - 3))
    assert out["curvature_significant"] is bool(f > out["critical_F"])
    straight = mandel_test(X, 0.01 * X + np.array([1, -1, 1, -1, 1, -1, 1]) * 1e-3)
    assert straight["curvature_significant"] is False
    assert mandel_test(X[:3], Y[:3]) is None


@given(st.floats(0.001, 10), st.floats(-5, 5), st.floats(-1e-3, 1e-3))
@settings(max_examples=40, deadline=None)
def test_back_calculation_round_trips(slope, intercept, curvature):
    y = intercept + slope * X + curvature * X**2
    fit = fit_curve(X, y, model="quadratic")
    if np.any(fit.derivative(X) <= 0):
        return  # not monotonic over the range: no unique inverse by design
    np.testing.assert_allclose(fit.inverse(y), X, rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------- acceptance rules
def test_calibration_limits_and_back_calculation():
    cal = build_calibration("A", points(X, Y), model="quadratic", weighting="1/x",
                            blank_responses=[0.001, -0.002, 0.0005, 0.0])
    assert cal.ok and cal.reasons == ()
    fit = cal.fit
    s0 = fit.s / np.sqrt(X.size / np.sum(1 / X) / X[0])
    assert cal.lod == pytest.approx(3.3 * s0 / fit.slope)
    assert cal.loq == pytest.approx(10 * s0 / fit.slope)
    sd = np.std([0.001, -0.002, 0.0005, 0.0], ddof=1)
    assert cal.loq_blank == pytest.approx(10 * sd / fit.slope)
    assert cal.reporting_loq == 25.0  # lowest calibrator by default
    for p in cal.points:
        assert p.back_calculated == pytest.approx(float(fit.inverse(p.response)))
        assert p.accuracy_percent == pytest.approx(100 * p.back_calculated / p.concentration)
        assert p.residual == pytest.approx(p.response - float(fit.predict(p.concentration)))
    assert cal.coverage_factor == pytest.approx(stats.t.ppf(0.975, X.size - 3))
    json.dumps(cal.to_dict())


def test_outlying_calibrator_is_rejected_with_its_reason():
    y = 0.01 * X.copy()
    y[3] *= 1.4  # 100 ug/mL reads 140
    cal = build_calibration("A", points(X, y), model="linear", weighting="none")
    assert cal.ok
    rejected = [p for p in cal.points if not p.used]
    assert [p.sample_id for p in rejected] == ["S3"]
    assert "outside ±15 %" in rejected[0].reason
    assert cal.fit.slope == pytest.approx(0.01)
    assert any("S3" in f for f in cal.flags)


def test_calibrators_outside_tolerance_fail_when_rejection_is_off():
    y = 0.01 * X.copy()
    y[3] *= 1.4
    cal = build_calibration("A", points(X, y), model="linear", weighting="none",
                            acceptance=Acceptance(reject_calibrators=False))
    assert not cal.ok and cal.fit is None
    assert any("S3" in r and "outside ±15 %" in r for r in cal.reasons)
    with pytest.raises(QuantitationError, match="calibration of A failed"):
        cal.quantify(0.5)


@pytest.mark.parametrize("n_points", [0, 1, 2, 4])
def test_too_few_calibrators_fail_with_a_message(n_points):
    cal = build_calibration("A", points(X[:n_points], 0.01 * X[:n_points]), model="linear",
                            weighting="none")
    assert cal.status == "failed" and cal.fit is None
    assert "too few calibrators" in cal.reasons[0] and f"{n_points} usable" in cal.reasons[0]
    with pytest.raises(QuantitationError, match="too few calibrators"):
        cal.quantify(0.3)


def test_excluded_calibrators_are_named_in_the_failure():
    pts = points(X, 0.01 * X)
    pts = [dataclasses.replace(p, used=False, response=None, reason="internal standard absent")
           if i % 2 else p for i, p in enumerate(pts)]
    cal = build_calibration("A", pts, model="linear", weighting="none")
    assert not cal.ok
    assert "S1: internal standard absent" in cal.reasons[0]


def test_low_r2_fails_the_calibration():
    rng = np.random.default_rng(5)
    y = 0.01 * X * (1 + rng.normal(0, 0.25, X.size))
    cal = build_calibration("A", points(X, y), model="linear", weighting="none",
                            acceptance=Acceptance(calibrator_tolerance_percent=100,
                                                  lowest_calibrator_tolerance_percent=100,
                                                  r2_min=0.999))
    assert not cal.ok and any("R²" in r and "below" in r for r in cal.reasons)


def test_weighting_refuses_zero_concentration():
    with pytest.raises(QuantitationError, match="above zero"):
        fit_curve([0.0, 1, 2, 3], [0, 1, 2, 3], weighting="1/x")
