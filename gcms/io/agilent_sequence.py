"""What an Agilent ``.D`` folder records of its own injection, and a sequence drafted from it.

Every Agilent run folder holds the vendor's record of the injection:

* MassHunter GC/MS acquisition writes ``AcqData/sequence.xml`` (the run's row of the
  sequence table: ``SampleName``, ``SampleType``, ``Vial``, ``Dilution``,
  ``AcqMethodFileName``, ``AcqOperator``, ``DataFileName``...) and
  ``AcqData/sample_info.xml`` (``<Field>`` name/value pairs: ``Sample Name``,
  ``Sample Type``, ``Sample ID``, ``Sample Position``, ``Dilution``, ``Inj Vol (µl)``,
  ``Method``, ``OperatorName``, ``AcqTime``, ``RunCompletedFlag``...);
* ChemStation MSD writes them into the ``data.ms`` header (sample name, operator, date,
  method, tune file, vial; no sample type), read by :mod:`gcms.io.agilent`.

:func:`read_injection` reads them (the XML first, the ``data.ms`` header where there is
no XML) and :func:`draft_sequence` turns the runs, in acquisition order, into the rows of
a sequence CSV (:mod:`gcms.sequence`) for the analyst to confirm.

Vendor sample types -> sequence types (:data:`VENDOR_TYPES`)
------------------------------------------------------------
================================================  ===========
MassHunter ``SampleType``                         type
================================================  ===========
Blank, MatrixBlank, DoubleBlank, SolventBlank     blank
Calibration                                       standard
QC, CC (continuing calibration), ResponseCheck,   qc
TuneCheck, Matrix, MatrixDup, MatrixSpike,
Check
Sample                                            sample
================================================  ===========

The vendor's type is the lab's record and is taken as it is, except where the sample
name says more than the type (:data:`NAME_RULES`): labs often leave check standards as
"Sample" and name them so (LRCFS 23 Feb 2022: "40ug/mL Etizolam Check standard", type
Sample), and ChemStation records no type at all. Such a type, and everything read from
a sample name (a standard's substance, concentration and unit; a sample's exhibit id),
is a guess: it is listed in the row's ``x_confirm`` column, and ``gcms sequence check``
refuses the row until the analyst has confirmed it and emptied the cell. The sample id is
the vendor's ``Sample ID`` where given, else the data file's name (unique per
injection); the vendor's sample name, type, the rule that gave the type, vial, method,
tune file, operator and acquisition time are kept in ``x_`` columns.
"""

from __future__ import annotations

import csv
import io
import os
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gcms._files import write_atomic
from gcms.errors import FormatError
from gcms.identifiers import IdentifierError, check_identifier

__all__ = [
    "DRAFT_COLUMNS",
    "NAME_RULES",
    "VENDOR_TYPES",
    "DraftRow",
    "VendorInjection",
    "draft_sequence",
    "read_injection",
    "write_draft",
]

#: MassHunter sample type (lower case, no blanks) -> sequence type (module docstring).
VENDOR_TYPES: Mapping[str, str] = MappingProxyType({
    "blank": "blank", "matrixblank": "blank", "doubleblank": "blank",
    "solventblank": "blank",
    "calibration": "standard",
    "qc": "qc", "cc": "qc", "responsecheck": "qc", "tunecheck": "qc", "matrix": "qc",
    "matrixdup": "qc", "matrixspike": "qc", "check": "qc",
    "sample": "sample",
})
#: Sample-name patterns that give a type where the vendor's type is "Sample" or absent,
#: checked in order (a guess, marked for the analyst to confirm).
NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ladder", re.compile(r"\b(alkanes?|ladder|ri\s*std|c\d+\s*-\s*c\d+)\b", re.I)),
    ("blank", re.compile(r"\b(blank|blk|solvent)\b", re.I)),
    ("qc", re.compile(r"\b(check\s*st(andar)?d|check|qc|control)\b", re.I)),
    ("standard", re.compile(r"\b(cal(ibration|ibrator)?|std|standard)\b", re.I)),
)
#: Columns of a drafted sequence, in order.
DRAFT_COLUMNS: tuple[str, ...] = (
    "file", "type", "sample_id", "case_id", "exhibit_id", "reference_substance",
    "concentration", "unit", "dilution", "x_sample_name", "x_vendor_type", "x_type_from",
    "x_vial", "x_method", "x_tune_file", "x_operator", "x_acquired_utc", "x_vendor_record",
    "x_confirm",
)
_MAX_XML_BYTES = 16 << 20  # a run's sequence.xml / sample_info.xml is a few kB
# "25ug/mL Etizolam", "Etizolam 25 ug/mL", "250 ng/ml cocaine QC"
_AMOUNT = r"(?P<value>\d+(?:\.\d+)?)\s*(?P<mass>[uµμnm]?g)\s*/\s*(?P<volume>[uµμm]?l)"
_LEVEL_FIRST = re.compile(rf"^\s*{_AMOUNT}\s+(?P<name>.+?)\s*$", re.I)
_LEVEL_LAST = re.compile(rf"^\s*(?P<name>.+?)\s+{_AMOUNT}\s*$", re.I)
_NAME_NOISE = re.compile(r"\b(check\s*st(andar)?d|cal(ibration|ibrator)?|std|standard|qc|"
                         r"level\s*\d+)\b", re.I)


@dataclass(frozen=True, slots=True)
class VendorInjection:
    """What one run folder records of its injection (None where it records nothing)."""

    folder: Path
    source: str
    sample_name: str | None = None
    sample_id: str | None = None
    vendor_type: str | None = None
    vial: str | None = None
    dilution: str | None = None
    method: str | None = None
    tune_file: str | None = None
    operator: str | None = None
    acquired_utc: str | None = None
    injection_volume_ul: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


def _xml_root(path: Path) -> ElementTree.Element:
    try:
        size = path.stat().st_size
        if size > _MAX_XML_BYTES:
            raise FormatError(f"{path}: {size} bytes, too large for a run's sample record "
                              f"(at most {_MAX_XML_BYTES})")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise FormatError(f"{path}: cannot read: {error.strerror or error}") from error
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise FormatError(f"{path}: declares a DTD or entities, which a vendor sample record "
                          f"never does (refused)")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise FormatError(f"{path}: not readable XML ({error})") from None


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _sample_info(path: Path) -> dict[str, str]:
    root = _xml_root(path)
    out = {}
    for item in root.iter("Field"):
        name, value = _text(item.findtext("Name")), _text(item.findtext("Value"))
        if name and value:
            out[name] = value
    return out


def _sequence_row(path: Path, stem: str) -> dict[str, str]:
    root = _xml_root(path)
    rows = [{child.tag: (child.text or "").strip() for child in row}
            for row in root.iter("Sequence")]
    if not rows:
        return {}
    matching = [r for r in rows if r.get("DataFileName", "").lower() == stem.lower()]
    return matching[0] if matching else rows[0] if len(rows) == 1 else {}


def _utc(text: str | None) -> str | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + (
        "Z" if moment.tzinfo is not None else "")


def read_injection(folder: str | os.PathLike) -> VendorInjection:
    """The vendor's record of the injection of one ``.D`` folder (module docstring).

    Raises
    ------
    FormatError
        Not a folder, or a folder with neither ``AcqData/sequence.xml``,
        ``AcqData/sample_info.xml`` nor a readable ``data.ms``; an unreadable XML file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FormatError(f"{folder}: not a run folder (.D)")
    stem = folder.name[:-2] if folder.name.upper().endswith(".D") else folder.name
    acq = folder / "AcqData"
    info_path, sequence_path = acq / "sample_info.xml", acq / "sequence.xml"
    info = _sample_info(info_path) if info_path.is_file() else {}
    row = _sequence_row(sequence_path, stem) if sequence_path.is_file() else {}
    if info or row:
        sources = [p.relative_to(folder).as_posix() for p, held in
                   ((sequence_path, row), (info_path, info)) if held]
        method = _text(row.get("AcqMethodFileName")) or _text(info.get("Method"))
        if method and ("\\" in method or "/" in method):
            method = re.split(r"[\\/]", method.rstrip("\\/"))[-1]
        tune = next((v for k, v in info.items() if v.lower().endswith(".u")), None)
        return VendorInjection(
            folder=folder, source=" + ".join(sources),
            sample_name=_text(row.get("SampleName")) or _text(info.get("Sample Name")),
            sample_id=_text(info.get("Sample ID")),
            vendor_type=_text(row.get("SampleType")) or _text(info.get("Sample Type")),
            vial=_text(row.get("Vial")) or _text(info.get("Sample Position")),
            dilution=_text(row.get("Dilution")) or _text(info.get("Dilution")),
            method=method, tune_file=tune,
            operator=_text(info.get("OperatorName")) or _text(row.get("AcqOperator")),
            acquired_utc=_utc(info.get("AcqTime")),
            injection_volume_ul=_text(info.get("Inj Vol (µl)"))
            or _text(row.get("InjectorVolume")),
            fields={**{f"sequence.{k}": v for k, v in row.items() if v},
                    **{f"sample_info.{k}": v for k, v in info.items()}})
    data = folder / "data.ms"
    if not data.is_file():
        raise FormatError(f"{folder}: no AcqData/sequence.xml, AcqData/sample_info.xml or "
                          f"data.ms: the folder records nothing of its injection")
    from gcms.io.agilent import read as read_chemstation

    meta = read_chemstation(data).metadata
    acquired = meta.acquired_at
    return VendorInjection(
        folder=folder, source="data.ms header", sample_name=_text(meta.sample_name),
        vial=_text(meta.extra.get("vial")), method=_text(meta.method),
        tune_file=_text(meta.tune_file), operator=_text(meta.operator),
        acquired_utc=(acquired.astimezone(timezone.utc).replace(tzinfo=None)
                      .isoformat(timespec="seconds") + "Z") if acquired else None,
        fields={f"data.ms.{k}": str(v) for k, v in meta.extra.items()})


# --------------------------------------------------------------------------- drafting
@dataclass(frozen=True, slots=True)
class DraftRow:
    """One drafted row: the CSV cells and the fields that are guesses."""

    cells: Mapping[str, str]
    guessed: tuple[str, ...]
    injection: VendorInjection


def _unit(mass: str, volume: str) -> str:
    mass = mass.lower().replace("µ", "u").replace("μ", "u")
    volume = volume.lower().replace("µ", "u").replace("μ", "u")
    return f"{mass}/{ {'ml': 'mL', 'l': 'L', 'ul': 'uL'}[volume] }".replace(" ", "")


def _level(name: str) -> tuple[str, str, str] | None:
    """(substance, concentration, unit) read from a standard's name, or None."""
    for pattern in (_LEVEL_FIRST, _LEVEL_LAST):
        match = pattern.match(name)
        if match:
            substance = " ".join(_NAME_NOISE.sub(" ", match["name"]).split())
            if substance:
                return substance, match["value"], _unit(match["mass"], match["volume"])
    return None


def _type_of(injection: VendorInjection) -> tuple[str, str, bool]:
    """(type, the rule that gave it, whether it is a guess)."""
    vendor = (injection.vendor_type or "").strip()
    mapped = VENDOR_TYPES.get(re.sub(r"[\s_-]+", "", vendor.lower())) if vendor else None
    name = injection.sample_name or ""
    if mapped is not None and mapped != "sample":
        return mapped, f"vendor type {vendor}", False
    for kind, pattern in NAME_RULES:
        if kind != "standard" and pattern.search(name):
            origin = f"vendor type {vendor}" if vendor else "no vendor type"
            return kind, f"sample name {name!r} ({origin})", True
    if mapped == "sample":
        return "sample", f"vendor type {vendor}", False
    if _level(name) is not None or NAME_RULES[-1][1].search(name):
        return "standard", f"sample name {name!r} (no vendor type)", True
    return "sample", "no vendor type: sample assumed", True


def draft_sequence(folders: Iterable[str | os.PathLike], *,
                   relative_to: str | os.PathLike | None = None) -> list[DraftRow]:
    """Draft sequence rows from run folders, in acquisition order (module docstring).

    ``relative_to``: the folder the CSV will be written in; runs under it are named by
    relative paths. Raises :class:`FormatError` naming a folder that records nothing.
    """
    injections = [read_injection(folder) for folder in folders]
    if not injections:
        raise FormatError("no run folders given")
    order = sorted(range(len(injections)), key=lambda i: (
        injections[i].acquired_utc is None, injections[i].acquired_utc or "",
        injections[i].folder.name))
    base = Path(relative_to).resolve() if relative_to is not None else None
    rows = []
    for index in order:
        injection = injections[index]
        kind, rule, type_guessed = _type_of(injection)
        guessed = ["type"] if type_guessed else []
        folder = injection.folder.resolve()
        if base is not None and folder.is_relative_to(base):
            file = folder.relative_to(base).as_posix()
        else:
            file = str(folder)
        stem = folder.name[:-2] if folder.name.upper().endswith(".D") else folder.name
        sample_id = injection.sample_id or stem
        try:
            sample_id = check_identifier(sample_id, "sample_id")
        except IdentifierError:
            sample_id = check_identifier(re.sub(r"[^\w.-]+", "_", stem), "sample_id")
        cells = {"file": file, "type": kind, "sample_id": sample_id}
        name = injection.sample_name or ""
        if kind in ("standard", "qc"):
            level = _level(name)
            if level is not None:
                cells["reference_substance"], cells["concentration"], cells["unit"] = level
                guessed += ["reference_substance", "concentration", "unit"]
            elif kind == "standard":
                cells["reference_substance"] = ""
                guessed.append("reference_substance")
        elif kind == "sample" and name:
            try:
                cells["exhibit_id"] = check_identifier(name, "exhibit_id")
                guessed.append("exhibit_id")
            except IdentifierError:
                pass
        if injection.dilution:
            cells["dilution"] = injection.dilution
        cells.update({
            "x_sample_name": name, "x_vendor_type": injection.vendor_type or "",
            "x_type_from": rule, "x_vial": injection.vial or "",
            "x_method": injection.method or "", "x_tune_file": injection.tune_file or "",
            "x_operator": injection.operator or "",
            "x_acquired_utc": injection.acquired_utc or "",
            "x_vendor_record": injection.source,
            "x_confirm": " ".join(guessed),
        })
        rows.append(DraftRow(cells=MappingProxyType(cells), guessed=tuple(guessed),
                             injection=injection))
    return rows


def mapping_lines() -> list[str]:
    """The vendor-type mapping (:data:`VENDOR_TYPES`), one ``"a, b -> type"`` per type."""
    grouped: dict[str, list[str]] = {}
    for vendor, kind in VENDOR_TYPES.items():
        grouped.setdefault(kind, []).append(vendor)
    return [f"{', '.join(names)} -> {kind}" for kind, names in grouped.items()]


def write_draft(rows: Iterable[DraftRow], path: str | os.PathLike) -> Path:
    """Write drafted rows as a sequence CSV, with comment lines stating the type mapping.

    Cells are made safe for a spreadsheet (:func:`gcms.identifiers.spreadsheet_safe`);
    the file is written through a temporary file and a rename.
    """
    from gcms.identifiers import spreadsheet_safe

    rows = list(rows)
    path = Path(path)
    buffer = io.StringIO()
    buffer.write("# sequence drafted by 'gcms sequence import' from the runs' own records "
                 "(AcqData/sequence.xml, sample_info.xml, or the data.ms header)\n")
    buffer.write("# vendor sample type -> type: " + "; ".join(mapping_lines()) + "\n")
    buffer.write("# a type not given by the vendor, or read from the sample name, and every "
                 "value read from a sample name is a guess listed in x_confirm: check it, "
                 "then empty x_confirm ('gcms sequence check' refuses the row until then)\n")
    writer = csv.DictWriter(buffer, fieldnames=list(DRAFT_COLUMNS), lineterminator="\n",
                            extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: spreadsheet_safe(row.cells.get(key, ""))
                         for key in DRAFT_COLUMNS})
    write_atomic(path, buffer.getvalue())
    return path


def summary(rows: Iterable[DraftRow]) -> dict[str, Any]:
    """Counts per type and the number of rows with guesses (for the command's output)."""
    rows = list(rows)
    types: dict[str, int] = {}
    for row in rows:
        types[row.cells["type"]] = types.get(row.cells["type"], 0) + 1
    return {"n_runs": len(rows), "types": types,
            "to_confirm": sum(1 for row in rows if row.guessed)}
