"""Instrument QA: instrument profiles, tune evaluation, QA history and control charts.

* :func:`load_profile` — an instrument profile (TOML), validated
  (:mod:`gcms.qa.profile`);
* :func:`evaluate_tune` — a PFTBA autotune, EPA DFTPP or BFB spectrum judged against a
  named criteria set (:mod:`gcms.qa.tune`, :mod:`gcms.qa.tune_criteria`);
* :func:`evaluate_ladder` / :func:`evaluate_check_standard` — system suitability of an
  alkane ladder and of a check standard (:mod:`gcms.qa.ladder`,
  :mod:`gcms.qa.check_standard`; peak figures in :mod:`gcms.qa.chromatography`);
* :func:`assess_batch_qa`, :func:`qa_batch_steps` — the batch QA gate (:mod:`gcms.qa.gate`);
* :class:`QAResult` / :class:`Criterion` — what every check returns
  (:mod:`gcms.qa.records`);
* :func:`open_history` — every QA result stored, per instrument (:mod:`gcms.qa.history`);
* :func:`control_chart` / :func:`levey_jennings` — Westgard rules and Levey-Jennings
  charts (:mod:`gcms.qa.westgard`, :mod:`gcms.qa.charts`).
"""

from gcms.qa.check_standard import CheckStandardSettings, evaluate_check_standard
from gcms.qa.chromatography import PeakMeasures, PeakMeasureSettings, measure_peaks
from gcms.qa.gate import BatchQA, QACheck, assess_batch_qa, qa_batch_steps
from gcms.qa.history import QAHistory, SQLiteQAHistory, StoredResult, default_data_dir, open_history
from gcms.qa.ladder import LadderQASettings, evaluate_ladder
from gcms.qa.profile import InstrumentProfile, available_profiles, load_profile, parse_profile
from gcms.qa.records import Criterion, Limit, QAResult
from gcms.qa.tune import TuneSettings, calibrant_spectrum, evaluate_tune, read_tune_source
from gcms.qa.tune_criteria import TUNE_CRITERIA, TuneCriteriaSet, TuneRule, tune_criteria
from gcms.qa.westgard import WESTGARD_RULES, ControlChart, WestgardFlag, control_chart, westgard


def __getattr__(name: str):
    # the chart module imports matplotlib: only when a chart is drawn
    if name == "levey_jennings":
        from gcms.qa.charts import levey_jennings

        return levey_jennings
    raise AttributeError(f"module 'gcms.qa' has no attribute {name!r}")


__all__ = [
    "TUNE_CRITERIA",
    "WESTGARD_RULES",
    "BatchQA",
    "CheckStandardSettings",
    "ControlChart",
    "Criterion",
    "InstrumentProfile",
    "LadderQASettings",
    "Limit",
    "PeakMeasureSettings",
    "PeakMeasures",
    "QACheck",
    "QAHistory",
    "QAResult",
    "SQLiteQAHistory",
    "StoredResult",
    "TuneCriteriaSet",
    "TuneRule",
    "TuneSettings",
    "WestgardFlag",
    "assess_batch_qa",
    "available_profiles",
    "calibrant_spectrum",
    "control_chart",
    "default_data_dir",
    "evaluate_check_standard",
    "evaluate_ladder",
    "evaluate_tune",
    "levey_jennings",
    "load_profile",
    "measure_peaks",
    "open_history",
    "parse_profile",
    "qa_batch_steps",
    "read_tune_source",
    "tune_criteria",
    "westgard",
]
