"""Deconvolution: gcms side by side with PyMassSpec (Biller–Biemann), accuracy and speed.

Both methods get the same in-memory run (the nominal-mass matrix of a ``gcms.Run``) and
are scored with the same rule (:func:`gcms.simulate.score`: apex within half a FWHM of
the true one, spectral cosine >= 0.6, one to one, most similar first):

* **gcms**: :func:`gcms.deconvolution.deconvolve`, default settings.
* **PyMassSpec** 2.x, the pipeline of its documentation: every ion chromatogram
  Savitzky–Golay smoothed and top-hat baseline corrected (``struct="1.5m"``), peaks by
  ``BillerBiemann(im, points, scans=2)``, ``rel_threshold(percent=2)``, and
  ``num_ions_threshold(n=3, cutoff=noise)`` with the noise level from its
  ``window_analyzer`` on the TIC (the documentation's "noise analysis for peak
  filtering"). ``points`` is 9 as documented, and 5 as a second run tuned to narrow
  peaks.

Simulated runs (``gcms.simulate``): pairs of compounds co-eluting at chromatographic
resolution Rs, each at TIC S/N 10 (or base-peak-ion S/N 30), with ion-counting noise,
drifting background, rising bleed, quadrupole skew and spikes; spectra either random
realistic EI spectra or real EI spectra from ../shared/data/massbank-ei. Real runs from
../shared/data: the etizolam sequence (.D), the Agilent petrol run (ANDI), the PyMassSpec
JCAMP runs; for etizolam and its internal standard the reference spectrum is the apex
scan of the authors' own ProteoWizard conversion (.ms1 text), read here independently.

Times are CPU seconds of one process with BLAS limited to one thread (one core); the
build machine is shared, so wall-clock times would be noisier.

Usage::

    python benchmarks/deconvolution.py                   # markdown tables on stdout
    python benchmarks/deconvolution.py --seeds 3 --json out.json
    python benchmarks/deconvolution.py --quick           # one seed, no PyMassSpec points=5
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import argparse  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from gcms import Spectrum  # noqa: E402
from gcms.deconvolution import deconvolve, match_factor, spectrum_similarity  # noqa: E402
from gcms.simulate import (  # noqa: E402
    SimulationSettings,
    amount_for_snr,
    random_spectrum,
    retention_for_resolution,
    score,
    simulate,
)

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GCMS_SHARED_DATA", ROOT.parent / "shared" / "data"))
PAIRS_PER_RUN = 10
SPACING_S = 60.0


# ----------------------------------------------------------------------------- methods
def run_gcms(run):
    start = time.process_time()
    result = deconvolve(run)
    seconds = time.process_time() - start
    return [c.rt_s for c in result], [c.spectrum for c in result], seconds


def run_pyms(run, points: int = 9, scans: int = 2):
    """PyMassSpec's documented Biller–Biemann pipeline on the run's nominal-mass matrix."""
    from pyms.BillerBiemann import BillerBiemann, num_ions_threshold, rel_threshold
    from pyms.IntensityMatrix import IntensityMatrix
    from pyms.Noise.Analysis import window_analyzer
    from pyms.Noise.SavitzkyGolay import savitzky_golay
    from pyms.TopHat import tophat

    low, high = run.nominal_mz_range
    low = max(low, 35)
    start = time.process_time()
    matrix = run.matrix(low, high).astype(np.float64)
    im = IntensityMatrix(list(run.scan_times), list(range(low, high + 1)), matrix)
    for index in range(im.size[1]):
        ic = im.get_ic_at_index(index)
        im.set_ic_at_index(index, tophat(savitzky_golay(ic), struct="1.5m"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peaks = BillerBiemann(im, points=points, scans=scans)
        peaks = rel_threshold(peaks, percent=2)
        noise = window_analyzer(im.tic, rand_seed=1)
        peaks = num_ions_threshold(peaks, n=3, cutoff=noise)
    seconds = time.process_time() - start
    rt, spectra = [], []
    for peak in peaks:
        abundance = np.asarray(peak.mass_spectrum.mass_spec, dtype=np.float64)
        masses = np.asarray(peak.mass_spectrum.mass_list, dtype=np.float64)
        keep = abundance > 0
        rt.append(float(peak.rt))
        spectra.append(Spectrum(mz=masses[keep], intensity=abundance[keep]))
    return rt, spectra, seconds


def methods(quick: bool, with_pyms: bool):
    out = [("gcms", run_gcms)]
    if with_pyms:
        out.append(("PyMassSpec points=9", lambda run: run_pyms(run, 9)))
        if not quick:
            out.append(("PyMassSpec points=5", lambda run: run_pyms(run, 5)))
    return out


# ----------------------------------------------------------------------------- spectra
def massbank_spectra(limit: int = 4000) -> list[Spectrum]:
    """Real EI spectra with 15-150 peaks inside m/z 35-550 (MassBank records)."""
    import gcms.io

    files = sorted(glob.glob(str(DATA / "massbank-ei" / "*" / "*.txt")))[:limit]
    out = []
    for path in files:
        try:
            spectra = gcms.io.read_spectra(path)
        except Exception:  # noqa: BLE001 - a benchmark skips unreadable records, counted
            continue
        for spectrum in spectra:
            nominal = spectrum.nominal()
            inside = (nominal.mz >= 35) & (nominal.mz <= 550) & (nominal.intensity > 0)
            if 15 <= np.count_nonzero(inside) <= 150:
                out.append(nominal.replace(mz=nominal.mz[inside],
                                           intensity=nominal.intensity[inside]))
    return out


def pair_run(seed: int, resolution: float, snr: float, on: str, pool=None):
    """PAIRS_PER_RUN pairs at the resolution, each compound at the S/N."""
    rng = np.random.default_rng(seed)
    settings = SimulationSettings(duration_s=SPACING_S * (PAIRS_PER_RUN + 1), start_s=100.0,
                                  seed=seed)
    compounds = []
    for k in range(PAIRS_PER_RUN):
        if pool:
            first, second = (pool[i] for i in rng.choice(len(pool), 2, replace=False))
        else:
            first, second = random_spectrum(rng), random_spectrum(rng)
        t1 = settings.start_s + 40.0 + SPACING_S * k
        t2 = retention_for_resolution(t1, resolution, fwhm_s=settings.fwhm_s,
                                      tau_s=settings.tau_s)
        for spectrum, t in ((first, t1), (second, t2)):
            compounds.append((spectrum, t, amount_for_snr(spectrum, snr, settings=settings,
                                                          rt_s=t, on=on)))
    return simulate(compounds, settings=settings)


# ----------------------------------------------------------------------------- tables
def simulated(scenarios, seeds, quick, with_pyms):
    rows = []
    for label, on, snr, resolutions, pool in scenarios:
        for resolution in resolutions:
            runs = [pair_run(seed, resolution, snr, on, pool) for seed in range(seeds)]
            for name, method in methods(quick, with_pyms):
                recall, precision, cosines, factors, seconds = [], [], [], [], []
                for sim in runs:
                    rt, spectra, took = method(sim.run)
                    found = score(rt, spectra, sim.truth, similarity=spectrum_similarity)
                    recall.append(found.recall)
                    precision.append(found.precision)
                    cosines.extend(found.similarity.tolist())
                    factors.extend(match_factor(spectra[i], sim.truth.spectra[j])
                                   for i, j in found.pairs)
                    seconds.append(took)
                cos = np.array(cosines) if cosines else np.zeros(1)
                mf = np.array(factors) if factors else np.zeros(1)
                rows.append({
                    "scenario": label, "resolution": resolution, "method": name,
                    "recall": float(np.mean(recall)), "precision": float(np.mean(precision)),
                    "median_cosine": float(np.median(cos)),
                    "cosine_ge_095": float(np.mean(cos >= 0.95)),
                    "median_mf": float(np.median(mf)), "mf_ge_900": float(np.mean(mf >= 900)),
                    "seconds": float(np.mean(seconds)),
                    "scans": int(runs[0].run.n_scans),
                })
                print(f"  {label} Rs {resolution} {name}: recall {rows[-1]['recall']:.3f} "
                      f"precision {rows[-1]['precision']:.3f} cos {rows[-1]['median_cosine']:.3f}"
                      f" ({rows[-1]['seconds']:.2f} s)", flush=True)
    return rows


def speed(with_pyms):
    """A 3,600-scan run over m/z 35-550, 60 compounds: best CPU s of 5 (gcms), 3 (PyMassSpec)."""
    rng = np.random.default_rng(5)
    settings = SimulationSettings(duration_s=899.75, start_s=180.0, scan_rate_hz=4.0, seed=5)
    compounds = []
    for k in range(60):
        spectrum = random_spectrum(rng)
        t = 200.0 + 14.0 * k
        compounds.append((spectrum, t, amount_for_snr(spectrum, rng.uniform(5, 200),
                                                      settings=settings, rt_s=t, on="tic")))
    sim = simulate(compounds, settings=settings)
    deconvolve(sim.run.slice(180, 200))  # imports out of the timing
    ours = min(run_gcms(sim.run)[2] for _ in range(5))
    found = score(*run_gcms(sim.run)[:2], sim.truth, similarity=spectrum_similarity)
    out = {"scans": sim.run.n_scans, "ions": 516, "gcms_seconds": ours,
           "gcms_recall": found.recall, "gcms_precision": found.precision}
    if with_pyms:
        timings = [run_pyms(sim.run) for _ in range(3)]  # best of 3, as for gcms
        rt, spectra, _ = timings[0]
        theirs = min(t[2] for t in timings)
        other = score(rt, spectra, sim.truth, similarity=spectrum_similarity)
        out.update(pyms_seconds=theirs, ratio=theirs / ours, pyms_recall=other.recall,
                   pyms_precision=other.precision)
    return out


def ms1_apex(path: Path, lo: float, hi: float, ion: int) -> Spectrum:
    """Apex scan (most of ``ion``) within lo..hi s of a ProteoWizard MS1 text file."""
    best, best_value, current, time_s = None, -1.0, None, None
    with open(path, encoding="ascii") as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "S":
                if current is not None and time_s is not None and lo <= time_s <= hi:
                    value = current.get(ion, 0.0)
                    if value > best_value:
                        best, best_value = current, value
                current, time_s = {}, None
            elif parts[0] == "I" and len(parts) > 2 and parts[1] == "RTime":
                time_s = float(parts[2]) * 60.0
            elif parts[0][0].isdigit() and current is not None:
                mass = int(np.floor(float(parts[0]) + 0.351))
                current[mass] = max(current.get(mass, 0.0), float(parts[1]))
    masses = np.array(sorted(best))
    return Spectrum(mz=masses.astype(float), intensity=[best[m] for m in masses])


def real_runs(with_pyms):
    import gcms.io
    from gcms.io import jcamp

    rows = []
    etizolam_dir = DATA / "lrcfs-etizolam"
    references = {}
    ms1 = etizolam_dir / "msconvert_ms1" / "220223008.ms1"
    if ms1.exists():
        references = {"etizolam": (615.0, ms1_apex(ms1, 600, 640, 342)),
                      "internal standard": (390.0, ms1_apex(ms1, 380, 400, 140))}
    runs = []
    for name, label in (("220223001.D", "blank"), ("220223005.D", "etizolam 100 ug/mL"),
                        ("220223014.D", "case FL21/1010 (positive)"),
                        ("220223016.D", "case FL22/0210 (negative)")):
        path = etizolam_dir / "raw" / name
        if path.exists():
            runs.append((f"{name} {label}", lambda p=path: gcms.io.read(p)))
    petrol = DATA / "netcdf-gcms" / "agilent-gcms.cdf"
    if petrol.exists():
        runs.append(("agilent-gcms.cdf petrol", lambda: gcms.io.read(petrol)))
    for name in ("gc01_0812_066.jdx", "ELEY_1_SUBTRACT.JDX"):
        path = DATA / "pyms" / name
        if path.exists():
            runs.append((name, lambda p=path: jcamp.read(p, allow_truncated=True)))
    for label, load in runs:
        run = load()
        for name, method in methods(True, with_pyms):
            rt, spectra, seconds = method(run)
            row = {"run": label, "scans": run.n_scans, "method": name,
                   "components": len(rt), "seconds": seconds}
            if label.startswith("2202230"):
                for compound, (t, reference) in references.items():
                    near = [spectrum_similarity(s, reference) for r, s in zip(rt, spectra,
                                                                              strict=True)
                            if abs(r - t) < 15]
                    row[compound] = max(near) if near else None
            rows.append(row)
            print(f"  {label} {name}: {len(rt)} components ({seconds:.2f} s)", flush=True)
    return rows


def vendor_table():
    """gcms.signal.find_peaks on the AIA TIC beside the data system's own peak table."""
    import gcms.io
    from gcms.signal import find_peaks

    path = DATA / "netcdf-gcms" / "agilent-gcms-tic.cdf"
    if not path.exists():
        return None
    run = gcms.io.read(path)
    vendor = run.vendor_peaks
    peaks = find_peaks(run.tic, run.scan_times)
    distance = np.abs(vendor.retention_time_s[:, None] - peaks.rt_s[None, :])
    nearest = distance.argmin(axis=1)
    matched = distance[np.arange(len(vendor)), nearest] <= 2.0 * float(
        np.median(np.diff(run.scan_times)))
    major = vendor.area_percent >= 1.0
    ours_percent = 100.0 * peaks.area / peaks.area.sum()
    pairs = np.flatnonzero(matched & major)
    return {
        "vendor_peaks": len(vendor), "our_peaks": len(peaks),
        "matched": int(matched.sum()), "major": int(major.sum()),
        "major_matched": int((matched & major).sum()),
        "rt_difference_s": float(np.median(np.abs(peaks.rt_s[nearest[matched]]
                                                   - vendor.retention_time_s[matched]))),
        "area_percent_correlation": float(np.corrcoef(
            ours_percent[nearest[pairs]], vendor.area_percent[pairs])[0, 1])
        if pairs.size > 2 else None,
        "sampling_s": float(np.median(np.diff(run.scan_times))),
    }


def markdown(simulated_rows, speed_row, real_rows) -> str:
    lines = []
    if simulated_rows:
        lines += ["| scenario | Rs | method | recall | precision | median cosine | "
                  "cosine >= 0.95 | median MF | MF >= 900 | CPU s / run |",
                  "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in simulated_rows:
            lines.append(f"| {r['scenario']} | {r['resolution']} | {r['method']} | "
                         f"{r['recall']:.3f} | {r['precision']:.3f} | "
                         f"{r['median_cosine']:.3f} | {100 * r['cosine_ge_095']:.0f} % | "
                         f"{r['median_mf']:.0f} | {100 * r['mf_ge_900']:.0f} % | "
                         f"{r['seconds']:.2f} |")
        lines.append("")
    if speed_row:
        lines += ["| run | gcms CPU s | PyMassSpec CPU s | ratio | recall / precision (gcms) "
                  "| recall / precision (PyMassSpec) |", "| --- | ---: | ---: | ---: | --- | --- |"]
        theirs = speed_row.get("pyms_seconds")
        first = f"| {speed_row['scans']} scans x m/z 35-550, 60 compounds | " \
            f"{speed_row['gcms_seconds']:.2f} | "
        lines.append(first + (f"{theirs:.2f} | {speed_row['ratio']:.0f}x | "
                              if theirs is not None else "- | - | "))
        lines[-1] += (f"{speed_row['gcms_recall']:.2f} / {speed_row['gcms_precision']:.2f} | " +
                      (f"{speed_row['pyms_recall']:.2f} / {speed_row['pyms_precision']:.2f} |"
                       if theirs is not None else "- |"))
        lines.append("")
    if real_rows:
        lines += ["| run | scans | method | components | CPU s | etizolam cosine | "
                  "internal standard cosine |", "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
        for r in real_rows:
            def cell(key, row=r):
                value = row.get(key, "")
                return "" if value == "" else ("not found" if value is None else f"{value:.3f}")
            lines.append(f"| {r['run']} | {r['scans']} | {r['method']} | {r['components']} | "
                         f"{r['seconds']:.2f} | {cell('etizolam')} | "
                         f"{cell('internal standard')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="simulated runs per cell")
    parser.add_argument("--quick", action="store_true", help="one seed, fewer variants")
    parser.add_argument("--no-pyms", action="store_true", help="gcms only")
    parser.add_argument("--no-real", action="store_true", help="skip ../shared/data runs")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--vendor-only", action="store_true",
                        help="only the TIC peak picking against the AIA peak table")
    args = parser.parse_args()
    if args.vendor_only:
        print(json.dumps(vendor_table(), indent=2))
        return
    seeds = 1 if args.quick else args.seeds
    with_pyms = not args.no_pyms
    resolutions = (1.5, 1.0, 0.75, 0.5)
    scenarios = [("random spectra, TIC S/N 10", "tic", 10.0, resolutions, None),
                 ("random spectra, TIC S/N 30", "tic", 30.0, (1.0, 0.5), None),
                 ("random spectra, base-ion S/N 30", "base", 30.0, (1.0, 0.5), None),
                 ("random spectra, base-ion S/N 10", "base", 10.0, (1.0, 0.5), None)]
    if not args.no_real and (DATA / "massbank-ei").exists():
        pool = massbank_spectra()
        scenarios.insert(1, ("MassBank spectra, TIC S/N 10", "tic", 10.0, resolutions, pool))
    print("simulated pairs", flush=True)
    simulated_rows = simulated(scenarios, seeds, args.quick, with_pyms)
    print("speed", flush=True)
    speed_row = speed(with_pyms)
    real_rows = [] if args.no_real else (print("real runs", flush=True) or real_runs(with_pyms))
    vendor = None if args.no_real else vendor_table()
    print()
    print(markdown(simulated_rows, speed_row, real_rows))
    if vendor:
        print()
        print(f"TIC peak picking on agilent-gcms-tic.cdf: {vendor}")
    if args.json:
        args.json.write_text(json.dumps({"simulated": simulated_rows, "speed": speed_row,
                                         "real": real_rows, "vendor": vendor}, indent=2))


if __name__ == "__main__":
    main()
