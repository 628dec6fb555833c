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
each run finishes, so an interrupted batch resumes where it stopped. The cache holds
only JSON, never pickles: nothing in an output folder is executed on reading.

Entries are authenticated
-------------------------
A cache entry is evidence processed once and trusted later without looking at the run
again, so an edited entry (``"Methamphetamine"`` -> ``"Phentermine"``) would otherwise
become a finding. Each entry carries ``cache_entry``: the key, the key's inputs (input
SHA-256, settings fingerprint, library SHA-256, gcms version) and an HMAC-SHA256
(RFC 2104; FIPS 198-1) over the canonical JSON of the whole entry (record and key
inputs, ``sort_keys``, no whitespace) with a 256-bit secret kept beside the entries in
``OUT/cache/pass1/.hmac-key`` (created 0600, one per output folder).

Why an HMAC and not content addressing: a content hash must be looked up from the key
inputs through some index, and that index would sit in the same writable folder as the
entries, so whoever edits an entry could edit its recorded hash too. With an HMAC an
entry can only be made by someone who can read the owner-only secret; an edit by
hand, by another account with write access to a shared output folder, or by a tool
that rewrites JSON, is detected. (The owner of the folder can always forge: the cache
protects results from tampering by others, not from the analyst's own account.)

An entry that is present but cannot be used (not JSON, another format, a bad or missing
HMAC, key inputs other than this run's, a key file readable or writable by others, a
symbolic link) is never used: :func:`load_cached` says why, the run is processed again,
and the batch notes "cache entry failed its check: recomputed" in its output and in the
run's record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gcms.batch.pass1 import RunAnalysis

__all__ = ["CacheLookup", "cache_key", "input_digest", "load_cached", "store_cached"]

_CHUNK = 1 << 20
#: File of the cache's secret, inside the cache folder.
KEY_FILE = ".hmac-key"
#: Bytes of secret: 256 bits, the HMAC-SHA256 block-size guidance of RFC 2104 section 3.
_KEY_BYTES = 32
#: The note a run's record and the batch output carry for an entry that was not trusted.
FAILED_CHECK = "cache entry failed its check: recomputed"


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


@dataclass(frozen=True, slots=True)
class CacheLookup:
    """What the cache holds for one key.

    ``analysis`` is the verified record (None when there is none to use); ``problem``
    says why an entry that is present was not used (None when absent or used);
    ``whole_cache`` is True when the problem is the cache's key, not the entry (every
    entry of the folder fails alike: one note for the batch is enough).
    """

    analysis: RunAnalysis | None = None
    problem: str | None = None
    whole_cache: bool = False

    @property
    def note(self) -> str | None:
        """``"cache entry failed its check: recomputed (<problem>)"``, or None."""
        return None if self.problem is None else f"{FAILED_CHECK} ({self.problem})"


def _read_secret(folder: Path) -> tuple[bytes | None, str | None]:
    """The cache's secret, or why it cannot be trusted (None, None: there is none)."""
    path = folder / KEY_FILE
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, None
    except OSError as error:  # a symbolic link (ELOOP), unreadable
        return None, f"its key {path} cannot be opened ({error.strerror or error})"
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, f"its key {path} is not a regular file"
        if os.name == "posix":
            if info.st_mode & 0o077:
                return None, (f"its key {path} is open to other users "
                              f"(mode {stat.S_IMODE(info.st_mode):04o}, must be 0600)")
            if info.st_uid != os.geteuid():
                return None, f"its key {path} belongs to another user (uid {info.st_uid})"
        secret = handle.read(_KEY_BYTES + 1)
    if len(secret) != _KEY_BYTES:
        return None, f"its key {path} holds {len(secret)} bytes, not {_KEY_BYTES}"
    return secret, None


def _secret_for_writing(folder: Path) -> bytes:
    """The cache's secret; a new one (0600) when absent or not trustworthy.

    A replaced secret makes every entry signed with the old one fail its check, which is
    the point: an entry signed with a key others could read is not trusted.
    """
    secret, problem = _read_secret(folder)
    if secret is not None:
        return secret
    secret = secrets.token_bytes(_KEY_BYTES)
    fd, tmp = tempfile.mkstemp(prefix=".hmac-key.", suffix=".tmp", dir=folder)  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secret)
        if problem is not None:
            (folder / KEY_FILE).unlink(missing_ok=True)  # a link is replaced, not followed
        os.replace(tmp, folder / KEY_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return secret


def _canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=True).encode("ascii")


def _mac(secret: bytes, entry: dict[str, Any]) -> str:
    """HMAC-SHA256 of ``entry`` with its ``cache_entry.hmac_sha256`` left out."""
    unsigned = {**entry, "cache_entry": {k: v for k, v in entry["cache_entry"].items()
                                         if k != "hmac_sha256"}}
    return hmac.new(secret, _canonical(unsigned), hashlib.sha256).hexdigest()


def _key_inputs(key: str, input_sha256: str, settings_fingerprint: str,
                library_sha256: str) -> dict[str, str]:
    from gcms import __version__

    return {"key": key, "input_sha256": input_sha256,
            "settings_fingerprint": settings_fingerprint,
            "library_sha256": library_sha256, "gcms_version": __version__}


def load_cached(folder: Path, key: str, *, input_sha256: str, library_sha256: str,
                settings_fingerprint: str) -> CacheLookup:
    """The verified cached record for ``key`` (module docstring: what is checked).

    Returns
    -------
    CacheLookup
        ``analysis`` when an entry exists and passes every check; otherwise None, with
        ``problem`` naming what failed when an entry exists.
    """
    path = folder / f"{key}.json"
    if not path.exists() and not path.is_symlink():
        return CacheLookup()
    if path.is_symlink() or not path.is_file():
        return CacheLookup(problem=f"{path} is not a regular file")
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return CacheLookup(problem=f"{path} cannot be read ({error})")
    if not isinstance(entry, dict) or not isinstance(entry.get("cache_entry"), dict):
        return CacheLookup(problem=f"{path} carries no authentication")
    secret, problem = _read_secret(folder)
    if secret is None:
        return CacheLookup(problem=problem or f"there is no key ({folder / KEY_FILE}) "
                                              f"to check its entries with",
                           whole_cache=True)
    claimed = entry["cache_entry"].get("hmac_sha256")
    if not isinstance(claimed, str) or not hmac.compare_digest(claimed, _mac(secret, entry)):
        return CacheLookup(problem=f"{path}: its HMAC does not match its content "
                                   f"(edited after it was written)")
    expected = _key_inputs(key, input_sha256, settings_fingerprint, library_sha256)
    inputs = {k: v for k, v in entry["cache_entry"].items() if k != "hmac_sha256"}
    if inputs != expected:
        differ = sorted(k for k in expected.keys() | inputs.keys()
                        if inputs.get(k) != expected.get(k))
        return CacheLookup(problem=f"{path} was written for other inputs "
                                   f"({', '.join(differ)} differ)")
    try:
        analysis = RunAnalysis.from_dict(entry)
    except (ValueError, KeyError, TypeError) as error:
        return CacheLookup(problem=f"{path} is not a pass-1 record this gcms reads ({error})")
    if analysis.input_sha256 != input_sha256 or analysis.library_sha256 != library_sha256:
        return CacheLookup(problem=f"{path}: its record is of another file or library")
    return CacheLookup(analysis=analysis)


def store_cached(folder: Path, key: str, analysis: RunAnalysis, *,
                 settings_fingerprint: str) -> Path:
    """Write an authenticated entry atomically; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = _secret_for_writing(folder)
    entry = analysis.to_dict()
    entry["cache_entry"] = _key_inputs(key, analysis.input_sha256, settings_fingerprint,
                                       analysis.library_sha256)
    entry["cache_entry"]["hmac_sha256"] = _mac(secret, entry)
    target = folder / f"{key}.json"
    fd, tmp = tempfile.mkstemp(prefix=f".{key[:16]}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entry, handle, allow_nan=True)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
