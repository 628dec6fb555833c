"""The results.json of a batch of real runs (LRCFS etizolam, Agilent 5977) with
quantitation: it validates, reads typed (a qc run's ``qc`` section among them) and
writes back the same text. Skipped where ../shared/data is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import etizolam_quant_setup
from gcms_cli.main import cli

from results.documents import check_results_document

pytestmark = pytest.mark.shared

METHOD = Path(__file__).resolve().parents[2] / "instruments" / "methods" / \
    "lrcfs-etizolam-is.toml"


def test_real_etizolam_batch_document(tmp_path):
    sequence, library = etizolam_quant_setup(tmp_path, other_spectra=400)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(sequence), "--out", str(out), "--workers",
                                      "1", "--quiet", "--library", str(library), "--method",
                                      str(METHOD)])
    assert result.exit_code == 0, result.output
    document = check_results_document(out / "results.json")
    runs = {r.sample_id: r for r in document.runs}
    assert runs["LR-010"].qc is not None and runs["LR-010"].qc["passed"]
    case = runs["LR-014"]
    assert "Etizolam" in {f.substance for f in case.findings.identified}
    (etizolam,) = case.quantitation
    # the authors' value for FL21/1010: 34.5 ug/mL (the data's SOURCE.md)
    assert abs(etizolam.concentration - 34.5) <= etizolam.expanded_uncertainty
    assert runs["LR-016"].quantitation[0].concentration is None
