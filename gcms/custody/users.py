"""Users, their roles and their registered keys (part of ``CaseStore``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from gcms.custody._ledger import StoreCore, _identifier
from gcms.custody.canonical import normalise
from gcms.custody.keys import SigningKey, fingerprint, load_public_key
from gcms.custody.records import AnalystKey, User, record_from_dict
from gcms.custody.rules import RULE_KEY_OWNER, actor_problem
from gcms.errors import CustodyError


def _enrolled_printed_name(location: Any, user: str, found: Any,
                           printed_name: str | None) -> str | None:
    """The store's printed name of enrolled ``user`` (``found``: its current record).

    Refuses a user who is not enrolled, and a ``printed_name`` other than the store's
    (a key signs only under the name the store holds for its user).
    """
    if found is None:
        raise CustodyError(f"{location}: refused: {user} is not an enrolled user of the "
                           "store ('gcms user add' by an admin first)")
    stored = found[0].printed_name
    if stored and printed_name and stored != printed_name:
        raise CustodyError(
            f"refused: the printed name of {user} is {stored!r} in the store, not "
            f"{printed_name!r} (rule: the printed name comes from the store)")
    return stored


def _printed_name_text(user_id: str, printed_name: str | None) -> str:
    if printed_name is None or not printed_name.strip():
        raise CustodyError(f"user {user_id}: the printed name is empty")
    return printed_name.strip()


class UsersMixin(StoreCore):
    """Enrolling users, changing their roles and status, registering and revoking keys."""

    def add_user(self, user_id: str, *, roles: Sequence[str], printed_name: str | None = None,
                 key: SigningKey | None = None, reason: str | None = None) -> User:
        """Enrol a user with ``roles`` (by an admin, proven with the admin's ``key``)."""
        user = User(user_id=_identifier(user_id, "user_id", "user"),
                    roles=tuple(roles), printed_name=printed_name)
        record_from_dict("user", user.to_dict())
        with self._writing() as w:
            if self._current(w.conn, "user", None, user.user_id) is not None:
                raise CustodyError(f"user {user.user_id}: already enrolled in {self.location}")
            w.put("user.add", user, signer=key, reason=reason)
        return user

    def _change_user(self, user_id: str, action: str, key: SigningKey | None, reason: str,
                     **changes: Any) -> User:
        with self._writing() as w:
            return self._change_user_in(w, user_id, action, key, reason, **changes)

    def _change_user_in(self, w: Any, user_id: str, action: str, key: SigningKey | None,
                        reason: str, **changes: Any) -> User:
        if not reason or not reason.strip():
            raise CustodyError(f"user {user_id}: a change of a user needs a reason")
        current, seq = self._require(w.conn, "user", None, user_id)
        updated = record_from_dict("user", {**current.to_dict(), **normalise(changes),
                                            "version": current.version + 1})
        if updated.to_dict() == {**current.to_dict(), "version": updated.version}:
            raise CustodyError(f"user {user_id}: the change changes nothing")
        if action == "user.disable" or (action == "user.roles"
                                        and "admin" not in updated.roles):
            self._keep_an_admin(w.conn, user_id)
        w.put(action, updated, before=current, supersedes=seq, reason=reason, signer=key)
        return updated

    def _keep_an_admin(self, conn: sa.Connection, leaving: str) -> None:
        admins = [u for u in self._records(conn, "user") if "admin" in u.roles
                  and u.status == "active" and u.user_id != leaving]
        if not admins:
            raise CustodyError(f"refused: {leaving} is the store's last active admin")

    def set_roles(self, user_id: str, roles: Sequence[str], *, reason: str,
                  key: SigningKey | None = None) -> User:
        """Change a user's roles (by an admin, proven with ``key``)."""
        return self._change_user(user_id, "user.roles", key, reason, roles=list(roles))

    def disable_user(self, user_id: str, *, reason: str,
                     key: SigningKey | None = None) -> User:
        """Disable a user (by an admin): they can change nothing after this entry."""
        return self._change_user(user_id, "user.disable", key, reason, status="disabled")

    def enable_user(self, user_id: str, *, reason: str,
                    key: SigningKey | None = None) -> User:
        """Enable a disabled user again (by an admin)."""
        return self._change_user(user_id, "user.enable", key, reason, status="active")

    def set_printed_name(self, user_id: str, printed_name: str, *, reason: str,
                         key: SigningKey | None = None) -> User:
        """Set the printed name of ``user_id`` (by an admin, proven with ``key``).

        The name signatures and decisions show (21 CFR 11.50(a)(1)); keys registered
        before keep the name they were registered with, so their signatures stay valid.
        """
        name = _printed_name_text(user_id, printed_name)
        return self._change_user(user_id, "user.name", key, reason, printed_name=name)

    def user(self, user_id: str) -> User:
        """The current record of one user."""
        with self._transaction(write=False) as conn:
            return self._require(conn, "user", None, user_id)[0]

    def users(self) -> list[User]:
        """Enrolled users (current versions), in the order enrolled."""
        return self._read("user")

    def register_key(self, public_key: bytes | str | os.PathLike | SigningKey, *, user: str,
                     printed_name: str | None = None,
                     key: SigningKey | None = None) -> AnalystKey:
        """Register a user's public key (raw 32 bytes, a ``.pub`` PEM file, or the key).

        Only an admin registers keys, proving the entry with their own key (``key``); an
        admin registering their own first key proves it with that key (pass the unlocked
        :class:`~gcms.custody.keys.SigningKey` as ``public_key``). ``user`` must be
        enrolled; the printed name is the user's (``gcms user add --name``): one given
        here must be the same, or fills it for a user enrolled without one (a
        ``user.name`` entry after the key's, proven by the same key).
        """
        signer = key
        if isinstance(public_key, SigningKey):
            raw, signer = public_key.public_raw, key or public_key
        elif isinstance(public_key, bytes):
            raw = public_key
        else:
            raw = load_public_key(public_key)
        if len(raw) != 32:
            raise CustodyError("an Ed25519 public key has 32 bytes")
        user = _identifier(user, "user_id", "user")
        import base64

        with self._writing() as w:
            stored_name = _enrolled_printed_name(
                self.location, user, self._current(w.conn, "user", None, user), printed_name)
            earlier = [k.printed_name for k in self._records(w.conn, "analyst_key")
                       if k.user == user]
            if not stored_name and earlier and printed_name and printed_name != earlier[-1]:
                raise CustodyError(
                    f"refused: {user}'s keys print {earlier[-1]!r}, not {printed_name!r} "
                    "(rule: the printed name comes from the store)")
            name = stored_name or printed_name or (earlier[-1] if earlier else None)
            if not name or not name.strip():
                raise CustodyError(f"key of {user}: the printed name is required "
                                   "(21 CFR 11.50); give it with 'gcms user add --name'")
            record = AnalystKey(key_fingerprint=fingerprint(raw), user=user,
                                printed_name=name,
                                public_key=base64.b64encode(raw).decode("ascii"))
            if self._current(w.conn, "analyst_key", None, record.key_fingerprint) is not None:
                raise CustodyError(f"key {record.key_fingerprint[:16]}...: already registered")
            if signer is not None and signer.fingerprint == record.key_fingerprint and (
                user != self.actor
            ):
                raise CustodyError(f"refused: a key registered for {user} cannot prove its "
                                   f"own registration by {self.actor} (rule: {RULE_KEY_OWNER})")
            w.put("analyst_key.register", record, signer=signer)
            if not stored_name and printed_name:
                # the name belongs to the user record: fill it there too, as its own entry
                # (after the key's, so that an admin's first key can prove it)
                self._change_user_in(w, user, "user.name", signer,
                                     f"printed name given with key {record.key_fingerprint[:16]}"
                                     "...", printed_name=name)
        return record

    def revoke_key(self, key_fingerprint: str, *, reason: str,
                   key: SigningKey | None = None) -> AnalystKey:
        """Revoke a key (by an admin, proven with ``key``): it signs nothing after this."""
        if not reason or not reason.strip():
            raise CustodyError("revoking a key needs a reason")
        with self._writing() as w:
            current, seq = self._require(w.conn, "analyst_key", None, key_fingerprint)
            if current.status == "revoked":
                raise CustodyError(f"key {key_fingerprint[:16]}...: already revoked")
            updated = current.replace(status="revoked", version=current.version + 1)
            w.put("analyst_key.revoke", updated, before=current, supersedes=seq,
                  reason=reason, signer=key)
        return updated

    def check_may_register(self, user: str, printed_name: str | None = None) -> None:
        """Refuse early what :meth:`register_key` would refuse for the acting user."""
        with self._transaction(write=False) as conn:
            found = self._current(conn, "user", None, self.actor)
            problem = actor_problem(self.actor, found[0] if found else None,
                                    "analyst_key.register", None)
            if problem:
                raise CustodyError(f"{self.location}: refused: {problem}")
            owner = self._current(conn, "user", None, user)
        _enrolled_printed_name(self.location, user, owner, printed_name)

    def admin_keys(self) -> list[tuple[str, str]]:
        """``(fingerprint, user)`` of every active key of an active admin: what to pin."""
        with self._transaction(write=False) as conn:
            admins = {u.user_id for u in self._records(conn, "user")
                      if "admin" in u.roles and u.status == "active"}
            return [(k.key_fingerprint, k.user) for k in self._records(conn, "analyst_key")
                    if k.status == "active" and k.user in admins]
