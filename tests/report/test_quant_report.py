"""The quantitation a report states, from the real etizolam sequence (``gcms batch --method``).

../shared/data/lrcfs-etizolam (skipped where absent): blank, seven calibrators, a check
standard and case FL21/1010 on a card piece, quantified with the repository's method
``instruments/methods/lrcfs-etizolam-is.toml`` (the sequence of
tests/quantitation/test_batch_quant.py). The library holds the etizolam spectrum of the
250 ug/mL standard (the authors' msconvert text) among MassBank entries.
"""

from __future__ import annotations

import hashlib
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


def test_the_quantitation_section_names_method_and_calibration(etizolam, tmp_path):
    """Method (name, version, SHA-256), model, weighting, range, LOQ and IS, EN and AR."""
    import re
    import shutil
    import subprocess

    from gcms.report.adapters import from_results
    from gcms.report.i18n import load_wording
    from gcms.report.pdf import render_pdf

    entry = etizolam.entry
    method = hashlib.sha256(METHOD.read_bytes()).hexdigest()
    model = from_results(etizolam.results, "FL21-1010", draw_chromatograms=False)
    (row,) = model.quantitation
    assert (row.method_version, row.method_sha256) == ("1", method)
    assert (row.calibration_model, row.weighting) == ("quadratic", "1/x")
    assert (row.range_low, row.range_high, row.loq) == (25.0, 250.0, entry["loq"])
    assert row.internal_standard == entry["internal_standard"]
    k = entry["coverage_factor"]
    solution = _pm(entry["concentration"], entry["expanded_uncertainty"], "µg/mL")
    mass = _pm(entry["amount_in_exhibit"]["mass_mg"],
               entry["amount_in_exhibit"]["mass_uncertainty_mg"] * k, "mg")
    pages = {}
    for language in ("en", "ar"):
        pdf = tmp_path / f"quant-{language}.pdf"
        pdf.write_bytes(render_pdf(model, languages=language))
        text = " ".join(pdftotext(pdf).split())
        # the amount line of the conclusion reads as the exhibit's table does
        assert solution in text and mass in text, language
        pages[language] = (pdf, text)
    en = pages["en"][1]
    assert (f"Quantitation method: {row.method_name}, version 1, SHA-256 {method}") in en
    assert ("Etizolam: quadratic calibration, weighting 1/x; calibrated range 25 µg/mL to "
            "250 µg/mL; limit of quantitation 25 µg/mL; internal standard: "
            f"{entry['internal_standard']}.") in en
    ar, words = pages["ar"][1], load_wording("ar")
    for phrase in (words("model_quadratic"), method, "25 µg/mL", "250 µg/mL", "1/x",
                   row.method_name, "طريقة التقدير الكمي", "المدى المعاير", "حد التقدير الكمي"):
        assert phrase in ar, phrase
    # every amount with its unit is isolated as one left-to-right unit in the Arabic text
    from gcms.report.pdf import _bidi_ready

    line = _bidi_ready(words("quantity_line", substance=words.substance("Etizolam"),
                             value=words("in_solution", value=solution)))
    assert f"\u2066\u202a{solution}\u202c\u2069" in line
    # pages rendered: page 1 (amount line) and the quantitation page, in both languages
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    for language, (pdf, _) in pages.items():
        page = next(p for p in range(1, 9) if "SHA-256" in pdftotext(pdf, page=p)
                    and ("Quantitation method" in pdftotext(pdf, page=p)
                         or "طريقة التقدير الكمي" in pdftotext(pdf, page=p)))
        for number in (1, page):
            subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", str(number), "-l",
                            str(number), str(pdf), str(tmp_path / f"{language}-{number}")],
                           check=True)
        pngs = sorted(tmp_path.glob(f"{language}-*.png"))
        assert pngs and all(re.match(rb"\x89PNG", p.read_bytes()[:4]) for p in pngs)
        assert all(p.stat().st_size > 10_000 for p in pngs)  # text drawn, not a blank page
