"""Deconvolution of GC-MS runs into components with pure spectra.

``deconvolve(run)`` finds where compounds elute (ions that maximise together, AMDIS's
component perception), takes each compound's elution profile from its sharpest ion (the
model ion), fits every ion trace to the overlapping model profiles by non-negative
least squares to extract each compound's pure spectrum and area, and rejects noise,
solvent tails, column bleed and compounds split in two. See
:mod:`gcms.deconvolution.perception` and :mod:`gcms.deconvolution.extraction` for the
method, :class:`DeconvolutionSettings` for the knobs.

>>> from gcms.deconvolution import deconvolve            # doctest: +SKIP
>>> for component in deconvolve(run):                    # doctest: +SKIP
...     print(component.rt_s, component.model_mz, component.spectrum.base_peak_mz)
"""

from gcms.deconvolution.component import Component, Deconvolution
from gcms.deconvolution.pipeline import deconvolve
from gcms.deconvolution.settings import BLEED_IONS, DeconvolutionSettings
from gcms.deconvolution.similarity import cosine, match_factor, spectrum_similarity

__all__ = [
    "BLEED_IONS",
    "Component",
    "Deconvolution",
    "DeconvolutionSettings",
    "cosine",
    "deconvolve",
    "match_factor",
    "spectrum_similarity",
]
