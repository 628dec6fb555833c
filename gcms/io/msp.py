"""MSP / NIST text libraries and AMDIS ``.MSL`` files: read every entry, write MSP and MSL.

One format, many dialects. Each entry is a block of ``Key: value`` lines that starts with
``Name:``, then ``Num Peaks: n`` and the n (m/z, intensity) pairs::

    Name: Caffeine
    Synon: 1,3,7-Trimethylxanthine
    CAS#: 58-08-2;  NIST#: 1234
    Formula: C8H10N4O2
    MW: 194
    Num Peaks: 3
    55 120; 82 150; 194 999

What the reader accepts (the NIST, SWGDRUG, MassBank/MoNA, AMDIS ``.MSL``, Golm, PNNL,
MS-DIAL/RECETOX and mssearchr exports seen in the wild):

* keys in any case, with or without spaces/underscores (``Num Peaks``, ``NUM PEAKS``,
  ``num_peaks``); ``KEY=value`` lines are fields too; several NIST fields on one line
  (``CAS#: 50-00-0;  NIST#: 123``) are split where the next key ends in ``#``;
* entries separated by blank lines or simply by the next ``Name:`` line;
* peaks one pair per line or several per line, separated by spaces, tabs, ``;``, ``,``
  or ``:``, bare or wrapped as ``(mz int)``, ``(mz,int)``, ``[mz; int]``, ``{mz,int}``,
  with trailing quoted annotations (``"p-CH3/1.2"``), in plain or scientific notation.

Field mapping (see :func:`read_entries`): ``Name``; ``Synon`` (every one, in order;
NIST's coded synonyms ``Synon: $:28...`` are metadata, kept in ``extra["$:28"]``, not
names); ``CAS#``/``CASNO``/``CAS`` (checked and written ``NNNNNNN-NN-N``, see
:func:`normalize_cas`); ``Formula``/``FORM``; ``MW``; ``InChIKey``; ``RI`` /
``Retention_index`` / ``RETENTIONINDEX`` (NIST's ``SemiStdNP=1404/7/125 StdNP=...``
form included, with the column type; ``1234 (DB-5MS)`` keeps the stated column);
``RI_column``; ``RT`` / ``RetentionTime``
(minutes unless the value carries ``s``); ``Comments``/``Comment`` (``"key=value"``
pairs also parsed into ``extra["msp.comment.<key>"]``). Every other field goes to
``extra`` under its key as the file spells it.

Decisions a library build depends on, each deliberate:

* **Skipped entries** (reported as :class:`~gcms.io.SkippedEntry`, never silently
  dropped, never half-read): no ``Name``; no ``Num Peaks`` line; ``Num Peaks`` that
  disagrees with the pairs that follow (a truncated or merged entry); a peak value that
  is not a number (``NaN`` included); a peak at an m/z outside 0.5 to 5,000 (the value
  named; :data:`gcms.io._common.MZ_LIMITS`); a negative intensity;
  no peak of positive intensity; a non-numeric ``MW``/``RI``/``RT``; a name holding
  control characters.
* **Zero-intensity peaks are dropped** and the entry kept: they carry no signal (NIST
  and AMDIS write them for masses that were scanned but absent) and would only dilute a
  similarity score. Their number is kept in ``extra["msp.zero_intensity_peaks"]``.
* **Placeholders mean "not stated"**: ``0``, negative values, ``NA``, ``N/A``, empty
  values for CAS, MW, RI and RT (AMDIS writes ``RI: 0``, MS-DIAL ``RETENTIONTIME: -1``).
* **Text encoding**: each entry is decoded as UTF-8; where that fails, as Windows-1252
  (what NIST MS Search and AMDIS write on Windows), and as Latin-1 where cp1252 has no
  character for a byte; ``extra["msp.encoding"]`` then names the codec used. Bytes are
  never dropped. A name cut by a NUL byte (a C string with stale buffer bytes after
  it, as some AMDIS exports hold) keeps the text before the NUL.

Keys under ``msp.`` in ``extra`` describe how the source was read; :func:`write` leaves
them out (the ``msp.comment.*`` ones come back from the comment when read again).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import math
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gcms.errors import FormatError
from gcms.io._common import (
    MZ_LIMITS,
    EntryReport,
    SkippedEntry,
    decode_text,
    evidence_bytes,
    peak_problem,
)
from gcms.spectrum import Spectrum

__all__ = ["normalize_cas", "read_entries", "sniff", "write", "write_msl"]

_BOM = b"\xef\xbb\xbf"
_LF, _CR = re.compile(b"\n"), re.compile(b"\r")
_NAME_LINE = re.compile(rb"^[ \t]*(?:\xef\xbb\xbf)?name[ \t]*:", re.IGNORECASE | re.MULTILINE)
_NUM_PEAKS_HEAD = re.compile(rb"^[ \t]*num[ _]?peaks[ \t]*:", re.IGNORECASE | re.MULTILINE)
# AMDIS .ELU files (deconvolution results) also have NAME / NUM PEAKS lines; their names
# start with the component's field list "|SC<scan>|CN<n>|...". They are not libraries.
_ELU_NAME = re.compile(rb"^[ \t]*name[ \t]*:[ \t]*\|SC\d", re.IGNORECASE | re.MULTILINE)

_NUM_PEAKS_LINE = re.compile(r"^[ \t]*num[ _]?peaks[ \t]*:[ \t]*([^\n]*)$",
                             re.IGNORECASE | re.MULTILINE)
_BLANK_LINE = re.compile(r"\n[ \t\r]*(?:\n|$)")
_QUOTED = re.compile(r'"[^"\n]*"')
# Separators and brackets of every peak-list style become spaces before splitting.
_PEAK_SEPARATORS = str.maketrans({c: " " for c in ";,:()[]{}\t\r\n\f\v"})
_NOT_NUMERIC = re.compile(r"[^0-9.eE+\- ]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# "CAS#: 50-00-0;  NIST#: 123" - another field starts after ';' where its key ends in '#'.
_SUBFIELD = re.compile(r";\s*(?=[A-Za-z][\w ]*#\s*:)")
_NIST_RI = re.compile(r"([A-Za-z][\w]*)\s*=\s*([-+]?\d+(?:\.\d*)?)(/[^\s]*)?")
_COMMENT_QUOTED = re.compile(r'"([^"=]+)=([^"]*)"')
_COMMENT_PLAIN = re.compile(r"^\s*([A-Za-z][\w .#/-]*?)\s*=\s*(.*?)\s*$")
_CODED_SYNONYM = re.compile(r"^\$:(\d\d)(.*)$", re.DOTALL)
_RT_VALUE = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)$")

#: Values that mean "the file does not say".
_NULL_VALUES = frozenset({"", "na", "n/a", "nan", "none", "null", "-", "unknown", "?"})

#: NIST retention-index column classes, as NIST MS Search names them in its exports,
#: in the order a drug laboratory prefers them (5%-phenyl columns are the norm).
NIST_RI_COLUMNS = {
    "semistdnp": "semi-standard non-polar",
    "s": "semi-standard non-polar",
    "stdnp": "standard non-polar",
    "n": "standard non-polar",
    "stdpolar": "standard polar",
    "polar": "standard polar",
    "p": "standard polar",
}
_NIST_RI_CODES = {
    "semi-standard non-polar": "SemiStdNP",
    "standard non-polar": "StdNP",
    "standard polar": "StdPolar",
}

# Normalised key (lower case, no spaces/underscores/dashes) -> field.
_FIELDS = {
    "name": "name",
    "synon": "synonym", "synonym": "synonym", "synonyms": "synonym",
    "cas#": "cas", "casno": "cas", "cas": "cas", "casnumber": "cas", "casrn": "cas",
    "cas#no": "cas",
    "formula": "formula", "form": "formula", "molecularformula": "formula",
    "mw": "mw", "molweight": "mw", "molecularweight": "mw",
    "inchikey": "inchikey",
    "ri": "ri", "retentionindex": "ri", "retindex": "ri",
    "ricolumn": "ri_column",
    "rt": "rt", "retentiontime": "rt", "rettime": "rt",
    "comments": "comment", "comment": "comment",
}

_SINGLE_VALUED = ("cas", "formula", "mw", "inchikey", "ri_column", "rt", "comment")


def _norm_key(key: str) -> str:
    return key.lower().replace(" ", "").replace("_", "").replace("-", "")


@functools.lru_cache(maxsize=4096)
def _field_of(key: str) -> str | None:
    """The Spectrum field a file's key maps to (cached: libraries repeat a few keys)."""
    return _FIELDS.get(_norm_key(key))


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``head`` holds MSP/MSL entries: a ``Name:`` line and a ``Num Peaks:`` line.

    AMDIS ``.ELU`` deconvolution files share the two keys but are not libraries (their
    names start with ``|SC``); they are not claimed.
    """
    if not head:
        return False
    return bool(
        _NAME_LINE.search(head)
        and _NUM_PEAKS_HEAD.search(head)
        and not _ELU_NAME.search(head)
    )


# --------------------------------------------------------------------------- fields
def normalize_cas(value: str) -> str | None:
    """A CAS Registry Number in the form ``NNNNNNN-NN-N``, or ``None`` where none is stated.

    Accepts the dashed form and NIST's digits-only form (``74828`` is ``74-82-8``).
    The check digit is verified: the last digit equals the sum of the other digits,
    each multiplied by its position counted from the right, modulo 10 (CAS's rule).

    Raises
    ------
    ValueError
        The value is not a CAS number (wrong shape or check digit).
    """
    text = value.strip()
    if text.lower() in _NULL_VALUES or text.strip("0- ") == "":
        return None
    if re.fullmatch(r"\d{2,7}-\d{2}-\d", text):
        digits = text.replace("-", "")
    elif re.fullmatch(r"\d{5,10}", text):
        digits = text.lstrip("0")
        if len(digits) < 5:
            raise ValueError(f"{value!r} is too short for a CAS number")
    else:
        raise ValueError(f"{value!r} is not a CAS number")
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (i + 1) for i, d in enumerate(reversed(body)))
    if total % 10 != check:
        raise ValueError(f"{value!r} fails the CAS check digit")
    return f"{body[:-2]}-{body[-2:]}-{check}"


class _BadEntry(Exception):
    """An entry that cannot be read; the message is the reason."""


def _number(value: str, field: str) -> float | None:
    """A positive finite number, ``None`` for placeholders; raises on text."""
    text = value.strip()
    if text.lower() in _NULL_VALUES:
        return None
    if re.fullmatch(r"[-+]?\d+,\d+", text):  # decimal comma (European exports)
        text = text.replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        raise _BadEntry(f"{field} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise _BadEntry(f"{field} is not a finite number: {value!r}")
    return number if number > 0 else None


def _retention_time_s(value: str) -> float | None:
    text = value.strip()
    if text.lower() in _NULL_VALUES:
        return None
    if re.fullmatch(r"[-+]?\d+,\d+\s*[A-Za-z]*", text):  # decimal comma
        text = text.replace(",", ".")
    match = _RT_VALUE.match(text)
    if not match:
        raise _BadEntry(f"retention time is not a number: {value!r}")
    number, unit = float(match.group(1)), match.group(2).lower()
    if not math.isfinite(number):
        raise _BadEntry(f"retention time is not a finite number: {value!r}")
    if number <= 0:
        return None
    if unit in ("", "min", "mins", "minute", "minutes", "m"):
        return number * 60.0
    if unit in ("s", "sec", "secs", "second", "seconds"):
        return number
    raise _BadEntry(f"retention time has an unknown unit: {value!r}")


def _nist_retention_index(value: str) -> tuple[float, str | None] | None:
    """NIST's ``SemiStdNP=1404/7/125 StdNP=1361/11/49`` form: the preferred column's RI."""
    found: dict[str, float] = {}
    for code, number, _rest in _NIST_RI.findall(value):
        ri = float(number)
        if ri > 0 and math.isfinite(ri):
            found.setdefault(code.lower(), ri)
    if not found:
        return None
    for code in ("semistdnp", "s", "stdnp", "n", "stdpolar", "polar", "p"):
        if code in found:
            return found[code], NIST_RI_COLUMNS[code]
    code, ri = next(iter(found.items()))
    return ri, code


def _comment_pairs(comment: str) -> dict[str, str]:
    """``key=value`` pairs of a comment: MoNA's ``"key=value"`` tokens, else ``;`` parts."""
    pairs = _COMMENT_QUOTED.findall(comment)
    if not pairs:
        pairs = [m.groups() for part in comment.split(";")
                 if (m := _COMMENT_PLAIN.match(part))]
    out: dict[str, str] = {}
    for key, value in pairs:
        key = key.strip()
        if key and key not in out:
            out[key] = value.strip()
    return out


# --------------------------------------------------------------------------- entries
# One match per line: "key: value" / "key=value" (whichever separator comes first), or
# a line with neither (group 4). Blank lines match with every group empty.
_HEADER_LINE = re.compile(
    r"^[ \t]*(?:([^:=\n]*?[^:=\s])[ \t]*([:=])[ \t]*(.*?)|(.*?))[ \t]*$", re.MULTILINE
)


def _header_fields(header: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``(key, value)`` pairs of the header lines, and the lines that are neither."""
    fields: list[tuple[str, str]] = []
    unkeyed: list[str] = []
    for key, separator, value, other in _HEADER_LINE.findall(header):
        if not separator:
            if other:
                unkeyed.append(other)
            continue
        if separator == ":" and ";" in value and "#" in value:
            parts = _SUBFIELD.split(value)
            fields.append((key, parts[0].strip().rstrip(";").rstrip()))
            for part in parts[1:]:
                sub_key, _, sub_value = part.partition(":")
                fields.append((sub_key.strip(), sub_value.strip().rstrip(";").rstrip()))
            continue
        fields.append((key, value))
    return fields, unkeyed


class _Entry:
    """Metadata of one entry as parsed (peaks are converted in bulk afterwards)."""

    __slots__ = ("extra", "fields", "name", "ordinal", "peak_text", "line", "n_peaks")

    def __init__(self, ordinal: int, line: int) -> None:
        self.ordinal = ordinal
        self.line = line
        self.name: str | None = None
        self.fields: dict = {}
        self.extra: dict[str, str] = {}
        self.peak_text = ""
        self.n_peaks = 0

    def label(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        return f"{self.ordinal}{name} (line {self.line})"


def _parse_header(entry: _Entry, fields: list[tuple[str, str]], unkeyed: list[str]) -> None:
    """Fill ``entry`` from the header fields; raises :class:`_BadEntry`."""
    values = entry.fields
    extra = entry.extra
    synonyms: list[str] = []
    for key, value in fields:
        field = _field_of(key)
        if field is None:
            _keep_extra(extra, key, value)
            continue
        if field == "name":
            continue  # taken by _name_of (records are split at Name lines: one each)
        if field == "synonym":
            coded = _CODED_SYNONYM.match(value)
            if coded:
                _keep_extra(extra, f"$:{coded.group(1)}", coded.group(2).strip())
            elif value and value not in synonyms:
                synonyms.append(value)
        elif field == "ri":
            _take_retention_index(values, extra, key, value)
        elif field in _SINGLE_VALUED:
            parsed = _parse_single(field, value)
            if parsed is _NOT_CAS:
                _keep_extra(extra, key, value)  # stated, but not a CAS number: keep the text
                continue
            if parsed is None:
                continue
            if field not in values:
                values[field] = parsed
            elif values[field] != parsed:
                _keep_extra(extra, key, value)
    comment = values.get("comment")
    if comment:
        for key, value in _comment_pairs(comment).items():
            extra[f"msp.comment.{key}"] = value
        _fill_from_comment(values, entry.extra)
    if unkeyed:
        extra["msp.unkeyed"] = "\n".join(unkeyed)
    values["synonyms"] = tuple(synonyms)


_NOT_CAS = object()


def _keep_extra(extra: dict[str, str], key: str, value: str) -> None:
    if not value:
        return  # an empty field states nothing
    if key not in extra:
        extra[key] = value
    elif value and value not in extra[key].split("; "):
        extra[key] = f"{extra[key]}; {value}"


def _parse_single(field: str, value: str):
    if field == "cas":
        try:
            return normalize_cas(value.strip().rstrip(";"))
        except ValueError:
            return _NOT_CAS
    if field == "mw":
        return _number(value, "MW")
    if field == "rt":
        return _retention_time_s(value)
    value = value.strip()
    return value if value.lower() not in _NULL_VALUES else None


def _take_retention_index(values: dict, extra: dict[str, str], key: str, value: str) -> None:
    text = value.strip()
    if text.lower() in _NULL_VALUES:
        return
    if "=" in text:
        parsed = _nist_retention_index(text)
        if parsed is None:
            raise _BadEntry(f"{key} is not a retention index: {value!r}")
        if "ri" not in values:
            values["ri"], values["ri_column"] = parsed
        _keep_extra(extra, key, text)
        return
    match = _RI_WITH_COLUMN.fullmatch(text)
    ri = _number(match.group(1) if match else text, key)  # raises on text
    if ri is None:
        return
    column = ((match.group(2) or match.group(3) or "").strip() or None) if match else None
    if "ri" not in values:
        values["ri"] = ri
        if column:
            values.setdefault("ri_column", column)
    elif values["ri"] != ri or column:
        _keep_extra(extra, key, text)


#: "1234", "1234.5 (DB-5MS)", "1234 HP-5": a retention index with the column it states.
_RI_WITH_COLUMN = re.compile(r"([-+]?\d+(?:[.,]\d*)?)\s*(?:\(([^()]*)\)|([A-Za-z].*))?")


def _fill_from_comment(values: dict, extra: dict[str, str]) -> None:
    """MoNA puts CAS, InChIKey, formula and RI only in the comment: use them when absent."""
    lowered = {k[len("msp.comment."):].lower(): v for k, v in extra.items()
               if k.startswith("msp.comment.")}
    if "cas" not in values and lowered.get("cas"):
        try:
            cas = normalize_cas(lowered["cas"])
        except ValueError:
            cas = None
        if cas:
            values["cas"] = cas
    if "inchikey" not in values and lowered.get("inchikey"):
        values["inchikey"] = lowered["inchikey"]
    if "formula" not in values and lowered.get("formula"):
        values["formula"] = lowered["formula"]
    if "ri" not in values:
        for key in ("retention index", "retention_index", "ri"):
            text = lowered.get(key)
            if text:
                try:
                    ri = _number(text, "comment retention index")
                except _BadEntry:
                    ri = None
                if ri is not None:
                    values["ri"] = ri
                    break


def _split_record(text: str, entry: _Entry) -> str:
    """Parse one record's text into ``entry``; returns any text left after its peak list."""
    match = _NUM_PEAKS_LINE.search(text)
    if match is None:
        fields, unkeyed = _header_fields(text)
        _name_of(entry, fields)
        raise _BadEntry("no 'Num Peaks' line" if entry.name is not None
                        else "no Name and no 'Num Peaks' line")
    fields, unkeyed = _header_fields(text[: match.start()])
    _name_of(entry, fields)
    count_text = match.group(1).strip().rstrip(";").strip()
    rest = text[match.end():]
    blank = _BLANK_LINE.search(rest)
    trailing = ""
    if blank is not None:
        trailing = rest[blank.end():]
        rest = rest[: blank.start()]
    entry.peak_text = rest
    _parse_header(entry, fields, unkeyed)
    if entry.name is None:
        raise _BadEntry("no Name line")
    if not entry.name:
        raise _BadEntry("empty Name")
    if _CONTROL.search(entry.name):
        raise _BadEntry("name holds control characters")
    try:
        entry.n_peaks = int(count_text)
    except ValueError:
        raise _BadEntry(f"Num Peaks is not a whole number: {count_text!r}") from None
    if entry.n_peaks < 0:
        raise _BadEntry(f"Num Peaks is negative: {count_text!r}")
    return trailing


def _name_of(entry: _Entry, fields: list[tuple[str, str]]) -> None:
    for key, value in fields:
        if _field_of(key) == "name":
            if "\x00" in value:
                value = value.split("\x00", 1)[0].rstrip()
                entry.extra["msp.truncated_at_nul"] = "name"
            entry.name = value
            return


def _peak_tokens(entry: _Entry) -> list[str]:
    text = entry.peak_text
    if '"' in text:
        text = _QUOTED.sub(" ", text)
    text = text.translate(_PEAK_SEPARATORS)
    bad = _NOT_NUMERIC.search(text)
    if bad is not None:
        start = text.rfind(" ", 0, bad.start()) + 1
        end = text.find(" ", bad.start())
        token = text[start:end if end >= 0 else None]
        raise _BadEntry(f"peak value is not a number: {token!r}")
    tokens = text.split()
    if len(tokens) % 2:
        raise _BadEntry(f"peak list holds an odd number of values ({len(tokens)})")
    if len(tokens) // 2 != entry.n_peaks:
        raise _BadEntry(
            f"Num Peaks says {entry.n_peaks} but {len(tokens) // 2} peaks follow"
        )
    if not tokens:
        raise _BadEntry("no peaks")
    return tokens


def _to_float(tokens: list[str]) -> np.ndarray | None:
    try:
        return np.array(tokens, dtype=np.float64)
    except ValueError:
        return None


def read_entries(path: str | os.PathLike) -> EntryReport:
    """Read every entry of an MSP/NIST text or AMDIS ``.MSL`` library.

    Each :class:`~gcms.Spectrum` carries ``source`` (the file path) and ``source_entry``
    (the 1-based entry number in the file). Entries that cannot be read are listed in
    ``report.skipped`` with their number, name, line and the reason; see the module
    docstring for what is skipped and what is only normalised.

    Raises
    ------
    FormatError
        The file is empty or holds no ``Name:`` entry at all.
    """
    with _gc_paused():
        return _read_entries(Path(path))


@contextlib.contextmanager
def _gc_paused():
    """Pause the cyclic garbage collector while building many small objects.

    A library of 350,000 entries allocates millions of strings and dicts, none of them in
    reference cycles; the collector would rescan them over and over (a quarter of the
    reading time). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_entries(path: Path) -> EntryReport:
    source = str(path)
    skipped: list[tuple[float, SkippedEntry]] = []
    with evidence_bytes(path) as evidence:
        data = evidence.data
        if _LF.search(data) is None and _CR.search(data) is not None:
            data = memoryview(bytes(data).replace(b"\r", b"\n"))  # classic Mac OS lines
        end = len(data)
        tail = bytes(data[max(0, end - 64):end])
        if b"\x1a" in tail and not tail[tail.rfind(b"\x1a") + 1:].strip():
            end -= len(tail) - tail.rfind(b"\x1a")  # DOS end-of-file mark (Ctrl-Z)
        offset = 3 if bytes(data[:3]) == _BOM else 0
        # Entries are cut from the mapped bytes and decoded one by one: the file is never
        # held as one decoded string, and each entry gets its own encoding fallback.
        records = _records(data[offset:end])
        spectra: list[Spectrum] = []
        batch: list[_Entry] = []
        ordinal = 0
        for ordinal, (line, text, codec) in enumerate(records):
            if ordinal == 0:
                if _stray(text):
                    skipped.append((0, SkippedEntry(
                        source, "before the first entry (line 1)", "text without a Name line")))
                continue
            entry = _Entry(ordinal, line)
            if codec is not None:
                entry.extra["msp.encoding"] = codec
            try:
                trailing = _split_record(text, entry)
            except _BadEntry as error:
                skipped.append((ordinal, SkippedEntry(source, entry.label(), str(error))))
                continue
            if _stray(trailing):
                skipped.append((ordinal + 0.5, SkippedEntry(
                    source, f"after entry {entry.label()}",
                    "text without a Name line after the peak list")))
            batch.append(entry)
            if len(batch) == _BATCH_ENTRIES:
                _convert_peaks(batch, spectra, skipped, source)
                batch = []
        if ordinal == 0:
            raise FormatError(f"{path}: no MSP entry (no 'Name:' or 'Num Peaks:' line)")
    _convert_peaks(batch, spectra, skipped, source)
    report = EntryReport(spectra=spectra, sha256=evidence.sha256)
    report.skipped = [entry for _, entry in sorted(skipped, key=lambda item: item[0])]
    return report


#: Entries whose peaks are converted together: large enough that numpy does the work,
#: small enough that the intermediate token strings (about 50 bytes per number) stay at
#: a few hundred MB even for spectra of 5,000 peaks.
_BATCH_ENTRIES = 4096


def _records(data: memoryview):
    """``(first line, text, codec)`` of the part before the first entry, then each entry."""
    starts = [m.start() for m in _NAME_LINE.finditer(data)]
    if not starts and _NUM_PEAKS_HEAD.search(data):
        starts = [0]  # one entry that lacks its Name line
    bounds = [0, *starts, len(data)]
    line = 1
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        raw = bytes(data[start:stop])
        text, codec = decode_text(raw)
        yield line, text.replace("\r", "") if "\r" in text else text, codec
        line += raw.count(b"\n")


def _stray(text: str | bytes) -> bool:
    """Whether text outside any entry could be (part of) an entry: it holds a digit.

    Decorations between entries (``------PEAK------`` lines in AMDIS exports) are
    ignored; anything that may carry peaks or fields is reported as skipped.
    """
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    return any(c.isdigit() for c in text)


def _convert_peaks(entries: list[_Entry], spectra: list[Spectrum],
                   skipped: list[tuple[float, SkippedEntry]], source: str) -> None:
    """Peaks of a batch of entries as one float conversion, then checks, vectorised."""
    good: list[_Entry] = []
    token_lists: list[list[str]] = []
    for entry in entries:
        try:
            token_lists.append(_peak_tokens(entry))
        except _BadEntry as error:
            skipped.append((entry.ordinal, SkippedEntry(source, entry.label(), str(error))))
            continue
        good.append(entry)
    values = _to_float([t for tokens in token_lists for t in tokens])
    if values is None:  # some token like "1e" or "--": find the entries one by one
        arrays = []
        keep = []
        for entry, tokens in zip(good, token_lists, strict=True):
            array = _to_float(tokens)
            if array is None:
                skipped.append((entry.ordinal, SkippedEntry(
                    source, entry.label(), "peak list holds a value that is not a number")))
            else:
                arrays.append(array)
                keep.append((entry, tokens))
        good = [entry for entry, _ in keep]
        token_lists = [tokens for _, tokens in keep]
        values = np.concatenate(arrays) if arrays else np.empty(0)
    counts = np.fromiter((len(t) // 2 for t in token_lists), dtype=np.int64, count=len(good))
    pairs = values.reshape(-1, 2)
    # One contiguous column each; every spectrum's arrays are read-only views into them.
    mz, intensity = np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])
    n = len(good)
    owner = np.repeat(np.arange(n), counts)
    # A peak outside what an EI spectrum holds (peak_problem: m/z outside MZ_LIMITS with
    # some intensity, a negative or non-finite value) skips the entry, the value named. An
    # m/z of 0 with intensity 0 is a placeholder some exports start with (dropped with the
    # other zero-intensity peaks).
    low, high = MZ_LIMITS
    with np.errstate(invalid="ignore"):
        bad = (~np.isfinite(mz) | ~np.isfinite(intensity) | (intensity < 0)
               | (((mz < low) | (mz > high)) & (intensity != 0)))
    flagged = np.bincount(owner, bad, minlength=n) > 0
    positive = np.bincount(owner, intensity > 0, minlength=n).astype(np.int64)
    zeros = (counts - positive).tolist()
    offsets = np.concatenate(([0], np.cumsum(counts))).tolist()
    for i, entry in enumerate(good):
        entry_mz = mz[offsets[i]:offsets[i + 1]]
        entry_int = intensity[offsets[i]:offsets[i + 1]]
        reason = (peak_problem(entry_mz, entry_int) if flagged[i]
                  else "no peak of positive intensity" if not positive[i] else None)
        if reason is not None:
            skipped.append((entry.ordinal, SkippedEntry(source, entry.label(), reason)))
            continue
        if zeros[i]:
            nonzero = entry_int > 0
            entry_mz, entry_int = entry_mz[nonzero], entry_int[nonzero]
            entry.extra["msp.zero_intensity_peaks"] = str(zeros[i])
        spectra.append(_spectrum(entry, entry_mz, entry_int, source))


def _spectrum(entry: _Entry, mz: np.ndarray, intensity: np.ndarray, source: str) -> Spectrum:
    values = entry.fields
    return Spectrum(
        mz=mz,
        intensity=intensity,
        name=entry.name,
        synonyms=values.get("synonyms", ()),
        cas=values.get("cas"),
        formula=values.get("formula"),
        mw=values.get("mw"),
        inchikey=values.get("inchikey"),
        retention_index=values.get("ri"),
        ri_column=values.get("ri_column"),
        rt_seconds=values.get("rt"),
        source=source,
        source_entry=str(entry.ordinal),
        comment=values.get("comment"),
        extra=entry.extra,
    )


# --------------------------------------------------------------------------- writing
def _number_text(value: float) -> str:
    """Shortest text that reads back as the same float (``57`` for 57.0)."""
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _minutes_text(seconds: float) -> str:
    """Minutes as text such that ``float(text) * 60`` gives ``seconds`` back exactly."""
    minutes = seconds / 60.0
    for _ in range(4):
        if minutes * 60.0 == seconds:
            break
        minutes = float(np.nextafter(minutes, np.inf if minutes * 60.0 < seconds else -np.inf))
    return _number_text(minutes)


def _check_text(value: str, what: str, index: int) -> str:
    text = str(value).strip()
    if "\n" in text or "\r" in text:
        raise ValueError(f"spectrum {index}: {what} holds a line break")
    return text


def _entry_lines(spectrum: Spectrum, index: int) -> list[str]:
    if not spectrum.name or not spectrum.name.strip():
        raise ValueError(f"spectrum {index} has no name; every MSP entry needs one")
    intensity = spectrum.intensity
    if np.any(intensity < 0):
        raise ValueError(f"spectrum {index} ({spectrum.name!r}) has negative intensities")
    keep = intensity > 0
    if not keep.any():
        raise ValueError(f"spectrum {index} ({spectrum.name!r}) has no peak of positive "
                         "intensity")
    lines = [f"Name: {_check_text(spectrum.name, 'name', index)}"]
    lines += [f"Synon: {_check_text(s, 'synonym', index)}" for s in spectrum.synonyms]
    extra = dict(spectrum.extra)
    for key in [k for k in extra if re.fullmatch(r"\$:\d\d", k)]:
        lines.append(f"Synon: {key}{_check_text(extra.pop(key), key, index)}")
    if spectrum.cas:
        lines.append(f"CAS#: {spectrum.cas}")
    if spectrum.formula:
        lines.append(f"Formula: {_check_text(spectrum.formula, 'formula', index)}")
    if spectrum.mw is not None:
        lines.append(f"MW: {_number_text(spectrum.mw)}")
    if spectrum.inchikey:
        lines.append(f"InChIKey: {_check_text(spectrum.inchikey, 'InChIKey', index)}")
    if spectrum.retention_index is not None:
        lines.append(f"RI: {_number_text(spectrum.retention_index)}")
    if spectrum.ri_column:
        lines.append(f"RI_column: {_check_text(spectrum.ri_column, 'RI column', index)}")
    if spectrum.rt_seconds is not None:
        lines.append(f"RT: {_minutes_text(spectrum.rt_seconds)}")
    if spectrum.comment:
        lines.append(f"Comments: {_check_text(spectrum.comment, 'comment', index)}")
    unkeyed = extra.pop("msp.unkeyed", None)
    for key, value in extra.items():
        if key.startswith("msp."):
            continue
        key_text = _check_text(key, "extra key", index)
        if not key_text or ":" in key_text or _norm_key(key_text) in ("name", "numpeaks"):
            raise ValueError(f"spectrum {index}: extra key {key!r} cannot be an MSP field")
        lines.append(f"{key_text}: {_check_text(value, key, index)}")
    if unkeyed:
        lines += [_check_text(u, "line", index) for u in unkeyed.split("\n")]
    mz, intensity = spectrum.mz[keep], intensity[keep]
    lines.append(f"Num Peaks: {mz.size}")
    lines += [f"{_number_text(m)} {_number_text(i)}"
              for m, i in zip(mz.tolist(), intensity.tolist(), strict=True)]
    return lines


def write(spectra: Iterable[Spectrum], path: str | os.PathLike) -> None:
    """Write spectra as an MSP file (UTF-8) that :func:`read_entries` reads back identically.

    One entry per spectrum: ``Name``, each ``Synon``, ``CAS#``, ``Formula``, ``MW``,
    ``InChIKey``, ``RI`` (and ``RI_column``), ``RT`` (minutes), ``Comments``, then every
    ``extra`` field except the ``msp.*`` reading notes, ``Num Peaks`` and one
    ``m/z intensity`` pair per line, values written as the shortest text that reads back
    as the same number. Zero-intensity peaks are left out (the reader drops them).

    Raises
    ------
    ValueError
        A spectrum has no name, no positive peak, a negative intensity, a field holding a
        line break, or an ``extra`` key that cannot be an MSP key.
    """
    blocks = ["\n".join(_entry_lines(s, i)) for i, s in enumerate(spectra)]
    text = "\n\n".join(blocks) + ("\n" if blocks else "")
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)


#: MSP keys as :func:`write` spells them -> the AMDIS ``.MSL`` labels (AMDIS manual,
#: "Library format"). Other keys are written as they are.
_MSL_KEYS = {"Name": "NAME", "Synon": "SYNON", "CAS#": "CASNO", "Formula": "FORM",
             "MW": "MW", "RI": "RI", "RT": "RT", "Comments": "COMMENTS"}
#: AMDIS writes five (m/z intensity) pairs per line.
_MSL_PAIRS_PER_LINE = 5


def write_msl(spectra: Iterable[Spectrum], path: str | os.PathLike) -> None:
    """Write spectra as an AMDIS ``.MSL`` library that :func:`read_entries` reads back.

    The fields of :func:`write` under AMDIS's labels (``NAME``, ``SYNON``, ``CASNO``,
    ``FORM``, ``MW``, ``RI``, ``RT`` in minutes, ``COMMENTS``; others as they are), then
    ``NUM PEAKS`` and the pairs as ``(m/z intensity)``, five per line, as AMDIS writes
    them. Values are written exactly (AMDIS itself expects integer abundances: pass
    ``spectrum.normalized()`` spectra of nominal m/z for AMDIS). CRLF line ends, UTF-8.

    Raises
    ------
    ValueError
        As :func:`write`.
    """
    blocks = []
    for index, spectrum in enumerate(spectra):
        lines = _entry_lines(spectrum, index)
        at = next(i for i, line in enumerate(lines) if line.startswith("Num Peaks: "))
        head = []
        for line in lines[:at]:
            key, sep, value = line.partition(": ")
            head.append(f"{_MSL_KEYS[key]}:{value}" if sep and key in _MSL_KEYS else line)
        pairs = [f"({line})" for line in lines[at + 1:]]
        head.append(f"NUM PEAKS:{len(pairs)}")
        head += [" ".join(pairs[i:i + _MSL_PAIRS_PER_LINE])
                 for i in range(0, len(pairs), _MSL_PAIRS_PER_LINE)]
        blocks.append("\n".join(head))
    text = "\n\n".join(blocks) + ("\n" if blocks else "")
    with open(path, "w", encoding="utf-8", newline="\r\n") as handle:
        handle.write(text)
