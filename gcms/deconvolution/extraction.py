"""Spectrum extraction: fit every ion trace to the model profiles of the components.

Components whose windows overlap form a *region*; inside a region the baseline-corrected
data ``X`` (scans × ions) are modelled as

    X ≈ P · A + 1 · f,        P ≥ 0, A ≥ 0, f ≥ 0

where column ``k`` of ``P`` is component ``k``'s elution profile (zero outside its
window, maximum 1), row ``k`` of ``A`` its spectrum (abundance of every ion at the
apex), and ``f`` a flat offset per ion over the region (what the baseline left). The
amplitudes are the non-negative least-squares solution, found by hierarchical
alternating least squares (HALS: exact coordinate updates, one component at a time;
Cichocki & Phan, IEICE Trans. E92-A (2009) 708). Every ion is fitted to all the
overlapping profiles at once, so an ion shared by co-eluting compounds is divided
between them in proportion to how well each profile explains its trace (AMDIS fits
each ion to the model peaks the same way; Stein 1999).

With ``refine_profiles`` the profiles start as the smoothed model-ion traces and are
then re-estimated from all ions (alternating least squares with the profile kept
non-negative, inside its window and unimodal), which lowers the noise a single model
ion brings into every extracted spectrum.

Regions of equal component count and similar length are stacked into 3-D arrays and
fitted together: the loops run over components of a region (a handful) and iterations,
never over regions, scans or ions.

The standard error of each amplitude is that of weighted least squares with the
profiles fixed, ``var(A_kj) = Σ_l G_kl² σ²(x_lj)`` with ``G = (PᵀP)⁻¹Pᵀ`` and σ from
the run's noise model; an ion is attributed to a component when its amplitude is at
least ``ion_z`` standard errors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gcms.deconvolution.perception import FWHM_PER_SIGMA, Perception, Prepared

__all__ = ["Fit", "fit_regions", "regions_of"]

#: Ions (the component's largest) whose traces the shape test compares with the model.
SHAPE_IONS = 5
#: Outer alternating iterations (profiles and spectra) when refining profiles.
REFINE_ITERATIONS = 6
#: HALS sweeps over the spectra per outer iteration, and at most at the end (it stops
#: once a sweep changes no amplitude by more than HALS_TOLERANCE of the largest).
INNER_SWEEPS = 4
FINAL_SWEEPS = 60
HALS_TOLERANCE = 1e-5


@dataclass(slots=True)
class Fit:
    """Fitted spectra and profiles, one row per candidate (internal)."""

    amplitude: np.ndarray   # (C, m) abundance of each ion at the apex
    stderr: np.ndarray      # (C, m) standard error of the amplitude
    profiles: list          # C arrays: the profile over start..end (max 1)
    region: np.ndarray      # (C,) region id
    explained: np.ndarray   # (C,) fraction of the main ions' traces the fit explains
    excess: np.ndarray      # (C,) their residual sum of squares / the noise's expectation
    at_apex: np.ndarray     # (C,) fitted total abundance of the component at its apex
    recorded: np.ndarray    # (C,) all that the apex scan holds beyond the noise
    neighbour_share: list   # C dicts: neighbour candidate -> profile value at this apex


def regions_of(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Region id of each window: windows that overlap (transitively) share a region."""
    order = np.argsort(start, kind="stable")
    reach = np.maximum.accumulate(end[order])
    new = np.concatenate([[True], start[order][1:] > reach[:-1]])
    region = np.empty(start.size, dtype=np.int64)
    region[order] = np.cumsum(new) - 1
    return region


def _gram(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``aᵀ b`` for each matrix of two stacks (R, L, p) and (R, L, q) -> (R, p, q).

    numpy's stacked matmul falls back to a slow loop on a transposed view; einsum with
    a contraction path uses BLAS.
    """
    return np.einsum("rlp,rlq->rpq", a, b, optimize=True)


def _unimodal(profiles: np.ndarray) -> np.ndarray:
    """Clip each profile (axis 1) to be non-decreasing up to its maximum, then non-increasing."""
    length = profiles.shape[1]
    index = np.arange(length)[None, :, None]
    apex = np.argmax(profiles, axis=1)[:, None, :]
    left = np.where(index <= apex, profiles, np.inf)
    left = np.minimum.accumulate(left[:, ::-1], axis=1)[:, ::-1]
    right = np.where(index >= apex, profiles, np.inf)
    right = np.minimum.accumulate(right, axis=1)
    return np.where(index <= apex, left, right)


def _hals_spectra(ptx: np.ndarray, ptp: np.ndarray, amplitude: np.ndarray, sweeps: int,
                  tolerance: float = HALS_TOLERANCE) -> None:
    """In-place HALS sweeps on the amplitudes (R, K, m) for fixed profiles.

    Stops early when a sweep changes no amplitude by more than ``tolerance`` times the
    largest amplitude of the stack.
    """
    n_slots = ptp.shape[1]
    diag = np.diagonal(ptp, axis1=1, axis2=2)
    active = diag > 0
    safe = np.where(active, diag, 1.0)
    for _ in range(sweeps):
        before = amplitude.copy()
        for k in range(n_slots):
            grad = ptx[:, k, :] - (ptp[:, k : k + 1, :] @ amplitude)[:, 0, :]
            updated = np.maximum(amplitude[:, k, :] + grad / safe[:, k, None], 0.0)
            amplitude[:, k, :] = np.where(active[:, k, None], updated, 0.0)
        scale = float(np.abs(amplitude).max())
        if scale == 0.0 or float(np.abs(amplitude - before).max()) <= tolerance * scale:
            break


def _least_squares_start(ptx: np.ndarray, ptp: np.ndarray) -> np.ndarray:
    """Unconstrained least-squares amplitudes clipped at zero: HALS's starting point."""
    n_slots = ptp.shape[1]
    ridge = 1e-9 * np.maximum(np.abs(ptp).max(axis=(1, 2)), 1e-300)
    system = ptp + np.eye(n_slots)[None] * ridge[:, None, None]
    return np.maximum(np.linalg.solve(system, ptx), 0.0)


def _fit_bucket(x: np.ndarray, profiles: np.ndarray, window: np.ndarray,
                n_components: int, refine: bool, ion_sigma: np.ndarray,
                smooth_sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Fit one stack of regions. ``profiles`` (R, L, K+1): last slot is the flat offset.

    ``ion_sigma`` (R, m) is the noise σ of each ion's baseline in the region; the
    profile updates use only the ions whose amplitude is at least 3 standard errors
    (σ / ‖profile‖), so the hundreds of noise-only ions do not pull noise into the
    profiles, and each updated profile is smoothed like the model traces
    (``smooth_sigma`` scans) before it is made unimodal.
    """
    from scipy.ndimage import gaussian_filter1d

    ptp = _gram(profiles, profiles)
    ptx = _gram(profiles, x)
    amplitude = _least_squares_start(ptx, ptp)
    _hals_spectra(ptx, ptp, amplitude, INNER_SWEEPS)
    if refine:
        for _ in range(REFINE_ITERATIONS):
            norms = np.sqrt(np.diagonal(ptp, axis1=1, axis2=2))[:, :, None]
            strong = amplitude >= 3.0 * ion_sigma[:, None, :] / np.maximum(norms, 1e-300)
            strong[:, -1, :] = True
            used = np.where(strong, amplitude, 0.0)
            used_t = np.ascontiguousarray(used.transpose(0, 2, 1))
            xat = x @ used_t
            aat = used @ used_t
            for k in range(n_components):
                norm = aat[:, k, k]
                grad = xat[:, :, k] - (profiles @ aat[:, :, k : k + 1])[:, :, 0]
                step = grad / np.where(norm > 0, norm, 1.0)[:, None]
                updated = np.maximum(profiles[:, :, k] + step, 0.0)
                if smooth_sigma >= 0.3:
                    updated = gaussian_filter1d(updated, smooth_sigma, axis=1, mode="constant")
                updated *= window[:, :, k]
                profiles[:, :, k] = np.where((norm > 0)[:, None], updated, profiles[:, :, k])
            shaped = _unimodal(profiles[:, :, :n_components])
            top = shaped.max(axis=1)
            scale = np.where(top > 0, top, 1.0)
            profiles[:, :, :n_components] = shaped / scale[:, None, :]
            amplitude[:, :n_components, :] *= scale[:, :, None]
            ptp = _gram(profiles, profiles)
            ptx = _gram(profiles, x)
            _hals_spectra(ptx, ptp, amplitude, INNER_SWEEPS)
    _hals_spectra(ptx, ptp, amplitude, FINAL_SWEEPS)
    return amplitude, profiles


def _bucket_length(length: np.ndarray) -> np.ndarray:
    """Padded length of a region: the next of 8, 12, 16, 24, 32, 48, ... (at most +50 %)."""
    sizes = np.array([8 * 2 ** (i // 2) * (1.5 if i % 2 else 1.0) for i in range(40)])
    return sizes[np.searchsorted(sizes, length)].astype(np.int64)


def fit_regions(prepared: Prepared, perception: Perception, *, refine: bool) -> Fit:
    """Fit every region's ion traces to its components' profiles (see module notes)."""
    data = prepared.data
    n_scans, n_ions = data.shape
    n_cand = len(perception)
    region = regions_of(perception.start, perception.end)
    n_regions = int(region.max()) + 1 if n_cand else 0
    r_start = np.full(n_regions, n_scans, dtype=np.int64)
    r_end = np.zeros(n_regions, dtype=np.int64)
    np.minimum.at(r_start, region, perception.start)
    np.maximum.at(r_end, region, perception.end)
    r_count = np.bincount(region, minlength=n_regions)
    r_length = r_end - r_start + 1
    # Slot of each candidate inside its region (order of apex).
    order = np.lexsort((perception.apex, region))
    slot = np.empty(n_cand, dtype=np.int64)
    first = np.concatenate([[0], np.cumsum(r_count)[:-1]])
    slot[order] = np.arange(n_cand) - first[region[order]]

    amplitude = np.zeros((n_cand, n_ions))
    stderr = np.zeros((n_cand, n_ions))
    explained = np.zeros(n_cand)
    excess = np.zeros(n_cand)
    at_apex = np.zeros(n_cand)
    recorded = np.zeros(n_cand)
    profiles: list = [None] * n_cand
    neighbour_share: list = [{} for _ in range(n_cand)]
    padded = _bucket_length(r_length)
    for count, length in sorted(set(zip(r_count.tolist(), padded.tolist(), strict=True))):
        regions_here = np.flatnonzero((r_count == count) & (padded == length))
        cands = np.flatnonzero(np.isin(region, regions_here))
        local = np.searchsorted(regions_here, region[cands])  # row of each cand in the stack
        rows = r_start[regions_here][:, None] + np.arange(length)[None, :]
        valid = rows <= r_end[regions_here][:, None]
        rows = np.clip(rows, 0, n_scans - 1)
        x = data[rows] * valid[:, :, None]
        n_stack = regions_here.size
        profile = np.zeros((n_stack, length, count + 1))
        window = np.zeros((n_stack, length, count), dtype=bool)
        scan = rows[local]  # (cands, length) scan index of each row
        inside = (scan >= perception.start[cands, None]) & (scan <= perception.end[cands, None]) \
            & valid[local]
        column = scan - perception.origin[cands, None]
        in_trace = (column >= 0) & (column < perception.trace.shape[1])
        trace = perception.trace[cands[:, None], np.clip(column, 0, perception.trace.shape[1] - 1)]
        trace = np.maximum(trace, 0.0) * inside * in_trace
        top = trace.max(axis=1)
        trace /= np.where(top > 0, top, 1.0)[:, None]
        profile[local, :, slot[cands]] = trace
        window[local, :, slot[cands]] = inside
        profile[:, :, count] = valid  # flat offset
        ion_sigma = prepared.sigma(prepared.background[rows].mean(axis=1))
        smooth_sigma = prepared.fwhm_scans / FWHM_PER_SIGMA / 2.0
        fitted_a, fitted_p = _fit_bucket(x, profile, window, count, refine, ion_sigma,
                                         smooth_sigma)

        # Standard errors with the profiles fixed: var = Σ_l G² σ², G = (PᵀP)⁻¹Pᵀ.
        level = np.maximum(x + prepared.background[rows] * valid[:, :, None], 0.0)
        variance = prepared.sigma(level) ** 2 * valid[:, :, None]
        gram = _gram(fitted_p, fitted_p)
        ridge = 1e-9 * np.maximum(gram.max(axis=(1, 2)), 1.0)
        gram += np.eye(count + 1)[None] * ridge[:, None, None]
        g = np.linalg.solve(gram, np.ascontiguousarray(fitted_p.transpose(0, 2, 1)))
        var = (g**2) @ variance

        amplitude[cands] = fitted_a[local, slot[cands]]
        stderr[cands] = np.sqrt(var[local, slot[cands]])
        own = fitted_p[local, :, slot[cands]]  # (cands, length)
        # How well the model explains the traces of the component's main ions inside
        # its window: the fraction of their sum of squares, and the residual against
        # what the noise alone would leave.
        top = np.argsort(amplitude[cands], axis=1)[:, -SHAPE_IONS:]  # (cands, ions)
        steps = np.arange(length)[None, :, None]
        observed = x[local[:, None, None], steps, top[:, None, :]]
        weights = fitted_a[local[:, None, None], np.arange(count + 1)[None, :, None],
                           top[:, None, :]]
        model_fit = np.einsum("clk,ckj->clj", fitted_p[local], weights)
        mask = inside[:, :, None]
        residual = ((observed - model_fit) ** 2 * mask).sum(axis=(1, 2))
        total = ((observed**2) * mask).sum(axis=(1, 2))
        expected = (variance[local[:, None, None], steps, top[:, None, :]] * mask).sum(axis=(1, 2))
        explained[cands] = 1.0 - residual / np.where(total > 0, total, 1.0)
        excess[cands] = residual / np.where(expected > 0, expected, 1.0)
        apex_row = np.argmax(own, axis=1)
        at_apex[cands] = fitted_a[local, slot[cands]].sum(axis=1) * own[np.arange(cands.size),
                                                                       apex_row]
        # What the apex scan holds: everything the fit explains there (all components
        # and the offset) plus what it leaves beyond 2 σ of noise (an unperceived
        # co-eluter); the noise itself is no one's signal.
        everything = np.einsum("ck,ckm->cm", fitted_p[local, apex_row], fitted_a[local])
        beyond = x[local, apex_row] - everything - 2.0 * np.sqrt(variance[local, apex_row])
        recorded[cands] = everything.sum(axis=1) + np.maximum(beyond, 0.0).sum(axis=1)
        for i, c in enumerate(cands):
            # Result objects: one small array per candidate (no numerical work here).
            lo = perception.start[c] - r_start[region[c]]
            hi = perception.end[c] - r_start[region[c]]
            profiles[c] = own[i, lo : hi + 1].copy()
        if count > 1:
            others = fitted_p[local, apex_row, :count]  # every slot's value at this apex
            for i, c in enumerate(cands):
                mates = cands[local == local[i]]
                neighbour_share[c] = {int(m): float(others[i, slot[m]]) for m in mates if m != c}
    return Fit(amplitude=amplitude, stderr=stderr, profiles=profiles, region=region,
               explained=explained, excess=excess, at_apex=at_apex, recorded=recorded,
               neighbour_share=neighbour_share)
