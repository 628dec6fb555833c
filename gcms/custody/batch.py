"""Recording a batch in the case store: the step behind ``gcms batch --store S --case C``.

:class:`RecordInStore` is a :class:`gcms.batch.BatchStep` of stage ``"after-write"``:
once ``results.json`` is on disk it records the batch in case ``C`` of store ``S``, as
the acting analyst (every audit entry names them):

1. **Case.** Opened when the store does not hold it; the entry's reason says that a
   batch opened it, for which sequence (path and SHA-256).
2. **Exhibits.** Each ``exhibit_id`` of the sequence the case does not know is
   registered (action ``exhibit.register``) with the description "registered from
   sequence <file> (...); as received: not yet recorded (...)". Nothing of the item as
   received is invented: seals, packaging, weights, from whom, by whom and when stay
   empty, and a report says so, until the lab records them (``gcms exhibit correct``).
   A lab normally records exhibits on receipt (``gcms exhibit add``) before they are run.
3. **Runs.** Every run file is attached: hashed read-only by the store, ``.D`` folders
   file by file. The batch's own digest of each run (``run.input_sha256`` of its record:
   the file's SHA-256, or a folder's line manifest) must equal the custody hash, and the
   digest the reader took of the bytes it decoded (``run.sha256``) must be the file's or
   one file's in the folder: the result is then about exactly the evidence attached.
4. **Analysis.** gcms version; the batch settings and steps; the library file (name,
   title, SHA-256 of the file, content hash); the criteria profile (name, source,
   SHA-256, every rule); the sequence file and its SHA-256; the sequence-level sections
   other steps added to ``results.json`` (``context.sections``: the QA gate's
   assessment and instrument), so that a report from the store shows them.
5. **Results.** Every run record of ``results.json`` becomes a result of that
   analysis, kept whole but for the bookkeeping of one invocation
   (:data:`VOLATILE_FIELDS`: whether pass 1 came from the resume cache, and how long it
   took), with a one-line summary.

6. **QA.** The instrument QA results the batch's ``qa`` section rests on (tune, ladder,
   check standard) are ``qa_result`` entries (:mod:`gcms.custody.qa`); before that, the
   QA history is checked against those the chain already records, and a deleted or
   altered one stops the recording (a deleted failing tune is a break, not a pass).

A run the batch could not process is recorded as such: its file is attached when it is
there (the hash shows what was there), and its record (``status`` "failed",
``problem``) is a result; a missing file cannot be hashed, so its record is a result
without a run, named by its path.

Everything is idempotent: a rerun of the same batch (resume) finds the case, exhibits,
runs, analysis and results and adds no entry; a result whose content changed under the
same analysis becomes a correction entry (the earlier version stays); a changed
library, criteria profile, settings, sequence or gcms version is a new analysis, whose
results are new results. Evidence that changed at a path already attached is refused.

Which runs belong to the case: when the sequence names at most one case (its
``case_id`` column), every run; when it names several, the runs of case ``C`` and the
runs without an exhibit (ladders, blanks, standards: the evidence every verdict of the
sequence rests on); runs of other cases' exhibits are left out, with a note.

A store error makes the batch fail (exit 1) with the store's message; ``results.json``
and the other files stay as written, and rerunning the command completes the recording.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gcms.errors import CustodyError, GcmsError, TamperError
from gcms.results import ResultsDocument, RunResult

if TYPE_CHECKING:  # pragma: no cover
    from gcms.batch import BatchContext
    from gcms.custody.records import RunRecord
    from gcms.custody.store import CaseStore

__all__ = ["VOLATILE_FIELDS", "ProcessedBy", "RecordInStore", "runs_of_case",
           "stored_record", "summary_line"]

#: Fields of a run record that describe one invocation of the batch, not its result:
#: left out of the stored result so that a resumed batch records nothing new.
VOLATILE_FIELDS: tuple[tuple[str, str], ...] = (("processing", "cached"),
                                                ("processing", "seconds"))


def stored_record(record: RunResult) -> dict[str, Any]:
    """The run record as stored: its JSON object without :data:`VOLATILE_FIELDS`."""
    out = record.to_json()
    for section, name in VOLATILE_FIELDS:
        part = out.get(section)
        if isinstance(part, dict):
            part.pop(name, None)
    return out


def summary_line(record: RunResult) -> str:
    """One line a reader of the case sees first: what the run is and what it showed."""
    label = f"{record.type} {record.sample_id or record.file_name}"
    if not record.ok:
        return f"{label}: not processed: {record.problem}"
    kind = record.type
    if kind == "blank":
        status = record.blank_status or {}
        held = [*status.get("carry_over_detected", ()), *status.get("substances_in_blank", ())]
        return f"{label}: " + (f"holds {', '.join(dict.fromkeys(held))}" if held
                               else "clean")
    if kind == "ladder":
        members = (record.ladder or {}).get("members") or ()
        if not members:
            return f"{label}: no alkane ladder found"
        return f"{label}: {members[0].get('name')}-{members[-1].get('name')}, " \
               f"{len(members)} alkanes"
    if kind == "standard":
        refs = record.references or ()
        found = [r.get("substance") for r in refs if r.get("found")]
        missing = [r.get("substance") for r in refs if not r.get("found")]
        text = f"{label}: found {', '.join(found) or 'none'}"
        return text + (f"; not found {', '.join(missing)}" if missing else "")
    findings = record.findings
    identified = [f.substance for f in findings.identified] if findings else []
    inconclusive = [f.substance for f in findings.inconclusive] if findings else []
    text = f"{label}: identified {', '.join(dict.fromkeys(identified)) or 'none'}"
    if inconclusive:
        text += f"; inconclusive {', '.join(dict.fromkeys(inconclusive))}"
    return text


def runs_of_case(records: Sequence[RunResult],
                 case_id: str) -> tuple[list[RunResult], list[str]]:
    """The run records to record in case ``case_id``, and notes on those left out.

    See the module docstring. Raises ``CustodyError`` when the sequence names several
    cases and ``case_id`` is none of them.
    """
    named = list(dict.fromkeys(r.case_id for r in records if r.case_id))
    if len(named) <= 1:
        notes = [f"the sequence names case {named[0]}; its runs are recorded in case "
                 f"{case_id}"] if named and named[0] != case_id else []
        return list(records), notes
    if case_id not in named:
        raise CustodyError(f"the sequence holds runs of cases {', '.join(named)}; case "
                           f"{case_id} is none of them, so nothing is recorded")
    keep, left = [], []
    for r in records:
        other = r.case_id and r.case_id != case_id
        (left if other and r.exhibit_id else keep).append(r)
    notes = []
    if left:
        cases = ", ".join(dict.fromkeys(str(r.case_id) for r in left))
        notes.append(f"{len(left)} run(s) of exhibits of other cases ({cases}) are not "
                     f"recorded in case {case_id}")
    return keep, notes


def _reason(document: ResultsDocument) -> str:
    sequence = document.sequence
    return (f"gcms batch of sequence {sequence.path} "
            f"(sha256 {sequence.sha256 or 'not taken'})")


def _resolved(path: Any) -> str | None:
    return None if path is None else str(Path(str(path)).resolve())


@dataclass(frozen=True)
class ProcessedBy:
    """Name in ``results.json`` who processed the batch: ``{"processed_by": {"user"}}``.

    Added by ``gcms batch`` when ``--analyst`` (or ``GCMS_ACTOR``) names the user, with or
    without a case store, so that a report made from ``results.json`` alone can say who
    ran the batch (a user id, never a printed name made up from it).
    """

    user: str

    name: ClassVar[str] = "processed-by"
    stage: ClassVar[str] = "after-judgement"

    def __call__(self, context: BatchContext) -> None:
        """Add the sequence-level section (see :class:`gcms.batch.BatchContext`)."""
        context.sections["processed_by"] = {"user": self.user}


@dataclass(frozen=True)
class RecordInStore:
    """Record a batch in a case store (module docstring).

    Parameters
    ----------
    location
        Store folder (SQLite) or ``postgresql://`` URL.
    case_id
        The case to record in (opened when new).
    actor
        Who ran the batch: the actor of every entry (``GCMS_ACTOR`` or the login name
        when None).
    """

    location: str
    case_id: str
    actor: str | None = None

    name: ClassVar[str] = "case-store"
    stage: ClassVar[str] = "after-write"

    def open_store(self) -> CaseStore:
        """The store, made when absent."""
        from gcms.custody.store import CaseStore

        return CaseStore(self.location, actor=self.actor, create=True)

    def __call__(self, context: BatchContext) -> None:
        """Record the batch; a store error is a batch failure naming the store."""
        try:
            with self.open_store() as store:
                notes = self.record(store, context)
        except (GcmsError, OSError) as error:
            message = str(error) if isinstance(error, GcmsError) else (
                f"{getattr(error, 'filename', '')}: {error.strerror or error}")
            context.fail(f"case store {self.location}, case {self.case_id}: {message} "
                         "(results.json is complete; rerun the command to record it)")
            return
        for note in notes:
            context.notes.append(note)
        document = context.document
        if document is not None and notes:
            if not isinstance(document, ResultsDocument):
                document = ResultsDocument.from_json(document, source="the batch's results")
            added = [n for n in dict.fromkeys(notes) if n not in document.sequence_notes]
            context.document = document.replace(
                sequence_notes=(*document.sequence_notes, *added))

    def record(self, store: CaseStore, context: BatchContext) -> list[str]:
        """Record into an open store; returns notes for the batch summary.

        The batch's document is read as a :class:`~gcms.results.ResultsDocument` (as
        written to results.json); its runs are the results recorded.
        """
        if context.document is None:
            raise CustodyError("the batch made no results document: nothing to record")
        document = context.document
        if not isinstance(document, ResultsDocument):
            document = ResultsDocument.from_json(document, source="the batch's results")
        records, notes = runs_of_case(document.runs, self.case_id)
        reason = _reason(document)
        head_before = store.head()[0]
        self._qa(store, document)
        self._case(store, document, reason)
        self._exhibits(store, records, document, reason)
        records, runs, more = self._runs(store, records)
        notes += more
        run_ids = list(dict.fromkeys(run.run_id for run in runs.values()))
        analysis = store.record_analysis(self.case_id, run_ids=run_ids,
                                         **self._analysis(document, list(context.sections)))
        stored = [stored_record(r) for r in records]
        results = store.record_results(
            self.case_id, stored, analysis_id=analysis.analysis_id,
            summaries=[summary_line(r) for r in records], unattached=True)
        written = context.out_dir / "results.json" if context.out_dir is not None else None
        if written is not None and written.is_file():
            # a report made from this file is issued only with this digest
            from gcms.custody.reports import record_results_file

            record_results_file(store, self.case_id, analysis.analysis_id, written)
        head, head_sha = store.head()
        new = head - head_before
        notes.append(
            f"case store {store.location}: case {self.case_id}, analysis "
            f"{analysis.analysis_id}, {len(run_ids)} runs, {len(results)} results; "
            + (f"{new} new audit entries" if new else "nothing new to record")
            + f"; chain head #{head} {head_sha[:16]}")
        return notes

    # -- the parts -----------------------------------------------------------------------

    def _qa(self, store: CaseStore, document: ResultsDocument) -> None:
        """Check the QA history against the chain, then record this batch's QA results.

        A QA result the chain recorded earlier that the history no longer holds (a
        failing tune deleted) stops the recording: the batch's own QA judgement may rest
        on the history without it.
        """
        from gcms.custody.qa import check_qa_history, record_qa

        qa = document.qa
        if qa is not None and qa.history:
            problems = check_qa_history(store.qa_results(), qa.history)
            if problems:
                raise TamperError(f"{problems[0]}; the QA this batch relied on cannot be "
                                  "trusted")
        record_qa(store, qa)

    def _case(self, store: CaseStore, document: ResultsDocument, reason: str) -> None:
        if any(c.case_id == self.case_id for c in store.cases()):
            return
        sequence = document.sequence.path
        try:
            store.open_case(self.case_id, notes=f"opened by gcms batch for sequence "
                                                f"{sequence}", reason=f"opened by {reason}")
        except CustodyError:
            # another process may have opened it meanwhile: that is the same case
            if not any(c.case_id == self.case_id for c in store.cases()):
                raise

    def _exhibits(self, store: CaseStore, records: Sequence[RunResult],
                  document: ResultsDocument, reason: str) -> None:
        known = {e.exhibit_id for e in store.exhibits(self.case_id)}
        samples: dict[str, list[str]] = {}
        for r in records:
            if r.exhibit_id and r.exhibit_id not in known:
                samples.setdefault(r.exhibit_id, []).append(r.sample_id or r.file_name)
        if not samples:
            return
        sequence = document.sequence.path
        store.register_exhibits(self.case_id, {
            exhibit: (f"registered from sequence {sequence} (injected as "
                      f"{', '.join(dict.fromkeys(ids))}); as received: not yet recorded "
                      "(description, seals, packaging, weights, from whom and when)")
            for exhibit, ids in samples.items()}, reason=f"exhibit named by {reason}")

    def _runs(self, store: CaseStore, records: Sequence[RunResult]
              ) -> tuple[list[RunResult], dict[int, RunRecord], list[str]]:
        """Attach the run files; returns the records to store, runs by position, notes."""
        from gcms.custody.canonical import parse_utc

        notes: list[str] = []
        keep: list[RunResult] = []
        seen: dict[str, int] = {}
        processed, failed = [], []
        for r in records:
            path = _resolved(r.file)
            if path in seen:
                notes.append(f"{r.file} is listed at positions #{seen[path] + 1} and "
                             f"#{r.position + 1}: only the first is recorded")
                continue
            seen[path] = r.position
            keep.append(r)
            (processed if r.ok else failed).append(r)
        items = []
        for r in processed:
            run = r.run or {}
            acquired = run.get("acquired_at")
            if acquired:
                try:
                    parse_utc(acquired)
                except CustodyError:
                    notes.append(f"{r.file}: acquisition time {acquired!r} is not a "
                                 "time; the run is attached without it")
                    acquired = None
            items.append({"path": r.file, "exhibit_id": r.exhibit_id, "kind": r.type,
                          "sample_name": r.sample_id or r.sample_name,
                          "instrument": run.get("instrument"), "acquired_at": acquired,
                          "data_format": run.get("format"),
                          "sha256": run.get("input_sha256") or run.get("sha256")})
        runs: dict[int, RunRecord] = {}
        for r, attached in zip(processed, store.record_runs(self.case_id, items),
                                  strict=True):
            decoded = (r.run or {}).get("sha256")
            if decoded and decoded not in {attached.sha256, *(f.sha256 for f in
                                                               attached.files)}:
                raise TamperError(f"{attached.path}: the reader decoded bytes with SHA-256 "
                                  f"{decoded}, which is no file of the evidence attached "
                                  f"as run {attached.run_id}")
            runs[r.position] = attached
        for r in failed:
            if not Path(r.file).exists():
                notes.append(f"{r.file}: missing, so not attached; its record (not "
                             "processed) is a result without a run")
                continue
            try:
                [attached] = store.record_runs(self.case_id, [{
                    "path": r.file, "exhibit_id": r.exhibit_id,
                    "kind": r.type, "sample_name": r.sample_id}])
            except TamperError:
                raise
            except (CustodyError, OSError) as error:
                notes.append(f"{r.file}: not processed by the batch and not attached "
                             f"({error}); its record is a result without a run")
                continue
            runs[r.position] = attached
        return keep, runs, notes

    def _analysis(self, document: ResultsDocument,
                  sections: Sequence[str] = ()) -> dict[str, Any]:
        library = document.library
        whole = document.to_json()
        criteria = whole["criteria"]
        sequence = document.sequence.to_json()
        sequence["path"] = _resolved(sequence["path"])
        library_path = library.path
        name = Path(library_path).name if library_path else None
        if library.title:
            name = f"{name}: {library.title}" if name else library.title
        parameters = {
            "batch": {"settings": whole["settings"], "steps": whole["steps"],
                      "lookalikes": document.lookalikes},
            "sequence": sequence,
            "library": {"path": _resolved(library_path), "title": library.title,
                        "content_sha256": library.content_sha256,
                        "identity_sha256": library.identity_sha256,
                        "n_entries": library.n_entries},
            "criteria": criteria,
        }
        if sections:  # steps' sequence-level sections (the QA gate's "qa", "instrument")
            parameters["sections"] = {k: whole.get(k) for k in sections}
        return {
            "parameters": parameters,
            "software_version": document.gcms_version or None,
            "library": library_path if library_path and os.path.isfile(library_path)
            else None,
            "library_name": name,
            "criteria_profile": criteria.get("name") or criteria.get("source"),
            "criteria_sha256": criteria.get("sha256"),
        }
