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
                   "GCMS-01", "passed", "41.2 ± 2.9 ug/mL", "authored", "SEQ-001", "SEQ-005",
                   "Hexadecanoic acid", "not identified", "ISO/IEC 17025:2017"):
        assert needle in text, needle


ARABIC_WORDS = ("النتيجة", "تم التعرف", "أمفيتامين", "كافيين", "ثيوفيلين", "الحرز كما استلم",
                "الطريقة والجهاز", "سلسلة الحيازة", "التوقيعات", "الوزن الصافي",
                "مختبر الكيمياء الجنائية النموذجي", "لا يجوز نسخ هذا التقرير إلا كاملا")


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
