"""How alike two spectra are.

The one comparison the deconvolution's tests and benchmarks use to score an extracted
spectrum against the true one.
"""

from __future__ import annotations

import numpy as np

from gcms.spectrum import Spectrum, nominal_mass

__all__ = ["cosine", "match_factor", "spectrum_similarity"]


def cosine(a: Spectrum, b: Spectrum) -> float:
    """Plain cosine of two spectra on nominal masses (intensities unweighted), 0–1.

    ``cos = Σ a_m b_m / (‖a‖ ‖b‖)`` over the union of nominal masses, with a missing
    mass counted as zero; duplicate nominal masses keep the larger peak (NIST rule).
    0 when either spectrum is empty.

    Parameters
    ----------
    a, b : Spectrum
        The two spectra.

    Returns
    -------
    float
        The cosine, 0–1.

    Examples
    --------
    >>> from gcms import Spectrum
    >>> from gcms.deconvolution import cosine, match_factor
    >>> extracted = Spectrum(mz=[44, 65, 91, 120], intensity=[999, 80, 300, 20])
    >>> true = Spectrum(mz=[44, 65, 91, 119, 120], intensity=[999, 60, 250, 10, 30])
    >>> round(cosine(extracted, true), 4), match_factor(extracted, true)
    (0.9987, 957)
    """
    a_nom, b_nom = a.nominal(), b.nominal()
    if not len(a_nom) or not len(b_nom):
        return 0.0
    masses = np.union1d(nominal_mass(a_nom.mz), nominal_mass(b_nom.mz))
    va = np.zeros(masses.size)
    vb = np.zeros(masses.size)
    va[np.searchsorted(masses, nominal_mass(a_nom.mz))] = a_nom.intensity
    vb[np.searchsorted(masses, nominal_mass(b_nom.mz))] = b_nom.intensity
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb / norm) if norm > 0 else 0.0


def match_factor(query: Spectrum, reference: Spectrum) -> int:
    """NIST identity match factor (0–999) of ``query`` against ``reference``.

    :func:`gcms.library.scores.identity_match_factor` (MS Search "EI Normal": m/z- and
    intensity-weighted cosine squared with the ratio term): the score a library search
    will give the extracted spectrum, far more sensitive to the small high-mass ions
    than the plain cosine.

    Parameters
    ----------
    query, reference : Spectrum
        The extracted spectrum and the one it is compared with.

    Returns
    -------
    int
        The match factor, 0–999 (see :func:`cosine` for an example).
    """
    from gcms.library.scores import identity_match_factor

    return int(identity_match_factor(query, reference))


def spectrum_similarity(a: Spectrum, b: Spectrum) -> float:
    """The similarity (0–1) used to match and score extracted spectra against true ones.

    One function, so that the test and benchmark suite switches score in one place: the
    plain :func:`cosine`, the measure the accuracy goal is stated in (cosine >= 0.95);
    :func:`match_factor` is reported beside it.

    Parameters
    ----------
    a, b : Spectrum
        The two spectra.

    Returns
    -------
    float
        Their similarity, 0–1.
    """
    return cosine(a, b)
