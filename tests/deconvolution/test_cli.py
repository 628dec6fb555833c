"""``gcms deconvolve``: the JSON contract, the human table, the figure, exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file
from gcms_cli.main import cli

from gcms.simulate import (
    SimulationSettings,
    amount_for_snr,
    random_spectrum,
    retention_for_resolution,
    simulate,
)

CONTRACT_KEYS = {"rt_s", "scan", "area", "height", "snr", "model_mz", "purity", "spectrum"}


@pytest.fixture(scope="module")
def andi_file(tmp_path_factory):
    rng = np.random.default_rng(1)
    settings = SimulationSettings(duration_s=180.0, start_s=100.0, seed=1, threshold=20.0)
    a, b = random_spectrum(rng, name="a"), random_spectrum(rng, name="b")
    t2 = retention_for_resolution(150.0, 0.75, fwhm_s=settings.fwhm_s, tau_s=settings.tau_s)
    sim = simulate([(a, 150.0, amount_for_snr(a, 40, settings=settings, on="tic")),
                    (b, t2, amount_for_snr(b, 40, settings=settings, on="tic"))],
                   settings=settings)
    path = tmp_path_factory.mktemp("deconvolve") / "pair.cdf"
    sim.write(path)
    return path, sim


def test_json_has_exactly_the_contract_keys(andi_file):
    path, sim = andi_file
    result = CliRunner().invoke(cli, ["deconvolve", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"path", "components"} and data["path"] == str(path)
    assert len(data["components"]) == 2
    for component, rt in zip(data["components"], sim.truth.rt_s, strict=True):
        assert set(component) == CONTRACT_KEYS
        assert set(component["spectrum"]) == {"mz", "intensity"}
        assert len(component["spectrum"]["mz"]) == len(component["spectrum"]["intensity"])
        assert component["rt_s"] == pytest.approx(rt, abs=0.3)
        assert 0.0 <= component["purity"] <= 1.0


def test_human_table_and_figure_with_window(andi_file, tmp_path):
    path, sim = andi_file
    figure = tmp_path / "components.png"
    result = CliRunner().invoke(cli, ["deconvolve", str(path), "--plot", str(figure),
                                      "--window", "140,165", "--sensitivity", "high"])
    assert result.exit_code == 0, result.output
    assert "2 components" in result.output
    assert "co-elutes with the component at" in result.output or \
        "RT (min)" in result.output
    # A real PNG, drawn (not an empty canvas).
    from matplotlib.image import imread

    image = imread(figure)
    assert image.shape[0] > 500 and image[..., :3].std() > 0.05


@pytest.mark.parametrize("arguments, message", [
    (["--window", "20"], "t0,t1"),
    (["--window", "30,20"], "below the first"),
    (["--mz-range", "a,b"], "nominal m/z"),
    (["--exclude", "x"], "m/z values"),
    (["--sensitivity", "extreme"], "extreme"),
])
def test_bad_options_exit_2(andi_file, arguments, message):
    path, _ = andi_file
    result = CliRunner().invoke(cli, ["deconvolve", str(path), *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_unreadable_run_exits_2_naming_it(tmp_path):
    garbage = tmp_path / "garbage.cdf"
    garbage.write_bytes(b"CDF\x01garbage")
    result = CliRunner().invoke(cli, ["deconvolve", str(garbage), "--json"])
    assert result.exit_code == 2
    assert "garbage.cdf" in result.output and "Traceback" not in result.output


def test_etizolam_contract_on_the_real_run():
    """The deconvolve line of ../shared/checks/contracts.sh, on 220223005.D."""
    path = shared_file("lrcfs-etizolam", "raw", "220223005.D")
    result = CliRunner().invoke(cli, ["deconvolve", str(path), "--json"])
    assert result.exit_code == 0, result.output
    components = json.loads(result.output)["components"]

    def near(t, mz):
        for c in components:
            top = max(c["spectrum"]["intensity"])
            major = [round(m) for m, i in zip(c["spectrum"]["mz"], c["spectrum"]["intensity"],
                                              strict=True) if i >= 0.2 * top]
            if abs(c["rt_s"] - t) < 15 and mz in major:
                return True
        return False

    assert near(615, 342), "etizolam"
    assert near(390, 140), "internal standard"
