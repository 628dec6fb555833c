"""The deconvolution of one run: perception, extraction, judgement, components."""

from __future__ import annotations

from collections import Counter

import numpy as np

from gcms.deconvolution.component import Component, Deconvolution
from gcms.deconvolution.extraction import Fit, fit_regions, refit
from gcms.deconvolution.perception import Perception, Prepared, perceive, prepare
from gcms.deconvolution.settings import MIN_FWHM_SCANS, DeconvolutionSettings
from gcms.run import Run
from gcms.spectrum import Spectrum

__all__ = ["deconvolve"]

#: Rounds of fit → reject/merge → refit; each round only removes candidates, so the
#: loop ends when a round removes nothing (in practice after 2 or 3).
MAX_ROUNDS = 5
#: Two components have a valley between their apexes (and so are two compounds, not one
#: split) when the recorded signal of their VALLEY_IONS largest ions dips below this
#: fraction of its lower apex value; they are compared when their windows overlap or
#: are at most MERGE_GAP_FWHM peak widths (and at least MERGE_GAP_SCANS scans) apart.
VALLEY_DEPTH = 0.95
VALLEY_IONS = 5
MERGE_GAP_SCANS = 2
MERGE_GAP_FWHM = 2.0
#: A background component has one of these among its three largest ions: the ring
#: siloxanes' [M-CH3]+ (D3-D6: 207, 281, 355, 429) or argon (40).
BLEED_LEADERS = (40, 207, 281, 355, 429)
#: A component's main ion traces may leave at most this many times the residual the
#: noise model expects when the model explains less than the shape limit of them.
MAX_EXCESS_RESIDUAL = 3.0
#: Shadows of large peaks (see :func:`_shadows`): height ratio, reach of the tail, the
#: largest share of the large peak's abundance an ion of a shadow holds, the fraction of
#: the shadow's abundance on such ions, and the purity below which it is buried.
SHADOW_RATIO = 20.0
SHADOW_TAIL = 3.0
SHADOW_ION_RATIO = 0.2
SHADOW_SHARED = 0.7
SHADOW_PURITY = 0.1
#: A neighbour is named in a component's warning when either profile is at least this
#: fraction of its own maximum at the other's apex...
WARN_OVERLAP = 0.05
#: ...and they share ions of at least this fraction of each one's base peak.
WARN_SHARED_FRACTION = 0.10


def _padded(profiles: list) -> np.ndarray:
    length = max((p.size for p in profiles), default=1)
    out = np.zeros((len(profiles), length))
    for i, p in enumerate(profiles):  # result assembly: one copy per component
        out[i, : p.size] = p
    return out


def _apex_and_fwhm(profiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-scan apex offset and FWHM (scans) of each padded profile (rows, max 1)."""
    n, length = profiles.shape
    rows = np.arange(n)
    apex = np.argmax(profiles, axis=1)
    a = profiles[rows, np.maximum(apex - 1, 0)]
    b = profiles[rows, apex]
    c = profiles[rows, np.minimum(apex + 1, length - 1)]
    curvature = a - 2 * b + c
    interior = (apex > 0) & (apex < length - 1) & (curvature < 0)
    delta = np.where(interior, 0.5 * (a - c) / np.where(interior, curvature, -1.0), 0.0)
    position = apex + np.clip(delta, -0.5, 0.5)
    half = 0.5 * b
    index = np.arange(length)[None, :]
    width = np.zeros(n)
    for direction in (1, -1):
        beyond = (profiles < half[:, None]) & ((index - apex[:, None]) * direction > 0)
        if direction == 1:
            k = np.where(beyond.any(axis=1), np.argmax(beyond, axis=1), length - 1)
            inner_k = np.maximum(k - 1, apex)
        else:
            flipped = beyond[:, ::-1]
            k = np.where(flipped.any(axis=1), length - 1 - np.argmax(flipped, axis=1), 0)
            inner_k = np.minimum(k + 1, apex)
        outer = profiles[rows, k]
        inner = profiles[rows, inner_k]
        fraction = np.where(inner > outer, (inner - half) / np.maximum(inner - outer, 1e-300), 0.0)
        width += np.abs(inner_k - apex) + np.clip(fraction, 0.0, 1.0) * (k != inner_k)
    return position, width


def _judge(prepared: Prepared, perception: Perception, fit: Fit,
           settings: DeconvolutionSettings) -> tuple[np.ndarray, dict]:
    """Keep mask and counts of rejections by reason for one round."""
    n = len(perception)
    significant = (fit.amplitude > 0) & (fit.amplitude >= settings.ion_z * fit.stderr)
    n_ions = significant.sum(axis=1)
    profiles = _padded(fit.profiles)
    position, fwhm = _apex_and_fwhm(profiles)
    apex_scan = np.clip(np.round(perception.start + position).astype(np.int64), 0,
                        prepared.times.size - 1)
    # S/N of the component's best ion: apex abundance over the σ of that ion's baseline
    # noise at the apex (the S/N of its strongest extracted-ion chromatogram).
    base_sigma = prepared.sigma(prepared.background[apex_scan])
    snr = np.where(significant, fit.amplitude / base_sigma, 0.0).max(axis=1)
    low_w, high_w, min_explained = settings.shape_limits
    ratio = fwhm / prepared.fwhm_scans
    too_narrow = (ratio < low_w) | (fwhm < MIN_FWHM_SCANS)
    spectra = np.where(significant, fit.amplitude, 0.0)
    totals = spectra.sum(axis=1)
    bleed_cols = np.isin(prepared.masses, settings.background_mz + settings.bleed_mz)
    bleed_fraction = spectra[:, bleed_cols].sum(axis=1) / np.where(totals > 0, totals, 1.0)
    # ...and led by a ring-siloxane or air ion: a TMS derivative is mostly 73 and 147 too,
    # but its top ions are its own (M-15, fragments), never 207/281/355/429 or 40.
    top = np.argsort(spectra, axis=1)[:, -3:]
    leaders = np.isin(prepared.masses[top], BLEED_LEADERS) & (np.take_along_axis(
        spectra, top, axis=1) > 0)
    is_bleed = (bleed_fraction > settings.max_bleed_fraction) & leaders.any(axis=1)

    reasons = np.full(n, "", dtype=object)
    # A poor fit fails only when it is poor beyond the noise: a weak compound's traces
    # are mostly noise (low explained fraction, residual as expected), a huge one's
    # residual exceeds the noise (tiny misfit of a million counts) while explaining all.
    misfit = (fit.explained < min_explained) & (fit.excess > MAX_EXCESS_RESIDUAL)
    reasons[too_narrow | (ratio > high_w) | misfit] = "shape"
    reasons[n_ions < settings.min_ions] = "too few ions"
    reasons[is_bleed] = "bleed"
    reasons[snr < settings.component_snr] = "noise"

    # Split compounds: consecutive survivors whose windows overlap or nearly touch, with alike
    # spectra and no valley between their apexes in the recorded signal of their main
    # ions, or any two of one region within 0.3 FWHM, are one compound; the stronger
    # keeps both windows.
    alive = np.flatnonzero(reasons == "")
    apex = perception.start + position
    order = alive[np.argsort(apex[alive], kind="stable")]
    absorb = np.empty((0, 2), dtype=np.int64)
    if order.size > 1:
        first, second = order[:-1], order[1:]
        same_region = fit.region[first] == fit.region[second]
        gap = max(MERGE_GAP_SCANS, MERGE_GAP_FWHM * prepared.fwhm_scans)
        touching = perception.start[second] <= perception.end[first] + gap
        distance = np.abs(apex[second] - apex[first])
        unit = spectra / np.maximum(np.linalg.norm(spectra, axis=1), 1e-300)[:, None]
        cos = np.einsum("ij,ij->i", unit[first], unit[second])
        alike = touching & (cos >= settings.merge_cosine)
        single = np.zeros(first.size, dtype=bool)
        single[alike] = _no_valley(apex[first[alike]], apex[second[alike]],
                                   spectra[first[alike]] + spectra[second[alike]], prepared)
        merge = (alike & single) | (same_region & (distance <= 0.3 * prepared.fwhm_scans))
        stronger_first = fit.at_apex[first] >= fit.at_apex[second]
        weaker = np.where(stronger_first, second, first)
        stronger = np.where(stronger_first, first, second)
        reasons[weaker[merge]] = "merged"
        absorb = np.column_stack([stronger[merge], weaker[merge]])
    _shadows(reasons, perception, fit, spectra, position)
    keep = reasons == ""
    counts = Counter(r for r in reasons[~keep])
    extras = dict(position=position, fwhm=fwhm, snr=snr, significant=significant,
                  apex_scan=apex_scan, absorb=absorb)
    return keep, {"counts": counts, **extras}


def _no_valley(apex_a: np.ndarray, apex_b: np.ndarray, spectra: np.ndarray,
               prepared: Prepared) -> np.ndarray:
    """Whether the recorded signal of each pair's main ions dips between the two apexes.

    The trace is the smoothed, baseline-corrected signal of the pair's five largest
    ions (of their summed spectra), weighted by those abundances, at every scan between
    the apexes; there is a valley when it falls below :data:`VALLEY_DEPTH` of the lower
    of its values at the two apexes. Two Gaussians of equal height show one from
    Rs = 0.5 on, so isomers with alike spectra separated by the column stay two
    components; a compound the fit split in two (an overloaded peak, a tail) never
    shows one.
    """
    if apex_a.size == 0:
        return np.zeros(0, dtype=bool)
    n_scans = prepared.smooth.shape[0]
    ions = np.argsort(spectra, axis=1)[:, -VALLEY_IONS:]
    weights = np.take_along_axis(spectra, ions, axis=1)
    lo = np.clip(np.round(np.minimum(apex_a, apex_b)).astype(np.int64), 0, n_scans - 1)
    hi = np.clip(np.round(np.maximum(apex_a, apex_b)).astype(np.int64), 0, n_scans - 1)
    span = int(np.max(hi - lo)) + 1
    scans = np.minimum(lo[:, None] + np.arange(span)[None, :], n_scans - 1)
    values = prepared.smooth[scans[:, :, None], ions[:, None, :]]
    trace = (values * weights[:, None, :]).sum(axis=2)
    inside = scans <= hi[:, None]
    rows = np.arange(apex_a.size)
    ends = np.minimum(trace[:, 0], trace[rows, hi - lo])
    valley = np.where(inside, trace, np.inf).min(axis=1)
    return valley >= VALLEY_DEPTH * ends


def _shadows(reasons: np.ndarray, perception: Perception, fit: Fit, spectra: np.ndarray,
             position: np.ndarray) -> None:
    """Mark the shadows of very large peaks (in place, reason ``"shadow"``).

    A peak tens of times larger than anything near it leaves residuals that no model
    profile fits exactly (detector saturation flattens its main ions, its tail differs
    slightly from ion to ion), and these residuals look like small components under it:
    AMDIS's best-known source of spurious components. A candidate is such a shadow when
    its apex lies under a component at least :data:`SHADOW_RATIO` times taller (inside
    its window, or in its tail up to :data:`SHADOW_TAIL` times the window's length after
    the apex beyond it), and at least :data:`SHADOW_SHARED` of its
    abundance is on ions where it holds at most :data:`SHADOW_ION_RATIO` of the large
    component's own abundance (a few per cent of the large peak's signal, the size of a
    profile mismatch), or it accounts for less than :data:`SHADOW_PURITY` of what its
    apex scan holds: under an overloaded peak the detector also records bursts on ions
    the peak does not have, which come and go from scan to scan and fit as small
    "components" of their own. A real compound under a large one shows on ions of its
    own, where the large one is weak, and holds a visible share of its apex; a trace
    compound buried below a tenth of a 20x larger one is the price of this rule.
    """
    alive = np.flatnonzero(reasons == "")
    if alive.size < 2:
        return
    apex = perception.start + position
    order = alive[np.argsort(apex[alive], kind="stable")]
    height = fit.at_apex
    purity = fit.at_apex / np.where(fit.recorded > 0, fit.recorded, 1.0)
    totals = np.maximum(spectra.sum(axis=1), 1e-300)
    # Where a large peak casts shadows: its window, and its tail beyond it up to three
    # times the window's length after the apex (overloaded peaks tail far below 0.5 %).
    lead = perception.start - (apex - perception.start)
    tail = perception.end + SHADOW_TAIL * (perception.end - apex)
    reach = float(np.max(tail - lead))
    shadow = np.zeros(reasons.size, dtype=bool)
    for step in range(1, order.size):  # pairs by distance in apex order
        a, b = order[:-step], order[step:]
        near = (apex[b] - apex[a]) <= reach
        if not near.any():
            break
        for big, small in ((a, b), (b, a)):
            under = near & (height[big] >= SHADOW_RATIO * height[small]) \
                & (apex[small] >= lead[big]) & (apex[small] <= tail[big])
            if not under.any():
                continue
            weak = spectra[small] <= SHADOW_ION_RATIO * spectra[big]
            shared = (spectra[small] * weak).sum(axis=1) / totals[small]
            buried = purity[small] < SHADOW_PURITY
            shadow[small[under & ((shared >= SHADOW_SHARED) | buried)]] = True
    reasons[shadow] = "shadow"


def _warnings(index: int, fit: Fit, significant: np.ndarray, masses: np.ndarray,
              rt: np.ndarray, keep_ids: dict) -> tuple[str, ...]:
    notes = []
    own = np.where(significant[index], fit.amplitude[index], 0.0)
    own_major = own >= WARN_SHARED_FRACTION * own.max() if own.max() > 0 else own > 0
    for other, overlap in sorted(fit.neighbour_share[index].items()):
        # Co-elution is mutual: either profile reaching the other's apex counts.
        reach = max(overlap, fit.neighbour_share[other].get(index, 0.0))
        if other not in keep_ids or reach < WARN_OVERLAP:
            continue
        theirs = np.where(significant[other], fit.amplitude[other], 0.0)
        if theirs.max() <= 0:
            continue
        shared = own_major & (theirs >= WARN_SHARED_FRACTION * theirs.max())
        if not shared.any():
            continue
        ions = ", ".join(str(int(m)) for m in masses[shared][:8])
        more = f" and {int(shared.sum()) - 8} more" if shared.sum() > 8 else ""
        notes.append(
            f"co-elutes with the component at {rt[other]:.2f} s (their profiles overlap: "
            f"{100 * reach:.0f} % of a maximum at the other's apex) and shares m/z "
            f"{ions}{more}: the abundances of these ions are divided between the two by "
            "the fit")
    return tuple(notes)


def _components(run: Run, prepared: Prepared, perception: Perception, fit: Fit,
                verdict: dict) -> tuple[Component, ...]:
    times = prepared.times
    n_scans = times.size
    position = verdict["position"]
    significant = verdict["significant"]
    apex_index = perception.start + position
    rt = np.interp(apex_index, np.arange(n_scans), times)
    step = np.gradient(times) if n_scans > 1 else np.ones(1)
    width_s = verdict["fwhm"] * np.interp(apex_index, np.arange(n_scans), step)
    purity = np.clip(fit.at_apex / np.where(fit.recorded > 0, fit.recorded, 1.0), 0.0, 1.0)
    keep_ids = {i: i for i in range(len(perception))}
    out = []
    for i in np.argsort(rt, kind="stable"):
        # Result assembly: one Component object per compound found.
        mask = significant[i]
        start, end = int(perception.start[i]), int(perception.end[i])
        profile = fit.profiles[i]
        integral = float(np.trapezoid(profile, times[start : end + 1])) if end > start else 0.0
        intensity = fit.amplitude[i, mask]
        spectrum = Spectrum(
            mz=prepared.masses[mask].astype(np.float64), intensity=intensity,
            rt_seconds=float(rt[i]), source=run.metadata.source_path,
            source_entry=f"component at {rt[i]:.2f} s",
        )
        out.append(Component(
            rt_s=float(rt[i]),
            scan=int(np.clip(np.round(apex_index[i]), 0, n_scans - 1)),
            spectrum=spectrum,
            model_mz=int(prepared.masses[perception.model[i]]),
            area=float(intensity.sum() * integral),
            height=float(intensity.sum()),
            snr=float(verdict["snr"][i]),
            purity=float(purity[i]),
            start_scan=start,
            end_scan=end,
            width_s=float(width_s[i]),
            profile=profile,
            warnings=_warnings(i, fit, significant, prepared.masses, rt, keep_ids),
        ))
    return tuple(out)


def deconvolve(run: Run, settings: DeconvolutionSettings | None = None) -> Deconvolution:
    """Deconvolute a run into components with pure spectra (AMDIS-style, vectorised).

    Parameters
    ----------
    run : Run
        A full-scan EI run.
    settings : DeconvolutionSettings, optional
        Knobs; the defaults when None.

    Returns
    -------
    Deconvolution
        The components in retention-time order, with the noise model, peak width,
        spectral skew and rejection counts that produced them.

    Raises
    ------
    GcmsError
        The run holds no usable data in the m/z range.

    Notes
    -----
    :mod:`gcms.deconvolution.perception` describes how components are perceived and
    :mod:`gcms.deconvolution.extraction` how their spectra are fitted. Candidates are
    then judged: a component needs a model-ion S/N of at least the sensitivity's limit,
    ``min_ions`` significant ions, a profile whose width is within the shape limits and
    which explains most of its model ion's trace, and a spectrum that is not mostly
    column bleed. Two candidates that elute within one FWHM with spectra of cosine ≥
    ``merge_cosine`` are one compound split in two (AMDIS's known failing) and are
    merged. The regions that lost or gained a candidate are fitted again, until nothing
    changes.
    """
    from threadpoolctl import threadpool_limits

    # One BLAS thread: the same run gives the same components to the last bit in a
    # batch worker (single-threaded) and in the main process (threaded BLAS splits
    # products differently), and the work is sized for one core anyway.
    with threadpool_limits(limits=1, user_api="blas"):
        return _deconvolve(run, settings or DeconvolutionSettings())


def _deconvolve(run: Run, settings: DeconvolutionSettings) -> Deconvolution:
    prepared, maxima = prepare(run, settings)
    perception = perceive(prepared, maxima, settings)
    rejected: Counter = Counter()
    components: tuple[Component, ...] = ()
    fit = None
    for round_ in range(MAX_ROUNDS + 1):
        if not len(perception):
            break
        if fit is None:
            fit = fit_regions(prepared, perception, refine=settings.refine_profiles)
        keep, verdict = _judge(prepared, perception, fit, settings)
        if keep.all() or round_ == MAX_ROUNDS:
            components = _components(run, prepared, perception, fit, verdict)
            break
        rejected.update(verdict["counts"])
        stronger, weaker = verdict["absorb"].T
        # A merged component's window is the union of the two it was split into.
        changed = np.zeros(len(perception), dtype=bool)
        changed[stronger] = True
        np.minimum.at(perception.start, stronger, perception.start[weaker])
        np.maximum.at(perception.end, stronger, perception.end[weaker])
        kept = np.flatnonzero(keep)
        perception = perception.take(kept)
        if len(perception):
            fit = refit(prepared, perception, fit, kept, changed[kept],
                        refine=settings.refine_profiles)
    return Deconvolution(
        components=components,
        settings=settings,
        noise=prepared.noise,
        peak_width_s=float(prepared.fwhm_scans * np.median(np.diff(prepared.times)))
        if prepared.times.size > 1 else 0.0,
        skew_scans_per_100u=float(prepared.skew_per_u * 100.0),
        mz_range=(int(prepared.masses[0]), int(prepared.masses[-1])),
        rejected=dict(rejected),
        source_path=run.metadata.source_path,
        sha256=run.metadata.sha256,
    )
