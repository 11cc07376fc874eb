"""Correlation-type agreement indices with CIs: Lin's CCC, Pearson's r, Spearman's rho.

Only Lin's concordance correlation coefficient measures agreement (it penalises location and
scale shifts); Pearson and Spearman measure association and are given because reports ask for
them. Arguments follow the suite order: test first, reference second.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt, fmt_interval
from suite._validation import check_alpha
from suite.stats._common import as_pair

__all__ = ["ccc", "pearson", "spearman", "CCCResult", "CorrelationResult"]


def _z(alpha: float) -> float:
    return float(special.ndtri(1.0 - alpha / 2.0))


@dataclass(frozen=True)
class CorrelationResult:
    """A correlation coefficient with its ``1 − alpha`` CI and two-sided p value (H0: 0)."""

    statistic: str
    estimate: float
    ci: tuple[float, float]
    p: float
    n: int
    alpha: float
    ci_method: str

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        """CI at level ``1 − alpha`` by the stored method (Fisher z with its SE)."""
        if alpha is None:
            return self.ci
        a = check_alpha(alpha, where="CorrelationResult.conf_int")
        se = (1.0 / math.sqrt(self.n - 3) if self.statistic == "pearson_r"
              else math.sqrt((1.0 + self.estimate**2 / 2.0) / (self.n - 3)))
        return _fisher_ci(self.estimate, se, a)

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self, format: str = "text") -> str:
        """One-row table with the CI method as a note."""
        pct = f"{100 * (1 - self.alpha):g} % CI"
        return SummaryTable(self.statistic, ("statistic", "estimate", pct, "p", "n"),
                            ((self.statistic, fmt(self.estimate), fmt_interval(self.ci),
                              fmt(self.p), str(self.n)),),
                            (f"CI: {self.ci_method}.",
                             "Measures association, not agreement.")).render(format)


def _fisher_ci(est: float, se: float, alpha: float) -> tuple[float, float]:
    if abs(est) >= 1.0:
        return (float(est), float(est))
    z = math.atanh(est)
    h = _z(alpha) * se
    return (math.tanh(z - h), math.tanh(z + h))


def _check_not_constant(t, r, where):
    for name, a in (("test", t), ("reference", r)):
        if np.ptp(a) == 0.0:
            raise ValueError(f"{where}: `{name}` is constant, so the correlation is undefined")


def pearson(test, reference, *, alpha: float = 0.05) -> CorrelationResult:
    """Pearson's r with the Fisher z CI (scipy.stats.pearsonr).

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired values, n ≥ 4, neither constant.
    alpha : float, default 0.05

    Returns
    -------
    CorrelationResult
        ``statistic="pearson_r"``; CI tanh(atanh r ± z_{1−α/2}/√(n − 3)); p from the t test.

    Examples
    --------
    >>> round(pearson([1.0, 2.0, 3.0, 4.0, 5.0], [1.1, 1.9, 3.2, 3.9, 5.1]).estimate, 4)
    0.9964
    """
    where = "pearson"
    alpha = check_alpha(alpha, where=where)
    t, r = as_pair(test, reference, where=where, min_n=4)
    _check_not_constant(t, r, where)
    res = stats.pearsonr(t, r)
    est = float(res.statistic)
    return CorrelationResult("pearson_r", est, _fisher_ci(est, 1.0 / math.sqrt(t.size - 3), alpha),
                             float(res.pvalue), int(t.size), alpha,
                             "Fisher z, SE = 1/sqrt(n − 3)")


def spearman(test, reference, *, alpha: float = 0.05) -> CorrelationResult:
    """Spearman's rho with a Fisher z CI using the Bonett-Wright standard error.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired values, n ≥ 4, neither constant; ties get average ranks.
    alpha : float, default 0.05

    Returns
    -------
    CorrelationResult
        ``statistic="spearman_rho"``; CI tanh(atanh ρ ± z_{1−α/2}·√((1 + ρ²/2)/(n − 3)));
        p from scipy.stats.spearmanr (t approximation).

    References
    ----------
    Bonett DG, Wright TA. Sample size requirements for estimating Pearson, Kendall and Spearman
    correlations. Psychometrika 2000;65:23-28.

    Examples
    --------
    >>> round(spearman([1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 5.0]).estimate, 6)
    0.8
    """
    where = "spearman"
    alpha = check_alpha(alpha, where=where)
    t, r = as_pair(test, reference, where=where, min_n=4)
    _check_not_constant(t, r, where)
    res = stats.spearmanr(t, r)
    est = float(res.statistic)
    se = math.sqrt((1.0 + est**2 / 2.0) / (t.size - 3))
    return CorrelationResult("spearman_rho", est, _fisher_ci(est, se, alpha), float(res.pvalue),
                             int(t.size), alpha, "Fisher z, Bonett-Wright SE sqrt((1 + rho²/2)/(n − 3))")


@dataclass(frozen=True)
class CCCResult:
    """Lin's concordance correlation coefficient ρc = r·C_b with its z-transform CI.

    Attributes
    ----------
    ccc : float
        ρc = 2s_xy/(s_x² + s_y² + (x̄ − ȳ)²) with 1/n moments.
    ci : tuple of float
        tanh(atanh ρc ± z_{1−α/2}·SE_z).
    pearson_r, bias_correction, location_shift, scale_shift : float
        r, C_b = ρc/r, u = (x̄ − ȳ)/√(s_x s_y) and v = s_x/s_y (1/n moments; x = test).
    se_z : float
        Asymptotic SE of atanh ρc (Lin 1989; see :func:`ccc`).
    """

    ccc: float
    ci: tuple[float, float]
    pearson_r: float
    bias_correction: float
    location_shift: float
    scale_shift: float
    se_z: float
    n: int
    alpha: float
    moments: str = "1/n"
    ci_method: str = "Lin 1989 z-transform, asymptotic variance of atanh(ccc)"

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        """CI of ρc at level ``1 − alpha``."""
        if alpha is None:
            return self.ci
        return _fisher_ci(self.ccc, self.se_z, check_alpha(alpha, where="CCCResult.conf_int"))

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self, format: str = "text") -> str:
        """Table of ρc, r and C_b with numbered notes."""
        pct = f"{100 * (1 - self.alpha):g} % CI"
        rows = (("CCC", fmt(self.ccc), fmt_interval(self.ci)),
                ("Pearson r (precision)", fmt(self.pearson_r), ""),
                ("C_b (accuracy)", fmt(self.bias_correction), ""),
                ("location shift u", fmt(self.location_shift), ""),
                ("scale shift v", fmt(self.scale_shift), ""),
                ("n", str(self.n), ""))
        notes = (f"Moments with divisor {self.moments}; x = test, y = reference.",
                 f"CI: {self.ci_method}.",
                 "Assumes independent pairs from a bivariate normal distribution.")
        return SummaryTable("Lin's concordance correlation", ("statistic", "estimate", pct),
                            rows, notes).render(format)


def ccc(test, reference, *, alpha: float = 0.05) -> CCCResult:
    """Lin's concordance correlation coefficient with the z-transform CI.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements, same unit, n ≥ 3.
    alpha : float, default 0.05

    Returns
    -------
    CCCResult

    Raises
    ------
    ValueError
        Invalid input, or both series constant and equal (ρc is 0/0).

    Notes
    -----
    ρc = 2s_xy/(s_x² + s_y² + (x̄ − ȳ)²) with moments divided by n (Lin 1989), ρc = r·C_b,
    C_b = 2/(v + 1/v + u²). Z = atanh ρc is asymptotically normal with (Lin 1989, eq. for
    Var(Z); the same quantity as Lin 2000's Var(ρc)/(1 − ρc²)²)

    Var(Z) = [ (1 − r²)ρc²/((1 − ρc²)r²) + 2ρc³(1 − ρc)u²/(r(1 − ρc²)²)
               − ρc⁴u⁴/(2r²(1 − ρc²)²) ] / (n − 2),

    and the CI is tanh(Z ± z_{1−α/2}·√Var(Z)). If |ρc| = 1 the CI is the point ρc; if r = 0 the
    SE is NaN (no warning).

    References
    ----------
    Lin LI. A concordance correlation coefficient to evaluate reproducibility. Biometrics
    1989;45:255-268; and A note on the concordance correlation coefficient. Biometrics
    2000;56:324-325.

    Examples
    --------
    >>> round(ccc([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0]).ccc, 6)
    1.0
    >>> round(ccc([2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0]).ccc, 4)
    0.7143
    """
    where = "ccc"
    alpha = check_alpha(alpha, where=where)
    x, y = as_pair(test, reference, where=where)
    n = x.size
    mx, my = x.mean(), y.mean()
    sxx = float(np.mean((x - mx) ** 2))
    syy = float(np.mean((y - my) ** 2))
    sxy = float(np.mean((x - mx) * (y - my)))
    denom = sxx + syy + (mx - my) ** 2
    if denom == 0.0:
        raise ValueError(f"{where}: `test` and `reference` are constant and equal; the CCC is "
                         "undefined (0/0)")
    rc = 2.0 * sxy / denom
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r = sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan
        u = (mx - my) / (sxx * syy) ** 0.25 if sxx > 0 and syy > 0 else math.nan
        v = math.sqrt(sxx / syy) if syy > 0 else math.nan
        cb = rc / r if r not in (0.0,) and not math.isnan(r) else math.nan
        if abs(rc) >= 1.0:
            se_z = 0.0
            ci = (rc, rc)
        else:
            one = 1.0 - rc * rc
            var_z = ((1 - r * r) * rc * rc / (one * r * r)
                     + 2 * rc**3 * (1 - rc) * u * u / (r * one * one)
                     - rc**4 * u**4 / (2 * r * r * one * one)) / (n - 2)
            se_z = math.sqrt(var_z) if var_z >= 0 else math.nan
            ci = _fisher_ci(rc, se_z, alpha) if not math.isnan(se_z) else (math.nan, math.nan)
    return CCCResult(ccc=float(rc), ci=(float(ci[0]), float(ci[1])), pearson_r=float(r),
                     bias_correction=float(cb), location_shift=float(u), scale_shift=float(v),
                     se_z=float(se_z), n=int(n), alpha=alpha)
