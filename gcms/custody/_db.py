"""Where a store lives and how to talk to it: locations, engines, locking per database.

A location is a folder (SQLite: ``FOLDER/gcms.sqlite``), an SQLAlchemy URL
(``postgresql://user@host/db``, ``sqlite:///path``), or nothing: then ``GCMS_STORE``, or the
platform data directory (:func:`default_location`).

Appends are serialised across processes:

* SQLite: a write transaction starts with ``BEGIN IMMEDIATE``, which takes the database's
  write lock at once (a deferred BEGIN would take it at the first write and could then
  fail with "database is locked" instead of waiting); waiting is bounded by a busy
  timeout. SQLite's busy handler waits by sleeping and polling (1 ms, 2 ms, ... 100 ms),
  so under contention writers mostly sleep; gcms writers therefore first queue on an
  operating-system lock on ``gcms.sqlite-writers.lock`` (``flock``, released by the
  kernel if the process dies), which wakes the next writer the moment the last one
  commits. The database lock stays the authority; the queue only makes waiting cheap.
  The journal is WAL with ``synchronous=FULL``: a committed entry survives a
  crash or power cut, a killed writer leaves nothing half-written, readers never block
  the writer.
* PostgreSQL: a write transaction locks the one ``chain_head`` row with
  ``SELECT ... FOR UPDATE`` before it reads the head, so appends queue on that row; a
  killed writer's transaction is rolled back by the server when its connection drops.
  Creating the schema takes a transaction-level advisory lock instead (the row does not
  exist yet).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event

from gcms.config import environment, user_data_dir
from gcms.errors import CustodyError, MissingExtraError

__all__ = [
    "SQLITE_FILE",
    "default_location",
    "lock_schema",
    "make_engine",
    "resolve_location",
    "writer_queue",
    "writer_queue_path",
]

#: File name of the SQLite database inside a store folder.
SQLITE_FILE = "gcms.sqlite"

#: How long a writer waits for another to finish before giving up (seconds). Appends
#: hold the lock for milliseconds; this covers a long batch recording in another process.
LOCK_TIMEOUT_S = 120.0

#: Key of the PostgreSQL advisory lock taken while a schema is created or migrated
#: (the bytes "gcmsdb" read as an integer).
MIGRATION_LOCK_KEY = 0x67636D736462


def default_location() -> Path:
    """``GCMS_STORE``, else the platform's per-user data directory plus ``gcms/store``.

    Linux: ``$XDG_DATA_HOME`` or ``~/.local/share``; macOS: ``~/Library/Application
    Support``; Windows: ``%LOCALAPPDATA%`` (:func:`gcms.config.user_data_dir`; the store
    does not follow ``GCMS_DATA_DIR``).
    """
    env = environment()
    return Path(env.store) if env.store else user_data_dir() / "store"


def resolve_location(location: str | os.PathLike | None, *, create: bool) -> tuple[sa.URL, str]:
    """The SQLAlchemy URL of a store location and a display name without password."""
    if location is None:
        location = default_location()
    text = os.fspath(location)
    if "://" not in text:
        folder = Path(text).expanduser()
        if not folder.exists():
            if not create:
                raise CustodyError(f"{folder}: no case store here (make one with 'gcms case new')")
            folder.mkdir(parents=True)
        elif not folder.is_dir():
            raise CustodyError(f"{folder}: a store location must be a folder")
        database = folder / SQLITE_FILE
        if not create and not database.exists():
            raise CustodyError(f"{folder}: no case store here (no {SQLITE_FILE})")
        return sa.URL.create("sqlite", database=str(database.resolve())), str(folder)
    try:
        url = sa.make_url(text)
    except sa.exc.ArgumentError as error:
        raise CustodyError(f"{text}: not a database URL") from error
    display = url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        if importlib.util.find_spec("psycopg") is None:
            raise MissingExtraError("a PostgreSQL case store", "postgres", "psycopg")
        url = url.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise CustodyError(f"{display}: only SQLite and PostgreSQL stores are supported")
    return url, display


def make_engine(url: sa.URL) -> sa.Engine:
    """An engine whose write transactions take the store's append lock (see above)."""
    if url.get_backend_name() == "sqlite":
        engine = sa.create_engine(url, connect_args={"timeout": LOCK_TIMEOUT_S})

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record) -> None:
            # Take transaction control from the driver so BEGIN is ours (SQLAlchemy's
            # documented recipe for pysqlite).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection) -> None:
            write = connection.get_execution_options().get("gcms_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # Connections are checked out for one short transaction each; recycling them after
    # an hour keeps a long-lived process clear of server-side idle timeouts.
    return sa.create_engine(url, pool_recycle=3600)


def writer_queue_path(url: sa.URL) -> Path | None:
    """The lock file SQLite writers queue on, or ``None`` (PostgreSQL, in-memory)."""
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(f"{url.database}-writers.lock")


@contextmanager
def writer_queue(path: Path | None) -> Iterator[None]:
    """Hold the writers' queue lock (POSIX ``flock``); a no-op where there is none."""
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's busy timeout alone serialises writers
        fcntl = None
    if path is None or fcntl is None:
        yield
        return
    with open(path, "ab") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_schema(conn: sa.Connection) -> None:
    """Serialise schema creation and migration (PostgreSQL; SQLite's write lock suffices)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                     {"key": MIGRATION_LOCK_KEY})
