"""The multi-coil SENSE operator: one implementation for phantom, recon and attacks.

For one slice with frames ``F``, coils ``C`` and matrix ``(ny, nx)``::

    forward  A x = M · F(S · x)          x: (..., frame, y, x)      → (..., frame, coil, ky, kx)
    adjoint  A^H y = sum_c conj(S_c) · F^H(M · y)                    → (..., frame, y, x)

with ``F`` the centred orthonormal FFT (:mod:`suite.mr.fft`), ``S`` coil maps
``(..., coil, y, x)`` and ``M`` a boolean mask broadcastable to ``(..., frame, coil, ky, kx)``.
Leading ``...`` axes (e.g. slice) broadcast. Matches the ``sens_expand`` / ``sens_reduce`` pair of
fastMRI ``fastmri/models/varnet.py`` with the mask applied, and sigpy's ``M·F·S`` (Pruessmann et
al., MRM 1999, doi 10.1002/(SICI)1522-2594(199911)42:5<952::AID-MRM16>3.0.CO;2-S).
"""

from __future__ import annotations

import torch

from suite.mr.fft import fft2c, ifft2c

__all__ = ["SenseOperator", "sense_forward", "sense_adjoint"]


def sense_forward(image: torch.Tensor, coil_maps: torch.Tensor, mask: torch.Tensor | None):
    """``M F S x``: image ``(..., frame, y, x)`` → k-space ``(..., frame, coil, ky, kx)``.

    ``coil_maps`` is ``(..., coil, y, x)`` (no frame axis: maps are static over the cycle).
    """
    coil_images = coil_maps.unsqueeze(-4) * image.unsqueeze(-3)
    k = fft2c(coil_images)
    return k if mask is None else k * mask


def sense_adjoint(kspace: torch.Tensor, coil_maps: torch.Tensor, mask: torch.Tensor | None):
    """``S^H F^H M y``: k-space ``(..., frame, coil, ky, kx)`` → image ``(..., frame, y, x)``."""
    if mask is not None:
        kspace = kspace * mask
    return (coil_maps.conj().unsqueeze(-4) * ifft2c(kspace)).sum(dim=-3)


class SenseOperator:
    """Linear SENSE operator bound to coil maps and a sampling mask.

    Parameters
    ----------
    coil_maps : torch.Tensor, complex, ``(..., coil, y, x)``
    mask : torch.Tensor, bool or float, broadcastable to ``(..., frame, coil, ky, kx)``, or None
        for full sampling.

    Examples
    --------
    >>> import torch
    >>> maps = torch.ones(1, 4, 4, dtype=torch.complex64)
    >>> op = SenseOperator(maps, None)
    >>> x = torch.ones(2, 4, 4, dtype=torch.complex64)
    >>> torch.allclose(op.adjoint(op.forward(x)), x)
    True
    """

    def __init__(self, coil_maps: torch.Tensor, mask: torch.Tensor | None = None):
        self.coil_maps = coil_maps
        if mask is not None and mask.dtype == torch.bool:
            mask = mask.to(coil_maps.real.dtype)
        self.mask = mask

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return sense_forward(image, self.coil_maps, self.mask)

    def adjoint(self, kspace: torch.Tensor) -> torch.Tensor:
        return sense_adjoint(kspace, self.coil_maps, self.mask)

    def normal(self, image: torch.Tensor) -> torch.Tensor:
        """``A^H A x`` (the mask is idempotent, so it is applied once)."""
        return sense_adjoint(sense_forward(image, self.coil_maps, self.mask), self.coil_maps, None)

    __call__ = forward
