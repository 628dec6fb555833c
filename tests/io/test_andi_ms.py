"""ANDI MS netCDF: real files of eight data systems against netCDF4, edge cases, the writer."""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract

import gcms.io
from gcms import FormatError, Run, RunMetadata
from gcms.io import andi_ms

netCDF4 = pytest.importorskip("netCDF4")

ROUND_ROBIN = SHARED_DATA / "andi-roundrobin" / "andi_ms"
RUN_FILES = [
    "netcdf-gcms/agilent-gcms.cdf", "netcdf-gcms/advion-gcms.cdf",
    "netcdf-gcms/advion-expression.cdf",
    *(f"andi-roundrobin/andi_ms/{name}" for name in (
        "EXTREL/CENTSCNH.CDF", "EXTREL/CENTSCNL.CDF", "EXTREL/CENTSIDH.CDF",
        "EXTREL/CENTSIDL.CDF", "EXTREL/CONTINUM.CDF", "FINNIGAN/CENTSCNH.CDF",
        "FINNIGAN/CENTSCNL.CDF", "FINNIGAN/CONTINUM.CDF", "FISONS_A/CENTSCNH.CDF",
        "FISONS_A/CENTSCNL.CDF", "FISONS_A/CENTSIDH.CDF", "FISONS_A/CONTINUM.CDF",
        "HP/CENTSCNH.CDF", "HP/CENTSIDH.CDF", "TEST/QD.CDF")),
]
LIBRARY_FILES = {
    "EXTREL/LIBRARY.CDF": "extrel_benzene_toluene.msp",
    "FINNIGAN/LIBRARY.CDF": "finnigan_tx_lib_first100.msp",
    "FISONS_A/LIBRARY.CDF": "fisons_nist_naphthalenediol_42.msp",
    "TEST/NIST_50.CDF": "nist_50.msp",
}
LC_FILES = ["CENTSCNH.CDF", "CENTSCNL.CDF", "CENTSIDH.CDF", "CENTSIDL.CDF", "CONTINUM.CDF"]


# --------------------------------------------------------------------------- generator
def spectra_fixture():
    """Five scans: one empty, one with a single peak, varied sizes."""
    mz = [np.array([41.0, 43.1, 57.0]), np.array([], dtype=float), np.array([91.05]),
          np.array([50.0, 51.0, 77.0, 78.0]), np.array([105.0, 120.2])]
    intensity = [np.array([100.0, 2500.0, 999.5]), np.array([], dtype=float),
                 np.array([12.0]), np.array([5.0, 6.0, 7.0, 8.0]), np.array([3.0, 4.0])]
    times = np.array([60.5, 61.25, 62.0, 62.75, 63.5])
    return mz, intensity, times


def write_andi(path: Path, *, fmt: str = "NETCDF3_CLASSIC", attributes: dict | None = None,
               variables: dict | None = None, drop: tuple[str, ...] = (),
               unlimited_points: bool = True, spectra=None) -> Path:
    """An ANDI MS file written with the netCDF4 library (raw values, no auto-scaling).

    ``variables`` overrides or adds ``name: (dims, dtype, data, attrs)``; attrs may hold
    ``_FillValue``. ``drop`` leaves variables out.
    """
    mz, intensity, times = spectra or spectra_fixture()
    counts = np.array([m.size for m in mz], dtype=np.int32)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int32)
    all_mz = np.concatenate(mz)
    all_intensity = np.concatenate(intensity)
    tic = np.array([i.sum() for i in intensity])
    base = {
        "scan_acquisition_time": (("scan_number",), "f8", times, {}),
        "scan_index": (("scan_number",), "i4", starts, {}),
        "point_count": (("scan_number",), "i4", counts, {}),
        "flag_count": (("scan_number",), "i4", np.zeros_like(counts), {}),
        "total_intensity": (("scan_number",), "f8", tic,
                            {"units": "Arbitrary Intensity Units"}),
        "mass_values": (("point_number",), "f8", all_mz, {"units": "M/Z"}),
        "intensity_values": (("point_number",), "f4", all_intensity,
                             {"units": "Arbitrary Intensity Units"}),
        "instrument_name": (("instrument_number", "_32_byte_string"), "S1",
                            "Test quadrupole", {}),
        "instrument_mfr": (("instrument_number", "_32_byte_string"), "S1", "Acme", {}),
        "instrument_serial_no": (("instrument_number", "_32_byte_string"), "S1", "SN42", {}),
    }
    base.update(variables or {})
    for name in drop:
        base.pop(name, None)
    global_attributes = {
        "dataset_completeness": "C1+C2",
        "ms_template_revision": "1.0.1",
        "experiment_title": "exhibit 12 powder",
        "experiment_date_time_stamp": "20240105143000+0100",
        "operator_name": "JD",
        "external_file_ref_0": "DRUGS.M",
        "experiment_type": "Centroided Mass Spectrum",
        "test_separation_type": "Gas-Liquid Chromatography",
        "test_ionization_mode": "Electron Impact",
        "test_ionization_polarity": "Positive Polarity",
        "test_scan_function": "Mass Scan",
        "raw_data_mass_format": "Double",
        "raw_data_time_format": "Short",
        "raw_data_intensity_format": "Float",
        "dataset_origin": "Lab 3",
        "number_of_times_processed": np.int32(1),
    }
    global_attributes.update(attributes or {})
    global_attributes = {k: v for k, v in global_attributes.items() if v is not None}
    n_scans = len(base["scan_acquisition_time"][2]) if "scan_acquisition_time" in base else len(
        times)
    n_points = len(base["mass_values"][2]) if "mass_values" in base else all_mz.size
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.createDimension("_32_byte_string", 32)
        ds.createDimension("_64_byte_string", 64)
        ds.createDimension("_255_byte_string", 255)
        ds.createDimension("scan_number", n_scans)
        ds.createDimension("point_number", None if unlimited_points else max(n_points, 1))
        ds.createDimension("instrument_number", 1)
        for key, value in global_attributes.items():
            ds.setncattr(key, value)
        for name, (dims, dtype, data, attrs) in base.items():
            attrs = dict(attrs)
            fill = attrs.pop("_FillValue", None)
            var = ds.createVariable(name, dtype, dims, fill_value=fill)
            var.set_auto_maskandscale(False)
            for key, value in attrs.items():
                var.setncattr(key, value)
            if dtype == "S1":
                rows = [data] if isinstance(data, str) else list(data)
                width = len(ds.dimensions[dims[-1]])
                var[:] = netCDF4.stringtochar(np.array(rows, dtype=f"S{width}"))
            else:
                var[:] = np.asarray(data)
    return path


def write_library(path: Path, *, clean: bool = False) -> Path:
    """A 4-entry library (an empty and an all-zero entry among them); ``clean`` fills those
    two with peaks so every entry reads."""
    mz = [np.array([15.0, 16.0]), np.array([], dtype=float), np.array([27.0, 45.0, 46.0]),
          np.array([12.0, 28.0])]
    intensity = [np.array([888.0, 999.0]), np.array([], dtype=float),
                 np.array([100.0, 999.0, 500.0]), np.array([0.0, 0.0])]
    if clean:
        mz[1], intensity[1] = np.array([40.0]), np.array([10.0])
        intensity[3] = np.array([5.0, 9.0])
    times = np.full(4, -9999.0)
    n = 4
    names = ["Methane", "Empty entry", "Ethanol", "Dead entry"]
    variables = {
        "entry_name": (("scan_number", "_255_byte_string"), "S1", names, {}),
        "chemical_formula": (("scan_number", "_64_byte_string"), "S1",
                             ["CH4", "", "C2H6O", ""], {}),
        "CAS_number": (("scan_number",), "i4", [74828, -9999, 64175, 0], {}),
        "nominal_mass": (("scan_number",), "i4", [16, -9999, 46, 28], {}),
        "entry_number": (("scan_number",), "i4", [1, 2, 3, 4], {}),
        "other_name_0": (("scan_number", "_255_byte_string"), "S1",
                         ["Marsh gas", "", "Ethyl alcohol", ""], {}),
        "retention_index": (("scan_number",), "f8", [-9999.0, -9999.0, 452.0, -9999.0], {}),
        "entry_id": (("scan_number", "_32_byte_string"), "S1", ["", "", "ID3", ""], {}),
    }
    assert len(names) == n
    return write_andi(path, spectra=(mz, intensity, times), variables=variables,
                      attributes={"experiment_type": "Library Mass Spectrum",
                                  "experiment_title": None},
                      drop=("total_intensity",))


_WORK = None


def _work_dir() -> Path:
    """A folder of generated files that lives for the test session (hypothesis needs files
    without fixtures)."""
    global _WORK
    if _WORK is None:
        _WORK = Path(tempfile.mkdtemp(prefix="gcms-andi-ms-"))
        atexit.register(shutil.rmtree, _WORK, True)
    return _WORK


def generated_run_file() -> Path:
    path = _work_dir() / "generated.cdf"
    if not path.exists():
        write_andi(path)
    return path


def generated_library_file() -> Path:
    path = _work_dir() / "library.cdf"
    if not path.exists():
        write_library(path, clean=True)
    return path


def _real(*names: str) -> list[Path]:
    return [p for p in (SHARED_DATA / n for n in names) if p.exists()]


# --------------------------------------------------------------------------- contracts
class TestAndiRunContract(ReaderContract, MutationContract):
    format_name = "andi-ms"
    holds = "runs"
    garbage_suffix = ".cdf"

    def sample_files(self, tmp_path):
        return [generated_run_file(), *_real("netcdf-gcms/agilent-gcms.cdf",
                                             "andi-roundrobin/andi_ms/FISONS_A/CENTSCNH.CDF")]

    def mutation_files(self):
        return [generated_run_file(), *_real("andi-roundrobin/andi_ms/HP/CENTSIDH.CDF")]


class TestAndiLibraryContract(ReaderContract, MutationContract):
    format_name = "andi-ms"
    holds = "spectra"
    garbage_suffix = ".cdf"

    def sample_files(self, tmp_path):
        return [generated_library_file(), *_real("andi-roundrobin/andi_ms/TEST/NIST_50.CDF")]

    def mutation_files(self):
        return [generated_library_file()]


# --------------------------------------------------------------------------- real files
def reference_run(path: Path):
    """Scans read with the netCDF4 library, one scan at a time, by the ANDI definition:
    scan i is points scan_index[i] .. scan_index[i] + point_count[i]."""
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)  # scale_factor/add_offset still applied by netCDF4
        starts = ds["scan_index"][:]
        counts = ds["point_count"][:]
        mass = np.asarray(ds["mass_values"][:], dtype=np.float64)
        intensity = np.asarray(ds["intensity_values"][:], dtype=np.float64)
        times = np.asarray(ds["scan_acquisition_time"][:], dtype=np.float64)
        tic = np.asarray(ds["total_intensity"][:], dtype=np.float64) if (
            "total_intensity" in ds.variables) else None
    fill = np.float32(9.9692099683868690e36)
    scans = []
    for start, count in zip(starts, counts, strict=True):
        m = mass[start:start + count]
        i = intensity[start:start + count]
        keep = (m != -9999) & (i != -9999) & (m != fill) & (i != fill)
        scans.append((m[keep], i[keep]))
    return times, scans, tic


@pytest.mark.shared
@pytest.mark.parametrize("name", RUN_FILES)
def test_real_runs_match_the_netcdf4_library_value_by_value(name):
    path = shared_file(*name.split("/"))
    run = gcms.io.read(path)
    times, scans, tic = reference_run(path)
    np.testing.assert_array_equal(run.scan_times, times)
    assert run.n_scans == len(scans)
    np.testing.assert_array_equal(run.points_per_scan, [m.size for m, _ in scans])
    np.testing.assert_array_equal(run.mz, np.concatenate([m for m, _ in scans]))
    np.testing.assert_array_equal(
        run.intensity, np.concatenate([i for _, i in scans]).astype(np.float32))
    if tic is not None and (tic != -9999).all():
        np.testing.assert_array_equal(run.tic, tic)
    else:
        np.testing.assert_allclose(run.tic, [i.sum() for _, i in scans], rtol=1e-6)
    assert run.metadata.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert run.metadata.format == "andi-ms"


ALL_MS_FILES = sorted(
    [p for p in ROUND_ROBIN.rglob("*") if p.suffix.upper() == ".CDF"]
    + [p for p in (SHARED_DATA / "netcdf-gcms").glob("*.cdf")
       if "tic" not in p.name and "hplc" not in p.name]
) if SHARED_DATA.exists() else []


@pytest.mark.shared
@pytest.mark.parametrize("path", ALL_MS_FILES, ids=lambda p: str(p.relative_to(SHARED_DATA)))
def test_every_real_file_is_hashed_before_and_after_and_left_untouched(path):
    import os

    before = (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns)
    assert gcms.io.sniff(path) == "andi-ms"
    try:
        result = gcms.io.read(path)
        assert result.metadata.sha256 == before[0]
    except FormatError as error:  # a library file or an LC-MS run: said so, by name
        assert str(path) in str(error)
        assert "library" in str(error) or "LC-MS" in str(error)
        if "library" in str(error):
            assert gcms.io.read_entries(path).spectra
    assert (hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns) == before


@pytest.mark.shared
def test_agilent_run_metadata():
    run = gcms.io.read(shared_file("netcdf-gcms", "agilent-gcms.cdf"))
    meta = run.metadata
    assert run.n_scans == 6401 and run.n_peaks == 157201
    assert run.rt_range_s == (5.25, 3779.754)
    assert meta.sample_name == "P071 Essence super BP"
    assert meta.acquired_at == datetime(2007, 9, 23, 4, 8, tzinfo=timezone(timedelta(hours=2)))
    assert meta.operator == "SC"
    assert meta.method == "FIRE_RTL.M"
    assert meta.instrument == "Gas Chromatograph"
    assert meta.acquisition == "scan" and meta.ionization == "EI"
    assert meta.extra["dataset_origin"] == "Santa Clara, CA"
    assert meta.extra["number_of_times_processed"] == "1"
    assert meta.extra["number_of_times_calibrated"] == "0"
    # The file says "Short" for its times, which are doubles with milliseconds.
    assert meta.extra["raw_data_time_format"] == "Short"
    assert abs(run.scan_times[2] - 6.429) < 1e-9


@pytest.mark.shared
@pytest.mark.parametrize("name, acquisition, ionization", [
    ("EXTREL/CENTSIDH.CDF", "sim", "EI"),
    ("FISONS_A/CENTSIDH.CDF", "sim", "EI"),
    ("EXTREL/CONTINUM.CDF", "profile", "EI"),
    ("FISONS_A/CONTINUM.CDF", "profile", "FAB"),
    ("HP/CENTSCNH.CDF", "scan", "EI"),
])
def test_acquisition_modes_of_the_round_robin(name, acquisition, ionization):
    run = gcms.io.read(shared_file("andi-roundrobin", "andi_ms", *name.split("/")))
    assert run.metadata.acquisition == acquisition
    assert run.metadata.ionization == ionization


@pytest.mark.shared
def test_hp_sim_run_declared_as_mass_scan_is_recognised():
    run = gcms.io.read(shared_file("andi-roundrobin", "andi_ms", "HP", "CENTSIDH.CDF"))
    assert run.metadata.acquisition == "sim"
    assert "4 m/z values" in run.metadata.extra["gcms.acquisition_inferred"]
    assert run.metadata.extra["test_scan_function"] == "Mass Scan"
    # Documented ground truth: hexachlorobenzene at 367.0 s (m/z 283.8/285.8),
    # triphenylmethane at 457.2 s (m/z 244.2/165.1).
    assert abs(run.scan_times[np.argmax(run.xic(283.8, 0.1))] - 367.0) < 1.0
    assert abs(run.scan_times[np.argmax(run.xic(244.2, 0.1))] - 457.2) < 1.0


@pytest.mark.shared
def test_fisons_flag_records_between_scans_are_not_read_as_peaks():
    path = shared_file("andi-roundrobin", "andi_ms", "FISONS_A", "CENTSCNH.CDF")
    run = gcms.io.read(path)
    with netCDF4.Dataset(path) as ds:
        counts = ds["point_count"][:]
        flags = ds["flag_count"][:]
        n_points = len(ds.dimensions["point_number"])
    assert flags.sum() > 0 and counts.sum() + flags.sum() == n_points
    np.testing.assert_array_equal(run.points_per_scan, counts)
    # The flag records hold small point indices as "masses"; PFK peaks start at 39.
    assert run.mz.min() > 30


@pytest.mark.shared
@pytest.mark.parametrize("name", LC_FILES)
def test_lc_esi_files_are_refused_as_not_gc_data(name):
    path = shared_file("andi-roundrobin", "andi_ms", "PE_SCIEX", name)
    with pytest.raises(FormatError, match="not GC-MS data: an LC-MS acquisition") as caught:
        gcms.io.read(path)
    assert str(path) in str(caught.value)
    assert "Electrospray" in str(caught.value)
    # The library path gives the same reason, not "use read()".
    with pytest.raises(FormatError, match="LC-MS"):
        gcms.io.read_entries(path)


@pytest.mark.shared
def test_advion_direct_inlet_esi_files_are_read_and_say_so():
    run = gcms.io.read(shared_file("netcdf-gcms", "advion-gcms.cdf"))
    assert run.metadata.ionization == "ESI"
    assert run.metadata.acquisition == "profile"
    assert run.metadata.acquired_at == datetime(2020, 6, 22, 11, 11, 26)
    assert run.metadata.acquired_at.tzinfo is None
    assert "zone" in run.metadata.extra["gcms.acquired_at"]


def _read_msp(path: Path) -> list[dict]:
    entries, current = [], None
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line.strip():
            current = None
            continue
        match = re.match(r"^([A-Za-z#]+): ?(.*)$", line)
        if match and match.group(1) != "Num" and not line[0].isdigit():
            if match.group(1) == "Name":
                current = {"peaks": []}
                entries.append(current)
            current[match.group(1)] = match.group(2)
        elif line.startswith("Num Peaks"):
            continue
        else:
            mz, intensity = line.split()
            current["peaks"].append((float(mz), float(intensity)))
    return entries


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(LIBRARY_FILES))
def test_library_files_match_the_independent_msp_conversion(name):
    path = shared_file("andi-roundrobin", "andi_ms", *name.split("/"))
    expected = _read_msp(shared_file("andi-roundrobin", "derived", LIBRARY_FILES[name]))
    report = gcms.io.read_entries(path)
    assert not report.skipped
    assert len(report.spectra) == len(expected)
    for spectrum, entry in zip(report.spectra, expected, strict=True):
        assert spectrum.name == entry["Name"]
        assert spectrum.formula == (entry["Formula"] or None)
        mw = float(entry["MW"])
        assert spectrum.mw == (mw if mw > 0 else None)
        cas = int(entry["CAS#"])
        assert spectrum.cas == andi_ms.format_cas(cas)[0]
        if int(entry["DB#"]) > 0:
            assert spectrum.source_entry == f"entry {entry['DB#']}"
        want = np.array(entry["peaks"])
        order = np.argsort(want[:, 0], kind="stable")
        np.testing.assert_array_equal(spectrum.mz, want[order, 0])
        np.testing.assert_allclose(spectrum.intensity, want[order, 1], rtol=1e-5)


@pytest.mark.shared
def test_nist_library_entries_carry_cas_synonyms_and_smiles():
    report = gcms.io.read_entries(shared_file("andi-roundrobin", "andi_ms", "TEST",
                                              "NIST_50.CDF"))
    methane = report.spectra[0]
    assert methane.name == "Methane" and methane.cas == "74-82-8"
    assert methane.synonyms == ("Marsh gas", "Methyl hydride")
    assert methane.extra["smiles"] == "C"
    assert "gcms.cas_check_digit" not in methane.extra


@pytest.mark.shared
def test_gcms_info_json_on_the_agilent_run(tmp_path):
    from click.testing import CliRunner
    from gcms_cli.main import cli

    garbage = tmp_path / "garbage.cdf"
    garbage.write_bytes(b"CDF\x01garbage")
    path = shared_file("netcdf-gcms", "agilent-gcms.cdf")
    result = CliRunner().invoke(cli, ["info", "--json", str(path)])
    assert result.exit_code == 0, result.output
    import json

    (summary,) = json.loads(result.output)
    assert summary["n_scans"] == 6401 and summary["format"] == "andi-ms"
    result = CliRunner().invoke(cli, ["info", str(garbage), str(path)])
    assert result.exit_code == 2
    assert "garbage.cdf" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------- edge cases
def test_generated_run_reads_values_and_metadata(tmp_path):
    run = gcms.io.read(write_andi(tmp_path / "run.cdf"))
    mz, intensity, times = spectra_fixture()
    np.testing.assert_array_equal(run.scan_times, times)
    np.testing.assert_array_equal(run.points_per_scan, [3, 0, 1, 4, 2])
    np.testing.assert_array_equal(run.mz, np.concatenate(mz))
    np.testing.assert_array_equal(run.intensity, np.concatenate(intensity))
    np.testing.assert_array_equal(run.tic, [i.sum() for i in intensity])
    meta = run.metadata
    assert meta.sample_name == "exhibit 12 powder"
    assert meta.acquired_at == datetime(2024, 1, 5, 14, 30, tzinfo=timezone(timedelta(hours=1)))
    assert meta.operator == "JD" and meta.method == "DRUGS.M"
    assert meta.instrument == "Acme Test quadrupole (serial SN42)"
    assert meta.extra["instrument_serial_no"] == "SN42"
    assert meta.extra["dataset_origin"] == "Lab 3"
    assert meta.acquisition == "scan" and meta.ionization == "EI"


def test_instrument_variables_are_optional(tmp_path):
    path = write_andi(tmp_path / "bare.cdf", drop=(
        "instrument_name", "instrument_mfr", "instrument_serial_no", "total_intensity",
        "flag_count"), attributes={"operator_name": None, "experiment_date_time_stamp": None,
                                   "external_file_ref_0": None, "experiment_title": None})
    run = gcms.io.read(path)
    assert run.metadata.instrument is None and run.metadata.operator is None
    assert run.metadata.acquired_at is None and run.metadata.sample_name is None
    np.testing.assert_array_equal(run.tic, [3599.5, 0, 12, 26, 7])


@pytest.mark.parametrize("fill, attrs", [
    (9.9692099683868690e36, {}),  # the netCDF default fill of a float
    (-1.0e30, {"_FillValue": -1.0e30}),  # the variable's own fill value
    (-9999.0, {}),  # ANDI "not recorded"
])
def test_fill_values_are_never_read_as_data(tmp_path, fill, attrs):
    mz, intensity, times = spectra_fixture()
    mass = np.concatenate(mz)
    mass[1] = fill
    inten = np.concatenate(intensity).astype(np.float32)
    inten[5] = np.float32(fill)
    path = write_andi(tmp_path / "fill.cdf", variables={
        "mass_values": (("point_number",), "f8", mass, dict(attrs)),
        "intensity_values": (("point_number",), "f4", inten, dict(attrs)),
    })
    run = gcms.io.read(path)
    assert run.n_peaks == mass.size - 2
    np.testing.assert_array_equal(run.points_per_scan, [2, 0, 1, 3, 2])
    assert run.mz.max() < 1000 and run.intensity.max() < 1e6
    assert "2 points" in run.metadata.extra["gcms.dropped_points"]


def test_dropped_points_next_to_empty_scans(tmp_path):
    mz = [np.array([], dtype=float), np.array([41.0, -9999.0]), np.array([], dtype=float)]
    intensity = [np.array([], dtype=float), np.array([5.0, 6.0]), np.array([], dtype=float)]
    path = write_andi(tmp_path / "edges.cdf", spectra=(mz, intensity, np.array([1.0, 2, 3])),
                      drop=("total_intensity",))
    run = gcms.io.read(path)
    np.testing.assert_array_equal(run.points_per_scan, [0, 1, 0])
    np.testing.assert_array_equal(run.tic, [0.0, 5.0, 0.0])


def test_trailing_unwritten_points_are_ignored(tmp_path):
    mz, intensity, _ = spectra_fixture()
    mass = np.append(np.concatenate(mz), [9.9692099683868690e36] * 3)
    inten = np.append(np.concatenate(intensity), [9.9692099683868690e36] * 3)
    path = write_andi(tmp_path / "tail.cdf", variables={
        "mass_values": (("point_number",), "f8", mass, {}),
        "intensity_values": (("point_number",), "f4", inten, {}),
    })
    run = gcms.io.read(path)
    assert run.n_peaks == 10


def test_scale_factor_and_offset_are_applied(tmp_path):
    mz, intensity, _ = spectra_fixture()
    stored_mass = np.round(np.concatenate(mz) * 100).astype(np.int32)
    stored_intensity = np.round(np.concatenate(intensity) * 2).astype(np.int32)
    path = write_andi(tmp_path / "scaled.cdf", variables={
        "mass_values": (("point_number",), "i4", stored_mass, {"scale_factor": 0.01}),
        "intensity_values": (("point_number",), "i4", stored_intensity,
                             {"scale_factor": 1000.0, "add_offset": 5.0}),
    })
    run = gcms.io.read(path)
    np.testing.assert_allclose(run.mz, stored_mass * 0.01)
    np.testing.assert_allclose(run.intensity, stored_intensity * 1000.0 + 5.0, rtol=1e-7)


@pytest.mark.parametrize("unit, factor", [("Minutes", 60.0), ("min", 60.0),
                                          ("Seconds", 1.0), ("ms", 1e-3)])
def test_scan_times_in_other_units_become_seconds(tmp_path, unit, factor):
    _, _, times = spectra_fixture()
    path = write_andi(tmp_path / "minutes.cdf", variables={
        "scan_acquisition_time": (("scan_number",), "f8", times / factor, {"units": unit}),
    })
    np.testing.assert_allclose(gcms.io.read(path).scan_times, times, rtol=1e-12)


def test_scan_index_and_point_count_that_disagree_are_named(tmp_path):
    path = write_andi(tmp_path / "disagree.cdf", variables={
        "point_count": (("scan_number",), "i4", [3, 1, 1, 4, 2], {}),
    })
    with pytest.raises(FormatError, match=r"scan_index and point_count disagree at scan 1") as e:
        gcms.io.read(path)
    assert str(path) in str(e.value)


def test_scan_index_must_be_monotone(tmp_path):
    path = write_andi(tmp_path / "monotone.cdf", variables={
        "scan_index": (("scan_number",), "i4", [0, 3, 3, 2, 8], {}),
    })
    with pytest.raises(FormatError, match="scan_index is not monotone"):
        gcms.io.read(path)


def test_point_counts_must_use_up_mass_values(tmp_path):
    mz, intensity, _ = spectra_fixture()
    path = write_andi(tmp_path / "extra.cdf", variables={
        "mass_values": (("point_number",), "f8", np.append(np.concatenate(mz), 99.0), {}),
        "intensity_values": (("point_number",), "f4",
                             np.append(np.concatenate(intensity), 1.0), {}),
    })
    with pytest.raises(FormatError, match="point_count sums to 10.*mass_values holds 11"):
        gcms.io.read(path)


def test_point_counts_beyond_the_data_are_refused(tmp_path):
    path = write_andi(tmp_path / "beyond.cdf", variables={
        "point_count": (("scan_number",), "i4", [3, 0, 1, 4, 5], {}),
    })
    with pytest.raises(FormatError, match="runs past the data"):
        gcms.io.read(path)


def test_flag_records_between_scans_are_skipped(tmp_path):
    # Fisons/VG OPUS layout: each scan's flag records follow its peaks.
    masses = [41.0, 43.0, 0.0, 57.0, 58.0, 59.0, 1.0, 2.0, 60.0]
    intensities = [1.0, 2.0, 16.0, 3.0, 4.0, 5.0, 16.0, 16.0, 6.0]
    path = write_andi(tmp_path / "flags.cdf", spectra=(
        [np.array([41.0])] * 3, [np.array([1.0])] * 3, np.array([1.0, 2.0, 3.0])),
        variables={
            "scan_index": (("scan_number",), "i4", [0, 3, 8], {}),
            "point_count": (("scan_number",), "i4", [2, 3, 1], {}),
            "flag_count": (("scan_number",), "i4", [1, 2, 0], {}),
            "mass_values": (("point_number",), "f8", masses, {}),
            "intensity_values": (("point_number",), "f4", intensities, {}),
        }, drop=("total_intensity",))
    run = gcms.io.read(path)
    np.testing.assert_array_equal(run.mz, [41.0, 43.0, 57.0, 58.0, 59.0, 60.0])
    np.testing.assert_array_equal(run.points_per_scan, [2, 3, 1])


def test_missing_scan_times_are_an_error(tmp_path):
    _, _, times = spectra_fixture()
    times = times.copy()
    times[2] = -9999.0
    path = write_andi(tmp_path / "notime.cdf", variables={
        "scan_acquisition_time": (("scan_number",), "f8", times, {})})
    with pytest.raises(FormatError, match="scan_acquisition_time is missing.*scan 2"):
        gcms.io.read(path)


def test_unrecorded_tic_is_summed_from_the_spectra(tmp_path):
    path = write_andi(tmp_path / "tic.cdf", variables={
        "total_intensity": (("scan_number",), "f8", np.full(5, -9999.0), {})})
    run = gcms.io.read(path)
    np.testing.assert_allclose(run.tic, [3599.5, 0, 12, 26, 7])
    assert "summed" in run.metadata.extra["gcms.tic"]


@pytest.mark.parametrize("attributes, acquisition, ionization", [
    ({"test_scan_function": "Selected Ion Detection"}, "sim", "EI"),
    ({"experiment_type": "Continuum Mass Spectrum"}, "profile", "EI"),
    ({"test_ionization_mode": "Chemical Ionization",
      "test_ionization_polarity": "Negative Polarity"}, "scan", "NCI"),
    ({"test_ionization_mode": "Chemical Ionization"}, "scan", "CI"),
    ({"test_ionization_mode": "Electrospray Ionization",
      "test_separation_type": "No Chromatography"}, "scan", "ESI"),
    ({"test_ionization_mode": None}, "scan", None),
])
def test_acquisition_and_ionization_modes(tmp_path, attributes, acquisition, ionization):
    run = gcms.io.read(write_andi(tmp_path / "mode.cdf", attributes=attributes))
    assert run.metadata.acquisition == acquisition
    assert run.metadata.ionization == ionization


@pytest.mark.parametrize("separation", ["Reverse Phase Liquid Chromatography",
                                        "Supercritical Fluid Chromatography"])
def test_generated_lc_run_is_refused(tmp_path, separation):
    path = write_andi(tmp_path / "lc.cdf", attributes={"test_separation_type": separation})
    with pytest.raises(FormatError, match="not GC-MS data"):
        gcms.io.read(path)


@pytest.mark.parametrize("stamp, expected", [
    ("20070923040800+0200", datetime(2007, 9, 23, 4, 8, tzinfo=timezone(timedelta(hours=2)))),
    ("19930703125624-700", datetime(1993, 7, 3, 12, 56, 24,
                                    tzinfo=timezone(timedelta(hours=-7)))),
    ("19921207133207+0000", datetime(1992, 12, 7, 13, 32, 7, tzinfo=timezone.utc)),
    ("19930826111721", datetime(1993, 8, 26, 11, 17, 21)),
    ("202006221111263600000", datetime(2020, 6, 22, 11, 11, 26)),
    ("1900,01,01,00:00:00+0000", None),
    ("39910409093300+0000", None),
    ("20241345000000+0000", None),
    ("", None),
])
def test_timestamps_with_vendor_variations(stamp, expected):
    moment, note = andi_ms.parse_timestamp(stamp)
    assert moment == expected
    if expected is not None:
        assert (moment.tzinfo is None) == (note is not None)


def test_timestamp_in_a_file_with_a_three_digit_zone(tmp_path):
    run = gcms.io.read(write_andi(tmp_path / "zone.cdf", attributes={
        "experiment_date_time_stamp": "19930703125624-700"}))
    assert run.metadata.acquired_at.utcoffset() == timedelta(hours=-7)


def test_raw_data_time_format_short_with_double_times(tmp_path):
    times = np.array([5.25, 5.84, 6.429, 7.019, 7.609])
    run = gcms.io.read(write_andi(tmp_path / "short.cdf", variables={
        "scan_acquisition_time": (("scan_number",), "f8", times, {})},
        attributes={"raw_data_time_format": "Short"}))
    np.testing.assert_array_equal(run.scan_times, times)


@pytest.mark.parametrize("fmt", ["NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA", "NETCDF4",
                                 "NETCDF4_CLASSIC"])
def test_other_netcdf_layouts_read_like_classic(tmp_path, fmt):
    classic = gcms.io.read(write_andi(tmp_path / "classic.cdf"))
    other_path = write_andi(tmp_path / "other.cdf", fmt=fmt)
    assert gcms.io.sniff(other_path) == "andi-ms"
    other = gcms.io.read(other_path)
    for name in ("scan_times", "scan_offsets", "mz", "intensity", "tic"):
        np.testing.assert_array_equal(getattr(other, name), getattr(classic, name))
    assert other.metadata.instrument == classic.metadata.instrument
    assert other.metadata.acquired_at == classic.metadata.acquired_at
    assert other.metadata.extra["gcms.netcdf_format"] != "classic"


def test_generated_library_entries(tmp_path):
    report = gcms.io.read_entries(write_library(tmp_path / "lib.cdf"))
    assert [s.name for s in report.spectra] == ["Methane", "Ethanol"]
    methane, ethanol = report.spectra
    assert methane.cas == "74-82-8" and methane.formula == "CH4" and methane.mw == 16
    assert methane.synonyms == ("Marsh gas",) and methane.retention_index is None
    assert ethanol.cas == "64-17-5" and ethanol.retention_index == 452.0
    assert ethanol.extra["entry_id"] == "ID3"
    np.testing.assert_array_equal(ethanol.mz, [27.0, 45.0, 46.0])
    np.testing.assert_array_equal(ethanol.intensity, [100.0, 999.0, 500.0])
    assert [(s.entry, s.reason) for s in report.skipped] == [
        ("2 (Empty entry)", "no peaks"), ("4 (Dead entry)", "all intensities are zero")]


def test_library_and_run_are_told_apart(tmp_path):
    library = write_library(tmp_path / "lib.cdf")
    with pytest.raises(FormatError, match="library file .*read_entries"):
        gcms.io.read(library)
    with pytest.raises(FormatError, match="acquisition .*gcms.io.read"):
        gcms.io.read_entries(write_andi(tmp_path / "run.cdf"))


@pytest.mark.parametrize("number, expected, valid", [
    (74828, "74-82-8", True), (7732185, "7732-18-5", True), (58082, "58-08-2", True),
    (74829, "74-82-9", False), (0, None, False), (-9999, None, False),
])
def test_cas_numbers(number, expected, valid):
    assert andi_ms.format_cas(number) == (expected, valid)


def test_sniffing(tmp_path):
    path = write_andi(tmp_path / "x.bin")
    head = path.read_bytes()[:65536]
    assert andi_ms.sniff(path, head)
    assert not andi_ms.sniff(path, b"MZ\x00\x00")
    other = tmp_path / "other.nc"
    with netCDF4.Dataset(other, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("time", 2)
        ds.createVariable("temperature", "f4", ("time",))[:] = [1, 2]
    assert not andi_ms.sniff(other, other.read_bytes())
    with pytest.raises(FormatError, match="not a format gcms reads"):
        gcms.io.sniff(other)


# --------------------------------------------------------------------------- writer
def _assert_same_run(a: Run, b: Run) -> None:
    for name in ("scan_times", "scan_offsets", "mz", "intensity", "tic"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert getattr(a, name).dtype == getattr(b, name).dtype
    for name in ("sample_name", "acquired_at", "operator", "instrument", "method",
                 "tune_file", "acquisition", "ionization", "detector"):
        assert getattr(a.metadata, name) == getattr(b.metadata, name), name
    owned = andi_ms.WRITER_OWNED_ATTRIBUTES | {"source_file_reference", "source_file_format"}
    for key, value in a.metadata.extra.items():
        if key in owned or key.startswith("gcms."):
            continue
        assert b.metadata.extra.get(key) == value, key


def _run_from_scratch() -> Run:
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 40, size=50)
    counts[[0, 17, 49]] = 0
    n = int(counts.sum())
    return Run(
        scan_times=np.cumsum(rng.uniform(0.2, 0.6, size=50)) + 180.0,
        scan_offsets=np.concatenate(([0], np.cumsum(counts))),
        mz=rng.uniform(35.0, 550.0, size=n),
        intensity=rng.uniform(0.0, 1e6, size=n).astype(np.float32),
        metadata=RunMetadata(
            sample_name="Exhibit 7 – résidu", operator="AB",
            acquired_at=datetime(2025, 3, 1, 9, 30, 15, tzinfo=timezone(timedelta(hours=-5))),
            instrument="Agilent 5977B GC/MSD (serial US1234)", method="SEIZED.M",
            tune_file="ATUNE.U", ionization="EI", acquisition="scan",
            extra={"lab_case": "2025-0042", "gcms.note": "not written"},
        ),
    )


def test_writer_round_trip_through_gcms_and_netcdf4(tmp_path):
    run = _run_from_scratch()
    path = tmp_path / "written.cdf"
    andi_ms.write(run, path)
    back = gcms.io.read(path)
    _assert_same_run(run, back)
    assert back.metadata.extra["lab_case"] == "2025-0042"
    assert "gcms.note" not in back.metadata.extra
    with netCDF4.Dataset(path) as ds:
        assert ds.data_model == "NETCDF3_CLASSIC"
        assert ds.experiment_title == "Exhibit 7 – résidu"
        assert ds.experiment_date_time_stamp == "20250301093015-0500"
        assert ds.test_mass_calibration_file_name == "ATUNE.U"
        np.testing.assert_array_equal(ds["scan_acquisition_time"][:], run.scan_times)
        np.testing.assert_array_equal(ds["scan_index"][:], run.scan_offsets[:-1])
        np.testing.assert_array_equal(ds["point_count"][:], run.points_per_scan)
        np.testing.assert_array_equal(ds["mass_values"][:], run.mz)
        np.testing.assert_array_equal(ds["intensity_values"][:], run.intensity)
        np.testing.assert_array_equal(ds["total_intensity"][:], run.tic)
        name = netCDF4.chartostring(ds["instrument_name"][:])[0]
        assert name == run.metadata.instrument


@pytest.mark.shared
@pytest.mark.parametrize("name", ["netcdf-gcms/agilent-gcms.cdf",
                                  "andi-roundrobin/andi_ms/FINNIGAN/CENTSCNH.CDF",
                                  "andi-roundrobin/andi_ms/FISONS_A/CENTSCNH.CDF",
                                  "netcdf-gcms/advion-expression.cdf"])
def test_writer_round_trip_of_real_runs(tmp_path, name):
    run = gcms.io.read(shared_file(*name.split("/")))
    path = tmp_path / "copy.cdf"
    andi_ms.write(run, path)
    _assert_same_run(run, gcms.io.read(path))


def test_writer_never_replaces_a_file_unless_asked(tmp_path):
    run = _run_from_scratch()
    path = tmp_path / "exists.cdf"
    path.write_bytes(b"evidence")
    with pytest.raises(FileExistsError):
        andi_ms.write(run, path)
    assert path.read_bytes() == b"evidence"
    andi_ms.write(run, path, overwrite=True)
    _assert_same_run(run, gcms.io.read(path))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_writer_refuses_runs_ansi_ms_cannot_hold(tmp_path):
    empty = Run(scan_times=[], scan_offsets=[0], mz=[], intensity=[])
    with pytest.raises(ValueError, match="at least one scan"):
        andi_ms.write(empty, tmp_path / "empty.cdf")
    trace = Run(scan_times=[1.0], scan_offsets=[0, 0], mz=[], intensity=[], tic=[5.0],
                metadata=RunMetadata(acquisition="trace", detector="FID"))
    with pytest.raises(ValueError, match="trace"):
        andi_ms.write(trace, tmp_path / "trace.cdf")


def test_written_sim_and_nci_runs_keep_their_modes(tmp_path):
    run = _run_from_scratch()
    run = run.replace(metadata=run.metadata.replace(acquisition="sim", ionization="NCI"))
    andi_ms.write(run, tmp_path / "sim.cdf")
    back = gcms.io.read(tmp_path / "sim.cdf")
    assert back.metadata.acquisition == "sim" and back.metadata.ionization == "NCI"
