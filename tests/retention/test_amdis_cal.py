import hashlib

import numpy as np
import pytest

from gcms import FormatError
from gcms.retention import RetentionCalibration

CAL = ("amdis-nist-formats", "amdis_cal")


def test_reads_a_chemclipse_alkane_calibration(shared):
    path = shared(*CAL, "01_chromatogram1.cal")
    calibration = RetentionCalibration.read_amdis_cal(path)
    assert len(calibration) == 10
    assert calibration.names[0] == "C6 (Hexane)" and calibration.names[-1] == "C15 (Pentadecane)"
    np.testing.assert_allclose(calibration.rt_seconds[[0, -1]], [1.605 * 60, 19.718 * 60])
    np.testing.assert_allclose(calibration.retention_index, 100.0 * np.arange(6, 16))
    np.testing.assert_allclose(calibration.match_percent, 100)
    np.testing.assert_allclose(calibration.signal_to_noise, 999)
    assert calibration.column == {"COLUMN_NAME": "DEFAULT", "COLUMN_LENGTH": "",
                                  "COLUMN_DIAMETER": "", "COLUMN_PHASE": ""}
    assert calibration.series == "n-alkanes"
    assert calibration.method == "van-den-dool-kratz"
    assert calibration.source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    # 8.000 min between C10 (6.795) and C11 (9.436): 1000 + 100 * 1.205 / 2.641 = 1045.63
    assert calibration.apply(8.0 * 60).retention_index[0] == pytest.approx(1045.627, abs=1e-3)


def test_reads_every_shipped_calibration_file(shared):
    counts = {"01_calibration1.cal": 5, "01_chromatogram1.cal": 10,
              "01_heptane C7 - tridecane C13.cal": 7, "import_calibration1.cal": 27,
              "import_calibration2.cal": 27}
    for name, count in counts.items():
        calibration = RetentionCalibration.read_amdis_cal(shared(*CAL, name))
        assert len(calibration) == count, name
        assert np.all(np.diff(calibration.rt_seconds) > 0)


def test_reads_crlf_wax_calibration_with_blank_in_names(shared):
    calibration = RetentionCalibration.read_amdis_cal(shared(*CAL, "import_calibration2.cal"))
    assert calibration.column == {"COLUMN_NAME": "WAX"}
    assert calibration.names[0] == "KW 800" and calibration.names[-1] == "KW 3400"
    assert calibration.rt_seconds[0] == pytest.approx(0.865733 * 60)
    np.testing.assert_allclose(calibration.match_percent, 100)
    np.testing.assert_allclose(calibration.signal_to_noise, 500)
    assert calibration.series == "unspecified"


def test_write_then_read_gives_the_same_calibration(tmp_path, shared):
    original = RetentionCalibration.read_amdis_cal(shared(*CAL, "import_calibration1.cal"))
    out = tmp_path / "again.cal"
    original.write_amdis_cal(out)
    again = RetentionCalibration.read_amdis_cal(out)
    np.testing.assert_allclose(again.rt_seconds, original.rt_seconds, atol=0.6e-5 * 60)
    np.testing.assert_array_equal(again.retention_index, original.retention_index)
    np.testing.assert_array_equal(again.match_percent, original.match_percent)
    assert again.names == original.names and again.column == original.column


def test_written_file_has_amdis_layout(tmp_path):
    calibration = RetentionCalibration(
        rt_seconds=[612.84, 700.2], retention_index=[1600.0, 1700.0],
        names=("Hexadecane", "C17 (Heptadecane)"), match_percent=[100, None],
        signal_to_noise=[981.4, None])
    out = tmp_path / "ladder.cal"
    calibration.write_amdis_cal(out)
    data = out.read_bytes()
    assert data == (b"10.21400 1600.0 100 981 Hexadecane\r\n"
                    b"11.67000 1700.0 0 0 C17 (Heptadecane)\r\n")


def test_kovats_calibration_cannot_be_written(tmp_path):
    calibration = RetentionCalibration(rt_seconds=[600.0, 1200.0], retention_index=[1000, 1100],
                                       method="kovats", dead_time_s=60.0)
    with pytest.raises(ValueError, match="no dead time"):
        calibration.write_amdis_cal(tmp_path / "k.cal")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"1.0 800 100 999 C8\r\n2.0 900 100\r\n", "line 2: want"),
        (b"1.0 800 100 999 C8\nabc 900 100 999 C9\n", "line 2: non-numeric"),
        (b"1.0 800 100 999 C8\n", "1 calibration marker"),
        (b"#COLUMN_NAME=DB5\n", "0 calibration marker"),
        (b"2.0 800 100 999 C8\n1.0 900 100 999 C9\n", "increase strictly"),
        (b"1.0 800 100 999 C8\n2.0 nan 100 999 C9\n", "non-finite"),
    ],
)
def test_malformed_files_raise_format_error_naming_file(tmp_path, content, message):
    path = tmp_path / "bad.cal"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message) as caught:
        RetentionCalibration.read_amdis_cal(path)
    assert str(path) in str(caught.value)


def test_missing_file_raises_format_error(tmp_path):
    with pytest.raises(FormatError, match="cannot open"):
        RetentionCalibration.read_amdis_cal(tmp_path / "none.cal")


def test_windows_1252_names_are_decoded(tmp_path):
    path = tmp_path / "ansi.cal"
    text = "1.0 800 100 999 Octan \u2013 C8\r\n2.0 900 100 999 Nonan\r\n"
    path.write_bytes(text.encode("cp1252"))
    calibration = RetentionCalibration.read_amdis_cal(path)
    assert calibration.names[0] == "Octan \u2013 C8"
