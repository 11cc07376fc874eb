"""Conventional T2 fits of T2-prepared images: log-linear, 2-parameter and 3-parameter.

``"loglinear"``
    ordinary least squares of ``log S`` against the preparation time, ``T2 = −1/slope``,
    ``A = e^{intercept}`` (the CMRxRecon 2023 reference, ``t2Relax`` in CmrxRecon/CMRxRecon
    ``Mapping/CalEvalMap.py``; pixels with a non-positive sample fail).
``"2p"``
    ``S = A·e^{−TE/T2}`` by nonlinear least squares in the signal domain (the Gadgetron T2 fit,
    gadgetron/gadgetron ``toolboxes/cmr/cmr_t2_mapping.cpp``, uses a log-linear start and a
    simplex refinement; here a grid start and Levenberg–Marquardt).
``"3p"``
    ``S = A·e^{−TE/T2} + C`` with a saturation-prepared image given ``TE = +inf`` (its signal is
    ``C``, the recovery during the readout): Akçakaya et al., MRM 2015;74:93,
    doi 10.1002/mrm.25377, who found 2-parameter results depend on the chosen prep times.

``profile="cmrxrecon2023"`` (log-linear only) adds the challenge's validity gates: a pixel
fails when its second image is below 0 or above 10000, or when T2 is above 200 ms or below 0,
and the slope is offset by float32 ``eps`` as in their ``−1/(slope + eps)`` (they store 0 in
failed pixels; here they are NaN and flagged).

Failures: non-finite or constant samples, no convergence, T2 outside ``(0, t2_max_ms]``,
``A ≤ 0``. Timings are the T2-preparation durations ("echo times") in ms.
"""

from __future__ import annotations

import numpy as np

from reference_impls.mapping.exp_fit import ExpBasis, fit_exponential, log_grid
from reference_impls.mapping.result import MapFit, assemble, check_choice, prepare_pixels

__all__ = ["fit_t2", "T2_MODELS"]

T2_MODELS = ("loglinear", "2p", "3p")
_DECAY = ExpBasis(offsets=(0.0,), slopes=(1.0,))
_DECAY_OFFSET = ExpBasis(offsets=(0.0, 1.0), slopes=(1.0, 0.0))


def _loglinear(t, y, eps):
    """Closed-form least squares of ``log y`` on ``t`` per pixel; ``(A, T2)``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.log(y)
        tm = t.mean(axis=1, keepdims=True)
        zm = z.mean(axis=1, keepdims=True)
        slope = np.sum((t - tm) * (z - zm), axis=1) / np.sum((t - tm) ** 2, axis=1)
        intercept = zm[:, 0] - slope * tm[:, 0]
        return np.exp(intercept), -1.0 / (slope + eps)


def fit_t2(images, te_ms, *, model: str = "2p", t2_max_ms: float = 2500.0,
           profile: str = "suite", mask=None, max_iter: int = 100) -> MapFit:
    """T2 fit of T2-prepared images (see the module docstring).

    Parameters
    ----------
    images : ndarray, real, ``(..., n_images)``
        T2-prepared magnitude images; at least 2 (3 for ``"3p"``).
    te_ms : ndarray
        Preparation durations in ms, ``(n_images,)`` or broadcastable; ``+inf`` marks the
        saturation-prepared image of the 3-parameter model (refused by the other models).
    model : {"loglinear", "2p", "3p"}
    t2_max_ms : float
        T2 above this is a failure (also the top of the grid).
    profile : {"suite", "cmrxrecon2023"}
        ``"cmrxrecon2023"`` applies the challenge's validity gates (log-linear model only).
    mask : ndarray of bool, optional
        Pixels to fit (see :func:`~reference_impls.mapping.t1.fit_molli`).
    max_iter : int
        Levenberg–Marquardt iteration limit.

    Returns
    -------
    MapFit
        Maps ``t2_ms``, ``A`` and (3-parameter) ``C``.

    Examples
    --------
    >>> te = np.array([0.0, 35.0, 55.0])
    >>> fit = fit_t2(800.0 * np.exp(-te / 45.0), te, model="loglinear")
    >>> round(float(fit["t2_ms"]), 9), round(float(fit["A"]), 6)
    (45.0, 800.0)
    """
    check_choice(model, T2_MODELS, name="model", where="fit_t2")
    check_choice(profile, ("suite", "cmrxrecon2023"), name="profile", where="fit_t2")
    if profile == "cmrxrecon2023" and model != "loglinear":
        raise ValueError("fit_t2: profile 'cmrxrecon2023' reproduces the challenge's log-linear "
                         f"fit; use model='loglinear' (got {model!r})")
    pix = prepare_pixels(images, te_ms, where="fit_t2", min_images=3 if model == "3p" else 2,
                         allow_inf=model == "3p", mask=mask)
    t, y = pix.t, pix.y
    options = {"model": model, "t2_max_ms": float(t2_max_ms), "profile": profile}
    if model == "loglinear":
        eps = float(np.finfo(np.float32).eps) if profile == "cmrxrecon2023" else 0.0
        a, t2 = _loglinear(t, y, eps)
        failed = ~(y > 0).all(axis=1)
        if profile == "cmrxrecon2023":
            failed |= (y[:, 1] < 0) | (y[:, 1] > 10000) | (t2 > 200) | (t2 < 0)
        maps = {"t2_ms": t2, "A": a}
        converged = np.ones(len(y), bool)
    else:
        grid = log_grid(0.5, float(t2_max_ms), 120)
        fit = fit_exponential(t, y, _DECAY if model == "2p" else _DECAY_OFFSET, grid,
                              max_iter=max_iter)
        a, t2 = fit.coefficients[:, 0], fit.time_constant
        maps = {"t2_ms": t2, "A": a}
        if model == "3p":
            maps["C"] = fit.coefficients[:, 1]
        converged = fit.converged
        options["max_iter"] = int(max_iter)
        failed = np.zeros(len(y), bool)
    offset = maps["C"][:, None] if model == "3p" else 0.0
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        fitted = a[:, None] * np.exp(-t / t2[:, None]) + offset
    failed |= ~converged | ~np.isfinite(t2) | (t2 <= 0) | (t2 > t2_max_ms) | ~(a > 0)
    return assemble(pix, f"t2-{model}", maps, fitted, y, failed, options)
