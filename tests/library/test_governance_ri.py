"""RI with its column type: library entries and the lab's column, compared like with like."""

from __future__ import annotations

from pathlib import Path

import pytest

from gcms.identify.criteria import Criteria
from gcms.identify.judge import _retention_index
from gcms.io import read_entries
from gcms.library.search import Hit
from gcms.qa import load_profile
from gcms.qa.profile import Column
from gcms.retention.columns import (
    NOT_STATED,
    column_type,
    column_type_of_phase,
    lab_column,
    lab_column_type,
    same_column_type,
)

INSTRUMENTS = Path(__file__).resolve().parents[2] / "instruments"


def _hit(ri: float | None) -> Hit:
    return Hit(rank=1, library_index=0, name="Cocaine", inchikey=None, cas="50-36-2",
               formula=None, mw=303.0, match_factor=950, reverse_match_factor=960,
               similarity_match_factor=950, entropy_similarity=900, probability=90.0,
               retention_index=ri, delta_ri=None, ri_penalty=0.0, score=0.9,
               library_sha256="0" * 64)


def test_column_types_named_as_nist_and_phases():
    assert column_type("SemiStdNP") == "semi-standard non-polar"
    assert column_type("StdPolar") == column_type("polar") == "standard polar"
    assert column_type_of_phase("HP-5MS UI") == "semi-standard non-polar"
    assert column_type_of_phase("DB-1") == "standard non-polar"
    assert column_type_of_phase("DB-WAX") == "standard polar"
    assert column_type("StdNP") == "standard non-polar"
    assert same_column_type("DB-5MS", "semi-standard non-polar") is True
    assert same_column_type("StdNP", "SemiStdNP") is False
    assert same_column_type(None, "polar") is None
    assert lab_column_type(calibration_column={"COLUMN_NAME": "DB-5"}) == \
        "semi-standard non-polar"
    with pytest.raises(ValueError, match="not one of"):
        column_type("my favourite column")


def test_msp_nist_ri_carries_its_column(tmp_path):
    path = tmp_path / "nist.msp"
    path.write_text("Name: Cocaine\nRetention_index: SemiStdNP=2189/4/31 StdNP=2143/9/12\n"
                    "Num Peaks: 2\n82 999\n182 500\n\n", encoding="utf-8")
    entry = read_entries(path).spectra[0]
    assert entry.retention_index == 2189.0 and entry.ri_column == "semi-standard non-polar"


def test_ri_criterion_compares_like_with_like():
    criteria = Criteria(name="test")
    lab = {"column_type": "semi-standard non-polar"}
    other = _retention_index(_hit(2143.0), 2190.0, False, lab, criteria, "standard non-polar")
    assert other.result == "not evaluated"
    assert "no RI for 'Cocaine' on the lab's semi-standard non-polar column" in other.detail
    same = _retention_index(_hit(2189.0), 2190.0, False, lab, criteria,
                            "semi-standard non-polar")
    assert same.result == "pass" and "(both semi-standard non-polar)" in same.detail
    unstated = _retention_index(_hit(2189.0), 2190.0, False, lab, criteria, None)
    assert unstated.result == "pass"
    assert "does not state the column type" in unstated.detail
    none = _retention_index(_hit(None), 2190.0, False, lab, criteria, None)
    assert none.result == "not evaluated" and "semi-standard non-polar column" in none.detail
    # the lab's column not known: compared, and the criterion says the types were not checked
    plain = _retention_index(_hit(2189.0), 2190.0, False, None, criteria, None)
    assert plain.result == "pass" and plain.detail.startswith("RI 2190.0 against library RI "
                                                              "2189: ΔRI +1.0; the lab's column "
                                                              "type is not known")
    assert plain.detail.endswith("compared without checking column types")
    stated = _retention_index(_hit(2189.0), 2190.0, False, {"column_type": None}, criteria,
                              "standard non-polar")
    assert "the library's RI is for a standard non-polar column" in stated.detail


def test_lab_column_profile_first_ladder_fallback_source_named():
    profile = load_profile(str(INSTRUMENTS / "demo-quadrupole.toml"))
    found = lab_column(profile=profile, calibration_column={"COLUMN_NAME": "DB-1"})
    assert found["column_type"] == "semi-standard non-polar"
    assert found["column_type_source"] == (
        "instrument profile GCMS-DEMO [column] ri_column_type (the ladder's column 'DB-1' "
        "would be standard non-polar)")
    # a profile whose column names no type: the ladder's .CAL column decides
    bare = lab_column(profile=Column(name="30 m"), calibration_column={"COLUMN_NAME": "DB-1"})
    assert bare == {"column_type": "standard non-polar",
                    "column_type_source": "ladder column 'DB-1'"}
    assert lab_column() == {"column_type": None, "column_type_source": NOT_STATED}
    assert lab_column(profile=Column(phase="DB-WAX"))["column_type_source"] == \
        "instrument profile [column] phase"
