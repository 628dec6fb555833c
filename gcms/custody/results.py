"""Analyses and results recorded from a batch, matched to their runs (part of ``CaseStore``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from gcms.custody.canonical import normalise
from gcms.custody.corrections import CorrectionsMixin
from gcms.custody.evidence import hash_evidence
from gcms.custody.keys import SigningKey
from gcms.custody.records import Analysis, Result, record_from_dict
from gcms.custody.schema import audit_log
from gcms.errors import CustodyError


class ResultsMixin(CorrectionsMixin):
    """Recording analyses and the per-run results of a batch.

    A result is corrected through :class:`~gcms.custody.corrections.CorrectionsMixin`,
    its base, so every method this part calls is one of its own bases'.
    """

    def record_analysis(
        self, case_id: str, *, run_ids: Sequence[str], parameters: Mapping[str, Any],
        software: str = "gcms", software_version: str | None = None,
        library: str | os.PathLike | None = None, library_name: str | None = None,
        library_sha256: str | None = None, criteria_profile: str | os.PathLike | None = None,
        criteria_sha256: str | None = None,
    ) -> Analysis:
        """Record how runs were analysed; an identical analysis already recorded is reused.

        ``library`` and ``criteria_profile`` may be files: they are hashed (SHA-256) and
        named by file name. ``software_version`` defaults to this gcms's version.
        """
        import gcms

        if library is not None:
            library_sha256 = library_sha256 or hash_evidence(library).sha256
            library_name = library_name or Path(library).name
        if criteria_profile is not None and Path(criteria_profile).is_file():
            criteria_sha256 = criteria_sha256 or hash_evidence(criteria_profile).sha256
            criteria_profile = Path(criteria_profile).name
        fields = {
            "software": software, "software_version": software_version or gcms.__version__,
            "run_ids": list(run_ids), "parameters": normalise(parameters, "parameters"),
            "library_name": library_name, "library_sha256": library_sha256,
            "criteria_profile": None if criteria_profile is None else str(criteria_profile),
            "criteria_sha256": criteria_sha256,
        }
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            for existing in self._records(w.conn, "analysis", case_id):
                mine = existing.to_dict()
                if all(mine[k] == v for k, v in fields.items()):
                    return existing
            analysis = record_from_dict("analysis", {
                "case_id": case_id, "analysis_id": w.next_id(Analysis, case_id), **fields})
            self._check_references(w.conn, analysis)
            w.put("analysis.record", analysis)
        return analysis

    def record_result(self, case_id: str, data: Mapping[str, Any], *,
                      analysis_id: str | None = None, run_id: str | None = None,
                      exhibit_id: str | None = None, summary: str | None = None) -> Result:
        """Record one result document (kept whole; its digest is what a signature covers)."""
        return self._record_results(case_id, [(data, run_id, exhibit_id, summary)],
                                    analysis_id=analysis_id)[0]

    def record_results(self, case_id: str, records: Iterable[Mapping[str, Any]], *,
                       analysis_id: str,
                       run_keys: Sequence[str] = ("file", "path"),
                       summaries: Sequence[str | None] | None = None,
                       unattached: bool = False) -> list[Result]:
        """Record a batch's per-run result records (``results.json``) in one transaction.

        Each record names its run by the first of ``run_keys`` it has (a path, matched
        against the runs attached to the case) or by ``record["sha256"]`` (the run's
        digest, or for a folder that of the data file in it); ``exhibit_id`` and
        ``summary`` are taken from the record when present (``summaries``, one per
        record, take precedence), the exhibit otherwise from the run. Re-recording an
        identical record returns the existing result; a record that differs becomes a
        correction of it (a resumed or repeated batch). A result that carries review
        decisions (:mod:`gcms.custody.decisions`) keeps them: the batch recorded again
        as it was returns it unchanged, and other content is refused (it would drop the
        decisions); a new batch is recorded as a new analysis.

        A record naming no attached run is refused, unless ``unattached``: then it is
        recorded without a run (a run file that was missing when the batch ran), and
        known by the path it names within its analysis.
        """
        items = []
        records = list(records)
        if summaries is not None and len(summaries) != len(records):
            raise CustodyError(f"case {case_id}: {len(summaries)} summaries for "
                               f"{len(records)} result records")
        for i, data in enumerate(records):
            if not isinstance(data, Mapping):
                raise CustodyError(f"case {case_id}: a result record must be an object")
            run_ref = next((data[k] for k in run_keys if data.get(k) is not None), None)
            summary = summaries[i] if summaries is not None else data.get("summary")
            items.append((data, run_ref, data.get("exhibit_id"),
                          summary if isinstance(summary, str) else None))
        return self._record_results(case_id, items, analysis_id=analysis_id,
                                    match_runs=True, sha_key="sha256",
                                    unattached=unattached, run_keys=tuple(run_keys))

    def _record_results(self, case_id, items, *, analysis_id, match_runs=False,
                        sha_key=None, unattached=False, run_keys=()) -> list[Result]:
        def unattached_key(ref: Any) -> str | None:
            return None if ref is None else str(Path(str(ref)).resolve())

        out = []
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            if analysis_id is not None:
                self._require(w.conn, "analysis", case_id, analysis_id)
            runs = self._records(w.conn, "run", case_id)
            by_path = {r.path: r for r in runs}
            by_id = {r.run_id: r for r in runs}
            # a digest names a run when exactly one run has it (its own, or a file's in it:
            # method files are often identical from run to run, data files never)
            owners: dict[str, set[str]] = {}
            for r in runs:
                for digest in {r.sha256, *(f.sha256 for f in r.files)}:
                    owners.setdefault(digest, set()).add(r.run_id)
            by_sha = {d: by_id[next(iter(ids))] for d, ids in owners.items() if len(ids) == 1}
            # a result is known by its analysis, run and exhibit; one without a run by
            # the path its record names
            existing = {}
            for r in self._records(w.conn, "result", case_id):
                ref = None if r.run_id is not None else unattached_key(next(
                    (r.data[k] for k in run_keys if r.data.get(k) is not None), None))
                existing[(r.analysis_id, r.run_id, r.exhibit_id, ref)] = r
            for data, run_ref, exhibit_id, summary in items:
                data = normalise(data, "result")
                run = None
                if match_runs:
                    if run_ref is not None:
                        run = by_path.get(str(Path(run_ref).resolve()))
                    if run is None and sha_key and data.get(sha_key) in by_sha:
                        run = by_sha[data[sha_key]]
                    if run is None and not (unattached and run_ref is not None):
                        raise CustodyError(f"case {case_id}: result record for {run_ref!r} "
                                           "names no run attached to the case")
                elif run_ref is not None:
                    run = by_id.get(run_ref)
                    if run is None:
                        self._require(w.conn, "run", case_id, run_ref)
                exhibit_id = exhibit_id or (run.exhibit_id if run else None)
                if exhibit_id is not None:
                    self._require(w.conn, "exhibit", case_id, exhibit_id)
                key = (analysis_id, run.run_id if run else None, exhibit_id,
                       None if run is not None else unattached_key(run_ref))
                before = existing.get(key) if match_runs else None
                if before is not None:
                    if before.to_dict()["data"] == data and before.summary == summary:
                        out.append(before)
                        continue
                    if before.data.get("decisions"):
                        if self._recorded_before_review(w.conn, before, data, summary):
                            out.append(before)  # the batch again: the decisions stay
                            continue
                        raise CustodyError(
                            f"case {case_id}: result {before.result_id} carries "
                            f"{len(before.data['decisions'])} review decision(s) (verdicts "
                            "or re-integrations); recording it again with other content "
                            "would drop them: record the new batch as a new analysis")
                    after = record_from_dict("result", {**before.to_dict(), "data": data,
                                                        "summary": summary,
                                                        "version": before.version + 1})
                    seq = self._current(w.conn, "result", case_id, before.result_id)[1]
                    w.put("result.rerecord", after, before=before, supersedes=seq,
                          reason="recorded again by a batch with different content")
                else:
                    after = record_from_dict("result", {
                        "case_id": case_id, "result_id": w.next_id(Result, case_id),
                        "data": data, "analysis_id": analysis_id,
                        "run_id": run.run_id if run else None, "exhibit_id": exhibit_id,
                        "summary": summary})
                    w.put("result.record", after)
                existing[key] = after
                out.append(after)
        return out

    def _recorded_before_review(self, conn: sa.Connection, result: Result,
                                data: Mapping[str, Any], summary: str | None) -> bool:
        """Whether ``data`` is a version of ``result`` as recorded before any decision."""
        rows = conn.execute(sa.select(audit_log.c.content).where(
            audit_log.c.case_id == result.case_id, audit_log.c.object_type == "result",
            audit_log.c.object_id == result.result_id)).scalars()
        for content in rows:
            earlier = record_from_dict("result", json.loads(content)["after"])
            if not earlier.data.get("decisions") and earlier.summary == summary and (
                earlier.to_dict()["data"] == data
            ):
                return True
        return False

    def correct_result(self, case_id: str, result_id: str, data: Mapping[str, Any], *,
                       reason: str, summary: str | None = None,
                       key: SigningKey | None = None) -> Result:
        """A corrected version of a result; signatures on earlier versions stay with them."""
        changes: dict[str, Any] = {"data": data}
        if summary is not None:
            changes["summary"] = summary
        return self.correct("result", case_id, result_id, reason=reason, changes=changes,
                            key=key)
