r"""Probability that a hit is the right compound, computed from the hit list.

Model (Stein, JASMS 5 (1994) 316, in its simplest form): the hits of one query
compete, and the odds of hit *i* against hit *j* grow exponentially with their
match-factor difference,

.. math:: P_i = \frac{e^{\beta\,MF_i}}{\sum_{j \le N} e^{\beta\,MF_j}} \times 100\ \%

over the best :math:`N` hits of the list (``probability_depth``, 100 as in a MS Search
hit list). Like MS Search's, the probability assumes the compound is in the library:
it says how the evidence is shared among the candidates, not whether the right one is
there at all.

Calibration of :math:`\beta` (``benchmarks/accuracy.py --calibrate``): a
replicate-spectra experiment on ``massbank-ei``. Each query is a record whose compound
(first 14 characters of the InChIKey) has another record in the library, the library
is every other record, and :math:`\beta` maximises the likelihood that the correct
compound is the one chosen (the summed :math:`P` of the hits of the query's compound).
Records listed in ``dev_queries.txt`` (the accuracy benchmark) are not used, and the
compounds are split in two halves by a hash of their InChIKey: :math:`\beta` is fitted
on one half and its reliability (predicted probability against observed frequency of
correct top hits) is checked on the other. The value below is that fit; on the three
real NIST MS Search hit lists of ``nist-hitlists`` it reproduces NIST's own
probabilities to within a few percentage points (NIST's lists imply
:math:`\beta \approx 0.040`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["NIST_PROBABILITY_BETA", "PROBABILITY_BETA", "PROBABILITY_DEPTH",
           "hit_probabilities"]

#: Slope of the log-odds per match-factor unit, fitted on replicate spectra of
#: massbank-ei (see the module docstring and benchmarks/README.md).
PROBABILITY_BETA = 0.025

#: The slope NIST MS Search's own hit lists imply (nist-hitlists), for NIST's scale.
NIST_PROBABILITY_BETA = 0.040

#: Number of best hits the probabilities are shared among. Hits further down weigh
#: exp(-beta * dMF), under 2 % of the first hit's weight 100 MF units below it.
PROBABILITY_DEPTH = 20


def hit_probabilities(
    match_factors: np.ndarray, *, beta: float = PROBABILITY_BETA, valid: np.ndarray | None = None
) -> np.ndarray:
    """Probabilities (percent) of each hit of each row; rows are hit lists, best first.

    Parameters
    ----------
    match_factors
        ``(n_queries, n_hits)`` scores on the 0..999 scale (float allowed).
    valid
        Boolean mask of the same shape: False for padding (no hit), which gets 0.
    """
    mf = np.asarray(match_factors, dtype=np.float64)
    if mf.ndim == 1:
        mf = mf[None, :]
    mask = np.ones(mf.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    safe = np.where(mask, mf, -np.inf)
    top = np.max(safe, axis=1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    weights = np.where(mask, np.exp(beta * (safe - top)), 0.0)
    total = weights.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * weights / total, 0.0)
