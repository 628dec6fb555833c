"""gcms library add: recorded as a signed library version with --store, else said not to be."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from custody.conftest import memory_key
from gcms_cli.main import cli

from gcms.custody import CaseStore
from gcms.custody.keys import new_key_pair
from gcms.custody.libraries import NO_LIBRARY
from gcms.demo import demo_folder
from gcms.library import Library

STANDARD = demo_folder() / "03-standard.cdf"


def _add(library, name, rt, *options):
    return CliRunner().invoke(cli, ["library", "add", str(library), "--from-run",
                                    str(STANDARD), "--rt", str(rt), "--name", name, *options])


@pytest.fixture
def lab(tmp_path, monkeypatch):
    """A store with alice (admin) and bob (reviewer), each with a key file."""
    admin = memory_key()
    location = tmp_path / "store"
    with CaseStore(location, actor="alice") as store:
        store.register_key(admin, user="alice", printed_name="Alice")
        store.add_user("bob", roles=["reviewer"], printed_name="Bob", key=admin)
    files = {}
    for user in ("alice", "bob"):
        path, _, key = new_key_pair(tmp_path, user, "pass phrase 1")
        files[user] = str(path)
        with CaseStore(location, actor="alice", create=False) as store:
            store.register_key(key, user=user, key=admin)
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "pass phrase 1")
    monkeypatch.delenv("GCMS_STORE", raising=False)
    return location, files


def test_without_a_store_the_addition_is_said_not_recorded(tmp_path, monkeypatch):
    monkeypatch.delenv("GCMS_STORE", raising=False)
    out = _add(tmp_path / "lab.h5", "Amphetamine", 191.9)
    assert out.exit_code == 0, out.output
    assert "not recorded: no case store" in out.output
    assert len(Library.open(tmp_path / "lab.h5")) == 1


def test_additions_are_signed_versions_approved_by_another(lab, tmp_path):
    location, keys = lab
    path = tmp_path / "lab.h5"
    signed = ["--store", str(location), "--actor", "alice", "--key", keys["alice"]]
    out = _add(path, "Amphetamine", 191.9, *signed, "--json")
    assert out.exit_code == 0, out.output
    first = json.loads(out.stdout)
    assert first["library_version"]["version"] == 1
    assert first["library_version"]["previous_identity_sha256"] == NO_LIBRARY
    created = Library.open(path)
    assert first["library_version"]["identity_sha256"] == created.identity_sha256
    out = _add(path, "Caffeine", 376.4, *signed, "--reason", "caffeine standard, lot 7")
    assert out.exit_code == 0, out.output
    assert "recorded library lab v2 (add)" in out.output
    # a refusal (no key) leaves the file as it was
    out = _add(path, "Phenacetin", 331.2, "--store", str(location), "--actor", "alice")
    assert out.exit_code == 2 and "private key" in out.output
    assert len(Library.open(path)) == 2 and not list(tmp_path.glob(".gcms-add-*"))
    with CaseStore(location, actor="bob", create=False) as store:
        versions = store.library_versions("lab")
    assert [(v["change"], v["actor"]) for v in versions] == [("add", "alice"), ("add", "alice")]
    assert versions[0]["details"]["added"][0]["name"] == "Amphetamine"
    assert versions[1]["reason"] == "caffeine standard, lot 7"
    assert versions[1]["previous_identity_sha256"] == created.identity_sha256
    assert versions[1]["identity_sha256"] == Library.open(path).identity_sha256
    out = CliRunner().invoke(cli, ["library", "approve", "lab", "2", "--store", str(location),
                                   "--actor", "bob", "--key", keys["bob"]])
    assert out.exit_code == 0, out.output
    out = CliRunner().invoke(cli, ["custody", "verify", "--store", str(location)])
    assert out.exit_code == 0, out.output
