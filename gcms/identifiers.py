r"""Identifiers that cannot spoof, and cells a spreadsheet cannot execute.

Case, exhibit, sample and user ids are typed by people, printed on reports and written
into CSV files that a lab opens in a spreadsheet. Two ways they lie:

* **Invisible or reordering characters.** ``"\u202e1E"`` (a right-to-left override
  before ``1E``) displays as ``E1``; a zero-width space makes ``E1`` and ``E<ZWSP>1`` two
  different exhibits that print the same. :func:`check_identifier` refuses them.
* **Formulas.** A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
  return before one) is a formula to Excel, LibreOffice and Google Sheets:
  ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0`` run when the lab opens ``summary.csv``.
  :func:`spreadsheet_safe` neutralises such cells as the OWASP CSV-injection guidance says
  (a leading single quote), and every CSV writer calls it.

Allowed characters, per field
-----------------------------
Every identifier is normalised to Unicode NFC, holds 1-120 characters and has no leading
or trailing whitespace. Its characters are

========================  ===========================================================
field                     allowed
========================  ===========================================================
``case_id``               letters of any script (with their combining marks), digits of
``exhibit_id``            any script, and ``-`` ``_`` ``.`` ``/`` ``#`` ``(`` ``)`` and the
``sample_id``             plain space (U+0020); the first character is a letter or digit
``user_id`` (``user``,    letters, digits, and ``-`` ``_`` ``.`` ``@`` ``\`` (``DOMAIN\user``)
``actor``, ``analyst``)   and the plain space; the first character is a letter, digit or ``_``
any other field name      as ``case_id``
========================  ===========================================================

Letters of any script are allowed on purpose: labs in Arabic-speaking countries write
sample and case numbers in Arabic letters and Arabic-Indic digits, and Arabic text is
written right-to-left by the renderer without any control character. What is refused,
whatever the field:

* bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C);
* invisible and format characters: Unicode categories Cf (zero-width space and joiners,
  U+FEFF, soft hyphen, ...), Cc (controls, tab, CR, LF), Zl, Zp, Co (private use), Cs, Cn
  (unassigned), and spaces other than U+0020 (no-break, ideographic, thin ...);
* letters of Latin, Greek and Cyrillic mixed in one identifier (``Е1`` with a Cyrillic
  ``Е`` is not ``E1``: Unicode UTS #39 treats these scripts as confusable); Latin mixed with
  any other single script (``عينة-A1``) is allowed;
* anything else outside the table (``=``, ``+``, ``@`` in a case id, ``|``, quotes, ...).

The error (:class:`IdentifierError`) names the field, where the value came from, and the
offending character by code point and Unicode name, e.g. ``seq.csv line 4, column
exhibit_id: exhibit_id '\u202e1E' holds U+202E RIGHT-TO-LEFT OVERRIDE at position 1 (a
bidirectional control: it reorders how the id is displayed)``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from gcms.errors import GcmsError

__all__ = [
    "ID_MAX_CHARS",
    "IdentifierError",
    "check_identifier",
    "check_text",
    "spreadsheet_safe",
    "spreadsheet_safe_row",
]

#: Longest identifier accepted (the case store's limit too).
ID_MAX_CHARS = 120

#: Bidirectional controls: embeddings, overrides, isolates and marks.
BIDI_CONTROLS = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]
    + [chr(c) for c in range(0x2066, 0x206A)]
    + ["\u200e", "\u200f", "\u061c"]
)
_INVISIBLE_CATEGORIES = {"Cf", "Cc", "Zl", "Zp", "Co", "Cs", "Cn"}
# Letters that render alike across these scripts (UTS #39 "moderately restrictive").
_CONFUSABLE_SCRIPTS = {"LATIN", "GREEK", "CYRILLIC"}

_ID_PUNCTUATION = frozenset("-_./#() ")
_USER_PUNCTUATION = frozenset("-_.@\\ ")
_USER_FIELDS = {"user", "user_id", "actor", "analyst", "operator", "reviewer"}


class IdentifierError(GcmsError, ValueError):
    """An identifier holds a character that could spoof it, or is empty or too long."""


def _describe(char: str) -> str:
    name = unicodedata.name(char, None)
    if name is None:
        category = unicodedata.category(char)
        name = {"Cc": "<control>", "Co": "<private use>", "Cs": "<surrogate>",
                "Cn": "<unassigned>"}.get(category, f"<{category}>")
    return f"U+{ord(char):04X} {name}"


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else ""


def check_identifier(value: str, field: str, *, source: str | None = None) -> str:
    """Return ``value`` normalised to NFC, or raise :class:`IdentifierError`.

    Parameters
    ----------
    value
        The identifier as typed or read.
    field
        Which identifier it is (``"case_id"``, ``"exhibit_id"``, ``"sample_id"``,
        ``"user_id"``...): chooses the allowed set (module docstring) and names it in
        the error.
    source
        Where the value came from (``"seq.csv line 4, column exhibit_id"``), put first in
        the error message.
    """
    where = f"{source}: " if source else ""
    if not isinstance(value, str):
        raise IdentifierError(f"{where}{field} must be text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value)
    if not text.strip():
        raise IdentifierError(f"{where}{field} is empty")
    if len(text) > ID_MAX_CHARS:
        raise IdentifierError(
            f"{where}{field} {text[:40]!r}... has {len(text)} characters (at most "
            f"{ID_MAX_CHARS})"
        )
    key = field.strip().lower().replace(" ", "_").replace("-", "_")
    user = key in _USER_FIELDS
    punctuation = _USER_PUNCTUATION if user else _ID_PUNCTUATION
    scripts: dict[str, int] = {}
    for index, char in enumerate(text):
        problem = None
        category = unicodedata.category(char)
        if char in BIDI_CONTROLS:
            problem = "a bidirectional control: it reorders how the id is displayed"
        elif category in _INVISIBLE_CATEGORIES:
            problem = "an invisible or control character"
        elif category == "Zs" and char != " ":
            problem = "a space other than the plain space U+0020"
        elif char == " " and (index == 0 or index == len(text) - 1):
            problem = "leading or trailing whitespace"
        elif char == " " and text[index - 1] == " ":
            problem = "two spaces in a row (they display like one)"
        elif category[0] in "LM" or category == "Nd":
            if category[0] == "L":
                scripts.setdefault(_script(char), index)
            if index == 0 and category[0] == "M":
                problem = "a combining mark with no letter before it"
        elif char not in punctuation:
            allowed = " ".join(sorted(punctuation - {" "}))
            problem = f"not allowed in a {field} (letters, digits, {allowed} and space)"
        elif index == 0 and not (user and char == "_"):
            problem = f"a {field} must start with a letter or digit"
        if problem:
            raise IdentifierError(
                f"{where}{field} {text!r} holds {_describe(char)} at position {index + 1} "
                f"({problem})"
            )
    confusable = sorted(_CONFUSABLE_SCRIPTS.intersection(scripts))
    if len(confusable) > 1:
        first, second = sorted(confusable, key=scripts.__getitem__)[:2]
        char = text[scripts[second]]
        raise IdentifierError(
            f"{where}{field} {text!r} mixes {first.title()} and {second.title()} letters: "
            f"{_describe(char)} at position {scripts[second] + 1} looks like a "
            f"{first.title()} letter but is not one"
        )
    return text


def check_text(value: str, field: str, *, source: str | None = None) -> str:
    """Free text (a substance name, a note) normalised to NFC, with no hidden characters.

    The invisible-character rules of :func:`check_identifier` only: bidirectional
    controls, format (Cf), control (Cc), separator (Zl, Zp), private-use and unassigned
    characters are refused; any visible character is allowed. Raises
    :class:`IdentifierError` naming the character by code point and name.
    """
    where = f"{source}: " if source else ""
    text = unicodedata.normalize("NFC", value)
    for index, char in enumerate(text):
        if char in BIDI_CONTROLS or unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            kind = ("a bidirectional control" if char in BIDI_CONTROLS
                    else "an invisible or control character")
            raise IdentifierError(
                f"{where}{field} {text!r} holds {_describe(char)} at position {index + 1} "
                f"({kind})"
            )
    return text


# --- spreadsheet cells ---------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# A plain decimal number ("-3.20", "+1e-5") is read by a spreadsheet as that number and
# cannot hold a formula: left as it is, so numeric columns stay numeric.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def spreadsheet_safe(cell: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula.

    A string that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading single quote (OWASP, "CSV Injection"): ``"=HYPERLINK(...)"`` becomes
    ``"'=HYPERLINK(...)"``. Other strings, and strings that are a plain decimal number
    (``"-3.20"``, read by a spreadsheet as that number), are returned unchanged; so are
    values that are not strings (numbers written by us as numbers, ``None``), so that
    :mod:`csv` writes them exactly as before.
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        if not _PLAIN_NUMBER.fullmatch(cell):
            return "'" + cell
    return cell


def spreadsheet_safe_row(row: Mapping[str, Any] | Iterable[Any]) -> Any:
    """:func:`spreadsheet_safe` on every cell of a row (a dict for DictWriter, or a list).

    A carriage return inside a text cell is also written as a line feed: :mod:`csv`
    quotes a cell only for the writer's own line terminator, so with LF line ends a bare
    CR goes unquoted and a spreadsheet starts a new row there (``E7``, CR, ``=cmd|...``
    would put a formula at the start of a row). As LF the break stays in the quoted cell.
    """
    if isinstance(row, Mapping):
        return {key: _one_cell(value) for key, value in row.items()}
    return [_one_cell(value) for value in row]


def _one_cell(value: Any) -> Any:
    value = spreadsheet_safe(value)  # first: a leading CR is a formula trigger
    if isinstance(value, str) and "\r" in value:
        return value.replace("\r\n", "\n").replace("\r", "\n")
    return value
