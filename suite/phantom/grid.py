"""Acquired and simulation grids: pixel positions and the block map between them.

Image pixel ``i`` of an axis of ``n`` pixels at spacing ``Δ`` sits at
``x_i = x0 + (i − n//2) · Δ`` (the centred-FFT convention of :mod:`suite.mr.fft`: the pixel
at ``n//2`` is the FOV centre ``x0``). The simulation grid refines every axis by an odd
factor ``q``: ``N = q · n`` pixels at ``Δ / q`` with the same centre. Its pixels
``q·i − q//2 + c … q·i + q//2 + c`` (``c = N//2 − q·(n//2)``) tile acquired pixel ``i``
exactly, which is what label majority voting uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AxisGrid", "SimGrid"]


@dataclass(frozen=True)
class AxisGrid:
    """One image axis: ``n`` acquired pixels of ``spacing`` mm centred at ``centre`` mm."""

    n: int
    spacing: float
    centre: float
    q: int

    @property
    def acquired(self) -> np.ndarray:
        """Acquired pixel centres, mm, shape (n,)."""
        return self.centre + (np.arange(self.n) - self.n // 2) * self.spacing

    @property
    def n_fine(self) -> int:
        return self.q * self.n

    @property
    def fine(self) -> np.ndarray:
        """Simulation-grid pixel centres, mm, shape (q·n,)."""
        nf = self.n_fine
        return self.centre + (np.arange(nf) - nf // 2) * (self.spacing / self.q)

    @property
    def block_offset(self) -> int:
        """Fine index of the first sub-pixel of acquired pixel 0 (may be negative)."""
        c = self.n_fine // 2 - self.q * (self.n // 2)
        return -(self.q // 2) + c

    def fine_range(self, i0: int, i1: int) -> slice:
        """Fine indices covering acquired pixels ``i0 .. i1-1`` (needs 1 ≤ i0, i1 ≤ n-1)."""
        off = self.block_offset
        return slice(self.q * i0 + off, self.q * i1 + off)

    def pixel_range(self, lo_mm: float, hi_mm: float) -> tuple[int, int]:
        """Acquired pixels ``[i0, i1)`` covering ``[lo_mm, hi_mm]``, kept off the border."""
        i0 = int(np.floor((lo_mm - self.centre) / self.spacing + self.n // 2))
        i1 = int(np.ceil((hi_mm - self.centre) / self.spacing + self.n // 2)) + 1
        return max(i0, 1), min(i1, self.n - 1)


@dataclass(frozen=True)
class SimGrid:
    """The (y, x) acquired grid and its simulation refinement."""

    y: AxisGrid
    x: AxisGrid

    @classmethod
    def make(cls, matrix, spacing_mm: float, centre_mm, oversample: int) -> "SimGrid":
        """``matrix`` (ny, nx), square pixels, FOV centre ``(x0, y0)`` mm, odd ``oversample``."""
        if oversample < 1 or oversample % 2 == 0:
            raise ValueError(f"suite.phantom: oversample must be an odd integer >= 1; "
                             f"got {oversample}")
        ny, nx = (int(v) for v in matrix)
        if ny < 4 or nx < 4:
            raise ValueError(f"suite.phantom: matrix must be at least 4 x 4; got {matrix}")
        cx, cy = (float(v) for v in centre_mm)
        return cls(AxisGrid(ny, float(spacing_mm), cy, oversample),
                   AxisGrid(nx, float(spacing_mm), cx, oversample))
