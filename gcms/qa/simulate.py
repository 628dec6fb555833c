"""Simulated tune spectra with known answers: PFTBA (centroid or profile), DFTPP, BFB.

Abundances are typical of published spectra and of passing tunes, so that the default
spectrum of each calibrant passes its criteria; every ion can be changed to build a
spectrum that fails one criterion at a time. Isotope peaks follow 13C/15N theory (PFTBA)
or the 79Br/81Br and 13C ratios (BFB).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from gcms.qa.tune_criteria import C13_PER_CARBON, N15_PER_NITROGEN
from gcms.run import Run, RunMetadata
from gcms.spectrum import Spectrum

__all__ = [
    "BFB_ABUNDANCES",
    "DFTPP_ABUNDANCES",
    "PFTBA_IONS",
    "bfb_spectrum",
    "dftpp_spectrum",
    "pftba_run",
    "pftba_spectrum",
]

#: PFTBA EI fragments: nominal m/z -> (formula, carbons, nitrogens, % of m/z 69).
PFTBA_IONS: dict[int, tuple[str, int, int, float]] = {
    31: ("CF", 1, 0, 3.0),
    50: ("CF2", 1, 0, 1.5),
    69: ("CF3", 1, 0, 100.0),
    100: ("C2F4", 2, 0, 12.0),
    119: ("C2F5", 2, 0, 8.0),
    131: ("C3F5", 3, 0, 30.0),
    169: ("C3F7", 3, 0, 4.0),
    219: ("C4F9", 4, 0, 55.0),
    264: ("C5F10N", 5, 1, 10.0),
    414: ("C8F16N", 8, 1, 3.0),
    464: ("C9F18N", 9, 1, 2.0),
    502: ("C9F20N", 9, 1, 4.0),
    614: ("C12F24N", 12, 1, 1.0),
}

#: Air and water in a tight, dry system, % of m/z 69 (28:32 about 3.6, as in air).
AIR_WATER: dict[int, float] = {18: 2.5, 28: 1.8, 32: 0.5, 44: 0.4}

#: DFTPP centroid spectrum passing EPA 8270D and 8270C (% of base peak 198).
DFTPP_ABUNDANCES: dict[int, float] = {
    51: 40.0, 68: 0.6, 69: 40.0, 70: 0.4, 77: 30.0, 110: 12.0, 127: 45.0, 135: 8.0,
    168: 6.0, 186: 5.0, 197: 0.5, 198: 100.0, 199: 6.8, 206: 4.0, 217: 3.0, 225: 4.0,
    255: 14.0, 275: 24.0, 323: 5.0, 365: 3.0, 423: 4.0, 441: 9.0, 442: 62.0, 443: 12.4,
}

#: BFB centroid spectrum passing EPA 8260B (% of base peak 95): C6H4BrF+ 174/176 in the
#: 79Br:81Br ratio 1:0.973, 13C satellites 6.6 % per six carbons.
BFB_ABUNDANCES: dict[int, float] = {
    50: 20.0, 68: 5.0, 74: 8.0, 75: 50.0, 76: 6.0, 95: 100.0, 96: 6.6, 117: 3.0, 145: 2.0,
    173: 0.5, 174: 75.0, 175: 75.0 * 0.066, 176: 75.0 * 0.973, 177: 75.0 * 0.973 * 0.066,
}


def _centroid(abundances: Mapping[int, float], changes: Mapping[int, float], name: str
              ) -> Spectrum:
    values = {**abundances, **changes}
    mz = np.array(sorted(m for m, v in values.items() if v > 0), dtype=np.float64)
    return Spectrum(mz=mz, intensity=[values[int(m)] for m in mz], name=name)


def dftpp_spectrum(changes: Mapping[int, float] | None = None) -> Spectrum:
    """DFTPP centroid spectrum; ``changes`` sets ions (``{442: 40.0}``; 0 removes one)."""
    return _centroid(DFTPP_ABUNDANCES, changes or {}, "DFTPP (simulated)")


def bfb_spectrum(changes: Mapping[int, float] | None = None) -> Spectrum:
    """BFB centroid spectrum; ``changes`` sets ions as in :func:`dftpp_spectrum`."""
    return _centroid(BFB_ABUNDANCES, changes or {}, "BFB (simulated)")


def _pftba_peaks(changes: Mapping[int, float], air_water: Mapping[int, float]
                 ) -> dict[int, float]:
    """Heights (% of 69) of every PFTBA ion and its 13C/15N isotope peaks, then changes."""
    peaks: dict[int, float] = {}
    for mz, (_, carbons, nitrogens, abundance) in PFTBA_IONS.items():
        height = changes.get(mz, abundance)
        p = carbons * C13_PER_CARBON + nitrogens * N15_PER_NITROGEN
        for shift, share in ((0, 1.0), (1, p), (2, (carbons * C13_PER_CARBON) ** 2 / 2)):
            peaks[mz + shift] = peaks.get(mz + shift, 0.0) + height * share
    peaks.update(air_water)
    peaks.update({m: v for m, v in changes.items() if m not in PFTBA_IONS})
    return {m: v for m, v in peaks.items() if v > 0}


def pftba_spectrum(
    changes: Mapping[int, float] | None = None,
    *,
    profile: bool = False,
    mass_shift: Mapping[int, float] | None = None,
    pw50: float | Mapping[int, float] = 0.60,
    air_water: Mapping[int, float] | None = None,
    step_u: float = 0.05,
    scale: float = 1.0e6,
) -> Spectrum:
    """A PFTBA tune spectrum, centroid or profile, with abundances in ``scale`` units.

    Parameters
    ----------
    changes
        Heights (% of m/z 69) replacing the defaults of :data:`PFTBA_IONS` (their isotope
        peaks follow) or setting any other m/z outright (``{70: 2.5}`` breaks the 70/69
        ratio; ``{18: 25.0}`` adds water).
    profile
        Profile peaks (flat-topped, steep-sided: ``exp(-ln2·|2(x-c)/PW50|^4)``) sampled
        every ``step_u`` instead of centroids.
    mass_shift
        Offset (u) of the peak of a nominal mass from that mass (mass-axis error).
    pw50
        Full width at half maximum of every profile peak, or per nominal mass.
    air_water
        Heights of m/z 18, 28, 32, 44 (% of 69); default a tight, dry system.
    """
    changes = dict(changes or {})
    shifts = dict(mass_shift or {})
    peaks = _pftba_peaks(changes, AIR_WATER if air_water is None else air_water)
    nominal = np.array(sorted(peaks), dtype=np.float64)
    heights = np.array([peaks[int(m)] for m in nominal]) * scale / 100.0
    centres = nominal + np.array([shifts.get(int(m), 0.0) for m in nominal])
    if not profile:
        return Spectrum(mz=centres, intensity=heights, name="PFTBA (simulated)")
    widths = np.array([pw50.get(int(m), 0.60) if isinstance(pw50, Mapping) else pw50
                       for m in nominal])
    grid = np.arange(np.floor(nominal.min()) - 1.0, np.ceil(nominal.max()) + 1.0 + step_u / 2,
                     step_u)
    # flat-topped, steep-sided peaks of a quadrupole at unit resolution: a super-Gaussian
    # exp(-ln2 · |2(x - c)/PW50|^4), half height at c ± PW50/2
    distance = 2.0 * np.abs(grid[None, :] - centres[:, None]) / widths[:, None]
    near = distance <= 3.0
    profile_rows = np.where(near, heights[:, None] * np.exp(-np.log(2.0) * distance**4), 0.0)
    intensity = profile_rows.sum(axis=0)
    keep = intensity > scale * 1e-7
    return Spectrum(mz=grid[keep], intensity=intensity[keep], name="PFTBA (simulated)")


def pftba_run(spectrum: Spectrum | None = None, *, n_scans: int = 20,
              scan_interval_s: float = 0.5, noise: float = 0.002, seed: int = 0,
              profile: bool = False) -> Run:
    """A PFTBA acquisition with the calibrant valve open: every scan the tune spectrum.

    Each scan is the spectrum times ``1 + noise·N(0,1)`` per peak (ion statistics), so
    the run has no chromatographic peak and no background to subtract.
    """
    spectrum = spectrum or pftba_spectrum(profile=profile)
    rng = np.random.default_rng(seed)
    n = len(spectrum)
    values = spectrum.intensity[None, :] * (1 + noise * rng.standard_normal((n_scans, n)))
    return Run(
        scan_times=np.arange(n_scans) * scan_interval_s,
        scan_offsets=np.arange(n_scans + 1) * n,
        mz=np.tile(spectrum.mz, n_scans),
        intensity=np.maximum(values, 0.0).ravel(),
        metadata=RunMetadata(sample_name="PFTBA tune (simulated)", format="simulated",
                             acquisition="profile" if profile else "scan",
                             ionization="EI 70 eV"),
    )
