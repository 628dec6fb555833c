"""A real forensic sequence (LRCFS etizolam, Agilent 5977): blank, standard, two case samples.

The reference entry is built as the shared contract builds it: the apex scan of the
250 ug/mL standard, from the authors' msconvert text (an independent reading of the
run). The authors found etizolam in FL21/1010 (run 014, 34.5 ug/mL) and not in FL22/0210
(run 016).
"""

from __future__ import annotations

import pytest
from conftest import etizolam_msp, shared_file

from gcms.batch import run_batch
from gcms.library import build_library
from gcms.sequence import Injection, Sequence

pytestmark = pytest.mark.shared


def test_etizolam_identified_in_the_positive_case_sample_only(tmp_path):
    raw = shared_file("lrcfs-etizolam", "raw")
    massbank = shared_file("massbank-ei", "RIKEN")
    msp = etizolam_msp(tmp_path / "etizolam.msp")
    others = sorted(p for p in massbank.rglob("*.txt"))[:400]
    build_library([msp, *others], tmp_path / "lib.h5")
    # the blank after the standard, so that it counts for carry-over (a blank before the
    # standards does not: tests/batch/test_carryover.py)
    rows = [("220223005.D", "standard", "LR-005", ("Etizolam",)),
            ("220223001.D", "blank", "LR-001", ()),
            ("220223014.D", "sample", "LR-014", ()), ("220223016.D", "sample", "LR-016", ())]
    sequence = Sequence(path=tmp_path / "seq.csv", injections=tuple(
        Injection(position=i, file=raw / f, type=t, sample_id=s, reference_substances=r)
        for i, (f, t, s, r) in enumerate(rows)))
    result = run_batch(sequence, library=tmp_path / "lib.h5", workers=1)
    assert result.ok
    found = {r["sample_id"]: [f["substance"] for f in r["findings"]["identified"]]
             for r in result.records}
    assert "Etizolam" in found["LR-005"]
    assert "Etizolam" in found["LR-014"]
    assert "Etizolam" not in found["LR-001"] and "Etizolam" not in found["LR-016"]
    case = next(r for r in result.records if r["sample_id"] == "LR-014")
    etizolam = next(c for c in case["components"]
                    if c["substance"] == "Etizolam" and c["verdict"] == "identified")
    criteria = {c["criterion"]: c for c in etizolam["criteria"]}
    # Authors' RTs: 615.5 s in the 100 ug/mL standard, 614.1 s in the case sample.
    assert criteria["retention_time"]["value"] == pytest.approx(-1.4, abs=0.5)
    assert criteria["retention_time"]["evidence"]["file"] == "220223005.D"
    assert criteria["ion_ratios"]["result"] == "pass"
    assert criteria["blank"]["result"] == "pass"
    assert criteria["blank"]["evidence"]["blank_file"] == "220223001.D"
