r"""The GPU search path (CuPy): ``search(..., device="cuda")``.

It runs the certified search of :mod:`gcms.library.search` with the heavy steps on the
GPU: the bounds of every library entry (three sparse x dense products on cuSPARSE:
:math:`\sum m\sqrt{UL}`, the peaks in common :math:`n_1` and the ratio pairs
:math:`n_2`, then :math:`(n_1\cos^2 + n_2)/(n_1 + n_2)`), the selection of the entries to
score, and their exact scores (:func:`gcms.library.kernels.score_pairs`, which runs on
CuPy arrays unchanged). The hit lists are then put in order, and the hits scored in
full, by the same CPU code as a CPU search, so both devices return the same lists, with or without a
``min_match_factor`` floor (entries whose bound misses the floor are excluded before
the selection). On a GPU every entry is bounded, whatever ``presearch`` says, and the
result is the certified top k.

The code is written against an array module (``xp``) and a sparse module, so the tests
run this very path with NumPy and SciPy standing in for CuPy where no GPU is present.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from gcms.errors import MissingExtraError
from gcms.library._engine import (
    BOUND_MARGIN,
    Queries,
    SearchIndex,
    collect,
    query_pairs,
    ri_adjustment,
)
from gcms.library.kernels import QueryBlock, score_pairs, to_nist_scale

if TYPE_CHECKING:
    from gcms.library.search import SearchSettings

__all__ = ["search_batches_cuda", "search_batches_on"]

#: Library rows bounded per GPU block.
GPU_BLOCK_ROWS = 262_144
#: Bisection steps of the per-query threshold that admits about ``candidates`` entries.
THRESHOLD_STEPS = 12


def _modules():
    try:
        import cupy
        import cupyx.scipy.sparse as cusparse
    except ImportError as error:
        raise MissingExtraError("GPU library search", "gpu", "cupy") from error
    return cupy, cusparse


def search_batches_cuda(index: SearchIndex, queries: Queries, top: int,
                        settings: SearchSettings, arrays: dict[str, np.ndarray]) -> None:
    """Fill ``arrays`` with the hit lists of ``queries`` computed on the GPU."""
    cupy, cusparse = _modules()
    search_batches_on(cupy, cusparse, index, queries, top, settings, arrays,
                      to_host=cupy.asnumpy)


def _device_library(xp, sparse, index: SearchIndex) -> SimpleNamespace:
    key = f"device:{xp.__name__}"
    cached = index.device_cache
    if key in cached:
        return cached[key]
    p = index.peaks

    def csr(matrix, dtype):
        return sparse.csr_matrix((xp.asarray(matrix.data, dtype=dtype),
                                  xp.asarray(matrix.indices), xp.asarray(matrix.indptr)),
                                 shape=matrix.shape)

    keys, pairs = index.pair_features()
    device = SimpleNamespace(
        peaks=SimpleNamespace(indptr=xp.asarray(p.indptr), mz=xp.asarray(p.mz),
                              abundance=xp.asarray(p.abundance)),
        mass_weighted=xp.asarray(index.library.mass_weighted),
        entropy=xp.asarray(index.library.entropy),
        first_mz=xp.asarray(index.first_mz),
        max_mz=index.max_mz,
        weights={kind: csr(index.weights(kind), np.float64)
                 for kind in ("mass", "plain", "binary")},
        pairs=csr(pairs, np.float32),
        suffix={},
        retention_index=xp.asarray(index.retention_index),
        ri_column_code=xp.asarray(index.ri_column_code),
    )
    cached[key] = device
    return device


def _suffix(xp, device, index: SearchIndex, kind: str, cut: int):
    if (kind, cut) not in device.suffix:
        device.suffix[(kind, cut)] = xp.asarray(index.suffix_norm(kind, cut))
    return device.suffix[(kind, cut)]


def _device_block(xp, block: QueryBlock) -> SimpleNamespace:
    return SimpleNamespace(
        abundance=xp.asarray(block.abundance), rank=xp.asarray(block.rank),
        suffix_mass=xp.asarray(block.suffix_mass), suffix_plain=xp.asarray(block.suffix_plain),
        entropy=xp.asarray(block.entropy), first_mz=xp.asarray(block.first_mz),
        width=block.width,
    )


def _bounds(xp, device, index, dblock, q_ri, q_code, pairs, rows: slice,
            settings: SearchSettings):
    """Upper bounds of the ranking score, library ``rows`` x all queries of the block."""
    kind = settings.rank_by
    width = dblock.width
    masses = xp.arange(width, dtype=xp.float64)
    q_ab = dblock.abundance
    if kind == "similarity":
        q_w, norm_kind, q_suffix = xp.sqrt(q_ab), "plain", dblock.suffix_plain
        lib_w = device.weights["plain"]
    else:
        q_w, norm_kind, q_suffix = xp.sqrt(q_ab * masses), "mass", dblock.suffix_mass
        lib_w = device.weights["mass"]
    n_cols = lib_w.shape[1]
    dot = xp.asarray(lib_w[rows] @ xp.ascontiguousarray(q_w[:, :n_cols].T))
    first = device.first_mz[rows]
    q_first = xp.asarray(dblock.first_mz)
    if settings.low_mz is None:
        norm_q = xp.ascontiguousarray(q_suffix.T)[xp.minimum(first, width)]
        cuts = np.unique(np.asarray(_host(dblock.first_mz)))
        norm_lib = xp.zeros_like(dot)
        for c in cuts:
            column = _suffix(xp, device, index, norm_kind, int(c))[rows]
            norm_lib += column[:, None] * (q_first == int(c))[None, :]
    else:
        low = min(settings.low_mz, width)
        norm_q = xp.broadcast_to(q_suffix[:, low], dot.shape)
        norm_lib = xp.broadcast_to(_suffix(xp, device, index, norm_kind, low)[rows][:, None],
                                   dot.shape)
    if kind == "reverse":
        norm_q = xp.asarray(device.weights["binary"][rows]
                            @ xp.ascontiguousarray((q_ab * masses)[:, :n_cols].T))
    shared = dot > 0
    denominator = norm_q * norm_lib
    cos2 = xp.where(shared & (denominator > 0),
                    dot * dot / xp.where(denominator > 0, denominator, 1.0), 0.0)
    cos2 = xp.minimum(cos2, 1.0)
    if kind == "similarity":
        bound = cos2
    elif settings.low_mz is None:
        n1 = xp.asarray(device.weights["binary"][rows]
                        @ xp.ascontiguousarray((q_ab[:, :n_cols] > 0).T.astype(xp.float64)))
        n2 = xp.asarray(device.pairs[rows] @ pairs).astype(xp.float64)
        total = n1 + n2
        bound = xp.where(n1 > 0, (n1 * cos2 + n2) / xp.where(total > 0, total, 1.0), 0.0)
    else:
        bound = xp.where(shared, 0.5 * (1.0 + cos2), 0.0)
    # No peak in common: no score at all (an RI penalty may make real scores negative).
    bound = xp.where(shared, bound, -xp.inf)
    if settings.min_match_factor is not None:
        # The floor is on the score itself, before any RI penalty.
        bound = xp.where(bound + BOUND_MARGIN < settings.min_match_factor / 1000.0, -xp.inf,
                         bound)
    if settings.ri_mode != "off":
        lib_ri = device.retention_index[rows][:, None]
        lib_code = device.ri_column_code[rows][:, None]
        comparable = (xp.isfinite(q_ri)[None, :] & xp.isfinite(lib_ri)
                      & ((lib_code == 0) | (q_code[None, :] == 0) | (lib_code == q_code[None, :])))
        excess = xp.maximum(xp.abs(xp.where(comparable, q_ri[None, :] - lib_ri, 0.0))
                            - settings.ri_window, 0.0)
        if settings.ri_mode == "window":
            bound = xp.where(comparable & (excess > 0), -xp.inf, bound)
        else:
            bound = bound - xp.where(comparable, settings.ri_penalty * excess / 1000.0, 0.0)
    return bound


def _host(array):
    return array.get() if hasattr(array, "get") else np.asarray(array)


def search_batches_on(xp, sparse, index: SearchIndex, queries: Queries, top: int,
                      settings: SearchSettings, arrays: dict[str, np.ndarray], *,
                      to_host=np.asarray) -> None:
    """The GPU search with array module ``xp`` and sparse module ``sparse``."""
    device = _device_library(xp, sparse, index)
    n_lib = len(index)
    depth = max(top, settings.probability_depth)
    keep = min(n_lib, max(depth, settings.candidates))
    for lo in range(0, len(queries.peaks), settings.batch_size):
        hi = min(len(queries.peaks), lo + settings.batch_size)
        qpeaks = queries.peaks.take(np.arange(lo, hi))
        sub = Queries(qpeaks, queries.retention_index[lo:hi], queries.ri_column_code[lo:hi])
        width = max(index.max_mz, int(qpeaks.mz.max())) + 2
        block = QueryBlock.from_peaks(qpeaks, width=width)
        dblock = _device_block(xp, block)
        pairs = xp.asarray(query_pairs(index, qpeaks)) if settings.rank_by != "similarity" \
            else None
        q_ri = xp.asarray(sub.retention_index)
        q_code = xp.asarray(sub.ri_column_code)
        n_q = hi - lo
        bounds = xp.empty((n_lib, n_q), dtype=xp.float32)
        for start in range(0, n_lib, GPU_BLOCK_ROWS):
            rows = slice(start, min(n_lib, start + GPU_BLOCK_ROWS))
            bounds[rows] = _bounds(xp, device, index, dblock, q_ri, q_code, pairs, rows,
                                   settings).astype(xp.float32)
        # Per query, a threshold admitting about ``keep`` entries (bisection on counts).
        valid = bounds > -xp.inf
        low = xp.zeros(n_q, dtype=xp.float32)
        high = xp.ones(n_q, dtype=xp.float32)
        for _ in range(THRESHOLD_STEPS):
            middle = 0.5 * (low + high)
            count = ((bounds >= middle[None, :]) & valid).sum(axis=0)
            enough = count >= keep
            low = xp.where(enough, middle, low)
            high = xp.where(enough, high, middle)
        first = (bounds >= low[None, :]) & valid
        li1, qi1 = (a.astype(xp.int64) for a in xp.nonzero(first))
        qi1_host, li1_host = to_host(qi1), to_host(li1)
        rank1_host = _ranked(index, sub, qi1_host, li1_host,
                             to_host(_device_rank(xp, device, dblock, li1, qi1, settings)),
                             settings)
        tau = _kth_per_query(qi1_host, li1_host, rank1_host, n_q, depth)
        admitted = (bounds >= xp.asarray(tau - BOUND_MARGIN, dtype=xp.float32)[None, :]) & \
            valid & ~first
        li2, qi2 = (a.astype(xp.int64) for a in xp.nonzero(admitted))
        del bounds, first, admitted, valid
        qi2_host, li2_host = to_host(qi2), to_host(li2)
        rank2_host = _ranked(index, sub, qi2_host, li2_host,
                             to_host(_device_rank(xp, device, dblock, li2, qi2, settings)),
                             settings)
        qi = np.concatenate([qi1_host, qi2_host])
        li = np.concatenate([li1_host, li2_host])
        rank = np.concatenate([rank1_host, rank2_host])
        delta, penalty, _ = ri_adjustment(index, sub.retention_index, sub.ri_column_code,
                                           qi, li, settings)
        collect(index, block, qi, li, rank, delta, penalty, lo, n_q, top, settings, arrays)


def _ranked(index: SearchIndex, queries: Queries, qi: np.ndarray, li: np.ndarray,
            base: np.ndarray, settings: SearchSettings) -> np.ndarray:
    """Ranking score of pairs: the exact score minus the RI penalty, -inf if excluded.

    Excluded: outside the RI window, or below ``min_match_factor``.
    """
    _, penalty, excluded = ri_adjustment(index, queries.retention_index,
                                          queries.ri_column_code, qi, li, settings)
    if settings.min_match_factor is not None:
        excluded = excluded | (to_nist_scale(base) < settings.min_match_factor)
    return np.where(excluded, -np.inf, base - penalty)


def _device_rank(xp, device, dblock, li, qi, settings: SearchSettings):
    """Exact ranking score (before RI) of pairs on the device; -inf without shared peaks."""
    if li.size == 0:
        return xp.zeros(0, dtype=xp.float64)
    scores = score_pairs(dblock, device, qi, li, low_mz=settings.low_mz,
                         scores=(settings.rank_by,))
    base = getattr(scores, settings.rank_by)
    return xp.where(scores.n_common > 0, base, -xp.inf)


def _kth_per_query(qi: np.ndarray, li: np.ndarray, rank: np.ndarray, n_q: int,
                   depth: int) -> np.ndarray:
    """The depth-th best ranking score of each query (-inf where fewer were scored)."""
    order = np.lexsort((li, -np.round(rank, 12), qi))
    q_sorted, r_sorted = qi[order], rank[order]
    starts = np.searchsorted(q_sorted, np.arange(n_q))
    counts = np.bincount(q_sorted, minlength=n_q)
    tau = np.full(n_q, -np.inf)
    ok = counts >= depth
    tau[ok] = r_sorted[starts[ok] + depth - 1]
    return tau


def describe() -> dict[str, Any]:
    """The GPU CuPy sees (for benchmark reports); raises MissingExtraError without CuPy."""
    cupy, _ = _modules()
    properties = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    return {"name": properties["name"].decode(), "memory_gb":
            properties["totalGlobalMem"] / 2**30, "cupy": cupy.__version__}
