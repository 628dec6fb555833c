"""MassBank record files: every real EI record, multi-record files, bad records."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract

import gcms.io
from gcms import FormatError
from gcms.io import massbank, msp

RECORD = """\
ACCESSION: MSBNK-TEST-XX000001
RECORD_TITLE: Caffeine; GC-EI-Q; MS
DATE: 2024.01.01
AUTHORS: gcms tests
LICENSE: CC0
COMMENT: first comment
COMMENT: second comment
CH$NAME: Caffeine
CH$NAME: 1,3,7-Trimethylxanthine
CH$COMPOUND_CLASS: N/A
CH$FORMULA: C8H10N4O2
CH$EXACT_MASS: 194.08038
CH$SMILES: Cn1cnc2c1c(=O)n(C)c(=O)n2C
CH$IUPAC: InChI=1S/C8H10N4O2/c1-10-4-9-6-5(10)7(13)12(3)8(14)11(6)2/h4H,1-3H3
CH$LINK: CAS 58-08-2
CH$LINK: INCHIKEY RYYVLZVUVIJVGH-UHFFFAOYSA-N
CH$LINK: PUBCHEM CID:2519
AC$INSTRUMENT: Agilent 5977
AC$INSTRUMENT_TYPE: GC-EI-Q
AC$MASS_SPECTROMETRY: MS_TYPE MS
AC$MASS_SPECTROMETRY: ION_MODE POSITIVE
AC$MASS_SPECTROMETRY: IONIZATION_ENERGY 70 eV
AC$CHROMATOGRAPHY: COLUMN_NAME HP-5MS 30 m
AC$CHROMATOGRAPHY: RETENTION_INDEX 1840.5
AC$CHROMATOGRAPHY: RETENTION_TIME 9.5 min
PK$SPLASH: splash10-0000-0000000000-00000000000000000000
PK$ANNOTATION: m/z formula
  194 C8H10N4O2+
PK$NUM_PEAK: 4
PK$PEAK: m/z int. rel.int.
  55 1200 120
  82 1500 150
  109 3100 310
  194 9990 999
//
"""

SECOND = """\
ACCESSION: MSBNK-TEST-XX000002
CH$NAME: Nicotine
CH$EXACT_MASS: 162.11570
CH$LINK: CAS 54-11-5
AC$CHROMATOGRAPHY: RETENTION_TIME 341 sec
PK$NUM_PEAK: 3
PK$PEAK: m/z int. rel.int.
  84 999 999
  133 0 0
  162 190 190
//
"""

_MUTATION_DIR = Path(tempfile.mkdtemp(prefix="gcms-massbank-"))
atexit.register(shutil.rmtree, _MUTATION_DIR, ignore_errors=True)


def _write(directory: Path, text: str | bytes, name: str = "record.txt") -> Path:
    path = directory / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


class TestMassBankContract(ReaderContract, MutationContract):
    format_name = "massbank"
    holds = "spectra"
    garbage_suffix = ".txt"

    def sample_files(self, tmp_path):
        files = [_write(tmp_path, RECORD + SECOND, "two.txt")]
        for parts in (("massbank-ei", "RIKEN", "MSBNK-RIKEN-PR010001.txt"),
                      ("massbank-ei", "Fac_Eng_Univ_Tokyo",
                       "MSBNK-Fac_Eng_Univ_Tokyo-JP000001.txt")):
            path = SHARED_DATA.joinpath(*parts)
            if path.exists():
                files.append(path)
        return files

    def mutation_files(self):
        return [_write(_MUTATION_DIR, RECORD + SECOND, "two.txt")]


def test_fields_of_a_record(tmp_path):
    report = massbank.read_entries(_write(tmp_path, RECORD + SECOND))
    assert not report.skipped
    caffeine, nicotine = report.spectra
    assert caffeine.name == "Caffeine" and caffeine.synonyms == ("1,3,7-Trimethylxanthine",)
    assert caffeine.source_entry == "MSBNK-TEST-XX000001"
    assert caffeine.cas == "58-08-2" and caffeine.formula == "C8H10N4O2"
    assert caffeine.mw == 194 and caffeine.extra["exact_mass"] == "194.08038"
    assert caffeine.inchikey == "RYYVLZVUVIJVGH-UHFFFAOYSA-N"
    assert caffeine.retention_index == 1840.5 and caffeine.ri_column == "HP-5MS 30 m"
    assert caffeine.rt_seconds == pytest.approx(570.0)
    assert caffeine.comment == "first comment; second comment"
    assert caffeine.extra["license"] == "CC0"
    assert caffeine.extra["instrument_type"] == "GC-EI-Q"
    assert caffeine.extra["ion_mode"] == "POSITIVE" and caffeine.extra["ms_type"] == "MS"
    assert caffeine.extra["link PUBCHEM"] == "CID:2519"
    assert caffeine.extra["inchi"].startswith("InChI=1S/C8H10N4O2")
    # int. resolves finer than rel.int. here (base 9990) and agrees with it: int. is used
    np.testing.assert_array_equal(caffeine.mz, [55, 82, 109, 194])
    np.testing.assert_array_equal(caffeine.intensity, [1200, 1500, 3100, 9990])
    assert caffeine.extra["massbank.intensity_column"] == "int."
    assert nicotine.rt_seconds == 341 and nicotine.cas == "54-11-5"
    np.testing.assert_array_equal(nicotine.mz, [84, 162])  # the zero-intensity peak dropped
    assert nicotine.extra["massbank.zero_intensity_peaks"] == "1"
    assert nicotine.retention_index is None and nicotine.ri_column is None


def test_registry_sniffs_massbank(tmp_path):
    path = _write(tmp_path, RECORD, "anonymous")
    assert gcms.io.sniff(path) == "massbank"
    assert len(gcms.io.read_spectra(path)) == 1


def test_record_without_its_terminator_still_ends_at_the_next_accession(tmp_path):
    text = RECORD.replace("//\n", "") + SECOND
    report = massbank.read_entries(_write(tmp_path, text))
    assert [s.name for s in report.spectra] == ["Caffeine", "Nicotine"]


@pytest.mark.parametrize(("change", "reason"), [
    (("PK$NUM_PEAK: 4", "PK$NUM_PEAK: 5"), "PK$NUM_PEAK says 5 but 4 peaks follow"),
    (("  82 1500 150", "  82 nan 150"), "not a number"),
    (("  82 1500 150", "  82 1500 -150"), "negative"),
    (("  82 1500 150", "  82 1500"), "m/z int. rel.int."),
    (("CH$NAME: Caffeine\nCH$NAME: 1,3,7-Trimethylxanthine\n", ""), "no CH$NAME"),
    (("CH$EXACT_MASS: 194.08038", "CH$EXACT_MASS: heavy"), "CH$EXACT_MASS is not a number"),
    (("RETENTION_INDEX 1840.5", "RETENTION_INDEX late"), "RETENTION_INDEX is not a number"),
    (("PK$PEAK: m/z int. rel.int.", "PK$PEAK: N/A"), "no peaks"),
])
def test_bad_records_are_skipped_with_their_accession(tmp_path, change, reason):
    bad = RECORD.replace(*change)
    path = _write(tmp_path, SECOND + bad)
    report = massbank.read_entries(path)
    assert [s.name for s in report.spectra] == ["Nicotine"]
    (skipped,) = report.skipped
    assert skipped.source == str(path)
    assert skipped.entry == "MSBNK-TEST-XX000001 (line 12)"
    assert reason in skipped.reason
    with pytest.raises(FormatError, match=re.escape(str(path))):
        gcms.io.read_spectra(path)


def test_truncated_record_is_skipped(tmp_path):
    text = RECORD + SECOND[: SECOND.index("  162")]
    report = massbank.read_entries(_write(tmp_path, text))
    assert [s.name for s in report.spectra] == ["Caffeine"]
    assert "PK$NUM_PEAK says 3 but 2" in report.skipped[0].reason


def test_other_encodings_and_line_endings(tmp_path):
    text = RECORD.replace("Caffeine; GC", "Caf\u00e9ine; GC").replace("\n", "\r\n")
    report = massbank.read_entries(_write(tmp_path, text.encode("cp1252")))
    (spectrum,) = report.spectra
    assert spectrum.extra["record_title"].startswith("Caf\u00e9ine")
    assert spectrum.extra["massbank.encoding"] == "cp1252"


def test_retention_time_without_unit_is_not_guessed(tmp_path):
    text = RECORD.replace("RETENTION_TIME 9.5 min", "RETENTION_TIME 941.58")
    (spectrum,) = massbank.read_entries(_write(tmp_path, text)).spectra
    assert spectrum.rt_seconds is None and spectrum.extra["retention_time"] == "941.58"


def test_foreign_files_are_refused(tmp_path):
    with pytest.raises(FormatError, match="no MassBank record"):
        massbank.read_entries(_write(tmp_path, "hello\nworld\n"))
    with pytest.raises(FormatError, match="empty"):
        massbank.read_entries(_write(tmp_path, b""))


def test_massbank_spectra_write_to_msp_and_back(tmp_path):
    spectra = massbank.read_entries(_write(tmp_path, RECORD + SECOND)).spectra
    msp.write(spectra, tmp_path / "out.msp")
    again = msp.read_entries(tmp_path / "out.msp").spectra
    for a, b in zip(spectra, again, strict=True):
        assert (a.name, a.synonyms, a.cas, a.inchikey, a.retention_index, a.rt_seconds) == (
            b.name, b.synonyms, b.cas, b.inchikey, b.retention_index, b.rt_seconds)
        np.testing.assert_array_equal(a.mz, b.mz)
        np.testing.assert_array_equal(a.intensity, b.intensity)
        assert b.extra.get("license") == a.extra.get("license")


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def massbank_ei():
    """Every record of ../shared/data/massbank-ei, read once: {relative path: report}."""
    folder = shared_file("massbank-ei")
    return {str(p.relative_to(folder)): massbank.read_entries(p)
            for p in sorted(folder.glob("*/*.txt"))}


def test_every_real_record_reads(massbank_ei):
    assert len(massbank_ei) == 13140
    skipped = [s for report in massbank_ei.values() for s in report.skipped]
    assert skipped == []
    assert all(len(report.spectra) == 1 for report in massbank_ei.values())


def test_real_records_against_a_plain_reading(massbank_ei):
    """Peaks, names and links checked against a line-by-line reading written here."""
    folder = shared_file("massbank-ei")
    inchikeys = 0
    for relative, report in massbank_ei.items():
        text = (folder / relative).read_text(encoding="utf-8")
        (spectrum,) = report.spectra
        block = text[text.index("PK$PEAK:"):].split("\n", 1)[1]
        rows = [line.split() for line in block.split("\n") if line.startswith("  ")]
        mz = np.array([float(r[0]) for r in rows])
        raw = np.array([float(r[1]) for r in rows])
        relative = np.array([float(r[2]) for r in rows])
        # int. when its last printed digit is at most 1/999 of its base peak and it
        # matches rel.int. within 1 % of the base; rel.int. otherwise
        digits = max((len(r[1].split(".")[1]) for r in rows if "." in r[1]), default=0)
        finer = 10.0 ** -digits / raw.max() <= 1 / 999 and all(
            abs(999 * a / raw.max() - b) <= 10 + 999 * 10.0 ** -digits / raw.max()
            for a, b in zip(raw, relative, strict=True))
        intensity = raw if finer else relative
        assert spectrum.extra["massbank.intensity_column"] == ("int." if finer else "rel.int.")
        positive = intensity > 0
        np.testing.assert_array_equal(spectrum.mz, mz[positive], err_msg=relative)
        np.testing.assert_array_equal(spectrum.intensity, intensity[positive])
        stated = int(re.search(r"PK\$NUM_PEAK: (\d+)", text).group(1))
        assert stated == len(rows)
        assert spectrum.name == re.search(r"CH\$NAME: (.*)", text).group(1).strip()
        assert spectrum.source_entry == re.search(r"ACCESSION: (\S+)", text).group(1)
        key = re.search(r"CH\$LINK: INCHIKEY (\S+)", text)
        assert spectrum.inchikey == (key.group(1) if key else None)
        inchikeys += key is not None
    assert inchikeys == 12370


def test_dev_queries_are_all_readable(massbank_ei):
    queries = shared_file("massbank-ei", "dev_queries.txt").read_text().split()
    assert queries
    assert all(massbank_ei[q].spectra for q in queries)


def test_alkane_msp_derived_from_massbank_holds_the_same_peaks(massbank_ei):
    """mssearchr's MSP copy of MassBank alkanes, made independently, holds the same peaks."""
    library = msp.read_entries(shared_file("nist-hitlists", "library_massbank_alkanes.msp"))
    by_accession = {r.spectra[0].source_entry: r.spectra[0] for r in massbank_ei.values()}
    checked = 0
    for entry in library.spectra:
        accession = re.search(r"MassBank record (\S+);", entry.comment).group(1)
        ours = by_accession.get(accession)
        if ours is None:
            continue
        # mssearchr kept rel.int. (zeros included): the same spectrum on the 999 scale,
        # to that column's rounding; a peak only one side holds is below that rounding
        theirs = dict(zip(entry.mz, entry.intensity, strict=True))
        mine = dict(zip(ours.mz, 999.0 * ours.intensity / ours.intensity.max(), strict=True))
        for mass in set(theirs) | set(mine):
            assert abs(mine.get(mass, 0.0) - theirs.get(mass, 0.0)) <= 10.5, (accession, mass)
        assert ours.inchikey == entry.inchikey
        checked += 1
    assert checked >= 80


def test_retention_index_records(massbank_ei):
    spectra = [r.spectra[0] for r in massbank_ei.values()]
    with_ri = [s for s in spectra if s.retention_index is not None]
    assert len(with_ri) > 800
    assert all(200 < s.retention_index < 5000 for s in with_ri)
    licenses = {s.extra["license"] for s in spectra}
    assert licenses <= {"CC BY", "CC BY-SA", "CC BY-NC", "CC BY-NC-SA", "CC0"}


def test_last_record_cut_short_needs_its_peak_count(tmp_path):
    """A file cut inside its last record: that record's peak list is complete only where
    PK$NUM_PEAK says so; otherwise it is skipped and listed, never read short."""
    cut = RECORD + SECOND[: SECOND.rindex("\n  ", 0, SECOND.rindex("//"))]
    report = gcms.io.read_entries(_write(tmp_path, cut, "cut.txt"))
    assert [s.name for s in report.spectra] == ["Caffeine"]
    assert "PK$NUM_PEAK says 3 but 2 peaks follow" in report.skipped[0].reason
    without_count = cut.replace("PK$NUM_PEAK: 3\n", "")
    report = gcms.io.read_entries(_write(tmp_path, without_count, "cut2.txt"))
    assert [s.name for s in report.spectra] == ["Caffeine"]
    assert "the file ends inside this record (no closing '//')" in report.skipped[0].reason
    complete = RECORD + SECOND.replace("PK$NUM_PEAK: 3\n", "")  # closed by '//': fine
    assert len(gcms.io.read_entries(_write(tmp_path, complete, "full.txt")).spectra) == 2
