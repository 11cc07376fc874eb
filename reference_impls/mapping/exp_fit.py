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

Pixels are processed in chunks (no per-pixel Python loop). No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ExpBasis", "ExpFit", "fit_exponential", "log_grid"]

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


def _solve_small(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Solve batched 1×1 or 2×2 systems ``m x = v`` in closed form (NaN where singular)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if m.shape[-1] == 1:
            return v / m[..., 0]
        a, b, c, d = m[..., 0, 0], m[..., 0, 1], m[..., 1, 0], m[..., 1, 1]
        det = a * d - b * c
        scale = np.abs(a * d) + np.abs(b * c)
        det = np.where(np.abs(det) > 1e-13 * scale, det, np.nan)
        x0 = (d * v[..., 0] - b * v[..., 1]) / det
        x1 = (a * v[..., 1] - c * v[..., 0]) / det
    return np.stack([x0, x1], axis=-1)


def _grid_start(t, y, basis: ExpBasis, grid):
    """Step 1: best ``(c, T)`` over the grid for each pixel of ``t, y`` ``(N, m)``.

    The normal equations of the basis ``a_j + b_j·E`` need only the sums of ``E``, ``E²``,
    ``y`` and ``E·y`` over the samples; at the least-squares amplitudes the residual is
    ``Σy² − cᵀΦᵀy``.
    """
    a = np.asarray(basis.offsets, float)
    b = np.asarray(basis.slopes, float)
    m = t.shape[1]
    rows, inverse = np.unique(t, axis=0, return_inverse=True)
    if len(rows) <= 16:  # shared timings (per slice): decays computed once per timing row
        inverse = inverse.ravel()
        e_rows, _ = _decay(rows[:, None, :], grid[None, :, None])  # (R, G, m)
        se = e_rows.sum(axis=-1)[inverse]
        se2 = np.einsum("rgm,rgm->rg", e_rows, e_rows)[inverse]
        sey = np.empty((len(y), len(grid)))
        for r in range(len(rows)):
            sel = inverse == r
            sey[sel] = y[sel] @ e_rows[r].T
    else:
        e, _ = _decay(t[:, None, :], grid[None, :, None])  # (N, G, m)
        se = e.sum(axis=-1)
        se2 = np.einsum("ngm,ngm->ng", e, e)
        sey = np.einsum("ngm,nm->ng", e, y)
    sy = y.sum(axis=-1)[:, None]
    ptp = (a[:, None] * a[None, :] * m
           + (a[:, None] * b[None, :] + b[:, None] * a[None, :]) * se[..., None, None]
           + b[:, None] * b[None, :] * se2[..., None, None])  # (N, G, q, q)
    pty = a * sy[..., None] + b * sey[..., None]  # (N, G, q)
    c = _solve_small(ptp, pty)
    sse = np.sum(y * y, axis=-1)[:, None] - np.einsum("ngi,ngi->ng", c, pty)
    sse = np.where(np.isfinite(sse), sse, np.inf)
    best = np.argmin(sse, axis=1)
    idx = np.arange(len(best))
    return c[idx, best], grid[best]


def _model(t, c, tau, a, b):
    """Signal ``(N, m)`` and Jacobian ``(N, m, q + 1)`` w.r.t. ``(c, T)``."""
    e, de = _decay(t, tau[:, None])
    phi = a + b * e[..., None]  # (N, m, q)
    f = np.einsum("nmi,ni->nm", phi, c)
    d_tau = np.einsum("nm,ni->nm", de, c * b)
    return f, np.concatenate([phi, d_tau[..., None]], axis=-1)


def _lm(t, y, c0, tau0, basis: ExpBasis, *, max_iter: int, xtol: float, ftol: float,
        tau_max: float):
    """Step 2: batched Levenberg–Marquardt from ``(c0, tau0)``."""
    a = np.asarray(basis.offsets, float)
    b = np.asarray(basis.slopes, float)
    n, q = c0.shape
    p = np.concatenate([c0, tau0[:, None]], axis=1)
    lam = np.full(n, 1e-3)
    active = np.isfinite(p).all(axis=1)
    converged = np.zeros(n, bool)
    iterations = np.zeros(n, int)
    f, jac = _model(t, p[:, :q], p[:, q], a, b)
    sse = np.sum((y - f) ** 2, axis=1)
    for _ in range(max_iter):
        if not active.any():
            break
        ia = np.flatnonzero(active)
        ta, ya, pa, ja = t[ia], y[ia], p[ia], jac[ia]
        r = ya - np.einsum("nmk,nk->nm", ja[..., :q], pa[:, :q])
        jtj = np.einsum("nmi,nmj->nij", ja, ja)
        g = np.einsum("nmi,nm->ni", ja, r)
        diag = np.einsum("nii->ni", jtj)
        floor = 1e-12 * diag.mean(axis=1, keepdims=True) + 1e-300
        damp = jtj + (lam[ia, None] * (diag + floor))[..., None] * np.eye(q + 1)
        with np.errstate(invalid="ignore", over="ignore"):
            try:
                step = np.linalg.solve(damp, g[..., None])[..., 0]
            except np.linalg.LinAlgError:  # an exactly singular pixel: batched pseudo-inverse
                step = np.einsum("nij,nj->ni", np.linalg.pinv(damp), g)
            trial = pa + step
            ok_tau = trial[:, q] > 0
            f_new, j_new = _model(ta, trial[:, :q], np.where(ok_tau, trial[:, q], 1.0), a, b)
            sse_new = np.where(ok_tau, np.sum((ya - f_new) ** 2, axis=1), np.inf)
        accept = np.isfinite(sse_new) & (sse_new < sse[ia])
        small = np.all(np.abs(step) <= xtol * (np.abs(pa) + xtol), axis=1)
        iterations[ia] += 1
        upd = ia[accept]
        p[upd] = trial[accept]
        jac[upd] = j_new[accept]
        lam[ia] = np.where(accept, np.maximum(lam[ia] / 10.0, 1e-12), lam[ia] * 10.0)
        flat = accept & (sse[ia] - sse_new <= ftol * sse[ia])  # sse[ia] is still the old one
        sse[upd] = sse_new[accept]
        done = (accept & small) | flat | (lam[ia] > 1e10) | (sse[ia] == 0.0)
        diverged = p[ia, q] > tau_max  # T runs away: no finite minimum
        converged[ia[done & ~diverged]] = True
        active[ia[done | diverged]] = False
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
    t = np.asarray(t, float)
    y = np.asarray(y, float)
    grid = np.asarray(grid, float)
    n = y.shape[0]
    q = basis.size
    out_c = np.full((n, q), np.nan)
    out_tau = np.full(n, np.nan)
    out_sse = np.full(n, np.inf)
    out_conv = np.zeros(n, bool)
    out_it = np.zeros(n, int)
    for s in range(0, n, _CHUNK):
        sl = slice(s, min(n, s + _CHUNK))
        c0, tau0 = _grid_start(t[sl], y[sl], basis, grid)
        c, tau, sse, conv, it = _lm(t[sl], y[sl], c0, tau0, basis, max_iter=max_iter, xtol=xtol,
                                    ftol=ftol, tau_max=100.0 * float(grid.max()))
        out_c[sl], out_tau[sl], out_sse[sl], out_conv[sl], out_it[sl] = c, tau, sse, conv, it
    return ExpFit(out_c, out_tau, out_sse, out_conv, out_it)
