"""Concurrent writers and a writer killed mid-transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from gcms.custody import CaseStore

from .conftest import enrol_users

WORKER = Path(__file__).with_name("_worker.py")
PROCESSES = 4
ENTRIES_EACH = 500


def _prepare(location: str, exhibits: list[str]) -> int:
    with CaseStore(location, actor="setup") as store:
        enrol_users(store, *(f"writer-{e}" for e in exhibits))
        store.open_case("C")
        for exhibit_id in exhibits:
            store.receive_exhibit("C", exhibit_id, description="test item", received_by="A")
        return store.head()[0]


def test_four_processes_append_500_entries_each(location, tmp_path):
    """One case, one exhibit per writer: the chain and the case's transfer numbers
    (T1, T2, ... allocated under the lock) come out whole."""
    exhibits = [f"E{i}" for i in range(PROCESSES)]
    start_seq = _prepare(location, exhibits)
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, str(WORKER), "append", location, exhibit_id,
                                 str(ENTRIES_EACH), str(go)], stderr=subprocess.PIPE)
               for exhibit_id in exhibits]
    time.sleep(1.0)  # let every worker import and connect, then release them together
    go.write_text("go")
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()

    with CaseStore(location, actor="checker", create=False) as store:
        head_seq, _ = store.head()
        assert head_seq == start_seq + PROCESSES * ENTRIES_EACH
        report = store.verify()
        assert report.ok, report.findings[:3]
        assert report.entries == head_seq
        entries = store.log()
        assert [e.seq for e in entries] == list(range(1, head_seq + 1))
        transfers = store.transfers("C")
        assert [t.transfer_id for t in transfers] == [
            f"T{i}" for i in range(1, PROCESSES * ENTRIES_EACH + 1)]
        for exhibit_id in exhibits:
            mine = [(t.from_party, t.to_party) for t in transfers if t.exhibit_id == exhibit_id]
            assert mine == [("AB"[i % 2], "AB"[(i + 1) % 2]) for i in range(ENTRIES_EACH)]
        # the writers really ran at once: their entries interleave in the chain
        actors = [e.actor for e in entries[start_seq:]]
        switches = sum(a != b for a, b in zip(actors, actors[1:], strict=False))
        assert switches >= PROCESSES


def test_writer_killed_mid_transaction_leaves_a_store_that_verifies(location, tmp_path):
    start_seq = _prepare(location, ["K1"])
    marker = tmp_path / "holding"
    committed = 5
    worker = subprocess.Popen([sys.executable, str(WORKER), "crash", location, "K1",
                               str(committed), str(marker)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert worker.poll() is None, worker.communicate()[1].decode()
        assert time.monotonic() < deadline, "the writer never reached its last transaction"
        time.sleep(0.01)
    os.kill(worker.pid, signal.SIGKILL)
    worker.communicate(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    with CaseStore(location, actor="writer-K1", create=False) as store:
        assert store.head()[0] == start_seq + committed
        report = store.verify()
        assert report.ok, report.findings
        assert len(store.transfers("C", "K1")) == committed
        # the lock died with the writer: the next append goes through and chains on
        store.transfer_exhibit("C", "K1", from_party="AB"[committed % 2],
                               to_party="X", purpose="after the crash")
        assert store.head()[0] == start_seq + committed + 1
        assert store.verify().ok

