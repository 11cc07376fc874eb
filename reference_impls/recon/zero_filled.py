"""Zero-filled reconstruction: the adjoint of the sampling, then coil combination."""

from __future__ import annotations

import numpy as np
import torch

from reference_impls.registry import register
from suite.mr import combine_coils, ifft2c

__all__ = ["ZeroFilled"]


def _safe_rss(coil_images: torch.Tensor, dim: int) -> torch.Tensor:
    """Root-sum-of-squares with a finite gradient where all coils are exactly zero.

    Same values as :func:`suite.mr.rss`; ``sqrt`` has an infinite derivative at 0, so pixels
    whose coil values are all zero are given the value 0 and gradient 0 (a subgradient).
    """
    sq = (coil_images.real**2 + coil_images.imag**2).sum(dim=dim)
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))


@register("recon", "zero-filled")
class ZeroFilled:
    """Zero-filled inverse FFT of the acquired k-space, combined over coils.

    ``method(case)`` returns complex64 images ``(slice, frame, y, x)``: with ``case.coil_maps``
    the sensitivity-weighted combination (SENSE adjoint, Roemer), otherwise the RSS magnitude
    (real-valued, returned as complex64 with zero phase). No scaling for the acceleration is
    applied (the k-space of unsampled lines is simply zero), as fastMRI's zero-filled baseline.
    """

    name = "zero-filled"
    version = "1.1"  # 1.1: centred FFT by sign modulation (same map, rounding)
    stage = "recon"
    #: each slice is reconstructed from its own k-space and coil maps (``split: slice``)
    slice_separable = True

    def params(self) -> dict:
        return {}

    def reconstruct(self, kspace: torch.Tensor, mask: torch.Tensor,
                    coil_maps: torch.Tensor | None = None) -> torch.Tensor:
        """Differentiable zero-filled reconstruction on tensors (white-box access).

        Parameters
        ----------
        kspace : complex ``(slice, frame, coil, ky, kx)``
        mask : bool or float, broadcastable to ``kspace``
        coil_maps : complex ``(slice, coil, y, x)`` or None
            With maps: Roemer combination ``Σ conj(S_c) x_c / Σ |S_c|²``; None: RSS (as
            ``__call__`` without ``case.coil_maps``).

        Returns
        -------
        Tensor, complex ``(slice, frame, y, x)`` (zero phase for RSS). Linear in ``kspace``
        with maps; with RSS differentiable wherever some coil value is non-zero.
        """
        if mask.dtype == torch.bool:
            mask = mask.to(kspace.real.dtype)
        coil_images = ifft2c(kspace * mask)  # (slice, frame, coil, y, x)
        if coil_maps is not None:
            return combine_coils(coil_images, coil_maps.unsqueeze(1), dim=2)
        return _safe_rss(coil_images, dim=2).to(kspace.dtype)

    def __call__(self, case) -> np.ndarray:
        k = torch.from_numpy(np.ascontiguousarray(case.kspace))
        m = torch.from_numpy(np.ascontiguousarray(case.mask))
        maps = None if case.coil_maps is None else torch.from_numpy(
            np.ascontiguousarray(case.coil_maps))
        with torch.no_grad():
            out = self.reconstruct(k, m, maps)
        return out.numpy().astype(np.complex64)
