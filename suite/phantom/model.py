"""One subject's phantom in scanner coordinates: heart, motion, body, landmarks.

:func:`build_model` turns the drawn :class:`~suite.phantom.subject.SubjectParams` into a
:class:`PhantomModel`: the ventricles with their motion solved (:mod:`.volumes`), the papillary
muscles, trabeculae, atria, valves, great vessels, epicardial fat and pericardium, the scar,
the heart's frame in scanner (LPS) coordinates (:mod:`.orientation`) and the static body
(:mod:`.body`). Everything views, contrasts and truth need is derived from it; it has no
image grid. ``simulate`` stores it as ``case.truth["model"]`` so that motion truth
(:func:`suite.phantom.motion_truth.displacement_field`) and landmarks can be computed for any
frame pair afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.atria import BaseStructures, Cylinder, Ellipsoid
from suite.phantom.body import BodyLayout
from suite.phantom.envelope import EpicardialFat
from suite.phantom.heart import HeartModel
from suite.phantom.orientation import HeartFrame, heart_frame, unit
from suite.phantom.papillary import build_papillary, build_trabeculation
from suite.phantom.scar import Scar
from suite.phantom.subject import SubjectParams
from suite.phantom.volumes import HeartMotion, build_heart

__all__ = ["PhantomModel", "build_model"]

#: Lungs are kept this far (mm) from every position the heart can take.
LUNG_MARGIN_MM = 4.0


@dataclass(frozen=True)
class PhantomModel:
    """A subject's heart, its motion and its body, in scanner coordinates.

    Attributes
    ----------
    subject : SubjectParams
    motion : HeartMotion
        Frames, phases, ES frame, RR interval and the ventricular geometry.
    heart : HeartModel
    frame : HeartFrame
        Heart axes and origin in LPS.
    body : BodyLayout
    extent : ndarray (360,)
        Largest radius of the ventricles with fat and pericardium per direction, mm.
    """

    subject: SubjectParams
    motion: HeartMotion
    heart: HeartModel
    frame: HeartFrame
    body: BodyLayout
    extent: np.ndarray

    @property
    def n_frames(self) -> int:
        return self.heart.n_frames

    def mediastinum(self, points, margin: float) -> np.ndarray:
        """True at scanner points ``(..., 3)`` within ``margin`` mm of the reachable heart."""
        h = self.frame.to_heart(points)
        return self.heart.contains_inflated(h[..., 0], h[..., 1], h[..., 2], margin,
                                            self.extent)

    def landmarks(self, frame: int) -> dict[str, np.ndarray]:
        """Landmarks of :meth:`HeartModel.landmarks` at ``frame`` in scanner coordinates
        (LPS, mm), without respiratory displacement."""
        return {k: self.frame.to_scanner(v) for k, v in self.heart.landmarks(frame).items()}


def _base_structures(s: SubjectParams, geo, frame: HeartFrame, size: float,
                     rv_size: float) -> BaseStructures:
    b = s.base
    zb = -geo.z_base
    r_base = geo.a_ed * float(geo.endo_profile(np.array(zb)))
    mv_r, av_r = 0.55 * r_base, 0.4 * r_base
    th_mv = b["mv_angle_rad"]
    mv = np.array([0.3 * r_base * np.cos(th_mv), 0.3 * r_base * np.sin(th_mv), zb])
    th_av = th_mv + np.pi + b["av_offset_rad"]
    av = mv + (mv_r + av_r) * np.array([np.cos(th_av), np.sin(th_av), 0.0])
    av[2] = zb

    def rv_point(theta):
        _, r_out, h = geo.radii(np.array(theta), np.array(zb), 0)
        r = float(r_out) + 0.5 * float(h)
        return np.array([r * np.cos(theta), r * np.sin(theta), zb]), float(h)

    tv, h_tv = rv_point(geo.rv_angle - 0.35 * geo.rv_halfwidth)
    ro_theta = geo.rv_angle + 0.5 * geo.rv_halfwidth
    ro_start, _ = rv_point(ro_theta)
    d_ro = unit([0.35 * np.cos(ro_theta), 0.35 * np.sin(ro_theta), -1.0])
    pa_r = b["pa_radius_mm"]
    pv = ro_start + 22.0 * d_ro

    def upward(lps_dir):
        d = unit(frame.vector_to_heart(unit(lps_dir)))
        if d[2] > -0.3:                      # keep the vessel rising away from the base
            d = unit(d + np.array([0.0, 0.0, -0.3 - d[2]]))
        return d

    la_axes = np.array([24.0, 20.0, 28.0]) * b["atrial_scale"] * size
    ra_axes = np.array([24.0, 22.0, 28.0]) * b["ra_scale"] * rv_size
    la = Ellipsoid(mv + np.array([0.0, 6.0, -0.55 * la_axes[2]]), la_axes)
    ra = Ellipsoid(tv + np.array([-6.0, 0.0, -0.55 * ra_axes[2]]), ra_axes)
    return BaseStructures(
        mv=mv, av=av, tv=tv, pv=pv, mv_radius=mv_r, av_radius=av_r,
        tv_radius=float(min(15.0, 0.5 * h_tv + 6.0)), pv_radius=0.9 * pa_r,
        la=la, ra=ra,
        aorta=Cylinder(av, upward(b["aorta_dir_lps"]), b["aorta_radius_mm"], 65.0),
        rvot=Cylinder(ro_start, d_ro, 0.9 * pa_r, 22.0),
        pa=Cylinder(pv, upward(b["pa_dir_lps"]), pa_r, 45.0),
        wall_mm=2.0, z_base=geo.z_base)


def build_model(subject: SubjectParams, n_frames: int, phases=None) -> PhantomModel:
    """Build the subject's phantom (geometry, motion, fine anatomy, body; no images).

    Parameters
    ----------
    subject : SubjectParams
    n_frames : int
        Cine frames over one RR interval.
    phases : sequence of float, optional
        Explicit RR phases instead (:func:`suite.phantom.volumes.build_heart`).
    """
    s = subject
    motion = build_heart(s, n_frames, phases)
    geo = motion.geometry
    frame = heart_frame(s.heart_origin_mm, s.long_axis_azimuth_deg, s.long_axis_elevation_deg)
    size = (s.lv_edv_ml / 130.0) ** (1.0 / 3.0)
    rv_size = (s.rv_edv_ml / 140.0) ** (1.0 / 3.0)
    pm = s.papillary
    papillary = build_papillary(geo, pm["thetas_rad"], pm["radius_mm"], pm["gap_mm"],
                                pm["tip_frac"], pm["root_frac"])
    exclude = []
    for muscle in papillary:
        half = 0.0
        for f in range(len(geo.s)):
            rc, rf = muscle.disc(geo, muscle.zeta_table, f)
            ok = rc > 0
            if ok.any():
                half = max(half, float(np.arcsin(np.clip(rf[ok] / rc[ok], 0, 1)).max()))
        exclude.append((muscle.theta, half + np.deg2rad(6.0)))
    tr = s.trabeculation
    lv_trab = build_trabeculation(geo, "lv", tr["lv_mm"], tr["lv_u"], exclude)
    rv_trab = build_trabeculation(geo, "rv", tr["rv_mm"], tr["rv_u"])
    ef = s.epicardial_fat
    fat = EpicardialFat(ef["f0_mm"], ef["groove_mm"], ef["av_mm"],
                        (geo.rv_angle + geo.rv_halfwidth, geo.rv_angle - geo.rv_halfwidth),
                        geo.z_base, ef["pericardium_mm"])
    base = _base_structures(s, geo, frame, size, rv_size)
    scar = None
    if geo.infarct is not None:
        inf = geo.infarct
        scar = Scar(inf["centre_rad"], inf["halfwidth_rad"], geo.infarct_z_start() + 4.0,
                    geo.M, float(np.clip(s.transmurality, 0.05, 1.0)),
                    float(np.clip(s.mvo_depth, 0.0, 1.0)))
    heart = HeartModel(geo, papillary, lv_trab, rv_trab, base, fat, scar)
    extent = heart.ventricle_extent()
    body = _body_layout(s, heart, frame, extent)
    return PhantomModel(s, motion, heart, frame, body, extent)


def _body_layout(s: SubjectParams, heart: HeartModel, frame: HeartFrame,
                 extent: np.ndarray) -> BodyLayout:
    """Diaphragm domes placed under the heart's lowest (most inferior) point."""
    geo = heart.geo
    theta = np.arange(extent.size) * (2 * np.pi / extent.size)
    z = np.linspace(-geo.z_base, geo.M, 48)
    tt, zz = np.meshgrid(theta, z)
    _, r_out, _ = geo.radii(tt, zz, 0)
    pts = np.stack([r_out * np.cos(tt), r_out * np.sin(tt), zz], axis=-1)
    bottom = float(frame.to_scanner(pts)[..., 2].min())
    return BodyLayout(tuple(float(v) for v in s.body_axes_mm), float(s.fat_mm),
                      dome_left_z=bottom - 3.0, dome_right_z=bottom + 15.0)
