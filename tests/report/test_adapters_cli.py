"""Report models from results.json and from a case store; the gcms report command."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore, new_key_pair
from gcms.errors import GcmsError
from gcms.report import report_json, schema
from gcms.report.adapters import from_results, from_store
from gcms.report.pdf import render_pdf
from gcms.report.sign import sign_pdf
from gcms.report.verify import verify_report

from .results_doc import results_document


@pytest.fixture
def results(tmp_path):
    document = results_document(tmp_path)
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
    assert [(q.sample_id, q.kind, q.outcome) for q in model.qc_runs] == [
        ("LR-001", "blank", "pass"), ("LR-005", "standard", "pass")]
    runs = {r["sample_id"]: r for r in document["runs"]}
    assert {e.label: e.sha256 for e in model.evidence} == {
        s: runs[s]["sha256"] for s in ("LR-014", "LR-001", "LR-005")}
    amphetamine = model.identified_findings[0]
    assert amphetamine.reference_run == "LR-005"
    assert amphetamine.reference_spectrum is not None
    assert amphetamine.hits[0].match_factor == 912
    assert [c.result for c in amphetamine.criteria] == ["pass", "pass", "pass"]
    (row,) = model.quantitation
    assert row.purity_expanded_uncertainty == pytest.approx(1.2)  # 0.6 % x k = 2
    again = from_results(path, "FL21-1010", issued_at="2026-01-01T00:00:00Z")
    assert again.report_id == model.report_id  # the id follows the facts, not the time
    jsonschema.validate(report_json(model), schema())


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
        store.register_key(pub, user="jdoe", printed_name="Dr J. Doe")
        result = next(r for r in recorded if r.exhibit_id == "FL21-1010")
        store.sign_result("C-1", result.result_id, key, meaning="authored")
        model = from_store(store, "FL21-1010")
        assert model.item.description == "47 beige tablets"
        assert model.item.net_weight == "12.50 g" and model.item.seal_numbers == ("A123",)
        assert [t.to_party for t in model.transfers] == ["vault"]
        assert [s.printed_name for s in model.signatures] == ["Dr J. Doe"]
        assert model.analysts[0].name == "Dr J. Doe"
        assert model.chain_head[0] > 0 and model.audit
        assert {e.label for e in model.evidence} == {"LR-001", "LR-005", "LR-014"}
        pdf = tmp_path / "store-report.pdf"
        pdf.write_bytes(sign_pdf(render_pdf(model.replace(chromatograms=(), findings=())),
                                 key=key, printed_name="Dr J. Doe", meaning="authored"))
        outcome = verify_report(pdf, store=store)
        assert outcome.ok, outcome.findings
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
    out = runner.invoke(cli, ["report", str(path), "--exhibit", "FL21-1010", "--language",
                              "ar", "-o", str(tmp_path / "r.pdf")])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    out = runner.invoke(cli, ["report", str(path), "--exhibit", "FL21-1010", "-o",
                              str(tmp_path / "r.json")])
    assert out.exit_code == 0, out.output
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text()), schema())
    out = runner.invoke(cli, ["report", str(path), "--exhibit", "FL21-1010", "-o",
                              str(tmp_path / "r.csv")])
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(lines) == 1 + 4 and lines[0].startswith("report_id,case_id,exhibit_id")
    out = runner.invoke(cli, ["report", "verify", str(tmp_path / "r.pdf"), "--results",
                              str(path)])
    assert out.exit_code == 1 and "no digital signature" in out.output
    out = runner.invoke(cli, ["report", str(path), "--exhibit", "NOPE", "-o",
                              str(tmp_path / "x.pdf")])
    assert out.exit_code == 2 and "NOPE" in out.output and "Traceback" not in out.output
