"""SIMULATED seizures: production batches with known origins, and runs of simulated exhibits.

Nothing here is casework data. It serves the tests, and labs that have no known-linked and
known-unlinked pairs of their own yet; every set it makes says ``"simulated": true``, and a
threshold calibrated on it says so too (:mod:`gcms.profiling.calibrate`). A lab replaces it
with its own pairs (exhibits of one seizure, of one proven batch) as soon as it has them.

**The batch model** (:class:`BatchModel`, :func:`simulate_seizures`). For each production
batch ``b`` and profile target ``j``: the impurity is made at all with probability
``presence_probability``; its level relative to the drug is
``r_bj = exp(μ_j + between_batch_sd · z)`` (``μ_j``: a target's typical level, drawn once
per market from ``market_seed`` around ``log(typical_level)``: sets of one market
share them, as seizures of one country's market share the usual routes). Each exhibit
``i`` of the batch then gets

``a_ij = r_bj · exp(within_batch_rsd · z) · exp(injection_rsd · z) · d_i · g_ij``

where ``z`` are independent standard normal draws (log-normal spread: within-batch
heterogeneity and the injection's repeatability), ``d_i`` the fraction of the drug left after
**adulteration** (cutting, with probability ``adulteration_probability``, uniform in
``dilution_range``; a diluted exhibit carries less of every impurity, so the small ones fall
below ``detection_limit`` and go absent), and ``g_ij`` **degradation** of the ``labile``
targets (with probability ``degradation_probability``, a loss uniform up to
``degradation_max``). A level under ``detection_limit`` is absent (NaN).

**Runs** (:func:`exhibit_run`): a GC-MS run of one exhibit under a profiling method, made by
:func:`gcms.simulate.simulate` (its noise, background and detector model), each target a
compound whose spectrum holds its quantifier and qualifier ions, so the expected quantifier
area of each target is known (:func:`expected_quantifier_area`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gcms.profiling.measure import normalise, scores
from gcms.profiling.method import ProfilingMethod, Target
from gcms.simulate import Simulation, SimulationSettings, simulate
from gcms.spectrum import Spectrum

__all__ = ["BatchModel", "SimulatedSeizures", "exhibit_run", "expected_quantifier_area",
           "pair_scores", "simulate_seizures"]

#: Intensities of the qualifier ions of a simulated target spectrum (quantifier ions: 1000).
QUALIFIER_INTENSITIES = (600.0, 400.0, 250.0, 150.0, 100.0, 80.0, 60.0)
#: What every simulated set says of itself.
SIMULATED_NOTE = ("SIMULATED profiles from gcms.profiling.simulate (a production-batch model), "
                  "not casework data")


@dataclass(frozen=True, slots=True)
class BatchModel:
    """Parameters of the production-batch model (module notes; all log-normal σ ≈ RSD)."""

    n_batches: int = 40
    per_batch: int = 4
    typical_level: float = 0.01
    level_spread: float = 1.0
    between_batch_sd: float = 0.8
    within_batch_rsd: float = 0.10
    injection_rsd: float = 0.05
    presence_probability: float = 0.85
    detection_limit: float = 5e-4
    adulteration_probability: float = 0.4
    dilution_range: tuple[float, float] = (0.3, 1.0)
    degradation_probability: float = 0.2
    degradation_max: float = 0.5
    labile: tuple[str, ...] = ()
    market_seed: int | None = 0
    seed: int | None = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        out = dataclasses.asdict(self)
        out["dilution_range"] = list(self.dilution_range)
        out["labile"] = list(self.labile)
        return out


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedSeizures:
    """A simulated set: per exhibit its batch, raw target areas (NaN: absent) and history."""

    targets: tuple[str, ...]
    batch: np.ndarray
    areas: np.ndarray
    dilution: np.ndarray
    degraded: np.ndarray
    model: BatchModel = field(default_factory=BatchModel)
    simulated: bool = True

    def values(self, method: ProfilingMethod) -> np.ndarray:
        """The compared vectors under ``method``'s ``[profile]`` (one row per exhibit)."""
        return normalise(self.areas, method.profile)

    def to_dict(self, method: ProfilingMethod | None = None) -> dict[str, Any]:
        """JSON form (``simulated: true``), with the compared values under ``method``."""
        values = self.values(method) if method is not None else None
        rows = []
        for i in range(self.batch.size):
            row = {"id": f"SIM-{i + 1:05d}", "batch": f"B{int(self.batch[i]) + 1:03d}",
                   "areas": [None if not np.isfinite(a) else float(a) for a in self.areas[i]],
                   "dilution": float(self.dilution[i]), "degraded": bool(self.degraded[i])}
            if values is not None:
                row["values"] = [float(v) for v in values[i]]
            rows.append(row)
        return {"schema": "gcms-simulated-seizures/1", "simulated": True,
                "note": SIMULATED_NOTE, "model": self.model.to_dict(),
                "method": method.identity() if method is not None else None,
                "targets": list(self.targets), "exhibits": rows}


def simulate_seizures(method: ProfilingMethod, model: BatchModel | None = None
                      ) -> SimulatedSeizures:
    """Exhibits from ``model.n_batches`` batches of ``model.per_batch`` each (module notes)."""
    model = model or BatchModel()
    rng = np.random.default_rng(model.seed)
    names = tuple(t.name for t in method.profile_targets)
    k, nb, per = len(names), model.n_batches, model.per_batch
    market = np.random.default_rng(model.market_seed)
    mu = np.log(model.typical_level) + model.level_spread * market.standard_normal(k)
    made = rng.random((nb, k)) < model.presence_probability
    level = np.exp(mu + model.between_batch_sd * rng.standard_normal((nb, k)))
    level = np.where(made, level, 0.0)
    batch = np.repeat(np.arange(nb), per)
    n = batch.size
    spread = np.exp(model.within_batch_rsd * rng.standard_normal((n, k))
                    + model.injection_rsd * rng.standard_normal((n, k)))
    cut = rng.random(n) < model.adulteration_probability
    dilution = np.where(cut, rng.uniform(*model.dilution_range, size=n), 1.0)
    degraded = rng.random(n) < model.degradation_probability
    loss = np.ones((n, k))
    labile = np.array([name in model.labile for name in names])
    if labile.any():
        fraction = rng.uniform(0.0, model.degradation_max, size=n)
        loss[:, labile] = np.where(degraded, 1.0 - fraction, 1.0)[:, None]
    areas = level[batch] * spread * dilution[:, None] * loss
    areas = np.where(areas >= model.detection_limit, areas, np.nan)
    return SimulatedSeizures(names, batch, areas, dilution, degraded & labile.any(), model)


def pair_scores(values: np.ndarray, groups: np.ndarray, metric: str
                ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of every pair of rows: ``(linked, unlinked)`` (same group or not).

    Rows that cannot be compared (NaN: nothing found) are left out.
    """
    values = np.asarray(values, dtype=np.float64)
    groups = np.asarray(groups)
    keep = np.all(np.isfinite(values), axis=1)
    values, groups = values[keep], groups[keep]
    linked, unlinked = [], []
    for i in range(values.shape[0] - 1):  # one vectorised row at a time: n²/2 pairs
        s = scores(values[i], values[i + 1:], metric)
        same = groups[i + 1:] == groups[i]
        linked.append(s[same])
        unlinked.append(s[~same])
    return (np.concatenate(linked) if linked else np.empty(0),
            np.concatenate(unlinked) if unlinked else np.empty(0))


# ----------------------------------------------------------------------------- runs
def _spectrum(target: Target, mz_min: int) -> Spectrum:
    mz = [*target.quantifier_mz, *target.qualifier_mz]
    intensity = [1000.0] * len(target.quantifier_mz) + list(
        QUALIFIER_INTENSITIES[:len(target.qualifier_mz)])
    pairs = sorted({m: i for m, i in zip(mz, intensity, strict=True) if m >= mz_min}.items())
    return Spectrum(np.array([m for m, _ in pairs], dtype=np.float64),
                    np.array([i for _, i in pairs], dtype=np.float64), name=target.name)


def expected_quantifier_area(method: ProfilingMethod, name: str, amount: float, *,
                             mz_min: int = 35) -> float:
    """The area a target's quantifier trace should integrate to, for a total-ion ``amount``.

    ``amount`` is spread over the spectrum's ions in proportion to their intensities.
    """
    spectrum = _spectrum(method.target(name), mz_min)
    quant = np.isin(spectrum.mz, method.target(name).quantifier_mz)
    return float(amount * spectrum.intensity[quant].sum() / spectrum.intensity.sum())


def exhibit_run(method: ProfilingMethod, amounts: Mapping[str, float], *,
                settings: SimulationSettings | None = None, rt_shift_s: float = 0.0,
                ri_calibration: Any = None, name: str = "simulated exhibit") -> Simulation:
    """A SIMULATED run of one exhibit: each named target at its retention with its amount.

    Targets placed by RI elute where ``ri_calibration`` (a
    :class:`gcms.retention.RetentionCalibration`) puts their index.
    """
    times: dict[str, float] = {}
    for n in amounts:
        target = method.target(n)
        if target.rt_s is not None:
            times[n] = float(target.rt_s) + rt_shift_s
        elif ri_calibration is None:
            raise ValueError(f"target {n!r} is placed by RI: give ri_calibration")
        else:
            times[n] = float(ri_calibration.predict_rt([target.ri]).rt_seconds[0]) + rt_shift_s
    if settings is None:
        low, high = min(times.values()), max(times.values())
        settings = SimulationSettings(start_s=max(low - 40.0, 0.0),
                                      duration_s=high - low + 80.0, bleed=0.0, seed=0)
    compounds = [(_spectrum(method.target(n), settings.mz_min), times[n], float(a))
                 for n, a in amounts.items() if a > 0]
    return simulate(compounds, settings=settings, name=name)
