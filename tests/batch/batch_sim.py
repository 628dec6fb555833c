"""Short simulated sequences for the batch tests (about 130 s of chromatogram per run).

Compounds come from the bundled demo library and elute where a small n-alkane ladder
(C10-C16) puts their RI, so the runs exercise the ladder, the standards and the blanks
exactly as a real sequence does, in a fraction of a second each.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from gcms.demo import demo_library_path
from gcms.library import Library
from gcms.retention import RetentionCalibration
from gcms.retention.simulate import alkane_spectrum, ladder_retention_times
from gcms.simulate import SimulationSettings, amount_for_snr, simulate, write

CARBONS = tuple(range(10, 17))
LADDER_RT = ladder_retention_times(CARBONS, first_s=110.0, spacing_s=24.0)
CALIBRATION = RetentionCalibration(LADDER_RT, 100.0 * np.asarray(CARBONS))

_LIBRARY: list[Library] = []


def library() -> Library:
    if not _LIBRARY:
        _LIBRARY.append(Library.open(demo_library_path()))
    return _LIBRARY[0]


def spectrum(name: str):
    lib = library()
    return lib.spectrum(list(lib.column("name")).index(name))


def settings(seed: int) -> SimulationSettings:
    return SimulationSettings(start_s=100.0, duration_s=130.0, scan_rate_hz=4.0, mz_min=40,
                              mz_max=300, background=150.0, bleed=0.0, threshold=300.0,
                              spikes_per_scan=0.0, seed=seed)


def rt_of(name: str, *, ri_shift: float = 0.0) -> float:
    ri = spectrum(name).retention_index + ri_shift
    return float(CALIBRATION.predict_rt(ri).rt_seconds[0])


def write_run(path: Path, compounds, *, seed: int, ladder: bool = False) -> Path:
    """``compounds``: (name, base-peak S/N) or (name, S/N, RI shift) or (Spectrum, S/N, rt)."""
    st = settings(seed)
    items = []
    if ladder:
        for n, t in zip(CARBONS, LADDER_RT, strict=True):
            s = alkane_spectrum(n)
            items.append((s, float(t), amount_for_snr(s, 400.0, settings=st, rt_s=float(t))))
    for entry in compounds:
        if isinstance(entry[0], str):
            name, snr, *rest = entry
            s = spectrum(name)
            t = rt_of(name, ri_shift=rest[0] if rest else 0.0)
        else:
            s, snr, t = entry
        items.append((s, t, amount_for_snr(s, snr, settings=st, rt_s=t)))
    write(simulate(items, settings=st, name=path.stem), path, overwrite=True)
    return path


def write_sequence(folder: Path, rows) -> Path:
    """rows: (file, type, sample_id, exhibit_id, reference_substance)."""
    path = folder / "sequence.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "type", "sample_id", "case_id", "exhibit_id",
                         "reference_substance"])
        for file, kind, sample, exhibit, reference in rows:
            writer.writerow([file, kind, sample, "C-T", exhibit, reference])
    return path


def standard_sequence(folder: Path, *, carry_over: float = 0.0, sample=None,
                      seed: int = 10) -> Path:
    """Ladder, blank, standard (amphetamine + methamphetamine), blank, one exhibit.

    ``carry_over``: methamphetamine in the second blank, as a fraction of the exhibit's
    S/N. ``sample``: the exhibit's compounds (default: methamphetamine at S/N 800).
    """
    sample = sample if sample is not None else [("Methamphetamine", 800.0)]
    write_run(folder / "ladder.cdf", [], seed=seed, ladder=True)
    write_run(folder / "blank1.cdf", [], seed=seed + 1)
    write_run(folder / "std.cdf", [("Amphetamine", 600.0), ("Methamphetamine", 600.0)],
              seed=seed + 2)
    blank2 = [("Methamphetamine", 800.0 * carry_over)] if carry_over else []
    write_run(folder / "blank2.cdf", blank2, seed=seed + 3)
    write_run(folder / "exhibit.cdf", sample, seed=seed + 4)
    return write_sequence(folder, [
        ("ladder.cdf", "ladder", "L1", "", ""),
        ("blank1.cdf", "blank", "B1", "", ""),
        ("std.cdf", "standard", "S1", "", "Amphetamine;Methamphetamine"),
        ("blank2.cdf", "blank", "B2", "", ""),
        ("exhibit.cdf", "sample", "X1", "EX-1", ""),
    ])


def component_of(record: dict, substance: str) -> dict | None:
    """The component of a run record reported as ``substance`` (best verdict first)."""
    rank = {"identified": 0, "inconclusive": 1, "not identified": 2}
    found = [c for c in record["components"] if c["substance"] == substance]
    return min(found, key=lambda c: rank[c["verdict"]]) if found else None
