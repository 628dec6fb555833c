"""Raw-data re-processing of many sequences on Dask: the per-run results of a local batch."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import etizolam_msp, shared_file
from local_cluster import WAIT_S, finish_within, local_cluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))

from batch_sim import library, write_run, write_sequence  # noqa: E402

from gcms.distributed import archive_batch, find_sequences  # noqa: E402

#: Per sequence: (file, type, sample id, compounds); "damaged.cdf" is written broken.
SEQUENCES = {
    "site-a/day-1": [("ladder.cdf", "ladder", "L1", []),
                     ("s1.cdf", "sample", "S1", [("Amphetamine", 600.0)]),
                     ("s2.cdf", "sample", "S2", [("MDMA", 700.0), ("Benzocaine", 500.0)]),
                     ("damaged.cdf", "sample", "S3", []),
                     ("s4.cdf", "sample", "S4", [("Methamphetamine", 800.0)])],
    "site-b/day-1": [("ladder.cdf", "ladder", "L2", []),
                     ("t1.cdf", "sample", "T1", [("Benzocaine", 600.0)]),
                     ("t2.cdf", "sample", "T2", [("MDMA", 900.0)]),
                     ("t3.cdf", "sample", "T3", [("Amphetamine", 500.0),
                                                  ("Methamphetamine", 600.0)])],
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive-batch")
    seed = 300
    for name, rows in SEQUENCES.items():
        folder = root / "runs" / name
        folder.mkdir(parents=True)
        for file, kind, _, compounds in rows:
            seed += 1
            if file == "damaged.cdf":
                (folder / file).write_bytes(b"CDF\x01" + bytes(40))  # a truncated netCDF
            else:
                write_run(folder / file, compounds, seed=seed, ladder=kind == "ladder")
        write_sequence(folder, [(f, k, s, f"EX-{s}" if k == "sample" else "", "")
                                for f, k, s, _ in rows])
    # a sequence that cannot be batched (it names no run file that exists as a type)
    bad = root / "runs" / "site-c"
    bad.mkdir()
    (bad / "sequence.csv").write_text("file,type,sample_id\nx.cdf,nonsense,X1\n")
    return {"root": root, "runs": root / "runs", "library": library().path}


def comparable(document: dict) -> dict:
    """A results document less what legitimately differs between engines: the time it
    was written and how long each step of each run took. Everything else (every value
    of every component, verdict and criterion) must be equal, bit for bit."""
    document = dict(document)
    assert document.pop("created_utc")
    for record in document["runs"]:
        if "processing" in record:
            assert record["processing"].pop("seconds") is not None
    return document


def documents(result) -> dict[str, dict]:
    """Each sequence's results.json, :func:`comparable`."""
    out = {}
    for entry in result.sequences:
        path = Path(entry["out_dir"]) / "results.json"
        if path.is_file():
            out[entry["label"]] = comparable(json.loads(path.read_text()))
    return out


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory):
    """The local batch (this process) every engine must equal."""
    return archive_batch([archive["runs"]], library=archive["library"],
                         out_dir=tmp_path_factory.mktemp("local"), engine="local", workers=1)


def test_local_archive_batch_names_the_failures_and_processes_the_rest(archive, reference):
    assert [s["label"] for s in reference.sequences] == [
        "site-a-day-1-sequence", "site-b-day-1-sequence", "site-c-sequence"]
    a, b, c = reference.sequences
    assert a["status"] == "failed runs" and a["failed_runs"] == 1
    assert "damaged.cdf" in a["problem"] and a["n_runs"] == 5
    assert b["status"] == "ok" and b["n_runs"] == 4 and b["processed"] == 4
    assert c["status"] == "not batched" and "sequence.csv" in c["problem"]
    assert reference.exit_code == 1 and reference.runs == 9
    records = {r["sample_id"]: r for d in documents(reference).values() for r in d["runs"]}
    assert records["S3"]["status"] != "ok" and records["S4"]["status"] == "ok"
    # no blank in these sequences: a match stays inconclusive, but it is there
    found = {s: {c["substance"] for c in r["components"] if c["verdict"] != "not identified"}
             for s, r in records.items() if r["status"] == "ok"}
    assert "MDMA" in found["S2"] and "MDMA" in found["T2"] and "MDMA" not in found["T1"]


def test_find_sequences_refuses_a_folder_without_one(tmp_path):
    from gcms.errors import GcmsError

    with pytest.raises(GcmsError, match="no sequence"):
        find_sequences([tmp_path])


def test_local_cluster_gives_the_local_results_bit_for_bit(archive, reference, tmp_path):
    pytest.importorskip("distributed")  # the 'distributed' extra
    seen = []
    # two sequences at once: their runs share the cluster, each is judged in its thread
    result = archive_batch([archive["runs"]], library=archive["library"], out_dir=tmp_path,
                           workers=2, concurrent=2,
                           progress=lambda label, event: seen.append(label))
    assert [s["status"] for s in result.sequences] == [s["status"]
                                                        for s in reference.sequences]
    assert documents(result) == documents(reference)
    assert sorted(seen) == ["site-a-day-1-sequence"] * 5 + ["site-b-day-1-sequence"] * 4


def test_cli_batch_of_an_archive_on_a_local_cluster(archive, reference, tmp_path):
    pytest.importorskip("distributed")
    from gcms_cli.main import cli

    out = tmp_path / "out"
    run = CliRunner().invoke(cli, ["batch", str(archive["runs"]), "--library",
                                   str(archive["library"]), "--out", str(out),
                                   "--cluster", "--workers", "2", "--quiet"])
    assert run.exit_code == 1, run.output
    assert "site-c-sequence: not batched" in run.output
    assert "3 sequences" in run.output and "damaged.cdf" in run.output
    again = json.loads((out / "site-b-day-1-sequence" / "results.json").read_text())
    assert comparable(again) == documents(reference)["site-b-day-1-sequence"]
    # resumed in this process: every finished run reused; refused without --resume
    resumed = CliRunner().invoke(cli, ["batch", str(archive["runs"]), "--library",
                                       str(archive["library"]), "--out", str(out), "--resume",
                                       "--quiet"])
    assert resumed.exit_code == 1 and "(4 runs, 4 reused, 0 failed)" in resumed.output
    refused = CliRunner().invoke(cli, ["batch", str(archive["runs"]), "--library",
                                       str(archive["library"]), "--out", str(out)])
    assert refused.exit_code == 2 and "add --resume" in refused.output


def test_cli_batch_of_one_sequence_on_a_local_cluster(archive, reference, tmp_path):
    pytest.importorskip("distributed")
    from gcms_cli.main import cli

    sequence = archive["runs"] / "site-b" / "day-1" / "sequence.csv"
    runner = CliRunner()
    refused = runner.invoke(cli, ["batch", str(sequence), "--out", str(tmp_path / "x"),
                                  "--cluster", "--scheduler", "tcp://127.0.0.1:1"])
    assert refused.exit_code == 2 and "exclude each other" in refused.output
    run = runner.invoke(cli, ["batch", str(sequence), "--library", str(archive["library"]),
                              "--out", str(tmp_path / "out"), "--cluster", "--workers", "2",
                              "--quiet"])
    assert run.exit_code == 0, run.output
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert comparable(document) == documents(reference)["site-b-day-1-sequence"]

def test_runs_an_executor_does_not_finish_are_processed_here(archive, reference, tmp_path):
    """Any ``concurrent.futures`` executor plugs in; its broken tasks lose no run."""
    import multiprocessing
    import os
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from gcms.batch import run_batch

    sequence = archive["runs"] / "site-b" / "day-1" / "sequence.csv"
    events = []
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
        def kill_the_worker(event) -> None:
            if not events:  # the pool breaks: the three runs not done fail there
                for pid in list(pool._processes):
                    os.kill(pid, signal.SIGKILL)
            events.append(event.position)

        result = run_batch(sequence, library=archive["library"], out_dir=tmp_path,
                           executor=pool, progress=kill_the_worker)
    assert sorted(events) == [0, 1, 2, 3] and result.ok
    assert any("processed in the main process" in note
               for note in result.document["sequence_notes"])
    document = comparable(json.loads((tmp_path / "results.json").read_text()))
    expected = documents(reference)["site-b-day-1-sequence"]
    document.pop("sequence_notes"), expected.pop("sequence_notes")
    assert document == expected

def test_a_worker_that_sees_another_library_fails_the_run_naming_both_hashes(archive):
    from gcms.batch.pipeline import _analyse_at
    from gcms.batch.settings import BatchSettings

    run = archive["runs"] / "site-b" / "day-1" / "t1.cdf"
    position, failure, _ = _analyse_at(1, str(run), False, "0" * 64, str(archive["library"]),
                                       "f" * 64, BatchSettings())
    assert position == 1 and failure.file == str(run)
    assert "f" * 64 + " expected" in failure.problem and str(archive["library"]) in failure.problem

def test_scheduler_and_two_workers_a_killed_worker_loses_and_duplicates_no_run(
        archive, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with local_cluster(tmp_path) as (address, workers):
        seen: list[tuple[str, int]] = []

        def kill_first_worker(label: str, event) -> None:
            if not seen:
                workers[0].kill()
                workers[0].wait(timeout=WAIT_S)
            seen.append((label, event.position))

        result = finish_within(lambda: archive_batch(
            [archive["runs"]], library=archive["library"], out_dir=tmp_path / "out",
            scheduler=address, progress=kill_first_worker), "the archive batch on the cluster")
        assert workers[0].returncode is not None
        with distributed.Client(address, timeout=WAIT_S) as client:
            assert len(client.scheduler_info()["workers"]) == 1
        assert len(seen) == len(set(seen)) == 9  # each run once: none lost, none twice
        assert documents(result) == documents(reference)


@pytest.mark.shared
def test_lrcfs_runs_on_a_local_cluster_equal_the_local_batch(tmp_path):
    pytest.importorskip("distributed")
    from gcms.library import build_library

    raw = shared_file("lrcfs-etizolam", "raw")
    massbank = shared_file("massbank-ei", "RIKEN")
    msp = etizolam_msp(tmp_path / "etizolam.msp")
    build_library([msp, *sorted(massbank.rglob("*.txt"))[:100]], tmp_path / "lib.h5")
    folder = tmp_path / "lrcfs"
    folder.mkdir()
    rows = [("220223005.D", "standard", "LR-005", "Etizolam"),
            ("220223001.D", "blank", "LR-001", ""), ("220223014.D", "sample", "LR-014", "")]
    write_sequence(folder, [(str(raw / f), t, s, "EX-1" if t == "sample" else "", r)
                            for f, t, s, r in rows])
    local = archive_batch([folder], library=tmp_path / "lib.h5", out_dir=tmp_path / "a",
                          engine="local", workers=1)
    cluster = archive_batch([folder], library=tmp_path / "lib.h5", out_dir=tmp_path / "b",
                            workers=2)
    assert local.exit_code == 0 and cluster.exit_code == 0
    assert documents(cluster) == documents(local)
    records = documents(local)["lrcfs-sequence"]["runs"]
    case = next(r for r in records if r["sample_id"] == "LR-014")
    assert "Etizolam" in {f["substance"] for f in case["findings"]["identified"]}
