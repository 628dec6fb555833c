"""Component perception: where compounds elute, and which ions trace their profiles.

The steps of AMDIS's noise and component perception (Stein, JASMS 10 (1999) 770), each
done once over the whole scan × ion matrix with array operations:

1. **Matrix**: the run's nominal-mass matrix over the m/z range, excluded ions zeroed.
2. **Noise**: the ion-counting noise model of :func:`gcms.signal.estimate_noise`.
3. **Peak width**: the median half-height width of the strongest ion peaks, unless given.
4. **Baseline**: :func:`gcms.signal.rolling_ball` of every ion trace (on the lightly
   smoothed traces, window 10 peak widths each side, never above the grey opening it
   smooths), lifted to the mean of the noise by
   :func:`gcms.signal.centre_baseline`, and subtracted; computed on blocks of half a
   peak width (the baseline varies over many) and interpolated back to every scan.
5. **Spectral skew**: on a scanning quadrupole each ion is measured at its own moment
   of the sweep, so a compound's ion apexes drift linearly with m/z. The drift is the
   pooled slope of apex position against m/z over the ions of the perceived components
   (weighted least squares, outliers beyond 3 MAD dropped), and every ion trace is
   resampled (linear interpolation) onto the time of the sweep's middle mass.
6. **Smoothing**: a Gaussian of σ = FWHM / (2 · 2.355) scans on every ion trace (the
   matched filter, widened by 12 %).
7. **Ion maxima**: local maxima of each smoothed trace that rise above the lower of
   their two flanks (minimum within one FWHM on each side) by at least ``ion_snr``
   times the σ of the smoothed noise at their level, and are not single-scan spikes
   (on the unsmoothed trace a neighbour of the apex holds at least 30 % of it, less
   2 σ). Each gets a sub-scan apex (parabola through three points) and a
   *sharpness*, AMDIS's criterion for choosing the model ion: an ion that belongs to
   one compound only falls steeply on both sides, one shared with a co-eluting
   neighbour is broadened and falls less. Here it is the fraction of its height the
   smoothed trace falls one FWHM either side (relative, so that a large shared ion does
   not win by its size), times ``S/N / (S/N + 10)`` (so that a weak ion, whose fall is
   mostly noise, does not win by chance).
8. **Perception**: a kernel density of the ion apex positions (a Gaussian of bandwidth
   ``resolution`` × FWHM, one unit per ion) peaks where ions maximise together; each
   peak of at least 1.5 (two ions) is a candidate component, and each ion maximum
   belongs to the nearest candidate within two bandwidths.
9. **Model ion**: the sharpest ion of each candidate (sharpness discounted by its
   distance to the candidate's centre, a Gaussian of one bandwidth), bleed and air ions
   excluded
   (``bleed_mz``, ``background_mz``: the argon of a small air leak dips and rises with
   the ion source's load under a large peak). The model profile is the S/N²-weighted
   mean of the normalised traces of up to five of its sharpest ions.
10. **Window**: from the apex of the model profile outwards, until it falls to the
    noise (2 σ, or 1 % of its apex) or rises again significantly from its running
    minimum (a valley towards a neighbour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcms.deconvolution.settings import DeconvolutionSettings
from gcms.errors import GcmsError
from gcms.run import Run
from gcms.signal.baseline import centre_baseline, rolling_ball
from gcms.signal.noise import MAD_TO_SIGMA, NoiseModel, estimate_noise

__all__ = ["IonMaxima", "Perception", "Prepared", "perceive", "prepare"]

#: Lowest m/z used by default: below 35 an EI scan holds air and water (28, 32, 18).
DEFAULT_MZ_MIN = 35
#: Peak width (FWHM, s) assumed when the run has too few strong peaks to measure it:
#: typical of capillary GC with a 0.25 mm column.
DEFAULT_PEAK_WIDTH_S = 2.5
#: FWHM of a Gaussian in σ.
FWHM_PER_SIGMA = 2.3548200450309493
#: Resolution of the perception density grid, in points per scan.
GRID_PER_SCAN = 4
#: Minimum density (ions maximising together) for a candidate component.
MIN_PERCEPTION_DENSITY = 1.5
#: Half window of the ion baselines, in FWHM: wider than any peak's base.
BASELINE_WINDOW_FWHM = 10.0
#: A maximum whose higher unsmoothed neighbour is below this fraction of it (less 2 σ)
#: is a single-scan spike, not a peak.
SPIKE_NEIGHBOUR = 0.3
#: Ion traces (those with the largest range) on which the peak width is measured.
FWHM_COLUMNS = 96
#: Ion maxima that measure the spectral skew: S/N at least this.
SKEW_MIN_SNR = 10.0
#: S/N at which the sharpness of an ion maximum is discounted by half.
SHARPNESS_HALF_SNR = 10.0
#: Number of ions whose traces are averaged into a candidate's model profile.
MODEL_IONS = 5
#: A window ends where the model profile falls to this fraction of its apex (or to 2 σ
#: of its noise); beyond, a profile adds nothing measurable to a spectrum but would
#: chain neighbouring windows into long regions.
WINDOW_STOP = 0.01
#: How far a window may reach before and after the apex, in FWHM.
WINDOW_REACH = (20.0, 40.0)


@dataclass(slots=True)
class Prepared:
    """The run made ready for perception and fitting (internal)."""

    times: np.ndarray          # (n,) scan times, s
    masses: np.ndarray         # (m,) nominal masses of the columns
    data: np.ndarray           # (n, m) baseline-corrected, de-skewed abundances
    smooth: np.ndarray         # (n, m) smoothed ``data``
    background: np.ndarray     # (n, m) the baseline removed (de-skewed)
    noise: NoiseModel
    smooth_gain: float         # σ of smoothed white noise / σ of the raw noise
    fwhm_scans: float
    skew_per_u: float          # scans of apex delay per u (0 when not corrected)
    model_ok: np.ndarray       # (m,) bool: may be a model ion
    recorded: np.ndarray       # (n, m) baseline-corrected abundances as scanned (no de-skew)

    def sigma(self, level: np.ndarray) -> np.ndarray:
        """Noise σ of the raw data at the given net level (background added)."""
        return self.noise.sigma(level)


@dataclass(slots=True)
class IonMaxima:
    """Significant local maxima of the smoothed ion traces, as columns (internal)."""

    scan: np.ndarray       # int, scan index of the maximum
    ion: np.ndarray        # int, column index
    position: np.ndarray   # float, sub-scan apex position
    height: np.ndarray     # smoothed height above baseline
    snr: np.ndarray        # rise over the flanks / smoothed noise σ
    sharpness: np.ndarray  # relative fall one FWHM either side, × S/N / (S/N + 10)

    def take(self, keep: np.ndarray) -> IonMaxima:
        """Rows selected by a mask or index array."""
        return IonMaxima(*(getattr(self, f)[keep] for f in self.__slots__))


@dataclass(slots=True)
class Perception:
    """Candidate components (internal): one row per candidate."""

    apex: np.ndarray       # int, scan of the model ion's maximum
    position: np.ndarray   # float, perceived apex position (density peak), scans
    model: np.ndarray      # int, column of the model ion
    start: np.ndarray      # int, first scan of the window
    end: np.ndarray        # int, last scan of the window (inclusive)
    n_ions: np.ndarray     # int, ion maxima assigned
    trace: np.ndarray      # (C, L) model trace (relative), scans origin .. origin + L - 1
    origin: np.ndarray     # int, scan of the first column of ``trace``

    def take(self, keep: np.ndarray) -> Perception:
        """Rows selected by a mask or index array."""
        return Perception(*(getattr(self, f)[keep] for f in self.__slots__))

    def __len__(self) -> int:
        return int(self.apex.size)


# --------------------------------------------------------------------------- helpers
def _gaussian_kernel_gain(sigma: float) -> float:
    """σ of white noise after the Gaussian smoothing, relative to before (Σ k²)^½."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    return float(np.sqrt((kernel**2).sum()))


def _smooth(data: np.ndarray, fwhm_scans: float) -> tuple[np.ndarray, float]:
    from scipy.ndimage import gaussian_filter1d

    sigma = fwhm_scans / FWHM_PER_SIGMA / 2.0
    if sigma < 0.3:
        return data.copy(), 1.0
    return gaussian_filter1d(data, sigma, axis=0, mode="nearest", truncate=4.0), \
        _gaussian_kernel_gain(sigma)


def _gather(trace: np.ndarray, rows: np.ndarray, cols: np.ndarray,
            offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``trace[rows + offsets, cols]`` as a (k, len(offsets)) array, and the validity mask."""
    index = rows[:, None] + offsets[None, :]
    valid = (index >= 0) & (index < trace.shape[0])
    values = trace[np.clip(index, 0, trace.shape[0] - 1), cols[:, None]]
    return np.where(valid, values, np.nan), valid


def _half_widths(values: np.ndarray, floor: np.ndarray, centre: int) -> np.ndarray:
    """Full width (scans, interpolated) at half height above ``floor`` of each row's peak.

    ``values`` holds one trace per row with the apex at column ``centre``.
    """
    half = (values[:, centre] + floor) / 2.0
    widths = np.zeros(values.shape[0])
    rows = np.arange(values.shape[0])
    for side in (values[:, centre::-1], values[:, centre:]):
        below = side < half[:, None]
        k = np.argmax(below, axis=1)
        k = np.where(below[rows, k], k, side.shape[1] - 1)
        before = side[rows, np.maximum(k - 1, 0)]
        at = side[rows, k]
        fraction = np.where(before > at, (before - half) / np.maximum(before - at, 1e-300), 0.0)
        widths += np.maximum(k - 1, 0) + np.clip(fraction, 0.0, 1.0)
    return widths


def _measure_fwhm(data: np.ndarray, noise: NoiseModel, guess: float) -> float | None:
    """One pass of :func:`estimate_fwhm_scans` with smoothing matched to ``guess``."""
    from scipy.ndimage import gaussian_filter1d, maximum_filter1d

    sigma_s = guess / FWHM_PER_SIGMA / 2.0
    light = gaussian_filter1d(data, sigma_s, axis=0, mode="nearest", truncate=4.0)
    gain = _gaussian_kernel_gain(sigma_s)
    reach = max(3, int(round(2.0 * guess)))
    n = light.shape[0]
    if n <= 2 * reach + 2:
        return None
    inner = light[reach:-reach]
    # The highest point of its trace within one FWHM either side...
    is_max = inner >= maximum_filter1d(light, 2 * max(1, int(guess)) + 1, axis=0)[reach:-reach]
    is_max &= inner > light[reach - 1 : -reach - 1]
    # ...rising well above the points two FWHM away (a cheap sufficient test: the
    # flank minima are at most these values).
    rough = inner - np.maximum(light[: -2 * reach], light[2 * reach :])
    is_max &= rough > 8.0 * gain * noise.sigma(inner)
    rows, cols = np.nonzero(is_max)
    if rows.size < 5:
        return None
    rows = rows + reach
    top = np.argsort(rough[rows - reach, cols])[-200:]
    rows, cols = rows[top], cols[top]
    span = 3 * reach
    values, _ = _gather(light, rows, cols, np.arange(-span, span + 1))
    values = np.nan_to_num(values, nan=0.0)
    floor = np.maximum(values[:, span - reach : span + 1].min(axis=1),
                       values[:, span : span + reach + 1].min(axis=1))
    # Not single-scan spikes: an unsmoothed neighbour of the apex holds 30 % of it.
    raw = data[rows, cols]
    neighbour = np.maximum(data[rows - 1, cols], data[np.minimum(rows + 1, n - 1), cols])
    solid = neighbour >= SPIKE_NEIGHBOUR * raw - 2.0 * noise.sigma(raw)
    if np.count_nonzero(solid) < 5:
        return None
    rows, values, floor = rows[solid], values[solid], floor[solid]
    rise = values[:, span] - floor
    # Width at half height, or from the curvature of the apex if that is narrower: the
    # half-height width of a pair of co-eluting peaks spans both, the curvature of
    # either apex is its own (a Gaussian's top is h (1 - x² / 2σ²): a parabola fitted
    # over ±σ/2 of the guess gives σ² = -h / 2c).
    k = max(1, int(round(0.5 * guess / FWHM_PER_SIGMA)))
    x = np.arange(-k, k + 1, dtype=np.float64)
    quadratic = np.linalg.pinv(np.column_stack([np.ones_like(x), x, x * x]))[2]
    c = values[:, span - k : span + k + 1] @ quadratic
    curved = np.where(c < 0, FWHM_PER_SIGMA * np.sqrt(rise / np.where(c < 0, -2.0 * c, 1.0)),
                      np.inf)
    widths = np.minimum(_half_widths(values, floor, span), curved)
    order = np.argsort(rows)
    rows, widths, rise = rows[order], widths[order], rise[order]
    peak = np.cumsum(np.concatenate([[0], np.diff(rows) > max(3, guess / 2)]))
    order = np.lexsort((widths, peak))
    counts = np.bincount(peak)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    per_peak = widths[order][starts + counts // 2]
    strength = np.zeros(counts.size)
    np.maximum.at(strength, peak, rise)
    # The strongest half of the elutions (at least three) vote: weak blips near the
    # noise are narrow by chance and would otherwise outvote a run's few compounds.
    strongest = np.argsort(strength)[::-1][: max(3, counts.size // 2)]
    sigma2 = (np.median(per_peak[strongest]) / FWHM_PER_SIGMA) ** 2 - sigma_s**2
    return float(np.clip(np.sqrt(max(sigma2, 0.25)) * FWHM_PER_SIGMA, 1.5, 200.0))


def estimate_fwhm_scans(data: np.ndarray, noise: NoiseModel, guess: float) -> float | None:
    """Median half-height width (scans) of the strongest ion peaks of the matrix.

    Each ion trace is smoothed with a Gaussian matched to ``guess`` (σ = FWHM / 4.7); its
    maxima that are the highest point within one FWHM and rise at least 8 σ (smoothed
    noise) above the points two FWHM away are kept, the 200 that rise most measured at
    half their rise above the higher of their flank minima (or by the curvature of
    their apex, when that is narrower: a co-eluting pair), and the smoothing's
    broadening removed in quadrature; single-scan spikes are left out. The maxima are
    grouped into elutions (apexes closer than half a FWHM) and the width is the median,
    over the strongest half of the elutions (at least three), of each one's median ion
    width: one vote per compound, else a big compound with many ions would set the width
    of all, and weak blips near the noise would outvote a run's few compounds. Only the
    :data:`FWHM_COLUMNS` ion traces with the largest range take part. When the
    result differs from ``guess`` by more than 30 % the measurement is repeated once
    with the result as the guess. None when the run has fewer than 5 such maxima.
    """
    # The strongest ion traces carry the strongest peaks: measure on those only.
    strength = data.max(axis=0) - np.median(data, axis=0)
    columns = np.sort(np.argsort(strength)[-FWHM_COLUMNS:])
    data = data[:, columns]
    width = _measure_fwhm(data, noise, guess)
    if width is not None and abs(width / guess - 1.0) > 0.3:
        width = _measure_fwhm(data, noise, width) or width
    return width


def _window_min(values: np.ndarray, h: int, side: str) -> np.ndarray:
    """Minimum over ``[i-h, i]`` (left) or ``[i, i+h]`` (right) along axis 0."""
    from scipy.ndimage import minimum_filter1d

    size = h + 1
    origin = (size - 1) // 2 if side == "left" else -(size // 2)
    return minimum_filter1d(values, size, axis=0, origin=origin, mode="nearest")


# --------------------------------------------------------------------------- stages
def _matrix(run: Run, settings: DeconvolutionSettings) -> tuple[np.ndarray, np.ndarray]:
    name = run.metadata.source_path or repr(run)
    if run.metadata.acquisition == "trace":
        raise GcmsError(f"{name}: a detector trace without mass spectra cannot be "
                        "deconvoluted (use gcms.signal.find_peaks on it)")
    bounds = run.nominal_mz_range
    if bounds is None or run.n_scans < 5:
        raise GcmsError(f"{run.metadata.source_path or run!r}: run has too few scans or "
                        "no peaks to deconvolute")
    mz_min = settings.mz_min if settings.mz_min is not None else max(bounds[0], DEFAULT_MZ_MIN)
    mz_max = settings.mz_max if settings.mz_max is not None else bounds[1]
    if mz_max < mz_min:
        raise GcmsError(f"{run.metadata.source_path or run!r}: m/z range {mz_min}-{mz_max} "
                        "holds no data")
    # float32, as Run.matrix gives it: the whole-matrix filters run at twice the speed,
    # and abundances need no more than its 7 digits; the fits work in float64.
    matrix = run.matrix(mz_min, mz_max)
    masses = np.arange(mz_min, mz_max + 1)
    excluded = np.isin(masses, settings.excluded_mz)
    matrix[:, excluded] = 0.0
    if not np.any(matrix > 0):
        raise GcmsError(f"{run.metadata.source_path or run!r}: m/z range {mz_min}-{mz_max} "
                        "holds no data")
    return matrix, masses


def _deskew(matrix: np.ndarray, masses: np.ndarray, per_u: float) -> np.ndarray:
    """Resample each ion trace so that apexes no longer drift with m/z (linear interp.).

    Column ``j`` lags the middle mass by ``s_j = per_u (m_j - m̄)`` scans and becomes
    ``(1 - f) x[i + w] + f x[i + w + 1]`` with ``w = floor(s_j)``, ``f = s_j - w``
    (edges repeat the end scan). ``w`` grows monotonically with m/z, so the columns
    sharing one are a contiguous block, shifted as one slice of an edge-padded copy.
    """
    if per_u == 0.0:
        return matrix
    shift = per_u * (masses - masses.mean())
    whole = np.floor(shift).astype(np.int64)
    fraction = (shift - whole).astype(matrix.dtype)
    n = matrix.shape[0]
    pad = int(np.abs(whole).max()) + 1
    padded = np.pad(matrix, ((pad, pad + 1), (0, 0)), mode="edge")
    out = np.empty_like(matrix)
    bounds = np.flatnonzero(np.diff(whole)) + 1
    for c0, c1 in zip(np.r_[0, bounds], np.r_[bounds, whole.size], strict=True):
        start = pad + int(whole[c0])  # a handful of blocks of equal whole shift
        f = fraction[c0:c1]
        out[:, c0:c1] = (1 - f) * padded[start : start + n, c0:c1] \
            + f * padded[start + 1 : start + 1 + n, c0:c1]
    return out


def _envelope(values: np.ndarray, half_window: int) -> np.ndarray:
    """Rolling ball, never above the grey opening it smooths.

    The moving average of the rolling ball carries the foot of a peak wider than the
    ball (an overloaded one) out onto the baseline beside it; capped by the opening
    (itself never above the trace) the envelope stays under the trace there.
    """
    from scipy.ndimage import grey_opening

    opened = grey_opening(values, size=(2 * half_window + 1, 1))
    return np.minimum(rolling_ball(values, half_window), opened)


def _ion_baselines(raw: np.ndarray, light: np.ndarray, noise: NoiseModel,
                   fwhm: float) -> np.ndarray:
    """Step 4 on a coarse grid: blocks of about half a FWHM, then back to every scan.

    The baseline changes over many peak widths, so it is computed on block minima (the
    envelope) and block means (the centring) of ``d = FWHM / 2`` scans, with the windows
    divided by ``d`` and the noise σ by √d, and interpolated linearly back: the same
    baseline for a ``d``-th of the work.
    """
    n = raw.shape[0]
    half_window = max(3, int(round(BASELINE_WINDOW_FWHM * fwhm)))
    d = max(1, int(fwhm // 2))
    if d == 1 or n < 4 * d:
        envelope = _envelope(light, half_window)
        return centre_baseline(raw, envelope, noise.sigma(envelope), half_window)
    blocks = n // d
    tail = n - blocks * d
    shape = (blocks, d) + raw.shape[1:]
    low = light[: blocks * d].reshape(shape).min(axis=1)
    mean = raw[: blocks * d].reshape(shape).mean(axis=1)
    if tail:
        low = np.concatenate([low, light[blocks * d :].min(axis=0, keepdims=True)])
        mean = np.concatenate([mean, raw[blocks * d :].mean(axis=0, keepdims=True)])
    coarse_window = max(1, int(round(half_window / d)))
    envelope = _envelope(low, coarse_window)
    sigma = noise.sigma(envelope) / np.sqrt(d)
    coarse = centre_baseline(mean, envelope, sigma, coarse_window)
    # Block k stands for scans k d .. k d + d - 1, centred at k d + (d - 1) / 2.
    position = (np.arange(n) - (d - 1) / 2.0) / d
    k = np.clip(np.floor(position).astype(np.int64), 0, coarse.shape[0] - 1)
    f = np.clip(position - k, 0.0, 1.0).astype(raw.dtype)[:, None]
    upper = np.minimum(k + 1, coarse.shape[0] - 1)
    return (1 - f) * coarse[k] + f * coarse[upper]


def ion_maxima(prepared: Prepared, min_snr: float, *, rough: bool = False) -> IonMaxima:
    """Significant local maxima of every smoothed ion trace (see module step 7).

    ``rough``: measure the rise against the two points one FWHM away instead of the
    flank minima (a lower bound of it, without the two window filters over the whole
    matrix): enough to pick the strong maxima the skew estimate uses.
    """
    smooth = prepared.smooth
    n = smooth.shape[0]
    h = max(1, int(round(prepared.fwhm_scans)))
    inner = smooth[1:-1]
    candidate = (inner > smooth[:-2]) & (inner >= smooth[2:]) & (inner > 0)
    rows, cols = np.nonzero(candidate)
    rows = rows + 1
    if rough:
        floor = np.maximum(smooth[np.maximum(rows - h, 0), cols],
                           smooth[np.minimum(rows + h, n - 1), cols])
    else:
        left = _window_min(smooth, h, "left")
        right = _window_min(smooth, h, "right")
        floor = np.maximum(left[rows, cols], right[rows, cols])
    rise = smooth[rows, cols] - floor
    level = smooth[rows, cols] + prepared.background[rows, cols]
    sigma = prepared.smooth_gain * prepared.sigma(level)
    snr = rise / sigma
    keep = snr >= min_snr
    rows, cols, snr, sigma = rows[keep], cols[keep], snr[keep], sigma[keep]
    # Not a spike: on the unsmoothed trace a chromatographic peak's apex has a
    # neighbour of at least SPIKE_NEIGHBOUR of its height (a Gaussian of FWHM 2 scans
    # still has 0.5), allowing 2 σ of noise; a single-scan burst has none.
    # Judged on the recorded scans (before de-skewing, whose interpolation would share a
    # burst between two scans): the highest of the three nearest the maximum.
    recorded = prepared.recorded
    shift = prepared.skew_per_u * (prepared.masses[cols] - prepared.masses.mean())
    near = np.clip(np.round(rows + shift).astype(np.int64), 1, n - 2)
    around = np.stack([recorded[near - 1, cols], recorded[near, cols], recorded[near + 1, cols]])
    top = np.clip(near + np.argmax(around, axis=0) - 1, 1, n - 2)
    apex = recorded[top, cols]
    neighbour = np.maximum(recorded[top - 1, cols], recorded[top + 1, cols])
    raw_sigma = prepared.sigma(apex + prepared.background[rows, cols])
    keep = neighbour >= SPIKE_NEIGHBOUR * apex - 2.0 * raw_sigma
    rows, cols, snr, sigma = rows[keep], cols[keep], snr[keep], sigma[keep]
    a, b, c = smooth[rows - 1, cols], smooth[rows, cols], smooth[rows + 1, cols]
    curvature = a - 2.0 * b + c
    delta = np.where(curvature < 0, 0.5 * (a - c) / np.where(curvature < 0, curvature, -1.0), 0.0)
    position = rows + np.clip(delta, -0.5, 0.5)
    fall_left = b - smooth[np.maximum(rows - h, 0), cols]
    fall_right = b - smooth[np.minimum(rows + h, n - 1), cols]
    # Sharpness: the relative fall one FWHM either side (1 for a clean narrow peak,
    # about 0.9 for a lone Gaussian, less for an ion broadened by a co-eluting
    # neighbour), discounted for weak ions whose fall is mostly noise.
    fall = 0.5 * (fall_left + fall_right) / np.maximum(b, 1e-300)
    sharpness = fall * snr / (snr + SHARPNESS_HALF_SNR)
    return IonMaxima(scan=rows, ion=cols, position=position, height=b, snr=snr,
                     sharpness=sharpness)


def _density_candidates(maxima: IonMaxima, n_scans: int,
                        bandwidth: float) -> tuple[np.ndarray, np.ndarray]:
    """Candidate apex positions (scans) and the assignment of each maximum (-1: none)."""
    from scipy.ndimage import gaussian_filter1d

    if maxima.position.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    grid = np.clip(np.round(maxima.position * GRID_PER_SCAN).astype(np.int64), 0,
                   n_scans * GRID_PER_SCAN - 1)
    hist = np.bincount(grid, minlength=n_scans * GRID_PER_SCAN).astype(np.float64)
    width = bandwidth * GRID_PER_SCAN
    density = gaussian_filter1d(hist, width, mode="constant", truncate=4.0) \
        * (np.sqrt(2.0 * np.pi) * width)
    inner = density[1:-1]
    peaks = np.flatnonzero((inner > density[:-2]) & (inner >= density[2:])
                           & (inner >= MIN_PERCEPTION_DENSITY)) + 1
    if peaks.size == 0:
        return np.empty(0), np.full(maxima.position.size, -1, dtype=np.int64)
    centres = peaks / GRID_PER_SCAN
    right = np.clip(np.searchsorted(centres, maxima.position), 0, centres.size - 1)
    left = np.clip(right - 1, 0, centres.size - 1)
    nearer = np.where(np.abs(maxima.position - centres[left])
                      <= np.abs(maxima.position - centres[right]), left, right)
    close = np.abs(maxima.position - centres[nearer]) <= max(2.0 * bandwidth, 0.75)
    return centres, np.where(close, nearer, -1)


def _model_ions(maxima: IonMaxima, assignment: np.ndarray, centres: np.ndarray,
                bandwidth: float, model_ok: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per candidate: row of its best eligible ion maximum (-1 when none), ion count.

    The best has the highest sharpness times ``exp(-d² / 2b²)``, ``d`` its distance to
    the candidate's centre and ``b`` the perception bandwidth: of two equally sharp
    ions, the one that maximises where the others do (a noise maximum that happens to
    lie nearby is no model for the compound). Returns the rows, the ion counts, the
    eligibility mask and the score of every maximum.
    """
    n_candidates = centres.size
    counts = np.bincount(assignment[assignment >= 0], minlength=n_candidates)
    eligible = (assignment >= 0) & model_ok[maxima.ion]
    distance = maxima.position - centres[np.maximum(assignment, 0)] if n_candidates \
        else np.zeros(assignment.size)
    merit = maxima.sharpness * np.exp(-0.5 * (distance / bandwidth) ** 2)
    rows = np.flatnonzero(eligible)
    best = np.full(n_candidates, -1, dtype=np.int64)
    if rows.size:
        order = np.lexsort((-merit[rows], assignment[rows]))
        ordered = rows[order]
        group = assignment[ordered]
        first = np.concatenate([[True], group[1:] != group[:-1]])
        best[group[first]] = ordered[first]
    return best, counts, eligible, merit


def _walk(values: np.ndarray, stop: np.ndarray, rise: np.ndarray) -> np.ndarray:
    """Steps from index 0 of each row until the trace ends (see module step 10)."""
    length = values.shape[1]
    below = values <= stop[:, None]
    below[:, 0] = False
    running = np.fmin.accumulate(values, axis=1)
    rose = (values - running) > rise[:, None]
    index = np.arange(length)
    last_min = np.maximum.accumulate(np.where(values <= running, index, 0), axis=1)
    nan = np.isnan(values)
    first_below = np.where(below.any(axis=1), np.argmax(below, axis=1), length - 1)
    first_nan = np.where(nan.any(axis=1), np.argmax(nan, axis=1) - 1, length - 1)
    first_rose = np.where(rose.any(axis=1), np.argmax(rose, axis=1), length - 1)
    valley = last_min[np.arange(values.shape[0]), first_rose]
    valley = np.where(rose.any(axis=1), valley, length - 1)
    return np.minimum.reduce([first_below, first_nan, valley])


def _model_traces(prepared: Prepared, maxima: IonMaxima, rows: np.ndarray,
                  owner: np.ndarray, apex: np.ndarray, offsets: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean of the normalised smoothed traces of each candidate's model ions.

    ``rows`` are ion maxima and ``owner`` the candidate each belongs to; every trace is
    divided by its own maximum and weighted by S/N² (capped at 50²), the inverse of the
    variance of its shape. Returns the (C, len(offsets)) traces, aligned on the
    candidates' ``apex`` scans, and the σ of their noise in the same relative units.
    """
    n_cand = apex.size
    values, valid = _gather(prepared.smooth, apex[owner], maxima.ion[rows], offsets)
    height = maxima.height[rows]
    weight = np.minimum(maxima.snr[rows], 50.0) ** 2
    relative = np.nan_to_num(values, nan=0.0) / height[:, None]
    # Sums per candidate: sort by owner and add contiguous runs (ufunc.at is slow).
    order = np.argsort(owner, kind="stable")
    sorted_owner = owner[order]
    starts = np.flatnonzero(np.r_[True, sorted_owner[1:] != sorted_owner[:-1]])
    total = np.zeros((n_cand, offsets.size))
    norm = np.zeros((n_cand, offsets.size))
    if order.size:
        total[sorted_owner[starts]] = np.add.reduceat(
            (relative * weight[:, None])[order], starts, axis=0)
        norm[sorted_owner[starts]] = np.add.reduceat(
            (valid * weight[:, None])[order], starts, axis=0)
    trace = np.where(norm > 0, total / np.where(norm > 0, norm, 1.0), np.nan)
    level = prepared.background[maxima.scan[rows], maxima.ion[rows]]
    sigma_rel = prepared.smooth_gain * prepared.sigma(level) / height
    numerator = np.bincount(owner, weights=(weight * sigma_rel) ** 2, minlength=n_cand)
    weights = np.bincount(owner, weights=weight, minlength=n_cand)
    return trace, np.sqrt(numerator) / np.maximum(weights, 1e-300)


def windows(trace: np.ndarray, centre: int, sigma_rel: np.ndarray,
            search: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (from column ``centre``, the model ion's apex) of each window's first and last scan.

    From the highest point of each relative model trace within ``search`` columns of
    ``centre`` outwards, until it falls to 2 σ (or 1 % of that height) or rises again
    from its running minimum by 3 σ (or 5 %): a valley towards a neighbour (module step 10).
    """
    rows = np.arange(trace.shape[0])
    near = np.nan_to_num(trace[:, centre - search : centre + search + 1], nan=-np.inf)
    peak = centre - search + np.argmax(near, axis=1)
    height = np.maximum(trace[rows, peak], 1e-300)
    stop = np.maximum(2.0 * sigma_rel, WINDOW_STOP * height)
    rise = np.maximum(3.0 * sigma_rel, 0.05 * height)
    length = trace.shape[1]
    steps = np.arange(length)
    forward = peak[:, None] + steps[None, :]
    backward = peak[:, None] - steps[None, :]
    ahead = np.where(forward < length, trace[rows[:, None], np.minimum(forward, length - 1)],
                     np.nan)
    behind = np.where(backward >= 0, trace[rows[:, None], np.maximum(backward, 0)], np.nan)
    right = peak + _walk(ahead, stop, rise) - centre
    left = peak - _walk(behind, stop, rise) - centre
    return left, right


def prepare(run: Run, settings: DeconvolutionSettings) -> tuple[Prepared, IonMaxima]:
    """Steps 1–7: the corrected matrices, the noise model, skew and the ion maxima."""
    raw, masses = _matrix(run, settings)
    noise = estimate_noise(raw)
    times = run.scan_times
    step = float(np.median(np.diff(times))) if times.size > 1 else 1.0
    width_s = settings.peak_width_s or DEFAULT_PEAK_WIDTH_S
    fwhm = max(width_s / step, 1.5) if step > 0 else 3.0
    if settings.peak_width_s is None:
        fwhm = estimate_fwhm_scans(raw, noise, fwhm) or fwhm
    light, gain = _smooth(raw, fwhm)
    # Abundances are never negative, and neither is what lies under them.
    background = np.maximum(_ion_baselines(raw, light, noise, fwhm), 0.0)
    model_ok = ~np.isin(masses, settings.bleed_mz + settings.background_mz + settings.excluded_mz)
    data = raw - background
    # Smoothing is linear and the baseline varies over many peak widths (smoothing leaves
    # it as it is), so the smoothed corrected data are the smoothed raw data less it.
    smooth = light - background
    prepared = Prepared(times=times, masses=masses, data=data, smooth=smooth,
                        background=background, noise=noise, smooth_gain=gain,
                        fwhm_scans=fwhm, skew_per_u=0.0, model_ok=model_ok, recorded=data)
    if settings.correct_skew:
        per_u = _estimate_skew(ion_maxima(prepared, SKEW_MIN_SNR, rough=True), prepared,
                               settings)
        if per_u != 0.0:
            data = _deskew(data, masses, per_u)
            background = _deskew(background, masses, per_u)
            smooth, gain = _smooth(data, fwhm)
            prepared = Prepared(times=times, masses=masses, data=data, smooth=smooth,
                                background=background, noise=noise, smooth_gain=gain,
                                fwhm_scans=fwhm, skew_per_u=per_u, model_ok=model_ok,
                                recorded=prepared.recorded)
    return prepared, ion_maxima(prepared, settings.ion_snr)


def _estimate_skew(maxima: IonMaxima, prepared: Prepared,
                   settings: DeconvolutionSettings) -> float:
    """Pooled slope of ion apex position against m/z within perceived components.

    Only strong maxima (S/N >= 10) of candidates holding at least 5 of them count;
    weights are S/N² capped at 50² (the apex position error falls as 1/S/N). Returns 0
    when fewer than 20 such ions or when the drift over the whole m/z range is below
    0.1 scan or not twice its standard error.
    """
    bandwidth = max(settings.bandwidth_fwhm * prepared.fwhm_scans, 0.3)
    strong = maxima.take(maxima.snr >= SKEW_MIN_SNR)
    centres, assignment = _density_candidates(strong, prepared.smooth.shape[0], bandwidth)
    inside = assignment >= 0
    if np.count_nonzero(inside) < 20:
        return 0.0
    group = assignment[inside]
    counts = np.bincount(group, minlength=centres.size)
    keep = counts[group] >= 5
    group = group[keep]
    if group.size < 20:
        return 0.0
    position = strong.position[inside][keep]
    mz = prepared.masses[strong.ion[inside][keep]].astype(np.float64)
    weight = np.minimum(strong.snr[inside][keep], 50.0) ** 2
    slope = 0.0
    for _ in range(2):  # fit, drop outliers beyond 3 MAD, refit
        sums = np.bincount(group, weights=weight)
        mean_p = np.bincount(group, weights=weight * position) / np.maximum(sums, 1e-300)
        mean_m = np.bincount(group, weights=weight * mz) / np.maximum(sums, 1e-300)
        dp = position - mean_p[group]
        dm = mz - mean_m[group]
        denominator = float((weight * dm * dm).sum())
        if denominator <= 0:
            return 0.0
        slope = float((weight * dp * dm).sum() / denominator)
        residual = dp - slope * dm
        mad = np.median(np.abs(residual)) * MAD_TO_SIGMA
        ok = np.abs(residual) <= 3.0 * max(mad, 1e-6)
        group, position, mz, weight = group[ok], position[ok], mz[ok], weight[ok]
        if group.size < 20:
            return 0.0
    n_groups = np.unique(group).size
    dof = max(group.size - n_groups - 1, 1)
    stderr = float(np.sqrt((weight * residual[ok] ** 2).sum() / dof / denominator))
    span = float(prepared.masses[-1] - prepared.masses[0])
    if abs(slope) * span < 0.1 or abs(slope) < 2.0 * stderr:
        return 0.0
    return slope


def perceive(prepared: Prepared, maxima: IonMaxima,
             settings: DeconvolutionSettings) -> Perception:
    """Steps 8–10: candidate components, their model ions, profiles and windows."""
    bandwidth = max(settings.bandwidth_fwhm * prepared.fwhm_scans, 0.3)
    centres, assignment = _density_candidates(maxima, prepared.smooth.shape[0], bandwidth)
    best, counts, eligible, merit = _model_ions(maxima, assignment, centres, bandwidth,
                                                prepared.model_ok)
    found = np.flatnonzero(best >= 0)
    if not found.size:
        empty = np.empty(0, dtype=np.int64)
        return Perception(empty, np.empty(0), empty, empty, empty, empty,
                          np.empty((0, 1)), empty)
    # Helper ions: up to MODEL_IONS of the sharpest eligible maxima of each candidate
    # that maximise within one bandwidth of the model ion and are at least half as sharp
    # (ions shared with a neighbour are broadened and fail this) and half as strong
    # (near the noise, chance maxima would bend the profile).
    index_of = np.full(centres.size, -1, dtype=np.int64)
    index_of[found] = np.arange(found.size)
    rows = np.flatnonzero(eligible & (index_of[np.maximum(assignment, 0)] >= 0))
    owner = index_of[assignment[rows]]
    model_row = best[found][owner]
    close = np.abs(maxima.position[rows] - maxima.position[model_row]) <= max(bandwidth, 0.5)
    sharp = merit[rows] >= 0.5 * merit[model_row]
    strong = maxima.snr[rows] >= 0.5 * maxima.snr[model_row]
    rows, owner = rows[close & sharp & strong], owner[close & sharp & strong]
    rows = np.concatenate([best[found], rows])
    owner = np.concatenate([np.arange(found.size), owner])
    rows, first = np.unique(rows, return_index=True)
    owner = owner[first]
    order = np.lexsort((-merit[rows], owner))
    rows, owner = rows[order], owner[order]
    rank = np.arange(rows.size) - np.searchsorted(owner, owner)
    rows, owner = rows[rank < MODEL_IONS], owner[rank < MODEL_IONS]

    apex = maxima.scan[best[found]]
    fwhm = prepared.fwhm_scans
    left_reach = int(np.ceil(WINDOW_REACH[0] * fwhm)) + 2
    right_reach = int(np.ceil(WINDOW_REACH[1] * fwhm)) + 2
    offsets = np.arange(-left_reach, right_reach + 1)
    trace, sigma_rel = _model_traces(prepared, maxima, rows, owner, apex, offsets)
    low, high = windows(trace, left_reach, sigma_rel, max(1, int(round(fwhm / 2))))
    n_scans = prepared.smooth.shape[0]
    start = np.clip(apex + low, 0, n_scans - 1)
    end = np.clip(apex + high, 0, n_scans - 1)
    return Perception(apex=apex, position=centres[found], model=maxima.ion[best[found]],
                      start=start, end=end, n_ions=counts[found],
                      trace=np.nan_to_num(trace, nan=0.0), origin=apex - left_reach)
