"""Units of concentration and of exhibit amounts, as technicians write them.

Concentrations are mass per volume; every spelling below maps to a factor that turns
the value into µg/mL (numerically equal to mg/L). Exhibit amounts are either a mass
(``mg``, ``g``...: the result becomes a mass and a % w/w purity) or a count or size
(``tablet``, ``piece``, ``cm2``...: the result becomes mg per that unit).

A core module (it imports only :mod:`gcms.errors`): sequence intake
(:mod:`gcms.sequence`) checks a row's concentration unit against this table, and
quantitation (:mod:`gcms.quantitation`, whose ``gcms.quantitation.units`` still
re-exports these names) converts with it.
"""

from __future__ import annotations

import re

from gcms.errors import QuantitationError

__all__ = [
    "concentration_factor",
    "convert_concentration",
    "mass_factor_mg",
    "normalise_unit",
]

#: Concentration unit -> factor to µg/mL.
_CONCENTRATION_TO_UG_PER_ML = {
    "pg/ml": 1e-6, "ng/l": 1e-6,
    "ng/ml": 1e-3, "ug/l": 1e-3,
    "ug/ml": 1.0, "mg/l": 1.0, "ppm": None,  # ppm is ambiguous (w/w or w/v): refused
    "mg/ml": 1e3, "g/l": 1e3,
    "g/ml": 1e6,
}
#: Mass unit -> factor to mg.
_MASS_TO_MG = {"ng": 1e-6, "ug": 1e-3, "mg": 1.0, "g": 1e3, "kg": 1e6}


def normalise_unit(unit: str) -> str:
    """Lower-case, no blanks, micro as ``u``: ``µg/mL``, ``μg/ml``, ``mcg/mL`` -> ``ug/ml``."""
    text = re.sub(r"\s+", "", unit).lower()
    return text.replace("µ", "u").replace("μ", "u").replace("mcg", "ug")


def concentration_factor(unit: str) -> float:
    """Factor that turns a concentration in ``unit`` into µg/mL.

    Raises
    ------
    QuantitationError
        ``unit`` is not a mass-per-volume concentration this module knows.
    """
    factor = _CONCENTRATION_TO_UG_PER_ML.get(normalise_unit(unit))
    if factor is None:
        known = ", ".join(k for k, v in _CONCENTRATION_TO_UG_PER_ML.items() if v)
        raise QuantitationError(
            f"concentration unit {unit!r} is not a mass per volume this toolkit knows "
            f"({known})"
        )
    return factor


def convert_concentration(value: float, from_unit: str, to_unit: str) -> float:
    """``value`` in ``from_unit`` expressed in ``to_unit`` (both mass per volume)."""
    return value * concentration_factor(from_unit) / concentration_factor(to_unit)


def mass_factor_mg(unit: str) -> float | None:
    """Factor that turns a mass in ``unit`` into mg, or None when ``unit`` is no mass."""
    return _MASS_TO_MG.get(normalise_unit(unit))
