"""The case store's tables (SQLAlchemy Core) and their versioned migrations.

One schema on SQLite and PostgreSQL:

``audit_log``
    The hash-chained entries (:mod:`gcms.custody.canonical`): ``seq``, the three hashes,
    the case tag, the canonical ``content`` text, and copies of a few content fields for
    queries.
``chain_head``
    One row: the ``seq`` and hash of the last entry. Updated with every append, under
    the write lock; it is what a deleted last entry is measured against.
record tables (``cases``, ``exhibits``, ``custody_transfers``, ``runs``, ``run_files``, ...)
    One row per version of each record, generated from the column kinds of
    :mod:`gcms.custody.records`, each naming the ``entry_seq`` that wrote it. They are a
    queryable copy of the log, never the authority: verification rebuilds them from the
    log and names any row that differs.
``users``, ``qa_results``
    Record tables too (version 3): enrolled users and their roles
    (:mod:`gcms.custody.rules`), and the instrument QA results batches relied on
    (:mod:`gcms.custody.qa`). Entries a person proves with their key carry a ``proof``
    field in their content; entries without one keep the earlier field set.
``credentials``, ``password_hashes``
    Version 4: each user's sign-in password for the review workstation
    (:mod:`gcms.custody.credentials`). The ``credentials`` record table is a copy of the
    log, which holds only the SHA-256 of each Argon2 hash; ``password_hashes`` holds the
    hash itself beside the chain (never in an entry, so never in a bundle), one row per
    credential version, append-only.
``schema_migrations``
    Which migrations have run.

Every table but ``chain_head`` is append-only, enforced by triggers that refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL). The triggers keep honest mistakes out; the hash
chain is what catches someone who drops them.

Migrations are an ordered list of ``(version, description, function)``; a store records
each one it has run and refuses to open when it is newer than the code. The tables below
are the current schema; a change to them goes with a new migration that performs it, and
``tests/custody/test_schema.py`` compares a migrated database with these definitions.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from gcms.custody.canonical import GENESIS_PREV, utc_iso, utc_now
from gcms.custody.records import ID_MAX_CHARS, RECORD_TYPES
from gcms.errors import CustodyError

__all__ = [
    "APPEND_ONLY_TABLES",
    "LATEST_VERSION",
    "MIGRATIONS",
    "audit_log",
    "chain_head",
    "metadata",
    "migrate",
    "password_hashes",
    "record_tables",
    "run_files",
    "schema_migrations",
]

metadata = sa.MetaData()

_KIND_TYPES: dict[str, Callable[[], sa.types.TypeEngine]] = {
    "id": lambda: sa.String(ID_MAX_CHARS),
    "text": sa.Text,
    "int": sa.BigInteger,
    "bool": sa.Boolean,
    "time": lambda: sa.String(32),
    "sha256": lambda: sa.String(64),
    "decimal": lambda: sa.String(40),
    "json": sa.Text,
}

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("prev_sha256", sa.String(64), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("entry_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("recorded_at", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(ID_MAX_CHARS), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("object_type", sa.String(32), nullable=False),
    sa.Column("object_id", sa.String(ID_MAX_CHARS), nullable=False),
    sa.Column("case_id", sa.String(ID_MAX_CHARS), nullable=True),
    sa.Column("case_tag", sa.String(64), nullable=True),
    sa.Column("content", sa.Text, nullable=False),
    sa.Index("ix_audit_log_case", "case_id", "seq"),
    sa.Index("ix_audit_log_object", "object_type", "object_id"),
)

chain_head = sa.Table(
    "chain_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("entry_sha256", sa.String(64), nullable=False),
)

schema_migrations = sa.Table(
    "schema_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.String(32), nullable=False),
)


def _record_table(cls) -> sa.Table:
    columns = []
    key = (["case_id"] if cls.CASE_SCOPED else []) + [cls.ID_FIELD, "version"]
    for name, kind in cls.COLUMNS.items():
        if kind == "files":
            continue
        columns.append(sa.Column(name, _KIND_TYPES[kind](), primary_key=name in key,
                                 autoincrement=False, nullable=name not in key))
    columns.append(sa.Column("entry_seq", sa.BigInteger, sa.ForeignKey("audit_log.seq"),
                             nullable=False))
    indexes = []
    if "exhibit_id" in cls.COLUMNS and cls.ID_FIELD != "exhibit_id":
        # custody of one exhibit in time order: the current holder is one index probe
        extra = ["transferred_at"] if "transferred_at" in cls.COLUMNS else []
        indexes.append(sa.Index(f"ix_{cls.TABLE}_exhibit", "case_id", "exhibit_id", *extra))
    return sa.Table(cls.TABLE, metadata, *columns, *indexes)


#: The record table of each object type.
record_tables: dict[str, sa.Table] = {
    object_type: _record_table(cls) for object_type, cls in RECORD_TYPES.items()
}

run_files = sa.Table(
    "run_files", metadata,
    sa.Column("case_id", sa.String(ID_MAX_CHARS), primary_key=True),
    sa.Column("run_id", sa.String(ID_MAX_CHARS), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.ForeignKeyConstraint(["case_id", "run_id", "version"],
                            ["runs.case_id", "runs.run_id", "runs.version"]),
)

password_hashes = sa.Table(
    "password_hashes", metadata,
    sa.Column("user_id", sa.String(ID_MAX_CHARS), primary_key=True),
    sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("entry_seq", sa.BigInteger, sa.ForeignKey("audit_log.seq"), nullable=False),
)

#: Tables that only ever receive INSERTs.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "audit_log", "schema_migrations", "run_files", *(t.name for t in record_tables.values()),
    "password_hashes",
)


def _append_only_triggers(conn: sa.Connection,
                          tables: tuple[str, ...] = APPEND_ONLY_TABLES) -> None:
    if conn.dialect.name == "postgresql":
        # sa.text escapes the "%" placeholders of RAISE for the driver's paramstyle.
        conn.execute(sa.text(
            "CREATE OR REPLACE FUNCTION gcms_append_only() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'gcms: % on % refused: the case store is append-only', TG_OP, TG_TABLE_NAME; "
            "END $$"
        ))
        for table in tables:
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION gcms_append_only()"
            )
    else:
        for table in tables:
            for operation in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} "
                    f"ON {table} BEGIN SELECT RAISE(ABORT, "
                    f"'gcms: {operation} on {table} refused: the case store is append-only'); "
                    "END"
                )


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn)
    _append_only_triggers(conn)
    conn.execute(chain_head.insert().values(id=1, seq=0, entry_sha256=GENESIS_PREV))


def _v2(conn: sa.Connection) -> None:
    # issued reports and results files (gcms.custody.reports); a store made by v1 of
    # this code already has them when its v1 ran create_all on the newer metadata
    new = tuple(name for name in ("reports", "results_files")
                if not sa.inspect(conn).has_table(name))
    metadata.create_all(conn, tables=[metadata.tables[name] for name in new])
    if new:
        _append_only_triggers(conn, new)


def _v3(conn: sa.Connection) -> None:
    # users and roles, instrument QA results (gcms.custody.rules, gcms.custody.qa); as
    # in _v2, a store whose v1 ran on the newer metadata already has them
    new = tuple(name for name in ("users", "qa_results")
                if not sa.inspect(conn).has_table(name))
    metadata.create_all(conn, tables=[metadata.tables[name] for name in new])
    if new:
        _append_only_triggers(conn, new)


def _v4(conn: sa.Connection) -> None:
    # sign-in passwords (gcms.custody.credentials); as in _v2
    new = tuple(name for name in ("credentials", "password_hashes")
                if not sa.inspect(conn).has_table(name))
    metadata.create_all(conn, tables=[metadata.tables[name] for name in new])
    if new:
        _append_only_triggers(conn, new)


#: Ordered migrations: (version, description, function run inside the write lock).
MIGRATIONS: tuple[tuple[int, str, Callable[[sa.Connection], None]], ...] = (
    (1, "case store: audit log, chain head, record tables, append-only triggers", _v1),
    (2, "issued reports and results files, append-only", _v2),
    (3, "users and roles, instrument QA results, append-only", _v3),
    (4, "sign-in passwords: credentials and their hashes beside the chain, append-only",
     _v4),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def stored_version(conn: sa.Connection) -> int:
    """The schema version of the store behind ``conn`` (0 for an empty database)."""
    if not sa.inspect(conn).has_table("schema_migrations"):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_migrations.c.version))).scalar() or 0


def migrate(conn: sa.Connection, where: str) -> int:
    """Run the migrations a store lacks, inside the caller's write transaction.

    Returns the version reached. Raises ``CustodyError`` when the store was written by a
    newer gcms, or when the database holds other tables but no gcms schema.
    """
    current = stored_version(conn)
    if current > LATEST_VERSION:
        raise CustodyError(
            f"{where}: the case store has schema version {current}, newer than this gcms "
            f"understands ({LATEST_VERSION}); upgrade gcms"
        )
    if current == 0 and sa.inspect(conn).has_table("audit_log"):
        raise CustodyError(f"{where}: holds an audit_log table but no gcms schema version")
    for version, description, function in MIGRATIONS:
        if version <= current:
            continue
        function(conn)
        conn.execute(schema_migrations.insert().values(
            version=version, description=description, applied_at=utc_iso(utc_now())))
    return LATEST_VERSION
