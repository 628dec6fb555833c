"""Libraries written by gcms (MSP, AMDIS MSL) read back by gcms and by matchms, without loss."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from gcms.io import msp
from gcms.spectrum import Spectrum


def _generated() -> list[Spectrum]:
    return [
        Spectrum([43, 58, 71.5, 85], [120, 999, 33.25, 7], name="Ethyl-β-methyl ketone (µ test)",
                 synonyms=("EMK",), cas="78-93-3", formula="C4H8O", mw=72,
                 retention_index=1404, ri_column="semi-standard non-polar", rt_seconds=312.6,
                 comment="lab standard 2026-11", extra={"Lab_ID": "STD-0042"}),
        Spectrum([82, 182, 303], [500, 999, 260], name="Cocaine", cas="50-36-2", mw=303),
    ]


def _same(a: Spectrum, b: Spectrum) -> bool:
    return (np.array_equal(a.mz, b.mz) and np.array_equal(a.intensity, b.intensity)
            and (a.name, a.synonyms, a.cas, a.formula, a.mw, a.retention_index, a.ri_column,
                 a.rt_seconds, a.comment) == (b.name, b.synonyms, b.cas, b.formula, b.mw,
                                              b.retention_index, b.ri_column, b.rt_seconds,
                                              b.comment)
            and {k: v for k, v in a.extra.items() if not k.startswith("msp.")}
            == {k: v for k, v in b.extra.items() if not k.startswith("msp.")})


def test_msl_written_reads_back_identically(tmp_path):
    spectra = _generated()
    msp.write_msl(spectra, tmp_path / "lab.msl")
    text = (tmp_path / "lab.msl").read_bytes()
    assert b"NAME:Cocaine\r\n" in text and b"CASNO:50-36-2" in text
    assert b"(82 500) (182 999) (303 260)" in text
    back = msp.read_entries(tmp_path / "lab.msl")
    assert back.skipped == [] and len(back.spectra) == 2
    assert all(_same(a, b) for a, b in zip(spectra, back.spectra, strict=True))


@pytest.mark.shared
def test_real_msl_rewritten_reads_back_identically(tmp_path):
    source = shared_file("amdis-nist-formats", "amdis_msl", "Chromtogram.msl")
    spectra = msp.read_entries(source).spectra
    assert len(spectra) == 279
    msp.write_msl(spectra, tmp_path / "again.msl")
    back = msp.read_entries(tmp_path / "again.msl")
    assert back.skipped == []
    assert all(_same(a, b) for a, b in zip(spectra, back.spectra, strict=True))
    # Five pairs a line, as AMDIS writes them.
    lines = (tmp_path / "again.msl").read_text().splitlines()
    assert max(line.count("(") for line in lines) == 5


def _matchms_entries(path):
    importing = pytest.importorskip("matchms.importing")
    return list(importing.load_from_msp(str(path)))


def test_matchms_reads_gcms_msp_without_loss(tmp_path):
    spectra = _generated()
    msp.write(spectra, tmp_path / "lab.msp")
    theirs = _matchms_entries(tmp_path / "lab.msp")
    assert [s.get("compound_name") for s in theirs] == [s.name for s in spectra]
    for ours, other in zip(spectra, theirs, strict=True):
        assert np.array_equal(other.peaks.mz, ours.mz)
        assert np.array_equal(other.peaks.intensities, ours.intensity)


@pytest.mark.shared
def test_matchms_reads_a_real_library_rewritten_by_gcms(tmp_path):
    spectra = msp.read_entries(shared_file("nist-hitlists", "library_massbank_alkanes.msp")).spectra
    msp.write(spectra, tmp_path / "alkanes.msp")
    theirs = _matchms_entries(tmp_path / "alkanes.msp")
    assert len(theirs) == len(spectra) > 0
    assert [s.get("compound_name") for s in theirs] == [s.name for s in spectra]
    assert all(np.array_equal(o.peaks.mz, s.mz) and np.array_equal(o.peaks.intensities,
                                                                  s.intensity)
               for s, o in zip(spectra, theirs, strict=True))
