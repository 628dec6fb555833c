"""Per-run findings: one entry per substance, and the notes a report must carry."""

from __future__ import annotations

from test_judge import SWGDRUG, clean_blank, component, hit, spectrum

from gcms.identify import Substance, judge_component, summarise


def judged(index, name, *, mf=920, ri=None, rt_s=300.0, lib_ri=None):
    h = hit(name=name, mf=mf, rmf=mf, ri=lib_ri, index=index)
    return judge_component(index, component(rt_s=rt_s), [(h, Substance.from_hit(h), spectrum())],
                           criteria=SWGDRUG, retention_index=ri, blank=clean_blank,
                           mz_range=(40, 400))


def test_captagon_findings_carry_the_fenetylline_note():
    judgements = [judged(0, "Amphetamine", ri=1131.0, lib_ri=1130.0, rt_s=200.0),
                  judged(1, "Caffeine", ri=1842.0, lib_ri=1840.0, rt_s=380.0),
                  judged(2, "Theophylline", ri=1975.0, lib_ri=1980.0, rt_s=420.0),
                  judged(3, "Amphetamine", mf=850, ri=1131.5, lib_ri=1130.0, rt_s=200.5)]
    findings = summarise(judgements, criteria=SWGDRUG)
    assert findings.substances == ("Amphetamine", "Caffeine", "Theophylline")
    assert findings.identified[0].match_factor == 920          # the best component of two
    kinds = [n.kind for n in findings.notes]
    assert kinds.count("ambiguity") == 1 and kinds[-1] == "limitation"
    ambiguity = next(n for n in findings.notes if n.kind == "ambiguity")
    assert "fenetylline" in ambiguity.text and ambiguity.substances == ("Amphetamine",
                                                                       "Theophylline")
    lookalike = next(n for n in findings.notes if n.kind == "lookalike")
    assert "N-Methylphenethylamine" in lookalike.text and "ΔRI" in lookalike.text
    data = findings.to_dict()
    assert data["identified"][0] == {**data["identified"][0], "substance": "Amphetamine",
                                     "verdict": "identified"}


def test_inconclusive_listed_with_the_reason_and_no_notes_when_not_qualified():
    judgements = [judged(0, "Methamphetamine", ri=None),             # no retention evidence
                  judged(1, "Something", mf=600)]                    # does not match at all
    findings = summarise(judgements, criteria=SWGDRUG)
    assert findings.identified == ()
    assert [f.substance for f in findings.inconclusive] == ["Methamphetamine"]
    assert findings.inconclusive[0].failed == ("retention_time",)
    assert "no retention evidence" in next(n.text for n in findings.notes
                                           if n.kind == "lookalike")
    plain = summarise(judgements, criteria=SWGDRUG, qualify=False)
    assert [n.kind for n in plain.notes] == ["limitation"]
