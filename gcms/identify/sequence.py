"""Sequence-level evidence: what the other runs of a sequence tell about each run.

A run's components are judged with evidence from the runs around it: the alkane ladder
that calibrates retention indices, the reference standards of the substances, the blanks
that show there is no carry-over. In order of reasoning:

1. **Ladder** (:func:`apply_ladders`). Each run takes the RT -> RI calibration of the
   nearest ladder run before it (else after it); every component gets its retention
   index, flagged where it lies outside the ladder, and the calibration's applicability
   notes (other instrument or method, run outside the ladder's time range, ladder too
   old).
2. **Standards** (:func:`find_standards`). For every substance a standard row names,
   the standard run's component whose library hits include that substance (best MF)
   becomes the :class:`~gcms.identify.ReferenceStandard`: its RT, RI and spectrum. A
   candidate is compared with the standard of its substance nearest in the sequence
   (the earlier one on a tie) among those whose response is within
   :data:`REFERENCE_RESPONSE_FACTOR` of the candidate's (an overloaded standard elutes
   later and flattens its ion ratios); when none is that close, with the one closest in
   response. A standard's substance that is not among its components' hits is looked up
   by name in the library and its entries scored against every component directly
   (:func:`gcms.library.targeted.targeted_hit`: a simple spectrum can fall outside the
   10 best hits of a large library).
3. **Targeted candidates.** Every component eluting where a reference standard's
   substance could (within ``contradiction_factor`` RT windows of the standard) is also
   scored directly against that substance's library entry, when the entry is not among
   its hits already (``rank`` 0 in the record): the retention evidence then decides
   between it and its lookalikes, whatever their order in the hit list. Likewise every
   component is scored against the library entries of the profile's target list (within
   each target's RT/RI windows, where the list gives them): a target outside the ten best
   hits of a large library is still judged, and its record says it was found that way.
4. **Blanks.** For sample and QC runs the blank that counts is the last blank injected
   after the last run holding the candidate substance (a run where it was found, or a
   standard naming it) and before the run (:data:`gcms.identify.CARRYOVER_RULE`); it is
   searched on the candidate's own ions (:func:`gcms.identify.check_blank`), blank runs
   read again from their files (their digest checked against the first reading) for
   that. Without such a blank the criterion is "not evaluated", naming the runs that
   came between; a run holding the substance at a response at least the candidate's
   injected right before it is reported as a carry-over risk.
   Every candidate's S/N is measured on its own ions in the run's scans
   (:func:`gcms.identify.ion_signal`).
5. **Judgement** of every component of every run (:func:`gcms.identify.judge_component`)
   and the findings of every run (:func:`gcms.identify.summarise`).
6. **Carry-over flags** of every blank: each substance found in the run before it is
   looked for in the blank and reported with its fraction of that run's response.

Steps 3 to 6 are :func:`judge_runs`. The runs' own results (deconvolution, library hits,
ladder) come from whoever processed them, as :class:`RunEvidence`
(:class:`gcms.batch.RunAnalysis` in a batch, which drives these steps in
:func:`gcms.batch.judge_sequence`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from gcms.identify.criteria import Criteria
from gcms.identify.evidence import (
    BlankCheck,
    ReferenceStandard,
    check_blank,
    counting_blank,
    diagnostic_ions,
    ion_signal,
)
from gcms.identify.findings import TARGETED, Findings, summarise
from gcms.identify.judge import CriterionResult, Judgement, judge_component
from gcms.identify.substance import Substance, name_key
from gcms.library.targeted import targeted_hit

if TYPE_CHECKING:  # pragma: no cover
    from gcms.deconvolution import Component, Deconvolution
    from gcms.identify.lookalikes import Lookalikes
    from gcms.library import Hit, Library
    from gcms.retention import RetentionCalibration
    from gcms.run import Run
    from gcms.sequence import Injection, Sequence

__all__ = [
    "IN_BLANK",
    "REFERENCE_RESPONSE_FACTOR",
    "RunContext",
    "RunEvidence",
    "RunProblem",
    "SequenceEvidence",
    "apply_ladders",
    "file_name",
    "find_standards",
    "judge_runs",
]


class RunEvidence(Protocol):
    """What was found in one run on its own, as the sequence's judgement reads it.

    :class:`gcms.batch.RunAnalysis` is one (a batch's first pass).
    """

    @property
    def run(self) -> Mapping[str, Any]:
        """The run's :meth:`gcms.Run.summary` facts (``sha256``, ``instrument``...)."""

    @property
    def deconvolution(self) -> Deconvolution:
        """The components and the run's noise model."""

    @property
    def components(self) -> tuple[Component, ...]:
        """The run's components in retention-time order."""

    @property
    def hits(self) -> tuple[tuple[Hit, ...], ...]:
        """Per component (same order), its library hits, best first."""

    @property
    def synonyms(self) -> Mapping[int, tuple[str, ...]]:
        """Synonyms of the library entries among the hits (entry index -> names)."""

    @property
    def ladder(self) -> Mapping[str, Any] | None:
        """For a ladder run, the ladder found (JSON form)."""

    @property
    def calibration(self) -> RetentionCalibration | None:
        """For a ladder run, its RT -> RI calibration."""

    @property
    def ladder_problem(self) -> str | None:
        """For a ladder run without a calibration, why."""


class RunProblem(Protocol):
    """Why a run could not be processed on its own (:class:`gcms.batch.RunFailure`)."""

    @property
    def problem(self) -> str:
        """What is wrong, in words."""


#: Standards whose apex height is within this factor of a candidate's are preferred as
#: its reference (retention time and ion ratios shift with the amount on column).
REFERENCE_RESPONSE_FACTOR = 3.0


@dataclass(slots=True)
class RunContext:
    """Everything the sequence's judgement knows about one run (mutable while it is judged).

    ``analysis`` is what was found in the run on its own (:class:`RunEvidence`), None
    when that failed, and then ``failure`` says why (:class:`RunProblem`).
    """

    injection: Injection
    analysis: RunEvidence | None
    failure: RunProblem | None = None
    calibration_position: int | None = None
    ladder_evidence: dict[str, Any] | None = None
    retention_indices: list[float | None] = field(default_factory=list)
    extrapolated: list[bool | None] = field(default_factory=list)
    calibration_notes: tuple[str, ...] = ()
    judgements: tuple[Judgement, ...] = ()
    findings: Findings | None = None
    references: list[dict[str, Any]] = field(default_factory=list)
    carry_over: list[dict[str, Any]] = field(default_factory=list)
    blank_position: int | None = None
    blank_file: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the run on its own could be processed."""
        return self.analysis is not None

    @property
    def evidence(self) -> RunEvidence:
        """``analysis`` of a run that could be processed (read only where :attr:`ok`)."""
        return cast(RunEvidence, self.analysis)


@dataclass(slots=True)
class SequenceEvidence:
    """The sequence-level evidence: ladder calibrations and reference standards."""

    calibrations: dict[int, RetentionCalibration] = field(default_factory=dict)
    ladders: dict[int, dict[str, Any]] = field(default_factory=dict)
    standards: list[tuple[Substance, ReferenceStandard]] = field(default_factory=list)


def file_name(path: str | Path) -> str:
    """How a run is named in another run's record: its file (or folder) name."""
    return Path(str(path).rstrip("/\\")).name


def _substance(hit: Hit, analysis: RunEvidence) -> Substance:
    return Substance.from_hit(hit, analysis.synonyms.get(hit.library_index, ()))


# --------------------------------------------------------------------------- ladder
def _ladder_evidence(position: int, context: RunContext, calibration) -> dict[str, Any]:
    names = calibration.names
    return {"ladder_file": file_name(context.injection.file), "ladder_position": position,
            "method": calibration.method, "markers": f"{names[0]}-{names[-1]}",
            "ri_range": list(calibration.ri_range),
            "rt_range_s": list(calibration.rt_range_s),
            "naming": (context.evidence.ladder or {}).get("naming", {}).get("confidence"),
            **_column_type(calibration)}


def _column_type(calibration) -> dict[str, str | None]:
    """The lab's RI column type as the ladder names its column, and its source.

    RI is compared like with like; a batch's instrument profile overrides the ladder's
    column (:mod:`gcms.batch.pipeline`).
    """
    from gcms.retention.columns import lab_column

    return lab_column(calibration_column=getattr(calibration, "column", None))


def apply_ladders(contexts: list[RunContext], evidence: SequenceEvidence, *,
                  max_age_hours: float | None) -> None:
    """Give each run the RT -> RI calibration of the nearest ladder before it (else after).

    Every component gets its retention index (None outside a finite calibration), flagged
    where extrapolated, and the run the calibration's applicability notes
    (:meth:`gcms.retention.RetentionCalibration.applicability_of_summary`, with the
    ladder's age limit ``max_age_hours``). A ladder run without a ladder is a problem of
    that run.
    """
    for context in contexts:
        if context.injection.type != "ladder" or not context.ok:
            continue
        analysis = context.evidence
        position = context.injection.position
        if analysis.calibration is not None:
            evidence.calibrations[position] = analysis.calibration
            evidence.ladders[position] = _ladder_evidence(position, context,
                                                          analysis.calibration)
        else:
            context.problems.append(analysis.ladder_problem or "no alkane ladder found")
    positions = sorted(evidence.calibrations)
    for context in contexts:
        if not context.ok:
            continue
        here = context.injection.position
        before = [p for p in positions if p <= here]
        after = [p for p in positions if p > here]
        chosen = before[-1] if before else (after[0] if after else None)
        rts = [c.rt_s for c in context.evidence.components]
        if chosen is None:
            context.retention_indices = [None] * len(rts)
            context.extrapolated = [None] * len(rts)
            continue
        calibration = evidence.calibrations[chosen]
        indices = calibration.apply(rts) if rts else None
        context.calibration_position = chosen
        context.ladder_evidence = dict(evidence.ladders[chosen])
        context.retention_indices = ([float(v) if math.isfinite(v) else None
                                      for v in indices.retention_index] if indices else [])
        context.extrapolated = [bool(v) for v in indices.extrapolated] if indices else []
        context.calibration_notes = calibration.applicability_of_summary(
            context.evidence.run, max_age_hours=max_age_hours)


# --------------------------------------------------------------------------- standards
class _NameIndex:
    """Library entries by folded name and synonym (built on first use)."""

    def __init__(self, library: Library) -> None:
        self.library = library
        self._index: dict[str, list[int]] | None = None

    def entries(self, name: str) -> list[int]:
        if self._index is None:
            index: dict[str, list[int]] = {}
            names = self.library.column("name")
            synonyms = self.library.column("synonyms")
            for i, (entry_name, entry_synonyms) in enumerate(zip(names, synonyms, strict=True)):
                keys = {name_key(entry_name)}
                if entry_synonyms:
                    keys.update(name_key(s) for s in json.loads(entry_synonyms))
                for key in keys - {""}:
                    index.setdefault(key, []).append(i)
            self._index = index
        return self._index.get(name_key(name), [])


def find_standards(contexts: list[RunContext], evidence: SequenceEvidence, *,
                   library: Library, criteria: Criteria) -> None:
    """Each standard run's reference standards (:class:`~gcms.identify.ReferenceStandard`).

    For every substance a standard row names, the standard run's component whose library
    hits include that substance (best MF) becomes the reference: its RT, RI and spectrum.
    A substance that is not among its components' hits is looked up by name in the
    library and its entries scored against every component directly
    (:func:`gcms.library.targeted.targeted_hit`: a simple spectrum can fall outside the
    10 best hits of a large library). What was found, and how, is listed in the run's
    ``references``; a substance not found is a problem of the run.
    """
    names = _NameIndex(library)
    for context in contexts:
        injection = context.injection
        if injection.type != "standard" or not injection.reference_substances:
            continue
        if not context.ok:
            continue
        analysis = context.evidence
        for name in injection.reference_substances:
            best, how = None, "library hits"
            for index, (component, hits) in enumerate(zip(analysis.components, analysis.hits,
                                                          strict=True)):
                for hit in hits:
                    substance = _substance(hit, analysis)
                    if substance.matches_name(name) and (
                            best is None or hit.match_factor > best[2].match_factor):
                        best = (index, component, hit, substance)
            if best is None:
                how = "targeted scoring against the library entries of that name"
                for entry in names.entries(name):
                    for index, component in enumerate(analysis.components):
                        hit = targeted_hit(library, entry, component.spectrum)
                        if (hit.match_factor >= criteria.spectrum.not_identified_below
                                and (best is None or hit.match_factor > best[2].match_factor)):
                            best = (index, component, hit, Substance.from_hit(
                                hit, library.entry(entry).synonyms))
            if best is None:
                message = (f"reference substance {name!r} not found: no component of this "
                           f"standard matches a library entry of that name")
                context.problems.append(message)
                context.references.append({"substance": name, "found": False,
                                           "problem": message})
                continue
            index, component, hit, substance = best
            ri = (context.retention_indices[index] if context.retention_indices else None)
            reference = ReferenceStandard(
                substance=name, library_name=hit.name, file=file_name(injection.file),
                position=injection.position, component_index=index, rt_s=component.rt_s,
                retention_index=ri, spectrum=component.spectrum,
                match_factor=hit.match_factor, snr=component.snr, height=component.height,
                library_index=hit.library_index)
            evidence.standards.append((substance, reference))
            record = reference.to_dict()
            record.pop("file")
            record.pop("position")
            context.references.append({"found": True, "found_by": how, **record})


def _targeted_candidates(component, hits, evidence: SequenceEvidence, library: Library,
                         criteria: Criteria, cache: dict) -> list[Hit]:
    """Reference standards' library entries this component could be, not among its hits."""
    listed = {h.library_index for h in hits}
    rules = criteria.retention
    out, seen = [], set()
    for _, reference in evidence.standards:
        index = reference.library_index
        if index is None or index in listed or index in seen:
            continue
        reach = rules.contradiction_factor * rules.rt_tolerance(reference.rt_s)
        if abs(component.rt_s - reference.rt_s) > reach:
            continue
        seen.add(index)
        key = (id(component), index)
        if key not in cache:
            cache[key] = targeted_hit(library, index, component.spectrum)
        if cache[key].match_factor >= criteria.spectrum.not_identified_below:
            out.append(cache[key])
    return out


class _TargetSearch:
    """The second search, restricted to the profile's target list (its RT/RI windows).

    Each target's library entries (by name, synonym, or the first two InChIKey blocks)
    are found once; a component is scored against those of the targets whose windows
    hold it and whose entry's base peak it shows, when the entry is not among its hits.
    """

    def __init__(self, library: Library, criteria: Criteria) -> None:
        self.library, self.criteria = library, criteria
        self.entries: list[tuple[Any, list[int]]] = []
        target_list = criteria.target_list
        if target_list is None or not criteria.scope.targeted_search:
            return
        names = _NameIndex(library)
        by_key: dict[str, list[int]] = {}
        for i, key in enumerate(library.column("inchikey")):
            if key:
                by_key.setdefault("-".join(str(key).upper().split("-")[:2]), []).append(i)
        for target in target_list.targets:
            found: set[int] = set()
            for name in (target.name, *target.substance.synonyms):
                found.update(names.entries(name))
            if target.substance.inchikey:
                found.update(by_key.get("-".join(target.substance.inchikey.split("-")[:2]), ()))
            if found:
                self.entries.append((target, sorted(found)))
        self._base: dict[int, int] = {}

    def _base_peak(self, index: int) -> int:
        if index not in self._base:
            spectrum = self.library.spectrum(index)
            self._base[index] = int(round(float(spectrum.mz[spectrum.intensity.argmax()])))
        return self._base[index]

    def candidates(self, component, hits, retention_index: float | None,
                   exclude: set[int], cache: dict) -> list[Hit]:
        """Targets' entries this component matches (MF >= not_identified_below), not in ``hits``."""
        listed = {h.library_index for h in hits} | exclude
        ions = set(component.ions.tolist())
        out = []
        for target, indices in self.entries:
            if not target.within_windows(component.rt_s, retention_index):
                continue
            for index in indices:
                if index in listed or self._base_peak(index) not in ions:
                    continue
                listed.add(index)
                key = (id(component), index)
                if key not in cache:
                    cache[key] = targeted_hit(self.library, index, component.spectrum)
                if cache[key].match_factor >= self.criteria.spectrum.not_identified_below:
                    out.append(cache[key])
        return out


def _targeted_note(judgement: Judgement, searched: set[int], n_hits: int) -> Judgement:
    """Says so where the chosen candidate came from the target-list search."""
    chosen = judgement.chosen
    if chosen is None or chosen.hit.library_index not in searched:
        return judgement
    note = (f"{TARGETED}: {chosen.name} (MF {chosen.hit.match_factor}) is not among the "
            f"{n_hits} best hits of the full library search; found by scoring this component "
            f"against the target's library entry")
    return replace(judgement, chosen=replace(chosen, notes=(*chosen.notes, note)))


def _reference_finder(context: RunContext, evidence: SequenceEvidence, component_index: int
                      ) -> Callable[[Substance], tuple[ReferenceStandard | None, bool]]:
    here = context.injection.position
    height = context.evidence.components[component_index].height

    def response_gap(reference: ReferenceStandard) -> float:
        if not (reference.height > 0 and height > 0):
            return math.inf
        return abs(math.log(reference.height / height))

    def find(substance: Substance) -> tuple[ReferenceStandard | None, bool]:
        matching = [ref for sub, ref in evidence.standards
                    if sub.same_as(substance) or substance.matches_name(ref.substance)]
        if not matching:
            return None, False
        own = [r for r in matching if r.position == here and r.component_index == component_index]
        if own:
            return own[0], True
        close = [r for r in matching
                 if response_gap(r) <= math.log(REFERENCE_RESPONSE_FACTOR)]
        if close:
            reference = min(close, key=lambda r: (abs(r.position - here), r.position > here))
        else:
            reference = min(matching, key=lambda r: (response_gap(r), abs(r.position - here)))
        return reference, False

    return find


# --------------------------------------------------------------------------- blanks
class _RawRuns:
    """Runs read again from their files for the blank checks (digest checked).

    The last :data:`KEEP` runs read stay in memory (a blank and the runs after it), so
    a long sequence does not hold every run at once.
    """

    KEEP = 4

    def __init__(self) -> None:
        from collections import OrderedDict

        self._runs: OrderedDict[int, Run | str] = OrderedDict()

    def get(self, context: RunContext) -> Run | str:
        position = context.injection.position
        if position in self._runs:
            self._runs.move_to_end(position)
        else:
            self._runs[position] = self._read(context)
            while len(self._runs) > self.KEEP:
                self._runs.popitem(last=False)
        return self._runs[position]

    @staticmethod
    def _read(context: RunContext) -> Run | str:
        from gcms.errors import GcmsError
        from gcms.io import read

        try:
            run = read(context.injection.file)
        except GcmsError as error:
            return f"cannot be read again: {error}"
        expected = context.evidence.run.get("sha256")
        if expected and run.metadata.sha256 != expected:
            return (f"its data file changed since it was processed (SHA-256 "
                    f"{run.metadata.sha256} instead of {expected})")
        return run


def _blank_search_s(criteria: Criteria, rt_s: float, width_s: float) -> float:
    return max(criteria.retention.rt_tolerance(rt_s), 2.0 * width_s)


class _AnalyteIndex:
    """The substances each judged run holds, for the carry-over rule.

    Runs are added as they are judged (in sequence order), so when a run is judged every
    run before it is here. A run holds a substance when a component of it was found to be
    that substance (identified or inconclusive), or, for a standard, when its row names
    it. Blanks are not listed: what they hold is what the rule examines.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[int, str, str, list[tuple[Substance, float | None]]]] = []

    def add(self, context: RunContext) -> None:
        if context.injection.type == "blank":
            return
        held: list[tuple[Substance, float | None]] = []
        for judgement in context.judgements:
            chosen = judgement.chosen
            if chosen is None or chosen.verdict == "not identified":
                continue
            height = judgement.component.height
            for i, (substance, known) in enumerate(held):
                if substance.same_as(chosen.substance):
                    held[i] = (substance, max(known or 0.0, height))
                    break
            else:
                held.append((chosen.substance, height))
        if context.injection.type in ("standard", "qc"):
            for name in context.injection.reference_substances:
                if not any(s.matches_name(name) for s, _ in held):
                    held.append((Substance(name), None))
        if held:
            self._runs.append((context.injection.position, file_name(context.injection.file),
                               context.injection.type, held))

    def holding(self, substance: Substance, before: int, height: float
                ) -> list[dict[str, Any]]:
        """The runs before position ``before`` holding ``substance``, with their response.

        ``relative_response``: the run's apex height of the substance over ``height``
        (None where the run's response is not known).
        """
        out = []
        for position, file, kind, held in self._runs:
            if position >= before:
                continue
            for other, response in held:
                if other.same_as(substance) or substance.matches_name(other.name):
                    relative = (response / height if response and height > 0 else None)
                    out.append({"position": position, "file": file, "type": kind,
                                "relative_response": None if relative is None
                                else round(relative, 3)})
                    break
        return out


def _at_least_this_run(run: Mapping[str, Any]) -> bool:
    return run["relative_response"] is None or run["relative_response"] >= 1.0


def _runs_text(runs: list[dict[str, Any]]) -> str:
    return ", ".join(f"#{r['position'] + 1} ({r['file']})" for r in runs)


def _blank_lookup(context: RunContext, component, raw: _RawRuns, criteria: Criteria,
                  by_position: Mapping[int, RunContext], blanks: list[int],
                  analytes: _AnalyteIndex):
    """The blank check of one component of a sample/QC run (see BlankLookup).

    The blank that counts follows the rule of :func:`gcms.identify.counting_blank`.
    """
    here = context.injection.position
    cache: dict[tuple, BlankCheck | str] = {}

    def lookup(substance: Substance, ions: list[tuple[int, float]]):
        key = (substance.name, tuple(m for m, _ in ions))
        if key in cache:
            return cache[key]
        runs = analytes.holding(substance, here, component.height)
        counted = (runs if criteria.blank.carryover_from == "any-level"
                   else [r for r in runs if _at_least_this_run(r)])
        counting, last_blank, last_run = counting_blank(here, blanks,
                                                        [r["position"] for r in counted])
        risk = tuple(r for r in runs if r["position"] == here - 1 and _at_least_this_run(r))
        stale = by_position[last_blank] if last_blank is not None else None
        name = file_name(stale.injection.file) if stale is not None else None
        common: dict[str, Any] = {"substance": substance.name, "file": name,
                                  "position": last_blank, "carryover_risk": risk}
        if counting is None:
            if last_blank is None:
                problem: str | None = "no blank before this run in the sequence"
                looked = counted
            else:
                looked = [r for r in counted if r["position"] > last_blank]
                problem = (f"injected before run(s) {_runs_text(looked)} holding "
                           f"{substance.name}; no blank between the last of them "
                           f"(#{cast(int, last_run) + 1}) and this run: carry-over not "
                           "evaluated")
            cache[key] = BlankCheck(detected=False, percent=None, problem=problem,
                                    analyte_runs=tuple(looked),
                                    after_analyte_runs=last_blank is not None, **common)
            return cache[key]
        blank = by_position[counting]
        looked = [r for r in runs if r["position"] == last_run] if last_run is not None else []
        later = [r for r in runs if r["position"] > counting]  # lower responses only
        if not blank.ok:
            cache[key] = BlankCheck(detected=False, percent=None, analyte_runs=tuple(looked),
                                    problem=f"the blank could not be processed: "
                                            f"{cast(RunProblem, blank.failure).problem}",
                                    **common)
            return cache[key]
        run, own = raw.get(blank), raw.get(context)
        problem = run if isinstance(run, str) else (
            f"this run {own}" if isinstance(own, str) else None)
        if problem is not None:
            cache[key] = BlankCheck(detected=False, percent=None, problem=problem,
                                    analyte_runs=tuple(looked), **common)
            return cache[key]
        # both runs read (no problem above); the counting blank has a name and position
        check = check_blank(
            cast("Run", run), blank.evidence.deconvolution.noise, substance=substance.name,
            file=cast(str, name), position=counting, ions=ions, rt_s=component.rt_s,
            search_s=_blank_search_s(criteria, component.rt_s, component.width_s),
            width_s=component.width_s, reference_run=cast("Run", own),
            reference_noise=context.evidence.deconvolution.noise)
        note = None
        if later:
            note = (f"run(s) {_runs_text(later)} holding {substance.name} at a lower response "
                    f"than this run were injected after this blank")
        cache[key] = replace(check, note=note, analyte_runs=tuple(looked + later),
                             carryover_risk=risk)
        return cache[key]

    return lookup


def _signal_lookup(context: RunContext, component, raw: _RawRuns):
    """S/N of a component's ions measured in its run's scans (see SignalLookup)."""
    measured: dict[int, Any] = {}

    def measure(ions: list[int]):
        run = raw.get(context)
        if isinstance(run, str):
            return f"this run {run}"
        missing = [m for m in ions if m not in measured]
        if missing:
            for peak in ion_signal(run, missing, component.rt_s, width_s=component.width_s,
                                   noise=context.evidence.deconvolution.noise):
                measured[peak.mz] = peak
        return [measured[m] for m in ions]

    return measure


def _carry_over(contexts: list[RunContext], raw: _RawRuns, criteria: Criteria,
                library: Library) -> None:
    """Flag, in each blank, the substances of the run before it that it still holds."""
    previous: RunContext | None = None
    for context in contexts:
        if context.injection.type == "blank" and context.ok and previous is not None:
            donor = previous
            seen: list[Substance] = []
            for judgement in donor.judgements:
                chosen = judgement.chosen
                if chosen is None or chosen.verdict not in ("identified", "inconclusive"):
                    continue
                if chosen.hit.match_factor < criteria.spectrum.not_identified_below:
                    continue
                if any(s.same_as(chosen.substance) for s in seen):
                    continue
                seen.append(chosen.substance)
                reference = library.spectrum(chosen.hit.library_index)
                component = judgement.component
                mz_range = cast(tuple[int, int], tuple(donor.evidence.deconvolution.mz_range))
                ions = diagnostic_ions(reference, count=criteria.ions.diagnostic_ions,
                                       min_relative=criteria.ions.diagnostic_min_relative,
                                       mz_range=mz_range)
                heights = {int(round(m)): float(a) for m, a in zip(
                    component.spectrum.mz.tolist(), component.spectrum.intensity.tolist(),
                    strict=True)}
                ions = sorted([(m, r) for m, r in ions if heights.get(m, 0.0) > 0],
                              key=lambda p: -heights[p[0]])
                if not ions:
                    continue
                run, donor_run = raw.get(context), raw.get(donor)
                record = {"substance": chosen.name, "donor_file": file_name(donor.injection.file),
                          "donor_position": donor.injection.position}
                if isinstance(run, str) or isinstance(donor_run, str):
                    record.update({"detected": None,
                                   "problem": run if isinstance(run, str) else donor_run})
                else:
                    check = check_blank(
                        run, context.evidence.deconvolution.noise, substance=chosen.name,
                        file=file_name(context.injection.file),
                        position=context.injection.position, ions=ions,
                        rt_s=component.rt_s,
                        search_s=_blank_search_s(criteria, component.rt_s, component.width_s),
                        width_s=component.width_s, reference_run=donor_run,
                        reference_noise=donor.evidence.deconvolution.noise)
                    record.update({"detected": check.detected, "percent": check.percent,
                                   "ion": ions[0][0],
                                   "snr": None if not check.quantifier
                                   or not math.isfinite(check.quantifier.snr)
                                   else round(check.quantifier.snr, 1)})
                context.carry_over.append(record)
        previous = context if context.injection.type != "blank" and context.ok else None


# --------------------------------------------------------------------------- judging
#: What a substance found in a blank run is, in the words of its criterion.
IN_BLANK = ("this run is a blank: a substance found in it is carry-over or contamination "
            "(reported in blank_status), not an identification")


def _in_blank(judgement: Judgement) -> Judgement:
    """A blank's component that meets every criterion is reported as found in the blank.

    Its verdict is held at "inconclusive" by the ``blank_run`` criterion: identification
    is what exhibits (and standards, QC runs) are for; a blank shows absence, and what it
    does hold is a problem of the sequence, listed in the blank's ``blank_status``.
    """
    chosen = judgement.chosen
    if chosen is None or chosen.verdict != "identified":
        return judgement
    flagged = chosen.with_criterion(CriterionResult("blank_run", "fail", "blank", "sample",
                                                    detail=IN_BLANK))
    return replace(judgement, chosen=flagged)



def judge_runs(sequence: Sequence, contexts: list[RunContext], evidence: SequenceEvidence,
               *, library: Library, criteria: Criteria,
               lookalikes: Lookalikes | None = None) -> None:
    """Judge every component of every run of ``sequence``, then flag the blanks' carry-over.

    ``contexts`` are the runs in sequence order with their ladder calibration
    (:func:`apply_ladders`) and ``evidence`` the sequence's reference standards
    (:func:`find_standards`). Each context gets its ``judgements`` and ``findings`` (and,
    for a sample or QC run, the blank before it; for a blank, its ``carry_over``).
    """
    raw = _RawRuns()
    by_position = {c.injection.position: c for c in contexts}
    spectra: dict[int, Any] = {}
    targeted: dict = {}

    def library_spectrum(index: int):
        if index not in spectra:
            spectra[index] = library.spectrum(index)
        return spectra[index]

    analytes = _AnalyteIndex()
    target_search = _TargetSearch(library, criteria)
    blanks = [c.injection.position for c in contexts if c.injection.type == "blank"]
    for context in contexts:
        if not context.ok:
            analytes.add(context)
            continue
        analysis = context.evidence
        if context.injection.type in ("sample", "qc"):
            previous = sequence.preceding(context.injection, "blank")
            if previous is not None:
                context.blank_position = previous.position
                context.blank_file = file_name(previous.file)
        ladder = (evidence.ladders.get(context.calibration_position)
                  if context.calibration_position is not None else None)
        mz_range = cast(tuple[int, int], tuple(analysis.deconvolution.mz_range))
        judgements = []
        for index, (component, hits) in enumerate(zip(analysis.components, analysis.hits,
                                                      strict=True)):
            candidates = [(hit, _substance(hit, analysis), library_spectrum(hit.library_index))
                          for hit in hits]
            extra = _targeted_candidates(component, hits, evidence, library, criteria,
                                         targeted)
            ri = context.retention_indices[index] if context.retention_indices else None
            by_targets = target_search.candidates(
                component, hits, ri, {h.library_index for h in extra}, targeted)
            for hit in (*extra, *by_targets):
                candidates.append((hit, Substance.from_hit(
                    hit, library.entry(hit.library_index).synonyms),
                    library_spectrum(hit.library_index)))
            lookup = (_blank_lookup(context, component, raw, criteria, by_position, blanks,
                                    analytes)
                      if context.injection.type in ("sample", "qc") else None)
            judgements.append(_targeted_note(judge_component(
                index, component, candidates, criteria=criteria,
                retention_index=(context.retention_indices[index]
                                 if context.retention_indices else None),
                ri_extrapolated=(context.extrapolated[index] if context.extrapolated else None),
                ladder=ladder, reference_for=_reference_finder(context, evidence, index),
                blank=lookup, mz_range=mz_range,
                signal=_signal_lookup(context, component, raw)),
                {h.library_index for h in by_targets}, len(hits)))
        if context.injection.type == "blank":
            judgements = [_in_blank(j) for j in judgements]
        context.judgements = tuple(judgements)
        analytes.add(context)
        context.findings = summarise(judgements, criteria=criteria, lookalikes=lookalikes,
                                     qualify=context.injection.type in ("sample", "qc"))
    _carry_over(contexts, raw, criteria, library)
