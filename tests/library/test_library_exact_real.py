"""The exact search on real spectra: held-out MassBank records and adversarial libraries
(exact duplicates, near-duplicates, scaled copies: ties everywhere) give the same hit
lists as scoring every entry, with and without floors."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from gcms import Spectrum
from gcms.library import Library, SearchSettings, build_library, search_arrays

FIELDS = ("index", "match_factor", "reverse_match_factor", "similarity_match_factor",
          "entropy_similarity", "score")
#: Contributors read whole (all but the largest), and records of the largest one.
SMALL = ("GL_Sciences_Inc", "Kazusa", "Kyoto_Univ", "MSSJ", "NILU", "Nihon_Univ",
         "Osaka_Univ", "RIKEN", "Tottori_Univ", "UOEH")
LARGE_RECORDS = 600


def _spectrum(library: Library, i: int, scale: float = 1.0, jitter=None) -> Spectrum:
    mz, abundance = library.peaks.row(i)
    abundance = abundance * scale if jitter is None else abundance * jitter(abundance.size)
    return Spectrum(mz=mz.astype(float), intensity=abundance)


@pytest.fixture(scope="module")
def real():
    """A real library with the held-out dev queries removed, plus adversarial entries."""
    root = shared_file("massbank-ei")
    large = sorted((root / "Fac_Eng_Univ_Tokyo").glob("*.txt"))[:LARGE_RECORDS]
    compiled = build_library([root / name for name in SMALL] + large).library
    held = {line.strip() for line in (root / "dev_queries.txt").read_text().splitlines()}
    sources = [str(s) for s in compiled.column("source_file")]
    is_held = np.array([any(s.endswith(h) for h in held) for s in sources])
    assert is_held.sum() >= 40  # the held-out real queries
    kept = np.flatnonzero(~is_held)
    rng = np.random.default_rng(7)
    spectra = [_spectrum(compiled, int(i)) for i in kept]
    picked = rng.choice(len(spectra), size=300, replace=False)
    adversarial = []
    for n, i in enumerate(picked):
        base = spectra[int(i)]
        if n % 3 == 0:  # an exact duplicate: the same score, ties broken by index
            adversarial.append(base)
        elif n % 3 == 1:  # the same spectrum at twice the intensity (normalised alike)
            adversarial.append(Spectrum(mz=base.mz, intensity=2.0 * base.intensity))
        else:  # a near-duplicate: scores differing in the last digits
            adversarial.append(Spectrum(mz=base.mz, intensity=base.intensity * (
                1.0 + 1e-9 * rng.standard_normal(base.mz.size))))
    library = Library.from_spectra(spectra + adversarial)
    queries = [_spectrum(compiled, int(i)) for i in np.flatnonzero(is_held)]
    queries += [spectra[int(i)] for i in picked[:60]]  # queries with tied best hits
    return library, queries


@pytest.mark.slow
@pytest.mark.parametrize("settings", [
    {}, {"min_match_factor": 600}, {"min_match_factor": 700}, {"rank_by": "similarity"},
    {"rank_by": "reverse"},
])
def test_exact_search_of_real_and_tied_spectra_equals_scoring_every_entry(real, settings):
    library, queries = real
    exact = search_arrays(library, queries, top=10, settings=SearchSettings(**settings))
    full = search_arrays(library, queries, top=10,
                         settings=SearchSettings(presearch="off", **settings))
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(exact, name), getattr(full, name),
                                      err_msg=name)
    np.testing.assert_allclose(exact.probability, full.probability, atol=1e-9)
    if not settings:
        # the tied queries: their duplicate is listed right after them, by index
        tied = exact.match_factor[-60:, :2]
        assert (tied[:, 0] == tied[:, 1]).mean() > 0.3
