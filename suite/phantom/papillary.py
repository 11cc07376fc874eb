"""Papillary muscles and trabeculation of both ventricles (inside the cavity envelopes).

Everything here lies **inside** the smooth endocardial envelopes of
:mod:`suite.phantom.anatomy` (LV ``r < r_in``; RV ``r_out ≤ r < r_out + h``), so the envelope
volumes (ACDC cavities, papillary muscles and trabeculae included) are unchanged and the
blood pools are the envelopes minus these muscles.

**LV papillary muscles** (anterolateral and posteromedial). At material height ``ζ`` a
papillary muscle is a disc of radius ``R(ζ)`` whose centre lies in direction ``θ_j`` at
``r_c = r_in,f(θ_j, ζ) − R_f − gap(ζ)`` from the LV axis, i.e. close to the wall and moving
with it; in systole its cross-section grows as ``R_f = R / sqrt(s_f)`` while the ventricle
shortens by ``s_f`` (incompressible: the volume ``∫ π R² dζ`` is constant). Along the axis it
runs from the tip (basal, ``gap = g0``, free in the cavity) to the root (apical, ``gap → 0``,
attached), ``R = R0·sqrt(1 − (2v − 1)²)`` with ``v`` the fraction from tip to root. ``R`` is
capped so that at every frame both discs stay inside the cavity and apart
(``R_f ≤ (r_in,f − gap) / 2.2``; hypertrophic hearts get thinner muscles), which keeps the
volumes exact. A point's material position inside a muscle is found by undoing the
translation and the ``1/sqrt(s_f)`` scaling about the disc centre.

**Trabeculation.** A non-compacted layer on the endocardium, ``r_in − τ ≤ r < r_in`` in
material coordinates, with ``τ(θ, ζ) = T · a(ζ) · max(0, n(θ, ζ))``: ``n`` is a sum of
seeded angular harmonics of order 8–20 (ridges and crypts), ``a(ζ)`` grows from the mid
ventricle towards the apex (LV) or from the base (RV, coarser and thicker). The layer moves
with the wall by the incompressible area map (:mod:`suite.phantom.heart`), so its volume is
constant; ``τ`` is capped where the cavity empties in systole so the map stays defined. LV
trabeculae avoid the papillary muscles' sectors.

Sources for sizes (plausibility only): papillary muscles account for a few grams of LV mass
and change LV mass and volumes when counted as myocardium (Kirschbaum et al., Acad Radiol
2008;15:1227, doi 10.1016/j.acra.2008.04.014); trabeculation is a normal finding in both
ventricles, coarser in the RV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.anatomy import HeartGeometry, wrap_angle

__all__ = ["PapillaryMuscle", "Trabeculation", "build_papillary", "build_trabeculation",
           "pm_disc_interval", "PM_FIT"]

#: Papillary radius cap: ``R_f ≤ (r_in,f − gap) / PM_FIT`` at every frame.
PM_FIT = 2.2
_N_TABLE = 257


@dataclass(frozen=True)
class PapillaryMuscle:
    """One LV papillary muscle (material description).

    Attributes
    ----------
    theta : float
        Direction of its centre from the LV axis, radians.
    zeta_tip, zeta_root : float
        Material heights of the tip (basal) and root (apical), mm.
    gap0 : float
        Blood gap between the muscle and the wall at the tip, mm.
    zeta_table, radius_table : ndarray (n,)
        ``R(ζ)`` sampled on ``[zeta_tip, zeta_root]`` (piecewise linear), mm.
    """

    theta: float
    zeta_tip: float
    zeta_root: float
    gap0: float
    zeta_table: np.ndarray
    radius_table: np.ndarray

    def radius(self, zeta):
        """``R(ζ)`` at end-diastole (0 outside the muscle), mm."""
        z = np.asarray(zeta, dtype=np.float64)
        r = np.interp(z, self.zeta_table, self.radius_table, left=0.0, right=0.0)
        return np.where((z >= self.zeta_tip) & (z <= self.zeta_root), r, 0.0)

    def gap(self, zeta):
        """Blood gap to the wall, mm: ``g0 (1 − v)²``."""
        v = np.clip((np.asarray(zeta, dtype=np.float64) - self.zeta_tip)
                    / (self.zeta_root - self.zeta_tip), 0.0, 1.0)
        return self.gap0 * (1.0 - v) ** 2

    def disc(self, geo: HeartGeometry, zeta, frame: int):
        """Centre distance ``r_c`` and radius ``R_f`` of the disc at ``(ζ, frame)``, mm."""
        z = np.asarray(zeta, dtype=np.float64)
        r_in, _, _ = geo.radii(np.full(z.shape, self.theta), z, frame)
        rf = self.radius(z) / np.sqrt(float(geo.s[frame]))
        return r_in - rf - self.gap(z), rf

    def volume_ml(self) -> float:
        """``∫ π R² dζ`` exactly for the piecewise-linear table (Simpson per segment), mL."""
        z, r = self.zeta_table, self.radius_table
        dz = np.diff(z)
        mid = 0.5 * (r[:-1] + r[1:])
        integral = np.sum(dz * (r[:-1] ** 2 + 4 * mid**2 + r[1:] ** 2) / 6.0)
        return float(np.pi * integral / 1000.0)

    def to_dict(self) -> dict:
        return {"theta_rad": self.theta, "zeta_tip_mm": self.zeta_tip,
                "zeta_root_mm": self.zeta_root, "gap_mm": self.gap0,
                "radius_max_mm": float(self.radius_table.max()),
                "volume_ml": self.volume_ml()}


def pm_disc_interval(rc, rf, dtheta):
    """Radial interval ``[r−, r+]`` of a disc (centre distance ``rc``, radius ``rf``) along a
    ray at angle ``dtheta`` from its centre direction; ``r− = r+ = 0`` where the ray misses.

    Examples
    --------
    >>> lo, hi = pm_disc_interval(np.array(10.0), np.array(2.0), np.array(0.0))
    >>> float(lo), float(hi)
    (8.0, 12.0)
    """
    c, s = np.cos(dtheta), np.sin(dtheta)
    disc = rf**2 - (rc * s) ** 2
    hit = (disc > 0) & (c > 0) & (rc > rf)
    root = np.sqrt(np.where(hit, disc, 0.0))
    lo = np.where(hit, rc * c - root, 0.0)
    hi = np.where(hit, rc * c + root, 0.0)
    return lo, hi


def build_papillary(geo: HeartGeometry, thetas, radius0_mm: float, gap_mm: float,
                    tip_frac: float, root_frac: float) -> tuple[PapillaryMuscle, ...]:
    """The two papillary muscles of ``geo`` (motion solved), radii capped to fit every frame.

    Parameters
    ----------
    thetas : (float, float)
        Directions, radians.
    radius0_mm, gap_mm : float
        Largest radius ``R0`` and tip gap ``g0``, mm.
    tip_frac, root_frac : float
        Tip and root positions as fractions of the base-to-endocardial-apex length.
    """
    span = geo.z_base + geo.L
    z_tip = -geo.z_base + tip_frac * span
    z_root = -geo.z_base + root_frac * span
    zt = np.linspace(z_tip, z_root, _N_TABLE)
    v = (zt - z_tip) / (z_root - z_tip)
    out = []
    for theta in thetas:
        pm = PapillaryMuscle(float(theta), z_tip, z_root, float(gap_mm), zt, np.zeros_like(zt))
        gap = pm.gap(zt)
        prof = radius0_mm * np.sqrt(np.clip(1.0 - (2.0 * v - 1.0) ** 2, 0.0, None))
        cap = np.full_like(zt, np.inf)
        for f in range(len(geo.s)):
            r_in, _, _ = geo.radii(np.full(zt.shape, float(theta)), zt, f)
            cap = np.minimum(cap, np.sqrt(float(geo.s[f])) * np.clip(r_in - gap, 0.0, None)
                             / PM_FIT)
        out.append(PapillaryMuscle(float(theta), z_tip, z_root, float(gap_mm), zt,
                                   np.minimum(prof, cap)))
    return tuple(out)


@dataclass(frozen=True)
class Trabeculation:
    """Thickness field ``τ(θ, ζ)`` of a trabecular layer (material coordinates, mm).

    Attributes
    ----------
    thickness_mm : float
        ``T``, the largest raw thickness.
    orders, phases, slopes, weights : ndarray (k,)
        Angular orders, phases (rad), axial phase slopes (rad/mm) and weights of the
        harmonics of ``n(θ, ζ)``.
    z_lo, z_hi : float
        Axial weight ``a(ζ)`` ramps from 0 at ``z_lo`` to 1 at ``z_hi`` (material heights;
        ``z_lo > z_hi`` ramps towards the base).
    cap_theta, cap_zeta, cap : ndarray
        Table of the largest allowed thickness (motion constraint) on a (ζ, θ) grid, mm.
    exclude : tuple of (float, float)
        Angular sectors ``(centre, half-width)`` (rad) without trabeculae.
    """

    thickness_mm: float
    orders: np.ndarray
    phases: np.ndarray
    slopes: np.ndarray
    weights: np.ndarray
    z_lo: float
    z_hi: float
    cap_theta: np.ndarray
    cap_zeta: np.ndarray
    cap: np.ndarray
    exclude: tuple = ()

    def raw(self, theta, zeta):
        """Uncapped ``T · a(ζ) · max(0, n)``, mm."""
        th = np.asarray(theta, dtype=np.float64)
        z = np.asarray(zeta, dtype=np.float64)
        n = 0.0
        for m, ph, sl, wt in zip(self.orders, self.phases, self.slopes, self.weights):
            n = n + wt * np.cos(m * th + sl * z + ph)
        a = np.clip((z - self.z_lo) / (self.z_hi - self.z_lo), 0.0, 1.0)
        t = self.thickness_mm * a * np.clip(n, 0.0, None)
        for centre, half in self.exclude:
            t = np.where(np.abs(wrap_angle(th - centre)) < half, 0.0, t)
        return t

    def thickness(self, theta, zeta):
        """``τ(θ, ζ)`` = min(raw, cap), mm (0 where the cap is 0)."""
        th = np.mod(np.asarray(theta, dtype=np.float64), 2 * np.pi)
        z = np.asarray(zeta, dtype=np.float64)
        cap = _bilinear(self.cap_zeta, self.cap_theta, self.cap, z, th)
        return np.minimum(self.raw(theta, zeta), cap)

    def to_dict(self) -> dict:
        return {"thickness_mm": self.thickness_mm, "orders": [int(v) for v in self.orders],
                "z_lo_mm": self.z_lo, "z_hi_mm": self.z_hi}


def _bilinear(zg, tg, table, z, th):
    """Bilinear interpolation of ``table`` (zeta, theta) on a uniform periodic theta grid."""
    nz, nt = table.shape
    fz = np.clip((z - zg[0]) / (zg[-1] - zg[0]) * (nz - 1), 0.0, nz - 1.000001)
    iz = np.floor(fz).astype(np.intp)
    wz = fz - iz
    ft = th / (2 * np.pi) * nt
    it = np.floor(ft).astype(np.intp) % nt
    wt = ft - np.floor(ft)
    it1 = (it + 1) % nt
    iz1 = np.minimum(iz + 1, nz - 1)
    v = ((1 - wz) * ((1 - wt) * table[iz, it] + wt * table[iz, it1])
         + wz * ((1 - wt) * table[iz1, it] + wt * table[iz1, it1]))
    return np.where((z >= zg[0]) & (z <= zg[-1]), v, 0.0)


def build_trabeculation(geo: HeartGeometry, side: str, thickness_mm: float, rng_values,
                        exclude=()) -> Trabeculation:
    """Trabecular layer of the LV (``side="lv"``) or RV (``"rv"``) with its motion cap.

    ``rng_values``: 24 uniform numbers in [0, 1) (orders, phases, slopes, weights). The cap
    keeps the layer within 45 % of the cavity area that survives at every frame, so the
    incompressible map of :mod:`suite.phantom.heart` is defined for every trabecular point.
    """
    u = np.asarray(rng_values, dtype=np.float64)
    k = 6
    lo_order, hi_order = (10, 22) if side == "lv" else (6, 14)
    orders = np.floor(lo_order + (hi_order - lo_order) * u[:k]).astype(float)
    phases = 2 * np.pi * u[k:2 * k]
    slopes = (u[2 * k:3 * k] - 0.5) * 0.3
    weights = 0.5 + u[3 * k:4 * k]
    weights = weights / weights.sum() * 1.6
    span = geo.z_base + geo.L
    if side == "lv":
        z_lo, z_hi = -geo.z_base + 0.35 * span, -geo.z_base + 0.8 * span
    else:
        z_lo, z_hi = -geo.z_base + 0.05 * span, -geo.z_base + 0.45 * span
    zg = np.linspace(-geo.z_base, max(geo.M, geo.L), 129)
    tg = np.arange(512) * (2 * np.pi / 512)
    th, z = tg[None, :], zg[:, None]
    cap = np.full((zg.size, tg.size), np.inf)
    for f in range(len(geo.s)):
        s = float(geo.s[f])
        r_in_f, r_out_f, h_f = geo.radii(th, z, f)
        if side == "lv":
            r_in_ed, _, _ = geo.radii(th, z, 0)
            # layer area 2 r τ − τ² must stay below 45 % of s r_in,f² (surviving area)
            budget = 0.45 * s * r_in_f**2
            cap = np.minimum(cap, _layer_depth(r_in_ed, budget))
        else:
            _, r_out_ed, h_ed = geo.radii(th, z, 0)
            outer_ed = r_out_ed + h_ed
            budget = 0.45 * s * ((r_out_f + h_f) ** 2 - r_out_f**2)
            cap = np.minimum(cap, np.minimum(_layer_depth(outer_ed, budget), 0.5 * h_ed))
    cap = np.where(np.isfinite(cap), np.clip(cap, 0.0, None), 0.0)
    return Trabeculation(float(thickness_mm), orders, phases, slopes, weights, z_lo, z_hi,
                         tg, zg, cap, tuple(exclude))


def _layer_depth(radius, area2):
    """Depth ``τ`` with ``radius² − (radius − τ)² = area2`` (clipped to the radius), mm."""
    inside = np.clip(radius**2 - np.clip(area2, 0.0, None), 0.0, None)
    return radius - np.sqrt(inside)
