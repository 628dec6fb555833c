r"""Reference scorers: one pair of spectra at a time, written to be read, not to be fast.

These are the definitions. The vectorised kernels (:mod:`gcms.library.kernels`) and the
GPU path must return exactly what these return; the tests hold them to it. Both spectra
are first preprocessed as MS Search does (:func:`gcms.library._peaks.search_peaks`:
nominal m/z, base peak 999, integer abundances, zero peaks dropped).

m/z range (NIST "overlap")
    Only peaks at m/z >= c count, with ``c = max(lowest m/z of the query, lowest m/z
    of the library spectrum)`` (or a fixed ``low_mz``). A query acquired from m/z 53
    says nothing about m/z 15-52, so library peaks there must not count against it; the
    high end is not cut, because a missing molecular ion *is* information. Checked
    against NIST MS Search's own hit lists: with this rule all 30 MF and RMF values of
    ``nist-hitlists`` are reproduced to the unit.

Identity match factor (MS Search "EI Normal"; Stein & Scott, JASMS 5 (1994) 859)
    .. math::

        \cos^2 = \frac{(\sum_m m\sqrt{U_m L_m})^2}{\sum_m m U_m \cdot \sum_m m L_m}

    (weights :math:`W = \sqrt{m \cdot I}`, sums over the peaks in range), and the
    ratio term over pairs of peaks that are *neighbours in the merged peak list* of
    both spectra and present in both,

    .. math::

        R_i = \sqrt{\frac{U_i L_{i-1}}{U_{i-1} L_i}}, \quad
        F_R = \frac{\sum_i m_i \min(R_i, 1/R_i)}{\sum_i m_i}

    (weights :math:`W = \sqrt{I}`, each ratio weighted by the upper m/z of its pair; a
    peak present in only one spectrum breaks the chain). With :math:`n_1` peaks in
    common and :math:`n_2` ratio pairs,

    .. math:: MF = \left\lfloor 1000 \frac{n_1 \cos^2 + n_2 F_R}{n_1 + n_2} \right\rfloor

    capped at 999, and 0 when no peak is in common.

Reverse match factor
    The same with query peaks absent from the library spectrum left out of the query
    norm of :math:`\cos^2` (only the library spectrum's peaks are judged); :math:`F_R`,
    :math:`n_1`, :math:`n_2` are those of the identity score.

Similarity match factor (MS Search "EI Simple")
    :math:`\lfloor 1000 \cos^2 \rfloor` with weights :math:`W = \sqrt{I}`, same range.

Entropy similarity (Li et al., Nat. Methods 18 (2021) 1524, unit mass)
    On the full spectra (no range cut, as ``ms_entropy`` defines it), intensities
    summed to 1; a spectrum of entropy :math:`S = -\sum p \ln p < 3` is re-weighted
    :math:`p \to p^{0.25 + 0.25 S}` and renormalised; then

    .. math:: S_{AB} = \tfrac12 \sum_{\text{common } m} [f(a+b) - f(a) - f(b)],
              \quad f(x) = x \log_2 x.

    Unlike ``ms_entropy.clean_spectrum`` no peak below 1 % of the base peak is dropped:
    small EI ions are often the diagnostic ones.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gcms.library._peaks import search_peaks
from gcms.spectrum import Spectrum

__all__ = [
    "CompositeTerms",
    "composite_terms",
    "cosine_similarity",
    "entropy_similarity",
    "identity_match_factor",
    "nist_scale",
    "reverse_match_factor",
    "similarity_match_factor",
]

#: Spectral entropy below which intensities are re-weighted (Li et al. 2021).
ENTROPY_WEIGHT_THRESHOLD = 3.0


def nist_scale(score: float) -> int:
    """A 0..1 score as MS Search prints it: ``floor(1000 * score)``, capped at 999."""
    return min(999, max(0, math.floor(1000.0 * score)))


def _peaks(spectrum: Spectrum | tuple[Any, Any]) -> dict[int, float]:
    if isinstance(spectrum, Spectrum):
        mz, intensity = spectrum.mz, spectrum.intensity
    else:
        mz, intensity = spectrum
    masses, abundance = search_peaks(np.asarray(mz), np.asarray(intensity))
    return {int(m): float(a) for m, a in zip(masses, abundance, strict=True)}


@dataclass(frozen=True, slots=True)
class CompositeTerms:
    """The parts of the NIST scores for one query/library pair (see the module docstring).

    ``cos2``, ``cos2_reverse`` and ``cos2_simple`` are the squared cosines of the
    identity, reverse and similarity scores; ``ratio_term`` is :math:`F_R`; ``n1`` the
    peaks in common, ``n2`` the ratio pairs; ``low_mz`` the start of the range compared.
    ``identity``, ``reverse`` and ``similarity`` are the unrounded 0..1 scores.
    """

    low_mz: int
    n1: int
    n2: int
    cos2: float
    cos2_reverse: float
    cos2_simple: float
    ratio_term: float
    identity: float
    reverse: float
    similarity: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def composite_terms(
    query: Spectrum | tuple[Any, Any],
    reference: Spectrum | tuple[Any, Any],
    *,
    low_mz: int | None = None,
) -> CompositeTerms:
    """Every term of the identity, reverse and similarity scores, peak by peak.

    Parameters
    ----------
    query, reference : Spectrum or tuple of (m/z, intensity) arrays
        The two spectra; each is preprocessed as MS Search does (nominal m/z, base peak
        999, integer abundances).
    low_mz : int, optional
        Lowest m/z that counts; by default the higher of the two spectra's lowest m/z
        (NIST's overlap rule).

    Returns
    -------
    CompositeTerms
        The range cut, the peak counts, the cosines, the ratio term and the three scores
        on the 0..1 scale (:func:`gcms.library.scores.nist_scale` prints them as MS Search
        does).
    """
    u_all, l_all = _peaks(query), _peaks(reference)
    if not u_all or not l_all:
        raise ValueError("both spectra need at least one peak with positive intensity")
    start = max(min(u_all), min(l_all)) if low_mz is None else int(low_mz)
    u = {m: a for m, a in u_all.items() if m >= start}
    lib = {m: a for m, a in l_all.items() if m >= start}

    dot = dot_simple = 0.0
    for m in u.keys() & lib.keys():
        dot += m * math.sqrt(u[m] * lib[m])
        dot_simple += math.sqrt(u[m] * lib[m])
    norm_u = sum(m * a for m, a in u.items())
    norm_l = sum(m * a for m, a in lib.items())
    norm_u_reverse = sum(m * a for m, a in u.items() if m in lib)
    norm_u_simple = sum(u.values())
    norm_l_simple = sum(lib.values())

    def ratio(num: float, den: float) -> float:
        return num / den if den > 0 else 0.0

    cos2 = ratio(dot * dot, norm_u * norm_l)
    cos2_reverse = ratio(dot * dot, norm_u_reverse * norm_l)
    cos2_simple = ratio(dot_simple * dot_simple, norm_u_simple * norm_l_simple)

    merged = sorted(u.keys() | lib.keys())
    n1 = sum(1 for m in merged if m in u and m in lib)
    weighted = weight = 0.0
    n2 = 0
    for previous, current in zip(merged[:-1], merged[1:], strict=True):
        if all(m in u and m in lib for m in (previous, current)):
            r = math.sqrt(u[current] * lib[previous] / (u[previous] * lib[current]))
            weighted += current * min(r, 1.0 / r)
            weight += current
            n2 += 1
    ratio_term = ratio(weighted, weight)

    def composite(c2: float) -> float:
        return (n1 * c2 + n2 * ratio_term) / (n1 + n2) if n1 else 0.0

    return CompositeTerms(
        low_mz=start, n1=n1, n2=n2, cos2=cos2, cos2_reverse=cos2_reverse,
        cos2_simple=cos2_simple, ratio_term=ratio_term, identity=composite(cos2),
        reverse=composite(cos2_reverse), similarity=cos2_simple,
    )


def identity_match_factor(query, reference, *, low_mz: int | None = None) -> int:
    """NIST identity ("EI Normal") match factor, 0..999; formula in the module docstring.

    Parameters
    ----------
    query, reference : Spectrum or tuple of (m/z, intensity) arrays
        The two spectra; each is preprocessed as MS Search does (nominal m/z, base peak
        999, integer abundances).
    low_mz : int, optional
        Lowest m/z that counts; by default the higher of the two spectra's lowest m/z
        (NIST's overlap rule).

    Returns
    -------
    int
        The match factor as MS Search prints it (0..999).

    Examples
    --------
    A query holding a peak the library spectrum lacks (m/z 77): the identity MF counts
    it against the match, the reverse MF ignores it.

    >>> from gcms.library.scores import (identity_match_factor, reverse_match_factor,
    ...                                  similarity_match_factor)
    >>> reference = ([44, 65, 91, 119, 120], [999, 60, 250, 10, 30])
    >>> query = ([44, 65, 77, 91, 120], [999, 80, 200, 300, 20])
    >>> identity_match_factor(query, reference), reverse_match_factor(query, reference)
    (828, 956)
    >>> similarity_match_factor(query, reference)
    865
    >>> identity_match_factor(reference, reference)
    999
    """
    return nist_scale(composite_terms(query, reference, low_mz=low_mz).identity)


def reverse_match_factor(query, reference, *, low_mz: int | None = None) -> int:
    """NIST reverse match factor, 0..999: query peaks absent from the library ignored.

    Parameters
    ----------
    query, reference : Spectrum or tuple of (m/z, intensity) arrays
        The two spectra; each is preprocessed as MS Search does (nominal m/z, base peak
        999, integer abundances).
    low_mz : int, optional
        Lowest m/z that counts; by default the higher of the two spectra's lowest m/z
        (NIST's overlap rule).

    Returns
    -------
    int
        The reverse match factor as MS Search prints it (0..999); see
        :func:`identity_match_factor` for an example.
    """
    return nist_scale(composite_terms(query, reference, low_mz=low_mz).reverse)


def similarity_match_factor(query, reference, *, low_mz: int | None = None) -> int:
    """NIST similarity ("EI Simple") match factor, 0..999: ``1000 cos^2`` on sqrt(I).

    Parameters
    ----------
    query, reference : Spectrum or tuple of (m/z, intensity) arrays
        The two spectra; each is preprocessed as MS Search does (nominal m/z, base peak
        999, integer abundances).
    low_mz : int, optional
        Lowest m/z that counts; by default the higher of the two spectra's lowest m/z
        (NIST's overlap rule).

    Returns
    -------
    int
        The similarity match factor (0..999); see :func:`identity_match_factor` for an
        example.
    """
    return nist_scale(composite_terms(query, reference, low_mz=low_mz).similarity)


def _entropy_weighted(peaks: dict[int, float]) -> dict[int, float]:
    total = sum(peaks.values())
    p = {m: a / total for m, a in peaks.items()}
    entropy = -sum(v * math.log(v) for v in p.values() if v > 0)
    if entropy < ENTROPY_WEIGHT_THRESHOLD:
        power = 0.25 + 0.25 * entropy
        p = {m: v**power for m, v in p.items()}
        total = sum(p.values())
        p = {m: v / total for m, v in p.items()}
    return p


def entropy_similarity(query, reference) -> float:
    """Spectral entropy similarity (0..1) on unit mass; formula in the module docstring.

    Parameters
    ----------
    query, reference : Spectrum or tuple of (m/z, intensity) arrays
        The two spectra; each is preprocessed as MS Search does (nominal m/z, base peak
        999, integer abundances).

    Returns
    -------
    float
        1 for identical spectra, 0 for spectra without a common m/z.

    Examples
    --------
    >>> from gcms.library.scores import entropy_similarity
    >>> reference = ([44, 65, 91, 119, 120], [999, 60, 250, 10, 30])
    >>> query = ([44, 65, 77, 91, 120], [999, 80, 200, 300, 20])
    >>> round(entropy_similarity(query, reference), 3)
    0.873
    >>> entropy_similarity(query, ([15, 27], [999, 500]))
    0.0
    """
    a, b = _entropy_weighted(_peaks(query)), _entropy_weighted(_peaks(reference))

    def f(x: float) -> float:
        return x * math.log2(x) if x > 0 else 0.0

    return 0.5 * sum(f(a[m] + b[m]) - f(a[m]) - f(b[m]) for m in a.keys() & b.keys())


def cosine_similarity(
    query, reference, *, mz_power: float = 0.0, intensity_power: float = 1.0
) -> float:
    """Plain cosine on unit mass with weights ``m^mz_power * I^intensity_power`` (0..1).

    No range cut; with the same powers and a tolerance below 0.5 Da this is what
    ``matchms.similarity.CosineGreedy`` computes on nominal spectra.

    Parameters
    ----------
    query, reference : Spectrum or tuple of (m/z, intensity) arrays
        The two spectra; each is preprocessed as MS Search does (nominal m/z, base peak
        999, integer abundances).
    mz_power, intensity_power : float, default 0 and 1
        Exponents of the peak weights.

    Returns
    -------
    float
        The cosine, 0..1 (0 when either spectrum has no peak).

    Examples
    --------
    >>> from gcms.library.scores import cosine_similarity
    >>> reference = ([44, 65, 91, 119, 120], [999, 60, 250, 10, 30])
    >>> query = ([44, 65, 77, 91, 120], [999, 80, 200, 300, 20])
    >>> round(cosine_similarity(query, reference), 3)
    0.981
    >>> round(cosine_similarity(query, reference, mz_power=1.0, intensity_power=0.5), 3)
    0.884
    """
    u, lib = _peaks(query), _peaks(reference)

    def w(m: int, a: float) -> float:
        return (m**mz_power) * (a**intensity_power)

    dot = sum(w(m, u[m]) * w(m, lib[m]) for m in u.keys() & lib.keys())
    nu = math.sqrt(sum(w(m, a) ** 2 for m, a in u.items()))
    nl = math.sqrt(sum(w(m, a) ** 2 for m, a in lib.items()))
    return dot / (nu * nl) if nu > 0 and nl > 0 else 0.0
