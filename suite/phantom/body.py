"""Static surroundings of the heart in scanner coordinates: torso, fat, lungs, liver, aorta.

Scanner coordinates are LPS mm (:mod:`suite.phantom.orientation`). The torso is an elliptic
cylinder along ``z`` (semi-axes ``bx`` left-right, ``by`` antero-posterior) with a
subcutaneous fat layer; inside a chest wall of 12 mm lies the thoracic cavity. The lungs lie
laterally in it, above the diaphragm; they are kept off the heart by the heart's inflated outline (a mask passed in,
:meth:`suite.phantom.heart.HeartModel.contains_inflated`). The diaphragm is two paraboloid
domes, ``z = z_top − ρ² / (2 R)`` with ``R`` = 140 mm, the left one just under the heart's
inferior surface and the right one 15 mm higher; the liver fills the body below the right
dome, the rest below the domes is soft tissue. Each lung is an elliptic cylinder in the
lateral part of the cavity (right: centre ``(−0.5 bx, 0.1 by)``, semi-axes ``0.38 bx × 0.8 by``;
left: ``(0.55 bx, 0.15 by)``, ``0.32 bx × 0.7 by``) above its dome, clear of the spine and of
the mediastinum. The descending aorta is a blood-filled
cylinder along ``z`` left of the spine. These structures do not move (respiration moves the
heart only, :mod:`suite.phantom.motion`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.tissue import CLASS

__all__ = ["BodyLayout", "classify_body", "CHEST_WALL_MM"]

#: Thickness of the chest wall (muscle and ribs) inside the fat, mm.
CHEST_WALL_MM = 12.0
_DOME_R_MM = 140.0


@dataclass(frozen=True)
class BodyLayout:
    """Static anatomy around the heart (LPS, mm).

    Attributes
    ----------
    axes_mm : (float, float)
        Torso ellipse semi-axes (x, y), mm.
    fat_mm : float
        Subcutaneous fat thickness, mm.
    dome_left_z, dome_right_z : float
        Heights of the tops of the diaphragm domes, mm.
    """

    axes_mm: tuple[float, float]
    fat_mm: float
    dome_left_z: float
    dome_right_z: float

    def dome(self, x, y, side: str):
        """Height of the left or right diaphragm dome above ``(x, y)``, mm."""
        bx, by = self.axes_mm
        if side == "left":
            cx, cy, top = 0.45 * bx, 0.1 * by, self.dome_left_z
        else:
            cx, cy, top = -0.45 * bx, 0.0, self.dome_right_z
        return top - ((x - cx) ** 2 + (y - cy) ** 2) / (2.0 * _DOME_R_MM)

    @property
    def aorta(self) -> tuple[float, float, float]:
        """Descending aorta: centre ``(x, y)`` and radius, mm."""
        bx, by = self.axes_mm
        return 0.12 * bx, 0.58 * by, 11.0

    def to_dict(self) -> dict:
        return {"axes_mm": [float(v) for v in self.axes_mm], "fat_mm": self.fat_mm,
                "dome_left_z_mm": self.dome_left_z, "dome_right_z_mm": self.dome_right_z}


def _inside(x, y, ax, ay):
    return (x / ax) ** 2 + (y / ay) ** 2 < 1.0


def classify_body(layout: BodyLayout, points, mediastinum=None) -> np.ndarray:
    """Class codes of the static anatomy at scanner points ``(..., 3)``.

    Parameters
    ----------
    layout : BodyLayout
    points : ndarray (..., 3), LPS mm
    mediastinum : callable, optional
        ``mediastinum(points (n, 3)) -> bool (n,)``, True where lungs must not be (the
        heart's inflated outline); evaluated only at lung candidates.

    Returns
    -------
    ndarray, uint8, shape ``points.shape[:-1]``: air, body (muscle), fat, lung, liver and
    vessel codes of :data:`suite.phantom.tissue.CLASS`.
    """
    p = np.asarray(points, dtype=np.float64)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    bx, by = layout.axes_mm
    fat = layout.fat_mm
    code = np.zeros(x.shape, dtype=np.uint8)
    code[_inside(x, y, bx, by)] = CLASS["fat"]
    muscle = _inside(x, y, bx - fat, by - fat)
    code[muscle] = CLASS["body"]
    cavity = _inside(x, y, bx - fat - CHEST_WALL_MM, by - fat - CHEST_WALL_MM)
    spine_region = _inside(x, y - 0.75 * by, 40.0, 0.45 * by)
    left_dome, right_dome = layout.dome(x, y, "left"), layout.dome(x, y, "right")
    right = _inside(x + 0.5 * bx, y - 0.1 * by, 0.38 * bx, 0.8 * by) & (z > right_dome)
    left = _inside(x - 0.55 * bx, y - 0.15 * by, 0.32 * bx, 0.7 * by) & (z > left_dome)
    lung = cavity & ~spine_region & (right | left)
    if mediastinum is not None and lung.any():
        idx = np.flatnonzero(lung.ravel())
        keep = ~np.asarray(mediastinum(p.reshape(-1, 3)[idx]), dtype=bool)
        lung = np.zeros(lung.size, bool)
        lung[idx[keep]] = True
        lung = lung.reshape(x.shape)
    code[lung] = CLASS["lung"]
    liver = muscle & (z < right_dome) & (x < 0.3 * bx) & ~spine_region
    code[liver] = CLASS["liver"]
    ax, ay, ar = layout.aorta
    code[np.hypot(x - ax, y - ay) < ar] = CLASS["vessel"]
    return code
