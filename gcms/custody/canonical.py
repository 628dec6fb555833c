r"""Canonical serialisation, digests and UTC times: the exact bytes the audit chain hashes.

Everything the custody store hashes or signs is first written as **canonical JSON**:

* UTF-8 bytes of a JSON text with object keys sorted by code point, no insignificant
  whitespace (separators ``","`` and ``":"``), non-ASCII characters written as themselves
  (not ``\uXXXX`` escapes);
* values limited to ``null``, ``true``/``false``, strings, integers, finite floats (as
  Python's :mod:`json` writes them: the shortest repr that round-trips), arrays and
  objects with string keys; NaN and infinities are refused, never coerced.

The store keeps each entry's canonical text verbatim and hashes those stored bytes, so a
verifier in any language checks an entry by hashing the text it reads; it never has to
reproduce the serialisation itself.

Chain rule (one audit entry ``n``)::

    content_sha256 = SHA-256(canonical(content))
    entry_sha256   = SHA-256(canonical({"case_tag": case_tag,
                                        "content_sha256": content_sha256,
                                        "prev_sha256": entry_sha256 of entry n-1,
                                        "seq": n}))

with ``prev_sha256`` of entry 1 equal to 64 zeros (:data:`GENESIS_PREV`). ``case_tag`` is
the random tag drawn when the entry's case was opened (``null`` for the store's own
entries): it lets a bundle of one case show that every entry it withholds belongs to
another case, without saying which. Hashes are
lower-case hexadecimal. Times are UTC, ISO 8601 with microseconds and a ``Z`` suffix
(``2025-03-01T14:30:00.000000Z``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from datetime import date, datetime, timezone
from pathlib import PurePath
from typing import Any

from gcms.errors import CustodyError

__all__ = [
    "GENESIS_PREV",
    "canonical_json",
    "entry_sha256",
    "normalise",
    "parse_utc",
    "sha256_hex",
    "sha256_of",
    "utc_iso",
    "utc_now",
]

#: ``prev_sha256`` of the first entry of a chain.
GENESIS_PREV = "0" * 64

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_FRACTION = re.compile(r"(?<=:\d\d)\.(\d+)")


def normalise(value: Any, where: str = "value") -> Any:
    """Turn ``value`` into plain JSON data, refusing what has no canonical form.

    Tuples become lists, ``datetime`` a UTC ISO string, paths strings, objects with a
    ``to_dict()`` their dict, numpy scalars their Python value. ``where`` names the
    place in the record for the error message.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CustodyError(f"{where}: {value!r} has no JSON form; record null instead")
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CustodyError(f"{where}: key {key!r} is not a string")
            out[key] = normalise(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [normalise(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (PurePath, os.PathLike)):
        return os.fspath(value)
    if hasattr(value, "to_dict"):
        return normalise(value.to_dict(), where)
    if hasattr(value, "item") and hasattr(value, "dtype"):  # numpy scalar
        return normalise(value.item(), where)
    raise CustodyError(f"{where}: a {type(value).__name__} has no JSON form")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring)."""
    return json.dumps(
        normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        allow_nan=False,
    )


def sha256_hex(data: bytes | str) -> str:
    """Lower-case hex SHA-256 of bytes, or of a string's UTF-8 bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def sha256_of(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``: the digest of a record."""
    return sha256_hex(canonical_json(value))


def entry_sha256(seq: int, prev_sha256: str, content_sha256: str,
                 case_tag: str | None) -> str:
    """Hash of audit entry ``seq``, linking its content to the entry before it."""
    return sha256_of({"case_tag": case_tag, "content_sha256": content_sha256,
                      "prev_sha256": prev_sha256, "seq": int(seq)})


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(timezone.utc)


def utc_iso(moment: datetime) -> str:
    """``moment`` as UTC ISO 8601 with microseconds and ``Z``.

    A naive ``datetime`` is taken as the machine's local time (what a person typing a
    time at the bench means) and converted.
    """
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def parse_utc(text: str | datetime, where: str = "time") -> str:
    """Parse an ISO 8601 time (``Z``, an offset, or local when none) to the UTC form.

    Accepts a date alone (midnight local time) and ``T`` or a space between date and
    time. Raises ``CustodyError`` naming ``where`` when the text is not a time.
    """
    if isinstance(text, datetime):
        return utc_iso(text)
    raw = str(text).strip()
    if raw[-1:] in ("Z", "z"):
        raw = raw[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes 3 or 6 fraction digits only: write six
    raw = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], raw)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as error:
        raise CustodyError(
            f"{where}: {text!r} is not an ISO 8601 time (e.g. 2025-03-01T14:30+01:00)"
        ) from error
    return utc_iso(moment)
