"""Model-based mapping: fit the sequence simulation itself to the weighted images.

The signal model is the full ECG-triggered simulation of :mod:`suite.mr.sequences` (readout
pulses, ramp-up, T2 during the readout, incomplete recovery, the subject's RR intervals), so
on the phantom, where the simulation *is* the acquisition, the fit has no model bias: it is the
bias-free reference against which conventional fits (MOLLI 3-parameter, SASHA, T2 exponentials)
and learned estimators are measured. The idea is that of Bloch-simulation-based MOLLI fitting
(e.g. BLESS / DeepBLESS, PMC7402013) without their slice profile.

Algorithm (vectorised over pixels, no per-pixel Python loop): initialise each pixel from a
coarse log-spaced grid of the fitted relaxation times (closed-form M0 per grid point), then
Levenberg–Marquardt on ``log T`` and M0 with the Jacobian from torch forward-mode automatic
differentiation through the simulation (one forward pass per relaxation parameter).

* Real input images are fitted as magnitudes: model ``m0·|s(T)|`` with real ``m0``.
* Complex input images: model ``m0·s(T)`` with complex ``m0`` (phase of coil and receiver).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.autograd import forward_ad as fwAD

from suite.mr.sequences import Tissue, simulate_epg, torch_threads

__all__ = ["BlochFit", "fit_bloch", "FIT_PARAMETERS"]

#: Relaxation times :func:`fit_bloch` can estimate.
FIT_PARAMETERS = ("t1_ms", "t2_ms")
_GRID = {"t1_ms": np.geomspace(100.0, 3000.0, 36), "t2_ms": np.geomspace(10.0, 400.0, 16)}
_KNOWN = ("t1_ms", "t2_ms", "b1", "off_resonance_hz", "inversion_efficiency")


@dataclass(frozen=True, eq=False)
class BlochFit:
    """Result of :func:`fit_bloch`.

    Attributes
    ----------
    maps : dict
        ``t1_ms``, ``t2_ms`` (float64, ms; the fixed ones are returned as given) and ``m0``
        (float64 for magnitude data, complex128 for complex data), each of the image shape.
    rmse : ndarray
        Root-mean-square residual (signal units).
    failed : ndarray of bool
        Non-finite input, all-zero signal, or no convergence within ``n_iter``.
    options : dict
        Fitted parameters, magnitude/complex model, iterations, EPG states.
    """

    maps: dict
    rmse: np.ndarray
    failed: np.ndarray
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"shape": list(self.failed.shape), "options": dict(self.options),
                "failure_fraction": float(self.failed.mean()) if self.failed.size else 0.0}

    def summary(self) -> str:
        d = self.to_dict()
        return (f"Bloch-model fit of {d['options'].get('fit')} ({d['options'].get('model')}): "
                f"shape {tuple(d['shape'])}, failure fraction {d['failure_fraction']:.3f}")


def _pixels(value, shape, name):
    a = np.asarray(value, dtype=np.float64)
    try:
        return np.array(np.broadcast_to(a, shape).reshape(-1))
    except ValueError:
        raise ValueError(f"fit_bloch: `known[{name!r}]` must broadcast to the image shape "
                         f"{shape}; got {a.shape}") from None


def fit_bloch(sequence, rr_ms, images, *, fit=("t1_ms",), known=None, n_iter: int = 30,
              n_states: int = 1, tol: float = 1e-9, image_matrix=None) -> BlochFit:
    """Fit relaxation times and M0 by matching the simulated acquisition to ``images``.

    Parameters
    ----------
    sequence : MOLLI | SASHA | T2PrepBSSFP | CardiacMRF
        The acquisition description (anything with ``program(rr_ms)``).
    rr_ms : array-like ``(n_beats,)``, ms
        The RR intervals of the acquisition.
    images : ndarray ``(..., n_images)``
        Weighted images at the k-space centre of each acquisition (real → magnitude model,
        complex → complex M0).
    fit : tuple of str
        Relaxation times to estimate, a subset of :data:`FIT_PARAMETERS`.
    known : dict, optional
        Values of the other :class:`~suite.mr.sequences.Tissue` fields, scalars or arrays
        broadcastable to the image shape (``t2_ms`` is required when only T1 is fitted, and
        vice versa); ``b1``, ``off_resonance_hz``, ``inversion_efficiency`` default to 1, 0, 1.
    n_iter : int
        Maximum Levenberg–Marquardt iterations.
    n_states : int
        EPG orders (1 for bSSFP readouts; about 20 for MRF).
    tol : float
        Convergence: relative change of the cost below ``tol`` (or step below ``tol``).
    image_matrix : ndarray ``(n_images, n_samples)``, optional
        Images as linear combinations of the recorded samples (MRF images of consecutive
        repetitions, :func:`suite.mr.sequences.window_matrix`); default one image per sample.

    Returns
    -------
    BlochFit
    """
    fit = tuple(fit)
    if not fit or any(f not in FIT_PARAMETERS for f in fit) or len(set(fit)) != len(fit):
        raise ValueError(f"fit_bloch: `fit` must be a non-empty subset of {FIT_PARAMETERS}; "
                         f"got {fit}")
    known = dict(known or {})
    for f in fit:
        known.pop(f, None)
    missing = [k for k in FIT_PARAMETERS if k not in fit and k not in known]
    if missing:
        raise ValueError(f"fit_bloch: give `known[{missing[0]!r}]` (not fitted)")
    bad = [k for k in known if k not in _KNOWN]
    if bad:
        raise ValueError(f"fit_bloch: unknown `known` entry {bad[0]!r}; expected {_KNOWN}")
    y_np = np.asarray(images)
    is_complex = np.iscomplexobj(y_np)
    shape = y_np.shape[:-1]
    n_img = y_np.shape[-1]
    program = _Windowed(sequence.program(rr_ms), image_matrix)
    if program.n_images != n_img:
        raise ValueError(f"fit_bloch: the sequence records {program.n_images} "
                         f"images for these RR intervals; `images` has {n_img}")
    y = torch.as_tensor(y_np.reshape(-1, n_img)).to(
        torch.complex128 if is_complex else torch.float64)
    fixed = {k: torch.as_tensor(_pixels(v, shape, k)) for k, v in known.items()}
    finite = torch.isfinite(torch.view_as_real(y) if is_complex else y).reshape(y.shape[0], -1).all(1)
    y = torch.where(finite[:, None], y, torch.zeros((), dtype=y.dtype))
    with torch_threads(1):
        theta, m0, cost, converged = _solve(program, y, fixed, fit, is_complex, n_iter,
                                            n_states, tol)
    ynorm = y.abs().pow(2).sum(1)
    failed = ~finite | (ynorm == 0) | ~converged
    maps = {}
    for k in FIT_PARAMETERS:
        v = torch.exp(theta[:, fit.index(k)]) if k in fit else fixed[k]
        maps[k] = np.where(failed.numpy(), np.nan, v.detach().numpy()).reshape(shape)
    m0_np = m0.detach().numpy()
    maps["m0"] = np.where(failed.numpy(), np.nan, m0_np).reshape(shape)
    rmse = np.where(failed.numpy(), np.nan, np.sqrt(cost.numpy() / n_img)).reshape(shape)
    return BlochFit(maps, rmse, failed.numpy().reshape(shape),
                    {"fit": list(fit), "model": "complex" if is_complex else "magnitude",
                     "n_iter": n_iter, "n_states": n_states,
                     "known": sorted(known)})


class _Windowed:
    """A program and the matrix that turns its samples into images (None: identity)."""

    def __init__(self, program, image_matrix):
        self.program = program
        self.matrix = None if image_matrix is None else torch.as_tensor(
            np.asarray(image_matrix, np.float64)).to(torch.complex128)
        n = len(program.timings.time_ms)
        if self.matrix is not None and self.matrix.shape[1] != n:
            raise ValueError(f"fit_bloch: `image_matrix` must have {n} columns (the recorded "
                             f"samples); got shape {tuple(self.matrix.shape)}")
        self.n_images = n if self.matrix is None else int(self.matrix.shape[0])

    def images(self, signal):
        return signal if self.matrix is None else signal @ self.matrix.T


def _signal(program, theta, fixed, fit, n_states):
    p = {k: (torch.exp(theta[:, fit.index(k)]) if k in fit else v) for k, v in fixed.items()}
    for k in fit:
        p[k] = torch.exp(theta[:, fit.index(k)])
    return program.images(simulate_epg(program.program, Tissue(**p), n_states=n_states).signal)


def _basis(s, is_complex):
    return s if is_complex else s.abs()


def _project(g, y):
    """Least-squares M0 for model ``m0·g`` and its cost."""
    num = (g.conj() * y).sum(1) if g.is_complex() else (g * y).sum(1)
    den = g.abs().pow(2).sum(1).clamp_min(1e-300)
    m0 = num / den
    r = y - m0[:, None] * g
    return m0, r.abs().pow(2).sum(1)


def _init(program, y, fixed, fit, is_complex, n_states):
    grids = np.meshgrid(*[np.log(_GRID[k]) for k in fit], indexing="ij")
    cand = torch.as_tensor(np.stack([g.reshape(-1) for g in grids], 1))       # (G, n_fit)
    n, g_n = y.shape[0], cand.shape[0]
    if all(bool((v == v[0]).all()) for v in fixed.values()):
        # the same tissue parameters for every pixel: simulate the grid once
        g = _basis(_signal(program, cand, {k: v[:1].expand(g_n) for k, v in fixed.items()},
                           fit, n_states), is_complex).to(y.dtype)
        ip = (y @ g.conj().T) if is_complex else (y @ g.T)                  # (n, G)
        gg = g.abs().pow(2).sum(1).clamp_min(1e-300)
        cost = y.abs().pow(2).sum(1)[:, None] - ip.abs().pow(2) / gg[None, :]
        return cand[cost.argmin(1)]
    rep = {k: v.repeat_interleave(g_n) for k, v in fixed.items()}
    theta = cand.repeat(n, 1)
    g = _basis(_signal(program, theta, rep, fit, n_states), is_complex)
    _, cost = _project(g, y.repeat_interleave(g_n, 0))
    best = cost.reshape(n, g_n).argmin(1)
    return cand[best]


def _jacobian(program, theta, fixed, fit, is_complex, n_states):
    cols, g = [], None
    for j in range(len(fit)):
        with fwAD.dual_level():
            tangent = torch.zeros_like(theta)
            tangent[:, j] = 1.0
            s = _signal(program, fwAD.make_dual(theta, tangent), fixed, fit, n_states)
            gd = s if is_complex else s.abs()
            primal, tan = fwAD.unpack_dual(gd)
        g = primal
        cols.append(tan)
    return g, torch.stack(cols, -1)                                            # (n, k), (n, k, p)


def _real_ls(a):
    """Stack real and imaginary parts along the sample axis (complex → real least squares)."""
    return torch.cat([a.real, a.imag], 1) if a.is_complex() else a


def _solve(program, y, fixed, fit, is_complex, n_iter, n_states, tol):
    theta = _init(program, y, fixed, fit, is_complex, n_states)
    n = y.shape[0]
    g, dg = _jacobian(program, theta, fixed, fit, is_complex, n_states)
    m0, cost = _project(g, y)
    lam = torch.full((n,), 1e-3, dtype=torch.float64)
    converged = torch.zeros(n, dtype=torch.bool)
    for _ in range(n_iter):
        # Jacobian of the model m0·g(θ) w.r.t. (θ, m0) (complex m0: real and imaginary parts)
        cols = [m0[:, None, None] * dg, g[..., None]]
        if is_complex:
            cols.append(1j * g[..., None])
        jac = torch.cat(cols, -1)
        r = y - m0[:, None] * g
        jr = _real_ls(jac)
        rr = _real_ls(r)
        jtj = jr.transpose(1, 2) @ jr
        jtr = (jr.transpose(1, 2) @ rr[..., None])[..., 0]
        damp = lam[:, None, None] * torch.diag_embed(torch.diagonal(jtj, dim1=1, dim2=2) + 1e-12)
        step = torch.linalg.solve(jtj + damp, jtr)
        step = torch.where(converged[:, None], 0.0, step)
        k = len(fit)
        theta_new = theta + step[:, :k].clamp(-1.0, 1.0)
        g_new, dg_new = _jacobian(program, theta_new, fixed, fit, is_complex, n_states)
        m0_new, cost_new = _project(g_new, y)
        better = (cost_new <= cost) & ~converged
        small = (cost - cost_new).abs() <= tol * cost.clamp_min(1e-300)
        small = small | (step[:, :k].abs().max(1).values < tol) | (cost_new < 1e-28)
        theta = torch.where(better[:, None], theta_new, theta)
        g = torch.where(better[:, None], g_new, g)
        dg = torch.where(better[:, None, None], dg_new, dg)
        m0 = torch.where(better, m0_new, m0)
        cost = torch.where(better, cost_new, cost)
        lam = torch.where(better, lam * 0.3, lam * 10.0).clamp(1e-12, 1e12)
        converged = converged | (better & small) | (lam >= 1e12)
        if bool(converged.all()):
            break
    return theta, m0, cost, converged | (cost < 1e-20)
