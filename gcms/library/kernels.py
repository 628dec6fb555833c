"""Vectorised scorers: every score of many (query, library entry) pairs at once.

The formulas are those of :mod:`gcms.library.scores` (the reference, one pair at a
time); this module computes the same numbers for arrays of pairs without a Python loop
over pairs or peaks:

* queries become dense rows over nominal m/z (:class:`QueryBlock`), with suffix sums of
  the norms (so the norm of a query above any cut is one lookup) and the running count
  of peaks (so "no query peak between two m/z" is one subtraction);
* each pair expands into the peaks of its library entry (CSR ranges concatenated); the
  query's abundance at each of those m/z is one gather; every sum over a pair is a
  segmented reduction (``np.add.reduceat``).

Cost is linear in the number of library peaks of the pairs scored: this is the exact
re-scoring step after the presearch, and the exhaustive search for small libraries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcms.library._peaks import PeakMatrix, expand_ranges
from gcms.library.scores import ENTROPY_WEIGHT_THRESHOLD

__all__ = ["LibraryPeaks", "PairScores", "QueryBlock", "score_pairs", "to_nist_scale"]


def to_nist_scale(scores: np.ndarray) -> np.ndarray:
    """``floor(1000 * score)`` capped to 0..999, as int32 (vector form of ``nist_scale``)."""
    return np.clip(np.floor(1000.0 * np.asarray(scores, dtype=np.float64)), 0, 999).astype(
        np.int32
    )


def entropy_weights(peaks: PeakMatrix) -> np.ndarray:
    """Per-peak entropy-weighted intensities, each row summing to 1 (Li et al. 2021).

    Rows of spectral entropy ``S < 3`` are raised to the power ``0.25 + 0.25 S`` and
    renormalised; see :func:`gcms.library.scores.entropy_similarity`.
    """
    rows = peaks.row_of_peak
    n = len(peaks)
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    starts = peaks.indptr[:-1]
    total = np.add.reduceat(peaks.abundance, starts)
    p = peaks.abundance / total[rows]
    entropy = -np.add.reduceat(p * np.log(p), starts)
    power = np.where(entropy < ENTROPY_WEIGHT_THRESHOLD, 0.25 + 0.25 * entropy, 1.0)
    weighted = p ** power[rows]
    return weighted / np.add.reduceat(weighted, starts)[rows]


@dataclass(frozen=True, slots=True, eq=False)
class LibraryPeaks:
    """Library spectra with the per-peak quantities every score needs, computed once."""

    peaks: PeakMatrix
    mass_weighted: np.ndarray  # m * L  (squared identity weight)
    entropy: np.ndarray  # entropy-weighted, row-normalised intensities
    first_mz: np.ndarray
    max_mz: int

    @classmethod
    def from_peaks(cls, peaks: PeakMatrix) -> LibraryPeaks:
        """Precompute the per-peak arrays of ``peaks``."""
        mass_weighted = peaks.mz * peaks.abundance
        return cls(
            peaks=peaks,
            mass_weighted=mass_weighted,
            entropy=entropy_weights(peaks),
            first_mz=peaks.first_mz,
            max_mz=int(peaks.mz.max()) if peaks.nnz else 0,
        )

    def __len__(self) -> int:
        return len(self.peaks)


@dataclass(frozen=True, slots=True, eq=False)
class QueryBlock:
    """Query spectra as dense rows over nominal m/z ``0 .. width-1``.

    ``abundance[q, m]`` is the query's abundance at m/z ``m`` (0 where absent);
    ``rank[q, m]`` the number of its peaks at m/z <= m; ``suffix_mass[q, c]`` and
    ``suffix_plain[q, c]`` the sums of ``m * U`` and ``U`` over m/z >= c.
    """

    abundance: np.ndarray
    rank: np.ndarray
    suffix_mass: np.ndarray
    suffix_plain: np.ndarray
    entropy: np.ndarray
    first_mz: np.ndarray

    @classmethod
    def from_peaks(cls, peaks: PeakMatrix, *, width: int) -> QueryBlock:
        """Dense rows of ``peaks``; ``width`` must exceed every m/z in them."""
        n = len(peaks)
        if peaks.nnz and int(peaks.mz.max()) >= width:
            raise ValueError(f"query m/z {int(peaks.mz.max())} beyond width {width}")
        rows = peaks.row_of_peak
        abundance = np.zeros((n, width), dtype=np.float64)
        abundance[rows, peaks.mz] = peaks.abundance
        entropy = np.zeros((n, width), dtype=np.float64)
        entropy[rows, peaks.mz] = entropy_weights(peaks)
        rank = np.cumsum(abundance > 0, axis=1, dtype=np.int32)
        masses = np.arange(width, dtype=np.float64)
        suffix_mass = np.zeros((n, width + 1), dtype=np.float64)
        suffix_mass[:, :-1] = np.cumsum((abundance * masses)[:, ::-1], axis=1)[:, ::-1]
        suffix_plain = np.zeros((n, width + 1), dtype=np.float64)
        suffix_plain[:, :-1] = np.cumsum(abundance[:, ::-1], axis=1)[:, ::-1]
        return cls(abundance, rank, suffix_mass, suffix_plain, entropy, peaks.first_mz)

    def __len__(self) -> int:
        return int(self.abundance.shape[0])

    @property
    def width(self) -> int:
        """Number of m/z columns."""
        return int(self.abundance.shape[1])


@dataclass(frozen=True, slots=True, eq=False)
class PairScores:
    """Unrounded 0..1 scores of each pair (see :mod:`gcms.library.scores`), plus counts."""

    identity: np.ndarray
    reverse: np.ndarray
    similarity: np.ndarray
    entropy: np.ndarray
    n_common: np.ndarray
    n_ratios: np.ndarray


def _segment_sum(values: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    return np.add.reduceat(values, offsets)


def score_pairs(
    queries: QueryBlock,
    library: LibraryPeaks,
    query_index: np.ndarray,
    library_index: np.ndarray,
    *,
    low_mz: int | None = None,
) -> PairScores:
    """Identity, reverse, similarity and entropy scores of the pairs (query, entry).

    Pair ``p`` is query ``query_index[p]`` of ``queries`` against library entry
    ``library_index[p]``.

    Exactly the quantities of :func:`gcms.library.scores.composite_terms` and
    :func:`gcms.library.scores.entropy_similarity`, as unrounded 0..1 floats; convert
    with :func:`to_nist_scale`.
    """
    qi = np.asarray(query_index, dtype=np.int64)
    li = np.asarray(library_index, dtype=np.int64)
    n_pairs = qi.size
    peaks = library.peaks
    width = queries.width
    if library.max_mz >= width:
        raise ValueError(f"query block width {width} does not cover library m/z "
                         f"{library.max_mz}")
    starts = peaks.indptr[li]
    lengths = peaks.indptr[li + 1] - starts
    offsets = np.cumsum(lengths) - lengths
    element = expand_ranges(starts, lengths)
    pair = np.repeat(np.arange(n_pairs, dtype=np.int64), lengths)

    m = peaks.mz[element]
    lib_abundance = peaks.abundance[element]
    flat = qi[pair] * width + m
    query_abundance = queries.abundance.ravel()[flat]
    matched = query_abundance > 0

    if low_mz is None:
        cut = np.maximum(queries.first_mz[qi], library.first_mz[li])
    else:
        cut = np.full(n_pairs, int(low_mz), dtype=np.int64)
    cut = np.minimum(cut, width)
    in_range = m >= cut[pair]

    # Norms over the range compared. Query norms are suffix sums looked up at the cut;
    # library norms are sums of the entry's peaks at or above it.
    norm_lib = _segment_sum(np.where(in_range, library.mass_weighted[element], 0.0),
                            offsets, n_pairs)
    norm_lib_plain = _segment_sum(np.where(in_range, lib_abundance, 0.0), offsets, n_pairs)
    norm_query = queries.suffix_mass[qi, cut]
    norm_query_plain = queries.suffix_plain[qi, cut]

    # Matched peaks are at or above both spectra's lowest m/z, hence always in range
    # (with a fixed low_mz they must be masked explicitly).
    if low_mz is not None:
        matched &= in_range
    root = np.sqrt(query_abundance * lib_abundance) * matched
    dot = _segment_sum(m * root, offsets, n_pairs)
    dot_plain = _segment_sum(root, offsets, n_pairs)
    norm_query_reverse = _segment_sum(m * query_abundance * matched, offsets, n_pairs)
    n_common = _segment_sum(matched.astype(np.float64), offsets, n_pairs)

    # Ratio pairs: element k and k-1 are consecutive library peaks of the same entry,
    # both matched, and no query peak lies between them (query ranks differ by one).
    ranks = queries.rank.ravel()[flat]
    neighbour = np.zeros(m.size, dtype=bool)
    if m.size > 1:
        neighbour[1:] = (
            matched[1:] & matched[:-1] & (pair[1:] == pair[:-1]) & (ranks[1:] - ranks[:-1] == 1)
        )
    k = np.flatnonzero(neighbour)
    ratio = (query_abundance[k] * lib_abundance[k - 1]) / (
        query_abundance[k - 1] * lib_abundance[k]
    )
    term = np.sqrt(np.minimum(ratio, 1.0 / ratio))
    ratio_weighted = np.bincount(pair[k], weights=m[k] * term, minlength=n_pairs)
    ratio_weight = np.bincount(pair[k], weights=m[k].astype(np.float64), minlength=n_pairs)
    n_ratios = np.bincount(pair[k], minlength=n_pairs).astype(np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        cos2 = np.where(norm_query * norm_lib > 0, dot * dot / (norm_query * norm_lib), 0.0)
        cos2_reverse = np.where(norm_query_reverse * norm_lib > 0,
                                dot * dot / (norm_query_reverse * norm_lib), 0.0)
        cos2_plain = np.where(norm_query_plain * norm_lib_plain > 0,
                              dot_plain * dot_plain / (norm_query_plain * norm_lib_plain), 0.0)
        ratio_term = np.where(ratio_weight > 0, ratio_weighted / ratio_weight, 0.0)
        total = n_common + n_ratios
        identity = np.where(n_common > 0,
                            (n_common * cos2 + n_ratios * ratio_term) / total, 0.0)
        reverse = np.where(n_common > 0,
                           (n_common * cos2_reverse + n_ratios * ratio_term) / total, 0.0)

    # Entropy similarity on the full spectra (matched peaks only contribute).
    both = np.flatnonzero(matched if low_mz is None else query_abundance > 0)
    a = queries.entropy.ravel()[flat[both]]
    b = library.entropy[element[both]]
    s = a + b
    entropy_terms = s * np.log2(s) - a * np.log2(a) - b * np.log2(b)
    entropy = 0.5 * np.bincount(pair[both], weights=entropy_terms, minlength=n_pairs)

    return PairScores(
        identity=identity,
        reverse=reverse,
        similarity=cos2_plain,
        entropy=np.clip(entropy, 0.0, 1.0),
        n_common=n_common.astype(np.int64),
        n_ratios=n_ratios.astype(np.int64),
    )
