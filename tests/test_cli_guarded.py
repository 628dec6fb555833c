"""Commands that only translate a gcms error use the one handler: one line, exit 2."""

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli


@pytest.mark.parametrize("args", [
    ["deconvolve", "{bad}"],
    ["plot", "{bad}", "-o", "{tmp}/tic.png"],
    ["identify", "{bad}", "--library", "{bad}"],
    ["library", "build", "{bad}", "-o", "{tmp}/lib.h5"],
    ["library", "info", "{bad}"],
    ["library", "search", "{bad}", "{bad}"],
    ["library", "diff", "{bad}", "{bad}"],
    ["library", "export", "{bad}", "-o", "{tmp}/lib.msp"],
    ["qa", "profile", "{bad}"],
    ["sequence", "check", "{tmp}/garbage-missing.csv"],
    ["quant", "{bad}", "--method", "{bad}", "--out", "{tmp}/out"],
    ["batch", "{bad}", "--library", "{bad}", "--out", "{tmp}/out"],
    ["run", "attach", "--store", "{bad}", "--case", "C1", "{bad}"],
])
def test_a_gcms_error_is_one_line_naming_the_input_and_exit_2(tmp_path, args):
    bad = tmp_path / "garbage.toml"
    bad.write_bytes(b"CDF\x01 not what any reader expects")
    args = [a.format(bad=bad, tmp=tmp_path) for a in args]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("gcms: error: ")]
    assert len(errors) == 1 and "garbage" in errors[0], result.output
    assert "Traceback" not in result.output
