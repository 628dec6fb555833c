"""Calibration figures: the curve with its calibrators, and their residuals.

matplotlib's object API only (no pyplot state), so figures are safe in batch workers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gcms.quantitation.calibration import Calibration
from gcms.quantitation.quantity import Quantity

__all__ = ["calibration_figure"]


def calibration_figure(calibration: Calibration, *, unknowns: Sequence[tuple[str, Quantity]] = (),
                       title: str | None = None):
    """Figure of one analyte's calibration.

    Top: the calibrators' responses against their nominal concentration (filled: used;
    open red: excluded or rejected, each labelled), the fitted curve over the calibrated
    range (dashed where extrapolated to zero), and the unknowns that were quantified
    (crosses at their found concentration). Bottom: each calibrator's back-calculated
    deviation from nominal (%) with the acceptance band(s). Returns a
    ``matplotlib.figure.Figure``.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 1.4), sharex=True)
    points = [p for p in calibration.points if p.response is not None]
    used = [p for p in points if p.used]
    left_out = [p for p in points if not p.used]
    fit = calibration.fit
    unit = calibration.unit
    if fit is not None:
        low, high = fit.x_range
        grid = np.linspace(low, high, 200)
        top.plot(grid, fit.predict(grid), color="black", linewidth=1.2,
                 label=f"{calibration.model.replace('_', ' ')}, weights {calibration.weighting}, "
                       f"R² = {fit.r_squared:.4f}")
        below = np.linspace(0.0, low, 50)
        top.plot(below, fit.predict(below), color="black", linewidth=0.8, linestyle="--")
    top.scatter([p.concentration for p in used], [p.response for p in used], color="tab:blue",
                zorder=3, label="calibrators")
    if left_out:
        top.scatter([p.concentration for p in left_out], [p.response for p in left_out],
                    facecolors="none", edgecolors="tab:red", zorder=3, label="excluded")
        for p in left_out:
            top.annotate(p.sample_id, (p.concentration, p.response), fontsize=7,
                         xytext=(4, -10), textcoords="offset points", color="tab:red")
    shown = [(sid, q) for sid, q in unknowns
             if q.estimate is not None and q.response is not None]
    if shown:
        top.scatter([q.estimate for _, q in shown], [q.response for _, q in shown], marker="x",
                    color="tab:green", zorder=4, label="samples and checks")
        for sid, q in shown:
            top.annotate(sid, (q.estimate, q.response), fontsize=7, xytext=(4, 4),
                         textcoords="offset points", color="tab:green")
    top.set_ylabel(f"Response ({calibration.response})", fontsize=8)
    top.legend(loc="upper left", frameon=False, fontsize=8)
    heading = title or f"{calibration.analyte}: calibration"
    if not calibration.ok:
        heading += " - FAILED"
        top.text(0.99, 0.02, "\n".join(calibration.reasons), transform=top.transAxes,
                 ha="right", va="bottom", fontsize=7, color="tab:red", wrap=True)
    top.set_title(heading)
    top.set_xlim(left=0)
    top.set_ylim(bottom=min(0.0, *(p.response for p in points)) if points else 0.0)

    judged = [p for p in points if p.accuracy_percent is not None]
    if judged:
        deviation = np.array([p.accuracy_percent - 100.0 for p in judged])
        colours = ["tab:blue" if p.used else "tab:red" for p in judged]
        bottom.scatter([p.concentration for p in judged], deviation, c=colours, zorder=3)
    bottom.axhline(0.0, color="black", linewidth=0.8)
    limits = calibration.limits
    for key, style in (("calibrator_tolerance_percent", ":"),
                       ("lowest_calibrator_tolerance_percent", "--")):
        if key in limits:
            for sign in (-1, 1):
                bottom.axhline(sign * limits[key], color="grey", linewidth=0.8, linestyle=style)
    bottom.set_ylabel("Residual:\nback-calc. vs\nnominal (%)", fontsize=8)
    bottom.set_xlabel(f"Concentration ({unit})")
    return figure
