"""Review of the review workstation's domain logic: separation of duties, stale versions,
tampering with decisions directly in the database, sign-in timing (findings of H11)."""

from __future__ import annotations

import json

import pytest

from gcms.custody.decisions import decide_verdict, reintegrate, review_outcome
from gcms.errors import CustodyError

from ._review_case import build_review_case


@pytest.fixture
def case(sqlite_location, tmp_path, analyst_keys):
    return build_review_case(sqlite_location, tmp_path, analyst_keys)


# -- stale versions -----------------------------------------------------------------------


def test_an_approval_of_a_version_changed_meanwhile_is_refused(case):
    """carol is shown RS1 v1; bob overrides a verdict (v2); carol's approval must not land."""
    with case.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 1, action="override", new_verdict="inconclusive",
                       reason="RI 25 units off", key=case.keys["bob"])
    with case.store("carol") as store:
        head = store.head()
        with pytest.raises(CustodyError, match="version 2, not 1"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"],
                           expected_versions={"RS1": 1})
        with pytest.raises(CustodyError, match="not one shown"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"],
                           expected_versions={})
        assert store.head() == head  # nothing written
        done = review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"],
                              expected_versions={"RS1": 2})
        assert [(d.result_id, d.result_version) for d in done] == [("RS1", 2)]
        assert {(s.signer, s.meaning, s.result_version)
                for s in store.signatures("C1", "RS1")} >= {("carol", "reviewed", 2)}


def test_a_review_or_signature_of_a_stale_version_is_refused(case):
    with case.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 2, action="accept", reason="caffeine fine",
                       key=case.keys["bob"])
    with case.store("carol") as store:
        with pytest.raises(CustodyError, match="changed it meanwhile"):
            store.review_result("C1", "RS1", outcome="agreed", key=case.keys["carol"],
                                expected_version=1)
        with pytest.raises(CustodyError, match="changed it meanwhile"):
            store.sign_result("C1", "RS1", case.keys["carol"], meaning="reviewed",
                              expected_version=1)
        review = store.review_result("C1", "RS1", outcome="agreed", key=case.keys["carol"],
                                     expected_version=2)
        assert review.result_version == 2


# -- separation of duties -----------------------------------------------------------------


def test_who_reintegrates_a_peak_may_not_then_approve_it(case):
    with case.store("carol") as store:
        reintegrate(store, "C1", "RS1", 1, start_s=600.0, end_s=625.0, reason="tail cut",
                    key=case.keys["carol"])
        with pytest.raises(CustodyError, match="cannot also mark it approved"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"])
        with pytest.raises(CustodyError, match="cannot also sign it as reviewed"):
            store.sign_result("C1", "RS1", case.keys["carol"], meaning="reviewed")


def test_an_author_with_the_reviewer_role_approves_nothing_of_their_own(case):
    """dave (analyst and reviewer) recorded RS3: no path lets him approve it."""
    with case.store("dave") as store:
        decide_verdict(store, "C1", "RS3", 1, action="accept", reason="own check",
                       key=case.keys["dave"])  # an author may decide, as the analyst
        with pytest.raises(CustodyError, match="cannot also"):
            review_outcome(store, "C1", "E3", outcome="approved", key=case.keys["dave"])
        with pytest.raises(CustodyError, match="cannot also"):
            store.review_result("C1", "RS3", outcome="agreed", key=case.keys["dave"])
        decisions = store.results("C1", "E3")[0].data["decisions"]
        assert decisions[-1]["role"] == "analyst"


def test_a_disabled_user_or_a_revoked_key_decides_nothing(case):
    with case.store("alice") as store:
        store.disable_user("carol", reason="left the lab", key=case.keys["alice"])
        store.revoke_key(case.keys["bob"].fingerprint, reason="laptop stolen",
                         key=case.keys["alice"])
    with case.store("carol") as store:
        with pytest.raises(CustodyError, match="disabled"):
            decide_verdict(store, "C1", "RS1", 1, action="accept", reason="ok",
                           key=case.keys["carol"])
        with pytest.raises(CustodyError, match="disabled"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"])
    with case.store("bob") as store:
        with pytest.raises(CustodyError, match="revoked"):
            decide_verdict(store, "C1", "RS1", 1, action="accept", reason="ok",
                           key=case.keys["bob"])
        with pytest.raises(CustodyError, match="revoked"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["bob"])
        # another user's active key does not sign as bob either
        with pytest.raises(CustodyError, match="registered to carol"):
            decide_verdict(store, "C1", "RS1", 1, action="accept", reason="ok",
                           key=case.keys["carol"])


# -- tampering with decisions in the database ---------------------------------------------


def _decided(case) -> int:
    with case.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 1, action="override", new_verdict="inconclusive",
                       reason="RI off", key=case.keys["bob"])
        decide_verdict(store, "C1", "RS1", 2, action="accept", reason="caffeine fine",
                       key=case.keys["bob"])
        return next(e.seq for e in store.log() if e.action == "result.decide")


def _verify(case):
    with case.store("bob") as store:
        return store.verify(rehash=False)


def test_a_verdict_changed_in_the_hashed_content_is_found(case, raw):
    seq = _decided(case)
    db = raw(case.location)
    content = json.loads(db.query("SELECT content FROM audit_log WHERE seq = ?", (seq,))[0][0])
    content["after"]["data"]["components"][0]["verdict"] = "identified"
    content["after"]["data"]["decisions"][0]["after"]["verdict"] = "identified"
    db.drop_guards("audit_log")
    db.execute(("UPDATE audit_log SET content = ? WHERE seq = ?",
                (json.dumps(content, sort_keys=True, separators=(",", ":")), seq)))
    report = _verify(case)
    assert not report.ok and f"#{seq}" in str(report.first)


def test_a_verdict_changed_only_in_the_results_table_is_found(case, raw):
    _decided(case)
    db = raw(case.location)
    db.drop_guards("results")
    db.execute("UPDATE results SET data = replace(data, '\"inconclusive\"', '\"identified\"') "
               "WHERE version = 3")
    report = _verify(case)
    assert not report.ok and any(f.kind == "record" for f in report.findings)


def test_a_deleted_or_reordered_decision_entry_is_found(case, raw, tmp_path):
    import shutil

    seq = _decided(case)
    original = tmp_path / "original.sqlite"
    shutil.copyfile(f"{case.location}/gcms.sqlite", original)
    db = raw(case.location)
    db.drop_guards("audit_log", "results")
    db.execute(("DELETE FROM results WHERE entry_seq = ?", (seq,)),
               ("DELETE FROM audit_log WHERE seq = ?", (seq,)))
    report = _verify(case)
    assert not report.ok and f"#{seq}" in str(report.first)
    # the two decisions swapped (contents exchanged between their entries)
    shutil.copyfile(original, f"{case.location}/gcms.sqlite")
    db.drop_guards("audit_log")
    first, second = (db.query("SELECT content FROM audit_log WHERE seq = ?", (s,))[0][0]
                     for s in (seq, seq + 1))
    db.execute(("UPDATE audit_log SET content = ? WHERE seq = ?", (second, seq)),
               ("UPDATE audit_log SET content = ? WHERE seq = ?", (first, seq + 1)))
    report = _verify(case)
    assert not report.ok and f"#{seq}" in str(report.first)


# -- a decision entry carries only its decision --------------------------------------------


@pytest.mark.parametrize("extra", ["other component", "quantity", "record field"])
def test_a_decision_entry_that_changes_more_than_it_names_is_a_finding(case, extra):
    """A reviewer's decision is not authorship; so the entry may change nothing else.

    bob (reviewer) writes, through the store's own write path and his own key, a verdict
    decision on component 1 that also changes something else: verify must name it.
    """
    from gcms.custody.decisions import _write

    def change(data, base, what):
        part = next(c for c in data["components"] if c["component"] == 1)
        part["verdict"] = "inconclusive"
        if extra == "other component":
            data["components"][1]["verdict"] = "identified"
        elif extra == "quantity":
            data["quantitation"][0]["concentration"] = 5.0
        else:
            data["sample_id"] = "E1-2"
        return ({"kind": "verdict", "action": "override", "component": 1,
                 "substance": "etizolam", "before": {"verdict": "identified"},
                 "after": {"verdict": "inconclusive"}}, "RI off")

    with case.store("bob") as store:
        _write(store, "C1", "RS1", action="result.decide", key=case.keys["bob"],
               expected_version=None, change=change)
        report = store.verify(rehash=False)
    assert not report.ok
    assert "beyond what the decision names" in str(report.first)


def test_honest_decisions_and_reintegrations_verify(case):
    with case.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 1, action="override", new_verdict="inconclusive",
                       reason="RI off", key=case.keys["bob"])
        decide_verdict(store, "C1", "RS1", 2, action="reject", reason="no ions",
                       key=case.keys["bob"])
        decide_verdict(store, "C1", "RS2", 2, action="override", new_verdict="identified",
                       reason="ions fine", key=case.keys["bob"])
    with case.store("carol") as store:
        reintegrate(store, "C1", "RS1", 1, start_s=600.0, end_s=625.0, reason="tail",
                    key=case.keys["carol"])
        reintegrate(store, "C1", "RS1", "etizolam", start_s=600.0, end_s=625.0,
                    reason="baseline", key=case.keys["carol"])
        report = store.verify(rehash=False)
    assert report.ok, report.first


# -- the store's parts ---------------------------------------------------------------------


def test_every_part_of_the_store_reaches_only_its_own_bases():
    """A mixin calls ``self.x`` only where ``x`` is its own or its bases' (no part leans
    on a sibling that the façade's order happens to put beside it)."""
    import ast
    import inspect

    from gcms.custody.store import CaseStore

    core = {"location", "actor", "_engine", "_queue"}
    missing = {}
    for part in CaseStore.__mro__[1:]:
        if part.__module__ == "builtins" or not part.__name__.endswith("Mixin"):
            continue
        tree = ast.parse(inspect.getsource(part))
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Name) and n.value.id == "self"}
        known = core | {name for base in part.__mro__ for name in vars(base)}
        if used - known:
            missing[part.__name__] = sorted(used - known)
    assert not missing
    # no method of one part is shadowed by another's in the façade's order
    owners = {}
    for part in CaseStore.__mro__[1:-1]:
        for name in vars(part):
            if not name.startswith("__"):
                owners.setdefault(name, []).append(part.__name__)
    assert not {n: o for n, o in owners.items() if len(o) > 1}


# -- sign-in ---------------------------------------------------------------------------------


class _CountingHasher:
    """A real argon2 ``PasswordHasher`` that counts the hashes it makes and checks."""

    def __new__(cls, memory_cost: int):
        from argon2 import PasswordHasher

        class Counting(PasswordHasher):
            hashes = verifies = 0

            def hash(self, password, *, salt=None):
                type(self).hashes += 1
                return super().hash(password, salt=salt)

            def verify(self, hash, password):
                type(self).verifies += 1
                return super().verify(hash, password)

        return Counting(time_cost=1, memory_cost=memory_cost, parallelism=1)


def test_an_unknown_user_costs_the_same_argon2_work_as_a_wrong_password(sqlite_location):
    """The first refusal of an unknown user must not hash once more than a wrong password
    does (which would tell a user name that exists from one that does not); the work is
    done with the parameters in use."""
    from argon2 import extract_parameters

    from gcms.custody import CaseStore
    from gcms.custody.credentials import _dummy_hash, check_password, set_password

    from .conftest import enrol_users

    with CaseStore(sqlite_location, actor="root") as store:
        key = enrol_users(store)
        set_password(store, "root", "a long passphrase", key=key)
        counts = []
        for user, memory in (("root", 1031), ("nobody", 1033)):  # fresh parameters each
            hasher = _CountingHasher(memory)
            with pytest.raises(CustodyError, match="sign-in refused"):
                check_password(store, user, "wrong password!", hasher=hasher)
            counts.append((hasher.hashes, hasher.verifies))
            assert extract_parameters(_dummy_hash(hasher)).memory_cost == memory
    assert counts[0] == counts[1] == (1, 1)


# -- a batch recorded again after review ---------------------------------------------------


def test_a_batch_recorded_again_keeps_the_review_decisions(case):
    """A resumed or repeated batch re-records its results; one a reviewer has decided on
    must not lose the changed verdict (and with it the report's line saying so)."""
    from ._review_case import record

    with case.store("bob") as store:
        decide_verdict(store, "C1", "RS1", 1, action="override", new_verdict="inconclusive",
                       reason="RI 25 units off", key=case.keys["bob"])
    with case.store("alice") as store:
        analysis_id = store.results("C1", "E1")[0].analysis_id
        again = store.record_results("C1", [record(case.runs["E1"], "E1")],
                                     analysis_id=analysis_id)  # the same batch, resumed
        current = store.results("C1", "E1")[0]
        assert again[0].version == current.version == 2
        assert current.data["decisions"][0]["by"] == "bob"
        assert current.data["components"][0]["verdict"] == "inconclusive"
        changed = record(case.runs["E1"], "E1")
        changed["components"][1]["match_factor"] = 790
        with pytest.raises(CustodyError, match="review decision"):
            store.record_results("C1", [changed], analysis_id=analysis_id)
        assert store.verify(rehash=False).ok


def test_a_password_is_the_same_whichever_unicode_form_it_is_typed_in(sqlite_location):
    """NIST SP 800-63B 5.1.1.2: NFKC before hashing; a keyboard that sends decomposed
    characters (macOS) or Arabic presentation forms signs in with the same password."""
    import unicodedata

    from argon2 import PasswordHasher

    from gcms.custody import CaseStore
    from gcms.custody.credentials import check_password, set_password

    from .conftest import enrol_users

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    typed = "café كلمة السر ﻻ"  # é composed; the last letter an Arabic ligature form
    with CaseStore(sqlite_location, actor="root") as store:
        key = enrol_users(store)
        set_password(store, "root", unicodedata.normalize("NFD", typed), key=key,
                     hasher=fast)
        for form in ("NFC", "NFKC", "NFKD"):
            assert check_password(store, "root", unicodedata.normalize(form, typed),
                                  hasher=fast).user_id == "root"
        with pytest.raises(CustodyError, match="sign-in refused"):
            check_password(store, "root", "cafe كلمة السر لا", hasher=fast)
        with pytest.raises(CustodyError, match="sign-in refused"):
            check_password(store, "root", "x" * 100_000, hasher=fast)


@pytest.mark.parametrize("tamper", ["swap", "delete", "add"])
def test_verify_finds_a_password_hash_tampered_beside_the_chain(sqlite_location, raw, tamper):
    from argon2 import PasswordHasher

    from gcms.custody import CaseStore
    from gcms.custody.credentials import set_password

    from .conftest import enrol_users

    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with CaseStore(sqlite_location, actor="root") as store:
        key = enrol_users(store, "ann")
        set_password(store, "root", "the real password", key=key, hasher=fast)
        assert store.verify(rehash=False).ok
    db = raw(sqlite_location)
    db.drop_guards("password_hashes")
    if tamper == "swap":
        db.execute(("UPDATE password_hashes SET password_hash = ? WHERE user_id = 'root'",
                    (fast.hash("attacker's password"),)))
    elif tamper == "delete":
        db.execute("DELETE FROM password_hashes WHERE user_id = 'root'")
    else:
        db.execute(("INSERT INTO password_hashes (user_id, version, password_hash, entry_seq)"
                    " VALUES ('ann', 1, ?, 1)", (fast.hash("attacker's password"),)))
    with CaseStore(sqlite_location, actor="root", create=False) as store:
        report = store.verify(rehash=False)
    assert not report.ok
    assert "password hash of" in report.first.subject, report.first


def test_one_key_serves_one_account_only(case):
    """A second account cannot be given a key already registered (bob's, or a revoked
    one), so no person signs as two users with one key."""
    with case.store("alice") as store:
        store.add_user("bob2", roles=["reviewer"], printed_name="Bob Second",
                       key=case.keys["alice"])
        with pytest.raises(CustodyError, match="already registered"):
            store.register_key(case.keys["bob"].public_raw, user="bob2",
                               key=case.keys["alice"])
        store.revoke_key(case.keys["carol"].fingerprint, reason="rotated",
                         key=case.keys["alice"])
        with pytest.raises(CustodyError, match="already registered"):
            store.register_key(case.keys["carol"].public_raw, user="bob2",
                               key=case.keys["alice"])
    with case.store("bob2") as store, pytest.raises(CustodyError, match="registered to bob"):
        decide_verdict(store, "C1", "RS1", 1, action="accept", reason="ok",
                       key=case.keys["bob"])


def test_an_exhibit_is_approved_whole_or_not_at_all(case):
    """An approval that fails on the exhibit's second result leaves no review or
    signature on its first (one transaction), so no exhibit is left half approved."""
    from ._review_case import record

    with case.store("dave") as store:
        analysis_id = store.results("C1", "E1")[0].analysis_id
        second = store.record_result("C1", record(case.runs["E1"], "E1"), exhibit_id="E1",
                                     analysis_id=analysis_id)
    with case.store("carol") as store:
        store.sign_result("C1", second.result_id, case.keys["carol"], meaning="reviewed")
        head = store.head()
        with pytest.raises(CustodyError, match="already signed as reviewed"):
            review_outcome(store, "C1", "E1", outcome="approved", key=case.keys["carol"])
        assert store.head() == head
        assert store.reviews("C1") == []
        assert store.verify(rehash=False).ok
