"""How alike two spectra are.

The one comparison the deconvolution's tests and benchmarks use to score an extracted
spectrum against the true one.
"""

from __future__ import annotations

import numpy as np

from gcms.spectrum import Spectrum, nominal_mass

__all__ = ["cosine", "spectrum_similarity"]


def cosine(a: Spectrum, b: Spectrum) -> float:
    """Plain cosine of two spectra on nominal masses (intensities unweighted), 0–1.

    ``cos = Σ a_m b_m / (‖a‖ ‖b‖)`` over the union of nominal masses, with a missing
    mass counted as zero; duplicate nominal masses keep the larger peak (NIST rule).
    0 when either spectrum is empty.
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


def spectrum_similarity(a: Spectrum, b: Spectrum) -> float:
    """The similarity (0–1) used to score extracted spectra against reference spectra.

    One function, so that the whole test and benchmark suite switches score in one
    place: today the plain :func:`cosine`.
    """
    return cosine(a, b)
