"""AIA chromatography netCDF: every real vendor file against netCDF4, edge cases."""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract

import gcms.io
from gcms import FormatError
from gcms.io import andi_chrom

netCDF4 = pytest.importorskip("netCDF4")

REAL_FILES = sorted(
    [p for p in (SHARED_DATA / "andi-roundrobin" / "aia_chromatography").rglob("*")
     if p.suffix.lower() == ".cdf"] if SHARED_DATA.exists() else []
) + [p for p in (SHARED_DATA / "netcdf-gcms" / "agilent-gcms-tic.cdf",
                 SHARED_DATA / "netcdf-gcms" / "agilent-hplc.cdf") if p.exists()]


# --------------------------------------------------------------------------- generator
def write_chrom(path: Path, *, n: int = 200, interval: float | None = 0.5,
                delay: float | None = 1.0, unit: str | None = "seconds",
                retention: np.ndarray | None = None, signal: np.ndarray | None = None,
                peaks: dict | None = None, attributes: dict | None = None,
                fmt: str = "NETCDF3_CLASSIC") -> Path:
    """An AIA chromatography file written with the netCDF4 library (raw values)."""
    if signal is None:
        t = np.arange(n)
        signal = 100.0 + 5e3 * np.exp(-0.5 * ((t - 60) / 4.0) ** 2) + 2e3 * np.exp(
            -0.5 * ((t - 140) / 6.0) ** 2)
    if peaks is None:
        peaks = {
            "peak_retention_time": [31.0, 71.0],
            "peak_start_time": [25.0, 62.0],
            "peak_end_time": [37.0, 80.0],
            "peak_area": [5.0e4, 3.0e4],
            "peak_height": [5.0e3, 2.0e3],
            "peak_area_percent": [62.5, 37.5],
            "peak_name": ["cocaine", "lidocaine"],
        }
    attrs = {
        "dataset_completeness": "C1+C2",
        "aia_template_revision": "1.0",
        "injection_date_time_stamp": "20240105143000+0100",
        "sample_name": "exhibit 4",
        "operator_name": "JD",
        "detector_name": "FID1 A",
        "detection_method_name": "DRUGS.M",
        "separation_experiment_type": "gas chromatography",
    }
    if unit is not None:
        attrs["retention_unit"] = unit
    attrs.update(attributes or {})
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.set_fill_off()
        ds.createDimension("point_number", len(signal))
        n_peaks = len(peaks.get("peak_retention_time", []))
        ds.createDimension("peak_number", n_peaks if n_peaks else None)
        ds.createDimension("_32_byte_string", 32)
        for key, value in attrs.items():
            if value is not None:
                ds.setncattr(key, value)
        for name, value in (("actual_sampling_interval", interval),
                            ("actual_delay_time", delay)):
            if value is not None:
                ds.createVariable(name, "f4", ())[...] = value
        var = ds.createVariable("ordinate_values", "f4", ("point_number",))
        var.set_auto_maskandscale(False)
        var.uniform_sampling_flag = "Y" if retention is None else "N"
        var[:] = signal
        if retention is not None:
            ds.createVariable("raw_data_retention", "f4", ("point_number",))[:] = retention
        for name, values in peaks.items():
            if name == "peak_name":
                pv = ds.createVariable(name, "S1", ("peak_number", "_32_byte_string"))
                pv[:] = netCDF4.stringtochar(np.array(values, dtype="S32"))
            else:
                pv = ds.createVariable(name, "f4", ("peak_number",))
                pv.set_auto_maskandscale(False)
                pv[:] = values
    return path


_WORK = None


def _generated() -> Path:
    global _WORK
    if _WORK is None:
        _WORK = Path(tempfile.mkdtemp(prefix="gcms-aia-"))
        atexit.register(shutil.rmtree, _WORK, True)
    path = _WORK / "trace.cdf"
    if not path.exists():
        write_chrom(path)
    return path


def _real(*names: str) -> list[Path]:
    return [p for p in (SHARED_DATA / n for n in names) if p.exists()]


class TestAiaContract(ReaderContract, MutationContract):
    format_name = "aia-chromatography"
    holds = "runs"
    garbage_suffix = ".cdf"

    def sample_files(self, tmp_path):
        return [_generated(), *_real("netcdf-gcms/agilent-gcms-tic.cdf",
                                     "andi-roundrobin/aia_chromatography/Shimadzu/CLASSVP.CDF")]

    def mutation_files(self):
        return [_generated(), *_real("andi-roundrobin/aia_chromatography/Varian/VARIAN1.CDF")]


# --------------------------------------------------------------------------- real files
def _reference(path: Path):
    """Times, signal and peak columns as the netCDF4 library reads them, in seconds."""
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)
        unit_text = getattr(ds, "retention_unit", getattr(ds, "retention_units", "seconds"))
        unit = 60.0 if "min" in unit_text.lower() else 1.0
        signal = np.asarray(ds["ordinate_values"][:], dtype=np.float64)
        if "raw_data_retention" in ds.variables:
            times = np.asarray(ds["raw_data_retention"][:], dtype=np.float64) * unit
        else:
            interval = float(ds["actual_sampling_interval"][...])
            delay = float(ds["actual_delay_time"][...]) if (
                "actual_delay_time" in ds.variables) else 0.0
            times = (delay + interval * np.arange(signal.size)) * unit
        peaks = {}
        for name in ("peak_retention_time", "peak_area", "peak_height", "peak_area_percent",
                     "peak_start_time", "peak_end_time"):
            if name in ds.variables:
                peaks[name] = np.asarray(ds[name][:], dtype=np.float64)
        names = None
        if "peak_name" in ds.variables:
            names = [str(s).split("\x00", 1)[0].strip() or None
                     for s in netCDF4.chartostring(ds["peak_name"][:], encoding="latin-1")]
    return times, signal, peaks, names, unit


@pytest.mark.shared
@pytest.mark.parametrize("path", REAL_FILES, ids=lambda p: p.name)
def test_every_real_aia_file_matches_the_netcdf4_library(path):
    import os

    before = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns)
    assert gcms.io.sniff(path) == "aia-chromatography"
    run = gcms.io.read(path)
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns) == before
    times, signal, peaks, names, unit = _reference(path)
    np.testing.assert_allclose(run.scan_times, times, rtol=0, atol=1e-9 * max(1, times.max()))
    np.testing.assert_array_equal(run.tic, signal)
    assert run.metadata.acquisition == "trace" and run.n_peaks == 0
    assert run.metadata.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    table = run.vendor_peaks
    if "peak_retention_time" not in peaks:
        assert table is None
        return
    np.testing.assert_allclose(table.retention_time_s, peaks["peak_retention_time"] * unit)
    np.testing.assert_array_equal(table.area, peaks.get("peak_area", np.nan))
    if "peak_height" in peaks and not (peaks["peak_height"] == -1).all():
        np.testing.assert_array_equal(table.height, peaks["peak_height"])
    else:
        assert np.isnan(table.height).all()
    if "peak_area_percent" in peaks:
        np.testing.assert_array_equal(table.area_percent, peaks["peak_area_percent"])
    if names is not None:
        assert list(table.names) == names
    # Wherever the file gives bounds, every retention time lies between them.
    known = np.isfinite(table.start_s) & np.isfinite(table.end_s)
    step = np.median(np.diff(run.scan_times))
    assert (table.start_s[known] <= table.retention_time_s[known] + step).all()
    assert (table.retention_time_s[known] <= table.end_s[known] + step).all()


@pytest.mark.shared
def test_agilent_msd_tic_with_its_integration_table():
    run = gcms.io.read(shared_file("netcdf-gcms", "agilent-gcms-tic.cdf"))
    assert run.n_scans == 1645 and len(run.vendor_peaks) == 43
    meta = run.metadata
    assert meta.detector == "MSD1 TIC, MS File"
    assert meta.sample_name == "rmsimone_RSD10-005_CC1"
    assert meta.method == "RSD_1-2_A1_100-0%_20+10MIN.M"
    assert meta.operator == "SYSTEM"
    assert meta.acquired_at == datetime(2019, 3, 14, 16, 38, tzinfo=timezone.utc)
    # Non-uniform sampling: the times are the file's own raw_data_retention.
    assert run.scan_times[0] == pytest.approx(3.381)
    np.testing.assert_allclose(run.vendor_peaks.area_percent.sum(), 100.0, rtol=1e-3)


@pytest.mark.shared
def test_shimadzu_minutes_and_sample_index_bounds():
    run = gcms.io.read(shared_file("andi-roundrobin", "aia_chromatography", "Shimadzu",
                                   "CLASSVP.CDF"))
    table = run.vendor_peaks
    # retention_unit "Minutes": 1.6708 min = 100.25 s, sampled every 0.25 s.
    assert table.retention_time_s[0] == pytest.approx(100.25, abs=1e-4)
    assert run.scan_times[1] - run.scan_times[0] == pytest.approx(0.25, abs=1e-6)
    # Start/end are stored as sample indices 382 and 470.
    assert table.start_s[0] == pytest.approx(382 * 0.25, abs=1e-4)
    assert table.end_s[0] == pytest.approx(470 * 0.25, abs=1e-4)
    assert "sample indices" in run.metadata.extra["gcms.peak_bounds"]


@pytest.mark.shared
def test_varian_heights_of_minus_one_are_not_recorded():
    run = gcms.io.read(shared_file("andi-roundrobin", "aia_chromatography", "Varian",
                                   "VARIAN1.CDF"))
    assert np.isnan(run.vendor_peaks.height).all()
    assert np.isfinite(run.vendor_peaks.area).all()
    assert "not recorded" in run.metadata.extra["gcms.peak_height"]


@pytest.mark.shared
def test_gc_peak_names_of_the_cal_mixture():
    run = gcms.io.read(shared_file("andi-roundrobin", "aia_chromatography", "CAL_3.CDF"))
    assert run.vendor_peaks.names[:3] == ("2-Octanone", "1-Octanol", "n-Decane")


@pytest.mark.shared
def test_implausible_injection_stamps_give_no_date():
    run = gcms.io.read(shared_file("andi-roundrobin", "aia_chromatography",
                                   "Thru-Put Systems", "tgntpe41.cdf"))
    assert run.metadata.acquired_at is None
    assert run.metadata.extra["injection_date_time_stamp"] == "39910409093300+0000"
    assert run.scan_times[0] == -2.5  # a negative delay is kept as written


# --------------------------------------------------------------------------- edge cases
def test_generated_trace_and_peak_table(tmp_path):
    run = gcms.io.read(write_chrom(tmp_path / "fid.cdf"))
    np.testing.assert_allclose(run.scan_times, 1.0 + 0.5 * np.arange(200))
    assert run.metadata.detector == "FID1 A" and run.metadata.acquisition == "trace"
    assert run.metadata.sample_name == "exhibit 4" and run.metadata.method == "DRUGS.M"
    assert run.metadata.acquired_at == datetime(2024, 1, 5, 14, 30,
                                                tzinfo=timezone(timedelta(hours=1)))
    assert run.tic.argmax() == 60
    table = run.vendor_peaks
    np.testing.assert_array_equal(table.retention_time_s, [31.0, 71.0])
    np.testing.assert_array_equal(table.start_s, [25.0, 62.0])
    np.testing.assert_array_equal(table.area_percent, [62.5, 37.5])
    assert table.names == ("cocaine", "lidocaine")
    assert table.to_dict()["names"] == ["cocaine", "lidocaine"]


def test_minutes_become_seconds(tmp_path):
    run = gcms.io.read(write_chrom(tmp_path / "min.cdf", unit="Minutes", interval=0.01,
                                   delay=0.0, peaks={"peak_retention_time": [0.5],
                                                     "peak_start_time": [0.4],
                                                     "peak_end_time": [0.6]}))
    np.testing.assert_allclose(run.scan_times[:3], [0.0, 0.6, 1.2], atol=1e-6)
    np.testing.assert_allclose(run.vendor_peaks.retention_time_s, [30.0], atol=1e-5)
    np.testing.assert_allclose(run.vendor_peaks.start_s, [24.0], atol=1e-5)


def test_non_uniform_sampling_uses_raw_data_retention(tmp_path):
    retention = np.cumsum(np.linspace(0.2, 0.8, 200))
    run = gcms.io.read(write_chrom(tmp_path / "nonuniform.cdf", retention=retention,
                                   interval=None, delay=None))
    np.testing.assert_array_equal(run.scan_times, retention.astype(np.float32))


def test_missing_sampling_information_is_an_error(tmp_path):
    with pytest.raises(FormatError, match="no sampling times"):
        gcms.io.read(write_chrom(tmp_path / "notimes.cdf", interval=None))


def test_fill_values_inside_the_signal_are_refused(tmp_path):
    """A hole in the trace (fill, -9999, NaN) would give another time axis than the file
    declares: refused, naming the first point and how many."""
    signal = np.linspace(1.0, 2.0, 200)
    signal[[5, 6]] = 9.9692099683868690e36
    signal[10] = -9999.0
    with pytest.raises(FormatError, match=r"gaps.cdf: ordinate_values point 6 of 200 \(at "
                                          r"3.500 s\) is not data .* and 3 such points"):
        gcms.io.read(write_chrom(tmp_path / "gaps.cdf", signal=signal))
    signal = np.linspace(1.0, 2.0, 200)
    signal[100] = np.nan
    with pytest.raises(FormatError, match="point 101 of 200"):
        gcms.io.read(write_chrom(tmp_path / "nan.cdf", signal=signal))


def test_unwritten_points_at_the_end_are_left_out(tmp_path):
    signal = np.linspace(1.0, 2.0, 200)
    signal[-3:] = 9.9692099683868690e36
    run = gcms.io.read(write_chrom(tmp_path / "stopped.cdf", signal=signal))
    assert run.n_scans == 197 and run.tic.max() <= 2.0
    assert "3 points after the last written one" in run.metadata.extra["gcms.dropped_points"]


def test_file_without_peak_table(tmp_path):
    run = gcms.io.read(write_chrom(tmp_path / "raw.cdf", peaks={}))
    assert run.vendor_peaks is None and run.n_scans == 200
    empty = gcms.io.read(write_chrom(tmp_path / "none.cdf", peaks={
        "peak_retention_time": [], "peak_area": []}))
    assert empty.vendor_peaks is not None and len(empty.vendor_peaks) == 0


def test_missing_columns_are_nan_and_minus_one_columns_not_recorded(tmp_path):
    run = gcms.io.read(write_chrom(tmp_path / "partial.cdf", peaks={
        "peak_retention_time": [31.0, 71.0], "peak_area": [1.0, 2.0],
        "peak_height": [-1.0, -1.0]}))
    table = run.vendor_peaks
    assert np.isnan(table.start_s).all() and np.isnan(table.area_percent).all()
    assert np.isnan(table.height).all()
    assert table.names == (None, None)


def test_baseline_times_stand_in_for_missing_peak_bounds(tmp_path):
    run = gcms.io.read(write_chrom(tmp_path / "baseline.cdf", peaks={
        "peak_retention_time": [31.0], "baseline_start_time": [28.0],
        "baseline_stop_time": [35.0]}))
    np.testing.assert_array_equal(run.vendor_peaks.start_s, [28.0])
    np.testing.assert_array_equal(run.vendor_peaks.end_s, [35.0])


def test_netcdf4_file_reads_like_classic(tmp_path):
    classic = gcms.io.read(write_chrom(tmp_path / "c.cdf"))
    other = gcms.io.read(write_chrom(tmp_path / "n4.cdf", fmt="NETCDF4"))
    np.testing.assert_array_equal(other.scan_times, classic.scan_times)
    np.testing.assert_array_equal(other.tic, classic.tic)
    assert other.vendor_peaks.names == classic.vendor_peaks.names


def test_sniffing_tells_chromatography_from_ms(tmp_path):
    path = write_chrom(tmp_path / "trace.bin")
    assert andi_chrom.sniff(path, path.read_bytes()[:65536])
    assert gcms.io.sniff(path) == "aia-chromatography"
    assert not andi_chrom.sniff(path, b"\x00\x01garbage")
