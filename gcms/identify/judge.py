"""The verdict on one component: each criterion's value, limit and result, then the rule.

For a component and one library hit (a *candidate* substance) every criterion of the
profile (:mod:`gcms.identify.criteria`) is evaluated to a :class:`CriterionResult`:

============================  =============================================================
``match_factor``              identity MF of the hit >= ``spectrum.min_match_factor``
``reverse_match_factor``      reverse MF >= ``spectrum.min_reverse_match_factor``
``retention_time``            ΔRT against a reference standard of the sequence within the
                              profile's window (absolute and/or % of the standard's RT)
``retention_index``           ΔRI against the library RI within ``ri_tolerance`` (the RI from
                              the sequence's alkane ladder; extrapolated RIs flagged)
``diagnostic_ions``           the library spectrum's N most abundant ions all present
``ion_ratios``                each diagnostic ion's abundance relative to the strongest
                              within the tolerance of its band, against the standard's
``signal_to_noise``           S/N of the substance's quantifier ion (its strongest
                              diagnostic ion) >= ``signal.min_snr``; below it the
                              component is under the reporting limit: "not identified"
``blank``                     the blank that counts (the last one after the last run
                              holding the analyte) free of it (targeted check on its
                              ions), or below ``max_carryover_percent``; no such blank:
                              "not evaluated"
``distinct_from_runner_up``   no hit of a different compound within
                              ``close_match_factor`` that retention does not exclude
============================  =============================================================

Retention: of the profile's ``sources`` the first that can be evaluated *decides*; the
other is reported as supporting evidence. The verdict rule (:func:`decide`):

* "not identified" when a deciding criterion fails in a way that shows a different
  compound (MF below ``not_identified_below``; retention off by more than
  ``contradiction_factor`` tolerances);
* otherwise "inconclusive" when a deciding criterion fails, or a required one could not
  be evaluated (no retention evidence, no blank before the exhibit);
* otherwise "identified".

Of a component's candidates the one with the best verdict (then the best MF) is
reported; the others stay listed as alternatives with their own verdicts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal, cast

from gcms._json import json_safe
from gcms.identify.criteria import Criteria
from gcms.identify.evidence import (
    CARRYOVER_RULE,
    BlankCheck,
    IonPeak,
    ReferenceStandard,
    diagnostic_ions,
    spectrum_abundances,
)
from gcms.identify.substance import Substance

if TYPE_CHECKING:  # pragma: no cover
    from gcms.deconvolution import Component
    from gcms.library import Hit
    from gcms.spectrum import Spectrum

__all__ = [
    "VERDICTS",
    "BlankLookup",
    "CriterionResult",
    "SignalLookup",
    "Identification",
    "Judgement",
    "Verdict",
    "decide",
    "judge_candidate",
    "judge_component",
]

Verdict = Literal["identified", "inconclusive", "not identified"]
#: The three verdicts, best first.
VERDICTS: tuple[str, ...] = ("identified", "inconclusive", "not identified")
Result = Literal["pass", "fail", "not evaluated"]

#: Looks for the analyte in the blank before the run: given the candidate and its
#: ions ``[(mz, relative %)]`` (quantifier first), a :class:`BlankCheck`, or a sentence
#: saying why no check is possible ("no blank before this run in the sequence").
BlankLookup = Callable[[Substance, list[tuple[int, float]]], "BlankCheck | str"]
#: Measures a substance's ions at the component's apex in the run's scans: given the
#: m/z (quantifier first), their :class:`~gcms.identify.evidence.IonPeak` (S/N in
#: ``peak_snr``), or a sentence saying why they cannot be measured.
SignalLookup = Callable[[list[int]], "list[IonPeak] | str"]


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion for one candidate: value, limit, result and what a failure means.

    ``required``: a "not evaluated" result holds the verdict at "inconclusive".
    ``decisive``: False for supporting evidence, reported but not counted.
    ``on_fail``: the verdict a failure leads to.
    """

    name: str
    result: Result
    value: Any
    limit: Any
    unit: str = ""
    required: bool = True
    decisive: bool = True
    on_fail: Verdict = "inconclusive"
    detail: str = ""
    evidence: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"criterion": self.name, "result": self.result,
                "value": json_safe(self.value, str_keys=False), "limit": self.limit,
                "unit": self.unit, "required": self.required,
                "decisive": self.decisive, "on_fail": self.on_fail, "detail": self.detail,
                "evidence": dict(self.evidence) if self.evidence is not None else None}


def decide(results: Sequence[CriterionResult]) -> Verdict:
    """The verdict rule of the module docstring.

    Parameters
    ----------
    results : sequence of CriterionResult
        Every criterion evaluated for one candidate.

    Returns
    -------
    Verdict
        ``"identified"``, ``"inconclusive"`` or ``"not identified"``.
    """
    deciding = [r for r in results if r.decisive]
    if any(r.result == "fail" and r.on_fail == "not identified" for r in deciding):
        return "not identified"
    if any(r.result == "fail" for r in deciding):
        return "inconclusive"
    if any(r.result == "not evaluated" and r.required for r in deciding):
        return "inconclusive"
    return "identified"


@dataclass(frozen=True, slots=True)
class Identification:
    """The verdict on one candidate substance for one component, with every criterion."""

    substance: Substance
    verdict: Verdict
    criteria: tuple[CriterionResult, ...]
    hit: Hit
    retention_source: str | None = None
    delta_rt_s: float | None = None
    delta_ri: float | None = None
    reference: ReferenceStandard | None = None
    notes: tuple[str, ...] = ()
    scope: Mapping[str, Any] | None = None

    @property
    def in_scope(self) -> bool:
        """Whether the substance is on the profile's target lists (True without lists)."""
        return self.scope is None or bool(self.scope.get("in_scope"))

    @property
    def name(self) -> str:
        """The substance's name as the library gives it."""
        return self.substance.name

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the deciding criteria that failed or were required but not evaluated."""
        return tuple(r.name for r in self.criteria if r.decisive and (
            r.result == "fail" or (r.result == "not evaluated" and r.required)))

    @property
    def techniques(self) -> tuple[str, ...]:
        """"MS" always; "GC" too when retention evidence was evaluated and passed."""
        retention = [r for r in self.criteria
                     if r.name in ("retention_time", "retention_index") and r.decisive]
        return ("MS", "GC") if any(r.result == "pass" for r in retention) else ("MS",)

    def criterion(self, name: str) -> CriterionResult | None:
        """The result of one criterion by name."""
        return next((r for r in self.criteria if r.name == name), None)

    def with_criterion(self, result: CriterionResult, note: str | None = None) -> Identification:
        """A copy with one more criterion, the verdict decided again."""
        criteria = (*self.criteria, result)
        notes = (*self.notes, note) if note else self.notes
        return replace(self, criteria=criteria, verdict=decide(criteria), notes=notes)

    def summary(self) -> dict[str, Any]:
        """The short form used for alternatives: substance, verdict, scores, what failed."""
        return {"substance": self.name, "verdict": self.verdict,
                "match_factor": self.hit.match_factor,
                "reverse_match_factor": self.hit.reverse_match_factor,
                "library_index": self.hit.library_index,
                "delta_rt_s": self.delta_rt_s, "delta_ri": self.delta_ri,
                "failed": list(self.failed)}

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the substance and verdict side by side, then the evidence."""
        hit = self.hit
        return {
            "substance": self.name,
            "verdict": self.verdict,
            "techniques": list(self.techniques),
            "failed": list(self.failed),
            "match_factor": hit.match_factor,
            "reverse_match_factor": hit.reverse_match_factor,
            "probability": hit.probability,
            "retention_source": self.retention_source,
            "delta_rt_s": self.delta_rt_s,
            "delta_ri": self.delta_ri,
            "library": {"index": hit.library_index, "rank": hit.rank,
                        "sha256": hit.library_sha256,
                        "name": hit.name, "inchikey": hit.inchikey, "cas": hit.cas,
                        "formula": hit.formula, "retention_index": hit.retention_index,
                        "source_file": hit.source_file, "source_entry": hit.source_entry},
            "reference_standard": self.reference.to_dict() if self.reference else None,
            "criteria": [r.to_dict() for r in self.criteria],
            "notes": list(self.notes),
            "scope": dict(self.scope) if self.scope is not None else None,
        }


# --------------------------------------------------------------------------- criteria
def _spectrum(hit: Hit, criteria: Criteria) -> list[CriterionResult]:
    rules = criteria.spectrum
    out = []
    for name, value, limit in (
            ("match_factor", hit.match_factor, rules.min_match_factor),
            ("reverse_match_factor", hit.reverse_match_factor, rules.min_reverse_match_factor)):
        ok = value >= limit
        severe = value < rules.not_identified_below
        label = "identity" if name == "match_factor" else "reverse"
        detail = (f"{label} MF {value} against {hit.name!r}"
                  + ("" if ok else f" (below {limit:g}"
                     + (f"; below {rules.not_identified_below:g}: the spectrum does not match)"
                        if severe else ")")))
        out.append(CriterionResult(name, "pass" if ok else "fail", int(value), f">= {limit:g}",
                                   on_fail="not identified" if severe else "inconclusive",
                                   detail=detail))
    return out


def _retention_time(component: Component, reference: ReferenceStandard | None,
                    self_reference: bool, criteria: Criteria) -> CriterionResult:
    rules = criteria.retention
    if self_reference and reference is not None:
        return CriterionResult("retention_time", "pass", 0.0, "reference", "s",
                               detail="this component is the reference standard of the "
                                      "sequence for the substance",
                               evidence=reference.to_dict())
    if reference is None:
        return CriterionResult("retention_time", "not evaluated", None, None, "s",
                               detail="no reference standard of this substance in the sequence")
    delta = component.rt_s - reference.rt_s
    tolerance = rules.rt_tolerance(reference.rt_s)
    ok = abs(delta) <= tolerance
    severe = abs(delta) > rules.contradiction_factor * tolerance
    percent = 100.0 * delta / reference.rt_s if reference.rt_s else math.nan
    detail = (f"ΔRT {delta:+.2f} s ({percent:+.2f} %) against the standard in "
              f"{reference.file} (sequence #{reference.position + 1}, RT {reference.rt_s:.2f} s)"
              f"; window ±{tolerance:.2f} s")
    if severe:
        detail += f"; beyond {rules.contradiction_factor:g}× the window: a different compound"
    return CriterionResult("retention_time", "pass" if ok else "fail", round(delta, 3),
                           f"±{tolerance:.3g}", "s",
                           on_fail="not identified" if severe else "inconclusive",
                           detail=detail, evidence=reference.to_dict())


def _retention_index(hit: Hit, ri: float | None, extrapolated: bool,
                     ladder: Mapping[str, Any] | None, criteria: Criteria,
                     library_column: str | None = None) -> CriterionResult:
    """ΔRI against the library, like with like: only an RI of the lab's column type.

    The lab's column type is the ladder evidence's ``column_type`` (from the instrument
    profile or the ladder's column, :func:`gcms.retention.columns.lab_column_type`);
    ``library_column``, the column type of the library entry's RI. Where both are known
    and differ, the RI is not compared and the criterion says so; where the library does
    not state its column the comparison is made and the sentence says so; where the lab's
    column is not known (no ladder column, no instrument profile) the comparison is made
    and the sentence says that the column types were not checked.
    """
    from gcms.retention.columns import same_column_type

    rules = criteria.retention
    limit = f"±{rules.ri_tolerance:g}"
    lab_column = (ladder or {}).get("column_type")
    if ri is None or not math.isfinite(ri):
        return CriterionResult("retention_index", "not evaluated", None, limit, "i.u.",
                               detail="no retention index: no alkane ladder in the sequence")
    if hit.retention_index is None:
        where = f" on the lab's {lab_column} column" if lab_column else ""
        return CriterionResult("retention_index", "not evaluated", None, limit, "i.u.",
                               detail=f"RI {ri:.1f}; the library gives no RI for "
                                      f"{hit.name!r}{where}",
                               evidence=ladder)
    same = same_column_type(lab_column, library_column)
    if same is False:
        return CriterionResult("retention_index", "not evaluated", None, limit, "i.u.",
                               detail=f"RI {ri:.1f}; the library gives no RI for {hit.name!r} "
                                      f"on the lab's {lab_column} column (only "
                                      f"{hit.retention_index:g} on a {library_column} "
                                      "column): indices of different column types are not "
                                      "compared", evidence=ladder)
    delta = ri - hit.retention_index
    if extrapolated and not rules.allow_extrapolated_ri:
        return CriterionResult("retention_index", "not evaluated", round(delta, 1), limit,
                               "i.u.", detail=f"RI {ri:.1f} is extrapolated outside the "
                                              f"ladder: reported, not relied on",
                               evidence=ladder)
    ok = abs(delta) <= rules.ri_tolerance
    severe = abs(delta) > rules.contradiction_factor * rules.ri_tolerance
    detail = (f"RI {ri:.1f}{' (extrapolated)' if extrapolated else ''} against library RI "
              f"{hit.retention_index:g}: ΔRI {delta:+.1f}")
    if same is True:
        detail += f" (both {lab_column})"
    elif lab_column and not library_column:
        detail += (f"; the library does not state the column type of its RI (the lab's: "
                   f"{lab_column})")
    elif not lab_column:
        detail += ("; the lab's column type is not known (neither an instrument profile nor "
                   "the ladder names the column)"
                   + (f", the library's RI is for a {library_column} column"
                      if library_column else "")
                   + ": compared without checking column types")
    if severe:
        detail += f"; beyond {rules.contradiction_factor:g}× the tolerance: a different compound"
    return CriterionResult("retention_index", "pass" if ok else "fail", round(delta, 1), limit,
                           "i.u.", on_fail="not identified" if severe else "inconclusive",
                           detail=detail, evidence=ladder)


def _mark_retention(rt: CriterionResult, ri: CriterionResult,
                    criteria: Criteria) -> tuple[list[CriterionResult], str | None]:
    """Which retention criterion decides (the first evaluated source), which supports."""
    rules = criteria.retention
    by_source = {"standard": rt, "index": ri}
    deciding = next((s for s in rules.sources if by_source[s].result != "not evaluated"), None)
    out = []
    for source, result in by_source.items():
        if deciding is not None:
            decisive = source == deciding
            out.append(replace(result, decisive=decisive, required=decisive))
        else:
            first = source == rules.sources[0]
            out.append(replace(result, decisive=first, required=first and rules.required))
    return out, deciding


def _ions(component: Component, library_spectrum: Spectrum, standard: Spectrum | None,
          mz_range: tuple[int, int] | None, criteria: Criteria
          ) -> tuple[CriterionResult, CriterionResult, list[tuple[int, float]]]:
    """Diagnostic ions (chosen on the library spectrum) and their ratios (against the standard).

    Which ions are diagnostic is decided on the library's spectrum, the same for every
    run; a measured standard's weak ions scatter around the ``diagnostic_min_relative``
    line from one injection to the next. Their ratios are then compared with the
    standard run on the same instrument, as EU 2002/657/EC asks.
    """
    rules = criteria.ions
    ions = diagnostic_ions(library_spectrum, count=rules.diagnostic_ions,
                           min_relative=rules.diagnostic_min_relative, mz_range=mz_range)
    found = spectrum_abundances(component.spectrum)
    if not ions:
        diag = CriterionResult("diagnostic_ions", "not evaluated", None, None,
                               required=rules.required,
                               detail="the library spectrum has no ion inside the scanned range")
    else:
        present = [m for m, _ in ions if found.get(m, 0.0) > 0]
        missing = [m for m, _ in ions if found.get(m, 0.0) <= 0]
        ok = not missing
        diag = CriterionResult(
            "diagnostic_ions", "pass" if ok else "fail", f"{len(present)}/{len(ions)}",
            f"all {len(ions)}", required=rules.required,
            detail=("ions of the library spectrum: "
                    + ", ".join(f"m/z {m} ({r:.0f} %)" for m, r in ions)
                    + (f"; missing m/z {', '.join(map(str, missing))}" if missing else "")),
            evidence={"ions": [m for m, _ in ions], "missing": missing})
    ratios = _ion_ratios(found, ions, standard, criteria)
    present_ions = sorted(((m, r) for m, r in ions if found.get(m, 0.0) > 0),
                          key=lambda p: -found[p[0]])
    return diag, ratios, present_ions


def _ion_ratios(found: dict[int, float], ions: list[tuple[int, float]],
                standard: Spectrum | None, criteria: Criteria) -> CriterionResult:
    rules = criteria.ions
    if rules.ratio_tolerance == "off":
        return CriterionResult("ion_ratios", "not evaluated", None, "off", required=False,
                               detail="ion ratios not used by this profile")
    if standard is None:
        return CriterionResult("ion_ratios", "not evaluated", None, None,
                               required=rules.ratios_required,
                               detail="no reference standard of this substance in the "
                                      "sequence to compare ion ratios with")
    reference = spectrum_abundances(standard)
    compared = [m for m, _ in ions if reference.get(m, 0.0) > 0]
    absent = [m for m, _ in ions if reference.get(m, 0.0) <= 0]
    if len(compared) < 2:
        return CriterionResult("ion_ratios", "not evaluated", None, None,
                               required=rules.ratios_required,
                               detail="fewer than two diagnostic ions in the standard's "
                                      "spectrum: no ratio to compare")
    base_mz = max(compared, key=lambda m: reference[m])
    base_ref, base_found = reference[base_mz], found.get(base_mz, 0.0)
    rows, worst = [], 0.0
    for mz in compared:
        if mz == base_mz:
            continue
        expected = 100.0 * reference[mz] / base_ref
        # a number whenever ratios are on (checked above)
        tolerance = cast(float, rules.ratio_tolerance_percent(expected))
        measured = 100.0 * found.get(mz, 0.0) / base_found if base_found > 0 else math.nan
        deviation = (100.0 * abs(measured - expected) / expected
                     if expected > 0 and math.isfinite(measured) else math.inf)
        within = deviation <= tolerance
        worst = max(worst, deviation / tolerance if tolerance else math.inf)
        rows.append({"mz": mz, "reference_percent": round(expected, 2),
                     "measured_percent": None if not math.isfinite(measured)
                     else round(measured, 2),
                     "deviation_percent": None if not math.isfinite(deviation)
                     else round(deviation, 1),
                     "tolerance_percent": tolerance, "within": within})
    ok = all(r["within"] for r in rows)
    text = "; ".join(
        f"m/z {r['mz']}/{base_mz}: {r['measured_percent']} % vs {r['reference_percent']} % "
        f"(±{r['tolerance_percent']:g} % relative)" for r in rows)
    if absent:
        text += f"; m/z {', '.join(map(str, absent))} absent from the standard: not compared"
    return CriterionResult(
        "ion_ratios", "pass" if ok else "fail",
        round(worst, 3) if math.isfinite(worst) else None, "<= 1", "× tolerance",
        required=rules.ratios_required,
        detail=f"against the standard, relative to m/z {base_mz}: {text}",
        evidence={"quantifier": base_mz, "ions": rows})


def _signal(component: Component, ions: list[tuple[int, float]], signal: SignalLookup | None,
            criteria: Criteria) -> CriterionResult:
    """S/N on the substance's quantifier ion (its strongest diagnostic ion in the component).

    Measured in the run's scans (``signal``, :func:`gcms.identify.evidence.ion_signal`)
    where the run is at hand; otherwise estimated from the component: its S/N (on its
    best ion) times the quantifier's share of the component's strongest ion, which
    assumes the ions' baseline noise alike, and says so. Below the limit the component
    is under the method's reporting limit: a failure that leads to "not identified".
    """
    limit = criteria.signal.min_snr
    rule = f">= {limit:g}"

    def result(value: float, mz: int | None, text: str, evidence: dict[str, Any]
               ) -> CriterionResult:
        ok = value >= limit
        detail = text + ("" if ok else f": below the method's S/N limit {limit:g}, "
                                       f"not reported")
        return CriterionResult("signal_to_noise", "pass" if ok else "fail",
                               round(value, 1) if math.isfinite(value) else None, rule,
                               on_fail="not identified", detail=detail,
                               evidence={"ion": mz, **evidence})

    if not ions:
        return result(component.snr, None,
                      f"no diagnostic ion of the substance in the component: its S/N on its "
                      f"strongest ion {component.snr:.1f} (model ion m/z {component.model_mz})",
                      {"basis": "component", "model_mz": component.model_mz})
    quantifier = ions[0][0]
    measured = signal([m for m, _ in ions]) if signal is not None else None
    if measured is not None and not isinstance(measured, str) and measured:
        by_mz = {p.mz: p for p in measured}
        peak = by_mz.get(quantifier, measured[0])
        others = ", ".join(f"m/z {p.mz} {p.peak_snr:.1f}" for p in measured if p is not peak)
        text = (f"quantifier m/z {peak.mz} S/N {peak.peak_snr:.1f} in this run's scans"
                + (f" (other diagnostic ions: {others})" if others else ""))
        return result(peak.peak_snr, peak.mz, text, {
            "basis": "ion chromatogram", "ions": [
                {"mz": p.mz, "snr": round(p.peak_snr, 2) if math.isfinite(p.peak_snr)
                 else None, "height": p.height, "noise_sigma": p.trace_sigma
                 if math.isfinite(p.trace_sigma) else None} for p in measured]})
    found = spectrum_abundances(component.spectrum)
    strongest = max(found.values(), default=0.0)
    share = found.get(quantifier, 0.0) / strongest if strongest > 0 else 0.0
    value = component.snr * share
    why = measured if isinstance(measured, str) else "the run's scans not at hand"
    return result(value, quantifier,
                  f"quantifier m/z {quantifier} S/N {value:.1f}, estimated from the component "
                  f"(S/N {component.snr:.1f} on its strongest ion x {share:.2f}, the "
                  f"quantifier's share; {why})",
                  {"basis": "component estimate", "component_snr": component.snr,
                   "share": round(share, 4)})


def _runs_text(runs: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"#{r['position'] + 1} {r.get('file') or ''}".rstrip() for r in runs)


def _blank(substance: Substance, ions: list[tuple[int, float]],
           lookup: BlankLookup | None, criteria: Criteria) -> CriterionResult:
    rules = criteria.blank
    limit = f"<= {rules.max_carryover_percent:g}"
    evidence: dict[str, Any] = {"rule": CARRYOVER_RULE, "carryover_from": rules.carryover_from,
                                "max_carryover_percent": rules.max_carryover_percent}
    if lookup is None:
        return CriterionResult("blank", "not evaluated", None, limit, "%", required=False,
                               detail="not applied to this kind of run")
    if not ions:
        return CriterionResult("blank", "not evaluated", None, limit, "%",
                               required=rules.required,
                               detail="no diagnostic ion present to look for in the blank",
                               evidence=evidence)
    check = lookup(substance, ions)
    if isinstance(check, str):
        return CriterionResult("blank", "not evaluated", None, limit, "%",
                               required=rules.required, detail=check, evidence=evidence)
    evidence.update(check.to_dict())
    risk = ""
    if check.carryover_risk:
        risk = (f"; carry-over risk: {_runs_text(check.carryover_risk)} holding "
                f"{substance.name} at a response at least this run's injected right before it")
    where = (f"blank {check.file} (sequence #{check.position + 1})" if check.file
             and check.position is not None else "no blank")
    if check.problem:
        required = rules.required and (rules.after_analyte_required
                                       or not check.after_analyte_runs)
        return CriterionResult("blank", "not evaluated", None, limit, "%",
                               required=required,
                               detail=f"{where}: {check.problem}{risk}", evidence=evidence)
    note = f"; {check.note}" if check.note else ""
    if not check.detected:
        return CriterionResult("blank", "pass", 0.0, limit, "%",
                               detail=f"{where}: not detected on m/z {ions[0][0]}{note}{risk}",
                               evidence=evidence)
    percent = float(check.percent or 0.0)
    ok = percent <= rules.max_carryover_percent
    return CriterionResult(
        "blank", "pass" if ok else "fail", round(percent, 2), limit, "%",
        detail=f"{where}: detected on m/z {ions[0][0]} at {percent:.2f} % of this run's "
               f"apex height" + ("" if ok else ": carry-over could account for the finding")
               + note + risk,
        evidence=evidence)


# --------------------------------------------------------------------------- judging
def judge_candidate(
    component: Component,
    hit: Hit,
    *,
    criteria: Criteria,
    substance: Substance,
    library_spectrum: Spectrum,
    retention_index: float | None = None,
    ri_extrapolated: bool = False,
    ladder: Mapping[str, Any] | None = None,
    reference: ReferenceStandard | None = None,
    self_reference: bool = False,
    blank: BlankLookup | None = None,
    mz_range: tuple[int, int] | None = None,
    signal: SignalLookup | None = None,
) -> Identification:
    """Evaluate every criterion of ``criteria`` for ``component`` as ``hit``'s substance.

    Parameters
    ----------
    component, hit
        The component and one of its library hits.
    substance, library_spectrum
        The hit's substance (with the entry's synonyms) and the entry's spectrum.
    retention_index, ri_extrapolated, ladder
        The component's RI from the sequence's ladder (None without one), whether it lies
        outside the ladder, and the ladder's evidence record.
    reference, self_reference
        The nearest standard of this substance in the sequence; ``self_reference`` when
        this component *is* that standard's component.
    blank
        How to look for the analyte in the blank before the run; None where the blank
        criterion does not apply (blank, ladder and standard runs).
    mz_range
        The nominal m/z range the run was scanned over (diagnostic ions outside it are
        not asked for).
    signal
        How to measure the S/N of the substance's ions in the run's scans; None
        estimates it from the component (and says so).

    Returns
    -------
    Identification
        The verdict with the value, limit and result of every criterion that decided it.
    """
    results = _spectrum(hit, criteria)
    rt = _retention_time(component, reference, self_reference, criteria)
    ri = _retention_index(hit, retention_index, ri_extrapolated, ladder, criteria,
                          library_spectrum.ri_column)
    retention, deciding = _mark_retention(rt, ri, criteria)
    results.extend(retention)
    diag, ratios, present = _ions(component, library_spectrum,
                                  reference.spectrum if reference is not None else None,
                                  mz_range, criteria)
    results.extend((diag, ratios))
    if decide(results) == "not identified":
        # Already excluded by its spectrum or retention: its ions are not measured.
        results.append(CriterionResult("signal_to_noise", "not evaluated", None,
                                       f">= {criteria.signal.min_snr:g}", required=False,
                                       detail="not examined: the candidate is already "
                                              "excluded"))
    else:
        results.append(_signal(component, present, signal, criteria))
    preliminary = decide(results)
    if preliminary == "not identified" and blank is not None:
        # The spectrum or the retention already excludes the substance: the blank
        # cannot change that, so it is not examined for it.
        results.append(CriterionResult("blank", "not evaluated", None, None, "%",
                                       required=False, detail="not examined: the candidate "
                                                              "is already excluded"))
    else:
        results.append(_blank(substance, present, blank, criteria))
    delta_rt = rt.value if rt.result != "not evaluated" and reference is not None else None
    delta_ri = ri.value if ri.value is not None else None
    scope = (criteria.target_list.scope(substance) if criteria.target_list is not None
             else None)
    return Identification(substance=substance, verdict=decide(results), criteria=tuple(results),
                          hit=hit, retention_source=deciding, delta_rt_s=delta_rt,
                          delta_ri=delta_ri, reference=reference, scope=scope,
                          notes=_retired_note(hit))


def _retired_note(hit: Hit) -> tuple[str, ...]:
    """A flag on a hit against a library entry the lab retired (gcms.library.governance)."""
    retired = (hit.provenance or {}).get("retired")
    if not isinstance(retired, Mapping):
        return ()
    return (f"library entry {hit.library_index + 1} ({hit.name}) was retired by "
            f"{retired.get('by')} on {retired.get('at')}: {retired.get('reason')}; a hit "
            "against it is not a reference the lab stands by",)


def _excluded_by_retention(candidate: Identification) -> CriterionResult | None:
    """The deciding retention criterion that shows ``candidate`` is another compound."""
    for result in candidate.criteria:
        if (result.name in ("retention_time", "retention_index") and result.decisive
                and result.result == "fail" and result.on_fail == "not identified"):
            return result
    return None


def _runner_up(chosen: Identification, others: Sequence[Identification],
               criteria: Criteria) -> CriterionResult:
    """Whether every close hit of a different compound is excluded by retention evidence."""
    rules = criteria.spectrum
    mf = chosen.hit.match_factor
    close = [o for o in others
             if o.hit.match_factor >= mf - rules.close_match_factor
             and not o.substance.stereoisomer_of(chosen.substance)]
    limit = f"none within {rules.close_match_factor:g} MF units unless excluded by retention"
    if not close:
        nearest = max(others, key=lambda o: o.hit.match_factor, default=None)
        detail = ("no other compound among the hits" if nearest is None else
                  f"next different compound {nearest.name!r} at MF {nearest.hit.match_factor}")
        return CriterionResult("distinct_from_runner_up", "pass",
                               None if nearest is None else nearest.hit.match_factor - mf,
                               limit, "MF", detail=detail)
    unresolved, parts = [], []
    for other in close:
        reason = _excluded_by_retention(other)
        if reason is not None:
            parts.append(f"{other.name!r} (MF {other.hit.match_factor}) excluded: {reason.detail}")
        else:
            unresolved.append(other)
            parts.append(f"{other.name!r} (MF {other.hit.match_factor}) not excluded by "
                         f"retention evidence")
    ok = not unresolved
    decisive = rules.unresolved_runner_up == "inconclusive"
    return CriterionResult(
        "distinct_from_runner_up", "pass" if ok else "fail",
        max(o.hit.match_factor for o in close) - mf, limit, "MF",
        decisive=decisive or ok, required=False, detail="; ".join(parts),
        evidence={"runner_up": [o.summary() for o in close]})


@dataclass(frozen=True, slots=True)
class Judgement:
    """A component with its retention index and the verdicts on its candidates.

    ``chosen`` is the candidate reported (best verdict, then best MF); None when the
    component had no library hit at all.
    """

    index: int
    component: Component
    retention_index: float | None
    ri_extrapolated: bool | None
    chosen: Identification | None
    alternatives: tuple[Identification, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> Verdict:
        """The chosen candidate's verdict ("not identified" without any)."""
        return self.chosen.verdict if self.chosen is not None else "not identified"

    @property
    def substance(self) -> str | None:
        """The chosen candidate's name."""
        return self.chosen.name if self.chosen is not None else None

    def to_dict(self, *, spectrum: bool = True) -> dict[str, Any]:
        """JSON form: the component's measurements, then its substance and verdict."""
        c = self.component
        out: dict[str, Any] = {
            "component": self.index,
            "rt_s": c.rt_s,
            "rt_min": round(c.rt_s / 60.0, 4),
            "retention_index": None if self.retention_index is None
            or not math.isfinite(self.retention_index) else round(self.retention_index, 2),
            "ri_extrapolated": self.ri_extrapolated,
            "scan": c.scan,
            "model_mz": c.model_mz,
            "snr": c.snr,
            "purity": c.purity,
            "area": c.area,
            "height": c.height,
            "width_s": c.width_s,
            "warnings": list(c.warnings),
            "substance": self.substance,
            "verdict": self.verdict,
        }
        if self.chosen is not None:
            details = self.chosen.to_dict()
            details.pop("substance")
            details.pop("verdict")
            out.update(details)
        out["alternatives"] = [a.summary() for a in self.alternatives]
        out["notes"] = list(self.notes) + (list(self.chosen.notes) if self.chosen else [])
        if spectrum:
            out["spectrum"] = {"mz": c.spectrum.mz.tolist(),
                               "intensity": c.spectrum.intensity.tolist()}
        return out


def judge_component(
    index: int,
    component: Component,
    candidates: Sequence[tuple[Hit, Substance, Spectrum]],
    *,
    criteria: Criteria,
    retention_index: float | None = None,
    ri_extrapolated: bool | None = None,
    ladder: Mapping[str, Any] | None = None,
    reference_for: Callable[[Substance], tuple[ReferenceStandard | None, bool]] | None = None,
    blank: BlankLookup | None = None,
    mz_range: tuple[int, int] | None = None,
    signal: SignalLookup | None = None,
) -> Judgement:
    """Judge every candidate of one component, choose one, check its runner-ups.

    ``candidates`` are the component's library hits (best first), each with its
    substance and library spectrum; hits of a substance already listed are folded into
    the first. ``reference_for(substance)`` gives the nearest standard of the substance
    in the sequence and whether this component is that standard's own component;
    ``signal`` measures the component's ions in its run (see :data:`SignalLookup`).
    The other arguments are those of :func:`judge_candidate`.

    Parameters
    ----------
    index : int
        The component's index in its run.
    component : Component
        The component.
    candidates : sequence of (Hit, Substance, Spectrum)
        Its library hits, best first, each with its substance and library spectrum.
    criteria : Criteria
        The profile's criteria.

    Returns
    -------
    Judgement
        The candidate reported (``chosen``: best verdict, then best MF; None without
        any library hit), the others as ``alternatives``, and the notes.
    """
    judged: list[Identification] = []
    for hit, substance, spectrum in candidates:
        if any(j.substance.same_as(substance) for j in judged):
            continue
        reference, itself = (reference_for(substance) if reference_for is not None
                             else (None, False))
        judged.append(judge_candidate(
            component, hit, criteria=criteria, substance=substance, library_spectrum=spectrum,
            retention_index=retention_index, ri_extrapolated=bool(ri_extrapolated),
            ladder=ladder, reference=reference, self_reference=itself, blank=blank,
            mz_range=mz_range, signal=signal))
    if not judged:
        return Judgement(index, component, retention_index, ri_extrapolated, None,
                         notes=("no library hit",))
    order = sorted(range(len(judged)),
                   key=lambda i: (VERDICTS.index(judged[i].verdict),
                                  -judged[i].hit.match_factor, i))
    chosen = judged[order[0]]
    others = [judged[i] for i in order[1:]]
    if chosen.verdict != "not identified":
        chosen = chosen.with_criterion(_runner_up(chosen, others, criteria))
    return Judgement(index, component, retention_index, ri_extrapolated, chosen, tuple(others))
