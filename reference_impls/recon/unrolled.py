"""Unrolled reconstruction network for cine: data consistency alternating with a (2+1)-D CNN.

Architecture (in the line of Schlemper et al., "A deep cascade of convolutional neural networks
for dynamic MR image reconstruction", IEEE TMI 37:491–503, 2018, and Küstner et al., CINENet,
Sci Rep 10:13710, 2020, which separates spatial and temporal convolutions):

    x₀ = A^H y / s                      (s = max |A^H y|: intensity normalisation)
    for k in 1..K:
        x ← x + R_k(x)                  (residual CNN on [Re, Im] channels over (frame, y, x))
        x ← x − η_k A^H(A x − y/s)      (gradient data-consistency step, learnable η_k ≥ 0)
    output s · x

``R_k``: ``depth`` blocks of a spatial ``3×3`` convolution (per frame) then a temporal
3-tap convolution (per pixel, circular padding: cine is periodic), ReLU between blocks,
``features`` channels.
``A`` is the shared SENSE operator (:mod:`suite.mr.sense`) with coil maps from ESPIRiT (or
given). The network is small enough to train on the phantom on 2 CPU cores in minutes
(:mod:`reference_impls.recon.training`).

Weights ship in ``reference_impls/weights/<name>.pt`` with a JSON record (SHA-256, training
command, seed, data, final loss); they are loaded with ``torch.load(..., weights_only=True)``
after the hash is verified.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from reference_impls.recon._inputs import SenseCallMixin, slice_mask
from reference_impls.registry import register
from reference_impls.weights_io import WEIGHTS_DIR, WeightsError, load_verified_state
from suite.mr import SenseOperator

__all__ = ["CineUnrolledNet", "Unrolled", "UnrolledSSDU", "WEIGHTS_DIR", "load_weights",
           "WeightsError"]

class _SpatioTemporalBlock(nn.Module):
    """A spatial 3×3 convolution per frame followed by a temporal 3-tap convolution per pixel.

    Equivalent to Conv3d kernels ``1×3×3`` then ``3×1×1`` with circular padding in time. The
    temporal convolution is computed as a 1×1 Conv2d over the channels of the previous, current
    and next frame (frames rolled circularly), which CPU backends run much faster than Conv3d.
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.spatial = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temporal = nn.Conv2d(3 * c_out, c_out, 1)

    def forward(self, x):
        """``x`` real ``(frame, channel, y, x)`` → ``(frame, channel_out, y, x)``."""
        h = self.spatial(x)
        stacked = torch.cat([torch.roll(h, 1, dims=0), h, torch.roll(h, -1, dims=0)], dim=1)
        return self.temporal(stacked)


class _Regulariser(nn.Module):
    def __init__(self, features: int, depth: int):
        super().__init__()
        layers: list[nn.Module] = [_SpatioTemporalBlock(2, features), nn.ReLU()]
        for _ in range(depth - 2):
            layers += [_SpatioTemporalBlock(features, features), nn.ReLU()]
        layers += [_SpatioTemporalBlock(features, 2)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` complex ``(frame, y, x)`` → residual of the same shape."""
        v = torch.view_as_real(x).permute(0, 3, 1, 2).to(torch.float32)  # (F, 2, Y, X)
        out = self.net(v).permute(0, 2, 3, 1).contiguous()
        return torch.view_as_complex(out).to(x.dtype)


class CineUnrolledNet(nn.Module):
    """The unrolled network (module docstring). Parameters: ``cascades``, ``features``, ``depth``."""

    def __init__(self, cascades: int = 5, features: int = 16, depth: int = 3):
        super().__init__()
        self.config = {"cascades": cascades, "features": features, "depth": depth}
        self.regularisers = nn.ModuleList(_Regulariser(features, depth) for _ in range(cascades))
        self.step = nn.Parameter(torch.ones(cascades))

    def forward(self, kspace: torch.Tensor, mask: torch.Tensor, coil_maps: torch.Tensor):
        """One slice: ``kspace`` complex ``(frame, coil, ky, kx)``, ``mask`` broadcastable to it,
        ``coil_maps`` complex ``(coil, y, x)`` → complex image ``(frame, y, x)``."""
        op = SenseOperator(coil_maps, mask)
        y = kspace * mask
        x = op.adjoint(y)
        # Detached on purpose. With it attached, k-space PGD on this network finds the trivial
        # direction that raises max|A^H y| and rescales the whole image (+16 % intensity at
        # eps = 0.02 on a test slice) without degrading its structure (NMSE to the reference even
        # falls); detached, the gradient attacks the cascades (docs/robustness.md).
        scale = x.abs().max().detach().clamp_min(1e-12)
        x = x / scale
        aty = x  # A^H y / s
        for reg, eta in zip(self.regularisers, self.step):
            x = x + reg(x)
            # A^H (A x − y/s) = A^H A x − A^H y / s: the normal operator (one FFT pair along
            # ky for line masks) instead of A and A^H
            x = x - torch.relu(eta) * (op.normal(x) - aty)
        return x * scale


def load_weights(name: str, weights_dir: Path | None = None) -> tuple[CineUnrolledNet, dict]:
    """Load ``<name>.pt`` after verifying its SHA-256 against ``<name>.json``.

    Raises
    ------
    WeightsError
        Missing files (with the command that makes them) or a hash mismatch.
    """
    state, meta = load_verified_state(name, weights_dir)
    net = CineUnrolledNet(**meta["config"])
    net.load_state_dict(state)
    net.eval()
    return net, meta


class _UnrolledMethod(SenseCallMixin):
    stage = "recon"
    version = "1.1"  # 1.1: data consistency through the normal operator (same map, rounding)
    #: each slice is reconstructed from its own k-space and coil maps (``split: slice``)
    slice_separable = True
    weights_name = ""

    def __init__(self, weights_dir: str | None = None, maps: str = "espirit",
                 module: CineUnrolledNet | None = None):
        if module is None:
            module, self.weights_meta = load_weights(self.weights_name, weights_dir)
        else:
            self.weights_meta = {"sha256": None, "config": module.config}
        self.module = module
        self.maps = maps
        self.last_info: dict = {}

    def params(self) -> dict:
        return {"weights_sha256": self.weights_meta.get("sha256"), "maps": self.maps,
                **self.module.config}

    def reconstruct(self, kspace, mask, coil_maps) -> torch.Tensor:
        """Differentiable call on tensors (white-box access for adversarial tests).

        ``kspace`` ``(slice, frame, coil, ky, kx)``, ``mask`` broadcastable, ``coil_maps``
        ``(slice, coil, y, x)`` → ``(slice, frame, y, x)``.
        """
        return torch.stack([
            self.module(kspace[s], slice_mask(mask, s), coil_maps[s])
            for s in range(kspace.shape[0])
        ])



@register("recon", "unrolled")
class Unrolled(_UnrolledMethod):
    """Unrolled network trained with supervision (fully sampled phantom targets)."""

    name = "unrolled"
    weights_name = "recon-unrolled"


@register("recon", "unrolled-ssdu")
class UnrolledSSDU(_UnrolledMethod):
    """The same network trained self-supervised from undersampled data only (SSDU)."""

    name = "unrolled-ssdu"
    weights_name = "recon-unrolled-ssdu"
