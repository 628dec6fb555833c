"""Library governance in the case store: every change a signed entry, approved by another.

A lab's library (in-house entries, a vendor release, SWGDRUG's) is versioned in the
store under a library id of the lab's choosing. Each change (``library.add``,
``library.correct``, ``library.retire``, ``library.merge``) is one audit entry, written
through the store's single append path and proven with the key of the user who made it
(:mod:`gcms.custody.rules`); it records the library's identity before and after
(:func:`gcms.library.store.identity_sha256`), the version it makes, and what changed
(:mod:`gcms.library.governance` makes the change). A ``library.approve`` entry by another
user (reviewer, qa or admin role), also proven with their key, approves one version: ISO/IEC
17025:2017 §6.4.13 and §7.11.3 (reference data and software kept under control, changes
authorised), SWGDRUG Recommendations (2019) Part IV B (reference material and library
records). Nothing is deleted: a retired entry stays in the library, flagged.

Verification replays these entries (:func:`replay_library_entry`, called by
:mod:`gcms.custody.verify`): versions follow one another, each change starts from the
identity the previous one left, an approval names a version that exists with its
identity and comes from someone other than its author; an altered entry breaks its proof.

An analysis records the identity of the library it used, so a result made before a
correction still names the version it was made with (:meth:`LibrariesMixin.library_version_of`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import sqlalchemy as sa

from gcms.custody._ledger import StoreCore
from gcms.custody.keys import SigningKey
from gcms.custody.schema import audit_log
from gcms.errors import CustodyError

__all__ = ["CHANGES", "NO_LIBRARY", "RULE_LIBRARY_APPROVAL", "RULE_LIBRARY_CHAIN",
           "LibrariesMixin", "LibraryVersionUsed", "add_governed_entry", "governed_version",
           "replay_library_entry"]

#: Changes to a library, each an action ``library.<change>``.
CHANGES = ("add", "correct", "retire", "merge")

#: Roles of which an approver needs one.
APPROVER_ROLES = ("reviewer", "qa", "admin")

RULE_LIBRARY_APPROVAL = "a library change is approved by a user other than its author"
RULE_LIBRARY_CHAIN = "each library version starts from the identity the previous one left"

#: The identity a library's history starts from when its first change creates the file.
NO_LIBRARY = "0" * 64

_VERSION_FIELDS = ("library_id", "version", "change", "identity_sha256",
                   "previous_identity_sha256", "title", "details")


def _check_library_id(library_id: str) -> str:
    from gcms.custody.records import check_id

    return check_id(library_id, "library id")


class LibrariesMixin(StoreCore):
    """Versions of the lab's libraries: signed changes and approvals (part of ``CaseStore``)."""

    def _library_entries(self, conn: sa.Connection, library_id: str | None
                         ) -> list[tuple[int, dict[str, Any]]]:
        query = sa.select(audit_log.c.seq, audit_log.c.content).where(
            audit_log.c.object_type == "library")
        if library_id is not None:
            query = query.where(audit_log.c.object_id == library_id)
        return [(row.seq, json.loads(row.content))
                for row in conn.execute(query.order_by(audit_log.c.seq))]

    def record_library_change(self, library_id: str, change: str, *,
                              previous_identity: str, identity: str, details: Mapping[str, Any],
                              reason: str, key: SigningKey | None,
                              title: str | None = None) -> dict[str, Any]:
        """Append the signed entry of one change to library ``library_id``; its version.

        ``previous_identity`` is the identity of the library the change was made to: it
        must be the identity of the current version (the first change starts the history
        from whatever it is). ``identity`` is the identity of the new library.
        """
        if change not in CHANGES:
            raise CustodyError(f"library change {change!r} is not one of {', '.join(CHANGES)}")
        if not reason or not reason.strip():
            raise CustodyError(f"library {library_id}: a change needs a reason")
        library_id = _check_library_id(library_id)
        with self._writing() as w:
            history = [(s, c) for s, c in self._library_entries(w.conn, library_id)
                       if c["action"] != "library.approve"]
            last_seq, last = history[-1] if history else (None, None)
            if last is not None and last["after"]["identity_sha256"] != previous_identity:
                raise CustodyError(
                    f"library {library_id}: the change was made to a library with identity "
                    f"{previous_identity[:16]}..., but version {last['after']['version']} is "
                    f"{last['after']['identity_sha256'][:16]}... (rule: {RULE_LIBRARY_CHAIN})")
            after = {"library_id": library_id,
                     "version": 1 if last is None else last["after"]["version"] + 1,
                     "change": change, "identity_sha256": identity,
                     "previous_identity_sha256": previous_identity, "title": title,
                     "details": dict(details)}
            w.append(f"library.{change}", object_type="library", object_id=library_id,
                     case_id=None, before=None if last is None else last["after"],
                     after=after, supersedes=last_seq, reason=reason.strip(), signer=key)
        return after

    def approve_library_change(self, library_id: str, version: int, *,
                               key: SigningKey | None, reason: str | None = None
                               ) -> dict[str, Any]:
        """Approve version ``version`` of ``library_id`` (another user than its author)."""
        with self._writing() as w:
            entries = self._library_entries(w.conn, library_id)
            found = next(((s, c) for s, c in entries if c["action"] != "library.approve"
                          and c["after"]["version"] == version), None)
            if found is None:
                raise CustodyError(f"library {library_id}: no version {version} in the store "
                                   f"{self.location}")
            seq, content = found
            if content["actor"] == self.actor:
                raise CustodyError(f"refused: library {library_id} v{version} was changed by "
                                   f"{self.actor}, who cannot also approve it "
                                   f"(rule: {RULE_LIBRARY_APPROVAL})")
            if any(c["action"] == "library.approve" and c["after"]["approves"] == seq
                   and c["actor"] == self.actor for _, c in entries):
                raise CustodyError(f"library {library_id} v{version}: already approved by "
                                   f"{self.actor}")
            after = {"library_id": library_id, "version": version, "approves": seq,
                     "identity_sha256": content["after"]["identity_sha256"]}
            w.append("library.approve", object_type="library", object_id=library_id,
                     case_id=None, before=None, after=after, reason=reason, signer=key)
        return after

    def library_log(self, library_id: str | None = None) -> list[dict[str, Any]]:
        """Every library entry (or those of ``library_id``): seq, action, actor, at, after."""
        with self._transaction(write=False) as conn:
            entries = self._library_entries(conn, library_id)
        return [{"seq": seq, "action": c["action"], "actor": c["actor"], "at": c["at"],
                 "reason": c["reason"], **c["after"]} for seq, c in entries]

    def library_versions(self, library_id: str) -> list[dict[str, Any]]:
        """The versions of ``library_id``, each with who approved it (``approved_by``)."""
        versions: dict[int, dict[str, Any]] = {}
        for item in self.library_log(library_id):
            if item["action"] == "library.approve":
                by_seq = next(v for v in versions.values() if v["seq"] == item["approves"])
                by_seq["approved_by"].append(item["actor"])
            else:
                versions[item["version"]] = {**item, "approved_by": []}
        return list(versions.values())

    def library_version_of(self, identity_sha256: str) -> dict[str, Any] | None:
        """Which library and version has this identity (as an analysis records it)."""
        for item in self.library_log():
            if item["action"] != "library.approve" and item["identity_sha256"] == identity_sha256:
                return {"library_id": item["library_id"], "version": item["version"]}
        for item in self.library_log():  # the identity a first change started from
            if item["action"] != "library.approve" and item["version"] == 1 and \
                    item["previous_identity_sha256"] == identity_sha256:
                return {"library_id": item["library_id"], "version": 0}
        return None


    def library_version_used(self, case_id: str, analysis_id: str) -> dict[str, Any] | None:
        """The library version an analysis used, and the library's current version.

        Read from the identity the analysis recorded (``parameters["library"]``, as
        ``gcms batch --store`` records it), so a result made before a correction keeps
        naming the version it was made with. None when the analysis records no library
        identity or the identity is not one of a governed library.
        """
        analysis = next((a for a in self._read("analysis", case_id)
                         if a.analysis_id == analysis_id), None)
        if analysis is None:
            raise CustodyError(f"analysis {analysis_id!r} of case {case_id}: not in the store "
                               f"{self.location}")
        identity = ((analysis.parameters or {}).get("library") or {}).get("identity_sha256")
        return governed_version(self, identity)


def governed_version(store: LibrariesMixin, identity_sha256: str | None
                     ) -> dict[str, Any] | None:
    """The governed version of the library with this identity, as results record it.

    ``{"library_id", "version", "title", "identity_sha256", "approved_by",
    "current_version"}``; None when no governed library has this identity. Version 0
    is the library as it was before its first recorded change.
    """
    found = store.library_version_of(identity_sha256) if identity_sha256 else None
    if found is None:
        return None
    versions = store.library_versions(found["library_id"])
    entry = next((v for v in versions if v["version"] == found["version"]), None)
    title = next((v["title"] for v in reversed(versions) if v.get("title")), None)
    return {"library_id": found["library_id"], "version": found["version"],
            "title": title, "identity_sha256": identity_sha256,
            "approved_by": list(entry["approved_by"]) if entry else [],
            "current_version": versions[-1]["version"] if versions else 0}


@dataclass(frozen=True)
class LibraryVersionUsed:
    """Batch step: name in ``results.json`` the governed version of the library searched.

    Stage ``"after-judgement"`` (:class:`gcms.batch.BatchStep`): looks up the library's
    identity among the governed libraries of the case store at ``location`` and adds
    the sequence-level section ``library_version`` (:func:`governed_version`), which
    reports name beside the library's hash. Nothing is added for a library the store
    does not govern; a store that cannot be read is a batch failure naming it.
    """

    location: str

    name: ClassVar[str] = "library-version"
    stage: ClassVar[str] = "after-judgement"

    def __call__(self, context: Any) -> None:
        """Add ``context.sections["library_version"]`` (see :class:`gcms.batch.BatchContext`)."""
        from gcms.custody.store import CaseStore
        from gcms.errors import GcmsError

        try:
            with CaseStore(self.location, create=False) as store:
                found = governed_version(store, context.library.identity_sha256)
        except GcmsError as error:
            context.fail(f"case store {self.location}: the library's governed version "
                         f"cannot be read: {error}")
            return
        if found is not None:
            context.sections["library_version"] = found


def add_governed_entry(store: LibrariesMixin, library_path: str | os.PathLike, entry: Any, *,
                       key: SigningKey | None, library_id: str | None = None,
                       reason: str | None = None, title: str = "in-house library"
                       ) -> tuple[Any, dict[str, Any]]:
    """Append an in-house entry (``gcms library add``) as a signed ``library.add`` change.

    ``entry``: :class:`gcms.quantitation.inhouse.InHouseEntry`. The new library is made
    beside ``library_path`` and the change recorded in ``store`` before the file is
    replaced, so a change the store refuses (no key, another user's key, a file that is
    not the library's current version) leaves the file as it was. A library the change
    creates starts its history from :data:`NO_LIBRARY`. ``library_id`` defaults to the
    file's stem. Returns the new library and the version recorded.
    """
    from gcms.errors import LibraryError
    from gcms.library import Library
    from gcms.quantitation.inhouse import add_to_library

    path = Path(library_path)
    if not path.parent.is_dir():
        raise LibraryError(f"{path}: folder {path.parent} does not exist")
    library_id = library_id or path.stem
    before = Library.open(path).identity_sha256 if path.exists() else NO_LIBRARY
    record = entry.provenance
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".gcms-add-") as folder:
        staged = Path(folder) / path.name
        if path.exists():
            shutil.copyfile(path, staged)
        library = add_to_library(staged, entry, title=title)
        spectrum = entry.spectrum
        details = {"added": [{"entry": len(library) - 1, "name": spectrum.name,
                              "inchikey": spectrum.inchikey, "cas": spectrum.cas,
                              "source_run": record.get("source_run"),
                              "sha256": record.get("sha256"), "rt_s": record.get("rt_s")}]}
        version = store.record_library_change(
            library_id, "add", previous_identity=before, identity=library.identity_sha256,
            details=details, key=key, title=library.title or None,
            reason=reason or f"in-house entry {spectrum.name!r} from the reference-standard "
                             f"run {record.get('source_run')}")
        os.replace(staged, path)
    return Library.open(path), version


def replay_library_entry(replay: Any, link: Any, content: Mapping[str, Any]) -> None:
    """Check one ``library.*`` entry during verification; findings go to ``replay``.

    ``replay`` is :class:`gcms.custody.verify.Replay` (its ``libraries`` holds, per
    library id, the versions so far: ``[seq, after, actor, approvers]``).
    """
    subject = f"entry #{link.seq}"
    after, action = content["after"], content["action"]
    library_id = content["object_id"]
    if content["case_id"] is not None or link.case_tag is not None:
        replay._fail("entry", subject, "a library entry that names a case")
        return
    if not isinstance(after, Mapping) or after.get("library_id") != library_id:
        replay._fail("entry", subject, f"{action}: its after-image is not one of library "
                     f"{library_id!r}")
        return
    if not replay._check_people(link, content, None):
        return
    history = replay.libraries.setdefault(library_id, [])
    what = f"library {library_id}"
    if action == "library.approve":
        version = next((v for v in history if v[1].get("version") == after.get("version")),
                       None)
        if version is None or after.get("approves") != version[0] or \
                after.get("identity_sha256") != version[1].get("identity_sha256"):
            replay._fail("entry", subject, f"approves {what} v{after.get('version')}, which "
                         "is not a version in the store with that entry and identity")
            return
        if content["actor"] == version[2]:
            replay._fail("user", subject, f"{what} v{after.get('version')} approved by "
                         f"{content['actor']}, who made the change "
                         f"(rule: {RULE_LIBRARY_APPROVAL})")
            return
        version[3].add(content["actor"])
        return
    missing = [k for k in _VERSION_FIELDS if k not in after]
    if missing or f"library.{after.get('change')}" != action:
        replay._fail("entry", subject, f"{action}: after-image lacks "
                     f"{', '.join(missing) or 'the change it names'}")
        return
    last = history[-1] if history else None
    expected = 1 if last is None else last[1]["version"] + 1
    if after["version"] != expected:
        replay._fail("entry", subject, f"{what}: version {after['version']} where "
                     f"{expected} comes next")
    elif last is not None and (content["supersedes"] != last[0]
                               or content["before"] != last[1]):
        replay._fail("entry", subject, f"{what} v{expected}: its before-image or supersedes "
                     f"is not version {last[1]['version']} as entry #{last[0]} left it")
    elif last is not None and after["previous_identity_sha256"] != \
            last[1]["identity_sha256"]:
        replay._fail("entry", subject, f"{what} v{expected} starts from identity "
                     f"{str(after['previous_identity_sha256'])[:16]}..., not the one "
                     f"v{last[1]['version']} left (rule: {RULE_LIBRARY_CHAIN})")
    history.append([link.seq, dict(after), content["actor"], set()])
