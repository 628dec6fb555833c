"""Report models from a batch's ``results.json`` or from a case store.

Both read the typed results document (:mod:`gcms.results`): ``results.json`` is read by
:func:`gcms.results.load_results` (its format version checked, an older one upgraded),
a case store's results (``Result.data``, the batch's run records as stored) are read as
:class:`~gcms.results.RunResult`. A run's components (:class:`~gcms.results.ComponentResult`)
carry their library hit, reference standard, criteria
(:class:`~gcms.results.CriterionResult`) and spectrum; its ``findings`` the notes a
report carries; its ``quantitation`` the amounts (:class:`~gcms.results.Quantity`).

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

import dataclasses
import functools
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
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
from gcms.results import (
    ComponentResult,
    CriterionResult,
    ProcessedBy,
    QASection,
    QuantResultsDocument,
    ResultsDocument,
    RunResult,
)

__all__ = ["BatchFacts", "from_document", "from_records", "from_results", "from_store",
           "load_results", "run_fact"]

#: Audit entries of the exhibit shown in the report (the latest; the whole log is in
#: the store and its bundles).
AUDIT_EXCERPT_ENTRIES = 25
_QC_KINDS = ("blank", "standard", "qc", "ladder")


def load_results(path: str | os.PathLike) -> ResultsDocument:
    """Read a batch ``results.json`` (:func:`gcms.results.load_results`).

    Raises
    ------
    FormatError
        The file cannot be read, is not a batch results document (a ``gcms quant``
        one holds no identification to report), is of a newer format version, or a
        key is missing or of the wrong type; the message names the file.
    """
    from gcms.errors import FormatError
    from gcms.results import load_results as load_document

    document = load_document(path)
    if isinstance(document, QuantResultsDocument):
        raise FormatError(f"{path}: a gcms quant results document: a report is made from "
                          "the results.json of gcms batch (with --method for amounts)")
    if not document.runs:
        raise FormatError(f"{path}: holds no run records")
    return document


def run_fact(record: RunResult, key: str) -> Any:
    """A fact of the run file the batch read (``run`` part of the record), or None.

    ``sha256`` is the digest of the run's data file where its format names one, else
    the batch's digest of its input (``input_sha256``).
    """
    run = record.run or {}
    if key == "sha256":
        return run.get("sha256") or run.get("input_sha256")
    return run.get(key)


@dataclass(frozen=True)
class BatchFacts:
    """What a report takes from a batch besides its runs.

    From a results document (:meth:`of_document`) or from the analysis a case store
    recorded (:func:`from_store`). ``library_file_sha256`` is the library file's
    SHA-256 where a case store recorded it (a batch records its content hash only).
    ``library_version``: the library's governed version in the case store
    (:func:`gcms.custody.libraries.governed_version`), where the batch recorded one.
    """

    library_name: str | None = None
    library_path: str | None = None
    library_title: str | None = None
    library_content_sha256: str | None = None
    library_file_sha256: str | None = None
    criteria_name: str | None = None
    criteria_sha256: str | None = None
    gcms_version: str = ""
    qa: QASection | None = None
    instrument: Mapping[str, Any] = field(default_factory=dict)
    processed_by: ProcessedBy | None = None
    library_version: Mapping[str, Any] | None = None

    @classmethod
    def of_document(cls, document: ResultsDocument) -> BatchFacts:
        """The facts of a batch's results document."""
        library, criteria = document.library, document.criteria
        return cls(library_path=library.path, library_title=library.title,
                   library_content_sha256=library.content_sha256,
                   criteria_name=criteria.get("name"), criteria_sha256=criteria.get("sha256"),
                   gcms_version=document.gcms_version, qa=document.qa,
                   instrument=document.instrument or {},
                   processed_by=document.processed_by,
                   library_version=document.extra.get("library_version"))


def governed_text(version: Mapping[str, Any]) -> str:
    """``v3 of in-house drugs``: a library's governed version as reports name it.

    ``version`` as :func:`gcms.custody.libraries.governed_version` gives it; names who
    approved it, or that it is not approved, and when a later version exists.
    """
    number = version.get("version")
    text = (f"v{number} of {version.get('title') or version.get('library_id')}"
            if number else f"{version.get('title') or version.get('library_id')} before "
                           "its first governed change")
    approved = list(version.get("approved_by") or ())
    if number:
        text += f", approved by {', '.join(approved)}" if approved else ", not approved"
    current = version.get("current_version")
    if isinstance(current, int) and isinstance(number, int) and current > number:
        text += f"; v{current} is current"
    return text


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


def _ion_ratio_values(item: CriterionResult) -> tuple[str, str] | None:
    """The worst ion ratio against its own band: ``("9.6 % (m/z 55/194)", "± 15 %")``.

    The identification step records each ratio's relative deviation from the reference
    standard and its tolerance (EU 2002/657/EC bands); the one nearest to (or furthest
    beyond) its band decides, so that one is shown.
    """
    evidence = item.evidence
    if evidence is None or not evidence.get("ions"):
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


def _run_named(records: Sequence[RunResult], position: Any, file: Any) -> str | None:
    """The sample id of the run a record names by sequence position or file name."""
    if position is None and not file:
        return None
    for other in records:
        if _refers_to(other, position, file):
            return other.sample_id or Path(str(file)).name
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


def _sentence(name: str, item: CriterionResult, result: str, value: str, limit: str,
              context: Mapping[str, Any]) -> tuple[str | None, dict[str, str]]:
    """The wording key and its language-neutral values for a criterion (or None, {}).

    The identification step writes each criterion's ``detail`` in English; a report in
    another language states the same facts in its own words from these values. A
    criterion whose facts are not recognised keeps its recorded sentence (None here).
    """
    detail = item.detail
    evidence = item.evidence or {}
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


def _criterion(item: CriterionResult, context: Mapping[str, Any] | None = None) -> Criterion:
    """A criterion record of the identification step, value and limit with their units.

    Each carries ``criterion``, ``value``, ``limit``, ``unit``, ``result``, ``detail``
    and ``evidence`` (:class:`gcms.results.CriterionResult`). Three are re-stated
    for a reader: ion ratios as the worst ratio's deviation against its band (the record's
    value is that deviation as a fraction of the band); the distinctness from the next
    compound as the MF lead over it (the record's value is the next compound's MF minus
    this one's); diagnostic ions as present/asked for.
    """
    name, unit = item.criterion, item.unit
    raw_value, raw_limit = item.value, item.limit
    result = _outcome(item.result)
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
    sentence, values = _sentence(name, item, result, value, limit, context or {})
    return Criterion(name=name, value=value, limit=limit, result=result,
                     note=item.detail or None, unit=unit, decisive=item.decisive,
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


def _finding(record: RunResult, component: ComponentResult,
             records: Sequence[RunResult], library: _Library) -> ComponentFinding:
    sample = record.sample_id or Path(record.file).name
    lib = component.library
    name = component.substance
    entry = (lib.name if lib is not None else None) or name
    hits = []
    if component.match_factor is not None or (lib is not None and lib.name):
        hits.append(LibraryHit(1, str(entry or "?"), _number(component.match_factor),
                               _number(component.reverse_match_factor),
                               _number(component.probability), _number(component.delta_ri),
                               cas=lib.cas if lib is not None else None))
    for alt in component.alternatives:
        hits.append(LibraryHit(len(hits) + 1, str(alt.get("substance", "?")),
                               _number(alt.get("match_factor")),
                               _number(alt.get("reverse_match_factor")),
                               _number(alt.get("probability")), _number(alt.get("delta_ri"))))
    rt = _number(component.rt_s)
    reference_trace, reference_run = None, None
    ref = component.reference_standard
    if ref is not None:
        for other in records:
            same_file = other.file == str(ref.get("file"))
            if same_file or other.position == ref.get("position") is not None:
                reference_run = other.sample_id or str(ref.get("file"))
                index = ref.get("component")
                chosen = next((c for c in other.components if c.component == index), None)
                if chosen is not None:
                    reference_trace = _trace(f"reference standard {reference_run}: "
                                             f"{ref.get('substance', name)}",
                                             chosen.spectrum)
                break
        reference_run = reference_run or str(ref.get("file"))
    verdict = component.verdict
    if verdict not in VERDICTS:
        raise GcmsError(f"run {sample}: component verdict {verdict!r} is not one of "
                        f"{', '.join(VERDICTS)}")
    rt_text = f"{rt / 60.0:.2f} min" if rt is not None else "?"
    calibration = record.retention_calibration
    ladder_run = _run_named(records, calibration.get("ladder_position"),
                            calibration.get("ladder_file")) \
        if calibration is not None else None
    context = {"records": records, "entry": entry, "ri": component.retention_index,
               "library_ri": lib.retention_index if lib is not None else None}
    criteria = tuple(_criterion(c, context) for c in component.criteria or ())
    source = component.retention_source
    # a component that is not identified is not the substance of its best hit: the hit
    # stays in the hit list, shown as such
    reported = None if verdict == "not identified" else name
    return ComponentFinding(
        sample_id=sample, substance=reported, verdict=verdict, rt_s=rt,
        retention_index=_number(component.retention_index),
        delta_ri=_number(component.delta_ri),
        delta_rt_s=_number(component.delta_rt_s),
        criteria=criteria,
        hits=tuple(hits),
        spectrum=_trace(f"{sample} at {rt_text}", component.spectrum),
        library_spectrum=library.spectrum(lib.index if lib is not None else None, str(entry))
        if verdict == "identified" else None,
        reference_spectrum=reference_trace, reference_run=reference_run,
        notes=component.notes,
        evidence=evidence_of(criteria, reference_spectrum=reference_trace is not None
                             and verdict != "not identified"),
        retention_source=str(source) if source in ("standard", "index") else None,
        ladder_run=ladder_run if any(c.name == "retention_index"
                                     and c.result != "not evaluated" for c in criteria)
        else None,
    )


def _chromatogram(record: RunResult, findings: Sequence[ComponentFinding],
                  deviations: list[str]) -> Chromatogram | None:
    path = record.file
    if not path or not Path(path).exists():
        return None
    from gcms.io import read

    try:
        run = read(path)
    except GcmsError as error:
        deviations.append(f"chromatogram of {record.sample_id} not drawn: {error}")
        return None
    recorded = run_fact(record, "sha256")
    if recorded and run.metadata.sha256 and run.metadata.sha256 != recorded:
        deviations.append(f"{path}: now hashes to {run.metadata.sha256}, the batch recorded "
                          f"{recorded}: its chromatogram is not drawn")
        return None
    peaks = tuple(PeakLabel(f.rt_s, f.substance, f.verdict == "identified")
                  for f in findings if f.rt_s is not None and f.substance
                  and f.verdict != "not identified")
    label = f"{record.sample_id} ({Path(str(path)).name})"
    return Chromatogram(label, run.scan_times, run.tic, peaks)


def _ladder_summary(record: RunResult) -> str:
    """``"n-alkanes C9–C26, n = 18"`` from a ladder run's record."""
    ladder = record.ladder or {}
    calibration = record.ladder_calibration
    names = list(calibration.get("names") or []) if calibration is not None else []
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


def _qc(record: RunResult, uses: Sequence[str] = ()) -> QCRun:
    kind = record.type
    sample = record.sample_id or Path(record.file).name
    found = sorted({c.substance for c in record.components
                    if c.verdict == "identified" and c.substance})
    missing: list[str] = []
    problem = record.problem
    if problem:
        outcome, summary = "fail", problem
    elif kind == "blank":
        status = record.blank_status or {}
        if status.get("carry_over_detected"):
            found = sorted({*found, *status["carry_over_detected"]})
        outcome = "pass" if not found else "fail"
        summary = ("no library substance identified" if not found
                   else "identified: " + ", ".join(found))
    elif kind in ("standard", "qc"):
        wanted = record.reference_substances
        missing = [w for w in wanted if w.casefold() not in {f.casefold() for f in found}]
        outcome = "fail" if missing else ("pass" if wanted or found else "not evaluated")
        summary = ("found: " + ", ".join(found)) if found else "no substance identified"
        if missing:
            summary += "; missing: " + ", ".join(missing)
    else:
        ladder = record.ladder
        calibrated = record.ladder_calibration is not None
        outcome = "pass" if (ladder is not None and not ladder.get("error")) \
            or calibrated else "not evaluated"
        summary = _ladder_summary(record)
        found = []
    recovery, tolerance = None, None
    checks = [q.check for q in record.quantitation or ()
              if q.role == "check" and q.check is not None]
    if checks and not problem:  # a check standard's recovery (gcms.quantitation)
        worst = min(checks, key=lambda c: bool(c.get("passed")))
        recovery = _number(worst.get("recovery_percent"))
        tolerance = _number(worst.get("tolerance_percent"))
        if worst.get("passed") is False:
            outcome = "fail"
        summary += (f"; recovery {recovery:.1f} % of nominal (±{tolerance:g} %)"
                    if recovery is not None and tolerance is not None else "")
    return QCRun(sample, kind, outcome, summary, record.file,
                 run_fact(record, "sha256"), run_fact(record, "acquired_at"),
                 tuple(u for u in QC_USES if u in uses), tuple(found), tuple(missing),
                 problem or None, recovery, tolerance)


def _run_key(record: RunResult) -> tuple[Any, str]:
    """How a run is named by the records that rest on it: sequence position, file name."""
    return record.position, record.file_name


def _refers_to(record: RunResult, position: Any, file: Any) -> bool:
    own_position, own_name = _run_key(record)
    if position is not None and own_position is not None:
        return position == own_position
    return file is not None and Path(str(file)).name == own_name


def _runs_used(mine: Sequence[RunResult], records: Sequence[RunResult]
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
        calibration = record.retention_calibration
        if calibration is not None and (calibration.get("ladder_file")
                                        or calibration.get("ladder_position") is not None):
            wanted.append((calibration.get("ladder_position"), calibration.get("ladder_file"),
                           "retention index"))
        blank = record.blank
        if blank is not None and (blank.get("blank_file")
                                  or blank.get("blank_position") is not None):
            wanted.append((blank.get("blank_position"), blank.get("blank_file"),
                           "blank before"))
        for component in record.components:
            references = [component.reference_standard]
            references += [c.evidence for c in component.criteria or ()
                           if c.criterion == "retention_time"]
            for ref in references:
                if ref is not None and (ref.get("file") or ref.get("position") is not None):
                    wanted.append((ref.get("position"), ref.get("file"), "reference standard"))
    used: dict[int, set[str]] = {}
    for index, record in enumerate(records):
        for position, file, use in wanted:
            if _refers_to(record, position, file):
                used.setdefault(index, set()).add(use)
    # an amount the exhibit's report states rests on its calibration and check standard:
    # the runs holding a calibrator or check entry of that substance (gcms.quantitation)
    amounts = {q.substance.casefold() for record in mine for q in record.quantitation or ()
               if (q.role or "unknown") == "unknown" and q.concentration is not None}
    roles = {"calibrator": "calibration", "check": "check standard"}
    for index, record in enumerate(records):
        for q in record.quantitation or ():
            if q.role in roles and q.substance.casefold() in amounts:
                used.setdefault(index, set()).add(roles[q.role])
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


def _quantitation(record: RunResult) -> list[QuantitationRow]:
    rows = []
    method = record.quantitation_method or {}
    calibrations = method.get("calibrations") if isinstance(method.get("calibrations"),
                                                            Mapping) else {}
    for q in record.quantitation or ():
        if (q.role or "unknown") != "unknown":
            continue
        amount = q.amount_in_exhibit or {}
        k = _number(q.coverage_factor)
        expanded = functools.partial(_expanded, amount, k)
        dof, level = _coverage_origin(k)
        calibration = calibrations.get(q.substance) or {}
        span = calibration.get("range") if isinstance(calibration.get("range"),
                                                      (list, tuple)) else ()
        version = method.get("version")
        rows.append(QuantitationRow(
            sample_id=record.sample_id, substance=q.substance,
            status=q.status, reportable=q.reportable,
            concentration=_number(q.concentration),
            expanded_uncertainty=_number(q.expanded_uncertainty), coverage_factor=k,
            unit=q.unit or "", purity_percent=_number(amount.get("purity_percent")),
            purity_expanded_uncertainty=expanded("purity_uncertainty_percent"),
            mass_mg=_number(amount.get("mass_mg")),
            mass_expanded_uncertainty_mg=expanded("mass_uncertainty_mg"),
            basis=q.uncertainty_basis, message=q.message or amount.get("message"),
            per_unit_mg=_number(amount.get("per_unit_mg")),
            per_unit_expanded_uncertainty_mg=expanded("per_unit_uncertainty_mg"),
            per_unit=amount.get("per_unit") or None,
            degrees_of_freedom=dof, confidence_percent=level,
            method_name=method.get("name"), method_version=str(version) if version else None,
            method_sha256=method.get("sha256"), calibration_model=calibration.get("model"),
            weighting=calibration.get("weighting"),
            range_low=_number(span[0]) if len(span) == 2 else None,
            range_high=_number(span[1]) if len(span) == 2 else None,
            loq=_number(q.loq) if q.loq is not None else _number(calibration.get("loq")),
            internal_standard=q.internal_standard or None))
    return rows


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


def from_records(records: Sequence[RunResult], exhibit_id: str, *,
                 results: ResultsDocument | BatchFacts | None = None, source: str = "results",
                 laboratory: Laboratory | None = None, library: str | os.PathLike | None = None,
                 issued_at: str | None = None, report_id: str | None = None,
                 draw_chromatograms: bool = True) -> ReportModel:
    """A report model of one exhibit from the typed run records of a batch.

    Parameters
    ----------
    records : sequence of RunResult
        The batch's runs (the exhibit's, and the ladder, standards and blanks they rest
        on).
    exhibit_id : str
        The exhibit reported.
    results : ResultsDocument or BatchFacts, optional
        The document the records come from (library, criteria, QA, instrument, who
        processed the batch), or those facts as a case store recorded them.
    source : str
        How the report names where its results come from.
    laboratory, library, issued_at, report_id, draw_chromatograms
        As :func:`from_results`.

    Returns
    -------
    ReportModel
    """
    facts = (BatchFacts.of_document(results) if isinstance(results, ResultsDocument)
             else results or BatchFacts())
    mine = [r for r in records if (r.exhibit_id or "") == exhibit_id and r.type == "sample"]
    if not mine:
        known = sorted({r.exhibit_id for r in records if r.exhibit_id})
        raise GcmsError(f"{source}: no sample run of exhibit {exhibit_id!r} (exhibits: "
                        f"{', '.join(known) or 'none'})")
    cases = {r.case_id for r in mine if r.case_id}
    case_id = sorted(cases)[0] if cases else "—"
    # the batch's library hash is of its content (results.json library.content_sha256,
    # and each hit's library.sha256); the case store adds the file's (file_sha256)
    lib_sha = facts.library_content_sha256 or next(
        (c.library.sha256 for r in mine for c in r.components
         if c.library is not None and c.library.sha256), None)
    lib_file_sha = facts.library_file_sha256
    lib = _Library(library or facts.library_path, content_sha256=lib_sha,
                   file_sha256=lib_file_sha)
    deviations = [lib.problem] if lib.problem else []
    findings, chromatograms, quantitation = [], [], []
    for record in mine:
        if record.problem:
            deviations.append(f"run {record.sample_id}: {record.problem}")
        own = [_finding(record, c, records, lib) for c in record.components]
        own.sort(key=lambda f: (f.rt_s is None, f.rt_s or 0.0))
        findings += own
        if draw_chromatograms:
            chrom = _chromatogram(record, own, deviations)
            if chrom is not None:
                chromatograms.append(chrom)
        quantitation += _quantitation(record)
    # a substance outside the method's target lists is no finding of the conclusion: the
    # analysis notes list it apart (gcms.identify.targets; the record's "scope")
    outside = {str(c.substance) for r in mine for c in r.components
               if c.scope is not None and c.scope.get("in_scope") is False}
    identified = list(dict.fromkeys(f.substance for f in findings
                                    if f.verdict == "identified" and f.substance
                                    and f.substance not in outside))
    inconclusive = [s for s in dict.fromkeys(f.substance for f in findings
                                             if f.verdict == "inconclusive" and f.substance)
                    if s not in identified and s not in outside]
    limitations, ambiguities = [], []
    for record in mine:
        for note in record.findings.notes if record.findings is not None else ():
            target = limitations if ("limit" in note.kind or "isomer" in note.kind) \
                else ambiguities
            if note.text and note.text not in target:
                target.append(note.text)
    used = _runs_used(mine, records)
    qc_runs = [_qc(r, sorted(used.get(i, ()))) for i, r in enumerate(records)
               if r.type in _QC_KINDS]
    sequence = [*mine, *(r for i, r in enumerate(records)
                         if i in used and r.type in _QC_KINDS)]
    times = sorted(str(run_fact(r, "acquired_at")) for r in mine
                   if run_fact(r, "acquired_at"))
    first = mine[0]
    qa = facts.qa
    withheld = []  # the batch QA gate (gcms.qa.gate) refused to report these runs
    for record in mine:
        if record.reportable is False:
            why = (record.qa.reason if record.qa is not None else None) \
                or "instrument QA not passing"
            withheld.append(f"run {record.sample_id}: {why}")
    machine = facts.instrument
    instrument = InstrumentStatus(
        instrument_id=machine.get("id") or run_fact(first, "instrument"),
        model=machine.get("model"), serial=machine.get("serial"),
        column=machine.get("column"), ionization=machine.get("ionization") or "EI 70 eV",
        method=run_fact(first, "method"), tune_file=run_fact(first, "tune_file"),
        qa_status=_qa_status(qa.status) if qa is not None else "not evaluated",
        qa_summary=qa.summary if qa is not None else ())
    evidence = tuple(EvidenceRecord(r.sample_id, r.type, r.file, str(run_fact(r, "sha256")),
                                    acquired_at=run_fact(r, "acquired_at"))
                     for r in sequence if run_fact(r, "sha256"))
    library_name = facts.library_name or (Path(facts.library_path).name
                                          if facts.library_path else None)
    title = facts.library_title
    if title and library_name != title and not str(library_name).endswith(f": {title}"):
        library_name = f"{library_name}: {title}" if library_name else title
    if facts.library_version:
        library_name = f"{library_name or '—'} ({governed_text(facts.library_version)})"
    processed = facts.processed_by
    model = ReportModel(
        report_id="pending", case_id=case_id, exhibit_id=exhibit_id,
        issued_at=issued_at or _now(), laboratory=laboratory or UNCONFIGURED,
        analysed_from=times[0] if times else None, analysed_to=times[-1] if times else None,
        instrument=instrument,
        conclusion=Conclusion(identified=tuple(identified), inconclusive=tuple(inconclusive),
                              limitations=tuple(limitations), ambiguities=tuple(ambiguities)),
        findings=tuple(findings), chromatograms=tuple(chromatograms),
        quantitation=tuple(quantitation), qc_runs=tuple(qc_runs),
        evidence=evidence, software_version=facts.gcms_version,
        processed_by=(Person(processed.user, processed.user),)
        if processed is not None and processed.user else (),
        library_name=library_name, library_sha256=lib_sha,
        library_file_sha256=lib_file_sha or lib.file_sha256,
        library_file_hashed_for_report=lib_file_sha is None and lib.file_sha256 is not None,
        criteria_profile=facts.criteria_name, criteria_sha256=facts.criteria_sha256,
        source=source, deviations=tuple(deviations), withheld=tuple(withheld), **_software())
    if report_id is None:
        report_id = _report_id(case_id, exhibit_id, _facts(model))
    return model.replace(report_id=report_id)


def from_document(document: ResultsDocument, exhibit_id: str, *, source: str = "results",
                  **options: Any) -> ReportModel:
    """A report model of one exhibit from a batch's typed results document.

    Options are those of :func:`from_records` (``laboratory``, ``library``,
    ``issued_at``, ``report_id``, ``draw_chromatograms``).
    """
    return from_records(document.runs, exhibit_id, results=document, source=source,
                        **options)


def from_results(path: str | os.PathLike, exhibit_id: str, **options: Any) -> ReportModel:
    """A report model of one exhibit from a batch's ``results.json`` (module notes).

    The file is read by :func:`load_results` (format version checked, an older one
    upgraded). Options are those of :func:`from_records` (``laboratory``, ``library``,
    ``issued_at``, ``report_id``, ``draw_chromatograms``).
    """
    return from_document(load_results(path), exhibit_id, source=str(Path(path).resolve()),
                         **options)


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
    typed = {r["result_id"]: RunResult.from_json(
        r["data"], source=f"{store.location}: case {case_id}, result {r['result_id']}")
        for r in results}
    records = [dataclasses.replace(
        typed[r["result_id"]], exhibit_id=typed[r["result_id"]].exhibit_id or r["exhibit_id"],
        case_id=case_id, **({"file": run_paths[r["run_id"]]}
                            if r.get("run_id") in run_paths else {}))
        for r in results]
    mine = [r for r in results if r["exhibit_id"] == exhibit_id]
    from gcms.custody.decisions import report_lines  # verdicts changed in review, who, why

    store_notes += report_lines(mine)
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
    # sequence-level sections the batch's steps added (QA status, instrument), as recorded
    sections = parameters.get("sections") or {}
    where = f"{store.location}: case {case_id}, analysis {analysis.get('analysis_id')}"
    meta = BatchFacts(
        library_name=analysis.get("library_name"), library_path=library_path,
        library_content_sha256=(parameters.get("library") or {}).get("content_sha256"),
        library_file_sha256=analysis.get("library_sha256"),
        criteria_name=analysis.get("criteria_profile"),
        criteria_sha256=analysis.get("criteria_sha256"),
        gcms_version=analysis.get("software_version", ""),
        qa=QASection.from_json(sections["qa"], source=f"{where}, qa")
        if sections.get("qa") else None,
        instrument=sections.get("instrument") or {},
        processed_by=ProcessedBy.from_json(sections["processed_by"],
                                           source=f"{where}, processed_by")
        if sections.get("processed_by") else None,
        # the version as the store governs it now (approvals, later versions), else as
        # the batch recorded it
        library_version=(store.library_version_used(case_id, analysis["analysis_id"])
                         if analysis.get("analysis_id") else None)
        or sections.get("library_version"))
    model = from_records(records, exhibit_id, results=meta,
                         source=f"case store {store.location}, case {case_id}",
                         **{k: v for k, v in options.items() if k != "report_id"})
    runs = {r["run_id"]: r for r in case_file["runs"]}
    result_ids = {r["result_id"] for r in mine}
    used_runs = [runs[r["run_id"]] for r in results if r.get("run_id") in runs
                 and (r["exhibit_id"] == exhibit_id or runs[r["run_id"]]["kind"] != "sample")]
    sample_of = {r["run_id"]: typed[r["result_id"]].sample_id or runs[r["run_id"]]["path"]
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
