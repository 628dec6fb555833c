"""Decisions that leave a trail, each by a named person with a reason and their key.

Verdicts accepted, rejected or overridden, peaks re-integrated, exhibits approved or
returned: what the review workstation (``gcms review``) calls; usable from Python without it.

* :func:`decide_verdict` accepts, rejects or overrides the verdict of one component of a
  result; :func:`reintegrate` re-integrates a peak between new limits on the stored run.
  Each writes a **new version** of the result (``result.decide`` /
  ``result.reintegrate``): the earlier version stays in the chain with every signature
  on it, and the new one carries the decision in ``data.decisions`` (who, role, when,
  what before, what after, why) and, for a changed verdict or area, a note on the
  component that the report prints ("verdict changed by reviewer X: reason"). The entry
  is proven with the decider's key (Ed25519, :mod:`gcms.custody.rules`), and
  ``custody verify`` replays it: the decision must name the entry's actor and reason and
  the verdict it states must be the one in the result
  (:func:`gcms.custody.verify.decision_entry_problem`).
* :func:`review_outcome` approves an exhibit (a technical review *agreed* and a signature
  *reviewed* on each of its current results) or returns it to the analyst with comments
  (a review *disagreed*). A reviewer never approves or returns their own work: refused
  here, again by the store, and found by verification.
* :func:`decisions_for` lists an exhibit's decisions and review outcomes as
  :class:`Decision` objects; :func:`decision_lines` words them, and
  :func:`report_lines` gives the lines a report of the exhibit lists under additions and
  deviations (:func:`gcms.report.adapters.from_store`).

Rules: a verdict is decided by a reviewer who did not author the result, or by its
author; a reviewer's verdict decision is part of the review and does not make them an
author (:func:`gcms.custody.rules.counts_as_authorship`). A re-integration changes a
measured value, so who makes it is an author. ISO/IEC 17025:2017 §7.5.2 (changes to
technical records traceable to previous versions, with who and when), §7.8.1.2 (review
and authorisation of results); 21 CFR 11.10(e) (audit trail that does not obscure
earlier values).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import sqlalchemy as sa

from gcms.custody.canonical import normalise, utc_iso, utc_now
from gcms.custody.records import Result, record_from_dict
from gcms.custody.rules import (
    actor_problem,
    authorship_problem,
    decision_problem,
    key_problem,
)
from gcms.errors import CustodyError, TamperError

if TYPE_CHECKING:  # pragma: no cover
    from gcms.custody.keys import SigningKey
    from gcms.custody.store import CaseStore

__all__ = [
    "BASELINES",
    "REVIEW_OUTCOMES",
    "VERDICTS",
    "VERDICT_ACTIONS",
    "Decision",
    "decide_verdict",
    "decision_lines",
    "decisions_for",
    "reintegrate",
    "report_lines",
    "result_authors",
    "review_outcome",
]

#: Verdicts a component may have (as the identification step writes them).
VERDICTS: tuple[str, ...] = ("identified", "inconclusive", "not identified")
#: What a verdict decision does.
VERDICT_ACTIONS: tuple[str, ...] = ("accept", "reject", "override")
#: Baselines of a manual integration: ``linear`` joins the smoothed trace at the two
#: limits; ``drop`` is level at the lower of the two (perpendicular drops to it).
BASELINES: tuple[str, ...] = ("linear", "drop")
#: Outcomes of a review from the workstation, and the store's review outcome for each.
REVIEW_OUTCOMES: Mapping[str, str] = {"approved": "agreed", "returned": "disagreed"}

DecisionKind = Literal["verdict", "reintegration", "review"]


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision on an exhibit's results: who, when, in which role, what, why.

    ``kind`` is ``verdict`` (``action`` accept/reject/override), ``reintegration``
    (``reintegrate``) or ``review`` (``approved``/``returned``; ``reason`` holds the
    comments). ``before``/``after`` are what changed (a verdict, an area and its limits);
    ``result_version`` the version the decision made (for a review, the version it
    reviewed); ``seq`` the audit entry.
    """

    case_id: str
    exhibit_id: str | None
    result_id: str
    result_version: int
    kind: DecisionKind
    action: str
    by: str
    printed_name: str | None
    role: str
    at: str
    reason: str
    component: int | None = None
    analyte: str | None = None
    #: the component's substance when the decision was made
    substance: str | None = None
    before: Mapping[str, Any] = field(default_factory=dict)
    after: Mapping[str, Any] = field(default_factory=dict)
    seq: int | None = None

    @property
    def changed(self) -> bool:
        """Whether the decision changed the result (not a plain acceptance or review)."""
        return self.kind != "review" and dict(self.before) != dict(self.after)

    def sentence(self) -> str:
        """The decision in one line, as the report prints it."""
        who = f"{self.role} {self.printed_name or self.by}"
        if self.printed_name and self.printed_name != self.by:
            who += f" ({self.by})"
        if self.kind == "verdict":
            what = f"component {self.component}"
            if self.substance:
                what = f"{self.substance} ({what})"
            if self.changed:
                return (f"{what}: verdict changed by {who} from {self.before.get('verdict')} "
                        f"to {self.after.get('verdict')}: {self.reason}")
            return f"{what}: verdict {self.after.get('verdict')} accepted by {who}: {self.reason}"
        if self.kind == "reintegration":
            target = self.analyte or f"component {self.component}"
            return (f"{target}: peak re-integrated by {who} ({_area_text(self.before)} -> "
                    f"{_area_text(self.after)}): {self.reason}")
        return f"result {self.result_id} v{self.result_version} {self.action} by {who}: " \
               f"{self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {name: (dict(v) if isinstance(v := getattr(self, name), Mapping) else v)
                for name in self.__dataclass_fields__}


def _area_text(values: Mapping[str, Any]) -> str:
    area = values.get("area")
    span = (values.get("start_s"), values.get("end_s"))
    text = f"area {area:.6g}" if isinstance(area, (int, float)) else "area ?"
    if all(isinstance(v, (int, float)) for v in span):
        text += f", {span[0]:.2f}-{span[1]:.2f} s"
    return text


# -- shared checks -----------------------------------------------------------------------


def _reason(reason: Any, what: str) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise CustodyError(f"{what}: a decision needs a reason")
    return reason.strip()


def result_authors(store: CaseStore, conn: sa.Connection, result: Result) -> set[str]:
    """Who authored ``result``: who recorded or changed it, and who signed it *authored*.

    A reviewer's verdict decision does not count
    (:func:`~gcms.custody.rules.counts_as_authorship`). The
    store's own rule (:meth:`~gcms.custody.signing.SigningMixin._authors`), so that a
    review, a signature and a decision judge authorship alike.
    """
    return store._authors(conn, result)


def _check_actor(store: CaseStore, conn: sa.Connection, action: str,
                 key: SigningKey | None) -> Any:
    """The acting user, refused unless enrolled, active, in role, with their own key."""
    found = store._current(conn, "user", None, store.actor)
    user = found[0] if found else None
    problem = actor_problem(store.actor, user, action, None)
    if problem:
        raise CustodyError(f"{store.location}: refused: {problem}")
    if key is None:
        raise CustodyError(f"{store.location}: refused: {action} by {store.actor} needs "
                           f"{store.actor}'s private key and passphrase")
    registered = store._current(conn, "analyst_key", None, key.fingerprint)
    problem = key_problem(store.actor, key.fingerprint, registered[0] if registered else None)
    if problem:
        raise CustodyError(f"{store.location}: refused: {problem}")
    return user


def _printed_name(store: CaseStore, conn: sa.Connection, user_id: str) -> str | None:
    found = store._current(conn, "user", None, user_id)
    return found[0].printed_name if found else None


def _component(data: Mapping[str, Any], component: int | str, where: str) -> dict[str, Any]:
    parts = [c for c in data.get("components") or [] if isinstance(c, dict)]
    if isinstance(component, str) and not component.isdigit():
        named = [c for c in parts if str(c.get("substance", "")).casefold()
                 == component.casefold()]
        if len(named) != 1:
            raise CustodyError(f"{where}: {len(named)} components are {component!r}; name "
                               "the component by its number")
        return named[0]
    number = int(component)
    found = next((c for c in parts if c.get("component") == number), None)
    if found is None:
        numbers = ", ".join(str(c.get("component")) for c in parts) or "none"
        raise CustodyError(f"{where}: no component {number} (components: {numbers})")
    return found


def _write(store: CaseStore, case_id: str, result_id: str, *, action: str,
           key: SigningKey, expected_version: int | None, change) -> Decision:
    """Apply ``change(data, base, what)`` to the current result's data in one write.

    ``change`` edits ``data`` in place and returns the decision's own fields and its
    reason; ``base`` holds who, role, when and the version being made.
    """
    with store._writing() as w:
        result, seq = store._require(w.conn, "result", case_id, result_id)
        what = f"result {result_id} of case {case_id}"
        if expected_version is not None and result.version != expected_version:
            raise CustodyError(f"{what}: it is at version {result.version}, not "
                               f"{expected_version}: someone changed it meanwhile; look again")
        user = _check_actor(store, w.conn, action, key)
        authors = result_authors(store, w.conn, result)
        if action == "result.decide":
            problem = decision_problem(store.actor, user, authors, what)
            if problem:
                raise CustodyError(f"{store.location}: refused: {problem}")
        role = "analyst" if store.actor in authors or "reviewer" not in user.roles \
            else "reviewer"
        data = copy.deepcopy(normalise(result.to_dict()["data"], "result"))
        earlier = list(data.get("decisions") or [])
        base = {"decision": len(earlier) + 1, "by": store.actor,
                "printed_name": _printed_name(store, w.conn, store.actor), "role": role,
                "at": utc_iso(utc_now()), "result_version": result.version + 1}
        decision, reason = change(data, base, what)
        decision = {**base, **decision, "reason": reason}
        data["decisions"] = [*earlier, decision]
        updated = record_from_dict("result", {**result.to_dict(), "data": normalise(
            data, "result"), "version": result.version + 1})
        entry = w.put(action, updated, before=result, supersedes=seq, reason=reason,
                      signer=key)
    return _decision(updated, decision, entry)


def _decision(result: Result | Mapping[str, Any], item: Mapping[str, Any],
              seq: int | None) -> Decision:
    fields = result if isinstance(result, Mapping) else result.to_dict()
    return Decision(
        case_id=fields["case_id"], exhibit_id=fields.get("exhibit_id"),
        result_id=fields["result_id"],
        result_version=int(item.get("result_version", fields["version"])),
        kind=item.get("kind", "verdict"), action=str(item.get("action")),
        by=str(item.get("by")), printed_name=item.get("printed_name"),
        role=str(item.get("role", "")), at=str(item.get("at", "")),
        reason=str(item.get("reason", "")), component=item.get("component"),
        analyte=item.get("analyte"), substance=item.get("substance"),
        before=dict(item.get("before") or {}),
        after=dict(item.get("after") or {}), seq=seq)


def _note(component: dict[str, Any], text: str) -> None:
    component["notes"] = [*(component.get("notes") or []), text]


def _move_finding(data: dict[str, Any], component: Mapping[str, Any], verdict: str,
                  by: str) -> None:
    """Keep the record's ``findings`` lists in step with the component's new verdict."""
    findings = data.get("findings")
    if not isinstance(findings, dict):
        return
    number = component.get("component")
    old = None
    for name in ("identified", "inconclusive"):
        kept = []
        for item in findings.get(name) or []:
            if isinstance(item, Mapping) and item.get("component") == number:
                old = old or dict(item)
            else:
                kept.append(item)
        findings[name] = kept
    if verdict in ("identified", "inconclusive") and component.get("substance"):
        entry = old or {
            "substance": component.get("substance"), "component": number,
            "rt_s": component.get("rt_s"), "retention_index": component.get("retention_index"),
            "match_factor": component.get("match_factor") or 0,
            "reverse_match_factor": component.get("reverse_match_factor") or 0,
            "retention_source": component.get("retention_source"),
            "delta_rt_s": component.get("delta_rt_s"), "delta_ri": component.get("delta_ri"),
            "techniques": list(component.get("techniques") or []),
            "failed": list(component.get("failed") or []), "evidence": "",
            "in_scope": True, "controlled": [], "found_by": f"decision by {by}"}
        findings[verdict] = [*(findings.get(verdict) or []), {**entry, "verdict": verdict}]


# -- verdicts ----------------------------------------------------------------------------


def decide_verdict(store: CaseStore, case_id: str, result_id: str, component: int | str, *,
                   action: str, new_verdict: str | None = None, reason: str,
                   key: SigningKey, expected_version: int | None = None) -> Decision:
    """Accept, reject or override the verdict of one component of a result.

    ``component``: its number (``component`` in the result) or its substance's name.
    ``accept`` keeps the verdict; ``reject`` makes an identified or inconclusive
    component *not identified*; ``override`` sets ``new_verdict`` (one of
    :data:`VERDICTS`, another than the current). ``reason`` is required; ``key`` is the
    acting user's unlocked key. ``expected_version``, when given, refuses a decision on
    a result that another user changed since it was shown. Returns the decision; the
    result is at a new version.
    """
    if action not in VERDICT_ACTIONS:
        raise CustodyError(f"verdict decision {action!r} is not one of "
                           f"{', '.join(VERDICT_ACTIONS)}")
    reason = _reason(reason, f"result {result_id} of case {case_id}")
    if action == "override" and new_verdict not in VERDICTS:
        raise CustodyError(f"override of result {result_id}: the new verdict "
                           f"{new_verdict!r} is not one of {', '.join(VERDICTS)}")
    if action != "override" and new_verdict is not None:
        raise CustodyError(f"{action} of result {result_id}: a new verdict is given only "
                           "with override")

    def change(data: dict[str, Any], base: Mapping[str, Any], what: str):
        part = _component(data, component, what)
        current = str(part.get("verdict", "not identified"))
        if action == "accept":
            after = current
        elif action == "reject":
            if current == "not identified":
                raise CustodyError(f"{what}: component {part.get('component')} is not "
                                   "identified already; nothing to reject")
            after = "not identified"
        else:
            after = str(new_verdict)
            if after == current:
                raise CustodyError(f"{what}: component {part.get('component')} is "
                                   f"{current} already; accept it instead")
        if after != current:
            part["verdict"] = after
            who = f"{base['role']} {base['printed_name'] or base['by']}"
            _note(part, f"verdict changed by {who} from {current} to {after}: {reason}")
            _move_finding(data, part, after, str(base["by"]))
        return ({"kind": "verdict", "action": action, "component": part.get("component"),
                 "substance": part.get("substance"), "before": {"verdict": current},
                 "after": {"verdict": after}}, reason)

    return _write(store, case_id, result_id, action="result.decide", key=key,
                  expected_version=expected_version, change=change)


# -- re-integration ----------------------------------------------------------------------


def _run_of(store: CaseStore, result: Result):
    """The result's run, read from its recorded path after its bytes are checked."""
    from gcms.custody.evidence import compare_evidence
    from gcms.io import read

    what = f"result {result.result_id} of case {result.case_id}"
    if result.run_id is None:
        raise CustodyError(f"{what}: names no attached run, so there is nothing to "
                           "re-integrate on")
    run_record = store._read("run", result.case_id, run_id=result.run_id)[0]
    if not os.path.exists(run_record.path):
        raise CustodyError(f"{what}: run {run_record.run_id} is not reachable at "
                           f"{run_record.path}: re-integration needs the acquisition (mount "
                           "it, or record where it moved with 'gcms custody relocate')")
    problems = compare_evidence(run_record.evidence())
    if problems:
        raise TamperError(f"{what}: run {run_record.run_id}: {problems[0][0]} "
                          f"{problems[0][1]}; not re-integrated on altered evidence")
    return read(run_record.path)


def _signal(run, label: Any, tolerance: float) -> tuple[str, np.ndarray]:
    text = str(label or "TIC").strip()
    if text.upper() == "TIC":
        return "TIC", np.asarray(run.tic, dtype=np.float64)
    if text.startswith("m/z"):
        try:
            mz = float(text[3:].strip())
        except ValueError:
            mz = None
        if mz is not None:
            return f"m/z {mz:g}", np.asarray(run.xic(mz, tolerance), dtype=np.float64)
    raise CustodyError(f"cannot tell which trace {text!r} is (expected 'TIC' or 'm/z N')")


def integrate_manual(times: Any, trace: Any, *, start_s: float, end_s: float,
                     baseline: str = "linear", signal: str = "") -> dict[str, Any]:
    """Integrate ``trace`` between two times with a manual baseline (JSON form).

    ``linear``: :func:`gcms.quantitation.integration.integrate_between` (the line
    between the smoothed trace at the two limits); ``drop``: a level baseline at the
    lower of those two values, the peak cut by perpendicular drops at the limits.
    """
    from gcms.quantitation.integration import integrate_between, moving_average
    from gcms.quantitation.method import IntegrationSettings

    if baseline not in BASELINES:
        raise CustodyError(f"baseline {baseline!r} is not one of {', '.join(BASELINES)}")
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(trace, dtype=np.float64)
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or not start_s < end_s:
        raise CustodyError(f"integration limits {start_s}-{end_s} s: start must be before end")
    if t.size < 2 or start_s < t[0] or end_s > t[-1]:
        raise CustodyError(f"integration limits {start_s:.2f}-{end_s:.2f} s lie outside the "
                           f"run ({t[0]:.2f}-{t[-1]:.2f} s)" if t.size else "an empty run")
    start = int(np.searchsorted(t, start_s, side="left"))
    end = int(np.searchsorted(t, end_s, side="right")) - 1
    if end - start < 2:
        raise CustodyError(f"integration limits {start_s:.2f}-{end_s:.2f} s hold fewer than "
                           "3 scans")
    settings = IntegrationSettings()
    out = integrate_between(t, y, start_scan=start, end_scan=end, settings=settings,
                            signal=signal).to_dict()
    if baseline == "drop":
        s = moving_average(y, settings.smoothing_scans)
        level = float(min(s[start], s[end]))
        net = y[start:end + 1] - level
        out.update(area=float(np.trapezoid(net, t[start:end + 1])), height=float(net.max()),
                   baseline_start=level, baseline_end=level,
                   rt_s=float(t[start + int(net.argmax())]),
                   apex_scan=start + int(net.argmax()), detected=bool(net.max() > 0))
    out.update(start_rule="manual", end_rule="manual", baseline=baseline)
    return out


def reintegrate(store: CaseStore, case_id: str, result_id: str, analyte_or_component: str | int,
                *, start_s: float, end_s: float, baseline: str = "linear", reason: str,
                key: SigningKey, expected_version: int | None = None,
                mz_tolerance: float = 0.5) -> Decision:
    """Re-integrate a peak of a result between ``start_s`` and ``end_s`` on its stored run.

    ``analyte_or_component``: a quantitation row's substance (its quantifier trace, as
    its integration names it) or a component's number (the TIC). The run is read from
    its recorded path after its bytes are checked against the chain; a run that cannot
    be reached, or whose bytes changed, is refused. A quantitation row gets the new
    integration and response; its concentration is not recomputed here (the
    calibration is not part of the result): it is flagged ``reintegrated`` and marked
    not reportable until quantitation is run again. Returns the decision.
    """
    reason = _reason(reason, f"result {result_id} of case {case_id}")
    if baseline not in BASELINES:
        raise CustodyError(f"baseline {baseline!r} is not one of {', '.join(BASELINES)}")
    with store._transaction(write=False) as conn:
        current, _ = store._require(conn, "result", case_id, result_id)
        _check_actor(store, conn, "result.reintegrate", key)
    run = _run_of(store, current)  # before the write lock: reading a run takes time

    def change(data: dict[str, Any], base: Mapping[str, Any], what: str):
        who = f"{base['role']} {base['printed_name'] or base['by']}"
        target = analyte_or_component
        rows = [q for q in data.get("quantitation") or [] if isinstance(q, dict)]
        row = None
        if isinstance(target, str) and not target.isdigit():
            row = next((q for q in rows if str(q.get("substance", "")).casefold()
                        == target.casefold()), None)
        if row is not None:
            old = row.get("integration") or {}
            label, trace = _signal(run, old.get("signal"), mz_tolerance)
            new = integrate_manual(run.scan_times, trace, start_s=start_s, end_s=end_s,
                                   baseline=baseline, signal=label)
            row["integration"] = new
            standard = next((m for m in data.get("internal_standards") or []
                             if isinstance(m, Mapping)
                             and m.get("name") == row.get("internal_standard")), None)
            is_area = ((standard or {}).get("integration") or {}).get("area")
            row["response"] = (new["area"] / is_area if standard is not None and is_area
                               else new["area"] if standard is None else None)
            row["reportable"] = False
            row["flags"] = [*(row.get("flags") or []), "reintegrated"]
            row["message"] = (f"re-integrated by {who}: the concentration is not recomputed "
                              "from the new area; run the quantitation again")
            decision = {"analyte": row.get("substance"), "component": None}
        else:
            part = _component(data, target, what)
            old = part.get("integration") or {"area": part.get("area"),
                                               "start_s": None, "end_s": None}
            new = integrate_manual(run.scan_times, run.tic, start_s=start_s, end_s=end_s,
                                   baseline=baseline, signal="TIC")
            part["integration"] = new
            part["area"], part["height"] = new["area"], new["height"]
            _note(part, f"peak re-integrated by {who} ({start_s:.2f}-{end_s:.2f} s, "
                  f"{baseline} baseline): {reason}")
            decision = {"component": part.get("component"), "analyte": None}
        keys = ("area", "start_s", "end_s", "baseline")
        return ({"kind": "reintegration", "action": "reintegrate", **decision,
                 "before": {k: old.get(k) for k in keys},
                 "after": {k: new.get(k) for k in keys}}, reason)

    return _write(store, case_id, result_id, action="result.reintegrate", key=key,
                  expected_version=expected_version, change=change)


# -- review outcomes ---------------------------------------------------------------------


def _exhibit_results(store: CaseStore, case_id: str, exhibit_id: str,
                     analysis_id: str | None) -> list[Result]:
    store.exhibit(case_id, exhibit_id)  # refuses an unknown case or exhibit
    results = [r for r in store.results(case_id, exhibit_id)
               if analysis_id is None or r.analysis_id == analysis_id]
    if not results:
        raise CustodyError(f"exhibit {exhibit_id} of case {case_id} has no result "
                           "to review" + (f" in analysis {analysis_id}" if analysis_id else ""))
    return results


def review_outcome(store: CaseStore, case_id: str, exhibit_id: str, *, outcome: str,
                   comments: str | None = None, key: SigningKey,
                   analysis_id: str | None = None, sign: bool = True,
                   expected_versions: Mapping[str, int] | None = None) -> list[Decision]:
    """Approve an exhibit, or return it to the analyst with comments.

    ``approved``: a technical review *agreed* on the current version of each result of
    the exhibit (of ``analysis_id``, when given) and, with ``sign``, a signature
    *reviewed* on it. ``returned``: a review *disagreed* with ``comments`` (required).
    The acting user must hold the reviewer role, use their own registered key, and not
    be an author of any of the results (refused before anything is written). Returns one
    :class:`Decision` (kind ``review``) per result.

    ``expected_versions`` (``{result_id: version}``, what the reviewer was shown): a
    result at another version, or one not shown, is refused before anything is written,
    so an approval never lands on a version changed meanwhile (a verdict decided or a
    peak re-integrated by someone else). The checks, reviews and signatures of all the
    exhibit's results are one write transaction: the exhibit is approved whole or not
    at all, and nothing can change a result between its check and its approval.
    """
    if outcome not in REVIEW_OUTCOMES:
        raise CustodyError(f"review outcome {outcome!r} is not one of "
                           f"{', '.join(REVIEW_OUTCOMES)}")
    if outcome == "returned":
        comments = _reason(comments, f"returning exhibit {exhibit_id} of case {case_id}")
    listed = _exhibit_results(store, case_id, exhibit_id, analysis_id)
    out = []
    # one write transaction: every check, review and signature of the exhibit, or none
    with store._writing() as w:
        conn = w.conn
        _check_actor(store, conn, "review.record", key)
        results: list[Result] = [cast(Result, store._require(conn, "result", case_id,
                                                             r.result_id)[0]) for r in listed]
        for result in results:
            shown = None if expected_versions is None else expected_versions.get(
                result.result_id)
            if expected_versions is not None and shown != result.version:
                raise CustodyError(
                    f"result {result.result_id} of exhibit {exhibit_id}: it is at version "
                    f"{result.version}, not {shown if shown is not None else 'one shown'}: "
                    "someone changed it meanwhile; look again")
            problem = authorship_problem(store.actor, result_authors(store, conn, result),
                                         f"result {result.result_id} of exhibit "
                                         f"{exhibit_id}", f"mark it {outcome}")
            if problem:
                raise CustodyError(f"{store.location}: refused: {problem}")
            mine = [v for v in store._records(conn, "review", case_id,
                                              result_id=result.result_id)
                    if v.reviewer == store.actor and v.result_version == result.version]
            if mine and mine[-1].outcome == REVIEW_OUTCOMES[outcome]:
                raise CustodyError(f"result {result.result_id} v{result.version} of exhibit "
                                   f"{exhibit_id}: already {outcome} by {store.actor}")
        name = _printed_name(store, conn, store.actor)
        for result in results:
            review = store._review_in(w, case_id, result.result_id,
                                      outcome=REVIEW_OUTCOMES[outcome], comments=comments,
                                      key=key, expected_version=result.version)
            if outcome == "approved" and sign:
                store._sign_in(w, case_id, result.result_id, key, meaning="reviewed",
                               expected_version=result.version)
            out.append(Decision(
                case_id=case_id, exhibit_id=exhibit_id, result_id=result.result_id,
                result_version=review.result_version, kind="review", action=outcome,
                by=store.actor, printed_name=name, role="reviewer", at=utc_iso(utc_now()),
                reason=comments or ""))
    return out


# -- reading -----------------------------------------------------------------------------


def decisions_for(store: CaseStore, case_id: str, exhibit_id: str) -> list[Decision]:
    """Every decision and review outcome on the exhibit's results, in the order made.

    Verdict and re-integration decisions come from the results' versions (the current
    one holds them all); review outcomes from the technical reviews. Who, role, when
    (the audit entry's time), what before and after, why.
    """
    store.exhibit(case_id, exhibit_id)
    results = store.results(case_id, exhibit_id)
    ids = {r.result_id for r in results}
    entries = [e for e in store.log(case_id=case_id)
               if e.case_id == case_id and (e.object_type, e.object_id) in
               {*(("result", i) for i in ids)} | {("review", None)} or
               (e.object_type == "review" and (e.after or {}).get("result_id") in ids)]
    made = {(e.object_id, (e.after or {}).get("version")): e for e in entries
            if e.object_type == "result"}
    names = {u.user_id: u.printed_name for u in store.users()}
    out = []
    for result in results:
        for item in result.data.get("decisions") or ():
            entry = made.get((result.result_id, item.get("result_version")))
            decision = _decision(result, item, entry.seq if entry else None)
            if entry is not None:
                decision = _replace(decision, at=entry.at)
            out.append(decision)
    for entry in entries:
        if entry.object_type != "review" or entry.action != "review.record":
            continue
        review = entry.after or {}
        outcome = {v: k for k, v in REVIEW_OUTCOMES.items()}.get(review.get("outcome"),
                                                                   review.get("outcome"))
        out.append(Decision(
            case_id=case_id, exhibit_id=exhibit_id, result_id=review["result_id"],
            result_version=review["result_version"], kind="review", action=str(outcome),
            by=entry.actor, printed_name=names.get(entry.actor), role="reviewer",
            at=entry.at, reason=review.get("comments") or "", seq=entry.seq))
    return sorted(out, key=lambda d: (d.seq is None, d.seq or 0, d.at))


def _replace(decision: Decision, **changes: Any) -> Decision:
    import dataclasses

    return dataclasses.replace(decision, **changes)


def report_lines(results: Iterable[Mapping[str, Any]]) -> list[str]:
    """The report's lines for the changes decided on ``results`` (their JSON forms).

    What :func:`gcms.report.adapters.from_store` adds to a report's additions and
    deviations (ISO/IEC 17025:2017 §7.8.2.1): every verdict changed or peak
    re-integrated in review, by whom and why, read from the results' versions.
    """
    decisions = [_decision(r, item, None) for r in results
                 for item in (r.get("data") or {}).get("decisions") or ()
                 if isinstance(item, Mapping)]
    return decision_lines(decisions)


def decision_lines(decisions: Iterable[Decision], *, changed_only: bool = True) -> list[str]:
    """The report's lines for ``decisions`` (by default only those that changed a result).

    "component 3: verdict changed by reviewer Bob B. Reviewer (bob) from identified to
    inconclusive: reason".
    """
    return [d.sentence() for d in decisions if d.changed or not changed_only]

