"""A small archive of batch results made from simulated runs, and the library that grew.

The archive is processed with the demo library less one substance (the "original"
library); the "new" library is the original with that substance appended afterwards,
as a lab adds an entry for a new psychoactive substance. Runs use the short simulated
sequences of ``tests/batch/batch_sim.py`` (ladder C10-C16, compounds at their RI).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))

from batch_sim import library, spectrum, write_run, write_sequence  # noqa: E402

from gcms.batch import run_batch  # noqa: E402
from gcms.library import Library  # noqa: E402

#: The substance the original library lacks (RI 1500: inside the C10-C16 ladder).
NEW_SUBSTANCE = "MDMA"

#: Per batch: (sample id, compounds as (name, base-peak S/N)).
BATCHES = (
    (("A1", [("Amphetamine", 600.0)]),
     ("A2", [(NEW_SUBSTANCE, 700.0), ("Benzocaine", 500.0)]),
     ("A3", [("Methamphetamine", 600.0)])),
    (("B1", [(NEW_SUBSTANCE, 900.0)]),
     ("B2", [("Benzocaine", 600.0)]),
     ("B3", [("Amphetamine", 500.0), (NEW_SUBSTANCE, 600.0)])),
)


def libraries(folder: Path) -> tuple[Path, Path]:
    """(original library without :data:`NEW_SUBSTANCE`, the same with it appended)."""
    demo = library()
    names = list(demo.column("name"))
    kept = [demo.spectrum(i) for i, name in enumerate(names) if name != NEW_SUBSTANCE]
    original = Library.from_spectra(kept, title="demo without " + NEW_SUBSTANCE)
    updated = original.append([spectrum(NEW_SUBSTANCE)])
    updated.title = "demo, " + NEW_SUBSTANCE + " added"
    return (original.write(folder / "original.h5"), updated.write(folder / "updated.h5"))


def make_archive(folder: Path, *, copies: int = 1) -> dict[str, object]:
    """Batches processed with the original library; ``copies`` of each results folder.

    Returns the paths and the sample ids that contain the new substance.
    """
    folder.mkdir(parents=True, exist_ok=True)
    original, updated = libraries(folder)
    archive = folder / "archive"
    containing = set()
    seed = 100
    for b, samples in enumerate(BATCHES):
        runs = folder / f"runs-{b}"
        runs.mkdir(exist_ok=True)
        write_run(runs / "ladder.cdf", [], seed=seed, ladder=True)
        rows = [("ladder.cdf", "ladder", f"L{b}", "", "")]
        for sample_id, compounds in samples:
            seed += 1
            write_run(runs / f"{sample_id}.cdf", compounds, seed=seed)
            rows.append((f"{sample_id}.cdf", "sample", sample_id, f"EX-{sample_id}", ""))
            if any(name == NEW_SUBSTANCE for name, _ in compounds):
                containing.add(sample_id)
        sequence = write_sequence(runs, rows)
        out = archive / f"batch-{b}-copy-0"
        run_batch(sequence, library=original, out_dir=out, workers=1)
        for c in range(1, copies):
            shutil.copytree(out, archive / f"batch-{b}-copy-{c}")
    return {"archive": archive, "original": original, "updated": updated,
            "containing": containing,
            "runs": [folder / f"runs-{b}" for b in range(len(BATCHES))]}
