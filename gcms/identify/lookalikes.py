"""Lookalike groups and chemical ambiguities: what an identification must be qualified with.

The data live in ``gcms/identify/lookalikes.toml`` (see its header for the format and
sources); :func:`load_lookalikes` reads and checks it, or a laboratory's own file of the
same format, with :func:`gcms.config.from_table` (an unknown key is refused with the closest
known one) and records its source and SHA-256.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from gcms.config import Document, from_table, parse_toml, read_toml
from gcms.errors import CriteriaError
from gcms.identify.substance import Substance, name_key

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
    """Every lookalike group and ambiguity of one data file, with its origin and SHA-256."""

    groups: tuple[LookalikeGroup, ...]
    ambiguities: tuple[Ambiguity, ...]
    source: str
    sha256: str = ""

    def groups_of(self, substance: Substance) -> tuple[LookalikeGroup, ...]:
        """The groups ``substance`` belongs to."""
        return tuple(g for g in self.groups if g.member_of(substance) is not None)


# ------------------------------------------------------------------ the file's tables
# The keys, types and "did you mean" of gcms.config.from_table; the converters below are
# the rules of their own (names not blank, a group of two members or more).
def _text(origin: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CriteriaError(f"{origin}: {key}: missing or not a string")
    return value.strip()


def _names(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise CriteriaError(f"{origin}: {key}: must be a non-empty list of names, got {value!r}")
    return tuple(v.strip() for v in value)


def _members(origin: str, key: str, value: Any) -> tuple[str, ...]:
    members = _names(origin, key, value)
    if len(members) < 2:
        raise CriteriaError(f"{origin}: {key}: a group needs two members or more")
    return members


def _triggers(origin: str, key: str, value: Any) -> tuple[tuple[str, ...], ...]:
    if not isinstance(value, list) or not value:
        raise CriteriaError(f"{origin}: {key}: must be a list of name lists")
    return tuple(_names(origin, f"{key}[{j}]", t) for j, t in enumerate(value))


@dataclass(frozen=True, slots=True)
class _GroupTable:
    name: str = field(metadata={"convert": _text})
    members: tuple[str, ...] = field(metadata={"convert": _members})
    statement: str = field(metadata={"convert": _text})


@dataclass(frozen=True, slots=True)
class _AmbiguityTable:
    name: str = field(metadata={"convert": _text})
    triggers: tuple[tuple[str, ...], ...] = field(metadata={"convert": _triggers})
    statement: str = field(metadata={"convert": _text})


@dataclass(frozen=True, slots=True)
class _LookalikesFile:
    """A lookalike data file's tables, as :func:`gcms.config.from_table` checks them."""

    lookalike: tuple[_GroupTable, ...] = ()
    ambiguity: tuple[_AmbiguityTable, ...] = ()


def _parse(document: Document) -> Lookalikes:
    parsed = from_table(_LookalikesFile, document.data, origin=document.source,
                        error=CriteriaError)
    return Lookalikes(tuple(LookalikeGroup(g.name, g.members, g.statement)
                            for g in parsed.lookalike),
                      tuple(Ambiguity(a.name, a.triggers, a.statement)
                            for a in parsed.ambiguity),
                      document.source, document.sha256)


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
        The groups (substances a spectrum alone does not tell apart, and what does),
        with the file's source and the SHA-256 of its bytes.

    Raises
    ------
    CriteriaError
        Unreadable file, invalid TOML, an unknown key (with "did you mean"), or a
        malformed group (named).
    """
    if path is None:
        if "shipped" not in _CACHE:
            raw = (resources.files("gcms.identify") / "lookalikes.toml").read_bytes()
            _CACHE["shipped"] = _parse(parse_toml(raw, source="lookalikes.toml (shipped)",
                                                  error=CriteriaError))
        return _CACHE["shipped"]
    return _parse(read_toml(path, error=CriteriaError))
