from pathlib import Path

import pytest

from gcms.errors import ProfileError
from gcms.qa import load_profile, parse_profile
from gcms.qa.profile import PACKAGED_PROFILES, available_profiles, find_profile

REPO_INSTRUMENTS = Path(__file__).resolve().parents[2] / "instruments"

MINIMAL = """
schema = "gcms-instrument-profile/1"
[identity]
id = "GCMS-T"
[tune]
criteria = "agilent-pftba-autotune"
"""


def test_packaged_examples_equal_the_repository_copies():
    packaged = sorted(p.name for p in PACKAGED_PROFILES.glob("*.toml"))
    assert len(packaged) >= 3
    for name in packaged:
        assert (REPO_INSTRUMENTS / name).read_bytes() == (PACKAGED_PROFILES / name).read_bytes()


@pytest.mark.parametrize("path", sorted(PACKAGED_PROFILES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_example_profile_is_valid(path):
    profile = load_profile(path)
    assert profile.id.startswith("GCMS-")
    assert profile.sha256 and profile.source_path == str(path)
    assert profile.tune_criteria()


def test_example_agilent_profile_content():
    profile = load_profile("agilent-5977b-gcms01")
    assert profile.identity.vendor == "Agilent" and profile.column.length_m == 30.0
    sets = {s.name: s for s in profile.tune_criteria()}
    assert sets["agilent-pftba-autotune"].rule("air_28_69").limit.high == 5.0
    assert sets["agilent-pftba-autotune"].rule("mass_502").limit.low == 501.85
    assert profile.ladder.expected_rt_by_carbon()[8] == 240.0
    names = [c.name for c in profile.check_standard.compounds]
    assert "Cocaine" in names and profile.check_standard.critical_pairs[0].min_resolution == 1.5
    assert profile.qa.control_limits["isotope_503_502"].sd == 0.6


def test_minimal_profile_takes_defaults():
    profile = parse_profile(MINIMAL, source="mini.toml")
    assert profile.id == "GCMS-T" and profile.ladder is None
    assert profile.tune.max_age_days == 7.0
    assert profile.qa.westgard_rules == ("1-2s", "1-3s", "2-2s", "R-4s", "4-1s", "10x")


@pytest.mark.parametrize(
    "extra, key, problem",
    [
        ("colour = 'red'\n", "tune.colour", "unknown key"),
        ("[carrier]\nflow = 1.0\n", "carrier.flow", "did you mean 'flow_ml_min'"),
        ("[carrier]\nflow_ml_min = 'fast'\n", "carrier.flow_ml_min", "must be a number"),
        ("[carrier]\nflow_ml_min = -1.0\n", "carrier.flow_ml_min", "must be > 0"),
        ("[carrier]\ngas = 'argon'\n", "carrier.gas", "must be one of"),
        ("[column]\nlength_m = true\n", "column.length_m", "must be a number"),
        ("[tune.limits.air_28_69]\nhigh = 2000.0\n", "tune.limits.air_28_69", "0-1000"),
        ("[tune.limits.air_28_96]\nhigh = 5.0\n", "tune.limits.air_28_96",
         "did you mean 'air_28_69'"),
        ("[tune.limits.mass_69]\nlow = 68.0\n", "tune.limits.mass_69", "within 69 ± 0.5"),
        ("[tune.limits.isotope_70_69]\nlow = 2.0\n", "tune.limits.isotope_70_69",
         "low 2 is above high 1.6"),
        ("[tune.limits.width_69]\nhigh = 9.0\n", "tune.limits.width_69", "(0, 5]"),
        ("[tune.limits.air_28_69]\nhigh = 5.0\nstrict = true\n", "tune.limits.air_28_69.strict",
         "unknown key"),
        ("[qa]\nwestgard_rules = ['1-2s', '2of3-2s']\n", "qa.westgard_rules[1]", "unknown rule"),
        ("[qa]\nbaseline_points = 1\n", "qa.baseline_points", "must be >= 2"),
        ("[qa]\nbaseline_points = 2.5\n", "qa.baseline_points", "must be an integer"),
        ("[qa.control_limits.abundance_219]\nmean = 55.0\n",
         "qa.control_limits.abundance_219.sd", "required key is missing"),
        ("[ladder]\nseries = 'alkenes'\n", "ladder.series", "unknown series"),
        ("[ladder]\nfirst_carbon = 20\nlast_carbon = 10\n", "ladder.first_carbon", "after"),
        ("[ladder]\nri_method = 'kovats'\n", "ladder.dead_time_s", "need a dead time"),
        ("[ladder.expected_rt_s]\nC8 = 300.0\nC9 = 250.0\n", "ladder.expected_rt_s.C9",
         "increase"),
        ("[ladder.expected_rt_s]\neight = 300.0\n", "ladder.expected_rt_s.eight", "C8, C9"),
        ("[ladder.expected_rt_s]\nC50 = 300.0\n", "ladder.expected_rt_s.C50", "outside C8-C40"),
        ("[[check_standard.compounds]]\nname = 'Cocaine'\n", "check_standard.compounds[0]",
         "needs expected_rt_s or expected_ri"),
        ("[[check_standard.compounds]]\nname = 'A'\nexpected_ri = 1100\n"
         "[[check_standard.critical_pairs]]\nfirst = 'A'\nsecond = 'B'\n",
         "check_standard.critical_pairs[0].second", "not a check-standard compound"),
        ("[[check_standard.compounds]]\nname = 'A'\nexpected_ri = 1100\n"
         "min_match_factor = 1200\n", "check_standard.compounds[0].min_match_factor",
         "must be <= 999"),
    ],
)
def test_invalid_profiles_name_the_key_and_the_problem(extra, key, problem):
    with pytest.raises(ProfileError) as caught:
        parse_profile(MINIMAL + extra, source="lab/GCMS-T.toml")
    message = str(caught.value)
    assert message.startswith(f"lab/GCMS-T.toml: {key}: "), message
    assert problem in message


@pytest.mark.parametrize(
    "text, key, problem",
    [
        ("[identity]\nid = 'X'\n", "tune", "required key is missing"),
        ("[tune]\ncriteria = 'agilent-pftba-autotune'\n", "identity", "required key"),
        ("[identity]\nid = ''\n[tune]\ncriteria = 'epa-bfb-8260'\n", "identity.id", "empty"),
        ("[identity]\nid = 'X'\n[tune]\ncriteria = 'epa-bfb-8206'\n", "tune.criteria[0]",
         "did you mean 'epa-bfb-8260'"),
        ("[identity]\nid = 'X'\n[tune]\ncriteria = []\n", "tune.criteria", "at least one"),
        ("schema = 'other/2'\n[identity]\nid = 'X'\n[tune]\ncriteria = 'epa-bfb-8260'\n",
         "schema", "must be"),
        ("[identity]\nid = 'X'\nid = 'Y'\n", "", "invalid TOML"),
        ("colour = 'red'\n[identity]\nid = 'X'\n[tune]\ncriteria = 'epa-bfb-8260'\n",
         "colour", "unknown key"),
        ("[identity]\nid = 'X'\n[tune]\ncriteria = 'epa-bfb-8260'\n"
         "[tune.limits.air_28_69]\nhigh = 5.0\n", "tune.limits.air_28_69", "no rule"),
    ],
)
def test_structural_errors(text, key, problem):
    with pytest.raises(ProfileError) as caught:
        parse_profile(text, source="p.toml")
    assert problem in str(caught.value)
    if key:
        assert str(caught.value).startswith(f"p.toml: {key}: ")


def test_not_utf8_is_refused():
    with pytest.raises(ProfileError, match="not UTF-8"):
        parse_profile(b"\xff\xfe[identity]", source="x.toml")


def test_lookup_by_name_id_and_environment(tmp_path, monkeypatch):
    own = tmp_path / "lab"
    own.mkdir()
    (own / "gcms-t.toml").write_text(MINIMAL)
    (own / "broken.toml").write_text("[identity]\n")
    monkeypatch.setenv("GCMS_INSTRUMENTS", str(own))
    monkeypatch.chdir(tmp_path)
    assert load_profile("gcms-t").id == "GCMS-T"
    assert load_profile("GCMS-T").source_path == str(own / "gcms-t.toml")
    assert load_profile("GCMS-01").identity.vendor == "Agilent"  # packaged, by ID
    assert dict(available_profiles())["gcms-t"] == own / "gcms-t.toml"
    assert find_profile("GCMS-404") is None
    with pytest.raises(ProfileError, match="no such instrument profile") as caught:
        load_profile("GCMS-404")
    assert "gcms-t" in str(caught.value) and "agilent-5977b-gcms01" in str(caught.value)
    with pytest.raises(ProfileError, match="identity.id: required key is missing"):
        load_profile("broken")


def test_environment_folder_comes_first(tmp_path, monkeypatch):
    shadow = tmp_path / "agilent-5977b-gcms01.toml"
    shadow.write_text(MINIMAL)
    monkeypatch.setenv("GCMS_INSTRUMENTS", str(tmp_path))
    assert load_profile("agilent-5977b-gcms01").id == "GCMS-T"
