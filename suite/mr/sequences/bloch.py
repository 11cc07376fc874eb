"""Isochromat Bloch engine: ``(Mx, My, Mz)`` of ``n_isochromats`` spins per pixel.

Independent of the EPG engine (real 3 × 3 rotation matrices instead of state mixing): a hard
pulse of flip ``α`` and phase ``φ`` is a right-handed rotation by ``α`` about
``(cos φ, sin φ, 0)`` (Rodrigues' formula); free precession rotates about ``z`` by
``2π·Δf·t``; relaxation is exact exponential decay/recovery. An unbalanced gradient moment is
modelled by ``n_isochromats`` spins whose extra phase per moment is ``2πj / n_isochromats``
(``j = 0 … n_isochromats − 1``); the voxel signal is their mean. With enough isochromats this is
the continuous intra-voxel dephasing that EPG describes exactly (Weigel, JMRI 2015;41:266,
doi 10.1002/jmri.24619), so the two engines must agree (tested).
"""

from __future__ import annotations

import math

import torch

__all__ = ["BlochEngine"]


class BlochEngine:
    """Isochromat state of ``n`` pixels, ``(n, n_isochromats, 3)`` real, normalised (M0 = 1).

    Parameters
    ----------
    params : dict of str to Tensor
        :meth:`Tissue.tensors` output (each ``(n,)``).
    n_isochromats : int
        Spins per pixel (1 for balanced or ideally spoiled readouts).
    """

    def __init__(self, params: dict[str, torch.Tensor], n_isochromats: int = 1):
        if n_isochromats < 1:
            raise ValueError(f"BlochEngine: `n_isochromats` must be >= 1; got {n_isochromats}")
        self.p = params
        n = params["t1_ms"].shape[0]
        dt = params["t1_ms"].dtype
        self.m = torch.zeros(n, n_isochromats, 3, dtype=dt)
        self.m = self.m + torch.tensor([0.0, 0.0, 1.0], dtype=dt)
        phi = 2 * math.pi * torch.arange(n_isochromats, dtype=dt) / n_isochromats
        self._dephase = (torch.cos(phi), torch.sin(phi))

    def pulse(self, flip_rad: float, phase_rad: float) -> None:
        """Hard pulse: rotation by ``flip_rad·b1`` about ``(cos φ, sin φ, 0)``."""
        a = flip_rad * self.p["b1"]
        ux, uy = math.cos(phase_rad), math.sin(phase_rad)
        c, s = torch.cos(a), torch.sin(a)
        one_c = 1 - c
        z = torch.zeros_like(a)
        rot = torch.stack([
            torch.stack([c + ux * ux * one_c, ux * uy * one_c, uy * s], -1),
            torch.stack([ux * uy * one_c, c + uy * uy * one_c, -ux * s], -1),
            torch.stack([-uy * s, ux * s, c + z], -1),
        ], -2)
        self.m = torch.einsum("pij,pnj->pni", rot, self.m)

    @staticmethod
    def _rotz(m: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        mx, my = m[..., 0], m[..., 1]
        return torch.stack([mx * cos - my * sin, mx * sin + my * cos, m[..., 2]], -1)

    def free(self, dt_ms: float) -> None:
        """Precession by ``2π·Δf·dt`` about z, then relaxation over ``dt_ms``."""
        if dt_ms <= 0:
            return
        th = (2e-3 * math.pi * dt_ms) * self.p["off_resonance_hz"][:, None]
        m = self._rotz(self.m, torch.cos(th), torch.sin(th))
        e1 = torch.exp(-dt_ms / self.p["t1_ms"])[:, None]
        e2 = torch.exp(-dt_ms / self.p["t2_ms"])[:, None]
        self.m = torch.stack([m[..., 0] * e2, m[..., 1] * e2, m[..., 2] * e1 + (1 - e1)], -1)

    def dephase(self) -> None:
        """One unbalanced gradient moment: spin ``j`` precesses by ``2πj / n_isochromats``."""
        cos, sin = self._dephase
        self.m = self._rotz(self.m, cos[None, :], sin[None, :])

    def spoil(self) -> None:
        """Ideal spoiling: transverse components set to zero."""
        self.m = torch.stack([torch.zeros_like(self.m[..., 0]), torch.zeros_like(self.m[..., 1]),
                              self.m[..., 2]], -1)

    def scale_longitudinal(self, factor: torch.Tensor | float) -> None:
        """Spoil, then ``Mz → factor·Mz`` (inversion: ``−η``, saturation: ``1 − efficiency``)."""
        f = factor[:, None] if isinstance(factor, torch.Tensor) else factor
        mz = self.m[..., 2] * f
        self.m = torch.stack([torch.zeros_like(mz), torch.zeros_like(mz), mz], -1)

    def signal(self) -> torch.Tensor:
        """Mean transverse magnetisation ``Mx + iMy`` over the isochromats, ``(n,)`` complex."""
        return torch.complex(self.m[..., 0].mean(1), self.m[..., 1].mean(1))
