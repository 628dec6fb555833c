"""Simulated GC-MS runs with known amounts, for the quantitation tests.

Each compound is an exponentially modified Gaussian (EMG) elution profile of unit area
times its amount, spread over its ions by a fixed spectrum; Gaussian noise is added on
every ion, then the acquisition threshold and the detector ceiling are applied, as an
instrument does. Built directly as a :class:`gcms.Run` (CSR arrays).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from gcms import Run, RunMetadata
from gcms.quantitation import parse_method

IS_SPECTRUM = {140: 1.0, 141: 0.11, 84: 0.07}
ANALYTE_SPECTRUM = {342: 1.0, 344: 0.39, 313: 0.35, 266: 0.29}
IS_RT, ANALYTE_RT = 390.0, 615.0
#: Area units (intensity x s) of the analyte per ug/mL, and of the internal standard.
RESPONSE_PER_UG_ML = 2000.0
IS_AREA = 150_000.0


@dataclass
class Compound:
    rt_s: float
    amount: float
    spectrum: dict[int, float]
    sigma_s: float = 1.2
    tau_s: float = 0.8


@dataclass
class Simulated:
    compounds: list[Compound] = field(default_factory=list)
    noise: float = 15.0
    threshold: float = 0.0
    ceiling: float | None = None
    seed: int = 0
    times: np.ndarray = field(default_factory=lambda: np.arange(340.0, 680.0, 0.25))
    mz_range: tuple[int, int] = (80, 350)


def make_run(sim: Simulated, name: str = "sim") -> Run:
    """A Run holding ``sim.compounds`` with noise, threshold and ceiling applied."""
    rng = np.random.default_rng(sim.seed)
    t = sim.times
    low, high = sim.mz_range
    matrix = np.zeros((t.size, high - low + 1))
    for c in sim.compounds:
        profile = c.amount * stats.exponnorm.pdf(t, c.tau_s / c.sigma_s, loc=c.rt_s,
                                                 scale=c.sigma_s)
        for mz, rel in c.spectrum.items():
            matrix[:, mz - low] += profile * rel
    matrix += rng.normal(0.0, sim.noise, matrix.shape)
    if sim.ceiling is not None:
        matrix = np.minimum(matrix, sim.ceiling)
    matrix[matrix < max(sim.threshold, 1e-9)] = 0.0
    keep = matrix > 0
    offsets = np.concatenate([[0], np.cumsum(keep.sum(axis=1))])
    mz = np.broadcast_to(np.arange(low, high + 1, dtype=np.float64), matrix.shape)[keep]
    return Run(scan_times=t, scan_offsets=offsets, mz=mz, intensity=matrix[keep],
               metadata=RunMetadata(sample_name=name, sha256="0" * 64, format="simulated"))


def standard_run(concentration: float, *, seed: int, is_amount: float | None = IS_AREA,
                 response_scatter: float = 0.0, **kwargs) -> Run:
    """A run with the analyte at ``concentration`` and (unless None) the internal standard.

    ``response_scatter`` is a relative injection-to-injection scatter (normal) applied to
    the analyte amount only, as an IS-corrected method sees it.
    """
    rng = np.random.default_rng(seed + 10_000)
    compounds = []
    if is_amount is not None:
        compounds.append(Compound(IS_RT, is_amount, IS_SPECTRUM, sigma_s=0.8, tau_s=0.5))
    if concentration > 0:
        factor = 1.0 + response_scatter * rng.standard_normal()
        compounds.append(Compound(ANALYTE_RT, concentration * RESPONSE_PER_UG_ML * factor,
                                  ANALYTE_SPECTRUM))
    return make_run(Simulated(compounds=compounds, seed=seed, **kwargs),
                    name=f"c={concentration}")


def method_document(**acceptance) -> dict:
    """A method for the simulated compounds (as a parsed TOML document)."""
    return {
        "schema": "gcms-quant-method/1",
        "method": {"name": "simulated analyte", "unit": "ug/mL"},
        "acceptance": {"min_calibrators": 5, **acceptance},
        "internal_standard": [{"id": "IS", "name": "sim IS", "quantifier_mz": 140,
                               "qualifier_mz": [141], "rt_s": IS_RT, "rt_window_s": 10.0}],
        "analyte": [{"name": "Simalyte", "quantifier_mz": 342,
                     "qualifier_mz": [344, 313, 266], "rt_s": ANALYTE_RT,
                     "rt_window_s": 10.0, "internal_standard": "IS", "model": "linear",
                     "weighting": "1/x"}],
    }


def method(**acceptance):
    return parse_method(method_document(**acceptance), source="sim.toml")


def toml_text(document: dict) -> str:
    """A small TOML writer for the flat method documents of these tests."""
    def value(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return repr(v)

    lines = [f"schema = {value(document['schema'])}"]
    for table in ("method", "acceptance"):
        lines.append(f"[{table}]")
        lines += [f"{k} = {value(v)}" for k, v in document[table].items()]
    for array in ("internal_standard", "analyte"):
        for item in document[array]:
            lines.append(f"[[{array}]]")
            lines += [f"{k} = {value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"
