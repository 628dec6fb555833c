"""Technical reviews, signatures on results and signed checkpoints (part of ``CaseStore``)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from gcms.custody._ledger import StoreCore, _Writer
from gcms.custody.canonical import utc_iso, utc_now
from gcms.custody.keys import ALGORITHM, SigningKey
from gcms.custody.records import (
    MEANINGS,
    REVIEW_OUTCOMES,
    Result,
    Review,
    Signature,
    record_sha256,
    signature_payload,
)
from gcms.custody.rules import NOT_AUTHORSHIP, authorship_problem, key_problem
from gcms.custody.schema import audit_log
from gcms.errors import CustodyError


def _check_version(result: Any, expected: int | None, what: str) -> None:
    """Refuse ``what`` when ``result`` is no longer at the ``expected`` version."""
    if expected is not None and result.version != expected:
        raise CustodyError(f"{what} of case {result.case_id}: it is at version "
                           f"{result.version}, not {expected}: someone changed it "
                           "meanwhile; look again")


class SigningMixin(StoreCore):
    """Technical reviews, signatures on results and checkpoints of the chain head."""

    def review_result(self, case_id: str, result_id: str, *, outcome: str,
                      comments: str | None = None, key: SigningKey | None = None,
                      expected_version: int | None = None) -> Review:
        """Record the acting user's technical review of a result's current version.

        The reviewer must hold the reviewer role, prove the entry with their own key
        (``key``, unlocked) and not be who recorded or authored the result.
        ``expected_version``, when given, is the version the reviewer was shown: a result
        changed since is refused, so a review never names a version nobody looked at.
        """
        if outcome not in REVIEW_OUTCOMES:
            raise CustodyError(f"review of {result_id}: outcome {outcome!r} is not one of "
                               f"{', '.join(REVIEW_OUTCOMES)}")
        with self._writing() as w:
            return self._review_in(w, case_id, result_id, outcome=outcome,
                                   comments=comments, key=key,
                                   expected_version=expected_version)

    def _review_in(self, w: _Writer, case_id: str, result_id: str, *, outcome: str,
                   comments: str | None, key: SigningKey | None,
                   expected_version: int | None) -> Review:
        """:meth:`review_result` within the write transaction ``w``."""
        result, _ = self._require(w.conn, "result", case_id, result_id)
        _check_version(result, expected_version, f"review of result {result_id}")
        problem = authorship_problem(self.actor, self._authors(w.conn, result),
                                     f"result {result_id} of case {case_id}",
                                     "review it")
        if problem:
            raise CustodyError(f"refused: {problem}")
        review = Review(case_id=case_id, review_id=w.next_id(Review, case_id),
                        result_id=result_id, result_version=result.version,
                        reviewer=self.actor, outcome=outcome, comments=comments)
        w.put("review.record", review, signer=key)
        return review

    def _authors(self, conn: sa.Connection, result: Result) -> set[str]:
        creators = conn.execute(sa.select(audit_log.c.actor).where(
            audit_log.c.case_id == result.case_id, audit_log.c.object_type == "result",
            audit_log.c.object_id == result.result_id,
            audit_log.c.action.notin_(sorted(NOT_AUTHORSHIP)))).scalars()
        signers = {s.signer for s in self._records(conn, "signature", result.case_id,
                                                   result_id=result.result_id)
                   if s.meaning == "authored"}
        return set(creators) | signers

    def sign_result(self, case_id: str, result_id: str, key: SigningKey, *,
                    meaning: str, expected_version: int | None = None) -> Signature:
        """Sign a result's current version and the chain head with an unlocked key.

        The key must be registered to the acting user and active. Made inside the write
        lock, so the chain head signed is the entry just before the signature's own. A
        review or approval signature cannot come from the result's author.
        ``expected_version``, when given, refuses a result changed since it was shown.
        """
        if meaning not in MEANINGS:
            raise CustodyError(f"signature meaning {meaning!r} is not one of "
                               f"{', '.join(MEANINGS)}")
        with self._writing() as w:
            return self._sign_in(w, case_id, result_id, key, meaning=meaning,
                                 expected_version=expected_version)

    def _sign_in(self, w: _Writer, case_id: str, result_id: str, key: SigningKey, *,
                 meaning: str, expected_version: int | None) -> Signature:
        """:meth:`sign_result` within the write transaction ``w``."""
        result, _ = self._require(w.conn, "result", case_id, result_id)
        _check_version(result, expected_version, f"signature on result {result_id}")
        found = self._current(w.conn, "analyst_key", None, key.fingerprint)
        registered = found[0] if found else None
        problem = key_problem(self.actor, key.fingerprint, registered)
        if problem:
            raise CustodyError(f"{self.location}: refused: {problem}")
        earlier = [s for s in self._records(w.conn, "signature", case_id,
                                            result_id=result_id)
                   if s.result_version == result.version]
        if any(s.signer == self.actor and s.meaning == meaning for s in earlier):
            raise CustodyError(f"result {result_id} v{result.version}: already signed "
                               f"as {meaning} by {self.actor}")
        if meaning != "authored":
            problem = authorship_problem(self.actor, self._authors(w.conn, result),
                                         f"result {result_id} of case {case_id}",
                                         f"sign it as {meaning}")
            if problem:
                raise CustodyError(f"refused: {problem}")
        fields = {
            "case_id": case_id, "result_id": result_id, "result_version": result.version,
            "result_sha256": record_sha256(result), "chain_head_seq": w.seq,
            "chain_head_sha256": w.head, "signer": registered.user,
            "printed_name": registered.printed_name, "meaning": meaning,
            "signed_at": utc_iso(utc_now()), "key_fingerprint": key.fingerprint,
            "algorithm": ALGORITHM,
        }
        signature = Signature(signature_id=w.next_id(Signature, case_id),
                              signature=key.sign(signature_payload(**fields)), **fields)
        w.put("signature.sign", signature)
        return signature

    def checkpoint(self, key: SigningKey) -> dict[str, Any]:
        """Sign the chain head with an admin's key: a ``checkpoint.sign`` entry.

        Returns the checkpoint as a lab keeps it outside the store (``gcms custody
        checkpoint -o FILE``): the head it covers, the checkpoint entry's own seq and hash,
        who signed, the key and the proof. ``gcms custody verify --head-file`` checks the
        store still holds both.
        """
        with self._writing() as w:
            covered = {"seq": w.seq, "entry_sha256": w.head}
            seq = w.append("checkpoint.sign", object_type="checkpoint",
                           object_id=f"{w.seq + 1}", case_id=None, before=None,
                           after=covered, signer=key)
            row = w.conn.execute(sa.select(audit_log.c.entry_sha256, audit_log.c.content)
                                 .where(audit_log.c.seq == seq)).one()
        content = json.loads(row.content)
        return {"format": "gcms-checkpoint/1", "store": self.location,
                "covers": covered, "head": {"seq": seq, "entry_sha256": row.entry_sha256},
                "signed_by": self.actor, "at": content["at"], "proof": content["proof"]}
