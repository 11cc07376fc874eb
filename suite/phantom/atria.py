"""Structures above the ventricular base: atria, valve annuli, outflow tracts, great vessels.

All positions are material heart coordinates ``(x, y, ζ)`` (mm, :mod:`suite.phantom.anatomy`);
these structures lie above the base plane ``ζ = −z_base`` and follow its systolic descent
with the fade of :meth:`~suite.phantom.anatomy.HeartGeometry.spatial_w` (the atrial floor
moves with the valve plane, the roofs and the great vessels stay: the atria lengthen and
fill in ventricular systole).

* **Valves** (centres in the base plane unless stated): mitral (posterolateral of the LV
  axis; annulus radius ``0.55 r_base``, ``r_base`` the end-diastolic endocardial radius at
  the base), aortic (anteroseptal, radius ``0.4 r_base``, touching the mitral annulus: the
  aorto-mitral continuity), tricuspid (in the inferior part of the RV crescent) and
  pulmonary (at the top of the RV outflow tract, above the base).
* **Left and right atria**: ellipsoids above the mitral and tricuspid annuli (blood) with a
  2 mm wall (myocardium); the base plane cuts them, so their floors are the annuli.
* **Aortic root and ascending aorta**: a cylinder from the aortic annulus, wall 2 mm, running
  superiorly, rightward and anteriorly (its scanner direction is fixed, converted to heart
  coordinates). **RV outflow tract and pulmonary trunk**: a cylinder from the anterior part
  of the RV base to the pulmonary valve, then the trunk superiorly, posteriorly, leftward.

Overlaps resolve by priority: aorta > pulmonary artery / RVOT > left atrium > right atrium
(the aortic root indents the left atrium as it does in vivo). None of these are part of the
ACDC ventricle labels (the ACDC contours stop at the valves and exclude the infundibulum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.tissue import CLASS

__all__ = ["Cylinder", "Ellipsoid", "BaseStructures"]


@dataclass(frozen=True)
class Ellipsoid:
    """Axis-aligned (heart frame) ellipsoid: centre (3,), semi-axes (3,), mm."""

    centre: np.ndarray
    axes: np.ndarray

    def level(self, x, y, z):
        """``Σ ((p − c)/a)²`` (< 1 inside)."""
        c, a = self.centre, self.axes
        return ((x - c[0]) / a[0]) ** 2 + ((y - c[1]) / a[1]) ** 2 + ((z - c[2]) / a[2]) ** 2

    def bounding_radius(self) -> float:
        return float(np.max(self.axes))


@dataclass(frozen=True)
class Cylinder:
    """Finite cylinder: start (3,), unit direction (3,), radius and length, mm."""

    start: np.ndarray
    direction: np.ndarray
    radius: float
    length: float

    def coords(self, x, y, z):
        """Axial position ``t`` (mm from the start) and distance from the axis (mm)."""
        px, py, pz = x - self.start[0], y - self.start[1], z - self.start[2]
        d = self.direction
        t = px * d[0] + py * d[1] + pz * d[2]
        qx, qy, qz = px - t * d[0], py - t * d[1], pz - t * d[2]
        return t, np.sqrt(qx * qx + qy * qy + qz * qz)

    @property
    def end(self) -> np.ndarray:
        return self.start + self.length * self.direction


@dataclass(frozen=True)
class BaseStructures:
    """Valves, atria, outflow tracts and great vessels of one subject (material coords).

    Attributes
    ----------
    mv, av, tv, pv : ndarray (3,)
        Valve centres ``(x, y, ζ)``, mm.
    mv_radius, av_radius, tv_radius, pv_radius : float
        Annulus radii, mm.
    la, ra : Ellipsoid
    aorta, rvot, pa : Cylinder
    wall_mm : float
        Atrial and vessel wall thickness.
    z_base : float
        ``z_base`` of the ventricles (the structures exist for ``ζ < −z_base``).
    """

    mv: np.ndarray
    av: np.ndarray
    tv: np.ndarray
    pv: np.ndarray
    mv_radius: float
    av_radius: float
    tv_radius: float
    pv_radius: float
    la: Ellipsoid
    ra: Ellipsoid
    aorta: Cylinder
    rvot: Cylinder
    pa: Cylinder
    wall_mm: float
    z_base: float

    def classify(self, x, y, z) -> np.ndarray:
        """Class codes (:data:`suite.phantom.tissue.CLASS`) at material points above the base;
        0 where none of these structures is (and everywhere at or below the base)."""
        x, y, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, y, z)))
        code = np.zeros(x.shape, np.uint8)
        above = z < -self.z_base
        if not above.any():
            return code
        wall = self.wall_mm
        for ell, blood in ((self.ra, CLASS["ra_blood"]), (self.la, CLASS["la_blood"])):
            lev = ell.level(x, y, z)
            grown = Ellipsoid(ell.centre, ell.axes + wall).level(x, y, z)
            code[(grown < 1.0) & above] = CLASS["atrial_wall"]
            code[(lev < 1.0) & above] = blood
        for cyl, blood in ((self.rvot, CLASS["pa_blood"]), (self.pa, CLASS["pa_blood"]),
                           (self.aorta, CLASS["aorta_blood"])):
            t, d = cyl.coords(x, y, z)
            inside = (t >= 0.0) & (t <= cyl.length) & above
            code[inside & (d < cyl.radius + wall) & (code != CLASS["pa_blood"])] = \
                CLASS["vessel_wall"]
            code[inside & (d < cyl.radius)] = blood
        return code

    def landmarks(self) -> dict[str, np.ndarray]:
        """Valve centres, material heart coordinates (3,), mm."""
        return {"mitral_valve": self.mv, "aortic_valve": self.av,
                "tricuspid_valve": self.tv, "pulmonary_valve": self.pv}

    def bounding_spheres(self):
        """``(centre (3,), radius)`` of every structure (walls included), for bounding boxes."""
        w = self.wall_mm
        out = [(e.centre, e.bounding_radius() + w) for e in (self.la, self.ra)]
        for c in (self.aorta, self.rvot, self.pa):
            out.append((0.5 * (c.start + c.end), 0.5 * c.length + c.radius + w))
        return out

    def to_dict(self) -> dict:
        lst = lambda v: [float(a) for a in v]  # noqa: E731
        return {
            "mitral_valve_mm": lst(self.mv), "aortic_valve_mm": lst(self.av),
            "tricuspid_valve_mm": lst(self.tv), "pulmonary_valve_mm": lst(self.pv),
            "annulus_radii_mm": {"mitral": self.mv_radius, "aortic": self.av_radius,
                                 "tricuspid": self.tv_radius, "pulmonary": self.pv_radius},
            "la": {"centre_mm": lst(self.la.centre), "axes_mm": lst(self.la.axes)},
            "ra": {"centre_mm": lst(self.ra.centre), "axes_mm": lst(self.ra.axes)},
            "aorta": {"start_mm": lst(self.aorta.start), "direction": lst(self.aorta.direction),
                      "radius_mm": self.aorta.radius, "length_mm": self.aorta.length},
            "pulmonary_artery": {"start_mm": lst(self.pa.start),
                                 "direction": lst(self.pa.direction),
                                 "radius_mm": self.pa.radius, "length_mm": self.pa.length},
            "wall_mm": self.wall_mm,
        }
