"""Court-ready reports of an exhibit: PDF (any language, signed), JSON and CSV.

* :mod:`~gcms.report.model`: :class:`ReportModel`, the facts a report states;
* :mod:`~gcms.report.adapters`: a model from a batch's ``results.json`` or a case store;
* :mod:`~gcms.report.pdf`: the PDF (PDF/A-3U, right-to-left for Arabic, every page
  identified, "page X of Y", end mark);
* :mod:`~gcms.report.i18n`: the wording, from translation files a lab can edit;
* :mod:`~gcms.report.sign`: PAdES signing and verification of the PDF;
* :mod:`~gcms.report.jsonout`: the JSON (with its schema) and the CSV.
"""

from gcms.report.i18n import Wording, available_languages, load_wording
from gcms.report.jsonout import SCHEMA_ID, report_csv, report_json, report_json_bytes, schema
from gcms.report.model import (
    AuditLine,
    Chromatogram,
    ComponentFinding,
    Conclusion,
    Criterion,
    EvidenceRecord,
    InstrumentStatus,
    ItemReceived,
    Laboratory,
    LibraryHit,
    PeakLabel,
    Person,
    QCRun,
    QuantitationRow,
    ReportModel,
    SignatureLine,
    SpectrumTrace,
    Transfer,
)
from gcms.report.pdf import PdfSettings, render_pdf

__all__ = [
    "SCHEMA_ID",
    "AuditLine",
    "Chromatogram",
    "ComponentFinding",
    "Conclusion",
    "Criterion",
    "EvidenceRecord",
    "InstrumentStatus",
    "ItemReceived",
    "Laboratory",
    "LibraryHit",
    "PdfSettings",
    "PeakLabel",
    "Person",
    "QCRun",
    "QuantitationRow",
    "ReportModel",
    "SignatureLine",
    "SpectrumTrace",
    "Transfer",
    "Wording",
    "available_languages",
    "load_wording",
    "render_pdf",
    "report_csv",
    "report_json",
    "report_json_bytes",
    "schema",
]
