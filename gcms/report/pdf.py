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
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import PurePath
from typing import Any

from gcms.errors import GcmsError
from gcms.report.i18n import Wording, load_wording
from gcms.report.model import ComponentFinding, Person, QuantitationRow, ReportModel

__all__ = ["PdfSettings", "render_pdf"]

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


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


#: Page furniture: the header band ends above this (mm from the top), the footer band
#: starts this far from the bottom.
_TOP_MM = 33.0
#: Colour of a watermark (DRAFT) under the content of every page.
_WATERMARK_RGB = (235, 200, 200)
#: Colour of the not-reportable marks (the batch's QA gate withheld the results).
_WITHHELD_RGB = (180, 0, 0)
_BOTTOM_MM = 20.0
_MUTED = (105, 105, 105)
#: Room a figure needs below itself (its caption) before the page's end, mm.
_FIGURE_SLACK_MM = 6.0
_HEADER_FILL = (232, 232, 232)


def _when(value: str | None) -> str:
    """``2025-03-04T10:22:05Z`` -> ``2025-03-04 10:22 UTC``; "—" for None.

    A time with an offset is converted to UTC; a time without one (an instrument's
    local clock) is shown as written, without claiming a zone.
    """
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        match = re.match(r"(\d{4}-\d{2}-\d{2})", value)
        return match.group(1) if match else value
    if len(value) <= 10:
        return moment.strftime("%Y-%m-%d")
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _unit(unit: str | None) -> str:
    """A unit as printed: ``ug/mL`` -> ``µg/mL`` (the batch writes ASCII units)."""
    return re.sub(r"^u(?=[gLlm]|mol)", "µ", (unit or "").strip())


def _pm(value: float, uncertainty: float | None, unit: str = "") -> str:
    """``value ± U unit``, U to two significant figures and the value to the same place.

    GUM (JCGM 100:2008) 7.2.6: the uncertainty with at most two significant digits, the
    value rounded to the last digit of the uncertainty. Without U the value keeps three
    significant figures.
    """
    unit = _unit(unit)
    tail = f" {unit}" if unit else ""
    if uncertainty is None or not math.isfinite(uncertainty) or uncertainty <= 0:
        return f"{value:.3g}{tail}"
    place = 1 - int(math.floor(math.log10(uncertainty)))  # decimals for two figures
    u = round(uncertainty, place)
    if u >= 10 ** (2 - place):  # rounding up crossed a power of ten (9.96 -> 10)
        place -= 1
        u = round(uncertainty, place)
    decimals = max(place, 0)
    return f"{round(value, place):.{decimals}f} ± {u:.{decimals}f}{tail}"


def _quantity(value: float | None, unit: str | None) -> str:
    """``25 µg/mL``: a recorded limit with its unit (3 significant figures), "—" for None."""
    if value is None:
        return "—"
    unit = _unit(unit)
    return f"{value:.3g} {unit}".strip()


def _has_arabic(text: str) -> bool:
    return bool(_ARABIC.search(text))


_LTR_RUN = re.compile(r"[^\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]+")
#: LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE (UAX #9, X5a-X6a): the text between
#: them is laid out on its own, left to right, and placed as one neutral unit. Inside, a
#: LEFT-TO-RIGHT EMBEDDING ... POP DIRECTIONAL FORMATTING: fpdf2 (2.8.9) lays out the
#: content of an isolate in the paragraph's direction ("(± 20 %)" came out reversed),
#: an embedding it lays out correctly; a reader that honours isolates gets both.
_LRI, _PDI = "\u2066\u202a", "\u202c\u2069"
#: A separator between two phrases of one left-to-right run (each isolated on its own).
_SEPARATOR = re.compile(r"([:;]\s+)")
#: Punctuation that stays outside an isolate: it belongs to the right-to-left sentence.
_OUTSIDE = " \t:;,.!?\u060c\u061b"


def _isolated_core(run: str) -> tuple[int, int]:
    """Start and end of the part of a left-to-right run to isolate (its own brackets kept)."""
    start, end = 0, len(run)
    while True:
        before = (start, end)
        while start < end and run[start] in _OUTSIDE:
            start += 1
        while end > start and run[end - 1] in _OUTSIDE:
            end -= 1
        core = run[start:end]
        # a bracket that opens or closes around the sentence's own words stays outside
        if core[:1] == "(" and core.count("(") > core.count(")") or core[:1] == ")":
            start += 1
        if core[-1:] == ")" and core.count(")") > core.count("(") or core[-1:] == "(":
            end -= 1
        if core[:1] == "/" and core[1:2] == " ":  # " / " between a label's languages
            start += 1
        if (start, end) == before:
            return start, end


def _bidi_ready(text: str) -> str:
    """Right-to-left text with each left-to-right phrase isolated as one unit.

    In an Arabic sentence every run of Latin letters or digits (an amount with its unit,
    "32.8 ± 9.2 µg/mL"; a file, sample or substance name from the sequence; "21 CFR
    11.50") is wrapped in LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE (U+2066,
    U+2069; UAX #9 isolates, with an embedding inside: see ``_LRI``), so it reads left
    to right as one unit wherever it stands and never reorders the sentence around it.
    The marks are invisible and dropped by text extraction; the sentence's own
    punctuation stays outside. Text without Arabic is returned as is.
    """
    if not _has_arabic(text):
        return text

    def isolate(run: str) -> str:
        if not re.search(r"[0-9A-Za-z\u00b5\u0394]", run):
            return run
        start, end = _isolated_core(run)
        if start >= end:
            return run
        return f"{run[:start]}{_LRI}{run[start:end]}{_PDI}{run[end:]}"

    def phrases(match: re.Match) -> str:
        run = match.group(0)
        if "\u2066" in run:  # isolated already
            return run
        # "(Etizolam): 32.8 ± 9.2 µg/mL": a name and an amount are two units, read in
        # the sentence's order; the separator between them belongs to the sentence
        parts = _SEPARATOR.split(run)
        return "".join(part if i % 2 else isolate(part) for i, part in enumerate(parts))

    return _LTR_RUN.sub(phrases, text)


class _Report:
    """One layout pass of a report (see :func:`render_pdf`)."""

    def __init__(self, model: ReportModel, words: Sequence[Wording], settings: PdfSettings,
                 total_pages: int | None, attachment: bytes | None,
                 figures: dict[str, Any], heights: dict[str, float],
                 watermark: str | None = None) -> None:
        from fpdf import FPDF

        self.model, self.words, self.s = model, list(words), settings
        self.watermark = watermark
        self.total = total_pages
        #: the first layout pass, which only counts pages: figures are not embedded
        self.draft = total_pages is None
        self.figures = figures  # PNGs drawn in the first pass, reused in the second
        self.heights = heights  # block heights measured in the first pass, reused too
        self.rtl = self.words[0].rtl
        self.bilingual = len(self.words) > 1
        self._scratch = None  # a page-less twin to measure blocks on (keep_together)
        self._measuring = False
        report = self

        class _Doc(FPDF):
            def header(self) -> None:
                report._header()

            def footer(self) -> None:
                report._footer()

        pdf = _Doc(orientation="P", unit="mm", format=settings.page_format,
                   enforce_compliance=settings.pdfa)
        self.pdf = pdf
        self._setup(pdf)
        issued = datetime.fromisoformat(model.issued_at.replace("Z", "+00:00"))
        if issued.tzinfo is None:
            issued = issued.replace(tzinfo=timezone.utc)
        pdf.set_creation_date(issued)
        pdf.set_title(f"{self.words[0]('title')} {model.report_id}")
        pdf.set_author(", ".join(p.name for p in model.analysts) or model.laboratory.name)
        pdf.set_subject(f"{model.case_id} / {model.exhibit_id}")
        pdf.set_creator(f"{model.software} {model.software_version}".strip())
        pdf.set_producer("fpdf2")
        if settings.pdfa:
            pdf.set_xmp_metadata(_xmp(settings.pdfa, issued, title=pdf.title,
                                      subject=f"{model.case_id} / {model.exhibit_id}",
                                      author=pdf.author, creator=pdf.creator))
        if attachment is not None:
            pdf.embed_file(bytes=attachment, basename="report.json", mime_type="application/json",
                           modification_date=issued, creation_date=issued,
                           associated_file_relationship="Data",
                           desc="The facts of this report as JSON (gcms report schema)")

    def _setup(self, pdf) -> None:
        from gcms.report.fonts import font_paths

        fonts = font_paths()
        pdf.add_font("sans", "", fonts["sans"])
        pdf.add_font("sans", "B", fonts["sans_bold"])
        pdf.add_font("mono", "", fonts["mono"])
        pdf.add_font("naskh", "", fonts["arabic"])
        pdf.add_font("naskh", "B", fonts["arabic_bold"])
        pdf.set_fallback_fonts(["sans"])
        pdf.set_text_shaping(True)
        pdf.set_lang(self.words[0].language)
        pdf.set_margins(self.s.margin_mm, _TOP_MM, self.s.margin_mm)
        pdf.set_auto_page_break(True, margin=_BOTTOM_MM)

    # -- keeping blocks together -------------------------------------------------------

    def measure(self, draw: Callable[[], None]) -> float:
        """Height (mm) ``draw`` takes from the top of an empty page; inf beyond one page.

        The block is drawn on a twin document (same fonts, margins and code path), so
        the height is the one the real page will get, text shaping and wrapping included.
        """
        from fpdf import FPDF

        if self._scratch is None:
            self._scratch = FPDF(orientation="P", unit="mm", format=self.s.page_format)
            self._setup(self._scratch)
        scratch, real = self._scratch, self.pdf
        scratch.add_page()
        start = scratch.page
        scratch.set_xy(scratch.l_margin, scratch.t_margin)
        self.pdf, self._measuring = scratch, True
        try:
            draw()
        finally:
            self.pdf, self._measuring = real, False
        return math.inf if scratch.page != start else scratch.get_y() - scratch.t_margin

    def keep_together(self, key: str, draw: Callable[[], None],
                      fallback: Callable[[], None] | None = None) -> None:
        """Draw ``draw`` on one page: on the next one when the rest of this one is short.

        A block taller than a page is drawn by ``fallback`` (default: ``draw``) where it
        stands, breaking where it must. ``key`` names the block: its height does not
        depend on where it is drawn, so the second layout pass reuses the first's.
        """
        if self._measuring:
            draw()
            return
        pdf = self.pdf
        if key not in self.heights:
            self.heights[key] = self.measure(draw)
        height = self.heights[key]
        room = pdf.page_break_trigger - pdf.get_y()
        if math.isinf(height):
            (fallback or draw)()
            return
        # the slack covers what a figure keeps free below itself for its caption
        if height + _FIGURE_SLACK_MM > room and pdf.get_y() > pdf.t_margin + 1.0:
            pdf.add_page()
        draw()

    # -- wording and type --------------------------------------------------------------

    def plain(self, key: str, **values) -> str:
        """A label in every language of the report, joined by " / "."""
        return " / ".join(w(key, **values) for w in self.words)

    def label(self, key: str) -> str:
        """A label of a table cell (every language, one per line when bilingual)."""
        return self.cell(key)

    def cell(self, key: str, **values) -> str:
        """A table cell's wording: every language, one per line (no bidi between them)."""
        return "\n".join(dict.fromkeys(w(key, **values) for w in self.words))

    def substances(self, names: Sequence[str], w: Wording) -> str:
        return w("list_separator").join(w.substance(n) for n in names)

    def font(self, text: str, *, bold: bool = False, size: float | None = None,
             mono: bool = False) -> None:
        size = size or self.s.body_pt
        if mono:
            self.pdf.set_font("mono", "", size)
        elif _has_arabic(text):
            self.pdf.set_font("naskh", "B" if bold else "", size * self.s.arabic_scale)
        else:
            self.pdf.set_font("sans", "B" if bold else "", size)

    def style(self, text: str, *, bold: bool = False, size: float | None = None,
              mono: bool = False, color: tuple[int, int, int] | None = None):
        from fpdf.fonts import FontFace

        size = size or self.s.body_pt
        if mono:
            return FontFace(family="mono", emphasis="", size_pt=size, color=color)
        if _has_arabic(text):
            return FontFace(family="naskh", emphasis="BOLD" if bold else "",
                            size_pt=size * self.s.arabic_scale, color=color)
        return FontFace(family="sans", emphasis="BOLD" if bold else "", size_pt=size,
                        color=color)

    @property
    def align(self) -> str:
        return "R" if self.rtl else "L"

    def line(self, text: str, *, bold: bool = False, size: float | None = None,
             height: float | None = None, align: str | None = None,
             mono: bool = False, color: tuple[int, int, int] | None = None) -> None:
        from fpdf.enums import XPos, YPos

        self.font(text, bold=bold, size=size, mono=mono)
        if color is not None:
            self.pdf.set_text_color(*color)
        # an Arabic sentence is a right-to-left paragraph even where it opens with a Latin
        # abbreviation ("MF و RMF: ..."): UAX #9 would take the first strong letter's
        # direction and scramble the sentence
        self.pdf.set_text_shaping(True, direction="rtl" if _has_arabic(text) else "ltr")
        try:
            self.pdf.multi_cell(0, height or (size or self.s.body_pt) * 0.5, _bidi_ready(text),
                                align=align or self.align, new_x=XPos.LMARGIN,
                                new_y=YPos.NEXT)
        finally:
            self.pdf.set_text_shaping(True)
        if color is not None:
            self.pdf.set_text_color(0, 0, 0)

    def note(self, text: str, *, size: float | None = None) -> None:
        """A bullet note as recorded, aligned by its own script.

        The analysis writes its notes in English: they read left to right in an Arabic
        report too.
        """
        self.line(f"• {text}", size=size, align="R" if _has_arabic(text) else "L")

    def statement(self, key: str, *, size: float | None = None, bold: bool = False,
                  **values) -> None:
        """A sentence in each language of the report, one paragraph each."""
        for w in self.words:
            self.line(w(key, **values), align="R" if w.rtl else "L", size=size, bold=bold)

    def heading(self, key: str, *, keep_mm: float = 45.0) -> None:
        """A section heading, on a new page unless ``keep_mm`` of room follow it."""
        pdf = self.pdf
        if pdf.get_y() > pdf.page_break_trigger - keep_mm:
            pdf.add_page()
        pdf.ln(2.5)
        text = self.plain(key)
        if not self._measuring:
            pdf.start_section(text)
        for i, w in enumerate(self.words):  # one line per language: no bidi between them
            self.line(w(key), bold=True, size=self.s.heading_pt if i == 0 else
                      self.s.heading_pt - 1.5, height=6.0 if i == 0 else 5.0)
        y = pdf.get_y()
        pdf.set_draw_color(120, 120, 120)
        pdf.set_line_width(0.3)
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.ln(1.5)

    def subheading(self, key: str) -> None:
        for w in self.words:
            self.line(w(key), bold=True, height=5.0 if w is self.words[0] else 4.5)

    def table(self, header: Sequence[str] | None, rows: Sequence[Sequence[str]],
              widths: Sequence[float], *, mono: Sequence[int] = (), size: float | None = None,
              bold_first: bool = False, borders: str = "HORIZONTAL_LINES",
              muted: Sequence[Sequence[int]] = (), details: Sequence[str | None] = ()
              ) -> None:
        """A table; columns read from the right in a right-to-left report.

        ``muted[r]`` lists the columns of row ``r`` printed grey (a best library hit
        that is not an identification); ``details[r]``, when given, is a sentence
        printed under row ``r`` across the whole table, small and grey, with no rule
        between the two.
        """
        from fpdf.enums import CellBordersLayout

        size = size or self.s.body_pt
        order = list(range(len(widths)))
        if self.rtl:
            order.reverse()
        aligns = ["RIGHT" if self.rtl else "LEFT"] * len(widths)
        framed = bool(details) and borders == "HORIZONTAL_LINES"
        self.pdf.set_font("sans", "", size)
        with self.pdf.table(col_widths=[widths[i] for i in order], text_align=aligns,
                            first_row_as_headings=header is not None, line_height=size * 0.52,
                            borders_layout="NONE" if framed else borders, padding=(0.6, 1.2),
                            headings_style=self.style("", bold=True),
                            ) as table:
            if header is not None:
                row = table.row()
                for i in order:
                    text = str(header[i])
                    style = dataclasses.replace(self.style(text, bold=True, size=size),
                                                fill_color=_HEADER_FILL)
                    row.cell(text, style=style, **(
                        {"border": CellBordersLayout.TOP | CellBordersLayout.BOTTOM}
                        if framed else {}))
            for r, cells in enumerate(rows):
                row = table.row()
                grey = set(muted[r]) if r < len(muted) else set()
                for i in order:
                    text = str(cells[i]) if cells[i] is not None else "—"
                    style = self.style(text, bold=bold_first and i == 0, size=size,
                                       mono=i in mono, color=_MUTED if i in grey else None)
                    row.cell(_bidi_ready(text), style=style,
                             **({"border": CellBordersLayout.TOP} if framed else {}))
                detail = details[r] if r < len(details) else None
                if framed and detail:
                    row = table.row()
                    text = detail or ""
                    row.cell(_bidi_ready(text), colspan=len(widths), border=0,
                             padding=(0.0, 1.2, 0.7, 1.2 + (0 if self.rtl else 3.0)),
                             align="RIGHT" if _has_arabic(text) else "LEFT",
                             style=self.style(text, size=size - 1.2, color=_MUTED))
        self.pdf.ln(1.0)

    def pairs(self, items: Sequence[tuple[str, str]], *, mono_values: bool = False) -> None:
        """Label-value lines (label in the report's languages, value as recorded)."""
        rows = [(self.plain(k), v if v not in (None, "") else "—") for k, v in items]
        widths = (46, 54) if self.bilingual else (34, 66)
        self.table(None, rows, widths, mono=(1,) if mono_values else (), bold_first=True,
                   borders="NONE")

    # -- page furniture ----------------------------------------------------------------

    def _header(self) -> None:
        pdf, m, s = self.pdf, self.model, self.s
        lab = m.laboratory
        name, address = lab.name_in(self.words[0].language)
        left, right = pdf.l_margin, pdf.w - pdf.r_margin
        pdf.set_y(9.0)
        text_x, text_w = left, right - left
        if lab.logo:
            logo_w = 16.0
            x = right - logo_w if self.rtl else left
            pdf.image(lab.logo, x=x, y=8.0, h=14.0, keep_aspect_ratio=True, w=logo_w)
            text_w -= logo_w + 3.0
            if not self.rtl:
                text_x += logo_w + 3.0
        pdf.set_x(text_x)
        self.font(name, bold=True, size=s.heading_pt)
        pdf.cell(text_w, 5.0, name, align=self.align)
        pdf.set_xy(text_x, pdf.get_y() + 5.5)
        accreditation = lab.accreditation_in(self.words[0].language)
        info = " · ".join([*address, *([accreditation] if accreditation else [])])
        self.font(info, size=s.small_pt)
        pdf.multi_cell(text_w, 3.6, info or " ", align=self.align)
        pdf.set_y(max(pdf.get_y(), 23.0))
        # label and value as separate runs: a value that starts with digits
        # (2025-0142) must not be reordered by the bidi algorithm of the label's line
        x = right if self.rtl else left
        y = pdf.get_y()
        for key, value in (("report_id", m.report_id), ("case", m.case_id),
                           ("exhibit", m.exhibit_id)):
            for text, bold in ((f"{self.plain(key)}:", False), (value, True)):
                self.font(text, bold=bold, size=s.small_pt + 0.5)
                width = pdf.get_string_width(text) + 1.5
                x = x - width if self.rtl else x
                pdf.set_xy(x, y)
                pdf.cell(width, 4.5, text, align="C")
                x = x - 0.5 if self.rtl else x + width + 0.5
            x = x - 4.0 if self.rtl else x + 4.0
        pdf.set_draw_color(40, 40, 40)
        pdf.set_line_width(0.5)
        pdf.line(left, 29.0, right, 29.0)
        if m.withheld:  # on every page: a page read alone must not pass for a conclusion
            mark = self.words[0]("withheld_mark")
            self.font(mark, bold=True, size=s.small_pt + 0.5)
            pdf.set_text_color(*_WITHHELD_RGB)
            pdf.set_xy(left, 29.6)
            pdf.cell(right - left, 3.2, mark, align="C")
            pdf.set_text_color(0, 0, 0)
        if self.watermark:
            self._watermark(self.watermark)
        pdf.set_y(_TOP_MM)

    def _watermark(self, text: str) -> None:
        """``text`` across the page, drawn first so that the content lies over it."""
        pdf = self.pdf
        self.font(text, bold=True, size=96)
        pdf.set_text_color(*_WATERMARK_RGB)
        with pdf.rotation(angle=55, x=pdf.w / 2, y=pdf.h / 2):
            width = pdf.get_string_width(text)
            pdf.set_xy((pdf.w - width) / 2, pdf.h / 2 - 15)
            pdf.cell(width, 30, text, align="C")
        # the same word upright under the header rule, where text extraction finds it
        self.font(text, bold=True, size=self.s.small_pt + 0.5)
        pdf.set_text_color(*_WITHHELD_RGB)
        pdf.set_xy(pdf.l_margin, 29.6)
        pdf.cell(pdf.w - pdf.l_margin - pdf.r_margin, 3.2, text,
                 align="L" if self.rtl else "R")
        pdf.set_text_color(0, 0, 0)

    def _footer(self) -> None:
        pdf, s = self.pdf, self.s
        left, right = pdf.l_margin, pdf.w - pdf.r_margin
        pdf.set_draw_color(120, 120, 120)
        pdf.set_line_width(0.2)
        pdf.line(left, pdf.h - 16.0, right, pdf.h - 16.0)
        total = self.total if self.total is not None else 0
        page = self.plain("page_of", page=pdf.page_no(), total=total)
        pdf.set_y(-15.0)
        for text, align in ((page, "L" if self.rtl else "R"),
                            (self.model.report_id, "R" if self.rtl else "L")):
            self.font(text, bold=True, size=s.small_pt)
            pdf.set_x(left)
            pdf.cell(right - left, 4.0, text, align=align)
        pdf.set_y(-11.0)
        notice = self.words[0]("reproduce_in_full")  # one language: it must fit one line
        self.font(notice, size=s.small_pt - 0.5)
        pdf.cell(0, 4.0, notice, align=self.align)

    # -- sections ----------------------------------------------------------------------

    def build(self) -> bytes:
        pdf, m = self.pdf, self.model
        pdf.add_page()
        for w in self.words:  # the title in each language, on its own line
            self.line(w("title"), bold=True, size=self.s.title_pt, height=7.0,
                      align="R" if w.rtl else "L")
        pdf.ln(1)
        self.summary()
        self.conclusion()
        self.item()
        self.method()
        self.results()
        self.chromatograms()
        self.spectra()
        self.quantitation()
        self.quality_control()
        self.custody()
        self.signatures()
        pdf.ln(4)
        for w in self.words:
            self.line(w("end_of_report", report_id=m.report_id), bold=True, align="C",
                      height=5.0)
        if self._scratch is not None:  # never written out: close its font files here
            _close_fonts(self._scratch)
            self._scratch = None
        if self.draft:  # the first pass only counts the pages
            _close_fonts(pdf)
            return b""
        return bytes(pdf.output())

    def summary(self) -> None:
        m = self.model
        analysed = _when(m.analysed_from)
        if m.analysed_to and _when(m.analysed_to) != analysed:
            analysed = f"{analysed} – {_when(m.analysed_to)}"
        customer = m.item.submitting_agency or "—"
        if m.item.agency_reference:
            customer = f"{customer} ({m.item.agency_reference})"
        self.keep_together("summary", lambda: self.pairs([
            ("report_id", m.report_id), ("case", m.case_id), ("exhibit", m.exhibit_id),
            ("customer", customer), ("date_received", _when(m.item.received_at)),
            ("dates_analysed", analysed), ("date_issued", _when(m.issued_at)),
            ("location", m.laboratory.location_in(self.words[0].language) or "—"),
            ("analyst", _people(m.named_analysts)),
            ("reviewer", _people(m.named_reviewers)),
            *([("approver", _people(m.named_approvers))] if m.named_approvers else []),
            ("processed_by", _people(m.processed_by)),
        ]))

    def quantity_text(self, row: QuantitationRow, w: Wording) -> str:
        """A reported amount in words of ``w``: in the exhibit first, then as measured."""
        parts = []
        if row.mass_mg is not None:
            parts.append(w("amount_in_exhibit",
                           value=_pm(row.mass_mg, row.mass_expanded_uncertainty_mg, "mg")))
        if row.per_unit_mg is not None:
            parts.append(_pm(row.per_unit_mg, row.per_unit_expanded_uncertainty_mg,
                             row.per_unit or "mg per unit"))
        if row.purity_percent is not None:
            parts.append(w("purity_value", value=_pm(row.purity_percent,
                                                     row.purity_expanded_uncertainty, "%")))
        if row.concentration is not None:
            parts.append(w("in_solution", value=_pm(row.concentration,
                                                    row.expanded_uncertainty, row.unit)))
        if row.coverage_factor:
            parts.append(self.coverage_short(row, w))
        return w("list_separator").join(parts)

    def coverage_short(self, row: QuantitationRow, w: Wording) -> str:
        k = f"{row.coverage_factor:.2f}"
        if row.confidence_percent is not None:
            return w("k_level", k=k, level=f"{row.confidence_percent:g}")
        return w("k_only", k=k)

    def conclusion(self) -> None:
        m, c = self.model, self.model.conclusion
        self.heading("h_conclusion")
        for w in self.words:
            align = "R" if w.rtl else "L"
            if m.withheld:
                self.line(w("withheld_banner"), bold=True, align=align, color=_WITHHELD_RGB)
                for reason in m.withheld:
                    self.line(f"• {reason}", align=align, color=_WITHHELD_RGB)
                self.pdf.ln(1)
            if c.identified:
                self.line(w("identified", exhibit=m.exhibit_id,
                            substances=self.substances(c.identified, w)), bold=True,
                          align=align)
            else:
                self.line(w("none_identified", exhibit=m.exhibit_id), bold=True, align=align)
            if c.inconclusive:
                self.line(w("inconclusive", substances=self.substances(c.inconclusive, w)),
                          align=align)
            self.line(w("others_not_detected"), align=align)
            for row in m.quantitation:
                if row.reportable and row.concentration is not None:
                    self.line(w("quantity_line", substance=w.substance(row.substance),
                                value=self.quantity_text(row, w)), align=align)
            self.pdf.ln(1)
        self.subheading("h_limitations")
        for key in ("limit_isomers", "limit_not_identified", "limit_items_tested"):
            self.statement(key)
        # the analysis's own notes, less the general limitation stated just above
        notes = [n for n in dict.fromkeys((*c.limitations, *c.ambiguities))
                 if not _restates_not_identified(n)]
        if notes:
            self.subheading("analysis_notes")
            for note in notes:
                self.note(note)
        if m.deviations:
            self.subheading("deviations")
            for note in m.deviations:
                self.note(note)

    def item(self) -> None:
        it = self.model.item
        rows = [
            ("description", it.description), ("packaging", it.packaging),
            ("seals", ", ".join(it.seal_numbers) or "—"), ("condition", it.condition),
            ("item_count", str(it.item_count) if it.item_count is not None else "—"),
            ("gross_weight", it.gross_weight), ("net_weight", it.net_weight),
            ("received_from", it.received_from), ("received_by", it.received_by),
        ]
        recorded = any(v not in (None, "", "—") for _, v in rows) or it.received_at

        def draw() -> None:
            self.heading("h_item", keep_mm=0.0)
            if not recorded:
                self.statement("item_not_recorded")
            self.pairs(rows)

        self.keep_together("item", draw)

    def method(self) -> None:
        m, ins = self.model, self.model.instrument
        instrument = " ".join(x for x in (ins.instrument_id, ins.model) if x) or "—"
        if ins.serial:
            instrument += f" (S/N {ins.serial})"
        qa = self.plain(f"qa_{ins.qa_status.replace(' ', '_')}")
        mono_rows = [
            ("software", f"{m.software} {m.software_version}".strip()),
            ("library", f"{m.library_name or '—'}"),
            ("library_sha256", m.library_sha256 or "—"),
        ]
        if m.library_file_sha256:
            mono_rows.append(("library_file_sha256_now" if m.library_file_hashed_for_report
                              else "library_file_sha256", m.library_file_sha256))
        mono_rows += [("criteria_profile", m.criteria_profile or "—"),
                      ("criteria_sha256", m.criteria_sha256 or "—")]
        if ins.method_sha256:
            mono_rows.append(("method_sha256", ins.method_sha256))

        def draw() -> None:
            self.heading("h_method", keep_mm=0.0)
            self.statement("technique_statement")
            self.pairs([
                ("technique", m.technique), ("instrument", instrument), ("column", ins.column),
                ("ionization", ins.ionization), ("method_file", ins.method),
                ("tune_file", ins.tune_file), ("qa_status", qa),
            ])
            for line in ins.qa_summary:
                self.note(line, size=self.s.small_pt + 0.5)
            self.pairs(mono_rows, mono_values=True)

        self.keep_together("method", draw)
        self.keep_together("method evidence", self.method_evidence)
        if m.dependencies or m.python:
            w = self.words[0]  # one language: the list is the same in every one
            self.line(w("software_versions", gcms=m.software_version or "—",
                        python=m.python or "—"),
                      size=self.s.small_pt - 0.5, color=_MUTED, align="R" if w.rtl else "L")
            # package names and versions: one left-to-right paragraph in any language
            self.line(", ".join(f"{name} {version}" for name, version in m.dependencies)
                      or "—", size=self.s.small_pt - 0.5, color=_MUTED, align="L")

    def method_evidence(self) -> None:
        """What each substance's verdict rests on, technique by technique (SWGDRUG IIIB).

        Generated from the criteria each identification actually evaluated
        (:attr:`ComponentFinding.evidence_used`): a reference standard or an alkane
        ladder is named only where the verdict used one.
        """
        found = [f for f in self.model.findings
                 if f.verdict in ("identified", "inconclusive") and f.substance]
        self.subheading("h_method_evidence")
        if not found:
            self.statement("method_no_substance", size=self.s.small_pt + 0.5)
            return
        header = [self.label(k) for k in ("col_substance", "col_technique", "col_compared",
                                          "col_category")]
        rows = []
        for f in found:
            used = f.evidence_used
            name = "\n".join(dict.fromkeys(w.substance(f.substance) for w in self.words))
            name += f"\n{f.sample_id}"
            ms, gc = [], []
            for w in self.words:
                run = f.reference_run or "—"
                entry = f.top_hit.name if f.top_hit else f.substance
                parts = []
                if "library spectrum" in used:
                    parts.append(w("cmp_library_spectrum", entry=entry))
                if "standard spectrum" in used:
                    parts.append(w("cmp_standard_spectrum", run=run))
                ms.append(w("list_separator").join(parts) or "—")
                parts = []
                if "standard retention time" in used:
                    parts.append(w("cmp_standard_rt", run=run))
                if "ladder retention index" in used:
                    ri = w("cmp_ladder_ri", ladder=f.ladder_run or "—")
                    if f.retention_source == "standard" or "standard retention time" in used:
                        ri = f"{ri} {w('cmp_supporting')}"
                    parts.append(ri)
                gc.append(w("list_separator").join(parts) or w("cmp_no_retention"))
            rows.append([name, self.cell("tech_ms"), "\n".join(dict.fromkeys(ms)), "A"])
            retention = any(k in used for k in ("standard retention time",
                                                "ladder retention index"))
            rows.append(["", self.cell("tech_gc"), "\n".join(dict.fromkeys(gc)),
                         "B" if retention else "—"])
        self.table(header, rows, (20, 19, 47, 14), size=self.s.small_pt + 0.5)

    def results(self) -> None:
        m = self.model
        if not m.findings:
            self.heading("h_results")
            self.statement("no_components")
            return
        header = [self.label(k) for k in ("col_sample", "col_rt", "col_ri", "col_substance",
                                          "col_mf", "col_rmf", "col_dri", "col_drt",
                                          "col_verdict")]
        rows, muted = [], []
        for f in m.findings:
            hit = f.top_hit
            if f.verdict == "not identified":
                # its best hit is no identification: named only as such, greyed
                best = self.cell("best_hit", name=hit.name, mf=_num(hit.match_factor)) \
                    if hit is not None else ""
                substance = "\n".join(x for x in (self.cell("no_library_match"), best) if x)
                rows.append([f.sample_id, _num(f.rt_s / 60.0 if f.rt_s is not None else None, 3),
                             _num(f.retention_index), substance, "—", "—", "—", "—",
                             self.cell(_verdict_key(f.verdict))])
                muted.append((3,))
                continue
            rows.append([
                f.sample_id, _num(f.rt_s / 60.0 if f.rt_s is not None else None, 3),
                _num(f.retention_index), f.substance or "—",
                _num(hit.match_factor if hit else None),
                _num(hit.reverse_match_factor if hit else None),
                _num(f.delta_ri if f.delta_ri is not None else
                     (hit.delta_ri if hit else None), 1),
                _num(f.delta_rt_s, 2), self.cell(_verdict_key(f.verdict)),
            ])
            muted.append(())

        def draw() -> None:
            self.heading("h_results", keep_mm=0.0)
            self.table(header, rows, (12, 9, 8, 26, 7, 7, 8, 8, 15),
                       size=self.s.small_pt + 0.5, muted=muted)
            self.statement("results_legend", size=self.s.small_pt)

        self.keep_together("results", draw)

    def chromatograms(self) -> None:
        from gcms.report.charts import chromatogram_figure, png_bytes

        if not self.model.chromatograms:
            return
        for i, chrom in enumerate(self.model.chromatograms):
            key = f"chromatogram {i}"
            if key not in self.figures:
                self.figures[key] = png_bytes(chromatogram_figure(chrom))

            def draw(i=i, key=key, chrom=chrom) -> None:
                if i == 0:
                    self.heading("h_chromatograms", keep_mm=0.0)
                self.figure(self.figures[key], 7.0 / 2.9, "chromatogram_caption",
                            label=chrom.label)

            self.keep_together(key, draw)

    def figure(self, png: bytes, aspect: float, caption: str, *,
               labels: Sequence[tuple] = (), **values) -> None:
        """A figure across the text width, its caption (sentence ``caption``) below.

        ``labels`` are ``(PanelLabel, text, bold)`` written over the figure in the
        report's first language (shaped and laid out by fpdf2, which matplotlib is not).
        """
        pdf = self.pdf
        width = pdf.w - pdf.l_margin - pdf.r_margin
        height = width / aspect
        if pdf.get_y() + height + _FIGURE_SLACK_MM > pdf.page_break_trigger:
            pdf.add_page()
        if self.draft or self._measuring:  # the room it takes is all that counts here
            pdf.set_y(pdf.get_y() + height)
        else:
            x0, y0 = pdf.l_margin, pdf.get_y()
            pdf.image(io.BytesIO(png), x=x0, w=width, h=height)
            after = pdf.get_y()
            for anchor, text, bold in labels:
                self.figure_label(x0 + anchor.x * width, y0 + anchor.y * height, anchor,
                                  text, bold)
            pdf.set_xy(pdf.l_margin, after)
        self.statement(caption, size=self.s.small_pt, **values)
        pdf.ln(1.5)

    def figure_label(self, x: float, y: float, anchor, text: str, bold: bool) -> None:
        """One label over a figure, its ``anchor.ha``/``va`` corner at (x, y) mm."""
        pdf = self.pdf
        size = self.s.small_pt - 0.5
        self.font(text, bold=bold, size=size)
        arabic = _has_arabic(text)
        pdf.set_text_shaping(True, direction="rtl" if arabic else "ltr")
        try:
            shown = _bidi_ready(text)
            w = pdf.get_string_width(shown) + 1.0
            h = size * 0.45
            pdf.set_text_color(*anchor.colour)
            pdf.set_xy(x if anchor.ha == "left" else x - w, y if anchor.va == "top" else y - h)
            pdf.cell(w, h, shown, align="L" if anchor.ha == "left" else "R")
        finally:
            pdf.set_text_shaping(True)
            pdf.set_text_color(0, 0, 0)

    def spectra(self) -> None:
        from gcms.report.charts import head_to_tail_figure, panel_labels, png_bytes

        found = self.model.identified_findings
        if not found:
            return
        for i, f in enumerate(found):
            refs = [r for r in (f.library_spectrum, f.reference_spectrum) if r is not None]
            key = f"spectra {i}"
            if f.spectrum is not None and key not in self.figures:
                figure = head_to_tail_figure(f.spectrum, refs, title=f.substance or "",
                                             panel_height_in=_SPECTRUM_PANEL_IN, labels=False)
                self.figures[key] = png_bytes(figure)
                self.figures[key + " labels"] = panel_labels(figure)
            caption = ("spectra_caption" if f.library_spectrum and f.reference_spectrum else
                       "spectra_caption_library" if f.library_spectrum else
                       "spectra_caption_reference" if f.reference_spectrum else
                       "spectra_caption_alone")

            def hits(i=i, f=f) -> None:
                if i == 0:
                    self.heading("h_evidence", keep_mm=0.0)
                self.finding_hits(f)

            def spectra(f=f, key=key, refs=refs, caption=caption) -> None:
                if f.spectrum is not None:
                    self.figure(self.figures[key],
                                7.0 / (_SPECTRUM_PANEL_IN * max(len(refs), 1)), caption,
                                labels=self.spectrum_labels(f, refs, self.figures[
                                    key + " labels"]), substance=f.substance or "—")

            def everything(f=f, hits=hits, spectra=spectra) -> None:
                hits()
                self.finding_criteria(f)
                spectra()

            def apart(i=i, f=f, hits=hits, spectra=spectra) -> None:
                # too tall for one page (two languages): its parts kept whole each,
                # following one another without leaving a page half empty
                self.keep_together(f"hits {i}", hits)
                self.keep_together(f"criteria {i}", lambda: self.finding_criteria(f))
                spectra()

            self.keep_together(f"evidence {i}", everything, fallback=apart)

    def spectrum_labels(self, f: ComponentFinding, refs, anchors) -> list[tuple]:
        """The head-to-tail panels' labels in the report's first language."""
        w = self.words[0]
        rt = f"{f.rt_s / 60.0:.2f} min" if f.rt_s is not None else "—"
        entry = f.top_hit.name if f.top_hit else (f.substance or "—")
        texts = [w("plot_sample", sample=f.sample_id, rt=rt)]
        for trace in refs:
            texts.append(w("plot_library", entry=entry) if trace is f.library_spectrum
                         else w("plot_standard", run=f.reference_run or "—",
                                substance=f.substance or "—"))
        return [(a, texts[a.trace], a.trace == 0) for a in anchors if a.trace < len(texts)]

    def finding_hits(self, f: ComponentFinding) -> None:
        """The component's title line and its library hits."""
        names = " / ".join(dict.fromkeys(w.substance(f.substance or "—") for w in self.words))
        rt = f"{f.rt_s / 60.0:.3f} min" if f.rt_s is not None else "—"
        self.line(f"{names} — {f.sample_id}, {rt}", bold=True, height=5.0)
        if f.hits:
            header = [self.label(k) for k in ("col_rank", "col_library_entry", "col_mf",
                                              "col_rmf", "col_prob", "col_dri")]
            rows = [[str(h.rank), h.name, _num(h.match_factor), _num(h.reverse_match_factor),
                     _num(h.probability, 1), _num(h.delta_ri, 1)] for h in f.hits[:5]]
            self.table(header, rows, (6, 40, 8, 8, 9, 9), size=self.s.small_pt + 0.5)

    def finding_criteria(self, f: ComponentFinding) -> None:
        """Every criterion (value, limit, result, the step's own sentence) and notes."""
        if f.criteria:
            header = [self.label(k) for k in ("col_criterion", "col_value", "col_limit",
                                              "col_result")]
            rows = [[self.criterion_name(c.name), c.value, c.limit, self.criterion_result(c)]
                    for c in f.criteria]
            self.table(header, rows, (53, 18, 14, 15), size=self.s.small_pt + 0.5,
                       details=[self.criterion_detail(c) for c in f.criteria])
        if f.reference_run:
            self.statement("reference_run", run=f.reference_run, size=self.s.small_pt)
        for note in f.notes:
            self.note(note, size=self.s.small_pt + 0.5)

    def criterion_detail(self, c) -> str | None:
        """What the criterion compared, in each language of the report.

        Worded from the criterion's facts (:attr:`Criterion.sentence`); a criterion the
        adapter could not word keeps the identification step's English sentence.
        """
        if c.sentence and c.sentence in self.words[0].text:
            return "\n".join(dict.fromkeys(w(c.sentence, **c.values) for w in self.words))
        return c.note

    def criterion_name(self, name: str) -> str:
        key = "criterion_" + re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
        if key in self.words[0].text:
            return self.cell(key)
        return name.replace("_", " ")

    def criterion_result(self, c) -> str:
        key = f"result_{c.result.replace(' ', '_')}"
        supporting = c.decisive is False
        return "\n".join(dict.fromkeys(
            f"{w(key)} {w('result_supporting')}" if supporting else w(key) for w in self.words))

    def quantitation(self) -> None:
        rows = self.model.quantitation
        if not rows:
            return
        header = [self.label(k) for k in ("col_sample", "col_substance", "col_status",
                                          "col_in_solution", "col_in_exhibit", "col_k")]
        table = []
        for r in rows:
            w = self.words[0]
            solution = (_pm(r.concentration, r.expanded_uncertainty, r.unit)
                        if r.concentration is not None else "—")
            exhibit = []
            if r.mass_mg is not None:
                exhibit.append(_pm(r.mass_mg, r.mass_expanded_uncertainty_mg, "mg"))
            if r.per_unit_mg is not None:
                exhibit.append(_pm(r.per_unit_mg, r.per_unit_expanded_uncertainty_mg,
                                   r.per_unit or "mg per unit"))
            if r.purity_percent is not None:
                exhibit.append(_pm(r.purity_percent, r.purity_expanded_uncertainty, "% w/w"))
            k = f"{r.coverage_factor:.2f}" if r.coverage_factor else "—"
            status = self.cell("qstatus_" + r.status.replace(" ", "_")) \
                if "qstatus_" + r.status.replace(" ", "_") in w.text else r.status
            if not r.reportable and r.status != "not reportable":
                status += "\n" + self.cell("not_reportable")
            table.append([r.sample_id, w.substance(r.substance) if not self.bilingual
                          else r.substance, status, solution, "\n".join(exhibit) or "—", k])
        statements = []
        for r in rows:
            if r.coverage_factor:
                statements.append(r)

        def draw() -> None:
            self.heading("h_quantitation", keep_mm=0.0)
            self.table(header, table, (12, 18, 16, 20, 24, 8), size=self.s.small_pt + 0.5)
            for r in statements:
                for w in self.words:
                    basis = (w("basis_regression") if r.basis == _REGRESSION_BASIS
                             else r.basis or "—")
                    k = f"{r.coverage_factor:.2f}"
                    coverage = (w("coverage_student", k=k, dof=r.degrees_of_freedom,
                                  level=f"{r.confidence_percent:g}")
                                if r.degrees_of_freedom is not None
                                and r.confidence_percent is not None
                                else w("coverage_set", k=k))
                    self.line(w("uncertainty_statement", substance=w.substance(r.substance),
                                sample=r.sample_id, basis=basis, coverage=coverage),
                              align="R" if w.rtl else "L", size=self.s.small_pt + 0.5)
            self.quantitation_method(rows)
            for r in rows:
                if r.message:
                    self.note(f"{r.sample_id}, {r.substance}: {r.message}",
                              size=self.s.small_pt + 0.5)

        self.keep_together("quantitation", draw)

    def quantitation_method(self, rows: Sequence[QuantitationRow]) -> None:
        """The method (name, version, SHA-256) and each calibration behind the amounts."""
        size = self.s.small_pt + 0.5
        methods = dict.fromkeys((r.method_name, r.method_version, r.method_sha256)
                                for r in rows if r.method_name)
        calibrations = {r.substance: r for r in rows if r.calibration_model or r.loq}
        for w in self.words:
            align = "R" if w.rtl else "L"
            for name, version, sha256 in methods:
                self.line(w("quant_method", name=name, version=version or "—",
                            sha256=sha256 or "—"), align=align, size=size)
            for substance, r in calibrations.items():
                model = r.calibration_model or "—"
                key = f"model_{model}"
                weighting = r.weighting or "—"
                self.line(w("quant_calibration", substance=w.substance(substance),
                            model=w(key) if key in w.text else model.replace("_", " "),
                            weighting=w("weighting_none") if weighting == "none" else weighting,
                            low=_quantity(r.range_low, r.unit), high=_quantity(r.range_high,
                                                                                r.unit),
                            loq=_quantity(r.loq, r.unit),
                            internal_standard=r.internal_standard or w("no_internal_standard")),
                          align=align, size=size)

    def quality_control(self) -> None:
        runs = self.model.qc_runs
        if not runs:
            self.heading("h_qc")
            self.statement("no_qc_runs")
            return
        used = [r for r in runs if r.uses]
        others = [r for r in runs if not r.uses]

        def kind(r) -> str:
            return self.cell(f"kind_{r.kind}") if f"kind_{r.kind}" in self.words[0].text \
                else r.kind

        def outcome(r) -> str:
            return self.cell(f"qc_{r.outcome.replace(' ', '_')}")

        def uses(r) -> str:
            return "\n".join(self.cell("use_" + u.replace(" ", "_")) for u in r.uses)

        def summary(r) -> str:
            return "\n".join(dict.fromkeys(self.qc_summary(r, w) for w in self.words))

        def draw_used() -> None:
            self.heading("h_qc", keep_mm=0.0)
            self.subheading("h_qc_used")
            if not used:
                self.statement("no_qc_used")
                return
            header = [self.label(k) for k in ("col_sample", "col_kind", "col_acquired",
                                              "col_used_for", "col_outcome", "col_summary")]
            rows = [[r.sample_id, kind(r), _when(r.acquired_at), uses(r), outcome(r),
                     summary(r)] for r in used]
            self.table(header, rows, (10, 12, 19, 21, 9, 29), size=self.s.small_pt + 0.5)

        self.keep_together("qc used", draw_used)
        if others:
            def draw_others() -> None:
                self.subheading("h_qc_other")
                self.statement("qc_other_statement", size=self.s.small_pt)
                header = [self.label(k) for k in ("col_sample", "col_kind", "col_acquired",
                                                  "col_outcome", "col_summary")]
                rows = [[r.sample_id, kind(r), _when(r.acquired_at), outcome(r),
                         summary(r)] for r in others]
                self.table(header, rows, (11, 12, 19, 9, 49), size=self.s.small_pt + 0.5)

            self.keep_together("qc other", draw_others)

    def qc_summary(self, r, w: Wording) -> str:
        """What a QC run showed, in the words of ``w``: its facts, not its English summary."""
        if r.problem:
            return r.problem
        if r.kind == "blank":
            return (w("qc_identified", substances=self.substances(r.found, w)) if r.found
                    else w("qc_blank_clean"))
        if r.kind in ("standard", "qc"):
            parts = [w("qc_found", substances=self.substances(r.found, w)) if r.found
                     else w("qc_none_found")]
            if r.missing:
                parts.append(w("qc_missing", substances=self.substances(r.missing, w)))
            if r.recovery_percent is not None and r.recovery_tolerance_percent is not None:
                parts.append(w("qc_recovery", value=f"{r.recovery_percent:.1f}",
                               tolerance=f"{r.recovery_tolerance_percent:g}"))
            return w("list_separator").join(parts)
        return r.summary or "—"

    def custody(self) -> None:
        m = self.model

        def transfers() -> None:
            self.heading("h_custody", keep_mm=0.0)
            if m.transfers:
                header = [self.label(k) for k in ("col_when", "col_from", "col_to",
                                                  "col_purpose", "col_seal")]
                rows = [[_when(t.at), t.from_party, t.to_party, t.purpose or "—",
                         "—" if t.seal_intact is None else
                         self.cell("seal_intact" if t.seal_intact else "seal_broken")]
                        for t in m.transfers]
                self.table(header, rows, (18, 22, 22, 22, 16), size=self.s.small_pt + 0.5)
            else:
                self.statement("no_transfers")

        folders = {str(PurePath(e.path).parent) for e in m.evidence}
        common = folders.pop() if len(folders) == 1 else None

        def files() -> None:
            self.subheading("h_evidence_files")
            self.statement("hash_statement")
            if common is not None:
                self.statement("evidence_folder", folder=common, size=self.s.small_pt)
            header = [self.label(k) for k in ("col_sample", "col_kind", "col_file",
                                              "col_sha256")]
            rows = []
            for e in m.evidence:
                kind = self.cell(f"kind_{e.kind}") if f"kind_{e.kind}" in self.words[0].text \
                    else e.kind
                rows.append([e.label, kind, PurePath(e.path).name if common else e.path,
                             e.sha256])
                shown = e.files[: self.s.max_files_per_folder] if len(e.files) > 1 else ()
                for path, digest, _ in shown:
                    rows.append(["", "", f"  {path}", digest])
                if len(e.files) > self.s.max_files_per_folder:
                    rows.append(["", "", self.cell(
                        "more_files", count=len(e.files) - self.s.max_files_per_folder), ""])
            if rows:
                self.table(header, rows, (10, 11, 27, 52), mono=(3,),
                           size=self.s.small_pt - 0.5)

        def apart() -> None:
            self.keep_together("transfers", transfers)
            self.keep_together("evidence files", files)

        self.keep_together("custody", lambda: (transfers(), files()), fallback=apart)
        if m.chain_head is not None:
            self.statement("chain_head", seq=m.chain_head[0], sha256=m.chain_head[1],
                           size=self.s.small_pt)
        if m.audit:
            def audit() -> None:
                self.subheading("h_audit")
                header = [self.label(k) for k in ("col_seq", "col_when", "col_actor",
                                                  "col_action", "col_object")]
                rows = [[str(a.seq), _when(a.at), a.actor, a.action, a.object]
                        for a in m.audit]
                self.table(header, rows, (7, 18, 14, 20, 41), size=self.s.small_pt)

            self.keep_together("audit", audit)
        if m.source:
            self.statement("source", source=m.source, size=self.s.small_pt)

    def signatures(self) -> None:
        m = self.model

        def draw() -> None:
            self.heading("h_signatures", keep_mm=0.0)
            self.statement("signature_statement")
            if m.signatures:
                header = [self.label(k) for k in ("col_name", "col_meaning", "col_when",
                                                  "col_kind", "col_key")]
                rows = [[s.printed_name, self.cell(f"meaning_{s.meaning}"), _when_seconds(
                    s.signed_at), self.cell("sig_pdf" if s.kind == "pdf" else "sig_store"),
                    (s.key_fingerprint or "—")[:16]] for s in m.signatures]
                self.table(header, rows, (24, 18, 20, 22, 16), size=self.s.small_pt + 0.5)
            else:
                self.statement("unsigned")
            self.pdf.ln(2)
            approvers = (("approver", m.named_approvers),) if m.named_approvers else ()
            for key, people in (("analyst", m.named_analysts), ("reviewer", m.named_reviewers),
                                *approvers, ("processed_by", m.processed_by)):
                self.line(f"{self.plain(key)}: {_people(people)}", bold=key != "processed_by",
                          height=5.0)

        self.keep_together("signatures", draw)


#: Height of one head-to-tail panel (inches; the figure is 7 in wide).
_SPECTRUM_PANEL_IN = 1.75
#: The uncertainty basis the quantitation step records (gcms.quantitation.quantity).
_REGRESSION_BASIS = ("standard error of inverse prediction from the calibration regression "
                     "(k = 1)")
_NOT_IDENTIFIED_NOTE = re.compile(r"^\W*not identified\W*\s+does not mean absent", re.I)


def _close_fonts(pdf) -> None:
    """Close the font files of a document not written out (fpdf2 closes them on output)."""
    for font in pdf.fonts.values():
        if hasattr(font, "close"):
            font.close()


def _restates_not_identified(note: str) -> bool:
    """Whether an analysis note is the "'not identified' is not absent" limitation."""
    return bool(_NOT_IDENTIFIED_NOTE.match(note))


def _people(people: Sequence[Person]) -> str:
    """``Dr J. Doe (jdoe)``: printed names, with the user id where it differs."""
    if not people:
        return "—"
    return ", ".join(p.name if not p.user or p.user == p.name else f"{p.name} ({p.user})"
                     for p in people)


def _when_seconds(value: str) -> str:
    text = re.sub(r"(:\d{2})\.\d+", r"\1", value).replace("T", " ").replace("Z", " UTC")
    return text if "UTC" in text or "+" in text else text + " UTC"


def _verdict_key(verdict: str) -> str:
    return "verdict_" + verdict.replace(" ", "_")


def _xmp(pdfa: str, issued: datetime, *, title: str, subject: str, author: str,
         creator: str) -> str:
    """XMP metadata with the PDF/A identification; every date is the issue date.

    fpdf2 would stamp the time of rendering as the modification date; the report's own
    issue time keeps the same model rendering to the same bytes.
    """
    from html import escape

    match = re.fullmatch(r"PDF/A-(\d)([A-Za-z]?)", pdfa.strip(), re.IGNORECASE)
    if not match:
        raise GcmsError(f"PDF/A level {pdfa!r}: expected e.g. PDF/A-3U")
    when = issued.astimezone(timezone.utc).isoformat(timespec="seconds")
    conformance = (f"      <pdfaid:conformance>{match.group(2).upper()}</pdfaid:conformance>"
                   if match.group(2) else "")
    return "\n".join(line for line in [
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
        '  <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"',
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"',
        '    xmlns:pdf="http://ns.adobe.com/pdf/1.3/"',
        '    xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">',
        '    <rdf:Description rdf:about=""',
        f'        xmp:CreatorTool="{escape(creator)}"',
        f'        xmp:CreateDate="{when}" xmp:ModifyDate="{when}" xmp:MetadataDate="{when}"',
        '        pdf:Producer="fpdf2">',
        f"      <pdfaid:part>{match.group(1)}</pdfaid:part>",
        conformance,
        f'      <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{escape(title)}'
        "</rdf:li></rdf:Alt></dc:title>",
        f'      <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{escape(subject)}'
        "</rdf:li></rdf:Alt></dc:description>",
        f"      <dc:creator><rdf:Seq><rdf:li>{escape(author)}</rdf:li></rdf:Seq></dc:creator>",
        "    </rdf:Description>",
        "  </rdf:RDF>",
        "</x:xmpmeta>",
    ] if line)


def _words(languages: Sequence[str], translations) -> list[Wording]:
    if isinstance(languages, str):
        languages = [x.strip() for x in languages.split(",") if x.strip()]
    if not languages:
        raise GcmsError("report: no language given")
    return [load_wording(lang, directory=translations) for lang in languages]


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
    first = _Report(model, words, settings, None, attachment, figures, heights, watermark)
    first.build()
    total = first.pdf.page_no()
    final = _Report(model, words, settings, total, attachment, figures, heights, watermark)
    data = final.build()
    if final.pdf.page_no() != total:  # the footer never changes the flow; say so if it did
        raise GcmsError(f"report {model.report_id}: page count changed between layout "
                        f"passes ({total} then {final.pdf.page_no()})")
    return data
