"""RR-interval series of a mapping scan: heart-rate variability and arrhythmia options.

Model (stated, not fitted to data): ``RR_k = 60000/HR · (1 + a·sin(2π·k·T/T_resp)) + ε_k``
with respiratory sinus modulation ``a`` over a breathing period ``T_resp`` and Gaussian
beat-to-beat noise ``ε_k ~ N(0, hrv_sd_ms²)``; arrhythmia options:

* ``"ectopic"``: each beat becomes, with probability ``ectopic_rate``, a premature beat with
  coupling ``0.6·RR`` followed by a compensatory pause (the pair sums to ``2·RR``);
* ``"af"``: irregularly irregular intervals, RR drawn from a gamma distribution with the mean
  RR and a coefficient of variation of 0.2.

RR intervals are clipped to [250, 2500] ms.
"""

from __future__ import annotations

import numpy as np

__all__ = ["rr_series", "ARRHYTHMIAS"]

ARRHYTHMIAS = ("none", "ectopic", "af")


def rr_series(n_beats: int, heart_rate_bpm: float, rng: np.random.Generator, *,
              hrv_sd_ms: float = 20.0, respiratory_modulation: float = 0.03,
              breathing_period_s: float = 5.0, arrhythmia: str = "none",
              ectopic_rate: float = 0.1) -> np.ndarray:
    """RR intervals ``(n_beats,)`` in ms.

    Parameters
    ----------
    n_beats : int
    heart_rate_bpm : float
        Mean heart rate.
    rng : numpy.random.Generator
    hrv_sd_ms : float
        SD of the beat-to-beat noise (0 = none).
    respiratory_modulation : float
        Relative amplitude of the respiratory sinus modulation (a breath-hold has little; 0
        switches it off).
    breathing_period_s : float
    arrhythmia : str
        One of :data:`ARRHYTHMIAS`.
    ectopic_rate : float
        Probability of a premature beat (``"ectopic"``).
    """
    if arrhythmia not in ARRHYTHMIAS:
        raise ValueError(f"rr_series: arrhythmia must be one of {ARRHYTHMIAS}; got {arrhythmia!r}")
    if n_beats < 1 or not 20.0 <= heart_rate_bpm <= 220.0:
        raise ValueError(f"rr_series: need n_beats >= 1 and 20 <= heart_rate_bpm <= 220; got "
                         f"{n_beats}, {heart_rate_bpm}")
    rr0 = 60000.0 / heart_rate_bpm
    if arrhythmia == "af":
        cv = 0.2
        rr = rng.gamma(1.0 / cv**2, rr0 * cv**2, size=n_beats)
    else:
        t = np.cumsum(np.full(n_beats, rr0)) / 1000.0
        rr = rr0 * (1.0 + respiratory_modulation * np.sin(2 * np.pi * t / breathing_period_s))
        rr = rr + hrv_sd_ms * rng.standard_normal(n_beats)
        if arrhythmia == "ectopic":
            k = 0
            while k < n_beats - 1:
                if rng.random() < ectopic_rate:
                    pair = rr[k] + rr[k + 1]
                    rr[k], rr[k + 1] = 0.6 * rr0, pair - 0.6 * rr0
                    k += 2
                else:
                    k += 1
    return np.clip(rr, 250.0, 2500.0)
