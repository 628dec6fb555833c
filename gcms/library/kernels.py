"""Vectorised scorers: every score of many (query, library entry) pairs at once.

The formulas are those of :mod:`gcms.library.scores` (the reference, one pair at a
time); this module computes the same numbers for arrays of pairs without a Python loop
over pairs or peaks:

* queries become dense rows over nominal m/z (``QueryBlock``), with suffix sums of
  the norms (so the norm of a query above any cut is one lookup) and the running count
  of peaks (so "no query peak between two m/z" is one subtraction);
* each pair expands into the peaks of its library entry (CSR ranges concatenated); the
  query's abundance at each of those m/z is one gather; every sum over a pair is a
  segmented reduction (``np.add.reduceat``).

Cost is linear in the number of library peaks of the pairs scored: this is the exact
re-scoring step after the compiled scan (``gcms.library.scan``), and the reference
search that scores every entry (``presearch="off"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from gcms.library._peaks import PeakMatrix, expand_ranges
from gcms.library.scores import ENTROPY_WEIGHT_THRESHOLD

__all__ = ["LibraryPeaks", "PairScores", "QueryBlock", "score_pairs", "to_nist_scale"]


def array_module(array):
    """``cupy`` for a CuPy array, else ``numpy``: the kernels run unchanged on both."""
    if type(array).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np


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
    """Unrounded 0..1 scores of each pair (see :mod:`gcms.library.scores`), plus counts.

    Scores not asked for are ``None``.
    """

    identity: np.ndarray | None
    reverse: np.ndarray | None
    similarity: np.ndarray | None
    entropy: np.ndarray | None
    n_common: np.ndarray
    n_ratios: np.ndarray | None

    def take(self, rows: np.ndarray) -> PairScores:
        """The scores of pairs ``rows`` only."""
        return PairScores(*(cast(Any, None if v is None else v[rows]) for v in (
            self.identity, self.reverse, self.similarity, self.entropy, self.n_common,
            self.n_ratios)))


ALL_SCORES = ("identity", "reverse", "similarity", "entropy")


def score_pairs(
    queries: QueryBlock,
    library: LibraryPeaks,
    query_index: np.ndarray,
    library_index: np.ndarray,
    *,
    low_mz: int | None = None,
    scores: tuple[str, ...] = ALL_SCORES,
) -> PairScores:
    """Identity, reverse, similarity and entropy scores of the pairs (query, entry).

    Pair ``p`` is query ``query_index[p]`` of ``queries`` against library entry
    ``library_index[p]``; ``scores`` names those to compute (the others are ``None``).

    Exactly the quantities of :func:`gcms.library.scores.composite_terms` and
    :func:`gcms.library.scores.entropy_similarity`, as unrounded 0..1 floats; convert
    with :func:`to_nist_scale`.
    """
    unknown = set(scores) - set(ALL_SCORES)
    if unknown:
        raise ValueError(f"unknown scores {sorted(unknown)}; known: {ALL_SCORES}")
    xp = array_module(library.peaks.indptr)
    qi = xp.asarray(query_index, dtype=xp.int64)
    li = xp.asarray(library_index, dtype=xp.int64)
    n_pairs = int(qi.size)
    peaks = library.peaks
    width = queries.width
    if library.max_mz >= width:
        raise ValueError(f"query block width {width} does not cover library m/z "
                         f"{library.max_mz}")
    starts = peaks.indptr[li]
    lengths = peaks.indptr[li + 1] - starts
    element = expand_ranges(starts, lengths)
    if xp is np:
        pair = np.repeat(np.arange(n_pairs, dtype=np.int64), lengths)
    else:  # cupy.repeat takes no array of counts
        pair = xp.searchsorted(xp.cumsum(lengths), xp.arange(element.size), side="right")
    m = peaks.mz[element]
    flat = qi[pair] * width + m
    query_abundance = queries.abundance.ravel()[flat]
    present = query_abundance > 0  # library peak also in the query (any m/z)

    if low_mz is None:
        cut = xp.maximum(queries.first_mz[qi], library.first_mz[li])
    else:
        cut = xp.full(n_pairs, int(low_mz), dtype=xp.int64)
    cut = xp.minimum(cut, width)
    # Matched peaks are at or above both spectra's lowest m/z, hence always in range
    # (with a fixed low_mz they must be checked).
    matched = present if low_mz is None else present & (m >= cut[pair])
    k = xp.flatnonzero(matched)  # matched elements, in pair order
    pk = pair[k]
    mk = m[k].astype(xp.float64)
    uk = query_abundance[k]
    lk = peaks.abundance[element[k]]
    n_common = xp.bincount(pk, minlength=n_pairs).astype(xp.float64)
    out: dict[str, np.ndarray | None] = dict.fromkeys(ALL_SCORES)
    n_ratios = None

    def range_sum(values: np.ndarray) -> np.ndarray:
        """Per pair, the sum of a per-peak library quantity over m/z >= cut."""
        kept = xp.where(m >= cut[pair], values, 0.0)
        return xp.bincount(pair, weights=kept, minlength=n_pairs)

    with np.errstate(divide="ignore", invalid="ignore"):
        if "identity" in scores or "reverse" in scores:
            root = xp.sqrt(uk * lk)
            dot = xp.bincount(pk, weights=mk * root, minlength=n_pairs)
            norm_lib = range_sum(library.mass_weighted[element])
            # Ratio pairs: consecutive library peaks of one entry, both matched, with
            # no query peak between them (query peak ranks differ by one).
            ranks = queries.rank.ravel()[flat[k]]
            neighbour = xp.zeros(k.size, dtype=bool)
            if k.size > 1:
                neighbour[1:] = ((k[1:] == k[:-1] + 1) & (pk[1:] == pk[:-1])
                                 & (ranks[1:] - ranks[:-1] == 1))
            j = xp.flatnonzero(neighbour)
            ratio = (uk[j] * lk[j - 1]) / (uk[j - 1] * lk[j])
            term = xp.sqrt(xp.minimum(ratio, 1.0 / ratio))
            ratio_weighted = xp.bincount(pk[j], weights=mk[j] * term, minlength=n_pairs)
            ratio_weight = xp.bincount(pk[j], weights=mk[j], minlength=n_pairs)
            n_ratios = xp.bincount(pk[j], minlength=n_pairs).astype(xp.float64)
            ratio_term = xp.where(ratio_weight > 0, ratio_weighted / ratio_weight, 0.0)
            total = n_common + n_ratios

            def composite(norm_query: np.ndarray) -> np.ndarray:
                cos2 = xp.where(norm_query * norm_lib > 0,
                                dot * dot / (norm_query * norm_lib), 0.0)
                return xp.where(n_common > 0,
                                (n_common * cos2 + n_ratios * ratio_term) / total, 0.0)

            if "identity" in scores:
                out["identity"] = composite(queries.suffix_mass[qi, cut])
            if "reverse" in scores:
                out["reverse"] = composite(xp.bincount(pk, weights=mk * uk, minlength=n_pairs))
        if "similarity" in scores:
            dot_plain = xp.bincount(pk, weights=xp.sqrt(uk * lk), minlength=n_pairs)
            norm_lib_plain = range_sum(peaks.abundance[element])
            norm_query_plain = queries.suffix_plain[qi, cut]
            out["similarity"] = xp.where(
                norm_query_plain * norm_lib_plain > 0,
                dot_plain * dot_plain / (norm_query_plain * norm_lib_plain), 0.0)
        if "entropy" in scores:
            # On the full spectra: every peak present in both contributes.
            both = xp.flatnonzero(present)
            a = queries.entropy.ravel()[flat[both]]
            b = library.entropy[element[both]]
            t = a + b
            terms = t * xp.log2(t) - a * xp.log2(a) - b * xp.log2(b)
            out["entropy"] = xp.clip(
                0.5 * xp.bincount(pair[both], weights=terms, minlength=n_pairs), 0.0, 1.0)

    return PairScores(
        identity=out["identity"], reverse=out["reverse"], similarity=out["similarity"],
        entropy=out["entropy"], n_common=n_common.astype(xp.int64),
        n_ratios=None if n_ratios is None else n_ratios.astype(xp.int64),
    )
