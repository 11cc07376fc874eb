"""Equivalence (TOST) and non-inferiority t tests on paired differences test − reference."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt, fmt_interval
from suite._validation import check_alpha, check_option
from suite.stats._common import DIRECTION, as_pair

__all__ = ["tost_paired", "noninferiority_paired", "EquivalenceResult"]


@dataclass(frozen=True)
class EquivalenceResult:
    """Result of a paired equivalence (two one-sided tests) or non-inferiority t test.

    Attributes
    ----------
    test : str
        ``"tost"`` or ``"noninferiority"``.
    hypotheses : str
        H0 and H1 in words, with the margins.
    mean_difference, se : float
        d̄ (test − reference) and its SE s/√n (ddof = 1).
    df : int
        n − 1.
    t_lower, p_lower : float
        Test of H0: μ ≤ lower margin (NaN if that side is not tested).
    t_upper, p_upper : float
        Test of H0: μ ≥ upper margin (NaN if that side is not tested).
    p : float
        Overall p value (TOST: max of the two one-sided p values).
    margin_lower, margin_upper : float
        Margins on the difference scale (−inf / +inf for an untested side).
    ci : tuple of float
        TOST: the 1 − 2α two-sided CI of μ (equivalence ⇔ it lies inside the margins);
        non-inferiority: the one-sided 1 − α bound (other end ±inf).
    rejected : bool
        Whether H0 is rejected at ``alpha`` (equivalence or non-inferiority shown).
    """

    test: str
    hypotheses: str
    mean_difference: float
    se: float
    df: int
    t_lower: float
    p_lower: float
    t_upper: float
    p_upper: float
    p: float
    margin_lower: float
    margin_upper: float
    ci: tuple[float, float]
    rejected: bool
    n: int
    alpha: float
    direction: str = DIRECTION

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        """The interval matching the test at level ``alpha`` (see ``ci``)."""
        a = self.alpha if alpha is None else check_alpha(alpha, where="EquivalenceResult.conf_int")
        return _interval(self.test, self.mean_difference, self.se, self.df, a,
                         self.margin_upper if self.test == "noninferiority" else 0.0)

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision (infinite margins become None)."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self, format: str = "text") -> str:
        """Table of the one-sided tests with numbered notes."""
        rows = (("mean difference", fmt(self.mean_difference), ""),
                ("SE", fmt(self.se), ""),
                ("test vs lower margin", f"t = {fmt(self.t_lower)}", f"p = {fmt(self.p_lower)}"),
                ("test vs upper margin", f"t = {fmt(self.t_upper)}", f"p = {fmt(self.p_upper)}"),
                ("overall p", fmt(self.p), "H0 rejected" if self.rejected else "H0 not rejected"),
                ("interval", fmt_interval(self.ci), ""))
        notes = (f"Difference = {self.direction}; paired t with df = {self.df}, "
                 f"alpha = {self.alpha:g}.",
                 self.hypotheses,
                 "Assumes independent pairs with normally distributed differences.")
        title = "Equivalence (TOST)" if self.test == "tost" else "Non-inferiority"
        return SummaryTable(title, ("item", "value", ""), rows, notes).render(format)


def _interval(kind, mean, se, df, alpha, upper_margin):
    if kind == "tost":
        q = float(stats.t.ppf(1.0 - alpha, df))
        return (mean - q * se, mean + q * se)
    q = float(stats.t.ppf(1.0 - alpha, df))
    if math.isinf(upper_margin):  # better="higher": lower bound
        return (mean - q * se, math.inf)
    return (-math.inf, mean + q * se)


def _paired(test, reference, where):
    t, r = as_pair(test, reference, where=where)
    d = t - r
    n = d.size
    sd = 0.0 if np.ptp(d) == 0.0 else float(np.std(d, ddof=1))
    return float(d.mean()), sd / math.sqrt(n), n


def tost_paired(test, reference, *, low: float, upp: float,
                alpha: float = 0.05) -> EquivalenceResult:
    """Equivalence of paired measurements by two one-sided t tests (Schuirmann 1987).

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements, same unit, n ≥ 3.
    low, upp : float
        Equivalence margins for the mean difference test − reference, ``low < upp``, in the
        unit of the data (e.g. −5 and 5 mL).
    alpha : float, default 0.05
        Level of each one-sided test.

    Returns
    -------
    EquivalenceResult

    Notes
    -----
    H0: μ_d ≤ low or μ_d ≥ upp; H1: low < μ_d < upp. t_L = (d̄ − low)/SE with p_L = Pr(T > t_L),
    t_U = (d̄ − upp)/SE with p_U = Pr(T < t_U), T ~ t(n − 1); p = max(p_L, p_U). Equivalent to
    the 1 − 2α CI lying within (low, upp). Same numbers as statsmodels
    ``ttost_paired(test, reference, low, upp)``, returned as a typed result. With zero-variance
    differences SE = 0 and t is ±inf (p 0 or 1); NaN if d̄ equals a margin.

    References
    ----------
    Schuirmann DJ. A comparison of the two one-sided tests procedure and the power approach for
    assessing the equivalence of average bioavailability. J Pharmacokinet Biopharm
    1987;15:657-680.

    Examples
    --------
    >>> r = tost_paired([10.1, 9.8, 10.3, 10.0], [10.0, 10.0, 10.0, 10.0], low=-1.0, upp=1.0)
    >>> r.rejected, round(r.mean_difference, 3)
    (True, 0.05)
    """
    where = "tost_paired"
    alpha = check_alpha(alpha, where=where)
    low, upp = float(low), float(upp)
    if not (math.isfinite(low) and math.isfinite(upp) and low < upp):
        raise ValueError(f"{where}: margins must be finite with low < upp; got low={low}, "
                         f"upp={upp}")
    mean, se, n = _paired(test, reference, where)
    df = n - 1
    with np.errstate(all="ignore"):
        t_l = (mean - low) / se if se > 0 else math.copysign(math.inf, mean - low) if mean != low else math.nan
        t_u = (mean - upp) / se if se > 0 else math.copysign(math.inf, mean - upp) if mean != upp else math.nan
        p_l = float(stats.t.sf(t_l, df))
        p_u = float(stats.t.cdf(t_u, df))
    p = max(p_l, p_u)
    return EquivalenceResult(
        test="tost",
        hypotheses=f"H0: mean difference <= {low:g} or >= {upp:g}; H1: {low:g} < mean "
                   f"difference < {upp:g} (equivalence).",
        mean_difference=mean, se=se, df=df, t_lower=float(t_l), p_lower=p_l,
        t_upper=float(t_u), p_upper=p_u, p=p, margin_lower=low, margin_upper=upp,
        ci=_interval("tost", mean, se, df, alpha, 0.0), rejected=bool(p < alpha), n=n,
        alpha=alpha,
    )


def noninferiority_paired(test, reference, *, margin: float, better: str,
                          alpha: float = 0.05) -> EquivalenceResult:
    """Non-inferiority of the test method by a one-sided paired t test.

    Parameters
    ----------
    test, reference : array_like (n,), float64
        Paired measurements, same unit, n ≥ 3.
    margin : float
        Largest acceptable loss, > 0, in the unit of the data.
    better : {"higher", "lower"}
        Whether higher or lower values of the measurement are better (e.g. "higher" for a Dice
        score, "lower" for an error).
    alpha : float, default 0.05
        One-sided level.

    Returns
    -------
    EquivalenceResult
        ``test="noninferiority"``; only one side is tested (the other t and p are NaN).

    Notes
    -----
    better="higher": H0 μ_d ≤ −margin vs H1 μ_d > −margin, t = (d̄ + margin)/SE,
    p = Pr(T > t). better="lower": H0 μ_d ≥ margin vs H1 μ_d < margin, t = (d̄ − margin)/SE,
    p = Pr(T < t). T ~ t(n − 1), d = test − reference.

    Examples
    --------
    >>> r = noninferiority_paired([0.90, 0.88, 0.91, 0.89], [0.90, 0.90, 0.90, 0.90],
    ...                           margin=0.05, better="higher")
    >>> r.rejected
    True
    """
    where = "noninferiority_paired"
    alpha = check_alpha(alpha, where=where)
    better = check_option(better, ("higher", "lower"), name="better", where=where)
    margin = float(margin)
    if not (math.isfinite(margin) and margin > 0):
        raise ValueError(f"{where}: `margin` must be a positive finite number; got {margin}")
    mean, se, n = _paired(test, reference, where)
    df = n - 1
    bound = -margin if better == "higher" else margin
    with np.errstate(all="ignore"):
        tt = (mean - bound) / se if se > 0 else (
            math.copysign(math.inf, mean - bound) if mean != bound else math.nan)
    nan = math.nan
    if better == "higher":
        p = float(stats.t.sf(tt, df))
        fields = dict(t_lower=float(tt), p_lower=p, t_upper=nan, p_upper=nan,
                      margin_lower=-margin, margin_upper=math.inf)
        hyp = (f"H0: mean difference <= {-margin:g}; H1: mean difference > {-margin:g} "
               "(higher is better; test not worse by more than the margin).")
    else:
        p = float(stats.t.cdf(tt, df))
        fields = dict(t_lower=nan, p_lower=nan, t_upper=float(tt), p_upper=p,
                      margin_lower=-math.inf, margin_upper=margin)
        hyp = (f"H0: mean difference >= {margin:g}; H1: mean difference < {margin:g} "
               "(lower is better; test not worse by more than the margin).")
    return EquivalenceResult(
        test="noninferiority", hypotheses=hyp, mean_difference=mean, se=se, df=df, p=p,
        ci=_interval("noninferiority", mean, se, df, alpha, fields["margin_upper"]),
        rejected=bool(p < alpha), n=n, alpha=alpha, **fields,
    )
