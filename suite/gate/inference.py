"""One-sided inference on paired per-case differences for the release gate.

Every function works on the *gain* ``g`` of the candidate over the baseline, oriented so that
larger is better: ``g = candidate − baseline`` for higher-is-better metrics and
``g = baseline − candidate`` for lower-is-better ones. Non-inferiority with margin ``δ > 0``
is H0: θ ≤ −δ against H1: θ > −δ, where θ is the mean gain (bootstrap, t) or the
pseudo-median of the gain (Wilcoxon). The criterion passes when the one-sided lower
``1 − α`` confidence bound of θ exceeds −δ (bootstrap, Wilcoxon) or the one-sided test rejects
H0 at level α (t; the same decision as its bound).

Readings of one subject are correlated, so the t and Wilcoxon tests use one gain per subject
(the mean of that subject's case gains) and the bootstrap resamples whole subjects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from suite._serialise import jsonable
from suite.metrics.reduce import reduce_subjects

__all__ = ["OneSidedResult", "bootstrap_lower_bound", "t_lower_bound", "wilcoxon_lower_bound",
           "signed_rank_null_cdf", "walsh_averages"]


@dataclass(frozen=True)
class OneSidedResult:
    """A point estimate of the mean (or pseudo-median) gain with its one-sided lower bound.

    Attributes
    ----------
    estimate : float
        Mean over subjects of the subject-mean gain (bootstrap, t) or the Hodges–Lehmann
        pseudo-median of the subject gains (Wilcoxon), in metric units.
    lower : float
        One-sided ``1 − alpha`` lower confidence bound of the same quantity.
    p_value : float or None
        One-sided p value of H0: θ ≤ ``null`` (None for the bootstrap).
    method : str
    n_subjects, n_cases : int
    alpha : float
    null : float
        The value tested (−margin).
    """

    estimate: float
    lower: float
    p_value: float | None
    method: str
    n_subjects: int
    n_cases: int
    alpha: float
    null: float

    @property
    def rejected(self) -> bool:
        """H0 (θ ≤ null) rejected, i.e. the lower bound lies above the null value."""
        return bool(self.lower > self.null)

    def to_dict(self) -> dict:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__}
                        | {"rejected": self.rejected})

    def summary(self) -> str:
        p = "" if self.p_value is None else f", one-sided p = {self.p_value:.4g}"
        return (f"{self.method}: estimate {self.estimate:.6g}, one-sided {100 * (1 - self.alpha):g} % "
                f"lower bound {self.lower:.6g} vs {self.null:.6g}{p} "
                f"({self.n_subjects} subjects, {self.n_cases} cases)")


def _subject_means(gain: np.ndarray, subject: np.ndarray) -> np.ndarray:
    """Each subject's mean gain (:func:`suite.metrics.reduce.reduce_subjects`), sorted by
    subject."""
    return reduce_subjects(gain.tolist(), list(subject)).values()


def bootstrap_lower_bound(gain, subject, *, null: float, alpha: float = 0.05,
                          n_resamples: int = 2000, seed=0) -> OneSidedResult:
    """Subject-clustered percentile bootstrap lower bound of the mean gain.

    Parameters
    ----------
    gain : array_like (n_cases,), float64
        Oriented per-case gain (module docstring), metric units.
    subject : array_like (n_cases,)
        Subject of each case (the resampling cluster).
    null : float
        −margin.
    alpha : float
        The bound is the ``alpha`` quantile of the bootstrap distribution (one-sided
        ``1 − alpha``), computed by :func:`suite.stats.bootstrap_ci` at two-sided level
        ``1 − 2·alpha``.

    Notes
    -----
    The statistic is the mean over subjects of the subject-mean gain; each resample draws
    subjects with replacement (a subject drawn twice counts twice).
    """
    from suite.stats import bootstrap_ci

    g = np.asarray(gain, dtype=float)
    per = _subject_means(g, np.asarray(subject))
    est = float(per.mean())
    n_sub = int(per.size)
    if np.ptp(per) == 0.0:  # every resample gives the same mean: the bound is the estimate
        lower = est
    else:
        # resampling subjects and averaging their subject means is resampling the subject
        # means themselves, so the clustered bootstrap runs on the (n_subjects,) vector
        r = bootstrap_ci(per, np.mean, seed=seed, n_resamples=n_resamples, alpha=2 * alpha)
        lower = float(r.ci[0])
    return OneSidedResult(estimate=est, lower=lower, p_value=None,
                          method=f"subject-clustered percentile bootstrap ({n_resamples} resamples)",
                          n_subjects=n_sub, n_cases=int(g.size), alpha=alpha, null=float(null))


def t_lower_bound(gain, subject, *, null: float, alpha: float = 0.05) -> OneSidedResult:
    """One-sided paired t test on subject-mean gains, bound ḡ − t_{1−α, n−1}·s/√n.

    Same statistic as :func:`suite.stats.noninferiority_paired` (and scipy's
    ``ttest_1samp(g, null, alternative="greater")``): t = (ḡ − null)/(s/√n), p = Pr(T > t),
    T ~ t(n − 1), s with ddof = 1. With zero variance the bound is ḡ and t is ±inf.
    """
    g = _subject_means(np.asarray(gain, float), np.asarray(subject))
    n = g.size
    if n < 3:
        raise ValueError(f"paired t test: at least 3 subjects are needed; got {n}")
    mean = float(g.mean())
    se = float(np.std(g, ddof=1) / math.sqrt(n)) if np.ptp(g) > 0 else 0.0
    lower = mean - float(stats.t.ppf(1 - alpha, n - 1)) * se
    with np.errstate(all="ignore"):
        if se > 0:
            t = (mean - null) / se
        else:
            t = math.copysign(math.inf, mean - null) if mean != null else math.nan
    p = float(stats.t.sf(t, n - 1))
    return OneSidedResult(estimate=mean, lower=lower, p_value=p,
                          method="one-sided paired t test on subject means", n_subjects=n,
                          n_cases=int(np.asarray(gain).size), alpha=alpha, null=float(null))


def walsh_averages(x) -> np.ndarray:
    """All ``n(n+1)/2`` Walsh averages ``(x_i + x_j)/2, i ≤ j``, sorted ascending.

    >>> walsh_averages([1.0, 3.0]).tolist()
    [1.0, 2.0, 3.0]
    """
    x = np.asarray(x, float)
    i, j = np.triu_indices(x.size)
    return np.sort((x[i] + x[j]) / 2.0)


def signed_rank_null_cdf(n: int) -> np.ndarray:
    """Exact null distribution of the Wilcoxon signed-rank statistic W+ for ``n`` untied,
    non-zero observations: ``cdf[w] = Pr(W+ ≤ w)``, w = 0 … n(n+1)/2 (counts of subsets of
    {1..n} with each sum, divided by 2^n).

    >>> (signed_rank_null_cdf(3) * 8).tolist()   # sums 0,1,2,3,3,4,5,6 of subsets of {1,2,3}
    [1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0]
    """
    top = n * (n + 1) // 2
    counts = np.zeros(top + 1, dtype=float)
    counts[0] = 1.0
    for k in range(1, n + 1):
        counts[k:] = counts[k:] + counts[:-k].copy()
    return np.cumsum(counts) / 2.0**n


def wilcoxon_lower_bound(gain, subject, *, null: float, alpha: float = 0.05) -> OneSidedResult:
    """Wilcoxon signed-rank one-sided test and its Hodges–Lehmann lower bound.

    Parameters as :func:`bootstrap_lower_bound`; one gain per subject (the subject mean).

    Notes
    -----
    Estimate: the Hodges–Lehmann pseudo-median (median of the Walsh averages). Lower bound by
    test inversion (Hollander & Wolfe, *Nonparametric Statistical Methods*, 3rd ed., §3.3):
    with c the smallest value such that Pr0(W+ ≥ c) ≤ α under the exact null distribution
    (n ≤ 60; normal approximation with continuity correction above), the bound is the
    ``N − c + 1``-th smallest of the N = n(n+1)/2 Walsh averages. The p value is scipy's
    ``wilcoxon(g − null, alternative="greater")`` (exact when n ≤ 50 without ties, as
    R's ``wilcox.test``). With fewer than ``log2(1/α)`` subjects no bound exceeds the minimum
    possible and the test cannot reject (e.g. n ≤ 4 at α = 0.05).
    """
    g = _subject_means(np.asarray(gain, float), np.asarray(subject))
    n = g.size
    if n < 2:
        raise ValueError(f"Wilcoxon signed-rank test: at least 2 subjects are needed; got {n}")
    w = walsh_averages(g)
    big_n = w.size
    if n <= 60:
        cdf = signed_rank_null_cdf(n)
        # Pr(W+ >= c) = 1 - cdf[c-1]; smallest c with that <= alpha
        tail = 1.0 - np.concatenate([[0.0], cdf[:-1]])
        ok = np.nonzero(tail <= alpha + 1e-12)[0]
        c = int(ok[0]) if ok.size else big_n + 1
    else:
        mu, sd = big_n / 2.0, math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
        c = int(math.ceil(mu + stats.norm.ppf(1 - alpha) * sd + 0.5))
    lower = float(w[big_n - c]) if c <= big_n else -math.inf
    shifted = g - null
    if np.all(shifted == 0):
        p = 1.0
    else:
        p = float(stats.wilcoxon(shifted, alternative="greater", zero_method="wilcox").pvalue)
    return OneSidedResult(estimate=float(np.median(w)), lower=lower, p_value=p,
                          method="one-sided Wilcoxon signed-rank on subject means "
                                 "(Hodges-Lehmann bound)",
                          n_subjects=n, n_cases=int(np.asarray(gain).size), alpha=alpha,
                          null=float(null))
