"""A case for the review workstation's domain tests: people, keys, a demo run, results.

alice (admin, analyst) records the results; bob (reviewer, qa) and carol (reviewer)
review; dave (analyst, reviewer) records a result of his own; erin (qa) only watches
instruments. Exhibits E1 and E2 of case C1 each have a result of one demo run (a real
ANDI/netCDF file copied from the package's demo data) with two components.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from gcms.custody import CaseStore

from .conftest import memory_key

DEMO = Path(__file__).resolve().parents[2] / "gcms" / "data" / "demo"


def components(substance: str = "etizolam") -> list[dict]:
    return [
        {"component": 1, "rt_s": 612.4, "substance": substance, "verdict": "identified",
         "area": 1.0e6, "height": 5.0e4, "match_factor": 912, "notes": []},
        {"component": 2, "rt_s": 700.1, "substance": "caffeine", "verdict": "inconclusive",
         "area": 2.0e5, "height": 1.0e4, "match_factor": 801, "notes": []},
    ]


def record(file: Path, exhibit_id: str) -> dict:
    parts = components()
    return {"file": str(file), "sample_id": f"{exhibit_id}-1", "type": "sample",
            "exhibit_id": exhibit_id, "components": parts,
            "findings": {"identified": [{"substance": "etizolam", "component": 1,
                                         "verdict": "identified"}],
                         "inconclusive": [{"substance": "caffeine", "component": 2,
                                           "verdict": "inconclusive"}],
                         "conclusion": [], "out_of_scope": [], "notes": []},
            "quantitation": [{"substance": "etizolam", "role": "unknown", "status": "ok",
                              "reportable": True, "concentration": 0.5, "unit": "mg/mL",
                              "response": 1.0, "internal_standard": None, "flags": [],
                              "integration": {"signal": "TIC", "area": 1.0e6,
                                              "start_s": 600.0, "end_s": 625.0}}]}


@dataclass
class ReviewCase:
    """The store's location, the run files and everyone's unlocked key."""

    location: str
    runs: dict[str, Path]
    keys: dict

    def store(self, actor: str) -> CaseStore:
        return CaseStore(self.location, actor=actor, create=False)


def build_review_case(location: str, folder: Path, analyst_keys: dict) -> ReviewCase:
    """alice records E1 and E2's results and signs them authored; nobody reviewed yet."""
    keys = {"alice": analyst_keys["alice"][2], "bob": analyst_keys["bob"][2],
            "carol": memory_key(), "dave": memory_key(), "erin": memory_key()}
    runs = {}
    for exhibit_id, source in (("E1", "05-exhibit-E1.cdf"), ("E2", "07-exhibit-E2.cdf")):
        runs[exhibit_id] = folder / f"{exhibit_id}.cdf"
        shutil.copyfile(DEMO / source, runs[exhibit_id])
    with CaseStore(location, actor="alice") as store:
        store.register_key(keys["alice"], user="alice", printed_name="Alice A. Analyst")
        for user, roles in (("bob", ["reviewer", "qa"]), ("carol", ["reviewer"]),
                            ("dave", ["analyst", "reviewer"]), ("erin", ["qa"])):
            store.add_user(user, roles=roles, printed_name=f"{user.title()} Person",
                           key=keys["alice"])
            store.register_key(keys[user].public_raw, user=user, key=keys["alice"])
        store.open_case("C1", title="Review workstation")
        store.register_exhibits("C1", {"E1": "tablets", "E2": "powder", "E3": "liquid"},
                                reason="from the sequence")
        attached = store.record_runs("C1", [
            {"path": str(path), "exhibit_id": e, "type": "sample"} for e, path in runs.items()])
        analysis = store.record_analysis("C1", run_ids=[r.run_id for r in attached],
                                         parameters={"min_mf": 800})
        results = store.record_results("C1", [record(runs[e], e) for e in runs],
                                       analysis_id=analysis.analysis_id)
        for result in results:
            store.sign_result("C1", result.result_id, keys["alice"], meaning="authored")
    with CaseStore(location, actor="dave", create=False) as store:
        store.record_result("C1", record(runs["E1"], "E3"), exhibit_id="E3",
                            analysis_id=analysis.analysis_id)
    return ReviewCase(location, runs, keys)
