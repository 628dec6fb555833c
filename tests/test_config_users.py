"""The lookalike data and report translations read through gcms.config's converter."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

import gcms
from gcms.errors import CriteriaError, ProfileError
from gcms.identify.lookalikes import load_lookalikes
from gcms.report.i18n import available_languages, load_wording

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PACKAGE = Path(gcms.__file__).parent
GROUP = '[[lookalike]]\nname = "x"\nmembers = ["A", "B"]\nstatement = "s"\n'


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- lookalikes
def test_the_shipped_lookalikes_are_the_file_as_written_with_its_sha256():
    path = PACKAGE / "identify" / "lookalikes.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    data = load_lookalikes()
    assert [g.to_dict() for g in data.groups] == [
        {"name": t["name"].strip(), "members": [m.strip() for m in t["members"]],
         "statement": t["statement"].strip()} for t in raw["lookalike"]]
    assert [a.to_dict() for a in data.ambiguities] == [
        {"name": t["name"].strip(), "triggers": [[m.strip() for m in s] for s in t["triggers"]],
         "statement": t["statement"].strip()} for t in raw["ambiguity"]]
    assert (data.source, data.sha256) == ("lookalikes.toml (shipped)", _digest(path))


@pytest.mark.parametrize("text, message", [
    ('[[lookalikes]]\nname = "x"\n', "lookalikes: unknown key (did you mean 'lookalike'?)"),
    (GROUP.replace("members", "member"),
     "lookalike[0].member: unknown key (did you mean 'members'?)"),
    (GROUP.replace('statement = "s"\n', ""), "lookalike[0].statement: required key is missing"),
    (GROUP.replace('"A", "B"', '"A"'), "lookalike[0].members: a group needs two members"),
    (GROUP.replace('"A", "B"', '"A", " "'), "lookalike[0].members: must be a non-empty list"),
    ('[[ambiguity]]\nname = "x"\ntriggers = [["A"], []]\nstatement = "s"\n',
     r"ambiguity[0].triggers[1]: must be a non-empty list of names"),
    ('[[ambiguity]]\nname = " "\ntriggers = [["A"]]\nstatement = "s"\n',
     "ambiguity[0].name: missing or not a string"),
])
def test_a_lab_lookalike_file_names_the_file_the_key_and_the_problem(tmp_path, text, message):
    path = tmp_path / "groups.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CriteriaError) as caught:
        load_lookalikes(path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


def test_a_lab_lookalike_file_records_its_path_and_sha256(tmp_path):
    path = tmp_path / "groups.toml"
    path.write_text(GROUP, encoding="utf-8")
    data = load_lookalikes(path)
    assert data.groups[0].members == ("A", "B") and data.ambiguities == ()
    assert (data.source, data.sha256) == (str(path), _digest(path))


# --------------------------------------------------------------------- translations
@pytest.mark.parametrize("language", available_languages())
def test_the_packaged_wording_is_the_file_as_written_with_its_sha256(language):
    path = PACKAGE / "report" / "translations" / f"{language}.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    wording = load_wording(language)
    assert dict(wording.text) == raw["text"]
    assert wording.direction == raw["meta"]["direction"]
    assert wording.name == raw["meta"].get("name", language)
    assert wording.files[0] == (str(path), _digest(path))


def test_an_override_is_recorded_and_its_meta_replaces_only_what_it_gives(tmp_path):
    path = tmp_path / "en.toml"
    path.write_text('[meta]\nname = "Lab English"\n[text]\nunsigned = "Not signed."\n',
                    encoding="utf-8")
    wording = load_wording("en", directory=tmp_path)
    assert wording("unsigned") == "Not signed."
    assert (wording.name, wording.direction) == ("Lab English", "ltr")
    assert wording.files[-1] == (str(path), _digest(path))


@pytest.mark.parametrize("text, message", [
    ('[txt]\nunsigned = "x"\n', "txt: unknown key (did you mean 'text'?)"),
    ('[meta]\ndirektion = "rtl"\n', "meta.direktion: unknown key (did you mean 'direction'?)"),
    ('[meta]\ndirection = "up"\n', "meta.direction: must be one of 'ltr', 'rtl'"),
    ('[text]\nunsigned = 3\n', "text.unsigned: must be a string"),
    ('[text]\nunsinged = "x"\n', "text.unsinged is not a report sentence (did you mean"),
    ('[substances]\nCaffeine = "x"\n', "substances: substance names go in the file"),
])
def test_an_override_names_the_file_the_key_and_the_problem(tmp_path, text, message):
    path = tmp_path / "en.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_wording("en", directory=tmp_path)
    assert str(caught.value).startswith(f"{path}: {message}"), str(caught.value)


# ---------------------------------------------------------------------- environment
def test_a_secret_is_read_when_asked_and_never_kept_in_the_snapshot(monkeypatch):
    from gcms import config

    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "correct horse")
    assert config.secret("GCMS_KEY_PASSPHRASE") == "correct horse"
    assert "correct horse" not in repr(config.refresh_environment())
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "")
    assert config.secret("GCMS_KEY_PASSPHRASE") is None
    monkeypatch.delenv("GCMS_KEY_PASSPHRASE")
    assert config.secret("GCMS_KEY_PASSPHRASE") is None


def test_the_cli_takes_passphrases_from_the_variable_named(monkeypatch):
    from gcms_cli.custody import _passphrase as custody_passphrase
    from gcms_cli.report import _passphrase as report_passphrase

    monkeypatch.setenv("LAB_KEY_SECRET", "s3cret")
    assert report_passphrase("LAB_KEY_SECRET", "unused prompt") == "s3cret"
    assert custody_passphrase("LAB_KEY_SECRET", confirm=False, prompt="unused") == "s3cret"


@pytest.mark.parametrize("value", [None, ""])
def test_batch_case_without_a_store_is_refused_when_gcms_store_is_unset_or_empty(
        monkeypatch, value):
    import click
    from gcms_cli.custody import batch_steps

    if value is None:
        monkeypatch.delenv("GCMS_STORE", raising=False)
    else:
        monkeypatch.setenv("GCMS_STORE", value)
    with pytest.raises(click.UsageError, match="--case needs --store"):
        batch_steps({"custody_case": "CASE-1"})


def test_every_gcms_variable_is_read_through_gcms_config_and_documented():
    import re

    from gcms import config

    root = PACKAGE.parent
    named = set()
    for path in [*PACKAGE.rglob("*.py"), *(root / "cli").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"\bGCMS_[A-Z_]+[A-Z]\b", text))
        relative = path.relative_to(root).as_posix()
        if relative not in ("gcms/config.py", "gcms/library/scan.py", "gcms/batch/pipeline.py"):
            assert not re.search(r"os\.environ|getenv", text), relative
    known = set(config.VARIABLES) | set(config.SECRETS)
    assert named <= known, named - known
    page = (root / "docs" / "guide" / "configuration.md")
    if page.is_file():
        documented = set(re.findall(r"`(GCMS_[A-Z_]+|XDG_DATA_HOME|LOCALAPPDATA)`",
                                    page.read_text(encoding="utf-8")))
        assert known <= documented, known - documented
