"""An exhibit the batch withheld (failing instrument QA) gets no report a court could take.

The demo sequence up to E1 (ladder, blank, standard, blank, E1) is processed with the
demo instrument's QA gate after its failing morning tune (an air leak) was recorded, so
the gate marks E1 not reportable. ``gcms report`` then refuses, unless a review copy is
asked for: that copy says NOT REPORTABLE on every page and is never signed.
"""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.demo import demo_folder, demo_library_path

from .conftest import demo_subsequence, page_count, pdftotext


@pytest.fixture(scope="module")
def withheld(tmp_path_factory):
    from gcms.batch import run_batch
    from gcms.qa import evaluate_tune, load_profile, open_history, qa_batch_steps

    folder = tmp_path_factory.mktemp("withheld")
    profile = load_profile("demo-quadrupole")
    with open_history(folder / "history") as history:
        for tune in ("tune-pass.cdf", "tune-fail.cdf"):  # the failing one is the latest
            history.record(evaluate_tune(demo_folder() / tune, profile=profile))
    result = run_batch(demo_subsequence(folder), out_dir=folder / "out",
                       library=demo_library_path(), workers=1,
                       steps=qa_batch_steps(profile, history_dir=folder / "history"))
    assert result.exit_code == 1 and not result.failed
    return SimpleNamespace(folder=folder, results=folder / "out" / "results.json")


def test_the_model_says_why_the_results_are_withheld(withheld):
    from gcms.report.adapters import from_results

    model = from_results(withheld.results, "E1", draw_chromatograms=False)
    (reason,) = model.withheld
    assert reason.startswith("run E1-01: ") and "tune-fail.cdf" in reason
    assert "air_28_69" in reason
    # the verdicts are kept for review; the gate only says they may not be reported
    assert "Amphetamine" in model.conclusion.identified
    assert not any("not reportable" in d for d in model.deviations)  # said once, as withheld


def test_no_report_without_asking_for_a_review_copy(withheld, tmp_path):
    pdf = tmp_path / "E1.pdf"
    refused = CliRunner().invoke(cli, ["report", str(withheld.results),
                                       "--draft", "--exhibit", "E1",
                                       "-o", str(pdf)])
    assert refused.exit_code == 1, refused.output
    assert "E1 is not reportable" in refused.output and "tune-fail.cdf" in refused.output
    assert "--not-reportable-ok" in refused.output
    assert not pdf.exists()


def test_the_review_copy_is_marked_on_every_page(withheld, tmp_path):
    pdf = tmp_path / "E1-review.pdf"
    made = CliRunner().invoke(cli, ["report", str(withheld.results), "--draft", "--exhibit", "E1",
                                    "-o", str(pdf), "--not-reportable-ok"])
    assert made.exit_code == 0, made.output
    assert "NOT REPORTABLE (review copy)" in made.output
    pages = page_count(pdf)
    assert pages >= 3
    for page in range(1, pages + 1):
        assert "NOT REPORTABLE: the batch withheld these results" in pdftotext(pdf, page=page)
    conclusion = " ".join(pdftotext(pdf).split()).split("Conclusion", 1)[1]
    banner = conclusion.index("must not be reported as a conclusion")
    assert banner < conclusion.index("were identified in exhibit E1")
    assert "tune-fail.cdf" in conclusion[:conclusion.index("were identified")]


def test_the_review_copy_is_never_signed(withheld, tmp_path):
    from gcms.custody import new_key_pair

    key, _, _ = new_key_pair(tmp_path / "keys", "jdoe", "passphrase-jdoe")
    signed = CliRunner(env={"GCMS_KEY_PASSPHRASE": "passphrase-jdoe"}).invoke(
        cli, ["report", str(withheld.results), "--draft", "--exhibit", "E1", "-o",
              str(tmp_path / "E1.pdf"), "--not-reportable-ok", "--sign-key", str(key),
              "--signer", "J. Doe"])
    assert signed.exit_code == 2 and "not signed" in signed.output
    assert not (tmp_path / "E1.pdf").exists()


def test_json_and_csv_carry_the_withholding(withheld, tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    from gcms.report.jsonout import schema

    runner = CliRunner()
    for name in ("E1.json", "E1.csv"):
        made = runner.invoke(cli, ["report", str(withheld.results),
                                   "--draft", "--exhibit", "E1", "-o",
                                   str(tmp_path / name), "--not-reportable-ok"])
        assert made.exit_code == 0, made.output
    document = json.loads((tmp_path / "E1.json").read_text(encoding="utf-8"))
    jsonschema.validate(document, schema())
    assert document["withheld"] and "tune-fail.cdf" in document["withheld"][0]
    rows = list(csv.DictReader(io.StringIO((tmp_path / "E1.csv").read_text(encoding="utf-8"))))
    assert rows and {r["reportable"] for r in rows} == {"no"}
