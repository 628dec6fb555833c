"""Configuration: the environment, the per-user data folder, search paths, one TOML reader.

Everything ``gcms`` takes from outside its arguments is decided here, so that a
maintainer finds it in one place:

* **The environment** (:func:`environment`): the variables below are read into one
  frozen :class:`Environment`. Library code never reads ``os.environ`` itself. The
  snapshot is taken lazily, on first use, and then returned as it is for as long as those
  variables keep their values; when one of them changes (a test's
  ``monkeypatch.setenv``, a command run with another ``env``) the next call takes a new
  snapshot. :func:`refresh_environment` forces a new one.

  ==================  ===================================================================
  ``GCMS_DATA_DIR``   the data folder (QA history); default :func:`user_data_dir`
  ``GCMS_STORE``      the default case store (folder or database URL)
  ``GCMS_ACTOR``      who is acting, when no actor is given (default: the login name)
  ``GCMS_INSTRUMENTS``  folders of instrument profiles (``os.pathsep``-separated)
  ``GCMS_METHODS``    folders of quantitation methods (``os.pathsep``-separated)
  ``GCMS_MEMORY_BUDGET``  most bytes one run may take (``16G``; see :mod:`gcms._arrays`)
  ``XDG_DATA_HOME``, ``LOCALAPPDATA``  the platform's per-user data folder
  ==================  ===================================================================

  A variable set to the empty string counts as unset (the XDG Base Directory
  Specification says so of ``XDG_DATA_HOME``; gcms treats every variable the same way).

* **Secrets** (:func:`secret`): a passphrase or password is read from the variable a
  command names (``--passphrase-env``, ``--password-env``; by default those of
  :data:`SECRETS`) when it is needed, and is never kept in the snapshot (which lives as
  long as the process and is compared on every call).

  ==========================  ===========================================================
  ``GCMS_KEY_PASSPHRASE``     the passphrase of a private key or PKCS#12 file
  ``GCMS_CA_PASSPHRASE``      the passphrase of the lab CA's key (``gcms report ca``)
  ``GCMS_PASSWORD``           a new password (``gcms user password``)
  ==========================  ===========================================================

  Not read here, on purpose: ``OMP_NUM_THREADS``, a thread cap of the compiled kernels
  that any OpenMP program obeys (it stays with them, in :mod:`gcms.library.scan`), and
  the thread caps (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``)
  that :mod:`gcms.batch.pipeline` *writes* for its worker processes, whose numerical
  libraries read them when they start: an environment for other programs, not a setting
  of gcms.

* **Folders** (:func:`user_data_dir`, :func:`data_dir`, :func:`search_path`): where
  gcms keeps its own data and where each kind of configuration file is looked for.

* **Documents** (:func:`read_toml`, :func:`from_table`): a configuration file is read
  once as bytes, hashed (SHA-256 of exactly those bytes, what every result records) and
  parsed; :func:`from_table` turns a table into a frozen dataclass, refusing an unknown
  key with the closest known one ("did you mean ...?"), a value of the wrong type, a
  number out of the range the field's metadata gives, or a missing required key. Every
  message names the file, then the key (``analyte[0].rt_s``), then the problem.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import math
import os
import sys
import types
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from gcms.errors import GcmsError, ProfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "KINDS",
    "Document",
    "Environment",
    "Kind",
    "data_dir",
    "did_you_mean",
    "environment",
    "secret",
    "from_table",
    "limits",
    "parse_toml",
    "read_toml",
    "refresh_environment",
    "search_path",
    "unknown_key",
    "user_data_dir",
]

T = TypeVar("T")

#: The environment variables gcms reads (all of them, in one place).
VARIABLES = ("GCMS_DATA_DIR", "GCMS_STORE", "GCMS_ACTOR", "GCMS_INSTRUMENTS", "GCMS_METHODS",
             "GCMS_MEMORY_BUDGET", "XDG_DATA_HOME", "LOCALAPPDATA")

#: The default names of the variables holding secrets (module notes; :func:`secret`).
SECRETS = ("GCMS_KEY_PASSPHRASE", "GCMS_CA_PASSPHRASE", "GCMS_PASSWORD")

_PACKAGE = Path(__file__).parent

#: The largest configuration file read (bytes): a profile, method or target list is a
#: few kilobytes; a file this large is a mistake (a data file named in its place), and
#: is refused rather than read into memory.
MAX_CONFIG_BYTES = 16 * 1024 * 1024
#: TOML 1.0 integers are 64-bit signed; a larger one "MUST" be an error (toml.io, Integer).
_TOML_INT = 2**63 - 1


# ------------------------------------------------------------------------ environment
@dataclass(frozen=True, slots=True)
class Environment:
    """The environment variables gcms reads, as one frozen snapshot (None: unset or empty).

    ``instruments`` and ``methods`` are the folders of ``GCMS_INSTRUMENTS`` and
    ``GCMS_METHODS`` (``os.pathsep``-separated, empty parts dropped). ``memory_budget``
    is the raw text; :func:`gcms._arrays.memory_budget` parses it when it is used, so a
    malformed value fails the reading it limits, not every command.
    """

    data_dir: str | None = None
    store: str | None = None
    actor: str | None = None
    instruments: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    memory_budget: str | None = None
    xdg_data_home: str | None = None
    local_app_data: str | None = None

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Environment:
        """The snapshot of a mapping shaped like ``os.environ``."""
        def text(name: str) -> str | None:
            return env.get(name) or None

        def folders(name: str) -> tuple[str, ...]:
            return tuple(p for p in (env.get(name) or "").split(os.pathsep) if p)

        return cls(data_dir=text("GCMS_DATA_DIR"), store=text("GCMS_STORE"),
                   actor=text("GCMS_ACTOR"), instruments=folders("GCMS_INSTRUMENTS"),
                   methods=folders("GCMS_METHODS"), memory_budget=text("GCMS_MEMORY_BUDGET"),
                   xdg_data_home=text("XDG_DATA_HOME"), local_app_data=text("LOCALAPPDATA"))


_snapshot: tuple[tuple[str | None, ...], Environment] | None = None


def environment() -> Environment:
    """The environment snapshot (module notes: taken once, new when a variable changes)."""
    global _snapshot
    seen = tuple(os.environ.get(name) for name in VARIABLES)
    if _snapshot is None or _snapshot[0] != seen:
        _snapshot = (seen, Environment.from_mapping(os.environ))
    return _snapshot[1]


def refresh_environment() -> Environment:
    """Take a new snapshot now and return it."""
    global _snapshot
    _snapshot = None
    return environment()


def secret(name: str) -> str | None:
    """The secret held by the environment variable ``name``, or None (unset or empty).

    Read now, every call, and not kept: see the module notes (``name`` is the one a
    command's ``--passphrase-env`` gives, by default one of :data:`SECRETS`).
    """
    return os.environ.get(name) or None


# ---------------------------------------------------------------------------- folders
def user_data_dir() -> Path:
    """The platform's per-user data folder for gcms (``.../gcms``).

    Windows: ``%LOCALAPPDATA%/gcms``; macOS: ``~/Library/Application Support/gcms``;
    elsewhere ``$XDG_DATA_HOME/gcms``, or ``~/.local/share/gcms`` when ``XDG_DATA_HOME``
    is unset or empty (XDG Base Directory Specification 0.8).
    """
    env = environment()
    home = Path.home()
    if sys.platform.startswith("win"):
        return Path(env.local_app_data or home / "AppData" / "Local") / "gcms"
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "gcms"
    return Path(env.xdg_data_home or home / ".local" / "share") / "gcms"


def data_dir() -> Path:
    """Where gcms keeps its data (QA history): ``$GCMS_DATA_DIR``, else :func:`user_data_dir`."""
    env = environment()
    return Path(env.data_dir) if env.data_dir else user_data_dir()


Kind = Literal["instruments", "methods", "criteria", "targets"]
#: The kinds of configuration file :func:`search_path` knows.
KINDS: tuple[str, ...] = get_args(Kind)


def search_path(kind: Kind) -> tuple[Path, ...]:
    """The folders a file of ``kind`` named without a path is looked for in, first first.

    ``instruments`` (instrument profiles): ``$GCMS_INSTRUMENTS``, then ``instruments/`` of
    the working directory, then the examples shipped in ``gcms/qa/profiles``.
    ``methods`` (quantitation methods): ``$GCMS_METHODS``, then ``instruments/methods``
    of the working directory (a relative path, as a found method records it).
    ``criteria`` (identification criteria profiles): the ones shipped in
    ``gcms/identify/profiles``. ``targets`` (target lists): the ones shipped in
    ``gcms/data/targets``. A path (rather than a name) is always read as it is given.
    """
    env = environment()
    if kind == "instruments":
        return (*map(Path, env.instruments), Path.cwd() / "instruments",
                _PACKAGE / "qa" / "profiles")
    if kind == "methods":
        return (*map(Path, env.methods), Path("instruments") / "methods")
    if kind == "criteria":
        return (_PACKAGE / "identify" / "profiles",)
    if kind == "targets":
        return (_PACKAGE / "data" / "targets",)
    raise ValueError(f"unknown kind of configuration file {kind!r}; known: {', '.join(KINDS)}")


# -------------------------------------------------------------------------- documents
@dataclass(frozen=True, slots=True)
class Document:
    """A configuration file as read: its tables, where it came from, its SHA-256.

    ``source`` is what messages and results name (the path as given, or a shipped
    name); ``sha256`` is the digest of exactly the bytes read; ``folder`` is where
    relative paths inside the file are taken from (None for a shipped document).
    """

    data: Mapping[str, Any]
    source: str
    sha256: str
    folder: Path | None = None


def parse_toml(raw: bytes, *, source: str, error: type[GcmsError] = ProfileError,
               folder: Path | None = None) -> Document:
    """Parse TOML bytes into a :class:`Document` (UTF-8 checked, SHA-256 of ``raw``).

    A UTF-8 byte-order mark (what some Windows editors write first) is skipped; the
    SHA-256 is still of ``raw``, the bytes as they are.

    Raises
    ------
    GcmsError
        Of class ``error``: ``"{source}: not UTF-8 text (...)"`` or
        ``"{source}: invalid TOML: ..."``.
    """
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not UTF-8 text ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: invalid TOML: {exc}") from None
    return Document(data, source, hashlib.sha256(raw).hexdigest(), folder)


def read_toml(path: str | os.PathLike, *, error: type[GcmsError] = ProfileError) -> Document:
    """Read a TOML file once: its bytes are hashed and parsed (see :func:`parse_toml`).

    Only a regular file of at most :data:`MAX_CONFIG_BYTES` is read (a FIFO or device
    would block or never end); the size is checked on the open file, so what is hashed
    and parsed is what was checked.

    Raises
    ------
    GcmsError
        Of class ``error``: ``"{path}: cannot read: ..."``, ``"{path}: not a regular
        file"``, ``"{path}: ... bytes, more than a configuration file ..."`` or a parse
        error.
    """
    import stat

    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO for reading does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
        with open(fd, "rb", closefd=True) as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise error(f"{path}: not a regular file")
            raw = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise error(f"{path}: more than {MAX_CONFIG_BYTES} bytes, too large for a "
                    "configuration file")
    return parse_toml(raw, source=str(path), error=error, folder=path.parent)


# -------------------------------------------------------------------------- converter
def limits(low: float | None = None, high: float | None = None, *,
           low_open: bool = False) -> dict[str, Any]:
    """Field metadata bounding a number: ``low <= x <= high`` (``low < x`` if ``low_open``).

    A bound applies to every number of a list field too.
    """
    return {"low": low, "high": high, "low_open": low_open}


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the known name closest to ``key``, or ``""``.

    A known name that ``key`` starts, or that starts ``key``, comes first (``signals``
    → ``signal``); then the closest by :func:`difflib.get_close_matches` (ratio >= 0.5).
    """
    known = list(known)
    close = [k for k in known if k and key and (k.startswith(key) or key.startswith(k))]
    close = close or difflib.get_close_matches(key, known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_key(origin: str, key: str, known: Collection[str], *,
                error: type[GcmsError] = ProfileError) -> GcmsError:
    """The error for an unknown ``key`` (its full dotted name) among ``known`` names."""
    name = key.rsplit(".", 1)[-1]
    return error(f"{origin}: {key}: unknown key{did_you_mean(name, known)}; "
                 f"known: {', '.join(known)}")


def _shown(value: Any, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters (a message stays one readable line)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if annotation is float:
        return "a number"
    if annotation is int:
        return "an integer"
    if annotation is str:
        return "a string"
    if annotation is bool:
        return "true or false"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(annotation))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(annotation) if a is not type(None))
    if origin is tuple:
        return "a list"
    if origin in (Mapping, dict) or dataclasses.is_dataclass(annotation):
        return "a table"
    return str(annotation)  # pragma: no cover - schema bug


def _fits(value: Any, annotation: Any) -> bool:
    """Whether ``value`` has the TOML type ``annotation`` asks for (its range aside)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return any(type(value) is type(a) for a in get_args(annotation))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation in (int, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, (list, str))
    return isinstance(value, Mapping)


def _number(value: Any, annotation: type, key: str, origin: str, metadata: Mapping,
            error: type[GcmsError]) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            annotation is int and not isinstance(value, int)):
        raise error(f"{origin}: {key}: must be {_type_name(annotation)}, got {_shown(value)}")
    if isinstance(value, int) and abs(value) > _TOML_INT:
        raise error(f"{origin}: {key}: {_shown(value)} is beyond the 64-bit integers of TOML")
    if not math.isfinite(value):
        raise error(f"{origin}: {key}: must be finite, got {_shown(value)}")
    low, high = metadata.get("low"), metadata.get("high")
    low_open = metadata.get("low_open", False)
    if low is not None and (value <= low if low_open else value < low):
        raise error(f"{origin}: {key}: must be {'>' if low_open else '>='} {low:g}, "
                    f"got {_shown(value)}")
    if high is not None and value > high:
        raise error(f"{origin}: {key}: must be <= {high:g}, got {_shown(value)}")
    return annotation(value)


def _convert(value: Any, annotation: Any, key: str, origin: str,  # noqa: C901
             metadata: Mapping, error: type[GcmsError]) -> Any:
    kind = get_origin(annotation)
    if kind in (Union, types.UnionType):
        options = [a for a in get_args(annotation) if a is not type(None)]
        fitting = [a for a in options if _fits(value, a)]
        if len(fitting) >= 1:
            return _convert(value, fitting[0], key, origin, metadata, error)
        raise error(f"{origin}: {key}: must be {_type_name(annotation)}, got {_shown(value)}")
    if kind is Literal:
        if not _fits(value, annotation) or value not in get_args(annotation):
            raise error(f"{origin}: {key}: must be {_type_name(annotation)}, got {_shown(value)}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise error(f"{origin}: {key}: must be true or false, got {_shown(value)}")
        return value
    if annotation in (int, float):
        return _number(value, annotation, key, origin, metadata, error)
    if annotation is str:
        if not isinstance(value, str):
            raise error(f"{origin}: {key}: must be a string, got {_shown(value)}")
        return value
    if kind is tuple:
        items = get_args(annotation)
        if len(items) == 2 and items[1] is Ellipsis:
            if isinstance(value, str) and items[0] is str:
                value = [value]  # a list of text may be written as one text
            if not isinstance(value, list):
                raise error(f"{origin}: {key}: must be a list, got {_shown(value)}")
            return tuple(_convert(v, items[0], f"{key}[{i}]", origin, metadata, error)
                         for i, v in enumerate(value))
        if not isinstance(value, list) or len(value) != len(items):
            raise error(f"{origin}: {key}: must be a list of {len(items)}, got {_shown(value)}")
        return tuple(_convert(v, item, f"{key}[{i}]", origin, metadata, error)
                     for i, (v, item) in enumerate(zip(value, items, strict=True)))
    if kind in (Mapping, dict):
        _, item = get_args(annotation)
        if not isinstance(value, Mapping):
            raise error(f"{origin}: {key}: must be a table, got {_shown(value)}")
        return MappingProxyType({k: _convert(v, item, f"{key}.{k}", origin, metadata, error)
                                 for k, v in value.items()})
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return from_table(annotation, value, origin=origin, where=key, error=error)
    raise TypeError(f"no conversion to {annotation!r}")  # pragma: no cover - schema bug


def from_table(cls: type[T], table: Any, *, origin: str, where: str = "",  # noqa: C901
               error: type[GcmsError] = ProfileError, exclude: Collection[str] = ()) -> T:
    """Build the frozen dataclass ``cls`` from a TOML table, checking every key.

    Each field's type annotation says what its key takes: ``bool``, ``int``, ``float``,
    ``str``, a ``Literal`` of choices, ``X | None`` (optional), ``tuple[X, ...]`` (a
    list; one text for a list of text), ``tuple[X, Y]`` (a list of exactly two),
    ``Mapping[str, X]`` (a table of any keys) or another dataclass (a table). A field's
    metadata may bound its numbers (:func:`limits`) or give its own converter,
    ``metadata["convert"](origin, key, value)``. ``exclude`` names fields that are not
    keys of the file (its path, its SHA-256). A ``ValueError`` of the class's own checks
    (``__post_init__``) is reported as a key error too.

    Raises
    ------
    GcmsError
        Of class ``error``, as ``"{origin}: {key}: {problem}"``: an unknown key (with
        "did you mean"), a value of the wrong type or out of range, a missing
        required key.
    """
    if not isinstance(table, Mapping):
        raise error(f"{origin}: {where or '(top level)'}: must be a table, got {_shown(table)}")
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name not in exclude}  # type: ignore[arg-type]
    for key in table:
        if key not in known:
            raise unknown_key(origin, f"{where}.{key}" if where else key, tuple(known),
                              error=error)
    values: dict[str, Any] = {}
    for name, spec in known.items():
        key = f"{where}.{name}" if where else name
        if name in table:
            convert: Callable[[str, str, Any], Any] | None = spec.metadata.get("convert")
            values[name] = (convert(origin, key, table[name]) if convert is not None else
                            _convert(table[name], hints[name], key, origin, spec.metadata,
                                     error))
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise error(f"{origin}: {key}: required key is missing")
    try:
        return cls(**values)
    except ValueError as exc:
        raise error(f"{origin}: {where or '(top level)'}: {exc}") from None

