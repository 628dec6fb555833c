"""MassBank record files: one record per file, or several records separated by ``//``.

A record is a list of ``TAG: value`` lines (MassBank record format 2.x); the peak list
follows ``PK$PEAK: m/z int. rel.int.`` as indented ``m/z intensity relative`` lines, and
``//`` ends the record::

    ACCESSION: MSBNK-RIKEN-PR010001
    CH$NAME: 1,3-Diaminopropane
    CH$FORMULA: C3H10N2
    CH$EXACT_MASS: 74.08440
    CH$LINK: CAS 10517-44-9
    CH$LINK: INCHIKEY XFNJVJPLKCPIBV-UHFFFAOYSA-N
    AC$INSTRUMENT_TYPE: GC-EI-TOF
    AC$MASS_SPECTROMETRY: ION_MODE POSITIVE
    AC$CHROMATOGRAPHY: RETENTION_INDEX 1644.8
    PK$NUM_PEAK: 2
    PK$PEAK: m/z int. rel.int.
      73 999 999
      86 407 407
    //

Field mapping: ``ACCESSION`` is the entry id (``source_entry``); the first ``CH$NAME`` is
the name and the others synonyms; ``CH$FORMULA``; ``CH$EXACT_MASS`` (kept in
``extra["exact_mass"]``, its nominal mass by :func:`gcms.nominal_mass` is ``mw``);
``CH$LINK: CAS`` (checked, :func:`gcms.io.msp.normalize_cas`) and ``CH$LINK: INCHIKEY``;
``AC$CHROMATOGRAPHY: RETENTION_INDEX`` with ``COLUMN_NAME`` as its column;
``AC$CHROMATOGRAPHY: RETENTION_TIME`` in the unit it states (``sec``/``s``/``min``; a
value without unit is not interpreted); ``COMMENT`` lines joined by ``"; "``. Other
fields go to ``extra`` under lower-case names: ``license``, ``authors``, ``date``,
``record_title``, ``instrument``, ``instrument_type``, ``ion_mode``, ``ms_type``,
``ionization_energy``... (each ``AC$``/``MS$`` subtag under its own name), ``smiles``,
``inchi`` (``CH$IUPAC``), ``link <DATABASE>``, ``splash``. ``KOVATS_RTI`` serves as the
retention index where ``RETENTION_INDEX`` is absent; ``0`` means "not stated".

Intensities come from whichever of the two columns resolves finer. ``rel.int.`` is the
record's own 0-999 scale, rounded: small ions print as 0 there although ``int.`` still
holds them, and small ions are often what tells two spectra apart. But the precision of
``int.`` varies by contributor: some round it far more coarsely than ``rel.int.``
(MSBNK-MSSJ-MSJ00078 lists 2, 7, 21 for relative intensities 17, 73, 215). So ``int.``
is used when its printed quantum (the last decimal place written) relative to its base
peak is at most 1/999 and it describes the same spectrum as ``rel.int.`` (within 1 % of
the base peak); otherwise ``rel.int.``. ``extra["massbank.intensity_column"]`` says which was used.
A record whose lines hold only two values is read as ``m/z intensity``.

Skipped records and zero-intensity peaks follow :mod:`gcms.io.msp`: a record whose
``PK$NUM_PEAK`` disagrees with its peak lines, with a non-numeric, NaN or negative value,
no peak or no ``CH$NAME`` is skipped and reported; peaks of relative intensity 0 are
dropped and counted in ``extra["massbank.zero_intensity_peaks"]``.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from gcms.errors import FormatError
from gcms.io._common import EntryReport, SkippedEntry, decode_text, evidence_bytes, peak_problem
from gcms.io.msp import normalize_cas
from gcms.spectrum import Spectrum, nominal_mass

__all__ = ["read_entries", "sniff"]

_ACCESSION = re.compile(rb"^ACCESSION:", re.MULTILINE)
_PEAK_TAG = re.compile(rb"^(?:PK\$PEAK|CH\$NAME|PK\$NUM_PEAK):", re.MULTILINE)
_NULL = frozenset({"", "n/a", "na", "none", "null", "unknown"})
_NOT_NUMERIC = re.compile(r"[^0-9.eE+\-\s]")
_RENAMED = {"CH$IUPAC": "inchi", "PK$SPLASH": "splash", "PK$ANNOTATION": "annotation columns"}
_RT = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z.]*)$")


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``head`` starts a MassBank record: an ``ACCESSION:`` line and record tags."""
    return bool(head and _ACCESSION.search(head) and _PEAK_TAG.search(head))


class _BadRecord(Exception):
    """A record that cannot be read; the message is the reason."""


def read_entries(path: str | os.PathLike) -> EntryReport:
    """Read every record of a MassBank record file.

    Each :class:`~gcms.Spectrum` carries ``source`` (the file path) and ``source_entry``
    (the record's ACCESSION, or its 1-based position in the file where it has none).

    Raises
    ------
    FormatError
        The file is empty or holds no MassBank record (no ``ACCESSION``/``CH$NAME``/
        ``PK$PEAK`` line).
    """
    path = Path(path)
    source = str(path)
    with evidence_bytes(path) as evidence:
        raw = evidence.raw
    report = EntryReport(sha256=evidence.sha256)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text, codec = decode_text(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # "//" ends a record; a record whose "//" is missing still ends at the next ACCESSION.
    blocks = re.split(r"(?m)^//[ \t]*$|^(?=ACCESSION:)", text)
    found = False
    line = 1
    for ordinal, block in enumerate(blocks, 1):
        first_line = line + block[: len(block) - len(block.lstrip())].count("\n")
        line += block.count("\n")
        if not block.strip():
            continue
        if ordinal == len(blocks) and not _looks_like_record(block):
            # Text after the last "//": trailing blank lines are fine, anything else is not.
            if found:
                report.skipped.append(SkippedEntry(
                    source, f"after record {ordinal - 1}", "text after the last '//'"))
            continue
        found = True
        # The last record of a file that lacks its closing "//" may be cut short: only its
        # PK$NUM_PEAK can show that its peak list is complete.
        unterminated = ordinal == len(blocks)  # no "//" follows the last block
        try:
            report.spectra.append(_record(block, source, ordinal, codec,
                                          unterminated=unterminated))
        except _BadRecord as error:
            accession = re.search(r"(?m)^ACCESSION:[ \t]*(\S+)", block)
            label = accession.group(1) if accession else str(ordinal)
            report.skipped.append(SkippedEntry(
                source, f"{label} (line {first_line})", str(error)))
    if not found:
        raise FormatError(f"{path}: no MassBank record (no ACCESSION or PK$PEAK line)")
    return report


def _looks_like_record(block: str) -> bool:
    return bool(re.search(r"(?m)^(?:ACCESSION|CH\$NAME|PK\$PEAK|PK\$NUM_PEAK):", block))


def _number(value: str, tag: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _BadRecord(f"{tag} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise _BadRecord(f"{tag} is not a finite number: {value!r}")
    return number


def _record(block: str, source: str, ordinal: int, codec: str | None, *,
            unterminated: bool = False) -> Spectrum:
    names: list[str] = []
    comments: list[str] = []
    extra: dict[str, str] = {}
    fields: dict[str, Any] = {}
    if codec is not None:
        extra["massbank.encoding"] = codec
    peak_lines: list[str] | None = None
    num_peak: int | None = None
    section = None  # the multi-line tag the indented lines belong to
    for line in block.split("\n"):
        if line.startswith("  ") or line.startswith("\t"):
            if section == "PK$PEAK" and peak_lines is not None:
                peak_lines.append(line)
            continue  # PK$ANNOTATION and other multi-line blocks: not needed here
        if not line.strip():
            continue
        tag, separator, value = line.partition(":")
        if not separator:
            raise _BadRecord(f"line is not 'TAG: value': {line.strip()[:40]!r}")
        tag, value = tag.strip(), value.strip()
        section = tag
        if tag == "ACCESSION":
            fields["accession"] = value
        elif tag == "CH$NAME":
            if value and value not in names:
                names.append(value)
        elif tag == "CH$FORMULA":
            if value.lower() not in _NULL:
                fields.setdefault("formula", value)
        elif tag == "CH$EXACT_MASS":
            if value.lower() not in _NULL:
                exact = _number(value, tag)
                if exact > 0:
                    fields.setdefault("mw", float(nominal_mass(exact)))
                    extra["exact_mass"] = value
        elif tag == "CH$LINK":
            _link(value, fields, extra)
        elif tag in ("AC$MASS_SPECTROMETRY", "AC$CHROMATOGRAPHY", "MS$FOCUSED_ION",
                     "MS$DATA_PROCESSING", "AC$GENERAL", "SP$SAMPLE", "SP$LINK"):
            _subtag(tag, value, fields, extra)
        elif tag == "COMMENT":
            if value:
                comments.append(value)
        elif tag == "PK$NUM_PEAK":
            if value.lower() in _NULL:
                num_peak = 0
            else:
                try:
                    num_peak = int(value)
                except ValueError:
                    raise _BadRecord(f"PK$NUM_PEAK is not a whole number: {value!r}") from None
        elif tag == "PK$PEAK":
            if value.lower() in _NULL:
                raise _BadRecord("no peaks (PK$PEAK: N/A)")
            peak_lines = []
        else:
            key = _RENAMED.get(tag) or tag.split("$", 1)[-1].lower()
            if value:
                extra[key] = f"{extra[key]}; {value}" if key in extra else value
    if not names:
        raise _BadRecord("no CH$NAME")
    if peak_lines is None:
        raise _BadRecord("no PK$PEAK peak list")
    if unterminated and num_peak is None:
        raise _BadRecord("the file ends inside this record (no closing '//') and it has no "
                         "PK$NUM_PEAK to show its peak list is complete")
    mz, intensity, zeros, column = _peaks(peak_lines, num_peak)
    extra["massbank.intensity_column"] = column
    if zeros:
        extra["massbank.zero_intensity_peaks"] = str(zeros)
    accession = fields.get("accession")
    return Spectrum(
        mz=mz,
        intensity=intensity,
        name=names[0],
        synonyms=tuple(names[1:]),
        cas=fields.get("cas"),
        formula=fields.get("formula"),
        mw=fields.get("mw"),
        inchikey=fields.get("inchikey"),
        retention_index=fields.get("ri"),
        ri_column=fields.get("ri_column") if fields.get("ri") is not None else None,
        rt_seconds=fields.get("rt"),
        source=source,
        source_entry=str(accession) if accession else str(ordinal),
        comment="; ".join(comments) or None,
        extra=extra,
    )


def _link(value: str, fields: dict, extra: dict[str, str]) -> None:
    database, _, ident = value.partition(" ")
    ident = ident.strip()
    if database == "CAS":
        try:
            cas = normalize_cas(ident)
        except ValueError:
            cas = None
            extra["link CAS"] = ident
        if cas and "cas" not in fields:
            fields["cas"] = cas
        elif cas and cas != fields["cas"]:
            extra["link CAS"] = f"{extra['link CAS']}; {cas}" if "link CAS" in extra else cas
    elif database == "INCHIKEY":
        fields.setdefault("inchikey", ident)
    else:
        key = f"link {database}"
        extra[key] = f"{extra[key]}; {ident}" if key in extra else ident


def _subtag(tag: str, value: str, fields: dict, extra: dict[str, str]) -> None:
    subtag, _, content = value.partition(" ")
    content = content.strip()
    if tag == "AC$CHROMATOGRAPHY" and subtag in ("RETENTION_INDEX", "KOVATS_RTI"):
        if content.lower() not in _NULL:
            ri = _number(content, subtag)
            if ri > 0 and subtag == "RETENTION_INDEX":
                fields["ri"] = ri  # the explicit field wins over KOVATS_RTI
            elif ri > 0:
                fields.setdefault("ri", ri)
        if subtag == "KOVATS_RTI":
            extra["kovats_rti"] = content
        return
    if tag == "AC$CHROMATOGRAPHY" and subtag == "RETENTION_TIME":
        extra["retention_time"] = content
        match = _RT.match(content)
        if match is None:
            raise _BadRecord(f"RETENTION_TIME is not a number: {content!r}")
        number, unit = _number(match.group(1), "RETENTION_TIME"), match.group(2).lower()
        unit = unit.rstrip(".")
        if number > 0 and unit in ("sec", "s", "second", "seconds"):
            fields.setdefault("rt", number)
        elif number > 0 and unit in ("min", "minute", "minutes"):
            fields.setdefault("rt", number * 60.0)
        # no unit: MassBank does not fix one and records hold both; not interpreted
        return
    if tag == "AC$CHROMATOGRAPHY" and subtag == "COLUMN_NAME":
        fields.setdefault("ri_column", content)
    key = subtag.lower() if tag != "MS$DATA_PROCESSING" else f"data_processing {subtag}"
    if content:
        extra[key] = f"{extra[key]}; {content}" if key in extra else content


def _peaks(lines: list[str], num_peak: int | None) -> tuple[np.ndarray, np.ndarray, int, str]:
    text = " ".join(lines)
    bad = _NOT_NUMERIC.search(text)
    if bad is not None:
        raise _BadRecord(f"peak value is not a number near {text[bad.start():][:20]!r}")
    widths = {len(line.split()) for line in lines}
    if not widths <= {2, 3} or len(widths) > 1:
        raise _BadRecord("peak lines must hold 'm/z int. rel.int.' (or 'm/z int.') each")
    width = widths.pop() if widths else 3
    try:
        table = np.array(text.split(), dtype=np.float64).reshape(-1, width)
    except ValueError:
        raise _BadRecord("peak list holds a value that is not a number") from None
    n = table.shape[0]
    if num_peak is not None and num_peak != n:
        raise _BadRecord(f"PK$NUM_PEAK says {num_peak} but {n} peaks follow")
    if n == 0:
        raise _BadRecord("no peaks")
    mz, intensity = table[:, 0], table[:, width - 1]
    column = "rel.int." if width == 3 else "int."
    if width == 3 and _raw_is_finer(table[:, 1], table[:, 2], text.split()[1::3]):
        intensity, column = table[:, 1], "int."
    problem = peak_problem(mz, intensity)
    if problem is not None:
        raise _BadRecord(problem)
    keep = intensity > 0
    if not keep.any():
        raise _BadRecord("no peak of positive intensity")
    zeros = int(n - keep.sum())
    return mz[keep], intensity[keep], zeros, column


def _raw_is_finer(raw: np.ndarray, relative: np.ndarray, printed: list[str]) -> bool:
    """Whether ``int.`` resolves at least as finely as ``rel.int.`` and agrees with it."""
    if not (np.isfinite(raw).all() and (raw >= 0).all()):
        return False
    top = float(raw.max())
    if top <= 0:
        return False
    decimals = max((len(v) - v.index(".") - 1 for v in printed if "." in v), default=0)
    quantum = 10.0 ** -decimals / top  # relative size of the last printed digit
    if quantum > 1.0 / 999.0:
        return False
    # The columns must describe the same spectrum; depositors derived rel.int. with their
    # own rounding, so allow 1 % of the base peak beyond it.
    tolerance = 10.0 + 999.0 * quantum
    return bool(np.all(np.abs(999.0 * raw / top - relative) <= tolerance))
