"""Quantitation accuracy and speed on the real etizolam sequence, beside the authors' results.

The 12 runs of ``../shared/data/lrcfs-etizolam`` (blank, 7 calibrators 25-250 ug/mL,
check standards 40 and 125 ug/mL, case samples 014 and 016) go through
``gcms.quantitation.quantitate`` with the shipped method
(``instruments/methods/lrcfs-etizolam-is.toml``: m/z 342 over the IS's m/z 140,
quadratic, 1/x). Printed as markdown:

1. per run, the authors' retention times and concentrations
   (``GCMSResultsCardData.csv``: TIC areas, straight-line fit of the area ratio) beside
   ours, with the deviation from the authors and, for standards and checks, from nominal;
2. both calibrations (the authors' refitted from their own ratios);
3. what every model and weighting this toolkit offers would make of the check standards
   and the case sample (the method's choice is one row);
4. time per run: reading (``gcms.io.read``), measuring (integration of all ions), and the
   whole sequence (calibration and quantities included), best of ``--repeat``.

Usage::

    python benchmarks/quant.py [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("GCMS_SHARED_DATA", ROOT.parent / "shared" / "data"))
METHOD = ROOT / "instruments" / "methods" / "lrcfs-etizolam-is.toml"
CALIBRATORS = {"002": 25, "003": 50, "004": 75, "005": 100, "006": 150, "007": 200, "008": 250}
CHECKS = {"010": 40, "012": 125}


def sequence_csv(raw: Path, folder: Path) -> Path:
    rows = ["file,type,sample_id,reference_substance,concentration,unit,amount,amount_unit,"
            "volume_ml,dilution", f"{raw}/220223001.D,blank,001,,,,,,,"]
    rows += [f"{raw}/220223{n}.D,standard,{n},Etizolam,{c},ug/mL,,,,"
             for n, c in CALIBRATORS.items()]
    rows += [f"{raw}/220223{n}.D,qc,{n},Etizolam,{c},ug/mL,,,," for n, c in CHECKS.items()]
    rows += [f"{raw}/220223014.D,sample,014,,,,1,card piece,2.5,1",
             f"{raw}/220223016.D,sample,016,,,,1,paper piece,2.5,1"]
    path = folder / "sequence.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def best(function, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - start)
    return min(times), value


def number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def fmt(value, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def percent(value, reference) -> str:
    if value is None or not reference:
        return "-"
    return f"{100.0 * (value - reference) / reference:+.1f} %"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--method", type=Path, default=METHOD)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the numbers as JSON")
    args = parser.parse_args()
    folder = args.data / "lrcfs-etizolam"
    if not folder.exists():
        print(f"shared data not found: {folder}", file=sys.stderr)
        return 2

    import gcms.io
    from gcms.quantitation import load_method, measure, quantitate
    from gcms.sequence import read_sequence

    method = load_method(args.method)
    with open(folder / "GCMSResultsCardData.csv", newline="") as handle:
        authors = {row["DataName"][-3:]: row for row in csv.DictReader(handle)}
    with tempfile.TemporaryDirectory() as scratch:
        sequence = read_sequence(sequence_csv(folder / "raw", Path(scratch)))
        read_s, measure_s, runs = [], [], {}
        for injection in sequence:
            seconds, run = best(lambda i=injection: gcms.io.read(i.file), args.repeat)
            read_s.append(seconds)
            runs[injection.sample_id] = run
            measure_s.append(best(lambda r=run: measure(r, method), args.repeat)[0])
        whole_s, result = best(lambda: quantitate(sequence, method, runs=runs), args.repeat)
        cold_s, _ = best(lambda: quantitate(sequence, method), 1)

    cal = result.calibrations["Etizolam"]
    out: dict = {"runs": [], "timing": {}, "models": []}
    print("### Per run: the authors' results beside gcms\n")
    print("| run | sample | nominal | IS RT s (authors / gcms) | etizolam RT s (authors / gcms) "
          "| authors ug/mL | gcms ug/mL (± U, k) | gcms vs authors | authors vs nominal "
          "| gcms vs nominal | gcms status |")
    print("| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for record in result.records:
        n = record.sample_id
        row = authors[n]
        q = record.quantity("Etizolam")
        nominal = CALIBRATORS.get(n) or CHECKS.get(n)
        theirs = number(row["CorrectedConcentration"]) or number(row["ValuesPositive"])
        ours = q.estimate
        is_rt = record.internal_standards[0].integration.rt_s
        value = ("-" if ours is None else
                 f"{ours:.2f}" + (f" ± {q.expanded_uncertainty:.1f} ({q.coverage_factor:.2f})"
                                  if q.expanded_uncertainty is not None else ""))
        print(f"| {n} | {row['SampleName']} | {fmt(nominal)} | {fmt(number(row['Q.P.IS']), 5)}"
              f" / {fmt(is_rt, 5)} | "
              + (f"{fmt(number(row['Q.P.Etizolam']), 5)} / {fmt(q.rt_s, 5)}"
                 if theirs is not None else "-")
              + f" | {fmt(theirs)} | {value} | {percent(ours, theirs)} | "
                f"{percent(theirs, nominal)} | {percent(ours, nominal)} | {q.status} |")
        out["runs"].append({"run": n, "nominal": nominal, "authors": theirs, "gcms": ours,
                            "expanded_uncertainty": q.expanded_uncertainty,
                            "status": q.status, "is_rt_s": is_rt, "rt_s": q.rt_s})

    x = np.array(list(CALIBRATORS.values()), dtype=float)
    ratios = np.array([float(authors[n]["ratio"]) for n in CALIBRATORS])
    slope, intercept = np.polyfit(x, ratios, 1)
    r2 = 1 - np.sum((ratios - (slope * x + intercept)) ** 2) / np.sum((ratios - ratios.mean()) ** 2)
    fit = cal.fit
    print("\n### Calibrations\n")
    print("| | response | model | coefficients | R² |")
    print("| --- | --- | --- | --- | ---: |")
    print(f"| authors (refitted from their ratios) | TIC area ratio | linear, unweighted | "
          f"a = {intercept:.4g}, b = {slope:.4g} | {r2:.4f} |")
    print(f"| gcms | {cal.response} | {cal.model}, {cal.weighting} | a = {fit.intercept:.4g}, "
          f"b = {fit.slope:.4g}, c = {fit.curvature:.3g} | {fit.r_squared:.4f} |")
    print(f"\ngcms limits: LOD {cal.lod:.3g}, LOQ {cal.loq:.3g} ug/mL from the calibration "
          f"(3.3 and 10 s0/b); reporting LOQ {cal.reporting_loq:g} ug/mL "
          f"({cal.loq_basis.replace('_', ' ')}); blanks: {cal.blank_note}.")

    print("\n### Every model on the same responses\n")
    print("| model | weighting | status | R² | rejected | sum of abs rel. errors, all 7 "
          "calibrators | 010 (40) | 012 (125) | 014 (authors 34.54) |")
    print("| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for model in ("linear", "linear_through_zero", "quadratic"):
        for weighting in ("none", "1/x", "1/x2"):
            analyte = dataclasses.replace(method.analytes[0], model=model, weighting=weighting)
            other = quantitate(sequence, dataclasses.replace(method, analytes=(analyte,)),
                               runs=runs)
            c = other.calibrations["Etizolam"]
            values = [other.record(n).quantity("Etizolam").estimate for n in ("010", "012", "014")]
            errors = [abs(p.accuracy_percent - 100) for p in c.points
                      if p.accuracy_percent is not None]
            rejected = ", ".join(p.sample_id for p in c.points if not p.used) or "-"
            mark = " (method)" if (model, weighting) == (cal.model, cal.weighting) else ""
            reason = "ok" if c.ok else "failed: " + c.reasons[0][:60]
            print(f"| {model}{mark} | {weighting} | {reason} | "
                  f"{fmt(c.fit.r_squared if c.fit else None)} | {rejected if c.ok else '-'} | "
                  f"{(f'{sum(errors):.1f} %' if c.ok else '-')} | "
                  + " | ".join(fmt(v) for v in values) + " |")
            out["models"].append({"model": model, "weighting": weighting, "ok": c.ok,
                                  "values": values})

    n = len(sequence)
    out["timing"] = {"read_s_median": statistics.median(read_s),
                     "measure_s_median": statistics.median(measure_s),
                     "sequence_s": whole_s, "sequence_with_reading_s": cold_s, "runs": n}
    print("\n### Time per run\n")
    print("| step | seconds per run |")
    print("| --- | ---: |")
    print(f"| read (gcms.io.read, Agilent data.ms), median | {statistics.median(read_s):.4f} |")
    print(f"| measure (IS + etizolam, 7 ions), median | {statistics.median(measure_s):.4f} |")
    print(f"| whole sequence from runs in memory, per run | {whole_s / n:.4f} |")
    print(f"| whole sequence with reading, per run | {cold_s / n:.4f} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
