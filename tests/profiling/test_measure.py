"""Measuring profiles on simulated runs with known areas, and the metrics against references."""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np
import pytest
from scipy.spatial import distance

from gcms.errors import GcmsError
from gcms.profiling.measure import (
    Profile,
    compare,
    measure_profile,
    normalise,
    replace_values,
    reproducibility,
    score_pair,
    scores,
)
from gcms.profiling.method import ProfileSettings, find_profiling_method
from gcms.profiling.simulate import exhibit_run, expected_quantifier_area
from gcms.simulate import SimulationSettings

AMOUNTS = {"cocaine": 5e7, "C28": 2e6, "tropacocaine": 4e5, "norcocaine": 2e5,
           "N-benzoylnormethylecgonine": 1.5e5, "cis-cinnamoylcocaine": 6e5,
           "trans-cinnamoylcocaine": 9e5, "caffeine": 3e6, "levamisole": 1e6}


@pytest.fixture(scope="module")
def cocaine():
    return find_profiling_method("cocaine")


def settings(seed):
    return SimulationSettings(start_s=220.0, duration_s=300.0, bleed=0.0, seed=seed)


def test_profile_matches_direct_computation(cocaine):
    run = exhibit_run(cocaine, AMOUNTS, settings=settings(1)).run
    profile = measure_profile(run, cocaine)
    expected = np.array([expected_quantifier_area(cocaine, n, AMOUNTS[n])
                         for n in profile.targets])
    # areas: within 5 % of what the simulation put in (the EMG tail past 1 % is cut)
    np.testing.assert_allclose(profile.areas, expected, rtol=0.05)
    # values, independently: (a / Σa) ** 0.25, written out by hand
    share = expected / expected.sum()
    np.testing.assert_allclose(profile.values, share ** 0.25, rtol=0.01)
    assert profile.absent == () and profile.usable
    assert profile.method_sha256 == cocaine.sha256 and profile.run_sha256 == run.metadata.sha256
    # adulterants, drug and IS measured but not in the profile
    assert profile.measurements["caffeine"].found
    assert not profile.measurements["lidocaine"].found
    assert "caffeine" not in profile.targets
    # the qualifier ions of norcocaine were integrated over its limits
    assert profile.measurements["norcocaine"].to_dict()["qualifiers"][0]["mz"] == 68


def test_missing_target_is_absent_not_zero(cocaine):
    amounts = {**AMOUNTS, "tropacocaine": 0.0}
    profile = measure_profile(exhibit_run(cocaine, amounts, settings=settings(2)).run, cocaine)
    assert profile.absent == ("tropacocaine",)
    assert np.isnan(profile.areas[0])
    data = profile.to_dict()
    assert data["areas"][0] is None and data["absent"] == ["tropacocaine"]
    # compared as x = 0 after the sum of the others
    found = profile.areas[1:]
    np.testing.assert_allclose(profile.values[1:], (found / found.sum()) ** 0.25)
    assert profile.values[0] == 0.0
    back = Profile.from_dict(data)
    assert back.absent == ("tropacocaine",)
    np.testing.assert_array_equal(back.values, profile.values)


def test_reinjections_reproducible(cocaine):
    profiles = [measure_profile(exhibit_run(cocaine, AMOUNTS, settings=settings(s)).run,
                                cocaine) for s in range(10, 16)]
    table = reproducibility(profiles)
    assert set(table) == set(cocaine.profile_targets[i].name for i in range(5))
    for name, row in table.items():
        assert row["found"] == 6, name
        assert row["area_rsd_percent"] < 5.0, (name, row)
        assert row["value_rsd_percent"] < 2.0, (name, row)
    # re-injections of one exhibit are near-identical under Pearson
    assert min(compare(profiles[0], p, cocaine) for p in profiles[1:]) > 0.99
    # against an independent computation: sample SD (n - 1) over the mean, in percent
    name = cocaine.profile_targets[1].name
    areas = np.array([p.areas[1] for p in profiles])
    assert table[name]["area_rsd_percent"] == pytest.approx(
        100 * statistics.stdev(areas) / statistics.fmean(areas))
    values = [p.values[1] for p in profiles]
    assert table[name]["value_sd"] == pytest.approx(statistics.stdev(values))
    # a logarithm's values are negative, their RSD meaningless: none stated, the SD is
    logged = [replace_values(p, np.log10(p.values ** 4 + 1e-4)) for p in profiles]
    logged = [dataclasses.replace(p, settings=dataclasses.replace(p.settings,
                                                                  transform="log10"))
              for p in logged]
    row = reproducibility(logged)[name]
    assert row["value_rsd_percent"] is None and row["value_sd"] > 0


def test_normalise_variants():
    areas = np.array([1.0, 3.0, np.nan, 4.0])
    np.testing.assert_allclose(normalise(areas, ProfileSettings(transform="none")),
                               [0.125, 0.375, 0.0, 0.5])
    np.testing.assert_allclose(normalise(areas, ProfileSettings(transform="log10",
                                                                log_offset=1e-3)),
                               np.log10(np.array([0.125, 0.375, 0.0, 0.5]) + 1e-3))
    np.testing.assert_allclose(
        normalise(areas, ProfileSettings(normalisation="main", transform="none"),
                  main_area=8.0), [0.125, 0.375, 0.0, 0.5])
    assert np.all(np.isnan(normalise([np.nan, np.nan], ProfileSettings())))


@pytest.mark.parametrize("metric", ["pearson", "cosine", "canberra", "euclidean"])
def test_vectorised_scores_equal_reference(metric):
    rng = np.random.default_rng(3)
    matrix = rng.random((50, 7))
    matrix[5, 2] = 0.0
    query = rng.random(7)
    query[2] = 0.0
    fast = scores(query, matrix, metric)
    reference = np.array([score_pair(query, row, metric) for row in matrix])
    np.testing.assert_allclose(fast, reference, rtol=1e-12, atol=1e-12)
    scipy_value = {"pearson": lambda a, b: 1 - distance.correlation(a, b),
                   "cosine": lambda a, b: 1 - distance.cosine(a, b),
                   "canberra": distance.canberra, "euclidean": distance.euclidean}[metric]
    np.testing.assert_allclose(reference, [scipy_value(query, row) for row in matrix],
                               rtol=1e-10)


def test_compare_refuses_other_method_and_empty(cocaine):
    ats = find_profiling_method("ats-captagon")
    good = Profile(method="x", method_sha256=None, settings=cocaine.profile,
                   targets=tuple(t.name for t in cocaine.profile_targets),
                   areas=[1, 2, 3, 4, 5], values=[1, 2, 3, 4, 5])
    empty = Profile(method="x", method_sha256=None, settings=cocaine.profile,
                    targets=good.targets, areas=[np.nan] * 5, values=[np.nan] * 5)
    with pytest.raises(GcmsError, match="targets differ"):
        compare(good, good, ats)
    with pytest.raises(GcmsError, match="nothing to compare"):
        compare(good, empty, cocaine)
    assert compare(good, good, cocaine) == pytest.approx(1.0)


def test_ri_targets_need_a_calibration():
    ats = find_profiling_method("ats-captagon")
    run = exhibit_run(find_profiling_method("cocaine"), {"cocaine": 1e6}).run
    with pytest.raises(GcmsError, match="RI calibration"):
        measure_profile(run, ats)


def test_ri_targets_placed_by_the_run_calibration():
    from gcms.retention.calibration import RetentionCalibration

    ats = find_profiling_method("ats-captagon")
    ladder = RetentionCalibration(rt_seconds=np.array([200.0, 400.0, 600.0, 800.0, 1000.0]),
                                  retention_index=np.array([1000.0, 1400.0, 1800.0, 2200.0,
                                                            2600.0]))
    amounts = {"amphetamine": 2e7, "benzyl methyl ketone (P2P)": 3e5,
               "4-methyl-5-phenylpyrimidine": 2e5, "N-formylamphetamine": 5e5,
               "N,N-di-(beta-phenylisopropyl)amine (DPIA)": 1e5, "caffeine": 4e6}
    run = exhibit_run(ats, amounts, ri_calibration=ladder,
                      settings=SimulationSettings(start_s=150.0, duration_s=900.0, bleed=0.0,
                                                  seed=5)).run
    profile = measure_profile(run, ats, ri_calibration=ladder)
    found = [n for n in profile.targets if n not in profile.absent]
    assert sorted(found) == sorted(n for n in amounts if n in profile.targets)
    for name in found:
        j = profile.targets.index(name)
        assert profile.areas[j] == pytest.approx(
            expected_quantifier_area(ats, name, amounts[name]), rel=0.05)
    # the P2P trace (m/z 134) elutes where RI 1105 falls on this ladder: 252.5 s
    p2p = profile.measurements["benzyl methyl ketone (P2P)"].integration
    assert p2p.rt_s == pytest.approx(252.5, abs=1.0)
    assert profile.measurements["caffeine"].found and "caffeine" not in profile.targets


def test_real_run_without_cocaine(shared, cocaine):
    """A real etizolam seizure run (LRCFS): nothing of the cocaine profile is reported found.

    At 390 s every run of that sequence has a small m/z 168 peak (norcocaine's quantifier)
    whose m/z 68 is ~40 times larger: another compound's ion, rejected with the reason.
    """
    from gcms.io import read

    run = read(shared("lrcfs-etizolam", "raw", "220223014.D"))
    profile = measure_profile(run, cocaine)
    assert profile.absent == profile.targets and not profile.usable
    nor = profile.measurements["norcocaine"]
    assert nor.integration.detected and "m/z 68" in nor.rejected
    assert nor.to_dict()["rejected"] == nor.rejected
    assert all(v is None for v in profile.to_dict()["areas"])
