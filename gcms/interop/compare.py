"""Side by side with AMDIS and NIST MS Search: components matched by RT, hits and verdicts.

A laboratory validating gcms against its AMDIS + NIST MS Search workflow runs both on
the same runs and compares, component by component (the parallel-running validation
SWGDRUG Recommendations, Part IV B, and ISO/IEC 17025:2017 clause 7.2.2 ask for when a
method changes):

1. **Components matched by retention time**: each AMDIS component (``.ELU``) is paired
   with at most one gcms component, nearest apex first, within ``rt_tolerance_s``
   (greedy one-to-one assignment on |ΔRT|); the rest are "only AMDIS" / "only gcms".
2. **Spectra compared**: the NIST identity match factor between the two tools' spectra
   of a pair (how alike the two deconvolutions are).
3. **Hits compared**: each side's hit list, best first. AMDIS's side is NIST MS Search's
   hit list for that component where one is given (``SRCRESLT.TXT``, one hit list per
   ``.ELU`` component, in order, as AMDIS sends them), else gcms's search of the AMDIS
   spectrum in the same library; gcms's side is gcms's search of its own spectrum. For
   every compound in both lists, the MF and RMF difference (gcms minus AMDIS).
4. **Verdicts compared**: each side's verdict is its top hit where that hit's MF is at
   least ``min_match_factor`` (gcms's default identification cut-off,
   :class:`gcms.identify.criteria.SpectrumRules`), else "no match"; a row's verdicts
   agree or differ.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gcms.deconvolution import Component, match_factor
from gcms.identifiers import spreadsheet_safe_row
from gcms.identify.criteria import SpectrumRules
from gcms.io.amdis_elu import EluComponent
from gcms.io.nist_hitlist import NistHitList
from gcms.library import Library

__all__ = ["ComparedComponent", "Comparison", "HitDifference", "compare", "compare_files",
           "match_by_rt"]

#: Retention-time window for pairing the two tools' components (seconds): about two scans
#: at the 2-4 Hz of a full-scan GC-MS run, well below the peak widths of capillary GC.
DEFAULT_RT_TOLERANCE_S = 2.0
#: MF a top hit needs for a verdict: gcms's identification cut-off (SpectrumRules).
DEFAULT_MIN_MATCH_FACTOR = SpectrumRules().min_match_factor
NO_MATCH = "no match"
Status = Literal["agree", "differ", "only AMDIS", "only gcms"]


@dataclass(frozen=True, slots=True)
class HitDifference:
    """A compound in both tools' hit lists: its scores on each side (gcms minus AMDIS)."""

    name: str
    amdis_mf: int
    gcms_mf: int
    amdis_rmf: int
    gcms_rmf: int

    @property
    def delta_mf(self) -> int:
        """MF of gcms minus MF of AMDIS/NIST."""
        return self.gcms_mf - self.amdis_mf

    @property
    def delta_rmf(self) -> int:
        """RMF of gcms minus RMF of AMDIS/NIST."""
        return self.gcms_rmf - self.amdis_rmf

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"name": self.name, "amdis_mf": self.amdis_mf, "gcms_mf": self.gcms_mf,
                "amdis_rmf": self.amdis_rmf, "gcms_rmf": self.gcms_rmf,
                "delta_mf": self.delta_mf, "delta_rmf": self.delta_rmf}


@dataclass(frozen=True, slots=True)
class ComparedComponent:
    """One row: an AMDIS component, a gcms component, or a pair of them."""

    status: Status
    amdis_component: int | None
    gcms_component: int | None
    amdis_rt_s: float | None
    gcms_rt_s: float | None
    spectrum_match_factor: int | None
    amdis_top_hit: str | None
    amdis_mf: int | None
    gcms_top_hit: str | None
    gcms_mf: int | None
    amdis_verdict: str | None
    gcms_verdict: str | None
    hits_in_both: tuple[HitDifference, ...] = ()

    @property
    def delta_rt_s(self) -> float | None:
        """RT of gcms minus RT of AMDIS (seconds), for a pair."""
        if self.amdis_rt_s is None or self.gcms_rt_s is None:
            return None
        return self.gcms_rt_s - self.amdis_rt_s

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["delta_rt_s"] = self.delta_rt_s
        out["hits_in_both"] = [h.to_dict() for h in self.hits_in_both]
        return out


_COLUMNS = ("status", "amdis_component", "gcms_component", "amdis_rt_s", "gcms_rt_s",
            "delta_rt_s", "spectrum_match_factor", "amdis_top_hit", "amdis_mf",
            "gcms_top_hit", "gcms_mf", "amdis_verdict", "gcms_verdict")


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every row of a comparison, in retention order, with the settings used."""

    rows: tuple[ComparedComponent, ...]
    rt_tolerance_s: float
    min_match_factor: float
    amdis_hits_from: str

    def summary(self) -> dict[str, Any]:
        """Counts, verdict agreement among pairs, and MF/RMF differences over shared hits."""
        pairs = [r for r in self.rows if r.status in ("agree", "differ")]
        diffs = [h for r in pairs for h in r.hits_in_both]
        d_mf = np.array([h.delta_mf for h in diffs], dtype=float)
        d_rmf = np.array([h.delta_rmf for h in diffs], dtype=float)
        return {
            "pairs": len(pairs),
            "only_amdis": sum(r.status == "only AMDIS" for r in self.rows),
            "only_gcms": sum(r.status == "only gcms" for r in self.rows),
            "verdicts_agree": sum(r.status == "agree" for r in pairs),
            "verdicts_differ": sum(r.status == "differ" for r in pairs),
            "same_top_hit": sum(r.amdis_top_hit is not None
                                and r.amdis_top_hit == r.gcms_top_hit for r in pairs),
            "hits_in_both": len(diffs),
            "mean_abs_delta_mf": float(np.abs(d_mf).mean()) if diffs else None,
            "max_abs_delta_mf": int(np.abs(d_mf).max()) if diffs else None,
            "mean_abs_delta_rmf": float(np.abs(d_rmf).mean()) if diffs else None,
            "max_abs_delta_rmf": int(np.abs(d_rmf).max()) if diffs else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON form: settings, summary and rows."""
        return {"rt_tolerance_s": self.rt_tolerance_s,
                "min_match_factor": self.min_match_factor,
                "amdis_hits_from": self.amdis_hits_from, "summary": self.summary(),
                "rows": [r.to_dict() for r in self.rows]}

    def to_csv(self) -> str:
        """One line per row (the table's columns), cells made spreadsheet-safe."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            values = row.to_dict()
            writer.writerow(spreadsheet_safe_row({k: values[k] for k in _COLUMNS}))
        return out.getvalue()

    def to_text(self) -> str:
        """A fixed-width table, one line per row, then the summary."""
        def cell(value: Any, fmt: str = "") -> str:
            return "-" if value is None else format(value, fmt)

        lines = [f"{'status':<10} {'AMDIS':>6} {'gcms':>5} {'RT AMDIS':>9} {'ΔRT s':>6} "
                 f"{'MF spec':>7}  {'AMDIS top hit':<28} {'MF':>4}  {'gcms top hit':<28} "
                 f"{'MF':>4}"]
        for r in self.rows:
            rt = r.amdis_rt_s if r.amdis_rt_s is not None else r.gcms_rt_s
            lines.append(
                f"{r.status:<10} {cell(r.amdis_component):>6} {cell(r.gcms_component):>5} "
                f"{cell(rt, '.2f'):>9} {cell(r.delta_rt_s, '+.2f'):>6} "
                f"{cell(r.spectrum_match_factor):>7}  {cell(r.amdis_top_hit)[:28]:<28} "
                f"{cell(r.amdis_mf):>4}  {cell(r.gcms_top_hit)[:28]:<28} {cell(r.gcms_mf):>4}")
        s = self.summary()
        lines.append(f"{s['pairs']} pairs within {self.rt_tolerance_s:g} s, "
                     f"{s['only_amdis']} only in AMDIS, {s['only_gcms']} only in gcms; "
                     f"verdicts agree in {s['verdicts_agree']}, differ in "
                     f"{s['verdicts_differ']}; {s['hits_in_both']} hits in both lists"
                     + (f", |ΔMF| mean {s['mean_abs_delta_mf']:.1f} max "
                        f"{s['max_abs_delta_mf']}, |ΔRMF| mean {s['mean_abs_delta_rmf']:.1f} "
                        f"max {s['max_abs_delta_rmf']}" if s["hits_in_both"] else "")
                     + f" (AMDIS hits: {self.amdis_hits_from})")
        return "\n".join(lines)


def match_by_rt(rt_a: np.ndarray, rt_b: np.ndarray, tolerance_s: float
                ) -> list[tuple[int, int]]:
    """One-to-one pairs ``(i, j)`` with ``|rt_a[i] - rt_b[j]| <= tolerance_s``, nearest first.

    Greedy assignment on the pair distance: the closest pair is fixed, its two members
    leave, and so on (a loop, since each choice removes candidates of the next).
    """
    rt_a, rt_b = np.asarray(rt_a, dtype=float), np.asarray(rt_b, dtype=float)
    if tolerance_s < 0:
        raise ValueError(f"rt tolerance must be >= 0 s, not {tolerance_s}")
    distance = np.abs(rt_a[:, None] - rt_b[None, :])
    ia, ib = np.nonzero(distance <= tolerance_s)
    order = np.lexsort((ib, ia, distance[ia, ib]))
    used_a, used_b, pairs = set(), set(), []
    for i, j in zip(ia[order].tolist(), ib[order].tolist(), strict=True):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    return sorted(pairs)


def _hit_tuples(hits) -> list[tuple[str, int, int]]:
    return [(h.name, int(h.match_factor), int(h.reverse_match_factor)) for h in hits]


def _verdict(hits: list[tuple[str, int, int]], min_mf: float) -> str:
    return hits[0][0] if hits and hits[0][1] >= min_mf else NO_MATCH


def _in_both(amdis: list[tuple[str, int, int]], ours: list[tuple[str, int, int]]
             ) -> tuple[HitDifference, ...]:
    """Compounds in both lists, by name (case-insensitive), each at its best place."""
    theirs: dict[str, tuple[str, int, int]] = {}
    for hit in amdis:
        theirs.setdefault(hit[0].casefold(), hit)
    seen, out = set(), []
    for name, mf, rmf in ours:
        key = name.casefold()
        if key in theirs and key not in seen:
            seen.add(key)
            out.append(HitDifference(name, theirs[key][1], mf, theirs[key][2], rmf))
    return tuple(out)


def compare(amdis: Sequence[EluComponent], ours: Sequence[Component], *, library: Library,
            amdis_hits: Sequence[NistHitList] | None = None,
            rt_tolerance_s: float = DEFAULT_RT_TOLERANCE_S, top: int = 5,
            min_match_factor: float = DEFAULT_MIN_MATCH_FACTOR) -> Comparison:
    """Compare AMDIS's components (and NIST's hits) with gcms's, row by row.

    Parameters
    ----------
    amdis
        Components of an AMDIS ``.ELU`` (:func:`gcms.io.amdis_elu.read`).
    ours
        gcms components of the same run (:func:`gcms.deconvolution.deconvolve`).
    library
        Library that gcms searches its spectra in (and the AMDIS spectra, where no
        ``amdis_hits`` are given).
    amdis_hits
        NIST MS Search hit lists, one per AMDIS component in ``.ELU`` order.
    rt_tolerance_s, top, min_match_factor
        Pairing window (s), hits kept per side, MF for a verdict (see module docstring).

    Raises
    ------
    ValueError
        ``amdis_hits`` does not hold one hit list per AMDIS component.
    """
    if amdis_hits is not None and len(amdis_hits) != len(amdis):
        raise ValueError(f"{len(amdis_hits)} NIST hit lists for {len(amdis)} AMDIS "
                         "components; give one hit list per component, in .ELU order")
    ours_hits = [_hit_tuples(r.hits) for r in
                 library.search([c.spectrum for c in ours], top=top)] if ours else []
    if amdis_hits is not None:
        theirs_hits = [_hit_tuples(h.hits[:top]) for h in amdis_hits]
        source = "NIST MS Search hit lists"
    else:
        theirs_hits = [_hit_tuples(r.hits) for r in
                       library.search([c.spectrum for c in amdis], top=top)] if amdis else []
        source = "gcms search of the AMDIS spectra"
    pairs = match_by_rt(np.array([c.rt_seconds for c in amdis]),
                        np.array([c.rt_s for c in ours]), rt_tolerance_s)
    rows = []
    for i, j in pairs:
        a, o = theirs_hits[i], ours_hits[j]
        va, vo = _verdict(a, min_match_factor), _verdict(o, min_match_factor)
        rows.append(ComparedComponent(
            "agree" if va == vo else "differ", amdis[i].component, j, amdis[i].rt_seconds,
            ours[j].rt_s, match_factor(ours[j].spectrum, amdis[i].spectrum),
            a[0][0] if a else None, a[0][1] if a else None,
            o[0][0] if o else None, o[0][1] if o else None, va, vo, _in_both(a, o)))
    paired_a, paired_o = {i for i, _ in pairs}, {j for _, j in pairs}
    for i, c in enumerate(amdis):
        if i not in paired_a:
            a = theirs_hits[i]
            rows.append(ComparedComponent(
                "only AMDIS", c.component, None, c.rt_seconds, None, None,
                a[0][0] if a else None, a[0][1] if a else None, None, None,
                _verdict(a, min_match_factor), None))
    for j, c in enumerate(ours):
        if j not in paired_o:
            o = ours_hits[j]
            rows.append(ComparedComponent(
                "only gcms", None, j, None, c.rt_s, None, None, None,
                o[0][0] if o else None, o[0][1] if o else None, None,
                _verdict(o, min_match_factor)))
    rows.sort(key=lambda r: r.amdis_rt_s if r.amdis_rt_s is not None else r.gcms_rt_s)
    return Comparison(tuple(rows), float(rt_tolerance_s), float(min_match_factor), source)


def compare_files(elu_path, run_path, library_path, *, hits_path=None,
                  rt_tolerance_s: float = DEFAULT_RT_TOLERANCE_S, top: int = 5,
                  min_match_factor: float = DEFAULT_MIN_MATCH_FACTOR) -> Comparison:
    """Run :func:`compare` on files: an AMDIS ``.ELU``, a run, a gcms library.

    The run is deconvoluted by gcms with its default settings; ``hits_path`` is NIST's
    ``SRCRESLT.TXT`` for the ``.ELU``'s components, in order. Errors are
    :class:`gcms.GcmsError` values naming the file.
    """
    from gcms.deconvolution import deconvolve
    from gcms.errors import FormatError
    from gcms.io import amdis_elu, nist_hitlist, read

    elu = amdis_elu.read(elu_path)
    hits = None
    if hits_path is not None:
        hits = nist_hitlist.read(hits_path).hit_lists
        if len(hits) != len(elu.components):
            raise FormatError(f"{hits_path}: {len(hits)} hit lists for the "
                              f"{len(elu.components)} components of {elu_path}; NIST's "
                              "hit lists must be those of this .ELU, in its order")
    library = Library.open(library_path)
    ours = deconvolve(read(run_path)).components
    return compare(elu.components, ours, library=library, amdis_hits=hits,
                   rt_tolerance_s=rt_tolerance_s, top=top, min_match_factor=min_match_factor)
