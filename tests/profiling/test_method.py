"""Profiling methods: the shipped ones load, and a bad file says which key is wrong."""

from __future__ import annotations

import hashlib

import pytest

from gcms.errors import ProfileError
from gcms.profiling.method import (
    SCHEMA,
    find_profiling_method,
    load_profiling_method,
    shipped_methods,
)

MINIMAL = f"""
schema = "{SCHEMA}"
[method]
name = "test"
drug = "cocaine"
[[target]]
name = "a"
rt_s = 100.0
quantifier_mz = [124]
[[target]]
name = "b"
rt_s = 120.0
quantifier_mz = [168]
"""


def write(tmp_path, text, name="m.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_methods_load_with_sha256():
    names = shipped_methods()
    assert {"cocaine", "ats-captagon"} <= set(names)
    cocaine = find_profiling_method("cocaine")
    assert cocaine.sha256 == hashlib.sha256(names["cocaine"].read_bytes()).hexdigest()
    assert [t.name for t in cocaine.profile_targets] == [
        "tropacocaine", "norcocaine", "N-benzoylnormethylecgonine", "cis-cinnamoylcocaine",
        "trans-cinnamoylcocaine"]
    assert cocaine.main.name == "cocaine"
    assert cocaine.target("cocaine").rt_s == pytest.approx(6.63 * 60)
    assert cocaine.target("cis-cinnamoylcocaine").quantifier_mz == (82, 182, 83, 96, 94)
    assert cocaine.profile.metric == "pearson" and cocaine.profile.transform == "fourth-root"
    assert "MIT" in cocaine.licence and "SteinOv/DrugImpurityAnalysis.jl" in cocaine.source
    ats = find_profiling_method("ats-captagon")
    assert all(t.ri is not None and t.source for t in ats.targets)
    assert not ats.target("caffeine").in_profile


def test_minimal_defaults(tmp_path):
    method = load_profiling_method(write(tmp_path, MINIMAL))
    assert method.path.endswith("m.toml")
    assert all(t.in_profile for t in method.targets)  # impurity by default
    assert method.integration.peak_selection == "closest"
    assert method.profile.higher_is_closer


@pytest.mark.parametrize(("change", "message"), [
    (("metric = ", "metirc = "), None),
    (("[[target]]\nname = \"a\"", "[[target]]\nname = \"a\"\nwindow = 3.0"),
     "target[0].window: unknown key (did you mean 'window_s'?)"),
    (("rt_s = 100.0", "rt_s = -1.0"), "target[0].rt_s: must be >= 0"),
    (("rt_s = 100.0", "ri = 1200.0\nrt_s = 100.0"), "give exactly one of rt_s and ri"),
    (("quantifier_mz = [124]", "quantifier_mz = []"), "quantifier_mz is empty"),
    (("name = \"b\"", "name = \"a\""), "target[1].name 'a' is used twice"),
    (("drug = \"cocaine\"", ""), "method.drug: required key is missing"),
    (("[method]", "[method]\nnormalisation = \"sum\""),
     "method.normalisation: unknown key"),
])
def test_errors_name_file_and_key(tmp_path, change, message):
    text = MINIMAL + '[profile]\nmetric = "pearson"\n'
    text = text.replace(*change)
    path = write(tmp_path, text)
    if message is None:  # a misspelt key in [profile]
        message = "profile.metirc: unknown key (did you mean 'metric'?)"
    with pytest.raises(ProfileError) as error:
        load_profiling_method(path)
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_schema_profile_and_main_checks(tmp_path):
    with pytest.raises(ProfileError, match="schema must be"):
        load_profiling_method(write(tmp_path, MINIMAL.replace(SCHEMA, "gcms-quant-method/1")))
    no_profile = MINIMAL.replace('rt_s = 100.0', 'rt_s = 100.0\nrole = "adulterant"').replace(
        'rt_s = 120.0', 'rt_s = 120.0\nin_profile = false')
    with pytest.raises(ProfileError, match="no \\[\\[target\\]\\] enters the profile"):
        load_profiling_method(write(tmp_path, no_profile))
    with pytest.raises(ProfileError, match="'main' needs a target"):
        load_profiling_method(write(tmp_path, MINIMAL + '[profile]\nnormalisation = "main"\n'))
    with pytest.raises(ProfileError, match="not-there: no such profiling method"):
        find_profiling_method("not-there")
    with pytest.raises(ProfileError, match="invalid TOML"):
        load_profiling_method(write(tmp_path, "schema = "))
