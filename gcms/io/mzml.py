"""mzML (plain, gzip-compressed or indexed): the MS1 scans of a GC-MS run.

Spectra are parsed by pyteomics (base64, zlib, 32/64-bit floats); this module keeps the
MS1 spectra, converts ``scan start time`` to seconds from the unit the file states
(minutes, seconds or milliseconds; a time without unit is refused rather than guessed),
and builds the run's CSR arrays by collecting each scan's arrays and concatenating them
once. The header up to ``<spectrumList>`` is read with lxml for the metadata: run id and
``startTimeStamp``, sample, instrument model and serial number, ionization source, source
file and converting software.

A file whose MS1 spectra are all profile (``profile spectrum``, MS:1000128) gives a run
with ``acquisition == "profile"``; ``SIM spectrum`` (MS:1001583) gives ``"sim"``;
otherwise ``"scan"``. The file's own ``total ion current`` per scan is kept as the TIC
where every MS1 scan states one (for profile data it is the instrument's figure, not the
sum of the profile points). A file without MS1 spectra is refused, naming what it holds.

Binary arrays compressed with MS-Numpress (msconvert ``--numpressLinear``,
``--numpressPic``, ``--numpressSlof``, with or without ``--zlib``: MS:1002312-MS:1002314,
MS:1002746-MS:1002748) are decoded by :mod:`gcms.io._numpress`, always, whether or not
the optional ``pynumpress`` extension is installed (one code path; pynumpress aborts the
process on damaged data). The compression of each array is read from its cvParams by
accession (name as fallback), including the older msconvert form that states a Numpress
term beside ``zlib compression`` or ``no compression``. A compression gcms does not
decode (zstd, mantissa truncation, coordinate grids, or any other ``... compression``
term) is refused, never read as raw floats. Numpress is lossy by design: the values are
those the converter stored (``docs/ms-numpress.md`` gives each codec's precision).

What the file declares is held against what it decodes to, before memory is spent on
it: every binary array must decode to the spectrum's ``defaultArrayLength`` values (its
zlib stream is inflated to that length and no further, so a "zlib bomb" stops at once);
the file must hold the number of spectra its ``<spectrumList count=...>`` says, indexed
0, 1, 2...; a gzip-compressed file may expand to at most :data:`GZIP_MAX_RATIO` times its
size (and never past the memory budget); the decoded points must fit the memory budget.

mzMLb (HDF5) is not read: it is rare in GC-MS practice and its container would need
h5py plus the mzMLb filters.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from gcms._arrays import memory_budget
from gcms.errors import FormatError
from gcms.io._common import build_run, check_budget, evidence_bytes, inflate
from gcms.run import Acquisition, Run, RunMetadata

__all__ = ["read", "sniff"]

_GZIP_MAGIC = b"\x1f\x8b"
#: Most bytes of XML a gzip-compressed mzML may expand to, per byte of file. gzip shrinks
#: mzML 1.5 to 4 times (base64 binary data compresses poorly); text bodies of profile
#: data with long zero runs maybe 20 times. A 3 MB file expanding to 3 GB is a bomb.
GZIP_MAX_RATIO = 50
#: Expansion always allowed, whatever the ratio (a small file's header and indexes).
_GZIP_MIN_LIMIT = 64 * 2**20
#: Bytes per decoded point held by a run (float64 m/z + float32 intensity).
_POINT_BYTES = 12
_MZML_TAGS = (b"<mzML", b"<indexedmzML")
_TIME_UNITS = {"minute": 60.0, "second": 1.0, "millisecond": 1e-3,
               "UO:0000031": 60.0, "UO:0000010": 1.0, "UO:0000028": 1e-3}

#: Binary data compression terms gcms decodes (PSI-MS children of MS:1000572), by
#: accession: (PSI-MS name, MS-Numpress codec or None, zlib-compressed).
_COMPRESSIONS = {
    "MS:1000576": ("no compression", None, False),
    "MS:1000574": ("zlib compression", None, True),
    "MS:1002312": ("MS-Numpress linear prediction compression", "linear", False),
    "MS:1002313": ("MS-Numpress positive integer compression", "pic", False),
    "MS:1002314": ("MS-Numpress short logged float compression", "slof", False),
    "MS:1002746": ("MS-Numpress linear prediction compression followed by zlib compression",
                   "linear", True),
    "MS:1002747": ("MS-Numpress positive integer compression followed by zlib compression",
                   "pic", True),
    "MS:1002748": ("MS-Numpress short logged float compression followed by zlib compression",
                   "slof", True),
}
#: Compression terms gcms does not decode: refused, never read as raw floats.
_UNDECODED_COMPRESSIONS = {
    "MS:1003088": "truncation and zlib compression",
    "MS:1003089": "truncation, delta prediction and zlib compression",
    "MS:1003090": "truncation, linear prediction and zlib compression",
    "MS:1003780": "zstd compression",
    "MS:1003781": "byte-shuffled zstd compression",
    "MS:1003782": "dictionary-encoded zstd compression",
    "MS:1003783": "MS-Numpress linear prediction compression followed by zstd compression",
    "MS:1003784": "MS-Numpress positive integer compression followed by zstd compression",
    "MS:1003785": "MS-Numpress short logged float compression followed by zstd compression",
    "MS:1003826": "coordinate grid encoding",
}
_COMPRESSION_BY_NAME = {name.lower(): accession for accession, (name, _, _)
                        in _COMPRESSIONS.items()}
_COMPRESSION_BY_NAME.update((name.lower(), accession) for accession, name
                            in _UNDECODED_COMPRESSIONS.items())


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``head`` holds an ``<mzML`` or ``<indexedmzML`` element (gzip: once inflated)."""
    if head[:2] == _GZIP_MAGIC:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1 << 16)
        except zlib.error:
            return False
    return any(tag in head for tag in _MZML_TAGS)


class _SeekableReader(io.RawIOBase):
    """A readable, seekable raw stream whose position is ``self._pos``."""

    _pos: int

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos


class _MemoryReader(_SeekableReader):
    """A read-only, seekable file over a memoryview: the mapped evidence, never copied."""

    def __init__(self, data: memoryview) -> None:
        self._data = data
        self._pos = 0

    def readinto(self, buffer) -> int:
        chunk = self._data[self._pos:self._pos + len(buffer)]
        n = len(chunk)
        buffer[:n] = chunk
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data)}[whence]
        self._pos = max(0, base + offset)
        return self._pos


class _BoundedReader(_SeekableReader):
    """A seekable stream that refuses to yield more than ``limit`` bytes (a gzip bomb)."""

    def __init__(self, inner, limit: int, path: Path, size: int) -> None:
        self._inner, self._limit, self._path, self._size = inner, limit, path, size
        self._pos = 0

    def readinto(self, buffer) -> int:
        n = self._inner.readinto(buffer)
        self._pos += n
        if self._pos > self._limit:
            raise FormatError(
                f"{self._path}: the {self._size}-byte gzip file expands past "
                f"{self._limit} bytes of XML ({GZIP_MAX_RATIO} times its size, or the memory "
                "budget): refused as a decompression bomb")
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = self._inner.seek(offset, whence)
        return self._pos


@contextmanager
def _xml_stream(path: Path) -> Iterator[tuple[Any, str]]:
    """The decompressed XML as a seekable stream, and the SHA-256 of the file's bytes.

    A gzip file is inflated as it is parsed, never whole, and no further than
    :data:`GZIP_MAX_RATIO` times its size (at least 64 MiB, at most the memory budget).
    """
    with evidence_bytes(path) as evidence:
        raw = io.BufferedReader(_MemoryReader(evidence.data), buffer_size=1 << 20)
        if evidence.raw[:2] == _GZIP_MAGIC:
            limit = min(memory_budget(),
                        max(_GZIP_MIN_LIMIT, GZIP_MAX_RATIO * evidence.size))
            with gzip.GzipFile(fileobj=raw, mode="rb") as inflated:
                bounded = _BoundedReader(inflated, limit, path, evidence.size)
                yield io.BufferedReader(bounded, buffer_size=1 << 20), evidence.sha256
        else:
            yield raw, evidence.sha256


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _header(stream, path: Path) -> dict[str, Any]:
    """Metadata from the elements before ``<spectrumList>`` (lxml, stops there)."""
    from lxml import etree

    info: dict[str, Any] = {"software": [], "source_files": [], "instrument": [],
                            "serial": None, "ionization": [], "samples": []}
    groups: dict[str, list[tuple[str, str]]] = {}
    group_id = None
    in_config = in_source = in_components = False
    config_params: list[tuple[str, str]] = []
    try:
        for event, element in etree.iterparse(stream, events=("start", "end"),
                                              huge_tree=True, resolve_entities=False,
                                              no_network=True):
            tag = _local(element.tag)
            if event == "start":
                if tag == "spectrumList" or tag == "chromatogramList":
                    if tag == "spectrumList":
                        info["spectrum_count"] = element.get("count")
                    break
                if tag == "run":
                    info["run_id"] = element.get("id")
                    info["start"] = element.get("startTimeStamp")
                    info["sample_ref"] = element.get("sampleRef")
                elif tag == "referenceableParamGroup":
                    group_id = element.get("id")
                    groups[group_id] = []
                elif tag == "instrumentConfiguration":
                    in_config = True
                    config_params = []
                elif tag == "componentList" and in_config:
                    in_components = True
                elif tag == "source" and in_config:
                    in_source = True
                continue
            if tag == "cvParam":
                name, value = element.get("name") or "", element.get("value") or ""
                if group_id is not None:
                    groups[group_id].append((name, value))
                elif in_source:
                    info["ionization"].append(name)
                elif in_config and not in_components:
                    config_params.append((name, value))
            elif tag == "referenceableParamGroupRef" and in_config and not in_components:
                config_params.extend(groups.get(element.get("ref"), []))
            elif tag == "referenceableParamGroup":
                group_id = None
            elif tag == "source":
                in_source = False
            elif tag == "componentList":
                in_components = False
            elif tag == "instrumentConfiguration":
                in_config = False
                _instrument(info, config_params)
            elif tag == "software":
                names = [c.get("name") for c in element if _local(c.tag) == "cvParam"]
                label = " ".join(n for n in names if n and "custom unreleased" not in n)
                version = element.get("version") or ""
                if label:
                    info["software"].append(f"{label} {version}".strip())
            elif tag == "sourceFile":
                name = element.get("name")
                if name:
                    info["source_files"].append(name)
            elif tag == "sample":
                info["samples"].append((element.get("id"), element.get("name")))
    except (etree.XMLSyntaxError, OSError, EOFError, zlib.error) as error:
        raise FormatError(f"{path}: not well-formed mzML ({error})") from error
    if "run_id" not in info:
        raise FormatError(f"{path}: no <run> element before the spectra: not mzML")
    return info


def _instrument(info: dict[str, Any], params: list[tuple[str, str]]) -> None:
    for name, value in params:
        if name == "instrument serial number":
            info["serial"] = info["serial"] or value or None
        elif not value and name:
            # The model term is the configuration's valueless cvParam (its CV parent is
            # "instrument model"; the others carry values).
            info["instrument"].append(name)


def _compression_term(key: Any) -> str | None:
    """The accession of the compression term ``key`` names (a pyteomics cvParam key)."""
    accession = getattr(key, "accession", None)
    if accession in _COMPRESSIONS or accession in _UNDECODED_COMPRESSIONS:
        return accession
    if not isinstance(key, str):
        return None
    name = key.lower()
    if name in _COMPRESSION_BY_NAME:
        return _COMPRESSION_BY_NAME[name]
    return "unknown" if "compression" in name else None


def _array_compression(info: dict) -> str:
    """The compression of one ``binaryDataArray``, as the PSI-MS name of a decodable term.

    Reads the array's cvParams (pyteomics' ``info``; the terms found are removed from it).
    Besides one term, the older msconvert form is understood: a Numpress term beside
    ``zlib compression`` (then the bytes are Numpress followed by zlib) or beside
    ``no compression``. No term at all is no compression, as pyteomics reads it.

    Raises
    ------
    ValueError
        A compression gcms does not decode, or terms that contradict each other.
    """
    found: list[tuple[Any, str]] = []
    for key in list(info):
        accession = _compression_term(key)
        if accession is not None:
            found.append((key, accession))
            del info[key]
    names = info.get("name")  # where pyteomics put valueless params under "name"
    if isinstance(names, str) and (term := _compression_term(names)) is not None:
        found.append((names, term))
        del info["name"]
    elif isinstance(names, list):
        for name in list(names):
            accession = _compression_term(name)
            if accession is not None:
                found.append((name, accession))
                names.remove(name)
    for key, accession in found:
        if accession == "unknown":
            raise ValueError(f"binary data compression {str(key)!r} is not one gcms knows")
        if accession in _UNDECODED_COMPRESSIONS:
            raise ValueError(f"binary data compression {_UNDECODED_COMPRESSIONS[accession]!r} "
                             f"({accession}) is not one gcms decodes; convert the file "
                             "again with zlib or MS-Numpress compression")
    terms = {_COMPRESSIONS[accession] for _, accession in found}
    codecs = {codec for _, codec, _ in terms if codec}
    with_zlib = any(zlib_first for _, _, zlib_first in terms)
    names_stated = sorted(name for name, _, _ in terms)
    if len(codecs) > 1 or (with_zlib and "no compression" in names_stated):
        raise ValueError("binary data array states contradictory compressions: "
                         + ", ".join(names_stated))
    codec = next(iter(codecs), None)
    if codec is None:
        return "zlib compression" if with_zlib else "no compression"
    return next(name for name, term_codec, term_zlib in _COMPRESSIONS.values()
                if term_codec == codec and term_zlib == with_zlib)


def _numpress_max_bytes(n: int) -> int:
    """Most bytes a Numpress stream of ``n`` values can take.

    An 8-byte fixed point and two 4-byte starting values (linear), then at most 9
    half-bytes per value.
    """
    return 16 + (9 * n + 1) // 2


def _decode_array(record, n: int, what: str) -> np.ndarray:
    """One binary data array decoded to exactly ``n`` values (``defaultArrayLength``).

    pyteomics hands over the base64 text, the compression (a name from
    :func:`_array_compression`) and the value type; the decompression is bounded by what
    ``n`` values can take, so a bomb stops at once.

    Raises
    ------
    ValueError
        Damaged base64 or compressed data, or another number of values than ``n``.
    """
    name = record.compression
    _, codec, zlib_first = next(term for term in _COMPRESSIONS.values() if term[0] == name)
    text = record.data or ""
    try:
        data = base64.b64decode(text.encode("ascii") if isinstance(text, str) else text,
                                validate=False)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError(f"{what}: damaged base64 data ({error})") from None
    if codec is None:
        dtype = np.dtype(record.dtype)
        expected = n * dtype.itemsize
        if zlib_first:
            data = inflate(data, expected, what)
        elif len(data) != expected:
            raise ValueError(f"{what} holds {len(data)} bytes, not the {expected} of "
                             f"defaultArrayLength {n} x {dtype.itemsize}-byte values")
        return np.frombuffer(data, dtype=dtype)
    from gcms.io import _numpress

    if zlib_first:
        data = inflate(data, _numpress_max_bytes(n), what, at_most=True)
    elif len(data) > _numpress_max_bytes(n):
        raise ValueError(f"{what}: {len(data)} bytes of Numpress data cannot hold just "
                         f"defaultArrayLength {n} values")
    try:
        values = getattr(_numpress, f"decode_{codec}")(data)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    if values.size != n:
        raise ValueError(f"{what} decodes to {values.size} values, not defaultArrayLength {n}")
    return values


@functools.cache
def _reader_class():
    """The pyteomics MzML reader with gcms' compression handling (built on first use).

    Binary arrays are left undecoded (``decode_binary=False``): :func:`_decode_array`
    decodes them knowing the length each spectrum declares. The compression terms are
    read by :func:`_array_compression`; pyteomics' module-wide maps are left alone.
    """
    from pyteomics import mzml

    class GcmsMzML(mzml.MzML):
        def _determine_compression(self, info):
            return _array_compression(info)

    return GcmsMzML


def _spectra(stream, path: Path):
    from lxml import etree
    from pyteomics.auxiliary import PyteomicsError

    # What pyteomics, lxml, base64, zlib and numpy raise on damaged bytes.
    damage = (PyteomicsError, etree.XMLSyntaxError, ValueError, zlib.error, OSError,
              EOFError, KeyError, IndexError, TypeError, AttributeError)
    try:
        with _reader_class()(stream, use_index=False, read_schema=False,
                             decode_binary=False, huge_tree=True) as reader:
            yield from reader
    except FormatError:
        raise
    except damage as error:
        raise FormatError(f"{path}: mzML spectra cannot be decoded ({type(error).__name__}: "
                          f"{error})") from error


def _start_time_s(spectrum: dict, path: Path) -> float:
    scans = (spectrum.get("scanList") or {}).get("scan") or []
    value = scans[0].get("scan start time") if scans else None
    if value is None:
        value = spectrum.get("scan start time")
    if value is None:
        raise FormatError(f"{path}: spectrum {spectrum.get('id')!r} has no scan start time")
    unit = getattr(value, "unit_info", None)
    if unit not in _TIME_UNITS:
        raise FormatError(f"{path}: spectrum {spectrum.get('id')!r}: scan start time unit "
                          f"{unit!r} is not a time unit gcms knows (minute, second)")
    seconds = float(value) * _TIME_UNITS[unit]
    if not np.isfinite(seconds):
        raise FormatError(f"{path}: spectrum {spectrum.get('id')!r}: scan start time "
                          f"{value!r} is not finite")
    return seconds


def _integer(value: Any) -> int | None:
    """A count or index attribute as an int, None when absent or not a whole number."""
    text = "" if value is None else str(value).strip()
    return int(text) if text.lstrip("+-").isdigit() else None


def _ms_level(spectrum: dict) -> int | None:
    level = spectrum.get("ms level")
    if level is not None:
        return int(level)
    if "MS1 spectrum" in spectrum:
        return 1
    if "MSn spectrum" in spectrum:
        return 2
    return None


def _timestamp(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def read(path: str | os.PathLike) -> Run:
    """Read the MS1 scans of an mzML file (plain, ``.gz`` or indexed) as a :class:`Run`.

    Raises
    ------
    FormatError
        Not mzML, damaged XML or binary arrays, no MS1 spectra, a scan without start time
        or with a time unit that is not stated, times that go backwards.
    """
    path = Path(path)
    with _xml_stream(path) as (stream, digest):
        info = _header(stream, path)
        stream.seek(0)
        times: list[float] = []
        mz_arrays: list[np.ndarray] = []
        intensity_arrays: list[np.ndarray] = []
        tics: list[float | None] = []
        kinds = {"profile": 0, "centroid": 0, "sim": 0}
        levels: dict[Any, int] = {}
        filter_string = None
        n_spectra = points = 0
        budget_points = memory_budget() // _POINT_BYTES
        for spectrum in _spectra(stream, path):
            where = f"{path}: spectrum {n_spectra} ({spectrum.get('id')!r})"
            if _integer(spectrum.get("index")) != n_spectra:
                raise FormatError(f"{where} has index {spectrum.get('index')!r}; the spectra "
                                  "of the list are indexed 0, 1, 2... (damaged or spliced file)")
            n_spectra += 1
            level = _ms_level(spectrum)
            levels[level] = levels.get(level, 0) + 1
            if level != 1:
                continue
            times.append(_start_time_s(spectrum, path))
            n = _integer(spectrum.get("defaultArrayLength"))
            if n is None or n < 0:
                raise FormatError(f"{where}: defaultArrayLength "
                                  f"{spectrum.get('defaultArrayLength')!r} is not a count")
            points += n
            if points > budget_points:
                check_budget(path, _POINT_BYTES * points,
                             f"the {points:,} points declared so far")
            arrays = {}
            for key in ("m/z array", "intensity array"):
                record = spectrum.get(key)
                if record is None and n:
                    raise FormatError(f"{where} declares {n} points (defaultArrayLength) but "
                                      f"has no {key}")
                try:
                    arrays[key] = (np.empty(0) if record is None
                                   else _decode_array(record, n, f"{where}: its {key}"))
                except ValueError as error:
                    raise FormatError(str(error)) from None
            mz = arrays["m/z array"].astype(np.float64)
            with np.errstate(over="ignore"):  # beyond float32: inf, refused by the run
                intensity = arrays["intensity array"].astype(np.float32)
            if mz.shape != intensity.shape:
                raise FormatError(f"{where} has {mz.size} m/z values but {intensity.size} "
                                  "intensities")
            mz_arrays.append(mz)
            intensity_arrays.append(intensity)
            tic = spectrum.get("total ion current")
            tics.append(float(tic) if tic is not None else None)
            if "profile spectrum" in spectrum:
                kinds["profile"] += 1
            elif "centroid spectrum" in spectrum:
                kinds["centroid"] += 1
            if "SIM spectrum" in spectrum:
                kinds["sim"] += 1
            if filter_string is None and spectrum.get("filter string"):
                filter_string = str(spectrum["filter string"])
    declared = _integer(info.get("spectrum_count"))
    if declared is not None and declared != n_spectra:
        raise FormatError(f"{path}: <spectrumList count=\"{declared}\"> but the file holds "
                          f"{n_spectra} spectra (truncated, damaged or spliced file)")
    if not times:
        held = ", ".join(f"{n} MS{level}" if level else f"{n} of unstated MS level"
                         for level, n in sorted(levels.items(), key=lambda kv: str(kv[0])))
        raise FormatError(f"{path}: no MS1 spectra (holds {held or 'no spectra'}); gcms reads "
                          "GC-MS (MS1) runs")
    counts = np.fromiter((a.size for a in mz_arrays), dtype=np.int64, count=len(mz_arrays))
    offsets = np.concatenate(([0], np.cumsum(counts)))
    tic = np.array(tics, dtype=np.float64) if all(t is not None for t in tics) else None
    if tic is not None and not np.isfinite(tic).all():
        tic = None
    n = len(times)
    acquisition: Acquisition
    if kinds["sim"] == n:
        acquisition = "sim"
    elif kinds["profile"] == n:
        acquisition = "profile"
    elif kinds["profile"]:
        raise FormatError(f"{path}: {kinds['profile']} of {n} MS1 spectra are profile, the "
                          "rest centroid: mixed data gcms does not combine in one run")
    else:
        acquisition = "scan"
    samples = dict(info["samples"])
    sample = samples.get(info.get("sample_ref")) or (next(iter(samples.values()), None))
    extra = {"run_id": info["run_id"] or "",
             "ms_levels": ", ".join(f"MS{k}: {v}" for k, v in sorted(
                 ((k, v) for k, v in levels.items() if k is not None)))}
    if info["source_files"]:
        extra["source_file"] = "; ".join(info["source_files"])
    if info["software"]:
        extra["software"] = "; ".join(info["software"])
    if info["serial"]:
        extra["instrument_serial_number"] = info["serial"]
    if filter_string:
        extra["filter_string"] = filter_string
    if info.get("start"):
        extra["start_time_stamp"] = info["start"]
    ionization = next((name for name in info["ionization"]
                       if name and name != "ionization type"), None)
    if ionization is None and filter_string and " EI " in f" {filter_string} ":
        ionization = "EI"
    metadata = RunMetadata(
        sample_name=sample or info["run_id"] or None,
        acquired_at=_timestamp(info.get("start")),
        instrument="; ".join(info["instrument"]) or None,
        source_path=str(path),
        data_file=str(path),
        sha256=digest,
        format="mzml",
        acquisition=acquisition,
        ionization=ionization,
        extra={k: v for k, v in extra.items() if v},
    )
    return build_run(
        path,
        scan_times=np.array(times, dtype=np.float64),
        scan_offsets=offsets,
        mz=np.concatenate(mz_arrays) if mz_arrays else np.empty(0),
        intensity=np.concatenate(intensity_arrays) if intensity_arrays else np.empty(0),
        tic=tic,
        metadata=metadata,
    )
