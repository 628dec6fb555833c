"""How numbers, times and mixed-direction text are written in a report."""

from __future__ import annotations

import dataclasses
import math

import pytest

from gcms.report import model as report_model
from gcms.report.jsonout import schema
from gcms.report.pdf import _bidi_ready, _pm, _when


def _two_figures(value: float, u: float) -> tuple[str, str]:
    """Independent GUM 7.2.6 rounding: U to two significant figures, x to its place."""
    exponent = math.floor(math.log10(abs(u)))
    places = max(1 - exponent, 0)
    u_text = f"{float(f'{u:.2g}'):.{places}f}"
    if float(u_text) >= 10 ** (exponent + 1):  # 9.96 -> 10: one figure fewer
        places = max(places - 1, 0)
        u_text = f"{float(f'{u:.2g}'):.{places}f}"
    return f"{value:.{places}f}", u_text


@pytest.mark.parametrize("value, u", [(32.80256785576435, 9.180294421740205),
                                      (0.08200641963941088, 0.022950736054350517),
                                      (16.5, 1.2), (2.0623, 0.1437), (1234.5, 96.4),
                                      (5.0, 0.0996), (41.2, 2.9)])
def test_value_and_expanded_uncertainty_rounded_together(value, u):
    x_text, u_text = _two_figures(value, u)
    assert _pm(value, u, "mg") == f"{x_text} ± {u_text} mg"


def test_units_and_missing_uncertainty():
    assert _pm(32.8, 9.18, "ug/mL") == "32.8 ± 9.2 µg/mL"
    assert _pm(0.0438, None, "mg per tablet") == "0.0438 mg per tablet"


def test_times_are_utc_or_say_nothing_of_a_zone():
    assert _when("2024-05-14T10:00:00+00:00") == "2024-05-14 10:00 UTC"
    assert _when("2024-05-14T13:00:00+03:00") == "2024-05-14 10:00 UTC"
    assert _when("2024-05-14T10:00:00") == "2024-05-14 10:00"  # the instrument's clock
    assert _when("2024-05-14") == "2024-05-14" and _when(None) == "—"


def test_latin_phrases_and_amounts_in_arabic_are_isolated():
    # LRI + LRE ... PDF + PDI: an isolate, laid out by fpdf2 through the embedding inside
    lri, pdi = "\u2066\u202a", "\u202c\u2069"
    assert _bidi_ready("مصدر البيانات: /tmp/out/results.json") == \
        f"مصدر البيانات: {lri}/tmp/out/results.json{pdi}"
    # the sentence's full stop stays outside, in the right-to-left sentence; a bracketed
    # Latin phrase is isolated with its brackets
    assert _bidi_ready("ومعنى التوقيع (21 CFR 11.50).") == \
        f"ومعنى التوقيع {lri}(21 CFR 11.50){pdi}."
    assert _bidi_ready("أمفيتامين (Amphetamine) و") == f"أمفيتامين {lri}(Amphetamine){pdi} و"
    assert _bidi_ready("رقم التقرير / Report ID") == f"رقم التقرير / {lri}Report ID{pdi}"
    assert _bidi_ready("بصمة SHA-256 لكل ملف") == f"بصمة {lri}SHA-256{pdi} لكل ملف"
    # an amount with its uncertainty and unit is one unit; a bracket of its own stays in
    assert _bidi_ready("إتيزولام: 32.8 ± 9.2 µg/mL في المحلول المحقون، k = 2.78") == \
        f"إتيزولام: {lri}32.8 ± 9.2 µg/mL{pdi} في المحلول المحقون، {lri}k = 2.78{pdi}"
    assert _bidi_ready("النسب: m/z 91: 12.51 % / 12.16 % (± 20 %).") == \
        f"النسب: {lri}m/z 91{pdi}: {lri}12.51 % / 12.16 % (± 20 %){pdi}."
    # a name and an amount in one Latin run are two units, in the sentence's order
    assert _bidi_ready("إيتيزولام (Etizolam): 32.8 ± 9.2 µg/mL في المحلول") == \
        f"إيتيزولام {lri}(Etizolam){pdi}: {lri}32.8 ± 9.2 µg/mL{pdi} في المحلول"
    # a name with commas stays one unit
    assert _bidi_ready("الطريقة Etizolam, IS calibration (x.M) هنا") == \
        f"الطريقة {lri}Etizolam, IS calibration (x.M){pdi} هنا"
    assert _bidi_ready(f"مرتين {lri}x{pdi} و") == f"مرتين {lri}x{pdi} و"  # never twice
    assert _bidi_ready("/tmp/x in English") == "/tmp/x in English"


def test_schema_describes_every_field_of_the_model():
    document = schema()
    classes = {"ReportModel": document} | {name: spec for name, spec in document["$defs"].items()}
    for name, spec in classes.items():
        cls = getattr(report_model, name)
        fields = {f.name for f in dataclasses.fields(cls)}
        extra = {"schema"} if name == "ReportModel" else set()
        assert set(spec["properties"]) == fields | extra, name
        assert set(spec["required"]) <= fields | extra, name
        assert spec["additionalProperties"] is False, name
    uses = document["$defs"]["QCRun"]["properties"]["uses"]["items"]["enum"]
    assert tuple(uses) == report_model.QC_USES


@pytest.mark.parametrize("limit, unit, written", [
    (">= 800", "", "≥ 800"), ("±2s", "s", "± 2 s"), ("± 3.76 s", "s", "± 3.76 s"),
    ("<= 10", "%", "≤ 10 %"), ("<=10%", "%", "≤ 10 %"), (20, "i.u.", "20 i.u."),
    (None, "s", "—")])
def test_criterion_limits_carry_their_unit_after_one_space(limit, unit, written):
    from gcms.report.adapters import _limit

    assert _limit(limit, unit) == written


@pytest.mark.parametrize("base_mz, side", [(44.0, "right"), (180.0, "left")])
def test_spectrum_labels_never_sit_on_a_tall_peak(base_mz, side):
    import numpy as np

    from gcms.report.charts import head_to_tail_figure
    from gcms.report.model import SpectrumTrace

    mz = np.array([40.0, base_mz, 91.0, 200.0])
    spectrum = SpectrumTrace("E1-01 at 3.20 min", mz, np.array([5.0, 100.0, 25.0, 3.0]))
    library = SpectrumTrace("library: X", mz, np.array([4.0, 100.0, 30.0, 2.0]))
    figure = head_to_tail_figure(spectrum, [library])
    (axes,) = figure.axes
    labels = {t.get_text(): t for t in axes.texts}
    for text in ("E1-01 at 3.20 min", "library: X"):
        assert labels[text].get_horizontalalignment() == side


@pytest.mark.parametrize("base_mz, side", [(44.0, "right"), (180.0, "left")])
def test_panel_labels_for_the_report_language_keep_the_same_corners(base_mz, side):
    import numpy as np

    from gcms.report.charts import head_to_tail_figure, panel_labels, png_bytes
    from gcms.report.model import SpectrumTrace

    mz = np.array([40.0, base_mz, 91.0, 200.0])
    spectrum = SpectrumTrace("E1-01 at 3.20 min", mz, np.array([5.0, 100.0, 25.0, 3.0]))
    library = SpectrumTrace("library: X", mz, np.array([4.0, 100.0, 30.0, 2.0]))
    figure = head_to_tail_figure(spectrum, [library], labels=False)
    (axes,) = figure.axes
    assert [t.get_text() for t in axes.texts if "at" in t.get_text() or ":" in t.get_text()] \
        == []  # the report writes them (in Arabic too), not matplotlib
    png_bytes(figure)
    sample, reference = panel_labels(figure)
    assert (sample.trace, sample.va, reference.trace, reference.va) == (0, "top", 1, "bottom")
    assert sample.ha == reference.ha == side
    box = axes.get_position()  # inside the axes, the sample's label above the reference's
    for label in (sample, reference):
        assert box.x0 <= label.x <= box.x1 and 1 - box.y1 <= label.y <= 1 - box.y0
    assert sample.y < reference.y and reference.colour != (0, 0, 0)
