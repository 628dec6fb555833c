"""The deconvolution's machinery: results, settings, kernels against references, speed."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from scipy.optimize import nnls

from gcms import GcmsError, Run, RunMetadata, Spectrum
from gcms.deconvolution import (
    BLEED_IONS,
    Component,
    Deconvolution,
    DeconvolutionSettings,
    cosine,
    deconvolve,
    spectrum_similarity,
)
from gcms.deconvolution.extraction import fit_regions, regions_of
from gcms.deconvolution.perception import perceive, prepare
from gcms.simulate import (
    SimulationSettings,
    amount_for_snr,
    random_spectrum,
    retention_for_resolution,
    score,
    simulate,
)


@pytest.fixture(scope="module")
def pair():
    """Two compounds at Rs 0.75 sharing ions, TIC S/N 50, plus a lone third one."""
    rng = np.random.default_rng(42)
    a = random_spectrum(rng, name="a")
    b_mz = np.union1d(a.mz[np.argsort(a.intensity)[-3:]], random_spectrum(rng).mz)
    b = Spectrum(mz=b_mz, intensity=rng.uniform(50, 999, b_mz.size), name="b")
    c = random_spectrum(rng, name="c")
    settings = SimulationSettings(duration_s=300.0, start_s=100.0, seed=42)
    t2 = retention_for_resolution(200.0, 0.75, fwhm_s=settings.fwhm_s, tau_s=settings.tau_s)
    compounds = [(s, t, amount_for_snr(s, 50.0, settings=settings, on="tic"))
                 for s, t in ((a, 200.0), (b, t2), (c, 300.0))]
    sim = simulate(compounds, settings=settings)
    return sim, deconvolve(sim.run)


def test_components_match_the_truth_and_are_in_time_order(pair):
    sim, result = pair
    assert len(result) == 3
    rt = [c.rt_s for c in result]
    assert rt == sorted(rt)
    for component, truth_rt, spectrum in zip(result, sim.truth.rt_s, sim.truth.spectra,
                                             strict=True):
        assert component.rt_s == pytest.approx(truth_rt, abs=0.3)
        assert spectrum_similarity(component.spectrum, spectrum) > 0.97
        assert component.model_mz in component.ions
        assert component.start_scan <= component.scan <= component.end_scan
        assert component.profile.max() == pytest.approx(1.0)
        assert component.profile.size == component.end_scan - component.start_scan + 1
        assert sim.run.scan_times[component.scan] == pytest.approx(component.rt_s, abs=0.2)


def test_co_eluting_neighbours_sharing_ions_are_named_in_a_warning(pair):
    _, result = pair
    first, second, lone = result
    assert any(f"{second.rt_s:.2f} s" in note for note in first.warnings)
    assert any(f"{first.rt_s:.2f} s" in note for note in second.warnings)
    assert lone.warnings == ()
    assert lone.purity > 0.9
    assert first.purity < lone.purity


def test_component_and_result_serialise_and_stay_read_only(pair):
    _, result = pair
    component = result[0]
    data = json.loads(json.dumps(component.to_dict()))
    assert {"rt_s", "scan", "area", "height", "snr", "model_mz", "purity", "spectrum",
            "ions", "start_scan", "end_scan", "width_s", "profile", "warnings"} <= set(data)
    assert data["spectrum"]["mz"] == component.spectrum.mz.tolist()
    with pytest.raises(ValueError):
        component.profile[0] = 5.0
    again = pickle.loads(pickle.dumps(result))
    assert isinstance(again, Deconvolution) and len(again) == len(result)
    assert again[0].rt_s == component.rt_s
    whole = json.loads(json.dumps(result.to_dict()))
    assert whole["mz_range"] == [35, 550] and len(whole["components"]) == 3
    with pytest.raises(ValueError, match="profile has"):
        Component(rt_s=1.0, scan=0, spectrum=component.spectrum, model_mz=50, area=1.0,
                  height=1.0, snr=1.0, purity=1.0, start_scan=0, end_scan=3, width_s=1.0,
                  profile=np.ones(2))


def test_fit_equals_scipy_nnls_ion_by_ion():
    """Fast path == reference: the batched block-pivoting NNLS against scipy's, ion by ion."""
    rng = np.random.default_rng(5)
    settings = SimulationSettings(duration_s=200.0, start_s=100.0, seed=5)
    s1, s2 = random_spectrum(rng), random_spectrum(rng)
    t2 = retention_for_resolution(180.0, 0.6, fwhm_s=settings.fwhm_s, tau_s=settings.tau_s)
    sim = simulate([(s1, 180.0, amount_for_snr(s1, 40, settings=settings, on="tic")),
                    (s2, t2, amount_for_snr(s2, 40, settings=settings, on="tic"))],
                   settings=settings)
    knobs = DeconvolutionSettings(refine_profiles=False)
    prepared, maxima = prepare(sim.run, knobs)
    perception = perceive(prepared, maxima, knobs)
    fit = fit_regions(prepared, perception, refine=False)
    region = regions_of(perception.start, perception.end)
    members = np.flatnonzero(region == region[np.argmax(fit.at_apex)])
    assert members.size >= 2
    lo, hi = perception.start[members].min(), perception.end[members].max()
    design = np.zeros((hi - lo + 1, members.size + 1))
    for k, c in enumerate(members):
        design[perception.start[c] - lo : perception.end[c] - lo + 1, k] = fit.profiles[c]
    design[:, -1] = 1.0
    block = prepared.data[lo : hi + 1]
    reference = np.array([nnls(design, block[:, j], maxiter=500)[0]
                          for j in range(block.shape[1])])
    ours = fit.amplitude[members].T
    # Exact NNLS both: the same solution, zeros included, to rounding.
    np.testing.assert_allclose(ours, reference[:, :-1], rtol=1e-6,
                               atol=1e-7 * reference.max())


def test_excluded_and_bleed_ions():
    rng = np.random.default_rng(9)
    spectrum = random_spectrum(rng)
    mz = np.append(spectrum.mz, [73.0, 207.0])
    intensity = np.append(spectrum.intensity, [999.0, 999.0])
    spiked = Spectrum(mz=mz, intensity=intensity)
    settings = SimulationSettings(duration_s=200.0, start_s=100.0, seed=9)
    sim = simulate([(spiked, 200.0, amount_for_snr(spiked, 50, settings=settings, on="tic"))],
                   settings=settings)
    drop = int(spectrum.mz[np.argmax(spectrum.intensity)])
    result = deconvolve(sim.run, DeconvolutionSettings(excluded_mz=(drop,)))
    assert len(result) == 1
    component = result[0]
    assert drop not in component.ions
    assert component.model_mz not in BLEED_IONS
    assert {73, 207} <= set(component.ions.tolist())  # fitted, just never the model


def test_a_bleed_hump_is_not_a_component():
    # Bleed ions only, rising and falling as one broad hump (a column bleed surge).
    settings = SimulationSettings(duration_s=400.0, start_s=100.0, seed=1, bleed=0.0)
    bleed = Spectrum(mz=[73.0, 133.0, 207.0, 208.0, 281.0, 355.0],
                     intensity=[300.0, 80.0, 999.0, 200.0, 350.0, 140.0])
    sim = simulate([(bleed, 300.0, amount_for_snr(bleed, 40, settings=settings, on="tic"),
                     25.0, 5.0)], settings=settings)
    result = deconvolve(sim.run)
    assert len(result) == 0
    assert result.rejected


def test_settings_are_validated_and_documented():
    with pytest.raises(ValueError, match="sensitivity"):
        DeconvolutionSettings(sensitivity="extreme")
    with pytest.raises(ValueError, match="resolution"):
        DeconvolutionSettings(resolution="ultra")
    with pytest.raises(ValueError, match="mz_max"):
        DeconvolutionSettings(mz_min=300, mz_max=100)
    with pytest.raises(ValueError, match="peak_width_s"):
        DeconvolutionSettings(peak_width_s=0)
    with pytest.raises(TypeError):
        DeconvolutionSettings(sensitivty="high")  # misspelt knob: refused, not swallowed
    settings = DeconvolutionSettings(sensitivity="high", excluded_mz=[28, 32])
    assert settings.excluded_mz == (28, 32)
    assert settings.component_snr < DeconvolutionSettings().component_snr
    assert json.loads(json.dumps(settings.to_dict()))["sensitivity"] == "high"
    assert settings.replace(min_snr=20).component_snr == 20


def test_higher_sensitivity_finds_weaker_compounds_and_no_noise():
    rng = np.random.default_rng(12)
    settings = SimulationSettings(duration_s=600.0, start_s=100.0, seed=12)
    spectra = [random_spectrum(rng) for _ in range(10)]
    snrs = np.geomspace(1.0, 40.0, 10)
    sim = simulate([(s, 140.0 + 45 * k, amount_for_snr(s, snr, settings=settings, on="tic"))
                    for k, (s, snr) in enumerate(zip(spectra, snrs, strict=True))],
                   settings=settings)
    found = {}
    for level in ("very low", "medium", "very high"):
        result = deconvolve(sim.run, DeconvolutionSettings(sensitivity=level))
        found[level] = score([c.rt_s for c in result], [c.spectrum for c in result],
                             sim.truth, similarity=spectrum_similarity)
        assert found[level].precision == 1.0, level
    assert found["very low"].recall < found["medium"].recall
    assert found["very low"].recall < found["very high"].recall
    assert found["medium"].recall >= 0.8  # all from TIC S/N 3 up


def test_empty_and_tiny_runs_are_refused_by_name():
    empty = Run(scan_times=np.arange(10.0), scan_offsets=np.zeros(11, dtype=int), mz=[],
                intensity=[])
    with pytest.raises(GcmsError, match="no peaks"):
        deconvolve(empty)
    trace = Run(scan_times=np.arange(10.0), scan_offsets=np.arange(11), mz=np.zeros(10),
                intensity=np.ones(10), metadata=RunMetadata(acquisition="trace",
                                                            source_path="fid.ch"))
    with pytest.raises(GcmsError, match="fid.ch: a detector trace"):
        deconvolve(trace)
    with pytest.raises(GcmsError, match="holds no data"):
        sim = simulate([], settings=SimulationSettings(duration_s=30.0))
        deconvolve(sim.run, DeconvolutionSettings(mz_min=600, mz_max=700))


def test_cosine_against_a_plain_dictionary_computation():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a, b = random_spectrum(rng), random_spectrum(rng)
        da = dict(zip(a.mz.round().astype(int).tolist(), a.intensity.tolist(), strict=True))
        db = dict(zip(b.mz.round().astype(int).tolist(), b.intensity.tolist(), strict=True))
        dot = sum(v * db.get(m, 0.0) for m, v in da.items())
        norm = (sum(v * v for v in da.values()) * sum(v * v for v in db.values())) ** 0.5
        assert cosine(a, b) == pytest.approx(dot / norm, abs=1e-12)
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, Spectrum(mz=[], intensity=[])) == 0.0
    # Two peaks of one nominal mass: the larger counts (NIST rule), not their sum.
    split = Spectrum(mz=[50.0, 50.2, 60.0], intensity=[10.0, 30.0, 40.0])
    assert cosine(split, Spectrum(mz=[50.0, 60.0], intensity=[30.0, 40.0])) == \
        pytest.approx(1.0)


def test_a_full_run_of_3600_scans_over_35_550():
    # its speed is measured in benchmarks/deconvolution.py, beside PyMassSpec
    rng = np.random.default_rng(5)
    settings = SimulationSettings(duration_s=899.75, start_s=180.0, scan_rate_hz=4.0, seed=5)
    compounds = []
    for k in range(60):
        spectrum = random_spectrum(rng)
        t = 200.0 + 14.0 * k
        compounds.append((spectrum, t, amount_for_snr(spectrum, rng.uniform(5, 200),
                                                      settings=settings, rt_s=t, on="tic")))
    sim = simulate(compounds, settings=settings)
    assert sim.run.n_scans == 3600
    result = deconvolve(sim.run)
    assert len(result) >= 55


@pytest.mark.parametrize("n_slots", [1, 2, 5, 12])
def test_block_pivoting_nnls_equals_lawson_hanson(n_slots):
    from gcms.deconvolution.extraction import _nnls

    rng = np.random.default_rng(n_slots)
    profiles = np.abs(rng.normal(size=(4, 50, n_slots)))
    if n_slots > 1:
        profiles[:, :, 1] += 0.9 * profiles[:, :, 0]  # nearly collinear, as co-elution is
    profiles[3, :, -1] = 0.0  # a padded (empty) slot
    data = rng.normal(size=(4, 50, 40)) + 0.2
    gram = np.einsum("rlp,rlq->rpq", profiles, profiles)
    rhs = np.einsum("rlp,rlq->rpq", profiles, data)
    warm = np.abs(rng.normal(size=rhs.shape)) * (rng.random(rhs.shape) > 0.5)
    for start in (None, warm):
        ours = _nnls(gram, rhs, start=start)
        for r in range(4):
            for j in range(40):
                reference = nnls(profiles[r], data[r, :, j], maxiter=1000)[0]
                np.testing.assert_allclose(ours[r, :, j], reference, atol=1e-9)


def test_same_bits_whatever_the_blas_thread_count(tmp_path):
    """A batch worker (one BLAS thread) and this process give identical components."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, sys, numpy as np\n"
        "from gcms.simulate import *\n"
        "from gcms.deconvolution import deconvolve\n"
        "rng = np.random.default_rng(3)\n"
        "st = SimulationSettings(duration_s=200.0, start_s=100.0, seed=3)\n"
        "a, b = random_spectrum(rng), random_spectrum(rng)\n"
        "t2 = retention_for_resolution(180.0, 0.5)\n"
        "sim = simulate([(a, 180.0, amount_for_snr(a, 20, settings=st, on='tic')),\n"
        "                (b, t2, amount_for_snr(b, 20, settings=st, on='tic'))], settings=st)\n"
        "out = [c.to_dict() for c in deconvolve(sim.run)]\n"
    )
    dump = "with open(sys.argv[1], 'w') as handle:\n    json.dump(out, handle)\n"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", script + dump, str(tmp_path / "one.json")], env=env,
                   check=True)
    here: dict = {}
    exec(script, here)  # noqa: S102 - the very same computation, in this (threaded) process
    one = json.loads((tmp_path / "one.json").read_text())
    assert one == json.loads(json.dumps(here["out"])) and len(one) == 2
