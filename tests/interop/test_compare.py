"""``gcms compare`` on a generated case: a simulated run, gcms's components, and an AMDIS
.ELU written from them with known perturbations (the real Peaks1.ELU has no raw run here).
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "batch"))
from batch_sim import library, rt_of, spectrum, write_run  # noqa: E402

from gcms.deconvolution import deconvolve  # noqa: E402
from gcms.demo import demo_library_path  # noqa: E402
from gcms.interop import compare, match_by_rt  # noqa: E402
from gcms.io import amdis_elu, nist_hitlist, read  # noqa: E402

COMPOUNDS = ("Amphetamine", "Methamphetamine", "MDA", "Benzocaine")
SHIFT_S = 0.6  # every AMDIS RT is later by this much


def _elu_block(cn: int, rt_s: float, scan: int, mz, intensity) -> str:
    """One AMDIS .ELU block in the layout of AMDIS's own files (Peaks1.ELU)."""
    mz, intensity = np.asarray(mz), np.asarray(intensity, dtype=float)
    scaled = np.maximum(np.rint(999 * intensity / intensity.max()), 1).astype(int)
    model = int(mz[np.argmax(intensity)])
    pairs = [f"({int(m)},{a} )" for m, a in zip(mz, scaled, strict=True)]
    return (f"NAME: |SC{scan}|CN{cn}|MP1-MODN:{model}(%95.0)|AM{int(intensity.sum())}|PC10|"
            f"SN300|WD3.0|TA1.0|TR50.0|FR{scan - 2}-{scan + 2}|RT{rt_s / 60:.4f}|MN0.1|"
            f"RA1.0|IS1|XN1|MO1: {model}|EW0-1|FG1.000|TN1.000|OR1|NT0\n"
            "RE\n10 50 100 50 10\n"
            f"NUM PEAKS: {len(pairs)}\n"
            + "\n".join("".join(pairs[i:i + 5]) for i in range(0, len(pairs), 5)) + "\n")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compare")
    run_path = write_run(folder / "run.cdf", [(n, 300.0) for n in COMPOUNDS], seed=11)
    ours = deconvolve(read(run_path)).components
    nearest = {n: int(np.argmin([abs(c.rt_s - rt_of(n)) for c in ours])) for n in COMPOUNDS}
    blocks, cn = [], 0
    for j, c in enumerate(ours):
        if j == nearest["Benzocaine"]:
            continue  # AMDIS missed it: "only gcms"
        s = spectrum("MDMA") if j == nearest["Methamphetamine"] else c.spectrum
        cn += 1
        blocks.append(_elu_block(cn, c.rt_s + SHIFT_S, c.scan, s.mz, s.intensity))
    caffeine = spectrum("Caffeine")  # AMDIS found one gcms did not: "only AMDIS"
    blocks.append(_elu_block(cn + 1, 160.0, 240, caffeine.mz, caffeine.intensity))
    elu_path = folder / "run.ELU"
    elu_path.write_text("\n".join(blocks).replace("\n", "\r\n"))
    return run_path, elu_path, ours, nearest


def test_components_paired_hits_and_verdicts(case):
    run_path, elu_path, ours, nearest = case
    elu = amdis_elu.read(elu_path)
    assert elu.skipped == []
    result = compare(elu.components, ours, library=library(), rt_tolerance_s=2.0)
    rows = {r.gcms_component: r for r in result.rows if r.gcms_component is not None}
    for name in ("Amphetamine", "MDA"):
        row = rows[nearest[name]]
        assert row.status == "agree" and row.gcms_top_hit == row.amdis_top_hit == name
        assert row.delta_rt_s == pytest.approx(-SHIFT_S, abs=0.004)
        assert row.spectrum_match_factor >= 990  # the same spectrum, rounded to 999 scale
    swapped = rows[nearest["Methamphetamine"]]
    assert swapped.status == "differ"
    assert (swapped.gcms_top_hit, swapped.amdis_top_hit) == ("Methamphetamine", "MDMA")
    assert swapped.spectrum_match_factor < 800
    assert rows[nearest["Benzocaine"]].status == "only gcms"
    (only_amdis,) = [r for r in result.rows if r.status == "only AMDIS"]
    assert only_amdis.amdis_top_hit == "Caffeine"
    assert only_amdis.amdis_rt_s == pytest.approx(160, abs=0.01)
    summary = result.summary()
    assert summary["only_amdis"] == 1 and summary["only_gcms"] == 1
    assert summary["verdicts_differ"] >= 1
    # Rows are in retention order.
    rts = [r.amdis_rt_s if r.amdis_rt_s is not None else r.gcms_rt_s for r in result.rows]
    assert rts == sorted(rts)
    # A tolerance below the shift pairs nothing.
    tight = compare(elu.components, ours, library=library(), rt_tolerance_s=0.5)
    assert tight.summary()["pairs"] == 0


def test_nist_hit_lists_give_mf_and_rmf_differences(case, tmp_path):
    run_path, elu_path, ours, nearest = case
    elu = amdis_elu.read(elu_path).components
    # NIST's hit lists for the ELU, with every MF 10 and every RMF 5 below gcms's.
    searched = library().search([c.spectrum for c in elu], top=5)
    lists = [replace(h, hits=tuple(replace(x, match_factor=x.match_factor - 10,
                                           reverse_match_factor=x.reverse_match_factor - 5)
                                   for x in h.hits))
             for h in nist_hitlist.from_search_results(searched, library_name="demo")]
    nist_hitlist.write(lists, tmp_path / "SRCRESLT.TXT")
    hits = nist_hitlist.read(tmp_path / "SRCRESLT.TXT").hit_lists
    result = compare(elu, ours, library=library(), amdis_hits=hits)
    assert result.amdis_hits_from == "NIST MS Search hit lists"
    plain = compare(elu, ours, library=library())
    assert plain.amdis_hits_from == "gcms search of the AMDIS spectra"
    pairs = [(a, b) for a, b in zip(result.rows, plain.rows, strict=True) if a.hits_in_both]
    assert pairs
    for with_nist, without in pairs:
        assert [h.name for h in with_nist.hits_in_both] == [h.name for h in without.hits_in_both]
        for a, b in zip(with_nist.hits_in_both, without.hits_in_both, strict=True):
            assert (a.delta_mf, a.delta_rmf) == (b.delta_mf + 10, b.delta_rmf + 5)
    with pytest.raises(ValueError, match="hit lists for"):
        compare(elu, ours, library=library(), amdis_hits=hits[:-1])


def test_match_by_rt_is_one_to_one_nearest_first():
    assert match_by_rt(np.array([10.0, 10.5, 30.0]), np.array([10.4, 50.0]), 1.0) == [(1, 0)]
    assert match_by_rt(np.array([]), np.array([1.0]), 1.0) == []
    with pytest.raises(ValueError):
        match_by_rt(np.array([1.0]), np.array([1.0]), -1)


def test_cli_table_json_csv_and_errors(case, tmp_path):
    from gcms_cli.main import cli

    run_path, elu_path, _, _ = case
    args = ["compare", str(elu_path), str(run_path), "--library", str(demo_library_path())]
    runner = CliRunner()
    text = runner.invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert "only AMDIS" in text.output and "Caffeine" in text.output
    assert "1 only in AMDIS, 1 only in gcms" in text.output
    out = runner.invoke(cli, [*args, "--json", "--csv", str(tmp_path / "t.csv"),
                              "--plot", str(tmp_path / "t.png")])
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["summary"]["only_gcms"] == 1 and data["rt_tolerance_s"] == 2.0
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = list(csv.DictReader(io.StringIO((tmp_path / "t.csv").read_text())))
    assert len(table) == len(data["rows"]) and table[0]["status"] in {"agree", "differ",
                                                                       "only AMDIS",
                                                                       "only gcms"}
    bad = runner.invoke(cli, ["compare", str(tmp_path / "none.ELU"), str(run_path),
                              "--library", str(demo_library_path())])
    assert bad.exit_code == 2 and "none.ELU" in bad.output
