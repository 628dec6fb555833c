r"""Read-only access to netCDF files without any C library (internal).

ANDI/AIA files (ASTM E1947 chromatography, E2077 mass spectrometry) are netCDF. This
module decodes the three classic binary layouts itself and reaches netCDF-4 files through
h5py, and gives both the same small interface, :class:`Dataset`:

* ``CDF\\x01`` classic, ``CDF\\x02`` 64-bit offset and ``CDF\\x05`` 64-bit data files
  are parsed here from the file's bytes, read once into memory and hashed there
  (:func:`gcms.io._common.read_evidence`; ``docs/andi-netcdf.md`` has the byte layout).
  Every count, size and offset in the header is checked against the file length before
  anything is allocated or read, so a damaged header raises :class:`FormatError` naming
  the file and the field instead of allocating gigabytes or looping for ever. Variable
  data are handed out as read-only numpy views of those bytes (big-endian, as stored);
  record variables become strided views, never per-record copies. The file is never
  memory-mapped: a mapping shows whatever is written to the file later (the digest
  would describe other bytes than those decoded) and a file truncated meanwhile kills
  the process with SIGBUS.
* netCDF-4 files (HDF5 containers, ``\\x89HDF``) are opened with h5py in ``"r"`` mode
  from the same in-memory bytes, so the digest describes exactly what was decoded and
  nothing can be written back.

The module also writes classic files (:func:`write_classic`), which the ANDI writer uses.
Nothing here knows about ANDI; the conventions of the data (fill values, ``-9999``, scale
factors) are applied by :func:`decode_numeric` on request.
"""

from __future__ import annotations

import io
import math
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from gcms.errors import FormatError
from gcms.io._common import check_budget, read_evidence

__all__ = [
    "CLASSIC_MAGIC",
    "HDF5_MAGIC",
    "Dataset",
    "Variable",
    "decode_numeric",
    "decode_text",
    "default_fill",
    "is_netcdf",
    "open_dataset",
    "text_values",
    "variable_names",
    "write_classic",
]

#: First bytes of a classic-model netCDF file; the fourth byte is the version.
CLASSIC_MAGIC = b"CDF"
#: First bytes of an HDF5 file (netCDF-4 files are HDF5 files).
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

_VERSIONS = {1: "classic", 2: "64-bit offset", 5: "64-bit data"}
_TAG_ABSENT, _TAG_DIMENSION, _TAG_VARIABLE, _TAG_ATTRIBUTE = 0, 10, 11, 12
_STREAMING = {1: 0xFFFFFFFF, 2: 0xFFFFFFFF, 5: 0xFFFFFFFFFFFFFFFF}

#: netCDF external types: code -> big-endian numpy dtype (codes 7-11 exist in CDF-5 only).
_NC_TYPES: dict[int, np.dtype] = {
    1: np.dtype("i1"),  # NC_BYTE (signed)
    2: np.dtype("S1"),  # NC_CHAR
    3: np.dtype(">i2"),  # NC_SHORT
    4: np.dtype(">i4"),  # NC_INT
    5: np.dtype(">f4"),  # NC_FLOAT
    6: np.dtype(">f8"),  # NC_DOUBLE
    7: np.dtype("u1"),  # NC_UBYTE
    8: np.dtype(">u2"),  # NC_USHORT
    9: np.dtype(">u4"),  # NC_UINT
    10: np.dtype(">i8"),  # NC_INT64
    11: np.dtype(">u8"),  # NC_UINT64
}
_NC_CODES = {dtype.newbyteorder("=") if dtype.itemsize > 1 else dtype: code
             for code, dtype in _NC_TYPES.items()}

#: netCDF default fill values (netcdf.h NC_FILL_*): what the library writes into data
#: nobody wrote, by dtype kind and size.
_DEFAULT_FILL: dict[str, float | int] = {
    "i1": -127,
    "u1": 255,
    "i2": -32767,
    "u2": 65535,
    "i4": -2147483647,
    "u4": 4294967295,
    "i8": -9223372036854775806,
    "u8": 18446744073709551614,
    "f4": 9.9692099683868690e36,
    "f8": 9.9692099683868690e36,
}

#: A header larger than this is not believed (real ANDI headers are a few KiB).
_MAX_HEADER_BYTES = 64 * 2**20


def default_fill(dtype: np.dtype) -> float | int | None:
    """The netCDF library's default fill value for ``dtype`` (None for text)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf":
        return None
    return _DEFAULT_FILL[f"{dtype.kind}{dtype.itemsize}"]


def decode_text(raw: bytes) -> str:
    """Text of a netCDF char value: up to the first NUL, outer whitespace stripped.

    netCDF char data carry no declared encoding. UTF-8 is tried first (what netCDF-4
    and modern writers use); bytes that are not valid UTF-8 are read as ISO 8859-1, the
    8-bit set the 1990s ANDI writers used, which maps every byte and so loses nothing.
    """
    raw = bytes(raw).split(b"\x00", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.strip()


@dataclass(frozen=True, slots=True)
class Variable:
    """One netCDF variable as declared in the header."""

    name: str
    dimensions: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: np.dtype
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Number of values."""
        return math.prod(self.shape)


class Dataset:
    """A netCDF file opened read-only: dimensions, attributes, variables, values.

    Attributes
    ----------
    path : Path
        The file.
    kind : str
        ``"classic"``, ``"64-bit offset"``, ``"64-bit data"`` or ``"netCDF-4"``.
    sha256 : str
        Digest of the bytes decoded.
    dimensions : Mapping[str, int]
        Dimension lengths (the record dimension at its current length).
    attributes : Mapping[str, Any]
        Global attributes: ``str`` for text, a numpy scalar or 1-D array otherwise.
    variables : Mapping[str, Variable]
        Declared variables.
    """

    path: Path
    kind: str
    sha256: str
    dimensions: Mapping[str, int]
    attributes: Mapping[str, Any]
    variables: Mapping[str, Variable]

    def raw(self, name: str) -> np.ndarray:  # pragma: no cover - abstract
        """Values of variable ``name`` exactly as stored (read-only; may view the file)."""
        raise NotImplementedError

    def __contains__(self, name: str) -> bool:
        return name in self.variables

    def close(self) -> None:
        """Let go of the file (views already handed out stay valid)."""


# --------------------------------------------------------------------------- classic
class _ShortPrefix(Exception):
    """The header runs past the bytes at hand (sniffing reads only the file's start)."""


class _Cursor:
    """Reads big-endian header fields, checking each against the end of the file.

    ``data`` holds the whole file, or only its first bytes when just the header is
    wanted (``size`` is then the file's length); running past those raises
    :class:`_ShortPrefix` so that the caller can read more.
    """

    __slots__ = ("data", "end", "path", "pos", "wide")

    def __init__(self, data, path: Path, *, wide: bool, size: int) -> None:
        self.data = data
        self.end = size
        self.path = path
        self.pos = 4
        self.wide = wide  # CDF-5: counts are 64-bit

    def fail(self, what: str) -> FormatError:
        return FormatError(f"{self.path}: damaged netCDF header: {what} (at byte {self.pos})")

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.end:
            raise self.fail(f"{what} runs past the end of the file ({self.end} bytes)")
        if self.pos + n > len(self.data):
            raise _ShortPrefix

    def u32(self, what: str) -> int:
        self.need(4, what)
        (value,) = struct.unpack_from(">I", self.data, self.pos)
        self.pos += 4
        return value

    def u64(self, what: str) -> int:
        self.need(8, what)
        (value,) = struct.unpack_from(">Q", self.data, self.pos)
        self.pos += 8
        return value

    def count(self, what: str) -> int:
        """A NON_NEG count (32-bit, or 64-bit in CDF-5)."""
        value = self.u64(what) if self.wide else self.u32(what)
        if not self.wide and value >= 2**31:
            raise self.fail(f"{what} is negative")
        return value

    def padded(self, n: int, what: str) -> bytes:
        padded = (n + 3) & ~3
        self.need(padded, what)
        raw = bytes(self.data[self.pos:self.pos + n])
        self.pos += padded
        return raw

    def name(self, what: str) -> str:
        n = self.count(f"length of {what} name")
        if n == 0 or n > 4096:
            raise self.fail(f"{what} name has length {n}")
        raw = self.padded(n, f"{what} name")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise self.fail(f"{what} name is not UTF-8 ({raw[:40]!r})") from error

    def nc_type(self, what: str) -> np.dtype:
        code = self.u32(f"type of {what}")
        dtype = _NC_TYPES.get(code)
        if dtype is None or (code > 6 and not self.wide):
            raise self.fail(f"{what} has unknown type code {code}")
        return dtype

    def list_header(self, expected_tag: int, what: str, min_item_bytes: int) -> int:
        """Number of items of a dim/att/var list (0 when ABSENT)."""
        tag = self.u32(f"{what} tag")
        n = self.count(f"{what} count")
        if tag == _TAG_ABSENT:
            if n:
                raise self.fail(f"absent {what} list with {n} items")
            return 0
        if tag != expected_tag:
            raise self.fail(f"expected the {what} list (tag {expected_tag}), found tag {tag}")
        if n * min_item_bytes > self.end - self.pos:
            raise self.fail(f"{what} count {n} cannot fit in the rest of the file")
        return n

    def attributes(self, owner: str) -> dict[str, Any]:
        n = self.list_header(_TAG_ATTRIBUTE, f"{owner} attribute", 12)
        out: dict[str, Any] = {}
        for _ in range(n):
            name = self.name(f"{owner} attribute")
            what = f"attribute {owner}:{name}"
            dtype = self.nc_type(what)
            nelems = self.count(f"length of {what}")
            if nelems * dtype.itemsize > self.end - self.pos:
                raise self.fail(f"{what} claims {nelems} values, more than the file holds")
            raw = self.padded(nelems * dtype.itemsize, what)
            if dtype.kind == "S":
                out[name] = decode_text(raw)
            else:
                values = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="))
                out[name] = values[0] if values.size == 1 else values
        return out


@dataclass(slots=True)
class _ClassicLayout:
    begin: int
    record: bool
    slab: int  # bytes of one record (record variables) or of the whole variable


class _ClassicDataset(Dataset):
    """A classic/64-bit-offset/CDF-5 file parsed from its bytes in memory.

    ``size`` is the file's length when ``data`` holds only its first bytes (sniffing: the
    header is parsed and checked, no variable can be read).
    """

    def __init__(self, path: Path, data: bytes, sha256: str, *, size: int | None = None
                 ) -> None:
        self.path = path
        self.sha256 = sha256
        self._data = data
        version = data[3]
        if version not in _VERSIONS:
            raise FormatError(f"{path}: netCDF version byte {version} is not 1, 2 or 5")
        self.kind = _VERSIONS[version]
        self._parse(version, len(data) if size is None else size)

    def _parse(self, version: int, size: int) -> None:
        path = self.path
        cursor = _Cursor(self._data, path, wide=version == 5, size=size)
        numrecs = cursor.u64("record count") if version == 5 else cursor.u32("record count")
        streaming = numrecs == _STREAMING[version]

        dims: list[tuple[str, int]] = []
        for _ in range(cursor.list_header(_TAG_DIMENSION, "dimension", 8)):
            name = cursor.name("dimension")
            dims.append((name, cursor.count(f"length of dimension {name}")))
        record_dims = [i for i, (_, length) in enumerate(dims) if length == 0]
        if len(record_dims) > 1:
            names = ", ".join(dims[i][0] for i in record_dims)
            raise cursor.fail(f"more than one unlimited dimension ({names})")
        record_dim = record_dims[0] if record_dims else None

        global_attributes = cursor.attributes("global")

        declared = []
        for _ in range(cursor.list_header(_TAG_VARIABLE, "variable", 24)):
            name = cursor.name("variable")
            ndims = cursor.count(f"number of dimensions of {name}")
            if ndims > 64:
                raise cursor.fail(f"variable {name} has {ndims} dimensions")
            dimids = [cursor.count(f"dimension id of {name}") for _ in range(ndims)]
            for k, dimid in enumerate(dimids):
                if dimid >= len(dims):
                    raise cursor.fail(f"variable {name} uses dimension id {dimid} "
                                      f"but the file declares {len(dims)} dimensions")
                if dimid == record_dim and k != 0:
                    raise cursor.fail(f"variable {name} uses the unlimited dimension "
                                      f"{dims[dimid][0]} other than first")
            attributes = cursor.attributes(name)
            dtype = cursor.nc_type(f"variable {name}")
            # vsize is recomputed below: it is unsigned and saturates for big variables.
            cursor.u64(f"vsize of {name}") if version == 5 else cursor.u32(f"vsize of {name}")
            begin = cursor.u32(f"offset of {name}") if version == 1 else cursor.u64(
                f"offset of {name}")
            declared.append((name, dimids, attributes, dtype, begin))
        header_end = cursor.pos
        if header_end > _MAX_HEADER_BYTES:
            raise FormatError(f"{path}: netCDF header of {header_end} bytes is implausible")

        # Data layout: fixed-size variables are contiguous; record variables share records
        # of ``recsize`` bytes, each 4-byte aligned, except a lone record variable.
        layouts: dict[str, _ClassicLayout] = {}
        record_vars = []
        for name, dimids, _, dtype, begin in declared:
            is_record = bool(dimids) and dimids[0] == record_dim
            inner = [dims[d][1] for d in (dimids[1:] if is_record else dimids)]
            slab = math.prod(inner) * dtype.itemsize
            layouts[name] = _ClassicLayout(begin=begin, record=is_record, slab=slab)
            if is_record:
                record_vars.append(name)
        if len(record_vars) == 1:
            recsize = layouts[record_vars[0]].slab
        else:
            recsize = sum((layouts[name].slab + 3) & ~3 for name in record_vars)

        if record_vars and streaming:
            first = min(layouts[name].begin for name in record_vars)
            numrecs = (size - first) // recsize if recsize else 0
        elif streaming:
            numrecs = 0

        # Every variable must lie after the header and inside the file; fixed-size
        # variables must not overlap one another.
        extents = []
        for name, layout in layouts.items():
            if layout.begin < header_end and (layout.slab or layout.record and numrecs):
                raise FormatError(
                    f"{path}: damaged netCDF header: variable {name} starts at byte "
                    f"{layout.begin}, inside the header (which ends at byte {header_end})"
                )
            if layout.record:
                stop = layout.begin + (numrecs - 1) * recsize + layout.slab if numrecs else 0
            else:
                stop = layout.begin + layout.slab
                if layout.slab:
                    extents.append((layout.begin, stop, name))
            if stop > size:
                raise FormatError(
                    f"{path}: netCDF file is truncated: variable {name} needs bytes up to "
                    f"{stop} but the file has {size}"
                )
        extents.sort()
        for (_begin, end, earlier), (start, _end, later) in zip(extents, extents[1:],
                                                                strict=False):
            if start < end:
                raise FormatError(
                    f"{path}: damaged netCDF header: variables {earlier} and {later} overlap"
                )

        dimension_lengths = {name: (numrecs if i == record_dim else length)
                             for i, (name, length) in enumerate(dims)}
        variables = {}
        for name, dimids, attributes, dtype, _ in declared:
            dim_names = tuple(dims[d][0] for d in dimids)
            shape = tuple(dimension_lengths[n] for n in dim_names)
            variables[name] = Variable(name, dim_names, shape, dtype, MappingProxyType(attributes))
        self.dimensions = MappingProxyType(dimension_lengths)
        self.attributes = MappingProxyType(global_attributes)
        self.variables = MappingProxyType(variables)
        self.unlimited = dims[record_dim][0] if record_dim is not None else None
        self._layouts = layouts
        self._recsize = recsize

    def raw(self, name: str) -> np.ndarray:
        """Values of ``name`` as stored: a read-only (big-endian) view of the file."""
        if name not in self.variables:
            raise KeyError(name)
        variable, layout = self.variables[name], self._layouts[name]
        dtype, shape = variable.dtype, variable.shape
        if math.prod(shape) == 0:
            return np.zeros(shape, dtype=dtype)
        inner_strides = []
        step = dtype.itemsize
        for length in reversed(shape[1:] if layout.record else shape):
            inner_strides.append(step)
            step *= length
        inner_strides.reverse()
        strides = ((self._recsize,) + tuple(inner_strides)) if layout.record else tuple(
            inner_strides)
        array = np.ndarray(shape, dtype=dtype, buffer=self._data, offset=layout.begin,
                           strides=strides)
        array.flags.writeable = False
        return array

    def close(self) -> None:
        # Views already handed out keep the bytes alive; the dataset lets go of them.
        self._data = b""


# --------------------------------------------------------------------------- netCDF-4
_NC4_DIMENSION_ONLY = b"This is a netCDF dimension but not a netCDF variable"


def _hdf5_attribute(value: Any) -> Any:
    if isinstance(value, bytes | np.bytes_):
        return decode_text(value)
    if isinstance(value, str):
        return value.split("\x00", 1)[0].strip()
    array = np.asarray(value)
    if array.dtype.kind in "SO" or array.dtype.kind == "U":
        items = [_hdf5_attribute(v) for v in array.ravel()]
        return items[0] if len(items) == 1 else ", ".join(str(i) for i in items)
    if array.dtype.kind not in "iufb":
        return str(value)
    return array.ravel()[0] if array.size == 1 else array.ravel()


class _Hdf5Dataset(Dataset):
    """A netCDF-4 (HDF5) file opened by h5py from an in-memory copy of its bytes."""

    def __init__(self, path: Path, data: bytes, sha256: str) -> None:
        import h5py

        self.path = path
        self.sha256 = sha256
        self.kind = "netCDF-4"
        try:
            self._file = h5py.File(io.BytesIO(data), "r")
            self._index(len(data))
        except FormatError:
            raise
        except (OSError, KeyError, ValueError, RuntimeError, TypeError) as error:
            raise FormatError(f"{path}: damaged netCDF-4/HDF5 file ({error})") from error

    def _index(self, size: int) -> None:
        import h5py

        root = self._file
        dimensions: dict[str, int] = {}
        variables: dict[str, Variable] = {}
        total = 0
        for name, node in root.items():
            if not isinstance(node, h5py.Dataset):
                continue  # groups are not part of the ANDI layout
            attrs = {key: node.attrs[key] for key in node.attrs}
            is_scale = attrs.get("CLASS") == b"DIMENSION_SCALE"
            if is_scale:
                dimensions[name] = int(node.shape[0]) if node.shape else 0
                label = attrs.get("NAME", b"")
                if isinstance(label, bytes | np.bytes_) and bytes(label).startswith(
                        _NC4_DIMENSION_ONLY):
                    continue
            dims = []
            for axis, proxy in enumerate(node.dims):
                if len(proxy):
                    dims.append(proxy[0].name.rsplit("/", 1)[-1])
                else:
                    dims.append(f"phony_dim_{axis}")
            kept = {k: _hdf5_attribute(v) for k, v in attrs.items()
                    if k not in ("CLASS", "NAME", "DIMENSION_LIST", "REFERENCE_LIST",
                                 "_Netcdf4Dimid", "_Netcdf4Coordinates", "_Encoding")}
            dtype = node.dtype
            if dtype.kind not in "iufS" or (dtype.kind == "S" and dtype.itemsize != 1):
                raise FormatError(f"{self.path}: variable {name} has type {dtype}, "
                                  "which ANDI files do not use")
            total += math.prod(node.shape) * dtype.itemsize
            for dim, length in zip(dims, node.shape, strict=True):
                # An unlimited dimension's scale keeps its creation length; the
                # variables along it say how long it is now.
                dimensions[dim] = max(dimensions.get(dim, 0), int(length))
            variables[name] = Variable(name, tuple(dims), tuple(int(s) for s in node.shape),
                                       dtype, MappingProxyType(kept))
        # Compressed data may legitimately expand, but not without bound: a damaged
        # shape or a compression bomb must not make us allocate gigabytes.
        if total > _HDF5_MAX_EXPANSION * size + 2**20:
            raise FormatError(f"{self.path}: variables declare {total} bytes of data, "
                              f"implausible for a {size}-byte file (more than "
                              f"{_HDF5_MAX_EXPANSION} times its size)")
        check_budget(self.path, total, "the variables this netCDF-4 file declares")
        self.dimensions = MappingProxyType(dimensions)
        self.attributes = MappingProxyType(
            {k: _hdf5_attribute(root.attrs[k]) for k in root.attrs if not k.startswith("_NC")})
        self.variables = MappingProxyType(variables)
        self.unlimited = None

    def raw(self, name: str) -> np.ndarray:
        """Values of ``name`` as stored (a read-only in-memory array)."""
        if name not in self.variables:
            raise KeyError(name)
        try:
            array = self._file[name][()]
        except (OSError, ValueError, RuntimeError) as error:
            raise FormatError(f"{self.path}: variable {name} cannot be read ({error})") from error
        array = np.asarray(array)
        array.flags.writeable = False
        return array

    def close(self) -> None:
        self._file.close()


# --------------------------------------------------------------------------- opening
def is_netcdf(head: bytes) -> Literal["classic", "hdf5", None]:
    """Whether ``head`` (a file's first bytes) starts like a netCDF file, and which kind."""
    if head[:3] == CLASSIC_MAGIC and len(head) >= 4 and head[3] in _VERSIONS:
        return "classic"
    if head[:8] == HDF5_MAGIC:
        return "hdf5"
    return None


_DECODE_STEP = 2**18  # bytes of stored values decoded at a time

#: Most bytes of data a netCDF-4 file may declare per byte of file: HDF5 compression of
#: real ANDI data gains a few times; a damaged shape or a deflate bomb claims thousands.
_HDF5_MAX_EXPANSION = 100


@contextmanager
def open_dataset(path: str | os.PathLike) -> Iterator[Dataset]:
    """Open a netCDF file read-only; yields a :class:`Dataset` with the bytes' SHA-256.

    The file is read once into memory (:func:`gcms.io._common.read_evidence`), hashed,
    and every value is decoded from that buffer (classic files here, netCDF-4 files by
    h5py), so ``Dataset.sha256`` is the digest of exactly the bytes decoded.

    Raises
    ------
    FormatError
        The file is empty, not netCDF, changed while read, or its header is damaged.
    """
    evidence = read_evidence(path)
    path, data = evidence.path, evidence.raw
    kind = is_netcdf(data[:8])
    if kind is None:
        raise FormatError(f"{path}: not a netCDF file (no CDF or HDF5 signature)")
    if kind == "hdf5":
        dataset: Dataset = _Hdf5Dataset(path, data, evidence.sha256)
    else:
        if len(data) < 8:
            raise FormatError(f"{path}: netCDF file is truncated ({len(data)} bytes)")
        dataset = _ClassicDataset(path, data, evidence.sha256)
    try:
        yield dataset
    finally:
        dataset.close()


def _classic_header(path: Path, head: bytes) -> _ClassicDataset:
    """The parsed header of a classic file, reading no more of it than the header needs."""
    size = os.stat(path).st_size
    prefix = head
    while True:
        try:
            return _ClassicDataset(path, prefix, "", size=size)
        except _ShortPrefix:
            if len(prefix) >= min(size, _MAX_HEADER_BYTES):
                raise FormatError(f"{path}: netCDF header longer than "
                                  f"{_MAX_HEADER_BYTES} bytes") from None
            with open(path, "rb") as handle:
                prefix = handle.read(min(4 * max(len(prefix), 1 << 16), _MAX_HEADER_BYTES))


def variable_names(path: str | os.PathLike, head: bytes) -> set[str] | None:
    """Names of the variables of a netCDF file, cheaply (for sniffing); None if unreadable.

    Classic files: the header is parsed from the file's first bytes (more are read only
    when the header is longer). netCDF-4 files: the root of the HDF5 file is listed
    through h5py, read-only and without file locking, without reading the data.
    """
    kind = is_netcdf(head)
    if kind is None:
        return None
    if kind == "classic":
        try:
            return set(_classic_header(Path(path), head).variables)
        except (FormatError, OSError):
            return None
    import h5py

    try:
        with h5py.File(path, "r", locking=False) as handle:
            return {name for name, node in handle.items() if isinstance(node, h5py.Dataset)}
    except (OSError, ValueError, RuntimeError, KeyError):
        return None


# --------------------------------------------------------------------------- decoding
def text_values(dataset: Dataset, name: str) -> list[str]:
    """Strings of a char variable: one per row of its last dimension (see :func:`decode_text`)."""
    variable = dataset.variables[name]
    raw = np.ascontiguousarray(dataset.raw(name))
    if variable.dtype.kind != "S":
        raise FormatError(f"{dataset.path}: variable {name} holds numbers, not text")
    if raw.ndim == 0:
        return [decode_text(raw.tobytes())]
    width = raw.shape[-1]
    rows = raw.reshape(-1, width) if width else raw.reshape(-1, 0)
    return [decode_text(row.tobytes()) for row in rows]


def _attribute_number(variable: Variable, key: str) -> float | None:
    value = variable.attributes.get(key)
    if value is None or isinstance(value, str):
        return None
    array = np.asarray(value, dtype=np.float64).ravel()
    if array.size != 1 or not np.isfinite(array[0]):
        return None
    return float(array[0])


def decode_numeric(
    dataset: Dataset,
    name: str,
    *,
    missing: Sequence[float] = (),
    dtype: type[np.floating] = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Values of a numeric variable as floats, with the mask of values that are not data.

    A value is *not data* when its stored form equals the variable's ``_FillValue`` (or,
    without one, the netCDF default fill for its type, e.g. 9.96921e36 for floats),
    its ``missing_value``, one of ``missing`` (e.g. ANDI's -9999), or is NaN/infinite.
    Data values are then unpacked as ``stored * scale_factor + add_offset`` (CF
    convention; each attribute optional).

    Returns
    -------
    values : ndarray of ``dtype`` (float64 unless asked otherwise)
        Unpacked values (computed in float64 when scaled); ``NaN`` where the mask is set.
    missing_mask : ndarray of bool
    """
    variable = dataset.variables[name]
    raw = dataset.raw(name)
    if variable.dtype.kind not in "iuf":
        raise FormatError(f"{dataset.path}: variable {name} holds text, not numbers")
    fills = []
    explicit = variable.attributes.get("_FillValue")
    if explicit is not None and not isinstance(explicit, str):
        fills.extend(np.asarray(explicit).ravel().tolist())
    else:
        fill = default_fill(variable.dtype)
        if fill is not None:
            fills.append(fill)
    extra_missing = variable.attributes.get("missing_value")
    if extra_missing is not None and not isinstance(extra_missing, str):
        fills.extend(np.asarray(extra_missing).ravel().tolist())
    fills.extend(missing)
    kind = raw.dtype.kind
    info = np.finfo(raw.dtype) if kind == "f" else np.iinfo(raw.dtype)
    # Compared in the stored type: a float32 fill matches exactly as stored.
    fills = [raw.dtype.type(fill) for fill in fills if math.isfinite(fill)
             and info.min <= fill <= info.max and (kind == "f" or float(fill) == int(fill))]
    scale = _attribute_number(variable, "scale_factor")
    offset = _attribute_number(variable, "add_offset")
    scaled = not ((scale is None or scale == 1.0) and (offset is None or offset == 0.0))
    values = np.empty(raw.shape, dtype=dtype)
    mask = np.zeros(raw.shape, dtype=bool)
    # Decoded a stretch at a time: each stretch of the (big-endian, often strided) stored
    # values is swapped, compared with the fills and converted while it is in cache. A
    # stretch is measured in file bytes: a record variable's rows lie a whole record apart.
    row_bytes = abs(raw.strides[0]) if raw.ndim else raw.itemsize
    rows = max(1, _DECODE_STEP // max(1, row_bytes))
    # A value beyond the range of ``dtype`` becomes infinite, which the caller refuses.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, raw.shape[0] if raw.ndim else 1, rows):
            part = raw[start:start + rows] if raw.ndim else raw
            out = values[start:start + rows] if raw.ndim else values
            bad = mask[start:start + rows] if raw.ndim else mask
            if kind == "f":
                np.logical_not(np.isfinite(part), out=bad)
            for fill in fills:
                bad |= part == fill
            if scaled:
                unpacked = part.astype(np.float64)
                if scale is not None and scale != 1.0:
                    unpacked *= scale
                if offset is not None and offset != 0.0:
                    unpacked += offset
                out[...] = unpacked
            else:
                out[...] = part
    if mask.any():
        values[mask] = np.nan
    return values, mask


# --------------------------------------------------------------------------- writing
def _encode_name(name: str) -> bytes:
    raw = name.encode("utf-8")
    return struct.pack(">I", len(raw)) + raw + b"\x00" * (-len(raw) % 4)


def _attribute_bytes(name: str, value: Any) -> bytes:
    code: int | None
    if isinstance(value, str):
        code, payload, n = 2, value.encode("utf-8"), len(value.encode("utf-8"))
    else:
        array = np.atleast_1d(np.asarray(value))
        if array.dtype.kind == "b":
            array = array.astype(np.int32)
        if array.dtype.kind == "i" and array.dtype.itemsize == 8:
            array = array.astype(np.int32) if (
                np.abs(array) < 2**31).all() else array.astype(np.float64)
        native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
        code = _NC_CODES.get(native)
        if code is None or code > 6:
            raise ValueError(f"attribute {name}: cannot store {array.dtype} in a classic file")
        payload = array.astype(_NC_TYPES[code]).tobytes()
        n = array.size
    return (_encode_name(name) + struct.pack(">II", code, n) + payload
            + b"\x00" * (-len(payload) % 4))


def _attribute_list(attributes: Mapping[str, Any]) -> bytes:
    if not attributes:
        return struct.pack(">II", _TAG_ABSENT, 0)
    return struct.pack(">II", _TAG_ATTRIBUTE, len(attributes)) + b"".join(
        _attribute_bytes(k, v) for k, v in attributes.items())


def write_classic(
    path: str | os.PathLike,
    *,
    dimensions: Sequence[tuple[str, int | None]],
    attributes: Mapping[str, Any],
    variables: Sequence[tuple[str, tuple[str, ...], np.ndarray, Mapping[str, Any]]],
) -> None:
    """Write a classic netCDF file (CDF-1, or CDF-2 when offsets pass 2 GiB).

    Parameters
    ----------
    dimensions
        ``(name, length)`` pairs; one length may be ``None`` for the unlimited (record)
        dimension, whose length is then taken from the record variables.
    attributes
        Global attributes: ``str`` or numbers/arrays of a classic type.
    variables
        ``(name, dimension names, data, attributes)``; ``data`` has the dimensions'
        shape (char data as ``S1`` arrays).

    The file is written whole to ``path`` (which must not exist: the caller decides
    about replacing), then flushed to disk.
    """
    dim_index = {name: i for i, (name, _) in enumerate(dimensions)}
    record = [name for name, length in dimensions if length is None]
    if len(record) > 1:
        raise ValueError("a classic netCDF file has at most one unlimited dimension")
    numrecs = 0
    prepared = []
    for name, dims, data, attrs in variables:
        data = np.asarray(data)
        native = data.dtype.newbyteorder("=") if data.dtype.itemsize > 1 else data.dtype
        code = _NC_CODES.get(native)
        if code is None or code > 6:
            raise ValueError(f"variable {name}: cannot store {data.dtype} in a classic file")
        expected = tuple(
            data.shape[0] if dimensions[dim_index[d]][1] is None else dimensions[dim_index[d]][1]
            for d in dims
        )
        if data.shape != expected:
            raise ValueError(f"variable {name}: shape {data.shape} does not match {dims}")
        is_record = bool(dims) and dimensions[dim_index[dims[0]]][1] is None
        if is_record:
            if numrecs and data.shape[0] != numrecs:
                raise ValueError(f"record variable {name} has {data.shape[0]} records, "
                                 f"others {numrecs}")
            numrecs = data.shape[0]
        prepared.append((name, dims, np.ascontiguousarray(data.astype(_NC_TYPES[code])),
                         attrs, code, is_record))

    dim_list = (struct.pack(">II", _TAG_DIMENSION, len(dimensions)) + b"".join(
        _encode_name(name) + struct.pack(">I", 0 if length is None else length)
        for name, length in dimensions)) if dimensions else struct.pack(">II", 0, 0)
    gatt = _attribute_list(attributes)

    def slab(item) -> int:
        _, dims, data, _, _, is_record = item
        inner = data.shape[1:] if is_record else data.shape
        return math.prod(inner) * data.itemsize

    record_items = [item for item in prepared if item[5]]
    lone = len(record_items) == 1
    vsizes = {item[0]: slab(item) if lone and item[5] else (slab(item) + 3) & ~3
              for item in prepared}

    def var_list(offsets: Mapping[str, int], version: int) -> bytes:
        if not prepared:
            return struct.pack(">II", 0, 0)
        parts = [struct.pack(">II", _TAG_VARIABLE, len(prepared))]
        for name, dims, _, attrs, code, _ in prepared:
            parts.append(_encode_name(name) + struct.pack(">I", len(dims)))
            parts.append(b"".join(struct.pack(">I", dim_index[d]) for d in dims))
            parts.append(_attribute_list(attrs))
            vsize = min(vsizes[name], 0xFFFFFFFF)
            begin = struct.pack(">I" if version == 1 else ">Q", offsets[name])
            parts.append(struct.pack(">II", code, vsize) + begin)
        return b"".join(parts)

    version = 1
    for _ in range(2):
        placeholder = dict.fromkeys(vsizes, 0)
        header_len = 8 + len(dim_list) + len(gatt) + len(var_list(placeholder, version))
        offsets, position = {}, header_len
        for item in prepared:
            if not item[5]:
                offsets[item[0]] = position
                position += vsizes[item[0]]
        for item in record_items:
            offsets[item[0]] = position
            position += vsizes[item[0]]
        if version == 1 and max(offsets.values(), default=0) >= 2**31:
            version = 2
            continue
        break

    with open(path, "xb") as out:
        out.write(CLASSIC_MAGIC + bytes([version]) + struct.pack(">I", numrecs))
        out.write(dim_list + gatt + var_list(offsets, version))
        for name, _, data, _, _, is_record in prepared:
            if is_record:
                continue
            payload = data.tobytes()
            out.write(payload + b"\x00" * (vsizes[name] - len(payload)))
        if record_items and numrecs:
            fields: list[tuple[str, Any, tuple[int, ...]]] = []
            for name, _, data, _, _, _ in record_items:
                inner = data.shape[1:]
                fields.append((name, data.dtype, inner))
                pad = vsizes[name] - slab((name, (), data, None, 0, True))
                if pad:
                    fields.append((f"_pad_{name}", "V1", (pad,)))
            table = np.zeros(numrecs, dtype=np.dtype(fields))
            for name, _, data, _, _, _ in record_items:
                table[name] = data
            out.write(table.tobytes())
        out.flush()
        os.fsync(out.fileno())
