"""Verifying a store and exporting one case as a bundle (part of ``CaseStore``).

The checks themselves are :mod:`gcms.custody.verify`; the bundle format,
:mod:`gcms.custody.bundle`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcms.custody._ledger import StoreCore
from gcms.custody.schema import audit_log, record_tables, run_files
from gcms.custody.schema import chain_head as head_table
from gcms.custody.verify import (
    Anchor,
    Link,
    Replay,
    VerificationReport,
    check_evidence,
    compare_rows,
    expected_rows,
    library_findings,
    verify_chain,
)
from gcms.errors import TamperError


class ExportMixin(StoreCore):
    """Verifying the store and exporting a case bundle."""

    def verify(self, *, case_id: str | None = None, rehash: bool = True,
               expect: Iterable[Anchor | tuple[int, str]] = (),
               trust: Iterable[str] | None = None,
               qa_history: str | os.PathLike | None = None,
               libraries: Iterable[str] | None = None) -> VerificationReport:
        """Verify the store: chain, history, people, tables, signatures and evidence files.

        Walks the chain, replays it (with the rules of :mod:`gcms.custody.rules`),
        compares every table with it, checks signatures and proofs, and (``rehash``)
        re-hashes every evidence file; see :mod:`gcms.custody.verify`. With ``case_id``
        the whole chain is still walked (a deletion anywhere shows), but records,
        signatures and files are checked for that case only.

        ``expect``: chain heads taken outside the store (``(seq, entry_sha256)`` or
        :class:`~gcms.custody.verify.Anchor`: from an issued report, a bundle, a
        checkpoint): each must still be an entry of the chain with that hash, so a chain
        cut short and its head moved back fails. ``trust``: the admin key fingerprints
        the lab pinned outside the store (:func:`~gcms.custody.verify.load_trust`); every
        admin entry must be proven by one of them, so keys swapped inside the database
        fail. ``qa_history``: the QA history every QA result the chain records must
        still be in (:func:`gcms.custody.qa.check_qa_history`); by default each result
        is checked against the history it was recorded from, where that file exists.
        ``libraries``: the library identities a method or lab profile accepts
        (:func:`~gcms.custody.verify.load_library_pins`); every analysis must have used
        one. The findings name the rule broken.
        """
        anchors = tuple(a if isinstance(a, Anchor) else Anchor(int(a[0]), str(a[1]))
                        for a in expect)
        replay = Replay(scope=case_id, anchors=anchors,
                        trusted=None if trust is None else frozenset(trust))
        with self._transaction(write=False) as conn:
            if case_id is not None:
                self._require(conn, "case", case_id, case_id)
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            links = (
                Link(seq=r.seq, prev_sha256=r.prev_sha256, content_sha256=r.content_sha256,
                     entry_sha256=r.entry_sha256, case_tag=r.case_tag, content=r.content,
                     columns={"actor": r.actor, "action": r.action,
                              "object_type": r.object_type, "object_id": r.object_id,
                              "case_id": r.case_id})
                for r in conn.execution_options(yield_per=2000).execute(
                    sa.select(audit_log).order_by(audit_log.c.seq))
            )
            entries = verify_chain(links, head_seq=int(head.seq),
                                   head_sha256=head.entry_sha256, replay=replay)
            actual = self._table_rows(conn, case_id)
            from gcms.custody.profiles import profiling_findings

            replay.findings.extend(profiling_findings(conn, replay))
            if case_id is None:  # the sign-in passwords are the store's, not a case's
                from gcms.custody.credentials import credential_findings

                replay.findings.extend(credential_findings(
                    conn, [r for _, r in replay.all_versions()
                           if r.OBJECT_TYPE == "credential"]))
        expected = expected_rows(replay)
        replay.findings.extend(compare_rows(expected, actual))
        files = 0
        if rehash:
            files, problems = check_evidence(replay.records("run"))
            replay.findings.extend(problems)
        from gcms.custody.qa import check_qa_history

        qa = replay.records("qa_result")
        if qa_history is None:
            qa = [r for r in qa if r.history and Path(r.history).is_file()]
        replay.findings.extend(check_qa_history(qa, qa_history))
        if libraries is not None:
            replay.findings.extend(library_findings(replay.records("analysis"),
                                                    frozenset(libraries)))
        return VerificationReport(
            source=self.location, case_id=case_id, entries=entries, head_seq=int(head.seq),
            head_sha256=head.entry_sha256, records=sum(len(t) for t in expected.values()),
            files=files, signatures=replay.signatures_verified,
            findings=tuple(replay.findings), proofs=replay.proofs_verified,
            anchors=tuple(str(a) for a in anchors), trust_pinned=trust is not None,
            checkpoints=len(replay.checkpoints),
        )

    def _table_rows(self, conn: sa.Connection,
                    case_id: str | None) -> dict[str, dict[tuple, dict[str, Any]]]:
        out = {}
        for table in [*record_tables.values(), run_files]:
            query = sa.select(table)
            if case_id is not None and "case_id" in table.c:
                query = query.where(table.c.case_id == case_id)
            rows = {}
            for row in conn.execute(query).mappings():
                key = tuple(row[c.name] for c in table.primary_key.columns)
                rows[key] = dict(row)
            out[table.name] = rows
        return out

    def export_bundle(self, case_id: str) -> dict[str, Any]:
        """A self-contained bundle of one case for verification without the database.

        The bundle holds every link of the chain from entry #1 to the head; the content of
        the case's entries and the store's own (key registrations); for other cases' entries
        only their hashes, so the bundle proves the case's place in the unbroken chain
        without disclosing other cases. Refuses a store whose chain does not verify.
        """
        from gcms.custody.bundle import build_bundle

        report = self.verify(case_id=case_id, rehash=False)
        if not report.ok:
            raise TamperError(f"{self.location}: case {case_id} does not verify, "
                              f"so it is not exported: {report.first}")
        with self._transaction(write=False) as conn:
            head = conn.execute(sa.select(head_table.c.seq, head_table.c.entry_sha256)).one()
            rows = conn.execute(
                sa.select(audit_log.c.seq, audit_log.c.prev_sha256, audit_log.c.content_sha256,
                          audit_log.c.entry_sha256, audit_log.c.case_tag, audit_log.c.case_id,
                          audit_log.c.content)
                .where(audit_log.c.seq <= head.seq).order_by(audit_log.c.seq)).all()
        links = [Link(seq=r.seq, prev_sha256=r.prev_sha256, content_sha256=r.content_sha256,
                      entry_sha256=r.entry_sha256, case_tag=r.case_tag,
                      content=r.content if r.case_id in (None, case_id) else None)
                 for r in rows]
        return build_bundle(case_id=case_id, links=links, head_seq=int(head.seq),
                            head_sha256=head.entry_sha256, exported_by=self.actor,
                            source=self.location)
