"""The case store: cases, exhibits, custody, runs, analyses, results, reviews, signatures.

Every change is one audit entry (:mod:`gcms.custody.canonical` defines its hash) written
in the same transaction as the record row it describes, under the store's append lock
(:mod:`gcms.custody._db`). Nothing is updated or deleted: a correction is a new entry
carrying the superseded version as its before-image, the ``supersedes`` pointer and a
reason. What the store returns is read from the hashed audit content, never from the
queryable copies, and :meth:`CaseStore.verify` rebuilds every table from the log.

Typical use (what ``gcms batch --store S --case C`` does after a batch)::

    with CaseStore("/lab/store", actor="jdoe") as store:
        runs = store.record_runs("2025-0142", [{"path": "seq/E1.D", "exhibit_id": "E1"}])
        analysis = store.record_analysis("2025-0142", run_ids=[r.run_id for r in runs],
                                         parameters={...}, library="lib.h5")
        store.record_results("2025-0142", results_json["runs"],
                             analysis_id=analysis.analysis_id)
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcms.custody._db import (
    lock_schema,
    make_engine,
    resolve_location,
    writer_queue,
    writer_queue_path,
)
from gcms.custody.canonical import (
    canonical_json,
    entry_sha256,
    normalise,
    parse_utc,
    sha256_hex,
    utc_iso,
    utc_now,
)
from gcms.custody.evidence import compare_evidence, hash_evidence, manifest_sha256
from gcms.custody.keys import ALGORITHM, SigningKey, fingerprint, load_public_key
from gcms.custody.records import (
    MEANINGS,
    RECORD_TYPES,
    REVIEW_OUTCOMES,
    RUN_KINDS,
    Analysis,
    AnalystKey,
    Case,
    CustodyTransfer,
    Exhibit,
    Record,
    Result,
    Review,
    RunRecord,
    Signature,
    User,
    check_id,
    parse_weight,
    record_from_dict,
    record_sha256,
    signature_payload,
)
from gcms.custody.rules import (
    RULE_KEY_OWNER,
    RULE_PROOF,
    actor_problem,
    authorship_problem,
    key_problem,
    needs_proof,
    proof_message,
)
from gcms.custody.schema import (
    LATEST_VERSION,
    audit_log,
    migrate,
    record_tables,
    run_files,
    stored_version,
)
from gcms.custody.schema import (
    chain_head as head_table,
)
from gcms.custody.verify import (
    Anchor,
    Link,
    Replay,
    VerificationReport,
    check_evidence,
    compare_rows,
    expected_rows,
    library_findings,
    verify_chain,
)
from gcms.errors import CustodyError, TamperError

__all__ = ["FIRST_ADMIN_ROLES", "AuditEntry", "CaseStore", "adopt_store", "chain_head",
           "default_actor", "init_store", "run_metadata"]

#: Roles of the user who creates a store implicitly (by a first batch or command): the
#: store's first admin, who is also the analyst of that first batch.
FIRST_ADMIN_ROLES: tuple[str, ...] = ("admin", "analyst")

#: Object types whose records can be corrected (a new version); reviews, signatures and
#: analyses are never corrected: a new one is made instead.
CORRECTABLE = ("case", "exhibit", "custody_transfer", "run", "result")

#: Clock difference tolerated between machines (seconds) when a time a person gives is
#: checked against now: a receipt or hand-over later than that is refused.
CLOCK_SKEW_S = 300

#: Fields a correction may never change.
_IDENTITY = ("case_id", "case_tag", "version")
_RUN_EVIDENCE = ("path", "sha256", "size_bytes", "is_directory", "files")


def _enrolled_printed_name(location: Any, user: str, found: Any,
                           printed_name: str | None) -> str | None:
    """The store's printed name of enrolled ``user`` (``found``: its current record).

    Refuses a user who is not enrolled, and a ``printed_name`` other than the store's
    (a key signs only under the name the store holds for its user).
    """
    if found is None:
        raise CustodyError(f"{location}: refused: {user} is not an enrolled user of the "
                           "store ('gcms user add' by an admin first)")
    stored = found[0].printed_name
    if stored and printed_name and stored != printed_name:
        raise CustodyError(
            f"refused: the printed name of {user} is {stored!r} in the store, not "
            f"{printed_name!r} (rule: the printed name comes from the store)")
    return stored


def _identifier(value: Any, field: str, what: str) -> str:
    """A case, exhibit or user id typed by a person, checked.

    :func:`gcms.identifiers.check_identifier` (no bidirectional or invisible characters,
    no confusable script mixes), then the store's own limits.
    """
    from gcms.identifiers import check_identifier

    if not isinstance(value, str) or value != value.strip():
        return check_id(value, what)  # the store's message for padding and non-text
    return check_id(check_identifier(value, field), what)


def _not_future(moment: str, what: str) -> str:
    limit = utc_iso(utc_now() + timedelta(seconds=CLOCK_SKEW_S))
    if moment > limit:  # same fixed-width UTC form: text order is time order
        raise CustodyError(f"{what}: {moment} is in the future")
    return moment


def default_actor() -> str:
    """Who is acting: ``GCMS_ACTOR``, else the operating-system login name."""
    if os.environ.get("GCMS_ACTOR"):
        return os.environ["GCMS_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError) as error:  # no login name in some containers
        raise CustodyError("cannot tell who is acting: set GCMS_ACTOR or pass an actor") \
            from error


def run_metadata(path: str | os.PathLike) -> dict[str, str | None]:
    """What an acquisition file says about itself, for :meth:`CaseStore.attach_run`.

    Reads the run with :func:`gcms.io.read` and returns ``instrument``, ``acquired_at``,
    ``sample_name``, ``data_format`` and ``expected_sha256``: the digest the reader took
    of the bytes it decoded (in a ``.D`` folder, of its data file), which the custody
    hash must agree with. Raises ``FormatError`` when the file cannot be read as a run.
    """
    from gcms.io import read

    meta = read(path).metadata
    return {
        "instrument": meta.instrument,
        "acquired_at": utc_iso(meta.acquired_at) if meta.acquired_at else None,
        "sample_name": meta.sample_name,
        "data_format": meta.format,
        "expected_sha256": meta.sha256,
    }


def _software() -> str:
    import gcms

    return f"gcms {gcms.__version__}"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-log entry as written: who, when (UTC), what, before and after."""

    seq: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    case_id: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    supersedes: int | None
    reason: str | None
    software: str
    prev_sha256: str
    entry_sha256: str
    #: the actor's proof (key fingerprint and signature), where the entry carries one
    proof: Mapping[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        """Build from an ``audit_log`` row (its hashed content is the source)."""
        content = json.loads(row.content)
        return cls(seq=row.seq, prev_sha256=row.prev_sha256, entry_sha256=row.entry_sha256,
                   proof=content.get("proof"),
                   **{k: content[k] for k in (
                       "at", "actor", "action", "object_type", "object_id", "case_id",
                       "before", "after", "supersedes", "reason", "software")})

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class _Writer:
    """One write transaction holding the append lock: appends entries and record rows."""

    def __init__(self, store: CaseStore, conn: sa.Connection) -> None:
        self.store, self.conn = store, conn
        row = conn.execute(
            sa.select(head_table.c.seq, head_table.c.entry_sha256)
            .where(head_table.c.id == 1).with_for_update()
        ).one()
        self.seq, self.head = int(row.seq), row.entry_sha256
        self._start = self.seq
        self._tags: dict[str, str] = {}
        self._user: User | None = None
        #: set while the store makes its first entries (init, first admin)
        self.bootstrap = False

    def authorise(self, action: str, after: Any, signer: SigningKey | None,
                  registering: AnalystKey | None = None) -> None:
        """Refuse an entry the acting user may not write (:mod:`gcms.custody.rules`).

        ``signer`` is the key that proves the entry; ``registering``, the key an admin
        registers, which may prove its own registration.
        """
        if self.bootstrap:
            return
        actor = self.store.actor
        if self._user is None or self._user.user_id != actor:
            found = self.store._current(self.conn, "user", None, actor)
            self._user = found[0] if found else None
        problem = actor_problem(actor, self._user, action,
                                after if isinstance(after, Mapping) else None)
        if problem and self._user is None and not self.store._records(self.conn, "user"):
            problem += ("; this store has no users yet: it was made before users were "
                        "enrolled ('gcms store adopt --admin NAME')")
        if problem:
            raise CustodyError(f"{self.store.location}: refused: {problem}")
        if signer is None:
            if needs_proof(action):
                raise CustodyError(f"{self.store.location}: refused: {action} by {actor} "
                                   f"needs {actor}'s private key (rule: {RULE_PROOF})")
            return
        found = self.store._current(self.conn, "analyst_key", None, signer.fingerprint)
        key = found[0] if found else None
        if key is None and registering is not None and (
            registering.key_fingerprint == signer.fingerprint
        ):
            if any(k.user == actor for k in self.store._records(self.conn, "analyst_key")):
                raise CustodyError(
                    f"{self.store.location}: refused: {actor} already has a registered key; "
                    f"a new one is registered with a key already registered to an admin "
                    f"(rule: {RULE_PROOF})")
            key = registering  # an admin's first key proves its own registration
        problem = key_problem(actor, signer.fingerprint, key)
        if problem:
            raise CustodyError(f"{self.store.location}: refused: {problem}")

    def case_tag(self, case_id: str) -> str:
        """The tag of a case, which goes into the hash of each of its entries."""
        if case_id not in self._tags:
            case, _ = self.store._require(self.conn, "case", case_id, case_id)
            self._tags[case_id] = case.case_tag
        return self._tags[case_id]

    def append(self, action: str, *, object_type: str, object_id: str, case_id: str | None,
               before: Any, after: Any, supersedes: int | None = None,
               reason: str | None = None, actor: str | None = None,
               case_tag: str | None = None, signer: SigningKey | None = None,
               registering: AnalystKey | None = None) -> int:
        self.authorise(action, after, signer, registering)
        content: dict[str, Any] = {
            "action": action, "actor": actor or self.store.actor,
            "at": utc_iso(utc_now()), "object_type": object_type, "object_id": object_id,
            "case_id": case_id, "before": before, "after": after,
            "supersedes": supersedes, "reason": reason, "software": _software(),
        }
        seq = self.seq + 1
        if signer is not None:
            content = normalise(content, "entry")
            content["proof"] = {
                "key_fingerprint": signer.fingerprint, "algorithm": ALGORITHM,
                "signature": signer.sign(proof_message(seq, self.head, content)),
            }
        text = canonical_json(content)
        content_sha = sha256_hex(text)
        entry_sha = entry_sha256(seq, self.head, content_sha, case_tag)
        self.conn.execute(audit_log.insert().values(
            seq=seq, prev_sha256=self.head, content_sha256=content_sha,
            entry_sha256=entry_sha, recorded_at=content["at"], actor=content["actor"],
            action=action, object_type=object_type, object_id=object_id, case_id=case_id,
            case_tag=case_tag, content=text,
        ))
        self.seq, self.head = seq, entry_sha
        return seq

    def put(self, action: str, record: Record, *, before: Record | None = None,
            supersedes: int | None = None, reason: str | None = None,
            actor: str | None = None, signer: SigningKey | None = None) -> int:
        """Append the entry for ``record`` and insert its row (and its file rows)."""
        from gcms.custody.verify import record_row

        case_id = record.case_id if record.CASE_SCOPED else None
        if isinstance(record, Case):
            tag = record.case_tag
            self._tags[case_id] = tag
        else:
            tag = None if case_id is None else self.case_tag(case_id)
        seq = self.append(
            action, object_type=record.OBJECT_TYPE, object_id=record.object_id,
            case_id=case_id, before=before.to_dict() if before is not None else None,
            after=record.to_dict(), supersedes=supersedes, reason=reason, actor=actor,
            case_tag=tag, signer=signer,
            registering=record if isinstance(record, AnalystKey) else None,
        )
        self.conn.execute(record_tables[record.OBJECT_TYPE].insert().values(
            **record_row(record, seq)))
        if isinstance(record, RunRecord):
            self.conn.execute(run_files.insert(), [
                {"case_id": record.case_id, "run_id": record.run_id,
                 "version": record.version, "path": f.path, "sha256": f.sha256,
                 "size_bytes": f.size_bytes} for f in record.files])
        return seq

    def finish(self) -> None:
        if self.seq != self._start:
            self.conn.execute(head_table.update().where(head_table.c.id == 1)
                              .values(seq=self.seq, entry_sha256=self.head))

    def next_id(self, cls: type[Record], case_id: str) -> str:
        table = record_tables[cls.OBJECT_TYPE]
        count = self.conn.execute(sa.select(sa.func.count()).select_from(table).where(
            table.c.case_id == case_id, table.c.version == 1)).scalar_one()
        return f"{cls.ID_PREFIX}{count + 1}"


@functools.lru_cache(maxsize=256)
def _latest_statement(object_type: str, names: tuple[str, ...], all_versions: bool,
                      order: tuple[str, ...] | None) -> sa.Select:
    # Built once per shape with bound parameters: constructing a statement costs more
    # than running it on a small store.
    table = record_tables[object_type]
    query = sa.select(table.c.entry_seq, audit_log.c.content).join(
        audit_log, audit_log.c.seq == table.c.entry_seq).where(
        *(table.c[name] == sa.bindparam(f"p_{name}") for name in names))
    if not all_versions:
        # a correlated max() over the primary key: one index probe per row, whatever the
        # planner's statistics say (an anti-join can degrade to a quadratic scan)
        keys = [c.name for c in table.primary_key.columns if c.name != "version"]
        newer = table.alias("newer")
        latest = (sa.select(sa.func.max(newer.c.version))
                  .where(*(newer.c[k] == table.c[k] for k in keys)).scalar_subquery())
        query = query.where(table.c.version == latest)
    if order is None:
        return query.order_by(table.c.entry_seq)
    return query.order_by(*(table.c[name].desc() for name in order)).limit(1)


def _latest_query(object_type: str, case_id: str | None, where: Mapping[str, Any], *,
                  all_versions: bool = False, last_by: tuple[str, ...] | None = None):
    """Rows (``entry_seq``, hashed ``content``) of matching objects, in written order.

    The latest version of each object, or every version with ``all_versions``; with
    ``last_by``, only the row that sorts last by those columns. Returns the statement
    with its parameters bound.
    """
    where = dict(where)
    if case_id is not None and RECORD_TYPES[object_type].CASE_SCOPED:
        where["case_id"] = case_id
    names = tuple(sorted(where))
    statement = _latest_statement(object_type, names, all_versions, last_by)
    return statement.params({f"p_{name}": where[name] for name in names})


class CaseStore:
    """A case store at a folder (SQLite) or a PostgreSQL URL; see the module docstring.

    Parameters
    ----------
    location
        Folder, database URL, or ``None`` for ``GCMS_STORE`` / the platform data folder.
    actor
        Who is acting (recorded in every entry); ``GCMS_ACTOR`` or the login name. Only
        the name of a user enrolled in the store (``gcms user``): any change by someone
        else is refused. Reading needs no enrolment.
    create
        Make the store (folder, schema) when absent; otherwise it must exist. The actor
        who makes a store is its first admin (:data:`FIRST_ADMIN_ROLES`), stated in the
        audit log's entry #2.
    """

    def __init__(self, location: str | os.PathLike | None = None, *,
                 actor: str | None = None, create: bool = True,
                 _first_admin: tuple[str | None, tuple[str, ...]] | None = None) -> None:
        from gcms.identifiers import check_identifier

        url, self.location = resolve_location(location, create=create)
        self.actor = check_id(check_identifier(actor or default_actor(), "actor"), "actor")
        self._engine = make_engine(url)
        self._queue = writer_queue_path(url)
        try:
            self._initialise(create=create, first_admin=_first_admin)
        except BaseException:
            self._engine.dispose()
            raise

    # -- plumbing ----------------------------------------------------------------------

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CaseStore({self.location!r}, actor={self.actor!r})"

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sa.Connection]:
        try:
            with writer_queue(self._queue if write else None), \
                    self._engine.connect() as conn:
                if write:
                    conn.execution_options(gcms_write=True)
                elif self.dialect == "postgresql":
                    conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield conn
        except sa.exc.IntegrityError as error:
            raise CustodyError(f"{self.location}: the store refused the change "
                               f"({error.orig})") from error
        except sa.exc.DBAPIError as error:
            raise CustodyError(f"{self.location}: database error ({error.orig})") from error

    @contextmanager
    def _writing(self) -> Iterator[_Writer]:
        with self._transaction(write=True) as conn:
            writer = _Writer(self, conn)
            yield writer
            writer.finish()

    def _initialise(self, *, create: bool,
                    first_admin: tuple[str | None, tuple[str, ...]] | None) -> None:
        with self._transaction(write=False) as conn:
            version = stored_version(conn)
            head = conn.execute(sa.select(head_table.c.seq)).scalar() if version else 0
        if version == 0 and not create:
            raise CustodyError(f"{self.location}: not a gcms case store")
        if version != LATEST_VERSION:
            with self._transaction(write=True) as conn:
                lock_schema(conn)
                migrate(conn, self.location)
            head = 0
        if head == 0:
            printed_name, roles = first_admin or (None, FIRST_ADMIN_ROLES)
            with self._writing() as w:
                if w.seq == 0:
                    w.bootstrap = True
                    store_id = uuid.uuid4().hex
                    w.append("store.init", object_type="store", object_id=store_id,
                             case_id=None, before=None,
                             after={"store_id": store_id, "schema_version": LATEST_VERSION})
                    admin = User(user_id=self.actor, roles=tuple(roles),
                                 printed_name=printed_name)
                    record_from_dict("user", admin.to_dict())
                    w.put("user.add", admin, reason=f"first administrator of the store: "
                          f"{self.actor}, who created it")
                    w.bootstrap = False

    def _current(self, conn: sa.Connection, object_type: str, case_id: str | None,
                 object_id: str) -> tuple[Record, int] | None:
        cls = RECORD_TYPES[object_type]
        rows = conn.execute(_latest_query(object_type, case_id, {cls.ID_FIELD: object_id}))
        row = rows.first()
        if row is None:
            return None
        return record_from_dict(object_type, json.loads(row.content)["after"]), row.entry_seq

    def _records(self, conn: sa.Connection, object_type: str, case_id: str | None = None,
                 **where: Any) -> list[Record]:
        rows = conn.execute(_latest_query(object_type, case_id, where))
        return [record_from_dict(object_type, json.loads(r.content)["after"]) for r in rows]

    def _require(self, conn: sa.Connection, object_type: str, case_id: str | None,
                 object_id: str) -> tuple[Record, int]:
        found = self._current(conn, object_type, case_id, object_id)
        if found is None:
            label = object_type.replace("_", " ")
            where = f" in case {case_id}" if case_id and object_type != "case" else ""
            raise CustodyError(f"{label} {object_id!r}{where}: not in the store {self.location}")
        return found

    # -- cases and exhibits --------------------------------------------------------------

    def open_case(self, case_id: str, *, title: str | None = None,
                  submitting_agency: str | None = None, agency_reference: str | None = None,
                  notes: str | None = None, reason: str | None = None) -> Case:
        """Open a new case; refuses an identifier already in use.

        ``reason``, when given, is kept in the audit entry (e.g. opened by a batch).
        """
        case = Case(_identifier(case_id, "case_id", "case"), secrets.token_hex(32), title,
                    submitting_agency, agency_reference, notes)
        with self._writing() as w:
            if self._current(w.conn, "case", case_id, case_id) is not None:
                raise CustodyError(f"case {case_id!r}: already exists in {self.location}")
            w.put("case.open", case, reason=reason)
        return case

    def receive_exhibit(
        self, case_id: str, exhibit_id: str, *, description: str,
        seal_numbers: Sequence[str] = (), packaging: str | None = None,
        gross_weight: str | None = None, net_weight: str | None = None,
        item_count: int | None = None, received_from: str | None = None,
        received_by: str | None = None, received_at: str | None = None,
        condition: str | None = None,
    ) -> Exhibit:
        """Record an exhibit as received (weights as ``"12.50 g"``; times ISO 8601).

        ``received_by`` defaults to the acting user and ``received_at`` to now.
        """
        if not description or not description.strip():
            raise CustodyError(f"exhibit {exhibit_id!r}: a description is required")
        gross, gross_unit = parse_weight(gross_weight, f"exhibit {exhibit_id} gross weight")
        net, net_unit = parse_weight(net_weight, f"exhibit {exhibit_id} net weight")
        exhibit = Exhibit(
            case_id=case_id, exhibit_id=_identifier(exhibit_id, "exhibit_id", "exhibit"),
            description=description, seal_numbers=_seals(seal_numbers, exhibit_id),
            packaging=packaging, gross_weight=gross, gross_weight_unit=gross_unit,
            net_weight=net, net_weight_unit=net_unit, item_count=item_count,
            received_from=received_from, received_by=received_by or self.actor,
            received_at=_not_future(
                parse_utc(received_at, f"exhibit {exhibit_id} received_at"),
                f"exhibit {exhibit_id} received_at") if received_at else utc_iso(utc_now()),
            condition=condition,
        )
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            if self._current(w.conn, "exhibit", case_id, exhibit_id) is not None:
                raise CustodyError(f"exhibit {exhibit_id!r} in case {case_id}: already recorded")
            w.put("exhibit.receive", exhibit)
        return exhibit

    def register_exhibits(self, case_id: str, exhibits: Mapping[str, str], *,
                          reason: str) -> list[Exhibit]:
        """Register exhibits known only by their identifier (from a run sequence).

        ``exhibits`` maps each exhibit identifier to the text recorded as its description,
        which should say where the identifier came from and that the item as received is
        not described yet. Nothing of the receipt is invented: seals, packaging, weights,
        from whom, by whom and when stay empty until a correction (``correct``) fills
        them. Exhibits the case already holds are left as they are. One transaction,
        one ``exhibit.register`` entry per new exhibit, carrying ``reason``; returns the
        new exhibits.
        """
        if not reason or not reason.strip():
            raise CustodyError(f"case {case_id}: registering exhibits needs a reason")
        new = []
        for exhibit_id, description in exhibits.items():
            if not description or not description.strip():
                raise CustodyError(f"exhibit {exhibit_id!r}: a description is required")
            new.append(Exhibit(case_id=case_id,
                               exhibit_id=_identifier(exhibit_id, "exhibit_id", "exhibit"),
                               description=description))
        out = []
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            for exhibit in new:
                if self._current(w.conn, "exhibit", case_id, exhibit.exhibit_id) is None:
                    w.put("exhibit.register", exhibit, reason=reason)
                    out.append(exhibit)
        return out

    def transfer_exhibit(
        self, case_id: str, exhibit_id: str, *, from_party: str, to_party: str,
        transferred_at: str | None = None, purpose: str | None = None,
        seal_intact: bool | None = None, seal_numbers: Sequence[str] = (),
        notes: str | None = None,
    ) -> CustodyTransfer:
        """Record a physical hand-over of an exhibit.

        The giver must be the exhibit's current holder (the last transfer's receiver, or
        who received it into the laboratory), and the time must not precede the last
        hand-over: continuity and sequence are checked when written (21 CFR 11.10(f)).
        """
        at = _not_future(parse_utc(transferred_at, "transferred_at"),
                         f"exhibit {exhibit_id} transferred_at") if transferred_at else utc_iso(
            utc_now())
        for value, what in ((from_party, "from"), (to_party, "to")):
            if not value or not value.strip():
                raise CustodyError(f"exhibit {exhibit_id!r}: the transfer needs a {what} party")
        with self._writing() as w:
            exhibit, _ = self._require(w.conn, "exhibit", case_id, exhibit_id)
            holder, since = self._holder(w.conn, exhibit)
            if holder is not None and holder != from_party:
                raise CustodyError(f"exhibit {exhibit_id} in case {case_id}: held by "
                                   f"{holder!r}, so it cannot be handed over by {from_party!r}")
            if since is not None and at < since:
                raise CustodyError(f"exhibit {exhibit_id} in case {case_id}: transfer at {at} "
                                   f"precedes the last hand-over or receipt ({since})")
            transfer = CustodyTransfer(
                case_id=case_id, transfer_id=w.next_id(CustodyTransfer, case_id),
                exhibit_id=exhibit_id, from_party=from_party, to_party=to_party,
                transferred_at=at, purpose=purpose, seal_intact=seal_intact,
                seal_numbers=_seals(seal_numbers, exhibit_id), notes=notes,
            )
            w.put("custody_transfer.record", transfer)
        return transfer

    def _holder(self, conn: sa.Connection, exhibit: Exhibit) -> tuple[str | None, str | None]:
        last = conn.execute(_latest_query(
            "custody_transfer", exhibit.case_id, {"exhibit_id": exhibit.exhibit_id},
            last_by=("transferred_at", "entry_seq"))).first()
        if last is not None:
            transfer = json.loads(last.content)["after"]
            return transfer["to_party"], transfer["transferred_at"]
        return exhibit.received_by, exhibit.received_at

    # -- corrections ------------------------------------------------------------------

    def correct(self, object_type: str, case_id: str, object_id: str, *, reason: str,
                changes: Mapping[str, Any], key: SigningKey | None = None) -> Record:
        """Write a new version of a record with ``changes``, superseding the current one.

        ``key``: the acting user's unlocked key, which proves the entry (required:
        :mod:`gcms.custody.rules`). ``reason`` is required and kept in the entry.
        Identity fields, and a run's evidence digests, cannot change (attach the
        evidence again instead). Weights may be given as ``"10.2 g"``; times are parsed
        as ISO 8601.
        """
        if object_type not in CORRECTABLE:
            raise CustodyError(f"{object_type} records are never corrected: "
                               "record a new one instead")
        if not reason or not reason.strip():
            raise CustodyError(f"{object_type} {object_id!r}: a correction needs a reason")
        cls = RECORD_TYPES[object_type]
        forbidden = set(changes) & {*_IDENTITY, cls.ID_FIELD,
                                    *(_RUN_EVIDENCE if object_type == "run" else ())}
        if forbidden:
            raise CustodyError(f"{object_type} {object_id!r}: {', '.join(sorted(forbidden))} "
                               "cannot be corrected")
        changes = dict(changes)
        for name in ("gross_weight", "net_weight"):
            if object_type == "exhibit" and isinstance(changes.get(name), str) and " " in (
                changes[name].strip()
            ):
                changes[name], changes[f"{name}_unit"] = parse_weight(changes[name], name)
        for name, kind in cls.COLUMNS.items():
            if kind == "time" and isinstance(changes.get(name), str):
                changes[name] = parse_utc(changes[name], name)
        with self._writing() as w:
            current, seq = self._require(w.conn, object_type, case_id, object_id)
            updated = record_from_dict(object_type, {**current.to_dict(), **normalise(
                changes, object_type), "version": current.version + 1})
            if updated.to_dict() == {**current.to_dict(), "version": updated.version}:
                raise CustodyError(f"{object_type} {object_id!r}: the correction changes nothing")
            self._check_references(w.conn, updated)
            w.put(f"{object_type}.correct", updated, before=current, supersedes=seq,
                  reason=reason, signer=key)
        return updated

    def _check_references(self, conn: sa.Connection, record: Record) -> None:
        for name in ("exhibit_id", "run_id", "analysis_id"):
            value = getattr(record, name, None)
            if value is not None and record.ID_FIELD != name:
                self._require(conn, name.removesuffix("_id"), record.case_id, value)
        for run_id in getattr(record, "run_ids", ()) or ():
            self._require(conn, "run", record.case_id, run_id)

    def relocate_run(self, case_id: str, run_id: str, new_path: str | os.PathLike, *,
                     reason: str, key: SigningKey | None = None) -> RunRecord:
        """Record that a run's evidence moved; the bytes at ``new_path`` must be identical.

        A correction: ``key`` (the acting user's) proves it.
        """
        with self._transaction(write=False) as conn:
            run, _ = self._require(conn, "run", case_id, run_id)
        digest = hash_evidence(new_path)
        problems = compare_evidence(run.evidence(), digest)
        if problems:
            raise TamperError(f"run {run_id} of case {case_id}: {problems[0][0]} "
                              f"{problems[0][1]}; not the evidence that was attached")
        with self._writing() as w:
            current, seq = self._require(w.conn, "run", case_id, run_id)
            updated = record_from_dict("run", {**current.to_dict(), "path": digest.path,
                                               "version": current.version + 1})
            w.put("run.correct", updated, before=current, supersedes=seq, reason=reason,
                  signer=key)
        return updated

    # -- runs, analyses, results ------------------------------------------------------------

    def attach_run(
        self, case_id: str, path: str | os.PathLike, *, exhibit_id: str | None = None,
        kind: str = "sample", sample_name: str | None = None, instrument: str | None = None,
        acquired_at: str | None = None, data_format: str | None = None,
        expected_sha256: str | None = None,
    ) -> RunRecord:
        """Hash an acquisition (file or ``.D`` folder) read-only and attach it to a case.

        Refuses a path already attached to the case. ``expected_sha256``, when given, is
        a digest taken earlier, e.g. when a reader decoded the file: it must be the file's
        digest, or for a folder the digest of the folder (custody form or line manifest,
        :func:`~gcms.custody.evidence.manifest_sha256`) or of one file in it.
        """
        return self._attach(case_id, [{
            "path": path, "exhibit_id": exhibit_id, "kind": kind, "sample_name": sample_name,
            "instrument": instrument, "acquired_at": acquired_at, "data_format": data_format,
            "sha256": expected_sha256,
        }], reuse=False)[0]

    def record_runs(self, case_id: str,
                    runs: Iterable[Mapping[str, Any] | str | os.PathLike]) -> list[RunRecord]:
        """Attach a batch's runs in one transaction; idempotent for a resumed batch.

        Each item is a path or a mapping with ``path`` (or ``file``) and optionally
        ``exhibit_id``, ``kind`` (or ``type``: sample/blank/ladder/standard/qc),
        ``sample_name`` (or ``sample_id``), ``instrument``, ``acquired_at``,
        ``data_format`` (or ``format``) and ``sha256`` (the digest the batch took of the
        file, or of a folder's manifest or of the data file in it, checked against the
        custody hashes); other keys are ignored. A path already attached to
        the case with the same digest returns the existing run; with another digest the
        call is refused (evidence at that path has changed).
        """
        items = []
        for item in runs:
            if not isinstance(item, Mapping):
                item = {"path": item}
            items.append({
                "path": item.get("path", item.get("file")),
                "exhibit_id": item.get("exhibit_id") or None,
                "kind": item.get("kind", item.get("type")) or "sample",
                "sample_name": item.get("sample_name", item.get("sample_id")),
                "instrument": item.get("instrument"),
                "acquired_at": item.get("acquired_at"),
                "data_format": item.get("data_format", item.get("format")),
                "sha256": item.get("sha256"),
            })
        return self._attach(case_id, items, reuse=True)

    def _attach(self, case_id: str, items: list[dict[str, Any]], *,
                reuse: bool) -> list[RunRecord]:
        prepared = []
        for item in items:
            if item["path"] is None:
                raise CustodyError(f"case {case_id}: a run without a path")
            if item["kind"] not in RUN_KINDS:
                raise CustodyError(f"{item['path']}: run kind {item['kind']!r} is not one of "
                                   f"{', '.join(RUN_KINDS)}")
            digest = hash_evidence(item["path"])  # outside the lock: hashing can take long
            item = dict(item)
            expected = item.pop("sha256")
            item.pop("path")
            if expected is not None and expected not in (
                digest.sha256, manifest_sha256(digest),
                *(f.sha256 for f in digest.files if digest.is_directory)
            ):
                raise TamperError(f"{digest.path}: SHA-256 {digest.sha256} differs from "
                                  f"{expected} taken when the file was read")
            acquired = item["acquired_at"]
            item["acquired_at"] = (parse_utc(acquired, f"{digest.path} acquired_at")
                                   if acquired else None)
            prepared.append((digest, item))
        out = []
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            attached = {r.path: r for r in self._records(w.conn, "run", case_id)}
            for digest, item in prepared:
                existing = attached.get(digest.path)
                if existing is not None:
                    if existing.sha256 != digest.sha256:
                        raise TamperError(
                            f"{digest.path}: attached to case {case_id} as run "
                            f"{existing.run_id} with SHA-256 {existing.sha256}, now "
                            f"{digest.sha256}: the evidence at that path has changed")
                    if not reuse:
                        raise CustodyError(f"{digest.path}: already attached to case "
                                           f"{case_id} as run {existing.run_id}")
                    out.append(existing)
                    continue
                if item["exhibit_id"] is not None:
                    self._require(w.conn, "exhibit", case_id, item["exhibit_id"])
                run = RunRecord(
                    case_id=case_id, run_id=w.next_id(RunRecord, case_id), path=digest.path,
                    sha256=digest.sha256, size_bytes=digest.size_bytes,
                    is_directory=digest.is_directory, files=digest.files, **item,
                )
                record_from_dict("run", run.to_dict())  # the same checks as on read-back
                w.put("run.attach", run)
                attached[run.path] = run
                out.append(run)
        return out

    def record_analysis(
        self, case_id: str, *, run_ids: Sequence[str], parameters: Mapping[str, Any],
        software: str = "gcms", software_version: str | None = None,
        library: str | os.PathLike | None = None, library_name: str | None = None,
        library_sha256: str | None = None, criteria_profile: str | os.PathLike | None = None,
        criteria_sha256: str | None = None,
    ) -> Analysis:
        """Record how runs were analysed; an identical analysis already recorded is reused.

        ``library`` and ``criteria_profile`` may be files: they are hashed (SHA-256) and
        named by file name. ``software_version`` defaults to this gcms's version.
        """
        import gcms

        if library is not None:
            library_sha256 = library_sha256 or hash_evidence(library).sha256
            library_name = library_name or Path(library).name
        if criteria_profile is not None and Path(criteria_profile).is_file():
            criteria_sha256 = criteria_sha256 or hash_evidence(criteria_profile).sha256
            criteria_profile = Path(criteria_profile).name
        fields = {
            "software": software, "software_version": software_version or gcms.__version__,
            "run_ids": list(run_ids), "parameters": normalise(parameters, "parameters"),
            "library_name": library_name, "library_sha256": library_sha256,
            "criteria_profile": None if criteria_profile is None else str(criteria_profile),
            "criteria_sha256": criteria_sha256,
        }
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            for existing in self._records(w.conn, "analysis", case_id):
                mine = existing.to_dict()
                if all(mine[k] == v for k, v in fields.items()):
                    return existing
            analysis = record_from_dict("analysis", {
                "case_id": case_id, "analysis_id": w.next_id(Analysis, case_id), **fields})
            self._check_references(w.conn, analysis)
            w.put("analysis.record", analysis)
        return analysis

    def record_result(self, case_id: str, data: Mapping[str, Any], *,
                      analysis_id: str | None = None, run_id: str | None = None,
                      exhibit_id: str | None = None, summary: str | None = None) -> Result:
        """Record one result document (kept whole; its digest is what a signature covers)."""
        return self._record_results(case_id, [(data, run_id, exhibit_id, summary)],
                                    analysis_id=analysis_id)[0]

    def record_results(self, case_id: str, records: Iterable[Mapping[str, Any]], *,
                       analysis_id: str,
                       run_keys: Sequence[str] = ("file", "path"),
                       summaries: Sequence[str | None] | None = None,
                       unattached: bool = False) -> list[Result]:
        """Record a batch's per-run result records (``results.json``) in one transaction.

        Each record names its run by the first of ``run_keys`` it has (a path, matched
        against the runs attached to the case) or by ``record["sha256"]`` (the run's
        digest, or for a folder that of the data file in it); ``exhibit_id`` and
        ``summary`` are taken from the record when present (``summaries``, one per
        record, take precedence), the exhibit otherwise from the run. Re-recording an
        identical record returns the existing result; a record that differs becomes a
        correction of it (a resumed or repeated batch).

        A record naming no attached run is refused, unless ``unattached``: then it is
        recorded without a run (a run file that was missing when the batch ran), and
        known by the path it names within its analysis.
        """
        items = []
        records = list(records)
        if summaries is not None and len(summaries) != len(records):
            raise CustodyError(f"case {case_id}: {len(summaries)} summaries for "
                               f"{len(records)} result records")
        for i, data in enumerate(records):
            if not isinstance(data, Mapping):
                raise CustodyError(f"case {case_id}: a result record must be an object")
            run_ref = next((data[k] for k in run_keys if data.get(k) is not None), None)
            summary = summaries[i] if summaries is not None else data.get("summary")
            items.append((data, run_ref, data.get("exhibit_id"),
                          summary if isinstance(summary, str) else None))
        return self._record_results(case_id, items, analysis_id=analysis_id,
                                    match_runs=True, sha_key="sha256",
                                    unattached=unattached, run_keys=tuple(run_keys))

    def _record_results(self, case_id, items, *, analysis_id, match_runs=False,
                        sha_key=None, unattached=False, run_keys=()) -> list[Result]:
        def unattached_key(ref: Any) -> str | None:
            return None if ref is None else str(Path(str(ref)).resolve())

        out = []
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            if analysis_id is not None:
                self._require(w.conn, "analysis", case_id, analysis_id)
            runs = self._records(w.conn, "run", case_id)
            by_path = {r.path: r for r in runs}
            by_id = {r.run_id: r for r in runs}
            # a digest names a run when exactly one run has it (its own, or a file's in it:
            # method files are often identical from run to run, data files never)
            owners: dict[str, set[str]] = {}
            for r in runs:
                for digest in {r.sha256, *(f.sha256 for f in r.files)}:
                    owners.setdefault(digest, set()).add(r.run_id)
            by_sha = {d: by_id[next(iter(ids))] for d, ids in owners.items() if len(ids) == 1}
            # a result is known by its analysis, run and exhibit; one without a run by
            # the path its record names
            existing = {}
            for r in self._records(w.conn, "result", case_id):
                ref = None if r.run_id is not None else unattached_key(next(
                    (r.data[k] for k in run_keys if r.data.get(k) is not None), None))
                existing[(r.analysis_id, r.run_id, r.exhibit_id, ref)] = r
            for data, run_ref, exhibit_id, summary in items:
                data = normalise(data, "result")
                run = None
                if match_runs:
                    if run_ref is not None:
                        run = by_path.get(str(Path(run_ref).resolve()))
                    if run is None and sha_key and data.get(sha_key) in by_sha:
                        run = by_sha[data[sha_key]]
                    if run is None and not (unattached and run_ref is not None):
                        raise CustodyError(f"case {case_id}: result record for {run_ref!r} "
                                           "names no run attached to the case")
                elif run_ref is not None:
                    run = by_id.get(run_ref)
                    if run is None:
                        self._require(w.conn, "run", case_id, run_ref)
                exhibit_id = exhibit_id or (run.exhibit_id if run else None)
                if exhibit_id is not None:
                    self._require(w.conn, "exhibit", case_id, exhibit_id)
                key = (analysis_id, run.run_id if run else None, exhibit_id,
                       None if run is not None else unattached_key(run_ref))
                before = existing.get(key) if match_runs else None
                if before is not None:
                    if before.to_dict()["data"] == data and before.summary == summary:
                        out.append(before)
                        continue
                    after = record_from_dict("result", {**before.to_dict(), "data": data,
                                                        "summary": summary,
                                                        "version": before.version + 1})
                    seq = self._current(w.conn, "result", case_id, before.result_id)[1]
                    w.put("result.rerecord", after, before=before, supersedes=seq,
                          reason="recorded again by a batch with different content")
                else:
                    after = record_from_dict("result", {
                        "case_id": case_id, "result_id": w.next_id(Result, case_id),
                        "data": data, "analysis_id": analysis_id,
                        "run_id": run.run_id if run else None, "exhibit_id": exhibit_id,
                        "summary": summary})
                    w.put("result.record", after)
                existing[key] = after
                out.append(after)
        return out

    def correct_result(self, case_id: str, result_id: str, data: Mapping[str, Any], *,
                       reason: str, summary: str | None = None,
                       key: SigningKey | None = None) -> Result:
        """A corrected version of a result; signatures on earlier versions stay with them."""
        changes: dict[str, Any] = {"data": data}
        if summary is not None:
            changes["summary"] = summary
        return self.correct("result", case_id, result_id, reason=reason, changes=changes,
                            key=key)

    # -- review and signatures ----------------------------------------------------------

    def review_result(self, case_id: str, result_id: str, *, outcome: str,
                      comments: str | None = None, key: SigningKey | None = None) -> Review:
        """Record the acting user's technical review of a result's current version.

        The reviewer must hold the reviewer role, prove the entry with their own key
        (``key``, unlocked) and not be who recorded or authored the result.
        """
        if outcome not in REVIEW_OUTCOMES:
            raise CustodyError(f"review of {result_id}: outcome {outcome!r} is not one of "
                               f"{', '.join(REVIEW_OUTCOMES)}")
        with self._writing() as w:
            result, _ = self._require(w.conn, "result", case_id, result_id)
            problem = authorship_problem(self.actor, self._authors(w.conn, result),
                                         f"result {result_id} of case {case_id}",
                                         "review it")
            if problem:
                raise CustodyError(f"refused: {problem}")
            review = Review(case_id=case_id, review_id=w.next_id(Review, case_id),
                            result_id=result_id, result_version=result.version,
                            reviewer=self.actor, outcome=outcome, comments=comments)
            w.put("review.record", review, signer=key)
        return review

    def _authors(self, conn: sa.Connection, result: Result) -> set[str]:
        creators = conn.execute(sa.select(audit_log.c.actor).where(
            audit_log.c.case_id == result.case_id, audit_log.c.object_type == "result",
            audit_log.c.object_id == result.result_id)).scalars()
        signers = {s.signer for s in self._records(conn, "signature", result.case_id,
                                                   result_id=result.result_id)
                   if s.meaning == "authored"}
        return set(creators) | signers

    def register_key(self, public_key: bytes | str | os.PathLike | SigningKey, *, user: str,
                     printed_name: str | None = None,
                     key: SigningKey | None = None) -> AnalystKey:
        """Register a user's public key (raw 32 bytes, a ``.pub`` PEM file, or the key).

        Only an admin registers keys, proving the entry with their own key (``key``); an
        admin registering their own first key proves it with that key (pass the unlocked
        :class:`~gcms.custody.keys.SigningKey` as ``public_key``). ``user`` must be
        enrolled; the printed name is the user's (``gcms user add --name``): one given
        here must be the same, or fills it for a user enrolled without one.
        """
        signer = key
        if isinstance(public_key, SigningKey):
            raw, signer = public_key.public_raw, key or public_key
        elif isinstance(public_key, bytes):
            raw = public_key
        else:
            raw = load_public_key(public_key)
        if len(raw) != 32:
            raise CustodyError("an Ed25519 public key has 32 bytes")
        user = _identifier(user, "user_id", "user")
        import base64

        with self._writing() as w:
            stored_name = _enrolled_printed_name(
                self.location, user, self._current(w.conn, "user", None, user), printed_name)
            earlier = [k.printed_name for k in self._records(w.conn, "analyst_key")
                       if k.user == user]
            if not stored_name and earlier and printed_name and printed_name != earlier[-1]:
                raise CustodyError(
                    f"refused: {user}'s keys print {earlier[-1]!r}, not {printed_name!r} "
                    "(rule: the printed name comes from the store)")
            name = stored_name or printed_name or (earlier[-1] if earlier else None)
            if not name or not name.strip():
                raise CustodyError(f"key of {user}: the printed name is required "
                                   "(21 CFR 11.50); give it with 'gcms user add --name'")
            record = AnalystKey(key_fingerprint=fingerprint(raw), user=user,
                                printed_name=name,
                                public_key=base64.b64encode(raw).decode("ascii"))
            if self._current(w.conn, "analyst_key", None, record.key_fingerprint) is not None:
                raise CustodyError(f"key {record.key_fingerprint[:16]}...: already registered")
            if signer is not None and signer.fingerprint == record.key_fingerprint and (
                user != self.actor
            ):
                raise CustodyError(f"refused: a key registered for {user} cannot prove its "
                                   f"own registration by {self.actor} (rule: {RULE_KEY_OWNER})")
            w.put("analyst_key.register", record, signer=signer)
        return record

    def revoke_key(self, key_fingerprint: str, *, reason: str,
                   key: SigningKey | None = None) -> AnalystKey:
        """Revoke a key (by an admin, proven with ``key``): it signs nothing after this."""
        if not reason or not reason.strip():
            raise CustodyError("revoking a key needs a reason")
        with self._writing() as w:
            current, seq = self._require(w.conn, "analyst_key", None, key_fingerprint)
            if current.status == "revoked":
                raise CustodyError(f"key {key_fingerprint[:16]}...: already revoked")
            updated = current.replace(status="revoked", version=current.version + 1)
            w.put("analyst_key.revoke", updated, before=current, supersedes=seq,
                  reason=reason, signer=key)
        return updated

    # -- users ------------------------------------------------------------------------

    def add_user(self, user_id: str, *, roles: Sequence[str], printed_name: str | None = None,
                 key: SigningKey | None = None, reason: str | None = None) -> User:
        """Enrol a user with ``roles`` (by an admin, proven with the admin's ``key``)."""
        user = User(user_id=_identifier(user_id, "user_id", "user"),
                    roles=tuple(roles), printed_name=printed_name)
        record_from_dict("user", user.to_dict())
        with self._writing() as w:
            if self._current(w.conn, "user", None, user.user_id) is not None:
                raise CustodyError(f"user {user.user_id}: already enrolled in {self.location}")
            w.put("user.add", user, signer=key, reason=reason)
        return user

    def _change_user(self, user_id: str, action: str, key: SigningKey | None, reason: str,
                     **changes: Any) -> User:
        if not reason or not reason.strip():
            raise CustodyError(f"user {user_id}: a change of a user needs a reason")
        with self._writing() as w:
            current, seq = self._require(w.conn, "user", None, user_id)
            updated = record_from_dict("user", {**current.to_dict(), **normalise(changes),
                                                "version": current.version + 1})
            if updated.to_dict() == {**current.to_dict(), "version": updated.version}:
                raise CustodyError(f"user {user_id}: the change changes nothing")
            if action != "user.roles" or "admin" not in updated.roles:
                self._keep_an_admin(w.conn, user_id)
            w.put(action, updated, before=current, supersedes=seq, reason=reason, signer=key)
        return updated

    def _keep_an_admin(self, conn: sa.Connection, leaving: str) -> None:
        admins = [u for u in self._records(conn, "user") if "admin" in u.roles
                  and u.status == "active" and u.user_id != leaving]
        if not admins:
            raise CustodyError(f"refused: {leaving} is the store's last active admin")

    def set_roles(self, user_id: str, roles: Sequence[str], *, reason: str,
                  key: SigningKey | None = None) -> User:
        """Change a user's roles (by an admin, proven with ``key``)."""
        return self._change_user(user_id, "user.roles", key, reason, roles=list(roles))

    def disable_user(self, user_id: str, *, reason: str,
                     key: SigningKey | None = None) -> User:
        """Disable a user (by an admin): they can change nothing after this entry."""
        return self._change_user(user_id, "user.disable", key, reason, status="disabled")

    def enable_user(self, user_id: str, *, reason: str,
                    key: SigningKey | None = None) -> User:
        """Enable a disabled user again (by an admin)."""
        return self._change_user(user_id, "user.enable", key, reason, status="active")

    def check_may_register(self, user: str, printed_name: str | None = None) -> None:
        """Refuse early what :meth:`register_key` would refuse for the acting user."""
        with self._transaction(write=False) as conn:
            found = self._current(conn, "user", None, self.actor)
            problem = actor_problem(self.actor, found[0] if found else None,
                                    "analyst_key.register", None)
            if problem:
                raise CustodyError(f"{self.location}: refused: {problem}")
            owner = self._current(conn, "user", None, user)
        _enrolled_printed_name(self.location, user, owner, printed_name)

    def admin_keys(self) -> list[tuple[str, str]]:
        """``(fingerprint, user)`` of every active key of an active admin: what to pin."""
        with self._transaction(write=False) as conn:
            admins = {u.user_id for u in self._records(conn, "user")
                      if "admin" in u.roles and u.status == "active"}
            return [(k.key_fingerprint, k.user) for k in self._records(conn, "analyst_key")
                    if k.status == "active" and k.user in admins]

    def qa_results(self) -> list[Any]:
        """Instrument QA results recorded in the chain (:mod:`gcms.custody.qa`)."""
        return self._read("qa_result")

    def users(self) -> list[User]:
        """Enrolled users (current versions), in the order enrolled."""
        return self._read("user")

    def user(self, user_id: str) -> User:
        """The current record of one user."""
        with self._transaction(write=False) as conn:
            return self._require(conn, "user", None, user_id)[0]

    # -- anchors outside the store ----------------------------------------------------

    def checkpoint(self, key: SigningKey) -> dict[str, Any]:
        """Sign the chain head with an admin's key: a ``checkpoint.sign`` entry.

        Returns the checkpoint as a lab keeps it outside the store (``gcms custody
        checkpoint -o FILE``): the head it covers, the checkpoint entry's own seq and hash,
        who signed, the key and the proof. ``gcms custody verify --head-file`` checks the
        store still holds both.
        """
        with self._writing() as w:
            covered = {"seq": w.seq, "entry_sha256": w.head}
            seq = w.append("checkpoint.sign", object_type="checkpoint",
                           object_id=f"{w.seq + 1}", case_id=None, before=None,
                           after=covered, signer=key)
            row = w.conn.execute(sa.select(audit_log.c.entry_sha256, audit_log.c.content)
                                 .where(audit_log.c.seq == seq)).one()
        content = json.loads(row.content)
        return {"format": "gcms-checkpoint/1", "store": self.location,
                "covers": covered, "head": {"seq": seq, "entry_sha256": row.entry_sha256},
                "signed_by": self.actor, "at": content["at"], "proof": content["proof"]}

    def sign_result(self, case_id: str, result_id: str, key: SigningKey, *,
                    meaning: str) -> Signature:
        """Sign a result's current version and the chain head with an unlocked key.

        The key must be registered to the acting user and active. Made inside the write
        lock, so the chain head signed is the entry just before the signature's own. A
        review or approval signature cannot come from the result's author.
        """
        if meaning not in MEANINGS:
            raise CustodyError(f"signature meaning {meaning!r} is not one of "
                               f"{', '.join(MEANINGS)}")
        with self._writing() as w:
            result, _ = self._require(w.conn, "result", case_id, result_id)
            found = self._current(w.conn, "analyst_key", None, key.fingerprint)
            registered = found[0] if found else None
            problem = key_problem(self.actor, key.fingerprint, registered)
            if problem:
                raise CustodyError(f"{self.location}: refused: {problem}")
            earlier = [s for s in self._records(w.conn, "signature", case_id,
                                                result_id=result_id)
                       if s.result_version == result.version]
            if any(s.signer == self.actor and s.meaning == meaning for s in earlier):
                raise CustodyError(f"result {result_id} v{result.version}: already signed "
                                   f"as {meaning} by {self.actor}")
            if meaning != "authored":
                problem = authorship_problem(self.actor, self._authors(w.conn, result),
                                             f"result {result_id} of case {case_id}",
                                             f"sign it as {meaning}")
                if problem:
                    raise CustodyError(f"refused: {problem}")
            fields = {
                "case_id": case_id, "result_id": result_id, "result_version": result.version,
                "result_sha256": record_sha256(result), "chain_head_seq": w.seq,
                "chain_head_sha256": w.head, "signer": registered.user,
                "printed_name": registered.printed_name, "meaning": meaning,
                "signed_at": utc_iso(utc_now()), "key_fingerprint": key.fingerprint,
                "algorithm": ALGORITHM,
            }
            signature = Signature(signature_id=w.next_id(Signature, case_id),
                                  signature=key.sign(signature_payload(**fields)), **fields)
            w.put("signature.sign", signature)
        return signature

    # -- reading ----------------------------------------------------------------------------

    def _read(self, object_type: str, case_id: str | None = None, **where: Any) -> list:
        with self._transaction(write=False) as conn:
            if case_id is not None and object_type != "case":
                self._require(conn, "case", case_id, case_id)
            return self._records(conn, object_type, case_id, **where)

    def case(self, case_id: str) -> Case:
        """The current version of a case."""
        with self._transaction(write=False) as conn:
            return self._require(conn, "case", case_id, case_id)[0]

    def cases(self) -> list[Case]:
        """Every case, in the order they were opened."""
        return self._read("case")

    def exhibit(self, case_id: str, exhibit_id: str) -> Exhibit:
        """The current version of an exhibit."""
        with self._transaction(write=False) as conn:
            return self._require(conn, "exhibit", case_id, exhibit_id)[0]

    def exhibits(self, case_id: str) -> list[Exhibit]:
        """The exhibits of a case."""
        return self._read("exhibit", case_id)

    def transfers(self, case_id: str, exhibit_id: str | None = None) -> list[CustodyTransfer]:
        """Custody transfers of a case (or of one exhibit), in the order recorded."""
        where = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return self._read("custody_transfer", case_id, **where)

    def runs(self, case_id: str, exhibit_id: str | None = None) -> list[RunRecord]:
        """Runs attached to a case (or to one exhibit)."""
        where = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return self._read("run", case_id, **where)

    def analyses(self, case_id: str) -> list[Analysis]:
        """Analyses recorded in a case."""
        return self._read("analysis", case_id)

    def results(self, case_id: str, exhibit_id: str | None = None) -> list[Result]:
        """Current versions of a case's results (or one exhibit's)."""
        where = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return self._read("result", case_id, **where)

    def reviews(self, case_id: str) -> list[Review]:
        """Technical reviews in a case."""
        return self._read("review", case_id)

    def signatures(self, case_id: str, result_id: str | None = None) -> list[Signature]:
        """Signatures in a case (or on one result), in the order made."""
        where = {"result_id": result_id} if result_id is not None else {}
        return self._read("signature", case_id, **where)

    def keys(self) -> list[AnalystKey]:
        """Registered analyst keys."""
        return self._read("analyst_key")

    def head(self) -> tuple[int, str]:
        """The chain head: ``(seq, entry_sha256)`` of the last entry."""
        with self._transaction(write=False) as conn:
            row = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
        return int(row.seq), row.entry_sha256

    def log(self, *, case_id: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries in order; the last ``limit`` when given.

        With ``case_id``, that case's entries and the store's own (keys, initialisation).
        """
        query = sa.select(audit_log)
        if case_id is not None:
            query = query.where(sa.or_(audit_log.c.case_id == case_id,
                                       audit_log.c.case_id.is_(None)))
        if limit is not None:
            query = query.order_by(audit_log.c.seq.desc()).limit(limit)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query).all()
        return sorted((AuditEntry.from_row(r) for r in rows), key=lambda e: e.seq)

    def case_file(self, case_id: str) -> dict[str, Any]:
        """Everything recorded on a case, read in one snapshot, for a report.

        Current versions of every record; each exhibit with its custody transfers in
        time order and its current holder; the history of every corrected record
        (before, after, who, when, why); the registered keys; and the chain head, which
        a report prints so the state it shows can be checked against the store later.
        Plain JSON data (``to_dict()`` forms).
        """
        with self._transaction(write=False) as conn:
            case, _ = self._require(conn, "case", case_id, case_id)

            def current(object_type: str) -> list[Record]:
                return self._records(conn, object_type, case_id)

            transfers = current("custody_transfer")
            exhibits = []
            for exhibit in current("exhibit"):
                mine = sorted((t for t in transfers if t.exhibit_id == exhibit.exhibit_id),
                              key=lambda t: t.transferred_at)
                exhibits.append({**exhibit.to_dict(), "custody": [t.to_dict() for t in mine],
                                 "current_holder": mine[-1].to_party if mine
                                 else exhibit.received_by})
            corrections: dict[str, list[dict[str, Any]]] = {}
            for object_type in CORRECTABLE:
                rows = conn.execute(_latest_query(object_type, case_id, {}, all_versions=True))
                for row in rows:
                    content = json.loads(row.content)
                    if content["before"] is not None:
                        corrections.setdefault(
                            f"{object_type} {content['object_id']}", []).append(
                            {"seq": row.entry_seq, "at": content["at"],
                             "actor": content["actor"], "reason": content["reason"],
                             "before": content["before"], "after": content["after"]})
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            return {
                "case": case.to_dict(),
                "exhibits": exhibits,
                "runs": [r.to_dict() for r in current("run")],
                "analyses": [a.to_dict() for a in current("analysis")],
                "results": [r.to_dict() for r in current("result")],
                "reviews": [r.to_dict() for r in current("review")],
                "signatures": [s.to_dict() for s in current("signature")],
                "keys": [k.to_dict() for k in self._records(conn, "analyst_key")],
                "corrections": corrections,
                "chain_head": {"seq": int(head.seq), "entry_sha256": head.entry_sha256},
            }

    # -- verification and export --------------------------------------------------------

    def verify(self, *, case_id: str | None = None, rehash: bool = True,
               expect: Iterable[Anchor | tuple[int, str]] = (),
               trust: Iterable[str] | None = None,
               qa_history: str | os.PathLike | None = None,
               libraries: Iterable[str] | None = None) -> VerificationReport:
        """Verify the store: chain, history, people, tables, signatures and evidence files.

        Walks the chain, replays it (with the rules of :mod:`gcms.custody.rules`),
        compares every table with it, checks signatures and proofs, and (``rehash``)
        re-hashes every evidence file; see :mod:`gcms.custody.verify`. With ``case_id``
        the whole chain is still walked (a deletion anywhere shows), but records,
        signatures and files are checked for that case only.

        ``expect``: chain heads taken outside the store (``(seq, entry_sha256)`` or
        :class:`~gcms.custody.verify.Anchor`: from an issued report, a bundle, a
        checkpoint): each must still be an entry of the chain with that hash, so a chain
        cut short and its head moved back fails. ``trust``: the admin key fingerprints
        the lab pinned outside the store (:func:`~gcms.custody.verify.load_trust`); every
        admin entry must be proven by one of them, so keys swapped inside the database
        fail. ``qa_history``: the QA history every QA result the chain records must
        still be in (:func:`gcms.custody.qa.check_qa_history`); by default each result
        is checked against the history it was recorded from, where that file exists.
        ``libraries``: the library identities a method or lab profile accepts
        (:func:`~gcms.custody.verify.load_library_pins`); every analysis must have used
        one. The findings name the rule broken.
        """
        anchors = tuple(a if isinstance(a, Anchor) else Anchor(int(a[0]), str(a[1]))
                        for a in expect)
        replay = Replay(scope=case_id, anchors=anchors,
                        trusted=None if trust is None else frozenset(trust))
        with self._transaction(write=False) as conn:
            if case_id is not None:
                self._require(conn, "case", case_id, case_id)
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            links = (
                Link(seq=r.seq, prev_sha256=r.prev_sha256, content_sha256=r.content_sha256,
                     entry_sha256=r.entry_sha256, case_tag=r.case_tag, content=r.content,
                     columns={"actor": r.actor, "action": r.action,
                              "object_type": r.object_type, "object_id": r.object_id,
                              "case_id": r.case_id})
                for r in conn.execution_options(yield_per=2000).execute(
                    sa.select(audit_log).order_by(audit_log.c.seq))
            )
            entries = verify_chain(links, head_seq=int(head.seq),
                                   head_sha256=head.entry_sha256, replay=replay)
            actual = self._table_rows(conn, case_id)
        expected = expected_rows(replay)
        replay.findings.extend(compare_rows(expected, actual))
        files = 0
        if rehash:
            files, problems = check_evidence(replay.records("run"))
            replay.findings.extend(problems)
        from gcms.custody.qa import check_qa_history

        qa = replay.records("qa_result")
        if qa_history is None:
            qa = [r for r in qa if r.history and Path(r.history).is_file()]
        replay.findings.extend(check_qa_history(qa, qa_history))
        if libraries is not None:
            replay.findings.extend(library_findings(replay.records("analysis"),
                                                    frozenset(libraries)))
        return VerificationReport(
            source=self.location, case_id=case_id, entries=entries, head_seq=int(head.seq),
            head_sha256=head.entry_sha256, records=sum(len(t) for t in expected.values()),
            files=files, signatures=replay.signatures_verified,
            findings=tuple(replay.findings), proofs=replay.proofs_verified,
            anchors=tuple(str(a) for a in anchors), trust_pinned=trust is not None,
            checkpoints=len(replay.checkpoints),
        )

    def _table_rows(self, conn: sa.Connection,
                    case_id: str | None) -> dict[str, dict[tuple, dict[str, Any]]]:
        out = {}
        for table in [*record_tables.values(), run_files]:
            query = sa.select(table)
            if case_id is not None and "case_id" in table.c:
                query = query.where(table.c.case_id == case_id)
            rows = {}
            for row in conn.execute(query).mappings():
                key = tuple(row[c.name] for c in table.primary_key.columns)
                rows[key] = dict(row)
            out[table.name] = rows
        return out

    def export_bundle(self, case_id: str) -> dict[str, Any]:
        """A self-contained bundle of one case for verification without the database.

        The bundle holds every link of the chain from entry #1 to the head; the content of
        the case's entries and the store's own (key registrations); for other cases' entries
        only their hashes, so the bundle proves the case's place in the unbroken chain
        without disclosing other cases. Refuses a store whose chain does not verify.
        """
        from gcms.custody.bundle import build_bundle

        report = self.verify(case_id=case_id, rehash=False)
        if not report.ok:
            raise TamperError(f"{self.location}: case {case_id} does not verify, "
                              f"so it is not exported: {report.first}")
        with self._transaction(write=False) as conn:
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            rows = conn.execute(
                sa.select(audit_log.c.seq, audit_log.c.prev_sha256, audit_log.c.content_sha256,
                          audit_log.c.entry_sha256, audit_log.c.case_tag, audit_log.c.case_id,
                          audit_log.c.content)
                .where(audit_log.c.seq <= head.seq).order_by(audit_log.c.seq)).all()
        links = [Link(seq=r.seq, prev_sha256=r.prev_sha256, content_sha256=r.content_sha256,
                      entry_sha256=r.entry_sha256, case_tag=r.case_tag,
                      content=r.content if r.case_id in (None, case_id) else None)
                 for r in rows]
        return build_bundle(case_id=case_id, links=links, head_seq=int(head.seq),
                            head_sha256=head.entry_sha256, exported_by=self.actor,
                            source=self.location)


def chain_head(store: CaseStore) -> tuple[int, str]:
    """The chain head of ``store``: ``(seq, entry_sha256)`` of its last audit entry.

    What a report, bundle or signature states as the state it was made at; ``gcms
    custody verify --expect-head SEQ:HASH`` (:meth:`CaseStore.verify` ``expect``) fails
    when the store no longer holds that entry with that hash.
    """
    return store.head()


def adopt_store(location: str | os.PathLike | None, *, admin: str,
                printed_name: str | None = None,
                roles: Sequence[str] = ("admin",)) -> CaseStore:
    """Make ``admin`` the first admin of a store made before users were enrolled.

    Refused when the store has users already. Its earlier entries stay as they are
    (verification holds them to the rules from this entry on). Returns it open.
    """
    roles = tuple(roles) if "admin" in roles else ("admin", *roles)
    store = CaseStore(location, actor=admin, create=False)
    try:
        with store._writing() as w:
            if store._records(w.conn, "user"):
                raise CustodyError(f"{store.location}: refused: the store has users; an "
                                   "admin adds more ('gcms user add')")
            w.bootstrap = True
            user = User(user_id=store.actor, roles=roles, printed_name=printed_name)
            record_from_dict("user", user.to_dict())
            w.put("user.add", user, reason=f"first administrator of a store made before "
                  f"users were enrolled: {store.actor} adopted it")
    except BaseException:
        store.close()
        raise
    return store


def init_store(location: str | os.PathLike | None, *, admin: str,
               printed_name: str | None = None,
               roles: Sequence[str] = ("admin",)) -> CaseStore:
    """Create a store whose first admin is ``admin`` (entry #2 says so).

    Refuses an existing store. Returns it open, acting as ``admin``.
    """
    try:
        existing = CaseStore(location, actor=admin, create=False)
    except CustodyError:
        existing = None
    if existing is not None:
        where = existing.location
        existing.close()
        raise CustodyError(f"{where}: a case store already exists here")
    roles = tuple(roles)
    if "admin" not in roles:
        roles = ("admin", *roles)
    return CaseStore(location, actor=admin, create=True, _first_admin=(printed_name, roles))


def _seals(values: Sequence[str] | str | None, exhibit_id: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise CustodyError(f"exhibit {exhibit_id}: seal numbers must be non-empty text")
        out.append(value.strip())
    return tuple(out)
