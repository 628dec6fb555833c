"""Verification of a custody chain: one implementation for the store and for bundles.

:func:`verify_chain` walks audit entries in ``seq`` order and checks, entry by entry:

1. **links**: ``seq`` runs 1, 2, 3, ... with no gap; each entry's ``prev_sha256`` is the
   stored hash of the entry before it; its ``content_sha256`` is the SHA-256 of its stored
   content bytes; its ``entry_sha256`` is recomputed by the chain rule of
   :mod:`gcms.custody.canonical`; the last entry is the recorded chain head;
2. **content**: canonical form, the fields an entry must have, the case tag of the
   entry's case, and (in a store) that the queryable columns copy the hashed content; an
   entry withheld from a bundle must carry another case's tag;
3. **history** (replay): a create makes a new object at version 1; a correction names
   the entry it supersedes and carries as its before-image exactly the version it
   replaces; references (exhibit of a transfer, result of a review...) exist;
4. **signatures**: the signature covers the entry just before its own (the chain head
   when it was made) and the digest of the result version it names; the key is
   registered, active and belongs to the signer; the Ed25519 signature verifies;
5. **people** (:mod:`gcms.custody.rules`): every entry names an enrolled, active user
   with a role that allows the action; entries a person answers for with their key
   carry a proof by a key registered to them and active; no one reviews or approves
   what they authored;
6. **anchors** (optional): heads taken outside the store (an issued report, a bundle, a
   checkpoint file, ``--expect-head``) are still entries of the chain with the same
   hash, so a chain cut short with its head moved back, or rewritten, is caught;
7. **root of trust** (optional): every admin entry is proven by a key whose fingerprint
   the lab pinned outside the store (:func:`load_trust`), so keys swapped inside the
   database are caught.

The store adds a comparison of its tables with the replayed history
(:func:`compare_rows`) and re-hashes the evidence (:func:`check_evidence`); a bundle adds
a comparison of its convenience sections with the replay. Each problem is a
:class:`Finding` naming the entry, record, signature or file; the first one is what
``gcms custody verify`` reports as the reason for exit status 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gcms.custody.canonical import GENESIS_PREV, canonical_json, entry_sha256, sha256_hex
from gcms.custody.evidence import compare_evidence
from gcms.custody.keys import verify_signature
from gcms.custody.records import (
    RECORD_TYPES,
    AnalystKey,
    Credential,
    Record,
    Result,
    Review,
    RunRecord,
    Signature,
    User,
    record_from_dict,
    record_sha256,
)
from gcms.custody.rules import (
    ADMIN_ACTIONS,
    RULE_PROOF,
    actor_problem,
    authorship_problem,
    counts_as_authorship,
    credential_problem,
    decision_problem,
    key_problem,
    needs_proof,
    proof_message,
)
from gcms.errors import CustodyError

__all__ = [
    "ACTIONS",
    "CONTENT_FIELDS",
    "Anchor",
    "Finding",
    "Link",
    "Replay",
    "VerificationReport",
    "check_evidence",
    "compare_rows",
    "decision_entry_problem",
    "expected_rows",
    "library_findings",
    "load_anchors",
    "load_library_pins",
    "load_trust",
    "parse_head",
    "verify_chain",
]

#: The fields of every entry's content.
CONTENT_FIELDS = frozenset({
    "action", "actor", "after", "at", "before", "case_id", "object_id", "object_type",
    "reason", "software", "supersedes",
})

#: Optional content field: the actor's proof (:mod:`gcms.custody.rules`).
PROOF_FIELD = "proof"

#: The audit-log columns that copy content fields (for queries).
COLUMN_FIELDS = ("actor", "action", "object_type", "object_id", "case_id")

#: Allowed actions per object type: ``create`` makes version 1, ``revise`` a new version.
ACTIONS: Mapping[str, Mapping[str, Literal["create", "revise"]]] = {
    "store": {"init": "create"},
    "checkpoint": {"sign": "create"},
    "user": {"add": "create", "roles": "revise", "name": "revise", "disable": "revise",
             "enable": "revise"},
    "qa_result": {"record": "create"},
    "case": {"open": "create", "correct": "revise"},
    "exhibit": {"receive": "create", "register": "create", "correct": "revise"},
    "custody_transfer": {"record": "create", "correct": "revise"},
    "run": {"attach": "create", "correct": "revise"},
    "analysis": {"record": "create"},
    "result": {"record": "create", "correct": "revise", "rerecord": "revise",
               "decide": "revise", "reintegrate": "revise"},
    "review": {"record": "create"},
    "signature": {"sign": "create"},
    "analyst_key": {"register": "create", "revoke": "revise"},
    "report": {"issue": "create", "draft": "create", "revise": "revise",
               "supersede": "revise"},
    "results_file": {"record": "create"},
    "credential": {"set": "create", "change": "revise"},
    # library versions (gcms.custody.libraries): replayed there, no record table
    "library": {"add": "revise", "correct": "revise", "retire": "revise", "merge": "revise",
                "approve": "revise"},
    # profiles, links, thresholds (gcms.custody.profiles): rows checked by their SHA-256
    "profiling": {"profile": "create", "calibrate": "create", "import": "create"},
}

FindingKind = Literal["entry", "chain", "record", "signature", "file", "bundle", "user",
                      "trust", "qa"]

#: The schema version from which a store enrols users from its creation: a store made
#: earlier (its ``store.init`` says so) is held to the rules from its first admin on.
USERS_SCHEMA = 3

#: The rule a pinned root of trust applies.
RULE_TRUST = "admin entries are proven by the admin keys the lab pinned outside the store"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing that does not verify: what it is (``subject``) and what is wrong."""

    kind: FindingKind
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}"

    def to_dict(self) -> dict[str, str]:
        """JSON form."""
        return {"kind": self.kind, "subject": self.subject, "problem": self.problem}


@dataclass(frozen=True, slots=True)
class Link:
    """One audit entry as stored: its hashes and content (``None`` where redacted).

    ``columns`` holds the store's queryable copies of content fields, when there are any.
    """

    seq: int
    prev_sha256: str
    content_sha256: str
    entry_sha256: str
    case_tag: str | None = None
    content: str | None = None
    columns: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class VerificationReport:
    """What a verification checked and every finding, in the order found."""

    source: str
    case_id: str | None
    entries: int
    head_seq: int
    head_sha256: str
    records: int
    files: int
    signatures: int
    findings: tuple[Finding, ...]
    #: entry proofs verified, chain heads checked against, whether a pinned root of
    #: trust was checked, checkpoints found
    proofs: int = 0
    anchors: tuple[str, ...] = ()
    trust_pinned: bool = False
    checkpoints: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.findings

    @property
    def first(self) -> Finding | None:
        """The first finding (what the command names), or ``None``."""
        return self.findings[0] if self.findings else None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "source": self.source, "case_id": self.case_id, "ok": self.ok,
            "entries": self.entries, "head": {"seq": self.head_seq,
                                              "entry_sha256": self.head_sha256},
            "records": self.records, "files": self.files, "signatures": self.signatures,
            "proofs": self.proofs, "anchors": list(self.anchors),
            "trust_pinned": self.trust_pinned, "checkpoints": self.checkpoints,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True, slots=True)
class Anchor:
    """A chain head taken outside the store: ``seq``, ``entry_sha256`` and where from."""

    seq: int
    entry_sha256: str
    source: str = "--expect-head"

    def __str__(self) -> str:
        return f"#{self.seq} {self.entry_sha256[:16]}... ({self.source})"


_HEX = frozenset("0123456789abcdef")


def parse_head(text: str, source: str = "--expect-head") -> Anchor:
    """An :class:`Anchor` from ``SEQ:HASH`` (``#`` before SEQ allowed)."""
    seq, sep, digest = text.strip().lstrip("#").partition(":")
    digest = digest.strip().lower()
    if not sep or not seq.strip().isdigit() or len(digest) != 64 or set(digest) - _HEX:
        raise CustodyError(f"{source}: {text.strip()!r} is not a chain head SEQ:SHA256")
    return Anchor(int(seq), digest, source)


def load_anchors(path: Any) -> list[Anchor]:
    """The chain heads a file states, for ``gcms custody verify --head-file``.

    A custody bundle (its ``head``), a checkpoint file (``gcms custody checkpoint -o``:
    the head it covers and its own entry), any JSON document with a ``chain_head``
    (``{"seq", "entry_sha256"}``, as ``gcms case show --json`` and reports state it) or
    that is one, or text with one ``SEQ:SHA256`` per line.
    """
    from pathlib import Path

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CustodyError(f"{path}: cannot read the head file ({error})") from error
    source = path.name
    try:
        data = json.loads(text)
    except ValueError:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise CustodyError(f"{path}: states no chain head") from None
        return [parse_head(line, source) for line in lines]

    def head(value: Any, what: str) -> Anchor:
        if not isinstance(value, Mapping) or not isinstance(value.get("seq"), int):
            raise CustodyError(f"{path}: {what} is not a chain head (seq, entry_sha256)")
        return parse_head(f"{value['seq']}:{value.get('entry_sha256')}", f"{source} {what}")

    if not isinstance(data, Mapping):
        raise CustodyError(f"{path}: states no chain head")
    if data.get("format") == "gcms-checkpoint/1":
        return [head(data.get("covers"), "checkpoint covers"), head(data.get("head"),
                                                                     "checkpoint")]
    if isinstance(data.get("head"), Mapping) and "links" in data:
        return [head(data["head"], "bundle head")]
    if "chain_head" in data:
        return [head(data["chain_head"], "chain_head")]
    if "seq" in data:
        return [head(data, "head")]
    raise CustodyError(f"{path}: states no chain head (a bundle, a checkpoint, or "
                       "a JSON document with chain_head)")


#: The rule library pins apply.
RULE_LIBRARY = "an analysis uses a library the lab's method or profile accepts"


def load_library_pins(path: Any) -> frozenset[str] | None:
    """The library identities a method or lab profile accepts, or None when it pins none.

    TOML: ``[library] accepted_sha256 = ["<identity_sha256>", ...]`` (the identity
    :func:`gcms.library.store.identity_sha256`: content, title and source files; ``gcms
    library info`` prints it).
    """
    from pathlib import Path

    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CustodyError(f"{path}: cannot read the library pins ({error})") from error
    section = data.get("library")
    if not isinstance(section, dict) or "accepted_sha256" not in section:
        return None
    values = section["accepted_sha256"]
    if not isinstance(values, list) or not values or not all(
        isinstance(v, str) and len(v) == 64 and not set(v.lower()) - _HEX for v in values
    ):
        raise CustodyError(f"{path}: [library] accepted_sha256 must be a non-empty list of "
                           "SHA-256 digests")
    return frozenset(v.lower() for v in values)


def library_findings(analyses: Iterable[Record], accepted: frozenset[str]) -> list[Finding]:
    """Name each analysis whose library identity is not one of ``accepted``."""
    findings = []
    for analysis in analyses:
        library = (analysis.parameters or {}).get("library") or {}
        if not library and not analysis.library_sha256:
            continue  # no library used
        identity = library.get("identity_sha256")
        subject = f"analysis {analysis.analysis_id} of case {analysis.case_id}"
        if identity is None:
            findings.append(Finding("trust", subject, "records no library identity, so its "
                                    f"library cannot be checked (rule: {RULE_LIBRARY})"))
        elif identity not in accepted:
            findings.append(Finding("trust", subject, f"used library "
                                    f"{library.get('title') or analysis.library_name!r} "
                                    f"(identity {identity[:16]}...), which is not one the lab "
                                    f"accepts (rule: {RULE_LIBRARY})"))
    return findings


def load_trust(path: Any) -> frozenset[str]:
    """The admin key fingerprints a lab pinned: a TOML file or a plain list.

    TOML (e.g. the lab profile): ``[trust] admin_keys = ["<fingerprint>", ...]``. Plain
    text: one fingerprint per line, ``#`` starting a comment. Each fingerprint is the
    SHA-256 (hex) of a raw Ed25519 public key (``gcms key list``); an empty list or a
    malformed fingerprint is refused (naming the file).
    """
    from pathlib import Path

    import tomllib

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CustodyError(f"{path}: cannot read the trust file ({error})") from error
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = None
    if data is not None and "trust" in data:
        values = data["trust"].get("admin_keys") if isinstance(data["trust"], dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise CustodyError(f"{path}: [trust] admin_keys must be a list of fingerprints")
    elif data:
        raise CustodyError(f"{path}: a TOML file without [trust] admin_keys")
    else:
        values = [line.split("#", 1)[0].strip() for line in text.splitlines()]
        values = [v for v in values if v]
    out = set()
    for value in values:
        value = value.strip().lower()
        if len(value) != 64 or set(value) - _HEX:
            raise CustodyError(f"{path}: {value!r} is not a key fingerprint (64 hex digits)")
        out.add(value)
    if not out:
        raise CustodyError(f"{path}: pins no admin key")
    return frozenset(out)


def _entry(seq: int) -> str:
    return f"entry #{seq}"


@dataclass
class _Version:
    seq: int
    record: Record


@dataclass
class Replay:
    """The history rebuilt from entries: every version of every object, by entry.

    ``scope`` limits the replay to one case (store-level entries, such as key
    registrations, are always replayed).
    """

    scope: str | None = None
    versions: dict[tuple[str, str | None, str], list[_Version]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    signatures_verified: int = 0
    entries_replayed: int = 0
    store_id: str | None = None
    #: heads taken outside the store that the chain must still hold
    anchors: tuple[Anchor, ...] = ()
    #: admin key fingerprints pinned outside the store (None: not checked)
    trusted: frozenset[str] | None = None
    proofs_verified: int = 0
    pinned_proofs: int = 0
    checkpoints: list[tuple[int, int, str]] = field(default_factory=list)
    #: who recorded or authored each result: {(case_id, result_id): {user}}
    authors: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    #: library versions so far (gcms.custody.libraries): {library_id: [[seq, after, ...]]}
    libraries: dict[str, list[list[Any]]] = field(default_factory=dict)
    #: rows vouched for by profiling entries (gcms.custody.profiles): {kind: {key: (seq, sha)}}
    profiling: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)
    _first_user: str | None = None
    _legacy: bool = False

    def in_scope(self, case_id: str | None) -> bool:
        """Whether an entry of ``case_id`` is replayed."""
        return case_id is None or self.scope is None or case_id == self.scope

    def current(self, object_type: str, case_id: str | None, object_id: str) -> Record | None:
        """The latest version of an object so far, or ``None``."""
        found = self.versions.get((object_type, case_id, object_id))
        return found[-1].record if found else None

    def records(self, object_type: str) -> list[Record]:
        """The latest version of every object of a type, in the order they were made."""
        return [v[-1].record for (t, _, _), v in self.versions.items() if t == object_type]

    def all_versions(self) -> Iterable[tuple[int, Record]]:
        """Every version of every object with the seq of the entry that wrote it."""
        for versions in self.versions.values():
            for version in versions:
                yield version.seq, version.record

    def _fail(self, kind: FindingKind, subject: str, problem: str) -> None:
        self.findings.append(Finding(kind, subject, problem))

    def apply(self, link: Link, content: Mapping[str, Any]) -> None:
        """Replay one parsed entry (already link-checked)."""
        self.entries_replayed += 1
        subject = _entry(link.seq)
        object_type, case_id = content["object_type"], content["case_id"]
        object_id = content["object_id"]
        action = content["action"]
        kind = ACTIONS.get(object_type, {}).get(action.partition(".")[2])
        if not action.startswith(f"{object_type}.") or kind is None:
            self._fail("entry", subject, f"unknown action {action!r} on {object_type!r}")
            return
        if object_type == "store":
            if link.seq != 1:
                self._fail("entry", subject, "store.init anywhere but entry #1")
            self.store_id = object_id
            after = content["after"] if isinstance(content["after"], Mapping) else {}
            version = after.get("schema_version")
            self._legacy = isinstance(version, int) and version < USERS_SCHEMA
            return
        if object_type == "checkpoint":
            self._checkpoint(link, content)
            return
        if object_type == "library":
            from gcms.custody.libraries import replay_library_entry

            replay_library_entry(self, link, content)
            return
        if object_type == "profiling":
            from gcms.custody.profiles import replay_profiling_entry

            replay_profiling_entry(self, link, content)
            return
        try:
            record = record_from_dict(object_type, content["after"])
        except CustodyError as error:
            self._fail("entry", subject, f"after-image is not a valid record: {error}")
            return
        cls = RECORD_TYPES[object_type]
        if record.object_id != object_id or (
            cls.CASE_SCOPED and record.case_id != case_id
        ) or (not cls.CASE_SCOPED and case_id is not None):
            self._fail("entry", subject, f"names {object_type} {object_id!r} of case "
                       f"{case_id!r} but its after-image is another object")
            return
        key = (object_type, case_id, object_id)
        history = self.versions.get(key)
        what = f"{object_type} {object_id}" + (f" of case {case_id}" if case_id else "")
        if kind == "create":
            if history:
                self._fail("entry", subject, f"creates {what}, which entry "
                           f"#{history[0].seq} already created")
                return
            if content["before"] is not None or content["supersedes"] is not None:
                self._fail("entry", subject, "a create with a before-image or supersedes")
                return
            if record.version != 1:
                self._fail("entry", subject, f"creates {what} at version {record.version}")
                return
        else:
            if not history:
                self._fail("entry", subject, f"corrects {what}, which does not exist")
                return
            last = history[-1]
            if content["supersedes"] != last.seq:
                self._fail("entry", subject, f"supersedes entry #{content['supersedes']} but "
                           f"the current version of {what} is from entry #{last.seq}")
                return
            if content["before"] != last.record.to_dict():
                self._fail("entry", subject, f"its before-image differs from {what} as "
                           f"entry #{last.seq} left it")
                return
            if record.version != last.record.version + 1:
                self._fail("entry", subject, f"version {record.version} follows "
                           f"version {last.record.version} of {what}")
                return
        problem = self._references(record)
        if problem:
            self._fail("entry", subject, problem)
            return
        tag = record.case_tag if object_type == "case" else (
            None if case_id is None else self.current("case", case_id, case_id).case_tag)
        if link.case_tag != tag:
            self._fail("entry", subject, f"its case tag is not the one of case {case_id!r}"
                       if case_id else "a store entry with a case tag")
            return
        # a broken rule is named, and the record still replayed: what follows is judged
        # on the history as written, so one breach is not repeated by every later entry
        self._check_people(link, content, record)
        if isinstance(record, Signature):
            self._check_signature(link, content, record)
        self.versions.setdefault(key, []).append(_Version(link.seq, record))
        if isinstance(record, User) and self._first_user is None:
            self._first_user = record.user_id
        if isinstance(record, Result) and counts_as_authorship(action):
            self.authors.setdefault((case_id, object_id), set()).add(content["actor"])
        elif isinstance(record, Signature) and record.meaning == "authored":
            self.authors.setdefault((case_id, record.result_id), set()).add(record.signer)

    def _users_exist(self) -> bool:
        return self.current("user", None, self._first_user) is not None \
            if self._first_user else False

    def _check_people(self, link: Link, content: Mapping[str, Any],
                      record: Record | None) -> bool:
        """The rules of :mod:`gcms.custody.rules` for one entry; False when one fails."""
        subject = _entry(link.seq)
        actor, action = content["actor"], content["action"]
        after = content["after"] if isinstance(content["after"], Mapping) else None
        bootstrap = (action == "user.add" and isinstance(record, User)
                     and record.user_id == actor and "admin" in record.roles
                     and not self._users_exist())
        if bootstrap:
            return True
        if self._legacy and not self._users_exist():
            return True  # a store made before users: its entries up to the first admin
        user = self.current("user", None, actor)
        problem = actor_problem(actor, user, action, after)
        if problem:
            self._fail("user", subject, problem)
            return False
        if isinstance(record, Review):
            if record.reviewer != actor:
                self._fail("user", subject, f"a review by {record.reviewer} recorded by "
                           f"{actor} (rule: {RULE_PROOF})")
                return False
            problem = authorship_problem(
                actor, self.authors.get((record.case_id, record.result_id), ()),
                f"result {record.result_id} of case {record.case_id}", "review it")
        elif isinstance(record, Signature) and record.meaning != "authored":
            problem = authorship_problem(
                record.signer, self.authors.get((record.case_id, record.result_id), ()),
                f"result {record.result_id} of case {record.case_id}",
                f"sign it as {record.meaning}")
        elif isinstance(record, Result) and action in ("result.decide", "result.reintegrate"):
            authors = self.authors.get((record.case_id, record.result_id), ())
            problem = decision_problem(actor, user, authors, f"result {record.result_id} "
                                       f"of case {record.case_id}") \
                if action == "result.decide" else None
            problem = problem or decision_entry_problem(content)
        elif isinstance(record, Result) and _decisions_of(content["before"]) != (
            _decisions_of(content["after"])
        ):
            problem = (f"{action} by {actor} changes the decisions of result "
                       f"{record.result_id}, which only a decision entry adds")
        elif isinstance(record, Credential):
            problem = credential_problem(actor, user, record.user_id)
            if problem is None and record.set_by != actor:
                problem = (f"a password of {record.user_id} said to be set by "
                           f"{record.set_by}, written by {actor} (rule: {RULE_PROOF})")
        elif isinstance(record, AnalystKey) and action.endswith(".register"):
            owner = self.current("user", None, record.user)
            if owner is None:
                problem = (f"registers a key for {record.user}, who is not an enrolled "
                           "user of the store")
        if problem:
            self._fail("user", subject, problem)
            return False
        if needs_proof(action):
            return self._check_proof(link, content, record)
        return True

    def _check_proof(self, link: Link, content: Mapping[str, Any],
                     record: Record | None) -> bool:
        subject = _entry(link.seq)
        actor, action = content["actor"], content["action"]
        proof = content.get(PROOF_FIELD)
        if not isinstance(proof, Mapping) or not isinstance(
            proof.get("key_fingerprint"), str
        ) or not isinstance(proof.get("signature"), str):
            self._fail("user", subject, f"{action} by {actor} carries no proof by their key "
                       f"(rule: {RULE_PROOF})")
            return False
        fp = proof["key_fingerprint"]
        key = self.current("analyst_key", None, fp)
        if key is None and isinstance(record, AnalystKey) and action.endswith(".register") \
                and record.key_fingerprint == fp and not any(
                    k.user == actor for k in self.records("analyst_key")):
            key = record  # an admin's first key proves its own registration
        problem = key_problem(actor, fp, key)
        if problem:
            self._fail("user", subject, f"{action} by {actor}: {problem}")
            return False
        if not verify_signature(key.public_key, proof_message(link.seq, link.prev_sha256,
                                                              content), proof["signature"]):
            self._fail("user", subject, f"the proof of {action} by {actor} does not verify "
                       f"with key {fp[:16]}... (altered after it was signed)")
            return False
        self.proofs_verified += 1
        if action in ADMIN_ACTIONS and self.trusted is not None:
            if fp not in self.trusted:
                self._fail("trust", subject, f"{action} by {actor} is proven by key "
                           f"{fp[:16]}..., which is not one of the lab's pinned admin keys "
                           f"(rule: {RULE_TRUST})")
                return False
            self.pinned_proofs += 1
        return True

    def _checkpoint(self, link: Link, content: Mapping[str, Any]) -> None:
        subject = _entry(link.seq)
        after = content["after"]
        if not isinstance(after, Mapping) or (after.get("seq"), after.get("entry_sha256")) \
                != (link.seq - 1, link.prev_sha256):
            self._fail("entry", subject, "a checkpoint that does not cover the entry just "
                       "before its own")
            return
        if self._check_people(link, content, None):
            self.checkpoints.append((link.seq, after["seq"], content["actor"]))

    def _references(self, record: Record) -> str | None:
        if not RECORD_TYPES[record.OBJECT_TYPE].CASE_SCOPED:
            return None
        case = record.case_id
        needed: list[tuple[str, str]] = []
        if record.OBJECT_TYPE != "case":
            needed.append(("case", case))
        for name in ("exhibit_id", "run_id", "analysis_id", "result_id"):
            value = getattr(record, name, None)
            if value is not None and record.ID_FIELD != name:
                needed.append((name.removesuffix("_id"), value))
        needed += [("run", run_id) for run_id in getattr(record, "run_ids", ()) or ()]
        for object_type, object_id in needed:
            if self.current(object_type, case, object_id) is None:
                return f"refers to {object_type} {object_id!r}, which does not exist"
        return None

    def _check_signature(self, link: Link, content: Mapping[str, Any], sig: Signature) -> None:
        subject = f"signature {sig.signature_id} of case {sig.case_id} (entry #{link.seq})"
        if (sig.chain_head_seq, sig.chain_head_sha256) != (link.seq - 1, link.prev_sha256):
            self._fail("signature", subject, "does not cover the entry just before its own "
                       f"(claims #{sig.chain_head_seq} {sig.chain_head_sha256[:16]}...)")
            return
        versions = self.versions.get(("result", sig.case_id, sig.result_id), [])
        target = next((v.record for v in versions if v.record.version == sig.result_version),
                      None)
        if target is None:
            self._fail("signature", subject,
                       f"result {sig.result_id} has no version {sig.result_version}")
            return
        if record_sha256(target) != sig.result_sha256:
            self._fail("signature", subject, f"result {sig.result_id} version "
                       f"{sig.result_version} is not the one that was signed")
            return
        key = self.current("analyst_key", None, sig.key_fingerprint)
        if not isinstance(key, AnalystKey):
            self._fail("signature", subject,
                       f"key {sig.key_fingerprint[:16]}... is not registered in the store")
            return
        if key.status != "active":
            self._fail("signature", subject, f"key {sig.key_fingerprint[:16]}... was "
                       "revoked before the signature was made (rule: a revoked key signs "
                       "nothing)")
            return
        if (key.user, key.printed_name) != (sig.signer, sig.printed_name) or (
            content["actor"] != sig.signer
        ):
            self._fail("signature", subject, f"made as {sig.signer} ({sig.printed_name}) "
                       f"with the key of {key.user} ({key.printed_name}) (rule: a key signs "
                       "only as the user it is registered to)")
            return
        if not verify_signature(key.public_key, sig.payload(), sig.signature):
            self._fail("signature", subject, f"the Ed25519 signature by {sig.printed_name} "
                       f"({sig.meaning}) does not verify with key {key.key_fingerprint[:16]}...")
            return
        self.signatures_verified += 1


def _decisions_of(image: Any) -> list[Any]:
    data = image.get("data") if isinstance(image, Mapping) else None
    return list(data.get("decisions") or []) if isinstance(data, Mapping) else []


_DECISION_KINDS = {"result.decide": "verdict", "result.reintegrate": "reintegration"}


#: What a decision may change in the component or quantitation row it names.
_DECIDED_FIELDS = {
    "verdict": ("verdict", "notes"),
    "reintegration": ("integration", "area", "height", "notes"),
    "reintegration-row": ("integration", "response", "reportable", "flags", "message"),
}


def _outside_decision(image: Mapping[str, Any], decision: Mapping[str, Any]) -> Any:
    """The result ``image`` without what ``decision`` may change: the rest must stay.

    A verdict decision changes its component's verdict and notes and that component's
    place in ``findings``; a re-integration the integration, area, height and notes of
    its component, or the integration, response, reportability, flags and message of
    its quantitation row. Everything else (other components, other rows, the record's
    own fields) a decision entry leaves as it was.
    """
    import copy

    rest = {k: copy.deepcopy(v) for k, v in image.items() if k != "version"}
    data = rest.get("data")
    if not isinstance(data, dict):
        return rest
    data.pop("decisions", None)
    number, analyte = decision.get("component"), decision.get("analyte")
    kind = decision.get("kind")

    def strip(items: Any, fields: tuple[str, ...], match) -> None:
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and match(item):
                for name in fields:
                    item.pop(name, None)

    if kind == "verdict" or (kind == "reintegration" and analyte is None):
        strip(data.get("components"), _DECIDED_FIELDS[str(kind)],
              lambda c: c.get("component") == number)
    elif kind == "reintegration":
        strip(data.get("quantitation"), _DECIDED_FIELDS["reintegration-row"],
              lambda q: str(q.get("substance", "")).casefold() == str(analyte).casefold())
    findings = data.get("findings")
    if kind == "verdict" and isinstance(findings, dict):
        for name in ("identified", "inconclusive"):
            if isinstance(findings.get(name), list):
                findings[name] = [f for f in findings[name] if not (
                    isinstance(f, Mapping) and f.get("component") == number)]
    return rest


def decision_entry_problem(content: Mapping[str, Any]) -> str | None:
    """What is wrong with a decision entry (:mod:`gcms.custody.decisions`); None if sound.

    The new version's ``data.decisions`` is the old one's plus one decision, which names
    the entry's actor, its reason, its kind, the version it made; a verdict decision's
    before and after are the component's verdict in the two versions; and nothing else
    of the result changes (:func:`_outside_decision`), so a decision entry, which does
    not make its actor an author, cannot carry another change past the review.
    """
    before = content.get("before") or {}
    after = content.get("after") or {}
    old = list((before.get("data") or {}).get("decisions") or [])
    new = list((after.get("data") or {}).get("decisions") or [])
    if len(new) != len(old) + 1 or new[:-1] != old:
        return "a decision entry that does not add exactly one decision to the result"
    last = new[-1]
    if not isinstance(last, Mapping):
        return "a decision that is not an object"
    expected = {"by": content.get("actor"), "reason": content.get("reason"),
                "kind": _DECISION_KINDS.get(content.get("action")),
                "result_version": after.get("version")}
    wrong = [k for k, v in expected.items() if last.get(k) != v]
    if wrong or not str(last.get("reason") or "").strip():
        return (f"decision {last.get('decision')} of result {after.get('result_id')}: "
                f"{', '.join(wrong) or 'reason'} differ(s) from its entry")
    if _outside_decision(before, last) != _outside_decision(after, last):
        return (f"decision {last.get('decision')} of result {after.get('result_id')}: the "
                "entry changes the result beyond what the decision names (another "
                "component, row or field)")
    if last["kind"] == "verdict":
        component = last.get("component")

        def verdict(data: Mapping[str, Any] | None) -> Any:
            parts = (data or {}).get("components") or []
            found = next((c for c in parts if isinstance(c, Mapping)
                          and c.get("component") == component), None)
            return None if found is None else found.get("verdict")

        if (verdict(before.get("data")), verdict(after.get("data"))) != (
            (last.get("before") or {}).get("verdict"), (last.get("after") or {}).get("verdict")
        ):
            return (f"decision {last.get('decision')} of result {after.get('result_id')}: "
                    f"component {component}'s verdict in the result is not the one decided")
    return None


def parse_content(link: Link) -> tuple[dict[str, Any] | None, Finding | None]:
    """Parse and check an entry's content text; a finding when it is malformed."""
    subject = _entry(link.seq)
    try:
        content = json.loads(link.content)
    except ValueError:
        return None, Finding("entry", subject, "content is not JSON")
    if not isinstance(content, dict) or set(content) - {PROOF_FIELD} != CONTENT_FIELDS:
        return None, Finding("entry", subject, "content does not have the fields of an entry")
    try:
        canonical = canonical_json(content)
    except CustodyError as error:
        return None, Finding("entry", subject, f"content has no canonical form: {error}")
    if canonical != link.content:
        return None, Finding("entry", subject, "content is not in canonical form")
    if link.columns is not None:
        for name in COLUMN_FIELDS:
            if link.columns.get(name) != content[name]:
                return None, Finding("entry", subject, f"column {name} says "
                                     f"{link.columns.get(name)!r} but the hashed content says "
                                     f"{content[name]!r}")
    return content, None


def verify_chain(
    links: Iterable[Link], *, head_seq: int, head_sha256: str, replay: Replay
) -> int:
    """Walk ``links`` in order, checking links and content and replaying into ``replay``.

    ``head_seq`` and ``head_sha256`` are the recorded chain head. Returns the number of
    entries walked; findings collect in ``replay.findings`` in the order met. Checks use
    the stored values of each entry, so one altered entry is named once and does not
    cast doubt on every entry after it.
    """
    findings = replay.findings
    anchored = {a.seq for a in replay.anchors}
    seen: dict[int, str] = {}
    expected, prev_stored, count = 1, GENESIS_PREV, 0
    withheld: list[tuple[int, str | None]] = []
    last_seq, last_hash = 0, GENESIS_PREV
    for link in links:
        count += 1
        subject = _entry(link.seq)
        if link.seq > expected:
            missing = (f"entry #{expected} is" if link.seq == expected + 1
                       else f"entries #{expected}-#{link.seq - 1} are")
            findings.append(Finding("chain", subject, f"{missing} missing before it"))
        elif link.seq < expected:
            findings.append(Finding("chain", subject, "appears out of order"))
        broken = False
        if link.prev_sha256 != prev_stored:
            findings.append(Finding("chain", subject, "does not link to the entry before it "
                                    f"(its prev hash is not the hash of entry #{last_seq})"))
        if link.content is not None and sha256_hex(link.content) != link.content_sha256:
            findings.append(Finding("entry", subject, "content was altered after it was "
                                    "written (its SHA-256 no longer matches)"))
            broken = True
        if entry_sha256(link.seq, link.prev_sha256, link.content_sha256,
                        link.case_tag) != link.entry_sha256:
            findings.append(Finding("entry", subject, "entry hash does not match its seq, "
                                    "prev hash and content hash (altered, moved or swapped)"))
            broken = True
        expected, prev_stored = link.seq + 1, link.entry_sha256
        last_seq, last_hash = link.seq, link.entry_sha256
        if link.seq in anchored:
            seen[link.seq] = link.entry_sha256
        if link.content is None:
            withheld.append((link.seq, link.case_tag))
        if broken or link.content is None:
            continue
        content, problem = parse_content(link)
        if problem is not None:
            findings.append(problem)
            continue
        if replay.in_scope(content["case_id"]):
            replay.apply(link, content)
    if last_seq < head_seq:
        missing = (f"entry #{head_seq} is" if head_seq == last_seq + 1
                   else f"entries #{last_seq + 1}-#{head_seq} are")
        findings.append(Finding("chain", f"entry #{head_seq}", f"{missing} missing: the chain "
                                f"head says #{head_seq} but the log ends at #{last_seq}"))
    elif last_seq > head_seq:
        findings.append(Finding("chain", f"entry #{head_seq + 1}", "entries after the chain "
                                f"head (#{head_seq}) were added without moving it"))
    elif last_hash != head_sha256:
        findings.append(Finding("chain", f"entry #{head_seq}", "its hash is not the one the "
                                "chain head records"))
    for anchor in replay.anchors:
        if anchor.seq not in seen:
            findings.append(Finding("chain", f"entry #{anchor.seq}", f"the chain head "
                                    f"{anchor} is not in the chain, which ends at "
                                    f"#{last_seq}: entries were deleted and the head moved "
                                    "back"))
        elif seen[anchor.seq] != anchor.entry_sha256:
            findings.append(Finding("chain", f"entry #{anchor.seq}", f"its hash is not the "
                                    f"one of the chain head {anchor}: the chain was "
                                    "rewritten from there or before"))
    if replay.trusted is not None and not replay.pinned_proofs:
        findings.append(Finding("trust", "store", "no admin entry is proven by one of the "
                                f"lab's pinned admin keys (rule: {RULE_TRUST})"))
    own = replay.current("case", replay.scope, replay.scope) if replay.scope else None
    for seq, tag in withheld:
        if tag is None or (own is not None and tag == own.case_tag):
            whose = "the store's own" if tag is None else f"case {replay.scope}"
            findings.append(Finding("chain", f"entry #{seq}", f"its content is withheld but "
                                    f"it is an entry of {whose}"))
    return count


def expected_rows(replay: Replay) -> dict[str, dict[tuple, dict[str, Any]]]:
    """Table rows the replayed history implies: ``{table: {primary key: row}}``."""
    from gcms.custody.schema import record_tables, run_files

    tables: dict[str, dict[tuple, dict[str, Any]]] = {
        table.name: {} for table in [*record_tables.values(), run_files]
    }
    for seq, record in replay.all_versions():
        table = record_tables[record.OBJECT_TYPE]
        row = record_row(record, seq)
        key = tuple(row[c.name] for c in table.primary_key.columns)
        tables[table.name][key] = row
        if isinstance(record, RunRecord):
            for f in record.files:
                file_row = {"case_id": record.case_id, "run_id": record.run_id,
                            "version": record.version, "path": f.path, "sha256": f.sha256,
                            "size_bytes": f.size_bytes}
                file_key = tuple(file_row[c.name] for c in run_files.primary_key.columns)
                tables[run_files.name][file_key] = file_row
    return tables


def record_row(record: Record, seq: int) -> dict[str, Any]:
    """The table row of one record version (JSON fields as canonical text)."""
    row: dict[str, Any] = {"entry_seq": seq}
    for name, kind in record.COLUMNS.items():
        if kind == "files":
            continue
        value = record.to_dict()[name]
        row[name] = canonical_json(value) if kind == "json" and value is not None else value
    return row


def _describe_row(table: str, row: Mapping[str, Any]) -> str:
    for object_type, cls in RECORD_TYPES.items():
        if cls.TABLE == table:
            where = f" of case {row.get('case_id')}" if cls.CASE_SCOPED else ""
            return f"{object_type} {row.get(cls.ID_FIELD)} v{row.get('version')}{where}"
    return (f"file {row.get('path')} of run {row.get('run_id')} v{row.get('version')} "
            f"of case {row.get('case_id')}")


def compare_rows(
    expected: Mapping[str, Mapping[tuple, Mapping[str, Any]]],
    actual: Mapping[str, Mapping[tuple, Mapping[str, Any]]],
) -> list[Finding]:
    """Name every table row that is missing, extra, or differs from the replayed log."""
    findings = []
    for table, rows in expected.items():
        have = actual.get(table, {})
        for key in sorted(rows.keys() | have.keys(), key=repr):
            want, got = rows.get(key), have.get(key)
            if got is None:
                findings.append(Finding("record", _describe_row(table, want),
                                        f"recorded in entry #{want.get('entry_seq', '?')} "
                                        f"but missing from table {table}"))
            elif want is None:
                findings.append(Finding("record", _describe_row(table, got),
                                        f"row in table {table} has no audit entry"))
            else:
                for column in want:
                    if _normal(got.get(column)) != _normal(want[column]):
                        findings.append(Finding(
                            "record", _describe_row(table, want),
                            f"column {column} of table {table} is {got.get(column)!r} but "
                            f"audit entry #{want.get('entry_seq', '?')} says "
                            f"{want[column]!r}"))
                        break
    return findings


def _normal(value: Any) -> Any:
    # SQLite has no boolean type: a bool column reads back as 0/1 through a raw query.
    return int(value) if isinstance(value, bool) else value


def check_evidence(runs: Iterable[RunRecord]) -> tuple[int, list[Finding]]:
    """Re-hash every run's evidence; returns files hashed and a finding per bad file."""
    hashed, findings = 0, []
    for run in runs:
        hashed += len(run.files)
        for path, problem in compare_evidence(run.evidence()):
            findings.append(Finding("file", f"file {path} (run {run.run_id} of case "
                                    f"{run.case_id})", problem))
    return hashed, findings
