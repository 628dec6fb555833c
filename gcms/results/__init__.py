"""The typed results document of a batch (``results.json``) and its JSON Schema.

:func:`load_results` (or :meth:`ResultsDocument.from_json`) reads and checks a
``results.json`` (a batch's, or with :class:`QuantResultsDocument` a ``gcms quant``
one): its format name and version (an older version is upgraded in memory by
:mod:`gcms.results.versions`, a newer one refused), then every declared key.
``ResultsDocument.to_json()`` gives back the same object, key for key (keys not typed
here are kept in each record's ``extra``). The published schema is
``gcms/results/results.schema.json`` (:func:`results_schema` makes it).

Who uses it:

- **producers** write through it: the batch (:func:`gcms.batch.output.write_outputs`
  reads its document as a :class:`ResultsDocument` and writes its
  ``ResultsDocument.to_text()``; a step's malformed section stops the batch) and
  ``gcms quant --out`` (:func:`gcms.quantitation.output.results_document`). The QA gate
  and batch quantitation add their sections to a run with :meth:`Record.replace`
  (``run.replace(reportable=..., qa=RunQA(...))``, ``quantitation=(Quantity, ...)``);
- **readers** read only this type: the report (:mod:`gcms.report.adapters`, from a file
  or from the run records a case store holds, read as :class:`RunResult`), the report
  verifier (``gcms report verify --results``) and the case-store recording of a batch
  (:mod:`gcms.custody.batch`). A reader never falls back between key spellings: an
  older document is made current by the upgrade path, once, on load.

Stable API for other readers (the review workstation): the record classes below, their
attributes (named as the JSON keys), :func:`load_results`, ``Record.from_json``,
``Record.replace`` and ``to_json``/``to_text``. A record is frozen; the parts that are
settings or evidence echoed as their producer wrote them are read-only mappings.

Examples
--------
>>> from gcms.results import RunQA
>>> RunQA.from_json({"status": "passing", "policy": "block", "reportable": True}).reportable
True
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from gcms.results._record import JSON, Record
from gcms.results.document import (
    ComponentResult,
    CriterionResult,
    ExhibitResult,
    FailedRun,
    Finding,
    Findings,
    Hit,
    LibraryInfo,
    Note,
    ProcessedBy,
    QASection,
    Quantity,
    QuantResultsDocument,
    QuantRunResult,
    ResultsDocument,
    RunQA,
    RunResult,
    SequenceInfo,
    StepInfo,
    load_results,
    results_schema,
)
from gcms.results.versions import (
    FORMAT,
    FORMAT_VERSION,
    QUANT_FORMAT,
    QUANT_FORMAT_VERSION,
    UPGRADES,
    upgrade,
)

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "JSON",
    "QUANT_FORMAT",
    "QUANT_FORMAT_VERSION",
    "UPGRADES",
    "ComponentResult",
    "CriterionResult",
    "ExhibitResult",
    "FailedRun",
    "Finding",
    "Findings",
    "Hit",
    "LibraryInfo",
    "Note",
    "ProcessedBy",
    "QASection",
    "QuantResultsDocument",
    "QuantRunResult",
    "Quantity",
    "Record",
    "ResultsDocument",
    "RunQA",
    "RunResult",
    "SequenceInfo",
    "StepInfo",
    "load_results",
    "published_schema",
    "results_schema",
    "upgrade",
]


@cache
def _schema_text() -> str:
    return resources.files("gcms.results").joinpath("results.schema.json").read_text(
        encoding="utf-8")


def published_schema() -> dict[str, Any]:
    """The shipped ``results.schema.json`` (JSON Schema draft 2020-12).

    Returns
    -------
    dict
        The schema a ``results.json`` of this gcms validates against.
    """
    return json.loads(_schema_text())
