"""Users, roles and separation of duties: each impersonation refused, naming the rule.

Refused when written (the store's API), and named by verification when an entry got in
around the store (an older gcms, a bug, plain SQL with the chain recomputed).
"""

from __future__ import annotations

import json

import pytest

from gcms.custody import CaseStore
from gcms.custody.canonical import canonical_json, entry_sha256, sha256_hex
from gcms.custody.store import init_store
from gcms.errors import CustodyError, GcmsError

from .conftest import memory_key


def test_first_admin_is_stated_in_the_log(location):
    with init_store(location, admin="qa-lead", printed_name="Q. Lead",
                    roles=["qa"]) as store:
        [user] = store.users()
        assert (user.user_id, user.roles, user.printed_name) == ("qa-lead", ("admin", "qa"),
                                                                 "Q. Lead")
        entry = store.log()[1]
        assert (entry.action, entry.actor) == ("user.add", "qa-lead")
        assert entry.reason == "first administrator of the store: qa-lead, who created it"
    with pytest.raises(CustodyError, match="a case store already exists here"):
        init_store(location, admin="someone")
    with CaseStore(location, actor="someone", create=False) as store:
        with pytest.raises(CustodyError, match="someone is not an enrolled user of the store "
                           r"\(rule: every change to the store names an enrolled"):
            store.open_case("C1")
        assert store.verify().ok  # reading needs no enrolment


def test_only_admins_manage_users_and_keys(built):
    alice, bob = built.keys["alice"][2], built.keys["bob"][2]
    with built.store("bob") as store:
        with pytest.raises(CustodyError, match="bob .roles: reviewer, qa. may not user.add: "
                           "it needs the role admin .rule: only an admin adds users"):
            store.add_user("carol", roles=["analyst"], printed_name="C", key=bob)
        with pytest.raises(CustodyError, match="needs the role admin"):
            store.register_key(memory_key(), user="bob")
        with pytest.raises(CustodyError, match="needs the role admin"):
            store.revoke_key(alice.fingerprint, reason="x", key=bob)
    with built.store("alice") as store:
        with pytest.raises(CustodyError, match="user.add by alice needs alice's private key"):
            store.add_user("carol", roles=["analyst"], printed_name="C")
        with pytest.raises(CustodyError, match="registered to bob, not to alice"):
            store.add_user("carol", roles=["analyst"], printed_name="C", key=bob)
        with pytest.raises(CustodyError, match="roles x: each must be one of"):
            store.add_user("carol", roles=["x"], printed_name="C", key=alice)
        with pytest.raises(GcmsError, match="holds U\\+202E"):
            store.add_user("\u202ecarol", roles=["analyst"], key=alice)
        with pytest.raises(CustodyError, match="alice already has a registered key"):
            store.register_key(memory_key(), user="alice")  # not proven by alice's key
        with pytest.raises(CustodyError, match="the store's last active admin"):
            store.disable_user("alice", reason="leaving", key=alice)
        store.set_roles("bob", ["reviewer"], reason="qa role moved to carol", key=alice)
        store.revoke_key(bob.fingerprint, reason="laptop lost", key=alice)
    with built.store("bob") as store:
        with pytest.raises(CustodyError, match="revoked .rule: a revoked key signs nothing"):
            store.review_result("C1", "RS1", outcome="agreed", key=bob)
    with built.store("alice") as store:
        store.disable_user("bob", reason="left the lab", key=alice)
    with built.store("bob") as store:
        with pytest.raises(CustodyError, match="user bob is disabled"):
            store.transfer_exhibit("C1", "E1", from_party="alice", to_party="vault")
    with built.store() as store:
        report = store.verify()
        assert report.ok, report.findings
        assert [e.action for e in store.log()[-3:]] == [
            "user.roles", "analyst_key.revoke", "user.disable"]


def test_roles_decide_the_meaning_of_a_signature(built):
    alice = built.keys["alice"][2]
    carol = memory_key()
    with built.store("alice") as store:
        store.add_user("carol", roles=["analyst"], printed_name="Carol C. Analyst", key=alice)
        store.register_key(carol, user="carol", key=alice)
    with built.store("carol") as store:
        with pytest.raises(CustodyError, match="carol .roles: analyst. may not signature.sign: "
                           "it needs the role reviewer"):
            store.sign_result("C1", "RS1", carol, meaning="reviewed")
        with pytest.raises(CustodyError, match="needs the role reviewer"):
            store.review_result("C1", "RS1", outcome="agreed", key=carol)
        with pytest.raises(CustodyError, match="needs the role qa or admin"):
            store.sign_result("C1", "RS2", carol, meaning="approved")
        signature = store.sign_result("C1", "RS2", carol, meaning="authored")
        assert signature.printed_name == "Carol C. Analyst"  # from the store, not a flag


def test_self_review_written_around_the_store_is_named_by_verify(built, monkeypatch):
    """An author's review and approval that got in (the store's check bypassed)."""
    alice, bob = built.keys["alice"][2], built.keys["bob"][2]
    with built.store("alice") as store:
        store.set_roles("bob", ["reviewer", "qa", "analyst"], reason="also runs samples",
                        key=alice)
    with built.store("bob") as store:
        result = store.record_result("C1", {"verdict": "clean"}, run_id="R2")
        monkeypatch.setattr(type(store), "_authors", lambda self, conn, result: set())
        store.review_result("C1", result.result_id, outcome="agreed", key=bob)
        store.sign_result("C1", result.result_id, bob, meaning="approved")
    with built.store() as store:
        findings = [str(f) for f in store.verify().findings]
    rule = "(rule: the author of a result cannot review or approve it)"
    assert len(findings) == 2 and all(rule in f for f in findings)
    assert "bob recorded or authored it and cannot also review it" in findings[0]
    assert "cannot also sign it as approved" in findings[1]


def test_an_entry_by_someone_not_enrolled_is_named_by_verify(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log")
    seq = built.seq_of("exhibit.receive", "X9", case_id="C2")
    rows = db.query("SELECT seq, prev_sha256, case_tag, content FROM audit_log ORDER BY seq")
    statements, prev = [], rows[0][1]
    for row_seq, _, tag, content in rows:
        if row_seq == seq:
            data = json.loads(content)
            data["actor"] = "mallory"
            content = canonical_json(data)
        digest = entry_sha256(row_seq, prev, sha256_hex(content), tag)
        statements.append(("UPDATE audit_log SET prev_sha256 = ?, content_sha256 = ?, "
                           "entry_sha256 = ?, content = ?, actor = ? WHERE seq = ?",
                           (prev, sha256_hex(content), digest, content,
                            json.loads(content)["actor"], row_seq)))
        prev = digest
    statements.append(("UPDATE chain_head SET entry_sha256 = ? WHERE id = 1", (prev,)))
    db.execute(*statements)
    with built.store() as store:
        report = store.verify()
    assert (report.first.kind, report.first.subject) == ("user", f"entry #{seq}")
    assert "mallory is not an enrolled user of the store" in report.first.problem
    # the later review's proof covered the chain as it was: the rewrite shows there too
    assert any("the proof of review.record by bob does not verify" in str(f)
               for f in report.findings[1:])


def _legacy_store(location, raw, monkeypatch) -> None:
    """A store as gcms made it before users: store.init (schema 1), no first admin, then
    entries by whoever (written with the store's checks switched off, as old code did)."""
    from gcms.custody import store as store_module

    CaseStore(location, actor="setup").close()
    db = raw(location)
    [(prev, tag, content)] = db.query(
        "SELECT prev_sha256, case_tag, content FROM audit_log WHERE seq = 1")
    data = json.loads(content)
    data["after"]["schema_version"] = 1
    content = canonical_json(data)
    digest = entry_sha256(1, prev, sha256_hex(content), tag)
    db.drop_guards("audit_log", "users")
    db.execute("DELETE FROM users", "DELETE FROM audit_log WHERE seq = 2",
               ("UPDATE audit_log SET content = ?, content_sha256 = ?, entry_sha256 = ? "
                "WHERE seq = 1", (content, sha256_hex(content), digest)),
               ("UPDATE chain_head SET seq = 1, entry_sha256 = ? WHERE id = 1", (digest,)))
    with monkeypatch.context() as patch:
        patch.setattr(store_module._Writer, "authorise", lambda *args, **kwargs: None)
        with CaseStore(location, actor="jdoe", create=False) as store:
            store.open_case("OLD-1")
            store.receive_exhibit("OLD-1", "E1", description="as recorded in 2024")


def test_a_store_made_before_users_is_adopted_by_its_first_admin(location, raw, monkeypatch):
    from gcms.custody.store import adopt_store

    _legacy_store(location, raw, monkeypatch)
    with CaseStore(location, actor="jdoe", create=False) as store:
        assert store.verify().ok  # its entries before users stay valid
        with pytest.raises(CustodyError, match="this store has no users yet.*gcms store adopt"):
            store.open_case("OLD-2")
    with adopt_store(location, admin="lab-admin", printed_name="L. Admin") as store:
        assert [u.user_id for u in store.users()] == ["lab-admin"]
        assert "adopted it" in store.log()[-1].reason
        store.open_case("NEW-1")
        assert store.verify().ok
    with pytest.raises(CustodyError, match="the store has users"):
        adopt_store(location, admin="someone-else")
    with monkeypatch.context() as patch:  # an entry by no enrolled user, after adoption
        from gcms.custody import store as store_module

        patch.setattr(store_module._Writer, "authorise", lambda *args, **kwargs: None)
        with CaseStore(location, actor="jdoe", create=False) as store:
            store.open_case("NEW-2")
    with CaseStore(location, actor="jdoe", create=False) as store:
        [finding] = store.verify().findings
    assert "jdoe is not an enrolled user of the store" in finding.problem
