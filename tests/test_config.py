"""gcms.config: the environment snapshot, the data folders, search paths, the converter."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

import gcms
from gcms import config
from gcms.config import (
    Environment,
    data_dir,
    environment,
    from_table,
    limits,
    parse_toml,
    read_toml,
    refresh_environment,
    search_path,
    user_data_dir,
)
from gcms.custody._db import default_location
from gcms.errors import CriteriaError, ProfileError
from gcms.identify.criteria import load_criteria
from gcms.identify.targets import load_targets
from gcms.qa.history import default_data_dir
from gcms.qa.profile import load_profile
from gcms.quantitation.method import load_method
from gcms.report.lab import load_lab_profile

REPO = Path(__file__).resolve().parents[1]
POSIX_ONLY = pytest.mark.skipif(sys.platform.startswith("win") or sys.platform == "darwin",
                                reason="the XDG folders are those of Linux and other Unixes")


# ----------------------------------------------------------------------- converter
@dataclass(frozen=True, slots=True)
class Window:
    centre_s: float
    width_s: float = field(default=6.0, metadata=limits(0, 60, low_open=True))


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    mode: Literal["fast", "exact"] = "fast"
    count: int = field(default=3, metadata=limits(1, None))
    tolerance: Literal["off"] | float = field(default="off", metadata=limits(0, None))
    ions: tuple[float, ...] = field(default=(), metadata=limits(1, 2000))
    tags: tuple[str, ...] = ()
    pair: tuple[float, float] = (0.0, 1.0)
    windows: Mapping[str, Window] = field(default_factory=dict)
    window: Window | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        if self.name == "forbidden":
            raise ValueError("name 'forbidden' is reserved")


def build(table, **kwargs):
    return from_table(Settings, table, origin="lab.toml", **kwargs)


def test_a_table_becomes_the_dataclass():
    settings = build({"name": "x", "mode": "exact", "count": 2, "tolerance": 5,
                      "ions": [105, 77], "tags": "one", "pair": [2, 3],
                      "windows": {"a": {"centre_s": 100}}, "window": {"centre_s": 7.5},
                      "strict": True})
    assert settings.ions == (105.0, 77.0) and all(type(i) is float for i in settings.ions)
    assert settings.tolerance == 5.0 and type(settings.tolerance) is float
    assert settings.tags == ("one",)  # one text for a list of text
    assert settings.pair == (2.0, 3.0)
    assert settings.windows["a"] == Window(100.0, 6.0)
    with pytest.raises(TypeError):
        settings.windows["b"] = Window(1.0)  # read-only mapping
    assert settings.window == Window(7.5) and settings.strict is True
    assert build({"name": "y"}) == Settings(name="y")


@pytest.mark.parametrize(("table", "message"), [
    ({"name": "x", "cout": 2},
     "lab.toml: cout: unknown key (did you mean 'count'?); known: name, mode, count"),
    ({"name": "x", "window": {"centre_s": 1, "widht_s": 2}},
     "lab.toml: window.widht_s: unknown key (did you mean 'width_s'?)"),
    ({"name": "x", "zzz": 1}, "lab.toml: zzz: unknown key; known: name"),
    ({"name": 5}, "lab.toml: name: must be a string, got 5"),
    ({"name": "x", "count": 2.5}, "lab.toml: count: must be an integer, got 2.5"),
    ({"name": "x", "count": True}, "lab.toml: count: must be an integer, got True"),
    ({"name": "x", "count": 0}, "lab.toml: count: must be >= 1, got 0"),
    ({"name": "x", "mode": "slow"}, "lab.toml: mode: must be one of 'fast', 'exact', got 'slow'"),
    ({"name": "x", "tolerance": "on"}, "lab.toml: tolerance: must be one of 'off', got 'on'"),
    ({"name": "x", "tolerance": -1}, "lab.toml: tolerance: must be >= 0, got -1"),
    ({"name": "x", "tolerance": [1]}, "lab.toml: tolerance: must be one of 'off' or a number"),
    ({"name": "x", "ions": [105, 0]}, "lab.toml: ions[1]: must be >= 1, got 0"),
    ({"name": "x", "ions": 105}, "lab.toml: ions: must be a list, got 105"),
    ({"name": "x", "pair": [1, 2, 3]}, "lab.toml: pair: must be a list of 2"),
    ({"name": "x", "strict": "yes"}, "lab.toml: strict: must be true or false, got 'yes'"),
    ({"name": "x", "window": 3}, "lab.toml: window: must be a table, got 3"),
    ({"name": "x", "windows": {"a": {}}}, "lab.toml: windows.a.centre_s: required key is missing"),
    ({"name": "x", "window": {"centre_s": 1, "width_s": 0}},
     "lab.toml: window.width_s: must be > 0, got 0"),
    ({"name": "x", "window": {"centre_s": float("nan")}},
     "lab.toml: window.centre_s: must be finite"),
    ({}, "lab.toml: name: required key is missing"),
    ({"name": "forbidden"}, "lab.toml: (top level): name 'forbidden' is reserved"),
])
def test_every_mistake_names_the_file_the_key_and_the_problem(table, message):
    with pytest.raises(ProfileError) as caught:
        build(table)
    assert str(caught.value).startswith(message), str(caught.value)


def test_the_error_class_and_excluded_fields_are_the_callers():
    with pytest.raises(CriteriaError, match="lab.toml: strict: must be true or false"):
        build({"name": "x", "strict": 1}, error=CriteriaError)
    with pytest.raises(ProfileError, match="strict: unknown key"):
        build({"name": "x", "strict": True}, exclude=("strict",))


def test_a_custom_converter_in_the_metadata_decides_its_key():
    @dataclass(frozen=True)
    class Upper:
        code: str = field(default="", metadata={"convert": lambda origin, key, value:
                                                str(value).upper()})

    assert from_table(Upper, {"code": 12}, origin="x").code == "12"
    assert from_table(Upper, {"code": "ab"}, origin="x").code == "AB"


# ------------------------------------------------------------------------ documents
def test_a_read_document_records_its_source_and_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "m.toml"
    raw = b"name = 'x'\r\n# comment\r\n"
    path.write_bytes(raw)
    document = read_toml(path)
    assert document.source == str(path) and document.folder == tmp_path
    assert document.sha256 == hashlib.sha256(raw).hexdigest()
    assert dict(document.data) == {"name": "x"}
    assert parse_toml(raw, source="s").sha256 == document.sha256


def test_unreadable_documents_name_the_file(tmp_path):
    with pytest.raises(CriteriaError, match=r"absent\.toml: cannot read"):
        read_toml(tmp_path / "absent.toml", error=CriteriaError)
    (tmp_path / "bad.toml").write_text("name = \n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"bad\.toml: invalid TOML"):
        read_toml(tmp_path / "bad.toml")
    (tmp_path / "latin.toml").write_bytes(b"name = '\xe9'\n")
    with pytest.raises(ProfileError, match=r"latin\.toml: not UTF-8 text"):
        read_toml(tmp_path / "latin.toml")


LAB = '[laboratory]\nname = "Lab"\n'


@pytest.mark.parametrize(("kind", "text", "message"), [
    ("criteria", "[profile]\nname = 'x'\n[spectrum]\nmin_match_factr = 800\n",
     "spectrum.min_match_factr: unknown key (did you mean 'min_match_factor'?)"),
    ("instrument", "[identity]\nid = 'X'\n[tune]\ncriteria = 'epa-bfb-8260'\nmax_age_dys = 3\n",
     "tune.max_age_dys: unknown key (did you mean 'max_age_days'?)"),
    ("method", "schema = 'gcms-quant-method/1'\n[method]\nname = 'x'\nunits = 'mg/L'\n"
     "[[analyte]]\nname = 'A'\nrt_s = 300\nquantifier_mz = 105\n",
     "method.units: unknown key (did you mean 'unit'?)"),
    ("targets", "[[substance]]\nname = 'X'\nsynonym = ['Y']\n",
     "substance[0].synonym: unknown key (did you mean 'synonyms'?)"),
    ("lab", LAB + "[report]\nlanguage = ['en']\n",
     "report.language: unknown key (did you mean 'languages'?)"),
])
def test_every_kind_of_file_refuses_an_unknown_key_with_a_suggestion(tmp_path, kind, text,
                                                                     message):
    path = tmp_path / "file.toml"
    path.write_text(text, encoding="utf-8")
    load = {"criteria": load_criteria, "instrument": load_profile, "method": load_method,
            "targets": lambda p: load_targets([p]), "lab": load_lab_profile}[kind]
    with pytest.raises((CriteriaError, ProfileError)) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


def test_every_loaded_document_records_its_source_and_sha256():
    def digest(path):
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()

    profile = REPO / "instruments" / "agilent-5977b-gcms01.toml"
    method = REPO / "instruments" / "methods" / "lrcfs-etizolam-is.toml"
    shipped = Path(gcms.__file__).parent / "identify" / "profiles" / "swgdrug-gcms.toml"
    loaded = load_profile(profile)
    assert (loaded.source_path, loaded.sha256) == (str(profile), digest(profile))
    loaded = load_method(method)
    assert (loaded.path, loaded.sha256) == (str(method), digest(method))
    criteria = load_criteria("swgdrug-gcms")
    assert criteria.sha256 == digest(shipped)
    assert criteria.source == "swgdrug-gcms (shipped profile)"
    (listed,) = load_targets(["adulterants"]).files
    assert listed["sha256"] == digest(Path(gcms.__file__).parent / "data" / "targets"
                                      / "adulterants.json")


def test_a_lab_profile_records_its_sha256(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(LAB, encoding="utf-8")
    profile = load_lab_profile(path)
    assert profile.path == str(path)
    assert profile.sha256 == hashlib.sha256(LAB.encode()).hexdigest()


# ---------------------------------------------------------------------- environment
def test_the_snapshot_is_taken_once_and_again_when_a_variable_changes(monkeypatch):
    monkeypatch.setenv("GCMS_ACTOR", "analyst-1")
    first = environment()
    assert first.actor == "analyst-1"
    assert environment() is first  # same variables, same snapshot
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert environment() is first
    monkeypatch.setenv("GCMS_ACTOR", "analyst-2")
    assert environment().actor == "analyst-2"
    again = environment()
    assert refresh_environment() is not again and environment().actor == "analyst-2"
    with pytest.raises(AttributeError):
        first.actor = "someone"  # type: ignore[misc]


def test_empty_variables_count_as_unset_and_folders_split_on_pathsep():
    env = Environment.from_mapping({
        "GCMS_ACTOR": "", "GCMS_STORE": "", "GCMS_DATA_DIR": "",
        "GCMS_INSTRUMENTS": os.pathsep.join(["/a", "", "/b"]), "GCMS_METHODS": "",
        "XDG_DATA_HOME": ""})
    assert env == Environment(instruments=("/a", "/b"))


@POSIX_ONLY
def test_data_dir_with_xdg_data_home_set_empty_or_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("GCMS_DATA_DIR", raising=False)
    monkeypatch.delenv("GCMS_STORE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_dir() == user_data_dir() == tmp_path / "xdg" / "gcms"
    assert default_location() == tmp_path / "xdg" / "gcms" / "store"
    for unset in (lambda: monkeypatch.setenv("XDG_DATA_HOME", ""),
                  lambda: monkeypatch.delenv("XDG_DATA_HOME")):
        unset()
        # set but empty is unset (XDG Base Directory Specification): never a relative "gcms"
        assert data_dir() == tmp_path / "home" / ".local" / "share" / "gcms"
        assert default_data_dir() == data_dir()  # the QA history's folder
        assert default_location() == data_dir() / "store"  # the case store's
    monkeypatch.setenv("GCMS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GCMS_STORE", str(tmp_path / "store"))
    assert data_dir() == default_data_dir() == tmp_path / "data"
    assert default_location() == tmp_path / "store"


# -------------------------------------------------------------------- search paths
def test_search_path_order_per_kind(monkeypatch, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    monkeypatch.setenv("GCMS_INSTRUMENTS", os.pathsep.join([str(first), str(second)]))
    monkeypatch.setenv("GCMS_METHODS", str(second))
    monkeypatch.chdir(tmp_path)
    package = Path(gcms.__file__).parent
    assert search_path("instruments") == (first, second, tmp_path / "instruments",
                                          package / "qa" / "profiles")
    assert search_path("methods") == (second, Path("instruments") / "methods")
    assert search_path("criteria") == (package / "identify" / "profiles",)
    assert search_path("targets") == (package / "data" / "targets",)
    monkeypatch.delenv("GCMS_INSTRUMENTS")
    assert search_path("instruments")[0] == tmp_path / "instruments"
    with pytest.raises(ValueError, match="unknown kind"):
        search_path("libraries")  # type: ignore[arg-type]
    assert set(config.KINDS) == {"instruments", "methods", "criteria", "targets"}


def test_an_instrument_profile_is_found_in_search_path_order(monkeypatch, tmp_path):
    minimal = "[identity]\nid = '{id}'\n[tune]\ncriteria = 'epa-bfb-8260'\n"
    own, local = tmp_path / "own", tmp_path / "instruments"
    for folder, ident in ((own, "FROM-ENV"), (local, "FROM-CWD")):
        folder.mkdir()
        (folder / "agilent-5977b-gcms01.toml").write_text(minimal.format(id=ident))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GCMS_INSTRUMENTS", raising=False)
    assert load_profile("agilent-5977b-gcms01").id == "FROM-CWD"  # before the packaged one
    monkeypatch.setenv("GCMS_INSTRUMENTS", str(own))
    assert load_profile("agilent-5977b-gcms01").id == "FROM-ENV"  # before the working dir
