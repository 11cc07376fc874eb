"""Signal models of the phantom: balanced SSFP (with off-resonance) and inversion-recovery GRE."""

from __future__ import annotations

import numpy as np

__all__ = ["bssfp_signal", "bssfp_offres_factor", "ir_gre_signal", "ir_null_ti_ms"]


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
    (tested). Off-resonance: :func:`bssfp_offres_factor`.

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


def bssfp_offres_factor(t1_ms, t2_ms, tr_ms: float, flip_angle_deg: float, beta):
    """Complex bSSFP signal at off-resonance precession ``β`` per TR, relative to ``β = 0``.

    Parameters
    ----------
    t1_ms, t2_ms : float or ndarray
    tr_ms, flip_angle_deg : float
    beta : float or ndarray
        Off-resonance phase per TR, ``β = 2π Δf TR`` (radians), broadcast with T1/T2.

    Returns
    -------
    ndarray, complex128
        ``F(β) = [(1 + E2 e^{iβ}) / (D − C cos β)] · [(D − C) / (1 + E2)] · e^{iβ/2}``, with
        ``C = E2 (E1 − 1)(1 + cos α)`` and ``D = (1 − E1 cos α) − (E1 − cos α) E2²``: the
        steady state of Xiang & Hoff (MRM 2014;71:927, alternating RF phase, ``θ = β + π``)
        divided by its on-resonance value, with the echo-time phase ``β/2`` of ``TE = TR/2``.
        ``|F|`` dips to a dark band at ``β = ±π`` (``Δf = ±1/(2 TR)``).

    Examples
    --------
    >>> complex(bssfp_offres_factor(1000.0, 50.0, 3.0, 60.0, 0.0))
    (1+0j)
    >>> abs(complex(bssfp_offres_factor(1000.0, 50.0, 3.0, 60.0, np.pi))) < 0.1
    True
    """
    t1, t2, beta = (np.asarray(v, dtype=np.float64) for v in (t1_ms, t2_ms, beta))
    ca = np.cos(np.deg2rad(float(flip_angle_deg)))
    e1, e2 = np.exp(-float(tr_ms) / t1), np.exp(-float(tr_ms) / t2)
    c = e2 * (e1 - 1.0) * (1.0 + ca)
    d = (1.0 - e1 * ca) - (e1 - ca) * e2**2
    num = 1.0 + e2 * np.exp(1j * beta)
    return num / (d - c * np.cos(beta)) * ((d - c) / (1.0 + e2)) * np.exp(0.5j * beta)


def ir_gre_signal(pd, t1_ms, t2_ms, ti_ms: float, repetition_ms: float, te_ms: float,
                  flip_angle_deg: float):
    """Signed inversion-recovery gradient-echo signal (LGE), in units of PD.

    ``S = PD · (1 − 2 e^{−TI/T1} + e^{−T_rep/T1}) · sin α · e^{−TE/T2}``: the longitudinal
    magnetisation at the inversion time after an ideal inversion, with recovery from the
    previous readout ``T_rep`` earlier, read by one small-angle excitation (the readout train's
    own saturation is neglected). The sign is kept (phase-sensitive reconstruction); the usual
    magnitude image is ``|S|``. Nulled tissue: :func:`ir_null_ti_ms`.

    Examples
    --------
    >>> ti = ir_null_ti_ms(500.0, 2000.0)
    >>> abs(float(ir_gre_signal(1.0, 500.0, 50.0, ti, 2000.0, 3.0, 20.0))) < 1e-12
    True
    """
    pd, t1, t2 = (np.asarray(v, dtype=np.float64) for v in (pd, t1_ms, t2_ms))
    mz = 1.0 - 2.0 * np.exp(-float(ti_ms) / t1) + np.exp(-float(repetition_ms) / t1)
    return pd * mz * np.sin(np.deg2rad(float(flip_angle_deg))) * np.exp(-float(te_ms) / t2)


def ir_null_ti_ms(t1_ms: float, repetition_ms: float) -> float:
    """Inversion time that nulls tissue of ``t1_ms``: ``T1 · ln(2 / (1 + e^{−T_rep/T1}))``."""
    t1 = float(t1_ms)
    return t1 * float(np.log(2.0 / (1.0 + np.exp(-float(repetition_ms) / t1))))
