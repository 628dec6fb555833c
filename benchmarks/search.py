"""Library search speed: gcms beside FlashEntropySearch, matchms and a plain numpy product.

Synthetic EI libraries (gcms.library.synthetic: families of related compounds, shaped so
that hit lists look like those of real MassBank records searched against each other)
of 10,000 / 100,000 / 350,000 spectra and 1,000 replicate-style queries. Every tool runs
in its own process (so its peak memory is its own) on the same spectra:

* ``exhaustive``     every library entry scored with the NIST identity MF (the compiled
  exact scorer, bit-identical to gcms.library.kernels.score_pairs, in a plain loop over
  all pairs, no bound): the reference for agreement;
* ``gcms-exact``     gcms.library search, default settings (presearch="exact": the hit
  list of scoring every entry, by construction);
* ``gcms-floor700``  min_match_factor=700 (every entry scoring >= 700 listed, best first);
* ``gcms-floor600``  min_match_factor=600;
* ``flash``          ms_entropy FlashEntropySearch, open search (entropy similarity), one
  query at a time as its API works; EI spectra have no precursor, so each spectrum is
  given one above its last peak;
* ``numpy``          exhaustive float32 matrix product of unit sqrt(m*I) vectors, top 10
  by argpartition (what "brute force" costs in numpy);
* ``matchms``        CosineGreedy (m/z power 0.5, intensity power 0.5) pair by pair, on a
  few queries only (its rate is then extrapolated, and said so).

Build = from packed spectra in memory to a searchable index (file parsing excluded);
"first call" = the first search of a fresh process (numba kernels loaded from their
cache, or compiled when there is none). Rates are queries per second of wall time and
per CPU-second of the process (the machine is shared: the second says what the work
costs). Agreement = share of queries whose top-10 list (library indices, order
included) equals the exhaustive one; for a floor, also the share whose list equals the
exhaustive list cut at the floor (the guarantee), and whose first hit is the
exhaustive first hit where that hit reaches the floor. Tools with another score are
not comparable and are not scored.

    python benchmarks/search.py [--sizes 10000 100000 350000] [--queries 1000] [--real]

``--real``: the real-derived library of ``real_library.py`` (the MassBank EI records grown
to ``size`` with homologue-style variants; the held-out real records and replicate-style
copies as queries) instead of the synthetic one.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
TOOLS = ("exhaustive", "gcms-exact", "gcms-floor700", "gcms-floor600", "flash", "numpy",
         "matchms")
MATCHMS_QUERIES = 3
FLOORS = {"gcms-exact": None, "gcms-floor700": 700, "gcms-floor600": 600}


def dataset(size: int, n_queries: int) -> Path:
    """Generate (once) and cache the synthetic library and queries."""
    from gcms.library.synthetic import synthetic_library, synthetic_queries

    path = WORK / f"synthetic_{size}_{n_queries}.npz"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        library = synthetic_library(size, seed=11)
        queries, sources = synthetic_queries(library, n_queries, seed=12)
        np.savez(path, lib_indptr=library.indptr, lib_mz=library.mz,
                 lib_ab=library.abundance, q_indptr=queries.indptr, q_mz=queries.mz,
                 q_ab=queries.abundance, sources=sources)
    return path


def _load(path: Path):
    from gcms.library._peaks import PeakMatrix

    data = np.load(path)
    library = PeakMatrix(data["lib_indptr"], data["lib_mz"], data["lib_ab"])
    queries = PeakMatrix(data["q_indptr"], data["q_mz"], data["q_ab"])
    return library, queries


def _exhaustive(library, queries, depth: int) -> np.ndarray:
    """Top ``depth`` library indices per query, every entry scored (no bound at all)."""
    import numba

    from gcms.library.kernels import QueryBlock
    from gcms.library.scan import ScanLibrary, _insert, lanes_of, pair_rank, score_params

    @numba.njit(parallel=True, cache=True)
    def every_entry(n_lib, params, lib, lanes, keys, ranks, rows, filled):
        for j in numba.prange(lanes.first_mz.size):
            heaps = (keys, ranks, rows, filled)
            for r in range(n_lib):
                value = pair_rank(r, j, params, lib, lanes)
                if value != -np.inf:
                    _insert(heaps, j, np.rint(value * 1e12), value, r, keys.shape[1])

    lib = ScanLibrary.build(library, "mass").arrays(np.full(len(library), np.nan),
                                                    np.zeros(len(library), np.int64))
    width = int(max(library.mz.max(), queries.mz.max())) + 2
    lanes = lanes_of(QueryBlock.from_peaks(queries, width=width), np.arange(len(queries)),
                     "identity", None, np.full(len(queries), np.nan),
                     np.zeros(len(queries), np.int64))
    n_q = len(queries)
    keys, ranks = np.zeros((n_q, depth)), np.zeros((n_q, depth))
    rows, filled = np.full((n_q, depth), -1, np.int64), np.zeros(n_q, np.int64)
    every_entry(len(library), score_params("identity", None, None, "off", 0.0, 0.0), lib,
                lanes, keys, ranks, rows, filled)
    match_factor = np.where(rows >= 0, np.clip(np.floor(1000.0 * ranks), 0, 999), -1)
    return rows, match_factor.astype(np.int64)


def worker(tool: str, path: Path, out: Path) -> None:
    """Run one tool on one dataset; write its timings, memory and top-10 lists."""
    library, queries = _load(path)
    n_q = len(queries)
    result: dict = {"tool": tool, "n_library": len(library), "n_queries": n_q}
    top10 = None
    cpu = None
    if tool == "exhaustive":
        _exhaustive(library, queries.take(np.arange(2)), 10)  # compile outside the timing
        result["build_s"] = 0.0
        t, cpu = time.perf_counter(), time.process_time()
        top10, match_factor = _exhaustive(library, queries, 10)
        result["search_s"] = time.perf_counter() - t
        result["mf"] = match_factor.tolist()
    elif tool.startswith("gcms"):
        from gcms import Spectrum
        from gcms.library._engine import SearchIndex
        from gcms.library.search import SearchSettings, search_arrays

        spectra = [Spectrum(mz=queries.row(i)[0].astype(float), intensity=queries.row(i)[1])
                   for i in range(n_q)]
        t = time.perf_counter()
        index = SearchIndex(library, np.full(len(library), np.nan), [""] * len(library))
        index.scan_library("mass")
        result["build_s"] = time.perf_counter() - t
        settings = SearchSettings(min_match_factor=FLOORS[tool])
        t = time.perf_counter()
        search_arrays(index, spectra[:1], top=10, settings=settings)
        result["first_call_s"] = time.perf_counter() - t
        t, cpu = time.perf_counter(), time.process_time()
        hits = search_arrays(index, spectra, top=10, settings=settings)
        result["search_s"] = time.perf_counter() - t
        top10 = hits.index
        result["mf"] = hits.match_factor.tolist()
    elif tool == "flash":
        from ms_entropy import FlashEntropySearch

        def as_dict(i, peaks):
            mz, ab = peaks.row(i)
            return {"precursor_mz": float(mz.max()) + 10.0,
                    "peaks": np.column_stack([mz, ab]).astype(np.float32)}

        spectra = [as_dict(i, library) for i in range(len(library))]
        t = time.perf_counter()
        engine = FlashEntropySearch()
        spectra = engine.build_index(spectra)
        result["build_s"] = time.perf_counter() - t
        qs = [as_dict(i, queries) for i in range(n_q)]
        t, cpu = time.perf_counter(), time.process_time()
        top10 = np.empty((n_q, 10), dtype=np.int64)
        for i, q in enumerate(qs):
            scores = engine.search(precursor_mz=q["precursor_mz"], peaks=q["peaks"],
                                   method="open", ms2_tolerance_in_da=0.02)["open_search"]
            best = np.argpartition(-scores, 10)[:10]
            top10[i] = best[np.argsort(-scores[best], kind="stable")]
        result["search_s"] = time.perf_counter() - t
        top10 = None  # another score: not comparable with gcms-exact
    elif tool == "numpy":
        import scipy.sparse as sp

        t = time.perf_counter()
        width = int(max(library.mz.max(), queries.mz.max())) + 1
        w = np.sqrt(library.mz * library.abundance).astype(np.float32)
        dense = sp.csr_matrix((w, library.mz, library.indptr),
                              shape=(len(library), width)).toarray()
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        result["build_s"] = time.perf_counter() - t
        qw = np.sqrt(queries.mz * queries.abundance).astype(np.float32)
        qd = sp.csr_matrix((qw, queries.mz, queries.indptr), shape=(n_q, width)).toarray()
        qd /= np.linalg.norm(qd, axis=1, keepdims=True)
        t, cpu = time.perf_counter(), time.process_time()
        for lo in range(0, n_q, 64):
            scores = qd[lo:lo + 64] @ dense.T
            np.argpartition(-scores, 10, axis=1)[:, :10]
        result["search_s"] = time.perf_counter() - t
    elif tool == "matchms":
        from matchms import Spectrum as MS
        from matchms.similarity import CosineGreedy

        refs = [MS(mz=library.row(i)[0].astype(float), intensities=library.row(i)[1],
                   metadata={}, metadata_harmonization=False) for i in range(len(library))]
        result["build_s"] = 0.0
        cosine = CosineGreedy(tolerance=0.1, mz_power=0.5, intensity_power=0.5)
        n = min(MATCHMS_QUERIES, n_q)
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(n):
            q = MS(mz=queries.row(i)[0].astype(float), intensities=queries.row(i)[1],
                   metadata={}, metadata_harmonization=False)
            for ref in refs:
                cosine.pair(q, ref)
        result["search_s"] = (time.perf_counter() - t) * n_q / n
        result["cpu_s"] = (time.process_time() - cpu) * n_q / n
        result["extrapolated_from"] = n
        cpu = None
    if cpu is not None:
        result["cpu_s"] = time.process_time() - cpu
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if top10 is not None:
        np.save(out.with_suffix(".npy"), top10)
    out.write_text(json.dumps(result))


def gpu(sizes: list[int], n_queries: int, n_reference: int, batch: int) -> None:
    """GPU (device="cuda") rate, and agreement with the CPU's exact search."""
    from gcms import Spectrum
    from gcms.library._engine import SearchIndex
    from gcms.library.gpu import describe
    from gcms.library.search import SearchSettings, search_arrays
    from gcms.library.synthetic import synthetic_library, synthetic_queries

    print(f"device: {describe()}")
    print("\n| library | build (s) | queries/s (GPU) | top-10 = CPU exact | CPU exact queries/s "
          "|\n| --- | --- | --- | --- | --- |")
    for size in sizes:
        t = time.perf_counter()
        library = synthetic_library(size, seed=11)
        queries, _ = synthetic_queries(library, n_queries, seed=12)
        generated = time.perf_counter() - t
        spectra = [Spectrum(mz=queries.row(i)[0].astype(float), intensity=queries.row(i)[1])
                   for i in range(n_queries)]
        t = time.perf_counter()
        index = SearchIndex(library, np.full(size, np.nan), [""] * size)
        settings = SearchSettings(batch_size=batch)
        search_arrays(index, spectra[:batch], top=10, settings=settings, device="cuda")
        build = time.perf_counter() - t  # includes the first batch (warm-up)
        t = time.perf_counter()
        on_gpu = search_arrays(index, spectra, top=10, settings=settings, device="cuda")
        rate = n_queries / (time.perf_counter() - t)
        t = time.perf_counter()
        on_cpu = search_arrays(index, spectra[:n_reference], top=10)
        cpu_rate = n_reference / (time.perf_counter() - t)
        same = (on_gpu.index[:n_reference] == on_cpu.index).all(axis=1).mean()
        print(f"| {size:,} (generated in {generated:.0f} s) | {build:.1f} | {rate:,.0f} | "
              f"{same:.1%} of {n_reference} | {cpu_rate:.1f} |", flush=True)


def run(tool: str, path: Path, timeout: float) -> dict | None:
    out = WORK / f"{path.stem}_{tool}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--worker", tool, "--data", str(path), "--out", str(out)]
    try:
        subprocess.run(cmd, check=True, timeout=timeout, env={**os.environ,
                                                             "PYTHONWARNINGS": "ignore"})
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"  {tool}: did not finish ({error})", file=sys.stderr)
        return None
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 350_000])
    parser.add_argument("--real", action="store_true",
                        help="the real-derived library of real_library.py (MassBank EI records "
                             "and homologue-style variants; held-out real queries) instead of "
                             "the synthetic one")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--tools", nargs="+", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--gpu", action="store_true",
                        help="measure device='cuda' instead (needs CuPy and a GPU)")
    parser.add_argument("--reference", type=int, default=256,
                        help="with --gpu: queries also searched on the CPU")
    parser.add_argument("--batch", type=int, default=1024, help="with --gpu: queries per batch")
    parser.add_argument("--worker")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data, args.out)
        return
    if args.gpu:
        gpu(args.sizes, args.queries, args.reference, args.batch)
        return
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f} (1/5/15 min) at start")
    print("\n| library | tool | build (s) | first call (s) | queries/s | queries per CPU-s "
          "| peak RSS (MB) | top-10 = exhaustive | list = exhaustive cut at the floor "
          "| top-1 = exhaustive |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
          "| ---: |")
    for size in args.sizes:
        if args.real:
            from real_library import real_dataset

            path = real_dataset(size, args.queries)
        else:
            path = dataset(size, args.queries)
        tools = [t for t in args.tools if not (t == "matchms" and size > 10_000)]
        reference = reference_mf = None
        for tool in tools:
            result = run(tool, path, args.timeout)
            if result is None:
                print(f"| {size:,} | {tool} | - | - | - | - | - | - | - | - |")
                continue
            rate = result["n_queries"] / result["search_s"]
            cpu_rate = result["n_queries"] / result["cpu_s"] if result.get("cpu_s") else None
            note = f" (extrapolated from {result['extrapolated_from']})" \
                if "extrapolated_from" in result else ""
            agree = agree_floor = agree1 = "other score"
            top_path = WORK / f"{path.stem}_{tool}.npy"
            if tool == "exhaustive" and top_path.exists():
                reference, reference_mf = np.load(top_path), np.array(result["mf"])
                agree = agree1 = "reference"
                agree_floor = "-"
            elif tool.startswith("gcms") and reference is not None and top_path.exists():
                mine = np.load(top_path)
                agree = f"{(mine == reference).all(axis=1).mean():.1%}"
                floor = FLOORS[tool]
                if floor is None:
                    agree_floor = "no floor"
                    agree1 = f"{(mine[:, 0] == reference[:, 0]).mean():.1%}"
                else:
                    cut = np.where(reference_mf >= floor, reference, -1)
                    agree_floor = f"{(mine == cut).all(axis=1).mean():.1%}"
                    reached = reference_mf[:, 0] >= floor
                    agree1 = (f"{(mine[reached, 0] == reference[reached, 0]).mean():.1%} "
                              f"of {reached.sum()} reaching it")
            cpu_text = f"{cpu_rate:,.0f}" if cpu_rate else "-"
            first = f"{result['first_call_s']:.1f}" if "first_call_s" in result else "-"
            print(f"| {size:,} | {tool} | {result['build_s']:.1f} | {first} | {rate:,.1f}{note} "
                  f"| {cpu_text} | {result['peak_rss_mb']:,.0f} | {agree} | {agree_floor} "
                  f"| {agree1} |", flush=True)
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")


if __name__ == "__main__":
    main()
