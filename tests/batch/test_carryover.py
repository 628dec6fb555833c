"""Carry-over judged on the real LRCFS etizolam sequence (Agilent 5977, .D folders).

The sequence as the authors ran it: one MeOH blank (001), then nine etizolam injections
(calibrators 25-250 ug/mL, check standards 40 and 125 ug/mL) before the case samples.
That blank shows the system clean before the standards, not before the case sample: no
case sample's etizolam criterion may say the blank ruled out carry-over. With a clean
blank injected after the standards (the run of 001 written again as ANDI netCDF, so a
different file of the same blank injection's data) the blank counts and is examined.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import etizolam_msp, shared_file

from gcms.batch import run_batch
from gcms.demo import demo_library_path
from gcms.identify import CARRYOVER_RULE, load_criteria
from gcms.io import andi_ms, read
from gcms.library import build_library
from gcms.sequence import Injection, Sequence

#: Etizolam's status as the shipped UN list states it (INCB Green List, 1971 Schedule IV).
SCHEDULE = "Etizolam: controlled under Convention on Psychotropic Substances, 1971: Schedule IV"
#: The runs of ../shared/data/lrcfs-etizolam in injection order (its SOURCE.md).
STANDARDS = ("002", "003", "004", "005", "006", "007", "008", "010", "012")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("carryover")
    massbank = shared_file("massbank-ei", "RIKEN")
    msp = etizolam_msp(root / "etizolam.msp")
    # and the MassBank record of 2-ethyl-2-propanol (tert-amyl alcohol), which the case
    # sample's weak solvent peak at 7.9 min matches (MF 827) at S/N below 10
    solvent = shared_file("massbank-ei", "Fac_Eng_Univ_Tokyo",
                          "MSBNK-Fac_Eng_Univ_Tokyo-JP000280.txt")
    build_library([msp, solvent, *sorted(massbank.rglob("*.txt"))[:200]], root / "lib.h5")
    return root / "lib.h5"


def _sequence(path, rows):
    exhibits = {"LR-014": "FL21-1010", "LR-016": "FL22-0210"}
    return Sequence(path=path, injections=tuple(
        Injection(position=i, file=f, type=t, sample_id=s, reference_substances=r,
                  case_id="C-1", exhibit_id=exhibits.get(s))
        for i, (f, t, s, r) in enumerate(rows)))


def _conclusion(out):
    from gcms.report.adapters import from_results

    return from_results(out / "results.json", "FL21-1010", draw_chromatograms=False).conclusion


def _rows(raw, *, clean_blank=None):
    rows = [(raw / "220223001.D", "blank", "LR-001", ())]
    rows += [(raw / f"220223{n}.D", "standard", f"LR-{n}", ("Etizolam",)) for n in STANDARDS]
    if clean_blank is not None:
        rows.append((clean_blank, "blank", "LR-001-reinjected", ()))
    rows += [(raw / "220223014.D", "sample", "LR-014", ()),
             (raw / "220223016.D", "sample", "LR-016", ())]
    return rows



def _etizolam(result, sample_id):
    record = next(r for r in result.records if r["sample_id"] == sample_id)
    return [c for c in record["components"]
            if c["substance"] == "Etizolam" and c["verdict"] != "not identified"]


def _requiring_the_blank_after_the_analyte():
    criteria = load_criteria(None)
    return dataclasses.replace(criteria, blank=dataclasses.replace(
        criteria.blank, after_analyte_required=True))


@pytest.mark.shared
def test_a_blank_before_the_standards_does_not_rule_out_carry_over(tmp_path, library):
    raw = shared_file("lrcfs-etizolam", "raw")
    result = run_batch(_sequence(tmp_path / "seq.csv", _rows(raw)), library=library,
                       workers=1, out_dir=tmp_path / "out",
                       criteria=_requiring_the_blank_after_the_analyte())
    assert result.ok
    case = _etizolam(result, "LR-014")
    assert case, "etizolam must still be found in FL21/1010"
    for component in case:
        blank = {c["criterion"]: c for c in component["criteria"]}["blank"]
        assert blank["result"] == "not evaluated" and blank["required"]
        assert component["verdict"] == "inconclusive"
        assert blank["evidence"]["after_analyte_runs"] is True
        assert "not detected" not in blank["detail"]
        assert "no blank between the last of them (#10)" in blank["detail"]
        evidence = blank["evidence"]
        assert evidence["rule"] == CARRYOVER_RULE
        assert evidence["max_carryover_percent"] == 10.0
        assert evidence["blank_file"] == "220223001.D"
        # the runs it looked at: the nine etizolam injections after that blank
        assert [r["position"] for r in evidence["analyte_runs"]] == list(range(1, 10))
        assert [r["file"] for r in evidence["analyte_runs"]][-1] == "220223012.D"
        # the 125 ug/mL check standard right before the 34.5 ug/mL case: a risk
        assert [r["file"] for r in evidence["carryover_risk"]] == ["220223012.D"]
        assert evidence["carryover_risk"][0]["relative_response"] > 1.0
        assert "carry-over risk" in blank["detail"]
    notes = [n for n in next(r for r in result.records
                             if r["sample_id"] == "LR-014")["findings"]["notes"]
             if n["kind"] == "carry-over"]
    assert notes and "220223012.D" in notes[0]["text"]
    assert _etizolam(result, "LR-016") == []
    conclusion = _conclusion(tmp_path / "out")
    assert conclusion.identified == () and conclusion.inconclusive == ("Etizolam",)
    assert SCHEDULE in conclusion.ambiguities
    # the solvent peak: matched, but under the S/N limit on its own ions: not indicated
    solvent = next(c for c in next(r for r in result.records if r["sample_id"] == "LR-014")
                   ["components"] if c["substance"] == "2-ETHYL-2-PROPANOL"
                   and abs(c["rt_min"] - 7.9) < 0.1)
    snr = {c["criterion"]: c for c in solvent["criteria"]}["signal_to_noise"]
    assert solvent["match_factor"] >= 800 and solvent["snr"] < 10.0
    assert solvent["verdict"] == "not identified" and snr["result"] == "fail"
    assert snr["detail"].startswith("quantifier m/z") and snr["value"] < 10.0
    assert not any("PROPANOL" in n.upper() for n in (*conclusion.inconclusive,
                                                     *conclusion.ambiguities))


@pytest.mark.shared
def test_the_default_profile_states_the_unevaluated_carry_over_without_holding_the_verdict(
        tmp_path, library):
    # SWGDRUG's profile as shipped: the blank after the analyte's runs is reported, not
    # required; the criterion still never says that the early blank ruled carry-over out
    assert load_criteria(None).blank.after_analyte_required is False
    raw = shared_file("lrcfs-etizolam", "raw")
    result = run_batch(_sequence(tmp_path / "seq.csv", _rows(raw)), library=library,
                       workers=1, out_dir=tmp_path / "out")
    chosen = max(_etizolam(result, "LR-014"), key=lambda c: c["match_factor"])
    blank = {c["criterion"]: c for c in chosen["criteria"]}["blank"]
    assert blank["result"] == "not evaluated" and not blank["required"]
    assert "no blank between the last of them (#10)" in blank["detail"]
    assert "carry-over risk" in blank["detail"]
    assert chosen["verdict"] == "identified"
    assert _conclusion(tmp_path / "out").identified == ("Etizolam",)


@pytest.mark.shared
def test_a_clean_blank_after_the_standards_counts(tmp_path, library):
    raw = shared_file("lrcfs-etizolam", "raw")
    blank = tmp_path / "220223001-reinjected.cdf"
    andi_ms.write(read(raw / "220223001.D"), blank)
    result = run_batch(_sequence(tmp_path / "seq.csv", _rows(raw, clean_blank=blank)),
                       library=library, workers=1, out_dir=tmp_path / "out")
    assert result.ok
    case = _etizolam(result, "LR-014")
    assert case
    chosen = max(case, key=lambda c: c["match_factor"])
    blank_result = {c["criterion"]: c for c in chosen["criteria"]}["blank"]
    assert blank_result["result"] == "pass"
    assert blank_result["detail"].startswith(f"blank {blank.name} (sequence #11): not detected")
    evidence = blank_result["evidence"]
    assert evidence["blank_position"] == 10 and evidence["detected"] is False
    assert evidence["carryover_risk"] == []
    # the last etizolam run before the counting blank is recorded
    assert [r["file"] for r in evidence["analyte_runs"]] == ["220223012.D"]
    assert chosen["verdict"] == "identified"
    conclusion = _conclusion(tmp_path / "out")
    assert conclusion.identified == ("Etizolam",) and conclusion.inconclusive == ()
    assert SCHEDULE in conclusion.ambiguities


def test_higher_level_rule_counts_only_runs_above_the_exhibit(tmp_path):
    """Simulated: blank, a weak methamphetamine standard, then a strong exhibit."""
    import dataclasses

    from batch_sim import write_run, write_sequence

    write_run(tmp_path / "ladder.cdf", [], seed=70, ladder=True)
    write_run(tmp_path / "blank.cdf", [], seed=71)
    write_run(tmp_path / "std.cdf", [("Methamphetamine", 300.0)], seed=72)
    write_run(tmp_path / "exhibit.cdf", [("Methamphetamine", 800.0)], seed=73)
    sequence = write_sequence(tmp_path, [("ladder.cdf", "ladder", "L1", "", ""),
                                         ("blank.cdf", "blank", "B1", "", ""),
                                         ("std.cdf", "standard", "S1", "", "Methamphetamine"),
                                         ("exhibit.cdf", "sample", "X1", "EX-1", "")])
    strict = load_criteria()
    higher = dataclasses.replace(strict, blank=dataclasses.replace(
        strict.blank, carryover_from="higher-level"))

    def blank_of(criteria):
        result = run_batch(sequence, library=demo_library_path(), workers=1, criteria=criteria)
        record = next(r for r in result.records if r["sample_id"] == "X1")
        component = next(c for c in record["components"]
                         if c["substance"] == "Methamphetamine")
        return {c["criterion"]: c for c in component["criteria"]}["blank"]

    any_level = blank_of(strict)
    assert any_level["result"] == "not evaluated"
    assert any_level["evidence"]["carryover_from"] == "any-level"
    assert [r["file"] for r in any_level["evidence"]["analyte_runs"]] == ["std.cdf"]
    assert any_level["evidence"]["analyte_runs"][0]["relative_response"] < 1.0
    assert any_level["evidence"]["carryover_risk"] == []      # lower than the exhibit
    counted = blank_of(higher)
    assert counted["result"] == "pass" and counted["evidence"]["blank_file"] == "blank.cdf"
    assert "at a lower response than this run were injected after this blank" in \
        counted["detail"]
