"""In-house library entries from the laboratory's own reference-standard runs.

When a new substance is in no commercial or public library (etizolam has no EI spectrum
in MassBank), the lab injects its certified reference material and makes the spectrum
of that run its reference. :func:`entry_from_run` deconvolutes the run
(:func:`gcms.deconvolution.deconvolve`), takes the component whose apex is nearest the
given retention time, and returns its pure spectrum named as the lab says, with a
provenance record that the library stores beside it and every search hit carries::

    {"kind": "in-house", "source_run": ".../220223005.D", "sha256": "...",
     "instrument": "...", "acquired_at": "2022-02-23T16:49:00", "sample_name": "...",
     "rt_s": 615.52, "retention_index": null, "model_mz": 342, "purity": 0.96,
     "snr": 2014.2, "n_ions": 289, "created_utc": "...", "gcms_version": "0.1.0"}

:func:`add_to_library` appends the entry to a compiled library (or starts one) and
rewrites it atomically.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gcms.errors import LibraryError
from gcms.run import Run
from gcms.spectrum import Spectrum

__all__ = ["InHouseEntry", "add_to_library", "entry_from_run"]

#: How far (s) the chosen component's apex may lie from the RT the analyst gives.
DEFAULT_RT_TOLERANCE_S = 5.0


@dataclass(frozen=True, slots=True)
class InHouseEntry:
    """A reference spectrum taken from a run, and where it came from."""

    spectrum: Spectrum
    provenance: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.spectrum.name, "cas": self.spectrum.cas,
                "formula": self.spectrum.formula, "inchikey": self.spectrum.inchikey,
                "spectrum": {"mz": self.spectrum.mz.tolist(),
                             "intensity": self.spectrum.intensity.tolist()},
                "provenance": dict(self.provenance)}


def entry_from_run(
    run: Run,
    rt_s: float,
    *,
    name: str,
    cas: str | None = None,
    inchikey: str | None = None,
    formula: str | None = None,
    retention_index: float | None = None,
    ri_column: str | None = None,
    rt_tolerance_s: float = DEFAULT_RT_TOLERANCE_S,
    deconvolution_settings=None,
) -> InHouseEntry:
    """The deconvoluted component of ``run`` at ``rt_s``, as a named reference spectrum.

    Raises
    ------
    LibraryError
        No component within ``rt_tolerance_s`` of ``rt_s`` (names the run and the nearest
        component), or an empty name.
    """
    from gcms.deconvolution import deconvolve

    label = run.metadata.source_path or run.metadata.sample_name or "run"
    if not name or not name.strip():
        raise LibraryError(f"{label}: an in-house entry needs a name")
    components = deconvolve(run, deconvolution_settings).components
    if not components:
        raise LibraryError(f"{label}: deconvolution found no component")
    nearest = min(components, key=lambda c: abs(c.rt_s - rt_s))
    if abs(nearest.rt_s - rt_s) > rt_tolerance_s:
        raise LibraryError(
            f"{label}: no component within {rt_tolerance_s:g} s of {rt_s:g} s (nearest: "
            f"{nearest.rt_s:.2f} s, model ion m/z {nearest.model_mz})")
    meta = run.metadata
    provenance = {
        "kind": "in-house",
        "source_run": meta.source_path, "data_file": meta.data_file, "sha256": meta.sha256,
        "format": meta.format, "instrument": meta.instrument, "method": meta.method,
        "sample_name": meta.sample_name, "operator": meta.operator,
        "acquired_at": meta.acquired_at.isoformat() if meta.acquired_at else None,
        "rt_s": nearest.rt_s, "requested_rt_s": float(rt_s),
        "retention_index": retention_index, "ri_column": ri_column,
        "model_mz": nearest.model_mz, "purity": nearest.purity, "snr": nearest.snr,
        "n_ions": len(nearest.spectrum), "warnings": list(nearest.warnings),
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }
    from gcms import __version__

    provenance["gcms_version"] = __version__
    spectrum = Spectrum(
        mz=nearest.spectrum.mz, intensity=nearest.spectrum.intensity, name=name.strip(),
        cas=cas or None, inchikey=inchikey or None, formula=formula or None,
        retention_index=retention_index, ri_column=ri_column or None,
        rt_seconds=nearest.rt_s, source=meta.source_path,
        source_entry=f"component at {nearest.rt_s:.2f} s",
        comment=f"in-house entry from reference-standard run {meta.sample_name or label}",
    )
    return InHouseEntry(spectrum=spectrum, provenance=provenance)


def add_to_library(
    library_path: str | os.PathLike,
    entry: InHouseEntry,
    *,
    title: str = "in-house library",
):
    """Append ``entry`` to the compiled library at ``library_path`` (created if absent).

    The library is rewritten atomically (:meth:`gcms.library.Library.write`). Refuses
    a second entry of the same name from the same run (same SHA-256) at the same
    retention time. Returns the new :class:`gcms.library.Library`.

    Raises
    ------
    LibraryError
        The library cannot be opened, the entry is a duplicate, or the file cannot be
        written.
    """
    from gcms.library import Library

    path = Path(library_path)
    record = entry.provenance
    hashes = {entry.spectrum.source: record["sha256"]} if entry.spectrum.source and record.get(
        "sha256") else None
    if path.exists():
        library = Library.open(path)
        same_name = np.flatnonzero(library.column("name") == entry.spectrum.name)
        for i in same_name:  # few: only the entries of this name
            old = library.entry(int(i))
            prov = old.provenance or {}
            if (prov.get("sha256") == record.get("sha256")
                    and abs(float(prov.get("rt_s", -1e9)) - record["rt_s"]) < 0.5):
                raise LibraryError(f"{path}: entry {i} already holds {old.name!r} from this "
                                   f"run at {record['rt_s']:.2f} s")
        updated = library.append([entry.spectrum], provenance=[record], source_sha256=hashes)
    else:
        updated = Library.from_spectra([entry.spectrum], title=title, provenance=[record],
                                       source_sha256=hashes)
    try:
        updated.write(path)
    except OSError as error:
        raise LibraryError(f"{path}: cannot write the library: "
                           f"{error.strerror or error}") from None
    return updated
