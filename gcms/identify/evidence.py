"""The evidence a sequence gives beyond the exhibit itself: reference standards and blanks.

:class:`ReferenceStandard`
    A substance's component in a standard run of the same sequence: its retention time
    (and index), its spectrum, from which diagnostic ions and ion ratios are taken.
:func:`measure_ion_peak` / :class:`BlankCheck`
    Whether a blank run holds an analyte: the analyte's ions are read straight from the
    blank's raw scans around the exhibit's retention time (a targeted check, more
    sensitive than waiting for the deconvolution to find a component), and the blank's
    apex height is compared with the exhibit's on the same ion.

Which blank counts (:func:`counting_blank`, :data:`CARRYOVER_RULE`): the last blank
injected after the last run holding the analyte and before the exhibit. A blank followed
by standards of the analyte shows the system clean before those standards, not before the
exhibit; without a blank after them carry-over is "not evaluated".

:func:`ion_signal` measures S/N on the substance's own ions (quantifier and diagnostic
ions) in the run's raw scans, not on a deconvolution model ion that may say nothing about
the substance.

Heights, not areas, are compared: the exhibit's height on an ion is the component's
fitted abundance at its apex (``gcms.deconvolution.Component.spectrum``), the blank's
the baseline-corrected apex of the ion's trace. Both are abundances at a peak apex, so
their ratio is the carry-over fraction without any assumption about tails.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from gcms._json import finite_or_none
from gcms.signal.noise import MAD_TO_SIGMA, difference_noise
from gcms.spectrum import Spectrum, nominal_mass

if TYPE_CHECKING:  # pragma: no cover
    from gcms.run import Run
    from gcms.signal.noise import NoiseModel

__all__ = [
    "CARRYOVER_RULE",
    "BlankCheck",
    "IonPeak",
    "ReferenceStandard",
    "counting_blank",
    "diagnostic_ions",
    "ion_signal",
    "measure_ion_peak",
    "spectrum_abundances",
]

#: Least S/N of the quantifier ion's filtered peak in a blank for the analyte to count as
#: present. The peak is the largest filter output in a search window, a maximum over
#: several noise values, and thresholded traces have heavy-tailed noise: at the usual
#: 3 (LOD) a clean blank was flagged a few times in a hundred checks in simulations,
#: at 5 not once, while 2 % carry-over of an exhibit at S/N 800 is still seen.
BLANK_DETECTION_SNR = 5.0
#: ...and its top (within half a peak width of the apex) must stand above the baseline
#: in at least this fraction of the scans (:attr:`IonPeak.support`).
BLANK_MIN_SUPPORT = 0.8
#: A qualifier ion expected at or above this S/N (from its ratio in the reference) must be
#: seen at ``BLANK_QUALIFIER_SNR`` or more for the quantifier's peak to be the analyte.
BLANK_QUALIFIER_EXPECTED_SNR = 6.0
BLANK_QUALIFIER_SNR = 2.0
#: Scans either side of the quantifier's apex within which a qualifier's apex must lie.
BLANK_QUALIFIER_SCANS = 2
#: Scale of the 90th percentile of |x| to the σ of normal noise (that of the median
#: absolute deviation is gcms.signal.noise.MAD_TO_SIGMA).
P90_TO_SIGMA = 1.6449
#: Baseline flanks: the trace from this many peak widths (FWHM) beyond the search window.
FLANK_WIDTHS = 2.0
FLANK_LENGTH_WIDTHS = 4.0

#: The carry-over rule, as every blank criterion states it. A blank shows the system
#: clean at the time it was injected: only a blank injected after the last run holding
#: the analyte can rule out carry-over into a later run (SWGDRUG Recommendations 8.1,
#: Part IV B "Quality assurance", blanks to show that carry-over does not occur; ENFSI
#: DWG Best Practice Manual for the Forensic Examination of Drugs, ENFSI-BPM-DWG-01,
#: blanks between samples to exclude carry-over).
CARRYOVER_RULE = ("the blank that counts is the last blank injected after the last run "
                  "holding the analyte and before this run; without one, carry-over is not "
                  "evaluated")


def spectrum_abundances(spectrum: Spectrum) -> dict[int, float]:
    """``{nominal m/z: abundance}``, the largest abundance kept where two peaks share a mass."""
    out: dict[int, float] = {}
    for m, a in zip(nominal_mass(spectrum.mz).tolist(), spectrum.intensity.tolist(), strict=True):
        if a > out.get(m, 0.0):
            out[m] = float(a)
    return out


def diagnostic_ions(reference: Spectrum, *, count: int, min_relative: float,
                    mz_range: tuple[int, int] | None = None) -> list[tuple[int, float]]:
    """The ``count`` most abundant ions of ``reference``, each >= ``min_relative`` % of its base.

    Parameters
    ----------
    reference : Spectrum
        The library (or standard's) spectrum of the substance.
    count : int
        How many ions at most.
    min_relative : float
        Smallest abundance, % of the base peak.
    mz_range : tuple of (int, int), optional
        Only ions inside it (the range the exhibit was scanned over) count; the
        percentages are then of the strongest ion inside it.

    Returns
    -------
    list of (int, float)
        ``[(mz, relative %), ...]``, strongest first; ties go to the higher m/z (more
        specific).

    Examples
    --------
    >>> from gcms import Spectrum
    >>> from gcms.identify import diagnostic_ions
    >>> amphetamine = Spectrum(mz=[44, 65, 91, 119, 120], intensity=[999, 60, 250, 10, 30])
    >>> [mz for mz, _ in diagnostic_ions(amphetamine, count=3, min_relative=5.0)]
    [44, 91, 65]
    >>> diagnostic_ions(amphetamine, count=3, min_relative=5.0, mz_range=(50, 500))
    [(91, 100.0), (65, 24.0), (120, 12.0)]
    """
    peaks = spectrum_abundances(reference)
    if mz_range is not None:
        peaks = {m: a for m, a in peaks.items() if mz_range[0] <= m <= mz_range[1]}
    if not peaks:
        return []
    base = max(peaks.values())
    ranked = sorted(peaks.items(), key=lambda p: (-p[1], -p[0]))
    return [(m, 100.0 * a / base) for m, a in ranked
            if 100.0 * a / base >= min_relative][:count]


@dataclass(frozen=True, slots=True, eq=False)
class ReferenceStandard:
    """A substance's component in a standard run of the sequence.

    ``file`` is the run's file name and ``position`` its place in the sequence (0-based),
    so results refer to the standard without naming its sample.
    """

    substance: str
    library_name: str | None
    file: str
    position: int
    component_index: int
    rt_s: float
    retention_index: float | None
    spectrum: Spectrum
    match_factor: int
    snr: float
    height: float = math.nan
    library_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (spectrum left out: it is in the standard's own record)."""
        return {"substance": self.substance, "library_name": self.library_name,
                "library_index": self.library_index, "file": self.file,
                "position": self.position, "component": self.component_index,
                "rt_s": self.rt_s, "retention_index": self.retention_index,
                "match_factor": self.match_factor, "snr": self.snr,
                "height": finite_or_none(self.height)}


@dataclass(frozen=True, slots=True)
class IonPeak:
    """The peak of one ion's trace near an expected retention time.

    ``support`` is the fraction of the scans within half a peak width of the apex whose
    abundance exceeds the baseline: about 1 for a chromatographic peak, low for a noise
    burst of one or two scans (or for scattered values just above an acquisition
    threshold).
    """

    mz: int
    rt_s: float
    height: float
    baseline: float
    snr: float
    scan: int
    support: float = 0.0
    trace_sigma: float = math.nan

    @property
    def peak_snr(self) -> float:
        """S/N of the ion's chromatogram: apex height over the σ of the trace's noise.

        ``height`` (the least-squares apex height above the baseline) over
        ``trace_sigma`` (the σ of one scan's noise on the trace); ``snr`` is the matched
        filter's, higher by the filter's gain.
        """
        if not self.trace_sigma > 0:
            return math.inf if self.height > 0 else 0.0
        return self.height / self.trace_sigma

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"mz": self.mz, "rt_s": self.rt_s, "height": self.height,
                "baseline": self.baseline, "snr": finite_or_none(self.snr), "scan": self.scan,
                "support": self.support, "trace_sigma": finite_or_none(self.trace_sigma),
                "peak_snr": finite_or_none(self.peak_snr)}


def measure_ion_peak(run: Run, mz: int, rt_s: float, *, search_s: float, width_s: float,
                     noise: NoiseModel) -> IonPeak:
    """Height of a peak of nominal ion ``mz`` near ``rt_s``, by a matched filter.

    The ion's trace is read from ``rt_s - search_s - F`` to ``rt_s + search_s + F``
    (``F`` = ``FLANK_WIDTHS + FLANK_LENGTH_WIDTHS`` peak widths); its baseline is the
    median of the flanks (beyond ``FLANK_WIDTHS`` widths outside the search window).
    The baseline-corrected trace is correlated with a Gaussian of the expected width
    (FWHM ``width_s``, unit height), which gives at every scan the least-squares height
    of a peak of that shape centred there::

        h(i) = sum_k g(k) (x(i+k) - b) / sum_k g(k)^2

    The peak is the largest ``h`` inside ``rt_s ± search_s``; its S/N is ``h`` over the
    σ of ``h``, taken as the larger of (a) the robust spread (1.4826 MAD) of ``h`` on the
    flanks, where the run holds no peak (also its 90th percentile over 1.645, which
    sees the sparse bursts of a thresholded trace), and (b) the run's ion-counting noise at the
    baseline (:class:`gcms.signal.noise.NoiseModel`) carried through the filter,
    ``σ(b) / sqrt(sum g^2)``. A single noise scan or an acquisition-threshold blip
    therefore does not make a peak; a peak of the analyte's width does.

    The S/N a chemist reads off the extracted-ion chromatogram
    (:attr:`IonPeak.peak_snr`) is ``h`` at the apex over the σ of one scan of the trace
    (``IonPeak.trace_sigma``): the larger of the run's ion-counting noise at the
    baseline and the flanks' noise from their second differences
    (:func:`gcms.signal.noise.difference_noise`, which a smooth tail of the peak itself
    does not inflate).

    Parameters
    ----------
    run : Run
        The run to read the ion's trace from.
    mz : int
        The nominal m/z.
    rt_s : float
        Where the peak is expected (s).
    search_s : float
        How far from ``rt_s`` its apex may lie (s).
    width_s : float
        The expected peak width (FWHM, s).
    noise : NoiseModel
        The run's noise model.

    Returns
    -------
    IonPeak
        Apex time and height, the baseline, both S/N figures and the noise they used.
    """
    width_s = max(width_s, 1e-6)
    reach = (FLANK_WIDTHS + FLANK_LENGTH_WIDTHS) * width_s
    part = run.slice(rt_s - search_s - reach, rt_s + search_s + reach)
    if part.n_scans < 3:
        return IonPeak(mz, rt_s, 0.0, 0.0, 0.0, -1)
    keep = nominal_mass(part.mz) == mz
    rows = np.repeat(np.arange(part.n_scans), part.points_per_scan)[keep]
    trace = np.zeros(part.n_scans)
    np.maximum.at(trace, rows, part.intensity[keep].astype(np.float64))
    t = part.scan_times
    inner = np.abs(t - rt_s) <= search_s
    flank = ~(np.abs(t - rt_s) <= search_s + FLANK_WIDTHS * width_s)
    baseline = float(np.median(trace[flank])) if flank.any() else 0.0
    if not inner.any():
        return IonPeak(mz, rt_s, 0.0, baseline, 0.0, -1)
    interval = float(np.median(np.diff(t)))
    sigma_scans = width_s / interval / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    half = max(1, int(math.ceil(2.5 * sigma_scans)))
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / max(sigma_scans, 1e-3)) ** 2)
    energy = float(kernel @ kernel)
    filtered = np.correlate(trace - baseline, kernel, mode="same") / energy
    window = np.flatnonzero(inner)
    apex = int(window[np.argmax(filtered[window])])
    height = float(max(filtered[apex], 0.0))
    model_sigma = float(noise.sigma(max(baseline, 0.0))) / math.sqrt(energy)
    flank_values = filtered[flank]
    if flank_values.size >= 5:
        deviation = np.abs(flank_values - np.median(flank_values))
        # MAD for Gaussian noise; the 90th percentile for the sparse bursts of a
        # thresholded trace (zeros, then a noise value above the threshold), which
        # leave the MAD at zero. Both equal sigma for normal noise.
        spread = max(MAD_TO_SIGMA * float(np.median(deviation)),
                     float(np.percentile(deviation, 90)) / P90_TO_SIGMA)
    else:
        spread = 0.0
    sigma = max(model_sigma, spread)
    snr = height / sigma if sigma > 0 else (math.inf if height > 0 else 0.0)
    top = max(1, int(round(width_s / interval / 2.0)))
    around = trace[max(0, apex - top):apex + top + 1]
    support = float(np.mean(around > baseline)) if around.size else 0.0
    first_scan = run.scan_index_at(float(t[0]))
    # The σ of one scan of the trace, for the S/N a chemist reads: the ion-counting noise
    # at the baseline, or the flanks' white noise from their second differences (blind
    # to a smooth tail or drift there, which the filtered spread above is not), the larger.
    trace_sigma = float(noise.sigma(max(baseline, 0.0)))
    if np.count_nonzero(flank) >= 5:
        trace_sigma = max(trace_sigma, float(difference_noise(trace[flank])))
    return IonPeak(mz, float(t[apex]), height, baseline, snr, first_scan + apex, support,
                   trace_sigma=trace_sigma)


def ion_signal(run: Run, ions: list[int], rt_s: float, *, width_s: float,
               noise: NoiseModel) -> list[IonPeak]:
    """Each ion's peak at a component's apex, for the S/N of a substance's own ions.

    :func:`measure_ion_peak` on every m/z of ``ions`` within half a peak width of
    ``rt_s``; :attr:`IonPeak.peak_snr` is the ion's S/N (apex height above baseline over
    the σ of its trace's noise, from the flanks or the run's ion-counting noise model,
    whichever is larger).

    Parameters
    ----------
    run : Run
        The run the component was found in.
    ions : list of int
        Nominal m/z values to measure.
    rt_s : float
        The component's apex time (s).
    width_s : float
        Its peak width (FWHM, s).
    noise : NoiseModel
        The run's noise model (:func:`gcms.signal.estimate_noise`).

    Returns
    -------
    list of IonPeak
        One per ion, in the order of ``ions``.
    """
    search = max(0.5 * width_s, _scan_interval(run))
    return [measure_ion_peak(run, int(mz), rt_s, search_s=search, width_s=width_s, noise=noise)
            for mz in ions]


def counting_blank(position: int, blanks: Iterable[int], analyte_runs: Iterable[int]
                   ) -> tuple[int | None, int | None, int | None]:
    """The blank that counts for the run at ``position`` (:data:`CARRYOVER_RULE`).

    Parameters
    ----------
    position : int
        The run's position in the sequence.
    blanks : iterable of int
        Sequence positions of the blanks.
    analyte_runs : iterable of int
        Sequence positions of the runs holding the analyte.

    Returns
    -------
    tuple of (int or None)
        ``(counting blank, last blank before the run, last run holding the analyte
        before it)``; the first is None when no blank lies between the last analyte run
        and this run.

    Examples
    --------
    >>> from gcms.identify import counting_blank
    >>> counting_blank(10, blanks=[0], analyte_runs=[1, 2, 9])
    (None, 0, 9)
    >>> counting_blank(10, blanks=[0, 9], analyte_runs=[1, 2, 8])
    (9, 9, 8)
    """
    before = [b for b in blanks if b < position]
    last_run = max((r for r in analyte_runs if r < position), default=None)
    last_blank = max(before, default=None)
    counting = (last_blank if last_blank is not None
                and (last_run is None or last_blank > last_run) else None)
    return counting, last_blank, last_run


@dataclass(frozen=True, slots=True)
class BlankCheck:
    """Whether a blank holds an analyte, and at what fraction of a run's response.

    ``percent`` is the blank's apex height on the quantifier ion over the compared run's
    (the exhibit's, or the run before the blank) times 100; 0 when not detected.
    ``problem`` is set (and the rest empty) when the blank could not be examined, or
    when no blank counts (``file`` then names the last blank before the run, if any).
    ``analyte_runs``: the runs before this one holding the analyte that the carry-over
    rule looked at (``{"position", "file", "type", "relative_response"}``);
    ``carryover_risk``: those among them injected right before the run at a response at
    least this run's. ``after_analyte_runs``: a blank exists before the run but every one
    precedes a run holding the analyte (the ``problem`` then says so).
    """

    substance: str
    file: str | None
    position: int | None
    detected: bool
    percent: float | None
    quantifier: IonPeak | None = None
    qualifiers: tuple[IonPeak, ...] = ()
    reference_height: float | None = None
    problem: str | None = None
    note: str | None = None
    analyte_runs: tuple[Mapping[str, Any], ...] = ()
    carryover_risk: tuple[Mapping[str, Any], ...] = ()
    after_analyte_runs: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"substance": self.substance, "blank_file": self.file,
                "blank_position": self.position, "detected": self.detected,
                "percent": self.percent,
                "quantifier": self.quantifier.to_dict() if self.quantifier else None,
                "qualifiers": [q.to_dict() for q in self.qualifiers],
                "reference_height": self.reference_height, "problem": self.problem,
                "note": self.note, "analyte_runs": [dict(r) for r in self.analyte_runs],
                "carryover_risk": [dict(r) for r in self.carryover_risk],
                "after_analyte_runs": self.after_analyte_runs}


def check_blank(run: Run, noise: NoiseModel, *, substance: str, file: str, position: int,
                ions: list[tuple[int, float]], rt_s: float, search_s: float, width_s: float,
                reference_run: Run, reference_noise: NoiseModel) -> BlankCheck:
    """Look for an analyte in a blank run (targeted on its ions), relative to another run.

    Parameters
    ----------
    run, noise
        The blank and its noise model.
    ions
        ``[(mz, relative %), ...]`` of the analyte, quantifier first (its strongest
        ion in the compared run).
    rt_s, search_s, width_s
        Where the analyte elutes in the compared run, how far the blank's peak may lie
        from it, and the peak width (FWHM).
    reference_run, reference_noise
        The compared run (the exhibit, or the run before the blank): its quantifier
        height is measured the same way (:func:`measure_ion_peak`, within one peak
        width of ``rt_s``), so that ``percent`` compares like with like.

    The analyte counts as detected when the quantifier's peak reaches
    :data:`BLANK_DETECTION_SNR` with a peak's shape (:data:`BLANK_MIN_SUPPORT`) and every
    qualifier that its reference ratio says should
    reach :data:`BLANK_QUALIFIER_EXPECTED_SNR` is seen (S/N >= :data:`BLANK_QUALIFIER_SNR`)
    within :data:`BLANK_QUALIFIER_SCANS` scans of it.

    Returns
    -------
    BlankCheck
        Whether the analyte was detected in the blank, its quantifier height there as a
        percentage of the compared run's, and the ion peaks measured in both.
    """
    quant_mz, quant_rel = ions[0]
    quant = measure_ion_peak(run, quant_mz, rt_s, search_s=search_s, width_s=width_s,
                             noise=noise)
    qualifiers = tuple(
        measure_ion_peak(run, mz, quant.rt_s if quant.scan >= 0 else rt_s,
                         search_s=max(BLANK_QUALIFIER_SCANS, 1) * _scan_interval(run),
                         width_s=width_s, noise=noise)
        for mz, _ in ions[1:])
    detected = quant.snr >= BLANK_DETECTION_SNR and quant.support >= BLANK_MIN_SUPPORT
    if detected:
        for (_, rel), peak in zip(ions[1:], qualifiers, strict=True):
            expected = quant.snr * rel / max(quant_rel, 1e-9)
            if expected >= BLANK_QUALIFIER_EXPECTED_SNR and peak.snr < BLANK_QUALIFIER_SNR:
                detected = False
                break
    reference = measure_ion_peak(reference_run, quant_mz, rt_s, search_s=width_s,
                                 width_s=width_s, noise=reference_noise).height
    percent = (100.0 * quant.height / reference if detected and reference > 0 else 0.0)
    return BlankCheck(substance=substance, file=file, position=position, detected=detected,
                      percent=percent, quantifier=quant, qualifiers=qualifiers,
                      reference_height=reference)


def _scan_interval(run: Run) -> float:
    if run.n_scans < 2:
        return 1.0
    return float(np.median(np.diff(run.scan_times)))
