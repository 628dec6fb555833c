"""MassHunter reader: the same runs as data.ms, ProteoWizard's conversion, generated folders.

The real lrcfs-etizolam folders hold each run twice (ChemStation data.ms and MassHunter
AcqData): both readers must give the same run, scan for scan and peak for peak. Generated
folders are written here from docs/agilent-masshunter.md, with the record layout taken
from a schema the test writes, so the reader is shown to follow MSScan.xsd rather than a
fixed layout.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import (
    CAMPAIGN_EXAMPLES,
    MUTATION_EXAMPLES,
    ReaderContract,
    apply_mutations,
    check_mutated,
    mutation_strategy,
)
from test_agilent import make_ms, read_ms1, sample_scans

import gcms.io
from gcms import FormatError
from gcms.io import agilent, masshunter

# =========================================================================== encoder
RECORD_FIELDS = [
    ("ScanID", "xs:int"), ("ScanMethodID", "xs:int"), ("TimeSegmentID", "xs:int"),
    ("ScanTime", "xs:double"), ("MSLevel", "xs:int"), ("ScanType", "xs:int"),
    ("TIC", "xs:double"), ("BasePeakMZ", "xs:double"), ("BasePeakValue", "xs:double"),
    ("CycleNumber", "xs:int"), ("Status", "xs:int"), ("IonMode", "xs:int"),
    ("IonPolarity", "xs:int"), ("Fragmentor", "xs:double"), ("CollisionEnergy", "xs:double"),
    ("MzOfInterest", "xs:double"), ("SamplingPeriod", "xs:double"),
    ("MeasuredMassRangeMin", "xs:double"), ("MeasuredMassRangeMax", "xs:double"),
    ("Threshold", "xs:double"), ("IsFragmentorDynamic", "xs:int"),
    ("IsCollisionEnergyDynamic", "xs:int"),
]
BLOCK_FIELDS = [
    ("SpectrumFormatID", "xs:int"), ("SpectrumOffset", "xs:long"), ("ByteCount", "xs:int"),
    ("PointCount", "xs:int"), ("MinY", "xs:double"), ("MaxY", "xs:double"),
    ("MinX", "xs:double"), ("MaxX", "xs:double"),
]
_STRUCT = {"xs:int": "i", "xs:long": "q", "xs:double": "d", "xs:float": "f", "xs:short": "h"}
_PEAK_TYPES = {8: ("<f4", "<f4"), 12: ("<f8", "<f4"), 16: ("<f8", "<f8")}
RECORDS_START = 160
PEAKS_START = 68


def schema(record_fields=RECORD_FIELDS, block_fields=BLOCK_FIELDS) -> str:
    def elements(fields):
        return "\n".join(f'      <xs:element name="{n}" type="{t}"/>' for n, t in fields)

    return f"""<?xml version="1.0" encoding="utf-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:mstns="http://tempuri.org/X.xsd"
    targetNamespace="http://tempuri.org/X.xsd" elementFormDefault="qualified">
  <xs:element name="MSScanBin"><xs:complexType><xs:sequence>
    <xs:element name="ScanRecord" type="ScanRecordType" maxOccurs="unbounded"/>
  </xs:sequence></xs:complexType></xs:element>
  <xs:complexType name="ScanRecordType">
    <xs:sequence>
{elements(record_fields)}
      <!-- <xs:element name="MassCalOffset" type="xs:long" minOccurs="0"/> -->
      <xs:element name="SpectrumParamValues" type="mstns:SpectrumParamsType"
                  maxOccurs="unbounded"/>
    </xs:sequence>
  </xs:complexType>
  <xs:complexType name="SpectrumParamsType">
    <xs:sequence>
{elements(block_fields)}
    </xs:sequence>
  </xs:complexType>
</xs:schema>
"""


def make_masshunter(folder: Path, scans, *, record_fields=RECORD_FIELDS, peak_width: int = 16,
                    profile_block: bool = False, msts: bool = True,
                    sample: str = "generated sample") -> Path:
    """Write a .D folder. ``scans``: list of (minutes, scan type, [(mz, abundance), ...])."""
    acq = folder / "AcqData"
    acq.mkdir(parents=True, exist_ok=True)
    (acq / "MSScan.xsd").write_text(schema(record_fields))
    mz_type, value_type = _PEAK_TYPES[peak_width]
    peaks = bytearray(struct.pack("<H", 0x0103) + bytes(PEAKS_START - 2))
    record_format = "<" + "".join(_STRUCT[t] for _, t in record_fields)
    block_format = "<" + "".join(_STRUCT[t] for _, t in BLOCK_FIELDS)
    records = bytearray()
    for i, (minutes, scan_type, pairs) in enumerate(scans):
        pairs = sorted(pairs)
        mz = np.array([p[0] for p in pairs], dtype=mz_type)
        values = np.array([p[1] for p in pairs], dtype=value_type)
        offset = len(peaks)
        peaks += mz.tobytes() + values.tobytes()
        fields = {"ScanID": i + 1, "ScanMethodID": scan_type, "TimeSegmentID": 1,
                  "ScanTime": minutes, "MSLevel": 1, "ScanType": scan_type,
                  "TIC": float(values.astype(float).sum()), "CycleNumber": i + 1}
        records += struct.pack(record_format, *(fields.get(n, 0) for n, _ in record_fields))
        centroid = struct.pack(block_format, 1, offset, len(pairs) * peak_width, len(pairs),
                               0.0, 0.0, 0.0, 0.0)
        if profile_block:  # a profile block first: compressed bytes, elsewhere
            records += struct.pack(block_format, 2, 0, 1234567, 999, 0.0, 0.0, 0.0, 0.0)
        records += centroid
    header = bytearray(RECORDS_START)
    struct.pack_into("<H", header, 0, 0x0101)
    struct.pack_into("<I", header, 0x58, RECORDS_START)
    (acq / "MSScan.bin").write_bytes(bytes(header + records))
    (acq / "MSPeak.bin").write_bytes(bytes(peaks))
    if msts:
        (acq / "MSTS.xml").write_text(
            "<TimeSegments><TimeSegment TimeSegmentID=\"1\">"
            f"<NumOfScans>{len(scans)}</NumOfScans></TimeSegment></TimeSegments>")
    (acq / "Contents.xml").write_text(
        "<Contents><AcquiredTime>2022-02-23T14:50:20Z</AcquiredTime>"
        "<InstrumentName>GCMS</InstrumentName></Contents>")
    (acq / "sample_info.xml").write_text(
        f"<SampleInfo><Field><Name>Sample Name</Name><Value>{sample}</Value></Field>"
        "<Field><Name>OperatorName</Name><Value>VM</Value></Field>"
        "<Field><Name>TunePath</Name><Value>D:\\t\\</Value></Field>"
        "<Field><Name>TuneName</Name><Value>atune.u</Value></Field></SampleInfo>")
    return folder


def generated_scans(n: int = 30, *, sim_every: int = 0):
    """The sample scans of test_agilent, in minutes, with packed-exact abundances."""
    from test_agilent import pack_abundance, unpack_abundance

    out = []
    for i, (ms, pairs) in enumerate(sample_scans(n)):
        scan_type = 2 if sim_every and i % sim_every == 1 else 1
        out.append((ms / 60000, scan_type,
                    [(mz, float(unpack_abundance(pack_abundance(a)))) for mz, a in pairs]))
    return out


def _without_data_ms(source: Path, target: Path) -> Path:
    """Copy a .D folder but its ChemStation files, so that only the MassHunter form is left."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("*.ms", "*.MS", "*.ch"))
    return target


LRCFS = ("lrcfs-etizolam", "raw")


# =========================================================================== contract
class TestMassHunterContract(ReaderContract):
    format_name = "agilent-masshunter"
    garbage_suffix = ".bin"

    def sample_files(self, tmp_path):
        files = [make_masshunter(tmp_path / "generated.D", generated_scans(sim_every=3))]
        real = SHARED_DATA.joinpath(*LRCFS, "220223002.D")
        if real.exists() and not (tmp_path / "copy.D").exists():
            _without_data_ms(real, tmp_path / "copy.D")
        if real.exists():
            files.append(tmp_path / "copy.D")
        return files


def _mutated_folder_campaign(tmp_path_factory, examples: int) -> None:
    """Truncation, zero-fill and bit flips in any AcqData file of a generated folder and,
    where the shared data is at hand, of a real one: every case ends in a FormatError
    naming the folder or a run with the folder's scan count and every part's own hash."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    root = tmp_path_factory.mktemp("mh")
    bases = [make_masshunter(root / "base.D", generated_scans(12, sim_every=4))]
    real = SHARED_DATA.joinpath(*LRCFS, "220223002.D")
    if real.exists():
        bases.append(_without_data_ms(real, root / "real.D"))
    names = ["MSScan.bin", "MSPeak.bin", "MSScan.xsd", "MSTS.xml"]
    cases = []
    for base in bases:
        work = tmp_path_factory.mktemp("mutated") / "run.D"
        shutil.copytree(base, work)
        originals = {name: (base / "AcqData" / name).read_bytes() for name in names}
        cases.append((work, originals, gcms.io.read(base, format="agilent-masshunter")))

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.sampled_from(range(len(cases))), st.sampled_from(names), st.data())
    def check(case, name, data):
        work, originals, reference = cases[case]
        for other in names:
            (work / "AcqData" / other).write_bytes(originals[other])
        mutations = data.draw(mutation_strategy(len(originals[name])))
        (work / "AcqData" / name).write_bytes(apply_mutations(originals[name], mutations))
        check_mutated(work, "agilent-masshunter", "runs", reference)

    check()


def test_mutated_folders_fail_cleanly(tmp_path_factory):
    _mutated_folder_campaign(tmp_path_factory, MUTATION_EXAMPLES)


@pytest.mark.slow
def test_mutated_folders_campaign(tmp_path_factory):
    _mutated_folder_campaign(tmp_path_factory, CAMPAIGN_EXAMPLES)


def test_zeroed_scan_records_are_refused_not_dropped(tmp_path):
    """4 KB of MSScan.bin zeroed read as 2,407 scans where MSTS.xml says 2,430 (the zeroed
    records looked like "another scan type"): refused, naming the record and its offset."""
    folder = make_masshunter(tmp_path / "run.D", generated_scans(60))
    scan_file = folder / "AcqData" / "MSScan.bin"
    data = bytearray(scan_file.read_bytes())
    record = (len(data) - RECORDS_START) // 60
    data[RECORDS_START + 10 * record:RECORDS_START + 13 * record] = bytes(3 * record)
    scan_file.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=rf"MSScan.bin: scan record 11 of 60 \(byte "
                                          rf"{RECORDS_START + 10 * record}\): scan id 0"):
        gcms.io.read(folder)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("ScanID", 5, "scan id 5 does not follow 5"),
    ("MSLevel", 0, "MS level 0"),
    ("ScanType", 3, "scan type 3, not one MassHunter writes"),
    ("ScanTime", -1.0, "scan time -1.0 min after"),
])
def test_impossible_record_fields_are_refused(tmp_path, field, value, message):
    folder = make_masshunter(tmp_path / "run.D", generated_scans(10))
    acq = folder / "AcqData"
    dtype = masshunter.scan_record_dtype((acq / "MSScan.xsd").read_bytes(), 1)
    data = bytearray((acq / "MSScan.bin").read_bytes())
    records = np.frombuffer(data, dtype=dtype, offset=RECORDS_START).copy()
    records[field][5] = value
    data[RECORDS_START:] = records.tobytes()
    (acq / "MSScan.bin").write_bytes(bytes(data))
    with pytest.raises(FormatError, match=rf"scan record 6 of 10 \(byte "
                                          rf"{RECORDS_START + 5 * dtype.itemsize}\): {message}"):
        gcms.io.read(folder)


def test_spectra_must_tile_mspeak(tmp_path):
    folder = make_masshunter(tmp_path / "run.D", generated_scans(10))
    peak_file = folder / "AcqData" / "MSPeak.bin"
    peak_file.write_bytes(peak_file.read_bytes() + bytes(16))  # bytes no record accounts for
    with pytest.raises(FormatError, match=r"MSPeak.bin: the spectra of MSScan.bin's 10 "
                                          r"records end at byte \d+, but the file has"):
        gcms.io.read(folder)


def test_every_part_decoded_is_hashed(tmp_path):
    """metadata.sha256 stays MSPeak.bin's; parts_sha256 names every file decoded, so that
    a damaged MSScan.bin is never reported under MSPeak.bin's digest."""
    folder = make_masshunter(tmp_path / "run.D", generated_scans(10))
    run = gcms.io.read(folder)
    acq = folder / "AcqData"
    expected = {f"AcqData/{name}": hashlib.sha256((acq / name).read_bytes()).hexdigest()
                for name in ("MSScan.bin", "MSPeak.bin", "MSScan.xsd", "MSTS.xml",
                             "Contents.xml", "sample_info.xml")}
    assert dict(run.metadata.parts_sha256) == expected
    assert run.metadata.sha256 == expected["AcqData/MSPeak.bin"]
    assert run.summary()["parts_sha256"] == expected


# =========================================================================== real files
@pytest.mark.shared
def test_every_lrcfs_run_reads_the_same_in_both_forms():
    runs = sorted(shared_file(*LRCFS).glob("*.D"))
    assert len(runs) == 12
    for folder in runs:
        chem = agilent.read(folder)
        hunter = gcms.io.read(folder, format="agilent-masshunter")
        assert hunter.metadata.format == "agilent-masshunter"
        assert hunter.n_scans == chem.n_scans, folder
        # data.ms stores whole milliseconds, MSScan.bin minutes as float64.
        np.testing.assert_allclose(hunter.scan_times, chem.scan_times, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(hunter.scan_offsets, chem.scan_offsets)
        np.testing.assert_array_equal(hunter.mz, chem.mz)
        np.testing.assert_array_equal(hunter.intensity, chem.intensity)
        np.testing.assert_array_equal(hunter.tic, chem.tic)
        assert hunter.metadata.sample_name == chem.metadata.sample_name


@pytest.mark.shared
@pytest.mark.parametrize("run_id", ["002", "008", "014"])
def test_matches_the_proteowizard_conversion(run_id):
    """msconvert read these runs through MassHunter's own reader (source Contents.xml)."""
    times, tics, counts, mz, intensity = read_ms1(
        shared_file("lrcfs-etizolam", "msconvert_ms1", f"220223{run_id}.ms1"))
    run = masshunter.read(shared_file(*LRCFS, f"220223{run_id}.D"))
    assert run.n_scans == times.size
    np.testing.assert_allclose(run.scan_times, times * 60, atol=3.1e-4)
    np.testing.assert_array_equal(run.points_per_scan, counts)
    np.testing.assert_allclose(run.mz, mz, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(run.intensity, intensity)
    np.testing.assert_allclose(run.tic, tics, rtol=5e-6)


@pytest.mark.shared
def test_interleaved_scan_and_sim_match_the_chemstation_files():
    """yellow.D: MSScan.bin interleaves 1,307 full scans and 1,309 SIM scans.

    data.ms keeps m/z on a 0.05 grid and abundances packed to 14 significant bits, so the
    MassHunter values are equal after the same rounding: m/z exactly, abundances within
    half a packing step for 99.9 % of peaks and two steps for all.
    """
    folder = shared_file("agilent-d", "yellow.D")
    assert masshunter.list_channels(folder) == ["scan", "sim"]
    for channel, name in (("scan", "data.ms"), ("sim", "dataSim.ms")):
        hunter = masshunter.read(folder, channel=channel)
        chem = agilent.read(folder, channel=name)
        assert hunter.metadata.acquisition == chem.metadata.acquisition
        np.testing.assert_allclose(hunter.scan_times, chem.scan_times, rtol=0, atol=1e-9)
        np.testing.assert_array_equal(hunter.points_per_scan, chem.points_per_scan)
        np.testing.assert_array_equal(np.round(hunter.mz * 20) / 20, chem.mz)
        np.testing.assert_array_equal(hunter.tic, chem.tic)
        packed = chem.intensity.astype(float)
        step = 8.0 ** np.searchsorted([16384, 16384 * 8, 16384 * 64], packed, side="right")
        error = np.abs(hunter.intensity - packed) / step
        assert np.mean(error <= 0.5) > 0.999
        assert error.max() <= 2


@pytest.mark.shared
def test_metadata_from_the_acqdata_files():
    folder = shared_file(*LRCFS, "220223002.D")
    run = masshunter.read(folder)
    meta = run.metadata
    assert meta.acquired_at == datetime(2022, 2, 23, 14, 50, 20, tzinfo=timezone.utc)
    assert meta.sample_name == "25ug/mL Etizolam"
    assert meta.operator == "CN"
    assert meta.method == "benzodiazepines_GCMS_10split_2022.M"
    assert meta.tune_file == r"D:\MassHunter\GCMS\1\5977\stune.u"
    assert meta.instrument == "GCMS"
    assert meta.extra["vial"] == "2"
    peak_file = folder / "AcqData" / "MSPeak.bin"
    assert meta.data_file == str(peak_file)
    assert meta.sha256 == hashlib.sha256(peak_file.read_bytes()).hexdigest()
    assert meta.extra["msscan_sha256"] == hashlib.sha256(
        (folder / "AcqData" / "MSScan.bin").read_bytes()).hexdigest()
    assert "B.07.02" in meta.extra["software"]


@pytest.mark.shared
def test_chemstation_form_is_the_default_for_a_folder_with_both():
    folder = shared_file(*LRCFS, "220223008.D")
    assert gcms.io.sniff(folder) == "agilent-chemstation"
    assert gcms.io.read(folder).metadata.format == "agilent-chemstation"
    assert masshunter.sniff(folder, b"")


# =========================================================================== generated
def test_same_run_in_both_generated_forms(tmp_path):
    """Encoded independently from one scan list, the two forms read back identically."""
    scans = generated_scans(40)
    folder = make_masshunter(tmp_path / "run.D", scans)
    make_ms(folder / "data.ms", [(round(m * 60000), p) for m, _, p in scans])
    chem = agilent.read(folder)
    hunter = masshunter.read(folder)
    np.testing.assert_allclose(hunter.scan_times, chem.scan_times, atol=1e-9)
    np.testing.assert_array_equal(hunter.scan_offsets, chem.scan_offsets)
    np.testing.assert_allclose(hunter.mz, chem.mz, atol=1e-9)
    np.testing.assert_array_equal(hunter.intensity, chem.intensity)
    np.testing.assert_array_equal(hunter.tic, chem.tic)
    assert hunter.metadata.sample_name == "generated sample"
    assert hunter.metadata.tune_file == "D:\\t\\atune.u"
    assert hunter.metadata.acquired_at == datetime(2022, 2, 23, 14, 50, 20, tzinfo=timezone.utc)


@pytest.mark.parametrize("width", [8, 12, 16])
def test_peak_widths(tmp_path, width):
    scans = generated_scans(10)
    run = masshunter.read(make_masshunter(tmp_path / "w.D", scans, peak_width=width))
    mz_type, value_type = _PEAK_TYPES[width]
    expected_mz = np.concatenate([np.sort(np.array([p[0] for p in s[2]], dtype=mz_type))
                                  for s in scans]).astype(float)
    np.testing.assert_array_equal(run.mz, expected_mz)
    assert run.n_peaks == sum(len(s[2]) for s in scans)


def test_layout_follows_the_schema(tmp_path):
    """Reordered fields and an extra one: decoded through MSScan.xsd, not a fixed layout."""
    fields = list(reversed(RECORD_FIELDS)) + [("ExtraCounter", "xs:short")]
    scans = generated_scans(15)
    plain = masshunter.read(make_masshunter(tmp_path / "a.D", scans))
    shuffled = masshunter.read(make_masshunter(tmp_path / "b.D", scans, record_fields=fields))
    np.testing.assert_array_equal(plain.scan_times, shuffled.scan_times)
    np.testing.assert_array_equal(plain.tic, shuffled.tic)
    np.testing.assert_array_equal(plain.mz, shuffled.mz)
    dtype = masshunter.scan_record_dtype(schema(fields).encode(), 2)
    assert dtype.names[0] == "IsCollisionEnergyDynamic"
    assert dtype["SpectrumParamValues"].shape == (2,)
    assert dtype.itemsize == 134 + 2 * 52  # 132 + 2 bytes, two 52-byte blocks


def test_profile_and_centroid_blocks(tmp_path):
    scans = generated_scans(12)
    run = masshunter.read(make_masshunter(tmp_path / "p.D", scans, profile_block=True))
    assert run.metadata.extra["scan_records"].startswith("12 (2 spectrum blocks")
    assert run.n_peaks == sum(len(s[2]) for s in scans)
    no_msts = masshunter.read(make_masshunter(tmp_path / "q.D", scans, msts=False))
    assert no_msts.n_scans == 12


def test_scan_and_sim_channels(tmp_path):
    scans = generated_scans(30, sim_every=3)
    folder = make_masshunter(tmp_path / "s.D", scans)
    assert masshunter.list_channels(folder) == ["scan", "sim"]
    sim = masshunter.read(folder, channel="sim")
    assert sim.metadata.acquisition == "sim"
    assert sim.n_scans == sum(1 for s in scans if s[1] == 2)
    assert masshunter.read(folder).n_scans == sum(1 for s in scans if s[1] == 1)
    only_scan = make_masshunter(tmp_path / "t.D", generated_scans(5))
    with pytest.raises(FormatError, match=r"t\.D: no 'sim' records"):
        masshunter.read(only_scan, channel="sim")


# =========================================================================== edge cases
def _refused(folder: Path, match: str) -> None:
    with pytest.raises(FormatError, match=match) as caught:
        gcms.io.read(folder, format="agilent-masshunter")
    assert str(folder) in str(caught.value)


def test_truncated_msscan(tmp_path):
    folder = make_masshunter(tmp_path / "x.D", generated_scans(10))
    scan = folder / "AcqData" / "MSScan.bin"
    scan.write_bytes(scan.read_bytes()[:-100])
    _refused(folder, "not the 10 records MSTS.xml lists")
    (folder / "AcqData" / "MSTS.xml").unlink()
    _refused(folder, "no whole number")


def test_msts_claiming_more_scans(tmp_path):
    folder = make_masshunter(tmp_path / "x.D", generated_scans(10))
    (folder / "AcqData" / "MSTS.xml").write_text(
        "<TimeSegments><TimeSegment><NumOfScans>11</NumOfScans></TimeSegment></TimeSegments>")
    _refused(folder, "not the 11 records")


def test_truncated_mspeak_names_the_scan(tmp_path):
    folder = make_masshunter(tmp_path / "x.D", generated_scans(10))
    peak = folder / "AcqData" / "MSPeak.bin"
    peak.write_bytes(peak.read_bytes()[:-10])
    _refused(folder, r"MSPeak.bin: scan 10: .* do not fit")


def test_missing_or_foreign_files(tmp_path):
    folder = make_masshunter(tmp_path / "x.D", generated_scans(5))
    acq = folder / "AcqData"
    (acq / "MSPeak.bin").rename(acq / "MSProfile.bin")
    _refused(folder, "profile spectra only")
    (acq / "MSProfile.bin").unlink()
    _refused(folder, "MSPeak.bin is missing")
    (acq / "MSPeak.bin").write_bytes(b"\x00\x00" + bytes(100))
    _refused(folder, "not a MassHunter MSPeak.bin")
    (acq / "MSScan.xsd").unlink()
    _refused(folder, "MSScan.xsd is missing")
    (acq / "MSScan.xsd").write_text("<xs:schema")
    _refused(folder, "not well-formed XML")
    (acq / "MSScan.xsd").write_text(schema(RECORD_FIELDS[:3]))
    _refused(folder, "lacks ScanTime")
    not_a_run = tmp_path / "plain"
    not_a_run.mkdir()
    _refused(not_a_run, "not a MassHunter .D folder")


def test_non_finite_peaks_are_refused(tmp_path):
    scans = generated_scans(5)
    scans[2] = (scans[2][0], 1, [(float("nan"), 10.0)])
    _refused(make_masshunter(tmp_path / "x.D", scans), "scan 3 holds non-finite")
    scans[2] = (scans[2][0], 1, [(100.0, 1e300)])  # beyond float32: would read as inf
    _refused(make_masshunter(tmp_path / "y.D", scans), "scan 3 holds non-finite")


def test_schema_with_an_unknown_encoding_is_refused(tmp_path):
    folder = make_masshunter(tmp_path / "x.D", generated_scans(3))
    xsd = folder / "AcqData" / "MSScan.xsd"
    xsd.write_text(xsd.read_text().replace('encoding="utf-8"', 'encoding="utb-8"'))
    _refused(folder, "MSScan.xsd: not well-formed XML")
