"""Criteria profiles: the shipped ones load and say what they should; bad ones name the key."""

from __future__ import annotations

import pytest

from gcms.errors import CriteriaError
from gcms.identify import (
    DEFAULT_PROFILE,
    EU_2002_657_GC_EI_BANDS,
    IonRules,
    RetentionRules,
    available_profiles,
    load_criteria,
    parse_criteria,
)


def test_shipped_profiles_load_with_their_hash():
    names = available_profiles()
    assert {"swgdrug-gcms", "enfsi-dwg", "screening"} <= set(names)
    for name in names:
        criteria = load_criteria(name)
        assert criteria.name == name
        assert len(criteria.sha256) == 64
        assert criteria.to_dict()["retention"]["sources"]
    assert load_criteria().name == DEFAULT_PROFILE == "swgdrug-gcms"


def test_swgdrug_profile_needs_spectrum_and_retention():
    criteria = load_criteria("swgdrug-gcms")
    assert criteria.retention.required  # GC-MS is two techniques only with both results
    assert criteria.retention.sources == ("standard", "index")
    assert criteria.blank.required
    assert criteria.spectrum.min_match_factor >= criteria.spectrum.not_identified_below
    screening = load_criteria("screening")
    assert not screening.retention.required and not screening.blank.required
    enfsi = load_criteria("enfsi-dwg")
    assert enfsi.retention.sources == ("standard",)
    assert enfsi.retention.rt_tolerance(600.0) == pytest.approx(12.0)  # ±2 %


def test_rt_window_larger_or_smaller_of_absolute_and_percent():
    rules = RetentionRules(rt_tolerance_s=2.0, rt_tolerance_percent=1.0)
    assert rules.rt_tolerance(100.0) == 2.0          # 1 % of 100 s is 1 s: 2 s is larger
    assert rules.rt_tolerance(600.0) == pytest.approx(6.0)
    smaller = RetentionRules(rt_tolerance_s=2.0, rt_tolerance_percent=1.0, rt_window="smaller")
    assert smaller.rt_tolerance(600.0) == 2.0
    only_percent = RetentionRules(rt_tolerance_s=None, rt_tolerance_percent=0.2)
    assert only_percent.rt_tolerance(500.0) == pytest.approx(1.0)


@pytest.mark.parametrize(("relative", "tolerance"), [
    (100.0, 10.0), (50.1, 10.0), (50.0, 15.0), (20.1, 15.0), (20.0, 20.0), (10.1, 20.0),
    (10.0, 50.0), (2.0, 50.0),
])
def test_eu_2002_657_bands(relative, tolerance):
    # Commission Decision 2002/657/EC Table 4, GC-EI: >50 %: ±10; >20-50: ±15;
    # >10-20: ±20; <=10: ±50 (relative).
    assert IonRules().ratio_tolerance_percent(relative) == tolerance
    assert EU_2002_657_GC_EI_BANDS[0] == (50.0, 10.0)


def test_fixed_and_off_ratio_tolerances():
    assert IonRules(ratio_tolerance=30.0).ratio_tolerance_percent(5.0) == 30.0
    assert IonRules(ratio_tolerance="off").ratio_tolerance_percent(50.0) is None


def _profile(**sections):
    data = {"profile": {"name": "lab"}}
    data.update(sections)
    return data


@pytest.mark.parametrize(("data", "key", "words"), [
    (_profile(spectrum={"min_match_factr": 800}), "spectrum.min_match_factr",
     "did you mean 'min_match_factor'"),
    (_profile(spectrum={"min_match_factor": "high"}), "spectrum.min_match_factor",
     "must be a number"),
    (_profile(spectrum={"min_match_factor": 1200}), "spectrum.min_match_factor", "<= 999"),
    (_profile(retention={"sources": ["standard", "library"]}), "retention.sources",
     "must be one of"),
    (_profile(retention={"rt_tolerance_percent": -1}), "retention.rt_tolerance_percent",
     "must be > 0"),
    (_profile(retention={"required": "yes"}), "retention.required", "true or false"),
    (_profile(ions={"ratio_bands": [[10, 20], [50, 10], [0, 50]]}), "ions.ratio_bands",
     "highest lower bound"),
    (_profile(ions={"diagnostic_ions": 0}), "ions.diagnostic_ions", ">= 1"),
    (_profile(blank={"max_carryover_percent": 150}), "blank.max_carryover_percent", "<= 100"),
    (_profile(spectrum={"min_match_factor": 700, "not_identified_below": 750}),
     "spectrum.not_identified_below", "is above"),
    (_profile(signals={"min_snr": 3}), "signals", "did you mean 'signal'"),
    ({"spectrum": {}}, "[profile]", "missing"),
])
def test_invalid_profiles_name_file_and_key(data, key, words):
    with pytest.raises(CriteriaError) as error:
        parse_criteria(data, origin="lab.toml")
    message = str(error.value)
    assert message.startswith("lab.toml: ")
    assert key in message
    assert words in message


def test_profile_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[profile]\nname = 'x'\n[spectrum\n", encoding="utf-8")
    with pytest.raises(CriteriaError, match=r"bad\.toml: invalid TOML"):
        load_criteria(bad)
    with pytest.raises(CriteriaError, match="no such criteria profile"):
        load_criteria(tmp_path / "absent.toml")
    good = tmp_path / "lab.toml"
    good.write_text("[profile]\nname = 'lab'\n[retention]\nri_tolerance = 10.0\n",
                    encoding="utf-8")
    criteria = load_criteria(good)
    assert criteria.retention.ri_tolerance == 10.0
    assert criteria.source == str(good)
    assert criteria.spectrum.min_match_factor == 800.0  # defaults for what is not stated
