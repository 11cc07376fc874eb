"""Analytic chamber volumes of the heart geometry and the per-frame motion solve.

Volumes are double integrals over ``(θ, z)`` of closed-form radii
(:class:`~suite.phantom.anatomy.HeartGeometry`):

* LV cavity ``s_f · ½ ∬ r_in² dθ dζ``; myocardium ``s_f · ½ ∬ (r_out² − r_in²) dθ dζ``
  (constant: the wall term is ``D / s_f``);
* RV cavity ``s_f · ∬ (r_out h + ½ h²) dθ dζ``;

(``s_f`` the long-axis scale of the frame, ``ζ`` the material height; these are the smooth
envelopes, papillary muscles and trabeculae included, the ACDC cavities). The papillary
muscles, trabecular layers and the scar are integrated the same way
(:func:`detail_volumes_ml`).

``θ`` uses the periodic trapezoid rule on 2048 points (spectrally accurate for smooth
periodic integrands), ``z`` composite Gauss–Legendre (64 nodes per piece) split at every
kink (base, apices, infarct ramp, RV apex). Nothing here uses the image grid, so these are
the independent truth that voxel counts are compared with. Without an infarct the LV
volume has the closed form ``π a² (2L/3 + z_b − z_b³/(3L²))`` (tested).

Because the LV volume is quadratic in the remote radius ``a`` and the RV volume quadratic
in the crescent scale ``h0``, both are solved exactly per frame for a target volume curve,
after the long-axis scale ``s_f = 1 − d_f / (M + z_base)`` of the base descent
``d_f = AVPD · (1 − g_f)`` (``g`` the normalised volume curve, :mod:`suite.phantom.motion`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from suite.phantom.anatomy import INFARCT_RAMP_Z_MM, HeartGeometry
from suite.phantom.motion import es_phase, filling_curve
from suite.phantom.subject import SubjectParams

__all__ = ["Quadrature", "quadrature", "chamber_volumes_ml", "detail_volumes_ml", "build_heart",
           "HeartMotion", "integrate"]

_N_THETA = 2048
_N_GL = 64


@dataclass(frozen=True)
class Quadrature:
    """Tensor quadrature on ``(z, θ)``: nodes and weights (mm, radians)."""

    z: np.ndarray
    wz: np.ndarray
    theta: np.ndarray
    wtheta: float


def quadrature(geo: HeartGeometry) -> Quadrature:
    """Composite Gauss–Legendre in z (split at kinks) × periodic trapezoid in θ."""
    lo, hi = -geo.z_base, max(geo.M, geo.L)
    cuts = {lo, hi, geo.L, geo.M, -geo.z_base + geo.rv_length}
    if geo.infarct is not None:
        z0 = -geo.z_base + geo.infarct["z_start_frac"] * (geo.z_base + geo.L)
        cuts |= {z0, z0 + INFARCT_RAMP_Z_MM}
    edges = np.array(sorted(c for c in cuts if lo <= c <= hi))
    x, w = np.polynomial.legendre.leggauss(_N_GL)
    zs, ws = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        if b - a < 1e-9:
            continue
        zs.append(0.5 * (b - a) * x + 0.5 * (a + b))
        ws.append(0.5 * (b - a) * w)
    theta = np.arange(_N_THETA) * (2.0 * np.pi / _N_THETA)
    return Quadrature(np.concatenate(zs), np.concatenate(ws), theta, 2.0 * np.pi / _N_THETA)


def integrate(q: Quadrature, f: np.ndarray) -> float:
    """``∬ f dθ dz`` for ``f`` of shape (z, θ)."""
    return float(q.wz @ f.sum(axis=1) * q.wtheta)


def chamber_volumes_ml(geo: HeartGeometry, frame: int, q: Quadrature | None = None):
    """LV cavity, LV myocardium and RV cavity volumes at ``frame``, mL.

    Returns
    -------
    (lv, myo, rv) : floats, mL
    """
    q = quadrature(geo) if q is None else q
    s = float(geo.s[frame])
    r_in, r_out, h = geo.radii(q.theta[None, :], q.z[:, None], frame)
    lv = 0.5 * integrate(q, r_in**2)
    myo = 0.5 * integrate(q, r_out**2 - r_in**2)
    rv = integrate(q, r_out * h + 0.5 * h**2)
    return s * lv / 1000.0, s * myo / 1000.0, s * rv / 1000.0


def detail_volumes_ml(model, frames, q: Quadrature | None = None) -> dict:
    """Volumes of the structures inside the envelopes at ``frames``, mL.

    Parameters
    ----------
    model : suite.phantom.heart.HeartModel
    frames : sequence of int
    q : Quadrature, optional

    Returns
    -------
    dict
        ``lv_papillary_ml`` ndarray (frame,): both muscles, the part of each disc inside the
        cavity (``∫ π R² dζ`` when no disc crosses the endocardium, else corrected by polar
        quadrature of the clipped part); ``lv_trabeculae_ml``, ``rv_trabeculae_ml`` (material
        layers, constant); ``scar_ml`` and ``mvo_ml`` (0 without a scar).
    """
    from suite.phantom.papillary import pm_disc_interval

    geo = model.geo
    q = quadrature(geo) if q is None else q
    x, wx = np.polynomial.legendre.leggauss(32)
    pm = np.zeros(len(frames))
    for muscle in model.papillary:
        edges = np.linspace(muscle.zeta_tip, muscle.zeta_root, 5)
        zs = np.concatenate([0.5 * (b - a) * x + 0.5 * (a + b) for a, b in zip(edges, edges[1:])])
        ws = np.concatenate([0.5 * (b - a) * wx for a, b in zip(edges, edges[1:])])
        exact = muscle.volume_ml()
        for i, f in enumerate(frames):
            s = float(geo.s[f])
            rc, rf = muscle.disc(geo, zs, f)
            half = float(np.max(np.arcsin(np.clip(rf / np.maximum(rc, 1e-9), 0.0, 1.0))))
            th = muscle.theta + np.linspace(-half, half, 257)[None, :]
            wt = th[0, 1] - th[0, 0]
            r_in, _, _ = geo.radii(th, zs[:, None], f)
            lo, hi = pm_disc_interval(rc[:, None], rf[:, None], th - muscle.theta)
            full = np.clip(hi**2 - lo**2, 0.0, None)
            hic = np.minimum(hi, r_in)
            clipped = np.clip(hic**2 - lo**2, 0.0, None) * (hic > lo)
            lost = 0.5 * s * float(ws @ (full - clipped).sum(axis=1)) * wt / 1000.0
            pm[i] += exact - lost
    th, z = q.theta[None, :], q.z[:, None]
    r_in_ed, r_out_ed, h_ed = geo.radii(th, z, 0)
    tau = model.lv_trabeculae.thickness(th, z)
    lv_trab = 0.5 * integrate(q, r_in_ed**2 - np.clip(r_in_ed - tau, 0.0, None) ** 2)
    big = r_out_ed + h_ed
    tau_rv = model.rv_trabeculae.thickness(th, z)
    rv_trab = 0.5 * integrate(q, big**2 - np.clip(big - tau_rv, 0.0, None) ** 2)
    scar, mvo = (0.0, 0.0) if model.scar is None else model.scar.volumes_ml(geo)
    return {"lv_papillary_ml": pm, "lv_trabeculae_ml": lv_trab / 1000.0,
            "rv_trabeculae_ml": rv_trab / 1000.0, "scar_ml": scar, "mvo_ml": mvo}


@dataclass(frozen=True)
class HeartMotion:
    """The geometry with its motion solved, and the cardiac timing.

    Attributes
    ----------
    geometry : HeartGeometry
    phases : ndarray (frame,)
        RR phase of each frame.
    es_frame : int
    rr_ms : float
    """

    geometry: HeartGeometry
    phases: np.ndarray
    es_frame: int
    rr_ms: float
    es_phase: float = 0.0


def _positive_root(qa: float, qb: float, qc: float) -> float:
    """Positive root of ``qa x² + qb x + qc = 0`` (qa > 0), NaN if none."""
    disc = qb * qb - 4.0 * qa * qc
    if disc < 0:
        return float("nan")
    return (-qb + np.sqrt(disc)) / (2.0 * qa)


def build_heart(subject: SubjectParams, n_frames: int, phases=None) -> HeartMotion:
    """Heart geometry of ``subject`` with per-frame radii solved for its volume curves.

    Parameters
    ----------
    subject : SubjectParams
    n_frames : int
        Frames over one RR interval (≥ 2); frame ``f`` at phase ``f / n_frames``.
    phases : sequence of float, optional
        Explicit RR phases of the frames instead (e.g. one diastolic phase for LGE); the ES
        frame is then the frame of smallest volume.

    Returns
    -------
    HeartMotion

    Raises
    ------
    ValueError
        If the LV target cannot be reached (remote radius below 20 % of ED; e.g. a high
        EF override with a large infarct).

    Notes
    -----
    Shape: base-to-apex endocardial length ``ℓ`` (drawn), ``L = ℓ / 1.25`` and
    ``z_base = 0.25 L``; ``a_ED`` from the EDV in closed form; ``b = a_ED + wall``;
    apical wall ``M − L = 0.8 · wall``. RV: length ``H = rv_length_frac · ℓ``. Long axis:
    ``s_f = 1 − AVPD (1 − g_f) / (M + z_base)``.
    """
    if n_frames < 2:
        raise ValueError(f"suite.phantom: n_frames must be >= 2; got {n_frames}")
    s = subject
    L = s.lv_length_mm / 1.25
    zb = 0.25 * L
    shape = 2.0 * L / 3.0 + zb - zb**3 / (3.0 * L**2)
    a_ed = float(np.sqrt(s.lv_edv_ml * 1000.0 / (np.pi * shape)))
    wall = s.wall_thickness_mm
    base = HeartGeometry(
        a_ed=a_ed, b=a_ed + wall, L=L, M=L + 0.8 * wall, z_base=zb,
        rv_angle=s.rv_angle_rad, rv_halfwidth=s.rv_halfwidth_rad,
        rv_length=s.rv_length_frac * s.lv_length_mm, rv_wall=s.rv_wall_mm, infarct=s.infarct,
        a=np.array([a_ed]), h0=np.array([0.0]), s=np.array([1.0]),
    )
    rr = 60000.0 / s.heart_rate_bpm
    es, es_frame = es_phase(rr, n_frames)
    if phases is None:
        phases = np.arange(n_frames) / n_frames
        g = filling_curve(phases, es)
        g[0] = 1.0
        g[es_frame] = 0.0
    else:
        phases = np.asarray(phases, dtype=np.float64)
        g = filling_curve(phases, es)
        g[phases == 0.0] = 1.0
        es_frame = int(np.argmin(g))
    n = phases.size
    lv_target = s.lv_edv_ml * (1.0 - s.lv_ef_pct / 100.0 * (1.0 - g))
    rv_target = s.rv_edv_ml * (1.0 - s.rv_ef_pct / 100.0 * (1.0 - g))
    scale = 1.0 - s.avpd_mm * (1.0 - g) / (base.M + zb)
    if not np.all(scale > 0.5):
        raise ValueError(f"suite.phantom: base descent {s.avpd_mm:.1f} mm is more than half of "
                         f"the ventricle's length {base.M + zb:.1f} mm; lower avpd_mm")

    q = quadrature(base)
    th, z = q.theta[None, :], q.z[:, None]
    e2 = base.endo_profile(z) ** 2
    w = base.infarct_weight(th, z)
    q0 = integrate(q, e2 * w * w)
    q1 = integrate(q, e2 * w * (1 - w))
    q2 = integrate(q, e2 * (1 - w) ** 2)
    a = np.empty(n)
    for f in range(n):
        v = lv_target[f] * 1000.0 / scale[f]
        a[f] = _positive_root(0.5 * q2, a_ed * q1, 0.5 * a_ed**2 * q0 - v)
        if not (a[f] >= 0.2 * a_ed):
            raise ValueError(
                f"suite.phantom: LV volume {lv_target[f]:.1f} mL at frame {f} is not reachable "
                f"with this infarct (EF {s.lv_ef_pct:.1f} % too high for the akinetic sector); "
                "lower lv_ef_pct"
            )
    cp = base.rv_angular(th) * base.rv_axial(z)
    i2 = 0.5 * integrate(q, cp**2)
    h0 = np.empty(n)
    for f in range(n):
        _, r_out, _ = base.radii_for(th, z, a[f], 0.0, scale[f])
        i1 = integrate(q, r_out * cp)
        h0[f] = _positive_root(i2, i1, -rv_target[f] * 1000.0 / scale[f])
    geo = dataclasses.replace(base, a=a, h0=h0, s=scale)
    return HeartMotion(geometry=geo, phases=phases, es_frame=es_frame, rr_ms=rr, es_phase=es)
