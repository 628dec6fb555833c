"""Spectrum extraction: fit every ion trace to the model profiles of the components.

Components whose windows overlap form a *region*; inside a region the baseline-corrected
data ``X`` (scans × ions) are modelled as

    X ≈ P · A + 1 · f,        P ≥ 0, A ≥ 0, f ≥ 0

where column ``k`` of ``P`` is component ``k``'s elution profile (zero outside its
window, maximum 1), row ``k`` of ``A`` its spectrum (abundance of every ion at the
apex), and ``f`` a flat offset per ion over the region (what the baseline left). The
amplitudes are the exact non-negative least-squares solution of every ion, found on the
Gram matrix ``PᵀP`` by Lawson & Hanson's active-set method (compiled, one column at a
time: :mod:`gcms.deconvolution._kernels`; checked ion by ion against scipy's NNLS in the
tests, with numpy block principal pivoting, Kim & Park 2011, as its fallback). The
solution is unique, so the method that finds it does not change it. Every ion is
fitted to all the overlapping profiles at once, so an ion shared by co-eluting compounds
is divided between them in proportion to how well each profile explains its trace
(AMDIS fits each ion to the model peaks the same way; Stein 1999).

With ``refine_profiles`` the profiles start as the smoothed model-ion traces and are
then re-estimated from the significant ions (alternating least squares: hierarchical
updates of one profile at a time, Cichocki & Phan, IEICE Trans. E92-A (2009) 708, with
each profile kept non-negative, inside its window, smooth and unimodal), which lowers
the noise a single model ion brings into every extracted spectrum.

Regions of equal component count and similar length are stacked into 3-D arrays and
fitted together. The sequential parts (the active-set solves, the HALS sweeps, one
component after another) are compiled loops that skip what is known to be zero: a
profile outside its window, two components whose windows do not overlap, an ion
absent from a spectrum. In a dense run (chains of 30-80 overlapping components) most
of each region's ``P`` and ``PᵀP`` is such zeros.

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
#: Outer alternating iterations (profiles and spectra) when refining profiles, and the
#: HALS sweeps of the spectra in each.
REFINE_ITERATIONS = 3
INNER_SWEEPS = 4


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


def _nnls(ptp: np.ndarray, ptx: np.ndarray, max_iter: int = 100,
          start: np.ndarray | None = None) -> np.ndarray:
    """Exact non-negative least squares for every (region, ion) column at once.

    The compiled active-set solver of :mod:`gcms.deconvolution._kernels` (Lawson–Hanson on
    the Gram matrix, warm-started from ``start`` when given); a column it does not
    solve within ``max(max_iter, 3 K)`` additions (none in practice: it is a safeguard)
    is solved by :func:`_nnls_pivoting`. Both find the unique solution (with a ridge of
    order 1e-12 of the largest entry of ``PᵀP``, which only makes a singular one
    solvable). ``ptp`` (R, K, K), ``ptx`` (R, K, m) -> (R, K, m).
    """
    from gcms.deconvolution._kernels import nnls_gram

    ptp = np.ascontiguousarray(ptp, dtype=np.float64)
    ptx = np.ascontiguousarray(ptx, dtype=np.float64)
    warm = start is not None
    seed = np.ascontiguousarray(start, dtype=np.float64) if warm else ptx
    x, failed = nnls_gram(ptp, ptx, seed, warm, max(max_iter, 3 * ptp.shape[1]))
    for r in np.flatnonzero(failed.any(axis=1)):
        ions = np.flatnonzero(failed[r])
        x[r][:, ions] = _nnls_pivoting(ptp[r : r + 1], ptx[r : r + 1][:, :, ions], max_iter,
                                       None if start is None else seed[r : r + 1][:, :, ions])[0]
    return x


def _nnls_pivoting(ptp: np.ndarray, ptx: np.ndarray, max_iter: int = 100,
                   start: np.ndarray | None = None) -> np.ndarray:
    """Exact non-negative least squares for every (region, ion) at once, in numpy.

    Block principal pivoting (Kim & Park, SIAM J. Sci. Comput. 33 (2011) 3261): with
    ``G = PᵀP`` and ``b = Pᵀx`` per column, keep a passive set ``F``, solve
    ``G_FF x_F = b_F`` (``x = 0`` elsewhere) and compute the gradient ``y = G x − b``;
    a column is optimal when ``x_F ≥ 0`` and ``y ≥ 0`` off ``F`` (the KKT conditions).
    All infeasible variables are exchanged at once while their number falls; when it
    does not, three more full exchanges are allowed, then one variable at a time (the
    largest index), which guarantees termination. It starts from the unconstrained
    solution (``F`` = every slot), optimal already for most ions, or from the positive
    entries of ``start`` (an approximate solution: most passive sets are then right),
    and each iteration solves only the columns still infeasible, as one batched
    ``solve``. ``ptp`` (R, K, K), ``ptx`` (R, K, m) -> (R, K, m).
    """
    n_regions, n_slots, n_ions = ptx.shape
    active = np.diagonal(ptp, axis1=1, axis2=2) > 0  # (R, K): slots that exist
    ridge = 1e-12 * np.maximum(np.abs(ptp).max(axis=(1, 2)), 1e-300)
    eye = np.eye(n_slots)
    base = ptp + ridge[:, None, None] * eye + (~active)[:, :, None] * eye
    rhs = np.moveaxis(ptx, 1, 2)                     # (R, m, K)
    if start is None:
        x = np.moveaxis(np.linalg.solve(base, ptx * active[:, :, None]), 1, 2)
        passive = np.broadcast_to(active[:, None, :], x.shape).copy()
        y = np.zeros_like(x)
    else:
        passive = (np.moveaxis(start, 1, 2) > 0) & active[:, None, :]
        x, y = _solve_passive(ptp, base, rhs, passive, ridge, eye)
    tolerance = 1e-10 * np.maximum(np.abs(rhs).max(axis=2, keepdims=True), 1e-300)
    best = np.full((n_regions, n_ions), n_slots + 1)
    chances = np.full((n_regions, n_ions), 3)
    for _ in range(max_iter):
        infeasible = ((passive & (x < -tolerance)) | (~passive & (y < -tolerance))) \
            & active[:, None, :]
        count = infeasible.sum(axis=2)
        todo_r, todo_m = np.nonzero(count)
        if todo_r.size == 0:
            break
        bad = infeasible[todo_r, todo_m]
        n_bad = count[todo_r, todo_m]
        fewer = n_bad < best[todo_r, todo_m]
        chance = chances[todo_r, todo_m]
        full = fewer | (chance >= 1)
        best[todo_r, todo_m] = np.where(fewer, n_bad, best[todo_r, todo_m])
        chances[todo_r, todo_m] = np.where(fewer, 3, np.where(chance >= 1, chance - 1, chance))
        last = n_slots - 1 - np.argmax(bad[:, ::-1], axis=1)
        single = np.zeros_like(bad)
        single[np.arange(bad.shape[0]), last] = True
        flip = np.where(full[:, None], bad, single)
        now = passive[todo_r, todo_m] ^ flip
        passive[todo_r, todo_m] = now
        solved, gradient = _solve_columns(ptp[todo_r], base[todo_r], rhs[todo_r, todo_m], now,
                                          ridge[todo_r], eye)
        x[todo_r, todo_m] = solved
        y[todo_r, todo_m] = gradient
    return np.moveaxis(np.maximum(x, 0.0), 2, 1)


def _solve_columns(gram: np.ndarray, base: np.ndarray, rhs: np.ndarray, passive: np.ndarray,
                   ridge: np.ndarray, eye: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x_F = G_FF⁻¹ b_F`` and the gradient off ``F``, one column per row (C, K)."""
    both = passive[:, :, None] & passive[:, None, :]
    system = np.where(both, base, 0.0) + (~passive)[:, :, None] * eye \
        + ridge[:, None, None] * eye
    solved = np.linalg.solve(system, (rhs * passive)[:, :, None])[:, :, 0]
    solved = np.where(passive, solved, 0.0)
    gradient = np.einsum("ckl,cl->ck", gram, solved) - rhs
    return solved, np.where(passive, 0.0, gradient)


def _solve_passive(ptp, base, rhs, passive, ridge, eye):
    """:func:`_solve_columns` for every (region, ion) column of a stack."""
    n_regions, n_ions, _ = rhs.shape
    r = np.repeat(np.arange(n_regions), n_ions)
    solved, gradient = _solve_columns(ptp[r], base[r], rhs.reshape(-1, rhs.shape[2]),
                                      passive.reshape(-1, rhs.shape[2]), ridge[r], eye)
    return solved.reshape(rhs.shape), gradient.reshape(rhs.shape)


def _hals_sweeps(ptp: np.ndarray, ptx: np.ndarray, amplitude: np.ndarray, sweeps: int) -> None:
    """In-place HALS sweeps on the amplitudes (R, K, m) for fixed profiles.

    Hierarchical alternating least squares (Cichocki & Phan 2009): each sweep updates
    one component's amplitudes at a time exactly, ``A_k ← max(0, A_k + (b_k − G_k A) /
    G_kk)``. Warm-started from the previous amplitudes, a few sweeps follow the small
    change of the profiles during refinement; the final amplitudes are :func:`_nnls`'s.
    Compiled: :func:`gcms.deconvolution._kernels.hals_amplitudes`.
    """
    from gcms.deconvolution._kernels import hals_amplitudes

    hals_amplitudes(np.ascontiguousarray(ptp), np.ascontiguousarray(ptx), amplitude, sweeps)


def _fit_bucket(x: np.ndarray, profiles: np.ndarray, window: np.ndarray,
                n_components: int, refine: bool, ion_sigma: np.ndarray,
                smooth_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit one stack of regions. ``profiles`` (R, L, K+1): last slot is the flat offset.

    ``ion_sigma`` (R, m) is the noise σ of each ion's baseline in the region; the
    profile updates use only the ions whose amplitude is at least 3 standard errors
    (σ / ‖profile‖), so the hundreds of noise-only ions do not pull noise into the
    profiles, and after each sweep the profiles are smoothed like the model traces
    (``smooth_sigma`` scans) and made unimodal. Returns the amplitudes (R, K+1, m), the
    profiles and their Gram matrix ``PᵀP``.
    """
    from scipy.ndimage import gaussian_filter1d

    from gcms.deconvolution._kernels import hals_profiles, profile_products, unimodal

    ptp, ptx = profile_products(profiles, x)
    amplitude = _nnls(ptp, ptx)
    if refine:
        for _ in range(REFINE_ITERATIONS):
            norms = np.sqrt(np.diagonal(ptp, axis1=1, axis2=2))[:, :, None]
            strong = amplitude >= 3.0 * ion_sigma[:, None, :] / np.maximum(norms, 1e-300)
            strong[:, -1, :] = True
            used = np.where(strong, amplitude, 0.0)
            aat = used @ np.ascontiguousarray(used.transpose(0, 2, 1))
            hals_profiles(profiles, x, used, aat, window, n_components)
            shaped = profiles[:, :, :n_components]
            if smooth_sigma >= 0.3:  # all profiles at once, after the sweep
                shaped = gaussian_filter1d(shaped, smooth_sigma, axis=1, mode="constant") \
                    * window
            shaped = unimodal(np.ascontiguousarray(shaped))
            top = shaped.max(axis=1)
            scale = np.where(top > 0, top, 1.0)
            profiles[:, :, :n_components] = shaped / scale[:, None, :]
            amplitude[:, :n_components, :] *= scale[:, :, None]
            ptp, ptx = profile_products(profiles, x)
            _hals_sweeps(ptp, ptx, amplitude, INNER_SWEEPS)
        amplitude = _nnls(ptp, ptx, start=amplitude)
    return amplitude, profiles, ptp


def _bucket_length(length: np.ndarray) -> np.ndarray:
    """Padded length of a region: the next of 8, 12, 16, 24, 32, 48, ... (at most +50 %)."""
    sizes = np.array([8 * 2 ** (i // 2) * (1.5 if i % 2 else 1.0) for i in range(40)])
    return sizes[np.searchsorted(sizes, length)].astype(np.int64)


def fit_regions(prepared: Prepared, perception: Perception, *, refine: bool) -> Fit:
    """Fit every region's ion traces to its components' profiles (see module notes)."""
    from gcms.deconvolution._kernels import main_ion_fit

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
        in_stack = np.zeros(n_regions, dtype=bool)
        in_stack[regions_here] = True
        cands = np.flatnonzero(in_stack[region])
        local = np.searchsorted(regions_here, region[cands])  # row of each cand in the stack
        rows = r_start[regions_here][:, None] + np.arange(length)[None, :]
        valid = rows <= r_end[regions_here][:, None]
        rows = np.clip(rows, 0, n_scans - 1)
        x = data[rows]
        x *= valid[:, :, None]
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
        background = prepared.background[rows]
        ion_sigma = prepared.sigma(background.mean(axis=1))
        smooth_sigma = prepared.fwhm_scans / FWHM_PER_SIGMA / 2.0
        fitted_a, fitted_p, gram = _fit_bucket(x, profile, window, count, refine, ion_sigma,
                                               smooth_sigma)

        # Standard errors with the profiles fixed: var = Σ_l G² σ², G = (PᵀP)⁻¹Pᵀ.
        level = background * valid[:, :, None]  # in place from here: large stacks
        level += x
        np.maximum(level, 0.0, out=level)
        variance = prepared.sigma(level)
        variance **= 2
        variance *= valid[:, :, None]
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
        top = np.ascontiguousarray(np.argsort(amplitude[cands], axis=1)[:, -SHAPE_IONS:])
        residual, total, expected = main_ion_fit(x, variance, fitted_p, fitted_a, local, top,
                                                 inside)
        explained[cands] = 1.0 - residual / np.where(total > 0, total, 1.0)
        excess[cands] = residual / np.where(expected > 0, expected, 1.0)
        apex_row = np.argmax(own, axis=1)
        at_apex[cands] = fitted_a[local, slot[cands]].sum(axis=1) * own[np.arange(cands.size),
                                                                       apex_row]
        # What the apex scan holds: everything the fit explains there (all components
        # and the offset) plus what it leaves beyond 2 σ of noise (an unperceived
        # co-eluter); the noise itself is no one's signal.
        at_apexes = np.zeros((n_stack, count, count + 1))
        at_apexes[local, slot[cands]] = fitted_p[local, apex_row]
        everything = (at_apexes @ fitted_a)[local, slot[cands]]
        beyond = x[local, apex_row] - everything - 2.0 * np.sqrt(variance[local, apex_row])
        recorded[cands] = everything.sum(axis=1) + np.maximum(beyond, 0.0).sum(axis=1)
        for i, c in enumerate(cands):
            # Result objects: one small array per candidate (no numerical work here).
            lo = perception.start[c] - r_start[region[c]]
            hi = perception.end[c] - r_start[region[c]]
            profiles[c] = own[i, lo : hi + 1].copy()
        if count > 1:
            others = fitted_p[local, apex_row, :count]  # every slot's value at this apex
            member = np.empty((n_stack, count), dtype=np.int64)  # candidate of each slot
            member[local, slot[cands]] = cands
            member_lists = member.tolist()
            shares = others[np.arange(cands.size)[:, None], slot[member[local]]].tolist()
            for i, candidate in enumerate(cands.tolist()):
                share = dict(zip(member_lists[local[i]], shares[i], strict=True))
                del share[candidate]
                neighbour_share[candidate] = share
    return Fit(amplitude=amplitude, stderr=stderr, profiles=profiles, region=region,
               explained=explained, excess=excess, at_apex=at_apex, recorded=recorded,
               neighbour_share=neighbour_share)


def refit(prepared: Prepared, perception: Perception, previous: Fit, kept: np.ndarray,
          changed: np.ndarray, *, refine: bool) -> Fit:
    """The fit of ``perception``, reusing the previous fit where a region did not change.

    ``perception`` holds the previous perception's candidates ``kept``: ``kept`` maps
    each candidate to its index in the previous perception; ``changed``
    marks candidates whose window changed (a merge). A region whose members are exactly
    one previous region, none changed, has the same data, profiles and so the same fit;
    only the other regions are fitted again (with one fit per round over the whole run,
    most of a round's work was repeating unchanged regions).
    """
    n = len(perception)
    region = regions_of(perception.start, perception.end)
    old_region = previous.region[kept]
    n_regions = int(region.max()) + 1 if n else 0
    # A region is clean when all its members come from one previous region, that region
    # kept all its members, and no member's window changed.
    lowest = np.full(n_regions, np.iinfo(np.int64).max)
    highest = np.full(n_regions, -1)
    np.minimum.at(lowest, region, old_region)
    np.maximum.at(highest, region, old_region)
    size_now = np.bincount(region, minlength=n_regions)
    size_before = np.bincount(previous.region)
    dirty_region = (lowest != highest) | (size_now != size_before[np.clip(
        lowest, 0, size_before.size - 1)])
    np.logical_or.at(dirty_region, region, changed)
    dirty = dirty_region[region]
    out = Fit(
        amplitude=previous.amplitude[kept].copy(), stderr=previous.stderr[kept].copy(),
        profiles=[previous.profiles[k] for k in kept], region=region,
        explained=previous.explained[kept].copy(), excess=previous.excess[kept].copy(),
        at_apex=previous.at_apex[kept].copy(), recorded=previous.recorded[kept].copy(),
        neighbour_share=[{} for _ in range(n)],
    )
    new_of_old = {int(old): new for new, old in enumerate(kept)}
    for new in np.flatnonzero(~dirty):  # result objects: re-keyed dictionaries
        out.neighbour_share[new] = {new_of_old[o]: v for o, v in
                                    previous.neighbour_share[kept[new]].items()}
    # A region that only lost members keeps its members' refined profiles and is solved
    # again for the spectra alone; one holding a merged (widened) component is refined
    # from the start.
    widened = np.zeros(n_regions, dtype=bool)
    np.logical_or.at(widened, region, changed)
    resolve = dirty & ~widened[region]
    if np.any(resolve):
        reused = perception.take(np.arange(n))
        reused.trace = reused.trace.copy()
        for new in np.flatnonzero(resolve):  # result objects: place each kept profile
            offset = perception.start[new] - perception.origin[new]
            reused.trace[new] = 0.0
            reused.trace[new, offset : offset + out.profiles[new].size] = out.profiles[new]
        _fill(out, np.flatnonzero(resolve), fit_regions(
            prepared, reused.take(np.flatnonzero(resolve)), refine=False))
    rows = np.flatnonzero(dirty & widened[region])
    if rows.size:
        _fill(out, rows, fit_regions(prepared, perception.take(rows), refine=refine))
    return out


def _fill(out: Fit, rows: np.ndarray, sub: Fit) -> None:
    """Copy a fit of candidates ``rows`` into ``out`` (neighbour keys re-indexed)."""
    out.amplitude[rows] = sub.amplitude
    out.stderr[rows] = sub.stderr
    out.explained[rows] = sub.explained
    out.excess[rows] = sub.excess
    out.at_apex[rows] = sub.at_apex
    out.recorded[rows] = sub.recorded
    for local, new in enumerate(rows):  # result objects
        out.profiles[new] = sub.profiles[local]
        out.neighbour_share[new] = {int(rows[o]): v for o, v in
                                    sub.neighbour_share[local].items()}
