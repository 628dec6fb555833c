r"""Library search: many query spectra at once, NIST scores, deterministic hit lists.

What a search guarantees (``presearch="exact"``, the default, on the CPU and the GPU):
the hit list of every query is exactly the list that scoring every library entry
gives (``presearch="off"``, the reference): the same entries, the same scores, in the
same order, ties broken by library index. The ``probability_depth`` best hits, from
which the probabilities are computed, are certified as well.

With a floor, ``min_match_factor=T`` (MS Search scale; identification criteria never
accept a match below ~700): entries whose ranking score is below ``T`` are left out of
the list, and the guarantee becomes: **every entry scoring at least T is considered,
and the list is the best k of them, exactly scored and in exact order** (the reference
list with the entries below ``T`` removed). Far fewer entries come near such a floor
than near the 20th-best score, so the scan rules most of a library out after reading a
few peaks of each entry, and the search is several times faster. The probabilities
are shared among the listed hits (those at or above ``T``, up to
``probability_depth``).

How a search runs (:mod:`gcms.library.scan`, compiled with numba; one pass over the
library per block of up to 128 queries, on every core):

1. **Bound.** For each entry and all queries of the block at once, in float32: the
   identity dot product :math:`\sum m\sqrt{UL}` over the compared m/z range, the
   entry's and the query's norms over that range, the peaks in common :math:`n_1` and
   the ratio pairs :math:`n_2`. With the ratio term :math:`F_R \le 1`,

   .. math:: MF \le \frac{n_1 \cos^2 + n_2}{n_1 + n_2} \le \frac{1 + \cos^2}{2}.

   A floor of 600 or more uses the right-hand bound, which needs no counts
   (:math:`\cos^2 \ge 2T - 1` is then needed: ``T = 0.7`` leaves 0.01 % of the
   synthetic 350,000-entry library, 0.5 % of massbank-ei); the entry's peaks are then
   read heaviest first and the entry is dropped as soon as Cauchy-Schwarz on the
   unread ones shows that no query of the block can reach the floor.
2. **Threshold algorithm.** Per query the scan keeps the best entries met so far,
   exactly scored; an entry is scored exactly only if its bound reaches the worst of
   them (and the floor). A pilot pass first scores the entries of highest
   :math:`\cos^2` in a sample of the library, so that the threshold starts high.
3. **Exact scores and order.** The kept entries are scored again by
   :func:`gcms.library.kernels.score_pairs` (the compiled scorer is bit-identical to
   it) and sorted by the ranking score (identity MF by default) minus the
   retention-index penalty, ties by library index.
4. **Probability** from the match factors of the best ``probability_depth`` hits
   (:mod:`gcms.library.probability`).

Retention index: when both the query and an entry carry a retention index (and the
entry's column type, if stated, is the query's), ``ri_mode="window"`` drops entries
with :math:`|\Delta RI|` above ``ri_window`` and ``"penalty"`` subtracts ``ri_penalty``
match-factor units per RI unit beyond it from the ranking score. The floor applies to
the ranking score itself (the identity MF by default), before the penalty.
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

#: GPU path: margin (on the 0..1 score scale) by which a bound must miss the k-th score
#: before an entry is left out; covers float32 storage of the bounds (relative 6e-8).
BOUND_MARGIN = 1e-6
#: Pairs scored at once by the reference search (``presearch="off"``).
REFERENCE_PAIRS = 2_000_000
#: With a ``min_match_factor`` at or above this, the identity bound of the compiled scan
#: skips the counts of peaks and ratio pairs in common (:mod:`gcms.library.scan`).
COUNTS_BELOW_FLOOR = 600


@dataclass(frozen=True, slots=True)
class SearchSettings:
    """Knobs of a library search; every default is what MS Search does or a measured choice.

    Parameters
    ----------
    rank_by
        Score that orders the hit list: ``"identity"`` (MS Search Identity, "EI
        Normal"), ``"reverse"``, or ``"similarity"`` ("EI Simple").
    presearch
        ``"exact"``: bound-pruned, provably the same hit list as scoring every entry
        (module docstring). ``"off"``: score every entry (the reference, slow on large
        libraries). ``"fast"``: accepted for compatibility and run as ``"exact"`` (the
        cluster probing it used to select was slower than the exact scan and gave
        other lists for a quarter of the queries at 350,000 entries).
    low_mz
        Fixed lowest m/z compared; ``None`` (default) compares from the higher of the
        two spectra's lowest m/z, as MS Search does.
    candidates
        GPU only: entries per query scored exactly before the bound check.
    probes
        Not used (the cluster probing of the former ``"fast"`` mode).
    ri_mode, ri_window, ri_penalty
        Retention-index use (module docstring): window half-width in RI units; penalty
        in match-factor units per RI unit beyond the window.
    probability_beta, probability_depth
        Probability model (:mod:`gcms.library.probability`).
    batch_size
        Queries scored together (memory grows with it).
    min_match_factor
        Floor on the ranking score, on MS Search's 0..999 scale (``None``: no floor).
        Entries below it are not listed; every entry at or above it is, best first, up
        to the hit-list length (module docstring). A defensible floor lies below the
        lowest match factor any decision uses (e.g. 600 with a "not identified below
        700" rule, which also keeps close runners-up).
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
    min_match_factor: int | None = None

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
        if self.min_match_factor is not None and not 0 <= self.min_match_factor <= 999:
            raise ValueError(f"min_match_factor must be in 0..999 (MS Search scale), got "
                             f"{self.min_match_factor!r}")

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
        self.ri_column_code_int64 = self.ri_column_code.astype(np.int64)
        self._weights: dict[str, Any] = {}
        self._suffix: dict[tuple[str, int], np.ndarray] = {}
        self._scan: dict[str, Any] = {}

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


def _rank_scores(index: SearchIndex, qblock: QueryBlock, queries: _Queries,
                 qi: np.ndarray, li: np.ndarray, settings: SearchSettings):
    """Ranking score (with RI) of pairs, computing only the score ranked by."""
    scores = score_pairs(qblock, index.library, qi, li, low_mz=settings.low_mz,
                         scores=(settings.rank_by,))
    base = getattr(scores, settings.rank_by)
    delta, penalty, excluded = _ri_adjustment(index, queries.retention_index,
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


def _scan_pairs(index: SearchIndex, qblock: QueryBlock, queries: _Queries, depth: int,
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


def _search_batch(index: SearchIndex, queries: _Queries, lo: int, hi: int, top: int,
                  settings: SearchSettings, arrays: dict[str, np.ndarray]) -> None:
    qpeaks = queries.peaks.take(np.arange(lo, hi))
    width = max(index.max_mz, int(qpeaks.mz.max())) + 2
    qblock = QueryBlock.from_peaks(qpeaks, width=width)
    sub = _Queries(qpeaks, queries.retention_index[lo:hi], queries.ri_column_code[lo:hi])
    # Every hit shown and every hit the probabilities are shared among is certified.
    depth = max(top, settings.probability_depth)
    if settings.presearch == "off":
        qi, li, rank, delta, penalty = _every_pair(index, qblock, sub, depth, settings)
    else:
        qi, li = _scan_pairs(index, qblock, sub, depth, settings)
        rank, delta, penalty = _rank_scores(index, qblock, sub, qi, li, settings)
    _collect(index, qblock, qi, li, rank, delta, penalty, lo, hi - lo, top, settings, arrays)


def _every_pair(index: SearchIndex, qblock: QueryBlock, queries: _Queries, depth: int,
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
        rank, delta, penalty = _rank_scores(index, qblock, queries, qi, li, settings)
        merged = [np.concatenate([k, new]) for k, new in
                  zip(kept, (qi, li, rank, delta, penalty), strict=True)]
        valid = np.isfinite(merged[2])
        merged = [a[valid] for a in merged]
        order = _rank_order(merged[0], merged[1], merged[2])
        merged = [a[order] for a in merged]
        position = np.arange(merged[0].size) - np.searchsorted(merged[0], merged[0])
        kept = [a[position < depth] for a in merged]
    return tuple(kept)


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


def _result_arrays(n_queries: int, top: int) -> dict[str, np.ndarray]:
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
    arrays = _result_arrays(n_q, top)
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
