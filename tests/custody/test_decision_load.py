"""Bounded load: concurrent reviewers deciding on one PostgreSQL store lose no write.

``GCMS_LOAD_REVIEWERS`` processes (default 20), each a reviewer with their own key,
accept verdicts on the same few results for ``GCMS_LOAD_SECONDS`` (default 20; the issue
names 60 for a local run). Every decision a worker saw succeed must be in the results,
once, in a version chain with no gap, and the store must verify.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gcms.custody import CaseStore

from .conftest import memory_key

WORKER = Path(__file__).with_name("_decision_worker.py")
REVIEWERS = int(os.environ.get("GCMS_LOAD_REVIEWERS", "20"))
SECONDS = float(os.environ.get("GCMS_LOAD_SECONDS", "20"))
RESULTS = 5


def _seed(key) -> str:
    from cryptography.hazmat.primitives import serialization

    return key._private.private_bytes(serialization.Encoding.Raw,
                                      serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption()).hex()


@pytest.mark.slow
def test_concurrent_reviewers_lose_no_decision(postgres_server, tmp_path, record_property):
    location = postgres_server.new_database()
    admin = memory_key()
    reviewers = {f"rev-{n:02d}": memory_key() for n in range(REVIEWERS)}
    with CaseStore(location, actor="root") as store:
        store.register_key(admin, user="root", printed_name="Root")
        store.add_user("ana", roles=["analyst"], printed_name="Ana", key=admin)
        for user, key in reviewers.items():
            store.add_user(user, roles=["reviewer"], printed_name=user, key=admin)
            store.register_key(key.public_raw, user=user, key=admin)
        store.open_case("L1")
    with CaseStore(location, actor="ana", create=False) as store:
        ids = [store.record_result("L1", {"components": [
            {"component": 1, "substance": "cocaine", "verdict": "identified", "notes": []}]}
        ).result_id for _ in range(RESULTS)]
        start_seq = store.head()[0]
    go = tmp_path / "go"
    outs = {user: tmp_path / f"{user}.json" for user in reviewers}
    workers = [subprocess.Popen([sys.executable, str(WORKER), location, user, _seed(key),
                                 ",".join(ids), str(go), str(SECONDS), str(outs[user])],
                                stderr=subprocess.PIPE) for user, key in reviewers.items()]
    deadline = time.monotonic() + 240
    while not all(Path(f"{out}.ready").exists() for out in outs.values()):
        for worker in workers:  # every worker imported and connected: release them together
            assert worker.poll() is None, worker.communicate()[1].decode()
        assert time.monotonic() < deadline, "the reviewers never all connected"
        time.sleep(0.05)
    go.write_text("go")
    for worker in workers:
        _, err = worker.communicate(timeout=SECONDS + 240)
        assert worker.returncode == 0, err.decode()

    made = {}
    latencies = []
    for user, out in outs.items():
        data = json.loads(out.read_text())
        made[user] = [tuple(item) for item in data["made"]]
        latencies += data["latencies"]
        assert made[user], f"{user} made no decision in {SECONDS} s"
    total = sum(len(m) for m in made.values())
    with CaseStore(location, actor="root", create=False) as store:
        assert store.head()[0] == start_seq + total
        recorded = []
        for result in store.results("L1"):
            decisions = result.data["decisions"]
            assert result.version == 1 + len(decisions)
            assert [d["decision"] for d in decisions] == list(range(1, len(decisions) + 1))
            assert [d["result_version"] for d in decisions] == list(
                range(2, len(decisions) + 2))
            recorded += [(result.result_id, d["reason"]) for d in decisions]
        assert sorted(recorded) == sorted(item for m in made.values() for item in m)
        report = store.verify()
        assert report.ok, report.findings[:3]
        assert report.proofs >= total
    latencies.sort()
    line = (f"{REVIEWERS} reviewers, {SECONDS:g} s: {total} decisions "
            f"({total / SECONDS:.1f}/s), latency median {latencies[len(latencies) // 2]:.3f} s, "
            f"p95 {latencies[int(len(latencies) * 0.95)]:.3f} s")
    record_property("load", line)
    sys.stderr.write(f"\n{line}\n")
