"""An instrument sequence: the runs of one batch, in injection order, with their roles.

A sequence is a CSV file a technician writes (or exports from the instrument's sequence
table), one row per injection::

    file,type,sample_id,case_id,exhibit_id,reference_substance,concentration,unit
    runs/001.D,blank,LR-001,C-1,,,,
    runs/002.D,standard,LR-002,C-1,,Etizolam,25,ug/mL
    runs/014.D,sample,LR-014,C-1,FL21-1010,,,

Required columns: ``file`` and ``type`` (blank / ladder / standard / sample / qc).
Optional: ``sample_id``, ``case_id``, ``exhibit_id``, ``reference_substance`` (the
substance a standard holds; several separated by ``;``), ``concentration`` and ``unit``
(for calibration standards), ``amount``, ``amount_unit``, ``volume_ml``, ``dilution``
(for samples: how much exhibit material went into how much solvent). Unknown columns are
kept in ``extra``. Relative file paths are resolved against the CSV's own folder.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from gcms.errors import FormatError

__all__ = ["RUN_TYPES", "Injection", "RunType", "Sequence", "read_sequence"]

RunType = Literal["blank", "ladder", "standard", "sample", "qc"]
RUN_TYPES: tuple[str, ...] = ("blank", "ladder", "standard", "sample", "qc")

_KNOWN_COLUMNS = (
    "file", "type", "sample_id", "case_id", "exhibit_id", "reference_substance",
    "concentration", "unit", "amount", "amount_unit", "volume_ml", "dilution",
)
# Common spellings technicians use for the type column.
_TYPE_ALIASES = {
    "blank": "blank", "solvent blank": "blank", "solvent": "blank",
    "ladder": "ladder", "alkane": "ladder", "alkanes": "ladder", "ri": "ladder",
    "standard": "standard", "std": "standard", "calibrator": "standard",
    "calibration": "standard", "cal": "standard", "reference": "standard",
    "sample": "sample", "exhibit": "sample", "unknown": "sample", "case": "sample",
    "qc": "qc", "check": "qc", "check standard": "qc", "control": "qc",
}


@dataclass(frozen=True, slots=True)
class Injection:
    """One row of a sequence: a run file and what it is."""

    position: int
    file: Path
    type: RunType
    sample_id: str
    case_id: str | None = None
    exhibit_id: str | None = None
    reference_substances: tuple[str, ...] = ()
    concentration: float | None = None
    unit: str | None = None
    amount: float | None = None
    amount_unit: str | None = None
    volume_ml: float | None = None
    dilution: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def __reduce__(self):
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["extra"] = dict(self.extra)
        return (_rebuild_injection, (values,))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (paths as strings)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["file"] = str(self.file)
        out["reference_substances"] = list(self.reference_substances)
        out["extra"] = dict(self.extra)
        return out


def _rebuild_injection(values: dict[str, Any]) -> Injection:
    return Injection(**values)


@dataclass(frozen=True, slots=True)
class Sequence:
    """The injections of one batch, in order, and the CSV they came from."""

    path: Path
    injections: tuple[Injection, ...]

    def __iter__(self) -> Iterator[Injection]:
        return iter(self.injections)

    def __len__(self) -> int:
        return len(self.injections)

    def of_type(self, *types: str) -> tuple[Injection, ...]:
        """The injections of the given types, in sequence order."""
        return tuple(i for i in self.injections if i.type in types)

    def preceding(self, injection: Injection, *types: str) -> Injection | None:
        """The last injection of one of ``types`` run before ``injection``, if any."""
        before = [i for i in self.injections[: injection.position] if i.type in types]
        return before[-1] if before else None


def _number(text: str, *, path: Path, line: int, column: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FormatError(f"{path}: line {line}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise FormatError(f"{path}: line {line}: {column} must be finite, got {text!r}")
    if value < 0:
        raise FormatError(f"{path}: line {line}: {column} must not be negative, got {text!r}")
    return value


def read_sequence(path: str | os.PathLike) -> Sequence:
    """Read a sequence CSV (see the module docstring for its columns).

    Raises
    ------
    FormatError
        Missing required columns, an unknown run type, a non-numeric amount, a duplicate
        sample id — naming the file, the line and the column.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
            header = rows[0].keys() if rows else None
    except OSError as error:
        raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
    except (UnicodeDecodeError, csv.Error) as error:
        raise FormatError(f"{path}: not a readable CSV file ({error})") from error
    if not rows:
        raise FormatError(f"{path}: the sequence has no rows")
    columns = {(name or "").strip().lower(): name for name in header}
    missing = [c for c in ("file", "type") if c not in columns]
    if missing:
        raise FormatError(f"{path}: missing column(s) {', '.join(missing)}")

    injections = []
    seen_ids: dict[str, int] = {}
    for position, row in enumerate(rows):
        line = position + 2  # the header is line 1
        cell = {key: (row.get(original) or "").strip() for key, original in columns.items()}
        if not any(cell.values()):
            continue
        if not cell["file"]:
            raise FormatError(f"{path}: line {line}: the file column is empty")
        kind = _TYPE_ALIASES.get(cell["type"].lower())
        if kind is None:
            raise FormatError(
                f"{path}: line {line}: type {cell['type']!r} is not one of {', '.join(RUN_TYPES)}"
            )
        file = Path(cell["file"])
        if not file.is_absolute():
            file = path.parent / file
        sample_id = cell.get("sample_id") or Path(cell["file"]).stem
        if sample_id in seen_ids:
            raise FormatError(
                f"{path}: line {line}: sample_id {sample_id!r} already used on line "
                f"{seen_ids[sample_id]}"
            )
        seen_ids[sample_id] = line
        substances = tuple(
            s.strip() for s in cell.get("reference_substance", "").split(";") if s.strip()
        )
        numbers = {
            name: _number(cell.get(name, ""), path=path, line=line, column=name)
            for name in ("concentration", "amount", "volume_ml", "dilution")
        }
        if numbers["dilution"] == 0:
            raise FormatError(f"{path}: line {line}: dilution must be positive")
        extra = {key: value for key, value in cell.items() if key not in _KNOWN_COLUMNS and value}
        injections.append(
            Injection(
                position=len(injections),
                file=file,
                type=kind,
                sample_id=sample_id,
                case_id=cell.get("case_id") or None,
                exhibit_id=cell.get("exhibit_id") or None,
                reference_substances=substances,
                unit=cell.get("unit") or None,
                amount_unit=cell.get("amount_unit") or None,
                extra=extra,
                **numbers,
            )
        )
    if not injections:
        raise FormatError(f"{path}: the sequence has no rows")
    return Sequence(path=path, injections=tuple(injections))
