"""What one run shows, substance by substance, and what a chemist must say about it.

:func:`summarise` turns a run's component judgements into :class:`Findings`: the
substances identified (each from its best component), those inconclusive (the spectrum
matches, some criterion held the verdict back, and which), and the notes a report must
carry:

* **lookalike** - the substance belongs to a group of the lookalike data file whose
  spectra the library match cannot tell apart; which retention evidence decided;
* **runner-up** - another compound's hit within ``close_match_factor`` MF units, and
  whether retention excluded it;
* **carry-over** - a run holding the substance at a response at least this run's was
  injected right before it (a same-sequence standard at a high level, typically);
* **ambiguity** - findings with another chemical explanation (fenetylline breaking down
  to amphetamine and theophylline in the injector, ...);
* **controlled** - the jurisdictions and schedules of an in-scope finding (the
  profile's target lists, :mod:`gcms.identify.targets`);
* **out-of-scope** - findings of substances outside the method's target lists, apart
  from the findings: listed ("other compounds indicated, not confirmed and outside the
  scope of the method") or only counted, per the profile's ``scope.out_of_scope``;
* **limitation** - what "not identified" does and does not mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from gcms.identify.criteria import Criteria
from gcms.identify.judge import Identification, Judgement
from gcms.identify.lookalikes import Lookalikes, load_lookalikes

__all__ = ["Finding", "Findings", "Note", "summarise"]


@dataclass(frozen=True, slots=True)
class Note:
    """A statement a report must carry, with the substances it is about."""

    kind: str
    substances: tuple[str, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "substances": list(self.substances), "text": self.text}


@dataclass(frozen=True, slots=True)
class Finding:
    """One substance of a run: its verdict and the component that shows it best."""

    substance: str
    verdict: str
    component: int
    rt_s: float
    retention_index: float | None
    match_factor: int
    reverse_match_factor: int
    retention_source: str | None
    delta_rt_s: float | None
    delta_ri: float | None
    techniques: tuple[str, ...]
    failed: tuple[str, ...]
    evidence: str
    in_scope: bool = True
    controlled: tuple[str, ...] = ()
    found_by: str = "library search"

    def to_dict(self) -> dict[str, Any]:
        """JSON form (substance and verdict side by side)."""
        return {"substance": self.substance, "verdict": self.verdict,
                "component": self.component, "rt_s": self.rt_s,
                "retention_index": self.retention_index, "match_factor": self.match_factor,
                "reverse_match_factor": self.reverse_match_factor,
                "retention_source": self.retention_source, "delta_rt_s": self.delta_rt_s,
                "delta_ri": self.delta_ri, "techniques": list(self.techniques),
                "failed": list(self.failed), "evidence": self.evidence,
                "in_scope": self.in_scope, "controlled": list(self.controlled),
                "found_by": self.found_by}


@dataclass(frozen=True, slots=True)
class Findings:
    """The substances of one run and the notes that qualify them.

    ``identified`` and ``inconclusive`` hold every finding, each with ``in_scope``;
    :attr:`conclusion` is what a conclusion may state: the in-scope ones.
    """

    identified: tuple[Finding, ...]
    inconclusive: tuple[Finding, ...]
    notes: tuple[Note, ...]

    @property
    def substances(self) -> tuple[str, ...]:
        """Names of the substances identified."""
        return tuple(f.substance for f in self.identified)

    @property
    def conclusion(self) -> tuple[Finding, ...]:
        """The in-scope findings, identified first: what the conclusion reports."""
        return tuple(f for f in (*self.identified, *self.inconclusive) if f.in_scope)

    @property
    def out_of_scope(self) -> tuple[Finding, ...]:
        """Findings of substances outside the method's target lists."""
        return tuple(f for f in (*self.identified, *self.inconclusive) if not f.in_scope)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"identified": [f.to_dict() for f in self.identified],
                "inconclusive": [f.to_dict() for f in self.inconclusive],
                "conclusion": [f.substance for f in self.conclusion],
                "out_of_scope": [f.substance for f in self.out_of_scope],
                "notes": [n.to_dict() for n in self.notes]}


def _chosen(judgement: Judgement) -> Identification:
    """The identification a judgement chose (a finding is only made of one that has one)."""
    return cast(Identification, judgement.chosen)


def _evidence(chosen: Identification) -> str:
    """One line: which rules decided, in a reviewer's words."""
    parts = [f"MF {chosen.hit.match_factor}/{chosen.hit.reverse_match_factor}"]
    if chosen.retention_source == "standard" and chosen.delta_rt_s is not None:
        ref = chosen.reference
        where = f" vs standard {ref.file} (#{ref.position + 1})" if ref is not None else ""
        parts.append(f"ΔRT {chosen.delta_rt_s:+.2f} s{where}")
    elif chosen.retention_source == "index" and chosen.delta_ri is not None:
        parts.append(f"ΔRI {chosen.delta_ri:+.1f} vs library")
    else:
        parts.append("no retention evidence")
    return ", ".join(parts)


#: Said of a finding added by the search restricted to the target list.
TARGETED = "targeted search of the method's target list"


def _finding(judgement: Judgement) -> Finding:
    chosen = judgement.chosen
    assert chosen is not None  # noqa: S101 - callers pass judged components only
    scope = chosen.scope or {}
    return Finding(
        substance=chosen.name, verdict=chosen.verdict, component=judgement.index,
        rt_s=judgement.component.rt_s,
        retention_index=judgement.retention_index,
        match_factor=chosen.hit.match_factor,
        reverse_match_factor=chosen.hit.reverse_match_factor,
        retention_source=chosen.retention_source, delta_rt_s=chosen.delta_rt_s,
        delta_ri=chosen.delta_ri, techniques=chosen.techniques, failed=chosen.failed,
        evidence=_evidence(chosen), in_scope=chosen.in_scope,
        controlled=tuple(scope.get("controlled") or ()),
        found_by=TARGETED if any(n.startswith(TARGETED) for n in chosen.notes)
        else "library search")


def _lookalike_note(chosen: Identification, lookalikes: Lookalikes) -> list[Note]:
    notes = []
    for group in lookalikes.groups_of(chosen.substance):
        others = ", ".join(group.others(chosen.substance))
        if chosen.retention_source == "standard" and chosen.delta_rt_s is not None:
            how = (f"retention decided: ΔRT {chosen.delta_rt_s:+.2f} s against a reference "
                   f"standard of {chosen.name} run in the same sequence")
        elif chosen.retention_source == "index" and chosen.delta_ri is not None:
            how = (f"retention decided: ΔRI {chosen.delta_ri:+.1f} against the library's RI "
                   f"of {chosen.name}; the lookalikes' own retention was not measured in "
                   f"this sequence, a reference standard would settle it")
        else:
            how = "no retention evidence: the data do not tell these substances apart"
        notes.append(Note("lookalike", (chosen.name, *group.others(chosen.substance)),
                          f"{chosen.name} ({group.name}): {group.statement}; "
                          f"lookalikes: {others}; {how}"))
    return notes


def _runner_up_note(chosen: Identification) -> list[Note]:
    result = chosen.criterion("distinct_from_runner_up")
    if result is None or not result.evidence:
        return []
    names = tuple(r["substance"] for r in result.evidence.get("runner_up", ()))
    return [Note("runner-up", (chosen.name, *names),
                 f"{chosen.name}: other compounds match almost as well: {result.detail}")]


def _carryover_note(chosen: Identification) -> list[Note]:
    """A standard (or any run) holding the substance at a higher level right before."""
    result = chosen.criterion("blank")
    risk = (result.evidence or {}).get("carryover_risk") if result is not None else None
    if not risk:
        return []
    runs = ", ".join(f"#{r['position'] + 1} ({r['file']}, {r['type']}"
                     + (f", {r['relative_response']:g}x this run's response)"
                        if r.get("relative_response") is not None else ")") for r in risk)
    return [Note("carry-over", (chosen.name,),
                 f"{chosen.name}: carry-over risk: run {runs} holding {chosen.name} at a "
                 f"response at least this run's was injected right before it")]


def _scope_notes(identified: Sequence[Finding], inconclusive: Sequence[Finding],
                 criteria: Criteria) -> list[Note]:
    """Controlled status of the in-scope findings; the other compounds, apart."""
    if criteria.target_list is None:
        return []
    notes = []
    for finding in (*identified, *inconclusive):
        if finding.in_scope and finding.controlled:
            notes.append(Note("controlled", (finding.substance,),
                              f"{finding.substance}: controlled under "
                              f"{'; '.join(finding.controlled)}"))
    others = [f for f in (*identified, *inconclusive) if not f.in_scope]
    if others:
        names = tuple(dict.fromkeys(f.substance for f in others))
        lists = ", ".join(f["name"] for f in criteria.target_list.files)
        if criteria.scope.out_of_scope == "separate":
            text = (f"Other compounds indicated, not confirmed and outside the scope of the "
                    f"method (not on its target lists: {lists}): {', '.join(names)}")
        else:
            text = (f"{len(names)} other compound(s) outside the scope of the method (not on "
                    f"its target lists: {lists}) are not reported")
        notes.append(Note("out-of-scope", names if criteria.scope.out_of_scope == "separate"
                          else (), text))
    return notes


def summarise(judgements: Sequence[Judgement], *, criteria: Criteria,
              lookalikes: Lookalikes | None = None, qualify: bool = True) -> Findings:
    """The findings of one run (module docstring).

    A substance seen in several components is reported once, from its best component
    (best verdict, then highest MF). Inconclusive findings are listed only where the
    spectrum matched at least at ``spectrum.not_identified_below``. ``qualify=False``
    leaves out the lookalike, runner-up, ambiguity, carry-over and scope notes (for
    ladders, blanks and standards, whose content is known).

    Parameters
    ----------
    judgements : sequence of Judgement
        The run's components, judged.
    criteria : Criteria
        The profile they were judged by.
    lookalikes : Lookalikes, optional
        The lookalike groups; the shipped ones by default.
    qualify : bool, default True
        Whether to add the notes.

    Returns
    -------
    Findings
        The substances identified and inconclusive, in RT order, and the notes a report
        must carry.
    """
    lookalikes = lookalikes or load_lookalikes()
    best: dict[str, Judgement] = {}
    for judgement in judgements:
        chosen = judgement.chosen
        if chosen is None or chosen.verdict == "not identified":
            continue
        if chosen.hit.match_factor < criteria.spectrum.not_identified_below:
            continue
        key = next((k for k, j in best.items() if _chosen(j).substance.same_as(chosen.substance)),
                   None)
        if key is None:
            best[chosen.name] = judgement
            continue
        held = _chosen(best[key])
        rank = ("identified", "inconclusive").index
        if (rank(chosen.verdict), -chosen.hit.match_factor) < (rank(held.verdict),
                                                                -held.hit.match_factor):
            best[key] = judgement
    identified = [_finding(j) for j in best.values() if _chosen(j).verdict == "identified"]
    inconclusive = [_finding(j) for j in best.values() if _chosen(j).verdict == "inconclusive"]
    identified.sort(key=lambda f: f.rt_s)
    inconclusive.sort(key=lambda f: f.rt_s)
    notes: list[Note] = []
    for judgement in sorted(best.values(), key=lambda j: j.component.rt_s) if qualify else ():
        notes.extend(_lookalike_note(_chosen(judgement), lookalikes))
        notes.extend(_runner_up_note(_chosen(judgement)))
        notes.extend(_carryover_note(_chosen(judgement)))
    identified_substances = [_chosen(best[k]).substance for k in best
                             if _chosen(best[k]).verdict == "identified"]
    for ambiguity in lookalikes.ambiguities if qualify else ():
        trigger = ambiguity.triggered_by(identified_substances)
        if trigger is not None:
            notes.append(Note("ambiguity", trigger,
                              f"{' and '.join(trigger)} identified: {ambiguity.statement}"))
    if qualify:
        notes.extend(_scope_notes(identified, inconclusive, criteria))
    notes.append(Note(
        "limitation", (),
        f"'not identified' does not mean absent: a substance below the reporting level "
        f"(S/N {criteria.signal.min_snr:g} on its quantifier ion), not deconvoluted as a "
        f"component, or missing from the library is not reported; criteria profile "
        f"{criteria.name!r}"))
    return Findings(tuple(identified), tuple(inconclusive), tuple(notes))
