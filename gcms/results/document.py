"""The typed ``results.json`` of a batch (``format = "gcms.batch.results"``).

What :func:`gcms.batch.run_batch` writes (:mod:`gcms.batch.output` documents the keys),
as frozen records: :class:`ResultsDocument` holds the sequence, library and criteria the
batch used and one :class:`RunResult` per injection; a run holds its
:class:`ComponentResult` (each with its library :class:`Hit` and every
:class:`CriterionResult`) and its :class:`Findings`. The batch steps' sections are typed
optional sections: the QA gate's :class:`QASection` (document) and :class:`RunQA`
(exhibit runs, with ``reportable``), quantitation's :class:`Quantity` per analyte, and
:class:`ProcessedBy`. The ``results.json`` of ``gcms quant --out`` is a document of its
own, :class:`QuantResultsDocument`, sharing :class:`Quantity`; :func:`load_results` reads
either, by the format it names.

Parts that are settings or evidence echoed as the producer made them (criteria,
settings, processing times, the retention calibration, a component's spectrum, QA check
details) are kept as read-only JSON (``Mapping``) rather than typed field by field: their
keys follow the profile and the step that wrote them.

Reading checks the format name and version (:mod:`gcms.results.versions`). The batch
writes through this type and the report, custody recording and report verification
read it (:mod:`gcms.results` says who does what).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gcms.errors import FormatError
from gcms.results._record import JSON, Record, json_schema, read_record
from gcms.results.versions import (
    FORMAT,
    FORMAT_VERSION,
    QUANT_FORMAT,
    QUANT_FORMAT_VERSION,
    quant_version,
    upgrade,
)

__all__ = [
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
    "ResultsDocument",
    "RunQA",
    "RunResult",
    "SequenceInfo",
    "StepInfo",
    "load_results",
    "results_schema",
]

_record = dataclasses.dataclass(frozen=True, kw_only=True)


# ------------------------------------------------------------------ identification
@_record
class CriterionResult(Record):
    """One identification criterion applied to a candidate: value, limit and result."""

    criterion: str
    result: str                         # "pass", "fail", "not evaluated"
    value: JSON
    limit: JSON
    unit: str
    required: bool
    decisive: bool
    on_fail: str
    detail: str
    evidence: Mapping[str, JSON] | None


@_record
class Hit(Record):
    """The library entry a component was matched to (``component.library``)."""

    index: int
    rank: int | None
    sha256: str | None
    name: str
    inchikey: str | None
    cas: str | None
    formula: str | None
    retention_index: float | None
    source_file: str | None
    source_entry: str | None


@_record
class ComponentResult(Record):
    """One deconvolved component: its measurements, then its substance and verdict.

    The keys from ``techniques`` to ``criteria`` are present where a candidate was chosen
    (``substance`` not ``None``).
    """

    component: int
    rt_s: float | None
    rt_min: float | None
    retention_index: float | None
    ri_extrapolated: bool | None
    scan: int
    model_mz: int | None
    snr: float | None
    purity: float | None
    area: float | None
    height: float | None
    width_s: float | None
    warnings: tuple[str, ...]
    substance: str | None
    verdict: str
    alternatives: tuple[Mapping[str, JSON], ...]
    notes: tuple[str, ...]
    techniques: tuple[str, ...] | None = None
    failed: tuple[str, ...] | None = None
    match_factor: int | None = None
    reverse_match_factor: int | None = None
    probability: float | None = None
    retention_source: str | None = None
    delta_rt_s: float | None = None
    delta_ri: float | None = None
    library: Hit | None = None
    reference_standard: Mapping[str, JSON] | None = None
    criteria: tuple[CriterionResult, ...] | None = None
    scope: Mapping[str, JSON] | None = None
    spectrum: Mapping[str, JSON] | None = None


@_record
class Finding(Record):
    """One substance of a run with its verdict and the component that shows it best."""

    substance: str
    verdict: str
    component: int
    rt_s: float | None
    retention_index: float | None
    match_factor: int
    reverse_match_factor: int
    retention_source: str | None
    delta_rt_s: float | None
    delta_ri: float | None
    techniques: tuple[str, ...]
    failed: tuple[str, ...]
    evidence: str
    in_scope: bool
    controlled: tuple[str, ...]
    found_by: str


@_record
class Note(Record):
    """A statement a report must carry, with the substances it is about."""

    kind: str
    substances: tuple[str, ...]
    text: str


@_record
class Findings(Record):
    """A run's substances: identified, inconclusive, what a conclusion states, notes."""

    identified: tuple[Finding, ...]
    inconclusive: tuple[Finding, ...]
    conclusion: tuple[str, ...]
    out_of_scope: tuple[str, ...]
    notes: tuple[Note, ...]


# ------------------------------------------------------------------------ steps
@_record
class RunQA(Record):
    """The QA gate's word on one exhibit run (``run.qa``)."""

    status: str
    policy: str
    reportable: bool
    reason: str | None = None


@_record
class QASection(Record):
    """The QA gate's assessment of the batch (document ``qa``).

    The instrument, each check and its history results stay as written (``Mapping``).
    """

    status: str
    current: bool | None = None
    passing: bool | None = None
    policy: str
    reportable: bool
    blocks_reporting: bool | None = None
    reason: str | None = None
    instrument: Mapping[str, JSON] | None = None
    reference_time: str | None = None
    reference_basis: str | None = None
    history: str | None = None
    checks: tuple[Mapping[str, JSON], ...] = ()
    summary: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    blocked_exhibits: tuple[Mapping[str, JSON], ...] | None = None


@_record
class Quantity(Record):
    """One analyte of one run quantified by ``gcms batch --method`` (``run.quantitation``).

    ``concentration`` is what may be reported (``None`` where not reportable);
    ``estimate`` is the number the calibration gave before the checks.
    """

    substance: str
    role: str | None = None
    status: str
    reportable: bool
    concentration: float | None
    unit: str | None
    uncertainty: float | None = None
    uncertainty_basis: str | None = None
    expanded_uncertainty: float | None = None
    coverage_factor: float | None = None
    flags: tuple[str, ...] = ()
    message: str | None = None
    estimate: float | None = None
    amount_in_exhibit: Mapping[str, JSON] | None = None
    check: Mapping[str, JSON] | None = None
    response: float | None = None
    internal_standard: str | None = None
    lod: float | None = None
    loq: float | None = None
    rt_s: float | None = None
    qualifiers: tuple[Mapping[str, JSON], ...] = ()
    integration: Mapping[str, JSON] | None = None
    identification: Mapping[str, JSON] | None = None


# -------------------------------------------------------------------------- runs
@_record
class RunResult(Record):
    """One injection of the sequence and everything the batch found in it.

    A failed run (``status == "failed"``) has ``problem`` and ``failure_kind`` and no
    components; the optional keys after ``failure_kind`` are those of a processed run,
    of its run type (ladder, standard, blank, qc) or of a batch step (QA, quantitation).
    """

    position: int
    file: str
    file_name: str
    type: str
    sample_id: str
    case_id: str | None
    exhibit_id: str | None
    reference_substances: tuple[str, ...]
    concentration: float | None
    unit: str | None
    amount: float | None
    amount_unit: str | None
    volume_ml: float | None
    dilution: float | None
    status: str                         # "ok" or "failed"
    problem: str | None
    failure_kind: str | None = None
    sample_name: str | None = None
    run: Mapping[str, JSON] | None = None
    processing: Mapping[str, JSON] | None = None
    retention_calibration: Mapping[str, JSON] | None = None
    blank: Mapping[str, JSON] | None = None
    ladder: Mapping[str, JSON] | None = None
    ladder_calibration: Mapping[str, JSON] | None = None
    references: tuple[Mapping[str, JSON], ...] | None = None
    carry_over: tuple[Mapping[str, JSON], ...] | None = None
    blank_status: Mapping[str, JSON] | None = None
    qc: Mapping[str, JSON] | None = None
    findings: Findings | None = None
    components: tuple[ComponentResult, ...]
    problems: tuple[str, ...] | None = None
    reportable: bool | None = None
    qa: RunQA | None = None
    quantitation: tuple[Quantity, ...] | None = None
    internal_standards: tuple[Mapping[str, JSON], ...] | None = None
    quantitation_method: Mapping[str, JSON] | None = None

    @property
    def ok(self) -> bool:
        """Whether the run was processed."""
        return self.status == "ok"


@_record
class SequenceInfo(Record):
    """The sequence file the batch ran."""

    path: str
    sha256: str | None
    n_runs: int


@_record
class LibraryInfo(Record):
    """The reference library the batch searched."""

    path: str | None
    title: str | None
    content_sha256: str
    identity_sha256: str | None
    n_entries: int


@_record
class StepInfo(Record):
    """A batch step that ran (QA gate, quantitation...)."""

    name: str
    stage: str


@_record
class ExhibitResult(Record):
    """What an exhibit's injections show together (``exhibits``)."""

    case_id: str | None
    exhibit_id: str
    injections: tuple[Mapping[str, JSON], ...]
    substances: tuple[Mapping[str, JSON], ...]
    notes: tuple[str, ...]


@_record
class FailedRun(Record):
    """A run that could not be processed (``failed``)."""

    position: int
    file: str
    problem: str | None
    kind: str | None


@_record
class ProcessedBy(Record):
    """Who ran the batch (``gcms batch --analyst``; a user id)."""

    user: str


@_record
class ResultsDocument(Record):
    """A batch's ``results.json``."""

    format: str
    format_version: int
    gcms_version: str
    created_utc: str
    sequence: SequenceInfo
    library: LibraryInfo
    criteria: Mapping[str, JSON]
    lookalikes: str | None = None
    settings: Mapping[str, JSON]
    steps: tuple[StepInfo, ...]
    runs: tuple[RunResult, ...]
    exhibits: tuple[ExhibitResult, ...]
    failed: tuple[FailedRun, ...]
    sequence_notes: tuple[str, ...]
    step_failures: tuple[str, ...]
    qa: QASection | None = None
    instrument: Mapping[str, JSON] | None = None
    processed_by: ProcessedBy | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | os.PathLike,
                  *, source: str | None = None) -> ResultsDocument:
        """Read a results document: a ``results.json`` path, or its parsed object.

        The format name and version are checked (an older version is upgraded, a newer
        one refused) and every declared key is checked for its type.

        Parameters
        ----------
        data : mapping, str or path-like
            The file, or the object ``json.load`` gave.
        source : str, optional
            How to name a given object in errors (default ``"<results document>"``).

        Raises
        ------
        FormatError
            The file is not JSON, not a results document, of a newer format version, or
            a key is missing or of the wrong type (the message names file and key).
        """
        data, name = _parsed(data, source)
        if data.get("format") != FORMAT:
            found = data.get("format")
            raise FormatError(f"{name}: not a gcms batch results document (format "
                              f"{found!r}, expected {FORMAT!r})")
        return read_record(cls, upgrade(data, name), name)

    def to_text(self) -> str:
        """The document as the batch writes it (indent 1, no NaN, final newline)."""
        return json.dumps(self.to_json(), indent=1, allow_nan=False) + "\n"

    def run(self, position: int) -> RunResult:
        """The run at a 0-based sequence position."""
        for run in self.runs:
            if run.position == position:
                return run
        raise KeyError(position)


# ------------------------------------------------------------ gcms quant --out
@_record
class QuantRunResult(Record):
    """One run of a ``gcms quant`` results document."""

    sample_id: str
    file: str
    type: str
    position: int
    case_id: str | None
    exhibit_id: str | None
    sample_name: str | None
    acquired_at: str | None
    sha256: str | None
    error: str | None
    internal_standards: tuple[Mapping[str, JSON], ...]
    quantitation: tuple[Quantity, ...]


@_record
class QuantResultsDocument(Record):
    """The ``results.json`` of ``gcms quant --out`` (``"schema": "gcms-quant-results/1"``)."""

    schema: str
    gcms_version: str
    sequence: str
    method: Mapping[str, JSON]
    runs: tuple[QuantRunResult, ...]
    calibration_summary: Mapping[str, JSON]
    findings: tuple[str, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str | os.PathLike,
                  *, source: str | None = None) -> QuantResultsDocument:
        """Read a quantitation results document (as :meth:`ResultsDocument.from_json`)."""
        data, name = _parsed(data, source)
        quant_version(data, name)
        return read_record(cls, data, name)

    def to_text(self) -> str:
        """The document as ``gcms quant`` writes it (indent 2, UTF-8 text, no NaN)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _parsed(data: Mapping[str, Any] | str | os.PathLike,
            source: str | None) -> tuple[Mapping[str, Any], str]:
    """The document's object and how to name it in errors."""
    if isinstance(data, Mapping):
        return data, source or "<results document>"
    if not isinstance(data, (str, os.PathLike)):
        raise FormatError(f"{source or '<results document>'}: not a results document "
                          f"(a JSON object), but {type(data).__name__}")
    path = Path(data)
    name = source or str(path)
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise FormatError(f"{name}: cannot read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FormatError(f"{name}: not a JSON file: {error}") from None
    if not isinstance(parsed, Mapping):
        raise FormatError(f"{name}: not a results document (a JSON object)")
    return parsed, name


def load_results(path: str | os.PathLike) -> ResultsDocument | QuantResultsDocument:
    """Read and check a ``results.json``: a batch's or a quantitation's, by what it names.

    See ``ResultsDocument.from_json``; a document naming ``"schema":
    "gcms-quant-results/N"`` is read by ``QuantResultsDocument.from_json``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``results.json`` of ``gcms batch`` or ``gcms quant``.

    Returns
    -------
    ResultsDocument or QuantResultsDocument
        The typed, frozen document, upgraded from an older format version where one
        was written.

    Raises
    ------
    FormatError
        Not JSON, not a results document, a version newer than this gcms reads, or a
        key of the wrong type (the message names the file and the key).
    """
    data, name = _parsed(path, None)
    if "schema" in data and "format" not in data:
        return QuantResultsDocument.from_json(data, source=name)
    return ResultsDocument.from_json(data, source=name)


def results_schema() -> dict[str, Any]:
    """The JSON Schema of both ``results.json`` documents (``results.schema.json``).

    Returns
    -------
    dict
        The schema (draft 2020-12), generated from the record types; the tests check
        that it equals the shipped file (:func:`gcms.results.published_schema`).
    """
    schema = json_schema(
        (ResultsDocument, QuantResultsDocument), title="gcms results.json",
        schema_id="https://gcms.invalid/schema/gcms-results.json",
        description=f"A batch's results ({FORMAT}, format_version {FORMAT_VERSION}) or a "
                    f"quantitation's ({QUANT_FORMAT}/{QUANT_FORMAT_VERSION}).")
    batch = schema["$defs"]["ResultsDocument"]["properties"]
    batch["format"] = {"const": FORMAT}
    batch["format_version"] = {"const": FORMAT_VERSION}
    quant = schema["$defs"]["QuantResultsDocument"]["properties"]
    quant["schema"] = {"const": f"{QUANT_FORMAT}/{QUANT_FORMAT_VERSION}"}
    return schema
