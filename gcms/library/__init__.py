"""Reference libraries and NIST-compatible library search.

Compile MSP/NIST text, JCAMP-DX and MassBank files into one HDF5 library
(:func:`build_library`), open it (:meth:`Library.open`) and search many spectra at
once (:func:`search`) with MS Search's identity, reverse and similarity match factors,
a calibrated probability, and the spectral entropy similarity. The scores are defined,
one pair at a time, in :mod:`gcms.library.scores`; :mod:`gcms.library.kernels` computes
the same numbers for arrays of pairs.
"""

from gcms.library.build import BuildReport, build_library
from gcms.library.scores import (
    composite_terms,
    cosine_similarity,
    entropy_similarity,
    identity_match_factor,
    reverse_match_factor,
    similarity_match_factor,
)
from gcms.library.search import Hit, HitArrays, SearchResult, SearchSettings, search, search_arrays
from gcms.library.store import FORMAT_VERSION, Library, LibraryEntry

__all__ = [
    "FORMAT_VERSION",
    "BuildReport",
    "Hit",
    "HitArrays",
    "Library",
    "LibraryEntry",
    "SearchResult",
    "SearchSettings",
    "build_library",
    "composite_terms",
    "cosine_similarity",
    "entropy_similarity",
    "identity_match_factor",
    "reverse_match_factor",
    "search",
    "search_arrays",
    "similarity_match_factor",
]
