"""gcms.config against hostile or careless files (review findings of H11).

Every problem is a one-line gcms error naming the file and the key, never a traceback;
the SHA-256 recorded is of the bytes parsed.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass, field

import pytest

from gcms.config import (
    MAX_CONFIG_BYTES,
    environment,
    from_table,
    limits,
    parse_toml,
    read_toml,
    search_path,
)
from gcms.errors import ProfileError


@dataclass(frozen=True)
class _Limits:
    budget: float = field(default=1.0, metadata=limits(0, None, low_open=True))
    count: int = field(default=1, metadata=limits(1, 1000))
    window: tuple[float, float] = field(default=(0.0, 1.0), metadata=limits(0, 3600))
    bands: tuple[tuple[float, float], ...] = field(default=(), metadata=limits(0, 100))
    name: str = ""


def _load(tmp_path, text: str | bytes) -> _Limits:
    path = tmp_path / "lab.toml"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    document = read_toml(path)
    return from_table(_Limits, document.data, origin=document.source)


@pytest.mark.parametrize("text, key", [
    ("budget = 1" + "0" * 400, "budget"),        # an integer no float holds
    ("count = 99999999999999999999999", "count"),  # beyond TOML's 64-bit integers
])
def test_a_huge_integer_is_a_key_error_not_an_overflow(tmp_path, text, key):
    with pytest.raises(ProfileError, match=rf"lab\.toml: {key}: .*64-bit"):
        _load(tmp_path, text)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "true", "1.5"])
def test_nan_inf_and_booleans_are_not_numbers_within_limits(tmp_path, value):
    with pytest.raises(ProfileError, match=r"lab\.toml: (budget|count): must be"):
        _load(tmp_path, f"budget = {value}\ncount = {value}")


def test_limits_bound_the_numbers_of_a_pair_too(tmp_path):
    """The documented rule: "a bound applies to every number of a list field too"."""
    with pytest.raises(ProfileError, match=r"lab\.toml: window\[0\]: must be >= 0"):
        _load(tmp_path, "window = [-5.0, 10.0]")
    with pytest.raises(ProfileError, match=r"lab\.toml: bands\[0\]\[1\]: must be <= 100"):
        _load(tmp_path, "bands = [[10.0, 200.0]]")
    assert _load(tmp_path, "window = [5, 10]").window == (5.0, 10.0)


def test_a_byte_order_mark_is_read_and_hashed_as_it_is(tmp_path):
    raw = b"\xef\xbb\xbfname = 'lab'\n"
    path = tmp_path / "lab.toml"
    path.write_bytes(raw)
    document = read_toml(path)
    assert document.data == {"name": "lab"}
    assert document.sha256 == hashlib.sha256(raw).hexdigest()


def test_the_hash_is_of_exactly_the_bytes_parsed(tmp_path):
    raw = b"name = 'a'\r\ncount = 3\r\n"  # CRLF kept: the digest is of the bytes as read
    document = parse_toml(raw, source="x.toml")
    assert document.sha256 == hashlib.sha256(raw).hexdigest()
    assert document.data == {"name": "a", "count": 3}


@pytest.mark.parametrize("raw, problem", [
    (b"name = 'a'\nname = 'b'\n", "invalid TOML: Cannot overwrite"),   # duplicate key
    (b"[t]\nx = 1\n[t]\ny = 2\n", "invalid TOML"),                       # duplicate table
    (b"name = '\xff\xfe'\n", "not UTF-8 text"),
    ("\ufeffname = 'a'\n".encode("utf-16"), "not UTF-8 text"),
])
def test_duplicate_keys_and_other_encodings_are_refused_by_file(tmp_path, raw, problem):
    path = tmp_path / "lab.toml"
    path.write_bytes(raw)
    with pytest.raises(ProfileError, match=rf"^{path}: {problem}"):
        read_toml(path)


def test_a_file_too_large_for_a_configuration_is_refused(tmp_path):
    path = tmp_path / "big.toml"
    with open(path, "wb") as file:
        file.truncate(MAX_CONFIG_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ProfileError, match=r"big\.toml: more than \d+ bytes"):
        read_toml(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_or_folder_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "lab.toml"
    os.mkfifo(fifo)
    with pytest.raises(ProfileError, match="not a regular file"):
        read_toml(fifo)
    with pytest.raises(ProfileError, match=str(tmp_path)):
        read_toml(tmp_path)


def test_a_long_wrong_value_is_cut_in_the_message(tmp_path):
    with pytest.raises(ProfileError) as caught:
        _load(tmp_path, f"count = '{'x' * 100_000}'")
    assert len(str(caught.value)) < 300 and "count: must be an integer" in str(caught.value)


def test_a_variable_changed_after_first_use_is_seen(monkeypatch, tmp_path):
    monkeypatch.setenv("GCMS_INSTRUMENTS", str(tmp_path / "a"))
    assert environment().instruments == (str(tmp_path / "a"),)
    monkeypatch.setenv("GCMS_INSTRUMENTS", os.pathsep.join([str(tmp_path / "b"), ""]))
    assert environment().instruments == (str(tmp_path / "b"),)
    monkeypatch.delenv("GCMS_INSTRUMENTS")
    assert environment().instruments == ()


def test_search_order_is_the_documented_one(monkeypatch, tmp_path):
    """docs/guide/configuration.md: the variable's folders in order, then the working
    folder's, then (instruments) the shipped examples."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GCMS_INSTRUMENTS", os.pathsep.join(["/x", "/y"]))
    monkeypatch.setenv("GCMS_METHODS", "/m")
    found = search_path("instruments")
    assert [str(p) for p in found[:2]] == ["/x", "/y"] if sys.platform != "win32" else True
    assert found[2] == tmp_path / "instruments"
    assert found[3].parts[-2:] == ("qa", "profiles")
    methods = search_path("methods")
    assert methods[0].as_posix() == "/m" and methods[1].as_posix() == "instruments/methods"
