"""What the case store holds: one small frozen dataclass per kind of record.

Every record is versioned. Version 1 is written when the object is created; a correction
writes version 2, 3, ... as a new audit entry whose before-image is the version it
supersedes. Nothing is changed in place. ``to_dict()`` is the record's JSON form: exactly
what the audit entry's ``after`` holds, and what :func:`record_sha256` hashes (the digest
a signature covers).

The column kinds below drive the database tables (:mod:`gcms.custody.schema`), the
validation of records read back from the log, and the comparison of the tables with the
log during verification: one description, three uses.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from gcms.custody.canonical import canonical_json, parse_utc, sha256_of
from gcms.custody.evidence import EvidenceFile
from gcms.errors import CustodyError

__all__ = [
    "RECORD_TYPES",
    "Analysis",
    "AnalystKey",
    "Case",
    "Credential",
    "CustodyTransfer",
    "Exhibit",
    "IssuedReport",
    "Meaning",
    "Record",
    "Result",
    "ResultsFile",
    "Review",
    "RunKind",
    "RunRecord",
    "Signature",
    "User",
    "QaRecord",
    "check_id",
    "parse_weight",
    "record_from_dict",
    "record_sha256",
]

#: Meaning of an electronic signature (21 CFR 11.50(a)(3)).
Meaning = Literal["authored", "reviewed", "approved"]
MEANINGS: tuple[str, ...] = ("authored", "reviewed", "approved")

#: What a run is in its sequence (the batch's ``type`` column).
RunKind = Literal["sample", "blank", "ladder", "standard", "qc"]
RUN_KINDS: tuple[str, ...] = ("sample", "blank", "ladder", "standard", "qc")

#: Outcome of a technical review.
REVIEW_OUTCOMES: tuple[str, ...] = ("agreed", "disagreed")

#: Units a weight or volume of an exhibit may be given in.
WEIGHT_UNITS: tuple[str, ...] = ("µg", "mg", "g", "kg", "µL", "mL", "L")
_UNIT_ALIASES = {"ug": "µg", "μg": "µg", "ul": "µL", "uL": "µL", "μL": "µL", "ml": "mL",
                 "l": "L"}

#: Longest identifier accepted (case and exhibit numbers, users, kinds).
ID_MAX_CHARS = 120
_ID_BAD = re.compile(r"[\x00-\x1f\x7f]")

# Column kinds: how a field is typed in the database and checked when read back.
#   id      short text (identifiers, units, kinds)      text     free text
#   int     integer                                     bool     boolean
#   time    UTC ISO 8601 text                           sha256   64 hex digits
#   decimal a decimal number kept as typed ("0.50")     json     canonical JSON text
#   files   the run's per-file digests (a child table)


def check_id(value: Any, what: str) -> str:
    """Validate an identifier typed by a person: 1-120 printable characters, trimmed."""
    if not isinstance(value, str) or not value.strip():
        raise CustodyError(f"{what}: an identifier must be a non-empty string, got {value!r}")
    if value != value.strip() or len(value) > ID_MAX_CHARS or _ID_BAD.search(value):
        raise CustodyError(
            f"{what}: {value!r} is not a valid identifier "
            f"(1-{ID_MAX_CHARS} printable characters, no leading or trailing spaces)"
        )
    return value


def parse_weight(text: str | None, what: str = "weight") -> tuple[str | None, str | None]:
    """Split ``"12.50 g"`` into ``("12.50", "g")``, keeping the digits exactly as typed.

    A weight is a measured value: ``0.50 g`` and ``0.5 g`` state different precision, so
    it is stored as its decimal text, never as a binary float.
    """
    if text is None or not str(text).strip():
        return None, None
    parts = str(text).split()
    if len(parts) != 2:
        raise CustodyError(f"{what}: {text!r} must be a number and a unit, e.g. '12.50 g'")
    number, unit = parts
    unit = _UNIT_ALIASES.get(unit, unit)
    try:
        value = Decimal(number)
    except InvalidOperation as error:
        raise CustodyError(f"{what}: {number!r} is not a number") from error
    if not value.is_finite() or value < 0:
        raise CustodyError(f"{what}: {number!r} must be a finite, non-negative number")
    if unit not in WEIGHT_UNITS:
        raise CustodyError(f"{what}: unit {unit!r} is not one of {', '.join(WEIGHT_UNITS)}")
    return number, unit


class Record:
    """Mixin of every record: identity, JSON form, validation of fields by kind."""

    __slots__ = ()
    OBJECT_TYPE: ClassVar[str]
    TABLE: ClassVar[str]
    ID_FIELD: ClassVar[str]
    ID_PREFIX: ClassVar[str | None]  # None: the id is given by a person
    CASE_SCOPED: ClassVar[bool] = True
    COLUMNS: ClassVar[Mapping[str, str]]

    @property
    def object_id(self) -> str:
        """The record's identifier within its case (or within the store)."""
        return getattr(self, self.ID_FIELD)

    def to_dict(self) -> dict[str, Any]:
        """The record's JSON form, as it stands in the audit entry."""
        out = {}
        for name, kind in self.COLUMNS.items():
            value = getattr(self, name)
            if kind == "files":
                value = [f.to_dict() for f in value]
            elif kind == "json":
                value = _thaw(value)
            out[name] = value
        return out

    def replace(self, **changes: Any) -> Record:
        """A copy with some fields changed, checked as a new record is."""
        return record_from_dict(self.OBJECT_TYPE, {**self.to_dict(), **changes})


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


@dataclass(frozen=True, slots=True)
class Case(Record):
    """A case: the submission a laboratory works under.

    ``case_tag`` is 32 random bytes (hex) drawn when the case is opened and carried into
    the hash of every entry of the case (:mod:`gcms.custody.canonical`).
    """

    case_id: str
    case_tag: str
    title: str | None = None
    submitting_agency: str | None = None
    agency_reference: str | None = None
    notes: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "case"
    TABLE: ClassVar[str] = "cases"
    ID_FIELD: ClassVar[str] = "case_id"
    ID_PREFIX: ClassVar[str | None] = None
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "case_tag": "sha256", "title": "text", "submitting_agency": "text",
        "agency_reference": "text", "notes": "text", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class Exhibit(Record):
    """An item as received: description, seals, packaging, weights, from whom and when.

    Weights are decimal text with a unit (see :func:`parse_weight`); ``received_by`` is
    the first custodian in the laboratory.
    """

    case_id: str
    exhibit_id: str
    description: str
    seal_numbers: tuple[str, ...] = ()
    packaging: str | None = None
    gross_weight: str | None = None
    gross_weight_unit: str | None = None
    net_weight: str | None = None
    net_weight_unit: str | None = None
    item_count: int | None = None
    received_from: str | None = None
    received_by: str | None = None
    received_at: str | None = None
    condition: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "exhibit"
    TABLE: ClassVar[str] = "exhibits"
    ID_FIELD: ClassVar[str] = "exhibit_id"
    ID_PREFIX: ClassVar[str | None] = None
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "exhibit_id": "id", "description": "text", "seal_numbers": "json",
        "packaging": "text", "gross_weight": "decimal", "gross_weight_unit": "id",
        "net_weight": "decimal", "net_weight_unit": "id", "item_count": "int",
        "received_from": "text", "received_by": "text", "received_at": "time",
        "condition": "text", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class CustodyTransfer(Record):
    """A physical hand-over of an exhibit: from, to, when, why, and the seal's state."""

    case_id: str
    transfer_id: str
    exhibit_id: str
    from_party: str
    to_party: str
    transferred_at: str
    purpose: str | None = None
    seal_intact: bool | None = None
    seal_numbers: tuple[str, ...] = ()
    notes: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "custody_transfer"
    TABLE: ClassVar[str] = "custody_transfers"
    ID_FIELD: ClassVar[str] = "transfer_id"
    ID_PREFIX: ClassVar[str | None] = "T"
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "transfer_id": "id", "exhibit_id": "id", "from_party": "text",
        "to_party": "text", "transferred_at": "time", "purpose": "text",
        "seal_intact": "bool", "seal_numbers": "json", "notes": "text", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class RunRecord(Record):
    """An acquisition attached as evidence: where it is, its digests, what it is.

    ``sha256`` is the file's digest, or for a folder the digest of its file list
    (:mod:`gcms.custody.evidence`); ``files`` holds every file's own digest.
    """

    case_id: str
    run_id: str
    path: str
    sha256: str
    size_bytes: int
    is_directory: bool
    files: tuple[EvidenceFile, ...]
    exhibit_id: str | None = None
    kind: str = "sample"
    sample_name: str | None = None
    instrument: str | None = None
    acquired_at: str | None = None
    data_format: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "run"
    TABLE: ClassVar[str] = "runs"
    ID_FIELD: ClassVar[str] = "run_id"
    ID_PREFIX: ClassVar[str | None] = "R"
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "run_id": "id", "path": "text", "sha256": "sha256",
        "size_bytes": "int", "is_directory": "bool", "files": "files", "exhibit_id": "id",
        "kind": "id", "sample_name": "text", "instrument": "text", "acquired_at": "time",
        "data_format": "id", "version": "int",
    }

    def evidence(self):
        """The recorded digests as an :class:`~gcms.custody.evidence.EvidenceDigest`."""
        from gcms.custody.evidence import EvidenceDigest

        return EvidenceDigest(self.path, self.sha256, self.size_bytes, self.is_directory,
                              self.files)


@dataclass(frozen=True, slots=True)
class Analysis(Record):
    """How runs were processed: software and version, parameters, library, criteria."""

    case_id: str
    analysis_id: str
    software: str
    software_version: str
    run_ids: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    library_name: str | None = None
    library_sha256: str | None = None
    criteria_profile: str | None = None
    criteria_sha256: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "analysis"
    TABLE: ClassVar[str] = "analyses"
    ID_FIELD: ClassVar[str] = "analysis_id"
    ID_PREFIX: ClassVar[str | None] = "A"
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "analysis_id": "id", "software": "text", "software_version": "id",
        "run_ids": "json", "parameters": "json", "library_name": "text",
        "library_sha256": "sha256", "criteria_profile": "text", "criteria_sha256": "sha256",
        "version": "int",
    }


@dataclass(frozen=True, slots=True)
class Result(Record):
    """A result as the analysis produced it (``data``: the batch's record, kept whole)."""

    case_id: str
    result_id: str
    data: Mapping[str, Any]
    analysis_id: str | None = None
    run_id: str | None = None
    exhibit_id: str | None = None
    summary: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "result"
    TABLE: ClassVar[str] = "results"
    ID_FIELD: ClassVar[str] = "result_id"
    ID_PREFIX: ClassVar[str | None] = "RS"
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "result_id": "id", "data": "json", "analysis_id": "id",
        "run_id": "id", "exhibit_id": "id", "summary": "text", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class Review(Record):
    """A technical review of one version of a result, by someone other than its author."""

    case_id: str
    review_id: str
    result_id: str
    result_version: int
    reviewer: str
    outcome: str
    comments: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "review"
    TABLE: ClassVar[str] = "reviews"
    ID_FIELD: ClassVar[str] = "review_id"
    ID_PREFIX: ClassVar[str | None] = "RV"
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "review_id": "id", "result_id": "id", "result_version": "int",
        "reviewer": "id", "outcome": "id", "comments": "text", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class Signature(Record):
    """An Ed25519 signature of one result version and the chain head (21 CFR 11.50).

    The signed message is :meth:`payload`: the result's record digest, the chain head
    (the entry just before the signature's own), the printed name, the UTC time and the
    meaning. ``signature`` is the 64-byte signature, base64.
    """

    case_id: str
    signature_id: str
    result_id: str
    result_version: int
    result_sha256: str
    chain_head_seq: int
    chain_head_sha256: str
    signer: str
    printed_name: str
    meaning: str
    signed_at: str
    key_fingerprint: str
    algorithm: str
    signature: str
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "signature"
    TABLE: ClassVar[str] = "signatures"
    ID_FIELD: ClassVar[str] = "signature_id"
    ID_PREFIX: ClassVar[str | None] = "S"
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "signature_id": "id", "result_id": "id", "result_version": "int",
        "result_sha256": "sha256", "chain_head_seq": "int", "chain_head_sha256": "sha256",
        "signer": "id", "printed_name": "text", "meaning": "id", "signed_at": "time",
        "key_fingerprint": "sha256", "algorithm": "id", "signature": "text",
        "version": "int",
    }

    def payload(self) -> bytes:
        """The exact bytes signed: canonical JSON of every field but the signature."""
        return signature_payload(
            case_id=self.case_id, result_id=self.result_id,
            result_version=self.result_version, result_sha256=self.result_sha256,
            chain_head_seq=self.chain_head_seq, chain_head_sha256=self.chain_head_sha256,
            signer=self.signer, printed_name=self.printed_name, meaning=self.meaning,
            signed_at=self.signed_at, key_fingerprint=self.key_fingerprint,
            algorithm=self.algorithm,
        )


def signature_payload(**fields: Any) -> bytes:
    """Canonical bytes of a signature's signed fields, tagged with their purpose."""
    return canonical_json({"purpose": "gcms result signature", "format": 1, **fields}).encode()


@dataclass(frozen=True, slots=True)
class AnalystKey(Record):
    """A registered public key: whose it is, the printed name, and whether it is active."""

    key_fingerprint: str
    user: str
    printed_name: str
    public_key: str
    algorithm: str = "Ed25519"
    status: str = "active"
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "analyst_key"
    TABLE: ClassVar[str] = "analyst_keys"
    ID_FIELD: ClassVar[str] = "key_fingerprint"
    ID_PREFIX: ClassVar[str | None] = None
    CASE_SCOPED: ClassVar[bool] = False
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "key_fingerprint": "sha256", "user": "id", "printed_name": "text",
        "public_key": "text", "algorithm": "id", "status": "id", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class IssuedReport(Record):
    """A report made from the case (ISO/IEC 17025 §7.8.8: amended reports identified).

    ``status`` is ``issued``, ``draft`` (the lab policy's requirements were not met, or
    an unrecorded results file was used) or ``superseded`` (a later version naming the
    amended report in ``superseded_by``). ``pdf_sha256`` is the SHA-256 of the file as
    written; ``chain_head_*`` the chain head the report states. Written by
    :mod:`gcms.custody.reports`.
    """

    case_id: str
    report_id: str
    exhibit_id: str
    status: str
    file_sha256: str
    file_format: str
    languages: str
    chain_head_seq: int
    chain_head_sha256: str
    analysis_id: str | None = None
    signers: tuple[Any, ...] = ()
    requirements: tuple[Any, ...] = ()
    unmet: tuple[Any, ...] = ()
    source: str | None = None
    results_sha256: str | None = None
    supersedes: str | None = None
    superseded_by: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "report"
    TABLE: ClassVar[str] = "reports"
    ID_FIELD: ClassVar[str] = "report_id"
    ID_PREFIX: ClassVar[str | None] = None
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "report_id": "id", "exhibit_id": "id", "status": "id",
        "file_sha256": "sha256", "file_format": "id", "languages": "id",
        "chain_head_seq": "int", "chain_head_sha256": "sha256", "analysis_id": "id",
        "signers": "json", "requirements": "json", "unmet": "json", "source": "text",
        "results_sha256": "sha256", "supersedes": "id", "superseded_by": "id",
        "version": "int",
    }


@dataclass(frozen=True, slots=True)
class ResultsFile(Record):
    """The SHA-256 of a batch's ``results.json`` recorded with its analysis.

    A report made from a results file (rather than from the store) is issued only when
    the file's digest is one of these (:mod:`gcms.custody.reports`).
    """

    case_id: str
    file_sha256: str
    analysis_id: str
    path: str | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "results_file"
    TABLE: ClassVar[str] = "results_files"
    ID_FIELD: ClassVar[str] = "file_sha256"
    ID_PREFIX: ClassVar[str | None] = None
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "case_id": "id", "file_sha256": "sha256", "analysis_id": "id", "path": "text",
        "version": "int",
    }


#: Whether a user may act.
USER_STATUSES: tuple[str, ...] = ("active", "disabled")


@dataclass(frozen=True, slots=True)
class User(Record):
    """A person enrolled in the store: login name, printed name, roles, status.

    Roles and what they allow: :mod:`gcms.custody.rules`. The printed name is the one
    every signature and report shows (21 CFR 11.50(a)(1)); keys take it from here.
    """

    user_id: str
    roles: tuple[str, ...]
    printed_name: str | None = None
    status: str = "active"
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "user"
    TABLE: ClassVar[str] = "users"
    ID_FIELD: ClassVar[str] = "user_id"
    ID_PREFIX: ClassVar[str | None] = None
    CASE_SCOPED: ClassVar[bool] = False
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "user_id": "id", "roles": "json", "printed_name": "text", "status": "id",
        "version": "int",
    }


@dataclass(frozen=True, slots=True)
class QaRecord(Record):
    """An instrument QA result a batch relied on (tune, ladder, check standard).

    Recorded in the chain by ``gcms batch --store`` from the batch's QA section, so that
    a QA result later deleted from the QA history is a detected break
    (:func:`gcms.custody.qa.check_qa_history`). ``qa_id`` is the SHA-256 of the
    canonical ``data`` (the batch's summary of the result: time, verdict, file and its
    SHA-256, failed criteria, the history's row id).
    """

    qa_id: str
    instrument_id: str
    kind: str
    verdict: str
    data: Mapping[str, Any]
    history: str | None = None
    history_id: int | None = None
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "qa_result"
    TABLE: ClassVar[str] = "qa_results"
    ID_FIELD: ClassVar[str] = "qa_id"
    ID_PREFIX: ClassVar[str | None] = None
    CASE_SCOPED: ClassVar[bool] = False
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "qa_id": "sha256", "instrument_id": "text", "kind": "id", "verdict": "id",
        "data": "json", "history": "text", "history_id": "int", "version": "int",
    }


@dataclass(frozen=True, slots=True)
class Credential(Record):
    """A user's sign-in password for the review workstation, as a commitment.

    The chain holds only ``hash_sha256``, the SHA-256 of the Argon2id hash string (which
    carries its own salt and parameters); the hash itself is kept beside the chain in the
    append-only ``password_hashes`` table, so that a bundle of a case, which carries the
    store's own entries, never carries a password hash. ``set_by`` is the user who set it
    (the user, or an admin resetting it). Written by :mod:`gcms.custody.credentials`.
    """

    user_id: str
    hash_sha256: str
    algorithm: str
    set_by: str
    version: int = 1

    OBJECT_TYPE: ClassVar[str] = "credential"
    TABLE: ClassVar[str] = "credentials"
    ID_FIELD: ClassVar[str] = "user_id"
    ID_PREFIX: ClassVar[str | None] = None
    CASE_SCOPED: ClassVar[bool] = False
    COLUMNS: ClassVar[Mapping[str, str]] = {
        "user_id": "id", "hash_sha256": "sha256", "algorithm": "id", "set_by": "id",
        "version": "int",
    }


#: Every record class by its object type (the ``object_type`` of audit entries).
RECORD_TYPES: Mapping[str, type[Record]] = MappingProxyType({
    cls.OBJECT_TYPE: cls
    for cls in (Case, Exhibit, CustodyTransfer, RunRecord, Analysis, Result, Review,
                Signature, AnalystKey, IssuedReport, ResultsFile, User, QaRecord,
                Credential)
})

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _check_value(kind: str, value: Any, where: str) -> Any:
    if kind == "files":
        if not isinstance(value, (list, tuple)) or not value:
            raise CustodyError(f"{where}: expected a non-empty list of files")
        files = []
        for i, item in enumerate(value):
            if isinstance(item, EvidenceFile):
                item = item.to_dict()
            if not isinstance(item, Mapping) or set(item) != {"path", "sha256", "size_bytes"}:
                raise CustodyError(f"{where}[{i}]: expected path, sha256 and size_bytes")
            files.append(EvidenceFile(
                _check_value("text", item["path"], f"{where}[{i}].path"),
                _check_value("sha256", item["sha256"], f"{where}[{i}].sha256"),
                _check_value("int", item["size_bytes"], f"{where}[{i}].size_bytes"),
            ))
        return tuple(files)
    if value is None:
        return None
    if kind == "json":
        canonical_json(value)  # refuses what has no canonical form
        return _freeze(value)
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise CustodyError(f"{where}: expected an integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise CustodyError(f"{where}: expected true or false, got {value!r}")
        return value
    if not isinstance(value, str):
        raise CustodyError(f"{where}: expected text, got {value!r}")
    if kind == "sha256" and not _HEX64.fullmatch(value):
        raise CustodyError(f"{where}: {value!r} is not a lower-case hex SHA-256")
    if kind == "time" and parse_utc(value, where) != value:
        raise CustodyError(f"{where}: {value!r} is not in the store's UTC form")
    if kind == "decimal":
        try:
            Decimal(value)
        except InvalidOperation as error:
            raise CustodyError(f"{where}: {value!r} is not a decimal number") from error
    return value


def record_from_dict(object_type: str, data: Mapping[str, Any]) -> Record:
    """Build and check a record from its JSON form; ``CustodyError`` names what is wrong."""
    cls = RECORD_TYPES.get(object_type)
    if cls is None:
        raise CustodyError(f"unknown object type {object_type!r}")
    if not isinstance(data, Mapping):
        raise CustodyError(f"{object_type}: expected an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise CustodyError(f"{object_type}: unknown field(s) {', '.join(sorted(unknown))}")
    values = {}
    for name, field in fields.items():
        where = f"{object_type}.{name}"
        if name in data:
            value = _check_value(cls.COLUMNS[name], data[name], where)
        elif field.default is not dataclasses.MISSING:
            value = field.default
        elif field.default_factory is not dataclasses.MISSING:
            value = field.default_factory()
        else:
            raise CustodyError(f"{where}: missing")
        if value is None and field.default is dataclasses.MISSING:
            raise CustodyError(f"{where}: missing")
        values[name] = value
    if cls.COLUMNS.get("seal_numbers") and values.get("seal_numbers") is None:
        values["seal_numbers"] = ()
    if "run_ids" in values and values["run_ids"] is None:
        values["run_ids"] = ()
    if cls is User:
        _check_user(values)
    if values["version"] is None or values["version"] < 1:
        raise CustodyError(f"{object_type}.version: must be 1 or more")
    return cls(**values)


def _check_user(values: dict[str, Any]) -> None:
    from gcms.custody.rules import ROLES

    roles = values["roles"]
    if not isinstance(roles, tuple) or not all(isinstance(r, str) for r in roles):
        raise CustodyError(f"user {values['user_id']}: roles must be a list of names")
    unknown = [r for r in roles if r not in ROLES]
    if unknown or len(set(roles)) != len(roles):
        raise CustodyError(f"user {values['user_id']}: roles {', '.join(roles)}: each "
                           f"must be one of {', '.join(ROLES)}, once")
    if values["status"] not in USER_STATUSES:
        raise CustodyError(f"user {values['user_id']}: status {values['status']!r} is "
                           f"not one of {', '.join(USER_STATUSES)}")


def record_sha256(record: Record | Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON: what a signature says it covers."""
    return sha256_of(record.to_dict() if isinstance(record, Record) else record)
