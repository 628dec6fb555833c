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

import getpass
import os
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from gcms.custody._db import lock_schema, make_engine, resolve_location, writer_queue_path
from gcms.custody._ledger import StoreCore, _latest_query, _Writer  # noqa: F401 (re-exported)
from gcms.custody.canonical import utc_iso
from gcms.custody.corrections import CORRECTABLE, CorrectionsMixin  # noqa: F401 (re-exported)
from gcms.custody.export import ExportMixin
from gcms.custody.intake import CLOCK_SKEW_S, IntakeMixin  # noqa: F401 (re-exported)
from gcms.custody.libraries import LibrariesMixin
from gcms.custody.reading import AuditEntry, ReadingMixin
from gcms.custody.records import User, check_id, record_from_dict
from gcms.custody.results import ResultsMixin
from gcms.custody.runs import RunsMixin
from gcms.custody.schema import LATEST_VERSION, migrate, stored_version
from gcms.custody.schema import chain_head as head_table
from gcms.custody.signing import SigningMixin
from gcms.custody.users import UsersMixin
from gcms.errors import CustodyError

__all__ = ["FIRST_ADMIN_ROLES", "AuditEntry", "CaseStore", "adopt_store", "chain_head",
           "default_actor", "init_store", "run_metadata"]
# Re-exported above, importable from here as before the split into parts:
# _Writer and _latest_query (gcms.custody.reports, the tests), CORRECTABLE, CLOCK_SKEW_S.

#: Roles of the user who creates a store implicitly (by a first batch or command): the
#: store's first admin, who is also the analyst of that first batch.
FIRST_ADMIN_ROLES: tuple[str, ...] = ("admin", "analyst")


def default_actor() -> str:
    """Who is acting: ``GCMS_ACTOR``, else the operating-system login name."""
    from gcms.config import environment  # every environment variable is read there

    if actor := environment().actor:
        return actor
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


class CaseStore(IntakeMixin, RunsMixin, ResultsMixin, CorrectionsMixin, SigningMixin,
                UsersMixin, ReadingMixin, ExportMixin, LibrariesMixin, StoreCore):
    """A case store at a folder (SQLite) or a PostgreSQL URL; see the module docstring.

    A façade over its parts, one module each: :mod:`~gcms.custody.intake` (cases,
    exhibits, transfers), :mod:`~gcms.custody.runs`, :mod:`~gcms.custody.results`
    (analyses, results), :mod:`~gcms.custody.corrections`, :mod:`~gcms.custody.signing`
    (reviews, signatures, checkpoints), :mod:`~gcms.custody.users` (users, keys),
    :mod:`~gcms.custody.reading` and :mod:`~gcms.custody.export` (verify, bundle),
    :mod:`~gcms.custody.libraries` (library versions, signed and approved). Every
    part writes through the one audit-append path of :mod:`~gcms.custody._ledger`.

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


