"""Batched least-squares fit of mono-exponential relaxation models, vectorised over pixels.

Every conventional mapping model of this package is linear in its amplitudes once the time
constant ``T`` is fixed:

.. math:: S(t) = \\sum_j c_j \\, (a_j + b_j \\, e^{-t/T})

with fixed basis constants ``(a_j, b_j)`` (:class:`ExpBasis`). MOLLI ``A − B·e^{−t/T1*}`` is
the basis ``(1, 0), (0, −1)``; SASHA 2-parameter ``A(1 − e^{−t/T1})`` is ``(1, −1)``; T2
``A·e^{−t/T2} + C`` is ``(0, 1), (1, 0)``. The fit has two steps, both batched over pixels:

1. **Grid search with variable projection** (Golub & Pereyra, SIAM J Numer Anal 1973;10:413,
   doi 10.1137/0710036): for each ``T`` of a log-spaced grid the amplitudes are the linear
   least-squares solution; the grid point with the smallest residual starts step 2, so the
   start is near the global minimum whatever the data scale.
2. **Levenberg–Marquardt** on ``(c, T)`` with the analytic Jacobian and Marquardt's diagonal
   scaling (Marquardt, J SIAM 1963;11:431, doi 10.1137/0111030), ``λ`` divided by 10 after an
   accepted step and multiplied by 10 after a rejected one. A pixel has converged when its
   step is below ``xtol`` relative to the parameters, when an accepted step lowers the
   residual by less than ``ftol`` relative, or when no step decreases the residual any more
   (``λ`` above ``1e10``: the minimum is reached to floating-point precision). Pixels still
   moving after ``max_iter`` iterations, or whose ``T`` runs beyond 100 × the grid's maximum,
   are *not converged*.

Timings may be ``+inf`` (a fully recovered or saturation-prepared image): ``e^{−∞/T} = 0``
and its derivative is 0.

Pixels are processed in chunks of 2048 (no per-pixel Python loop). The grid search needs
``ΦᵀΦ`` (a function of the timings only: computed once per timing row of a chunk) and ``Φᵀy``
(one matrix product per timing row). The Levenberg–Marquardt steps work on the pixels not yet
converged only, samples first, and sum over samples in sample order, so a pixel's iterations
do not depend on the other pixels of the batch: :func:`fit_exponential_flips` fits all
polarities of a chunk as one batch and returns the same numbers, to the last bit, as one
:func:`fit_exponential` call per polarity. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ExpBasis", "ExpFit", "fit_exponential", "fit_exponential_flips", "log_grid"]

#: Pixels per chunk: bounds the grid-search working set (chunk × grid × timings × basis).
_CHUNK = 2048


@dataclass(frozen=True)
class ExpBasis:
    """Basis ``S(t) = Σ_j c_j (a_j + b_j e^{−t/T})``: ``offsets`` = (a_j), ``slopes`` = (b_j)."""

    offsets: tuple[float, ...]
    slopes: tuple[float, ...]

    @property
    def size(self) -> int:
        return len(self.offsets)


@dataclass(frozen=True, eq=False)
class ExpFit:
    """Result of :func:`fit_exponential` for ``N`` pixels.

    Attributes
    ----------
    coefficients : ndarray ``(N, q)``
        Amplitudes ``c_j`` (signal units).
    time_constant : ndarray ``(N,)``
        ``T`` (the unit of the timings, ms in this package).
    sse : ndarray ``(N,)``
        Sum of squared residuals at the solution.
    converged : ndarray of bool ``(N,)``
    iterations : ndarray of int ``(N,)``
        Levenberg–Marquardt iterations used.
    """

    coefficients: np.ndarray
    time_constant: np.ndarray
    sse: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray


def log_grid(low: float, high: float, n: int = 96) -> np.ndarray:
    """``n`` log-spaced time constants from ``low`` to ``high`` (the grid of step 1)."""
    if not (0 < low < high) or n < 2:
        raise ValueError(f"log_grid: need 0 < low < high and n >= 2; got {low}, {high}, {n}")
    return np.geomspace(float(low), float(high), int(n))


def _decay(t: np.ndarray, tau: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``E = e^{−t/T}`` and ``∂E/∂T = (t/T²)·E`` (0 where ``t`` is infinite)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(-t / tau)
        de = np.where(np.isinf(t), 0.0, t / (tau * tau) * e)
    return e, de


def _basis_grid(t, basis: ExpBasis, grid) -> list:
    """The timing-only part of step 1 for the pixels of ``t`` ``(N, m)``: groups of pixels
    sharing a timing row, each ``(sel, E, Φᵀ Φ entries, det)``.

    ``Φᵀ Φ`` (the normal-equation matrix of the basis ``a_j + b_j·E``) needs only ``m``, ``ΣE``
    and ``ΣE²``; it and its determinant do not depend on the signal, so they are computed once
    per timing row (pixels of one slice share their timings) and reused for every signal
    fitted with these timings (e.g. every polarity of a MOLLI pixel). With more than 16
    distinct timing rows the arrays are per pixel, ``(N, G)``, and ``sel`` is all pixels.
    """
    a = np.asarray(basis.offsets, float)
    b = np.asarray(basis.slopes, float)
    m = t.shape[1]
    aa, ab, bb = a[:, None] * a[None, :] * m, a[:, None] * b[None, :] + b[:, None] * a[None, :], \
        b[:, None] * b[None, :]
    rows, inverse = np.unique(t, axis=0, return_inverse=True)
    if len(rows) <= 16:  # shared timings (per slice): decays computed once per timing row
        inverse = inverse.ravel()
        e_all, _ = _decay(rows[:, None, :], grid[None, :, None])  # (R, G, m)
        parts = [(inverse == r, r) for r in range(len(rows))]
    else:
        e_all, _ = _decay(t[:, None, :], grid[None, :, None])  # (N, G, m)
        parts = [(slice(None), slice(None))]
    se_all = e_all.sum(axis=-1)
    se2_all = np.einsum("rgm,rgm->rg", e_all, e_all)
    q = len(a)
    groups = []
    for sel, r in parts:
        se, se2 = se_all[r], se2_all[r]
        ptp = [[aa[i, j] + ab[i, j] * se + bb[i, j] * se2 for j in range(q)] for i in range(q)]
        det = None
        if q == 2:  # Cramer's rule, NaN where singular (relative to the products' size)
            pa, pb, pc, pd = ptp[0][0], ptp[0][1], ptp[1][0], ptp[1][1]
            with np.errstate(invalid="ignore", over="ignore"):
                det = pa * pd - pb * pc
                scale = np.abs(pa * pd) + np.abs(pb * pc)
                det = np.where(np.abs(det) > 1e-13 * scale, det, np.nan)
        groups.append((sel, e_all[r], ptp, det))
    return groups


def _grid_start(groups, y, basis: ExpBasis, grid):
    """Step 1: best ``(c, T)`` over the grid for each pixel of ``y`` ``(N, m)``, whose timings
    :func:`_basis_grid` described by ``groups``.

    At the least-squares amplitudes ``c = (ΦᵀΦ)⁻¹ Φᵀy`` the residual is ``Σy² − cᵀΦᵀy``;
    ``Φᵀy`` needs ``Σy`` and ``Σ E·y`` (one matrix product per timing row).
    """
    a = np.asarray(basis.offsets, float)
    b = np.asarray(basis.slopes, float)
    q = len(a)
    c_out = np.empty((len(y), q))
    best_out = np.empty(len(y), int)
    for sel, e, ptp, det in groups:
        yg = y[sel]
        sey = yg @ e.T if e.ndim == 2 else np.einsum("ngm,nm->ng", e, yg)  # (n, G)
        sy = yg.sum(axis=-1)[:, None]
        # (n, G) arrays, updated in place: the same operations as a_j·Σy + b_j·ΣEy, Cramer's
        # rule and Σy² − cᵀΦᵀy written out, one pass each
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            pty = []
            for j in range(q):
                v = b[j] * sey
                v += a[j] * sy
                pty.append(v)
            if q == 1:
                c = [pty[0] / ptp[0][0]]
            else:
                pa, pb, pc, pd = ptp[0][0], ptp[0][1], ptp[1][0], ptp[1][1]
                c0 = pd * pty[0]
                tmp = pb * pty[1]
                c0 -= tmp
                c0 /= det
                c1 = np.multiply(pa, pty[1], out=sey)
                np.multiply(pc, pty[0], out=tmp)
                c1 -= tmp
                c1 /= det
                c = [c0, c1]
            sse = np.multiply(c[0], pty[0], out=pty[0])
            for j in range(1, q):
                sse += np.multiply(c[j], pty[j], out=pty[j])
            np.subtract(np.sum(yg * yg, axis=-1)[:, None], sse, out=sse)
        sse[~np.isfinite(sse)] = np.inf
        best = np.argmin(sse, axis=1)
        idx = np.arange(len(best))
        c_out[sel] = np.stack([cj[idx, best] for cj in c], axis=1)
        best_out[sel] = best
    return c_out, grid[best_out]


def _model(t, c, tau, a, b):
    """Signal ``(m, n)`` and Jacobian ``(q + 1, m, n)`` w.r.t. ``(c, T)`` of ``n`` pixels with
    timings ``t`` ``(m, n)`` (samples first: the sums over samples run in sample order, one
    vector operation per sample)."""
    e, de = _decay(t, tau[None, :])
    q = len(a)
    jac = np.empty((q + 1,) + t.shape)
    f = 0.0
    d_tau = 0.0
    cb = c * b
    for j in range(q):
        jac[j] = a[j] + b[j] * e
        f = f + jac[j] * c[:, j]
        d_tau = d_tau + de * cb[:, j]
    jac[q] = d_tau
    return f, jac


def _sum_samples(x):
    """``Σ`` over the samples of ``x`` ``(m, n)`` in sample order, ``((x₀ + x₁) + x₂) + …``
    (numpy reduces axis 0 of an ``(m, n ≥ 2)`` array in that order, a single column pairwise:
    that one is summed here). The fixed order keeps every fit identical to the last bit
    whatever the batch it is part of."""
    if x.shape[1] > 1:
        return np.add.reduce(x, axis=0)
    acc = 0.0 + x[0]
    for row in x[1:]:
        acc = acc + row
    return acc


def _sum_sq(r):
    """``Σ r²`` over the samples of ``r`` ``(m, n)``, summed per pixel row as numpy sums an
    ``(n, m)`` array (its pairwise order)."""
    return np.sum(np.ascontiguousarray((r * r).T), axis=1)


def _lm(t, y, c0, tau0, basis: ExpBasis, *, max_iter: int, xtol: float, ftol: float,
        tau_max: float):
    """Step 2: batched Levenberg–Marquardt from ``(c0, tau0)``; ``t``, ``y`` ``(N, m)``.

    Works on the pixels still moving only (converged ones leave the working arrays), samples
    first (``(m, n)``), the normal equations from per-sample vector operations.
    """
    a = np.asarray(basis.offsets, float)
    b = np.asarray(basis.slopes, float)
    n, q = c0.shape
    k = q + 1
    p = np.concatenate([c0, tau0[:, None]], axis=1)
    converged = np.zeros(n, bool)
    iterations = np.zeros(n, int)
    tt, yt = np.ascontiguousarray(t.T), np.ascontiguousarray(y.T)
    with np.errstate(invalid="ignore", over="ignore"):
        f, jac = _model(tt, p[:, :q], p[:, q], a, b)
        sse = _sum_sq(yt - f)
    ia = np.flatnonzero(np.isfinite(p).all(axis=1))
    # np.take keeps the samples-first arrays C-ordered: the sums over axis 0 then run in
    # sample order (a fancy index on the last axis would return another memory layout)
    ta, ya, fa, ja = (np.take(x, ia, axis=-1) for x in (tt, yt, f, jac))
    pa, sa = p[ia], sse[ia]
    lam = np.full(len(ia), 1e-3)
    for _ in range(max_iter):
        if not len(ia):
            break
        r = ya - fa
        g = np.stack([_sum_samples(ja[i] * r) for i in range(k)], axis=1)
        jtj = {(i, j): _sum_samples(ja[i] * ja[j]) for i in range(k) for j in range(i, k)}
        # Marquardt's damping: diagonal + λ·(diagonal + floor), floor = 1e-12 × the mean of
        # the diagonal (summed in index order); off the diagonal + λ·(…)·0, which keeps a
        # NaN where λ·(…) overflows
        mean = jtj[0, 0]
        for i in range(1, k):
            mean = mean + jtj[i, i]
        floor = 1e-12 * (mean / k) + 1e-300
        damp = np.empty((len(ia), k, k))
        with np.errstate(invalid="ignore", over="ignore"):
            for i in range(k):
                shift = lam * (jtj[i, i] + floor)
                zero = shift * 0.0
                for j in range(k):
                    damp[:, i, j] = jtj[min(i, j), max(i, j)] + (shift if i == j else zero)
            try:
                step = np.linalg.solve(damp, g[..., None])[..., 0]
            except np.linalg.LinAlgError:  # an exactly singular pixel: batched pseudo-inverse
                step = np.einsum("nij,nj->ni", np.linalg.pinv(damp), g)
            trial = pa + step
            ok_tau = trial[:, q] > 0
            f_new, j_new = _model(ta, trial[:, :q], np.where(ok_tau, trial[:, q], 1.0), a, b)
            sse_new = np.where(ok_tau, _sum_sq(ya - f_new), np.inf)
        accept = np.isfinite(sse_new) & (sse_new < sa)
        small = np.all(np.abs(step) <= xtol * (np.abs(pa) + xtol), axis=1)
        iterations[ia] += 1
        pa = np.where(accept[:, None], trial, pa)
        fa = np.where(accept, f_new, fa)
        ja = np.where(accept, j_new, ja)
        lam = np.where(accept, np.maximum(lam / 10.0, 1e-12), lam * 10.0)
        flat = accept & (sa - sse_new <= ftol * sa)  # sa is still the old residual
        sa = np.where(accept, sse_new, sa)
        done = (accept & small) | flat | (lam > 1e10) | (sa == 0.0)
        diverged = pa[:, q] > tau_max  # T runs away: no finite minimum
        converged[ia[done & ~diverged]] = True
        stop = done | diverged
        if stop.any():  # finished pixels leave the working arrays
            p[ia[stop]], sse[ia[stop]] = pa[stop], sa[stop]
            keep = np.flatnonzero(~stop)
            ta, ya, fa, ja = (np.take(x, keep, axis=-1) for x in (ta, ya, fa, ja))
            ia, pa, sa, lam = ia[keep], pa[keep], sa[keep], lam[keep]
    p[ia], sse[ia] = pa, sa
    return p[:, :q], p[:, q], sse, converged, iterations


def fit_exponential(t, y, basis: ExpBasis, grid, *, max_iter: int = 100,
                    xtol: float = 1e-10, ftol: float = 1e-12) -> ExpFit:
    """Least-squares fit of ``S(t) = Σ_j c_j (a_j + b_j e^{−t/T})`` for every pixel.

    Parameters
    ----------
    t, y : ndarray, float, ``(N, m)``
        Timings (any unit, may be ``+inf``) and signals of ``N`` pixels, ``m`` samples each;
        both finite except ``t = +inf``.
    basis : ExpBasis
    grid : ndarray ``(G,)``
        Candidate time constants of the grid search (same unit as ``t``, positive).
    max_iter : int
        Levenberg–Marquardt iteration limit per pixel.
    xtol : float
        Relative step size below which a pixel has converged.
    ftol : float
        Relative decrease of the residual below which a pixel has converged.

    Returns
    -------
    ExpFit
    """
    return fit_exponential_flips(t, y, basis, grid, (0,), max_iter=max_iter, xtol=xtol,
                                 ftol=ftol)[0]


def fit_exponential_flips(t, y, basis: ExpBasis, grid, flip_counts, *, max_iter: int = 100,
                          xtol: float = 1e-10, ftol: float = 1e-12) -> tuple[ExpFit, ...]:
    """:func:`fit_exponential` of ``y_k`` (``y`` with its first ``k`` samples negated) for
    every ``k`` of ``flip_counts`` (polarity restoration of magnitude inversion recovery).

    The same fits as one :func:`fit_exponential` call per ``k``, to the last bit; the
    timing-only part of the grid search is computed once for all ``k``.

    Parameters
    ----------
    t, y, basis, grid, max_iter, xtol, ftol
        As :func:`fit_exponential`.
    flip_counts : sequence of int
        Numbers ``k`` of leading samples (in the given sample order) negated.

    Returns
    -------
    tuple of ExpFit
        One per flip count, in the order given.
    """
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    grid = np.asarray(grid, float)
    n = y.shape[0]
    q = basis.size
    outs = [ExpFit(np.full((n, q), np.nan), np.full(n, np.nan), np.full(n, np.inf),
                   np.zeros(n, bool), np.zeros(n, int)) for _ in flip_counts]
    tau_max = 100.0 * float(grid.max()) if n else np.inf
    for s in range(0, n if outs else 0, _CHUNK):
        sl = slice(s, min(n, s + _CHUNK))
        groups = _basis_grid(t[sl], basis, grid)
        ys, starts = [], []
        for k in flip_counts:
            yk = y[sl].copy()
            yk[:, :k] *= -1.0
            ys.append(yk)
            starts.append(_grid_start(groups, yk, basis, grid))
        # one Levenberg-Marquardt batch for all flip counts (each pixel's iterations are
        # independent of the others in the batch)
        nk = len(ys)
        c, tau, sse, conv, it = _lm(np.tile(t[sl], (nk, 1)), np.concatenate(ys),
                                    np.concatenate([c0 for c0, _ in starts]),
                                    np.concatenate([tau0 for _, tau0 in starts]), basis,
                                    max_iter=max_iter, xtol=xtol, ftol=ftol, tau_max=tau_max)
        size = sl.stop - sl.start
        for i, out in enumerate(outs):
            part = slice(i * size, (i + 1) * size)
            out.coefficients[sl], out.time_constant[sl], out.sse[sl] = c[part], tau[part], sse[part]
            out.converged[sl], out.iterations[sl] = conv[part], it[part]
    return tuple(outs)
