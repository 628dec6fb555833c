"""The custody commands end to end: a lab's workflow, exit codes, JSON output."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

PASSPHRASE = "correct horse battery"


@pytest.fixture
def gcms(sqlite_location, monkeypatch):
    """``gcms(*args, actor=...)`` runs the command against one store; returns the result."""
    monkeypatch.setenv("GCMS_STORE", sqlite_location)
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", PASSPHRASE)
    runner = CliRunner()

    def run(*args: str, actor: str = "alice", input: str | None = None):
        return runner.invoke(cli, list(args), env={"GCMS_ACTOR": actor}, input=input,
                             catch_exceptions=False)

    return run


@pytest.fixture
def evidence(tmp_path):
    path = tmp_path / "E1-inj1.cdf"
    path.write_bytes(os.urandom(4096))
    folder = tmp_path / "BLANK.D"
    folder.mkdir()
    (folder / "DATA.MS").write_bytes(os.urandom(2048))
    return path, folder


def test_a_lab_workflow(gcms, evidence, tmp_path):
    path, folder = evidence
    assert gcms("case", "new", "2025-0142", "--title", "Port seizure").exit_code == 0
    result = gcms("exhibit", "add", "--case", "2025-0142", "E1", "--description",
                  "47 beige tablets", "--seal", "A123", "--gross-weight", "14.82 g",
                  "--net-weight", "12.50 g", "--received-from", "Officer B",
                  "--received-at", "2025-03-01T09:00Z")
    assert result.exit_code == 0, result.output
    result = gcms("exhibit", "transfer", "--case", "2025-0142", "E1", "--from", "alice",
                  "--to", "vault", "--purpose", "storage", "--seal-intact",
                  "--at", "2025-03-01T10:00Z")
    assert result.exit_code == 0, result.output
    result = gcms("run", "attach", "--case", "2025-0142", "--exhibit", "E1", str(path),
                  "--json")
    assert result.exit_code == 0, result.output
    [run] = json.loads(result.stdout)
    assert run["run_id"] == "R1" and run["size_bytes"] == 4096
    result = gcms("run", "attach", "--case", "2025-0142", "--kind", "blank", str(folder))
    assert result.exit_code == 0 and "R2" in result.stdout
    result_file = tmp_path / "result.json"
    result_file.write_text(json.dumps({"verdict": "identified", "substances": ["cocaine"]}))
    result = gcms("custody", "record-result", "--case", "2025-0142", str(result_file),
                  "--run", "R1", "--summary", "cocaine identified")
    assert result.exit_code == 0 and "RS1" in result.stdout
    keys = tmp_path / "keys"
    result = gcms("key", "new", "alice", "--name", "Alice A. Analyst", "-o", str(keys),
                  "--register")
    assert result.exit_code == 0, result.output
    result = gcms("user", "add", "bob", "--role", "reviewer", "--name", "Bob B. Reviewer",
                  "--key", str(keys / "alice.key"))
    assert result.exit_code == 0, result.output
    result = gcms("key", "new", "bob", "-o", str(keys), "--register", "--admin-key",
                  str(keys / "alice.key"))
    assert result.exit_code == 0, result.output
    listed = gcms("user", "list")
    assert "alice" in listed.stdout and "bob              active   reviewer" in listed.stdout
    result = gcms("custody", "sign", "--case", "2025-0142", "--result", "RS1", "--key",
                  str(tmp_path / "keys" / "alice.key"), "--meaning", "authored")
    assert result.exit_code == 0 and "authored by Alice A. Analyst" in result.stdout
    result = gcms("custody", "review", "--case", "2025-0142", "--result", "RS1",
                  "--outcome", "agreed", actor="bob")
    assert result.exit_code == 2 and "Missing option '--key'" in result.output
    result = gcms("custody", "review", "--case", "2025-0142", "--result", "RS1",
                  "--outcome", "agreed", "--key", str(keys / "alice.key"), actor="bob")
    assert result.exit_code == 2 and "rule: a key signs only as the user it is registered" \
        in result.stderr
    result = gcms("custody", "review", "--case", "2025-0142", "--result", "RS1",
                  "--outcome", "agreed", "--key", str(keys / "bob.key"), actor="bob")
    assert result.exit_code == 0, result.output
    result = gcms("custody", "sign", "--case", "2025-0142", "--result", "RS1", "--key",
                  str(tmp_path / "keys" / "bob.key"), "--meaning", "reviewed", actor="bob")
    assert result.exit_code == 0, result.output

    shown = gcms("case", "show", "2025-0142")
    assert shown.exit_code == 0
    for text in ("exhibit E1: 47 beige tablets", "net weight    12.50 g", "held by       vault",
                 "alice -> vault  storage  (seal intact)", run["sha256"],
                 "authored  Alice A. Analyst (alice)", "reviewed  Bob B. Reviewer (bob)"):
        assert text in shown.stdout, text
    log = gcms("custody", "log", "--case", "2025-0142", "--json")
    actions = [e["action"] for e in json.loads(log.stdout)]
    assert actions[:3] == ["store.init", "user.add", "case.open"]
    assert actions.count("signature.sign") == 2
    listed = gcms("case", "list")
    assert listed.stdout.startswith("2025-0142\tPort seizure")

    verified = gcms("custody", "verify")
    assert verified.exit_code == 0, verified.output
    assert "OK" in verified.stdout and "2 verified" in verified.stdout
    bundle = tmp_path / "bundle.json"
    exported = gcms("custody", "export", "--case", "2025-0142", "-o", str(bundle))
    assert exported.exit_code == 0, exported.output
    offline = gcms("custody", "verify", "--bundle", str(bundle), "--json")
    assert offline.exit_code == 0 and json.loads(offline.stdout)["signatures"] == 2
    again = gcms("custody", "export", "--case", "2025-0142", "-o", str(bundle))
    assert again.exit_code == 2 and "never overwritten" in again.stderr

    with open(path, "ab") as handle:
        handle.write(b"\0")
    failed = gcms("custody", "verify", "--case", "2025-0142")
    assert failed.exit_code == 1
    assert f"custody does not verify: file {path} (run R1 of case 2025-0142)" in failed.stderr
    as_json = gcms("custody", "verify", "--json")
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and report["findings"][0]["kind"] == "file"


def test_input_errors_exit_2_with_one_line(gcms, evidence):
    missing = gcms("case", "show", "nope")
    assert missing.exit_code == 2 and "no case store here" in missing.stderr
    assert gcms("case", "new", "C1").exit_code == 0
    duplicate = gcms("case", "new", "C1")
    assert duplicate.exit_code == 2
    store = os.environ['GCMS_STORE']
    assert duplicate.stderr.strip() == f"gcms: error: case 'C1': already exists in {store}"
    bad_weight = gcms("exhibit", "add", "--case", "C1", "E1", "--description", "x",
                      "--net-weight", "12,5g")
    assert bad_weight.exit_code == 2 and "net weight" in bad_weight.stderr
    attach = gcms("run", "attach", "--case", "C1", "/no/such/file.cdf", str(evidence[0]))
    assert attach.exit_code == 2 and "/no/such/file.cdf: no such file" in attach.stderr
    assert "R1" in attach.stdout  # the good file was still attached
    wrong = gcms("custody", "verify", "--bundle", str(evidence[0]))
    assert wrong.exit_code == 2 and "not a JSON file" in wrong.stderr


def test_keys_are_registered_by_an_admin_only(gcms, tmp_path):
    """The contract: a user who is not an admin (or not enrolled) cannot register a key."""
    assert gcms("case", "new", "C1").exit_code == 0  # alice: the store's first admin
    assert gcms("key", "new", "alice", "-o", str(tmp_path / "a"), "--name", "Alice",
                "--register").exit_code == 0
    admin_key = str(tmp_path / "a" / "alice.key")
    unknown = gcms("key", "new", "asmith", "--name", "A. Smith", "-o", str(tmp_path / "m"),
                   "--register", actor="mallory")
    assert unknown.exit_code == 2
    assert "mallory is not an enrolled user of the store" in unknown.stderr
    assert not (tmp_path / "m" / "asmith.key").exists()  # refused before any file
    assert gcms("user", "add", "jdoe", "--role", "analyst", "--name", "J. Doe", "--key",
                admin_key).exit_code == 0
    assert gcms("user", "add", "asmith", "--role", "reviewer", "--name", "A. Smith",
                "--key", admin_key).exit_code == 0
    analyst = gcms("key", "new", "asmith", "--name", "A. Smith", "-o", str(tmp_path / "j"),
                   "--register", actor="jdoe")
    assert analyst.exit_code == 2 and "needs the role admin" in analyst.stderr
    assert "rule: only an admin adds users and registers or revokes keys" in analyst.stderr
    own = gcms("key", "new", "jdoe", "-o", str(tmp_path / "j"), "--register", actor="jdoe")
    assert own.exit_code == 2 and "needs the role admin" in own.stderr
    renamed = gcms("key", "new", "asmith", "--name", "Dr Somebody Else", "-o",
                   str(tmp_path / "s"), "--register", "--admin-key", admin_key)
    assert renamed.exit_code == 2 and "the printed name comes from the store" in renamed.stderr
    foreign = gcms("key", "new", "asmith", "-o", str(tmp_path / "s2"), "--register")
    assert foreign.exit_code == 2 and "cannot prove its own registration" in foreign.stderr
    added = gcms("user", "add", "eve", "--role", "admin", "--name", "Eve", "--key",
                 str(tmp_path / "s2" / "asmith.key"), actor="asmith")
    assert added.exit_code == 2 and "needs the role admin" in added.stderr
    good = gcms("key", "new", "asmith", "-o", str(tmp_path / "s3"), "--register",
                "--admin-key", admin_key, "--json")
    assert good.exit_code == 0 and json.loads(good.stdout)["printed_name"] == "A. Smith"
    assert gcms("custody", "verify").exit_code == 0


def test_wrong_passphrase_is_refused(gcms, tmp_path, monkeypatch):
    assert gcms("case", "new", "C1").exit_code == 0
    assert gcms("key", "new", "alice", "--name", "A", "-o", str(tmp_path), "--register",
                "--json").exit_code == 0
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "not the passphrase")
    result = gcms("custody", "sign", "--case", "C1", "--result", "RS1", "--key",
                  str(tmp_path / "alice.key"), "--meaning", "authored")
    assert result.exit_code == 2 and "wrong passphrase" in result.stderr


def test_prompted_passphrase_must_be_confirmed(gcms, tmp_path, monkeypatch):
    monkeypatch.delenv("GCMS_KEY_PASSPHRASE")
    result = gcms("key", "new", "carol", "--name", "C", "-o", str(tmp_path),
                  input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "carol.key").exists() and PASSPHRASE not in result.output
