"""The typed results document of a batch (``results.json``) and its JSON Schema.

:func:`load_results` (or :meth:`ResultsDocument.from_json`) reads and checks a
``results.json`` (a batch's, or with :class:`QuantResultsDocument` a ``gcms quant``
one); ``ResultsDocument.to_json()`` gives back the same object, key for key
(keys not typed here are kept in each record's ``extra``). The published schema is
``gcms/results/results.schema.json`` (:func:`results_schema` makes it).

Not yet read by the report, custody or the CLI, which still read the dict; the batch
still writes the dict (issue 16: producers and consumers move to this type next).
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
