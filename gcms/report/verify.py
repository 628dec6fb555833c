"""Verifying a report PDF: its signatures, and its evidence hashes against the source.

:func:`verify_report` checks, and names every problem it finds:

1. the PDF carries its facts (``report.json``, embedded when it was rendered);
2. it is signed, every signature is intact and cryptographically valid, and the last
   one covers the whole file (nothing was appended after it); earlier signatures are
   followed only by further signatures;
3. with a case store: every signing key is an analyst key registered in the store, or
   (with the lab CA certificate) a certificate the lab CA issued; the name printed in
   each signature is its key's user's; a *reviewed* or *approved* signature is not by
   an author of the exhibit's results (:mod:`gcms.custody.rules`); the store records
   this very file as a report that is not superseded; every evidence file of the report
   is a run of the case with the same SHA-256 (file by file inside folders); the
   store's own chain verifies for the case;
4. with a batch ``results.json``: every evidence file of the report has the digest the
   batch recorded for that run;
5. with ``rehash`` (the default): every evidence file reachable from here hashes to the
   digest printed (those that are not are listed as not checked).

Without a store, whose keys signed and whether the case's chain holds are not known:
:attr:`ReportVerification.unchecked` says so, and such a report is never called
verified (:attr:`ReportVerification.verified`).
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcms.errors import GcmsError
from gcms.report.sign import PdfSignature, pdf_signatures, read_pdf

if TYPE_CHECKING:  # pragma: no cover
    from gcms.results import ResultsDocument

__all__ = ["NO_REHASH", "NO_STORE_CHAIN", "NO_STORE_IDENTITY", "ReportVerification",
           "embedded_report", "verify_report"]


@dataclass(frozen=True, slots=True)
class ReportVerification:
    """The outcome of :func:`verify_report`: what was checked and what failed."""

    path: str
    report_id: str | None
    signatures: tuple[PdfSignature, ...]
    checked: tuple[str, ...]
    findings: tuple[str, ...] = field(default=())
    unchecked: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing that was checked failed (see ``verified``)."""
        return not self.findings

    @property
    def verified(self) -> bool:
        """True when nothing failed and nothing was left unchecked."""
        return not self.findings and not self.unchecked

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "report_id": self.report_id, "ok": self.ok,
                "verified": self.verified,
                "signatures": [s.to_dict() for s in self.signatures],
                "checked": list(self.checked), "findings": list(self.findings),
                "unchecked": list(self.unchecked)}


def embedded_report(data: bytes, *, source: str = "report") -> dict[str, Any] | None:
    """The ``report.json`` embedded in a report PDF, or None when it carries none."""
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        root = PdfFileReader(io.BytesIO(data), strict=False).root
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    except (KeyError, PdfReadError):
        return None
    for i in range(0, len(names) - 1, 2):
        if str(names[i]) == "report.json":
            stream = names[i + 1]["/EF"]["/F"]
            try:
                return json.loads(stream.data.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise GcmsError(f"{source}: the embedded report.json is not JSON "
                                f"({error})") from None
    return None


def _signature_findings(signatures: list[PdfSignature]) -> list[str]:
    if not signatures:
        return ["the PDF carries no digital signature"]
    out = []
    for i, sig in enumerate(signatures):
        who = f"signature {sig.field} ({sig.printed_name or sig.signer})"
        if not sig.intact:
            out.append(f"{who}: the signed bytes were changed after signing")
        elif not sig.valid:
            out.append(f"{who}: the signature value does not verify")
        last = i == len(signatures) - 1
        if last and sig.coverage != "entire_file":
            out.append(f"{who}: does not cover the whole file ({sig.coverage}): bytes were "
                       "added after the last signature")
        if not last and sig.modifications not in ("none", "lta_updates", "form_filling"):
            out.append(f"{who}: the document was modified after it ({sig.modifications})")
    return out


def _evidence_findings_store(report: dict[str, Any], store) -> tuple[list[str], list[str]]:
    findings, checked = [], []
    case_id = report.get("case_id")
    try:
        runs = store.runs(case_id)
    except GcmsError as error:
        return [f"case store: {error}"], checked
    by_path = {r.path: r for r in runs}
    by_sha = {r.sha256: r for r in runs}
    for item in report.get("evidence", []):
        run = by_path.get(item["path"]) or by_sha.get(item["sha256"])
        if run is None:
            findings.append(f"evidence {item['label']} ({item['path']}): no run of case "
                            f"{case_id} in the store has this file or digest")
            continue
        if run.sha256 != item["sha256"]:
            findings.append(f"evidence {item['label']} ({item['path']}): the report says "
                            f"SHA-256 {item['sha256']}, the store {run.sha256}")
            continue
        stored = {f.path: f.sha256 for f in run.files}
        for path, digest, _size in item.get("files", []):
            if stored.get(path) != digest:
                findings.append(f"evidence {item['label']}: file {path} has SHA-256 "
                                f"{digest} in the report, {stored.get(path)} in the store")
        checked.append(f"evidence {item['label']}: SHA-256 matches run {run.run_id}")
    return findings, checked


def _evidence_findings_results(report: dict[str, Any],
                               results: ResultsDocument) -> tuple[list[str], list[str]]:
    from gcms.report.adapters import run_fact

    findings, checked = [], []
    by_id = {r.sample_id: r for r in results.runs}
    for item in report.get("evidence", []):
        record = by_id.get(item["label"])
        if record is None:
            findings.append(f"evidence {item['label']}: no run with this sample id in "
                            "results.json")
            continue
        recorded = run_fact(record, "sha256")
        digests = {item["sha256"], *(f[1] for f in item.get("files", []))}
        if recorded not in digests:
            findings.append(f"evidence {item['label']}: results.json records SHA-256 "
                            f"{recorded}, the report {item['sha256']}")
        else:
            checked.append(f"evidence {item['label']}: SHA-256 matches results.json")
    return findings, checked


def _rehash_findings(report: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Re-hash the report's evidence files: (findings, checked, not reachable)."""
    from gcms.custody import hash_evidence

    findings, checked, unreached = [], [], []
    for item in report.get("evidence", []):
        path = Path(item["path"])
        if not path.exists():
            unreached.append(f"evidence {item['label']}: {path} is not on this machine, "
                             "not re-hashed")
            continue
        digest = hash_evidence(path)
        ok = digest.sha256 == item["sha256"] or (
            not digest.is_directory and digest.sha256 in {f[1] for f in item.get("files", [])})
        if ok:
            checked.append(f"evidence {item['label']}: {path} re-hashed, unchanged")
        else:
            findings.append(f"evidence {item['label']}: {path} now hashes to "
                            f"{digest.sha256}, the report says {item['sha256']}")
    return findings, checked, unreached


def _key_revoked_at(store, fingerprint: str) -> str | None:
    """When the key was revoked (the revoking entry's time), or None."""
    for entry in store.log():
        if (entry.object_type, entry.object_id, entry.action) == (
                "analyst_key", fingerprint, "analyst_key.revoke"):
            return entry.at
    return None


def _enrolled(store, user: str | None) -> bool:
    """Whether ``user`` is an enrolled, active user of the store."""
    users = getattr(store, "users", None)
    if user is None:
        return False
    if users is None:  # a store without users: any registered key's user
        return any(k.user == user for k in store.keys())
    return any(u.user_id == user and u.status == "active" for u in users())


def _store_signature_findings(signatures: list[PdfSignature], report: dict[str, Any], store,
                              ca_certificate) -> tuple[list[str], list[str]]:
    """Who signed, by the store's registered keys (or the lab CA), and the duty rules."""
    from gcms.custody.reports import exhibit_authors
    from gcms.custody.rules import authorship_problem, key_problem
    from gcms.report.sign import certificate_identity

    findings, checked = [], []
    registered = {k.key_fingerprint: k for k in store.keys()}
    signers: list[tuple[PdfSignature, str]] = []
    for sig in signatures:
        who = f"signature {sig.field} ({sig.printed_name or sig.signer}, {sig.meaning})"
        key = registered.get(sig.key_fingerprint or "")
        if key is not None:
            problem = key_problem(key.user, key.key_fingerprint, key)
            revoked_at = _key_revoked_at(store, key.key_fingerprint) if problem else None
            if problem and not (revoked_at and sig.signed_at and sig.signed_at < revoked_at):
                findings.append(f"{who}: {problem}")
                continue
            if sig.printed_name != key.printed_name:
                findings.append(f"{who}: signed as {sig.printed_name!r} with the key of "
                                f"{key.user} ({key.printed_name}) (rule: a key signs only as "
                                "the user it is registered to)")
                continue
            checked.append(f"signature {sig.field}: key registered to {key.user} "
                           f"({key.printed_name}), {key.status}")
            signers.append((sig, key.user))
        elif ca_certificate is not None and sig.algorithm != "ed25519":
            user, name, problem = certificate_identity(sig.certificate_der, ca_certificate)
            if problem:
                findings.append(f"{who}: its certificate is {problem}")
            elif sig.printed_name not in (None, name):
                findings.append(f"{who}: signed as {sig.printed_name!r} with the certificate "
                                f"of {name} (rule: a key signs only as the user it is "
                                "registered to)")
            elif not _enrolled(store, user):
                findings.append(f"{who}: its certificate names {user!r}, who is not an "
                                "enrolled, active user of the store (rule: every change to "
                                "the store names an enrolled, active user)")
            else:
                checked.append(f"signature {sig.field}: certificate issued by the lab CA to "
                               f"{user} ({name})")
                signers.append((sig, user))
        else:
            findings.append(f"{who}: its key is not an analyst key registered in "
                            f"{store.location}" + ("" if sig.algorithm == "ed25519" else
                                                   " (nor a certificate of the lab CA: --lab)"))
    case_id, exhibit_id = report.get("case_id"), report.get("exhibit_id")
    try:
        results = [r.result_id for r in store.results(case_id, exhibit_id)]
        authors = exhibit_authors(store, case_id, results)
    except GcmsError:
        authors = set()
    authors |= {user for sig, user in signers if sig.meaning == "authored"}
    for sig, user in signers:
        if sig.meaning in ("reviewed", "approved"):
            problem = authorship_problem(user, authors, f"exhibit {exhibit_id} of case "
                                         f"{case_id}", f"sign its report as {sig.meaning}")
            if problem:
                findings.append(f"signature {sig.field}: {problem}")
    return findings, checked


def _recorded_report_findings(data: bytes, report: dict[str, Any],
                              store) -> tuple[list[str], list[str]]:
    """Whether the store recorded this very file as a report, and its status now."""
    import hashlib

    from gcms.custody.reports import report_by_file

    digest = hashlib.sha256(data).hexdigest()
    try:
        recorded = report_by_file(store, report.get("case_id"), digest)
    except GcmsError as error:
        return [f"case store: {error}"], []
    if recorded is None:
        return [f"the case store does not record this file (SHA-256 {digest}) as a report "
                f"of case {report.get('case_id')}: not issued from it, or changed"], []
    if recorded.status == "superseded":
        return [f"report {recorded.report_id} was superseded by report "
                f"{recorded.superseded_by}: it no longer stands"], []
    if recorded.status == "draft":
        unmet = f" (the lab policy still needs: {', '.join(recorded.unmet)})" \
            if recorded.unmet else ""
        return [f"report {recorded.report_id} is recorded as a DRAFT{unmet}: it was not "
                "issued"], []
    if recorded.file_sha256 != digest:
        return [f"report {recorded.report_id}: a later file of it is recorded (SHA-256 "
                f"{recorded.file_sha256}); this is an earlier copy"], []
    return [], [f"report {recorded.report_id}: recorded in the case store as "
                f"{recorded.status} (analysis {recorded.analysis_id or '—'}, chain head "
                f"#{recorded.chain_head_seq})"]


#: What a verification without a case store cannot tell (``ReportVerification.unchecked``).
NO_STORE_IDENTITY = ("signer identity: no case store (--store) was given, so whose keys made "
                     "the signatures is not known; the names printed in the PDF are the "
                     "signer's own claim")
NO_STORE_CHAIN = ("case store chain: not checked (no --store): the audit log, the records "
                  "and signatures of the case, and whether this report was issued")
NO_REHASH = "evidence files: not re-hashed (--no-rehash)"


def verify_report(path: str | os.PathLike, *, store=None,
                  results: str | os.PathLike | None = None,
                  rehash: bool = True,
                  ca_certificate: str | os.PathLike | None = None) -> ReportVerification:
    """Verify a report PDF (see the module docstring); never raises on a failed check.

    What could not be checked (no store: the signers' identity and the chain; no
    ``rehash``: the evidence bytes) is listed in ``unchecked``: ``ok`` with anything
    unchecked is not a verified report. ``ca_certificate``: the lab CA whose analyst
    certificates name their user.

    Raises
    ------
    GcmsError
        The file cannot be read or is not a PDF.
    """
    data = read_pdf(path)
    signatures = pdf_signatures(data, source=str(path))
    findings = _signature_findings(signatures)
    checked = [f"signature {s.field}: {s.printed_name or s.signer}, {s.meaning}, "
               f"{s.signed_at}, {'holds' if s.holds else 'FAILS'}, covers {s.coverage}"
               for s in signatures]
    unchecked = []
    report = embedded_report(data, source=str(path))
    if report is None:
        findings.append("the PDF carries no embedded report.json: not a gcms report, or "
                        "stripped")
        return ReportVerification(str(path), None, tuple(signatures), tuple(checked),
                                  tuple(findings))
    if store is not None:
        more, ok = _store_signature_findings(signatures, report, store, ca_certificate)
        findings += more
        checked += ok
        more, ok = _recorded_report_findings(data, report, store)
        findings += more
        checked += ok
        more, ok = _evidence_findings_store(report, store)
        findings += more
        checked += ok
        try:
            state = store.verify(case_id=report.get("case_id"), rehash=False)
        except GcmsError as error:
            findings.append(f"case store: {error}")
        else:
            findings += [f"case store: {f}" for f in state.findings]
            if state.ok:
                checked.append(f"case store {store.location}: chain verified for case "
                               f"{report.get('case_id')} (head #{state.head_seq})")
    else:
        if ca_certificate is not None:
            from gcms.report.sign import certificate_identity

            for sig in signatures:
                if sig.algorithm == "ed25519":
                    continue
                user, name, problem = certificate_identity(sig.certificate_der,
                                                           ca_certificate)
                if problem:
                    findings.append(f"signature {sig.field}: its certificate is {problem}")
                else:
                    checked.append(f"signature {sig.field}: certificate issued by the lab CA "
                                   f"to {user} ({name})")
        if not signatures or any(s.algorithm == "ed25519" or ca_certificate is None
                                 for s in signatures):
            unchecked.append(NO_STORE_IDENTITY)
        unchecked.append(NO_STORE_CHAIN)
    if results is not None:
        from gcms.report.adapters import load_results

        more, ok = _evidence_findings_results(report, load_results(results))
        findings += more
        checked += ok
    if rehash:
        more, ok, unreached = _rehash_findings(report)
        findings += more
        checked += ok
        unchecked += unreached
    else:
        unchecked.append(NO_REHASH)
    return ReportVerification(str(path), report.get("report_id"), tuple(signatures),
                              tuple(checked), tuple(findings), tuple(unchecked))
