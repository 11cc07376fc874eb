"""The whole heart at any frame: classification of points, material coordinates, motion truth.

:class:`HeartModel` combines the ventricles (:mod:`.anatomy`), papillary muscles and
trabeculae (:mod:`.papillary`), the structures above the base (:mod:`.atria`), epicardial
fat and pericardium (:mod:`.envelope`) and the scar (:mod:`.scar`). Every shape is defined
in the material (end-diastolic) configuration; a frame is rendered by mapping spatial points
back to material points, so the rendered images, the label maps and the displacement fields
describe one and the same motion.

Maps between material ``(ρ, θ, ζ)`` and spatial ``(r, θ, w)`` heart coordinates at frame
``f`` (``θ`` is kept; ``w ↔ ζ`` by the long-axis map of :class:`~.anatomy.HeartGeometry`):

==========================  ==========================================================
region                      radial map (``s = s_f``; ED quantities at material ``(θ, ζ)``)
==========================  ==========================================================
LV cavity, trabeculae,      area coordinate ``r² − r_in,f² = (ρ² − r_in,ED²) / s``
myocardium                  (incompressible: a material region keeps its volume; blood
                            in the ejected core has no position in systole)
papillary muscle ``j``      disc centre moves with the wall, offsets scale by
                            ``1/sqrt(s)``: ``p = c_f + (q − c_ED) / sqrt(s)``
RV cavity, RV trabeculae    area coordinate from the free wall:
                            ``R_f² − r² = (R_ED² − ρ²) / s``, ``R = r_out + h``
RV free wall                proportional between ``R`` and ``R + t_rv``
epicardial fat, pericardium translation with the outer surface ``S``
above the base              no radial motion
body                        static
==========================  ==========================================================

The pull-back displacement of :meth:`HeartModel.pullback` follows the scikit-image /
registration convention: ``u`` lives on the grid of the *fixed* frame ``B`` and
``I_A(x + u(x)) = I_B(x)`` for the *moving* frame ``A``, in mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.anatomy import HeartGeometry
from suite.phantom.atria import BaseStructures
from suite.phantom.envelope import GROOVE_BAND_MM, EpicardialFat
from suite.phantom.papillary import PapillaryMuscle, Trabeculation
from suite.phantom.scar import Scar
from suite.phantom.tissue import CLASS

__all__ = ["HeartModel", "REGIONS"]

#: Region codes of :meth:`HeartModel.decompose`.
REGIONS = {"outside": 0, "lv_blood": 1, "lv_papillary_0": 2, "lv_papillary_1": 3,
           "lv_trabeculae": 4, "lv_myo": 5, "rv_blood": 6, "rv_trabeculae": 7, "rv_wall": 8,
           "envelope": 9, "above_base": 10}
_R = REGIONS


@dataclass(frozen=True)
class _Decomposition:
    code: np.ndarray      # rendering class codes
    region: np.ndarray    # REGIONS codes
    theta: np.ndarray
    zeta: np.ndarray
    rho: np.ndarray       # material radius (NaN where undefined)
    qx: np.ndarray        # material in-plane position (papillary / above base)
    qy: np.ndarray


@dataclass(frozen=True)
class HeartModel:
    """A subject's heart: geometry with its motion solved, and every fine structure.

    Attributes
    ----------
    geo : HeartGeometry
    papillary : tuple of PapillaryMuscle
    lv_trabeculae, rv_trabeculae : Trabeculation
    base : BaseStructures
    fat : EpicardialFat
    scar : Scar or None
    """

    geo: HeartGeometry
    papillary: tuple[PapillaryMuscle, ...]
    lv_trabeculae: Trabeculation
    rv_trabeculae: Trabeculation
    base: BaseStructures
    fat: EpicardialFat
    scar: Scar | None

    @property
    def n_frames(self) -> int:
        return len(self.geo.s)

    # ------------------------------------------------------------------ surfaces
    def surfaces(self, theta, zeta, frame: int, angular=None):
        """``(r_in, r_out, h, R, t_rv, S)`` at material ``(θ, ζ)`` and ``frame``, mm
        (``angular``: precomputed angular profiles, :meth:`HeartGeometry.radii`)."""
        r_in, r_out, h = self.geo.radii(theta, zeta, frame, angular)
        t_rv = self.geo.rv_wall_thickness(h)
        big_r = r_out + h
        surface = np.where(h > 0, big_r + t_rv, r_out)
        return r_in, r_out, h, big_r, t_rv, surface

    # ------------------------------------------------------------------ classification
    def polar(self, x, y) -> tuple:
        """``(r, θ, infarct_angular, rv_angular, fat_angular)`` of in-plane heart points (flat
        arrays), for :meth:`decompose` (points sharing ``x, y`` share them)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        theta = np.arctan2(y, x)
        return (np.hypot(x, y), theta, self.geo.infarct_angular(theta),
                self.geo.rv_angular(theta), self.fat.angular(theta))

    def classify(self, x, y, w, frame: int, polar=None) -> np.ndarray:
        """Rendering class codes (:data:`suite.phantom.tissue.CLASS`) at spatial heart points
        ``(x, y, w)`` (mm, broadcast arrays) at ``frame``; 0 outside the heart. ``polar``:
        :meth:`polar` of ``x, y`` if already computed."""
        return self.decompose(x, y, w, frame, polar).code

    def decompose(self, x, y, w, frame: int, polar=None) -> _Decomposition:
        """Classes, regions and material coordinates of spatial heart points at ``frame``."""
        x, y, w = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, y, w)))
        shape = x.shape
        x, y, w = x.ravel(), y.ravel(), w.ravel()
        geo, f = self.geo, int(frame)
        s = float(geo.s[f])
        n = x.size
        code = np.zeros(n, np.uint8)
        region = np.zeros(n, np.uint8)
        rho = np.full(n, np.nan)
        qx, qy = x.copy(), y.copy()
        r, theta, inf_ang, rv_ang, fat_ang = self.polar(x, y) if polar is None else polar
        zeta = geo.material_zeta(w, f)

        # -- ventricles and their envelope ------------------------------------------
        reach = self.reach_mm
        vent = np.flatnonzero((zeta >= -geo.z_base) & (r < reach)
                              & (zeta < geo.M + self.fat.max_thickness()
                                 + self.fat.pericardium_mm + 1.0))
        if vent.size:
            th, ze, rr = theta[vent], zeta[vent], r[vent]
            ang = (inf_ang[vent], rv_ang[vent])
            r_in, r_out, h, big_r, t_rv, surf = self.surfaces(th, ze, f, ang)
            fat = self.fat.thickness(th, ze, fat_ang[vent])
            beyond = np.clip(ze - geo.M, 0.0, None)
            f_eff = np.sqrt(np.clip(fat**2 - beyond**2, 0.0, None))
            p_eff = np.sqrt(np.clip((fat + self.fat.pericardium_mm) ** 2 - beyond**2, 0.0, None))
            c = np.zeros(vent.size, np.uint8)
            reg = np.zeros(vent.size, np.uint8)
            c[rr < surf + p_eff] = CLASS["pericardium"]
            c[rr < surf + f_eff] = CLASS["epicardial_fat"]
            reg[c > 0] = _R["envelope"]
            rv_any = h > 0
            m = rv_any & (rr >= big_r) & (rr < surf)
            c[m], reg[m] = CLASS["rv_wall"], _R["rv_wall"]
            m = (rr >= r_out) & (rr < big_r)
            c[m], reg[m] = CLASS["rv_blood"], _R["rv_blood"]
            m = rr < r_out
            c[m], reg[m] = CLASS["lv_myo"], _R["lv_myo"]
            m = rr < r_in
            c[m], reg[m] = CLASS["lv_blood"], _R["lv_blood"]
            rho_v = np.full(vent.size, np.nan)
            qx_v, qy_v = x[vent].copy(), y[vent].copy()
            self._refine_lv(f, s, th, ze, rr, r_in, c, reg, rho_v, qx_v, qy_v, x[vent], y[vent],
                            ang)
            self._refine_rv(f, s, th, ze, rr, big_r, t_rv, c, reg, rho_v, ang)
            env = reg == _R["envelope"]
            if env.any():
                _, _, _, _, _, surf_ed = self.surfaces(th[env], ze[env], 0,
                                                       (ang[0][env], ang[1][env]))
                rho_v[env] = rr[env] - (surf[env] - surf_ed)
            code[vent], region[vent], rho[vent] = c, reg, rho_v
            qx[vent], qy[vent] = qx_v, qy_v

        # -- above the base: AV-groove fat, atria, valves, vessels --------------------
        up = zeta < -geo.z_base
        near = (zeta >= -geo.z_base - GROOVE_BAND_MM) & (r < reach)
        for centre, radius in self.base.bounding_spheres():
            near |= (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (zeta - centre[2]) ** 2 \
                < radius**2
        up = np.flatnonzero(up & near)
        if up.size:
            th, ze, rr = theta[up], zeta[up], r[up]
            c = np.zeros(up.size, np.uint8)
            reg = np.zeros(up.size, np.uint8)
            rho_u = np.full(up.size, np.nan)
            band = np.flatnonzero(ze >= -geo.z_base - GROOVE_BAND_MM)
            if band.size:
                zb = np.full(band.size, -geo.z_base)
                ub = up[band]
                ang_b = (inf_ang[ub], rv_ang[ub])
                *_, surf_b = self.surfaces(th[band], zb, f, ang_b)
                *_, surf_b0 = self.surfaces(th[band], zb, 0, ang_b)
                fat_b = self.fat.thickness(th[band], zb, fat_ang[ub])
                cb = np.zeros(band.size, np.uint8)
                cb[rr[band] < surf_b + fat_b + self.fat.pericardium_mm] = CLASS["pericardium"]
                cb[rr[band] < surf_b + fat_b] = CLASS["epicardial_fat"]
                c[band] = cb
                reg[band[cb > 0]] = _R["envelope"]
                rho_u[band] = rr[band] - (surf_b - surf_b0)
            b = self.base.classify(x[up], y[up], ze)
            c = np.where(b > 0, b, c)
            reg[b > 0] = _R["above_base"]
            code[up], region[up] = c, reg
            rho[up] = np.where(reg == _R["envelope"], rho_u, np.nan)
        return _Decomposition(code.reshape(shape), region.reshape(shape),
                              theta.reshape(shape), zeta.reshape(shape), rho.reshape(shape),
                              qx.reshape(shape), qy.reshape(shape))

    def _refine_lv(self, f, s, th, ze, rr, r_in, c, reg, rho_v, qx_v, qy_v, x, y, ang):
        """Papillary muscles, trabeculae and scar inside the LV (in place)."""
        geo = self.geo
        lv = np.flatnonzero((reg == _R["lv_blood"]) | (reg == _R["lv_myo"]))
        if not lv.size:
            return
        r_in_ed, r_out_ed, _ = geo.radii(th[lv], ze[lv], 0, (ang[0][lv], ang[1][lv]))
        rho2 = r_in_ed**2 + s * (rr[lv] ** 2 - r_in[lv] ** 2)
        rho = np.sqrt(np.clip(rho2, 0.0, None))
        rho_v[lv] = np.where(rho2 >= 0, rho, np.nan)
        cav = reg[lv] == _R["lv_blood"]
        # trabeculae: within τ of the end-diastolic endocardium (material)
        near = np.flatnonzero(cav & (rho2 >= 0)
                              & (rho >= r_in_ed - self.lv_trabeculae.thickness_mm * 1.6))
        if near.size:
            tau = self.lv_trabeculae.thickness(th[lv[near]], ze[lv[near]])
            k = lv[near[(tau > 0) & (rho[near] >= r_in_ed[near] - tau)]]
            c[k], reg[k] = CLASS["lv_trabeculae"], _R["lv_trabeculae"]
        # papillary muscles (priority over trabeculae)
        for j, pm in enumerate(self.papillary):
            sel = cav & (ze[lv] >= pm.zeta_tip) & (ze[lv] <= pm.zeta_root)
            if not sel.any():
                continue
            idx = lv[sel]
            rc, rf = pm.disc(geo, ze[idx], f)
            cx, cy = rc * np.cos(pm.theta), rc * np.sin(pm.theta)
            inside = (x[idx] - cx) ** 2 + (y[idx] - cy) ** 2 < rf**2
            if inside.any():
                k = idx[inside]
                c[k], reg[k] = CLASS["lv_papillary"], _R["lv_papillary_0"] + j
                rc0, _ = pm.disc(geo, ze[k], 0)
                g = np.sqrt(s)
                qx_v[k] = rc0 * np.cos(pm.theta) + (x[k] - cx[inside]) * g
                qy_v[k] = rc0 * np.sin(pm.theta) + (y[k] - cy[inside]) * g
                rho_v[k] = np.hypot(qx_v[k], qy_v[k])
        if self.scar is not None:
            myo = lv[~cav]
            if myo.size:
                scar, mvo = self.scar.masks(th[myo], ze[myo], rho_v[myo],
                                            r_in_ed[~cav], r_out_ed[~cav])
                c[myo[scar]] = CLASS["scar"]
                c[myo[mvo]] = CLASS["mvo"]

    def _refine_rv(self, f, s, th, ze, rr, big_r, t_rv, c, reg, rho_v, ang):
        """RV trabeculae (in place) and RV material radii."""
        geo = self.geo
        rv = np.flatnonzero((reg == _R["rv_blood"]) | (reg == _R["rv_wall"]))
        if not rv.size:
            return
        _, r_out_ed, h_ed = geo.radii(th[rv], ze[rv], 0, (ang[0][rv], ang[1][rv]))
        big_ed = r_out_ed + h_ed
        t_ed = geo.rv_wall_thickness(h_ed)
        cav = reg[rv] == _R["rv_blood"]
        rho2 = big_ed**2 - s * (big_r[rv] ** 2 - rr[rv] ** 2)
        rho_cav = np.where(rho2 >= 0, np.sqrt(np.clip(rho2, 0.0, None)), np.nan)
        safe_t = np.where(t_rv[rv] > 0, t_rv[rv], 1.0)
        rho_wall = big_ed + (rr[rv] - big_r[rv]) * np.where(t_rv[rv] > 0, t_ed / safe_t, 0.0)
        rho_v[rv] = np.where(cav, rho_cav, rho_wall)
        near = np.flatnonzero(cav & (rho2 >= 0)
                              & (rho_cav >= big_ed - self.rv_trabeculae.thickness_mm * 1.6))
        if near.size:
            tau = self.rv_trabeculae.thickness(th[rv[near]], ze[rv[near]])
            k = rv[near[(tau > 0) & (rho_cav[near] >= big_ed[near] - tau)]]
            c[k], reg[k] = CLASS["rv_trabeculae"], _R["rv_trabeculae"]

    # ------------------------------------------------------------------ motion truth
    def forward(self, dec: _Decomposition, frame: int):
        """Spatial heart positions ``(..., 3)`` at ``frame`` of the material points of ``dec``
        and a validity mask (False outside the heart or where the point has no position,
        e.g. blood ejected from the cavity's core)."""
        geo, f = self.geo, int(frame)
        s = float(geo.s[f])
        reg, th, ze, rho = dec.region, dec.theta, dec.zeta, dec.rho
        zs = np.maximum(ze, -geo.z_base)   # the AV-groove band follows the base outline
        r_in, r_out, h, big_r, t_rv, surf = self.surfaces(th, zs, f)
        r_in_ed, _, h_ed, big_ed, t_ed, surf_ed = self.surfaces(th, zs, 0)
        r_new = np.full(reg.shape, np.nan)
        area = np.isin(reg, (_R["lv_blood"], _R["lv_trabeculae"], _R["lv_myo"]))
        val = r_in**2 + (rho**2 - r_in_ed**2) / s
        r_new[area] = np.sqrt(np.where(val[area] >= 0, val[area], np.nan))
        rvc = np.isin(reg, (_R["rv_blood"], _R["rv_trabeculae"]))
        val = big_r**2 - (big_ed**2 - rho**2) / s
        r_new[rvc] = np.sqrt(np.where(val[rvc] >= 0, val[rvc], np.nan))
        wall = reg == _R["rv_wall"]
        ratio = np.where(t_ed > 0, t_rv / np.where(t_ed > 0, t_ed, 1.0), 0.0)
        r_new[wall] = (big_r + (rho - big_ed) * ratio)[wall]
        env = reg == _R["envelope"]
        r_new[env] = (rho + (surf - surf_ed))[env]
        px, py = r_new * np.cos(th), r_new * np.sin(th)
        for j, pm in enumerate(self.papillary):
            sel = reg == _R["lv_papillary_0"] + j
            if sel.any():
                rc0, _ = pm.disc(geo, ze[sel], 0)
                rc, _ = pm.disc(geo, ze[sel], f)
                g = 1.0 / np.sqrt(s)
                px[sel] = rc * np.cos(pm.theta) + (dec.qx[sel] - rc0 * np.cos(pm.theta)) * g
                py[sel] = rc * np.sin(pm.theta) + (dec.qy[sel] - rc0 * np.sin(pm.theta)) * g
        above = reg == _R["above_base"]
        px[above], py[above] = dec.qx[above], dec.qy[above]
        pw = geo.spatial_w(ze, f)
        valid = (reg != _R["outside"]) & np.isfinite(px) & np.isfinite(py) & \
            ~(np.isfinite(r_new) & (r_new < 0))
        return np.stack([px, py, pw], axis=-1), valid

    def pullback(self, points, moving_frame: int, fixed_frame: int):
        """Pull-back displacement from frame ``moving_frame`` onto ``fixed_frame``.

        Parameters
        ----------
        points : ndarray (..., 3)
            Spatial heart coordinates (x, y, w), mm, of grid points of the fixed frame.
        moving_frame, fixed_frame : int

        Returns
        -------
        u : ndarray (..., 3), float64, mm
            ``u(x) = φ_moving(φ_fixed⁻¹(x)) − x``: the material point at ``x`` in the fixed
            frame sits at ``x + u`` in the moving frame, so ``I_moving(x + u) = I_fixed(x)``.
            0 outside the heart (static body).
        valid : ndarray (...), bool
            False outside the heart and where the point has no position in the moving frame
            (blood of the cavity's core ejected in systole); ``u`` is 0 there.
        """
        p = np.asarray(points, dtype=np.float64)
        dec = self.decompose(p[..., 0], p[..., 1], p[..., 2], fixed_frame)
        q, valid = self.forward(dec, moving_frame)
        u = np.where(valid[..., None], q - p, 0.0)
        return u, valid

    # ------------------------------------------------------------------ landmarks
    def landmarks(self, frame: int) -> dict[str, np.ndarray]:
        """Anatomical landmarks at ``frame``, spatial heart coordinates (3,), mm.

        ``lv_apex`` (epicardial apex on the LV axis; fixed), ``lv_apex_endocardial``,
        ``lv_base_centre`` (LV axis in the base plane), the valve centres
        ``mitral_valve``, ``aortic_valve``, ``tricuspid_valve``, ``pulmonary_valve``, the RV
        insertion points ``rv_insertion_anterior`` / ``rv_insertion_inferior`` and the
        ``rv_acute_margin`` at the mid-ventricular level (half-way from the base to the
        endocardial apex); the acute margin (where the RV's diaphragmatic and free walls meet)
        is taken as the outermost point of the RV's free wall there.
        """
        geo, f = self.geo, int(frame)
        out = {"lv_apex": np.array([0.0, 0.0, geo.spatial_w(geo.M, f)]),
               "lv_apex_endocardial": np.array([0.0, 0.0, float(geo.spatial_w(geo.L, f))]),
               "lv_base_centre": np.array([0.0, 0.0, float(geo.spatial_w(-geo.z_base, f))])}
        for name, v in self.base.landmarks().items():
            out[name] = np.array([v[0], v[1], float(geo.spatial_w(v[2], f))])
        zm = self.mid_zeta
        wm = float(geo.spatial_w(zm, f))
        for name, sign in (("rv_insertion_anterior", 1.0), ("rv_insertion_inferior", -1.0)):
            th = geo.rv_angle + sign * geo.rv_halfwidth
            _, r_out, _ = geo.radii(np.array(th), np.array(zm), f)
            out[name] = np.array([float(r_out) * np.cos(th), float(r_out) * np.sin(th), wm])
        th = geo.rv_angle + np.linspace(-geo.rv_halfwidth, geo.rv_halfwidth, 721)
        *_, surf = self.surfaces(th, np.full(th.shape, zm), f)
        k = int(np.argmax(surf))
        out["rv_acute_margin"] = np.array([surf[k] * np.cos(th[k]), surf[k] * np.sin(th[k]), wm])
        return out

    @property
    def reach_mm(self) -> float:
        """Upper bound of the radius of any ventricular structure with its envelope, mm."""
        cached = self.__dict__.get("_reach")
        if cached is None:
            geo = self.geo
            cached = (geo.b / np.sqrt(float(np.min(geo.s))) + float(np.max(geo.h0))
                      + geo.rv_wall + self.fat.max_thickness() + self.fat.pericardium_mm + 1.0)
            object.__setattr__(self, "_reach", cached)
        return cached

    @property
    def mid_zeta(self) -> float:
        """Material mid-ventricular height (half-way from the base to the endocardial apex)."""
        return -self.geo.z_base + 0.5 * (self.geo.z_base + self.geo.L)

    # ------------------------------------------------------------------ extents
    def ventricle_extent(self, n_theta: int = 360, n_z: int = 96) -> np.ndarray:
        """Largest radius of the ventricles with fat and pericardium per direction
        ``θ = 2πk/n`` over frames and heights, mm, shape (n_theta,)."""
        geo = self.geo
        theta = np.arange(n_theta) * (2 * np.pi / n_theta)
        z = np.linspace(-geo.z_base, geo.M, n_z)[:, None]
        out = np.zeros(n_theta)
        for f in range(self.n_frames):
            *_, surf = self.surfaces(theta[None, :], z, f)
            fat = self.fat.thickness(theta[None, :], z) + self.fat.pericardium_mm
            out = np.maximum(out, (surf + fat).max(axis=0))
        return out

    def contains_inflated(self, x, y, w, margin: float, extent: np.ndarray) -> np.ndarray:
        """True at heart points within ``margin`` mm of where the heart can be (ventricles with
        ``extent`` per direction, atria and vessels at end-diastole inflated by the margin plus
        the base descent); used to keep the lungs off the heart."""
        x, y, w = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (x, y, w)))
        geo = self.geo
        n = extent.size
        k = np.round(np.mod(np.arctan2(y, x), 2 * np.pi) / (2 * np.pi) * n).astype(np.intp) % n
        top = -geo.z_base - GROOVE_BAND_MM - margin
        cap = geo.M + self.fat.max_thickness() + self.fat.pericardium_mm + margin
        inside = (np.hypot(x, y) < extent[k] + margin) & (w > top) & (w < cap)
        descent = max(geo.base_descent_mm(f) for f in range(self.n_frames))
        grow = margin + descent + self.base.wall_mm
        for ell in (self.base.la, self.base.ra):
            c, a = ell.centre, ell.axes + grow
            inside |= ((x - c[0]) / a[0]) ** 2 + ((y - c[1]) / a[1]) ** 2 + \
                ((w - c[2]) / a[2]) ** 2 < 1.0
        for cyl in (self.base.aorta, self.base.rvot, self.base.pa):
            t, d = cyl.coords(x, y, w)
            inside |= (t > -grow) & (t < cyl.length + grow) & (d < cyl.radius + grow)
        return inside

    def to_dict(self) -> dict:
        return {"ventricles": self.geo.to_dict(),
                "papillary_muscles": [p.to_dict() for p in self.papillary],
                "lv_trabeculae": self.lv_trabeculae.to_dict(),
                "rv_trabeculae": self.rv_trabeculae.to_dict(),
                "base": self.base.to_dict(), "fat": self.fat.to_dict(),
                "scar": None if self.scar is None else self.scar.to_dict()}

