"""In-house library entries from the laboratory's own reference-standard runs.

When a new substance is in no commercial or public library (etizolam has no EI spectrum
in MassBank), the lab injects its certified reference material and makes the spectrum
of that run its reference. :func:`entry_from_run` deconvolutes the run
(:func:`gcms.deconvolution.deconvolve`), takes the component whose apex is nearest the
given retention time, and returns its pure spectrum named as the lab says, with a
provenance record that the library stores beside it and every search hit carries.

The spectrum is cleaned, and how is stated in the provenance (``cleaning``):

* **background subtracted**: the spectrum is the component's fitted abundance at its
  apex, each ion's baseline under the component (the deconvolution's background term)
  removed; ions the fit does not find significant are not in it;
* **small peaks dropped**: peaks under :data:`MIN_RELATIVE_PERCENT` of the base peak
  (0.5 %; NIST MS Search ignores abundances under 1 on its 999 scale, 0.1 %, and a
  single injection's ions under 0.5 % are mostly noise) are dropped.

And the standard must be one compound (``self_match``): a pure compound's spectrum is
the same all across its chromatographic peak, a co-eluting impurity changes it from the
upslope to the downslope. This is the purity idea of AMDIS (Stein, J. Am. Soc. Mass
Spectrom. 10 (1999) 770-781: a component's spectrum is constant over its elution
profile) as analysts apply it by hand, comparing spectra across a peak
(:func:`self_match`): the background-subtracted raw spectra at half height on the
upslope, at the apex and at half height on the downslope are compared pairwise by the
identity match factor (:func:`gcms.library.scores.identity_match_factor`). Below
:data:`MIN_SELF_MATCH_FACTOR` the standard is refused: the reference material is not
pure, or something co-elutes with it. The provenance record::

    {"kind": "in-house", "source_run": ".../220223005.D", "sha256": "...",
     "instrument": "...", "acquired_at": "2022-02-23T16:49:00", "sample_name": "...",
     "rt_s": 615.52, "retention_index": null, "model_mz": 342, "purity": 0.96,
     "snr": 2014.2, "n_ions": 120, "created_utc": "...", "gcms_version": "0.1.0",
     "cleaning": {"background": "...", "min_relative_percent": 0.5, "n_ions_fitted": 289,
                  "n_ions_dropped": 169},
     "self_match": {"scans": {"upslope": 1497, "apex": 1505, "downslope": 1519},
                    "match_factors": {"upslope/apex": 958, ...}, "lowest": 954,
                    "threshold": 800, "background_scans": [...]}}

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

__all__ = ["MIN_RELATIVE_PERCENT", "MIN_SELF_MATCH_FACTOR", "InHouseEntry", "add_to_library",
           "clean_spectrum", "entry_from_run", "self_match"]

#: How far (s) the chosen component's apex may lie from the RT the analyst gives.
DEFAULT_RT_TOLERANCE_S = 5.0
#: Peaks under this percentage of the base peak are dropped from an in-house entry.
MIN_RELATIVE_PERCENT = 0.5
#: Least identity match factor between the spectra across the standard's peak (upslope,
#: apex, downslope). Replicate spectra of one compound score above 900 (NIST reading
#: guide: "excellent"); the LRCFS etizolam standards of 25-250 ug/mL on a 5977 score
#: 842-973 across their peaks, simulated co-elutions (a second compound 0.8-3 s away)
#: 270-780; under 800 ("fair" or worse) the spectra differ as different compounds' do.
MIN_SELF_MATCH_FACTOR = 800
#: Scans either side of the component's window averaged as its background.
BACKGROUND_SCANS = 3
#: Where on each slope the spectrum is taken: the outermost scan at this fraction of
#: the apex (half height, where a co-eluter shifted by a fraction of a peak width
#: changes the spectrum most, and the signal still stands well above the noise).
SLOPE_FRACTION = 0.5

#: Abundances within this many σ of the background's noise do not count as peaks of
#: the spectra compared across the peak (3σ: the detection limit).
NOISE_SIGMAS = 3.0

BACKGROUND_STATEMENT = ("subtracted: the spectrum is the component's fitted abundance at its "
                        "apex, each ion's baseline under the component (the deconvolution's "
                        "background term) removed")


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
    min_relative_percent: float = MIN_RELATIVE_PERCENT,
    min_self_match: float = MIN_SELF_MATCH_FACTOR,
) -> InHouseEntry:
    """The deconvoluted component of ``run`` at ``rt_s``, as a named, cleaned reference spectrum.

    Cleaning and the self-match check as the module docstring says; both are recorded
    in the provenance.

    Raises
    ------
    LibraryError
        No component within ``rt_tolerance_s`` of ``rt_s`` (names the run and the nearest
        component), an empty name, or a standard whose spectra across its peak match
        each other below ``min_self_match`` (names the scans and the match factors).
    """
    from gcms.deconvolution import deconvolve

    label = run.metadata.source_path or run.metadata.sample_name or "run"
    if not name or not name.strip():
        raise LibraryError(f"{label}: an in-house entry needs a name")
    result = deconvolve(run, deconvolution_settings)
    components = result.components
    if not components:
        raise LibraryError(f"{label}: deconvolution found no component")
    nearest = min(components, key=lambda c: abs(c.rt_s - rt_s))
    if abs(nearest.rt_s - rt_s) > rt_tolerance_s:
        raise LibraryError(
            f"{label}: no component within {rt_tolerance_s:g} s of {rt_s:g} s (nearest: "
            f"{nearest.rt_s:.2f} s, model ion m/z {nearest.model_mz})")
    check = self_match(run, nearest, result.noise)
    if check["lowest"] is not None and check["lowest"] < min_self_match:
        pairs = ", ".join(f"{k} {v}" for k, v in check["match_factors"].items())
        raise LibraryError(
            f"{label}: the component at {nearest.rt_s:.2f} s is not one compound: its spectra "
            f"across the peak match each other at MF {pairs} (scans "
            f"{check['scans']['upslope']}, {check['scans']['apex']}, "
            f"{check['scans']['downslope']}), below {min_self_match:g}; the reference "
            f"material is impure or something co-elutes with it")
    check["threshold"] = min_self_match
    spectrum, dropped = clean_spectrum(nearest.spectrum, min_relative_percent=min_relative_percent)
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
        "n_ions": len(spectrum),
        "warnings": list(nearest.warnings) + ([] if check["lowest"] is not None else [
            "the peak is too narrow to compare spectra across it: one compound not checked"]),
        "cleaning": {"background": BACKGROUND_STATEMENT,
                     "min_relative_percent": min_relative_percent,
                     "n_ions_fitted": len(nearest.spectrum), "n_ions_dropped": dropped},
        "self_match": check,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
    }
    from gcms import __version__

    provenance["gcms_version"] = __version__
    spectrum = Spectrum(
        mz=spectrum.mz, intensity=spectrum.intensity, name=name.strip(),
        cas=cas or None, inchikey=inchikey or None, formula=formula or None,
        retention_index=retention_index, ri_column=ri_column or None,
        rt_seconds=nearest.rt_s, source=meta.source_path,
        source_entry=f"component at {nearest.rt_s:.2f} s",
        comment=f"in-house entry from reference-standard run {meta.sample_name or label}",
    )
    return InHouseEntry(spectrum=spectrum, provenance=provenance)


def clean_spectrum(spectrum: Spectrum, *, min_relative_percent: float = MIN_RELATIVE_PERCENT
                   ) -> tuple[Spectrum, int]:
    """``spectrum`` without its peaks under ``min_relative_percent`` of the base peak.

    Returns the cleaned spectrum and how many peaks were dropped.
    """
    intensity = np.asarray(spectrum.intensity, dtype=np.float64)
    if not intensity.size or intensity.max() <= 0:
        return spectrum, 0
    keep = intensity >= min_relative_percent / 100.0 * intensity.max()
    return (spectrum.replace(mz=spectrum.mz[keep], intensity=spectrum.intensity[keep]),
            int(np.count_nonzero(~keep)))


def self_match(run: Run, component, noise=None) -> dict[str, Any]:
    """How alike the raw spectra across a component's peak are (module docstring).

    The scans: the apex, and the outermost scans on each slope whose model profile is
    at least :data:`SLOPE_FRACTION` of the apex. Each is background-subtracted: minus
    the mean of the :data:`BACKGROUND_SCANS` scans either side of the component's
    window; with the run's ``noise`` model (:class:`gcms.signal.noise.NoiseModel`),
    abundances within :data:`NOISE_SIGMAS` σ of that background's noise are set to 0, so
    that scan-to-scan noise on ions the compound does not hold is not read as a change
    of spectrum. Returns the scans, the background scans, the pairwise identity match
    factors and the lowest (None when the peak spans too few scans to have a slope on
    either side).
    """
    from gcms.library.scores import identity_match_factor

    matrix = run.matrix()
    low = run.nominal_mz_range[0] if run.nominal_mz_range else 0
    masses = np.arange(low, low + matrix.shape[1], dtype=np.float64)
    scans = np.arange(component.start_scan, component.end_scan + 1)
    profile = np.asarray(component.profile)
    apex = int(component.scan)
    high = profile >= SLOPE_FRACTION * profile.max()
    rising = scans[high & (scans < apex)]
    falling = scans[high & (scans > apex)]
    outside = [i for i in (*range(component.start_scan - BACKGROUND_SCANS, component.start_scan),
                           *range(component.end_scan + 1,
                                  component.end_scan + 1 + BACKGROUND_SCANS))
               if 0 <= i < run.n_scans]
    background = (matrix[outside].astype(np.float64).mean(axis=0) if outside
                  else np.zeros(matrix.shape[1]))
    record: dict[str, Any] = {"scans": {"upslope": int(rising[0]) if rising.size else None,
                                        "apex": apex,
                                        "downslope": int(falling[-1]) if falling.size else None},
                              "background_scans": outside, "match_factors": {},
                              "lowest": None, "slope_fraction": SLOPE_FRACTION,
                              "noise_sigmas": NOISE_SIGMAS if noise is not None else None}
    if not (rising.size and falling.size):
        return record

    floor = (NOISE_SIGMAS * noise.sigma(background) if noise is not None
             else np.zeros_like(background))

    def spectrum(index: int) -> Spectrum:
        values = matrix[index].astype(np.float64) - background
        keep = values > floor
        return Spectrum(mz=masses[keep], intensity=values[keep])

    up, top, down = (spectrum(int(rising[0])), spectrum(apex), spectrum(int(falling[-1])))
    factors = {"upslope/apex": identity_match_factor(up, top),
               "downslope/apex": identity_match_factor(down, top),
               "upslope/downslope": identity_match_factor(up, down)}
    record["match_factors"] = factors
    record["lowest"] = min(factors.values())
    return record


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
