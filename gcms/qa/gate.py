"""The batch QA gate: whether the instrument's QA was current and passing for a sequence.

``gcms batch SEQUENCE --instrument PROFILE`` adds two steps to the batch
(:mod:`gcms.batch.pipeline`):

:class:`QAGate` (``"before-judgement"``)
    1. the sequence's own ladder runs are judged with :func:`gcms.qa.evaluate_ladder`
       and its check-standard runs (type ``qc``) with
       :func:`gcms.qa.evaluate_check_standard` (the batch's deconvolution, library and
       ladder calibration), each result stored in the QA history (once: a batch run
       again finds them recorded);
    2. the latest tune in the QA history performed by the *reference time* — the
       earliest acquisition time of the sequence's runs (else the time of processing,
       and the section says so) — is looked up: it is current when no older than the
       profile's ``tune.max_age_days``;
    3. a ladder or check standard the sequence does not hold is looked up in the history
       the same way, against ``ladder.max_age_hours`` / ``check_standard.max_age_hours``:
       it is required only when the profile sets that age (else its absence is noted);
    4. the outcome (:class:`BatchQA`) goes to results.json as its ``qa`` section (and the
       profile's identity as ``instrument``).

:class:`QAReportable` (``"after-judgement"``)
    Every exhibit's record (sample and QC runs with an exhibit ID) gets
    ``"reportable"`` and a ``"qa"`` part (status, policy, reason). Under the ``block``
    policy, QA that is not current and passing makes them ``reportable: false``, adds
    the reason to each record's problems and fails the batch (exit 1); under
    ``record`` it is only recorded. The default policy is the profile's
    ``qa.block_reporting``.

Statuses of a check: ``passing`` (current and passed), ``failing`` (the result that
counts failed, or a sequence run could not be judged), ``stale`` (the latest passing
result is older than the profile allows), ``missing`` (none). The batch's status is
``passing`` when every check that counts is; else the worst of them in the order
failing, missing, stale. A check counts when it is required or was judged.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gcms.errors import GcmsError
from gcms.qa.profile import InstrumentProfile
from gcms.qa.records import QAResult
from gcms.results import QASection, RunQA

if TYPE_CHECKING:  # pragma: no cover
    from gcms.batch import BatchContext

__all__ = [
    "POLICIES",
    "BatchQA",
    "CheckStatus",
    "Policy",
    "QACheck",
    "QAGate",
    "QAReportable",
    "assess_batch_qa",
    "history_check",
    "qa_batch_steps",
    "sequence_check",
]

Policy = Literal["record", "block"]
POLICIES: tuple[str, ...] = ("record", "block")
CheckStatus = Literal["passing", "failing", "stale", "missing"]
#: Worst first: the batch takes the first status among its counted checks.
_SEVERITY = ("failing", "missing", "stale", "passing")
_LABEL = {"tune": "tune", "ladder": "alkane ladder", "check": "check standard"}


def _when(value: datetime | None) -> str:
    if value is None:
        return "unknown time"
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _result_summary(result: QAResult, **extra: Any) -> dict[str, Any]:
    source = result.source
    return {"performed_at": result.performed_at.isoformat(), "verdict": result.verdict,
            "criteria_set": result.criteria_set,
            "file": source.get("path"), "sha256": source.get("sha256"),
            "failed": [c.key for c in result.failures],
            "profile_sha256": result.profile.get("sha256"), **extra}


@dataclass(frozen=True, slots=True)
class QACheck:
    """The state of one kind of QA (tune, ladder, check standard) for a batch.

    ``source`` is ``"history"`` (looked up in the QA history) or ``"sequence"`` (runs of
    the sequence, judged now); ``results`` summarise the result(s) it rests on (time,
    verdict, file and SHA-256, failed criteria, history id, age); ``reason`` says it in
    a sentence.
    """

    kind: Literal["tune", "ladder", "check"]
    status: CheckStatus
    required: bool
    source: Literal["history", "sequence"]
    reason: str
    results: tuple[Mapping[str, Any], ...] = ()
    max_age_hours: float | None = None

    @property
    def counts(self) -> bool:
        """Whether the check decides the batch's status (required, or judged)."""
        return self.required or self.status in ("passing", "failing")

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"kind": self.kind, "status": self.status, "required": self.required,
                "counts": self.counts, "source": self.source, "reason": self.reason,
                "max_age_hours": self.max_age_hours,
                "results": [dict(r) for r in self.results]}


@dataclass(frozen=True, slots=True)
class BatchQA:
    """The instrument QA of one batch: every check, the status, and the policy."""

    instrument: Mapping[str, Any]
    policy: Policy
    reference_time: datetime
    reference_basis: str
    checks: tuple[QACheck, ...]
    history: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> CheckStatus:
        """``passing`` when every counted check passes, else the worst (module notes)."""
        counted = [c.status for c in self.checks if c.counts]
        for status in _SEVERITY:
            if status in counted:
                return status  # type: ignore[return-value]
        return "passing"

    @property
    def current(self) -> bool:
        """No counted check is stale or missing."""
        return not any(c.counts and c.status in ("stale", "missing") for c in self.checks)

    @property
    def passing(self) -> bool:
        """Every counted check is current and passed."""
        return self.status == "passing"

    @property
    def blocks(self) -> bool:
        """Whether reporting is refused: the ``block`` policy and QA not passing."""
        return self.policy == "block" and not self.passing

    @property
    def reason(self) -> str:
        """Why the status is what it is (the failing checks' reasons)."""
        bad = [c.reason for c in self.checks if c.counts and c.status != "passing"]
        return "; ".join(bad) if bad else "tune and suitability checks current and passing"

    def summary(self) -> list[str]:
        """One line per check, in the lab's words (for reports)."""
        return [f"{_LABEL[c.kind]}: {c.status}{'' if c.counts else ' (not required)'}: "
                f"{c.reason}" for c in self.checks]

    def to_dict(self) -> dict[str, Any]:
        """The ``qa`` section of results.json."""
        return {
            "status": self.status, "current": self.current, "passing": self.passing,
            "policy": self.policy, "reportable": not self.blocks,
            "blocks_reporting": self.blocks, "reason": self.reason,
            "instrument": dict(self.instrument),
            "reference_time": self.reference_time.isoformat(),
            "reference_basis": self.reference_basis,
            "history": self.history,
            "checks": [c.to_dict() for c in self.checks],
            "summary": self.summary(),
            "notes": list(self.notes),
        }


def history_check(history, profile: InstrumentProfile, kind: Literal["tune", "ladder", "check"],
                  reference_time: datetime, *, max_age_hours: float | None,
                  required: bool) -> QACheck:
    """The latest ``kind`` result of the instrument performed by ``reference_time``.

    ``passing`` when it passed and is at most ``max_age_hours`` old then (None: any age),
    ``failing`` when it failed, ``stale`` when older, ``missing`` when there is none.
    """
    label = _LABEL[kind]
    stored = history.latest(profile.id, kind=kind, until=reference_time) if history else None
    if stored is None:
        return QACheck(kind, "missing", required, "history",
                       f"no {label} of {profile.id} in the QA history before "
                       f"{_when(reference_time)}", (), max_age_hours)
    result = stored.result
    age_h = (reference_time - result.performed_at).total_seconds() / 3600.0
    summary = _result_summary(result, history_id=stored.id, age_hours=round(age_h, 2))
    name = Path(str(result.source.get("path") or "")).name or "no file"
    if not result.passed:
        failed = ", ".join(c.key for c in result.failures)
        return QACheck(kind, "failing", required, "history",
                       f"latest {label} ({_when(result.performed_at)}, {name}) failed: "
                       f"{failed}", (summary,), max_age_hours)
    if max_age_hours is not None and age_h > max_age_hours:
        return QACheck(kind, "stale", required, "history",
                       f"latest passing {label} ({_when(result.performed_at)}, {name}) is "
                       f"{age_h:.1f} h before {_when(reference_time)}; the profile allows "
                       f"{max_age_hours:g} h", (summary,), max_age_hours)
    return QACheck(kind, "passing", required, "history",
                   f"{label} passed {_when(result.performed_at)} ({name}), {age_h:.1f} h "
                   f"before the first injection", (summary,), max_age_hours)


def sequence_check(kind: Literal["ladder", "check"],
                   judged: Sequence[tuple[str, int, QAResult | str]], *,
                   required: bool = True) -> QACheck:
    """The sequence's own ladder or check-standard runs: ``(file, position, result)``.

    ``result`` is a :class:`QAResult` or why the run could not be judged (a failure).
    """
    label = _LABEL[kind]
    results, bad = [], []
    for file, position, result in judged:
        name = Path(file).name
        if isinstance(result, QAResult):
            results.append(_result_summary(result, position=position, file_name=name))
            if not result.passed:
                bad.append(f"{name} (#{position + 1}) failed "
                           f"{', '.join(c.key for c in result.failures)}")
        else:
            results.append({"file": file, "file_name": name, "position": position,
                            "verdict": "not judged", "problem": result})
            bad.append(f"{name} (#{position + 1}) not judged: {result}")
    if bad:
        return QACheck(kind, "failing", required, "sequence",
                       f"{label} of the sequence: " + "; ".join(bad), tuple(results))
    names = ", ".join(f"{Path(f).name} (#{p + 1})" for f, p, _ in judged)
    return QACheck(kind, "passing", required, "sequence",
                   f"{label} of the sequence passed: {names}", tuple(results))


def instrument_section(profile: InstrumentProfile) -> dict[str, Any]:
    """The ``instrument`` section of results.json: who the instrument is, which profile."""
    ident, column = profile.identity, profile.column
    return {"id": ident.id, "lab": ident.lab or None, "vendor": ident.vendor or None,
            "model": ident.model or None, "serial": ident.serial or None,
            "location": ident.location or None, "ionization": ident.ionization or None,
            "column": " ".join(x for x in (column.name, column.phase) if x) or None,
            "profile": {"path": profile.source_path, "sha256": profile.sha256}}


def assess_batch_qa(
    profile: InstrumentProfile,
    *,
    history,
    reference_time: datetime,
    reference_basis: str = "first injection",
    sequence_ladders: Sequence[tuple[str, int, QAResult | str]] = (),
    sequence_checks: Sequence[tuple[str, int, QAResult | str]] = (),
    policy: Policy | None = None,
    notes: Sequence[str] = (),
) -> BatchQA:
    """Every QA check of a batch (module notes); ``history`` a :class:`gcms.qa.QAHistory`."""
    if policy is None:
        policy = "block" if profile.qa.block_reporting else "record"
    if policy not in POLICIES:
        raise ValueError(f"QA policy must be one of {POLICIES}, got {policy!r}")
    if reference_time.tzinfo is None:
        reference_time = reference_time.replace(tzinfo=timezone.utc)
    days = profile.tune.max_age_days
    checks = [history_check(history, profile, "tune", reference_time,
                            max_age_hours=None if days is None else 24.0 * days,
                            required=True)]
    for kind, section, judged in (("ladder", profile.ladder, sequence_ladders),
                                  ("check", profile.check_standard, sequence_checks)):
        if section is None:
            continue
        max_age = section.max_age_hours
        if judged:
            checks.append(sequence_check(kind, judged, required=True))
        else:
            checks.append(history_check(history, profile, kind, reference_time,
                                        max_age_hours=max_age, required=max_age is not None))
    return BatchQA(instrument=instrument_section(profile), policy=policy,
                   reference_time=reference_time, reference_basis=reference_basis,
                   checks=tuple(checks), history=_history_path(history), notes=tuple(notes))


def _history_path(history) -> str | None:
    path = getattr(history, "path", None)
    return str(Path(path).resolve()) if path else None


# --------------------------------------------------------------------------- batch steps
def _acquired(context_run) -> datetime | None:
    text = (context_run.analysis.run or {}).get("acquired_at") if context_run.ok else None
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _read_again(context_run):
    """The run file read again, checked against the digest pass 1 recorded."""
    import gcms.io

    path = context_run.injection.file
    run = gcms.io.read(path)
    recorded = (context_run.analysis.run or {}).get("sha256")
    if recorded and run.metadata.sha256 and recorded != run.metadata.sha256:
        raise GcmsError(f"{path}: changed since it was processed (SHA-256 "
                        f"{run.metadata.sha256}, pass 1 read {recorded})")
    return run


class QAGate:
    """Before judgement: judge the sequence's QA runs, look up the tune (module notes)."""

    name = "qa-gate"
    stage = "before-judgement"

    def __init__(self, profile: InstrumentProfile, *,
                 history_dir: str | os.PathLike | None = None,
                 policy: Policy | None = None) -> None:
        if policy is not None and policy not in POLICIES:
            raise ValueError(f"QA policy must be one of {POLICIES}, got {policy!r}")
        self.profile = profile
        self.history_dir = history_dir
        self.policy: Policy = policy or ("block" if profile.qa.block_reporting else "record")
        self.assessment: BatchQA | None = None

    def __call__(self, context: BatchContext) -> None:
        """Judge the QA runs, assess the QA, add the ``qa`` section; fail under ``block``."""
        from gcms.qa.check_standard import evaluate_check_standard
        from gcms.qa.history import open_history
        from gcms.qa.ladder import evaluate_ladder

        profile = self.profile
        notes: list[str] = []
        times = [t for t in (_acquired(r) for r in context.runs) if t is not None]
        if times:
            reference, basis = min(times), "first injection (earliest acquisition time)"
        else:
            reference = datetime.now(timezone.utc)
            basis = "processing time: the runs carry no acquisition time"
            notes.append("no run of the sequence states its acquisition time: the QA is "
                         "judged as of the time of processing")
        ladders: list[tuple[str, int, QAResult | str]] = []
        checks: list[tuple[str, int, QAResult | str]] = []
        with open_history(self.history_dir) as store:
            for run_context in context.runs:
                kind = run_context.injection.type
                if kind not in ("ladder", "qc"):
                    continue
                file = str(run_context.injection.file)
                position = run_context.injection.position
                section = profile.ladder if kind == "ladder" else profile.check_standard
                if section is None:
                    notes.append(f"{Path(file).name} (#{position + 1}): the profile has no "
                                 f"[{'ladder' if kind == 'ladder' else 'check_standard'}] "
                                 "section; not judged")
                    continue
                target = ladders if kind == "ladder" else checks
                if not run_context.ok:
                    target.append((file, position, run_context.failure.problem))
                    continue
                analysis = run_context.analysis
                try:
                    run = _read_again(run_context)
                    if kind == "ladder":
                        result = evaluate_ladder(run, profile=profile, history=store,
                                                 noise_model=analysis.deconvolution.noise)
                    else:
                        position_of_ladder = run_context.calibration_position
                        calibration = (context.evidence.calibrations.get(position_of_ladder)
                                       if context.evidence is not None
                                       and position_of_ladder is not None else None)
                        result = evaluate_check_standard(
                            run, profile=profile, library=context.library,
                            calibration=calibration, deconvolution=analysis.deconvolution)
                except GcmsError as error:
                    target.append((file, position, str(error)))
                    continue
                store.record_once(result)
                target.append((file, position, result))
            assessment = assess_batch_qa(profile, history=store, reference_time=reference,
                                         reference_basis=basis, sequence_ladders=ladders,
                                         sequence_checks=checks, policy=self.policy,
                                         notes=notes)
        self.assessment = assessment
        context.sections["qa"] = assessment.to_dict()
        context.sections.setdefault("instrument", dict(assessment.instrument))
        context.notes.append(f"instrument QA of {profile.id}: {assessment.status} "
                             f"(policy {assessment.policy}): {assessment.reason}")
        if assessment.blocks:
            for run_context in context.runs:
                if run_context.injection.type in ("sample", "qc") and \
                        run_context.injection.exhibit_id:
                    run_context.problems.append(
                        f"not reportable: instrument QA {assessment.status}: "
                        f"{assessment.reason}")
            context.fail(f"instrument QA of {profile.id} is {assessment.status} "
                         f"({assessment.reason}): exhibits marked not reportable "
                         "(policy block)")


class QAReportable:
    """After judgement: every exhibit's record says whether it may be reported, and why."""

    name = "qa-reportable"
    stage = "after-judgement"

    def __init__(self, gate: QAGate) -> None:
        self.gate = gate

    def __call__(self, context: BatchContext) -> None:
        """Mark each exhibit record ``reportable`` (or not) with the gate's reason.

        Each record is replaced by one with the typed sections set
        (:meth:`gcms.results.RunResult.replace`: ``reportable`` and :class:`RunQA`), and
        the document's ``qa`` section (:class:`QASection`) names the blocked exhibits.
        """
        assessment = self.gate.assessment
        if assessment is None:  # the gate did not run (no pass 2): nothing to mark
            return
        reportable = not assessment.blocks
        word = RunQA.from_json({"status": assessment.status, "policy": assessment.policy,
                                "reportable": reportable,
                                "reason": None if assessment.passing else assessment.reason})
        blocked: set[tuple[str, str]] = set()
        for index, run in enumerate(context.records):
            if run.type not in ("sample", "qc") or not run.exhibit_id:
                continue
            context.records[index] = run.replace(reportable=reportable, qa=word)
            if not reportable:
                blocked.add((run.case_id or "", str(run.exhibit_id)))
        if assessment.blocks and context.sections.get("qa") is not None:
            section = QASection.from_json(context.sections["qa"], source="the qa section")
            context.sections["qa"] = section.replace(blocked_exhibits=[
                {"case_id": case or None, "exhibit_id": exhibit}
                for case, exhibit in sorted(blocked)]).to_json()


def qa_batch_steps(profile: InstrumentProfile, *, history_dir: str | os.PathLike | None = None,
                   policy: Policy | None = None) -> list:
    """The two batch steps of the QA gate, sharing one assessment."""
    gate = QAGate(profile, history_dir=history_dir, policy=policy)
    return [gate, QAReportable(gate)]

