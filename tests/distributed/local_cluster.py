"""A real local dask cluster for the tests: a scheduler and workers as processes."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Every wait of the cluster tests is bounded by this (seconds).
WAIT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], log: Path) -> subprocess.Popen:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process by stop()
    process = subprocess.Popen([sys.executable, "-m", *args], stdout=handle,
                               stderr=subprocess.STDOUT)
    process.log = handle
    return process


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
    process.log.close()


@contextmanager
def local_cluster(log_dir: Path, n_workers: int = 2
                  ) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    """Start a scheduler and ``n_workers`` one-thread workers; yield its address and the
    worker processes once all have joined; stop every process on the way out."""
    import distributed

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                       str(port), "--no-dashboard"], log_dir / "scheduler.log")
    workers: list[subprocess.Popen] = []
    try:
        for n in range(n_workers):
            workers.append(start(["distributed.cli.dask_worker", address, "--nthreads", "1",
                                  "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                                  "--name", f"w{n}"], log_dir / f"worker{n}.log"))
        with distributed.Client(address, timeout=WAIT_S) as client:
            client.wait_for_workers(n_workers, timeout=WAIT_S)
        yield address, workers
    finally:
        for process in (*workers, scheduler):
            stop(process)


def finish_within(function: Callable[[], T], what: str, timeout: float = WAIT_S) -> T:
    """Run ``function`` in a daemon thread and return its result; fail the test when it
    has not finished after ``timeout`` seconds (a hung cluster must not hang the suite)
    or when it raised."""
    outcome: dict[str, object] = {}

    def job() -> None:
        try:
            outcome["result"] = function()
        except BaseException as error:  # reported by the main thread  # noqa: BLE001
            outcome["error"] = error

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"{what} did not finish"
    assert "error" not in outcome, outcome.get("error")
    return outcome["result"]
