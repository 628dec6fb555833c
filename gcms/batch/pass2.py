"""Pass 2: what the sequence gives each run (ladder, standards, blanks), then the verdicts.

Pass 1 processed each run on its own (:mod:`gcms.batch.pass1`); here the runs meet in
sequence order. The reasoning is identification's (:mod:`gcms.identify.sequence`: the
ladder of each run, the reference standards, the targeted candidates, the blank that
counts, the verdicts and the blanks' carry-over); this module puts the batch's runs in
front of it and lets the batch's steps (quantitation, QA) see the sequence's evidence
before the verdicts (``before_judgement``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gcms.batch.pass1 import RunAnalysis, RunFailure
from gcms.identify.sequence import (
    IN_BLANK,
    REFERENCE_RESPONSE_FACTOR,
    RunContext,
    SequenceEvidence,
    apply_ladders,
    file_name,
    find_standards,
    judge_runs,
)

if TYPE_CHECKING:  # pragma: no cover
    from gcms.batch.settings import BatchSettings
    from gcms.identify import Criteria, Lookalikes
    from gcms.library import Library
    from gcms.sequence import Sequence

__all__ = ["IN_BLANK", "REFERENCE_RESPONSE_FACTOR", "RunContext", "SequenceEvidence",
           "file_name", "judge_sequence"]


def judge_sequence(
    sequence: Sequence,
    analyses: Mapping[int, RunAnalysis | RunFailure],
    *,
    library: Library,
    criteria: Criteria,
    settings: BatchSettings,
    lookalikes: Lookalikes | None = None,
    before_judgement: Callable[[list[RunContext], SequenceEvidence], None] | None = None,
) -> tuple[list[RunContext], SequenceEvidence]:
    """Run pass 2 over a sequence whose pass-1 results are ``analyses`` (by position).

    A run without a pass-1 result is a failure of kind "internal" ("not processed").
    """
    contexts = []
    for injection in sequence:
        result = analyses.get(injection.position)
        if isinstance(result, RunAnalysis):
            contexts.append(RunContext(injection, result))
        else:
            failure = result or RunFailure(str(injection.file), "not processed", "internal")
            contexts.append(RunContext(injection, None, failure))
    evidence = SequenceEvidence()
    apply_ladders(contexts, evidence, max_age_hours=settings.ladder_max_age_hours)
    find_standards(contexts, evidence, library=library, criteria=criteria)
    if before_judgement is not None:
        before_judgement(contexts, evidence)
    judge_runs(sequence, contexts, evidence, library=library, criteria=criteria,
               lookalikes=lookalikes)
    return contexts, evidence
