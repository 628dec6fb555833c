"""Parity on every real NIST MS Search output in the shared data; DOS code page; registry."""

from __future__ import annotations

import pytest
from conftest import shared_file

from gcms.errors import FormatError
from gcms.interop.parity import nist_parity
from gcms.io import read, read_entries, read_results, read_spectra, sniff
from gcms.io.amdis_elu import EluReport
from gcms.io.nist_hitlist import HitListReport, decode_nist
from gcms.library import build_library

SRCRESLT = ("SRCRESLT-1.TXT", "SRCRESLT-2.TXT", "SRCRESLT-3.TXT", "SRCRESLT-4.TXT",
            "SRCRESLT-5.TXT")


def _all_nist_outputs():
    return [shared_file("amdis-nist-formats", "nist_srcreslt", name) for name in SRCRESLT] \
        + [shared_file("nist-hitlists", "SRCRESLT.TXT")]


@pytest.mark.shared
def test_parity_over_every_real_nist_output():
    folder = shared_file("nist-hitlists")
    library = build_library([folder / "library_massbank_alkanes.msp"]).library
    queries = {q.name: q for q in read_spectra(folder / "queries_alkanes.msp")}
    report = nist_parity(_all_nist_outputs(), libraries={"massbank_alkanes": library},
                         queries=queries)
    summary = report.summary()
    # every hit line of the six files is counted; the 30 whose spectra we hold are exact
    assert summary["files"] == 6 and summary["hits"] == 426 + 10 + 14 + 2550 + 480 + 30
    assert summary["scored"] == 30
    assert summary["max_abs_mf"] == summary["max_abs_rmf"] == 0.0
    assert summary["mean_abs_mf"] == summary["mean_abs_rmf"] == 0.0
    # the ChemClipse files searched NIST mainlib/replib, which no one may redistribute
    assert set(summary["unscored"]) == {"library 'mainlib' not held",
                                        "library 'replib' not held"}


@pytest.mark.shared
def test_dos_code_page_greek_letters_of_real_nist_output():
    def names(name):
        report = read_results(shared_file("amdis-nist-formats", "nist_srcreslt", name))
        assert any("DOS code page" in note for note in report.notes)
        return {h.cas: h.name for hl in report.hit_lists for h in hl.hits}

    first, fourth, fifth = names("SRCRESLT-1.TXT"), names("SRCRESLT-4.TXT"), \
        names("SRCRESLT-5.TXT")
    assert first["60-15-1"] == "Benzeneethanamine, α-methyl-"  # amphetamine
    assert fourth["2305-05-7"] == "γ-Dodecalactone"
    assert fourth["939-52-6"] == "γ-Chlorobutyrophenone"
    assert fifth["2665-03-4"] == "Cholest-7-en-3-ol, (3β,5α)-, TMS derivative"
    assert not any(c in "àáç" for n in (*first.values(), *fourth.values()) for c in n)


def test_dos_decoding_only_for_nist_greek_bytes():
    assert decode_nist("ε-Caprolactam".encode()) == ("ε-Caprolactam", None)
    assert decode_nist(b"\xe0-Pinene") == ("α-Pinene", "nist-dos")
    # a byte NIST does not use for Greek: Windows-1252 as before
    assert decode_nist(b"Caf\xe9 \xe0") == ("Café à", "cp1252")


@pytest.mark.shared
def test_registry_picks_the_other_tools_files():
    elu = shared_file("amdis-nist-formats", "amdis_elu", "Peaks1.ELU")
    hits = shared_file("amdis-nist-formats", "nist_srcreslt", "SRCRESLT-4.TXT")
    msl = shared_file("amdis-nist-formats", "amdis_msl", "Chromtogram.msl")
    assert (sniff(elu), sniff(hits), sniff(msl)) == ("amdis-elu", "nist-hitlist", "msp")
    assert isinstance(read_results(elu), EluReport)
    assert len(read_results(elu).components) == 1154
    assert isinstance(read_results(hits), HitListReport)
    assert len(read_entries(msl).spectra) == 279
    with pytest.raises(FormatError, match="use gcms.io.read_results"):
        read(elu)
    with pytest.raises(FormatError, match="use gcms.io.read_results"):
        read_entries(hits)
    with pytest.raises(FormatError, match="not another tool's results"):
        read_results(msl)


def test_registry_reads_a_generated_elu(tmp_path):
    path = tmp_path / "run.ELU"
    path.write_text("NAME: |SC12|CN1|MP1-MODN:91(%95)|AM1000|PC50|SN40|WD5|FR10-14|RT1.5|"
                    "MO1: 91\nRE\n1 5 9 5 1\nNUM PEAKS: 3\n(65,120 )(91,999 )(92,70 )\n",
                    encoding="ascii")
    report = read_results(path)
    assert [c.scan for c in report.components] == [12]
    assert report.components[0].spectrum.mz.tolist() == [65.0, 91.0, 92.0]
