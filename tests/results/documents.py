"""Batches whose ``results.json`` the results tests read, and the check every results
document a test makes should pass.

``demo_results``, ``failed_run_results``, ``qa_gated_results``,
``quantitation_results`` and ``quant_alone_results`` each run ``gcms batch`` (the Python
API or the CLI; the last ``gcms quant``) into ``root`` and return the path of the
``results.json`` it wrote. Other test modules use them, and :func:`check_results_document`, with::

    from results.documents import check_results_document
    document = check_results_document(out / "results.json")
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema

from gcms.batch import run_batch
from gcms.demo import demo_folder, demo_library_path, demo_sequence_path
from gcms.library import Library
from gcms.results import QuantResultsDocument, ResultsDocument, published_schema
from gcms.simulate import SimulationSettings, amount_for_snr, simulate, write


def check_results_document(source: Path | Mapping[str, Any]
                           ) -> ResultsDocument | QuantResultsDocument:
    """Check a results document and return it typed.

    It must validate against the published ``results.schema.json``, read as a
    :class:`ResultsDocument` (or, naming ``"schema"``, a :class:`QuantResultsDocument`),
    and give back the same object (and, for a file, the same
    text) through :meth:`ResultsDocument.to_json`.
    """
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else None
    data = json.loads(text) if text is not None else source
    jsonschema.Draft202012Validator(published_schema()).validate(data)
    kind = QuantResultsDocument if "schema" in data else ResultsDocument
    document = kind.from_json(source)
    assert document.to_json() == data
    if text is not None:
        assert document.to_text() == text
    return document


@contextlib.contextmanager
def schema_checked_writers() -> Iterator[None]:
    """Within it, every ``results.json`` gcms writes is checked against the schema.

    Both writers (:func:`gcms.batch.output.write_outputs`,
    :func:`gcms.quantitation.output.write_results`) write the text of a typed document
    (:meth:`ResultsDocument.to_text`, :meth:`QuantResultsDocument.to_text`); the text is
    validated against the published ``results.schema.json`` before it is returned, so
    that a document the type reads but the schema refuses fails the test that made it.
    ``tests/conftest.py`` holds this open for the whole session.
    """
    validator = jsonschema.Draft202012Validator(published_schema())
    originals = {kind: kind.__dict__["to_text"] for kind in (ResultsDocument,
                                                             QuantResultsDocument)}

    def checked(original):
        @functools.wraps(original)
        def to_text(self):
            text = original(self)
            validator.validate(json.loads(text))
            return text
        return to_text

    for kind, original in originals.items():
        kind.to_text = checked(original)
    try:
        yield
    finally:
        for kind, original in originals.items():
            kind.to_text = original


def demo_results(root: Path) -> Path:
    """The demo batch (``gcms batch gcms/data/demo/sequence.csv``)."""
    run_batch(demo_sequence_path(), library=demo_library_path(), out_dir=root / "demo",
              workers=1)
    return root / "demo" / "results.json"


def failed_run_results(root: Path) -> Path:
    """The demo sequence with one run replaced by a file that is not a run, one missing."""
    folder = root / "failed-in"
    shutil.copytree(demo_folder(), folder)
    (folder / "05-exhibit-E1.cdf").write_bytes(b"CDF\x01 this is not a netCDF file")
    with (folder / "sequence.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows.append(["no-such-run.cdf", "sample", "GONE-1", rows[1][3], "E9", ""])
    with (folder / "sequence.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    run_batch(folder / "sequence.csv", library=demo_library_path(), out_dir=root / "failed",
              workers=1)
    return root / "failed" / "results.json"


def qa_gated_results(root: Path) -> Path:
    """The demo batch gated by the demo instrument's QA, its failing tune blocking it; the
    analyst named (``--analyst``)."""
    from gcms.custody.batch import ProcessedBy
    from gcms.qa import evaluate_tune, load_profile, open_history, qa_batch_steps

    profile = load_profile("demo-quadrupole")
    history = root / "qa-history"
    with open_history(history) as store:
        for name in ("tune-pass.cdf", "tune-fail.cdf"):
            store.record(evaluate_tune(demo_folder() / name, profile=profile))
    run_batch(demo_sequence_path(), library=demo_library_path(), out_dir=root / "qa", workers=1,
              steps=[*qa_batch_steps(profile, history_dir=history), ProcessedBy("analyst-7")])
    return root / "qa" / "results.json"


_METHOD = """schema = "gcms-quant-method/1"
[method]
name = "methamphetamine (simulated)"
unit = "ug/mL"
[acceptance]
min_calibrators = 5
check_tolerance_percent = 20.0
[[internal_standard]]
id = "IS"
name = "Benzocaine"
quantifier_mz = 120
qualifier_mz = [165]
rt_s = 190.0
rt_window_s = 8.0
[[analyte]]
name = "Methamphetamine"
quantifier_mz = 58
qualifier_mz = []
rt_s = 150.0
rt_window_s = 8.0
internal_standard = "IS"
model = "linear"
weighting = "1/x"
"""


def _quant_inputs(root: Path) -> Path:
    """Simulated methamphetamine over benzocaine: five calibrators, a blank and an
    exhibit of known content (80 ug/mL), with their sequence and method."""
    folder = root / "quant-in"
    if (folder / "method.toml").is_file():
        return folder
    folder.mkdir()
    library = Library.open(demo_library_path())
    names = list(library.column("name"))
    analyte, internal = (library.spectrum(names.index(n))
                         for n in ("Methamphetamine", "Benzocaine"))
    settings = SimulationSettings(start_s=100.0, duration_s=130.0, scan_rate_hz=4.0,
                                  mz_min=40, mz_max=300, background=150.0, bleed=0.0,
                                  threshold=300.0, spikes_per_scan=0.0, seed=0)
    per_level = amount_for_snr(analyte, 3.0, settings=settings, rt_s=150.0)
    is_amount = amount_for_snr(internal, 400.0, settings=settings, rt_s=190.0)

    def run(name: str, seed: int, level: float) -> str:
        items = [(internal, 190.0, is_amount)]
        if level:
            items.append((analyte, 150.0, level * per_level))
        write(simulate(items, settings=dataclasses.replace(settings, seed=seed), name=name),
              folder / f"{name}.cdf")
        return f"{name}.cdf"

    header = ["file", "type", "sample_id", "case_id", "exhibit_id", "reference_substance",
              "concentration", "unit", "amount", "amount_unit", "volume_ml", "dilution"]
    rows = [[run(f"cal{level:g}", 10 + i, level), "standard", f"CAL-{level:g}", "C-1", "",
             "Methamphetamine", level, "ug/mL", "", "", "", ""]
            for i, level in enumerate((20.0, 50.0, 100.0, 150.0, 200.0))]
    rows.append([run("blank", 1, 0.0), "blank", "B1", "C-1", "", "", "", "", "", "", "", ""])
    rows.append([run("sample", 2, 80.0), "sample", "X1", "C-1", "EX-1", "", "", "", 50, "mg",
                 1.0, 10])
    with (folder / "sequence.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    (folder / "method.toml").write_text(_METHOD, encoding="utf-8")
    return folder


def quantitation_results(root: Path) -> Path:
    """``gcms batch --method`` on the simulated quantitation sequence."""
    from click.testing import CliRunner
    from gcms_cli.main import cli

    folder = _quant_inputs(root)
    out = root / "quant"
    result = CliRunner().invoke(cli, ["batch", str(folder / "sequence.csv"), "--out", str(out),
                                      "--library", str(demo_library_path()),
                                      "--workers", "1", "--quiet",
                                      "--method", str(folder / "method.toml")])
    assert (out / "results.json").is_file(), result.output
    return out / "results.json"


def quant_alone_results(root: Path) -> Path:
    """``gcms quant --out`` on the simulated quantitation sequence (its own document)."""
    from click.testing import CliRunner
    from gcms_cli.main import cli

    folder = _quant_inputs(root)
    out = root / "quant-alone"
    result = CliRunner().invoke(cli, ["quant", str(folder / "sequence.csv"), "--out", str(out),
                                      "--method", str(folder / "method.toml")])
    assert (out / "results.json").is_file(), result.output
    return out / "results.json"


#: Every batch above by name, for fixtures (tests/results/conftest.py).
MAKERS = {"demo": demo_results, "failed-run": failed_run_results,
          "qa-gated": qa_gated_results, "quantitation": quantitation_results,
          "quant-alone": quant_alone_results}
