"""A chain anchored outside the database: heads, checkpoints, pinned admin keys, QA.

The red team of the trust-chain issue: deleting the last audit rows and moving the chain
head back (triggers dropped), in the store and in a bundle; swapping every registered key
and re-signing everything; editing every text column; deleting a failing tune from the
QA history. Each passes the store's own checks where it should, and is caught by the
anchor kept outside it, naming the rule.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore, verify_bundle
from gcms.custody.canonical import canonical_json, entry_sha256, sha256_hex
from gcms.custody.records import signature_payload
from gcms.custody.rules import proof_message
from gcms.custody.store import chain_head
from gcms.custody.verify import Anchor, Link, Replay, expected_rows, load_trust, verify_chain
from gcms.errors import CustodyError
from gcms.results import QASection

from .conftest import memory_key


def _truncate(db, keep: int) -> None:
    """Delete every entry after #keep and its rows; point chain_head at #keep."""
    tables = [name for (name,) in db.query(
        "SELECT DISTINCT object_type FROM audit_log WHERE seq > ?", (keep,))]
    from gcms.custody.schema import record_tables

    names = [record_tables[t].name for t in tables if t in record_tables]
    db.drop_guards("audit_log", *names)
    statements = [f"DELETE FROM {name} WHERE entry_seq > {keep}" for name in names]
    [(digest,)] = db.query("SELECT entry_sha256 FROM audit_log WHERE seq = ?", (keep,))
    statements += [("DELETE FROM audit_log WHERE seq > ?", (keep,)),
                   ("UPDATE chain_head SET seq = ?, entry_sha256 = ? WHERE id = 1",
                    (keep, digest))]
    db.execute(*statements)


def test_truncated_store_is_caught_against_an_earlier_head(built, raw):
    with built.store() as store:
        bundle = store.export_bundle("C1")
        head = chain_head(store)
        review = built.seq_of("review.record", "RV1")
    assert head == (bundle["head"]["seq"], bundle["head"]["entry_sha256"])
    _truncate(raw(built.location), review - 1)  # undo bob's review and signature
    with built.store() as store:
        assert store.verify().ok  # consistent in itself: what the red team found
        report = store.verify(expect=[Anchor(*head, source="bundle")])
        first = report.first
        assert not report.ok and first.kind == "chain"
        assert first.subject == f"entry #{head[0]}"
        assert "entries were deleted and the head moved back" in first.problem
        # an anchor still in the chain passes; one with another hash is a rewrite
        kept = store.head()
        assert store.verify(expect=[kept]).ok
        rewritten = store.verify(expect=[(kept[0], "0" * 64)])
        assert "the chain was rewritten" in rewritten.first.problem


def test_a_signature_carries_the_head_it_was_made_at(built, raw):
    """A signature (as a report quotes it) is an anchor: its head must stay in the chain."""
    with built.store() as store:
        [s1] = [s for s in store.signatures("C1") if s.signature_id == "S1"]
    _truncate(raw(built.location), s1.chain_head_seq - 1)
    with built.store() as store:
        report = store.verify(expect=[(s1.chain_head_seq, s1.chain_head_sha256)])
        assert not report.ok and "moved back" in report.first.problem


def test_truncated_bundle_is_caught_against_an_earlier_head(built):
    with built.store() as store:
        bundle = store.export_bundle("C1")
    head = Anchor(bundle["head"]["seq"], bundle["head"]["entry_sha256"], "issued report")
    cut = json.loads(json.dumps(bundle))
    last = next(i for i, link in enumerate(cut["links"]) if link["content"] and json.loads(
        link["content"])["action"] == "review.record")
    del cut["links"][last:]
    cut["head"] = {"seq": cut["links"][-1]["seq"],
                   "entry_sha256": cut["links"][-1]["entry_sha256"]}
    cut["signatures"] = [s for s in cut["signatures"] if s["signature_id"] != "S2"]
    assert verify_bundle(cut).ok  # consistent in itself
    report = verify_bundle(cut, expect=[head])
    assert not report.ok and "the chain head #" in report.first.problem
    assert "(issued report) is not in the chain" in report.first.problem


def test_checkpoint_signed_by_an_admin_and_kept_outside(built, raw, tmp_path):
    alice, bob = built.keys["alice"][2], built.keys["bob"][2]
    with built.store("bob") as store, pytest.raises(CustodyError, match="needs the role admin"):
        store.checkpoint(bob)
    with built.store("alice") as store:
        checkpoint = store.checkpoint(alice)
        assert checkpoint["covers"]["seq"] == checkpoint["head"]["seq"] - 1
        assert store.head() == (checkpoint["head"]["seq"], checkpoint["head"]["entry_sha256"])
        report = store.verify()
        assert report.ok and report.checkpoints == 1 and report.proofs >= 5
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(checkpoint), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(cli, ["custody", "verify", "--store", built.location, "--no-rehash",
                             "--head-file", str(path)])
    assert ok.exit_code == 0, ok.output
    _truncate(raw(built.location), checkpoint["covers"]["seq"] - 1)
    failed = runner.invoke(cli, ["custody", "verify", "--store", built.location,
                                 "--no-rehash", "--head-file", str(path)])
    assert failed.exit_code == 1
    assert "checkpoint.json checkpoint covers) is not in the chain" in failed.stderr


# -- the lab's root of trust -----------------------------------------------------------------


def _resign_chain(db, new_keys: dict) -> None:
    """The strongest forger: every registered key swapped for one of theirs (``{old
    fingerprint: SigningKey}``), every signature and proof made again with it, every hash
    recomputed, the key and signature tables rewritten to match."""
    rows = db.query("SELECT seq, case_tag, content FROM audit_log ORDER BY seq")
    by_fp = {old: key for old, key in new_keys.items()}
    statements, prev, links = [], "0" * 64, []
    for seq, tag, text in rows:
        content = json.loads(text)
        after = content["after"]
        if content["object_type"] == "analyst_key":
            key = by_fp[after["key_fingerprint"]]
            after["key_fingerprint"], after["public_key"] = key.fingerprint, key.public_b64
            if content["before"]:
                content["before"]["key_fingerprint"] = key.fingerprint
                content["before"]["public_key"] = key.public_b64
            content["object_id"] = key.fingerprint
        if content["object_type"] == "signature":
            key = by_fp[after["key_fingerprint"]]
            after["key_fingerprint"], after["chain_head_sha256"] = key.fingerprint, prev
            fields = {k: v for k, v in after.items()
                      if k not in ("signature", "signature_id", "version")}
            after["signature"] = key.sign(signature_payload(**fields))
        if "proof" in content:
            key = by_fp[content["proof"]["key_fingerprint"]]
            content["proof"]["key_fingerprint"] = key.fingerprint
            content["proof"]["signature"] = key.sign(proof_message(seq, prev, content))
        text = canonical_json(content)
        digest = entry_sha256(seq, prev, sha256_hex(text), tag)
        statements.append(("UPDATE audit_log SET prev_sha256 = ?, content_sha256 = ?, "
                           "entry_sha256 = ?, content = ?, object_id = ? WHERE seq = ?",
                           (prev, sha256_hex(text), digest, text, content["object_id"], seq)))
        links.append(Link(seq, prev, sha256_hex(text), digest, tag, text))
        prev = digest
    statements.append(("UPDATE chain_head SET entry_sha256 = ? WHERE id = 1", (prev,)))
    replay = Replay()
    verify_chain(links, head_seq=links[-1].seq, head_sha256=prev, replay=replay)
    expected = expected_rows(replay)
    for table in ("analyst_keys", "signatures"):
        statements.append(f"DELETE FROM {table}")
        for row in expected[table].values():
            names = ", ".join(f'"{name}"' for name in row)
            values = tuple(int(v) if isinstance(v, bool) else v for v in row.values())
            statements.append((f"INSERT INTO {table} ({names}) VALUES "
                               f"({', '.join('?' for _ in row)})", values))
    db.drop_guards("audit_log", "analyst_keys", "signatures")
    db.execute(*statements)


def test_swapped_keys_are_caught_by_the_pinned_admin_keys(built, raw, tmp_path):
    with built.store() as store:
        pinned = [fp for fp, _ in store.admin_keys()]
        old = {k.key_fingerprint: k.user for k in store.keys()}
    assert pinned == [built.keys["alice"][2].fingerprint]
    trust = tmp_path / "lab.toml"
    trust.write_text('[lab]\nname = "Test lab"\n\n[trust]\nadmin_keys = [\n'
                     + "".join(f'  "{fp}",\n' for fp in pinned) + "]\n", encoding="utf-8")
    assert load_trust(trust) == frozenset(pinned)
    with built.store() as store:
        assert store.verify(trust=load_trust(trust)).ok
    _resign_chain(raw(built.location), {fp: memory_key() for fp in old})
    with built.store() as store:
        assert {k.user for k in store.keys()} == {"alice", "bob"}
        assert not {k.key_fingerprint for k in store.keys()} & set(old)
        assert store.verify().ok  # every signature and proof verifies with the new keys
        report = store.verify(trust=load_trust(trust))
    first = report.first
    assert not report.ok and first.kind == "trust"
    assert "analyst_key.register by alice is proven by key" in first.problem
    assert "not one of the lab's pinned admin keys" in first.problem
    runner = CliRunner()
    result = runner.invoke(cli, ["custody", "verify", "--store", built.location,
                                 "--trust", str(trust)])
    assert result.exit_code == 1 and "pinned admin keys" in result.stderr


def test_trust_files_are_read_strictly(tmp_path):
    plain = tmp_path / "trust.txt"
    plain.write_text("# lab admins\n" + "ab" * 32 + "  # alice\n", encoding="utf-8")
    assert load_trust(plain) == {"ab" * 32}
    for text, problem in (("[trust]\nadmin_keys = []\n", "pins no admin key"),
                          ("[trust]\nadmin_keys = ['xyz']\n", "not a key fingerprint"),
                          ("[lab]\nname = 'x'\n", "without \\[trust\\] admin_keys")):
        bad = tmp_path / "bad.toml"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(CustodyError, match=problem):
            load_trust(bad)


def test_trust_file_written_for_the_lab(built, tmp_path):
    path = tmp_path / "trust.toml"
    result = CliRunner().invoke(cli, ["custody", "trust", "--store", built.location, "-o",
                                      str(path)])
    assert result.exit_code == 0, result.output
    assert load_trust(path) == {built.keys["alice"][2].fingerprint}


# -- the tamper contract: every text column edited ------------------------------------------


def test_etizolam_replaced_by_cocaine_everywhere_is_caught(sqlite_location, monkeypatch,
                                                            tmp_path):
    """Drop every trigger, replace Etizolam by Cocaine in every text column: verify fails."""
    with CaseStore(sqlite_location, actor="jdoe") as store:
        store.open_case("FL21", submitting_agency="Police")
        store.receive_exhibit("FL21", "FL21-1010", description="blue tablets")
        analysis = store.record_analysis("FL21", run_ids=[], parameters={"profile": "x"})
        store.record_result("FL21", {"verdict": "identified", "substances": ["Etizolam"]},
                            analysis_id=analysis.analysis_id, exhibit_id="FL21-1010",
                            summary="identified in exhibit FL21-1010: Etizolam")
    conn = sqlite3.connect(f"{sqlite_location}/gcms.sqlite")
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        conn.execute(f"DROP TRIGGER {name}")
    tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    edited = 0
    for table in tables:
        for _, column, kind, *_ in conn.execute(f"PRAGMA table_info({table})").fetchall():
            if kind.upper() in ("TEXT", "") or kind.upper().startswith("VARCHAR"):
                edited += conn.execute(f"UPDATE {table} SET {column} = replace({column}, "
                                       "'Etizolam', 'Cocaine') WHERE {column} LIKE "
                                       "'%Etizolam%'".replace("{column}", column)).rowcount
    conn.commit()
    conn.close()
    assert edited >= 3  # the entry's content, the result's data and summary
    result = CliRunner().invoke(cli, ["custody", "verify", "--store", sqlite_location])
    assert result.exit_code == 1
    assert "custody does not verify: entry #" in result.stderr
    assert "content was altered" in result.stderr


# -- QA results in the chain -----------------------------------------------------------------


def _tune(history, verdict_ok: bool, when: str):
    from gcms.qa.records import Criterion, Limit, QAResult

    result = QAResult(kind="tune", instrument_id="GCMS-1", criteria_set="bfb",
                      criteria=(Criterion(key="abundance_69", name="m/z 69",
                                          value=50.0 if verdict_ok else 5.0, unit="%",
                                          limit=Limit(low=30.0, high=60.0),
                                          passed=verdict_ok),),
                      performed_at=datetime.fromisoformat(when).replace(tzinfo=timezone.utc),
                      source={"path": "tune.xml", "sha256": sha256_hex(when)})
    return history.record(result), result


def test_deleted_failing_tune_is_a_break(sqlite_location, tmp_path):
    from gcms.custody.batch import RecordInStore
    from gcms.custody.qa import qa_records, record_qa
    from gcms.qa.gate import _result_summary
    from gcms.qa.history import HISTORY_FILE, open_history

    folder = tmp_path / "qa"
    with open_history(folder) as history:
        good_id, good = _tune(history, True, "2025-03-01T08:00")
        bad_id, bad = _tune(history, False, "2025-03-02T08:00")
    document = {"qa": {
        "status": "failing", "instrument": {"id": "GCMS-1"},
        "history": str(folder / HISTORY_FILE),
        "checks": [{"kind": "tune", "status": "failing", "source": "history",
                    "results": [_result_summary(bad, history_id=bad_id)]}]}}
    assert [r["verdict"] for r in qa_records(document)] == ["fail"]
    with CaseStore(sqlite_location, actor="jdoe") as store:
        [recorded] = record_qa(store, document)
        assert recorded.data["result_sha256"] and recorded.history_id == bad_id
        assert record_qa(store, document) == []  # once
        assert store.verify().ok
    conn = sqlite3.connect(folder / HISTORY_FILE)
    conn.executescript("DROP TRIGGER qa_result_no_delete; DROP TRIGGER qa_value_no_delete;")
    conn.execute("DELETE FROM qa_value WHERE result_id = ?", (bad_id,))
    conn.execute("DELETE FROM qa_result WHERE id = ?", (bad_id,))
    conn.commit()
    conn.close()
    with CaseStore(sqlite_location, actor="jdoe", create=False) as store:
        report = store.verify()
        assert not report.ok and report.first.kind == "qa"
        assert "tune of GCMS-1" in report.first.subject and "(fail)" in report.first.subject
        assert "deleted or altered in the QA history" in report.first.problem
        # the next batch, whose QA now finds only the passing tune, is refused
        passing = {"qa": {**document["qa"], "status": "passing", "checks": [
            {"kind": "tune", "status": "passing", "source": "history",
             "results": [_result_summary(good, history_id=good_id)]}]}}
        typed = SimpleNamespace(qa=QASection.from_json(
            {**passing["qa"], "policy": "block", "reportable": True}))
        with pytest.raises(CustodyError, match="deleted or altered in the QA history"):
            RecordInStore(sqlite_location, "C1", "jdoe")._qa(store, typed)


def test_a_bundle_is_checked_against_the_pinned_admin_keys_too(built):
    with built.store() as store:
        bundle = store.export_bundle("C1")
        pinned = frozenset(fp for fp, _ in store.admin_keys())
    report = verify_bundle(bundle, trust=pinned)
    assert report.ok and report.trust_pinned and report.proofs >= 3
    other = verify_bundle(bundle, trust=frozenset({"ab" * 32}))
    assert not other.ok and other.first.kind == "trust"
    assert "not one of the lab's pinned admin keys" in other.first.problem
