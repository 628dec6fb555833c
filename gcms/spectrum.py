"""The mass spectrum type and the nominal-mass rule every part of gcms shares."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array

__all__ = ["NOMINAL_MASS_BOUNDARY", "Spectrum", "nominal_mass"]

#: Fractional m/z at which one nominal mass ends and the next begins (AMDIS's rule,
#: ``nominal = ceil(m/z - 0.649)``). Organic ions carry a positive mass defect that grows
#: with mass (C30H62+ is 422.485), so the usual ``floor(m/z + 0.5)`` would put the
#: molecular ions of long alkanes one unit high; 0.649 keeps them right up to C40
#: (562.64) while still tolerating the negative defect of halogenated ions (PFTBA 501.97).
NOMINAL_MASS_BOUNDARY = 0.649


def nominal_mass(mz: ArrayLike) -> np.ndarray:
    """Nominal (integer) mass of each m/z value: ``ceil(m/z - 0.649)`` as an int64 array.

    Equivalent to ``floor(m/z + 0.351)``; see :data:`NOMINAL_MASS_BOUNDARY` for why the
    bin edge sits at x.649 rather than x.5.
    """
    return np.floor(np.asarray(mz, dtype=np.float64) + (1.0 - NOMINAL_MASS_BOUNDARY)).astype(
        np.int64
    )


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


@dataclass(frozen=True, slots=True, eq=False)
class Spectrum:
    """One mass spectrum: peaks as arrays plus the metadata a library entry carries.

    Peaks are kept sorted by m/z (the constructor sorts a copy when they are not);
    arrays are read-only. Metadata fields are those of MSP/NIST, JCAMP-DX and MassBank
    records; anything else a source file holds goes to ``extra``.

    Parameters
    ----------
    mz : array_like
        m/z values (float64).
    intensity : array_like
        Intensities (float64), same length as ``mz``; finite.
    name, synonyms, cas, formula, mw, inchikey
        Compound identity as the source states it.
    retention_index : float, optional
        Retention index, with ``ri_column`` naming the column type it applies to
        (e.g. ``"semi-standard non-polar"``).
    rt_seconds : float, optional
        Retention time of the scan or component the spectrum comes from.
    source, source_entry
        File the spectrum was read from and its entry there (record id, index, scan).
    """

    mz: np.ndarray
    intensity: np.ndarray
    name: str | None = None
    synonyms: tuple[str, ...] = ()
    cas: str | None = None
    formula: str | None = None
    mw: float | None = None
    inchikey: str | None = None
    retention_index: float | None = None
    ri_column: str | None = None
    rt_seconds: float | None = None
    source: str | None = None
    source_entry: str | None = None
    comment: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        mz = frozen_array(self.mz, np.float64, name="mz")
        intensity = frozen_array(self.intensity, np.float64, name="intensity")
        if mz.shape != intensity.shape:
            raise ValueError(
                f"mz has {mz.size} values but intensity has {intensity.size}"
            )
        if not (np.isfinite(mz).all() and np.isfinite(intensity).all()):
            raise ValueError("spectrum holds NaN or infinite values")
        if mz.size > 1 and np.any(np.diff(mz) < 0):
            order = np.argsort(mz, kind="stable")
            mz = frozen_array(mz[order], np.float64, name="mz")
            intensity = frozen_array(intensity[order], np.float64, name="intensity")
        object.__setattr__(self, "mz", mz)
        object.__setattr__(self, "intensity", intensity)
        object.__setattr__(self, "synonyms", tuple(str(s) for s in self.synonyms))
        object.__setattr__(self, "mw", _optional_float(self.mw, "mw"))
        object.__setattr__(
            self, "retention_index", _optional_float(self.retention_index, "retention_index")
        )
        object.__setattr__(self, "rt_seconds", _optional_float(self.rt_seconds, "rt_seconds"))
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))

    def __reduce__(self):
        # Rebuild through __init__ so a pickled copy (sent to a batch worker) is checked
        # and read-only again.
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["extra"] = dict(self.extra)
        return (_rebuild_spectrum, (values,))

    def __len__(self) -> int:
        return int(self.mz.size)

    def __repr__(self) -> str:
        label = self.name or self.source_entry or "unnamed"
        return f"Spectrum({label!r}, {len(self)} peaks)"

    @property
    def base_peak_mz(self) -> float | None:
        """m/z of the most intense peak (the lowest m/z on ties), None when empty."""
        if not len(self):
            return None
        return float(self.mz[int(np.argmax(self.intensity))])

    def replace(self, **changes: Any) -> Spectrum:
        """Return a copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def nominal(self) -> Spectrum:
        """The spectrum on integer masses (:func:`nominal_mass`), keeping the maximum.

        Two peaks that fall in the same nominal bin keep the larger intensity, as NIST MS
        Search does for EI spectra (a sum would double-count profile-data shoulders).
        """
        if not len(self):
            return self
        masses = nominal_mass(self.mz)
        unique, inverse = np.unique(masses, return_inverse=True)
        peak = np.zeros(unique.size, dtype=np.float64)
        np.maximum.at(peak, inverse, self.intensity)
        return self.replace(mz=unique.astype(np.float64), intensity=peak)

    def normalized(self, base: float = 999.0) -> Spectrum:
        """Return a copy scaled so that the base peak equals ``base``."""
        top = float(self.intensity.max()) if len(self) else 0.0
        if top <= 0:
            raise ValueError(f"{self!r}: no positive peak to normalise to")
        return self.replace(intensity=self.intensity * (base / top))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (peaks as lists, ``None`` for absent metadata)."""
        out: dict[str, Any] = {
            "mz": self.mz.tolist(),
            "intensity": self.intensity.tolist(),
        }
        for f in dataclasses.fields(self):
            if f.name in ("mz", "intensity"):
                continue
            value = getattr(self, f.name)
            if f.name == "synonyms":
                value = list(value)
            elif f.name == "extra":
                value = dict(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spectrum:
        """Inverse of :meth:`to_dict`."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown spectrum fields: {sorted(unknown)}")
        values = dict(data)
        values["synonyms"] = tuple(values.get("synonyms") or ())
        return cls(**values)

    def to_matchms(self):
        """Convert to a ``matchms.Spectrum`` (metadata keys in matchms' own names)."""
        from matchms import Spectrum as MatchmsSpectrum

        metadata = {
            key: value
            for key, value in (
                ("compound_name", self.name),
                ("synonyms", list(self.synonyms) or None),
                ("cas", self.cas),
                ("formula", self.formula),
                ("parent_mass", self.mw),
                ("inchikey", self.inchikey),
                ("retention_index", self.retention_index),
                ("retention_time", self.rt_seconds),
                ("source", self.source),
                ("source_entry", self.source_entry),
                ("comment", self.comment),
            )
            if value is not None
        }
        metadata.update(self.extra)
        return MatchmsSpectrum(
            mz=np.array(self.mz, dtype=np.float64),
            intensities=np.array(self.intensity, dtype=np.float64),
            metadata=metadata,
            metadata_harmonization=False,
        )

    @classmethod
    def from_matchms(cls, spectrum) -> Spectrum:
        """Build from a ``matchms.Spectrum``; unknown metadata keys go to ``extra``."""
        metadata = dict(spectrum.metadata)

        def take(*keys: str):
            for key in keys:
                if key in metadata:
                    return metadata.pop(key)
            return None

        synonyms = take("synonyms", "synon") or ()
        if isinstance(synonyms, str):
            synonyms = (synonyms,)
        return cls(
            mz=spectrum.peaks.mz,
            intensity=spectrum.peaks.intensities,
            name=take("compound_name", "name"),
            synonyms=tuple(synonyms),
            cas=take("cas", "casno"),
            formula=take("formula"),
            mw=take("parent_mass", "mw"),
            inchikey=take("inchikey"),
            retention_index=take("retention_index"),
            rt_seconds=take("retention_time"),
            source=take("source"),
            source_entry=take("source_entry"),
            comment=take("comment"),
            extra={str(k): str(v) for k, v in metadata.items()},
        )


def _rebuild_spectrum(values: dict[str, Any]) -> Spectrum:
    return Spectrum(**values)
