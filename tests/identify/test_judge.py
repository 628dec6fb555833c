"""The verdict rule, criterion by criterion: each failing alone moves the verdict as it should."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from gcms import Spectrum
from gcms.deconvolution import Component
from gcms.identify import (
    BlankCheck,
    ReferenceStandard,
    Substance,
    decide,
    judge_candidate,
    judge_component,
    load_criteria,
)
from gcms.identify.judge import CriterionResult
from gcms.library import Hit

SWGDRUG = load_criteria("swgdrug-gcms")
#: Methamphetamine-like: base 58, then 91, 134, 65.
PEAKS = {58: 999.0, 91: 120.0, 134: 30.0, 65: 50.0, 56: 40.0}


def spectrum(peaks=PEAKS, **kwargs) -> Spectrum:
    mz = np.array(sorted(peaks), dtype=float)
    return Spectrum(mz=mz, intensity=np.array([peaks[int(m)] for m in mz]), **kwargs)


def component(*, rt_s=300.0, snr=200.0, peaks=PEAKS) -> Component:
    return Component(rt_s=rt_s, scan=100, spectrum=spectrum(peaks, rt_seconds=rt_s),
                     model_mz=58, area=1e6, height=1e5, snr=snr, purity=0.95, start_scan=95,
                     end_scan=105, width_s=2.5, profile=np.ones(11))


def hit(*, name="Methamphetamine", mf=920, rmf=930, ri=1180.0, index=1) -> Hit:
    return Hit(rank=1, library_index=index, name=name, inchikey=None, cas=None, formula=None,
               mw=None, match_factor=mf, reverse_match_factor=rmf, similarity_match_factor=mf,
               entropy_similarity=mf, probability=90.0, retention_index=ri, delta_ri=None,
               ri_penalty=0.0, score=mf / 1000, library_sha256="0" * 64)


def reference(*, rt_s=300.0, peaks=PEAKS) -> ReferenceStandard:
    return ReferenceStandard(substance="Methamphetamine", library_name="Methamphetamine",
                             file="std.cdf", position=2, component_index=3, rt_s=rt_s,
                             retention_index=1180.0, spectrum=spectrum(peaks), match_factor=930,
                             snr=500.0, height=1e5)


def clean_blank(substance, ions):
    return BlankCheck(substance=substance.name, file="blank.cdf", position=1, detected=False,
                      percent=0.0)


def judge(*, comp=None, h=None, criteria=SWGDRUG, ref="default", ri=1181.0, extrapolated=False,
          blank=clean_blank, library_peaks=PEAKS):
    h = h or hit()
    return judge_candidate(
        comp or component(), h, criteria=criteria, substance=Substance.from_hit(h),
        library_spectrum=spectrum(library_peaks), retention_index=ri,
        ri_extrapolated=extrapolated, reference=reference() if ref == "default" else ref,
        blank=blank, mz_range=(40, 400))


def results(identification) -> dict[str, str]:
    return {r.name: r.result for r in identification.criteria}


def test_everything_passes_identified_with_both_techniques():
    ident = judge()
    assert ident.verdict == "identified", ident.failed
    assert ident.techniques == ("MS", "GC")
    assert ident.retention_source == "standard"
    assert ident.delta_rt_s == pytest.approx(0.0)
    assert ident.delta_ri == pytest.approx(1.0)
    assert set(results(ident).values()) == {"pass"}
    data = ident.to_dict()
    assert data["substance"] == "Methamphetamine" and data["verdict"] == "identified"
    assert {c["criterion"] for c in data["criteria"]} >= {
        "match_factor", "reverse_match_factor", "retention_time", "retention_index",
        "diagnostic_ions", "ion_ratios", "signal_to_noise", "blank"}


@pytest.mark.parametrize(("change", "failing", "verdict"), [
    ({"h": hit(mf=760)}, "match_factor", "inconclusive"),
    ({"h": hit(mf=650)}, "match_factor", "not identified"),
    ({"h": hit(rmf=780)}, "reverse_match_factor", "inconclusive"),
    ({"comp": component(rt_s=304.0)}, "retention_time", "inconclusive"),     # 2 windows off
    ({"comp": component(rt_s=312.0)}, "retention_time", "not identified"),   # 4 windows off
    ({"comp": component(snr=6.0)}, "signal_to_noise", "not identified"),
    ({"comp": component(peaks={58: 999.0, 134: 30.0, 65: 50.0, 56: 40.0}), "ref": None},
     "diagnostic_ions", "inconclusive"),                                     # m/z 91 missing
    ({"comp": component(peaks={58: 999.0, 91: 300.0, 134: 30.0, 65: 50.0})},
     "ion_ratios", "inconclusive"),                                          # 91/58 30 % vs 12 %
    ({"blank": lambda s, i: BlankCheck(s.name, "blank.cdf", 1, True, 25.0)},
     "blank", "inconclusive"),
])
def test_each_criterion_failing_alone(change, failing, verdict):
    ident = judge(**change)
    assert ident.verdict == verdict
    failed = [r.name for r in ident.criteria if r.result == "fail"]
    assert failed == [failing]
    assert ident.failed == (failing,)


def test_ri_decides_without_a_standard_and_contradicts_a_lookalike():
    ident = judge(ref=None, ri=1185.0)
    assert ident.verdict == "identified"
    assert ident.retention_source == "index"
    assert results(ident)["retention_time"] == "not evaluated"
    # Same spectrum, RI 150 units away: the retention shows another compound.
    lookalike = judge(ref=None, ri=1330.0)
    assert lookalike.verdict == "not identified"
    assert lookalike.failed == ("retention_index",)
    assert "different compound" in lookalike.criterion("retention_index").detail
    near = judge(ref=None, ri=1210.0)  # 30 off: beyond 20, within 3 x 20
    assert near.verdict == "inconclusive"


def test_standard_decides_and_ri_only_supports():
    ident = judge(ri=1260.0)  # RI 80 off, but a same-sequence standard matches
    assert ident.verdict == "identified"
    ri = ident.criterion("retention_index")
    assert ri.result == "fail" and not ri.decisive
    assert ident.criterion("retention_time").decisive


def test_no_retention_evidence_is_inconclusive_under_swgdrug_not_screening():
    ident = judge(ref=None, ri=None)
    assert ident.verdict == "inconclusive"
    assert ident.failed == ("retention_time",)
    assert ident.techniques == ("MS",)
    screening = judge(ref=None, ri=None, criteria=load_criteria("screening"))
    assert screening.verdict == "identified"
    assert screening.techniques == ("MS",)


def test_extrapolated_ri_is_reported_not_relied_on():
    ident = judge(ref=None, ri=1181.0, extrapolated=True)
    assert ident.verdict == "inconclusive"
    ri = ident.criterion("retention_index")
    assert ri.result == "not evaluated" and "extrapolated" in ri.detail
    allowed = dataclasses.replace(
        SWGDRUG, retention=dataclasses.replace(SWGDRUG.retention, allow_extrapolated_ri=True))
    assert judge(ref=None, extrapolated=True, criteria=allowed).verdict == "identified"


def test_missing_blank_holds_the_verdict_when_required():
    ident = judge(blank=lambda s, i: "no blank before this run in the sequence")
    assert ident.verdict == "inconclusive"
    assert ident.failed == ("blank",)
    relaxed = dataclasses.replace(
        SWGDRUG, blank=dataclasses.replace(SWGDRUG.blank, required=False))
    assert judge(blank=lambda s, i: "none", criteria=relaxed).verdict == "identified"
    # Runs that are not exhibits (blanks, standards, ladders) do not need a blank.
    assert judge(blank=None).verdict == "identified"


def test_blank_below_the_carry_over_limit_passes():
    ident = judge(blank=lambda s, i: BlankCheck(s.name, "blank.cdf", 1, True, 4.0))
    assert ident.verdict == "identified"
    assert ident.criterion("blank").value == 4.0


def test_ion_ratio_tolerance_is_relative_to_the_reference():
    # 91/58 is 12.0 % in the standard: the band ">10-20 %" allows ±20 % relative,
    # i.e. 9.6-14.4 %.
    inside = judge(comp=component(peaks={**PEAKS, 91: 143.0}))
    outside = judge(comp=component(peaks={**PEAKS, 91: 146.0}))
    assert inside.criterion("ion_ratios").result == "pass"
    assert outside.criterion("ion_ratios").result == "fail"
    row = next(r for r in outside.criterion("ion_ratios").evidence["ions"] if r["mz"] == 91)
    assert row["tolerance_percent"] == 20.0
    assert row["reference_percent"] == pytest.approx(12.01, abs=0.01)


def test_decide_rule():
    ok = CriterionResult("a", "pass", 1, 1)
    assert decide([ok]) == "identified"
    assert decide([ok, CriterionResult("b", "fail", 0, 1)]) == "inconclusive"
    assert decide([ok, CriterionResult("b", "fail", 0, 1, on_fail="not identified")]) \
        == "not identified"
    assert decide([ok, CriterionResult("b", "not evaluated", None, 1)]) == "inconclusive"
    assert decide([ok, CriterionResult("b", "not evaluated", None, 1, required=False)]) \
        == "identified"
    assert decide([ok, CriterionResult("b", "fail", 0, 1, decisive=False)]) == "identified"


def _candidates(*hits):
    return [(h, Substance.from_hit(h), spectrum()) for h in hits]


def test_component_chooses_best_verdict_and_checks_runner_up():
    comp = component()
    meth, phentermine = hit(mf=910), hit(name="Phentermine", mf=905, ri=None, index=7)

    def finder(substance):
        return (reference(), False) if substance.matches_name("Methamphetamine") else (None,
                                                                                       False)

    judged = judge_component(0, comp, _candidates(phentermine, meth), criteria=SWGDRUG,
                             retention_index=1181.0, reference_for=finder, blank=clean_blank,
                             mz_range=(40, 400))
    # Methamphetamine has retention evidence; phentermine, 5 MF units away, has none that
    # excludes it: swgdrug holds the verdict at inconclusive and says why.
    assert judged.substance == "Methamphetamine"
    assert judged.verdict == "inconclusive"
    runner = judged.chosen.criterion("distinct_from_runner_up")
    assert runner.result == "fail" and "Phentermine" in runner.detail
    # With an RI for phentermine far from the measured one, it is excluded.
    excluded = hit(name="Phentermine", mf=905, ri=1320.0, index=7)
    judged = judge_component(0, comp, _candidates(excluded, meth), criteria=SWGDRUG,
                             retention_index=1181.0, reference_for=finder, blank=clean_blank,
                             mz_range=(40, 400))
    assert judged.verdict == "identified"
    assert "excluded" in judged.chosen.criterion("distinct_from_runner_up").detail
    assert [a.name for a in judged.alternatives] == ["Phentermine"]
    assert judged.alternatives[0].verdict == "not identified"
    # Screening only notes an unresolved runner-up.
    screening = judge_component(0, comp, _candidates(phentermine, meth),
                                criteria=load_criteria("screening"), retention_index=1181.0,
                                reference_for=finder, blank=clean_blank, mz_range=(40, 400))
    assert screening.verdict == "identified"
    assert screening.chosen.criterion("distinct_from_runner_up").result == "fail"


def test_hits_of_one_substance_fold_together():
    comp = component()
    a = hit(name="METHAMPHETAMINE", mf=910)
    b = hit(name="Methamphetamine", mf=890, index=5)
    judged = judge_component(0, comp, _candidates(a, b), criteria=SWGDRUG, retention_index=1181.0,
                             blank=clean_blank, mz_range=(40, 400))
    assert judged.alternatives == ()
    assert judged.verdict == "identified"
    no_hits = judge_component(1, comp, [], criteria=SWGDRUG)
    assert no_hits.verdict == "not identified" and no_hits.substance is None
    record = no_hits.to_dict()
    assert record["verdict"] == "not identified" and record["substance"] is None
