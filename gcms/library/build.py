"""Compile reference spectra files (MSP/NIST text, JCAMP-DX, MassBank records) into one library."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcms.errors import FormatError, LibraryError
from gcms.io._common import SkippedEntry, sha256_file
from gcms.library.store import Library
from gcms.spectrum import Spectrum

__all__ = ["BuildReport", "build_library", "collect_sources"]


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a library build read and left out.

    ``library`` is the compiled library (written to ``path`` when one was given);
    ``files`` the spectra files read (path, format, SHA-256, entries read and skipped);
    ``skipped`` every entry left out, naming file, entry and reason; ``failed`` the
    files named explicitly that could not be read at all; ``ignored`` files met while
    walking a folder that no spectra reader recognises (notes, READMEs, runs).
    """

    library: Library
    path: Path | None
    files: tuple[dict[str, Any], ...]
    skipped: tuple[SkippedEntry, ...]
    failed: tuple[SkippedEntry, ...]
    ignored: tuple[str, ...]

    @property
    def n_entries(self) -> int:
        """Entries in the library."""
        return len(self.library)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "path": str(self.path) if self.path else None,
            "content_sha256": self.library.content_sha256,
            "n_entries": self.n_entries,
            "n_files": len(self.files),
            "n_skipped": len(self.skipped),
            "files": [dict(f) for f in self.files],
            "skipped": [_skip_dict(s) for s in self.skipped],
            "failed": [_skip_dict(s) for s in self.failed],
            "n_ignored": len(self.ignored),
            "ignored": list(self.ignored),
        }


def _skip_dict(skip: SkippedEntry) -> dict[str, str]:
    return {"file": skip.source, "entry": skip.entry, "reason": skip.reason}


def collect_sources(sources: Sequence[str | os.PathLike]) -> list[tuple[Path, bool]]:
    """Files to read: each named file, and every file under each named folder (sorted).

    Returns ``(path, named)`` pairs; ``named`` is False for files found in a folder.
    Hidden files and folders (``.name``) are not walked.
    """
    out: list[tuple[Path, bool]] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        out.append((Path(root) / name, False))
        else:
            out.append((path, True))
    return out


def build_library(
    sources: Sequence[str | os.PathLike],
    output: str | os.PathLike | None = None,
    *,
    title: str = "",
) -> BuildReport:
    """Read every spectrum of ``sources`` (files or folders, recursively) into one library.

    Each file's format is recognised by content (:func:`gcms.io.read_entries`); entries
    that cannot be used (no peaks, negative or non-numeric values, bad encoding...)
    are skipped and reported with file, entry and reason, and the build goes on. A
    named file that cannot be read at all is reported in ``failed``; a file in a folder
    that no spectra reader recognises is listed in ``ignored``.

    Parameters
    ----------
    sources
        Files and folders.
    output
        Where to write the compiled HDF5 library (atomically); ``None`` keeps it in
        memory only.

    Raises
    ------
    LibraryError
        No usable spectrum in any source.
    """
    from gcms.io import read_entries

    spectra: list[Spectrum] = []
    hashes: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    skipped: list[SkippedEntry] = []
    failed: list[SkippedEntry] = []
    ignored: list[str] = []
    for path, named in collect_sources(sources):
        try:
            report = read_entries(path)
        except FormatError as error:
            if named:
                failed.append(SkippedEntry(str(path), "*", _reason(error, path)))
            else:
                ignored.append(str(path))
            continue
        usable = []
        for index, spectrum in enumerate(report.spectra):
            if not (spectrum.intensity > 0).any():
                label = spectrum.name or spectrum.source_entry or f"#{index + 1}"
                skipped.append(SkippedEntry(str(path), label, "no peak of positive intensity"))
                continue
            if spectrum.source is None:
                spectrum = spectrum.replace(source=str(path))
            usable.append(spectrum)
        digest = sha256_file(path)
        for spectrum in usable:
            hashes[spectrum.source] = digest
        spectra.extend(usable)
        skipped.extend(report.skipped)
        files.append({"path": str(path), "sha256": digest, "n_entries": len(usable),
                      "n_skipped": len(report.skipped) + len(report.spectra) - len(usable)})
    if not spectra:
        where = ", ".join(str(s) for s in sources)
        raise LibraryError(f"{where}: no usable spectrum found "
                           f"({len(skipped)} entries skipped, {len(failed)} files unreadable)")
    library = Library.from_spectra(
        spectra, title=title, source_sha256=hashes, sources=files,
        skipped=[_skip_dict(s) for s in (*failed, *skipped)],
    )
    written = library.write(output) if output is not None else None
    return BuildReport(library=library, path=written, files=tuple(files),
                       skipped=tuple(skipped), failed=tuple(failed), ignored=tuple(ignored))


def _reason(error: FormatError, path: Path) -> str:
    text = str(error)
    prefix = f"{path}: "
    return text[len(prefix):] if text.startswith(prefix) else text
