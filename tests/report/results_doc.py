"""A batch results document in the layout gcms batch writes (see gcms.report.adapters)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .models import K_T4, RI, RT_S, SPECTRA, digest

__all__ = ["K_T4", "component", "junk", "results_document"]


def component(name, index, *, verdict="identified", reference=True, mf=912):
    peaks = SPECTRA[name]
    ref = ({"substance": name, "file": "std.D", "position": 2, "component": index,
            "rt_s": RT_S[name] - 0.4} if reference else None)
    return {
        "component": index, "rt_s": RT_S[name], "rt_min": RT_S[name] / 60,
        "retention_index": RI[name] + 2.0, "substance": name, "verdict": verdict,
        "match_factor": mf, "reverse_match_factor": mf + 15, "probability": 81.0,
        "retention_source": "standard", "delta_rt_s": 0.4, "delta_ri": 2.0,
        "library": {"index": index, "name": name, "sha256": digest("lib"), "cas": None},
        "reference_standard": ref,
        "criteria": [
            {"criterion": "match_factor", "result": "pass", "value": mf, "limit": ">= 800",
             "unit": "", "decisive": True,
             "detail": f"identity MF {mf} against {name!r}"},
            {"criterion": "retention_time", "result": "pass", "value": 0.4, "limit": "±6",
             "unit": "s", "decisive": True, "evidence": ref,
             "detail": "ΔRT +0.40 s (+0.11 %) against the standard in std.D (sequence #3, "
                       "RT 352.00 s); window ±6.00 s"},
            {"criterion": "retention_index", "result": "pass", "value": 2.0, "limit": "±20",
             "unit": "i.u.", "decisive": False,
             "detail": f"RI {RI[name] + 2.0:.1f} against library RI {RI[name]:g}: ΔRI +2.0"},
            {"criterion": "diagnostic_ions", "result": "pass", "value": "3/3",
             "limit": "all 3", "unit": "", "decisive": True},
            {"criterion": "ion_ratios", "result": "pass", "value": 0.64, "limit": "<= 1",
             "unit": "× tolerance", "decisive": True,
             "evidence": {"quantifier": 44, "ions": [
                 {"mz": 91, "reference_percent": 30.0, "measured_percent": 30.9,
                  "deviation_percent": 3.2, "tolerance_percent": 10.0, "within": True},
                 {"mz": 65, "reference_percent": 9.0, "measured_percent": 8.1,
                  "deviation_percent": 9.6, "tolerance_percent": 15.0, "within": True}]}},
            {"criterion": "blank", "result": "pass", "value": 0.0, "limit": "<= 10",
             "unit": "%", "decisive": True},
            {"criterion": "distinct_from_runner_up", "result": "pass", "value": -212,
             "limit": "none within 20 MF units unless excluded by retention", "unit": "MF",
             "decisive": True},
        ],
        "notes": [], "alternatives": [{"substance": "Phentermine", "verdict": "not identified",
                                       "match_factor": 700}],
        "spectrum": {"mz": sorted(peaks), "intensity": [peaks[m] for m in sorted(peaks)]},
    }


def junk(index, rt_s=500.0):
    """A component no library entry explains: its best hit (Octane, MF 81) is junk."""
    return {"component": index, "rt_s": rt_s, "retention_index": 1560.0,
            "substance": "Octane", "verdict": "not identified", "match_factor": 81,
            "reverse_match_factor": 204, "delta_ri": 760.2, "delta_rt_s": None,
            "library": {"index": 50, "name": "Octane", "sha256": digest("lib")},
            "criteria": [{"criterion": "match_factor", "result": "fail", "value": 81,
                          "limit": ">= 800", "unit": "", "decisive": True}],
            "alternatives": []}


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

    def run(position, name, kind, sample, **more):
        return {"position": position, "file": str(files[name]), "file_name": name,
                "sha256": sha(name), "type": kind, "sample_id": sample, "case_id": case,
                "exhibit_id": None, "components": [],
                "acquired_at": f"2025-03-04T{10 + position:02d}:00:00Z", **more}

    names = ("Amphetamine", "Caffeine", "Theophylline")
    return {
        "schema": "gcms-batch-results/1", "gcms_version": "0.1.0",
        "library": {"name": "demo.h5", "content_sha256": digest("lib")},
        "criteria": {"name": "swgdrug-gcms", "sha256": digest("crit")},
        "processed_by": {"user": "jdoe"},
        "runs": [
            run(0, "ladder.D", "ladder", "LR-000",
                ladder={"series": "n-alkanes", "members": [{"name": f"C{n}"}
                                                           for n in range(9, 27)]}),
            run(1, "blank.D", "blank", "LR-001"),
            run(2, "std.D", "standard", "LR-005", reference_substances=list(names),
                components=[component(n, i, reference=False) for i, n in enumerate(names)]),
            run(3, "blank2.D", "blank", "LR-006"),
            run(4, "014.D", "sample", "LR-014", exhibit_id=exhibit, instrument="GCMS-01",
                method="DRUGS.M",
                retention_calibration={"ladder_file": "ladder.D", "ladder_position": 0},
                blank={"blank_file": "blank2.D", "blank_position": 3},
                components=[component(n, i) for i, n in enumerate(names)]
                + [{**component("Amphetamine", 9, verdict="inconclusive", mf=790),
                    "substance": "Methamphetamine", "rt_s": 480.0}, junk(10)],
                findings={"notes": [
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
        ],
    }
