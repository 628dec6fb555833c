"""A NIST-sized search library grown from real spectra (the shared MassBank EI records).

The synthetic libraries (:mod:`gcms.library.synthetic`) are too kind to the search
bounds: real EI spectra share more low-mass ions and have longer tails of small peaks.
This builds, from ``../shared/data/massbank-ei``:

* the **library**: every record except the held-out ones (13,140 - 198 = 12,942 real
  spectra), then *homologue-style variants* of randomly drawn real records until the
  library holds ``size`` entries. A variant is a related compound measured elsewhere:
  the fragments above a random fraction (50-90 %) of the heaviest m/z shifted by a
  CH2-multiple or a common substituent difference (+/-14, 28, 16, 34, 42, 15, 30, 44,
  58), abundances perturbed (log-normal, sigma 0.15), ~8 % of the peaks dropped, up to
  3 small new ones, then a replicate measurement (log-normal 0.25, small peaks lost) and
  a record low m/z cut (15-50), as :mod:`gcms.library.synthetic` does for its families;
* the **queries**: the held-out real records (``dev_queries.txt``, 198 records: the same
  compound is in the library from another contributor) plus replicate-style copies of
  real library records (counting noise, small peaks lost, background and bleed ions,
  15 % with a co-eluting impurity, acquisition from m/z 35-50:
  :func:`gcms.library.synthetic.synthetic_queries`) up to ``n_queries``.

Everything is seeded; the result is cached as ``benchmarks/_work/real_<size>_<n>.npz``
(the same arrays as the synthetic datasets of ``search.py``).

    python benchmarks/real_library.py [--size 350000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "massbank-ei"
#: m/z shifts of a homologue or substituted analogue (CH2 multiples, O, Cl-H, C2H2O, ...).
SHIFTS = np.array([14, 28, -14, -28, 16, 34, 42, 15, 30, 44, 58])
#: Lowest m/z of library records (instrument scan starts).
LIBRARY_LOW_MZ = np.array([15, 15, 20, 26, 27, 29, 33, 35, 40, 45, 50])


def _real_records(data: Path):
    """The compiled MassBank records and the positions of the held-out dev queries."""
    from gcms.library import build_library

    library = build_library([data]).library
    position = {str(Path(s).relative_to(data)): i
                for i, s in enumerate(library.column("source_file"))}
    held = [position[line.strip()] for line in
            (data / "dev_queries.txt").read_text().splitlines() if line.strip() in position]
    return library.peaks, np.array(sorted(set(held)), dtype=np.int64)


def _variant(rng, mz: np.ndarray, ab: np.ndarray):
    """A homologue-style variant of one real spectrum (module docstring)."""
    mz = mz.astype(np.int64)
    heavy = mz > mz.max() * rng.uniform(0.5, 0.9)
    mz = np.where(heavy, mz + rng.choice(SHIFTS), mz)
    ab = ab * rng.lognormal(0.0, 0.15, size=ab.size)
    keep = rng.random(mz.size) > 0.08
    keep[np.argmax(ab)] = True
    extra = int(rng.integers(0, 4))
    mz = np.concatenate([mz[keep], rng.integers(30, max(31, int(mz.max())), size=extra)])
    ab = np.concatenate([ab[keep], 0.2 * ab.max() * rng.random(extra) ** 3])
    ab = ab * rng.lognormal(0.0, 0.25, size=ab.size)  # a replicate measurement
    keep = (ab > 0.004 * ab.max()) | (rng.random(ab.size) > 0.5)
    mz, ab = mz[keep], ab[keep]
    low = rng.choice(LIBRARY_LOW_MZ)
    keep = (mz >= low) & (mz > 0)
    if keep.sum() < 3:
        keep = mz > 0
    return mz[keep].astype(np.float64), ab[keep]


def real_dataset(size: int = 350_000, n_queries: int = 1000, *, data: Path = DEFAULT_DATA,
                 seed: int = 17) -> Path:
    """Build (once) and cache the real-derived library and queries; the ``.npz`` path."""
    path = WORK / f"real_{size}_{n_queries}.npz"
    if path.exists():
        return path
    from gcms.library._peaks import PeakMatrix, search_peaks
    from gcms.library.synthetic import synthetic_queries

    started = time.perf_counter()
    records, held = _real_records(data)
    real = np.setdiff1d(np.arange(len(records)), held)
    rng = np.random.default_rng(seed)
    rows = [records.row(int(i)) for i in real]
    while len(rows) < size:
        mz, ab = _variant(rng, *rows[int(rng.integers(real.size))])
        peaks = search_peaks(mz, ab)
        if peaks[0].size:
            rows.append(peaks)
    order = rng.permutation(len(rows))  # real records and variants mixed
    library = PeakMatrix.from_peaks([rows[i] for i in order])
    real_position = np.argsort(order)[: real.size]  # where each real record went
    copies, sources = synthetic_queries(library.take(np.sort(real_position)),
                                        n_queries - held.size, seed=seed + 1)
    queries = PeakMatrix.from_peaks([records.row(int(i)) for i in held]
                                    + [copies.row(i) for i in range(len(copies))])
    WORK.mkdir(parents=True, exist_ok=True)
    np.savez(path, lib_indptr=library.indptr, lib_mz=library.mz, lib_ab=library.abundance,
             q_indptr=queries.indptr, q_mz=queries.mz, q_ab=queries.abundance,
             n_real_queries=held.size, n_real_entries=real.size)
    print(f"real-derived library: {len(library):,} entries ({real.size:,} real), "
          f"{len(queries):,} queries ({held.size} held-out real records), built in "
          f"{time.perf_counter() - started:.0f} s: {path}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=350_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    real_dataset(args.size, args.queries, data=args.data)


if __name__ == "__main__":
    main()
