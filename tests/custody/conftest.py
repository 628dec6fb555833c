"""Stores to test against: SQLite in a temporary folder, and a real PostgreSQL server.

The PostgreSQL server is started once per test session with the binaries found under
``/usr/lib/postgresql/*/bin`` (or ``GCMS_TEST_PG_BIN``): ``initdb`` into a temporary
folder, ``pg_ctl start`` on a free loopback port, one fresh database per test. ``initdb``
refuses to run as root, so as root the server runs as the unprivileged ``postgres`` (or
``nobody``) account through ``runuser``. Where the binaries or the ``psycopg`` driver are
absent the PostgreSQL half of each test is skipped with a message saying what is missing.

This package has an ``__init__.py`` so that this module is ``custody.conftest`` and never
takes the place of the top-level ``conftest`` other test modules import from.
"""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN_ENV = "GCMS_TEST_PG_BIN"


def _pg_bindir() -> Path | None:
    candidates = []
    if os.environ.get(PG_BIN_ENV):
        candidates.append(os.environ[PG_BIN_ENV])

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path))

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    candidates += glob.glob("/usr/pgsql-*/bin") + ["/usr/local/pgsql/bin"]
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PostgresServer:
    """A throw-away server: ``new_database()`` gives a URL to an empty database."""

    port: int
    _counter: itertools.count

    def new_database(self) -> str:
        import psycopg

        name = f"gcms_test_{next(self._counter)}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=gcms dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://gcms@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server for the whole session (or a skip saying what is missing)."""
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("PostgreSQL tests need the driver: pip install 'gcms[postgres]'")
    bindir = _pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found under "
                    f"/usr/lib/postgresql/*/bin; set {PG_BIN_ENV} to their folder")
    root = Path(tempfile.mkdtemp(prefix="gcms-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        for account in ("postgres", "nobody"):
            try:
                user = pwd.getpwnam(account)
                break
            except KeyError:
                continue
        else:
            pytest.skip("running as root and no unprivileged account to run PostgreSQL as")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", user.pw_name, "--"]
    data, log = root / "data", root / "server.log"
    try:
        subprocess.run(prefix + [str(bindir / "initdb"), "-D", str(data), "-U", "gcms",
                                 "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        port = _free_port()
        options = (f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off "
                   "-c max_connections=60 -c shared_buffers=32MB")
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log),
                                 "-o", options, "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        detail = getattr(error, "stderr", b"") or b""
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL from {bindir}: {error} "
                    f"{detail.decode(errors='replace')}")
    try:
        yield PostgresServer(port, itertools.count(1))
    finally:
        subprocess.run(prefix + [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                 "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request, tmp_path) -> str:
    """A fresh, empty store location on each database."""
    if request.param == "sqlite":
        return str(tmp_path / "store")
    return request.getfixturevalue("postgres_server").new_database()


@pytest.fixture
def sqlite_location(tmp_path) -> str:
    """A fresh store location on SQLite only (CLI tests)."""
    return str(tmp_path / "store")


class RawDatabase:
    """Plain SQL on a store's database, with its append-only guards dropped: the tamperer."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.postgres = location.startswith("postgresql://")

    def _connect(self):
        if self.postgres:
            import psycopg

            return psycopg.connect(self.location)
        return sqlite3.connect(Path(self.location) / "gcms.sqlite")

    def execute(self, *statements: tuple[str, tuple] | str) -> None:
        """Run statements in one transaction (``?`` placeholders on both databases)."""
        conn = self._connect()
        try:
            for statement in statements:
                sql, params = (statement, ()) if isinstance(statement, str) else statement
                if self.postgres:
                    sql = sql.replace("?", "%s")
                conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        conn = self._connect()
        try:
            if self.postgres:
                sql = sql.replace("?", "%s")
            return list(conn.execute(sql, params).fetchall())
        finally:
            conn.close()

    def drop_guards(self, *tables: str) -> None:
        """Drop the triggers that refuse UPDATE and DELETE on ``tables``."""
        statements = []
        for table in tables:
            if self.postgres:
                statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            else:
                statements += [f"DROP TRIGGER IF EXISTS {table}_no_update",
                               f"DROP TRIGGER IF EXISTS {table}_no_delete"]
        self.execute(*statements)


@pytest.fixture
def raw():
    """Factory: ``raw(location)`` gives a :class:`RawDatabase`."""
    return RawDatabase


# -- a populated case --------------------------------------------------------------------

PASSPHRASE = "correct horse battery"


@pytest.fixture(scope="session")
def analyst_keys(tmp_path_factory):
    """Key pairs of alice (analyst) and bob (reviewer), made once: ``{user: (files, key)}``."""
    from gcms.custody.keys import new_key_pair

    folder = tmp_path_factory.mktemp("keys")
    out = {}
    for user in ("alice", "bob"):
        key_path, pub_path, key = new_key_pair(folder, user, PASSPHRASE)
        out[user] = (key_path, pub_path, key)
    return out


@dataclass
class BuiltCase:
    """A store holding case C1 (exhibit, custody, two runs, results, signatures) and C2."""

    location: str
    run_file: Path
    run_folder: Path
    keys: dict

    def store(self, actor: str = "alice"):
        from gcms.custody import CaseStore

        return CaseStore(self.location, actor=actor, create=False)

    def seq_of(self, action: str, object_id: str, case_id: str | None = "C1") -> int:
        with self.store() as store:
            return next(e.seq for e in store.log() if e.action == action
                        and e.object_id == object_id and e.case_id == case_id)


def memory_key():
    """A fresh Ed25519 key held in memory only (no key file, no passphrase)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gcms.custody.keys import SigningKey, _raw_public

    private = Ed25519PrivateKey.generate()
    return SigningKey(private, _raw_public(private.public_key()))


def enrol_users(store, *users: str, roles=("analyst",)):
    """As the store's first admin (the actor): register an admin key, enrol ``users``.

    Returns the admin's key.
    """
    key = memory_key()
    store.register_key(key, user=store.actor, printed_name=f"Admin {store.actor}")
    for name in users:
        store.add_user(name, roles=list(roles), printed_name=f"User {name}", key=key)
    return key


def enrol(store, keys: dict) -> None:
    """As alice, the store's first admin: her own key, then bob (reviewer, qa) and his key."""
    alice = keys["alice"][2]
    store.register_key(alice, user="alice", printed_name="Alice A. Analyst")
    store.add_user("bob", roles=["reviewer", "qa"], printed_name="Bob B. Reviewer", key=alice)
    store.register_key(keys["bob"][1], user="bob", key=alice)


def build_case(location: str, folder: Path, keys: dict) -> BuiltCase:
    from gcms.custody import CaseStore

    run_file = folder / "E1-inj1.cdf"
    run_file.write_bytes(os.urandom(20_000))
    run_folder = folder / "BLANK01.D"
    (run_folder / "AcqData").mkdir(parents=True)
    (run_folder / "DATA.MS").write_bytes(os.urandom(5_000))
    (run_folder / "AcqData" / "MSScan.bin").write_bytes(os.urandom(7_000))
    with CaseStore(location, actor="alice") as store:
        store.open_case("C1", title="Port seizure", submitting_agency="Customs")
        store.receive_exhibit("C1", "E1", description="47 beige tablets",
                              seal_numbers=["A123"], packaging="sealed bag",
                              gross_weight="14.82 g", net_weight="12.50 g", item_count=47,
                              received_from="Officer B", received_at="2025-03-01T09:00Z")
        store.transfer_exhibit("C1", "E1", from_party="alice", to_party="vault",
                               transferred_at="2025-03-01T10:00Z", purpose="storage",
                               seal_intact=True)
        store.transfer_exhibit("C1", "E1", from_party="vault", to_party="alice",
                               transferred_at="2025-03-02T08:00Z", purpose="analysis",
                               seal_intact=True, seal_numbers=["A123"])
        runs = store.record_runs("C1", [
            {"path": str(run_file), "exhibit_id": "E1", "type": "sample",
             "sample_id": "E1-1"},
            {"path": str(run_folder), "type": "blank"},
        ])
        analysis = store.record_analysis("C1", run_ids=[r.run_id for r in runs],
                                         parameters={"min_mf": 800, "ri_window": 20.0})
        store.record_results("C1", [
            {"file": str(run_file), "verdict": "identified",
             "substances": ["amphetamine", "caffeine"], "best_mf": 912},
            {"file": str(run_folder), "verdict": "clean"},
        ], analysis_id=analysis.analysis_id)
        enrol(store, keys)
        store.sign_result("C1", "RS1", keys["alice"][2], meaning="authored")
        store.open_case("C2", title="Another case")
        store.receive_exhibit("C2", "X9", description="green plant material")
    with CaseStore(location, actor="bob", create=False) as store:
        store.review_result("C1", "RS1", outcome="agreed", comments="spectra and RI checked",
                            key=keys["bob"][2])
        store.sign_result("C1", "RS1", keys["bob"][2], meaning="reviewed")
    return BuiltCase(location, run_file, run_folder, keys)


@pytest.fixture
def built(location, tmp_path, analyst_keys) -> BuiltCase:
    """A populated store on each database."""
    return build_case(location, tmp_path, analyst_keys)
