"""Result types of the deconvolution.

One :class:`Component` per compound, and the run's :class:`Deconvolution` (components
plus the diagnostics of how they were found).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from gcms._arrays import frozen_array
from gcms.deconvolution.settings import DeconvolutionSettings
from gcms.signal.noise import NoiseModel
from gcms.spectrum import Spectrum

__all__ = ["Component", "Deconvolution"]


@dataclass(frozen=True, slots=True, eq=False)
class Component:
    """One deconvoluted component: a compound's elution profile and pure spectrum.

    Attributes
    ----------
    rt_s : float
        Apex time of the model profile (seconds; interpolated between scans).
    scan : int
        Index of the scan nearest the apex.
    spectrum : Spectrum
        The purified spectrum: for every attributed ion, its fitted abundance at the
        apex (abundance units of the run, not normalised). ``spectrum.rt_seconds`` is
        ``rt_s``.
    model_mz : int
        The model ion: the ion whose trace defined the component's elution profile.
    area : float
        Area of the component's total-ion peak: the sum over its ions of the fitted
        abundance times the profile's integral over time (abundance × s).
    height : float
        Sum over its ions of the fitted abundance at the apex (total-ion apex height).
    snr : float
        S/N of the component's best ion: the largest, over its ions, of the fitted apex
        abundance over the noise σ of that ion's baseline at the apex (usually the base
        peak: the S/N of its extracted-ion chromatogram).
    purity : float
        This component's share of what its apex scan holds: its fitted abundance there,
        over the fitted abundance of every component and of the residual background
        offset there, plus whatever the fit leaves beyond 2 σ of noise (an unperceived
        co-eluter). 1 for a lone compound; low values mean co-elution (see
        ``warnings``).
    start_scan, end_scan : int
        First and last scan of the profile (inclusive).
    width_s : float
        Full width at half height of the profile (seconds).
    profile : ndarray
        The model profile, one value per scan from ``start_scan`` to ``end_scan``,
        maximum 1.
    warnings : tuple of str
        Plain-language cautions, e.g. a co-eluting neighbour sharing ions.
    """

    rt_s: float
    scan: int
    spectrum: Spectrum
    model_mz: int
    area: float
    height: float
    snr: float
    purity: float
    start_scan: int
    end_scan: int
    width_s: float
    profile: np.ndarray
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", frozen_array(self.profile, np.float64, name="profile"))
        expected = self.end_scan - self.start_scan + 1
        if self.profile.size != expected:
            raise ValueError(f"profile has {self.profile.size} points for scans "
                             f"{self.start_scan}-{self.end_scan} (want {expected})")
        object.__setattr__(self, "warnings", tuple(self.warnings))
        for name in ("rt_s", "area", "height", "snr", "purity", "width_s"):
            object.__setattr__(self, name, float(getattr(self, name)))
        for name in ("scan", "model_mz", "start_scan", "end_scan"):
            object.__setattr__(self, name, int(getattr(self, name)))

    def __reduce__(self):
        return (_rebuild, (Component, {f.name: getattr(self, f.name)
                                       for f in dataclasses.fields(self)}))

    def __repr__(self) -> str:
        return (f"Component(rt_s={self.rt_s:.2f}, model_mz={self.model_mz}, "
                f"{len(self.spectrum)} ions, snr={self.snr:.1f}, purity={self.purity:.2f})")

    @property
    def ions(self) -> np.ndarray:
        """The ions attributed to this component (nominal m/z, int64, ascending)."""
        return self.spectrum.mz.astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the spectrum as ``{"mz": [...], "intensity": [...]}``)."""
        return {
            "rt_s": self.rt_s,
            "scan": self.scan,
            "area": self.area,
            "height": self.height,
            "snr": self.snr,
            "model_mz": self.model_mz,
            "purity": self.purity,
            "spectrum": {"mz": self.spectrum.mz.tolist(),
                         "intensity": self.spectrum.intensity.tolist()},
            "ions": self.ions.tolist(),
            "start_scan": self.start_scan,
            "end_scan": self.end_scan,
            "width_s": self.width_s,
            "profile": self.profile.tolist(),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True, eq=False)
class Deconvolution:
    """The components of one run, with the diagnostics of how they were found.

    Attributes
    ----------
    components : tuple of Component
        In retention-time order.
    settings : DeconvolutionSettings
        The settings used.
    noise : NoiseModel
        The run's ion-counting noise model.
    peak_width_s : float
        Typical FWHM used (given or estimated).
    skew_scans_per_100u : float
        Estimated spectral skew: how many scans later an ion 100 u heavier reaches its
        apex (0 when not corrected).
    mz_range : tuple of int
        Nominal m/z range deconvoluted.
    rejected : mapping of str to int
        How many candidates each test rejected (``"noise"``, ``"bleed"``, ``"shape"``,
        ``"too few ions"``, ``"merged"``).
    source_path, sha256 : str or None
        The run's source file and its digest, so a result stays tied to its evidence.
    """

    components: tuple[Component, ...]
    settings: DeconvolutionSettings
    noise: NoiseModel
    peak_width_s: float
    skew_scans_per_100u: float
    mz_range: tuple[int, int]
    rejected: Mapping[str, int] = field(default_factory=dict)
    source_path: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "components", tuple(self.components))
        object.__setattr__(self, "rejected", MappingProxyType(dict(self.rejected)))

    def __reduce__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["rejected"] = dict(self.rejected)
        return (_rebuild, (Deconvolution, values))

    def __len__(self) -> int:
        return len(self.components)

    def __iter__(self):
        return iter(self.components)

    def __getitem__(self, index: int) -> Component:
        return self.components[index]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the components and the diagnostics."""
        return {
            "path": self.source_path,
            "sha256": self.sha256,
            "components": [c.to_dict() for c in self.components],
            "settings": self.settings.to_dict(),
            "noise": self.noise.to_dict(),
            "peak_width_s": self.peak_width_s,
            "skew_scans_per_100u": self.skew_scans_per_100u,
            "mz_range": list(self.mz_range),
            "rejected": dict(self.rejected),
        }


def _rebuild(cls, values: dict[str, Any]):
    return cls(**values)
