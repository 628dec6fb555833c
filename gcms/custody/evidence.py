"""Hashing evidence files and folders, read-only, and re-checking them later.

A single file's digest is the SHA-256 of its bytes. A folder (an Agilent ``.D``
acquisition) is hashed file by file: every regular file below it, at any depth, named by
its path relative to the folder with ``/`` separators, in ascending order of the UTF-8
bytes of that path. Its digest is the SHA-256 of the canonical JSON of that list::

    [{"path": "AcqData/MSScan.bin", "sha256": "...", "size_bytes": 1234}, ...]

and the per-file digests are kept, so a later check names the very file that changed,
appeared or went missing. Links inside a folder are refused (their target could change
without the folder changing); an empty folder is refused.

Files are opened ``"rb"`` only; the size and modification time are taken before and after
reading, and a file that changes while it is hashed is refused rather than recorded.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcms.custody.canonical import sha256_of
from gcms.errors import CustodyError

__all__ = [
    "EvidenceDigest",
    "EvidenceFile",
    "compare_evidence",
    "folder_sha256",
    "hash_evidence",
    "manifest_sha256",
]

#: Bytes read per call while hashing: large enough to stream at disk speed, small enough
#: that a multi-gigabyte acquisition never sits in memory.
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class EvidenceFile:
    """One evidence file: its path (relative inside a folder), SHA-256 and size."""

    path: str
    sha256: str
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"path": self.path, "sha256": self.sha256, "size_bytes": self.size_bytes}


@dataclass(frozen=True, slots=True)
class EvidenceDigest:
    """The digest of an evidence file or folder, with the digest of every file in it.

    For a single file ``files`` holds one entry named by the file's own name.
    """

    path: str
    sha256: str
    size_bytes: int
    is_directory: bool
    files: tuple[EvidenceFile, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "path": self.path,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "is_directory": self.is_directory,
            "files": [f.to_dict() for f in self.files],
        }


def _hash_file(path: Path) -> tuple[str, int]:
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        if not stat.S_ISREG(before.st_mode):
            raise CustodyError(f"{path}: not a regular file")
        digest = hashlib.sha256()
        size = 0
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
        after = os.fstat(handle.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or (
        size != after.st_size
    ):
        raise CustodyError(f"{path}: the file changed while it was being hashed")
    return digest.hexdigest(), size


def folder_sha256(files: tuple[EvidenceFile, ...] | list[EvidenceFile]) -> str:
    """Digest of a folder from its per-file digests (see the module docstring)."""
    return sha256_of([f.to_dict() for f in files])


def manifest_sha256(digest: EvidenceDigest) -> str:
    r"""The digest of the same evidence in the line-manifest form batches take.

    A file: its own SHA-256. A folder: SHA-256 of the lines ``"<sha256>  <path>\n"`` of
    every file, sorted by relative path - the form :func:`gcms.batch.cache.input_digest`
    computes, so a batch's digest of a run can be checked against the custody hash
    without reading the files again.
    """
    if not digest.is_directory:
        return digest.sha256
    lines = [f"{f.sha256}  {f.path}\n" for f in sorted(digest.files, key=lambda f: f.path)]
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def _walk(folder: Path) -> list[tuple[str, Path]]:
    found = []
    for root, dirs, names in os.walk(folder, followlinks=False):
        root_path = Path(root)
        for name in dirs + names:
            child = root_path / name
            if child.is_symlink():
                raise CustodyError(
                    f"{child}: a link inside an evidence folder; copy the target in instead"
                )
        for name in names:
            child = root_path / name
            found.append((child.relative_to(folder).as_posix(), child))
    found.sort(key=lambda item: item[0].encode("utf-8"))
    return found


def hash_evidence(path: str | os.PathLike) -> EvidenceDigest:
    """Hash an evidence file or folder read-only (see the module docstring).

    Raises ``CustodyError`` naming the path when it is missing, empty, holds a link, or
    changes while it is read.
    """
    path = Path(path)
    if not path.exists():
        raise CustodyError(f"{path}: no such file or folder")
    resolved = path.resolve()
    if resolved.is_dir():
        entries = _walk(resolved)
        if not entries:
            raise CustodyError(f"{path}: the folder holds no files")
        files = []
        for relative, child in entries:
            sha, size = _hash_file(child)
            files.append(EvidenceFile(relative, sha, size))
        files = tuple(files)
        return EvidenceDigest(
            str(resolved), folder_sha256(files), sum(f.size_bytes for f in files), True, files
        )
    sha, size = _hash_file(resolved)
    return EvidenceDigest(
        str(resolved), sha, size, False, (EvidenceFile(resolved.name, sha, size),)
    )


def compare_evidence(
    recorded: EvidenceDigest, now: EvidenceDigest | None = None
) -> list[tuple[str, str]]:
    """Re-hash ``recorded.path`` and list what differs as ``(file path, problem)`` pairs.

    An empty list means every byte is as recorded. Files are named by their full path;
    within a folder each changed, missing or added file is named. ``now``, when given,
    is a digest already taken (of the same evidence, possibly at another path).
    """
    base = Path(recorded.path if now is None else now.path)
    if now is None:
        if not base.exists():
            return [(str(base), "is missing")]
        try:
            now = hash_evidence(base)
        except CustodyError as error:
            return [(str(base), str(error).removeprefix(f"{base}: "))]
    if now.is_directory != recorded.is_directory:
        kind = "a folder" if recorded.is_directory else "a file"
        return [(str(base), f"was {kind} when attached and is not now")]
    if not recorded.is_directory:
        if (now.sha256, now.size_bytes) == (recorded.sha256, recorded.size_bytes):
            return []
        return [(str(base), _differs(recorded.files[0], now.files[0]))]
    problems = []
    then_files = {f.path: f for f in recorded.files}
    now_files = {f.path: f for f in now.files}
    for name in sorted(then_files.keys() | now_files.keys(), key=lambda n: n.encode("utf-8")):
        full = str(base / name)
        if name not in now_files:
            problems.append((full, "is missing"))
        elif name not in then_files:
            problems.append((full, "was added after the folder was attached"))
        elif (then_files[name].sha256, then_files[name].size_bytes) != (
            now_files[name].sha256, now_files[name].size_bytes,
        ):
            problems.append((full, _differs(then_files[name], now_files[name])))
    if not problems and now.sha256 != recorded.sha256:
        problems.append((str(base), "folder digest differs from the one recorded"))
    return problems


def _differs(then: EvidenceFile, now: EvidenceFile) -> str:
    return (
        f"SHA-256 {now.sha256} ({now.size_bytes} bytes) differs from "
        f"{then.sha256} ({then.size_bytes} bytes) recorded when attached"
    )
