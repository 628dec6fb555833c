"""Agilent ChemStation ``.D`` data: MS files (``data.ms``, ``MSD1.MS``) and ``.ch`` channels.

A ChemStation (or MassHunter-acquired, ChemStation-compatible) ``.D`` folder holds one
binary file per detector signal:

``data.ms`` / ``DATA.MS`` / ``MSD1.MS`` / ``dataSim.ms``
    The HP/Agilent MSD data file: a big-endian header, one record per scan (retention
    time, peak count, packed m/z-abundance pairs, the scan's own TIC) and a directory of
    record offsets. Full-scan and SIM acquisitions share the layout.
``FID1A.ch`` (and TCD, ECD, NPD ... channels)
    A single detector trace: versions 8 (delta-compressed integers), 81 and 181
    (double-delta integers) and 179 (little-endian doubles), each with a header giving
    the time range and the scale to physical units.

Every byte decoded is described in ``docs/agilent-chemstation.md`` (offset tables beside
the golden-file tests in ``tests/io/test_agilent.py``).

Decoding rules a chemist may ask about
--------------------------------------
* m/z is stored as an unsigned 16-bit integer ``20 x m/z`` (a 0.05 u grid):
  ``mz = raw / 20``.
* Abundance is a packed 16-bit word: the top two bits are a power of eight, the other
  14 bits a mantissa, ``abundance = mantissa x 8**exponent`` (so values above 16,383 keep
  14 significant bits). The decoded values are exact in float32.
* Scan times are stored in milliseconds and returned in seconds.
* The run's ``tic`` is the total ion current the instrument wrote in each scan record
  (what the data system's own TIC shows); it can differ by a few tenths of a percent from
  the sum of the packed abundances, which lose precision above 16,383.
* ``.ch`` values are ``raw x slope + intercept`` with both factors read from the header;
  times are ``first + i x sampling interval``, and the number of points must be the one
  the header's time range and interval imply (a file cut short is refused, never spread
  over the full time range). Version 8 has no interval: its times are spread evenly.

What the file says of itself is checked: the header's scan count against the records,
the records against the scan directory (position, time and TIC of every scan; the
records end where the directory begins), the directory against the file's length.

The SHA-256 in ``run.metadata.sha256`` is that of the very bytes decoded (``data_file``);
``metadata.parts_sha256`` adds every sidecar file read for the metadata.
"""

from __future__ import annotations

import dataclasses
import os
import re
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import numpy as np

from gcms.errors import FormatError
from gcms.io._common import build_run, read_evidence
from gcms.run import Acquisition, Run, RunMetadata

__all__ = [
    "FolderMetadata",
    "list_channels",
    "parse_chemstation_date",
    "read",
    "read_folder_metadata",
    "sniff",
]

FORMAT_NAME = "agilent-chemstation"

# ----------------------------------------------------------------------------- MS layout
#: First four bytes of every MSD data file: Pascal string "2" (the file version) + 2 zeros.
MS_MAGIC = b"\x012\x00\x00"
#: File-type strings (Pascal string at 0x04) of the MSD data files this reader accepts.
MS_FILE_TYPES = ("GC / MS DATA FILE", "MSD SPECTRAL FILE")
#: Header words (big-endian) this reader uses.
_MS_DIRECTORY_OFFSET = 0x104  # u32: word number (1-based) of the scan directory
_MS_DATA_OFFSET = 0x108  # u32: word number (1-based) of the first scan record
_MS_SCAN_COUNT = 0x116  # u32: number of scan records
_MS_TIME_RANGE = 0x11A  # 2 x u32: time of the first and of the last scan, ms
_MS_SYSTEMTIME = 0x158  # 8 x u16 little-endian: Windows SYSTEMTIME of the run start
_MS_MIN_HEADER = 0x168  # bytes every header holds (through the SYSTEMTIME)
#: A scan record is 9 header words + 2 words per peak + 5 footer words.
_RECORD_FIXED_WORDS = 14
_RECORD_HEADER_WORDS = 9
#: Record "data type" word values observed: 1 in full-scan files, 3 in SIM files.
_RECORD_TYPE_SCAN = 1
_RECORD_TYPE_SIM = 3
#: Pascal (length-prefixed, single-byte) header strings: offset, maximum characters.
_MS_PASCAL = {
    "file_type": (0x04, 19),
    "sample_name": (0x18, 61),
    "misc_info": (0x56, 61),
    "operator": (0x94, 29),
    "acquired": (0xB2, 29),
    "instrument": (0xD0, 9),
    "inlet": (0xDA, 9),
    "method": (0xE4, 19),
}
#: UTF-16LE, NUL-terminated header strings written by MassHunter-era acquisition
#: software after the classic header: offset, slot width in bytes. Each is read only
#: when it lies before the first scan record.
_MS_UTF16 = {
    "file_type": (0x170, 0x50),
    "instrument": (0x1C0, 0x80),
    "inlet": (0x240, 0x28),
    "method_dir": (0x268, 0x1FE),
    "method": (0x466, 0x1FE),
    "tune_dir": (0x664, 0x1FE),
    "tune_file": (0x862, 0x1FE),
    "data_dir": (0xA60, 0x1FE),
    "data_file": (0xC5E, 0x1FE),
    "operator": (0xEFC, 0x190),
    "sample_name": (0x108C, 0x1FE),
}

# ----------------------------------------------------------------------------- .ch layout
#: ``.ch`` versions (Pascal string at byte 0) read here. 8: delta-compressed integers,
#: 81/181: double-delta integers, 179: little-endian float64 values.
CH_VERSIONS = ("8", "81", "179", "181")
_CH_OLD_HEADER_BLOCK = 512  # 8/81: data start = (u32 at 0x108 - 1) x 512 bytes
_CH_NEW_DATA_START = 0x1800  # 179/181: fixed 6,144-byte header
_CH_TIME_RANGE = 0x11A  # first and last time, ms (i32 in v8, f32 in v81/179/181)
_CH_OLD_PASCAL = {  # the .ms header's strings, then the detector's own
    **_MS_PASCAL,
    "units": (0x244, 15),
    "signal": (0x254, 39),
}
_CH_OLD_INTERCEPT, _CH_OLD_SLOPE = 0x27C, 0x284  # f64 big-endian
_CH_OLD_MIN_HEADER = 0x28C  # through the slope
_CH_OLD_SAMPLING = 0x212  # v81: two u16 big-endian, sampling interval = a / b seconds
#: Version 179/181 strings: UTF-16LE with a one-byte character count; offset, max chars.
_CH_NEW_PASCAL16 = {
    "file_type": (0x15B, 40),
    "sample_name": (0x35A, 255),
    "misc_info": (0x559, 255),
    "operator": (0x758, 255),
    "acquired": (0x957, 50),
    "instrument_model": (0x9BC, 20),
    "inlet": (0x9E5, 20),
    "method": (0xA0E, 255),
    "instrument": (0xC11, 255),
    "firmware": (0xE11, 100),
    "software": (0xEDA, 100),
    "units": (0x104C, 20),
    "signal": (0x1075, 255),
}
_CH_NEW_INTERCEPT, _CH_NEW_SLOPE = 0x1274, 0x127C  # f64 big-endian
_CH_NEW_SAMPLING = 0x101A  # two u16 big-endian: sampling interval = a / b seconds
#: Detector names recognised in a channel's signal description or file name.
_DETECTOR_PATTERN = re.compile(r"(FID|TCD|[MU]?ECD|NPD|P?FPD|SCD|NCD|DAD|MWD|VWD|ADC)")

#: Sidecar files larger than this are not parsed (they are kilobytes in practice).
_SIDECAR_MAX_BYTES = 4 << 20

_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}


# =========================================================================== sniffing
def _ms_file_type(head: bytes) -> str | None:
    """The file-type string of an MSD data file header, None when it is not one."""
    if len(head) < 24 or head[:4] != MS_MAGIC:
        return None
    length = head[4]
    if not 0 < length <= 19:
        return None
    text = head[5:5 + length].decode("latin-1").strip()
    return text if text.upper() in MS_FILE_TYPES else None


def _ch_version(head: bytes) -> str | None:
    """The version string of a ChemStation ``.ch`` header, None when it is not one."""
    if len(head) < 4 or not 1 <= head[0] <= 3:
        return None
    version = head[1:1 + head[0]]
    if not version.isdigit():
        return None
    text = version.decode("ascii")
    return text if text in CH_VERSIONS else None


def _head(path: Path, size: int = 32) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``path`` is a ChemStation data file or a ``.D`` folder holding one.

    A file is recognised by its header bytes alone (MSD magic ``01 32 00 00`` followed by
    "GC / MS Data File" or "MSD Spectral File"; or a ``.ch`` version string 8, 81, 179 or
    181), a folder by holding at least one such file.
    """
    path = Path(path)
    if path.is_dir():
        return bool(list_channels(path))
    return _ms_file_type(head) is not None or _ch_version(head) is not None


def list_channels(path: str | os.PathLike) -> list[str]:
    """Names of the ChemStation data files in a ``.D`` folder, the default first.

    Order: ``data.ms`` (the full-scan or SIM MS data), the other MS files (``MSD1.MS``,
    ``dataSim.ms``) by name, then the detector channels (``*.ch``) by name. Only files
    whose header is a readable MSD or ``.ch`` header are listed. For a file, its own name.
    """
    path = Path(path)
    if not path.is_dir():
        return [path.name] if path.is_file() else []
    ms_files, ch_files = [], []
    try:
        entries = sorted(os.scandir(path), key=lambda entry: entry.name.lower())
    except OSError:
        return []
    for entry in entries:
        name = entry.name.lower()
        if not name.endswith((".ms", ".ch")) or not entry.is_file():
            continue
        head = _head(Path(entry.path))
        if _ms_file_type(head) is not None:
            ms_files.append(entry.name)
        elif _ch_version(head) is not None:
            ch_files.append(entry.name)
    ms_files.sort(key=lambda name: (name.lower() != "data.ms", name.lower()))
    return ms_files + ch_files


# =========================================================================== reading
def read(path: str | os.PathLike, *, channel: str | None = None) -> Run:
    """Read an Agilent ChemStation data file, or one channel of a ``.D`` folder.

    Parameters
    ----------
    path
        A ``.D`` folder, an MSD data file (``data.ms``, ``MSD1.MS``, ``dataSim.ms``) or a
        ``.ch`` detector file. Opened read-only.
    channel
        For a folder, the data file to read (a name from :func:`list_channels`, matched
        without regard to case); ``None`` reads the first one, the full-scan MS data
        when the folder has it.

    Returns
    -------
    Run
        MS files: one scan per record (``acquisition`` ``"scan"`` or ``"sim"``), m/z
        ascending within each scan, ``tic`` as written by the instrument. ``.ch`` files:
        a ``"trace"`` run without spectra whose ``tic`` is the detector signal in the
        units named in ``metadata.extra["units"]``. ``metadata.sha256`` is the SHA-256 of
        ``metadata.data_file``; sample, operator, method, instrument, tune file and vial
        come from the file header, completed from the folder's ``acqmeth.txt``,
        ``runstart.txt`` and ``AcqData/*.xml`` where the header is silent.

    Raises
    ------
    FormatError
        The file is empty, truncated, inconsistent or not a ChemStation file; the message
        names the file and the problem.
    """
    given = Path(path)
    if given.is_dir():
        channels = list_channels(given)
        if not channels:
            raise FormatError(
                f"{given}: no ChemStation data file (data.ms, *.ms or *.ch) in this folder"
            )
        if channel is None:
            name = channels[0]
        else:
            matches = [c for c in channels if c.lower() == channel.lower()]
            if not matches:
                raise FormatError(
                    f"{given}: no channel {channel!r} in this folder "
                    f"(channels: {', '.join(channels)})"
                )
            name = matches[0]
        data_file, folder = given / name, given
    else:
        if channel is not None and channel.lower() != given.name.lower():
            raise FormatError(f"{given}: is a single data file; it has no channel {channel!r}")
        data_file, folder = given, given.parent

    evidence = read_evidence(data_file)
    data, digest = evidence.raw, evidence.sha256
    where = str(data_file)
    if _ms_file_type(data[:32]) is not None:
        decoded = _decode_ms(data, where)
    elif _ch_version(data[:32]) is not None:
        decoded = _decode_ch(data, where, data_file.stem)
    else:
        raise FormatError(
            f"{where}: not an Agilent ChemStation file (no MSD data-file header and no "
            f".ch version {'/'.join(CH_VERSIONS)} at the start)"
        )
    folder_meta = read_folder_metadata(folder) if folder.is_dir() else FolderMetadata()
    metadata = _merge_metadata(decoded, folder_meta, data_file, given, digest)
    # Every file decoded, named by its place in the folder: the data file and each
    # sidecar file whose text went into the metadata.
    parts = {data_file.relative_to(folder).as_posix(): digest, **dict(folder_meta.sha256)}
    metadata = metadata.replace(parts_sha256=dict(sorted(parts.items())))
    return build_run(
        where,
        scan_times=decoded.times_s,
        scan_offsets=decoded.offsets,
        mz=decoded.mz,
        intensity=decoded.intensity,
        tic=decoded.tic,
        metadata=metadata,
    )


@dataclass(slots=True)
class _Decoded:
    """What one data file yielded: CSR arrays plus its header facts."""

    times_s: np.ndarray
    offsets: np.ndarray
    mz: np.ndarray
    intensity: np.ndarray
    tic: np.ndarray
    acquisition: Acquisition
    detector: str
    header: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    acquired_at: datetime | None = None


# ----------------------------------------------------------------------------- strings
def _pascal(data: bytes, offset: int, max_chars: int, where: str, name: str, *,
            utf16: bool = False) -> str | None:
    """A string with a one-byte character count; None when empty.

    Single-byte Windows-1252 characters in ChemStation headers, UTF-16LE (``utf16``) in
    the ``.ch`` 179 header.
    """
    if offset >= len(data):
        return None
    length = data[offset]
    if length > max_chars:
        raise FormatError(
            f"{where}: header field {name} at byte {offset:#x} claims {length} characters "
            f"in a {max_chars}-character slot (damaged header)"
        )
    size = 2 * length if utf16 else length
    raw = data[offset + 1:offset + 1 + size]
    if len(raw) != size:
        raise FormatError(f"{where}: header ends inside field {name} (truncated file)")
    return _clean(raw.decode("utf-16-le" if utf16 else "cp1252", errors="replace"))


def _utf16z(data: bytes, offset: int, width: int) -> str | None:
    """A NUL-terminated UTF-16LE string in a fixed slot; None when empty."""
    raw = data[offset:offset + width]
    units = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<u2")
    end = np.flatnonzero(units == 0)
    count = int(end[0]) if end.size else units.size
    return _clean(raw[: 2 * count].decode("utf-16-le", errors="replace"))


def _clean(text: str) -> str | None:
    text = text.replace("\x00", "").strip()
    return text or None


# ----------------------------------------------------------------------------- dates
_DATE_TEXT = re.compile(
    r"^(?P<d>\d{1,2})[\s-]+(?P<mon>[A-Za-z]{3})[\s-]+(?P<y>\d{2,4}),?\s+"
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp][Mm])?"
    r"\s*(?P<tz>[+-]\d{2}:?\d{2})?$"
)
_DATE_US = re.compile(
    r"^(?P<mo>\d{1,2})/(?P<d>\d{1,2})/(?P<y>\d{2,4})\s+"
    r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?\s*(?P<ampm>[AaPp][Mm])?$"
)


def parse_chemstation_date(text: str | None) -> datetime | None:
    """Parse the acquisition date strings ChemStation writes; None when unrecognised.

    Forms seen in real files: ``"17 Dec 19  10:04 am"`` (MS headers, optionally followed by
    a UTC offset ``-0500``), ``"13-Oct-22, 08:52:05"`` (``.ch`` 179) and
    ``"8/20/20 2:00:32 PM"`` (``.ch`` 81, month first). Month names are matched in
    English whatever the locale. Two-digit years are 20yy below 70 and 19yy from 70.
    The result is naive (the instrument PC's local time) unless the text carries an
    offset.
    """
    if not text:
        return None
    text = " ".join(text.split())
    match = _DATE_TEXT.match(text)
    if match:
        month = _MONTHS.get(match["mon"].lower())
    else:
        match = _DATE_US.match(text)
        month = int(match["mo"]) if match else None
    if not match or not month:
        return None
    year = int(match["y"])
    if year < 100:
        year += 2000 if year < 70 else 1900
    hour = int(match["H"])
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"].lower() == "pm" else 0)
    tzinfo = None
    if match.groupdict().get("tz"):
        sign = -1 if match["tz"][0] == "-" else 1
        digits = match["tz"][1:].replace(":", "")
        tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(year, month, int(match["d"]), hour, int(match["M"]),
                        int(match["S"] or 0), tzinfo=tzinfo)
    except ValueError:
        return None


def _systemtime(data: bytes, offset: int) -> datetime | None:
    """A Windows SYSTEMTIME (8 little-endian u16: year, month, weekday, day, h, m, s, ms)."""
    if offset + 16 > len(data):
        return None
    year, month, _, day, hour, minute, second, ms = struct.unpack_from("<8H", data, offset)
    try:
        return datetime(year, month, day, hour, minute, second, ms * 1000)
    except ValueError:
        return None


def _refine_with_systemtime(text_time: datetime | None, stamp: datetime | None,
                            extra: dict[str, str]) -> datetime | None:
    """The header's text date, to the millisecond when the SYSTEMTIME agrees with it.

    The text date has minute resolution. The SYSTEMTIME block beside it holds the same
    instant to the millisecond in some files (local time) and in UTC in others, with no
    flag telling which: it is used only when it falls in the same local minute as the
    text, and otherwise kept in ``extra`` for the record.
    """
    if stamp is None:
        return text_time
    if text_time is None:
        extra["header_systemtime"] = stamp.isoformat()
        return None
    local = text_time.replace(tzinfo=None)
    if stamp.replace(second=0, microsecond=0) == local.replace(second=0, microsecond=0):
        return stamp.replace(tzinfo=text_time.tzinfo)
    extra["header_systemtime"] = stamp.isoformat()
    return text_time


# ----------------------------------------------------------------------------- MS files
def _decode_ms(data: bytes, where: str) -> _Decoded:
    """Decode an MSD data file: header, scan records (vectorised), metadata."""
    size = len(data)
    if size < _MS_MIN_HEADER:
        raise FormatError(
            f"{where}: {size} bytes, shorter than the {_MS_MIN_HEADER}-byte MSD header "
            "(truncated file)"
        )
    directory_word, data_word = struct.unpack_from(">II", data, _MS_DIRECTORY_OFFSET)
    n_scans = struct.unpack_from(">I", data, _MS_SCAN_COUNT)[0]
    start = 2 * (data_word - 1)
    if data_word == 0 or not _MS_MIN_HEADER <= start <= size:
        raise FormatError(
            f"{where}: header gives the first scan record at byte {start}, outside the "
            f"{size}-byte file (damaged header)"
        )
    capacity = (size - start) // (2 * _RECORD_FIXED_WORDS)
    if n_scans > capacity:
        raise FormatError(
            f"{where}: header claims {n_scans} scans but the {size - start} bytes after the "
            f"header hold at most {capacity} (truncated file)"
        )
    words = np.frombuffer(data, dtype=">u2", count=size // 2)
    starts, index_source = _ms_record_starts(data, words, n_scans, start // 2,
                                             directory_word, where)

    lengths = words[starts].astype(np.int64)
    times_ms = (words[starts + 1].astype(np.int64) << 16) | words[starts + 2]
    if directory_word and n_scans:
        # A complete file (it has its directory) states its time range in the header.
        first_ms, last_ms = struct.unpack_from(">II", data, _MS_TIME_RANGE)
        if (first_ms, last_ms) != (times_ms[0], times_ms[-1]):
            raise FormatError(
                f"{where}: the header (byte {_MS_TIME_RANGE:#x}) gives the run from "
                f"{first_ms} to {last_ms} ms, but its scans run from {times_ms[0]} to "
                f"{times_ms[-1]} ms (damaged file)")
    record_types = words[starts + 4]
    counts = words[starts + 6].astype(np.int64)
    bad = np.flatnonzero(lengths != _RECORD_FIXED_WORDS + 2 * counts)
    if bad.size:
        i = int(bad[0])
        raise FormatError(
            f"{where}: scan {i + 1} of {n_scans}: record of {lengths[i]} words cannot hold "
            f"its {counts[i]} peaks (damaged record)"
        )
    tic = ((words[starts + lengths - 2].astype(np.int64) << 16)
           | words[starts + lengths - 1]).astype(np.float64)

    offsets = np.zeros(n_scans + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    total = int(offsets[-1])
    # Records list peaks by descending m/z; read each scan back to front so that the
    # result is ascending, then verify (and sort where a file does otherwise).
    within = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1], counts)
    last_pair = starts + _RECORD_HEADER_WORDS + 2 * (counts - 1)
    pair = np.repeat(last_pair, counts) - 2 * within
    mz = words[pair] / 20.0
    packed = words[pair + 1]
    intensity = ((packed & 0x3FFF).astype(np.uint32)
                 << (3 * (packed >> 14)).astype(np.uint32)).astype(np.float32)
    mz, intensity = _sort_within_scans(mz, intensity, offsets, counts)

    header = _ms_header_strings(data, start, where)
    extra = {"scan_index": index_source}
    if header.get("file_type"):
        extra["file_type"] = header.pop("file_type")
    types = np.unique(record_types)
    extra["record_data_type"] = ",".join(str(int(t)) for t in types)
    if types.size == 1 and types[0] == _RECORD_TYPE_SIM:
        acquisition: Acquisition = "sim"
    else:
        acquisition = "scan"
    for key, (offset, fmt) in {"sequence_index": (0xFC, ">h"), "vial": (0xFE, ">h"),
                               "replicate": (0x100, ">h")}.items():
        value = struct.unpack_from(fmt, data, offset)[0]
        if value > 0:
            extra[key] = str(value)
    acquired = _refine_with_systemtime(
        parse_chemstation_date(header.get("acquired")), _systemtime(data, _MS_SYSTEMTIME),
        extra,
    )
    return _Decoded(
        times_s=times_ms / 1000.0,
        offsets=offsets,
        mz=mz,
        intensity=intensity,
        tic=tic,
        acquisition=acquisition,
        detector="MS",
        header=header,
        extra=extra,
        acquired_at=acquired,
    )


def _ms_record_starts(data: bytes, words: np.ndarray, n_scans: int, first: int,
                      directory_word: int, where: str) -> tuple[np.ndarray, str]:
    """Word index of every scan record, checked against the scan directory.

    The records are walked header by header from the data offset, as many as the header
    says (a loop over record headers only, checked against the file size at every step).
    The directory (12 bytes per scan: record word number, time in ms, TIC), which the
    data system writes right after the last record, must then agree with them entry by
    entry, and begin where the records end: a header scan count, a record or a
    directory entry that disagrees is damage, refused with the byte offset of the entry.
    A file without a directory (header word 0: an interrupted acquisition, whose
    directory was never written) is read from the records alone.
    """
    n_words = words.size
    size = len(data)
    directory = 2 * (directory_word - 1)
    if directory_word:
        if directory + 12 * n_scans > size:
            raise FormatError(
                f"{where}: the header puts the scan directory ({n_scans} entries of 12 "
                f"bytes) at byte {directory}, past the end of the {size}-byte file "
                "(truncated file)")
        entries = np.frombuffer(data, dtype=">u4", count=3 * n_scans,
                                offset=directory).reshape(n_scans, 3).astype(np.int64)
        starts = entries[:, 0] - 1
        if _directory_agrees(words, starts, entries, first, directory // 2):
            return starts, "directory"
    # Walked record by record: the precise place of any disagreement is then known.
    starts = np.empty(n_scans, dtype=np.int64)
    position = first
    for i in range(n_scans):
        if position + _RECORD_FIXED_WORDS > n_words:
            raise FormatError(
                f"{where}: scan {i + 1} of {n_scans} starts at byte {2 * position}, past the "
                f"end of the {size}-byte file (truncated file)"
            )
        length = int(words[position])
        if length < _RECORD_FIXED_WORDS or position + length > n_words:
            problem = ("is shorter than any record" if length < _RECORD_FIXED_WORDS
                       else "runs past the end of the file")
            raise FormatError(
                f"{where}: scan {i + 1} of {n_scans} at byte {2 * position} declares "
                f"{length} words, which {problem} (truncated or damaged file)"
            )
        starts[i] = position
        position += length
    records_end = 2 * position
    if not directory_word:
        if n_scans == 0 and size > records_end:
            raise FormatError(
                f"{where}: the header gives 0 scans and no scan directory, but "
                f"{size - records_end} bytes follow the header at byte {records_end} "
                "(damaged header)")
        return starts, "record chain (no scan directory)"
    if directory != records_end:
        raise FormatError(
            f"{where}: the {n_scans} scan records the header counts end at byte "
            f"{records_end}, but the header puts the scan directory at byte {directory}: "
            "the header's scan count or directory offset disagrees with the records "
            "(damaged file)")
    lengths = words[starts].astype(np.int64)
    times = (words[starts + 1].astype(np.int64) << 16) | words[starts + 2]
    tics = (words[starts + lengths - 2].astype(np.int64) << 16) | words[starts + lengths - 1]
    for column, ours, what in ((0, starts + 1, "record position (word)"),
                               (1, times, "time (ms)"), (2, tics, "TIC")):
        bad = np.flatnonzero(entries[:, column] != ours)
        if bad.size:
            i = int(bad[0])
            raise FormatError(
                f"{where}: scan directory entry {i + 1} of {n_scans} (byte "
                f"{directory + 12 * i}) gives {what} {entries[i, column]}, but the scan "
                f"record at byte {2 * starts[i]} says {ours[i]} (damaged file)")
    return starts, "directory"


def _directory_agrees(words: np.ndarray, starts: np.ndarray, entries: np.ndarray,
                      first: int, directory: int) -> bool:
    """Whether the directory agrees with the records it points to (vectorised).

    The records must lie end to end from ``first`` to the directory (word indices), with
    the times and TICs the directory gives.
    """
    if not starts.size:
        return first == directory
    if (starts[0] != first or starts.min() < first
            or starts.max() + _RECORD_FIXED_WORDS > words.size):
        return False
    lengths = words[starts].astype(np.int64)
    if lengths.min() < _RECORD_FIXED_WORDS or starts[-1] + lengths[-1] != directory:
        return False
    times = (words[starts + 1].astype(np.int64) << 16) | words[starts + 2]
    tics = (words[starts + lengths - 2].astype(np.int64) << 16) | words[starts + lengths - 1]
    return bool(np.array_equal(starts[1:], starts[:-1] + lengths[:-1])
                and np.array_equal(times, entries[:, 1])
                and np.array_equal(tics, entries[:, 2]))


def _sort_within_scans(mz: np.ndarray, intensity: np.ndarray, offsets: np.ndarray,
                       counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peaks ordered by ascending m/z within each scan (stable; a no-op when they are)."""
    if mz.size < 2:
        return mz, intensity
    step_down = np.diff(mz) < 0
    starts = offsets[1:-1][counts[1:] > 0]  # first peak of every later non-empty scan
    step_down[starts[starts > 0] - 1] = False  # from one scan to the next m/z may fall
    if not step_down.any():
        return mz, intensity
    scan_of_peak = np.repeat(np.arange(counts.size), counts)
    order = np.lexsort((mz, scan_of_peak))
    return mz[order], intensity[order]


def _ms_header_strings(data: bytes, data_start: int, where: str) -> dict[str, str]:
    """Header strings: the full UTF-16 copies where present, else the Pascal ones."""
    found: dict[str, str] = {}
    for name, (offset, width) in _MS_UTF16.items():
        if offset + width <= data_start:
            value = _utf16z(data, offset, width)
            if value:
                found[name] = value
    for name, (offset, max_chars) in _MS_PASCAL.items():
        value = _pascal(data, offset, max_chars, where, name)
        if value and name not in found:
            found[name] = value
    return found


# ----------------------------------------------------------------------------- .ch files
def _decode_ch(data: bytes, where: str, stem: str) -> _Decoded:
    """Decode a ``.ch`` detector file into a trace run."""
    version = _ch_version(data[:32])
    size = len(data)
    if version in ("8", "81"):
        if size < _CH_OLD_MIN_HEADER:
            raise FormatError(f"{where}: {size} bytes, shorter than the .ch {version} header "
                              "(truncated file)")
        blocks = struct.unpack_from(">i", data, 0x108)[0]
        start = (blocks - 1) * _CH_OLD_HEADER_BLOCK
        if not _CH_OLD_MIN_HEADER <= start <= size:
            raise FormatError(f"{where}: header gives the data start at byte {start}, outside "
                              f"the {size}-byte file (damaged header)")
        header = {name: value for name, (offset, limit) in _CH_OLD_PASCAL.items()
                  if (value := _pascal(data, offset, limit, where, name))}
        intercept, slope = struct.unpack_from(">dd", data, _CH_OLD_INTERCEPT)
        fmt = ">ii" if version == "8" else ">ff"
        first_ms, last_ms = struct.unpack_from(fmt, data, _CH_TIME_RANGE)
        raw = (_delta_decode(data, start, where) if version == "8"
               else _double_delta_decode(data, start, where))
        interval_s = None
        if version == "81":
            numerator, denominator = struct.unpack_from(">HH", data, _CH_OLD_SAMPLING)
            interval_s = numerator / denominator if numerator and denominator else None
    else:
        start = _CH_NEW_DATA_START
        if size < start:
            raise FormatError(f"{where}: {size} bytes, shorter than the {start}-byte .ch "
                              f"{version} header (truncated file)")
        header = {name: value for name, (offset, limit) in _CH_NEW_PASCAL16.items()
                  if (value := _pascal(data, offset, limit, where, name, utf16=True))}
        intercept, slope = struct.unpack_from(">dd", data, _CH_NEW_INTERCEPT)
        first_ms, last_ms = struct.unpack_from(">ff", data, _CH_TIME_RANGE)
        numerator, denominator = struct.unpack_from(">HH", data, _CH_NEW_SAMPLING)
        interval_s = numerator / denominator if numerator and denominator else None
        if version == "179":
            if (size - start) % 8:
                raise FormatError(f"{where}: {size - start} data bytes is not a whole number "
                                  "of 8-byte values (truncated file)")
            raw = np.frombuffer(data, dtype="<f8", offset=start)
        else:
            raw = _double_delta_decode(data, start, where)
    n = raw.size
    if n == 0:
        raise FormatError(f"{where}: holds no data points")
    if not (np.isfinite(slope) and np.isfinite(intercept)) or slope == 0:
        raise FormatError(f"{where}: header scale factor {slope} is not usable (damaged header)")
    with np.errstate(all="ignore"):  # damaged values are caught just below, by name
        signal = raw.astype(np.float64) * slope + intercept
    if not np.isfinite(signal).all():
        first_bad = int(np.flatnonzero(~np.isfinite(signal))[0])
        raise FormatError(f"{where}: point {first_bad + 1} of {n} is not a finite number "
                          "(damaged data)")
    ch_format = cast(str, version)  # read only once sniffing found a .ch version
    extra = {"ch_format": ch_format, "scale_slope": repr(slope),
             "scale_intercept": repr(intercept)}
    times_s = _ch_time_axis(float(first_ms), float(last_ms), n, interval_s, ch_format, where,
                            extra)
    detector = _detector_name(header.get("signal"), stem)
    for key in ("units", "signal", "misc_info", "inlet", "instrument_model", "firmware",
                "software", "file_type"):
        if header.get(key):
            extra[key] = header.pop(key)
    vial = struct.unpack_from(">h", data, 0xFE)[0]
    if vial > 0:
        extra["vial"] = str(vial)
    return _Decoded(
        times_s=times_s,
        offsets=np.zeros(n + 1, dtype=np.int64),
        mz=np.zeros(0),
        intensity=np.zeros(0, dtype=np.float32),
        tic=signal,
        acquisition="trace",
        detector=detector,
        header=header,
        extra=extra,
        acquired_at=parse_chemstation_date(header.get("acquired")),
    )


def _ch_time_axis(first_ms: float, last_ms: float, n: int, interval_s: float | None,
                  version: str, where: str, extra: dict[str, str]) -> np.ndarray:
    """Sample times in seconds: ``first + i x interval``, checked against the header.

    The header gives the first and last time (ms) and, in versions 81/179/181, the
    sampling interval as a ratio of two integers (``1/20`` s). Version 179 files end the
    range at the last sample (``last - first = (n - 1) x interval``); the version 81 file
    seen ends it one interval later (``= n x interval``). A file whose points do not fill
    its own time range has lost samples (a file cut short, a damaged stream) and is
    refused: spreading the points over the full range would move every peak (a .ch cut to
    2,377 of its 2,699 points put its apex 15 s late), and so is a header whose interval
    is zero. Version 8 has no interval field: its times are spread evenly from first to
    last, as the format defines them.
    """
    if not (np.isfinite(first_ms) and np.isfinite(last_ms)) or last_ms < first_ms or (
            n > 1 and last_ms == first_ms):
        raise FormatError(f"{where}: header time range {first_ms} to {last_ms} ms is not a "
                          "valid range (damaged header)")
    if n == 1:
        return np.array([first_ms / 1000.0])
    if interval_s is not None:
        extra["sampling_interval_s"] = f"{interval_s:g}"
        steps = (last_ms - first_ms) / 1000.0 / interval_s
        whole = round(steps)
        allowed = (n - 1,) if version == "179" else (n - 1, n)
        if whole in allowed and abs(steps - whole) < 0.01:
            extra["time_axis"] = "first time + i x sampling interval"
            return first_ms / 1000.0 + np.arange(n) * interval_s
        implied = f"{whole + 1}" if version == "179" else f"{whole} or {whole + 1}"
        raise FormatError(
            f"{where}: holds {n} points but the header's time range ({first_ms:.1f} to "
            f"{last_ms:.1f} ms, byte {_CH_TIME_RANGE:#x}) every {interval_s * 1000:g} ms "
            f"implies {implied} (truncated or damaged file)"
        )
    if version != "8":
        offset = _CH_OLD_SAMPLING if version == "81" else _CH_NEW_SAMPLING
        raise FormatError(f"{where}: the header's sampling interval (byte {offset:#x}) is "
                          "zero or missing, so the times of the points are unknown (damaged "
                          "header)")
    extra["time_axis"] = "spread evenly from first to last time (version 8: no interval)"
    return np.linspace(first_ms, last_ms, n) / 1000.0


def _detector_name(signal: str | None, stem: str) -> str:
    """The detector a channel names in its signal description, else in its file name."""
    for text in (signal or "", stem):
        match = _DETECTOR_PATTERN.search(text.upper())
        if match:
            return match.group(1)
    return "unknown"


def _double_delta_decode(data: bytes, start: int, where: str) -> np.ndarray:
    """Decode the double-delta integer stream of ``.ch`` versions 81 and 181.

    The stream is big-endian 16-bit words. A word ``w != 32767`` is a second difference:
    ``delta += w; value += delta``. The word 32767 announces an absolute value in the next
    three words (a 48-bit signed integer: i16 high part, u32 low part) and resets
    ``delta`` to 0. Both accumulators start at 0.

    Only the (rare) 32767 markers are walked in Python, to tell a marker from a payload
    word that happens to equal 32767; the accumulation itself is two cumulative sums
    restarted at each marker.
    """
    if (len(data) - start) % 2:
        raise FormatError(f"{where}: data section ends in half a word (truncated file)")
    words = np.frombuffer(data, dtype=">i2", offset=start).astype(np.int64)
    is_marker = np.zeros(words.size, dtype=bool)
    payload = np.zeros(words.size, dtype=bool)
    resets: list[tuple[int, int]] = []
    next_free = 0
    for k in np.flatnonzero(words == 32767).tolist():
        if k < next_free:
            continue  # a payload word of the previous marker
        if k + 3 >= words.size:
            raise FormatError(f"{where}: absolute value at byte {start + 2 * k} is cut off "
                              "(truncated file)")
        high, low_hi, low_lo = (int(v) for v in words[k + 1:k + 4])
        resets.append((k, (high << 32) + ((low_hi & 0xFFFF) << 16) + (low_lo & 0xFFFF)))
        is_marker[k] = True
        payload[k + 1:k + 4] = True
        next_free = k + 4
    keep = ~payload
    tokens = words[keep]
    marker = is_marker[keep]
    if tokens.size == 0:
        return np.zeros(0)
    # Restartable double cumulative sum: segment s starts at its marker (or the stream
    # start) with value A_s and delta 0.
    second = np.where(marker, 0, tokens)
    segment = np.cumsum(marker)
    segment_start = np.concatenate(([0], np.flatnonzero(marker)))
    base_value = np.concatenate(([0], [value for _, value in resets])).astype(np.int64)
    first_sum = np.cumsum(second)
    delta = first_sum - first_sum[segment_start][segment]
    second_sum = np.cumsum(delta)
    return (base_value[segment] + second_sum - second_sum[segment_start][segment]).astype(
        np.float64)


def _delta_decode(data: bytes, start: int, where: str) -> np.ndarray:
    """Decode the delta-compressed integer stream of ``.ch`` version 8.

    The stream is a series of segments of big-endian 16-bit words: a segment header whose
    top four bits are non-zero (``0x1``) and whose low 12 bits count the values that follow;
    a header with the top four bits zero ends the data. Each value is an i16 difference
    added to a running total, except the word -32768, after which an i32 gives the total
    itself. The total runs on across segments (after the Chromatography Toolbox's
    ``ImportAgilent`` description of version 8).

    The loop runs over segment headers (one per up to 4,095 values); within a segment the
    differences are summed at once.
    """
    if (len(data) - start) % 2:
        raise FormatError(f"{where}: data section ends in half a word (truncated file)")
    words = np.frombuffer(data, dtype=">i2", offset=start).astype(np.int64)
    pieces: list[np.ndarray] = []
    total = 0
    k = 0
    while k < words.size:
        header = int(words[k]) & 0xFFFF
        if header >> 12 == 0:
            break
        count = header & 0x0FFF
        k += 1
        values = np.empty(count, dtype=np.int64)
        filled = 0
        while filled < count:
            window = words[k:k + count - filled]
            absolute = np.flatnonzero(window == -32768)
            run = int(absolute[0]) if absolute.size else count - filled
            if run > window.size:
                raise FormatError(f"{where}: segment at word {k} is cut off (truncated file)")
            steps = np.cumsum(window[:run]) + total
            values[filled:filled + run] = steps
            if run:
                total = int(steps[-1])
            filled += run
            k += run
            if filled < count:  # an absolute value: marker + i32
                if k + 2 >= words.size:
                    raise FormatError(f"{where}: absolute value at word {k} is cut off "
                                      "(truncated file)")
                total = ((int(words[k + 1]) & 0xFFFF) << 16 | (int(words[k + 2]) & 0xFFFF))
                total -= (total >> 31) << 32  # signed 32-bit
                values[filled] = total
                filled += 1
                k += 3
        pieces.append(values)
    return np.concatenate(pieces).astype(np.float64) if pieces else np.zeros(0)


# =========================================================================== folder files
@dataclass(frozen=True, slots=True)
class FolderMetadata:
    """What the text and XML files of a ``.D`` folder say about its acquisition.

    Read from ``AcqData/sample_info.xml``, ``AcqData/Contents.xml``,
    ``AcqData/Devices.xml``, ``runstart.txt`` and ``acqmeth.txt`` (UTF-16 or UTF-8). Every
    field is ``None`` where no file says. ``sources`` names the files that were read,
    ``problems`` those that could not be (one line each); neither stops a read, since
    the measurement itself is in the binary data file. ``sha256`` pairs each file read
    (path inside the folder) with the SHA-256 of the bytes decoded.
    """

    sample_name: str | None = None
    operator: str | None = None
    method: str | None = None
    instrument: str | None = None
    instrument_model: str | None = None
    instrument_serial: str | None = None
    tune_file: str | None = None
    vial: str | None = None
    acquired_at: datetime | None = None
    acquisition_mode: str | None = None
    software: str | None = None
    sources: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    sha256: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``acquired_at`` as ISO 8601)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["acquired_at"] = self.acquired_at.isoformat() if self.acquired_at else None
        out["sources"], out["problems"] = list(self.sources), list(self.problems)
        out["sha256"] = dict(self.sha256)
        return out


def read_folder_metadata(folder: str | os.PathLike) -> FolderMetadata:
    """Collect the acquisition facts stated in a ``.D`` folder's sidecar files.

    Precedence, first found wins: ``AcqData/sample_info.xml`` (what the acquisition
    software recorded for the injection), ``AcqData/Contents.xml`` and ``Devices.xml``,
    ``runstart.txt``, ``acqmeth.txt``. ``acquired_at`` is the ``Contents.xml``
    ``AcquiredTime`` (ISO 8601 with its UTC offset), else ``sample_info.xml``'s
    ``AcqTime``.
    """
    folder = Path(folder)
    found: dict[str, Any] = {}
    sources: list[str] = []
    problems: list[str] = []
    digests: list[tuple[str, str]] = []

    def put(key: str, value: Any) -> None:
        if value not in (None, "") and key not in found:
            found[key] = value

    def load(relative: str) -> bytes | None:
        target = folder / relative
        if not target.is_file():
            return None
        try:
            if target.stat().st_size > _SIDECAR_MAX_BYTES:
                problems.append(f"{relative}: larger than {_SIDECAR_MAX_BYTES} bytes, not read")
                return None
            evidence = read_evidence(target, allow_empty=True)
        except (OSError, FormatError) as error:
            reason = error.strerror if isinstance(error, OSError) else str(error)
            problems.append(f"{relative}: cannot be read ({reason or error})")
            return None
        digests.append((relative, evidence.sha256))
        return evidence.raw

    info = load("AcqData/sample_info.xml")
    if info is not None:
        fields = _xml_fields(info, "AcqData/sample_info.xml", problems)
        if fields is not None:
            sources.append("AcqData/sample_info.xml")
            put("sample_name", fields.get("Sample Name"))
            put("operator", fields.get("OperatorName"))
            put("method", _leaf(fields.get("Method")))
            put("instrument", fields.get("InstrumentName"))
            put("vial", fields.get("Sample Position"))
            if fields.get("TuneName"):
                put("tune_file", (fields.get("TunePath") or "") + fields["TuneName"])
            put("acquired_at", _parse_iso(fields.get("AcqTime")))
    contents = load("AcqData/Contents.xml")
    if contents is not None:
        root = _xml_root(contents, "AcqData/Contents.xml", problems)
        if root is not None:
            sources.append("AcqData/Contents.xml")
            stamp = _parse_iso(_text(root.find("AcquiredTime")))
            if stamp is not None:
                found["acquired_at"] = stamp  # the file meant for it takes precedence
            put("instrument", _text(root.find("InstrumentName")))
            put("software", _text(root.find("AcqSoftwareVersion")))
    devices = load("AcqData/Devices.xml")
    if devices is not None:
        root = _xml_root(devices, "AcqData/Devices.xml", problems)
        if root is not None:
            sources.append("AcqData/Devices.xml")
            for device in root.iter("Device"):
                if re.search(r"quad|tof|trap|ms", _text(device.find("Name")) or "", re.I):
                    put("instrument_model", _text(device.find("ModelNumber")))
                    serial = _text(device.find("SerialNumber"))
                    if serial and serial != "1":  # "1" is a placeholder in some files
                        put("instrument_serial", serial)
                    break
    runstart = load("runstart.txt")
    if runstart is not None:
        text = _decode_text(runstart)
        sources.append("runstart.txt")
        put("sample_name", _line_value(text, r"\(_dataname\$\)\s*="))
        put("method", _line_value(text, r"\(_methfile\$\)\s*="))
        bottle = _line_value(text, r"\(_alsbottle\)\s*=")
        if bottle and bottle.isdigit() and int(bottle) > 0:
            put("vial", bottle)
    acqmeth = load("acqmeth.txt")
    if acqmeth is not None:
        text = _decode_text(acqmeth)
        sources.append("acqmeth.txt")
        put("tune_file", _line_value(text, r"^\s*Tune file\s*:"))
        put("acquisition_mode", _line_value(text, r"^\s*Acquisition Mode\s*:"))
        put("instrument", _line_value(text, r"INSTRUMENT CONTROL PARAMETERS\s*:"))
        put("instrument_serial", _line_value(text, r"TUNE PARAMETERS for SN\s*:"))
        method = re.search(r"^\s*(\S.*\.M)\s*$", text, re.M | re.I)
        if method:
            put("method", _leaf(method.group(1)))
    return FolderMetadata(sources=tuple(sources), problems=tuple(problems),
                          sha256=tuple(digests), **found)


def _xml_root(raw: bytes, name: str, problems: list[str]):
    import xml.etree.ElementTree as ElementTree

    if b"<!ENTITY" in raw:
        problems.append(f"{name}: declares XML entities, not read")
        return None
    try:
        return ElementTree.fromstring(raw)
    except (ElementTree.ParseError, LookupError, ValueError) as error:
        # LookupError: an XML declaration naming an unknown encoding.
        problems.append(f"{name}: not well-formed XML ({error})")
        return None


def _xml_fields(raw: bytes, name: str, problems: list[str]) -> dict[str, str] | None:
    root = _xml_root(raw, name, problems)
    if root is None:
        return None
    fields: dict[str, str] = {}
    for element in root.iter("Field"):
        key, value = _text(element.find("Name")), _text(element.find("Value"))
        if key and value:
            fields.setdefault(key, value)
    return fields


def _text(element) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def _leaf(path_text: str | None) -> str | None:
    r"""The last component of a Windows path (``D:\...\x.M`` -> ``x.M``)."""
    if not path_text:
        return None
    return re.split(r"[\\/]", path_text.rstrip("\\/"))[-1] or None


def _decode_text(raw: bytes) -> str:
    """Text of a sidecar file: UTF-16 with BOM, UTF-8 (BOM optional) or Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="replace")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _line_value(text: str, label: str) -> str | None:
    """The text after ``label`` on the first line that has it."""
    match = re.search(label + r"[ \t]*(.*?)[ \t]*$", text, re.M)
    return (match.group(1).strip() or None) if match else None


_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)


def _parse_iso(text: str | None) -> datetime | None:
    """ISO 8601 as MassHunter writes it (any number of fractional digits, ``Z``)."""
    if not text:
        return None
    match = _ISO.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    micro = int((match[7] or "0")[:6].ljust(6, "0"))
    tzinfo = None
    if match[8]:
        if match[8] == "Z":
            tzinfo = timezone.utc
        else:
            sign = -1 if match[8][0] == "-" else 1
            digits = match[8][1:].replace(":", "")
            tzinfo = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tzinfo)
    except ValueError:
        return None


# =========================================================================== metadata
def _merge_metadata(decoded: _Decoded, folder: FolderMetadata, data_file: Path, given: Path,
                    digest: str) -> RunMetadata:
    """The data file's own header first; the folder's sidecar files where it is silent."""
    header = decoded.header
    extra = dict(decoded.extra)
    tune = header.get("tune_file")
    if tune and header.get("tune_dir"):
        tune = header["tune_dir"].rstrip("\\/") + "\\" + tune
    acquired = decoded.acquired_at
    if acquired is None:
        acquired = folder.acquired_at
        if acquired is not None:
            extra["acquired_at_source"] = "folder"
    elif (acquired.tzinfo is None and folder.acquired_at is not None
          and folder.acquired_at.tzinfo is not None):
        # The header's local time carries no zone; the folder's Contents.xml states the
        # same instant with its UTC offset. Adopt the offset when the wall clocks agree.
        wall = folder.acquired_at.replace(tzinfo=None)
        if abs((wall - acquired).total_seconds()) <= 120:
            acquired = acquired.replace(tzinfo=folder.acquired_at.tzinfo)
            extra["utc_offset_source"] = "AcqData/Contents.xml"
    if "vial" not in extra and folder.vial:
        extra["vial"] = folder.vial
    is_ms = decoded.detector == "MS"
    # The folder's tune file, MS model and serial, and acquisition mode describe the mass
    # spectrometer; a detector channel beside it keeps only what its own header says.
    folder_ms = (("instrument_model", folder.instrument_model),
                 ("instrument_serial", folder.instrument_serial),
                 ("acquisition_mode", folder.acquisition_mode)) if is_ms else ()
    for key, value in (("inlet", header.get("inlet")),
                       ("misc_info", header.get("misc_info")),
                       ("method_dir", header.get("method_dir")),
                       *folder_ms,
                       ("software", folder.software)):
        if value and key not in extra:
            extra[key] = value
    if folder.sources:
        extra["folder_files"] = "; ".join(folder.sources)
    if folder.problems:
        extra["folder_problems"] = "; ".join(folder.problems)
    acquisition = decoded.acquisition
    if acquisition == "scan" and is_ms:
        # Records say 3 in every SIM file seen; should a file say otherwise, the SIM data
        # are still recognised by the name the data system gives them (dataSim.ms) or,
        # for a SIM-only method that writes data.ms, by the method's acquisition mode.
        if data_file.stem.lower().endswith("sim"):
            acquisition = "sim"
            extra["acquisition_source"] = "file name"
        elif (folder.acquisition_mode and folder.acquisition_mode.strip().upper() == "SIM"
              and data_file.name.lower() == "data.ms"):
            acquisition = "sim"
            extra["acquisition_source"] = "acqmeth.txt"
    return RunMetadata(
        sample_name=header.get("sample_name") or folder.sample_name,
        acquired_at=acquired,
        operator=header.get("operator") or folder.operator,
        instrument=header.get("instrument") or folder.instrument,
        method=header.get("method") or folder.method,
        tune_file=tune or (folder.tune_file if is_ms else None),
        source_path=str(given),
        data_file=str(data_file),
        sha256=digest,
        format=FORMAT_NAME,
        acquisition=acquisition,
        detector=decoded.detector,
        extra=extra,
    )
