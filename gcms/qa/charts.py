"""Levey-Jennings charts (matplotlib ``Figure``, no pyplot state: safe in batch workers)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from gcms.qa.westgard import ControlChart

__all__ = ["levey_jennings"]

_COLOURS = {"in control": "black", "warning": "#d98c00", "rejection": "#c0182b",
            "missing": "grey"}


def levey_jennings(
    charts: ControlChart | Mapping[str, ControlChart],
    *,
    times: Sequence[datetime] | Mapping[str, Sequence[datetime]] | None = None,
    title: str | None = None,
):
    """One Levey-Jennings panel per metric: values, mean, ±1/2/3 SD, Westgard flags.

    Points that fire a warning rule are amber, a rejection rule red, each labelled with
    the rules that fired. The x axis is the acquisition time when ``times`` are given
    (one sequence for all panels, or one per metric), else the result number.

    Returns a ``matplotlib.figure.Figure``; save it with ``fig.savefig("chart.png")`` (PNG,
    PDF or SVG by extension).
    """
    from matplotlib.figure import Figure

    if isinstance(charts, ControlChart):
        charts = {charts.metric or "value": charts}
    if not charts:
        raise ValueError("no control chart to draw")
    figure = Figure(figsize=(10, 2.6 * len(charts) + 0.6), layout="constrained")
    axes_list = figure.subplots(len(charts), 1, squeeze=False)[:, 0]
    for axes, (metric, chart) in zip(axes_list, charts.items(), strict=True):
        x_values = times.get(metric) if isinstance(times, Mapping) else times
        x = list(x_values) if x_values is not None else list(range(1, len(chart.values) + 1))
        if len(x) != len(chart.values):
            raise ValueError(f"{metric}: {len(x)} times for {len(chart.values)} values")
        y = chart.values
        finite = np.isfinite(y)
        axes.plot([xi for xi, ok in zip(x, finite, strict=True) if ok], y[finite],
                  color="0.55", linewidth=0.8, zorder=1)
        for k, style in ((0, "-"), (1, ":"), (2, "--"), (3, "-")):
            for sign in ((1,) if k == 0 else (1, -1)):
                level = chart.mean + sign * k * chart.sd
                axes.axhline(level, color="#3b6ea8" if k < 3 else "#c0182b", linestyle=style,
                             linewidth=0.8 if k else 1.2, zorder=0)
                label = "mean" if k == 0 else f"{'+' if sign > 0 else '-'}{k} SD"
                axes.annotate(label, xy=(1.0, level), xycoords=("axes fraction", "data"),
                              xytext=(3, 0), textcoords="offset points", va="center",
                              fontsize=7, color="#3b6ea8" if k < 3 else "#c0182b")
        status = chart.status()
        for xi, yi, state in zip(x, y, status, strict=True):
            if state != "missing":
                axes.scatter([xi], [yi], s=22, color=_COLOURS[state], zorder=3)
        for i, state in enumerate(status):
            if state in ("warning", "rejection"):
                axes.annotate(" ".join(chart.rules_at(i)), xy=(x[i], y[i]), xytext=(0, 7),
                              textcoords="offset points", ha="center", fontsize=7,
                              color=_COLOURS[state])
        unit = f" ({chart.unit})" if chart.unit else ""
        axes.set_ylabel(f"{metric}{unit}")
        span = 3.6 * chart.sd
        finite_y = y[finite]
        low = min(chart.mean - span, finite_y.min() if finite_y.size else chart.mean)
        high = max(chart.mean + span, finite_y.max() if finite_y.size else chart.mean)
        pad = 0.05 * (high - low)
        axes.set_ylim(low - pad, high + pad)
        axes.set_title(f"{metric}: mean {chart.mean:.4g}, SD {chart.sd:.3g} "
                       f"({chart.limits_from})", fontsize=9, loc="left")
    axes_list[-1].set_xlabel("acquired" if times is not None else "QA result")
    if title:
        figure.suptitle(title)
    return figure
