import json

import pytest
from click.testing import CliRunner
from conftest import shared_file
from gcms_cli.main import cli

from gcms.errors import FormatError
from gcms.info import describe


def test_library_file_in_a_format_that_also_holds_runs_is_described_by_its_entries():
    path = shared_file("andi-roundrobin", "andi_ms", "FINNIGAN", "LIBRARY.CDF")
    summary = describe(path)
    assert summary["format"] == "andi-ms"
    assert summary["n_spectra"] + summary["n_skipped"] == 100


def test_a_damaged_run_is_reported_as_damaged_not_listed_as_spectra(tmp_path):
    source = shared_file("jcamp-testfiles", "isas_official", "ISAS_MS3.DX")
    text = source.read_text(errors="strict")
    cut = tmp_path / "cut.dx"
    cut.write_text(text[: int(len(text) * 0.6)])
    try:
        summary = describe(cut)
    except FormatError as error:
        assert str(cut) in str(error)
    else:  # a cut that still ends on a complete page is a (shorter) valid run
        assert "n_scans" in summary


def test_info_cli_reports_good_files_and_names_the_bad_one(tmp_path):
    good = shared_file("netcdf-gcms", "agilent-gcms.cdf")
    bad = tmp_path / "garbage.cdf"
    bad.write_bytes(b"CDF\x01garbage")
    result = CliRunner().invoke(cli, ["info", "--json", str(bad), str(good)])
    assert result.exit_code == 2
    assert "garbage.cdf" in result.stderr and "Traceback" not in result.output
    (summary,) = json.loads(result.stdout)
    assert summary["n_scans"] == 6401 and len(summary["sha256"]) == 64


def test_info_cli_missing_file_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["info", str(tmp_path / "absent.cdf")])
    assert result.exit_code == 2 and "absent.cdf" in result.stderr


@pytest.mark.parametrize("name", ["ISAS_MS3.DX"])
def test_plot_writes_a_png(tmp_path, name):
    path = shared_file("jcamp-testfiles", "isas_official", name)
    out = tmp_path / "tic.png"
    result = CliRunner().invoke(cli, ["plot", str(path), "-o", str(out), "--mz", "94,128"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
