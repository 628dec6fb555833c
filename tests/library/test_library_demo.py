"""The shipped demo library: authored, reproducible, and good enough for its tests."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

from gcms import Spectrum
from gcms.io import read_spectra
from gcms.library import Library, build_library

FOLDER = Path(__file__).resolve().parents[2] / "spectral_libraries"


@pytest.fixture(scope="module")
def demo():
    return Library.open(FOLDER / "demo_drugs.h5")


@pytest.fixture(scope="module")
def author():
    spec = importlib.util.spec_from_file_location("make_demo_library",
                                                  FOLDER / "make_demo_library.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compiled_library_is_the_msp_source_compiled(demo, tmp_path):
    cwd = os.getcwd()
    try:
        os.chdir(FOLDER)  # entries record their source relative to the folder
        rebuilt = build_library(["demo_drugs.msp"]).library
    finally:
        os.chdir(cwd)
    assert rebuilt.content_sha256 == demo.content_sha256


def test_the_authoring_script_gives_the_shipped_source(author, tmp_path):
    from gcms.io.msp import write

    write(author.demo_spectra(), tmp_path / "again.msp")
    assert (tmp_path / "again.msp").read_bytes() == (FOLDER / "demo_drugs.msp").read_bytes()


def test_every_entry_is_marked_demo_and_carries_a_retention_index(demo):
    names = list(demo.column("name"))
    assert {"Amphetamine", "Methamphetamine", "MDMA", "Cocaine", "Heroin", "Caffeine",
            "Fenetylline", "Etizolam", "Levamisole"} <= set(names)
    for i in range(len(demo)):
        entry = demo.entry(i)
        assert "not for casework" in entry.comment
        assert entry.retention_index is not None and entry.ri_column
    alkanes = {demo.entry(i).formula: demo.entry(i).retention_index for i in range(len(demo))
               if demo.entry(i).formula and demo.entry(i).formula.endswith(
                   "H" + str(2 * int(demo.entry(i).formula[1:].split("H")[0]) + 2))}
    assert {f"C{n}H{2 * n + 2}" for n in range(8, 41)} <= set(alkanes)
    assert alkanes["C20H42"] == 2000.0


def test_amphetamine_and_methamphetamine_are_told_apart(demo):
    amphetamine = Spectrum([44.0, 65.0, 91.0, 120.0], [999.0, 70.0, 240.0, 25.0])
    methamphetamine = Spectrum([58.0, 65.0, 91.0, 134.0], [999.0, 45.0, 110.0, 25.0])
    a, m = demo.search([amphetamine, methamphetamine], top=2)
    assert a.hits[0].name == "Amphetamine" and a.hits[0].match_factor > 800
    assert m.hits[0].name == "Methamphetamine" and m.hits[0].match_factor > 800


def test_alkane_model_has_the_series_and_a_molecular_ion(author):
    for n in (8, 12, 20, 40):
        peaks = author.alkane_spectrum(n)
        assert max(peaks, key=peaks.get) == (43 if n == 8 else 57)
        assert 14 * n + 2 in peaks  # molecular ion
        assert all(peaks[14 * k + 1] > 0 for k in range(2, n))


@pytest.mark.shared
@pytest.mark.parametrize("record, name", [
    ("Fac_Eng_Univ_Tokyo", "Caffeine"), ("Fac_Eng_Univ_Tokyo", "Theophylline"),
    ("Fac_Eng_Univ_Tokyo", "Paracetamol"), ("Fac_Eng_Univ_Tokyo", "Amphetamine"),
    ("Fac_Eng_Univ_Tokyo", "Diazepam"), ("Fac_Eng_Univ_Tokyo", "Cocaine"),
])
def test_real_spectra_find_their_demo_entry(demo, record, name):
    folder = shared_file("massbank-ei", record)
    wanted = {"Caffeine": "1,3,7-TRIMETHYLXANTHINE", "Theophylline": "THEOPHYLLINE",
              "Paracetamol": "4-HYDROXYACETANILIDE", "Amphetamine":
              "ALPHA-METHYL-BENZENEETHANAMINE", "Diazepam": "DIAZEPAM", "Cocaine": "COCAINE"}
    found = []
    for path in sorted(folder.glob("*.txt")):
        with open(path, encoding="utf-8") as handle:
            head = handle.read(400)
        if f"CH$NAME: {wanted[name]}\n" in head:
            found.append(path)
    assert found, f"no {name} record in {folder}"
    queries = [s for p in found for s in read_spectra(p)]
    results = demo.search(queries, top=1)
    assert [r.hits[0].name for r in results] == [name] * len(queries)
    assert np.min([r.hits[0].match_factor for r in results]) > 400
