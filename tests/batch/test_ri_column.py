"""A batch's RI column type: the instrument profile's, the ladder's as fallback, else said."""

from __future__ import annotations

import pytest

from gcms.batch import run_batch
from gcms.demo import demo_folder, demo_library_path
from gcms.qa import load_profile, qa_batch_steps
from gcms.retention.columns import NOT_STATED

ROWS = (("01-ladder.cdf", "ladder", "LAD-01", ""), ("10-blank.cdf", "blank", "BLK-05", ""),
        ("11-exhibit-E4.cdf", "sample", "E4-01", "E4"))


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ri-column")
    lines = ["file,type,sample_id,case_id,exhibit_id,reference_substance"]
    lines += [f"{demo_folder() / file},{kind},{sample},DEMO-2024-017,{exhibit},"
              for file, kind, sample, exhibit in ROWS]
    path = folder / "sequence.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ri_criteria(result):
    exhibit = next(r for r in result.records if r["exhibit_id"] == "E4")
    return exhibit, [c for component in exhibit["components"]
                     for c in component.get("criteria") or ()
                     if c["criterion"] == "retention_index" and c["result"] != "not evaluated"]


def test_the_instrument_profile_gives_the_column_type(sequence, tmp_path):
    profile = load_profile("demo-quadrupole")
    result = run_batch(sequence, library=demo_library_path(), workers=1,
                       steps=qa_batch_steps(profile, history_dir=tmp_path / "history"))
    exhibit, criteria = _ri_criteria(result)
    source = "instrument profile GCMS-DEMO [column] ri_column_type"
    assert exhibit["retention_calibration"]["column_type"] == "semi-standard non-polar"
    assert exhibit["retention_calibration"]["column_type_source"] == source
    assert criteria, "the exhibit has RI criteria that were evaluated"
    for criterion in criteria:
        assert criterion["evidence"]["column_type_source"] == source
        assert "not known" not in criterion["detail"]
        # the demo library's RIs are of a 5 % phenyl column: like with like
        assert "(both semi-standard non-polar)" in criterion["detail"]
    # the same profile given directly, without the QA gate
    direct = run_batch(sequence, library=demo_library_path(), workers=1, instrument=profile)
    assert _ri_criteria(direct)[1] == criteria


def test_no_profile_no_ladder_column_the_criterion_says_so(sequence):
    result = run_batch(sequence, library=demo_library_path(), workers=1)
    exhibit, criteria = _ri_criteria(result)
    assert exhibit["retention_calibration"]["column_type"] is None
    assert exhibit["retention_calibration"]["column_type_source"] == NOT_STATED
    assert criteria
    for criterion in criteria:
        assert "the lab's column type is not known" in criterion["detail"]
        assert "the library's RI is for a semi-standard non-polar column" in criterion["detail"]
        assert "compared without checking column types" in criterion["detail"]
