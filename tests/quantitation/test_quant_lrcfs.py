"""The real etizolam sequence (../shared/data/lrcfs-etizolam) through the shipped method."""

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import shared_file

import gcms.io
from gcms.quantitation import load_method, quantitate
from gcms.sequence import read_sequence

pytestmark = pytest.mark.shared

METHOD = Path(__file__).resolve().parents[2] / "instruments" / "methods" / "lrcfs-etizolam-is.toml"
CALIBRATORS = {"002": 25, "003": 50, "004": 75, "005": 100, "006": 150, "007": 200, "008": 250}


def authors():
    """The authors' per-run results (GCMSResultsCardData.csv), keyed by run number."""
    path = shared_file("lrcfs-etizolam", "GCMSResultsCardData.csv")
    with open(path, newline="") as handle:
        return {row["DataName"][-3:]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    raw = shared_file("lrcfs-etizolam", "raw")
    rows = ["file,type,sample_id,reference_substance,concentration,unit,amount,amount_unit,"
            "volume_ml,dilution", f"{raw}/220223001.D,blank,LR-001,,,,,,,"]
    rows += [f"{raw}/220223{n}.D,standard,LR-{n},Etizolam,{c},ug/mL,,,,"
             for n, c in CALIBRATORS.items()]
    rows += [f"{raw}/220223010.D,qc,LR-010,Etizolam,40,ug/mL,,,,",
             f"{raw}/220223012.D,qc,LR-012,Etizolam,125,ug/mL,,,,",
             f"{raw}/220223014.D,sample,LR-014,,,,1,card piece,2.5,1",
             f"{raw}/220223016.D,sample,LR-016,,,,1,paper piece,2.5,1"]
    path = tmp_path_factory.mktemp("lrcfs") / "sequence.csv"
    path.write_text("\n".join(rows) + "\n")
    return quantitate(read_sequence(path), load_method(METHOD))


def q(result, sample_id):
    return result.record(sample_id).quantity("Etizolam")


def test_is_and_etizolam_found_in_every_calibrator(result):
    for n in CALIBRATORS:
        record = result.record(f"LR-{n}")
        (standard,) = record.internal_standards
        assert standard.integration.detected and not standard.integration.saturated
        etizolam = q(result, f"LR-{n}").integration
        assert etizolam.detected and not etizolam.saturated
    cal = result.calibrations["Etizolam"]
    assert cal.ok and all(p.used for p in cal.points) and cal.fit.r_squared >= 0.99


def test_retention_times_agree_with_the_authors(result):
    table = authors()
    for n in (*CALIBRATORS, "010", "012", "014"):
        record = result.record(f"LR-{n}")
        assert record.internal_standards[0].integration.rt_s == pytest.approx(
            float(table[n]["Q.P.IS"]), abs=1.0)
        assert q(result, f"LR-{n}").rt_s == pytest.approx(float(table[n]["Q.P.Etizolam"]),
                                                          abs=1.0)


@pytest.mark.parametrize("sample_id, nominal", [("LR-010", 40.0), ("LR-012", 125.0)])
def test_check_standards_within_ten_percent(result, sample_id, nominal):
    found = q(result, sample_id)
    assert found.status == "quantified" and found.check.passed
    assert found.concentration == pytest.approx(nominal, rel=0.10)


def test_case_014_within_ten_percent_of_the_authors(result):
    published = float(authors()["014"]["CorrectedConcentration"])  # 34.54 ug/mL
    found = q(result, "LR-014")
    assert found.status == "quantified" and found.reportable
    assert found.concentration == pytest.approx(published, rel=0.10)
    assert all(c.passed for c in found.qualifiers)
    # 2.5 mL of extract, no dilution: the authors' "SampleTotal" in mg
    assert found.amount.mass_mg == pytest.approx(found.concentration * 2.5 / 1000)
    assert found.amount.per_unit == "mg per card piece"


@pytest.mark.parametrize("sample_id", ["LR-016", "LR-001"])
def test_negative_case_and_blank_give_no_etizolam(result, sample_id):
    found = q(result, sample_id)
    assert found.status == "not detected"
    assert found.concentration is None and found.estimate is None


def test_regression_against_an_independent_fit(result):
    cal = result.calibrations["Etizolam"]
    x = np.array([p.concentration for p in cal.points])
    y = np.array([p.response for p in cal.points])
    coef = np.polyfit(x, y, 2, w=np.sqrt(1 / x))  # the method: quadratic, 1/x
    np.testing.assert_allclose(cal.fit.coefficients, coef[::-1], rtol=1e-8)
    found = q(result, "LR-014")
    roots = np.roots([coef[0], coef[1], coef[2] - found.response]).real
    assert found.concentration == pytest.approx(roots[np.argmin(np.abs(roots - 35))], rel=1e-9)


def read_ms1(path):
    """Scan times (s) and nominal-mass peaks of a ProteoWizard MS1 text file."""
    times, scans, current = [], [], None
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "S":
                current = []
                scans.append(current)
            elif parts[0] == "I" and parts[1] == "RTime":
                times.append(float(parts[2]) * 60.0)
            elif current is not None and parts[0][0].isdigit():
                current.append((float(parts[0]), float(parts[1])))
    return np.array(times), scans


@pytest.mark.parametrize("run", ["002", "008", "014"])
def test_areas_agree_with_the_authors_msconvert_reading(result, run):
    times, scans = read_ms1(shared_file("lrcfs-etizolam", "msconvert_ms1", f"220223{run}.ms1"))
    ours = q(result, f"LR-{run}").integration
    data = gcms.io.read(shared_file("lrcfs-etizolam", "raw", f"220223{run}.D"))
    np.testing.assert_allclose(times, data.scan_times, atol=0.01)
    xic = np.array([sum(i for m, i in scan if abs(m - 342) <= 0.5) for scan in scans])
    lo, hi = ours.start_scan, ours.end_scan
    base = np.interp(times[lo:hi + 1], [ours.start_s, ours.end_s],
                     [ours.baseline_start, ours.baseline_end])
    area = np.trapezoid(xic[lo:hi + 1] - base, times[lo:hi + 1])
    assert area == pytest.approx(ours.area, rel=0.01)
