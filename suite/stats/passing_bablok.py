"""Passing-Bablok regression: a rank-based straight line for method comparison."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from suite._serialise import readonly
from suite._validation import check_alpha
from suite.stats._common import as_pair
from suite.stats.method_regression import MethodRegressionResult

__all__ = ["passing_bablok", "MAX_N"]

#: Largest n accepted: the method stores all n(n − 1)/2 pairwise slopes (≈100 MB at 5000).
MAX_N = 5000


def passing_bablok(test, reference, *, alpha: float = 0.05) -> MethodRegressionResult:
    """Passing-Bablok regression ``test = a + b · reference`` with rank-based CIs.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements, same unit, 3 ≤ n ≤ :data:`MAX_N`.
    alpha : float, default 0.05
        CIs are two-sided ``1 − alpha``.

    Returns
    -------
    MethodRegressionResult
        ``method="passing_bablok"``, ``details={"K": K, "n_slopes": N}``.

    Raises
    ------
    ValueError
        Invalid input, n > MAX_N, or all points identical.

    Notes
    -----
    With x = reference, y = test (Passing & Bablok 1983):

    1. For every pair i < j, S_ij = (y_j − y_i)/(x_j − x_i). Pairs with identical points are
       dropped; x_i = x_j gives S = +∞ or −∞ by the sign of y_j − y_i; S = −1 is dropped.
    2. K = #{S < −1}; with the N remaining slopes sorted (1-based), the slope is the median
       shifted by K: b = S_((N+1)/2+K) for odd N, ½(S_(N/2+K) + S_(N/2+1+K)) for even N.
    3. a = median(y_i − b·x_i).
    4. CI of b: C = z_{1−α/2}·√(n(n − 1)(2n + 5)/18), M1 = round((N − C)/2) (halves up),
       M2 = N − M1 + 1, b_L = S_(M1+K), b_U = S_(M2+K) (NaN if the rank falls outside 1..N,
       which happens for very small n); CI of a: [median(y − b_U·x), median(y − b_L·x)].

    The method assumes a linear relation and continuous, (roughly) equally distributed errors;
    the CUSUM linearity test of the paper is not implemented.

    References
    ----------
    Passing H, Bablok W. A new biometrical procedure for testing the equality of measurements
    from two different analytical methods. J Clin Chem Clin Biochem 1983;21:709-720.

    Examples
    --------
    >>> r = passing_bablok([3.0, 4.0, 5.0, 6.0, 7.0], [2.0, 4.0, 6.0, 8.0, 10.0])
    >>> r.slope, r.intercept
    (0.5, 2.0)
    """
    where = "passing_bablok"
    alpha = check_alpha(alpha, where=where)
    y, x = as_pair(test, reference, where=where)
    n = x.size
    if n > MAX_N:
        raise ValueError(f"{where}: n must be <= {MAX_N} (all n(n−1)/2 pairwise slopes are "
                         f"stored); got n = {n}. Use deming, or a random subsample")
    i, j = np.triu_indices(n, k=1)
    dx = x[j] - x[i]
    dy = y[j] - y[i]
    keep = ~((dx == 0.0) & (dy == 0.0))
    dx, dy = dx[keep], dy[keep]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(dx == 0.0, np.copysign(np.inf, dy), dy / np.where(dx == 0.0, 1.0, dx))
    s = np.sort(s[s != -1.0])
    big_n = s.size
    if big_n == 0:
        raise ValueError(f"{where}: all points are identical; no slope can be estimated")
    k = int(np.sum(s < -1.0))

    def order(r):  # 1-based order statistic, NaN outside 1..N
        return float(s[r - 1]) if 1 <= r <= big_n else math.nan

    if big_n % 2:
        b = order((big_n + 1) // 2 + k)
    else:
        b = 0.5 * (order(big_n // 2 + k) + order(big_n // 2 + 1 + k))
    c = float(special.ndtri(1.0 - alpha / 2.0)) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18.0)
    m1 = int(math.floor((big_n - c) / 2.0 + 0.5))
    m2 = big_n - m1 + 1
    b_lo, b_hi = order(m1 + k), order(m2 + k)

    def icpt(slope):
        return float(np.median(y - slope * x)) if math.isfinite(slope) else math.nan

    return MethodRegressionResult(
        method="passing_bablok", slope=float(b), slope_ci=(b_lo, b_hi), intercept=icpt(b),
        intercept_ci=(icpt(b_hi), icpt(b_lo)), n=int(n), alpha=alpha,
        ci_method="Passing & Bablok 1983 rank-based (normal approximation of Kendall's tau)",
        details={"K": k, "n_slopes": int(big_n)},
        reference=readonly(x), test=readonly(y),
    )
