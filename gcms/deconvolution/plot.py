"""Figures of a deconvolution (matplotlib, no pyplot state: safe in batch workers)."""

from __future__ import annotations

import numpy as np

from gcms.deconvolution.component import Deconvolution
from gcms.run import Run

__all__ = ["deconvolution_figure"]

#: Components labelled with their model ion on the TIC panel (the tallest ones).
LABELLED = 25


def deconvolution_figure(run: Run, result: Deconvolution, *,
                         window: tuple[float, float] | None = None, title: str | None = None):
    """The TIC with every component marked, and (``window``) the model-peak profiles.

    Top panel: the run's TIC against time (min), a marker at each component's apex
    (at the TIC there), the tallest labelled with their model ion. With ``window``
    ``(t0, t1)`` in seconds, a second panel shows the TIC in that window and each
    component's model profile scaled to its fitted total-ion height, so co-eluting
    components and how the fit divides the signal between them can be seen.

    Returns a ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
    """
    from matplotlib.figure import Figure

    rows = 2 if window is not None else 1
    figure = Figure(figsize=(11, 4 * rows), layout="constrained")
    axes = figure.subplots(rows, 1, squeeze=False)[:, 0]
    minutes = run.scan_times / 60.0
    top = axes[0]
    top.plot(minutes, run.tic, linewidth=0.7, color="black", label="TIC")
    components = result.components
    if components:
        rt = np.array([c.rt_s for c in components])
        at = run.tic[np.array([c.scan for c in components])]
        top.plot(rt / 60.0, at, "v", color="tab:red", markersize=4,
                 label=f"{len(components)} components")
        heights = np.array([c.height for c in components])
        for index in np.argsort(heights)[::-1][:LABELLED]:
            top.annotate(str(components[index].model_mz), (rt[index] / 60.0, at[index]),
                         xytext=(0, 4), textcoords="offset points", ha="center",
                         fontsize=7, color="tab:red")
    top.set_xlabel("Retention time (min)")
    top.set_ylabel("TIC")
    top.set_title(title or run.metadata.sample_name or run.metadata.source_path or "")
    top.margins(x=0)
    top.set_ylim(bottom=0)
    top.legend(loc="upper right", frameon=False, fontsize=8)
    if window is not None:
        t0, t1 = window
        bottom = axes[1]
        inside = (run.scan_times >= t0) & (run.scan_times <= t1)
        bottom.plot(run.scan_times[inside], run.tic[inside], linewidth=0.9, color="black",
                    label="TIC")
        for component in components:
            times = run.scan_times[component.start_scan : component.end_scan + 1]
            if times.size == 0 or times[-1] < t0 or times[0] > t1:
                continue
            bottom.plot(times, component.profile * component.height, linewidth=1.0,
                        label=f"{component.rt_s:.1f} s, m/z {component.model_mz}")
        bottom.set_xlim(t0, t1)
        bottom.set_xlabel("Retention time (s)")
        bottom.set_ylabel("Abundance")
        bottom.set_title("Model peaks (profile × fitted total-ion height)")
        bottom.legend(loc="upper right", frameon=False, fontsize=7)
    return figure
