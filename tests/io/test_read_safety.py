"""What every reader shares: evidence read once and hashed as decoded, physical limits,
the memory budget, bounded decompression; and what a damaged file does to the CLI."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import threading
import zlib

import numpy as np
import pytest
from conftest import shared_file
from test_andi_ms import spectra_fixture, write_andi

import gcms.io
from gcms import FormatError, RunMetadata
from gcms.io import _common
from gcms.io._common import build_run, inflate, read_evidence


# --------------------------------------------------------------------------- evidence
def test_evidence_is_read_once_and_hashed_as_read(tmp_path):
    path = tmp_path / "run.bin"
    path.write_bytes(b"abc" * 1000)
    evidence = read_evidence(path)
    assert evidence.raw == path.read_bytes()
    assert evidence.sha256 == hashlib.sha256(evidence.raw).hexdigest()


@pytest.mark.parametrize("change", ["append", "shrink", "rewrite", "replace"])
def test_a_file_changing_while_read_is_refused(tmp_path, monkeypatch, change):
    """Whatever happens to the file between opening it and finishing the read (grown,
    cut, rewritten in place, replaced by another file), the read is refused by name."""
    path = tmp_path / "run.cdf"
    path.write_bytes(b"x" * 10_000)
    original = _common._read_all

    def read_while_changing(handle, size):
        data = original(handle, size // 2)  # half read, then the writer strikes
        if change == "append":
            with open(path, "ab") as out:
                out.write(b"more")
        elif change == "shrink":
            with open(path, "r+b") as out:
                out.truncate(100)
        elif change == "rewrite":
            with open(path, "r+b") as out:
                out.write(b"y" * 10_000)
            stat = path.stat()  # same size; the modification time moves on
            import os
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        else:
            other = tmp_path / "other.cdf"
            other.write_bytes(b"z" * 10_000)
            other.replace(path)
        return data + handle.read()

    monkeypatch.setattr(_common, "_read_all", read_while_changing)
    with pytest.raises(FormatError, match=r"run.cdf: the file changed while it was being "
                                          r"read"):
        read_evidence(path)


def test_a_netcdf_rewritten_during_reads_never_crashes(tmp_path):
    """The red team's race: a file rewritten in place while ``gcms info`` read it killed
    7 of 40 reads with SIGBUS (a memory map of a shrinking file) and hashed other bytes
    than it decoded. Now each read is refused by name or returns a run whose digest and
    values are those of one complete version of the file."""
    first = write_andi(tmp_path / "a.cdf")
    mz, intensity, times = spectra_fixture()
    second = write_andi(tmp_path / "b.cdf", spectra=([m + 1 for m in mz], intensity, times))
    versions = {}
    for source in (first, second):
        data = source.read_bytes()
        versions[hashlib.sha256(data).hexdigest()] = (data, gcms.io.read(source).mz)
    target = tmp_path / "live.cdf"
    shutil.copyfile(first, target)
    stop = threading.Event()

    def rewrite():
        blobs = [data for data, _ in versions.values()]
        i = 0
        while not stop.is_set():
            with open(target, "wb") as out:  # truncates, then writes in pieces
                blob = blobs[i % 2]
                for k in range(0, len(blob), 512):
                    out.write(blob[k:k + 512])
                    out.flush()
            i += 1
            stop.wait(0.002)  # a complete version on disk for a moment

    writer = threading.Thread(target=rewrite)
    writer.start()
    outcomes = {"read": 0, "refused": 0}
    try:
        for _ in range(200):
            try:
                run = gcms.io.read(target, format="andi-ms")
            except FormatError as error:
                assert str(target) in str(error)
                outcomes["refused"] += 1
                continue
            outcomes["read"] += 1
            assert run.metadata.sha256 in versions, "hash of bytes no version of the file has"
            np.testing.assert_array_equal(run.mz, versions[run.metadata.sha256][1])
    finally:
        stop.set()
        writer.join()
    assert sum(outcomes.values()) == 200, outcomes


def test_files_beyond_the_memory_budget_are_refused_before_reading(tmp_path, monkeypatch):
    path = write_andi(tmp_path / "run.cdf")
    monkeypatch.setenv("GCMS_MEMORY_BUDGET", "1K")
    with pytest.raises(FormatError, match=r"run.cdf: reading this file would take .*, over "
                                          r"the memory budget of 1.0 KiB"):
        gcms.io.read(path)


def test_memory_budget_setting(monkeypatch):
    from gcms._arrays import MEMORY_BUDGET_BYTES, memory_budget

    monkeypatch.delenv("GCMS_MEMORY_BUDGET", raising=False)
    assert memory_budget() == MEMORY_BUDGET_BYTES
    for text, value in (("16G", 16 * 2**30), ("512M", 512 * 2**20), ("1000", 1000),
                        ("1.5GiB", int(1.5 * 2**30))):
        monkeypatch.setenv("GCMS_MEMORY_BUDGET", text)
        assert memory_budget() == value
    monkeypatch.setenv("GCMS_MEMORY_BUDGET", "plenty")
    with pytest.raises(ValueError, match="GCMS_MEMORY_BUDGET='plenty' is not a size"):
        memory_budget()


# --------------------------------------------------------------------------- inflate
def test_inflate_stops_at_the_declared_length():
    bomb = zlib.compress(bytes(1 << 26))  # 64 MiB of zeros in 65 KB
    with pytest.raises(ValueError, match="array decompresses to more than the 800 bytes"):
        inflate(bomb, 800, "array")
    exact = zlib.compress(bytes(800))
    assert inflate(exact, 800, "array") == bytes(800)
    with pytest.raises(ValueError, match="decompresses to 800 bytes, not the 900 declared"):
        inflate(exact, 900, "array")
    assert inflate(exact, 900, "array", at_most=True) == bytes(800)
    with pytest.raises(ValueError, match="compressed data end early"):
        inflate(exact[:-6], 800, "array")
    with pytest.raises(ValueError, match="damaged compressed data"):
        inflate(b"not zlib", 800, "array")


# --------------------------------------------------------------------------- limits
def _run(**changes) -> dict:
    fields = dict(scan_times=[1.0, 2.0], scan_offsets=[0, 2, 3], mz=[41.0, 57.0, 91.0],
                  intensity=[5.0, 6.0, 7.0], metadata=RunMetadata(source_path="x.cdf",
                                                                  sha256="0" * 64))
    fields.update(changes)
    return fields


@pytest.mark.parametrize(("changes", "message"), [
    ({"mz": [41.0, 3670016.0, 91.0]}, r"scan 1 \(1.000 s\) holds m/z 3670016, outside 0.5 "
                                      r"to 5000"),
    ({"mz": [0.05, 57.0, 91.0]}, "holds m/z 0.05, outside"),
    ({"intensity": [5.0, -6.0, 7.0]}, r"holds intensity -6 at m/z 57; ion abundances are "
                                      r"never negative"),
    ({"scan_times": [-1.0, 2.0]}, r"scan 1 of 2 is timed -1 s, outside 0 to 86400 s"),
    ({"scan_times": [1.0, 1e9]}, r"scan 2 of 2 is timed 1e\+09 s"),
    ({"tic": [5.0, -1.0]}, "total ion current -1; a total ion current is never negative"),
])
def test_values_outside_physical_ranges_are_refused_by_value(changes, message):
    with pytest.raises(FormatError, match=r"^bad.cdf: .*" + message):
        build_run("bad.cdf", **_run(**changes))


def test_traces_may_start_before_the_injection():
    """AIA files of the round robin stamp pre-injection points at -2.5 s; a detector
    signal may be negative (a baseline below zero)."""
    run = build_run("fid.cdf", scan_times=[-2.5, 0.0, 2.5], scan_offsets=[0, 0, 0, 0],
                    mz=[], intensity=[], tic=[-0.5, 1.0, 2.0],
                    metadata=RunMetadata(acquisition="trace", detector="FID"))
    assert run.rt_range_s == (-2.5, 2.5)
    with pytest.raises(FormatError, match="scan 1 of 1 is timed -7200 s, outside -3600"):
        build_run("fid.cdf", scan_times=[-7200.0], scan_offsets=[0, 0], mz=[], intensity=[],
                  metadata=RunMetadata(acquisition="trace"))


def test_single_file_runs_list_their_one_part():
    run = build_run("/data/x.cdf", **_run(metadata=RunMetadata(
        source_path="/data/x.cdf", data_file="/data/x.cdf", sha256="ab" * 32)))
    assert dict(run.metadata.parts_sha256) == {"x.cdf": "ab" * 32}


def test_every_reader_refuses_an_m_z_flipped_to_millions(tmp_path):
    """One flipped exponent bit made m/z 56 into 3,670,016: read with exit 0, then
    ``gcms deconvolve`` tried to allocate 87.5 GiB. Refused at reading, by value."""
    mz, intensity, times = spectra_fixture()
    mz[0] = np.array([41.0, 43.1, 3670016.0])
    path = write_andi(tmp_path / "flipped.cdf", spectra=(mz, intensity, times))
    with pytest.raises(FormatError, match=r"flipped.cdf: scan 1 \(60.500 s\) holds m/z "
                                          r"3670016, outside 0.5 to 5000"):
        gcms.io.read(path)


# --------------------------------------------------------------------------- the CLI
def _gcms(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from gcms_cli.main import cli; cli()", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["info", "deconvolve"])
def test_cli_names_the_damaged_file_and_exits_2(tmp_path, command):
    mz, intensity, times = spectra_fixture()
    mz[3] = np.array([50.0, 51.0, 3670016.0, 78.0])
    path = write_andi(tmp_path / "flipped.cdf", spectra=(mz, intensity, times))
    done = _gcms(command, str(path))
    assert done.returncode == 2, done.stderr
    assert "flipped.cdf" in done.stderr and "3670016" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.shared
def test_cli_on_a_truncated_real_fid_channel(tmp_path):
    data = shared_file("agilent-fid-ch", "test_fid.ch").read_bytes()
    cut = tmp_path / "cut.ch"
    cut.write_bytes(data[: len(data) * 9 // 10 // 2 * 2])
    done = _gcms("info", str(cut))
    assert done.returncode == 2 and "cut.ch" in done.stderr
    assert "Traceback" not in done.stderr
