"""The netCDF container layer: every real file against the netCDF4 library, damaged headers."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, shared_file

from gcms import FormatError
from gcms.io._netcdf import (
    decode_numeric,
    decode_text,
    is_netcdf,
    open_dataset,
    text_values,
    write_classic,
)

netCDF4 = pytest.importorskip("netCDF4")

REAL_CDF = sorted(
    p for folder in ("netcdf-gcms", "andi-roundrobin") if (SHARED_DATA / folder).is_dir()
    for p in (SHARED_DATA / folder).rglob("*") if p.suffix.lower() == ".cdf" and p.is_file()
)


def _reference_text(value: str) -> str:
    # netCDF4 returns the whole char buffer; C-string semantics end it at the first NUL.
    return value.split("\x00", 1)[0].strip()


@pytest.mark.shared
@pytest.mark.parametrize("path", REAL_CDF, ids=lambda p: str(p.relative_to(SHARED_DATA)))
def test_every_real_file_matches_the_netcdf4_library(path):
    with open_dataset(path) as ours, netCDF4.Dataset(path, "r") as ref:
        ref.set_auto_maskandscale(False)
        assert dict(ours.dimensions) == {k: len(v) for k, v in ref.dimensions.items()}
        assert set(ours.variables) == set(ref.variables)
        for key in ref.ncattrs():
            want = ref.getncattr(key)
            got = ours.attributes[key]
            if isinstance(want, str):
                if "\ufffd" in want:  # netCDF4 could not decode it (not UTF-8)
                    assert "\ufffd" not in got
                    continue
                if got != _reference_text(want):
                    # netCDF4 drops NULs inside text; C strings end at the first one.
                    assert _reference_text(want).startswith(got), key
                    assert (got.encode() + b"\x00") in path.read_bytes(), key
            else:
                np.testing.assert_array_equal(np.asarray(got), np.asarray(want), err_msg=key)
        for name, variable in ref.variables.items():
            want = variable[...]
            got = ours.raw(name)
            assert got.shape == want.shape, name
            assert not got.flags.writeable
            np.testing.assert_array_equal(got, np.asarray(want), err_msg=name)
            assert ours.variables[name].dimensions == variable.dimensions
            for key in variable.ncattrs():
                value = variable.getncattr(key)
                mine = ours.variables[name].attributes[key]
                if isinstance(value, str):
                    assert mine == _reference_text(value)
                else:
                    np.testing.assert_array_equal(np.asarray(mine), np.asarray(value))


# --------------------------------------------------------------------------- generated
def _write_sample(path: Path, fmt: str) -> None:
    """One file with every classic type, fixed and record variables, text and scalars."""
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.set_fill_off()
        ds.createDimension("rec", None)
        ds.createDimension("n", 3)
        ds.createDimension("_8_byte_string", 8)
        ds.title = "round robin µ"
        ds.count = np.int32(7)
        ds.pair = np.array([1.5, -2.25])
        ds.small = np.int16(-3)
        ds.tiny = np.int8(5)
        ds.single = np.float32(0.1)
        for name, dtype, values in (
            ("d", "f8", [1.0, 2.5, -3.0e300]),
            ("f", "f4", [0.5, 1e-20, 3.0]),
            ("i", "i4", [1, -2, 2**31 - 1]),
            ("s", "i2", [-32768, 0, 7]),
            ("b", "i1", [-128, 1, 127]),
        ):
            var = ds.createVariable(name, dtype, ("n",))
            var[:] = values
            var.units = "units of " + name
        text = ds.createVariable("names", "S1", ("n", "_8_byte_string"))
        text[:] = netCDF4.stringtochar(np.array(["alpha", "beta", "gamma"], dtype="S8"))
        scalar = ds.createVariable("scalar", "f4", ())
        scalar[...] = 42.0
        # Several record variables of different sizes (records padded to 4 bytes).
        rs = ds.createVariable("rec_short", "i2", ("rec",))
        rd = ds.createVariable("rec_double", "f8", ("rec",))
        rb = ds.createVariable("rec_bytes", "i1", ("rec", "n"))
        rs[:] = np.arange(5, dtype=np.int16) - 2
        rd[:] = np.linspace(0, 1, 5)
        rb[:] = np.arange(15, dtype=np.int8).reshape(5, 3)


@pytest.mark.parametrize("fmt, kind", [
    ("NETCDF3_CLASSIC", "classic"),
    ("NETCDF3_64BIT_OFFSET", "64-bit offset"),
    ("NETCDF3_64BIT_DATA", "64-bit data"),
    ("NETCDF4", "netCDF-4"),
    ("NETCDF4_CLASSIC", "netCDF-4"),
])
def test_every_layout_reads_like_the_netcdf4_library(tmp_path, fmt, kind):
    path = tmp_path / "sample.nc"
    _write_sample(path, fmt)
    with open_dataset(path) as ours, netCDF4.Dataset(path) as ref:
        ref.set_auto_maskandscale(False)
        assert ours.kind == kind
        for name in ("d", "f", "i", "s", "b", "scalar", "rec_short", "rec_double",
                     "rec_bytes", "names"):
            np.testing.assert_array_equal(ours.raw(name), ref[name][...], err_msg=name)
        assert text_values(ours, "names") == ["alpha", "beta", "gamma"]
        assert ours.attributes["title"] == "round robin µ"
        assert ours.attributes["count"] == 7
        np.testing.assert_array_equal(ours.attributes["pair"], [1.5, -2.25])
        assert ours.variables["d"].attributes["units"] == "units of d"
        assert ours.dimensions["rec"] == 5


def test_a_lone_record_variable_is_not_padded(tmp_path):
    # With one record variable the records are packed: a short takes 2 bytes, not 4.
    path = tmp_path / "lone.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("rec", None)
        ds.createVariable("v", "i2", ("rec",))[:] = np.arange(7, dtype=np.int16) * 3
    with open_dataset(path) as ours:
        np.testing.assert_array_equal(ours.raw("v"), np.arange(7) * 3)


def test_streaming_record_count_is_taken_from_the_file_size(tmp_path):
    path = tmp_path / "stream.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("rec", None)
        ds.createVariable("v", "f8", ("rec",))[:] = [1.0, 2.0, 3.0]
    data = bytearray(path.read_bytes())
    data[4:8] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    with open_dataset(path) as ours:
        np.testing.assert_array_equal(ours.raw("v"), [1.0, 2.0, 3.0])


def test_written_classic_files_are_read_by_netcdf4(tmp_path):
    path = tmp_path / "written.cdf"
    text = np.zeros((2, 8), dtype="S1")
    text[0, :3] = np.frombuffer(b"abc", dtype="S1")
    text[1, :5] = np.frombuffer(b"defgh", dtype="S1")
    write_classic(
        path,
        dimensions=[("n", 2), ("_8", 8), ("points", None)],
        attributes={"title": "written", "count": np.int32(3), "values": np.array([1.0, 2.0])},
        variables=[
            ("a", ("n",), np.array([1.25, -2.5]), {"units": "s"}),
            ("t", ("n", "_8"), text, {}),
            ("m", ("points",), np.array([10.5, 11.5, 12.5]), {}),
            ("q", ("points",), np.array([1, 2, 3], dtype=np.float32), {}),
            ("k", ("points",), np.array([4, 5, 6], dtype=np.int16), {}),
        ],
    )
    with netCDF4.Dataset(path) as ref:
        assert ref.data_model == "NETCDF3_CLASSIC"
        assert ref.title == "written" and ref.count == 3
        np.testing.assert_array_equal(ref["a"][:], [1.25, -2.5])
        np.testing.assert_array_equal(ref["m"][:], [10.5, 11.5, 12.5])
        np.testing.assert_array_equal(ref["q"][:], [1, 2, 3])
        np.testing.assert_array_equal(ref["k"][:], [4, 5, 6])
        assert list(netCDF4.chartostring(ref["t"][:])) == ["abc", "defgh"]
        assert ref["a"].units == "s"
    with open_dataset(path) as ours:
        assert text_values(ours, "t") == ["abc", "defgh"]
    with pytest.raises(FileExistsError):
        write_classic(path, dimensions=[], attributes={}, variables=[])


def test_fill_values_missing_values_and_scaling(tmp_path):
    path = tmp_path / "fill.nc"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.set_auto_maskandscale(False)
        ds.createDimension("n", 5)
        default = ds.createVariable("default", "f4", ("n",))
        default[:] = [1.0, 9.9692099683868690e36, 3.0, -9999.0, np.nan]
        own = ds.createVariable("own", "i4", ("n",), fill_value=-1)
        own[:] = [5, -1, 7, 8, -2147483647]
        packed = ds.createVariable("packed", "i2", ("n",))
        packed.scale_factor = 0.5
        packed.add_offset = 100.0
        packed.missing_value = np.int16(-5)
        packed.set_auto_maskandscale(False)
        packed[:] = [0, 2, -5, 4, 6]
    with open_dataset(path) as ds:
        values, mask = decode_numeric(ds, "default", missing=(-9999.0,))
        np.testing.assert_array_equal(mask, [False, True, False, True, True])
        assert values[0] == 1.0 and values[2] == 3.0 and np.isnan(values[mask]).all()
        values, mask = decode_numeric(ds, "own")
        # An explicit _FillValue replaces the default one: -2147483647 is data here.
        np.testing.assert_array_equal(mask, [False, True, False, False, False])
        assert values[4] == -2147483647
        values, mask = decode_numeric(ds, "packed")
        np.testing.assert_array_equal(mask, [False, False, True, False, False])
        np.testing.assert_array_equal(values[~mask], [100.0, 101.0, 102.0, 103.0])


def test_text_ends_at_the_first_nul_and_falls_back_to_latin1():
    assert decode_text(b"RK\x00EST>\x00\x00") == "RK"
    assert decode_text(b"  Fluoride   \x00\x00\x00 ") == "Fluoride"
    assert decode_text(b"40\xb5L/min") == "40µL/min"
    assert decode_text("µ".encode()) == "µ"


def test_magic_detection():
    assert is_netcdf(b"CDF\x01\x00\x00") == "classic"
    assert is_netcdf(b"CDF\x02") == "classic"
    assert is_netcdf(b"CDF\x05") == "classic"
    assert is_netcdf(b"CDF\x03") is None
    assert is_netcdf(b"\x89HDF\r\n\x1a\n...") == "hdf5"
    assert is_netcdf(b"garbage") is None


def test_read_only_evidence_is_opened_and_left_unchanged(tmp_path):
    path = tmp_path / "evidence.nc"
    _write_sample(path, "NETCDF3_CLASSIC")
    path.chmod(0o444)
    before = (path.read_bytes(), os.stat(path).st_mtime_ns)
    with open_dataset(path) as ds:
        view = ds.raw("d")
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[0] = 0.0
    assert (path.read_bytes(), os.stat(path).st_mtime_ns) == before


# --------------------------------------------------------------------------- damage
def _header_bytes(*parts: bytes) -> bytes:
    return b"".join(parts)


def _name(text: str) -> bytes:
    raw = text.encode()
    return struct.pack(">I", len(raw)) + raw + b"\x00" * (-len(raw) % 4)


def _one_variable_file(*, begin: int | None = None, dim_length: int = 4, code: int = 6,
                       version: int = 1, data_bytes: int | None = None,
                       dims: bytes | None = None) -> bytes:
    dim_list = struct.pack(">II", 10, 1) + _name("n") + struct.pack(">I", dim_length)
    gatt = struct.pack(">II", 0, 0)
    header_len = 4 + 4 + len(dim_list) + len(gatt) + 8 + len(_name("v")) + 4 + 4 + 8 + 12
    var = (_name("v") + (dims or struct.pack(">II", 1, 0)) + struct.pack(">II", 0, 0)
           + struct.pack(">III", code, min(dim_length * 8, 2**32 - 1),
                         header_len if begin is None else begin))
    var_list = struct.pack(">II", 11, 1) + var
    header = b"CDF" + bytes([version]) + struct.pack(">I", 0) + dim_list + gatt + var_list
    payload = np.arange(min(dim_length, 64), dtype=">f8").tobytes()
    return header + payload[: (len(payload) if data_bytes is None else data_bytes)]


def test_the_hand_built_file_is_valid(tmp_path):
    path = tmp_path / "ok.cdf"
    path.write_bytes(_one_variable_file())
    with open_dataset(path) as ds:
        np.testing.assert_array_equal(ds.raw("v"), [0, 1, 2, 3])
    with netCDF4.Dataset(path) as ref:
        np.testing.assert_array_equal(ref["v"][:], [0, 1, 2, 3])


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"CDF\x01garbage", "damaged netCDF header"),
    (b"CDF\x07\x00\x00\x00\x00", "not a netCDF file"),
    (b"XYZ\x01" + b"\x00" * 40, "not a netCDF file"),
    (_one_variable_file(data_bytes=20), "truncated: variable v needs bytes up to"),
    (_one_variable_file(dim_length=2**30), "truncated"),
    (_one_variable_file(begin=8), "inside the header"),
    (_one_variable_file(code=99), "unknown type code 99"),
    (_one_variable_file(code=10), "unknown type code 10"),  # CDF-5 type in a CDF-1 file
    (_one_variable_file(dims=struct.pack(">II", 1, 5)), "dimension id 5"),
    (_one_variable_file(dims=struct.pack(">II", 2**30, 0)), "dimensions"),
    (b"CDF\x01\x00\x00\x00\x00" + struct.pack(">II", 10, 2**30), "cannot fit"),
    (b"CDF\x01\x00\x00\x00\x00" + struct.pack(">II", 10, 1) + struct.pack(">I", 2**31)
     + bytes(16), "dimension name"),
    (b"CDF\x01\x00\x00\x00\x00" + struct.pack(">II", 12, 1), "expected the dimension list"),
])
def test_damaged_headers_raise_format_error_naming_the_file(tmp_path, data, message):
    path = tmp_path / "damaged.cdf"
    path.write_bytes(data)
    with pytest.raises(FormatError, match=message) as caught:
        with open_dataset(path):
            pass
    assert str(path) in str(caught.value)


def test_overlapping_variables_are_refused(tmp_path):
    path = tmp_path / "overlap.cdf"
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.createDimension("n", 4)
        ds.createVariable("a", "f8", ("n",))[:] = 1.0
        ds.createVariable("b", "f8", ("n",))[:] = 2.0
    data = bytearray(path.read_bytes())
    with open_dataset(path) as ds:
        pass
    # Point b's offset (the last 4 header bytes before the data) at a's data.
    begin_b = data.rfind(struct.pack(">I", len(data) - 32))
    data[begin_b:begin_b + 4] = struct.pack(">I", len(data) - 64)
    path.write_bytes(bytes(data))
    with pytest.raises(FormatError, match="overlap"):
        with open_dataset(path):
            pass


def test_damaged_hdf5_raises_format_error(tmp_path):
    path = tmp_path / "damaged.nc"
    _write_sample(path, "NETCDF4")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FormatError, match=str(path.name)):
        with open_dataset(path):
            pass


@pytest.mark.shared
def test_golden_layout_of_the_agilent_file():
    """The byte offsets documented in docs/andi-netcdf.md, read with struct."""

    path = shared_file("netcdf-gcms", "agilent-gcms.cdf")
    data = path.read_bytes()
    assert len(data) == 2_517_393
    assert data[:4] == b"CDF\x01"
    assert struct.unpack_from(">I", data, 4)[0] == 157_201
    assert struct.unpack_from(">II", data, 8) == (10, 13)
    assert data[16:34] == struct.pack(">I", 14) + b"_2_byte_string" and struct.unpack_from(
        ">I", data, 36)[0] == 2
    first_mass, first_time, first_intensity = struct.unpack_from(">fff", data, 630_980)
    assert (first_mass, first_intensity) == (16.0, 37.0)
    assert first_time == np.float32(9.9692099683868690e36)
    assert struct.unpack_from(">f", data, 630_980 + 12)[0] == 17.0
    assert struct.unpack_from(">d", data, 67_372)[0] == 5.25
    assert struct.unpack_from(">ii", data, 553_848) == (0, 11)
    with open_dataset(path) as ds:
        assert ds.dimensions["point_number"] == 157_201
        assert ds.raw("mass_values")[:2].tolist() == [16.0, 17.0]
        assert ds.raw("scan_acquisition_time")[0] == 5.25
        assert ds.raw("scan_index")[:2].tolist() == [0, 11]
