"""Chromatogram figures (matplotlib, no pyplot state: safe in batch workers)."""

from __future__ import annotations

from collections.abc import Sequence

from gcms.run import Run

__all__ = ["chromatogram"]


def chromatogram(run: Run, *, mz: Sequence[float] = (), tolerance: float = 0.5,
                 title: str | None = None):
    """Figure of the TIC (or of extracted ions ``mz``, each ``± tolerance``) against time.

    Returns a ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), layout="constrained")
    axes = figure.add_subplot()
    minutes = run.scan_times / 60.0
    if mz:
        for value in mz:
            axes.plot(minutes, run.xic(value, tolerance), linewidth=0.8, label=f"m/z {value:g}")
        axes.legend(loc="upper right", frameon=False)
        axes.set_ylabel("Ion abundance")
    else:
        label = "Detector signal" if run.metadata.acquisition == "trace" else "TIC"
        axes.plot(minutes, run.tic, linewidth=0.8, color="black")
        axes.set_ylabel(label)
    axes.set_xlabel("Retention time (min)")
    axes.set_title(title or run.metadata.sample_name or run.metadata.source_path or "")
    axes.margins(x=0)
    axes.set_ylim(bottom=0)
    return figure
