"""Report control: reports only from evidence that verifies, every report recorded.

A part of the bundled demo sequence (ladder, blank, standard, blank, exhibit E1) goes
through ``gcms batch --store S --case C-1`` once per module; each test works on its own
copy of the store folder, the runs and the batch output.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore, new_key_pair
from gcms.demo import demo_library_path
from gcms.report.sign import sign_pdf

from .conftest import demo_subsequence, page_count, pdftotext

PASSPHRASES = {"alice": "passphrase-alice", "bob": "passphrase-bob"}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    """The demo runs, their batch output and the store (alice ran it: the first admin)."""
    folder = tmp_path_factory.mktemp("control")
    sequence = demo_subsequence(folder)
    text = sequence.read_text().replace("DEMO-2024-017", "C-1")
    sequence.write_text(text, encoding="utf-8")
    out = CliRunner().invoke(cli, ["batch", str(sequence), "--out", str(folder / "out"),
                                   "--library", str(demo_library_path()),
                                   "--workers", "1", "--quiet", "--store",
                                   str(folder / "S"), "--case", "C-1", "--analyst", "alice"],
                             env={"GCMS_STORE": None, "GCMS_ACTOR": None})
    assert out.exit_code == 0, out.output
    keys = folder / "keys"
    for user in ("alice", "bob"):
        new_key_pair(keys, user, PASSPHRASES[user])
    return folder


@pytest.fixture
def work(recorded, tmp_path) -> Path:
    folder = tmp_path / "w"
    shutil.copytree(recorded, folder)
    return folder


def gcms(*args, actor: str = "alice", passphrase: str | None = None):
    env = {"GCMS_STORE": None, "GCMS_ACTOR": actor,
           "GCMS_KEY_PASSPHRASE": passphrase}
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def _key(work: Path, user: str):
    from gcms.custody import load_signing_key

    return load_signing_key(work / "keys" / f"{user}.key", PASSPHRASES[user])


def enrol(work: Path) -> None:
    """Alice (admin, analyst) registers her key, enrols bob (reviewer) and his key."""
    alice = _key(work, "alice")
    with CaseStore(work / "S", actor="alice", create=False) as store:
        store.register_key(alice, user="alice", printed_name="Alice A. Analyst")
        store.add_user("bob", roles=["reviewer", "qa"], printed_name="Bob B. Reviewer",
                       key=alice)
        store.register_key(work / "keys" / "bob.pub", user="bob", key=alice)


def listing(work: Path) -> list[dict]:
    out = gcms("report", "list", "--case", "C-1", "--store", work / "S", "--json")
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_store_with_text_edited_around_the_triggers_gives_no_report(work):
    """Triggers dropped, every "Caffeine" of every text column made "Cocaine": refused."""
    tampered = work / "TAMPERED"
    shutil.copytree(work / "S", tampered)
    con = sqlite3.connect(tampered / "gcms.sqlite")
    for (name,) in con.execute("select name from sqlite_master where type='trigger'"):
        con.execute(f"drop trigger {name}")
    changed = 0
    tables = [t for (t,) in con.execute("select name from sqlite_master where type='table'")]
    for table in tables:
        for column in [row[1] for row in con.execute(f"pragma table_info({table})")]:
            changed += con.execute(
                f"update {table} set {column} = replace({column}, 'Caffeine', 'Cocaine') "
                f"where typeof({column}) = 'text' and {column} like '%Caffeine%'").rowcount
    con.commit()
    con.close()
    assert changed > 0
    out = gcms("report", "make", "--store", tampered, "--exhibit", "E1", "-o",
               work / "t.pdf")
    assert out.exit_code == 1, out.output
    assert not (work / "t.pdf").exists() and not (work / "t.pdf.tmp").exists()
    assert "does not verify, so no report is made" in out.output
    assert "content was altered after it was written" in out.output
    # the untouched store reports Caffeine, and the report is recorded
    out = gcms("report", "make", "--store", work / "S", "--exhibit", "E1", "-o",
               work / "r.pdf")
    assert out.exit_code == 0, out.output
    assert "Caffeine" in out.output and "Cocaine" not in out.output


@pytest.mark.parametrize("table", ["results", "audit_log"])
def test_one_edited_row_gives_no_report(work, table):
    """One result row alone (the queryable copy), or one audit entry alone, edited."""
    con = sqlite3.connect(work / "S" / "gcms.sqlite")
    for (name,) in con.execute("select name from sqlite_master where type='trigger'"):
        con.execute(f"drop trigger {name}")
    column = "summary" if table == "results" else "content"
    key = "result_id" if table == "results" else "seq"
    (row,) = con.execute(f"select {key} from {table} where {column} like '%Caffeine%' "
                         "limit 1").fetchall()
    con.execute(f"update {table} set {column} = replace({column}, 'Caffeine', 'Cocaine') "
                f"where {key} = ?", row)
    con.commit()
    con.close()
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", work / "r.pdf")
    assert out.exit_code == 1 and not (work / "r.pdf").exists()
    named = ("column summary of table results" if table == "results"
             else f"entry #{row[0]}: content was altered")
    assert named in out.output, out.output


def test_changed_evidence_bytes_give_no_report(work, recorded):
    issued = work / "issued.pdf"
    assert gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", issued,
                "--format", "pdf").exit_code == 0
    run = recorded / "05-exhibit-E1.cdf"  # the file the store attached
    original = run.read_bytes()
    data = bytearray(original)
    data[len(data) // 2] ^= 0x01
    run.write_bytes(bytes(data))
    try:
        out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", work / "r.pdf",
                   "--supersedes", "x", "--reason", "y")
        check = gcms("report", "verify", issued, "--store", work / "S")
        # --no-rehash checks the chain, records and signatures alone
        unhashed = gcms("report", "--store", work / "S", "--exhibit", "E1", "--no-rehash",
                        "--draft", "-o", work / "d.pdf")
    finally:
        run.write_bytes(original)
    assert out.exit_code == 1 and not (work / "r.pdf").exists()
    assert "05-exhibit-E1.cdf" in out.output
    # the issued report's evidence re-hashed by verify (the default): the change is named
    assert check.exit_code == 1
    assert any(line.startswith("  FAIL  evidence E1-01") and "now hashes to" in line
               for line in check.output.splitlines()), check.output
    assert unhashed.exit_code == 0 and "DRAFT" in unhashed.output, unhashed.output


def test_issuing_is_recorded_and_an_amendment_supersedes(work):
    pdf = work / "r.pdf"
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", pdf)
    assert out.exit_code == 0, out.output
    (first,) = listing(work)
    assert first["status"] == "issued" and first["file_sha256"] == sha256(pdf)
    assert first["analysis_id"] == "A1" and first["languages"] == "en"
    with CaseStore(work / "S", actor="alice", create=False) as store:
        entry = [e for e in store.log(case_id="C-1") if e.action == "report.issue"][-1]
        assert entry.after["file_sha256"] == sha256(pdf)
        assert entry.after["chain_head_seq"] == entry.seq - 1
        assert store.verify(case_id="C-1").ok
    # a second report of the same exhibit is an amendment, or nothing
    again = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", work / "x.pdf")
    assert again.exit_code == 2 and "already has issued report" in again.output
    assert not (work / "x.pdf").exists()
    amended = work / "amended.pdf"
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", amended,
               "--supersedes", first["report_id"], "--reason", "seal number corrected")
    assert out.exit_code == 0, out.output
    old, new = listing(work)
    assert (old["status"], old["superseded_by"]) == ("superseded", new["report_id"])
    assert (new["status"], new["supersedes"]) == ("issued", first["report_id"])
    text = " ".join(pdftotext(amended).split())
    assert f"supersedes report {first['report_id']}: seal number corrected" in text
    listed = gcms("report", "list", "--case", "C-1", "--store", work / "S").output
    assert "SUPERSEDED" in listed and f"superseded by {new['report_id']}" in listed
    # the superseded PDF no longer stands
    out = gcms("report", "verify", pdf, "--store", work / "S")
    assert out.exit_code == 1 and "superseded by report" in out.output


def test_a_results_file_only_as_recorded_or_as_a_draft(work):
    results = work / "out" / "results.json"
    out = gcms("report", results, "--store", work / "S", "--exhibit", "E1", "-o",
               work / "r.pdf")
    assert out.exit_code == 0, out.output
    (made,) = listing(work)
    assert made["source"] == "results file" and made["results_sha256"] == sha256(results)
    assert made["status"] == "issued"
    edited = work / "edited.json"
    edited.write_text(results.read_text().replace("Caffeine", "Cocaine"), encoding="utf-8")
    out = gcms("report", edited, "--store", work / "S", "--exhibit", "E1", "-o",
               work / "e.pdf")
    assert out.exit_code == 1 and not (work / "e.pdf").exists()
    assert sha256(edited) in out.output and "--draft" in out.output
    # asked for as a draft, or given without any store to check it against: a DRAFT,
    # watermarked on every page, never an issued report
    for extra in (("--store", work / "S", "--draft"), ()):
        out = gcms("report", edited, *extra, "--exhibit", "E1", "-o", work / "e.pdf")
        assert out.exit_code == 0 and "DRAFT" in out.output
        pages = page_count(work / "e.pdf")
        assert all("DRAFT" in pdftotext(work / "e.pdf", page=p) for p in range(1, pages + 1))
        (work / "e.pdf").unlink()
    assert "not checked against a case store" in out.output
    assert [r["status"] for r in listing(work)] == ["issued", "draft"]
    assert "DRAFT" not in pdftotext(work / "r.pdf")


def test_several_analyses_need_one_chosen(work):
    with CaseStore(work / "S", actor="alice", create=False) as store:
        runs = store.runs("C-1")
        again = store.record_analysis("C-1", run_ids=[r.run_id for r in runs],
                                      parameters={"criteria": "stricter, re-analysis"})
        store.record_results("C-1", [dict(r.data) for r in store.results("C-1")],
                             analysis_id=again.analysis_id, unattached=True)
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", work / "r.pdf")
    assert out.exit_code == 2 and not (work / "r.pdf").exists()
    assert "has 2 analyses: A1 (" in out.output and "A2 (" in out.output
    assert "--analysis" in out.output
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "--analysis", "A1",
               "-o", work / "r.pdf")
    assert out.exit_code == 0, out.output
    assert listing(work)[0]["analysis_id"] == "A1"


def test_policy_keeps_a_report_draft_until_its_signatures_are_there(work):
    lab = work / "lab.toml"
    lab.write_text('[laboratory]\nname = "Test Lab"\n\n[policy]\n'
                   'require = ["authored", "reviewed"]\n', encoding="utf-8")
    enrol(work)
    draft = work / "draft.pdf"
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "--lab", lab, "-o", draft)
    assert out.exit_code == 0, out.output
    assert "DRAFT (policy needs: authored, reviewed)" in out.output
    (recorded,) = listing(work)
    assert recorded["status"] == "draft" and recorded["unmet"] == ["authored", "reviewed"]
    assert all("DRAFT" in pdftotext(draft, page=p) for p in range(1, page_count(draft) + 1))
    out = gcms("report", "verify", draft, "--store", work / "S")
    assert out.exit_code == 1 and "recorded as a DRAFT (the lab policy still needs: " \
        "authored, reviewed): it was not issued" in out.output
    # the author signs the result, the reviewer reviews it: the report is issued
    with CaseStore(work / "S", actor="alice", create=False) as store:
        result = next(r for r in store.results("C-1", "E1"))
        store.sign_result("C-1", result.result_id, _key(work, "alice"), meaning="authored")
    with CaseStore(work / "S", actor="bob", create=False) as store:
        store.sign_result("C-1", result.result_id, _key(work, "bob"), meaning="reviewed")
    issued = work / "issued.pdf"
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "--lab", lab, "-o",
               issued, "--sign-key", work / "keys" / "alice.key",
               passphrase=PASSPHRASES["alice"])
    assert out.exit_code == 0 and "DRAFT" not in out.output, out.output
    statuses = {r["report_id"]: r for r in listing(work)}
    (made,) = [r for r in statuses.values() if r["status"] == "issued"]
    assert made["signers"][0]["user"] == "alice"
    assert made["signers"][0]["printed_name"] == "Alice A. Analyst"
    assert "DRAFT" not in pdftotext(issued)
    out = gcms("report", "verify", issued, "--store", work / "S", "--rehash")
    assert out.exit_code == 0 and ": verified" in out.output, out.output
    # the audit log names the issued report with its PDF's SHA-256 and its analysis
    log = gcms("custody", "log", "--case", "C-1", "--store", work / "S")
    line = next(x for x in log.output.splitlines() if "report.issue" in x)
    assert f"pdf sha256 {sha256(issued)}" in line and f"analysis {made['analysis_id']}" \
        in line and line.rstrip().endswith("issued")


def test_signer_rules_when_signing_a_report(work):
    enrol(work)
    pdf = work / "r.pdf"
    alice_key = work / "keys" / "alice.key"
    # a key signs only as its user's printed name
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", pdf, "--sign-key",
               alice_key, "--signer", "Bob B. Reviewer", passphrase=PASSPHRASES["alice"])
    assert out.exit_code == 2 and "a key signs only as the user it is registered to" \
        in out.output and not pdf.exists()
    # alice recorded the results: her key cannot sign the report as reviewed
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", pdf, "--sign-key",
               alice_key, "--meaning", "reviewed", passphrase=PASSPHRASES["alice"])
    assert out.exit_code == 2 and "the author of a result cannot review or approve it" \
        in out.output
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", pdf, "--sign-key",
               alice_key, passphrase=PASSPHRASES["alice"])
    assert out.exit_code == 0, out.output
    # made around the CLI: the author's key signing "reviewed" fails against the store
    forged = work / "forged.pdf"
    forged.write_bytes(sign_pdf(pdf.read_bytes(), key=_key(work, "alice"),
                                printed_name="Alice A. Analyst", meaning="reviewed"))
    out = gcms("report", "verify", forged, "--store", work / "S")
    assert out.exit_code == 1
    assert any(line.startswith("  FAIL  ") and "cannot review or approve" in line
               for line in out.output.splitlines()), out.output
    # bob reviews through the CLI: the signature is recorded with the new file hash
    out = gcms("report", "sign", pdf, "--store", work / "S", "--sign-key",
               work / "keys" / "bob.key", "--meaning", "reviewed", actor="bob",
               passphrase=PASSPHRASES["bob"])
    assert out.exit_code == 0, out.output
    (made,) = listing(work)
    assert made["file_sha256"] == sha256(pdf)
    assert [(s["user"], s["meaning"]) for s in made["signers"]] == [
        ("alice", "authored"), ("bob", "reviewed")]
    out = gcms("report", "verify", pdf, "--store", work / "S")
    assert out.exit_code == 0, out.output


def test_verify_without_a_store_never_says_verified(work, tmp_path):
    """A key nobody registered, any printed name: intact, but identity NOT checked."""
    _, _, stranger = new_key_pair(tmp_path / "k", "mallory", "passphrase-mallory")
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", work / "r.pdf")
    assert out.exit_code == 0, out.output
    forged = work / "forged.pdf"
    forged.write_bytes(sign_pdf((work / "r.pdf").read_bytes(), key=stranger,
                                printed_name="Chief Examiner", meaning="approved"))
    out = gcms("report", "verify", forged)
    lines = out.output.splitlines()
    assert "NOT verified" in lines[0] and ": verified" not in out.output
    assert any(line.startswith("  NOT CHECKED  signer identity") for line in lines)
    assert any(line.startswith("  NOT CHECKED  case store chain") for line in lines)
    out = gcms("report", "verify", forged, "--store", work / "S")
    assert out.exit_code == 1
    assert any(line.startswith("  FAIL  ") and "not an analyst key registered" in line
               for line in out.output.splitlines())
    # a changed byte: the failed signature on its own FAIL line
    data = bytearray(forged.read_bytes())
    where = data.index(b"Chief Examiner")
    data[where] ^= 0x01
    forged.write_bytes(bytes(data))
    out = gcms("report", "verify", forged)
    assert out.exit_code == 1 and "FAILS" in out.output.splitlines()[0]
    assert any(line.startswith("  FAIL  signature") and "changed after signing" in line
               for line in out.output.splitlines())


def test_case_facts_corrected_as_a_new_version_reach_the_report(work):
    """The customer added after a batch opened the case: a new version, the old kept."""
    enrol(work)
    out = gcms("case", "correct", "C-1", "--agency", "Border Force", "--agency-ref",
               "BF/2024/117", "--reason", "submission form received", "--store", work / "S",
               "--key", work / "keys" / "alice.key", passphrase=PASSPHRASES["alice"])
    assert out.exit_code == 0 and "version 2" in out.output, out.output
    with CaseStore(work / "S", actor="alice", create=False) as store:
        (change,) = store.case_file("C-1")["corrections"]["case C-1"]
        assert change["before"]["submitting_agency"] is None
        assert change["after"]["submitting_agency"] == "Border Force"
        assert change["reason"] == "submission form received"
    pdf = work / "r.pdf"
    out = gcms("report", "--store", work / "S", "--exhibit", "E1", "-o", pdf)
    assert out.exit_code == 0, out.output
    assert "Border Force (BF/2024/117)" in " ".join(pdftotext(pdf, page=1).split())
    out = gcms("case", "correct", "C-1", "--reason", "nothing", "--store", work / "S",
               "--key", work / "keys" / "alice.key", passphrase=PASSPHRASES["alice"])
    assert out.exit_code == 2 and "nothing to correct" in out.output


def test_the_lab_policy_is_read_and_checked(tmp_path):
    from gcms.errors import ProfileError
    from gcms.report.lab import load_lab_profile

    lab = tmp_path / "lab.toml"
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    lab.write_text('[laboratory]\nname = "Lab"\n[policy]\nrequire = ["reviewed", '
                   '"authored", "reviewed"]\nca_certificate = "ca.pem"\n', encoding="utf-8")
    profile = load_lab_profile(lab)
    assert profile.requirements == ("reviewed", "authored")
    assert profile.ca_certificate == str((tmp_path / "ca.pem").resolve())
    for policy, message in (('require = ["signed"]', "policy.require signed is not one of"),
                            ('requires = ["reviewed"]',
                             "policy.requires: unknown key (did you mean 'require'"),
                            ('ca_certificate = "none.pem"', "does not exist")):
        lab.write_text(f'[laboratory]\nname = "Lab"\n[policy]\n{policy}\n', encoding="utf-8")
        with pytest.raises(ProfileError, match=message.replace("(", r"\(").replace(
                ")", r"\)").replace("[", r"\[").replace("]", r"\]")):
            load_lab_profile(lab)
    lab.write_text('[laboratory]\nname = "Lab"\n', encoding="utf-8")
    assert load_lab_profile(lab).requirements == ()
