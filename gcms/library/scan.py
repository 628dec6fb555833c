r"""The compiled library scan (numba): every entry bounded, exact scores only where needed.

The engine of ``presearch="exact"`` on the CPU (:mod:`gcms.library.search` states what
it guarantees). One pass over the library per block of up to :data:`LANES` queries; for
each library entry, all queries of the block at once (SIMD lanes over the queries):

1. **Bound**, in float32. From one sweep over the entry's peaks: the identity dot
   product :math:`\sum m\sqrt{UL}` (:math:`\sum\sqrt{UL}` for the similarity score),
   the entry's norm over each query's compared m/z range (prefix sums at the block's
   distinct lowest m/z), the peaks in common :math:`n_1` and the ratio pairs in common
   :math:`n_2` (consecutive library peaks where the query's next peak after the first
   is the second: both present, nothing of the query between them). With the ratio
   term :math:`F_R \le 1` and :math:`n_2 \le n_1 - 1`,

   .. math:: MF \le \frac{n_1 \cos^2 + n_2}{n_1 + n_2} \le \frac{1 + \cos^2}{2},

   and the similarity score is :math:`\cos^2` itself. The right-hand bound needs no
   counts: it serves the pilot pass, the similarity score, and a ``min_match_factor``
   floor high enough that :math:`\cos^2 \ge 2T - 1` rules out most of a library.
   There the peaks are read heaviest first, and after 4, 8, 16 and 32 of them
   Cauchy-Schwarz on the rest (:math:`\text{dot} \le \text{partial} +
   \lVert w_\text{rest}\rVert\,\lVert q\rVert`) abandons an entry that no query of the
   block can still reach; most entries are abandoned after a few peaks.
   Every test is widened by a margin covering float32 rounding
   (:data:`BOUND_MARGIN_BASE` + :data:`BOUND_MARGIN_PER_PEAK` per peak of the entry).
2. **Exact score, threshold algorithm.** Per query the scan keeps the best ``depth``
   entries met so far, in the final order (ranking score rounded to 1e-12, then
   library index). An entry is scored exactly (:func:`pair_rank`: float64, the same
   operations in the same order as :func:`gcms.library.kernels.score_pairs`, hence
   bit-identical to it) only if its bound reaches the worst score kept (and the
   floor). An entry skipped cannot enter the list, so the kept entries are the top
   ``depth`` of scoring every entry.
3. **Pilot.** Before a pass with counts, a pass over the library
   (every k-th entry beyond :data:`PILOT_ROWS`) keeps the :data:`PILOT` entries of highest
   :math:`\cos^2` per query; their exact scores give each query a starting threshold
   (any ``depth`` scores bound the ``depth``-th best from below), which saves most of
   the exact scores of the main pass.

Library rows are split into chunks scanned by threads (the kernels release the GIL);
each chunk keeps its own list, and the merged lists hold the overall best. The caller
re-scores the merged candidates with :func:`gcms.library.kernels.score_pairs` before
ordering them.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

__all__ = ["LANES", "LibraryArrays", "QueryLanes", "ScanLibrary", "ScoreParams", "pair_rank",
           "scan_block"]

#: Queries scanned together (SIMD lanes of one pass over the library).
LANES = 128
#: Margin added to a float32 bound per library peak of the entry (plus
#: :data:`BOUND_MARGIN_BASE`): about 4x the worst relative rounding of the sums and
#: of the float32 weights (unit roundoff 6e-8 per operation).
BOUND_MARGIN_PER_PEAK = 8e-7
BOUND_MARGIN_BASE = 2e-5
#: Entries of highest cos^2 per query that the pilot pass scores exactly (64 and 128
#: measured alike on the real-derived 350,000-entry library; 32 leaves 20 % more
#: exact scores to the main pass).
PILOT = 64
#: Relative margin on the stored norms of the peaks not yet read (float32 rounding).
REST_MARGIN = 1e-6
#: Peaks read (heaviest first) before each test of whether an entry can still pass.
CHECKS = np.array([4, 8, 16, 32], dtype=np.int64)
#: Factor on the entry norm in the early test (float32 rounding of the square roots).
ROOT_SLACK = 1.0 - 1e-5
#: Fewest library entries a thread scans for one block (below that, fewer threads).
MIN_CHUNK_ROWS = 4096
#: Library entries the pilot pass reads (every k-th entry of a larger library). The
#: whole of a NIST-sized library: on the real-derived 350,000-entry library a sample of
#: 50,000 missed the close variants of most queries, started the main pass with low
#: thresholds and left it 4x the exact scores (9.8 against 7.7 ms of CPU per query).
PILOT_ROWS = 1_000_000
#: Scores ranked by, as the kernels number them.
KIND_CODE = {"identity": 0, "reverse": 1, "similarity": 2}
#: RI modes as the kernels number them.
RI_CODE = {"off": 0, "window": 1, "penalty": 2}


def threads() -> int:
    """Threads a scan may use: the cores this process may run on.

    Capped by ``OMP_NUM_THREADS`` when it is set (the batch runner sets it to 1 in its
    worker processes, which then share the cores between them).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    cap = os.environ.get("OMP_NUM_THREADS", "")
    if cap.isdigit() and int(cap) >= 1:
        cores = min(cores, int(cap))
    return max(1, cores)


_POOL: ThreadPoolExecutor | None = None
_POOL_KEY: tuple[int, int] | None = None


def _pool() -> ThreadPoolExecutor:
    """The scan threads (a new pool after a fork, or when the thread count changed)."""
    global _POOL, _POOL_KEY
    key = (os.getpid(), threads())
    if _POOL is None or _POOL_KEY != key:
        _POOL = ThreadPoolExecutor(max_workers=key[1], thread_name_prefix="gcms-scan")
        _POOL_KEY = key
    return _POOL


# ---------------------------------------------------------------------------------------
# the grouped arguments of the kernels (named tuples: numba takes them as they are)


class ScoreParams(NamedTuple):
    """What is scored, as the kernels read it.

    ``kind`` (:data:`KIND_CODE`), ``low_mz`` (-1: the overlap cut), ``floor_mf`` (MS
    Search scale, -1: none), ``ri_mode`` (:data:`RI_CODE`), ``ri_window`` (RI units) and
    ``ri_penalty`` (MF units per RI unit beyond the window).
    """

    kind: int
    low_mz: int
    floor_mf: int
    ri_mode: int
    ri_window: float
    ri_penalty: float


class LibraryArrays(NamedTuple):
    """The library side of a scan.

    The arrays of a :class:`ScanLibrary` and, per entry, its retention index (NaN where
    unknown) and RI column code (0: not stated).
    """

    indptr: np.ndarray
    mz: np.ndarray
    abundance: np.ndarray
    weight: np.ndarray
    sorted_mz: np.ndarray
    sorted_weight: np.ndarray
    rest_norm: np.ndarray
    row_norm: np.ndarray
    first_mz: np.ndarray
    ri: np.ndarray
    code: np.ndarray


class QueryLanes(NamedTuple):
    """The query side of a scan, one lane per query of a block (:func:`lanes_of`).

    ``qw``/``q_next`` are (m/z, lane): the query weights (0 where absent or below a
    fixed ``low_mz``) and, at each query peak, the m/z of the query's next peak (-1
    elsewhere and at its last peak); ``q_norm[c, j]`` the query norm from m/z ``c``
    (``q_norm_fixed`` from a fixed ``low_mz``) and ``q_inv_root*`` the inverse of its
    square root; lane ``j`` compares the library norm from m/z
    ``cut_values[cut_index[j]]``. The rest are the lanes' rows of the
    :class:`~gcms.library.kernels.QueryBlock` the exact scores read, their retention
    indices and RI column codes.
    """

    qw: np.ndarray
    q_next: np.ndarray
    q_norm: np.ndarray
    q_norm_fixed: np.ndarray
    q_inv_root: np.ndarray
    q_inv_root_fixed: np.ndarray
    cut_values: np.ndarray
    cut_index: np.ndarray
    abundance: np.ndarray
    rank: np.ndarray
    suffix_mass: np.ndarray
    suffix_plain: np.ndarray
    first_mz: np.ndarray
    ri: np.ndarray
    code: np.ndarray


class Heaps(NamedTuple):
    """Per lane, the best entries met so far, best first.

    ``key`` (ranking score rounded to 1e-12), ``rank`` (the score), ``row`` (library
    index), ``n`` (entries held).
    """

    key: np.ndarray
    rank: np.ndarray
    row: np.ndarray
    n: np.ndarray

    @classmethod
    def empty(cls, lanes: int, size: int) -> Heaps:
        """Empty lists of ``size`` entries for ``lanes`` lanes."""
        return cls(np.zeros((lanes, size)), np.zeros((lanes, size)),
                   np.zeros((lanes, size), np.int64), np.zeros(lanes, np.int64))


def score_params(kind: str, low_mz: int | None, floor_mf: int | None, ri_mode: str,
                 ri_window: float, ri_penalty: float) -> ScoreParams:
    """The :class:`ScoreParams` of search settings as :mod:`gcms.library.search` states them."""
    return ScoreParams(KIND_CODE[kind], -1 if low_mz is None else int(low_mz),
                       -1 if floor_mf is None else int(floor_mf), RI_CODE[ri_mode],
                       float(ri_window), float(ri_penalty))


@dataclass(frozen=True, slots=True, eq=False)
class ScanLibrary:
    r"""Library arrays of the scan for one kind of peak weight, built once per library.

    ``weight`` is :math:`\sqrt{mL}` ("mass": identity and reverse) or :math:`\sqrt{L}`
    ("plain": similarity) in float32; ``mz`` uint16; ``abundance`` float64 (the exact
    scores read it); ``row_norm`` each entry's sum of squared weights (float64);
    ``first_mz`` per entry. ``sorted_mz``/``sorted_weight`` hold each entry's peaks
    heaviest first, and ``rest_norm`` at each of them the norm of the entry's peaks
    after it in that order (rounded up).
    """

    indptr: np.ndarray
    mz: np.ndarray
    abundance: np.ndarray
    weight: np.ndarray
    sorted_mz: np.ndarray
    sorted_weight: np.ndarray
    rest_norm: np.ndarray
    row_norm: np.ndarray
    first_mz: np.ndarray

    @classmethod
    def build(cls, peaks, kind: str) -> ScanLibrary:
        """Arrays of ``peaks`` (a :class:`gcms.library._peaks.PeakMatrix`)."""
        mz = np.asarray(peaks.mz)
        abundance = np.ascontiguousarray(peaks.abundance, dtype=np.float64)
        values = mz * abundance if kind == "mass" else abundance
        weight = np.sqrt(values).astype(np.float32)
        indptr = np.ascontiguousarray(peaks.indptr, dtype=np.int64)
        squares = np.square(weight, dtype=np.float64)
        row_norm = np.add.reduceat(squares, indptr[:-1]) if squares.size else squares[:0]
        # Each row's peaks heaviest first, and the norm of the peaks after each one
        # (rounded up: it bounds what those peaks can add to a dot product).
        order, after = _heaviest_first(indptr, weight)
        rest_norm = (np.sqrt(after) * (1.0 + REST_MARGIN)).astype(np.float32)
        return cls(indptr=indptr, mz=mz.astype(np.uint16), abundance=abundance,
                   weight=weight, sorted_mz=mz[order].astype(np.uint16),
                   sorted_weight=weight[order], rest_norm=rest_norm, row_norm=row_norm,
                   first_mz=np.ascontiguousarray(peaks.first_mz, dtype=np.int64))

    def arrays(self, ri: np.ndarray, code: np.ndarray) -> LibraryArrays:
        """The kernels' :class:`LibraryArrays`, with the entries' RI and RI column codes."""
        return LibraryArrays(self.indptr, self.mz, self.abundance, self.weight,
                             self.sorted_mz, self.sorted_weight, self.rest_norm,
                             self.row_norm, self.first_mz,
                             np.ascontiguousarray(ri, dtype=np.float64),
                             np.ascontiguousarray(code, dtype=np.int64))


@numba.njit(cache=True, nogil=True)
def _heaviest_first(indptr, weight):
    """Each row's peaks by decreasing weight (stable), and the squares after each."""
    order = np.empty(weight.size, np.int64)
    after = np.empty(weight.size)
    for r in range(indptr.size - 1):
        start, stop = indptr[r], indptr[r + 1]
        order[start:stop] = start + np.argsort(-weight[start:stop], kind="mergesort")
        acc = 0.0
        for p in range(stop - 1, start - 1, -1):
            after[p] = acc
            w = np.float64(weight[order[p]])
            acc += w * w
    return order, after


# ---------------------------------------------------------------------------------------
# the exact score of one pair


@numba.njit(cache=True, nogil=True)
def pair_rank(r, j, params, lib, lanes):
    """Exact ranking score of query lane ``j`` against library entry ``r`` (-inf if none).

    ``params`` a :class:`ScoreParams`, ``lib`` the :class:`LibraryArrays`, ``lanes``
    the :class:`QueryLanes`. The score ranked by (``params.kind``: 0 identity, 1
    reverse, 2 similarity), minus the RI penalty; -inf without a peak in common,
    outside the RI window, or below ``params.floor_mf`` (MS Search scale; -1: no
    floor). The same floating-point operations, in the same order, as
    :func:`gcms.library.kernels.score_pairs` and ``_engine.rank_scores``: the results
    are bit-identical (tested).
    """
    kind, low_mz, floor_mf, ri_mode, ri_window, ri_penalty = params
    indptr, mz, abundance, lib_first, lib_ri, lib_code = (
        lib.indptr, lib.mz, lib.abundance, lib.first_mz, lib.ri, lib.code)
    q_abundance, q_rank, q_suffix_mass, q_suffix_plain, q_first, q_ri, q_code = (
        lanes.abundance, lanes.rank, lanes.suffix_mass, lanes.suffix_plain, lanes.first_mz,
        lanes.ri, lanes.code)
    width = q_abundance.shape[1]
    if low_mz < 0:
        cut = max(q_first[j], lib_first[r])
    else:
        cut = low_mz
    cut = min(cut, width)
    n_common = 0.0
    dot = 0.0
    dot_plain = 0.0
    norm_lib = 0.0
    norm_lib_plain = 0.0
    norm_reverse = 0.0
    ratio_weighted = 0.0
    ratio_weight = 0.0
    n_ratios = 0.0
    previous_matched = False
    previous_u = 0.0
    previous_l = 0.0
    previous_rank = 0
    for p in range(indptr[r], indptr[r + 1]):
        m = np.int64(mz[p])
        ell = abundance[p]
        if m >= cut:
            norm_lib += m * ell
            norm_lib_plain += ell
        u = q_abundance[j, m]
        matched = u > 0 and (low_mz < 0 or m >= cut)
        if matched:
            n_common += 1.0
            mk = np.float64(m)
            root = math.sqrt(u * ell)
            dot += mk * root
            dot_plain += root
            norm_reverse += mk * u
            rank = q_rank[j, m]
            if previous_matched and rank - previous_rank == 1:
                ratio = (u * previous_l) / (previous_u * ell)
                term = math.sqrt(min(ratio, 1.0 / ratio))
                ratio_weighted += mk * term
                ratio_weight += mk
                n_ratios += 1.0
            previous_u = u
            previous_l = ell
            previous_rank = rank
        previous_matched = matched
    if n_common == 0.0:
        return -np.inf
    if kind == 2:
        norm_query = q_suffix_plain[j, cut]
        denominator = norm_query * norm_lib_plain
        base = dot_plain * dot_plain / denominator if denominator > 0 else 0.0
    else:
        norm_query = q_suffix_mass[j, cut] if kind == 0 else norm_reverse
        denominator = norm_query * norm_lib
        cos2 = dot * dot / denominator if denominator > 0 else 0.0
        ratio_term = ratio_weighted / ratio_weight if ratio_weight > 0 else 0.0
        base = (n_common * cos2 + n_ratios * ratio_term) / (n_common + n_ratios)
    if floor_mf >= 0:
        mf = min(999.0, max(0.0, math.floor(1000.0 * base)))
        if mf < floor_mf:
            return -np.inf
    penalty = 0.0
    if ri_mode != 0:
        a = q_ri[j]
        b = lib_ri[r]
        qc = q_code[j]
        lc = lib_code[r]
        if math.isfinite(a) and math.isfinite(b) and (lc == 0 or qc == 0 or lc == qc):
            excess = max(abs(a - b) - ri_window, 0.0)
            if ri_mode == 1:
                if excess > 0:
                    return -np.inf
            else:
                penalty = ri_penalty * excess / 1000.0
    return base - penalty


# ---------------------------------------------------------------------------------------
# the scan


@numba.njit(cache=True, nogil=True)
def _insert(heaps, j, key, rank, row, depth):
    """Insert (key, row) into lane j's list of :class:`Heaps`, best first (key desc, row asc)."""
    heap_key, heap_rank, heap_row, heap_n = heaps
    n = heap_n[j]
    if n == depth:
        wk = heap_key[j, n - 1]
        if key < wk or (key == wk and row > heap_row[j, n - 1]):
            return
        n -= 1
    i = n
    while i > 0:
        k = heap_key[j, i - 1]
        if k > key or (k == key and heap_row[j, i - 1] < row):
            break
        heap_key[j, i] = k
        heap_rank[j, i] = heap_rank[j, i - 1]
        heap_row[j, i] = heap_row[j, i - 1]
        i -= 1
    heap_key[j, i] = key
    heap_rank[j, i] = rank
    heap_row[j, i] = row
    heap_n[j] = n + 1


@numba.njit(cache=True, nogil=True)
def _root_target(need, select, kind, margin):
    """The cosine an entry must reach for a bound to reach ``need`` (0 if any will)."""
    if select:
        target = max(need, np.float32(0.0))
    else:
        target = need - margin
        if kind == 0:
            target = 2 * target - 1  # (1 + cos2) / 2 >= target
    return np.float32(math.sqrt(max(target, np.float32(0.0))))


@numba.njit(cache=True, nogil=True, boundscheck=False)
def _scan_rows(rows, select, counts, depth, params, lib, lanes, start_threshold, heaps):
    r"""Scan library rows ``r0, r0 + stride, ... < r1`` (``rows``) for every lane.

    ``params``, ``lib``, ``lanes`` and ``heaps``: a :class:`ScoreParams`, the
    :class:`LibraryArrays`, the :class:`QueryLanes` of the block and its
    :class:`Heaps` (``depth`` entries per lane); ``start_threshold`` a ranking score
    each lane's list is known to reach (-inf if none). ``counts``: bound with the peaks
    and ratio pairs in common. With ``select`` the lists instead keep the entries of
    highest :math:`\cos^2` (no exact score; the pilot of :func:`scan_block`). Returns
    the number of exact scores computed.
    """
    r0, r1, stride = rows
    kind, low_mz, floor_mf, ri_mode, ri_window, ri_penalty = params
    indptr, mz, weight, sorted_mz, sorted_weight, rest_norm, row_norm, lib_first, lib_ri, \
        lib_code = (lib.indptr, lib.mz, lib.weight, lib.sorted_mz, lib.sorted_weight,
                    lib.rest_norm, lib.row_norm, lib.first_mz, lib.ri, lib.code)
    qw, q_next, q_norm, q_norm_fixed, q_inv_root, q_inv_root_fixed, cut_values, cut_index, \
        q_ri, q_code = (lanes.qw, lanes.q_next, lanes.q_norm, lanes.q_norm_fixed,
                        lanes.q_inv_root, lanes.q_inv_root_fixed, lanes.cut_values,
                        lanes.cut_index, lanes.ri, lanes.code)
    heap_rank, heap_n = heaps.rank, heaps.n
    n_lanes = qw.shape[1]
    dot = np.zeros(n_lanes, np.float32)
    count = np.zeros(n_lanes, np.int32)
    lib_norm = np.zeros(n_lanes, np.float32)
    reverse_norm = np.zeros(n_lanes, np.float32)
    passed = np.zeros(n_lanes, np.int32)
    threshold = start_threshold.copy()
    penalty = np.zeros(n_lanes)
    need = np.zeros(n_lanes, np.float32)
    root_target = np.zeros(n_lanes, np.float32)
    floor_score = floor_mf / 1000.0 if floor_mf >= 0 else -np.inf
    n_cuts = cut_values.size
    cut_max = cut_values[n_cuts - 1]
    below = np.zeros(n_cuts)
    margin_max = np.float32(0.0)
    for r in range(r0, r1, stride):
        margin_max = max(margin_max, np.float32(BOUND_MARGIN_BASE + BOUND_MARGIN_PER_PEAK
                                                * (indptr[r + 1] - indptr[r])))
    for j in range(n_lanes):
        if heap_n[j] == depth:
            threshold[j] = max(threshold[j], heap_rank[j, depth - 1])
        need[j] = max(floor_score, threshold[j])
        root_target[j] = _root_target(need[j], select, kind, margin_max)
    q_inv = q_inv_root_fixed
    lib_low_root = np.float32(0.0)
    scored = 0
    fixed = low_mz >= 0
    for r in range(r0, r1, stride):
        start = indptr[r]
        stop = indptr[r + 1]
        n_row = stop - start
        if kind == 1:
            norm_q = reverse_norm
        elif fixed:
            norm_q = q_norm_fixed
        else:
            norm_q = q_norm[min(lib_first[r], q_norm.shape[0] - 1)]
        if ri_mode != 0:
            b_ri = lib_ri[r]
            lc = lib_code[r]
            for j in range(n_lanes):
                a = q_ri[j]
                qc = q_code[j]
                penalty[j] = 0.0
                if math.isfinite(a) and math.isfinite(b_ri) and (lc == 0 or qc == 0
                                                                 or lc == qc):
                    excess = max(abs(a - b_ri) - ri_window, 0.0)
                    if ri_mode == 1:
                        penalty[j] = np.inf if excess > 0 else 0.0
                    else:
                        penalty[j] = ri_penalty * excess / 1000.0
                need[j] = max(floor_score, threshold[j] + penalty[j])
                root_target[j] = _root_target(need[j], select, kind, margin_max)
        for j in range(n_lanes):
            dot[j] = 0.0
        if counts:
            for j in range(n_lanes):
                count[j] = 0
            previous: int | np.int64 = 0  # the m/z of the peak before
            for p in range(start, stop):
                m = np.int64(mz[p])
                w = weight[p]
                here = qw[m]
                after = q_next[previous]
                m32 = np.int32(m)
                for j in range(n_lanes):
                    x = here[j]
                    dot[j] += w * x
                    count[j] += (1 if x > 0 else 0) + (65536 if after[j] == m32 else 0)
                previous = m
        else:
            # Peaks heaviest first; after a few, Cauchy-Schwarz on the rest,
            # dot <= partial + |w_rest| |q|, may rule the entry out for every lane.
            # The test uses the entry's norm from the block's highest cut (a lower
            # bound of every lane's) and a margin for the longest entry.
            if n_row > CHECKS[0]:
                acc = 0.0
                for p in range(start, stop):
                    if np.int64(mz[p]) >= cut_max:
                        break
                    w = np.float64(weight[p])
                    acc += w * w
                lib_low_root = np.float32(math.sqrt(max(row_norm[r] - acc, 0.0)) * ROOT_SLACK)
                q_inv = q_inv_root_fixed if fixed else \
                    q_inv_root[min(lib_first[r], q_inv_root.shape[0] - 1)]
            p = start
            check = 0
            alive = True
            while p < stop:
                until = stop if check >= CHECKS.size else min(stop, start + CHECKS[check])
                for i in range(p, until):
                    w = sorted_weight[i]
                    here = qw[np.int64(sorted_mz[i])]
                    for j in range(n_lanes):
                        dot[j] += w * here[j]
                p = until
                if p >= stop:
                    break
                check += 1
                rest = rest_norm[p - 1]
                any_alive = 0
                for j in range(n_lanes):
                    any_alive |= dot[j] * q_inv[j] + rest >= root_target[j] * lib_low_root
                if any_alive == 0:
                    alive = False
                    break
            if not alive:
                continue
        # Library norm over each lane's range: total minus the part below the lane's
        # cut, from prefix sums at the block's distinct cuts (float64: no cancellation
        # that matters at float32 precision).
        acc = 0.0
        k = 0
        p = start
        while p < stop:
            m = np.int64(mz[p])
            if m >= cut_max:
                break
            while k < n_cuts and m >= cut_values[k]:
                below[k] = acc
                k += 1
            w = np.float64(weight[p])
            acc += w * w
            p += 1
        while k < n_cuts:
            below[k] = acc
            k += 1
        total = row_norm[r]
        for j in range(n_lanes):
            lib_norm[j] = np.float32(total - below[cut_index[j]])
        margin = np.float32(BOUND_MARGIN_BASE + BOUND_MARGIN_PER_PEAK * n_row)
        if kind == 1:
            for j in range(n_lanes):
                reverse_norm[j] = 0.0
            for p in range(start, stop):
                here = qw[np.int64(mz[p])]
                for j in range(n_lanes):
                    reverse_norm[j] += here[j] * here[j]
        # Tests without division: bound >= need - margin, multiplied out by the norms
        # (positive wherever d > 0; need may be -inf: the product is then -inf).
        any_passed = 0
        if select:
            for j in range(n_lanes):
                d = dot[j]
                ok = (d > 0) & (d * d > norm_q[j] * lib_norm[j] * need[j])
                passed[j] = ok
                any_passed |= ok
            if any_passed:
                for j in range(n_lanes):
                    if passed[j]:
                        cos2 = np.float64(dot[j]) ** 2 / (np.float64(norm_q[j])
                                                          * np.float64(lib_norm[j]))
                        _insert(heaps, j, cos2, cos2, r, depth)
                        if heap_n[j] == depth:
                            need[j] = np.float32(heap_rank[j, depth - 1])
                            root_target[j] = _root_target(need[j], select, kind, margin_max)
            continue
        if kind == 2:
            for j in range(n_lanes):
                d = dot[j]
                target = need[j] - margin
                ok = (d > 0) & (d * d >= norm_q[j] * lib_norm[j] * target)
                passed[j] = ok
                any_passed |= ok
        elif counts:
            for j in range(n_lanes):
                d = dot[j]
                n1 = np.float32(count[j] & 65535)
                n2 = np.float32(count[j] >> 16)
                target = need[j] - margin
                # (n1 cos2 + n2) / (n1 + n2) >= target (an entry of 32768 peaks or
                # more would overflow the packed counts: always scored)
                ok = (d > 0) & ((n1 * d * d >= norm_q[j] * lib_norm[j]
                                 * (target * (n1 + n2) - n2)) | (n_row >= 32768))
                passed[j] = ok
                any_passed |= ok
        else:
            for j in range(n_lanes):
                d = dot[j]
                target = need[j] - margin
                # (1 + cos2) / 2 >= target; n2 <= n1 - 1 makes it a bound of the score
                ok = (d > 0) & (d * d >= norm_q[j] * lib_norm[j] * (2 * target - 1))
                passed[j] = ok
                any_passed |= ok
        if any_passed == 0:
            continue
        for j in range(n_lanes):
            if passed[j] == 0:
                continue
            rank = pair_rank(r, j, params, lib, lanes)
            scored += 1
            if rank == -np.inf:
                continue
            key = np.rint(rank * 1e12)
            _insert(heaps, j, key, rank, r, depth)
            if heap_n[j] == depth and heap_rank[j, depth - 1] > threshold[j]:
                threshold[j] = heap_rank[j, depth - 1]
                need[j] = max(floor_score, threshold[j] + penalty[j])
                root_target[j] = _root_target(need[j], select, kind, margin_max)
    return scored


# ---------------------------------------------------------------------------------------
# driver


def lanes_of(qblock, lanes: np.ndarray, kind: str, low_mz: int | None, ri: np.ndarray,
             code: np.ndarray) -> QueryLanes:
    """Lane arrays for queries ``lanes`` of a :class:`~gcms.library.kernels.QueryBlock`."""
    abundance = np.ascontiguousarray(qblock.abundance[lanes])
    width = abundance.shape[1]
    masses = np.arange(width, dtype=np.float64)
    present = abundance > 0
    if low_mz is not None:
        present &= masses[None, :] >= low_mz
    weights = np.sqrt(abundance) if kind == "similarity" else np.sqrt(abundance * masses)
    qw = np.ascontiguousarray(np.where(present, weights, 0.0).T, dtype=np.float32)
    # Next peak of each query peak (a ratio pair needs the library's next peak there).
    lane, peak_mz = np.nonzero(present)  # row-major: by lane, m/z ascending
    q_next = np.full((width, lanes.size), -1, dtype=np.int32)
    follows = np.flatnonzero(lane[1:] == lane[:-1])
    q_next[peak_mz[follows], lane[follows]] = peak_mz[follows + 1]
    suffix = qblock.suffix_plain if kind == "similarity" else qblock.suffix_mass
    q_norm = np.ascontiguousarray(np.asarray(suffix)[lanes].T, dtype=np.float32)
    first = np.ascontiguousarray(qblock.first_mz[lanes], dtype=np.int64)
    if low_mz is None:
        cut_values, cut_index = np.unique(first, return_inverse=True)
        q_norm_fixed = np.zeros(lanes.size, dtype=np.float32)
    else:
        low = min(int(low_mz), width)
        cut_values, cut_index = np.array([low]), np.zeros(lanes.size, dtype=np.int64)
        q_norm_fixed = q_norm[low].copy()
    def inverse_root(norm):
        return np.divide(1.0, np.sqrt(norm, dtype=np.float64), out=np.zeros(norm.shape),
                         where=norm > 0).astype(np.float32)

    return QueryLanes(
        qw=qw, q_next=q_next, q_norm=q_norm, q_norm_fixed=q_norm_fixed,
        q_inv_root=inverse_root(q_norm), q_inv_root_fixed=inverse_root(q_norm_fixed),
        cut_values=cut_values.astype(np.int64), cut_index=cut_index.astype(np.int64),
        abundance=abundance,
        rank=np.ascontiguousarray(qblock.rank[lanes]),
        suffix_mass=np.ascontiguousarray(qblock.suffix_mass[lanes]),
        suffix_plain=np.ascontiguousarray(qblock.suffix_plain[lanes]), first_mz=first,
        ri=np.ascontiguousarray(ri[lanes], dtype=np.float64),
        code=np.ascontiguousarray(code[lanes], dtype=np.int64),
    )


@numba.njit(cache=True, nogil=True)
def _start_thresholds(lanes_of_pair, rows, depth, params, lib, lanes):
    """Per lane, the ``depth``-th best exact ranking score among the given pairs.

    Any ``depth`` entries' scores bound the ``depth``-th best of the whole library
    from below, so a scan may start from it (-inf where fewer pairs score).
    """
    n_lanes = lanes.ri.size
    heaps = (np.full((n_lanes, depth), -np.inf), np.full((n_lanes, depth), -np.inf),
             np.zeros((n_lanes, depth), np.int64), np.zeros(n_lanes, np.int64))
    for i in range(rows.size):
        j = lanes_of_pair[i]
        value = pair_rank(rows[i], j, params, lib, lanes)
        if value != -np.inf:
            _insert(heaps, j, np.rint(value * 1e12), value, rows[i], depth)
    out = np.full(n_lanes, -np.inf)
    for j in range(n_lanes):
        if heaps[3][j] == depth:
            out[j] = heaps[1][j, depth - 1]
    return out


def _lane_order(qblock, kind: str) -> np.ndarray:
    """Queries in the order they are put into lanes: by lowest m/z, then heaviest peak.

    Lanes of one block then compare nearly the same m/z range (the entry norm of the
    early test is the one from the block's highest cut), and queries sharing their
    heaviest peak rule out the same entries early (an entry is abandoned only when no
    lane of the block can still reach it).
    """
    width = qblock.abundance.shape[1]
    weights = qblock.abundance if kind == "similarity" else qblock.abundance * np.arange(width)
    heaviest = np.argmax(weights, axis=1)
    return np.lexsort((np.arange(len(qblock)), heaviest, qblock.first_mz))


def scan_block(library: ScanLibrary, lib_ri: np.ndarray, lib_code: np.ndarray, qblock,
               q_ri: np.ndarray, q_code: np.ndarray, *, kind: str, low_mz: int | None,
               floor_mf: int | None, ri_mode: str, ri_window: float, ri_penalty: float,
               depth: int, counts: bool) -> tuple[np.ndarray, np.ndarray, int]:
    r"""Candidate pairs ``(query, entry)`` holding the exact top ``depth`` of every query.

    ``qblock`` is a :class:`~gcms.library.kernels.QueryBlock` (all its queries are
    scanned, :data:`LANES` at a time, on up to :func:`threads` threads); ``q_ri`` and
    ``q_code`` its queries' retention indices and RI column codes. ``counts``: bound
    with the peaks and ratio pairs in common (else with the peak counts only, for a
    high ``floor_mf``). With ``counts`` a pilot pass first finds, per query, the
    :data:`PILOT` entries of highest :math:`\cos^2`; their exact scores give each
    query a starting threshold, which saves most exact scores of the main pass.
    Returns the query indices, the library indices and the number of exact scores
    computed.
    """
    n_q = len(qblock)
    n_lib = library.indptr.size - 1
    n_threads = threads()
    order = _lane_order(qblock, kind)
    groups = [order[lo:lo + LANES] for lo in range(0, n_q, LANES)]
    # Every thread busy: row chunks per group so that groups x chunks >= threads.
    n_chunks = max(1, min(-(-n_threads // len(groups)), n_lib // MIN_CHUNK_ROWS))
    edges = np.linspace(0, n_lib, n_chunks + 1).astype(np.int64)
    blocks = [lanes_of(qblock, lanes, kind, low_mz, q_ri, q_code) for lanes in groups]
    lib = library.arrays(lib_ri, lib_code)
    params = score_params(kind, low_mz, floor_mf, ri_mode, ri_window, ri_penalty)
    # The pilot ranks by cos2 alone: no floor, no RI.
    pilot_params = params._replace(floor_mf=-1, ri_mode=0)
    pilot_stride = max(1, -(-n_lib // PILOT_ROWS))

    def scan(select: bool, size: int, thresholds) -> list:
        tasks = [(g, c, Heaps.empty(blocks[g].ri.size, size)) for g in range(len(groups))
                 for c in range(n_chunks)]

        def run(task) -> int:
            g, c, heap = task
            rows = (int(edges[c]), int(edges[c + 1]), pilot_stride if select else 1)
            return _scan_rows(rows, select, counts and not select, size,
                              pilot_params if select else params, lib, blocks[g],
                              thresholds[g], heap)

        if len(tasks) == 1:
            scored = [run(tasks[0])]
        else:
            scored = list(_pool().map(run, tasks))
        return [(g, heap, n) for (g, _, heap), n in zip(tasks, scored, strict=True)]

    def pairs(results, g: int):
        lanes, rows = [], []
        for group, heap, _ in results:
            if group == g:
                slot = np.arange(heap.row.shape[1])[None, :] < heap.n[:, None]
                lanes.append(np.broadcast_to(np.arange(heap.n.size)[:, None],
                                             heap.row.shape)[slot])
                rows.append(heap.row[slot])
        return np.concatenate(lanes).astype(np.int64), np.concatenate(rows).astype(np.int64)

    start = [np.full(b.ri.size, -np.inf) for b in blocks]
    scored = 0
    if counts and n_lib > PILOT:
        pilot = scan(True, PILOT, start)
        for g, block in enumerate(blocks):
            lanes, rows = pairs(pilot, g)
            scored += rows.size
            start[g] = _start_thresholds(lanes, rows, depth, params, lib, block)
    results = scan(False, depth, start)
    qi, li = [], []
    for g, lanes in enumerate(groups):
        lane, rows = pairs(results, g)
        qi.append(lanes[lane])
        li.append(rows)
    scored += sum(n for _, _, n in results)
    return np.concatenate(qi).astype(np.int64), np.concatenate(li).astype(np.int64), scored
