"""Per-pixel tissue and system parameters of a signal simulation (vectorised over pixels)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

__all__ = ["Tissue"]


@dataclass(frozen=True)
class Tissue:
    """Relaxation and system parameters of ``n`` pixels (or dictionary entries).

    Every field is a scalar or an array-like broadcastable to one common 1-D shape ``(n,)``;
    torch tensors are kept as they are (so a fit can differentiate through a simulation).

    Attributes
    ----------
    t1_ms, t2_ms : array-like, ms
        Longitudinal and transverse relaxation times (> 0; ``inf`` means no relaxation).
    m0 : array-like, default 1
        Equilibrium magnetisation (arbitrary units; may be complex, e.g. a coil phase).
    b1 : array-like, default 1
        Scale of every nominal hard-pulse flip angle (excitation, refocusing and T2-prep
        pulses; the adiabatic inversion is described by ``inversion_efficiency`` instead).
    off_resonance_hz : array-like, Hz, default 0
        Off-resonance frequency; free precession by ``2π·Δf·t`` (transverse magnetisation
        ``Mx + iMy`` multiplied by ``exp(+i·2π·Δf·t)``).
    inversion_efficiency : array-like, default 1
        ``η`` of the inversion pulse: ``Mz → −η·Mz`` (1 = perfect inversion, 0 = none; the
        tan/tanh adiabatic pulse of Kellman et al., MRM 2014, doi 10.1002/mrm.24793, reaches
        about 0.96).
    """

    t1_ms: Any
    t2_ms: Any
    m0: Any = 1.0
    b1: Any = 1.0
    off_resonance_hz: Any = 0.0
    inversion_efficiency: Any = 1.0

    def tensors(self, dtype: torch.dtype = torch.float64) -> dict[str, torch.Tensor]:
        """Every field as a 1-D tensor of the common length ``n`` (real ``dtype``; ``m0`` complex).

        Raises
        ------
        ValueError
            If the fields do not broadcast to one 1-D shape, or a relaxation time is not > 0.
        """
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, torch.Tensor):
                v = torch.as_tensor(np.asarray(v))
            if f.name == "m0":
                v = v.to(torch.complex128 if dtype == torch.float64 else torch.complex64)
            else:
                v = v.to(dtype)
            out[f.name] = v.reshape(-1) if v.ndim > 1 else v
        try:
            shape = torch.broadcast_shapes(*(v.shape for v in out.values()))
        except RuntimeError:
            shapes = {k: tuple(v.shape) for k, v in out.items()}
            raise ValueError(f"Tissue: fields must broadcast to one 1-D shape (n,); got {shapes}")
        if len(shape) == 0:
            shape = (1,)
        out = {k: v.expand(shape) for k, v in out.items()}
        for name in ("t1_ms", "t2_ms"):
            if bool(torch.any(out[name].detach() <= 0)) or bool(torch.any(torch.isnan(out[name].detach()))):
                raise ValueError(f"Tissue: `{name}` must be > 0 ms (inf = no relaxation); "
                                 f"got min {float(out[name].detach().min())}")
        return out

    @property
    def n(self) -> int:
        """Number of pixels after broadcasting."""
        return int(self.tensors()["t1_ms"].shape[0])
