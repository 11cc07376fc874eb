"""Low-rank plus sparse (L+S) reconstruction of dynamic MRI (Otazo, Candès & Sodickson,
MRM 73:1125–1136, 2015, doi 10.1002/mrm.25240).

Per slice, the Casorati matrix ``M`` (pixels × frames) is decomposed as ``L + S`` with ``L``
low rank (background, slow changes) and ``S`` sparse in the temporal Fourier domain ``T``
(the moving heart):

    min_{L,S} ½ ||E(L + S) − d||² + λ_L ||L||_* + λ_S ||T S||_1

solved by the iteration of the paper (proximal gradient on the joint variable):

    L_k = SVT(M_{k−1} − S_{k−1}; λ_L · σ_1(M_{k−1} − S_{k−1}))
    S_k = T^H Λ(T(M_{k−1} − L_{k−1}); λ_S)
    M_k = L_k + S_k − E^H(E(L_k + S_k) − d)

with ``SVT`` soft-thresholding of singular values (threshold relative to the largest one, as
in the paper's implementation) and ``Λ`` complex soft-thresholding. Data are divided by
``max |E^H d|`` first, so λ_S is relative to it. Stopping rule: ``max_iter`` or
``||X_k − X_{k−1}|| ≤ tol ||X_{k−1}||`` with ``X = L + S`` (the paper monitors ``M``, which
stops at once when E is unitary: M then never changes). Unit step is valid because ``||E|| ≤ 1``
(orthonormal FFT, maps with Σ|S|² ≤ 1). Differentiable with torch autograd (SVD included,
away from repeated singular values).
"""

from __future__ import annotations

import torch

from reference_impls.recon._inputs import SenseCallMixin, slice_mask
from reference_impls.registry import register
from suite.mr import SenseOperator

__all__ = ["soft_threshold", "singular_value_threshold", "lowrank_sparse", "LowRankSparse"]


def soft_threshold(v: torch.Tensor, thresh: float) -> torch.Tensor:
    """Complex soft-thresholding ``v · max(|v| − t, 0) / |v|``."""
    mag = torch.sqrt(v.real**2 + v.imag**2 + 1e-30)  # smooth at 0 for autograd
    return v * torch.clamp(mag - thresh, min=0.0) / mag


def singular_value_threshold(casorati: torch.Tensor, rel_thresh: float) -> torch.Tensor:
    """Soft-threshold the singular values of ``(pixels, frames)`` at ``rel_thresh · σ_1``.

    For a tall matrix ``C`` (pixels ≥ frames, as every Casorati matrix of a cine slice) the
    thresholded matrix is ``C W`` with the frames × frames matrix
    ``W = V diag(max(σ − t, 0) / σ) V^H`` from the eigen-decomposition of the Gram matrix
    ``C^H C = V diag(σ²) V^H`` (computed in double precision), so no pixel-sized singular
    vectors are formed: ``P·F²`` work instead of a full SVD. Singular values below the
    threshold, whose precision the Gram matrix halves, are set to zero anyway. Wide matrices
    use ``torch.linalg.svd``.
    """
    n_rows, n_cols = casorati.shape[-2:]
    if n_rows < n_cols:
        u, s, vh = torch.linalg.svd(casorati, full_matrices=False)
        s_t = torch.clamp(s - rel_thresh * s[0], min=0.0)
        return (u * s_t.to(u.dtype)) @ vh
    wide = torch.complex128 if casorati.is_complex() else torch.float64
    c64 = casorati.to(wide)
    evals, v = torch.linalg.eigh(c64.mH @ c64)  # ascending σ²
    sv = torch.sqrt(torch.clamp(evals, min=0.0))
    shrink = torch.clamp(sv - rel_thresh * sv[-1], min=0.0) / torch.clamp(sv, min=1e-300)
    w = (v * shrink.to(v.dtype)) @ v.mH
    return casorati @ w.to(casorati.dtype)


def lowrank_sparse(op: SenseOperator, d: torch.Tensor, lam_l: float, lam_s: float,
                   max_iter: int = 50, tol: float = 2.5e-3):
    """L+S for one slice: ``d`` complex ``(frame, coil, ky, kx)`` → ``(L + S, L, S, iterations)``
    with images ``(frame, y, x)``."""
    ahd = op.adjoint(d)
    scale = ahd.abs().max()  # not detached: the map d -> x is differentiated exactly
    if scale == 0:
        z = torch.zeros_like(ahd)
        return z, z, z, 0
    ahd = ahd / scale
    m = ahd
    nf, ny, nx = m.shape
    s = torch.zeros_like(m)
    l_prev = m
    x_prev = m
    it = 0
    for it in range(1, max_iter + 1):
        cas = (m - s).reshape(nf, -1).T  # (pixels, frames)
        low = singular_value_threshold(cas, lam_l).T.reshape(nf, ny, nx)
        s = torch.fft.ifft(soft_threshold(torch.fft.fft(m - l_prev, dim=0, norm="ortho"), lam_s),
                           dim=0, norm="ortho")
        l_prev = low
        x = low + s
        m = x - (op.normal(x) - ahd)  # E^H (E x − d) with the normal operator
        change = _norm(x - x_prev) / (_norm(x_prev) + 1e-30)
        x_prev = x
        if change.detach() <= tol:
            break
    return (l_prev + s) * scale, l_prev * scale, s * scale, it


def _norm(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of a complex tensor without materialising ``|x|``."""
    return torch.linalg.vector_norm(torch.view_as_real(x) if x.is_complex() else x)


@register("recon", "lowrank-sparse")
class LowRankSparse(SenseCallMixin):
    """L+S reconstruction (Otazo 2015) with ESPIRiT maps unless the Case provides maps.

    Parameters
    ----------
    lam_l : float
        Singular-value threshold relative to the largest singular value.
    lam_s : float
        Temporal-Fourier soft threshold relative to ``max |E^H d|``.
    """

    name = "lowrank-sparse"
    version = "1.1"  # 1.1: SVT from the Gram matrix, normal operator (same map, rounding)
    stage = "recon"
    #: each slice is reconstructed from its own k-space and coil maps (``split: slice``)
    slice_separable = True

    def __init__(self, lam_l: float = 0.01, lam_s: float = 0.01, max_iter: int = 50,
                 tol: float = 2.5e-3, maps: str = "espirit"):
        self.lam_l, self.lam_s = float(lam_l), float(lam_s)
        self.max_iter, self.tol, self.maps = int(max_iter), float(tol), maps
        self.last_info: dict = {}

    def params(self) -> dict:
        return {"lam_l": self.lam_l, "lam_s": self.lam_s, "max_iter": self.max_iter,
                "tol": self.tol, "maps": self.maps}

    def reconstruct(self, kspace: torch.Tensor, mask: torch.Tensor,
                    coil_maps: torch.Tensor) -> torch.Tensor:
        """Differentiable L+S on tensors (white-box access for adversarial tests).

        ``kspace`` complex ``(slice, frame, coil, ky, kx)``, ``mask`` bool/float broadcastable
        (applied inside), ``coil_maps`` complex ``(slice, coil, y, x)`` held fixed →
        complex ``(slice, frame, y, x)``. Autograd flows through every iteration run, the SVD
        included (its backward is finite only for distinct singular values, which noisy data
        have) and the relative thresholds ``λ_L σ_1`` and ``max |E^H d|``.
        """
        if mask.dtype == torch.bool:
            mask = mask.to(kspace.real.dtype)
        outs, iters = [], []
        for s in range(kspace.shape[0]):
            op = SenseOperator(coil_maps[s], slice_mask(mask, s))
            x, _, _, it = lowrank_sparse(op, kspace[s] * slice_mask(mask, s), self.lam_l,
                                         self.lam_s, self.max_iter, self.tol)
            outs.append(x)
            iters.append(it)
        self.last_info = {"iterations": iters}
        return torch.stack(outs)

