"""Chain of custody: case store, evidence hashing, tamper-evident audit log, signatures.

* :class:`CaseStore` (:mod:`~gcms.custody.store`): cases, exhibits as received, custody
  transfers, runs (evidence hashed read-only), analyses, results, technical reviews and
  signatures, in SQLite (a folder) or PostgreSQL (a URL), every change an audit entry.
* :mod:`~gcms.custody.canonical`: the canonical JSON and the chain rule hashed.
* :mod:`~gcms.custody.evidence`: hashing files and ``.D`` folders, file by file.
* :mod:`~gcms.custody.keys`: Ed25519 analyst keys, passphrase-protected.
* :mod:`~gcms.custody.verify`: the verification shared by stores and bundles;
  :mod:`~gcms.custody.bundle`: export of one case and its verification offline.

Design follows 21 CFR Part 11 (§11.10(e) audit trail that never obscures earlier values,
§11.50 signature manifestations, §11.70 signature/record linking) and ISO/IEC 17025
§7.5 and §7.11 (technical records, data integrity).
"""

from gcms.custody.bundle import load_bundle, verify_bundle
from gcms.custody.canonical import canonical_json, entry_sha256, sha256_of
from gcms.custody.evidence import EvidenceDigest, EvidenceFile, hash_evidence
from gcms.custody.keys import SigningKey, load_signing_key, new_key_pair
from gcms.custody.records import (
    Analysis,
    AnalystKey,
    Case,
    CustodyTransfer,
    Exhibit,
    Result,
    Review,
    RunRecord,
    Signature,
    record_sha256,
)
from gcms.custody.store import AuditEntry, CaseStore, default_actor
from gcms.custody.verify import Finding, VerificationReport

__all__ = [
    "Analysis",
    "AnalystKey",
    "AuditEntry",
    "Case",
    "CaseStore",
    "CustodyTransfer",
    "EvidenceDigest",
    "EvidenceFile",
    "Exhibit",
    "Finding",
    "Result",
    "Review",
    "RunRecord",
    "Signature",
    "SigningKey",
    "VerificationReport",
    "canonical_json",
    "default_actor",
    "entry_sha256",
    "hash_evidence",
    "load_bundle",
    "load_signing_key",
    "new_key_pair",
    "record_sha256",
    "sha256_of",
    "verify_bundle",
]
