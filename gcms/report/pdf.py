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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from gcms.errors import GcmsError
from gcms.report.i18n import Wording, load_wording
from gcms.report.model import ComponentFinding, ReportModel

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


def _when(value: str | None) -> str:
    """``2025-03-04T10:22:05Z`` -> ``2025-03-04 10:22 UTC`` (empty for None)."""
    if not value:
        return "—"
    text = value.replace("T", " ")
    match = re.match(r"(\d{4}-\d{2}-\d{2})( \d{2}:\d{2})?", text)
    if not match:
        return value
    return match.group(1) + (f"{match.group(2)} UTC" if match.group(2) else "")


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class _Report:
    """One layout pass of a report (see :func:`render_pdf`)."""

    def __init__(self, model: ReportModel, words: Sequence[Wording], settings: PdfSettings,
                 total_pages: int | None, attachment: bytes | None,
                 figures: dict[str, bytes]) -> None:
        from fpdf import FPDF

        from gcms.report.fonts import font_paths

        self.model, self.words, self.s = model, list(words), settings
        self.total = total_pages
        self.figures = figures  # PNGs drawn in the first pass, reused in the second
        self.rtl = self.words[0].rtl
        report = self

        class _Doc(FPDF):
            def header(self) -> None:
                report._header()

            def footer(self) -> None:
                report._footer()

        pdf = _Doc(orientation="P", unit="mm", format=settings.page_format,
                   enforce_compliance=settings.pdfa)
        self.pdf = pdf
        fonts = font_paths()
        pdf.add_font("sans", "", fonts["sans"])
        pdf.add_font("sans", "B", fonts["sans_bold"])
        pdf.add_font("mono", "", fonts["mono"])
        pdf.add_font("naskh", "", fonts["arabic"])
        pdf.add_font("naskh", "B", fonts["arabic_bold"])
        pdf.set_fallback_fonts(["sans"])
        pdf.set_text_shaping(True)
        pdf.set_lang(self.words[0].language)
        pdf.set_margins(settings.margin_mm, 33.0, settings.margin_mm)
        pdf.set_auto_page_break(True, margin=20.0)
        issued = datetime.fromisoformat(model.issued_at.replace("Z", "+00:00"))
        if issued.tzinfo is None:
            issued = issued.replace(tzinfo=timezone.utc)
        pdf.set_creation_date(issued)
        pdf.set_title(f"{self.plain('title')} {model.report_id}")
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

    # -- wording and type --------------------------------------------------------------

    def plain(self, key: str, **values) -> str:
        """A label in every language of the report, joined by " / "."""
        return " / ".join(w(key, **values) for w in self.words)

    def substances(self, names: Sequence[str], w: Wording) -> str:
        return w("list_separator").join(w.substance(n) for n in names)

    def font(self, text: str, *, bold: bool = False, size: float | None = None,
             mono: bool = False) -> None:
        size = size or self.s.body_pt
        if mono:
            self.pdf.set_font("mono", "", size)
        elif _ARABIC.search(text):
            self.pdf.set_font("naskh", "B" if bold else "", size * self.s.arabic_scale)
        else:
            self.pdf.set_font("sans", "B" if bold else "", size)

    def style(self, text: str, *, bold: bool = False, size: float | None = None,
              mono: bool = False):
        from fpdf.fonts import FontFace

        size = size or self.s.body_pt
        if mono:
            return FontFace(family="mono", emphasis="", size_pt=size)
        if _ARABIC.search(text):
            return FontFace(family="naskh", emphasis="BOLD" if bold else "",
                            size_pt=size * self.s.arabic_scale)
        return FontFace(family="sans", emphasis="BOLD" if bold else "", size_pt=size)

    @property
    def align(self) -> str:
        return "R" if self.rtl else "L"

    def line(self, text: str, *, bold: bool = False, size: float | None = None,
             height: float | None = None, align: str | None = None,
             mono: bool = False) -> None:
        from fpdf.enums import XPos, YPos

        self.font(text, bold=bold, size=size, mono=mono)
        self.pdf.multi_cell(0, height or (size or self.s.body_pt) * 0.5, text,
                            align=align or self.align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def statement(self, key: str, **values) -> None:
        """A sentence in each language of the report, one paragraph each."""
        for w in self.words:
            self.line(w(key, **values), align="R" if w.rtl else "L")

    def heading(self, key: str, *, keep_mm: float = 45.0) -> None:
        """A section heading, on a new page unless ``keep_mm`` of room follow it."""
        pdf = self.pdf
        if pdf.get_y() > pdf.h - pdf.b_margin - keep_mm:
            pdf.add_page()
        pdf.ln(2.5)
        text = self.plain(key)
        pdf.start_section(text)
        self.line(text, bold=True, size=self.s.heading_pt, height=6.0)
        y = pdf.get_y()
        pdf.set_draw_color(120, 120, 120)
        pdf.set_line_width(0.3)
        pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
        pdf.ln(1.5)

    def table(self, header: Sequence[str] | None, rows: Sequence[Sequence[str]],
              widths: Sequence[float], *, mono: Sequence[int] = (), size: float | None = None,
              bold_first: bool = False, borders: str = "HORIZONTAL_LINES") -> None:
        """A table; columns read from the right in a right-to-left report."""
        from fpdf.fonts import FontFace

        size = size or self.s.body_pt
        order = list(range(len(widths)))
        if self.rtl:
            order.reverse()
        aligns = ["RIGHT" if self.rtl else "LEFT"] * len(widths)
        self.pdf.set_font("sans", "", size)
        with self.pdf.table(col_widths=[widths[i] for i in order], text_align=aligns,
                            first_row_as_headings=header is not None, line_height=size * 0.52,
                            borders_layout=borders, padding=(0.8, 1.2),
                            headings_style=FontFace(emphasis="BOLD", fill_color=(232, 232, 232)),
                            ) as table:
            for r, cells in enumerate(([header] if header is not None else []) + list(rows)):
                row = table.row()
                is_header = header is not None and r == 0
                for i in order:
                    text = str(cells[i]) if cells[i] is not None else "—"
                    style = self.style(text, bold=is_header or (bold_first and i == 0),
                                       size=size, mono=(i in mono and not is_header))
                    if is_header:
                        style = dataclasses.replace(style, fill_color=(232, 232, 232))
                    row.cell(text, style=style)
        self.pdf.ln(1.0)

    def pairs(self, items: Sequence[tuple[str, str]], *, mono_values: bool = False) -> None:
        """Label-value lines (label in the report's languages, value as recorded)."""
        rows = [(self.plain(k), v if v not in (None, "") else "—") for k, v in items]
        self.table(None, rows, (34, 66), mono=(1,) if mono_values else (), bold_first=True,
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
        info = " · ".join([*address, *( [lab.accreditation] if lab.accreditation else [])])
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
        pdf.set_y(33.0)

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
        self.line(self.plain("title"), bold=True, size=self.s.title_pt, height=7.0)
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
        self.line(self.plain("end_of_report", report_id=m.report_id), bold=True,
                  align="C", height=5.0)
        return bytes(pdf.output())

    def summary(self) -> None:
        m = self.model
        analysed = _when(m.analysed_from)
        if m.analysed_to and _when(m.analysed_to) != analysed:
            analysed = f"{analysed} – {_when(m.analysed_to)}"
        customer = m.item.submitting_agency or "—"
        if m.item.agency_reference:
            customer = f"{customer} ({m.item.agency_reference})"
        self.pairs([
            ("report_id", m.report_id), ("case", m.case_id), ("exhibit", m.exhibit_id),
            ("customer", customer), ("date_received", _when(m.item.received_at)),
            ("dates_analysed", analysed), ("date_issued", _when(m.issued_at)),
            ("location", m.laboratory.location or "—"),
            ("analyst", ", ".join(p.name for p in m.analysts) or "—"),
            ("reviewer", ", ".join(p.name for p in m.reviewers) or "—"),
        ])

    def conclusion(self) -> None:
        m, c = self.model, self.model.conclusion
        self.heading("h_conclusion")
        for w in self.words:
            align = "R" if w.rtl else "L"
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
                                value=_quantity(row)), align=align)
            self.pdf.ln(1)
        self.line(self.plain("h_limitations"), bold=True)
        for key in ("limit_isomers", "limit_not_identified", "limit_items_tested"):
            self.statement(key)
        if c.limitations or c.ambiguities:
            self.line(self.plain("analysis_notes"), bold=True)
            for note in (*c.limitations, *c.ambiguities):
                self.line(f"• {note}")
        if m.deviations:
            self.line(self.plain("deviations"), bold=True)
            for note in m.deviations:
                self.line(f"• {note}")

    def item(self) -> None:
        it = self.model.item
        self.heading("h_item")
        self.pairs([
            ("description", it.description), ("packaging", it.packaging),
            ("seals", ", ".join(it.seal_numbers) or "—"), ("condition", it.condition),
            ("item_count", str(it.item_count) if it.item_count is not None else "—"),
            ("gross_weight", it.gross_weight), ("net_weight", it.net_weight),
            ("received_from", it.received_from), ("received_by", it.received_by),
            ("date_received", _when(it.received_at)),
        ])

    def method(self) -> None:
        m, ins = self.model, self.model.instrument
        self.heading("h_method")
        self.statement("technique_statement")
        instrument = " ".join(x for x in (ins.instrument_id, ins.model) if x) or "—"
        if ins.serial:
            instrument += f" (S/N {ins.serial})"
        qa = self.plain(f"qa_{ins.qa_status.replace(' ', '_')}")
        self.pairs([
            ("technique", m.technique), ("instrument", instrument), ("column", ins.column),
            ("ionization", ins.ionization), ("method_file", ins.method),
            ("tune_file", ins.tune_file), ("qa_status", qa),
        ])
        for line in ins.qa_summary:
            self.line(f"• {line}", size=self.s.small_pt + 0.5)
        mono_rows = [
            ("software", f"{m.software} {m.software_version}".strip()),
            ("library", f"{m.library_name or '—'}"),
            ("library_sha256", m.library_sha256 or "—"),
            ("criteria_profile", m.criteria_profile or "—"),
            ("criteria_sha256", m.criteria_sha256 or "—"),
        ]
        if ins.method_sha256:
            mono_rows.append(("method_sha256", ins.method_sha256))
        self.pairs(mono_rows, mono_values=True)

    def results(self) -> None:
        m = self.model
        self.heading("h_results")
        if not m.findings:
            self.statement("no_components")
            return
        header = [self.plain(k) for k in ("col_sample", "col_rt", "col_ri", "col_substance",
                                          "col_mf", "col_rmf", "col_dri", "col_drt",
                                          "col_verdict")]
        rows = []
        for f in m.findings:
            hit = f.top_hit
            rows.append([
                f.sample_id, _num(f.rt_s / 60.0 if f.rt_s is not None else None, 3),
                _num(f.retention_index), f.substance or (hit.name if hit else "—"),
                _num(hit.match_factor if hit else None),
                _num(hit.reverse_match_factor if hit else None),
                _num(f.delta_ri if f.delta_ri is not None else
                     (hit.delta_ri if hit else None), 1),
                _num(f.delta_rt_s, 1), self.plain(_verdict_key(f.verdict)),
            ])
        self.table(header, rows, (12, 9, 8, 24, 7, 7, 8, 8, 17), size=self.s.small_pt + 0.5)
        self.line(self.plain("results_legend"), size=self.s.small_pt)

    def chromatograms(self) -> None:
        from gcms.report.charts import chromatogram_figure, png_bytes

        if not self.model.chromatograms:
            return
        self.heading("h_chromatograms", keep_mm=85.0)
        for i, chrom in enumerate(self.model.chromatograms):
            key = f"chromatogram {i}"
            if key not in self.figures:
                self.figures[key] = png_bytes(chromatogram_figure(chrom))
            self.figure(self.figures[key], 7.0 / 2.9,
                        self.plain("chromatogram_caption", label=chrom.label))

    def figure(self, png: bytes, aspect: float, caption: str) -> None:
        pdf = self.pdf
        width = pdf.w - pdf.l_margin - pdf.r_margin
        height = width / aspect
        if pdf.get_y() + height + 10 > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.image(io.BytesIO(png), x=pdf.l_margin, w=width, h=height)
        self.line(caption, size=self.s.small_pt)
        pdf.ln(1.5)

    def spectra(self) -> None:
        from gcms.report.charts import head_to_tail_figure, png_bytes

        found = [f for f in self.model.identified_findings if f.spectrum is not None]
        if not found and not self.model.identified_findings:
            return
        self.heading("h_evidence", keep_mm=110.0)
        for i, f in enumerate(self.model.identified_findings):
            self.finding(f)
            if f.spectrum is None:
                continue
            refs = [r for r in (f.library_spectrum, f.reference_spectrum) if r is not None]
            panels = max(len(refs), 1)
            key = f"spectra {i}"
            if key not in self.figures:
                self.figures[key] = png_bytes(
                    head_to_tail_figure(f.spectrum, refs, title=f.substance or ""))
            self.figure(self.figures[key], 7.0 / (2.1 * panels),
                        self.plain("spectra_caption", substance=f.substance or "—"))

    def finding(self, f: ComponentFinding) -> None:
        pdf = self.pdf
        if pdf.get_y() > pdf.h - 70:
            pdf.add_page()
        names = " / ".join(w.substance(f.substance or "—") for w in self.words)
        rt = f"{f.rt_s / 60.0:.3f} min" if f.rt_s is not None else "—"
        self.line(f"{names} — {f.sample_id}, {rt}", bold=True, height=5.0)
        if f.hits:
            header = [self.plain(k) for k in ("col_rank", "col_library_entry", "col_mf",
                                              "col_rmf", "col_prob", "col_dri")]
            rows = [[str(h.rank), h.name, _num(h.match_factor), _num(h.reverse_match_factor),
                     _num(h.probability, 1), _num(h.delta_ri, 1)] for h in f.hits[:5]]
            self.table(header, rows, (6, 40, 8, 8, 9, 9), size=self.s.small_pt + 0.5)
        if f.criteria:
            header = [self.plain(k) for k in ("col_criterion", "col_value", "col_limit",
                                              "col_result")]
            rows = [[self.criterion_name(c.name), c.value, c.limit,
                     self.plain(f"result_{c.result.replace(' ', '_')}")] for c in f.criteria]
            self.table(header, rows, (30, 22, 30, 14), size=self.s.small_pt + 0.5)
        if f.reference_run:
            self.line(self.plain("reference_run", run=f.reference_run), size=self.s.small_pt)
        for note in f.notes:
            self.line(f"• {note}", size=self.s.small_pt + 0.5)

    def criterion_name(self, name: str) -> str:
        key = "criterion_" + re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
        if key in self.words[0].text:
            return self.plain(key)
        return name

    def quantitation(self) -> None:
        rows = self.model.quantitation
        if not rows:
            return
        self.heading("h_quantitation")
        header = [self.plain(k) for k in ("col_sample", "col_substance", "col_status",
                                          "col_result_value", "col_purity")]
        table = []
        for r in rows:
            purity = "—"
            if r.purity_percent is not None:
                purity = f"{r.purity_percent:.1f} %"
                if r.purity_expanded_uncertainty is not None:
                    purity += f" ± {r.purity_expanded_uncertainty:.1f} %"
            table.append([r.sample_id, r.substance, r.status, _quantity(r), purity])
        self.table(header, table, (14, 22, 14, 30, 20), size=self.s.small_pt + 0.5)
        self.statement("uncertainty_statement")

    def quality_control(self) -> None:
        runs = self.model.qc_runs
        self.heading("h_qc")
        if not runs:
            self.statement("no_qc_runs")
            return
        header = [self.plain(k) for k in ("col_sample", "col_kind", "col_acquired",
                                          "col_outcome", "col_summary")]
        rows = [[r.sample_id, self.plain(f"kind_{r.kind}") if f"kind_{r.kind}" in
                 self.words[0].text else r.kind, _when(r.acquired_at),
                 self.plain(f"result_{r.outcome.replace(' ', '_')}"), r.summary or "—"]
                for r in runs]
        self.table(header, rows, (13, 11, 16, 10, 50), size=self.s.small_pt + 0.5)

    def custody(self) -> None:
        m = self.model
        self.heading("h_custody")
        if m.transfers:
            header = [self.plain(k) for k in ("col_when", "col_from", "col_to", "col_purpose",
                                              "col_seal")]
            rows = [[_when(t.at), t.from_party, t.to_party, t.purpose or "—",
                     "—" if t.seal_intact is None else
                     self.plain("seal_intact" if t.seal_intact else "seal_broken")]
                    for t in m.transfers]
            self.table(header, rows, (18, 22, 22, 22, 16), size=self.s.small_pt + 0.5)
        else:
            self.statement("no_transfers")
        self.line(self.plain("h_evidence_files"), bold=True)
        self.statement("hash_statement")
        header = [self.plain(k) for k in ("col_sample", "col_kind", "col_file", "col_sha256")]
        rows = []
        for e in m.evidence:
            rows.append([e.label, e.kind, e.path, e.sha256])
            shown = e.files[: self.s.max_files_per_folder] if len(e.files) > 1 else ()
            for path, digest, _ in shown:
                rows.append(["", "", f"  {path}", digest])
            if len(e.files) > self.s.max_files_per_folder:
                rows.append(["", "", self.plain(
                    "more_files", count=len(e.files) - self.s.max_files_per_folder), ""])
        if rows:
            self.table(header, rows, (10, 8, 30, 52), mono=(3,), size=self.s.small_pt - 0.5)
        if m.chain_head is not None:
            self.line(self.plain("chain_head", seq=m.chain_head[0], sha256=m.chain_head[1]),
                      size=self.s.small_pt)
        if m.audit:
            self.line(self.plain("h_audit"), bold=True)
            header = [self.plain(k) for k in ("col_seq", "col_when", "col_actor",
                                              "col_action", "col_object")]
            rows = [[str(a.seq), _when(a.at), a.actor, a.action, a.object] for a in m.audit]
            self.table(header, rows, (7, 18, 14, 20, 41), size=self.s.small_pt)
        if m.source:
            self.line(self.plain("source", source=m.source), size=self.s.small_pt)

    def signatures(self) -> None:
        m = self.model
        self.heading("h_signatures")
        self.statement("signature_statement")
        if m.signatures:
            header = [self.plain(k) for k in ("col_name", "col_meaning", "col_when",
                                              "col_kind", "col_key")]
            rows = [[s.printed_name, self.plain(f"meaning_{s.meaning}"), _when_seconds(
                s.signed_at), self.plain("sig_pdf" if s.kind == "pdf" else "sig_store"),
                (s.key_fingerprint or "—")[:16]] for s in m.signatures]
            self.table(header, rows, (24, 18, 20, 22, 16), size=self.s.small_pt + 0.5)
        else:
            self.statement("unsigned")
        pdf = self.pdf
        pdf.ln(2)
        roles = [("analyst", m.analysts), ("reviewer", m.reviewers)]
        for key, people in roles:
            names = ", ".join(p.name for p in people) or "—"
            self.line(f"{self.plain(key)}: {names}", bold=True, height=5.0)


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


def _when_seconds(value: str) -> str:
    text = re.sub(r"(:\d{2})\.\d+", r"\1", value).replace("T", " ").replace("Z", " UTC")
    return text if "UTC" in text or "+" in text else text + " UTC"


def _verdict_key(verdict: str) -> str:
    return "verdict_" + verdict.replace(" ", "_")


def _quantity(row) -> str:
    if row.concentration is None:
        return row.status
    text = f"{row.concentration:.3g} {row.unit}".strip()
    if row.expanded_uncertainty is not None:
        k = f", k = {row.coverage_factor:g}" if row.coverage_factor else ""
        text = f"{row.concentration:.3g} ± {row.expanded_uncertainty:.2g} {row.unit}{k}"
    return text


def _words(languages: Sequence[str], translations) -> list[Wording]:
    if isinstance(languages, str):
        languages = [x.strip() for x in languages.split(",") if x.strip()]
    if not languages:
        raise GcmsError("report: no language given")
    return [load_wording(lang, directory=translations) for lang in languages]


def render_pdf(model: ReportModel, *, languages: Sequence[str] | str = ("en",),
               translations=None, settings: PdfSettings | None = None,
               attachment: bytes | None = None) -> bytes:
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

    The same model, languages and fonts give the same bytes.
    """
    from gcms.report.jsonout import report_json_bytes

    settings = settings or PdfSettings()
    words = _words(languages, translations)
    if attachment is None:
        attachment = report_json_bytes(model)
    figures: dict[str, bytes] = {}
    first = _Report(model, words, settings, None, attachment, figures)
    first.build()
    total = first.pdf.page_no()
    final = _Report(model, words, settings, total, attachment, figures)
    data = final.build()
    if final.pdf.page_no() != total:  # the footer never changes the flow; say so if it did
        raise GcmsError(f"report {model.report_id}: page count changed between layout "
                        f"passes ({total} then {final.pdf.page_no()})")
    return data
