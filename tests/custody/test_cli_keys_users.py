"""Keys, users and the plain-text log as the review workstation's setup walks them.

The setup of issue 15: a store made with ``gcms store init --admin alice`` (no printed
name), keys made and registered with ``gcms key new/register``, users listed, reviews
shown in ``gcms custody log``.
"""

from __future__ import annotations

import json
import re

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

    def run(*args: str, actor: str = "alice"):
        return runner.invoke(cli, list(args), env={"GCMS_ACTOR": actor},
                             catch_exceptions=False)

    return run


@pytest.fixture
def lab(gcms, tmp_path):
    """A store whose first admin alice was enrolled without a printed name."""
    assert gcms("store", "init", "--admin", "alice").exit_code == 0
    return tmp_path / "keys"


def _users(gcms) -> dict[str, dict]:
    listed = gcms("user", "list", "--json")
    assert listed.exit_code == 0, listed.output
    return {u["user_id"]: u for u in json.loads(listed.stdout)}


def test_key_register_names_the_enrolled_printed_name(gcms, lab):
    """Without --name the line shows the user's printed name from the store, not None."""
    assert gcms("key", "new", "alice", "--name", "Alice Analyst", "-o", str(lab),
                "--register").exit_code == 0
    admin_key = str(lab / "alice.key")
    assert gcms("user", "add", "bob", "--role", "reviewer", "--name", "Bob B. Reviewer",
                "--key", admin_key).exit_code == 0
    assert gcms("key", "new", "bob", "-o", str(lab), actor="bob").exit_code == 0
    result = gcms("key", "register", "bob", str(lab / "bob.pub"), "--key", admin_key)
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith("registered for bob (Bob B. Reviewer)")
    assert "None" not in result.stdout


def test_key_new_name_fills_an_empty_printed_name_of_the_user(gcms, lab):
    """--name on registration gives an unnamed user their printed name, as a user.name
    entry proven by the admin's key; the chain still verifies."""
    result = gcms("key", "new", "alice", "--name", "Alice Analyst", "-o", str(lab),
                  "--register")
    assert result.exit_code == 0, result.output
    assert _users(gcms)["alice"]["printed_name"] == "Alice Analyst"
    assert "Alice Analyst" in gcms("user", "list").stdout
    entries = json.loads(gcms("custody", "log", "--json").stdout)
    [named] = [e for e in entries if e["action"] == "user.name"]
    assert named["object_id"] == "alice" and named["proof"] is not None
    assert named["before"]["printed_name"] is None
    assert named["after"]["printed_name"] == "Alice Analyst"
    verified = gcms("custody", "verify")
    assert verified.exit_code == 0, verified.output
    # the enrolled name now holds: a different one on a later key is refused
    other = gcms("key", "new", "alice", "--name", "Somebody Else", "-o", str(lab / "2"),
                 "--register", "--admin-key", str(lab / "alice.key"))
    assert other.exit_code == 2 and "the printed name comes from the store" in other.stderr


def test_user_name_is_set_by_an_admin_only(gcms, lab):
    """gcms user name: an admin sets a printed name (with a reason); no one else may."""
    assert gcms("key", "new", "alice", "--name", "Alice Analyst", "-o", str(lab),
                "--register").exit_code == 0
    admin_key = str(lab / "alice.key")
    assert gcms("user", "add", "bob", "--role", "reviewer", "--name", "Bob",
                "--key", admin_key).exit_code == 0
    assert gcms("key", "new", "bob", "-o", str(lab), "--register", "--admin-key",
                admin_key).exit_code == 0
    refused = gcms("user", "name", "bob", "--name", "Dr Bob Reviewer", "--reason", "title",
                   "--key", str(lab / "bob.key"), actor="bob")
    assert refused.exit_code == 2 and "needs the role admin" in refused.stderr
    done = gcms("user", "name", "bob", "--name", "Dr Bob Reviewer", "--reason",
                "doctorate awarded", "--key", admin_key)
    assert done.exit_code == 0, done.output
    assert "Dr Bob Reviewer" in done.stdout
    assert _users(gcms)["bob"]["printed_name"] == "Dr Bob Reviewer"
    same = gcms("user", "name", "bob", "--name", "Dr Bob Reviewer", "--reason", "again",
                "--key", admin_key)
    assert same.exit_code == 2 and "changes nothing" in same.stderr
    assert gcms("custody", "verify").exit_code == 0


def test_custody_log_shows_review_outcomes(gcms, lab, tmp_path):
    """The plain log shows a review's outcome, result, reviewer and comments, one line."""
    assert gcms("key", "new", "alice", "--name", "Alice Analyst", "-o", str(lab),
                "--register").exit_code == 0
    admin_key = str(lab / "alice.key")
    assert gcms("user", "add", "bob", "--role", "reviewer", "--name", "Bob",
                "--key", admin_key).exit_code == 0
    assert gcms("key", "new", "bob", "-o", str(lab), "--register", "--admin-key",
                admin_key).exit_code == 0
    assert gcms("case", "new", "C1").exit_code == 0
    result_file = tmp_path / "result.json"
    result_file.write_text(json.dumps({"verdict": "identified"}))
    assert gcms("custody", "record-result", "--case", "C1", str(result_file),
                "--summary", "cocaine").exit_code == 0
    comment = "=HYPERLINK(\"x\")\nRT off by 0.2 min\x1b[31m; " + "check the blank " * 12
    reviewed = gcms("custody", "review", "--case", "C1", "--result", "RS1", "--outcome",
                    "disagreed", "--comments", comment, "--key", str(lab / "bob.key"),
                    actor="bob")
    assert reviewed.exit_code == 0, reviewed.output
    assert gcms("custody", "review", "--case", "C1", "--result", "RS1", "--outcome",
                "agreed", "--key", str(lab / "bob.key"), actor="bob").exit_code == 0
    log = gcms("custody", "log", "--case", "C1")
    assert log.exit_code == 0, log.output
    lines = [line for line in log.stdout.splitlines() if "review.record" in line]
    assert len(lines) == 2
    returned, approved = lines
    assert "result RS1 v1 disagreed (returned) by bob" in returned
    assert "comments: '=HYPERLINK(\"x\")\\nRT off by 0.2 min\\x1b[31m; check" in returned
    assert "\x1b" not in log.stdout  # no terminal escape reaches the screen
    assert "...'  [signed with key" in returned  # long comments are cut, the proof kept
    shown = re.search(r"comments: '(.*)'  \[signed", returned).group(1)
    assert len(shown) <= 80 + len("...")  # the 230-character comment cut at 80
    assert "result RS1 v1 agreed (approved) by bob" in approved
    assert "comments" not in approved
