"""Thresholds from known pairs: stated rates against the simulator's truth, ROC, JSON, PNG."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from gcms.errors import GcmsError
from gcms.profiling.calibrate import (
    LinkCalibration,
    calibrate,
    calibrate_groups,
    clopper_pearson,
    load_calibration,
    plot_calibration,
)
from gcms.profiling.method import find_profiling_method
from gcms.profiling.simulate import BatchModel, pair_scores, simulate_seizures

LABILE = ("cis-cinnamoylcocaine", "trans-cinnamoylcocaine")


@pytest.fixture(scope="module")
def cocaine():
    return find_profiling_method("cocaine")


@pytest.fixture(scope="module")
def calibration(cocaine):
    seizures = simulate_seizures(cocaine, BatchModel(n_batches=100, seed=1, labile=LABILE))
    return calibrate_groups(seizures.values(cocaine), seizures.batch, simulated=True,
                            method=cocaine.identity())


def test_clopper_pearson_matches_scipy():
    for k, n in ((0, 20), (3, 400), (20, 20), (7, 9)):
        ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
        assert clopper_pearson(k, n) == pytest.approx((ci.low, ci.high))


def test_rates_hold_on_fresh_simulated_seizures(cocaine, calibration):
    """Fresh batches of the same market: the observed rates fall in the stated intervals."""
    assert calibration.simulated and "SIMULATED" in calibration.statement()
    fp_low, fp_high = calibration.false_positive.interval
    fn_low, fn_high = calibration.false_negative.interval
    fps, fns = [], []
    for seed in range(2, 14):
        fresh = simulate_seizures(cocaine, BatchModel(n_batches=100, seed=seed, labile=LABILE))
        linked, unlinked = pair_scores(fresh.values(cocaine), fresh.batch, "pearson")
        fps.append(calibration.is_link(unlinked).mean())
        fns.append((~calibration.is_link(linked)).mean())
    fps, fns = np.array(fps), np.array(fns)
    assert fp_low <= fps.mean() <= fp_high
    assert fn_low <= fns.mean() <= fn_high
    # each fresh set has its own sampling error too: most, not all, sets fall inside
    assert np.mean((fps >= fp_low) & (fps <= fp_high)) >= 0.75
    assert np.mean((fns >= fn_low) & (fns <= fn_high)) >= 0.75
    # and linking works at all: most linked pairs found, few unlinked ones called linked
    assert fns.mean() < 0.10 and fps.mean() < 0.10
    assert calibration.auc > 0.95


def test_threshold_rules_and_counts():
    linked = np.array([0.95, 0.97, 0.99, 0.90, 0.80])
    unlinked = np.array([0.10, 0.50, 0.85, 0.60, 0.30, 0.20, 0.70, 0.40])
    c = calibrate(linked, unlinked)
    # the pair at 0.80 and the unlinked one at 0.85 overlap: one error either way
    assert c.false_positive.errors + c.false_negative.errors == 1
    assert c.is_link(0.99) and not c.is_link(0.1)
    strict = calibrate(linked, unlinked, rule="max-false-positive", max_false_positive_rate=0)
    assert strict.false_positive.errors == 0 and strict.threshold > 0.85
    assert strict.false_negative.errors == 1
    # a distance: small is close
    d = calibrate(1 - linked, 1 - unlinked, higher_is_closer=False, metric="euclidean")
    assert d.false_positive.errors + d.false_negative.errors == 1
    assert d.is_link(0.01) and not d.is_link(0.9)
    # perfectly separated: threshold in the gap, zero errors, an upper bound above zero
    s = calibrate([0.9, 0.95, 0.99], [0.1, 0.2, 0.3])
    assert 0.3 < s.threshold <= 0.9
    assert s.false_positive.rate == 0 and s.false_positive.interval[1] > 0
    assert s.auc == pytest.approx(1.0)
    with pytest.raises(GcmsError, match="at least 2 known-linked"):
        calibrate([0.9], [0.1, 0.2])
    with pytest.raises(GcmsError, match="not a finite"):
        calibrate([0.9, np.nan], [0.1, 0.2])


def test_json_and_png(tmp_path, calibration):
    path = calibration.save(tmp_path / "calibration.json")
    data = json.loads(path.read_text())
    assert data["simulated"] is True and data["threshold"] == calibration.threshold
    assert len(data["roc"]["false_positive_rate"]) == len(data["roc"]["true_positive_rate"])
    assert data["false_positive"]["bootstrap"] is not None
    back = load_calibration(path)
    assert back.threshold == calibration.threshold
    assert back.false_positive.interval == calibration.false_positive.interval
    assert back.statement() == calibration.statement()
    png = plot_calibration(calibration, tmp_path / "calibration.png")
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # something was drawn
    (tmp_path / "bad.json").write_text('{"schema": "x"}')
    with pytest.raises(GcmsError, match="bad.json: not a gcms link calibration"):
        load_calibration(tmp_path / "bad.json")
    assert isinstance(back, LinkCalibration)


def test_simulated_set_is_labelled(cocaine):
    seizures = simulate_seizures(cocaine, BatchModel(n_batches=3, per_batch=2))
    data = seizures.to_dict(cocaine)
    assert data["simulated"] is True and "SIMULATED" in data["note"]
    assert len(data["exhibits"]) == 6 and data["exhibits"][0]["batch"] == "B001"


# -- the statistics against independent computations --------------------------------------

def test_auc_is_the_mann_whitney_statistic():
    """The ROC area equals U / (n1 n2) (ties counted half), as scipy computes it."""
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    linked = np.round(rng.normal(0.9, 0.05, 60), 2)  # rounded: tied scores on both sides
    unlinked = np.round(rng.normal(0.8, 0.08, 90), 2)
    u = mannwhitneyu(linked, unlinked).statistic
    assert calibrate(linked, unlinked).auc == pytest.approx(u / (60 * 90), abs=1e-12)
    # a distance: small is close, so the unlinked pairs are the larger ones
    u = mannwhitneyu(unlinked, linked).statistic
    assert calibrate(linked, unlinked, higher_is_closer=False).auc == pytest.approx(
        u / (60 * 90), abs=1e-12)


@pytest.mark.parametrize("higher", [True, False])
@pytest.mark.parametrize("rule", ["min-total-error", "max-false-positive"])
def test_stated_counts_and_threshold_are_optimal_by_brute_force(higher, rule):
    """Counted directly at the stated threshold; no threshold on a fine grid does better."""
    rng = np.random.default_rng(7)
    linked = np.round(rng.normal(0.9 if higher else 0.1, 0.05, 80), 3)
    unlinked = np.round(rng.normal(0.8 if higher else 0.2, 0.05, 150), 3)
    c = calibrate(linked, unlinked, higher_is_closer=higher, rule=rule,
                  max_false_positive_rate=0.05)

    def counts(t):
        if higher:
            return int((linked < t).sum()), int((unlinked >= t).sum())
        return int((linked > t).sum()), int((unlinked <= t).sum())

    fn, fp = counts(c.threshold)
    assert (c.false_negative.errors, c.false_positive.errors) == (fn, fp)
    assert (c.false_negative.pairs, c.false_positive.pairs) == (80, 150)
    grid = [counts(t) for t in np.linspace(-0.2, 1.2, 14_001)]
    if rule == "min-total-error":
        best = min(a / 80 + b / 150 for a, b in grid)
        assert fn / 80 + fp / 150 == pytest.approx(best)
    else:
        allowed = [(a, b) for a, b in grid if b <= 0.05 * 150]
        assert (fn, fp) == min(allowed)  # fewest missed links, then fewest false positives


def test_a_tied_threshold_sits_in_the_middle_of_its_range():
    # separated: every threshold in (0.3, 0.9] makes no error; the middle is 0.6, not 0.9
    assert calibrate([0.9, 0.95, 0.99], [0.1, 0.2, 0.3]).threshold == pytest.approx(0.6)
    d = calibrate([0.01, 0.05, 0.1], [0.7, 0.8, 0.9], higher_is_closer=False,
                  metric="euclidean")
    assert d.threshold == pytest.approx(0.4)
    # max-false-positive: of the thresholds missing no link, the one with no false positive
    m = calibrate([0.9, 0.95], [0.1, 0.85], rule="max-false-positive",
                  max_false_positive_rate=0.5)
    assert m.false_positive.errors == 0 and m.false_negative.errors == 0


def test_held_out_rates_are_not_optimistic():
    """Linked and unlinked scores from one distribution: no threshold can tell them apart.

    Counted on the pairs it was fitted to, the best threshold still looks better than
    chance (FPR + FNR < 1: resubstitution bias); cross-validated, it does not.
    """
    fitted, held = [], []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        c = calibrate(rng.normal(size=200), rng.normal(size=200), seed=seed)
        fitted.append(c.false_positive.rate + c.false_negative.rate)
        fp, fn, how = c.held_out
        assert how == "5-fold cross-validation over the pairs"
        assert fp.pairs == 200 and fn.pairs == 200  # every pair held out once
        held.append(fp.rate + fn.rate)
    assert max(fitted) < 0.98 and np.mean(fitted) < 0.95
    assert 0.9 < np.mean(held) < 1.1


def test_held_out_by_groups_is_stated_and_round_trips(calibration, tmp_path):
    fp, fn, how = calibration.held_out
    assert how == "5-fold cross-validation over the groups"
    assert "held out (5-fold cross-validation over the groups)" in calibration.statement()
    # only pairs within one fold are held out: fewer than all, every linked pair included
    assert fn.pairs == calibration.false_negative.pairs
    assert 0 < fp.pairs < calibration.false_positive.pairs
    # held-out pairs share exhibits and batches: their interval comes from the group
    # bootstrap too, not only from Clopper-Pearson (which takes the pairs as independent)
    for rate in (fp, fn):
        assert rate.bootstrap is not None
        assert rate.interval[0] <= rate.rate <= rate.interval[1]
        assert rate.interval[1] - rate.interval[0] >= np.subtract(
            *clopper_pearson(rate.errors, rate.pairs)[::-1])
    again = load_calibration(calibration.save(tmp_path / "c.json"))
    assert again.held_out[0].to_dict() == fp.to_dict() and again.statement() == \
        calibration.statement()
