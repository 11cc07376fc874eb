"""Coil maps of one subject on the acquired and intermediate grids (band-limited, normalised).

Steps (physics in :mod:`suite.phantom.coils`, grids in :mod:`suite.phantom.kspace`):
Biot–Savart on a coarse grid (:data:`COARSE_MM`) of each slice plane in scanner coordinates
(any orientation: the loops sit on the torso, B0 along scanner z), Keys interpolation onto the
intermediate grid, Hann low-pass to ``±(FOV/(2·COARSE_MM) + 4)`` cycles per FOV (capped below
the acquired Nyquist), exact Fourier resampling onto the acquired grid, and one global real
scale so that ``Σ_c |S_c|²`` averages 1 over the body pixels of the acquired grid (all
slices).
"""

from __future__ import annotations

import math

import numpy as np

from suite.phantom.body import BodyLayout, classify_body
from suite.phantom.coils import CoilLayout, keys_matrix, loop_sensitivity
from suite.phantom.grid import SimGrid
from suite.phantom.kspace import centred_dft

__all__ = ["coil_maps", "COARSE_MM"]

#: Spacing of the exact Biot–Savart samples, mm.
COARSE_MM = 6.0


def _interp(w_y: np.ndarray, maps: np.ndarray, w_x: np.ndarray) -> np.ndarray:
    """``W_y · maps · W_xᵀ`` per coil for complex ``maps`` (coil, Hc, Wc) and real W.

    The real and imaginary parts are copied to contiguous arrays first: NumPy's matmul takes
    its BLAS path only for contiguous operands (the strided ``.real`` view is ~10× slower)."""
    w_xt = np.ascontiguousarray(w_x.T)
    re = np.matmul(np.matmul(w_y, np.ascontiguousarray(maps.real)), w_xt)
    im = np.matmul(np.matmul(w_y, np.ascontiguousarray(maps.imag)), w_xt)
    return re + 1j * im


def _band(axis, g: float) -> int:
    """Coil-map bandwidth (cycles per FOV) along ``axis``: FOV/(2g) + 4, below acquired Nyquist."""
    fov = axis.n * axis.spacing
    return min(int(math.ceil(fov / (2.0 * g))) + 4, axis.n // 2 - 1)


def _intermediate_axis(axis, band: int) -> np.ndarray:
    """Pixel centres of the intermediate grid: the acquired band + ``band`` on each side."""
    fov = axis.n * axis.spacing
    n = min(axis.n + 2 * band, axis.n_fine)
    return axis.centre + (np.arange(n) - n // 2) * (fov / n)


def _band_limit(maps: np.ndarray, band_y: int, band_x: int, matrix):
    """Hann-window the maps' spectrum to ``±band`` and resample them on the acquired grid.

    Returns the band-limited maps on the intermediate grid and on the acquired grid (exact
    Fourier resampling: the band fits inside the acquired band).
    """
    hi, wi = maps.shape[-2:]
    k = centred_dft(centred_dft(maps.astype(np.complex64), -1, wi), -2, hi)

    def window(n, band):
        j = np.arange(n) - n // 2
        return np.where(np.abs(j) <= band, np.cos(np.pi * j / (2.0 * (band + 1))) ** 2, 0.0)

    k = k * (window(hi, band_y)[:, None] * window(wi, band_x)[None]).astype(np.float32)
    maps_int = centred_dft(centred_dft(k, -1, wi, inverse=True), -2, hi, inverse=True)
    ny, nx = matrix
    y0, x0 = hi // 2 - ny // 2, wi // 2 - nx // 2
    k_acq = k[..., y0:y0 + ny, x0:x0 + nx] * np.float32(math.sqrt(ny * nx / (hi * wi)))
    maps_acq = centred_dft(centred_dft(k_acq, -1, nx, inverse=True), -2, ny, inverse=True)
    return maps_int, maps_acq


def coil_maps(coils: CoilLayout, grid: SimGrid, planes, layout: BodyLayout):
    """Normalised, band-limited coil maps on the acquired and intermediate grids.

    Biot–Savart on a coarse grid (:data:`COARSE_MM`) of every plane, Keys interpolation onto
    the intermediate grid, Hann low-pass to ``±(FOV/(2g) + 4)`` cycles per FOV (so the
    intermediate-grid coil modulation of :mod:`suite.phantom.kspace` is exact), exact
    Fourier resampling onto the acquired grid, one global scale (module docstring of
    :mod:`suite.phantom.coils`).

    Parameters
    ----------
    coils : CoilLayout
        Loops in scanner coordinates (LPS, mm).
    grid : SimGrid
        In-plane grid (plane coordinates, mm).
    planes : sequence of SlicePlane
        One per slice (slab centres).
    layout : BodyLayout
        For the body mask of the normalisation.

    Returns
    -------
    maps_acq : ndarray, complex64, (slice, coil, ny, nx)
    maps_int : ndarray, complex64, (slice, coil, Hi, Wi)
    body : ndarray, bool, (slice, ny, nx)
    """
    g = COARSE_MM

    def coarse(axis):
        lo, hi = axis.fine[0] - 3 * g, axis.fine[-1] + 3 * g
        return lo + g * np.arange(int(np.ceil((hi - lo) / g)) + 1)

    cy, cx = coarse(grid.y), coarse(grid.x)
    by, bx = _band(grid.y, g), _band(grid.x, g)
    w_int = (keys_matrix(cy, _intermediate_axis(grid.y, by)),
             keys_matrix(cx, _intermediate_axis(grid.x, bx)))
    gx, gy = np.meshgrid(cx, cy)
    ax, ay = np.meshgrid(grid.x.acquired, grid.y.acquired)
    int_maps, acq_maps, body = [], [], []
    for plane in planes:
        pts = plane.to_scanner(gx.ravel(), gy.ravel())
        m = loop_sensitivity(coils, pts).reshape(-1, cy.size, cx.size)
        mi, ma = _band_limit(_interp(w_int[0], m, w_int[1]), by, bx, (grid.y.n, grid.x.n))
        int_maps.append(mi)
        acq_maps.append(ma)
        body.append(classify_body(layout, plane.to_scanner(ax, ay)) > 0)
    acq_maps, int_maps, body = np.stack(acq_maps), np.stack(int_maps), np.stack(body)
    power = (np.abs(acq_maps.astype(np.complex128)) ** 2).sum(axis=1)[body].mean()
    scale = np.float32(1.0 / math.sqrt(float(power)))
    return ((acq_maps * scale).astype(np.complex64), (int_maps * scale).astype(np.complex64),
            body)
