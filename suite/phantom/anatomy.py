"""Analytic heart geometry: LV truncated-ellipsoid shell and RV crescent, in polar form.

Heart coordinates (mm): ``z`` along the LV long axis, from the equator of the endocardial
ellipsoid (``z = 0``) towards the apex; the base (mitral) plane cuts the ellipsoids at
``z = −z_base``. In-plane polar coordinates ``(r, θ)`` are centred on the LV axis, ``θ``
measured from the image x axis towards y (y points posterior, down the image).

At frame ``f`` and height ``z``, with infarct weight ``w(θ, z) ∈ [0, 1]`` (0 outside):

* endocardium ``r_in = e(z) · (w · a_ED + (1 − w) · a_f)``, ``e(z) = sqrt(1 − z²/L²)``
  (0 beyond the apex ``z = L``); ``a_f`` is the remote endocardial equatorial radius;
* epicardium ``r_out = sqrt(r_in² + D(θ, z))`` with the wall term fixed over the cycle,
  ``D = (b² ε(z)² − a_ED² e(z)²) · (1 − thinning · w)``, ``ε(z) = sqrt(1 − z²/M²)``, so the
  myocardial cross-section area at every ``z`` — hence the myocardial volume — is constant
  over the cycle (incompressible wall; the wall thickens as the cavity shrinks);
* RV cavity: ``r_out ≤ r < r_out + h`` with ``h = h0_f · c(θ) · p(z)``, a crescent on the
  septal side, ``c(θ) = cos(π Δθ / (2 Δ))^0.7`` within ``|Δθ| < Δ`` of the RV direction,
  ``p(z) = sqrt(1 − ((z + z_base)/H)²)`` tapering from the base to the RV apex at
  ``H`` below the base; the RV free wall (muscle, labelled background as in ACDC) lies
  outside it, ``rv_wall · min(1, h / rv_wall)`` thick.

Chamber areas are ``½ ∫ r² dθ`` differences, so volumes are double integrals of closed-form
radii (:mod:`suite.phantom.volumes`); without an infarct the LV cavity volume is
``π a² (2L/3 + z_b − z_b³ / (3 L²))`` in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["HeartGeometry", "RV_POWER", "INFARCT_RAMP_Z_MM"]

#: Exponent of the RV crescent's angular profile.
RV_POWER = 0.7
_INFARCT_RAMP_RAD = np.deg2rad(10.0)
#: Length (mm) along the long axis of the raised-cosine ramp of the infarct weight from its
#: basal edge (:meth:`HeartGeometry.infarct_axial`); its ends are kinks of the volume
#: integrand (:mod:`suite.phantom.volumes`).
INFARCT_RAMP_Z_MM = 8.0


def _wrap(angle):
    return np.mod(np.asarray(angle) + np.pi, 2.0 * np.pi) - np.pi


@dataclass(frozen=True)
class HeartGeometry:
    """Heart shape parameters (mm, radians) and the per-frame motion state.

    Attributes
    ----------
    a_ed, b : float
        End-diastolic endocardial and epicardial equatorial radii, mm.
    L, M : float
        Endocardial and epicardial semi-axes from the equator to the apex, mm.
    z_base : float
        Distance from the equator up to the base plane, mm (base at ``z = -z_base``).
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

    # ------------------------------------------------------------------ profiles
    def endo_profile(self, z):
        """``e(z)``: endocardial radius / equatorial radius (0 above the base or beyond L)."""
        z = np.asarray(z, dtype=np.float64)
        e = np.sqrt(np.clip(1.0 - (z / self.L) ** 2, 0.0, None))
        return np.where(z >= -self.z_base, e, 0.0)

    def epi_profile(self, z):
        """``ε(z)``: epicardial radius / equatorial radius at ED (0 above base or beyond M)."""
        z = np.asarray(z, dtype=np.float64)
        e = np.sqrt(np.clip(1.0 - (z / self.M) ** 2, 0.0, None))
        return np.where(z >= -self.z_base, e, 0.0)

    def infarct_angular(self, theta):
        """Angular part of the infarct weight: 1 inside the sector, 10° raised-cosine ramps."""
        if self.infarct is None:
            return np.zeros(np.shape(theta))
        inf = self.infarct
        d = np.abs(_wrap(np.asarray(theta) - inf["centre_rad"]))
        x = np.clip((d - (inf["halfwidth_rad"] - _INFARCT_RAMP_RAD)) / (2 * _INFARCT_RAMP_RAD),
                    0.0, 1.0)
        return 0.5 * (1.0 + np.cos(np.pi * x))

    def infarct_axial(self, z):
        """Axial part of the infarct weight: 0 above ``z_start``, 8 mm raised-cosine ramp."""
        if self.infarct is None:
            return np.zeros(np.shape(z))
        z_start = -self.z_base + self.infarct["z_start_frac"] * (self.z_base + self.L)
        y = np.clip((np.asarray(z, dtype=np.float64) - z_start) / INFARCT_RAMP_Z_MM, 0.0, 1.0)
        return 0.5 * (1.0 - np.cos(np.pi * y))

    def infarct_weight(self, theta, z):
        """``w(θ, z)`` in [0, 1]: 1 inside the akinetic region (angular × axial ramps)."""
        if self.infarct is None:
            return np.zeros(np.broadcast(np.asarray(theta), np.asarray(z)).shape)
        return self.infarct_angular(theta) * self.infarct_axial(z)

    def rv_angular(self, theta):
        """``c(θ)``: RV crescent angular profile (1 at the RV direction, 0 outside ±Δ)."""
        d = np.abs(_wrap(np.asarray(theta) - self.rv_angle))
        c = np.cos(np.clip(d / self.rv_halfwidth, 0.0, 1.0) * np.pi / 2.0)
        return np.where(d < self.rv_halfwidth, np.clip(c, 0.0, None) ** RV_POWER, 0.0)

    def rv_axial(self, z):
        """``p(z)``: RV height profile along the long axis (1 at the base, 0 at the RV apex)."""
        z = np.asarray(z, dtype=np.float64)
        s = (z + self.z_base) / self.rv_length
        p = np.sqrt(np.clip(1.0 - s**2, 0.0, None))
        return np.where(s >= 0.0, p, 0.0)

    def wall_term(self, theta, z):
        """``D(θ, z)`` = r_out² − r_in², mm², constant over the cycle."""
        return self._wall(self.infarct_weight(theta, z), z)

    def _wall(self, w, z):
        d = (self.b * self.epi_profile(z)) ** 2 - (self.a_ed * self.endo_profile(z)) ** 2
        thin = 0.0 if self.infarct is None else self.infarct["thinning"]
        return np.clip(d, 0.0, None) * (1.0 - thin * w)

    # ------------------------------------------------------------------ radii
    def radii(self, theta, z, frame: int):
        """Endocardial, epicardial radius and RV height at ``(θ, z)`` and ``frame``.

        Parameters
        ----------
        theta : ndarray, radians
        z : float or ndarray broadcastable with ``theta``, mm
        frame : int

        Returns
        -------
        (r_in, r_out, h) : ndarrays, mm, broadcast shape of ``theta`` and ``z``.
        """
        return self.radii_for(theta, z, float(self.a[frame]), float(self.h0[frame]))

    def radii_for(self, theta, z, a: float, h0: float, angular=None):
        """As :meth:`radii` for a given remote radius ``a`` and RV scale ``h0`` (mm).

        ``angular`` may hold ``(infarct_angular(θ), rv_angular(θ))`` precomputed.
        """
        w_t, c_t = (self.infarct_angular(theta), self.rv_angular(theta)) if angular is None \
            else angular
        w = w_t * self.infarct_axial(z)
        e = self.endo_profile(z)
        r_in = e * (w * self.a_ed + (1.0 - w) * a)
        r_out = np.sqrt(r_in**2 + self._wall(w, z))
        h = h0 * c_t * self.rv_axial(z)
        return r_in, r_out, h

    # ------------------------------------------------------------------ classes
    def classify(self, x, y, z: float, frame: int) -> np.ndarray:
        """Rendering class codes at points ``(x, y)`` mm (relative to the LV axis) on plane ``z``.

        Returns
        -------
        ndarray, uint8, shape of ``x``: 0 outside the heart, 6 LV blood, 7 LV myocardium,
        8 RV blood, 9 RV free wall (codes of :data:`suite.phantom.tissue.CLASS_NAMES`).
        """
        theta = np.arctan2(y, x)
        return self.classify_polar(np.hypot(x, y), theta, z, frame,
                                   (self.infarct_angular(theta), self.rv_angular(theta)))

    def classify_polar(self, r, theta, z: float, frame: int, angular) -> np.ndarray:
        """As :meth:`classify` from polar coordinates and precomputed angular profiles."""
        code = np.zeros(np.shape(r), dtype=np.uint8)
        if z < -self.z_base or z > max(self.M, self.L):
            return code
        r_in, r_out, h = self.radii_for(theta, z, float(self.a[frame]), float(self.h0[frame]),
                                        angular)
        wall = self.rv_wall * np.clip(h / self.rv_wall, 0.0, 1.0)
        code[(r >= r_out + h) & (r < r_out + h + wall)] = 9
        code[(r >= r_out) & (r < r_out + h)] = 8
        code[r < r_out] = 7
        code[r < r_in] = 6
        return code

    def to_dict(self) -> dict:
        """JSON-safe parameters (per-frame arrays as lists)."""
        return {
            "a_ed_mm": self.a_ed, "b_mm": self.b, "L_mm": self.L, "M_mm": self.M,
            "z_base_mm": self.z_base, "rv_angle_rad": self.rv_angle,
            "rv_halfwidth_rad": self.rv_halfwidth, "rv_length_mm": self.rv_length,
            "rv_wall_mm": self.rv_wall, "infarct": self.infarct,
            "a_mm": [float(v) for v in self.a], "h0_mm": [float(v) for v in self.h0],
        }
