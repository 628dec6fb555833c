"""The GPU path: same hit lists as the CPU. Runs with CuPy on a GPU, and with NumPy and
SciPy standing in for CuPy everywhere else (the same code, minus the device)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import scipy.sparse

from gcms import Spectrum
from gcms.errors import MissingExtraError
from gcms.library import Library, SearchSettings, search_arrays
from gcms.library._engine import index_of, prepare_queries, result_arrays
from gcms.library.synthetic import synthetic_library, synthetic_queries


def _spectra(peaks, **extra):
    return [Spectrum(mz=peaks.row(i)[0].astype(float), intensity=peaks.row(i)[1],
                     **{k: v[i] for k, v in extra.items()}) for i in range(len(peaks))]


@pytest.fixture(scope="module")
def synthetic():
    library_peaks = synthetic_library(3000, seed=21)
    query_peaks, sources = synthetic_queries(library_peaks, 50, seed=22)
    rng = np.random.default_rng(23)
    lib_ri = 800 + 2400 * rng.random(len(library_peaks))
    library = Library.from_spectra(_spectra(library_peaks, retention_index=lib_ri))
    queries = _spectra(query_peaks, retention_index=lib_ri[sources] + rng.normal(0, 40, 50))
    return library, queries


@pytest.mark.parametrize("settings", [
    SearchSettings(), SearchSettings(rank_by="reverse"), SearchSettings(rank_by="similarity"),
    SearchSettings(ri_mode="window", ri_window=60), SearchSettings(ri_mode="penalty"),
    SearchSettings(low_mz=45), SearchSettings(batch_size=17),
    SearchSettings(min_match_factor=650), SearchSettings(min_match_factor=500, rank_by="reverse"),
    SearchSettings(min_match_factor=700, ri_mode="penalty", ri_penalty=2.0),
])
def test_gpu_code_path_with_numpy_equals_cpu(synthetic, settings):
    from gcms.library.gpu import search_batches_on

    library, queries = synthetic
    cpu = search_arrays(library, queries, top=10, settings=settings)
    index = index_of(library)
    arrays = result_arrays(len(queries), 10)
    search_batches_on(np, scipy.sparse, index, prepare_queries(index, queries), 10, settings,
                      arrays)
    for name in ("index", "match_factor", "reverse_match_factor", "score"):
        np.testing.assert_array_equal(arrays[name], getattr(cpu, name), err_msg=name)
    np.testing.assert_allclose(arrays["probability"], cpu.probability, atol=1e-9)


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None, reason="CuPy is installed")
def test_cuda_without_cupy_names_the_extra(synthetic):
    library, queries = synthetic
    with pytest.raises(MissingExtraError, match=r"pip install 'gcms\[gpu\]'"):
        library.search(queries[:1], device="cuda")


def _gpu_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    import cupy

    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except cupy.cuda.runtime.CUDARuntimeError:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _gpu_available(), reason="needs an NVIDIA GPU and CuPy")
@pytest.mark.parametrize("settings", [SearchSettings(), SearchSettings(rank_by="similarity"),
                                      SearchSettings(ri_mode="penalty"),
                                      SearchSettings(min_match_factor=650)])
def test_cuda_returns_the_cpu_hit_lists(synthetic, settings):
    library, queries = synthetic
    cpu = search_arrays(library, queries, top=10, settings=SearchSettings(
        rank_by=settings.rank_by, ri_mode=settings.ri_mode,
        min_match_factor=settings.min_match_factor))
    gpu = search_arrays(library, queries, top=10, settings=settings, device="cuda")
    for name in ("index", "match_factor", "reverse_match_factor", "similarity_match_factor",
                 "entropy_similarity"):
        np.testing.assert_array_equal(getattr(gpu, name), getattr(cpu, name), err_msg=name)
    np.testing.assert_allclose(gpu.probability, cpu.probability, atol=1e-6)
