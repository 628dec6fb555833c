"""Drug profiles, links and linkage thresholds in the custody chain: tamper-evident, attributable.

The seizure database (:mod:`gcms.profiling.store`) keeps its rows in tables of the case
store's database (``profiling_profiles``, ``profiling_links``, ``profiling_calibrations``).
Each row is written in the same transaction as an audit entry appended through the store's
single write path (:class:`gcms.custody._ledger._Writer`), so the entry names the acting,
enrolled user (:mod:`gcms.custody.rules`) and the chain holds the SHA-256 of the row
(:func:`row_sha256`: the row's columns as canonical JSON, the vector as hex):

* ``profiling.profile``: one stored profile and the links it made, in its **case**'s chain
  (the entry carries the case tag, so a case bundle includes it);
* ``profiling.calibrate``: a linkage threshold with its error rates, a **lab-level** entry
  (it is part of the method's validation, not of one case), proven with the key of the
  user who set it (:func:`gcms.custody.rules.needs_proof`);
* ``profiling.import``: profiles brought in from elsewhere (another lab's database, a
  benchmark), a lab-level entry naming the source and each row's SHA-256; they are
  intelligence from that source, not exhibits this lab holds.

**A profile for a case not in the store is refused** (rule :data:`RULE_PROFILE_CASE`). A
profile offered as evidence of common origin must trace to an exhibit received and held
under this lab's custody (ISO/IEC 17025:2017 §7.4 handling of test items, §7.5 technical
records; ENFSI Drugs Working Group, *Guidelines on Sampling* and BPM for the forensic
examination of drugs, 2016/2020: records link each result to its item). A lab-level entry
would prove only who typed the numbers in, not what material they were measured on, and
would let a profile stand in court with no custody behind it. Profiles of other labs
enter only as labelled imports.

Verification (:func:`replay_profiling_entry` during the replay of
:mod:`gcms.custody.verify`, then :func:`profiling_findings`) names every row edited,
added or deleted in those tables outside the store: its SHA-256 no longer matches its
entry, or it has no entry. Reads of the seizure database check the rows they return the
same way (:func:`check_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from gcms.custody.canonical import canonical_json, sha256_hex
from gcms.custody.schema import audit_log
from gcms.errors import CustodyError, TamperError

__all__ = ["CALIBRATION_COLUMNS", "LINK_COLUMNS", "PROFILE_COLUMNS", "RULE_PROFILE_CASE",
           "append_calibration", "append_import", "append_profile", "check_rows",
           "latest_calibration",
           "profiling_findings", "replay_profiling_entry", "row_sha256"]

#: The rule a profile's case follows.
RULE_PROFILE_CASE = ("a profile is measured on an exhibit of a case held in the store; "
                     "other labs' profiles enter as labelled imports")

#: Columns of each table that the chain's SHA-256 covers (all but the row counter and the
#: ``custody`` note, which is written with the entry's number).
PROFILE_COLUMNS = ("profile_id", "method_name", "method_sha256", "case_id", "exhibit_id",
                   "seized_on", "place", "drug", "targets", "areas", "vector", "run_sha256",
                   "sample_name", "created_at", "created_by", "detail")
LINK_COLUMNS = ("profile_a", "profile_b", "method_sha256", "score", "calibration",
                "created_at", "created_by")
CALIBRATION_COLUMNS = ("id", "method_sha256", "data", "created_at", "created_by")

_TABLES = {"profile": ("profiling_profiles", PROFILE_COLUMNS),
           "link": ("profiling_links", LINK_COLUMNS),
           "calibration": ("profiling_calibrations", CALIBRATION_COLUMNS)}


def row_sha256(kind: str, row: Mapping[str, Any]) -> str:
    """SHA-256 of one row of ``kind`` (``profile``, ``link``, ``calibration``)."""
    columns = _TABLES[kind][1]
    values = {}
    for name in columns:
        value = row.get(name)
        if isinstance(value, (bytes, bytearray, memoryview)):
            value = bytes(value).hex()
        elif isinstance(value, float):
            value = value.hex()  # exact, whatever the JSON float formatting
        values[name] = value
    return sha256_hex(canonical_json({"table": _TABLES[kind][0], "row": values}))


def _link_key(row: Mapping[str, Any]) -> str:
    return f"{row['profile_a']}|{row['profile_b']}"


def append_profile(writer: Any, profile_row: Mapping[str, Any],
                   link_rows: Sequence[Mapping[str, Any]]) -> int:
    """Append ``profiling.profile`` for a profile row and its links; the entry's number.

    ``writer`` is the store's :class:`~gcms.custody._ledger._Writer` of the transaction
    that inserts the rows. Raises CustodyError when the profile names no case of the
    store (:data:`RULE_PROFILE_CASE`).
    """
    case_id = profile_row.get("case_id")
    pid = profile_row["profile_id"]
    if not case_id:
        raise CustodyError(f"profile {pid}: refused: it names no case (rule: "
                           f"{RULE_PROFILE_CASE})")
    try:
        tag = writer.case_tag(case_id)
    except CustodyError:
        raise CustodyError(f"profile of case {case_id!r}: refused: case {case_id!r} is not in "
                           f"the store {writer.store.location}; open it ('gcms case open') "
                           f"and receive its exhibit first (rule: {RULE_PROFILE_CASE})"
                           ) from None
    after = {"profile_id": pid, "case_id": case_id, "exhibit_id": profile_row.get("exhibit_id"),
             "method_sha256": profile_row["method_sha256"],
             "run_sha256": profile_row.get("run_sha256"),
             "row_sha256": row_sha256("profile", profile_row),
             "links": [{"profile_b": r["profile_b"], "score": r["score"],
                        "row_sha256": row_sha256("link", r)} for r in link_rows]}
    return writer.append("profiling.profile", object_type="profiling", object_id=pid,
                         case_id=case_id, before=None, after=after, case_tag=tag)


def append_calibration(writer: Any, row: Mapping[str, Any], signer: Any = None) -> int:
    """Append the lab-level ``profiling.calibrate`` entry of a calibration row.

    The entry is proven with ``signer``, the actor's registered key
    (:func:`gcms.custody.rules.needs_proof`): a threshold decides every link reported
    after it, so whoever sets it answers for it with their key, not only their name.
    """
    data = json.loads(row["data"])
    after = {"calibration_id": int(row["id"]), "method_sha256": row["method_sha256"],
             "threshold": data.get("threshold"), "metric": data.get("metric"),
             "false_positive": data.get("false_positive"),
             "false_negative": data.get("false_negative"),
             "simulated": data.get("simulated"),
             "row_sha256": row_sha256("calibration", row)}
    return writer.append("profiling.calibrate", object_type="profiling",
                         object_id=f"calibration-{int(row['id'])}", case_id=None,
                         before=None, after=after, signer=signer)


def append_import(writer: Any, import_id: str, source: str,
                  rows: Sequence[Mapping[str, Any]]) -> int:
    """Append the lab-level ``profiling.import`` entry of imported profile rows."""
    if not source or not source.strip():
        raise CustodyError("an import of profiles names its source (lab, database, file)")
    after = {"import_id": import_id, "source": source.strip(), "count": len(rows),
             "profiles": [[r["profile_id"], row_sha256("profile", r)] for r in rows]}
    return writer.append("profiling.import", object_type="profiling", object_id=import_id,
                         case_id=None, before=None, after=after)


# -- verification -----------------------------------------------------------------------

def _state(replay: Any) -> dict[str, dict[str, tuple[int, str]]]:
    state = getattr(replay, "profiling", None)
    if state is None or not state:
        state = {"profile": {}, "link": {}, "calibration": {}}
        replay.profiling = state
    return state


def replay_profiling_entry(replay: Any, link: Any, content: Mapping[str, Any]) -> None:
    """Check one ``profiling.*`` entry during verification; findings go to ``replay``.

    ``replay`` is :class:`gcms.custody.verify.Replay`; the SHA-256 of every row the
    entries vouch for collects in its ``profiling`` state for :func:`profiling_findings`.
    """
    subject = f"entry #{link.seq}"
    after, action = content["after"], content["action"]
    case_id = content["case_id"]
    if not isinstance(after, Mapping):
        replay._fail("entry", subject, f"{action}: its after-image is not a mapping")
        return
    if action == "profiling.profile":
        case = replay.current("case", case_id, case_id) if case_id else None
        if case is None or link.case_tag != case.case_tag:
            replay._fail("entry", subject, f"profile {content['object_id']}: names case "
                         f"{case_id!r}, which is not a case of the store with that tag "
                         f"(rule: {RULE_PROFILE_CASE})")
            return
        if after.get("profile_id") != content["object_id"]:
            replay._fail("entry", subject, "profiling.profile: its after-image is another "
                         "profile")
            return
    elif case_id is not None or link.case_tag is not None:
        replay._fail("entry", subject, f"{action}: a lab-level entry that names a case")
        return
    if not replay._check_people(link, content, None):
        return
    state = _state(replay)
    try:
        if action == "profiling.profile":
            pid = after["profile_id"]
            state["profile"][pid] = (link.seq, str(after["row_sha256"]))
            for item in after.get("links") or ():
                key = f"{pid}|{item['profile_b']}"
                state["link"][key] = (link.seq, str(item["row_sha256"]))
        elif action == "profiling.calibrate":
            state["calibration"][str(after["calibration_id"])] = (
                link.seq, str(after["row_sha256"]))
        elif action == "profiling.import":
            for pid, sha in after["profiles"]:
                state["profile"][str(pid)] = (link.seq, str(sha))
    except (KeyError, TypeError, ValueError):
        replay._fail("entry", subject, f"{action}: its after-image lacks the rows' SHA-256")


def _have_tables(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table("profiling_profiles")


def _rows(conn: sa.Connection, kind: str, where: Iterable[Any] = ()) -> list[dict[str, Any]]:
    table, columns = _TABLES[kind]
    query: sa.Select = sa.select(*(sa.column(c) for c in columns)).select_from(
        sa.table(table))
    for clause in where:
        query = query.where(clause)
    return [dict(r) for r in conn.execute(query).mappings()]


def _key(kind: str, row: Mapping[str, Any]) -> str:
    if kind == "profile":
        return str(row["profile_id"])
    if kind == "link":
        return _link_key(row)
    return str(row["id"])


def _label(kind: str, key: str) -> str:
    if kind == "link":
        return "link " + key.replace("|", " - ")
    return f"{kind} {key}"


def profiling_findings(conn: sa.Connection, replay: Any) -> list[Any]:
    """Every profile, link or calibration row that differs from, or lacks, its entry.

    Called by :meth:`gcms.custody.CaseStore.verify` after the replay, in its read
    transaction. With a case scope, profiles (and their links) of other cases are left
    out; lab-level calibrations are always checked.
    """
    from gcms.custody.verify import Finding

    state = _state(replay)
    if not _have_tables(conn):
        return [Finding("record", _label(kind, key), f"recorded in entry #{seq} but the "
                        f"table {_TABLES[kind][0]} is missing")
                for kind in _TABLES for key, (seq, _) in state[kind].items()]
    findings = []
    scope = replay.scope
    # with a case scope: the case's profiles, those the replayed entries name, their links
    kept = None if scope is None else (
        {str(r["profile_id"]) for r in _rows(conn, "profile") if r["case_id"] == scope}
        | state["profile"].keys())
    for kind, (table, _) in _TABLES.items():
        want = state[kind]
        have = {_key(kind, r): r for r in _rows(conn, kind)}
        if kept is not None and kind != "calibration":
            have = {k: r for k, r in have.items() if k.split("|")[0] in kept}
        for key in sorted(want.keys() | have.keys()):
            if key not in have:
                seq = want[key][0]
                findings.append(Finding("record", _label(kind, key), f"recorded in entry "
                                        f"#{seq} but missing from table {table}"))
            elif key not in want:
                findings.append(Finding("record", _label(kind, key), f"row in table {table} "
                                        "has no audit entry"))
            elif row_sha256(kind, have[key]) != want[key][1]:
                findings.append(Finding("record", _label(kind, key), f"row in table {table} "
                                        f"was altered: its SHA-256 is not the one audit entry "
                                        f"#{want[key][0]} records"))
    return findings


def _entries(conn: sa.Connection, object_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The checked content of the ``profiling`` entries of these object ids."""
    out: dict[str, dict[str, Any]] = {}
    ids = sorted(set(object_ids))
    for start in range(0, len(ids), 500):
        rows = conn.execute(sa.select(audit_log.c.seq, audit_log.c.object_id,
                                      audit_log.c.content, audit_log.c.content_sha256)
                            .where(audit_log.c.object_type == "profiling",
                                   audit_log.c.object_id.in_(ids[start:start + 500])))
        for row in rows:
            if row.content is None or sha256_hex(row.content) != row.content_sha256:
                raise TamperError(f"audit entry #{row.seq} ({row.object_id}) was altered "
                                  "after it was written ('gcms custody verify' names it)")
            out[row.object_id] = {"seq": row.seq, **json.loads(row.content)}
    return out


#: Parsed import entries, keyed by (seq, content SHA-256): a large import is parsed once.
_IMPORTS: dict[tuple[int, str], dict[str, str]] = {}


def _import_digests(conn: sa.Connection, seqs: Iterable[int],
                    wanted: set[str]) -> dict[str, tuple[int, str]]:
    """The SHA-256 that import entries ``seqs`` record for the ``wanted`` profiles."""
    out: dict[str, tuple[int, str]] = {}
    for seq in sorted(set(seqs)):
        head = conn.execute(sa.select(audit_log.c.content_sha256, audit_log.c.action)
                            .where(audit_log.c.seq == seq)).first()
        if head is None or head.action != "profiling.import":
            continue
        digests = _IMPORTS.get((seq, head.content_sha256))
        if digests is None:
            content = conn.execute(sa.select(audit_log.c.content)
                                   .where(audit_log.c.seq == seq)).scalar()
            if content is None or sha256_hex(content) != head.content_sha256:
                raise TamperError(f"audit entry #{seq} (an import of profiles) was altered "
                                  "after it was written ('gcms custody verify' names it)")
            digests = {str(pid): str(sha)
                       for pid, sha in json.loads(content)["after"]["profiles"]}
            if len(_IMPORTS) >= 64:
                _IMPORTS.clear()
            _IMPORTS[(seq, head.content_sha256)] = digests
        out.update({pid: (seq, digests[pid]) for pid in wanted if pid in digests})
    return out


def latest_calibration(conn: sa.Connection, method_sha256: str) -> int | None:
    """The id of the latest threshold the chain records for a method (None: none)."""
    if not sa.inspect(conn).has_table(audit_log.name):
        return None  # not a case store: no threshold was recorded
    rows = conn.execute(sa.select(audit_log.c.content)
                        .where(audit_log.c.object_type == "profiling",
                               audit_log.c.action == "profiling.calibrate")
                        .order_by(audit_log.c.seq.desc()))
    for row in rows:
        after = json.loads(row.content)["after"] if row.content else {}
        if after.get("method_sha256") == method_sha256:
            return int(after["calibration_id"])
    return None


def check_rows(conn: sa.Connection, kind: str, rows: Sequence[Any], location: str) -> None:
    """Raise TamperError unless each row matches the SHA-256 its audit entry records.

    ``rows`` hold at least the columns of ``kind`` (and, for profiles, ``custody``, the
    note that names an import's entry). A read of the seizure database calls this on
    what it returns, so an edited row is never quoted as a link or a profile.
    """
    if not rows:
        return
    where = f"{location}: "
    if not sa.inspect(conn).has_table(audit_log.name):
        raise TamperError(f"{where}{len(rows)} {kind} row(s) in a database with no audit log: "
                          "they were not written through a case store")
    if kind == "calibration":
        entries = _entries(conn, [f"calibration-{int(r['id'])}" for r in rows])
        wanted = {str(r["id"]): entries.get(f"calibration-{int(r['id'])}") for r in rows}
        digests = {k: (e["seq"], e["after"].get("row_sha256")) if e else None
                   for k, e in wanted.items()}
    elif kind == "profile":
        entries = _entries(conn, [str(r["profile_id"]) for r in rows])
        digests = {pid: (e["seq"], e["after"].get("row_sha256"))
                   for pid, e in entries.items() if e["action"] == "profiling.profile"}
        imported, wanted = [], set()
        for r in rows:
            note = json.loads(r.get("custody") or "null") or {}
            if str(r["profile_id"]) not in digests and note.get("entry_seq"):
                imported.append(int(note["entry_seq"]))
                wanted.add(str(r["profile_id"]))
        digests.update(_import_digests(conn, imported, wanted))
    else:
        entries = _entries(conn, [str(r["profile_a"]) for r in rows])
        digests = {}
        for pid, e in entries.items():
            for item in e["after"].get("links") or ():
                digests[f"{pid}|{item.get('profile_b')}"] = (e["seq"], item.get("row_sha256"))
    for row in rows:
        key = _key(kind, row)
        found = digests.get(key)
        if found is None:
            raise TamperError(f"{where}{_label(kind, key)} has no audit entry: it was not "
                              "written through the store ('gcms custody verify')")
        if row_sha256(kind, row) != found[1]:
            raise TamperError(f"{where}{_label(kind, key)} was altered in the database: its "
                              f"SHA-256 is not the one audit entry #{found[0]} records "
                              "('gcms custody verify')")
