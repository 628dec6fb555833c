"""ANDI/AIA mass-spectrometry netCDF files (ASTM E2077 / E2078): runs, libraries, writing.

Every GC-MS data system exports ANDI MS ("AIA", ``.cdf``). One file holds either an
acquisition (``experiment_type`` "Centroided Mass Spectrum" or "Continuum Mass
Spectrum": one spectrum per scan) or a spectral library ("Library Mass Spectrum": one
spectrum per entry, with entry names, formulas, CAS numbers). The spectra are stored
exactly as :class:`gcms.Run` holds them, in CSR form::

    scan_index[i]            first point of scan i in mass_values / intensity_values
    point_count[i]           number of points of scan i
    scan_acquisition_time[i] seconds (unless the variable's ``units`` says otherwise)

so a run is built with array operations only. The decoding rules, checked against files
of eight data systems (``docs/andi-netcdf.md``):

* A value equal to the variable's ``_FillValue`` (else the netCDF default fill,
  9.96921e36 for floats), its ``missing_value``, or ANDI's ``-9999`` is never data:
  such points are dropped (and counted in ``metadata.extra["gcms.dropped_points"]``),
  such scan times are an error, such TICs are recomputed from the spectra.
* ``scale_factor`` / ``add_offset`` are applied (stored * scale + offset).
* The ``raw_data_*_format`` attributes are ignored for decoding: the variable's own
  netCDF type is what the bytes are (Agilent writes "Short" for double times).
* ``scan_index`` must not decrease and must agree with ``point_count``: scan ``i+1``
  starts where scan ``i`` ends, or ``flag_count[i]`` points later (Fisons/VG OPUS
  stores each scan's flag records after its peaks), and the scans must use up
  ``mass_values`` (trailing unwritten fill values excepted). Anything else is a
  :class:`FormatError` naming both variables and the scan.
* Optional attributes and variables are optional: a file without ``instrument_name``,
  ``total_intensity`` or any time stamp reads, with ``None`` where it says nothing.
* LC-MS runs (``test_separation_type`` a liquid chromatography) are refused: they are
  not GC data and their electrospray spectra cannot be matched against EI libraries.
  Direct-inlet spectra of any ionisation are read, with ``metadata.ionization`` saying
  which, so identification can decline non-EI spectra.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gcms.errors import FormatError, NotARunError
from gcms.io._common import EntryReport, SkippedEntry, build_run, peak_problem
from gcms.io._netcdf import (
    Dataset,
    decode_numeric,
    is_netcdf,
    open_dataset,
    text_values,
    variable_names,
    write_classic,
)
from gcms.run import Acquisition, Run, RunMetadata
from gcms.spectrum import Spectrum

__all__ = [
    "ANDI_MISSING",
    "FORMAT_NAME",
    "format_cas",
    "parse_timestamp",
    "read",
    "read_entries",
    "sniff",
    "write",
]

FORMAT_NAME = "andi-ms"

#: The value the ANDI templates write for "not recorded" in numeric fields.
ANDI_MISSING = -9999.0

#: SIM is inferred for a run declared as "Mass Scan" when it has at least this many
#: scans and all of them together hold no more than ``_SIM_MAX_DISTINCT_MZ`` distinct
#: m/z values: a full scan over any useful range yields far more distinct centroids,
#: a SIM method monitors its ions at exactly the same programmed m/z in every scan (HP
#: ChemStation exports SIM runs this way).
_SIM_MIN_SCANS = 10
_SIM_MAX_DISTINCT_MZ = 32

#: test_separation_type words that mean a liquid-phase (not gas) separation.
_NON_GAS_SEPARATIONS = ("liquid", "supercritical", "electrophoresis", "thin layer",
                        "thin-layer", "hplc", "ion exchange", "size exclusion",
                        "gel permeation")

#: test_ionization_mode (ANDI enumeration) -> the short name gcms reports.
_IONIZATION = {
    "electron impact": "EI",
    "electron ionization": "EI",
    "chemical ionization": "CI",
    "fast atom bombardment": "FAB",
    "field desorption": "FD",
    "field ionization": "FI",
    "electrospray ionization": "ESI",
    "electrospray": "ESI",
    "thermospray": "TSP",
    "thermospray ionization": "TSP",
    "atmospheric pressure chemical ionization": "APCI",
    "plasma desorption": "PD",
    "laser desorption": "LD",
    "laser desorption ionization": "LD",
    "matrix assisted laser desorption ionization": "MALDI",
    "spark ionization": "SI",
    "thermal ionization": "TI",
}
_IONIZATION_NAMES = {"EI": "Electron Impact", "CI": "Chemical Ionization",
                     "NCI": "Chemical Ionization", "FAB": "Fast Atom Bombardment",
                     "FD": "Field Desorption", "FI": "Field Ionization",
                     "ESI": "Electrospray Ionization", "TSP": "Thermospray",
                     "APCI": "Atmospheric Pressure Chemical Ionization",
                     "PD": "Plasma Desorption", "LD": "Laser Desorption",
                     "MALDI": "Matrix Assisted Laser Desorption Ionization",
                     "SI": "Spark Ionization", "TI": "Thermal Ionization"}

#: Time units of scan_acquisition_time -> seconds per unit.
_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
               "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
               "ms": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
               "h": 3600.0, "hour": 3600.0, "hours": 3600.0}

_INSTRUMENT_FIELDS = ("instrument_name", "instrument_id", "instrument_mfr",
                      "instrument_model", "instrument_serial_no", "instrument_sw_version",
                      "instrument_fw_version", "instrument_os_version",
                      "instrument_app_version", "instrument_comments")

#: Attributes that describe the netCDF container rather than the acquisition; the
#: writer writes its own values for them.
WRITER_OWNED_ATTRIBUTES = frozenset({
    "dataset_completeness", "ms_template_revision", "netcdf_revision", "languages",
    "netcdf_file_date_time_stamp", "raw_data_mass_format", "raw_data_time_format",
    "raw_data_intensity_format", "global_mass_min", "global_mass_max",
    "global_intensity_min", "global_intensity_max", "global_time_min", "global_time_max",
    "units", "number_of_scans", "experiment_type", "test_scan_function",
})

#: Attributes the ANDI template types as numbers (the writer keeps them numeric).
_INT_ATTRIBUTES = frozenset({"number_of_times_processed", "number_of_times_calibrated",
                             "starting_scan_number", "raw_data_uniform_sampling_flag",
                             "instrument_number"})
_FLOAT_ATTRIBUTES = frozenset({
    "test_ms_inlet_temperature", "test_electron_energy", "test_laser_wavelength",
    "test_reagent_gas_pressure", "test_source_temperature", "test_filament_current",
    "test_emission_current", "test_accelerating_potential", "test_detector_potential",
    "test_detector_entrance_potential", "test_scan_time", "calibrated_mass_min",
    "calibrated_mass_max", "actual_run_time_length", "actual_delay_time",
})

_TIMESTAMP = re.compile(
    r"^(?P<stamp>\d{14})(?:\.(?P<fraction>\d{1,6}))?(?P<zone>[+-]\d{1,4}|\d+)?$")


# --------------------------------------------------------------------------- helpers
def parse_timestamp(text: str | None) -> tuple[datetime | None, str | None]:
    """Read an ANDI/AIA date-time stamp ``YYYYMMDDhhmmss±ZZZZ``.

    Returns the time and, when it could not be read completely, a note saying why.
    Vendors vary: the zone may have three digits (``-700``, Finnigan), be absent (PE
    SCIEX) or be an unsigned number (Advion writes ``3600000``, apparently a raw
    offset in milliseconds that ignores daylight saving); without a clear ``±hhmm``
    zone the local wall-clock time is returned without a zone (naive). Stamps that are
    not dates, or lie outside 1950 to next year (``1900,01,01...`` placeholders,
    ``3991...`` typos), give ``None``.
    """
    if not text:
        return None, None
    text = text.strip()
    match = _TIMESTAMP.match(text)
    if match is None:
        return None, f"date-time stamp {text!r} is not YYYYMMDDhhmmss±ZZZZ"
    try:
        moment = datetime.strptime(match["stamp"], "%Y%m%d%H%M%S")
    except ValueError:
        return None, f"date-time stamp {text!r} is not a valid date"
    if not 1950 <= moment.year <= datetime.now().year + 1:
        return None, f"date-time stamp {text!r} is not a plausible acquisition date"
    if match["fraction"]:
        moment += timedelta(microseconds=int(match["fraction"].ljust(6, "0")))
    zone = match["zone"]
    if zone is None:
        return moment, f"date-time stamp {text!r} has no time zone (local time)"
    if zone[0] not in "+-":
        return moment, f"date-time stamp {text!r}: zone field {zone!r} is not ±hhmm " \
                       "(local time kept, zone unknown)"
    digits = zone[1:].rjust(4, "0")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes >= 60:
        return moment, f"date-time stamp {text!r}: zone {zone!r} is not a UTC offset " \
                       "(local time kept, zone unknown)"
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
    return moment.replace(tzinfo=timezone(offset)), None


def _format_timestamp(moment: datetime) -> str:
    stamp = moment.strftime("%Y%m%d%H%M%S")
    offset = moment.utcoffset()
    if offset is None:
        return stamp
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{stamp}{sign}{minutes // 60:02d}{minutes % 60:02d}"


def format_cas(number: int | None) -> tuple[str | None, bool]:
    """CAS registry number ``NNNNNNN-NN-N`` from the integer ANDI stores, and its validity.

    ANDI stores CAS numbers without hyphens (``CAS_number = 74828`` for methane,
    74-82-8). 0, negative values and -9999 mean "none". The second value says whether
    the check digit verifies: the last digit equals the sum of the other digits, each
    multiplied by its position counted from the right, modulo 10.
    """
    if number is None or number <= 0 or number < 10000:
        return None, False
    digits = str(int(number))
    body, check = digits[:-1], int(digits[-1])
    total = sum((i + 1) * int(d) for i, d in enumerate(reversed(body)))
    return f"{digits[:-3]}-{digits[-3:-1]}-{digits[-1]}", total % 10 == check


def _attribute_text(value: Any) -> str:
    """A global attribute as the text kept in ``metadata.extra``."""
    if isinstance(value, str):
        return value
    array = np.asarray(value).ravel()
    return ", ".join(str(v) for v in array)


def _text(ds: Dataset, name: str) -> str | None:
    value = ds.attributes.get(name)
    if value is None:
        return None
    text = _attribute_text(value).strip()
    return text or None


def _first_text(ds: Dataset, name: str) -> str | None:
    """First string of an optional char variable (instrument_name...), None when blank."""
    variable = ds.variables.get(name)
    if variable is None or variable.dtype.kind != "S" or variable.size == 0:
        return None
    values = text_values(ds, name)
    return values[0] if values and values[0] else None


def _integers(ds: Dataset, name: str) -> np.ndarray:
    """An integer variable as int64; fill values or -9999 are an error."""
    variable = ds.variables[name]
    if variable.dtype.kind not in "iuf":
        raise FormatError(f"{ds.path}: {name} holds {variable.dtype}, not integers")
    values, missing = decode_numeric(ds, name, missing=(ANDI_MISSING,))
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise FormatError(
            f"{ds.path}: {name} is missing (fill value or -9999) for {int(missing.sum())} "
            f"of {missing.size} entries, first at entry {first}"
        )
    if values.size and not np.all(values == np.round(values)):
        raise FormatError(f"{ds.path}: {name} holds non-integer values")
    if values.size and (values.min() < 0 or values.max() >= 2**62):
        bad = int(np.flatnonzero((values < 0) | (values >= 2**62))[0])
        raise FormatError(f"{ds.path}: {name}[{bad}] = {values[bad]:.0f} is not a valid count")
    return values.astype(np.int64)


def _require(ds: Dataset, *names: str) -> None:
    for name in names:
        if name not in ds.variables:
            raise FormatError(f"{ds.path}: ANDI MS file has no {name} variable")


def _experiment_kind(ds: Dataset) -> str:
    experiment = (_text(ds, "experiment_type") or "").lower()
    if "library" in experiment or (not experiment and "entry_name" in ds.variables):
        return "library"
    return "run"


# --------------------------------------------------------------------------- layout
class _Peaks:
    """Validated CSR layout of the spectra plus their decoded values."""

    __slots__ = ("dropped", "intensity", "mz", "n_scans", "offsets")

    def __init__(self, ds: Dataset, *, intensity_dtype: type[np.floating] = np.float32) -> None:
        path = ds.path
        _require(ds, "mass_values", "intensity_values")
        n_points = ds.variables["mass_values"].size
        if ds.variables["intensity_values"].size != n_points:
            raise FormatError(
                f"{path}: mass_values has {n_points} points but intensity_values has "
                f"{ds.variables['intensity_values'].size}"
            )
        if "scan_index" not in ds.variables and "point_count" not in ds.variables:
            raise FormatError(f"{path}: ANDI MS file has neither scan_index nor point_count")
        if "scan_index" in ds.variables:
            starts = _integers(ds, "scan_index")
        if "point_count" in ds.variables:
            counts = _integers(ds, "point_count")
        if "scan_index" not in ds.variables:
            starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        if "point_count" not in ds.variables:
            counts = np.diff(np.append(starts, n_points))
        if starts.size != counts.size:
            raise FormatError(
                f"{path}: scan_index has {starts.size} entries but point_count has "
                f"{counts.size}"
            )
        n = starts.size
        flags = np.zeros(n, dtype=np.int64)
        if "flag_count" in ds.variables and ds.variables["flag_count"].size == n:
            flag_values, flag_missing = decode_numeric(ds, "flag_count",
                                                       missing=(ANDI_MISSING,))
            if not flag_missing.any() and (flag_values >= 0).all():
                flags = flag_values.astype(np.int64)
        if n and np.any(np.diff(starts) < 0):
            i = int(np.flatnonzero(np.diff(starts) < 0)[0])
            raise FormatError(
                f"{path}: scan_index is not monotone: scan {i} starts at point "
                f"{starts[i]} but scan {i + 1} at point {starts[i + 1]}"
            )
        ends = starts + counts
        if n and ends.max() > n_points:
            i = int(np.argmax(ends > n_points))
            raise FormatError(
                f"{path}: scan {i} runs past the data: scan_index {starts[i]} + point_count "
                f"{counts[i]} > {n_points} points in mass_values"
            )
        gaps = starts[1:] - ends[:-1]
        bad = (gaps != 0) & (gaps != flags[:-1])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            expected = f"{ends[i]}" + (
                f" (or {ends[i] + flags[i]} after its flag_count {flags[i]} flag records)"
                if flags[i] else "")
            raise FormatError(
                f"{path}: scan_index and point_count disagree at scan {i}: scan_index says "
                f"scan {i} starts at point {starts[i]} with point_count {counts[i]}, so "
                f"scan {i + 1} should start at point {expected}, but scan_index says "
                f"{starts[i + 1]}"
            )
        mass, mass_missing = decode_numeric(ds, "mass_values", missing=(ANDI_MISSING,))
        intensity, intensity_missing = decode_numeric(ds, "intensity_values",
                                                      missing=(ANDI_MISSING,),
                                                      dtype=intensity_dtype)
        unusable = np.logical_or(mass_missing, intensity_missing, out=mass_missing)
        del intensity_missing
        first_point = int(starts[0]) if n else n_points
        trailing = n_points - (int(ends[-1]) if n else 0)
        trailing_ok = trailing == 0 or (n and trailing == flags[-1]) or (
            trailing > 0 and unusable[n_points - trailing:].all())
        leading_ok = first_point == 0 or unusable[:first_point].all()
        if not (trailing_ok and leading_ok):
            raise FormatError(
                f"{path}: scan_index and point_count account for points {first_point} to "
                f"{int(ends[-1]) if n else 0} (point_count sums to {int(counts.sum())}), "
                f"but mass_values holds {n_points} points"
            )
        in_place = not gaps.any() and first_point == 0 and trailing == 0
        if in_place:
            offsets = np.append(starts, n_points)
            selected_missing = unusable
        else:
            # Gather the points of each scan, skipping flag records between scans.
            total = int(counts.sum())
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            index = np.arange(total, dtype=np.int64) + np.repeat(starts - offsets[:-1],
                                                                 counts)
            mass, intensity = mass[index], intensity[index]
            selected_missing = unusable[index]
        dropped = int(selected_missing.sum())
        if dropped:
            keep = ~selected_missing
            scan_of_point = np.repeat(np.arange(n), np.diff(offsets))
            kept_per_scan = np.bincount(scan_of_point[keep], minlength=n)
            offsets = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(kept_per_scan, out=offsets[1:])
            mass, intensity = mass[keep], intensity[keep]
        self.n_scans = n
        self.offsets = offsets
        self.mz = mass
        self.intensity = intensity
        self.dropped = dropped


def _scan_times(ds: Dataset, n_scans: int) -> tuple[np.ndarray, dict[str, str]]:
    path = ds.path
    _require(ds, "scan_acquisition_time")
    variable = ds.variables["scan_acquisition_time"]
    if variable.size != n_scans:
        raise FormatError(
            f"{path}: scan_acquisition_time has {variable.size} entries but scan_index has "
            f"{n_scans}"
        )
    times, missing = decode_numeric(ds, "scan_acquisition_time", missing=(ANDI_MISSING,))
    if missing.any():
        first = int(np.flatnonzero(missing)[0])
        raise FormatError(
            f"{path}: scan_acquisition_time is missing (fill value or -9999) for "
            f"{int(missing.sum())} of {n_scans} scans, first at scan {first}"
        )
    notes = {}
    unit = variable.attributes.get("units")
    if isinstance(unit, str) and unit.strip():
        factor = _TIME_UNITS.get(unit.strip().lower())
        if factor is None:
            notes["gcms.scan_time_units"] = (
                f"scan_acquisition_time units {unit.strip()!r} not a time unit; "
                "taken as seconds"
            )
        elif factor != 1.0:
            times = times * factor
            notes["gcms.scan_time_units"] = f"converted from {unit.strip()} to seconds"
    return times, notes


def _file_tic(ds: Dataset, n_scans: int, peaks: _Peaks) -> tuple[np.ndarray | None, str]:
    """The vendor's total_intensity, or None (recompute) with the reason."""
    variable = ds.variables.get("total_intensity")
    if variable is None:
        return None, "no total_intensity in the file; summed from the spectra"
    if variable.size != n_scans or variable.dtype.kind not in "iuf":
        return None, (f"total_intensity has {variable.size} values for {n_scans} scans; "
                      "summed from the spectra")
    tic, missing = decode_numeric(ds, "total_intensity", missing=(ANDI_MISSING,))
    if missing.any():
        return None, "total_intensity not recorded (fill or -9999); summed from the spectra"
    if n_scans and not tic.any() and peaks.intensity.any():
        return None, "total_intensity is all zero; summed from the spectra"
    return tic, ""


# --------------------------------------------------------------------------- metadata
def _ionization(ds: Dataset) -> str | None:
    mode = _text(ds, "test_ionization_mode")
    if mode is None:
        return None
    short = _IONIZATION.get(mode.lower(), mode)
    polarity = (_text(ds, "test_ionization_polarity") or "").lower()
    if short == "CI" and polarity.startswith("negative"):
        return "NCI"
    return short


def _refuse_liquid_chromatography(ds: Dataset) -> None:
    separation = _text(ds, "test_separation_type")
    if separation is None:
        return
    words = separation.lower()
    if "gas" in words or not any(w in words for w in _NON_GAS_SEPARATIONS):
        return
    details = [f"test_separation_type {separation!r}"]
    for key in ("test_ionization_mode", "test_ms_inlet", "source_file_format"):
        value = _text(ds, key)
        if value:
            details.append(f"{key} {value!r}")
    raise FormatError(
        f"{ds.path}: not GC-MS data: an LC-MS acquisition ({', '.join(details)}); gcms "
        "reads gas-chromatography and direct-inlet mass spectra, and LC/electrospray "
        "spectra cannot be identified against EI libraries"
    )


def _acquisition(ds: Dataset, peaks: _Peaks) -> tuple[Acquisition, str | None]:
    experiment = (_text(ds, "experiment_type") or "").lower()
    function = (_text(ds, "test_scan_function") or "").lower()
    if "selected ion" in function or function in ("sim", "sid", "sir", "mid"):
        return "sim", None
    if "continuum" in experiment or "profile" in experiment:
        return "profile", None
    if (peaks.n_scans >= _SIM_MIN_SCANS and peaks.mz.size
            and function in ("", "mass scan")):
        # A full scan shows many distinct m/z within its first scans: look there first.
        distinct = np.unique(peaks.mz[:4096])
        if distinct.size <= _SIM_MAX_DISTINCT_MZ:
            distinct = np.unique(peaks.mz)
        if distinct.size <= _SIM_MAX_DISTINCT_MZ:
            listed = ", ".join(f"{v:g}" for v in distinct[:8])
            more = ", ..." if distinct.size > 8 else ""
            return "sim", (
                f"sim: declared {(_text(ds, 'test_scan_function') or 'no scan function')!r} "
                f"but every one of the {peaks.n_scans} scans holds only the same "
                f"{distinct.size} m/z values ({listed}{more})"
            )
    return "scan", None


def _instrument(ds: Dataset) -> tuple[str | None, dict[str, str]]:
    found = {name: _first_text(ds, name) for name in _INSTRUMENT_FIELDS}
    parts = {k: v for k, v in found.items() if v}
    return _compose_instrument(parts), parts


def _metadata(ds: Dataset, *, acquisition: Acquisition, notes: dict[str, str]) -> RunMetadata:
    extra: dict[str, str] = {}
    for key, value in ds.attributes.items():
        text = _attribute_text(value).strip()
        if text:
            extra[key] = text
    instrument, parts = _instrument(ds)
    extra.update(parts)
    acquired_at, stamp_note = parse_timestamp(_text(ds, "experiment_date_time_stamp"))
    if stamp_note:
        notes["gcms.acquired_at"] = stamp_note
    extra["gcms.netcdf_format"] = ds.kind
    extra.update(notes)
    sample = None
    for key in ("experiment_title", "sample_name", "sample_internal_id",
                "sample_external_id"):
        sample = _text(ds, key)
        if sample:
            break
    return RunMetadata(
        sample_name=sample,
        acquired_at=acquired_at,
        operator=_text(ds, "operator_name"),
        instrument=instrument,
        method=_text(ds, "external_file_ref_0"),
        tune_file=_text(ds, "test_mass_calibration_file_name"),
        source_path=str(ds.path),
        data_file=str(ds.path),
        sha256=ds.sha256,
        format=FORMAT_NAME,
        acquisition=acquisition,
        detector="MS",
        ionization=_ionization(ds),
        extra=extra,
    )


# --------------------------------------------------------------------------- reading
def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``path`` is an ANDI MS file: netCDF holding mass_values / scan_index.

    A classic netCDF file whose header cannot be parsed is claimed too, so that reading
    it reports what is damaged rather than "unknown format".
    """
    kind = is_netcdf(head)
    if kind is None:
        return False
    names = variable_names(path, head)
    if names is None:
        return kind == "classic"
    return bool({"mass_values", "scan_index", "intensity_values"} & names) or (
        "point_count" in names and "ordinate_values" not in names)


def _run_fields(ds: Dataset) -> dict[str, Any]:
    """The decoded arrays and metadata of an acquisition, for :func:`build_run`."""
    path = ds.path
    if _experiment_kind(ds) == "library":
        n = ds.variables["scan_index"].size if "scan_index" in ds.variables else 0
        raise NotARunError(
            f"{path}: an ANDI MS library file ({n} entries, experiment_type "
            f"{_text(ds, 'experiment_type')!r}), not an acquisition: read it with "
            "gcms.io.read_entries()"
        )
    _refuse_liquid_chromatography(ds)
    peaks = _Peaks(ds)
    times, notes = _scan_times(ds, peaks.n_scans)
    tic, tic_note = _file_tic(ds, peaks.n_scans, peaks)
    if tic_note:
        notes["gcms.tic"] = tic_note
    if peaks.dropped:
        notes["gcms.dropped_points"] = (
            f"{peaks.dropped} points whose m/z or intensity is a fill value or -9999"
        )
    acquisition, inferred = _acquisition(ds, peaks)
    if inferred:
        notes["gcms.acquisition_inferred"] = inferred
    metadata = _metadata(ds, acquisition=acquisition, notes=notes)
    return {"scan_times": times, "scan_offsets": peaks.offsets, "mz": peaks.mz,
            "intensity": peaks.intensity, "tic": tic, "metadata": metadata}


def read(path: str | os.PathLike) -> Run:
    """Read an ANDI/AIA MS netCDF acquisition (ASTM E2077/E2078) into a :class:`Run`.

    Classic, 64-bit-offset and netCDF-4 files; opened read-only, hashed as read. See the
    module docstring for the decoding rules.

    Raises
    ------
    FormatError
        Damaged or inconsistent file, a library file (use :func:`read_entries`), or an
        LC-MS acquisition; the message names the file and the problem.
    """
    with open_dataset(path) as ds:
        fields = _run_fields(ds)
    # Built once the file's bytes are let go: the run's checks then never sit beside them.
    return build_run(path, **fields)


def _entry_strings(ds: Dataset, name: str, n: int) -> list[str | None]:
    variable = ds.variables.get(name)
    if variable is None or variable.dtype.kind != "S" or variable.shape[:1] != (n,):
        return [None] * n
    return [value or None for value in text_values(ds, name)]


def _entry_numbers(ds: Dataset, name: str, n: int) -> np.ndarray:
    """Per-entry numbers with NaN where missing (fill, -9999) or absent."""
    variable = ds.variables.get(name)
    if variable is None or variable.dtype.kind not in "iuf" or variable.shape != (n,):
        return np.full(n, np.nan)
    values, _ = decode_numeric(ds, name, missing=(ANDI_MISSING,))
    return values


def read_entries(path: str | os.PathLike) -> EntryReport:
    """Read an ANDI MS library file: one :class:`Spectrum` per entry.

    Entry fields: ``entry_name`` (name), ``chemical_formula``, ``CAS_number`` (integer,
    formatted ``NNN-NN-N``), ``nominal_mass`` (mw), ``other_name_0..3`` (synonyms),
    ``retention_index``; the rest (``entry_id``, ``smiles``, ``CAS_name``,
    ``accurate_mass``...) go to ``extra`` where present. Entries without peaks, whose
    intensities are all zero, or with a peak no EI spectrum holds (m/z outside 0.5 to
    5,000, a negative intensity: the value named) are skipped and reported.

    Raises
    ------
    FormatError
        The file is damaged, or holds an acquisition rather than library spectra.
    """
    with open_dataset(path) as ds:
        if _experiment_kind(ds) != "library":
            run = build_run(ds.path, **_run_fields(ds))  # the file's own problem, if any
            raise FormatError(
                f"{ds.path}: an ANDI MS acquisition ({run.n_scans} scans, experiment_type "
                f"{_text(ds, 'experiment_type')!r}), not a library: read it with "
                "gcms.io.read()"
            )
        peaks = _Peaks(ds, intensity_dtype=np.float64)  # library intensities kept exact
        n = peaks.n_scans
        source = str(ds.path)
        names = _entry_strings(ds, "entry_name", n)
        formulas = _entry_strings(ds, "chemical_formula", n)
        synonyms = [_entry_strings(ds, f"other_name_{k}", n) for k in range(4)]
        text_fields = {key: _entry_strings(ds, key, n)
                       for key in ("entry_id", "CAS_name", "smiles", "wiswesser",
                                   "molfile_reference", "other_structure", "retention_type",
                                   "retention_reference_name", "source_data_file_reference",
                                   "entry_other_information")}
        cas_numbers = _entry_numbers(ds, "CAS_number", n)
        nominal = _entry_numbers(ds, "nominal_mass", n)
        retention_index = _entry_numbers(ds, "retention_index", n)
        entry_numbers = _entry_numbers(ds, "entry_number", n)
        number_fields = {key: _entry_numbers(ds, key, n)
                         for key in ("accurate_mass", "chemical_mass", "absolute_retention",
                                     "relative_retention", "melting_point", "boiling_point",
                                     "retention_reference_CAS")}
        report = EntryReport(sha256=ds.sha256)
        offsets, mz, intensity = peaks.offsets, peaks.mz, peaks.intensity
        # One Spectrum per entry is what a library is; the loop builds the objects only,
        # every array was decoded above in one pass.
        for i in range(n):
            label = f"{int(entry_numbers[i]) if np.isfinite(entry_numbers[i]) else i + 1}"
            shown = f"{label} ({names[i]})" if names[i] else label
            start, stop = offsets[i], offsets[i + 1]
            if stop == start:
                report.skipped.append(SkippedEntry(source, shown, "no peaks"))
                continue
            if not intensity[start:stop].any():
                report.skipped.append(SkippedEntry(source, shown, "all intensities are zero"))
                continue
            problem = peak_problem(mz[start:stop], intensity[start:stop])
            if problem is not None:
                report.skipped.append(SkippedEntry(source, shown, problem))
                continue
            extra: dict[str, str] = {"entry_number": label}
            cas, cas_ok = (format_cas(int(cas_numbers[i])) if np.isfinite(cas_numbers[i])
                           else (None, False))
            if cas and not cas_ok:
                extra["gcms.cas_check_digit"] = "does not verify"
            for key, texts in text_fields.items():
                if text := texts[i]:
                    extra[key] = text
            for key, numbers in number_fields.items():
                if np.isfinite(numbers[i]):
                    extra[key] = f"{numbers[i]:g}"
            mw = nominal[i] if np.isfinite(nominal[i]) and nominal[i] > 0 else None
            ri = retention_index[i] if np.isfinite(retention_index[i]) else None
            report.spectra.append(Spectrum(
                mz=mz[start:stop],
                intensity=intensity[start:stop],
                name=names[i],
                synonyms=tuple(synonym for s in synonyms if (synonym := s[i])),
                cas=cas,
                formula=formulas[i],
                mw=mw,
                retention_index=ri,
                source=source,
                source_entry=f"entry {label}",
                extra=extra,
            ))
        return report


# --------------------------------------------------------------------------- writing
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@+-]*$")


def _char_rows(values: list[str]) -> tuple[np.ndarray, int]:
    encoded = [v.encode("utf-8") for v in values]
    longest = max((len(v) for v in encoded), default=0)
    width = next((w for w in (32, 64, 128, 255) if longest <= w), longest)
    array = np.zeros((len(encoded), width), dtype="S1")
    for row, raw in enumerate(encoded):
        array[row, :len(raw)] = np.frombuffer(raw, dtype="S1")
    return array, width


def _attribute_value(key: str, text: str) -> Any:
    try:
        if key in _INT_ATTRIBUTES:
            return np.int32(int(text))
        if key in _FLOAT_ATTRIBUTES:
            return float(text)
    except ValueError:
        return text
    return text


def write(run: Run, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``run`` as a classic (CDF-1) ANDI MS netCDF file.

    Variables: ``scan_acquisition_time`` (double, seconds), ``scan_index``,
    ``point_count``, ``flag_count``, ``actual_scan_number``, ``total_intensity``
    (double), ``mass_range_min/max``, ``mass_values`` (double: the run's m/z exactly)
    and ``intensity_values`` (float: the run's intensities exactly) along an unlimited
    ``point_number``, ``error_log`` and the ``instrument_*`` strings. Metadata become
    global attributes: sample name -> ``experiment_title``, acquired-at ->
    ``experiment_date_time_stamp``, operator -> ``operator_name``, method ->
    ``external_file_ref_0``, tune file -> ``test_mass_calibration_file_name``,
    ionization -> ``test_ionization_mode``, acquisition -> ``experiment_type`` and
    ``test_scan_function``; every other ``metadata.extra`` entry is written under its
    own name except the reader's ``gcms.*`` notes. Reading the file back gives the same
    arrays and metadata.

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is false (evidence is never replaced silently).
    ValueError
        The run cannot be stored in ANDI MS (no scans, a trace run, too many points).
    """
    path = Path(path)
    meta = run.metadata
    if run.n_scans == 0:
        raise ValueError("an ANDI MS file needs at least one scan; the run has none")
    if meta.acquisition == "trace":
        raise ValueError("a detector trace (no spectra) is not ANDI MS data")
    if run.n_peaks >= 2**31:
        raise ValueError(f"{run.n_peaks} points exceed ANDI's 32-bit scan_index")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path}: exists; pass overwrite=True to replace it")

    extra = dict(meta.extra)
    attributes: dict[str, Any] = {
        "dataset_completeness": "C1+C2",
        "ms_template_revision": "1.0.1",
        "netcdf_revision": "3.6.3",
        "languages": "English",
        "netcdf_file_date_time_stamp": _format_timestamp(
            datetime.now(timezone.utc).replace(microsecond=0)),
    }
    for key, value in extra.items():
        if (key.startswith("gcms.") or key in WRITER_OWNED_ATTRIBUTES
                or key in _INSTRUMENT_FIELDS or not _NAME.match(key)):
            continue
        attributes[key] = _attribute_value(key, value)

    def put(key: str, value: str | None) -> None:
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value

    put("experiment_title", meta.sample_name)
    put("operator_name", meta.operator)
    put("external_file_ref_0", meta.method)
    put("test_mass_calibration_file_name", meta.tune_file)
    if meta.acquired_at is not None:
        kept = parse_timestamp(extra.get("experiment_date_time_stamp"))[0]
        if kept != meta.acquired_at or (kept.utcoffset() != meta.acquired_at.utcoffset()):
            attributes["experiment_date_time_stamp"] = _format_timestamp(meta.acquired_at)
    if meta.ionization is not None:
        raw = extra.get("test_ionization_mode")
        polarity = extra.get("test_ionization_polarity", "")
        same = raw is not None and (_IONIZATION.get(raw.lower(), raw) == meta.ionization or (
            meta.ionization == "NCI" and _IONIZATION.get(raw.lower()) == "CI"
            and polarity.lower().startswith("negative")))
        if not same:
            attributes["test_ionization_mode"] = _IONIZATION_NAMES.get(
                meta.ionization, meta.ionization)
            if meta.ionization == "NCI":
                attributes["test_ionization_polarity"] = "Negative Polarity"
    else:
        attributes.pop("test_ionization_mode", None)
    attributes["experiment_type"] = ("Continuum Mass Spectrum" if meta.acquisition == "profile"
                                     else "Centroided Mass Spectrum")
    attributes["test_scan_function"] = ("Selected Ion Detection" if meta.acquisition == "sim"
                                        else "Mass Scan")
    if "source_file_reference" not in attributes and meta.source_path:
        attributes["source_file_reference"] = meta.source_path
    if "source_file_format" not in attributes and meta.format:
        attributes["source_file_format"] = meta.format
    attributes["raw_data_mass_format"] = "Double"
    attributes["raw_data_time_format"] = "Double"
    attributes["raw_data_intensity_format"] = "Float"
    attributes["units"] = "Seconds"
    if run.n_peaks:
        attributes["global_mass_min"] = float(run.mz.min())
        attributes["global_mass_max"] = float(run.mz.max())
        attributes["global_intensity_min"] = float(run.intensity.min())
        attributes["global_intensity_max"] = float(run.intensity.max())

    counts = run.points_per_scan
    starts = run.scan_offsets[:-1]
    nonempty = counts > 0
    low = np.full(run.n_scans, ANDI_MISSING)
    high = np.full(run.n_scans, ANDI_MISSING)
    if run.n_peaks:
        low[nonempty] = np.minimum.reduceat(run.mz, starts[nonempty])
        high[nonempty] = np.maximum.reduceat(run.mz, starts[nonempty])

    instrument = {k: extra[k] for k in _INSTRUMENT_FIELDS if extra.get(k)}
    if meta.instrument is None:
        instrument = {}
    elif _compose_instrument(instrument) != meta.instrument:
        instrument = {"instrument_name": meta.instrument}
    char_vars = []
    widths = {32}
    for key, value in instrument.items():
        rows, width = _char_rows([value])
        widths.add(width)
        char_vars.append((key, rows, width))
    error_log = np.zeros((1, 64), dtype="S1")

    dimensions: list[tuple[str, int | None]] = [
        (f"_{w}_byte_string", w) for w in sorted(widths | {64})
    ]
    dimensions += [("error_number", 1), ("scan_number", run.n_scans),
                   ("point_number", None), ("instrument_number", 1)]
    scan = ("scan_number",)
    variables: list[tuple[str, tuple[str, ...], np.ndarray, dict[str, Any]]] = [
        ("error_log", ("error_number", "_64_byte_string"), error_log, {}),
        ("scan_acquisition_time", scan, run.scan_times.astype(">f8"), {"units": "Seconds"}),
        ("actual_scan_number", scan, np.arange(run.n_scans, dtype=">i4"), {}),
        ("total_intensity", scan, run.tic.astype(">f8"),
         {"units": "Arbitrary Intensity Units"}),
        ("mass_range_min", scan, low.astype(">f8"), {}),
        ("mass_range_max", scan, high.astype(">f8"), {}),
        ("scan_index", scan, starts.astype(">i4"), {}),
        ("point_count", scan, counts.astype(">i4"), {}),
        ("flag_count", scan, np.zeros(run.n_scans, dtype=">i4"), {}),
        ("mass_values", ("point_number",), run.mz.astype(">f8"), {"units": "M/Z"}),
        ("intensity_values", ("point_number",), run.intensity.astype(">f4"),
         {"units": "Arbitrary Intensity Units"}),
    ]
    for key, rows, width in char_vars:
        variables.append((key, ("instrument_number", f"_{width}_byte_string"), rows, {}))

    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write_classic(temporary, dimensions=dimensions, attributes=attributes,
                      variables=variables)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _compose_instrument(parts: dict[str, str]) -> str | None:
    """One line naming the instrument: manufacturer, model, name (no repeats), serial."""
    words: list[str] = []
    for key in ("instrument_mfr", "instrument_model", "instrument_name"):
        value = parts.get(key)
        if value and value.lower() not in " ".join(words).lower():
            words.append(value)
    label = " ".join(words) or None
    if label and parts.get("instrument_serial_no"):
        label += f" (serial {parts['instrument_serial_no']})"
    return label

