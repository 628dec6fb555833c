"""Reading speed and memory: gcms readers side by side with the peer tools, on the real files.

Each (reader, file) pair is measured in a fresh Python process, after its imports:

* **peak memory**: the rise of the process's peak resident set (``VmHWM``, reset through
  ``/proc/self/clear_refs`` just before the read) during one read. Pages of a
  memory-mapped file count, as they should;
* **seconds**: the best of ``--repeat`` reads (stopping early once a reader has used
  ``--budget`` seconds on a file).

Comparisons (a row appears for every file present; a side not installed says so):

=========  ==================================  =============================================
format     gcms                                peer
=========  ==================================  =============================================
ANDI MS    ``gcms.io.read`` (andi_ms)          PyMassSpec ``pyms.GCMS.IO.ANDI.ANDI_reader``
JCAMP-DX   ``gcms.io.read`` (jcamp)            PyMassSpec ``pyms.GCMS.IO.JCAMP.JCAMP_reader``
mzML       ``gcms.io.read`` (mzml)             pyteomics ``mzml.MzML`` iteration to arrays
=========  ==================================  =============================================

PyMassSpec opens ANDI files in ``"r+"`` mode (it would write to evidence, and fails on
read-only files), so it is handed a temporary copy of each file.

Usage::

    python benchmarks/read.py                 # all comparisons, markdown table on stdout
    python benchmarks/read.py --json out.json --repeat 5
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("GCMS_SHARED_DATA", ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class Comparison:
    """One format: the gcms module that must exist, the peer, and the files to read."""

    label: str
    gcms_module: str
    peer_label: str
    peer_kind: str
    peer_requires: str
    files: tuple[str, ...]


COMPARISONS = (
    Comparison(
        "ANDI MS", "gcms.io.andi_ms", "PyMassSpec ANDI_reader", "pyms-andi", "pyms",
        (
            "netcdf-gcms/agilent-gcms.cdf",
            "netcdf-gcms/advion-gcms.cdf",
            "netcdf-gcms/advion-expression.cdf",
            "andi-roundrobin/andi_ms/HP/CENTSCNH.CDF",
            "andi-roundrobin/andi_ms/HP/CENTSIDH.CDF",
            "andi-roundrobin/andi_ms/FINNIGAN/CENTSCNH.CDF",
            "andi-roundrobin/andi_ms/FISONS_A/CENTSIDH.CDF",
            "andi-roundrobin/andi_ms/EXTREL/CONTINUM.CDF",
            "andi-roundrobin/andi_ms/TEST/QD.CDF",
        ),
    ),
    Comparison(
        "JCAMP-DX", "gcms.io.jcamp", "PyMassSpec JCAMP_reader", "pyms-jcamp", "pyms",
        (
            "pyms/gc01_0812_066.jdx",
            "pyms/ELEY_1_SUBTRACT.JDX",
            "jcamp-testfiles/isas_official/ISAS_MS3.DX",
        ),
    ),
    Comparison(
        "mzML", "gcms.io.mzml", "pyteomics mzML iteration", "pyteomics-mzml", "pyteomics",
        ("recetox-gc-orbitrap/29_qc_no_dil_milliq_subset.mzML",),
    ),
)


# --------------------------------------------------------------------------- worker side
def _rss_now() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in bytes, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    return values["VmRSS"], values["VmHWM"]


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _reader(kind: str):
    """The read function of one side; returns the number of scans it produced."""
    if kind == "gcms":
        import gcms.io

        # The registry imports every format module on first use, and readers import their
        # heavy dependencies lazily: make those imports before measuring, as the peer's
        # are, so that only the reading is measured.
        for module in [fmt.module for fmt in gcms.io.FORMATS] + ["pyteomics.mzml", "h5py"]:
            if importlib.util.find_spec(module) is not None:
                importlib.import_module(module)

        def read(path: Path) -> int:
            return gcms.io.read(path).n_scans
        return read
    if kind == "pyms-andi":
        from pyms.GCMS.IO.ANDI import ANDI_reader

        def read(path: Path) -> int:
            return len(ANDI_reader(path).scan_list)
        return read
    if kind == "pyms-jcamp":
        from pyms.GCMS.IO.JCAMP import JCAMP_reader

        def read(path: Path) -> int:
            return len(JCAMP_reader(path).scan_list)
        return read
    if kind == "pyteomics-mzml":
        import numpy as np
        from pyteomics import mzml

        def read(path: Path) -> int:
            mz, intensity, times = [], [], []
            with mzml.MzML(str(path)) as spectra:
                for spectrum in spectra:
                    if spectrum.get("ms level", 1) != 1:
                        continue
                    mz.append(spectrum["m/z array"])
                    intensity.append(spectrum["intensity array"])
                    times.append(spectrum["scanList"]["scan"][0]["scan start time"])
            np.concatenate(mz) if mz else None
            return len(times)
        return read
    raise ValueError(kind)


def worker(kind: str, path: Path, repeat: int, budget: float) -> dict:
    """Measure one reader on one file inside this (fresh) process."""
    import contextlib
    import gc
    import io
    import time

    read = _reader(kind)
    sink = io.StringIO()  # PyMassSpec prints a line per file
    gc.collect()
    exact = _reset_peak()
    before, peak_before = _rss_now()
    with contextlib.redirect_stdout(sink):
        start = time.perf_counter()
        n_scans = read(path)
        first = time.perf_counter() - start
    _, peak = _rss_now()
    peak_rise = peak - (before if exact else peak_before)
    times = [first]
    spent = first
    for _ in range(max(repeat - 1, 0)):
        if spent > budget:
            break
        with contextlib.redirect_stdout(sink):
            start = time.perf_counter()
            read(path)
            elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return {"seconds": min(times), "runs": len(times), "peak_rss_rise": peak_rise,
            "peak_exact": exact, "n_scans": n_scans}


# --------------------------------------------------------------------------- driver side
def _measure(kind: str, path: Path, repeat: int, budget: float) -> dict:
    command = [sys.executable, __file__, "--worker", kind, str(path), "--repeat", str(repeat),
               "--budget", str(budget)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:120]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "-"
    return f"{a / b:.1f}×"


def run(data: Path, repeat: int, budget: float) -> list[dict]:
    """Measure every available comparison; returns one row per file."""
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="gcms-bench-read-"))
    try:
        for comparison in COMPARISONS:
            has_gcms = importlib.util.find_spec(comparison.gcms_module) is not None
            has_peer = importlib.util.find_spec(comparison.peer_requires) is not None
            for name in comparison.files:
                path = data / name
                if not path.exists():
                    continue
                row = {"format": comparison.label, "file": name, "bytes": path.stat().st_size,
                       "peer": comparison.peer_label}
                row["gcms"] = _measure("gcms", path, repeat, budget) if has_gcms else {
                    "error": f"{comparison.gcms_module} not installed"}
                if has_peer:
                    # The peer may open the file for writing: give it a private copy.
                    copy = scratch / f"{len(rows)}_{path.name}"
                    shutil.copyfile(path, copy)
                    row["peer_result"] = _measure(comparison.peer_kind, copy, repeat, budget)
                else:
                    row["peer_result"] = {"error": f"{comparison.peer_requires} not installed"}
                rows.append(row)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _seconds(result: dict) -> str:
    if "seconds" in result:
        return f"{result['seconds']:.4f}"
    error = result.get("error", "?")
    if error.endswith("not installed"):
        return f"({error})"
    error = error.split(": ", 1)[0] if "/" in error else error  # drop paths and details
    error = re.sub(r"^[\w.]+\.(\w+)", r"\1", error)  # gcms.errors.FormatError -> FormatError
    return f"fails ({error[:60]})"


def markdown(rows: list[dict]) -> str:
    """The README table: times, speed-up, peak memory and its ratio to the file size."""
    lines = [
        "| format | file | MiB | scans | gcms s | peer s | speed-up | gcms peak MiB "
        "| peer peak MiB | gcms peak / file size | peer |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        ours, theirs = row["gcms"], row["peer_result"]
        ours_peak, theirs_peak = ours.get("peak_rss_rise"), theirs.get("peak_rss_rise")
        cells = [
            row["format"],
            row["file"],
            _mib(row["bytes"]),
            str(ours.get("n_scans", "-")),
            _seconds(ours),
            _seconds(theirs),
            _ratio(theirs.get("seconds"), ours.get("seconds")),
            _mib(ours_peak) if ours_peak is not None else "-",
            _mib(theirs_peak) if theirs_peak is not None else "-",
            f"{ours_peak / row['bytes']:.2f}" if ours_peak is not None else "-",
            row["peer"],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the shared data folder (default: ../shared/data)")
    parser.add_argument("--repeat", type=int, default=5, help="reads per file; best is kept")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="stop repeating a reader on a file after this many seconds")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, path = args.worker
        print(json.dumps(worker(kind, Path(path), args.repeat, args.budget)))
        return 0
    if not args.data.exists():
        print(f"no data folder at {args.data}", file=sys.stderr)
        return 2
    rows = run(args.data, args.repeat, args.budget)
    print(markdown(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
