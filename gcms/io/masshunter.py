"""Agilent MassHunter GC-MS storage: ``AcqData/MSScan.bin`` + ``MSPeak.bin`` in a ``.D`` folder.

MassHunter writes each acquisition as a folder of small files under ``AcqData``:

``MSScan.bin``
    One fixed-size little-endian record per scan (scan id, time in minutes, scan type,
    TIC, base peak, and one or more *spectrum blocks* pointing into the spectra file).
    The record layout is not fixed by the reader: ``MSScan.xsd`` beside it describes the
    fields in order, and the numpy record type is built from that schema.
``MSPeak.bin``
    The centroid spectra, one block per scan: all the m/z values, then all the
    abundances (float64/float64, float32/float32 or float64/float32).
``MSTS.xml``
    The number of scans per time segment, checked against ``MSScan.bin``'s size.
``Contents.xml``, ``sample_info.xml``, ``Devices.xml``
    Acquisition time (with its UTC offset), sample, operator, method, tune file,
    instrument model and serial number.

Full-scan and SIM scans may be interleaved in one file (a SIM/Scan method); ``read``
returns one of them (``channel="scan"`` or ``"sim"``). Byte layouts are in
``docs/agilent-masshunter.md``.

Decoding rules
--------------
* ``scan_times = ScanTime x 60`` (MassHunter stores minutes).
* m/z and abundances are taken as stored (no rounding); ``tic`` is the record's ``TIC``.
* Profile spectra (``MSProfile.bin``, compressed time-of-flight or profile data) are not
  decoded: a folder that has no ``MSPeak.bin`` is refused with a message saying so.

What the files say of themselves is checked before a scan is kept: ``MSScan.bin`` must
hold exactly the records ``MSTS.xml`` counts; every record must carry a scan id above
the one before, an MS level and a scan type MassHunter writes, and a time not before
the previous scan's (a zeroed stretch of records is refused, never dropped as "another
scan type"); the spectrum blocks must tile ``MSPeak.bin`` end to end. A disagreement
names the file, the record and its byte offset.

``run.metadata.sha256`` is the SHA-256 of ``MSPeak.bin`` (``data_file``);
``metadata.parts_sha256`` holds that of every file decoded (``AcqData/MSScan.bin``,
``MSPeak.bin``, ``MSScan.xsd``, ``MSTS.xml`` and the sidecar files of the metadata);
``metadata.extra["msscan_sha256"]`` repeats ``MSScan.bin``'s.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from gcms.errors import FormatError
from gcms.io._common import build_run, read_evidence
from gcms.io.agilent import _sort_within_scans, read_folder_metadata
from gcms.run import Run, RunMetadata

__all__ = ["list_channels", "read", "scan_record_dtype", "sniff"]

FORMAT_NAME = "agilent-masshunter"

#: First two bytes (little-endian u16) of MSScan.bin and MSPeak.bin.
MSSCAN_SIGNATURE = 0x0101
MSPEAK_SIGNATURE = 0x0103
#: MSScan.bin header: u32 little-endian byte offset of the first scan record.
_RECORDS_OFFSET = 0x58
#: MassHunter MSScanType codes read here: 1 = full scan, 2 = selected ion (SIM).
SCAN_TYPES = {1: "scan", 2: "sim"}
#: Every MSScanType MassHunter writes (one flag each: scan, SIM, high-resolution scan,
#: TIC, MRM, product ion, precursor ion, neutral loss, neutral gain); a record with
#: another value is damaged.
KNOWN_SCAN_TYPES = frozenset({1, 2, 4, 8, 16, 32, 64, 128, 256})
#: Highest MS level a record may state (MS1 and MS/MS stages).
_MAX_MS_LEVEL = 10
#: MSScan.xsd simple types and their little-endian numpy equivalents.
_XSD_TYPES = {
    "xs:byte": "i1",
    "xs:short": "<i2",
    "xs:int": "<i4",
    "xs:long": "<i8",
    "xs:float": "<f4",
    "xs:double": "<f8",
}
_XS = "{http://www.w3.org/2001/XMLSchema}"
_RECORD_FIELDS = ("ScanID", "ScanTime", "MSLevel", "ScanType", "TIC")
_BLOCK_FIELDS = ("SpectrumOffset", "ByteCount", "PointCount")
#: MSPeak.bin block layouts by bytes per peak: (m/z dtype, abundance dtype).
PEAK_LAYOUTS = {8: ("<f4", "<f4"), 12: ("<f8", "<f4"), 16: ("<f8", "<f8")}
#: Most spectrum blocks one scan record may carry (profile + centroid + spare).
_MAX_BLOCKS = 8
_SIDECAR_MAX_BYTES = 4 << 20


# =========================================================================== locating
def _acqdata(path: Path) -> Path | None:
    """The ``AcqData`` folder of a ``.D`` folder (or the folder itself), None if absent."""
    if not path.is_dir():
        return None
    if path.name.lower() == "acqdata" and _child(path, "MSScan.bin"):
        return path
    sub = _child(path, "AcqData")
    if sub is not None and sub.is_dir() and _child(sub, "MSScan.bin"):
        return sub
    return None


def _child(folder: Path, name: str) -> Path | None:
    """``folder/name``, matched without regard to case (copies from Windows vary)."""
    exact = folder / name
    if exact.exists():
        return exact
    try:
        for entry in os.scandir(folder):
            if entry.name.lower() == name.lower():
                return Path(entry.path)
    except OSError:
        return None
    return None


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``path`` is a ``.D`` (or ``AcqData``) folder with a MassHunter ``MSScan.bin``.

    Decided by the signature word of ``MSScan.bin`` (``01 01``).
    """
    acq = _acqdata(Path(path))
    if acq is None:
        return False
    try:
        with open(cast(Path, _child(acq, "MSScan.bin")), "rb") as handle:  # _acqdata saw it
            return handle.read(2) == struct.pack("<H", MSSCAN_SIGNATURE)
    except OSError:
        return False


# =========================================================================== layout
def scan_record_dtype(xsd: bytes, blocks: int = 1, *, where: str = "MSScan.xsd") -> np.dtype:
    """The numpy record type of one ``MSScan.bin`` record, built from ``MSScan.xsd``.

    The schema lists ``ScanRecordType``'s elements in storage order; simple types map to
    little-endian numpy types (``xs:int`` -> ``<i4``, ``xs:double`` -> ``<f8``,
    ``xs:long`` -> ``<i8`` ...), elements commented out in the schema are not stored. The
    ``SpectrumParamValues`` element (``maxOccurs="unbounded"``) becomes a field of
    ``blocks`` consecutive ``SpectrumParamsType`` records. No padding.

    Raises
    ------
    FormatError
        The schema is not XML, or lacks the fields the reader needs.
    """
    import xml.etree.ElementTree as ElementTree

    if b"<!ENTITY" in xsd:
        raise FormatError(f"{where}: declares XML entities; not a MassHunter schema")
    try:
        root = ElementTree.fromstring(xsd)
    except (ElementTree.ParseError, LookupError, ValueError) as error:
        # LookupError: an XML declaration naming an unknown encoding.
        raise FormatError(f"{where}: not well-formed XML ({error})") from error
    types: dict[str, list[tuple[str, str, str | None]]] = {}
    for complex_type in root.iter(f"{_XS}complexType"):
        name = complex_type.get("name")
        sequence = complex_type.find(f"{_XS}sequence")
        if not name or sequence is None:
            continue
        types[name] = [(e.get("name") or "", e.get("type") or "", e.get("maxOccurs"))
                       for e in sequence.findall(f"{_XS}element")]

    def simple(name: str, type_name: str) -> str:
        try:
            return _XSD_TYPES[type_name]
        except KeyError:
            raise FormatError(
                f"{where}: element {name} has type {type_name!r}, not a type MSScan.bin stores"
            ) from None

    if "ScanRecordType" not in types:
        raise FormatError(f"{where}: no ScanRecordType in the schema")
    fields: list[tuple] = []
    for name, type_name, max_occurs in types["ScanRecordType"]:
        local = type_name.split(":")[-1]
        if local in types:
            block = np.dtype([(sub, simple(sub, sub_type))
                              for sub, sub_type, _ in types[local]])
            count = blocks if max_occurs == "unbounded" else 1
            fields.append((name, block, (count,)))
        else:
            fields.append((name, simple(name, type_name)))
    dtype = np.dtype(fields)
    names = dtype.names or ()
    missing = [f for f in _RECORD_FIELDS if f not in names]
    if "SpectrumParamValues" not in names:
        missing.append("SpectrumParamValues")
    else:
        block_names = dtype["SpectrumParamValues"].base.names or ()
        missing += [f for f in _BLOCK_FIELDS if f not in block_names]
    if missing:
        raise FormatError(f"{where}: the record layout lacks {', '.join(missing)}")
    return dtype


def _scan_count(acq: Path, parts: dict[str, str]) -> int | None:
    """Total of ``NumOfScans`` over the time segments of ``MSTS.xml``; None when absent."""
    import xml.etree.ElementTree as ElementTree

    msts = _child(acq, "MSTS.xml")
    if msts is None:
        return None
    raw = _small_file(msts, parts)
    if b"<!ENTITY" in raw:
        raise FormatError(f"{msts}: declares XML entities; not a MassHunter file")
    try:
        root = ElementTree.fromstring(raw)
        counts = [int(e.text) for e in root.iter("NumOfScans") if e.text and e.text.strip()]
    except (ElementTree.ParseError, LookupError, ValueError) as error:
        raise FormatError(f"{msts}: unreadable scan counts ({error})") from error
    if any(c < 0 for c in counts):
        raise FormatError(f"{msts}: negative scan count")
    return sum(counts) if counts else None


def _small_file(path: Path, parts: dict[str, str]) -> bytes:
    """A description file's bytes (read once, hashed into ``parts``)."""
    try:
        if path.stat().st_size > _SIDECAR_MAX_BYTES:
            raise FormatError(f"{path}: larger than {_SIDECAR_MAX_BYTES} bytes; not a "
                              "MassHunter description file")
    except OSError as error:
        raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
    evidence = read_evidence(path, allow_empty=True)
    parts[_part(path)] = evidence.sha256
    return evidence.raw


def _part(path: Path) -> str:
    """Key of a decoded AcqData file in ``parts_sha256``: its path in the ``.D`` folder."""
    return f"{path.parent.name}/{path.name}"


@dataclass(slots=True)
class _ScanFile:
    """The decoded ``MSScan.bin``: its records and where they came from."""

    records: np.ndarray
    blocks: int
    path: Path
    sha256: str
    parts: dict[str, str]


def _scan_records(acq: Path) -> _ScanFile:
    """All scan records of ``MSScan.bin``, checked; the number of blocks per record."""
    parts: dict[str, str] = {}
    scan_path = cast(Path, _child(acq, "MSScan.bin"))  # an AcqData folder holds it
    xsd_path = _child(acq, "MSScan.xsd")
    if xsd_path is None:
        raise FormatError(f"{acq}: MSScan.xsd is missing, so the layout of MSScan.bin is "
                          "unknown")
    xsd = _small_file(xsd_path, parts)
    one_block = scan_record_dtype(xsd, 1, where=str(xsd_path))
    block_size = one_block["SpectrumParamValues"].base.itemsize
    scalar = one_block.itemsize - block_size
    evidence = read_evidence(scan_path)
    data = evidence.raw
    parts[_part(scan_path)] = evidence.sha256
    if len(data) < _RECORDS_OFFSET + 4 or struct.unpack_from("<H", data)[0] != MSSCAN_SIGNATURE:
        raise FormatError(f"{scan_path}: not a MassHunter MSScan.bin (signature or header "
                          "missing)")
    start = struct.unpack_from("<I", data, _RECORDS_OFFSET)[0]
    if not _RECORDS_OFFSET + 4 <= start <= len(data):
        raise FormatError(f"{scan_path}: header puts the first record at byte {start}, outside "
                          f"the {len(data)}-byte file (damaged header)")
    body = len(data) - start
    listed = _scan_count(acq, parts)
    blocks = None
    if listed is not None:
        if listed == 0 and body == 0:
            blocks, n = 1, 0
        elif listed and body % listed == 0 and (body // listed - scalar) % block_size == 0:
            blocks, n = (body // listed - scalar) // block_size, listed
        if blocks is None or not 1 <= blocks <= _MAX_BLOCKS:
            raise FormatError(
                f"{scan_path}: {body} bytes of scan records are not the {listed} records "
                f"MSTS.xml lists in the layout MSScan.xsd gives ({scalar} bytes + "
                f"{block_size} per spectrum block): truncated or damaged"
            )
    else:
        for k in range(1, _MAX_BLOCKS + 1):
            if body % (scalar + k * block_size) == 0:
                blocks, n = k, body // (scalar + k * block_size)
                break
        else:
            raise FormatError(
                f"{scan_path}: {body} bytes of scan records are no whole number of the "
                f"records MSScan.xsd describes, and MSTS.xml is absent: truncated or damaged"
            )
    dtype = scan_record_dtype(xsd, blocks, where=str(xsd_path))
    records = np.frombuffer(data, dtype=dtype, count=n, offset=start).copy()
    _check_records(records, scan_path, start)
    return _ScanFile(records, blocks, scan_path, evidence.sha256, parts)


def _check_records(records: np.ndarray, scan_path: Path, start: int) -> None:
    """Refuse records that cannot be MassHunter's: each field within what it can hold.

    Scan ids rise from 1, MS levels and scan types are ones MassHunter writes, times are
    finite, not negative and never go back. A stretch of zeroed or overwritten records
    fails here, by record and byte offset, instead of passing as "not a full scan".
    """
    n = records.size
    if not n:
        return
    ids = records["ScanID"].astype(np.int64)
    levels = records["MSLevel"].astype(np.int64)
    types = records["ScanType"].astype(np.int64)
    times = records["ScanTime"].astype(np.float64)
    previous_id = np.concatenate(([0], ids[:-1]))
    with np.errstate(invalid="ignore"):
        previous_time = np.concatenate(([0.0], times[:-1]))
        checks = (
            (ids <= previous_id, lambda i: f"scan id {ids[i]} does not follow "
                                           f"{previous_id[i]}"),
            ((levels < 1) | (levels > _MAX_MS_LEVEL), lambda i: f"MS level {levels[i]}"),
            (~np.isin(types, list(KNOWN_SCAN_TYPES)),
             lambda i: f"scan type {types[i]}, not one MassHunter writes"),
            (~np.isfinite(times) | (times < previous_time),
             lambda i: f"scan time {float(times[i])!r} min after "
                       f"{float(previous_time[i])!r} min"),
        )
    for bad, reason in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FormatError(
                f"{scan_path}: scan record {i + 1} of {n} (byte "
                f"{start + i * records.dtype.itemsize}): {reason(i)} (damaged file)")


def list_channels(path: str | os.PathLike) -> list[str]:
    """The acquisition types present in a MassHunter folder: ``"scan"`` and/or ``"sim"``."""
    acq = _acqdata(Path(path))
    if acq is None:
        return []
    return _channels(_scan_records(acq).records)


def _channels(records: np.ndarray) -> list[str]:
    ms1 = records["MSLevel"] == 1
    return [name for code, name in SCAN_TYPES.items()
            if np.any(ms1 & (records["ScanType"] == code))]


# =========================================================================== reading
def read(path: str | os.PathLike, *, channel: str | None = None) -> Run:
    """Read the centroid MS data of a MassHunter GC-MS ``.D`` folder.

    Parameters
    ----------
    path
        The ``.D`` folder (or its ``AcqData`` folder). Files are opened read-only.
    channel
        ``"scan"`` (full-scan records, MassHunter scan type 1) or ``"sim"`` (selected-ion
        records, type 2); ``None`` reads the full scans when there are any, else SIM.

    Returns
    -------
    Run
        Scan times in seconds, m/z ascending within each scan as stored in
        ``MSPeak.bin``, ``tic`` from the scan records. Metadata from ``Contents.xml``
        (acquisition time with its UTC offset), ``sample_info.xml``, ``Devices.xml``,
        ``runstart.txt`` and ``acqmeth.txt``.

    Raises
    ------
    FormatError
        A file is missing, truncated or inconsistent with the others; the message names
        the file and the problem.
    """
    given = Path(path)
    acq = _acqdata(given)
    if acq is None:
        raise FormatError(f"{given}: not a MassHunter .D folder (no AcqData/MSScan.bin)")
    scans = _scan_records(acq)
    records, blocks, scan_path = scans.records, scans.blocks, scans.path
    available = _channels(records)
    if channel is None:
        if not available:
            raise FormatError(f"{scan_path}: no MS1 full-scan or SIM records "
                              f"(scan types present: {sorted(set(records['ScanType'].tolist()))})")
        channel = available[0]
    if channel not in available:
        raise FormatError(f"{given}: no {channel!r} records in this acquisition "
                          f"(present: {', '.join(available) or 'none'})")
    code = next(c for c, name in SCAN_TYPES.items() if name == channel)
    chosen = records[(records["ScanType"] == code) & (records["MSLevel"] == 1)]

    peak_path = _child(acq, "MSPeak.bin")
    if peak_path is None:
        if _child(acq, "MSProfile.bin") is not None:
            raise FormatError(
                f"{acq}: holds profile spectra only (MSProfile.bin); this reader decodes "
                "centroid spectra (MSPeak.bin). Export centroid data, or read the "
                "ChemStation data.ms of the same run"
            )
        raise FormatError(f"{acq}: MSPeak.bin is missing (the spectra of MSScan.bin)")
    evidence = read_evidence(peak_path)
    peaks, peak_digest = evidence.raw, evidence.sha256
    if len(peaks) < 2 or struct.unpack_from("<H", peaks)[0] != MSPEAK_SIGNATURE:
        raise FormatError(f"{peak_path}: not a MassHunter MSPeak.bin (signature missing)")
    column = _centroid_column(chosen, blocks, len(peaks), peak_path)
    _check_tiling(records["SpectrumParamValues"][:, column], records["ScanID"], len(peaks),
                  peak_path)
    block = chosen["SpectrumParamValues"][:, column]
    offsets, mz, intensity = _gather_peaks(block, chosen["ScanID"], peaks, peak_path)

    folder = read_folder_metadata(acq.parent)
    parts = {**scans.parts, _part(peak_path): peak_digest}
    parts.update(folder.sha256)  # sidecar files, by their path in the .D folder too
    extra = {
        "msscan_file": str(scan_path),
        "msscan_sha256": scans.sha256,
        "scan_records": f"{records.size} ({blocks} spectrum block{'s' if blocks > 1 else ''} "
                        "each)",
    }
    for key, value in (("vial", folder.vial), ("instrument_model", folder.instrument_model),
                       ("instrument_serial", folder.instrument_serial),
                       ("acquisition_mode", folder.acquisition_mode),
                       ("software", folder.software)):
        if value:
            extra[key] = value
    if folder.sources:
        extra["folder_files"] = "; ".join(folder.sources)
    if folder.problems:
        extra["folder_problems"] = "; ".join(folder.problems)
    metadata = RunMetadata(
        sample_name=folder.sample_name,
        acquired_at=folder.acquired_at,
        operator=folder.operator,
        instrument=folder.instrument,
        method=folder.method,
        tune_file=folder.tune_file,
        source_path=str(given),
        data_file=str(peak_path),
        sha256=peak_digest,
        parts_sha256=dict(sorted(parts.items())),
        format=FORMAT_NAME,
        acquisition="sim" if channel == "sim" else "scan",
        detector="MS",
        extra=extra,
    )
    with np.errstate(over="ignore"):  # an absurd time becomes inf; the Run refuses it
        scan_times = chosen["ScanTime"] * 60.0
    return build_run(
        str(scan_path),
        scan_times=scan_times,
        scan_offsets=offsets,
        mz=mz,
        intensity=intensity,
        tic=chosen["TIC"],
        metadata=metadata,
    )


def _centroid_column(records: np.ndarray, blocks: int, peak_size: int,
                     peak_path: Path) -> int:
    """Which spectrum block of the records points into MSPeak.bin.

    A record may carry several blocks (profile and centroid). The centroid block is the
    one whose byte count is its point count times a peak width MSPeak.bin uses (8, 12 or
    16 bytes) and that lies inside MSPeak.bin, for every scan.
    """
    all_blocks = records["SpectrumParamValues"]
    for j in range(blocks):
        if _block_problem(all_blocks[:, j], peak_size) is None:
            return j
    scan, reason = cast(tuple[int, str], _block_problem(all_blocks[:, 0], peak_size))
    raise FormatError(f"{peak_path}: scan {int(records['ScanID'][scan])}: {reason}")


def _check_tiling(block: np.ndarray, scan_ids: np.ndarray, peak_size: int,
                  peak_path: Path) -> None:
    """The spectra of all the records lie end to end in MSPeak.bin, up to its last byte.

    MassHunter appends each scan's spectrum as it acquires it, so the blocks tile the
    file; a block that starts elsewhere, or bytes that no record accounts for, mean a
    damaged record or a damaged (truncated, extended) MSPeak.bin.
    """
    if not block.size:
        return
    offset = block["SpectrumOffset"].astype(np.int64)
    size = block["ByteCount"].astype(np.int64)
    ends = offset + size
    gap = np.flatnonzero(offset[1:] != ends[:-1])
    if gap.size:
        i = int(gap[0]) + 1
        raise FormatError(
            f"{peak_path}: the spectrum of scan {int(scan_ids[i])} starts at byte "
            f"{offset[i]}, not where scan {int(scan_ids[i - 1])}'s ends ({ends[i - 1]}): "
            "MSScan.bin and MSPeak.bin disagree (damaged file)")
    if ends[-1] != peak_size:
        raise FormatError(
            f"{peak_path}: the spectra of MSScan.bin's {block.size} records end at byte "
            f"{ends[-1]}, but the file has {peak_size} bytes (truncated, extended or "
            "damaged file)")


def _block_problem(block: np.ndarray, peak_size: int) -> tuple[int, str] | None:
    """(record index, reason) of the first block that does not fit MSPeak.bin, or None."""
    count = block["PointCount"].astype(np.int64)
    size = block["ByteCount"].astype(np.int64)
    offset = block["SpectrumOffset"].astype(np.int64)
    width = np.where(count > 0, size // np.maximum(count, 1), 0)
    widths_ok = np.isin(width, list(PEAK_LAYOUTS)) & (size == count * width)
    # Compare offset and size with the file size separately first: their sum could wrap.
    outside = (offset < 2) | (offset > peak_size) | (size > peak_size) | (
        offset + size > peak_size)
    bad = (count < 0) | ((count > 0) & (~widths_ok | outside))
    if not bad.any():
        return None
    i = int(np.flatnonzero(bad)[0])
    return i, (f"{count[i]} peaks in {size[i]} bytes at byte {offset[i]} do not fit the "
               f"{peak_size}-byte MSPeak.bin (truncated or damaged)")


def _gather_peaks(block: np.ndarray, scan_ids: np.ndarray, peaks: bytes,
                  peak_path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR arrays from MSPeak.bin, gathered with one fancy index per block layout.

    Each block is ``count`` m/z values followed by ``count`` abundances. Blocks are
    grouped by layout and by byte alignment so that each group reads through one typed
    view of the file; no loop runs over scans or peaks.
    """
    count = block["PointCount"].astype(np.int64)
    offset = block["SpectrumOffset"].astype(np.int64)
    size = block["ByteCount"].astype(np.int64)
    width = np.where(count > 0, size // np.maximum(count, 1), 0)
    offsets = np.zeros(count.size + 1, dtype=np.int64)
    np.cumsum(count, out=offsets[1:])
    total = int(offsets[-1])
    mz = np.empty(total, dtype=np.float64)
    intensity = np.empty(total, dtype=np.float64)
    alignment = offset % 8
    for layout_width in np.unique(width[count > 0]).tolist():
        for shift in np.unique(alignment[(count > 0) & (width == layout_width)]).tolist():
            group = (count > 0) & (width == layout_width) & (alignment == shift)
            mz_type, value_type = (np.dtype(t) for t in PEAK_LAYOUTS[layout_width])
            mz_view = np.frombuffer(peaks, dtype=mz_type, offset=shift,
                                    count=(len(peaks) - shift) // mz_type.itemsize)
            value_view = np.frombuffer(peaks, dtype=value_type, offset=shift,
                                       count=(len(peaks) - shift) // value_type.itemsize)
            n = count[group]
            within = np.arange(int(n.sum()), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
            first_mz = (offset[group] - shift) // mz_type.itemsize
            first_value = (offset[group] + n * mz_type.itemsize - shift) // value_type.itemsize
            target = np.repeat(offsets[:-1][group], n) + within
            mz[target] = mz_view[np.repeat(first_mz, n) + within]
            intensity[target] = value_view[np.repeat(first_value, n) + within]
    with np.errstate(over="ignore"):  # an abundance beyond float32 becomes inf: refused below
        single = intensity.astype(np.float32)
    finite = np.isfinite(mz) & np.isfinite(single)
    if not finite.all():
        bad = int(np.searchsorted(offsets, np.flatnonzero(~finite)[0], side="right")) - 1
        raise FormatError(f"{peak_path}: scan {int(scan_ids[bad])} holds non-finite m/z or "
                          "abundance values (damaged file)")
    mz, single = _sort_within_scans(mz, single, offsets, count)
    return offsets, mz, single
