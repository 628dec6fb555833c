"""MSP / NIST text and AMDIS MSL libraries: dialects, skipped entries, round trip."""

from __future__ import annotations

import atexit
import csv
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract

import gcms.io
from gcms import FormatError, Spectrum
from gcms.io import msp

ALKANE_PEAKS = [(53, 25), (55, 178), (56, 190), (57, 999), (58, 41), (67, 8), (69, 59),
                (70, 107), (71, 375), (72, 16), (82, 4), (83, 18), (84, 67), (85, 204),
                (98, 40), (99, 34), (112, 22), (113, 27), (114, 2), (126, 10), (127, 15),
                (156, 25), (157, 2)]

GENERATED = """\
Name: Caffeine
Synon: 1,3,7-Trimethylxanthine
Synon: Guaranine
Synon: $:28some coded value
CAS#: 58-08-2;  NIST#: 12345
Formula: C8H10N4O2
MW: 194
InChIKey: RYYVLZVUVIJVGH-UHFFFAOYSA-N
Retention_index: SemiStdNP=1840/9/120 StdNP=1806/12/40 StdPolar=3011/20/10
Comments: "cas=58-08-2" "author=gcms tests" "SMILES=Cn1cnc2c1c(=O)n(C)c(=O)n2C"
Num Peaks: 6
55 120; 67 80; 82 150;
109 310; 193 110; 194 999;

NAME: Methamphetamine
FORM: C10H15N
CASNO: 537-46-2
RI: 1180.5
RT: 6.25
NUM PEAKS: 5
(58 999) (91 150) (65 40)
(134 30) (148 5)
Name: Amphetamine
CAS#: 300-62-9
Num Peaks: 4
44	999	"C2H6N+"
91	220
65	60
120	15
"""


def _generated(directory: Path) -> Path:
    path = directory / "generated.msp"
    path.write_text(GENERATED, encoding="utf-8")
    return path


_MUTATION_DIR = Path(tempfile.mkdtemp(prefix="gcms-msp-"))
atexit.register(shutil.rmtree, _MUTATION_DIR, ignore_errors=True)


def _write(tmp_path: Path, text: str | bytes, name: str = "lib.msp") -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


# --------------------------------------------------------------------------- contract
class TestMspContract(ReaderContract, MutationContract):
    format_name = "msp"
    holds = "spectra"
    garbage_suffix = ".msp"

    def sample_files(self, tmp_path):
        files = [_generated(tmp_path)]
        for parts in (("nist-hitlists", "queries_alkanes.msp"),
                      ("amdis-nist-formats", "amdis_msl", "DB1.msl"),
                      ("corems-fames-ri", "FAMES_REF.msp")):
            path = SHARED_DATA.joinpath(*parts)
            if path.exists():
                files.append(path)
        return files

    def mutation_files(self):
        files = [_generated(_MUTATION_DIR)]
        for parts in (("amdis-nist-formats", "msp", "Peaks2.MSP"),
                      ("amdis-nist-formats", "amdis_msl", "DB4.msl")):
            path = SHARED_DATA.joinpath(*parts)
            if path.exists():
                files.append(path)
        return files


# --------------------------------------------------------------------------- generated
def test_generated_dialects_read_every_field(tmp_path):
    report = msp.read_entries(_generated(tmp_path))
    assert not report.skipped
    caffeine, meth, amph = report.spectra
    assert caffeine.name == "Caffeine"
    assert caffeine.synonyms == ("1,3,7-Trimethylxanthine", "Guaranine")
    assert caffeine.extra["$:28"] == "some coded value"
    assert caffeine.cas == "58-08-2"
    assert caffeine.extra["NIST#"] == "12345"
    assert caffeine.formula == "C8H10N4O2" and caffeine.mw == 194
    assert caffeine.inchikey == "RYYVLZVUVIJVGH-UHFFFAOYSA-N"
    assert caffeine.retention_index == 1840 and caffeine.ri_column == "semi-standard non-polar"
    assert caffeine.extra["Retention_index"].startswith("SemiStdNP=1840/9/120")
    assert caffeine.extra["msp.comment.author"] == "gcms tests"
    assert caffeine.extra["msp.comment.SMILES"] == "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
    np.testing.assert_array_equal(caffeine.mz, [55, 67, 82, 109, 193, 194])
    np.testing.assert_array_equal(caffeine.intensity, [120, 80, 150, 310, 110, 999])
    assert meth.formula == "C10H15N" and meth.cas == "537-46-2"
    assert meth.retention_index == 1180.5 and meth.ri_column is None
    assert meth.rt_seconds == pytest.approx(375.0)
    np.testing.assert_array_equal(meth.mz, [58, 65, 91, 134, 148])  # sorted by m/z
    np.testing.assert_array_equal(meth.intensity, [999, 40, 150, 30, 5])
    # Entry without a blank line before it; tab-separated peaks with quoted annotations.
    assert amph.name == "Amphetamine"
    np.testing.assert_array_equal(amph.mz, [44, 65, 91, 120])
    assert [s.source_entry for s in report.spectra] == ["1", "2", "3"]
    assert {s.source for s in report.spectra} == {str(tmp_path / "generated.msp")}


def test_registry_reads_msp_by_content(tmp_path):
    path = _write(tmp_path, GENERATED, "library.txt")
    assert gcms.io.sniff(path) == "msp"
    assert len(gcms.io.read_spectra(path)) == 3
    with pytest.raises(FormatError, match="library spectra"):
        gcms.io.read(path)


@pytest.mark.parametrize(("cas", "expected"), [
    ("58-08-2", "58-08-2"),        # caffeine
    ("7732-18-5", "7732-18-5"),    # water
    ("74828", "74-82-8"),          # NIST digits-only form of methane
    ("0000050000", "50-00-0"),     # zero-padded formaldehyde
    ("0", None), ("", None), ("NA", None),
])
def test_normalize_cas(cas, expected):
    assert msp.normalize_cas(cas) == expected


@pytest.mark.parametrize("cas", ["58-08-3", "111-222-55", "cas_no_value", "RT 23.705", "123"])
def test_normalize_cas_refuses_what_is_not_a_cas_number(cas):
    with pytest.raises(ValueError):
        msp.normalize_cas(cas)


def _one(tmp_path, body: str, name: str = "X") -> msp.EntryReport:
    return msp.read_entries(_write(tmp_path, f"Name: {name}\n{body}"))


def test_zero_intensity_peaks_are_dropped_and_counted(tmp_path):
    report = _one(tmp_path, "Num Peaks: 4\n0 0\n41 0\n43 999\n57 10\n")
    (spectrum,) = report.spectra
    np.testing.assert_array_equal(spectrum.mz, [43, 57])
    assert spectrum.extra["msp.zero_intensity_peaks"] == "2"


@pytest.mark.parametrize(("body", "reason"), [
    ("Num Peaks: 2\n41 -5\n43 999\n", "negative"),
    ("Num Peaks: 2\n41 nan\n43 999\n", "not a number: 'nan'"),
    ("Num Peaks: 2\n41 NaN\n43 999\n", "not a number"),
    ("Num Peaks: 2\n41 1e\n43 999\n", "not a number"),
    ("Num Peaks: 2\n41 1e999\n43 999\n", "peak 1 is not a finite number (m/z 41.0, "
                                           "intensity inf)"),
    ("Num Peaks: 2\n0 5\n43 999\n", "peak list holds m/z 0, outside 0.5 to 5000"),
    ("Num Peaks: 2\n41 5\n70000 999\n", "peak list holds m/z 70000, outside 0.5 to 5000"),
    ("Num Peaks: 2\n41 0\n43 0\n", "no peak of positive intensity"),
    ("Num Peaks: 3\n41 5\n43 999\n", "Num Peaks says 3 but 2 peaks follow"),
    ("Num Peaks: 1\n41 5 7\n", "odd number"),
    ("Num Peaks: 0\n", "no peaks"),
    ("Num Peaks: two\n41 5\n", "not a whole number"),
    ("MW: heavy\nNum Peaks: 1\n41 5\n", "MW is not a number"),
    ("RI: fast\nNum Peaks: 1\n41 5\n", "RI is not a number"),
    ("RT: 5 fortnights\nNum Peaks: 1\n41 5\n", "unknown unit"),
    ("41 5\n43 999\n", "no 'Num Peaks' line"),
])
def test_bad_entries_are_skipped_naming_file_entry_and_reason(tmp_path, body, reason):
    text = f"Name: Good\nNum Peaks: 1\n41 5\n\nName: Bad one\n{body}\nName: Also good\n" \
           "Num Peaks: 1\n43 7\n"
    path = _write(tmp_path, text)
    report = msp.read_entries(path)
    assert [s.name for s in report.spectra] == ["Good", "Also good"]
    (skipped,) = report.skipped
    assert skipped.source == str(path)
    assert skipped.entry.startswith("2 'Bad one' (line 5)")
    assert reason in skipped.reason
    with pytest.raises(FormatError, match=re.escape(str(path))):
        gcms.io.read_spectra(path)


def test_entry_without_name_is_skipped(tmp_path):
    path = _write(tmp_path, "Synon: nameless\nNum Peaks: 1\n41 5\n")
    report = msp.read_entries(path)
    assert not report.spectra
    assert report.skipped[0].reason == "no Name line"


@pytest.mark.parametrize(("value", "ri", "column"), [
    ("1234", 1234.0, None), ("1234.5 (DB-5MS)", 1234.5, "DB-5MS"), ("1180 HP-5", 1180.0, "HP-5"),
    ("959,45", 959.45, None), ("s=1201 n=1190", 1201.0, "semi-standard non-polar"),
    ("StdPolar=2011/5/8", 2011.0, "standard polar"),
])
def test_retention_index_forms(tmp_path, value, ri, column):
    (spectrum,) = _one(tmp_path, f"RI: {value}\nNum Peaks: 1\n41 5\n").spectra
    assert spectrum.retention_index == ri and spectrum.ri_column == column
    msp.write([spectrum], tmp_path / "again.msp")
    (again,) = msp.read_entries(tmp_path / "again.msp").spectra
    assert (again.retention_index, again.ri_column) == (ri, column)


def test_placeholders_mean_not_stated(tmp_path):
    report = _one(tmp_path, "CASNO: 0\nRI: 0\nRT: -1\nMW:   \nFORMULA: NA\nNum Peaks: 1\n41 5\n")
    (spectrum,) = report.spectra
    assert spectrum.cas is None and spectrum.retention_index is None
    assert spectrum.rt_seconds is None and spectrum.mw is None and spectrum.formula is None
    assert "CASNO" not in spectrum.extra


def test_invalid_cas_text_is_kept_but_not_used(tmp_path):
    (spectrum,) = _one(tmp_path, "CAS#: 58-08-3\nNum Peaks: 1\n41 5\n").spectra
    assert spectrum.cas is None
    assert spectrum.extra["CAS#"] == "58-08-3"


def test_encodings_fall_back_to_cp1252_then_latin1(tmp_path):
    body = b"Num Peaks: 1\n41 5\n\n"
    data = ("Name: Caf\u00e9 utf8\n".encode() + body
            + "Name: Caf\u00e9 cp1252 \u2013 dash\n".encode("cp1252") + body
            + b"Name: odd \x81 byte\n" + body)
    report = msp.read_entries(_write(tmp_path, data))
    names = [s.name for s in report.spectra]
    assert names == ["Caf\u00e9 utf8", "Caf\u00e9 cp1252 \u2013 dash", "odd \x81 byte"]
    assert "msp.encoding" not in report.spectra[0].extra
    assert report.spectra[1].extra["msp.encoding"] == "cp1252"
    assert report.spectra[2].extra["msp.encoding"] == "latin-1"


def test_name_cut_at_nul_and_control_characters_refused(tmp_path):
    data = (b"NAME: Lauryl acetate\x00etate\x00te\nNUM PEAKS: 1\n(29 115)\n\n"
            b"NAME: bell\x07name\nNUM PEAKS: 1\n(29 115)\n")
    report = msp.read_entries(_write(tmp_path, data, "lib.msl"))
    assert [s.name for s in report.spectra] == ["Lauryl acetate"]
    assert report.spectra[0].extra["msp.truncated_at_nul"] == "name"
    assert "control characters" in report.skipped[0].reason


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_endings_bom_and_ctrl_z(tmp_path, newline):
    text = "\ufeffName: A\nNum Peaks: 2\n41 5; 43 9\n\nName: B\nNum Peaks: 1\n57 3\n"
    data = text.replace("\n", newline).encode("utf-8") + b"\x1a"
    report = msp.read_entries(_write(tmp_path, data))
    assert [s.name for s in report.spectra] == ["A", "B"]
    assert not report.skipped


def test_stray_text_between_entries(tmp_path):
    text = ("Name: A\nNum Peaks: 1\n41 5\n\n------PEAK------\n"
            "Name: B\nNum Peaks: 1\n41 5\n\nSynon: orphan\nNum Peaks: 1\n43 9\n")
    report = msp.read_entries(_write(tmp_path, text))
    assert [s.name for s in report.spectra] == ["A", "B"]
    (skipped,) = report.skipped  # the decoration is ignored, the orphan entry is not
    assert skipped.entry.startswith("after entry 2 'B'")


def test_elu_files_are_not_claimed(tmp_path):
    text = ("NAME: |SC17|CN1|MP1-MODN:28(%47.7)|AM9415|RT0.2866\nRE\n3301 5697\n"
            "NUM PEAKS: 1\n(28,999 )\n")
    path = _write(tmp_path, text, "peaks.elu")
    assert not msp.sniff(path, path.read_bytes())


def test_empty_and_foreign_files(tmp_path):
    with pytest.raises(FormatError, match="empty"):
        msp.read_entries(_write(tmp_path, b"", "empty.msp"))
    with pytest.raises(FormatError, match="no MSP entry"):
        msp.read_entries(_write(tmp_path, "just some text\n", "text.msp"))


# --------------------------------------------------------------------------- writing
def _rich_spectra() -> list[Spectrum]:
    return [
        Spectrum(mz=[58.0, 91.0, 134.0, 149.1], intensity=[999.0, 150.0, 30.0, 0.5],
                 name="Methamphetamine", synonyms=("N-methylamphetamine", "Desoxyephedrine"),
                 cas="537-46-2", formula="C10H15N", mw=149.0,
                 inchikey="MYWUZJCMWCOHBA-VIFPVBQESA-N", retention_index=1180.5,
                 ri_column="semi-standard non-polar", rt_seconds=375.123456789,
                 comment='"author=gcms" "license=CC0"',
                 extra={"DB#": "17", "$:00": "in-source", "SMILES": "CNC(C)Cc1ccccc1",
                        "Retention_index": "SemiStdNP=1180/5/20 StdNP=1170/3/4"}),
        Spectrum(mz=[44.0, 91.0], intensity=[1.0e-3, 2.5e-4], name="Amphetamine \u00e9"),
        Spectrum(mz=np.linspace(50.0001, 600.1234, 500), intensity=np.arange(1.0, 501.0) / 7,
                 name="accurate mass", mw=None, retention_index=2886.9),
    ]


#: Reading notes about the source bytes, which a written file no longer needs.
SOURCE_NOTES = ("msp.zero_intensity_peaks", "msp.encoding", "msp.truncated_at_nul")


def _comparable(spectrum: Spectrum) -> dict:
    data = spectrum.to_dict()
    data.pop("source")
    data.pop("source_entry")
    data["extra"] = {k: v for k, v in data["extra"].items() if k not in SOURCE_NOTES}
    return data


def test_write_then_read_gives_the_same_spectra(tmp_path):
    spectra = _rich_spectra()
    path = tmp_path / "out.msp"
    msp.write(spectra, path)
    report = msp.read_entries(path)
    assert not report.skipped
    # The comment's key=value pairs are parsed on reading; everything else is as written.
    expected = [_comparable(s) for s in spectra]
    expected[0]["extra"].update({"msp.comment.author": "gcms", "msp.comment.license": "CC0"})
    assert [_comparable(s) for s in report.spectra] == expected


@pytest.mark.parametrize("parts", [
    ("nist-hitlists", "library_massbank_alkanes.msp"),
    ("amdis-nist-formats", "amdis_msl", "DB4.msl"),
    ("amdis-nist-formats", "msp", "Synonyms.MSP"),
    ("amdis-nist-formats", "msp", "GolmDB-Test.MSP"),
    ("corems-fames-ri", "PNNLMetV20191015.msp"),
    ("corems-fames-ri", "FAMES_REF.MSL"),
    ("recetox-gc-orbitrap", "recetox_gc-ei_ms_20201028.msp"),
])
def test_real_libraries_round_trip(tmp_path, parts):
    original = msp.read_entries(shared_file(*parts)).spectra
    msp.write(original, tmp_path / "copy.msp")
    again = msp.read_entries(tmp_path / "copy.msp")
    assert not again.skipped
    assert [_comparable(s) for s in again.spectra] == [_comparable(s) for s in original]


def test_write_refuses_what_msp_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="no name"):
        msp.write([Spectrum(mz=[41.0], intensity=[1.0])], tmp_path / "a.msp")
    with pytest.raises(ValueError, match="negative"):
        msp.write([Spectrum(mz=[41.0], intensity=[-1.0], name="x")], tmp_path / "a.msp")
    with pytest.raises(ValueError, match="line break"):
        msp.write([Spectrum(mz=[41.0], intensity=[1.0], name="x", comment="a\nb")],
                  tmp_path / "a.msp")
    with pytest.raises(ValueError, match="cannot be an MSP field"):
        msp.write([Spectrum(mz=[41.0], intensity=[1.0], name="x", extra={"a:b": "c"})],
                  tmp_path / "a.msp")


# --------------------------------------------------------------------------- real files
def _name_lines(path: Path) -> int:
    return len(re.findall(rb"(?im)^\s*(?:\xef\xbb\xbf)?name\s*:", path.read_bytes()))


@pytest.mark.parametrize(("parts", "n_spectra"), [
    (("nist-hitlists", "library_massbank_alkanes.msp"), 90),
    (("nist-hitlists", "queries_alkanes.msp"), 3),
    (("amdis-nist-formats", "amdis_msl", "Chromtogram.msl"), 279),
    (("amdis-nist-formats", "amdis_msl", "NotReadable.msl"), 1),
    (("amdis-nist-formats", "ri_standards", "alkanes.msl"), 36),
    (("amdis-nist-formats", "ri_standards", "gerberetal2012.msl"), 186),
    (("amdis-nist-formats", "msp", "Lib1.msp"), 5),
    (("amdis-nist-formats", "msp", "Peaks6.MSP"), 3),
    (("corems-fames-ri", "PNNLMetV20191015.msp"), 1284),
    (("corems-fames-ri", "PNNLMetV20191015.MSL"), 1284),
    (("recetox-gc-orbitrap", "recetox_gc-ei_ms_20201028.msp"), 133),
    (("andi-roundrobin", "derived", "finnigan_tx_lib_first100.msp"), 100),
])
def test_real_libraries_read_completely(parts, n_spectra):
    path = shared_file(*parts)
    report = msp.read_entries(path)
    assert not report.skipped, report.skipped[:3]
    assert len(report.spectra) == n_spectra == _name_lines(path)
    assert gcms.io.sniff(path) == "msp"


def test_chromatogram_msl_entries_match_their_num_peaks():
    path = shared_file("amdis-nist-formats", "amdis_msl", "Chromtogram.msl")
    stated = [int(n) for n in re.findall(rb"NUM PEAKS:\s*(\d+)", path.read_bytes())]
    spectra = msp.read_entries(path).spectra
    assert [len(s) for s in spectra] == stated
    first = spectra[0]
    assert first.name == "0.5203 min, OP17760"
    assert first.rt_seconds == pytest.approx(0.5203 * 60)
    np.testing.assert_array_equal(first.mz, [16, 28, 29, 32, 34, 40])


@pytest.mark.parametrize("name", ["delimiters.msp", "number_format.msp"])
def test_every_peak_list_style_gives_the_same_peaks(name):
    report = msp.read_entries(shared_file("nist-hitlists", "msp_edge_cases", name))
    assert len(report.spectra) == {"delimiters.msp": 10, "number_format.msp": 5}[name]
    expected_mz, expected_int = np.array(ALKANE_PEAKS, dtype=float).T
    for spectrum in report.spectra:
        np.testing.assert_array_equal(spectrum.mz, expected_mz, err_msg=spectrum.name)
        np.testing.assert_array_equal(spectrum.intensity, expected_int, err_msg=spectrum.name)


def test_mssearchr_edge_cases():
    folder = ("nist-hitlists", "msp_edge_cases")
    fields = msp.read_entries(shared_file(*folder, "read_cas_nist_fields_1.msp")).spectra
    assert [s.extra["NIST#"] for s in fields] == ["nist_no_value"] * 3
    assert [s.extra["CAS#"] for s in fields] == ["cas_no_value"] * 3
    (merged,) = msp.read_entries(shared_file(*folder, "merge_synon_fields.msp")).spectra
    assert merged.synonyms == tuple(f"synon_value_{i}" for i in range(1, 11))
    (single,) = msp.read_entries(shared_file(*folder, "read_single_value_fields.msp")).spectra
    assert single.name == "name_value" and single.inchikey == "inchikey_value"
    assert single.comment == "comment_value" and single.extra["Comments"] == "comments_value"
    assert single.extra["M/Z Range"] == "m_z_range_value"
    wrong = msp.read_entries(shared_file(*folder, "numpeaks_field_incorrect.msp"))
    assert not wrong.spectra and "says 3 but 2" in wrong.skipped[0].reason


def test_amdis_msl_fields():
    (salicylate,) = msp.read_entries(shared_file("amdis-nist-formats", "amdis_msl",
                                                 "DB4.msl")).spectra
    assert salicylate.cas == "118-61-6"
    assert salicylate.extra["CASNO"] == "1476043-16-9"
    assert len(salicylate.synonyms) == 7 and salicylate.synonyms[1] == "Salotan"
    assert salicylate.inchikey == "GYCKQBWUSACYIF-UHFFFAOYSA-N"
    assert salicylate.mw == 166 and salicylate.retention_index == 400.7
    assert salicylate.base_peak_mz == 120
    encoding = msp.read_entries(shared_file("amdis-nist-formats", "amdis_msl", "Encoding.msl"))
    assert [s.name for s in encoding.spectra] == ["Propylphenyl acetate", "Lauryl acetate"]


def test_fames_retention_indices_are_100_times_the_carbon_number():
    spectra = msp.read_entries(shared_file("corems-fames-ri", "FAMES_REF.MSL")).spectra
    carbons = [int(re.match(r"\[C(\d+)\]", s.name).group(1)) for s in spectra]
    assert [s.retention_index for s in spectra] == [100.0 * c for c in carbons]
    # The reference RT in minutes is also in each name: "[C8] Methyl Caprylate [7.812]".
    for spectrum in spectra:
        minutes = float(re.search(r"\[([\d.]+)\]$", spectrum.name).group(1))
        assert spectrum.rt_seconds == pytest.approx(minutes * 60)
        assert spectrum.base_peak_mz == 74  # methyl ester McLafferty ion


def test_pnnl_library_metadata():
    spectra = msp.read_entries(shared_file("corems-fames-ri", "PNNLMetV20191015.msp")).spectra
    assert all(s.retention_index is not None for s in spectra)
    keys = [s.inchikey for s in spectra if s.inchikey]
    # One record of the source holds a 13-letter first block; the rest are well formed.
    assert sum(bool(re.fullmatch(r"[A-Z]{14}-[A-Z]{10}-[A-Z]", k)) for k in keys) > 1200


def test_recetox_accurate_mass_library_strips_annotations():
    path = shared_file("recetox-gc-orbitrap", "recetox_gc-ei_ms_20201028.msp")
    spectra = msp.read_entries(path).spectra
    assert all(s.retention_index is not None for s in spectra)
    perylene = spectra[0]
    assert perylene.name == "Perylene" and perylene.retention_index == 2886.9
    assert len(perylene) == 19
    assert perylene.mz[1] == 113.03854 and perylene.intensity[1] == 87510
    assert perylene.extra["LICENSE"] == "CC BY-NC"


def test_peaks_agree_with_matchms_reader():
    """matchms' own MSP parser is an independent reading of the same bytes."""
    from matchms.importing import load_from_msp

    for parts in (("andi-roundrobin", "derived", "nist_50.msp"),
                  ("nist-hitlists", "library_massbank_alkanes.msp"),
                  ("recetox-gc-orbitrap", "recetox_gc-ei_ms_20201028.msp")):
        path = shared_file(*parts)
        theirs = list(load_from_msp(str(path), metadata_harmonization=False))
        ours = msp.read_entries(path).spectra
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            positive = b.peaks.intensities > 0  # we drop zero-intensity peaks, matchms not
            np.testing.assert_array_equal(a.mz, b.peaks.mz[positive])
            np.testing.assert_allclose(a.intensity, b.peaks.intensities[positive], rtol=1e-6)


def test_nist_hit_ids_name_the_library_entry_at_that_position():
    """NIST MS Search's hit Id is the entry's position in the library it searched."""
    library = msp.read_entries(shared_file("nist-hitlists", "library_massbank_alkanes.msp"))
    with open(shared_file("nist-hitlists", "expected_nist_hits.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    id_key = next(k for k in rows[0] if "id" in k.lower() and "library" in k.lower())
    name_key = next(k for k in rows[0] if "name" in k.lower() and "hit" in k.lower())
    for row in rows:
        entry = library.spectra[int(row[id_key]) - 1]
        assert entry.source_entry == row[id_key]
        assert entry.name.lower() == row[name_key].lower()


def test_cas_numbers_of_nist_50_are_normalised():
    spectra = msp.read_entries(shared_file("andi-roundrobin", "derived", "nist_50.msp")).spectra
    assert spectra[0].name == "Methane" and spectra[0].cas == "74-82-8"
    assert spectra[1].cas == "7664-41-7"  # ammonia
