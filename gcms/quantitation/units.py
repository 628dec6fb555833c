"""Units of concentration and of exhibit amounts: the table lives in :mod:`gcms.units`.

Kept so that ``from gcms.quantitation.units import ...`` still works; the table moved to
a core module so that sequence intake, a lower layer, can check units without importing
quantitation.
"""

from __future__ import annotations

from gcms.units import concentration_factor, convert_concentration, mass_factor_mg, normalise_unit

__all__ = [
    "concentration_factor",
    "convert_concentration",
    "mass_factor_mg",
    "normalise_unit",
]
