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

import difflib
import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from gcms.errors import CriteriaError
from gcms.identify.substance import Substance

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["Target", "TargetList", "available_target_lists", "load_targets"]

_LIST_KEYS = ("name", "title", "date", "note")
_SOURCE_KEYS = ("id", "title", "document", "edition", "date", "url")
_SUBSTANCE_KEYS = ("name", "synonyms", "inchikey", "smiles", "cas", "controlled", "note",
                   "rt_s", "rt_window_s", "ri", "ri_window")


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
def _shipped() -> dict[str, Any]:
    folder = resources.files("gcms") / "data" / "targets"
    return {entry.name[:-5]: entry for entry in folder.iterdir() if entry.name.endswith(".json")}


def available_target_lists() -> tuple[str, ...]:
    """Names of the target lists shipped with gcms."""
    return tuple(sorted(_shipped()))


def _unknown(origin: str, where: str, key: str, known: tuple[str, ...]) -> CriteriaError:
    hint = difflib.get_close_matches(key, known, n=1)
    suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
    return CriteriaError(f"{origin}: {where}{key}: unknown key{suggestion}; known: "
                         f"{', '.join(known)}")


def _text(origin: str, key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CriteriaError(f"{origin}: {key}: must be a non-empty string, got {value!r}")
    return value.strip()


def _float(origin: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise CriteriaError(f"{origin}: {key}: must be a finite number, got {value!r}")
    return float(value)


def _check_keys(origin: str, where: str, table: Any, known: tuple[str, ...]) -> Mapping:
    if not isinstance(table, Mapping):
        raise CriteriaError(f"{origin}: {where}: must be a table, got {table!r}")
    for key in table:
        if key not in known:
            raise _unknown(origin, f"{where}.", key, known)
    return table


def _inchikey(origin: str, key: str, value: Any) -> str:
    text = _text(origin, key, value).upper()
    parts = text.split("-")
    if len(parts) != 3 or [len(p) for p in parts] != [14, 10, 1] or not all(
            p.isalpha() for p in parts):
        raise CriteriaError(f"{origin}: {key}: {value!r} is not an InChIKey "
                            f"(14-10-1 capital letters)")
    return text


def _target(origin: str, index: int, table: Any, list_name: str,
            source_ids: set[str]) -> Target:
    where = f"substance[{index}]"
    table = _check_keys(origin, where, table, _SUBSTANCE_KEYS)
    if "name" not in table:
        raise CriteriaError(f"{origin}: {where}.name: missing")
    name = _text(origin, f"{where}.name", table["name"])
    where = f"substance {name!r}"
    synonyms = table.get("synonyms", [])
    if not isinstance(synonyms, list):
        raise CriteriaError(f"{origin}: {where}.synonyms: must be a list of names")
    synonyms = tuple(_text(origin, f"{where}.synonyms", s) for s in synonyms)
    controlled = table.get("controlled", {})
    if not isinstance(controlled, Mapping):
        raise CriteriaError(f"{origin}: {where}.controlled: must be a table "
                            f"{{\"<source id>\" = \"Schedule ...\"}}")
    schedules = []
    for source, schedule in controlled.items():
        if source not in source_ids:
            hint = difflib.get_close_matches(source, sorted(source_ids), n=1)
            raise CriteriaError(
                f"{origin}: {where}.controlled: {source!r} is not a [[source]] id of the "
                f"target lists read" + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + f"; known: {', '.join(sorted(source_ids)) or 'none'}")
        schedules.append((source, _text(origin, f"{where}.controlled.{source}", schedule)))
    numbers = {k: _float(origin, f"{where}.{k}", table[k])
               for k in ("rt_s", "rt_window_s", "ri", "ri_window") if k in table}
    for centre, window in (("rt_s", "rt_window_s"), ("ri", "ri_window")):
        if (centre in numbers) != (window in numbers):
            raise CriteriaError(f"{origin}: {where}: {centre} and {window} go together")
        if numbers.get(window, 1.0) <= 0:
            raise CriteriaError(f"{origin}: {where}.{window}: must be > 0")
    return Target(
        substance=Substance(
            name=name, synonyms=synonyms,
            cas=_text(origin, f"{where}.cas", table["cas"]) if "cas" in table else None,
            inchikey=(_inchikey(origin, f"{where}.inchikey", table["inchikey"])
                      if "inchikey" in table else None)),
        controlled=tuple(schedules), note=str(table.get("note", "")),
        smiles=_text(origin, f"{where}.smiles", table["smiles"]) if "smiles" in table else None,
        lists=(list_name,), **numbers)


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


def _read(item: str | os.PathLike, relative_to: Path | None) -> tuple[str, bytes]:
    shipped = _shipped()
    if isinstance(item, str) and item in shipped:
        return f"{item} (shipped target list)", shipped[item].read_bytes()
    path = Path(item)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    if not path.is_file():
        raise CriteriaError(f"{item}: no such target list (shipped: "
                            f"{', '.join(sorted(shipped))}; or give a .toml or .json path)")
    try:
        return str(path), path.read_bytes()
    except OSError as error:
        raise CriteriaError(f"{path}: cannot read: {error.strerror or error}") from error


def _parse(origin: str, raw: bytes) -> Any:
    """A target list's tables: JSON (the shipped lists, any ``.json`` file) or TOML."""
    try:
        text = raw.decode("utf-8")
        if origin.endswith((".json", "(shipped target list)")):
            return json.loads(text)
        return tomllib.loads(text)
    except UnicodeDecodeError as error:
        raise CriteriaError(f"{origin}: not UTF-8 text ({error})") from error
    except json.JSONDecodeError as error:
        raise CriteriaError(f"{origin}: invalid JSON: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise CriteriaError(f"{origin}: invalid TOML: {error}") from error


def load_targets(items: Sequence[str | os.PathLike], *,
                 relative_to: str | os.PathLike | None = None) -> TargetList:
    """Read and merge target lists: shipped names (``"un-conventions"``) or TOML paths.

    Relative paths are taken from ``relative_to`` (the folder of the profile naming
    them). Later lists add to earlier ones (module docstring).

    Raises
    ------
    CriteriaError
        Naming the file and the key: unreadable file, invalid TOML, unknown key, a
        ``controlled`` entry naming no ``[[source]]``, a malformed InChIKey.
    """
    base = Path(relative_to) if relative_to is not None else None
    targets: list[Target] = []
    sources: list[Mapping[str, str]] = []
    files: list[dict[str, Any]] = []
    for item in items:
        origin, raw = _read(item, base)
        data = _parse(origin, raw)
        _check_keys(origin, "", data, ("list", "source", "substance"))
        header = _check_keys(origin, "[list]", data.get("list", {}), _LIST_KEYS)
        name = _text(origin, "list.name", header.get("name", Path(origin).stem))
        for index, table in enumerate(data.get("source", [])):
            table = _check_keys(origin, f"source[{index}]", table, _SOURCE_KEYS)
            entry = {k: _text(origin, f"source[{index}].{k}", str(v)) for k, v in table.items()}
            if "id" not in entry:
                raise CriteriaError(f"{origin}: source[{index}].id: missing")
            if any(s["id"] == entry["id"] for s in sources):
                raise CriteriaError(f"{origin}: source {entry['id']!r} is defined twice")
            sources.append(entry)
        ids = {s["id"] for s in sources}
        substances = data.get("substance", [])
        if not isinstance(substances, list):
            raise CriteriaError(f"{origin}: substance: must be [[substance]] tables")
        for index, table in enumerate(substances):
            target = _target(origin, index, table, name, ids)
            at = next((i for i, t in enumerate(targets)
                       if t.substance.same_as(target.substance)), None)
            if at is None:
                targets.append(target)
            else:
                targets[at] = _merge(targets[at], target)
        files.append({"name": name, "source": origin, "sha256": hashlib.sha256(raw).hexdigest(),
                      "title": header.get("title"), "date": header.get("date"),
                      "n_substances": len(substances)})
    return TargetList(tuple(targets), tuple(sources), tuple(files))
