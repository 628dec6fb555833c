"""Simulated GC-MS runs with ground truth, for tests, benchmarks and the demo data.

A run is built the way a scanning-quadrupole GC-MS makes one:

* every compound elutes as an **exponentially modified Gaussian** (EMG: a Gaussian of
  σ convolved with an exponential of time constant τ, the usual model of a tailing GC
  peak; Grushka, Anal. Chem. 44 (1972) 1733) whose apex is at the compound's retention
  time and whose area (over time, summed over ions) is its ``amount``;
* the ions of its EI spectrum follow that profile, but each is sampled at its own
  moment of the scan: the quadrupole sweeps the m/z range once per scan, so on a peak's
  rising edge the ions measured late in the sweep read high and on the falling edge low
  (**spectral skew**, ``skew="up"`` or ``"down"``; the scan time is the middle of the
  sweep);
* a **chemical background** on every ion (decaying with m/z) that **drifts** over the run,
  and **column bleed** (a cyclosiloxane spectrum, base peak m/z 207) that rises
  exponentially with the oven temperature towards the end;
* **ion-counting noise**: the detector counts ions, so the recorded abundance is
  ``gain · Poisson(signal / gain)`` (σ = √(gain · signal): the noise factor of the run is
  √gain), plus optional electronic noise and random single-scan spikes;
* the **acquisition threshold**: abundances below ``threshold`` are not recorded, and
  the run holds only the recorded (m/z, abundance) pairs, as instruments write them.

The m/z values carry a small random calibration jitter around the nominal mass.

Use::

    from gcms.simulate import simulate, random_spectrum, SimulationSettings
    sim = simulate([(spectrum_a, 300.0, 5e5), (spectrum_b, 302.0, 2e5)],
                   settings=SimulationSettings(duration_s=600, scan_rate_hz=4))
    sim.run            # gcms.Run
    sim.truth.rt_s     # apex times of the compounds, seconds
    write(sim, "mix.cdf")   # ANDI/AIA netCDF through gcms.io.andi_ms.write
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array
from gcms.run import Run, RunMetadata
from gcms.spectrum import Spectrum

__all__ = [
    "BLEED_SPECTRUM",
    "COMMON_EI_IONS",
    "GroundTruth",
    "Score",
    "SimulatedCompound",
    "Simulation",
    "SimulationSettings",
    "amount_for_snr",
    "emg",
    "random_spectrum",
    "retention_for_resolution",
    "score",
    "simulate",
    "write",
]

#: Column bleed of a 5 %-phenyl polysiloxane column (cyclic siloxanes D3–D6): m/z and
#: relative abundance (207 = 100). Typical of published bleed spectra.
BLEED_SPECTRUM: tuple[tuple[int, float], ...] = (
    (44, 8.0), (73, 30.0), (96, 6.0), (133, 10.0), (191, 8.0), (207, 100.0),
    (208, 20.0), (209, 9.0), (249, 4.0), (267, 6.0), (281, 35.0), (282, 9.0),
    (283, 5.0), (327, 4.0), (341, 5.0), (355, 14.0), (356, 4.0), (401, 3.0),
    (429, 6.0),
)

#: Fragment ions that turn up in the EI spectra of many unrelated compounds (alkyl
#: 43/57/71, aromatic 39/51/65/77/91/105, amine/carbonyl 44/58/72), so that simulated
#: co-eluting compounds share ions the way real ones do.
COMMON_EI_IONS: tuple[int, ...] = (39, 41, 43, 44, 51, 55, 57, 58, 65, 71, 72, 77, 91, 105)

#: FWHM of a Gaussian is this many σ: 2·sqrt(2·ln 2).
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationSettings:
    """How the simulated instrument acquires (all knobs with typical values).

    Attributes
    ----------
    start_s, duration_s : float
        Time of the first scan and length of the run (seconds).
    scan_rate_hz : float
        Scans per second (full scan over ``mz_min``–``mz_max``).
    mz_min, mz_max : int
        Scan range (nominal masses, both included).
    fwhm_s : float
        Full width at half height of the Gaussian part of every peak (capillary GC: 1–4 s).
    tau_s : float
        Exponential time constant of the EMG (tailing); 0 for Gaussian peaks.
    gain : float
        Abundance units per counted ion: the ion-counting noise is σ = √(gain · s).
    electronic_noise : float
        σ of additive Gaussian noise (abundance), applied before the threshold.
    background : float
        Chemical background abundance per ion at ``mz_min`` (halves every 40 u).
    drift : float
        Relative change of the background from the first to the last scan (baseline drift).
    bleed : float
        Abundance of the bleed base peak m/z 207 at the end of the run (0: no bleed).
    skew : {"up", "down"} or None
        Direction of the quadrupole sweep, None for simultaneous detection (TOF).
    threshold : float
        Abundances below this are not recorded (instruments' acquisition threshold).
    spikes_per_scan : float
        Mean number of single-scan noise spikes per scan (random ion, random height
        up to 10 σ of the background).
    mz_jitter : float
        Half-width of the uniform calibration jitter added to every recorded m/z.
    seed : int or None
        Seed of the random generator (same seed, same run).
    """

    start_s: float = 180.0
    duration_s: float = 900.0
    scan_rate_hz: float = 4.0
    mz_min: int = 35
    mz_max: int = 550
    fwhm_s: float = 2.5
    tau_s: float = 0.5
    gain: float = 10.0
    electronic_noise: float = 0.0
    background: float = 300.0
    drift: float = 0.3
    bleed: float = 3000.0
    skew: Literal["up", "down"] | None = "up"
    threshold: float = 0.0
    spikes_per_scan: float = 0.05
    mz_jitter: float = 0.1
    seed: int | None = 0

    def __post_init__(self) -> None:
        checks = (
            (self.duration_s > 0, "duration_s must be > 0"),
            (self.scan_rate_hz > 0, "scan_rate_hz must be > 0"),
            (0 < self.mz_min <= self.mz_max, "need 0 < mz_min <= mz_max"),
            (self.fwhm_s > 0, "fwhm_s must be > 0"),
            (self.tau_s >= 0, "tau_s must be >= 0"),
            (self.gain > 0, "gain must be > 0"),
            (min(self.electronic_noise, self.background, self.bleed, self.threshold,
                 self.spikes_per_scan) >= 0, "noise, background, bleed, threshold >= 0"),
            (0 <= self.mz_jitter < 0.3, "mz_jitter must be in [0, 0.3)"),
            (self.skew in ("up", "down", None),
             f"skew must be 'up', 'down' or None, got {self.skew!r}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def n_scans(self) -> int:
        """Number of scans of the run."""
        return int(math.floor(self.duration_s * self.scan_rate_hz)) + 1

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class SimulatedCompound:
    """One compound of a simulated run.

    ``amount`` is the area of the compound's total-ion peak (abundance × seconds, all
    ions together); ``fwhm_s`` and ``tau_s`` override the run's peak shape for this
    compound (None: the settings' values).
    """

    spectrum: Spectrum
    rt_s: float
    amount: float
    fwhm_s: float | None = None
    tau_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.spectrum, Spectrum):
            raise TypeError(f"spectrum must be a gcms.Spectrum, got {type(self.spectrum).__name__}")
        if not (math.isfinite(self.rt_s) and math.isfinite(self.amount) and self.amount >= 0):
            raise ValueError(f"{self.spectrum!r}: rt_s must be finite and amount >= 0")
        if not len(self.spectrum) or float(np.max(self.spectrum.intensity)) <= 0:
            raise ValueError(f"{self.spectrum!r}: spectrum has no positive peak")


@dataclass(frozen=True, slots=True, eq=False)
class GroundTruth:
    """What was put into a simulated run, one row per compound (in input order).

    Attributes
    ----------
    names : tuple of str
        Compound names (the spectrum's name, else ``"compound N"``).
    rt_s : ndarray
        Apex time of the compound's total-ion profile (seconds).
    amount : ndarray
        Area of its total-ion peak (abundance × s).
    height : ndarray
        Apex height of its total-ion profile (abundance).
    snr : ndarray
        Apex height of its base-peak ion over the σ of that ion's baseline noise
        (counting noise of the background there, and electronic noise): the S/N of
        the base-peak extracted-ion chromatogram.
    tic_snr : ndarray
        Apex height of its total-ion profile over the σ of the total-ion baseline noise
        at its retention time: the S/N of the peak in the TIC.
    fwhm_s, tau_s : ndarray
        Peak shape of each compound.
    spectra : tuple of Spectrum
        The spectra as used: nominal masses inside the scan range, base peak 999.
    """

    names: tuple[str, ...]
    rt_s: np.ndarray
    amount: np.ndarray
    height: np.ndarray
    snr: np.ndarray
    tic_snr: np.ndarray
    fwhm_s: np.ndarray
    tau_s: np.ndarray
    spectra: tuple[Spectrum, ...]

    def __post_init__(self) -> None:
        for name in ("rt_s", "amount", "height", "snr", "tic_snr", "fwhm_s", "tau_s"):
            object.__setattr__(self, name, frozen_array(getattr(self, name), np.float64, name=name))
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "spectra", tuple(self.spectra))

    def __len__(self) -> int:
        return len(self.names)

    def to_dict(self) -> dict[str, Any]:
        """One JSON record per compound: name, rt_s, amount, height, snr, shape, spectrum."""
        return {
            "compounds": [
                {
                    "name": self.names[i],
                    "rt_s": float(self.rt_s[i]),
                    "amount": float(self.amount[i]),
                    "height": float(self.height[i]),
                    "snr": float(self.snr[i]),
                    "tic_snr": float(self.tic_snr[i]),
                    "fwhm_s": float(self.fwhm_s[i]),
                    "tau_s": float(self.tau_s[i]),
                    "spectrum": {"mz": self.spectra[i].mz.tolist(),
                                 "intensity": self.spectra[i].intensity.tolist()},
                }
                for i in range(len(self))
            ]
        }


@dataclass(frozen=True, slots=True)
class Simulation:
    """A simulated run, its ground truth and the settings that made it."""

    run: Run
    truth: GroundTruth
    settings: SimulationSettings

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the run as ANDI/AIA netCDF (see :func:`write`)."""
        write(self, path, overwrite=overwrite)


# --------------------------------------------------------------------------- profiles
def emg(t: ArrayLike, mu: ArrayLike, sigma: ArrayLike, tau: ArrayLike) -> np.ndarray:
    """Exponentially modified Gaussian of unit area, evaluated at ``t`` (broadcasting).

    ``f(t) = 1/(2τ) · exp(σ²/(2τ²) − (t−μ)/τ) · erfc((σ/τ − (t−μ)/σ)/√2)``, computed as
    ``1/(2τ) · exp(−z²/2) · erfcx(x)`` with ``z = (t−μ)/σ``, ``x = (σ/τ − z)/√2`` where
    ``x ≥ 0`` (no overflow on the leading edge) and in the first form where ``x < 0``
    (no overflow on the tail). ``τ = 0`` gives the Gaussian.
    """
    from scipy.special import erfc, erfcx

    t, mu, sigma, tau = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                              for a in (t, mu, sigma, tau)))
    z = (t - mu) / sigma
    gauss = np.exp(-0.5 * z * z) / (sigma * math.sqrt(2.0 * math.pi))
    tiny = tau < 1e-3 * sigma
    safe_tau = np.where(tiny, 1.0, tau)
    x = (sigma / safe_tau - z) / math.sqrt(2.0)
    with np.errstate(over="ignore", invalid="ignore"):
        head = np.exp(-0.5 * z * z) * erfcx(np.maximum(x, 0.0))
        tail = np.exp(np.minimum(0.5 * (sigma / safe_tau) ** 2 - z * sigma / safe_tau, 700.0)) \
            * erfc(np.minimum(x, 0.0))
    value = np.where(x >= 0, head, tail) / (2.0 * safe_tau)
    return np.where(tiny, gauss, value)


def _emg_mode_offset(sigma: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Apex minus μ of each EMG (found on a fine grid, 0.1 % of σ)."""
    grid = np.linspace(-1.0, 4.0, 5001)[None, :] * np.maximum(sigma, tau)[:, None]
    values = emg(grid, 0.0, sigma[:, None], tau[:, None])
    return grid[np.arange(sigma.size), np.argmax(values, axis=1)]


def retention_for_resolution(rt_s: float, resolution: float, *, fwhm_s: float = 2.5,
                             tau_s: float = 0.5) -> float:
    """Apex time of a second peak eluting at chromatographic resolution ``resolution``.

    ``Rs = 2 (t₂ − t₁) / (w₁ + w₂)`` with base widths ``w = 4 σ_t``, where
    ``σ_t = √(σ² + τ²)`` is the standard deviation of the EMG (Foley & Dorsey, Anal.
    Chem. 55 (1983) 730); for two peaks of the same shape ``t₂ = t₁ + 4 Rs σ_t``.
    Rs = 1.5 is baseline separation, Rs = 0.5 two apexes about one half-width apart.
    """
    sigma = fwhm_s / FWHM_PER_SIGMA
    return float(rt_s + 4.0 * resolution * math.hypot(sigma, tau_s))


# --------------------------------------------------------------------------- spectra
def random_spectrum(
    rng: np.random.Generator | int | None = None,
    *,
    mw: int | None = None,
    n_peaks: int | None = None,
    mz_min: int = 35,
    name: str | None = None,
) -> Spectrum:
    """A random but realistic 70 eV EI spectrum (nominal masses, base peak 999).

    What makes it look like a real one: 20–80 peaks (``n_peaks``; ties at the smallest
    kept abundance may add one or two) between ``mz_min`` and the molecular mass,
    abundances falling off with m/z and log-normally scattered, 1–4 dominant ions (one
    is the base peak), some of the :data:`COMMON_EI_IONS` that unrelated compounds
    share, a molecular ion (most of the time) and ¹³C isotope peaks one mass above the
    large ions (1.1 % per carbon, carbons estimated as mass / 14).
    """
    rng = np.random.default_rng(rng)
    mw = int(mw if mw is not None else rng.integers(120, 421))
    if mw < mz_min + 20:
        raise ValueError(f"mw {mw} leaves too few masses above mz_min {mz_min}")
    span = mw - mz_min
    n_peaks = int(n_peaks if n_peaks is not None else rng.integers(20, 81))
    n_peaks = max(5, min(n_peaks, span // 2))
    # Fragments first (isotopes, shared and molecular ions are added below), then the
    # smallest peaks are dropped down to n_peaks.
    n_fragments = max(4, int(0.6 * n_peaks))
    masses = np.arange(mz_min, mw + 1)
    decay = rng.uniform(50.0, 160.0)
    envelope = np.exp(-(masses - mz_min) / decay)
    chosen = rng.choice(masses.size, size=n_fragments, replace=False,
                        p=envelope / envelope.sum())
    intensity = np.zeros(masses.size)
    intensity[chosen] = envelope[chosen] * rng.lognormal(0.0, 1.0, size=n_fragments)
    intensity /= intensity.max()
    intensity *= rng.uniform(0.15, 0.45)  # ordinary fragments well below the base peak
    # Shared fragments of many compounds.
    common = np.array([m for m in COMMON_EI_IONS if mz_min <= m <= mw])
    shared = common[rng.random(common.size) < 0.35]
    intensity[shared - mz_min] = np.maximum(intensity[shared - mz_min],
                                            rng.uniform(0.05, 0.5, shared.size))
    # Dominant ions: anywhere, with a preference for the lower-middle of the range.
    n_dominant = int(rng.integers(1, 5))
    dominant = mz_min + (rng.beta(1.5, 2.5, n_dominant) * span).astype(int)
    intensity[dominant - mz_min] = rng.uniform(0.5, 1.0, n_dominant)
    intensity[dominant[0] - mz_min] = 1.0
    if rng.random() < 0.8:  # molecular ion
        intensity[-1] = max(intensity[-1], rng.uniform(0.03, 0.6))
    # 13C isotopes one mass above every large ion.
    big = np.flatnonzero(intensity[:-1] >= 0.05)
    carbons = np.maximum(1.0, masses[big] / 14.0)
    intensity[big + 1] = np.maximum(intensity[big + 1], intensity[big] * 0.011 * carbons)
    intensity = np.round(999.0 * intensity / intensity.max())
    if np.count_nonzero(intensity >= 1.0) > n_peaks:
        smallest_kept = np.sort(intensity)[-n_peaks]
        intensity[intensity < smallest_kept] = 0.0
    keep = intensity >= 1.0
    return Spectrum(mz=masses[keep].astype(np.float64), intensity=intensity[keep],
                    name=name, mw=float(mw))


# --------------------------------------------------------------------------- simulation
def _compounds(items: Iterable[Any]) -> list[SimulatedCompound]:
    out = []
    for item in items:
        if isinstance(item, SimulatedCompound):
            out.append(item)
        else:
            spectrum, rt_s, amount, *shape = item
            out.append(SimulatedCompound(spectrum, float(rt_s), float(amount), *shape))
    return out


def _nominal_spectrum(spectrum: Spectrum, mz_min: int,
                      mz_max: int) -> tuple[np.ndarray, np.ndarray]:
    nominal = spectrum.nominal()
    mz = nominal.mz.astype(np.int64)
    inside = (mz >= mz_min) & (mz <= mz_max) & (nominal.intensity > 0)
    mz, intensity = mz[inside], nominal.intensity[inside]
    if not mz.size:
        raise ValueError(f"{spectrum!r}: no peak inside the scan range {mz_min}-{mz_max}")
    return mz, 999.0 * intensity / intensity.max()


def _background(settings: SimulationSettings, times: np.ndarray, masses: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Chemical background with drift, plus column bleed rising with oven temperature."""
    fraction = (times - times[0]) / max(times[-1] - times[0], 1e-9)
    per_ion = settings.background * 0.5 ** ((masses - settings.mz_min) / 40.0)
    per_ion = per_ion * rng.lognormal(0.0, 0.5, masses.size)
    level = np.outer(1.0 + settings.drift * fraction, per_ion)
    if settings.bleed > 0:
        rise = np.expm1(3.0 * fraction) / math.expm1(3.0)
        bleed = np.zeros(masses.size)
        for mz, relative in BLEED_SPECTRUM:
            if settings.mz_min <= mz <= settings.mz_max:
                bleed[mz - settings.mz_min] = settings.bleed * relative / 100.0
        level += np.outer(rise, bleed)
    return level


def _ion_times_offset(settings: SimulationSettings, masses: np.ndarray) -> np.ndarray:
    """When, relative to the scan time (mid-sweep), each m/z is measured (seconds)."""
    if settings.skew is None or settings.mz_max == settings.mz_min:
        return np.zeros(masses.size)
    position = (masses - settings.mz_min) / (settings.mz_max - settings.mz_min)
    if settings.skew == "down":
        position = 1.0 - position
    return (position - 0.5) / settings.scan_rate_hz


def simulate(
    compounds: Sequence[SimulatedCompound | tuple],
    *,
    settings: SimulationSettings | None = None,
    name: str = "simulated run",
) -> Simulation:
    """Simulate one GC-MS run of ``compounds`` (see the module notes for the model).

    Parameters
    ----------
    compounds : sequence
        :class:`SimulatedCompound` or ``(spectrum, rt_s, amount[, fwhm_s[, tau_s]])``
        tuples; ``rt_s`` is the apex time, ``amount`` the total-ion peak area
        (abundance × s; see :func:`amount_for_snr` to aim at a signal-to-noise ratio).
    settings : SimulationSettings, optional
        The instrument and noise model; the defaults when None.
    name : str
        Sample name written into the run's metadata.

    Returns
    -------
    Simulation
        ``run`` (a :class:`gcms.Run` holding only recorded peaks), ``truth`` and ``settings``.
    """
    settings = settings or SimulationSettings()
    rng = np.random.default_rng(settings.seed)
    items = _compounds(compounds)
    n = settings.n_scans
    times = settings.start_s + np.arange(n) / settings.scan_rate_hz
    masses = np.arange(settings.mz_min, settings.mz_max + 1)
    signal = _background(settings, times, masses, rng)
    offsets = _ion_times_offset(settings, masses)

    sigma = np.array([(c.fwhm_s or settings.fwhm_s) / FWHM_PER_SIGMA for c in items])
    tau = np.array([settings.tau_s if c.tau_s is None else c.tau_s for c in items])
    rt = np.array([c.rt_s for c in items])
    amount = np.array([c.amount for c in items])
    mu = rt - _emg_mode_offset(sigma, tau) if items else rt
    spectra, heights, snrs, tic_snrs = [], [], [], []
    baseline_level = signal.copy()  # background and bleed only, before any compound
    for k, compound in enumerate(items):
        # One compound at a time: a window of scans × its own ions, never the full matrix.
        mz, relative = _nominal_spectrum(compound.spectrum, settings.mz_min, settings.mz_max)
        fraction = relative / relative.sum()
        reach = 8.0 * sigma[k] + 25.0 * tau[k] + 1.0
        lo = max(0, int(np.searchsorted(times, mu[k] - reach)))
        hi = min(n, int(np.searchsorted(times, mu[k] + reach)) + 1)
        columns = mz - settings.mz_min
        when = times[lo:hi, None] + offsets[None, columns]
        profile = emg(when, mu[k], sigma[k], tau[k])
        signal[lo:hi, columns] += amount[k] * fraction[None, :] * profile
        apex_height = float(emg(rt[k], mu[k], sigma[k], tau[k])) * amount[k]
        heights.append(apex_height)
        base = int(np.argmax(relative))
        at = min(int(np.searchsorted(times, rt[k])), n - 1)
        base_noise = math.sqrt(settings.gain * baseline_level[at, columns[base]]
                               + settings.electronic_noise**2)
        snrs.append(apex_height * fraction[base] / max(base_noise, 1e-12))
        tic_noise = math.sqrt(settings.gain * baseline_level[at].sum()
                              + masses.size * settings.electronic_noise**2)
        tic_snrs.append(apex_height / max(tic_noise, 1e-12))
        spectra.append(compound.spectrum.replace(
            mz=mz.astype(np.float64), intensity=np.round(relative, 3),
            name=compound.spectrum.name or f"compound {k + 1}"))

    counts = rng.poisson(np.maximum(signal, 0.0) / settings.gain)
    observed = settings.gain * counts.astype(np.float64)
    if settings.electronic_noise > 0:
        observed += rng.normal(0.0, settings.electronic_noise, observed.shape)
    if settings.spikes_per_scan > 0:
        n_spikes = rng.poisson(settings.spikes_per_scan * n)
        rows = rng.integers(0, n, n_spikes)
        cols = rng.integers(0, masses.size, n_spikes)
        noise_there = np.sqrt(settings.gain * np.maximum(signal[rows, cols], 1.0))
        observed[rows, cols] += rng.uniform(3.0, 10.0, n_spikes) * noise_there
    observed = np.maximum(observed, 0.0)
    recorded = observed >= max(settings.threshold, np.finfo(np.float32).tiny)
    rows, cols = np.nonzero(recorded)
    mz_values = masses[cols] + rng.uniform(-settings.mz_jitter, settings.mz_jitter, cols.size)
    run = Run(
        scan_times=times,
        scan_offsets=np.concatenate([[0], np.cumsum(np.count_nonzero(recorded, axis=1))]),
        mz=mz_values,
        intensity=observed[rows, cols].astype(np.float32),
        metadata=RunMetadata(
            sample_name=name,
            format="simulated",
            instrument="gcms.simulate (scanning quadrupole model)",
            ionization="EI+",
            extra={"simulation_seed": str(settings.seed),
                   "simulation_compounds": str(len(items))},
        ),
    )
    truth = GroundTruth(
        names=tuple(s.name for s in spectra),
        rt_s=rt, amount=amount, height=np.array(heights), snr=np.array(snrs),
        tic_snr=np.array(tic_snrs),
        fwhm_s=sigma * FWHM_PER_SIGMA, tau_s=tau, spectra=tuple(spectra),
    )
    return Simulation(run=run, truth=truth, settings=settings)


def amount_for_snr(spectrum: Spectrum, snr: float, *, settings: SimulationSettings | None = None,
                   rt_s: float | None = None, on: Literal["base", "tic"] = "base") -> float:
    """Amount (total-ion peak area) at which ``spectrum`` reaches ``snr``.

    ``on="base"``: the S/N of :attr:`GroundTruth.snr`, apex height of the base-peak ion
    over the σ of the noise of that ion's background; ``on="tic"``: the S/N of
    :attr:`GroundTruth.tic_snr`, apex of the total-ion profile over the σ of the
    total-ion background. The background varies between seeds (per-ion scatter) and
    over the run (drift, bleed), so this uses its expected level at ``rt_s`` (default:
    mid-run) and its expected per-ion scatter; the realised S/N is in the truth table.
    """
    settings = settings or SimulationSettings()
    mz, relative = _nominal_spectrum(spectrum, settings.mz_min, settings.mz_max)
    t_fraction = 0.5 if rt_s is None else (rt_s - settings.start_s) / settings.duration_s
    t_fraction = min(max(t_fraction, 0.0), 1.0)
    masses = np.arange(settings.mz_min, settings.mz_max + 1)
    # lognormal(0, 0.5) per-ion scatter has mean exp(0.125): use the expected level.
    level = settings.background * 0.5 ** ((masses - settings.mz_min) / 40.0) \
        * (1.0 + settings.drift * t_fraction) * math.exp(0.125)
    rise = math.expm1(3.0 * t_fraction) / math.expm1(3.0)
    for bleed_mz, bleed_relative in BLEED_SPECTRUM:
        if settings.mz_min <= bleed_mz <= settings.mz_max and settings.bleed > 0:
            level[bleed_mz - settings.mz_min] += rise * settings.bleed * bleed_relative / 100.0
    sigma = settings.fwhm_s / FWHM_PER_SIGMA
    peak = float(emg(_emg_mode_offset(np.array([sigma]), np.array([settings.tau_s]))[0],
                     0.0, sigma, settings.tau_s))
    if on == "tic":
        noise = math.sqrt(settings.gain * level.sum() + masses.size * settings.electronic_noise**2)
        return float(snr * noise / peak)
    if on != "base":
        raise ValueError(f"on must be 'base' or 'tic', got {on!r}")
    fraction = relative.max() / relative.sum()
    base_mz = int(mz[int(np.argmax(relative))])
    noise = math.sqrt(settings.gain * level[base_mz - settings.mz_min]
                      + settings.electronic_noise**2)
    return float(snr * noise / (fraction * peak))


def write(simulation: Simulation | Run, path: str | os.PathLike, *,
          overwrite: bool = False) -> None:
    """Write a simulated run as ANDI/AIA MS netCDF (:func:`gcms.io.andi_ms.write`).

    The ground truth is not part of the file: keep ``simulation.truth.to_dict()`` beside
    it (JSON) where a test or a demo needs it.
    """
    from gcms.io.andi_ms import write as andi_write

    run = simulation.run if isinstance(simulation, Simulation) else simulation
    andi_write(run, path, overwrite=overwrite)


@dataclass(frozen=True, slots=True, eq=False)
class Score:
    """How well a list of found components matches the ground truth.

    Attributes
    ----------
    recall : float
        Fraction of the true compounds matched by a found component.
    precision : float
        Fraction of the found components that match a true compound: a compound split
        in two, a noise or a bleed component each lower it.
    similarity : ndarray
        Spectral similarity of each matched pair (the function given to :func:`score`).
    pairs : ndarray
        (n_matched, 2) indices: found component, true compound.
    n_found, n_true : int
        Numbers of found components and true compounds.
    """

    recall: float
    precision: float
    similarity: np.ndarray
    pairs: np.ndarray
    n_found: int
    n_true: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"recall": self.recall, "precision": self.precision,
                "similarity": self.similarity.tolist(), "pairs": self.pairs.tolist(),
                "n_found": self.n_found, "n_true": self.n_true}


def score(rt_s: ArrayLike, spectra: Sequence[Spectrum], truth: GroundTruth, *,
          similarity, rt_tolerance_s: float | None = None,
          min_similarity: float = 0.6) -> Score:
    """Match found components to the true compounds, one to one.

    A found component and a true compound can match when their apex times differ by
    at most ``rt_tolerance_s`` (default: half the median FWHM of the true peaks, so
    that two compounds at Rs = 0.5, about one FWHM apart, are never confused) and the
    similarity of their spectra is at least ``min_similarity``; pairs are then taken
    greedily, most similar first, each component and compound used once.
    ``similarity(found, true) -> float`` is the spectral comparison (for example
    :func:`gcms.deconvolution.spectrum_similarity`).
    """
    found_rt = np.asarray(rt_s, dtype=np.float64)
    if found_rt.size != len(spectra):
        raise ValueError(f"{found_rt.size} retention times for {len(spectra)} spectra")
    tolerance = rt_tolerance_s if rt_tolerance_s is not None else \
        0.5 * float(np.median(truth.fwhm_s)) if len(truth) else 1.0
    near_i, near_j = np.nonzero(np.abs(found_rt[:, None] - truth.rt_s[None, :]) <= tolerance)
    values = np.array([similarity(spectra[i], truth.spectra[j])
                       for i, j in zip(near_i, near_j, strict=True)])
    pairs, used_i, used_j, kept = [], set(), set(), []
    for k in np.argsort(-values, kind="stable") if values.size else []:
        i, j = int(near_i[k]), int(near_j[k])
        if values[k] < min_similarity or i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        pairs.append((i, j))
        kept.append(values[k])
    n_found, n_true = found_rt.size, len(truth)
    return Score(
        recall=len(pairs) / n_true if n_true else 1.0,
        precision=len(pairs) / n_found if n_found else 1.0,
        similarity=np.array(kept, dtype=np.float64),
        pairs=np.array(pairs, dtype=np.int64).reshape(-1, 2),
        n_found=n_found, n_true=n_true,
    )
