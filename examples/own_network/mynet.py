"""A small reconstruction network of your own, evaluated by cmrsuite (docs/evaluate-your-network.md).

``TinyRefiner`` refines the zero-filled root-sum-of-squares image of each frame with a
three-layer residual CNN. It is a cmrsuite *plugin*: a class with ``name``, ``version`` and
``stage``, called as ``method(case)`` and returning ``(slice, frame, y, x)`` images. Because it
also offers ``reconstruct(kspace, mask, coil_maps) -> torch.Tensor`` built from torch
operations, the robustness experiments attack it white-box. It works for any number of coils,
one included (a single-coil network evaluated through ``virtual_coils: 1``).

Nothing here downloads anything: :func:`train` fits the weights on the suite's own phantom in
seconds, and the weights are loaded with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from suite.mr import ifft2c


class _Net(torch.nn.Module):
    def __init__(self, width: int = 16):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(1, width, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(width, width, 3, padding=1), torch.nn.ReLU(),
            torch.nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, x):  # x: (n, 1, y, x), scaled to unit maximum per image
        return x + self.body(x)


def zero_filled_rss(kspace: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(slice, frame, coil, ky, kx)`` → RSS magnitude ``(slice, frame, y, x)``, differentiable
    (an epsilon keeps the square root's gradient finite where every coil is zero)."""
    coil = ifft2c(kspace * mask)
    return torch.sqrt((coil.real ** 2 + coil.imag ** 2).sum(dim=2) + 1e-20)


class TinyRefiner:
    """Zero-filled RSS refined by a residual CNN (module docstring)."""

    name = "tiny-refiner"
    version = "1.0"
    stage = "recon"

    def __init__(self, weights: str | None = None):
        self.weights = weights
        self.net = _Net()
        if weights is not None:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.net.load_state_dict(state)
        self.net.eval()

    def params(self) -> dict:
        """Recorded with every result: the weights file and its SHA-256."""
        if self.weights is None:
            return {"weights": None}
        digest = hashlib.sha256(Path(self.weights).read_bytes()).hexdigest()
        return {"weights": str(Path(self.weights).name), "weights_sha256": digest}

    def reconstruct(self, kspace: torch.Tensor, mask: torch.Tensor,
                    coil_maps: torch.Tensor | None = None) -> torch.Tensor:
        """White-box access: complex ``(slice, frame, y, x)`` (zero phase) from tensors."""
        x = zero_filled_rss(kspace, mask.to(torch.float32))
        ns, nf, ny, nx = x.shape
        flat = x.reshape(ns * nf, 1, ny, nx).to(torch.float32)
        scale = flat.amax(dim=(-2, -1), keepdim=True).detach().clamp_min(1e-12)
        out = self.net(flat / scale) * scale
        return out.reshape(ns, nf, ny, nx).to(torch.complex64)

    def __call__(self, case) -> np.ndarray:
        k = torch.from_numpy(np.ascontiguousarray(case.kspace))
        m = torch.from_numpy(np.ascontiguousarray(case.mask))
        with torch.inference_mode():
            return self.reconstruct(k, m).numpy()


def train(out_path, *, subjects: int = 4, steps: int = 150, acceleration: float = 4.0,
          acs_lines: int = 8, seed: int = 0) -> Path:
    """Fit :class:`TinyRefiner` on the phantom and save the weights (a state dict).

    Each step draws a phantom subject and a fresh equispaced mask; the target is the RSS of the
    fully sampled k-space (what cmrsuite scores against). Deterministic for a seed.
    """
    from suite.mr import make_mask, rss
    from suite.phantom import simulate

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cases = [simulate(seed=seed + i, preset="tiny", n_frames=4) for i in range(subjects)]
    model = TinyRefiner()
    model.net.train()
    opt = torch.optim.Adam(model.net.parameters(), lr=2e-3)
    for _ in range(steps):
        case = cases[int(rng.integers(len(cases)))]
        k = torch.from_numpy(case.kspace)
        mask = make_mask("equispaced", case.kspace.shape, acceleration, acs_lines=acs_lines,
                         rng=rng).mask
        target = rss(ifft2c(k), dim=2)
        pred = model.reconstruct(k, torch.from_numpy(np.ascontiguousarray(mask))).abs()
        loss = torch.mean((pred - target) ** 2) / torch.mean(target ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.net.state_dict(), out)
    return out
