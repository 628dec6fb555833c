"""The method statement and every criterion sentence follow the evidence actually used.

Four short simulated sequences (``tests/batch/batch_sim.py``: C10-C16 ladder,
methamphetamine from the demo library): with a ladder and a reference standard, without
a ladder, without a standard, and with neither. The report of each may claim a
same-sequence reference standard or an alkane ladder only where the verdict used one, in
English and in Arabic (SWGDRUG Recommendations 8.1 (2022), Part IIIB: GC-MS counts as two
techniques only where the results of both are used).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))

from batch_sim import write_run, write_sequence  # noqa: E402

from gcms.batch import run_batch  # noqa: E402
from gcms.demo import demo_library_path
from gcms.report.adapters import from_results  # noqa: E402
from gcms.report.i18n import load_wording  # noqa: E402
from gcms.report.jsonout import report_json, schema  # noqa: E402
from gcms.report.model import SignatureLine  # noqa: E402
from gcms.report.pdf import render_pdf  # noqa: E402

from .conftest import pdftotext  # noqa: E402

STANDARD = ("std.cdf", "standard", "S1", "", "Amphetamine;Methamphetamine")
LADDER = ("ladder.cdf", "ladder", "L1", "", "")
BLANK = ("blank.cdf", "blank", "B1", "", "")
EXHIBIT = ("exhibit.cdf", "sample", "X1", "EX-1", "")
#: What each sequence holds besides its blank and exhibit.
VARIANTS = {"both": (LADDER, STANDARD), "no ladder": (STANDARD,), "no standard": (LADDER,),
            "neither": ()}
#: The old fixed method text, true only of some sequences.
OLD_CLAIM = "retention time and retention index against a reference standard injected"


def _sequence(folder: Path, rows) -> Path:
    for file, *_ in rows:
        compounds = {"std.cdf": [("Amphetamine", 600.0), ("Methamphetamine", 600.0)],
                     "exhibit.cdf": [("Methamphetamine", 800.0)]}.get(file, [])
        write_run(folder / file, compounds, seed=len(file) + 10, ladder=file == "ladder.cdf")
    return write_sequence(folder, rows)


class _Report:
    """One sequence's report model; its PDF text rendered on first use per language."""

    def __init__(self, model, folder: Path) -> None:
        self.model, self.folder, self._text = model, folder, {}

    def text(self, language: str) -> str:
        if language not in self._text:
            path = self.folder / f"report-{language}.pdf"
            path.write_bytes(render_pdf(self.model, languages=language))
            self._text[language] = " ".join(pdftotext(path).split())
        return self._text[language]

    @property
    def en(self) -> str:
        return self.text("en")

    @property
    def ar(self) -> str:
        return self.text("ar")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """{variant: _Report} of exhibit EX-1 of each sequence."""
    out = {}
    for name, extra in VARIANTS.items():
        folder = tmp_path_factory.mktemp(name.replace(" ", "-"))
        sequence = _sequence(folder, [*extra, BLANK, EXHIBIT])
        run_batch(sequence, out_dir=folder / "out", library=demo_library_path(), workers=1)
        out[name] = _Report(from_results(folder / "out" / "results.json", "EX-1",
                                         issued_at="2026-01-05T10:00:00Z",
                                         draw_chromatograms=False), folder)
    return out


def _meth(report):
    (finding,) = [f for f in report.model.findings if f.substance == "Methamphetamine"]
    return finding


def test_each_substance_records_the_evidence_its_verdict_used(reports):
    both, no_ladder, no_standard, neither = (_meth(reports[k]) for k in VARIANTS)
    assert both.evidence == ("library spectrum", "standard spectrum",
                             "standard retention time", "ladder retention index")
    assert (both.retention_source, both.ladder_run, both.reference_run) == ("standard", "L1",
                                                                            "S1")
    assert no_ladder.evidence == ("library spectrum", "standard spectrum",
                                  "standard retention time")
    assert no_ladder.ladder_run is None and no_ladder.retention_source == "standard"
    assert no_standard.evidence == ("library spectrum", "ladder retention index")
    assert no_standard.retention_source == "index" and no_standard.reference_run is None
    assert neither.evidence == ("library spectrum",) and neither.retention_source is None
    assert both.verdict == no_ladder.verdict == no_standard.verdict == "identified"
    assert neither.verdict != "identified"  # the profile requires retention evidence


def test_the_method_claims_a_standard_only_where_one_was_used(reports):
    standard = "retention time against the reference standard S1 injected in the same sequence"
    spectrum = "mass spectrum and ion ratios against the reference standard S1 injected in " \
               "the same sequence"
    for name in VARIANTS:
        text = reports[name].en
        assert OLD_CLAIM not in text, name
        assert "mass spectrum against the library entry Methamphetamine" in text, name
        used = name in ("both", "no ladder")
        assert (standard in text) is used and (spectrum in text) is used, name
        assert ("against the reference standard S1" in text) is used, name
        if name != "neither":  # an identification's criteria say what was not evaluated
            assert ("not evaluated: no reference standard of this substance was injected "
                    "in the sequence" in text) is not used, name


def test_the_method_claims_a_ladder_only_where_one_was_used(reports):
    ladder = "retention index from the alkane ladder L1 of the same sequence against the " \
             "library's retention index"
    for name in VARIANTS:
        text = reports[name].en
        used = name in ("both", "no standard")
        assert (ladder in text) is used, name
        assert ("from the alkane ladder L1 of the same sequence, against the library's RI "
                "1180" in text) is used, name
        if name != "neither":
            assert ("not evaluated: no retention index (no usable alkane ladder in the "
                    "sequence)" in text) is not used, name
    # with a standard the retention index only supports; without one it decides
    assert ladder + " (supporting, not deciding)" in reports["both"].en
    assert ladder + " (supporting" not in reports["no standard"].en


def test_mass_spectrum_alone_counts_as_one_technique(reports):
    text = reports["neither"].en
    assert "not used: no reference standard and no retention index; GC-MS counts as one " \
           "technique (mass spectrometry) for this substance" in text
    assert "against the reference standard" not in text and "alkane ladder L1" not in text
    assert "SWGDRUG Recommendations (version 8.1, 2022), Part IIIB" in text


def test_criterion_details_and_method_are_in_arabic(reports):
    ar = load_wording("ar")
    for name in ("no ladder", "no standard"):
        text = reports[name].ar
        # the English sentences of the identification step and of the method are gone
        for english in ("identity MF", "against the standard", "against library RI",
                        "no reference standard of this substance", "model ion m/z",
                        "mass spectrum against", OLD_CLAIM):
            assert english not in text, (name, english)
        assert ar("h_method_evidence") in text and ar("tech_gc") in text, name
        # the spectra's panel labels are written over the figure, in Arabic (poppler
        # extracts each label's left-to-right parts in its own order)
        assert re.search(r"مكون الحرز\s*\d+\.\d+ min", text), name
        assert re.search(r"مدخل المكتبة\s*Methamphetamine:", text), name
        assert bool(re.search(r"المادة المرجعية القياسية\s*Methamphetamine:\s*S1", text)) \
            is (name == "no ladder"), name

    def why(key: str) -> str:  # poppler extracts "لم يقيم: ..." with its colon moved
        return ar(key).split(": ", 1)[1]

    assert why("detail_retention_time_none") in reports["no standard"].ar
    assert why("detail_retention_index_none") in reports["no ladder"].ar
    assert why("detail_retention_time_none") not in reports["no ladder"].ar
    assert why("detail_retention_index_none") not in reports["no standard"].ar


def _render_page_one(pdf: Path, prefix: Path) -> None:
    """Page 1 as PNG with pdftoppm where installed (the text checks need pdftotext only)."""
    import shutil
    import subprocess

    if shutil.which("pdftoppm") is None:
        return
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(prefix)], check=True)
    png = prefix.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000


def test_page_one_names_analyst_and_reviewer_from_the_signatures(reports, tmp_path):
    model = reports["both"].model
    assert model.analysts == () and model.reviewers == ()
    signed = model.replace(signatures=(
        SignatureLine("Dr Jane Doe", "authored", "2026-01-05T10:05:00Z", "pdf", "jdoe"),
        SignatureLine("Ahmed Smith", "reviewed", "2026-01-05T11:00:00Z", "pdf", "asmith")))
    path = tmp_path / "signed.pdf"
    path.write_bytes(render_pdf(signed, languages="en"))
    page_one = " ".join(pdftotext(path, page=1).split())
    assert "Analyst Dr Jane Doe (jdoe)" in page_one
    assert "Technical reviewer Ahmed Smith (asmith)" in page_one
    assert "Analyst —" not in page_one
    _render_page_one(path, tmp_path / "en")
    path.write_bytes(render_pdf(signed, languages="ar"))
    page_one = " ".join(pdftotext(path, page=1).split())
    _render_page_one(path, tmp_path / "ar")
    # (poppler extracts a closing bracket of a left-to-right name in Arabic out of place)
    assert "Dr Jane Doe (jdoe" in page_one and "Ahmed Smith (asmith" in page_one


def test_the_report_names_the_software_it_was_made_with(reports):
    import fpdf

    model = reports["both"].model
    versions = dict(model.dependencies)
    assert versions["fpdf2"] == fpdf.__version__ and "numpy" in versions
    assert model.python.startswith(("CPython", "PyPy"))
    assert f"fpdf2 {fpdf.__version__}" in reports["both"].en
    assert "Software in use: gcms" in reports["both"].en
    # the JSON a LIMS reads (and the PDF embeds) carries them, valid against the schema
    jsonschema = pytest.importorskip("jsonschema")
    document = report_json(model)
    assert dict(map(tuple, document["dependencies"]))["fpdf2"] == fpdf.__version__
    jsonschema.validate(document, schema())
    # the report ID does not change with the software that renders it
    assert from_results_id(model) == model.report_id


def from_results_id(model) -> str:
    """The report ID the adapter gives ``model`` with other software versions recorded."""
    from gcms.report.adapters import _facts, _report_id

    other = model.replace(python="CPython 0.0", dependencies=(("numpy", "0.0"),))
    return _report_id(other.case_id, other.exhibit_id, _facts(other))


@pytest.mark.parametrize("record, key", [
    ({"criterion": "retention_index", "result": "not evaluated", "limit": "±20",
      "unit": "i.u.", "detail": "RI 1180.0; the library gives no RI for 'X'"},
     "detail_retention_index_no_library_ri"),
    ({"criterion": "retention_index", "result": "not evaluated", "value": 3.1,
      "limit": "±20", "unit": "i.u.",
      "detail": "RI 1012.0 is extrapolated outside the ladder: reported, not relied on"},
     "detail_retention_index_extrapolated"),
    ({"criterion": "ion_ratios", "result": "not evaluated", "limit": "off",
      "detail": "ion ratios not used by this profile"}, "detail_not_used_by_profile"),
    ({"criterion": "distinct_from_runner_up", "result": "pass", "unit": "MF",
      "limit": "none within 20 MF units unless excluded by retention",
      "detail": "no other compound among the hits"}, "detail_distinct_none"),
    ({"criterion": "blank_run", "result": "pass", "detail": "a sentence the report has no "
      "wording for"}, None),
])
def test_criterion_sentences_worded_from_the_step_record(record, key):
    from gcms.report.adapters import _criterion
    from gcms.results import CriterionResult

    criterion = _criterion(CriterionResult.from_json({
        "value": None, "limit": None, "unit": "", "required": True, "decisive": True,
        "on_fail": "not identified", "evidence": None, **record}))
    assert criterion.sentence == key and criterion.note == record["detail"]
    if key is not None:  # worded in every language; the step's English sentence kept too
        ar = load_wording("ar")(key, **criterion.values)
        assert ar and not re.search("[A-Za-z]{3,}", ar)
