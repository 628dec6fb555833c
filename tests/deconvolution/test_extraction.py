"""Spectrum extraction: the compiled kernels against plain references.

The fit of a dense run (a chain of ~20 overlapping components in one region) is checked
ion by ion against scipy's Lawson–Hanson NNLS with the fitted profiles as the design
matrix; each compiled kernel against the numpy form it replaced (kept here as the
reference), the NNLS kernel also against scipy on random and degenerate problems.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from gcms.deconvolution import _kernels
from gcms.deconvolution.extraction import _nnls, _nnls_pivoting, fit_regions, regions_of
from gcms.deconvolution.perception import perceive, prepare
from gcms.deconvolution.settings import DeconvolutionSettings
from gcms.simulate import SimulationSettings, amount_for_snr, random_spectrum, simulate


@pytest.fixture(scope="module")
def dense():
    """24 compounds 1-3.5 s apart (FWHM 2.5 s): one region of ~20 overlapping candidates."""
    rng = np.random.default_rng(1)
    knobs = SimulationSettings(duration_s=160.0, start_s=100.0, seed=1)
    compounds, t = [], 115.0
    for _ in range(24):
        spectrum = random_spectrum(rng)
        t += rng.uniform(1.0, 3.5)
        compounds.append((spectrum, t, amount_for_snr(spectrum, rng.uniform(10, 300),
                                                      settings=knobs, rt_s=t, on="tic")))
    run = simulate(compounds, settings=knobs).run
    deconvolution = DeconvolutionSettings()
    prepared, maxima = prepare(run, deconvolution)
    return prepared, perceive(prepared, maxima, deconvolution)


@pytest.mark.parametrize("refine", [False, True])
def test_dense_region_fit_equals_scipy_nnls_ion_by_ion(dense, refine):
    """Every ion of the largest region: the fitted amplitudes are scipy's NNLS solution.

    With ``refine`` the profiles are the refined ones and the final solve is warm-started
    from the refinement's amplitudes; the solution must still be the exact one.
    """
    prepared, perception = dense
    fit = fit_regions(prepared, perception, refine=refine)
    region = regions_of(perception.start, perception.end)
    members = np.flatnonzero(region == np.bincount(region).argmax())
    assert members.size >= 15  # a chain of co-eluting components, as in dense real runs
    lo, hi = perception.start[members].min(), perception.end[members].max()
    design = np.zeros((hi - lo + 1, members.size + 1))
    for k, c in enumerate(members):
        design[perception.start[c] - lo : perception.end[c] - lo + 1, k] = fit.profiles[c]
    design[:, -1] = 1.0  # the flat offset
    block = prepared.data[lo : hi + 1]
    reference = np.array([nnls(design, block[:, j], maxiter=2000)[0]
                          for j in range(block.shape[1])]).T[:-1]
    ours = fit.amplitude[members]
    assert np.count_nonzero(reference) > 0.05 * reference.size
    np.testing.assert_array_equal(ours > 1e-9 * reference.max(),
                                  reference > 1e-9 * reference.max())
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-9 * reference.max())


def _problems(rng, n_regions, length, n_slots, n_ions):
    """Profiles with nearly collinear pairs and one padded (empty) slot; noisy data."""
    profiles = np.abs(rng.normal(size=(n_regions, length, n_slots)))
    profiles[:, :, 1::2] += 0.95 * profiles[:, :, 0::2]  # n_slots even
    profiles[-1, :, -1] = 0.0
    data = rng.normal(size=(n_regions, length, n_ions)) + 0.3
    gram = np.einsum("rlp,rlq->rpq", profiles, profiles)
    rhs = np.einsum("rlp,rlq->rpq", profiles, data)
    return profiles, data, gram, rhs


def _scipy(profiles, data):
    return np.array([[nnls(profiles[r], data[r, :, j], maxiter=2000)[0]
                      for j in range(data.shape[2])] for r in range(data.shape[0])]
                    ).transpose(0, 2, 1)


def test_compiled_nnls_cold_warm_and_fallback_equal_scipy(monkeypatch):
    rng = np.random.default_rng(11)
    profiles, data, gram, rhs = _problems(rng, 3, 60, 14, 50)
    reference = _scipy(profiles, data)
    near = np.maximum(reference + rng.normal(scale=0.1, size=reference.shape), 0.0)
    for start in (None, near, np.abs(rng.normal(size=rhs.shape))):
        np.testing.assert_allclose(_nnls(gram, rhs, start=start), reference, atol=1e-9)
    # A column the kernel gives up on (here: all that need more than one entering
    # variable) is flagged and solved by block pivoting instead.
    solved, failed = _kernels.nnls_gram(gram, rhs, rhs, False, 1)
    assert failed.any() and not failed.all()
    np.testing.assert_allclose(solved.transpose(0, 2, 1)[~failed],
                               reference.transpose(0, 2, 1)[~failed], atol=1e-9)
    compiled = _kernels.nnls_gram
    monkeypatch.setattr(_kernels, "nnls_gram",
                        lambda g, b, s, warm, limit: compiled(g, b, s, warm, 1))
    np.testing.assert_allclose(_nnls(gram, rhs), reference, atol=1e-9)
    np.testing.assert_allclose(_nnls_pivoting(gram, rhs), reference, atol=1e-9)


def test_compiled_nnls_degenerate_problems():
    """Identical profiles (singular Gram), all-negative data, zero data: no failure."""
    rng = np.random.default_rng(3)
    base = np.abs(rng.normal(size=(40, 1)))
    profiles = np.concatenate([base, base, np.abs(rng.normal(size=(40, 2)))], axis=1)[None]
    data = np.stack([profiles[0] @ [1.0, 1.0, 0.5, 0.0], -np.ones(40), np.zeros(40)],
                    axis=1)[None]
    gram = np.einsum("rlp,rlq->rpq", profiles, profiles)
    rhs = np.einsum("rlp,rlq->rpq", profiles, data)
    solved, failed = _kernels.nnls_gram(gram, rhs, rhs, False, 100)
    assert not failed.any()
    assert (solved >= 0).all()
    np.testing.assert_allclose(profiles[0] @ solved[0], profiles[0] @ _scipy(profiles, data)[0],
                               atol=1e-6)  # the fit, not the split between twins
    np.testing.assert_array_equal(solved[0, :, 1:], 0.0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n_slots=st.integers(1, 9),
       length=st.integers(3, 30), warm=st.booleans())
def test_compiled_nnls_property(seed, n_slots, length, warm):
    rng = np.random.default_rng(seed)
    profiles = np.abs(rng.normal(size=(2, length, n_slots))) * (rng.random((2, 1, n_slots)) > 0.2)
    data = rng.normal(size=(2, length, 6)) + rng.normal()
    gram = np.einsum("rlp,rlq->rpq", profiles, profiles)
    rhs = np.einsum("rlp,rlq->rpq", profiles, data)
    start = np.abs(rng.normal(size=rhs.shape)) * (rng.random(rhs.shape) > 0.5) if warm else None
    ours = _nnls(gram, rhs, start=start)
    # KKT conditions of the (ridge-free) problem, to rounding: x ≥ 0, gradient ≥ 0,
    # and x · gradient = 0 for every column.
    gradient = gram @ ours - rhs
    scale = max(np.abs(rhs).max(), np.abs(gram).max(), 1e-300)
    assert (ours >= 0).all()
    assert (gradient >= -1e-7 * scale).all()
    assert np.abs(ours * gradient).max() <= 1e-7 * scale * max(ours.max(), 1.0)
    if length >= n_slots + 3:  # full column rank (almost surely): the unique solution
        np.testing.assert_allclose(ours, _scipy(profiles, data), atol=1e-7 * max(1.0, ours.max()))


# ----------------------------------------------------------------- numpy references
def _hals_reference(ptp, ptx, amplitude, sweeps):
    diag = np.diagonal(ptp, axis1=1, axis2=2)
    active = diag > 0
    safe = np.where(active, diag, 1.0)
    for _ in range(sweeps):
        for k in range(ptp.shape[1]):
            grad = ptx[:, k, :] - (ptp[:, k : k + 1, :] @ amplitude)[:, 0, :]
            updated = np.maximum(amplitude[:, k, :] + grad / safe[:, k, None], 0.0)
            amplitude[:, k, :] = np.where(active[:, k, None], updated, 0.0)


def _profile_sweep_reference(profiles, x, used, window, n_components):
    used_t = np.ascontiguousarray(used.transpose(0, 2, 1))
    xat = x @ used_t
    aat = used @ used_t
    for k in range(n_components):
        norm = aat[:, k, k]
        grad = xat[:, :, k] - (profiles @ aat[:, :, k : k + 1])[:, :, 0]
        step = grad / np.where(norm > 0, norm, 1.0)[:, None]
        updated = np.maximum(profiles[:, :, k] + step, 0.0) * window[:, :, k]
        profiles[:, :, k] = np.where((norm > 0)[:, None], updated, profiles[:, :, k])


def _unimodal_reference(profiles):
    length = profiles.shape[1]
    index = np.arange(length)[None, :, None]
    apex = np.argmax(profiles, axis=1)[:, None, :]
    left = np.where(index <= apex, profiles, np.inf)
    left = np.minimum.accumulate(left[:, ::-1], axis=1)[:, ::-1]
    right = np.where(index >= apex, profiles, np.inf)
    right = np.minimum.accumulate(right, axis=1)
    return np.where(index <= apex, left, right)


@pytest.fixture(scope="module")
def windowed():
    """A stack of regions whose profiles are zero outside their windows, as in a fit."""
    rng = np.random.default_rng(7)
    n_regions, length, n_comp, n_ions = 3, 48, 6, 40
    window = np.zeros((n_regions, length, n_comp), dtype=bool)
    for r in range(n_regions):
        for k in range(n_comp):
            lo = rng.integers(0, length - 8)
            window[r, lo : lo + rng.integers(5, 20), k] = True
    window[2, :, 3] = False  # a component without a window (no data)
    profiles = np.zeros((n_regions, length, n_comp + 1))
    profiles[:, :, :n_comp] = rng.random((n_regions, length, n_comp)) * window
    profiles[:, : length - 5, n_comp] = 1.0  # the offset, over the valid rows
    x = rng.normal(size=(n_regions, length, n_ions)) + 0.5
    amplitude = np.abs(rng.normal(size=(n_regions, n_comp + 1, n_ions)))
    amplitude *= rng.random(amplitude.shape) > 0.6
    return profiles, x, amplitude, window, n_comp


def test_hals_kernels_equal_numpy_forms(windowed):
    profiles, x, amplitude, window, n_comp = windowed
    ptp, ptx = _kernels.profile_products(profiles, x)
    np.testing.assert_allclose(ptp, np.einsum("rlp,rlq->rpq", profiles, profiles), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(ptx, np.einsum("rlp,rlq->rpq", profiles, x), rtol=1e-12,
                               atol=1e-12)
    ours, reference = amplitude.copy(), amplitude.copy()
    _kernels.hals_amplitudes(ptp, ptx, ours, 4)
    _hals_reference(ptp, ptx, reference, 4)
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)
    assert (ours[2, 3] == 0).all()  # the empty slot stays zero
    used = amplitude.copy()
    aat = used @ np.ascontiguousarray(used.transpose(0, 2, 1))
    ours, reference = profiles.copy(), profiles.copy()
    _kernels.hals_profiles(ours, x, used, aat, window, n_comp)
    _profile_sweep_reference(reference, x, used, window, n_comp)
    np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12)
    assert not np.allclose(ours, profiles)  # the sweep did something


def test_unimodal_kernel_is_bit_identical(windowed):
    profiles = windowed[0]
    rng = np.random.default_rng(2)
    for stack in (profiles, np.round(profiles, 1), np.zeros((2, 9, 3)),
                  rng.random((4, 31, 5)), np.ascontiguousarray(profiles[:, :, :-1])):
        np.testing.assert_array_equal(_kernels.unimodal(stack), _unimodal_reference(stack))


def test_main_ion_fit_equals_numpy_form(windowed):
    profiles, x, amplitude, window, n_comp = windowed
    rng = np.random.default_rng(4)
    variance = rng.random(x.shape)
    stack_row = np.repeat(np.arange(3), n_comp)
    slot = np.tile(np.arange(n_comp), 3)
    inside = window[stack_row, :, slot]
    ions = np.argsort(amplitude[stack_row, slot], axis=1)[:, -5:]
    steps = np.arange(x.shape[1])[None, :, None]
    observed = x[stack_row[:, None, None], steps, ions[:, None, :]]
    weights = amplitude[stack_row[:, None, None], np.arange(n_comp + 1)[None, :, None],
                        ions[:, None, :]]
    model = np.einsum("clk,ckj->clj", profiles[stack_row], weights)
    mask = inside[:, :, None]
    residual, total, expected = _kernels.main_ion_fit(x, variance, profiles, amplitude,
                                                      stack_row, ions, inside)
    np.testing.assert_allclose(residual, ((observed - model) ** 2 * mask).sum(axis=(1, 2)),
                               rtol=1e-12)
    np.testing.assert_allclose(total, (observed**2 * mask).sum(axis=(1, 2)), rtol=1e-12)
    np.testing.assert_allclose(
        expected, (variance[stack_row[:, None, None], steps, ions[:, None, :]] * mask).sum(
            axis=(1, 2)), rtol=1e-12)
