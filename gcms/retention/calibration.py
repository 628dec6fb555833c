"""Retention-index calibration: Van den Dool & Kratz and Kovats indices from a marker ladder.

Formulas
--------
Temperature-programmed runs, Van den Dool & Kratz (J. Chromatogr. 11 (1963) 463)::

    RI = RI_n + (RI_{n+1} - RI_n) · (t_x - t_n) / (t_{n+1} - t_n)

with ``t_n <= t_x <= t_{n+1}`` the retention times of the bracketing markers. For
n-alkanes ``RI_n = 100·n`` and this is the familiar ``100·[n + (t_x - t_n)/(t_{n+1} - t_n)]``;
written with the markers' own indices it also serves ladders with gaps (C10, C12, ...)
and other series (FAMEs).

Isothermal runs, Kovats (Helv. Chim. Acta 41 (1958) 1915), on adjusted retention times
``t' = t - t_M`` (``t_M`` the dead time)::

    RI = RI_n + (RI_{n+1} - RI_n) · (log t'_x - log t'_n) / (log t'_{n+1} - log t'_n)

Outside the ladder the end segment is continued linearly (in ``t`` or ``log t'``), as
MS-DIAL does, but every such value is flagged in :attr:`RetentionIndices.extrapolated`:
an extrapolated RI is never returned without its flag.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array

if TYPE_CHECKING:  # pragma: no cover
    from gcms.run import Run, RunMetadata

__all__ = [
    "RIMethod",
    "RetentionCalibration",
    "RetentionIndices",
    "estimate_dead_time",
    "kovats",
    "van_den_dool_kratz",
]

#: How retention times map to indices: linear interpolation in ``t`` for temperature
#: programs, in ``log(t - t_M)`` for isothermal runs.
RIMethod = Literal["van-den-dool-kratz", "kovats"]
RI_METHODS: tuple[str, ...] = ("van-den-dool-kratz", "kovats")

#: Largest departure (index units) of a member from the Kovats line that
#: :func:`estimate_dead_time` accepts; isothermal homologous series follow it to about 1.
MAX_ISOTHERMAL_RESIDUAL_RI = 5.0


def _piecewise_linear(
    x: np.ndarray, xp: np.ndarray, fp: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate ``fp(xp)`` at ``x``, continuing the end segments; flag ``x`` outside ``xp``.

    ``xp`` must be strictly increasing with at least two points. NaN in ``x`` gives NaN
    (flagged as outside).
    """
    segment = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, xp.size - 2)
    x0, x1 = xp[segment], xp[segment + 1]
    f0, f1 = fp[segment], fp[segment + 1]
    with np.errstate(invalid="ignore"):
        values = f0 + (f1 - f0) * (x - x0) / (x1 - x0)
        outside = ~((x >= xp[0]) & (x <= xp[-1]))
    return values, outside


def van_den_dool_kratz(
    rt: ArrayLike, ladder_rt: ArrayLike, ladder_ri: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """Van den Dool & Kratz (linear) retention indices of ``rt``.

    Parameters
    ----------
    rt
        Retention times to convert (any unit, the same as ``ladder_rt``).
    ladder_rt, ladder_ri
        The markers' retention times (strictly increasing) and indices.

    Returns
    -------
    ri, extrapolated
        float64 indices, and a bool mask of values outside the ladder (computed by
        continuing the first or last segment).

    Examples
    --------
    C10 to C13 at 4, 6, 8 and 10 minutes; 15 minutes lies past the last alkane:

    >>> from gcms.retention import van_den_dool_kratz
    >>> ri, extrapolated = van_den_dool_kratz(
    ...     [300.0, 450.0, 900.0], [240.0, 360.0, 480.0, 600.0], [1000, 1100, 1200, 1300])
    >>> ri.tolist(), extrapolated.tolist()
    ([1050.0, 1175.0, 1550.0], [False, False, True])
    """
    x = np.atleast_1d(np.asarray(rt, dtype=np.float64))
    return _piecewise_linear(x, np.asarray(ladder_rt, float), np.asarray(ladder_ri, float))


def kovats(
    rt: ArrayLike, ladder_rt: ArrayLike, ladder_ri: ArrayLike, dead_time: float
) -> tuple[np.ndarray, np.ndarray]:
    """Kovats (isothermal) retention indices of ``rt``: interpolation in ``log(t - t_M)``.

    Times at or before the dead time have no adjusted retention time: their index is
    NaN and they are flagged as outside the ladder.

    Parameters
    ----------
    rt : array_like
        Retention times to convert (any unit, the same as ``ladder_rt``).
    ladder_rt, ladder_ri : array_like
        The markers' retention times (strictly increasing, after the dead time) and
        indices.
    dead_time : float
        The column's dead time ``t_M`` in the unit of ``rt`` (see
        :func:`estimate_dead_time`).

    Returns
    -------
    ri, extrapolated
        float64 indices, and a bool mask of values outside the ladder or at or before
        the dead time.

    Examples
    --------
    An isothermal ladder C10-C13 with a dead time of 60 s:

    >>> import numpy as np
    >>> from gcms.retention import kovats
    >>> ladder_rt = [90.0, 120.4, 181.7, 305.0]
    >>> ri, extrapolated = kovats([100.0, 150.0, 50.0], ladder_rt, [1000, 1100, 1200, 1300],
    ...                           dead_time=60.0)
    >>> ri.round(0).tolist(), extrapolated.tolist()
    ([1041.0, 1157.0, nan], [False, False, True])
    """
    x = np.atleast_1d(np.asarray(rt, dtype=np.float64))
    ladder = np.asarray(ladder_rt, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_x = np.where(x > dead_time, np.log(np.maximum(x - dead_time, 1e-300)), np.nan)
    ri, outside = _piecewise_linear(log_x, np.log(ladder - dead_time), np.asarray(ladder_ri, float))
    return ri, outside | np.isnan(log_x)


def estimate_dead_time(rt: ArrayLike, carbons: ArrayLike) -> float:
    """Dead time ``t_M`` that makes ``log(t - t_M)`` linear in carbon number (isothermal).

    Least-squares fit over ``t_M`` in ``[0, min(rt))`` of the straight line
    ``log(t_n - t_M) = a + b·n`` (the Kovats relation for a homologous series). With
    three equally spaced members it reproduces the closed form of Peterson & Hirsch
    (J. Lipid Res. 1 (1959) 132), ``t_M = (t1·t3 - t2²)/(t1 + t3 - 2·t2)``.

    Parameters
    ----------
    rt : array_like
        Retention times of the series' members, increasing.
    carbons : array_like
        Their carbon numbers, increasing.

    Returns
    -------
    float
        The dead time, in the unit of ``rt``.

    Raises
    ------
    ValueError
        Fewer than three members, or no dead time that puts every member within
        :data:`MAX_ISOTHERMAL_RESIDUAL_RI` of the line (a temperature program, not an
        isothermal run).

    Examples
    --------
    >>> from gcms.retention import estimate_dead_time
    >>> round(estimate_dead_time([90.0, 120.4, 181.7, 305.0], [10, 11, 12, 13]), 0)
    60.0
    """
    from scipy.optimize import minimize_scalar

    t = np.asarray(rt, dtype=np.float64)
    n = np.asarray(carbons, dtype=np.float64)
    if t.size < 3 or t.size != n.size:
        raise ValueError("estimating a dead time needs at least three members with carbon numbers")
    if np.any(np.diff(t) <= 0) or np.any(np.diff(n) <= 0):
        raise ValueError("ladder times and carbon numbers must both increase")
    design = np.vstack([np.ones_like(n), n]).T

    def residual(t_m: float) -> float:
        y = np.log(t - t_m)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        return float(np.sum((design @ coef - y) ** 2))

    upper = float(t.min()) * (1 - 1e-9)
    best = minimize_scalar(residual, bounds=(0.0, upper), method="bounded",
                           options={"xatol": 1e-9 * upper})
    t_m = float(best.x)
    # how far the members sit from the fitted line, in index units (100 per carbon)
    y = np.log(t - t_m)
    slope, intercept = np.polyfit(n, y, 1)
    worst = float(np.max(np.abs((y - intercept) / slope - n))) * 100.0
    if t_m >= upper * (1 - 1e-6) or worst > MAX_ISOTHERMAL_RESIDUAL_RI:
        raise ValueError(
            "retention times do not follow log(t - tM) linear in carbon number "
            f"(best dead time {t_m:.3g} leaves a member {worst:.1f} index units off the "
            "line): no dead time fits, is this a temperature-programmed run?"
        )
    return t_m


@dataclass(frozen=True, slots=True, eq=False)
class RetentionIndices:
    """Retention times and their indices, with the values outside the ladder flagged.

    ``extrapolated[i]`` is True where ``rt_seconds[i]`` lies before the first or after
    the last marker (the index then continues the end segment), and where no index
    exists at all (Kovats, ``t <= t_M``: ``retention_index`` is NaN).
    """

    rt_seconds: np.ndarray
    retention_index: np.ndarray
    extrapolated: np.ndarray
    method: str

    def __post_init__(self) -> None:
        rt = frozen_array(self.rt_seconds, np.float64, name="rt_seconds")
        ri = frozen_array(self.retention_index, np.float64, name="retention_index")
        flags = frozen_array(self.extrapolated, np.bool_, name="extrapolated")
        if not rt.size == ri.size == flags.size:
            raise ValueError("rt_seconds, retention_index and extrapolated differ in length")
        object.__setattr__(self, "rt_seconds", rt)
        object.__setattr__(self, "retention_index", ri)
        object.__setattr__(self, "extrapolated", flags)

    def __len__(self) -> int:
        return int(self.rt_seconds.size)

    @property
    def n_extrapolated(self) -> int:
        """How many values lie outside the ladder."""
        return int(self.extrapolated.sum())

    def to_dict(self) -> dict[str, Any]:
        """JSON form (NaN as ``None``)."""
        return {
            "method": self.method,
            "rt_seconds": _list(self.rt_seconds),
            "retention_index": _list(self.retention_index),
            "extrapolated": self.extrapolated.tolist(),
        }


def _list(values: np.ndarray) -> list[float | None]:
    return [None if not math.isfinite(v) else float(v) for v in values.tolist()]


def _nan_array(values: ArrayLike | None, n: int, name: str) -> np.ndarray:
    if values is None:
        return frozen_array(np.full(n, np.nan), np.float64, name=name)
    array = np.asarray([np.nan if v is None else v for v in np.atleast_1d(values)], np.float64)
    if array.size != n:
        raise ValueError(f"retention calibration: {name} has {array.size} values for {n} markers")
    return frozen_array(array, np.float64, name=name)


@dataclass(frozen=True, slots=True, eq=False)
class RetentionCalibration:
    """A marker ladder turned into a retention time -> retention index map.

    Built from a ladder found in a run (:meth:`gcms.retention.Ladder.calibration`), read
    from an AMDIS ``.CAL`` file (:meth:`read_amdis_cal`), or given directly; applied to
    every other run of the same sequence with :meth:`apply`.

    Parameters
    ----------
    rt_seconds, retention_index
        The markers (strictly increasing in both).
    names
        One label per marker ("C10", "C10 (Decane)").
    method
        ``"van-den-dool-kratz"`` (temperature program) or ``"kovats"`` (isothermal;
        needs ``dead_time_s``).
    dead_time_s
        Hold-up time ``t_M`` for Kovats indices.
    series
        The marker series ("n-alkanes", "FAME methyl esters").
    match_percent, signal_to_noise
        Per-marker quality as AMDIS records it in ``.CAL`` files (Net, S/N); NaN where
        unknown.
    column
        Column description as ``.CAL`` headers carry it (``{"COLUMN_NAME": "DB-5"}``).
    source
        Where the ladder came from: ``path``, ``sha256``, ``sample_name``,
        ``acquired_at``, ``instrument``, ``method`` (strings, ``None`` when unknown).
    """

    rt_seconds: np.ndarray
    retention_index: np.ndarray
    names: tuple[str, ...] = ()
    method: RIMethod = "van-den-dool-kratz"
    dead_time_s: float | None = None
    series: str = "n-alkanes"
    match_percent: np.ndarray | None = None
    signal_to_noise: np.ndarray | None = None
    column: Mapping[str, str] = field(default_factory=dict)
    source: Mapping[str, str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rt = frozen_array(self.rt_seconds, np.float64, name="rt_seconds")
        ri = frozen_array(self.retention_index, np.float64, name="retention_index")
        n = rt.size
        if ri.size != n:
            raise ValueError(
                f"retention calibration: {n} retention times but {ri.size} retention indices"
            )
        if n < 2:
            raise ValueError(f"retention calibration needs at least 2 markers, got {n}")
        if not (np.isfinite(rt).all() and np.isfinite(ri).all()):
            raise ValueError("retention calibration: markers hold NaN or infinite values")
        for values, label in ((rt, "retention times"), (ri, "retention indices")):
            bad = np.flatnonzero(np.diff(values) <= 0)
            if bad.size:
                i = int(bad[0])
                raise ValueError(
                    f"retention calibration: marker {label} must increase strictly "
                    f"({values[i]:g} then {values[i + 1]:g} at markers {i} and {i + 1})"
                )
        names = tuple(str(s) for s in self.names) or tuple(f"RI {v:g}" for v in ri)
        if len(names) != n:
            raise ValueError(f"retention calibration: {len(names)} names for {n} markers")
        if self.method not in RI_METHODS:
            raise ValueError(
                f"retention calibration: unknown method {self.method!r} "
                f"(known: {', '.join(RI_METHODS)})"
            )
        dead_time = None if self.dead_time_s is None else float(self.dead_time_s)
        if self.method == "kovats":
            if dead_time is None:
                raise ValueError("retention calibration: Kovats indices need dead_time_s")
            if not (math.isfinite(dead_time) and 0 <= dead_time < rt[0]):
                raise ValueError(
                    f"retention calibration: dead time {dead_time:g} s must lie in "
                    f"[0, {rt[0]:g}) s, before the first marker"
                )
        object.__setattr__(self, "rt_seconds", rt)
        object.__setattr__(self, "retention_index", ri)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "dead_time_s", dead_time)
        object.__setattr__(self, "match_percent",
                           _nan_array(self.match_percent, n, "match_percent"))
        object.__setattr__(self, "signal_to_noise",
                           _nan_array(self.signal_to_noise, n, "signal_to_noise"))
        object.__setattr__(self, "column", MappingProxyType(dict(self.column)))
        object.__setattr__(self, "source", MappingProxyType(dict(self.source)))

    def __reduce__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["column"], values["source"] = dict(self.column), dict(self.source)
        return (_rebuild, (values,))

    def __len__(self) -> int:
        return int(self.rt_seconds.size)

    def __repr__(self) -> str:
        return (f"RetentionCalibration({self.series}, {self.names[0]}-{self.names[-1]}, "
                f"{self.method}, {len(self)} markers)")

    # ------------------------------------------------------------------ range
    @property
    def rt_range_s(self) -> tuple[float, float]:
        """First and last marker retention time (s): the range indices are interpolated in."""
        return float(self.rt_seconds[0]), float(self.rt_seconds[-1])

    @property
    def ri_range(self) -> tuple[float, float]:
        """First and last marker index."""
        return float(self.retention_index[0]), float(self.retention_index[-1])

    # ------------------------------------------------------------------ apply
    def apply(self, rt_seconds: ArrayLike) -> RetentionIndices:
        """Retention indices of ``rt_seconds`` (scalar or array), extrapolations flagged.

        See the module docstring for the formulas; the method is ``method``.

        Parameters
        ----------
        rt_seconds : float or array_like
            Retention times (s) on the run's time axis.

        Returns
        -------
        RetentionIndices
            ``retention_index`` and ``extrapolated`` (outside the ladder) per time.

        Examples
        --------
        >>> from gcms.retention import RetentionCalibration
        >>> calibration = RetentionCalibration(
        ...     rt_seconds=[240.0, 360.0, 480.0, 600.0], retention_index=[1000, 1100, 1200, 1300])
        >>> indices = calibration.apply([300.0, 900.0])
        >>> indices.retention_index.tolist(), indices.extrapolated.tolist()
        ([1050.0, 1550.0], [False, True])
        >>> calibration.predict_rt(1150.0).rt_seconds.tolist()
        [420.0]
        """
        rt = np.atleast_1d(np.asarray(rt_seconds, dtype=np.float64))
        if self.method == "kovats":
            ri, outside = kovats(rt, self.rt_seconds, self.retention_index,
                                 cast(float, self.dead_time_s))  # checked on construction
        else:
            ri, outside = van_den_dool_kratz(rt, self.rt_seconds, self.retention_index)
        return RetentionIndices(rt, ri, outside, self.method)

    def predict_rt(self, retention_index: ArrayLike) -> RetentionIndices:
        """Inverse map: the retention time (s) at which an index elutes, flags as above.

        Used to place a library RI or a check-standard window on this run's time axis.

        Parameters
        ----------
        retention_index : float or array_like
            Indices to place.

        Returns
        -------
        RetentionIndices
            ``rt_seconds`` per index, flagged where outside the ladder (see :meth:`apply`
            for an example).
        """
        ri = np.atleast_1d(np.asarray(retention_index, dtype=np.float64))
        if self.method == "kovats":
            log_t, outside = _piecewise_linear(
                ri, self.retention_index, np.log(self.rt_seconds - self.dead_time_s)
            )
            rt = self.dead_time_s + np.exp(log_t)
        else:
            rt, outside = _piecewise_linear(ri, self.retention_index, self.rt_seconds)
        return RetentionIndices(rt, ri, outside, self.method)

    def applicability(
        self, run: Run | RunMetadata, *, max_age_hours: float | None = None
    ) -> tuple[str, ...]:
        """Reasons to doubt that this calibration applies to ``run``; empty when none.

        Checks what the metadata allow: the same instrument and acquisition method as
        the ladder run, the run's time range inside the ladder (times outside give
        extrapolated indices), and, with ``max_age_hours``, the time between the ladder
        and the run (a ladder is re-run after a vacuum break or column maintenance).
        """
        meta = cast("RunMetadata", getattr(run, "metadata", run))
        return self._applicability(meta.instrument, meta.method, meta.acquired_at,
                                   getattr(run, "rt_range_s", None), max_age_hours)

    def applicability_of_summary(
        self, summary: Mapping[str, Any], *, max_age_hours: float | None = None
    ) -> tuple[str, ...]:
        """:meth:`applicability` to a run known by its :meth:`gcms.Run.summary` facts.

        What a batch keeps of a run (``instrument``, ``method``, ``acquired_at`` as ISO
        8601, ``rt_range_s``) is enough: the run need not be read again.
        """
        span = summary.get("rt_range_s")
        return self._applicability(summary.get("instrument"), summary.get("method"),
                                   _parse_time(summary.get("acquired_at")),
                                   tuple(span) if span else None, max_age_hours)

    def _applicability(self, instrument: str | None, method: str | None,
                       acquired_at: datetime | None, span: tuple[float, float] | None,
                       max_age_hours: float | None) -> tuple[str, ...]:
        notes: list[str] = []
        for key, theirs in (("instrument", instrument), ("method", method)):
            ours = self.source.get(key)
            if ours and theirs and ours.strip().lower() != theirs.strip().lower():
                notes.append(f"{key} differs: ladder {ours!r}, run {theirs!r}")
        if span is not None:
            lo, hi = self.rt_range_s
            if span[0] < lo or span[1] > hi:
                notes.append(
                    f"run spans {span[0]:.1f}-{span[1]:.1f} s, ladder {lo:.1f}-{hi:.1f} s: "
                    "indices outside the ladder are extrapolated (flagged)"
                )
        ladder_time = _parse_time(self.source.get("acquired_at"))
        if ladder_time is not None and acquired_at is not None:
            try:
                hours = (acquired_at - ladder_time).total_seconds() / 3600.0
            except TypeError:  # one time zone-aware, the other not
                hours = (acquired_at.replace(tzinfo=None)
                         - ladder_time.replace(tzinfo=None)).total_seconds() / 3600.0
            if hours < 0:
                notes.append(f"run acquired {-hours:.1f} h before the ladder")
            elif max_age_hours is not None and hours > max_age_hours:
                notes.append(f"ladder is {hours:.1f} h older than the run "
                             f"(limit {max_age_hours:g} h)")
        return tuple(notes)

    # ------------------------------------------------------------------ forms
    def replace(self, **changes: Any) -> RetentionCalibration:
        """Return a copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; :meth:`from_dict` is its inverse."""
        return {
            "series": self.series,
            "method": self.method,
            "dead_time_s": self.dead_time_s,
            "names": list(self.names),
            "rt_seconds": self.rt_seconds.tolist(),
            "retention_index": self.retention_index.tolist(),
            # arrays once constructed (NaN where not known)
            "match_percent": _list(cast(np.ndarray, self.match_percent)),
            "signal_to_noise": _list(cast(np.ndarray, self.signal_to_noise)),
            "column": dict(self.column),
            "source": dict(self.source),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetentionCalibration:
        """Build from :meth:`to_dict` output; unknown keys are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"retention calibration: unknown fields {sorted(unknown)}")
        values = dict(data)
        values["names"] = tuple(values.get("names") or ())
        return cls(**values)

    @classmethod
    def read_amdis_cal(cls, path: str | os.PathLike) -> RetentionCalibration:
        """Read an AMDIS ``.CAL`` retention-index calibration file (see :mod:`.amdis_cal`).

        Parameters
        ----------
        path : str or os.PathLike
            The ``.CAL`` file.

        Returns
        -------
        RetentionCalibration
            A Van den Dool & Kratz calibration of the file's markers, with its source.
        """
        from gcms.retention.amdis_cal import read_amdis_cal

        return read_amdis_cal(path)

    def write_amdis_cal(self, path: str | os.PathLike) -> None:
        """Write this calibration as an AMDIS ``.CAL`` file (see :mod:`.amdis_cal`).

        Parameters
        ----------
        path : str or os.PathLike
            Where to write; only a Van den Dool & Kratz calibration can be written.
        """
        from gcms.retention.amdis_cal import write_amdis_cal

        write_amdis_cal(self, path)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _rebuild(values: dict[str, Any]) -> RetentionCalibration:
    return RetentionCalibration(**values)


def source_of(run: Run) -> dict[str, str | None]:
    """The ``source`` record of a calibration made from ``run``."""
    meta = run.metadata
    return {
        "path": meta.source_path,
        "sha256": meta.sha256,
        "sample_name": meta.sample_name,
        "acquired_at": meta.acquired_at.isoformat() if meta.acquired_at else None,
        "instrument": meta.instrument,
        "method": meta.method,
    }

