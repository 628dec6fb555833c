"""The output folder of a quantitation: results.json, calibration.json, one plot per analyte.

Layout (the same in ``gcms quant --out DIR`` and in a batch folder)::

    DIR/results.json             one record per run: sample_id, file, sha256, the internal
                                 standards' integrations and a ``quantitation`` list
    DIR/calibration.json         per analyte: fit, calibrators, limits, identity reference
    DIR/calibration_<name>.png   per analyte: curve, calibrators, residuals
    DIR/quantitation.csv         one line per run and analyte, for a spreadsheet
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from gcms._json import json_safe as _clean
from gcms.errors import QuantitationError
from gcms.identifiers import spreadsheet_safe_row
from gcms.quantitation.plot import calibration_figure
from gcms.quantitation.process import QuantitationResult
from gcms.results import QuantResultsDocument

__all__ = ["plot_name", "results_document", "write_calibration_outputs", "write_results"]

_CSV_COLUMNS = ("sample_id", "type", "exhibit_id", "substance", "role", "status", "reportable",
                "concentration", "uncertainty", "expanded_uncertainty", "unit", "estimate",
                "mass_mg", "purity_percent", "per_unit_mg", "per_unit", "flags", "message")


def _write_json(path: Path, value: Any) -> None:
    _write_text(path, json.dumps(_clean(value), indent=2, ensure_ascii=False, default=str)
                + "\n")


def _write_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def results_document(result: QuantitationResult) -> QuantResultsDocument:
    """The typed ``results.json`` of a quantitation (:class:`gcms.results.QuantResultsDocument`).

    Reading :meth:`QuantitationResult.to_dict` as the type checks its schema name and
    version and every key (a producer bug is a :class:`~gcms.errors.FormatError`).
    """
    return QuantResultsDocument.from_json(
        json.loads(json.dumps(_clean(result.to_dict()), default=str)),
        source="quantitation results.json being written")


def plot_name(analyte: str) -> str:
    """File name of an analyte's calibration plot (``calibration_<slug>.png``)."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", analyte).strip("-").lower() or "analyte"
    return f"calibration_{slug}.png"


def write_calibration_outputs(result: QuantitationResult, out_dir: str | os.PathLike
                              ) -> list[Path]:
    """Write ``calibration.json`` and the per-analyte plots (what a batch folder adds)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "calibration.json"]
    _write_json(written[0], result.calibration_dict())
    for name, calibration in result.calibrations.items():
        unknowns = [(r.sample_id, q) for r in result.records for q in r.quantities
                    if q.substance == name and q.role in ("unknown", "check")]
        figure = calibration_figure(calibration, unknowns=unknowns)
        path = out / plot_name(name)
        figure.savefig(path, dpi=120)
        written.append(path)
    return written


def write_results(result: QuantitationResult, out_dir: str | os.PathLike) -> list[Path]:
    """Write the whole output folder (layout: module notes); returns the files written.

    Raises
    ------
    QuantitationError
        The folder cannot be created or written.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        results = out / "results.json"
        _write_text(results, results_document(result).to_text())
        written = [results, *write_calibration_outputs(result, out)]
        table = out / "quantitation.csv"
        with open(table, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=_CSV_COLUMNS)
            writer.writeheader()
            for record in result.records:
                inj = record.injection
                if record.error:
                    writer.writerow(spreadsheet_safe_row({
                        "sample_id": inj.sample_id, "type": inj.type,
                        "exhibit_id": inj.exhibit_id or "", "status": "error",
                        "message": record.error}))
                for q in record.quantities:
                    amount = q.amount
                    writer.writerow(spreadsheet_safe_row({
                        "sample_id": inj.sample_id, "type": inj.type,
                        "exhibit_id": inj.exhibit_id or "", "substance": q.substance,
                        "role": q.role, "status": q.status, "reportable": q.reportable,
                        "concentration": _num(q.concentration),
                        "uncertainty": _num(q.uncertainty),
                        "expanded_uncertainty": _num(q.expanded_uncertainty), "unit": q.unit,
                        "estimate": _num(q.estimate),
                        "mass_mg": _num(amount.mass_mg if amount else None),
                        "purity_percent": _num(amount.purity_percent if amount else None),
                        "per_unit_mg": _num(amount.per_unit_mg if amount else None),
                        "per_unit": (amount.per_unit or "") if amount else "",
                        "flags": "; ".join(q.flags), "message": q.message or ""}))
        written.append(table)
    except OSError as error:
        raise QuantitationError(f"{out}: cannot write the results: "
                                f"{error.strerror or error}") from None
    return written


def _num(value: float | None) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.6g}"
