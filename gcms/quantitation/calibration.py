"""Calibration curves: weighted least squares, inverse prediction with its uncertainty, limits.

Models (``x`` concentration, ``y`` response: the analyte/IS area ratio, or the area for
an external calibration)::

    linear               y = a + b·x
    linear_through_zero  y = b·x
    quadratic            y = a + b·x + c·x²

Weighting ``none``, ``1/x`` or ``1/x2``; weights are normalised to ``Σwᵢ = n`` so that
the residual standard deviation ``s`` is in response units at a calibrator of average
weight. Coefficients by weighted least squares, ``β = (XᵀWX)⁻¹XᵀWy``, with

* residual standard deviation ``s = √(Σwᵢrᵢ² / (n − p))`` (``s_y/x`` when unweighted),
  ``p`` the number of coefficients, ``rᵢ = yᵢ − ŷᵢ``;
* covariance of the coefficients ``s²(XᵀWX)⁻¹``;
* coefficient of determination ``R² = 1 − Σwᵢrᵢ² / Σwᵢ(yᵢ − ȳ_w)²`` (centred, also for
  the model through zero, so it is never inflated by the origin);
* each calibrator's back-calculated concentration ``x̂ᵢ = f⁻¹(yᵢ)`` and accuracy
  ``100·x̂ᵢ/xᵢ`` %.

**Inverse prediction.** For an unknown with response ``y₀`` (mean of ``m`` injections),
``x₀ = f⁻¹(y₀)``; for the quadratic the root on the branch the calibrators lie on. Its
standard uncertainty from the regression (delta method)::

    u(x₀)² = [ s²/(m·w₀) + gᵀ·Cov(β)·g ] / f'(x₀)²,   g = (1, x₀, x₀²) (the model's terms)

with ``w₀`` the (normalised) weight at ``x₀``. For the unweighted straight line this is
exactly the textbook formula (Miller & Miller, *Statistics and Chemometrics for
Analytical Chemistry*, eq. 5.9; ISO 8466-1; ISO 11095)::

    s_x₀ = (s_y/x / b) · √( 1/m + 1/n + (y₀ − ȳ)² / (b²·Σ(xᵢ − x̄)²) )

and for the weighted line the weighted form (Miller & Miller eq. 5.16). It covers the
scatter of the calibration and of the unknown's own injection; not the uncertainty of
the reference material, of weighing or of volumetric ware, which a laboratory adds
from its own budget.

**Limits from the calibration** (ICH Q2(R2) §8.3/8.4): ``LOD = 3.3·s₀/b₀``,
``LOQ = 10·s₀/b₀`` where ``b₀ = f'(0)`` is the slope at zero and ``s₀`` the standard
deviation of the response at the lowest accepted calibrator from the fit's variance
model, ``s₀ = s/√w(x_min)`` (``= s_y/x`` unweighted). **From blanks:**
``3.3·s_B/b₀`` and ``10·s_B/b₀`` with ``s_B`` the standard deviation of the blanks'
responses at the analyte's retention time.

**Linearity check.** Mandel's fitting test (DIN 38402-51, ISO 8466-2): with ``s₁``, ``s₂``
the residual SDs of the straight line and of the quadratic (same weights),
``F = [(n−2)s₁² − (n−3)s₂²] / s₂²`` against ``F(0.99; 1, n−3)``; significant means the
curvature is real.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array
from gcms.errors import QuantitationError
from gcms.quantitation.method import Acceptance

__all__ = [
    "Calibration",
    "CalibrationPoint",
    "Fit",
    "build_calibration",
    "fit_curve",
    "mandel_test",
]

Model = Literal["linear", "linear_through_zero", "quadratic"]
Weighting = Literal["none", "1/x", "1/x2"]

#: Powers of x in each model's design matrix.
_TERMS: dict[str, tuple[int, ...]] = {
    "linear": (0, 1),
    "linear_through_zero": (1,),
    "quadratic": (0, 1, 2),
}
#: ICH Q2 multipliers of s/b.
LOD_MULTIPLIER = 3.3
LOQ_MULTIPLIER = 10.0


def _raw_weights(x: np.ndarray, weighting: str) -> np.ndarray:
    if weighting == "none":
        return np.ones_like(x)
    if np.any(x <= 0):
        raise QuantitationError(f"weighting {weighting} needs concentrations above zero")
    return 1.0 / x if weighting == "1/x" else 1.0 / x**2


@dataclass(frozen=True, slots=True, eq=False)
class Fit:
    """A fitted calibration function and what its uncertainty needs.

    ``coefficients`` are (intercept, slope, curvature) with zeros for terms the model
    lacks; ``covariance`` is 3 × 3 on the same terms (zero rows for absent terms);
    ``weight_scale`` turns a raw weight (1, 1/x, 1/x²) into the normalised one.
    """

    model: Model
    weighting: Weighting
    coefficients: np.ndarray
    covariance: np.ndarray
    s: float
    dof: int
    n: int
    r_squared: float
    weight_scale: float
    x_range: tuple[float, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "coefficients",
                           frozen_array(self.coefficients, np.float64, name="coefficients"))
        object.__setattr__(self, "covariance", frozen_array(self.covariance, np.float64,
                                                            name="covariance", ndim=2))

    def __reduce__(self):
        return (_rebuild_fit, ({f.name: getattr(self, f.name)
                                for f in dataclasses.fields(self)},))

    @property
    def intercept(self) -> float:
        """``a`` (0 for the model through zero)."""
        return float(self.coefficients[0])

    @property
    def slope(self) -> float:
        """``b``: the slope at zero concentration."""
        return float(self.coefficients[1])

    @property
    def curvature(self) -> float:
        """``c`` of the quadratic (0 otherwise)."""
        return float(self.coefficients[2])

    def predict(self, x: ArrayLike) -> np.ndarray:
        """Response at concentration(s) ``x``."""
        x = np.asarray(x, dtype=np.float64)
        a, b, c = self.coefficients
        return a + b * x + c * x * x

    def derivative(self, x: ArrayLike) -> np.ndarray:
        """``f'(x)``: the sensitivity at ``x``."""
        return self.coefficients[1] + 2.0 * self.coefficients[2] * np.asarray(x, np.float64)

    def weight(self, x: ArrayLike) -> np.ndarray:
        """Normalised weight at ``x`` (below the range: the weight at the lowest calibrator)."""
        x = np.maximum(np.asarray(x, dtype=np.float64), self.x_range[0])
        return _raw_weights(np.atleast_1d(x), self.weighting).reshape(x.shape) * self.weight_scale

    def inverse(self, y: ArrayLike) -> np.ndarray:
        """Concentration(s) giving response ``y``; NaN where the curve never reaches it.

        For the quadratic, of the two roots the one on the branch that holds the
        calibrators (same sign of ``f'`` as at the middle of the range), computed in the
        cancellation-free form ``x = 2(y − a) / (b ± √(b² + 4c(y − a)))``.
        """
        y = np.asarray(y, dtype=np.float64)
        a, b, c = (float(v) for v in self.coefficients)
        if c == 0.0:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(b != 0, (y - a) / b, np.nan)
        d = b * b + 4.0 * c * (y - a)
        with np.errstate(invalid="ignore", divide="ignore"):
            root = np.sqrt(d)
            near = 2.0 * (y - a) / (b + np.copysign(root, b))  # the root nearest the line
            far = -(b + np.copysign(root, b)) / (2.0 * c)
            mid = 0.5 * (self.x_range[0] + self.x_range[1])
            sign = np.sign(self.derivative(mid))
            pick_near = np.sign(b + 2.0 * c * near) == sign
            x = np.where(pick_near, near, far)
        return np.where(d >= 0, x, np.nan)

    def inverse_uncertainty(self, y: ArrayLike, *, replicates: int = 1) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
        """``(x₀, u(x₀))`` for response(s) ``y`` (the formula: module notes)."""
        x0 = self.inverse(y)
        g = np.stack([np.ones_like(x0), x0, x0 * x0], axis=-1)
        model_var = np.einsum("...i,ij,...j->...", g, self.covariance, g)
        with np.errstate(invalid="ignore", divide="ignore"):
            w0 = self.weight(np.where(np.isfinite(x0), x0, self.x_range[0]))
            var = (self.s**2 / (replicates * w0) + model_var) / self.derivative(x0) ** 2
            return x0, np.sqrt(var)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (coefficients by name, covariance as nested lists)."""
        se = np.sqrt(np.clip(np.diag(self.covariance), 0, None))
        return {
            "model": self.model, "weighting": self.weighting,
            "intercept": self.intercept, "slope": self.slope, "curvature": self.curvature,
            "intercept_se": float(se[0]), "slope_se": float(se[1]),
            "curvature_se": float(se[2]),
            "covariance": self.covariance.tolist(), "residual_sd": self.s,
            "degrees_of_freedom": self.dof, "n": self.n, "r_squared": self.r_squared,
            "weight_scale": float(self.weight_scale), "x_range": list(self.x_range),
        }


def _rebuild_fit(values: dict[str, Any]) -> Fit:
    return Fit(**values)


def fit_curve(x: ArrayLike, y: ArrayLike, *, model: Model = "linear",
              weighting: Weighting = "none") -> Fit:
    """Weighted least-squares fit of one calibration model (formulas: module notes).

    Raises
    ------
    QuantitationError
        Fewer points than the model's coefficients + 1 (no residual SD), a weighting
        with a concentration ≤ 0, or a singular design (all calibrators at one level).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if model not in _TERMS:
        raise QuantitationError(f"unknown calibration model {model!r}")
    terms = _TERMS[model]
    n, p = x.size, len(terms)
    if n != y.size:
        raise QuantitationError(f"{n} concentrations but {y.size} responses")
    if n < p + 1:
        raise QuantitationError(f"a {model} calibration needs at least {p + 1} points "
                                f"(it has {n})")
    if np.unique(x).size < p:
        raise QuantitationError(f"a {model} calibration needs at least {p} distinct "
                                f"concentrations (it has {np.unique(x).size})")
    raw = _raw_weights(x, weighting)
    scale = float(n / raw.sum())
    w = raw * scale
    design = np.stack([x**k for k in terms], axis=1)
    root_w = np.sqrt(w)[:, None]
    normal = design.T @ (w[:, None] * design)
    try:
        inverse = np.linalg.inv(normal)
    except np.linalg.LinAlgError:
        raise QuantitationError("the calibration design is singular") from None
    beta, *_ = np.linalg.lstsq(root_w * design, np.sqrt(w) * y, rcond=None)
    residuals = y - design @ beta
    dof = n - p
    s = float(np.sqrt(np.sum(w * residuals**2) / dof))
    y_mean = np.sum(w * y) / np.sum(w)
    total = float(np.sum(w * (y - y_mean) ** 2))
    r2 = 1.0 - float(np.sum(w * residuals**2)) / total if total > 0 else float("nan")
    coefficients = np.zeros(3)
    covariance = np.zeros((3, 3))
    coefficients[list(terms)] = beta
    covariance[np.ix_(terms, terms)] = s**2 * inverse
    return Fit(model=model, weighting=weighting, coefficients=coefficients,
               covariance=covariance, s=s, dof=dof, n=n, r_squared=r2, weight_scale=scale,
               x_range=(float(x.min()), float(x.max())))


def mandel_test(x: ArrayLike, y: ArrayLike, *, weighting: Weighting = "none",
                alpha: float = 0.01) -> dict[str, Any] | None:
    """Mandel's fitting test of the straight line against the quadratic (module notes).

    Returns None with fewer than 4 points (no degrees of freedom for the quadratic).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.size < 4 or np.unique(x).size < 3:
        return None
    from scipy import stats

    line = fit_curve(x, y, model="linear", weighting=weighting)
    curve = fit_curve(x, y, model="quadratic", weighting=weighting)
    n = x.size
    ds2 = (n - 2) * line.s**2 - (n - 3) * curve.s**2
    f_value = ds2 / curve.s**2 if curve.s > 0 else float("inf")
    critical = float(stats.f.ppf(1.0 - alpha, 1, n - 3))
    return {"test": "Mandel (DIN 38402-51)", "F": float(f_value),
            "critical_F": critical, "alpha": alpha,
            "curvature_significant": bool(f_value > critical),
            "residual_sd_linear": line.s, "residual_sd_quadratic": curve.s}


@dataclass(frozen=True, slots=True)
class CalibrationPoint:
    """One calibrator: its nominal level, its response and what the curve makes of it."""

    sample_id: str
    concentration: float
    response: float | None
    used: bool
    back_calculated: float | None = None
    accuracy_percent: float | None = None
    residual: float | None = None
    tolerance_percent: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Calibration:
    """The calibration of one analyte in one sequence, accepted or failed (with why).

    A failed calibration (``status == "failed"``) has ``reasons`` and no usable fit:
    :meth:`quantify` raises :class:`QuantitationError` with those reasons, so a result
    that depends on it is a message, never a number.
    """

    analyte: str
    unit: str
    response: str
    model: Model
    weighting: Weighting
    status: Literal["ok", "failed"]
    points: tuple[CalibrationPoint, ...]
    fit: Fit | None = None
    reasons: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    lod: float | None = None
    loq: float | None = None
    lod_blank: float | None = None
    loq_blank: float | None = None
    blank_note: str | None = None
    loq_basis: str = "lowest_calibrator"
    reporting_loq: float | None = None
    mandel: dict[str, Any] | None = None
    coverage_factor: float | None = None
    limits: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether results may be computed from this calibration."""
        return self.status == "ok" and self.fit is not None

    @property
    def range(self) -> tuple[float, float] | None:
        """Lowest and highest accepted calibrator."""
        return self.fit.x_range if self.fit is not None else None

    def quantify(self, response: float, *, replicates: int = 1) -> tuple[float, float]:
        """Concentration and its standard uncertainty (k = 1) for one response.

        Raises
        ------
        QuantitationError
            The calibration failed (the message gives its reasons), or the response is
            beyond what the curve can reach.
        """
        if not self.ok:
            raise QuantitationError(f"calibration of {self.analyte} failed: "
                                    + "; ".join(self.reasons))
        x0, u = self.fit.inverse_uncertainty(np.asarray(response), replicates=replicates)
        if not np.isfinite(x0):
            raise QuantitationError(f"{self.analyte}: response {response:.4g} is beyond what "
                                    f"the {self.model} calibration reaches")
        return float(x0), float(u)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``calibration.json``)."""
        out = {
            "analyte": self.analyte, "unit": self.unit, "response": self.response,
            "model": self.model, "weighting": self.weighting, "status": self.status,
            "reasons": list(self.reasons), "flags": list(self.flags),
            "fit": self.fit.to_dict() if self.fit is not None else None,
            "points": [p.to_dict() for p in self.points],
            "range": list(self.range) if self.range else None,
            "lod": self.lod, "loq": self.loq,
            "lod_loq_rule": (f"ICH Q2: {LOD_MULTIPLIER}*s0/b and {LOQ_MULTIPLIER}*s0/b, "
                             "s0 = residual SD of the fit at the lowest calibrator "
                             "(s_y/x when unweighted), b = slope at zero"),
            "lod_blank": self.lod_blank, "loq_blank": self.loq_blank,
            "blank_note": self.blank_note,
            "loq_basis": self.loq_basis, "reporting_loq": self.reporting_loq,
            "linearity": self.mandel, "coverage_factor": self.coverage_factor,
            "acceptance": dict(self.limits),
        }
        return out


def _limits_from(fit: Fit) -> tuple[float | None, float | None]:
    slope0 = float(fit.derivative(0.0))
    if slope0 <= 0:
        return None, None
    s0 = fit.s / float(np.sqrt(fit.weight(fit.x_range[0])))
    return LOD_MULTIPLIER * s0 / slope0, LOQ_MULTIPLIER * s0 / slope0


def build_calibration(
    analyte: str,
    points: Sequence[CalibrationPoint],
    *,
    model: Model,
    weighting: Weighting,
    acceptance: Acceptance | None = None,
    unit: str = "ug/mL",
    response: str = "area ratio",
    blank_responses: ArrayLike | None = None,
) -> Calibration:
    """Fit, apply the acceptance rules, and compute the limits of one analyte's calibration.

    ``points`` carry every calibrator of the sequence; those with ``used=False`` (IS
    absent, saturated, not detected) stay excluded with their ``reason``. Then:

    1. fewer accepted levels than ``acceptance.min_calibrators`` (and never fewer than
       the model's coefficients + 2) fails the calibration;
    2. fit; each calibrator's back-calculated accuracy is judged against its tolerance
       (``lowest_calibrator_tolerance_percent`` for the lowest accepted level,
       ``calibrator_tolerance_percent`` for the others);
    3. with ``reject_calibrators``, the calibrator furthest outside (relative to its
       tolerance) is rejected and the curve refitted, at most ``max_rejected_calibrators``
       times and never below the minimum; a calibrator still outside then fails the
       calibration, as do R² below ``r2_min``, a slope that is not positive, and a
       quadratic that turns over inside the calibrated range;
    4. LOD/LOQ from the fit, from ``blank_responses`` (≥ 2 needed) and the reporting LOQ
       by ``acceptance.loq_basis``.
    """
    acceptance = acceptance or Acceptance()
    limits = {"min_calibrators": acceptance.min_calibrators, "r2_min": acceptance.r2_min,
              "calibrator_tolerance_percent": acceptance.calibrator_tolerance_percent,
              "lowest_calibrator_tolerance_percent":
                  acceptance.lowest_calibrator_tolerance_percent,
              "reject_calibrators": acceptance.reject_calibrators,
              "max_rejected_calibrators": acceptance.max_rejected_calibrators}
    common = {"analyte": analyte, "unit": unit, "response": response, "model": model,
              "weighting": weighting, "loq_basis": acceptance.loq_basis, "limits": limits}
    points = list(points)
    needed = max(acceptance.min_calibrators, len(_TERMS[model]) + 2)
    rejected: dict[int, str] = {}

    def failed(*reasons: str, fit: Fit | None = None) -> Calibration:
        final = [dataclasses.replace(p, used=p.used and i not in rejected,
                                     reason=rejected.get(i, p.reason))
                 for i, p in enumerate(points)]
        if fit is not None:
            final = _back_calculate(final, fit, acceptance)
        return Calibration(status="failed", points=tuple(final), reasons=tuple(reasons),
                           **common)

    while True:
        active = [i for i, p in enumerate(points) if p.used and i not in rejected]
        if len(active) < needed:
            excluded = [f"{p.sample_id}: {p.reason or 'rejected'}" for i, p in
                        enumerate(points) if not p.used or i in rejected]
            detail = f" (excluded: {'; '.join(excluded)})" if excluded else ""
            return failed(f"too few calibrators: {len(active)} usable, the method needs "
                          f"at least {needed}{detail}")
        x = np.array([points[i].concentration for i in active])
        y = np.array([points[i].response for i in active])
        try:
            fit = fit_curve(x, y, model=model, weighting=weighting)
        except QuantitationError as error:
            return failed(str(error))
        judged = _back_calculate([points[i] for i in active], fit, acceptance)
        badness = np.array([
            abs(p.accuracy_percent - 100.0) / p.tolerance_percent
            if p.accuracy_percent is not None else np.inf for p in judged])
        worst = int(np.argmax(badness))
        if (badness[worst] > 1.0 and acceptance.reject_calibrators
                and len(rejected) < acceptance.max_rejected_calibrators
                and len(active) - 1 >= needed):
            p = judged[worst]
            rejected[active[worst]] = (
                f"rejected: back-calculated {_fmt(p.back_calculated)} {unit} "
                f"({_fmt(p.accuracy_percent)} % of nominal) outside "
                f"±{p.tolerance_percent:g} %")
            continue
        break

    final = [dataclasses.replace(p, used=p.used and i not in rejected,
                                 reason=rejected.get(i, p.reason)) for i, p in enumerate(points)]
    final = _back_calculate(final, fit, acceptance)
    reasons: list[str] = []
    flags = [f"{points[i].sample_id} {why}" for i, why in rejected.items()]
    outside = [p for p in final if p.used and p.accuracy_percent is not None
               and abs(p.accuracy_percent - 100.0) > p.tolerance_percent]
    for p in outside:
        reasons.append(f"calibrator {p.sample_id} ({p.concentration:g} {unit}) back-calculates "
                       f"to {_fmt(p.accuracy_percent)} % of nominal, outside "
                       f"±{p.tolerance_percent:g} %")
    if not fit.r_squared >= acceptance.r2_min:
        reasons.append(f"R² {fit.r_squared:.4f} below the method's minimum "
                       f"{acceptance.r2_min:g}")
    low, high = fit.x_range
    slopes = fit.derivative(np.array([low, high]))
    if np.any(slopes <= 0):
        reasons.append("the calibration curve is not increasing over the calibrated range "
                       f"({low:g}-{high:g} {unit})")
    mandel = None
    if model != "linear_through_zero":
        active_x = np.array([p.concentration for p in final if p.used])
        active_y = np.array([p.response for p in final if p.used])
        mandel = mandel_test(active_x, active_y, weighting=weighting)
        if mandel and model == "linear" and mandel["curvature_significant"]:
            flags.append("Mandel's test finds significant curvature: consider the quadratic")
    if reasons:
        return dataclasses.replace(failed(*reasons, fit=fit), flags=tuple(flags),
                                   mandel=mandel)
    lod, loq = _limits_from(fit)
    lod_blank = loq_blank = None
    blank_note = None
    blanks = np.asarray(blank_responses if blank_responses is not None else [], np.float64)
    slope0 = float(fit.derivative(0.0))
    if blanks.size < 2:
        blank_note = f"{blanks.size} blank(s) measured: at least 2 needed for s_blank"
    else:
        sd = float(np.std(blanks, ddof=1))
        if sd > 0:
            lod_blank, loq_blank = LOD_MULTIPLIER * sd / slope0, LOQ_MULTIPLIER * sd / slope0
            blank_note = (f"{blanks.size} blanks, mean response {np.mean(blanks):.4g}, "
                          f"s_blank {sd:.4g}")
        else:
            blank_note = (f"all {blanks.size} blanks give the same response "
                          f"({blanks[0]:.4g}): no blank scatter to estimate from (the "
                          "acquisition threshold removes the noise)")
    reporting = {"lowest_calibrator": low, "calibration": loq, "blanks": loq_blank}
    reporting_loq = reporting[acceptance.loq_basis]
    if reporting_loq is None:
        flags.append(f"LOQ basis {acceptance.loq_basis!r} not estimable: the lowest "
                     "calibrator is used")
        reporting_loq = low
    from scipy import stats

    k = acceptance.coverage_factor or float(stats.t.ppf(0.975, fit.dof))
    return Calibration(status="ok", points=tuple(final), fit=fit, flags=tuple(flags),
                       lod=lod, loq=loq, lod_blank=lod_blank, loq_blank=loq_blank,
                       blank_note=blank_note, reporting_loq=reporting_loq, mandel=mandel,
                       coverage_factor=k, **common)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _back_calculate(points: list[CalibrationPoint], fit: Fit,
                    acceptance: Acceptance) -> list[CalibrationPoint]:
    used = [p.concentration for p in points if p.used]
    lowest = min(used) if used else None
    out = []
    for p in points:
        if p.response is None:
            out.append(p)
            continue
        x_hat = float(fit.inverse(p.response))
        accuracy = 100.0 * x_hat / p.concentration if np.isfinite(x_hat) else None
        tolerance = (acceptance.lowest_calibrator_tolerance_percent
                     if p.concentration == lowest else acceptance.calibrator_tolerance_percent)
        out.append(dataclasses.replace(
            p, back_calculated=x_hat if np.isfinite(x_hat) else None,
            accuracy_percent=accuracy, tolerance_percent=tolerance,
            residual=float(p.response - fit.predict(p.concentration))))
    return out
