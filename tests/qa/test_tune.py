import json
import pickle

import numpy as np
import pytest

from gcms import FormatError, Run, RunMetadata, Spectrum
from gcms.errors import ProfileError
from gcms.qa import (
    QAResult,
    TuneSettings,
    evaluate_tune,
    load_profile,
    read_tune_source,
    tune_criteria,
)
from gcms.qa.simulate import bfb_spectrum, dftpp_spectrum, pftba_run, pftba_spectrum

# 13C/12C and 15N/14N from IUPAC natural abundances, written out independently
C13 = 1.07 / 98.93
N15 = 0.364 / 99.636


def failed(result):
    return {c.key for c in result.failures}


# ---------------------------------------------------------------------- PFTBA
@pytest.mark.parametrize("profile", [False, True])
def test_default_pftba_passes_with_theoretical_isotope_ratios(profile):
    result = evaluate_tune(pftba_spectrum(profile=profile), criteria="agilent-pftba-autotune")
    assert result.verdict == "pass" and result.kind == "tune"
    assert result.criterion("isotope_70_69").value == pytest.approx(100 * C13, rel=1e-3)
    assert result.criterion("isotope_220_219").value == pytest.approx(400 * C13, rel=1e-3)
    assert result.criterion("isotope_503_502").value == pytest.approx(100 * (9 * C13 + N15),
                                                                      rel=1e-3)
    assert result.criterion("abundance_219").value == pytest.approx(55.0, rel=1e-3)
    assert result.criterion("mass_502").value == pytest.approx(502.0, abs=0.005)
    widths = [result.criterion(f"width_{m}") for m in (69, 219, 502)]
    if profile:
        assert [w.value for w in widths] == pytest.approx([0.60] * 3, abs=0.01)
        assert all(w.passed for w in widths)
    else:
        assert all(w.passed is None and "centroid" in w.note for w in widths)


def profile_shift(mz, offset):
    return pftba_spectrum(profile=True, mass_shift={mz: offset, mz + 1: offset})


PFTBA_FAILURES = [
    ("mass_69", lambda: pftba_spectrum(mass_shift={69: 0.2})),
    ("mass_219", lambda: profile_shift(219, -0.18)),
    ("mass_502", lambda: pftba_spectrum(mass_shift={502: 0.15})),
    ("abundance_219", lambda: pftba_spectrum({219: 30.0})),
    ("abundance_502", lambda: pftba_spectrum({502: 1.5})),
    ("isotope_70_69", lambda: pftba_spectrum({70: 2.5})),
    ("isotope_220_219", lambda: pftba_spectrum({220: 55.0 * 0.07})),
    ("isotope_503_502", lambda: pftba_spectrum({503: 4.0 * 0.15})),
    ("width_69", lambda: pftba_spectrum(profile=True, pw50={69: 0.40})),
    ("width_219", lambda: pftba_spectrum(profile=True, pw50={219: 0.75})),
    ("width_502", lambda: pftba_spectrum(profile=True, pw50={502: 0.40})),
    ("water_18_69", lambda: pftba_spectrum({18: 25.0})),
    ("air_28_69", lambda: pftba_spectrum({28: 12.0})),
    ("air_leak_28_32", lambda: pftba_spectrum({28: 8.0, 32: 2.0})),
]


@pytest.mark.parametrize("key, make", PFTBA_FAILURES, ids=[k for k, _ in PFTBA_FAILURES])
def test_each_pftba_criterion_fails_alone(key, make):
    result = evaluate_tune(make(), criteria="agilent-pftba-autotune")
    assert result.verdict == "fail"
    assert failed(result) == {key}


def test_air_leak_needs_nitrogen_above_threshold():
    # 28:32 of 4 but 28/69 only 2 %: no leak signature to judge
    result = evaluate_tune(pftba_spectrum({28: 2.0, 32: 0.5}), criteria="agilent-pftba-autotune")
    leak = result.criterion("air_leak_28_32")
    assert leak.passed and "no leak signature" in leak.note


def test_air_and_water_not_acquired_fail_the_verdict_saying_why():
    spectrum = pftba_spectrum()
    above_30 = spectrum.mz >= 30
    cut = spectrum.replace(mz=spectrum.mz[above_30], intensity=spectrum.intensity[above_30])
    result = evaluate_tune(cut, criteria="agilent-pftba-autotune")
    assert failed(result) == {"water_18_69", "air_28_69", "air_leak_28_32"}
    assert result.criterion("water_18_69").passed is None
    assert "not acquired" in result.criterion("water_18_69").note
    assert result.criterion("oxygen_32_69").value is not None


def test_lab_limits_from_the_profile_apply():
    profile = load_profile("agilent-5977b-gcms01")  # air_28_69 <= 5 %
    result = evaluate_tune(pftba_spectrum({28: 7.0}), profile=profile)
    assert failed(result) == {"air_28_69"}
    assert result.criterion("air_28_69").limit_text.startswith("<= 5 %")
    assert result.instrument_id == "GCMS-01"
    assert result.profile["sha256"] == profile.sha256
    default = evaluate_tune(pftba_spectrum({28: 7.0}), criteria="agilent-pftba-autotune")
    assert default.passed


def test_electron_multiplier_limits():
    profile = load_profile("agilent-5977b-gcms01")  # max 2500 V, jump 300 V
    high = evaluate_tune(pftba_spectrum(), profile=profile, electron_multiplier_v=2600)
    assert failed(high) == {"electron_multiplier_v"}
    jump = evaluate_tune(pftba_spectrum(), profile=profile, electron_multiplier_v=1900,
                         previous_electron_multiplier_v=1500)
    assert failed(jump) == {"electron_multiplier_jump_v"}
    steady = evaluate_tune(pftba_spectrum(), profile=profile, electron_multiplier_v=1600,
                           previous_electron_multiplier_v=1500)
    assert steady.passed and steady.criterion("electron_multiplier_jump_v").value == 100


def test_continuous_pftba_run_is_averaged_without_background():
    result = evaluate_tune(pftba_run(profile=True), criteria="agilent-pftba-autotune")
    assert result.passed
    assert any("no background subtracted" in n for n in result.notes)
    scans, apex = result.source["scans"], result.source["apex_scan"]
    assert apex in scans and scans == list(range(max(apex - 1, 0), min(apex + 2, 20)))
    assert result.source["background_scans"] == []


# ---------------------------------------------------------------------- DFTPP / BFB
@pytest.mark.parametrize("name", ["epa-dftpp-8270", "epa-dftpp-8270c"])
def test_default_dftpp_passes_both_editions(name):
    assert evaluate_tune(dftpp_spectrum(), criteria=name).passed


DFTPP_FAILURES = [
    ("dftpp_51", {51: 85.0}),
    ("dftpp_68", {68: 1.2}),
    ("dftpp_70", {70: 1.0}),
    ("dftpp_127", {127: 5.0}),
    ("dftpp_197", {197: 3.0}),
    ("dftpp_198", {442: 100.0, 198: 45.0, 199: 45.0 * 0.068, 443: 20.0}),
    ("dftpp_199", {199: 12.0}),
    ("dftpp_275", {275: 70.0}),
    ("dftpp_365", {365: 0.5}),
    ("dftpp_441", {441: 15.0}),
    ("dftpp_442", {442: 40.0, 443: 8.0, 441: 6.0}),
    ("dftpp_443", {443: 8.0, 441: 5.0}),
]


@pytest.mark.parametrize("key, changes", DFTPP_FAILURES, ids=[k for k, _ in DFTPP_FAILURES])
def test_each_dftpp_criterion_fails_alone(key, changes):
    result = evaluate_tune(dftpp_spectrum(changes), criteria="epa-dftpp-8270")
    assert failed(result) == {key}


def test_dftpp_441_must_be_present():
    result = evaluate_tune(dftpp_spectrum({441: 0.0}), criteria="epa-dftpp-8270")
    assert failed(result) == {"dftpp_441"}


def test_dftpp_198_or_442_may_be_the_base_peak():
    result = evaluate_tune(dftpp_spectrum({442: 120.0, 443: 24.0}), criteria="epa-dftpp-8270")
    assert result.passed
    assert "base peak" in result.criterion("dftpp_442").note


BFB_FAILURES = [
    ("bfb_50", {50: 45.0}),
    ("bfb_75", {75: 65.0}),
    ("bfb_95", {174: 110.0, 175: 110 * 0.066, 176: 110 * 0.973, 177: 110 * 0.973 * 0.066}),
    ("bfb_96", {96: 10.0}),
    ("bfb_173", {173: 3.0}),
    ("bfb_174", {174: 45.0, 175: 45 * 0.066, 176: 45 * 0.973, 177: 45 * 0.973 * 0.066}),
    ("bfb_175", {175: 8.0}),
    ("bfb_176", {176: 80.0}),
    ("bfb_177", {177: 8.0}),
]


@pytest.mark.parametrize("key, changes", BFB_FAILURES, ids=[k for k, _ in BFB_FAILURES])
def test_each_bfb_criterion_fails_alone(key, changes):
    result = evaluate_tune(bfb_spectrum(changes), criteria="epa-bfb-8260")
    assert failed(result) == {key}


def test_bfb_524_allows_more_mz_75():
    spectrum = bfb_spectrum({75: 70.0})
    assert failed(evaluate_tune(spectrum, criteria="epa-bfb-8260")) == {"bfb_75"}
    assert evaluate_tune(spectrum, criteria="epa-bfb-524.2").passed


def test_every_rule_of_every_set_has_a_failing_case():
    tested = ({k for k, _ in PFTBA_FAILURES} | {k for k, _ in DFTPP_FAILURES}
              | {k for k, _ in BFB_FAILURES})
    informational = {"oxygen_32_69", "co2_44_69"}
    for name in ("agilent-pftba-autotune", "epa-dftpp-8270", "epa-bfb-8260"):
        assert set(tune_criteria(name).keys) - informational <= tested, name


# ---------------------------------------------------------------------- from runs
def dftpp_run(extra=(), seed=3):
    from gcms.simulate import SimulationSettings, simulate

    settings = SimulationSettings(start_s=300, duration_s=120, scan_rate_hz=4, mz_min=35,
                                  mz_max=500, bleed=0.0, seed=seed)
    return simulate([(dftpp_spectrum(), 360.0, 4e6), *extra], settings=settings,
                    name="DFTPP check").run


def test_dftpp_from_a_gc_run_passes_with_background_subtracted():
    # a steady interference on m/z 197 (a peak far wider than the run)
    interference = Spectrum(mz=[197.0], intensity=[1.0])
    run = dftpp_run(extra=[(interference, 360.0, 4e7, 3000.0)])
    result = evaluate_tune(run, criteria="epa-dftpp-8270")
    assert result.passed, [(c.key, c.value) for c in result.failures]
    assert result.source["background_scans"]
    raw = evaluate_tune(run, criteria="epa-dftpp-8270", settings=TuneSettings(background="none"))
    assert failed(raw) == {"dftpp_197"}


def test_calibrant_is_detected_when_the_profile_names_several():
    profile = load_profile("quadrupole-epa-8270-dftpp")  # PFTBA and DFTPP
    result = evaluate_tune(dftpp_run(), profile=profile)
    assert result.criteria_set == "epa-dftpp-8270" and result.passed
    pftba = evaluate_tune(pftba_spectrum(), profile=profile)
    assert pftba.criteria_set == "agilent-pftba-autotune"


def test_a_run_without_the_calibrant_is_an_input_error():
    run = Run(scan_times=[0.0, 1.0], scan_offsets=[0, 1, 2], mz=[50.0, 51.0],
              intensity=[10.0, 10.0], metadata=RunMetadata(source_path="blank.D"))
    with pytest.raises(FormatError, match="blank.D: no signal on the calibrant"):
        evaluate_tune(run, criteria="epa-bfb-8260")


def test_criteria_outside_the_profile_are_refused():
    profile = load_profile("agilent-5977b-gcms01")
    with pytest.raises(ProfileError, match="not 'epa-bfb-8260'"):
        evaluate_tune(bfb_spectrum(), profile=profile, criteria="epa-bfb-8260")
    with pytest.raises(ProfileError, match="unknown tune criteria"):
        evaluate_tune(bfb_spectrum(), criteria="epa-bfb-9999")


# ---------------------------------------------------------------------- files, records
def test_spectrum_json_file_is_read_and_judged(tmp_path):
    path = tmp_path / "tune.json"
    path.write_text(json.dumps(pftba_spectrum(profile=True).to_dict()))
    result = evaluate_tune(path, criteria="agilent-pftba-autotune")
    assert result.passed and result.source["path"] == str(path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"mz": [1, 2]}')
    with pytest.raises(FormatError, match="bad.json: not a gcms spectrum JSON"):
        read_tune_source(bad)


def test_msp_tune_spectrum_is_read(tmp_path):
    pytest.importorskip("gcms.io.msp")
    spectrum = bfb_spectrum()
    peaks = "\n".join(f"{int(m)} {v:.3f}" for m, v in zip(spectrum.mz, spectrum.intensity,
                                                         strict=True))
    one = tmp_path / "bfb.msp"
    one.write_text(f"Name: BFB tune\nNum Peaks: {len(spectrum)}\n{peaks}\n\n")
    assert evaluate_tune(one, criteria="epa-bfb-8260").passed
    two = tmp_path / "two.msp"
    two.write_text(one.read_text() + one.read_text().replace("BFB tune", "again"))
    with pytest.raises(FormatError, match="holds 2 spectra"):
        read_tune_source(two)


def test_result_round_trips_through_json_and_pickle():
    result = evaluate_tune(dftpp_spectrum({197: 3.0}), criteria="epa-dftpp-8270")
    again = QAResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.to_dict() == result.to_dict()
    assert pickle.loads(pickle.dumps(result)).to_dict() == result.to_dict()
    assert result.to_dict()["verdict"] == "fail"
    dftpp_198 = [c for c in result.to_dict()["criteria"] if c["key"] == "dftpp_198"][0]
    assert dftpp_198["limit"] == "base peak, or > 50 % of m/z 442"
    assert np.isfinite([c["value"] for c in result.to_dict()["criteria"]]).all()


def test_mass_assignment_from_a_centroid_run_uses_the_reported_mz():
    run = pftba_run(pftba_spectrum(mass_shift={69: 0.14, 502: -0.04}))
    result = evaluate_tune(run, criteria="agilent-pftba-autotune")
    assert failed(result) == {"mass_69"}
    assert result.criterion("mass_69").value == pytest.approx(69.14)
    assert result.criterion("mass_502").value == pytest.approx(501.96)
