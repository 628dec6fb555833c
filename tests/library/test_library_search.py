"""Search: exact presearch == scoring every entry; RI; ties; settings."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gcms import Spectrum
from gcms.errors import LibraryError
from gcms.library import Library, SearchSettings, _engine, identity_match_factor, search_arrays
from gcms.library.synthetic import synthetic_library, synthetic_queries


@pytest.fixture(autouse=True)
def _scan_small_libraries(monkeypatch):
    """The small libraries here (ties, RI) go through the compiled scan, not scored whole."""
    monkeypatch.setattr(_engine, "SMALL_LIBRARY", 0)


def _spectra(peaks, **extra):
    return [Spectrum(mz=peaks.row(i)[0].astype(float), intensity=peaks.row(i)[1],
                     name=f"s{i}", **{k: v[i] for k, v in extra.items()})
            for i in range(len(peaks))]


@pytest.fixture(scope="module")
def synthetic():
    library_peaks = synthetic_library(2500, seed=7)
    query_peaks, sources = synthetic_queries(library_peaks, 40, seed=8)
    rng = np.random.default_rng(9)
    lib_ri = 800 + 2400 * rng.random(len(library_peaks))
    library = Library.from_spectra(_spectra(library_peaks, retention_index=lib_ri))
    queries = _spectra(query_peaks,
                       retention_index=lib_ri[sources] + rng.normal(0, 30, len(sources)))
    return library, queries, sources


@pytest.mark.parametrize("rank_by", ["identity", "reverse", "similarity"])
@pytest.mark.parametrize("ri_mode", ["off", "window", "penalty"])
def test_exact_presearch_returns_what_scoring_every_entry_returns(synthetic, rank_by, ri_mode):
    library, queries, _ = synthetic
    settings = {"rank_by": rank_by, "ri_mode": ri_mode}
    full = search_arrays(library, queries, top=10,
                         settings=SearchSettings(presearch="off", **settings))
    exact = search_arrays(library, queries, top=10,
                          settings=SearchSettings(presearch="exact", **settings))
    for name in ("index", "match_factor", "reverse_match_factor", "similarity_match_factor",
                 "entropy_similarity", "score"):
        np.testing.assert_array_equal(getattr(exact, name), getattr(full, name), err_msg=name)
    np.testing.assert_allclose(exact.probability, full.probability, atol=1e-9)


def test_fast_presearch_is_now_the_exact_search(synthetic):
    library, queries, sources = synthetic
    full = search_arrays(library, queries, top=10, settings=SearchSettings(presearch="off"))
    fast = search_arrays(library, queries, top=10, settings=SearchSettings(presearch="fast"))
    np.testing.assert_array_equal(fast.index, full.index)
    np.testing.assert_array_equal(fast.match_factor, full.match_factor)
    assert (full.index[:, 0] == sources).mean() >= 0.9


def test_batches_do_not_change_the_answer(synthetic):
    library, queries, _ = synthetic
    a = search_arrays(library, queries, top=5, settings=SearchSettings(batch_size=128))
    b = search_arrays(library, queries, top=5, settings=SearchSettings(batch_size=7))
    np.testing.assert_array_equal(a.index, b.index)
    np.testing.assert_allclose(a.probability, b.probability)


def test_ties_are_broken_by_library_index():
    spectrum = Spectrum([41.0, 43.0, 57.0, 71.0], [300.0, 999.0, 500.0, 120.0], name="x")
    library = Library.from_spectra([spectrum.replace(name=f"copy {i}") for i in range(6)])
    hits = library.search(spectrum, top=6)[0].hits
    assert [h.library_index for h in hits] == list(range(6))
    assert len({h.match_factor for h in hits}) == 1 and hits[0].match_factor == 999
    assert sum(h.probability for h in hits) == pytest.approx(100.0, abs=0.05)


def test_retention_index_window_and_penalty():
    spectrum = Spectrum([58.0, 91.0, 134.0], [999.0, 150.0, 10.0])
    far = spectrum.replace(name="far", retention_index=1400.0)
    near = spectrum.replace(name="near", retention_index=1180.0, intensity=[999.0, 140.0, 10.0])
    unknown = spectrum.replace(name="no RI")
    library = Library.from_spectra([far, near, unknown])
    query = spectrum.replace(name="q", retention_index=1170.0)
    plain = library.search(query, top=3)[0].hits
    assert [h.name for h in plain][0] == "far"  # identical spectrum, lower index
    window = library.search(query, top=3, settings=SearchSettings(ri_mode="window",
                                                                  ri_window=50))[0].hits
    assert [h.name for h in window] == ["no RI", "near"]  # "far" is out of the window
    assert {h.name: h.delta_ri for h in window} == {"near": -10.0, "no RI": None}
    penalty = library.search(query, top=3, settings=SearchSettings(
        ri_mode="penalty", ri_window=50, ri_penalty=1.0))[0].hits
    by_name = {h.name: h for h in penalty}
    assert by_name["far"].ri_penalty == pytest.approx(180.0)  # (230 - 50) MF units
    assert by_name["far"].match_factor == 999  # the MF itself is not changed
    assert penalty[-1].name == "far"


def test_retention_indices_on_different_columns_are_not_compared():
    spectrum = Spectrum([58.0, 91.0], [999.0, 150.0])
    library = Library.from_spectra([spectrum.replace(retention_index=1400.0,
                                                     ri_column="standard polar")])
    query = spectrum.replace(retention_index=1170.0, ri_column="semi-standard non-polar")
    hit = library.search(query, settings=SearchSettings(ri_mode="window"))[0].hits[0]
    assert hit.delta_ri is None


def test_fixed_low_mz_is_the_reference_score():
    a = Spectrum([30.0, 41.0, 43.0, 57.0], [200.0, 300.0, 999.0, 500.0])
    b = Spectrum([15.0, 41.0, 43.0, 57.0, 85.0], [999.0, 200.0, 999.0, 300.0, 50.0])
    library = Library.from_spectra([b])
    for low in (None, 10, 42):
        hit = library.search(a, settings=SearchSettings(low_mz=low))[0].hits[0]
        assert hit.match_factor == identity_match_factor(a, b, low_mz=low)


def test_a_query_without_peaks_is_named():
    library = Library.from_spectra([Spectrum([43.0], [999.0])])
    with pytest.raises(LibraryError, match="blank"):
        library.search([Spectrum([43.0], [0.0], name="blank")])


def test_hits_serialise_to_the_documented_json():
    library = Library.from_spectra([Spectrum([43.0, 57.0], [999.0, 300.0], name="hexane",
                                             cas="110-54-3")])
    result = library.search(Spectrum([43.0, 57.0], [999.0, 310.0], name="q"))[0]
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == {"query", "hits"} and data["query"] == "q"
    hit = data["hits"][0]
    assert {"name", "inchikey", "cas", "match_factor", "reverse_match_factor", "probability",
            "library_index", "similarity_match_factor", "entropy_similarity", "delta_ri",
            "library_sha256", "source_file", "source_entry", "provenance"} <= set(hit)
    assert hit["name"] == "hexane" and hit["library_index"] == 0 and hit["cas"] == "110-54-3"


@pytest.mark.parametrize("bad", [{"rank_by": "cosine"}, {"presearch": "maybe"},
                                 {"candidates": 0}, {"ri_mode": "on"}, {"low_mz": -1}])
def test_settings_refuse_unknown_modes(bad):
    with pytest.raises(ValueError):
        SearchSettings(**bad)
