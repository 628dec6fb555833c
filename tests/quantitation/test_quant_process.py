"""A whole sequence of simulated runs with known amounts, through gcms.quantitation."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from quant_sim import (
    ANALYTE_RT,
    Compound,
    Simulated,
    make_run,
    method,
    method_document,
    standard_run,
)

from gcms.errors import FormatError
from gcms.quantitation import parse_method, quantitate
from gcms.quantitation.quantity import amount_in_exhibit
from gcms.sequence import Injection, Sequence

LEVELS = (10.0, 25.0, 50.0, 100.0, 150.0, 200.0)


def injection(position, sample_id, kind, **kw):
    return Injection(position=position, file=Path(f"/sim/{sample_id}.D"), type=kind,
                     sample_id=sample_id, **kw)


def build(rows):
    """rows: (sample_id, type, run, injection keywords) -> (Sequence, runs by sample id)."""
    injections, runs = [], {}
    for i, (sid, kind, run, kw) in enumerate(rows):
        injections.append(injection(i, sid, kind, **kw))
        runs[sid] = run
    return Sequence(path=Path("/sim/sequence.csv"), injections=tuple(injections)), runs


def calibrators(levels=LEVELS, scatter=0.02, **kw):
    return [(f"CAL-{c:g}", "standard", standard_run(c, seed=int(c), response_scatter=scatter,
                                                     **kw),
             {"reference_substances": ("Simalyte",), "concentration": c, "unit": "ug/mL"})
            for c in levels]


@pytest.fixture(scope="module")
def sequence_result():
    rows = [("BLK-1", "blank", standard_run(0, seed=501), {}),
            *calibrators(),
            ("BLK-2", "blank", standard_run(0, seed=502), {}),
            ("QC-40", "qc", standard_run(40, seed=40_1), {"concentration": 40.0,
                                                          "unit": "ug/mL"}),
            ("QC-BAD", "qc", standard_run(40, seed=40_2), {"concentration": 60.0,
                                                           "unit": "ug/mL"}),
            ("S-37", "sample", standard_run(37, seed=37), {"volume_ml": 2.5, "dilution": 10.0,
                                                          "amount": 50.0, "amount_unit": "mg"}),
            ("S-80", "sample", standard_run(80, seed=80), {"amount": 2, "amount_unit": "tablet",
                                                          "volume_ml": 10.0}),
            ("S-175", "sample", standard_run(175, seed=175), {}),
            ("S-LOW", "sample", standard_run(4, seed=4), {}),
            ("S-HIGH", "sample", standard_run(320, seed=320), {}),
            ("S-NOIS", "sample", standard_run(60, seed=61, is_amount=None), {}),
            ("S-NONE", "sample", standard_run(0, seed=999), {}),
            ("BLK-3", "blank", standard_run(0, seed=503), {})]
    seq, runs = build(rows)
    return quantitate(seq, method(), runs=runs)


def quantity(result, sample_id):
    (q,) = result.record(sample_id).quantities
    return q


def test_calibration_of_the_simulated_sequence(sequence_result):
    cal = sequence_result.calibrations["Simalyte"]
    assert cal.ok and cal.fit.r_squared >= 0.99
    assert [p.used for p in cal.points] == [True] * len(LEVELS)
    assert cal.fit.slope == pytest.approx(2000.0 / 150_000.0 * 0.97, rel=0.08)
    assert cal.lod_blank is not None and cal.lod_blank < cal.reporting_loq == 10.0
    for record in sequence_result.records:
        (is_measure,) = record.internal_standards
        if record.sample_id != "S-NOIS":
            assert is_measure.integration.detected


@pytest.mark.parametrize("sample_id, truth", [("S-37", 37.0), ("S-80", 80.0),
                                              ("S-175", 175.0), ("QC-40", 40.0)])
def test_known_amounts_recovered_within_the_stated_uncertainty(sequence_result, sample_id, truth):
    q = quantity(sequence_result, sample_id)
    assert q.status == "quantified" and q.reportable
    assert abs(q.concentration - truth) <= q.expanded_uncertainty
    assert q.expanded_uncertainty < 0.2 * truth  # a claim that could fail
    assert q.coverage_factor == pytest.approx(2.78, abs=0.01)  # t(0.975, 6 - 2)
    assert all(c.passed for c in q.qualifiers)


def test_amount_in_the_exhibit(sequence_result):
    q = quantity(sequence_result, "S-37")
    mass = q.concentration * 10.0 * 2.5 / 1000.0
    assert q.amount.mass_mg == pytest.approx(mass)
    assert q.amount.purity_percent == pytest.approx(100 * mass / 50.0)
    assert q.amount.mass_uncertainty_mg == pytest.approx(mass * q.uncertainty / q.concentration)
    tablets = quantity(sequence_result, "S-80").amount
    assert tablets.per_unit == "mg per tablet"
    assert tablets.per_unit_mg == pytest.approx(tablets.mass_mg / 2)
    assert tablets.purity_percent is None
    assert "no volume_ml" in quantity(sequence_result, "S-175").amount.message


def test_missing_internal_standard_gives_a_message_never_a_number(sequence_result):
    q = quantity(sequence_result, "S-NOIS")
    assert q.status == "not reportable" and not q.reportable
    assert q.concentration is None and q.uncertainty is None and q.estimate is None
    assert "internal standard sim IS not found" in q.message
    assert "internal standard absent" in q.flags


def test_check_standards_against_nominal(sequence_result):
    good = quantity(sequence_result, "QC-40")
    assert good.role == "check" and good.check.passed
    assert good.check.recovery_percent == pytest.approx(100 * good.concentration / 40)
    bad = quantity(sequence_result, "QC-BAD")
    assert not bad.check.passed and bad.check.nominal == 60.0
    assert any("QC-BAD" in f and "check standard" in f for f in sequence_result.findings)


def test_below_loq_above_range_not_detected(sequence_result):
    low = quantity(sequence_result, "S-LOW")
    assert low.status == "below LOQ" and low.concentration is None
    assert low.estimate == pytest.approx(4.0, abs=2.0)
    assert "LOQ of 10" in low.message
    high = quantity(sequence_result, "S-HIGH")
    assert high.status == "above range" and not high.reportable
    assert high.concentration == pytest.approx(320.0, rel=0.1)
    assert any("extrapolated" in f for f in high.flags)
    none = quantity(sequence_result, "S-NONE")
    assert none.status == "not detected" and none.concentration is None
    for blank in ("BLK-1", "BLK-2", "BLK-3"):
        q = quantity(sequence_result, blank)
        assert q.role == "blank" and q.status == "not detected"


def test_results_json_shape(sequence_result):
    data = json.loads(json.dumps(sequence_result.to_dict()))
    record = next(r for r in data["runs"] if r["sample_id"] == "S-37")
    (entry,) = record["quantitation"]
    for key in ("substance", "concentration", "unit", "uncertainty", "flags",
                "amount_in_exhibit", "status", "reportable", "integration", "qualifiers"):
        assert key in entry
    assert entry["integration"]["start_s"] < ANALYTE_RT < entry["integration"]["end_s"]
    calibration = json.loads(json.dumps(sequence_result.calibration_dict()))
    assert calibration["calibrations"]["Simalyte"]["reference"]["n_standards"] == len(LEVELS)
    assert sequence_result.quantitation_for("S-37")[0]["substance"] == "Simalyte"


def test_saturated_quantifier_gives_a_message_never_a_number():
    seq, runs = build([*calibrators(),
                       ("S-SAT", "sample", standard_run(2000, seed=7, ceiling=300_000.0), {})])
    result = quantitate(seq, method(), runs=runs)
    q = quantity(result, "S-SAT")
    assert q.status == "not reportable" and q.concentration is None and q.estimate is None
    assert "saturated" in q.message and "flat top" in q.message
    assert "saturated" in q.flags


def test_one_point_calibration_makes_every_result_a_message():
    seq, runs = build([*calibrators(levels=(100.0,)),
                       ("S-50", "sample", standard_run(50, seed=50), {})])
    result = quantitate(seq, method(), runs=runs)
    cal = result.calibrations["Simalyte"]
    assert not cal.ok and "too few calibrators: 1 usable" in cal.reasons[0]
    for record in result.records:
        q = record.quantities[0]
        assert q.concentration is None and q.estimate is None and not q.reportable
        assert "calibration of Simalyte failed" in q.message
    assert result.findings and "too few calibrators" in result.findings[0]


def test_internal_standard_absent_from_the_calibrators_fails_the_calibration():
    seq, runs = build([*calibrators(is_amount=None),
                       ("S-50", "sample", standard_run(50, seed=50), {})])
    result = quantitate(seq, method(), runs=runs)
    cal = result.calibrations["Simalyte"]
    assert not cal.ok
    assert cal.reasons[0].startswith("internal standard sim IS absent or unusable in 6 of 6")
    assert result.record("S-50").quantities[0].status == "not reportable"


def test_wrong_qualifier_ratio_is_not_confirmed():
    odd = make_run(Simulated(compounds=[
        Compound(390.0, 150_000.0, {140: 1.0, 141: 0.11}, sigma_s=0.8, tau_s=0.5),
        Compound(ANALYTE_RT, 100_000.0, {342: 1.0, 344: 0.39, 313: 0.9, 266: 0.29})], seed=3))
    seq, runs = build([*calibrators(), ("S-ODD", "sample", odd, {})])
    q = quantity(quantitate(seq, method(), runs=runs), "S-ODD")
    assert q.status == "not confirmed" and not q.reportable
    assert q.concentration == pytest.approx(50.0, rel=0.1)
    assert [c.passed for c in q.qualifiers] == [True, False, True]
    assert any("m/z 313" in f for f in q.flags)


def test_unreadable_run_is_reported_and_the_others_go_on():
    seq, runs = build([*calibrators(), ("S-50", "sample", standard_run(50, seed=50), {}),
                       ("S-BAD", "sample", None, {})])

    def load(inj):
        if runs[inj.sample_id] is None:
            raise FormatError(f"{inj.file}: not a format gcms reads")
        return runs[inj.sample_id]

    result = quantitate(seq, method(), runs=load)
    assert result.record("S-BAD").error.endswith("not a format gcms reads")
    assert result.record("S-BAD").quantities == ()
    assert result.record("S-50").quantities[0].status == "quantified"
    assert any("S-BAD" in f for f in result.findings)


@pytest.mark.parametrize("change", [{"signal": "tic"}, {"internal_standard": ""}])
def test_tic_and_external_calibration(change):
    doc = method_document()
    doc["analyte"][0].update(change)
    m = parse_method(doc)
    seq, runs = build([*calibrators(), ("S-80", "sample", standard_run(80, seed=80), {})])
    result = quantitate(seq, m, runs=runs)
    q = quantity(result, "S-80")
    assert result.calibrations["Simalyte"].ok
    assert abs(q.concentration - 80.0) <= q.expanded_uncertainty
    assert q.internal_standard == (None if change.get("internal_standard") == "" else "sim IS")
    assert q.integration.signal == ("TIC" if change.get("signal") else "m/z 342")


def test_amount_rules():
    inj = injection(0, "X", "sample", volume_ml=5.0, dilution=2.0, amount=0.25, amount_unit="g")
    out = amount_in_exhibit(100.0, 5.0, "mg/L", inj)
    assert out.mass_mg == pytest.approx(100.0 * 2 * 5 / 1000)  # mg/L is ug/mL
    assert out.purity_percent == pytest.approx(100 * 1.0 / 250.0)
    assert out.purity_uncertainty_percent == pytest.approx(out.purity_percent * 0.05)
    ng = amount_in_exhibit(500.0, None, "ng/mL", dataclasses.replace(inj, amount=None))
    assert ng.mass_mg == pytest.approx(0.5 * 2 * 5 / 1000) and "mass in the extract" in ng.message
    no_unit = amount_in_exhibit(1.0, 0.1, "ug/mL", dataclasses.replace(inj, amount_unit=None))
    assert "no amount_unit" in no_unit.message


def test_progress_is_called_per_injection():
    seq, runs = build(calibrators())
    seen = []
    quantitate(seq, method(), runs=runs, progress=seen.append)
    assert [i.sample_id for i in seen] == [i.sample_id for i in seq]
    assert np.isfinite(quantitate(seq, method(), runs=runs).calibrations["Simalyte"].lod)


def test_results_pickle_for_batch_workers(sequence_result):
    import pickle

    copy = pickle.loads(pickle.dumps(sequence_result))
    assert copy.to_dict() == sequence_result.to_dict()
    fit = copy.calibrations["Simalyte"].fit
    assert not fit.coefficients.flags.writeable and not fit.covariance.flags.writeable


def test_internal_standard_off_the_calibrators_is_flagged():
    from quant_sim import IS_AREA

    interfered = make_run(Simulated(compounds=[
        Compound(390.0, IS_AREA, {140: 1.0, 141: 0.40}, sigma_s=0.8, tau_s=0.5),
        Compound(ANALYTE_RT, 100_000.0, {342: 1.0, 344: 0.39, 313: 0.35, 266: 0.29})], seed=8))
    seq, runs = build([*calibrators(),
                       ("S-HALF-IS", "sample", standard_run(50, seed=9, is_amount=0.3 * IS_AREA),
                        {}),
                       ("S-INTERF", "sample", interfered, {}),
                       ("S-OK", "sample", standard_run(50, seed=10), {})])
    result = quantitate(seq, method(), runs=runs)
    reference = result.references["Simalyte"]["internal_standard"]
    assert reference["qualifier_ratio"][0] == pytest.approx(0.11, rel=0.05)
    low = quantity(result, "S-HALF-IS")
    assert low.status == "not confirmed" and not low.reportable
    assert any("internal standard area 30 %" in f for f in low.flags)
    assert "internal standard's response" in low.message
    odd = quantity(result, "S-INTERF")
    assert any("internal standard qualifier m/z 141" in f for f in odd.flags)
    assert quantity(result, "S-OK").status == "quantified"


def test_calibrators_are_judged_by_accuracy_not_by_the_range_they_define():
    # the lowest reads low and the top reads high, as real calibrators do
    rows = [(f"CAL-{c:g}", "standard", standard_run(c * f, seed=int(c)),
             {"reference_substances": ("Simalyte",), "concentration": c, "unit": "ug/mL"})
            for c, f in zip(LEVELS, (0.88, 1, 1, 1, 1, 1.05), strict=True)]
    seq, runs = build(rows)
    result = quantitate(seq, method(), runs=runs)
    cal = result.calibrations["Simalyte"]
    assert cal.points[0].back_calculated < 10 and cal.points[-1].back_calculated > 200
    for point in cal.points:
        q = quantity(result, point.sample_id)
        assert q.role == "calibrator" and q.status == "quantified"
        assert q.concentration == pytest.approx(point.back_calculated)
        assert q.check.passed and q.check.tolerance_percent == point.tolerance_percent


def test_failed_calibration_still_draws_its_plot(tmp_path):
    from matplotlib.image import imread

    from gcms.quantitation import write_results

    seq, runs = build([*calibrators(levels=(50.0, 100.0)),
                       ("S-50", "sample", standard_run(50, seed=50), {})])
    result = quantitate(seq, method(), runs=runs)
    written = write_results(result, tmp_path / "out")
    png = tmp_path / "out" / "calibration_simalyte.png"
    assert png in written and imread(png).std() > 0.01
    data = json.loads((tmp_path / "out" / "calibration.json").read_text())
    assert data["calibrations"]["Simalyte"]["status"] == "failed"
