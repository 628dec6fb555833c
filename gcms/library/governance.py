"""Library governance: compare two versions of a library, find duplicates, export.

A lab's library changes (in-house entries added, spectra and names corrected, entries
retired, a new vendor release), and an identification is only as good as the library
version behind it. :func:`diff_libraries` says what changed between two compiled
libraries, entry by entry; :func:`find_duplicates` lists entries of one library that are
the same compound with near-identical spectra; :func:`export_library` writes a compiled
library back as MSP or AMDIS MSL so that NIST MS Search and AMDIS can use it.

Matching entries between versions
    Two entries are the same entry when both carry an InChIKey and the InChIKeys are
    equal (IUPAC InChI Technical Manual: the key identifies the structure). Otherwise,
    when either lacks one, when the normalised names are equal (case-folded, spaces
    collapsed) and, where both state a CAS Registry Number, the CAS numbers are equal.
    Several entries with the same key (replicate spectra of one compound) are paired in
    library order. A CAS correction of an entry without InChIKey therefore shows as one
    entry removed and one added. Among entries with the same key, one with identical
    peaks is paired first, then the others in library order.

Spectrum changes
    A changed spectrum is scored old against new with the project's identity match
    factor (:func:`gcms.library.scores.identity_match_factor`, NIST MS Search "EI Normal";
    Stein & Scott, JASMS 5 (1994) 859): 999 means the change does not alter a search.

Changes (:func:`correct_entry`, :func:`retire_entry`, :func:`add_entries`,
:func:`merge_libraries`) each return a new :class:`Library`, a new version with its own
identity; the case store records each one as a signed audit entry
(:mod:`gcms.custody.libraries`) that another user approves. An entry is never deleted: a
retired entry keeps its spectrum and carries ``{"retired": {...}}`` in its provenance
(reason, who, when), so a hit against it is flagged (:func:`retired_entries`,
:func:`flag_retired_hits`) and a result made with it can still be traced. An entry
absent from the newer library is reported as removed.
"""

from __future__ import annotations

import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from gcms.errors import LibraryError
from gcms.library.scores import identity_match_factor
from gcms.library.store import Library

__all__ = [
    "CORRECTABLE_FIELDS",
    "COMPARED_FIELDS",
    "MergeReport",
    "add_entries",
    "correct_entry",
    "flag_retired_hits",
    "merge_libraries",
    "retire_entry",
    "retired_entries",
    "DUPLICATE_MIN_MF",
    "Duplicate",
    "EntryChange",
    "LibraryDiff",
    "diff_libraries",
    "export_library",
    "find_duplicates",
    "normalise_name",
]

#: Metadata fields compared between matched entries, in the order they are listed.
COMPARED_FIELDS = ("name", "cas", "formula", "inchikey", "mw", "retention_index",
                   "ri_column")
_FLOAT_FIELDS = ("mw", "retention_index")

#: Default MF (0-999) at which two entries with one InChIKey count as duplicates. 900 is
#: the "excellent match" band of NIST MS Search's documentation (MF > 900).
DUPLICATE_MIN_MF = 900


def normalise_name(name: str) -> str:
    """A name as entries are matched by: case-folded, runs of white space as one space."""
    return " ".join(str(name).split()).casefold()


def _value(library: Library, column: str, index: int) -> str | float | None:
    value = library.column(column)[index]
    if column in _FLOAT_FIELDS:
        number = float(value)
        return None if math.isnan(number) else number
    return str(value) or None


@dataclass(frozen=True, slots=True)
class EntryChange:
    """One entry present in both libraries whose spectrum or metadata differs.

    ``fields`` maps each changed field to ``(old, new)``; ``match_factor`` is the MF of
    the new spectrum against the old one (``None`` when the spectrum is unchanged).
    """

    old_index: int
    new_index: int
    name: str | None
    matched_by: str
    fields: dict[str, tuple[Any, Any]]
    match_factor: int | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "old_index": self.old_index, "new_index": self.new_index, "name": self.name,
            "matched_by": self.matched_by,
            "fields": {k: {"old": o, "new": n} for k, (o, n) in self.fields.items()},
            "spectrum_changed": self.match_factor is not None,
            "match_factor": self.match_factor,
        }


def _library_summary(library: Library) -> dict[str, Any]:
    return {
        "path": str(library.path) if library.path else None, "title": library.title,
        "n_entries": len(library), "content_sha256": library.content_sha256,
        "identity_sha256": library.identity_sha256,
    }


def _entry_summary(library: Library, index: int) -> dict[str, Any]:
    return {"index": index, "name": _value(library, "name", index),
            "cas": _value(library, "cas", index),
            "inchikey": _value(library, "inchikey", index)}


@dataclass(slots=True)
class LibraryDiff:
    """What changed from library ``old`` to library ``new`` (:func:`diff_libraries`)."""

    old: dict[str, Any]
    new: dict[str, Any]
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    changed: list[EntryChange] = field(default_factory=list)
    n_unchanged: int = 0
    #: entries retired in ``new`` that were not in ``old`` (kept, flagged: never removed)
    retired: list[dict[str, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Whether no entry was added, removed or changed."""
        return not (self.added or self.removed or self.changed or self.retired)

    def below(self, min_mf: int) -> list[EntryChange]:
        """Changes whose new spectrum scores below ``min_mf`` against the old one."""
        return [c for c in self.changed
                if c.match_factor is not None and c.match_factor < min_mf]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "old": self.old, "new": self.new,
            "counts": {"added": len(self.added), "removed": len(self.removed),
                       "changed": len(self.changed), "retired": len(self.retired),
                       "unchanged": self.n_unchanged},
            "added": self.added, "removed": self.removed, "retired": self.retired,
            "changed": [c.to_dict() for c in self.changed],
        }


def _same_peaks(old: Library, i: int, new: Library, j: int) -> bool:
    mz_a, ab_a = old.peaks.row(i)
    mz_b, ab_b = new.peaks.row(j)
    return np.array_equal(mz_a, mz_b) and np.array_equal(ab_a, ab_b)


def _cas_compatible(old: Library, i: int, new: Library, j: int) -> bool:
    a, b = _value(old, "cas", i), _value(new, "cas", j)
    return a is None or b is None or a == b


def _pairs(old: Library, new: Library) -> list[tuple[int, int, str]]:
    """``(old index, new index, matched by)`` for every entry found in both.

    Among several candidates with the same key, an entry with identical peaks is taken
    first (a first pass), so that removing one of several replicate spectra of a
    compound does not show the others as changed; the rest pair in library order.
    """
    by_key: dict[str, list[int]] = defaultdict(list)
    by_name: dict[str, list[int]] = defaultdict(list)
    old_keys, old_names = old.column("inchikey"), old.column("name")
    for i in range(len(old)):
        if old_keys[i]:
            by_key[str(old_keys[i])].append(i)
        by_name[normalise_name(old_names[i])].append(i)
    used = np.zeros(len(old), dtype=bool)
    done = np.zeros(len(new), dtype=bool)
    pairs = []
    new_keys, new_names = new.column("inchikey"), new.column("name")
    for exact in (True, False):
        for j in range(len(new)):
            if done[j]:
                continue
            key = str(new_keys[j])
            found = None
            if key:
                hit = next((i for i in by_key.get(key, ()) if not used[i]
                            and (not exact or _same_peaks(old, i, new, j))), None)
                if hit is not None:
                    found = (hit, "inchikey")
            name_key = normalise_name(new_names[j])
            if found is None and name_key:  # an entry without a name matches nothing by name
                hit = next((i for i in by_name.get(name_key, ())
                            if not used[i] and not (key and old_keys[i])
                            and _cas_compatible(old, i, new, j)
                            and (not exact or _same_peaks(old, i, new, j))), None)
                if hit is not None:
                    found = (hit, "name+cas" if _value(new, "cas", j) else "name")
            if found is not None:
                used[found[0]] = done[j] = True
                pairs.append((found[0], j, found[1]))
    return sorted(pairs, key=lambda p: p[1])


def diff_libraries(old: Library, new: Library) -> LibraryDiff:
    """Entries added, removed and changed from ``old`` to ``new``, and those unchanged.

    Entries are matched as the module docstring says. A matched pair is changed when its
    peaks (as compiled) or any of :data:`COMPARED_FIELDS` differ; a spectrum change
    carries the identity MF of the new spectrum against the old.
    """
    result = LibraryDiff(old=_library_summary(old), new=_library_summary(new))
    pairs = _pairs(old, new)
    matched_old = {i for i, _, _ in pairs}
    matched_new = {j for _, j, _ in pairs}
    old_retired, new_retired = retired_entries(old), retired_entries(new)
    for i, j, how in pairs:
        if j in new_retired and i not in old_retired:
            result.retired.append({**_entry_summary(new, j), "old_index": i,
                                   "retirement": new_retired[j]})
        fields = {}
        for name in COMPARED_FIELDS:
            a, b = _value(old, name, i), _value(new, name, j)
            if a != b:
                fields[name] = (a, b)
        mf = None
        if not _same_peaks(old, i, new, j):
            mf = identity_match_factor(old.peaks.row(i), new.peaks.row(j))
        if j in new_retired and i not in old_retired and not fields and mf is None:
            continue
        if fields or mf is not None:
            result.changed.append(EntryChange(
                old_index=i, new_index=j, name=cast(str | None, _value(new, "name", j)),
                matched_by=how,
                fields=fields, match_factor=mf))
        else:
            result.n_unchanged += 1
    result.added = [_entry_summary(new, j) for j in range(len(new)) if j not in matched_new]
    result.removed = [_entry_summary(old, i) for i in range(len(old)) if i not in matched_old]
    return result


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Two entries of one library with the same InChIKey and MF >= the threshold."""

    first: int
    second: int
    inchikey: str
    names: tuple[str | None, str | None]
    match_factor: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"first": self.first, "second": self.second, "inchikey": self.inchikey,
                "names": list(self.names), "match_factor": self.match_factor}


def find_duplicates(library: Library, *, min_mf: int = DUPLICATE_MIN_MF) -> list[Duplicate]:
    """Pairs of entries with one InChIKey whose spectra score ``min_mf`` or more.

    The MF is the identity MF of the later entry (as query) against the earlier one.
    Entries without an InChIKey are not compared (a name is not an identity).
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(library.column("inchikey")):
        if key:
            groups[str(key)].append(i)
    found = []
    for key, members in groups.items():
        for a, i in enumerate(members):
            for j in members[a + 1:]:
                mf = identity_match_factor(library.peaks.row(j), library.peaks.row(i))
                if mf >= min_mf:
                    names = (cast(str | None, _value(library, "name", i)),
                             cast(str | None, _value(library, "name", j)))
                    found.append(Duplicate(i, j, key, names, mf))
    return sorted(found, key=lambda d: (d.first, d.second))


#: Export formats and the writer of each (:mod:`gcms.io.msp`).
EXPORT_FORMATS = ("msp", "msl")


def _export_spectra(library: Library) -> Iterable:
    identity = library.identity_sha256
    for i in range(len(library)):
        spectrum = library.spectrum(i)
        entry = library.entry(i)
        if not spectrum.name:
            raise LibraryError(f"{library.path or 'library'}: entry {i + 1} has no name; "
                               "MSP and MSL entries need one")
        extra = {}
        if library.title:
            extra["Library"] = library.title
        extra["Library_SHA256"] = identity
        if entry.source_file:
            extra["Source_File"] = Path(entry.source_file).name
        if entry.source_entry:
            extra["Source_Entry"] = entry.source_entry
        if entry.source_sha256:
            extra["Source_SHA256"] = entry.source_sha256
        if entry.provenance:
            extra["gcms_provenance"] = json.dumps(entry.provenance, sort_keys=True,
                                                  ensure_ascii=False)
        yield spectrum.replace(extra=extra)


def export_library(library: Library, path: str | os.PathLike, *,
                   fmt: str | None = None) -> Path:
    """Write every entry of ``library`` as MSP or AMDIS MSL (by ``fmt`` or the suffix).

    Each entry carries its name, synonyms, CAS, formula, MW, InChIKey, RI (and column),
    RT and comment, the peaks as compiled (nominal m/z, base peak 999), and its
    provenance as extra fields, since neither format has a file header: ``Library``
    (title), ``Library_SHA256`` (identity hash, :func:`gcms.library.store.identity_sha256`),
    ``Source_File``, ``Source_Entry``, ``Source_SHA256`` and, for in-house entries,
    ``gcms_provenance`` (JSON).

    Raises
    ------
    LibraryError
        Unknown format, an entry without a name, or a value the format cannot hold.
    """
    from gcms.io.msp import write, write_msl

    path = Path(path)
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in EXPORT_FORMATS:
        raise LibraryError(f"{path}: export format {fmt!r} unknown (use msp or msl)")
    writer = write if fmt == "msp" else write_msl
    try:
        writer(list(_export_spectra(library)), path)
    except ValueError as error:
        raise LibraryError(f"{path}: cannot export {library.path or 'library'}: "
                           f"{error}") from error
    except OSError as error:
        raise LibraryError(f"{path}: cannot write ({error.strerror or error})") from error
    return path


# -- changes: each makes a new version of the library ------------------------------------

#: Metadata fields :func:`correct_entry` may change (besides the spectrum).
CORRECTABLE_FIELDS = ("name", "cas", "formula", "inchikey", "mw", "retention_index",
                      "ri_column", "comment")

#: Key of the provenance object that marks an entry retired.
RETIRED = "retired"

_TEXT = ("name", "synonyms", "cas", "formula", "inchikey", "ri_column", "source_file",
         "source_entry", "source_sha256", "comment", "provenance")
_NUMBERS = ("mw", "retention_index", "rt_seconds")


def _check_index(library: Library, index: int) -> int:
    i = int(index)
    if not 0 <= i < len(library):
        raise LibraryError(f"{library.path or 'library'}: no entry #{i + 1} "
                           f"(it has {len(library)})")
    return i


def _copy_columns(library: Library) -> dict[str, np.ndarray]:
    return {name: library.column(name).copy() for name in (*_TEXT, *_NUMBERS)}


def _rebuild(library: Library, columns: dict[str, np.ndarray], peaks=None) -> Library:
    return Library(library.peaks if peaks is None else peaks, columns, title=library.title,
                   sources=library.sources, skipped=library.skipped)


def _provenance(library: Library, index: int) -> dict[str, Any]:
    text = str(library.column("provenance")[index])
    return json.loads(text) if text else {}


def retired_entries(library: Library) -> dict[int, dict[str, Any]]:
    """``{index: retirement}`` of every retired entry (reason, by, at, change)."""
    out = {}
    for i, text in enumerate(library.column("provenance")):
        if text and f'"{RETIRED}"' in str(text):
            record = json.loads(str(text)).get(RETIRED)
            if isinstance(record, dict):
                out[i] = record
    return out


def flag_retired_hits(hits: Iterable[Any], library: Library) -> list[dict[str, Any]]:
    """Per hit (an object or dict with ``index`` or ``library_index``), its retirement.

    Returns one dict per hit: ``{"index", "retired": bool, "retirement": {...} | None}``,
    so a search listing or an identification can say that a hit is against an entry the
    lab retired (it is kept, never deleted, so that older results stay traceable).
    """
    retired = retired_entries(library)
    out = []
    for hit in hits:
        index = hit.get("index", hit.get("library_index")) if isinstance(hit, dict) \
            else getattr(hit, "index", getattr(hit, "library_index", None))
        record = retired.get(int(index)) if index is not None else None
        out.append({"index": index, "retired": record is not None, "retirement": record})
    return out


def _peaks_with_row(library: Library, index: int, spectrum) -> Any:
    from gcms.library._peaks import PeakMatrix

    try:
        row = PeakMatrix.from_spectra([spectrum])
    except ValueError as error:
        raise LibraryError(f"entry #{index + 1}: the corrected spectrum: {error}") from error
    rows = [library.peaks.row(i) for i in range(len(library))]
    rows[index] = row.row(0)
    return PeakMatrix.from_peaks(rows)


def correct_entry(library: Library, index: int, *, spectrum: Any = None,
                  **fields: Any) -> tuple[Library, dict[str, Any]]:
    """A new version of ``library`` with entry ``index`` corrected.

    ``fields``: any of :data:`CORRECTABLE_FIELDS` (``None`` clears one); an RI is given
    with its column type (``retention_index`` with ``ri_column``, one of
    :data:`gcms.retention.columns.COLUMN_TYPES` or a free text the lab uses).
    ``spectrum``: a :class:`gcms.Spectrum` replacing the entry's peaks. Returns the new
    library and the change (``{"entry", "fields": {name: {"old", "new"}}, "spectrum":
    {"match_factor"}}``) as the audit entry records it. A correction that changes
    nothing is refused.
    """
    i = _check_index(library, index)
    unknown = set(fields) - set(CORRECTABLE_FIELDS)
    if unknown:
        raise LibraryError(f"cannot correct {', '.join(sorted(unknown))}: a correction "
                           f"changes {', '.join(CORRECTABLE_FIELDS)} or the spectrum")
    columns = _copy_columns(library)
    changed: dict[str, dict[str, Any]] = {}
    for name, value in fields.items():
        old = _value(library, name, i)
        new: float | str | None
        if name in _FLOAT_FIELDS:
            new = None if value is None else float(value)
            columns[name][i] = math.nan if new is None else new
        else:
            new = None if value in (None, "") else str(value)
            columns[name][i] = new or ""
        if old != new:
            changed[name] = {"old": old, "new": new}
    peaks = None
    change: dict[str, Any] = {"entry": i, "name": _value(library, "name", i),
                              "inchikey": _value(library, "inchikey", i), "fields": changed}
    if spectrum is not None:
        peaks = _peaks_with_row(library, i, spectrum)
        if not np.array_equal(peaks.row(i)[0], library.peaks.row(i)[0]) or \
                not np.array_equal(peaks.row(i)[1], library.peaks.row(i)[1]):
            change["spectrum"] = {"match_factor": identity_match_factor(
                library.peaks.row(i), peaks.row(i))}
        else:
            peaks = None
    if not changed and "spectrum" not in change:
        raise LibraryError(f"entry #{i + 1}: the correction changes nothing")
    return _rebuild(library, columns, peaks), change


def retire_entry(library: Library, index: int, *, reason: str, by: str,
                 at: str | None = None) -> tuple[Library, dict[str, Any]]:
    """A new version of ``library`` in which entry ``index`` is retired (kept, flagged).

    The retirement (``reason``, ``by``, ``at``) goes into the entry's provenance; its
    spectrum and metadata stay, so results made with it remain traceable.
    """
    i = _check_index(library, index)
    if not reason or not reason.strip():
        raise LibraryError(f"entry #{i + 1}: a retirement needs a reason")
    if i in retired_entries(library):
        raise LibraryError(f"entry #{i + 1} ({_value(library, 'name', i)}) is already retired")
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record = {"reason": reason.strip(), "by": by, "at": at or now}
    columns = _copy_columns(library)
    provenance = _provenance(library, i)
    provenance[RETIRED] = record
    columns["provenance"][i] = json.dumps(provenance, ensure_ascii=False, sort_keys=True)
    change = {"entry": i, "name": _value(library, "name", i),
              "inchikey": _value(library, "inchikey", i), "retired": record}
    return _rebuild(library, columns), change


def add_entries(library: Library, spectra: list, *,
                provenance: list | None = None) -> tuple[Library, dict[str, Any]]:
    """A new version of ``library`` with ``spectra`` appended (from a run or a file)."""
    if not spectra:
        raise LibraryError("nothing to add")
    new = library.append(spectra, provenance=provenance)
    new = Library(new.peaks, _copy_columns(new), title=library.title,
                  sources=library.sources, skipped=library.skipped)
    start = len(library)
    return new, {"added": [{"entry": start + k, "name": s.name, "inchikey": s.inchikey,
                            "cas": s.cas} for k, s in enumerate(spectra)]}


@dataclass(slots=True)
class MergeReport:
    """What :func:`merge_libraries` took in and left out as duplicates."""

    added: list[dict[str, Any]] = field(default_factory=list)
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    min_mf: int = DUPLICATE_MIN_MF

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"min_mf": self.min_mf, "added": self.added, "duplicates": self.duplicates}


def merge_libraries(base: Library, other: Library, *, min_mf: int = DUPLICATE_MIN_MF
                    ) -> tuple[Library, MergeReport]:
    """``base`` followed by the entries of ``other`` that are not duplicates of one in it.

    An entry of ``other`` is a duplicate when an entry of ``base`` has the same InChIKey
    and the identity MF of the ``other`` spectrum against it is ``min_mf`` or more; it
    is left out and listed. Entries without an InChIKey are always taken (a name is not
    an identity). The merged library keeps ``base``'s title; every entry keeps its
    source file and entry.
    """
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(base.column("inchikey")):
        if key:
            by_key[str(key)].append(i)
    report = MergeReport(min_mf=min_mf)
    take = []
    for j in range(len(other)):
        key = str(other.column("inchikey")[j])
        best = max(((identity_match_factor(other.peaks.row(j), base.peaks.row(i)), i)
                    for i in by_key.get(key, ()) if key), default=None)
        if best is not None and best[0] >= min_mf:
            report.duplicates.append({"other_entry": j, "base_entry": best[1],
                                      "name": _value(other, "name", j), "inchikey": key,
                                      "match_factor": best[0]})
        else:
            take.append(j)
            report.added.append({"other_entry": j, "entry": len(base) + len(take) - 1,
                                 "name": _value(other, "name", j),
                                 "inchikey": key or None})
    if not take:
        return base, report
    columns = {name: np.concatenate([base.column(name), other.column(name)[take]])
               for name in (*_TEXT, *_NUMBERS)}
    from gcms.library._peaks import PeakMatrix

    peaks = PeakMatrix.from_peaks([base.peaks.row(i) for i in range(len(base))]
                                  + [other.peaks.row(j) for j in take])
    sources = list(base.sources) + [s for s in other.sources if s not in base.sources]
    return Library(peaks, columns, title=base.title, sources=sources,
                   skipped=base.skipped), report
