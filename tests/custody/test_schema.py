"""The schema a migrated database holds is the one the code describes, on both databases."""

from __future__ import annotations

import subprocess
import sys

import sqlalchemy as sa

from gcms.custody import CaseStore
from gcms.custody._db import resolve_location
from gcms.custody.records import RECORD_TYPES
from gcms.custody.schema import APPEND_ONLY_TABLES, LATEST_VERSION, metadata


def _engine(location):
    url, _ = resolve_location(location, create=False)
    return sa.create_engine(url)


def test_migrated_database_matches_the_table_definitions(location):
    CaseStore(location, actor="a").close()
    engine = _engine(location)
    try:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == set(metadata.tables)
        for table in metadata.tables.values():
            reflected = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert list(reflected) == [c.name for c in table.columns], table.name
            for column in table.columns:
                assert reflected[column.name]["nullable"] == column.nullable, (
                    table.name, column.name)
                assert reflected[column.name]["type"]._type_affinity is (
                    column.type._type_affinity), (table.name, column.name)
            assert inspector.get_pk_constraint(table.name)["constrained_columns"] == [
                c.name for c in table.primary_key.columns]
        with engine.connect() as conn:
            versions = conn.execute(sa.text("SELECT version FROM schema_migrations")).all()
        assert [v for (v,) in versions] == list(range(1, LATEST_VERSION + 1))
    finally:
        engine.dispose()


def test_every_record_type_has_an_append_only_table():
    assert {cls.TABLE for cls in RECORD_TYPES.values()} <= set(APPEND_ONLY_TABLES)
    assert "chain_head" not in APPEND_ONLY_TABLES  # the one row that moves


def test_processes_creating_one_store_at_once_initialise_it_once(location):
    script = ("import sys; from gcms.custody import CaseStore; "
              "CaseStore(sys.argv[1], actor='p').close()")
    workers = [subprocess.Popen([sys.executable, "-c", script, location],
                                stderr=subprocess.PIPE) for _ in range(3)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    with CaseStore(location, actor="a", create=False) as store:
        assert [e.action for e in store.log()] == ["store.init", "user.add"]
        assert store.verify().ok
