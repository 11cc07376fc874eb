"""Blood signal inhomogeneity and inflow enhancement of the cine phantom.

Blood is not uniformly bright in cine images: flowing spins carry in unsaturated
magnetisation through the slice and vortices mix blood of different histories, so the blood
pools show slowly varying brightness and bright inflow jets (blood-pool SNR varies over the
cycle; in Eur J Radiol 2008;65:80 it varied about three times more with gradient-echo cine at
3 T than with bSSFP at 1.5 T). The phantom models this as a
multiplier of the blood signal (every blood class; static vessels of the body excluded) in
spatial heart coordinates:

``m = 1 + A · F(p, φ) / sqrt(n/2) + J · (q_fill(φ) · jet_mitral(p) + q_eject(φ) · jet_outflow(p))``

* ``F``: a sum of ``n = 6`` plane waves of wavelength 25–60 mm in seeded directions, each
  drifting by one or two cycles per RR interval (``φ`` the RR phase), normalised to unit
  variance; ``A`` (5–10 %) sets the inhomogeneity;
* ``jet_mitral``: a Gaussian tube (SD 9 mm) from the mitral valve centre along the long axis
  towards the apex, decaying over 40 mm; ``jet_outflow``: a tube (SD 10 mm) from the LV
  centre 20 mm below the base through the aortic valve 60 mm up the aorta;
* ``q_fill``, ``q_eject``: the normalised filling and ejection rates of the volume curve
  (:func:`suite.phantom.motion.filling_curve`), so the mitral jet shows in early filling and
  atrial contraction and the outflow jet in ejection; ``J`` is 10–25 %.

The values are plausible magnitudes for the phantom, not measurements.
"""

from __future__ import annotations

import numpy as np

from suite.phantom.motion import filling_curve

__all__ = ["blood_modulation", "flow_rates"]


def flow_rates(phase: float, es_phase: float) -> tuple[float, float]:
    """``(q_fill, q_eject)`` in [0, 1] at RR ``phase``: positive and negative parts of the
    volume curve's slope, each divided by its largest value over the cycle."""
    grid = np.linspace(0.0, 1.0, 401)
    slope = np.gradient(filling_curve(grid, es_phase), grid)
    d = 1e-3
    here = float((filling_curve(phase + d, es_phase) - filling_curve(phase - d, es_phase)) / (2 * d))
    fill = max(here, 0.0) / max(float(slope.max()), 1e-9)
    eject = max(-here, 0.0) / max(float(-slope.min()), 1e-9)
    return min(fill, 1.0), min(eject, 1.0)


def _tube(points, a, b, sd: float):
    """Gaussian of the distance to segment ``a → b`` (0 beyond its ends)."""
    d = b - a
    length2 = float(d @ d)
    t = ((points - a) @ d) / length2
    proj = a + t[..., None] * d
    dist2 = np.sum((points - proj) ** 2, axis=-1)
    return np.where((t >= 0) & (t <= 1), np.exp(-0.5 * dist2 / sd**2), 0.0)


def blood_modulation(model, points, frame: int) -> np.ndarray:
    """Multiplier of the blood signal at spatial heart points ``(..., 3)`` (module docstring),
    float32."""
    p = np.asarray(points, dtype=np.float64)
    fl = model.subject.flow
    phase = float(model.motion.phases[frame])
    field = 0.0
    for k, (lam, az, pol, ph) in enumerate(fl["waves"]):
        kv = (2 * np.pi / lam) * np.array([np.sin(pol) * np.cos(az), np.sin(pol) * np.sin(az),
                                           np.cos(pol)])
        field = field + np.cos(p @ kv + 2 * np.pi * (1 + k % 2) * phase + ph)
    m = 1.0 + fl["inhomogeneity"] * field / np.sqrt(len(fl["waves"]) / 2.0)
    fill, eject = flow_rates(phase, model.motion.es_phase)
    marks = model.heart.landmarks(frame)
    if fill > 0:
        mv = marks["mitral_valve"]
        jet = _tube(p, mv, mv + np.array([0.0, 0.0, 40.0]), 9.0) * np.exp(
            -np.clip(p[..., 2] - mv[2], 0.0, None) / 40.0)
        m = m + fl["jet"] * fill * jet
    if eject > 0:
        av = marks["aortic_valve"]
        centre = np.array([0.0, 0.0, marks["lv_base_centre"][2] + 20.0])
        up = av + 60.0 * model.heart.base.aorta.direction
        jet = np.maximum(_tube(p, centre, av, 10.0), _tube(p, av, up, 10.0))
        m = m + fl["jet"] * eject * jet
    return np.asarray(m, dtype=np.float32)
