"""Atomic file writes shared by every layer (internal).

A file is written to a temporary file in the same folder and renamed over the target
(:func:`os.replace`, atomic on POSIX and Windows), so a reader sees the old file or the
new one, never half a file; when writing fails the temporary file is removed and the old
file is left as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["file_mode", "replacing", "write_atomic"]


def file_mode() -> int:
    """Permissions of a new file under the process's umask (temporary files get 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def replacing(path: Path) -> Iterator[str]:
    """Yield a temporary file's name beside ``path``; on success it replaces ``path``.

    The folder must exist. The new file gets :func:`file_mode`; on any failure inside
    the block the temporary file is removed and the exception goes on.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8, newlines as given) to ``path`` atomically.

    The folder is created when missing.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data.encode("utf-8") if isinstance(data, str) else data)
