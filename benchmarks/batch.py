"""End-to-end batch throughput: runs per minute, from run files to verdicts and result files.

A simulated sequence of 3,600-scan runs (4 scans/s for 15 min, m/z 35-550, acquisition
threshold, chemical background, bleed, ion-counting noise; gcms.simulate) is processed by
``gcms.batch.run_batch`` with 2 workers:

* an n-alkane ladder C8-C30, a mixed standard of 8 drugs, then blanks and exhibits
  alternating; each exhibit holds 2-5 drugs of the demo library (S/N 100-2,000), 6-15
  compounds in no library (gcms.simulate.random_spectrum, S/N 20-400) placed at random,
  and the column bleed (the number of components found per run is reported);
* against the bundled demo library (58 entries) and against a 350,000-entry library:
  gcms.library.synthetic (families of related spectra shaped like a NIST-size library)
  with the demo library's entries appended, so the drugs are still found among 350k.

Reported per library: wall time of the whole batch (pass 1 in the process pool, pass 2
and the result files; each worker opens the library and builds its search index once,
which is included), runs per minute, the time to the first finished run (start-up), the
median seconds per run of each pass-1 stage inside the workers, and whether every
exhibit gave exactly the drugs put in. Machine load is printed before and after: on a
shared machine the numbers move with it.

    python benchmarks/batch.py [--runs 60] [--workers 2] [--library demo 350k]
                               [--presearch exact fast]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
DRUGS = ("Amphetamine", "Methamphetamine", "MDMA", "Cocaine", "Heroin", "Caffeine",
         "Theophylline", "Paracetamol", "Phenacetin", "Levamisole", "Lidocaine", "Procaine",
         "Ketamine", "Diazepam", "Benzocaine", "Dextromethorphan")
STANDARD = ("Amphetamine", "Methamphetamine", "MDMA", "Cocaine", "Caffeine", "Lidocaine",
            "Ketamine", "Diazepam")
CARBONS = tuple(range(8, 31))


def _settings(seed: int):
    from gcms.simulate import SimulationSettings

    # 3,601 scans: 180-1080 s at 4 scans/s.
    return SimulationSettings(start_s=180.0, duration_s=900.0, scan_rate_hz=4.0, mz_min=35,
                              mz_max=550, background=200.0, bleed=2000.0, threshold=450.0,
                              spikes_per_scan=0.05, seed=seed)


def make_sequence(folder: Path, n_runs: int) -> tuple[Path, dict[str, list[str]]]:
    """Write the simulated runs and sequence.csv; returns it and the drugs of each exhibit."""
    from gcms.demo import demo_library_path
    from gcms.library import Library
    from gcms.retention import RetentionCalibration
    from gcms.retention.simulate import alkane_spectrum, ladder_retention_times
    from gcms.simulate import amount_for_snr, random_spectrum, simulate, write

    folder.mkdir(parents=True, exist_ok=True)
    library = Library.open(demo_library_path())
    names = list(library.column("name"))
    ladder_rt = ladder_retention_times(CARBONS, first_s=220.0, spacing_s=45.0)
    calibration = RetentionCalibration(ladder_rt, 100.0 * np.asarray(CARBONS))

    def drug(name, snr, settings, rng):
        spectrum = library.spectrum(names.index(name))
        rt = float(calibration.predict_rt(spectrum.retention_index).rt_seconds[0])
        rt += rng.normal(0.0, 0.1)
        return spectrum, rt, amount_for_snr(spectrum, snr, settings=settings, rt_s=rt)

    rows, planted = [], {}
    for i in range(n_runs):
        seed = 7000 + i
        st = _settings(seed)
        rng = np.random.default_rng(seed)
        items = []
        if i == 0:
            kind, sample, reference = "ladder", "LAD", ""
            for n, t in zip(CARBONS, ladder_rt, strict=True):
                s = alkane_spectrum(n)
                items.append((s, float(t), amount_for_snr(s, 300.0, settings=st, rt_s=float(t))))
        elif i == 1:
            kind, sample, reference = "standard", "STD", ";".join(STANDARD)
            items = [drug(name, 1000.0, st, rng) for name in STANDARD]
        elif i % 2 == 0:
            kind, sample, reference = "blank", f"BLK-{i:03d}", ""
        else:
            kind, sample, reference = "sample", f"EX-{i:03d}", ""
            chosen = sorted(rng.choice(DRUGS, size=int(rng.integers(2, 6)), replace=False))
            planted[sample] = list(chosen)
            items = [drug(name, float(rng.uniform(100.0, 2000.0)), st, rng) for name in chosen]
            for k in range(int(rng.integers(6, 16))):
                s = random_spectrum(seed * 100 + k, mz_min=35)
                t = float(rng.uniform(250.0, 1050.0))
                items.append((s, t, amount_for_snr(s, float(rng.uniform(20.0, 400.0)),
                                                   settings=st, rt_s=t)))
        path = folder / f"{i + 1:03d}-{kind}.cdf"
        if not path.exists():
            write(simulate(items, settings=st, name=sample), path)
        rows.append((path.name, kind, sample, reference))
    sequence = folder / "sequence.csv"
    with open(sequence, "w", encoding="utf-8") as handle:
        handle.write("file,type,sample_id,case_id,exhibit_id,reference_substance\n")
        for file, kind, sample, reference in rows:
            exhibit = sample if kind == "sample" else ""
            handle.write(f"{file},{kind},{sample},BENCH,{exhibit},{reference}\n")
    return sequence, planted


def large_library(size: int) -> Path:
    """The synthetic library of ``size`` entries plus the demo entries, as an HDF5 file."""
    from gcms.demo import demo_library_path
    from gcms.library import Library
    from gcms.library.store import ENTRY_FLOAT_COLUMNS, ENTRY_TEXT_COLUMNS
    from gcms.library.synthetic import synthetic_library

    path = WORK / f"batch_library_{size}.h5"
    if path.exists():
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    peaks = synthetic_library(size, seed=11)
    columns = {name: np.array([""] * size, dtype=object) for name in ENTRY_TEXT_COLUMNS}
    columns["name"] = np.array([f"synthetic compound {i}" for i in range(size)], dtype=object)
    columns.update({name: np.full(size, np.nan) for name in ENTRY_FLOAT_COLUMNS})
    synthetic = Library(peaks, columns, title=f"synthetic {size:,} + demo")
    demo = Library.open(demo_library_path())
    combined = synthetic.append([demo.spectrum(i) for i in range(len(demo))])
    combined.write(path)
    print(f"built {path.name}: {len(combined):,} entries in {time.perf_counter() - t:.0f} s",
          flush=True)
    return path


def measure(sequence: Path, planted: dict, library, workers: int, presearch: str) -> dict:
    from gcms.batch import BatchSettings, run_batch
    from gcms.library import SearchSettings

    out = WORK / "batch_out"
    shutil.rmtree(out, ignore_errors=True)
    first: list[float] = []
    start = time.perf_counter()

    def progress(event):
        if not first:
            first.append(time.perf_counter() - start)

    settings = BatchSettings(search=SearchSettings(presearch=presearch))
    result = run_batch(sequence, library=library, out_dir=out, workers=workers,
                       settings=settings, progress=progress, resume=False)
    wall = time.perf_counter() - start
    stages: dict[str, list[float]] = {}
    for record in result.records:
        for stage, seconds in (record.get("processing") or {}).get("seconds", {}).items():
            stages.setdefault(stage, []).append(seconds)
    exact = false = 0
    components = []
    for record in result.records:
        components.append(len(record["components"]))
        found = sorted(f["substance"] for f in record["findings"]["identified"])
        if record["type"] == "sample":
            exact += found == planted[record["sample_id"]]
            false += len(set(found) - set(planted[record["sample_id"]]))
        elif record["type"] == "blank":
            false += len(found)
    return {"runs": len(result.records), "failed": len(result.failed), "wall_s": wall,
            "runs_per_min": 60.0 * len(result.records) / wall, "first_run_s": first[0],
            "stage_median_s": {k: statistics.median(v) for k, v in stages.items()},
            "components_median": statistics.median(components),
            "exhibits_exact": f"{exact}/{len(planted)}", "false_identifications": false}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--library", nargs="+", default=["demo", "350k"],
                        choices=["demo", "350k"])
    parser.add_argument("--presearch", nargs="+", default=["exact", "fast"],
                        choices=["exact", "fast"])
    parser.add_argument("--size", type=int, default=350_000, help="entries of the large library")
    args = parser.parse_args()
    from gcms.demo import demo_library_path

    print(f"machine: {os.cpu_count()} cores, load average "
          f"{' / '.join(f'{v:.1f}' for v in os.getloadavg())} (1/5/15 min) at start", flush=True)
    t = time.perf_counter()
    sequence, planted = make_sequence(WORK / f"batch_runs_{args.runs}", args.runs)
    print(f"{args.runs} runs of 3,601 scans ready ({time.perf_counter() - t:.0f} s)", flush=True)
    rows = []
    for name in args.library:
        library = demo_library_path() if name == "demo" else large_library(args.size)
        modes = ["exact"] if name == "demo" else args.presearch
        for mode in modes:
            result = measure(sequence, planted, library, args.workers, mode)
            rows.append((name, mode, result))
            print(json.dumps({"library": name, "presearch": mode, **result}), flush=True)
    print("\n| library | presearch | runs | wall (s) | runs/min | first run (s) | "
          "read / deconvolve / search per run (s, median in a worker) | components/run | "
          "exhibits exactly right | false identifications |\n"
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, mode, r in rows:
        s = r["stage_median_s"]
        label = "demo (58)" if name == "demo" else f"synthetic {args.size:,} + demo"
        print(f"| {label} | {mode} | {r['runs']} | {r['wall_s']:.1f} | "
              f"**{r['runs_per_min']:.0f}** | {r['first_run_s']:.1f} | "
              f"{s.get('read', 0):.2f} / {s.get('deconvolve', 0):.2f} / {s.get('search', 0):.2f}"
              f" | {r['components_median']:.0f} | {r['exhibits_exact']} | "
              f"{r['false_identifications']} |")
    print(f"\nload average at the end: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
