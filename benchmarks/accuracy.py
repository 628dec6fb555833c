"""Identification accuracy on massbank-ei, and calibration of the hit probability.

Accuracy (the default): every record of ../shared/data/massbank-ei is compiled into one
library; each query of ``dev_queries.txt`` is searched against every record except
itself, and it counts as identified when the first hit has the same compound (first 14
characters of the InChIKey); top-5 when one of the first five has. Scores compared:
identity MF (NIST EI Normal), similarity MF (EI Simple), reverse MF, spectral entropy
similarity, plain cosine (intensity^1) and the sqrt(I)*m/z-weighted cosine, all on the
same nominal-mass, 999-normalised spectra. Ties are broken by library index, as the
search does. The product search (``Library.search``) is run too and must agree with the
identity column.

``--calibrate``: fits the probability slope beta (see gcms/library/probability.py) on a
replicate-spectra experiment that does not use the dev queries: queries are other
records whose compound has another record in the library, split in two halves by a hash
of their InChIKey; beta is fitted on one half by maximum likelihood and the reliability
of the probabilities is reported on the other.

    python benchmarks/accuracy.py [--data ../shared/data/massbank-ei] [--calibrate]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar

from gcms.library import Library, SearchSettings, build_library
from gcms.library.kernels import LibraryPeaks, QueryBlock, score_pairs
from gcms.library.probability import PROBABILITY_BETA, PROBABILITY_DEPTH, hit_probabilities

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "massbank-ei"
PAIR_CHUNK = 400_000  # pairs scored at once


def load(data: Path) -> tuple[Library, np.ndarray, dict[str, int]]:
    t = time.perf_counter()
    library = build_library([data]).library
    print(f"library: {len(library)} records compiled in {time.perf_counter() - t:.1f} s")
    keys = np.array([k[:14] if k else "" for k in library.column("inchikey")])
    position = {}
    for i, source in enumerate(library.column("source_file")):
        position[str(Path(source).relative_to(data))] = i
    return library, keys, position


def all_scores(library: Library, queries: np.ndarray,
               names: tuple[str, ...] = ("identity", "similarity", "reverse", "entropy"),
               cosines: bool = True) -> dict[str, np.ndarray]:
    """Every score of every query record against every library record (self = -inf)."""
    lib = LibraryPeaks.from_peaks(library.peaks)
    qpeaks = library.peaks.take(queries)
    block = QueryBlock.from_peaks(qpeaks, width=lib.max_mz + 1)
    n_lib = len(library)
    out = {name: np.empty((queries.size, n_lib)) for name in names}
    rows_per_chunk = max(1, PAIR_CHUNK // n_lib)
    for lo in range(0, queries.size, rows_per_chunk):
        hi = min(queries.size, lo + rows_per_chunk)
        qi = np.repeat(np.arange(lo, hi), n_lib)
        li = np.tile(np.arange(n_lib), hi - lo)
        s = score_pairs(block, lib, qi, li, scores=names)
        for name in out:
            out[name][lo:hi] = getattr(s, name).reshape(hi - lo, n_lib)
    # Plain cosines as sparse products on the same spectra.
    p = library.peaks
    weights = [("cosine", p.abundance), ("cosine_sqrt_mz", np.sqrt(p.abundance) * p.mz)]
    for name, weight in weights if cosines else []:
        matrix = sp.csr_matrix((weight, p.mz, p.indptr), shape=(n_lib, lib.max_mz + 1))
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        dots = (matrix[queries] @ matrix.T).toarray()
        out[name] = dots / np.outer(norms[queries], norms)
    for scores in out.values():
        scores[np.arange(queries.size), queries] = -np.inf
    return out


def ranked(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best per row, ties by index (as the search orders hits)."""
    n = scores.shape[1]
    part = np.argpartition(-scores, k + 50, axis=1)[:, :k + 50] if n > k + 50 else \
        np.broadcast_to(np.arange(n), scores.shape)
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -np.round(vals, 12)), axis=1)
    return np.take_along_axis(part, order, axis=1)[:, :k]


def accuracy(data: Path) -> None:
    library, keys, position = load(data)
    with open(data / "dev_queries.txt") as handle:
        dev = [line.strip() for line in handle if line.strip()]
    queries = np.array([position[d] for d in dev])
    t = time.perf_counter()
    scores = all_scores(library, queries)
    print(f"{queries.size} queries x {len(library)} records scored in "
          f"{time.perf_counter() - t:.1f} s")
    want = keys[queries]
    print("\n| score | top-1 | top-5 |\n| --- | --- | --- |")
    labels = {"identity": "identity MF (NIST EI Normal)", "similarity": "similarity MF (EI Simple)",
              "reverse": "reverse MF", "entropy": "spectral entropy similarity",
              "cosine": "plain cosine (intensity)", "cosine_sqrt_mz": "cosine, sqrt(I)*m/z"}
    for name, label in labels.items():
        top = ranked(scores[name], 5)
        top1 = np.mean(keys[top[:, 0]] == want)
        top5 = np.mean((keys[top] == want[:, None]).any(axis=1))
        print(f"| {label} | {top1:.3f} | {top5:.3f} |")
    # The product path: search with the query's own record present, drop it from the list.
    spectra = [library.spectrum(int(q)) for q in queries]
    t = time.perf_counter()
    results = library.search(spectra, top=6, settings=SearchSettings(presearch="exact"))
    elapsed = time.perf_counter() - t
    first = np.array([[h.library_index for h in r.hits if h.library_index != q][0]
                      for r, q in zip(results, queries, strict=True)])
    agree = np.mean(first == ranked(scores["identity"], 1)[:, 0])
    print(f"\nLibrary.search (exact presearch): {queries.size / elapsed:.0f} queries/s; first "
          f"non-self hit equals the identity ranking above for {agree:.1%} of queries; "
          f"top-1 {np.mean(keys[first] == want):.3f}")


def _half(key: str) -> int:
    return hashlib.sha256(key.encode()).digest()[0] & 1


def calibrate(data: Path, max_queries: int) -> None:
    library, keys, position = load(data)
    with open(data / "dev_queries.txt") as handle:
        dev = {position[line.strip()] for line in handle if line.strip()}
    counts: dict[str, int] = {}
    for k in keys:
        if k:
            counts[k] = counts.get(k, 0) + 1
    candidates = np.array([i for i, k in enumerate(keys)
                           if k and counts[k] >= 2 and i not in dev])
    rng = np.random.default_rng(0)
    if candidates.size > max_queries:
        candidates = np.sort(rng.choice(candidates, size=max_queries, replace=False))
    print(f"calibration queries: {candidates.size} records (not dev queries) whose compound "
          f"has another record")
    scores = all_scores(library, candidates, names=("identity",), cosines=False)["identity"]
    depth = PROBABILITY_DEPTH
    top = ranked(scores, depth)
    mf = 1000.0 * np.take_along_axis(scores, top, axis=1)
    correct = keys[top] == keys[candidates][:, None]
    halves = np.array([_half(k) for k in keys[candidates]])

    def neg_log_likelihood(beta: float, rows: np.ndarray) -> float:
        p = hit_probabilities(mf[rows], beta=beta) / 100.0
        mass = (p * correct[rows]).sum(axis=1)
        return -np.log(np.maximum(mass, 1e-12)).sum()

    fit_rows = np.flatnonzero((halves == 0) & correct.any(axis=1))
    test_rows = np.flatnonzero(halves == 1)
    result = minimize_scalar(lambda b: neg_log_likelihood(b, fit_rows), bounds=(0.001, 0.5),
                             method="bounded")
    beta = float(result.x)
    print(f"fitted beta = {beta:.4f} per MF unit on {fit_rows.size} queries "
          f"(shipped: {PROBABILITY_BETA}); held-out half: {test_rows.size} queries")
    # The event checked: "the compound of the first hit is the right one"; its predicted
    # probability is the summed probability of the hits of that compound in the list.
    hit_keys = keys[top[test_rows]]
    same_compound = hit_keys == hit_keys[:, :1]
    p = (hit_probabilities(mf[test_rows], beta=beta) * same_compound).sum(axis=1)
    hit = correct[test_rows, 0]
    print("\n| probability of the first hit's compound | queries | predicted | observed |\n"
          "| --- | --- | --- | --- |")
    edges = [0, 20, 40, 60, 80, 100.01]
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (p >= lo) & (p < hi)
        if sel.any():
            print(f"| {lo:.0f}-{min(hi, 100):.0f} % | {sel.sum()} | {p[sel].mean():.1f} % | "
                  f"{100 * hit[sel].mean():.1f} % |")
    brier = np.mean((p / 100.0 - hit) ** 2)
    print(f"\nBrier score of the top-hit probability on the held-out half: {brier:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--calibrate", action="store_true")
    parser.add_argument("--max-queries", type=int, default=1500)
    args = parser.parse_args()
    if args.calibrate:
        calibrate(args.data, args.max_queries)
    else:
        accuracy(args.data)


if __name__ == "__main__":
    main()
