"""``gcms library diff``: entries added, removed, changed (MF old vs new), duplicates."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from conftest import shared_file
from gcms_cli.main import cli

from gcms import Spectrum
from gcms.io import read_entries
from gcms.io.msp import write as write_msp
from gcms.library import Library, build_library
from gcms.library.governance import diff_libraries, find_duplicates
from gcms.library.scores import identity_match_factor

AMPHETAMINE = "KWTSXDURSIMDCE-UHFFFAOYSA-N"

BASE = [
    Spectrum([44.0, 65.0, 91.0, 120.0], [999.0, 60.0, 280.0, 20.0], name="Amphetamine",
             cas="300-62-9", inchikey=AMPHETAMINE),
    Spectrum([58.0, 65.0, 91.0, 134.0], [999.0, 50.0, 150.0, 10.0], name="Methamphetamine",
             cas="537-46-2"),
    Spectrum([82.0, 94.0, 182.0, 303.0], [999.0, 300.0, 500.0, 200.0], name="Cocaine",
             cas="50-36-2", retention_index=2189.0),
    Spectrum([72.0, 91.0, 117.0], [999.0, 120.0, 40.0], name="MDMA fragment test"),
]


def _nist_mf(a: tuple, b: tuple) -> int:
    """NIST identity MF written out directly (Stein & Scott 1994), for spectra on one range.

    Both spectra here start at the same m/z, so no range cut applies; cos^2 with weights
    sqrt(m I), the ratio term over neighbouring common peaks with weights sqrt(I).
    """
    pa = dict(zip(a[0].tolist(), a[1].tolist(), strict=True))
    pb = dict(zip(b[0].tolist(), b[1].tolist(), strict=True))
    masses = sorted(set(pa) | set(pb))
    u = np.array([pa.get(m, 0.0) for m in masses])
    v = np.array([pb.get(m, 0.0) for m in masses])
    m = np.array(masses, dtype=float)
    cos2 = np.sum(m * np.sqrt(u * v)) ** 2 / (np.sum(m * u) * np.sum(m * v))
    n1 = int(np.sum((u > 0) & (v > 0)))
    num = den = 0.0
    n2 = 0
    for k in range(1, len(masses)):
        if u[k] > 0 and v[k] > 0 and u[k - 1] > 0 and v[k - 1] > 0:
            r = np.sqrt((u[k] * v[k - 1]) / (u[k - 1] * v[k]))
            num += m[k] * min(r, 1 / r)
            den += m[k]
            n2 += 1
    ratio = num / den if den else 0.0
    return min(999, int(np.floor(1000 * (n1 * cos2 + n2 * ratio) / (n1 + n2))))


def _edited():
    new = [
        # one peak changed (m/z 91: 280 -> 180)
        BASE[0].replace(intensity=np.array([999.0, 60.0, 180.0, 20.0])),
        # Methamphetamine retired (absent); cocaine: name spelling and RI corrected
        BASE[2].replace(name="cocaine ", retention_index=2191.0),
        BASE[3],
        Spectrum([58.0, 135.0, 194.0], [999.0, 200.0, 100.0], name="MDA", cas="4764-17-4"),
    ]
    return Library.from_spectra(BASE, title="v1"), Library.from_spectra(new, title="v2")


def test_diff_generated_libraries():
    old, new = _edited()
    result = diff_libraries(old, new)
    counts = result.to_dict()["counts"]
    assert counts == {"added": 1, "removed": 1, "changed": 2, "unchanged": 1, "retired": 0}
    assert [e["name"] for e in result.added] == ["MDA"]
    assert [e["name"] for e in result.removed] == ["Methamphetamine"]
    amph = next(c for c in result.changed if c.matched_by == "inchikey")
    expected = _nist_mf(old.peaks.row(0), new.peaks.row(0))
    assert amph.match_factor == expected == identity_match_factor(old.spectrum(0),
                                                                  new.spectrum(0))
    assert amph.match_factor < 999 and amph.fields == {}
    cocaine = next(c for c in result.changed if c.new_index == 1)
    assert cocaine.match_factor is None  # same peaks
    assert cocaine.fields == {"name": ("Cocaine", "cocaine "),
                              "retention_index": (2189.0, 2191.0)}
    assert cocaine.matched_by == "name+cas"
    assert result.old["identity_sha256"] == old.identity_sha256
    assert result.new["identity_sha256"] != result.old["identity_sha256"]
    assert result.below(expected + 1) == [amph] and result.below(expected) == []
    same = diff_libraries(old, old)
    assert same.identical and same.n_unchanged == len(old)


def test_cas_conflict_is_not_a_match():
    old = Library.from_spectra([BASE[1]])
    new = Library.from_spectra([BASE[1].replace(cas="51-57-0")])
    result = diff_libraries(old, new)
    assert len(result.added) == len(result.removed) == 1 and not result.changed
    unnamed = Library.from_spectra([BASE[3].replace(name=None)])
    result = diff_libraries(unnamed, unnamed)
    assert len(result.added) == len(result.removed) == 1 and result.n_unchanged == 0


def test_replicates_pair_with_identical_spectrum_first():
    other = BASE[0].replace(intensity=np.array([999.0, 10.0, 500.0, 90.0]))
    old = Library.from_spectra([BASE[0], other])
    new = Library.from_spectra([other])  # the first replicate removed
    result = diff_libraries(old, new)
    assert [e["index"] for e in result.removed] == [0]
    assert not result.changed and result.n_unchanged == 1


def test_duplicates():
    lib = Library.from_spectra([BASE[0], BASE[1], BASE[0].replace(name="amphetamine 2"),
                                BASE[0].replace(intensity=np.array([10.0, 999.0, 5.0, 1.0]))])
    found = find_duplicates(lib)
    assert [(d.first, d.second) for d in found] == [(0, 2)]
    assert found[0].match_factor == 999
    assert len(find_duplicates(lib, min_mf=0)) == 3


def test_diff_cli(tmp_path):
    old, new = _edited()
    a, b = old.write(tmp_path / "a.h5"), new.write(tmp_path / "b.h5")
    runner = CliRunner()
    human = runner.invoke(cli, ["library", "diff", str(a), str(b)])
    assert human.exit_code == 0, human.output
    assert old.identity_sha256 in human.output and new.identity_sha256 in human.output
    assert "added 1, removed 1, changed 2, retired 0, unchanged 1" in human.output
    assert "+ #4 MDA" in human.output and "- #2 Methamphetamine" in human.output
    low = runner.invoke(cli, ["library", "diff", str(a), str(b), "--json", "--min-mf", "999"])
    assert low.exit_code == 1, low.output
    data = json.loads(low.output)
    assert data["below_min_mf"] == [0] and data["counts"]["changed"] == 2
    dups = runner.invoke(cli, ["library", "diff", str(a), "--duplicates", "--json"])
    assert dups.exit_code == 0 and json.loads(dups.output)["libraries"][0]["duplicates"] == []
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not a library")
    refused = runner.invoke(cli, ["library", "diff", str(a), str(bad)])
    assert refused.exit_code == 2 and "bad.h5" in refused.output
    alone = runner.invoke(cli, ["library", "diff", str(a)])
    assert alone.exit_code == 2


def test_diff_real_msp_and_massbank(tmp_path):
    msp = shared_file("nist-hitlists", "library_massbank_alkanes.msp")
    record = shared_file("massbank-ei", "RIKEN", "MSBNK-RIKEN-PR010001.txt")
    spectra = read_entries(msp).spectra
    edited = [s for k, s in enumerate(spectra) if k != 5]  # one entry removed
    changed = edited[10]
    intensity = changed.intensity.copy()
    intensity[np.argsort(intensity)[-2]] *= 0.5  # second-largest peak halved
    edited[10] = changed.replace(intensity=intensity)
    edited[20] = edited[20].replace(retention_index=1234.0)
    edited_msp = tmp_path / "edited.msp"
    write_msp(edited, edited_msp)
    old = build_library([msp], tmp_path / "old.h5", title="alkanes").library
    new = build_library([edited_msp, record], tmp_path / "new.h5", title="alkanes v2").library
    result = diff_libraries(old, new)
    counts = result.to_dict()["counts"]
    assert counts["added"] == 1 and counts["removed"] == 1
    assert [e["index"] for e in result.removed] == [5]
    assert counts["changed"] == 2 and counts["unchanged"] == len(old) - 3
    spectrum_change = next(c for c in result.changed if c.match_factor is not None)
    assert spectrum_change.old_index == 11 and spectrum_change.new_index == 10
    expected = identity_match_factor(old.spectrum(11), new.spectrum(10))
    assert spectrum_change.match_factor == expected < 999
    ri_change = next(c for c in result.changed if c.match_factor is None)
    assert ri_change.fields["retention_index"] == (None, 1234.0)
    for d in find_duplicates(old):
        assert old.entry(d.first).inchikey == old.entry(d.second).inchikey
        assert identity_match_factor(old.spectrum(d.second), old.spectrum(d.first)) >= 900
