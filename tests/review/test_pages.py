"""The workstation's pages and their parts: exhibit view, ion picking, decisions, languages."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore
from gcms.review import charts
from gcms.review.i18n import _AR, _EN, DIRECTION, translate
from gcms.review.serve import bind_warning

from .conftest import PASSPHRASES
from .helpers import client, csrf, sign_in


def _figure(page_text: str, name: str) -> dict:
    block = re.search(rf'<script type="application/json" id="{name}">(.*?)</script>',
                      page_text, re.S)
    return json.loads(block.group(1))


def test_the_exhibit_page_draws_the_stored_run_and_the_criteria(recorded):
    from gcms.io import read

    web = client(recorded)
    sign_in(web, "bob")
    page = web.get(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}")
    assert page.status_code == 200
    assert "app;dur=" in page.headers["server-timing"]
    assert 'class="evidence ok"' in page.text
    chromatogram = _figure(page.text, "chromatogram-data")
    tic = chromatogram["data"][0]
    with CaseStore(recorded.store, create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
        run_path = next(r.path for r in store.runs(recorded.case_id)
                        if r.run_id == result.run_id)
    run = read(run_path)  # the TIC drawn is the stored run's, scan for scan
    assert len(tic["x"]) == run.n_scans
    np.testing.assert_allclose(tic["y"], run.tic, rtol=1e-6, atol=0.1)
    substance = recorded.substance
    assert substance in page.text
    criteria = page.text[page.text.index('id="criteria"'):]
    for name in ("match factor", "reverse match factor", "retention time"):
        assert name in criteria
    spectrum = _figure(page.text, "spectrum-data")
    names = [t["name"] for t in spectrum["data"]]
    assert any(n.startswith("library: ") for n in names)  # the library entry, downward
    lowest = min(v for t in spectrum["data"][1:] for v in t["y"] if v is not None)
    assert lowest == pytest.approx(-100)


def test_picked_ions_are_the_runs_extracted_ion_chromatograms(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    with CaseStore(recorded.store, create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
        run_path = next(r.path for r in store.runs(recorded.case_id)
                        if r.run_id == result.run_id)
    answer = web.get(f"/api/xic?case={recorded.case_id}&result={result.result_id}&mz=91,105")
    assert answer.status_code == 200
    traces = answer.json()["traces"]
    from gcms.io import read

    run = read(run_path)
    assert [t["name"] for t in traces] == ["m/z 91", "m/z 105"]
    np.testing.assert_allclose(traces[1]["y"], run.xic(105.0), rtol=1e-6, atol=0.1)
    assert web.get(f"/api/xic?case={recorded.case_id}&result={result.result_id}"
                   "&mz=abc").status_code == 400
    assert web.get(f"/api/xic?case={recorded.case_id}&result=RS999&mz=91").status_code == 404


def test_a_verdict_override_needs_a_reason_and_keeps_the_original(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    token = csrf(web)
    with CaseStore(recorded.store, create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
    component = next(c for c in result.data["components"]
                     if c.get("verdict") == "identified")
    path = f"/case/{recorded.case_id}/result/{result.result_id}/verdict"
    form = {"csrf_token": token, "component": str(component["component"]),
            "action": "override", "new_verdict": "inconclusive", "version": "1",
            "key_file": str(recorded.key_file("bob")), "passphrase": PASSPHRASES["bob"]}
    assert web.post(path, data={**form, "reason": "  "}).status_code == 400
    answer = web.post(path, data={**form, "reason": "ion ratios borderline"})
    assert answer.status_code == 303, answer.text
    # shown with the form's version: a second decision on version 1 is refused
    stale = web.post(path, data={**form, "action": "accept", "new_verdict": "",
                                 "reason": "agree"})
    assert stale.status_code in (400, 403)
    with CaseStore(recorded.store, create=False) as store:
        now = store.results(recorded.case_id, recorded.exhibit_id)[-1]
        assert now.version == 2
        changed = next(c for c in now.data["components"]
                       if c["component"] == component["component"])
        assert changed["verdict"] == "inconclusive"
        assert store.verify().ok
    history = web.get(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}").text
    assert "ion ratios borderline" in history and "v2" in history


def test_arabic_pages_are_right_to_left_and_every_label_is_translated(recorded):
    assert set(_EN) == set(_AR)
    assert DIRECTION["ar"] == "rtl" and translate("ar", "no such label") == "no such label"
    web = client(recorded)
    sign_in(web, "carol")
    token = csrf(web)
    web.post("/language", data={"csrf_token": token, "language": "ar", "next": "/qa"})
    page = web.get("/qa")
    assert '<html lang="ar" dir="rtl">' in page.text
    assert translate("ar", "qa") in page.text
    web.post("/language", data={"csrf_token": token, "language": "en"})
    assert '<html lang="en" dir="ltr">' in web.get("/").text


def test_queues_show_each_role_its_work(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    queue = web.get("/").text
    assert 'id="queue-review"' in queue and recorded.exhibit_id in queue
    web = client(recorded)
    sign_in(web, "alice")  # the author: her exhibit, not a review of it
    queue = web.get("/").text
    assert 'id="queue-review"' not in queue and 'id="queue-exhibits"' in queue


def test_stems_draw_each_ion_from_zero_scaled_to_the_base_peak():
    x, y = charts.stems([41.0, 43.0], [50.0, 200.0], sign=-1.0)
    assert x == [41.0, 41.0, None, 43.0, 43.0, None]
    assert y == [0.0, -25.0, None, 0.0, -100.0, None]
    assert charts.stems([], []) == ([], [])
    figure = charts.levey_jennings_figure("m/z 69 abundance", {
        "times": ["t1", "t2", "t3"], "values": [1.0, 2.0, 9.0], "mean": 2.0, "sd": 1.0,
        "flags": [{"index": 2, "rule": "1-3s", "severity": "rejection"}]})
    assert figure["data"][-1]["text"] == ["1-3s"] and figure["data"][-1]["y"] == [9.0]


def test_the_command_binds_loopback_and_warns_otherwise(tmp_path):
    assert bind_warning("127.0.0.1") is None and bind_warning("::1") is None
    assert "warning" in bind_warning("0.0.0.0")
    help_text = CliRunner().invoke(cli, ["review", "--help"]).output
    assert "--store" in help_text and "127.0.0.1" in help_text
    missing = CliRunner().invoke(cli, ["review", "--store", str(tmp_path / "none")],
                                 env={"GCMS_STORE": None})
    assert missing.exit_code == 2 and "gcms: error:" in missing.output


def test_the_qa_dashboard_draws_levey_jennings_with_westgard_flags(recorded):
    from .conftest import record_qa_history

    instrument = record_qa_history(recorded)
    web = client(recorded)
    sign_in(web, "carol")
    overview = web.get("/qa")
    assert overview.status_code == 200 and f"?instrument={instrument}" in overview.text
    assert "failing" in overview.text
    board = web.get(f"/qa?instrument={instrument}")
    assert board.status_code == 200
    charts_shown = re.findall(r'<script type="application/json" id="(qa-[^"]+)">', board.text)
    assert len(charts_shown) == 3  # tune metrics, check standard, ladder drift
    levey_jennings = _figure(board.text, "qa-lj-1-data")
    flags = levey_jennings["data"][-1]
    assert flags["name"] == "Westgard" and "1-3s" in flags["text"][-1]
    assert flags["y"][-1] == 112.0
    assert web.get("/qa?instrument=GCMS-9").status_code == 400


@pytest.mark.shared
def test_the_quantitation_view_shows_calibration_accuracy_and_integration(quant_recorded):
    from tests.conftest import ETIZOLAM_CALIBRATORS

    web = client(quant_recorded)
    sign_in(web, "alice")
    page = web.get(f"/case/{quant_recorded.case_id}/exhibit/{quant_recorded.exhibit_id}")
    assert page.status_code == 200
    with CaseStore(quant_recorded.store, create=False) as store:
        result = store.results(quant_recorded.case_id, quant_recorded.exhibit_id)[-1]
    [quantity] = result.data["quantitation"]
    calibration = _figure(page.text, "calibration-0-data")
    calibrators, sample = calibration["data"]
    assert sorted(calibrators["x"]) == sorted(float(c) for c in ETIZOLAM_CALIBRATORS.values())
    assert sample["x"] == [quantity["concentration"]] and sample["y"] == [quantity["response"]]
    assert sample["error_x"]["array"] == [quantity["expanded_uncertainty"]]
    accuracy = _figure(page.text, "accuracy-0-data")["data"][0]
    assert all(80 <= a <= 120 for a in accuracy["y"])  # each within its ±20 % tolerance
    integration = _figure(page.text, "integration-0-data")
    baseline = integration["data"][1]
    recorded_integration = quantity["integration"]
    assert baseline["y"] == [recorded_integration["baseline_start"],
                             recorded_integration["baseline_end"]]
    limits = [shape["x0"] * 60 for shape in integration["layout"]["shapes"]]
    assert limits == pytest.approx([recorded_integration["start_s"],
                                    recorded_integration["end_s"]])


def test_the_blank_before_an_exhibit_opens_as_a_run(recorded):
    web = client(recorded)
    sign_in(web, "bob")
    page = web.get(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}").text
    link = re.search(r'<a href="([^"]+)" id="blank-link">', page)
    assert link is not None
    blank = web.get(link.group(1))
    assert blank.status_code == 200
    assert "blank" in blank.text and 'class="evidence ok"' in blank.text
    assert 'id="review-form"' not in blank.text and 'id="report-form"' not in blank.text
    assert web.get(f"/case/{recorded.case_id}/run/RS999").status_code == 400


def test_arabic_pages_use_the_reports_wording_of_verdicts_and_criteria(recorded):
    from gcms.report.i18n import load_wording

    wording = load_wording("ar")
    web = client(recorded)
    sign_in(web, "bob")
    web.post("/language", data={"csrf_token": csrf(web), "language": "ar"})
    page = web.get(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}").text
    assert wording.text["verdict_identified"] in page
    assert wording.text["criterion_match_factor"] in page
    assert wording.text["result_pass"] in page
    # what people and the batch wrote stays as written
    assert "Bob B. Reviewer" in page


def test_a_return_and_a_reintegration_through_the_screens(recorded):
    analyst, reviewer = client(recorded), client(recorded)
    sign_in(analyst, "alice")
    sign_in(reviewer, "bob")
    with CaseStore(recorded.store, create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
    component = next(c for c in result.data["components"] if c.get("verdict") == "identified")
    rt_min = component["rt_s"] / 60
    answer = analyst.post(
        f"/case/{recorded.case_id}/result/{result.result_id}/reintegrate",
        data={"csrf_token": csrf(analyst), "component": str(component["component"]),
              "start_min": f"{rt_min - 0.05:.4f}", "end_min": f"{rt_min + 0.15:.4f}",
              "baseline": "linear", "reason": "tail cut short by the automatic limits",
              "key_file": str(recorded.key_file("alice")), "passphrase": PASSPHRASES["alice"]})
    assert answer.status_code == 303, answer.text[-400:]
    answer = reviewer.post(
        f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}/review",
        data={"csrf_token": csrf(reviewer), "outcome": "returned",
              "comments": "check the integration limits",
              "key_file": str(recorded.key_file("bob")), "passphrase": PASSPHRASES["bob"]})
    assert answer.status_code == 303, answer.text[-400:]
    with CaseStore(recorded.store, create=False) as store:
        now = store.results(recorded.case_id, recorded.exhibit_id)[-1]
        changed = next(c for c in now.data["components"]
                       if c["component"] == component["component"])
        assert now.version == 2 and changed["area"] != component["area"]
        assert [(r.outcome, r.comments) for r in store.reviews(recorded.case_id)] == [
            ("disagreed", "check the integration limits")]
        assert store.verify().ok
    page = reviewer.get(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}").text
    assert "tail cut short" in page and "re-integrated" in page
    queue = analyst.get("/").text  # the analyst finds it returned, with the comments
    assert "check the integration limits" in queue


def test_an_approval_shown_an_older_version_is_refused(recorded):
    analyst, reviewer = client(recorded), client(recorded)
    sign_in(analyst, "alice")
    sign_in(reviewer, "bob")
    page = reviewer.get(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}").text
    shown = re.search(r'name="versions" value="([^"]+)"', page).group(1)
    with CaseStore(recorded.store, create=False) as store:
        result = store.results(recorded.case_id, recorded.exhibit_id)[-1]
    assert shown.endswith(f"{result.result_id}:1")
    # meanwhile the analyst changes a verdict: the approval shown version 1 is refused
    component = result.data["components"][0]["component"]
    answer = analyst.post(f"/case/{recorded.case_id}/result/{result.result_id}/verdict",
                          data={"csrf_token": csrf(analyst), "component": str(component),
                                "action": "accept", "reason": "checked again",
                                "key_file": str(recorded.key_file("alice")),
                                "passphrase": PASSPHRASES["alice"]})
    assert answer.status_code == 303, answer.text[-300:]
    stale = reviewer.post(f"/case/{recorded.case_id}/exhibit/{recorded.exhibit_id}/review",
                          data={"csrf_token": csrf(reviewer), "outcome": "approved",
                                "versions": shown, "analysis_id": result.analysis_id,
                                "key_file": str(recorded.key_file("bob")),
                                "passphrase": PASSPHRASES["bob"]})
    assert stale.status_code in (400, 403)
    with CaseStore(recorded.store, create=False) as store:
        assert store.reviews(recorded.case_id) == []
