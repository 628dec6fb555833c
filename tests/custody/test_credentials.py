"""Sign-in passwords: Argon2id beside the chain, a commitment in it, who may set them."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from gcms.custody import credentials
from gcms.custody.credentials import SIGN_IN_REFUSED, check_password, has_password, set_password
from gcms.errors import CustodyError, TamperError

from .conftest import enrol_users, memory_key

#: cheap parameters for the tests (the module's default costs 64 MiB per hash)
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def people(location):
    """A store whose admin is ``root``; ann (analyst) and rev (reviewer) with keys."""
    from gcms.custody import CaseStore

    keys = {"ann": memory_key(), "rev": memory_key()}
    with CaseStore(location, actor="root") as store:
        keys["root"] = enrol_users(store)
        store.add_user("ann", roles=["analyst"], printed_name="Ann", key=keys["root"])
        store.add_user("rev", roles=["reviewer"], printed_name="Rev", key=keys["root"])
        for user in ("ann", "rev"):
            store.register_key(keys[user].public_raw, user=user, key=keys["root"])
    return location, keys


def _store(location, actor):
    from gcms.custody import CaseStore

    return CaseStore(location, actor=actor, create=False)


def test_a_user_sets_their_password_and_signs_in(people):
    location, keys = people
    with _store(location, "ann") as store:
        assert not has_password(store, "ann")
        record = set_password(store, "ann", "tablets of beige", key=keys["ann"], hasher=FAST)
        assert has_password(store, "ann") and record.set_by == "ann"
        user = check_password(store, "ann", "tablets of beige", hasher=FAST)
        assert user.user_id == "ann" and user.roles == ("analyst",)
        for user_id, password in (("ann", "tablets of beigE"), ("nobody", "tablets of beige"),
                                  ("ann", "")):
            with pytest.raises(CustodyError) as refused:
                check_password(store, user_id, password, hasher=FAST)
            assert str(refused.value) == SIGN_IN_REFUSED  # no hint which part was wrong
        entries = [e for e in store.log() if e.object_type == "credential"]
        assert [(e.action, e.actor, e.reason) for e in entries] == [
            ("credential.set", "ann", "password set by ann")]
        assert entries[0].proof["key_fingerprint"] == keys["ann"].fingerprint
        # neither the password nor its hash is in the chain: only the hash's digest
        text = " ".join(str(e.to_dict()) for e in store.log())
        assert "tablets of beige" not in text and "$argon2" not in text
        assert store.verify().ok


def test_who_may_set_a_password(people):
    location, keys = people
    with _store(location, "rev") as store:
        with pytest.raises(CustodyError, match="only ann or an admin"):
            set_password(store, "ann", "reviewer's choice", key=keys["rev"], hasher=FAST)
        with pytest.raises(CustodyError, match="private key"):
            set_password(store, "rev", "no key given", hasher=FAST)
        with pytest.raises(CustodyError, match="registered to ann"):
            set_password(store, "rev", "someone else's key", key=keys["ann"], hasher=FAST)
        with pytest.raises(CustodyError, match="at least 8"):
            set_password(store, "rev", "short", key=keys["rev"], hasher=FAST)
        with pytest.raises(CustodyError, match="not the store's acting user"):
            set_password(store, "rev", "long enough text", actor="root", key=keys["rev"],
                         hasher=FAST)
        set_password(store, "rev", "first password", key=keys["rev"], hasher=FAST)
    with _store(location, "root") as store:
        with pytest.raises(CustodyError, match="not an enrolled user"):
            set_password(store, "ghost", "long enough text", key=keys["root"], hasher=FAST)
        record = set_password(store, "rev", "reset by the admin", key=keys["root"],
                              hasher=FAST)
        assert (record.version, record.set_by) == (2, "root")
        last = store.log()[-1]
        assert (last.action, last.reason) == ("credential.change",
                                              "password of rev reset by admin root")
        with pytest.raises(CustodyError, match="sign-in refused"):
            check_password(store, "rev", "first password", hasher=FAST)
        assert check_password(store, "rev", "reset by the admin", hasher=FAST).user_id == "rev"
        store.disable_user("rev", reason="left", key=keys["root"])
        with pytest.raises(CustodyError, match="sign-in refused"):
            check_password(store, "rev", "reset by the admin", hasher=FAST)
        assert store.verify().ok


def test_a_swapped_hash_signs_no_one_in(people, raw):
    location, keys = people
    with _store(location, "ann") as store:
        set_password(store, "ann", "the real password", key=keys["ann"], hasher=FAST)
    db = raw(location)
    db.drop_guards("password_hashes")
    db.execute(("UPDATE password_hashes SET password_hash = ? WHERE user_id = ?",
                (FAST.hash("attacker's password"), "ann")))
    with _store(location, "ann") as store, pytest.raises(TamperError, match="not the one"):
        check_password(store, "ann", "attacker's password", hasher=FAST)


def test_verify_finds_a_password_set_by_someone_else(people, raw):
    """A credential entry written around the store, by a user who may not set it."""
    location, keys = people
    with _store(location, "ann") as store:
        set_password(store, "ann", "the real password", key=keys["ann"], hasher=FAST)
        seq = store.log()[-1].seq
    db = raw(location)
    content = db.query("SELECT content FROM audit_log WHERE seq = ?", (seq,))[0][0]
    db.drop_guards("audit_log")
    db.execute(("UPDATE audit_log SET content = ? WHERE seq = ?",
                (content.replace('"actor":"ann"', '"actor":"rev"'), seq)))
    with _store(location, "root") as store:
        report = store.verify()
    assert not report.ok and any(f"#{seq}" in str(f) for f in report.findings)


def test_an_old_hash_is_rehashed_at_sign_in_with_the_key(people, monkeypatch):
    location, keys = people
    weaker = PasswordHasher(time_cost=1, memory_cost=512, parallelism=1)
    with _store(location, "ann") as store:
        set_password(store, "ann", "kept the same", key=keys["ann"], hasher=weaker)
        check_password(store, "ann", "kept the same", hasher=FAST)  # no key: no rehash
        assert store.log()[-1].action == "credential.set"
        check_password(store, "ann", "kept the same", key=keys["ann"], hasher=FAST)
        last = store.log()[-1]
        assert (last.action, last.after["version"]) == ("credential.change", 2)
        assert "Argon2 parameters" in last.reason
        check_password(store, "ann", "kept the same", key=keys["ann"], hasher=FAST)
        assert store.log()[-1].seq == last.seq  # current parameters: nothing written
    assert credentials.HASHER.check_needs_rehash(FAST.hash("x"))  # the default is stronger


def test_default_hasher_round_trip(sqlite_location):
    """The module's own Argon2id parameters (RFC 9106 low-memory profile)."""
    from gcms.custody import CaseStore

    with CaseStore(sqlite_location, actor="root") as store:
        key = enrol_users(store)
        set_password(store, "root", "correct horse battery staple", key=key)
        assert check_password(store, "root", "correct horse battery staple").user_id == "root"


def test_cli_user_password(sqlite_location, tmp_path, monkeypatch):
    """``gcms user password``: prompted twice (or from an environment variable)."""
    from click.testing import CliRunner
    from gcms_cli.main import cli

    from gcms.custody import CaseStore

    monkeypatch.setenv("GCMS_STORE", sqlite_location)
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "correct horse battery")
    runner = CliRunner()
    CaseStore(sqlite_location, actor="alice").close()  # alice: the store's first admin
    made = runner.invoke(cli, ["key", "new", "alice", "--name", "Alice A.", "-o",
                               str(tmp_path), "--register"], env={"GCMS_ACTOR": "alice"})
    assert made.exit_code == 0, made.output
    monkeypatch.setattr(credentials, "HASHER", FAST)
    result = runner.invoke(cli, ["user", "password", "alice", "--key",
                                 str(tmp_path / "alice.key")],
                           env={"GCMS_ACTOR": "alice"}, input="my new password\n" * 2)
    assert result.exit_code == 0, result.output
    assert "sign-in password set by alice (version 1)" in result.stdout
    result = runner.invoke(cli, ["user", "password", "alice", "--key",
                                 str(tmp_path / "alice.key")],
                           env={"GCMS_ACTOR": "alice", "GCMS_PASSWORD": "short"})
    assert result.exit_code == 2 and "at least 8" in result.output
    with CaseStore(sqlite_location, actor="alice", create=False) as store:
        assert check_password(store, "alice", "my new password", hasher=FAST).user_id == "alice"


def test_a_case_bundle_carries_no_password_hash(people):
    import json

    from gcms.custody import CaseStore, verify_bundle

    location, keys = people
    with _store(location, "ann") as store:
        set_password(store, "ann", "not for courts", key=keys["ann"], hasher=FAST)
    with CaseStore(location, actor="ann", create=False) as store:
        store.open_case("K1")
        bundle = store.export_bundle("K1")
    text = json.dumps(bundle)
    assert "credential.set" in text  # the entry is there, proving who set it
    assert "$argon2" not in text and "not for courts" not in text
    assert verify_bundle(bundle).ok
