"""An instrument sequence: the runs of one batch, in injection order, with their roles.

A sequence is a CSV file a technician writes (or drafts from the instrument's own records
with ``gcms sequence import``, :mod:`gcms.io.agilent_sequence`), one row per injection::

    file,type,sample_id,case_id,exhibit_id,reference_substance,concentration,unit
    runs/001.D,blank,LR-001,C-1,,,,
    runs/002.D,standard,LR-002,C-1,,Etizolam,25,ug/mL
    runs/014.D,sample,LR-014,C-1,FL21-1010,,,

Columns (:data:`COLUMNS`; header names are matched ignoring case, spaces and hyphens, so
``Sample ID`` is ``sample_id``):

=====================  ==================================================================
``file``               the run file or folder (required); relative paths are resolved
                       against the CSV's own folder
``type``               blank / ladder / standard / sample / qc (required; common
                       spellings such as ``Calibration`` or ``check standard`` accepted)
``sample_id``          the injection's id (default: the file's stem); unique
``case_id``            the case, ``exhibit_id`` the exhibit a sample was taken from
``reference_substance`` the substance(s) a standard or qc holds, separated by ``;``
                       (required for a standard)
``concentration``      nominal concentration of a standard or qc, in ``unit`` (a mass per
                       volume: ug/mL, mg/L, ng/mL...)
``amount``             exhibit material taken, in ``amount_unit`` (mg, g, tablet...)
``volume_ml``          extract volume; ``dilution`` the factor before injection (> 0)
``x_...``              the lab's own columns, kept in :attr:`Injection.extra`
=====================  ==================================================================

Intake is strict, and every problem is reported at once (:func:`check_sequence`), each
naming the file, the line and the column; :func:`read_sequence` refuses a sequence with
any error, so nothing is processed until the whole sequence is valid:

* a column that is not in :data:`COLUMNS` is an error (with the closest known name when
  it looks like a misspelling: ``refernce_substance`` -> ``reference_substance``) unless
  its name starts with ``x_``;
* per row: a known run type, the columns that type requires, numbers that are numbers
  (finite, not negative), known concentration units, case / exhibit / sample ids that
  pass :func:`gcms.identifiers.check_identifier` (no bidirectional controls, invisible
  characters or formula characters), no hidden characters in any cell;
* the evidence: every injection writes its own file, so two rows naming the same file
  (the same path, or a link to it) or files with the same content (SHA-256 of the data
  files, ``data.ms`` / ``MSScan.bin``... for a ``.D`` folder) are an error naming both
  lines. Each file is hashed once, and a path seen before is never hashed again, so even
  10,000 rows are checked in seconds. A missing file is a warning: the batch reports
  that run as not processed, and processes the others;
* rows guessed by ``gcms sequence import`` carry the guessed fields in ``x_confirm``:
  such a row is an error until the analyst has checked them and emptied the cell.

Lines that start with ``#`` before the header are comments.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from gcms.errors import FormatError
from gcms.identifiers import IdentifierError, check_identifier, check_text

__all__ = [
    "COLUMNS",
    "CONFIRM_COLUMN",
    "RUN_TYPES",
    "Injection",
    "Problem",
    "RunType",
    "Sequence",
    "SequenceCheck",
    "SequenceError",
    "check_evidence",
    "check_sequence",
    "read_sequence",
    "run_type",
]

RunType = Literal["blank", "ladder", "standard", "sample", "qc"]
RUN_TYPES: tuple[str, ...] = ("blank", "ladder", "standard", "sample", "qc")

#: The columns a sequence may have (module docstring), with what each holds.
COLUMNS: Mapping[str, str] = MappingProxyType({
    "file": "run file or folder",
    "type": "blank / ladder / standard / sample / qc",
    "sample_id": "the injection's id",
    "case_id": "case number",
    "exhibit_id": "exhibit a sample was taken from",
    "reference_substance": "substance(s) a standard or qc holds, ';'-separated",
    "concentration": "nominal concentration of a standard or qc",
    "unit": "unit of the concentration (mass per volume)",
    "amount": "exhibit material taken",
    "amount_unit": "unit of the amount",
    "volume_ml": "extract volume, mL",
    "dilution": "dilution factor before injection",
})
#: Columns the lab adds for itself start with this prefix.
EXTRA_PREFIX = "x_"
#: The column ``gcms sequence import`` lists its guessed fields in.
CONFIRM_COLUMN = "x_confirm"
#: Columns every row must fill, and those a run type must fill too.
REQUIRED: tuple[str, ...] = ("file", "type")
REQUIRED_BY_TYPE: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "standard": ("reference_substance",),
})
_IDENTIFIERS = ("sample_id", "case_id", "exhibit_id")
_NUMBERS = ("concentration", "amount", "volume_ml", "dilution")

# Common spellings technicians use for the type column.
_TYPE_ALIASES = {
    "blank": "blank", "solvent blank": "blank", "solvent": "blank", "blk": "blank",
    "ladder": "ladder", "alkane": "ladder", "alkanes": "ladder", "ri": "ladder",
    "standard": "standard", "std": "standard", "calibrator": "standard",
    "calibration": "standard", "cal": "standard", "reference": "standard",
    "sample": "sample", "exhibit": "sample", "unknown": "sample", "case": "sample",
    "qc": "qc", "check": "qc", "check standard": "qc", "control": "qc",
}
# Files that hold a run's data inside a run folder (:func:`_data_parts`).
_DATA_SUFFIXES = (".ms", ".ch", ".cdf", ".mzml", ".mzxml", ".jdx", ".dx")
_MASSHUNTER_DATA = ("MSScan.bin", "MSPeak.bin", "MSProfile.bin")
_HASH_CHUNK = 1 << 20


def run_type(text: str) -> RunType | None:
    """The run type a spelling of the type column stands for, or None."""
    return _TYPE_ALIASES.get(" ".join(text.strip().lower().split()))  # type: ignore[return-value]


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
    """The injections of one batch, in order, and the CSV they came from.

    ``sha256`` is that of the CSV's bytes as read (None for a sequence built in Python);
    ``evidence_checked`` says that :func:`check_evidence` found no file used twice.
    """

    path: Path
    injections: tuple[Injection, ...]
    sha256: str | None = None
    evidence_checked: bool = False

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


# --------------------------------------------------------------------------- problems
@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a sequence: where (file, line, column) and what."""

    file: str
    line: int | None
    column: str | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def where(self) -> str:
        """``seq.csv line 4, column exhibit_id`` (as much as is known)."""
        text = self.file
        if self.line is not None:
            text += f" line {self.line}"
        if self.column:
            text += f", column {self.column}"
        return text

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"file": self.file, "line": self.line, "column": self.column,
                "severity": self.severity, "message": self.message}


class SequenceError(FormatError):
    """A sequence with errors: every one is in :attr:`problems` and in the message."""

    def __init__(self, path: str | os.PathLike, problems: tuple[Problem, ...]) -> None:
        self.path = str(path)
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        lines = [f"{path}: {len(errors)} problem{'s' if len(errors) != 1 else ''} in the "
                 f"sequence; nothing was processed:"]
        lines += [f"  {p}" for p in errors]
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class SequenceCheck:
    """The outcome of :func:`check_sequence`: every problem, and the sequence if valid."""

    path: Path
    sha256: str | None
    problems: tuple[Problem, ...]
    sequence: Sequence | None
    n_rows: int

    @property
    def errors(self) -> tuple[Problem, ...]:
        """The problems that make the sequence invalid."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems that do not stop a batch (a missing run file: that run is skipped)."""
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def text(self) -> str:
        """What ``gcms sequence check`` prints."""
        verdict = (f"{self.path}: valid, {self.n_rows} injections" if self.ok else
                   f"{self.path}: INVALID, {len(self.errors)} error"
                   f"{'s' if len(self.errors) != 1 else ''}")
        if self.warnings:
            verdict += f", {len(self.warnings)} warning{'s' if len(self.warnings) != 1 else ''}"
        lines = [verdict]
        lines += [f"  error: {p}" for p in self.errors]
        lines += [f"  warning: {p}" for p in self.warnings]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``gcms sequence check --json``)."""
        return {"path": str(self.path), "sha256": self.sha256, "valid": self.ok,
                "n_rows": self.n_rows, "problems": [p.to_dict() for p in self.problems]}


# --------------------------------------------------------------------------- reading
def _column_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def _number(text: str) -> tuple[float | None, str | None]:
    """(value, problem) of a numeric cell."""
    text = text.strip()
    if not text:
        return None, None
    try:
        value = float(text)
    except ValueError:
        head = text.split()[0] if text.split() else text
        if "," in text and text.replace(",", "", 1).replace(".", "", 1).isdigit():
            return None, f"{text!r} is not a number (write the decimal with a point)"
        try:
            float(head)
        except ValueError:
            return None, f"{text!r} is not a number"
        return None, f"{text!r} is not a number (put the unit in its own column)"
    if not math.isfinite(value):
        return None, f"must be finite, got {text!r}"
    if value < 0:
        return None, f"must not be negative, got {text!r}"
    return value, None


def _concentration_unit_problem(unit: str) -> str | None:
    from gcms.errors import QuantitationError
    from gcms.units import concentration_factor

    try:
        concentration_factor(unit)
    except QuantitationError as error:
        return str(error)
    return None


def _decode(path: Path) -> tuple[str, str]:
    """(text, sha256) of a sequence file, read once."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FormatError(f"{path}: not a UTF-8 text file (byte {error.start}: "
                          f"{error.reason}); save the sequence as CSV UTF-8") from None
    return text, hashlib.sha256(data).hexdigest()


def check_sequence(path: str | os.PathLike, *, evidence: bool = True) -> SequenceCheck:
    """Check a sequence CSV and collect every problem (module docstring).

    Problems in the file's content are returned, never raised.

    Parameters
    ----------
    path
        The sequence CSV.
    evidence
        Also check the run files named (the same file twice; missing files).

    Raises
    ------
    FormatError
        The file cannot be opened or is not UTF-8 text.
    """
    path = Path(path)
    text, sha256 = _decode(path)
    where = str(path)
    problems: list[Problem] = []

    def problem(line: int | None, column: str | None, message: str,
                severity: Literal["error", "warning"] = "error") -> None:
        problems.append(Problem(where, line, column, message, severity))

    def done(sequence: Sequence | None = None, n_rows: int = 0) -> SequenceCheck:
        return SequenceCheck(path, sha256, tuple(problems),
                             sequence if not any(p.severity == "error" for p in problems)
                             else None, n_rows)

    # Comment lines before the header are blanked (line numbers stay those of the file).
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.lstrip().startswith("#"):
            lines[index] = "\n"
        elif line.strip():
            break
    reader = csv.reader(io.StringIO("".join(lines)))
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if header is None:
                if any(c.strip() for c in cells):
                    header, header_line = cells, reader.line_num
                continue
            if any(c.strip() for c in cells):
                rows.append((reader.line_num, cells))
    except csv.Error as error:
        problem(reader.line_num, None, f"not readable as CSV ({error})")
        return done()
    if header is None:
        problem(None, None, "the file is empty: no header, no rows")
        return done()

    # -- the header
    index_of: dict[str, int] = {}
    known = tuple(COLUMNS)
    for number, raw in enumerate(header):
        name = raw.strip()
        key = _column_key(name)
        label = name or f"#{number + 1}"
        if not name:
            if any(len(cells) > number and cells[number].strip() for _, cells in rows):
                problem(header_line, label, "this column has values but no name")
            continue
        try:
            check_text(name, "column name")
        except IdentifierError as error:
            problem(header_line, label, str(error))
            continue
        if key.startswith(EXTRA_PREFIX):
            pass
        elif key not in COLUMNS:
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
            hint = (f"did you mean {close[0]!r}?" if close else
                    f"known columns: {', '.join(known)}")
            problem(header_line, name, f"unknown column {name!r}: {hint} (a column of the "
                                       f"lab's own must start with {EXTRA_PREFIX!r})")
            continue
        if key in index_of:
            problem(header_line, name, f"column {key!r} appears twice (columns "
                                       f"{index_of[key] + 1} and {number + 1})")
            continue
        index_of[key] = number
    missing = [c for c in REQUIRED if c not in index_of]
    if missing:
        problem(header_line, ", ".join(missing),
                f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
        return done()
    if not rows:
        problem(None, None, "the sequence has no rows")
        return done()

    # -- the rows
    width = len(header)
    injections: list[Injection] = []
    evidence_rows: list[tuple[int, Path, str]] = []
    seen_ids: dict[str, int] = {}
    for line, cells in rows:
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            problem(line, None, f"{len(cells)} cells but the header names {width} columns "
                                f"(a comma inside a value must be quoted)")
        cell = {key: cells[i].strip() if i < len(cells) else ""
                for key, i in index_of.items()}
        row_ok = True
        for key, value in cell.items():
            if value and key not in _IDENTIFIERS:
                try:
                    cell[key] = check_text(value, key)
                except IdentifierError as error:
                    problem(line, key, str(error))
                    row_ok = False
        if not cell["file"]:
            problem(line, "file", "empty: every row names its run file")
            row_ok = False
        kind = run_type(cell["type"])
        if kind is None:
            close = difflib.get_close_matches(cell["type"].lower(), list(_TYPE_ALIASES),
                                              n=1, cutoff=0.6)
            hint = f" (did you mean {_TYPE_ALIASES[close[0]]!r}?)" if close else ""
            problem(line, "type", (f"type {cell['type']!r} is not one of "
                                   f"{', '.join(RUN_TYPES)}{hint}") if cell["type"] else
                    f"empty: one of {', '.join(RUN_TYPES)}")
            row_ok = False
        else:
            for column in REQUIRED_BY_TYPE.get(kind, ()):
                if not cell.get(column):
                    problem(line, column, f"a {kind} must give its {column} "
                                          f"({COLUMNS[column]})")
                    row_ok = False
        ids: dict[str, str | None] = {}
        for key in _IDENTIFIERS:
            value = cell.get(key, "")
            if key == "sample_id" and not value and cell["file"]:
                value = Path(cell["file"].replace("\\", "/").rstrip("/")).stem
            if not value:
                ids[key] = None
                continue
            try:
                ids[key] = check_identifier(value, key)
            except IdentifierError as error:
                problem(line, key, str(error))
                ids[key], row_ok = value, False
        sample_id = ids["sample_id"]
        if sample_id is not None:
            if sample_id in seen_ids:
                problem(line, "sample_id", f"sample_id {sample_id!r} already used on line "
                                           f"{seen_ids[sample_id]}")
                row_ok = False
            else:
                seen_ids[sample_id] = line
        numbers: dict[str, float | None] = {}
        for key in _NUMBERS:
            value, trouble = _number(cell.get(key, ""))
            if trouble:
                problem(line, key, f"{key} {trouble}")
                row_ok = False
            numbers[key] = value
        if numbers["dilution"] == 0:
            problem(line, "dilution", "dilution must be positive (1 for an undiluted extract)")
            row_ok = False
        if numbers["volume_ml"] == 0:
            problem(line, "volume_ml", "volume_ml must be positive")
            row_ok = False
        unit = cell.get("unit") or None
        if numbers["concentration"] is not None:
            if kind in ("blank", "ladder", "sample"):
                problem(line, "concentration",
                        f"a {kind} has no nominal concentration (only a standard or qc "
                        f"does; a sample's is what the batch measures)")
                row_ok = False
            if unit is None:
                problem(line, "unit", "no unit for the concentration: the quantitation "
                                      "method's unit will be assumed", "warning")
        elif unit is not None and not cell.get("concentration"):
            problem(line, "unit", "a unit without a concentration")
            row_ok = False
        if unit is not None and (trouble := _concentration_unit_problem(unit)):
            problem(line, "unit", trouble)
            row_ok = False
        if numbers["amount"] is not None and not cell.get("amount_unit"):
            problem(line, "amount_unit", "an amount without its unit (mg, g, tablet...): "
                                         "no purity can be computed", "warning")
        if cell.get("amount_unit") and numbers["amount"] is None and not cell.get("amount"):
            problem(line, "amount_unit", "a unit without an amount")
            row_ok = False
        if kind == "sample" and ids["exhibit_id"] is None and "exhibit_id" in index_of:
            problem(line, "exhibit_id", "a sample without exhibit_id: its findings belong "
                                        "to no exhibit", "warning")
        guessed = cell.get(CONFIRM_COLUMN, "")
        if guessed:
            problem(line, CONFIRM_COLUMN, f"guessed by 'gcms sequence import', not yet "
                                          f"confirmed: {guessed} (check them against the "
                                          f"lab's records, then empty the cell)")
            row_ok = False
        file = Path(cell["file"])
        if not file.is_absolute():
            file = path.parent / file
        if cell["file"]:
            evidence_rows.append((line, file, sample_id or cell.get("sample_id", "")))
        if not row_ok:
            continue
        extra = {key: value for key, value in cell.items()
                 if key.startswith(EXTRA_PREFIX) and value}
        injections.append(Injection(
            position=len(injections), file=file, type=kind, sample_id=sample_id,
            case_id=ids["case_id"], exhibit_id=ids["exhibit_id"],
            reference_substances=tuple(s.strip() for s in cell.get("reference_substance",
                                                                   "").split(";")
                                       if s.strip()),
            unit=unit, amount_unit=cell.get("amount_unit") or None, extra=extra, **numbers))
    if evidence:
        problems.extend(_evidence_problems(where, evidence_rows))
    sequence = Sequence(path=path, injections=tuple(injections), sha256=sha256,
                        evidence_checked=evidence)
    return done(sequence, len(rows))


def read_sequence(path: str | os.PathLike, *, evidence: bool = True) -> Sequence:
    """Read a sequence CSV (module docstring), refusing it when it has any error.

    Raises
    ------
    SequenceError
        Every error of the sequence (a :class:`FormatError`), each naming the file, the
        line and the column; :attr:`SequenceError.problems` holds them one by one.
    FormatError
        The file cannot be opened or is not text.
    """
    result = check_sequence(path, evidence=evidence)
    if not result.ok:
        raise SequenceError(path, result.problems)
    assert result.sequence is not None  # noqa: S101 - ok means a sequence was built
    return result.sequence


# --------------------------------------------------------------------------- evidence
def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _data_parts(folder: Path) -> list[Path]:
    """The data-bearing files of a run folder.

    Its top-level data files (``data.ms``, ``*.ch``...) and MassHunter's
    ``AcqData/MS{Scan,Peak,Profile}.bin``; method, tune and log files are the same in every
    run of a sequence and say nothing of identity. A folder with none of these is
    represented by one file of its own: the manifest of every file's hash (returned as the
    folder itself, hashed by :func:`_folder_manifest_sha256`).
    """
    parts = []
    for child in sorted(folder.iterdir()):
        if child.is_file() and child.suffix.lower() in _DATA_SUFFIXES:
            parts.append(child)
    acq = folder / "AcqData"
    parts += [acq / name for name in _MASSHUNTER_DATA if (acq / name).is_file()]
    return [p for p in parts if p.stat().st_size > 0] or [folder]


def _folder_manifest_sha256(folder: Path) -> str:
    lines = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            lines.append(f"{_file_sha256(full)}  {full.relative_to(folder).as_posix()}\n")
    return hashlib.sha256("".join(sorted(lines)).encode("utf-8")).hexdigest()


def _identity(path: Path) -> tuple[Any, ...]:
    try:
        stat = path.stat()
    except OSError:
        return ("path", os.path.normcase(os.path.abspath(path)))
    return ("inode", stat.st_dev, stat.st_ino)


def check_evidence(sequence: Sequence) -> list[Problem]:
    """Problems with the run files of ``sequence``: one file used twice, missing files.

    Two injections may not name the same path (or a link to the same file), nor files
    with the same SHA-256: every injection writes its own file, and a run counted twice
    (as two calibrators) changes the calibration and its uncertainty. Each distinct file
    is hashed once (for a run folder: its data files, not the method and tune files every
    run of a sequence shares). Lines in the messages are the injection's position + 2
    (the CSV line when the sequence has no blank rows).
    """
    return _evidence_problems(str(sequence.path), [
        (i.position + 2, i.file, i.sample_id) for i in sequence.injections])


def _evidence_problems(where: str, rows: list[tuple[int, Path, str]]) -> list[Problem]:
    """:func:`check_evidence` on ``(line, file, sample_id)`` rows."""
    problems: list[Problem] = []
    by_identity: dict[tuple[Any, ...], tuple[int, str]] = {}
    by_digest: dict[str, tuple[int, str, str]] = {}
    for line, path, sample_id in rows:
        identity = _identity(path)
        first = by_identity.get(identity)
        if first is not None:
            problems.append(Problem(where, line, "file", (
                f"{path} is the file of line {first[0]} (sample_id {first[1]!r}) too: "
                f"every injection writes its own file")))
            continue
        by_identity[identity] = (line, sample_id)
        if not path.exists():
            problems.append(Problem(where, line, "file", (
                f"{path}: no such file or folder (the batch will report this run as not "
                f"processed)"), "warning"))
            continue
        try:
            parts = _data_parts(path) if path.is_dir() else [path]
            digests = [(_folder_manifest_sha256(p) if p.is_dir() else _file_sha256(p), p)
                       for p in parts]
        except OSError as error:
            problems.append(Problem(where, line, "file", (
                f"{path}: cannot read: {error.strerror or error}"), "warning"))
            continue
        for digest, part in digests:
            seen = by_digest.get(digest)
            if seen is not None and seen[0] != line:
                same = ("" if part == path or part.is_dir()
                        else f" ({part.relative_to(path).as_posix()})")
                problems.append(Problem(where, line, "file", (
                    f"{path}{same} holds the same data (SHA-256 {digest[:16]}...) as "
                    f"{seen[2]}, the file of line {seen[0]} (sample_id {seen[1]!r}): every "
                    f"injection writes its own file")))
                break
            by_digest.setdefault(digest, (line, sample_id, str(part)))
    return problems
