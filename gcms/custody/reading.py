"""Reading a store: current records, the audit log and a whole case file (part of ``CaseStore``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gcms.custody._ledger import StoreCore, _latest_query
from gcms.custody.corrections import CORRECTABLE
from gcms.custody.records import (
    Analysis,
    AnalystKey,
    Case,
    CustodyTransfer,
    Exhibit,
    Record,
    Result,
    Review,
    RunRecord,
    Signature,
    record_from_dict,
)
from gcms.custody.schema import audit_log, record_tables
from gcms.custody.schema import chain_head as head_table
from gcms.errors import CustodyError


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audit-log entry as written: who, when (UTC), what, before and after."""

    seq: int
    at: str
    actor: str
    action: str
    object_type: str
    object_id: str
    case_id: str | None
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    supersedes: int | None
    reason: str | None
    software: str
    prev_sha256: str
    entry_sha256: str
    #: the actor's proof (key fingerprint and signature), where the entry carries one
    proof: Mapping[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        """Build from an ``audit_log`` row (its hashed content is the source)."""
        content = json.loads(row.content)
        return cls(seq=row.seq, prev_sha256=row.prev_sha256, entry_sha256=row.entry_sha256,
                   proof=content.get("proof"),
                   **{k: content[k] for k in (
                       "at", "actor", "action", "object_type", "object_id", "case_id",
                       "before", "after", "supersedes", "reason", "software")})

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class ReadingMixin(StoreCore):
    """Reading current records, the chain head, the audit log and a case file."""

    def case(self, case_id: str) -> Case:
        """The current version of a case."""
        with self._transaction(write=False) as conn:
            return self._require(conn, "case", case_id, case_id)[0]

    def cases(self) -> list[Case]:
        """Every case, in the order they were opened."""
        return self._read("case")

    def exhibit(self, case_id: str, exhibit_id: str) -> Exhibit:
        """The current version of an exhibit."""
        with self._transaction(write=False) as conn:
            return self._require(conn, "exhibit", case_id, exhibit_id)[0]

    def exhibits(self, case_id: str) -> list[Exhibit]:
        """The exhibits of a case."""
        return self._read("exhibit", case_id)

    def transfers(self, case_id: str, exhibit_id: str | None = None) -> list[CustodyTransfer]:
        """Custody transfers of a case (or of one exhibit), in the order recorded."""
        where = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return self._read("custody_transfer", case_id, **where)

    def runs(self, case_id: str, exhibit_id: str | None = None) -> list[RunRecord]:
        """Runs attached to a case (or to one exhibit)."""
        where = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return self._read("run", case_id, **where)

    def analyses(self, case_id: str) -> list[Analysis]:
        """Analyses recorded in a case."""
        return self._read("analysis", case_id)

    def results(self, case_id: str, exhibit_id: str | None = None) -> list[Result]:
        """Current versions of a case's results (or one exhibit's)."""
        where = {"exhibit_id": exhibit_id} if exhibit_id is not None else {}
        return self._read("result", case_id, **where)

    def reviews(self, case_id: str) -> list[Review]:
        """Technical reviews in a case."""
        return self._read("review", case_id)

    def signatures(self, case_id: str, result_id: str | None = None) -> list[Signature]:
        """Signatures in a case (or on one result), in the order made."""
        where = {"result_id": result_id} if result_id is not None else {}
        return self._read("signature", case_id, **where)

    def keys(self) -> list[AnalystKey]:
        """Registered analyst keys."""
        return self._read("analyst_key")

    def qa_results(self) -> list[Any]:
        """Instrument QA results recorded in the chain (:mod:`gcms.custody.qa`)."""
        return self._read("qa_result")

    def head(self) -> tuple[int, str]:
        """The chain head: ``(seq, entry_sha256)`` of the last entry."""
        with self._transaction(write=False) as conn:
            row = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
        return int(row.seq), row.entry_sha256

    def log(self, *, case_id: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Audit entries in order; the last ``limit`` when given.

        With ``case_id``, that case's entries and the store's own (keys, initialisation).
        """
        query = sa.select(audit_log)
        if case_id is not None:
            query = query.where(sa.or_(audit_log.c.case_id == case_id,
                                       audit_log.c.case_id.is_(None)))
        if limit is not None:
            query = query.order_by(audit_log.c.seq.desc()).limit(limit)
        with self._transaction(write=False) as conn:
            rows = conn.execute(query).all()
        return sorted((AuditEntry.from_row(r) for r in rows), key=lambda e: e.seq)

    def case_file(self, case_id: str) -> dict[str, Any]:
        """Everything recorded on a case, read in one snapshot, for a report.

        Current versions of every record; each exhibit with its custody transfers in
        time order and its current holder; the history of every corrected record
        (before, after, who, when, why); the registered keys; and the chain head, which
        a report prints so the state it shows can be checked against the store later.
        Plain JSON data (``to_dict()`` forms).
        """
        with self._transaction(write=False) as conn:
            case, _ = self._require(conn, "case", case_id, case_id)

            def current(object_type: str) -> list[Record]:
                return self._records(conn, object_type, case_id)

            transfers = current("custody_transfer")
            exhibits = []
            for exhibit in current("exhibit"):
                mine = sorted((t for t in transfers if t.exhibit_id == exhibit.exhibit_id),
                              key=lambda t: t.transferred_at)
                exhibits.append({**exhibit.to_dict(), "custody": [t.to_dict() for t in mine],
                                 "current_holder": mine[-1].to_party if mine
                                 else exhibit.received_by})
            corrections: dict[str, list[dict[str, Any]]] = {}
            for object_type in CORRECTABLE:
                rows = conn.execute(_latest_query(object_type, case_id, {}, all_versions=True))
                _add_corrections(corrections, object_type, rows)
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            return {
                "case": case.to_dict(),
                "exhibits": exhibits,
                "runs": [r.to_dict() for r in current("run")],
                "analyses": [a.to_dict() for a in current("analysis")],
                "results": [r.to_dict() for r in current("result")],
                "reviews": [r.to_dict() for r in current("review")],
                "signatures": [s.to_dict() for s in current("signature")],
                "keys": [k.to_dict() for k in self._records(conn, "analyst_key")],
                "corrections": corrections,
                "chain_head": {"seq": int(head.seq), "entry_sha256": head.entry_sha256},
            }

    def exhibit_file(self, case_id: str, exhibit_id: str | None, *,
                     result_id: str | None = None) -> dict[str, Any]:
        """What one exhibit's page shows, read in one snapshot (not the whole case).

        :meth:`case_file`'s shape, limited to that exhibit: its cost does not grow with
        the case.

        ``results``: the exhibit's results (with ``exhibit_id`` None, the one result
        ``result_id``, a run of the sequence); ``chosen``: the result ``result_id`` among
        them, else the last. For the chosen one only: its run, its analysis, its
        signatures, reviews and corrections; ``related``: the results of its analysis
        that belong to no exhibit (blanks, standards, calibrators, ladders). Every record
        read is checked as :meth:`case_file` checks it.

        Raises
        ------
        CustodyError
            The case, the exhibit or (with no exhibit) the result is not in the store.
        """
        with self._transaction(write=False) as conn:
            case, _ = self._require(conn, "case", case_id, case_id)
            exhibits = []
            if exhibit_id is None:
                results = self._records(conn, "result", case_id, result_id=result_id)
                if not results:
                    raise CustodyError(f"result {result_id!r} in case {case_id}: "
                                       "not in the store")
            else:
                found = self._current(conn, "exhibit", case_id, exhibit_id)
                if found is None:  # named without the store's location: a page shows it
                    raise CustodyError(f"exhibit {exhibit_id!r} in case {case_id}: "
                                       "not in the store")
                exhibit = found[0]
                mine = sorted(self._records(conn, "custody_transfer", case_id,
                                            exhibit_id=exhibit_id),
                              key=lambda t: t.transferred_at)
                exhibits.append({**exhibit.to_dict(), "custody": [t.to_dict() for t in mine],
                                 "current_holder": mine[-1].to_party if mine
                                 else exhibit.received_by})
                results = self._records(conn, "result", case_id, exhibit_id=exhibit_id)
            chosen = next((r for r in results if r.result_id == result_id),
                          results[-1] if results else None)
            runs: list[Record] = []
            analyses: list[Record] = []
            related: list[Record] = []
            signatures: list[Record] = []
            reviews: list[Record] = []
            corrections: dict[str, list[dict[str, Any]]] = {}
            if chosen is not None:
                if chosen.run_id is not None:
                    runs = self._records(conn, "run", case_id, run_id=chosen.run_id)
                if chosen.analysis_id is not None:
                    analyses = self._records(conn, "analysis", case_id,
                                             analysis_id=chosen.analysis_id)
                    table = record_tables["result"]
                    query = (_latest_query("result", case_id,
                                           {"analysis_id": chosen.analysis_id})
                             .where(table.c.exhibit_id.is_(None)))
                    related = [record_from_dict("result", json.loads(r.content)["after"])
                               for r in conn.execute(query)]
                signatures = self._records(conn, "signature", case_id,
                                           result_id=chosen.result_id)
                reviews = self._records(conn, "review", case_id, result_id=chosen.result_id)
                rows = conn.execute(_latest_query("result", case_id,
                                                  {"result_id": chosen.result_id},
                                                  all_versions=True))
                _add_corrections(corrections, "result", rows)
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            return {
                "case": case.to_dict(),
                "exhibits": exhibits,
                "results": [r.to_dict() for r in results],
                "chosen": chosen.to_dict() if chosen is not None else None,
                "runs": [r.to_dict() for r in runs],
                "analyses": [a.to_dict() for a in analyses],
                "related": [r.to_dict() for r in related],
                "signatures": [s.to_dict() for s in signatures],
                "reviews": [r.to_dict() for r in reviews],
                "corrections": corrections,
                "chain_head": {"seq": int(head.seq), "entry_sha256": head.entry_sha256},
            }


def _add_corrections(corrections: dict[str, list[dict[str, Any]]], object_type: str,
                     rows: Any) -> None:
    """Add each corrected version among audit ``rows`` of ``object_type`` to ``corrections``.

    Keyed ``"<type> <id>"``; each entry says who changed what, when and why.
    """
    for row in rows:
        content = json.loads(row.content)
        if content["before"] is not None:
            corrections.setdefault(f"{object_type} {content['object_id']}", []).append(
                {"seq": row.entry_seq, "at": content["at"], "actor": content["actor"],
                 "reason": content["reason"], "before": content["before"],
                 "after": content["after"]})
