"""Who may do what in a case store, and how an audit entry proves who made it.

One set of rules, applied twice: by the store before it writes an entry
(:class:`~gcms.custody.store.CaseStore`) and by verification when it replays the log
(:mod:`gcms.custody.verify`), so that an entry written around the store (plain SQL, a
rewritten chain) is judged by the same rules as one written through it.

**Users and roles.** Every entry but the store's initialisation names an enrolled,
active user (a ``user`` record). Roles (:data:`ROLES`) decide what a user may do
(:func:`required_roles`):

* ``admin``: add users, change their roles and printed names, disable them; register and
  revoke keys; sign checkpoints of the chain;
* ``reviewer``: technical reviews, signatures meaning *reviewed*;
* ``analyst``: signatures meaning *authored*;
* ``qa`` or ``admin``: signatures meaning *approved*;
* any enrolled user: cases, exhibits, custody transfers, runs, analyses, results.

The first admin is made with the store (entry #2, ``user.add`` by the user it adds,
the one entry that needs no enrolled actor); after that only an admin adds users.

**Proof of the actor.** Entries that a person answers for with their key
(:func:`needs_proof`: user and key management, checkpoints, reviews, corrections) carry
a ``proof``: an Ed25519 signature by a key registered to the entry's actor, active when
the entry was written, over :func:`proof_message` (the entry's position in the chain,
the hash of the entry before it, and its whole content). A signature of a result
(``signature.sign``) is itself such a proof. 21 CFR 11.10(g) (authority checks), 11.50
and 11.70 (signature manifestation and linking), 11.200(a) (two identification
components: the key file and its passphrase); ISO/IEC 17025 §6.2.6 (authorisation of
personnel) and §7.8.1.2 (review and authorisation of results).

**Decisions and passwords** (review workstation, :mod:`gcms.custody.decisions`,
:mod:`gcms.custody.credentials`). A verdict decision (``result.decide``: accept, reject
or override a component's verdict) is made by a reviewer who did not author the result,
or by an author of it; a reviewer's decision is part of the technical review, named in
the result and the report, and does not make the reviewer an author
(:func:`counts_as_authorship`). A re-integration (``result.reintegrate``) changes a
measured value: whoever makes it is an author of the result. Both need a reason and the
decider's key. A sign-in password (``credential.set``/``credential.change``) is set by
its user or reset by an admin (:func:`credential_problem`), proven with their key.

**Separation of duties.** Who recorded a result or signed it as *authored* cannot review
it nor sign it as *reviewed* or *approved* (:func:`authorship_problem`); a key signs
only as the user it is registered to, and a revoked key signs nothing
(:func:`key_problem`). Every refusal names the rule it applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gcms.custody.canonical import canonical_json

__all__ = [
    "ADMIN_ACTIONS",
    "ROLES",
    "RULE_ADMIN",
    "RULE_AUTHOR",
    "RULE_CREDENTIAL",
    "RULE_DECIDER",
    "RULE_ENROLLED",
    "RULE_KEY_OWNER",
    "RULE_KEY_REVOKED",
    "RULE_PROOF",
    "actor_problem",
    "authorship_problem",
    "counts_as_authorship",
    "credential_problem",
    "decision_problem",
    "key_problem",
    "needs_proof",
    "proof_message",
    "required_roles",
]

#: Roles a user may hold.
ROLES: tuple[str, ...] = ("analyst", "reviewer", "qa", "admin")

#: Actions only an admin may take.
ADMIN_ACTIONS = frozenset({
    "user.add", "user.roles", "user.name", "user.disable", "user.enable",
    "analyst_key.register", "analyst_key.revoke", "checkpoint.sign",
})

#: The rules, as refusals and findings name them.
RULE_ENROLLED = "every change to the store names an enrolled, active user"
RULE_ADMIN = "only an admin adds users and registers or revokes keys"
RULE_ROLE = "a user acts only within their roles"
RULE_PROOF = "the actor proves the entry with their own registered key"
RULE_KEY_OWNER = "a key signs only as the user it is registered to"
RULE_KEY_REVOKED = "a revoked key signs nothing"
RULE_AUTHOR = "the author of a result cannot review or approve it"

RULE_DECIDER = ("a verdict is decided by a reviewer who did not author the result, or by "
                "its author, with a reason")
RULE_CREDENTIAL = "a password is set by its user or reset by an admin"

#: Actions on a result that do not make their actor an author of it: a reviewer's
#: verdict decision is part of the review (it is named as such in the result).
NOT_AUTHORSHIP = frozenset({"result.decide"})

#: Actions of the review workstation that a person proves with their key.
_PROVEN = frozenset({"result.decide", "result.reintegrate", "credential.set",
                     "credential.change"})

_SIGNATURE_ROLES = {"authored": ("analyst",), "reviewed": ("reviewer",),
                    "approved": ("qa", "admin")}


def required_roles(action: str, after: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Roles of which the actor needs one for ``action`` (empty: any enrolled user)."""
    if action in ADMIN_ACTIONS:
        return ("admin",)
    if action == "review.record":
        return ("reviewer",)
    if action == "signature.sign":
        return _SIGNATURE_ROLES.get((after or {}).get("meaning"), ())
    if action in ("result.decide", "result.reintegrate"):
        return ("analyst", "reviewer")
    if action == "library.approve":  # gcms.custody.libraries
        return ("reviewer", "qa", "admin")
    return ()


def needs_proof(action: str) -> bool:
    """Whether an entry of ``action`` must carry a proof by its actor's key."""
    return (action in ADMIN_ACTIONS or action == "review.record" or action.endswith(".correct")
            or action in _PROVEN or action.startswith("library.")
            or action == "profiling.calibrate")  # a linkage threshold (gcms.custody.profiles)


def counts_as_authorship(action: str) -> bool:
    """Whether an entry of ``action`` on a result makes its actor an author of it."""
    return action not in NOT_AUTHORSHIP


def actor_problem(actor: str, user: Any | None, action: str,
                  after: Mapping[str, Any] | None) -> str | None:
    """Why ``actor`` (a ``User`` record or None) may not take ``action``; None if it may."""
    if user is None:
        return (f"{actor} is not an enrolled user of the store (rule: {RULE_ENROLLED}); "
                "an admin enrols users with 'gcms user add'")
    if user.status != "active":
        return f"user {actor} is disabled (rule: {RULE_ENROLLED})"
    needed = required_roles(action, after)
    if needed and not set(needed) & set(user.roles):
        rule = RULE_ADMIN if needed == ("admin",) else RULE_ROLE
        return (f"{actor} (roles: {', '.join(user.roles) or 'none'}) may not {action}: it "
                f"needs the role {' or '.join(needed)} (rule: {rule})")
    return None


def key_problem(actor: str, fingerprint: str, key: Any | None) -> str | None:
    """Why the key ``fingerprint`` (an ``AnalystKey`` or None) cannot sign as ``actor``."""
    short = f"key {fingerprint[:16]}..."
    if key is None:
        return f"{short} is not registered in the store (rule: {RULE_PROOF})"
    if key.status != "active":
        return f"{short} of {key.user} is revoked (rule: {RULE_KEY_REVOKED})"
    if key.user != actor:
        return (f"{short} is registered to {key.user}, not to {actor} "
                f"(rule: {RULE_KEY_OWNER})")
    return None


def authorship_problem(actor: str, authors: Iterable[str], what: str,
                       doing: str) -> str | None:
    """Why ``actor`` may not ``doing`` (review, sign as reviewed...) what ``authors`` wrote."""
    if actor in set(authors):
        return (f"{what}: {actor} recorded or authored it and cannot also {doing} "
                f"(rule: {RULE_AUTHOR})")
    return None


def decision_problem(actor: str, user: Any, authors: Iterable[str], what: str) -> str | None:
    """Why ``actor`` (a ``User``) may not decide a verdict of ``what``; None if they may.

    An author of the result may (their own result); anyone else must hold the reviewer
    role. Role and enrolment are checked by :func:`actor_problem` as for every entry.
    """
    if actor in set(authors) or "reviewer" in getattr(user, "roles", ()):
        return None
    return (f"{what}: {actor} neither authored it nor holds the reviewer role "
            f"(rule: {RULE_DECIDER})")


def credential_problem(actor: str, user: Any, user_id: str) -> str | None:
    """Why ``actor`` (a ``User`` record) may not set the password of ``user_id``."""
    if actor == user_id or "admin" in getattr(user, "roles", ()):
        return None
    return (f"{actor} may not set the password of {user_id}: only {user_id} or an admin "
            f"(rule: {RULE_CREDENTIAL})")


def proof_message(seq: int, prev_sha256: str, content: Mapping[str, Any]) -> bytes:
    """The bytes an entry's proof signs: its place in the chain and its content.

    ``content`` is the entry's content without ``proof``. Canonical JSON, tagged with
    its purpose so that no other gcms signature can be replayed as a proof.
    """
    body = {k: v for k, v in content.items() if k != "proof"}
    return canonical_json({"purpose": "gcms audit entry", "format": 1, "seq": seq,
                           "prev_sha256": prev_sha256, "content": body}).encode("utf-8")
