"""Re-screening findings recorded in a store, listed for a reviewer and on the exhibit page.

A small archive batch (simulated runs, a library lacking MDMA) is recorded in a store,
then re-screened in-process against the library with MDMA appended: the reviewer's work
queue and the exhibit page list the new finding, with its library hash, date and who
ran it; nothing is shown without a session.
"""

from __future__ import annotations

import json

import pytest

from gcms.custody import CaseStore, load_signing_key, new_key_pair
from gcms.custody.credentials import set_password
from gcms.custody.store import init_store
from gcms.distributed import rescreen
from gcms.distributed.rescreen_review import rescreen_findings
from tests.distributed.archive_sim import NEW_SUBSTANCE, make_archive

from .conftest import NAMES, PASSPHRASES, PASSWORDS, Recorded
from .helpers import client, csrf, sign_in


@pytest.fixture(scope="module")
def rescreened(tmp_path_factory) -> tuple[Recorded, dict]:
    folder = tmp_path_factory.mktemp("review-rescreen")
    archive = make_archive(folder / "archive")
    document = json.loads((archive["archive"] / "batch-1-copy-0" / "results.json")
                          .read_text())
    for user in ("alice", "bob"):
        new_key_pair(folder / "keys", user, PASSPHRASES[user])
    alice = load_signing_key(folder / "keys" / "alice.key", PASSPHRASES["alice"])
    with init_store(folder / "S", admin="alice", roles=("admin", "analyst")) as store:
        store.register_key(alice, user="alice", printed_name=NAMES["alice"])
        store.add_user("bob", roles=["reviewer"], printed_name=NAMES["bob"], key=alice)
        store.register_key(folder / "keys" / "bob.pub", user="bob", key=alice)
        for user in ("alice", "bob"):
            set_password(store, user, PASSWORDS[user], key=alice)
        store.open_case("C-T", title="re-screening review")
        store.register_exhibits("C-T", {r["exhibit_id"]: "exhibit named in the sequence"
                                        for r in document["runs"] if r["exhibit_id"]},
                                reason="batch")
        analysis = store.record_analysis("C-T", run_ids=[], parameters={"batch": 1})
        store.record_results("C-T", document["runs"], analysis_id=analysis.analysis_id,
                             unattached=True)
        result = rescreen([], archive["updated"], out_dir=folder / "out", store=store,
                          engine="in-process")
    assert {r["sample_id"] for r in result.findings} == {"B1", "B3"}
    return Recorded(folder, folder / "S", "C-T", "EX-B1", NEW_SUBSTANCE, False), \
        result.summary


def test_the_store_lists_each_finding_with_its_library_date_and_screener(rescreened):
    recorded, summary = rescreened
    with CaseStore(recorded.store, create=False) as store:
        found = rescreen_findings(store)
        assert [(f.exhibit_id, f.substance) for f in found] == [
            ("EX-B1", NEW_SUBSTANCE), ("EX-B3", NEW_SUBSTANCE)]
        for f in found:
            assert f.library_sha256 == summary["library"]["sha256"]
            assert f.library_name == "updated.h5"
            assert f.screened_by == "alice" and f.screened_utc == found[0].screened_utc
            assert f.match_factor >= 800 and f.reverse_match_factor >= 800
            assert f.screened_result_id and not f.already_reported
        assert rescreen_findings(store, "C-T", "EX-B3") == [found[1]]
        assert rescreen_findings(store, "C-T", "EX-B2") == []


def test_a_result_corrected_to_name_the_substance_is_marked_already_reported(
        rescreened, tmp_path):
    import shutil

    from gcms.results._record import thaw

    recorded, _ = rescreened
    shutil.copytree(recorded.store, tmp_path / "S")
    with CaseStore(tmp_path / "S", actor="alice", create=False) as store:
        issued = next(f for f in rescreen_findings(store) if f.exhibit_id == "EX-B1")
        result = next(r for r in store.results("C-T") if r.result_id ==
                      issued.screened_result_id)
        data = thaw(result.data)
        data["findings"]["identified"].append({"substance": NEW_SUBSTANCE.lower()})
        store.correct_result("C-T", result.result_id, data, reason="reviewed spectrum",
                             key=recorded.key("alice"))
        marked = {f.exhibit_id: f.already_reported for f in rescreen_findings(store)}
    assert marked == {"EX-B1": True, "EX-B3": False}


def test_the_reviewers_queue_and_the_exhibit_page_list_the_finding(rescreened):
    recorded, summary = rescreened
    web = client(recorded)
    for path in ("/", "/case/C-T/exhibit/EX-B1"):  # no session: the sign-in page only
        answer = web.get(path)
        assert answer.status_code in (302, 303), path
        assert answer.headers["location"].startswith("/login")
        assert NEW_SUBSTANCE not in answer.text
    sign_in(web, "bob")
    queue = web.get("/")
    assert queue.status_code == 200
    section = queue.text[queue.text.index('id="queue-rescreening"'):]
    assert "Re-screening" in section and "confirm against a reference standard" in section
    assert section.count(f'<td class="substance">{NEW_SUBSTANCE}') == 2
    assert summary["library"]["sha256"][:16] in section
    assert "/case/C-T/exhibit/EX-B1?result=" in section and ">alice<" in section
    page = web.get("/case/C-T/exhibit/EX-B1")
    assert page.status_code == 200
    part = page.text[page.text.index('id="rescreening"'):]
    part = part[:part.index("</section>")]
    assert part.count(f'<td class="substance">{NEW_SUBSTANCE}') == 1
    assert "updated.h5" in part
    assert 'id="rescreening"' not in web.get("/case/C-T/exhibit/EX-B2").text
    web.post("/language", data={"csrf_token": csrf(web), "language": "ar", "next": "/"})
    arabic = web.get("/")
    assert "إعادة الفحص" in arabic.text and "أجرى الفحص" in arabic.text

