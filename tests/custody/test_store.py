"""The case store on SQLite and PostgreSQL: records, history, rules, reading back."""

from __future__ import annotations

import json

import pytest

from gcms.custody import CaseStore, record_sha256, verify_bundle
from gcms.custody.canonical import canonical_json, entry_sha256, sha256_hex
from gcms.errors import CustodyError, TamperError


def test_a_populated_store_verifies_and_reads_back(built):
    with built.store() as store:
        report = store.verify()
        assert report.ok, report.findings
        assert report.signatures == 2 and report.files == 3
        assert report.entries == store.head()[0] == len(store.log())
        [exhibit] = store.exhibits("C1")
        assert (exhibit.gross_weight, exhibit.gross_weight_unit) == ("14.82", "g")
        assert exhibit.received_at == "2025-03-01T09:00:00.000000Z"
        assert exhibit.received_by == "alice" and exhibit.seal_numbers == ("A123",)
        runs = store.runs("C1")
        assert [r.run_id for r in runs] == ["R1", "R2"]
        assert runs[0].sample_name == "E1-1" and runs[1].kind == "blank"
        assert runs[1].is_directory and [f.path for f in runs[1].files] == [
            "AcqData/MSScan.bin", "DATA.MS"]
        results = store.results("C1")
        assert [(r.result_id, r.run_id, r.exhibit_id) for r in results] == [
            ("RS1", "R1", "E1"), ("RS2", "R2", None)]
        assert results[0].data["substances"] == ("amphetamine", "caffeine")
        signatures = store.signatures("C1", "RS1")
        assert [(s.meaning, s.printed_name) for s in signatures] == [
            ("authored", "Alice A. Analyst"), ("reviewed", "Bob B. Reviewer")]
        assert signatures[0].result_sha256 == record_sha256(results[0])


def test_every_entry_chains_to_the_one_before(built):
    with built.store() as store:
        entries = store.log()
        store_tags = {c.case_id: c.case_tag for c in store.cases()}
    assert len(set(store_tags.values())) == 2 and all(len(t) == 64 for t in store_tags.values())
    prev = "0" * 64
    for entry in entries:
        assert entry.prev_sha256 == prev
        content = {k: getattr(entry, k) for k in (
            "action", "actor", "after", "at", "before", "case_id", "object_id",
            "object_type", "reason", "software", "supersedes")}
        if entry.proof is not None:
            content["proof"] = entry.proof
        tag = None if entry.case_id is None else store_tags[entry.case_id]
        assert entry.entry_sha256 == entry_sha256(entry.seq, prev,
                                                  sha256_hex(canonical_json(content)), tag)
        prev = entry.entry_sha256
    assert entries[0].action == "store.init"
    assert all(e.at.endswith("Z") for e in entries)


def test_a_signature_covers_the_entry_just_before_it(built):
    with built.store() as store:
        entries = {e.seq: e for e in store.log()}
        for s in store.signatures("C1"):
            sign_entry = next(e for e in entries.values() if e.action == "signature.sign"
                              and e.object_id == s.signature_id)
            assert s.chain_head_seq == sign_entry.seq - 1
            assert s.chain_head_sha256 == entries[sign_entry.seq - 1].entry_sha256


def test_corrections_keep_the_earlier_version(built):
    key = built.keys["alice"][2]
    with built.store() as store:
        with pytest.raises(CustodyError, match="needs alice's private key"):
            store.correct("exhibit", "C1", "E1", reason="balance recalibrated",
                          changes={"net_weight": "12.48 g"})
        corrected = store.correct("exhibit", "C1", "E1", reason="balance recalibrated",
                                  changes={"net_weight": "12.48 g"}, key=key)
        assert corrected.version == 2 and corrected.net_weight == "12.48"
        entry = store.log()[-1]
        assert entry.action == "exhibit.correct" and entry.reason == "balance recalibrated"
        assert entry.before["net_weight"] == "12.50" and entry.after["net_weight"] == "12.48"
        assert entry.supersedes == built.seq_of("exhibit.receive", "E1")
        assert entry.proof["key_fingerprint"] == key.fingerprint
        with pytest.raises(CustodyError, match="needs a reason"):
            store.correct("exhibit", "C1", "E1", reason=" ", changes={"packaging": "box"})
        with pytest.raises(CustodyError, match="exhibit_id cannot be corrected"):
            store.correct("exhibit", "C1", "E1", reason="x", changes={"exhibit_id": "E2"})
        with pytest.raises(CustodyError, match="sha256 cannot be corrected"):
            store.correct("run", "C1", "R1", reason="x", changes={"sha256": "0" * 64})
        with pytest.raises(CustodyError, match="never corrected"):
            store.correct("signature", "C1", "S1", reason="x", changes={"meaning": "approved"})
        with pytest.raises(CustodyError, match="changes nothing"):
            store.correct("exhibit", "C1", "E1", reason="x", changes={"net_weight": "12.48 g"},
                          key=key)
        new = store.correct_result("C1", "RS1", {"verdict": "identified",
                                                 "substances": ["amphetamine"]},
                                   reason="caffeine peak was column bleed", key=key)
        assert new.version == 2
        # signatures stay with the version they signed; the file shows the history
        file = store.case_file("C1")
        assert {s["result_version"] for s in file["signatures"]} == {1}
        assert file["corrections"]["result RS1"][0]["before"]["version"] == 1
        assert file["exhibits"][0]["net_weight"] == "12.48"
        assert store.verify().ok


def test_the_tables_are_append_only(built, raw):
    db = raw(built.location)
    for statement in ("UPDATE results SET summary = 'x'", "DELETE FROM audit_log",
                      "UPDATE audit_log SET actor = 'mallory'", "DELETE FROM run_files"):
        with pytest.raises(Exception, match="append-only"):
            db.execute(statement)
    with built.store() as store:
        assert store.verify().ok


def test_custody_continuity_and_sequence_are_enforced(built):
    with built.store() as store:
        with pytest.raises(CustodyError, match="held by 'alice'.*cannot be handed over by 'bob'"):
            store.transfer_exhibit("C1", "E1", from_party="bob", to_party="vault")
        with pytest.raises(CustodyError, match="precedes the last hand-over"):
            store.transfer_exhibit("C1", "E1", from_party="alice", to_party="vault",
                                   transferred_at="2025-03-01T12:00Z")
        store.transfer_exhibit("C1", "E1", from_party="alice", to_party="vault",
                               seal_intact=False, purpose="return to storage")
        file = store.case_file("C1")
        assert file["exhibits"][0]["current_holder"] == "vault"
        assert [t["to_party"] for t in file["exhibits"][0]["custody"]] == [
            "vault", "alice", "vault"]


def test_refusals_name_the_object(built):
    with built.store() as store:
        with pytest.raises(CustodyError, match="case 'C1': already exists"):
            store.open_case("C1")
        with pytest.raises(CustodyError, match="exhibit 'E1' in case C1: already recorded"):
            store.receive_exhibit("C1", "E1", description="again")
        with pytest.raises(CustodyError, match="exhibit 'E7' in case C1: not in the store"):
            store.transfer_exhibit("C1", "E7", from_party="a", to_party="b")
        with pytest.raises(CustodyError, match="case 'C9'"):
            store.exhibits("C9")
        with pytest.raises(CustodyError, match="already attached to case C1 as run R1"):
            store.attach_run("C1", built.run_file)
        with pytest.raises(CustodyError, match="unit 'lb'"):
            store.receive_exhibit("C1", "E2", description="x", net_weight="3 lb")
        with pytest.raises(CustodyError, match="not a valid identifier"):
            store.open_case(" padded")
        with pytest.raises(CustodyError, match="run kind 'tune'"):
            store.attach_run("C1", built.run_file, kind="tune")


def test_signing_and_review_rules(built):
    alice_key, bob_key = built.keys["alice"][2], built.keys["bob"][2]
    with built.store("alice") as store:
        with pytest.raises(CustodyError, match="already signed as authored by alice"):
            store.sign_result("C1", "RS1", alice_key, meaning="authored")
        with pytest.raises(CustodyError, match="authored it and cannot also sign it as approved"):
            store.sign_result("C1", "RS1", alice_key, meaning="approved")
        with pytest.raises(CustodyError, match="registered to bob, not to alice .rule: a key "
                           "signs only as the user it is registered to"):
            store.sign_result("C1", "RS1", bob_key, meaning="authored")
        with pytest.raises(CustodyError, match="recorded or authored it and cannot also review"
                           ".*rule: the author of a result cannot review or approve it"):
            store.review_result("C1", "RS1", outcome="agreed", key=alice_key)
        with pytest.raises(CustodyError, match="meaning 'witnessed'"):
            store.sign_result("C1", "RS2", alice_key, meaning="witnessed")
    with built.store("bob") as store:
        signature = store.sign_result("C1", "RS2", bob_key, meaning="approved")
        assert signature.printed_name == "Bob B. Reviewer"
    with built.store("alice") as store:
        store.revoke_key(bob_key.fingerprint, reason="laptop lost", key=alice_key)
    with built.store("bob") as store:
        with pytest.raises(CustodyError, match="revoked .rule: a revoked key signs nothing"):
            store.sign_result("C1", "RS1", bob_key, meaning="approved")
        report = store.verify()
        assert report.ok and report.signatures == 3


def test_batch_recording_is_idempotent(built):
    with built.store() as store:
        head = store.head()
        again = store.record_runs("C1", [{"file": str(built.run_file), "exhibit_id": "E1"}])
        assert again[0].run_id == "R1"
        analysis = store.record_analysis("C1", run_ids=["R1", "R2"],
                                         parameters={"ri_window": 20.0, "min_mf": 800})
        assert analysis.analysis_id == "A1"
        same = store.record_results("C1", [
            {"file": str(built.run_file), "verdict": "identified",
             "substances": ["amphetamine", "caffeine"], "best_mf": 912}],
            analysis_id="A1")
        assert same[0].result_id == "RS1" and same[0].version == 1
        assert store.head() == head  # nothing new was written
        changed = store.record_results("C1", [
            {"file": str(built.run_file), "verdict": "identified",
             "substances": ["amphetamine"], "best_mf": 915}], analysis_id="A1")
        assert changed[0].result_id == "RS1" and changed[0].version == 2
        assert store.log()[-1].action == "result.rerecord"
        with pytest.raises(CustodyError, match="names no run attached"):
            store.record_results("C1", [{"file": "/nowhere.cdf"}], analysis_id="A1")


def test_changed_evidence_at_an_attached_path_is_refused(built):
    built.run_file.write_bytes(b"replaced")
    with built.store() as store, pytest.raises(TamperError, match="has changed"):
        store.record_runs("C1", [str(built.run_file)])


def test_expected_digest_from_a_reader_is_checked(built, tmp_path):
    other = tmp_path / "other.cdf"
    other.write_bytes(b"abc")
    with built.store() as store:
        with pytest.raises(TamperError, match="taken when the file was read"):
            store.attach_run("C1", other, expected_sha256="0" * 64)
        run = store.attach_run("C1", other, expected_sha256=sha256_hex(b"abc"))
        assert run.run_id == "R3"


def test_relocated_evidence_must_be_identical(built, tmp_path):
    moved = tmp_path / "archive" / "E1-inj1.cdf"
    moved.parent.mkdir()
    moved.write_bytes(built.run_file.read_bytes())
    with built.store() as store:
        run = store.relocate_run("C1", "R1", moved, reason="moved to the archive",
                                 key=built.keys["alice"][2])
        assert run.path == str(moved) and run.version == 2
        built.run_file.unlink()
        assert store.verify().ok
        bad = tmp_path / "bad.cdf"
        bad.write_bytes(b"not it")
        with pytest.raises(TamperError, match="not the evidence that was attached"):
            store.relocate_run("C1", "R1", bad, reason="x")


def test_bundle_verifies_offline_and_discloses_only_its_case(built, tmp_path):
    with built.store() as store:
        bundle = store.export_bundle("C1")
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    report = verify_bundle(path)
    assert report.ok, report.findings
    assert report.signatures == 2 and report.entries == len(bundle["links"])
    contents = [json.loads(link["content"]) for link in bundle["links"] if link["content"]]
    assert {c["case_id"] for c in contents} == {None, "C1"}
    hidden = [link for link in bundle["links"] if link["content"] is None]
    assert hidden and "green plant" not in json.dumps(bundle)
    assert [e["run_id"] for e in bundle["evidence"]] == ["R1", "R2"]
    assert {k["user"] for k in bundle["public_keys"]} == {"alice", "bob"}
    assert verify_bundle(bundle, rehash=True).files == 3


def test_case_scope_still_walks_the_whole_chain(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log", "exhibits")
    seq = built.seq_of("exhibit.receive", "X9", case_id="C2")
    db.execute(("DELETE FROM exhibits WHERE case_id = ?", ("C2",)),
               ("DELETE FROM audit_log WHERE seq = ?", (seq,)))
    with built.store() as store:
        report = store.verify(case_id="C1")
        assert not report.ok and report.first.subject == f"entry #{seq + 1}"
        assert "missing" in report.first.problem


def test_opening_and_migrations(location, raw):
    with CaseStore(location, actor="a") as store:
        assert store.head()[0] == 2
    with CaseStore(location, actor="b", create=False) as store:
        assert store.head()[0] == 2  # opening again initialises nothing
        init, admin = store.log()
        assert (init.action, admin.action, admin.actor) == ("store.init", "user.add", "a")
        assert admin.after["roles"] == ["admin", "analyst"] and "first administrator" in (
            admin.reason)
    raw(location).execute("INSERT INTO schema_migrations (version, description, applied_at) "
                          "VALUES (99, 'from the future', '2030-01-01T00:00:00.000000Z')")
    with pytest.raises(CustodyError, match="schema version 99, newer than this gcms"):
        CaseStore(location, actor="a")


def test_missing_store_is_not_created_by_readers(tmp_path):
    with pytest.raises(CustodyError, match="no case store here"):
        CaseStore(tmp_path / "nothing", actor="a", create=False)
    assert not (tmp_path / "nothing").exists()


def test_times_in_the_future_are_refused(built):
    with built.store() as store:
        with pytest.raises(CustodyError, match="transferred_at: 2999-01-01.* in the future"):
            store.transfer_exhibit("C1", "E1", from_party="alice", to_party="vault",
                                   transferred_at="2999-01-01T00:00Z")
        with pytest.raises(CustodyError, match="received_at: .* in the future"):
            store.receive_exhibit("C1", "E5", description="x", received_at="2999-01-01")


def test_a_readers_digest_of_a_folders_data_file_is_accepted(built):
    data_sha = sha256_hex((built.run_folder / "DATA.MS").read_bytes())
    with built.store() as store:
        assert store.record_runs("C1", [{"path": str(built.run_folder), "sha256": data_sha}])
        with pytest.raises(TamperError, match="taken when the file was read"):
            store.record_runs("C1", [{"path": str(built.run_folder), "sha256": "1" * 64}])


def test_results_find_their_run_by_path_key_or_digest(built):
    folder_data = sha256_hex((built.run_folder / "DATA.MS").read_bytes())
    with built.store() as store:
        by_path = store.record_results("C1", [{"path": str(built.run_file), "v": 1}],
                                       analysis_id="A1")
        by_digest = store.record_results("C1", [{"sha256": folder_data, "v": 2}],
                                         analysis_id="A1")
        assert (by_path[0].run_id, by_digest[0].run_id) == ("R1", "R2")
