"""Machinery shared by the readers (internal): read-only evidence access, hashing, errors."""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcms.errors import FormatError
from gcms.run import Run
from gcms.spectrum import Spectrum

__all__ = [
    "DECODE_ERRORS",
    "EntryReport",
    "EvidenceBytes",
    "SkippedEntry",
    "build_run",
    "decode_text",
    "evidence_bytes",
    "sha256_file",
]

#: Errors that low-level decoding raises on damaged bytes (a short struct, an index past
#: the end, an undecodable string, an absurd size). The registry turns them into a
#: ``FormatError`` naming the file, so a damaged file never escapes as anything else.
DECODE_ERRORS = (
    ValueError,
    IndexError,
    KeyError,
    struct.error,
    UnicodeDecodeError,
    OverflowError,
    EOFError,
    TypeError,
    OSError,
)

_HASH_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in a read-only binary handle."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True, slots=True)
class EvidenceBytes:
    """A read-only view of an evidence file's bytes and their SHA-256."""

    path: Path
    data: memoryview
    sha256: str

    @property
    def size(self) -> int:
        """Number of bytes in the file."""
        return len(self.data)


@contextmanager
def evidence_bytes(path: str | os.PathLike) -> Iterator[EvidenceBytes]:
    """Read a file's bytes through a read-only handle and hash them.

    The file is opened ``"rb"``: nothing a reader does can change evidence on disk. The
    hash is taken over the very bytes the reader will decode, so the digest always
    describes what was read. The bytes are read into memory rather than mapped: the
    whole file is hashed anyway, and an in-memory buffer cannot fail to close while a
    view of it is still referenced from an error's traceback.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read()
    if not data:
        raise FormatError(f"{path}: file is empty")
    view = memoryview(data)
    yield EvidenceBytes(path=path, data=view, sha256=hashlib.sha256(view).hexdigest())


def build_run(path: str | os.PathLike, **fields: Any) -> Run:
    """Construct a :class:`Run`, turning its consistency checks into a ``FormatError``."""
    try:
        return Run(**fields)
    except ValueError as error:
        raise FormatError(f"{path}: {error}") from error


@dataclass(frozen=True, slots=True)
class SkippedEntry:
    """A library entry that could not be read, and why (file, entry, reason)."""

    source: str
    entry: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: entry {self.entry}: {self.reason}"


@dataclass(slots=True)
class EntryReport:
    """What a spectra reader got from one file: the good entries and the skipped ones."""

    spectra: list[Spectrum] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)


def decode_text(raw: bytes) -> tuple[str, str | None]:
    """Decode text of unknown encoding: UTF-8, else Windows-1252, else Latin-1.

    Returns the text and the fallback codec used (``None`` for UTF-8), so a reader can
    record that an entry was not UTF-8. Never drops bytes: Latin-1 decodes any byte.
    """
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"
