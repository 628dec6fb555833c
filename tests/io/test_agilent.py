"""Agilent ChemStation reader: golden files, an independent reader, generated edge cases.

Generated files are written here from the byte layout in docs/agilent-chemstation.md
(an encoder independent of the decoder under test), so every rule is checked even where
../shared/data is absent; real files are checked value by value against rainbow-api's
reading (../shared/data/agilent-d/expected), entab's first values, ProteoWizard's
conversion and the vendor's own TIC export.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract

import gcms.io
from gcms import FormatError
from gcms.io import agilent
from gcms.io.agilent import parse_chemstation_date

# =========================================================================== encoders
DATA_START = 0x200  # a classic 512-byte header (no UTF-16 block)


def pack_abundance(value: int) -> int:
    """ChemStation packed abundance: 2-bit power of 8, 14-bit mantissa (rounded)."""
    for exponent in range(4):
        mantissa = int(round(value / 8**exponent))
        if mantissa < 16384:
            return (exponent << 14) | mantissa
    raise ValueError(f"{value} is beyond the packed range")


def unpack_abundance(word: int) -> int:
    return (word & 0x3FFF) * 8 ** (word >> 14)


def _pascal(buffer: bytearray, offset: int, text: str) -> None:
    raw = text.encode("cp1252")
    buffer[offset] = len(raw)
    buffer[offset + 1:offset + 1 + len(raw)] = raw


def make_ms(path: Path, scans, *, directory: bool = True, record_type: int = 1,
            claimed: int | None = None, file_type: str = "GC / MS Data File",
            sample: str = "generated sample", operator: str = "analyst",
            date: str = "23 Feb 22  02:50 pm", instrument: str = "GCMS",
            method: str = "generated.M", vial: int = 7, systemtime=None,
            tic_offset: int = 0) -> Path:
    """Write an MSD data file. ``scans``: list of (time_ms, [(mz, abundance), ...])."""
    header = bytearray(DATA_START)
    header[0:4] = b"\x012\x00\x00"
    for offset, text in ((0x04, file_type), (0x18, sample), (0x94, operator), (0xB2, date),
                         (0xD0, instrument), (0xE4, method)):
        _pascal(header, offset, text)
    struct.pack_into(">ihhhh", header, 0xF8, 2, 0, vial, 0, 1)
    if systemtime is not None:
        struct.pack_into("<8H", header, 0x158, *systemtime)
    body = bytearray()
    entries = []
    for time_ms, peaks in scans:
        peaks = sorted(peaks, key=lambda p: -p[0])  # the instrument writes m/z descending
        words = 14 + 2 * len(peaks)
        packed = [(int(round(mz * 20)), pack_abundance(a)) for mz, a in peaks]
        tic = sum(unpack_abundance(a) for _, a in packed) + tic_offset
        base = max(packed, key=lambda p: unpack_abundance(p[1]), default=(0, 0))
        record_word = (DATA_START + len(body)) // 2 + 1
        body += struct.pack(">HIHHHHHH", words, time_ms, words - 8, record_type, 0,
                            len(peaks), *base)
        for pair in packed:
            body += struct.pack(">HH", *pair)
        body += struct.pack(">HHHI", 5, 4, 0, tic)
        entries.append((record_word, time_ms, tic))
    directory_word = (DATA_START + len(body)) // 2 + 1 if directory else 0
    if directory:
        for entry in entries:
            body += struct.pack(">III", *entry)
    struct.pack_into(">II", header, 0x104, directory_word, DATA_START // 2 + 1)
    struct.pack_into(">I", header, 0x116, len(scans) if claimed is None else claimed)
    if scans:
        struct.pack_into(">II", header, 0x11A, scans[0][0], scans[-1][0])
    path.write_bytes(bytes(header + body))
    return path


def encode_double_delta(values) -> bytes:
    """Version 81/181 stream: second differences, 32767 + 48-bit absolute to restart."""
    out = bytearray()
    previous, delta = 0, 0
    for i, value in enumerate(int(v) for v in values):
        second = (value - previous) - delta
        if i == 0 or not -32768 <= second < 32767 or i % 500 == 0:
            out += struct.pack(">hhI", 32767, value >> 32, value & 0xFFFFFFFF)
            delta = 0
        else:
            out += struct.pack(">h", second)
            delta += second
        previous = value
    return bytes(out)


def encode_delta(values, segment: int = 200) -> bytes:
    """Version 8 stream: segments of i16 differences, -32768 + i32 for a jump."""
    out = bytearray()
    previous = 0
    values = [int(v) for v in values]
    for begin in range(0, len(values), segment):
        chunk = values[begin:begin + segment]
        out += struct.pack(">H", 0x1000 | len(chunk))
        for value in chunk:
            step = value - previous
            if -32767 <= step <= 32767:
                out += struct.pack(">h", step)
            else:
                out += struct.pack(">hi", -32768, value)
            previous = value
    return bytes(out + b"\x00\x00")


def _pascal16(buffer: bytearray, offset: int, text: str) -> None:
    buffer[offset] = len(text)
    raw = text.encode("utf-16-le")
    buffer[offset + 1:offset + 1 + len(raw)] = raw


def make_ch(path: Path, version: str, raw_values, *, first_ms: float = 1000.0,
            interval_ms: float = 50.0, slope: float = 0.00013020833333333333,
            intercept: float = 0.0, last_ms: float | None = None, units: str = "pA",
            signal: str = "FID1A, Front Signal", sample: str = "fid sample",
            date: str = "13-Oct-22, 08:52:05") -> Path:
    n = len(raw_values)
    if last_ms is None:
        last_ms = first_ms + (n - 1) * interval_ms
    if version in ("179", "181"):
        header = bytearray(0x1800)
        header[0:4] = b"\x03" + version.encode()
        struct.pack_into(">i", header, 0xF8, int(version))
        struct.pack_into(">ff", header, 0x11A, first_ms, last_ms)
        for offset, text in ((0x35A, sample), (0x758, "SYSTEM"), (0x957, date),
                             (0xA0E, "FID.M"), (0xC11, "Instrument 1"), (0x104C, units),
                             (0x1075, signal)):
            _pascal16(header, offset, text)
        struct.pack_into(">dd", header, 0x1274, intercept, slope)
        struct.pack_into(">HH", header, 0x101A, int(interval_ms), 1000)
        if version == "179":
            body = np.asarray(raw_values, dtype="<f8").tobytes()
        else:
            body = encode_double_delta(raw_values)
    else:
        header = bytearray(0x400)
        header[0:len(version) + 1] = bytes([len(version)]) + version.encode()
        _pascal(header, 0x04, "GC DATA FILE")
        for offset, text in ((0x18, sample), (0x94, "rjb"), (0xB2, "8/20/20 2:00:32 PM"),
                             (0xD0, "HP G1530A"), (0xE4, "EVAL.M"), (0x244, units),
                             (0x254, signal)):
            _pascal(header, offset, text)
        struct.pack_into(">i", header, 0x108, 3)  # data at (3 - 1) x 512
        if version == "8":
            struct.pack_into(">ii", header, 0x11A, int(first_ms), int(last_ms))
            body = encode_delta(raw_values)
        else:
            struct.pack_into(">ff", header, 0x11A, first_ms, last_ms)
            struct.pack_into(">HH", header, 0x212, int(interval_ms), 1000)
            body = encode_double_delta(raw_values)
        struct.pack_into(">dd", header, 0x27C, intercept, slope)
    path.write_bytes(bytes(header) + body)
    return path


def sample_scans(n: int = 40, seed: int = 7):
    rng = np.random.default_rng(seed)
    scans = []
    for i in range(n):
        count = int(rng.integers(0, 25))
        mz = np.sort(rng.choice(np.arange(800, 12000), size=count, replace=False)) / 20
        abundance = rng.integers(1, 8_000_000, size=count)
        scans.append((3000 + 375 * i, list(zip(mz.tolist(), abundance.tolist(), strict=True))))
    return scans


# =========================================================================== helpers
def nominal_matrix(run):
    """Sum of each scan's abundances per rint(m/z) bin: rainbow's binning, done here."""
    bins = np.rint(run.mz).astype(int)
    columns = np.unique(bins)
    matrix = np.zeros((run.n_scans, columns.size))
    rows = np.repeat(np.arange(run.n_scans), run.points_per_scan)
    np.add.at(matrix, (rows, np.searchsorted(columns, bins)), run.intensity.astype(float))
    return columns, matrix


def expected_csv(name):
    path = shared_file("agilent-d", "expected", name)
    header = path.read_text().splitlines()[0].split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, usecols=range(len(header)))
    return header, values


def vendor_tic(path: Path) -> np.ndarray:
    """tic_front.csv: two header lines, then 'minutes,TIC' rows."""
    return np.loadtxt(path, delimiter=",", skiprows=2, encoding="latin-1")


YELLOW = ("agilent-d", "yellow.D")


# =========================================================================== contracts
def _real(*parts) -> list[Path]:
    path = SHARED_DATA.joinpath(*parts)
    return [path] if path.exists() else []


class TestChemStationContract(ReaderContract):
    format_name = "agilent-chemstation"
    garbage_suffix = ".ms"

    def sample_files(self, tmp_path):
        generated = tmp_path / "generated"
        generated.mkdir(exist_ok=True)
        return [
            *_real(*YELLOW),
            *_real(*YELLOW, "dataSim.ms"),
            *_real(*YELLOW, "FID1A.ch"),
            *_real("agilent-fid-ch", "test_fid.ch"),
            *_real("agilent-fid-ch", "test_179_fid.ch"),
            *_real("lrcfs-etizolam", "raw", "220223002.D", "data.ms"),
            make_ms(generated / "data.ms", sample_scans()),
            make_ch(generated / "v8.ch", "8", np.arange(300) ** 2),
            make_ch(generated / "v181.ch", "181", np.arange(300) * 1000),
        ]


class TestChemStationMutations(MutationContract):
    format_name = "agilent-chemstation"
    # Scan times are in the records, the directory and the header's range; .ch times
    # follow from the header's range and interval: a mutant keeps them all or is refused.
    time_axis_declared = True

    def mutation_files(self):
        files = [*_real(*YELLOW, "dataSim.ms"), *_real("agilent-fid-ch", "test_fid.ch"),
                 *_real(*YELLOW, "FID1A.ch")]
        return files or [_generated_mutation_file()]

    def campaign_files(self):
        return [*self.mutation_files(), *_real("lrcfs-etizolam", "raw", "220223002.D",
                                               "data.ms"),
                *_real("agilent-fid-ch", "test_179_fid.ch"), _generated_mutation_file()]


def _generated_mutation_file() -> Path:
    """A generated data.ms for the mutation test when no real file is at hand."""
    import atexit
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="agilent-mutation-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return make_ms(folder / "data.ms", sample_scans(20))


# =========================================================================== golden files
@pytest.mark.shared
def test_full_scan_matches_the_independent_reading_value_by_value():
    header, expected = expected_csv("data.csv")
    run = agilent.read(shared_file(*YELLOW))
    assert run.metadata.data_file.endswith("data.ms")
    assert run.metadata.acquisition == "scan"
    columns, matrix = nominal_matrix(run)
    assert run.n_scans == expected.shape[0] == 1307
    np.testing.assert_array_equal(columns, np.array(header[1:], dtype=float))
    np.testing.assert_allclose(run.scan_times, expected[:, 0] * 60, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(matrix, expected[:, 1:])


@pytest.mark.shared
def test_sim_matches_the_independent_reading_value_by_value():
    header, expected = expected_csv("dataSim.csv")
    run = agilent.read(shared_file(*YELLOW), channel="dataSim.ms")
    assert run.metadata.acquisition == "sim"
    assert run.metadata.extra["record_data_type"] == "3"
    columns, matrix = nominal_matrix(run)
    assert header[1:] == ["131.0", "202.0"] and list(columns) == [131, 202]
    np.testing.assert_allclose(run.scan_times, expected[:, 0] * 60, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(matrix, expected[:, 1:])


@pytest.mark.shared
def test_fid_channel_matches_the_independent_reading():
    _, expected = expected_csv("FID1A.csv")
    run = agilent.read(shared_file(*YELLOW), channel="fid1a.CH")
    assert run.metadata.acquisition == "trace" and run.metadata.detector == "FID"
    assert run.n_peaks == 0 and run.n_scans == 10197
    # rainbow spreads the times evenly between the header's float32 first and last time;
    # here they are first + i x 50 ms: the two agree to well under a microsecond.
    np.testing.assert_allclose(run.scan_times, expected[:, 0] * 60, rtol=0, atol=1e-6)
    np.testing.assert_allclose(run.tic, expected[:, 1], rtol=1e-15, atol=0)
    assert run.metadata.extra["units"] == "pA"
    assert run.metadata.extra["sampling_interval_s"] == "0.05"


@pytest.mark.shared
def test_header_metadata_matches_the_independent_reading():
    info = __import__("json").loads(shared_file("agilent-d", "expected", "info.json").read_text())
    folder = shared_file(*YELLOW)
    scan, fid = agilent.read(folder), agilent.read(folder, channel="FID1A.ch")
    assert info["datafiles"]["data.ms"]["shape"][0] == scan.n_scans
    assert info["datafiles"]["dataSim.ms"]["shape"][0] == agilent.read(
        folder, channel="dataSim.ms").n_scans
    # The Pascal copy of the method name is cut at 19 characters; the UTF-16 copy is whole.
    assert scan.metadata.method.startswith(info["datafiles"]["data.ms"]["metadata"]["method"])
    assert scan.metadata.method == "HP-5MS_HTAchiral_da_100-300_simscan.M"
    stated = parse_chemstation_date(info["metadata"]["date"])
    assert scan.metadata.acquired_at.replace(second=0, microsecond=0, tzinfo=None) == stated
    # Seconds from the header SYSTEMTIME, UTC offset from AcqData/Contents.xml.
    assert scan.metadata.acquired_at == datetime(2019, 12, 17, 10, 4, 55, 813000,
                                                 tzinfo=timezone(timedelta(hours=-5)))
    assert scan.metadata.extra["vial"] == info["metadata"]["vialpos"]
    assert scan.metadata.tune_file == r"D:\MassHunter\GCMS\1\5977\hes_atune.u"
    assert scan.metadata.instrument == "5977B GCMS"
    fid_meta = info["datafiles"]["FID1A.ch"]["metadata"]
    assert fid.metadata.method == fid_meta["method"]
    assert fid.metadata.instrument == fid_meta["instrument"]
    assert fid.metadata.extra["units"] == fid_meta["unit"]
    assert fid.metadata.extra["signal"] == fid_meta["signal"]
    assert fid.metadata.tune_file is None  # the MS tune file says nothing about the FID
    assert agilent.list_channels(folder) == ["data.ms", "dataSim.ms", "FID1A.ch"]


@pytest.mark.shared
def test_tic_is_the_vendor_tic_export():
    """tic_front.csv interleaves the scan and SIM TICs of yellow.D, as the instrument wrote."""
    folder = shared_file(*YELLOW)
    vendor = vendor_tic(folder / "tic_front.csv")
    scan, sim = agilent.read(folder), agilent.read(folder, channel="dataSim.ms")
    times = np.concatenate([scan.scan_times, sim.scan_times])
    tic = np.concatenate([scan.tic, sim.tic])
    order = np.argsort(times, kind="stable")
    np.testing.assert_allclose(times[order], vendor[:, 0] * 60, atol=3e-4)  # 5-decimal minutes
    np.testing.assert_array_equal(tic[order], vendor[:, 1])
    # The record TIC is the instrument's sum before packing: within 0.3 % of the packed sum.
    packed_sum = np.bincount(np.repeat(np.arange(scan.n_scans), scan.points_per_scan),
                             weights=scan.intensity.astype(float))
    np.testing.assert_allclose(packed_sum, scan.tic, rtol=3e-3)


@pytest.mark.shared
def test_every_lrcfs_run_matches_its_vendor_tic_export():
    runs = sorted(shared_file("lrcfs-etizolam", "raw").glob("*.D"))
    assert len(runs) == 12
    for folder in runs:
        run = agilent.read(folder)
        vendor = vendor_tic(folder / "tic_front.csv")
        assert run.n_scans == vendor.shape[0], folder
        # Minutes printed to 5 decimals or 6 significant digits, whichever is coarser.
        np.testing.assert_allclose(run.scan_times, vendor[:, 0] * 60, rtol=5e-6, atol=3e-4)
        np.testing.assert_array_equal(run.tic, vendor[:, 1])


def read_ms1(path: Path):
    """ProteoWizard MS1 text: per scan RTime (min), TIC, then 'm/z intensity' lines."""
    times, tics, counts, pairs = [], [], [], []
    for line in path.read_text().splitlines():
        if line.startswith("S\t"):
            counts.append(0)
        elif line.startswith("I\tRTime"):
            times.append(float(line.split()[2]))
        elif line.startswith("I\tTIC"):
            tics.append(float(line.split()[2]))
        elif line[:1].isdigit():
            pairs.append(line.split())
            counts[-1] += 1
    pairs = np.array(pairs, dtype=float).reshape(-1, 2)
    return np.array(times), np.array(tics), np.array(counts), pairs[:, 0], pairs[:, 1]


@pytest.mark.shared
@pytest.mark.parametrize("run_id", ["002", "008", "014"])
def test_data_ms_matches_the_proteowizard_conversion(run_id):
    times, tics, counts, mz, intensity = read_ms1(
        shared_file("lrcfs-etizolam", "msconvert_ms1", f"220223{run_id}.ms1"))
    run = agilent.read(shared_file("lrcfs-etizolam", "raw", f"220223{run_id}.D"))
    assert run.n_scans == times.size == 2430
    np.testing.assert_allclose(run.scan_times, times * 60, atol=3.1e-4)  # 7 significant digits
    np.testing.assert_array_equal(run.points_per_scan, counts)
    np.testing.assert_allclose(run.mz, mz, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(run.intensity, intensity)
    np.testing.assert_allclose(run.tic, tics, rtol=5e-6)  # msconvert prints 6 significant digits


@pytest.mark.shared
def test_lrcfs_metadata_from_header_and_folder():
    run = agilent.read(shared_file("lrcfs-etizolam", "raw", "220223002.D"))
    meta = run.metadata
    assert meta.sample_name == "25ug/mL Etizolam"
    assert meta.operator == "CN"
    assert meta.method == "benzodiazepines_GCMS_10split_2022.M"
    assert meta.tune_file == r"D:\MassHunter\GCMS\1\5977\stune.u"
    assert meta.acquired_at == datetime(2022, 2, 23, 14, 50, 17, 436000, tzinfo=timezone.utc)
    assert meta.extra["vial"] == "2"
    assert meta.extra["instrument_serial"] == "US1439Q202"
    assert meta.extra["acquisition_mode"] == "Scan"
    assert meta.format == "agilent-chemstation" and meta.detector == "MS"


@pytest.mark.shared
def test_corems_data_ms_from_another_laboratory():
    path = shared_file("corems-fames-ri", "DATA.MS")
    run = gcms.io.read(path)
    assert run.n_scans == 4989
    assert run.nominal_mz_range == (50, 565)
    assert run.rt_range_s[0] == pytest.approx(6.29 * 60, abs=0.5)
    assert run.rt_range_s[1] == pytest.approx(37.49 * 60, abs=0.5)
    np.testing.assert_allclose(np.diff(run.scan_times).mean(), 0.375, atol=1e-3)
    meta = run.metadata
    assert meta.sample_name == "GCMS_FAMEs_01_GCMS02_20200317"
    assert meta.instrument == "GCMSD_2"
    assert meta.method == "PNNL_METABOLOMICS.M"
    assert meta.acquired_at == datetime(2020, 3, 17, 16, 46)
    # This file's SYSTEMTIME is 7 h off the text date (UTC): kept aside, not applied.
    assert meta.extra["header_systemtime"] == "2020-03-17T23:46:00.719000"
    assert meta.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # C16 methyl ester apex near 17.67 min: base peak m/z 74 (McLafferty ion of FAMEs).
    window = run.slice(17.60 * 60, 17.75 * 60)
    apex = window.scan(int(np.argmax(window.tic)))
    assert round(apex.mz[np.argmax(apex.intensity)]) == 74


@pytest.mark.shared
@pytest.mark.parametrize("parts", [("corems-fames-ri", "DATA.MS"),
                                   ("lrcfs-etizolam", "raw", "220223008.D", "data.ms")])
def test_ms_files_agree_with_rainbow(parts):
    chemstation = pytest.importorskip("rainbow.agilent.chemstation")

    path = shared_file(*parts)
    theirs = chemstation.parse_ms(str(path))
    run = agilent.read(path)
    columns, matrix = nominal_matrix(run)
    np.testing.assert_array_equal(columns, theirs.ylabels.astype(float))
    np.testing.assert_allclose(run.scan_times, theirs.xlabels * 60, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(matrix, theirs.data)


@pytest.mark.shared
def test_fid_version_81_first_values():
    """entab reads 2,699 points, first intensity 17.500.

    entab's first time (20184.8775) is the same four header bytes read as an integer
    divided by 60,000; they are a float32 in milliseconds (3.0004 min), which makes the
    run 3 to 12 min sampled every 0.2 s, the interval the header states as 1/5 s.
    """
    path = shared_file("agilent-fid-ch", "test_fid.ch")
    run = agilent.read(path)
    assert run.n_scans == 2699
    assert run.tic[0] == pytest.approx(17.500, abs=1e-3)
    raw = path.read_bytes()[0x11A:0x11E]
    assert struct.unpack(">i", raw)[0] / 60000 == pytest.approx(20184.8775, abs=1e-4)
    assert run.scan_times[0] == pytest.approx(struct.unpack(">f", raw)[0] / 1000)
    np.testing.assert_allclose(np.diff(run.scan_times), 0.2, atol=1e-9)
    meta = run.metadata
    assert (meta.sample_name, meta.operator, meta.method, meta.instrument) == (
        "5970 mix 10nG", "rjb", "EVAL.M", "HP G1530A")
    assert meta.acquired_at == datetime(2020, 8, 20, 14, 0, 32)
    assert meta.detector == "FID" and meta.extra["units"] == "pA"


@pytest.mark.shared
def test_fid_version_179_first_values():
    """entab: 12,000 points, first intensity 7.7457031249999995.

    entab's first time, 0.00166095 min, is one 50 ms interval after the header's first
    time (its loop steps the clock before the first point); rainbow, like this reader,
    puts the first point at the first time.
    """
    run = agilent.read(shared_file("agilent-fid-ch", "test_179_fid.ch"))
    assert run.n_scans == 12000
    assert run.tic[0] == 7.7457031249999995
    assert run.scan_times[0] * 1000 + 50 == pytest.approx(0.00166095 * 60000, abs=0.06)
    assert run.metadata.sample_name == "BB7125_3-spiropyrollidine_cof"
    assert run.metadata.acquired_at == datetime(2022, 10, 13, 8, 52, 5)
    assert run.metadata.extra["signal"] == "FID1A, Front Signal"


@pytest.mark.shared
def test_fid_179_agrees_with_rainbow():
    chemstation = pytest.importorskip("rainbow.agilent.chemstation")

    path = shared_file("agilent-fid-ch", "test_179_fid.ch")
    theirs = chemstation.parse_ch(str(path))
    run = agilent.read(path)
    np.testing.assert_allclose(run.tic, theirs.data[:, 0], rtol=1e-15)
    np.testing.assert_allclose(run.scan_times, theirs.xlabels * 60, atol=1e-6)


@pytest.mark.shared
def test_gcms_info_summarises_the_folder():
    from gcms.info import describe

    summary = describe(shared_file(*YELLOW))
    assert summary["format"] == "agilent-chemstation"
    assert summary["n_scans"] == 1307
    assert summary["mz_range"][0] >= 100 and summary["mz_range"][1] <= 300
    assert summary["tic_max"] > 0 and len(summary["sha256"]) == 64


# =========================================================================== generated
def test_generated_ms_file_round_trips(tmp_path):
    scans = sample_scans()
    path = make_ms(tmp_path / "data.ms", scans, systemtime=(2022, 2, 3, 23, 14, 50, 17, 436))
    run = gcms.io.read(path)
    assert gcms.io.sniff(path) == "agilent-chemstation"
    assert run.n_scans == len(scans)
    np.testing.assert_array_equal(run.scan_times, [t / 1000 for t, _ in scans])
    for i, (_, peaks) in enumerate(scans):
        spectrum = run.scan(i)
        expected = sorted(peaks)
        np.testing.assert_allclose(spectrum.mz, [p[0] for p in expected], rtol=0, atol=1e-9)
        packed = [unpack_abundance(pack_abundance(a)) for _, a in expected]
        np.testing.assert_array_equal(spectrum.intensity, packed)
        assert run.tic[i] == sum(packed)
    meta = run.metadata
    assert (meta.sample_name, meta.operator, meta.instrument, meta.method) == (
        "generated sample", "analyst", "GCMS", "generated.M")
    assert meta.acquired_at == datetime(2022, 2, 23, 14, 50, 17, 436000)
    assert meta.extra["vial"] == "7" and meta.extra["scan_index"] == "directory"
    assert meta.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_abundance_exponents_and_mz_extremes(tmp_path):
    """Every exponent of the packed abundance, and the ends of the m/z word.

    The m/z word reaches 3,276.75; its low end, 0.05, is below any ion (the readers'
    physical m/z range starts at 0.5) and is refused by value.
    """
    peaks = [(0.5, 1), (10.0, 16383), (20.0, 16384), (30.0, 131064), (40.0, 131072),
             (50.0, 8388096), (3276.75, 16383 * 512)]
    run = agilent.read(make_ms(tmp_path / "x.ms", [(1000, peaks)]))
    np.testing.assert_array_equal(run.mz, [p[0] for p in peaks])
    np.testing.assert_array_equal(run.intensity,
                                  [1, 16383, 16384, 131064, 131072, 8388096, 16383 * 512])
    assert run.intensity.dtype == np.float32
    _fails_quickly(make_ms(tmp_path / "low.ms", [(1000, [(0.05, 1), (10.0, 5)])]),
                   r"scan 1 \(1.000 s\) holds m/z 0.05, outside 0.5 to 5000")


def test_record_chain_is_walked_without_a_directory(tmp_path):
    scans = sample_scans(30)
    with_directory = agilent.read(make_ms(tmp_path / "a.ms", scans))
    without = agilent.read(make_ms(tmp_path / "b.ms", scans, directory=False))
    assert without.metadata.extra["scan_index"].startswith("record chain")
    np.testing.assert_array_equal(with_directory.mz, without.mz)
    np.testing.assert_array_equal(with_directory.scan_offsets, without.scan_offsets)


def test_directory_that_disagrees_with_the_records_is_refused(tmp_path):
    """A directory entry is the record's own position, time and TIC: any other value
    is damage, named with the entry and its byte offset."""
    path = make_ms(tmp_path / "data.ms", sample_scans(10))
    original = path.read_bytes()
    directory = 2 * (struct.unpack_from(">I", original, 0x104)[0] - 1)
    for field, what in ((0, r"record position \(word\)"), (4, r"time \(ms\) 999999"),
                        (8, "TIC 999999")):
        data = bytearray(original)
        struct.pack_into(">I", data, directory + 12 * 3 + field, 999_999)  # entry 4
        path.write_bytes(bytes(data))
        _fails_quickly(path, rf"scan directory entry 4 of 10 \(byte {directory + 36}\) "
                             rf"gives {what}")


def test_header_scan_count_must_reach_the_directory(tmp_path):
    """A header counting fewer scans than the records (the rest would silently vanish)
    is refused: the records it counts do not end where the directory begins."""
    path = make_ms(tmp_path / "data.ms", sample_scans(10))
    data = bytearray(path.read_bytes())
    struct.pack_into(">I", data, 0x116, 7)
    path.write_bytes(bytes(data))
    _fails_quickly(path, r"the 7 scan records the header counts end at byte \d+, but the "
                         r"header puts the scan directory at byte \d+")
    struct.pack_into(">I", data, 0x116, 0)
    struct.pack_into(">I", data, 0x104, 0)  # and no directory either
    path.write_bytes(bytes(data))
    _fails_quickly(path, "the header gives 0 scans and no scan directory, but")


def test_header_time_range_must_match_the_scans(tmp_path):
    path = make_ms(tmp_path / "data.ms", sample_scans(10))
    data = bytearray(path.read_bytes())
    first, last = struct.unpack_from(">II", data, 0x11A)
    struct.pack_into(">I", data, 0x11E, last + 1)
    path.write_bytes(bytes(data))
    _fails_quickly(path, rf"gives the run from {first} to {last + 1} ms, but its scans run "
                         rf"from {first} to {last} ms")


def test_sim_records_and_sim_only_method(tmp_path):
    scans = [(1000 + 100 * i, [(131.0, 500 + i), (202.0, 40)]) for i in range(5)]
    sim = agilent.read(make_ms(tmp_path / "dataSim.ms", scans, record_type=3))
    assert sim.metadata.acquisition == "sim"
    folder = tmp_path / "simonly.D"
    folder.mkdir()
    make_ms(folder / "data.ms", scans)
    (folder / "acqmeth.txt").write_bytes(
        "Acquisition Mode         : SIM\r\nTune file  : D:\\x\\atune.u\r\n".encode("utf-16"))
    run = agilent.read(folder)
    assert run.metadata.acquisition == "sim"
    assert run.metadata.extra["acquisition_mode"] == "SIM"
    assert run.metadata.extra["acquisition_source"] == "acqmeth.txt"
    named = agilent.read(make_ms(tmp_path / "dataSim.ms", scans))  # records say scan
    assert named.metadata.acquisition == "sim"
    assert agilent.read(make_ms(tmp_path / "data.ms", scans)).metadata.acquisition == "scan"


def test_peaks_come_out_ascending_whatever_the_stored_order():
    from gcms.io.agilent import _sort_within_scans

    counts = np.array([0, 3, 0, 2, 3])
    offsets = np.concatenate(([0], np.cumsum(counts)))
    # Only the last pair of the last scan is out of order, and the first scan is empty.
    mz = np.array([50.0, 60.0, 70.0, 40.0, 45.0, 90.0, 95.0, 80.0])
    sorted_mz, intensity = _sort_within_scans(mz, mz.astype(np.float32), offsets, counts)
    np.testing.assert_array_equal(sorted_mz, [50, 60, 70, 40, 45, 80, 90, 95])
    np.testing.assert_array_equal(intensity, sorted_mz)
    tidy = np.array([50.0, 60.0, 70.0, 40.0, 45.0, 80.0, 90.0, 95.0])
    assert _sort_within_scans(tidy, tidy, offsets, counts)[0] is tidy  # no copy when sorted


def test_empty_run_is_a_valid_run(tmp_path):
    run = agilent.read(make_ms(tmp_path / "data.ms", []))
    assert run.n_scans == 0 and run.n_peaks == 0


@pytest.mark.parametrize("version", ["8", "81", "179", "181"])
def test_generated_ch_round_trips(tmp_path, version):
    rng = np.random.default_rng(3)
    raw = np.cumsum(rng.integers(-3000, 3000, size=1500)) + 2**20
    raw[700] = 2**33 if version in ("81", "181") else 2**30  # a jump that needs a marker
    if version == "8":
        raw[700] = 5_000_000
    path = make_ch(tmp_path / f"v{version}.ch", version, raw, slope=0.25, intercept=-3.0)
    run = agilent.read(path)
    assert run.metadata.acquisition == "trace" and run.metadata.detector == "FID"
    assert run.metadata.extra["ch_format"] == version
    np.testing.assert_array_equal(run.tic, raw * 0.25 - 3.0)
    np.testing.assert_allclose(run.scan_times, 1.0 + 0.05 * np.arange(raw.size), atol=1e-6)
    assert run.metadata.sample_name == "fid sample"


def test_double_delta_marker_inside_a_payload(tmp_path):
    """A payload word equal to 32767 must not be taken for a marker."""
    raw = np.array([0x7FFF, 0x7FFF + 5, 0x7FFF7FFF, 0x7FFF7FFF + 1, 12], dtype=np.int64)
    run = agilent.read(make_ch(tmp_path / "x.ch", "181", raw, slope=1.0))
    np.testing.assert_array_equal(run.tic, raw)


def test_channel_selection(tmp_path):
    folder = tmp_path / "run.D"
    folder.mkdir()
    make_ms(folder / "DATA.MS", sample_scans(5))
    make_ch(folder / "TCD2B.ch", "179", np.arange(10.0), signal="TCD2 B, Back Signal")
    make_ms(folder / "dataSim.ms", sample_scans(5), record_type=3)
    (folder / "notes.ms").write_bytes(b"not a data file")
    assert agilent.list_channels(folder) == ["DATA.MS", "dataSim.ms", "TCD2B.ch"]
    assert agilent.read(folder).metadata.data_file.endswith("DATA.MS")
    tcd = agilent.read(folder, channel="tcd2b.ch")
    assert tcd.metadata.detector == "TCD"
    with pytest.raises(FormatError, match=r"run\.D: no channel 'FID1A.ch'.*DATA.MS"):
        agilent.read(folder, channel="FID1A.ch")
    assert gcms.io.sniff(folder) == "agilent-chemstation"


def test_folder_sidecars_complete_the_header(tmp_path):
    folder = tmp_path / "x.D"
    (folder / "AcqData").mkdir(parents=True)
    make_ms(folder / "data.ms", sample_scans(3), sample="", operator="", method="")
    (folder / "runstart.txt").write_text(
        "\ufeff   Sample Name (_dataname$) = from runstart\n Alsbottle (_alsbottle) = 12\n"
        "   Sample Name(_dataname2$) = rear sample\n", encoding="utf-8")
    (folder / "AcqData" / "sample_info.xml").write_text(
        "<SampleInfo><Field><Name>OperatorName</Name><Value>VM</Value></Field>"
        "<Field><Name>Method</Name><Value>D:\\m\\meth.M</Value></Field></SampleInfo>")
    (folder / "AcqData" / "Contents.xml").write_text(
        "<Contents><AcquiredTime>2022-02-23T14:50:20.1234567+01:00</AcquiredTime></Contents>")
    meta = agilent.read(folder).metadata
    assert meta.sample_name == "from runstart"
    assert meta.operator == "VM" and meta.method == "meth.M"
    assert meta.extra["vial"] == "7"  # the header's vial comes first
    assert meta.acquired_at.utcoffset() == timedelta(hours=1)  # same wall clock, offset adopted
    (folder / "AcqData" / "sample_info.xml").write_text("<SampleInfo><Field>")
    meta = agilent.read(folder).metadata
    assert "sample_info.xml: not well-formed XML" in meta.extra["folder_problems"]
    assert meta.sample_name == "from runstart"


def test_parse_chemstation_date_forms():
    assert parse_chemstation_date("17 Dec 19  10:04 am") == datetime(2019, 12, 17, 10, 4)
    assert parse_chemstation_date("17 Mar 20   4:46 pm") == datetime(2020, 3, 17, 16, 46)
    assert parse_chemstation_date("10 May 18   5:43 pm -0500") == datetime(
        2018, 5, 10, 17, 43, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_chemstation_date("13-Oct-22, 08:52:05") == datetime(2022, 10, 13, 8, 52, 5)
    assert parse_chemstation_date("8/20/20 2:00:32 PM") == datetime(2020, 8, 20, 14, 0, 32)
    assert parse_chemstation_date("12 Jan 99  12:30 am") == datetime(1999, 1, 12, 0, 30)
    assert parse_chemstation_date("31 Feb 20  10:00 am") is None
    assert parse_chemstation_date("yesterday") is None


# =========================================================================== edge cases
def _fails_quickly(path: Path, match: str) -> None:
    started = time.perf_counter()
    with pytest.raises(FormatError, match=match) as caught:
        gcms.io.read(path, format="agilent-chemstation")
    assert str(path) in str(caught.value)
    assert time.perf_counter() - started < 2


def test_truncated_data_ms(tmp_path):
    path = make_ms(tmp_path / "data.ms", sample_scans(30))
    data = path.read_bytes()
    records_end = 2 * (struct.unpack_from(">I", data, 0x104)[0] - 1)
    cut = tmp_path / "cut.ms"
    cut.write_bytes(data[:records_end - 40])
    _fails_quickly(cut, "truncated")
    cut.write_bytes(data[:300])
    _fails_quickly(cut, "shorter than")


def test_header_claiming_more_scans_than_the_file_holds(tmp_path):
    few = make_ms(tmp_path / "few.ms", sample_scans(5), claimed=6, directory=False)
    _fails_quickly(few, r"scan 6 of 6")
    huge = make_ms(tmp_path / "huge.ms", sample_scans(5), claimed=2**31)
    _fails_quickly(huge, r"claims 2147483648 scans")


def test_record_that_cannot_hold_its_peaks(tmp_path):
    path = make_ms(tmp_path / "data.ms", sample_scans(5), directory=False)
    data = bytearray(path.read_bytes())
    struct.pack_into(">H", data, DATA_START + 12, 999)  # peak count of scan 1
    path.write_bytes(bytes(data))
    _fails_quickly(path, r"scan 1 of 5: record of \d+ words cannot hold its 999 peaks")


def test_empty_and_short_ch_files(tmp_path):
    empty = tmp_path / "FID1A.ch"
    empty.write_bytes(b"")
    _fails_quickly(empty, "empty")
    header_only = make_ch(tmp_path / "h.ch", "179", [])
    header_only.write_bytes(header_only.read_bytes()[:0x1800])
    _fails_quickly(header_only, "holds no data points")
    short = tmp_path / "short.ch"
    short.write_bytes(b"\x03179" + bytes(100))
    _fails_quickly(short, "shorter than")


def test_ch_non_finite_value_is_refused(tmp_path):
    values = np.arange(10.0)
    values[2] = np.inf
    _fails_quickly(make_ch(tmp_path / "FID1A.ch", "179", values),
                   "point 3 of 10 is not a finite number")


def test_ch_179_missing_points_is_refused(tmp_path):
    path = make_ch(tmp_path / "FID1A.ch", "179", np.arange(100.0))
    path.write_bytes(path.read_bytes()[:-80])
    _fails_quickly(path, "holds 90 points but the header's time range")
    path.write_bytes(path.read_bytes()[:-3])
    _fails_quickly(path, "not a whole number")


def test_damaged_header_string_is_refused(tmp_path):
    path = make_ms(tmp_path / "data.ms", sample_scans(2))
    data = bytearray(path.read_bytes())
    data[0x94] = 200  # operator: 200 characters in a 29-character slot
    path.write_bytes(bytes(data))
    _fails_quickly(path, "operator.*claims 200 characters")


def test_garbage_folder_is_refused(tmp_path):
    folder = tmp_path / "empty.D"
    folder.mkdir()
    with pytest.raises(FormatError, match="empty.D: no ChemStation data file"):
        agilent.read(folder)
    assert not agilent.sniff(folder, b"")
    # read by content, the folder is named for what a run folder should hold
    with pytest.raises(FormatError, match=r"empty.D: Agilent .D folder with no run gcms "
                                          r"reads \(looked for data.ms, MSD1.MS"):
        gcms.io.read(folder)


@pytest.mark.shared
def test_real_file_copies_read_like_the_originals(tmp_path):
    """Reading a renamed copy gives the same run: nothing depends on the file name."""
    source = shared_file(*YELLOW, "dataSim.ms")
    copy = tmp_path / "anything.bin"
    shutil.copyfile(source, copy)
    original, renamed = agilent.read(source), agilent.read(copy)
    np.testing.assert_array_equal(original.mz, renamed.mz)
    assert renamed.metadata.acquisition == "sim"
    assert renamed.metadata.sha256 == original.metadata.sha256


@pytest.mark.parametrize("version", ["81", "181"])
def test_ch_with_missing_points_is_refused_in_every_version_with_an_interval(tmp_path,
                                                                          version):
    """A .ch cut short was read with its points spread over the header's full time range
    (2,377 of 2,699 points, the apex moved from 291.2 s to 306.3 s): every version whose
    header gives the sampling interval now refuses points that do not fill the range."""
    values = (np.arange(400) * 37) % 1000
    path = make_ch(tmp_path / "FID1A.ch", version, values)
    assert agilent.read(path).n_scans == 400
    short = make_ch(tmp_path / "short.ch", version, values[:350],
                    last_ms=1000.0 + 399 * 50.0)  # header of 400 points, 350 in the file
    _fails_quickly(short, r"holds 350 points but the header's time range \(1000.0 to "
                          r"20950.0 ms, byte 0x11a\) every 50 ms implies 399 or 400")


@pytest.mark.shared
def test_real_ch_cut_short_is_refused_not_stretched(tmp_path):
    data = shared_file("agilent-fid-ch", "test_fid.ch").read_bytes()
    full = agilent.read(shared_file("agilent-fid-ch", "test_fid.ch"))
    assert full.n_scans == 2699
    cut = tmp_path / "cut.ch"
    for keep in range(len(data) * 85 // 100 // 2 * 2, len(data) - 1, 202):
        cut.write_bytes(data[:keep])
        try:
            run = agilent.read(cut)
        except FormatError as error:
            assert "cut.ch" in str(error)
            continue
        # whatever is accepted has the file's own point count and time axis
        assert run.n_scans == 2699
        np.testing.assert_array_equal(run.scan_times, full.scan_times)


def test_every_part_of_a_folder_is_hashed(tmp_path):
    """A .D folder's run names the digest of every file it decoded: the data file (still
    ``metadata.sha256``) and each sidecar whose text went into the metadata."""
    folder = tmp_path / "run.D"
    folder.mkdir()
    make_ms(folder / "data.ms", sample_scans(5))
    (folder / "runstart.txt").write_text("(_dataname$) = seized powder\n")
    run = agilent.read(folder)
    assert dict(run.metadata.parts_sha256) == {
        "data.ms": hashlib.sha256((folder / "data.ms").read_bytes()).hexdigest(),
        "runstart.txt": hashlib.sha256((folder / "runstart.txt").read_bytes()).hexdigest()}
    assert run.metadata.sha256 == run.metadata.parts_sha256["data.ms"]
    assert run.metadata.sample_name == "generated sample"


def test_ch_without_a_sampling_interval_is_refused(tmp_path):
    """Only version 8 lacks the interval; a zeroed one elsewhere is damage, not a reason
    to spread the points evenly."""
    path = make_ch(tmp_path / "FID1A.ch", "179", np.arange(100.0))
    data = bytearray(path.read_bytes())
    struct.pack_into(">HH", data, 0x101A, 0, 0)
    path.write_bytes(bytes(data))
    _fails_quickly(path, r"the header's sampling interval \(byte 0x101a\) is zero or missing")
