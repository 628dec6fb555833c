"""Work queues of the review workstation, and the data of its QA dashboard.

:func:`work_queue` gives one user what waits for them, by role:

* **analyst**: the exhibits whose results they authored (recorded, changed or signed as
  *authored*) and that are not approved yet, returned ones (with the reviewer's
  comments) first; and their open batches (analyses with an exhibit not approved);
* **reviewer**: the exhibits waiting for review, never one whose results they authored
  (ISO/IEC 17025:2017 §7.8.1.2; :func:`gcms.custody.rules.authorship_problem`);
* **qa**: the instruments whose QA results the chain records
  (:mod:`gcms.custody.qa`), with the last tune and check standard, the failures and
  the exhibits each failure withheld (a batch whose QA section did not pass).

An exhibit's state is read from the chain: ``approved`` when every current result of it
carries a review *agreed* on its current version, ``returned`` when one carries a review
*disagreed* on its current version, else ``awaiting review`` (a returned result changed
since is waiting again).

:func:`qa_dashboard` gives the charts' data for one instrument: tune results over time
(from the chain and the QA history), check-standard Levey–Jennings series with their
Westgard flags (:func:`gcms.qa.westgard.control_chart`; Westgard et al., Clin. Chem.
27:493, 1981) and ladder retention drift, from the QA history
(:mod:`gcms.qa.history`) the chain's records name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcms._json import finite_or_none
from gcms.custody.rules import counts_as_authorship
from gcms.errors import CustodyError

if TYPE_CHECKING:  # pragma: no cover
    from gcms.custody.store import CaseStore

__all__ = [
    "EXHIBIT_STATES",
    "BatchItem",
    "ExhibitItem",
    "InstrumentState",
    "QaFailure",
    "WorkQueue",
    "exhibit_states",
    "instrument_states",
    "qa_dashboard",
    "work_queue",
]

#: States of an exhibit in review.
EXHIBIT_STATES: tuple[str, ...] = ("returned", "awaiting review", "approved")


@dataclass(frozen=True, slots=True)
class ExhibitItem:
    """One exhibit in a queue: where it stands, whose it is, what the reviewer said."""

    case_id: str
    exhibit_id: str
    state: str
    description: str | None
    result_ids: tuple[str, ...]
    analysis_ids: tuple[str, ...]
    authors: tuple[str, ...]
    updated_at: str
    #: the comments of the reviews that returned it (newest last)
    comments: tuple[str, ...] = ()
    returned_by: tuple[str, ...] = ()
    #: QA failures that withheld it (one line each)
    withheld: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {k: (list(v) if isinstance(v := getattr(self, k), tuple) else v)
                for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class BatchItem:
    """An analyst's batch (an analysis in a case) with its exhibits not yet approved."""

    case_id: str
    analysis_id: str
    recorded_at: str
    exhibits: tuple[str, ...]
    open_exhibits: tuple[str, ...]
    qa_status: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {k: (list(v) if isinstance(v := getattr(self, k), tuple) else v)
                for k in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class QaFailure:
    """A failed QA result in the chain and the exhibits it withheld."""

    qa_id: str
    kind: str
    performed_at: str | None
    failed: tuple[str, ...]
    file: str | None
    withheld: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"qa_id": self.qa_id, "kind": self.kind, "performed_at": self.performed_at,
                "failed": list(self.failed), "file": self.file,
                "withheld": [{"case_id": c, "exhibit_id": e} for c, e in self.withheld]}


@dataclass(frozen=True, slots=True)
class InstrumentState:
    """One instrument's QA state as the chain records it."""

    instrument_id: str
    last_tune: Mapping[str, Any] | None
    last_check: Mapping[str, Any] | None
    last_ladder: Mapping[str, Any] | None
    failures: tuple[QaFailure, ...]
    #: Westgard flags on the check standard's latest point (``"metric: rule"``)
    westgard: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """``failing``, ``passing`` or ``unknown`` (no tune recorded).

        Failing: the last tune or check standard failed, or a Westgard rejection rule
        fired on the latest check point.
        """
        last = [r for r in (self.last_tune, self.last_check) if r is not None]
        if any(r.get("verdict") == "fail" for r in last) or self.westgard:
            return "failing"
        return "passing" if self.last_tune is not None else "unknown"

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"instrument_id": self.instrument_id, "state": self.state,
                "last_tune": self.last_tune and dict(self.last_tune),
                "last_check": self.last_check and dict(self.last_check),
                "last_ladder": self.last_ladder and dict(self.last_ladder),
                "failures": [f.to_dict() for f in self.failures],
                "westgard": list(self.westgard), "notes": list(self.notes)}


@dataclass(frozen=True, slots=True)
class WorkQueue:
    """What waits for one user, by role (a section is empty for a role they lack)."""

    user_id: str
    roles: tuple[str, ...]
    exhibits: tuple[ExhibitItem, ...] = ()
    batches: tuple[BatchItem, ...] = ()
    review: tuple[ExhibitItem, ...] = ()
    instruments: tuple[InstrumentState, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"user_id": self.user_id, "roles": list(self.roles),
                "exhibits": [e.to_dict() for e in self.exhibits],
                "batches": [b.to_dict() for b in self.batches],
                "review": [e.to_dict() for e in self.review],
                "instruments": [i.to_dict() for i in self.instruments]}


# -- exhibits ----------------------------------------------------------------------------


def _qa_section(analysis: Any) -> Mapping[str, Any] | None:
    sections = (analysis.parameters or {}).get("sections") or {}
    qa = sections.get("qa") if isinstance(sections, Mapping) else None
    return qa if isinstance(qa, Mapping) else None


def _qa_withholds(qa: Mapping[str, Any] | None) -> list[str]:
    """Why a batch's QA section withheld its results (empty when it did not)."""
    if qa is None or qa.get("status") in (None, "passing"):
        return []
    return [f"QA {qa.get('status')}: {qa.get('reason') or 'see the batch QA section'}"]


@dataclass
class _Snapshot:
    """What the queues read, in one read transaction: current records and who did what."""

    results: list[Any]
    reviews: list[Any]
    signatures: list[Any]
    analyses: list[Any]
    exhibits: list[Any]
    #: (case_id, object_type, object_id, actor, action, recorded_at) of the relevant entries
    entries: list[Any]


def _snapshot(store: CaseStore, case_id: str | None = None) -> _Snapshot:
    """A few queries whatever the number of cases (a case's, or the whole store's)."""
    import sqlalchemy as sa

    from gcms.custody.schema import audit_log

    with store._transaction(write=False) as conn:
        if case_id is not None:
            store._require(conn, "case", case_id, case_id)

        def read(object_type: str) -> list[Any]:
            return store._records(conn, object_type, case_id)

        query = sa.select(audit_log.c.case_id, audit_log.c.object_type,
                          audit_log.c.object_id, audit_log.c.actor, audit_log.c.action,
                          audit_log.c.recorded_at).where(
            audit_log.c.object_type.in_(("result", "review", "signature", "analysis")))
        if case_id is not None:
            query = query.where(audit_log.c.case_id == case_id)
        return _Snapshot(read("result"), read("review"), read("signature"), read("analysis"),
                         read("exhibit"), list(conn.execute(query.order_by(audit_log.c.seq))))


def _states(snap: _Snapshot) -> dict[str, list[ExhibitItem]]:
    """Every exhibit with results, by case, with its review state (module notes)."""
    authors: dict[tuple[str, str], set[str]] = {}
    updated: dict[tuple[str, str], str] = {}
    of_review = {(v.case_id, v.review_id): v.result_id for v in snap.reviews}
    of_signature = {(s.case_id, s.signature_id): s.result_id for s in snap.signatures}
    for row in snap.entries:
        if row.object_type == "result":
            result_id = row.object_id
            if counts_as_authorship(row.action):
                authors.setdefault((row.case_id, result_id), set()).add(row.actor)
        elif row.object_type == "review":
            result_id = of_review.get((row.case_id, row.object_id))
        elif row.object_type == "signature":
            result_id = of_signature.get((row.case_id, row.object_id))
        else:
            continue
        if result_id is not None:
            updated[(row.case_id, result_id)] = row.recorded_at
    for sig in snap.signatures:
        if sig.meaning == "authored":
            authors.setdefault((sig.case_id, sig.result_id), set()).add(sig.signer)
    reviews: dict[tuple[str, str], list[Any]] = {}
    for v in snap.reviews:
        reviews.setdefault((v.case_id, v.result_id), []).append(v)
    analyses = {(a.case_id, a.analysis_id): a for a in snap.analyses}
    exhibits = {(e.case_id, e.exhibit_id): e for e in snap.exhibits}
    by_exhibit: dict[tuple[str, str], list[Any]] = {}
    for r in snap.results:
        if r.exhibit_id is not None:
            by_exhibit.setdefault((r.case_id, r.exhibit_id), []).append(r)
    out: dict[str, list[ExhibitItem]] = {}
    for (case_id, exhibit_id), mine in by_exhibit.items():
        states, comments, returned_by = [], [], []
        for r in mine:
            own = reviews.get((case_id, r.result_id), [])
            current = [v for v in own if v.result_version == r.version]
            if current and current[-1].outcome == "agreed":
                states.append("approved")
            elif current and current[-1].outcome == "disagreed":
                states.append("returned")
            else:
                states.append("awaiting review")
            back = [v for v in own if v.outcome == "disagreed"]
            if back and states[-1] != "approved":
                comments += [v.comments or "" for v in back]
                returned_by += [v.reviewer for v in back]
        state = ("returned" if "returned" in states else
                 "approved" if all(s == "approved" for s in states) else "awaiting review")
        used = tuple(dict.fromkeys(r.analysis_id for r in mine if r.analysis_id))
        withheld = tuple(w for a in used if (case_id, a) in analyses
                         for w in _qa_withholds(_qa_section(analyses[(case_id, a)])))
        exhibit = exhibits.get((case_id, exhibit_id))
        out.setdefault(case_id, []).append(ExhibitItem(
            case_id=case_id, exhibit_id=exhibit_id, state=state,
            description=exhibit.description if exhibit else None,
            result_ids=tuple(r.result_id for r in mine), analysis_ids=used,
            authors=tuple(sorted(set().union(*(authors.get((case_id, r.result_id), set())
                                               for r in mine)))),
            updated_at=max((updated.get((case_id, r.result_id), "") for r in mine),
                           default=""),
            comments=tuple(comments), returned_by=tuple(dict.fromkeys(returned_by)),
            withheld=withheld))
    return out


def exhibit_states(store: CaseStore, case_id: str) -> list[ExhibitItem]:
    """Every exhibit of a case with results, and its review state (module notes)."""
    return _states(_snapshot(store, case_id)).get(case_id, [])


def _batches(snap: _Snapshot, user_id: str,
             items: Mapping[str, Sequence[ExhibitItem]]) -> list[BatchItem]:
    out = []
    recorded = {(row.case_id, row.object_id): (row.actor, row.recorded_at)
                for row in snap.entries if row.action == "analysis.record"}
    for analysis in snap.analyses:
        case_id = analysis.case_id
        mine = [i for i in items.get(case_id, ()) if analysis.analysis_id in i.analysis_ids]
        actor, at = recorded.get((case_id, analysis.analysis_id), (None, ""))
        if actor != user_id and not any(user_id in i.authors for i in mine):
            continue
        open_ = tuple(i.exhibit_id for i in mine if i.state != "approved")
        if mine and not open_:
            continue
        qa = _qa_section(analysis)
        out.append(BatchItem(case_id=case_id, analysis_id=analysis.analysis_id,
                             recorded_at=at, exhibits=tuple(i.exhibit_id for i in mine),
                             open_exhibits=open_,
                             qa_status=str(qa.get("status")) if qa else None))
    return out


def work_queue(store: CaseStore, user_id: str) -> WorkQueue:
    """What waits for ``user_id`` (an enrolled, active user), by their roles.

    Read in one snapshot of the store (a few queries whatever the number of cases).
    """
    user = store.user(user_id)
    if user.status != "active":
        raise CustodyError(f"user {user_id} is disabled: no work queue")
    roles = tuple(user.roles)
    mine: list[ExhibitItem] = []
    batches: list[BatchItem] = []
    review: list[ExhibitItem] = []
    if {"analyst", "reviewer"} & set(roles):
        snap = _snapshot(store)
        by_case = _states(snap)
        items = [i for case in by_case.values() for i in case]
        if "analyst" in roles:
            mine = [i for i in items if user_id in i.authors and i.state != "approved"]
            batches = _batches(snap, user_id, by_case)
        if "reviewer" in roles:
            review = [i for i in items if i.state == "awaiting review"
                      and user_id not in i.authors]
    order = {s: n for n, s in enumerate(EXHIBIT_STATES)}
    mine.sort(key=lambda i: (order[i.state], i.updated_at))
    review.sort(key=lambda i: i.updated_at)
    instruments: tuple[InstrumentState, ...] = ()
    if {"qa", "admin"} & set(roles):
        instruments = tuple(instrument_states(store))
    return WorkQueue(user_id=user_id, roles=roles, exhibits=tuple(mine),
                     batches=tuple(batches), review=tuple(review), instruments=instruments)


# -- instruments -------------------------------------------------------------------------


def _summary(record: Any) -> dict[str, Any]:
    data = record.data
    return {"qa_id": record.qa_id, "kind": record.kind, "verdict": record.verdict,
            "performed_at": data.get("performed_at"), "file": data.get("file"),
            "failed": list(data.get("failed") or []), "history_id": record.history_id}


def _withheld_by(store: CaseStore, records: Iterable[Any]) -> dict[str, list[tuple[str, str]]]:
    """For each failing QA record, the exhibits of batches whose QA section rests on it."""
    failing = {(r.instrument_id, r.kind, r.data.get("performed_at"), r.data.get("file")):
               r.qa_id for r in records if r.verdict == "fail"}
    out: dict[str, list[tuple[str, str]]] = {qa_id: [] for qa_id in failing.values()}
    if not failing:
        return out
    results: dict[tuple[str, str], list[str]] | None = None
    for analysis in store._read("analysis"):  # every case's, in one query
        qa = _qa_section(analysis)
        if qa is None or qa.get("status") in (None, "passing"):
            continue
        instrument = str((qa.get("instrument") or {}).get("id") or "unknown instrument")
        for check in qa.get("checks") or []:
            for summary in check.get("results") or []:
                key = (instrument, check.get("kind"), summary.get("performed_at"),
                       summary.get("file"))
                if key not in failing:
                    continue
                if results is None:
                    results = {}
                    for r in store._read("result"):
                        if r.analysis_id and r.exhibit_id:
                            results.setdefault((r.case_id, r.analysis_id), []).append(
                                r.exhibit_id)
                for exhibit_id in results.get((analysis.case_id, analysis.analysis_id), []):
                    pair = (analysis.case_id, exhibit_id)
                    if pair not in out[failing[key]]:
                        out[failing[key]].append(pair)
    return out


def instrument_states(store: CaseStore) -> list[InstrumentState]:
    """Every instrument the chain holds QA results of, with its state."""
    records = store.qa_results()
    withheld = _withheld_by(store, records)
    by_instrument: dict[str, list[Any]] = {}
    for r in records:
        by_instrument.setdefault(r.instrument_id, []).append(r)
    out = []
    for instrument, mine in sorted(by_instrument.items()):
        mine.sort(key=lambda r: str(r.data.get("performed_at") or ""))

        def last(kind: str, mine: list[Any] = mine) -> dict[str, Any] | None:
            found = [r for r in mine if r.kind == kind]
            return _summary(found[-1]) if found else None

        failures = tuple(QaFailure(
            qa_id=r.qa_id, kind=r.kind, performed_at=r.data.get("performed_at"),
            failed=tuple(r.data.get("failed") or ()), file=r.data.get("file"),
            withheld=tuple(withheld.get(r.qa_id, ()))) for r in mine if r.verdict == "fail")
        flags, notes = (), ()
        history = _history_of(mine)
        if history is not None:
            with history:
                charts = _check_charts(history, instrument, [])
            flags = tuple(f"{metric}: {', '.join(chart['rules_at_last'])}"
                          for metric, chart in charts.items() if chart["rules_at_last"])
        else:
            notes = ("the QA history these results came from is not reachable: Westgard "
                     "flags not evaluated",)
        out.append(InstrumentState(instrument_id=instrument, last_tune=last("tune"),
                                   last_check=last("check"), last_ladder=last("ladder"),
                                   failures=failures, westgard=flags, notes=notes))
    return out


# -- dashboard ---------------------------------------------------------------------------


def _history_of(records: Sequence[Any], given: str | Path | None = None):
    """The QA history (opened) the records name, or ``given``; None if none is reachable."""
    from gcms.qa.history import SQLiteQAHistory

    candidates = [given] if given is not None else [r.history for r in reversed(records)
                                                    if r.history]
    for candidate in candidates:
        path = Path(candidate)
        if path.is_dir():
            path = path / "qa_history.sqlite"
        if path.is_file():
            return SQLiteQAHistory(path)
    return None


def _check_charts(history, instrument: str, notes: list[str]) -> dict[str, dict[str, Any]]:
    from gcms.qa.westgard import control_chart

    out = {}
    for metric in history.metrics(instrument, kind="check"):
        series = history.series(instrument, metric, kind="check")
        try:
            chart = control_chart(series.values, metric=metric, unit=series.unit)
        except ValueError as error:
            notes.append(f"check standard {metric}: no Levey-Jennings chart ({error})")
            continue
        last = len(series.values) - 1
        out[metric] = {"times": [t.isoformat() for t in series.performed_at],
                       "result_ids": list(series.result_ids), **chart.to_dict(),
                       "rules_at_last": [f.rule for f in chart.flags
                                         if f.index == last and f.severity == "rejection"]}
    return out


def qa_dashboard(store: CaseStore, instrument: str, *,
                 history: str | Path | None = None) -> dict[str, Any]:
    """The data of one instrument's QA charts (plain JSON data).

    ``tune``: the chain's tune results over time (verdict, failed criteria, exhibits a
    failure withheld); ``tune_metrics``: each tune criterion over time; ``check_standard``:
    per metric a Levey–Jennings series (values, mean, SD, per-point status) with its
    Westgard flags; ``ladder_drift``: each ladder criterion (retention deviations) over
    time; ``failures``; ``notes`` (what could not be drawn and why). The series come from
    the QA history the chain's records name (or ``history``, a file or folder); without
    one only the chain's results are given.
    """
    records = [r for r in store.qa_results() if r.instrument_id == instrument]
    if not records:
        known = sorted({r.instrument_id for r in store.qa_results()})
        raise CustodyError(f"{store.location}: no QA result of instrument {instrument!r} in "
                           f"the chain (instruments: {', '.join(known) or 'none'})")
    state = next(s for s in instrument_states(store) if s.instrument_id == instrument)
    withheld = {f.qa_id: f.withheld for f in state.failures}
    records.sort(key=lambda r: str(r.data.get("performed_at") or ""))
    notes: list[str] = list(state.notes)
    out: dict[str, Any] = {
        "instrument": instrument, "state": state.state, "history": None,
        "tune": [{**_summary(r), "withheld": [{"case_id": c, "exhibit_id": e}
                                               for c, e in withheld.get(r.qa_id, ())]}
                 for r in records if r.kind == "tune"],
        "failures": [f.to_dict() for f in state.failures],
        "tune_metrics": {}, "check_standard": {}, "ladder_drift": {}, "notes": notes,
    }
    opened = _history_of(records, history)
    if opened is None:
        if history is not None:
            raise CustodyError(f"{history}: no QA history there")
        return out
    with opened:
        out["history"] = str(opened.path) if hasattr(opened, "path") else None
        for kind, key in (("tune", "tune_metrics"), ("ladder", "ladder_drift")):
            for metric in opened.metrics(instrument, kind=kind):
                series = opened.series(instrument, metric, kind=kind)
                out[key][metric] = {"unit": series.unit,
                                    "times": [t.isoformat() for t in series.performed_at],
                                    "values": [finite_or_none(v) for v in series.values.tolist()],
                                    "result_ids": list(series.result_ids)}
        out["check_standard"] = _check_charts(opened, instrument, notes)
    if state.notes and out["history"]:
        out["notes"] = [n for n in notes if n not in state.notes]
    return out

