"""Static surroundings of the heart: body, subcutaneous fat, lungs, liver, descending aorta.

Shapes are ellipses in body coordinates (mm; ``x`` image right = patient left, ``y`` down =
posterior, origin at the body centre) and depend on the long-axis height ``z`` of the plane
(heart coordinates, :mod:`suite.phantom.anatomy`): the lungs shrink and the liver appears
towards the apex (diaphragm). A region around the heart (the mediastinum) is kept free of
lung, so the beating and
breathing heart never overlaps a lung: its radius follows the heart's largest extent per
direction, ``R(θ)`` (over frames and heights), plus a margin. These structures do not move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BodyLayout", "classify_body"]


@dataclass(frozen=True)
class BodyLayout:
    """Static anatomy around the heart.

    Attributes
    ----------
    axes_mm : (float, float)
        Body ellipse semi-axes (x, y), mm.
    fat_mm : float
        Subcutaneous fat thickness, mm.
    heart_centre_mm : (float, float)
        LV axis in body coordinates, mm.
    mediastinum_mm : ndarray (n_theta,)
        Radius of the lung-free region around the LV axis per direction
        ``θ = 2π k / n_theta`` (from +x towards +y), mm.
    z_top_mm, z_apex_mm : float
        Long-axis heights of the base and the epicardial apex (liver onset in between).
    """

    axes_mm: tuple[float, float]
    fat_mm: float
    heart_centre_mm: tuple[float, float]
    mediastinum_mm: np.ndarray
    z_top_mm: float
    z_apex_mm: float


def _inside(x, y, cx, cy, ax, ay):
    return ((x - cx) / ax) ** 2 + ((y - cy) / ay) ** 2 < 1.0


def classify_body(layout: BodyLayout, x, y, z: float) -> np.ndarray:
    """Class codes of the static anatomy at points ``(x, y)`` (body coordinates, mm).

    Returns
    -------
    ndarray, uint8, shape of ``x``: 0 air, 1 body (muscle), 2 fat, 3 lung, 4 liver,
    5 vessel (descending aorta), codes of :data:`suite.phantom.tissue.CLASS_NAMES`.
    """
    bx, by = layout.axes_mm
    code = np.zeros(np.shape(x), dtype=np.uint8)
    code[_inside(x, y, 0, 0, bx, by)] = 2
    code[_inside(x, y, 0, 0, bx - layout.fat_mm, by - layout.fat_mm)] = 1
    span = max(layout.z_apex_mm - layout.z_top_mm, 1.0)
    depth = np.clip((z - layout.z_top_mm) / span, 0.0, 1.0)  # 0 at base, 1 at apex
    hx, hy = layout.heart_centre_mm
    med = np.asarray(layout.mediastinum_mm)
    k = np.round(np.mod(np.arctan2(y - hy, x - hx), 2 * np.pi) / (2 * np.pi) * med.size)
    free = np.hypot(x - hx, y - hy) > med[k.astype(np.intp) % med.size]
    lung_scale = np.sqrt(np.clip(1.0 - 1.2 * max(depth - 0.35, 0.0), 0.0, 1.0))
    if lung_scale > 0.05:
        right = _inside(x, y, -0.52 * bx, 0.0, 0.30 * bx * lung_scale, 0.62 * by * lung_scale)
        left = _inside(x, y, 0.58 * bx, 0.12 * by, 0.26 * bx * lung_scale,
                       0.55 * by * lung_scale)
        code[(right | left) & free & (code == 1)] = 3
    liver_scale = np.sqrt(np.clip((depth - 0.45) / 0.55, 0.0, 1.0))
    if liver_scale > 0.05:
        liver = _inside(x, y, -0.45 * bx, 0.18 * by, 0.42 * bx * liver_scale,
                        0.55 * by * liver_scale)
        code[liver & (code == 1)] = 4
    code[np.hypot(x - 0.12 * bx, y - 0.58 * by) < 11.0] = 5
    return code
