"""``gcms batch --method``: quantitation inside the batch, beside the identification.

Simulated sequences (always run): the demo library's methamphetamine calibrated over an
internal standard (benzocaine); calibrators without the internal standard; a look-alike
(MDMA, same base peak m/z 58) eluting where methamphetamine does, which a method
without qualifier ions quantifies but identification does not confirm. The real
etizolam sequence (../shared/data/lrcfs-etizolam, skipped where absent): the authors'
values for the check standard and case FL21/1010.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from conftest import ETIZOLAM_CALIBRATORS, etizolam_quant_setup, shared_file, strings_in
from gcms_cli.main import cli
from quant_sim import toml_text

from gcms.demo import demo_library_path
from gcms.identify import Substance
from gcms.library import Library
from gcms.quantitation import parse_method
from gcms.quantitation.integration import Integration
from gcms.quantitation.quantity import Quantity
from gcms.simulate import SimulationSettings, amount_for_snr, simulate, write

ANALYTE, INTERNAL, LOOKALIKE = "Methamphetamine", "Benzocaine", "MDMA"
ANALYTE_RT, INTERNAL_RT = 150.0, 190.0
LEVELS = (20.0, 50.0, 100.0, 150.0, 200.0)
#: The sample's true concentration (ug/mL in the injected solution).
SAMPLE_LEVEL = 80.0
COLUMNS = ["file", "type", "sample_id", "case_id", "exhibit_id", "reference_substance",
           "concentration", "unit", "amount", "amount_unit", "volume_ml", "dilution"]


# ------------------------------------------------------------------------ simulated
def _spectrum(name):
    library = Library.open(demo_library_path())
    return library.spectrum(list(library.column("name")).index(name))


def _settings(seed):
    return SimulationSettings(start_s=100.0, duration_s=130.0, scan_rate_hz=4.0, mz_min=40,
                              mz_max=300, background=150.0, bleed=0.0, threshold=300.0,
                              spikes_per_scan=0.0, seed=seed)


METHOD = {
    "schema": "gcms-quant-method/1",
    "method": {"name": "methamphetamine (simulated)", "unit": "ug/mL"},
    "acceptance": {"min_calibrators": 5, "check_tolerance_percent": 20.0},
    "internal_standard": [{"id": "IS", "name": INTERNAL, "quantifier_mz": 120,
                           "qualifier_mz": [165], "rt_s": INTERNAL_RT, "rt_window_s": 8.0}],
    # No qualifier ion: quantitation alone cannot tell methamphetamine from MDMA.
    "analyte": [{"name": ANALYTE, "quantifier_mz": 58, "qualifier_mz": [],
                 "rt_s": ANALYTE_RT, "rt_window_s": 8.0, "internal_standard": "IS",
                 "model": "linear", "weighting": "1/x"}],
}


def _write_sequence(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Run files and two sequences: calibrators with and without the internal standard."""
    root = tmp_path_factory.mktemp("batch-quant")
    analyte, internal, lookalike = (_spectrum(n) for n in (ANALYTE, INTERNAL, LOOKALIKE))
    per_level = amount_for_snr(analyte, 3.0, settings=_settings(0), rt_s=ANALYTE_RT)
    is_amount = amount_for_snr(internal, 400.0, settings=_settings(0), rt_s=INTERNAL_RT)
    lookalike_amount = amount_for_snr(lookalike, 300.0, settings=_settings(0), rt_s=ANALYTE_RT)

    def run(name, seed, level=0.0, *, with_is=True, other=None):
        items = [(internal, INTERNAL_RT, is_amount)] if with_is else []
        if level:
            items.append((analyte, ANALYTE_RT, level * per_level))
        if other is not None:
            items.append(other)
        write(simulate(items, settings=_settings(seed), name=name), root / f"{name}.cdf")
        return f"{name}.cdf"

    first = [run("blank1", 4, with_is=False), "blank", "B1", "C-1", "", "", "", "", "", "", "",
             ""]
    blank = run("blank", 1, with_is=False)
    sample = run("sample", 2, SAMPLE_LEVEL)
    mdma = run("mdma", 3, other=(lookalike, ANALYTE_RT, lookalike_amount))
    tail = [[blank, "blank", "B2", "C-1", "", "", "", "", "", "", "", ""],
            [sample, "sample", "X1", "C-1", "EX-1", "", "", "", 50, "mg", 1.0, 10],
            [mdma, "sample", "X2", "C-1", "EX-2", "", "", "", 50, "mg", 1.0, 10]]
    with_is, without_is = [], []
    for i, level in enumerate(LEVELS):
        with_is.append([run(f"cal{level:g}", 10 + i, level), "standard", f"CAL-{level:g}",
                        "C-1", "", ANALYTE, level, "ug/mL", "", "", "", ""])
        without_is.append([run(f"noiscal{level:g}", 20 + i, level, with_is=False),
                           "standard", f"CAL-{level:g}", "C-1", "", ANALYTE, level, "ug/mL",
                           "", "", "", ""])
    (root / "method.toml").write_text(toml_text(METHOD))
    return SimpleNamespace(
        root=root, method=root / "method.toml",
        good=_write_sequence(root / "seq.csv", [first, *with_is, *tail]),
        no_is=_write_sequence(root / "seq-no-is.csv", [first, *without_is, *tail]))


def batch(sequence, out, *options):
    return CliRunner().invoke(cli, ["batch", str(sequence), "--out", str(out), "--workers", "1",
                                    "--library", str(demo_library_path()), "--quiet",
                                    *map(str, options)])


def assert_layout(document):
    """A run's record names no other run's sample id, not even inside a sentence."""
    ids = [r["sample_id"] for r in document["runs"]]
    for record in document["runs"]:
        others = {i for i in ids if i != record["sample_id"]
                  for s in strings_in(record)
                  if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", s)}
        assert not others, (record["sample_id"], others)
        assert isinstance(record["quantitation"], list)


def entry(document, sample_id, substance):
    record = next(r for r in document["runs"] if r["sample_id"] == sample_id)
    return next(q for q in record["quantitation"] if q["substance"] == substance)


@pytest.fixture(scope="module")
def good(simulated, tmp_path_factory):
    out = tmp_path_factory.mktemp("good") / "out"
    result = batch(simulated.good, out, "--method", simulated.method)
    return result, out, json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_simulated_sample_identified_and_quantified(good):
    result, out, document = good
    assert result.exit_code == 0, result.output
    assert_layout(document)
    q = entry(document, "X1", ANALYTE)
    assert q["status"] == "quantified" and q["reportable"]
    assert abs(q["concentration"] - SAMPLE_LEVEL) <= q["expanded_uncertainty"]
    assert q["identification"]["verdict"] == "identified" and q["identification"]["agrees"]
    # 80 ug/mL x dilution 10 x 1 mL = 0.8 mg in 50 mg of powder: 1.6 % w/w
    amount = q["amount_in_exhibit"]
    assert amount["mass_mg"] == pytest.approx(q["concentration"] * 10 * 1.0 / 1000)
    assert amount["purity_percent"] == pytest.approx(100 * amount["mass_mg"] / 50)
    record = next(r for r in document["runs"] if r["sample_id"] == "X1")
    assert record["internal_standards"][0]["integration"]["detected"]
    assert record["quantitation_method"]["sha256"] == hashlib.sha256(
        Path(record["quantitation_method"]["path"]).read_bytes()).hexdigest()
    assert [s["name"] for s in document["steps"]] == ["quantitation"]
    blank = entry(document, "B2", ANALYTE)
    assert blank["concentration"] is None and blank["status"] == "not detected"
    calibration = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    points = calibration["calibrations"][ANALYTE]["points"]
    assert [p["sample_id"] for p in points] == [f"CAL-{c:g}" for c in LEVELS]
    assert calibration["calibrations"][ANALYTE]["status"] == "ok"
    assert (out / "calibration_methamphetamine.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "X1: Methamphetamine" in result.output and "mg in the exhibit" in result.output


def test_a_value_identification_does_not_confirm_is_withdrawn(good, simulated):
    """MDMA where methamphetamine elutes: a number on m/z 58, but not methamphetamine."""
    from gcms.quantitation import load_method, quantitate
    from gcms.sequence import read_sequence

    _, _, document = good
    alone = quantitate(read_sequence(simulated.good), load_method(simulated.method))
    assert alone.record("X2").quantity(ANALYTE).concentration is not None  # no qualifier
    q = entry(document, "X2", ANALYTE)
    assert q["concentration"] is None and q["amount_in_exhibit"] is None
    assert q["status"] == "not confirmed" and not q["reportable"]
    assert q["estimate"] == pytest.approx(alone.record("X2").quantity(ANALYTE).estimate)
    check = q["identification"]
    assert check["verdict"] != "identified" and not check["agrees"]
    assert any(f.startswith("identification: ") for f in q["flags"])
    assert "does not confirm" in q["message"]
    record = next(r for r in document["runs"] if r["sample_id"] == "X2")
    assert not any(f["substance"] == ANALYTE for f in record["findings"]["identified"])


def test_calibrators_without_internal_standard_give_no_number(simulated, tmp_path):
    out = tmp_path / "out"
    result = batch(simulated.no_is, out, "--method", simulated.method)
    assert result.exit_code == 1, result.output
    assert "calibration of Methamphetamine failed" in result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert_layout(document)
    assert any("internal standard" in f for f in document["step_failures"])
    for record in document["runs"]:
        for q in record["quantitation"]:
            assert q["concentration"] is None and q["uncertainty"] is None
            assert not q["reportable"] and q["amount_in_exhibit"] is None
    q = entry(document, "X1", ANALYTE)
    assert q["status"] == "not reportable" and "calibration failed" in q["flags"]
    assert "internal standard" in q["message"] and "absent" in q["message"]
    # the calibrators are named by file and position in a run's record
    assert "noiscal20.cdf (#2)" in q["message"]
    calibration = json.loads((out / "calibration.json").read_text(encoding="utf-8"))
    assert calibration["calibrations"][ANALYTE]["status"] == "failed"
    assert (out / "calibration_methamphetamine.png").exists()


def test_without_method_the_batch_has_no_quantitation(simulated, tmp_path):
    out = tmp_path / "out"
    result = batch(simulated.good, out)
    assert result.exit_code == 0, result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert document["steps"] == [] and not (out / "calibration.json").exists()
    assert all("quantitation" not in r for r in document["runs"])


def test_unusable_method_is_a_usage_error(simulated, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(toml_text({**METHOD, "analyte": [{**METHOD["analyte"][0], "weighting": "1/y"}]}))
    for method in (bad, tmp_path / "missing.toml"):
        result = batch(simulated.good, tmp_path / "out", "--method", method)
        assert result.exit_code == 2, result.output
        assert "--method" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out" / "results.json").exists()


class _ChangeFileFirst:
    """The quantitation step, run after a run file was replaced since pass 1."""

    name, stage = "quantitation", "after-judgement"

    def __init__(self, step, source, target):
        self.step, self.source, self.target = step, source, target

    def __call__(self, context):
        shutil.copy(self.source, self.target)
        self.step(context)


def test_changed_run_file_is_not_quantified(simulated, tmp_path):
    """Identification and quantitation rest on the same bytes (digest of pass 1)."""
    from gcms.batch import run_batch
    from gcms.quantitation.batch import load_step

    for name in ("blank1", "blank", "mdma", *(f"cal{c:g}" for c in LEVELS)):
        shutil.copy(simulated.root / f"{name}.cdf", tmp_path / f"{name}.cdf")
    shutil.copy(simulated.root / "sample.cdf", tmp_path / "x1.cdf")
    sequence = tmp_path / "seq.csv"
    sequence.write_text(simulated.good.read_text(encoding="utf-8").replace(
        "sample.cdf", "x1.cdf"), encoding="utf-8")
    step = _ChangeFileFirst(load_step(simulated.method), tmp_path / "mdma.cdf",
                            tmp_path / "x1.cdf")
    result = run_batch(sequence, library=demo_library_path(), workers=1, steps=[step])
    record = next(r for r in result.records if r["sample_id"] == "X1")
    assert record["quantitation"] == []
    assert any("changed since it was identified" in p for p in record["problems"])
    assert any("X1" in f and "changed" in f for f in result.step_failures)
    assert entry({"runs": result.records}, "X2", ANALYTE)["estimate"] is not None


# --------------------------------------------------------------------- the rule itself
def _judgement(index, rt, name, verdict, failed=(), alternatives=()):
    chosen = SimpleNamespace(substance=Substance(name), verdict=verdict, failed=tuple(failed))
    return SimpleNamespace(index=index, component=SimpleNamespace(rt_s=rt), chosen=chosen,
                           alternatives=tuple(alternatives), substance=name, verdict=verdict)


def _quantity(detected, rt=150.0, concentration=42.0):
    integration = Integration(signal="m/z 58", detected=detected, window_s=(142.0, 158.0),
                              rt_s=rt if detected else None,
                              start_s=rt - 3 if detected else None,
                              end_s=rt + 4 if detected else None)
    return Quantity(substance=ANALYTE, role="unknown", unit="ug/mL",
                    status="quantified" if detected else "not detected", reportable=detected,
                    concentration=concentration if detected else None,
                    uncertainty=2.0 if detected else None, estimate=concentration,
                    integration=integration)


def test_identification_rule():
    from gcms.quantitation.batch import AgreementSettings, check_identification, reconcile

    analyte = parse_method(METHOD, source="m.toml").analytes[0]
    # identified inside the integrated peak
    check = check_identification(analyte, _quantity(True), [
        _judgement(0, 120.0, "Caffeine", "identified"),
        _judgement(1, 150.4, ANALYTE, "identified")])
    assert check.agrees and check.component == 1
    assert reconcile(_quantity(True), check) == _quantity(True)
    # identified, but one second outside the limits widened by the margin
    check = check_identification(analyte, _quantity(True), [
        _judgement(1, 155.1, ANALYTE, "identified")],
        settings=AgreementSettings(apex_margin_s=0.0))
    assert not check.agrees and check.identified_elsewhere_s == (155.1,)
    # the peak is reported as another substance; the analyte only an alternative
    alt = SimpleNamespace(substance=Substance(ANALYTE), verdict="not identified",
                          failed=("match_factor",))
    check = check_identification(analyte, _quantity(True), [
        _judgement(2, 150.0, LOOKALIKE, "inconclusive", alternatives=[alt])])
    assert check.verdict == "not identified" and check.reported_as == LOOKALIKE
    assert "match_factor" in check.detail and LOOKALIKE in check.detail
    withdrawn = reconcile(_quantity(True), check)
    assert withdrawn.concentration is None and withdrawn.estimate == 42.0
    assert withdrawn.status == "not confirmed" and not withdrawn.reportable
    # nothing integrated, yet identified in the method's window: flagged, no number made up
    check = check_identification(analyte, _quantity(False), [
        _judgement(0, 149.0, ANALYTE, "identified")])
    assert not check.agrees
    flagged = reconcile(_quantity(False), check)
    assert flagged.concentration is None and "no peak" in flagged.flags[-1]
    # nothing integrated, nothing identified: they agree
    assert check_identification(analyte, _quantity(False), []).agrees


# --------------------------------------------------------------------- the real sequence
REAL_METHOD = Path(__file__).resolve().parents[2] / "instruments" / "methods" / \
    "lrcfs-etizolam-is.toml"


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    root = tmp_path_factory.mktemp("lrcfs-batch")
    sequence, library = etizolam_quant_setup(root, other_spectra=400)
    out = root / "out"
    result = batch(sequence, out, "--library", library, "--method", REAL_METHOD)
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return SimpleNamespace(root=root, sequence=sequence, out=out, result=result,
                           document=document)


def _authors():
    path = shared_file("lrcfs-etizolam", "GCMSResultsCardData.csv")
    with open(path, newline="") as handle:
        return {row["DataName"][-3:]: row for row in csv.DictReader(handle)}


@pytest.mark.shared
def test_real_sequence_identified_and_quantified(real):
    assert real.result.exit_code == 0, real.result.output
    document = real.document
    assert_layout(document)
    published = float(_authors()["014"]["CorrectedConcentration"])  # 34.54 ug/mL
    case = entry(document, "LR-014", "Etizolam")
    assert case["status"] == "quantified" and case["reportable"]
    assert case["concentration"] == pytest.approx(published, rel=0.10)
    assert case["identification"]["verdict"] == "identified"
    record = next(r for r in document["runs"] if r["sample_id"] == "LR-014")
    assert "Etizolam" in [f["substance"] for f in record["findings"]["identified"]]
    assert case["amount_in_exhibit"]["mass_mg"] == pytest.approx(
        case["concentration"] * 2.5 / 1000)
    check = entry(document, "LR-010", "Etizolam")
    assert check["concentration"] == pytest.approx(40.0, rel=0.10) and check["check"]["passed"]
    for sample_id in ("LR-016", "LR-001"):
        nothing = entry(document, sample_id, "Etizolam")
        assert nothing["concentration"] is None and nothing["status"] == "not detected"
        record = next(r for r in document["runs"] if r["sample_id"] == sample_id)
        assert not (record.get("findings") or {}).get("identified")
    calibration = json.loads((real.out / "calibration.json").read_text(encoding="utf-8"))
    etizolam = calibration["calibrations"]["Etizolam"]
    assert etizolam["status"] == "ok" and etizolam["fit"]["r_squared"] >= 0.99
    assert [p["sample_id"] for p in etizolam["points"]] == [
        f"LR-{n}" for n in ETIZOLAM_CALIBRATORS]
    assert (real.out / "calibration_etizolam.png").stat().st_size > 10_000


@pytest.mark.shared
def test_real_report_shows_the_quantitation(real):
    from gcms.report.adapters import from_results

    model = from_results(real.out / "results.json", "FL21-1010", draw_chromatograms=False)
    (row,) = model.quantitation
    case = entry(real.document, "LR-014", "Etizolam")
    assert row.sample_id == "LR-014" and row.substance == "Etizolam" and row.reportable
    assert row.concentration == pytest.approx(case["concentration"])
    assert row.expanded_uncertainty == pytest.approx(case["expanded_uncertainty"])
    assert row.mass_mg == pytest.approx(case["amount_in_exhibit"]["mass_mg"])
    assert row.mass_expanded_uncertainty_mg == pytest.approx(
        case["amount_in_exhibit"]["mass_uncertainty_mg"] * case["coverage_factor"])
    assert from_results(real.out / "results.json", "FL22-0210",
                        draw_chromatograms=False).quantitation[0].concentration is None


@pytest.mark.shared
def test_real_sequence_without_its_internal_standard(real, tmp_path):
    """The method's IS where the calibrators hold none: messages, never a number."""
    method = tmp_path / "no-is.toml"
    method.write_text(REAL_METHOD.read_text(encoding="utf-8").replace(
        "rt_s = 390.6", "rt_s = 300.0"), encoding="utf-8")
    out = tmp_path / "out"
    # pass 1 reused: the same sequence's batch continued (--resume) from its cache
    shutil.copytree(real.out / "cache", out / "cache")
    shutil.copy2(real.out / "batch.json", out / "batch.json")
    result = batch(real.sequence, out, "--library", real.root / "lib.h5", "--method", method,
                   "--resume")
    assert result.exit_code == 1, result.output
    assert "12 reused from the cache" in result.output
    document = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert_layout(document)
    for record in document["runs"]:
        for q in record["quantitation"]:
            assert q["concentration"] is None and not q["reportable"]
    case = entry(document, "LR-014", "Etizolam")
    assert case["status"] == "not reportable"
    assert "internal standard" in case["message"]
    # identification is untouched by the quantitation's failure
    record = next(r for r in document["runs"] if r["sample_id"] == "LR-014")
    assert "Etizolam" in [f["substance"] for f in record["findings"]["identified"]]
