"""Report models from results.json and from a case store; the gcms report command."""

from __future__ import annotations

import csv
import io
import json

import jsonschema
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli
from results.documents import check_results_document

from gcms.custody import CaseStore, new_key_pair
from gcms.errors import GcmsError
from gcms.report import report_json, schema
from gcms.report.adapters import BatchFacts, from_records, from_results, from_store
from gcms.report.model import Person
from gcms.report.pdf import render_pdf
from gcms.report.sign import sign_pdf
from gcms.report.verify import verify_report
from gcms.results import ResultsDocument

from .results_doc import K_T4, results_document


@pytest.fixture
def results(tmp_path):
    document = results_document(tmp_path)
    check_results_document(document)
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return path, document


def test_from_results(results):
    path, document = results
    model = from_results(path, "FL21-1010", issued_at="2025-03-10T09:30:00Z")
    assert model.case_id == "C-1"
    assert model.conclusion.identified == ("Amphetamine", "Caffeine", "Theophylline")
    assert model.conclusion.inconclusive == ("Methamphetamine",)
    assert "phentermine" in model.conclusion.ambiguities[0]
    runs = {r["sample_id"]: r for r in document["runs"]}
    # the runs the verdicts rest on (ladder, standard, blank before) are named as such,
    # the blanks before and after them are the sequence's other runs
    assert [(q.sample_id, q.kind, q.outcome, q.uses) for q in model.qc_runs] == [
        ("LR-000", "ladder", "pass", ("retention index",)), ("LR-001", "blank", "pass", ()),
        ("LR-005", "standard", "pass", ("reference standard",)),
        ("LR-006", "blank", "pass", ("blank before",)), ("LR-015", "blank", "pass", ())]
    assert model.qc_runs[0].summary == "n-alkanes C9–C26, n = 18"
    assert {e.label: e.sha256 for e in model.evidence} == {
        s: runs[s]["run"]["sha256"] for s in ("LR-014", "LR-000", "LR-005", "LR-006")}
    amphetamine = model.identified_findings[0]
    assert amphetamine.reference_run == "LR-005"
    assert amphetamine.reference_spectrum is not None
    assert amphetamine.hits[0].match_factor == 912
    assert [c.result for c in amphetamine.criteria] == ["pass"] * 7
    jsonschema.validate(report_json(model), schema())
    (row,) = model.quantitation
    assert row.purity_expanded_uncertainty == pytest.approx(0.6 * K_T4)
    assert row.per_unit == "mg per tablet"
    assert row.per_unit_mg == 0.0438
    assert row.per_unit_expanded_uncertainty_mg == pytest.approx(0.0011 * K_T4)
    assert (row.degrees_of_freedom, row.confidence_percent) == (4, 95.0)
    assert model.processed_by == (Person("jdoe", "jdoe"),) and model.analysts == ()
    again = from_results(path, "FL21-1010", issued_at="2026-01-01T00:00:00Z")
    assert again.report_id == model.report_id  # the id follows the facts, not the time


def test_criteria_with_their_units_and_sentences(results):
    model = from_results(results[0], "FL21-1010")
    criteria = {c.name: c for c in model.identified_findings[0].criteria}
    shown = {name: (c.value, c.limit) for name, c in criteria.items()}
    assert shown == {
        "match_factor": ("912", "≥ 800"),
        "retention_time": ("+0.4 s", "± 6 s"),  # the record's unit on value and limit
        "retention_index": ("+2.0 i.u.", "± 20 i.u."),
        "diagnostic_ions": ("3/3", "3/3"),
        # the worst ratio against its own band: 9.6/15 > 3.2/10
        "ion_ratios": ("9.6 % (m/z 65/44)", "± 15 %"),
        "blank": ("0 %", "≤ 10 %"),
        # the record's value is the next compound's MF minus this one's: a lead of 212
        "distinct_from_runner_up": ("212 MF", "≥ 20 MF"),
    }
    assert criteria["retention_time"].note.startswith("ΔRT +0.40 s (+0.11 %) against")
    assert criteria["retention_time"].unit == "s"
    assert criteria["retention_index"].decisive is False


def test_a_component_not_identified_is_not_named_after_its_best_hit(results):
    model = from_results(results[0], "FL21-1010")
    (junk,) = [f for f in model.findings if f.verdict == "not identified"]
    assert junk.substance is None
    assert (junk.top_hit.name, junk.top_hit.match_factor) == ("Octane", 81)
    assert all(p.text != "Octane" for c in model.chromatograms for p in c.peaks)
    from gcms.report.jsonout import report_csv

    rows = list(csv.DictReader(io.StringIO(report_csv(model))))
    (row,) = [r for r in rows if r["verdict"] == "not identified"]
    assert row["substance"] == "" and row["library_hit"] == "Octane"
    assert row["match_factor"] == "81"


def test_library_compared_by_content_hash(results, tmp_path):
    """The batch records the library's content hash; the file's SHA-256 is another number.

    The demo library's file and content hashes differ: the report must find them the same
    library (and draw its spectra), and only a different content is a deviation.
    """
    from gcms.custody import hash_evidence
    from gcms.demo import demo_library_path
    from gcms.library import Library

    path, document = results
    library = demo_library_path()
    content = Library.open(library).content_sha256
    file_sha = hash_evidence(library).sha256
    assert content != file_sha  # what the old comparison mixed up
    document["library"] = {"path": str(library), "title": "demo", "content_sha256": content,
                           "identity_sha256": None, "n_entries": 60}
    for record in document["runs"]:
        for c in record["components"]:
            c["library"]["sha256"] = content
    path.write_text(json.dumps(document))
    model = from_results(path, "FL21-1010", draw_chromatograms=False)
    assert model.deviations == ()
    assert model.library_sha256 == content and model.library_file_sha256 == file_sha
    assert model.library_file_hashed_for_report
    assert all(f.library_spectrum is not None for f in model.identified_findings)
    assert model.library_name == f"{library.name}: demo"
    # a library whose content changed is named, with both content hashes
    document["library"]["content_sha256"] = "0" * 64
    path.write_text(json.dumps(document))
    changed = from_results(path, "FL21-1010", draw_chromatograms=False)
    (deviation,) = changed.deviations
    assert f"content SHA-256 {content}" in deviation and "0" * 64 in deviation
    assert all(f.library_spectrum is None for f in changed.identified_findings)
    # the case store records the file's hash too: the same file is the same library
    meta = BatchFacts(library_path=str(library), library_content_sha256=content,
                      library_file_sha256=file_sha)
    stored = from_records(ResultsDocument.from_json(path).runs, "FL21-1010", results=meta,
                          draw_chromatograms=False)
    assert stored.deviations == () and not stored.library_file_hashed_for_report


def test_unknown_exhibit_names_the_known_ones(results):
    with pytest.raises(GcmsError, match="FL22-0210"):
        from_results(results[0], "NOPE")


def test_from_store_and_verify_against_it(results, tmp_path):
    path, document = results
    _, pub, key = new_key_pair(tmp_path / "keys", "jdoe", "passphrase-jdoe")
    with CaseStore(tmp_path / "store", actor="jdoe") as store:
        store.open_case("C-1", submitting_agency="Customs")
        store.receive_exhibit("C-1", "FL21-1010", description="47 beige tablets",
                              seal_numbers=["A123"], net_weight="12.50 g",
                              received_from="Officer B")
        store.receive_exhibit("C-1", "FL22-0210", description="white powder")
        store.transfer_exhibit("C-1", "FL21-1010", from_party="jdoe", to_party="vault",
                               purpose="storage", seal_intact=True)
        runs = store.record_runs("C-1", [{"path": r["file"], "type": r["type"],
                                          "exhibit_id": r["exhibit_id"],
                                          "sample_id": r["sample_id"]}
                                         for r in document["runs"]])
        analysis = store.record_analysis("C-1", run_ids=[r.run_id for r in runs],
                                         parameters={"profile": "swgdrug-gcms"})
        recorded = store.record_results("C-1", document["runs"],
                                        analysis_id=analysis.analysis_id)
        store.register_key(key, user="jdoe", printed_name="Dr J. Doe")
        result = next(r for r in recorded if r.exhibit_id == "FL21-1010")
        store.sign_result("C-1", result.result_id, key, meaning="authored")
        model = from_store(store, "FL21-1010")
        assert model.item.description == "47 beige tablets"
        assert model.item.net_weight == "12.50 g" and model.item.seal_numbers == ("A123",)
        assert [t.to_party for t in model.transfers] == ["vault"]
        assert [s.printed_name for s in model.signatures] == ["Dr J. Doe"]
        assert model.analysts[0].name == "Dr J. Doe"
        assert model.chain_head[0] > 0 and model.audit
        # the evidence files the conclusion rests on, as attached (not the other blanks)
        assert {e.label for e in model.evidence} == {"LR-000", "LR-005", "LR-006", "LR-014"}
        # who recorded the analysis processed the batch; the signer is the analyst
        assert model.processed_by == (Person("Dr J. Doe", "jdoe"),)
        pdf = tmp_path / "store-report.pdf"
        pdf.write_bytes(sign_pdf(render_pdf(model.replace(chromatograms=(), findings=())),
                                 key=key, printed_name="Dr J. Doe", meaning="authored"))
        outcome = verify_report(pdf, store=store)
        # made around gcms report: everything holds but the store's record of the report
        assert [f for f in outcome.findings if "does not record this file" not in f] == []
        assert len(outcome.findings) == 1
        # a report whose evidence digest differs from the store is named
        wrong = model.replace(chromatograms=(), findings=(), evidence=(
            model.evidence[0].__class__(model.evidence[0].label, "sample",
                                        model.evidence[0].path, "0" * 64),))
        pdf.write_bytes(sign_pdf(render_pdf(wrong), key=key, printed_name="Dr J. Doe",
                                 meaning="authored"))
        outcome = verify_report(pdf, store=store)
        assert any("the report says SHA-256 " + "0" * 64 in f for f in outcome.findings)


def test_cli_pdf_json_csv_and_verify(results, tmp_path):
    path, _ = results
    runner = CliRunner()
    out = runner.invoke(cli, ["report", str(path),
                              "--draft", "--exhibit", "FL21-1010", "--language",
                              "ar", "-o", str(tmp_path / "r.pdf")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    out = runner.invoke(cli, ["report", str(path), "--draft", "--exhibit", "FL21-1010", "-o",
                              str(tmp_path / "r.json")])
    assert out.exit_code == 0, out.output
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text()), schema())
    out = runner.invoke(cli, ["report", str(path), "--draft", "--exhibit", "FL21-1010", "-o",
                              str(tmp_path / "r.csv")])
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(lines) == 1 + 5 and lines[0].startswith("report_id,case_id,exhibit_id")
    out = runner.invoke(cli, ["report", "verify", str(tmp_path / "r.pdf"), "--results",
                              str(path)])
    assert out.exit_code == 1 and "no digital signature" in out.output
    out = runner.invoke(cli, ["report", str(path), "--draft", "--exhibit", "NOPE", "-o",
                              str(tmp_path / "x.pdf")])
    assert out.exit_code == 2 and "NOPE" in out.output and "Traceback" not in out.output
