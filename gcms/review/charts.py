"""Plotly figures of the review workstation, as JSON-ready dicts (no Plotly Python needed).

The browser draws them with the ``plotly.min.js`` of the installed ``plotly`` package
(served by the workstation itself). Traces hold plain lists of numbers; the chromatogram
keeps every scan up to :data:`MAX_TRACE_POINTS` (a 2,400-scan run is 2,400 points per
trace, which Plotly draws at once, and which a reviewer can zoom into scan by scan); a
longer trace is thinned for display only by :func:`decimate` (the minimum and maximum of
each bucket, so no peak apex or valley is lost; the stored run is never changed), and a
spectrum is drawn as stems (one line with gaps), not as thousands of bars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["accuracy_figure", "calibration_figure", "chromatogram_figure", "decimate",
           "head_to_tail_figure", "integration_figure", "levey_jennings_figure",
           "series_figure", "stems", "xic_trace"]

#: Colours of the traces (Okabe & Ito 2008 colour-blind-safe palette).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442",
           "#000000")

_LAYOUT: dict[str, Any] = {"margin": {"l": 60, "r": 60, "t": 30, "b": 45}, "hovermode": "closest",
           "legend": {"orientation": "h", "y": 1.12}, "template": None}


#: Most points one chromatogram trace sends to the browser; longer ones are decimated.
MAX_TRACE_POINTS = 2500


def decimate(x: np.ndarray, y: np.ndarray,
             max_points: int = MAX_TRACE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` thinned to at most ``max_points`` for drawing: min and max per bucket.

    A trace of ``max_points`` or fewer comes back whole. Otherwise the scans are cut
    into ``max_points // 2`` buckets of consecutive scans and each bucket keeps the
    scan of its lowest and of its highest value, in time order (the M4/min-max
    decimation of Jugel et al., "M4: a visualization-oriented time series data
    aggregation", Proc. VLDB Endow. 7(10), 2014, without the first/last points): at
    one bucket per pixel column the line drawn is the same. For display only.
    """
    x, y = np.asarray(x), np.asarray(y)
    n = len(y)
    if n <= max_points:
        return x, y
    buckets = max(1, max_points // 2)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    low = np.array([s + int(np.argmin(y[s:e])) for s, e in zip(starts, ends, strict=True)])
    high = np.array([s + int(np.argmax(y[s:e])) for s, e in zip(starts, ends, strict=True)])
    keep = np.unique(np.concatenate([low, high]))
    return x[keep], y[keep]


def _titled(title: str) -> dict[str, Any]:
    """Layout of a chart with a title above its legend."""
    return {**_LAYOUT, "title": {"text": title, "y": 0.97},
            "margin": {**_LAYOUT["margin"], "t": 70}, "legend": {"orientation": "h", "y": 1.1}}


def _numbers(values: Any, digits: int) -> list[float]:
    return np.round(np.asarray(values, dtype=np.float64), digits).tolist()


def xic_trace(times_min: np.ndarray, intensity: np.ndarray, mz: float,
              colour_index: int = 1) -> dict[str, Any]:
    """One extracted-ion chromatogram trace (m/z ± 0.5), on the right-hand axis."""
    x, y = decimate(times_min, intensity)
    return {"type": "scatter", "mode": "lines", "name": f"m/z {mz:g}",
            "x": _numbers(x, 4), "y": _numbers(y, 1), "yaxis": "y2",
            "line": {"width": 1, "color": PALETTE[colour_index % len(PALETTE)]},
            "meta": {"mz": mz}}


def chromatogram_figure(times_min: np.ndarray, tic: np.ndarray,
                        xics: Mapping[float, np.ndarray],
                        components: Sequence[Mapping[str, Any]],
                        labels: Mapping[str, str]) -> dict[str, Any]:
    """TIC, extracted-ion traces and the components' apexes as labelled markers.

    ``components`` are rows with ``rt_min``, ``height`` (or None), ``label`` and
    ``component``; ``labels`` gives the axis titles in the interface language.
    """
    shown_x, shown_tic = decimate(times_min, tic)
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": "TIC", "x": _numbers(shown_x, 4),
         "y": _numbers(shown_tic, 1), "line": {"width": 1, "color": PALETTE[0]}}]
    for i, (mz, trace) in enumerate(xics.items()):
        traces.append(xic_trace(times_min, trace, mz, i + 1))
    marked = [c for c in components if c.get("rt_min") is not None]
    if marked:
        apex = np.interp([c["rt_min"] for c in marked], times_min, tic)
        traces.append({"type": "scatter", "mode": "markers+text", "name": labels["components"],
                       "x": [round(c["rt_min"], 4) for c in marked],
                       "y": _numbers(apex, 1), "text": [c["label"] for c in marked],
                       "textposition": "top center", "customdata": [c["component"] for c in
                                                                    marked],
                       "marker": {"size": 7, "color": PALETTE[1], "symbol": "triangle-down"}})
    layout = {**_LAYOUT, "xaxis": {"title": {"text": labels["time"]}},
              "yaxis": {"title": {"text": labels["abundance"]}, "exponentformat": "e"},
              "yaxis2": {"overlaying": "y", "side": "right", "showgrid": False,
                         "exponentformat": "e"}}
    return {"data": traces, "layout": layout}


def stems(mz: Sequence[float], intensity: Sequence[float], *,
          sign: float = 1.0) -> tuple[list[float | None], list[float | None]]:
    """A stick spectrum as one polyline: (m/z, 0) → (m/z, I) → gap, scaled to 100."""
    mz_a = np.asarray(mz, dtype=np.float64)
    i_a = np.asarray(intensity, dtype=np.float64)
    if mz_a.size == 0 or not np.isfinite(i_a).any() or np.nanmax(i_a) <= 0:
        return [], []
    i_a = sign * 100.0 * i_a / np.nanmax(i_a)
    x = np.repeat(mz_a, 3).astype(object)
    y = np.column_stack([np.zeros_like(i_a), np.round(i_a, 2),
                         np.full(i_a.shape, np.nan)]).ravel().astype(object)
    x[2::3] = None
    y[2::3] = None
    return x.tolist(), y.tolist()


def head_to_tail_figure(sample: tuple[str, Sequence[float], Sequence[float]],
                        references: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                        labels: Mapping[str, str]) -> dict[str, Any]:
    """The component's spectrum upward against each reference downward, one panel each.

    One panel per reference (library entry, same-sequence standard), stacked with a
    shared m/z axis; each spectrum is scaled to its base peak = 100. Clicking an ion
    adds its extracted-ion chromatogram (``app.js``).
    """
    name, mz, intensity = sample
    x, y = stems(mz, intensity)
    panels = max(1, len(references))
    gap = 0.08
    height = (1.0 - gap * (panels - 1)) / panels
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {**_LAYOUT, "xaxis": {
        "title": {"text": "m/z"}, "anchor": "y" if panels == 1 else f"y{panels}"}}
    for i in range(panels):
        axis = "y" if i == 0 else f"y{i + 1}"
        top = 1.0 - i * (height + gap)
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            "title": {"text": labels["relative"] if i == 0 else ""}, "range": [-105, 105],
            "zeroline": True, "domain": [max(0.0, top - height), top]}
        traces.append({"type": "scatter", "mode": "lines", "name": name, "x": x, "y": y,
                       "yaxis": axis, "showlegend": i == 0, "legendgroup": "sample",
                       "line": {"width": 1.2, "color": PALETTE[0]}, "hoverinfo": "x+y"})
        if i < len(references):
            ref_name, ref_mz, ref_intensity = references[i]
            rx, ry = stems(ref_mz, ref_intensity, sign=-1.0)
            traces.append({"type": "scatter", "mode": "lines", "name": ref_name, "x": rx,
                           "y": ry, "yaxis": axis, "hoverinfo": "x+y",
                           "line": {"width": 1.2, "color": PALETTE[(i + 1) % len(PALETTE)]}})
    return {"data": traces, "layout": layout}


def series_figure(series: Mapping[str, Mapping[str, Any]], *, title: str) -> dict[str, Any]:
    """Metrics over time, one line each (``{metric: {"times", "values", "unit"}}``)."""
    traces = []
    for i, (metric, item) in enumerate(series.items()):
        unit = f" ({item['unit']})" if item.get("unit") else ""
        traces.append({"type": "scatter", "mode": "lines+markers", "name": f"{metric}{unit}",
                       "x": list(item.get("times") or ()), "y": list(item.get("values") or ()),
                       "line": {"width": 1, "color": PALETTE[i % len(PALETTE)]}})
    return {"data": traces, "layout": {**_titled(title), "showlegend": True}}


def levey_jennings_figure(metric: str, chart: Mapping[str, Any]) -> dict[str, Any]:
    """A Levey–Jennings chart: values, mean, ±2 SD and ±3 SD lines, Westgard flags marked.

    Levey & Jennings, Am. J. Clin. Pathol. 20 (1950) 1059; Westgard et al., Clin. Chem. 27
    (1981) 493 (the multirule). ``chart`` is a check-standard series of the QA dashboard.
    """
    times = list(chart.get("times") or range(len(chart.get("values") or ())))
    values = list(chart.get("values") or ())
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": metric, "x": times, "y": values,
         "line": {"width": 1, "color": PALETTE[0]}}]
    mean, sd = chart.get("mean"), chart.get("sd")
    if mean is not None and sd:
        for k, dash, colour in ((0, "solid", "#555555"), (2, "dash", PALETTE[4]),
                                (-2, "dash", PALETTE[4]), (3, "dot", PALETTE[1]),
                                (-3, "dot", PALETTE[1])):
            traces.append({"type": "scatter", "mode": "lines", "showlegend": k in (0, 2, 3),
                           "name": "mean" if k == 0 else f"±{abs(k)} SD",
                           "x": [times[0], times[-1]] if times else [],
                           "y": [mean + k * sd] * 2,
                           "line": {"width": 1, "dash": dash, "color": colour}})
    by_point: dict[int, list[Mapping[str, Any]]] = {}
    for flag in chart.get("flags") or ():
        if 0 <= flag.get("index", -1) < len(values):
            by_point.setdefault(flag["index"], []).append(flag)
    if by_point:  # one mark per point: its rules, coloured by the worst severity
        points = sorted(by_point)
        traces.append({"type": "scatter", "mode": "markers+text", "name": "Westgard",
                       "x": [times[i] for i in points], "y": [values[i] for i in points],
                       "text": [", ".join(f["rule"] for f in by_point[i]) for i in points],
                       "textposition": "top center",
                       "marker": {"size": 10, "symbol": "x", "color": [
                           PALETTE[1] if any(f.get("severity") == "rejection"
                                             for f in by_point[i]) else PALETTE[4]
                           for i in points]}})
    return {"data": traces, "layout": _titled(metric)}


def calibration_figure(calibrators: Sequence[Mapping[str, Any]],
                       samples: Sequence[Mapping[str, Any]], *, analyte: str,
                       unit: str) -> dict[str, Any]:
    """Calibrators' responses against their nominal concentrations, and the sample's.

    Rows have ``x`` (concentration), ``y`` (response), ``label`` and, for samples,
    ``error_x`` (the expanded uncertainty).
    """
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "markers", "name": "calibrators",
         "x": [c["x"] for c in calibrators], "y": [c["y"] for c in calibrators],
         "text": [c["label"] for c in calibrators],
         "marker": {"size": 8, "color": PALETTE[0]}}]
    if samples:
        traces.append({"type": "scatter", "mode": "markers", "name": "this exhibit",
                       "x": [s["x"] for s in samples], "y": [s["y"] for s in samples],
                       "text": [s["label"] for s in samples],
                       "error_x": {"type": "data", "array": [s.get("error_x") or 0
                                                             for s in samples]},
                       "marker": {"size": 10, "symbol": "diamond", "color": PALETTE[1]}})
    layout = {**_titled(f"{analyte}: calibration"),
              "xaxis": {"title": {"text": f"concentration ({unit})"}},
              "yaxis": {"title": {"text": "response"}}}
    return {"data": traces, "layout": layout}


def accuracy_figure(calibrators: Sequence[Mapping[str, Any]], *, analyte: str,
                    unit: str) -> dict[str, Any]:
    """Each calibrator's back-calculated accuracy (% of nominal) with its tolerance band."""
    x = [c["x"] for c in calibrators]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "markers", "name": "accuracy (%)", "x": x,
         "y": [c.get("accuracy") for c in calibrators],
         "text": [c["label"] for c in calibrators],
         "marker": {"size": 8, "color": [PALETTE[2] if c.get("passed", True) else PALETTE[1]
                                         for c in calibrators]}}]
    tolerance = next((c.get("tolerance") for c in calibrators if c.get("tolerance")), None)
    if x and tolerance:
        for level in (100 - tolerance, 100.0, 100 + tolerance):
            traces.append({"type": "scatter", "mode": "lines", "showlegend": level == 100.0,
                           "name": f"100 ± {tolerance:g} %", "x": [min(x), max(x)],
                           "y": [level, level], "hoverinfo": "skip",
                           "line": {"width": 1, "dash": "solid" if level == 100 else "dash",
                                    "color": "#777777"}})
    layout = {**_titled(f"{analyte}: accuracy of the calibrators"),
              "xaxis": {"title": {"text": f"nominal ({unit})"}},
              "yaxis": {"title": {"text": "% of nominal"}}}
    return {"data": traces, "layout": layout}


def integration_figure(times_s: np.ndarray, trace: np.ndarray,
                       integration: Mapping[str, Any], *, analyte: str) -> dict[str, Any]:
    """The quantifier ion's trace near the peak, its integration limits and baseline.

    ``integration`` is the quantity's recorded integration (``start_s``, ``end_s``,
    ``baseline_start``/``baseline_end`` at ``baseline_from_s``/``baseline_to_s``,
    ``window_s``); nothing is integrated here.
    """
    start, end = float(integration["start_s"]), float(integration["end_s"])
    span = max(end - start, 1.0)
    keep = (times_s >= start - 2 * span) & (times_s <= end + 2 * span)
    inside = (times_s >= start) & (times_s <= end)
    t_min = np.asarray(times_s) / 60.0
    b_from = float(integration.get("baseline_from_s") or start)
    b_to = float(integration.get("baseline_to_s") or end)
    b0 = float(integration.get("baseline_start") or 0.0)
    b1 = float(integration.get("baseline_end") or b0)
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines", "name": str(integration.get("signal") or "trace"),
         "x": _numbers(t_min[keep], 4), "y": _numbers(trace[keep], 1),
         "line": {"width": 1, "color": PALETTE[0]}},
        {"type": "scatter", "mode": "lines", "name": "baseline",
         "x": [round(b_from / 60, 4), round(b_to / 60, 4)], "y": [b0, b1],
         "line": {"width": 1.5, "dash": "dash", "color": PALETTE[1]}},
        {"type": "scatter", "mode": "lines", "name": "integrated", "fill": "tonexty",
         "x": _numbers(t_min[inside], 4), "y": _numbers(trace[inside], 1),
         "line": {"width": 0}, "fillcolor": "rgba(0,114,178,0.25)"}]
    shapes = [{"type": "line", "xref": "x", "yref": "paper", "x0": t / 60, "x1": t / 60,
               "y0": 0, "y1": 1, "line": {"width": 1, "dash": "dot", "color": "#555555"}}
              for t in (start, end)]
    layout = {**_titled(f"{analyte}: {integration.get('signal', '')}"),
              "xaxis": {"title": {"text": "min"}}, "yaxis": {"exponentformat": "e"},
              "shapes": shapes}
    return {"data": traces, "layout": layout}
