"""A conclusion limited to the method's scope: target lists, controlled status, second search.

Simulated sequences (ladder, blank, exhibit) of compounds from the bundled demo library:
methamphetamine (1971 Schedule II), benzocaine (a cutting agent: in scope, not controlled)
and ibuprofen (on no target list shipped with gcms).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import numpy as np
from batch_sim import library as demo_library
from batch_sim import write_run, write_sequence

from gcms.batch import BatchSettings, run_batch
from gcms.demo import demo_library_path
from gcms.identify import load_criteria
from gcms.identify.findings import TARGETED
from gcms.library import Library

SWGDRUG = resources.files("gcms.identify") / "profiles" / "swgdrug-gcms.toml"


def _sequence(folder, exhibit, *, seed=40):
    write_run(folder / "ladder.cdf", [], seed=seed, ladder=True)
    write_run(folder / "blank.cdf", [], seed=seed + 1)
    write_run(folder / "exhibit.cdf", exhibit, seed=seed + 2)
    return write_sequence(folder, [("ladder.cdf", "ladder", "L1", "", ""),
                                   ("blank.cdf", "blank", "B1", "", ""),
                                   ("exhibit.cdf", "sample", "X1", "EX-1", "")])


def _profile(folder, *, scope: str) -> str:
    text = SWGDRUG.read_text(encoding="utf-8")
    head, _ = text.split("[scope]")
    path = folder / "lab-profile.toml"
    path.write_text(head + "[scope]\n" + scope, encoding="utf-8")
    return str(path)


def _exhibit(result):
    return next(r for r in result.records if r["sample_id"] == "X1")


def test_findings_carry_scope_and_the_controlled_status(tmp_path):
    sequence = _sequence(tmp_path, [("Methamphetamine", 800.0), ("Benzocaine", 600.0),
                                    ("Ibuprofen", 600.0)])
    result = run_batch(sequence, library=demo_library_path(), workers=1, out_dir=tmp_path / "out")
    findings = _exhibit(result)["findings"]
    by_name = {f["substance"]: f for f in findings["identified"] + findings["inconclusive"]}
    assert by_name["Methamphetamine"]["in_scope"] is True
    assert by_name["Methamphetamine"]["controlled"] == [
        "Convention on Psychotropic Substances, 1971: Schedule II"]
    assert by_name["Benzocaine"]["in_scope"] is True and by_name["Benzocaine"]["controlled"] == []
    assert by_name["Ibuprofen"]["in_scope"] is False
    assert "Ibuprofen" not in findings["conclusion"]
    assert {"Methamphetamine", "Benzocaine"} <= set(findings["conclusion"])
    assert findings["out_of_scope"] == ["Ibuprofen"]
    notes = {n["kind"]: n for n in findings["notes"]}
    assert notes["out-of-scope"]["text"].startswith(
        "Other compounds indicated, not confirmed and outside the scope of the method")
    assert notes["out-of-scope"]["substances"] == ["Ibuprofen"]
    assert "Methamphetamine: controlled under Convention on Psychotropic Substances, 1971: " \
           "Schedule II" == notes["controlled"]["text"]
    # the target lists are recorded with the criteria, each file with its SHA-256
    document = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    files = document["criteria"]["scope"]["target_list"]["files"]
    assert [f["name"] for f in files] == ["un-conventions", "adulterants"]
    shipped = resources.files("gcms") / "data" / "targets"
    for record in files:
        raw = (shipped / f"{record['name']}.json").read_bytes()
        assert record["sha256"] == hashlib.sha256(raw).hexdigest()
    component = next(c for c in _exhibit(result)["components"]
                     if c["substance"] == "Methamphetamine")
    assert component["scope"]["target"] == "Methamphetamine"
    assert component["scope"]["schedules"][0]["source"] == "UN 1971"


def test_a_lab_list_adds_its_schedule_and_omit_policy_counts_the_others(tmp_path):
    national = tmp_path / "national.toml"
    national.write_text(
        '[list]\nname = "lab-national"\n\n[[source]]\nid = "NL"\n'
        'title = "National Drugs Act"\nedition = "as amended 2024"\n\n'
        '[[substance]]\nname = "Metamfetamine"\ncontrolled = { "NL" = "List I" }\n',
        encoding="utf-8")
    profile = _profile(tmp_path, scope='targets = ["un-conventions", "adulterants", '
                                        '"national.toml"]\nout_of_scope = "omit"\n')
    sequence = _sequence(tmp_path, [("Methamphetamine", 800.0), ("Ibuprofen", 600.0)])
    result = run_batch(sequence, library=demo_library_path(), workers=1, criteria=profile)
    findings = _exhibit(result)["findings"]
    meth = next(f for f in findings["identified"] if f["substance"] == "Methamphetamine")
    assert meth["controlled"] == ["Convention on Psychotropic Substances, 1971: Schedule II",
                                  "National Drugs Act: List I"]
    omitted = next(n for n in findings["notes"] if n["kind"] == "out-of-scope")
    assert omitted["substances"] == [] and "Ibuprofen" not in omitted["text"]
    assert omitted["text"].startswith("1 other compound(s) outside the scope")


def test_a_component_below_the_snr_limit_is_never_indicated(tmp_path):
    sequence = _sequence(tmp_path, [("Methamphetamine", 800.0), ("Ibuprofen", 5.0)], seed=50)
    result = run_batch(sequence, library=demo_library_path(), workers=1)
    record = _exhibit(result)
    findings = record["findings"]
    listed = [f["substance"] for f in findings["identified"] + findings["inconclusive"]]
    assert "Ibuprofen" not in listed
    for component in record["components"]:
        if component["verdict"] == "not identified" or component["substance"] is None:
            continue
        snr = {c["criterion"]: c for c in component["criteria"]}["signal_to_noise"]
        assert snr["result"] == "pass" and snr["value"] >= 10.0
        assert snr["detail"].startswith("quantifier m/z ")


def _decoy_library(path):
    """The demo library with methamphetamine's entry a little off and an exact decoy.

    The decoy has methamphetamine's simulated spectrum exactly (it outscores the real
    entry) and a library RI 300 units away (its retention excludes it).
    """
    demo = demo_library()
    spectra = [demo.spectrum(i) for i in range(len(demo))]
    names = list(demo.column("name"))
    at = names.index("Methamphetamine")
    meth = spectra[at]
    bent = meth.intensity.astype(float).copy()
    bent[np.argsort(bent)[-2]] *= 0.75            # its second ion a quarter weaker
    spectra[at] = meth.replace(intensity=bent)
    spectra.append(meth.replace(name="Decoyamine", synonyms=(), cas=None, inchikey=None,
                                retention_index=meth.retention_index + 300.0))
    Library.from_spectra(spectra, title="demo with a decoy").write(path)
    return path


def test_the_target_list_search_finds_a_target_outside_the_hit_list(tmp_path):
    library = _decoy_library(tmp_path / "decoy.h5")
    sequence = _sequence(tmp_path, [("Methamphetamine", 800.0)], seed=60)
    settings = BatchSettings(top=1)                # only the decoy among the hits
    result = run_batch(sequence, workers=1, library=library, settings=settings)
    record = _exhibit(result)
    meth = next(f for f in record["findings"]["identified"]
                if f["substance"] == "Methamphetamine")
    assert meth["found_by"] == TARGETED
    component = next(c for c in record["components"] if c["substance"] == "Methamphetamine")
    assert component["library"]["rank"] == 0
    assert any(n.startswith(TARGETED) and "not among the 1 best hits" in n
               for n in component["notes"])
    decoy = [a for a in component["alternatives"] if a["substance"] == "Decoyamine"]
    assert decoy and decoy[0]["verdict"] == "not identified"
    assert decoy[0]["match_factor"] > component["match_factor"]

    off = _profile(tmp_path, scope='targets = ["un-conventions", "adulterants"]\n'
                                    'targeted_search = false\n')
    assert load_criteria(off).scope.targeted_search is False
    without = _exhibit(run_batch(sequence, workers=1, library=library, settings=settings,
                                 criteria=off))
    assert "Methamphetamine" not in [f["substance"] for f in
                                     without["findings"]["identified"]]



def test_the_report_conclusion_lists_in_scope_findings_only(tmp_path):
    from gcms.report.adapters import from_results

    sequence = _sequence(tmp_path, [("Methamphetamine", 800.0), ("Benzocaine", 600.0),
                                    ("Ibuprofen", 600.0)])
    run_batch(sequence, library=demo_library_path(), workers=1, out_dir=tmp_path / "out")
    model = from_results(tmp_path / "out" / "results.json", "EX-1", draw_chromatograms=False)
    conclusion = model.conclusion
    assert "Methamphetamine" in conclusion.identified
    assert "Ibuprofen" not in conclusion.identified + conclusion.inconclusive
    notes = conclusion.ambiguities
    assert ("Methamphetamine: controlled under Convention on Psychotropic Substances, 1971: "
            "Schedule II") in notes
    assert any(n.startswith("Other compounds indicated, not confirmed and outside the scope")
               and n.endswith(": Ibuprofen") for n in notes)
    # the component stays in the findings table, as what it is
    assert any(f.substance == "Ibuprofen" for f in model.findings)
