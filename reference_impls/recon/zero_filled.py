"""Zero-filled reconstruction: the adjoint of the sampling, then coil combination."""

from __future__ import annotations

import numpy as np
import torch

from reference_impls.registry import register
from suite.mr import combine_coils, ifft2c, rss


@register("recon", "zero-filled")
class ZeroFilled:
    """Zero-filled inverse FFT of the acquired k-space, combined over coils.

    ``method(case)`` returns complex64 images ``(slice, frame, y, x)``: with ``case.coil_maps``
    the sensitivity-weighted combination (SENSE adjoint, Roemer), otherwise the RSS magnitude
    (real-valued, returned as complex64 with zero phase). No scaling for the acceleration is
    applied (the k-space of unsampled lines is simply zero), as fastMRI's zero-filled baseline.
    """

    name = "zero-filled"
    version = "1.0"
    stage = "recon"

    def params(self) -> dict:
        return {}

    def __call__(self, case) -> np.ndarray:
        k = torch.from_numpy(case.kspace) * torch.from_numpy(
            np.broadcast_to(case.mask, case.kspace.shape).copy()
        )
        coil_images = ifft2c(k)  # (slice, frame, coil, y, x)
        if case.coil_maps is not None:
            maps = torch.from_numpy(case.coil_maps).unsqueeze(1)  # (slice, 1, coil, y, x)
            out = combine_coils(coil_images, maps, dim=2)
        else:
            out = rss(coil_images, dim=2).to(torch.complex64)
        return out.numpy().astype(np.complex64)
