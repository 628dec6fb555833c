"""Archive re-screening throughput: runs per minute, single process vs a Dask LocalCluster.

An archive of ``gcms batch`` results is made, then re-screened against a library that
gained one entry after the batches (etizolam), as when a lab adds a new psychoactive
substance and mines its archive (``gcms.distributed.rescreening``):

* the original library: ``--synthetic`` entries of gcms.library.synthetic (0 by default;
  350,000 for a NIST-sized library), ``--massbank`` MassBank EI records
  (../shared/data/massbank-ei) and the demo library's entries, *without* etizolam (nor
  the demo's own); the updated library is the same with etizolam appended (the apex
  spectrum of the 250 ug/mL standard of the real LRCFS sequence, as tests/conftest.py
  builds it);
* the real LRCFS etizolam sequence (12 runs: blank, 7 calibrators, 2 check standards,
  2 case samples: ../shared/data/lrcfs-etizolam) processed by ``gcms batch`` with the
  original library; the check standards (type qc) and the positive case sample hold
  etizolam, the negative case sample does not;
* simulated sequences (tests/batch/batch_sim.py's runs, to m/z 450: ladder C10-C16 and 5
  samples of demo drugs), etizolam's spectrum in some samples, processed the same way;
* copies of these results folders up to ``--runs`` runs in all (copies are re-screened
  like any other document: each is one task).

Reported: documents, runs in the archive, runs screened (types sample and qc), wall time
and runs per minute for the single process (``engine="in-process"``, the same task one
document after another; its library scan runs on every core in threads, so it is shown
on one thread too) and for a LocalCluster of ``--workers`` processes (one thread each;
cluster start, and each worker opening, verifying and indexing the library, included),
and whether each found etizolam in exactly the runs that hold it.

    python benchmarks/rescreen.py [--runs 2000] [--workers 2] [--massbank 2000]
                                  [--synthetic 350000] [--reuse]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work" / "rescreen"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "batch"))

from batch_sim import CARBONS, LADDER_RT, rt_of, settings, write_sequence  # noqa: E402
from batch_sim import library as demo_library  # noqa: E402
from conftest import SHARED_DATA, etizolam_msp  # noqa: E402

#: LRCFS runs kept in ../shared/data: (run, type, sample id, holds etizolam).
LRCFS = (("001", "blank", "MeOH", False),
         *((f"00{n}", "standard", f"CAL-{n}", True) for n in range(2, 9)),
         ("010", "qc", "CHK-40", True), ("012", "qc", "CHK-125", True),
         ("014", "sample", "FL21-1010", True), ("016", "sample", "FL22-0210", False))
#: Simulated samples of one batch: (sample, drugs, with etizolam).
SIMULATED = (("S1", ("Amphetamine",), True), ("S2", ("MDMA", "Benzocaine"), False),
             ("S3", ("Methamphetamine",), True), ("S4", ("Amphetamine", "MDMA"), False),
             ("S5", ("Benzocaine",), False))


def libraries(folder: Path, n_massbank: int, n_synthetic: int) -> tuple[Path, Path]:
    import numpy as np

    from gcms.library import Library, build_library
    from gcms.library.store import ENTRY_FLOAT_COLUMNS, ENTRY_TEXT_COLUMNS
    from gcms.library.synthetic import synthetic_library

    records = sorted((SHARED_DATA / "massbank-ei").rglob("*.txt"))[:n_massbank]
    massbank = build_library(records).library if records else None
    demo = demo_library()
    spectra = [demo.spectrum(i) for i in range(len(demo))
               if demo.column("name")[i] != "Etizolam"]
    if massbank is not None:
        spectra = [massbank.spectrum(i) for i in range(len(massbank))] + spectra
    original = Library.from_spectra(spectra)
    if n_synthetic:  # NIST-sized: gcms.library.synthetic families ahead of the real entries
        columns = {name: np.array([""] * n_synthetic, dtype=object)
                   for name in ENTRY_TEXT_COLUMNS}
        columns["name"] = np.array([f"synthetic compound {i}" for i in range(n_synthetic)],
                                   dtype=object)
        columns.update({name: np.full(n_synthetic, np.nan) for name in ENTRY_FLOAT_COLUMNS})
        original = Library(synthetic_library(n_synthetic, seed=11), columns).append(spectra)
    original.title = f"{len(original)} entries, no etizolam"
    etizolam = build_library([etizolam_msp(folder / "etizolam.msp")],
                             folder / "etizolam.h5").library
    updated = original.append([etizolam.spectrum(0)])
    updated.title = f"{len(updated)} entries, etizolam added"
    return original.write(folder / "original.h5"), updated.write(folder / "updated.h5")


def lrcfs_batch(folder: Path, library: Path, workers: int) -> tuple[Path, set[str]]:
    from gcms.batch import run_batch
    from gcms.sequence import Injection, Sequence

    raw = SHARED_DATA / "lrcfs-etizolam" / "raw"
    injections = tuple(
        Injection(position=i, file=raw / f"220223{run}.D", type=kind, sample_id=sample,
                  case_id="LRCFS", exhibit_id=sample if kind in ("sample", "qc") else None,
                  reference_substances=("Etizolam",) if kind == "standard" else ())
        for i, (run, kind, sample, _) in enumerate(LRCFS))
    out = folder / "lrcfs"
    run_batch(Sequence(path=folder / "lrcfs.csv", injections=injections), library=library,
              out_dir=out, workers=workers)
    return out, {sample for _, kind, sample, holds in LRCFS
                 if holds and kind in ("sample", "qc")}


def write_run(path: Path, compounds, *, seed: int, ladder: bool = False) -> None:
    """batch_sim's runs up to m/z 450 (etizolam's molecular ion is m/z 342)."""
    from dataclasses import replace

    from gcms.retention.simulate import alkane_spectrum
    from gcms.simulate import amount_for_snr, simulate, write

    st = replace(settings(seed), mz_max=450)
    items = []
    if ladder:
        for n, t in zip(CARBONS, LADDER_RT, strict=True):
            s = alkane_spectrum(n)
            items.append((s, float(t), amount_for_snr(s, 400.0, settings=st, rt_s=float(t))))
    for spectrum, snr, t in compounds:
        items.append((spectrum, t, amount_for_snr(spectrum, snr, settings=st, rt_s=t)))
    write(simulate(items, settings=st, name=path.stem), path, overwrite=True)


def simulated_batch(folder: Path, library: Path, workers: int, b: int
                    ) -> tuple[Path, set[str]]:
    from gcms.batch import run_batch
    from gcms.library import Library

    etizolam = Library.open(library.parent / "etizolam.h5").spectrum(0)
    demo = demo_library()
    names = list(demo.column("name"))
    runs = folder / f"sim-runs-{b}"
    runs.mkdir(parents=True, exist_ok=True)
    write_run(runs / "ladder.cdf", [], seed=1000 * b, ladder=True)
    rows, holding = [("ladder.cdf", "ladder", f"L{b}", "", "")], set()
    for n, (sample, drugs, with_etizolam) in enumerate(SIMULATED):
        sample_id = f"B{b}-{sample}"
        compounds = [(demo.spectrum(names.index(d)), 600.0, rt_of(d)) for d in drugs]
        if with_etizolam:
            compounds.append((etizolam, 5000.0, 175.0 + 5.0 * n))
            holding.add(sample_id)
        write_run(runs / f"{sample}.cdf", compounds, seed=1000 * b + n + 1)
        rows.append((f"{sample}.cdf", "sample", sample_id, f"EX-{sample_id}", ""))
    out = folder / f"sim-{b}"
    run_batch(write_sequence(runs, rows), library=library, out_dir=out, workers=workers)
    return out, holding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--massbank", type=int, default=2000)
    parser.add_argument("--synthetic", type=int, default=0,
                        help="synthetic entries added (350000: a NIST-sized library)")
    parser.add_argument("--simulated-batches", type=int, default=4)
    parser.add_argument("--reuse", action="store_true",
                        help="re-screen the archive made by the previous run again")
    args = parser.parse_args()

    from gcms.distributed import rescreen
    from gcms.library import Library

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    archive = WORK / "archive"
    updated = WORK / "updated.h5"
    if not (args.reuse and (WORK / "expected.json").is_file()):
        shutil.rmtree(WORK, ignore_errors=True)
        WORK.mkdir(parents=True)
        t0 = time.perf_counter()
        original, updated = libraries(WORK, args.massbank, args.synthetic)
        batches = [lrcfs_batch(WORK, original, args.workers)]
        batches += [simulated_batch(WORK, original, args.workers, b)
                    for b in range(args.simulated_batches)]
        per_set = sum(len(list((out / "runs").glob("*.json"))) for out, _ in batches)
        copies = max(1, round(args.runs / per_set))
        expected = []
        for c in range(copies):
            for out, holding in batches:
                target = archive / f"{out.name}-copy-{c:04d}"
                shutil.copytree(out, target, ignore=shutil.ignore_patterns("cache", "runs"))
                expected += [[target.name, s] for s in sorted(holding)]
        (WORK / "expected.json").write_text(json.dumps(
            {"runs": per_set * copies, "documents": len(batches) * copies,
             "expected": expected}))
        print(f"archive made in {time.perf_counter() - t0:.0f} s", flush=True)
    made = json.loads((WORK / "expected.json").read_text())
    n_runs = made["runs"]
    expected = {tuple(e) for e in made["expected"]}
    print(f"archive: {made['documents']} documents, {n_runs} runs; library "
          f"{Library.open(updated, verify=False)!r}", flush=True)
    for old in WORK.glob("out-*"):
        shutil.rmtree(old)

    rows = {}
    for label, threads, options in (
            ("single process, 1 thread", "1", {"engine": "in-process"}),
            ("single process", None, {"engine": "in-process"}),
            (f"LocalCluster, {args.workers} workers", None, {"workers": args.workers})):
        # the library scan's threads (gcms.library.scan.threads: every core unless
        # OMP_NUM_THREADS caps it; Dask caps it at 1 in each worker)
        before = os.environ.pop("OMP_NUM_THREADS", None)
        if threads is not None:
            os.environ["OMP_NUM_THREADS"] = threads
        # every engine opens, verifies and indexes the library itself (the in-process
        # engine keeps it for the next call in the same process otherwise)
        from gcms.distributed import rescreening

        rescreening._LIBRARIES.clear()
        start = time.perf_counter()
        result = rescreen([archive], updated, out_dir=WORK / f"out-{len(rows)}",
                          actor="benchmark", **options)
        seconds = time.perf_counter() - start
        os.environ.pop("OMP_NUM_THREADS", None)
        if before is not None:
            os.environ["OMP_NUM_THREADS"] = before
        found = {(r["document"].removesuffix("_results"), r["sample_id"])
                 for r in result.findings}
        substances = {r["substance"] for r in result.findings}
        rows[label] = (seconds, result.runs_screened, found == expected,
                       substances, len(result.findings))
    print(f"{'engine':<28} {'s':>7} {'archive runs/min':>17} {'screened runs/min':>18}  "
          "exactly the runs with etizolam")
    for label, (seconds, screened, exact, substances, n) in rows.items():
        print(f"{label:<28} {seconds:7.1f} {60 * n_runs / seconds:17.0f} "
              f"{60 * screened / seconds:18.0f}  {exact} ({n} findings: "
              f"{', '.join(sorted(substances))})")
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
