"""Tampering, each case detected and named by verify, on SQLite and PostgreSQL.

The tamperer works with plain SQL on the database (dropping the append-only triggers
first), edits evidence files on disk, or, as the strongest forger, rewrites entries and
recomputes every hash after them, so that the chain itself is consistent again and only
the signatures can tell.
"""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gcms.custody import verify_bundle
from gcms.custody.canonical import canonical_json, entry_sha256, sha256_hex
from gcms.custody.keys import fingerprint
from gcms.custody.records import signature_payload


def _verify(built, **options):
    with built.store("auditor") as store:
        return store.verify(**options)


def _first(report):
    assert not report.ok, "tampering went unnoticed"
    return report.first


def _rewrite_chain(db, edits):
    """Apply ``edits`` ({seq: function(content) -> content}) and recompute every hash."""
    rows = db.query("SELECT seq, prev_sha256, case_tag, content FROM audit_log ORDER BY seq")
    statements, prev = [], rows[0][1]
    for seq, _, tag, content in rows:
        if seq in edits:
            content = canonical_json(edits[seq](json.loads(content)))
        content_sha = sha256_hex(content)
        entry_sha = entry_sha256(seq, prev, content_sha, tag)
        statements.append(("UPDATE audit_log SET prev_sha256 = ?, content_sha256 = ?, "
                           "entry_sha256 = ?, content = ? WHERE seq = ?",
                           (prev, content_sha, entry_sha, content, seq)))
        prev = entry_sha
    statements.append(("UPDATE chain_head SET entry_sha256 = ? WHERE id = 1", (prev,)))
    db.execute(*statements)


def _signature_fields(sig: dict) -> dict:
    return {k: v for k, v in sig.items() if k not in ("signature", "signature_id", "version")}


# -- plain SQL on the tables -------------------------------------------------------------


def test_result_row_edited_with_sql(built, raw):
    db = raw(built.location)
    db.drop_guards("results")
    db.execute("UPDATE results SET summary = 'heroin identified' WHERE result_id = 'RS1'")
    first = _first(_verify(built))
    assert first.kind == "record" and first.subject == "result RS1 v1 of case C1"
    assert "column summary of table results is 'heroin identified'" in first.problem


def test_result_data_edited_with_sql(built, raw):
    db = raw(built.location)
    db.drop_guards("results")
    db.execute("UPDATE results SET data = replace(data, '912', '999') WHERE result_id = 'RS1'")
    first = _first(_verify(built, case_id="C1"))
    assert first.subject == "result RS1 v1 of case C1" and "column data" in first.problem


def test_entry_content_edited_with_sql(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log")
    seq = built.seq_of("result.record", "RS1")
    db.execute(("UPDATE audit_log SET content = replace(content, 'amphetamine', "
                "'methamphetamine') WHERE seq = ?", (seq,)))
    first = _first(_verify(built))
    assert (first.kind, first.subject) == ("entry", f"entry #{seq}")
    assert "content was altered" in first.problem


def test_queryable_column_edited_with_sql(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log")
    seq = built.seq_of("exhibit.receive", "E1")
    db.execute(("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?", (seq,)))
    first = _first(_verify(built))
    assert first.subject == f"entry #{seq}" and "column actor says 'mallory'" in first.problem


# -- evidence files ----------------------------------------------------------------------


def test_evidence_file_replaced(built):
    size = built.run_file.stat().st_size
    built.run_file.write_bytes(b"\0" * size)
    first = _first(_verify(built))
    assert first.kind == "file" and str(built.run_file) in first.subject
    assert "run R1 of case C1" in first.subject and f"({size} bytes) differs" in first.problem


def test_evidence_file_with_one_byte_appended(built):
    with open(built.run_file, "ab") as handle:
        handle.write(b"\n")
    first = _first(_verify(built, case_id="C1"))
    assert str(built.run_file) in first.subject and "differs" in first.problem


def test_file_inside_an_evidence_folder_changed(built):
    target = built.run_folder / "AcqData" / "MSScan.bin"
    data = bytearray(target.read_bytes())
    data[100] ^= 0xFF
    target.write_bytes(bytes(data))
    report = _verify(built)
    [finding] = report.findings
    assert finding.subject.startswith(f"file {target} (run R2 of case C1)")


# -- entries deleted or moved ------------------------------------------------------------


def test_entry_deleted(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log", "custody_transfers")
    seq = built.seq_of("custody_transfer.record", "T2")
    db.execute("DELETE FROM custody_transfers WHERE transfer_id = 'T2'",
               ("DELETE FROM audit_log WHERE seq = ?", (seq,)))
    first = _first(_verify(built))
    assert (first.kind, first.subject) == ("chain", f"entry #{seq + 1}")
    assert first.problem == f"entry #{seq} is missing before it"


def test_last_entry_deleted(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log", "signatures")
    seq = built.seq_of("signature.sign", "S2")
    db.execute("DELETE FROM signatures WHERE signature_id = 'S2'",
               ("DELETE FROM audit_log WHERE seq = ?", (seq,)))
    first = _first(_verify(built))
    assert first.subject == f"entry #{seq}" and "chain head says" in first.problem


def test_two_entries_swapped(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log")
    i, j = built.seq_of("custody_transfer.record", "T1"), built.seq_of("run.attach", "R1")
    columns = ("prev_sha256", "content_sha256", "entry_sha256", "recorded_at", "actor",
               "action", "object_type", "object_id", "case_id", "content")
    rows = {seq: db.query(f"SELECT {', '.join(columns)} FROM audit_log WHERE seq = ?",
                          (seq,))[0] for seq in (i, j)}
    assign = ", ".join(f"{c} = ?" for c in columns)
    db.execute(("UPDATE audit_log SET entry_sha256 = ? WHERE seq = ?", ("swap", i)),
               (f"UPDATE audit_log SET {assign} WHERE seq = ?", (*rows[i], j)),
               (f"UPDATE audit_log SET {assign} WHERE seq = ?", (*rows[j], i)))
    first = _first(_verify(built))
    assert first.subject == f"entry #{i}"


# -- signatures ----------------------------------------------------------------------------


def test_signature_bytes_replaced_in_the_table(built, raw):
    db = raw(built.location)
    db.drop_guards("signatures")
    forged = base64.b64encode(bytes(64)).decode()
    db.execute(("UPDATE signatures SET signature = ? WHERE signature_id = 'S1'", (forged,)))
    first = _first(_verify(built))
    assert first.subject == "signature S1 v1 of case C1" and "column signature" in first.problem


def test_forged_signature_with_the_chain_recomputed(built, raw):
    """The forger signs with a key of their own but keeps Alice's name and fingerprint."""
    db = raw(built.location)
    db.drop_guards("audit_log", "signatures")
    seq = built.seq_of("signature.sign", "S1")
    mallory = Ed25519PrivateKey.generate()

    def forge(content):
        after = content["after"]
        payload = signature_payload(**_signature_fields(after))
        after["signature"] = base64.b64encode(mallory.sign(payload)).decode()
        return content

    _rewrite_chain(db, {seq: forge})
    forged = json.loads(db.query("SELECT content FROM audit_log WHERE seq = ?", (seq,))[0][0])
    db.execute(("UPDATE signatures SET signature = ? WHERE signature_id = 'S1'",
                (forged["after"]["signature"],)))
    report = _verify(built)
    first = _first(report)
    assert (first.kind, first.subject) == ("signature", f"signature S1 of case C1 (entry #{seq})")
    assert "by Alice A. Analyst (authored) does not verify" in first.problem
    # Bob's later review (its proof) and signature sealed the chain as it was: the
    # recomputed hashes show there too
    later = [str(f) for f in report.findings[1:]]
    assert len(later) == 2
    assert "the proof of review.record by bob does not verify" in later[0]
    assert later[1].startswith("signature S2") and "does not cover" in later[1]


def _forge_s2(built, raw, key_raw: bytes, sign) -> None:
    db = raw(built.location)
    db.drop_guards("audit_log", "signatures")

    def forge(content):
        after = content["after"]
        after["key_fingerprint"] = fingerprint(key_raw)
        after["signature"] = base64.b64encode(
            sign(signature_payload(**_signature_fields(after)))).decode()
        return content

    _rewrite_chain(db, {built.seq_of("signature.sign", "S2"): forge})


def test_signature_in_another_analysts_name(built, raw):
    """Alice, who has a registered key, signs the review in Bob's name with it."""
    alice = built.keys["alice"][2]
    _forge_s2(built, raw, alice.public_raw,
              lambda payload: base64.b64decode(alice.sign(payload)))
    first = _first(_verify(built, case_id="C1"))
    assert first.kind == "signature" and first.subject.startswith("signature S2")
    assert "made as bob (Bob B. Reviewer) with the key of alice" in first.problem


def test_signature_with_a_key_registered_only_afterwards(built, raw):
    mallory = Ed25519PrivateKey.generate()
    raw_public = mallory.public_key().public_bytes(serialization.Encoding.Raw,
                                                   serialization.PublicFormat.Raw)
    with built.store("alice") as store:
        alice = built.keys["alice"][2]
        store.add_user("mallory", roles=["reviewer"], printed_name="M. Allory", key=alice)
        store.register_key(raw_public, user="mallory", key=alice)
    _forge_s2(built, raw, raw_public, mallory.sign)
    first = _first(_verify(built))
    assert first.subject.startswith("signature S2") and "is not registered" in first.problem


def test_result_changed_after_signing_with_the_chain_recomputed(built, raw):
    db = raw(built.location)
    db.drop_guards("audit_log", "results")
    seq = built.seq_of("result.record", "RS1")

    def alter(content):
        content["after"]["data"]["substances"] = ["methamphetamine"]
        return content

    _rewrite_chain(db, {seq: alter})
    data = json.loads(db.query("SELECT content FROM audit_log WHERE seq = ?", (seq,))[0][0])
    db.execute(("UPDATE results SET data = ? WHERE result_id = 'RS1'",
                (canonical_json(data["after"]["data"]),)))
    report = _verify(built)
    first = _first(report)
    # the first entry proven by a key after the edit no longer verifies: its proof covers
    # the hash of the entry before it, so a recomputed chain breaks every later proof
    assert first.kind == "user" and "the proof of analyst_key.register by alice does not " \
        "verify" in first.problem
    assert {"signature S1 of case C1", "signature S2 of case C1"} <= {
        f.subject.split(" (")[0] for f in report.findings}


# -- bundles ---------------------------------------------------------------------------------


@pytest.fixture
def bundle(built):
    with built.store() as store:
        return store.export_bundle("C1")


def _link(bundle, action, object_id):
    return next(link for link in bundle["links"] if link["content"]
                and json.loads(link["content"])["action"] == action
                and json.loads(link["content"])["object_id"] == object_id)


def test_bundle_entry_edited(bundle):
    link = _link(bundle, "exhibit.receive", "E1")
    link["content"] = link["content"].replace("12.50", "2.50")
    first = _first(verify_bundle(bundle))
    assert first.subject == f"entry #{link['seq']}" and "content was altered" in first.problem


def test_bundle_convenience_section_edited(bundle):
    bundle["evidence"][0]["sha256"] = "0" * 64
    first = _first(verify_bundle(bundle))
    assert (first.kind, first.subject) == ("bundle", "section evidence")


def test_bundle_withholding_one_of_its_own_entries(bundle):
    link = _link(bundle, "custody_transfer.record", "T2")
    link["content"] = None
    first = _first(verify_bundle(bundle))
    assert (first.kind, first.subject) == ("chain", f"entry #{link['seq']}")
    assert "withheld but it is an entry of case C1" in first.problem


def test_bundle_entry_moved_to_another_case_tag(bundle):
    link = _link(bundle, "custody_transfer.record", "T2")
    link["case_tag"] = "0" * 64
    first = _first(verify_bundle(bundle))
    assert first.subject == f"entry #{link['seq']}" and "entry hash" in first.problem


def test_bundle_hidden_entry_dropped(bundle):
    hidden = next(i for i, link in enumerate(bundle["links"]) if link["content"] is None)
    seq = bundle["links"][hidden]["seq"]
    del bundle["links"][hidden]
    first = _first(verify_bundle(bundle))
    assert first.subject == f"entry #{seq + 1}" and "missing" in first.problem


def test_bundle_signature_forged_with_links_recomputed(bundle):
    link = _link(bundle, "signature.sign", "S1")
    content = json.loads(link["content"])
    content["after"]["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(
        signature_payload(**_signature_fields(content["after"])))).decode()
    link["content"] = canonical_json(content)
    prev = None
    for item in bundle["links"]:
        if item["seq"] >= link["seq"]:
            item["prev_sha256"] = prev
            if item["content"] is not None:
                item["content_sha256"] = sha256_hex(item["content"])
            item["entry_sha256"] = entry_sha256(item["seq"], prev, item["content_sha256"],
                                                item["case_tag"])
        prev = item["entry_sha256"]
    bundle["head"]["entry_sha256"] = prev
    bundle["signatures"][0]["signature"] = content["after"]["signature"]
    report = verify_bundle(bundle)
    first = _first(report)
    assert first.kind == "signature" and first.subject.startswith("signature S1")
    assert "does not verify" in first.problem
