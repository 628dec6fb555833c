r"""The search engine shared by the CPU and GPU paths (internal to :mod:`gcms.library`).

:mod:`gcms.library.search` is the public face (settings, hit types, :func:`search`);
this module does the work. Its interface, used by :mod:`gcms.library.search` (CPU) and
:mod:`gcms.library.gpu` (CuPy), and by nothing outside :mod:`gcms.library`:

* :class:`SearchIndex`: everything a search needs from a library, derived once;
  :func:`index_of` returns the one of a :class:`~gcms.library.Library` (kept here, in a
  weak map keyed by the library: nothing is set on the library).
* :class:`Queries` and :func:`prepare_queries`: query spectra checked and packed.
* :func:`result_arrays`: empty hit-list arrays that every path fills.
* :func:`search_batches`: the CPU search (the compiled scan of
  :mod:`gcms.library.scan`, or every entry scored for ``presearch="off"`` and for
  libraries of at most :data:`SMALL_LIBRARY` entries).
* For the GPU path, the steps it shares with the CPU: :func:`ri_adjustment` (retention
  index window/penalty of pairs), :func:`query_pairs` (ratio-pair features of queries),
  :func:`collect` (order scored pairs into hit lists, score the hits in full, the
  probabilities), and :data:`BOUND_MARGIN`.

What a search guarantees, and how the CPU scan runs, is in :mod:`gcms.library.search`.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from gcms.errors import LibraryError
from gcms.library._peaks import PeakMatrix, search_peaks
from gcms.library.kernels import LibraryPeaks, QueryBlock, score_pairs, to_nist_scale
from gcms.library.probability import hit_probabilities
from gcms.spectrum import Spectrum

if TYPE_CHECKING:
    from gcms.library.search import SearchSettings
    from gcms.library.store import Library

__all__ = ["BOUND_MARGIN", "COUNTS_BELOW_FLOOR", "Queries", "SearchIndex", "collect",
           "index_of", "prepare_queries", "query_pairs", "rank_scores", "result_arrays",
           "ri_adjustment", "search_batches"]

#: GPU path: margin (on the 0..1 score scale) by which a bound must miss the k-th score
#: before an entry is left out; covers float32 storage of the bounds (relative 6e-8).
BOUND_MARGIN = 1e-6
#: Pairs scored at once by the reference search (``presearch="off"``).
REFERENCE_PAIRS = 2_000_000
#: Libraries of at most this many entries are searched by scoring every entry (the
#: reference, vectorised NumPy), never by the compiled scan: the same hit lists, and a
#: command searching a small library (the bundled demo library: 58 entries) needs no
#: compiled search kernels at all (no compiling them on first use, no loading them).
SMALL_LIBRARY = 500
#: With a ``min_match_factor`` at or above this, the identity bound of the compiled scan
#: skips the counts of peaks and ratio pairs in common (:mod:`gcms.library.scan`).
COUNTS_BELOW_FLOOR = 600

# ---------------------------------------------------------------------------------------
# library-side arrays, built once per Library


class SearchIndex:
    """Everything a search needs from a library, derived once and cached on it."""

    def __init__(self, peaks: PeakMatrix, retention_index: np.ndarray,
                 ri_column: Sequence[str] | np.ndarray) -> None:
        self.library = LibraryPeaks.from_peaks(peaks)
        self.peaks = peaks
        self.first_mz = peaks.first_mz
        self.retention_index = np.asarray(retention_index, dtype=np.float64)
        codes: dict[str, int] = {"": 0}
        self.ri_column_code = np.array(
            [codes.setdefault(str(c).strip().lower(), len(codes)) for c in ri_column],
            dtype=np.int32) if len(ri_column) else np.zeros(0, dtype=np.int32)
        self.ri_column_codes = codes
        self.ri_column_code_int64 = self.ri_column_code.astype(np.int64)
        self._weights: dict[str, Any] = {}
        self._suffix: dict[tuple[str, int], np.ndarray] = {}
        self._scan: dict[str, Any] = {}
        #: Arrays another device keeps of this index (:mod:`gcms.library.gpu`), by device.
        self.device_cache: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self.peaks)

    @property
    def max_mz(self) -> int:
        """Highest m/z in the library."""
        return self.library.max_mz

    def weights(self, kind: str):
        """Library CSR matrix (entries x m/z) of one kind of peak weight.

        ``"mass"``: ``sqrt(m L)``; ``"plain"``: ``sqrt(L)``; ``"binary"``: 1.
        """
        if kind not in self._weights:
            import scipy.sparse as sp

            p = self.peaks
            values = {
                "mass": lambda: np.sqrt(p.mz * p.abundance),
                "plain": lambda: np.sqrt(p.abundance),
                "binary": lambda: np.ones(p.nnz),
            }[kind]()
            self._weights[kind] = sp.csr_matrix(
                (values, p.mz, p.indptr), shape=(len(p), self.max_mz + 1))
        return self._weights[kind]

    def pair_features(self):
        """Neighbouring-peak pairs of every entry: ``(keys, matrix)``.

        ``keys`` are the distinct pairs ``(a, b)`` of consecutive peaks (m/z a then b
        within one spectrum) as ``a * 65536 + b``, sorted; ``matrix`` (entries x pairs,
        CSR, 1 where the entry has the pair). A ratio term of the identity score needs a
        pair of neighbours in both spectra, so the product with a query's pairs counts
        the ratio pairs :math:`n_2` exactly.
        """
        if "pairs" not in self._weights:
            import scipy.sparse as sp

            p = self.peaks
            last_of_row = np.zeros(p.nnz, dtype=bool)
            last_of_row[p.indptr[1:] - 1] = True
            first = np.flatnonzero(~last_of_row[:-1]) if p.nnz > 1 else np.zeros(0, np.int64)
            keys = p.mz[first] * 65536 + p.mz[first + 1]
            unique, ids = np.unique(keys, return_inverse=True)
            rows = p.row_of_peak[first]
            matrix = sp.csr_matrix((np.ones(ids.size, dtype=np.float32), (rows, ids)),
                                   shape=(len(p), unique.size))
            self._weights["pairs"] = (unique, matrix)
        return self._weights["pairs"]

    def suffix_norm(self, kind: str, cut: int) -> np.ndarray:
        """Per entry, the sum of ``m L`` ("mass") or ``L`` ("plain") over m/z >= cut."""
        key = (kind, int(cut))
        if key not in self._suffix:
            p = self.peaks
            values = self.library.mass_weighted if kind == "mass" else p.abundance
            kept = np.where(p.mz >= cut, values, 0.0)
            self._suffix[key] = np.add.reduceat(kept, p.indptr[:-1]) if len(p) else kept[:0]
        return self._suffix[key]

    def scan_library(self, kind: str):
        """The :class:`gcms.library.scan.ScanLibrary` of one weight kind (built on first use)."""
        if kind not in self._scan:
            from gcms.library.scan import ScanLibrary

            self._scan[kind] = ScanLibrary.build(self.peaks, kind)
        return self._scan[kind]


_INDEXES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def index_of(library: Library) -> SearchIndex:
    """The :class:`SearchIndex` of ``library``, built on first use and kept while it lives."""
    index = _INDEXES.get(library)
    if index is None:
        index = SearchIndex(library.peaks, library.column("retention_index"),
                            library.column("ri_column"))
        _INDEXES[library] = index
    return index


# ---------------------------------------------------------------------------------------
# queries


@dataclass(frozen=True, slots=True, eq=False)
class Queries:
    """Query spectra packed for a search, with their retention indices and RI column codes."""

    peaks: PeakMatrix
    retention_index: np.ndarray
    ri_column_code: np.ndarray


def prepare_queries(index: SearchIndex, spectra: Sequence[Spectrum]) -> Queries:
    """Pack ``spectra`` for a search of ``index``; a query without peaks is refused (named)."""
    peaks = []
    for i, s in enumerate(spectra):
        try:
            mz, abundance = search_peaks(s.mz, s.intensity)
        except ValueError as error:
            raise LibraryError(f"query {_label(s, i)}: {error}") from error
        if not mz.size:
            raise LibraryError(f"query {_label(s, i)}: no peak with positive intensity")
        peaks.append((mz, abundance))
    ri = np.array([math.nan if s.retention_index is None else s.retention_index
                   for s in spectra], dtype=np.float64)
    codes = np.array([index.ri_column_codes.get((s.ri_column or "").strip().lower(), -1)
                      for s in spectra], dtype=np.int32)
    return Queries(PeakMatrix.from_peaks(peaks), ri, codes)


def _label(spectrum: Spectrum, index: int) -> str:
    if spectrum.name:
        return repr(spectrum.name)
    if spectrum.source_entry:
        return f"{spectrum.source or ''} {spectrum.source_entry}".strip()
    return f"#{index + 1}"


# ---------------------------------------------------------------------------------------
# scoring pairs, ordering hit lists


def ri_adjustment(index: SearchIndex, q_ri: np.ndarray, q_code: np.ndarray,
                   qi: np.ndarray, li: np.ndarray, settings: SearchSettings):
    """(delta_ri, penalty on the 0..1 scale, excluded) for pairs; NaN delta where unknown."""
    lib_ri = index.retention_index[li]
    lib_code = index.ri_column_code[li]
    code = q_code[qi]
    comparable = (np.isfinite(q_ri[qi]) & np.isfinite(lib_ri)
                  & ((lib_code == 0) | (code == 0) | (lib_code == code)))
    delta = np.where(comparable, q_ri[qi] - lib_ri, np.nan)
    excess = np.where(comparable, np.maximum(np.abs(np.nan_to_num(delta)) - settings.ri_window,
                                             0.0), 0.0)
    if settings.ri_mode == "penalty":
        penalty = settings.ri_penalty * excess / 1000.0
        excluded = np.zeros(qi.size, dtype=bool)
    elif settings.ri_mode == "window":
        penalty = np.zeros(qi.size)
        excluded = excess > 0
    else:
        penalty = np.zeros(qi.size)
        excluded = np.zeros(qi.size, dtype=bool)
    return delta, penalty, excluded


def query_pairs(index: SearchIndex, peaks: PeakMatrix) -> np.ndarray:
    """Dense (library pairs x queries) float32 matrix: 1 where the query has the pair."""
    keys, matrix = index.pair_features()
    last_of_row = np.zeros(peaks.nnz, dtype=bool)
    last_of_row[peaks.indptr[1:] - 1] = True
    first = np.flatnonzero(~last_of_row[:-1]) if peaks.nnz > 1 else np.zeros(0, np.int64)
    wanted = peaks.mz[first] * 65536 + peaks.mz[first + 1]
    position = np.searchsorted(keys, wanted)
    position = np.minimum(position, max(keys.size - 1, 0))
    known = (keys.size > 0) & (keys[position] == wanted) if keys.size else np.zeros(
        wanted.size, dtype=bool)
    dense = np.zeros((matrix.shape[1], len(peaks)), dtype=np.float32)
    dense[position[known], peaks.row_of_peak[first][known]] = 1.0
    return dense


def rank_scores(index: SearchIndex, qblock: QueryBlock, queries: Queries,
                 qi: np.ndarray, li: np.ndarray, settings: SearchSettings):
    """Ranking score (with RI) of pairs, computing only the score ranked by."""
    scores = score_pairs(qblock, index.library, qi, li, low_mz=settings.low_mz,
                         scores=(settings.rank_by,))
    base = getattr(scores, settings.rank_by)
    delta, penalty, excluded = ri_adjustment(index, queries.retention_index,
                                              queries.ri_column_code, qi, li, settings)
    drop = excluded | (scores.n_common == 0)
    if settings.min_match_factor is not None:
        drop |= to_nist_scale(base) < settings.min_match_factor
    rank = np.where(drop, -np.inf, base - penalty)
    return rank, delta, penalty


def _rank_order(qi: np.ndarray, li: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Order of pairs: by query, then ranking score descending, then library index."""
    key = np.rint(rank * 1e12)  # the order of np.round(rank, 12), as the scan keys it
    return np.lexsort((li, -key, qi))


def _scan_pairs(index: SearchIndex, qblock: QueryBlock, queries: Queries, depth: int,
                settings: SearchSettings) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs of the compiled scan (:mod:`gcms.library.scan`)."""
    from gcms.library.scan import scan_block

    kind = "plain" if settings.rank_by == "similarity" else "mass"
    counts = settings.rank_by == "reverse" or (
        settings.rank_by == "identity" and (settings.min_match_factor is None
                                            or settings.min_match_factor < COUNTS_BELOW_FLOOR))
    qi, li, _ = scan_block(
        index.scan_library(kind), index.retention_index, index.ri_column_code_int64, qblock,
        queries.retention_index, queries.ri_column_code, kind=settings.rank_by,
        low_mz=settings.low_mz, floor_mf=settings.min_match_factor, ri_mode=settings.ri_mode,
        ri_window=settings.ri_window, ri_penalty=settings.ri_penalty, depth=depth,
        counts=counts)
    return qi, li


def _search_batch(index: SearchIndex, queries: Queries, lo: int, hi: int, top: int,
                  settings: SearchSettings, arrays: dict[str, np.ndarray]) -> None:
    qpeaks = queries.peaks.take(np.arange(lo, hi))
    width = max(index.max_mz, int(qpeaks.mz.max())) + 2
    qblock = QueryBlock.from_peaks(qpeaks, width=width)
    sub = Queries(qpeaks, queries.retention_index[lo:hi], queries.ri_column_code[lo:hi])
    # Every hit shown and every hit the probabilities are shared among is certified.
    depth = max(top, settings.probability_depth)
    if settings.presearch == "off" or len(index) <= SMALL_LIBRARY:
        # A small library is scored whole: the same lists (the scan's guarantee), in
        # less time than a process takes to load the compiled scan.
        qi, li, rank, delta, penalty = _every_pair(index, qblock, sub, depth, settings)
    else:
        qi, li = _scan_pairs(index, qblock, sub, depth, settings)
        rank, delta, penalty = rank_scores(index, qblock, sub, qi, li, settings)
    collect(index, qblock, qi, li, rank, delta, penalty, lo, hi - lo, top, settings, arrays)


def _every_pair(index: SearchIndex, qblock: QueryBlock, queries: Queries, depth: int,
                settings: SearchSettings):
    """The reference: every entry scored (:func:`score_pairs`), in slices of the library.

    After each slice only the best ``depth`` pairs of each query are kept, so memory
    stays bounded whatever the library size.
    """
    n_q, n_lib = len(qblock), len(index)
    step = max(1, REFERENCE_PAIRS // max(n_q, 1))
    kept = [np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0),
            np.zeros(0)]
    for start in range(0, n_lib, step):
        rows = np.arange(start, min(n_lib, start + step))
        qi = np.repeat(np.arange(n_q), rows.size)
        li = np.tile(rows, n_q)
        rank, delta, penalty = rank_scores(index, qblock, queries, qi, li, settings)
        merged = [np.concatenate([k, new]) for k, new in
                  zip(kept, (qi, li, rank, delta, penalty), strict=True)]
        valid = np.isfinite(merged[2])
        merged = [a[valid] for a in merged]
        order = _rank_order(merged[0], merged[1], merged[2])
        merged = [a[order] for a in merged]
        position = np.arange(merged[0].size) - np.searchsorted(merged[0], merged[0])
        kept = [a[position < depth] for a in merged]
    return tuple(kept)


def collect(index, qblock, qi, li, rank, delta, penalty, lo, n_q, top, settings,
            arrays) -> None:
    """Sort scored pairs into hit lists, score the hits fully, fill rows lo..lo+n_q."""
    valid = np.isfinite(rank)
    qi, li, rank, delta, penalty = (a[valid] for a in (qi, li, rank, delta, penalty))
    order = _rank_order(qi, li, rank)
    qi, li, rank, delta, penalty = (a[order] for a in (qi, li, rank, delta, penalty))
    starts = np.searchsorted(qi, np.arange(n_q))
    position = np.arange(qi.size) - starts[qi]
    depth = max(top, settings.probability_depth)
    listed = position < depth
    qi, li, rank, delta, penalty, position = (
        a[listed] for a in (qi, li, rank, delta, penalty, position))
    ranking_mf = np.zeros((n_q, depth))
    present = np.zeros((n_q, depth), dtype=bool)
    ranking_mf[qi, position] = 1000.0 * rank
    present[qi, position] = True
    probability = hit_probabilities(ranking_mf, beta=settings.probability_beta, valid=present)
    shown = position < top
    qs, ls, p = qi[shown], li[shown], position[shown]
    full = score_pairs(qblock, index.library, qs, ls, low_mz=settings.low_mz)
    q = qs + lo
    arrays["index"][q, p] = ls
    # score_pairs computes every score unless told otherwise
    arrays["match_factor"][q, p] = to_nist_scale(cast(np.ndarray, full.identity))
    arrays["reverse_match_factor"][q, p] = to_nist_scale(cast(np.ndarray, full.reverse))
    arrays["similarity_match_factor"][q, p] = to_nist_scale(cast(np.ndarray, full.similarity))
    arrays["entropy_similarity"][q, p] = to_nist_scale(cast(np.ndarray, full.entropy))
    arrays["probability"][q, p] = probability[qs, p]
    arrays["score"][q, p] = rank[shown]
    arrays["delta_ri"][q, p] = delta[shown]
    arrays["ri_penalty"][q, p] = 1000.0 * penalty[shown]


def result_arrays(n_queries: int, top: int) -> dict[str, np.ndarray]:
    """Empty hit lists for ``n_queries`` queries: what every search path fills."""
    shape = (n_queries, top)
    return {
        "index": np.full(shape, -1, dtype=np.int64),
        "match_factor": np.zeros(shape, dtype=np.int32),
        "reverse_match_factor": np.zeros(shape, dtype=np.int32),
        "similarity_match_factor": np.zeros(shape, dtype=np.int32),
        "entropy_similarity": np.zeros(shape, dtype=np.int32),
        "probability": np.zeros(shape),
        "score": np.full(shape, -np.inf),
        "delta_ri": np.full(shape, np.nan),
        "ri_penalty": np.zeros(shape),
    }


def search_batches(index: SearchIndex, queries: Queries, top: int, settings: SearchSettings,
                   arrays: dict[str, np.ndarray]) -> None:
    """Fill ``arrays`` with the hit lists of ``queries`` (CPU), ``batch_size`` at a time."""
    n_q = len(queries.peaks)
    for lo in range(0, n_q, settings.batch_size):
        _search_batch(index, queries, lo, min(n_q, lo + settings.batch_size), top, settings,
                      arrays)
