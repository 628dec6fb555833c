"""mzML: real GC-Orbitrap profile data; runs written by psims and read back value by value."""

from __future__ import annotations

import atexit
import base64
import gzip
import math
import re
import shutil
import tempfile
import zlib
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


# --------------------------------------------------------------------------- MS-Numpress
# The golden arrays of docs/ms-numpress.md, derived there nibble by nibble.
GOLDEN_LINEAR = bytes.fromhex("408F400000000000" "B8880000" "AC8A0000" "646D44D0")
GOLDEN_PIC = bytes.fromhex("87F087654321")
GOLDEN_SLOF = bytes.fromhex("4059000000000000" "0000" "E600")

#: codec -> (accession, name) of the Numpress term alone and followed by zlib.
NUMPRESS_TERMS = {
    "linear": (("MS:1002312", "MS-Numpress linear prediction compression"),
               ("MS:1002746", "MS-Numpress linear prediction compression followed by zlib "
                              "compression")),
    "pic": (("MS:1002313", "MS-Numpress positive integer compression"),
            ("MS:1002747", "MS-Numpress positive integer compression followed by zlib "
                           "compression")),
    "slof": (("MS:1002314", "MS-Numpress short logged float compression"),
             ("MS:1002748", "MS-Numpress short logged float compression followed by zlib "
                            "compression")),
}


def _decoder(codec):
    from gcms.io import _numpress

    return getattr(_numpress, f"decode_{codec}")


def _encode(codec: str, values: np.ndarray) -> bytes:
    """``values`` encoded by pynumpress the way msconvert does (optimal fixed point)."""
    import pynumpress

    values = np.ascontiguousarray(values, dtype=np.float64)
    if codec == "linear":
        encoded = pynumpress.encode_linear(values, pynumpress.optimal_linear_fixed_point(values))
    elif codec == "slof":
        encoded = pynumpress.encode_slof(values, pynumpress.optimal_slof_fixed_point(values))
    else:
        encoded = pynumpress.encode_pic(values)
    return bytes(encoded)


def _pynumpress_decode(codec: str, encoded: bytes) -> np.ndarray:
    """pynumpress' decoding; a one-value linear array (12 bytes), which pynumpress refuses
    although the specification and the reference decoder return its value, by the formula.
    """
    import pynumpress

    if codec == "linear" and len(encoded) == 12:
        fixed_point = np.frombuffer(encoded[:8], ">f8")[0]
        return np.array([int.from_bytes(encoded[8:], "little") / fixed_point])
    return getattr(pynumpress, f"decode_{codec}")(np.frombuffer(encoded, np.uint8))


def _codec_cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240305)
    centroids = np.sort(rng.uniform(35, 550, 400)).round(4)
    intensities = rng.uniform(0, 1e7, 400)
    intensities[rng.random(400) < 0.2] = 0.0
    return {
        "centroid m/z": centroids,
        # a profile m/z axis: a constant step, so most residuals are 0 (one nibble, head 8)
        "profile m/z": 70.0 + 0.0015 * np.arange(3000),
        # m/z out of order: negative residuals, many needing all 9 nibbles
        "jumpy m/z": rng.uniform(35, 550, 300),
        "intensities": intensities,
        "large counts": np.array([0, 1, 15, 16, 2**28 - 1, 2**28, 305419896, 2**31 - 2.0]),
        "empty": np.empty(0),
        "one value": np.array([281.0475]),
        "two values": np.array([73.0470, 147.0660]),
    }


CODEC_CASES = {
    "linear": ["centroid m/z", "profile m/z", "jumpy m/z", "empty", "one value", "two values"],
    "pic": ["intensities", "large counts", "empty", "one value", "two values"],
    "slof": ["intensities", "large counts", "empty", "one value", "two values"],
}


def _linear_residuals(values: np.ndarray, fixed_point: float) -> np.ndarray:
    ints = np.floor(values * fixed_point + 0.5).astype(np.int64)
    return ints[2:] - 2 * ints[1:-1] + ints[:-2]


def test_numpress_golden_arrays():
    linear = _decoder("linear")(GOLDEN_LINEAR)
    np.testing.assert_array_equal(linear, np.array([35000, 35500, 36100, 36000]) / 1000.0)
    np.testing.assert_array_equal(_decoder("pic")(GOLDEN_PIC), [0.0, 15.0, 305419896.0])
    slof = _decoder("slof")(np.frombuffer(GOLDEN_SLOF, np.uint8))
    # exp of the C library, as in the reference decoder (Python's math.exp is that one)
    np.testing.assert_array_equal(slof, [0.0, math.exp(230 / 100.0) - 1.0])
    assert linear.dtype == np.float64
    # The documented lengths: 8 bytes is empty, 12 one value, a pic stream may be empty.
    assert _decoder("linear")(GOLDEN_LINEAR[:8]).size == 0
    np.testing.assert_array_equal(_decoder("linear")(GOLDEN_LINEAR[:12]), [35.0])
    np.testing.assert_array_equal(_decoder("linear")(GOLDEN_LINEAR[:16]), [35.0, 35.5])
    assert _decoder("pic")(b"").size == 0
    assert _decoder("slof")(GOLDEN_SLOF[:8]).size == 0


@pytest.mark.parametrize(("codec", "case"),
                         [(codec, case) for codec, cases in CODEC_CASES.items()
                          for case in cases])
def test_numpress_decoders_match_pynumpress(codec, case):
    pytest.importorskip("pynumpress")
    values = _codec_cases()[case]
    encoded = _encode(codec, values)
    ours = _decoder(codec)(encoded)
    assert ours.dtype == np.float64 and ours.shape == values.shape
    # bit for bit the independent decoder's values, from bytes or from a uint8 array
    np.testing.assert_array_equal(ours, _pynumpress_decode(codec, encoded))
    np.testing.assert_array_equal(_decoder(codec)(np.frombuffer(encoded, np.uint8)), ours)
    if not values.size:
        return
    # and each codec's documented precision against the values encoded
    if codec == "linear":
        fixed_point = np.frombuffer(encoded[:8], ">f8")[0]
        assert np.abs(ours - values).max() <= 0.5 / fixed_point * (1 + 1e-9)
        if case == "jumpy m/z":
            residuals = _linear_residuals(values, fixed_point)
            assert (residuals < 0).any()
            assert ((residuals >= 2**28) | (residuals < -(2**28))).any()  # 9 nibbles
    elif codec == "pic":
        assert np.abs(ours - values).max() <= 0.5
        assert (ours == np.floor(values + 0.5)).all()
    else:
        fixed_point = np.frombuffer(encoded[:8], ">f8")[0]
        log_error = np.abs(np.log1p(ours) - np.log1p(values)).max()
        assert log_error <= 0.5 / fixed_point * (1 + 1e-9)


def test_numpress_long_array_decodes_exactly():
    """A long profile m/z axis (200,000 points) decodes like the reference."""
    pytest.importorskip("pynumpress")
    rng = np.random.default_rng(3)
    mz = 35.0 + np.cumsum(rng.uniform(0.0005, 0.02, 200_000))
    encoded = _encode("linear", mz)
    np.testing.assert_array_equal(_decoder("linear")(encoded),
                                  _pynumpress_decode("linear", encoded))


@pytest.mark.parametrize(("codec", "case"), [("linear", "centroid m/z"), ("linear", "jumpy m/z"),
                                             ("pic", "intensities"), ("slof", "intensities")])
def test_numpress_truncation_raises_or_gives_a_prefix(codec, case):
    """Cut anywhere, an array decodes to its first values or raises ValueError, never more."""
    pytest.importorskip("pynumpress")
    encoded = _encode(codec, _codec_cases()[case][:60])
    full = _decoder(codec)(encoded)
    raised = prefixes = 0
    for cut in range(len(encoded)):
        try:
            part = _decoder(codec)(encoded[:cut])
        except ValueError as error:
            assert str(error).startswith("MS-Numpress")
            raised += 1
        else:
            assert part.size < full.size
            np.testing.assert_array_equal(part, full[:part.size])
            prefixes += 1
    assert raised and prefixes


@pytest.mark.parametrize(("codec", "data", "message"), [
    ("linear", GOLDEN_LINEAR[:5], "not a whole array"),
    ("linear", GOLDEN_LINEAR[:10], "not a whole array"),
    ("linear", GOLDEN_LINEAR[:14], "not a whole array"),
    ("linear", GOLDEN_LINEAR[:18], "runs past the end"),
    ("linear", bytes.fromhex("7FF8000000000000") + GOLDEN_LINEAR[8:], "fixed point nan"),
    ("linear", bytes(8) + GOLDEN_LINEAR[8:], "fixed point 0.0"),
    ("pic", bytes.fromhex("0123"), "runs past the end"),
    ("slof", GOLDEN_SLOF[:7], "not 8 fixed-point bytes"),
    ("slof", GOLDEN_SLOF[:11], "not 8 fixed-point bytes"),
    ("slof", bytes.fromhex("C059000000000000") + GOLDEN_SLOF[8:], "fixed point -100.0"),
])
def test_numpress_damaged_arrays_are_refused(codec, data, message):
    with pytest.raises(ValueError, match=message):
        _decoder(codec)(data)


def test_numpress_random_bytes_never_crash():
    """Any bytes: a float64 array or ValueError (the reference would read past the end)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.sampled_from(["linear", "pic", "slof"]), st.binary(max_size=64))
    def check(codec, data):
        try:
            values = _decoder(codec)(data)
        except ValueError as error:
            assert str(error).startswith("MS-Numpress")
        else:
            assert values.dtype == np.float64 and values.ndim == 1

    check()


def test_numpress_property_against_pynumpress():
    pytest.importorskip("pynumpress")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    finite = st.floats(0, 2e6, allow_nan=False, allow_infinity=False)

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(st.sampled_from(["linear", "pic", "slof"]), st.lists(finite, max_size=40))
    def check(codec, values):
        values = np.array(values, dtype=np.float64)
        if codec == "linear":
            values += 35.0  # a fixed point needs a non-zero first value
        encoded = _encode(codec, values)
        np.testing.assert_array_equal(_decoder(codec)(encoded),
                                      _pynumpress_decode(codec, encoded))

    check()


# ----------------------------------------------------------------- MS-Numpress in mzML files
_ARRAY = re.compile(r"(<binaryDataArray\b[^>]*>)(.*?)(</binaryDataArray>)", re.DOTALL)
_COMPRESSION_PARAM = re.compile(
    r'<cvParam[^>]*name="(zlib compression|no compression)"[^>]*/>')


def _numpress_rewrite(source: Path, target: Path, *, mz: str = "linear",
                      intensity: str = "slof", style: str = "zlib") -> Path:
    """``source`` with every m/z and intensity array re-encoded by pynumpress, as msconvert.

    ``style``: ``"zlib"`` Numpress followed by zlib under the combined term (MS:1002746...),
    ``"plain"`` Numpress alone, ``"legacy zlib"`` / ``"legacy none"`` the older msconvert
    form, the Numpress term beside ``zlib compression`` / ``no compression``. Everything
    else in the file is kept byte for byte (the index offsets go stale; gcms reads the
    file sequentially).
    """
    text = source.read_text(encoding="utf-8")

    def rewrite(match: re.Match) -> str:
        opening, body, closing = match.groups()
        codec = (mz if 'name="m/z array"' in body
                 else intensity if 'name="intensity array"' in body else None)
        if codec is None:
            return match.group(0)
        old_param = _COMPRESSION_PARAM.search(body)
        payload = base64.b64decode(re.search(r"<binary>(.*?)</binary>", body, re.DOTALL)[1])
        if old_param[1] == "zlib compression":
            payload = zlib.decompress(payload)
        dtype = np.float64 if 'name="64-bit float"' in body else np.float32
        encoded = _encode(codec, np.frombuffer(payload, dtype))
        cv_ref = re.search(r'cvRef="([^"]*)"', old_param[0])[1]
        (alone, alone_name), (combined, combined_name) = NUMPRESS_TERMS[codec]

        def param(accession, name):
            return f'<cvParam cvRef="{cv_ref}" accession="{accession}" name="{name}" value=""/>'

        if style == "zlib":
            params, encoded = param(combined, combined_name), zlib.compress(encoded)
        elif style == "plain":
            params = param(alone, alone_name)
        elif style == "legacy zlib":
            params = param(alone, alone_name) + param("MS:1000574", "zlib compression")
            encoded = zlib.compress(encoded)
        else:
            params = param(alone, alone_name) + param("MS:1000576", "no compression")
        encoded_text = base64.b64encode(encoded).decode("ascii")
        body = body.replace(old_param[0], params)
        body = re.sub(r"<binary>.*?</binary>", f"<binary>{encoded_text}</binary>", body,
                      flags=re.DOTALL)
        opening = re.sub(r'encodedLength="\d+"', f'encodedLength="{len(encoded_text)}"',
                         opening)
        return opening + body + closing

    rewritten, n = _ARRAY.subn(rewrite, text)
    assert n and "MS-Numpress" in rewritten
    target.write_text(rewritten, encoding="utf-8")
    return target


def _expected_after_numpress(run: Run, codec: str, key: str) -> np.ndarray:
    """Each scan's array as pynumpress encodes and decodes it: what the reader must give."""
    values = getattr(run, key)
    parts = [_pynumpress_decode(codec, _encode(codec, values[lo:hi]))
             for lo, hi in zip(run.scan_offsets[:-1], run.scan_offsets[1:], strict=True)]
    return np.concatenate(parts).astype(values.dtype)


def _assert_same_run_within_numpress(back: Run, run: Run, mz: str, intensity: str) -> None:
    assert back.n_scans == run.n_scans
    np.testing.assert_array_equal(back.scan_times, run.scan_times)
    np.testing.assert_array_equal(back.scan_offsets, run.scan_offsets)
    np.testing.assert_array_equal(back.tic, run.tic)  # the file's own TIC, not re-encoded
    # exactly the independent codec's values...
    np.testing.assert_array_equal(back.mz, _expected_after_numpress(run, mz, "mz"))
    np.testing.assert_array_equal(back.intensity,
                                  _expected_after_numpress(run, intensity, "intensity"))
    # ...which are the original ones to each codec's precision
    np.testing.assert_allclose(back.mz, run.mz, rtol=0, atol=2e-7)
    original = run.intensity.astype(np.float64)
    if intensity == "pic":
        np.testing.assert_allclose(back.intensity, original, rtol=2**-23, atol=0.5)
    else:  # slof: relative on x + 1, 0.5 / fixed point (>= 2981 below 3.4e9 counts)
        np.testing.assert_allclose(back.intensity + 1.0, original + 1.0, rtol=1.7e-4)
    assert not np.array_equal(back.intensity, run.intensity)  # the codec did act
    for field in ("sample_name", "instrument", "acquisition", "ionization", "acquired_at"):
        assert getattr(back.metadata, field) == getattr(run.metadata, field)
    assert back.metadata.sha256 != run.metadata.sha256  # the hash of the file read


@pytest.mark.parametrize(("mz_codec", "intensity_codec", "style"), [
    ("linear", "slof", "zlib"), ("linear", "pic", "zlib"), ("linear", "pic", "plain"),
    ("linear", "slof", "legacy zlib"), ("linear", "pic", "legacy none"),
])
def test_generated_run_rewritten_with_numpress(tmp_path, mz_codec, intensity_codec, style):
    pytest.importorskip("pynumpress")
    plain = _write_mzml(_reference_run(), tmp_path / "run.mzML")
    run = gcms.io.read(plain)
    path = _numpress_rewrite(plain, tmp_path / "numpress.mzML", mz=mz_codec,
                             intensity=intensity_codec, style=style)
    back = gcms.io.read(path)
    _assert_same_run_within_numpress(back, run, mz_codec, intensity_codec)
    assert back.metadata.extra["ms_levels"] == "MS1: 12, MS2: 12"  # MS2 decoded, then left


@pytest.mark.parametrize(("intensity_codec", "style"), [("slof", "zlib"), ("pic", "plain")])
def test_real_orbitrap_file_rewritten_with_numpress(tmp_path, intensity_codec, style):
    pytest.importorskip("pynumpress")
    original = shared_file(*REAL)
    run = gcms.io.read(original)
    path = _numpress_rewrite(original, tmp_path / "numpress.mzML", intensity=intensity_codec,
                             style=style)
    back = gcms.io.read(path)
    assert back.n_scans == 44 and back.metadata.acquisition == "profile"
    _assert_same_run_within_numpress(back, run, "linear", intensity_codec)


def test_numpress_read_without_pynumpress(tmp_path):
    """The reader needs no pynumpress: a process where it cannot be imported reads the file
    to the same values as this one (where it may be)."""
    import subprocess
    import sys

    pytest.importorskip("pynumpress")
    plain = _write_mzml(_reference_run(), tmp_path / "run.mzML", with_ms2=False)
    path = _numpress_rewrite(plain, tmp_path / "numpress.mzML", style="zlib")
    out = tmp_path / "values.npy"
    code = ("import sys; sys.modules['pynumpress'] = None\n"
            "import numpy as np, gcms.io, pyteomics.auxiliary.utils as utils\n"
            "assert utils.pynumpress is None\n"
            "run = gcms.io.read(sys.argv[1])\n"
            "np.save(sys.argv[2], np.concatenate([run.mz, run.intensity]))\n")
    done = subprocess.run([sys.executable, "-c", code, str(path), str(out)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    run = gcms.io.read(path)
    np.testing.assert_array_equal(np.load(out), np.concatenate([run.mz, run.intensity]))


def _first_mz_array_replaced(path: Path, params: str, payload: bytes) -> Path:
    """``path`` with the first m/z array's compression term(s) and bytes replaced."""
    text = path.read_text(encoding="utf-8")
    match = next(m for m in _ARRAY.finditer(text) if 'name="m/z array"' in m[2])
    body = _COMPRESSION_PARAM.sub(params, match[2], count=1)
    body = re.sub(r"<binary>.*?</binary>",
                  f"<binary>{base64.b64encode(payload).decode('ascii')}</binary>", body,
                  flags=re.DOTALL)
    path.write_text(text[:match.start(2)] + body + text[match.end(2):], encoding="utf-8")
    return path


_LINEAR_PARAM = ('<cvParam cvRef="PSI-MS" accession="MS:1002312" '
                 'name="MS-Numpress linear prediction compression" value=""/>')


def test_truncated_numpress_payload_is_refused_naming_the_file(tmp_path):
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    _first_mz_array_replaced(path, _LINEAR_PARAM, GOLDEN_LINEAR[:18])  # cut mid-value
    with pytest.raises(FormatError, match=re.escape(str(path)) + ".*MS-Numpress linear.*"
                                          "runs past the end"):
        gcms.io.read(path)


def test_numpress_array_cut_between_values_is_refused(tmp_path):
    """A cut between two values decodes to fewer m/z than the spectrum declares: refused."""
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    _first_mz_array_replaced(path, _LINEAR_PARAM, GOLDEN_LINEAR[:16])
    with pytest.raises(FormatError, match=re.escape(str(path)) + r": spectrum 0 .*its m/z "
                                          r"array decodes to 2 values, not defaultArrayLength"):
        gcms.io.read(path)


@pytest.mark.parametrize(("params", "message"), [
    ('<cvParam cvRef="PSI-MS" accession="MS:1003780" name="zstd compression" value=""/>',
     r"'zstd compression' \(MS:1003780\) is not one gcms decodes"),
    ('<cvParam cvRef="PSI-MS" accession="MS:1003783" name="MS-Numpress linear prediction '
     'compression followed by zstd compression" value=""/>', r"\(MS:1003783\)"),
    ('<userParam name="lz4 compression" value=""/>', "'lz4 compression' is not one gcms knows"),
    (_LINEAR_PARAM + '<cvParam cvRef="PSI-MS" accession="MS:1002313" name="MS-Numpress '
     'positive integer compression" value=""/>', "contradictory compressions"),
])
def test_compression_gcms_does_not_decode_is_refused(tmp_path, params, message):
    """Never read as raw floats (what pyteomics does with a compression it does not know)."""
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    _first_mz_array_replaced(path, params, GOLDEN_LINEAR)
    with pytest.raises(FormatError, match=re.escape(str(path)) + ".*" + message):
        gcms.io.read(path)


def test_numpress_terms_found_by_name_without_accession(tmp_path):
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    _first_mz_array_replaced(
        path, '<userParam name="MS-Numpress linear prediction compression" value=""/>',
        GOLDEN_LINEAR)
    with pytest.raises(FormatError, match=r"decodes to 4 values, not defaultArrayLength"):
        # decoded as Numpress
        gcms.io.read(path)


# --------------------------------------------------------------------------- declared sizes
_ZLIB_PARAM = ('<cvParam cvRef="PSI-MS" accession="MS:1000574" name="zlib compression" '
               'value=""/>')


def _peak_memory(call) -> int:
    """Peak of the Python/numpy allocations made by ``call`` (raising or not), in bytes."""
    import tracemalloc

    tracemalloc.start()
    try:
        call()
    except FormatError:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak


def test_zlib_bomb_in_one_array_is_refused_at_its_declared_length(tmp_path):
    """A few hundred kilobytes of zlib inflating to gigabytes in one binary array was read
    (3.3 GB resident): the array is inflated to defaultArrayLength values and no further."""
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    _first_mz_array_replaced(path, _ZLIB_PARAM, zlib.compress(bytes(1 << 28), 9))
    assert path.stat().st_size < 2 << 20

    def read():
        with pytest.raises(FormatError, match=re.escape(str(path)) + r": spectrum 0 .*its m/z "
                                              r"array decompresses to more than the \d+ bytes"):
            gcms.io.read(path)

    assert _peak_memory(read) < 64 << 20


def test_array_length_must_be_the_declared_one(tmp_path):
    path = _write_mzml(_reference_run(), tmp_path / "run.mzML", indexed=False)
    _first_mz_array_replaced(path, _ZLIB_PARAM, zlib.compress(np.arange(5.0).tobytes()))
    with pytest.raises(FormatError, match=r"its m/z array decompresses to 40 bytes, not the "
                                          r"\d+ declared"):
        gcms.io.read(path)
    plain = ('<cvParam cvRef="PSI-MS" accession="MS:1000576" name="no compression" '
             'value=""/>')
    _first_mz_array_replaced(path, plain, np.arange(5.0).tobytes())
    with pytest.raises(FormatError, match=r"its m/z array holds 40 bytes, not the \d+ of "
                                          r"defaultArrayLength \d+ x 8-byte values"):
        gcms.io.read(path)


def test_gzip_bomb_is_refused_while_inflating(tmp_path):
    """A 3 MB gzip mzML expanding to 3 GiB drove the reader to 3.1 GB before failing:
    inflation stops at GZIP_MAX_RATIO times the file's size (at least 64 MiB)."""
    text = _write_mzml(_reference_run(4), tmp_path / "run.mzML", indexed=False,
                       with_ms2=False).read_bytes()
    cut = text.index(b"<spectrumList")
    spaces = gzip.compress(b" " * (16 << 20), compresslevel=9)  # one 16 MiB member
    bomb = tmp_path / "bomb.mzML.gz"
    bomb.write_bytes(gzip.compress(text[:cut]) + spaces * 8 + gzip.compress(text[cut:]))

    def read():
        with pytest.raises(FormatError, match=r"bomb.mzML.gz: the \d+-byte gzip file expands "
                                              r"past 67108864 bytes of XML"):
            gcms.io.read(bomb)

    assert _peak_memory(read) < 200 << 20
    fine = tmp_path / "fine.mzML.gz"  # the same XML without the bomb reads
    fine.write_bytes(gzip.compress(text[:cut]) + spaces + gzip.compress(text[cut:]))
    assert gcms.io.read(fine).n_scans == 4


def test_spectrum_count_must_be_the_declared_one(tmp_path):
    path = _write_mzml(_reference_run(5), tmp_path / "run.mzML", indexed=False,
                       with_ms2=False)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('<spectrumList count="5"', '<spectrumList count="6"'),
                    encoding="utf-8")
    with pytest.raises(FormatError, match=r'<spectrumList count="6"> but the file holds 5 '
                                          r"spectra"):
        gcms.io.read(path)
    # A spectrum spliced out (its neighbours keep their index): the gap is named.
    blocks = list(re.finditer(r"<spectrum .*?</spectrum>", text, flags=re.DOTALL))
    path.write_text(text[:blocks[2].start()] + text[blocks[2].end():], encoding="utf-8")
    with pytest.raises(FormatError, match=r"spectrum 2 .* has index '?3'?; the spectra of the "
                                          r"list are indexed 0, 1, 2"):
        gcms.io.read(path)
