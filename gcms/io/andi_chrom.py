"""ANDI/AIA chromatography netCDF files (ASTM E1947 / E1948): one detector trace plus peaks.

Chromatography data systems export a single detector channel (FID, ECD, TIC, UV...) as
AIA netCDF: ``ordinate_values`` (the signal) and, in category 2 files, the data system's
own integration results. The file becomes a single-trace :class:`gcms.Run`
(``metadata.acquisition == "trace"``): no spectra, ``tic`` is the signal itself,
``metadata.detector`` the ``detector_name``, and ``vendor_peaks`` the integration table
as a :class:`gcms.PeakTable`, all times in seconds.

Sampling times: ``raw_data_retention`` when the file has it complete (non-uniform
sampling), else ``actual_delay_time + i * actual_sampling_interval``. Times and peak
times are in ``retention_unit`` (seconds unless it says minutes or milliseconds; some
writers spell it ``retention_units``).

Vendor quirks handled (``docs/andi-netcdf.md``):

* a peak column that is entirely ``-1`` (Varian heights) or fill/-9999 is "not recorded";
* peak start/end given as sample indices rather than times (Shimadzu Class-VP with
  minutes) is recognised when the times are inconsistent with the retention times but
  the indices are consistent, and converted; otherwise inconsistencies are noted;
* without ``peak_start_time``/``peak_end_time`` the baseline start/stop times stand in.

A signal point that is not data (fill value, -9999, NaN) inside the trace is refused: a
trace with holes has another time axis than the file declares. Points nobody wrote at
the end of the trace (an acquisition stopped before the length the file was created
with) are left out and counted in ``metadata.extra["gcms.dropped_points"]``.
"""

from __future__ import annotations

import os

import numpy as np

from gcms.errors import FormatError
from gcms.io._common import build_run
from gcms.io._netcdf import (
    Dataset,
    decode_numeric,
    is_netcdf,
    open_dataset,
    text_values,
    variable_names,
)
from gcms.io.andi_ms import ANDI_MISSING, parse_timestamp
from gcms.run import PeakTable, Run, RunMetadata

__all__ = ["FORMAT_NAME", "read", "sniff"]

FORMAT_NAME = "aia-chromatography"

#: A peak column whose every value equals this is a "not computed" placeholder (Varian
#: writes -1 for all heights when its integrator reports areas only).
_PLACEHOLDER = -1.0

#: Share of peaks whose start <= retention time <= end must hold for the start/end
#: columns to be taken as consistent.
_CONSISTENT_SHARE = 0.9

_PEAK_COLUMNS = {
    "retention_time_s": "peak_retention_time",
    "start_s": "peak_start_time",
    "end_s": "peak_end_time",
    "area": "peak_area",
    "height": "peak_height",
    "area_percent": "peak_area_percent",
}
_TIME_COLUMNS = ("retention_time_s", "start_s", "end_s")


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``path`` is an AIA chromatography file: netCDF holding ordinate_values."""
    if is_netcdf(head) is None:
        return False
    names = variable_names(path, head)
    return names is not None and "ordinate_values" in names and "mass_values" not in names


def _text(ds: Dataset, name: str) -> str | None:
    value = ds.attributes.get(name)
    if not isinstance(value, str):
        return None if value is None else str(np.asarray(value).ravel()[0])
    value = value.strip()
    return value if value and value.lower() != "none" else None


def _seconds_per_unit(ds: Dataset) -> tuple[float, str | None]:
    unit = _text(ds, "retention_unit") or _text(ds, "retention_units")
    if unit is None:
        return 1.0, None
    words = unit.lower()
    if "millisec" in words or words in ("ms", "msec"):
        return 1e-3, f"retention_unit {unit!r}: converted to seconds"
    if "min" in words:
        return 60.0, f"retention_unit {unit!r}: converted to seconds"
    if "sec" in words or words == "s":
        return 1.0, None
    return 1.0, f"retention_unit {unit!r} is not a time unit; taken as seconds"


def _scalar(ds: Dataset, name: str) -> float | None:
    if name not in ds.variables or ds.variables[name].size != 1:
        return None
    values, missing = decode_numeric(ds, name, missing=(ANDI_MISSING,))
    if missing.any():
        return None
    return float(values.ravel()[0])


def _sampling_times(ds: Dataset, n: int, unit: float, notes: dict[str, str]) -> np.ndarray:
    path = ds.path
    variable = ds.variables.get("raw_data_retention")
    if variable is not None and variable.size == n and variable.dtype.kind in "iuf":
        times, missing = decode_numeric(ds, "raw_data_retention", missing=(ANDI_MISSING,))
        if not missing.any():
            return times * unit
        notes["gcms.sampling"] = (
            f"raw_data_retention incomplete ({int(missing.sum())} of {n} missing); "
            "times from actual_sampling_interval"
        )
    interval = _scalar(ds, "actual_sampling_interval")
    if interval is None or interval <= 0:
        raise FormatError(
            f"{path}: AIA chromatography file gives no sampling times: no complete "
            "raw_data_retention and no positive actual_sampling_interval"
        )
    delay = _scalar(ds, "actual_delay_time") or 0.0
    return (delay + interval * np.arange(n, dtype=np.float64)) * unit


def _peak_column(ds: Dataset, name: str, n: int) -> tuple[np.ndarray, str | None]:
    variable = ds.variables.get(name)
    if variable is None or variable.dtype.kind not in "iuf" or variable.size != n:
        return np.full(n, np.nan), None
    values, _ = decode_numeric(ds, name, missing=(ANDI_MISSING,))
    if n and np.all(values == _PLACEHOLDER):
        return np.full(n, np.nan), f"{name} is -1 for every peak (not recorded)"
    return values, None


def _consistent(rt: np.ndarray, start: np.ndarray, end: np.ndarray, slack: float) -> bool:
    known = np.isfinite(rt) & np.isfinite(start) & np.isfinite(end)
    if not known.any():
        return True
    ok = (start[known] <= rt[known] + slack) & (rt[known] <= end[known] + slack)
    return ok.mean() >= _CONSISTENT_SHARE


def _peak_table(ds: Dataset, *, unit: float, times: np.ndarray,
                notes: dict[str, str]) -> PeakTable | None:
    if "peak_retention_time" not in ds.variables:
        return None
    n = ds.variables["peak_retention_time"].size
    columns: dict[str, np.ndarray] = {}
    for field, name in _PEAK_COLUMNS.items():
        values, note = _peak_column(ds, name, n)
        if note:
            notes[f"gcms.{name}"] = note
        columns[field] = values
    if np.isnan(columns["start_s"]).all() and np.isnan(columns["end_s"]).all():
        start, _ = _peak_column(ds, "baseline_start_time", n)
        end, _ = _peak_column(ds, "baseline_stop_time", n)
        if np.isfinite(start).any() or np.isfinite(end).any():
            columns["start_s"], columns["end_s"] = start, end
            notes["gcms.peak_bounds"] = "peak start/end from baseline_start/stop_time"
    raw_start, raw_end = columns["start_s"], columns["end_s"]
    for field in _TIME_COLUMNS:
        columns[field] = columns[field] * unit
    slack = float(np.median(np.diff(times))) if times.size > 1 else 0.0
    rt, start, end = columns["retention_time_s"], columns["start_s"], columns["end_s"]
    if n and not _consistent(rt, start, end, slack):
        # Some writers give the bounds as sample indices; accept that reading only when
        # it makes every bound consistent with the retention times.
        known = np.isfinite(raw_start) & np.isfinite(raw_end)
        bounds = np.concatenate((raw_start[known], raw_end[known]))
        as_index = bounds.size and times.size and np.all(bounds == np.round(bounds)) and (
            bounds.min() >= 0 and bounds.max() < times.size)
        if as_index:
            index_start = np.full(n, np.nan)
            index_end = np.full(n, np.nan)
            index_start[known] = times[raw_start[known].astype(np.int64)]
            index_end[known] = times[raw_end[known].astype(np.int64)]
            if _consistent(rt, index_start, index_end, slack):
                columns["start_s"], columns["end_s"] = index_start, index_end
                notes["gcms.peak_bounds"] = (
                    "peak_start_time/peak_end_time hold sample indices, not times "
                    "(converted through the sampling times)"
                )
            else:
                notes["gcms.peak_bounds"] = "peak start/end inconsistent with retention times"
        else:
            notes["gcms.peak_bounds"] = "peak start/end inconsistent with retention times"
    names: tuple[str | None, ...] = ()
    variable = ds.variables.get("peak_name")
    if variable is not None and variable.dtype.kind == "S" and variable.shape[:1] == (n,):
        names = tuple(value or None for value in text_values(ds, "peak_name"))
    return PeakTable(names=names, **columns)


def read(path: str | os.PathLike) -> Run:
    """Read an AIA chromatography file (ASTM E1947) as a single-trace :class:`Run`.

    Raises
    ------
    FormatError
        Damaged file, no ``ordinate_values``, or no way to know the sampling times.
    """
    with open_dataset(path) as ds:
        path = ds.path
        if "ordinate_values" not in ds.variables:
            raise FormatError(f"{path}: AIA chromatography file has no ordinate_values")
        signal, missing = decode_numeric(ds, "ordinate_values", missing=(ANDI_MISSING,))
        signal = signal.ravel()
        n = signal.size
        notes: dict[str, str] = {}
        unit, unit_note = _seconds_per_unit(ds)
        if unit_note:
            notes["gcms.retention_unit"] = unit_note
        times = _sampling_times(ds, n, unit, notes)
        peaks = _peak_table(ds, unit=unit, times=times, notes=notes)
        if missing.any():
            written = n - int(np.argmax(~missing[::-1])) if not missing.all() else 0
            hole = np.flatnonzero(missing[:written])
            if hole.size:
                raise FormatError(
                    f"{path}: ordinate_values point {int(hole[0]) + 1} of {n} (at "
                    f"{times[hole[0]]:.3f} s) is not data (a fill value, -9999 or NaN), and "
                    f"{hole.size} such points lie inside the trace: refused, a trace with "
                    "holes has another time axis than the file declares (damaged file)")
            notes["gcms.dropped_points"] = (
                f"{n - written} points after the last written one (fill values or -9999: "
                "never written)"
            )
            signal, times = signal[:written], times[:written]
        extra = {}
        for key, value in ds.attributes.items():
            text = value if isinstance(value, str) else ", ".join(
                str(v) for v in np.asarray(value).ravel())
            if text.strip():
                extra[key] = text.strip()
        for key, value in ds.variables["ordinate_values"].attributes.items():
            if isinstance(value, str) and value.strip():
                extra.setdefault(key, value.strip())
        acquired_at, stamp_note = parse_timestamp(_text(ds, "injection_date_time_stamp"))
        if stamp_note:
            notes["gcms.acquired_at"] = stamp_note
        extra["gcms.netcdf_format"] = ds.kind
        extra.update(notes)
        method = next((m for m in (_text(ds, k) for k in (
            "detection_method_name", "company_method_name", "detection_method_table_name"))
            if m), None)
        metadata = RunMetadata(
            sample_name=_text(ds, "sample_name") or _text(ds, "sample_id")
            or _text(ds, "experiment_title"),
            acquired_at=acquired_at,
            operator=_text(ds, "operator_name"),
            instrument=_text(ds, "dataset_origin"),
            method=method,
            source_path=str(path),
            data_file=str(path),
            sha256=ds.sha256,
            format=FORMAT_NAME,
            acquisition="trace",
            detector=_text(ds, "detector_name") or "unknown",
            extra=extra,
        )
        return build_run(
            path,
            scan_times=times,
            scan_offsets=np.zeros(signal.size + 1, dtype=np.int64),
            mz=np.empty(0),
            intensity=np.empty(0, dtype=np.float32),
            tic=signal,
            metadata=metadata,
            vendor_peaks=peaks,
        )
