"""Quantitation as a step of ``gcms batch``: how much, beside what was identified.

``gcms batch SEQUENCE.csv --library LIB --out DIR --method METHOD.toml`` adds a
:class:`QuantitationStep` to the batch (stage ``"after-judgement"``, see
:mod:`gcms.batch.pipeline`). Once every run is judged, the step

1. quantifies the sequence with :func:`gcms.quantitation.quantitate`, exactly as
   ``gcms quant`` does (same integration, calibration, limits, checks);
2. gives every run's record in ``results.json`` a ``quantitation`` list (the entries of
   ``gcms quant``'s records, :meth:`Quantity.to_dict <gcms.quantitation.Quantity.to_dict>`,
   each with an ``identification`` section, below), the run's ``internal_standards``
   integrations and a ``quantitation_method`` reference (name, file, SHA-256);
3. writes ``calibration.json`` and ``calibration_<analyte>.png`` into the batch folder
   (:func:`gcms.quantitation.write_calibration_outputs`);
4. reports every failed calibration, check standard and unreadable run as a batch
   failure (exit 1), and adds one note per calibration and per quantified exhibit run to
   the sequence notes (the batch summary prints them).

**The runs are read again.** Pass 1 runs in worker processes and keeps only plain data
(components, hits; or a cached record when a batch resumes), so no decoded run is left
to reuse when the batch's steps run. Each run file is read once more, one at a time
(only the integrations and the blanks' quantifier traces are kept), and its data-file
SHA-256 must equal the one pass 1 recorded, so that identification and quantitation
rest on the same bytes; a changed file is refused for quantitation, with the reason.
Reading costs about 15 ms per run on the Agilent ``.D`` runs of the etizolam sequence
(2,430 scans), against about a second per run for pass 1; runs that failed pass 1 are
not read again.

**The layout rule** (:mod:`gcms.batch.output`): a run's record names no other run's
sample id. Quantitation texts name other runs (the calibrators of a failed calibration,
a rejected calibrator), so the sequence is quantified under labels made of each run's
file name and 1-based position, ``"220223002.D (#2)"``, the way the batch names the
ladder, standard and blank a verdict rests on. ``calibration.json`` and the plots are
sequence-level files: their calibrators carry their sample ids again.

**Identification and quantitation must agree on what they are about.** For every
sample (and check standard) and analyte, the step looks up what identification decided
at the quantified peak: the components whose apex lies within the integration limits
(± :attr:`AgreementSettings.apex_margin_s`; the method's retention window when no peak
was integrated) and whose reported substance or one of whose alternatives is the
analyte (same name, synonym, CAS number or InChIKey skeleton,
:meth:`gcms.identify.Substance.same_as`). The analyte's best verdict there is recorded
in the entry's ``identification`` section (``verdict``, ``agrees``, the component, what
it is reported as, the criteria that failed). Where they disagree:

* a sample's value whose analyte is not *identified* at that peak (inconclusive, not
  identified, or the peak reported as another substance) is withdrawn: status
  ``not confirmed``, not reportable, no concentration, uncertainty or amount (the
  estimate stays in ``estimate`` for review), with a flag and a message saying why;
* the analyte identified in the run while its quantifier gives no peak in the method's
  window is flagged (the window or ions of the method may not fit this run);
* a check standard is flagged only: its recovery is still judged against its nominal
  value.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gcms.errors import QuantitationError
from gcms.quantitation.method import Analyte, QuantMethod
from gcms.quantitation.output import write_calibration_outputs
from gcms.quantitation.process import QuantitationResult, RunRecord, quantitate
from gcms.quantitation.quantity import Quantity
from gcms.results import Quantity as QuantityResult
from gcms.results import RunResult

if TYPE_CHECKING:  # pragma: no cover
    from gcms.batch import BatchContext, RunContext
    from gcms.identify import Judgement
    from gcms.run import Run
    from gcms.sequence import Injection
    from gcms.sequence import Sequence as RunSequence

__all__ = ["AgreementSettings", "IdentificationCheck", "QuantitationStep",
           "check_identification", "load_step", "reconcile", "run_label"]

Verdict = Literal["identified", "inconclusive", "not identified"]
_RANK = {"identified": 0, "inconclusive": 1, "not identified": 2}
#: Roles whose value is checked against the identification (calibrators are the
#: reference standards themselves; a blank's response is flagged by quantitation).
CHECKED_ROLES = ("unknown", "check")


@dataclass(frozen=True, slots=True)
class AgreementSettings:
    """How identification and quantitation are matched to the same peak.

    Attributes
    ----------
    apex_margin_s : float
        A component belongs to the quantified peak when its apex lies between the
        integration limits widened by this much on each side (s). The deconvoluted apex
        and the quantifier's apex differ by a scan or so; one second covers a 2-4 Hz
        scan rate without reaching a neighbouring peak.
    """

    apex_margin_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.apex_margin_s >= 0:
            raise ValueError(f"apex_margin_s must be >= 0, got {self.apex_margin_s}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class IdentificationCheck:
    """What identification decided about one analyte where quantitation measured it.

    Attributes
    ----------
    substance
        The analyte (method name).
    verdict
        The analyte's best verdict among the components of ``window_s``; "not
        identified" when no component there was matched to it.
    agrees
        Whether quantitation (a peak on the quantifier) and identification (the
        analyte identified) say the same.
    window_s
        Where components were looked for: the integration limits ± the margin, or the
        method's retention window when no peak was integrated.
    component, rt_s, reported_as, reported_verdict
        The component that decided ``verdict`` (index in the run record's
        ``components``), its apex, and what the run reports it as.
    failed
        The criteria that held the analyte's identification back at that component.
    identified_elsewhere_s
        Apexes where the analyte is identified outside ``window_s``.
    detail
        One sentence for a reviewer.
    """

    substance: str
    verdict: Verdict
    agrees: bool
    window_s: tuple[float, float]
    component: int | None = None
    rt_s: float | None = None
    reported_as: str | None = None
    reported_verdict: str | None = None
    failed: tuple[str, ...] = ()
    identified_elsewhere_s: tuple[float, ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (the ``identification`` section of a quantitation entry)."""
        out = dataclasses.asdict(self)
        out["window_s"] = list(self.window_s)
        out["failed"] = list(self.failed)
        out["identified_elsewhere_s"] = list(self.identified_elsewhere_s)
        return out


def run_label(injection: Injection) -> str:
    """How quantitation texts name a run in a batch: file name and 1-based position."""
    from gcms.batch.pass2 import file_name

    return f"{file_name(injection.file)} (#{injection.position + 1})"


def _analyte_substance(analyte: Analyte):
    from gcms.identify import Substance

    return Substance(name=analyte.name, synonyms=tuple(analyte.aliases),
                     cas=analyte.cas or None, inchikey=analyte.inchikey or None)


def check_identification(analyte: Analyte, quantity: Quantity,
                         judgements: Sequence[Judgement], *,
                         settings: AgreementSettings | None = None) -> IdentificationCheck:
    """Compare a run's quantity of ``analyte`` with the run's identification verdicts.

    ``judgements`` are the run's components as the batch judged them
    (:attr:`gcms.batch.RunContext.judgements`). The rule is the module docstring's.
    """
    settings = settings or AgreementSettings()
    integration = quantity.integration
    found = bool(integration is not None and integration.detected
                 and integration.start_s is not None and integration.end_s is not None)
    if found:
        low = integration.start_s - settings.apex_margin_s
        high = integration.end_s + settings.apex_margin_s
    else:
        low, high = analyte.rt_s - analyte.rt_window_s, analyte.rt_s + analyte.rt_window_s
    wanted = _analyte_substance(analyte)
    best: tuple[int, float, Judgement, Any] | None = None
    elsewhere: list[float] = []
    present: list[Judgement] = []
    for judgement in judgements:
        rt = float(judgement.component.rt_s)
        inside = low <= rt <= high
        if inside:
            present.append(judgement)
        candidates = [c for c in (judgement.chosen, *judgement.alternatives)
                      if c is not None and c.substance.same_as(wanted)]
        if not candidates:
            continue
        mine = min(candidates, key=lambda c: _RANK[c.verdict])
        if not inside:
            if mine.verdict == "identified":
                elsewhere.append(rt)
            continue
        centre = (integration.rt_s if found and integration.rt_s is not None
                  else analyte.rt_s)
        key = (_RANK[mine.verdict], abs(rt - centre))
        if best is None or key < best[:2]:
            best = (*key, judgement, mine)

    where = f"{low:.1f}-{high:.1f} s"
    if best is not None:
        _, _, judgement, mine = best
        verdict: Verdict = mine.verdict
        component, rt = judgement.index, float(judgement.component.rt_s)
        reported_as, reported_verdict = judgement.substance, judgement.verdict
        failed = tuple(mine.failed)
    else:
        verdict, component, rt, failed = "not identified", None, None, ()
        nearest = min(present, key=lambda j: abs(j.component.rt_s - (
            integration.rt_s if found and integration.rt_s is not None else analyte.rt_s)),
            default=None)
        reported_as = nearest.substance if nearest is not None else None
        reported_verdict = nearest.verdict if nearest is not None else None
        if nearest is not None:
            component, rt = nearest.index, float(nearest.component.rt_s)

    name = analyte.name
    if found:
        agrees = verdict == "identified"
        if agrees:
            detail = f"{name} identified at {rt:.1f} s, within the integrated peak ({where})"
        elif best is not None:
            held = f" (criteria not met: {', '.join(failed)})" if failed else ""
            other = (f"; the component is reported as {reported_as} ({reported_verdict})"
                     if reported_as and not wanted.same_as(_named(reported_as)) else "")
            detail = f"{name} {verdict} at {rt:.1f} s{held}{other}"
        elif reported_as is not None:
            detail = (f"no component within the integrated peak ({where}) was matched to "
                      f"{name}; the one at {rt:.1f} s is reported as {reported_as} "
                      f"({reported_verdict})")
        elif present:
            detail = (f"no component within the integrated peak ({where}) was matched to "
                      f"{name}")
        else:
            detail = f"no component was found within the integrated peak ({where})"
    else:
        agrees = verdict != "identified" and not elsewhere
        if verdict == "identified":
            detail = (f"{name} identified at {rt:.1f} s, but its quantifier "
                      f"{integration.signal if integration else analyte.signal_label} gives "
                      f"no peak in the method's window ({where})")
        elif elsewhere:
            detail = (f"{name} identified at {', '.join(f'{t:.1f}' for t in elsewhere)} s, "
                      f"outside the method's retention window ({where}): the method's "
                      "window may not fit this run")
        else:
            detail = f"{name} neither integrated nor identified in {where}"
    return IdentificationCheck(
        substance=name, verdict=verdict, agrees=agrees, window_s=(low, high),
        component=component, rt_s=rt, reported_as=reported_as,
        reported_verdict=reported_verdict, failed=failed,
        identified_elsewhere_s=tuple(elsewhere), detail=detail)


def _named(name: str):
    from gcms.identify import Substance

    return Substance(name=name)


def reconcile(quantity: Quantity, check: IdentificationCheck) -> Quantity:
    """The quantity as the batch reports it, given the identification at its peak.

    A sample's value whose analyte is not identified there is withdrawn (module
    docstring); any other disagreement is flagged. Calibrators and blanks are returned
    unchanged.
    """
    if check.agrees or quantity.role not in CHECKED_ROLES:
        return quantity
    flag = f"identification: {check.detail}"
    flags = (*quantity.flags, flag)
    if quantity.role == "unknown" and quantity.concentration is not None:
        estimate = quantity.estimate if quantity.estimate is not None else quantity.concentration
        message = (f"the identification does not confirm {quantity.substance} at the "
                   f"quantified peak ({check.verdict}): the estimate {estimate:.4g} "
                   f"{quantity.unit} is kept for review only, not reported")
        return dataclasses.replace(
            quantity, status="not confirmed", reportable=False, concentration=None,
            uncertainty=None, expanded_uncertainty=None, amount=None, flags=flags,
            message=message)
    return dataclasses.replace(quantity, flags=flags)


# ---------------------------------------------------------------------------- the step
@dataclass
class QuantitationStep:
    """The batch step of ``gcms batch --method`` (module docstring).

    After the batch, :attr:`result` holds the :class:`QuantitationResult` with the
    sequence's own sample ids (its texts name runs by file and position).
    """

    method: QuantMethod
    agreement: AgreementSettings = field(default_factory=AgreementSettings)
    name: str = "quantitation"
    stage: Literal["after-judgement"] = "after-judgement"
    result: QuantitationResult | None = field(default=None, repr=False)

    def __call__(self, context: BatchContext) -> None:
        """Quantify the batch's sequence and extend its run records (module docstring)."""
        from gcms.sequence import Sequence as RunSequence

        sequence = context.sequence
        labels = {inj.position: run_label(inj) for inj in sequence}
        labelled = RunSequence(path=sequence.path, injections=tuple(
            dataclasses.replace(inj, sample_id=labels[inj.position]) for inj in sequence))
        by_position = {c.injection.position: c for c in context.runs}
        result = quantitate(labelled, self.method, runs=_reader(by_position))
        records = {r.injection.position: r for r in result.records}
        # what a report states of the method (ISO/IEC 17025 §7.8.2.1 f): the version,
        # and each analyte's calibration model, weighting, range and LOQ
        summary = {name: {"model": c.model, "weighting": c.weighting, "unit": c.unit,
                          "range": list(c.range) if c.range else None,
                          "loq": c.reporting_loq if c.reporting_loq is not None else c.loq,
                          "status": c.status}
                   for name, c in result.calibrations.items()}
        for position, run in enumerate(context.records):
            context.records[position] = self._extended(
                run, records.get(position), by_position.get(position), summary)
        self.result = _with_sample_ids(result, sequence, labels)
        self._write(context)
        self._report(context)

    # ------------------------------------------------------------------ helpers
    def _extended(self, record: RunResult, found: RunRecord | None, run: RunContext | None,
                  calibrations: dict[str, Any]) -> RunResult:
        """``record`` with the step's typed sections (:meth:`RunResult.replace`).

        Its :class:`gcms.results.Quantity` entries, internal standards and the method.
        """
        method = self.method
        sections: dict[str, Any] = {"quantitation_method": {
            "name": method.name, "path": method.path, "sha256": method.sha256,
            "calibration_file": "calibration.json", "version": method.version,
            "calibrations": calibrations}}
        if found is None:  # ladders are not quantified
            return record.replace(**sections, quantitation=(), internal_standards=())
        if found.error is not None and run is not None and run.ok:
            sections["problems"] = (*(record.problems or ()), f"quantitation: {found.error}")
        entries = []
        judgements = run.judgements if run is not None and run.ok else ()
        for quantity in found.quantities:
            check = None
            if quantity.role in CHECKED_ROLES and run is not None and run.ok:
                analyte = next(a for a in method.analytes if a.name == quantity.substance)
                check = check_identification(analyte, quantity, judgements,
                                             settings=self.agreement)
                quantity = reconcile(quantity, check)
            entry = quantity.to_dict()
            entry["identification"] = check.to_dict() if check is not None else None
            entries.append(QuantityResult.from_json(entry,
                                                    source=f"quantitation of {record.file}"))
        internal = [m.to_dict() for m in found.internal_standards]
        return record.replace(**sections, quantitation=entries, internal_standards=internal)

    def _write(self, context: BatchContext) -> None:
        if context.out_dir is None:
            return
        try:
            write_calibration_outputs(self.result, context.out_dir)
        except OSError as error:
            context.fail(f"quantitation: cannot write calibration.json or the plots in "
                         f"{context.out_dir}: {error.strerror or error}")

    def _report(self, context: BatchContext) -> None:
        result = self.result
        processed = {c.injection.position for c in context.runs if c.ok}
        method = self.method
        context.notes.append(
            f"quantitation: method {method.name!r} ({method.path or 'in memory'}, sha256 "
            f"{(method.sha256 or '-')[:12]}); calibration.json and the plots in the batch "
            "folder")
        for name, calibration in result.calibrations.items():
            if calibration.ok:
                used = sum(p.used for p in calibration.points)
                low, high = calibration.range
                context.notes.append(
                    f"calibration of {name}: {calibration.model.replace('_', ' ')}, weights "
                    f"{calibration.weighting}, R² {calibration.fit.r_squared:.4f}, {used} of "
                    f"{len(calibration.points)} calibrators, {low:g}-{high:g} "
                    f"{calibration.unit}")
        for run in context.records:
            if run.type not in ("sample", "qc"):
                continue
            for entry in run.quantitation or ():
                if entry.role in CHECKED_ROLES:
                    context.notes.append(
                        f"quantitation #{run.position + 1} {run.sample_id}: "
                        f"{entry.substance} {_entry_text(entry)}")
        for finding in _findings(result, processed):
            context.fail(f"quantitation: {finding}")


def _findings(result: QuantitationResult, processed: set[int]) -> list[str]:
    """What the lab must act on: failed calibrations, failed checks, runs not quantified.

    A check standard of a failed calibration and a run the batch could not process at
    all are not repeated (the calibration's failure, the batch's failed run say it).
    """
    failed = {name for name, c in result.calibrations.items() if not c.ok}
    out = [f"calibration of {name} failed: {'; '.join(result.calibrations[name].reasons)}"
           for name in sorted(failed)]
    for record in result.records:
        if record.error and record.injection.position in processed:
            out.append(f"{record.sample_id}: {record.error}")
        for q in record.quantities:
            check = q.check
            if q.role != "check" or q.substance in failed or check is None or check.passed:
                continue
            found = (f"{check.recovery_percent:.1f} % of nominal"
                     if check.recovery_percent is not None else (q.message or q.status))
            out.append(f"{record.sample_id}: check standard {q.substance} {check.nominal:g} "
                       f"{q.unit}: {found} (limit ±{check.tolerance_percent:g} %)")
    return out


def _entry_text(entry: QuantityResult) -> str:
    """One line for the batch summary: the value and the amount, or why there is none."""
    if entry.concentration is None:
        if entry.status == "not detected":
            lod = entry.lod
            return "not detected" + (f" (LOD {lod:.3g} {entry.unit})" if lod else "")
        if "calibration failed" in entry.flags:
            return f"{entry.status}: its calibration failed"
        return f"{entry.status}: {entry.message or ''}".rstrip(": ")
    text = (f"{entry.concentration:.4g} ± {entry.expanded_uncertainty:.2g} "
            f"{entry.unit} (k = {entry.coverage_factor:.2f})")
    if not entry.reportable:
        text += f", {entry.status}, not reportable"
    amount = entry.amount_in_exhibit or {}
    if amount.get("mass_mg") is not None:
        text += f"; {amount['mass_mg']:.4g} mg in the exhibit"
        if amount.get("purity_percent") is not None:
            text += f", {amount['purity_percent']:.3g} % w/w"
        if amount.get("per_unit_mg") is not None:
            text += f", {amount['per_unit_mg']:.4g} {amount['per_unit']}"
    check = entry.check
    if entry.role == "check" and check:
        recovery = check.get("recovery_percent")
        text += (f"; {recovery:.1f} % of nominal {check['nominal']:g}"
                 if recovery is not None else "") + (" (pass)" if check["passed"] else " (FAIL)")
    return text


def _reader(contexts: Mapping[int, RunContext]):
    """``Injection -> Run`` for :func:`quantitate`: each run read again, digest checked."""

    def read(injection: Injection) -> Run:
        import gcms.io

        context = contexts.get(injection.position)
        if context is None or not context.ok:
            problem = context.failure.problem if context is not None else "not processed"
            raise QuantitationError(f"not quantified: {problem}")
        try:
            run = gcms.io.read(injection.file)
        except OSError as error:
            raise QuantitationError(f"{injection.file}: cannot be read again: "
                                    f"{error.strerror or error}") from None
        expected = context.analysis.run.get("sha256")
        if expected and run.metadata.sha256 != expected:
            raise QuantitationError(
                f"{injection.file}: its data file changed since it was identified (SHA-256 "
                f"{run.metadata.sha256} instead of {expected}): not quantified")
        return run

    return read


def _with_sample_ids(result: QuantitationResult, sequence: RunSequence,
                     labels: Mapping[int, str]) -> QuantitationResult:
    """The result with the sequence's own sample ids on its records and calibrators."""
    by_label = {labels[inj.position]: inj.sample_id for inj in sequence}
    originals = {inj.position: inj for inj in sequence}
    records = tuple(dataclasses.replace(r, injection=originals[r.injection.position])
                    for r in result.records)
    calibrations = {
        name: dataclasses.replace(c, points=tuple(
            dataclasses.replace(p, sample_id=by_label.get(p.sample_id, p.sample_id))
            for p in c.points))
        for name, c in result.calibrations.items()}
    return QuantitationResult(method=result.method, sequence_path=str(sequence.path),
                              records=records, calibrations=calibrations,
                              references=dict(result.references))


def load_step(method: str | Path | QuantMethod, *,
              agreement: AgreementSettings | None = None) -> QuantitationStep:
    """A :class:`QuantitationStep` for a method file, a method name or a loaded method.

    Raises
    ------
    ProfileError
        The method cannot be found or read, or breaks the schema.
    """
    from gcms.quantitation.method import find_method, load_method

    if not isinstance(method, QuantMethod):
        method = load_method(find_method(method))
    return QuantitationStep(method=method, agreement=agreement or AgreementSettings())

