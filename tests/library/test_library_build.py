"""Library builds name what they leave out (file, entry number and name, reason).

Issue 20: one entry with m/z 70,000 in a real 90-entry MSP failed the whole ``gcms library
build`` without naming the file or the entry.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms import Spectrum
from gcms.errors import LibraryError
from gcms.io.msp import write as write_msp
from gcms.library import Library, build_library
from gcms.library.build import EI_MZ_MAX, MAX_PEAKS_PER_ENTRY, entry_problem

# An entry is skipped by its reader (which refuses m/z outside the physical range of an EI
# spectrum, naming the line) or by the build's own check (every format, the nominal mass
# the library stores, a lab's max_mz): either way it is listed with file, number and name.

ALKANES = ("nist-hitlists", "library_massbank_alkanes.msp")


def corrupt_entry(path, number: int, mz: str = "70000") -> str:
    """Replace the first peak's m/z of entry ``number`` (1-based) of an MSP; its name."""
    blocks = re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip())
    lines = blocks[number - 1].splitlines()
    first_peak = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[first_peak] = f"{mz} " + " ".join(lines[first_peak].split()[1:])
    blocks[number - 1] = "\n".join(lines)
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return next(line.split(":", 1)[1].strip() for line in lines if line.startswith("Name:"))


@pytest.fixture()
def real_msp(shared, tmp_path):
    """The real MassBank alkanes MSP copied, its 5th entry given an m/z of 70,000."""
    path = tmp_path / "alkanes.msp"
    shutil.copyfile(shared(*ALKANES), path)
    n_entries = path.read_text(encoding="utf-8").count("Name:")
    name = corrupt_entry(path, 5)
    return path, name, n_entries


def test_one_entry_out_of_range_is_skipped_and_named_not_fatal(real_msp, tmp_path):
    path, name, n_entries = real_msp
    out = tmp_path / "lib.h5"
    report = build_library([path], out)
    assert report.n_entries == n_entries - 1
    [skip] = report.skipped
    assert skip.source == str(path) and skip.entry.startswith(f"5 {name!r}")
    assert "70000" in skip.reason and "outside" in skip.reason
    # The library's own provenance says what was left out.
    stored = Library.open(out)
    assert stored.skipped == ({"file": str(path), "entry": skip.entry,
                               "reason": skip.reason},)
    names = list(stored.column("name"))
    assert len(names) == n_entries - 1 and names[4] != name  # entry 5 is not in it
    assert stored.info()["n_skipped"] == 1


def test_cli_lists_the_skipped_entry_and_strict_refuses_naming_it(real_msp, tmp_path):
    path, name, n_entries = real_msp
    runner = CliRunner()
    out = tmp_path / "lib.h5"
    built = runner.invoke(cli, ["library", "build", str(path), "-o", str(out)])
    assert built.exit_code == 0, built.output
    assert f"{n_entries - 1} entries from 1 files; 1 entries skipped" in built.output
    assert f"skipped {path}: entry 5 {name!r}" in built.output
    assert "m/z 70000, outside" in built.output or "m/z 70000 outside" in built.output
    info = json.loads(runner.invoke(cli, ["library", "info", str(out), "--json"]).output)
    assert info["skipped"][0]["entry"].startswith(f"5 {name!r}")

    refused_out = tmp_path / "strict.h5"
    refused = runner.invoke(cli, ["library", "build", str(path), "-o", str(refused_out),
                                  "--strict"])
    assert refused.exit_code == 2
    assert "strict build refused" in refused.output
    assert str(path) in refused.output and f"entry 5 {name!r}" in refused.output
    assert "70000" in refused.output and "Traceback" not in refused.output
    assert not refused_out.exists()


def test_max_mz_narrows_the_range_to_a_labs_policy(tmp_path):
    path = tmp_path / "heavy.msp"
    path.write_text(_msp_entry("heavy", [("43", "999"), ("2457", "14")]), encoding="utf-8")
    runner = CliRunner()
    built = runner.invoke(cli, ["library", "build", str(path), "-o", str(tmp_path / "a.h5"),
                                "--strict"])
    assert built.exit_code == 0, built.output
    assert Library.open(tmp_path / "a.h5").info()["mz_range"][1] == 2457
    refused = runner.invoke(cli, ["library", "build", str(path), "-o", str(tmp_path / "b.h5"),
                                  "--strict", "--max-mz", "2000"])
    assert refused.exit_code == 2
    assert "entry 1 'heavy': m/z 2457 outside 1 to 2000 (nominal)" in refused.output
    assert not (tmp_path / "b.h5").exists()


def test_real_massbank_record_beyond_a_labs_range_is_skipped_and_named(shared, tmp_path):
    # A real MassBank EI record (C30H54O5Sn, exact mass 614.3) whose peak list ends with
    # m/z 2457: no fragment of a 614 u molecule, but within the physical EI range. A lab
    # that builds to NIST MS Search's range (max m/z 2000) gets it left out and named.
    record = shared("massbank-ei", "Fac_Eng_Univ_Tokyo", "MSBNK-Fac_Eng_Univ_Tokyo-JP011837.txt")
    good = shared("massbank-ei", "Fac_Eng_Univ_Tokyo")
    folder = tmp_path / "records"
    folder.mkdir()
    shutil.copy(record, folder)
    others = sorted(p for p in good.glob("*.txt") if p.name != record.name)[:5]
    for other in others:
        shutil.copy(other, folder)
    assert build_library([folder]).n_entries == len(others) + 1
    report = build_library([folder], max_mz=2000)
    assert report.n_entries == len(others)
    [skip] = report.skipped
    assert skip.source == str(folder / record.name)
    assert "MSBNK-Fac_Eng_Univ_Tokyo-JP011837" in skip.entry
    assert "m/z 2457 outside 1 to 2000" in skip.reason
    with pytest.raises(LibraryError, match="JP011837.*m/z 2457"):
        build_library([folder], tmp_path / "strict.h5", strict=True, max_mz=2000)
    assert not (tmp_path / "strict.h5").exists()


def _msp_entry(name: str, peaks: list[tuple[str, str]]) -> str:
    body = "\n".join(f"{m} {i}" for m, i in peaks)
    return f"Name: {name}\nNum Peaks: {len(peaks)}\n{body}\n\n"


def test_generated_file_every_reason_named_with_entry_number(tmp_path):
    good = [("41", "200"), ("43", "999"), ("57", "650")]
    entries = [
        ("ok one", good),
        ("too heavy", [("43", "999"), ("5001", "10")]),
        ("below one", [("0.2", "50"), ("43", "999")]),
        ("nominal zero", [("0.6", "50"), ("43", "999")]),
        ("negative", [("43", "999"), ("57", "-3")]),
        ("not a number", [("43", "999"), ("57", "nan")]),
        ("empty", []),
        ("all zero", [("43", "0"), ("57", "0")]),
        ("ok two", good),
        ("absurd", [(f"{40 + k * 0.0001:.4f}", "5") for k in range(MAX_PEAKS_PER_ENTRY + 1)]),
    ]
    path = tmp_path / "generated.msp"
    path.write_text("".join(_msp_entry(n, p) for n, p in entries), encoding="utf-8")
    report = build_library([path], tmp_path / "lib.h5")
    assert sorted(report.library.column("name")) == ["ok one", "ok two"]
    reasons = {s.entry.split(" (line")[0]: s.reason for s in report.skipped}
    assert set(reasons) == {"2 'too heavy'", "3 'below one'", "4 'nominal zero'",
                            "5 'negative'", "6 'not a number'", "7 'empty'", "8 'all zero'",
                            "10 'absurd'"}
    assert "5001" in reasons["2 'too heavy'"] and "outside" in reasons["2 'too heavy'"]
    assert "0.2" in reasons["3 'below one'"] and "outside" in reasons["3 'below one'"]
    # m/z 0.6 has nominal mass 0: no library stores it (it failed the whole build)
    assert "m/z 0.6 outside 1 to 5000 (nominal)" in reasons["4 'nominal zero'"]
    assert "negative" in reasons["5 'negative'"]
    assert "not a number" in reasons["6 'not a number'"]
    assert "no peak" in reasons["7 'empty'"] or "empty" in reasons["7 'empty'"]
    assert "no peak of positive intensity" in reasons["8 'all zero'"]
    assert f"more than {MAX_PEAKS_PER_ENTRY}" in reasons["10 'absurd'"]
    stored = Library.open(tmp_path / "lib.h5")
    assert len(stored.skipped) == 8
    assert all(s["file"] == str(path) for s in stored.skipped)
    with pytest.raises(LibraryError) as refused:
        build_library([path], tmp_path / "strict.h5", strict=True)
    message = str(refused.value)
    assert "8 entries" in message
    assert all(label in message for label in ("too heavy", "below one", "absurd", "empty"))
    assert not (tmp_path / "strict.h5").exists()


def test_strict_build_of_clean_files_is_the_plain_build(tmp_path):
    path = tmp_path / "clean.msp"
    write_msp([Spectrum([43.0, 57.0, 71.0], [999.0, 500.0, 80.0], name="a"),
               Spectrum([58.0, 91.0, 134.0], [999.0, 150.0, 10.0], name="b")], path)
    plain = build_library([path])
    strict = build_library([path], strict=True)
    assert strict.library.content_sha256 == plain.library.content_sha256
    assert strict.skipped == () and len(strict.library) == 2


def test_strict_refuses_an_unreadable_named_file(tmp_path):
    good = tmp_path / "good.msp"
    write_msp([Spectrum([43.0, 57.0], [999.0, 500.0], name="a")], good)
    bad = tmp_path / "bad.msp"
    bad.write_bytes(b"\x00\x01 not a library")
    assert len(build_library([good, bad]).failed) == 1
    with pytest.raises(LibraryError, match=r"1 files would be left out: .*bad\.msp"):
        build_library([good, bad], strict=True)


@pytest.mark.parametrize(("mz", "intensity", "expected"), [
    ([], [], "empty spectrum"),
    ([43.0, 57.0], [999.0, -1.0], "negative intensity -1 at m/z 57"),
    ([43.0, 70_000.0], [999.0, 1.0], "m/z 70000 outside 1 to 5000 (nominal), the range of an "
                                     "EI GC-MS spectrum (1 of 2 peaks)"),
    ([0.6, 43.0], [5.0, 999.0], "m/z 0.6 outside 1 to 5000"),
    ([43.0, 70_000.0], [999.0, 0.0], None),  # a zero-intensity placeholder is no peak
    ([43.0, float(EI_MZ_MAX)], [999.0, 1.0], None),
    ([43.0, 57.0], [0.0, 0.0], "no peak of positive intensity"),
])
def test_entry_problem(mz, intensity, expected):
    spectrum = Spectrum(np.asarray(mz, dtype=float), np.asarray(intensity, dtype=float))
    problem = entry_problem(spectrum)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(expected)


def test_entry_problem_range_follows_max_mz():
    heavy = Spectrum(np.array([43.0, 2457.0]), np.array([999.0, 14.0]))
    assert entry_problem(heavy) is None
    assert "m/z 2457 outside 1 to 2000" in entry_problem(heavy, max_mz=2000)
