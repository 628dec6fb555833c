"""Levey-Jennings control statistics and Westgard rules, flagged per point.

Rules (Westgard, Barry, Hunt & Groth, Clin. Chem. 27 (1981) 493; westgard.com
"Westgard Rules"), on ``z = (x - mean) / SD`` of successive QA results of one metric:

========  ==========  ========================================================
rule      severity    fires at point i when
========  ==========  ========================================================
1-2s      warning     ``|z_i| > 2``
1-3s      rejection   ``|z_i| > 3`` (random error)
2-2s      rejection   ``z_{i-1}, z_i`` both ``> 2`` or both ``< -2`` (systematic)
R-4s      rejection   one of ``z_{i-1}, z_i`` is ``> 2`` and the other ``< -2``
                      (random error; the two consecutive results of the pair)
4-1s      rejection   ``z_{i-3} .. z_i`` all ``> 1`` or all ``< -1`` (systematic)
10x       rejection   ``z_{i-9} .. z_i`` all ``> 0`` or all ``< 0`` (systematic)
========  ==========  ========================================================

"Beyond a limit" is strict: a point exactly on 2 SD does not fire 1-2s. The rules apply
across consecutive results of one instrument and metric (QA results are one control
measurement per run). Missing values (NaN) are left out: the points on either side of a
gap count as consecutive, and a missing point is never flagged.

Mean and SD come from the profile (fixed control limits) or from a baseline: the first
``baseline_points`` results (sample SD, ``ddof=1``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from gcms._arrays import frozen_array

__all__ = [
    "REJECTION_RULES",
    "WARNING_RULES",
    "WESTGARD_RULES",
    "ControlChart",
    "WestgardFlag",
    "control_chart",
    "westgard",
]

#: Every rule, in the order Westgard's multirule procedure applies them.
WESTGARD_RULES: tuple[str, ...] = ("1-2s", "1-3s", "2-2s", "R-4s", "4-1s", "10x")
WARNING_RULES: tuple[str, ...] = ("1-2s",)
REJECTION_RULES: tuple[str, ...] = ("1-3s", "2-2s", "R-4s", "4-1s", "10x")


@dataclass(frozen=True, slots=True)
class WestgardFlag:
    """A rule that fired at ``index``, with the points that make its pattern."""

    index: int
    rule: str
    severity: Literal["warning", "rejection"]
    points: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"index": self.index, "rule": self.rule, "severity": self.severity,
                "points": list(self.points)}


def _windows(z: np.ndarray, length: int) -> np.ndarray:
    """Rows ``z[i-length+1 .. i]`` for ``i = length-1 ..``; empty when too short."""
    if z.size < length:
        return np.empty((0, length))
    return np.lib.stride_tricks.sliding_window_view(z, length)


def _fired(z: np.ndarray, rule: str) -> tuple[np.ndarray, int]:
    """Positions (in ``z``) where ``rule`` fires, and the pattern length."""
    if rule == "1-2s":
        return np.flatnonzero(np.abs(z) > 2), 1
    if rule == "1-3s":
        return np.flatnonzero(np.abs(z) > 3), 1
    if rule == "2-2s":
        w = _windows(z, 2)
        hit = np.all(w > 2, axis=1) | np.all(w < -2, axis=1)
        return np.flatnonzero(hit) + 1, 2
    if rule == "R-4s":
        w = _windows(z, 2)
        hit = (np.max(w, axis=1) > 2) & (np.min(w, axis=1) < -2)
        return np.flatnonzero(hit) + 1, 2
    if rule == "4-1s":
        w = _windows(z, 4)
        hit = np.all(w > 1, axis=1) | np.all(w < -1, axis=1)
        return np.flatnonzero(hit) + 3, 4
    if rule == "10x":
        w = _windows(z, 10)
        hit = np.all(w > 0, axis=1) | np.all(w < 0, axis=1)
        return np.flatnonzero(hit) + 9, 10
    raise ValueError(f"unknown Westgard rule {rule!r} (known: {', '.join(WESTGARD_RULES)})")


def westgard(values: ArrayLike, *, mean: float, sd: float,
             rules: Sequence[str] = WESTGARD_RULES) -> tuple[WestgardFlag, ...]:
    """Every firing of ``rules`` on ``values``, ordered by point then rule order.

    Indices refer to ``values`` as given (NaN points included in the numbering, never
    flagged). See the module docstring for the rule definitions.
    """
    if not (math.isfinite(mean) and math.isfinite(sd) and sd > 0):
        raise ValueError(f"control limits need a finite mean and SD > 0, got {mean!r}, {sd!r}")
    x = np.asarray(values, dtype=np.float64)
    valid = np.flatnonzero(np.isfinite(x))
    z = (x[valid] - mean) / sd
    flags = []
    for rule in rules:
        positions, length = _fired(z, rule)
        severity = "warning" if rule in WARNING_RULES else "rejection"
        for p in positions.tolist():
            points = tuple(int(i) for i in valid[p - length + 1: p + 1])
            flags.append(WestgardFlag(int(valid[p]), rule, severity, points))
    order = {rule: i for i, rule in enumerate(WESTGARD_RULES)}
    return tuple(sorted(flags, key=lambda f: (f.index, order[f.rule])))


@dataclass(frozen=True, slots=True, eq=False)
class ControlChart:
    """One metric's control data: values, their z-scores, limits and Westgard flags.

    ``limits_from`` says where mean and SD came from (``"profile"`` or ``"baseline of N
    points"``).
    """

    metric: str
    values: np.ndarray
    mean: float
    sd: float
    flags: tuple[WestgardFlag, ...]
    limits_from: str
    unit: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", frozen_array(self.values, np.float64, name="values"))

    @property
    def z(self) -> np.ndarray:
        """``(x - mean) / SD`` per point."""
        return (self.values - self.mean) / self.sd

    def status(self) -> list[str]:
        """Per point: ``"rejection"``, ``"warning"`` or ``"in control"`` (``"missing"``)."""
        out = ["in control" if math.isfinite(v) else "missing" for v in self.values.tolist()]
        for flag in self.flags:
            if flag.severity == "rejection" or out[flag.index] != "rejection":
                out[flag.index] = flag.severity
        return out

    def rules_at(self, index: int) -> tuple[str, ...]:
        """Rules that fired at point ``index``."""
        return tuple(f.rule for f in self.flags if f.index == index)

    @property
    def rejected(self) -> bool:
        """Whether the last point fires a rejection rule (the metric is out of control now)."""
        last = len(self.values) - 1
        return any(f.index == last and f.severity == "rejection" for f in self.flags)

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "metric": self.metric, "unit": self.unit, "mean": self.mean, "sd": self.sd,
            "limits_from": self.limits_from,
            "values": [None if not math.isfinite(v) else v for v in self.values.tolist()],
            "status": self.status(),
            "flags": [f.to_dict() for f in self.flags],
        }


def control_chart(values: ArrayLike, *, metric: str = "", unit: str = "",
                  mean: float | None = None, sd: float | None = None,
                  baseline_points: int = 20,
                  rules: Sequence[str] = WESTGARD_RULES) -> ControlChart:
    """Levey-Jennings statistics of ``values`` with their Westgard flags.

    Give ``mean`` and ``sd`` (fixed control limits), or let them come from the first
    ``baseline_points`` finite values (mean and sample SD).

    Raises
    ------
    ValueError
        Fewer than two baseline values, or a baseline with no spread (SD 0).
    """
    x = np.asarray(values, dtype=np.float64)
    if mean is None or sd is None:
        base = x[np.isfinite(x)][:baseline_points]
        if base.size < 2:
            raise ValueError(f"{metric or 'metric'}: {base.size} value(s), need at least 2 "
                             "for a baseline mean and SD")
        mean = float(base.mean()) if mean is None else mean
        sd = float(base.std(ddof=1)) if sd is None else sd
        source = f"baseline of {base.size} points"
        if sd == 0:
            raise ValueError(f"{metric or 'metric'}: baseline values do not vary (SD 0)")
    else:
        source = "profile"
    return ControlChart(metric=metric, values=x, mean=float(mean), sd=float(sd),
                        flags=westgard(x, mean=mean, sd=sd, rules=rules), limits_from=source,
                        unit=unit)
