"""The core every part of the case store shares: transactions and the one write path.

:class:`StoreCore` opens read and write transactions (a write one waits in the writer
queue and holds the append lock of :mod:`gcms.custody._db`) and reads current records
from the hashed audit content. Every change goes through :class:`_Writer`: it checks the
acting user against :mod:`gcms.custody.rules`, appends the audit entry (hash chained to
the previous one, :mod:`gcms.custody.canonical`) and inserts the record row in the same
transaction. The parts of :class:`~gcms.custody.store.CaseStore` (intake, runs, results,
corrections, signing, users, reading, export) are mixins over this core.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcms.custody._db import writer_queue
from gcms.custody.canonical import (
    canonical_json,
    entry_sha256,
    normalise,
    sha256_hex,
    utc_iso,
    utc_now,
)
from gcms.custody.keys import ALGORITHM, SigningKey
from gcms.custody.records import (
    RECORD_TYPES,
    AnalystKey,
    Case,
    Record,
    RunRecord,
    User,
    check_id,
    record_from_dict,
)
from gcms.custody.rules import RULE_PROOF, actor_problem, key_problem, needs_proof, proof_message
from gcms.custody.schema import audit_log, record_tables, run_files
from gcms.custody.schema import chain_head as head_table
from gcms.errors import CustodyError


def _identifier(value: Any, field: str, what: str) -> str:
    """A case, exhibit or user id typed by a person, checked.

    :func:`gcms.identifiers.check_identifier` (no bidirectional or invisible characters,
    no confusable script mixes), then the store's own limits.
    """
    from gcms.identifiers import check_identifier

    if not isinstance(value, str) or value != value.strip():
        return check_id(value, what)  # the store's message for padding and non-text
    return check_id(check_identifier(value, field), what)


def _software() -> str:
    import gcms

    return f"gcms {gcms.__version__}"


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


class _Writer:
    """One write transaction holding the append lock: appends entries and record rows."""

    def __init__(self, store: StoreCore, conn: sa.Connection) -> None:
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


class StoreCore:
    """The store's connection, transactions and record reads, shared by its parts."""

    #: the folder or the database URL (password hidden), as messages name it
    location: str
    #: who is acting: the user every entry written names
    actor: str
    _engine: sa.Engine
    _queue: Path | None

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

    def _read(self, object_type: str, case_id: str | None = None, **where: Any) -> list:
        with self._transaction(write=False) as conn:
            if case_id is not None and object_type != "case":
                self._require(conn, "case", case_id, case_id)
            return self._records(conn, object_type, case_id, **where)

    def _check_references(self, conn: sa.Connection, record: Record) -> None:
        for name in ("exhibit_id", "run_id", "analysis_id"):
            value = getattr(record, name, None)
            if value is not None and record.ID_FIELD != name:
                self._require(conn, name.removesuffix("_id"), record.case_id, value)
        for run_id in getattr(record, "run_ids", ()) or ():
            self._require(conn, "run", record.case_id, run_id)
