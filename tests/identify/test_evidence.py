"""Blank checks against simulated runs whose peaks are known; substances; lookalike notes."""

from __future__ import annotations

import numpy as np
import pytest

from gcms import Spectrum
from gcms.deconvolution import deconvolve
from gcms.errors import CriteriaError
from gcms.identify import (
    Substance,
    check_blank,
    diagnostic_ions,
    load_criteria,
    load_lookalikes,
    measure_ion_peak,
    name_key,
)
from gcms.simulate import SimulationSettings, amount_for_snr, simulate

METH = Spectrum(mz=np.array([56.0, 58.0, 65.0, 91.0, 134.0]),
                intensity=np.array([40.0, 999.0, 50.0, 120.0, 30.0]), name="Methamphetamine")
RT = 160.0


def settings(seed):
    return SimulationSettings(start_s=100.0, duration_s=120.0, scan_rate_hz=4.0, mz_min=40,
                              mz_max=200, background=150.0, bleed=0.0, threshold=300.0,
                              spikes_per_scan=0.0, seed=seed)


def run_with(snr, seed):
    st = settings(seed)
    items = [(METH, RT, amount_for_snr(METH, snr, settings=st, rt_s=RT))] if snr else []
    return simulate(items, settings=st)


def test_matched_filter_height_against_the_simulated_truth():
    for snr, seed in ((800.0, 1), (60.0, 2)):
        sim = run_with(snr, seed)
        noise = deconvolve(sim.run).noise
        peak = measure_ion_peak(sim.run, 58, RT, search_s=2.0, width_s=2.5, noise=noise)
        # independent: the truth's total-ion apex height times the base ion's share
        expected = sim.truth.height[0] * 999.0 / METH.intensity.sum()
        assert peak.height == pytest.approx(expected, rel=0.12)
        assert abs(peak.rt_s - RT) <= 0.5
        assert peak.support == 1.0


def test_clean_blanks_are_not_flagged_and_carry_over_is_measured():
    ions = [(58, 100.0), (91, 12.0)]
    exhibit = run_with(800.0, 3)
    exhibit_noise = deconvolve(exhibit.run).noise
    flagged = 0
    for seed in range(4, 12):
        blank = run_with(0.0, seed).run
        check = check_blank(blank, deconvolve(blank).noise, substance="Methamphetamine",
                            file="blank.cdf", position=1, ions=ions, rt_s=RT, search_s=2.0,
                            width_s=2.5, reference_run=exhibit.run, reference_noise=exhibit_noise)
        flagged += check.detected
    assert flagged == 0
    carried = run_with(800.0 * 0.2, 20).run
    check = check_blank(carried, deconvolve(carried).noise, substance="Methamphetamine",
                        file="blank.cdf", position=1, ions=ions, rt_s=RT, search_s=2.0,
                        width_s=2.5, reference_run=exhibit.run, reference_noise=exhibit_noise)
    assert check.detected
    assert check.percent == pytest.approx(20.0, abs=3.0)
    assert check.to_dict()["blank_file"] == "blank.cdf"


def test_diagnostic_ions_in_range_strongest_first():
    assert diagnostic_ions(METH, count=3, min_relative=10.0) == [
        (58, 100.0), (91, pytest.approx(12.012, abs=1e-3))]
    assert [m for m, _ in diagnostic_ions(METH, count=5, min_relative=1.0)] == [58, 91, 65, 56,
                                                                                  134]
    assert [m for m, _ in diagnostic_ions(METH, count=3, min_relative=1.0,
                                          mz_range=(60, 200))] == [91, 65, 134]


def test_substance_identity():
    assert name_key("N,N-Dimethyl benzylamine") == name_key("n,n-dimethylbenzylamine")
    assert name_key("Δ9-THC") == "delta9thc"
    a = Substance("AMPHETAMINE", cas="300-62-9")
    assert a.same_as(Substance("Amphetamine"))
    assert a.same_as(Substance("Speed", cas="300-62-9"))
    assert Substance("x", inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-N").same_as(
        Substance("y", inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-O"))       # protonation only
    dex = Substance("Dexamphetamine", inchikey="KWTSXDURSIMDCE-QMMMGPOBSA-N")
    racemic = Substance("Amphetamine", inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-N")
    assert not dex.same_as(racemic) and dex.stereoisomer_of(racemic)
    assert Substance("Methamphetamine", synonyms=("Desoxyephedrine",)).matches_name(
        "desoxyephedrine")


def test_lookalike_data_file():
    data = load_lookalikes()
    meth = Substance("Methamphetamine")
    groups = data.groups_of(meth)
    assert groups and "Phentermine" in groups[0].others(meth)
    assert data.groups_of(Substance("Caffeine")) == ()
    fenetylline = next(a for a in data.ambiguities if "fenetylline" in a.name)
    assert fenetylline.triggered_by([Substance("AMPHETAMINE"), Substance("Theophylline")])
    assert fenetylline.triggered_by([Substance("Amphetamine"), Substance("Caffeine")]) is None
    assert fenetylline.triggered_by([Substance("Fenetylline")])


def test_bad_lookalike_file_is_named(tmp_path):
    path = tmp_path / "groups.toml"
    path.write_text('[[lookalike]]\nname = "x"\nmembers = ["only one"]\nstatement = "s"\n',
                    encoding="utf-8")
    with pytest.raises(CriteriaError, match=r"groups\.toml: lookalike\[0\]\.members"):
        load_lookalikes(path)


def test_shipped_profiles_and_lookalikes_are_package_data():
    from importlib import resources

    folder = resources.files("gcms.identify")
    assert (folder / "lookalikes.toml").is_file()
    assert (folder / "profiles" / "swgdrug-gcms.toml").is_file()
    assert load_criteria("enfsi-dwg").basis


def test_ion_signal_is_the_extracted_ion_snr_of_the_simulated_truth():
    from gcms.identify import ion_signal

    for snr, seed in ((600.0, 4), (40.0, 5), (12.0, 6)):
        st = SimulationSettings(start_s=100.0, duration_s=120.0, scan_rate_hz=4.0, mz_min=40,
                                mz_max=200, background=400.0, bleed=0.0, threshold=0.0,
                                spikes_per_scan=0.0, seed=seed)
        sim = simulate([(METH, RT, amount_for_snr(METH, snr, settings=st, rt_s=RT))],
                       settings=st)
        noise = deconvolve(sim.run).noise
        (base, qualifier) = ion_signal(sim.run, [58, 91], RT,
                                       width_s=float(sim.truth.fwhm_s[0]), noise=noise)
        # independent: the simulator's own S/N of the base-peak ion chromatogram (apex
        # height over the counting noise of the background it put there)
        assert base.peak_snr == pytest.approx(float(sim.truth.snr[0]), rel=0.25)
        if snr > 100:  # m/z 91 is 12 % of the base peak: its S/N about 12 % of it
            assert qualifier.peak_snr == pytest.approx(0.12 * base.peak_snr, rel=0.35)
        assert qualifier.to_dict()["peak_snr"] == pytest.approx(qualifier.peak_snr)


@pytest.mark.parametrize(("position", "blanks", "runs", "expected"), [
    (10, [0], [1, 2, 9], (None, 0, 9)),          # standards after the only blank
    (10, [0, 9], [1, 2, 8], (9, 9, 8)),          # a blank after the last standard counts
    (10, [0, 5], [1, 2, 8], (None, 5, 8)),       # the last blank is not after the last one
    (10, [], [3], (None, None, 3)),              # no blank at all
    (10, [0, 4], [], (4, 4, None)),              # nothing holds the analyte: last blank
    (3, [0, 5], [1, 4], (None, 0, 1)),           # later runs do not count
])
def test_the_blank_that_counts(position, blanks, runs, expected):
    from gcms.identify import counting_blank

    assert counting_blank(position, blanks, runs) == expected
