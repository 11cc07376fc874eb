"""Receive coil sensitivities: circular loops around the body, Biot–Savart, normalised.

Layout: one ring of loops (two rings, overlapping along the long axis, from 8 coils on),
each ring split into an anterior and a posterior row following the body ellipse, loop
planes tangent to the skin (25 mm anterior gap for the cushion, 12 mm posterior for the
table). Loop radius ``clip(0.8 × row spacing, 40, 90)`` mm.

Sensitivity of loop ``c`` at point ``p``: the quasi-static field of a unit current,
``B(p) = Σ_k dl_k × (p − m_k) / (|p − m_k|² + ε²)^{3/2}`` (Biot–Savart, 48 straight
segments, midpoint rule, kernel softened with ε = 15 mm so that a wire crossing the imaged
plane gives no singular spot in the air around the body), receive sensitivity
``S = B_x − i B_y`` (slice normal taken along B0). This is an independent implementation of
the idea MRXCAT uses (Wissmann et al., JCMR 2014;16:63), not derived from its code.

Evaluation (:mod:`suite.phantom.coilmaps`): exactly on a coarse 6 mm grid covering
the FOV with a margin, Keys cubic convolution (a = −0.5; Keys, IEEE TASSP 1981;29:1153) onto
the intermediate grid of :mod:`suite.phantom.kspace`, then a Hann low-pass to
``± (FOV / 12 mm + 4)`` cycles per FOV, so the maps are band-limited by construction and the
maps used for simulation and the true maps reported on the acquired grid are samples of one
smooth function.

Normalisation: one real scale for all coils and slices such that the sum of squares
``Σ_c |S_c|²`` averages 1 over the body pixels of the acquired grid (all slices). Maps are
not normalised per pixel, so RSS images keep the coil shading of a real array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CoilLayout", "coil_layout", "loop_sensitivity", "keys_matrix"]

_N_SEG = 48
#: Softening length of the Biot–Savart kernel (finite conductor / cushion), mm.
_SOFT_MM = 15.0


@dataclass(frozen=True)
class CoilLayout:
    """Loop coils: centres (n, 3) mm, inward unit normals (n, 3), radii (n,) mm."""

    centres: np.ndarray
    normals: np.ndarray
    radii: np.ndarray


def coil_layout(n_coils: int, body_axes_mm, z_centre_mm: float) -> CoilLayout:
    """Loop coils around the body ellipse (body coordinates, mm; z along the long axis).

    Examples
    --------
    >>> coil_layout(4, (150.0, 110.0), 0.0).centres.shape
    (4, 3)
    """
    if n_coils < 1:
        raise ValueError(f"suite.phantom: n_coils must be >= 1; got {n_coils}")
    bx, by = (float(v) for v in body_axes_mm)
    rings = [n_coils] if n_coils < 8 else [n_coils - n_coils // 2, n_coils // 2]
    centres, normals, radii = [], [], []
    for ring, m in enumerate(rings):
        n_ant = (m + 1) // 2
        rows = [(n_ant, -1.0, 25.0, 0.0), (m - n_ant, 1.0, 12.0, 0.5)]
        for n_row, side, gap, shift in rows:
            if n_row == 0:
                continue
            spacing = 1.3 * bx / n_row
            radius = float(np.clip(0.8 * spacing, 40.0, 90.0))
            dz = 0.0 if len(rings) == 1 else (-0.85 if ring == 0 else 0.85) * radius
            for k in range(n_row):
                frac = (k + 0.5 + (shift if n_row > 1 else 0.0)) / n_row
                x = -0.65 * bx + 1.3 * bx * min(frac, 1.0)
                ys = side * by * np.sqrt(max(1.0 - (x / bx) ** 2, 0.0))
                grad = np.array([x / bx**2, ys / by**2, 0.0])
                inward = -grad / np.linalg.norm(grad)
                centres.append(np.array([x, ys, 0.0]) - inward * gap + [0.0, 0.0, z_centre_mm + dz])
                normals.append(inward)
                radii.append(radius)
    return CoilLayout(np.array(centres), np.array(normals), np.array(radii))


def loop_sensitivity(layout: CoilLayout, points: np.ndarray) -> np.ndarray:
    """Complex receive sensitivity ``B_x − i B_y`` of each loop at ``points``.

    Parameters
    ----------
    layout : CoilLayout
    points : ndarray, float64, shape (P, 3), mm

    Returns
    -------
    ndarray, complex128, shape (coil, P), arbitrary units (unit current, µ0/4π = 1).
    """
    psi = (np.arange(_N_SEG) + 0.5) * (2.0 * np.pi / _N_SEG)
    out = np.empty((len(layout.radii), points.shape[0]), dtype=np.complex128)
    ez = np.array([0.0, 0.0, 1.0])
    px, py, pz = points[:, 0], points[:, 1], points[:, 2]
    for c, (centre, n, rad) in enumerate(zip(layout.centres, layout.normals, layout.radii)):
        t = np.cross(ez, n)  # in-plane tangent
        mids = centre + rad * (np.cos(psi)[:, None] * ez + np.sin(psi)[:, None] * t)
        dl = rad * (2.0 * np.pi / _N_SEG) * (
            -np.sin(psi)[:, None] * ez + np.cos(psi)[:, None] * t)
        # |p - m|^-3 for every (segment, point); the cross products expand into sums
        r2 = (px[None] - mids[:, :1]) ** 2 + (py[None] - mids[:, 1:2]) ** 2 \
            + (pz[None] - mids[:, 2:3]) ** 2
        inv3 = (r2 + _SOFT_MM**2) ** -1.5                           # (seg, P)
        # B_x = sum dl_y r_z - dl_z r_y ;  B_y = sum dl_z r_x - dl_x r_z
        bx = pz * (dl[:, 1] @ inv3) - (dl[:, 1] * mids[:, 2]) @ inv3 \
            - py * (dl[:, 2] @ inv3) + (dl[:, 2] * mids[:, 1]) @ inv3
        by = px * (dl[:, 2] @ inv3) - (dl[:, 2] * mids[:, 0]) @ inv3 \
            - pz * (dl[:, 0] @ inv3) + (dl[:, 0] * mids[:, 2]) @ inv3
        out[c] = bx - 1j * by
    return out


def keys_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Keys cubic-convolution interpolation matrix from a uniform grid to ``target``.

    Parameters
    ----------
    source : ndarray (n_src,), uniform, increasing, mm
    target : ndarray (n_tgt,), mm, inside ``source[1] .. source[-3]``

    Returns
    -------
    ndarray, float64, shape (n_tgt, n_src): ``values_at_target = W @ values_at_source``.

    Examples
    --------
    >>> s = np.arange(8.0)
    >>> w = keys_matrix(s, np.array([2.0, 3.5]))
    >>> np.round(w @ s**2, 6).tolist()  # exact on nodes; cubic convolution between them
    [4.0, 12.25]
    """
    h = source[1] - source[0]
    u = (target - source[0]) / h
    i = np.floor(u).astype(np.intp)
    s = u - i
    if i.min() < 1 or i.max() > source.size - 3:
        raise ValueError("keys_matrix: target outside the interpolation support")
    a = -0.5

    def kern(d):
        d = np.abs(d)
        return np.where(d <= 1, (a + 2) * d**3 - (a + 3) * d**2 + 1,
                        np.where(d < 2, a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a, 0.0))

    w = np.zeros((target.size, source.size))
    rows = np.arange(target.size)
    for off in (-1, 0, 1, 2):
        w[rows, i + off] += kern(s - off)
    return w
