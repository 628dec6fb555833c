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

The tables and their keys are checked by :func:`gcms.config.from_table` (an unknown key
is refused with the closest known one), and every file read is recorded with the
SHA-256 of its bytes (:attr:`Wording.files`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from gcms.config import Document, did_you_mean, from_table, parse_toml, read_toml
from gcms.errors import ProfileError

__all__ = ["Wording", "available_languages", "load_wording"]

_PACKAGE = "gcms.report"
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
    #: Every file read, first first: ``(source, SHA-256 of its bytes)``.
    files: tuple[tuple[str, str], ...] = ()

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


@dataclass(frozen=True, slots=True)
class _Meta:
    """The ``[meta]`` table (None: not given; an override keeps the packaged value)."""

    language: str | None = None
    direction: Literal["ltr", "rtl"] | None = None
    name: str | None = None


def _no_substances(origin: str, key: str, value: Any) -> None:
    """``[substances]``: names once lived here; an empty table (en.toml's) is allowed."""
    if not isinstance(value, Mapping) or value:
        raise ProfileError(f"{origin}: {key}: substance names go in the file "
                           "<language>.substances.csv beside it (columns name,translation)")


@dataclass(frozen=True, slots=True)
class _TranslationFile:
    """A translation file's tables, as :func:`gcms.config.from_table` checks them."""

    meta: _Meta = field(default_factory=_Meta)
    text: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    substances: None = field(default=None, metadata={"convert": _no_substances})


def _parse(document: Document) -> _TranslationFile:
    return from_table(_TranslationFile, document.data, origin=document.source,
                      error=ProfileError)


def _packaged(language: str) -> Document:
    resource = resources.files(_PACKAGE).joinpath("translations", f"{language}.toml")
    if not resource.is_file():
        raise ProfileError(f"language {language!r}: no translation file (available: "
                           f"{', '.join(available_languages())})")
    return parse_toml(resource.read_bytes(), source=str(resource), error=ProfileError)


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


def _packaged_substances(language: str) -> tuple[str, bytes | None]:
    resource = resources.files(_PACKAGE).joinpath("translations",
                                                  f"{language}.substances.csv")
    return str(resource), resource.read_bytes() if resource.is_file() else None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
    reference = _parse(_packaged("en")).text
    document = _packaged(language)
    packaged = _parse(document)
    meta = {k: getattr(packaged.meta, k) for k in ("language", "direction", "name")}
    text = dict(packaged.text)
    files = [(document.source, document.sha256)]
    csv_source, csv_bytes = _packaged_substances(language)
    substances = {} if csv_bytes is None else _read_substances(csv_source, csv_bytes)
    if csv_bytes is not None:
        files.append((csv_source, _sha256(csv_bytes)))
    sources = [document.source]
    if directory is not None:
        path = Path(directory) / f"{language}.toml"
        if path.is_file():
            override = read_toml(path, error=ProfileError)
            parsed = _parse(override)
            for key, value in parsed.text.items():
                if key not in reference:
                    raise ProfileError(f"{path}: text.{key} is not a report sentence"
                                       f"{did_you_mean(key, reference)}")
                text[key] = value
            meta.update({k: v for k, v in ((k, getattr(parsed.meta, k)) for k in meta)
                         if v is not None})
            files.append((override.source, override.sha256))
            sources.append(str(path))
        names = Path(directory) / f"{language}.substances.csv"
        if names.is_file():
            raw = names.read_bytes()
            substances.update(_read_substances(str(names), raw))
            files.append((str(names), _sha256(raw)))
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
    return Wording(language=language, direction=meta["direction"] or "ltr",
                   name=meta["name"] or language, text=MappingProxyType(text),
                   substances=MappingProxyType(substances), source=where, files=tuple(files))
