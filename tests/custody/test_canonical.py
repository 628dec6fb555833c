"""The canonical serialisation and chain rule, checked against hand-written bytes."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gcms.custody.canonical import (
    GENESIS_PREV,
    canonical_json,
    entry_sha256,
    parse_utc,
    sha256_of,
    utc_iso,
)
from gcms.errors import CustodyError


def test_canonical_bytes_are_sorted_compact_utf8():
    value = {"z": 1, "a": [True, None, 1.5], "é": "µg", "B": {"y": "x", "b": 2}}
    # keys by code point: "B" < "a" < "z" < "é"; no spaces; non-ASCII as itself
    assert canonical_json(value) == '{"B":{"b":2,"y":"x"},"a":[true,null,1.5],"z":1,"é":"µg"}'


def test_numbers_tuples_paths_and_numpy_scalars_normalise():
    from pathlib import Path

    assert canonical_json((np.int64(3), np.float64(0.1), Path("/a/b"))) == '[3,0.1,"/a/b"]'


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused_with_their_place(bad):
    with pytest.raises(CustodyError, match=r"value\.hits\[1\]"):
        canonical_json({"hits": [1.0, bad]})


def test_non_string_keys_and_unknown_objects_are_refused():
    with pytest.raises(CustodyError, match="not a string"):
        canonical_json({1: "x"})
    with pytest.raises(CustodyError, match="set has no JSON form"):
        canonical_json({"x": {1, 2}})


def test_entry_hash_follows_the_documented_rule():
    content_sha = hashlib.sha256(b'{"a":1}').hexdigest()
    text = ('{"case_tag":null,"content_sha256":"' + content_sha + '","prev_sha256":"'
            + GENESIS_PREV + '","seq":1}')
    assert entry_sha256(1, GENESIS_PREV, content_sha, None) == hashlib.sha256(
        text.encode()).hexdigest()
    tagged = text.replace("null", '"' + "ab" * 32 + '"')
    assert entry_sha256(1, GENESIS_PREV, content_sha, "ab" * 32) == hashlib.sha256(
        tagged.encode()).hexdigest()
    assert sha256_of({"a": 1}) == content_sha


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
))
def test_canonical_json_round_trips_and_is_stable(value):
    import json

    text = canonical_json(value)
    assert canonical_json(json.loads(text)) == text


def test_times_are_utc_with_microseconds_and_z():
    assert parse_utc("2025-03-01T14:30+01:00") == "2025-03-01T13:30:00.000000Z"
    assert parse_utc("2025-03-01T14:30:05.25Z") == "2025-03-01T14:30:05.250000Z"
    assert parse_utc("2025-03-01T14:30:05.1234567+00:00") == "2025-03-01T14:30:05.123456Z"
    aware = datetime(2025, 3, 1, 14, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert utc_iso(aware) == "2025-03-01T19:30:00.000000Z"
    naive = datetime(2025, 3, 1, 14, 30)
    assert parse_utc("2025-03-01 14:30") == utc_iso(naive.astimezone())
    with pytest.raises(CustodyError, match="received_at.*not an ISO 8601 time"):
        parse_utc("yesterday", "received_at")
