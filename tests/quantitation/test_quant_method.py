import copy
import json
from pathlib import Path

import pytest
from quant_sim import method_document

from gcms.errors import ProfileError
from gcms.quantitation import load_method, parse_method
from gcms.quantitation.method import find_method
from gcms.quantitation.units import concentration_factor, convert_concentration, mass_factor_mg

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "instruments" / "methods").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_methods_load(path):
    method = load_method(path)
    assert method.path == str(path) and len(method.sha256) == 64
    for analyte in method.analytes:
        method.internal_standard(analyte)  # every IS reference resolves
    json.dumps(method.to_dict())


def test_the_etizolam_example_is_shipped():
    names = [a.name for p in SHIPPED for a in load_method(p).analytes]
    assert "Etizolam" in names


def write(tmp_path, text):
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


def test_a_toml_method_round_trip(tmp_path):
    path = write(tmp_path, """
schema = "gcms-quant-method/1"
[method]
name = "X"
unit = "mg/L"
[acceptance]
loq_basis = "blanks"
coverage_factor = 2
[[analyte]]
name = "Cocaine"
aliases = ["benzoylmethylecgonine"]
quantifier_mz = 182
qualifier_mz = [82, 303]
rt_s = 500
model = "linear_through_zero"
""")
    method = load_method(path)
    (cocaine,) = method.analytes
    assert cocaine.qualifier_mz == (82.0, 303.0) and cocaine.internal_standard == ""
    assert cocaine.matches("Benzoylmethylecgonine") and not cocaine.matches("ecgonine")
    assert method.acceptance.coverage_factor == 2.0 and method.unit == "mg/L"
    assert method.internal_standard(cocaine) is None


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["analyte"][0].update(weighting="1/y"),
     r"analyte\[0\]\.weighting: must be one of .*got '1/y'"),
    (lambda d: d["analyte"][0].update(quantifer_mz=3), r"quantifer_mz: unknown key \(did you mean"),
    (lambda d: d["analyte"][0].update(rt_s="ten"), r"analyte\[0\]\.rt_s: must be a number"),
    (lambda d: d["analyte"][0].update(internal_standard="D5"), r"'D5' is not an internal_standard"),
    (lambda d: d["analyte"][0].pop("quantifier_mz"), "quantifier_mz is required"),
    (lambda d: d["analyte"].append(dict(d["analyte"][0])), "is used twice"),
    (lambda d: d["acceptance"].update(r2_min=1.5), r"acceptance\.r2_min: must be <= 1"),
    (lambda d: d["acceptance"].update(reject_calibrators=1), "must be true or false"),
    (lambda d: d["integration"].update(smoothing_scans=4), "smoothing_scans must be odd"),
    (lambda d: d["method"].update(unit="ppm"), r"method\.unit: .*not a mass per volume"),
    (lambda d: d.update(schema="other/2"), "schema must be"),
    (lambda d: d.update(analyte=[]), "has no"),
    (lambda d: d.update(extra=1), "extra: unknown key"),
])
def test_bad_methods_name_the_key(edit, message):
    doc = copy.deepcopy(method_document())
    doc.setdefault("integration", {})
    edit(doc)
    with pytest.raises(ProfileError, match=message) as caught:
        parse_method(doc, source="bad.toml")
    assert str(caught.value).startswith("bad.toml")


def test_unreadable_method_files(tmp_path):
    with pytest.raises(ProfileError, match="invalid TOML"):
        load_method(write(tmp_path, "schema = \n"))
    with pytest.raises(ProfileError, match="cannot read"):
        load_method(tmp_path / "absent.toml")


def test_find_method_by_stem(tmp_path, monkeypatch):
    folder = tmp_path / "lab"
    folder.mkdir()
    (folder / "mine.toml").write_text("")
    monkeypatch.setenv("GCMS_METHODS", str(folder))
    assert find_method("mine") == folder / "mine.toml"
    assert find_method(folder / "mine.toml") == folder / "mine.toml"
    with pytest.raises(ProfileError, match="no such method"):
        find_method("theirs")


def test_units():
    assert concentration_factor("µg/mL") == concentration_factor("mcg/ml") == 1.0
    assert convert_concentration(2.0, "mg/mL", "ug/mL") == 2000.0
    assert convert_concentration(250.0, "ng/mL", "mg/L") == pytest.approx(0.25)
    assert mass_factor_mg("g") == 1000.0 and mass_factor_mg("tablet") is None
