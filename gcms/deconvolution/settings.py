"""Settings of the deconvolution, with the defaults a lab can defend.

The three qualitative knobs are those of AMDIS (Stein 1999), so that a chemist who
knows AMDIS knows what they do; each maps to explicit numbers in the tables below.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "BACKGROUND_IONS",
    "BLEED_IONS",
    "DeconvolutionSettings",
    "Level",
    "Sensitivity",
]

#: Ions of polysiloxane column bleed and septum bleed (cyclic siloxanes D3–D7: 207 is
#: the D3 base peak, 281 D4, 355 D5, 429 D6; 73 is trimethylsilyl). They are never
#: chosen as model ions, and a component whose spectrum is mostly these ions (with
#: their isotopes) is rejected as bleed.
BLEED_IONS: tuple[int, ...] = (73, 207, 281, 355, 429)

#: Ions of the background a run carries between compounds: the fragments of
#: polysiloxane bleed (cyclic D3–D7 and their methyl-loss, CH4-loss and ring-opened
#: fragments: 73, 96, 133, 147, 191, 193, 207-209, 221, 253, 267, 281-283, 327, 341,
#: 355-357, 401, 415, 429-431) and air (28, 32, 40; 28 and 32 lie below the default
#: m/z range). Published bleed spectra of 5 %-phenyl columns hold these ions and little
#: else. m/z 44 (CO2) is left out on purpose: it is the base peak of amphetamine and of
#: other primary amines. A component with more than ``max_bleed_fraction`` of its
#: abundance in these ions, one of 207/281/355/429/40 among its three largest, is
#: background, not a compound (a TMS derivative, also rich in 73 and 147, is led by ions
#: of its own).
BACKGROUND_IONS: tuple[int, ...] = (
    28, 32, 40, 73, 96, 133, 147, 191, 193, 207, 208, 209, 221, 253, 267, 281, 282, 283,
    327, 341, 355, 356, 357, 401, 415, 429, 430, 431,
)

Sensitivity = Literal["very low", "low", "medium", "high", "very high"]
Level = Literal["low", "medium", "high"]

#: Sensitivity -> minimum S/N of an ion maximum on the smoothed trace (its rise above
#: the lower of the two flanks, in σ of the smoothed noise at its level), and the
#: minimum S/N of a component's model ion at its apex (unsmoothed noise). "medium" is 3
#: and 5: at these levels a white-noise trace of 3,600 scans gives about one chance
#: coincidence of two ion maxima per run, which the component tests then reject.
SENSITIVITY_SNR: dict[str, tuple[float, float]] = {
    "very low": (6.0, 12.0),
    "low": (4.5, 8.0),
    "medium": (3.5, 5.0),
    "high": (3.0, 4.0),
    "very high": (2.5, 3.0),
}

#: Resolution -> bandwidth of the component-perception density, as a fraction of the
#: peak's half-height width (FWHM). Two compounds whose ions maximise closer than about
#: twice this are perceived as one. "medium" (0.2 FWHM) separates compounds at
#: chromatographic resolution Rs = 0.5 (apexes about 0.85 FWHM apart for Gaussians).
RESOLUTION_BANDWIDTH: dict[str, float] = {"low": 0.35, "medium": 0.2, "high": 0.12}

#: Shape requirement -> (minimum, maximum) FWHM of a component's model profile as a
#: multiple of the run's typical FWHM, and the minimum fraction of the model ion's own
#: signal (in its window) that the fitted model explains. Narrower than the minimum is
#: a spike, wider than the maximum a solvent tail, bleed hump or drift. Peak widths in
#: one run differ (an early sharp peak, an overloaded broad one), so the limits are
#: wide; a profile is never required to be wider than :data:`MIN_FWHM_SCANS`.
SHAPE_LIMITS: dict[str, tuple[float, float, float]] = {
    "low": (0.15, 12.0, 0.5),
    "medium": (0.2, 8.0, 0.6),
    "high": (0.35, 5.0, 0.75),
}

#: A profile narrower than this at half height (scans) is a spike whatever the run's
#: typical width: a chromatographic peak spans at least two scans.
MIN_FWHM_SCANS = 1.2


@dataclass(frozen=True, slots=True, kw_only=True)
class DeconvolutionSettings:
    """Knobs of :func:`gcms.deconvolution.deconvolve`.

    Attributes
    ----------
    mz_min, mz_max : int, optional
        Nominal m/z range used. None: the run's own range (low end at least 35, below
        which air and water ions dominate an EI scan).
    excluded_mz : tuple of int
        Ions removed before anything else (AMDIS "omitted m/z"), e.g. ``(28, 32, 44)``
        for air, or a derivatisation reagent's ions.
    bleed_mz : tuple of int
        Column-bleed ions (:data:`BLEED_IONS` by default): never model ions.
    background_mz : tuple of int
        Bleed and air ions (:data:`BACKGROUND_IONS` plus ``bleed_mz``): a component
        holding more than ``max_bleed_fraction`` of its abundance in them is rejected.
    max_bleed_fraction : float
        See ``background_mz``.
    sensitivity : {"very low", "low", "medium", "high", "very high"}
        How weak a component may be (:data:`SENSITIVITY_SNR`).
    resolution : {"low", "medium", "high"}
        How close two components may elute and still be told apart
        (:data:`RESOLUTION_BANDWIDTH`). High resolution separates closer compounds but
        splits noisy ones more often (the merge step then rejoins them).
    shape_requirement : {"low", "medium", "high"}
        How much a component's profile must look like a chromatographic peak
        (:data:`SHAPE_LIMITS`).
    peak_width_s : float, optional
        Typical full width at half height of the run's peaks; None estimates it from
        the run (median half-height width of its strongest ion peaks).
    min_ions : int
        Minimum number of significant ions in a component's spectrum.
    min_snr : float, optional
        Overrides the component S/N limit of ``sensitivity``.
    correct_skew : bool
        Estimate the scanning quadrupole's spectral skew (apex time drifting with m/z
        across the sweep) from the run and align the ion traces before fitting.
    refine_profiles : bool
        Refine each component's elution profile from all its ions (alternating
        non-negative least squares) after the model-ion start; off, the profiles are the
        smoothed model-ion traces, as in AMDIS.
    merge_cosine : float
        Two components whose windows overlap or touch, whose spectra have at least this
        cosine, and whose main ions' recorded signal shows no valley between their apexes
        are one compound split in two (an overloaded peak, a tail): they are merged. The
        valley test keeps isomers the column separates apart, so the cosine can be lax.
    ion_z : float
        An ion belongs to a component's spectrum when its fitted abundance is at least
        this many standard errors above zero (2: about 2.5 % false ions per noise ion).
    """

    mz_min: int | None = None
    mz_max: int | None = None
    excluded_mz: tuple[int, ...] = ()
    bleed_mz: tuple[int, ...] = BLEED_IONS
    background_mz: tuple[int, ...] = BACKGROUND_IONS
    max_bleed_fraction: float = 0.5
    sensitivity: Sensitivity = "medium"
    resolution: Level = "medium"
    shape_requirement: Level = "medium"
    peak_width_s: float | None = None
    min_ions: int = 3
    min_snr: float | None = None
    correct_skew: bool = True
    refine_profiles: bool = True
    merge_cosine: float = 0.8
    ion_z: float = 2.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded_mz", tuple(int(m) for m in self.excluded_mz))
        object.__setattr__(self, "bleed_mz", tuple(int(m) for m in self.bleed_mz))
        object.__setattr__(self, "background_mz", tuple(int(m) for m in self.background_mz))
        if self.sensitivity not in SENSITIVITY_SNR:
            raise ValueError(f"sensitivity must be one of {sorted(SENSITIVITY_SNR)}, "
                             f"got {self.sensitivity!r}")
        if self.resolution not in RESOLUTION_BANDWIDTH:
            raise ValueError(f"resolution must be low, medium or high, got {self.resolution!r}")
        if self.shape_requirement not in SHAPE_LIMITS:
            raise ValueError(f"shape_requirement must be low, medium or high, "
                             f"got {self.shape_requirement!r}")
        if self.mz_min is not None and self.mz_max is not None and self.mz_max < self.mz_min:
            raise ValueError(f"mz_max {self.mz_max} is below mz_min {self.mz_min}")
        if self.peak_width_s is not None and not self.peak_width_s > 0:
            raise ValueError(f"peak_width_s must be > 0, got {self.peak_width_s}")
        if self.min_ions < 1:
            raise ValueError(f"min_ions must be >= 1, got {self.min_ions}")
        if self.min_snr is not None and not self.min_snr > 0:
            raise ValueError(f"min_snr must be > 0, got {self.min_snr}")
        if not 0 < self.merge_cosine <= 1:
            raise ValueError(f"merge_cosine must be in (0, 1], got {self.merge_cosine}")
        if not 0 < self.max_bleed_fraction <= 1:
            raise ValueError(f"max_bleed_fraction must be in (0, 1], got {self.max_bleed_fraction}")
        if self.ion_z < 0:
            raise ValueError(f"ion_z must be >= 0, got {self.ion_z}")

    @property
    def ion_snr(self) -> float:
        """Minimum S/N of an ion maximum (smoothed trace), from ``sensitivity``."""
        return SENSITIVITY_SNR[self.sensitivity][0]

    @property
    def component_snr(self) -> float:
        """Minimum S/N of a component's model ion, from ``min_snr`` or ``sensitivity``."""
        return self.min_snr if self.min_snr is not None else SENSITIVITY_SNR[self.sensitivity][1]

    @property
    def bandwidth_fwhm(self) -> float:
        """Perception bandwidth as a fraction of the FWHM, from ``resolution``."""
        return RESOLUTION_BANDWIDTH[self.resolution]

    @property
    def shape_limits(self) -> tuple[float, float, float]:
        """(min FWHM ratio, max FWHM ratio, min explained fraction), from ``shape_requirement``."""
        return SHAPE_LIMITS[self.shape_requirement]

    def replace(self, **changes: Any) -> DeconvolutionSettings:
        """Return a copy with some settings changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dataclasses.asdict(self)
        out["excluded_mz"] = list(self.excluded_mz)
        out["bleed_mz"] = list(self.bleed_mz)
        out["background_mz"] = list(self.background_mz)
        return out
