import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.qa import evaluate_tune, open_history
from gcms.qa.simulate import dftpp_spectrum, pftba_spectrum


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("GCMS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def write_spectrum(path, spectrum):
    path.write_text(json.dumps(spectrum.to_dict()))
    return str(path)


def test_tune_pass_exits_0_and_records(runner, tmp_path):
    tune = write_spectrum(tmp_path / "tune.json", pftba_spectrum(profile=True))
    result = runner.invoke(cli, ["qa", "tune", tune, "--instrument", "GCMS-01", "--emv", "1500"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("PASS  agilent-pftba-autotune tune of GCMS-01")
    assert "m/z 503 relative to m/z 502" in result.output and "recorded:" in result.output
    with open_history(tmp_path / "data") as store:
        assert len(store.results("GCMS-01")) == 1


def test_tune_fail_exits_1_with_json(runner, tmp_path):
    tune = write_spectrum(tmp_path / "wet.json", pftba_spectrum({18: 30.0}))
    result = runner.invoke(cli, ["qa", "tune", tune, "--instrument", "agilent-5977b-gcms01",
                                 "--json", "--history", str(tmp_path / "h")])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["verdict"] == "fail" and data["instrument_id"] == "GCMS-01"
    assert [c["key"] for c in data["criteria"] if c["passed"] is False] == ["water_18_69"]
    assert data["recorded"].startswith(str(tmp_path / "h"))


def test_emv_jump_uses_the_previous_tune_in_the_history(runner, tmp_path):
    tune = write_spectrum(tmp_path / "tune.json", pftba_spectrum())
    args = ["qa", "tune", tune, "--instrument", "GCMS-01", "--json"]
    assert runner.invoke(cli, [*args, "--emv", "1500"]).exit_code == 0
    result = runner.invoke(cli, [*args, "--emv", "1900"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    jump = [c for c in data["criteria"] if c["key"] == "electron_multiplier_jump_v"][0]
    assert jump["value"] == 400 and jump["passed"] is False


def test_no_record_leaves_the_history_alone(runner, tmp_path):
    tune = write_spectrum(tmp_path / "tune.json", dftpp_spectrum())
    result = runner.invoke(cli, ["qa", "tune", tune, "--instrument", "GCMS-02", "--no-record"])
    assert result.exit_code == 0 and "epa-dftpp-8270" in result.output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.json", "--instrument", "GCMS-01"], "missing.json: cannot open"),
        (["tune.json", "--instrument", "GCMS-404"], "GCMS-404: no such instrument profile"),
        (["tune.json", "--instrument", "bad.toml"], "bad.toml: tune.criteria[0]"),
        (["tune.json", "--instrument", "GCMS-01", "--criteria", "epa-bfb-8260"],
         "not 'epa-bfb-8260'"),
    ],
)
def test_input_errors_exit_2_with_one_line(runner, tmp_path, args, message):
    write_spectrum(tmp_path / "tune.json", pftba_spectrum())
    (tmp_path / "bad.toml").write_text("[identity]\nid='X'\n[tune]\ncriteria='pftba'\n")
    result = runner.invoke(cli, ["qa", "tune", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_history_json_plot_and_out_of_control_exit(runner, tmp_path):
    rng = np.random.default_rng(5)
    t0 = datetime(2026, 2, 1, 8, tzinfo=timezone.utc)
    values = list(55.0 + rng.normal(0, 1.0, 20)) + [55.2, 55.9, 55.4, 60.5]
    with open_history(tmp_path / "h") as store:
        for day, value in enumerate(values):
            store.record(evaluate_tune(pftba_spectrum({219: value}),
                                       criteria="agilent-pftba-autotune", instrument_id="GCMS-01",
                                       performed_at=t0 + timedelta(days=day)))
    plot = tmp_path / "lj.png"
    args = ["qa", "history", "--instrument", "GCMS-01", "--history", str(tmp_path / "h")]
    result = runner.invoke(cli, [*args, "--metric", "abundance_219", "--plot", str(plot), "--json"])
    assert result.exit_code == 1, result.output  # the last point breaks 1-3s
    data = json.loads(result.stdout)
    assert data["out_of_control"] == ["abundance_219"] and data["latest_passed"] is True
    chart = data["charts"]["abundance_219"]
    assert chart["status"][-1] == "rejection" and len(data["results"]) == 24
    assert {"1-2s", "1-3s"} <= {f["rule"] for f in chart["flags"] if f["index"] == 23}
    assert plot.read_bytes()[:4] == b"\x89PNG"
    text = runner.invoke(cli, args)  # the profile's charted metrics
    assert "OUT OF CONTROL" in text.output and "abundance_219" in text.output
    assert "isotope_503_502: last" in text.output  # fixed control limits of the profile
    assert "(profile)" in text.output
    steady = runner.invoke(cli, [*args, "--metric", "abundance_502"])  # always 4 %
    assert steady.exit_code == 0, steady.output
    assert "abundance_502: not charted (baseline values do not vary (SD 0))" in steady.output


def test_history_of_an_unknown_instrument_is_an_input_error(runner, tmp_path):
    result = runner.invoke(cli, ["qa", "history", "--instrument", "GCMS-09"])
    assert result.exit_code == 2 and "no tune results for 'GCMS-09'" in result.stderr


def test_profile_and_criteria_commands(runner, tmp_path):
    ok = runner.invoke(cli, ["qa", "profile", "agilent-5977b-gcms01", "--json"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["id"] == "GCMS-01"
    (tmp_path / "bad.toml").write_text("[identity]\nid='X'\n[tune]\ncriteria='epa-bfb-8260'\n"
                                       "[carrier]\ngas='argon'\n")
    bad = runner.invoke(cli, ["qa", "profile", "bad.toml"])
    assert bad.exit_code == 2 and "carrier.gas: must be one of" in bad.stderr
    listing = runner.invoke(cli, ["qa", "criteria"])
    assert "epa-dftpp-8270" in listing.output and "agilent-pftba-autotune" in listing.output
    rules = runner.invoke(cli, ["qa", "criteria", "epa-bfb-8260"])
    assert "bfb_176" in rules.output and "> 95 and < 101 % of m/z 174" in rules.output
    assert runner.invoke(cli, ["qa", "criteria", "nope"]).exit_code == 2
