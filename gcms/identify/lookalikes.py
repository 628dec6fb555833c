"""Lookalike groups and chemical ambiguities: what an identification must be qualified with.

The data live in ``gcms/identify/lookalikes.toml`` (see its header for the format and
sources); :func:`load_lookalikes` reads and checks it, or a laboratory's own file of the
same format.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from gcms.errors import CriteriaError
from gcms.identify.substance import Substance, name_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Ambiguity", "LookalikeGroup", "Lookalikes", "load_lookalikes"]


def _spellings(member: str) -> frozenset[str]:
    return frozenset(k for k in (name_key(s) for s in member.split("|")) if k)


def _named(substance: Substance, member: frozenset[str]) -> bool:
    return bool(substance.keys & member)


@dataclass(frozen=True, slots=True)
class LookalikeGroup:
    """Substances whose EI spectra the library match cannot tell apart."""

    name: str
    members: tuple[str, ...]
    statement: str

    def member_of(self, substance: Substance) -> str | None:
        """The member ``substance`` is (its first spelling), or None."""
        for member in self.members:
            if _named(substance, _spellings(member)):
                return member.split("|")[0]
        return None

    def others(self, substance: Substance) -> tuple[str, ...]:
        """The other members' first spellings."""
        return tuple(m.split("|")[0] for m in self.members
                     if not _named(substance, _spellings(m)))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "members": list(self.members), "statement": self.statement}


@dataclass(frozen=True, slots=True)
class Ambiguity:
    """Findings with more than one chemical explanation (e.g. breakdown in the injector)."""

    name: str
    triggers: tuple[tuple[str, ...], ...]
    statement: str

    def triggered_by(self, identified: Iterable[Substance]) -> tuple[str, ...] | None:
        """The first trigger set fully present among ``identified`` (first spellings), or None."""
        found = list(identified)
        for trigger in self.triggers:
            if all(any(_named(s, _spellings(member)) for s in found) for member in trigger):
                return tuple(m.split("|")[0] for m in trigger)
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"name": self.name, "triggers": [list(t) for t in self.triggers],
                "statement": self.statement}


@dataclass(frozen=True, slots=True)
class Lookalikes:
    """Every lookalike group and ambiguity of one data file, with its origin."""

    groups: tuple[LookalikeGroup, ...]
    ambiguities: tuple[Ambiguity, ...]
    source: str

    def groups_of(self, substance: Substance) -> tuple[LookalikeGroup, ...]:
        """The groups ``substance`` belongs to."""
        return tuple(g for g in self.groups if g.member_of(substance) is not None)


def _strings(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise CriteriaError(f"{origin}: {key}: must be a non-empty list of names, got {value!r}")
    return tuple(v.strip() for v in value)


def _text(origin: str, key: str, table: Mapping[str, Any], field: str) -> str:
    value = table.get(field)
    if not isinstance(value, str) or not value.strip():
        raise CriteriaError(f"{origin}: {key}.{field}: missing or not a string")
    return value.strip()


def _parse(data: Mapping[str, Any], origin: str) -> Lookalikes:
    unknown = set(data) - {"lookalike", "ambiguity"}
    if unknown:
        raise CriteriaError(f"{origin}: unknown table(s) {sorted(unknown)} "
                            "(known: lookalike, ambiguity)")
    groups, ambiguities = [], []
    for i, table in enumerate(data.get("lookalike", [])):
        key = f"lookalike[{i}]"
        extra = set(table) - {"name", "members", "statement"}
        if extra:
            raise CriteriaError(f"{origin}: {key}: unknown key(s) {sorted(extra)}")
        members = _strings(origin, f"{key}.members", table.get("members"))
        if len(members) < 2:
            raise CriteriaError(f"{origin}: {key}.members: a group needs two members or more")
        groups.append(LookalikeGroup(_text(origin, key, table, "name"), members,
                                     _text(origin, key, table, "statement")))
    for i, table in enumerate(data.get("ambiguity", [])):
        key = f"ambiguity[{i}]"
        extra = set(table) - {"name", "triggers", "statement"}
        if extra:
            raise CriteriaError(f"{origin}: {key}: unknown key(s) {sorted(extra)}")
        triggers = table.get("triggers")
        if not isinstance(triggers, list) or not triggers:
            raise CriteriaError(f"{origin}: {key}.triggers: must be a list of name lists")
        sets = tuple(_strings(origin, f"{key}.triggers[{j}]", t) for j, t in enumerate(triggers))
        ambiguities.append(Ambiguity(_text(origin, key, table, "name"), sets,
                                     _text(origin, key, table, "statement")))
    return Lookalikes(tuple(groups), tuple(ambiguities), origin)


_CACHE: dict[str, Lookalikes] = {}


def load_lookalikes(path: str | os.PathLike | None = None) -> Lookalikes:
    """Read a lookalike data file; ``None`` gives the one shipped with gcms.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A TOML file of lookalike groups.

    Returns
    -------
    Lookalikes
        The groups (substances a spectrum alone does not tell apart, and what does).

    Raises
    ------
    CriteriaError
        Unreadable file, invalid TOML, or a malformed group (named).
    """
    if path is None:
        if "shipped" not in _CACHE:
            raw = (resources.files("gcms.identify") / "lookalikes.toml").read_bytes()
            _CACHE["shipped"] = _parse(tomllib.loads(raw.decode("utf-8")),
                                       "lookalikes.toml (shipped)")
        return _CACHE["shipped"]
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CriteriaError(f"{path}: cannot read: {error.strerror or error}") from error
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise CriteriaError(f"{path}: invalid TOML: {error}") from error
    return _parse(data, str(path))
