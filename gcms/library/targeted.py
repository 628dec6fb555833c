"""Targeted scoring: a spectrum scored directly against one library entry.

A search ranks every entry and keeps the best few; a targeted score asks one question
instead ("how well does this spectrum match *that* entry?"), for an entry the search may
have ranked below its short list: the reference substance of a standard run, or a
substance of a method's target list. The scores are those of :mod:`gcms.library.scores`
(the pair-wise definitions the vectorised search reproduces exactly), so a targeted hit
and a searched one compare.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from gcms.library.search import Hit
    from gcms.library.store import Library
    from gcms.spectrum import Spectrum

__all__ = ["targeted_hit"]


def targeted_hit(library: Library, index: int, spectrum: Spectrum) -> Hit:
    """``spectrum`` scored against library entry ``index``, as a hit of rank 0.

    Rank 0 says that the hit was not found by the search; its probability is 0 (a
    probability compares the hits of one search) and it carries no retention-index
    difference or penalty (the caller judges retention).

    Parameters
    ----------
    library
        The library holding the entry.
    index
        The entry's index in ``library``.
    spectrum
        The measured spectrum (a component's pure spectrum).

    Returns
    -------
    Hit
        Identity, reverse and similarity match factors and the entropy similarity on
        MS Search's 0-999 scale (Stein & Scott 1994), ``score`` the identity term.
    """
    from gcms.library.scores import composite_terms, entropy_similarity, nist_scale
    from gcms.library.search import Hit

    entry = library.entry(index)
    reference = library.spectrum(index)
    terms = composite_terms(spectrum, reference)
    return Hit(rank=0, library_index=index, name=entry.name, inchikey=entry.inchikey,
               cas=entry.cas, formula=entry.formula, mw=entry.mw,
               match_factor=nist_scale(terms.identity),
               reverse_match_factor=nist_scale(terms.reverse),
               similarity_match_factor=nist_scale(terms.similarity),
               entropy_similarity=nist_scale(entropy_similarity(spectrum, reference)),
               probability=0.0, retention_index=entry.retention_index, delta_ri=None,
               ri_penalty=0.0, score=terms.identity, library_sha256=library.content_sha256,
               source_file=entry.source_file, source_entry=entry.source_entry,
               provenance=entry.provenance)
