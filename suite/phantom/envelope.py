"""Epicardial fat and pericardium: the layers wrapped around the ventricles.

The outer surface of the ventricles at material ``(θ, ζ)`` and frame ``f`` is
``S = r_out + h + t_rv`` where the RV crescent lies (``h > 0``; ``t_rv`` the RV free-wall
thickness) and ``S = r_out`` elsewhere. Epicardial fat fills ``S ≤ r < S + f(θ, ζ)`` and the
pericardium the next ``t_p`` mm; both move with the surface (a point keeps its distance to
it). Beyond the epicardial apex (``ζ > M``) the layers close as spherical caps of radius
``f`` and ``f + t_p`` about the apex. In the band ``G`` mm above the base plane (the
atrioventricular groove) the base outline is filled with fat up to ``S_base + f_av`` and
wrapped in pericardium; atria and vessels are painted over it.

Thickness: ``f = f0 + f_groove · (g(θ − θ_ant) + g(θ − θ_inf)) + f_av · exp(−(ζ + z_base)/12
mm)``, ``g`` a Gaussian of 12° SD at the two RV insertions (the interventricular grooves, where
the coronary arteries run), so the fat is thin over the free walls and thick in the grooves and
at the atrioventricular junction, its usual distribution. Normal pericardium is thin (about
1–2 mm); the value drawn is in that range (assumption for the phantom, no measurement cited).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.anatomy import wrap_angle

__all__ = ["EpicardialFat", "GROOVE_BAND_MM"]

#: Height of the atrioventricular-groove band above the base, mm.
GROOVE_BAND_MM = 10.0
_GROOVE_SD = np.deg2rad(12.0)


@dataclass(frozen=True)
class EpicardialFat:
    """Epicardial fat thickness field and pericardium thickness (mm).

    Attributes
    ----------
    f0, f_groove, f_av : float
        Baseline, interventricular-groove and atrioventricular-groove thickness, mm.
    insertions : (float, float)
        Directions of the RV insertions (the interventricular grooves), radians.
    z_base : float
    pericardium_mm : float
    """

    f0: float
    f_groove: float
    f_av: float
    insertions: tuple[float, float]
    z_base: float
    pericardium_mm: float

    def angular(self, theta):
        """Groove profile ``g(θ − θ_ant) + g(θ − θ_inf)`` (dimensionless)."""
        th = np.asarray(theta, dtype=np.float64)
        return sum(np.exp(-0.5 * (wrap_angle(th - c) / _GROOVE_SD) ** 2) for c in self.insertions)

    def thickness(self, theta, zeta, angular=None):
        """``f(θ, ζ)``, mm (``angular``: :meth:`angular` of ``θ`` if already computed)."""
        g = self.angular(theta) if angular is None else angular
        z = np.asarray(zeta, dtype=np.float64)
        av = np.exp(-np.clip(z + self.z_base, 0.0, None) / 12.0)
        return self.f0 + self.f_groove * g + self.f_av * av

    def max_thickness(self) -> float:
        return self.f0 + 2.0 * self.f_groove + self.f_av

    def to_dict(self) -> dict:
        return {"f0_mm": self.f0, "groove_mm": self.f_groove, "av_groove_mm": self.f_av,
                "pericardium_mm": self.pericardium_mm}
