"""Ladder suitability: a simulated ladder passes, and fails each criterion one at a time."""

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.errors import ProfileError
from gcms.qa import evaluate_ladder, open_history, parse_profile
from gcms.retention.simulate import ladder_retention_times, simulate_ladder
from gcms.simulate import SimulationSettings

CARBONS = list(range(10, 21))
TIMES = ladder_retention_times(CARBONS)          # 240 s, intervals 25 -> 50 s
WHEN = datetime(2024, 3, 4, 8, 0, tzinfo=timezone.utc)


def profile_text(times=TIMES, carbons=CARBONS, **ladder):
    limits = {"min_members": 8, "rt_window_s": 3.0, "min_resolution": 1.5,
              "max_tailing_factor": 2.0, "min_plate_count": 10000.0,
              "min_signal_to_noise": 50.0, **ladder}
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in limits.items())
    expected = "\n".join(f"C{n} = {t:.3f}" for n, t in zip(carbons, times, strict=True))
    return f"""schema = "gcms-instrument-profile/1"
[identity]
id = "GCMS-L"
[tune]
criteria = "agilent-pftba-autotune"
[ladder]
first_carbon = {carbons[0]}
last_carbon = {carbons[-1]}
{lines}
[ladder.expected_rt_s]
{expected}
"""


PROFILE = parse_profile(profile_text(), source="ladder-test.toml")


def ladder_run(carbons=CARBONS, times=TIMES, *, amount=1.0e6, fwhm_s=2.5, tau_s=0.5,
               seed=1):
    start = float(min(times)) - 40.0
    settings = SimulationSettings(start_s=start, duration_s=float(max(times)) + 40.0 - start,
                                  scan_rate_hz=4.0, mz_min=35, mz_max=300, fwhm_s=fwhm_s,
                                  tau_s=tau_s, seed=seed)
    run = simulate_ladder(carbons, rt_seconds=times, amount=amount, settings=settings).run
    return run.replace(metadata=run.metadata.replace(acquired_at=WHEN))


def failed(result):
    return {c.key for c in result.failures}


@pytest.fixture(scope="module")
def base():
    return evaluate_ladder(ladder_run(), profile=PROFILE)


def test_a_good_ladder_passes_with_every_figure(base):
    assert base.passed and base.kind == "ladder", [(c.key, c.value, c.note)
                                                    for c in base.failures]
    assert base.criterion("members_found").value == len(CARBONS)
    assert base.criterion("missing_members").value == 0
    for n, t in zip(CARBONS, TIMES, strict=True):
        assert base.criterion(f"rt_C{n}").value == pytest.approx(t, abs=0.5)
    members = base.details["members"]
    assert [m["name"] for m in members] == [f"C{n}" for n in CARBONS]
    # the least plate count is the first member's (equal widths, earliest time), and it
    # agrees with 5.54 (t/W)^2 of that member's own figures
    first = members[0]
    assert base.criterion("plate_count").note == "C10"
    assert first["plate_count"] == pytest.approx(5.545 * (first["rt_s"] / first["width_s"]) ** 2,
                                                 rel=0.01)
    assert base.criterion("resolution").note == "C10/C11"   # the closest pair
    assert 1.0 < base.criterion("tailing_factor").value < 1.4
    assert base.performed_at == WHEN
    assert base.source["sha256"] is None or len(base.source["sha256"]) == 64
    assert not any(c.key.startswith("rt_shift") for c in base.criteria)   # no history


def test_drift_fails_the_retention_times_only():
    result = evaluate_ladder(ladder_run(times=TIMES + 5.0), profile=PROFILE)
    assert failed(result) == {f"rt_C{n}" for n in CARBONS}
    assert "drift +5" in result.criterion("rt_C15").note


def test_a_missing_member_fails_missing_members_and_its_time():
    kept = [n for n in CARBONS if n != 14]
    times = TIMES[[CARBONS.index(n) for n in kept]]
    result = evaluate_ladder(ladder_run(kept, times), profile=PROFILE)
    assert failed(result) == {"missing_members", "rt_C14"}
    assert "C14" in result.criterion("missing_members").note
    assert result.criterion("rt_C14").value is None


def test_poor_resolution_fails_alone():
    times = 240.0 + 6.0 * np.arange(len(CARBONS))       # a fast ramp: 6 s apart
    profile = parse_profile(profile_text(times, min_plate_count=1000.0), source="fast.toml")
    sharp = evaluate_ladder(ladder_run(times=times, fwhm_s=1.8, tau_s=0.0), profile=profile)
    assert sharp.passed, [(c.key, c.value) for c in sharp.failures]
    broad = evaluate_ladder(ladder_run(times=times, fwhm_s=2.5, tau_s=0.0), profile=profile)
    assert failed(broad) == {"resolution"}
    # Rs 1.36-1.5: the 5 % crossings (tailing) still clear the valley between members
    assert 1.36 < broad.criterion("resolution").value < 1.5


def test_tailing_fails_alone():
    result = evaluate_ladder(ladder_run(tau_s=3.0), profile=PROFILE)
    assert failed(result) == {"tailing_factor"}
    assert result.criterion("tailing_factor").value > 2.0


def test_too_few_plates_fails_alone():
    result = evaluate_ladder(ladder_run(fwhm_s=6.5), profile=PROFILE)
    assert failed(result) == {"plate_count"}
    assert result.criterion("plate_count").value < 10000


def test_weak_ladder_fails_signal_to_noise_alone(base):
    strong = base.criterion("signal_to_noise").value
    result = evaluate_ladder(ladder_run(amount=1.0e6 * 30.0 / strong), profile=PROFILE)
    assert failed(result) == {"signal_to_noise"}
    assert 15 < result.criterion("signal_to_noise").value < 50


def test_too_few_members_fails_members_found():
    profile = parse_profile(profile_text(min_members=12, max_missing_members=5),
                            source="twelve.toml")
    result = evaluate_ladder(ladder_run(), profile=profile)
    assert failed(result) == {"members_found"}


def test_shift_from_the_history(tmp_path):
    profile = parse_profile(profile_text(history_rt_window_s=1.5), source="hist.toml")
    with open_history(tmp_path) as store:
        for day, seed in ((3, 11), (2, 12)):
            earlier = evaluate_ladder(ladder_run(seed=seed), profile=profile, history=store,
                                      performed_at=WHEN - timedelta(days=day))
            assert earlier.passed
            store.record(earlier)
        same = evaluate_ladder(ladder_run(seed=13), profile=profile, history=store)
        assert same.passed
        assert abs(same.criterion("rt_shift_C15").value) < 0.3
        assert "mean of 2 earlier" in same.criterion("rt_shift_C15").note
        moved = evaluate_ladder(ladder_run(times=TIMES + 2.5, seed=14), profile=profile,
                                history=store)
    # within the profile's window, but not where the last ladders were
    assert failed(moved) == {f"rt_shift_C{n}" for n in CARBONS}
    assert moved.criterion("rt_shift_C12").value == pytest.approx(2.5, abs=0.3)
    assert moved.details["history_results"] == [1, 2]


def test_no_ladder_at_all_is_a_failed_check_not_an_error():
    from gcms.simulate import simulate

    settings = SimulationSettings(start_s=200, duration_s=300, mz_min=35, mz_max=300, seed=2)
    empty = simulate([], settings=settings).run
    result = evaluate_ladder(empty, profile=PROFILE)
    assert not result.passed
    assert result.criterion("members_found").value == 0
    assert any(n.startswith("no ladder found") for n in result.notes)


def test_a_profile_without_a_ladder_section_is_refused():
    text = '[identity]\nid = "GCMS-X"\n[tune]\ncriteria = "agilent-pftba-autotune"\n'
    with pytest.raises(ProfileError, match="no \\[ladder\\] section"):
        evaluate_ladder(ladder_run(), profile=parse_profile(text, source="x.toml"))


def test_cli_exit_codes_record_once_and_json(tmp_path, monkeypatch):
    from gcms.simulate import write

    monkeypatch.setenv("GCMS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "p.toml").write_text(profile_text())
    good, drifted = tmp_path / "good.cdf", tmp_path / "drift.cdf"
    write(ladder_run(), good)
    write(ladder_run(times=TIMES + 5.0), drifted)
    runner = CliRunner()
    args = ["--instrument", str(tmp_path / "p.toml")]
    ok = runner.invoke(cli, ["qa", "ladder", str(good), *args])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("PASS  ladder n-alkanes C10-C20 of GCMS-L")
    again = runner.invoke(cli, ["qa", "ladder", str(good), *args])
    assert "recorded before" in again.output
    bad = runner.invoke(cli, ["qa", "ladder", str(drifted), *args, "--json"])
    assert bad.exit_code == 1
    document = json.loads(bad.output)
    assert document["verdict"] == "fail" and document["details"]["members"][0]["name"] == "C10"
    with open_history(tmp_path / "data") as store:
        assert len(store.results("GCMS-L", kind="ladder")) == 2
    missing = runner.invoke(cli, ["qa", "ladder", str(tmp_path / "none.cdf"), *args])
    assert missing.exit_code == 2 and "none.cdf" in missing.output
    chart = runner.invoke(cli, ["qa", "history", "--instrument", str(tmp_path / "p.toml"),
                                "--kind", "ladder", "--metric", "rt_C15", "--json"])
    charted = json.loads(chart.output)
    assert chart.exit_code == 1 and not charted["latest_passed"]   # the drifted ladder
    assert len(charted["charts"]["rt_C15"]["values"]) == 2


def test_real_fames_marker_run(shared):
    """CoreMS FAMEs run (Agilent DATA.MS): apexes measured independently on m/z 74 (SOURCE.md)."""
    from gcms.io import read

    path = shared("corems-fames-ri", "DATA.MS")
    apex_min = {10: 10.703, 12: 13.249, 14: 15.570, 16: 17.671, 18: 19.586, 20: 21.337,
                22: 22.957, 24: 24.452, 26: 25.847, 28: 27.154}
    expected = "\n".join(f"C{n} = {60 * t:.2f}" for n, t in apex_min.items())
    profile = parse_profile(f"""schema = "gcms-instrument-profile/1"
[identity]
id = "GCMS-F"
[tune]
criteria = "agilent-pftba-autotune"
[ladder]
series = "FAME methyl esters"
first_carbon = 10
last_carbon = 28
step = 2
min_members = 10
rt_window_s = 1.0
[ladder.expected_rt_s]
{expected}
""", source="fames.toml")
    run = read(path)
    result = evaluate_ladder(run, profile=profile)
    assert result.passed, [(c.key, c.value, c.note) for c in result.failures]
    assert result.criterion("missing_members").value == 0
    members = {m["name"]: m for m in result.details["members"]}
    # the overloaded FAMEs front (slow rise, sharp fall): T < 1, as the raw trace shows
    t, y = run.scan_times, run.matrix(74, 87)[:, [0, 13]].sum(axis=1).astype(float)
    for name in ("C12", "C16", "C20"):
        centre = members[name]["rt_s"]
        near = np.abs(t - centre) < 4.0
        i = int(np.flatnonzero(near)[np.argmax(y[near])])
        floor = float(np.median(y[(t > centre - 30) & (t < centre - 10)]))
        level = floor + 0.05 * (y[i] - floor)
        left = i
        while y[left] > level:
            left -= 1
        right = i
        while y[right] > level:
            right += 1
        x_left = np.interp(level, [y[left], y[left + 1]], [t[left], t[left + 1]])
        x_right = np.interp(level, [y[right], y[right - 1]], [t[right], t[right - 1]])
        independent = (x_right - x_left) / (2 * (t[i] - x_left))
        assert members[name]["tailing_factor"] == pytest.approx(independent, abs=0.08)
        assert members[name]["tailing_factor"] < 1.0
    assert result.criterion("plate_count").value > 1e5     # 1.5 s peaks at 8-27 min
    assert result.criterion("resolution").value > 10
