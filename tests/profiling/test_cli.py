"""``gcms profile`` end to end: simulated runs on disk, calibration, store, links, export."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore
from gcms.profiling.method import find_profiling_method
from gcms.profiling.simulate import exhibit_run
from gcms.simulate import SimulationSettings, write

BATCH_A = {"cocaine": 5e7, "tropacocaine": 4e5, "norcocaine": 2e5,
           "N-benzoylnormethylecgonine": 1.5e5, "cis-cinnamoylcocaine": 6e5,
           "trans-cinnamoylcocaine": 9e5, "levamisole": 1e6}
BATCH_B = {"cocaine": 5e7, "norcocaine": 9e5,
           "N-benzoylnormethylecgonine": 6e5, "cis-cinnamoylcocaine": 1e5,
           "trans-cinnamoylcocaine": 2e5}


def pdf_text(path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, check=True).stdout


def gcms(*args, actor="alice"):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"GCMS_ACTOR": actor})
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    method = find_profiling_method("cocaine")
    out = {}
    for name, amounts, seed in (("A1", BATCH_A, 1), ("A2", BATCH_A, 2), ("B1", BATCH_B, 3)):
        sim = exhibit_run(method, amounts, name=name,
                          settings=SimulationSettings(start_s=220.0, duration_s=300.0,
                                                      bleed=0.0, seed=seed))
        write(sim, folder / f"{name}.cdf")
        out[name] = folder / f"{name}.cdf"
    return out


def test_end_to_end(tmp_path, runs, monkeypatch):
    from gcms.custody.keys import new_key_pair

    store = tmp_path / "store"
    key_file, _, key = new_key_pair(tmp_path, "alice", "pass phrase 1")
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "pass phrase 1")
    with CaseStore(store, actor="alice") as cases:
        cases.register_key(key, user="alice", printed_name="Alice")
        cases.open_case("K1", title="port")
        cases.open_case("K2", title="border")

    measured = gcms("profile", "measure", runs["A1"], runs["A2"], "--method", "cocaine",
                    "--json")
    assert measured.exit_code == 0, measured.output
    data = json.loads(measured.output)
    assert len(data["profiles"]) == 2
    assert data["reproducibility"]["tropacocaine"]["value_rsd_percent"] < 2.0

    known = tmp_path / "known.json"
    assert gcms("profile", "simulate", "--method", "cocaine", "--batches", "60",
                "--out", known).exit_code == 0
    assert json.loads(known.read_text())["simulated"] is True
    unsigned = gcms("profile", "calibrate", "--method", "cocaine", "--known", known,
                    "--out", tmp_path / "cal", "--store", store)
    assert unsigned.exit_code == 2 and "give --key FILE" in unsigned.output
    cal = gcms("profile", "calibrate", "--method", "cocaine", "--known", known,
               "--out", tmp_path / "cal", "--store", store, "--key", key_file)
    assert cal.exit_code == 0, cal.output
    assert "held out (5-fold cross-validation over the groups)" in cal.output
    assert "SIMULATED" in cal.output and "false-positive rate" in cal.output
    assert (tmp_path / "cal" / "calibration.png").stat().st_size > 10_000
    quote = json.loads((tmp_path / "cal" / "calibration.json").read_text())
    assert quote["simulated"] is True and quote["roc"]["true_positive_rate"][-1] == 1.0

    ids = {}
    for name, case in (("A1", "K1"), ("A2", "K2"), ("B1", "K2")):
        added = gcms("profile", "add", runs[name], "--method", "cocaine", "--case", case,
                     "--exhibit", name, "--date", "2026-11-0" + name[-1], "--place", "Quay 3",
                     "--store", store, "--json")
        assert added.exit_code == 0, added.output
        out = json.loads(added.output)
        ids[name] = out["profile_id"]
        assert out["custody"]["recorded"] is True  # an entry in the case's chain
        for link in out["links"]:
            assert link["score"] >= link["threshold"]
            assert "false-negative rate" in link["statement"]
            assert "not proof" in link["limitation"]
    # A2 (same batch as A1) linked to A1; B1 (another batch) to neither
    with CaseStore(store, actor="alice", create=False) as cases:
        entries = [e for e in cases.log(case_id="K2") if e.action == "profiling.profile"]
    assert len(entries) == 2 and any(e.after["links"] for e in entries)
    assert all(e.actor == "alice" for e in entries)

    verified = gcms("custody", "verify", "--store", store)
    assert verified.exit_code == 0, verified.output  # the chain holds with the entries added
    log = gcms("custody", "log", "--store", store, "--case", "K2")
    assert "profiling.profile" in log.output

    searched = gcms("profile", "search", ids["A2"], "--method", "cocaine", "--store", store,
                    "--json")
    matches = json.loads(searched.output)["matches"]
    assert matches[0]["profile_id"] == ids["A1"] and matches[0]["linked"] is True
    assert next(m for m in matches if m["profile_id"] == ids["B1"])["linked"] is False
    text = gcms("profile", "search", ids["A2"], "--method", "cocaine", "--store", store)
    assert "LINK" in text.output and "not proof" in text.output

    clusters = json.loads(gcms("profile", "clusters", "--method", "cocaine", "--store", store,
                               "--json").output)["clusters"]
    assert [sorted(p["profile_id"] for p in c) for c in clusters] == [
        sorted([ids["A1"], ids["A2"]])]

    exported = gcms("profile", "export", "--method", "cocaine", "--store", store,
                    "--out", tmp_path / "graph")
    assert exported.exit_code == 0, exported.output
    with open(tmp_path / "graph" / "nodes.csv", newline="") as handle:
        nodes = list(csv.DictReader(handle))
    assert {n["place"] for n in nodes} == {"Quay 3"} and len(nodes) == 3
    root = ElementTree.parse(tmp_path / "graph" / "links.graphml").getroot()
    assert len(root.findall(".//{http://graphml.graphdrawing.org/xmlns}edge")) == 1

    for language, words in (("en", ["not proof", "false-positive rate", "absent"]),
                            ("ar", ["حدود الاستنتاج", "false-positive rate"])):
        pdf = tmp_path / f"link-{language}.pdf"
        made = gcms("profile", "report", ids["A1"], ids["A2"], ids["B1"], "--method",
                    "cocaine", "--store", store, "--out", pdf, "--language", language,
                    "--run", f"{ids['A1']}={runs['A1']}", "--run", f"{ids['A2']}={runs['A2']}")
        assert made.exit_code == 0, made.output
        text = pdf_text(pdf)
        assert ids["A1"][:14] in text  # a long id may wrap in its table cell
        for word in words:
            assert word in text, (language, word)


def test_bad_input_is_one_error_line(tmp_path, runs):
    result = gcms("profile", "measure", runs["A1"], "--method", "heroin")
    assert result.exit_code == 2
    assert "gcms: error: heroin: no such profiling method" in result.output
    result = gcms("profile", "calibrate", "--method", "cocaine", "--out", tmp_path)
    assert result.exit_code == 2 and "give --known FILE" in result.output
    (tmp_path / "bad.json").write_text("{}")
    result = gcms("profile", "calibrate", "--method", "cocaine", "--known",
                  tmp_path / "bad.json", "--out", tmp_path)
    assert result.exit_code == 2 and "bad.json: not a set of known exhibits" in result.output
    result = gcms("profile", "search", "PRX", "--method", "cocaine", "--store",
                  tmp_path / "nothing")
    assert result.exit_code == 2 and "no case store here" in result.output


def test_a_template_method_says_so_with_every_use(runs):
    # the ATS/Captagon method's RIs and ions are the authors' approximations: every command
    # using it says so on stderr; the cocaine method (a lab's published table) says nothing
    ats = find_profiling_method("ats-captagon")
    assert "approximations" in ats.caution and ats.to_dict()["caution"] == ats.caution
    assert find_profiling_method("cocaine").caution == ""
    template = gcms("profile", "measure", runs["A1"], "--method", "ats-captagon")
    assert "caution (ats-captagon): Template" in template.stderr
    published = gcms("profile", "measure", runs["A1"], "--method", "cocaine")
    assert published.exit_code == 0, published.output
    assert "caution" not in published.stderr
