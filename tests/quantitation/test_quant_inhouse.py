"""In-house library entries from reference-standard runs (gcms library add)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file
from gcms_cli.main import cli
from quant_sim import ANALYTE_RT, standard_run

import gcms.io
from gcms.deconvolution import deconvolve
from gcms.errors import LibraryError
from gcms.library import Library
from gcms.quantitation.inhouse import add_to_library, entry_from_run


def test_entry_from_a_simulated_standard(tmp_path):
    run = standard_run(150, seed=5, threshold=60.0)  # an acquisition threshold, as in a lab
    run = run.replace(metadata=run.metadata.replace(source_path="/lab/std150.D",
                                                    instrument="GC-MS 1"))
    entry = entry_from_run(run, ANALYTE_RT + 1.0, name="Simalyte", cas="1-2-3",
                           retention_index=2345.0)
    spectrum = entry.spectrum
    assert spectrum.name == "Simalyte" and spectrum.cas == "1-2-3"
    assert spectrum.mz[np.argmax(spectrum.intensity)] == 342
    top = {int(m): i for m, i in zip(spectrum.mz, spectrum.intensity / spectrum.intensity.max(),
                                     strict=True)}
    assert top[344] == pytest.approx(0.39, abs=0.05) and top[313] == pytest.approx(0.35, abs=0.05)
    record = entry.provenance
    assert record["source_run"] == "/lab/std150.D" and record["sha256"] == "0" * 64
    assert record["instrument"] == "GC-MS 1" and record["retention_index"] == 2345.0
    assert record["rt_s"] == pytest.approx(ANALYTE_RT, abs=1.5)
    json.dumps(entry.to_dict())

    path = tmp_path / "lib.h5"
    first = add_to_library(path, entry)
    other = entry_from_run(run, 390.0, name="sim IS")
    second = add_to_library(path, other)
    assert len(second) == 2 and second.content_sha256 != first.content_sha256
    reopened = Library.open(path)
    assert reopened.entry(0).provenance["rt_s"] == pytest.approx(record["rt_s"])
    assert reopened.entry(1).name == "sim IS"
    with pytest.raises(LibraryError, match="already holds 'Simalyte'"):
        add_to_library(path, entry)
    with pytest.raises(LibraryError, match="no component within 5 s of 500 s"):
        entry_from_run(run, 500.0, name="nothing")
    with pytest.raises(LibraryError, match="needs a name"):
        entry_from_run(run, ANALYTE_RT, name=" ")


@pytest.fixture(scope="module")
def inhouse(tmp_path_factory):
    raw = shared_file("lrcfs-etizolam", "raw")
    path = tmp_path_factory.mktemp("inhouse") / "inhouse.h5"
    result = CliRunner().invoke(cli, [
        "library", "add", str(path), "--from-run", str(raw / "220223005.D"), "--rt", "615",
        "--name", "Etizolam", "--cas", "40054-69-1", "--formula", "C17H15ClN4S",
        "--inchikey", "VMZUTJCNQWMAGF-UHFFFAOYSA-N", "--json"])
    assert result.exit_code == 0, result.output
    return raw, path, json.loads(result.stdout)


@pytest.mark.shared
def test_entry_from_one_calibrator_identifies_etizolam_in_the_others(inhouse):
    raw, path, added = inhouse
    spectrum = added["spectrum"]
    assert spectrum["mz"][int(np.argmax(spectrum["intensity"]))] == 342
    library = Library.open(path)
    run5 = gcms.io.read(raw / "220223005.D")
    for n in ("002", "004", "006", "008"):
        components = [c for c in deconvolve(gcms.io.read(raw / f"220223{n}.D"))
                      if abs(c.rt_s - 615.0) <= 5.0]
        results = library.search([c.spectrum for c in components], top=1)
        best = max((r.hits[0] for r in results), key=lambda h: h.match_factor)
        assert best.name == "Etizolam" and best.match_factor >= 900, n
        provenance = best.to_dict()["provenance"]
        assert provenance["sha256"] == run5.metadata.sha256
        assert provenance["source_run"].endswith("220223005.D")
        assert provenance["rt_s"] == pytest.approx(615.5, abs=1.0)
        assert provenance["acquired_at"] == run5.metadata.acquired_at.isoformat()


@pytest.mark.shared
def test_library_add_refuses_duplicates_and_far_retention_times(inhouse):
    raw, path, _ = inhouse
    again = CliRunner().invoke(cli, ["library", "add", str(path), "--from-run",
                                     str(raw / "220223005.D"), "--rt", "615.3",
                                     "--name", "Etizolam"])
    assert again.exit_code == 2 and "already holds 'Etizolam'" in again.output
    far = CliRunner().invoke(cli, ["library", "add", str(path), "--from-run",
                                   str(raw / "220223005.D"), "--rt", "500", "--name", "X"])
    assert far.exit_code == 2 and "nearest" in far.output and "220223005.D" in far.output
    assert len(Library.open(path)) == 1
