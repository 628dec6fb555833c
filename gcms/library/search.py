r"""Library search: many query spectra at once, NIST scores, deterministic hit lists.

How a search runs (per batch of queries, all array algebra):

1. **Bound.** For every library entry (``presearch="exact"``) or for the entries of the
   clusters nearest each query (``"fast"``), the exact squared cosine of the identity
   score over the compared m/z range is computed as one sparse x dense product
   (library CSR x query columns) plus two norm look-ups. It bounds the identity match
   factor from above: with :math:`F_R \le 1` and :math:`n_2 \le n_1 - 1`,

   .. math:: MF \le (1 + \cos^2) / 2.

2. **Exact re-scoring.** The entries with the best bounds are scored exactly
   (:func:`gcms.library.kernels.score_pairs`); the k-th best exact score
   :math:`\tau` then admits every further entry whose bound reaches :math:`\tau`, which
   is scored too. No entry left out can beat the k-th hit, so the top k equal those of
   scoring every entry (``presearch="off"``), which the tests check.
   ``"fast"`` skips that guarantee: it re-scores the best ``candidates`` entries of the
   probed clusters only; its agreement with the exhaustive search is measured
   (benchmarks/README.md), not proven.
3. **Order.** Hits are sorted by the ranking score (identity MF by default), minus the
   retention-index penalty when one applies, ties broken by library index, so the same
   query always gives the same list, on the CPU as on the GPU.
4. **Probability** from the match factors of the best ``probability_depth`` hits
   (:mod:`gcms.library.probability`).

Retention index: when both the query and an entry carry a retention index (and the
entry's column type, if stated, is the query's), ``ri_mode="window"`` drops entries
with :math:`|\Delta RI|` above ``ri_window`` and ``"penalty"`` subtracts ``ri_penalty``
match-factor units per RI unit beyond it from the ranking score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from gcms.errors import LibraryError
from gcms.library._peaks import PeakMatrix, search_peaks
from gcms.library.kernels import LibraryPeaks, QueryBlock, score_pairs, to_nist_scale
from gcms.library.probability import PROBABILITY_BETA, PROBABILITY_DEPTH, hit_probabilities
from gcms.spectrum import Spectrum

if TYPE_CHECKING:
    from gcms.library.store import Library

__all__ = ["Hit", "HitArrays", "SearchResult", "SearchSettings", "search", "search_arrays"]

RankBy = Literal["identity", "reverse", "similarity"]
Presearch = Literal["exact", "fast", "off"]
RiMode = Literal["off", "window", "penalty"]
Device = Literal["cpu", "cuda"]

#: Margin (on the 0..1 score scale) by which a bound must miss the k-th score before
#: an entry is left out: covers float32 storage of the bounds (relative error 6e-8).
BOUND_MARGIN = 1e-6
#: Library rows per block of the exhaustive bound computation (memory per block:
#: rows x batch x 8 bytes).
BOUND_BLOCK_ROWS = 65_536


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """Knobs of a library search; every default is what MS Search does or a measured choice.

    Parameters
    ----------
    rank_by
        Score that orders the hit list: ``"identity"`` (MS Search Identity, "EI
        Normal"), ``"reverse"``, or ``"similarity"`` ("EI Simple").
    presearch
        ``"exact"``: bound-pruned, provably the same top k as scoring every entry.
        ``"fast"``: probe the ``probes`` nearest clusters of the library and re-score
        ``candidates`` entries per query (for very large libraries and batches;
        agreement measured, not proven). ``"off"``: score every entry (reference).
    low_mz
        Fixed lowest m/z compared; ``None`` (default) compares from the higher of the
        two spectra's lowest m/z, as MS Search does.
    candidates
        Entries re-scored exactly per query before the bound check (at least the hit
        list length); in ``"fast"`` mode, all that are re-scored.
    probes
        Clusters probed per query in ``"fast"`` mode.
    ri_mode, ri_window, ri_penalty
        Retention-index use (module docstring): window half-width in RI units; penalty
        in match-factor units per RI unit beyond the window.
    probability_beta, probability_depth
        Probability model (:mod:`gcms.library.probability`).
    batch_size
        Queries scored together (memory grows with it).
    """

    rank_by: RankBy = "identity"
    presearch: Presearch = "exact"
    low_mz: int | None = None
    candidates: int = 100
    probes: int = 64
    ri_mode: RiMode = "off"
    ri_window: float = 50.0
    ri_penalty: float = 0.5
    probability_beta: float = PROBABILITY_BETA
    probability_depth: int = PROBABILITY_DEPTH
    batch_size: int = 128

    def __post_init__(self) -> None:
        choices = {"rank_by": ("identity", "reverse", "similarity"),
                   "presearch": ("exact", "fast", "off"),
                   "ri_mode": ("off", "window", "penalty")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("candidates", "probes", "probability_depth", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.low_mz is not None and self.low_mz < 0:
            raise ValueError(f"low_mz must be >= 0, got {self.low_mz}")
        if not (self.ri_window >= 0 and self.ri_penalty >= 0):
            raise ValueError("ri_window and ri_penalty must be >= 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Hit:
    """One library hit for one query, with every score on MS Search's 0..999 scale.

    ``match_factor`` (identity), ``reverse_match_factor``, ``similarity_match_factor``
    and ``entropy_similarity`` (x1000) are defined in :mod:`gcms.library.scores`;
    ``probability`` is in percent; ``delta_ri`` is query RI minus library RI (``None``
    unless both are known on a compatible column); ``ri_penalty`` the match-factor units
    taken off the ranking score for it; ``score`` the ranking score (0..1) the list is
    sorted by. ``library_sha256`` is the content hash of the library searched;
    ``source_file``/``source_entry``/``provenance`` trace the entry to its origin.
    """

    rank: int
    library_index: int
    name: str | None
    inchikey: str | None
    cas: str | None
    formula: str | None
    mw: float | None
    match_factor: int
    reverse_match_factor: int
    similarity_match_factor: int
    entropy_similarity: int
    probability: float
    retention_index: float | None
    delta_ri: float | None
    ri_penalty: float
    score: float
    library_sha256: str
    source_file: str | None = None
    source_entry: str | None = None
    provenance: Mapping[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["provenance"] = dict(self.provenance) if self.provenance is not None else None
        return out


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The hit list of one query spectrum, best first."""

    query: str
    hits: tuple[Hit, ...]

    def to_dict(self) -> dict[str, Any]:
        """``{"query": ..., "hits": [...]}`` as ``gcms library search --json`` prints it."""
        return {"query": self.query, "hits": [h.to_dict() for h in self.hits]}


@dataclass(frozen=True, slots=True, eq=False)
class HitArrays:
    """Hit lists as arrays, ``(n_queries, top)``; ``index == -1`` where a list is short."""

    index: np.ndarray
    match_factor: np.ndarray
    reverse_match_factor: np.ndarray
    similarity_match_factor: np.ndarray
    entropy_similarity: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    delta_ri: np.ndarray
    ri_penalty: np.ndarray


# ---------------------------------------------------------------------------------------
# library-side arrays, built once per Library


class SearchIndex:
    """Everything a search needs from a library, derived once and cached on it."""

    def __init__(self, peaks: PeakMatrix, retention_index: np.ndarray,
                 ri_column: Sequence[str]) -> None:
        self.library = LibraryPeaks.from_peaks(peaks)
        self.peaks = peaks
        self.first_mz = peaks.first_mz
        self.retention_index = np.asarray(retention_index, dtype=np.float64)
        codes: dict[str, int] = {"": 0}
        self.ri_column_code = np.array(
            [codes.setdefault(str(c).strip().lower(), len(codes)) for c in ri_column],
            dtype=np.int32) if len(ri_column) else np.zeros(0, dtype=np.int32)
        self.ri_column_codes = codes
        self._weights: dict[str, Any] = {}
        self._suffix: dict[tuple[str, int], np.ndarray] = {}
        self._clusters = None

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

    def clusters(self):
        """The presearch clustering (built on first use; see :mod:`gcms.library.presearch`)."""
        if self._clusters is None:
            from gcms.library.presearch import ClusterIndex

            self._clusters = ClusterIndex.build(self)
        return self._clusters


def _index_of(library: Library) -> SearchIndex:
    index = getattr(library, "_index", None)
    if index is None:
        index = SearchIndex(library.peaks, library.column("retention_index"),
                            library.column("ri_column"))
        library._index = index
    return index


# ---------------------------------------------------------------------------------------
# queries


@dataclass(frozen=True, slots=True, eq=False)
class _Queries:
    peaks: PeakMatrix
    retention_index: np.ndarray
    ri_column_code: np.ndarray


def _prepare_queries(index: SearchIndex, spectra: Sequence[Spectrum]) -> _Queries:
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
    return _Queries(PeakMatrix.from_peaks(peaks), ri, codes)


def _label(spectrum: Spectrum, index: int) -> str:
    if spectrum.name:
        return repr(spectrum.name)
    if spectrum.source_entry:
        return f"{spectrum.source or ''} {spectrum.source_entry}".strip()
    return f"#{index + 1}"


# ---------------------------------------------------------------------------------------
# the engine


def _ri_adjustment(index: SearchIndex, q_ri: np.ndarray, q_code: np.ndarray,
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


def _query_pairs(index: SearchIndex, peaks: PeakMatrix) -> np.ndarray:
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


def _bounds_block(index: SearchIndex, qblock: QueryBlock, queries: _Queries,
                  qsel: np.ndarray, row_ids: np.ndarray, settings: SearchSettings,
                  blocks: Mapping[str, Any] | None = None,
                  query_pairs=None) -> np.ndarray:
    r"""Upper bounds of the ranking score for library rows ``row_ids`` x queries ``qsel``.

    Returns ``(n_rows, n_queries)`` float64, -inf where the RI window excludes the pair.
    Similarity: the exact ``cos2`` of the similarity score. Identity and reverse: with
    ``query_pairs`` (the :func:`_query_pairs` of the batch; compare range by overlap),
    the tight bound ``(n1 cos2 + n2) / (n1 + n2)`` from the exact peaks in common
    :math:`n_1` and ratio pairs :math:`n_2` (only :math:`F_R \le 1` is bounded);
    without, ``(1 + cos2)/2``; 0 where no peak is shared. ``blocks`` may hold the
    weight matrices of exactly these rows (``"mass"``, ``"plain"``, ``"binary"``);
    otherwise they are sliced from the library's.
    """
    kind = settings.rank_by
    width = qblock.width

    def rows_of(name: str):
        if blocks is not None and name in blocks:
            return blocks[name]
        matrix = index.weights(name)
        if row_ids.size and row_ids[-1] - row_ids[0] + 1 == row_ids.size:
            return matrix[int(row_ids[0]):int(row_ids[-1]) + 1]
        return matrix[row_ids]

    masses = np.arange(width, dtype=np.float64)
    q_ab = qblock.abundance[qsel]
    if kind == "similarity":
        q_w = np.sqrt(q_ab)
        block = rows_of("plain")
        norm_kind, q_suffix = "plain", qblock.suffix_plain[qsel]
    else:
        q_w = np.sqrt(q_ab * masses)
        block = rows_of("mass")
        norm_kind, q_suffix = "mass", qblock.suffix_mass[qsel]
    n_cols = block.shape[1]
    dot = np.asarray(block @ q_w[:, :n_cols].T)  # (n_rows, n_q)
    q_first = qblock.first_mz[qsel]
    if settings.low_mz is None:
        lmin = np.minimum(index.first_mz[row_ids], width)
        # Queries have no peak below their own first m/z: their norm over the compared
        # range is their suffix sum from the entry's first m/z.
        norm_q = np.ascontiguousarray(q_suffix.T)[lmin]  # (n_rows, n_q)
        cuts, inverse = np.unique(q_first, return_inverse=True)
    else:
        norm_q = np.empty_like(dot)
        norm_q[:] = q_suffix[:, min(settings.low_mz, width)]
        cuts, inverse = np.array([settings.low_mz]), np.zeros(len(q_first), dtype=np.int64)
    norm_lib = np.stack([index.suffix_norm(norm_kind, int(c))[row_ids] for c in cuts],
                        axis=1)
    if kind == "reverse":
        norm_q = np.asarray(rows_of("binary") @ (q_ab * masses)[:, :n_cols].T)
    # cos2 = dot^2 / (norm_q norm_lib), in place (these arrays are rows x queries).
    norm_q *= norm_lib[:, inverse] if cuts.size > 1 else norm_lib
    shared = dot > 0
    np.multiply(dot, dot, out=dot)
    cos2 = np.divide(dot, norm_q, out=np.zeros_like(dot), where=shared & (norm_q > 0))
    np.minimum(cos2, 1.0, out=cos2)
    del dot, norm_q
    if kind == "similarity":
        bound = cos2
    elif query_pairs is not None and settings.low_mz is None:
        n1 = np.asarray(rows_of("binary") @ (q_ab[:, :n_cols] > 0).T.astype(np.float64))
        pairs = index.pair_features()[1]
        if row_ids.size and row_ids[-1] - row_ids[0] + 1 == row_ids.size:
            pair_rows = pairs[int(row_ids[0]):int(row_ids[-1]) + 1]
        else:
            pair_rows = pairs[row_ids]
        n2 = np.asarray(pair_rows @ query_pairs[:, qsel])
        # (n1 cos2 + n2) / (n1 + n2); n2 = 0 wherever n1 = 0.
        cos2 *= n1
        cos2 += n2
        n1 += n2
        bound = np.divide(cos2, n1, out=cos2, where=n1 > 0)
    else:
        cos2 += 1.0
        cos2 *= 0.5
        bound = np.where(shared, cos2, 0.0)
    if settings.ri_mode != "off":
        n_r, n_q = bound.shape
        qi = np.repeat(qsel, n_r)
        li = np.tile(row_ids, n_q)
        _, penalty, excluded = _ri_adjustment(index, queries.retention_index,
                                              queries.ri_column_code, qi, li, settings)
        adjust = np.where(excluded, -np.inf, -penalty).reshape(n_q, n_r).T
        bound = bound + adjust
    return bound


def _rank_scores(index: SearchIndex, qblock: QueryBlock, queries: _Queries,
                 qi: np.ndarray, li: np.ndarray, settings: SearchSettings):
    """Ranking score (with RI) of pairs, computing only the score ranked by."""
    scores = score_pairs(qblock, index.library, qi, li, low_mz=settings.low_mz,
                         scores=(settings.rank_by,))
    base = getattr(scores, settings.rank_by)
    delta, penalty, excluded = _ri_adjustment(index, queries.retention_index,
                                              queries.ri_column_code, qi, li, settings)
    rank = np.where(excluded | (scores.n_common == 0), -np.inf, base - penalty)
    return rank, delta, penalty


def _rank_order(qi: np.ndarray, li: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Order of pairs: by query, then ranking score descending, then library index."""
    key = np.round(rank, 12)
    return np.lexsort((li, -key, qi))


def _exact_pairs(index: SearchIndex, qblock: QueryBlock, queries: _Queries, top: int,
                 keep: int, settings: SearchSettings):
    """Scored pairs of the exact presearch.

    Bounds for every entry, blockwise; exact scores for the best ``keep`` bounds per
    query, then for every entry whose bound reaches the ``top``-th exact score.
    """
    n_q, n_lib = len(qblock), len(index)
    qsel = np.arange(n_q)
    pairs = _query_pairs(index, queries.peaks) if settings.rank_by != "similarity" else None
    bounds = np.empty((n_lib, n_q), dtype=np.float32)
    for start in range(0, n_lib, BOUND_BLOCK_ROWS):
        stop = min(n_lib, start + BOUND_BLOCK_ROWS)
        bounds[start:stop] = _bounds_block(index, qblock, queries, qsel,
                                           np.arange(start, stop), settings,
                                           query_pairs=pairs)
    k0 = min(keep, n_lib)
    if k0 < n_lib:
        first = np.argpartition(-bounds, k0 - 1, axis=0)[:k0]
    else:
        first = np.broadcast_to(np.arange(n_lib)[:, None], (n_lib, n_q))
    qi1 = np.broadcast_to(qsel[None, :], first.shape).ravel()
    li1 = np.asarray(first).ravel()
    ok = np.isfinite(bounds[li1, qi1]) & (bounds[li1, qi1] > 0)
    qi1, li1 = qi1[ok], li1[ok]
    rank1, delta1, penalty1 = _rank_scores(index, qblock, queries, qi1, li1, settings)
    order = _rank_order(qi1, li1, rank1)
    q_sorted, r_sorted = qi1[order], rank1[order]
    starts = np.searchsorted(q_sorted, qsel)
    counts = np.bincount(q_sorted, minlength=n_q)
    tau = np.full(n_q, -np.inf)
    has_k = counts >= top
    tau[has_k] = r_sorted[starts[has_k] + top - 1]
    # Entries not scored yet whose bound could still reach the k-th hit.
    bounds[li1, qi1] = -np.inf
    li2, qi2 = np.nonzero(bounds >= (tau - BOUND_MARGIN)[None, :].astype(np.float32))
    ok2 = bounds[li2, qi2] > 0
    li2, qi2 = li2[ok2], qi2[ok2]
    del bounds
    rank2, delta2, penalty2 = _rank_scores(index, qblock, queries, qi2, li2, settings)
    return (np.concatenate([qi1, qi2]), np.concatenate([li1, li2]),
            np.concatenate([rank1, rank2]), np.concatenate([delta1, delta2]),
            np.concatenate([penalty1, penalty2]))


def _search_batch(index: SearchIndex, queries: _Queries, lo: int, hi: int, top: int,
                  settings: SearchSettings, arrays: dict[str, np.ndarray]) -> None:
    qpeaks = queries.peaks.take(np.arange(lo, hi))
    width = max(index.max_mz, int(qpeaks.mz.max())) + 2
    qblock = QueryBlock.from_peaks(qpeaks, width=width)
    sub = _Queries(qpeaks, queries.retention_index[lo:hi], queries.ri_column_code[lo:hi])
    n_q, n_lib = hi - lo, len(index)
    # Every hit shown and every hit the probabilities are shared among is certified.
    depth = max(top, settings.probability_depth)
    keep = min(n_lib, max(depth, settings.candidates))
    if settings.presearch == "exact":
        qi, li, rank, delta, penalty = _exact_pairs(index, qblock, sub, depth, keep, settings)
    else:
        if settings.presearch == "off":
            qi = np.repeat(np.arange(n_q), n_lib)
            li = np.tile(np.arange(n_lib), n_q)
        else:
            qi, li = index.clusters().candidates(index, qblock, sub, settings)
        rank, delta, penalty = _rank_scores(index, qblock, sub, qi, li, settings)
    _collect(index, qblock, qi, li, rank, delta, penalty, lo, n_q, top, settings, arrays)


def _collect(index, qblock, qi, li, rank, delta, penalty, lo, n_q, top, settings,
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
    arrays["match_factor"][q, p] = to_nist_scale(full.identity)
    arrays["reverse_match_factor"][q, p] = to_nist_scale(full.reverse)
    arrays["similarity_match_factor"][q, p] = to_nist_scale(full.similarity)
    arrays["entropy_similarity"][q, p] = to_nist_scale(full.entropy)
    arrays["probability"][q, p] = probability[qs, p]
    arrays["score"][q, p] = rank[shown]
    arrays["delta_ri"][q, p] = delta[shown]
    arrays["ri_penalty"][q, p] = 1000.0 * penalty[shown]


def search_arrays(library: Library | SearchIndex, queries: Sequence[Spectrum], *,
                  top: int = 10, settings: SearchSettings | None = None,
                  device: Device = "cpu") -> HitArrays:
    """Hit lists of ``queries`` as arrays (no per-hit objects): the engine of :func:`search`."""
    settings = settings or SearchSettings()
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    index = library if isinstance(library, SearchIndex) else _index_of(library)
    prepared = _prepare_queries(index, queries)
    n_q = len(prepared.peaks)
    arrays = {
        "index": np.full((n_q, top), -1, dtype=np.int64),
        "match_factor": np.zeros((n_q, top), dtype=np.int32),
        "reverse_match_factor": np.zeros((n_q, top), dtype=np.int32),
        "similarity_match_factor": np.zeros((n_q, top), dtype=np.int32),
        "entropy_similarity": np.zeros((n_q, top), dtype=np.int32),
        "probability": np.zeros((n_q, top)),
        "score": np.full((n_q, top), -np.inf),
        "delta_ri": np.full((n_q, top), np.nan),
        "ri_penalty": np.zeros((n_q, top)),
    }
    if device == "cuda":
        from gcms.library.gpu import search_batches_cuda

        search_batches_cuda(index, prepared, top, settings, arrays)
    elif device == "cpu":
        for lo in range(0, n_q, settings.batch_size):
            _search_batch(index, prepared, lo, min(n_q, lo + settings.batch_size), top,
                          settings, arrays)
    else:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    for value in arrays.values():
        value.flags.writeable = False
    return HitArrays(**arrays)


def search(library: Library, queries: Spectrum | Sequence[Spectrum], *, top: int = 10,
           settings: SearchSettings | None = None, device: Device = "cpu"
           ) -> list[SearchResult]:
    """Search ``queries`` in ``library``; one :class:`SearchResult` per query, best hit first.

    Parameters
    ----------
    library
        A :class:`gcms.library.Library`.
    queries
        One spectrum or a sequence (any m/z precision; nominal masses are taken).
    top
        Hits per query.
    settings
        :class:`SearchSettings` (defaults: identity ranking, exact presearch).
    device
        ``"cpu"`` or ``"cuda"`` (needs CuPy: ``pip install 'gcms[gpu]'``); both return
        the same hit lists.

    Raises
    ------
    LibraryError
        A query without peaks (names it).
    MissingExtraError
        ``device="cuda"`` without CuPy.
    """
    spectra = [queries] if isinstance(queries, Spectrum) else list(queries)
    arrays = search_arrays(library, spectra, top=top, settings=settings, device=device)
    sha = library.content_sha256
    names = library.column("name")
    results = []
    for qn, spectrum in enumerate(spectra):
        hits = []
        for rank, li in enumerate(arrays.index[qn]):
            if li < 0:
                break
            entry = library.entry(int(li))
            delta = float(arrays.delta_ri[qn, rank])
            hits.append(Hit(
                rank=rank + 1, library_index=int(li), name=str(names[li]) or None,
                inchikey=entry.inchikey, cas=entry.cas, formula=entry.formula, mw=entry.mw,
                match_factor=int(arrays.match_factor[qn, rank]),
                reverse_match_factor=int(arrays.reverse_match_factor[qn, rank]),
                similarity_match_factor=int(arrays.similarity_match_factor[qn, rank]),
                entropy_similarity=int(arrays.entropy_similarity[qn, rank]),
                probability=round(float(arrays.probability[qn, rank]), 2),
                retention_index=entry.retention_index,
                delta_ri=None if math.isnan(delta) else round(delta, 1),
                ri_penalty=round(float(arrays.ri_penalty[qn, rank]), 1),
                score=float(arrays.score[qn, rank]),
                library_sha256=sha, source_file=entry.source_file,
                source_entry=entry.source_entry, provenance=entry.provenance,
            ))
        results.append(SearchResult(query=_query_label(spectrum, qn), hits=tuple(hits)))
    return results


def _query_label(spectrum: Spectrum, index: int) -> str:
    return spectrum.name or spectrum.source_entry or spectrum.source or f"query {index + 1}"
