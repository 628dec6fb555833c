"""Format versions of ``results.json`` and the upgrades from older ones.

Two documents are named ``results.json``: a batch's (``gcms batch``) and a quantitation's
(``gcms quant --out``, ``"schema": "gcms-quant-results/1"``, :func:`quant_version`; no
older version of it exists, so it has no upgrades yet). A batch results document names
its format (``"gcms.batch.results"``) and an integer ``format_version``, raised whenever
a key is renamed, removed or changes meaning (adding an optional key does not raise it:
readers keep keys they do not know). Reading:

- the current version is read as it is;
- an older version is upgraded in memory, one version at a time, by the functions of
  :data:`UPGRADES` (``UPGRADES[n]`` turns version ``n`` into ``n + 1``); the file is not
  rewritten;
- a newer version is refused with a :class:`~gcms.errors.FormatError` naming the file and
  both versions: an older gcms cannot know what the new one changed.

Versions:

1 (every gcms so far)
    the layout documented in :mod:`gcms.batch.output`.
0 (never written by gcms)
    a document without ``format_version``: taken as version 1 without the key. It is the
    upgrade hook's first entry, so that a reader of version 2 inherits a tested path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gcms.errors import FormatError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "QUANT_FORMAT",
    "QUANT_FORMAT_VERSION",
    "UPGRADES",
    "document_version",
    "quant_version",
    "upgrade",
]

#: The ``format`` every batch results document names.
FORMAT = "gcms.batch.results"
#: The version this gcms writes and reads (:data:`gcms.batch.output.RESULTS_FORMAT_VERSION`).
FORMAT_VERSION = 1
#: The ``schema`` name of the ``results.json`` that ``gcms quant --out`` writes
#: (:meth:`gcms.quantitation.QuantitationResult.to_dict`), and its one version so far.
QUANT_FORMAT = "gcms-quant-results"
QUANT_FORMAT_VERSION = 1


def _from_0(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 -> 1: the version key is added (module docstring)."""
    return {**data, "format_version": 1}


#: ``UPGRADES[n]``: a function of a version-``n`` document giving the version ``n + 1``.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_0}


def quant_version(data: Mapping[str, Any], source: str) -> int:
    """The version of a ``gcms quant`` results document (``"schema": "gcms-quant-results/N"``).

    Only version 1 exists; a newer one is refused like a newer batch document.
    """
    schema = data.get("schema")
    name, _, number = str(schema).partition("/")
    if name != QUANT_FORMAT or not number.isdigit():
        raise FormatError(f"{source}: schema {schema!r} is not {QUANT_FORMAT}/<version>")
    version = int(number)
    if version > QUANT_FORMAT_VERSION:
        raise FormatError(
            f"{source}: quantitation results version {version} is newer than this gcms reads "
            f"(version {QUANT_FORMAT_VERSION}); read it with a newer gcms")
    return version


def document_version(data: Mapping[str, Any], source: str) -> int:
    """The format version a document declares (0 where it declares none)."""
    if "format_version" not in data:
        return 0
    version = data["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise FormatError(f"{source}: format_version {version!r} is not a version number "
                          f"(a non-negative integer)")
    return version


def upgrade(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``data`` in the current format version (module docstring); ``data`` is not changed.

    Parameters
    ----------
    data : Mapping
        A ``results.json`` as parsed JSON.
    source : str
        Where it came from, for error messages.

    Returns
    -------
    dict
        A new document of the current format version.

    Raises
    ------
    FormatError
        The document is of a newer version than this gcms reads.
    """
    version = document_version(data, source)
    if version > FORMAT_VERSION:
        raise FormatError(
            f"{source}: results format version {version} is newer than this gcms reads "
            f"(version {FORMAT_VERSION}); read it with a newer gcms")
    document = dict(data)
    while version < FORMAT_VERSION:
        document = UPGRADES[version](document)
        version += 1
    return document
