"""``run_batch``: a whole instrument sequence, from run files to verdicts and result files.

Pass 1 (each run alone, in parallel across cores) and pass 2 (the sequence's evidence
and the verdicts) are described in :mod:`gcms.batch.pass1` and :mod:`gcms.batch.pass2`;
the resume cache in :mod:`gcms.batch.cache`; the files written in
:mod:`gcms.batch.output`.

Steps that other parts of gcms add to a batch (a QA gate, quantitation, recording in the
case store) plug in as :class:`BatchStep` objects: each has a ``name`` and a ``stage``
and is called with the :class:`BatchContext`:

``"before-judgement"``
    after the ladder and the standards are known, before any verdict (a QA gate: it may
    add problems to a run's ``RunContext.problems`` or mark the batch failed);
``"after-judgement"``
    with every run record built (``context.records``, one typed
    :class:`~gcms.results.RunResult` per run, in sequence order) and before anything is
    written: replace a record by one with the step's section
    (``context.records[i] = run.replace(quantitation=...)``: the value is checked against
    the key's type there; a key of the step's own, which the record does not declare,
    goes in its ``extra``: ``dataclasses.replace(run, extra={**run.extra, key: value})``),
    add sequence-level notes;
``"after-write"``
    once results.json and the other files are on disk (``context.document``, the typed
    :class:`~gcms.results.ResultsDocument` written; record it in a case store).

A step that finds a problem the lab must act on calls :meth:`BatchContext.fail`; the
batch then exits 1. A step's own sequence-level section of results.json goes in
``context.sections`` (``context.sections["qa"] = ...``): each key becomes a top-level
key of the document, never replacing one the batch writes itself. Records must keep to
the layout of :mod:`gcms.batch.output` (a run's record names no other run's sample).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from gcms.batch.cache import cache_key, input_digest, load_cached, store_cached
from gcms.batch.folder import OutMode, finish_out_dir, prepare_out_dir
from gcms.batch.output import (
    exhibit_summaries,
    results_document,
    run_record,
    summary_text,
    write_outputs,
)
from gcms.batch.pass1 import RunAnalysis, RunFailure, analyse_run
from gcms.batch.pass2 import RunContext, SequenceEvidence, judge_sequence
from gcms.batch.settings import BatchSettings
from gcms.errors import GcmsError, LibraryError
from gcms.results import FORMAT, FORMAT_VERSION, ResultsDocument, RunResult

if TYPE_CHECKING:  # pragma: no cover
    from gcms.identify import Criteria, Lookalikes
    from gcms.library import Library
    from gcms.sequence import Injection
    from gcms.sequence import Sequence as RunSequence

__all__ = ["BatchContext", "BatchResult", "BatchStep", "ProgressEvent", "run_batch"]

Stage = Literal["before-judgement", "after-judgement", "after-write"]
STAGES: tuple[str, ...] = ("before-judgement", "after-judgement", "after-write")

#: Environment of the worker processes: one BLAS thread each, so that N workers use N
#: cores (OpenBLAS would otherwise start a thread per core in every worker).
_WORKER_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """One run finished in pass 1: ``status`` is "processed", "cached" or "failed"."""

    done: int
    total: int
    position: int
    file: str
    status: str
    seconds: float | None = None


class BatchStep(Protocol):
    """A step added to the batch by another part of gcms (module docstring)."""

    name: str
    stage: Stage

    def __call__(self, context: BatchContext) -> None:
        """Do the step's work on the batch."""


@dataclass
class BatchContext:
    """What a :class:`BatchStep` sees of the batch and may extend."""

    sequence: RunSequence
    library: Library
    criteria: Criteria
    settings: BatchSettings
    out_dir: Path | None
    runs: list[RunContext] = field(default_factory=list)
    evidence: SequenceEvidence | None = None
    records: list[RunResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    document: ResultsDocument | None = None
    sections: dict[str, Any] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        """Mark the batch as failed for a reason the lab must act on (exit 1)."""
        self.failures.append(message)

    def record_of(self, position: int) -> RunResult:
        """The record of the run at ``position`` (0-based)."""
        return self.records[position]


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`.

    ``results`` is the typed document (:class:`~gcms.results.ResultsDocument`, the one
    written to results.json, with the notes of the after-write steps);
    :attr:`document` and :attr:`records` are its JSON object and run records.
    """

    results: ResultsDocument
    runs: list[RunContext]
    out_dir: Path | None
    processed: int
    cached: int
    failed: list[dict[str, Any]]
    step_failures: list[str]
    seconds: float

    @functools.cached_property
    def document(self) -> dict[str, Any]:
        """The results document as its JSON object (``results.to_json()``)."""
        return self.results.to_json()

    @property
    def records(self) -> list[dict[str, Any]]:
        """The run records as JSON objects, in sequence order (``document["runs"]``)."""
        return self.document["runs"]

    @property
    def ok(self) -> bool:
        """True when every run was processed and no step reported a failure."""
        return not self.failed and not self.step_failures

    @property
    def exit_code(self) -> int:
        """0 when :attr:`ok`, else 1 (results are still complete for the runs processed)."""
        return 0 if self.ok else 1

    def summary(self) -> str:
        """Human-readable summary (:func:`gcms.batch.output.summary_text`)."""
        results = self.results
        library = results.library
        text = summary_text(results.runs, out_dir=self.out_dir,
                            criteria_name=results.criteria.get("name", ""),
                            library=f"{library.title or library.path} "
                                    f"(sha256 {library.content_sha256[:12]})")
        for note in results.sequence_notes:
            text += f"\nnote: {note}"
        for message in self.step_failures:
            text += f"\nbatch step failed: {message}"
        return text


# --------------------------------------------------------------------------- workers
_WORKER: dict[str, Any] = {}


def _worker_init(library_path: str, settings: BatchSettings) -> None:
    from gcms.library import Library

    _WORKER["library"] = Library.open(library_path)
    _WORKER["settings"] = settings


def _analyse(position: int, path: str, ladder: bool, digest: str,
             library: Library | None = None, settings: BatchSettings | None = None
             ) -> tuple[int, RunAnalysis | RunFailure, float]:
    """Pass 1 of one run, any failure turned into a RunFailure naming the file."""
    import time

    library = library if library is not None else _WORKER["library"]
    settings = settings if settings is not None else _WORKER["settings"]
    start = time.perf_counter()
    try:
        result: RunAnalysis | RunFailure = analyse_run(
            path, library=library, settings=settings, ladder=ladder, input_sha256=digest)
    except GcmsError as error:
        result = RunFailure(path, str(error), "unreadable")
    except OSError as error:
        result = RunFailure(path, f"{path}: cannot read: {error.strerror or error}", "unreadable")
    except Exception as error:  # noqa: BLE001 - the batch runner's one deliberate broad
        # except: a defect met on one file must not stop the other runs of the sequence;
        # it is reported with that file, its type and message, as an internal error.
        result = RunFailure(path, f"{path}: internal error while processing "
                                  f"({type(error).__name__}: {error})", "internal error")
    return position, result, time.perf_counter() - start


def _analyse_at(position: int, path: str, ladder: bool, digest: str, library_path: str,
                library_sha256: str, settings: BatchSettings
                ) -> tuple[int, RunAnalysis | RunFailure, float]:
    """:func:`_analyse` in a process that opens the library itself (an executor's worker).

    The library is opened once per process and checked by its content hash: a worker
    that sees another file under the same path fails the run, naming both hashes.
    """
    key = (library_path, library_sha256)
    if _WORKER.get("library_key") != key:
        from gcms.library import Library

        library = Library.open(library_path)
        if library.content_sha256 != library_sha256:
            return position, RunFailure(
                path, f"{library_path}: content hash {library.content_sha256} on this "
                      f"worker, {library_sha256} expected: the workers see another file",
                "internal error"), 0.0
        _WORKER["library"], _WORKER["library_key"] = library, key
    return _analyse(position, path, ladder, digest, _WORKER["library"], settings)


@contextlib.contextmanager
def _worker_environment() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in _WORKER_ENV}
    os.environ.update(_WORKER_ENV)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _pool_context():
    import multiprocessing
    import sys

    # forkserver: workers start from a clean server process, not from a fork of a
    # process that may hold threads (unsafe) - and no re-import per task.
    method = "forkserver" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


# --------------------------------------------------------------------------- the batch
def _check_library_accepted(library: Library, criteria: Criteria) -> None:
    """Refuse, before any run, a library the criteria profile does not accept."""
    accepted = criteria.library.accepted_sha256
    if accepted and library.identity_sha256 not in accepted:
        raise LibraryError(
            f"{library.path or library.title}: library {library.title!r} (identity "
            f"{library.identity_sha256}) is not one the criteria profile "
            f"{criteria.source or criteria.name} accepts ([library] accepted_sha256): "
            "nothing was processed")


def _open_library(library: Library | str | os.PathLike | None) -> Library:
    from gcms.library import Library

    if library is None:
        # No default: a casework batch must never be searched against a library nobody
        # chose (the bundled demo library is gcms.demo.demo_library_path(), named as such).
        raise LibraryError("no library given: a batch searches the reference library it "
                           "is given (library=...), there is no default library")
    if isinstance(library, Library):
        return library
    return Library.open(library)


def _digest_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()


def run_batch(
    sequence: RunSequence | str | os.PathLike,
    *,
    library: Library | str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    criteria: Criteria | str | os.PathLike | None = None,
    settings: BatchSettings | None = None,
    workers: int | None = None,
    progress: Callable[[ProgressEvent], None] | None = None,
    steps: Sequence[BatchStep] = (),
    lookalikes: Lookalikes | None = None,
    resume: bool = True,
    out_mode: OutMode | None = None,
    executor: Executor | None = None,
    instrument: Any = None,
) -> BatchResult:
    """Process a whole sequence: every run read, deconvoluted, searched and judged.

    Parameters
    ----------
    sequence
        A :class:`gcms.sequence.Sequence` or the path of a sequence CSV.
    library
        A :class:`gcms.library.Library` or the path of a compiled library (required:
        there is no default library; the demo's own is
        :func:`gcms.demo.demo_library_path`). Parallel workers open it by path: an
        in-memory library without a path is searched in this process only.
    out_dir
        Where results go; None writes nothing (and caches nothing). A batch never writes
        into a folder holding another batch (:mod:`gcms.batch.folder`).
    criteria
        A :class:`gcms.identify.Criteria`, a shipped profile name or a TOML path;
        None for ``swgdrug-gcms``.
    settings
        :class:`BatchSettings` of pass 1.
    workers
        Processes for pass 1 (default: one per CPU core; 1 runs in this process).
    progress
        Called with a :class:`ProgressEvent` as each run finishes pass 1.
    steps
        :class:`BatchStep` objects (QA gate, quantitation, case store).
    resume
        Reuse pass-1 records cached in ``out_dir`` (:mod:`gcms.batch.cache`).
    out_mode
        What to do with an ``out_dir`` that is not empty (:mod:`gcms.batch.folder`):
        ``"new"`` refuses it, ``"resume"`` continues a batch of the same sequence,
        ``"replace"`` moves it aside; None (default) continues a batch of the same
        sequence, refuses another batch's folder.
    executor
        A ``concurrent.futures.Executor`` for pass 1 instead of the process pool (a Dask
        client's ``client.get_executor()``, :mod:`gcms.distributed.archive`): its
        workers open the library by path and check its content hash. A run whose task
        fails on the executor (a worker lost beyond its retries) is processed in this
        process, so no run is lost; ``workers`` is then not used.
    instrument
        The instrument profile (:class:`gcms.qa.InstrumentProfile`) whose ``[column]``
        gives the lab's RI column type (:func:`gcms.retention.columns.lab_column`; the
        ladder's ``.CAL`` column is the fallback); default: the profile of a step that
        carries one (the QA gate of ``gcms batch --instrument``). Each ladder's evidence
        records the type used and its source.

    Returns
    -------
    BatchResult
        The results document (also written to ``out_dir/results.json``), the run records,
        counts, the runs that failed. A damaged or missing run file never raises: it is
        a failed run in the results, named with its problem.

    Raises
    ------
    SequenceError
        The sequence is invalid (every problem named), or names one run file twice.
    OutFolderError
        ``out_dir`` holds another batch, or is not empty where ``out_mode="new"``.
    LibraryError, CriteriaError
        The library or the criteria profile cannot be used. Nothing is processed then.
    """
    import time

    from gcms import __version__
    from gcms.identify import load_criteria, load_lookalikes
    from gcms.sequence import Sequence as RunSequence
    from gcms.sequence import SequenceError, check_evidence, read_sequence

    started = time.perf_counter()
    settings = settings or BatchSettings()
    if not isinstance(sequence, RunSequence):
        sequence = read_sequence(sequence)
    if not sequence.evidence_checked:
        problems = tuple(p for p in check_evidence(sequence) if p.severity == "error")
        if problems:
            raise SequenceError(sequence.path, problems)
    if criteria is None or isinstance(criteria, (str, os.PathLike)):
        criteria = load_criteria(criteria)
    lookalikes = lookalikes or load_lookalikes()
    for step in steps:
        if getattr(step, "stage", None) not in STAGES:
            raise ValueError(f"batch step {getattr(step, 'name', step)!r}: stage must be one "
                             f"of {', '.join(STAGES)}")
    library = _open_library(library)
    _check_library_accepted(library, criteria)
    out = Path(out_dir) if out_dir is not None else None
    folder = prepare_out_dir(out, sequence, mode=out_mode) if out is not None else None

    context = BatchContext(sequence=sequence, library=library, criteria=criteria,
                           settings=settings, out_dir=out)
    if folder is not None and folder.note():
        context.notes.append(folder.note())
    cache_notes: dict[int, str] = {}  # position -> why its cache entry was not trusted
    analyses, cached_positions, processed = _pass1(
        sequence, library=library, settings=settings, out=out, workers=workers,
        progress=progress, resume=resume, notes=context.notes, cache_notes=cache_notes,
        executor=executor)


    instrument = instrument if instrument is not None else _step_profile(steps)

    def before(runs: list[RunContext], evidence: SequenceEvidence) -> None:
        context.runs, context.evidence = runs, evidence
        if instrument is not None:
            _instrument_column(instrument, runs, evidence)
        for step in steps:
            if step.stage == "before-judgement":
                step(context)

    runs, evidence = judge_sequence(sequence, analyses, library=library, criteria=criteria,
                                    settings=settings, lookalikes=lookalikes,
                                    before_judgement=before)
    context.runs, context.evidence = runs, evidence
    context.records = [
        RunResult.from_json(run_record(r, cached=r.injection.position in cached_positions,
                                       cache_note=cache_notes.get(r.injection.position)),
                            source=f"run record #{r.injection.position + 1}")
        for r in runs]
    for step in steps:
        if step.stage == "after-judgement":
            step(context)
    failed = [{"position": r.position, "file": r.file, "problem": r.problem,
               "kind": r.failure_kind} for r in context.records if not r.ok]
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "gcms_version": __version__,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "sequence": {"path": str(sequence.path),
                     "sha256": sequence.sha256 or (_digest_file(Path(sequence.path))
                                                   if Path(sequence.path).is_file() else None),
                     "n_runs": len(sequence)},
        "library": {"path": str(library.path) if library.path else None,
                    "title": library.title, "content_sha256": library.content_sha256,
                    "identity_sha256": library.identity_sha256,
                    "n_entries": len(library)},
        "criteria": criteria.to_dict(),
        "lookalikes": lookalikes.source,
        "settings": settings.to_dict(),
        "steps": [{"name": s.name, "stage": s.stage} for s in steps],
        "runs": [r.to_json() for r in context.records],
        "exhibits": exhibit_summaries(context.records),
        "failed": failed,
        "sequence_notes": list(context.notes),
        "step_failures": list(context.failures),
    }
    for key, value in context.sections.items():
        document.setdefault(key, value)
    context.document = results_document(document)
    if out is not None:
        write_outputs(out, context.document)
        finish_out_dir(folder)
    for step in steps:
        if step.stage == "after-write":
            step(context)
    results = context.document.replace(step_failures=context.failures)
    return BatchResult(results=results, runs=runs, out_dir=out,
                       processed=processed, cached=len(cached_positions), failed=failed,
                       step_failures=list(context.failures),
                       seconds=time.perf_counter() - started)


def _step_profile(steps: Sequence[BatchStep]) -> Any:
    """The instrument profile a step carries (the QA gate's), or None."""
    for step in steps:
        profile = getattr(step, "profile", None)
        if profile is not None and hasattr(profile, "column"):
            return profile
    return None


def _instrument_column(profile: Any, runs: list[RunContext],
                       evidence: SequenceEvidence) -> None:
    """Each ladder's RI column type from the instrument profile (its own column the fallback)."""
    from gcms.retention.columns import lab_column

    for position, ladder in evidence.ladders.items():
        calibration = evidence.calibrations.get(position)
        ladder.update(lab_column(profile=profile,
                                 calibration_column=getattr(calibration, "column", None)))
    for run in runs:
        if run.ladder_evidence is not None and run.calibration_position in evidence.ladders:
            run.ladder_evidence = dict(evidence.ladders[run.calibration_position])


def _pass1(sequence: RunSequence, *, library: Library, settings: BatchSettings,
           out: Path | None, workers: int | None, progress, resume: bool, notes: list[str],
           cache_notes: dict[int, str] | None = None, executor: Executor | None = None,
           ) -> tuple[dict[int, RunAnalysis | RunFailure], set[int], int]:
    """Pass 1 over the sequence: cached records reused, the rest processed in parallel."""
    fingerprint = settings.pass1_fingerprint()
    cache_dir = out / "cache" / "pass1" if out is not None else None
    analyses: dict[int, RunAnalysis | RunFailure] = {}
    cached: set[int] = set()
    cache_notes = {} if cache_notes is None else cache_notes
    todo: list[tuple[Injection, str, str]] = []
    total = len(sequence)
    done = 0

    def report(position: int, file: str, status: str, seconds: float | None = None) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(ProgressEvent(done, total, position, file, status, seconds))

    for injection in sequence:
        path = str(injection.file)
        try:
            digest = input_digest(injection.file)
        except OSError as error:
            reason = ("no such file or folder" if isinstance(error, FileNotFoundError)
                      else (error.strerror or str(error)))
            analyses[injection.position] = RunFailure(path, f"{path}: {reason}", "missing")
            report(injection.position, path, "failed")
            continue
        key = cache_key(digest, fingerprint, library.content_sha256)
        if cache_dir is not None and resume:
            hit = load_cached(cache_dir, key, input_sha256=digest,
                              library_sha256=library.content_sha256,
                              settings_fingerprint=fingerprint)
            if hit.analysis is not None:
                analyses[injection.position] = hit.analysis.relocated(path)
                cached.add(injection.position)
                report(injection.position, path, "cached")
                continue
            if hit.note is not None:
                cache_notes[injection.position] = hit.note
                line = (hit.note if hit.whole_cache
                        else f"#{injection.position + 1} {path}: {hit.note}")
                if not hit.whole_cache or line not in notes:  # a bad key: one note, not N
                    notes.append(line)
        todo.append((injection, digest, key))

    def finish(position: int, result: RunAnalysis | RunFailure, seconds: float,
               key: str) -> None:
        analyses[position] = result
        if isinstance(result, RunAnalysis) and cache_dir is not None:
            store_cached(cache_dir, key, result, settings_fingerprint=fingerprint)
        report(position, result.file, "processed" if isinstance(result, RunAnalysis)
               else "failed", seconds)

    if executor is not None and library.path is not None and todo:
        _pass1_on(executor, todo, library=library, settings=settings, notes=notes,
                  finish=finish)
        return analyses, cached, len(todo)
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    if n_workers == 1 or library.path is None:
        _analyse_here(todo, library=library, settings=settings, finish=finish)
        return analyses, cached, len(todo)

    keys = {injection.position: key for injection, _, key in todo}
    broken: str | None = None
    with _worker_environment():
        executor = ProcessPoolExecutor(max_workers=n_workers, mp_context=_pool_context(),
                                       initializer=_worker_init,
                                       initargs=(str(library.path), settings))
        try:
            futures: dict[Future, Injection] = {
                executor.submit(_analyse, injection.position, str(injection.file),
                                injection.type == "ladder", digest): injection
                for injection, digest, _ in todo}
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
    with executor:
        for future in as_completed(futures):
            injection = futures[future]
            try:
                position, result, seconds = future.result()
            except BrokenProcessPool as error:
                # The workers could not start (a script without a __main__ guard, an
                # interactive session) or one was killed: the runs not finished are
                # processed below, in this process.
                broken = str(error) or type(error).__name__
                continue
            finish(position, result, seconds, keys[position])
    if broken is not None:
        notes.append(f"the worker processes stopped ({broken}); the runs they had not "
                     f"finished were processed in the main process")
        _analyse_here([t for t in todo if t[0].position not in analyses], library=library,
                      settings=settings, finish=finish)
    return analyses, cached, len(todo)


def _analyse_here(todo: list[tuple[Injection, str, str]], *, library: Library,
                  settings: BatchSettings, finish: Callable[..., None]) -> None:
    """Pass 1 of ``todo`` in this process, one run after the other."""
    for injection, digest, key in todo:
        position, result, seconds = _analyse(injection.position, str(injection.file),
                                             injection.type == "ladder", digest,
                                             library, settings)
        finish(position, result, seconds, key)


def _pass1_on(executor: Executor, todo: list[tuple[Injection, str, str]], *,
              library: Library, settings: BatchSettings, notes: list[str],
              finish: Callable[..., None]) -> None:
    """Pass 1 of ``todo`` on a caller's executor; runs whose task failed redone here."""
    keys = {injection.position: key for injection, _, key in todo}
    futures: dict[Future, Injection] = {
        executor.submit(_analyse_at, injection.position, str(injection.file),
                        injection.type == "ladder", digest, str(library.path),
                        library.content_sha256, settings): injection
        for injection, digest, _ in todo}
    lost: list[str] = []
    finished: set[int] = set()
    for future in as_completed(futures):
        injection = futures[future]
        try:
            position, result, seconds = future.result()
        except Exception as error:  # noqa: BLE001 - the executor's own failure (a worker
            # lost beyond its retries, a cancelled task), never the run's: _analyse turns
            # those into RunFailure. The run is processed below, in this process.
            lost.append(f"#{injection.position + 1} ({type(error).__name__}: {error})")
            continue
        finished.add(position)
        finish(position, result, seconds, keys[position])
    if lost:
        notes.append(f"the executor did not finish {len(lost)} run(s) ({'; '.join(lost)}); "
                     f"they were processed in the main process")
        _analyse_here([t for t in todo if t[0].position not in finished], library=library,
                      settings=settings, finish=finish)
