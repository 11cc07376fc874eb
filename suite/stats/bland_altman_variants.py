"""Bland-Altman on transformed differences: percent of the pair mean, and log ratios.

Use these when the spread of the differences grows with the magnitude (Bland & Altman 1999,
§3.1): the percent version states limits as % of the mean; the log-ratio version analyses
ln(test/reference) and back-transforms bias and limits to ratios test/reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt, fmt_interval
from suite.stats._common import as_pair
from suite.stats.bland_altman import BlandAltmanResult, check_options, from_differences

__all__ = ["bland_altman_percent", "bland_altman_log_ratio", "BlandAltmanRatioResult"]


def bland_altman_percent(test, reference, *, multiplier: float = 1.96,
                         ci_method: str = "approximate", alpha: float = 0.05) -> BlandAltmanResult:
    """Bland-Altman analysis of percentage differences 100·(test − reference)/mean of the pair.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements, same unit; no pair may have a zero mean.
    multiplier, ci_method, alpha
        As in :func:`~suite.stats.bland_altman.bland_altman`.

    Returns
    -------
    BlandAltmanResult
        With ``scale="percent"`` and ``unit="% of pair mean"``; ``means`` are the pair means in
        the original unit, the proportional-bias regression is of percent differences on them.

    Raises
    ------
    ValueError
        As :func:`bland_altman`, and if a pair mean is 0 (its index is named).

    Notes
    -----
    p_i = 100·(t_i − r_i)/((t_i + r_i)/2); then bias, SD (ddof = 1), limits and CIs exactly as
    for raw differences (Bland & Altman 1999, §3.1; the CI formulas assume normal p_i).

    Examples
    --------
    >>> r = bland_altman_percent([110.0, 95.0, 102.0], [100.0, 100.0, 100.0])
    >>> round(r.bias, 3), r.unit
    (2.125, '% of pair mean')
    """
    where = "bland_altman_percent"
    multiplier, ci_method, alpha = check_options(where, multiplier, ci_method, alpha)
    t, r = as_pair(test, reference, where=where)
    m = (t + r) / 2.0
    zero = np.flatnonzero(m == 0.0)
    if zero.size:
        raise ValueError(f"{where}: the mean of pair {int(zero[0])} is 0, so its percentage "
                         f"difference is undefined ({zero.size} such pair(s)); use "
                         "bland_altman on raw differences instead")
    return from_differences(100.0 * (t - r) / m, m, multiplier=multiplier, ci_method=ci_method,
                            alpha=alpha, scale="percent", unit="% of pair mean")


@dataclass(frozen=True)
class BlandAltmanRatioResult:
    """Bland-Altman on ln(test/reference), with bias and limits back-transformed to ratios.

    Attributes
    ----------
    log_result : BlandAltmanResult
        The analysis on the natural-log scale (``scale="log_ratio"``).
    ratio_bias : float
        exp(mean log ratio): the geometric mean of test/reference.
    ratio_bias_ci, ratio_loa_lower_ci, ratio_loa_upper_ci : tuple of float
        Back-transformed confidence intervals (exp of the log-scale ends).
    ratio_loa_lower, ratio_loa_upper : float
        Back-transformed limits of agreement: ratios test/reference between which the stated
        share of ratios lie (not confidence intervals).
    """

    log_result: BlandAltmanResult
    ratio_bias: float
    ratio_bias_ci: tuple[float, float]
    ratio_loa_lower: float
    ratio_loa_upper: float
    ratio_loa_lower_ci: tuple[float, float]
    ratio_loa_upper_ci: tuple[float, float]

    @property
    def n(self) -> int:
        """Number of pairs."""
        return self.log_result.n

    def conf_int(self, alpha: float | None = None) -> dict[str, tuple[float, float]]:
        """Back-transformed intervals of the ratio bias and both ratio limits."""
        return {k: (math.exp(v[0]), math.exp(v[1]))
                for k, v in self.log_result.conf_int(alpha).items()}

    def to_dict(self) -> dict:
        """JSON-safe dict: ratio fields plus the full log-scale result."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self, format: str = "text") -> str:
        """Ratio table with numbered notes; ``format`` is "text", "markdown" or "html"."""
        lr = self.log_result
        rows = (
            ("n (pairs)", str(lr.n), ""),
            ("geometric mean ratio", fmt(self.ratio_bias), fmt_interval(self.ratio_bias_ci)),
            ("lower ratio limit", fmt(self.ratio_loa_lower), fmt_interval(self.ratio_loa_lower_ci)),
            ("upper ratio limit", fmt(self.ratio_loa_upper), fmt_interval(self.ratio_loa_upper_ci)),
            ("SD of ln ratio", fmt(lr.sd), ""),
        )
        notes = (
            "Ratio = test / reference; analysis of ln(ratio), ddof = 1, limits = mean ± "
            f"{lr.multiplier:g}·SD on the log scale, then exponentiated.",
            f"CI method for the limits: {lr.ci_method}; intervals are exp of log-scale intervals.",
            "Assumes independent pairs with normally distributed log ratios.",
        )
        pct = f"{100 * (1 - lr.alpha):g} % CI"
        return SummaryTable("Bland-Altman agreement (ratios)", ("statistic", "estimate", pct),
                            rows, notes).render(format)


def bland_altman_log_ratio(test, reference, *, multiplier: float = 1.96,
                           ci_method: str = "approximate",
                           alpha: float = 0.05) -> BlandAltmanRatioResult:
    """Bland-Altman analysis of natural-log ratios ln(test/reference), back-transformed.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Strictly positive paired measurements (e.g. volumes in mL).
    multiplier, ci_method, alpha
        As in :func:`~suite.stats.bland_altman.bland_altman`.

    Returns
    -------
    BlandAltmanRatioResult

    Raises
    ------
    ValueError
        As :func:`bland_altman`, and if any value is ≤ 0 (argument and index named).

    Notes
    -----
    l_i = ln(t_i) − ln(r_i); bias, SD and limits of l as in :func:`bland_altman`; the ratio
    bias exp(l̄) is the geometric mean ratio and the ratio limits exp(l̄ ± z·s) (Bland & Altman
    1999, §3.1). The proportional-bias regression is of l on the arithmetic pair means.

    Examples
    --------
    >>> r = bland_altman_log_ratio([2.0, 4.0, 8.0], [1.0, 2.0, 4.0])
    >>> round(r.ratio_bias, 6), round(r.ratio_loa_upper, 6)
    (2.0, 2.0)
    """
    where = "bland_altman_log_ratio"
    multiplier, ci_method, alpha = check_options(where, multiplier, ci_method, alpha)
    t, r = as_pair(test, reference, where=where)
    for name, a in (("test", t), ("reference", r)):
        bad = np.flatnonzero(a <= 0)
        if bad.size:
            raise ValueError(f"{where}: `{name}` must be > 0 for log ratios; got {a[bad[0]]!r} "
                             f"at index {int(bad[0])} ({bad.size} value(s) <= 0); use "
                             "bland_altman or bland_altman_percent")
    res = from_differences(np.log(t) - np.log(r), (t + r) / 2.0, multiplier=multiplier,
                           ci_method=ci_method, alpha=alpha, scale="log_ratio",
                           unit="natural log of test/reference")

    def ex(iv):
        return (math.exp(iv[0]), math.exp(iv[1]))

    return BlandAltmanRatioResult(
        log_result=res, ratio_bias=math.exp(res.bias), ratio_bias_ci=ex(res.bias_ci),
        ratio_loa_lower=math.exp(res.loa_lower), ratio_loa_upper=math.exp(res.loa_upper),
        ratio_loa_lower_ci=ex(res.loa_lower_ci), ratio_loa_upper_ci=ex(res.loa_upper_ci),
    )
