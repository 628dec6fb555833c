"""Custody bundles: one case's audit trail as a self-contained JSON file.

A bundle (``gcms custody export``) holds:

``links``
    Every entry of the store's chain from #1 to the head at export, each with ``seq``,
    ``prev_sha256``, ``content_sha256``, ``entry_sha256`` and ``case_tag``; ``content``
    (the exact canonical text that was hashed) for the case's entries and the store's
    own (initialisation, key registrations), ``null`` for other cases' entries, which are
    thus proved present without being disclosed. A withheld entry's ``case_tag`` (hashed
    into its ``entry_sha256``) differs from the case's own, which proves it belongs to
    another case; tags are random, so they do not say which.
``head``
    The chain head at export.
``evidence``, ``signatures``, ``public_keys``
    Convenience copies for a reader: every run with its per-file SHA-256, every
    signature with printed name, time and meaning, every registered key. They are
    derived from the entries, and verification checks that they still are.

:func:`verify_bundle` runs the very checks the store runs on its own log
(:func:`gcms.custody.verify.verify_chain`), with no database. A verifier without gcms
needs only SHA-256, a JSON parser and Ed25519: hash each ``content`` string's UTF-8
bytes; recompute each ``entry_sha256`` from ``{"case_tag", "content_sha256",
"prev_sha256", "seq"}`` written as canonical JSON; check each ``prev_sha256`` against
the entry before; check that withheld entries carry another tag than the case's; and
check each signature over its payload: the signature record's fields but
``signature``, ``signature_id`` and ``version``, plus ``"format": 1`` and
``"purpose": "gcms result signature"``, as canonical JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gcms.custody.canonical import utc_iso, utc_now
from gcms.custody.verify import (
    Anchor,
    Finding,
    Link,
    Replay,
    VerificationReport,
    check_evidence,
    verify_chain,
)
from gcms.errors import CustodyError

__all__ = ["BUNDLE_FORMAT", "build_bundle", "load_bundle", "verify_bundle"]

#: The ``format`` tag of a bundle; a later layout changes the number.
BUNDLE_FORMAT = "gcms-custody-bundle/1"

_LINK_FIELDS = ("seq", "prev_sha256", "content_sha256", "entry_sha256", "case_tag",
                "content")


def _derived(replay: Replay) -> dict[str, list[dict[str, Any]]]:
    return {
        "evidence": [
            {"run_id": r.run_id, "exhibit_id": r.exhibit_id, "kind": r.kind, "path": r.path,
             "sha256": r.sha256, "size_bytes": r.size_bytes,
             "files": [f.to_dict() for f in r.files]}
            for r in replay.records("run")
        ],
        "signatures": [s.to_dict() for s in replay.records("signature")],
        "public_keys": [k.to_dict() for k in replay.records("analyst_key")],
    }


def build_bundle(*, case_id: str, links: Sequence[Link], head_seq: int, head_sha256: str,
                 exported_by: str, source: str) -> dict[str, Any]:
    """Assemble a bundle from the store's links (content already redacted to the case)."""
    import gcms

    replay = Replay(scope=case_id)
    verify_chain(links, head_seq=head_seq, head_sha256=head_sha256, replay=replay)
    if replay.findings:
        raise CustodyError(f"case {case_id}: cannot bundle ({replay.findings[0]})")
    return {
        "format": BUNDLE_FORMAT,
        "case_id": case_id,
        "store_id": replay.store_id,
        "source": source,
        "exported_at": utc_iso(utc_now()),
        "exported_by": exported_by,
        "software": f"gcms {gcms.__version__}",
        "head": {"seq": head_seq, "entry_sha256": head_sha256},
        **_derived(replay),
        "links": [{name: getattr(link, name) for name in _LINK_FIELDS} for link in links],
    }


def load_bundle(path: str | os.PathLike) -> dict[str, Any]:
    """Read a bundle file; ``CustodyError`` naming the file when it is not one."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            bundle = json.loads(handle.read().decode("utf-8"))
    except OSError as error:
        raise CustodyError(f"{path}: cannot read ({error.strerror})") from error
    except (UnicodeDecodeError, ValueError) as error:
        raise CustodyError(f"{path}: not a JSON file ({error})") from error
    if not isinstance(bundle, dict) or bundle.get("format") != BUNDLE_FORMAT:
        raise CustodyError(f"{path}: not a gcms custody bundle ({BUNDLE_FORMAT})")
    return bundle


def _links(bundle: Mapping[str, Any], where: str) -> list[Link]:
    links = []
    for i, item in enumerate(bundle.get("links") or []):
        if not isinstance(item, Mapping) or set(item) != set(_LINK_FIELDS):
            raise CustodyError(f"{where}: link {i} does not have the fields {_LINK_FIELDS}")
        if not isinstance(item["seq"], int) or not all(
            isinstance(item[k], str) for k in _LINK_FIELDS[1:4]
        ) or not all(item[k] is None or isinstance(item[k], str)
                     for k in ("case_tag", "content")):
            raise CustodyError(f"{where}: link {i} has fields of the wrong type")
        links.append(Link(**{name: item[name] for name in _LINK_FIELDS}))
    return links


def verify_bundle(bundle: Mapping[str, Any] | str | os.PathLike, *,
                  rehash: bool = False, expect: Sequence[Anchor] = (),
                  trust: frozenset[str] | None = None) -> VerificationReport:
    """Verify a bundle without the store.

    Checks the chain, the history, the people and the signatures of its case, and that
    its convenience sections are what the entries say. ``rehash`` also re-hashes the
    evidence at the paths recorded (where the files are reachable from this machine).
    ``expect`` and ``trust``: chain heads taken elsewhere (an issued report, an earlier
    bundle, a checkpoint) that the bundle must still hold, and the lab's pinned admin
    keys, as for :meth:`gcms.custody.store.CaseStore.verify`.
    """
    where = "bundle"
    if not isinstance(bundle, Mapping):
        where = str(bundle)
        bundle = load_bundle(bundle)
    head = bundle.get("head") or {}
    case_id = bundle.get("case_id")
    if not isinstance(case_id, str) or not isinstance(head.get("seq"), int) or not (
        isinstance(head.get("entry_sha256"), str)
    ):
        raise CustodyError(f"{where}: no case_id or head")
    replay = Replay(scope=case_id, anchors=tuple(expect), trusted=trust)
    entries = verify_chain(_links(bundle, where), head_seq=head["seq"],
                           head_sha256=head["entry_sha256"], replay=replay)
    if replay.current("case", case_id, case_id) is None and not replay.findings:
        replay.findings.append(Finding("bundle", f"case {case_id}",
                                       "the bundle holds no entry opening this case"))
    for section, derived in _derived(replay).items():
        if bundle.get(section) != derived:
            replay.findings.append(Finding("bundle", f"section {section}", "differs from "
                                           "what the bundle's entries record"))
    files = 0
    if rehash:
        files, problems = check_evidence(replay.records("run"))
        replay.findings.extend(problems)
    return VerificationReport(
        source=where, case_id=case_id, entries=entries, head_seq=head["seq"],
        head_sha256=head["entry_sha256"], records=0, files=files,
        signatures=replay.signatures_verified, findings=tuple(replay.findings),
        proofs=replay.proofs_verified, anchors=tuple(str(a) for a in expect),
        trust_pinned=trust is not None, checkpoints=len(replay.checkpoints),
    )
