import json
import math

import numpy as np
import pytest

import gcms.io
from gcms import Spectrum
from gcms.simulate import (
    BLEED_SPECTRUM,
    COMMON_EI_IONS,
    SimulatedCompound,
    SimulationSettings,
    amount_for_snr,
    emg,
    random_spectrum,
    retention_for_resolution,
    simulate,
)

QUIET = dict(background=0.0, bleed=0.0, spikes_per_scan=0.0, skew=None, mz_jitter=0.0)


def test_emg_has_unit_area_and_no_overflow():
    t = np.linspace(-200, 400, 600_001)
    for sigma, tau in ((1.0, 0.0), (1.0, 0.5), (0.5, 3.0), (2.0, 0.01)):
        values = emg(t, 0.0, sigma, tau)
        assert np.isfinite(values).all()
        assert np.trapezoid(values, t) == pytest.approx(1.0, rel=1e-6)
    gauss = np.exp(-0.5 * t**2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(emg(t, 0.0, 1.0, 0.0), gauss, atol=1e-12)
    # Its mean is μ + τ and its variance σ² + τ² (the moments of a sum of variables).
    values = emg(t, 5.0, 1.0, 2.0)
    mean = np.trapezoid(t * values, t)
    assert mean == pytest.approx(7.0, rel=1e-6)
    assert np.trapezoid((t - mean) ** 2 * values, t) == pytest.approx(5.0, rel=1e-5)


def test_retention_for_resolution_gives_that_resolution():
    fwhm, tau = 2.5, 0.5
    t1 = 300.0
    t2 = retention_for_resolution(t1, 0.5, fwhm_s=fwhm, tau_s=tau)
    # Independently: σ_t from the second moment of the EMG, Rs = 2Δt / (4σ_t + 4σ_t).
    t = np.linspace(250, 380, 1_300_001)
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    values = emg(t, 0.0 + 300.0, sigma, tau)
    mean = np.trapezoid(t * values, t)
    sigma_t = math.sqrt(np.trapezoid((t - mean) ** 2 * values, t))
    assert 2 * (t2 - t1) / (8 * sigma_t) == pytest.approx(0.5, rel=1e-4)
    assert retention_for_resolution(t1, 1.5, fwhm_s=fwhm, tau_s=tau) - t1 == \
        pytest.approx(3 * (t2 - t1))


def test_random_spectra_look_like_ei_spectra():
    rng = np.random.default_rng(0)
    spectra = [random_spectrum(rng) for _ in range(200)]
    for s in spectra:
        assert s.intensity.max() == 999
        assert s.mz.min() >= 35 and s.mz.max() <= s.mw
        assert np.all(np.diff(s.mz) > 0) and np.all(s.intensity >= 1)
        assert 10 <= len(s) <= 85
        # A few dominant ions, most peaks small.
        assert np.mean(s.intensity < 500) > 0.7
    sizes = [len(s) for s in spectra]
    assert min(sizes) < 25 and max(sizes) > 70
    # Unrelated compounds share common ions, as real ones do.
    shared = [bool(set(a.mz.astype(int)) & set(b.mz.astype(int)) & set(COMMON_EI_IONS))
              for a, b in zip(spectra[::2], spectra[1::2], strict=True)]
    assert np.mean(shared) > 0.5
    # Seeded: same spectrum again.
    np.testing.assert_array_equal(random_spectrum(7).intensity, random_spectrum(7).intensity)
    assert random_spectrum(3, mw=150, n_peaks=20, name="x").name == "x"
    with pytest.raises(ValueError, match="mw"):
        random_spectrum(1, mw=40)


def _quiet_settings(**changes):
    values = dict(duration_s=120.0, start_s=100.0, scan_rate_hz=8.0, gain=1e-3,
                  tau_s=0.8, seed=3, **QUIET)
    values.update(changes)
    return SimulationSettings(**values)


def test_a_noise_free_run_puts_each_compound_where_and_as_the_truth_says():
    rng = np.random.default_rng(1)
    a, b = random_spectrum(rng, name="a"), random_spectrum(rng, name="b")
    sim = simulate([(a, 140.0, 2e6), SimulatedCompound(b, 180.0, 5e5, fwhm_s=4.0)],
                   settings=_quiet_settings())
    run, truth = sim.run, sim.truth
    assert truth.names == ("a", "b")
    for k, (rt, amount) in enumerate(((140.0, 2e6), (180.0, 5e5))):
        window = (run.scan_times > rt - 15) & (run.scan_times < rt + 25)
        t, tic = run.scan_times[window], run.tic[window]
        assert t[np.argmax(tic)] == pytest.approx(rt, abs=0.07)
        assert np.trapezoid(tic, t) == pytest.approx(amount, rel=2e-3)
        assert tic.max() == pytest.approx(truth.height[k], rel=0.01)
        apex = run.scan(run.scan_index_at(rt)).nominal()
        expected = truth.spectra[k]
        got = dict(zip(apex.mz.astype(int), apex.intensity, strict=True))
        values = np.array([got.get(int(m), 0.0) for m in expected.mz])
        cosine = values @ expected.intensity / np.linalg.norm(values) / np.linalg.norm(
            expected.intensity)
        assert cosine > 0.9999
    assert truth.fwhm_s[1] == 4.0 and truth.fwhm_s[0] == 2.5


def _apex_time(column, t):
    i = int(np.argmax(column))
    a, b, c = column[i - 1], column[i], column[i + 1]
    return t[i] + 0.5 * (a - c) / (a - 2 * b + c) * (t[1] - t[0])


def test_spectral_skew_moves_heavy_ions_by_the_sweep():
    spectrum = Spectrum(mz=[40.0, 540.0], intensity=[999.0, 999.0])
    for skew, sign in (("up", -1), ("down", 1)):
        sim = simulate([(spectrum, 150.0, 1e7)],
                       settings=_quiet_settings(scan_rate_hz=2.0, skew=skew, tau_s=0.0))
        m = sim.run.matrix(35, 550)
        t = sim.run.scan_times

        shift = _apex_time(m[:, 540 - 35], t) - _apex_time(m[:, 40 - 35], t)
        # The sweep covers 35..550 in 0.5 s: 500 u apart is 0.485 s apart.
        assert shift == pytest.approx(sign * 0.5 * 500 / 515, abs=0.03)


def test_counting_noise_background_drift_and_bleed():
    settings = SimulationSettings(duration_s=600.0, scan_rate_hz=4.0, spikes_per_scan=0.0,
                                  gain=9.0, background=500.0, drift=0.5, bleed=5000.0)
    sim = simulate([], settings=settings)
    m = sim.run.matrix(35, 550)
    # An ion with background only: variance = gain × mean (Poisson counts × gain).
    col = m[: m.shape[0] // 6, 45 - 35]
    assert col.var() == pytest.approx(9.0 * col.mean(), rel=0.15)
    # Drift raises the background; bleed (m/z 207) rises steeply to the end.
    low = m[:, 36 - 35]
    assert low[-200:].mean() > 1.3 * low[:200].mean()
    bleed = m[:, 207 - 35]
    assert bleed[-40:].mean() == pytest.approx(5000.0, rel=0.15)
    assert bleed[:40].mean() < 0.1 * 5000.0
    assert dict(BLEED_SPECTRUM)[207] == 100.0


def test_threshold_drops_small_abundances():
    settings = SimulationSettings(duration_s=60.0, threshold=150.0, seed=1)
    sim = simulate([(random_spectrum(2), 100.0, 5e5)], settings=settings)
    assert sim.run.intensity.min() >= 150.0
    assert sim.run.n_peaks < sim.run.n_scans * 516 / 4


def test_truth_snr_is_the_measured_one():
    spectrum = random_spectrum(5)
    settings = SimulationSettings(duration_s=400.0, start_s=100.0, spikes_per_scan=0.0,
                                  bleed=0.0, drift=0.0, seed=2)
    sim = simulate([(spectrum, 300.0, amount_for_snr(spectrum, 20.0, settings=settings))],
                   settings=settings)
    base = int(sim.truth.spectra[0].base_peak_mz)
    trace = sim.run.matrix(35, 550)[:, base - 35]
    t = sim.run.scan_times
    blank = trace[(t > 110) & (t < 260)]
    apex = trace[np.abs(t - 300.0) < 0.2].mean() - blank.mean()
    measured = apex / blank.std()
    assert sim.truth.snr[0] == pytest.approx(measured, rel=0.2)
    assert 8 < sim.truth.snr[0] < 50  # near the 20 asked for (per-ion scatter)
    tic_amount = amount_for_snr(spectrum, 10.0, settings=settings, on="tic")
    again = simulate([(spectrum, 300.0, tic_amount)], settings=settings)
    assert again.truth.tic_snr[0] == pytest.approx(10.0, rel=0.15)
    with pytest.raises(ValueError, match="on"):
        amount_for_snr(spectrum, 10.0, on="xic")


def test_same_seed_same_run_and_ground_truth_serialises():
    spectrum = random_spectrum(4)
    one = simulate([(spectrum, 150.0, 1e6)], settings=SimulationSettings(duration_s=60,
                                                                         start_s=120, seed=9))
    two = simulate([(spectrum, 150.0, 1e6)], settings=SimulationSettings(duration_s=60,
                                                                         start_s=120, seed=9))
    np.testing.assert_array_equal(one.run.intensity, two.run.intensity)
    other = simulate([(spectrum, 150.0, 1e6)], settings=SimulationSettings(duration_s=60,
                                                                           start_s=120, seed=8))
    assert other.run.n_peaks != one.run.n_peaks or \
        not np.array_equal(other.run.intensity, one.run.intensity)
    record = json.loads(json.dumps(one.truth.to_dict()))["compounds"][0]
    assert record["rt_s"] == 150.0 and record["spectrum"]["intensity"][0] > 0
    assert one.run.metadata.format == "simulated"


def test_written_as_andi_netcdf_and_read_back(tmp_path):
    sim = simulate([(random_spectrum(6), 130.0, 8e5)],
                   settings=SimulationSettings(duration_s=60.0, start_s=100.0, threshold=30))
    path = tmp_path / "sim.cdf"
    sim.write(path)
    run = gcms.io.read(path)
    np.testing.assert_allclose(run.scan_times, sim.run.scan_times)
    np.testing.assert_array_equal(run.scan_offsets, sim.run.scan_offsets)
    np.testing.assert_allclose(run.mz, sim.run.mz, atol=1e-6)
    np.testing.assert_allclose(run.intensity, sim.run.intensity, rtol=1e-6)


def test_bad_compounds_and_settings_are_refused():
    spectrum = random_spectrum(1)
    with pytest.raises(ValueError, match="amount"):
        SimulatedCompound(spectrum, 100.0, -1.0)
    with pytest.raises(TypeError, match="gcms.Spectrum"):
        SimulatedCompound({"mz": [1]}, 100.0, 1.0)
    with pytest.raises(ValueError, match="no peak inside"):
        simulate([(Spectrum(mz=[600.0], intensity=[1.0]), 100.0, 1.0)],
                 settings=SimulationSettings(duration_s=10))
    with pytest.raises(ValueError, match="scan_rate_hz"):
        SimulationSettings(scan_rate_hz=0)
    with pytest.raises(ValueError, match="skew"):
        SimulationSettings(skew="sideways")
