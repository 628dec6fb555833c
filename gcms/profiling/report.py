"""Linkage report (PDF, English or Arabic) for a pair or a cluster of stored seizures.

What it shows, in order: the seizures (case, exhibit, date, place, drug, the run each profile
was measured on); the method (name, SHA-256) and the calibration's statement (threshold,
false-positive and false-negative rates with their intervals, and whether it was calibrated
on simulated pairs); the profiles side by side (raw areas, *absent* where a target was not
found, and the compared values) with a bar chart of the compared values; every pair's score
against the threshold; overlaid chromatograms of each target's quantifier ion where the
runs are given; and the limitation: a link is evidence of a common origin, not proof.

Built with fpdf2 and the report package's fonts (:func:`gcms.report.fonts.font_paths`),
right-to-left handling (:func:`gcms.report.layout.bidi_ready`) and figure rendering
(:func:`gcms.report.charts.png_bytes`), as the case reports are.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from gcms.errors import GcmsError
from gcms.profiling.calibrate import LinkCalibration
from gcms.profiling.measure import score_pair
from gcms.profiling.method import ProfilingMethod
from gcms.profiling.store import LIMITATION, ProfileStore
from gcms.run import Run

__all__ = ["WORDS", "linkage_report"]

#: Wording of the report per language.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Impurity profile linkage report",
        "seizures": "Seizures",
        "method": "Profiling method",
        "calibration": "Linkage threshold",
        "no_calibration": "No calibration set for this method: no threshold, no link stated.",
        "profiles": "Profiles side by side (area; compared value)",
        "pairs": "Comparisons",
        "linked": "link",
        "not_linked": "no link",
        "chromatograms": "Target ions, overlaid (each trace scaled to its largest peak)",
        "limitation_head": "Limitation",
        "limitation": LIMITATION,
        "absent": "absent",
        "target": "target",
        "generated": "Generated",
        "store": "Store",
        "case": "case", "exhibit": "exhibit", "date": "date", "place": "place",
        "drug": "drug", "run": "run SHA-256", "score": "score", "threshold": "threshold",
        "simulated": "Calibrated on SIMULATED pairs: replace by the laboratory's own.",
    },
    "ar": {
        "title": "تقرير ربط المضبوطات بواسطة بصمة الشوائب",
        "seizures": "المضبوطات",
        "method": "طريقة التنميط",
        "calibration": "عتبة الربط",
        "no_calibration": "لم تُعايَر هذه الطريقة: لا عتبة ولا ربط.",
        "profiles": "البصمات جنبًا إلى جنب (المساحة؛ القيمة المقارنة)",
        "pairs": "المقارنات",
        "linked": "مرتبط",
        "not_linked": "غير مرتبط",
        "chromatograms": "أيونات المركبات المستهدفة متراكبة",
        "limitation_head": "حدود الاستنتاج",
        "limitation": ("الربط دليل على احتمال وجود مصدر مشترك (دفعة إنتاج واحدة) وليس "
                       "إثباتًا له؛ يُقيَّم مع معدلات الخطأ المذكورة والأدلة الأخرى."),
        "absent": "غير موجود",
        "target": "المركب",
        "generated": "تاريخ الإنشاء",
        "store": "قاعدة البيانات",
        "case": "القضية", "exhibit": "المضبوط", "date": "التاريخ", "place": "المكان",
        "drug": "المخدر", "run": "SHA-256 للحقن", "score": "الدرجة", "threshold": "العتبة",
        "simulated": "عُويرت العتبة على أزواج محاكاة: يجب استبدالها بأزواج المختبر.",
    },
}


def _bar_figure(targets: Sequence[str], values: np.ndarray, labels: Sequence[str]) -> bytes:
    from matplotlib.figure import Figure

    from gcms.report.charts import png_bytes

    figure = Figure(figsize=(7.0, 2.8))
    axes = figure.add_subplot()
    n = len(labels)
    width = 0.8 / max(n, 1)
    x = np.arange(len(targets))
    for i, label in enumerate(labels):
        axes.bar(x + (i - (n - 1) / 2) * width, values[i], width, label=label)
    axes.set_xticks(x, [t if len(t) < 18 else t[:16] + "…" for t in targets], fontsize=7,
                    rotation=20, ha="right")
    axes.set_ylabel("compared value", fontsize=8)
    axes.legend(fontsize=7)
    figure.tight_layout()
    return png_bytes(figure, dpi=160)


def _overlay_figure(method: ProfilingMethod, runs: Mapping[str, Run]) -> bytes:
    from matplotlib.figure import Figure

    from gcms.report.charts import png_bytes

    targets = [t for t in method.profile_targets if t.rt_s is not None]
    figure = Figure(figsize=(7.0, 1.6 * ((len(targets) + 2) // 3)))
    for k, target in enumerate(targets):
        axes = figure.add_subplot((len(targets) + 2) // 3, 3, k + 1)
        for label, run in runs.items():
            t = run.scan_times
            lo, hi = target.rt_s - 3 * target.window_s, target.rt_s + 3 * target.window_s
            keep = (t >= lo) & (t <= hi)
            trace = sum(run.xic(mz, target.mz_tolerance) for mz in target.quantifier_mz)
            trace = np.asarray(trace, dtype=float)[keep]
            top = trace.max() if trace.size and trace.max() > 0 else 1.0
            axes.plot(t[keep] / 60.0, trace / top, linewidth=0.8, label=label)
        axes.set_title(f"{target.name} ({target.signal_label})", fontsize=6)
        axes.tick_params(labelsize=5)
    if targets:
        figure.axes[0].legend(fontsize=5)
    figure.tight_layout()
    return png_bytes(figure, dpi=160)


def linkage_report(store: ProfileStore, method: ProfilingMethod, profile_ids: Sequence[str],
                   path: str | os.PathLike, *, language: str = "en",
                   runs: Mapping[str, Run] | None = None,
                   calibration: LinkCalibration | None = None) -> Path:
    """Write the linkage PDF of two or more stored profiles (a pair or a cluster).

    ``runs`` (profile id -> its run) adds the overlaid target-ion chromatograms.
    ``calibration`` defaults to the method's in the store.

    Raises
    ------
    GcmsError
        Fewer than two profiles, an unknown profile, an unknown language.
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    from gcms.report.fonts import font_paths
    from gcms.report.layout import bidi_ready, has_arabic

    if language not in WORDS:
        raise GcmsError(f"linkage report: no wording for language {language!r} "
                        f"({', '.join(WORDS)})")
    if len(profile_ids) < 2:
        raise GcmsError("linkage report: name two profiles or more")
    w = WORDS[language]
    rtl = language == "ar"
    records = [store.profile_record(pid) for pid in profile_ids]
    calibration = calibration or store.calibration(method)
    values = np.array([r["values"] for r in records])
    targets = records[0]["targets"]

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    fonts = font_paths()
    pdf.add_font("sans", "", fonts["sans"])
    pdf.add_font("sans", "B", fonts["sans_bold"])
    pdf.add_font("naskh", "", fonts["arabic"])
    pdf.add_font("naskh", "B", fonts["arabic_bold"])
    pdf.set_fallback_fonts(["sans"])
    pdf.set_text_shaping(True)
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    align = "R" if rtl else "L"

    def line(text: str, *, bold: bool = False, size: float = 9.5) -> None:
        arabic = has_arabic(text)
        pdf.set_font("naskh" if arabic else "sans", "B" if bold else "",
                     size * (1.15 if arabic else 1.0))
        pdf.set_text_shaping(True, direction="rtl" if arabic else "ltr")
        pdf.multi_cell(0, size * 0.5, bidi_ready(text), align=align, new_x=XPos.LMARGIN,
                       new_y=YPos.NEXT)
        pdf.set_text_shaping(True)

    def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        pdf.set_font("sans", "", 7.5)
        order = (lambda r: list(r)[::-1]) if rtl else list
        with pdf.table(text_align="RIGHT" if rtl else "LEFT", line_height=4.2) as t:
            for i, row in enumerate([header, *rows]):
                cells = t.row()
                for cell in order(row):
                    text = bidi_ready(str(cell))
                    if has_arabic(text):
                        pdf.set_font("naskh", "B" if i == 0 else "", 8)
                    else:
                        pdf.set_font("sans", "B" if i == 0 else "", 7.5)
                    cells.cell(text)
        pdf.ln(2)

    line(w["title"], bold=True, size=14)
    line(f"{w['generated']}: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; "
         f"{w['store']}: {store.location}", size=8)
    pdf.ln(2)
    line(w["seizures"], bold=True, size=11)
    table(["profile", w["case"], w["exhibit"], w["date"], w["place"], w["drug"], w["run"]],
          [[r["profile_id"], r["case_id"] or "-", r["exhibit_id"] or "-",
            r["seized_on"] or "-", r["place"] or "-", r["drug"] or "-",
            (r["run_sha256"] or "-")[:16]] for r in records])
    line(w["method"], bold=True, size=11)
    line(f"{method.name} {method.version}; SHA-256 {method.sha256}; "
         f"{method.profile.normalisation}-normalised, {method.profile.transform}, "
         f"{method.profile.metric}", size=8)
    line(w["calibration"], bold=True, size=11)
    if calibration is None:
        line(w["no_calibration"])
    else:
        line(calibration.statement(), size=8.5)
        if calibration.simulated:
            line(w["simulated"], bold=True, size=8.5)
    pdf.ln(1)
    line(w["profiles"], bold=True, size=11)
    rows = []
    for j, name in enumerate(targets):
        row = [name]
        for r in records:
            area = r["areas"][j]
            row.append(f"{w['absent'] if area is None else f'{area:.4g}'}; "
                       f"{r['values'][j]:.3f}")
        rows.append(row)
    table([w["target"], *[r["profile_id"] for r in records]], rows)
    pdf.image(io.BytesIO(_bar_figure(targets, values, [r["profile_id"] for r in records])),
              w=pdf.epw)
    line(w["pairs"], bold=True, size=11)
    pair_rows = []
    for i in range(len(records)):
        for j in range(i + 1, len(records)):
            score = score_pair(values[i], values[j], method.profile.metric)
            verdict = "-" if calibration is None else (
                w["linked"] if calibration.is_link(score) else w["not_linked"])
            pair_rows.append([records[i]["profile_id"], records[j]["profile_id"],
                              f"{score:.4f}", "-" if calibration is None else
                              f"{calibration.threshold:.4f}", verdict])
    table(["A", "B", w["score"], w["threshold"], ""], pair_rows)
    if runs:
        line(w["chromatograms"], bold=True, size=11)
        pdf.image(io.BytesIO(_overlay_figure(method, runs)), w=pdf.epw)
    pdf.ln(2)
    line(w["limitation_head"], bold=True, size=11)
    line(w["limitation"], size=9.5)
    path = Path(path)
    path.write_bytes(bytes(pdf.output()))
    return path

