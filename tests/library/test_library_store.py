"""The compiled library: build from files and folders, HDF5 round trip, hash, append."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from gcms import Spectrum
from gcms.errors import LibraryError
from gcms.io.msp import write as write_msp
from gcms.library import Library, build_library
from gcms.library.store import content_sha256

AMPHETAMINE = Spectrum([44.0, 65.0, 91.0, 120.0, 134.0], [999.0, 60.0, 280.0, 20.0, 8.0],
                       name="Amphetamine", cas="300-62-9", formula="C9H13N", mw=135.0,
                       inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-N", retention_index=1125.0,
                       ri_column="semi-standard non-polar",
                       synonyms=("alpha-methylphenethylamine",))
METHAMPHETAMINE = Spectrum([58.0, 65.0, 91.0, 134.0, 148.0], [999.0, 50.0, 150.0, 10.0, 4.0],
                           name="Methamphetamine", cas="537-46-2", mw=149.0,
                           retention_index=1175.0)


@pytest.fixture
def msp_file(tmp_path):
    path = tmp_path / "drugs.msp"
    write_msp([AMPHETAMINE, METHAMPHETAMINE], path)
    return path


def test_build_reads_files_and_folders_and_reports_what_it_left_out(tmp_path, msp_file):
    folder = tmp_path / "more"
    (folder / "deep").mkdir(parents=True)
    write_msp([AMPHETAMINE.replace(name="Amphetamine (2)")], folder / "deep" / "a.msp")
    (folder / "notes.txt").write_text("not a spectrum\n")
    bad = folder / "bad.msp"
    bad.write_text("Name: no peaks\nNum Peaks: 0\n\nName: negative\nNum Peaks: 2\n"
                   "41 -5\n43 100\n\nName: fine\nNum Peaks: 1\n43 100\n")
    report = build_library([msp_file, folder], tmp_path / "lib.h5")
    assert report.n_entries == 4
    skipped = [(s.entry, s.source.rsplit("/", 1)[-1], s.reason) for s in report.skipped]
    assert len(skipped) == 2 and all(f == "bad.msp" and r for _, f, r in skipped)
    assert "no peaks" in skipped[0][0] and "negative" in skipped[1][0]
    assert any("notes.txt" in p for p in report.ignored)
    assert not report.failed
    info = Library.open(report.path).info()
    assert info["n_entries"] == 4 and info["n_skipped"] == 2
    assert {s["path"].rsplit("/", 1)[-1] for s in info["sources"]} == {"drugs.msp", "a.msp",
                                                                         "bad.msp"}


def test_a_named_file_that_cannot_be_read_is_reported_as_failed(tmp_path, msp_file):
    garbage = tmp_path / "garbage.msp"
    garbage.write_bytes(b"\x00\x01\x02 not msp")
    report = build_library([msp_file, garbage])
    assert report.n_entries == 2
    assert [f.source for f in report.failed] == [str(garbage)]
    with pytest.raises(LibraryError, match="no usable spectrum"):
        build_library([garbage])


def test_round_trip_keeps_spectra_metadata_and_hash(tmp_path, msp_file):
    library = build_library([msp_file]).library
    path = library.write(tmp_path / "lib.h5")
    again = Library.open(path)
    assert again.content_sha256 == library.content_sha256 == content_sha256(again.peaks,
                                                                            again._columns)
    entry = again.entry(0)
    assert entry.name == "Amphetamine" and entry.cas == "300-62-9"
    assert entry.retention_index == 1125.0 and entry.ri_column == "semi-standard non-polar"
    assert entry.synonyms == ("alpha-methylphenethylamine",)
    assert entry.source_file.endswith("drugs.msp") and len(entry.source_sha256) == 64
    spectrum = again.spectrum(0)
    np.testing.assert_array_equal(spectrum.mz, [44, 65, 91, 120, 134])
    np.testing.assert_array_equal(spectrum.intensity, [999, 60, 280, 20, 8])
    assert not again.peaks.mz.flags.writeable
    # The same sources give the same content hash, wherever and whenever written.
    assert build_library([msp_file]).library.content_sha256 == library.content_sha256


def test_an_altered_library_is_refused(tmp_path, msp_file):
    path = build_library([msp_file], tmp_path / "lib.h5").path
    with h5py.File(path, "r+") as h5:  # test only: tamper with a stored abundance
        data = h5["peaks/abundance"]
        data[0] = data[0] - 1
    with pytest.raises(LibraryError, match="content hash"):
        Library.open(path)
    assert len(Library.open(path, verify=False)) == 2


@pytest.mark.parametrize("content", [b"", b"plain text", b"\x89HDF\r\n\x1a\n broken"])
def test_not_a_library_is_refused_with_the_path(tmp_path, content):
    path = tmp_path / "x.h5"
    path.write_bytes(content)
    with pytest.raises(LibraryError, match="x.h5"):
        Library.open(path)


def test_other_hdf5_files_and_versions_are_refused(tmp_path, msp_file):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5:
        h5.attrs["format"] = "something else"
    with pytest.raises(LibraryError, match="not a gcms library"):
        Library.open(other)
    path = build_library([msp_file], tmp_path / "lib.h5").path
    with h5py.File(path, "r+") as h5:
        h5.attrs["format_version"] = 99
    with pytest.raises(LibraryError, match="version 99"):
        Library.open(path)


def test_append_in_house_entries_with_provenance(tmp_path, msp_file):
    library = build_library([msp_file]).library
    record = {"run": "/cases/2024-17/run042.D", "run_sha256": "ab" * 32,
              "instrument": "GCMS-2", "acquired_at": "2024-05-02T10:11:00", "rt_seconds": 412.3,
              "retention_index": 1126.0}
    grown = library.append([AMPHETAMINE.replace(name="Amphetamine (in-house)")],
                           provenance=[record])
    assert len(grown) == 3 and grown.content_sha256 != library.content_sha256
    path = grown.write(tmp_path / "lib.h5")
    reopened = Library.open(path)
    assert reopened.entry(2).provenance == record
    assert reopened.entry(0).provenance is None
    assert reopened.info()["n_in_house"] == 1
    hits = reopened.search(AMPHETAMINE, top=3)[0].hits
    assert {h.library_index for h in hits[:2]} == {0, 2}
    assert [h.provenance for h in hits if h.library_index == 2] == [record]
    assert json.loads(json.dumps(hits[0].to_dict()))["library_sha256"] == reopened.content_sha256


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path, msp_file):
    library = build_library([msp_file]).library
    path = library.write(tmp_path / "lib.h5")
    library.write(path)  # replacing an existing file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drugs.msp", "lib.h5"]


def test_spectra_without_peaks_cannot_enter_a_library():
    with pytest.raises(LibraryError, match="Empty"):
        Library.from_spectra([Spectrum([50.0], [0.0], name="Empty")])
