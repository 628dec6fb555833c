"""A batch results document in the layout gcms batch writes (see gcms.report.adapters).

Every key :class:`gcms.results.ResultsDocument` requires is written (checked against the
published schema by ``results_document``), values the report does not show as null.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from gcms.results import FORMAT, FORMAT_VERSION

from .models import K_T4, RI, RT_S, SPECTRA, digest

__all__ = ["K_T4", "component", "junk", "results_document"]


def _criterion(criterion, result, value, limit, unit, *, decisive=True, detail="",
               evidence=None):
    return {"criterion": criterion, "result": result, "value": value, "limit": limit,
            "unit": unit, "required": decisive, "decisive": decisive,
            "on_fail": "not identified" if decisive else "inconclusive", "detail": detail,
            "evidence": evidence}


def _hit(index, name):
    return {"index": index, "rank": 1, "sha256": digest("lib"), "name": name,
            "inchikey": None, "cas": None, "formula": None, "retention_index": None,
            "source_file": None, "source_entry": None}


def _measured(index, rt_s, mz):
    """The keys of a deconvolved component before its identification."""
    return {"component": index, "rt_s": rt_s, "rt_min": rt_s / 60,
            "ri_extrapolated": False, "scan": 10 * index, "model_mz": mz, "snr": 250.0,
            "purity": 0.95, "area": 1.0e6, "height": 1.0e5, "width_s": 3.0, "warnings": []}


def component(name, index, *, verdict="identified", reference=True, mf=912):
    peaks = SPECTRA[name]
    ref = ({"substance": name, "file": "std.D", "position": 2, "component": index,
            "rt_s": RT_S[name] - 0.4} if reference else None)
    return {
        **_measured(index, RT_S[name], max(peaks, key=peaks.get)),
        "retention_index": RI[name] + 2.0, "substance": name, "verdict": verdict,
        "techniques": ["EI-MS", "GC retention"], "failed": [] if verdict == "identified"
        else ["match_factor"],
        "match_factor": mf, "reverse_match_factor": mf + 15, "probability": 81.0,
        "retention_source": "standard", "delta_rt_s": 0.4, "delta_ri": 2.0,
        "library": _hit(index, name),
        "reference_standard": ref,
        "criteria": [
            _criterion("match_factor", "pass", mf, ">= 800", "",
                       detail=f"identity MF {mf} against {name!r}"),
            _criterion("retention_time", "pass", 0.4, "±6", "s", evidence=ref,
                       detail="ΔRT +0.40 s (+0.11 %) against the standard in std.D "
                              "(sequence #3, RT 352.00 s); window ±6.00 s"),
            _criterion("retention_index", "pass", 2.0, "±20", "i.u.", decisive=False,
                       detail=f"RI {RI[name] + 2.0:.1f} against library RI {RI[name]:g}: "
                              f"ΔRI +2.0"),
            _criterion("diagnostic_ions", "pass", "3/3", "all 3", ""),
            _criterion("ion_ratios", "pass", 0.64, "<= 1", "× tolerance", evidence={
                "quantifier": 44, "ions": [
                    {"mz": 91, "reference_percent": 30.0, "measured_percent": 30.9,
                     "deviation_percent": 3.2, "tolerance_percent": 10.0, "within": True},
                    {"mz": 65, "reference_percent": 9.0, "measured_percent": 8.1,
                     "deviation_percent": 9.6, "tolerance_percent": 15.0, "within": True}]}),
            _criterion("blank", "pass", 0.0, "<= 10", "%"),
            _criterion("distinct_from_runner_up", "pass", -212,
                       "none within 20 MF units unless excluded by retention", "MF"),
        ],
        "notes": [], "alternatives": [{"substance": "Phentermine", "verdict": "not identified",
                                       "match_factor": 700}],
        "spectrum": {"mz": sorted(peaks), "intensity": [peaks[m] for m in sorted(peaks)]},
    }


def junk(index, rt_s=500.0):
    """A component no library entry explains: its best hit (Octane, MF 81) is junk."""
    return {**_measured(index, rt_s, 43), "retention_index": 1560.0,
            "substance": "Octane", "verdict": "not identified", "match_factor": 81,
            "reverse_match_factor": 204, "delta_ri": 760.2, "delta_rt_s": None,
            "library": _hit(50, "Octane"),
            "criteria": [_criterion("match_factor", "fail", 81, ">= 800", "")],
            "notes": [], "alternatives": []}


def results_document(folder: Path, *, exhibit="FL21-1010", case="C-1"):
    """Results of a sequence: ladder, blank, standard, blank, the exhibit, blank, another.

    The exhibit's run names its ladder (#1), standard (#3) and blank before it (#4) the
    way the batch does (file name and 0-based position); the blank after it (#6) is a
    run the exhibit's verdicts do not rest on.
    """
    names_files = ("ladder.D", "blank.D", "std.D", "blank2.D", "014.D", "blank3.D", "016.D")
    files = {}
    for name in names_files:
        path = folder / name
        path.write_bytes(name.encode() * 100)
        files[name] = path

    def sha(name):
        return hashlib.sha256(files[name].read_bytes()).hexdigest()

    def run(position, name, kind, sample, *, acquisition=None, **more):
        return {"position": position, "file": str(files[name]), "file_name": name,
                "type": kind, "sample_id": sample, "case_id": case, "exhibit_id": None,
                "reference_substances": [], "concentration": None, "unit": None,
                "amount": None, "amount_unit": None, "volume_ml": None, "dilution": None,
                "status": "ok", "problem": None,
                "run": {"acquired_at": f"2025-03-04T{10 + position:02d}:00:00Z",
                        **(acquisition or {}), "sha256": sha(name),
                        "input_sha256": sha(name)},
                "components": [], **more}

    names = ("Amphetamine", "Caffeine", "Theophylline")
    runs = [
        run(0, "ladder.D", "ladder", "LR-000",
            ladder={"series": "n-alkanes", "members": [{"name": f"C{n}"}
                                                       for n in range(9, 27)]}),
        run(1, "blank.D", "blank", "LR-001"),
        run(2, "std.D", "standard", "LR-005", reference_substances=list(names),
            components=[component(n, i, reference=False) for i, n in enumerate(names)]),
        run(3, "blank2.D", "blank", "LR-006"),
        run(4, "014.D", "sample", "LR-014", exhibit_id=exhibit,
            acquisition={"instrument": "GCMS-01", "method": "DRUGS.M"},
            retention_calibration={"ladder_file": "ladder.D", "ladder_position": 0},
            blank={"blank_file": "blank2.D", "blank_position": 3},
            components=[component(n, i) for i, n in enumerate(names)]
            + [{**component("Amphetamine", 9, verdict="inconclusive", mf=790),
                "substance": "Methamphetamine", "rt_s": 480.0}, junk(10)],
            findings={"identified": [], "inconclusive": [], "conclusion": [],
                      "out_of_scope": [], "notes": [
                {"kind": "lookalike", "substances": ["Amphetamine"],
                 "text": "Amphetamine and phentermine spectra are alike; retention "
                         "separates them."},
                {"kind": "limitation", "substances": [],
                 "text": "'not identified' does not mean absent: a substance below the "
                         "reporting level (model-ion S/N 10) is not reported"}]},
            quantitation=[{"substance": "Amphetamine", "role": "unknown",
                           "status": "quantified", "reportable": True,
                           "concentration": 41.2, "unit": "ug/mL",
                           "expanded_uncertainty": 2.9, "coverage_factor": K_T4,
                           "uncertainty_basis": "standard error of inverse prediction "
                                                "from the calibration regression (k = 1)",
                           "amount_in_exhibit": {"purity_percent": 16.5,
                                                 "purity_uncertainty_percent": 0.6,
                                                 "mass_mg": 2.06,
                                                 "mass_uncertainty_mg": 0.05,
                                                 "per_unit_mg": 0.0438,
                                                 "per_unit_uncertainty_mg": 0.0011,
                                                 "per_unit": "mg per tablet"}}]),
        run(5, "blank3.D", "blank", "LR-015"),
        run(6, "016.D", "sample", "LR-016", exhibit_id="FL22-0210"),
    ]
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "gcms_version": "0.1.0",
        "created_utc": "2025-03-04T18:00:00+00:00",
        "sequence": {"path": str(folder / "sequence.csv"), "sha256": None,
                     "n_runs": len(runs)},
        "library": {"path": None, "title": "demo.h5", "content_sha256": digest("lib"),
                    "identity_sha256": None, "n_entries": 60},
        "criteria": {"name": "swgdrug-gcms", "sha256": digest("crit")},
        "settings": {}, "steps": [], "runs": runs, "exhibits": [], "failed": [],
        "sequence_notes": [], "step_failures": [], "processed_by": {"user": "jdoe"},
    }
