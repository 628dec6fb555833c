"""Library governance: versions as signed audit entries, approved by another, verified."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from custody.conftest import memory_key
from gcms_cli.main import cli

from gcms import Spectrum
from gcms.custody import CaseStore
from gcms.custody.canonical import canonical_json, entry_sha256, sha256_hex
from gcms.errors import CustodyError, LibraryError
from gcms.identify.judge import _retired_note
from gcms.io.msp import write as write_msp
from gcms.library import Library
from gcms.library.governance import (
    correct_entry,
    flag_retired_hits,
    merge_libraries,
    retire_entry,
    retired_entries,
)

AMPHETAMINE = "KWTSXDURSIMDCE-UHFFFAOYSA-N"
COCAINE = "ZPUCINDJVBIVPJ-LJISPDSOSA-N"

SPECTRA = [
    Spectrum([44.0, 65.0, 91.0, 120.0], [999.0, 60.0, 280.0, 20.0], name="Amphetamine",
             cas="300-62-9", inchikey=AMPHETAMINE),
    Spectrum([82.0, 94.0, 182.0, 303.0], [999.0, 300.0, 500.0, 200.0], name="Cocaine",
             cas="50-36-2", inchikey=COCAINE, retention_index=2189.0),
]


@pytest.fixture
def lab(tmp_path):
    """A store with alice (analyst, admin) and bob (reviewer), their keys, a library file."""
    keys = {"alice": memory_key(), "bob": memory_key()}
    with CaseStore(tmp_path / "store", actor="alice") as store:
        store.register_key(keys["alice"], user="alice", printed_name="Alice")
        store.add_user("bob", roles=["reviewer"], printed_name="Bob", key=keys["alice"])
        store.register_key(keys["bob"], user="bob", key=keys["alice"])
    path = Library.from_spectra(SPECTRA, title="in-house").write(tmp_path / "lab.h5")
    return tmp_path / "store", keys, path


def test_correct_retire_merge_make_new_versions():
    lib = Library.from_spectra(SPECTRA, title="in-house")
    corrected, change = correct_entry(lib, 1, retention_index=2190.5,
                                      ri_column="semi-standard non-polar", name="Cocaine")
    assert change["fields"] == {"retention_index": {"old": 2189.0, "new": 2190.5},
                                "ri_column": {"old": None, "new": "semi-standard non-polar"}}
    assert corrected.identity_sha256 != lib.identity_sha256
    assert corrected.entry(1).retention_index == 2190.5
    respectrum, change = correct_entry(lib, 0, spectrum=Spectrum(
        [44.0, 65.0, 91.0, 120.0], [999.0, 60.0, 500.0, 20.0]))
    assert 0 < change["spectrum"]["match_factor"] < 999
    assert respectrum.peaks.row(1)[0].tolist() == lib.peaks.row(1)[0].tolist()
    with pytest.raises(LibraryError, match="changes nothing"):
        correct_entry(lib, 0, name="Amphetamine")
    retired, change = retire_entry(lib, 0, reason="spectrum from a contaminated standard",
                                   by="alice")
    assert len(retired) == 2 and retired.entry(0).name == "Amphetamine"  # never deleted
    assert set(retired_entries(retired)) == {0}
    flags = flag_retired_hits([{"index": 0}, {"index": 1}], retired)
    assert [f["retired"] for f in flags] == [True, False]
    # a search hit against the retired entry carries the retirement, and an
    # identification made with it says so
    hit = retired.search(SPECTRA[0], top=1)[0].hits[0]
    assert hit.library_index == 0 and hit.provenance["retired"]["by"] == "alice"
    assert "was retired by alice" in _retired_note(hit)[0]
    assert _retired_note(lib.search(SPECTRA[0], top=1)[0].hits[0]) == ()
    other = Library.from_spectra([SPECTRA[0].replace(name="amphetamine (SWGDRUG)"),
                                  Spectrum([58.0, 91.0], [999.0, 100.0], name="Meth")])
    merged, report = merge_libraries(lib, other, min_mf=900)
    assert len(merged) == 3 and [d["base_entry"] for d in report.duplicates] == [0]
    assert report.duplicates[0]["match_factor"] == 999


def test_changes_are_signed_approved_and_verified(lab):
    location, keys, path = lab
    lib = Library.open(path)
    first = lib.identity_sha256
    corrected, change = correct_entry(lib, 1, retention_index=2190.5, ri_column="non-polar")
    with CaseStore(location, actor="alice", create=False) as store:
        store.open_case("C1", title="test")
        before = store.record_analysis("C1", run_ids=[], parameters={
            "library": {"title": lib.title, "identity_sha256": first}})
        with pytest.raises(CustodyError, match="needs alice's private key"):
            store.record_library_change("lab", "correct", previous_identity=first,
                                        identity=corrected.identity_sha256, details=change,
                                        reason="RI re-measured", key=None)
        v1 = store.record_library_change("lab", "correct", previous_identity=first,
                                         identity=corrected.identity_sha256, details=change,
                                         reason="RI re-measured", key=keys["alice"])
        with pytest.raises(CustodyError, match="previous one left|identity"):
            store.record_library_change("lab", "retire", previous_identity=first,
                                        identity="0" * 64, details={}, reason="x",
                                        key=keys["alice"])
        with pytest.raises(CustodyError, match="cannot also approve"):
            store.approve_library_change("lab", 1, key=keys["alice"])
        # an analysis made with the first version keeps naming it after the correction
        assert store.library_version_of(first) == {"library_id": "lab", "version": 0}
        used = store.library_version_used("C1", before.analysis_id)
        assert (used["version"], used["current_version"]) == (0, 1)
        assert used["identity_sha256"] == first
    assert v1["version"] == 1
    with CaseStore(location, actor="alice", create=False) as store:
        store.add_user("carol", roles=["analyst"], printed_name="Carol", key=keys["alice"])
        carol = memory_key()
        store.register_key(carol, user="carol", key=keys["alice"])
    with CaseStore(location, actor="carol", create=False) as store:
        with pytest.raises(CustodyError, match="needs the role reviewer or qa or admin"):
            store.approve_library_change("lab", 1, key=carol)
    with CaseStore(location, actor="bob", create=False) as store:
        store.approve_library_change("lab", 1, key=keys["bob"], reason="checked")
        versions = store.library_versions("lab")
        assert versions[0]["approved_by"] == ["bob"]
        assert store.library_version_of(corrected.identity_sha256)["version"] == 1
        assert store.verify().ok
        # a case bundle carries the library entries (store-wide) and verifies without it
        from gcms.custody.bundle import verify_bundle

        report = verify_bundle(store.export_bundle("C1"))
        assert report.ok, report.first


def _rewrite(location, seq: int, edit) -> None:
    """Edit entry ``seq``'s content with plain SQL and re-hash the chain from it."""
    import sqlite3

    conn = sqlite3.connect(location / "gcms.sqlite")
    for table in ("audit_log", "chain_head"):
        conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    rows = conn.execute("SELECT seq, prev_sha256, content, case_tag FROM audit_log "
                        "WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
    prev = rows[0][1]
    for number, _, content, tag in rows:
        if number == seq:
            content = canonical_json(edit(json.loads(content)))
        content_sha = sha256_hex(content)
        entry = entry_sha256(number, prev, content_sha, tag)
        conn.execute("UPDATE audit_log SET prev_sha256 = ?, content_sha256 = ?, "
                     "entry_sha256 = ?, content = ? WHERE seq = ?",
                     (prev, content_sha, entry, content, number))
        prev = entry
    conn.execute("UPDATE chain_head SET entry_sha256 = ? WHERE id = 1", (prev,))
    conn.commit()
    conn.close()


def test_tampered_library_change_is_a_finding(lab):
    location, keys, path = lab
    lib = Library.open(path)
    retired, change = retire_entry(lib, 0, reason="wrong standard", by="alice")
    with CaseStore(location, actor="alice", create=False) as store:
        store.record_library_change("lab", "retire", previous_identity=lib.identity_sha256,
                                    identity=retired.identity_sha256, details=change,
                                    reason="wrong standard", key=keys["alice"])
        seq = store.head()[0]

    def edit(content):
        content["after"]["details"]["name"] = "Cocaine"
        return content

    _rewrite(location, seq, edit)
    with CaseStore(location, actor="alice", create=False) as store:
        report = store.verify()
    assert not report.ok
    assert any(f.subject == f"entry #{seq}" and "does not verify" in f.problem
               for f in report.findings)


def test_cli_correct_retire_approve_log_diff(lab, monkeypatch):
    location, keys, path = lab

    runner = CliRunner()
    key_files = {}
    from gcms.custody.keys import new_key_pair

    # CLI users prove with key files: register file keys for both users
    for user in ("alice", "bob"):
        key_path, _, key = new_key_pair(location.parent, user, "pass phrase 1")
        key_files[user] = key_path
        with CaseStore(location, actor="alice", create=False) as store:
            store.register_key(key, user=user, key=keys["alice"])
    monkeypatch.setenv("GCMS_KEY_PASSPHRASE", "pass phrase 1")
    old = path.parent / "lab-v0.h5"
    old.write_bytes(path.read_bytes())
    base = ["--store", str(location), "--key"]
    out = runner.invoke(cli, ["library", "correct", str(path), "--entry", "2", "--ri",
                              "2190.5", "--ri-column", "semi-standard non-polar",
                              "--reason", "RI re-measured", "--actor", "alice",
                              *base, str(key_files["alice"])])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["library", "retire", str(path), "--entry", "1", "--reason",
                              "contaminated standard", "--actor", "alice",
                              *base, str(key_files["alice"])])
    assert out.exit_code == 0, out.output
    query = path.parent / "query.msp"
    write_msp([SPECTRA[0]], query)
    out = runner.invoke(cli, ["library", "search", str(path), str(query), "--top", "1"])
    assert out.exit_code == 0 and "Amphetamine  [RETIRED]" in out.output, out.output
    out = runner.invoke(cli, ["library", "approve", "lab", "2", "--actor", "bob",
                              *base, str(key_files["bob"])])
    assert out.exit_code == 0, out.output
    # entries added from a file: the duplicate of Amphetamine is left out
    extra = path.parent / "extra.msp"
    write_msp([SPECTRA[0].replace(name="Amphetamine (SWGDRUG)"),
               Spectrum([58.0, 91.0, 134.0], [999.0, 120.0, 15.0], name="Phentermine")],
              extra)
    out = runner.invoke(cli, ["library", "merge", str(path), str(extra), "--reason",
                              "SWGDRUG entries", "-o", str(path.parent / "merged.h5"),
                              "--actor", "alice", *base, str(key_files["alice"])])
    assert out.exit_code == 0, out.output
    assert [e.name for e in map(Library.open(path.parent / "merged.h5").entry, range(3))] \
        == ["Amphetamine", "Cocaine", "Phentermine"]
    out = runner.invoke(cli, ["library", "merge", str(path), str(path.parent / "nope.msp"),
                              "--reason", "x", "--actor", "alice", *base,
                              str(key_files["alice"])])
    assert out.exit_code == 2 and "nope.msp: no such library file" in out.output
    out = runner.invoke(cli, ["library", "log", "lab", "--store", str(location), "--json"])
    log = json.loads(out.output)
    assert [v["change"] for v in log["versions"]] == ["correct", "retire", "merge"]
    assert [v["approved_by"] for v in log["versions"]] == [[], ["bob"], []]
    merged = log["versions"][2]["details"]
    assert [d["name"] for d in merged["duplicates"]] == ["Amphetamine (SWGDRUG)"]
    out = runner.invoke(cli, ["library", "diff", str(old), str(path), "--json"])
    assert out.exit_code == 0, out.output
    diff = json.loads(out.output)
    assert diff["counts"]["changed"] == 1 and diff["counts"]["retired"] == 1
    assert diff["retired"][0]["name"] == "Amphetamine"
    assert diff["retired"][0]["retirement"]["reason"] == "contaminated standard"
    assert diff["changed"][0]["fields"]["ri_column"]["new"] == "semi-standard non-polar"
    out = runner.invoke(cli, ["custody", "verify", "--store", str(location)])
    assert out.exit_code == 0, out.output
