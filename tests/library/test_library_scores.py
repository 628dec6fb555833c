"""Scores: hand-computed composite and reverse values, parity with matchms and ms_entropy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gcms import Spectrum
from gcms.library import scores
from gcms.library.scores import composite_terms, nist_scale

from .scorer_contract import ScorerContract, random_spectrum


class TestIdentity(ScorerContract):
    kernel_field = "identity"

    def score(self, query, reference):
        return scores.identity_match_factor(query, reference)


class TestReverse(ScorerContract):
    kernel_field = "reverse"
    symmetric = False

    def score(self, query, reference):
        return scores.reverse_match_factor(query, reference)


class TestSimilarity(ScorerContract):
    kernel_field = "similarity"

    def score(self, query, reference):
        return scores.similarity_match_factor(query, reference)


class TestEntropy(ScorerContract):
    kernel_field = "entropy"
    maximum = 1.0

    def score(self, query, reference):
        return scores.entropy_similarity(query, reference)


class TestCosine(ScorerContract):
    maximum = 1.0

    def score(self, query, reference):
        return scores.cosine_similarity(query, reference, mz_power=1.0, intensity_power=0.5)


def peaks(mapping):
    return np.array(list(mapping), dtype=float), np.array(list(mapping.values()), dtype=float)


# --------------------------------------------------------------------------- hand computed


def test_composite_and_reverse_by_hand():
    # Query 50:999 51:500 52:250, library 50:999 51:250 53:500; both start at m/z 50.
    query, library = peaks({50: 999, 51: 500, 52: 250}), peaks({50: 999, 51: 250, 53: 500})
    dot = 50 * 999 + 51 * math.sqrt(500 * 250)  # peaks 50 and 51 in common
    norm_q = 50 * 999 + 51 * 500 + 52 * 250
    norm_l = 50 * 999 + 51 * 250 + 53 * 500
    cos2 = dot**2 / (norm_q * norm_l)
    # One ratio pair (50, 51): R = sqrt(500*999 / (999*250)) = sqrt(2), weight 51.
    ratio = 1 / math.sqrt(2)
    identity = (2 * cos2 + 1 * ratio) / 3
    cos2_reverse = dot**2 / ((50 * 999 + 51 * 500) * norm_l)  # query 52 ignored
    reverse = (2 * cos2_reverse + ratio) / 3
    simple = (999 + math.sqrt(500 * 250)) ** 2 / ((999 + 500 + 250) * (999 + 250 + 500))

    terms = composite_terms(query, library)
    assert (terms.n1, terms.n2, terms.low_mz) == (2, 1, 50)
    assert terms.cos2 == pytest.approx(cos2, rel=1e-12)
    assert terms.ratio_term == pytest.approx(ratio, rel=1e-12)
    assert terms.identity == pytest.approx(identity, rel=1e-12)
    assert terms.reverse == pytest.approx(reverse, rel=1e-12)
    assert terms.similarity == pytest.approx(simple, rel=1e-12)
    assert scores.identity_match_factor(query, library) == 626 == math.floor(1000 * identity)
    assert scores.reverse_match_factor(query, library) == 693 == math.floor(1000 * reverse)
    assert scores.similarity_match_factor(query, library) == 598


def test_library_peaks_below_the_query_range_do_not_count():
    # Query acquired from m/z 53; the library's m/z 27 lies outside what was compared.
    query, library = peaks({53: 100, 55: 999}), peaks({27: 999, 53: 300, 55: 500})
    dot = 53 * math.sqrt(100 * 300) + 55 * math.sqrt(999 * 500)
    ratio = min(r := math.sqrt(999 * 300 / (100 * 500)), 1 / r)
    cos2_overlap = dot**2 / ((53 * 100 + 55 * 999) * (53 * 300 + 55 * 500))
    cos2_full = dot**2 / ((53 * 100 + 55 * 999) * (27 * 999 + 53 * 300 + 55 * 500))
    assert scores.identity_match_factor(query, library) == math.floor(
        1000 * (2 * cos2_overlap + ratio) / 3) == 724
    assert scores.identity_match_factor(query, library, low_mz=0) == math.floor(
        1000 * (2 * cos2_full + ratio) / 3) == 499


def test_a_peak_in_one_spectrum_only_breaks_the_ratio_chain():
    query = peaks({50: 999, 51: 400, 52: 300})
    joined = peaks({50: 999, 51: 400, 52: 300})
    broken = peaks({50: 999, 51: 400, 52: 300, 60: 1})
    assert composite_terms(query, joined).n2 == 2
    split = peaks({50: 999, 52: 300})  # 51 only in the query: no pair spans it
    assert composite_terms(query, split).n2 == 0
    # A library-only peak above the common ones adds no pair and removes none.
    assert composite_terms(query, broken).n2 == 2


def test_no_common_peak_scores_zero_and_identical_scores_999():
    s = peaks({41: 200, 43: 999, 57: 500})
    assert scores.identity_match_factor(s, s) == 999
    assert nist_scale(1.0) == 999 and nist_scale(0.9999) == 999 and nist_scale(-0.1) == 0


def test_spectrum_objects_and_nominal_masses_are_accepted():
    a = Spectrum(mz=[57.05, 57.3, 71.1], intensity=[10.0, 50.0, 25.0])
    b = Spectrum(mz=[57.0, 71.0], intensity=[999.0, 500.0])
    # 57.05 and 57.3 share nominal mass 57; the larger (50) is kept: a == b after scaling.
    assert scores.identity_match_factor(a, b) == 999


# --------------------------------------------------------------------------- parity


def _matchms(pair, **kwargs):
    from matchms import Spectrum as MS
    from matchms.similarity import CosineGreedy

    a, b = (MS(mz=m, intensities=i, metadata={}, metadata_harmonization=False)
            for m, i in pair)
    return float(CosineGreedy(tolerance=0.1, **kwargs).pair(a, b)["score"])


def _nominal_integer(rng, low):
    mz, intensity = random_spectrum(rng, low=low)
    from gcms.library._peaks import search_peaks

    m, a = search_peaks(mz, intensity)
    return m.astype(float), a


def test_cosine_terms_match_matchms():
    rng = np.random.default_rng(11)
    for _ in range(25):
        # Both spectra start at m/z 30, so the overlap cut removes nothing and matchms
        # sees exactly the integer spectra gcms scores.
        a, b = (_starting_at_30(rng) for _ in range(2))
        terms = composite_terms(a, b)
        assert terms.low_mz == 30
        assert math.sqrt(terms.cos2) == pytest.approx(
            _matchms((a, b), mz_power=0.5, intensity_power=0.5), abs=1e-6)
        assert math.sqrt(terms.similarity) == pytest.approx(
            _matchms((a, b), mz_power=0.0, intensity_power=0.5), abs=1e-6)
        assert scores.cosine_similarity(a, b) == pytest.approx(
            _matchms((a, b), mz_power=0.0, intensity_power=1.0), abs=1e-6)


def _starting_at_30(rng):
    from gcms.library._peaks import search_peaks

    mz, intensity = random_spectrum(rng, low=31)
    mz = np.append(mz, 30.0)
    intensity = np.append(intensity, intensity.max())
    m, a = search_peaks(mz, intensity)
    return m.astype(float), a


def test_entropy_matches_ms_entropy():
    import ms_entropy

    rng = np.random.default_rng(12)
    for _ in range(40):
        a, b = _nominal_integer(rng, 20), _nominal_integer(rng, 20)
        theirs = ms_entropy.calculate_entropy_similarity(
            np.column_stack(a).astype(np.float32), np.column_stack(b).astype(np.float32),
            ms2_tolerance_in_da=0.05, noise_threshold=0.0)
        assert scores.entropy_similarity(a, b) == pytest.approx(theirs, abs=1e-6)
