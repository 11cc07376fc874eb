"""Cardiac volume curve over the RR interval and respiratory displacement.

Cardiac: a normalised filling curve ``g(phase)`` (1 at end-diastole, 0 at end-systole) made
of monotone cubic (PCHIP, Fritsch & Carlson, SIAM J Numer Anal 1980;17:238) pieces through
physiological knots: isovolumic contraction, ejection to ES, isovolumic relaxation, rapid
filling to 72 % of the stroke volume, diastasis to 80 %, atrial kick to ED. The chamber volume
is ``V(phase) = ESV + (EDV − ESV) · g(phase)``. The ES phase follows the RR interval
(``t_ES = 330 ms · sqrt(RR / 1000 ms)``, a Bazett-like scaling of systolic duration) and is
snapped to the nearest frame, so the frame-sampled EF equals the drawn EF exactly.

Respiration moves the heart rigidly in plane (the through-plane component is neglected so
the analytic volumes stay measurable on the slice stack); body, lungs and liver stay still.
Modes:

* ``"breath-hold"`` (default): every slice is acquired in its own breath-hold; the end-
  expiration positions differ between breath-holds by a per-slice offset drawn with SD
  1 mm (x) and 2 mm (y), constant over the frames of the slice.
* ``"free-breathing"``: real-time-like; each frame is acquired at time
  ``t = (slice · n_frames + frame) · RR / n_frames`` on a breathing curve
  ``d(t) = A · (1 − cos⁴(π t / T + φ))`` (Lujan et al., Med Phys 1999;26:715) with period
  T 3.5–5 s, amplitude 6–10 mm along y and 1–3 mm along x.
* ``"none"``.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

from suite._validation import check_option

__all__ = ["es_phase", "filling_curve", "respiratory_shift", "RESPIRATION_MODES"]

RESPIRATION_MODES = ("breath-hold", "free-breathing", "none")


def es_phase(rr_ms: float, n_frames: int) -> tuple[float, int]:
    """End-systolic phase (fraction of RR) snapped to the frame grid, and its frame index.

    Parameters
    ----------
    rr_ms : float
        RR interval, ms.
    n_frames : int
        Frames over the RR interval (frame ``f`` at phase ``f / n_frames``), ≥ 2.

    Returns
    -------
    (phase, frame) : (float, int)

    Examples
    --------
    >>> es_phase(1000.0, 25)
    (0.32, 8)
    """
    raw = 330.0 * np.sqrt(rr_ms / 1000.0) / rr_ms
    frame = int(np.clip(round(raw * n_frames), 1, max(n_frames - 1, 1)))
    return frame / n_frames, frame


def filling_curve(phase, es: float):
    """Normalised LV/RV volume curve ``g`` (1 at ED, 0 at ES) at RR ``phase`` in [0, 1).

    Parameters
    ----------
    phase : float or ndarray
        Fraction of the RR interval (0 = R wave = ED).
    es : float
        End-systolic phase from :func:`es_phase` (0.2–0.6).

    Returns
    -------
    ndarray, float64, same shape as ``phase``, values in [0, 1].
    """
    es = float(np.clip(es, 0.2, 0.6))
    ivr = es + 0.04
    atrial = max(0.82, ivr + 0.1)
    rapid = ivr + 0.45 * (atrial - ivr)
    knots = np.array([0.0, 0.03, 0.5 * (0.03 + es), es, ivr, rapid, atrial, 1.0])
    values = np.array([1.0, 1.0, 0.45, 0.0, 0.0, 0.72, 0.80, 1.0])
    g = PchipInterpolator(knots, values)(np.mod(np.asarray(phase, dtype=np.float64), 1.0))
    return np.clip(g, 0.0, 1.0)


def respiratory_shift(mode: str, n_slices: int, n_frames: int, rr_ms: float,
                      rng: np.random.Generator) -> np.ndarray:
    """In-plane rigid heart displacement per slice and frame.

    Parameters
    ----------
    mode : {"breath-hold", "free-breathing", "none"}
    n_slices, n_frames : int
    rr_ms : float
        RR interval, ms.
    rng : numpy.random.Generator
        The subject's respiration stream; a fixed number of values is drawn whatever the
        mode and size, so the other modes' draws do not shift.

    Returns
    -------
    ndarray, float64, shape (slice, frame, 2)
        ``(dx, dy)`` in mm.
    """
    check_option(mode, RESPIRATION_MODES, name="respiration", where="suite.phantom")
    n_max = 128
    offsets = rng.standard_normal((n_max, 2)) * np.array([1.0, 2.0])
    period_ms = rng.uniform(3500.0, 5000.0)
    amp = np.array([rng.uniform(1.0, 3.0), rng.uniform(6.0, 10.0)])
    phi = rng.uniform(0.0, np.pi)
    if n_slices > n_max:
        raise ValueError(f"respiratory_shift: at most {n_max} slices; got {n_slices}")
    out = np.zeros((n_slices, n_frames, 2))
    if mode == "breath-hold":
        out[:] = offsets[:n_slices, None, :]
    elif mode == "free-breathing":
        t = (np.arange(n_slices)[:, None] * n_frames + np.arange(n_frames)[None, :]) * (
            rr_ms / n_frames)
        curve = 1.0 - np.cos(np.pi * t / period_ms + phi) ** 4
        out[:] = curve[..., None] * amp
    return out
