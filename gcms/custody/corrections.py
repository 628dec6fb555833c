"""Corrections: a new version of a record superseding the current one (part of ``CaseStore``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gcms.custody._ledger import StoreCore
from gcms.custody.canonical import normalise, parse_utc
from gcms.custody.keys import SigningKey
from gcms.custody.records import RECORD_TYPES, Record, parse_weight, record_from_dict
from gcms.errors import CustodyError

#: Object types whose records can be corrected (a new version); reviews, signatures and
#: analyses are never corrected: a new one is made instead.
CORRECTABLE = ("case", "exhibit", "custody_transfer", "run", "result")

#: Fields a correction may never change.
_IDENTITY = ("case_id", "case_tag", "version")
_RUN_EVIDENCE = ("path", "sha256", "size_bytes", "is_directory", "files")


class CorrectionsMixin(StoreCore):
    """Writing a corrected version of a record, with its reason and before-image."""

    def correct(self, object_type: str, case_id: str, object_id: str, *, reason: str,
                changes: Mapping[str, Any], key: SigningKey | None = None) -> Record:
        """Write a new version of a record with ``changes``, superseding the current one.

        ``key``: the acting user's unlocked key, which proves the entry (required:
        :mod:`gcms.custody.rules`). ``reason`` is required and kept in the entry.
        Identity fields, and a run's evidence digests, cannot change (attach the
        evidence again instead). Weights may be given as ``"10.2 g"``; times are parsed
        as ISO 8601.
        """
        if object_type not in CORRECTABLE:
            raise CustodyError(f"{object_type} records are never corrected: "
                               "record a new one instead")
        if not reason or not reason.strip():
            raise CustodyError(f"{object_type} {object_id!r}: a correction needs a reason")
        cls = RECORD_TYPES[object_type]
        forbidden = set(changes) & {*_IDENTITY, cls.ID_FIELD,
                                    *(_RUN_EVIDENCE if object_type == "run" else ())}
        if forbidden:
            raise CustodyError(f"{object_type} {object_id!r}: {', '.join(sorted(forbidden))} "
                               "cannot be corrected")
        changes = dict(changes)
        for name in ("gross_weight", "net_weight"):
            if object_type == "exhibit" and isinstance(changes.get(name), str) and " " in (
                changes[name].strip()
            ):
                changes[name], changes[f"{name}_unit"] = parse_weight(changes[name], name)
        for name, kind in cls.COLUMNS.items():
            if kind == "time" and isinstance(changes.get(name), str):
                changes[name] = parse_utc(changes[name], name)
        with self._writing() as w:
            current, seq = self._require(w.conn, object_type, case_id, object_id)
            updated = record_from_dict(object_type, {**current.to_dict(), **normalise(
                changes, object_type), "version": current.version + 1})
            if updated.to_dict() == {**current.to_dict(), "version": updated.version}:
                raise CustodyError(f"{object_type} {object_id!r}: the correction changes nothing")
            self._check_references(w.conn, updated)
            w.put(f"{object_type}.correct", updated, before=current, supersedes=seq,
                  reason=reason, signer=key)
        return updated
