"""Seizure-database search: a new profile's closest links among N stored profiles.

Stores ``--n`` simulated cocaine impurity profiles (``gcms.profiling.simulate``, SIMULATED)
in a fresh SQLite case-store folder (or ``--store URL``, e.g. PostgreSQL) with
``ProfileStore.add_profiles``, then times, for ``--queries`` new profiles:

* **cold**: the first search of a freshly opened store (reads every vector of the method
  from the table into the cached matrix, then scores);
* **warm**: each later search (one vectorised pass over the cached matrix, top 10, their
  seizure details read back), best and median;
* **add**: ``add_profile`` of a new seizure with its links (search, insert, links).

Printed as a markdown row; ``--json`` writes the numbers.

Usage::

    python benchmarks/profiling_search.py [--n 100000] [--queries 20] [--store URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from gcms.profiling.calibrate import calibrate_groups
from gcms.profiling.measure import Profile
from gcms.profiling.method import find_profiling_method
from gcms.profiling.simulate import BatchModel, simulate_seizures
from gcms.profiling.store import ProfileStore, SeizureInfo


def profiles(method, areas, values):
    targets = tuple(t.name for t in method.profile_targets)
    return [Profile(method=method.name, method_sha256=method.sha256, settings=method.profile,
                    targets=targets, areas=a, values=v) for a, v in zip(areas, values, strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--store", default=None, help="store folder or URL (default: temp)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    method = find_profiling_method("cocaine")
    per = 4
    seizures = simulate_seizures(method, BatchModel(n_batches=args.n // per, per_batch=per,
                                                    seed=11))
    values = seizures.values(method)
    keep = np.all(np.isfinite(values), axis=1)
    areas, values = seizures.areas[keep], values[keep]
    known = simulate_seizures(method, BatchModel(n_batches=60, seed=1))
    calibration = calibrate_groups(known.values(method), known.batch, simulated=True,
                                   method=method.identity())
    queries = simulate_seizures(method, BatchModel(n_batches=args.queries, per_batch=1,
                                                   seed=99))
    qvalues = queries.values(method)
    qvalues = qvalues[np.all(np.isfinite(qvalues), axis=1)]

    with tempfile.TemporaryDirectory() as scratch:
        location = args.store or str(Path(scratch) / "store")
        from gcms.custody import CaseStore
        from gcms.custody.keys import new_key_pair

        _, _, key = new_key_pair(Path(scratch), "bench", "benchmark passphrase")
        with CaseStore(location, actor="bench") as cases:  # profiles live in a case store
            cases.register_key(key, user="bench", printed_name="Benchmark")
            cases.open_case("NEW", title="benchmark query")
        t0 = time.perf_counter()
        with ProfileStore(location, actor="bench") as store:
            items = profiles(method, areas, values)
            for start in range(0, len(items), 10_000):
                chunk = items[start:start + 10_000]
                store.add_profiles(method, chunk, [
                    SeizureInfo(case_id=f"C{start + i}", place="bench", drug="cocaine")
                    for i in range(len(chunk))], source="simulated benchmark seizures")
            store.set_calibration(method, calibration, key=key)
        insert_s = time.perf_counter() - t0
        with ProfileStore(location, actor="bench") as store:
            n = store.count(method)
            t0 = time.perf_counter()
            store.search(method, qvalues[0], k=10, calibration=calibration)
            cold = time.perf_counter() - t0
            warm = []
            for q in qvalues[1:]:
                t0 = time.perf_counter()
                hits = store.search(method, q, k=10, calibration=calibration)
                warm.append(time.perf_counter() - t0)
            if len(hits) != 10:
                raise SystemExit(f"expected 10 hits, got {len(hits)}")
            t0 = time.perf_counter()
            target = profiles(method, queries.areas[:1], qvalues[:1])[0]
            _, links = store.add_profile(method, target, SeizureInfo(case_id="NEW"))
            add = time.perf_counter() - t0
    result = {"stored_profiles": n, "targets": values.shape[1], "insert_s": insert_s,
              "cold_search_s": cold, "warm_search_best_s": min(warm),
              "warm_search_median_s": statistics.median(warm), "add_with_links_s": add,
              "links_of_new_profile": len(links),
              "database": "sqlite" if args.store is None else args.store.split(":")[0]}
    print("| stored profiles | targets | database | insert s | cold search s | warm search "
          "best / median ms | add + link s |")
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: |")
    print(f"| {n} | {values.shape[1]} | {result['database']} | {insert_s:.1f} | {cold:.3f} | "
          f"{1e3 * min(warm):.1f} / {1e3 * statistics.median(warm):.1f} | {add:.3f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
