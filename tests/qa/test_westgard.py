import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcms.qa import control_chart, westgard


def reference(values, mean, sd):
    """Westgard's rules written out point by point from their definitions (no numpy)."""
    kept = [(i, (v - mean) / sd) for i, v in enumerate(values) if not math.isnan(v)]
    out = set()
    for k, (i, z) in enumerate(kept):
        last = [zz for _, zz in kept[max(0, k - 9): k + 1]]
        if abs(z) > 2:
            out.add((i, "1-2s"))
        if abs(z) > 3:
            out.add((i, "1-3s"))
        if k >= 1:
            prev = kept[k - 1][1]
            if (prev > 2 and z > 2) or (prev < -2 and z < -2):
                out.add((i, "2-2s"))
            if (prev > 2 and z < -2) or (prev < -2 and z > 2):
                out.add((i, "R-4s"))
        if k >= 3:
            four = [zz for _, zz in kept[k - 3: k + 1]]
            if all(x > 1 for x in four) or all(x < -1 for x in four):
                out.add((i, "4-1s"))
        if k >= 9 and len(last) == 10:
            if all(x > 0 for x in last) or all(x < 0 for x in last):
                out.add((i, "10x"))
    return out


def fired(values, mean=0.0, sd=1.0):
    return {(f.index, f.rule) for f in westgard(values, mean=mean, sd=sd)}


@pytest.mark.parametrize(
    "values, fires, silent",
    [
        # 1-2s: strictly beyond 2 SD
        ([0.0, 2.5], {(1, "1-2s")}, set()),
        ([0.0, -2.1], {(1, "1-2s")}, set()),
        ([0.0, 2.0], set(), {(1, "1-2s")}),
        # 1-3s
        ([0.0, 3.1], {(1, "1-3s"), (1, "1-2s")}, set()),
        ([0.0, -2.9], {(1, "1-2s")}, {(1, "1-3s")}),
        # 2-2s: two consecutive beyond the same 2 SD limit
        ([2.5, 2.5], {(1, "2-2s")}, {(1, "R-4s")}),
        ([-2.2, -2.4], {(1, "2-2s")}, set()),
        ([2.5, 1.9], set(), {(1, "2-2s")}),
        ([2.5, 0.0, 2.5], set(), {(2, "2-2s")}),
        ([2.5, math.nan, 2.5], {(2, "2-2s")}, set()),
        # R-4s: one beyond +2 SD and the next beyond -2 SD
        ([2.1, -2.1], {(1, "R-4s")}, {(1, "2-2s")}),
        ([-2.5, 2.5], {(1, "R-4s")}, set()),
        ([2.1, -1.9], set(), {(1, "R-4s")}),
        ([3.0, -1.5], set(), {(1, "R-4s")}),  # range 4.5 SD, but not both beyond 2 SD
        # 4-1s: four consecutive beyond the same 1 SD limit
        ([1.1, 1.2, 1.5, 1.1], {(3, "4-1s")}, set()),
        ([-1.5] * 4, {(3, "4-1s")}, set()),
        ([1.1, 1.1, 1.1, 0.9], set(), {(3, "4-1s")}),
        ([1.1, -1.1, 1.1, 1.1], set(), {(3, "4-1s")}),
        ([1.1, 1.1, 1.1], set(), {(2, "4-1s")}),
        # 10x: ten consecutive on one side of the mean
        ([0.1] * 10, {(9, "10x")}, set()),
        ([-0.5] * 11, {(9, "10x"), (10, "10x")}, set()),
        ([0.1] * 9 + [-0.1], set(), {(9, "10x")}),
        ([0.1] * 5 + [0.0] + [0.1] * 4, set(), {(9, "10x")}),  # on the mean breaks it
        ([0.1] * 9, set(), {(8, "10x")}),
    ],
)
def test_rule_fires_where_it_must_and_not_where_it_must_not(values, fires, silent):
    got = fired(values)
    assert fires <= got
    assert not (silent & got)
    assert got == reference(values, 0.0, 1.0)


def test_flags_carry_the_points_of_the_pattern_and_severity():
    flags = westgard([0.0, 1.5, 1.2, math.nan, 1.4, 1.1], mean=0.0, sd=1.0)
    (four,) = [f for f in flags if f.rule == "4-1s"]
    assert four.index == 5 and four.points == (1, 2, 4, 5) and four.severity == "rejection"
    warning = westgard([0.0, 2.5], mean=0.0, sd=1.0)[0]
    assert warning.severity == "warning"


def test_mean_and_sd_scale_values():
    values = [100.0, 100.0 + 2.5 * 4.0]
    assert fired(values, mean=100.0, sd=4.0) == {(1, "1-2s")}


def test_only_the_rules_asked_for_are_applied():
    assert westgard([0.0, 3.5], mean=0.0, sd=1.0, rules=("1-3s",))[0].rule == "1-3s"
    with pytest.raises(ValueError, match="unknown Westgard rule"):
        westgard([1.0], mean=0.0, sd=1.0, rules=("2of3-2s",))
    with pytest.raises(ValueError, match="SD > 0"):
        westgard([1.0], mean=0.0, sd=0.0)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.floats(-4.5, 4.5), st.just(math.nan)), min_size=0, max_size=40))
def test_vectorised_rules_equal_the_reference(values):
    assert fired(values) == reference(values, 0.0, 1.0)


def test_control_chart_baseline_statistics():
    rng = np.random.default_rng(7)
    values = list(rng.normal(50.0, 2.0, 25))
    chart = control_chart(values, metric="abundance_219", unit="%", baseline_points=20)
    assert chart.mean == pytest.approx(statistics.mean(values[:20]))
    assert chart.sd == pytest.approx(statistics.stdev(values[:20]))
    assert chart.limits_from == "baseline of 20 points"
    fixed = control_chart(values, mean=50.0, sd=2.0)
    assert fixed.limits_from == "profile" and fixed.mean == 50.0
    np.testing.assert_allclose(fixed.z, (np.array(values) - 50.0) / 2.0)


def test_control_chart_status_and_rejection_of_the_last_point():
    chart = control_chart([0.0, 2.5, 0.0, 3.5, math.nan], mean=0.0, sd=1.0)
    assert chart.status() == ["in control", "warning", "in control", "rejection", "missing"]
    assert chart.rules_at(3) == ("1-2s", "1-3s")
    assert not chart.rejected  # the last point is missing, not rejected
    assert control_chart([0.0, 0.5, 3.5], mean=0.0, sd=1.0).rejected
    data = chart.to_dict()
    assert data["values"][4] is None and data["flags"][0]["rule"] == "1-2s"


def test_control_chart_needs_a_usable_baseline():
    with pytest.raises(ValueError, match="need at least 2"):
        control_chart([1.0, math.nan])
    with pytest.raises(ValueError, match="SD 0"):
        control_chart([1.0, 1.0, 1.0])
