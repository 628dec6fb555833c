"""The quantitation a report states, from the real etizolam sequence (``gcms batch --method``).

../shared/data/lrcfs-etizolam (skipped where absent): blank, seven calibrators, a check
standard and case FL21/1010 on a card piece, quantified with the repository's method
``instruments/methods/lrcfs-etizolam-is.toml`` (the sequence of
tests/quantitation/test_batch_quant.py). The library holds the etizolam spectrum of the
250 ug/mL standard (the authors' msconvert text) among MassBank entries.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import ETIZOLAM_CALIBRATORS, etizolam_quant_setup
from gcms_cli.main import cli

from .conftest import pdftotext

METHOD = Path(__file__).resolve().parents[2] / "instruments" / "methods" / \
    "lrcfs-etizolam-is.toml"

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def etizolam(tmp_path_factory):
    root = tmp_path_factory.mktemp("etizolam-report")
    sequence, library = etizolam_quant_setup(root, other_spectra=100, negative_case=False)
    out = root / "out"
    result = CliRunner().invoke(cli, ["batch", str(sequence), "--library",
                                      str(library), "--out", str(out), "--method",
                                      str(METHOD), "--workers", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    (record,) = [r for r in document["runs"] if r["sample_id"] == "LR-014"]
    (entry,) = [q for q in record["quantitation"] if q["substance"] == "Etizolam"]
    return SimpleNamespace(root=root, results=out / "results.json", entry=entry)


def _pm(value: float, u: float, unit: str) -> str:
    places = max(1 - math.floor(math.log10(u)), 0)
    return f"{value:.{places}f} ± {float(f'{u:.2g}'):.{places}f} {unit}"


def test_the_amount_in_the_exhibit_and_its_coverage_factor(etizolam, tmp_path):
    from scipy import stats

    from gcms.report.adapters import from_results

    entry = etizolam.entry
    k = entry["coverage_factor"]
    assert entry["status"] == "quantified" and entry["reportable"]
    model = from_results(etizolam.results, "FL21-1010", draw_chromatograms=False)
    (row,) = model.quantitation
    # k is Student's t (95 %, two-sided) for the calibration's degrees of freedom: a
    # quadratic through seven calibrators leaves four
    assert k == pytest.approx(stats.t.ppf(0.975, 4), rel=1e-12)
    assert (row.degrees_of_freedom, row.confidence_percent) == (4, 95.0)
    amount = entry["amount_in_exhibit"]
    assert row.per_unit == "mg per card piece"
    assert row.per_unit_mg == pytest.approx(amount["per_unit_mg"])
    assert row.per_unit_expanded_uncertainty_mg == pytest.approx(
        amount["per_unit_uncertainty_mg"] * k)

    pdf = tmp_path / "FL21-1010.pdf"
    out = CliRunner().invoke(cli, ["report", str(etizolam.results),
                                   "--draft", "--exhibit", "FL21-1010",
                                   "-o", str(pdf)])
    assert out.exit_code == 0, out.output
    text = " ".join(pdftotext(pdf).split())
    mass = _pm(amount["mass_mg"], amount["mass_uncertainty_mg"] * k, "mg")
    solution = _pm(entry["concentration"], entry["expanded_uncertainty"], "µg/mL")
    assert f"Etizolam: {mass} in the exhibit" in text
    assert f"{mass} per card piece" in text
    assert solution in text
    assert (f"coverage factor k = {k:.2f}, Student's t for 4 degrees of freedom of the "
            "calibration: a level of confidence of about 95 %") in text
    assert f"{k:.5f}" not in text and "k = 2: about 95" not in text
    # the calibrators and the check standard are runs the stated amount rests on
    used = text.split("Runs the conclusion rests on")[1].split("Chain of custody")[0]
    for sample in (*(f"LR-{n}" for n in ETIZOLAM_CALIBRATORS), "LR-010"):
        assert sample in used, sample
    assert "calibrator of the quantitation" in used and "check standard of the quantitation" \
        in used
