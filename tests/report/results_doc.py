"""A batch results document in the layout gcms batch writes (see gcms.report.adapters)."""

from __future__ import annotations

from pathlib import Path

from .models import RI, RT_S, SPECTRA, digest


def component(name, index, *, verdict="identified", reference=True, mf=912):
    peaks = SPECTRA[name]
    return {
        "component": index, "rt_s": RT_S[name], "rt_min": RT_S[name] / 60,
        "retention_index": RI[name] + 2.0, "substance": name, "verdict": verdict,
        "match_factor": mf, "reverse_match_factor": mf + 15, "probability": 81.0,
        "retention_source": "standard", "delta_rt_s": 0.4, "delta_ri": 2.0,
        "library": {"index": index, "name": name, "sha256": digest("lib"), "cas": None},
        "reference_standard": ({"substance": name, "file": "std.D", "position": 1,
                                "component": index, "rt_s": RT_S[name] - 0.4}
                               if reference else None),
        "criteria": [
            {"criterion": "match_factor", "result": "pass", "value": mf, "limit": 800,
             "unit": ""},
            {"criterion": "retention_time", "result": "pass", "value": 0.4, "limit": 6.0,
             "unit": "s"},
            {"criterion": "blank", "result": "pass", "value": None, "limit": None},
        ],
        "notes": [], "alternatives": [{"substance": "Phentermine", "verdict": "not identified",
                                       "match_factor": 700}],
        "spectrum": {"mz": sorted(peaks), "intensity": [peaks[m] for m in sorted(peaks)]},
    }


def results_document(folder: Path, *, exhibit="FL21-1010", case="C-1"):
    """Results of a four-run sequence: blank, standard, the exhibit, another exhibit."""
    files = {}
    for name in ("blank.D", "std.D", "014.D", "016.D"):
        path = folder / name
        path.write_bytes(name.encode() * 100)
        files[name] = path
    import hashlib

    def sha(name):
        return hashlib.sha256(files[name].read_bytes()).hexdigest()

    names = ("Amphetamine", "Caffeine", "Theophylline")
    return {
        "schema": "gcms-batch-results/1", "gcms_version": "0.1.0",
        "library": {"name": "demo.h5", "sha256": digest("lib")},
        "criteria": {"name": "swgdrug-gcms", "sha256": digest("crit")},
        "runs": [
            {"sample_id": "LR-001", "file": str(files["blank.D"]), "sha256": sha("blank.D"),
             "type": "blank", "case_id": case, "exhibit_id": None, "position": 0,
             "acquired_at": "2025-03-04T10:00:00Z", "components": []},
            {"sample_id": "LR-005", "file": str(files["std.D"]), "sha256": sha("std.D"),
             "type": "standard", "case_id": case, "exhibit_id": None, "position": 1,
             "reference_substances": list(names), "acquired_at": "2025-03-04T10:40:00Z",
             "components": [component(n, i, reference=False) for i, n in enumerate(names)]},
            {"sample_id": "LR-014", "file": str(files["014.D"]), "sha256": sha("014.D"),
             "type": "sample", "case_id": case, "exhibit_id": exhibit, "position": 2,
             "acquired_at": "2025-03-04T11:20:00Z", "instrument": "GCMS-01",
             "method": "DRUGS.M",
             "components": [component(n, i) for i, n in enumerate(names)]
             + [{**component("Amphetamine", 9, verdict="inconclusive", mf=790),
                 "substance": "Methamphetamine", "rt_s": 500.0}],
             "findings": {"notes": [{"kind": "lookalike", "substances": ["Amphetamine"],
                                     "text": "Amphetamine and phentermine spectra are alike; "
                                             "retention separates them."}]},
             "quantitation": [{"substance": "Amphetamine", "role": "unknown",
                               "status": "quantified", "reportable": True,
                               "concentration": 41.2, "unit": "ug/mL",
                               "expanded_uncertainty": 2.9, "coverage_factor": 2.0,
                               "amount_in_exhibit": {"purity_percent": 16.5,
                                                     "purity_uncertainty_percent": 0.6}}]},
            {"sample_id": "LR-016", "file": str(files["016.D"]), "sha256": sha("016.D"),
             "type": "sample", "case_id": case, "exhibit_id": "FL22-0210", "position": 3,
             "components": []},
        ],
    }
