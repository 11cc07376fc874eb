"""bSSFP steady-state signal model of the cine phantom."""

from __future__ import annotations

import numpy as np

__all__ = ["bssfp_signal"]


def bssfp_signal(pd, t1_ms, t2_ms, tr_ms: float, te_ms: float, flip_angle_deg: float):
    """On-resonance balanced SSFP steady-state signal at the echo time.

    Parameters
    ----------
    pd : float or ndarray
        Relative proton density.
    t1_ms, t2_ms : float or ndarray
        Relaxation times, ms (broadcast with ``pd``).
    tr_ms, te_ms : float
        Repetition and echo time, ms.
    flip_angle_deg : float
        Flip angle, degrees.

    Returns
    -------
    ndarray, float64
        Signal in units of ``pd`` (equilibrium magnetisation = PD).

    Notes
    -----
    ``S = PD · sin α · (1 − E1) / (1 − (E1 − E2) cos α − E1·E2) · exp(−TE/T2)`` with
    ``E1 = exp(−TR/T1)``, ``E2 = exp(−TR/T2)`` (on-resonance, alternating RF phase; Scheffler
    & Lehnhardt, Eur Radiol 2003;13:2409). For ``TR ≪ T1, T2`` it tends to the expression used
    by MRXCAT's cine model, ``PD · sin α / ((T1/T2 + 1) − cos α (T1/T2 − 1)) · exp(−TE/T2)``
    (tested). Off-resonance banding and B1 errors are not modelled.

    Examples
    --------
    >>> round(float(bssfp_signal(1.0, 1000.0, 1000.0, 1e-6, 0.0, 90.0)), 6)  # T1 = T2: PD/2
    0.5
    """
    pd, t1, t2 = (np.asarray(v, dtype=np.float64) for v in (pd, t1_ms, t2_ms))
    alpha = np.deg2rad(float(flip_angle_deg))
    e1 = np.exp(-float(tr_ms) / t1)
    e2 = np.exp(-float(tr_ms) / t2)
    num = np.sin(alpha) * (1.0 - e1)
    den = 1.0 - (e1 - e2) * np.cos(alpha) - e1 * e2
    return pd * num / den * np.exp(-float(te_ms) / t2)
