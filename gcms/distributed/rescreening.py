"""Re-screening of archived runs against a new or updated library, on Dask.

When a new substance gets a library entry, the components already extracted from
archived runs are searched again (retrospective data mining: e.g. Pasin et al. 2017,
*Drug Test. Anal.* 9, 1561, found new psychoactive substances in archived data months
before they were scheduled). Nothing is recomputed from raw data: the components and
their spectra are read from the results documents that ``gcms batch`` wrote
(:mod:`gcms.batch.output`), or from the batch records kept in a case store
(:class:`gcms.custody.CaseStore`). Only when asked (``RescreenSettings.from_raw``) are
they computed again from the raw runs the records name, each checked first against the
SHA-256 the batch recorded.

What counts as a re-screening finding
-------------------------------------
Per component, the best hit of the new library (identity MF order, the search of
:mod:`gcms.library.search` with the criteria's MF as floor) is a finding when

1. its identity and reverse match factors reach the criteria profile's
   ``spectrum.min_match_factor`` and ``min_reverse_match_factor``;
2. its retention index, where both the component (calibrated, not extrapolated) and
   the entry state one, lies within ``retention.ri_tolerance`` (otherwise the hit is
   not listed; without an RI the finding says "retention not evaluated");
3. it is new to the run's record: its substance was not reported for the run
   (identified or inconclusive), and the original judgement of this component did not
   already weigh that substance (as its chosen candidate or an alternative) at the same
   or a higher match factor. A candidate the original library offered and the criteria
   refused (ion ratios, blank, runner-up) is not a re-screening finding; an updated
   entry that now matches better is;
4. with targets, it is one of them: a substance of the target lists
   (:mod:`gcms.identify.targets`: shipped lists such as ``un-conventions`` or a lab's
   TOML file; the finding then carries the target's controlled status) or one named
   ad hoc (name, synonym, CAS or InChIKey).

A finding is a lead for a reviewer, never an identification: SWGDRUG
Recommendations (v8.1, part IV B) require the retention comparison with a reference
standard analysed under the same conditions before a substance is reported. Issued
results and reports are never changed: findings go to new files (and, with a case
store, to a new result of a new "re-screening" analysis, an audit-logged entry).

Outputs in ``OUT`` (each written atomically)
-------------------------------------------
``OUT/documents/<stem>-<key>.json``
    One per archived document screened (``gcms.rescreen.document``): its source and
    SHA-256, the library hash, the runs screened and every finding. The key covers the
    source (path, size, modification time), the library hash and the settings, so a
    re-run skips the documents already done and redoes those whose source changed.
``OUT/rescreen.json``
    ``gcms.rescreen``: library (hash, title, entries), when and by whom, settings,
    the documents, and the findings listed per case, then exhibit, for review.
``OUT/findings.csv``
    One row per finding.

Workers lost mid-way
--------------------
Each document is one Dask task, with a key derived from the document key; workers
return the document result and only this process writes files, one per task key, as
each result arrives. A task of a lost worker is recomputed elsewhere by the scheduler,
and the client receives exactly one result per key: nothing is lost or listed twice.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from gcms._json import finite_or_none as _finite
from gcms._json import json_safe
from gcms.errors import FormatError, GcmsError, LibraryError
from gcms.results import FORMAT as BATCH_RESULTS_FORMAT
from gcms.results import ResultsDocument, RunResult

__all__ = [
    "FINDING_COLUMNS",
    "ArchivedDocument",
    "RescreenResult",
    "RescreenSettings",
    "archived_documents",
    "finding_rows",
    "rescreen",
    "rescreen_document",
]

DOCUMENT_FORMAT = "gcms.rescreen.document"
SUMMARY_FORMAT = "gcms.rescreen"
FORMAT_VERSION = 1
#: The results document this module reads (:mod:`gcms.batch.output`).

Engine = Literal["dask", "in-process"]

FINDING_COLUMNS = (
    "case_id", "exhibit_id", "sample_id", "run_file", "position", "component", "rt_min",
    "retention_index", "substance", "cas", "inchikey", "match_factor",
    "reverse_match_factor", "probability", "delta_ri", "retention", "controlled", "document",
)


@dataclass(frozen=True, slots=True)
class RescreenSettings:
    """What a re-screening compares and which runs it reads.

    Parameters
    ----------
    criteria
        Criteria profile (shipped name or TOML path) whose spectrum and retention-index
        limits decide a finding (module docstring); default ``swgdrug-gcms``.
    target_lists
        Target lists (:func:`gcms.identify.targets.load_targets`: shipped names or TOML
        paths); with ``targets``, only their substances are listed (both empty: any).
    targets
        Substances named ad hoc: names, synonyms, CAS numbers or InChIKeys.
    run_types
        Run types of a sequence screened (ladders, blanks and standards are not case
        material).
    top
        Hits per component kept for the close-alternatives note.
    from_raw
        Recompute the components from the raw runs the records name (read, deconvolute
        with the batch's deconvolution settings, retention indices from the batch's
        ladder) instead of reading the stored ones; a raw file whose SHA-256 is no longer
        the one recorded is not screened (named).
    """

    criteria: str = "swgdrug-gcms"
    target_lists: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    run_types: tuple[str, ...] = ("sample", "qc")
    top: int = 5
    from_raw: bool = False

    def __post_init__(self) -> None:
        if self.top < 1:
            raise ValueError(f"top must be >= 1, got {self.top}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class ArchivedDocument:
    """One unit of re-screening: a batch results file, or one case of a case store.

    ``records`` holds the run records of a case-store case (read here, sent to the
    worker); a results file is read by the worker from ``path``.
    """

    label: str
    key: str
    path: str | None = None
    case_id: str | None = None
    records: tuple[Mapping[str, Any], ...] = ()
    result_ids: tuple[str | None, ...] = ()

    @property
    def stem(self) -> str:
        """File-name stem of this document's output."""
        return f"{_safe(self.label)[-60:]}-{self.key[:16]}"


@dataclass(frozen=True, slots=True)
class RescreenResult:
    """What a re-screening did: every document's result, the summary, where it went."""

    summary: Mapping[str, Any]
    documents: tuple[Mapping[str, Any], ...]
    failed: tuple[Mapping[str, Any], ...]
    skipped: int
    seconds: float
    out_dir: Path

    @property
    def findings(self) -> list[dict[str, Any]]:
        """Every finding, one flat row each (:data:`FINDING_COLUMNS`), in a stable order."""
        return finding_rows(self.documents)

    @property
    def runs_screened(self) -> int:
        """Runs whose components were searched (skipped documents included)."""
        return sum(int(d["runs_screened"]) for d in self.documents)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._") or "document"


def _sha256(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"),
                                     default=str).encode("utf-8")).hexdigest()


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------------------ inputs
def _results_files(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if source.is_dir():
        found = sorted(p for p in source.rglob("results.json") if p.is_file())
        if not found:
            raise GcmsError(f"{source}: no results.json found in this folder")
        return found
    raise GcmsError(f"{source}: no such results file or folder")


def archived_documents(sources: Iterable[str | os.PathLike], *, settings: RescreenSettings,
                       library_sha256: str, store: Any = None, cases: Sequence[str] = (),
                       target_list: Any = None) -> list[ArchivedDocument]:
    """The units to screen: every ``results.json`` under ``sources``, every store case.

    ``store`` is an open :class:`gcms.custody.CaseStore`; its cases (``cases``, or all)
    become one unit each, with the run records of their results. The key of each unit
    covers the library hash, the settings and the target list files' hashes.
    """
    common = {"library": library_sha256, "settings": settings.to_dict(),
              "format": FORMAT_VERSION,
              "targets": None if target_list is None else target_list.to_dict()["files"]}
    units: list[ArchivedDocument] = []
    seen: set[Path] = set()
    for source in sources:
        source = Path(source)
        for path in _results_files(source):
            # named by its folder within the source folder (unique there): 2024/batch-17
            where = path.parent.relative_to(source) if source.is_dir() else Path()
            label = where.as_posix() if str(where) != "." else path.parent.name or "results"
            path = path.resolve()
            if path in seen:
                continue
            seen.add(path)
            stat = path.stat()
            key = _sha256({"path": str(path), "size": stat.st_size,
                           "mtime_ns": stat.st_mtime_ns, **common})
            units.append(ArchivedDocument(label=label, key=key, path=str(path)))
    if store is not None:
        wanted = list(cases) or [c.case_id for c in store.cases()]
        for case_id in wanted:
            results = [r for r in store.results(case_id) if _is_run_record(r.data)]
            records = tuple(r.data for r in results)
            key = _sha256({"store": str(store.location), "case": case_id,
                           "results": [(r.result_id, r.version) for r in results], **common})
            units.append(ArchivedDocument(label=f"case_{case_id}", key=key, case_id=case_id,
                                          records=records,
                                          result_ids=tuple(r.result_id for r in results)))
    return units


def _is_run_record(data: Any) -> bool:
    return isinstance(data, Mapping) and "components" in data and "position" in data


def _load_results(path: str
                  ) -> tuple[list[RunResult], dict[str, Any], Mapping[str, Any]]:
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise GcmsError(f"{path}: cannot read ({error})") from error
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise FormatError(f"{path}: not a JSON document ({error})") from error
    if not isinstance(document, Mapping) or document.get("format") != BATCH_RESULTS_FORMAT:
        raise FormatError(f"{path}: not a gcms batch results document (format "
                          f"{document.get('format') if isinstance(document, Mapping) else None!r}"
                          f", expected {BATCH_RESULTS_FORMAT!r})")
    # the typed document (gcms.results): its format version checked (an older one
    # upgraded, a newer one refused) and every key of every run record
    typed = ResultsDocument.from_json(document, source=path)
    source = {"kind": "results", "path": path,
              "sha256": hashlib.sha256(raw).hexdigest(),
              "created_utc": typed.created_utc, "gcms_version": typed.gcms_version,
              "library": typed.library.to_json()}
    return list(typed.runs), source, json_safe(typed.settings)


# ------------------------------------------------------------------------------ worker
_LIBRARIES: dict[tuple[str, str], Any] = {}


def _library(path: str, sha256: str) -> Any:
    """The library at ``path``, opened once per worker process and checked by its hash."""
    from gcms.library import Library

    key = (path, sha256)
    if key not in _LIBRARIES:
        library = Library.open(path)
        if library.content_sha256 != sha256:
            raise LibraryError(f"{path}: content hash {library.content_sha256} on this "
                               f"worker, {sha256} expected: the workers see another file")
        _LIBRARIES.clear()
        _LIBRARIES[key] = library
    return _LIBRARIES[key]


def _reported(record: RunResult) -> list[str]:
    findings = record.findings
    if findings is None:
        return []
    return [f.substance for f in (*findings.identified, *findings.inconclusive)
            if f.substance]


def _is_target(substance: Any, targets: Sequence[str]) -> bool:
    from gcms.identify.substance import name_key

    keys = {name_key(t) for t in targets}
    if substance.keys & keys:
        return True
    codes = {t.strip().upper() for t in targets}
    return bool((substance.cas and substance.cas.strip().upper() in codes)
                or (substance.inchikey and substance.inchikey.strip().upper() in codes))


def rescreen_document(unit: ArchivedDocument, library_path: str, library_sha256: str,
                      settings: RescreenSettings, target_list: Any = None) -> dict[str, Any]:
    """Search one archived document's components in the library; its result (module doc).

    The task every worker runs (and the in-process engine too). Errors in the input
    are returned as ``{"key", "label", "problem"}`` so that one bad document never
    stops an archive.
    """
    try:
        return _rescreen_document(unit, library_path, library_sha256, settings, target_list)
    except GcmsError as error:
        return {"key": unit.key, "label": unit.label, "problem": str(error)}
    except (KeyError, TypeError, ValueError) as error:  # a record not shaped as batch writes
        return {"key": unit.key, "label": unit.label,
                "problem": f"{unit.path or unit.label}: malformed run record "
                           f"({type(error).__name__}: {error})"}


def _criteria(profile: str) -> Any:
    """The criteria profile, read once per process (reading it merges its target lists)."""
    from gcms.identify.criteria import load_criteria

    if profile not in _CRITERIA:
        _CRITERIA[profile] = load_criteria(profile)
    return _CRITERIA[profile]


_CRITERIA: dict[str, Any] = {}


def _rescreen_document(unit: ArchivedDocument, library_path: str, library_sha256: str,
                       settings: RescreenSettings, target_list: Any) -> dict[str, Any]:
    from gcms.identify.substance import Substance
    from gcms.library.search import SearchSettings, search
    from gcms.spectrum import Spectrum

    started = time.perf_counter()
    library = _library(library_path, library_sha256)
    criteria = _criteria(settings.criteria)
    if unit.path is not None:
        records, source, batch_settings = _load_results(unit.path)
        result_ids: Sequence[str | None] = [None] * len(records)
    else:
        # a stored result holds a run record's JSON: read as the typed record
        records = [RunResult.from_json(data, source=f"case {unit.case_id}, result {rid}")
                   for data, rid in zip(unit.records, unit.result_ids, strict=True)]
        result_ids = list(unit.result_ids)
        source = {"kind": "case store", "case_id": unit.case_id,
                  "sha256": _sha256(list(unit.records)), "result_ids": list(unit.result_ids)}
        batch_settings = {}
    source["components"] = "recomputed from the raw runs" if settings.from_raw else "stored"
    raw = _RawComponents(records, batch_settings, unit.path or unit.label) \
        if settings.from_raw else None
    queries, where = [], []
    screened, not_screened = 0, []
    for n, record in enumerate(records):
        if record.type not in settings.run_types:
            continue
        if not record.ok:
            not_screened.append({"position": record.position,
                                 "file": record.file_name or record.file,
                                 "reason": record.problem or "run failed in the batch"})
            continue
        # components as JSON objects: stored and recomputed ones are read alike
        components = [c.to_json() for c in record.components]
        if raw is not None:
            components, problem = raw.components(record)
            if problem is not None:
                not_screened.append({"position": record.position,
                                     "file": record.file_name or record.file,
                                     "reason": problem})
                continue
        screened += 1
        for component in components:
            stored = component.get("spectrum")
            if not stored or not stored.get("mz"):
                raise FormatError(f"{unit.path or unit.label}: run #{record.position + 1} "
                                  f"component {component.get('component')} has no stored "
                                  f"spectrum (written without spectra: use --from-raw)")
            ri = None if component.get("ri_extrapolated") else _finite(
                component.get("retention_index"))
            queries.append(Spectrum(mz=stored["mz"], intensity=stored["intensity"],
                                    retention_index=ri))
            where.append((n, component))
    floor = int(criteria.spectrum.min_match_factor)
    search_settings = SearchSettings(min_match_factor=min(999, max(0, floor)))
    results = search(library, queries, top=settings.top, settings=search_settings) \
        if queries else []
    tolerance = criteria.retention.ri_tolerance
    runs: dict[int, dict[str, Any]] = {}
    for (n, component), result in zip(where, results, strict=True):
        finding = _finding(component, result.hits, library, criteria, tolerance, settings,
                           target_list, records[n], Substance)
        if finding is None:
            continue
        record = records[n]
        run = runs.setdefault(n, {
            "position": record.position, "file": record.file_name or record.file,
            "sample_id": record.sample_id, "case_id": record.case_id,
            "exhibit_id": record.exhibit_id, "result_id": result_ids[n],
            "run_sha256": (record.run or {}).get("input_sha256"),
            "original_library_sha256": (record.processing or {}).get("library_sha256"),
            "reported": _reported(record), "findings": []})
        run["findings"].append(finding)
    return {
        "format": DOCUMENT_FORMAT, "format_version": FORMAT_VERSION,
        "gcms_version": _gcms_version(), "key": unit.key, "label": unit.label, "source": source,
        "library_sha256": library_sha256,
        "runs_screened": screened, "components_screened": len(queries),
        "not_screened": not_screened,
        "runs": [runs[n] for n in sorted(runs)],
        "seconds": round(time.perf_counter() - started, 4),
    }


class _RawComponents:
    """Components of a record's run computed again from its raw file (``from_raw``)."""

    def __init__(self, records: Sequence[RunResult],
                 batch_settings: Mapping[str, Any], where: str) -> None:
        from gcms.deconvolution import DeconvolutionSettings

        try:
            self.settings = DeconvolutionSettings(**(batch_settings.get("deconvolution")
                                                     or {}))
        except (TypeError, ValueError) as error:
            raise FormatError(f"{where}: deconvolution settings not readable ({error})") \
                from error
        self.ladders = {r.position: json_safe(r.ladder_calibration) for r in records
                        if r.ladder_calibration}

    def components(self, record: RunResult
                   ) -> tuple[list[dict[str, Any]], str | None]:
        """Component dicts shaped as the stored ones (or a problem naming the file)."""
        from gcms.batch.pass1 import run_summary
        from gcms.deconvolution import deconvolve
        from gcms.io import read
        from gcms.retention import RetentionCalibration

        path = record.file
        try:
            run = read(path)
        except (GcmsError, OSError) as error:
            return [], f"raw run not readable: {error}"
        recorded = (record.run or {}).get("sha256")
        digest = run_summary(run).get("sha256")
        if recorded and digest != recorded:
            return [], (f"{path}: SHA-256 {digest} is not the {recorded} recorded by the "
                        f"batch: the raw file changed, not screened")
        found = deconvolve(run, self.settings).components
        rts = [c.rt_s for c in found]
        ri = [None] * len(found)
        extrapolated = [None] * len(found)
        position = (record.retention_calibration or {}).get("ladder_position")
        if rts and self.ladders.get(position):
            indices = RetentionCalibration.from_dict(self.ladders[position]).apply(rts)
            ri = [float(v) if math.isfinite(v) else None for v in indices.retention_index]
            extrapolated = [bool(v) for v in indices.extrapolated]
        stored = [c.to_json() for c in record.components]
        out = []
        for i, c in enumerate(found):
            # the original judgement of the stored component at this apex, if any
            near = min(stored, key=lambda s: abs(s["rt_s"] - c.rt_s), default=None)
            same = near is not None and abs(near["rt_s"] - c.rt_s) <= max(c.width_s, 1.0)
            out.append({
                "component": i, "rt_s": c.rt_s, "rt_min": round(c.rt_s / 60.0, 4),
                "retention_index": None if ri[i] is None else round(ri[i], 2),
                "ri_extrapolated": extrapolated[i],
                "spectrum": {"mz": c.spectrum.mz.tolist(),
                             "intensity": c.spectrum.intensity.tolist()},
                "substance": near.get("substance") if same else None,
                "match_factor": near.get("match_factor") if same else None,
                "alternatives": near.get("alternatives", []) if same else [],
            })
        return out, None


def _finding(component, hits, library, criteria, tolerance, settings, target_list, record,
             substance_cls):
    """The finding of one component (module docstring), or None."""
    spectrum_rules = criteria.spectrum
    passing = []
    for hit in hits:
        if (hit.match_factor < spectrum_rules.min_match_factor
                or hit.reverse_match_factor < spectrum_rules.min_reverse_match_factor):
            continue
        ri = component.get("retention_index")
        delta = None
        if not component.get("ri_extrapolated") and _finite(ri) is not None \
                and hit.retention_index is not None:
            delta = float(ri) - float(hit.retention_index)
            if abs(delta) > tolerance:
                continue
        passing.append((hit, delta))
    if not passing:
        return None
    hit, delta = passing[0]
    substance = substance_cls.from_hit(hit, library.entry(hit.library_index).synonyms)
    if any(substance.matches_name(name) for name in _reported(record)):
        return None
    for weighed in (component, *(component.get("alternatives") or ())):
        if weighed.get("substance") and substance.matches_name(weighed["substance"]) \
                and (weighed.get("match_factor") or 0) >= hit.match_factor:
            return None  # the original search offered this substance as well
    scope = target_list.scope(substance) if target_list is not None else None
    if (settings.targets or target_list is not None) \
            and not (_is_target(substance, settings.targets) or (scope or {}).get("in_scope")):
        return None
    close = [{"substance": h.name, "match_factor": h.match_factor}
             for h, _ in passing[1:]
             if hit.match_factor - h.match_factor <= spectrum_rules.close_match_factor
             and not substance.same_as(substance_cls.from_hit(h))]
    return {
        "component": component.get("component"), "rt_s": component.get("rt_s"),
        "rt_min": component.get("rt_min"),
        "retention_index": component.get("retention_index"),
        "substance": substance.name, "cas": substance.cas, "inchikey": substance.inchikey,
        "match_factor": hit.match_factor, "reverse_match_factor": hit.reverse_match_factor,
        "probability": hit.probability,
        "delta_ri": None if delta is None else round(delta, 1),
        "retention": "not evaluated" if delta is None else "index within tolerance",
        "library_index": hit.library_index, "library_sha256": hit.library_sha256,
        "close_alternatives": close,
        "scope": scope,
        "status": "lead for review: confirm against a reference standard",
    }


# ------------------------------------------------------------------------------ driver
def _write_json(path: Path, value: Any) -> None:
    from gcms.batch.output import write_atomic

    write_atomic(path, json.dumps(value, indent=1, allow_nan=False) + "\n")


def _done(path: Path, key: str) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(document, dict) and document.get("format") == DOCUMENT_FORMAT \
            and document.get("key") == key:
        return document
    return None


def finding_rows(documents: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per finding (:data:`FINDING_COLUMNS`), by case, exhibit, sample, document."""
    rows = []
    for document in documents:
        for run in document["runs"]:
            for f in run["findings"]:
                rows.append({
                    "case_id": run.get("case_id"), "exhibit_id": run.get("exhibit_id"),
                    "sample_id": run.get("sample_id"), "run_file": run["file"],
                    "position": run["position"], "component": f["component"],
                    "rt_min": f["rt_min"], "retention_index": f["retention_index"],
                    "substance": f["substance"], "cas": f["cas"], "inchikey": f["inchikey"],
                    "match_factor": f["match_factor"],
                    "reverse_match_factor": f["reverse_match_factor"],
                    "probability": f["probability"], "delta_ri": f["delta_ri"],
                    "retention": f["retention"],
                    "controlled": "; ".join((f.get("scope") or {}).get("controlled") or ())
                    or None, "document": document["label"]})
    rows.sort(key=lambda r: (str(r["case_id"] or ""), str(r["exhibit_id"] or ""),
                             str(r["sample_id"] or ""), r["document"], r["position"],
                             r["component"] if r["component"] is not None else -1))
    return rows


def _per_case(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    cases: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for row in rows:
        exhibits = cases.setdefault(row["case_id"] or "", {})
        exhibits.setdefault(row["exhibit_id"] or "", []).append(
            {k: v for k, v in row.items() if k not in ("case_id", "exhibit_id")})
    return [{"case_id": case or None,
             "exhibits": [{"exhibit_id": exhibit or None, "findings": findings}
                          for exhibit, findings in exhibits.items()]}
            for case, exhibits in cases.items()]


def _run_units(units: Sequence[ArchivedDocument], library_path: str, library_sha256: str,
               settings: RescreenSettings, target_list: Any, *, engine: Engine,
               scheduler: str | None, workers: int | None,
               on_result: Callable[[dict[str, Any]], None]) -> None:
    if not units:
        return
    if engine == "in-process":
        for unit in units:
            on_result(rescreen_document(unit, library_path, library_sha256, settings,
                                        target_list))
        return
    from gcms.distributed.engine import dask_client

    with dask_client(scheduler=scheduler, workers=workers) as client:
        import distributed

        _same_version(client, scheduler)

        futures = [client.submit(rescreen_document, unit, library_path, library_sha256,
                                 settings, target_list, key=f"gcms-rescreen-{unit.key}", pure=False,
                                 retries=2)
                   for unit in units]
        # with_results: results come back in batches as they finish, not one round
        # trip per task
        for future, result in distributed.as_completed(futures, with_results=True):
            on_result(result)
            future.release()


def _gcms_version() -> str:
    from gcms import __version__

    return __version__


def _same_version(client: Any, scheduler: str | None) -> None:
    """Refuse workers running another gcms than this process (other code, other findings)."""
    mine = _gcms_version()
    other = {worker: version for worker, version in client.run(_gcms_version).items()
             if version != mine}
    if other:
        listed = ", ".join(f"{w} has {v}" for w, v in sorted(other.items()))
        raise GcmsError(f"{scheduler or 'local cluster'}: workers run another gcms than "
                        f"this process ({mine}): {listed}")


def rescreen(sources: Sequence[str | os.PathLike], library: str | os.PathLike, *,
             out_dir: str | os.PathLike, settings: RescreenSettings | None = None,
             store: Any = None, cases: Sequence[str] = (), record_in_store: bool = True,
             engine: Engine = "dask", scheduler: str | None = None,
             workers: int | None = None, actor: str | None = None, resume: bool = True,
             progress: Callable[[int, int, str], None] | None = None) -> RescreenResult:
    """Re-screen archived documents against ``library``; write the outputs to ``out_dir``.

    Parameters
    ----------
    sources
        ``results.json`` files of ``gcms batch``, or folders searched for them.
    library
        Path of a compiled library (:meth:`gcms.library.Library.write`); every worker
        opens it by this path and checks its content hash.
    out_dir
        Output folder (module docstring); created.
    settings
        :class:`RescreenSettings`.
    store, cases
        An open :class:`gcms.custody.CaseStore` whose cases (``cases``, or all) are
        screened too; with ``record_in_store``, each case screened gets a re-screening
        analysis and result (a new audit-logged entry; earlier results are untouched).
    engine
        ``"dask"`` (a LocalCluster of ``workers`` processes, or the cluster at
        ``scheduler``) or ``"in-process"`` (the same task, one document after another,
        in this process: the reference).
    actor
        Who runs the re-screening (recorded); default ``GCMS_ACTOR`` or the login name.
    resume
        Skip documents whose output is already in ``out_dir`` with the same key.
    progress
        Called as ``progress(done, total, label)`` after each document.

    Raises
    ------
    GcmsError
        An unreadable library or criteria profile, or a source that does not exist.
    """
    from gcms.custody.store import default_actor
    from gcms.library import Library

    if engine not in ("dask", "in-process"):
        raise ValueError(f"engine must be 'dask' or 'in-process', got {engine!r}")
    settings = settings or RescreenSettings()
    _criteria(settings.criteria)  # a bad profile fails here, not on every worker
    target_list = None
    if settings.target_lists:
        from gcms.identify.targets import load_targets

        target_list = load_targets(settings.target_lists)
    started = time.perf_counter()
    library_path = Path(library).resolve()
    opened = Library.open(library_path)
    sha = opened.content_sha256
    who = actor or (store.actor if store is not None else default_actor())
    out = Path(out_dir)
    folder = out / "documents"
    folder.mkdir(parents=True, exist_ok=True)
    units = archived_documents(sources, settings=settings, library_sha256=sha, store=store,
                               cases=cases, target_list=target_list)
    documents: dict[str, dict[str, Any]] = {}
    todo = []
    for unit in units:
        done = _done(folder / f"{unit.stem}.json", unit.key) if resume else None
        if done is not None:
            documents[unit.key] = done
        else:
            todo.append(unit)
    skipped = len(documents)
    failed: list[dict[str, Any]] = []
    by_key = {u.key: u for u in units}
    count = [skipped]

    def on_result(result: dict[str, Any]) -> None:
        unit = by_key[result["key"]]
        if "problem" in result:
            failed.append({"document": unit.path or unit.label, "problem": result["problem"]})
        else:
            result = {**result, "screened_utc": _utc_now(), "screened_by": who}
            _write_json(folder / f"{unit.stem}.json", result)
            documents[unit.key] = result
        count[0] += 1
        if progress is not None:
            progress(count[0], len(units), unit.label)

    _run_units(todo, str(library_path), sha, settings, target_list, engine=engine,
               scheduler=scheduler, workers=workers, on_result=on_result)
    ordered = tuple(documents[u.key] for u in units if u.key in documents)
    rows = finding_rows(ordered)
    summary = {
        "format": SUMMARY_FORMAT, "format_version": FORMAT_VERSION,
        "gcms_version": _gcms_version(), "screened_utc": _utc_now(), "screened_by": who,
        "library": {"path": str(library_path), "sha256": sha, "title": opened.title,
                    "n_entries": len(opened)},
        "settings": settings.to_dict(),
        "target_lists": None if target_list is None else target_list.to_dict(),
        "engine": engine if scheduler is None else f"dask scheduler {scheduler}",
        "documents": [{"label": d["label"], "source": d["source"],
                       "runs_screened": d["runs_screened"],
                       "n_findings": sum(len(r["findings"]) for r in d["runs"]),
                       "screened_utc": d.get("screened_utc")} for d in ordered],
        "failed": failed,
        "runs_screened": sum(int(d["runs_screened"]) for d in ordered),
        "n_findings": len(rows),
        "cases": _per_case(rows),
    }
    _write_json(out / "rescreen.json", summary)
    _write_csv(out / "findings.csv", rows)
    if store is not None and record_in_store:
        summary["store_entries"] = _record_in_store(store, ordered, units, summary, out)
        _write_json(out / "rescreen.json", summary)
    return RescreenResult(summary=summary, documents=ordered, failed=tuple(failed),
                          skipped=skipped, seconds=time.perf_counter() - started,
                          out_dir=out)


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    import csv
    import io

    from gcms.batch.output import write_atomic
    from gcms.identifiers import spreadsheet_safe_row

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(FINDING_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(spreadsheet_safe_row(  # OWASP CSV injection: gcms.identifiers
            {k: "" if row.get(k) is None else row[k] for k in FINDING_COLUMNS}))
    write_atomic(path, buffer.getvalue())


def _record_in_store(store: Any, documents: Sequence[Mapping[str, Any]],
                     units: Sequence[ArchivedDocument], summary: Mapping[str, Any],
                     out: Path) -> list[dict[str, Any]]:
    """One re-screening analysis and result per store case screened (once per key)."""
    entries = []
    keys = {u.key: u for u in units if u.case_id is not None}
    for document in documents:
        unit = keys.get(document["key"])
        if unit is None:
            continue
        marker = out / "store" / f"{unit.stem}.json"
        recorded = _marker(marker, unit.key)
        if recorded is not None:
            entries.append(recorded)
            continue
        findings = [f for run in document["runs"] for f in run["findings"]]
        analysis = store.record_analysis(
            unit.case_id, run_ids=[], software="gcms rescreen",
            parameters={"kind": "re-screening", "settings": summary["settings"],
                        "screened_by": document.get("screened_by")},
            library_name=Path(summary["library"]["path"]).name,
            library_sha256=summary["library"]["sha256"],
            criteria_profile=summary["settings"]["criteria"])
        data = {"kind": "re-screening", "screened_utc": document.get("screened_utc"),
                "screened_by": document.get("screened_by"),
                "library_sha256": summary["library"]["sha256"],
                "screened_results": document["source"].get("result_ids", []),
                "runs": document["runs"]}
        result = store.record_result(
            unit.case_id, data, analysis_id=analysis.analysis_id,
            summary=f"re-screening against library {summary['library']['sha256'][:12]}: "
                    f"{len(findings)} new finding(s) for review")
        entry = {"key": unit.key, "case_id": unit.case_id,
                 "analysis_id": analysis.analysis_id, "result_id": result.result_id}
        _write_json(marker, entry)
        entries.append(entry)
    return entries


def _marker(path: Path, key: str) -> dict[str, Any] | None:
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("key") == key else None

