"""Column types of retention indices: an RI is compared only with one of the same type.

Kovats/van den Dool-Kratz retention indices depend on the stationary phase. The NIST
Chemistry WebBook and NIST's MS libraries (NIST 20 ``RI`` data; Babushok, Linstrom &
Zenkevich, J. Phys. Chem. Ref. Data 40 (2011) 043101) state each RI with one of three
column classes, which this module names:

* ``standard non-polar``: standard non-polar (100 % dimethylpolysiloxane: DB-1, HP-1, OV-101);
  NIST's ``StdNP``;
* ``semi-standard non-polar``: 5 % phenyl and similar (DB-5, HP-5MS, SE-54); NIST's
  ``SemiStdNP``;
* ``standard polar``: polyethylene glycol (Carbowax 20M, DB-WAX); NIST's ``StdPolar``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["COLUMN_TYPES", "NOT_STATED", "column_type", "column_type_of_phase", "lab_column",
           "lab_column_type", "same_column_type"]

#: The column types, in NIST's order.
COLUMN_TYPES = ("standard non-polar", "semi-standard non-polar", "standard polar")

_ALIASES = {
    "standard non-polar": "standard non-polar",
    "nonpolar": "standard non-polar", "non-polar": "standard non-polar",
    "np": "standard non-polar",
    "semi-standard non-polar": "semi-standard non-polar",
    "semi-standard nonpolar": "semi-standard non-polar",
    "semi-std-np": "semi-standard non-polar", "semi std np": "semi-standard non-polar",
    "semistandard non-polar": "semi-standard non-polar",
    "standard polar": "standard polar", "polar": "standard polar",
}

#: Stationary phases (as instrument profiles name the column) and their type.
_PHASES = (
    (r"wax|carbowax|peg|ffap|innowax|stabilwax|\bpolar\b", "standard polar"),
    (r"(^|[^0-9])(1|101)(ms|ht)?\b|dimethylpolysiloxane|ov-?101|sp-?2100|\bdb-?1|\bhp-?1|"
     r"\brtx-?1|\bzb-?1|\bsimdist", "standard non-polar"),
    (r"5\s*%|(^|[^0-9])5(ms|sil|amine)?\b|\bdb-?5|\bhp-?5|\brtx-?5|\bzb-?5|se-?54|"
     r"\bvf-?5|\bdb-?35|\bxlb", "semi-standard non-polar"),
)


def column_type(text: str | None) -> str | None:
    """The column type ``text`` names (``StdNP``, ``semi-standard non-polar``...), or None.

    Raises ``ValueError`` for a text that names none of them.
    """
    if text is None or not str(text).strip():
        return None
    from gcms.io.msp import NIST_RI_COLUMNS  # NIST's codes, as the MSP reader reads them

    key = " ".join(str(text).replace("_", " ").split()).casefold()
    if key in _ALIASES:
        return _ALIASES[key]
    if key in NIST_RI_COLUMNS:
        return NIST_RI_COLUMNS[key]
    found = column_type_of_phase(key)
    if found is None:
        raise ValueError(f"RI column type {text!r} is not one of {', '.join(COLUMN_TYPES)} "
                         "(or NIST's StdNP, SemiStdNP, StdPolar, or a stationary phase)")
    return found


def column_type_of_phase(phase: str | None) -> str | None:
    """The column type of a stationary phase or column name (``HP-5MS``, ``DB-WAX``)."""
    if not phase:
        return None
    text = str(phase).casefold()
    for pattern, kind in _PHASES:
        if re.search(pattern, text):
            return kind
    return None


def same_column_type(a: str | None, b: str | None) -> bool | None:
    """Whether two column descriptions are of one type; None when either is unknown."""
    def kind(text: str | None) -> str | None:
        try:
            return column_type(text)
        except ValueError:
            return " ".join(str(text).split()).casefold()

    ka, kb = kind(a), kind(b)
    return None if ka is None or kb is None else ka == kb


#: ``column_type_source`` of a lab whose column type neither source names.
NOT_STATED = "not stated: neither an instrument profile's [column] nor the ladder names the column"


def _profile_column_type(column: Any) -> tuple[str | None, str | None]:
    """The column type of an instrument profile's ``[column]`` and the field that gave it."""
    for name in ("ri_column_type", "phase", "name"):
        text = getattr(column, name, None)
        if text:
            try:
                found = column_type(text)
            except ValueError:
                found = None
            if found:
                return found, name
    return None, None


def _calibration_column_type(calibration_column: Mapping[str, str] | None
                             ) -> tuple[str | None, str | None]:
    """The column type a ladder's column names and the text that named it."""
    for text in (calibration_column or {}).values():
        found = column_type_of_phase(text)
        if found:
            return found, str(text)
    return None, None


def lab_column_type(*, profile_column: Any = None,
                    calibration_column: Mapping[str, str] | None = None) -> str | None:
    """The lab's column type: an instrument profile's ``[column]``, else a ladder's.

    ``profile_column``: :class:`gcms.qa.profile` column (``ri_column_type``, else its
    ``phase`` or ``name``); ``calibration_column``: the column a ladder's ``.CAL`` header
    names (``{"COLUMN_NAME": "DB-5"}``).
    """
    return lab_column(profile=profile_column,
                      calibration_column=calibration_column)["column_type"]


def lab_column(*, profile: Any = None, calibration_column: Mapping[str, str] | None = None
               ) -> dict[str, str | None]:
    """The lab's RI column type and where it comes from, as ladder evidence records it.

    ``profile``: an instrument profile (:class:`gcms.qa.InstrumentProfile`, whose
    ``[column]`` is read) or its column alone; ``calibration_column``: the column a
    ladder's ``.CAL`` header names. The profile decides where it names a type (it
    describes the column installed); the ladder's column is the fallback. Returns
    ``{"column_type": ..., "column_type_source": ...}``: the source names the profile
    and field, or the ladder's column text, or :data:`NOT_STATED` (type None).
    """
    column = getattr(profile, "column", profile)
    found, field = _profile_column_type(column) if column is not None else (None, None)
    ladder, text = _calibration_column_type(calibration_column)
    if found:
        ident = getattr(getattr(profile, "identity", None), "id", "") or ""
        source = f"instrument profile {ident} [column] {field}".replace("  ", " ")
        if ladder and ladder != found:
            source += f" (the ladder's column {text!r} would be {ladder})"
        return {"column_type": found, "column_type_source": source}
    if ladder:
        return {"column_type": ladder, "column_type_source": f"ladder column {text!r}"}
    return {"column_type": None, "column_type_source": NOT_STATED}
