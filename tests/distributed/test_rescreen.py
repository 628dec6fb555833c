"""Re-screening of an archive against a library that gained an entry after the batches."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from archive_sim import NEW_SUBSTANCE, make_archive
from click.testing import CliRunner
from local_cluster import WAIT_S, finish_within, local_cluster

from gcms.distributed import RescreenSettings, rescreen
from gcms.errors import GcmsError


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return make_archive(tmp_path_factory.mktemp("rescreen"), copies=3)


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def essence(result) -> list[tuple]:
    """The findings without the time and the person: what must match across engines."""
    return [(r["document"], r["sample_id"], r["position"], r["component"], r["substance"],
             r["match_factor"], r["reverse_match_factor"], r["delta_ri"])
            for r in result.findings]


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory):
    """The single-process run every engine must agree with."""
    out = tmp_path_factory.mktemp("reference")
    return rescreen([archive["archive"]], archive["updated"], out_dir=out,
                    engine="in-process", actor="analyst-a")


def test_every_run_with_the_new_substance_is_found_and_none_other(archive, reference):
    documents = sorted(archive["archive"].rglob("results.json"))
    assert len(reference.documents) == len(documents) == 6
    assert not reference.failed
    assert {r["sample_id"] for r in reference.findings} == archive["containing"]
    assert {r["substance"] for r in reference.findings} == {NEW_SUBSTANCE}
    # each containing run once per copy of its batch: nothing listed twice
    assert len(reference.findings) == len(archive["containing"]) * 3
    assert len(set(essence(reference))) == len(reference.findings)
    for row in reference.findings:
        assert row["match_factor"] >= 800 and row["reverse_match_factor"] >= 800
        assert abs(row["delta_ri"]) <= 20.0 and row["retention"] == "index within tolerance"
    # 3 sample runs per batch; ladders are not case material
    assert reference.runs_screened == 6 * 3
    summary = json.loads((reference.out_dir / "rescreen.json").read_text())
    assert summary["library"]["sha256"] == reference.summary["library"]["sha256"]
    assert summary["screened_by"] == "analyst-a" and summary["screened_utc"]
    cases = {c["case_id"]: c for c in summary["cases"]}
    exhibits = {e["exhibit_id"] for e in cases["C-T"]["exhibits"]}
    assert exhibits == {f"EX-{s}" for s in archive["containing"]}
    csv_lines = (reference.out_dir / "findings.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(reference.findings)


def test_original_library_finds_nothing_new(archive, tmp_path):
    result = rescreen([archive["archive"]], archive["original"], out_dir=tmp_path,
                      engine="in-process", actor="analyst-a")
    assert result.findings == [] and result.runs_screened == 18


def test_local_cluster_gives_the_single_process_findings_and_resumes(archive, reference,
                                                                    tmp_path):
    pytest.importorskip("distributed")  # the 'distributed' extra
    before = digests(archive["archive"])
    seen = []
    result = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path,
                      workers=2, actor="analyst-a",
                      progress=lambda done, total, label: seen.append((done, total)))
    assert essence(result) == essence(reference)
    assert seen[-1] == (6, 6) and [d for d, _ in seen] == list(range(1, 7))
    assert digests(archive["archive"]) == before  # issued results untouched
    # resumed: everything done is skipped, nothing is searched again
    again = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path,
                     engine="in-process", actor="analyst-b")
    assert again.skipped == 6 and essence(again) == essence(reference)
    assert {d["screened_by"] for d in again.documents} == {"analyst-a"}
    # a document rewritten since is screened again, the others are not
    changed = sorted(archive["archive"].rglob("results.json"))[0]
    os.utime(changed, ns=(time.time_ns(), time.time_ns()))
    third = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path,
                     engine="in-process", actor="analyst-b")
    assert third.skipped == 5 and essence(third) == essence(reference)
    assert sum(d["screened_by"] == "analyst-b" for d in third.documents) == 1


def test_target_lists_restrict_the_findings_and_give_the_controlled_status(
        archive, reference, tmp_path):
    own = tmp_path / "lab-targets.toml"
    own.write_text('[list]\nname = "lab"\n\n[[substance]]\nname = "Cocaine"\n',
                   encoding="utf-8")
    none = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path / "a",
                    engine="in-process", actor="a",
                    settings=RescreenSettings(target_lists=(str(own),)))
    assert none.findings == []
    assert none.summary["target_lists"]["files"][0]["name"] == "lab"
    shipped = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path / "b",
                       engine="in-process", actor="a",
                       settings=RescreenSettings(target_lists=("un-conventions",)))
    assert essence(shipped) == essence(reference)
    assert all("1971" in row["controlled"] for row in shipped.findings)
    other = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path / "c",
                     engine="in-process", actor="a",
                     settings=RescreenSettings(targets=("Cocaine",)))
    assert other.findings == []
    synonym = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path / "d",
                       engine="in-process", actor="a",
                       settings=RescreenSettings(targets=("midomafetamine",)))
    assert essence(synonym) == essence(reference)


def test_a_bad_document_is_named_and_the_others_are_screened(archive, reference,
                                                             tmp_path):
    bad = tmp_path / "archive" / "broken"
    bad.mkdir(parents=True)
    (bad / "results.json").write_text('{"format": "something else"}')
    result = rescreen([archive["archive"], bad], archive["updated"],
                      out_dir=tmp_path / "out", engine="in-process", actor="a")
    assert len(result.failed) == 1
    assert str(bad / "results.json") in result.failed[0]["document"]
    assert "not a gcms batch results document" in result.failed[0]["problem"]
    assert essence(result) == essence(reference)
    with pytest.raises(GcmsError, match="no such results file"):
        rescreen([tmp_path / "missing"], archive["updated"], out_dir=tmp_path / "o",
                 engine="in-process", actor="a")


def test_from_raw_recomputes_the_same_components_and_refuses_a_changed_file(
        archive, reference, tmp_path):
    raw = RescreenSettings(from_raw=True)
    result = rescreen([archive["archive"]], archive["updated"], out_dir=tmp_path / "a",
                      engine="in-process", actor="a", settings=raw)
    # deconvolution is deterministic: the same components, so the same findings
    assert essence(result) == essence(reference)
    assert {d["source"]["components"] for d in result.documents} == {
        "recomputed from the raw runs"}
    # a raw run altered since the batch is named and not screened
    copy = tmp_path / "archive" / "batch-1"
    shutil.copytree(archive["archive"] / "batch-1-copy-0", copy)
    runs = tmp_path / "runs"
    shutil.copytree(archive["runs"][1], runs)
    document = copy / "results.json"
    text = document.read_text().replace(str(archive["runs"][1]), str(runs))
    document.write_text(text)
    b1 = runs / "B1.cdf"
    b1.write_bytes(b1.read_bytes() + b"\0")
    changed = rescreen([copy], archive["updated"], out_dir=tmp_path / "b",
                       engine="in-process", actor="a", settings=raw)
    skipped = changed.documents[0]["not_screened"]
    assert [s["file"] for s in skipped] == ["B1.cdf"]
    assert "the raw file changed" in skipped[0]["reason"]
    assert {r["sample_id"] for r in changed.findings} == {"B3"}


def test_case_store_cases_are_screened_and_get_an_audited_result(archive, tmp_path):
    from gcms.custody import CaseStore

    document = json.loads(sorted(archive["archive"].glob("batch-1-*/results.json"))[0]
                          .read_text())
    with CaseStore(tmp_path / "store", actor="analyst1") as store:
        store.open_case("C-T", title="re-screening test")
        store.register_exhibits("C-T", {r["exhibit_id"]: "exhibit named in the sequence"
                                        for r in document["runs"] if r["exhibit_id"]},
                                reason="batch")
        analysis = store.record_analysis("C-T", run_ids=[], parameters={"batch": 1})
        issued = store.record_results("C-T", document["runs"],
                                      analysis_id=analysis.analysis_id, unattached=True)
        issued_data = {r.result_id: r.data for r in issued}
        result = rescreen([], archive["updated"], out_dir=tmp_path / "out", store=store,
                          engine="in-process")
        assert {r["sample_id"] for r in result.findings} == {"B1", "B3"}
        entries = result.summary["store_entries"]
        assert len(entries) == 1 and entries[0]["case_id"] == "C-T"
        results = {r.result_id: r for r in store.results("C-T")}
        for result_id, data in issued_data.items():  # issued results unchanged
            assert results[result_id].data == data and results[result_id].version == 1
        new = results[entries[0]["result_id"]]
        assert new.data["kind"] == "re-screening"
        assert new.data["library_sha256"] == result.summary["library"]["sha256"]
        assert [r["sample_id"] for r in new.data["runs"]] == ["B1", "B3"]
        assert new.data["screened_by"] == "analyst1"
        assert any(e.action == "result.record" and e.object_id == new.result_id
                   for e in store.log(case_id="C-T"))
        # a second run is resumed: no second entry in the store
        count = len(store.log(case_id="C-T"))
        again = rescreen([], archive["updated"], out_dir=tmp_path / "out", store=store,
                         engine="in-process")
        assert again.skipped == 1 and len(store.log(case_id="C-T")) == count


def test_cli_lists_findings_per_case_and_refuses_bad_input(archive, tmp_path):
    from gcms_cli.main import cli

    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(cli, ["rescreen", str(archive["archive"]), "--library",
                                 str(archive["updated"]), "--out", str(out),
                                 "--in-process", "--quiet"])
    assert result.exit_code == 0, result.output
    for sample in archive["containing"]:
        assert f"sample {sample} ({sample}.cdf): {NEW_SUBSTANCE}" in result.output
    assert "runs screened" in result.output and "runs/min" in result.output
    assert (out / "rescreen.json").is_file()
    listed = runner.invoke(cli, ["rescreen", str(archive["archive"]), "--library",
                                 str(archive["updated"]), "--out", str(out),
                                 "--in-process", "--json", "--target", "cocaine"])
    assert listed.exit_code == 0 and json.loads(listed.output)["n_findings"] == 0
    missing = runner.invoke(cli, ["rescreen", str(tmp_path / "nothing"), "--library",
                                  str(archive["updated"]), "--out", str(out)])
    assert missing.exit_code == 2 and "no such results file" in missing.output
    broken = tmp_path / "broken" / "results.json"
    broken.parent.mkdir()
    broken.write_text("{not json")
    partly = runner.invoke(cli, ["rescreen", str(archive["archive"]), str(broken.parent),
                                 "--library", str(archive["updated"]), "--out", str(out),
                                 "--in-process", "--quiet"])
    assert partly.exit_code == 1
    assert f"gcms: error: {broken}: not a JSON document" in partly.output
    assert "Traceback" not in missing.output


# ------------------------------------------------------------------- a real cluster
def test_scheduler_and_two_workers_a_killed_worker_loses_and_duplicates_nothing(
        archive, tmp_path):
    distributed = pytest.importorskip("distributed")
    # 30 documents, so that the worker killed at the first result is still busy
    big = tmp_path / "archive"
    for k in range(5):
        shutil.copytree(archive["archive"], big / f"shelf-{k}")
    reference = rescreen([big], archive["updated"], out_dir=tmp_path / "reference",
                         engine="in-process", actor="analyst-a")
    assert len(reference.findings) == 5 * 3 * len(archive["containing"])
    with local_cluster(tmp_path) as (address, workers):
        killed = []

        def kill_first_worker(done: int, total: int, label: str) -> None:
            if not killed:
                workers[0].kill()
                workers[0].wait(timeout=WAIT_S)
                killed.append(done)

        result = finish_within(lambda: rescreen(
            [big], archive["updated"], out_dir=tmp_path / "out",
            scheduler=address, actor="analyst-a", progress=kill_first_worker),
            "re-screening on the cluster")
        assert killed == [1] and workers[0].returncode is not None
        with distributed.Client(address, timeout=WAIT_S) as client:
            assert len(client.scheduler_info()["workers"]) == 1
        assert essence(result) == essence(reference)
        files = sorted((tmp_path / "out" / "documents").glob("*.json"))
        assert len(files) == len(result.documents) == 30
        assert len({json.loads(f.read_text())["key"] for f in files}) == 30
