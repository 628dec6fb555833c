"""Runs: acquisitions hashed read-only and attached to a case (part of ``CaseStore``)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from gcms.custody._ledger import StoreCore
from gcms.custody.canonical import parse_utc
from gcms.custody.evidence import compare_evidence, hash_evidence, manifest_sha256
from gcms.custody.keys import SigningKey
from gcms.custody.records import RUN_KINDS, RunRecord, record_from_dict
from gcms.errors import CustodyError, TamperError


class RunsMixin(StoreCore):
    """Attaching runs (the evidence, hashed read-only) and recording that they moved."""

    def attach_run(
        self, case_id: str, path: str | os.PathLike, *, exhibit_id: str | None = None,
        kind: str = "sample", sample_name: str | None = None, instrument: str | None = None,
        acquired_at: str | None = None, data_format: str | None = None,
        expected_sha256: str | None = None,
    ) -> RunRecord:
        """Hash an acquisition (file or ``.D`` folder) read-only and attach it to a case.

        Refuses a path already attached to the case. ``expected_sha256``, when given, is
        a digest taken earlier, e.g. when a reader decoded the file: it must be the file's
        digest, or for a folder the digest of the folder (custody form or line manifest,
        :func:`~gcms.custody.evidence.manifest_sha256`) or of one file in it.
        """
        return self._attach(case_id, [{
            "path": path, "exhibit_id": exhibit_id, "kind": kind, "sample_name": sample_name,
            "instrument": instrument, "acquired_at": acquired_at, "data_format": data_format,
            "sha256": expected_sha256,
        }], reuse=False)[0]

    def record_runs(self, case_id: str,
                    runs: Iterable[Mapping[str, Any] | str | os.PathLike]) -> list[RunRecord]:
        """Attach a batch's runs in one transaction; idempotent for a resumed batch.

        Each item is a path or a mapping with ``path`` (or ``file``) and optionally
        ``exhibit_id``, ``kind`` (or ``type``: sample/blank/ladder/standard/qc),
        ``sample_name`` (or ``sample_id``), ``instrument``, ``acquired_at``,
        ``data_format`` (or ``format``) and ``sha256`` (the digest the batch took of the
        file, or of a folder's manifest or of the data file in it, checked against the
        custody hashes); other keys are ignored. A path already attached to
        the case with the same digest returns the existing run; with another digest the
        call is refused (evidence at that path has changed).
        """
        items = []
        for item in runs:
            if not isinstance(item, Mapping):
                item = {"path": item}
            items.append({
                "path": item.get("path", item.get("file")),
                "exhibit_id": item.get("exhibit_id") or None,
                "kind": item.get("kind", item.get("type")) or "sample",
                "sample_name": item.get("sample_name", item.get("sample_id")),
                "instrument": item.get("instrument"),
                "acquired_at": item.get("acquired_at"),
                "data_format": item.get("data_format", item.get("format")),
                "sha256": item.get("sha256"),
            })
        return self._attach(case_id, items, reuse=True)

    def _attach(self, case_id: str, items: list[dict[str, Any]], *,
                reuse: bool) -> list[RunRecord]:
        prepared = []
        for item in items:
            if item["path"] is None:
                raise CustodyError(f"case {case_id}: a run without a path")
            if item["kind"] not in RUN_KINDS:
                raise CustodyError(f"{item['path']}: run kind {item['kind']!r} is not one of "
                                   f"{', '.join(RUN_KINDS)}")
            digest = hash_evidence(item["path"])  # outside the lock: hashing can take long
            item = dict(item)
            expected = item.pop("sha256")
            item.pop("path")
            if expected is not None and expected not in (
                digest.sha256, manifest_sha256(digest),
                *(f.sha256 for f in digest.files if digest.is_directory)
            ):
                raise TamperError(f"{digest.path}: SHA-256 {digest.sha256} differs from "
                                  f"{expected} taken when the file was read")
            acquired = item["acquired_at"]
            item["acquired_at"] = (parse_utc(acquired, f"{digest.path} acquired_at")
                                   if acquired else None)
            prepared.append((digest, item))
        out = []
        with self._writing() as w:
            self._require(w.conn, "case", case_id, case_id)
            attached = {r.path: r for r in self._records(w.conn, "run", case_id)}
            for digest, item in prepared:
                existing = attached.get(digest.path)
                if existing is not None:
                    if existing.sha256 != digest.sha256:
                        raise TamperError(
                            f"{digest.path}: attached to case {case_id} as run "
                            f"{existing.run_id} with SHA-256 {existing.sha256}, now "
                            f"{digest.sha256}: the evidence at that path has changed")
                    if not reuse:
                        raise CustodyError(f"{digest.path}: already attached to case "
                                           f"{case_id} as run {existing.run_id}")
                    out.append(existing)
                    continue
                if item["exhibit_id"] is not None:
                    self._require(w.conn, "exhibit", case_id, item["exhibit_id"])
                run = RunRecord(
                    case_id=case_id, run_id=w.next_id(RunRecord, case_id), path=digest.path,
                    sha256=digest.sha256, size_bytes=digest.size_bytes,
                    is_directory=digest.is_directory, files=digest.files, **item,
                )
                record_from_dict("run", run.to_dict())  # the same checks as on read-back
                w.put("run.attach", run)
                attached[run.path] = run
                out.append(run)
        return out

    def relocate_run(self, case_id: str, run_id: str, new_path: str | os.PathLike, *,
                     reason: str, key: SigningKey | None = None) -> RunRecord:
        """Record that a run's evidence moved; the bytes at ``new_path`` must be identical.

        A correction: ``key`` (the acting user's) proves it.
        """
        with self._transaction(write=False) as conn:
            run, _ = self._require(conn, "run", case_id, run_id)
        digest = hash_evidence(new_path)
        problems = compare_evidence(run.evidence(), digest)
        if problems:
            raise TamperError(f"run {run_id} of case {case_id}: {problems[0][0]} "
                              f"{problems[0][1]}; not the evidence that was attached")
        with self._writing() as w:
            current, seq = self._require(w.conn, "run", case_id, run_id)
            updated = record_from_dict("run", {**current.to_dict(), "path": digest.path,
                                               "version": current.version + 1})
            w.put("run.correct", updated, before=current, supersedes=seq, reason=reason,
                  signer=key)
        return updated
