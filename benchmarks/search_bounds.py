"""How much of a NIST-sized real-derived library each admissible bound leaves to read.

Prototype for issue 17 item 3 (exact top-10 at 1,000 queries/s on 2 cores): before
building another exact engine, measure on the real-derived 350,000-entry library
(``real_library.py``) what fraction of the entries each candidate upper bound of the
identity score cannot rule out, with each query's *true* 10th-best score as the
threshold (the best case for any threshold algorithm). Per query and entry it computes
the exact terms of the composite score (:mod:`gcms.library.scores`): :math:`\\cos^2`
over the overlap range, the peaks in common :math:`n_1`, the ratio pairs :math:`n_2`,
and the score itself, then counts the entries whose bound reaches the threshold:

* ``counts``: :math:`(n_1\\cos^2 + n_2)/(n_1 + n_2)` (the compiled scan's bound; needs
  every peak of the entry read);
* ``cos-only``: :math:`(n_q(1+\\cos^2) - 1)/(2n_q - 1)` with :math:`n_q` the query's
  peaks in range (the tightest bound that knows the cosine *exactly* but not the counts:
  ``n_2 <= n_1 - 1 <= n_q - 1``, ``F_R <= 1``). Every bound that sees only a cosine
  bound (an inverted index over the query's heaviest peaks with Cauchy-Schwarz on the
  rest, a quantised dense product, per-cluster maximum vectors) admits at least these;
* ``heavy-k``: that bound with the cosine bounded from the query's ``k`` heaviest
  weighted peaks (an inverted index with Cauchy-Schwarz on the rest:
  ``dot <= partial + |q_rest| |l|``, or ``|q_rest| |l_rest|`` with the entry's weights at
  the ``k`` peaks taken from the postings), and the share of entries holding one of those
  ``k`` peaks at all (the postings such an index must visit, before any cut of them);
* ``shares-a-peak``: entries with a peak in common (anything else scores 0).

It also times, in the same process, the current exact search and the walk of the
postings of the ``k`` heaviest query peaks. Results and the conclusion drawn from them:
``benchmarks/README.md`` (library search, speed on real-derived spectra).

    python benchmarks/search_bounds.py [--queries 64] [--size 350000]
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numba
import numpy as np

HEAVY = (4, 8, 16)


@numba.njit(cache=True)
def _visit(q_indptr, q_mz, q_weight, k, post_ptr, post_row, post_weight, n_lib):
    """Partial dot products of every query's ``k`` heaviest peaks through the postings.

    The first step of an inverted-index bound: per query, each library entry holding
    one of its ``k`` heaviest weighted peaks gets ``sum w_q w_l`` over them in a dense
    accumulator. Returns the postings visited.
    """
    acc = np.zeros(n_lib, np.float32)
    total = 0
    for j in range(q_indptr.size - 1):
        s, e = q_indptr[j], q_indptr[j + 1]
        for i in np.argsort(-q_weight[s:e])[:k]:
            m = q_mz[s + i]
            x = q_weight[s + i]
            for p in range(post_ptr[m], post_ptr[m + 1]):
                acc[post_row[p]] += x * post_weight[p]
            total += post_ptr[m + 1] - post_ptr[m]
        acc[:] = 0
    return total


def postings_cost(lib, queries) -> None:
    """CPU per query of walking the postings of the ``k`` heaviest query peaks."""
    weight = np.sqrt(lib.mz * lib.abundance).astype(np.float32)
    order = np.lexsort((-weight, lib.mz))  # by m/z, heaviest first within one
    post_mz = lib.mz[order]
    post_row = lib.row_of_peak[order].astype(np.int32)
    post_ptr = np.searchsorted(post_mz, np.arange(int(lib.mz.max()) + 2))
    q_weight = np.sqrt(queries.mz * queries.abundance).astype(np.float32)
    for k in HEAVY:
        args = (queries.mz, q_weight, k, post_ptr, post_row, weight[order], len(lib))
        _visit(queries.indptr[:3], *args)  # compile
        costs = []
        for _ in range(3):
            t = time.process_time()
            total = _visit(queries.indptr, *args)
            costs.append(1000 * (time.process_time() - t) / len(queries))
        print(f"postings of the {k} heaviest query peaks: {total / len(queries):,.0f} "
              f"visited per query, {min(costs):.2f} ms CPU per query (best of 3)")


@numba.njit(cache=True)
def _index_candidates(qw, k, post_ptr, post_row, post_weight, n_lib, size):
    """Per lane of ``qw`` ((m/z, lane) weights), the ``size`` entries of highest partial
    normalised dot product over its ``k`` heaviest peaks (postings): ``(lanes, rows)``."""
    n_lanes = qw.shape[1]
    acc = np.zeros(n_lib, np.float32)
    touched = np.empty(n_lib, np.int32)
    out_lane = np.empty(n_lanes * size, np.int64)
    out_row = np.empty(n_lanes * size, np.int64)
    c = 0
    for j in range(n_lanes):
        column = qw[:, j]
        n_touched = 0
        for m in np.argsort(-column)[:k]:
            x = column[m]
            if x <= 0:
                continue
            for p in range(post_ptr[m], post_ptr[m + 1]):
                r = post_row[p]
                if acc[r] == 0:
                    touched[n_touched] = r
                    n_touched += 1
                acc[r] += x * post_weight[p]
        values = np.empty(n_touched, np.float32)
        for i in range(n_touched):
            values[i] = acc[touched[i]]
        kept = min(size, n_touched)
        if kept > 0:
            for i in np.argpartition(-values, kept - 1)[:kept]:
                out_lane[c] = j
                out_row[c] = touched[i]
                c += 1
        for i in range(n_touched):
            acc[touched[i]] = 0
    return out_lane[:c], out_row[:c]


def index_pilot(lib, queries, n: int) -> None:
    """The scan's pilot (whole-library cos² sweep) against an inverted-index pilot.

    Any entries' exact scores bound the 20th best from below, so the starting thresholds
    may come from anywhere without changing the result; this compares, one thread,
    per block of 128 queries: the current pilot, and the entries of highest partial
    (normalised) dot product over the ``k`` heaviest query peaks; then the main pass.
    """
    from gcms.library import scan
    from gcms.library.kernels import QueryBlock

    library = scan.ScanLibrary.build(lib, "mass")
    arrays = library.arrays(np.full(len(lib), np.nan), np.zeros(len(lib), np.int64))
    width = int(max(lib.mz.max(), queries.mz.max())) + 2
    block = QueryBlock.from_peaks(queries.take(np.arange(n)), width=width)
    order = scan._lane_order(block, "identity")
    params = scan.score_params("identity", None, None, "off", 0.0, 0.0)
    pilot_params = params._replace(floor_mf=-1, ri_mode=0)
    no_ri, no_code = np.full(n, np.nan), np.zeros(n, np.int32)
    norm = library.weight / np.sqrt(library.row_norm)[lib.row_of_peak]
    by_mz = np.lexsort((-library.weight, lib.mz))
    post_ptr = np.searchsorted(lib.mz[by_mz], np.arange(int(lib.mz.max()) + 2))
    post_row = lib.row_of_peak[by_mz].astype(np.int32)
    post_weight = norm[by_mz].astype(np.float32)
    depth = 20
    _index_candidates(np.zeros((width, 1), np.float32), 1, post_ptr, post_row, post_weight,
                      len(lib), 1)  # compile outside the timing
    for label, k, size in (("current pilot", 0, scan.PILOT), ("index pilot", 4, 64),
                           ("index pilot", 8, 256)):
        pick = exact = main = 0.0
        scored = 0
        for lo in range(0, n - 127, 128):
            lanes = scan.lanes_of(block, order[lo:lo + 128], "identity", None, no_ri, no_code)
            t = time.process_time()
            if k == 0:
                heaps = scan.Heaps.empty(128, size)
                scan._scan_rows((0, len(lib), 1), True, False, size, pilot_params, arrays,
                                lanes, np.full(128, -np.inf), heaps)
                slot = np.arange(size)[None, :] < heaps.n[:, None]
                lane = np.broadcast_to(np.arange(128)[:, None], heaps.row.shape)[slot]
                rows = heaps.row[slot].astype(np.int64)
                lane = lane.astype(np.int64)
            else:
                lane, rows = _index_candidates(lanes.qw, k, post_ptr, post_row, post_weight,
                                               len(lib), size)
            pick += time.process_time() - t
            t = time.process_time()
            start = scan._start_thresholds(lane, rows, depth, params, arrays, lanes)
            exact += time.process_time() - t
            t = time.process_time()
            scored += scan._scan_rows((0, len(lib), 1), False, True, depth, params, arrays,
                                      lanes, start, scan.Heaps.empty(128, depth))
            main += time.process_time() - t
        per = 1000 / (n // 128 * 128)
        print(f"{label} (k={k}, {size} per query): candidates {pick * per:.2f}, their exact "
              f"scores {exact * per:.2f}, main pass {main * per:.2f} ms CPU per query "
              f"({scored * per / 1000:.0f} exact scores per query)")


def current_engine(lib, queries, n: int) -> None:
    """CPU per query of the current exact search (``search_arrays``), same process."""
    from gcms import Spectrum
    from gcms.library._engine import SearchIndex
    from gcms.library.search import SearchSettings, search_arrays

    index = SearchIndex(lib, np.full(len(lib), np.nan), [""] * len(lib))
    index.scan_library("mass")
    spectra = [Spectrum(mz=queries.row(i)[0].astype(float), intensity=queries.row(i)[1])
               for i in range(n)]
    search_arrays(index, spectra[:1], top=10, settings=SearchSettings())
    for _ in range(2):
        t, cpu = time.perf_counter(), time.process_time()
        search_arrays(index, spectra, top=10, settings=SearchSettings())
        print(f"current exact engine, {n} queries: {1000 * (time.process_time() - cpu) / n:.2f}"
              f" ms CPU per query, {n / (time.perf_counter() - t):.0f} queries/s wall")


@numba.njit(parallel=True, cache=True)
def _terms(indptr, mz, ab, q_ab, q_rank, q_suffix, q_first, lib_first, heavy, q_rest,
           q_count, out_score, out_cos2, out_n1, out_n2, out_heavy, out_plain, out_touch):
    n_q = q_ab.shape[0]
    n_lib = indptr.size - 1
    n_h = heavy.shape[0]
    for j in numba.prange(n_q):
        for r in range(n_lib):
            cut = max(q_first[j], lib_first[r])
            n1 = 0.0
            dot = 0.0
            norm_lib = 0.0
            rw = 0.0
            rwt = 0.0
            n2 = 0.0
            part = np.zeros(n_h)
            lib_h = np.zeros(n_h)
            touch = np.zeros(n_h, np.bool_)
            prev_matched = False
            pu = 0.0
            pl = 0.0
            prank = 0
            for p in range(indptr[r], indptr[r + 1]):
                m = np.int64(mz[p])
                ell = ab[p]
                if m >= cut:
                    norm_lib += m * ell
                u = q_ab[j, m]
                matched = u > 0
                if matched:
                    n1 += 1.0
                    root = math.sqrt(u * ell)
                    dot += m * root
                    for h in range(n_h):
                        if heavy[h, j, m] and m >= cut:
                            part[h] += m * root
                            lib_h[h] += m * ell
                            touch[h] = True
                    rank = q_rank[j, m]
                    if prev_matched and rank - prank == 1:
                        ratio = (u * pl) / (pu * ell)
                        term = math.sqrt(min(ratio, 1.0 / ratio))
                        rw += m * term
                        rwt += m
                        n2 += 1.0
                    pu = u
                    pl = ell
                    prank = rank
                prev_matched = matched
            nq = q_suffix[j, cut]
            cos2 = dot * dot / (nq * norm_lib) if nq * norm_lib > 0 else 0.0
            out_cos2[j, r] = cos2
            out_n1[j, r] = n1
            out_n2[j, r] = n2
            if n1 == 0:
                out_score[j, r] = -np.inf
            else:
                ft = rw / rwt if rwt > 0 else 0.0
                out_score[j, r] = (n1 * cos2 + n2 * ft) / (n1 + n2)
            for h in range(n_h):
                # cos <= (partial + |q_rest| |l_rest|) / (|q| |l|) over the pair's
                # range, l_rest: the entry off the k peaks (their weights known from
                # the postings); with |l| in place of |l_rest| (plain Cauchy-Schwarz)
                ub = 0.0
                ub_plain = 0.0
                if nq * norm_lib > 0:
                    qr = math.sqrt(q_rest[h, j, cut])
                    ub = (part[h] + qr * math.sqrt(max(norm_lib - lib_h[h], 0.0))) \
                        / math.sqrt(nq * norm_lib)
                    ub_plain = part[h] / math.sqrt(nq * norm_lib) + qr / math.sqrt(nq)
                out_heavy[h, j, r] = min(ub, 1.0) ** 2
                out_plain[h, j, r] = min(ub_plain, 1.0) ** 2
                out_touch[h, j, r] = touch[h]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=64)
    parser.add_argument("--size", type=int, default=350_000)
    parser.add_argument("--engine-queries", type=int, default=256,
                        help="queries searched by the current engine for comparison")
    args = parser.parse_args()
    from real_library import WORK, real_dataset

    from gcms.library._peaks import PeakMatrix
    from gcms.library.kernels import QueryBlock

    data = np.load(real_dataset(args.size, 1000))
    lib = PeakMatrix(data["lib_indptr"], data["lib_mz"], data["lib_ab"])
    queries = PeakMatrix(data["q_indptr"], data["q_mz"], data["q_ab"])
    if args.engine_queries > 0:
        current_engine(lib, queries, args.engine_queries)
        index_pilot(lib, queries, args.engine_queries)
    postings_cost(lib, queries)
    pick = np.linspace(0, len(queries) - 1, args.queries).astype(np.int64)
    queries = queries.take(pick)
    width = int(max(lib.mz.max(), queries.mz.max())) + 2
    block = QueryBlock.from_peaks(queries, width=width)
    masses = np.arange(width, dtype=np.float64)
    wq2 = block.abundance * masses  # squared identity weights
    n_q, n_lib = len(queries), len(lib)
    heavy = np.zeros((len(HEAVY), n_q, width), dtype=np.bool_)
    q_rest = np.zeros((len(HEAVY), n_q, width + 1))
    order = np.argsort(-wq2, axis=1, kind="stable")
    for h, k in enumerate(HEAVY):
        for j in range(n_q):
            heavy[h, j, order[j, :k]] = wq2[j, order[j, :k]] > 0
        rest = np.where(heavy[h], 0.0, wq2)
        q_rest[h, :, :-1] = np.cumsum(rest[:, ::-1], axis=1)[:, ::-1]
    q_count = np.cumsum((block.abundance > 0)[:, ::-1], axis=1)[:, ::-1]
    out = dict(score=np.zeros((n_q, n_lib)), cos2=np.zeros((n_q, n_lib), np.float32),
               n1=np.zeros((n_q, n_lib), np.float32), n2=np.zeros((n_q, n_lib), np.float32),
               heavy=np.zeros((len(HEAVY), n_q, n_lib), np.float32),
               plain=np.zeros((len(HEAVY), n_q, n_lib), np.float32),
               touch=np.zeros((len(HEAVY), n_q, n_lib), np.bool_))
    t = time.perf_counter()
    _terms(lib.indptr, lib.mz.astype(np.int64), lib.abundance, block.abundance, block.rank,
           block.suffix_mass, block.first_mz, lib.first_mz, heavy, q_rest, q_count,
           out["score"], out["cos2"], out["n1"], out["n2"], out["heavy"], out["plain"],
           out["touch"])
    print(f"terms of {n_q} x {n_lib} pairs in {time.perf_counter() - t:.1f} s")
    score = out["score"]
    threshold = -np.sort(-score, axis=1)[:, 9]  # true 10th-best score per query
    t10 = threshold[:, None] - 2e-5  # the scan's margin
    cos2, n1, n2 = out["cos2"], out["n1"], out["n2"]
    n_in = np.array([q_count[j, block.first_mz[j]] for j in range(n_q)])[:, None]

    def cos_only(c2):
        return (n_in * (1 + c2) - 1) / (2 * n_in - 1)

    rows = {
        "exact score >= T": score >= t10,
        "counts bound": (n1 > 0) & ((n1 * cos2 + n2) / np.maximum(n1 + n2, 1) >= t10),
        "cos-only bound (exact cos)": (n1 > 0) & (cos_only(cos2) >= t10),
        "shares-a-peak": n1 > 0,
    }
    for h, k in enumerate(HEAVY):
        rows[f"heavy-{k} bound, |l| on the rest"] = cos_only(out["plain"][h]) >= t10
        rows[f"heavy-{k} bound, |l_rest| on the rest"] = cos_only(out["heavy"][h]) >= t10
        rows[f"heavy-{k} postings"] = out["touch"][h]
    reference = WORK / f"real_{args.size}_1000_exhaustive.json"
    if reference.exists():  # the terms above give the exhaustive run's 10th-best MF
        mf = np.array(json.loads(reference.read_text())["mf"])[pick, 9]
        ours = np.clip(np.floor(1000 * threshold), 0, 999)
        print(f"10th-best MF equal to the exhaustive run's: {np.mean(mf == ours):.0%}")
    print(f"10th-best MF: percentiles 5/25/50/75/95 "
          f"{np.percentile(1000 * threshold, [5, 25, 50, 75, 95]).round()}")
    print(f"{'entries left to read (share of the library)':48s} mean   median  p90   "
          f"queries<1%")
    for name, mask in rows.items():
        share = mask.mean(axis=1)
        print(f"{name:48s} {share.mean():.4f} {np.median(share):.4f} "
              f"{np.percentile(share, 90):.4f} {np.mean(share < 0.01):.2f}")
    # A pass over the library for a block of queries reads an entry fully when any
    # query of the block may need it: the union of the sampled queries' sets.
    for name in ("counts bound", "cos-only bound (exact cos)"):
        print(f"union over the {n_q} queries, {name}: {rows[name].any(axis=0).mean():.4f}")


if __name__ == "__main__":
    main()
