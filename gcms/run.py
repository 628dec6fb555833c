"""One acquisition: the ``Run`` type, its metadata and the vendor peak table.

Scans are held in compressed-sparse-row form exactly as ANDI/AIA netCDF stores them:
scan ``i`` has the peaks ``mz[scan_offsets[i]:scan_offsets[i+1]]`` with the matching
``intensity`` values. Nothing is copied per scan into Python objects; signal processing
works on the dense nominal-mass matrix from :meth:`Run.matrix`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from gcms._arrays import budget_problem, frozen_array
from gcms.errors import FormatError
from gcms.spectrum import Spectrum, nominal_mass

__all__ = ["Acquisition", "PeakTable", "Run", "RunMetadata"]

#: How the scans were acquired: full scan, selected-ion monitoring, profile (continuum)
#: data, or a single detector trace (FID, or an AIA chromatography file) with no spectra.
Acquisition = Literal["scan", "sim", "profile", "trace"]


@dataclass(frozen=True, slots=True)
class RunMetadata:
    """What a file says about its acquisition; ``None`` where the file does not say.

    ``sha256`` is the digest of the bytes the reader decoded (``data_file``), computed
    when the file was read, so a result can always be tied back to its evidence file.
    ``parts_sha256`` holds the digest of every file the reader decoded to build the run,
    ``data_file`` among them: a ``.D`` folder is read from several (``data.ms`` and its
    sidecar files; ``MSScan.bin``, ``MSPeak.bin``, ``MSScan.xsd``...), keyed by their path
    relative to ``source_path`` (the file name for a run read from one file).
    """

    sample_name: str | None = None
    acquired_at: datetime | None = None
    operator: str | None = None
    instrument: str | None = None
    method: str | None = None
    tune_file: str | None = None
    source_path: str | None = None
    data_file: str | None = None
    sha256: str | None = None
    parts_sha256: Mapping[str, str] = field(default_factory=dict)
    format: str | None = None
    acquisition: Acquisition = "scan"
    detector: str = "MS"
    ionization: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        object.__setattr__(self, "parts_sha256", MappingProxyType(dict(self.parts_sha256)))

    def __reduce__(self):
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["extra"], values["parts_sha256"] = dict(self.extra), dict(self.parts_sha256)
        return (_rebuild, (RunMetadata, values))

    def replace(self, **changes: Any) -> RunMetadata:
        """Return a copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (``acquired_at`` as ISO 8601)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["acquired_at"] = self.acquired_at.isoformat() if self.acquired_at else None
        out["extra"] = dict(self.extra)
        out["parts_sha256"] = dict(self.parts_sha256)
        return out


@dataclass(frozen=True, slots=True, eq=False)
class PeakTable:
    """A data system's own integration results, kept as the vendor wrote them.

    Times in seconds; ``NaN`` where the file leaves a column out.
    """

    retention_time_s: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray
    area: np.ndarray
    height: np.ndarray
    area_percent: np.ndarray
    names: tuple[str | None, ...] = ()

    def __post_init__(self) -> None:
        n = None
        for f in dataclasses.fields(self):
            if f.name == "names":
                continue
            array = frozen_array(getattr(self, f.name), np.float64, name=f.name)
            if n is not None and array.size != n:
                raise ValueError(f"peak table column {f.name} has {array.size} rows, not {n}")
            n = array.size
            object.__setattr__(self, f.name, array)
        names = tuple(self.names) or (None,) * (n or 0)
        if len(names) != n:
            raise ValueError(f"peak table has {len(names)} names for {n} peaks")
        object.__setattr__(self, "names", names)

    def __reduce__(self):
        return (_rebuild, (PeakTable, {f.name: getattr(self, f.name)
                                       for f in dataclasses.fields(self)}))

    def __len__(self) -> int:
        return int(self.retention_time_s.size)

    def to_dict(self) -> dict[str, Any]:
        """Column-wise JSON form (``None`` for missing values)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "names":
                out[f.name] = list(value)
            else:
                out[f.name] = [None if np.isnan(v) else float(v) for v in value]
        return out


@dataclass(frozen=True, slots=True, eq=False)
class Run:
    """One GC-MS acquisition in CSR form.

    Parameters
    ----------
    scan_times : array_like
        Acquisition time of each scan in seconds (float64, non-decreasing).
    scan_offsets : array_like
        ``n_scans + 1`` int64 offsets into ``mz``/``intensity``; scan ``i`` is
        ``offsets[i]:offsets[i+1]``; starts at 0 and ends at ``len(mz)``.
    mz : array_like
        m/z of every peak of every scan (float64).
    intensity : array_like
        Intensity of every peak (float32), finite.
    tic : array_like, optional
        Total ion current per scan (float64). Defaults to the sum of each scan's
        intensities; readers pass the file's own TIC where it has one, and for a
        ``"trace"`` run (FID, AIA chromatography) it is the detector signal itself.
    metadata : RunMetadata
        Sample, instrument, method, source file and its SHA-256.
    vendor_peaks : PeakTable, optional
        The data system's own peak table where the file carries one.

    Notes
    -----
    All arrays are read-only; :meth:`slice` and :meth:`matrix` return new objects.
    """

    scan_times: np.ndarray
    scan_offsets: np.ndarray
    mz: np.ndarray
    intensity: np.ndarray
    tic: np.ndarray = None  # type: ignore[assignment]  # None: summed from the peaks
    metadata: RunMetadata = field(default_factory=RunMetadata)
    vendor_peaks: PeakTable | None = None

    def __post_init__(self) -> None:
        times = frozen_array(self.scan_times, np.float64, name="scan_times")
        offsets = frozen_array(self.scan_offsets, np.int64, name="scan_offsets")
        mz = frozen_array(self.mz, np.float64, name="mz")
        intensity = frozen_array(self.intensity, np.float32, name="intensity")
        n = times.size
        if offsets.size != n + 1:
            raise ValueError(
                f"scan_offsets has {offsets.size} entries for {n} scans (want {n + 1})"
            )
        if offsets[0] != 0 or offsets[-1] != mz.size:
            raise ValueError(
                f"scan_offsets must run from 0 to {mz.size} (the number of peaks), "
                f"got {offsets[0]} to {offsets[-1]}"
            )
        if n and np.any(np.diff(offsets) < 0):
            raise ValueError("scan_offsets decrease: scans overlap")
        if mz.size != intensity.size:
            raise ValueError(f"mz has {mz.size} values but intensity has {intensity.size}")
        if not np.isfinite(times).all():
            raise ValueError("scan_times hold NaN or infinite values")
        if n > 1 and np.any(np.diff(times) < 0):
            first = int(np.flatnonzero(np.diff(times) < 0)[0])
            raise ValueError(
                f"scan_times decrease at scan {first + 1} "
                f"({times[first]:.4f} s then {times[first + 1]:.4f} s)"
            )
        if not (np.isfinite(mz).all() and np.isfinite(intensity).all()):
            raise ValueError("mz or intensity hold NaN or infinite values")
        if self.tic is None:
            scan_of_peak = np.repeat(np.arange(n), np.diff(offsets))
            tic = np.bincount(scan_of_peak, weights=intensity.astype(np.float64), minlength=n)
            tic = frozen_array(tic, np.float64, name="tic")
        else:
            tic = frozen_array(self.tic, np.float64, name="tic")
            if tic.size != n:
                raise ValueError(f"tic has {tic.size} values for {n} scans")
            if not np.isfinite(tic).all():
                raise ValueError("tic holds NaN or infinite values")
        object.__setattr__(self, "scan_times", times)
        object.__setattr__(self, "scan_offsets", offsets)
        object.__setattr__(self, "mz", mz)
        object.__setattr__(self, "intensity", intensity)
        object.__setattr__(self, "tic", tic)

    def __reduce__(self):
        return (_rebuild, (Run, {f.name: getattr(self, f.name)
                                 for f in dataclasses.fields(self)}))

    def __repr__(self) -> str:
        name = self.metadata.sample_name or self.metadata.source_path or "unnamed"
        return f"Run({name!r}, {self.n_scans} scans, {self.metadata.acquisition})"

    # ------------------------------------------------------------------ shape
    @property
    def n_scans(self) -> int:
        """Number of scans (points, for a trace)."""
        return int(self.scan_times.size)

    @property
    def n_peaks(self) -> int:
        """Number of (m/z, intensity) pairs over all scans."""
        return int(self.mz.size)

    @property
    def points_per_scan(self) -> np.ndarray:
        """Number of peaks in each scan (int64)."""
        return np.diff(self.scan_offsets)

    @property
    def rt_range_s(self) -> tuple[float, float] | None:
        """First and last scan time in seconds, None for an empty run."""
        if not self.n_scans:
            return None
        return float(self.scan_times[0]), float(self.scan_times[-1])

    @property
    def mz_range(self) -> tuple[float, float] | None:
        """Lowest and highest m/z present, None when the run holds no peaks."""
        if not self.n_peaks:
            return None
        return float(self.mz.min()), float(self.mz.max())

    @property
    def nominal_mz_range(self) -> tuple[int, int] | None:
        """Lowest and highest nominal mass present (see :func:`gcms.nominal_mass`)."""
        bounds = self.mz_range
        if bounds is None:
            return None
        low, high = nominal_mass(np.array(bounds))
        return int(low), int(high)

    # ------------------------------------------------------------------ access
    def scan(self, index: int) -> Spectrum:
        """The spectrum of scan ``index`` (negative indices count from the end)."""
        n = self.n_scans
        if not -n <= index < n:
            raise IndexError(f"scan {index} out of range for a run of {n} scans")
        index %= n
        start, stop = self.scan_offsets[index], self.scan_offsets[index + 1]
        return Spectrum(
            mz=self.mz[start:stop],
            intensity=self.intensity[start:stop],
            name=self.metadata.sample_name,
            rt_seconds=float(self.scan_times[index]),
            source=self.metadata.source_path,
            source_entry=f"scan {index}",
        )

    def scan_index_at(self, rt_seconds: float) -> int:
        """Index of the scan acquired closest to ``rt_seconds``."""
        if not self.n_scans:
            raise IndexError("empty run has no scans")
        i = int(np.searchsorted(self.scan_times, rt_seconds))
        if i == self.n_scans or (
            i > 0 and rt_seconds - self.scan_times[i - 1] <= self.scan_times[i] - rt_seconds
        ):
            i -= 1
        return i

    def _scan_of_peak(self) -> np.ndarray:
        return np.repeat(np.arange(self.n_scans), self.points_per_scan)

    def xic(self, mz: float, tolerance: float = 0.5) -> np.ndarray:
        """Extracted-ion chromatogram: per scan, the summed intensity within ``mz ± tolerance``.

        The window is closed at both ends; a scan with no peak in it gives 0.

        Parameters
        ----------
        mz : float
            Centre of the window.
        tolerance : float, default 0.5
            Half width of the window (>= 0).

        Returns
        -------
        numpy.ndarray
            One float64 value per scan.

        Examples
        --------
        Three scans; the second holds no m/z 43:

        >>> from gcms import Run
        >>> run = Run(scan_times=[1.0, 2.0, 3.0], scan_offsets=[0, 2, 3, 5],
        ...           mz=[43.0, 58.1, 58.0, 43.2, 58.0], intensity=[10, 100, 50, 20, 30])
        >>> run.xic(58.0).tolist(), run.xic(43.0).tolist()
        ([100.0, 50.0, 30.0], [10.0, 0.0, 20.0])
        """
        if tolerance < 0:
            raise ValueError(f"tolerance must be >= 0, got {tolerance}")
        inside = np.abs(self.mz - mz) <= tolerance
        return np.bincount(
            self._scan_of_peak()[inside],
            weights=self.intensity[inside].astype(np.float64),
            minlength=self.n_scans,
        )

    def matrix(self, mz_min: int | None = None, mz_max: int | None = None) -> np.ndarray:
        """Dense scan × nominal-mass intensity matrix (float32).

        Column ``j`` holds nominal mass ``mz_min + j``; both ends are included. m/z
        values are binned by :func:`gcms.nominal_mass` (``ceil(m/z - 0.649)``) and, where
        several peaks of one scan fall in the same bin, the largest is kept (the NIST
        rule for EI spectra). Peaks outside ``[mz_min, mz_max]`` are dropped. The
        defaults are the run's own nominal range.

        Parameters
        ----------
        mz_min, mz_max : int, optional
            The nominal masses of the first and last columns.

        Returns
        -------
        numpy.ndarray
            ``(n_scans, mz_max - mz_min + 1)`` float32 intensities.

        Raises
        ------
        FormatError
            The matrix would exceed the memory budget (:func:`gcms._arrays.memory_budget`):
            a run whose m/z reach millions, from a damaged file, would ask for gigabytes.
            The message names the run's file, the size asked and the budget.

        Examples
        --------
        >>> from gcms import Run
        >>> run = Run(scan_times=[1.0, 2.0, 3.0], scan_offsets=[0, 2, 3, 5],
        ...           mz=[43.0, 58.1, 58.0, 43.2, 58.0], intensity=[10, 100, 50, 20, 30])
        >>> m = run.matrix()
        >>> m.shape, m[:, [0, 15]].tolist()
        ((3, 16), [[10.0, 100.0], [0.0, 50.0], [20.0, 30.0]])
        """
        bounds = self.nominal_mz_range
        if mz_min is None:
            mz_min = bounds[0] if bounds else 0
        if mz_max is None:
            mz_max = bounds[1] if bounds else mz_min
        if mz_max < mz_min:
            raise ValueError(f"mz_max {mz_max} is below mz_min {mz_min}")
        columns = int(mz_max) - int(mz_min) + 1
        problem = budget_problem(
            4.0 * self.n_scans * columns,
            f"the scan x m/z matrix ({self.n_scans:,} scans x {columns:,} nominal masses, "
            f"m/z {mz_min} to {mz_max})")
        if problem is not None:
            raise FormatError(f"{self.metadata.source_path or 'run'}: {problem}")
        out = np.zeros((self.n_scans, columns), dtype=np.float32)
        if not self.n_peaks:
            return out
        column = nominal_mass(self.mz) - mz_min
        keep = (column >= 0) & (column < out.shape[1])
        rows = self._scan_of_peak()[keep]
        np.maximum.at(out, (rows, column[keep]), self.intensity[keep])
        return out

    def slice(self, t0: float, t1: float) -> Run:
        """The scans acquired in ``[t0, t1]`` seconds, as a new run with the same metadata.

        Parameters
        ----------
        t0, t1 : float
            Start and end, in seconds; both ends included.

        Returns
        -------
        Run
            The scans inside (possibly none), with the vendor peak table as it was.
        """
        start = int(np.searchsorted(self.scan_times, t0, side="left"))
        stop = int(np.searchsorted(self.scan_times, t1, side="right"))
        stop = max(stop, start)
        first, last = self.scan_offsets[start], self.scan_offsets[stop]
        return Run(
            scan_times=self.scan_times[start:stop],
            scan_offsets=self.scan_offsets[start : stop + 1] - first,
            mz=self.mz[first:last],
            intensity=self.intensity[first:last],
            tic=self.tic[start:stop],
            metadata=self.metadata,
            vendor_peaks=self.vendor_peaks,
        )

    def replace(self, **changes: Any) -> Run:
        """Return a copy with some fields changed (arrays re-checked)."""
        return dataclasses.replace(self, **changes)

    def summary(self) -> dict[str, Any]:
        """The facts ``gcms info`` prints: sizes, ranges, TIC maximum and metadata."""
        meta = self.metadata
        return {
            "path": meta.source_path,
            "format": meta.format,
            "acquisition": meta.acquisition,
            "detector": meta.detector,
            "n_scans": self.n_scans,
            "n_peaks": self.n_peaks,
            "rt_range_s": list(self.rt_range_s) if self.rt_range_s else None,
            "mz_range": list(self.mz_range) if self.mz_range else None,
            "tic_max": float(self.tic.max()) if self.n_scans else None,
            "sha256": meta.sha256,
            "parts_sha256": dict(meta.parts_sha256),
            "sample_name": meta.sample_name,
            "acquired_at": meta.acquired_at.isoformat() if meta.acquired_at else None,
            "operator": meta.operator,
            "instrument": meta.instrument,
            "method": meta.method,
            "tune_file": meta.tune_file,
            "data_file": meta.data_file,
            "vendor_peaks": len(self.vendor_peaks) if self.vendor_peaks is not None else None,
            "extra": dict(meta.extra),
        }


def _rebuild(cls, values: dict[str, Any]):
    return cls(**values)
