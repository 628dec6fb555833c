"""The seizure database on SQLite and PostgreSQL: round trip, links, search, clusters, export."""

from __future__ import annotations

import csv
from xml.etree import ElementTree

import numpy as np
import pytest
import sqlalchemy as sa
from custody.conftest import memory_key

from gcms.custody import CaseStore
from gcms.errors import CustodyError, GcmsError
from gcms.profiling.calibrate import calibrate_groups
from gcms.profiling.measure import Profile, normalise, score_pair
from gcms.profiling.method import find_profiling_method
from gcms.profiling.simulate import BatchModel, simulate_seizures
from gcms.profiling.store import LIMITATION, ProfileStore, SeizureInfo

GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


@pytest.fixture(scope="module")
def cocaine():
    return find_profiling_method("cocaine")


@pytest.fixture(scope="module")
def calibration(cocaine):
    known = simulate_seizures(cocaine, BatchModel(n_batches=60, seed=1))
    return calibrate_groups(known.values(cocaine), known.batch, simulated=True,
                            method=cocaine.identity())


def profile_of(cocaine, areas, name):
    return Profile(method=cocaine.name, method_sha256=cocaine.sha256, settings=cocaine.profile,
                   targets=tuple(t.name for t in cocaine.profile_targets), areas=areas,
                   values=normalise(areas, cocaine.profile), sample_name=name)


def test_round_trip_links_clusters_export(location, tmp_path, cocaine, calibration):
    seizures = simulate_seizures(cocaine, BatchModel(n_batches=6, per_batch=3, seed=7,
                                                     adulteration_probability=0.0))
    key = memory_key()
    with CaseStore(location, actor="alice") as cases:
        cases.register_key(key, user="alice", printed_name="Alice")
        cases.open_case("K1", title="border seizures")
    with ProfileStore(location, actor="alice") as store:
        store.set_calibration(cocaine, calibration, key=key)
        assert store.calibration(cocaine).threshold == calibration.threshold
        ids = []
        for i, areas in enumerate(seizures.areas):
            pid, links = store.add_profile(
                cocaine, profile_of(cocaine, areas, f"S{i}"),
                SeizureInfo(case_id="K1", exhibit_id=f"E{i}",
                            seized_on=f"2026-0{1 + i % 9}-01", place="Port", drug="cocaine"))
            ids.append(pid)
            for link in links:  # every link quotes score, threshold and the rates
                assert link.score >= calibration.threshold
                assert "false-positive rate" in link.sentence()
                assert "SIMULATED" in link.sentence()
                assert link.to_dict()["limitation"] == LIMITATION
        assert store.count(cocaine) == 18
        record = store.profile_record(ids[0])
        assert record["case_id"] == "K1" and record["targets"][0] == "tropacocaine"
        expected = [None if not np.isfinite(a) else pytest.approx(a)
                    for a in seizures.areas[0]]
        assert record["areas"] == expected
        np.testing.assert_allclose(record["values"], normalise(seizures.areas[0],
                                                               cocaine.profile))
        # each profile went into case K1's custody chain, one entry each, after the threshold's
        assert record["custody"]["recorded"] is True
        assert store.profile_record(ids[1])["custody"]["entry_seq"] == \
            record["custody"]["entry_seq"] + 1
        assert record["detail"]["schema"] == "gcms-profile/1"  # the profile as measured

        # search: the closest of a re-measured exhibit is itself, scores as the reference
        values = normalise(seizures.areas, cocaine.profile)
        hits = store.search(cocaine, values[4], k=5, calibration=calibration)
        assert hits[0].profile_id == ids[4] and hits[0].score == pytest.approx(1.0)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        for h in hits:
            j = ids.index(h.profile_id)
            assert h.score == pytest.approx(score_pair(values[4], values[j], "pearson"))
            assert h.linked == (h.score >= calibration.threshold)
        assert hits[0].seizure.place == "Port"

        # clusters: connected components of the links, checked against a direct union-find
        clusters = store.clusters(cocaine)
        links = store.links(cocaine)
        parent = {}

        def find(x):
            parent.setdefault(x, x)
            while parent[x] != x:
                x = parent[x]
            return x

        for lk in links:
            parent[find(lk.profile_a)] = find(lk.profile_b)
        groups = {}
        for p in parent:
            groups.setdefault(find(p), set()).add(p)
        assert sorted(map(sorted, groups.values())) == sorted(map(sorted, clusters))
        # same-batch exhibits mostly end up together
        batch_of = dict(zip(ids, seizures.batch, strict=True))
        together = sum(len({batch_of[p] for p in c}) == 1 for c in clusters)
        assert clusters and together >= 1

        paths = store.export(cocaine, tmp_path / "graph")
    with open(paths["nodes"], newline="") as handle:
        nodes = list(csv.DictReader(handle))
    with open(paths["edges"], newline="") as handle:
        edges = list(csv.DictReader(handle))
    assert len(nodes) == 18 and len(edges) == len(links)
    assert nodes[0]["case_id"] == "K1" and nodes[0]["drug"] == "cocaine"
    assert all(float(e["score"]) >= float(e["threshold"]) for e in edges)
    assert all(float(e["held_out_false_negative_rate"]) ==
               calibration.held_out[1].rate for e in edges)
    root = ElementTree.parse(paths["graphml"]).getroot()
    graph = root.find(f"{GRAPHML}graph")
    assert len(graph.findall(f"{GRAPHML}node")) == 18
    parsed_edges = graph.findall(f"{GRAPHML}edge")
    assert len(parsed_edges) == len(links)
    keys = {k.get("id"): k.get("attr.name") for k in root.findall(f"{GRAPHML}key")}
    first = {keys[d.get("key")]: d.text for d in parsed_edges[0]} if parsed_edges else {}
    if parsed_edges:
        assert float(first["score"]) == pytest.approx(links[0].score)
        assert first["metric"] == "pearson"

    # the chain vouches for every row on either database; a row edited around gcms is named
    with CaseStore(location, actor="alice", create=False) as cases:
        assert cases.verify(rehash=False).findings == ()
    from gcms.custody._db import make_engine, resolve_location

    engine = make_engine(resolve_location(location, create=False)[0])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE profiling_profiles SET place = 'Elsewhere' "
                             "WHERE profile_id = :p"), {"p": ids[5]})
    engine.dispose()
    with CaseStore(location, actor="alice", create=False) as cases:
        findings = cases.verify(rehash=False).findings
    assert [f.subject for f in findings] == [f"profile {ids[5]}"]


def test_graphml_reads_in_networkx(tmp_path, cocaine, calibration):
    nx = pytest.importorskip("networkx")
    seizures = simulate_seizures(cocaine, BatchModel(n_batches=3, per_batch=3, seed=3,
                                                     adulteration_probability=0.0))
    with CaseStore(tmp_path / "s", actor="alice") as cases:
        cases.open_case("C1", title="quay")
    with ProfileStore(tmp_path / "s", actor="alice") as store:
        for i, areas in enumerate(seizures.areas):
            store.add_profile(cocaine, profile_of(cocaine, areas, f"S{i}"),
                              SeizureInfo(case_id="C1", exhibit_id=f"E{i}", place="Quay",
                                          drug="cocaine"),
                              calibration=calibration)
        paths = store.export(cocaine, tmp_path / "out")
        n_links = len(store.links(cocaine))
    graph = nx.read_graphml(paths["graphml"])
    assert graph.number_of_nodes() == 9 and graph.number_of_edges() == n_links
    assert all(d["place"] == "Quay" for _, d in graph.nodes(data=True))


def test_store_refuses_bad_profiles(tmp_path, cocaine):
    with CaseStore(tmp_path / "s", actor="alice") as cases:
        cases.open_case("K1", title="port")
    with ProfileStore(tmp_path / "s", actor="alice") as store:
        empty = profile_of(cocaine, [np.nan] * 5, "empty")
        with pytest.raises(GcmsError, match="nothing to store"):
            store.add_profile(cocaine, empty, SeizureInfo(case_id="K1"))
        good = profile_of(cocaine, [1, 2, 3, 4, 5], "a")
        pid, links = store.add_profile(cocaine, good, SeizureInfo(case_id="K1"))
        assert links == []  # no calibration: no threshold to state, nothing linked
        with pytest.raises(GcmsError, match="no profile 'nope'"):
            store.seizure("nope")
        assert store.seizure(pid) == SeizureInfo(case_id="K1")
        # a profile must belong to a case the store holds; nothing is written otherwise
        with pytest.raises(CustodyError, match="case 'K9' is not in the store"):
            store.add_profile(cocaine, good, SeizureInfo(case_id="K9"))
        with pytest.raises(CustodyError, match="names no case"):
            store.add_profile(cocaine, good, SeizureInfo())
        assert store.count(cocaine) == 1
    with ProfileStore(tmp_path / "s", actor="mallory") as store:  # not an enrolled user
        with pytest.raises(CustodyError, match="mallory is not an enrolled user"):
            store.add_profile(cocaine, good, SeizureInfo(case_id="K1"))
    with ProfileStore(tmp_path / "bare", actor="alice") as store:  # no case store at all
        with pytest.raises(CustodyError, match="this is not one"):
            store.add_profile(cocaine, good, SeizureInfo(case_id="K1"))


def test_concurrent_adds_link_to_each_other(location, cocaine, calibration):
    """Seizures added at the same moment by two clients still see each other."""
    import threading

    areas = [4e5, 2e5, 1.5e5, 6e5, 9e5]
    key = memory_key()
    with CaseStore(location, actor="alice") as cases:
        cases.register_key(key, user="alice", printed_name="Alice")
        for i in range(4):
            cases.open_case(f"T{i}", title="concurrent")
    with ProfileStore(location, actor="alice") as store:
        store.set_calibration(cocaine, calibration, key=key)
    barrier = threading.Barrier(4)
    errors = []

    def add(i):
        try:
            with ProfileStore(location, actor="alice") as store:
                barrier.wait()
                store.add_profile(cocaine, profile_of(cocaine, areas, f"T{i}"),
                                  SeizureInfo(case_id=f"T{i}"))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with ProfileStore(location) as store:
        links = store.links(cocaine)
        # 4 identical profiles: every pair linked exactly once, whatever the order
        pairs = {frozenset((lk.profile_a, lk.profile_b)) for lk in links}
        assert len(links) == len(pairs) == 6
        assert store.clusters(cocaine) and len(store.clusters(cocaine)[0]) == 4
