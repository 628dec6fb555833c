"""Measuring an exhibit's impurity profile from one run, and comparing two profiles.

:func:`measure_profile` integrates every target of a profiling method in a run with the
quantitation integration (:func:`gcms.quantitation.integration.integrate_peak` on the
quantifier trace, :func:`~gcms.quantitation.integration.integrate_between` for the qualifier
ions over the quantifier's limits: the same rule, the same audit fields), then normalises
the areas of the profile targets (:func:`normalise`):

* ``sum``: ``x_i = a_i / Σ a_j`` over the profile targets found;
  ``main``: ``x_i = a_i / a_main`` (the ratio to the drug itself);
* then ``x ** 0.25`` (``fourth-root``) or ``log10(x + log_offset)`` (``log10``).

A peak whose qualifier ion is far larger than its quantifier (``max_qualifier_ratio`` of
the target) is another compound's minor ion and is rejected, with the reason kept. A target
not found (no peak above the S/N limit in its window, or rejected) is **absent**: its area is
recorded as absent (NaN, ``None`` in JSON, named in :attr:`Profile.absent`), never as a
measured zero; in the vector that is compared it counts as ``x = 0`` (the impurity is not
there), transformed like any other value. Andersson et al., Forensic Sci. Int. 169 (2007)
86-99, for the pretreatment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array
from gcms.errors import GcmsError
from gcms.profiling.method import ProfileSettings, ProfilingMethod, Target
from gcms.quantitation.integration import Integration, integrate_between, integrate_peak
from gcms.quantitation.process import THRESHOLD_TO_NOISE
from gcms.run import Run

__all__ = ["Profile", "TargetMeasurement", "compare", "measure_profile", "normalise",
           "reproducibility", "score_pair", "scores"]


@dataclass(frozen=True, slots=True)
class TargetMeasurement:
    """One target integrated in one run: its quantifier integration and qualifier areas."""

    name: str
    integration: Integration
    qualifier_mz: tuple[float, ...] = ()
    qualifiers: tuple[Integration, ...] = ()
    rejected: str | None = None

    @property
    def found(self) -> bool:
        """Whether the target's peak was detected, with a positive area, and not rejected."""
        return bool(self.integration.detected and self.integration.area > 0
                    and self.rejected is None)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the integration as a reviewer redraws it)."""
        area = self.integration.area
        return {"name": self.name, "found": self.found, "rejected": self.rejected,
                "integration": self.integration.to_dict(),
                "qualifiers": [{"mz": mz, "area": q.area,
                                "ratio": q.area / area if area > 0 else None}
                               for mz, q in zip(self.qualifier_mz, self.qualifiers,
                                                strict=True)]}


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """An exhibit's impurity profile under one method.

    ``targets`` are the method's profile targets, in order; ``areas`` their raw areas
    (NaN: absent), ``values`` the normalised, transformed vector that is compared (absent
    targets as ``x = 0``); ``measurements`` every target of the method (adulterants, the
    drug, the internal standard too); ``run_sha256`` the run the areas come from.
    """

    method: str
    method_sha256: str | None
    settings: ProfileSettings
    targets: tuple[str, ...]
    areas: np.ndarray
    values: np.ndarray
    measurements: Mapping[str, TargetMeasurement] = field(default_factory=dict)
    run_sha256: str | None = None
    sample_name: str | None = None

    def __post_init__(self) -> None:
        areas = frozen_array(self.areas, np.float64, name="areas")
        values = frozen_array(self.values, np.float64, name="values")
        if not areas.shape == values.shape == (len(self.targets),):
            raise ValueError(f"{len(self.targets)} targets, {areas.size} areas, "
                             f"{values.size} values")
        object.__setattr__(self, "areas", areas)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "measurements", MappingProxyType(dict(self.measurements)))

    def __reduce__(self):
        return (_rebuild, (self.method, self.method_sha256, self.settings, self.targets,
                           self.areas, self.values, dict(self.measurements), self.run_sha256,
                           self.sample_name))

    @property
    def present(self) -> np.ndarray:
        """Per profile target, whether it was found."""
        return np.isfinite(self.areas)

    @property
    def absent(self) -> tuple[str, ...]:
        """The profile targets not found."""
        return tuple(n for n, p in zip(self.targets, self.present, strict=True) if not p)

    @property
    def usable(self) -> bool:
        """Whether the profile can be compared (at least one target found)."""
        return bool(np.all(np.isfinite(self.values)))

    def to_dict(self) -> dict[str, Any]:
        """JSON form (absent areas as ``null``)."""
        return {
            "schema": "gcms-profile/1", "method": self.method,
            "method_sha256": self.method_sha256, "settings": self.settings.to_dict(),
            "run_sha256": self.run_sha256, "sample_name": self.sample_name,
            "targets": list(self.targets),
            "areas": [float(a) if np.isfinite(a) else None for a in self.areas],
            "values": [float(v) if np.isfinite(v) else None for v in self.values],
            "absent": list(self.absent),
            "measurements": {k: m.to_dict() for k, m in self.measurements.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<profile>") -> Profile:
        """Rebuild a profile from :meth:`to_dict` (measurements are not kept).

        Raises
        ------
        GcmsError
            ``"{source}: not a gcms profile ..."`` when a key is missing or malformed.
        """
        try:
            if data.get("schema") != "gcms-profile/1":
                raise KeyError("schema")
            settings = ProfileSettings(**data["settings"])
            areas = [np.nan if a is None else float(a) for a in data["areas"]]
            values = [np.nan if v is None else float(v) for v in data["values"]]
            return cls(method=str(data["method"]), method_sha256=data.get("method_sha256"),
                       settings=settings, targets=tuple(data["targets"]), areas=areas,
                       values=values, run_sha256=data.get("run_sha256"),
                       sample_name=data.get("sample_name"))
        except (KeyError, TypeError, ValueError) as error:
            raise GcmsError(f"{source}: not a gcms profile (schema gcms-profile/1): "
                            f"{error}") from None


def _rebuild(*args: Any) -> Profile:
    return Profile(*args)


# ---------------------------------------------------------------------- normalising
def normalise(areas: ArrayLike, settings: ProfileSettings, *,
              main_area: float | None = None) -> np.ndarray:
    """The compared vector of raw areas (NaN: absent), per the method's ``[profile]``.

    Works on one profile (1-D) or many (2-D, one per row). All NaN (nothing found, or
    no main area under ``main``) gives a row of NaN: such a profile cannot be compared.
    """
    a = np.asarray(areas, dtype=np.float64)
    x = np.where(np.isfinite(a), a, 0.0)
    if settings.normalisation == "sum":
        total = x.sum(axis=-1, keepdims=True)
    else:
        total = np.asarray(np.nan if main_area is None or not main_area > 0 else main_area)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(total > 0, x / np.where(total > 0, total, 1.0), np.nan)
    if settings.transform == "fourth-root":
        return x ** 0.25
    if settings.transform == "log10":
        return np.log10(x + settings.log_offset)
    return x


# ------------------------------------------------------------------------- measuring
def _trace(run: Run, target: Target) -> np.ndarray:
    trace = np.zeros(run.scan_times.size, dtype=np.float64)
    for mz in target.quantifier_mz:
        trace += run.xic(mz, target.mz_tolerance)
    return trace


def _window(target: Target, ri_calibration: Any) -> tuple[float, float]:
    """Centre and half-width (s) of a target's window on this run's time axis."""
    if target.rt_s is not None:
        return target.rt_s, target.window_s
    if ri_calibration is None:
        raise GcmsError(f"target {target.name!r} is placed by retention index: give the "
                        "run's RI calibration (ri_calibration=..., an alkane ladder)")
    lo, mid, hi = ri_calibration.predict_rt(
        [target.ri - target.ri_window, target.ri, target.ri + target.ri_window]).rt_seconds
    return float(mid), float(max(mid - lo, hi - mid))


def measure_targets(run: Run, method: ProfilingMethod, *,
                    ri_calibration: Any = None) -> dict[str, TargetMeasurement]:
    """Integrate every target of ``method`` in ``run`` (keys: the target names)."""
    positive = run.intensity[run.intensity > 0]
    noise_floor = float(positive.min()) * THRESHOLD_TO_NOISE if positive.size else 0.0
    out: dict[str, TargetMeasurement] = {}
    for target in method.targets:
        rt_s, window_s = _window(target, ri_calibration)
        main = integrate_peak(run.scan_times, _trace(run, target), rt_s=rt_s,
                              window_s=window_s, settings=method.integration,
                              noise_floor=noise_floor,
                              saturation_counts=method.saturation_counts,
                              signal=target.signal_label)
        qualifiers: tuple[Integration, ...] = ()
        if main.start_scan is not None and main.end_scan is not None:
            qualifiers = tuple(
                integrate_between(run.scan_times, run.xic(mz, target.mz_tolerance),
                                  start_scan=main.start_scan, end_scan=main.end_scan,
                                  settings=method.integration, signal=f"m/z {mz:g}")
                for mz in target.qualifier_mz)
        rejected = None
        if qualifiers and target.max_qualifier_ratio is not None and main.area > 0:
            worst = max(zip(target.qualifier_mz, qualifiers, strict=True),
                        key=lambda pair: pair[1].area)
            ratio = worst[1].area / main.area
            if ratio > target.max_qualifier_ratio:
                rejected = (f"m/z {worst[0]:g} / {target.signal_label} area ratio {ratio:.3g} "
                            f"> {target.max_qualifier_ratio:g}: another compound's ion")
        out[target.name] = TargetMeasurement(
            target.name, main, target.qualifier_mz if qualifiers else (), qualifiers, rejected)
    return out


def measure_profile(run: Run, method: ProfilingMethod, *,
                    ri_calibration: Any = None) -> Profile:
    """The impurity profile of one run under ``method`` (module notes: the rule).

    Parameters
    ----------
    run : Run
        The exhibit's injection.
    method : ProfilingMethod
        Targets, windows, ions, normalisation.
    ri_calibration : gcms.retention.RetentionCalibration, optional
        Needed when targets are placed by retention index.

    Raises
    ------
    GcmsError
        A target placed by RI without a calibration.
    """
    measured = measure_targets(run, method, ri_calibration=ri_calibration)
    names = tuple(t.name for t in method.profile_targets)
    areas = np.array([measured[n].integration.area if measured[n].found else np.nan
                      for n in names])
    main = method.main
    main_area = (measured[main.name].integration.area
                 if main is not None and measured[main.name].found else None)
    values = normalise(areas, method.profile, main_area=main_area)
    return Profile(method=method.name, method_sha256=method.sha256, settings=method.profile,
                   targets=names, areas=areas, values=values, measurements=measured,
                   run_sha256=run.metadata.sha256, sample_name=run.metadata.sample_name)


# ------------------------------------------------------------------------- comparing
def score_pair(x: ArrayLike, y: ArrayLike, metric: str) -> float:
    """The reference score of two compared vectors (plain formulas, one pair).

    * ``pearson``: ``Σ(x-x̄)(y-ȳ) / √(Σ(x-x̄)² Σ(y-ȳ)²)`` (similarity, -1..1);
    * ``cosine``: ``Σxy / √(Σx² Σy²)`` (similarity);
    * ``canberra``: ``Σ |x-y| / (|x|+|y|)`` over the terms where ``|x|+|y| > 0``
      (distance, 0..n);
    * ``euclidean``: ``√Σ(x-y)²`` (distance).
    """
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(y, dtype=np.float64)
    if metric == "pearson":
        da, db = a - a.mean(), b - b.mean()
        denominator = float(np.sqrt(np.sum(da * da) * np.sum(db * db)))
        return float(np.sum(da * db) / denominator) if denominator > 0 else 0.0
    if metric == "cosine":
        denominator = float(np.sqrt(np.sum(a * a) * np.sum(b * b)))
        return float(np.sum(a * b) / denominator) if denominator > 0 else 0.0
    if metric == "canberra":
        total = np.abs(a) + np.abs(b)
        keep = total > 0
        return float(np.sum(np.abs(a - b)[keep] / total[keep]))
    if metric == "euclidean":
        return float(np.sqrt(np.sum((a - b) ** 2)))
    raise ValueError(f"unknown metric {metric!r}")


def scores(query: ArrayLike, matrix: ArrayLike, metric: str) -> np.ndarray:
    """The score of ``query`` against every row of ``matrix`` (vectorised :func:`score_pair`)."""
    q = np.asarray(query, dtype=np.float64)
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != q.size:
        raise ValueError(f"matrix of shape {m.shape} for a query of {q.size} values")
    if metric in ("pearson", "cosine"):
        if metric == "pearson":
            q = q - q.mean()
            m = m - m.mean(axis=1, keepdims=True)
        dot = m @ q
        norms = np.sqrt(np.einsum("ij,ij->i", m, m) * float(q @ q))
        out = np.zeros(m.shape[0])
        np.divide(dot, norms, out=out, where=norms > 0)
        return out
    if metric == "canberra":
        total = np.abs(m) + np.abs(q)
        terms = np.zeros_like(m)
        np.divide(np.abs(m - q), total, out=terms, where=total > 0)
        return terms.sum(axis=1)
    if metric == "euclidean":
        return np.sqrt(np.einsum("ij,ij->i", m - q, m - q))
    raise ValueError(f"unknown metric {metric!r}")


def compare(a: Profile, b: Profile, method: ProfilingMethod) -> float:
    """The score of two profiles under ``method``'s metric (see :func:`score_pair`).

    Raises
    ------
    GcmsError
        The profiles were measured with another method (name or targets), or one has no
        target found.
    """
    for p in (a, b):
        if p.targets != tuple(t.name for t in method.profile_targets):
            raise GcmsError(f"profile of {p.sample_name or p.run_sha256 or '?'}: measured "
                            f"with method {p.method!r}, whose targets differ from "
                            f"{method.name!r}'s")
        if not p.usable:
            raise GcmsError(f"profile of {p.sample_name or p.run_sha256 or '?'}: no target "
                            "found, nothing to compare")
    return score_pair(a.values, b.values, method.profile.metric)


def reproducibility(profiles: list[Profile]) -> dict[str, dict[str, float | int | None]]:
    """Per profile target, over re-injections of one exhibit: RSD (%) of area and value.

    ``found`` counts the injections that found the target; the RSDs (sample standard
    deviation over the mean, x 100) are over those, None with fewer than two. A
    logarithm's values have an arbitrary origin (and are negative for fractions), so their
    RSD means nothing: with ``log10`` the value RSD is None and ``value_sd`` (the sample
    standard deviation of the compared value, any transform) says the spread.
    """
    if not profiles:
        return {}
    out: dict[str, dict[str, float | int | None]] = {}
    areas = np.array([p.areas for p in profiles])
    values = np.array([p.values for p in profiles])
    for j, name in enumerate(profiles[0].targets):
        found = np.isfinite(areas[:, j])

        def rsd(x: np.ndarray) -> float | None:
            return float(100 * np.std(x, ddof=1) / np.mean(x)) if x.size > 1 else None

        v = values[found, j]
        log = profiles[0].settings.transform == "log10"
        out[name] = {"found": int(found.sum()), "area_rsd_percent": rsd(areas[found, j]),
                     "value_rsd_percent": None if log else rsd(v),
                     "value_sd": float(np.std(v, ddof=1)) if v.size > 1 else None}
    return out


def replace_values(profile: Profile, values: ArrayLike) -> Profile:
    """A copy of ``profile`` with other compared values (tests, re-normalisation)."""
    return dataclasses.replace(profile, values=np.asarray(values, dtype=np.float64))
