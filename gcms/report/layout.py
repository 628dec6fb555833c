"""The PDF layout engine: page furniture, fonts, bidi and shaping, tables, figures.

:class:`PdfLayout` is one layout pass of a report (:func:`gcms.report.pdf.render_pdf`
makes two): the document with its fonts, PDF/A metadata and attachment; every page's
header (laboratory, report ID, case, exhibit, the not-reportable mark), watermark and
footer ("page X of Y"); and the building blocks the sections of
:mod:`gcms.report.sections` are drawn with: wording in every language of the report,
lines and statements, headings, tables that read from the right in a right-to-left
report, figures with labels, and blocks kept together on one page. Right-to-left text
gets its left-to-right phrases isolated (:func:`bidi_ready`, UAX #9).
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from gcms.errors import GcmsError
from gcms.report.i18n import Wording
from gcms.report.model import ReportModel

if TYPE_CHECKING:
    from gcms.report.pdf import PdfSettings

__all__ = ["MUTED_RGB", "WITHHELD_RGB", "PdfLayout", "bidi_ready", "has_arabic"]

_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")

#: Page furniture: the header band ends above this (mm from the top), the footer band
#: starts this far from the bottom.
_TOP_MM = 33.0
#: Colour of a watermark (DRAFT) under the content of every page.
_WATERMARK_RGB = (235, 200, 200)
#: Colour of the not-reportable marks (the batch's QA gate withheld the results).
WITHHELD_RGB = (180, 0, 0)
_BOTTOM_MM = 20.0
MUTED_RGB = (105, 105, 105)
#: Room a figure needs below itself (its caption) before the page's end, mm.
_FIGURE_SLACK_MM = 6.0
_HEADER_FILL = (232, 232, 232)


def has_arabic(text: str) -> bool:
    """Whether ``text`` has a letter of the Arabic script (set in Naskh, right to left)."""
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


def bidi_ready(text: str) -> str:
    """Right-to-left text with each left-to-right phrase isolated as one unit.

    In an Arabic sentence every run of Latin letters or digits (an amount with its unit,
    "32.8 ± 9.2 µg/mL"; a file, sample or substance name from the sequence; "21 CFR
    11.50") is wrapped in LEFT-TO-RIGHT ISOLATE ... POP DIRECTIONAL ISOLATE (U+2066,
    U+2069; UAX #9 isolates, with an embedding inside: see ``_LRI``), so it reads left
    to right as one unit wherever it stands and never reorders the sentence around it.
    The marks are invisible and dropped by text extraction; the sentence's own
    punctuation stays outside. Text without Arabic is returned as is.
    """
    if not has_arabic(text):
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


class PdfLayout:
    """One layout pass of a report (see :func:`~gcms.report.pdf.render_pdf`).

    Holds the document and what the sections draw with; the sections themselves are
    :mod:`gcms.report.sections`, and :meth:`finish` gives the bytes.
    """

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
        """Substance names in the words of ``w``, joined by its list separator."""
        return w("list_separator").join(w.substance(n) for n in names)

    def font(self, text: str, *, bold: bool = False, size: float | None = None,
             mono: bool = False) -> None:
        """Set the font for ``text``: Naskh where it has Arabic, else the sans (or mono)."""
        size = size or self.s.body_pt
        if mono:
            self.pdf.set_font("mono", "", size)
        elif has_arabic(text):
            self.pdf.set_font("naskh", "B" if bold else "", size * self.s.arabic_scale)
        else:
            self.pdf.set_font("sans", "B" if bold else "", size)

    def style(self, text: str, *, bold: bool = False, size: float | None = None,
              mono: bool = False, color: tuple[int, int, int] | None = None):
        """The font face of a table cell holding ``text`` (as :meth:`font` chooses)."""
        from fpdf.fonts import FontFace

        size = size or self.s.body_pt
        if mono:
            return FontFace(family="mono", emphasis="", size_pt=size, color=color)
        if has_arabic(text):
            return FontFace(family="naskh", emphasis="BOLD" if bold else "",
                            size_pt=size * self.s.arabic_scale, color=color)
        return FontFace(family="sans", emphasis="BOLD" if bold else "", size_pt=size,
                        color=color)

    @property
    def align(self) -> str:
        """``R`` in a right-to-left report, else ``L``."""
        return "R" if self.rtl else "L"

    def line(self, text: str, *, bold: bool = False, size: float | None = None,
             height: float | None = None, align: str | None = None,
             mono: bool = False, color: tuple[int, int, int] | None = None) -> None:
        """A paragraph across the text width, shaped and laid out in its own direction."""
        from fpdf.enums import XPos, YPos

        self.font(text, bold=bold, size=size, mono=mono)
        if color is not None:
            self.pdf.set_text_color(*color)
        # an Arabic sentence is a right-to-left paragraph even where it opens with a Latin
        # abbreviation ("MF و RMF: ..."): UAX #9 would take the first strong letter's
        # direction and scramble the sentence
        self.pdf.set_text_shaping(True, direction="rtl" if has_arabic(text) else "ltr")
        try:
            self.pdf.multi_cell(0, height or (size or self.s.body_pt) * 0.5, bidi_ready(text),
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
        self.line(f"• {text}", size=size, align="R" if has_arabic(text) else "L")

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
        """A subheading, one line per language."""
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
                                       mono=i in mono, color=MUTED_RGB if i in grey else None)
                    row.cell(bidi_ready(text), style=style,
                             **({"border": CellBordersLayout.TOP} if framed else {}))
                detail = details[r] if r < len(details) else None
                if framed and detail:
                    row = table.row()
                    text = detail or ""
                    row.cell(bidi_ready(text), colspan=len(widths), border=0,
                             padding=(0.0, 1.2, 0.7, 1.2 + (0 if self.rtl else 3.0)),
                             align="RIGHT" if has_arabic(text) else "LEFT",
                             style=self.style(text, size=size - 1.2, color=MUTED_RGB))
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
            pdf.set_text_color(*WITHHELD_RGB)
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
        pdf.set_text_color(*WITHHELD_RGB)
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

    # -- figures -----------------------------------------------------------------------

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
        arabic = has_arabic(text)
        pdf.set_text_shaping(True, direction="rtl" if arabic else "ltr")
        try:
            shown = bidi_ready(text)
            w = pdf.get_string_width(shown) + 1.0
            h = size * 0.45
            pdf.set_text_color(*anchor.colour)
            pdf.set_xy(x if anchor.ha == "left" else x - w, y if anchor.va == "top" else y - h)
            pdf.cell(w, h, shown, align="L" if anchor.ha == "left" else "R")
        finally:
            pdf.set_text_shaping(True)
            pdf.set_text_color(0, 0, 0)

    # -- the document ------------------------------------------------------------------

    def finish(self) -> bytes:
        """The document's bytes, once every section is drawn; none from the first pass."""
        pdf = self.pdf
        if self._scratch is not None:  # never written out: close its font files here
            _close_fonts(self._scratch)
            self._scratch = None
        if self.draft:  # the first pass only counts the pages
            _close_fonts(pdf)
            return b""
        return bytes(pdf.output())


def _close_fonts(pdf) -> None:
    """Close the font files of a document not written out (fpdf2 closes them on output)."""
    for font in pdf.fonts.values():
        if hasattr(font, "close"):
            font.close()


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
