"""JCAMP-DX: GC-MS runs (NTUPLES, page per scan, LINK), spectra, libraries, ASDF."""

from __future__ import annotations

import atexit
import contextlib
import io
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract
from hypothesis import given, settings
from hypothesis import strategies as st

import gcms.io
from gcms import FormatError
from gcms.io import jcamp

RUN = """\
##TITLE= Seized powder 24-117, exhibit 3
##JCAMP-DX= 5.01
##DATA TYPE= MASS SPECTRUM
##DATA CLASS= NTUPLES
##SPECTROMETER/DATA SYSTEM= Agilent 5977B
##.IONIZATION MODE= EI+
##LONG DATE= 2024/03/05 14:22:10
##NTUPLES= MASS SPECTRUM
##VAR_NAME= MASS, INTENSITY, RETENTION TIME
##SYMBOL= X, Y, T
##VAR_TYPE= INDEPENDENT, DEPENDENT, INDEPENDENT
##VAR_FORM= AFFN, AFFN, AFFN
##VAR_DIM= , , 3
##UNITS= M/Z, RELATIVE ABUNDANCE, MINUTES
##FACTOR= 0.1, 2, 1
##PAGE= T= 5.5
##NPOINTS= 3
##DATA TABLE= (XY..XY), PEAKS
580, 500; 910, 75; 1340, 15
##PAGE= T= 5.51
##NPOINTS= 2
##DATA TABLE= (XY..XY), PEAKS
440, 12; 580, 499.5
##PAGE= T= 5.52
##NPOINTS= 0
##DATA TABLE= (XY..XY), PEAKS
##END NTUPLES= MASS SPECTRUM
##END=
"""

LIBRARY = """\
##TITLE= Methamphetamine
##JCAMP-DX= 4.24
##DATA TYPE= MASS SPECTRUM
##CAS REGISTRY NO= 537-46-2
##MOLFORM= C10 H15 N
##MW= 149
##$NIST MASS SPEC NO= 12345
##$RETENTION INDEX= 1180
##XUNITS= M/Z
##YUNITS= RELATIVE INTENSITY
##XFACTOR= 1
##YFACTOR= 1
##NPOINTS= 4
##PEAK TABLE= (XY..XY)
58,9999 91,1500
65,400 134,300
##END=
##TITLE= Caffeine
##JCAMP-DX= 4.24
##DATA TYPE= MASS SPECTRUM
##NAMES= Caffeine
1,3,7-Trimethylxanthine
Guaranine
##CAS REGISTRY NO= 58082
##MOLFORM= C8 H10 N4 O2
##XUNITS= M/Z
##YFACTOR= 0.1
##FIRSTX= 192
##LASTX= 197
##NPOINTS= 6
##XYDATA= (X++(Y..Y))
192A0JQr
195A0D9%
##END=
"""

_MUTATION_DIR = Path(tempfile.mkdtemp(prefix="gcms-jcamp-"))
atexit.register(shutil.rmtree, _MUTATION_DIR, ignore_errors=True)


def _write(directory: Path, text: str | bytes, name: str = "file.jdx") -> Path:
    path = directory / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8", newline="")
    else:
        path.write_bytes(text)
    return path


def _shared(*parts: str) -> list[Path]:
    path = SHARED_DATA.joinpath(*parts)
    return [path] if path.exists() else []


class TestJcampRunContract(ReaderContract, MutationContract):
    format_name = "jcamp-dx"
    holds = "runs"
    garbage_suffix = ".jdx"

    def sample_files(self, tmp_path):
        return [_write(tmp_path, RUN, "run.jdx"),
                *_shared("jcamp-testfiles", "isas_official", "ISAS_MS3.DX")]

    def mutation_files(self):
        return [_write(_MUTATION_DIR, RUN, "run.jdx"),
                *_shared("jcamp-testfiles", "isas_official", "ISAS_MS3.DX")]


class TestJcampSpectraContract(ReaderContract, MutationContract):
    format_name = "jcamp-dx"
    holds = "spectra"
    garbage_suffix = ".jdx"

    def sample_files(self, tmp_path):
        return [_write(tmp_path, LIBRARY, "library.jdx"),
                *_shared("jcamp-testfiles", "mass_spectra", "118-96-7-Mass.jdx"),
                *_shared("pyms", "nist08_test.jca")]

    def mutation_files(self):
        return [_write(_MUTATION_DIR, LIBRARY, "library.jdx"),
                *_shared("jcamp-testfiles", "mass_spectra", "1-propanol_ms.jdx")]


# --------------------------------------------------------------------------- generated
def test_ntuples_run_units_factors_and_metadata(tmp_path):
    run = gcms.io.read(_write(tmp_path, RUN))
    np.testing.assert_allclose(run.scan_times, [330.0, 330.6, 331.2])  # minutes -> s
    np.testing.assert_array_equal(run.points_per_scan, [3, 2, 0])
    np.testing.assert_allclose(run.mz, [58, 91, 134, 44, 58])  # ##FACTOR x 0.1
    np.testing.assert_allclose(run.intensity, [1000, 150, 30, 24, 999])  # y x 2
    assert run.metadata.sample_name == "Seized powder 24-117, exhibit 3"
    assert run.metadata.instrument == "Agilent 5977B"
    assert run.metadata.ionization == "EI+"
    assert run.metadata.acquired_at.isoformat() == "2024-03-05T14:22:10"
    assert run.metadata.format == "jcamp-dx" and run.metadata.acquisition == "scan"


def test_truncated_ntuples_is_refused_unless_allowed(tmp_path):
    cut = RUN[: RUN.index("440, 12")] + "440, 12; 58"
    path = _write(tmp_path, cut)
    with pytest.raises(FormatError, match="truncated"):
        gcms.io.read(path)
    run = jcamp.read(path, allow_truncated=True)
    assert run.n_scans == 1 and "incomplete" in run.metadata.extra["truncated"]
    # Cut exactly at a page boundary: no ##END NTUPLES= tells us the run went on.
    boundary = _write(tmp_path, RUN[: RUN.index("##PAGE= T= 5.52")], "boundary.jdx")
    with pytest.raises(FormatError, match="END NTUPLES"):
        gcms.io.read(boundary)
    assert jcamp.read(boundary, allow_truncated=True).n_scans == 2


def test_page_with_wrong_point_count_is_an_error(tmp_path):
    path = _write(tmp_path, RUN.replace("##NPOINTS= 3", "##NPOINTS= 4"))
    with pytest.raises(FormatError, match=r"page 1 \(T= 5.5.*NPOINTS= says 4 but 3"):
        gcms.io.read(path)


def test_link_file_with_one_block_per_scan(tmp_path):
    blocks = "".join(
        f"##TITLE= scan {i}\n##DATA TYPE= MASS SPECTRUM\n##RETENTION TIME= {t} s\n"
        f"##PEAK TABLE= (XY..XY)\n{57 + i}, {100 * (i + 1)} 91, 5\n##END=\n"
        for i, t in enumerate((12.5, 13.0, 13.5))
    )
    text = f"##TITLE= run as link\n##JCAMP-DX= 5.01\n##DATA TYPE= LINK\n##BLOCKS= 3\n" \
           f"{blocks}##END=\n"
    run = gcms.io.read(_write(tmp_path, text))
    np.testing.assert_array_equal(run.scan_times, [12.5, 13.0, 13.5])
    np.testing.assert_array_equal(run.mz, [57, 91, 58, 91, 59, 91])
    assert run.metadata.sample_name == "run as link"


def test_library_fields_and_asdf(tmp_path):
    report = gcms.io.read_entries(_write(tmp_path, LIBRARY))
    assert not report.skipped
    meth, caffeine = report.spectra
    assert meth.name == "Methamphetamine" and meth.cas == "537-46-2"
    assert meth.formula == "C10H15N" and meth.mw == 149 and meth.retention_index == 1180
    assert meth.extra["$NIST MASS SPEC NO"] == "12345"
    np.testing.assert_array_equal(meth.mz, [58, 65, 91, 134])
    assert caffeine.synonyms == ("1,3,7-Trimethylxanthine", "Guaranine")
    assert caffeine.cas == "58-08-2" and caffeine.formula == "C8H10N4O2"
    # "192A0JQr": SQZ 10, DIF +1 +8 -9 -> 10 11 19 10; "195A0D9%": A0 repeats the last
    # value as the DIF y-check (x 195 is that point's), then SQZ 49 and DIF 0 -> 49 49.
    np.testing.assert_array_equal(caffeine.mz, [192, 193, 194, 195, 196, 197])
    np.testing.assert_allclose(caffeine.intensity, [1.0, 1.1, 1.9, 1.0, 4.9, 4.9])


@pytest.mark.parametrize(("body", "reason"), [
    ("##PEAK TABLE= (XY..XY)\n58,9999 91,-5\n", "negative"),
    ("##PEAK TABLE= (XY..XY)\n58,9999 91\n", "groups of 2"),
    ("##PEAK TABLE= (XY..XY)\n58,9999 91,abc\n", "not a number"),
    ("##NPOINTS= 3\n##PEAK TABLE= (XY..XY)\n58,9999 91,5\n", "NPOINTS= says 3"),
    ("##PEAK TABLE= (XY..XY)\n58,0 91,0\n", "no peak of positive intensity"),
    ("##XUNITS= SECONDS\n##PEAK TABLE= (XY..XY)\n58,9\n", "not m/z"),
    ("##PEAK TABLE= (XYZ..XYZ)\n58,9,1\n", "not one gcms reads"),
])
def test_bad_spectra_are_skipped(tmp_path, body, reason):
    text = f"##TITLE= bad one\n##JCAMP-DX= 4.24\n##DATA TYPE= MASS SPECTRUM\n{body}##END=\n" \
           + LIBRARY
    path = _write(tmp_path, text)
    report = jcamp.read_entries(path)
    assert [s.name for s in report.spectra] == ["Methamphetamine", "Caffeine"]
    (skipped,) = report.skipped
    assert skipped.entry == "block 1 'bad one' (line 1)"
    assert reason in skipped.reason
    with pytest.raises(FormatError, match=re.escape(str(path))):
        gcms.io.read_spectra(path)


def test_untitled_spectrum_is_named_after_its_file(tmp_path):
    text = "##TITLE=\n##JCAMP-DX= 4.24\n##PEAK TABLE= (XY..XY)\n58,100 91,20\n##END=\n"
    (spectrum,) = gcms.io.read_spectra(_write(tmp_path, text, "query 12.jdx"))
    assert spectrum.name == "query 12 block 1"


def test_spectrum_file_is_not_a_run(tmp_path):
    with pytest.raises(FormatError, match="not a run"):
        gcms.io.read(_write(tmp_path, LIBRARY))


def test_sniffing(tmp_path):
    assert gcms.io.sniff(_write(tmp_path, LIBRARY, "x.txt")) == "jcamp-dx"
    no_version = "##TITLE=\n##DATE= 2019-03-06\n##PAGE= T=1.0\n##XYDATA= (XY..XY)\n50, 1\n"
    assert gcms.io.sniff(_write(tmp_path, no_version, "openchrom.jdx")) == "jcamp-dx"
    path = _write(tmp_path, "##TITLE= notes\nsome text\n", "notes.jdx")
    assert not jcamp.sniff(path, path.read_bytes())


def test_empty_and_foreign_files(tmp_path):
    with pytest.raises(FormatError, match="empty"):
        jcamp.read_entries(_write(tmp_path, b""))
    with pytest.raises(FormatError, match="no JCAMP-DX labelled data record"):
        jcamp.read_entries(_write(tmp_path, "hello\n"))
    with pytest.raises(FormatError, match="before any ##TITLE="):
        jcamp.read_entries(_write(tmp_path, "##NPOINTS= 3\n##TITLE= x\n"))


# --------------------------------------------------------------------------- ASDF
_SQZ_DIGITS = "@ABCDEFGHI"
_SQZ_NEGATIVE = "@abcdefghi"
_DIF_DIGITS = "%JKLMNOPQR"
_DIF_NEGATIVE = "%jklmnopqr"
_DUP_DIGITS = "STUVWXYZs"


def _compress(value: int, positive: str, negative: str) -> str:
    digits = str(abs(value))
    table = positive if value >= 0 else negative
    return table[int(digits[0])] + digits[1:]


def _encode_difdup(ys: list[int], per_line: int) -> list[str]:
    """A plain DIFDUP encoder written from the JCAMP-DX text (independent of the reader).

    Each line: x (the index of its first ordinate), the first ordinate in SQZ, then
    differences in DIF with runs of equal differences as DUP; the next line starts
    with the last ordinate again (the y-check).
    """
    lines = []
    start = 0
    while start < len(ys):
        chunk = ys[start:start + per_line + 1]
        parts = [str(start), _compress(chunk[0], _SQZ_DIGITS, _SQZ_NEGATIVE)]
        diffs = np.diff(chunk).tolist()
        i = 0
        while i < len(diffs):
            j = i
            while j + 1 < len(diffs) and diffs[j + 1] == diffs[i]:
                j += 1
            parts.append(_compress(diffs[i], _DIF_DIGITS, _DIF_NEGATIVE))
            if j > i:
                count = str(j - i + 1)
                parts.append(_DUP_DIGITS[int(count[0]) - 1] + count[1:])
            i = j + 1
        lines.append("".join(parts))
        start += len(chunk) - 1
        if len(chunk) == 1:
            break
    return lines


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-5000, 5000), min_size=2, max_size=300), st.integers(1, 20))
def test_asdf_difdup_round_trip(ys, per_line):
    lines = _encode_difdup(ys, per_line)
    text = (f"##TITLE= t\n##JCAMP-DX= 5.01\n##XUNITS= M/Z\n##FIRSTX= 0\n"
            f"##LASTX= {len(ys) - 1}\n##NPOINTS= {len(ys)}\n##XYDATA= (X++(Y..Y))\n"
            + "\n".join(lines) + "\n##END=\n")
    with tempfile.TemporaryDirectory() as folder:
        ((_, x, y),) = jcamp.read_xy(_write(Path(folder), text))
    np.testing.assert_array_equal(y, ys)
    np.testing.assert_array_equal(x, np.arange(len(ys)))


def test_asdf_forms_decode_to_the_same_values():
    folder = ("jcamp-testfiles", "asdf_compression")
    ((_, x1, dif),) = jcamp.read_xy(shared_file(*folder, "difdup_example.jdx"))
    ((_, x2, plain),) = jcamp.read_xy(shared_file(*folder, "noencoding_example.jdx"))
    np.testing.assert_array_equal(dif, plain)
    np.testing.assert_array_equal(x1, np.arange(4, 57))
    np.testing.assert_allclose(plain[:12], [0, 0, 0, 0, 0.2, 0.4, 0.4, 0.4, 0.7, 0.5, 0.4, 0.4])


@pytest.mark.parametrize("name", ["sqzdec1.jdx", "sqzdupd1.jdx", "dupdec1.jdx", "dupinc1.jdx",
                                  "pacdec1.jdx", "fixdec1.jdx",
                                  "scientific_notation_example.jdx"])
def test_asdf_files_match_their_own_header_values(name):
    """NPOINTS, FIRSTY, MAXY and MINY in each header are values the decoder must meet."""
    path = shared_file("jcamp-testfiles", "asdf_compression", name)
    text = path.read_text(encoding="latin-1")

    def header(label):
        match = re.search(rf"##{label}=\s*([-+.\dEe]+)", text)
        return float(match.group(1)) if match else None

    ((_, x, y),) = jcamp.read_xy(path)
    assert y.size == header("NPOINTS")
    yfactor = header("YFACTOR") or 1.0
    # Headers round FIRSTY/MAXY/MINY (fixdec1: 64.915 for 64.91517...).
    tolerance = {"abs": abs(yfactor) * 1.01 + 1e-6, "rel": 1e-5}
    assert y[0] == pytest.approx(header("FIRSTY"), **tolerance)
    assert x[0] == pytest.approx(header("FIRSTX")) and x[-1] == pytest.approx(header("LASTX"))
    checks = [("MAXY", y.max()), ("MINY", y.min())]
    if name == "dupinc1.jdx":
        # Its ##MINY= 0.0604 occurs nowhere in the data (minimum 0.0769 at 374.5 nm)
        # while the y-check of every line, the abscissas, NPOINTS, FIRSTY and MAXY agree.
        checks = checks[:1]
    # MAXY/MINY are the writer's summary, not a decoding check: fixdec1's ##MAXY=
    # 81.962 is its second-highest point (the highest, 81.985, is one step away).
    extreme = {"abs": max(abs(yfactor) * 1.01, 5e-4 * float(np.ptp(y)))}
    for label, value in checks:
        if header(label) is not None:
            assert value == pytest.approx(header(label), **extreme)


def test_compound_file_blocks_decode():
    blocks = jcamp.read_xy(shared_file("jcamp-testfiles", "asdf_compression", "compound.jdx"))
    assert [b[1].size for b in blocks] == [1976, 1976, 3951, 1976, 3951]


@pytest.mark.parametrize(("name", "message"), [
    ("xyinc2.jdx", "abscissa check"),
    ("jcamp2001_example.txt", "y-check"),  # an excerpt: lines are missing in the middle
])
def test_damaged_xydata_is_caught_by_the_checks(name, message):
    with pytest.raises(FormatError, match=message):
        jcamp.read_xy(shared_file("jcamp-testfiles", "asdf_compression", name))


def test_continuous_ms_in_seconds_is_not_a_spectrum():
    path = shared_file("jcamp-testfiles", "isas_official", "ISAS_MS2.DX")
    ((_, x, y),) = jcamp.read_xy(path)  # PFK profile decodes (SQZ/DIF with y-checks)
    assert y.size == 346 and y[0] == pytest.approx(9953464, rel=1e-6)
    report = jcamp.read_entries(path)
    assert not report.spectra and "not m/z" in report.skipped[0].reason


def test_non_ms_blocks_are_skipped_with_their_type():
    report = jcamp.read_entries(shared_file("jcamp-testfiles", "asdf_compression",
                                            "compound.jdx"))
    assert not report.spectra and len(report.skipped) == 5
    assert all("INFRARED" in s.reason for s in report.skipped)


# --------------------------------------------------------------------------- real runs
def test_isas_gc_ms_run_has_its_three_compounds():
    run = gcms.io.read(shared_file("jcamp-testfiles", "isas_official", "ISAS_MS3.DX"))
    np.testing.assert_array_equal(run.scan_times, [272, 301, 333])
    # phenol, 2-chlorophenol, o-cresol: base peaks and their second ions
    assert [run.scan(i).base_peak_mz for i in range(3)] == [94, 128, 108]
    chlorophenol = run.scan(1)
    ratio = chlorophenol.intensity[chlorophenol.mz == 130][0] / 100.0
    assert ratio == pytest.approx(0.3245)  # 37Cl isotope peak, 32.45 %
    assert run.metadata.instrument == "Finnigan MAT Magnum"
    assert run.metadata.ionization == "EI+"


def _pyms_scans(path: Path):
    JCAMP_reader = pytest.importorskip("pyms.GCMS.IO.JCAMP").JCAMP_reader

    with contextlib.redirect_stdout(io.StringIO()):  # PyMassSpec prints progress
        data = JCAMP_reader(path)
    return data.time_list, data.scan_list


def _assert_same_as_pyms(run, path):
    times, scans = _pyms_scans(path)
    assert run.n_scans == len(scans)
    np.testing.assert_array_equal(run.scan_times, times)
    for i, scan in enumerate(scans):
        lo, hi = run.scan_offsets[i], run.scan_offsets[i + 1]
        np.testing.assert_array_equal(run.mz[lo:hi], scan.mass_list)
        np.testing.assert_array_equal(run.intensity[lo:hi], np.float32(scan.intensity_list))


def test_eley_run_scan_by_scan_against_pymassspec():
    path = shared_file("pyms", "ELEY_1_SUBTRACT.JDX")
    run = gcms.io.read(path)
    assert run.n_scans == 2103
    assert run.rt_range_s == pytest.approx((1.052, 2220.764), abs=1e-3)
    assert run.metadata.acquired_at.isoformat() == "2019-03-06T12:09:00"
    _assert_same_as_pyms(run, path)
    # The file's own TIC per scan is kept.
    assert run.tic[0] == 2687783.0


def test_gc01_is_truncated_and_its_complete_scans_match_pymassspec(tmp_path):
    """The shared copy of gc01_0812_066.jdx stops inside its last page (1,286 s of a
    run that ##LAST= says reaches 4,007 s); PyMassSpec raises on it."""
    path = shared_file("pyms", "gc01_0812_066.jdx")
    with pytest.raises(FormatError, match="truncated"):
        gcms.io.read(path)
    partial = jcamp.read(path, allow_truncated=True)
    assert partial.n_scans == 2614 and "1286.664" in partial.metadata.extra["truncated"]
    data = path.read_bytes()
    repaired = tmp_path / "gc01_complete_pages.jdx"
    complete = data[: data.rfind(b"##PAGE=")] + b"##END NTUPLES= MASS SPECTRUM\n##END=\n"
    # Closing the NTUPLES early is not enough: its ##LAST= still declares 4,007 s.
    repaired.write_bytes(complete)
    with pytest.raises(FormatError, match=r"declares its pages from 305.582 to 4007.722 "
                                          r"SECONDS \(##FIRST=, ##LAST=\), but they run "
                                          r"from 305.582 to 1286.29 s"):
        gcms.io.read(repaired)
    last = re.findall(rb"##PAGE=\s*T=([\d.]+)", complete)[-1]
    repaired.write_bytes(complete.replace(b"4007.722", last))
    run = gcms.io.read(repaired)
    _assert_same_as_pyms(run, repaired)
    np.testing.assert_array_equal(run.mz, partial.mz)
    assert run.scan_times[0] == pytest.approx(305.582)
    assert run.tic[0] == 23340404.0  # the page's own ##.RIC=


# --------------------------------------------------------------------------- real spectra
def test_nist_webbook_spectra():
    (tnt,) = gcms.io.read_spectra(shared_file("jcamp-testfiles", "mass_spectra",
                                              "118-96-7-Mass.jdx"))
    assert tnt.name == "Trinitrotoluene" and tnt.cas == "118-96-7"
    assert tnt.formula == "C7H5N3O6" and tnt.mw == 227
    assert tnt.extra["$NIST MASS SPEC NO"] == "242273"
    assert len(tnt) == 116 and tnt.base_peak_mz == 210 and tnt.intensity.max() == 9999
    (pce,) = gcms.io.read_spectra(shared_file("jcamp-testfiles", "mass_spectra",
                                              "Tetrachloroethylene_ms.jdx"))
    assert pce.cas == "127-18-4" and pce.base_peak_mz == 166 and len(pce) == 45


def test_link_file_blocks_inherit_the_compound():
    spectra = gcms.io.read_spectra(shared_file("jcamp-testfiles", "mass_spectra",
                                               "1-propanol_ms.jdx"))
    assert len(spectra) == 6
    assert {s.name for s in spectra} == {"1-propanol"}
    assert {s.cas for s in spectra} == {"71-23-8"}
    energies = [re.search(r"\(([\d.]+) eV", s.extra["title"]).group(1) for s in spectra]
    assert energies == ["70", "20", "14", "13", "11.5", "11.2"]
    assert all(s.base_peak_mz == 31 for s in spectra[:2])


def test_shimadzu_export_with_retention_indices():
    path = shared_file("jcamp-testfiles", "mass_spectra", "CH4_CI.jdx")
    spectra = gcms.io.read_spectra(path)
    assert len(spectra) == 145 == path.read_text().count("##TITLE=")
    assert spectra[0].name == "ribitol" and spectra[0].retention_index == 1723
    assert spectra[0].cas is None  # "0 - 00 - 0" states none
    assert all(len(s) == 50 for s in spectra[:5])


def test_nist_jcamp_library():
    path = shared_file("pyms", "nist08_test.jca")
    spectra = gcms.io.read_spectra(path)
    assert len(spectra) == path.read_text().count("##TITLE=")
    first = spectra[0]
    assert first.name == "Example test entry 1" and first.mw == pytest.approx(26.016)
    np.testing.assert_array_equal(first.mz, [12, 13, 14, 24, 25, 26, 27, 28])
    np.testing.assert_array_equal(first.intensity, [250, 560, 20, 560, 2010, 9999, 280, 20])
    assert first.retention_index is None  # "##$RETENTION INDEX=0" states none
    assert [s.source_entry for s in spectra] == [str(i) for i in range(1, len(spectra) + 1)]


def test_peak_tables_with_a_zero_placeholder():
    (cholesterol,) = gcms.io.read_spectra(shared_file("jcamp-testfiles", "asdf_compression",
                                                      "pktab1.jdx"))
    assert len(cholesterol) == 45 and cholesterol.mz[0] == 41  # "0,0" dropped
    assert cholesterol.extra["jcamp.zero_intensity_peaks"] == "1"
    assert cholesterol.base_peak_mz == 43


def test_ntuples_pages_as_spectra():
    path = shared_file("jcamp-testfiles", "isas_official", "ISAS_MS3.DX")
    spectra = gcms.io.read_spectra(path)
    assert [s.rt_seconds for s in spectra] == [272, 301, 333]
    assert [s.source_entry for s in spectra] == ["1 page 1", "1 page 2", "1 page 3"]


# --------------------------------------------------------------------------- declared sizes
def test_library_cut_after_an_entry_header_lists_that_entry(tmp_path):
    """A library truncated right after an entry's header dropped the entry silently:
    it is listed as skipped (file, entry, reason)."""
    cut = LIBRARY[: LIBRARY.index("##XUNITS= M/Z\n##YFACTOR")]
    path = _write(tmp_path, cut)
    report = jcamp.read_entries(path)
    assert [s.name for s in report.spectra] == ["Methamphetamine"]
    (skipped,) = report.skipped
    assert skipped.source == str(path) and skipped.entry == "block 2 'Caffeine' (line 18)"
    assert "the file ends inside this block, before any data table" in skipped.reason
    with pytest.raises(FormatError, match="block 2 'Caffeine'"):
        gcms.io.read_spectra(path)


def test_table_cut_by_the_end_of_the_file_needs_its_npoints(tmp_path):
    """The last table of a cut file may have lost lines: without ##NPOINTS= to show it is
    complete, the entry is skipped (listed) and a run refused."""
    text = LIBRARY.replace("##NPOINTS= 4\n", "")
    cut = text[: text.index("65,400")] + "65,400\n"  # ends inside Methamphetamine's table
    report = jcamp.read_entries(_write(tmp_path, cut))
    (skipped,) = report.skipped
    assert "ends inside this table and it has no ##NPOINTS=" in skipped.reason
    complete = LIBRARY[: LIBRARY.index("##END=")]  # cut after a table whose NPOINTS agrees
    assert [s.name for s in jcamp.read_entries(_write(tmp_path, complete)).spectra] == [
        "Methamphetamine"]
    run = RUN.replace("##NPOINTS= 2\n", "")
    run = run[: run.index("##PAGE= T= 5.52")]  # the run ends inside its page 2 table
    with pytest.raises(FormatError, match="the file is truncated: its last page"):
        gcms.io.read(_write(tmp_path, run))


def test_dup_bomb_is_refused_before_it_expands(tmp_path):
    """212 bytes of JCAMP whose DUP counts expand to 50 million points (m/z up to
    50,000,001, 2 GB) were accepted."""
    header = ("##TITLE= bomb\n##JCAMP-DX= 4.24\n##DATA TYPE= MASS SPECTRUM\n##XUNITS= M/Z\n"
              "##FIRSTX= 1\n##LASTX= {last}\n##NPOINTS= {n}\n##XYDATA= (X++(Y..Y))\n")
    huge = _write(tmp_path, header.format(last=50000001, n=50000001)
                  + "1 1S9999999S9999999S9999999S9999999S9999999\n##END=\n", "huge.jdx")
    report = jcamp.read_entries(huge)
    assert not report.spectra
    assert "##NPOINTS= 50000001 is more than a spectrum holds" in report.skipped[0].reason
    small = _write(tmp_path, header.format(last=1000, n=1000)
                   + "1 1" + "S999" * 50 + "\n##END=\n", "small.jdx")
    assert "DUP count 1999 makes more values than the table's ##NPOINTS= allows" in \
        jcamp.read_entries(small).skipped[0].reason


def test_peaks_outside_the_ei_range_skip_the_entry_by_value(tmp_path):
    text = LIBRARY.replace("65,400 134,300", "65,400 70000,300")
    report = jcamp.read_entries(_write(tmp_path, text))
    assert "peak list holds m/z 70000, outside 0.5 to 5000" in report.skipped[0].reason


def test_link_block_missing_declared_blocks_is_listed(tmp_path):
    text = ("##TITLE= link\n##JCAMP-DX= 5.0\n##DATA TYPE= LINK\n##BLOCKS= 3\n"
            + LIBRARY + "##END=\n")
    report = jcamp.read_entries(_write(tmp_path, text))
    assert len(report.spectra) == 2
    assert "declares 3 blocks (##BLOCKS=) but holds 2" in report.skipped[0].reason


def test_nul_bytes_are_refused(tmp_path):
    """A zeroed stretch can swallow the line breaks that start a page, merging it into
    the title: refused where the zeros start."""
    data = RUN.encode()
    at = data.index(b"##PAGE=")
    path = _write(tmp_path, data[:20] + bytes(at - 20) + data[at:])
    with pytest.raises(FormatError, match="NUL byte at byte 20 .*JCAMP-DX is text"):
        gcms.io.read(path)


def test_a_table_outside_the_pages_of_a_run_is_refused(tmp_path):
    text = RUN.replace("##PAGE= T= 5.5\n", "")
    with pytest.raises(FormatError, match=r"a data table \(line \d+\) lies outside any "
                                          r"##PAGE="):
        gcms.io.read(_write(tmp_path, text))


def test_pages_must_span_the_declared_first_and_last_time(tmp_path):
    text = RUN.replace("##FACTOR= 0.1, 2, 1\n", "##FACTOR= 0.1, 2, 1\n##FIRST= , , 5.5\n"
                       "##LAST= , , 5.52\n")
    assert gcms.io.read(_write(tmp_path, text)).n_scans == 3
    lost = text[: text.index("##PAGE= T= 5.52")] + "##END NTUPLES= MASS SPECTRUM\n##END=\n"
    with pytest.raises(FormatError, match=r"declares its pages from 5.5 to 5.52 MINUTES "
                                          r"\(##FIRST=, ##LAST=\), but they run from 330 to "
                                          r"330.6 s"):
        gcms.io.read(_write(tmp_path, lost))
