"""Re-screening findings recorded in a case store, listed for a reviewer.

:func:`gcms.distributed.rescreen` with a case store records, per case screened, a
"re-screening" analysis (the library's name and content hash) and a result whose data
holds the runs with new findings, who screened and when; the issued results are never
changed. :func:`rescreen_findings` reads those results back, one row per finding, and
says whether the exhibit's current issued results already name the substance (a
verdict changed by a reviewer since the re-screening, for instance).

A finding is a lead, never an identification: SWGDRUG Recommendations (v8.1, part IV B)
require the comparison with a reference standard analysed under the same conditions
before a substance is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["RescreenFinding", "rescreen_findings"]

#: The ``kind`` of a store result written by a re-screening.
RESCREEN_KIND = "re-screening"


@dataclass(frozen=True, slots=True)
class RescreenFinding:
    """One re-screening finding: where, what, against which library, by whom, when."""

    case_id: str
    exhibit_id: str | None
    sample_id: str | None
    run_file: str | None
    position: int | None
    component: int | None
    rt_min: float | None
    retention_index: float | None
    substance: str
    cas: str | None
    match_factor: float | None
    reverse_match_factor: float | None
    delta_ri: float | None
    retention: str | None
    controlled: str | None
    library_name: str | None
    library_sha256: str | None
    screened_utc: str | None
    screened_by: str | None
    rescreen_result_id: str
    screened_result_id: str | None
    already_reported: bool
    status: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON, templates)."""
        return asdict(self)


def _names(record: Mapping[str, Any]) -> set[str]:
    """Name keys, CAS numbers and InChIKeys of the substances a result reports."""
    from gcms.identify.substance import name_key

    findings = record.get("findings") or {}
    out: set[str] = set()
    for verdict in ("identified", "inconclusive"):
        for f in findings.get(verdict) or ():
            if f.get("substance"):
                out.add(name_key(f["substance"]))
            for code in ("cas", "inchikey"):
                if f.get(code):
                    out.add(str(f[code]).strip().upper())
    return out


def _named(finding: Mapping[str, Any], names: set[str]) -> bool:
    from gcms.identify.substance import name_key

    if name_key(finding.get("substance")) in names:
        return True
    return any(finding.get(code) and str(finding[code]).strip().upper() in names
               for code in ("cas", "inchikey"))


def _is_rescreen(data: Any) -> bool:
    return isinstance(data, Mapping) and data.get("kind") == RESCREEN_KIND \
        and isinstance(data.get("runs"), Sequence) and not isinstance(data["runs"], str)


def rescreen_findings(store: Any, case_id: str | None = None,
                      exhibit_id: str | None = None) -> list[RescreenFinding]:
    """The re-screening findings recorded in ``store``: a case's (or every case's).

    Parameters
    ----------
    store
        An open :class:`gcms.custody.CaseStore` (or a reading store).
    case_id
        One case; ``None`` lists every case of the store.
    exhibit_id
        Only the findings of this exhibit (with ``case_id``).

    Returns
    -------
    list of RescreenFinding
        Newest re-screening first; within one, by exhibit, sample, run and component.
        ``already_reported`` says whether the exhibit's current issued results (the
        screened run's result, or any result of that exhibit) name the substance.

    Raises
    ------
    CustodyError
        ``case_id`` is not in the store.
    """
    cases: Iterable[str] = [case_id] if case_id is not None else [
        c.case_id for c in store.cases()]
    out: list[RescreenFinding] = []
    for case in cases:
        results = store.results(case)
        rescreens = [r for r in results if _is_rescreen(r.data)]
        if not rescreens:
            continue
        analyses = {a.analysis_id: a for a in store.analyses(case)}
        issued = [r for r in results if not _is_rescreen(r.data)]
        by_exhibit: dict[str | None, set[str]] = {}
        by_result: dict[str, set[str]] = {}
        for r in issued:
            names = _names(r.data) if isinstance(r.data, Mapping) else set()
            by_result[r.result_id] = names
            exhibit = r.exhibit_id or (r.data.get("exhibit_id")
                                       if isinstance(r.data, Mapping) else None)
            by_exhibit.setdefault(exhibit, set()).update(names)
        for result in rescreens:
            data = result.data
            analysis = analyses.get(result.analysis_id or "")
            rows = []
            for run in data["runs"]:
                exhibit = run.get("exhibit_id")
                if exhibit_id is not None and exhibit != exhibit_id:
                    continue
                names = by_exhibit.get(exhibit, set()) if exhibit else set()
                names = names | by_result.get(run.get("result_id") or "", set())
                for f in run.get("findings") or ():
                    controlled = "; ".join((f.get("scope") or {}).get("controlled") or ())
                    rows.append(RescreenFinding(
                        case_id=case, exhibit_id=exhibit, sample_id=run.get("sample_id"),
                        run_file=run.get("file"), position=run.get("position"),
                        component=f.get("component"), rt_min=f.get("rt_min"),
                        retention_index=f.get("retention_index"),
                        substance=str(f.get("substance")), cas=f.get("cas"),
                        match_factor=f.get("match_factor"),
                        reverse_match_factor=f.get("reverse_match_factor"),
                        delta_ri=f.get("delta_ri"), retention=f.get("retention"),
                        controlled=controlled or None,
                        library_name=analysis.library_name if analysis else None,
                        library_sha256=data.get("library_sha256") or f.get("library_sha256"),
                        screened_utc=data.get("screened_utc"),
                        screened_by=data.get("screened_by"),
                        rescreen_result_id=result.result_id,
                        screened_result_id=run.get("result_id"),
                        already_reported=_named(f, names), status=f.get("status")))
            rows.sort(key=lambda r: (r.exhibit_id or "", r.sample_id or "",
                                     r.position if r.position is not None else -1,
                                     r.component if r.component is not None else -1))
            out.extend(rows)
    # newest re-screening first (stable: the order within one is kept)
    out.sort(key=lambda r: r.screened_utc or "", reverse=True)
    return out
