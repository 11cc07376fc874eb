"""Conventional T1 fits: MOLLI / ShMOLLI 3-parameter with Look-Locker correction and polarity
restoration, SASHA 2- and 3-parameter saturation recovery.

MOLLI (Messroghli et al., MRM 2004;52:141, doi 10.1002/mrm.20110):

.. math:: S(TI) = A - B\\,e^{-TI/T_1^*}, \\qquad T_1 = T_1^*\\,(B/A - 1)

(the Look-Locker correction; exact in the limit of a continuous spoiled readout, approximate
for MOLLI's ECG-gated bSSFP readouts). CMRxRecon 2023 writes the same model as
``a(1 − e^{−b·TI}) + c`` with ``T1 = (1/b)(a/(a + c) − 1)``, i.e. ``A = a + c``, ``B = a``,
``T1* = 1/b`` (CmrxRecon/CMRxRecon ``Mapping/CalEvalMap.py``).

Polarity restoration of magnitude data (``polarity``): the inversion-recovery signal is
negative for early inversion times, a magnitude image loses the sign, so the first ``k``
samples (in TI order) are negated before the signed fit and ``k`` is chosen per pixel:

``"exhaustive"``
    every ``k = 0 … n−1``, the fit with the smallest residual wins (the procedure of Kellman's
    ``t1fit_3parameter.m``, xueh2/matlab_mrrecon, which tries ``k = 1 … n−1``; ``k = 0`` is
    added here for fully recovered short-T1 pixels).
``"shmolli"``
    ``k = 0 … 3``, smallest residual (the PyPI ``sh-molli`` 0.0.55 rule; that package sets a
    negative T1 to 0, here it is a failure).
``"cmrxrecon2023"``
    emulation of the CMRxRecon 2023 reference (``calc_t1value`` in ``Mapping/CalEvalMap.py``):
    samples in **file order** (not sorted by TI), a trailing zero TI dropped (when all fitted
    pixels have it: fit the slices of a padded CSV separately), ``k = 1 … 6``
    negated cumulatively and the **first fit that converges is kept** (their loop breaks after
    the first ``curve_fit`` that does not raise), whatever its residual; usually ``k = 1``.
    The selection rule is emulated; the optimiser is this package's (scipy's ``trf`` from
    ``p0 = [350, 0.005, −150]`` on images × 1e6 can converge where this one does not, and
    vice versa).
``"none"``
    the images are already signed (phase-sensitive reconstruction, simulation): fit as given.

For the magnitude rules the absolute value of the images is used.

SASHA (Chow et al., MRM 2014;71:2082): saturation-recovery times ``TS``; a non-saturated image
is given ``TS = +inf``. 3-parameter ``S = A(1 − B·e^{−TS/T1})`` (``B`` absorbs imperfect
saturation); 2-parameter ``S = A(1 − e^{−TS/T1})`` (ideal saturation; the Gadgetron SR fit,
gadgetron/gadgetron ``toolboxes/cmr/cmr_t1_mapping.cpp``).

Failures (:attr:`~reference_impls.mapping.result.MapFit.failed`): non-finite or constant
samples, no converged fit, ``T1* ≤ 0``, a non-finite or non-positive corrected T1, or T1 above
``t1_max_ms``; for SASHA also ``A ≤ 0``.
"""

from __future__ import annotations

import numpy as np

from reference_impls.mapping.exp_fit import ExpBasis, fit_exponential, fit_exponential_flips, log_grid
from reference_impls.mapping.result import MapFit, assemble, check_choice, prepare_pixels

__all__ = ["fit_molli", "fit_sasha", "POLARITY_RULES", "flip_counts"]

POLARITY_RULES = ("exhaustive", "shmolli", "cmrxrecon2023", "none")

#: ``A − B·e^{−t/T}`` (coefficients ``A``, ``B``): MOLLI and SASHA 3-parameter.
_AB = ExpBasis(offsets=(1.0, 0.0), slopes=(0.0, -1.0))
#: ``A(1 − e^{−t/T})``: SASHA 2-parameter.
_SR2 = ExpBasis(offsets=(1.0,), slopes=(-1.0,))


def flip_counts(polarity: str, n_images: int) -> tuple[int, ...]:
    """Numbers of leading samples negated, in the order a polarity rule tries them.

    Examples
    --------
    >>> flip_counts("exhaustive", 5), flip_counts("shmolli", 9), flip_counts("cmrxrecon2023", 9)
    ((0, 1, 2, 3, 4), (0, 1, 2, 3), (1, 2, 3, 4, 5, 6))
    """
    check_choice(polarity, POLARITY_RULES, name="polarity", where="flip_counts")
    if polarity == "none":
        return (0,)
    if polarity == "exhaustive":
        return tuple(range(n_images))
    if polarity == "shmolli":
        return tuple(range(min(4, n_images)))
    return tuple(range(1, min(6, n_images) + 1))


def fit_molli(images, ti_ms, *, polarity: str = "exhaustive", t1_max_ms: float = 10000.0,
              mask=None, max_iter: int = 100) -> MapFit:
    """MOLLI/ShMOLLI 3-parameter fit with Look-Locker correction (see the module docstring).

    Parameters
    ----------
    images : ndarray, real, ``(..., n_images)``
        Inversion-recovery weighted images (magnitude unless ``polarity="none"``), any
        leading shape (e.g. ``(slice, y, x, n_images)``); at least 3 images.
    ti_ms : ndarray
        Inversion times in ms, ``(n_images,)`` or broadcastable per slice/pixel (e.g.
        ``(slice, 1, 1, n_images)``). Any order (sorted per pixel, except under
        ``"cmrxrecon2023"``, which keeps the given order as the challenge code does).
    polarity : {"exhaustive", "shmolli", "cmrxrecon2023", "none"}
    t1_max_ms : float
        Corrected T1 above this is a failure (also the top of the T1* grid).
    mask : ndarray of bool, optional
        Pixels to fit (broadcastable to ``images.shape[:-1]``, e.g. the heart); the others are
        NaN and not counted as failed. Default: all.
    max_iter : int
        Levenberg–Marquardt iteration limit.

    Returns
    -------
    MapFit
        Maps ``t1_ms`` (corrected), ``t1_star_ms`` (apparent), ``A``, ``B``, ``n_flipped``;
        goodness of fit against the polarity-restored signal.

    Examples
    --------
    >>> ti = np.array([100., 180., 260., 1100., 1180., 2100., 3100., 4100.])
    >>> s = np.abs(1.0 - 1.9 * np.exp(-ti / 600.0))        # A 1, B 1.9, T1* 600 ms
    >>> fit = fit_molli(s, ti)
    >>> round(float(fit["t1_ms"]), 6), int(fit["n_flipped"])
    (540.0, 3)
    """
    check_choice(polarity, POLARITY_RULES, name="polarity", where="fit_molli")
    pix = prepare_pixels(images, ti_ms, where="fit_molli", min_images=3, mask=mask)
    t, y = pix.t, pix.y
    if polarity != "none":
        y = np.abs(y)
    if polarity == "cmrxrecon2023":
        if len(t) and np.all(t[:, -1] == 0) and t.shape[1] > 3:  # their padding of missing TIs
            t, y = t[:, :-1], y[:, :-1]
    elif polarity != "none":
        order = np.argsort(t, axis=1, kind="stable")
        t, y = np.take_along_axis(t, order, 1), np.take_along_axis(y, order, 1)
    grid = log_grid(1.0, float(t1_max_ms), 120)
    n, m = y.shape
    best = {"A": np.full(n, np.nan), "B": np.full(n, np.nan), "t1_star_ms": np.full(n, np.nan),
            "n_flipped": np.full(n, np.nan)}
    best_sse = np.full(n, np.inf)
    chosen = np.zeros(n, bool)
    signed = y.copy()
    counts = flip_counts(polarity, m)
    fits = fit_exponential_flips(t, y, _AB, grid, counts, max_iter=max_iter)
    for k, fit in zip(counts, fits):
        yk = y.copy()
        yk[:, :k] *= -1.0
        usable = fit.converged & np.isfinite(fit.sse) & (fit.time_constant > 0)
        if polarity == "cmrxrecon2023":
            take = usable & ~chosen  # the first converged fit, whatever its residual
        else:
            take = usable & (fit.sse < best_sse)
        chosen |= take
        best_sse = np.where(take, fit.sse, best_sse)
        for name, value in (("A", fit.coefficients[:, 0]), ("B", fit.coefficients[:, 1]),
                            ("t1_star_ms", fit.time_constant), ("n_flipped", float(k))):
            best[name] = np.where(take, value, best[name])
        signed[take] = yk[take]
    a, b, t1s = best["A"], best["B"], best["t1_star_ms"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = t1s * (b / a - 1.0)
        fitted = a[:, None] - b[:, None] * np.exp(-t / t1s[:, None])
    failed = ~chosen | ~np.isfinite(t1) | (t1 <= 0) | (t1 > t1_max_ms)
    return assemble(pix, "molli-3p", {"t1_ms": t1, **best}, fitted, signed, failed,
                    {"polarity": polarity, "t1_max_ms": float(t1_max_ms),
                     "max_iter": int(max_iter)})


def fit_sasha(images, ts_ms, *, model: str = "3p", t1_max_ms: float = 5000.0,
              mask=None, max_iter: int = 100) -> MapFit:
    """SASHA saturation-recovery T1 fit, 2- or 3-parameter (see the module docstring).

    Parameters
    ----------
    images : ndarray, real, ``(..., n_images)``
        Saturation-recovery weighted images (magnitude); a non-saturated image has
        ``TS = +inf``. At least 2 (``"2p"``) or 3 (``"3p"``) images.
    ts_ms : ndarray
        Saturation-recovery times in ms, ``(n_images,)`` or broadcastable; ``+inf`` allowed.
    model : {"3p", "2p"}
    t1_max_ms : float
        T1 above this is a failure (also the top of the grid).
    mask : ndarray of bool, optional
        Pixels to fit (see :func:`~reference_impls.mapping.t1.fit_molli`).
    max_iter : int
        Levenberg–Marquardt iteration limit.

    Returns
    -------
    MapFit
        Maps ``t1_ms``, ``A`` and (3-parameter) ``B``.
    """
    check_choice(model, ("3p", "2p"), name="model", where="fit_sasha")
    pix = prepare_pixels(images, ts_ms, where="fit_sasha", min_images=3 if model == "3p" else 2,
                         allow_inf=True, mask=mask)
    t, y = pix.t, pix.y
    grid = log_grid(1.0, float(t1_max_ms), 120)
    fit = fit_exponential(t, y, _AB if model == "3p" else _SR2, grid, max_iter=max_iter)
    a, t1 = fit.coefficients[:, 0], fit.time_constant
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.exp(-t / t1[:, None])
        if model == "3p":
            b = fit.coefficients[:, 1] / a
            maps = {"t1_ms": t1, "A": a, "B": b}
            fitted = a[:, None] * (1.0 - b[:, None] * e)
        else:
            maps = {"t1_ms": t1, "A": a}
            fitted = a[:, None] * (1.0 - e)
    failed = (~fit.converged | ~np.isfinite(t1) | (t1 <= 0) | (t1 > t1_max_ms) | ~(a > 0))
    return assemble(pix, f"sasha-{model}", maps, fitted, y, failed,
                    {"model": model, "t1_max_ms": float(t1_max_ms), "max_iter": int(max_iter)})
