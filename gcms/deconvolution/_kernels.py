r"""Compiled kernels of the spectrum extraction (numba).

Each replaces a numpy form of :mod:`gcms.deconvolution.extraction` (the tests keep
those forms as references) where the work is sequential or mostly zeros:
:func:`nnls_gram` (the exact NNLS of every ion), :func:`hals_amplitudes` and
:func:`hals_profiles` (the HALS sweeps of the profile refinement, one component after
another), :func:`profile_products` (``PᵀP`` and ``PᵀX`` over the profiles' windows
only), :func:`main_ion_fit` (the fit of each candidate's main ions inside its window)
and :func:`unimodal` (running minima outward from each profile's apex; bit-identical).
Sums skip what is known to be zero (a profile outside its window, two components whose
windows do not overlap, an ion absent from a spectrum), so their rounding may differ
from the numpy forms' in the last bits, never more.

NNLS: for every region ``r`` and ion ``j``, :func:`nnls_gram` solves

.. math:: \min_{x \ge 0}\ \tfrac12 x^\top (G_r + \rho_r I) x - b_{rj}^\top x

with ``G = PᵀP`` and ``b = Pᵀx`` (the normal equations of ``min ‖P a − x‖``, ``a ≥ 0``)
and a ridge ``ρ`` of 1e-12 of the largest entry of ``G`` (which only makes a singular
``G`` solvable). The objective is strictly convex, so the solution is unique: any exact
method finds the same one, and the tests check this one against scipy's NNLS.

Method: Lawson & Hanson's active-set algorithm (*Solving Least Squares Problems*, 1974,
ch. 23) on the Gram matrix (Bro & De Jong, J. Chemometrics 11 (1997) 393, "FNNLS").
Variables enter the passive set ``F`` one at a time, the one of largest gradient
``w = b − G x`` first, until ``w ≤ tol`` for all variables held at zero (the KKT
conditions, with the tolerance ``1e-10 · max|b|`` of the block-pivoting solver it
replaced); a step that would make a passive variable negative stops where the first
one reaches zero and drops it. ``G_FF`` is held as a Cholesky factor: a variable that
enters adds one row (``O(|F|²)``); one that leaves refactors (rare). An ion present in
few of a region's components (most of them) is solved in a few additions, whatever the
number of components.

Warm start: from the positive entries of an approximate solution (the amplitudes of the
profile refinement), which are feasible, the first solve on their passive set is
usually already optimal.

A variable whose addition the rounding makes useless (its pivot or its new value not
positive) is held out until the solution moves again, which rules out cycling. Columns
that still exceed ``max_iter`` additions are reported, for the caller to solve another
way.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "hals_amplitudes",
    "hals_profiles",
    "main_ion_fit",
    "nnls_gram",
    "profile_products",
    "unimodal",
]


@numba.njit(cache=True, nogil=True)
def _factor(g, index, p, chol):
    """Lower Cholesky factor of ``g[F, F]`` (``F = index[:p]``) into ``chol`` (False: singular)."""
    for a in range(p):
        for c in range(a + 1):
            total = g[index[a], index[c]]
            for k in range(c):
                total -= chol[a, k] * chol[c, k]
            if a == c:
                if total <= 0.0:
                    return False
                chol[a, a] = np.sqrt(total)
            else:
                chol[a, c] = total / chol[c, c]
    return True


@numba.njit(cache=True, nogil=True)
def _append(g, index, p, chol):
    """Add row ``p`` (variable ``index[p]``) to the Cholesky factor of the first ``p``."""
    t = index[p]
    total_d = g[t, t]
    for a in range(p):
        total = g[t, index[a]]
        for k in range(a):
            total -= chol[p, k] * chol[a, k]
        chol[p, a] = total / chol[a, a]
        total_d -= chol[p, a] * chol[p, a]
    if total_d <= 0.0:
        return False
    chol[p, p] = np.sqrt(total_d)
    return True


@numba.njit(cache=True, nogil=True)
def _solve(chol, p, b, index, z):
    """``z[:p] = G_FF⁻¹ b_F`` from the Cholesky factor (forward, then back substitution)."""
    for a in range(p):
        total = b[index[a]]
        for k in range(a):
            total -= chol[a, k] * z[k]
        z[a] = total / chol[a, a]
    for a in range(p - 1, -1, -1):
        total = z[a]
        for k in range(a + 1, p):
            total -= chol[k, a] * z[k]
        z[a] = total / chol[a, a]


@numba.njit(cache=True, nogil=True)
def _to_feasible(g, b, index, p, chol, x, z):
    """Lawson–Hanson's inner loop: from feasible ``x`` toward ``z``, dropping variables.

    ``z[:p]`` holds the solution on the passive set ``index[:p]``; while some of it is
    not positive, step from ``x`` toward it as far as feasibility allows, drop the
    variables that reach zero, refactor and solve again. Returns the new ``p``, or -1
    when a refactorisation fails.
    """
    while True:
        alpha = 2.0
        for a in range(p):
            if z[a] <= 0.0:
                current = x[index[a]]
                step = current / (current - z[a])
                if step < alpha:
                    alpha = step
        if alpha > 1.0:
            return p
        kept = 0
        for a in range(p):
            i = index[a]
            value = x[i] + alpha * (z[a] - x[i])
            if z[a] <= 0.0 and x[i] / (x[i] - z[a]) <= alpha:
                value = 0.0  # the variable that stopped the step
            if value > 0.0:
                x[i] = value
                index[kept] = i
                kept += 1
            else:
                x[i] = 0.0
        p = kept
        if not _factor(g, index, p, chol):
            return -1
        _solve(chol, p, b, index, z)


@numba.njit(cache=True, nogil=True)
def nnls_gram(gram, rhs, start, warm, max_iter):
    """Exact NNLS of every (region, ion) column: ``gram`` (R, K, K), ``rhs`` (R, K, m).

    ``start`` (R, K, m) is the warm start when ``warm`` (else ignored). Slots with a
    zero diagonal (padding) stay zero. Returns the solution (R, K, m) and a mask (R, m)
    of the columns not solved (iteration limit or a failed factorisation).
    """
    n_regions, n_slots, n_ions = rhs.shape
    out = np.zeros((n_regions, n_slots, n_ions))
    failed = np.zeros((n_regions, n_ions), dtype=np.bool_)
    g = np.empty((n_slots, n_slots))
    chol = np.empty((n_slots, n_slots))
    index = np.empty(n_slots, dtype=np.int64)
    passive = np.zeros(n_slots, dtype=np.bool_)
    held = np.zeros(n_slots, dtype=np.bool_)
    active = np.zeros(n_slots, dtype=np.bool_)
    b = np.empty(n_slots)
    x = np.empty(n_slots)
    z = np.empty(n_slots)
    w = np.empty(n_slots)
    neighbour = np.empty((n_slots, n_slots), dtype=np.int64)
    degree = np.zeros(n_slots, dtype=np.int64)
    for r in range(n_regions):
        top = 0.0
        for k in range(n_slots):
            for c in range(n_slots):
                g[k, c] = gram[r, k, c]
                top = max(top, abs(g[k, c]))
        ridge = 1e-12 * max(top, 1e-300)
        for k in range(n_slots):
            active[k] = gram[r, k, k] > 0.0
            g[k, k] += ridge
        for i in range(n_slots):
            degree[i] = 0
            for k in range(n_slots):
                if g[k, i] != 0.0:
                    neighbour[i, degree[i]] = k
                    degree[i] += 1
        for j in range(n_ions):
            largest = 0.0
            for k in range(n_slots):
                b[k] = rhs[r, k, j]
                largest = max(largest, abs(b[k]))
                x[k] = 0.0
                passive[k] = False
                held[k] = False
            tolerance = 1e-10 * max(largest, 1e-300)
            p = 0
            if warm:
                for k in range(n_slots):
                    if active[k] and start[r, k, j] > 0.0:
                        index[p] = k
                        x[k] = start[r, k, j]
                        p += 1
                if p and _factor(g, index, p, chol):
                    _solve(chol, p, b, index, z)
                    p = _to_feasible(g, b, index, p, chol, x, z)
                else:
                    p = -1
                if p < 0:  # a degenerate start: start cold
                    p = 0
                    for k in range(n_slots):
                        x[k] = 0.0
                for a in range(p):
                    x[index[a]] = z[a]
                    passive[index[a]] = True
            iterations = 0
            while True:
                # Gradient w = b − G x (over the non-zero entries of G: profiles that
                # do not overlap do not interact); the largest over the variables
                # held at zero enters.
                for k in range(n_slots):
                    w[k] = b[k]
                for a in range(p):
                    i = index[a]
                    for e in range(degree[i]):
                        k = neighbour[i, e]
                        w[k] -= g[k, i] * x[i]
                entering = -1
                best = tolerance
                for k in range(n_slots):
                    if active[k] and not passive[k] and not held[k] and w[k] > best:
                        best = w[k]
                        entering = k
                if entering < 0:
                    break
                iterations += 1
                if iterations > max_iter:
                    failed[r, j] = True
                    break
                index[p] = entering
                if not _append(g, index, p, chol):
                    held[entering] = True
                    continue
                _solve(chol, p + 1, b, index, z)
                if z[p] <= 0.0:  # rounding: entering cannot move the solution
                    held[entering] = True
                    continue
                p = _to_feasible(g, b, index, p + 1, chol, x, z)
                if p < 0:
                    failed[r, j] = True
                    break
                for k in range(n_slots):
                    x[k] = 0.0
                    passive[k] = False
                    held[k] = False
                for a in range(p):
                    x[index[a]] = z[a]
                    passive[index[a]] = True
            if not failed[r, j]:
                for k in range(n_slots):
                    out[r, k, j] = x[k]
    return out, failed


@numba.njit(cache=True, nogil=True)
def hals_amplitudes(gram, rhs, amplitude, sweeps):
    """In-place HALS sweeps on the amplitudes (R, K, m) for fixed profiles.

    Each sweep updates one component ``k`` at a time exactly:
    ``A_k ← max(0, A_k + (b_k − G_k A) / G_kk)`` (Cichocki & Phan 2009); a slot with a
    zero diagonal (padding) is held at zero. ``gram`` (R, K, K), ``rhs`` (R, K, m).
    """
    n_regions, n_slots, n_ions = rhs.shape
    grad = np.empty(n_ions)
    for r in range(n_regions):
        for _ in range(sweeps):
            for k in range(n_slots):
                diagonal = gram[r, k, k]
                if diagonal <= 0.0:
                    for j in range(n_ions):
                        amplitude[r, k, j] = 0.0
                    continue
                for j in range(n_ions):
                    grad[j] = rhs[r, k, j]
                for c in range(n_slots):
                    weight = gram[r, k, c]
                    if weight != 0.0:  # profiles that do not overlap
                        for j in range(n_ions):
                            grad[j] -= weight * amplitude[r, c, j]
                for j in range(n_ions):
                    amplitude[r, k, j] = max(amplitude[r, k, j] + grad[j] / diagonal, 0.0)


@numba.njit(cache=True, nogil=True)
def hals_profiles(profiles, x, used, aat, window, n_components):
    """In-place HALS sweep on the profiles (R, L, K+1) for fixed spectra.

    For each component ``k`` in turn, with the data ``X`` (R, L, m), the spectra ``A``
    (R, K+1, m) and ``AAᵀ`` (R, K+1, K+1):
    ``p_k ← max(0, p_k + ((XAᵀ)_k − P (AAᵀ)_k) / (AAᵀ)_kk)`` inside the window (R, L, K),
    zero outside it (where ``XAᵀ`` is therefore not computed); a component with no
    spectrum (``(AAᵀ)_kk = 0``) keeps its profile.
    """
    n_regions, length, n_slots = profiles.shape
    n_ions = x.shape[2]
    ions = np.empty(n_ions, dtype=np.int64)
    for r in range(n_regions):
        for k in range(n_components):
            norm = aat[r, k, k]
            if norm <= 0.0:
                continue
            n_used = 0  # the ions of the spectrum (most are zero)
            for j in range(n_ions):
                if used[r, k, j] != 0.0:
                    ions[n_used] = j
                    n_used += 1
            for row in range(length):
                if not window[r, row, k]:
                    profiles[r, row, k] = 0.0
                    continue
                grad = 0.0
                for e in range(n_used):
                    grad += x[r, row, ions[e]] * used[r, k, ions[e]]
                for c in range(n_slots):
                    grad -= profiles[r, row, c] * aat[r, c, k]
                profiles[r, row, k] = max(profiles[r, row, k] + grad / norm, 0.0)


@numba.njit(cache=True, nogil=True)
def profile_products(profiles, x):
    """``PᵀP`` (R, K, K) and ``PᵀX`` (R, K, m) of profiles (R, L, K) and data (R, L, m).

    A sum over the non-zero profile values only: a profile is zero outside its window,
    and in a long chain of co-eluting peaks most of every row is outside.
    """
    n_regions, length, n_slots = profiles.shape
    n_ions = x.shape[2]
    ptp = np.zeros((n_regions, n_slots, n_slots))
    ptx = np.zeros((n_regions, n_slots, n_ions))
    nonzero = np.empty(n_slots, dtype=np.int64)
    for r in range(n_regions):
        for row in range(length):
            count = 0
            for k in range(n_slots):
                if profiles[r, row, k] != 0.0:
                    nonzero[count] = k
                    count += 1
            for a in range(count):
                k = nonzero[a]
                value = profiles[r, row, k]
                for j in range(n_ions):
                    ptx[r, k, j] += value * x[r, row, j]
                for c in range(a + 1):
                    ptp[r, k, nonzero[c]] += value * profiles[r, row, nonzero[c]]
        for k in range(n_slots):
            for c in range(k):
                ptp[r, c, k] = ptp[r, k, c]
    return ptp, ptx


@numba.njit(cache=True, nogil=True)
def main_ion_fit(x, variance, profiles, amplitude, stack_row, ions, inside):
    """Sums of squares of the fit of each candidate's main ions inside its window.

    For candidate ``c`` (region ``stack_row[c]`` of the stacks ``x``, ``variance``
    (R, L, m), ``profiles`` (R, L, K+1), ``amplitude`` (R, K+1, m)), over the scans
    where ``inside[c]`` and its ions ``ions[c]``: the residual ``Σ (x − P A)²``, the
    data's ``Σ x²`` and the noise's ``Σ σ²``. Returns the three (C,) arrays.
    """
    n_cand, length = inside.shape
    n_slots = profiles.shape[2]
    residual = np.zeros(n_cand)
    total = np.zeros(n_cand)
    expected = np.zeros(n_cand)
    for c in range(n_cand):
        r = stack_row[c]
        for row in range(length):
            if not inside[c, row]:
                continue
            for t in range(ions.shape[1]):
                j = ions[c, t]
                model = 0.0
                for k in range(n_slots):
                    value = profiles[r, row, k]
                    if value != 0.0:
                        model += value * amplitude[r, k, j]
                observed = x[r, row, j]
                residual[c] += (observed - model) ** 2
                total[c] += observed * observed
                expected[c] += variance[r, row, j]
    return residual, total, expected


@numba.njit(cache=True, nogil=True)
def unimodal(profiles):
    """Each profile (axis 1 of (R, L, K)) clipped to rise to its maximum, then fall.

    Left of the maximum (its first occurrence) a value becomes the smallest of it and
    everything between it and the maximum; right of it likewise: the running minimum
    outward from the apex. Returns a new array.
    """
    n_regions, length, n_slots = profiles.shape
    out = np.empty_like(profiles)
    for r in range(n_regions):
        for k in range(n_slots):
            apex = 0
            for row in range(1, length):
                if profiles[r, row, k] > profiles[r, apex, k]:
                    apex = row
            low = profiles[r, apex, k]
            for row in range(apex, -1, -1):
                low = min(low, profiles[r, row, k])
                out[r, row, k] = low
            low = profiles[r, apex, k]
            for row in range(apex, length):
                low = min(low, profiles[r, row, k])
                out[r, row, k] = low
    return out
