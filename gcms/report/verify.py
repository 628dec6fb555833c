"""Verifying a report PDF: its signatures, and its evidence hashes against the source.

:func:`verify_report` checks, and names every problem it finds:

1. the PDF carries its facts (``report.json``, embedded when it was rendered);
2. it is signed, every signature is intact and cryptographically valid, and the last
   one covers the whole file (nothing was appended after it); earlier signatures are
   followed only by further signatures;
3. with a case store: every signing key is an analyst key registered in the store,
   and every evidence file of the report is a run of the case with the same SHA-256
   (file by file inside folders); the store's own chain verifies for the case;
4. with a batch ``results.json``: every evidence file of the report has the digest the
   batch recorded for that run;
5. with ``rehash``: every evidence file still on disk hashes to the digest printed.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcms.errors import GcmsError
from gcms.report.sign import PdfSignature, pdf_signatures, read_pdf

__all__ = ["ReportVerification", "embedded_report", "verify_report"]


@dataclass(frozen=True, slots=True)
class ReportVerification:
    """The outcome of :func:`verify_report`: what was checked and what failed."""

    path: str
    report_id: str | None
    signatures: tuple[PdfSignature, ...]
    checked: tuple[str, ...]
    findings: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "report_id": self.report_id, "ok": self.ok,
                "signatures": [s.to_dict() for s in self.signatures],
                "checked": list(self.checked), "findings": list(self.findings)}


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
                               results: dict[str, Any]) -> tuple[list[str], list[str]]:
    from gcms.report.adapters import record_field, run_records

    findings, checked = [], []
    records = run_records(results)
    by_id = {str(r.get("sample_id")): r for r in records}
    for item in report.get("evidence", []):
        record = by_id.get(item["label"])
        if record is None:
            findings.append(f"evidence {item['label']}: no run with this sample id in "
                            "results.json")
            continue
        recorded = record_field(record, "sha256")
        digests = {item["sha256"], *(f[1] for f in item.get("files", []))}
        if recorded not in digests:
            findings.append(f"evidence {item['label']}: results.json records SHA-256 "
                            f"{recorded}, the report {item['sha256']}")
        else:
            checked.append(f"evidence {item['label']}: SHA-256 matches results.json")
    return findings, checked


def _rehash_findings(report: dict[str, Any]) -> tuple[list[str], list[str]]:
    from gcms.custody import hash_evidence

    findings, checked = [], []
    for item in report.get("evidence", []):
        path = Path(item["path"])
        if not path.exists():
            checked.append(f"evidence {item['label']}: {path} not on this machine, not "
                           "re-hashed")
            continue
        digest = hash_evidence(path)
        ok = digest.sha256 == item["sha256"] or (
            not digest.is_directory and digest.sha256 in {f[1] for f in item.get("files", [])})
        if ok:
            checked.append(f"evidence {item['label']}: {path} re-hashed, unchanged")
        else:
            findings.append(f"evidence {item['label']}: {path} now hashes to "
                            f"{digest.sha256}, the report says {item['sha256']}")
    return findings, checked


def verify_report(path: str | os.PathLike, *, store=None,
                  results: str | os.PathLike | None = None,
                  rehash: bool = False) -> ReportVerification:
    """Verify a report PDF (see the module docstring); never raises on a failed check.

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
    report = embedded_report(data, source=str(path))
    if report is None:
        findings.append("the PDF carries no embedded report.json: not a gcms report, or "
                        "stripped")
        return ReportVerification(str(path), None, tuple(signatures), tuple(checked),
                                  tuple(findings))
    if store is not None:
        registered = {k.key_fingerprint: k for k in store.keys()}
        for sig in signatures:
            key = registered.get(sig.key_fingerprint or "")
            if key is None:
                findings.append(f"signature {sig.field}: its key is not an analyst key "
                                f"registered in {store.location}")
            else:
                checked.append(f"signature {sig.field}: key registered to {key.user} "
                               f"({key.printed_name}), {key.status}")
        more, ok = _evidence_findings_store(report, store)
        findings += more
        checked += ok
        try:
            state = store.verify(case_id=report.get("case_id"), rehash=rehash)
        except GcmsError as error:
            findings.append(f"case store: {error}")
        else:
            findings += [f"case store: {f}" for f in state.findings]
            checked.append(f"case store {store.location}: chain verified for case "
                           f"{report.get('case_id')}")
    if results is not None:
        try:
            loaded = json.loads(Path(results).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise GcmsError(f"{results}: cannot read results ({error})") from None
        more, ok = _evidence_findings_results(report, loaded)
        findings += more
        checked += ok
    if rehash and store is None:
        more, ok = _rehash_findings(report)
        findings += more
        checked += ok
    return ReportVerification(str(path), report.get("report_id"), tuple(signatures),
                              tuple(checked), tuple(findings))
