"""Figure of a comparison with AMDIS/NIST (matplotlib, no pyplot state)."""

from __future__ import annotations

from gcms.interop.compare import Comparison

__all__ = ["comparison_figure"]

_STATUS_COLOURS = {"agree": "tab:green", "differ": "tab:red", "only AMDIS": "tab:orange",
                   "only gcms": "tab:blue"}


def comparison_figure(comparison: Comparison, *, title: str | None = None):
    """Both tools' top-hit MF against retention time, one column per row of the table.

    Each paired component is a vertical segment from AMDIS's top-hit MF (``o``) to
    gcms's (``s``), coloured by whether the verdicts agree; unpaired components are a
    single marker on their tool's side (an MF of 0 where the tool had no hit). The
    dashed line is the MF a top hit needs for a verdict.

    Returns a ``matplotlib.figure.Figure``; save it with ``fig.savefig(path)``.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.subplots()
    seen: set[str] = set()
    for row in comparison.rows:
        rt = row.amdis_rt_s if row.amdis_rt_s is not None else row.gcms_rt_s
        colour = _STATUS_COLOURS[row.status]
        label = row.status if row.status not in seen else None
        seen.add(row.status)
        amdis_mf = None if row.amdis_component is None else (row.amdis_mf or 0)
        gcms_mf = None if row.gcms_component is None else (row.gcms_mf or 0)
        if amdis_mf is not None and gcms_mf is not None:
            axes.plot([rt / 60, rt / 60], [amdis_mf, gcms_mf], color=colour, linewidth=1,
                      label=label)
            label = None
        if amdis_mf is not None:
            axes.plot(rt / 60, amdis_mf, "o", color=colour, markersize=4, label=label)
            label = None
        if gcms_mf is not None:
            axes.plot(rt / 60, gcms_mf, "s", color=colour, markersize=4, label=label)
    axes.axhline(comparison.min_match_factor, color="grey", linestyle="--", linewidth=0.8)
    axes.set_xlabel("Retention time (min)")
    axes.set_ylabel("Top-hit MF (o AMDIS/NIST, s gcms)")
    axes.set_ylim(0, 1000)
    axes.set_title(title or f"gcms beside AMDIS ({comparison.amdis_hits_from})")
    axes.legend(loc="lower right", frameon=False, fontsize=8)
    return figure
