"""``gcms library build / info / search``: output, JSON shape, exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner
from gcms_cli.main import cli

from gcms import Spectrum
from gcms.io.msp import write as write_msp

LIBRARY = [
    Spectrum([44.0, 65.0, 91.0, 120.0], [999.0, 60.0, 280.0, 20.0], name="Amphetamine",
             cas="300-62-9", inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-N"),
    Spectrum([58.0, 65.0, 91.0, 134.0], [999.0, 50.0, 150.0, 10.0], name="Methamphetamine",
             cas="537-46-2"),
]


def _files(tmp_path):
    lib = tmp_path / "lib.msp"
    write_msp(LIBRARY, lib)
    lib.write_text(lib.read_text() + "\nName: broken\nNum Peaks: 1\n43 -1\n")
    queries = tmp_path / "queries.msp"
    write_msp([Spectrum([44.0, 91.0, 65.0], [999.0, 250.0, 70.0], name="unknown 1"),
               Spectrum([58.0, 91.0], [999.0, 140.0], name="unknown 2")], queries)
    return lib, queries


def test_build_info_search(tmp_path):
    lib, queries = _files(tmp_path)
    runner = CliRunner()
    out = tmp_path / "lib.h5"
    built = runner.invoke(cli, ["library", "build", str(lib), "-o", str(out)])
    assert built.exit_code == 0, built.output
    assert "2 entries from 1 files; 1 entries skipped" in built.output
    assert "broken" in built.output
    info = runner.invoke(cli, ["library", "info", str(out), "--json"])
    assert info.exit_code == 0 and json.loads(info.output)["n_entries"] == 2
    human = runner.invoke(cli, ["library", "search", str(out), str(queries), "--top", "2"])
    assert human.exit_code == 0 and "Amphetamine" in human.output
    result = runner.invoke(cli, ["library", "search", str(out), str(queries), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [d["query"] for d in data] == ["unknown 1", "unknown 2"]
    assert [d["hits"][0]["name"] for d in data] == ["Amphetamine", "Methamphetamine"]
    for d in data:
        assert set(d) == {"query", "hits"}
        for hit in d["hits"]:
            assert {"name", "inchikey", "cas", "match_factor", "reverse_match_factor",
                    "probability", "library_index"} <= set(hit)


def test_unreadable_inputs_exit_2_and_name_the_file(tmp_path):
    lib, queries = _files(tmp_path)
    runner = CliRunner()
    out = tmp_path / "lib.h5"
    runner.invoke(cli, ["library", "build", str(lib), "-o", str(out)])
    garbage = tmp_path / "garbage.msp"
    garbage.write_bytes(b"\x00\x01 not a spectrum")
    mixed = runner.invoke(cli, ["library", "search", str(out), str(garbage), str(queries),
                                "--json"])
    assert mixed.exit_code == 2 and "garbage.msp" in mixed.output
    assert "Traceback" not in mixed.output
    missing = runner.invoke(cli, ["library", "info", str(tmp_path / "nope.h5")])
    assert missing.exit_code == 2 and "nope.h5" in missing.output
    nothing = runner.invoke(cli, ["library", "build", str(garbage), "-o", str(tmp_path / "x.h5")])
    assert nothing.exit_code == 2 and "no usable spectrum" in nothing.output


def test_min_match_factor_lists_the_full_hit_list_cut_at_the_floor(tmp_path):
    lib, queries = _files(tmp_path)
    runner = CliRunner()
    out = tmp_path / "lib.h5"
    assert runner.invoke(cli, ["library", "build", str(lib), "-o", str(out)]).exit_code == 0

    def hits(*extra):
        result = runner.invoke(cli, ["library", "search", str(out), str(queries), "--json",
                                     *extra])
        assert result.exit_code == 0, result.output
        return [[(h["name"], h["match_factor"]) for h in r["hits"]]
                for r in json.loads(result.stdout)]

    full = hits()
    floor = min(mf for query in full for _, mf in query) + 1
    cut = hits("--min-match-factor", str(floor))
    assert cut == [[(n, mf) for n, mf in query if mf >= floor] for query in full]
    assert sum(map(len, cut)) < sum(map(len, full))
    bad = runner.invoke(cli, ["library", "search", str(out), str(queries),
                              "--min-match-factor", "1200"])
    assert bad.exit_code == 2
