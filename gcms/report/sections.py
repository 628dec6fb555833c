"""The sections of the PDF report, one function each, in the order they are printed.

Each section takes the :class:`~gcms.report.layout.PdfLayout` of the pass and draws what
the report model states (ISO/IEC 17025 §7.8.2 and §7.8.3): title, summary, conclusion
with its limitations, the item as received, method (with what each verdict rests on),
results, chromatograms, spectra and criteria, quantitation, quality control, custody and
evidence files, signatures, and the end-of-report mark. How values are printed (times
in UTC, amounts with their uncertainty per the GUM) is here too; how they are laid out
(languages, direction, tables, pages) is the layout's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import PurePath

from gcms.report.i18n import Wording
from gcms.report.layout import MUTED_RGB, WITHHELD_RGB, PdfLayout
from gcms.report.model import ComponentFinding, Person, QuantitationRow

__all__ = ["SECTIONS", "draw_report"]

#: Height of one head-to-tail panel (inches; the figure is 7 in wide).
_SPECTRUM_PANEL_IN = 1.75
#: The uncertainty basis the quantitation step records (gcms.quantitation.quantity).
_REGRESSION_BASIS = ("standard error of inverse prediction from the calibration regression "
                     "(k = 1)")
_NOT_IDENTIFIED_NOTE = re.compile(r"^\W*not identified\W*\s+does not mean absent", re.I)


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


def _restates_not_identified(note: str) -> bool:
    """Whether an analysis note is the "'not identified' is not absent" limitation."""
    return bool(_NOT_IDENTIFIED_NOTE.match(note))


def title(doc: PdfLayout) -> None:
    """The first page, opened with the title in each language, on its own line."""
    pdf = doc.pdf
    pdf.add_page()
    for w in doc.words:  # the title in each language, on its own line
        doc.line(w("title"), bold=True, size=doc.s.title_pt, height=7.0,
                 align="R" if w.rtl else "L")
    pdf.ln(1)


def summary(doc: PdfLayout) -> None:
    """The summary block: report, case, exhibit, customer, dates, location, people."""
    m = doc.model
    analysed = _when(m.analysed_from)
    if m.analysed_to and _when(m.analysed_to) != analysed:
        analysed = f"{analysed} – {_when(m.analysed_to)}"
    customer = m.item.submitting_agency or "—"
    if m.item.agency_reference:
        customer = f"{customer} ({m.item.agency_reference})"
    doc.keep_together("summary", lambda: doc.pairs([
        ("report_id", m.report_id), ("case", m.case_id), ("exhibit", m.exhibit_id),
        ("customer", customer), ("date_received", _when(m.item.received_at)),
        ("dates_analysed", analysed), ("date_issued", _when(m.issued_at)),
        ("location", m.laboratory.location_in(doc.words[0].language) or "—"),
        ("analyst", _people(m.named_analysts)),
        ("reviewer", _people(m.named_reviewers)),
        *([("approver", _people(m.named_approvers))] if m.named_approvers else []),
        ("processed_by", _people(m.processed_by)),
    ]))


def quantity_text(doc: PdfLayout, row: QuantitationRow, w: Wording) -> str:
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
        parts.append(coverage_short(doc, row, w))
    return w("list_separator").join(parts)


def coverage_short(doc: PdfLayout, row: QuantitationRow, w: Wording) -> str:
    """The coverage factor (and its level of confidence) in the words of ``w``."""
    k = f"{row.coverage_factor:.2f}"
    if row.confidence_percent is not None:
        return w("k_level", k=k, level=f"{row.confidence_percent:g}")
    return w("k_only", k=k)


def conclusion(doc: PdfLayout) -> None:
    """The conclusion: what was identified, amounts, limitations, notes."""
    m, c = doc.model, doc.model.conclusion
    doc.heading("h_conclusion")
    for w in doc.words:
        align = "R" if w.rtl else "L"
        if m.withheld:
            doc.line(w("withheld_banner"), bold=True, align=align, color=WITHHELD_RGB)
            for reason in m.withheld:
                doc.line(f"• {reason}", align=align, color=WITHHELD_RGB)
            doc.pdf.ln(1)
        if c.identified:
            doc.line(w("identified", exhibit=m.exhibit_id,
                       substances=doc.substances(c.identified, w)), bold=True,
                     align=align)
        else:
            doc.line(w("none_identified", exhibit=m.exhibit_id), bold=True, align=align)
        if c.inconclusive:
            doc.line(w("inconclusive", substances=doc.substances(c.inconclusive, w)),
                     align=align)
        doc.line(w("others_not_detected"), align=align)
        for row in m.quantitation:
            if row.reportable and row.concentration is not None:
                doc.line(w("quantity_line", substance=w.substance(row.substance),
                           value=quantity_text(doc, row, w)), align=align)
        doc.pdf.ln(1)
    doc.subheading("h_limitations")
    for key in ("limit_isomers", "limit_not_identified", "limit_items_tested"):
        doc.statement(key)
    # the analysis's own notes, less the general limitation stated just above
    notes = [n for n in dict.fromkeys((*c.limitations, *c.ambiguities))
             if not _restates_not_identified(n)]
    if notes:
        doc.subheading("analysis_notes")
        for note in notes:
            doc.note(note)
    if m.deviations:
        doc.subheading("deviations")
        for note in m.deviations:
            doc.note(note)


def item(doc: PdfLayout) -> None:
    """The item as received: description, seals, weights, from whom."""
    it = doc.model.item
    rows = [
        ("description", it.description), ("packaging", it.packaging),
        ("seals", ", ".join(it.seal_numbers) or "—"), ("condition", it.condition),
        ("item_count", str(it.item_count) if it.item_count is not None else "—"),
        ("gross_weight", it.gross_weight), ("net_weight", it.net_weight),
        ("received_from", it.received_from), ("received_by", it.received_by),
    ]
    recorded = any(v not in (None, "", "—") for _, v in rows) or it.received_at

    def draw() -> None:
        doc.heading("h_item", keep_mm=0.0)
        if not recorded:
            doc.statement("item_not_recorded")
        doc.pairs(rows)

    doc.keep_together("item", draw)


def method(doc: PdfLayout) -> None:
    """The method: technique, instrument, library, criteria, software."""
    m, ins = doc.model, doc.model.instrument
    instrument = " ".join(x for x in (ins.instrument_id, ins.model) if x) or "—"
    if ins.serial:
        instrument += f" (S/N {ins.serial})"
    qa = doc.plain(f"qa_{ins.qa_status.replace(' ', '_')}")
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
        doc.heading("h_method", keep_mm=0.0)
        doc.statement("technique_statement")
        doc.pairs([
            ("technique", m.technique), ("instrument", instrument), ("column", ins.column),
            ("ionization", ins.ionization), ("method_file", ins.method),
            ("tune_file", ins.tune_file), ("qa_status", qa),
        ])
        for line in ins.qa_summary:
            doc.note(line, size=doc.s.small_pt + 0.5)
        doc.pairs(mono_rows, mono_values=True)

    doc.keep_together("method", draw)
    doc.keep_together("method evidence", lambda: method_evidence(doc))
    if m.dependencies or m.python:
        w = doc.words[0]  # one language: the list is the same in every one
        doc.line(w("software_versions", gcms=m.software_version or "—",
                   python=m.python or "—"),
                 size=doc.s.small_pt - 0.5, color=MUTED_RGB, align="R" if w.rtl else "L")
        # package names and versions: one left-to-right paragraph in any language
        doc.line(", ".join(f"{name} {version}" for name, version in m.dependencies)
                 or "—", size=doc.s.small_pt - 0.5, color=MUTED_RGB, align="L")


def method_evidence(doc: PdfLayout) -> None:
    """What each substance's verdict rests on, technique by technique (SWGDRUG IIIB).

    Generated from the criteria each identification actually evaluated
    (:attr:`ComponentFinding.evidence_used`): a reference standard or an alkane
    ladder is named only where the verdict used one.
    """
    found = [f for f in doc.model.findings
             if f.verdict in ("identified", "inconclusive") and f.substance]
    doc.subheading("h_method_evidence")
    if not found:
        doc.statement("method_no_substance", size=doc.s.small_pt + 0.5)
        return
    header = [doc.label(k) for k in ("col_substance", "col_technique", "col_compared",
                                     "col_category")]
    rows = []
    for f in found:
        used = f.evidence_used
        name = "\n".join(dict.fromkeys(w.substance(f.substance) for w in doc.words))
        name += f"\n{f.sample_id}"
        ms, gc = [], []
        for w in doc.words:
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
        rows.append([name, doc.cell("tech_ms"), "\n".join(dict.fromkeys(ms)), "A"])
        retention = any(k in used for k in ("standard retention time",
                                            "ladder retention index"))
        rows.append(["", doc.cell("tech_gc"), "\n".join(dict.fromkeys(gc)),
                     "B" if retention else "—"])
    doc.table(header, rows, (20, 19, 47, 14), size=doc.s.small_pt + 0.5)


def results(doc: PdfLayout) -> None:
    """Every component found, with its best library hit and its verdict."""
    m = doc.model
    if not m.findings:
        doc.heading("h_results")
        doc.statement("no_components")
        return
    header = [doc.label(k) for k in ("col_sample", "col_rt", "col_ri", "col_substance",
                                     "col_mf", "col_rmf", "col_dri", "col_drt",
                                     "col_verdict")]
    rows, muted = [], []
    for f in m.findings:
        hit = f.top_hit
        if f.verdict == "not identified":
            # its best hit is no identification: named only as such, greyed
            best = doc.cell("best_hit", name=hit.name, mf=_num(hit.match_factor)) \
                if hit is not None else ""
            substance = "\n".join(x for x in (doc.cell("no_library_match"), best) if x)
            rows.append([f.sample_id, _num(f.rt_s / 60.0 if f.rt_s is not None else None, 3),
                         _num(f.retention_index), substance, "—", "—", "—", "—",
                         doc.cell(_verdict_key(f.verdict))])
            muted.append((3,))
            continue
        rows.append([
            f.sample_id, _num(f.rt_s / 60.0 if f.rt_s is not None else None, 3),
            _num(f.retention_index), f.substance or "—",
            _num(hit.match_factor if hit else None),
            _num(hit.reverse_match_factor if hit else None),
            _num(f.delta_ri if f.delta_ri is not None else
                 (hit.delta_ri if hit else None), 1),
            _num(f.delta_rt_s, 2), doc.cell(_verdict_key(f.verdict)),
        ])
        muted.append(())

    def draw() -> None:
        doc.heading("h_results", keep_mm=0.0)
        doc.table(header, rows, (12, 9, 8, 26, 7, 7, 8, 8, 15),
                  size=doc.s.small_pt + 0.5, muted=muted)
        doc.statement("results_legend", size=doc.s.small_pt)

    doc.keep_together("results", draw)


def chromatograms(doc: PdfLayout) -> None:
    """The chromatograms of the exhibit's runs, one figure each."""
    from gcms.report.charts import chromatogram_figure, png_bytes

    if not doc.model.chromatograms:
        return
    for i, chrom in enumerate(doc.model.chromatograms):
        key = f"chromatogram {i}"
        if key not in doc.figures:
            doc.figures[key] = png_bytes(chromatogram_figure(chrom))

        def draw(i=i, key=key, chrom=chrom) -> None:
            if i == 0:
                doc.heading("h_chromatograms", keep_mm=0.0)
            doc.figure(doc.figures[key], 7.0 / 2.9, "chromatogram_caption",
                       label=chrom.label)

        doc.keep_together(key, draw)


def spectra(doc: PdfLayout) -> None:
    """For each identified component: its hits, criteria and head-to-tail spectra."""
    from gcms.report.charts import head_to_tail_figure, panel_labels, png_bytes

    found = doc.model.identified_findings
    if not found:
        return
    for i, f in enumerate(found):
        refs = [r for r in (f.library_spectrum, f.reference_spectrum) if r is not None]
        key = f"spectra {i}"
        if f.spectrum is not None and key not in doc.figures:
            figure = head_to_tail_figure(f.spectrum, refs, title=f.substance or "",
                                         panel_height_in=_SPECTRUM_PANEL_IN, labels=False)
            doc.figures[key] = png_bytes(figure)
            doc.figures[key + " labels"] = panel_labels(figure)
        caption = ("spectra_caption" if f.library_spectrum and f.reference_spectrum else
                   "spectra_caption_library" if f.library_spectrum else
                   "spectra_caption_reference" if f.reference_spectrum else
                   "spectra_caption_alone")

        def hits(i=i, f=f) -> None:
            if i == 0:
                doc.heading("h_evidence", keep_mm=0.0)
            finding_hits(doc, f)

        def spectra(f=f, key=key, refs=refs, caption=caption) -> None:
            if f.spectrum is not None:
                doc.figure(doc.figures[key],
                           7.0 / (_SPECTRUM_PANEL_IN * max(len(refs), 1)), caption,
                           labels=spectrum_labels(doc, f, refs, doc.figures[
                                key + " labels"]), substance=f.substance or "—")

        def everything(f=f, hits=hits, spectra=spectra) -> None:
            hits()
            finding_criteria(doc, f)
            spectra()

        def apart(i=i, f=f, hits=hits, spectra=spectra) -> None:
            # too tall for one page (two languages): its parts kept whole each,
            # following one another without leaving a page half empty
            doc.keep_together(f"hits {i}", hits)
            doc.keep_together(f"criteria {i}", lambda: finding_criteria(doc, f))
            spectra()

        doc.keep_together(f"evidence {i}", everything, fallback=apart)


def spectrum_labels(doc: PdfLayout, f: ComponentFinding, refs, anchors) -> list[tuple]:
    """The head-to-tail panels' labels in the report's first language."""
    w = doc.words[0]
    rt = f"{f.rt_s / 60.0:.2f} min" if f.rt_s is not None else "—"
    entry = f.top_hit.name if f.top_hit else (f.substance or "—")
    texts = [w("plot_sample", sample=f.sample_id, rt=rt)]
    for trace in refs:
        texts.append(w("plot_library", entry=entry) if trace is f.library_spectrum
                     else w("plot_standard", run=f.reference_run or "—",
                            substance=f.substance or "—"))
    return [(a, texts[a.trace], a.trace == 0) for a in anchors if a.trace < len(texts)]


def finding_hits(doc: PdfLayout, f: ComponentFinding) -> None:
    """The component's title line and its library hits."""
    names = " / ".join(dict.fromkeys(w.substance(f.substance or "—") for w in doc.words))
    rt = f"{f.rt_s / 60.0:.3f} min" if f.rt_s is not None else "—"
    doc.line(f"{names} — {f.sample_id}, {rt}", bold=True, height=5.0)
    if f.hits:
        header = [doc.label(k) for k in ("col_rank", "col_library_entry", "col_mf",
                                         "col_rmf", "col_prob", "col_dri")]
        rows = [[str(h.rank), h.name, _num(h.match_factor), _num(h.reverse_match_factor),
                 _num(h.probability, 1), _num(h.delta_ri, 1)] for h in f.hits[:5]]
        doc.table(header, rows, (6, 40, 8, 8, 9, 9), size=doc.s.small_pt + 0.5)


def finding_criteria(doc: PdfLayout, f: ComponentFinding) -> None:
    """Every criterion (value, limit, result, the step's own sentence) and notes."""
    if f.criteria:
        header = [doc.label(k) for k in ("col_criterion", "col_value", "col_limit",
                                         "col_result")]
        rows = [[criterion_name(doc, c.name), c.value, c.limit, criterion_result(doc, c)]
                for c in f.criteria]
        doc.table(header, rows, (53, 18, 14, 15), size=doc.s.small_pt + 0.5,
                  details=[criterion_detail(doc, c) for c in f.criteria])
    if f.reference_run:
        doc.statement("reference_run", run=f.reference_run, size=doc.s.small_pt)
    for note in f.notes:
        doc.note(note, size=doc.s.small_pt + 0.5)


def criterion_detail(doc: PdfLayout, c) -> str | None:
    """What the criterion compared, in each language of the report.

    Worded from the criterion's facts (:attr:`Criterion.sentence`); a criterion the
    adapter could not word keeps the identification step's English sentence.
    """
    if c.sentence and c.sentence in doc.words[0].text:
        return "\n".join(dict.fromkeys(w(c.sentence, **c.values) for w in doc.words))
    return c.note


def criterion_name(doc: PdfLayout, name: str) -> str:
    """A criterion's name in the report's languages (as recorded when unknown)."""
    key = "criterion_" + re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")
    if key in doc.words[0].text:
        return doc.cell(key)
    return name.replace("_", " ")


def criterion_result(doc: PdfLayout, c) -> str:
    """A criterion's result in the report's languages (marked when supporting)."""
    key = f"result_{c.result.replace(' ', '_')}"
    supporting = c.decisive is False
    return "\n".join(dict.fromkeys(
        f"{w(key)} {w('result_supporting')}" if supporting else w(key) for w in doc.words))


def quantitation(doc: PdfLayout) -> None:
    """Amounts with their expanded uncertainty, and how each was found."""
    rows = doc.model.quantitation
    if not rows:
        return
    header = [doc.label(k) for k in ("col_sample", "col_substance", "col_status",
                                     "col_in_solution", "col_in_exhibit", "col_k")]
    table = []
    for r in rows:
        w = doc.words[0]
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
        status = doc.cell("qstatus_" + r.status.replace(" ", "_")) \
            if "qstatus_" + r.status.replace(" ", "_") in w.text else r.status
        if not r.reportable and r.status != "not reportable":
            status += "\n" + doc.cell("not_reportable")
        table.append([r.sample_id, w.substance(r.substance) if not doc.bilingual
                      else r.substance, status, solution, "\n".join(exhibit) or "—", k])
    statements = []
    for r in rows:
        if r.coverage_factor:
            statements.append(r)

    def draw() -> None:
        doc.heading("h_quantitation", keep_mm=0.0)
        doc.table(header, table, (12, 18, 16, 20, 24, 8), size=doc.s.small_pt + 0.5)
        for r in statements:
            for w in doc.words:
                basis = (w("basis_regression") if r.basis == _REGRESSION_BASIS
                         else r.basis or "—")
                k = f"{r.coverage_factor:.2f}"
                coverage = (w("coverage_student", k=k, dof=r.degrees_of_freedom,
                              level=f"{r.confidence_percent:g}")
                            if r.degrees_of_freedom is not None
                            and r.confidence_percent is not None
                            else w("coverage_set", k=k))
                doc.line(w("uncertainty_statement", substance=w.substance(r.substance),
                           sample=r.sample_id, basis=basis, coverage=coverage),
                         align="R" if w.rtl else "L", size=doc.s.small_pt + 0.5)
        quantitation_method(doc, rows)
        for r in rows:
            if r.message:
                doc.note(f"{r.sample_id}, {r.substance}: {r.message}",
                         size=doc.s.small_pt + 0.5)

    doc.keep_together("quantitation", draw)


def quantitation_method(doc: PdfLayout, rows: Sequence[QuantitationRow]) -> None:
    """The method (name, version, SHA-256) and each calibration behind the amounts."""
    size = doc.s.small_pt + 0.5
    methods = dict.fromkeys((r.method_name, r.method_version, r.method_sha256)
                            for r in rows if r.method_name)
    calibrations = {r.substance: r for r in rows if r.calibration_model or r.loq}
    for w in doc.words:
        align = "R" if w.rtl else "L"
        for name, version, sha256 in methods:
            doc.line(w("quant_method", name=name, version=version or "—",
                       sha256=sha256 or "—"), align=align, size=size)
        for substance, r in calibrations.items():
            model = r.calibration_model or "—"
            key = f"model_{model}"
            weighting = r.weighting or "—"
            doc.line(w("quant_calibration", substance=w.substance(substance),
                       model=w(key) if key in w.text else model.replace("_", " "),
                       weighting=w("weighting_none") if weighting == "none" else weighting,
                       low=_quantity(r.range_low, r.unit), high=_quantity(r.range_high,
                                                                            r.unit),
                       loq=_quantity(r.loq, r.unit),
                       internal_standard=r.internal_standard or w("no_internal_standard")),
                     align=align, size=size)


def quality_control(doc: PdfLayout) -> None:
    """The QC runs the verdicts used (blanks, standards), then the others."""
    runs = doc.model.qc_runs
    if not runs:
        doc.heading("h_qc")
        doc.statement("no_qc_runs")
        return
    used = [r for r in runs if r.uses]
    others = [r for r in runs if not r.uses]

    def kind(r) -> str:
        return doc.cell(f"kind_{r.kind}") if f"kind_{r.kind}" in doc.words[0].text \
            else r.kind

    def outcome(r) -> str:
        return doc.cell(f"qc_{r.outcome.replace(' ', '_')}")

    def uses(r) -> str:
        return "\n".join(doc.cell("use_" + u.replace(" ", "_")) for u in r.uses)

    def summary(r) -> str:
        return "\n".join(dict.fromkeys(qc_summary(doc, r, w) for w in doc.words))

    def draw_used() -> None:
        doc.heading("h_qc", keep_mm=0.0)
        doc.subheading("h_qc_used")
        if not used:
            doc.statement("no_qc_used")
            return
        header = [doc.label(k) for k in ("col_sample", "col_kind", "col_acquired",
                                         "col_used_for", "col_outcome", "col_summary")]
        rows = [[r.sample_id, kind(r), _when(r.acquired_at), uses(r), outcome(r),
                 summary(r)] for r in used]
        doc.table(header, rows, (10, 12, 19, 21, 9, 29), size=doc.s.small_pt + 0.5)

    doc.keep_together("qc used", draw_used)
    if others:
        def draw_others() -> None:
            doc.subheading("h_qc_other")
            doc.statement("qc_other_statement", size=doc.s.small_pt)
            header = [doc.label(k) for k in ("col_sample", "col_kind", "col_acquired",
                                             "col_outcome", "col_summary")]
            rows = [[r.sample_id, kind(r), _when(r.acquired_at), outcome(r),
                     summary(r)] for r in others]
            doc.table(header, rows, (11, 12, 19, 9, 49), size=doc.s.small_pt + 0.5)

        doc.keep_together("qc other", draw_others)


def qc_summary(doc: PdfLayout, r, w: Wording) -> str:
    """What a QC run showed, in the words of ``w``: its facts, not its English summary."""
    if r.problem:
        return r.problem
    if r.kind == "blank":
        return (w("qc_identified", substances=doc.substances(r.found, w)) if r.found
                else w("qc_blank_clean"))
    if r.kind in ("standard", "qc"):
        parts = [w("qc_found", substances=doc.substances(r.found, w)) if r.found
                 else w("qc_none_found")]
        if r.missing:
            parts.append(w("qc_missing", substances=doc.substances(r.missing, w)))
        if r.recovery_percent is not None and r.recovery_tolerance_percent is not None:
            parts.append(w("qc_recovery", value=f"{r.recovery_percent:.1f}",
                           tolerance=f"{r.recovery_tolerance_percent:g}"))
        return w("list_separator").join(parts)
    return r.summary or "—"


def custody(doc: PdfLayout) -> None:
    """Custody transfers, evidence files with their SHA-256, chain head and audit."""
    m = doc.model

    def transfers() -> None:
        doc.heading("h_custody", keep_mm=0.0)
        if m.transfers:
            header = [doc.label(k) for k in ("col_when", "col_from", "col_to",
                                             "col_purpose", "col_seal")]
            rows = [[_when(t.at), t.from_party, t.to_party, t.purpose or "—",
                     "—" if t.seal_intact is None else
                     doc.cell("seal_intact" if t.seal_intact else "seal_broken")]
                    for t in m.transfers]
            doc.table(header, rows, (18, 22, 22, 22, 16), size=doc.s.small_pt + 0.5)
        else:
            doc.statement("no_transfers")

    folders = {str(PurePath(e.path).parent) for e in m.evidence}
    common = folders.pop() if len(folders) == 1 else None

    def files() -> None:
        doc.subheading("h_evidence_files")
        doc.statement("hash_statement")
        if common is not None:
            doc.statement("evidence_folder", folder=common, size=doc.s.small_pt)
        header = [doc.label(k) for k in ("col_sample", "col_kind", "col_file",
                                         "col_sha256")]
        rows = []
        for e in m.evidence:
            kind = doc.cell(f"kind_{e.kind}") if f"kind_{e.kind}" in doc.words[0].text \
                else e.kind
            rows.append([e.label, kind, PurePath(e.path).name if common else e.path,
                         e.sha256])
            shown = e.files[: doc.s.max_files_per_folder] if len(e.files) > 1 else ()
            for path, digest, _ in shown:
                rows.append(["", "", f"  {path}", digest])
            if len(e.files) > doc.s.max_files_per_folder:
                rows.append(["", "", doc.cell(
                    "more_files", count=len(e.files) - doc.s.max_files_per_folder), ""])
        if rows:
            doc.table(header, rows, (10, 11, 27, 52), mono=(3,),
                      size=doc.s.small_pt - 0.5)

    def apart() -> None:
        doc.keep_together("transfers", transfers)
        doc.keep_together("evidence files", files)

    doc.keep_together("custody", lambda: (transfers(), files()), fallback=apart)
    if m.chain_head is not None:
        doc.statement("chain_head", seq=m.chain_head[0], sha256=m.chain_head[1],
                      size=doc.s.small_pt)
    if m.audit:
        def audit() -> None:
            doc.subheading("h_audit")
            header = [doc.label(k) for k in ("col_seq", "col_when", "col_actor",
                                             "col_action", "col_object")]
            rows = [[str(a.seq), _when(a.at), a.actor, a.action, a.object]
                    for a in m.audit]
            doc.table(header, rows, (7, 18, 14, 20, 41), size=doc.s.small_pt)

        doc.keep_together("audit", audit)
    if m.source:
        doc.statement("source", source=m.source, size=doc.s.small_pt)


def signatures(doc: PdfLayout) -> None:
    """The signatures on the report and who analysed, reviewed and approved it."""
    m = doc.model

    def draw() -> None:
        doc.heading("h_signatures", keep_mm=0.0)
        doc.statement("signature_statement")
        if m.signatures:
            header = [doc.label(k) for k in ("col_name", "col_meaning", "col_when",
                                             "col_kind", "col_key")]
            rows = [[s.printed_name, doc.cell(f"meaning_{s.meaning}"), _when_seconds(
                s.signed_at), doc.cell("sig_pdf" if s.kind == "pdf" else "sig_store"),
                (s.key_fingerprint or "—")[:16]] for s in m.signatures]
            doc.table(header, rows, (24, 18, 20, 22, 16), size=doc.s.small_pt + 0.5)
        else:
            doc.statement("unsigned")
        doc.pdf.ln(2)
        approvers = (("approver", m.named_approvers),) if m.named_approvers else ()
        for key, people in (("analyst", m.named_analysts), ("reviewer", m.named_reviewers),
                            *approvers, ("processed_by", m.processed_by)):
            doc.line(f"{doc.plain(key)}: {_people(people)}", bold=key != "processed_by",
                     height=5.0)

    doc.keep_together("signatures", draw)


def end_of_report(doc: PdfLayout) -> None:
    """The end-of-report mark, in each language (§7.8.2.1 d)."""
    doc.pdf.ln(4)
    for w in doc.words:
        doc.line(w("end_of_report", report_id=doc.model.report_id), bold=True, align="C",
                 height=5.0)


#: The report's sections, in the order printed.
SECTIONS: tuple[Callable[[PdfLayout], None], ...] = (
    title, summary, conclusion, item, method, results, chromatograms, spectra, quantitation,
    quality_control, custody, signatures, end_of_report,
)


def draw_report(doc: PdfLayout) -> None:
    """Draw every section of the report on ``doc``, in order."""
    for section in SECTIONS:
        section(doc)
