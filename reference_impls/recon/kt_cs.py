"""k-t compressed sensing for cine: spatial total variation + temporal sparsity, solved by PDHG.

Per slice, with images ``x`` of shape ``(frame, y, x)`` and the SENSE operator ``A``
(:class:`suite.mr.SenseOperator`):

    min_x  ½ ||A x − y||²  +  λ_s ||∇_s x||_{2,1}  +  λ_t ||T x||_1

* ``∇_s``: forward differences along y and x with Neumann boundaries; isotropic complex TV
  (Rudin, Osher & Fatemi 1992);
* ``T``: temporal sparsity transform, either periodic temporal forward differences
  (``temporal="tv"``, cine is periodic) or the unitary temporal Fourier transform
  (``temporal="fourier"``, the x-f sparsity of k-t SPARSE, Lustig et al., MRM 2006);
* solver: primal-dual hybrid gradient (Chambolle & Pock, J Math Imaging Vis 40:120–145, 2011,
  Algorithm 1 with θ = 1), step sizes ``τ = σ = 0.99 / L`` with ``L² = 1 + 8 + ||T||²``
  (||A|| ≤ 1 for maps with Σ|S|² ≤ 1, ||∇_s||² ≤ 8, ||T||² ≤ 4 for differences, 1 for Fourier),
  which satisfies the convergence condition τσL² < 1;
* stopping rule: ``max_iter`` iterations or relative change ``||x_k − x_{k−1}|| ≤ tol ||x_k||``;
* scaling: the data are divided by ``max |A^H y|`` before solving and the result multiplied
  back, so λ_s and λ_t are relative to that maximum (dimensionless).

All operations are torch, so the output is differentiable with respect to the k-space.
"""

from __future__ import annotations

import math

import torch

from reference_impls.recon._inputs import SenseCallMixin, slice_mask
from reference_impls.registry import register
from suite.mr import SenseOperator

__all__ = ["grad_s", "grad_s_adjoint", "kt_cs_pdhg", "KtCS"]


def grad_s(x: torch.Tensor) -> torch.Tensor:
    """Spatial forward differences ``(..., y, x) → (2, ..., y, x)``, zero at the far boundary."""
    gy = torch.zeros_like(x)
    gx = torch.zeros_like(x)
    gy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    gx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack([gy, gx])


def grad_s_adjoint(g: torch.Tensor) -> torch.Tensor:
    """Adjoint of :func:`grad_s` (minus the divergence)."""
    gy, gx = g[0], g[1]
    out = torch.zeros_like(gy)
    out[..., :-1, :] -= gy[..., :-1, :]
    out[..., 1:, :] += gy[..., :-1, :]
    out[..., :, :-1] -= gx[..., :, :-1]
    out[..., :, 1:] += gx[..., :, :-1]
    return out


def _temporal(kind: str):
    if kind == "tv":
        fwd = lambda x: torch.roll(x, -1, dims=-3) - x  # noqa: E731  periodic over frames
        adj = lambda r: torch.roll(r, 1, dims=-3) - r  # noqa: E731
        return fwd, adj, 4.0
    if kind == "fourier":
        fwd = lambda x: torch.fft.fft(x, dim=-3, norm="ortho")  # noqa: E731
        adj = lambda r: torch.fft.ifft(r, dim=-3, norm="ortho")  # noqa: E731
        return fwd, adj, 1.0
    raise ValueError(f"kt-cs: temporal must be 'tv' or 'fourier'; got {kind!r}")


def _project(v: torch.Tensor, radius: float, dim=None) -> torch.Tensor:
    """Project onto the ball of ``radius`` in complex magnitude (pointwise, or grouped over dim)."""
    sq = v.real**2 + v.imag**2
    if dim is not None:
        sq = sq.sum(dim=dim, keepdim=True)
    mag = torch.sqrt(sq + 1e-30)  # smooth at 0: |z|'s gradient is undefined there (NaN)
    return v / torch.clamp(mag / radius, min=1.0)


def kt_cs_pdhg(op: SenseOperator, y: torch.Tensor, lam_s: float, lam_t: float,
               temporal: str = "tv", max_iter: int = 100, tol: float = 1e-4):
    """Solve the k-t CS problem of the module docstring for one slice.

    Parameters
    ----------
    op : SenseOperator for this slice (maps ``(coil, y, x)``, mask ``(frame|1, coil|1, ky, kx|1)``)
    y : complex ``(frame, coil, ky, kx)`` acquired k-space (zeros where not sampled)

    Returns
    -------
    (x complex ``(frame, y, x)``, iterations run)
    """
    t_fwd, t_adj, t_norm2 = _temporal(temporal)
    aty = op.adjoint(y)
    scale = aty.abs().max()  # not detached: the map y -> x is differentiated exactly
    if scale == 0:
        return torch.zeros_like(aty), 0
    y = y / scale
    tau = sigma = 0.99 / math.sqrt(1.0 + 8.0 + t_norm2)
    x = op.adjoint(y)
    xbar = x
    p = torch.zeros_like(y)
    q = torch.zeros_like(grad_s(x))
    r = torch.zeros_like(x)
    it = 0
    for it in range(1, max_iter + 1):
        p = (p + sigma * (op.forward(xbar) - y)) / (1.0 + sigma)
        q = _project(q + sigma * grad_s(xbar), lam_s, dim=0)
        r = _project(r + sigma * t_fwd(xbar), lam_t)
        x_new = x - tau * (op.adjoint(p) + grad_s_adjoint(q) + t_adj(r))
        xbar = 2 * x_new - x
        change = torch.linalg.vector_norm(x_new - x) / (torch.linalg.vector_norm(x_new) + 1e-30)
        x = x_new
        if change.detach() <= tol:
            break
    return x * scale, it


@register("recon", "kt-cs")
class KtCS(SenseCallMixin):
    """k-t compressed sensing (spatial TV + temporal TV or Fourier L1) by PDHG.

    Parameters
    ----------
    lam_s, lam_t : float
        Spatial and temporal weights, relative to ``max |A^H y|`` (see module docstring).
    temporal : {"tv", "fourier"}
    max_iter, tol : stopping rule.
    maps : {"espirit", "lowres"}
        Coil-map estimator when ``case.coil_maps`` is not given.
    """

    name = "kt-cs"
    version = "1.0"
    stage = "recon"

    def __init__(self, lam_s: float = 0.002, lam_t: float = 0.01, temporal: str = "tv",
                 max_iter: int = 100, tol: float = 1e-4, maps: str = "espirit"):
        _temporal(temporal)
        self.lam_s, self.lam_t, self.temporal = float(lam_s), float(lam_t), temporal
        self.max_iter, self.tol, self.maps = int(max_iter), float(tol), maps
        self.last_info: dict = {}

    def params(self) -> dict:
        return {"lam_s": self.lam_s, "lam_t": self.lam_t, "temporal": self.temporal,
                "max_iter": self.max_iter, "tol": self.tol, "maps": self.maps}

    def reconstruct(self, kspace: torch.Tensor, mask: torch.Tensor,
                    coil_maps: torch.Tensor) -> torch.Tensor:
        """Differentiable k-t CS on tensors (white-box access for adversarial tests).

        ``kspace`` complex ``(slice, frame, coil, ky, kx)``, ``mask`` bool/float broadcastable
        (applied inside), ``coil_maps`` complex ``(slice, coil, y, x)`` held fixed →
        complex ``(slice, frame, y, x)``. Autograd flows through every PDHG iteration run,
        including the data scaling ``max |A^H y|`` (differentiable almost everywhere).
        """
        if mask.dtype == torch.bool:
            mask = mask.to(kspace.real.dtype)
        outs, iters = [], []
        for s in range(kspace.shape[0]):
            op = SenseOperator(coil_maps[s], slice_mask(mask, s))
            x, it = kt_cs_pdhg(op, kspace[s] * slice_mask(mask, s), self.lam_s, self.lam_t,
                               self.temporal, self.max_iter, self.tol)
            outs.append(x)
            iters.append(it)
        self.last_info = {"iterations": iters}
        return torch.stack(outs)

