"""Targeted scoring: one spectrum against one library entry, as the search scores it."""

import numpy as np

from gcms.demo import demo_library_path
from gcms.library import Library, search
from gcms.library.targeted import targeted_hit
from gcms.spectrum import Spectrum


def test_a_targeted_hit_scores_as_the_search_does():
    library = Library.open(demo_library_path())
    reference = library.spectrum(3)
    # the entry's spectrum with its second ion halved: a near match, not an exact one
    intensity = np.array(reference.intensity, dtype=np.float64)
    intensity[np.argsort(intensity)[-2]] *= 0.5
    query = Spectrum(mz=reference.mz, intensity=intensity)
    searched = {h.library_index: h for h in search(library, query, top=len(library))[0].hits}
    assert 3 in searched
    for index in (3, 0):
        hit = targeted_hit(library, index, query)
        assert hit.rank == 0 and hit.library_index == index
        assert hit.probability == 0.0 and hit.delta_ri is None
        if index in searched:
            same = searched[index]
            assert (hit.match_factor, hit.reverse_match_factor, hit.similarity_match_factor,
                    hit.entropy_similarity) == (
                same.match_factor, same.reverse_match_factor,
                same.similarity_match_factor, same.entropy_similarity)
    assert 900 <= targeted_hit(library, 3, query).match_factor < 999
