"""Report models from a batch's ``results.json`` or from a case store.

``results.json`` (written by ``gcms batch``) holds one record per run of the sequence::

    {"runs": [{"sample_id", "file", "sha256", "type", "case_id", "exhibit_id",
               "acquired_at", "instrument", "method", "reference_substances",
               "components": [{"rt_s", "retention_index", "substance", "verdict",
                               "match_factor", "reverse_match_factor", "probability",
                               "delta_rt_s", "delta_ri", "library": {"index", "name",
                               "sha256", ...}, "reference_standard": {"file", "position",
                               "component", ...}, "criteria": [{"criterion", "result",
                               "value", "limit", "unit", ...}], "notes", "alternatives",
                               "spectrum": {"mz", "intensity"}}, ...],
               "findings": {"identified", "inconclusive", "notes": [{"kind", "text"}]},
               "quantitation": [...]}, ...],
     "library": {...}, "criteria": {...}, "gcms_version": "..."}

The adapter reads what is there and leaves out what is not (a field a batch did not
write is shown as "—", never invented). The chromatogram is redrawn from the run file
when it is still at its path *and* still hashes to the recorded SHA-256; the library
entry's spectrum is read from the library when its file is given and its SHA-256 is the
one the batch recorded.

From a case store, the same records are the stored results (``Result.data``), and the
store adds the item as received, custody transfers, every evidence file's digest (file
by file), reviews, signatures, the audit entries of the exhibit and the chain head.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gcms.errors import GcmsError
from gcms.report.lab import UNCONFIGURED
from gcms.report.model import (
    OUTCOMES,
    QC_USES,
    VERDICTS,
    AuditLine,
    Chromatogram,
    ComponentFinding,
    Conclusion,
    Criterion,
    EvidenceRecord,
    InstrumentStatus,
    ItemReceived,
    Laboratory,
    LibraryHit,
    PeakLabel,
    Person,
    QCRun,
    QuantitationRow,
    ReportModel,
    SignatureLine,
    SpectrumTrace,
    Transfer,
    evidence_of,
)

__all__ = ["from_records", "from_results", "from_store", "load_results", "record_field",
           "run_records"]

#: Audit entries of the exhibit shown in the report (the latest; the whole log is in
#: the store and its bundles).
AUDIT_EXCERPT_ENTRIES = 25
_QC_KINDS = ("blank", "standard", "qc", "ladder")


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a batch ``results.json``; ``GcmsError`` names the file and the problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise GcmsError(f"{path}: cannot read ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GcmsError(f"{path}: not a JSON results file ({error})") from None
    if not run_records(data):
        raise GcmsError(f"{path}: holds no run records (expected a 'runs' list)")
    return data


def run_records(results: Any) -> list[dict[str, Any]]:
    """The per-run records of a results document (``{"runs": [...]}`` or a list)."""
    runs = results.get("runs", results.get("records")) if isinstance(results, Mapping) \
        else results
    if not isinstance(runs, list):
        return []
    return [r for r in runs if isinstance(r, Mapping)]


def record_field(record: Mapping[str, Any], key: str) -> Any:
    """A run record's field, at its top level or in its ``run`` part (batch layout)."""
    if record.get(key) is not None:
        return record[key]
    run = record.get("run")
    if isinstance(run, Mapping):
        if key == "sha256":
            return run.get("sha256") or run.get("input_sha256")
        return run.get(key)
    return None


def _error(record: Mapping[str, Any]) -> str | None:
    return record.get("error") or record.get("problem")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _outcome(value: Any) -> str:
    if value is True:
        return "pass"
    if value is False:
        return "fail"
    text = str(value or "not evaluated").lower()
    return {"passed": "pass", "failed": "fail", "ok": "pass"}.get(text, text) \
        if text in (*OUTCOMES, "passed", "failed", "ok") else "not evaluated"


def _qa_status(value: Any) -> str:
    """The batch QA gate's status (``passing``, ``failing``, ``stale``, ``missing``)."""
    text = str(value or "").lower()
    if text in ("failing", "stale", "missing"):
        return "fail"
    return "pass" if text == "passing" else _outcome(value)


_COMPARATORS = ((">=", "≥"), ("=>", "≥"), ("<=", "≤"), ("=<", "≤"))


def _figure(value: Any) -> str:
    """A recorded number as written for a reader: integers bare, others to 4 figures."""
    if isinstance(value, bool) or value is None:
        return "—"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return str(int(value)) if value.is_integer() and abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def _with_unit(text: str, unit: str) -> str:
    """``text`` with its unit after one space: ``"2"``, ``"2s"`` and ``"2 s"`` -> ``"2 s"``."""
    if not unit or text == "—":
        return text
    if text.endswith(unit) and text[: -len(unit)].rstrip()[-1:].isdigit():
        return f"{text[: -len(unit)].rstrip()} {unit}"
    return f"{text} {unit}" if text[-1:].isdigit() else text


def _limit(limit: Any, unit: str) -> str:
    """``">= 800"`` -> ``"≥ 800"``, ``"±2"`` with unit s -> ``"± 2 s"``."""
    if limit is None:
        return "—"
    if isinstance(limit, (int, float)) and not isinstance(limit, bool):
        return _with_unit(_figure(limit), unit)
    text = str(limit).strip()
    for ascii_form, sign in _COMPARATORS:
        text = text.replace(ascii_form, sign)
    text = re.sub(r"^([≥≤<>±])\s*", r"\1 ", text)
    return _with_unit(text, unit)


def _ion_ratio_values(item: Mapping[str, Any]) -> tuple[str, str] | None:
    """The worst ion ratio against its own band: ``("9.6 % (m/z 55/194)", "± 15 %")``.

    The identification step records each ratio's relative deviation from the reference
    standard and its tolerance (EU 2002/657/EC bands); the one nearest to (or furthest
    beyond) its band decides, so that one is shown.
    """
    evidence = item.get("evidence")
    if not isinstance(evidence, Mapping) or not evidence.get("ions"):
        return None
    base = evidence.get("quantifier")

    def ratio(row: Mapping[str, Any]) -> float:
        deviation, tolerance = row.get("deviation_percent"), row.get("tolerance_percent")
        if deviation is None or not tolerance:
            return math.inf
        return float(deviation) / float(tolerance)

    worst = max((r for r in evidence["ions"] if isinstance(r, Mapping)), key=ratio,
                default=None)
    if worst is None:
        return None
    pair = f"m/z {_figure(worst.get('mz'))}/{_figure(base)}"
    tolerance = worst.get("tolerance_percent")
    limit = f"± {_figure(tolerance)} %" if tolerance is not None else "—"
    if worst.get("deviation_percent") is None:
        return f"{pair}: —", limit
    return f"{float(worst['deviation_percent']):.1f} % ({pair})", limit


def _run_named(records: Sequence[Mapping[str, Any]], position: Any, file: Any) -> str | None:
    """The sample id of the run a record names by sequence position or file name."""
    if position is None and not file:
        return None
    for other in records:
        if _refers_to(other, position, file):
            return str(other.get("sample_id") or Path(str(file)).name)
    return Path(str(file)).name if file else None


def _seconds(value: Any, digits: int = 2) -> str | None:
    number = _number(value)
    return None if number is None else f"{number:.{digits}f} s"


#: The step's sentence for a criterion it could not evaluate, by what was missing.
_NOT_EVALUATED = (("retention_time", "no reference standard", "detail_retention_time_none"),
                  ("ion_ratios", "no reference standard", "detail_ion_ratios_none"),
                  ("ion_ratios", "not used by this profile", "detail_not_used_by_profile"),
                  ("retention_index", "no alkane ladder", "detail_retention_index_none"),
                  ("retention_index", "no retention index", "detail_retention_index_none"),
                  ("retention_index", "the library gives no RI",
                   "detail_retention_index_no_library_ri"),
                  ("retention_index", "is extrapolated outside the ladder",
                   "detail_retention_index_extrapolated"))


def _sentence(name: str, item: Mapping[str, Any], result: str, value: str, limit: str,
              context: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The wording key and its language-neutral values for a criterion (or None, {}).

    The identification step writes each criterion's ``detail`` in English; a report in
    another language states the same facts in its own words from these values. A
    criterion whose facts are not recognised keeps its recorded sentence (None here).
    """
    detail = str(item.get("detail") or "")
    evidence = item.get("evidence") if isinstance(item.get("evidence"), Mapping) else {}
    if result == "not evaluated":
        for criterion, cue, key in _NOT_EVALUATED:
            if name == criterion and cue in detail:
                return key, {}
        return None, {}
    entry = str(context.get("entry") or "—")
    if name in ("match_factor", "reverse_match_factor") and value != "—":
        return f"detail_{name}", {"mf": value, "entry": entry}
    if name == "retention_time" and evidence:
        run = _run_named(context.get("records", ()), evidence.get("position"),
                         evidence.get("file")) or "—"
        return "detail_retention_time", {"delta": value, "run": run, "window": limit,
                                         "rt": _seconds(evidence.get("rt_s")) or "—"}
    if name == "retention_index" and evidence:
        ladder = _run_named(context.get("records", ()), evidence.get("ladder_position"),
                            evidence.get("ladder_file")) or "—"
        ri, library_ri = _number(context.get("ri")), _number(context.get("library_ri"))
        return "detail_retention_index", {
            "ri": f"{ri:.1f}" if ri is not None else "—", "ladder": ladder,
            "library_ri": _figure(library_ri) if library_ri is not None else "—",
            "delta": value, "window": limit}
    if name == "diagnostic_ions" and evidence.get("ions") is not None:
        missing = {float(m) for m in evidence.get("missing") or []}
        present = [f"m/z {_figure(m)}" for m in evidence["ions"] if float(m) not in missing]
        return "detail_diagnostic_ions", {
            "ions": ", ".join(present) or "—",
            "missing": ", ".join(f"m/z {_figure(m)}" for m in sorted(missing)) or "—"}
    if name == "ion_ratios" and evidence.get("ions"):
        ratios = [f"m/z {_figure(r.get('mz'))}: {_figure(r.get('measured_percent'))} % / "
                  f"{_figure(r.get('reference_percent'))} % "
                  f"(± {_figure(r.get('tolerance_percent'))} %)"
                  for r in evidence["ions"] if isinstance(r, Mapping)]
        return "detail_ion_ratios", {"base": f"m/z {_figure(evidence.get('quantifier'))}",
                                     "ratios": "; ".join(ratios)}
    if name == "signal_to_noise":
        match = re.search(r"m/z (\d+(?:\.\d+)?) S/N (\S+)", detail)
        if match:
            return "detail_signal_to_noise", {"mz": f"m/z {match.group(1)}",
                                              "snr": match.group(2)}
    if name == "blank" and evidence.get("blank_file"):
        run = _run_named(context.get("records", ()), evidence.get("blank_position"),
                         evidence.get("blank_file")) or "—"
        quantifier = evidence.get("quantifier") if isinstance(evidence.get("quantifier"),
                                                                  Mapping) else {}
        mz = f"m/z {_figure(quantifier.get('mz'))}" if quantifier.get("mz") else "—"
        if evidence.get("detected"):
            percent = _number(evidence.get("percent"))
            return "detail_blank_detected", {
                "run": run, "mz": mz, "percent": f"{percent:.1f} %" if percent is not None
                else "—"}
        if evidence.get("problem") is None:
            return "detail_blank_clean", {"run": run, "mz": mz}
    if name == "distinct_from_runner_up":
        match = re.search(r"next different compound '(.+)' at MF (\d+)", detail)
        if match:
            return "detail_distinct", {"name": match.group(1), "mf": match.group(2)}
        if detail == "no other compound among the hits":
            return "detail_distinct_none", {}
    return None, {}


def _criterion(item: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> Criterion:
    """A criterion record of the identification step, value and limit with their units.

    Records carry ``criterion``, ``value``, ``limit``, ``unit``, ``result``, ``detail``
    and ``evidence`` (:class:`gcms.identify.judge.CriterionResult`). Three are re-stated
    for a reader: ion ratios as the worst ratio's deviation against its band (the record's
    value is that deviation as a fraction of the band); the distinctness from the next
    compound as the MF lead over it (the record's value is the next compound's MF minus
    this one's); diagnostic ions as present/asked for.
    """
    name = str(item.get("criterion", item.get("name", "?")))
    unit = str(item.get("unit") or "")
    raw_value, raw_limit = item.get("value"), item.get("limit")
    result = _outcome(item.get("result"))
    value, limit = None, None
    if name == "ion_ratios" and raw_value is not None:
        pair = _ion_ratio_values(item)
        if pair is not None:
            value, limit = pair
    elif name == "distinct_from_runner_up":
        if isinstance(raw_value, (int, float)) and not isinstance(raw_value, bool):
            value = _with_unit(_figure(-raw_value), "MF")
        match = re.search(r"within (\d+(?:\.\d+)?) MF", str(raw_limit or ""))
        if match:
            limit = f"≥ {_figure(float(match.group(1)))} MF"
    elif name == "diagnostic_ions":
        match = re.fullmatch(r"all (\d+)", str(raw_limit or "").strip())
        if match:
            limit = f"{match.group(1)}/{match.group(1)}"
    elif name in ("retention_time",) and isinstance(raw_value, (int, float)) \
            and not isinstance(raw_value, bool):
        value = _with_unit(f"{raw_value:+g}", unit)
    elif name == "retention_index" and isinstance(raw_value, (int, float)) \
            and not isinstance(raw_value, bool):
        value = _with_unit(f"{raw_value:+.1f}", unit)
    if value is None:
        value = _with_unit(_figure(raw_value) if not isinstance(raw_value, (list, tuple,
                                                                              Mapping))
                           else _text(raw_value), unit)
    if limit is None:
        limit = _limit(raw_limit, unit)
    decisive = item.get("decisive")
    sentence, values = _sentence(name, item, result, value, limit, context or {})
    return Criterion(name=name, value=value, limit=limit, result=result,
                     note=item.get("detail") or None, unit=unit,
                     decisive=decisive if isinstance(decisive, bool) else None,
                     sentence=sentence, sentence_values=tuple(values.items()))


def _trace(label: str, spectrum: Any) -> SpectrumTrace | None:
    if not isinstance(spectrum, Mapping) or "mz" not in spectrum:
        return None
    return SpectrumTrace(label, spectrum["mz"], spectrum["intensity"])


class _Library:
    """Library entry spectra by index, from the library the batch used.

    The batch records the library's *content* hash (``Library.content_sha256``: spectra
    and entry fields, not the file's bytes); the case store also records the file's
    SHA-256. The file at ``path`` is used when its content hash is the one the batch
    recorded (a library rewritten with the same content is the same library); without a
    recorded content hash, when its file hash is the recorded one. Otherwise its spectra
    are not shown, and :attr:`problem` says why.
    """

    def __init__(self, path: str | os.PathLike | None, *, content_sha256: str | None,
                 file_sha256: str | None) -> None:
        self.library = None
        self.problem: str | None = None
        self.file_sha256: str | None = None
        if path is None or not Path(path).is_file():
            return
        from gcms.custody import hash_evidence
        from gcms.library import Library

        digest = hash_evidence(path).sha256
        if not content_sha256 and not file_sha256:
            self.problem = (f"library {path}: the batch recorded no hash of its library, so "
                            "this file cannot be shown to be the one used: library spectra "
                            "not shown")
            return
        if not content_sha256 and digest != file_sha256:
            self.problem = (f"library file {path} has SHA-256 {digest}, the batch's library "
                            f"file had {file_sha256}: library spectra not shown")
            return
        try:
            library = Library.open(path)
        except GcmsError as error:
            self.problem = f"library {path} cannot be read ({error}): library spectra not shown"
            return
        if content_sha256 and library.content_sha256 != content_sha256:
            self.problem = (f"library {path} holds content SHA-256 {library.content_sha256}, "
                            f"the batch used content SHA-256 {content_sha256}: library "
                            "spectra not shown")
            return
        self.library, self.file_sha256 = library, digest

    def spectrum(self, index: Any, name: str) -> SpectrumTrace | None:
        if self.library is None or not isinstance(index, int):
            return None
        spectrum = self.library.spectrum(index)
        return SpectrumTrace(f"library: {name}", spectrum.mz, spectrum.intensity)


def _finding(record: Mapping[str, Any], component: Mapping[str, Any],
             records: Sequence[Mapping[str, Any]], library: _Library) -> ComponentFinding:
    sample = str(record.get("sample_id") or Path(str(record.get("file", "?"))).name)
    lib = component.get("library") or {}
    name = component.get("substance")
    hits = []
    if component.get("match_factor") is not None or lib.get("name"):
        hits.append(LibraryHit(1, str(lib.get("name") or name or "?"),
                               _number(component.get("match_factor")),
                               _number(component.get("reverse_match_factor")),
                               _number(component.get("probability")),
                               _number(component.get("delta_ri")), cas=lib.get("cas")))
    for alt in component.get("alternatives") or []:
        if isinstance(alt, Mapping):
            hits.append(LibraryHit(len(hits) + 1, str(alt.get("substance", alt.get("name", "?"))),
                                   _number(alt.get("match_factor")),
                                   _number(alt.get("reverse_match_factor")),
                                   _number(alt.get("probability")), _number(alt.get("delta_ri"))))
    rt = _number(component.get("rt_s"))
    reference_trace, reference_run = None, None
    ref = component.get("reference_standard")
    if isinstance(ref, Mapping):
        for other in records:
            same_file = str(other.get("file")) == str(ref.get("file"))
            if same_file or other.get("position") == ref.get("position") is not None:
                reference_run = str(other.get("sample_id") or ref.get("file"))
                parts = other.get("components") or []
                index = ref.get("component")
                chosen = next((c for c in parts if c.get("component") == index), None)
                if chosen is not None:
                    reference_trace = _trace(f"reference standard {reference_run}: "
                                             f"{ref.get('substance', name)}",
                                             chosen.get("spectrum"))
                break
        reference_run = reference_run or str(ref.get("file"))
    verdict = str(component.get("verdict", "not identified"))
    if verdict not in VERDICTS:
        raise GcmsError(f"run {sample}: component verdict {verdict!r} is not one of "
                        f"{', '.join(VERDICTS)}")
    rt_text = f"{rt / 60.0:.2f} min" if rt is not None else "?"
    calibration = record.get("retention_calibration")
    ladder_run = _run_named(records, calibration.get("ladder_position"),
                            calibration.get("ladder_file")) \
        if isinstance(calibration, Mapping) else None
    context = {"records": records, "entry": lib.get("name") or name,
               "ri": component.get("retention_index"), "library_ri": lib.get("retention_index")}
    criteria = tuple(_criterion(c, context) for c in component.get("criteria") or []
                     if isinstance(c, Mapping))
    source = component.get("retention_source")
    # a component that is not identified is not the substance of its best hit: the hit
    # stays in the hit list, shown as such
    reported = None if verdict == "not identified" else name
    return ComponentFinding(
        sample_id=sample, substance=reported, verdict=verdict, rt_s=rt,
        retention_index=_number(component.get("retention_index")),
        delta_ri=_number(component.get("delta_ri")),
        delta_rt_s=_number(component.get("delta_rt_s")),
        criteria=criteria,
        hits=tuple(hits),
        spectrum=_trace(f"{sample} at {rt_text}", component.get("spectrum")),
        library_spectrum=(_trace(f"library: {lib.get('name') or name}", lib.get("spectrum"))
                          or library.spectrum(lib.get("index"), str(lib.get("name") or name)))
        if verdict == "identified" else None,
        reference_spectrum=reference_trace, reference_run=reference_run,
        notes=tuple(str(n) for n in component.get("notes") or []),
        evidence=evidence_of(criteria, reference_spectrum=reference_trace is not None
                             and verdict != "not identified"),
        retention_source=str(source) if source in ("standard", "index") else None,
        ladder_run=ladder_run if any(c.name == "retention_index"
                                     and c.result != "not evaluated" for c in criteria)
        else None,
    )


def _chromatogram(record: Mapping[str, Any], findings: Sequence[ComponentFinding],
                  deviations: list[str]) -> Chromatogram | None:
    path = record.get("file")
    if not path or not Path(path).exists():
        return None
    from gcms.io import read

    try:
        run = read(path)
    except GcmsError as error:
        deviations.append(f"chromatogram of {record.get('sample_id')} not drawn: {error}")
        return None
    recorded = record_field(record, "sha256")
    if recorded and run.metadata.sha256 and run.metadata.sha256 != recorded:
        deviations.append(f"{path}: now hashes to {run.metadata.sha256}, the batch recorded "
                          f"{recorded}: its chromatogram is not drawn")
        return None
    peaks = tuple(PeakLabel(f.rt_s, f.substance, f.verdict == "identified")
                  for f in findings if f.rt_s is not None and f.substance
                  and f.verdict != "not identified")
    label = f"{record.get('sample_id')} ({Path(str(path)).name})"
    return Chromatogram(label, run.scan_times, run.tic, peaks)


def _ladder_summary(record: Mapping[str, Any]) -> str:
    """``"n-alkanes C9–C26, n = 18"`` from a ladder run's record."""
    ladder = record.get("ladder") if isinstance(record.get("ladder"), Mapping) else {}
    calibration = record.get("ladder_calibration")
    names = list(calibration.get("names") or []) if isinstance(calibration, Mapping) else []
    if not names:
        names = [str(m.get("name")) for m in ladder.get("members") or []
                 if isinstance(m, Mapping) and m.get("name")]
    if not names:
        names = [str(n) for n in ladder.get("names") or []]
    series = str(ladder.get("series") or (calibration or {}).get("series") or "").strip()
    if not names:
        return series
    span = names[0] if len(names) == 1 else f"{names[0]}–{names[-1]}"
    return f"{series} {span}, n = {len(names)}".strip()


def _qc(record: Mapping[str, Any], uses: Sequence[str] = ()) -> QCRun:
    kind = str(record.get("type", "qc"))
    sample = str(record.get("sample_id") or Path(str(record.get("file"))).name)
    components = record.get("components") or []
    found = sorted({str(c.get("substance")) for c in components
                    if c.get("verdict") == "identified" and c.get("substance")})
    missing: list[str] = []
    problem = _error(record)
    if problem:
        outcome, summary = "fail", str(problem)
    elif kind == "blank":
        status = record.get("blank_status") or {}
        if status.get("carry_over_detected"):
            found = sorted({*found, *status["carry_over_detected"]})
        outcome = "pass" if not found else "fail"
        summary = ("no library substance identified" if not found
                   else "identified: " + ", ".join(found))
    elif kind in ("standard", "qc"):
        wanted = record.get("reference_substances") or record.get("reference_substance") or []
        wanted = [wanted] if isinstance(wanted, str) else list(wanted)
        missing = [w for w in wanted if w.casefold() not in {f.casefold() for f in found}]
        outcome = "fail" if missing else ("pass" if wanted or found else "not evaluated")
        summary = ("found: " + ", ".join(found)) if found else "no substance identified"
        if missing:
            summary += "; missing: " + ", ".join(missing)
    else:
        ladder = record.get("ladder")
        calibrated = isinstance(record.get("ladder_calibration"), Mapping)
        outcome = "pass" if (isinstance(ladder, Mapping) and not ladder.get("error")) \
            or calibrated else "not evaluated"
        summary = _ladder_summary(record)
        found = []
    recovery, tolerance = None, None
    checks = [q.get("check") for q in record.get("quantitation") or []
              if isinstance(q, Mapping) and q.get("role") == "check"
              and isinstance(q.get("check"), Mapping)]
    if checks and not problem:  # a check standard's recovery (gcms.quantitation)
        worst = min(checks, key=lambda c: bool(c.get("passed")))
        recovery = _number(worst.get("recovery_percent"))
        tolerance = _number(worst.get("tolerance_percent"))
        if worst.get("passed") is False:
            outcome = "fail"
        summary += (f"; recovery {recovery:.1f} % of nominal (±{tolerance:g} %)"
                    if recovery is not None and tolerance is not None else "")
    return QCRun(sample, kind, outcome, summary, str(record.get("file")),
                 record_field(record, "sha256"), record_field(record, "acquired_at"),
                 tuple(u for u in QC_USES if u in uses), tuple(found), tuple(missing),
                 str(problem) if problem else None, recovery, tolerance)


def _run_key(record: Mapping[str, Any]) -> tuple[Any, str]:
    """How a run is named by the records that rest on it: sequence position, file name."""
    name = record.get("file_name") or Path(str(record.get("file") or "")).name
    return record.get("position"), str(name)


def _refers_to(record: Mapping[str, Any], position: Any, file: Any) -> bool:
    own_position, own_name = _run_key(record)
    if position is not None and own_position is not None:
        return position == own_position
    return file is not None and Path(str(file)).name == own_name


def _runs_used(mine: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]
               ) -> dict[int, set[str]]:
    """The runs the exhibit's verdicts rest on: ``{index in records: {uses}}``.

    Read from the exhibit's run records as the batch names them (:mod:`gcms.batch.output`:
    by sequence position and file name): the alkane ladder of its retention indices
    (``retention_calibration``), the blank before it (``blank``), and the reference
    standard of each component's comparisons (``reference_standard``, and the evidence
    of its retention-time criterion).
    """
    wanted: list[tuple[Any, Any, str]] = []
    for record in mine:
        calibration = record.get("retention_calibration")
        if isinstance(calibration, Mapping) and (calibration.get("ladder_file")
                                                 or calibration.get("ladder_position")
                                                 is not None):
            wanted.append((calibration.get("ladder_position"), calibration.get("ladder_file"),
                           "retention index"))
        blank = record.get("blank")
        if isinstance(blank, Mapping) and (blank.get("blank_file")
                                           or blank.get("blank_position") is not None):
            wanted.append((blank.get("blank_position"), blank.get("blank_file"),
                           "blank before"))
        for component in record.get("components") or []:
            if not isinstance(component, Mapping):
                continue
            references = [component.get("reference_standard")]
            references += [c.get("evidence") for c in component.get("criteria") or []
                           if isinstance(c, Mapping) and c.get("criterion") == "retention_time"]
            for ref in references:
                if isinstance(ref, Mapping) and (ref.get("file") or ref.get("position")
                                                 is not None):
                    wanted.append((ref.get("position"), ref.get("file"), "reference standard"))
    used: dict[int, set[str]] = {}
    for index, record in enumerate(records):
        for position, file, use in wanted:
            if _refers_to(record, position, file):
                used.setdefault(index, set()).add(use)
    # an amount the exhibit's report states rests on its calibration and check standard:
    # the runs holding a calibrator or check entry of that substance (gcms.quantitation)
    amounts = {str(q.get("substance")).casefold() for record in mine
               for q in record.get("quantitation") or []
               if isinstance(q, Mapping) and q.get("role", "unknown") == "unknown"
               and q.get("concentration") is not None}
    roles = {"calibrator": "calibration", "check": "check standard"}
    for index, record in enumerate(records):
        for q in record.get("quantitation") or []:
            if isinstance(q, Mapping) and q.get("role") in roles \
                    and str(q.get("substance")).casefold() in amounts:
                used.setdefault(index, set()).add(roles[q["role"]])
    return used


_STUDENT_T_DOF = 10_000


def _coverage_origin(k: float | None) -> tuple[int | None, float | None]:
    """Degrees of freedom and level of confidence behind a coverage factor, if known.

    The quantitation step takes k as Student's t at 95 % (two-sided) for the calibration
    regression's degrees of freedom unless the method sets k
    (:class:`gcms.quantitation.method.Acceptance`); the record keeps k only. A k equal to
    t(0.975, ν) to 1e-9 (relative) for a whole ν is that quantile; any other k was set
    by the method and no level is claimed for it.
    """
    if k is None or not k > 1.0:
        return None, None
    import numpy as np
    from scipy import stats

    nu = np.arange(1, _STUDENT_T_DOF + 1)
    quantiles = stats.t.ppf(0.975, nu)
    best = int(np.argmin(np.abs(quantiles - k)))
    if abs(quantiles[best] - k) <= 1e-9 * k:
        return int(nu[best]), 95.0
    return None, None


def _expanded(amount: Mapping[str, Any], k: float | None, key: str) -> float | None:
    """An amount's expanded uncertainty: its standard uncertainty (k = 1) times k."""
    u = _number(amount.get(key))
    return u * k if u is not None and k else None


def _quantitation(record: Mapping[str, Any]) -> list[QuantitationRow]:
    rows = []
    method = record.get("quantitation_method")
    method = method if isinstance(method, Mapping) else {}
    calibrations = method.get("calibrations") if isinstance(method.get("calibrations"),
                                                            Mapping) else {}
    for q in record.get("quantitation") or []:
        if not isinstance(q, Mapping) or q.get("role", "unknown") != "unknown":
            continue
        amount = q.get("amount_in_exhibit") or {}
        k = _number(q.get("coverage_factor"))
        expanded = functools.partial(_expanded, amount, k)
        dof, level = _coverage_origin(k)
        calibration = calibrations.get(q.get("substance")) or {}
        span = calibration.get("range") if isinstance(calibration.get("range"), list) else []
        version = method.get("version")
        rows.append(QuantitationRow(
            sample_id=str(record.get("sample_id")), substance=str(q.get("substance")),
            status=str(q.get("status")), reportable=bool(q.get("reportable")),
            concentration=_number(q.get("concentration")),
            expanded_uncertainty=_number(q.get("expanded_uncertainty")), coverage_factor=k,
            unit=str(q.get("unit") or ""), purity_percent=_number(amount.get("purity_percent")),
            purity_expanded_uncertainty=expanded("purity_uncertainty_percent"),
            mass_mg=_number(amount.get("mass_mg")),
            mass_expanded_uncertainty_mg=expanded("mass_uncertainty_mg"),
            basis=q.get("uncertainty_basis"), message=q.get("message") or amount.get("message"),
            per_unit_mg=_number(amount.get("per_unit_mg")),
            per_unit_expanded_uncertainty_mg=expanded("per_unit_uncertainty_mg"),
            per_unit=amount.get("per_unit") or None,
            degrees_of_freedom=dof, confidence_percent=level,
            method_name=method.get("name"), method_version=str(version) if version else None,
            method_sha256=method.get("sha256"), calibration_model=calibration.get("model"),
            weighting=calibration.get("weighting"),
            range_low=_number(span[0]) if len(span) == 2 else None,
            range_high=_number(span[1]) if len(span) == 2 else None,
            loq=_number(q.get("loq")) if q.get("loq") is not None
            else _number(calibration.get("loq")),
            internal_standard=q.get("internal_standard") or None))
    return rows


def _meta(results: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = results.get(key)
    return value if isinstance(value, Mapping) else {}


def _software() -> dict[str, Any]:
    """The Python and dependency versions this report is made with (gcms.about)."""
    from gcms.about import about

    facts = about(extras=False)
    return {"python": facts["python"], "dependencies": tuple(facts["dependencies"].items())}


#: Fields a report's ID does not depend on: when it is issued, and the versions of the
#: software that renders it (the same analysis keeps its ID after an upgrade).
_NOT_IN_ID = ("report_id", "issued_at", "python", "dependencies")


def _facts(model: ReportModel) -> dict[str, Any]:
    return {k: v for k, v in model.to_dict().items() if k not in _NOT_IN_ID}


def _report_id(case_id: str, exhibit_id: str, facts: Any) -> str:
    digest = hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()
    return f"{case_id}-{exhibit_id}-{digest[:8].upper()}"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_records(records: Sequence[Mapping[str, Any]], exhibit_id: str, *,
                 results: Mapping[str, Any] | None = None, source: str = "results",
                 laboratory: Laboratory | None = None, library: str | os.PathLike | None = None,
                 issued_at: str | None = None, report_id: str | None = None,
                 draw_chromatograms: bool = True) -> ReportModel:
    """A report model of one exhibit from per-run result records (see module notes)."""
    results = results or {}
    mine = [r for r in records if str(r.get("exhibit_id") or "") == exhibit_id
            and str(r.get("type", "sample")) == "sample"]
    if not mine:
        known = sorted({str(r.get("exhibit_id")) for r in records if r.get("exhibit_id")})
        raise GcmsError(f"{source}: no sample run of exhibit {exhibit_id!r} (exhibits: "
                        f"{', '.join(known) or 'none'})")
    cases = {str(r.get("case_id")) for r in mine if r.get("case_id")}
    case_id = sorted(cases)[0] if cases else "—"
    lib_meta = _meta(results, "library")
    # the batch's library hash is of its content (results.json library.content_sha256,
    # and each hit's library.sha256); the case store adds the file's (file_sha256)
    lib_sha = lib_meta.get("content_sha256") or lib_meta.get("sha256") or next(
        ((c.get("library") or {}).get("sha256") for r in mine for c in r.get("components") or []
         if (c.get("library") or {}).get("sha256")), None)
    lib_file_sha = lib_meta.get("file_sha256")
    lib = _Library(library or lib_meta.get("path"), content_sha256=lib_sha,
                   file_sha256=lib_file_sha)
    deviations = [lib.problem] if lib.problem else []
    findings, chromatograms, quantitation = [], [], []
    for record in mine:
        if _error(record):
            deviations.append(f"run {record.get('sample_id')}: {_error(record)}")
        own = [_finding(record, c, records, lib) for c in record.get("components") or []
               if isinstance(c, Mapping)]
        own.sort(key=lambda f: (f.rt_s is None, f.rt_s or 0.0))
        findings += own
        if draw_chromatograms:
            chrom = _chromatogram(record, own, deviations)
            if chrom is not None:
                chromatograms.append(chrom)
        quantitation += _quantitation(record)
    # a substance outside the method's target lists is no finding of the conclusion: the
    # analysis notes list it apart (gcms.identify.targets; the record's "scope")
    outside = {str(c.get("substance")) for r in mine for c in r.get("components") or []
               if isinstance(c, Mapping) and isinstance(c.get("scope"), Mapping)
               and c["scope"].get("in_scope") is False}
    identified = list(dict.fromkeys(f.substance for f in findings
                                    if f.verdict == "identified" and f.substance
                                    and f.substance not in outside))
    inconclusive = [s for s in dict.fromkeys(f.substance for f in findings
                                             if f.verdict == "inconclusive" and f.substance)
                    if s not in identified and s not in outside]
    limitations, ambiguities = [], []
    for record in mine:
        for note in (record.get("findings") or {}).get("notes") or []:
            text = note.get("text") if isinstance(note, Mapping) else str(note)
            kind = str(note.get("kind", "")) if isinstance(note, Mapping) else ""
            target = limitations if ("limit" in kind or "isomer" in kind) else ambiguities
            if text and text not in target:
                target.append(text)
    used = _runs_used(mine, records)
    qc_runs = [_qc(r, sorted(used.get(i, ()))) for i, r in enumerate(records)
               if str(r.get("type")) in _QC_KINDS]
    sequence = [*mine, *(r for i, r in enumerate(records)
                         if i in used and str(r.get("type")) in _QC_KINDS)]
    times = sorted(str(record_field(r, "acquired_at")) for r in mine
                   if record_field(r, "acquired_at"))
    first = mine[0]
    qa = _meta(results, "qa")
    withheld = []  # the batch QA gate (gcms.qa.gate) refused to report these runs
    for record in mine:
        if record.get("reportable") is False:
            why = (record.get("qa") or {}).get("reason") or "instrument QA not passing"
            withheld.append(f"run {record.get('sample_id')}: {why}")
    instrument = InstrumentStatus(
        instrument_id=_meta(results, "instrument").get("id") or record_field(first, "instrument"),
        model=_meta(results, "instrument").get("model"),
        serial=_meta(results, "instrument").get("serial"),
        column=_meta(results, "instrument").get("column"),
        ionization=_meta(results, "instrument").get("ionization") or "EI 70 eV",
        method=record_field(first, "method"), tune_file=record_field(first, "tune_file"),
        qa_status=_qa_status(qa.get("status")) if qa else "not evaluated",
        qa_summary=tuple(str(x) for x in qa.get("summary", ())) if qa else ())
    evidence = tuple(EvidenceRecord(str(r.get("sample_id")), str(r.get("type", "sample")),
                                    str(r.get("file")), str(record_field(r, "sha256")),
                                    acquired_at=record_field(r, "acquired_at"))
                     for r in sequence if record_field(r, "sha256"))
    criteria = _meta(results, "criteria")
    library_name = lib_meta.get("name") or (Path(str(lib_meta["path"])).name
                                            if lib_meta.get("path") else None)
    title = lib_meta.get("title")
    if title and library_name != title and not str(library_name).endswith(f": {title}"):
        library_name = f"{library_name}: {lib_meta['title']}" if library_name \
            else lib_meta["title"]
    processed = _meta(results, "processed_by")
    model = ReportModel(
        report_id="pending", case_id=case_id, exhibit_id=exhibit_id,
        issued_at=issued_at or _now(), laboratory=laboratory or UNCONFIGURED,
        analysed_from=times[0] if times else None, analysed_to=times[-1] if times else None,
        instrument=instrument,
        conclusion=Conclusion(identified=tuple(identified), inconclusive=tuple(inconclusive),
                              limitations=tuple(limitations), ambiguities=tuple(ambiguities)),
        findings=tuple(findings), chromatograms=tuple(chromatograms),
        quantitation=tuple(quantitation), qc_runs=tuple(qc_runs),
        evidence=evidence, software_version=str(results.get("gcms_version", "")),
        processed_by=(Person(str(processed.get("name") or processed["user"]),
                             str(processed["user"])),) if processed.get("user") else (),
        library_name=library_name, library_sha256=lib_sha,
        library_file_sha256=lib_file_sha or lib.file_sha256,
        library_file_hashed_for_report=lib_file_sha is None and lib.file_sha256 is not None,
        criteria_profile=criteria.get("name") or criteria.get("profile"),
        criteria_sha256=criteria.get("sha256"), source=source, deviations=tuple(deviations),
        withheld=tuple(withheld), **_software())
    if report_id is None:
        report_id = _report_id(case_id, exhibit_id, _facts(model))
    return model.replace(report_id=report_id)


def from_results(path: str | os.PathLike, exhibit_id: str, **options: Any) -> ReportModel:
    """A report model of one exhibit from a batch's ``results.json`` (module notes).

    Options are those of :func:`from_records` (``laboratory``, ``library``,
    ``issued_at``, ``report_id``, ``draw_chromatograms``).
    """
    results = load_results(path)
    return from_records(run_records(results), exhibit_id, results=results,
                        source=str(Path(path).resolve()), **options)


def _find_case(store, exhibit_id: str) -> str:
    owners = [c.case_id for c in store.cases()
              if any(e.exhibit_id == exhibit_id for e in store.exhibits(c.case_id))]
    if not owners:
        raise GcmsError(f"{store.location}: no case holds exhibit {exhibit_id!r}")
    if len(owners) > 1:
        raise GcmsError(f"{store.location}: exhibit {exhibit_id!r} is in cases "
                        f"{', '.join(owners)}: name the case (--case)")
    return owners[0]


def _weight(value: str | None, unit: str | None) -> str | None:
    return f"{value} {unit}" if value is not None else None


def _store_analysis(case_file: Mapping[str, Any], exhibit_id: str,
                    analysis_id: str | None) -> tuple[dict[str, Any], list[str]]:
    """The analysis a store report shows, and a note naming the exhibit's others.

    One analysis (one batch: its runs, standards and blanks) per report, so that the
    records of different sequences are never mixed; by default the latest that has a
    result of the exhibit.
    """
    analyses = {a["analysis_id"]: a for a in case_file["analyses"]}
    if analysis_id is not None and analysis_id not in analyses:
        raise GcmsError(f"case {case_file['case']['case_id']}: no analysis {analysis_id!r}")
    used = list(dict.fromkeys(r["analysis_id"] for r in case_file["results"]
                              if r["exhibit_id"] == exhibit_id and r["analysis_id"] in analyses))
    used.sort(key=list(analyses).index)  # the order the store recorded them in
    chosen = analysis_id or (used[-1] if used else None)
    others = [a for a in used if a != chosen]
    notes = [f"the case store holds other analyses of exhibit {exhibit_id} "
             f"({', '.join(others)}); this report shows analysis {chosen}"] if others else []
    return (analyses[chosen] if chosen else {}), notes


def from_store(store, exhibit_id: str, *, case_id: str | None = None,
               analysis_id: str | None = None, **options: Any) -> ReportModel:
    """A report model of one exhibit from a :class:`~gcms.custody.CaseStore`.

    The exhibit's results (and the case's QC runs) are the stored batch records of one
    analysis (``analysis_id``; default: the latest with a result of the exhibit); the
    store adds the item as received, transfers, per-file digests, reviews, signatures,
    an audit excerpt and the chain head. An exhibit registered from a sequence, whose
    receipt the store does not hold, is shown as such, never filled in.
    """
    case_id = case_id or _find_case(store, exhibit_id)
    case_file = store.case_file(case_id)
    case = case_file["case"]
    exhibit = next((e for e in case_file["exhibits"] if e["exhibit_id"] == exhibit_id), None)
    if exhibit is None:
        raise GcmsError(f"{store.location}: case {case_id} has no exhibit {exhibit_id!r}")
    analysis, store_notes = _store_analysis(case_file, exhibit_id, analysis_id)
    results = [r for r in case_file["results"]
               if not analysis or r["analysis_id"] == analysis["analysis_id"]]
    run_paths = {r["run_id"]: r["path"] for r in case_file["runs"]}
    # the run file as attached (absolute, hashed) rather than as the sequence named it
    records = [dict(r["data"], exhibit_id=r["data"].get("exhibit_id") or r["exhibit_id"],
                    case_id=case_id, **({"file": run_paths[r["run_id"]]}
                                        if r.get("run_id") in run_paths else {}))
               for r in results]
    mine = [r for r in results if r["exhibit_id"] == exhibit_id]
    if exhibit.get("received_at") is None:  # registered (from a sequence), not received
        missing = [label for label, value in (
            ("seal numbers", exhibit.get("seal_numbers")), ("packaging", exhibit.get("packaging")),
            ("weights", exhibit.get("gross_weight") or exhibit.get("net_weight")),
            ("received from", exhibit.get("received_from")),
            ("received by", exhibit.get("received_by")), ("date received", None)) if not value]
        store_notes.append(f"exhibit {exhibit_id} is registered in the case store without "
                           f"its receipt; not recorded: {', '.join(missing)}")
    parameters = analysis.get("parameters") or {}
    library_path = (parameters.get("library") or {}).get("path")
    # the store records the library file's SHA-256 (library_sha256) and, with the batch's
    # parameters, the content hash the batch itself recorded
    meta = {"library": {"name": analysis.get("library_name"), "path": library_path,
                        "content_sha256": (parameters.get("library") or {}).get(
                            "content_sha256"),
                        "file_sha256": analysis.get("library_sha256")},
            "criteria": {"name": analysis.get("criteria_profile"),
                         "sha256": analysis.get("criteria_sha256")},
            "gcms_version": analysis.get("software_version", "")}
    # sequence-level sections the batch's steps added (QA status, instrument), as recorded
    for key, value in (parameters.get("sections") or {}).items():
        meta.setdefault(key, value)
    model = from_records(records, exhibit_id, results=meta,
                         source=f"case store {store.location}, case {case_id}",
                         **{k: v for k, v in options.items() if k != "report_id"})
    runs = {r["run_id"]: r for r in case_file["runs"]}
    result_ids = {r["result_id"] for r in mine}
    used_runs = [runs[r["run_id"]] for r in results if r.get("run_id") in runs
                 and (r["exhibit_id"] == exhibit_id or runs[r["run_id"]]["kind"] != "sample")]
    sample_of = {r["run_id"]: str(r["data"].get("sample_id") or runs[r["run_id"]]["path"])
                 for r in results if r.get("run_id") in runs}
    # the evidence files the conclusion rests on (the exhibit's runs, the ladder, the
    # standards and the blank it used), as the store attached them, file by file
    relevant = {e.label for e in model.evidence}
    evidence = tuple(EvidenceRecord(
        sample_of.get(run["run_id"], run["run_id"]), run["kind"], run["path"], run["sha256"],
        run["size_bytes"], tuple((f["path"], f["sha256"], f["size_bytes"])
                                 for f in run["files"]), run.get("acquired_at"))
        for run in dict((r["run_id"], r) for r in used_runs).values()
        if sample_of.get(run["run_id"], run["run_id"]) in relevant)
    reviews = [v for v in case_file["reviews"] if v["result_id"] in result_ids]
    signatures = [s for s in case_file["signatures"] if s["result_id"] in result_ids]
    keys = {k["user"]: k["printed_name"] for k in case_file["keys"]}
    authors = list(dict.fromkeys(s["signer"] for s in signatures if s["meaning"] == "authored"))
    reviewers = list(dict.fromkeys([*(v["reviewer"] for v in reviews),
                                    *(s["signer"] for s in signatures
                                      if s["meaning"] == "reviewed")]))
    wanted = {("exhibit", exhibit_id), *(("result", i) for i in result_ids),
              *(("run", r["run_id"]) for r in used_runs)}
    wanted |= {("review", v["review_id"]) for v in reviews}
    wanted |= {("signature", s["signature_id"]) for s in signatures}
    wanted |= {("custody_transfer", t["transfer_id"]) for t in exhibit["custody"]}
    if analysis:
        wanted.add(("analysis", analysis["analysis_id"]))
    log = store.log(case_id=case_id)
    audit = [e for e in log if (e.object_type, e.object_id) in wanted or e.object_type == "case"]
    # who processed the batch: the store's record of who recorded its analysis
    recorders = list(dict.fromkeys(
        e.actor for e in log if analysis and e.action == "analysis.record"
        and e.object_id == analysis["analysis_id"]))
    processed_by = tuple(Person(keys.get(u, u), u) for u in recorders) or model.processed_by
    model = model.replace(
        case_id=case_id,
        item=ItemReceived(
            description=exhibit.get("description"), seal_numbers=tuple(exhibit["seal_numbers"]),
            packaging=exhibit.get("packaging"), condition=exhibit.get("condition"),
            gross_weight=_weight(exhibit.get("gross_weight"), exhibit.get("gross_weight_unit")),
            net_weight=_weight(exhibit.get("net_weight"), exhibit.get("net_weight_unit")),
            item_count=exhibit.get("item_count"), received_from=exhibit.get("received_from"),
            received_by=exhibit.get("received_by"), received_at=exhibit.get("received_at"),
            submitting_agency=case.get("submitting_agency"),
            agency_reference=case.get("agency_reference")),
        analysts=tuple(Person(keys.get(u, u), u) for u in authors),
        reviewers=tuple(Person(keys.get(u, u), u) for u in reviewers),
        processed_by=processed_by,
        evidence=evidence or model.evidence,
        transfers=tuple(Transfer(t["transferred_at"], t["from_party"], t["to_party"],
                                 t.get("purpose"), t.get("seal_intact"))
                        for t in exhibit["custody"]),
        audit=tuple(AuditLine(e.seq, e.at, e.actor, e.action, f"{e.object_type} {e.object_id}")
                    for e in audit[-AUDIT_EXCERPT_ENTRIES:]),
        signatures=tuple(SignatureLine(s["printed_name"], s["meaning"], s["signed_at"],
                                       "case store", s["signer"], s["key_fingerprint"],
                                       f"result {s['result_id']} v{s['result_version']}")
                         for s in signatures),
        chain_head=(case_file["chain_head"]["seq"], case_file["chain_head"]["entry_sha256"]),
        deviations=(*model.deviations, *store_notes),
    )
    report_id = options.get("report_id")
    if report_id is None:
        report_id = _report_id(case_id, exhibit_id, _facts(model))
    return model.replace(report_id=report_id)
