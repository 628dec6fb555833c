"""The wording of reports, from translation files a laboratory can edit.

Each language is a TOML file ``translations/<language>.toml`` shipped in the package::

    [meta]
    language = "ar"
    direction = "rtl"            # ltr or rtl: the layout of the whole report
    name = "العربية"

    [text]                       # every sentence and label of a report
    title = "تقرير فحص مخدرات مضبوطة"
    identified = "تم التعرف على: {substances}."

Names of substances in that language are a CSV beside it,
``translations/<language>.substances.csv`` (columns ``name,translation``; the name as the
library spells it, matched without regard to case) — a long list a laboratory keeps in a
spreadsheet, apart from the sentences.

A laboratory changes the wording by putting its own ``<language>.toml`` and/or
``<language>.substances.csv`` in a folder (``--translations DIR`` or ``translations`` in
the lab profile): its ``[text]`` keys replace the packaged ones, one by one, and its
substance names are added to (or replace) the packaged ones. A key that the package
does not know, or a sentence whose ``{placeholders}`` differ from the packaged
sentence's, is refused with the file and the key named, so an edited file cannot
silently drop a fact (a substance list, a page count) from the report. A new language
is a new file with every key of ``en.toml``.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import string
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gcms.errors import ProfileError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Wording", "available_languages", "load_wording"]

_PACKAGE = "gcms.report"
_DIRECTIONS = ("ltr", "rtl")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]+)?")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@dataclass(frozen=True, slots=True)
class Wording:
    """The sentences of one language; call it with a key and the values to fill in."""

    language: str
    direction: str
    name: str
    text: Mapping[str, str]
    substances: Mapping[str, str]
    source: str

    def __call__(self, key: str, /, **values: Any) -> str:
        """The sentence ``key`` with ``{placeholders}`` filled from ``values``."""
        try:
            template = self.text[key]
        except KeyError:
            raise ProfileError(f"{self.source}: no sentence {key!r}") from None
        return template.format(**values) if values else template

    @property
    def rtl(self) -> bool:
        """Whether the language is written right to left."""
        return self.direction == "rtl"

    def substance(self, name: str) -> str:
        """A substance's name in this language, with the library name beside it.

        ``"أمفيتامين (Amphetamine)"`` where the file names it, the library name alone
        otherwise (and always in languages written in Latin script).
        """
        local = self.substances.get(name.casefold())
        if local is None or local.casefold() == name.casefold():
            return name
        return f"{local} ({name})"


def _read_toml(path: Path | str, data: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path}: not a readable TOML translation file ({error})") from None


def _packaged(language: str) -> tuple[str, dict[str, Any]]:
    resource = resources.files(_PACKAGE).joinpath("translations", f"{language}.toml")
    if not resource.is_file():
        raise ProfileError(f"language {language!r}: no translation file (available: "
                           f"{', '.join(available_languages())})")
    return str(resource), _read_toml(str(resource), resource.read_bytes())


def available_languages() -> tuple[str, ...]:
    """Languages the package ships a translation file for."""
    folder = resources.files(_PACKAGE).joinpath("translations")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))


def _read_substances(source: str, data: bytes) -> dict[str, str]:
    """Substance names of a ``<language>.substances.csv`` file, keyed by casefolded name."""
    try:
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    except (UnicodeDecodeError, csv.Error) as error:
        raise ProfileError(f"{source}: not a readable UTF-8 CSV file ({error})") from None
    if not rows or [c.strip().lower() for c in rows[0]] != ["name", "translation"]:
        raise ProfileError(f"{source}: the first line must be the header name,translation")
    names: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise ProfileError(f"{source}: line {number}: expected a name and its translation")
        names[row[0].strip().casefold()] = row[1].strip()
    return names


def _packaged_substances(language: str) -> tuple[str, dict[str, str]]:
    resource = resources.files(_PACKAGE).joinpath("translations",
                                                  f"{language}.substances.csv")
    if not resource.is_file():
        return str(resource), {}
    return str(resource), _read_substances(str(resource), resource.read_bytes())


def _table(data: Mapping[str, Any], name: str, source: str) -> dict[str, str]:
    table = data.get(name, {})
    if not isinstance(table, Mapping):
        raise ProfileError(f"{source}: [{name}] must be a table")
    for key, value in table.items():
        if not isinstance(value, str):
            raise ProfileError(f"{source}: {name}.{key} must be text, got {value!r}")
    return dict(table)


def load_wording(language: str, *, directory: str | os.PathLike | None = None) -> Wording:
    """The wording of ``language``: the packaged file, overridden by ``DIRECTORY/<lang>.toml``.

    Raises
    ------
    ProfileError
        Unknown language; an unreadable file; an override key the package does not know
        (with the closest known key); a sentence whose placeholders differ from the
        packaged one; a direction other than ltr/rtl.
    """
    if not _LANGUAGE.fullmatch(language):
        raise ProfileError(f"language {language!r}: expected a code such as en or ar")
    english_source, english = _packaged("en")
    reference = _table(english, "text", english_source)
    source, data = _packaged(language)
    meta = data.get("meta", {})
    text = _table(data, "text", source)
    substances = _packaged_substances(language)[1]
    sources = [source]
    if directory is not None:
        path = Path(directory) / f"{language}.toml"
        if path.is_file():
            override = _read_toml(path, path.read_bytes())
            unknown = set(override) - {"meta", "text"}
            if unknown:
                raise ProfileError(f"{path}: unknown table(s) {', '.join(sorted(unknown))}")
            for key, value in _table(override, "text", str(path)).items():
                if key not in reference:
                    close = difflib.get_close_matches(key, reference, n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ProfileError(f"{path}: text.{key} is not a report sentence{hint}")
                text[key] = value
            meta = {**meta, **override.get("meta", {})}
            sources.append(str(path))
        names = Path(directory) / f"{language}.substances.csv"
        if names.is_file():
            substances.update(_read_substances(str(names), names.read_bytes()))
            sources.append(str(names))
    where = " + ".join(sources)
    missing = sorted(set(reference) - set(text))
    if missing:
        raise ProfileError(f"{where}: missing sentence(s) {', '.join(missing[:5])}"
                           f"{' ...' if len(missing) > 5 else ''}")
    for key, template in text.items():
        if key not in reference:
            raise ProfileError(f"{where}: text.{key} is not a report sentence")
        try:
            mine = _placeholders(template)
        except ValueError as error:
            raise ProfileError(f"{where}: text.{key}: {error}") from None
        if mine != _placeholders(reference[key]):
            raise ProfileError(
                f"{where}: text.{key} has placeholders {sorted(mine)}, the report "
                f"fills {sorted(_placeholders(reference[key]))}")
    direction = meta.get("direction", "ltr")
    if direction not in _DIRECTIONS:
        raise ProfileError(f"{where}: meta.direction {direction!r} is not ltr or rtl")
    return Wording(language=language, direction=direction, name=str(meta.get("name", language)),
                   text=MappingProxyType(text), substances=MappingProxyType(substances),
                   source=where)
