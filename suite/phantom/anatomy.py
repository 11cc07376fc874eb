"""Analytic ventricles: LV truncated-ellipsoid shell and RV crescent, with long-axis motion.

Heart coordinates (mm, :mod:`suite.phantom.orientation`): ``w`` along the LV long axis from
the equator of the end-diastolic endocardial ellipsoid (``w = 0``) towards the apex; polar
``(r, θ)`` about the LV axis, ``θ`` from the short-axis image x axis towards y.

**Material and spatial heights.** Every shape is defined on the material (end-diastolic)
height ``ζ``. Systole shortens the ventricles along the long axis with the epicardial apex
fixed: at frame ``f`` a material height ``ζ`` lies at ``w = M − (M − ζ)·s_f``, so the base
plane (``ζ = −z_base``) descends by ``d_f = (M + z_base)(1 − s_f)`` towards the apex
(:meth:`HeartGeometry.base_descent_mm`). Above the base (atria, valves, great vessels) the
descent fades linearly to zero over :data:`FADE_MM`.

At frame ``f``, material height ``ζ`` and infarct weight ``w(θ, ζ) ∈ [0, 1]``:

* endocardium ``r_in = e(ζ) · (w · a_ED + (1 − w) · a_f)``, ``e(ζ) = sqrt(1 − ζ²/L²)``;
* epicardium ``r_out = sqrt(r_in² + D(θ, ζ) / s_f)`` with the end-diastolic wall term
  ``D = (b² ε(ζ)² − a_ED² e(ζ)²) · (1 − thinning · w)``, ``ε(ζ) = sqrt(1 − ζ²/M²)``: the
  wall cross-section grows as ``1/s_f`` while the ventricle shortens by ``s_f``, so the
  myocardial volume is constant over the cycle (incompressible wall). The same rule maps a
  material point to its position: its "area coordinate" ``ρ² − r_in,ED²`` becomes
  ``(r² − r_in,f²)·s_f`` (:mod:`suite.phantom.heart`);
* RV cavity: ``r_out ≤ r < r_out + h``, ``h = h0_f · c(θ) · p(ζ)``, a crescent on the septal
  side, ``c(θ) = cos(π Δθ / (2 Δ))^0.7`` within ``|Δθ| < Δ`` of the RV direction,
  ``p(ζ) = sqrt(1 − ((ζ + z_base)/H)²)``; the RV free wall (labelled background as in ACDC) is
  ``rv_wall · min(1, h / rv_wall)`` thick outside it.

Chamber volumes are ``s_f`` times double integrals over ``(θ, ζ)`` of closed-form radii
(:mod:`suite.phantom.volumes`); without an infarct the LV cavity volume is
``s_f · π a_f² (2L/3 + z_b − z_b³ / (3 L²))`` in closed form.

The long-axis shortening (atrioventricular plane displacement, AVPD) is drawn per subject
(:mod:`suite.phantom.pathology`); for healthy adults Carlsson et al. measured 16 ± 0 mm
(mean ± SE, n = 12; 7 ± 1 mm in dilated cardiomyopathy) by cine MR (Am J Physiol Heart Circ
Physiol 2007;292:H1452–H1459), and it accounts for about 60 % of the stroke volume.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["HeartGeometry", "RV_POWER", "INFARCT_RAMP_Z_MM", "FADE_MM", "wrap_angle"]

#: Exponent of the RV crescent's angular profile.
RV_POWER = 0.7
_INFARCT_RAMP_RAD = np.deg2rad(10.0)
#: Length (mm) along the long axis of the raised-cosine ramp of the infarct weight from its
#: basal edge (:meth:`HeartGeometry.infarct_axial`); its ends are kinks of the volume
#: integrand (:mod:`suite.phantom.volumes`).
INFARCT_RAMP_Z_MM = 8.0
#: Height above the base (mm) over which the base descent fades to zero (atria, vessels).
FADE_MM = 50.0


def wrap_angle(angle):
    """Angle wrapped to ``[−π, π)``."""
    return np.mod(np.asarray(angle) + np.pi, 2.0 * np.pi) - np.pi


@dataclass(frozen=True)
class HeartGeometry:
    """Ventricular shape parameters (mm, radians) and the per-frame motion state.

    Attributes
    ----------
    a_ed, b : float
        End-diastolic endocardial and epicardial equatorial radii, mm.
    L, M : float
        Endocardial and epicardial semi-axes from the equator to the apex, mm.
    z_base : float
        Distance from the equator up to the base plane, mm (base at ``ζ = -z_base``).
    rv_angle, rv_halfwidth : float
        RV direction and angular half-width Δ, radians.
    rv_length, rv_wall : float
        RV length H below the base and free-wall thickness, mm.
    infarct : dict or None
        ``centre_rad``, ``halfwidth_rad``, ``z_start_frac`` (fraction of base-apex length),
        ``thinning``.
    a : ndarray (frame,), float64
        Remote endocardial equatorial radius per frame, mm.
    h0 : ndarray (frame,), float64
        RV crescent height scale per frame, mm.
    s : ndarray (frame,), float64
        Long-axis scale per frame (1 at end-diastole).
    """

    a_ed: float
    b: float
    L: float
    M: float
    z_base: float
    rv_angle: float
    rv_halfwidth: float
    rv_length: float
    rv_wall: float
    infarct: dict | None = None
    a: np.ndarray = field(default_factory=lambda: np.zeros(0))
    h0: np.ndarray = field(default_factory=lambda: np.zeros(0))
    s: np.ndarray = field(default_factory=lambda: np.ones(0))

    # ------------------------------------------------------------------ long axis
    @property
    def length(self) -> float:
        """Base plane to epicardial apex along the axis at end-diastole, mm."""
        return self.M + self.z_base

    def base_descent_mm(self, frame: int) -> float:
        """Displacement of the base plane towards the apex at ``frame``, mm (≥ 0)."""
        return self.length * (1.0 - float(self.s[frame]))

    def spatial_w(self, zeta, frame: int):
        """Material height ``ζ`` → spatial height ``w`` at ``frame`` (mm)."""
        z = np.asarray(zeta, dtype=np.float64)
        s, d = float(self.s[frame]), self.base_descent_mm(frame)
        ventricle = self.M - (self.M - z) * s
        above = -self.z_base - z                               # > 0 above the base
        atrial = z + d * np.clip(1.0 - above / FADE_MM, 0.0, 1.0)
        return np.where(z >= -self.z_base, ventricle, atrial)

    def material_zeta(self, w, frame: int):
        """Spatial height ``w`` at ``frame`` → material height ``ζ`` (inverse of
        :meth:`spatial_w`), mm."""
        w = np.asarray(w, dtype=np.float64)
        s, d = float(self.s[frame]), self.base_descent_mm(frame)
        ventricle = self.M - (self.M - w) / s
        w_base = -self.z_base + d
        fade = (w - d - d * self.z_base / FADE_MM) / (1.0 + d / FADE_MM)
        atrial = np.where(w < -self.z_base - FADE_MM, w, fade)
        return np.where(w >= w_base, ventricle, atrial)

    # ------------------------------------------------------------------ profiles
    def endo_profile(self, z):
        """``e(ζ)``: endocardial radius / equatorial radius (0 above the base or beyond L)."""
        z = np.asarray(z, dtype=np.float64)
        e = np.sqrt(np.clip(1.0 - (z / self.L) ** 2, 0.0, None))
        return np.where(z >= -self.z_base, e, 0.0)

    def epi_profile(self, z):
        """``ε(ζ)``: epicardial radius / equatorial radius at ED (0 above base or beyond M)."""
        z = np.asarray(z, dtype=np.float64)
        e = np.sqrt(np.clip(1.0 - (z / self.M) ** 2, 0.0, None))
        return np.where(z >= -self.z_base, e, 0.0)

    def infarct_angular(self, theta):
        """Angular part of the infarct weight: 1 inside the sector, 10° raised-cosine ramps."""
        if self.infarct is None:
            return np.zeros(np.shape(theta))
        inf = self.infarct
        d = np.abs(wrap_angle(np.asarray(theta) - inf["centre_rad"]))
        x = np.clip((d - (inf["halfwidth_rad"] - _INFARCT_RAMP_RAD)) / (2 * _INFARCT_RAMP_RAD),
                    0.0, 1.0)
        return 0.5 * (1.0 + np.cos(np.pi * x))

    def infarct_z_start(self) -> float:
        """Material height where the infarct weight starts rising (its basal edge), mm."""
        return -self.z_base + self.infarct["z_start_frac"] * (self.z_base + self.L)

    def infarct_axial(self, z):
        """Axial part of the infarct weight: 0 above ``z_start``, 8 mm raised-cosine ramp."""
        if self.infarct is None:
            return np.zeros(np.shape(z))
        y = np.clip((np.asarray(z, dtype=np.float64) - self.infarct_z_start())
                    / INFARCT_RAMP_Z_MM, 0.0, 1.0)
        return 0.5 * (1.0 - np.cos(np.pi * y))

    def infarct_weight(self, theta, z):
        """``w(θ, ζ)`` in [0, 1]: 1 inside the akinetic region (angular × axial ramps)."""
        if self.infarct is None:
            return np.zeros(np.broadcast(np.asarray(theta), np.asarray(z)).shape)
        return self.infarct_angular(theta) * self.infarct_axial(z)

    def rv_angular(self, theta):
        """``c(θ)``: RV crescent angular profile (1 at the RV direction, 0 outside ±Δ)."""
        d = np.abs(wrap_angle(np.asarray(theta) - self.rv_angle))
        c = np.cos(np.clip(d / self.rv_halfwidth, 0.0, 1.0) * np.pi / 2.0)
        return np.where(d < self.rv_halfwidth, np.clip(c, 0.0, None) ** RV_POWER, 0.0)

    def rv_axial(self, z):
        """``p(ζ)``: RV height profile along the long axis (1 at the base, 0 at the RV apex)."""
        z = np.asarray(z, dtype=np.float64)
        s = (z + self.z_base) / self.rv_length
        p = np.sqrt(np.clip(1.0 - s**2, 0.0, None))
        return np.where(s >= 0.0, p, 0.0)

    def wall_term(self, theta, z):
        """End-diastolic ``D(θ, ζ)`` = r_out² − r_in², mm²."""
        return self._wall(self.infarct_weight(theta, z), z)

    def _wall(self, w, z):
        d = (self.b * self.epi_profile(z)) ** 2 - (self.a_ed * self.endo_profile(z)) ** 2
        thin = 0.0 if self.infarct is None else self.infarct["thinning"]
        return np.clip(d, 0.0, None) * (1.0 - thin * w)

    # ------------------------------------------------------------------ radii
    def radii(self, theta, z, frame: int, angular=None):
        """Endocardial, epicardial radius and RV height at material ``(θ, ζ)`` and ``frame``.

        Parameters
        ----------
        theta : ndarray, radians
        z : float or ndarray broadcastable with ``theta``, material height ζ, mm
        frame : int
        angular : tuple, optional
            ``(infarct_angular(θ), rv_angular(θ))`` if already computed.

        Returns
        -------
        (r_in, r_out, h) : ndarrays, mm, broadcast shape of ``theta`` and ``z``.
        """
        return self.radii_for(theta, z, float(self.a[frame]), float(self.h0[frame]),
                              float(self.s[frame]), angular)

    def radii_for(self, theta, z, a: float, h0: float, s: float = 1.0, angular=None):
        """As :meth:`radii` for a given remote radius ``a``, RV scale ``h0`` (mm) and
        long-axis scale ``s``. ``angular`` may hold ``(infarct_angular(θ), rv_angular(θ))``."""
        w_t, c_t = (self.infarct_angular(theta), self.rv_angular(theta)) if angular is None \
            else angular
        w = w_t * self.infarct_axial(z)
        e = self.endo_profile(z)
        r_in = e * (w * self.a_ed + (1.0 - w) * a)
        r_out = np.sqrt(r_in**2 + self._wall(w, z) / s)
        h = h0 * c_t * self.rv_axial(z)
        return r_in, r_out, h

    def rv_wall_thickness(self, h):
        """RV free-wall thickness for crescent height ``h`` (mm): ``rv_wall·min(1, h/rv_wall)``."""
        return self.rv_wall * np.clip(np.asarray(h) / self.rv_wall, 0.0, 1.0)

    def to_dict(self) -> dict:
        """JSON-safe parameters (per-frame arrays as lists)."""
        return {
            "a_ed_mm": self.a_ed, "b_mm": self.b, "L_mm": self.L, "M_mm": self.M,
            "z_base_mm": self.z_base, "rv_angle_rad": self.rv_angle,
            "rv_halfwidth_rad": self.rv_halfwidth, "rv_length_mm": self.rv_length,
            "rv_wall_mm": self.rv_wall, "infarct": self.infarct,
            "a_mm": [float(v) for v in self.a], "h0_mm": [float(v) for v in self.h0],
            "s": [float(v) for v in self.s],
        }
