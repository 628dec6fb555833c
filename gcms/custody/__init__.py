"""Chain of custody: case store, evidence hashing, tamper-evident audit log, signatures.

* :class:`CaseStore` (:mod:`~gcms.custody.store`): cases, exhibits as received, custody
  transfers, runs (evidence hashed read-only), analyses, results, technical reviews and
  signatures, in SQLite (a folder) or PostgreSQL (a URL), every change an audit entry.
* :mod:`~gcms.custody.canonical`: the canonical JSON and the chain rule hashed.
* :mod:`~gcms.custody.evidence`: hashing files and ``.D`` folders, file by file.
* :mod:`~gcms.custody.keys`: Ed25519 analyst keys, passphrase-protected.
* :mod:`~gcms.custody.rules`: users and roles, entries proven by the actor's key,
  separation of duties; applied when written and when the log is replayed.
* :mod:`~gcms.custody.verify`: the verification shared by stores and bundles, with
  chain heads kept outside the store (:class:`Anchor`, :func:`chain_head`) and the
  lab's pinned admin keys (:func:`load_trust`); :mod:`~gcms.custody.bundle`: export of
  one case and its verification offline; :mod:`~gcms.custody.qa`: instrument QA results
  in the chain.

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
    User,
    record_sha256,
)
from gcms.custody.store import AuditEntry, CaseStore, chain_head, default_actor, init_store
from gcms.custody.verify import (
    Anchor,
    Finding,
    VerificationReport,
    load_anchors,
    load_library_pins,
    load_trust,
    parse_head,
)

__all__ = [
    "Analysis",
    "AnalystKey",
    "Anchor",
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
    "User",
    "VerificationReport",
    "canonical_json",
    "chain_head",
    "default_actor",
    "entry_sha256",
    "hash_evidence",
    "init_store",
    "load_anchors",
    "load_bundle",
    "load_library_pins",
    "load_signing_key",
    "load_trust",
    "new_key_pair",
    "parse_head",
    "record_sha256",
    "sha256_of",
    "verify_bundle",
]
