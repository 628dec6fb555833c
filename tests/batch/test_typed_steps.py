"""Batch steps and the batch's result read the typed results records (gcms.results)."""

from __future__ import annotations

import json

from batch_sim import standard_sequence

from gcms.batch import run_batch
from gcms.batch.output import exhibit_summaries, summary_text
from gcms.demo import demo_library_path
from gcms.results import FORMAT, FORMAT_VERSION, QASection, ResultsDocument, RunResult


def test_steps_see_typed_records_and_the_result_is_the_written_document(tmp_path):
    sequence = standard_sequence(tmp_path)
    seen = {}

    class Look:
        name, stage = "look", "after-judgement"

        def __call__(self, context):
            seen["records"] = list(context.records)
            seen["record_of"] = context.record_of(4)

    class After:
        name, stage = "after", "after-write"

        def __call__(self, context):
            seen["document"] = context.document

    result = run_batch(sequence, library=demo_library_path(), workers=1,
                       out_dir=tmp_path / "out", steps=[Look(), After()])
    assert all(isinstance(r, RunResult) for r in seen["records"])
    assert seen["record_of"].sample_id == "X1"
    assert isinstance(seen["document"], ResultsDocument)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert (written["format"], written["format_version"]) == (FORMAT, FORMAT_VERSION)
    assert isinstance(result.results, ResultsDocument)
    assert result.document == written  # no after-write step added a note here
    assert result.records == written["runs"]
    assert written["exhibits"] == exhibit_summaries(result.results.runs)
    assert summary_text(result.results.runs).splitlines()[0].split()[:3] == [
        "#", "type", "sample"]
    assert "Methamphetamine" in result.summary()


def test_qa_records_read_the_typed_section_as_its_json():
    from gcms.custody.qa import qa_records

    section = {"status": "failing", "policy": "block", "reportable": False,
               "instrument": {"id": "GCMS-1"},
               "checks": [{"kind": "tune", "status": "failing", "source": "history",
                           "results": [{"verdict": "fail", "performed_at": "2025-03-02T08:00",
                                        "sha256": "ab" * 32},
                                       {"verdict": "not judged"}]}]}
    typed = QASection.from_json(section)
    from_json = qa_records({"qa": section})
    assert [r["verdict"] for r in from_json] == ["fail"]
    assert qa_records(typed) == from_json
    assert qa_records(None) == [] and qa_records({}) == []
