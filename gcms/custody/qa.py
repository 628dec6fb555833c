"""Instrument QA in the audit chain: what a batch relied on, and a check of the QA history.

The QA history (:mod:`gcms.qa.history`) is a separate SQLite file that a person with
file access can edit: deleting the row of a failing tune would make the next batch see
a passing instrument. ``gcms batch --store`` therefore records in the chain every QA
result its QA section (:mod:`gcms.qa.gate`) rests on: the tune, ladder and check
standard results looked up in the history or judged from the sequence's own runs, each
a ``qa_result.record`` entry (:class:`~gcms.custody.records.QaRecord`) carrying the
batch's summary of the result and the SHA-256 of the history's row
(``result_sha256``, the digest of the result's canonical JSON).

:func:`check_qa_history` then names every recorded result that the history no longer
holds unchanged (``gcms custody verify --qa-history DIR``; the batch runs it before it
records), so a deleted or edited QA result is a detected break, not a passing
instrument. ISO/IEC 17025 §7.7.1 (monitoring the validity of results: the records of
it kept); 21 CFR 11.10(e).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcms._json import json_safe
from gcms.custody.canonical import canonical_json, sha256_hex
from gcms.custody.records import QaRecord, record_from_dict
from gcms.custody.verify import Finding
from gcms.errors import CustodyError
from gcms.results import QASection, ResultsDocument

if TYPE_CHECKING:  # pragma: no cover
    from gcms.custody.store import CaseStore

__all__ = ["check_qa_history", "qa_records", "record_qa"]

_RULE = "a QA result the chain records stays in the QA history, unchanged"


def _history_file(history: str | Path | None) -> Path | None:
    if history is None:
        return None
    path = Path(history)
    if path.is_dir():
        from gcms.qa.history import HISTORY_FILE

        path = path / HISTORY_FILE
    return path


def _connect(path: Path) -> sqlite3.Connection:
    # read-only: verification never changes (nor re-creates the triggers of) the history
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _same_time(a: Any, b: Any) -> bool:
    try:
        return datetime.fromisoformat(str(a)) == datetime.fromisoformat(str(b))
    except ValueError:
        return False


def _find(conn: sqlite3.Connection, instrument: str, kind: str,
          summary: Mapping[str, Any]) -> list[tuple[int, str, dict[str, Any]]]:
    """History rows of the result ``summary`` describes: ``(id, sha256, result)``."""
    rows = conn.execute("SELECT id, result_sha256, result_json FROM qa_result "
                        "WHERE instrument_id = ? AND kind = ?", (instrument, kind)).fetchall()
    out = []
    for row_id, digest, text in rows:
        if summary.get("history_id") is not None and row_id != summary["history_id"]:
            continue
        result = json.loads(text)
        if not _same_time(result.get("performed_at"), summary.get("performed_at")):
            continue
        if summary.get("sha256") and (result.get("source") or {}).get("sha256") != (
            summary["sha256"]
        ):
            continue
        out.append((row_id, digest, result))
    return out


def _qa_section(source: ResultsDocument | QASection | Mapping[str, Any] | None
                ) -> tuple[str, str | None, tuple[Mapping[str, Any], ...]] | None:
    """(instrument id, history, checks) of a batch's QA section; None without one.

    ``source`` is the typed document or its QA section (what the batch records), or a
    document's JSON object holding a ``qa`` key (a caller that builds one by hand).
    """
    if isinstance(source, ResultsDocument):
        source = source.qa
    if source is None:
        return None
    if not isinstance(source, QASection):
        qa = source.get("qa")
        if not isinstance(qa, Mapping):
            return None
        return (str((qa.get("instrument") or {}).get("id") or "unknown instrument"),
                qa.get("history"), tuple(qa.get("checks") or ()))
    return (str((source.instrument or {}).get("id") or "unknown instrument"),
            source.history, source.checks)


def qa_records(source: ResultsDocument | QASection | Mapping[str, Any] | None
               ) -> list[dict[str, Any]]:
    """The QA results a batch's ``results.json`` rests on, as :class:`QaRecord` fields.

    Read from its QA section (:class:`~gcms.results.QASection`: the typed document's
    ``qa``, the section itself, or a document's JSON object with a ``qa`` key); each
    result judged or looked up, with the SHA-256 of its history row where the history
    can be read. Empty without a QA section.
    """
    section = _qa_section(source)
    if section is None:
        return []
    instrument, history_name, checks = section
    history = _history_file(history_name)
    conn = _connect(history) if history is not None and history.is_file() else None
    out = []
    try:
        for check in checks:
            kind = check.get("kind")
            for summary in check.get("results") or []:
                if summary.get("verdict") not in ("pass", "fail"):
                    continue  # a run that could not be judged holds no QA result
                data = {**json_safe(summary), "check_status": check.get("status"),
                        "source": json_safe(check.get("source"))}
                if conn is not None:
                    found = _find(conn, instrument, kind, summary)
                    if len(found) == 1:
                        data["history_id"], data["result_sha256"] = found[0][:2]
                data = json.loads(canonical_json(data))
                out.append({"qa_id": sha256_hex(canonical_json(
                                {"instrument_id": instrument, "kind": kind, "data": data})),
                            "instrument_id": instrument, "kind": kind,
                            "verdict": summary["verdict"], "data": data,
                            "history": str(history) if history is not None else None,
                            "history_id": data.get("history_id")})
    finally:
        if conn is not None:
            conn.close()
    return out


def record_qa(store: CaseStore, source: ResultsDocument | QASection | Mapping[str, Any] | None
              ) -> list[QaRecord]:
    """Record the QA results of a batch (:func:`qa_records`) once each; the new ones."""
    items = [record_from_dict("qa_result", fields) for fields in qa_records(source)]
    if not items:
        return []
    new = []
    with store._writing() as w:
        for record in items:
            if store._current(w.conn, "qa_result", None, record.qa_id) is None:
                w.put("qa_result.record", record)
                new.append(record)
    return new


def check_qa_history(records: Iterable[QaRecord],
                     history: str | Path | None = None) -> list[Finding]:
    """Name each recorded QA result the QA history no longer holds unchanged.

    ``history``: the QA history folder or file to check against; by default the one
    each record names. A record made without a readable history is checked by its
    fields (instrument, kind, time, evidence SHA-256); one with a row digest by that
    digest. A history that cannot be read is itself a finding.
    """
    findings: list[Finding] = []
    override = _history_file(history)
    for record in records:
        path = override or _history_file(record.history)
        what = (f"{record.kind} of {record.instrument_id} performed at "
                f"{record.data.get('performed_at')} ({record.verdict})")
        if path is None:
            continue
        if not path.is_file():
            findings.append(Finding("qa", f"QA result {what}", f"the QA history {path} is "
                                    f"gone (rule: {_RULE})"))
            continue
        try:
            conn = _connect(path)
            try:
                digest = record.data.get("result_sha256")
                if digest:
                    row = conn.execute("SELECT id FROM qa_result WHERE result_sha256 = ?",
                                       (digest,)).fetchone()
                    present = row is not None
                else:
                    present = bool(_find(conn, record.instrument_id, record.kind,
                                         record.data))
            finally:
                conn.close()
        except sqlite3.Error as error:
            raise CustodyError(f"{path}: cannot read the QA history ({error})") from error
        if not present:
            findings.append(Finding("qa", f"QA result {what}", f"recorded in the chain but "
                                    f"deleted or altered in the QA history {path} "
                                    f"(rule: {_RULE})"))
    return findings
