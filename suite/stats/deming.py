"""Deming regression of test on reference with a known ratio of error variances."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from suite._serialise import readonly
from suite._validation import check_alpha
from suite.stats._common import as_pair, check_positive
from suite.stats.method_regression import MethodRegressionResult

__all__ = ["deming"]


def _slope(sxx, syy, sxy, lam):
    """Closed-form Deming slope from centred sums (works elementwise on arrays)."""
    u = syy - lam * sxx
    return (u + np.sqrt(u * u + 4.0 * lam * sxy * sxy)) / (2.0 * sxy)


def _leave_one_out(x, y, lam):
    """Deming slope and intercept with each point left out, in O(n) from updated sums."""
    n = x.size
    m = n - 1
    mx = (x.sum() - x) / m
    my = (y.sum() - y) / m
    sxx = (np.sum(x * x) - x * x) - m * mx * mx
    syy = (np.sum(y * y) - y * y) - m * my * my
    sxy = (np.sum(x * y) - x * y) - m * mx * my
    b = _slope(sxx, syy, sxy, lam)
    return b, my - b * mx


def deming(test, reference, *, error_ratio: float = 1.0,
           alpha: float = 0.05) -> MethodRegressionResult:
    """Deming regression ``test = a + b · reference`` with jackknife CIs (Linnet 1990).

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements, same unit, n ≥ 3; both carry measurement error.
    error_ratio : float, default 1.0
        λ = Var(error of test) / Var(error of reference); 1 gives orthogonal regression.
    alpha : float, default 0.05
        CIs are two-sided ``1 − alpha``.

    Returns
    -------
    MethodRegressionResult
        ``method="deming"``, ``details={"error_ratio": λ, "slope_se": ..., "intercept_se": ...}``.

    Raises
    ------
    ValueError
        Invalid input, or zero covariance between test and reference (slope undefined).

    Notes
    -----
    With x = reference, y = test, S_xx, S_yy, S_xy the centred sums of squares and products:
    b = [S_yy − λS_xx + √((S_yy − λS_xx)² + 4λS_xy²)] / (2S_xy), a = ȳ − b·x̄ (the maximum
    likelihood line under the Deming model). CIs: leave-one-out jackknife (Linnet 1990): pseudo-
    values P_i = n·θ − (n − 1)·θ_(−i), SE = SD(P)/√n, interval θ ± t_{n−2,1−α/2}·SE around the
    full-data estimate θ.

    References
    ----------
    Linnet K. Estimation of the linear relationship between the measurements of two methods with
    proportional errors. Stat Med 1990;9:1463-1473.
    Linnet K. Evaluation of regression procedures for methods comparison studies. Clin Chem
    1993;39:424-432.

    Examples
    --------
    >>> r = deming([3.0, 5.0, 7.0, 9.0], [1.0, 2.0, 3.0, 4.0])
    >>> round(r.slope, 6), round(r.intercept, 6)
    (2.0, 1.0)
    """
    where = "deming"
    alpha = check_alpha(alpha, where=where)
    lam = check_positive(error_ratio, name="error_ratio", where=where)
    y, x = as_pair(test, reference, where=where)
    n = x.size
    x0, y0 = x.mean(), y.mean()
    xc, yc = x - x0, y - y0  # centred copies keep the sums well conditioned
    sxy = float(np.sum(xc * yc))
    if sxy == 0.0:
        raise ValueError(f"{where}: `test` and `reference` have zero covariance, so the Deming "
                         "slope is undefined")
    b = float(_slope(float(np.sum(xc * xc)), float(np.sum(yc * yc)), sxy, lam))
    a = y0 - b * x0
    with np.errstate(all="ignore"):
        b_i, a_c = _leave_one_out(xc, yc, lam)
    a_i = a_c + y0 - b_i * x0  # intercepts back on the original scale
    t = float(stats.t.ppf(1.0 - alpha / 2.0, n - 2))

    def jack(theta, theta_i):
        pseudo = n * theta - (n - 1) * theta_i
        se = float(np.std(pseudo, ddof=1) / math.sqrt(n))
        return (float(theta - t * se), float(theta + t * se)), se

    slope_ci, slope_se = jack(float(b), b_i)
    icpt_ci, icpt_se = jack(float(a), a_i)
    return MethodRegressionResult(
        method="deming", slope=float(b), slope_ci=slope_ci, intercept=float(a),
        intercept_ci=icpt_ci, n=int(n), alpha=alpha,
        ci_method="leave-one-out jackknife (Linnet 1990), t with n − 2 df",
        details={"error_ratio": lam, "slope_se": slope_se, "intercept_se": icpt_se},
        reference=readonly(x), test=readonly(y),
    )
