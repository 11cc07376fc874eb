"""Bland-Altman analysis of paired measurements: bias, limits of agreement and their CIs.

Conventions (DESIGN.md, "Agreement statistics"): difference = test − reference; SD with
ddof = 1; multiplier 1.96 unless stated; the CI method is recorded in every result. Limits of
agreement (LoA) are where a stated share of *differences* lie; they are not confidence intervals.
Confidence intervals are given for the bias (``bias_ci``) and for each limit (``loa_lower_ci``,
``loa_upper_ci``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import special, stats

from suite._serialise import jsonable, readonly
from suite._table import SummaryTable, fmt, fmt_interval
from suite._validation import check_alpha, check_option
from suite.stats._common import DIRECTION, as_pair, check_positive
from suite.stats.carkeet import one_sided_tolerance_factor, two_sided_tolerance_factor

__all__ = ["bland_altman", "BlandAltmanResult", "ProportionalBias", "loa_intervals", "CI_METHODS",
           "from_differences", "check_options"]

#: Accepted ``ci_method`` values, see :func:`loa_intervals`.
CI_METHODS = ("approximate", "approximate_1986", "exact", "exact_individual")

_CI_TEXT = {
    "approximate": "Bland & Altman 1999: SE(LoA) = s·sqrt(1/n + z²/(2(n−1))), LoA ± t(n−1)·SE",
    "approximate_1986": "Bland & Altman 1986: SE(LoA) = sqrt(3s²/n), LoA ± t(n−1)·SE",
    "exact": "Carkeet 2015, limits as a pair: d̄ ± K·s with exact two-sided tolerance factors "
             "K (content 2Φ(z)−1, confidence α/2 and 1−α/2)",
    "exact_individual": "Carkeet 2015, each limit individually: d̄ ± k·s with exact one-sided "
                        "non-central t factors",
}


def loa_intervals(bias: float, sd: float, n: int, *, multiplier: float = 1.96,
                  ci_method: str = "approximate", alpha: float = 0.05):
    """Confidence intervals of the bias and of both limits of agreement from summary statistics.

    Parameters
    ----------
    bias, sd : float
        Mean and SD (ddof = 1) of the n differences, in the unit of the differences.
    n : int
        Number of pairs (≥ 3).
    multiplier : float, default 1.96
        ``z`` in LoA = bias ± z·sd.
    ci_method : {"approximate", "approximate_1986", "exact", "exact_individual"}
        See Notes.
    alpha : float, default 0.05
        Each interval is two-sided with confidence ``1 − alpha``.

    Returns
    -------
    tuple of three (lower, upper) tuples
        ``bias_ci``, ``loa_lower_ci``, ``loa_upper_ci``.

    Notes
    -----
    ``bias_ci`` = d̄ ± t_{n−1,1−α/2}·s/√n for every method. For the limits:

    * ``"approximate"`` (Bland & Altman 1999, §2): SE = s·√(1/n + z²/(2(n − 1))),
      LoA ± t_{n−1,1−α/2}·SE.
    * ``"approximate_1986"`` (Bland & Altman 1986): SE = √(3s²/n), LoA ± t·SE.
    * ``"exact"`` (Carkeet 2015, the limits *as a pair*, the paper's recommendation):
      upper limit CI = [d̄ + K_{α/2}·s, d̄ + K_{1−α/2}·s], lower limit CI mirrored, with
      K_γ = :func:`~suite.stats.carkeet.two_sided_tolerance_factor` (n, 2Φ(z) − 1, γ).
    * ``"exact_individual"`` (Carkeet 2015, each limit on its own): upper limit CI =
      [d̄ + k_{α/2}·s, d̄ + k_{1−α/2}·s] with k_p = t′_p(n − 1, z√n)/√n (non-central t).

    With s = 0 every interval collapses to a point (width 0) without warnings.
    """
    t = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1))
    bias, sd = float(bias), float(sd)
    se_bias = sd / math.sqrt(n)
    bias_ci = (bias - t * se_bias, bias + t * se_bias)
    z = multiplier
    lo, hi = bias - z * sd, bias + z * sd
    if ci_method in ("approximate", "approximate_1986"):
        if ci_method == "approximate":
            se = sd * math.sqrt(1.0 / n + z * z / (2.0 * (n - 1)))
        else:
            se = math.sqrt(3.0 * sd * sd / n)
        return bias_ci, (lo - t * se, lo + t * se), (hi - t * se, hi + t * se)
    if ci_method == "exact":
        content = float(2.0 * special.ndtr(z) - 1.0)
        k_in = two_sided_tolerance_factor(n, content, alpha / 2.0)
        k_out = two_sided_tolerance_factor(n, content, 1.0 - alpha / 2.0)
    else:  # exact_individual
        k_in = one_sided_tolerance_factor(n, z, alpha / 2.0)
        k_out = one_sided_tolerance_factor(n, z, 1.0 - alpha / 2.0)
    return (bias_ci, (bias - k_out * sd, bias - k_in * sd), (bias + k_in * sd, bias + k_out * sd))


@dataclass(frozen=True)
class ProportionalBias:
    """OLS regression of the differences on the pair means (Bland & Altman 1999, §3.2).

    ``difference = intercept + slope · mean``; a slope whose CI excludes 0 suggests the
    difference changes with magnitude (proportional bias). ``slope_p`` tests slope = 0
    (t test, n − 2 df). Fields are NaN when the means have zero spread (slope undefined); when
    the differences are constant the slope is exactly 0 with a zero-width CI and ``slope_p`` NaN.
    """

    slope: float
    slope_ci: tuple[float, float]
    slope_p: float
    intercept: float
    intercept_ci: tuple[float, float]
    intercept_p: float
    alpha: float
    n: int
    model: str = "difference ~ 1 + mean (OLS, statsmodels)"

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision (NaN → None)."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


def _proportional_bias(d: np.ndarray, m: np.ndarray, alpha: float) -> ProportionalBias:
    n = d.size
    nan2 = (math.nan, math.nan)
    if np.ptp(m) == 0.0:
        return ProportionalBias(math.nan, nan2, math.nan, math.nan, nan2, math.nan, alpha, n)
    if np.ptp(d) == 0.0:
        b = float(d[0])
        return ProportionalBias(0.0, (0.0, 0.0), math.nan, b, (b, b), math.nan, alpha, n)
    import statsmodels.api as sm

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = sm.OLS(d, sm.add_constant(m, has_constant="add")).fit()
        ci = fit.conf_int(alpha)
    return ProportionalBias(
        slope=float(fit.params[1]), slope_ci=(float(ci[1, 0]), float(ci[1, 1])),
        slope_p=float(fit.pvalues[1]), intercept=float(fit.params[0]),
        intercept_ci=(float(ci[0, 0]), float(ci[0, 1])), intercept_p=float(fit.pvalues[0]),
        alpha=alpha, n=n,
    )


@dataclass(frozen=True)
class BlandAltmanResult:
    """Bias, limits of agreement and their confidence intervals (one pair per subject).

    Attributes
    ----------
    n : int
        Number of pairs.
    bias : float
        Mean difference d̄ (test − reference), in ``unit``.
    sd : float
        SD of the differences, ddof = 1.
    loa_lower, loa_upper : float
        Limits of agreement d̄ ∓ multiplier·sd (not confidence intervals).
    bias_ci, loa_lower_ci, loa_upper_ci : tuple of float
        Two-sided ``1 − alpha`` confidence intervals of the bias and of each limit.
    proportional_bias : ProportionalBias
        Regression of differences on means.
    scale : str
        ``"difference"``, ``"percent"`` (100·(test − reference)/mean of the pair) or
        ``"log_ratio"`` (ln(test/reference)).
    unit : str
        Unit of bias, sd and limits.
    differences, means : ndarray (n,), float64
        Per-pair differences (on ``scale``) and pair means (arithmetic mean of test and reference,
        original unit), read-only; kept for plots and excluded from ``to_dict``.
    """

    n: int
    bias: float
    sd: float
    loa_lower: float
    loa_upper: float
    bias_ci: tuple[float, float]
    loa_lower_ci: tuple[float, float]
    loa_upper_ci: tuple[float, float]
    proportional_bias: ProportionalBias
    multiplier: float = 1.96
    alpha: float = 0.05
    ci_method: str = "approximate"
    scale: str = "difference"
    unit: str = "unit of the input"
    direction: str = DIRECTION
    ddof: int = 1
    differences: np.ndarray = field(default=None, repr=False, compare=False)
    means: np.ndarray = field(default=None, repr=False, compare=False)

    def conf_int(self, alpha: float | None = None) -> dict[str, tuple[float, float]]:
        """Intervals of ``bias``, ``loa_lower`` and ``loa_upper`` at level ``1 − alpha``.

        Uses the same ``ci_method`` and multiplier; ``alpha=None`` returns the stored intervals.
        """
        if alpha is None:
            return {"bias": self.bias_ci, "loa_lower": self.loa_lower_ci,
                    "loa_upper": self.loa_upper_ci}
        a = check_alpha(alpha, where="BlandAltmanResult.conf_int")
        b, lo, hi = loa_intervals(self.bias, self.sd, self.n, multiplier=self.multiplier,
                                  ci_method=self.ci_method, alpha=a)
        return {"bias": b, "loa_lower": lo, "loa_upper": hi}

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision with the choices made (direction, ddof, ...)."""
        keys = [k for k in self.__dataclass_fields__ if k not in ("differences", "means")]
        out = {k: getattr(self, k) for k in keys}
        out["ci_method_description"] = _CI_TEXT[self.ci_method]
        return jsonable(out)

    def _table(self) -> SummaryTable:
        pct = f"{100 * (1 - self.alpha):g} % CI"
        pb = self.proportional_bias
        rows = (
            ("n (pairs)", str(self.n), ""),
            ("bias (mean difference)", fmt(self.bias), fmt_interval(self.bias_ci)),
            ("SD of differences", fmt(self.sd), ""),
            ("lower limit of agreement", fmt(self.loa_lower), fmt_interval(self.loa_lower_ci)),
            ("upper limit of agreement", fmt(self.loa_upper), fmt_interval(self.loa_upper_ci)),
            ("proportional bias slope", fmt(pb.slope), fmt_interval(pb.slope_ci)),
            ("proportional bias p", fmt(pb.slope_p), ""),
        )
        notes = (
            f"Difference = {self.direction}, on the {self.scale} scale ({self.unit}).",
            f"SD with ddof = {self.ddof}; limits = bias ± {self.multiplier:g}·SD. Limits of "
            "agreement are not confidence intervals.",
            f"CIs: bias by t(n−1); limits by {_CI_TEXT[self.ci_method]}.",
            "Assumes independent pairs (one per subject) with normally distributed differences "
            "whose mean and SD do not depend on magnitude (see the proportional-bias slope).",
        )
        return SummaryTable("Bland-Altman agreement", ("statistic", "estimate", pct), rows, notes)

    def summary(self, format: str = "text") -> str:
        """Table of the estimates and intervals with numbered assumptions.

        Parameters
        ----------
        format : {"text", "markdown", "html"}
        """
        return self._table().render(format)


def from_differences(d: np.ndarray, means: np.ndarray, *, multiplier: float, ci_method: str,
                     alpha: float, scale: str, unit: str) -> BlandAltmanResult:
    """The Bland-Altman result of checked differences ``d`` (n,) and pair means ``means``
    (n,) on the ``scale`` they were taken on (absolute, percent, log ratio); the options are
    those returned by :func:`check_options`. Shared by :func:`bland_altman` and the variants of
    :mod:`suite.stats.bland_altman_variants`."""
    n = d.size
    bias = float(np.mean(d))
    sd = 0.0 if np.ptp(d) == 0.0 else float(np.std(d, ddof=1))
    bias_ci, lo_ci, hi_ci = loa_intervals(bias, sd, n, multiplier=multiplier,
                                          ci_method=ci_method, alpha=alpha)
    return BlandAltmanResult(
        n=n, bias=bias, sd=sd, loa_lower=bias - multiplier * sd, loa_upper=bias + multiplier * sd,
        bias_ci=tuple(map(float, bias_ci)), loa_lower_ci=tuple(map(float, lo_ci)),
        loa_upper_ci=tuple(map(float, hi_ci)),
        proportional_bias=_proportional_bias(d, means, alpha),
        multiplier=multiplier, alpha=alpha, ci_method=ci_method, scale=scale, unit=unit,
        differences=readonly(d), means=readonly(means),
    )


def check_options(where, multiplier, ci_method, alpha):
    """``(multiplier, ci_method, alpha)`` checked (positive, one of :data:`CI_METHODS`, in
    (0, 1)) for the Bland-Altman function ``where``."""
    return (check_positive(multiplier, name="multiplier", where=where),
            check_option(ci_method, CI_METHODS, name="ci_method", where=where),
            check_alpha(alpha, where=where))


def bland_altman(test, reference, *, multiplier: float = 1.96, ci_method: str = "approximate",
                 alpha: float = 0.05, unit: str = "unit of the input") -> BlandAltmanResult:
    """Bland-Altman bias and limits of agreement of paired measurements, with CIs.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements of the same n subjects by the method under test and the reference
        method, same unit (e.g. EF in %, volumes in mL). n ≥ 3; NaN/inf are rejected.
    multiplier : float, default 1.96
        ``z`` in LoA = bias ± z·SD (Bland & Altman 1986 used 2).
    ci_method : {"approximate", "approximate_1986", "exact", "exact_individual"}
        Method for the CIs of the limits, see :func:`loa_intervals`.
    alpha : float, default 0.05
        Intervals are two-sided at ``1 − alpha``.
    unit : str, optional
        Unit label carried into the result.

    Returns
    -------
    BlandAltmanResult

    Raises
    ------
    ValueError
        Lengths differ, n < 3, non-finite or non-numeric values, or an unknown option.

    Notes
    -----
    d_i = test_i − reference_i; bias = d̄; s = SD(d) with ddof = 1; LoA = d̄ ± z·s;
    bias CI = d̄ ± t_{n−1,1−α/2}·s/√n. Proportional bias: OLS of d on (test + reference)/2
    (statsmodels), slope, intercept, p and CI. When all differences are equal, s = 0 and every
    interval has zero width (no warning is raised).

    References
    ----------
    Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
    clinical measurement. Lancet 1986;327:307-310.
    Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat Methods Med Res
    1999;8:135-160.
    Carkeet A. Exact parametric confidence intervals for Bland-Altman limits of agreement.
    Optom Vis Sci 2015;92(3):e71-80.

    Examples
    --------
    >>> r = bland_altman([10.0, 12.0, 11.0, 13.0], [9.0, 12.5, 10.0, 12.0])
    >>> round(r.bias, 3), round(r.sd, 4), r.direction
    (0.625, 0.75, 'test - reference')
    >>> round(r.loa_upper, 3)
    2.095
    """
    where = "bland_altman"
    multiplier, ci_method, alpha = check_options(where, multiplier, ci_method, alpha)
    t, r = as_pair(test, reference, where=where)
    return from_differences(t - r, (t + r) / 2.0, multiplier=multiplier, ci_method=ci_method,
                            alpha=alpha, scale="difference", unit=unit)
