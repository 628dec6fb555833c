"""mzML: real GC-Orbitrap profile data; runs written by psims and read back value by value."""

from __future__ import annotations

import atexit
import gzip
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file
from contract import MutationContract, ReaderContract

import gcms.io
from gcms import FormatError, Run, RunMetadata
from gcms.io import mzml

REAL = ("recetox-gc-orbitrap", "29_qc_no_dil_milliq_subset.mzML")


def _offline_psims() -> None:
    """Make psims load its vendored vocabularies, offline, with their files closed.

    Left alone, psims first tries to download the PSI-MS and UO ontologies and then
    falls back to its vendored copies through a GzipFile whose underlying file is never
    closed (a ResourceWarning, an error under this suite's filterwarnings).
    """
    import functools
    import io
    from gzip import GzipFile
    from importlib import resources

    from psims.controlled_vocabulary import controlled_vocabulary as cv

    def vendored(name):
        @functools.lru_cache(maxsize=1)
        def resolve(cache):
            folder = resources.files("psims.controlled_vocabulary.vendor")
            with GzipFile(fileobj=io.BytesIO((folder / name).read_bytes())) as handle:
                return cv.ControlledVocabulary.from_obo(handle, import_resolver=cache.load)
        return resolve

    for url, name in (("http://purl.obolibrary.org/obo/ms/psi-ms.obo", "psi-ms.obo.gz"),
                      ("http://purl.obolibrary.org/obo/uo.obo", "unit.obo.gz")):
        cv.register_resolver(url, vendored(name))


_offline_psims()


def _reference_run(n_scans: int = 12, seed: int = 7) -> Run:
    """A small EI run with uneven scans (one empty) and m/z needing 64 bits."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, 40, n_scans)
    counts[n_scans // 3] = 0
    mz = np.concatenate([np.sort(rng.uniform(35, 550, c)) for c in counts])
    mz = np.round(mz, 6) + 1e-7  # digits a 32-bit float would lose
    intensity = rng.uniform(10, 1e6, mz.size).astype(np.float32)
    return Run(
        scan_times=np.arange(n_scans) * 0.37 + 181.25,
        scan_offsets=np.concatenate(([0], np.cumsum(counts))),
        mz=mz, intensity=intensity,
        metadata=RunMetadata(sample_name="exhibit 7"),
    )


def _write_mzml(run: Run, path: Path, *, indexed: bool = True, profile: bool = False,
                mz_bits: int = 64, compression: str = "zlib", with_ms2: bool = True,
                time_unit: str = "minute", only_ms2: bool = False) -> Path:
    """Write ``run`` with psims (matchms' dependency), the way converters write mzML."""
    from psims.mzml.writer import MzMLWriter, PlainMzMLWriter

    writer_type = MzMLWriter if indexed else PlainMzMLWriter
    factor = 60.0 if time_unit == "minute" else 1.0
    with writer_type(open(path, "wb"), close=True) as out:  # noqa: SIM115 - psims closes it
        out.controlled_vocabularies()
        out.file_description(["MS1 spectrum", "profile spectrum" if profile
                              else "centroid spectrum"])
        out.sample_list([out.Sample("exhibit 7", id="sample_1")])
        out.software_list([{"id": "conv", "version": "3.0.1",
                            "params": ["ProteoWizard software"]}])
        source = out.Source(1, ["electron ionization"])
        analyzer = out.Analyzer(2, ["quadrupole"])
        detector = out.Detector(3, ["electron multiplier"])
        out.instrument_configuration_list([out.InstrumentConfiguration(
            id="ic", component_list=out.ComponentList([source, analyzer, detector]),
            params=["Agilent instrument model", {"instrument serial number": "US1234"}])])
        out.data_processing_list([out.DataProcessing(
            [out.ProcessingMethod(order=1, software_reference="conv",
                                  params=["Conversion to mzML"])], id="dp")])
        with out.run(id="run_42", instrument_configuration="ic",
                     start_time="2024-03-05T14:22:10Z", sample="sample_1"):
            with out.spectrum_list(count=run.n_scans * (2 if with_ms2 else 1)):
                for i in range(run.n_scans):
                    lo, hi = run.scan_offsets[i], run.scan_offsets[i + 1]
                    params = [{"ms level": 2 if only_ms2 else 1},
                              {"total ion current": float(run.tic[i])}]
                    out.write_spectrum(
                        run.mz[lo:hi], run.intensity[lo:hi], id=f"scan={2 * i + 1}",
                        centroided=not profile, scan_start_time=run.scan_times[i] / factor,
                        params=params, compression=compression,
                        encoding={"m/z array": np.float64 if mz_bits == 64 else np.float32,
                                  "intensity array": np.float32})
                    if with_ms2:
                        out.write_spectrum(
                            np.array([50.0, 91.0]), np.array([5.0, 7.0], np.float32),
                            id=f"scan={2 * i + 2}", centroided=True,
                            scan_start_time=(run.scan_times[i] + 0.1) / factor,
                            params=[{"ms level": 2}], compression=compression)
    if time_unit == "second":
        text = path.read_text(encoding="utf-8")
        text = text.replace('unitAccession="UO:0000031" unitName="minute"',
                            'unitAccession="UO:0000010" unitName="second"')
        path.write_text(text, encoding="utf-8")  # (the index offsets are not used)
    return path


def _gzip(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    target.write_bytes(gzip.compress(path.read_bytes()))
    return target


_MUTATION_DIR = Path(tempfile.mkdtemp(prefix="gcms-mzml-"))
atexit.register(shutil.rmtree, _MUTATION_DIR, ignore_errors=True)


class TestMzmlContract(ReaderContract, MutationContract):
    format_name = "mzml"
    holds = "runs"
    garbage_suffix = ".mzML"

    def sample_files(self, tmp_path):
        plain = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
        files = [plain, _gzip(plain)]
        real = SHARED_DATA.joinpath(*REAL)
        return files + ([real] if real.exists() else [])

    def mutation_files(self):
        plain = _write_mzml(_reference_run(4), _MUTATION_DIR / "small.mzML", indexed=False,
                            with_ms2=False)
        return [plain, _gzip(plain)]


# --------------------------------------------------------------------------- generated
@pytest.mark.parametrize("indexed", [True, False])
@pytest.mark.parametrize("compressed_file", [False, True])
@pytest.mark.parametrize(("mz_bits", "compression"), [(64, "zlib"), (64, "none"),
                                                      (32, "zlib")])
def test_written_run_reads_back_value_by_value(tmp_path, indexed, compressed_file, mz_bits,
                                               compression):
    run = _reference_run()
    path = _write_mzml(run, tmp_path / "run.mzML", indexed=indexed, mz_bits=mz_bits,
                       compression=compression)
    if compressed_file:
        path = _gzip(path)
    assert gcms.io.sniff(path) == "mzml"
    back = gcms.io.read(path)
    np.testing.assert_allclose(back.scan_times, run.scan_times, rtol=1e-12)
    np.testing.assert_array_equal(back.scan_offsets, run.scan_offsets)  # MS2 left out
    expected_mz = run.mz if mz_bits == 64 else run.mz.astype(np.float32).astype(np.float64)
    np.testing.assert_array_equal(back.mz, expected_mz)
    np.testing.assert_array_equal(back.intensity, run.intensity)
    np.testing.assert_allclose(back.tic, run.tic, rtol=1e-12)
    if mz_bits == 32:
        assert not np.array_equal(back.mz, run.mz)  # the test data do need 64 bits
    meta = back.metadata
    assert meta.format == "mzml" and meta.acquisition == "scan"
    assert meta.sample_name == "exhibit 7"
    assert meta.acquired_at.isoformat() == "2024-03-05T14:22:10+00:00"
    assert meta.instrument == "Agilent instrument model"
    assert meta.ionization == "electron ionization"
    assert meta.extra["run_id"] == "run_42"
    assert meta.extra["instrument_serial_number"] == "US1234"
    assert meta.extra["ms_levels"] == "MS1: 12, MS2: 12"
    assert "ProteoWizard software 3.0.1" in meta.extra["software"]


def test_times_in_seconds_and_profile_spectra(tmp_path):
    run = _reference_run()
    path = _write_mzml(run, tmp_path / "run.mzML", time_unit="second", profile=True)
    back = gcms.io.read(path)
    np.testing.assert_array_equal(back.scan_times, run.scan_times)
    assert back.metadata.acquisition == "profile"


def test_time_without_unit_is_refused(tmp_path):
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    text = re.sub(r'(name="scan start time" value="[^"]*") unitCvRef="[^"]*" '
                  r'unitAccession="[^"]*" unitName="[^"]*"', r"\1", path.read_text())
    path.write_text(text)
    with pytest.raises(FormatError, match="scan start time unit"):
        gcms.io.read(path)


def test_file_without_ms1_is_refused(tmp_path):
    path = _write_mzml(_reference_run(), tmp_path / "msms.mzML", with_ms2=False,
                       only_ms2=True)
    with pytest.raises(FormatError, match=r"no MS1 spectra \(holds 12 MS2\)"):
        gcms.io.read(path)


def test_damaged_binary_array_is_refused(tmp_path):
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    text = path.read_text()
    start = text.index("<binary>") + len("<binary>")
    path.write_text(text[:start] + "!!!!" + text[start + 4:])
    with pytest.raises(FormatError, match=re.escape(str(path))):
        gcms.io.read(path)


def test_sniffing_needs_mzml_content(tmp_path):
    plain = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    compressed = _gzip(plain)
    assert mzml.sniff(compressed, compressed.read_bytes()[:65536])
    other = tmp_path / "other.xml.gz"
    other.write_bytes(gzip.compress(b"<?xml version='1.0'?><mzXML></mzXML>"))
    assert not mzml.sniff(other, other.read_bytes())
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8bnot gzip at all")
    assert not mzml.sniff(broken, broken.read_bytes())


# --------------------------------------------------------------------------- real file
def test_real_orbitrap_profile_slice():
    path = shared_file(*REAL)
    run = gcms.io.read(path)
    assert run.n_scans == 44
    assert run.metadata.acquisition == "profile"
    assert run.rt_range_s == pytest.approx((289.34745, 295.140528))
    assert run.metadata.acquired_at.isoformat() == "2021-04-12T21:36:32"
    assert run.metadata.instrument == "Q Exactive"
    assert run.metadata.extra["filter_string"] == "FTMS + p EI Full ms [70.0000-700.0000]"
    assert run.metadata.ionization == "EI"
    # Every scan's point count is the defaultArrayLength the file states for it.
    stated = [int(n) for n in re.findall(rb'defaultArrayLength="(\d+)"', path.read_bytes())]
    np.testing.assert_array_equal(run.points_per_scan, stated)
    # The file's own TIC per scan is kept (the instrument's, over the full 70-700 window).
    assert run.tic[0] == pytest.approx(1.1191155e08)


def test_real_file_against_plain_pyteomics_iteration():
    from pyteomics import mzml as pyteomics_mzml

    path = shared_file(*REAL)
    run = gcms.io.read(path)
    with pyteomics_mzml.read(str(path)) as reader:
        spectra = [s for s in reader if s["ms level"] == 1]
    assert len(spectra) == run.n_scans
    for i, spectrum in enumerate(spectra):
        lo, hi = run.scan_offsets[i], run.scan_offsets[i + 1]
        np.testing.assert_array_equal(run.mz[lo:hi], spectrum["m/z array"])
        np.testing.assert_array_equal(run.intensity[lo:hi], spectrum["intensity array"])
        seconds = float(spectrum["scanList"]["scan"][0]["scan start time"])  # unit: second
        assert run.scan_times[i] == seconds
