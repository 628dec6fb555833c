import json
import re

import numpy as np
import pytest

from gcms import GcmsError, Run, RunMetadata, Spectrum
from gcms.retention import FAME_METHYL_ESTERS, N_ALKANES, LadderSettings, find_ladder
from gcms.retention.simulate import alkane_spectrum, ladder_retention_times, simulate_ladder
from gcms.simulate import BLEED_SPECTRUM, SimulationSettings

ALL = list(range(8, 41))
TIMES = ladder_retention_times(ALL)

#: A non-alkane that shows on the alkane trace (m/z 57 and 71) but is not one.
ANALYTE = Spectrum(mz=[42, 57, 58, 71, 91, 105, 134, 148],
                   intensity=[80, 300, 999, 250, 120, 60, 90, 40], name="analyte")
SILOXANE = Spectrum(mz=[m for m, _ in BLEED_SPECTRUM], intensity=[i for _, i in BLEED_SPECTRUM],
                    name="siloxane")


def between(n, fraction):
    """Time a fraction of the way from Cn to Cn+1."""
    return float(TIMES[n - 8] + fraction * (TIMES[n - 7] - TIMES[n - 8]))


@pytest.fixture(scope="module")
def full_ladder():
    return simulate_ladder(extra=[(ANALYTE, between(12, 0.3), 8e5)])


def test_full_ladder_is_found_and_named_from_molecular_ions(full_ladder):
    ladder = find_ladder(full_ladder.run)
    assert ladder.carbon_numbers.tolist() == ALL
    assert ladder.naming.method == "molecular-ion" and ladder.naming.confidence == "high"
    assert ladder.molecular_ion_seen.all()
    # the spectral skew of a scanning quadrupole moves the low-mass alkane trace by up
    # to half a scan; the truth is the total-ion apex
    np.testing.assert_allclose(ladder.rt_seconds, full_ladder.truth.rt_s[:33], atol=0.5)
    assert ladder.names[0] == "C8" and ladder.retention_indices[-1] == 4000
    reasons = [d.reason for d in ladder.dropped if abs(d.rt_seconds - between(12, 0.3)) < 2]
    assert reasons and "not n-alkanes-like" in reasons[0]
    json.dumps(ladder.to_dict())


def test_calibration_from_ladder_gives_the_index_of_an_analyte(full_ladder):
    calibration = find_ladder(full_ladder.run).calibration()
    result = calibration.apply(full_ladder.truth.rt_s[33])
    assert result.retention_index[0] == pytest.approx(1230.0, abs=1.0)
    assert not result.extrapolated[0]
    assert calibration.source["sample_name"].startswith("simulated n-alkane ladder")


def test_without_spectral_skew_apex_times_are_exact():
    settings = SimulationSettings(start_s=180, duration_s=700, scan_rate_hz=2, mz_min=35,
                                  mz_max=400, skew=None)
    sim = simulate_ladder(range(8, 21), settings=settings)
    ladder = find_ladder(sim.run)
    np.testing.assert_allclose(ladder.rt_seconds, sim.truth.rt_s, atol=0.1)


def test_even_numbered_standard_is_named_with_step_two():
    even = list(range(10, 41, 2))
    sim = simulate_ladder(even, rt_seconds=TIMES[[n - 8 for n in even]])
    ladder = find_ladder(sim.run)
    assert ladder.carbon_numbers.tolist() == even
    assert ladder.naming.step == 2 and ladder.naming.confidence == "high"


def test_missing_members_are_inferred_from_spacing():
    carbons = [n for n in ALL if n not in (15, 22, 23)]
    sim = simulate_ladder(carbons, rt_seconds=TIMES[[n - 8 for n in carbons]])
    ladder = find_ladder(sim.run)
    assert ladder.carbon_numbers.tolist() == carbons
    assert "2 missing member(s)" in ladder.naming.statement


def test_missing_members_without_molecular_ions_still_named_by_spacing():
    carbons = [n for n in ALL if n not in (15, 22, 23)]
    sim = simulate_ladder(carbons, rt_seconds=TIMES[[n - 8 for n in carbons]], molecular_ion=0)
    ladder = find_ladder(sim.run)
    assert ladder.carbon_numbers.tolist() == carbons
    assert ladder.naming.method == "assumed-first-carbon"


def test_contaminants_between_members_are_dropped():
    extra = [
        (alkane_spectrum(19, molecular_ion=0), between(17, 0.12), 1.5e6),  # pristane-like
        (SILOXANE, between(20, 0.5), 2e6),
        (alkane_spectrum(27, molecular_ion=0), between(25, 0.4), 2e5),
    ]
    ladder = find_ladder(simulate_ladder(extra=extra).run)
    assert ladder.carbon_numbers.tolist() == ALL
    dropped = sorted(round(d.rt_seconds) for d in ladder.dropped)
    assert round(between(17, 0.12)) in dropped and round(between(25, 0.4)) in dropped
    assert ladder.naming.confidence == "high"


def test_without_molecular_ions_the_first_carbon_is_assumed_and_said_so():
    run = simulate_ladder(molecular_ion=0).run
    ladder = find_ladder(run)
    assert ladder.carbon_numbers.tolist() == ALL
    assert ladder.naming.method == "assumed-first-carbon"
    assert ladder.naming.confidence == "low"
    assert "Confirm one member" in ladder.naming.statement
    assert not ladder.molecular_ion_seen.any()


def test_a_wrong_assumption_is_caught_by_fragments_heavier_than_the_name():
    carbons = list(range(12, 41))
    run = simulate_ladder(carbons, rt_seconds=TIMES[4:], molecular_ion=0).run
    wrong = find_ladder(run)  # assumes C8
    assert wrong.carbon_numbers[0] == 8
    assert wrong.naming.fragment_conflicts > 20
    assert "fragments too heavy" in wrong.naming.statement
    right = find_ladder(run, first_carbon=12)
    assert right.carbon_numbers.tolist() == carbons and right.naming.fragment_conflicts == 0


def test_expected_retention_times_name_the_ladder():
    run = simulate_ladder(molecular_ion=0).run
    expected = {12: float(TIMES[4]) + 3.0, 20: float(TIMES[12]) - 2.0}
    ladder = find_ladder(run, expected_rt_s=expected)
    assert ladder.carbon_numbers.tolist() == ALL
    assert ladder.naming.method == "expected-rt" and ladder.naming.confidence == "medium"


def test_members_above_the_scan_range_are_named_by_order():
    settings = SimulationSettings(start_s=180, duration_s=1700, scan_rate_hz=2, mz_min=50,
                                  mz_max=500)
    ladder = find_ladder(simulate_ladder(settings=settings).run)
    assert ladder.carbon_numbers.tolist() == ALL
    # M+ of C36 (506) and above lies beyond m/z 500
    assert ladder.molecular_ion_seen[:28].all() and not ladder.molecular_ion_seen[28:].any()


def test_weak_ladder_still_named_right():
    ladder = find_ladder(simulate_ladder(amount=3e4).run)
    assert ladder.carbon_numbers.tolist() == ALL
    assert ladder.naming.confidence in ("high", "medium")


def test_isothermal_ladder_gives_kovats_indices_with_estimated_dead_time():
    carbons = range(8, 15)
    times = ladder_retention_times(carbons, program="isothermal", dead_time_s=60.0)
    # an analyte half way between C11 and C12 on the log scale: Kovats index 1150
    analyte_t = 60.0 + np.sqrt((times[3] - 60.0) * (times[4] - 60.0))
    sim = simulate_ladder(carbons, program="isothermal", extra=[(ANALYTE, analyte_t, 8e5)])
    ladder = find_ladder(sim.run)
    assert ladder.carbon_numbers.tolist() == list(carbons)
    calibration = ladder.calibration(method="kovats", dead_time_s="estimate")
    assert calibration.dead_time_s == pytest.approx(60.0, abs=0.5)
    assert calibration.apply(analyte_t).retention_index[0] == pytest.approx(1150.0, abs=0.5)
    linear = ladder.calibration().apply(analyte_t).retention_index[0]
    assert abs(linear - 1150.0) > 5  # the linear formula is wrong for isothermal runs


def test_too_few_members_is_an_error_saying_what_was_seen():
    sim = simulate_ladder([10, 11])
    with pytest.raises(ValueError, match="2 n-alkanes member"):
        find_ladder(sim.run)
    empty = Run(scan_times=[1.0, 2.0], scan_offsets=[0, 0, 0], mz=[], intensity=[])
    with pytest.raises(ValueError, match="too few"):
        find_ladder(empty)


def test_fid_trace_ladder_uses_expected_times():
    sim = simulate_ladder(range(8, 21))
    run = sim.run
    trace = Run(scan_times=run.scan_times, scan_offsets=np.zeros(run.n_scans + 1, np.int64),
                mz=[], intensity=[], tic=run.tic,
                metadata=RunMetadata(acquisition="trace", detector="FID"))
    expected = {8: float(sim.truth.rt_s[0])}
    ladder = find_ladder(trace, expected_rt_s=expected)
    assert ladder.carbon_numbers.tolist() == list(range(8, 21))
    assert np.isnan(ladder.family_fraction).all()


def read_msl(path):
    spectra = {}
    for block in re.split(r"\n(?=NAME:)", path.read_text()):
        name = re.match(r"NAME:\s*C(\d+)", block)
        if not name:
            continue
        peaks = re.findall(r"\(\s*(\d+)\s+(\d+)\s*\)", block)
        spectra[int(name.group(1))] = Spectrum(mz=[float(m) for m, _ in peaks],
                                               intensity=[float(i) for _, i in peaks])
    return spectra


def test_reference_alkane_spectra_in_a_chromatogram_are_named(shared):
    """Real n-alkane EI spectra (AMDIS RI standard library) with their own M+ abundances."""
    spectra = read_msl(shared("amdis-nist-formats", "ri_standards", "alkanes.msl"))
    carbons = list(range(8, 37))
    compounds = [(spectra[n], float(TIMES[n - 8]), 1e6) for n in carbons]
    from gcms.simulate import simulate

    settings = SimulationSettings(start_s=180, duration_s=1500, scan_rate_hz=2, mz_min=35,
                                  mz_max=550)
    run = simulate(compounds, settings=settings).run
    ladder = find_ladder(run)
    assert ladder.carbon_numbers.tolist() == carbons
    assert ladder.naming.method == "molecular-ion" and ladder.naming.confidence == "high"
    assert (ladder.family_fraction >= N_ALKANES.min_family_fraction).all()


def test_real_fames_marker_run(shared):
    """CoreMS FAMEs RI marker run: apex times measured independently on m/z 74 (SOURCE.md)."""
    path = shared("corems-fames-ri", "DATA.MS")
    gcms_io = pytest.importorskip("gcms.io")
    try:
        run = gcms_io.read(path)
    except GcmsError as error:  # the Agilent reader is not in this installation yet
        pytest.skip(f"DATA.MS not readable here: {error}")
    ladder = find_ladder(run, series=FAME_METHYL_ESTERS)
    measured = {8: 7.969, 10: 10.703, 12: 13.249, 14: 15.570, 16: 17.671, 18: 19.586,
                20: 21.337, 22: 22.957, 24: 24.452, 26: 25.847, 28: 27.154}
    assert ladder.carbon_numbers.tolist() == sorted(measured)
    np.testing.assert_allclose(ladder.rt_seconds / 60, [measured[n] for n in sorted(measured)],
                               atol=0.01)
    assert ladder.naming.method == "molecular-ion" and ladder.naming.step == 2
    # leave one marker out: its index from the others is within a few units of 100 n
    calibration = ladder.calibration()
    keep = ladder.carbon_numbers != 16
    partial = calibration.replace(rt_seconds=calibration.rt_seconds[keep],
                                  retention_index=calibration.retention_index[keep],
                                  names=tuple(np.array(calibration.names)[keep]),
                                  match_percent=None, signal_to_noise=None)
    c16 = partial.apply(ladder.rt_seconds[~keep]).retention_index[0]
    assert c16 == pytest.approx(1600.0, abs=15.0)


def test_settings_are_keyword_knobs():
    strict = LadderSettings(min_signal_to_noise=1e9)
    with pytest.raises(ValueError, match="no peak"):
        find_ladder(simulate_ladder(range(8, 12)).run, settings=strict)


def test_expected_spacing_is_a_theil_sen_line_robust_to_a_gap():
    from scipy.stats import theilslopes

    from gcms.retention.ladder import _expected_spacing

    intervals = 30.0 * 1.05 ** np.arange(7)
    intervals[3] *= 2  # a missing member
    t = np.concatenate([[100.0], 100.0 + np.cumsum(intervals)])
    slope, intercept, *_ = theilslopes(np.log(intervals), np.arange(7), method="joint")
    expected = np.exp(intercept + slope * np.arange(7))
    np.testing.assert_allclose(_expected_spacing(t), expected, rtol=1e-12)
    assert np.abs(expected / (30.0 * 1.05 ** np.arange(7)) - 1).max() < 0.15
