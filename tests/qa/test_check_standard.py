"""Check-standard suitability on simulated runs: a good standard passes, and each
criterion fails alone (drift, MF, S/N, tailing, plates, resolution, a missing compound)."""

import json
from datetime import datetime, timezone

import numpy as np
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.demo import demo_library_path
from gcms.errors import LibraryError, ProfileError
from gcms.library import Library
from gcms.qa import evaluate_check_standard, parse_profile
from gcms.qa.check_standard import compound_key
from gcms.retention import RetentionCalibration
from gcms.simulate import SimulatedCompound, SimulationSettings, amount_for_snr, simulate

LIBRARY = Library.open(demo_library_path())
NAMES = list(LIBRARY.column("name"))
WHEN = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc)
SETTINGS = SimulationSettings(start_s=150.0, duration_s=250.0, scan_rate_hz=4.0, mz_min=40,
                              mz_max=320, background=200.0, bleed=500.0, seed=7)
#: name -> (apex time s, base-peak S/N)
MIX = {"Amphetamine": (190.0, 300.0), "Methamphetamine": (210.0, 300.0),
       "Caffeine": (260.0, 300.0), "Levamisole": (300.0, 300.0),
       "Theophylline": (308.0, 300.0), "Cocaine": (350.0, 200.0)}
#: a ladder calibration of this "column": RI 100 per 20 s from C10 at 150 s
CALIBRATION = RetentionCalibration(150.0 + 20.0 * np.arange(12), 1000.0 + 100.0 * np.arange(12))

PROFILE_TEXT = """schema = "gcms-instrument-profile/1"
[identity]
id = "GCMS-C"
[tune]
criteria = "agilent-pftba-autotune"
[check_standard]
name = "test mix"
rt_window_s = 3.0
ri_window = 10.0
min_match_factor = 800
min_signal_to_noise = 10.0
max_tailing_factor = 2.0
min_plate_count = 6000
[[check_standard.compounds]]
name = "Amphetamine"
expected_rt_s = 190.0
[[check_standard.compounds]]
name = "Methamphetamine"
expected_rt_s = 210.0
[[check_standard.compounds]]
name = "Caffeine"
expected_rt_s = 260.0
expected_ri = 1550
[[check_standard.compounds]]
name = "Levamisole"
expected_rt_s = 300.0
[[check_standard.compounds]]
name = "Theophylline"
expected_rt_s = 308.0
[[check_standard.compounds]]
name = "Cocaine"
expected_rt_s = 350.0
low_level = true
min_signal_to_noise = 100.0
[[check_standard.critical_pairs]]
first = "Levamisole"
second = "Theophylline"
min_resolution = 1.5
"""
PROFILE = parse_profile(PROFILE_TEXT, source="check-test.toml")


def spectrum(name):
    return LIBRARY.spectrum(NAMES.index(name))


def standard_run(changes=None, *, leave_out=(), spectra=None, seed=7):
    """The mix; ``changes`` maps a name to (rt, snr[, fwhm_s, tau_s]) replacements."""
    settings = SimulationSettings(**{**{f: getattr(SETTINGS, f) for f in SETTINGS.__slots__},
                                     "seed": seed})
    items = []
    for name, (rt, snr) in MIX.items():
        if name in leave_out:
            continue
        rt, snr, *shape = (changes or {}).get(name, (rt, snr))
        fwhm, tau = (shape + [None, None])[:2]
        s = (spectra or {}).get(name, spectrum(name))
        amount = amount_for_snr(s, snr, settings=settings, rt_s=rt)
        if fwhm is not None:
            amount *= fwhm / settings.fwhm_s     # the same height on a broader peak
        items.append(SimulatedCompound(s, rt, amount, fwhm_s=fwhm, tau_s=tau))
    run = simulate(items, settings=settings, name="check standard (simulated)").run
    return run.replace(metadata=run.metadata.replace(acquired_at=WHEN))


def evaluate(run, profile=PROFILE, **options):
    return evaluate_check_standard(run, profile=profile, library=LIBRARY, **options)


def failed(result):
    return {c.key for c in result.failures}


@pytest.fixture(scope="module")
def base():
    return evaluate(standard_run(), calibration=CALIBRATION)


def test_a_good_standard_passes(base):
    assert base.passed, [(c.key, c.value, c.note) for c in base.failures]
    assert base.kind == "check" and base.performed_at == WHEN
    for name, (rt, _) in MIX.items():
        key = compound_key(name)
        assert base.criterion(f"rt_{key}").value == pytest.approx(rt, abs=0.5)
        assert base.criterion(f"mf_{key}").value >= 800
    # RI through the given calibration: 260 s lies between 250 s (1500) and 270 s (1600)
    assert base.criterion("ri_caffeine").value == pytest.approx(1550.0, abs=3.0)
    cocaine = base.criterion("snr_cocaine")
    assert "low-level" in cocaine.name and "m/z 82" in cocaine.name
    details = {d["name"]: d for d in base.details["compounds"]}
    assert details["Caffeine"]["top_hit"]["name"] == "Caffeine"
    assert details["Caffeine"]["rank_in_search"] == 1
    assert base.source["library"]["content_sha256"] == LIBRARY.content_sha256
    rs = base.criterion("resolution_levamisole_theophylline").value
    lev, theo = details["Levamisole"]["peak"], details["Theophylline"]["peak"]
    # independent: 1.18 x (t2 - t1) / (w1 + w2) from the two measured peaks
    assert rs == pytest.approx(1.1774 * (theo["rt_s"] - lev["rt_s"])
                               / (lev["width_s"] + theo["width_s"]), rel=1e-3)


def test_drift_fails_the_retention_time_alone():
    result = evaluate(standard_run({"Caffeine": (265.0, 300.0)}), calibration=CALIBRATION)
    assert failed(result) == {"rt_caffeine", "ri_caffeine"}
    assert "outside the window" in result.criterion("rt_caffeine").note
    assert result.criterion("mf_caffeine").passed


def test_a_poor_spectrum_fails_the_match_factor_alone():
    clean = spectrum("Methamphetamine")
    intensity = np.array(clean.intensity, dtype=float)
    intensity[clean.mz == 91] *= 4.0          # tropylium far too strong
    intensity[clean.mz == 134] *= 8.0
    poor = clean.replace(intensity=intensity)
    result = evaluate(standard_run(spectra={"Methamphetamine": poor}))
    assert failed(result) == {"mf_methamphetamine"}
    assert 500 <= result.criterion("mf_methamphetamine").value < 800


def test_a_weak_low_level_compound_fails_signal_to_noise_alone():
    result = evaluate(standard_run({"Cocaine": (350.0, 45.0)}))
    assert failed(result) == {"snr_cocaine"}
    assert 20 < result.criterion("snr_cocaine").value < 100


def test_tailing_fails_alone():
    result = evaluate(standard_run({"Caffeine": (260.0, 300.0, 2.5, 5.0)}))
    assert failed(result) == {"tailing_caffeine"}
    assert result.criterion("tailing_caffeine").value > 2.0


def test_too_few_plates_fails_alone():
    result = evaluate(standard_run({"Amphetamine": (190.0, 300.0, 7.5, 0.5)}))
    assert failed(result) == {"plates_amphetamine"}
    assert result.criterion("plates_amphetamine").value < 6000


def test_an_unresolved_critical_pair_fails_resolution_alone():
    result = evaluate(standard_run({"Levamisole": (301.5, 300.0),
                                    "Theophylline": (306.5, 300.0)}))
    assert failed(result) == {"resolution_levamisole_theophylline"}
    assert result.criterion("resolution_levamisole_theophylline").value < 1.5


def test_a_missing_compound_fails_every_criterion_of_it():
    result = evaluate(standard_run(leave_out=("Methamphetamine",)))
    assert failed(result) == {f"{k}_methamphetamine"
                              for k in ("rt", "mf", "snr", "tailing", "plates")}
    assert "not found" in result.criterion("rt_methamphetamine").note
    details = {d["name"]: d for d in result.details["compounds"]}
    assert details["Methamphetamine"]["located"] == "not found"


def test_a_compound_given_by_index_needs_a_ladder():
    text = PROFILE_TEXT.replace('name = "Cocaine"\nexpected_rt_s = 350.0',
                                'name = "Cocaine"\nexpected_ri = 2000')
    profile = parse_profile(text, source="ri.toml")
    run = standard_run()
    located = evaluate(run, profile, calibration=CALIBRATION)
    assert located.passed
    assert located.criterion("ri_cocaine").value == pytest.approx(2000.0, abs=3.0)
    assert located.criterion("rt_cocaine").passed is None    # recorded, not judged
    blind = evaluate(run, profile)
    assert "ri_cocaine" in failed(blind) and "no ladder" in blind.criterion("ri_cocaine").note
    assert blind.criterion("ri_caffeine").passed is None   # its RT decides where it is


def test_inputs_that_cannot_be_checked_are_errors():
    with pytest.raises(LibraryError, match="Phentermine"):
        text = PROFILE_TEXT.replace('name = "Amphetamine"', 'name = "Phentermine"')
        evaluate(standard_run(), parse_profile(text, source="p.toml"))
    bare = '[identity]\nid = "GCMS-X"\n[tune]\ncriteria = "agilent-pftba-autotune"\n'
    with pytest.raises(ProfileError, match="no check-standard"):
        evaluate(standard_run(), parse_profile(bare, source="x.toml"))


def test_cli_check_with_a_ladder_run(tmp_path, monkeypatch):
    from gcms.retention.simulate import simulate_ladder
    from gcms.simulate import write

    monkeypatch.setenv("GCMS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "p.toml").write_text(PROFILE_TEXT)
    write(standard_run(), tmp_path / "std.cdf")
    write(standard_run({"Cocaine": (350.0, 45.0)}), tmp_path / "weak.cdf")
    ladder = simulate_ladder(range(10, 22), rt_seconds=150.0 + 20.0 * np.arange(12),
                             settings=SETTINGS).run
    write(ladder, tmp_path / "ladder.cdf")
    runner = CliRunner()
    args = ["--instrument", str(tmp_path / "p.toml"), "--ladder", str(tmp_path / "ladder.cdf"),
            "--library", str(demo_library_path())]
    ok = runner.invoke(cli, ["qa", "check", str(tmp_path / "std.cdf"), *args])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("PASS  check standard (test mix) of GCMS-C")
    assert "retention index of Caffeine" in ok.output
    weak = runner.invoke(cli, ["qa", "check", str(tmp_path / "weak.cdf"), *args, "--json"])
    assert weak.exit_code == 1
    assert [c["key"] for c in json.loads(weak.output)["criteria"] if c["passed"] is False] == \
        ["snr_cocaine"]
    other = runner.invoke(cli, ["qa", "check", str(tmp_path / "std.cdf"), "--instrument",
                                "agilent-5977b-gcms01", "--library", str(demo_library_path())])
    assert other.exit_code == 2 and "Phentermine" in other.output   # not in the demo library
