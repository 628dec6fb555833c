import csv
import json

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli
from quant_sim import method_document, standard_run, toml_text

from gcms.io import andi_ms

LEVELS = (10.0, 25.0, 50.0, 100.0, 150.0, 200.0)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("quant-cli")
    rows = []
    for c in LEVELS:
        andi_ms.write(standard_run(c, seed=int(c), response_scatter=0.02), root / f"cal{c:g}.cdf")
        rows.append([f"cal{c:g}.cdf", "standard", f"CAL-{c:g}", "Simalyte", c, "ug/mL", "", "",
                     "", ""])
    andi_ms.write(standard_run(40, seed=41), root / "qc40.cdf")
    andi_ms.write(standard_run(70, seed=71), root / "s70.cdf")
    andi_ms.write(standard_run(0, seed=3), root / "blank.cdf")
    rows += [["blank.cdf", "blank", "BLK", "", "", "", "", "", "", ""],
             ["qc40.cdf", "qc", "QC-40", "Simalyte", 40, "ug/mL", "", "", "", ""],
             ["s70.cdf", "sample", "S-70", "", "", "", 100, "mg", 2.0, 5]]
    header = ["file", "type", "sample_id", "reference_substance", "concentration", "unit",
              "amount", "amount_unit", "volume_ml", "dilution"]
    with open(root / "seq.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    (root / "method.toml").write_text(toml_text(method_document()))
    return root


def run(*args):
    return CliRunner().invoke(cli, ["quant", *map(str, args)])


def test_quant_writes_the_output_folder(folder, tmp_path):
    out = tmp_path / "out"
    result = run(folder / "seq.csv", "--method", folder / "method.toml", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Simalyte: linear, weights 1/x" in result.output
    assert "check 40:" in result.output and "pass" in result.output
    assert "all calibrations and check standards passed" in result.output
    data = json.loads((out / "results.json").read_text())
    record = next(r for r in data["runs"] if r["sample_id"] == "S-70")
    (q,) = record["quantitation"]
    assert q["substance"] == "Simalyte" and abs(q["concentration"] - 70) <= q[
        "expanded_uncertainty"]
    assert q["amount_in_exhibit"]["purity_percent"] == pytest.approx(
        100 * q["concentration"] * 5 * 2.0 / 1000 / 100)
    assert len(record["sha256"]) == 64
    calibration = json.loads((out / "calibration.json").read_text())
    assert calibration["calibrations"]["Simalyte"]["status"] == "ok"
    from matplotlib.image import imread

    image = imread(out / "calibration_simalyte.png")
    assert image.shape[0] > 400 and image.shape[1] > 400 and image.std() > 0.01
    with open(out / "quantitation.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["sample_id"] for r in rows} == {"BLK", "QC-40", "S-70"} | {
        f"CAL-{c:g}" for c in LEVELS}


def test_json_output_and_failed_check_exit_1(folder, tmp_path):
    text = (folder / "seq.csv").read_text().replace("QC-40,Simalyte,40", "QC-40,Simalyte,80")
    (folder / "seq-wrong-nominal.csv").write_text(text)
    result = run(folder / "seq-wrong-nominal.csv", "--method", folder / "method.toml", "--out",
                 tmp_path / "o", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert any("QC-40" in f and "check standard" in f for f in data["findings"])


def test_bad_inputs_exit_2_naming_the_file(folder, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text((folder / "method.toml").read_text().replace('weighting = "1/x"',
                                                                'weighting = "1/z"'))
    result = run(folder / "seq.csv", "--method", bad, "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert str(bad) in result.output and "weighting" in result.output
    assert "Traceback" not in result.output
    result = run(tmp_path / "nope.csv", "--method", folder / "method.toml", "--out",
                 tmp_path / "o")
    assert result.exit_code == 2 and "nope.csv" in result.output
    result = run(folder / "seq.csv", "--method", "no-such-method", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "no such method" in result.output
