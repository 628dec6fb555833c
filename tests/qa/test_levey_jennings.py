from datetime import datetime, timedelta

import numpy as np
import pytest

from gcms.qa import control_chart, levey_jennings


def rendered_rgb(figure, tmp_path):
    from matplotlib.image import imread

    path = tmp_path / "chart.png"
    figure.savefig(path, dpi=80)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return imread(path)[..., :3]


def red_pixels(image):
    # the rejection colour #c0182b
    return int(np.sum((np.abs(image[..., 0] - 0xC0 / 255) < 0.06)
                      & (np.abs(image[..., 1] - 0x18 / 255) < 0.06)
                      & (np.abs(image[..., 2] - 0x2B / 255) < 0.06)))


def test_chart_renders_limits_and_flags(tmp_path):
    values = [0.1, -0.4, 0.3, 0.2, -0.1, 3.6, 0.0]
    chart = control_chart(values, metric="isotope_503_502", unit="%", mean=0.0, sd=1.0)
    figure = levey_jennings(chart, title="GCMS-01")
    axes = figure.axes[0]
    levels = sorted(line.get_ydata()[0] for line in axes.lines[1:])
    assert levels == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    labels = [t.get_text() for t in axes.texts]
    assert "1-2s 1-3s" in labels and "+3 SD" in labels and "mean" in labels
    flagged = rendered_rgb(figure, tmp_path)
    calm = rendered_rgb(levey_jennings(control_chart([0.1, -0.4, 0.3, 0.2, -0.1, 0.6, 0.0],
                                                     mean=0.0, sd=1.0)), tmp_path)
    # the rejected point (and its label) add red beyond the ±3 SD lines of both charts
    assert red_pixels(flagged) > red_pixels(calm) + 20


def test_several_metrics_with_dates_and_pdf(tmp_path):
    start = datetime(2026, 1, 5, 9, 0)
    times = [start + timedelta(days=i) for i in range(12)]
    charts = {
        "abundance_219": control_chart(np.linspace(50, 56, 12), metric="abundance_219"),
        "air_28_69": control_chart([2.0, 2.1, 1.9, 2.2] * 3, metric="air_28_69"),
    }
    figure = levey_jennings(charts, times=times)
    assert len(figure.axes) == 2
    path = tmp_path / "charts.pdf"
    figure.savefig(path)
    assert path.read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="3 times for 12 values"):
        levey_jennings(charts, times=times[:3])
    with pytest.raises(ValueError, match="no control chart"):
        levey_jennings({})


def test_no_pyplot_state_is_touched():
    import sys

    levey_jennings(control_chart([1.0, 2.0, 1.5, 1.7]))
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums()
