"""Simulated n-alkane ladders with known answers, on top of :mod:`gcms.simulate`.

For tests, demonstrations and method development: each member's carbon number, apex time
and spectrum is known, so a ladder finder or an RI calibration can be checked against the
truth. :func:`alkane_spectrum` gives a plausible n-alkane EI spectrum,
:func:`ladder_retention_times` a temperature-programmed or isothermal elution pattern,
:func:`simulate_ladder` the run (instrument, noise, background and bleed model of
:func:`gcms.simulate.simulate`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

import numpy as np

from gcms.spectrum import Spectrum

__all__ = ["alkane_spectrum", "ladder_retention_times", "simulate_ladder"]

#: 13C/12C abundance ratio (IUPAC 1.07 % 13C): the M+1 share per carbon atom.
C13_PER_CARBON = 0.0107 / 0.9893


def _with_isotopes(ions: dict[int, tuple[float, int]]) -> dict[int, float]:
    """Add 13C M+1 and M+2 peaks to ``{mz: (intensity, carbons)}``."""
    out: dict[int, float] = {}
    for mz, (intensity, carbons) in ions.items():
        p = C13_PER_CARBON * carbons
        for shift, share in ((0, 1.0), (1, p), (2, p * p / 2)):
            out[mz + shift] = out.get(mz + shift, 0.0) + intensity * share
    return out


def alkane_spectrum(n: int, *, molecular_ion: float | None = None) -> Spectrum:
    """A plausible 70 eV EI spectrum of the n-alkane CnH2n+2 (nominal masses, base 999).

    Alkyl ions CkH2k+1+ (14k+1) fall off smoothly from C4H9+ (57, the base peak from C9
    on) with C3H7+ (43) strong; alkenyl CkH2k-1+ (14k-1) and CkH2k+ (14k) ions weaker;
    M-15 almost absent; the molecular ion (14n+2) weak, by default
    ``6 % · exp(-(n-10)/12)`` of the base peak (C10 6 %, C20 2.6 %, C40 0.5 %, the range
    of reference spectra); 13C isotope peaks added. ``molecular_ion=0`` removes M+.
    """
    if n < 4:
        raise ValueError(f"alkane_spectrum models C4 and longer, got C{n}")
    shape = {2: 0.25, 3: 0.75, 4: 1.0, 5: 0.65, 6: 0.42}
    ions: dict[int, tuple[float, int]] = {}
    for k in range(2, n):
        value = shape.get(k, 0.42 * 0.62 ** (k - 6))
        value = max(value, 0.02)
        if k == n - 1:
            value = 0.002  # M - CH3 is nearly absent in n-alkanes
        elif k == n - 2:
            value *= 0.6
        ions[14 * k + 1] = (value, k)
        if k >= 3:
            ions[14 * k - 1] = (0.35 * value if k <= 6 else 0.15 * value, k)
            ions[14 * k] = (0.08 * value, k)
    m_plus = 0.06 * np.exp(-(n - 10) / 12) if molecular_ion is None else molecular_ion
    if m_plus > 0:
        ions[14 * n + 2] = (float(m_plus), n)
    peaks = _with_isotopes(ions)
    mz = np.array(sorted(peaks), dtype=np.float64)
    intensity = np.array([peaks[int(m)] for m in mz])
    return Spectrum(mz=mz, intensity=intensity * (999.0 / intensity.max()),
                    name=f"C{n} (n-alkane, simulated)", formula=f"C{n}H{2 * n + 2}",
                    mw=float(14 * n + 2), retention_index=100.0 * n)


def ladder_retention_times(
    carbons: Sequence[int],
    *,
    program: Literal["temperature", "isothermal"] = "temperature",
    first_s: float = 240.0,
    spacing_s: float = 50.0,
    dead_time_s: float = 60.0,
    growth: float = 1.6,
) -> np.ndarray:
    """Apex times (s) of the n-alkanes ``carbons`` under a simple retention model.

    ``"temperature"``: the spacing between consecutive alkanes grows from half of
    ``spacing_s`` towards ``spacing_s`` as the ramp takes over (the shape of real
    ladders). ``"isothermal"``: ``t = t_M + t'_first · growth^(n - n_first)``, so that
    ``log(t - t_M)`` is exactly linear in carbon number (Kovats).
    """
    n = np.asarray(carbons, dtype=np.float64)
    if n.size == 0 or np.any(np.diff(n) <= 0):
        raise ValueError("carbons must be a non-empty increasing sequence")
    if program == "isothermal":
        return dead_time_s + (first_s - dead_time_s) * growth ** (n - n[0])
    # integral of spacing(k) = spacing_s·(1 - 0.5·exp(-(k - n0)/4)) from n0 to n
    x = n - n[0]
    return first_s + spacing_s * (x - 2.0 * (1 - np.exp(-x / 4)))


def simulate_ladder(
    carbons: Sequence[int] = tuple(range(8, 41)),
    *,
    rt_seconds: Sequence[float] | None = None,
    program: Literal["temperature", "isothermal"] = "temperature",
    amount: float | Sequence[float] = 1.0e6,
    molecular_ion: float | Callable[[int], float] | None = None,
    extra: Iterable[tuple] = (),
    settings=None,
):
    """A simulated run of an n-alkane standard: one peak per carbon number in ``carbons``.

    Parameters
    ----------
    carbons
        The members (default C8-C40, every carbon number).
    rt_seconds
        Apex times; default :func:`ladder_retention_times` for ``program``.
    amount
        Total-ion peak area of each member (one value or one per member).
    molecular_ion
        M+ height relative to the base peak (a number, a function of the carbon number,
        or ``None`` for :func:`alkane_spectrum`'s default); 0 removes it.
    extra
        Other compounds in the same run, as :func:`gcms.simulate.simulate` takes them:
        ``(spectrum, rt_s, amount)`` tuples or ``SimulatedCompound``.
    settings
        :class:`gcms.simulate.SimulationSettings`; by default m/z 35-600 at 2 scans/s,
        spanning the ladder with a minute either side.

    Returns
    -------
    gcms.simulate.Simulation
        ``.run`` and ``.truth`` (apex times of every compound, members first).
    """
    from gcms.simulate import SimulationSettings, simulate

    carbons = [int(c) for c in carbons]
    times = (ladder_retention_times(carbons, program=program) if rt_seconds is None
             else np.asarray(rt_seconds, dtype=np.float64))
    amounts = np.broadcast_to(np.asarray(amount, dtype=np.float64), (len(carbons),))
    compounds: list = []
    for n, t, a in zip(carbons, times, amounts, strict=True):
        m_plus = molecular_ion(n) if callable(molecular_ion) else molecular_ion
        compounds.append((alkane_spectrum(n, molecular_ion=m_plus), float(t), float(a)))
    compounds.extend(extra)
    if settings is None:
        first, last = float(times.min()), float(times.max())
        for item in extra:
            rt = getattr(item, "rt_s", None)
            rt = item[1] if rt is None else rt
            first, last = min(first, rt), max(last, rt)
        start = max(0.0, first - 60.0)
        settings = SimulationSettings(start_s=start, duration_s=last + 60.0 - start,
                                      scan_rate_hz=2.0, mz_min=35, mz_max=600)
    name = f"simulated n-alkane ladder C{carbons[0]}-C{carbons[-1]}"
    return simulate(compounds, settings=settings, name=name)
