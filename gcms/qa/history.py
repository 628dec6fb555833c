"""QA history: every QA result of every instrument, kept append-only, queried for charts.

The storage sits behind the small :class:`QAHistory` interface (record, results, series)
so that the case store can take it over later; today it is one SQLite file,
``qa-history.sqlite``, in a folder the user names or in the platform data folder
(:func:`default_data_dir`).

Each row keeps the full result as JSON with its SHA-256, and one row per criterion value
for charting. Triggers make the tables append-only: SQLite refuses UPDATE and DELETE, so
a stored result can be superseded by a new one but never changed. Reading a result back
recomputes its SHA-256; a row that no longer matches raises
:class:`gcms.errors.TamperError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

import gcms
from gcms.config import data_dir
from gcms.errors import CustodyError, TamperError
from gcms.qa.records import QAResult

__all__ = [
    "HISTORY_FILE",
    "MetricSeries",
    "QAHistory",
    "SQLiteQAHistory",
    "StoredResult",
    "default_data_dir",
    "open_history",
]

#: File name of the history inside its folder.
HISTORY_FILE = "qa-history.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS qa_result (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instrument_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    criteria_set TEXT NOT NULL,
    performed_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    source_path TEXT,
    source_sha256 TEXT,
    profile_sha256 TEXT,
    tool_version TEXT NOT NULL,
    result_json TEXT NOT NULL,
    result_sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS qa_value (
    result_id INTEGER NOT NULL REFERENCES qa_result(id),
    metric TEXT NOT NULL,
    value REAL,
    passed INTEGER,
    PRIMARY KEY (result_id, metric)
);
CREATE INDEX IF NOT EXISTS qa_result_by_instrument
    ON qa_result (instrument_id, kind, performed_at);
CREATE TRIGGER IF NOT EXISTS qa_result_no_update BEFORE UPDATE ON qa_result
    BEGIN SELECT RAISE(ABORT, 'QA history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS qa_result_no_delete BEFORE DELETE ON qa_result
    BEGIN SELECT RAISE(ABORT, 'QA history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS qa_value_no_update BEFORE UPDATE ON qa_value
    BEGIN SELECT RAISE(ABORT, 'QA history is append-only'); END;
CREATE TRIGGER IF NOT EXISTS qa_value_no_delete BEFORE DELETE ON qa_value
    BEGIN SELECT RAISE(ABORT, 'QA history is append-only'); END;
"""

_SCHEMA_VERSION = "1"


def default_data_dir() -> Path:
    """Where gcms keeps its data when no folder is named (:func:`gcms.config.data_dir`).

    ``$GCMS_DATA_DIR`` when set; else ``%LOCALAPPDATA%/gcms`` (Windows),
    ``~/Library/Application Support/gcms`` (macOS), ``$XDG_DATA_HOME/gcms`` or
    ``~/.local/share/gcms`` (elsewhere; also when ``XDG_DATA_HOME`` is empty).
    """
    return data_dir()


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A QA result as stored: its row id, when it was recorded, and its digest."""

    id: int
    recorded_at: datetime
    result: QAResult
    sha256: str

    def to_dict(self) -> dict:
        """JSON form."""
        return {"id": self.id, "recorded_at": self.recorded_at.isoformat(),
                "sha256": self.sha256, **self.result.to_dict()}


@dataclass(frozen=True, slots=True, eq=False)
class MetricSeries:
    """One metric over time: values (NaN where not measured), times and result ids."""

    metric: str
    unit: str
    performed_at: tuple[datetime, ...]
    values: np.ndarray
    result_ids: tuple[int, ...]

    def __len__(self) -> int:
        return int(self.values.size)


@runtime_checkable
class QAHistory(Protocol):
    """What QA code needs from a store of QA results (the case store will implement it)."""

    def record(self, result: QAResult) -> int:
        """Store ``result``; return its id."""

    def results(self, instrument_id: str, *, kind: str | None = None,
                since: datetime | None = None) -> list[StoredResult]:
        """The instrument's results, oldest first."""

    def series(self, instrument_id: str, metric: str, *, kind: str | None = None
               ) -> MetricSeries:
        """One criterion's values over the instrument's results, oldest first."""

    def instruments(self) -> list[str]:
        """Every instrument with a stored result."""


def _canonical(result: QAResult) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, separators=(",", ":"))


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


class SQLiteQAHistory:
    """QA history in one SQLite file (see the module notes). Use as a context manager."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.executescript(_SCHEMA)
            with self._db:
                row = self._db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                if row is None:
                    self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                     (_SCHEMA_VERSION,))
                elif row[0] != _SCHEMA_VERSION:
                    raise CustodyError(f"{self.path}: QA history schema {row[0]}, this "
                                       f"gcms reads {_SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as error:
            raise CustodyError(f"{self.path}: cannot open the QA history: {error}") from error

    def __enter__(self) -> SQLiteQAHistory:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def record(self, result: QAResult) -> int:
        """Store ``result`` (and one value row per criterion); return its id."""
        text = _canonical(result)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        now = datetime.now(timezone.utc).isoformat()
        try:
            with self._db:
                cursor = self._db.execute(
                    "INSERT INTO qa_result (instrument_id, kind, criteria_set, performed_at, "
                    "recorded_at, verdict, source_path, source_sha256, profile_sha256, "
                    "tool_version, result_json, result_sha256) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (result.instrument_id, result.kind, result.criteria_set,
                     result.performed_at.astimezone(timezone.utc).isoformat(), now,
                     result.verdict, result.source.get("path"), result.source.get("sha256"),
                     result.profile.get("sha256"), gcms.__version__, text, digest))
                result_id = int(cursor.lastrowid)
                self._db.executemany(
                    "INSERT INTO qa_value (result_id, metric, value, passed) VALUES (?, ?, ?, ?)",
                    [(result_id, c.key, _number(c.value),
                      None if c.passed is None else int(c.passed)) for c in result.criteria])
        except sqlite3.Error as error:
            raise CustodyError(f"{self.path}: cannot record the QA result: {error}") from error
        return result_id

    def _rows(self, instrument_id: str, kind: str | None, since: datetime | None,
              until: datetime | None = None, where: str = "", extra: tuple = ()):
        query = ("SELECT id, recorded_at, result_json, result_sha256 FROM qa_result "
                 "WHERE instrument_id = ?" + where)
        params: list = [instrument_id, *extra]
        if kind is not None:
            query += " AND kind = ?"
            params.append(kind)
        for bound, operator in ((since, ">="), (until, "<=")):
            if bound is not None:
                if bound.tzinfo is None:
                    bound = bound.replace(tzinfo=timezone.utc)
                query += f" AND performed_at {operator} ?"
                params.append(bound.astimezone(timezone.utc).isoformat())
        query += " ORDER BY performed_at, id"
        return self._db.execute(query, params).fetchall()

    def _stored(self, rows) -> list[StoredResult]:
        out = []
        for row_id, recorded, text, digest in rows:
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
                raise TamperError(f"{self.path}: QA result {row_id} does not match its SHA-256")
            out.append(StoredResult(row_id, datetime.fromisoformat(recorded),
                                    QAResult.from_dict(json.loads(text)), digest))
        return out

    def results(self, instrument_id: str, *, kind: str | None = None,
                since: datetime | None = None, until: datetime | None = None
                ) -> list[StoredResult]:
        """The instrument's results (performed within ``since``-``until``), oldest first.

        Each one's digest is checked.

        Raises
        ------
        TamperError
            A stored result no longer matches its SHA-256.
        """
        return self._stored(self._rows(instrument_id, kind, since, until))

    def recorded(self, result: QAResult) -> StoredResult | None:
        """The stored result of the same check on the same evidence, if any.

        Same instrument, kind, criteria set, evidence SHA-256 and profile SHA-256: a
        batch processed again finds its ladder already recorded and does not chart it
        twice. None when the result names no evidence digest.
        """
        digest = result.source.get("sha256")
        if not digest:
            return None
        rows = self._rows(result.instrument_id, result.kind, None, None,
                          where=" AND criteria_set = ? AND source_sha256 = ? AND "
                                "profile_sha256 IS ?",
                          extra=(result.criteria_set, digest, result.profile.get("sha256")))
        stored = self._stored(rows)
        return stored[0] if stored else None

    def record_once(self, result: QAResult) -> tuple[int, bool]:
        """Store ``result`` unless :meth:`recorded` finds it; ``(id, newly recorded)``."""
        existing = self.recorded(result)
        if existing is not None:
            return existing.id, False
        return self.record(result), True

    def latest(self, instrument_id: str, *, kind: str | None = None,
               until: datetime | None = None) -> StoredResult | None:
        """The most recent result of the instrument (of ``kind``, performed by ``until``)."""
        stored = self.results(instrument_id, kind=kind, until=until)
        return stored[-1] if stored else None

    def series(self, instrument_id: str, metric: str, *, kind: str | None = None
               ) -> MetricSeries:
        """Values of criterion ``metric`` over the instrument's results, oldest first.

        Results without that criterion are left out; a criterion recorded without a
        value is NaN.
        """
        times, values, ids = [], [], []
        unit = ""
        for stored in self.results(instrument_id, kind=kind):
            for criterion in stored.result.criteria:
                if criterion.key == metric:
                    times.append(stored.result.performed_at)
                    values.append(np.nan if criterion.value is None else criterion.value)
                    ids.append(stored.id)
                    unit = criterion.unit
        return MetricSeries(metric, unit, tuple(times), np.asarray(values, dtype=np.float64),
                            tuple(ids))

    def metrics(self, instrument_id: str, *, kind: str | None = None) -> list[str]:
        """Every criterion key stored for the instrument, in first-recorded order."""
        query = ("SELECT v.metric FROM qa_value v JOIN qa_result r ON r.id = v.result_id "
                 "WHERE r.instrument_id = ?" + (" AND r.kind = ?" if kind else "") +
                 " GROUP BY v.metric ORDER BY MIN(v.rowid)")
        params = [instrument_id, kind] if kind else [instrument_id]
        return [row[0] for row in self._db.execute(query, params)]

    def instruments(self) -> list[str]:
        """Every instrument with a stored result, sorted."""
        return [row[0] for row in self._db.execute(
            "SELECT DISTINCT instrument_id FROM qa_result ORDER BY instrument_id")]


def open_history(directory: str | os.PathLike | None = None) -> SQLiteQAHistory:
    """The QA history in ``directory`` (created if needed); default :func:`default_data_dir`."""
    folder = Path(directory) if directory is not None else default_data_dir()
    return SQLiteQAHistory(folder / HISTORY_FILE)
