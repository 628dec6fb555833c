"""The identification decision: criteria profiles, per-component verdicts, per-exhibit findings.

A library match is not an identification. Here a component is "identified" as a
substance only when every rule of a criteria profile holds (spectrum, retention against
a reference standard or a library retention index, diagnostic ions, ion ratios, S/N, a
clean blank), "inconclusive" when one holds the verdict back, "not identified" when the
data show another compound. Each criterion's value, limit and result is kept, so the
rule that decided every verdict can be shown.

>>> from gcms.identify import load_criteria, available_profiles   # doctest: +SKIP
>>> criteria = load_criteria("swgdrug-gcms")                      # doctest: +SKIP

The pieces: :mod:`.criteria` (profiles), :mod:`.evidence` (reference standards, blank
checks, the carry-over rule, S/N on a substance's ions), :mod:`.judge` (criteria and the
verdict rule), :mod:`.findings` (per exhibit, with lookalike and ambiguity notes from
:mod:`.lookalikes`), :mod:`.targets` (the method's scope: target lists with the
substances' controlled status), ``gcms.identify.sequence`` (what the other runs of a sequence
tell: ladder, reference standards, blanks, carry-over). Whole sequences are processed
and judged by :func:`gcms.batch.run_batch`, a few run files without a sequence CSV by
:func:`gcms.batch.identify_runs`: identification never imports the batch that drives it.
"""

from gcms.identify.criteria import (
    DEFAULT_PROFILE,
    EU_2002_657_GC_EI_BANDS,
    BlankRules,
    Criteria,
    IonRules,
    RetentionRules,
    ScopeRules,
    SignalRules,
    SpectrumRules,
    available_profiles,
    load_criteria,
    parse_criteria,
)
from gcms.identify.evidence import (
    CARRYOVER_RULE,
    BlankCheck,
    IonPeak,
    ReferenceStandard,
    check_blank,
    counting_blank,
    diagnostic_ions,
    ion_signal,
    measure_ion_peak,
)
from gcms.identify.findings import Finding, Findings, Note, summarise
from gcms.identify.judge import (
    VERDICTS,
    CriterionResult,
    Identification,
    Judgement,
    Verdict,
    decide,
    judge_candidate,
    judge_component,
)
from gcms.identify.lookalikes import Ambiguity, LookalikeGroup, Lookalikes, load_lookalikes
from gcms.identify.substance import Substance, name_key
from gcms.identify.targets import Target, TargetList, available_target_lists, load_targets

__all__ = [
    "CARRYOVER_RULE",
    "DEFAULT_PROFILE",
    "EU_2002_657_GC_EI_BANDS",
    "VERDICTS",
    "Ambiguity",
    "BlankCheck",
    "BlankRules",
    "Criteria",
    "CriterionResult",
    "Finding",
    "Findings",
    "Identification",
    "IonPeak",
    "IonRules",
    "Judgement",
    "LookalikeGroup",
    "Lookalikes",
    "Note",
    "ReferenceStandard",
    "RetentionRules",
    "ScopeRules",
    "SignalRules",
    "SpectrumRules",
    "Substance",
    "Target",
    "TargetList",
    "Verdict",
    "available_profiles",
    "available_target_lists",
    "check_blank",
    "counting_blank",
    "decide",
    "diagnostic_ions",
    "ion_signal",
    "judge_candidate",
    "judge_component",
    "load_criteria",
    "load_lookalikes",
    "load_targets",
    "measure_ion_peak",
    "name_key",
    "parse_criteria",
    "summarise",
]

