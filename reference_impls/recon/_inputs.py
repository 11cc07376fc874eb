"""Shared input preparation for SENSE-type reconstructions (one place, used by every method)."""

from __future__ import annotations

import numpy as np
import torch

from reference_impls.recon.coil_maps import estimate_coil_maps
from suite.mr import intra_op_threads

__all__ = ["sense_inputs", "slice_mask", "SenseCallMixin"]


def sense_inputs(case, maps_method: str = "espirit"):
    """Tensors ``(kspace, mask, coil_maps)`` of a Case and the coil-map estimator used.

    ``kspace`` complex64 ``(slice, frame, coil, ky, kx)``; ``mask`` float32 broadcastable to it;
    ``coil_maps`` complex64 ``(slice, coil, ky, kx)`` (given, or estimated from the ACS).
    """
    maps, used = estimate_coil_maps(case, maps_method)
    k = torch.from_numpy(np.ascontiguousarray(case.kspace))
    m = torch.from_numpy(np.ascontiguousarray(case.mask)).to(torch.float32)
    return k, m, torch.from_numpy(np.ascontiguousarray(maps)), used


def slice_mask(mask: torch.Tensor, s: int) -> torch.Tensor:
    """The mask of slice ``s``: ``(frame|1, coil|1, ky, kx|1)`` (shared masks broadcast)."""
    return mask[s] if mask.shape[0] > 1 else mask[0]


class SenseCallMixin:
    """``method(case)`` for SENSE-type methods: one implementation of the stage call.

    The class provides ``maps`` (the coil-map estimator name) and the differentiable
    ``reconstruct(kspace, mask, coil_maps) -> Tensor`` (white-box access for adversarial
    tests, :mod:`suite.robustness.recon_attacks`); the call prepares the tensors with
    :func:`sense_inputs`, runs ``reconstruct`` in inference mode (no autograd graph) with the
    solvers' intra-op threads (:func:`suite.mr.intra_op_threads`) and returns complex64
    ``(slice, frame, y, x)``. ``last_info`` keeps what ``reconstruct`` recorded plus the coil-map
    estimator used.
    """

    maps: str = "espirit"
    last_info: dict

    def __call__(self, case) -> np.ndarray:
        with intra_op_threads(), torch.inference_mode():
            k, m, maps, used = sense_inputs(case, self.maps)
            self.last_info = {}
            x = self.reconstruct(k, m, maps)
        self.last_info = {**(self.last_info or {}), "coil_maps": used}
        return x.numpy().astype(np.complex64)
