"""The compiled scan: bit-identical exact scores, and the same hit lists as scoring every
entry, with and without a match-factor floor, across threads, lanes, ties and ranges."""

from __future__ import annotations

import numpy as np
import pytest

from gcms import Spectrum
from gcms.library import Library, SearchSettings, search_arrays
from gcms.library import scan as scan_module
from gcms.library._engine import index_of, prepare_queries, rank_scores
from gcms.library.kernels import QueryBlock, to_nist_scale
from gcms.library.synthetic import synthetic_library, synthetic_queries

FIELDS = ("index", "match_factor", "reverse_match_factor", "similarity_match_factor",
          "entropy_similarity", "score", "delta_ri", "ri_penalty")


def _value(v):
    return None if isinstance(v, float) and np.isnan(v) else v


def _spectra(peaks, **extra):
    return [Spectrum(mz=peaks.row(i)[0].astype(float), intensity=peaks.row(i)[1],
                     **{k: _value(v[i]) for k, v in extra.items()}) for i in range(len(peaks))]


@pytest.fixture(scope="module")
def synthetic():
    library_peaks = synthetic_library(3000, seed=31)
    query_peaks, sources = synthetic_queries(library_peaks, 150, seed=32)
    rng = np.random.default_rng(33)
    lib_ri = np.where(rng.random(len(library_peaks)) < 0.8,
                      800 + 2400 * rng.random(len(library_peaks)), np.nan)
    columns = rng.choice(["", "semi-standard non-polar", "standard polar"],
                         size=len(library_peaks), p=[0.5, 0.4, 0.1])
    library = Library.from_spectra(_spectra(library_peaks, retention_index=lib_ri,
                                            ri_column=columns))
    q_ri = lib_ri[sources] + rng.normal(0, 40, len(sources))
    q_columns = rng.choice(["", "semi-standard non-polar", "unknown phase"], size=len(sources))
    queries = _spectra(query_peaks, retention_index=q_ri, ri_column=q_columns)
    return library, queries


def _assert_same(a, b):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_allclose(a.probability, b.probability, atol=1e-9)


@pytest.mark.parametrize("settings", [
    {}, {"rank_by": "reverse"}, {"rank_by": "similarity"}, {"low_mz": 45},
    {"ri_mode": "window", "ri_window": 60}, {"ri_mode": "penalty", "ri_penalty": 2.0},
    {"min_match_factor": 650, "ri_mode": "penalty"}, {"min_match_factor": 400, "low_mz": 40},
    {"min_match_factor": 700, "rank_by": "similarity"},
])
def test_compiled_rank_is_bit_identical_to_the_vectorised_scorer(synthetic, settings):
    library, queries = synthetic
    settings = SearchSettings(**settings)
    index = index_of(library)
    prepared = prepare_queries(index, queries[:40])
    width = max(index.max_mz, int(prepared.peaks.mz.max())) + 2
    qblock = QueryBlock.from_peaks(prepared.peaks, width=width)
    rng = np.random.default_rng(5)
    # Random pairs, plus each query's 20 best entries (so floors keep some).
    best = search_arrays(library, queries[:40], top=20, settings=SearchSettings(
        presearch="off", rank_by=settings.rank_by, low_mz=settings.low_mz)).index
    qi = np.concatenate([np.repeat(np.arange(40), 150), np.repeat(np.arange(40), 20)])
    li = np.concatenate([rng.integers(len(library), size=6000), best.ravel()])
    qi, li = qi[li >= 0], li[li >= 0]
    reference, _, _ = rank_scores(index, qblock, prepared, qi, li, settings)
    kind = "plain" if settings.rank_by == "similarity" else "mass"
    lib = index.scan_library(kind)
    block = scan_module.lanes_of(qblock, np.arange(40), settings.rank_by, settings.low_mz,
                                 prepared.retention_index,
                                 prepared.ri_column_code.astype(np.int64))
    params = scan_module.score_params(settings.rank_by, settings.low_mz,
                                      settings.min_match_factor, settings.ri_mode,
                                      settings.ri_window, settings.ri_penalty)
    arrays = lib.arrays(index.retention_index, index.ri_column_code_int64)
    compiled = np.array([scan_module.pair_rank(int(r), int(j), params, arrays, block)
                         for j, r in zip(qi, li, strict=True)])
    assert np.isfinite(reference).sum() >= 30
    np.testing.assert_array_equal(compiled, reference)


@pytest.mark.parametrize("settings", [
    {"min_match_factor": 0}, {"min_match_factor": 450}, {"min_match_factor": 600},
    {"min_match_factor": 750}, {"min_match_factor": 950},
    {"min_match_factor": 600, "rank_by": "reverse"},
    {"min_match_factor": 500, "rank_by": "similarity"},
    {"min_match_factor": 650, "ri_mode": "window", "ri_window": 60},
    {"min_match_factor": 700, "ri_mode": "penalty", "ri_penalty": 3.0},
    {"min_match_factor": 600, "low_mz": 50},
])
def test_floor_search_returns_what_scoring_every_entry_returns(synthetic, settings):
    library, queries = synthetic
    exact = search_arrays(library, queries, top=10,
                          settings=SearchSettings(presearch="exact", **settings))
    full = search_arrays(library, queries, top=10,
                         settings=SearchSettings(presearch="off", **settings))
    _assert_same(exact, full)


@pytest.mark.parametrize("floor", [600, 700])
def test_floor_lists_every_entry_at_or_above_it(synthetic, floor):
    """Independent of the floor code: the complete reference list, cut at the floor."""
    library, queries = synthetic
    queries = queries[:30]
    everything = search_arrays(library, queries, top=len(library),
                               settings=SearchSettings(presearch="off"))
    floored = search_arrays(library, queries, top=15,
                            settings=SearchSettings(min_match_factor=floor))
    for q in range(len(queries)):
        keep = (everything.index[q] >= 0) & (everything.match_factor[q] >= floor)
        expected = everything.index[q][keep][:15]
        got = floored.index[q][floored.index[q] >= 0]
        np.testing.assert_array_equal(got, expected)
        assert (floored.match_factor[q][:got.size] >= floor).all()
    # Most queries have a hit at or above the floor and many lists end above 10 hits.
    assert (floored.index[:, 0] >= 0).mean() > 0.8


def test_threads_and_lane_groups_do_not_change_the_answer(synthetic, monkeypatch):
    library, queries = synthetic
    settings = SearchSettings(batch_size=150)
    baseline = search_arrays(library, queries, top=10, settings=settings)
    for n in (1, 3, 5):
        monkeypatch.setattr(scan_module, "threads", lambda n=n: n)
        monkeypatch.setattr(scan_module, "_POOL", None)
        monkeypatch.setattr(scan_module, "MIN_CHUNK_ROWS", 64)
        _assert_same(search_arrays(library, queries, top=10, settings=settings), baseline)
        _assert_same(search_arrays(library, queries[:7], top=10, settings=settings),
                     search_arrays(library, queries[:7], top=10,
                                   settings=SearchSettings(presearch="off")))
    monkeypatch.setattr(scan_module, "_POOL", None)


def test_ties_beyond_the_list_are_broken_by_library_index(monkeypatch):
    """60 identical entries scattered among others: the list takes the lowest indices,
    whichever chunk of the library each copy is scanned in."""
    rng = np.random.default_rng(41)
    target = Spectrum([41.0, 43.0, 57.0, 71.0, 85.0, 99.0], [300.0, 999.0, 640.0, 210.0, 90.0,
                                                              12.0])
    others = synthetic_library(5000, seed=42)
    spectra = _spectra(others)
    copies = np.sort(rng.choice(len(spectra), size=60, replace=False))
    for i in copies:
        spectra[i] = target.replace(name=f"copy {i}")
    library = Library.from_spectra(spectra)
    monkeypatch.setattr(scan_module, "threads", lambda: 4)
    monkeypatch.setattr(scan_module, "_POOL", None)
    monkeypatch.setattr(scan_module, "MIN_CHUNK_ROWS", 64)
    for settings in (SearchSettings(), SearchSettings(min_match_factor=900)):
        hits = search_arrays(library, [target], top=25, settings=settings)
        np.testing.assert_array_equal(hits.index[0], copies[:25])
        assert (hits.match_factor[0] == hits.match_factor[0, 0]).all()
    monkeypatch.setattr(scan_module, "_POOL", None)


def test_bounds_hold_where_rounding_is_hardest():
    """Entries whose norm lies mostly below the query's lowest m/z, spectra of hundreds
    of peaks, abundances 1..999: the float32 bounds must still never prune a hit."""
    rng = np.random.default_rng(51)
    spectra = []
    for i in range(1500):
        n = int(rng.integers(2, 400))
        mz = np.sort(rng.choice(np.arange(16, 700), size=n, replace=False)).astype(float)
        intensity = np.floor(rng.random(n) ** 4 * 999) + 1
        if i % 3 == 0:  # a huge peak below every query's range
            mz[0], intensity[0] = 16.0, 999.0
            intensity[1:] = np.minimum(intensity[1:], 3)
        spectra.append(Spectrum(mz, intensity))
    library = Library.from_spectra(spectra)
    queries = []
    for i in rng.choice(len(spectra), size=40, replace=False):
        s = spectra[i]
        keep = s.mz >= 40
        if keep.sum() < 2:
            continue
        queries.append(Spectrum(s.mz[keep], s.intensity[keep] * rng.lognormal(0, 0.3,
                                                                             keep.sum())))
    for settings in ({}, {"min_match_factor": 600}, {"rank_by": "reverse"},
                     {"rank_by": "similarity", "min_match_factor": 300}):
        exact = search_arrays(library, queries, top=10, settings=SearchSettings(**settings))
        full = search_arrays(library, queries, top=10,
                             settings=SearchSettings(presearch="off", **settings))
        _assert_same(exact, full)


def test_floor_at_999_and_queries_sharing_no_peak():
    library = Library.from_spectra([Spectrum([41.0, 43.0], [999.0, 500.0]),
                                    Spectrum([91.0, 92.0], [999.0, 80.0])])
    query = Spectrum([200.0, 201.0], [999.0, 100.0])
    assert library.search(query)[0].hits == ()
    same = Spectrum([41.0, 43.0], [999.0, 500.0])
    hits = library.search(same, settings=SearchSettings(min_match_factor=999))[0].hits
    assert [h.library_index for h in hits] == [0] and hits[0].match_factor == 999
    near = Spectrum([41.0, 43.0], [999.0, 400.0])
    assert library.search(near, settings=SearchSettings(min_match_factor=999))[0].hits == ()


def test_floor_semantics_on_hits():
    library = Library.from_spectra([Spectrum([41.0, 43.0, 57.0], [999.0, 500.0, 100.0]),
                                    Spectrum([41.0, 43.0, 57.0], [999.0, 200.0, 600.0])])
    query = Spectrum([41.0, 43.0, 57.0], [999.0, 480.0, 110.0])
    plain = library.search(query)[0].hits
    floor = min(h.match_factor for h in plain) + 1
    kept = library.search(query, settings=SearchSettings(min_match_factor=floor))[0].hits
    assert [h.library_index for h in kept] == [h.library_index for h in plain
                                               if h.match_factor >= floor]
    assert kept[0].probability == pytest.approx(100.0)  # shared among the listed hits
    assert int(to_nist_scale(np.array([kept[0].score]))[0]) == kept[0].match_factor


@pytest.mark.parametrize("bad", [-1, 1000])
def test_floor_outside_the_scale_is_refused(bad):
    with pytest.raises(ValueError, match="min_match_factor"):
        SearchSettings(min_match_factor=bad)


def test_an_empty_library_gives_empty_lists():
    library = Library.from_spectra([])
    query = Spectrum([41.0, 43.0], [999.0, 10.0])
    for settings in (SearchSettings(), SearchSettings(min_match_factor=600)):
        assert library.search(query, settings=settings)[0].hits == ()


def test_threads_follow_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert scan_module.threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert scan_module.threads() >= 1


_FORKED: dict = {}


def _search_in_child():
    library, queries = _FORKED["state"]
    return search_arrays(library, queries).index


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork of a threaded process
def test_a_forked_process_searches_with_its_own_threads(synthetic, monkeypatch):
    import multiprocessing

    library, queries = synthetic
    monkeypatch.setattr(scan_module, "threads", lambda: 2)
    monkeypatch.setattr(scan_module, "MIN_CHUNK_ROWS", 64)  # two chunks: the pool is used
    expected = search_arrays(library, queries[:5]).index  # the thread pool exists now
    _FORKED["state"] = (library, queries[:5])
    with multiprocessing.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(_search_in_child).get(timeout=120)
    np.testing.assert_array_equal(got, expected)


def test_a_small_library_is_scored_whole_with_the_lists_of_the_scan(synthetic, monkeypatch):
    """Up to SMALL_LIBRARY entries every entry is scored (no compiled scan): same lists."""
    from gcms.library import _engine

    shipped_small_library = _engine.SMALL_LIBRARY
    library, queries = synthetic
    small = Library.from_spectra([library.spectrum(i) for i in range(shipped_small_library)])
    for settings in ({}, {"min_match_factor": 600}, {"rank_by": "similarity"}):
        whole = search_arrays(small, queries[:60], top=10, settings=SearchSettings(**settings))
        monkeypatch.setattr(_engine, "SMALL_LIBRARY", 0)
        scanned = search_arrays(small, queries[:60], top=10,
                                settings=SearchSettings(**settings))
        monkeypatch.setattr(_engine, "SMALL_LIBRARY", shipped_small_library)
        _assert_same(whole, scanned)
        assert (whole.index[:, 0] >= 0).sum() >= 30
