"""Issuing a report: evidence verified first, signers named by the store, every report recorded.

:func:`make_report` is what ``gcms report make`` does, usable from Python:

1. **The source is checked before anything is rendered.** From a case store: the audit
   chain, every record and signature of the case, and the evidence bytes of every run
   that can be reached (:func:`gcms.custody.reports.check_evidence_for_report`); any
   break raises :class:`~gcms.errors.TamperError` naming it, and no file is written. From
   a ``results.json``: the file's SHA-256 must be one the store recorded for the batch
   (:func:`~gcms.custody.reports.recorded_results_file`), else the report is refused,
   unless asked for as an unrecorded draft (``draft=True``). A results file given without
   any store cannot be checked at all: it makes a DRAFT, never an issued report.
2. **One analysis.** An exhibit analysed more than once needs the analysis named
   (:func:`~gcms.custody.reports.choose_analysis`).
3. **Who signs is the store's to say.** A gcms key signs only as the user it is
   registered to, with the printed name the store holds; the acting user must be that
   user; an author of the results cannot sign as *reviewed* or *approved*
   (:mod:`gcms.custody.rules`). A lab-CA certificate names its user in the certificate.
4. **Issued or DRAFT.** The lab policy's requirements (``[policy] require``) not yet met,
   ``draft=True``, or an unrecorded results file make a DRAFT: watermarked on every page
   and recorded as such. An amendment names the report it supersedes, which is marked
   superseded (ISO/IEC 17025:2017 §7.8.8).
5. **Recorded.** With a store, the report (id, SHA-256 of the file, analysis, languages,
   signers, chain head, status) is an audit entry (:func:`~gcms.custody.reports.record_report`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gcms.errors import CustodyError, GcmsError, TamperError

__all__ = ["DRAFT_MARK", "MadeReport", "Signing", "make_report", "resolve_signer"]

#: The watermark of a report that is not issued.
DRAFT_MARK = "DRAFT"


@dataclass(frozen=True)
class Signing:
    """Signing material: an unlocked gcms key, or a PKCS#12 file and its passphrase."""

    meaning: str = "authored"
    key: Any = None
    pkcs12: str | None = None
    pkcs12_passphrase: str | None = None
    printed_name: str | None = None  # a claim, checked against the store or certificate
    user: str | None = None


@dataclass(frozen=True)
class Signer:
    """Who a signature is made as, resolved against the store or the certificate."""

    printed_name: str
    user: str | None
    meaning: str
    kind: str  # "gcms key" or "x509"
    fingerprint: str | None
    identified: bool  # the store or the lab CA names this user

    def to_dict(self) -> dict[str, Any]:
        """The form kept in the report record."""
        return {"user": self.user, "printed_name": self.printed_name,
                "meaning": self.meaning, "kind": self.kind, "fingerprint": self.fingerprint,
                "identified": self.identified}


@dataclass(frozen=True)
class MadeReport:
    """What :func:`make_report` made: the bytes to write and what was recorded."""

    data: bytes
    model: Any
    status: str
    unmet: tuple[str, ...]
    record: Any = None
    check: Any = None
    notes: tuple[str, ...] = field(default=())


def _certificate_of(pkcs12: str, passphrase: str | None) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.hazmat.primitives.serialization import pkcs12 as p12

    try:
        loaded = p12.load_key_and_certificates(Path(pkcs12).read_bytes(),
                                               passphrase.encode() if passphrase else None)
    except (OSError, ValueError) as error:
        raise GcmsError(f"{pkcs12}: cannot load the PKCS#12 file ({error})") from None
    if loaded[1] is None:
        raise GcmsError(f"{pkcs12}: holds no certificate")
    return loaded[1].public_bytes(Encoding.DER)


def resolve_signer(signing: Signing, *, store=None, case_id: str | None = None,
                   exhibit_id: str | None = None, ca_certificate: str | None = None) -> Signer:
    """Whom ``signing`` signs as; refuses what the duty rules forbid (names the rule).

    With a store, a gcms key must be registered, active, and the acting user's; its
    printed name is the store's (a different ``printed_name`` is refused); a *reviewed*
    or *approved* signature must not come from an author of the exhibit's results.
    Without a store the printed name is the signer's own claim (``identified`` False).
    """
    from gcms.custody.rules import RULE_KEY_OWNER, authorship_problem, key_problem

    if signing.key is not None:
        fingerprint = signing.key.fingerprint
        if store is None:
            if not signing.printed_name:
                raise GcmsError("signing without a case store: give the printed name "
                                "(--signer); it is the signer's claim, unchecked")
            return Signer(signing.printed_name, signing.user, signing.meaning, "gcms key",
                          fingerprint, False)
        key = next((k for k in store.keys() if k.key_fingerprint == fingerprint), None)
        problem = key_problem(store.actor, fingerprint, key)
        if problem:
            raise CustodyError(f"signing the report: {problem}")
        if signing.printed_name and signing.printed_name != key.printed_name:
            raise CustodyError(f"signing the report: the key of {key.user} signs as "
                               f"{key.printed_name!r}, not {signing.printed_name!r} "
                               f"(rule: {RULE_KEY_OWNER})")
        signer = Signer(key.printed_name, key.user, signing.meaning, "gcms key", fingerprint,
                        True)
    else:
        from gcms.report.sign import certificate_identity

        der = _certificate_of(signing.pkcs12, signing.pkcs12_passphrase)
        digest = hashlib.sha256(der).hexdigest()
        user, name, problem = (certificate_identity(der, ca_certificate)
                               if ca_certificate else (None, None, "no lab CA given"))
        if problem and store is not None and ca_certificate:
            raise CustodyError(f"signing the report: the certificate in {signing.pkcs12} "
                               f"is {problem}")
        if name is None:
            from cryptography import x509
            from cryptography.x509.oid import NameOID

            subject = x509.load_der_x509_certificate(der).subject
            found = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            name = str(found[0].value) if found else signing.printed_name
            uid = subject.get_attributes_for_oid(NameOID.USER_ID)
            user = str(uid[0].value) if uid else signing.user
        if signing.printed_name and signing.printed_name != name:
            raise GcmsError(f"signing the report: the certificate in {signing.pkcs12} is "
                            f"{name!r}'s, not {signing.printed_name!r} (rule: {RULE_KEY_OWNER})")
        identified = problem is None
        if identified and store is not None and not any(
                u.user_id == user and u.status == "active" for u in store.users()):
            raise CustodyError(f"signing the report: the certificate names {user!r}, who is "
                               "not an enrolled, active user of the store")
        if identified and store is not None and user != store.actor:
            raise CustodyError(f"signing the report: the certificate is {user}'s, not the "
                               f"acting user {store.actor}'s (rule: {RULE_KEY_OWNER})")
        signer = Signer(name or "?", user, signing.meaning, "x509", digest, identified)
    if store is not None and signer.user and case_id and signing.meaning != "authored":
        from gcms.custody.reports import exhibit_authors

        results = [r.result_id for r in store.results(case_id, exhibit_id)]
        problem = authorship_problem(signer.user, exhibit_authors(store, case_id, results),
                                     f"exhibit {exhibit_id} of case {case_id}",
                                     f"sign its report as {signing.meaning}")
        if problem:
            raise CustodyError(f"signing the report: {problem}")
    return signer


def _sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise GcmsError(f"{path}: cannot read ({error.strerror or error})") from None
    return digest.hexdigest()


def make_report(exhibit_id: str, *, fmt: str = "pdf", results: str | os.PathLike | None = None,
                store=None, case_id: str | None = None, analysis_id: str | None = None,
                profile=None, languages: str | None = None, translations: str | None = None,
                library: str | None = None, report_id: str | None = None,
                draft: bool = False, rehash: bool | None = None,
                supersedes: str | None = None, reason: str | None = None,
                signing: Signing | None = None, review_copy: bool = False,
                withheld_check: Callable[[Any], None] | None = None) -> MadeReport:
    """Make (and, with a store, record) the report of one exhibit; see the module notes.

    ``fmt`` is pdf, json or csv; ``profile`` a :class:`~gcms.report.lab.LabProfile`;
    ``rehash`` as in :func:`~gcms.custody.reports.check_evidence_for_report`;
    ``review_copy``: an exhibit the batch withheld, made as a DRAFT for review;
    ``withheld_check`` is called with the model before anything is rendered or recorded.
    Nothing is written to disk: the caller writes ``MadeReport.data``, after the record.

    Raises
    ------
    TamperError
        The store does not verify, or a results file is not the one it recorded.
    CustodyError
        A choice left open (several analyses), a signature the rules forbid, a report
        already issued.
    """
    from gcms.custody import reports as control
    from gcms.report.adapters import _find_case, from_results, from_store
    from gcms.report.jsonout import report_csv, report_json_bytes
    from gcms.report.lab import LabProfile
    from gcms.report.model import SignatureLine

    if results is None and store is None:
        raise GcmsError("a report needs a results file or a case store")
    profile = profile or LabProfile(laboratory=None)
    if supersedes is not None and store is None:
        raise GcmsError("a report supersedes another only in the case store that "
                        "recorded it (--store)")
    options = {"laboratory": profile.laboratory, "library": library, "report_id": report_id}
    notes: list[str] = []
    check, results_sha, recorded = None, None, None
    unrecorded = False
    if results is not None:
        results_sha = _sha256_file(results)
        if store is not None:
            recorded = control.recorded_results_file(store, results_sha)
        if recorded is None:
            # With a store, a results file it did not record is refused (edited, or from
            # elsewhere). Without one there is nothing to check it against: the report can
            # only be a DRAFT, and says so on every page.
            if store is not None and not draft:
                raise TamperError(
                    f"{results}: SHA-256 {results_sha} is not one the case store "
                    f"{store.location} recorded: a report is made from the results a batch "
                    "recorded (gcms report --store S), or as an unrecorded DRAFT (--draft)")
            if store is None:
                notes.append("results file not checked against a case store: made as a "
                             "DRAFT (give --store S to issue a report)")
            unrecorded = True
        else:
            if case_id is not None and case_id != recorded.case_id:
                raise GcmsError(f"{results}: recorded in case {recorded.case_id}, not "
                                f"{case_id}")
            case_id, analysis_id = recorded.case_id, analysis_id or recorded.analysis_id
            if analysis_id != recorded.analysis_id:
                raise GcmsError(f"{results}: the results of analysis "
                                f"{recorded.analysis_id}, not {analysis_id}")
        model = from_results(results, exhibit_id, **options)
        if store is not None and case_id is None and model.case_id in {
                c.case_id for c in store.cases()}:
            case_id = model.case_id
    else:
        case_id = case_id or _find_case(store, exhibit_id)
    if store is not None and case_id is not None:
        check = control.check_evidence_for_report(store, case_id, rehash=rehash)
        if check.not_reachable:
            notes.append(f"{len(check.not_reachable)} evidence file(s) not reachable from "
                         "here, not re-hashed")
    if results is None:
        analysis_id = control.choose_analysis(store, case_id, exhibit_id, analysis_id)
        model = from_store(store, exhibit_id, case_id=case_id, analysis_id=analysis_id,
                           **options)
    if supersedes is not None:
        if not (reason and reason.strip()):
            raise GcmsError(f"superseding report {supersedes}: give the reason (--reason)")
        model = model.replace(deviations=(
            f"This report supersedes report {supersedes}: {reason}", *model.deviations))
        if report_id is None:  # the default id is a digest of the facts, now amended
            from gcms.report.adapters import _report_id

            facts = {k: v for k, v in model.to_dict().items()
                     if k not in ("report_id", "issued_at")}
            model = model.replace(report_id=_report_id(model.case_id, exhibit_id, facts))
    if withheld_check is not None:
        withheld_check(model)
    signer = None
    if signing is not None:
        if fmt != "pdf":
            raise GcmsError("only a PDF report is signed")
        signer = resolve_signer(signing, store=store, case_id=case_id, exhibit_id=exhibit_id,
                                ca_certificate=profile.ca_certificate)
    recordable = store is not None and case_id is not None
    unmet: list[str] = []
    if recordable and profile.requirements:
        unmet = control.unmet_requirements(
            store, case_id, exhibit_id, analysis_id, profile.requirements,
            report_signers=[signer.to_dict()] if signer and signer.identified else [])
    elif profile.requirements:
        unmet = list(profile.requirements)
    status = "draft" if (draft or unrecorded or unmet or review_copy) else "issued"
    if fmt == "json":
        data = report_json_bytes(model)
    elif fmt == "csv":
        data = report_csv(model).encode("utf-8")
    else:
        from gcms.report.pdf import render_pdf
        from gcms.report.sign import sign_pdf

        if signer is not None:
            now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            model = model.replace(signatures=(*model.signatures, SignatureLine(
                signer.printed_name, signer.meaning, now, "pdf", signer.user,
                signer.fingerprint if signer.kind == "gcms key" else None, "this PDF")))
        data = render_pdf(model, languages=languages or ",".join(profile.languages),
                          translations=translations or profile.translations,
                          watermark=DRAFT_MARK if status == "draft" else None)
        if signing is not None:
            material = ({"key": signing.key} if signing.key is not None else
                        {"pkcs12": signing.pkcs12,
                         "pkcs12_passphrase": signing.pkcs12_passphrase})
            data = sign_pdf(data, printed_name=signer.printed_name, meaning=signer.meaning,
                            user=signer.user, organisation=profile.laboratory.name
                            if profile.path else None, **material)
    record = None
    if recordable:
        # the head the report states (the store's, read with the case file), else the
        # head verified just before it was made
        head = model.chain_head or (check.head_seq, check.head_sha256)
        record = control.record_report(
            store, case_id=case_id, exhibit_id=exhibit_id, report_id=model.report_id,
            status=status, file_sha256=hashlib.sha256(data).hexdigest(), file_format=fmt,
            languages=languages or ",".join(profile.languages), chain_head=tuple(head),
            analysis_id=analysis_id, signers=[signer.to_dict()] if signer else [],
            requirements=profile.requirements, unmet=unmet,
            source="results file" if results is not None else "case store",
            results_sha256=results_sha, supersedes=supersedes, reason=reason)
    return MadeReport(data, model, status, tuple(unmet), record, check, tuple(notes))
