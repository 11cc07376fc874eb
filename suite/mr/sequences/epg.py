"""Extended phase graph (EPG) engine: configuration states ``F+_k, F−_k, Z_k`` per pixel.

Conventions follow Weigel, "Extended phase graphs: dephasing, RF pulses, and echoes - pure and
simple", JMRI 2015;41:266 (doi 10.1002/jmri.24619): ``F+_0 = Mx + iMy``, an RF pulse of flip
``α`` and phase ``φ`` mixes ``(F+_k, F−_k, Z_k)`` by Weigel's matrix ``T(α, φ)`` (a right-handed
rotation about the axis ``(cos φ, sin φ, 0)``), one unbalanced gradient moment shifts
``F+_k → F+_{k+1}`` and ``F−_k → F−_{k−1}``. States above ``n_states − 1`` are dropped.
Magnetisation is normalised (equilibrium ``Mz = 1``); the simulator multiplies by ``m0``.

All operations are functional (no in-place writes), so autograd can differentiate through them.
"""

from __future__ import annotations

import math

import torch

__all__ = ["EPGEngine"]


class EPGEngine:
    """EPG state of ``n`` pixels with ``n_states`` configuration orders.

    The state is one complex tensor ``(3, n, n_states)`` with rows ``(F+_k, F−_k, Z_k)`` (so a
    pulse shared by all pixels is one matrix product).

    Parameters
    ----------
    params : dict of str to Tensor
        :meth:`Tissue.tensors` output (each ``(n,)``).
    n_states : int
        Number of dephasing orders kept (1 suffices for balanced/ideally spoiled readouts).
    """

    def __init__(self, params: dict[str, torch.Tensor], n_states: int = 20):
        if n_states < 1:
            raise ValueError(f"EPGEngine: `n_states` must be >= 1; got {n_states}")
        self.p = params
        n = params["t1_ms"].shape[0]
        rdt = params["t1_ms"].dtype
        self.cdt = torch.complex128 if rdt == torch.float64 else torch.complex64
        s = torch.zeros(3, n, n_states, dtype=self.cdt)
        s[2, :, 0] = 1.0
        self.s = s
        b1 = params["b1"].detach()
        self._b1_shared = bool(torch.all(b1 == b1[0])) and not params["b1"].requires_grad
        self._cache: dict = {}

    def _rf_matrix(self, a: torch.Tensor, phase_rad: float) -> torch.Tensor:
        """Weigel's ``T(α, φ)`` for flips ``a`` ``(m,)``: ``(m, 3, 3)`` complex."""
        e = complex(math.cos(phase_rad), math.sin(phase_rad))
        ec = e.conjugate()
        c2, s2 = torch.cos(a / 2) ** 2, torch.sin(a / 2) ** 2
        s, ca = torch.sin(a), torch.cos(a)
        rows = [
            torch.stack([c2 + 0j, (e * e) * s2, -1j * e * s], -1),
            torch.stack([(ec * ec) * s2, c2 + 0j, 1j * ec * s], -1),
            torch.stack([-0.5j * ec * s, 0.5j * e * s, ca + 0j], -1),
        ]
        return torch.stack(rows, -2).to(self.cdt)

    def pulse(self, flip_rad: float, phase_rad: float) -> None:
        """Instantaneous hard pulse of nominal flip ``flip_rad`` (scaled by ``b1``), phase ``phase_rad``."""
        shape = self.s.shape
        if self._b1_shared:
            key = ("rf", flip_rad, phase_rad)
            if key not in self._cache:
                self._cache[key] = self._rf_matrix(flip_rad * self.p["b1"][:1], phase_rad)[0]
            self.s = (self._cache[key] @ self.s.reshape(3, -1)).reshape(shape)
        else:
            t = self._rf_matrix(flip_rad * self.p["b1"], phase_rad)  # (n, 3, 3)
            self.s = torch.einsum("pij,jpk->ipk", t, self.s)

    def _factors(self, dt_ms: float):
        if dt_ms not in self._cache:
            e1 = torch.exp(-dt_ms / self.p["t1_ms"])
            e2 = torch.exp(-dt_ms / self.p["t2_ms"])
            th = (2e-3 * math.pi * dt_ms) * self.p["off_resonance_hz"]
            rot = torch.polar(torch.ones_like(th), th)
            decay = torch.stack([e2 * rot, e2 * rot.conj(), e1.to(self.cdt)], 0)[:, :, None]
            self._cache[dt_ms] = (decay, (1 - e1).to(self.cdt))
        return self._cache[dt_ms]

    def free(self, dt_ms: float) -> None:
        """Relaxation and off-resonance precession for ``dt_ms`` (no gradient)."""
        if dt_ms <= 0:
            return
        decay, recovery = self._factors(float(dt_ms))
        s = self.s * decay
        z0 = s[2, :, :1] + recovery[:, None]
        self.s = torch.cat([s[:2], torch.cat([z0, s[2, :, 1:]], 1)[None]], 0)

    def dephase(self) -> None:
        """One unbalanced gradient moment (shift every F state by one order)."""
        fp, fm, z = self.s[0], self.s[1], self.s[2]
        zero = torch.zeros_like(fm[:, :1])
        fm1 = fm[:, 1:2] if fm.shape[1] > 1 else zero
        fp = torch.cat([fm1.conj(), fp[:, :-1]], dim=1)
        fm = torch.cat([fm[:, 1:], zero], dim=1)
        self.s = torch.stack([fp, fm, z], 0)

    def spoil(self) -> None:
        """Ideal spoiling: every transverse state set to zero."""
        self.s = torch.cat([torch.zeros_like(self.s[:2]), self.s[2:]], 0)

    def scale_longitudinal(self, factor: torch.Tensor | float) -> None:
        """Spoil, then ``Z_k → factor·Z_k`` (inversion: ``−η``, saturation: ``1 − efficiency``)."""
        f = factor[None, :, None] if isinstance(factor, torch.Tensor) else factor
        self.s = torch.cat([torch.zeros_like(self.s[:2]), self.s[2:] * f], 0)

    def signal(self) -> torch.Tensor:
        """Transverse magnetisation ``F+_0 = Mx + iMy`` of each pixel, ``(n,)`` complex."""
        return self.s[0, :, 0]
