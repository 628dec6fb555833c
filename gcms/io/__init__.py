"""Read what GC-MS instruments and libraries write; the registry picks the reader by content.

Every format has one module here exposing the same verbs:

``sniff(path, head) -> bool``
    Whether the file (or folder) at ``path`` is in this format; ``head`` is its first
    64 KiB (empty for a folder). Decided by content, the extension only as a tie-break.
``read(path) -> Run``
    For formats that hold acquisitions.
``read_entries(path) -> EntryReport``
    For formats that hold reference or library spectra: the spectra read, plus each
    entry skipped as unreadable (no peaks, non-numeric fields...) with file, entry and
    reason, so that a library build can go on and count them.

Other tools' results (``holds == "results"``: AMDIS ``.ELU`` deconvolution results,
NIST MS Search ``SRCRESLT.TXT`` hit lists; AMDIS ``.MSL`` libraries are read as MSP) are
read by :func:`read_results`, which returns the reader's own report
(``gcms.io.amdis_elu.EluReport``, ``gcms.io.nist_hitlist.HitListReport``).

:func:`read`, :func:`read_entries`, :func:`read_spectra` and :func:`read_results` here
find the module and call it. Any problem with the bytes surfaces as
:class:`gcms.FormatError` whose message starts with the path.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from gcms.errors import FormatError, NotARunError
from gcms.io._common import DECODE_ERRORS, EntryReport, SkippedEntry
from gcms.run import Run
from gcms.spectrum import Spectrum

__all__ = [
    "FORMATS",
    "EntryReport",
    "Format",
    "SkippedEntry",
    "read",
    "read_entries",
    "read_results",
    "read_spectra",
    "sniff",
]

_HEAD_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class Format:
    """A registered file format: its name, the module that reads it, what it holds."""

    name: str
    module: str
    holds: Literal["runs", "spectra", "both", "results"]
    description: str


#: Registered formats, in sniffing order (most specific first).
FORMATS: tuple[Format, ...] = (
    Format("andi-ms", "gcms.io.andi_ms", "both",
           "ANDI/AIA mass spectrometry netCDF (ASTM E2077/E2078), runs and library files"),
    Format("aia-chromatography", "gcms.io.andi_chrom", "runs",
           "ANDI/AIA chromatography netCDF (ASTM E1947/E1948), trace and peak table"),
    Format("agilent-chemstation", "gcms.io.agilent", "runs",
           "Agilent ChemStation .D folder, data.ms / MSD1.MS and .ch detector files"),
    Format("agilent-masshunter", "gcms.io.masshunter", "runs",
           "Agilent MassHunter GC-MS .D folder (AcqData/MSScan.bin)"),
    Format("mzml", "gcms.io.mzml", "runs", "mzML (plain, gzip or indexed), MS1 data"),
    Format("jcamp-dx", "gcms.io.jcamp", "both",
           "JCAMP-DX mass spectra and GC-MS runs (NTUPLES or one PAGE per scan)"),
    Format("amdis-elu", "gcms.io.amdis_elu", "results",
           "AMDIS .ELU deconvolution results (components, model ions, purity, spectra)"),
    Format("nist-hitlist", "gcms.io.nist_hitlist", "results",
           "NIST MS Search / MSPepSearch hit lists (SRCRESLT.TXT)"),
    Format("msp", "gcms.io.msp", "spectra", "MSP / NIST text and AMDIS MSL libraries"),
    Format("massbank", "gcms.io.massbank", "spectra", "MassBank record files"),
)


def _module(fmt: Format) -> ModuleType:
    return importlib.import_module(fmt.module)


def _available() -> list[Format]:
    """Formats whose module exists in this installation."""
    found = []
    for fmt in FORMATS:
        if importlib.util.find_spec(fmt.module) is not None:
            found.append(fmt)
    return found


def _format_named(name: str) -> Format:
    for fmt in _available():
        if fmt.name == name:
            return fmt
    known = ", ".join(f.name for f in _available())
    raise ValueError(f"unknown format {name!r} (known: {known})")


def sniff(path: str | os.PathLike) -> str:
    """Name of the format of the file or folder at ``path``, decided by its content.

    Parameters
    ----------
    path : str or os.PathLike
        A file, or a folder (an Agilent ``.D``).

    Returns
    -------
    str
        The ``name`` of one of :data:`FORMATS`; the extension plays no part.

    Raises
    ------
    FormatError
        When the path does not exist or no registered format recognises it.

    Examples
    --------
    >>> from importlib.resources import files
    >>> from gcms.io import sniff
    >>> sniff(files("gcms") / "data" / "demo" / "05-exhibit-E1.cdf")
    'andi-ms'
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file or folder")
    head = b""
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                head = handle.read(_HEAD_BYTES)
        except OSError as error:
            raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
        if not head:
            raise FormatError(f"{path}: file is empty")
    for fmt in _available():
        if _module(fmt).sniff(path, head):
            return fmt.name
    if path.is_dir():  # a folder: say what a run folder should hold
        kind = "Agilent .D folder" if path.suffix.lower() == ".d" else "folder"
        raise FormatError(f"{path}: {kind} with no run gcms reads (looked for data.ms, "
                          "MSD1.MS, AcqData/MSScan.bin and detector .ch files)")
    raise FormatError(f"{path}: not a format gcms reads (no reader recognises its content)")


def _dispatch(path: str | os.PathLike, format: str | None, verb: str):
    path = Path(path)
    fmt = _format_named(format) if format is not None else _format_named(sniff(path))
    module = _module(fmt)
    if (fmt.holds == "results") != (verb == "read_results"):
        if verb == "read_results":
            raise FormatError(f"{path}: a {fmt.name} file is not another tool's results; "
                              "use gcms.io.read() or gcms.io.read_entries()")
        raise FormatError(f"{path}: a {fmt.name} file holds another tool's results "
                          f"({fmt.description}); use gcms.io.read_results()")
    reader = getattr(module, "read" if verb == "read_results" else verb, None)
    if reader is None:
        holds = "library spectra" if fmt.holds == "spectra" else "acquisitions"
        if verb == "read":
            raise NotARunError(f"{path}: a {fmt.name} file holds {holds}; use "
                               "gcms.io.read_spectra()")
        raise FormatError(f"{path}: a {fmt.name} file holds {holds}; use gcms.io.read()")
    try:
        return reader(path)
    except FormatError:
        raise
    except MemoryError as error:
        raise FormatError(f"{path}: sizes in the file are implausible (out of memory)") from error
    except DECODE_ERRORS as error:
        # Safety net: a reader's own checks name the problem precisely; anything the
        # bytes still manage to break below them is reported as damage, never raw.
        raise FormatError(f"{path}: damaged or inconsistent {fmt.name} data ({error})") from error


def read(path: str | os.PathLike, *, format: str | None = None) -> Run:
    """Read one acquisition from ``path`` (file or ``.D`` folder).

    Parameters
    ----------
    path : str or os.PathLike
        The file or folder. Opened read-only; its SHA-256 is in ``run.metadata.sha256``.
    format : str, optional
        A name from :data:`FORMATS` to skip sniffing.

    Returns
    -------
    Run
        The scans (times, m/z, intensities, TIC) and the metadata the file holds, with
        the digests of every file decoded (``metadata.sha256``, ``metadata.parts_sha256``).

    Raises
    ------
    FormatError
        The file cannot be read; the message names the file and the problem.
        :class:`~gcms.errors.NotARunError` (a ``FormatError``) when it holds spectra,
        not a run: read it with :func:`read_spectra`.

    Examples
    --------
    >>> from importlib.resources import files
    >>> import gcms.io
    >>> run = gcms.io.read(files("gcms") / "data" / "demo" / "05-exhibit-E1.cdf")
    >>> run.n_scans, run.rt_range_s, run.metadata.format
    (2081, (120.0, 640.0), 'andi-ms')
    """
    return _dispatch(path, format, "read")


def read_entries(path: str | os.PathLike, *, format: str | None = None) -> EntryReport:
    r"""Read a library or spectrum file, skipping (and reporting) entries that cannot be read.

    Parameters
    ----------
    path : str or os.PathLike
        The file: MSP/NIST text, AMDIS MSL, JCAMP-DX, MassBank records or an ANDI
        library.
    format : str, optional
        A name from :data:`FORMATS` to skip sniffing.

    Returns
    -------
    EntryReport
        ``spectra``: every readable entry in file order; ``skipped``: one
        :class:`SkippedEntry` (file, entry, reason) per entry left out.

    Raises
    ------
    FormatError
        The file as a whole cannot be read (wrong format, truncated header...).

    Examples
    --------
    An MSP file whose second entry declares more peaks than it lists:

    >>> import pathlib, tempfile
    >>> from gcms.io import read_entries
    >>> text = ("Name: Caffeine\nNum Peaks: 2\n194 999\n109 520\n\n"
    ...         "Name: Damaged\nNum Peaks: 3\n58 999\n\n")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lab.msp"
    >>> _ = path.write_text(text)
    >>> report = read_entries(path)
    >>> [s.name for s in report.spectra], len(report.skipped)
    (['Caffeine'], 1)
    """
    return _dispatch(path, format, "read_entries")


def read_spectra(path: str | os.PathLike, *, format: str | None = None) -> list[Spectrum]:
    """Read every spectrum of a library or spectrum file (MSP, JCAMP-DX, MassBank, ANDI library).

    Strict: the first unreadable entry raises. Use :func:`read_entries` to skip and count
    bad entries instead.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    format : str, optional
        A name from :data:`FORMATS` to skip sniffing.

    Returns
    -------
    list of Spectrum
        Every entry, in file order, with the metadata the format carries (name, CAS,
        formula, retention index, source).

    Raises
    ------
    FormatError
        The file, or one entry of it, cannot be read; the message names both.
    """
    report = read_entries(path, format=format)
    if report.skipped:
        first = report.skipped[0]
        more = f" (and {len(report.skipped) - 1} more)" if len(report.skipped) > 1 else ""
        raise FormatError(f"{first}{more}")
    return report.spectra


def read_results(path: str | os.PathLike, *, format: str | None = None):
    """Read another tool's results: an AMDIS ``.ELU`` or a NIST ``SRCRESLT.TXT`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The file; its format is decided by content (:func:`sniff`).
    format : str, optional
        ``"amdis-elu"`` or ``"nist-hitlist"`` to skip sniffing.

    Returns
    -------
    EluReport or HitListReport
        The components (``gcms.io.amdis_elu``) or hit lists
        (``gcms.io.nist_hitlist``), with the blocks or lines skipped.

    Raises
    ------
    FormatError
        Not such a file, or one that cannot be read; the message names it.
    """
    return _dispatch(path, format, "read_results")
