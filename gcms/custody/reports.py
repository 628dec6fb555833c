"""Report control in the case store: evidence checked first, every report recorded.

ISO/IEC 17025:2017 §7.8.8 asks that an amended report be identified as such and name the
report it replaces, and §7.5 / §7.11 that the records a report rests on be complete and
unaltered. 21 CFR 11.10(e) asks for an audit trail of every record created. This module
holds the store's side of ``gcms report``:

* :func:`check_evidence_for_report` verifies the audit chain, every record, every
  signature of the case (:meth:`CaseStore.verify`) and the evidence bytes of the runs
  that can be reached, and raises :class:`~gcms.errors.TamperError` naming each break:
  nothing is rendered from a store that does not verify.
* :func:`choose_analysis` picks the analysis a report shows; an exhibit with several
  analyses and none named is refused with the list (a re-analysis never silently
  replaces the reviewed one).
* :func:`unmet_requirements` evaluates the lab policy (``[policy] require`` of the lab
  profile): which signature meanings the exhibit's results, or the report's own
  signatures, still lack; a report with any unmet is a DRAFT.
* :func:`record_report` writes the report record (:class:`~gcms.custody.records.IssuedReport`:
  report id, SHA-256 of the file, analysis, languages, signers, chain head, status) as
  an audit entry, and marks the report it supersedes as superseded in the same
  transaction; :func:`reports` lists them.
* :func:`record_results_file` / :func:`recorded_results_file`: the SHA-256 of a batch's
  ``results.json``, so that a report made from that file can be told apart from one made
  from an edited copy.

Every write goes through the store's append lock and audit entry (``_writing``), like
the store's own methods.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcms.custody.records import MEANINGS, IssuedReport, ResultsFile, record_from_dict
from gcms.errors import CustodyError, TamperError

if TYPE_CHECKING:  # pragma: no cover
    from gcms.custody.store import CaseStore

__all__ = [
    "REPORT_STATUSES",
    "EvidenceCheck",
    "analyses_of_exhibit",
    "check_evidence_for_report",
    "choose_analysis",
    "exhibit_authors",
    "record_report",
    "record_results_file",
    "recorded_results_file",
    "report_by_file",
    "reports",
    "revise_report_file",
    "unmet_requirements",
]

#: What a recorded report can be.
REPORT_STATUSES: tuple[str, ...] = ("issued", "draft", "superseded")

#: Findings named in the refusal (the rest are counted).
_NAMED_FINDINGS = 5


@dataclass(frozen=True, slots=True)
class EvidenceCheck:
    """What :func:`check_evidence_for_report` verified."""

    case_id: str
    head_seq: int
    head_sha256: str
    entries: int
    signatures: int
    files_rehashed: int
    not_reachable: tuple[str, ...]


def _reachable(path: str) -> bool:
    return os.path.exists(path)


def check_evidence_for_report(store: CaseStore, case_id: str, *,
                              rehash: bool | None = None) -> EvidenceCheck:
    """Verify what a report of ``case_id`` rests on; ``TamperError`` names every break.

    The whole chain is walked (a deletion anywhere shows), the case's records are
    replayed and compared with the tables, and every signature of the case is checked.
    ``rehash``: ``True`` re-hashes every run's evidence (a missing file is a break),
    ``False`` none, ``None`` (default) those whose files are reachable from here.
    """
    from gcms.custody.verify import check_evidence

    report = store.verify(case_id=case_id, rehash=False)
    findings = [str(f) for f in report.findings]
    hashed, missing = 0, []
    if not findings and rehash is not False:
        runs = store.runs(case_id)
        if rehash is None:
            missing = [r.path for r in runs if not _reachable(r.path)]
            runs = [r for r in runs if _reachable(r.path)]
        hashed, problems = check_evidence(runs)
        findings += [str(p) for p in problems]
    if findings:
        named = "; ".join(findings[:_NAMED_FINDINGS])
        more = len(findings) - _NAMED_FINDINGS
        raise TamperError(
            f"{store.location}: case {case_id} does not verify, so no report is made: "
            f"{named}" + (f" (and {more} more; 'gcms custody verify')" if more > 0 else ""))
    return EvidenceCheck(case_id, report.head_seq, report.head_sha256, report.entries,
                         report.signatures, hashed, tuple(missing))


def analyses_of_exhibit(store: CaseStore, case_id: str, exhibit_id: str) -> list[str]:
    """The analyses holding a result of the exhibit, in the order recorded."""
    order = [a.analysis_id for a in store.analyses(case_id)]
    used = {r.analysis_id for r in store.results(case_id, exhibit_id) if r.analysis_id}
    return [a for a in order if a in used]


def choose_analysis(store: CaseStore, case_id: str, exhibit_id: str,
                    analysis_id: str | None) -> str | None:
    """The analysis a report of the exhibit shows; refuses a choice left open.

    With one analysis of the exhibit, that one; with several and ``analysis_id`` None,
    ``CustodyError`` listing them (id, run count, signatures), so that the reviewed one is
    named (``--analysis``) rather than the latest taken silently.
    """
    found = analyses_of_exhibit(store, case_id, exhibit_id)
    if analysis_id is not None:
        if analysis_id not in found:
            raise CustodyError(f"case {case_id}: analysis {analysis_id!r} has no result of "
                               f"exhibit {exhibit_id} (its analyses: "
                               f"{', '.join(found) or 'none'})")
        return analysis_id
    if len(found) <= 1:
        return found[0] if found else None
    analyses = {a.analysis_id: a for a in store.analyses(case_id)}
    signatures = store.signatures(case_id)
    results = store.results(case_id, exhibit_id)
    lines = []
    for a in found:
        mine = {r.result_id: r.version for r in results if r.analysis_id == a}
        meanings = sorted({s.meaning for s in signatures
                           if mine.get(s.result_id) == s.result_version})
        criteria = analyses[a].criteria_profile or "criteria not named"
        lines.append(f"{a} ({len(mine)} result(s), {criteria}; signed: "
                     f"{', '.join(meanings) or 'none'})")
    raise CustodyError(f"exhibit {exhibit_id} of case {case_id} has {len(found)} analyses: "
                       f"{'; '.join(lines)}; choose one with --analysis")


def exhibit_authors(store: CaseStore, case_id: str, result_ids: Iterable[str]) -> set[str]:
    """Who authored the results: who recorded or corrected them, and who signed them so.

    A reviewer's verdict decision is no authorship
    (:func:`gcms.custody.rules.counts_as_authorship`).
    """
    from gcms.custody.rules import counts_as_authorship

    wanted = set(result_ids)
    out = {e.actor for e in store.log(case_id=case_id)
           if e.object_type == "result" and e.object_id in wanted
           and counts_as_authorship(e.action)}
    out |= {s.signer for s in store.signatures(case_id)
            if s.result_id in wanted and s.meaning == "authored"}
    return out


def unmet_requirements(store: CaseStore, case_id: str, exhibit_id: str,
                       analysis_id: str | None, requirements: Sequence[str], *,
                       report_signers: Sequence[Mapping[str, Any]] = ()) -> list[str]:
    """Which of the policy's ``requirements`` the report does not meet yet.

    A requirement is a signature meaning (``authored``, ``reviewed``, ``approved``). It is
    met when every current result of the exhibit in the analysis carries a store
    signature of that meaning, or when the report itself is signed so by a key registered
    in the store (``report_signers``: dicts with ``user`` and ``meaning``). A review or
    approval by an author of the results meets nothing.
    """
    for requirement in requirements:
        if requirement not in MEANINGS:
            raise CustodyError(f"policy requirement {requirement!r} is not one of "
                               f"{', '.join(MEANINGS)}")
    results = [r for r in store.results(case_id, exhibit_id)
               if analysis_id is None or r.analysis_id == analysis_id]
    authors = exhibit_authors(store, case_id, (r.result_id for r in results))
    signatures = store.signatures(case_id)
    unmet = []
    for meaning in requirements:
        def counts(signer: str, meaning: str = meaning) -> bool:
            return meaning == "authored" or signer not in authors

        on_report = any(s.get("meaning") == meaning and s.get("user")
                        and counts(s["user"]) for s in report_signers)
        on_results = bool(results) and all(
            any(s.result_id == r.result_id and s.result_version == r.version
                and s.meaning == meaning and counts(s.signer) for s in signatures)
            for r in results)
        if not (on_report or on_results):
            unmet.append(meaning)
    return unmet


def reports(store: CaseStore, case_id: str) -> list[IssuedReport]:
    """The current version of every report recorded in a case, in the order made."""
    from gcms.custody.store import _latest_query

    current = store._read("report", case_id)
    with store._transaction(write=False) as conn:
        rows = conn.execute(_latest_query("report", case_id, {}, all_versions=True)).all()
    first: dict[str, int] = {}
    for row in rows:
        first.setdefault(json.loads(row.content)["object_id"], row.entry_seq)
    return sorted(current, key=lambda r: first.get(r.report_id, 0))


def report_by_file(store: CaseStore, case_id: str, file_sha256: str) -> IssuedReport | None:
    """The report of the case whose current (or any earlier) file has this SHA-256."""
    from gcms.custody.store import _latest_query

    with store._transaction(write=False) as conn:
        rows = conn.execute(_latest_query("report", case_id, {"file_sha256": file_sha256},
                                          all_versions=True)).all()
        if not rows:
            return None
        report_id = json.loads(rows[-1].content)["after"]["report_id"]
        return store._current(conn, "report", case_id, report_id)[0]


def record_report(store: CaseStore, *, case_id: str, exhibit_id: str, report_id: str,
                  status: str, file_sha256: str, file_format: str, languages: str,
                  chain_head: tuple[int, str], analysis_id: str | None = None,
                  signers: Sequence[Mapping[str, Any]] = (),
                  requirements: Sequence[str] = (), unmet: Sequence[str] = (),
                  source: str | None = None, results_sha256: str | None = None,
                  supersedes: str | None = None, reason: str | None = None
                  ) -> IssuedReport:
    """Record a report made from the case (one audit entry; two when it supersedes).

    ``status`` is ``issued`` or ``draft``. A report id already recorded as a draft gets
    a new version (``report.revise``); one already issued is refused: an amendment is a
    new report that names it in ``supersedes``, which then becomes ``superseded`` (when
    the amendment is issued) with ``reason`` kept in the entry.
    """
    if status not in ("issued", "draft"):
        raise CustodyError(f"report {report_id}: status {status!r} is not issued or draft")
    if supersedes is not None and not (reason and reason.strip()):
        raise CustodyError(f"report {report_id}: superseding report {supersedes} needs a "
                           "reason (kept in the audit log)")
    record = {
        "case_id": case_id, "report_id": report_id, "exhibit_id": exhibit_id,
        "status": status, "file_sha256": file_sha256, "file_format": file_format,
        "languages": languages, "chain_head_seq": int(chain_head[0]),
        "chain_head_sha256": chain_head[1], "analysis_id": analysis_id,
        "signers": [dict(s) for s in signers], "requirements": list(requirements),
        "unmet": list(unmet), "source": source, "results_sha256": results_sha256,
        "supersedes": supersedes, "superseded_by": None,
    }
    with store._writing() as w:
        old = None
        if supersedes is not None:
            if supersedes == report_id:
                raise CustodyError(f"report {report_id} cannot supersede itself")
            old, old_seq = store._require(w.conn, "report", case_id, supersedes)
            if old.status == "superseded":
                raise CustodyError(f"report {supersedes} of case {case_id} was already "
                                   f"superseded by report {old.superseded_by}")
            if old.exhibit_id != exhibit_id:
                raise CustodyError(f"report {supersedes} is of exhibit {old.exhibit_id}, "
                                   f"not {exhibit_id}")
        if status == "issued":
            standing = [r.report_id for r in store._records(w.conn, "report", case_id,
                                                            exhibit_id=exhibit_id)
                        if r.status == "issued" and r.report_id not in (supersedes,
                                                                        report_id)]
            if standing:
                raise CustodyError(
                    f"exhibit {exhibit_id} of case {case_id} already has issued report "
                    f"{standing[-1]}: an amended report names it (--supersedes "
                    f"{standing[-1]} --reason ...)")
        found = store._current(w.conn, "report", case_id, report_id)
        if found is None:
            new = record_from_dict("report", {**record, "version": 1})
            store._check_references(w.conn, new)
            w.put(f"report.{'issue' if status == 'issued' else 'draft'}", new, reason=reason)
        else:
            current, seq = found
            if current.status != "draft":
                raise CustodyError(
                    f"report {report_id} of case {case_id} is already {current.status}; an "
                    "amended report needs its own report id (--report-id) and names the "
                    "one it replaces (--supersedes)")
            new = record_from_dict("report", {**record, "version": current.version + 1})
            store._check_references(w.conn, new)
            w.put("report.revise", new, before=current, supersedes=seq,
                  reason=reason or ("issued" if status == "issued" else "draft remade"))
        if old is not None and status == "issued":
            marked = old.replace(status="superseded", superseded_by=report_id,
                                 version=old.version + 1)
            w.put("report.supersede", marked, before=old, supersedes=old_seq,
                  reason=reason)
    return new


def revise_report_file(store: CaseStore, case_id: str, report_id: str, *,
                       old_sha256: str, new_sha256: str,
                       signers: Sequence[Mapping[str, Any]], reason: str) -> IssuedReport:
    """Record a further signature on a recorded report: its new file SHA-256 and signers.

    The file signed must be the one recorded (``old_sha256``); the status stays (a
    signature added to a DRAFT does not remove the watermark: make the report again).
    """
    with store._writing() as w:
        current, seq = store._require(w.conn, "report", case_id, report_id)
        if current.file_sha256 != old_sha256:
            raise TamperError(f"report {report_id} of case {case_id}: the file signed "
                              f"(SHA-256 {old_sha256}) is not the one recorded "
                              f"({current.file_sha256})")
        if current.status == "superseded":
            raise CustodyError(f"report {report_id} of case {case_id} was superseded by "
                               f"report {current.superseded_by}; it is not signed further")
        new = current.replace(file_sha256=new_sha256, version=current.version + 1,
                              signers=[*[dict(s) for s in current.signers],
                                       *[dict(s) for s in signers]])
        w.put("report.revise", new, before=current, supersedes=seq, reason=reason)
    return new


def record_results_file(store: CaseStore, case_id: str, analysis_id: str,
                        path: str | os.PathLike) -> ResultsFile:
    """Record the SHA-256 of a batch's ``results.json`` with its analysis (idempotent)."""
    from gcms.custody.evidence import hash_evidence

    digest = hash_evidence(path)
    record = ResultsFile(case_id=case_id, file_sha256=digest.sha256,
                         analysis_id=analysis_id, path=str(Path(path).resolve()))
    with store._writing() as w:
        found = store._current(w.conn, "results_file", case_id, digest.sha256)
        if found is not None:
            return found[0]
        store._check_references(w.conn, record)
        w.put("results_file.record", record)
    return record


def recorded_results_file(store: CaseStore, file_sha256: str) -> ResultsFile | None:
    """The store's record of a results file with this SHA-256 (any case), or None."""
    found = store._read("results_file", None, file_sha256=file_sha256)
    return found[0] if found else None
