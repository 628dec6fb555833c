"""A library's identity covers its title and sources; a lab profile pins the ones it accepts."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore
from gcms.custody.verify import load_library_pins
from gcms.errors import CustodyError
from gcms.library import Library
from gcms.spectrum import Spectrum

SOURCES = [{"path": "/lab/libs/demo.msp", "sha256": "ab" * 32, "n_entries": 2}]


def _library(title: str, sources=SOURCES) -> Library:
    spectra = [Spectrum([58.0, 91.0], [999.0, 120.0], name="Amphetamine"),
               Spectrum([82.0, 182.0], [999.0, 300.0], name="Cocaine")]
    return Library.from_spectra(spectra, title=title, sources=sources)


def test_identity_covers_title_and_sources_not_only_spectra():
    demo = _library("demo library (NOT FOR CASEWORK)")
    renamed = _library("NIST 23 (validated)")
    moved = _library("demo library (NOT FOR CASEWORK)",
                     [{**SOURCES[0], "path": "/elsewhere/demo.msp"}])
    other = _library("demo library (NOT FOR CASEWORK)", [{**SOURCES[0], "sha256": "cd" * 32}])
    assert demo.content_sha256 == renamed.content_sha256  # the same spectra
    assert renamed.identity_sha256 != demo.identity_sha256  # but not the same library
    assert moved.identity_sha256 == demo.identity_sha256  # where it was built is not it
    assert other.identity_sha256 != demo.identity_sha256
    assert demo.info()["identity_sha256"] == demo.identity_sha256


def test_a_lab_profile_pins_the_libraries_it_accepts(sqlite_location, tmp_path):
    demo, renamed = _library("demo"), _library("NIST 23 (validated)")
    with CaseStore(sqlite_location, actor="jdoe") as store:
        store.open_case("C1")
        for library in (demo, renamed):
            store.record_analysis("C1", run_ids=[], parameters={"library": {
                "title": library.title, "content_sha256": library.content_sha256,
                "identity_sha256": library.identity_sha256}})
    profile = tmp_path / "lab.toml"
    profile.write_text(f'[library]\naccepted_sha256 = ["{demo.identity_sha256}"]\n',
                       encoding="utf-8")
    pins = load_library_pins(profile)
    with CaseStore(sqlite_location, actor="jdoe", create=False) as store:
        assert store.verify().ok
        report = store.verify(libraries=pins)
    [finding] = report.findings
    assert finding.subject == "analysis A2 of case C1"
    assert "used library 'NIST 23 (validated)'" in finding.problem
    assert "rule: an analysis uses a library the lab's method or profile accepts" in (
        finding.problem)
    result = CliRunner().invoke(cli, ["custody", "verify", "--store", sqlite_location,
                                      "--libraries", str(profile)])
    assert result.exit_code == 1 and "not one the lab accepts" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[library]\naccepted_sha256 = ['nope']\n", encoding="utf-8")
    with pytest.raises(CustodyError, match="non-empty list of SHA-256"):
        load_library_pins(bad)
