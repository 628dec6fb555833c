"""Signal processing of chromatographic traces: baseline, noise, smoothing, peaks.

Functions take a 1-D trace or a scan × ion matrix and return arrays; nothing loops over
scans or peaks in Python.

* :func:`rolling_ball` and :func:`centre_baseline` (every ion trace at once) and
  :func:`baseline` (one trace, pybaselines' arPLS / AsLS / SNIP) —
  :mod:`gcms.signal.baseline`;
* :func:`difference_noise` and the ion-counting :class:`NoiseModel` fitted by
  :func:`estimate_noise` — :mod:`gcms.signal.noise`;
* :func:`savitzky_golay`, :func:`gaussian`, :func:`moving_average` —
  :mod:`gcms.signal.smoothing`;
* :func:`find_peaks` returning a :class:`Peaks` table (apex, boundaries, height,
  baseline-corrected area, S/N, width, tailing), and :func:`typical_half_width` (the
  width a trace's peaks typically have) — :mod:`gcms.signal.peaks`.
"""

from gcms.signal.baseline import BaselineMethod, baseline, centre_baseline, rolling_ball
from gcms.signal.noise import NoiseModel, difference_noise, estimate_noise
from gcms.signal.peaks import Peaks, PeakSettings, find_peaks, typical_half_width
from gcms.signal.smoothing import gaussian, moving_average, savitzky_golay

__all__ = [
    "BaselineMethod",
    "NoiseModel",
    "PeakSettings",
    "Peaks",
    "baseline",
    "centre_baseline",
    "difference_noise",
    "estimate_noise",
    "find_peaks",
    "gaussian",
    "moving_average",
    "rolling_ball",
    "savitzky_golay",
    "typical_half_width",
]
