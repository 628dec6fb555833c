"""The PDF: pages drawn, facts in the text, Arabic extracted as written, PDF/A, fonts."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest
from PIL import Image

from gcms.report import report_json_bytes
from gcms.report.pdf import render_pdf
from gcms.report.verify import embedded_report

from .conftest import page_count, pdftotext, poppler
from .models import full_model


@pytest.mark.parametrize("languages", ["en", "ar", "ar,en"])
def test_every_page_renders_and_is_not_blank(rendered, languages, tmp_path):
    path = rendered[languages]
    pages = page_count(path)
    assert pages >= 3
    subprocess.run([poppler("pdftoppm"), "-r", "40", "-png", str(path), str(tmp_path / "p")],
                   check=True)
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == pages
    for image in images:
        grey = np.asarray(Image.open(image).convert("L"), dtype=float)
        inked = (grey < 200).mean()
        assert inked > 0.01, f"{image.name}: only {inked:.2%} of the page is inked"
        # the header band (report ID, lab) and the footer band are drawn on every page
        h = grey.shape[0]
        assert (grey[: h // 10] < 200).mean() > 0.005
        assert (grey[-h // 12:] < 200).mean() > 0.002


def test_english_text_states_the_facts_on_every_page(rendered, model):
    path = rendered["en"]
    pages = page_count(path)
    for page in range(1, pages + 1):
        text = pdftotext(path, page=page)
        assert model.report_id in text
        assert model.case_id in text and model.exhibit_id in text
        assert f"Page {page} of {pages}" in text
        assert ("End of report" in text) == (page == pages)
    text = pdftotext(path)
    assert "The following substance(s) were identified in exhibit FL21-1010: Amphetamine, " \
           "Caffeine, Theophylline." in " ".join(text.split())
    for evidence in model.evidence:
        assert evidence.sha256 in text
        for _, digest, _ in evidence.files:
            assert digest in text
    assert model.library_sha256 in text and model.criteria_sha256 in text
    for needle in ("12.50 g", "A123", "Officer B (Customs)", "Dr J. Doe", "A. Smith",
                   "GCMS-01", "passed", "41.2 ± 2.9 µg/mL", "authored", "SEQ-001", "SEQ-005",
                   "Hexadecanoic acid", "not identified", "ISO/IEC 17025:2017"):
        assert needle in text, needle


def _flat(text: str) -> str:
    return " ".join(text.split())


def _squash(text: str) -> str:
    """Text without any white space: pdftotext drops some narrow spaces (``±6s``)."""
    return "".join(text.split())


def test_criteria_read_as_a_chemist_words_them(rendered):
    # each table row on one line of the page's layout, spaces dropped (see _squash)
    text = "\n".join(_squash(line) for line in
                     pdftotext(rendered["en"], layout=True).splitlines())
    needles = ("Retention time (ΔRT) +0.6 s ± 6 s met",
               "Retention index (ΔRI) +3.0 i.u. ± 20 i.u. met (supporting)",
               "Match factor (MF) against the library entry 912 ≥ 800 met",
               # the identification step's own sentence under a criterion the report
               # cannot word from facts (this model records none)
               "ΔRT +0.60 s (+0.17 %) against the standard in 005.D")
    for needle in map(_squash, needles):
        assert needle in text, needle
    for raw in ("retention_time", "delta_rt", "match_factor", ">= 800"):
        assert raw not in text, raw


def test_a_component_not_identified_is_shown_as_no_match(rendered):
    text = _flat(pdftotext(rendered["en"]))
    assert "no library match best hit: Hexadecanoic acid (MF 610)" in text
    assert "Hexadecanoic acid" not in text.split("Components found")[1].split(
        "no library match")[0]


def test_quantitation_states_k_from_the_record(rendered):
    text = _flat(pdftotext(rendered["en"]))
    # U to two significant figures, the value to the same place (GUM 7.2.6)
    for needle in ("2.06 ± 0.14 mg", "0.0439 ± 0.0031 mg per tablet", "16.5 ± 1.2 % w/w",
                   "41.2 ± 2.9 µg/mL", "2.78",
                   "coverage factor k = 2.78, Student's t for 4 degrees of freedom of the "
                   "calibration: a level of confidence of about 95 %",
                   "Amphetamine: 2.06 ± 0.14 mg in the exhibit"):
        assert needle in text, needle
    assert "2.7764" not in text and "k = 2: about 95" not in text


def test_qc_runs_the_conclusion_rests_on_come_first(rendered):
    text = _flat(pdftotext(rendered["en"]))
    used, others = text.split("Runs the conclusion rests on")[1].split(
        "Other runs of the sequence")[:2]
    assert "SEQ-001" in used and "SEQ-005" in used and "SEQ-020" not in used
    assert "blank before the exhibit (carry-over)" in used
    assert "SEQ-020" in others.split("Chain of custody")[0]
    # the evidence files are those the conclusion rests on
    files = text.split("Evidence files and their SHA-256")[1]
    assert "SEQ-020" not in files


def test_limitation_stated_once_and_processed_by_apart(rendered):
    text = _flat(pdftotext(rendered["en"]))
    assert text.lower().count("does not mean absent") == 1
    assert "Batch processed by labtech7" in text and "Analyst Dr J. Doe (jdoe)" in text
    assert "Batch processed by: labtech7" in text


def test_no_page_ends_on_a_heading_or_splits_a_small_table(rendered, model):
    from gcms.report.i18n import load_wording

    words = load_wording("en")
    headings = {v for k, v in words.text.items() if k.startswith("h_")}
    path = rendered["en"]
    for page in range(1, page_count(path) + 1):
        lines = [x.strip() for x in pdftotext(path, page=page, layout=True).splitlines()
                 if x.strip()]
        body = [x for x in lines if model.report_id not in x and "reproduced" not in x]
        assert body and body[-1] not in headings, (page, body[-1])
        if "Item as received" in lines:
            assert any(x.startswith("Received by") for x in lines), page


ARABIC_WORDS = ("النتيجة", "تم التعرف", "أمفيتامين", "كافيين", "ثيوفيلين", "الحرز كما استلم",
                "الطريقة والجهاز", "سلسلة الحيازة", "التوقيعات", "الوزن الصافي",
                "مختبر الكيمياء الجنائية النموذجي", "لا يجوز نسخ هذا التقرير إلا كاملا",
                "زمن الاحتباس", "الأدلة المستخدمة لكل مادة", "لا تطابق في المكتبة",
                "الحقن التي تستند إليها النتيجة", "حقن أخرى في التسلسل",
                "لم يتم التعرف على أي مادة من مواد المكتبة", "معامل التغطية",
                "عولجت الدفعة بواسطة")


def test_arabic_text_extracts_as_the_words_written(rendered, model):
    path = rendered["ar"]
    text = pdftotext(path)
    for word in ARABIC_WORDS:
        assert word in text, word
    pages = page_count(path)
    assert text.count("صفحة") == pages
    assert text.count("نهاية التقرير") == 1
    for page in range(1, pages + 1):
        assert model.report_id in pdftotext(path, page=page)
    # presentation forms (U+FB50-FDFF, U+FE70-FEFF) would mean pre-shaped, not shaped text
    assert not re.search("[\ufb50-\ufdff\ufe70-\ufeff]", text)
    for evidence in model.evidence:
        assert evidence.sha256 in text


def test_bilingual_report_carries_both_languages(rendered):
    text = pdftotext(rendered["ar,en"])
    assert "النتيجة / Conclusion" in text or ("النتيجة" in text and "Conclusion" in text)
    assert "The following substance(s) were identified" in " ".join(text.split())
    assert "تم التعرف" in text


def test_fonts_embedded_with_unicode_maps(rendered):
    out = subprocess.run([poppler("pdffonts"), str(rendered["ar"])], capture_output=True,
                         text=True, check=True).stdout.splitlines()[2:]
    assert any("NotoNaskhArabic" in line for line in out)
    for line in out:
        emb, sub, uni = line.split()[-5:-2]
        assert (emb, uni) == ("yes", "yes"), line


def test_pdfa_metadata_and_embedded_json(rendered, model):
    data = rendered["en"].read_bytes()
    assert b"<pdfaid:part>3</pdfaid:part>" in data or b'pdfaid:part="3"' in data
    assert b"GTS_PDFA1" in data  # the sRGB output intent
    assert embedded_report(data) is not None
    import json

    assert embedded_report(data) == json.loads(report_json_bytes(model))


def test_same_model_same_bytes():
    small = full_model(chromatograms=(), findings=full_model().findings[:1])
    assert render_pdf(small) == render_pdf(small)


def test_unknown_language_is_refused():
    from gcms.errors import ProfileError

    with pytest.raises(ProfileError, match="'xx'"):
        render_pdf(full_model(), languages="xx")
