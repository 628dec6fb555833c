"""Sign-in passwords for the review workstation: Argon2id, set by the user or an admin.

A password only opens a session of ``gcms review``; every signature, decision and
review still needs the user's key and its passphrase (21 CFR 11.200(a)(1): two distinct
identification components). The password is never stored: :func:`set_password` keeps
its Argon2id hash (RFC 9106; argon2-cffi's parameters, salt and parameters inside the
hash string) in the ``password_hashes`` table beside the chain, and writes a
``credential.set`` / ``credential.change`` entry whose record holds the SHA-256 of that
hash (:class:`~gcms.custody.records.Credential`), proven with the key of who set it.
A hash altered or swapped in the table no longer matches the chain and signs no one in.

Who may set a password (:func:`gcms.custody.rules.credential_problem`): the user for
themself, or an admin resetting it (the entry says who and why). Length follows NIST
SP 800-63B §5.1.1.2 (at least 8 characters, no composition rules), and so does the
Unicode normalisation (NFKC) of the password before it is hashed or checked, so a
password typed as composed or decomposed characters (é, or e and a combining accent;
an Arabic letter or its presentation form) is the same password.

:func:`check_password` refuses an unknown user, a wrong password and a disabled user
with one message (no hint which), verifies in constant time (argon2), and re-hashes a
password whose hash has older parameters when the user's key is at hand.

Example::

    with CaseStore(location, actor="bob") as store:
        set_password(store, "bob", "a long passphrase", key=bob_key)
        user = check_password(store, "bob", "a long passphrase")  # a User
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from gcms.custody.records import Credential, User, record_from_dict
from gcms.custody.rules import actor_problem, credential_problem
from gcms.custody.schema import password_hashes
from gcms.errors import CustodyError

if TYPE_CHECKING:  # pragma: no cover
    from gcms.custody.keys import SigningKey
    from gcms.custody.store import CaseStore

__all__ = [
    "ALGORITHM",
    "MAX_PASSWORD_CHARS",
    "MIN_PASSWORD_CHARS",
    "SIGN_IN_REFUSED",
    "check_password",
    "credential_findings",
    "has_password",
    "set_password",
]

#: The password hash the credential records name.
ALGORITHM = "argon2id"
#: NIST SP 800-63B §5.1.1.2: memorized secrets of at least 8 characters.
MIN_PASSWORD_CHARS = 8
#: Longest password accepted (a bound on hashing work, well above any passphrase).
MAX_PASSWORD_CHARS = 1024
# the longest text normalised (NFKC can compose several characters into one)
_MAX_RAW_CHARS = 4 * MAX_PASSWORD_CHARS
#: What every failed sign-in says (unknown user, wrong password, disabled user alike).
SIGN_IN_REFUSED = "sign-in refused: unknown user, wrong password or disabled user"

#: The hasher (argon2-cffi's defaults: RFC 9106 low-memory profile, Argon2id).
HASHER = PasswordHasher()
# one per set of Argon2 parameters, verified against for an unknown user so that a
# refusal takes as long as a wrong password (same parameters, same work)
_DUMMY_HASHES: dict[tuple, str] = {}


def _hash_sha256(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()


def _normal(password: str) -> str:
    """NFKC, as NIST SP 800-63B §5.1.1.2 asks of a memorized secret before hashing."""
    return unicodedata.normalize("NFKC", password)


def _check_password_text(password: str, user_id: str) -> str:
    """``password`` normalised, refused when too short, too long or the user name."""
    if not isinstance(password, str):
        raise CustodyError(f"password of {user_id}: expected text")
    if len(password) > _MAX_RAW_CHARS:
        raise CustodyError(f"password of {user_id}: at most {MAX_PASSWORD_CHARS} characters")
    password = _normal(password)
    if len(password) < MIN_PASSWORD_CHARS:
        raise CustodyError(f"password of {user_id}: at least {MIN_PASSWORD_CHARS} characters "
                           "(NIST SP 800-63B 5.1.1.2)")
    if len(password) > MAX_PASSWORD_CHARS:
        raise CustodyError(f"password of {user_id}: at most {MAX_PASSWORD_CHARS} characters")
    if password.strip().casefold() == user_id.casefold():
        raise CustodyError(f"password of {user_id}: the user name is not a password")
    return password


def set_password(store: CaseStore, user_id: str, password: str, *, actor: str | None = None,
                 key: SigningKey | None = None, reason: str | None = None,
                 hasher: PasswordHasher | None = None) -> Credential:
    """Set the sign-in password of ``user_id``: by the user, or reset by an admin.

    ``actor`` (default: the store's acting user) must be the store's acting user; ``key``
    is their unlocked key, which proves the entry (required). ``reason`` is kept in the
    entry (default: says whether the user set it or an admin reset it). Returns the
    credential record (the chain's commitment, never the hash or the password).
    """
    actor = actor or store.actor
    if actor != store.actor:
        raise CustodyError(f"refused: {actor} is not the store's acting user "
                           f"({store.actor}); open the store as {actor}")
    password = _check_password_text(password, user_id)
    if key is None:
        raise CustodyError(f"{store.location}: refused: setting a password needs "
                           f"{actor}'s private key (rule: the actor proves the entry with "
                           "their own registered key)")
    password_hash = (hasher or HASHER).hash(password)  # outside the lock: it is slow
    with store._writing() as w:
        target = store._current(w.conn, "user", None, user_id)
        if target is None:
            raise CustodyError(f"{store.location}: refused: {user_id} is not an enrolled "
                               "user of the store")
        found = store._current(w.conn, "user", None, actor)
        me = found[0] if found else None
        problem = actor_problem(actor, me, "credential.set", None) or credential_problem(
            actor, me, user_id)
        if problem:
            raise CustodyError(f"{store.location}: refused: {problem}")
        current = store._current(w.conn, "credential", None, user_id)
        version = current[0].version + 1 if current else 1
        record = record_from_dict("credential", {
            "user_id": user_id, "hash_sha256": _hash_sha256(password_hash),
            "algorithm": ALGORITHM, "set_by": actor, "version": version})
        why = reason or (f"password set by {user_id}" if actor == user_id
                         else f"password of {user_id} reset by admin {actor}")
        if current is None:
            seq = w.put("credential.set", record, reason=why, signer=key)
        else:
            seq = w.put("credential.change", record, before=current[0], supersedes=current[1],
                        reason=why, signer=key)
        w.conn.execute(password_hashes.insert().values(
            user_id=user_id, version=version, password_hash=password_hash, entry_seq=seq))
    return record


def credential_findings(conn: sa.Connection, versions: Iterable[Credential]) -> list:
    """What of the ``password_hashes`` table does not match the chain's credentials.

    ``versions``: every credential version the chain records. Each must have its hash
    row, whose SHA-256 is the one the entry committed to; a row of no recorded version
    is one added behind the chain. Used by :meth:`CaseStore.verify`, so a swapped hash
    is found by verification, not only at the next sign-in. Returns the findings.
    """
    from gcms.custody.verify import Finding

    recorded = {(c.user_id, c.version): c for c in versions}
    rows = {(r.user_id, r.version): r.password_hash
            for r in conn.execute(sa.select(password_hashes))}
    findings = []
    for (user_id, version), credential in sorted(recorded.items()):
        subject = f"password hash of {user_id} (version {version})"
        stored = rows.get((user_id, version))
        if stored is None:
            findings.append(Finding("record", subject, "missing from password_hashes"))
        elif _hash_sha256(stored) != credential.hash_sha256:
            findings.append(Finding("record", subject, "is not the one the chain records "
                                    "(altered or swapped in the database)"))
    for user_id, version in sorted(set(rows) - set(recorded)):
        findings.append(Finding("record", f"password hash of {user_id} (version {version})",
                                "in password_hashes, but no entry of the chain records it"))
    return findings


def has_password(store: CaseStore, user_id: str) -> bool:
    """Whether ``user_id`` has a sign-in password."""
    with store._transaction(write=False) as conn:
        return store._current(conn, "credential", None, user_id) is not None


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash with ``hasher``'s parameters, made once per parameters."""
    params = (hasher.time_cost, hasher.memory_cost, hasher.parallelism, hasher.hash_len,
              hasher.salt_len, hasher.type)
    if params not in _DUMMY_HASHES:
        _DUMMY_HASHES[params] = hasher.hash("gcms: no such user")
    return _DUMMY_HASHES[params]


def _dummy_verify(hasher: PasswordHasher, password: str) -> None:
    try:
        hasher.verify(_dummy_hash(hasher), password)
    except (VerificationError, InvalidHashError):
        pass


def check_password(store: CaseStore, user_id: str, password: str, *,
                   key: SigningKey | None = None,
                   hasher: PasswordHasher | None = None) -> User:
    """The enrolled, active user whose password this is; ``CustodyError`` otherwise.

    The hash is read beside the chain and must be the one the chain's current credential
    record commits to (else ``TamperError``). An unknown user, a wrong password and a
    disabled user are refused with one message (:data:`SIGN_IN_REFUSED`). When the hash
    has older Argon2 parameters than ``hasher`` and ``key`` (the user's) is given, the
    password is hashed again and recorded (``credential.change``).
    """
    from gcms.errors import TamperError

    hasher = hasher or HASHER
    if not isinstance(password, str) or not isinstance(user_id, str) or not user_id:
        raise CustodyError(SIGN_IN_REFUSED)
    # made before anything is looked up, so that the first refusal of an unknown user
    # does not take a hash longer than a wrong password (which user names exist stays
    # unknown to who times the sign-in)
    _dummy_hash(hasher)
    # normalised text is bounded; the raw text too, before the work of normalising it
    raw_too_long = len(password) > _MAX_RAW_CHARS
    password = _normal(password[:_MAX_RAW_CHARS])
    with store._transaction(write=False) as conn:
        user = store._current(conn, "user", None, user_id)
        credential = store._current(conn, "credential", None, user_id)
        stored = None
        if credential is not None:
            stored = conn.execute(sa.select(password_hashes.c.password_hash).where(
                password_hashes.c.user_id == user_id,
                password_hashes.c.version == credential[0].version)).scalar()
    if user is None or credential is None or raw_too_long or (
        len(password) > MAX_PASSWORD_CHARS
    ):
        _dummy_verify(hasher, password[:MAX_PASSWORD_CHARS])
        raise CustodyError(SIGN_IN_REFUSED)
    if stored is None or _hash_sha256(stored) != credential[0].hash_sha256:
        raise TamperError(f"{store.location}: the password hash of {user_id} is not the one "
                          "the chain records: sign-in refused; run 'gcms custody verify'")
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise CustodyError(SIGN_IN_REFUSED) from None
    record: User = user[0]
    if record.status != "active":
        raise CustodyError(SIGN_IN_REFUSED)
    if key is not None and hasher.check_needs_rehash(stored) and store.actor == user_id:
        set_password(store, user_id, password, key=key, hasher=hasher,
                     reason="password hashed again with the current Argon2 parameters")
    return record
