"""B0 field inhomogeneity of the phantom (Hz) and its bSSFP banding.

The off-resonance ``Δf`` at a scanner point is a shim residual plus a susceptibility hot spot
at the heart–lung interface next to the inferolateral LV wall near the base (the region of
the great cardiac vein, where bSSFP cine at 3 T typically shows dark bands), scaled with B0:

``Δf(p) = (B0 / 1.5 T) · [Σ_k c_k P_k(p) + A · exp(−|p − p_hot|² / (2 σ²))]``,

with ``P_k`` the linear and two quadratic shim terms in units of 100 mm about the heart
origin (``c_k`` drawn within ±15 Hz at 1.5 T), ``A`` drawn in 50–110 Hz at 1.5 T (100–220 Hz
at 3 T) and ``σ`` 15–25 mm. bSSFP turns ``Δf`` into a complex signal factor per tissue
(:func:`suite.phantom.signal.bssfp_offres_factor`) with dark bands where ``|Δf| TR`` nears
½; with TR ≈ 3 ms the bands sit near 170 Hz, so they appear at 3 T, not at 1.5 T, as
reported for cardiac bSSFP at 3 T (Oshinski et al., "Cardiovascular magnetic resonance at
3.0 T: current state of the art", JCMR 2010;12:55).
The field is static (it belongs to the body, not to the heart).
"""

from __future__ import annotations

import numpy as np

__all__ = ["field_map_hz", "hot_spot_scanner"]


def hot_spot_scanner(model) -> np.ndarray:
    """Scanner position of the susceptibility hot spot (8 mm outside the end-diastolic
    epicardium, 15 mm below the base, in the subject's drawn direction), LPS mm."""
    geo = model.heart.geo
    th = model.subject.field["hot_angle_rad"]
    zeta = -geo.z_base + 15.0
    _, r_out, _ = geo.radii(np.array(th), np.array(zeta), 0)
    h = np.array([(float(r_out) + 8.0) * np.cos(th), (float(r_out) + 8.0) * np.sin(th), zeta])
    return model.frame.to_scanner(h)


def field_map_hz(model, points, field_strength_t: float) -> np.ndarray:
    """Off-resonance ``Δf`` (Hz) at scanner points ``(..., 3)`` (module docstring)."""
    f = model.subject.field
    p = (np.asarray(points, dtype=np.float64) - model.frame.origin) / 100.0
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    c = f["shim_hz_1p5t"]
    shim = c[0] * x + c[1] * y + c[2] * z + c[3] * (x * x - y * y) + c[4] * (2 * z * z - x * x - y * y)
    d2 = np.sum((np.asarray(points, dtype=np.float64) - hot_spot_scanner(model)) ** 2, axis=-1)
    hot = f["hot_hz_1p5t"] * np.exp(-0.5 * d2 / f["hot_sd_mm"] ** 2)
    return (float(field_strength_t) / 1.5) * (shim + hot)
