"""Fixtures of the review workstation tests: a case store with users, keys and passwords.

A small batch of the real LRCFS etizolam sequence (blank, the 250 ug/mL standard, case
exhibit FL21-1010) goes through ``gcms batch --store S --case C-1`` once per session;
where the shared data is absent, the bundled demo sequence up to exhibit E1 instead.
alice ran the batch (first admin, analyst: the author of the results); bob is a
reviewer, carol QA. Each has a key (``keys/USER.key``) and a sign-in password.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms.custody import CaseStore, load_signing_key, new_key_pair
from gcms.demo import demo_library_path
from tests.conftest import SHARED_DATA, etizolam_msp

PASSWORDS = {"alice": "alice sign-in words", "bob": "bob sign-in words",
             "carol": "carol sign-in words"}
PASSPHRASES = {"alice": "passphrase-alice", "bob": "passphrase-bob",
               "carol": "passphrase-carol"}
ROLES = {"bob": ["reviewer"], "carol": ["qa"]}
NAMES = {"alice": "Alice A. Analyst", "bob": "Bob B. Reviewer", "carol": "Carol C. Quality"}


@dataclass(frozen=True)
class Recorded:
    """A store made by a batch: where it is, the case, the exhibit, the keys."""

    folder: Path
    store: Path | str  # a folder, or a postgresql:// URL
    case_id: str
    exhibit_id: str
    substance: str
    real: bool

    def key_file(self, user: str) -> Path:
        return self.folder / "keys" / f"{user}.key"

    def key(self, user: str):
        return load_signing_key(self.key_file(user), PASSPHRASES[user])


def _lrcfs_sequence(folder: Path) -> tuple[Path, Path] | None:
    raw = SHARED_DATA / "lrcfs-etizolam" / "raw"
    riken = SHARED_DATA / "massbank-ei" / "RIKEN"
    if not (raw / "220223014.D").exists() or not riken.exists():
        return None
    from gcms.library import build_library

    library = folder / "lib.h5"
    others = sorted(riken.rglob("*.txt"))[:20]
    build_library([etizolam_msp(folder / "etizolam.msp"), *others], library)
    rows = [["file", "type", "sample_id", "case_id", "exhibit_id", "reference_substance"],
            [raw / "220223001.D", "blank", "LR-001", "C-1", "", ""],
            [raw / "220223008.D", "standard", "LR-008", "C-1", "", "Etizolam"],
            [raw / "220223014.D", "sample", "LR-014", "C-1", "FL21-1010", ""]]
    sequence = folder / "seq.csv"
    with open(sequence, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return sequence, library


def _demo_sequence(folder: Path) -> Path:
    from tests.report.conftest import demo_subsequence

    sequence = demo_subsequence(folder)
    sequence.write_text(sequence.read_text().replace("DEMO-2024-017", "C-1"), encoding="utf-8")
    return sequence


def make_recorded(folder: Path, location: str | None = None,
                  reviewers: tuple[str, ...] = ()) -> Recorded:
    """Batch into a store, then enrol bob and carol, register keys, set passwords.

    ``location``: the store (default ``folder/S``; a ``postgresql://`` URL for a shared
    one); ``reviewers``: more reviewers to enrol, each with the passphrase and password
    ``"<user> words here"``.
    """
    from gcms.custody.credentials import set_password

    lrcfs = _lrcfs_sequence(folder)
    args = ["--library", str(lrcfs[1] if lrcfs else demo_library_path())]
    sequence = lrcfs[0] if lrcfs else _demo_sequence(folder)
    store_location = location or str(folder / "S")
    out = CliRunner().invoke(cli, ["batch", str(sequence), *args, "--out", str(folder / "out"),
                                   "--workers", "1", "--quiet", "--store", store_location,
                                   "--case", "C-1", "--analyst", "alice"],
                             env={"GCMS_STORE": None, "GCMS_ACTOR": None})
    assert out.exit_code == 0, out.output
    for user in PASSPHRASES:
        new_key_pair(folder / "keys", user, PASSPHRASES[user])
    for user in reviewers:
        new_key_pair(folder / "keys", user, f"{user} words here")
    recorded = Recorded(folder, Path(store_location) if location is None else store_location,
                        "C-1", "FL21-1010" if lrcfs else "E1",
                        "Etizolam" if lrcfs else "Caffeine", lrcfs is not None)
    alice = recorded.key("alice")
    with CaseStore(recorded.store, actor="alice", create=False) as store:
        store.register_key(alice, user="alice", printed_name=NAMES["alice"])
        for user, roles in ROLES.items():
            store.add_user(user, roles=roles, printed_name=NAMES[user], key=alice)
            store.register_key(folder / "keys" / f"{user}.pub", user=user, key=alice)
        for user in PASSWORDS:
            set_password(store, user, PASSWORDS[user], key=alice)
        for user in reviewers:
            store.add_user(user, roles=["reviewer"], printed_name=f"Reviewer {user}",
                           key=alice)
            store.register_key(folder / "keys" / f"{user}.pub", user=user, key=alice)
            set_password(store, user, f"{user} words here", key=alice)
    return recorded


@pytest.fixture(scope="session")
def recorded_master(tmp_path_factory) -> Recorded:
    return make_recorded(tmp_path_factory.mktemp("review"))


@pytest.fixture
def recorded(recorded_master, tmp_path) -> Recorded:
    """A copy of the recorded store for one test (the runs stay where the batch read them)."""
    folder = tmp_path / "w"
    shutil.copytree(recorded_master.folder, folder)
    return Recorded(folder, folder / "S", recorded_master.case_id, recorded_master.exhibit_id,
                    recorded_master.substance, recorded_master.real)


def _qa_result(kind, when, criteria, ok=True):
    from gcms.custody.canonical import sha256_hex
    from gcms.qa.records import Criterion, Limit, QAResult

    return QAResult(kind=kind, instrument_id="GCMS-1", criteria_set=kind,
                    criteria=tuple(Criterion(key=k, name=k, value=v, unit=u,
                                             limit=Limit(low=lo, high=hi), passed=ok)
                                   for k, v, u, lo, hi in criteria),
                    performed_at=when, source={"path": f"{kind}-{when:%d%H}.cdf",
                                               "sha256": sha256_hex(str(when))})


def record_qa_history(recorded: Recorded) -> str:
    """Instrument GCMS-1's QA history (a tune that fails, a check standard out at 3 SD,
    ladder drift), recorded in the chain as a batch's QA section; returns the instrument."""
    from datetime import datetime, timedelta, timezone

    from gcms.custody.qa import record_qa
    from gcms.qa.gate import _result_summary
    from gcms.qa.history import HISTORY_FILE, open_history

    start = datetime(2025, 3, 1, 8, tzinfo=timezone.utc)
    folder = recorded.folder / "qa"
    recoveries = [100.0 + (-1.0) ** i * (i % 3) for i in range(20)] + [112.0]
    with open_history(folder) as history:
        for i, value in enumerate(recoveries):
            history.record(_qa_result("check", start + timedelta(hours=i),
                                      [("recovery_etizolam", value, "%", 80.0, 120.0)]))
        for i in range(3):
            history.record(_qa_result("ladder", start + timedelta(hours=i),
                                      [("rt_shift_c20", 0.5 * i, "s", -3.0, 3.0)]))
        good = _qa_result("tune", start, [("abundance_69", 50.0, "%", 30.0, 60.0)])
        bad = _qa_result("tune", start + timedelta(days=1),
                         [("abundance_69", 5.0, "%", 30.0, 60.0)], ok=False)
        good_id, bad_id = history.record(good), history.record(bad)
    qa = {"status": "failing", "reason": "tune failed", "instrument": {"id": "GCMS-1"},
          "history": str(folder / HISTORY_FILE),
          "checks": [{"kind": "tune", "status": "failing", "source": "history",
                      "results": [_result_summary(good, history_id=good_id),
                                  _result_summary(bad, history_id=bad_id)]}]}
    with CaseStore(recorded.store, actor="alice", create=False) as store:
        record_qa(store, {"qa": qa})
    return "GCMS-1"


@pytest.fixture(scope="session")
def quant_recorded(tmp_path_factory) -> Recorded:
    """The real etizolam sequence with its calibrators through ``gcms batch --method``
    into a store; alice (the analyst) has a key and a password. Skips without the data."""
    from gcms.custody.credentials import set_password
    from tests.conftest import etizolam_quant_setup

    folder = tmp_path_factory.mktemp("review-quant")
    sequence, library = etizolam_quant_setup(folder, other_spectra=5, negative_case=False)
    method = Path(__file__).resolve().parents[2] / "instruments" / "methods" / \
        "lrcfs-etizolam-is.toml"
    out = CliRunner().invoke(cli, ["batch", str(sequence), "--library", str(library),
                                   "--method", str(method), "--out", str(folder / "out"),
                                   "--workers", "1", "--quiet", "--store", str(folder / "S"),
                                   "--case", "C-1", "--analyst", "alice"],
                             env={"GCMS_STORE": None, "GCMS_ACTOR": None})
    assert out.exit_code == 0, out.output
    new_key_pair(folder / "keys", "alice", PASSPHRASES["alice"])
    recorded = Recorded(folder, folder / "S", "C-1", "FL21-1010", "Etizolam", True)
    alice = recorded.key("alice")
    with CaseStore(recorded.store, actor="alice", create=False) as store:
        store.register_key(alice, user="alice", printed_name=NAMES["alice"])
        set_password(store, "alice", PASSWORDS["alice"], key=alice)
    return recorded
