"""Target lists: the substances a method is for, and under which law each is controlled.

A court reads a report's conclusion as the laboratory's finding. A library search names
whatever the library holds (solvents, column bleed, plasticisers); the conclusion must
speak only of the substances the method was validated for: its *target list*. Each
target names a substance (name, synonyms, InChIKey, CAS) and its controlled status per
jurisdiction; optional retention windows let a second search, restricted to the targets,
find a target that is not among the ten best hits of a large library.

Two lists ship with gcms (``gcms/data/targets``, as JSON data: the same tables as the
TOML schema below): ``un-conventions`` (the substances
forensic drug laboratories meet most, with their schedules under the UN Single
Convention 1961 and the Convention on Psychotropic Substances 1971, from the INCB Yellow
and Green Lists, editions stated in the file) and ``adulterants`` (cutting agents, not
controlled). A laboratory adds its national schedule in its own file, listed after
them: a substance already listed (same name, synonym, CAS or InChIKey) gains the new
jurisdictions and synonyms, a new one is added.

A laboratory's own list is TOML (or JSON, by the ``.json`` suffix). Schema (unknown keys
are refused, with "did you mean")::

    [list]         name, title, date, note
    [[source]]     id (the key ``controlled`` tables use, e.g. "UN 1971"), title,
                   document, edition, date, url
    [[substance]]  name (required), synonyms, inchikey, smiles, cas,
                   controlled = { "<source id>" = "Schedule IV", ... }, note,
                   rt_s, rt_window_s, ri, ri_window

Every file read is hashed (SHA-256) and recorded with the criteria profile that names it
(:meth:`TargetList.to_dict`), as the profile itself is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gcms.config import Document, did_you_mean, from_table, limits, read_toml, search_path
from gcms.errors import CriteriaError
from gcms.identify.substance import Substance

__all__ = ["Target", "TargetList", "available_target_lists", "load_targets"]

@dataclass(frozen=True, slots=True)
class Target:
    """One substance of a target list, with its controlled status per jurisdiction.

    ``controlled``: ``((source id, schedule), ...)``; empty for a substance in the
    method's scope that no listed jurisdiction controls. ``rt_s``/``rt_window_s`` and
    ``ri``/``ri_window``: where the targeted search looks for it (either, both or none).
    """

    substance: Substance
    controlled: tuple[tuple[str, str], ...] = ()
    note: str = ""
    smiles: str | None = None
    rt_s: float | None = None
    rt_window_s: float | None = None
    ri: float | None = None
    ri_window: float | None = None
    lists: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The target's name."""
        return self.substance.name

    def within_windows(self, rt_s: float, ri: float | None) -> bool:
        """Whether a component at ``rt_s`` (and ``ri``) lies in the target's windows.

        A target without windows accepts every component; with an RI window and no RI
        for the component only the RT window (if any) decides.
        """
        if self.rt_s is not None and self.rt_window_s is not None:
            if abs(rt_s - self.rt_s) > self.rt_window_s:
                return False
        if (self.ri is not None and self.ri_window is not None and ri is not None
                and math.isfinite(ri) and abs(ri - self.ri) > self.ri_window):
            return False
        return True


@dataclass(frozen=True, slots=True)
class TargetList:
    """The targets of one or more list files, merged (see the module docstring)."""

    targets: tuple[Target, ...] = ()
    sources: tuple[Mapping[str, str], ...] = ()
    files: tuple[Mapping[str, Any], ...] = field(default=())

    def find(self, substance: Substance) -> Target | None:
        """The target that is ``substance`` (same name, synonym, CAS or InChIKey)."""
        return next((t for t in self.targets if t.substance.same_as(substance)), None)

    def describe(self, source_id: str) -> str:
        """A jurisdiction in words: its title and the list (edition) it was taken from."""
        source = next((s for s in self.sources if s.get("id") == source_id), None)
        if source is None:
            return source_id
        where = ", ".join(v for v in (source.get("document"), source.get("edition")) if v)
        return f"{source.get('title') or source_id}" + (f" ({where})" if where else "")

    def controlled_under(self, target: Target) -> list[str]:
        """``["Convention on Psychotropic Substances, 1971: Schedule IV", ...]``."""
        return [f"{self._title(source)}: {schedule}" for source, schedule in target.controlled]

    def _title(self, source_id: str) -> str:
        source = next((s for s in self.sources if s.get("id") == source_id), None)
        return (source or {}).get("title") or source_id

    def scope(self, substance: Substance) -> dict[str, Any]:
        """The facts a finding carries: in scope or not, and controlled under what."""
        target = self.find(substance)
        if target is None:
            return {"in_scope": False, "target": None, "controlled": [], "note": None,
                    "target_lists": [f["name"] for f in self.files]}
        return {"in_scope": True, "target": target.name,
                "controlled": self.controlled_under(target),
                "schedules": [{"source": s, "schedule": v, "basis": self.describe(s)}
                              for s, v in target.controlled],
                "note": target.note or None, "target_lists": list(target.lists)}

    def to_dict(self) -> dict[str, Any]:
        """JSON form for results: the files (with SHA-256), their sources, the count."""
        return {"files": [dict(f) for f in self.files],
                "sources": [dict(s) for s in self.sources],
                "n_substances": len(self.targets)}


# --------------------------------------------------------------------------- reading
def _shipped() -> dict[str, Path]:
    (folder,) = search_path("targets")
    return {path.stem: path for path in sorted(folder.glob("*.json"))}


def available_target_lists() -> tuple[str, ...]:
    """Names of the target lists shipped with gcms.

    Returns
    -------
    tuple of str
        The names :func:`load_targets` accepts, sorted.
    """
    return tuple(sorted(_shipped()))


def _text(origin: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CriteriaError(f"{origin}: {key}: must be a non-empty string, got {value!r}")
    return value.strip()


def _any_text(origin: str, key: str, value: Any) -> str:
    """A source's facts: any value, written as text (a TOML date reads as its ISO form)."""
    return _text(origin, key, str(value))


def _as_is(origin: str, key: str, value: Any) -> Any:
    return value


def _note(origin: str, key: str, value: Any) -> str:
    return str(value)


def _names(origin: str, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise CriteriaError(f"{origin}: {key}: must be a list of names")
    return tuple(_text(origin, key, s) for s in value)


def _inchikey(origin: str, key: str, value: Any) -> str:
    text = _text(origin, key, value).upper()
    parts = text.split("-")
    if len(parts) != 3 or [len(p) for p in parts] != [14, 10, 1] or not all(
            p.isalpha() for p in parts):
        raise CriteriaError(f"{origin}: {key}: {value!r} is not an InChIKey "
                            f"(14-10-1 capital letters)")
    return text


def _schedules(origin: str, key: str, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        raise CriteriaError(f"{origin}: {key}: must be a table "
                            f"{{\"<source id>\" = \"Schedule ...\"}}")
    return tuple((source, _text(origin, f"{key}.{source}", schedule))
                 for source, schedule in value.items())


_WINDOW = limits(0, None, low_open=True)


@dataclass(frozen=True, slots=True)
class _Header:
    """``[list]``: the list's name (default: the file's stem) and what it records as is."""

    name: str | None = field(default=None, metadata={"convert": _text})
    title: Any = field(default=None, metadata={"convert": _as_is})
    date: Any = field(default=None, metadata={"convert": _as_is})
    note: Any = field(default=None, metadata={"convert": _as_is})


@dataclass(frozen=True, slots=True)
class _Source:
    """``[[source]]``: a jurisdiction's list, by the id ``controlled`` tables use."""

    id: str = field(metadata={"convert": _any_text})
    title: str | None = field(default=None, metadata={"convert": _any_text})
    document: str | None = field(default=None, metadata={"convert": _any_text})
    edition: str | None = field(default=None, metadata={"convert": _any_text})
    date: str | None = field(default=None, metadata={"convert": _any_text})
    url: str | None = field(default=None, metadata={"convert": _any_text})


@dataclass(frozen=True, slots=True)
class _Entry:
    """``[[substance]]`` as written (checked against the sources once all are read)."""

    name: str = field(metadata={"convert": _text})
    synonyms: tuple[str, ...] = field(default=(), metadata={"convert": _names})
    inchikey: str | None = field(default=None, metadata={"convert": _inchikey})
    smiles: str | None = field(default=None, metadata={"convert": _text})
    cas: str | None = field(default=None, metadata={"convert": _text})
    controlled: tuple[tuple[str, str], ...] = field(default=(),
                                                    metadata={"convert": _schedules})
    note: str = field(default="", metadata={"convert": _note})
    rt_s: float | None = None
    rt_window_s: float | None = field(default=None, metadata=_WINDOW)
    ri: float | None = None
    ri_window: float | None = field(default=None, metadata=_WINDOW)


@dataclass(frozen=True, slots=True)
class _TargetFile:
    list: _Header = field(default_factory=_Header)
    source: tuple[_Source, ...] = ()
    substance: tuple[_Entry, ...] = ()


def _target(origin: str, index: int, entry: _Entry, list_name: str,
            source_ids: set[str]) -> Target:
    where = f"substance {entry.name!r}"
    for source, _ in entry.controlled:
        if source not in source_ids:
            raise CriteriaError(
                f"{origin}: {where}.controlled: {source!r} is not a [[source]] id of the "
                f"target lists read{did_you_mean(source, sorted(source_ids))}"
                f"; known: {', '.join(sorted(source_ids)) or 'none'}")
    for centre, window in (("rt_s", "rt_window_s"), ("ri", "ri_window")):
        if (getattr(entry, centre) is None) != (getattr(entry, window) is None):
            raise CriteriaError(f"{origin}: {where}: {centre} and {window} go together")
    return Target(
        substance=Substance(name=entry.name, synonyms=entry.synonyms, cas=entry.cas,
                            inchikey=entry.inchikey),
        controlled=entry.controlled, note=entry.note, smiles=entry.smiles,
        rt_s=entry.rt_s, rt_window_s=entry.rt_window_s, ri=entry.ri, ri_window=entry.ri_window,
        lists=(list_name,))


def _merge(old: Target, new: Target) -> Target:
    """A later list's entry for a listed substance: its jurisdictions and synonyms added."""
    synonyms = tuple(dict.fromkeys((*old.substance.synonyms,
                                    *([new.substance.name]
                                      if not old.substance.matches_name(new.substance.name)
                                      else []),
                                    *new.substance.synonyms)))
    substance = replace(old.substance, synonyms=synonyms,
                        cas=old.substance.cas or new.substance.cas,
                        inchikey=old.substance.inchikey or new.substance.inchikey)
    controlled = dict(old.controlled)
    controlled.update(new.controlled)
    windows = {k: getattr(new, k) if getattr(new, k) is not None else getattr(old, k)
               for k in ("rt_s", "rt_window_s", "ri", "ri_window")}
    note = "; ".join(n for n in (old.note, new.note) if n)
    return replace(old, substance=substance, controlled=tuple(controlled.items()), note=note,
                   smiles=old.smiles or new.smiles, lists=(*old.lists, *new.lists), **windows)


def _read(item: str | os.PathLike, relative_to: Path | None) -> Document:
    """A target list as read: its tables, source and SHA-256 (JSON by name, else TOML)."""
    shipped = _shipped()
    if isinstance(item, str) and item in shipped:
        return _json(f"{item} (shipped target list)", shipped[item].read_bytes())
    path = Path(item)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    if not path.is_file():
        raise CriteriaError(f"{item}: no such target list (shipped: "
                            f"{', '.join(sorted(shipped))}; or give a .toml or .json path)")
    if path.suffix != ".json":
        return read_toml(path, error=CriteriaError)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CriteriaError(f"{path}: cannot read: {error.strerror or error}") from error
    return _json(str(path), raw)


def _json(origin: str, raw: bytes) -> Document:
    """A target list in JSON (the shipped lists, any ``.json`` file): the same tables."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise CriteriaError(f"{origin}: not UTF-8 text ({error})") from error
    except json.JSONDecodeError as error:
        raise CriteriaError(f"{origin}: invalid JSON: {error}") from error
    return Document(data, origin, hashlib.sha256(raw).hexdigest())


def load_targets(items: Sequence[str | os.PathLike], *,
                 relative_to: str | os.PathLike | None = None) -> TargetList:
    """Read and merge target lists: shipped names (``"un-conventions"``) or TOML paths.

    Relative paths are taken from ``relative_to`` (the folder of the profile naming
    them). Later lists add to earlier ones (module docstring). Each file is recorded
    with the SHA-256 of its bytes.

    Parameters
    ----------
    items : sequence of str or os.PathLike
        Shipped names (:func:`available_target_lists`) and paths, merged in order.
    relative_to : str or os.PathLike, optional
        The folder relative paths are read from.

    Returns
    -------
    TargetList
        The merged targets, each with its sources, and the files read with their
        SHA-256.

    Raises
    ------
    CriteriaError
        Naming the file and the key: unreadable file, invalid TOML, unknown key (with
        "did you mean"), a ``controlled`` entry naming no ``[[source]]``, a malformed
        InChIKey.
    """
    base = Path(relative_to) if relative_to is not None else None
    targets: list[Target] = []
    sources: list[Mapping[str, str]] = []
    files: list[dict[str, Any]] = []
    for item in items:
        document = _read(item, base)
        origin, data = document.source, document.data
        parsed = from_table(_TargetFile, data, origin=origin, error=CriteriaError)
        header = parsed.list
        name = header.name if header.name is not None else _text(origin, "list.name",
                                                                  Path(origin).stem)
        for table, source in zip(data.get("source", []), parsed.source, strict=True):
            facts = {k: getattr(source, k) for k in table}  # in the file's order
            if any(s["id"] == facts["id"] for s in sources):
                raise CriteriaError(f"{origin}: source {facts['id']!r} is defined twice")
            sources.append(facts)
        ids = {s["id"] for s in sources}
        for index, entry in enumerate(parsed.substance):
            target = _target(origin, index, entry, name, ids)
            at = next((i for i, t in enumerate(targets)
                       if t.substance.same_as(target.substance)), None)
            if at is None:
                targets.append(target)
            else:
                targets[at] = _merge(targets[at], target)
        files.append({"name": name, "source": origin, "sha256": document.sha256,
                      "title": header.title, "date": header.date,
                      "n_substances": len(parsed.substance)})
    return TargetList(tuple(targets), tuple(sources), tuple(files))
