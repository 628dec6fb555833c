"""Shared fixtures: where the real data lives, and the skip marker for its absence."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

#: ../shared/data beside the project root, or GCMS_SHARED_DATA when set.
SHARED_DATA = Path(
    os.environ.get("GCMS_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)


@pytest.fixture(autouse=True, scope="session")
def _results_documents_checked():
    """Every results.json the suite makes is checked against results.schema.json."""
    from results.documents import schema_checked_writers

    with schema_checked_writers():
        yield


def shared_file(*parts: str) -> Path:
    """Path of a file in the shared data folder; skips the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


@pytest.fixture
def shared():
    """Callable fixture: ``shared("netcdf-gcms", "agilent-gcms.cdf")`` or skip."""
    return shared_file


def etizolam_msp(path: Path) -> Path:
    """An etizolam reference entry written to ``path`` (MSP) from the real sequence.

    The apex scan of etizolam (m/z 342) in the 250 ug/mL standard of
    ../shared/data/lrcfs-etizolam, read from the authors' msconvert MS1 text (not by the
    project's readers, so a reader fault cannot make its own reference), peaks of at
    least 1 % of the base peak, scaled to 999. Skips where the shared data is absent.
    """
    ms1 = shared_file("lrcfs-etizolam", "msconvert_ms1", "220223008.ms1")
    scans, current = [], None
    with open(ms1, encoding="utf-8") as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "S":
                current = {"peaks": {}}
                scans.append(current)
            elif parts[0] == "I" and len(parts) > 2 and parts[1] == "RTime":
                current["t"] = float(parts[2]) * 60
            elif parts[0][0].isdigit() and current is not None and len(parts) >= 2:
                mz = round(float(parts[0]))
                current["peaks"][mz] = current["peaks"].get(mz, 0.0) + float(parts[1])
    best = max((s for s in scans if 600 < s.get("t", 0) < 640),
               key=lambda s: s["peaks"].get(342, 0))
    top = max(best["peaks"].values())
    peaks = sorted((m, 999 * v / top) for m, v in best["peaks"].items() if v >= 0.01 * top)
    text = "\n".join(f"{m} {round(v)}" for m, v in peaks)
    path.write_text("Name: Etizolam\nInChIKey: VMZUTJCNQWMAGF-UHFFFAOYSA-N\n"
                    f"Num Peaks: {len(peaks)}\n{text}\n\n", encoding="utf-8")
    return path


#: Calibrators of the real etizolam sequence: run number -> ug/mL (its SOURCE.md).
ETIZOLAM_CALIBRATORS = {"002": 25, "003": 50, "004": 75, "005": 100, "006": 150, "007": 200,
                        "008": 250}
#: Columns of the quantitation sequence CSV the etizolam tests write.
QUANT_COLUMNS = ["file", "type", "sample_id", "case_id", "exhibit_id", "reference_substance",
                 "concentration", "unit", "amount", "amount_unit", "volume_ml", "dilution"]


def _clean_blank(raw: Path, root: Path) -> Path:
    """The real blank run 001 written again as ANDI netCDF (same data, another file)."""
    from gcms.io import andi_ms, read

    path = root / "220223001-after-standards.cdf"
    if not path.exists():
        andi_ms.write(read(raw / "220223001.D"), path)
    return path


def etizolam_quant_setup(root: Path, *, other_spectra: int, negative_case: bool = True
                         ) -> tuple[Path, Path]:
    """The real etizolam sequence for ``gcms batch --method``: (sequence CSV, library).

    Blank, the seven calibrators, the 40 ug/mL check standard, a clean blank and case
    FL21/1010 (card piece, 2.5 mL), with ``negative_case`` also FL22/0210; the library
    holds the etizolam reference (:func:`etizolam_msp`) among ``other_spectra`` MassBank
    records. The clean blank is the blank run 001 written again as ANDI netCDF (a
    different file): the authors' one blank precedes the standards, and only a blank
    after them can rule out carry-over into the case (tests/batch/test_carryover.py).
    Skips where the shared data is absent.
    """
    from gcms.library import build_library

    raw = shared_file("lrcfs-etizolam", "raw")
    others = sorted(shared_file("massbank-ei", "RIKEN").rglob("*.txt"))[:other_spectra]
    library = root / "lib.h5"
    build_library([etizolam_msp(root / "etizolam.msp"), *others], library)
    rows = [[raw / "220223001.D", "blank", "LR-001", "C-1", "", "", "", "", "", "", "", ""]]
    rows += [[raw / f"220223{n}.D", "standard", f"LR-{n}", "C-1", "", "Etizolam", c, "ug/mL",
              "", "", "", ""] for n, c in ETIZOLAM_CALIBRATORS.items()]
    rows += [[raw / "220223010.D", "qc", "LR-010", "C-1", "", "Etizolam", 40, "ug/mL", "", "",
              "", ""],
             [_clean_blank(raw, root), "blank", "LR-001-after-standards", "C-1", "", "", "", "",
              "", "", "", ""],
             [raw / "220223014.D", "sample", "LR-014", "C-1", "FL21-1010", "", "", "", 1,
              "card piece", 2.5, 1]]
    if negative_case:
        rows.append([raw / "220223016.D", "sample", "LR-016", "C-1", "FL22-0210", "", "", "",
                     1, "paper piece", 2.5, 1])
    sequence = root / "seq.csv"
    with open(sequence, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(QUANT_COLUMNS)
        writer.writerows(rows)
    return sequence, library


def strings_in(node):
    """Every text value inside a JSON document (dicts and lists walked depth first)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)
