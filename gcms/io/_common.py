"""Machinery shared by the readers (internal): evidence bytes, physical limits, budgets, errors.

Every reader reads each evidence file once, through :func:`read_evidence`: the bytes go
into memory, their SHA-256 is taken over that buffer, and the reader decodes the buffer.
The digest therefore describes exactly the bytes decoded, whatever happens to the file
on disk meanwhile, and a file that changes while it is read is refused by name (a
memory map would instead show the new bytes, or kill the process with SIGBUS when the
file shrinks). What the readers then decode is held to what a GC-MS acquisition can be
(:func:`build_run`, :func:`peak_problem`) and to the memory budget
(:func:`check_budget`, :func:`inflate`).
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gcms._arrays import budget_problem
from gcms.errors import FormatError
from gcms.run import Run
from gcms.spectrum import Spectrum

__all__ = [
    "DECODE_ERRORS",
    "MAX_TIME_S",
    "MIN_TRACE_TIME_S",
    "MZ_LIMITS",
    "EntryReport",
    "EvidenceBytes",
    "SkippedEntry",
    "build_run",
    "check_budget",
    "decode_text",
    "evidence_bytes",
    "inflate",
    "peak_problem",
    "read_evidence",
    "sha256_file",
]

#: Errors that low-level decoding raises on damaged bytes (a short struct, an index past
#: the end, an undecodable string, an absurd size). The registry turns them into a
#: ``FormatError`` naming the file, so a damaged file never escapes as anything else.
DECODE_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
    EOFError,
    TypeError,
    OSError,
)

#: m/z an electron-ionisation GC-MS spectrum can hold. Below: nothing lighter than H+
#: (1.008) is an ion; above: EI of what a GC elutes stays under ~1,100 u, and direct-inlet
#: or calibration spectra (PFTBA 614, the 1993 ANDI round-robin's 3,586) stay far under
#: 5,000. A value outside is a damaged number (one flipped bit made 3,670,016).
MZ_LIMITS = (0.5, 5000.0)
#: Latest scan time, in seconds, a run may hold: a day. GC-MS runs last minutes to hours;
#: a time beyond is a damaged number, not a measurement.
MAX_TIME_S = 86400.0
#: Earliest time of a detector trace, in seconds. Chromatography data systems stamp a
#: few seconds before the injection as negative times (-2.5 s in the AIA round-robin);
#: mass-spectrometer scans are timed from the injection and are never negative.
MIN_TRACE_TIME_S = -3600.0

def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in a read-only binary handle."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


# --------------------------------------------------------------------------- evidence
@dataclass(frozen=True, slots=True)
class EvidenceBytes:
    """An evidence file's bytes, read once into memory, and their SHA-256."""

    path: Path
    raw: bytes
    sha256: str

    @property
    def data(self) -> memoryview:
        """The bytes as a read-only memoryview (slices without copying)."""
        return memoryview(self.raw)

    @property
    def size(self) -> int:
        """Number of bytes in the file."""
        return len(self.raw)


def _read_all(handle, size: int) -> bytes:
    """The handle's bytes: ``size`` of them, plus any that appeared since (a growing file).

    Read as exactly ``size`` bytes, then a probe for more: a buffer allocated at its final
    size is reused by the allocator from one read to the next (one byte more, resized
    afterwards, costs fresh pages every time).
    """
    data = handle.read(size)
    more = handle.read(1)
    return data + more if more else data


def _signature(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def read_evidence(path: str | os.PathLike, *, allow_empty: bool = False) -> EvidenceBytes:
    """Read an evidence file once, read-only, into memory, and hash those bytes.

    The file is opened ``"rb"`` (nothing a reader does can change it), its size checked
    against the memory budget before anything is read, and its identity, size and
    modification time compared before and after the read: a file being rewritten,
    truncated or replaced while it is read is refused, never decoded half old, half new.

    Raises
    ------
    FormatError
        The file cannot be opened, is not a regular file, is empty (unless
        ``allow_empty``), exceeds the memory budget, or changed while it was read.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode):
                raise FormatError(f"{path}: not a regular file")
            problem = budget_problem(before.st_size, "reading this file")
            if problem is not None:
                raise FormatError(f"{path}: {problem}")
            raw = _read_all(handle, before.st_size)
            after = os.fstat(handle.fileno())
        now = os.stat(path)
    except FormatError:
        raise
    except OSError as error:
        raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
    if (len(raw) != before.st_size or _signature(after) != _signature(before)
            or _signature(now) != _signature(before)):
        raise FormatError(
            f"{path}: the file changed while it was being read ({before.st_size} bytes "
            f"when opened, {len(raw)} read, {now.st_size} now): refused; read it again "
            "once whatever writes it has finished"
        )
    if not raw and not allow_empty:
        raise FormatError(f"{path}: file is empty")
    return EvidenceBytes(path=path, raw=raw, sha256=hashlib.sha256(raw).hexdigest())


@contextmanager
def evidence_bytes(path: str | os.PathLike) -> Iterator[EvidenceBytes]:
    """:func:`read_evidence` as a context manager (the form the text readers use)."""
    yield read_evidence(path)


def part_name(part: Path, source: Path) -> str:
    """Key of a decoded file in ``RunMetadata.parts_sha256``: its path inside the source."""
    try:
        relative = part.relative_to(source) if source.is_dir() else Path(part.name)
    except ValueError:
        relative = part
    return relative.as_posix()


# --------------------------------------------------------------------------- budgets
def check_budget(path: str | os.PathLike, nbytes: float, what: str) -> None:
    """Refuse, naming the file, an allocation that would exceed the memory budget."""
    problem = budget_problem(nbytes, what)
    if problem is not None:
        raise FormatError(f"{path}: {problem}")


def inflate(data: bytes, expected: int, what: str, *, at_most: bool = False,
            wbits: int = zlib.MAX_WBITS) -> bytes:
    """zlib-decompress ``data``, which the file declares to hold ``expected`` bytes.

    Never produces more than ``expected + 1`` bytes, however the stream was built (a
    "zlib bomb" of a few kilobytes expands to gigabytes): the decompressor stops there
    and the mismatch is reported. With ``at_most``, ``expected`` is an upper bound (the
    length is checked later, on the decoded values).

    Raises
    ------
    ValueError
        The stream is damaged, or decodes to another length than declared; the message
        says ``what`` and both lengths.
    """
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, expected + 1)
    except zlib.error as error:
        raise ValueError(f"{what}: damaged compressed data ({error})") from None
    if len(out) > expected or decompressor.unconsumed_tail:
        raise ValueError(f"{what} decompresses to more than the {expected} bytes declared")
    if not decompressor.eof:
        raise ValueError(f"{what}: compressed data end early ({len(out)} bytes decoded)")
    if len(out) != expected and not at_most:
        raise ValueError(f"{what} decompresses to {len(out)} bytes, not the {expected} "
                         "declared")
    return out


# --------------------------------------------------------------------------- values
def _scan_of(offsets: np.ndarray, peak: int) -> int:
    return int(np.searchsorted(offsets, peak, side="right")) - 1


def _run_problem(run: Run) -> str | None:
    """What in a decoded run lies outside what a GC-MS acquisition can hold, or None."""
    times = run.scan_times
    trace = run.metadata.acquisition == "trace"
    low_time = MIN_TRACE_TIME_S if trace else 0.0
    if times.size and (times[0] < low_time or times[-1] > MAX_TIME_S):
        i = 0 if times[0] < low_time else times.size - 1
        return (f"scan {i + 1} of {times.size} is timed {times[i]:.7g} s, outside "
                f"{low_time:g} to {MAX_TIME_S:g} s (damaged time)")
    if run.n_peaks:  # min/max first: no temporary array as long as every value is fine
        low, high = MZ_LIMITS
        mz = run.mz
        if mz.min() < low or mz.max() > high:
            k = int(np.flatnonzero((mz < low) | (mz > high))[0])
            i = _scan_of(run.scan_offsets, k)
            return (f"scan {i + 1} ({times[i]:.3f} s) holds m/z {mz[k]:.7g}, outside "
                    f"{low:g} to {high:g}, the range of an EI GC-MS spectrum (damaged "
                    "value)")
        if run.intensity.min() < 0:
            k = int(np.flatnonzero(run.intensity < 0)[0])
            i = _scan_of(run.scan_offsets, k)
            return (f"scan {i + 1} ({times[i]:.3f} s) holds intensity {run.intensity[k]:.7g} "
                    f"at m/z {mz[k]:.7g}; ion abundances are never negative (damaged value)")
    if not trace and run.n_scans and run.tic.min() < 0:
        i = int(np.argmin(run.tic))
        return (f"scan {i + 1} ({times[i]:.3f} s) has total ion current {run.tic[i]:.7g}; "
                "a total ion current is never negative (damaged value)")
    return None


def build_run(path: str | os.PathLike, **fields: Any) -> Run:
    """Construct a :class:`Run` from decoded arrays, as every reader does.

    The run's own consistency checks (CSR offsets, monotonic finite times, finite
    values) and the physical limits (:data:`MZ_LIMITS`, :data:`MAX_TIME_S`, scan times
    not negative, intensities and TIC not negative) become a ``FormatError`` naming the
    file, the scan and the value. ``metadata.parts_sha256`` defaults to the one data
    file and its digest.
    """
    metadata = fields.get("metadata")
    if metadata is not None and not metadata.parts_sha256 and metadata.sha256:
        data_file = Path(metadata.data_file or path)
        fields["metadata"] = metadata.replace(
            parts_sha256={part_name(data_file, Path(metadata.source_path or data_file)):
                          metadata.sha256})
    try:
        run = Run(**fields)
    except ValueError as error:
        raise FormatError(f"{path}: {error}") from error
    problem = _run_problem(run)
    if problem is not None:
        raise FormatError(f"{path}: {problem}")
    return run


def peak_problem(mz: np.ndarray, intensity: np.ndarray) -> str | None:
    """Why a library entry's peaks cannot be an EI mass spectrum (the value named), or None.

    A non-finite value, a peak of some intensity at an m/z outside :data:`MZ_LIMITS`, a
    negative intensity. Zero-intensity points carry no signal (the readers drop them):
    their m/z is not held to the range (an m/z 0 placeholder, a profile's first points).
    """
    low, high = MZ_LIMITS
    finite = np.isfinite(mz) & np.isfinite(intensity)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        return f"peak {k + 1} is not a finite number (m/z {mz[k]}, intensity {intensity[k]})"
    bad = ((mz < low) | (mz > high)) & (intensity != 0)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        return (f"peak list holds m/z {mz[k]:.7g}, outside {low:g} to {high:g}, the range "
                "of an EI GC-MS spectrum")
    negative = intensity < 0
    if negative.any():
        k = int(np.flatnonzero(negative)[0])
        return f"peak list holds a negative intensity ({intensity[k]:.7g} at m/z {mz[k]:.7g})"
    return None


# --------------------------------------------------------------------------- entries
@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """A library entry that could not be read, and why (file, entry, reason)."""

    source: str
    entry: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: entry {self.entry}: {self.reason}"


@dataclass(slots=True)
class EntryReport:
    """What a spectra reader got from one file: the good entries and the skipped ones.

    ``sha256`` is the digest of the bytes decoded (the file read once; ``None`` where a
    reader was given no file).
    """

    spectra: list[Spectrum] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    sha256: str | None = None


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """Decode text of unknown encoding: UTF-8, else Windows-1252, else Latin-1.

    Returns the text and the fallback codec used (``None`` for UTF-8), so a reader can
    record that an entry was not UTF-8. Never drops bytes: Latin-1 decodes any byte.
    """
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"
