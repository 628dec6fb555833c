"""Compile reference spectra files (MSP/NIST text, JCAMP-DX, MassBank records) into one library.

What a build leaves out, it names
---------------------------------
An entry that no electron-ionisation spectrum could hold is skipped and listed (file,
entry number and name, reason) in the build report and in the library's own
``/build/skipped`` metadata, so the library's provenance says what it lacks:

* an empty peak list, or none of positive intensity;
* a negative, NaN or infinite intensity, or an m/z that is not finite;
* a peak (of positive intensity) at an m/z outside the range of an EI GC-MS spectrum
  (nominal m/z 1 to :data:`EI_MZ_MAX`, the readers' physical limit), or above a lab's
  own ``max_mz``;
* more than :data:`MAX_PEAKS_PER_ENTRY` peaks.

One such entry never fails the whole build (it did: one m/z of 70,000 in a 91-entry MSP
stopped it without naming the file or the entry). ``strict=True`` (``gcms library build
--strict``) refuses the build instead, naming every entry and file that would be left
out, and writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from gcms.errors import FormatError, LibraryError
from gcms.io._common import MZ_LIMITS, SkippedEntry, sha256_file
from gcms.library.store import Library
from gcms.spectrum import Spectrum, nominal_mass

__all__ = ["EI_MZ_MAX", "MAX_PEAKS_PER_ENTRY", "BuildReport", "build_library",
           "collect_sources", "entry_problem"]

#: Largest m/z of an EI reference spectrum accepted by default: the physical limit the
#: readers apply to every spectrum (:data:`gcms.io._common.MZ_LIMITS`, where it is
#: argued). A lab may build with a lower ``max_mz``: 2000 is the m/z range NIST MS Search
#: compares (its "max m/z" setting), beyond which a library peak is never scored.
EI_MZ_MAX = MZ_LIMITS[1]
#: More peaks than this in one entry is not a centroided EI spectrum (at most one peak per
#: nominal mass in a nominal-mass library, a few per mass in accurate-mass ones).
MAX_PEAKS_PER_ENTRY = 10_000
#: Entries named one by one in a refusal (``strict``) before "... and N more".
_NAMED_IN_REFUSAL = 20


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


def entry_problem(spectrum: Spectrum, *, max_mz: float = EI_MZ_MAX) -> str | None:
    """Why ``spectrum`` cannot be an EI library entry (module docstring), or None."""
    mz, intensity = np.asarray(spectrum.mz), np.asarray(spectrum.intensity)
    if mz.size == 0:
        return "empty spectrum (no peaks)"
    if mz.size > MAX_PEAKS_PER_ENTRY:
        return f"{mz.size} peaks, more than {MAX_PEAKS_PER_ENTRY} (not an EI peak list)"
    if not np.isfinite(mz).all():
        return "an m/z that is NaN or infinite"
    if not np.isfinite(intensity).all():
        return "an intensity that is NaN or infinite"
    if (intensity < 0).any():
        where = int(np.argmin(intensity))
        return f"negative intensity {intensity[where]:g} at m/z {mz[where]:g}"
    positive = intensity > 0
    if not positive.any():
        return "no peak of positive intensity"
    outside = _outside(mz[positive], max_mz)
    if outside.any():
        values = mz[positive][outside]
        shown = ", ".join(f"{v:g}" for v in values[:3])
        more = f" and {values.size - 3} more" if values.size > 3 else ""
        return (f"m/z {shown}{more} outside 1 to {max_mz:g} (nominal), the range of an EI "
                f"GC-MS spectrum ({values.size} of {mz.size} peaks)")
    return None


def _outside(mz: np.ndarray, max_mz: float) -> np.ndarray:
    """Peaks whose m/z no EI library entry holds: nominal mass below 1, or above max_mz.

    Nominal mass below 1 (``m/z < 0.649``) is also what the compiled library cannot store.
    """
    return (nominal_mass(mz) < 1) | (mz > max_mz)


def _suspect_entries(spectra: Sequence[Spectrum], *, max_mz: float) -> list[bool]:
    """Per entry, whether ``entry_problem`` may find a problem (all entries at once).

    The same tests over the file's peaks concatenated, so that a library of 350,000
    entries is checked by a few array operations; only the entries flagged here are
    examined one by one (for the message).
    """
    if not spectra:
        return []
    counts = np.fromiter((s.mz.size for s in spectra), dtype=np.int64, count=len(spectra))
    mz = np.concatenate([np.asarray(s.mz, dtype=np.float64) for s in spectra])
    intensity = np.concatenate([np.asarray(s.intensity, dtype=np.float64) for s in spectra])
    owner = np.repeat(np.arange(len(spectra)), counts)
    positive = intensity > 0
    finite = np.isfinite(mz)
    bad = (~finite | ~np.isfinite(intensity) | (intensity < 0)
           | (positive & _outside(np.where(finite, mz, 1.0), max_mz)))
    n = len(spectra)
    flagged = np.bincount(owner, weights=bad, minlength=n) > 0
    flagged |= np.bincount(owner, weights=positive, minlength=n) == 0  # empty or no peak
    flagged |= counts > MAX_PEAKS_PER_ENTRY
    return flagged.tolist()


def _entry_label(spectrum: Spectrum, index: int) -> str:
    number = spectrum.source_entry or f"#{index + 1}"
    return f"{number} {spectrum.name!r}" if spectrum.name else number


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
    strict: bool = False,
    max_mz: float = EI_MZ_MAX,
) -> BuildReport:
    """Read every spectrum of ``sources`` (files or folders, recursively) into one library.

    Each file's format is recognised by content (:func:`gcms.io.read_entries`); entries
    that cannot be used (no peaks, negative or non-numeric values, m/z outside the EI
    range, bad encoding...: ``entry_problem`` and the readers) are skipped and
    reported with file, entry and reason, in the report and in the library's metadata,
    and the build goes on. A named file that cannot be read at all is reported in
    ``failed``; a file in a folder that no spectra reader recognises is listed in
    ``ignored``.

    Parameters
    ----------
    sources
        Files and folders.
    output
        Where to write the compiled HDF5 library (atomically); ``None`` keeps it in
        memory only.
    strict
        Refuse the build when any entry would be skipped or a named file cannot be read.
    max_mz
        Largest m/z accepted in an entry (default :data:`EI_MZ_MAX`).

    Returns
    -------
    BuildReport
        ``library`` (the compiled :class:`~gcms.library.Library`), the files read with
        their SHA-256 and entry counts, and the entries skipped, files failed and files
        ignored, each with its reason.

    Raises
    ------
    LibraryError
        No usable spectrum in any source; or, with ``strict``, entries or files that
        would be left out (each named with its reason). Nothing is written then.
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
        suspect = _suspect_entries(report.spectra, max_mz=max_mz)
        for index, spectrum in enumerate(report.spectra):
            problem = entry_problem(spectrum, max_mz=max_mz) if suspect[index] else None
            if problem is not None:
                skipped.append(SkippedEntry(str(path), _entry_label(spectrum, index), problem))
                continue
            if spectrum.source is None:
                spectrum = spectrum.replace(source=str(path))
            usable.append(spectrum)
        digest = sha256_file(path)
        for spectrum in usable:
            hashes[cast(str, spectrum.source)] = digest  # each given its file above
        spectra.extend(usable)
        skipped.extend(report.skipped)
        files.append({"path": str(path), "sha256": digest, "n_entries": len(usable),
                      "n_skipped": len(report.skipped) + len(report.spectra) - len(usable)})
    if strict and (skipped or failed):
        left_out = [*failed, *skipped]
        listed = "; ".join(str(s) for s in left_out[:_NAMED_IN_REFUSAL])
        more = (f"; ... and {len(left_out) - _NAMED_IN_REFUSAL} more"
                if len(left_out) > _NAMED_IN_REFUSAL else "")
        raise LibraryError(f"strict build refused, nothing written: {len(skipped)} entries "
                           f"and {len(failed)} files would be left out: {listed}{more}")
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
