"""Profiles, links and thresholds in the custody chain: an edit in the database is found.

The tables are edited with the sqlite3 module, around gcms, as someone with write access
to the database file could; ``CaseStore.verify`` (``gcms custody verify``) and the reads of
the seizure database must both name the edited row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from custody.conftest import memory_key

from gcms.custody import CaseStore
from gcms.custody.profiles import row_sha256
from gcms.errors import CustodyError, TamperError
from gcms.profiling.calibrate import calibrate, calibrate_groups
from gcms.profiling.measure import Profile, normalise
from gcms.profiling.method import find_profiling_method
from gcms.profiling.simulate import BatchModel, simulate_seizures
from gcms.profiling.store import ProfileStore, SeizureInfo


@pytest.fixture(scope="module")
def cocaine():
    return find_profiling_method("cocaine")


def profile_of(method, areas, name):
    return Profile(method=method.name, method_sha256=method.sha256, settings=method.profile,
                   targets=tuple(t.name for t in method.profile_targets), areas=areas,
                   values=normalise(areas, method.profile), sample_name=name)


@pytest.fixture
def filled(tmp_path, cocaine):
    """A store with a calibration, three linked profiles of case K1 and one of K2."""
    folder = tmp_path / "store"
    known = simulate_seizures(cocaine, BatchModel(n_batches=30, seed=2))
    calibration = calibrate_groups(known.values(cocaine), known.batch, simulated=True,
                                   bootstrap=50, method=cocaine.identity())
    key = memory_key()
    with CaseStore(folder, actor="alice") as cases:
        cases.register_key(key, user="alice", printed_name="Alice")
        cases.open_case("K1", title="port")
        cases.open_case("K2", title="airport")
    areas = np.array([4e5, 2e5, 1.5e5, 6e5, 9e5])
    ids = []
    with ProfileStore(folder, actor="alice") as store:
        store.set_calibration(cocaine, calibration, key=key)
        for i, case in enumerate(["K1", "K1", "K1", "K2"]):
            pid, _ = store.add_profile(cocaine, profile_of(cocaine, areas * (1 + 0.001 * i),
                                                           f"S{i}"),
                                       SeizureInfo(case_id=case, exhibit_id=f"E{i}"))
            ids.append(pid)
        assert len(store.links(cocaine)) == 6  # near-identical: every pair linked
    return folder, ids, key


def edit(folder: Path, sql: str, *args) -> None:
    conn = sqlite3.connect(folder / "gcms.sqlite")
    with conn:
        changed = conn.execute(sql, args).rowcount
    conn.close()
    assert changed == 1


def problems(folder: Path, case_id: str | None = None) -> list[str]:
    with CaseStore(folder, actor="alice", create=False) as cases:
        report = cases.verify(case_id=case_id, rehash=False)
    return [f"{f.subject}: {f.problem}" for f in report.findings]


def test_untouched_store_verifies_and_entries_name_actor_and_sha(filled, cocaine):
    folder, ids, _ = filled
    assert problems(folder) == []
    assert problems(folder, "K2") == []
    with CaseStore(folder, actor="alice", create=False) as cases:
        log = [e for e in cases.log() if e.object_type == "profiling"]
    assert [e.action for e in log] == ["profiling.calibrate"] + ["profiling.profile"] * 4
    assert all(e.actor == "alice" for e in log)
    assert log[0].case_id is None and [e.case_id for e in log[1:]] == ["K1"] * 3 + ["K2"]
    # the chain holds the SHA-256 of the very rows in the tables, computed independently
    conn = sqlite3.connect(folder / "gcms.sqlite")
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM profiling_profiles WHERE profile_id = ?",
                            (ids[0],)).fetchone())
    conn.close()
    assert log[1].after["row_sha256"] == row_sha256("profile", row)
    assert row["created_by"] == "alice"
    with ProfileStore(folder) as store:
        assert log[0].after["threshold"] == store.calibration(cocaine).threshold


@pytest.mark.parametrize("table, sql", [
    ("profile", "UPDATE profiling_profiles SET place = 'Elsewhere' WHERE profile_id = ?"),
    ("link", "UPDATE profiling_links SET score = 0.9999 WHERE id = (SELECT min(id) "
     "FROM profiling_links WHERE profile_a = ?)"),
])
def test_edited_profile_or_link_row_is_found(filled, cocaine, table, sql):
    folder, ids, _ = filled
    target = ids[0] if table == "profile" else ids[3]
    edit(folder, sql, target)
    found = problems(folder)
    assert len(found) == 1 and found[0].startswith(f"{table} {target}")
    assert "was altered" in found[0]
    with ProfileStore(folder) as store, pytest.raises(TamperError, match="altered"):
        if table == "profile":
            store.profile_record(target)
        else:
            store.links(cocaine)


def test_edited_threshold_is_found(filled, cocaine):
    folder, _, key = filled
    conn = sqlite3.connect(folder / "gcms.sqlite")
    data = json.loads(conn.execute("SELECT data FROM profiling_calibrations").fetchone()[0])
    conn.close()
    data["threshold"] = 0.5  # a looser threshold: more links
    edit(folder, "UPDATE profiling_calibrations SET data = ?", json.dumps(data))
    found = problems(folder)
    assert len(found) == 1 and found[0].startswith("calibration 1:")
    assert "was altered" in found[0]
    with ProfileStore(folder) as store, pytest.raises(TamperError, match="calibration 1"):
        store.calibration(cocaine)


def test_deleted_newer_threshold_is_found(filled, cocaine):
    """Deleting the newest threshold would bring back an older one: the reads refuse."""
    folder, _, key = filled
    with ProfileStore(folder, actor="alice") as store:
        newer = calibrate([0.99, 0.98, 0.97], [0.1, 0.2, 0.3], method=cocaine.identity())
        with pytest.raises(CustodyError, match="needs alice's private key"):
            store.set_calibration(cocaine, newer)  # a threshold is signed by who sets it
        store.set_calibration(cocaine, newer, key=key)
        assert store.calibration(cocaine).threshold == newer.threshold
    edit(folder, "DELETE FROM profiling_calibrations WHERE id = 2")
    assert [f.split(":")[0] for f in problems(folder)] == ["calibration 2"]
    with ProfileStore(folder) as store, pytest.raises(TamperError, match="latest threshold"):
        store.calibration(cocaine)


def test_inserted_and_deleted_rows_are_found(filled, cocaine):
    folder, ids, _ = filled
    edit(folder, "INSERT INTO profiling_links (profile_a, profile_b, method_sha256, score, "
         "calibration, created_at) SELECT profile_b, profile_a, method_sha256, score, "
         "calibration, created_at FROM profiling_links WHERE id = 1")
    edit(folder, "DELETE FROM profiling_profiles WHERE profile_id = ?", ids[3])
    found = problems(folder)
    assert any("has no audit entry" in f and f.startswith("link ") for f in found)
    assert any(f.startswith(f"profile {ids[3]}") and "missing from table" in f
               for f in found)
    with ProfileStore(folder) as store, pytest.raises(TamperError, match="no audit entry"):
        store.links(cocaine)
    # scoped to K1: its profiles and links are checked; K2's deleted profile is not its own
    assert not any(f.startswith(f"profile {ids[3]}") for f in problems(folder, "K1"))


def test_search_refuses_an_edited_match(filled, cocaine):
    folder, ids, _ = filled
    with ProfileStore(folder) as store:
        query = np.asarray(store.profile_record(ids[1])["values"])
        assert ids[1] in {m.profile_id for m in store.search(cocaine, query, k=4)}
    vector = np.asarray(query[::-1], dtype="<f8").tobytes()
    edit(folder, "UPDATE profiling_profiles SET vector = ? WHERE profile_id = ?", vector,
         ids[1])
    with ProfileStore(folder) as store, pytest.raises(TamperError, match=ids[1]):
        store.search(cocaine, query, k=4)


def test_imports_are_lab_level_entries_with_their_source(tmp_path, cocaine):
    folder = tmp_path / "store"
    with CaseStore(folder, actor="alice"):
        pass
    seizures = simulate_seizures(cocaine, BatchModel(n_batches=4, per_batch=2, seed=5))
    with ProfileStore(folder, actor="alice") as store:
        ids = store.add_profiles(cocaine, [profile_of(cocaine, a, f"I{i}") for i, a in
                                           enumerate(seizures.areas)],
                                 [SeizureInfo(case_id=f"LAB2-{i}") for i in
                                  range(len(seizures.areas))], source="partner lab LAB2")
        assert store.profile_record(ids[0])["custody"]["imported_from"] == "partner lab LAB2"
    with CaseStore(folder, actor="alice", create=False) as cases:
        entry = [e for e in cases.log() if e.action == "profiling.import"][0]
    assert entry.case_id is None and entry.after["count"] == 8
    assert entry.after["source"] == "partner lab LAB2"
    assert problems(folder) == []
    edit(folder, "UPDATE profiling_profiles SET seized_on = '2020-01-01' WHERE profile_id = ?",
         ids[2])
    assert [f.split(":")[0] for f in problems(folder)] == [f"profile {ids[2]}"]
    with ProfileStore(folder) as store, pytest.raises(TamperError, match=ids[2]):
        store.seizure(ids[2])


def test_cli_names_the_edited_row(filled):
    """``gcms custody verify`` fails and ``gcms profile search`` refuses, each naming it."""
    from click.testing import CliRunner
    from gcms_cli.main import cli

    folder, ids, _ = filled

    def gcms(*args):
        return CliRunner().invoke(cli, [str(a) for a in args], env={"GCMS_ACTOR": "alice"})

    assert gcms("custody", "verify", "--store", folder).exit_code == 0
    edit(folder, "UPDATE profiling_profiles SET drug = 'heroin' WHERE profile_id = ?", ids[2])
    verified = gcms("custody", "verify", "--store", folder)
    assert verified.exit_code != 0 and ids[2] in verified.output
    searched = gcms("profile", "search", ids[0], "--method", "cocaine", "--store", folder)
    # a break in the evidence is a finding (exit 1), not bad input
    assert searched.exit_code == 1 and "was altered in the database" in searched.output
    assert "Traceback" not in searched.output


def test_case_bundle_carries_and_verifies_its_profiles(filled):
    """A case's bundle holds its profiling entries and verifies without the database."""
    from gcms.custody.bundle import verify_bundle

    folder, ids, _ = filled
    with CaseStore(folder, actor="alice", create=False) as cases:
        bundle = cases.export_bundle("K1")
    report = verify_bundle(bundle)
    assert report.ok, report.findings
    entries = [json.loads(e["content"]) for e in bundle["links"] if e.get("content")]
    profiles = [e["object_id"] for e in entries if e["action"] == "profiling.profile"]
    assert sorted(profiles) == sorted(ids[:3])  # K1's own; K2's profile only as a hash
