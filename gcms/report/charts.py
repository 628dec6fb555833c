"""Report figures: chromatogram with labelled peaks, head-to-tail spectra.

matplotlib ``Figure`` objects without pyplot state (safe in batch workers and
threads). Text inside the figures is language-neutral (m/z, min, %, substance names as
in the library): the captions under them are in the report's language, and so are the
spectra's panel labels, which the PDF writes over the figure (:func:`panel_labels`).
:func:`png_bytes` renders a figure at print resolution, opaque and without a timestamp,
so the same model gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from gcms.report.model import Chromatogram, SpectrumTrace

__all__ = ["PanelLabel", "chromatogram_figure", "head_to_tail_figure", "panel_labels",
           "png_bytes"]

#: Print resolution of figures embedded in a report (dots per inch).
FIGURE_DPI = 220
#: Ions labelled with their m/z on each spectrum: the most intense ones.
LABELLED_IONS = 6
#: Peaks below this fraction of the base peak are not drawn (noise in a printed plot).
MIN_RELATIVE_INTENSITY = 0.002


def png_bytes(figure, *, dpi: int = FIGURE_DPI) -> bytes:
    """PNG of ``figure``: white, opaque (RGB), no software/date metadata."""
    from PIL import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as image:
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", optimize=True)
    return out.getvalue()


def chromatogram_figure(chromatogram: Chromatogram, *, width_in: float = 7.0,
                        height_in: float = 2.9):
    """The chromatogram against time (min), each labelled peak named above its apex.

    Identified substances are labelled in bold; labels that would overlap are stacked.
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), layout="constrained")
    axes = figure.add_subplot()
    minutes = chromatogram.times_s / 60.0
    signal = chromatogram.intensity
    top = float(signal.max()) if signal.size else 1.0
    top = top if top > 0 else 1.0
    axes.plot(minutes, signal / top * 100.0, color="black", linewidth=0.6)
    placed: list[tuple[float, float]] = []
    span = float(minutes[-1] - minutes[0]) if minutes.size > 1 else 1.0
    for peak in sorted(chromatogram.peaks, key=lambda p: p.rt_s):
        t = peak.rt_s / 60.0
        index = int(np.clip(np.searchsorted(minutes, t), 0, max(signal.size - 1, 0)))
        lo, hi = max(index - 3, 0), min(index + 4, signal.size)
        height = float(signal[lo:hi].max()) / top * 100.0 if signal.size else 0.0
        y = height + 4.0
        for px, py in placed:  # stack labels closer than 4 % of the time axis
            if abs(px - t) < 0.04 * span and abs(py - y) < 9.0:
                y = py + 9.0
        placed.append((t, y))
        axes.annotate(peak.text, xy=(t, height), xytext=(t, y), fontsize=6.5,
                      ha="center", va="bottom", rotation=0,
                      fontweight="bold" if peak.identified else "normal",
                      arrowprops={"arrowstyle": "-", "linewidth": 0.4, "color": "0.4"})
    highest = max([y for _, y in placed], default=100.0)
    axes.set_ylim(0, max(110.0, highest + 12.0))
    axes.set_xlim(minutes[0] if minutes.size else 0, minutes[-1] if minutes.size else 1)
    axes.set_xlabel("t / min", fontsize=8)
    axes.set_ylabel(f"{chromatogram.signal} / %", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.set_title(chromatogram.label, fontsize=8, loc="left")
    return figure


def _relative(trace: SpectrumTrace) -> tuple[np.ndarray, np.ndarray]:
    top = float(trace.intensity.max()) if trace.intensity.size else 0.0
    if top <= 0:
        return trace.mz[:0], trace.intensity[:0]
    relative = trace.intensity / top * 100.0
    keep = relative >= MIN_RELATIVE_INTENSITY * 100.0
    return trace.mz[keep], relative[keep]


def _stems(axes, mz: np.ndarray, values: np.ndarray, *, sign: float, color: str) -> None:
    axes.vlines(mz, 0, sign * values, colors=color, linewidth=0.8)
    for i in np.argsort(values)[::-1][:LABELLED_IONS]:
        axes.text(mz[i], sign * (values[i] + 2.0), f"{mz[i]:.0f}", fontsize=5.5, color=color,
                  ha="center", va="bottom" if sign > 0 else "top")


@dataclass(frozen=True, slots=True)
class PanelLabel:
    """Where a panel's label goes, for a renderer that writes it in its own language.

    ``x`` and ``y`` are fractions of the figure's width and height, from its left and its
    *top*; ``ha`` (left/right) and ``va`` (top/bottom) say which corner of the text sits
    there; ``trace`` is 0 for the sample, k for the k-th reference; ``colour`` as RGB.
    """

    x: float
    y: float
    ha: str
    va: str
    trace: int
    colour: tuple[int, int, int]


def panel_labels(figure) -> list[PanelLabel]:
    """The label anchors of a :func:`head_to_tail_figure` drawn with ``labels=False``.

    Read after the figure is drawn (:func:`png_bytes`), when its layout is final.
    """
    from matplotlib.colors import to_rgb

    out = []
    for axes, x, y, ha, va, trace, colour in getattr(figure, "_gcms_panel_labels", ()):
        box = axes.get_position()
        out.append(PanelLabel(box.x0 + x * box.width, 1.0 - (box.y0 + y * box.height), ha,
                              va, trace, tuple(int(round(255 * c)) for c in to_rgb(colour))))
    return out


def head_to_tail_figure(sample: SpectrumTrace, references: list[SpectrumTrace], *,
                        title: str = "", width_in: float = 7.0, panel_height_in: float = 2.1,
                        labels: bool = True):
    """Head-to-tail plots: the sample's spectrum up, each reference spectrum down.

    One panel per reference (library entry, same-sequence reference standard), each
    spectrum scaled to its base peak (100 %), the most intense ions labelled. With
    ``labels=False`` the traces' labels are not drawn: :func:`panel_labels` says where
    they go, so that the report writes them in its own language (matplotlib does not
    shape Arabic) over the figure. Axis labels are symbols (m/z, %), the same in every
    language.
    """
    from matplotlib.figure import Figure

    panels = max(len(references), 1)
    figure = Figure(figsize=(width_in, panel_height_in * panels), layout="constrained")
    axes_list = figure.subplots(panels, 1, squeeze=False)[:, 0]
    s_mz, s_rel = _relative(sample)
    every = [s_mz, *(_relative(r)[0] for r in references)]
    low = min((float(m.min()) for m in every if m.size), default=0.0)
    high = max((float(m.max()) for m in every if m.size), default=100.0)
    colours = ("#1f4e9a", "#1d7a3a", "#8a3b12")
    x0, x1 = max(low - 5.0, 0.0), high + 10.0

    def corner(mz: np.ndarray, rel: np.ndarray) -> tuple[float, str]:
        # the label goes to the side whose first third holds no tall peak, so that it
        # never hides an ion (a base peak at low m/z is common: m/z 44, 58, 91)
        left = (mz - x0) < 0.3 * (x1 - x0)
        return (0.99, "right") if bool(np.any(rel[left] > 55.0)) else (0.01, "left")

    anchors: list[tuple] = []
    for k, axes in enumerate(axes_list):
        _stems(axes, s_mz, s_rel, sign=1.0, color="black")
        x, ha = corner(s_mz, s_rel)
        anchors.append((axes, x, 0.95, ha, "top", 0, "black"))
        if labels:
            axes.text(x, 0.95, sample.label, transform=axes.transAxes, fontsize=6.5,
                      va="top", ha=ha)
        if k < len(references):
            r_mz, r_rel = _relative(references[k])
            colour = colours[k % len(colours)]
            _stems(axes, r_mz, r_rel, sign=-1.0, color=colour)
            x, ha = corner(r_mz, r_rel)
            anchors.append((axes, x, 0.05, ha, "bottom", k + 1, colour))
            if labels:
                axes.text(x, 0.05, references[k].label, transform=axes.transAxes,
                          fontsize=6.5, va="bottom", ha=ha, color=colour)
        axes.axhline(0, color="0.3", linewidth=0.5)
        axes.set_xlim(x0, x1)
        axes.set_ylim(-118, 118)
        axes.set_yticks([-100, -50, 0, 50, 100], ["100", "50", "0", "50", "100"])
        axes.set_ylabel("%", fontsize=7)
        axes.tick_params(labelsize=6.5)
    axes_list[-1].set_xlabel("m/z", fontsize=7)
    if title:
        axes_list[0].set_title(title, fontsize=8, loc="left")
    figure._gcms_panel_labels = anchors
    return figure
