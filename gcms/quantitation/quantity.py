"""Results: a concentration with its uncertainty and flags, and the amount in the exhibit.

A :class:`Quantity` is what one run says about one substance. Its ``status`` is one of

* ``quantified`` — a number that may be reported (``reportable`` is True);
* ``below LOQ`` — detected, under the reporting LOQ: no number is reported (the
  estimate is kept in ``estimate`` for review only);
* ``not detected`` — no peak meeting the detection rule (no number);
* ``above range`` — above the top calibrator: the number is an extrapolation, flagged,
  not reportable (dilute and re-inject);
* ``not confirmed`` — a number, but the retention time or a qualifier-ion ratio does
  not match the sequence's reference standard, or the internal standard's area or ion
  ratios differ from the calibrators'; not reportable;
* ``not reportable`` — no number can be given: failed calibration, internal standard
  absent or saturated, quantifier saturated; ``message`` says which.

The amount in the exhibit follows from the sequence columns of the sample
(``volume_ml`` of extract, ``dilution`` factor before injection, ``amount`` and
``amount_unit`` of exhibit material)::

    mass in extract (mg) = c (µg/mL) · dilution · volume_ml / 1000
    purity (% w/w)       = 100 · mass / (amount in mg)           when amount_unit is a mass
    per unit (mg/unit)   = mass / amount                          otherwise (tablet, piece, cm2)

Their uncertainties carry the concentration's relative uncertainty (the weighing and
volumetric contributions belong to the lab's own budget and are not included).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from gcms.quantitation.integration import Integration
from gcms.quantitation.units import concentration_factor, mass_factor_mg
from gcms.sequence import Injection

__all__ = ["Amount", "CheckResult", "QualifierCheck", "Quantity", "amount_in_exhibit"]

Status = Literal["quantified", "below LOQ", "not detected", "above range", "not confirmed",
                 "not reportable"]
Role = Literal["unknown", "calibrator", "check", "blank"]


@dataclass(frozen=True, slots=True)
class QualifierCheck:
    """One qualifier ion: its area ratio to the quantifier against the standards' ratio."""

    mz: float
    ratio: float | None
    reference: float | None
    tolerance_percent: float | None
    passed: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class CheckResult:
    """A check standard (or calibrator) against its nominal concentration."""

    nominal: float
    found: float | None
    recovery_percent: float | None
    tolerance_percent: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Amount:
    """How much of the substance the exhibit held (mg, % w/w, mg per unit)."""

    concentration_in_extract: float | None = None
    unit: str = ""
    mass_mg: float | None = None
    mass_uncertainty_mg: float | None = None
    purity_percent: float | None = None
    purity_uncertainty_percent: float | None = None
    per_unit_mg: float | None = None
    per_unit_uncertainty_mg: float | None = None
    per_unit: str | None = None
    formula: str = ""
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Quantity:
    """One substance in one run: the concentration in the injected solution, and why.

    ``uncertainty`` is the standard uncertainty from the regression (k = 1);
    ``expanded_uncertainty`` is ``coverage_factor`` times it.
    """

    substance: str
    role: Role
    status: Status
    reportable: bool
    unit: str
    concentration: float | None = None
    uncertainty: float | None = None
    expanded_uncertainty: float | None = None
    coverage_factor: float | None = None
    estimate: float | None = None
    flags: tuple[str, ...] = ()
    message: str | None = None
    response: float | None = None
    lod: float | None = None
    loq: float | None = None
    rt_s: float | None = None
    integration: Integration | None = None
    qualifiers: tuple[QualifierCheck, ...] = ()
    internal_standard: str | None = None
    amount: Amount | None = None
    check: CheckResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the keys of a ``results.json`` quantitation entry."""
        return {
            "substance": self.substance, "role": self.role, "status": self.status,
            "reportable": self.reportable, "concentration": self.concentration,
            "unit": self.unit, "uncertainty": self.uncertainty,
            "uncertainty_basis": "standard error of inverse prediction from the "
                                 "calibration regression (k = 1)",
            "expanded_uncertainty": self.expanded_uncertainty,
            "coverage_factor": self.coverage_factor, "flags": list(self.flags),
            "message": self.message, "estimate": self.estimate,
            "amount_in_exhibit": self.amount.to_dict() if self.amount else None,
            "check": self.check.to_dict() if self.check else None,
            "response": self.response, "internal_standard": self.internal_standard,
            "lod": self.lod, "loq": self.loq, "rt_s": self.rt_s,
            "qualifiers": [q.to_dict() for q in self.qualifiers],
            "integration": self.integration.to_dict() if self.integration else None,
        }


def amount_in_exhibit(concentration: float, uncertainty: float | None, unit: str,
                      injection: Injection) -> Amount:
    """The amount in the exhibit from the sample's sequence columns (module notes)."""
    dilution = injection.dilution if injection.dilution is not None else 1.0
    extract = concentration * dilution
    formula = "c x dilution x volume_ml"
    if injection.volume_ml is None:
        return Amount(concentration_in_extract=extract, unit=unit, formula=formula,
                      message="no volume_ml in the sequence: the amount in the exhibit "
                              "cannot be computed")
    relative = (uncertainty / concentration) if uncertainty is not None and concentration else None
    mass_mg = extract * concentration_factor(unit) * injection.volume_ml / 1000.0
    out = Amount(concentration_in_extract=extract, unit=unit, mass_mg=mass_mg,
                 mass_uncertainty_mg=abs(mass_mg * relative) if relative is not None else None,
                 formula=formula)
    if injection.amount is None or injection.amount == 0:
        return dataclasses.replace(out, message="no amount of exhibit material in the "
                                                "sequence: mass in the extract only")
    if not injection.amount_unit:
        return dataclasses.replace(out, message=f"amount {injection.amount:g} has no "
                                                "amount_unit: purity not computed")
    to_mg = mass_factor_mg(injection.amount_unit)
    if to_mg is not None:
        purity = 100.0 * mass_mg / (injection.amount * to_mg)
        return dataclasses.replace(
            out, purity_percent=purity,
            purity_uncertainty_percent=abs(purity * relative) if relative is not None else None,
            formula=formula + "; % w/w = 100 x mass / amount")
    per_unit = mass_mg / injection.amount
    return dataclasses.replace(
        out, per_unit_mg=per_unit, per_unit=f"mg per {injection.amount_unit}",
        per_unit_uncertainty_mg=abs(per_unit * relative) if relative is not None else None,
        formula=formula + "; per unit = mass / amount")
