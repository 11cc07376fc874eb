"""Infarct scar and microvascular obstruction (MVO) inside the akinetic sector.

The scar is the subendocardial part of the infarct sector of
:class:`~suite.phantom.anatomy.HeartGeometry`: at material ``(θ, ζ)`` with
``|θ − θ_c| ≤ halfwidth`` and ``ζ ≥ ζ_0`` (the mid-points of the sector's angular and axial
ramps, where the infarct weight is ½) a myocardial point at end-diastolic radius ``ρ`` is scar
when ``ρ ≤ r_in + T · (r_out − r_in)`` (end-diastolic radii), ``T ∈ (0, 1]`` the
transmurality (1: transmural). The MVO ("no-reflow") core is the subendocardial part of the
scar's central half: ``|θ − θ_c| ≤ ½ halfwidth``, ``ζ ≥ ζ_0 + ¼ (M − ζ_0)``,
``ρ ≤ r_in + T_mvo · (r_out − r_in)``, ``T_mvo = mvo_depth · T``. Scar includes the MVO (the
EMIDEC convention: infarction = infarct + no-reflow).

The myocardium moves by an area-preserving map (:mod:`suite.phantom.heart`), so these
volumes are constant over the cycle. They are integrals over the sector of
``½ ((r_in + T (r_out − r_in))² − r_in²)``, computed by Gauss–Legendre quadrature on the
exact sector limits (split at the kinks of the infarct ramps) — the analytic truth the LGE
masks are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.anatomy import INFARCT_RAMP_Z_MM, HeartGeometry, wrap_angle

__all__ = ["Scar"]

_RAMP_RAD = np.deg2rad(10.0)


@dataclass(frozen=True)
class Scar:
    """Scar and MVO of one infarcted subject.

    Attributes
    ----------
    centre, halfwidth : float
        Sector direction and half-width, radians (``halfwidth`` of the infarct).
    zeta0 : float
        Material height of the scar's basal edge, mm.
    zeta_end : float
        Material height of the epicardial apex ``M``, mm.
    transmurality : float
        ``T`` in (0, 1].
    mvo_depth : float
        ``T_mvo / T`` in [0, 1] (0: no MVO).
    """

    centre: float
    halfwidth: float
    zeta0: float
    zeta_end: float
    transmurality: float
    mvo_depth: float

    @property
    def mvo_zeta0(self) -> float:
        return self.zeta0 + 0.25 * (self.zeta_end - self.zeta0)

    def masks(self, theta, zeta, rho, r_in_ed, r_out_ed):
        """Boolean scar and MVO masks of myocardial points (material ``θ, ζ, ρ`` and the
        end-diastolic radii at ``(θ, ζ)``)."""
        d = np.abs(wrap_angle(np.asarray(theta) - self.centre))
        depth = r_out_ed - r_in_ed
        scar = (d <= self.halfwidth) & (zeta >= self.zeta0) & \
            (rho <= r_in_ed + self.transmurality * depth)
        t_mvo = self.mvo_depth * self.transmurality
        mvo = scar & (d <= 0.5 * self.halfwidth) & (zeta >= self.mvo_zeta0) & \
            (rho <= r_in_ed + t_mvo * depth) & (t_mvo > 0)
        return scar, mvo

    def volumes_ml(self, geo: HeartGeometry, n: int = 64) -> tuple[float, float]:
        """Analytic scar (MVO included) and MVO volumes, mL."""
        scar = self._volume(geo, self.halfwidth, self.zeta0, self.transmurality, n)
        t_mvo = self.mvo_depth * self.transmurality
        mvo = 0.0 if t_mvo <= 0 else self._volume(geo, 0.5 * self.halfwidth, self.mvo_zeta0,
                                                  t_mvo, n)
        return scar, mvo

    def _volume(self, geo, half, z0, t, n):
        x, wts = np.polynomial.legendre.leggauss(n)
        inner = half - _RAMP_RAD
        th_cuts = sorted({-half, half, *(c for c in (-inner, inner) if -half < c < half)})
        z_cuts = {z0, self.zeta_end, geo.L, geo.M}
        if geo.infarct is not None:
            z_cuts.add(geo.infarct_z_start() + INFARCT_RAMP_Z_MM)
        z_cuts = sorted(c for c in z_cuts if z0 <= c <= self.zeta_end)
        total = 0.0
        for a, b in zip(z_cuts[:-1], z_cuts[1:]):
            if b - a < 1e-9:
                continue
            zs, wz = 0.5 * (b - a) * x + 0.5 * (a + b), 0.5 * (b - a) * wts
            for c, e in zip(th_cuts[:-1], th_cuts[1:]):
                ts, wt = 0.5 * (e - c) * x + 0.5 * (c + e) + self.centre, 0.5 * (e - c) * wts
                r_in, r_out, _ = geo.radii(ts[None, :], zs[:, None], 0)
                f = 0.5 * ((r_in + t * (r_out - r_in)) ** 2 - r_in**2)
                total += float(wz @ f @ wt)
        return total / 1000.0

    def to_dict(self) -> dict:
        return {"centre_rad": self.centre, "halfwidth_rad": self.halfwidth,
                "zeta0_mm": self.zeta0, "transmurality": self.transmurality,
                "mvo_depth": self.mvo_depth}
