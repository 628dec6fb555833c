"""The demo's Captagon-like exhibit (E1), from a real batch to the PDF a court would get.

A part of the bundled demo sequence (ladder, blank, standard, the blank before E1, E1,
the blank after it) is processed once per module by ``gcms batch`` with the case store
and ``--analyst``; the reports are made from its ``results.json`` and from the store.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.demo import demo_folder, demo_library_path

from .conftest import DEMO_ROWS, demo_subsequence, page_count, pdftotext

ROWS = (*DEMO_ROWS, ("06-blank.cdf", "blank", "BLK-03"))
LAB = demo_folder() / "lab.toml"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from gcms.batch import run_batch
    from gcms.custody.batch import ProcessedBy, RecordInStore

    folder = tmp_path_factory.mktemp("demo-report")
    store = folder / "store"
    result = run_batch(demo_subsequence(folder, ROWS), out_dir=folder / "out",
                       library=demo_library_path(), workers=1,
                       steps=[ProcessedBy("jdoe"), RecordInStore(str(store), "DEMO-1", "jdoe")])
    assert result.ok and not result.step_failures, (result.failed, result.step_failures)
    results = folder / "out" / "results.json"
    return SimpleNamespace(folder=folder, results=results, store=store,
                           document=json.loads(results.read_text(encoding="utf-8")))


def _from_store(store):
    from gcms.custody import CaseStore
    from gcms.report.adapters import from_store

    with CaseStore(store, actor="reader", create=False) as opened:
        return from_store(opened, "E1", draw_chromatograms=False)


def test_the_library_the_batch_used_is_recognised(demo):
    """The batch records the library's content hash; the report compares like with like."""
    from gcms.custody import hash_evidence
    from gcms.report.adapters import from_results

    model = from_results(demo.results, "E1", draw_chromatograms=False)
    file_sha = hash_evidence(demo_library_path()).sha256
    assert demo.document["library"]["content_sha256"] != file_sha
    assert model.deviations == ()  # no false "library ... has SHA-256 ..." deviation
    assert model.library_sha256 == demo.document["library"]["content_sha256"]
    assert model.library_file_sha256 == file_sha and model.library_file_hashed_for_report
    assert "NOT FOR CASEWORK" in model.library_name
    identified = model.identified_findings
    assert [f.substance for f in identified] == ["Amphetamine", "Caffeine", "Theophylline"]
    assert all(f.library_spectrum is not None and f.reference_spectrum is not None
               for f in identified)
    stored = _from_store(demo.store)
    assert stored.library_sha256 == model.library_sha256
    assert stored.library_file_sha256 == file_sha and not stored.library_file_hashed_for_report
    assert not any("library" in d for d in stored.deviations)
    assert all(f.library_spectrum is not None for f in stored.identified_findings)


def test_runs_the_conclusion_rests_on(demo):
    from gcms.report.adapters import from_results

    model = from_results(demo.results, "E1", draw_chromatograms=False)
    uses = {q.sample_id: q.uses for q in model.qc_runs}
    assert uses == {"LAD-01": ("retention index",), "BLK-01": (),
                    "STD-01": ("reference standard",), "BLK-02": ("blank before",),
                    "BLK-03": ()}  # BLK-03 was run after the exhibit
    assert [e.label for e in model.evidence] == ["E1-01", "LAD-01", "STD-01", "BLK-02"]
    stored = _from_store(demo.store)
    assert sorted(e.label for e in stored.evidence) == ["BLK-02", "E1-01", "LAD-01",
                                                        "STD-01"]


def test_who_processed_the_batch(demo):
    from gcms.report.adapters import from_results

    assert demo.document["processed_by"] == {"user": "jdoe"}
    model = from_results(demo.results, "E1", draw_chromatograms=False)
    assert [(p.name, p.user) for p in model.processed_by] == [("jdoe", "jdoe")]
    assert model.analysts == ()  # nobody signed: no analyst is made up
    assert [p.user for p in _from_store(demo.store).processed_by] == ["jdoe"]


def test_every_criterion_of_the_batch_has_a_label_in_each_language(demo):
    from gcms.report.i18n import load_wording

    names = {c["criterion"] for r in demo.document["runs"] for comp in r["components"]
             for c in comp.get("criteria") or []}
    assert {"retention_time", "ion_ratios", "distinct_from_runner_up"} <= names
    for language in ("en", "ar"):
        text = load_wording(language).text
        missing = sorted(n for n in names if f"criterion_{n}" not in text)
        assert not missing, (language, missing)


def _layout_rows(path: Path) -> str:
    return "\n".join("".join(line.split()) for line in
                     pdftotext(path, layout=True).splitlines())


def test_the_english_report_a_court_reads(demo, tmp_path):
    pdf = tmp_path / "e1-en.pdf"
    out = CliRunner().invoke(cli, ["report", str(demo.results),
                                   "--draft", "--exhibit", "E1", "--lab",
                                   str(LAB), "-o", str(pdf)])
    assert out.exit_code == 0, out.output
    text = " ".join(pdftotext(pdf).split())
    rows = _layout_rows(pdf)
    pages = page_count(pdf)
    assert text.count("DEMONSTRATION LABORATORY — not accredited") == pages
    assert "Library content SHA-256" in text and demo.document["library"][
        "content_sha256"] in text
    assert "deviations or exclusions" not in text  # nothing to declare
    # criteria with their labels and units, the step's sentence under each
    assert "Retentiontime(ΔRT)+0.185s±2smet" in rows
    # the sentence under it, worded by the report from the criterion's facts
    assert "ΔRT +0.185 s against the reference standard STD-01 injected in the same " \
        "sequence" in text
    assert "retention_time" not in text and "× tolerance" not in text
    # the excipient no library holds is not named after its best hit
    assert "no library match best hit: Octane (MF 81)" in text
    assert "E1-014.9971560Octane" not in rows
    # the blank after the exhibit is another run of the sequence, not evidence
    assert "BLK-03" in text.split("Other runs of the sequence")[1]
    assert "BLK-03" not in text.split("Evidence files and their SHA-256")[1]
    assert text.lower().count("does not mean absent") == 1
    assert "Batch processed by: jdoe" in text and "Analyst: —" in text


def test_the_arabic_report(demo, tmp_path):
    pdf = tmp_path / "e1-ar.pdf"
    out = CliRunner().invoke(cli, ["report", str(demo.results),
                                   "--draft", "--exhibit", "E1", "--lab",
                                   str(LAB), "--language", "ar", "-o", str(pdf)])
    assert out.exit_code == 0, out.output
    text = pdftotext(pdf)
    assert text.count("مختبر تجريبي للعرض — غير معتمد") == page_count(pdf)
    # the lab's own Arabic wording of its accreditation and place of testing
    assert text.count("غير معتمد — ملف عرض تجريبي") == page_count(pdf)
    assert "بيانات عرض محاكاة" in text and "NOT ACCREDITED" not in text
    for words in ("زمن الاحتباس", "الأدلة المستخدمة لكل مادة", "لا تطابق في المكتبة",
                  "الحقن التي تستند إليها النتيجة", "الفراغ السابق للحرز (الترحيل)",
                  "أمفيتامين", "كافيين", "ثيوفيلين"):
        assert words in text, words
