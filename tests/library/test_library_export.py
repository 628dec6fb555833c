"""``gcms library export``: a compiled library back to MSP / AMDIS MSL, read back equal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import shared_file
from gcms_cli.main import cli

from gcms import Spectrum
from gcms.errors import LibraryError
from gcms.io.msp import read_entries
from gcms.library import Library, build_library
from gcms.library.governance import export_library

SPECTRA = [
    Spectrum([44.0, 65.0, 91.0, 120.0], [1000.0, 60.0, 280.0, 20.0], name="Amphetamine",
             synonyms=("alpha-methylphenethylamine",), cas="300-62-9", formula="C9H13N",
             mw=135.0, inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-N", retention_index=1118.0,
             ri_column="semi-standard non-polar", comment="in-house test entry"),
    Spectrum([82.0, 94.0, 182.0, 303.0], [999.0, 300.0, 500.0, 200.0], name="Cocaine",
             cas="50-36-2"),
]


def _check_round_trip(library: Library, path) -> None:
    back = read_entries(path)
    assert not back.skipped
    assert len(back.spectra) == len(library)
    for i, got in enumerate(back.spectra):
        want = library.spectrum(i)
        np.testing.assert_array_equal(got.mz, want.mz)
        np.testing.assert_array_equal(got.intensity, want.intensity)
        for name in ("name", "synonyms", "cas", "formula", "mw", "inchikey",
                     "retention_index", "ri_column", "comment"):
            assert getattr(got, name) == getattr(want, name), name
        assert got.extra["Library_SHA256"] == library.identity_sha256


def _check_matchms(library: Library, path) -> None:
    from matchms.importing import load_from_msp

    loaded = list(load_from_msp(str(path)))
    assert len(loaded) == len(library)
    for i, spectrum in enumerate(loaded):
        want = library.spectrum(i)
        assert spectrum.get("compound_name") == want.name
        np.testing.assert_array_equal(spectrum.peaks.mz, want.mz)
        np.testing.assert_array_equal(spectrum.peaks.intensities, want.intensity)


@pytest.mark.parametrize("fmt", ["msp", "msl"])
def test_export_generated(tmp_path, fmt):
    lib = Library.from_spectra(SPECTRA, title="in-house v3")
    out = export_library(lib, tmp_path / f"lib.{fmt}")
    _check_round_trip(lib, out)
    text = out.read_text(encoding="utf-8")
    assert "Library: in-house v3" in text
    if fmt == "msl":
        assert "NAME:Amphetamine" in text and "(44 999)" in text  # base peak as compiled
    else:
        _check_matchms(lib, out)
    # the compiled spectrum scaled 1000 -> 999: export writes what the library holds
    assert lib.spectrum(0).intensity[0] == 999.0


def test_export_real_msp_and_massbank(tmp_path):
    msp = shared_file("nist-hitlists", "library_massbank_alkanes.msp")
    record = shared_file("massbank-ei", "RIKEN", "MSBNK-RIKEN-PR010001.txt")
    lib = build_library([msp, record], tmp_path / "lib.h5", title="alkanes").library
    for fmt in ("msp", "msl"):
        out = export_library(lib, tmp_path / f"out.{fmt}")
        _check_round_trip(lib, out)
    _check_matchms(lib, tmp_path / "out.msp")
    first = read_entries(tmp_path / "out.msp").spectra[0]
    assert first.extra["Source_File"] == "library_massbank_alkanes.msp"
    assert first.extra["Source_SHA256"] == lib.entry(0).source_sha256
    # the export rebuilt is the same spectra and metadata
    rebuilt = build_library([tmp_path / "out.msp"], tmp_path / "again.h5").library
    assert np.array_equal(rebuilt.peaks.abundance, lib.peaks.abundance)
    assert list(rebuilt.column("name")) == list(lib.column("name"))


def test_export_errors(tmp_path):
    lib = Library.from_spectra(SPECTRA)
    with pytest.raises(LibraryError, match="export format 'txt'"):
        export_library(lib, tmp_path / "out.txt")
    nameless = Library.from_spectra([SPECTRA[1].replace(name=None)])
    with pytest.raises(LibraryError, match="entry 1 has no name"):
        export_library(nameless, tmp_path / "out.msp")


def test_export_cli(tmp_path):
    lib = Library.from_spectra(SPECTRA, title="t")
    h5 = lib.write(tmp_path / "lib.h5")
    runner = CliRunner()
    out = tmp_path / "x.lib"
    done = runner.invoke(cli, ["library", "export", str(h5), "-o", str(out), "--format", "msl"])
    assert done.exit_code == 0, done.output
    assert lib.identity_sha256 in done.output
    _check_round_trip(lib, out)
    bad = runner.invoke(cli, ["library", "export", str(tmp_path / "none.h5"), "-o",
                              str(tmp_path / "y.msp")])
    assert bad.exit_code == 2 and "none.h5" in bad.output
    info = json.loads(runner.invoke(cli, ["library", "info", str(h5), "--json"]).output)
    assert info["identity_sha256"] == lib.identity_sha256
