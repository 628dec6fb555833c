"""Batch processing of an instrument sequence: ladder, blanks, standards, exhibits, verdicts.

>>> from gcms.batch import run_batch                                   # doctest: +SKIP
>>> result = run_batch("sequence.csv", library="lab.h5", out_dir="results")  # doctest: +SKIP
>>> print(result.summary())                                            # doctest: +SKIP

Pass 1 reads, deconvolutes and searches every run on its own, in parallel across cores,
caching each run's result by the SHA-256 of its file, the settings and the library, so
a rerun resumes; pass 2 applies the sequence's alkane ladder, takes every reference
standard's retention time, spectrum and ion ratios, checks the blanks for carry-over
and judges every component against the criteria profile. A damaged or missing file is
reported, named, and skipped; everything else is processed. See :mod:`.pipeline` for
the hooks other steps plug into, :mod:`.output` for the files written.
"""

from __future__ import annotations

import os
from collections.abc import Sequence as _Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gcms.batch.cache import cache_key, input_digest
from gcms.batch.output import run_record, summary_text
from gcms.batch.pass1 import RunAnalysis, RunFailure, analyse_run
from gcms.batch.pass2 import RunContext, SequenceEvidence, judge_sequence
from gcms.batch.pipeline import BatchContext, BatchResult, BatchStep, ProgressEvent, run_batch
from gcms.batch.settings import BatchSettings

if TYPE_CHECKING:  # pragma: no cover
    from gcms.sequence import Sequence

__all__ = [
    "BatchContext",
    "BatchResult",
    "BatchSettings",
    "BatchStep",
    "ProgressEvent",
    "RunAnalysis",
    "RunContext",
    "RunFailure",
    "SequenceEvidence",
    "analyse_run",
    "cache_key",
    "identify_runs",
    "input_digest",
    "judge_sequence",
    "run_batch",
    "run_record",
    "sequence_of_runs",
    "summary_text",
]


def sequence_of_runs(runs: _Sequence[str | os.PathLike], *,
                     ladder: str | os.PathLike | None = None,
                     blank: str | os.PathLike | None = None,
                     standards: _Sequence[tuple[str | os.PathLike, str]] = ()) -> Sequence:
    """A sequence built from run files: ladder, standards, blank, then the samples.

    Sample ids are the file names (made unique with ``#2``, ``#3``...). ``standards`` are
    ``(file, substance names separated by ';')`` pairs. The blank is placed right before
    the samples: it is given as the blank run before them, and only a blank after the
    standards counts for carry-over (:data:`gcms.identify.CARRYOVER_RULE`).
    """
    from gcms.sequence import Injection, Sequence

    rows: list[tuple[str | os.PathLike, str, tuple[str, ...]]] = []
    if ladder is not None:
        rows.append((ladder, "ladder", ()))
    for path, substances in standards:
        rows.append((path, "standard", tuple(s.strip() for s in substances.split(";")
                                             if s.strip())))
    if blank is not None:
        rows.append((blank, "blank", ()))
    rows.extend((path, "sample", ()) for path in runs)
    seen: dict[str, int] = {}
    injections = []
    for position, (path, kind, substances) in enumerate(rows):
        name = Path(str(path).rstrip("/\\")).name or str(path)
        seen[name] = seen.get(name, 0) + 1
        sample_id = name if seen[name] == 1 else f"{name}#{seen[name]}"
        injections.append(Injection(position=position, file=Path(path), type=kind,
                                    sample_id=sample_id, reference_substances=substances))
    return Sequence(path=Path("(command line)"), injections=tuple(injections))


def identify_runs(runs: _Sequence[str | os.PathLike], *, library, criteria=None,
                  ladder: str | os.PathLike | None = None,
                  blank: str | os.PathLike | None = None,
                  standards: _Sequence[tuple[str | os.PathLike, str]] = (),
                  settings: BatchSettings | None = None, workers: int | None = 1,
                  progress=None) -> BatchResult:
    """Judge a few run files without a sequence CSV (what ``gcms identify`` does).

    The runs are put in a sequence after the optional ladder, blank and standards
    (:func:`sequence_of_runs`) and processed by :func:`run_batch` without writing files.
    ``library`` is required, as for :func:`run_batch`.
    Without a ladder or a standard there is no retention evidence, and without a blank
    no carry-over check: a profile that requires them (the default) then gives at most
    "inconclusive", and says why.
    """
    sequence = sequence_of_runs(runs, ladder=ladder, blank=blank, standards=standards)
    return run_batch(sequence, library=library, criteria=criteria, settings=settings,
                     workers=workers, progress=progress, out_dir=None)
