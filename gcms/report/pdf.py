"""The PDF report: ISO/IEC 17025 §7.8 layout, any language, PDF/A-3U, fonts embedded.

Rendering library: **fpdf2** with **HarfBuzz** shaping (uharfbuzz). HarfBuzz applies
the font's own OpenType tables (initial/medial/final forms, lam-alef, mark placement),
fpdf2 runs the Unicode bidirectional algorithm (UAX #9) on logical-order text and writes
a ToUnicode map for every glyph, so Arabic is drawn correctly *and* copies out of the
PDF as the words that were written. (Pre-shaping with presentation-form characters, as
arabic-reshaper does for libraries without shaping, draws passable text whose copied
text is presentation forms in visual order.) fpdf2 also writes PDF/A-3 (XMP metadata,
sRGB output intent, embedded subset fonts, associated files) and is pure Python.

The layout mirrors for a right-to-left language (tables read from the right, labels on
the right); figures keep their scientific left-to-right axes. With two languages
(``("ar", "en")``) every label carries both, every statement is given in each, and
the first language sets the direction.

Every page carries the laboratory, the report ID, case and exhibit, and "page X of Y";
the last page ends with an end-of-report mark (§7.8.2.1 d). The page total is found by
laying the report out twice (fpdf2's page-count alias does not survive text shaping).
The report's JSON (:mod:`gcms.report.jsonout`) is embedded as a PDF/A-3 associated file
(``report.json``, relationship ``Data``), so the signed PDF carries its facts in
machine-readable form.

This module holds the settings and the two passes; the layout engine (fonts, shaping,
page furniture, tables, figures) is :mod:`gcms.report.layout`, and what each section
says, one function per section, :mod:`gcms.report.sections`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gcms.errors import GcmsError
from gcms.report.i18n import Wording, load_wording
from gcms.report.layout import PdfLayout
from gcms.report.layout import bidi_ready as _bidi_ready  # noqa: F401 (re-exported)
from gcms.report.model import ReportModel
from gcms.report.sections import _pm, _when, draw_report  # noqa: F401 (re-exported)

__all__ = ["PdfSettings", "render_pdf"]
# _bidi_ready, _pm and _when stay importable from here, as before the layout and the
# sections had their own modules.


@dataclass(frozen=True, slots=True)
class PdfSettings:
    """Page and type settings of the PDF (A4, millimetres, points)."""

    page_format: str = "A4"
    margin_mm: float = 15.0
    body_pt: float = 8.5
    small_pt: float = 7.0
    heading_pt: float = 10.5
    title_pt: float = 13.0
    #: Naskh's letters sit small on the body; this scale matches them to the Latin text.
    arabic_scale: float = 1.2
    #: PDF/A part and conformance (U: every glyph maps to Unicode); None for plain PDF.
    pdfa: str | None = "PDF/A-3U"
    #: Evidence files listed file by file inside a folder, at most (the rest counted).
    max_files_per_folder: int = 40


def _words(languages: Sequence[str], translations) -> list[Wording]:
    if isinstance(languages, str):
        languages = [x.strip() for x in languages.split(",") if x.strip()]
    if not languages:
        raise GcmsError("report: no language given")
    return [load_wording(lang, directory=translations) for lang in languages]



def _build(doc: PdfLayout) -> bytes:
    """One layout pass: every section (:mod:`gcms.report.sections`), then the bytes."""
    draw_report(doc)
    return doc.finish()


def render_pdf(model: ReportModel, *, languages: Sequence[str] | str = ("en",),
               translations=None, settings: PdfSettings | None = None,
               attachment: bytes | None = None, watermark: str | None = None) -> bytes:
    """The report as PDF bytes (PDF/A-3U unless ``settings.pdfa`` is None).

    Parameters
    ----------
    model
        What the report states.
    languages
        ``("en",)``, ``("ar",)``, ``("ar", "en")`` or ``"ar,en"``: the first sets the
        direction of the layout.
    translations
        A folder of the lab's own ``<language>.toml`` overriding the packaged wording.
    attachment
        Bytes embedded as ``report.json`` (the JSON form of ``model``); by default
        :func:`gcms.report.jsonout.report_json_bytes` of the model.
    watermark
        Text set large and pale across every page under the content (``"DRAFT"`` for a
        report the lab policy does not let issue yet; see :mod:`gcms.custody.reports`).

    The same model, languages and fonts give the same bytes.
    """
    from gcms.report.jsonout import report_json_bytes

    settings = settings or PdfSettings()
    words = _words(languages, translations)
    if attachment is None:
        attachment = report_json_bytes(model)
    figures: dict[str, Any] = {}
    heights: dict[str, float] = {}
    first = PdfLayout(model, words, settings, None, attachment, figures, heights, watermark)
    _build(first)
    total = first.pdf.page_no()
    final = PdfLayout(model, words, settings, total, attachment, figures, heights, watermark)
    data = _build(final)
    if final.pdf.page_no() != total:  # the footer never changes the flow; say so if it did
        raise GcmsError(f"report {model.report_id}: page count changed between layout "
                        f"passes ({total} then {final.pdf.page_no()})")
    return data
