"""The resume cache of pass 1: finished runs are not processed again.

A run's pass-1 record is stored as ``OUT/cache/pass1/<key>.json`` where::

    key = SHA-256( input SHA-256 | settings fingerprint | library content SHA-256 )

* the input SHA-256 is :func:`input_digest` of the run file (a folder such as an
  Agilent ``.D``: every file in it, by relative path);
* the settings fingerprint is :meth:`gcms.batch.BatchSettings.pass1_fingerprint`
  (deconvolution, search, hit count, ladder settings, record format, gcms version);
* the library hash is the library's content hash (:class:`gcms.library.Library`).

So a rerun of the same command finds every finished run's record and only processes
the others; a changed file, setting, library or gcms version gives a new key and the run
is processed again. Records are written atomically (temporary file, then rename) as
each run finishes, so an interrupted batch resumes where it stopped; a record that
cannot be read back (truncated, another format) is ignored and recomputed. The cache
holds only JSON, never pickles: nothing in an output folder is executed on reading.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from gcms.batch.pass1 import RunAnalysis

__all__ = ["cache_key", "input_digest", "load_cached", "store_cached"]

_CHUNK = 1 << 20


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def input_digest(path: str | os.PathLike) -> str:
    r"""SHA-256 of a run file, or of a run folder's manifest.

    For a folder: SHA-256 of the lines ``"<sha256 of file>  <relative path>\\n"`` of every
    file under it (hidden ones too), sorted by relative path (POSIX separators).

    Raises
    ------
    OSError
        The path does not exist or cannot be read.
    """
    path = Path(path)
    if path.is_dir():
        lines = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = Path(root) / name
                lines.append(f"{_file_sha256(full)}  {full.relative_to(path).as_posix()}\n")
        lines.sort(key=lambda line: line.split("  ", 1)[1])
        return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    return _file_sha256(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cache_key(input_sha256: str, settings_fingerprint: str, library_sha256: str) -> str:
    """The cache key of one run (module docstring)."""
    text = f"{input_sha256}|{settings_fingerprint}|{library_sha256}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def load_cached(folder: Path, key: str, *, input_sha256: str,
                library_sha256: str) -> RunAnalysis | None:
    """The cached record for ``key``, or None (absent, unreadable or not for this input)."""
    path = folder / f"{key}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        analysis = RunAnalysis.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if analysis.input_sha256 != input_sha256 or analysis.library_sha256 != library_sha256:
        return None
    return analysis


def store_cached(folder: Path, key: str, analysis: RunAnalysis) -> Path:
    """Write a record atomically; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{key}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(analysis.to_dict(), handle, allow_nan=True)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
