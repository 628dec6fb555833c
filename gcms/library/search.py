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
   :math:`\cos^2` in the library (a sample beyond a million entries), so that the
   threshold starts high.
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

from gcms.library import _engine
from gcms.library.probability import PROBABILITY_BETA, PROBABILITY_DEPTH
from gcms.spectrum import Spectrum

if TYPE_CHECKING:
    from gcms.library.store import Library

__all__ = ["Hit", "HitArrays", "SearchResult", "SearchSettings", "search", "search_arrays"]

RankBy = Literal["identity", "reverse", "similarity"]
Presearch = Literal["exact", "fast", "off"]
RiMode = Literal["off", "window", "penalty"]
Device = Literal["cpu", "cuda"]

#: With a ``min_match_factor`` at or above this, the identity bound of the compiled scan
#: skips the counts of peaks and ratio pairs in common (:mod:`gcms.library.scan`).
COUNTS_BELOW_FLOOR = _engine.COUNTS_BELOW_FLOOR


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
        (module docstring; a library of at most 500 entries is simply scored whole).
        ``"off"``: score every entry (the reference, slow on large
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



def search_arrays(library: Library | _engine.SearchIndex, queries: Sequence[Spectrum], *,
                  top: int = 10, settings: SearchSettings | None = None,
                  device: Device = "cpu") -> HitArrays:
    """Hit lists of ``queries`` as arrays (no per-hit objects): the engine of :func:`search`.

    Parameters
    ----------
    library : Library or SearchIndex
        The library (its search index is built on first use and kept).
    queries : sequence of Spectrum
        The query spectra.
    top : int, default 10
        Hits per query.
    settings : SearchSettings, optional
        As for :func:`search`.
    device : {"cpu", "cuda"}
        As for :func:`search`.

    Returns
    -------
    HitArrays
        One row per query, ``top`` columns, best hit first: library indices (-1 where a
        list is short) and every score.

    Raises
    ------
    ValueError
        ``top`` below 1 or an unknown device.
    """
    settings = settings or SearchSettings()
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    index = library if isinstance(library, _engine.SearchIndex) else _engine.index_of(library)
    prepared = _engine.prepare_queries(index, queries)
    arrays = _engine.result_arrays(len(prepared.peaks), top)
    if device == "cuda":
        from gcms.library.gpu import search_batches_cuda

        search_batches_cuda(index, prepared, top, settings, arrays)
    elif device == "cpu":
        _engine.search_batches(index, prepared, top, settings, arrays)
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
    library : Library
        A :class:`gcms.library.Library`.
    queries : Spectrum or sequence of Spectrum
        One spectrum or a sequence (any m/z precision; nominal masses are taken).
    top : int, default 10
        Hits per query.
    settings : SearchSettings, optional
        :class:`SearchSettings` (defaults: identity ranking, exact presearch).
    device : {"cpu", "cuda"}
        ``"cpu"`` or ``"cuda"`` (needs CuPy: ``pip install 'gcms[gpu]'``); both return
        the same hit lists.

    Returns
    -------
    list of SearchResult
        One per query, in order; each holds up to ``top`` :class:`Hit` objects, best
        first, with the NIST scores (MF, RMF, similarity), the entropy similarity, the
        probability and the library's identity hash.

    Raises
    ------
    LibraryError
        A query without peaks (names it).
    MissingExtraError
        ``device="cuda"`` without CuPy.

    Examples
    --------
    >>> from gcms import Spectrum
    >>> from gcms.library import Library, search
    >>> library = Library.from_spectra([
    ...     Spectrum(mz=[44, 65, 91, 120], intensity=[999, 80, 300, 20], name="Amphetamine"),
    ...     Spectrum(mz=[58, 91, 134], intensity=[999, 150, 20], name="Methamphetamine"),
    ...     Spectrum(mz=[82, 94, 194], intensity=[200, 150, 999], name="Caffeine")])
    >>> query = Spectrum(mz=[44.1, 65.0, 91.1, 119.9], intensity=[1000, 70, 280, 25])
    >>> [(hit.name, hit.match_factor) for hit in search(library, query, top=2)[0].hits]
    [('Amphetamine', 963), ('Methamphetamine', 141)]
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
