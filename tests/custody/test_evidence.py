"""Hashing evidence files and .D folders, and naming what changed."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from gcms.custody.evidence import compare_evidence, hash_evidence
from gcms.errors import CustodyError


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "S01.D"
    (root / "AcqData").mkdir(parents=True)
    (root / "DATA.MS").write_bytes(b"\x01\x02" * 1000)
    (root / "AcqData" / "MSScan.bin").write_bytes(os.urandom(3000))
    (root / "acqmeth.txt").write_text("oven 60 C", encoding="utf-8")
    (root / "Ä.txt").write_text("non-ascii name", encoding="utf-8")
    return root


def test_a_file_digest_is_the_sha256_of_its_bytes(tmp_path):
    path = tmp_path / "run.cdf"
    path.write_bytes(os.urandom(5 << 20))  # several read chunks
    digest = hash_evidence(path)
    assert digest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest.size_bytes == 5 << 20 and not digest.is_directory
    assert digest.files[0].path == "run.cdf"


def test_a_folder_digest_follows_the_documented_rule(folder):
    digest = hash_evidence(folder)
    # independent computation: sorted by UTF-8 bytes of the relative POSIX path
    names = sorted((p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
                   key=lambda n: n.encode("utf-8"))
    listing = [{"path": n, "sha256": hashlib.sha256((folder / n).read_bytes()).hexdigest(),
                "size_bytes": (folder / n).stat().st_size} for n in names]
    text = json.dumps(listing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert digest.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert [f.path for f in digest.files] == names
    assert names[0] == "AcqData/MSScan.bin" and names[-1] == "Ä.txt"
    assert digest.size_bytes == sum(f["size_bytes"] for f in listing)


def test_hashing_leaves_read_only_evidence_untouched(folder):
    target = folder / "DATA.MS"
    target.chmod(0o444)
    before = target.stat()
    hash_evidence(folder)
    after = target.stat()
    assert (before.st_mtime_ns, before.st_size, before.st_mode) == (
        after.st_mtime_ns, after.st_size, after.st_mode)


def test_links_empty_folders_and_missing_paths_are_refused(folder, tmp_path):
    with pytest.raises(CustodyError, match="no such file"):
        hash_evidence(tmp_path / "absent.cdf")
    (tmp_path / "empty.D").mkdir()
    with pytest.raises(CustodyError, match="holds no files"):
        hash_evidence(tmp_path / "empty.D")
    (folder / "link.bin").symlink_to(folder / "DATA.MS")
    with pytest.raises(CustodyError, match="link.bin: a link inside an evidence folder"):
        hash_evidence(folder)


def test_compare_names_each_changed_added_and_missing_file(folder):
    recorded = hash_evidence(folder)
    assert compare_evidence(recorded) == []
    data = folder / "DATA.MS"
    data.write_bytes(data.read_bytes()[:-1] + b"\xff")  # same size, one byte replaced
    (folder / "acqmeth.txt").unlink()
    (folder / "extra.log").write_text("x")
    problems = dict(compare_evidence(recorded))
    assert "differs" in problems[str(data)]
    assert problems[str(folder / "acqmeth.txt")] == "is missing"
    assert "was added" in problems[str(folder / "extra.log")]
    assert len(problems) == 3


def test_compare_a_single_file(tmp_path):
    path = tmp_path / "run.mzML"
    path.write_bytes(b"<mzML/>")
    recorded = hash_evidence(path)
    with open(path, "ab") as handle:
        handle.write(b"\n")
    [(name, problem)] = compare_evidence(recorded)
    assert name == str(path) and "(8 bytes) differs" in problem and "(7 bytes)" in problem
    path.unlink()
    assert compare_evidence(recorded) == [(str(path), "is missing")]
