"""Intraclass correlation: the six Shrout-Fleiss forms with F tests and confidence intervals.

Input is a complete targets × raters design (every target scored once by every rater).
Forms are labelled exactly as Shrout & Fleiss (1979): "ICC(1,1)", "ICC(2,1)", "ICC(3,1)",
"ICC(1,k)", "ICC(2,k)", "ICC(3,k)"; McGraw & Wong (1996) names are given alongside
(ICC(1), ICC(A,1), ICC(C,1), ICC(k), ICC(A,k), ICC(C,k)); pingouin ≥ 2b93bf2 uses those.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt, fmt_interval
from suite._validation import check_alpha
from suite.stats._common import as_vector

__all__ = ["icc", "icc_matrix", "ICCResult", "ICCForm", "ICC_LABELS"]

ICC_LABELS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")
_MW = dict(zip(ICC_LABELS, ("ICC(1)", "ICC(A,1)", "ICC(C,1)", "ICC(k)", "ICC(A,k)", "ICC(C,k)")))
_DESC = {
    "ICC(1,1)": "one-way random, single rater, absolute agreement",
    "ICC(2,1)": "two-way random, single rater, absolute agreement",
    "ICC(3,1)": "two-way mixed, single rater, consistency",
    "ICC(1,k)": "one-way random, mean of k raters, absolute agreement",
    "ICC(2,k)": "two-way random, mean of k raters, absolute agreement",
    "ICC(3,k)": "two-way mixed, mean of k raters, consistency",
}


@dataclass(frozen=True)
class ICCForm:
    """One ICC form: estimate, ``1 − alpha`` CI and the F test of ICC = 0.

    ``F`` has ``df1``, ``df2`` degrees of freedom and ``p`` is its upper-tail p value.
    """

    label: str
    mcgraw_wong: str
    description: str
    icc: float
    ci: tuple[float, float]
    F: float
    df1: float
    df2: float
    p: float

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


def _forms(msb, msj, mse, msw, n, k, alpha):
    """Six ICC forms from the ANOVA mean squares (McGraw & Wong 1996 tables 4-7)."""
    out = {}
    q = 1.0 - alpha / 2.0
    with np.errstate(all="ignore"):
        # One-way: F = MSB/MSW on (n − 1, n(k − 1)).
        df1, df2 = n - 1, n * (k - 1)
        f1 = msb / msw
        fl = f1 / stats.f.ppf(q, df1, df2)
        fu = f1 * stats.f.ppf(q, df2, df1)
        p1 = stats.f.sf(f1, df1, df2)
        out["ICC(1,1)"] = ((msb - msw) / (msb + (k - 1) * msw),
                           ((fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)), f1, df1, df2, p1)
        out["ICC(1,k)"] = ((msb - msw) / msb, (1 - 1 / fl, 1 - 1 / fu), f1, df1, df2, p1)
        # Two-way: F = MSB/MSE on (n − 1, (n − 1)(k − 1)).
        df2 = (n - 1) * (k - 1)
        f3 = msb / mse
        fl = f3 / stats.f.ppf(q, df1, df2)
        fu = f3 * stats.f.ppf(q, df2, df1)
        p3 = stats.f.sf(f3, df1, df2)
        out["ICC(3,1)"] = ((msb - mse) / (msb + (k - 1) * mse),
                           ((fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)), f3, df1, df2, p3)
        out["ICC(3,k)"] = ((msb - mse) / msb, (1 - 1 / fl, 1 - 1 / fu), f3, df1, df2, p3)
        # Absolute agreement, two-way random: Satterthwaite-type df v (McGraw & Wong 1996).
        rho = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
        fj = msj / mse
        a = k * rho * fj + n * (1 + (k - 1) * rho) - k * rho
        v = (n - 1) * (k - 1) * a**2 / ((n - 1) * k**2 * rho**2 * fj**2
                                        + (n * (1 + (k - 1) * rho) - k * rho) ** 2)
        f_star = stats.f.ppf(q, n - 1, v)
        f_2star = stats.f.ppf(q, v, n - 1)
        c = k * msj + (k * n - k - n) * mse
        lo = n * (msb - f_star * mse) / (f_star * c + n * msb)
        hi = n * (f_2star * msb - mse) / (c + n * f_2star * msb)
        out["ICC(2,1)"] = (rho, (lo, hi), f3, df1, df2, p3)
        rho_k = (msb - mse) / (msb + (msj - mse) / n)
        out["ICC(2,k)"] = (rho_k, (k * lo / (1 + (k - 1) * lo), k * hi / (1 + (k - 1) * hi)),
                           f3, df1, df2, p3)
    return tuple(
        ICCForm(label=lab, mcgraw_wong=_MW[lab], description=_DESC[lab], icc=float(out[lab][0]),
                ci=(float(out[lab][1][0]), float(out[lab][1][1])), F=float(out[lab][2]),
                df1=float(out[lab][3]), df2=float(out[lab][4]), p=float(out[lab][5]))
        for lab in ICC_LABELS)


@dataclass(frozen=True)
class ICCResult:
    """All six ICC forms of one targets × raters design, with the ANOVA mean squares.

    Attributes
    ----------
    forms : tuple of ICCForm
        In the order of :data:`ICC_LABELS`; index the result by label: ``res["ICC(2,1)"]``.
    n_targets, k_raters : int
        Design size (n subjects, k raters/methods).
    ms_between, ms_raters, ms_error, ms_within : float
        MSB (targets), MSJ (raters), MSE (two-way residual), MSW (one-way within targets).
    alpha : float
        CIs are two-sided ``1 − alpha``.
    """

    forms: tuple[ICCForm, ...]
    n_targets: int
    k_raters: int
    ms_between: float
    ms_raters: float
    ms_error: float
    ms_within: float
    alpha: float = 0.05
    ci_method: str = ("F-based (Shrout & Fleiss 1979; McGraw & Wong 1996); ICC(2,·) with the "
                      "Satterthwaite-type df of McGraw & Wong")

    def __getitem__(self, label: str) -> ICCForm:
        for f in self.forms:
            if f.label == label:
                return f
        raise KeyError(f"ICCResult: no form {label!r}; forms are {list(ICC_LABELS)}")

    def conf_int(self, alpha: float | None = None) -> dict[str, tuple[float, float]]:
        """CIs of the six forms at level ``1 − alpha`` (stored level if ``None``)."""
        a = self.alpha if alpha is None else check_alpha(alpha, where="ICCResult.conf_int")
        forms = _forms(self.ms_between, self.ms_raters, self.ms_error, self.ms_within,
                       self.n_targets, self.k_raters, a)
        return {f.label: f.ci for f in forms}

    def to_dict(self) -> dict:
        """JSON-safe dict keyed by form label, plus design size and mean squares."""
        out = {f.label: f.to_dict() for f in self.forms}
        out.update({k: getattr(self, k) for k in self.__dataclass_fields__ if k != "forms"})
        return jsonable(out)

    def summary(self, format: str = "text") -> str:
        """Table of the six forms with numbered notes; ``format`` text/markdown/html."""
        pct = f"{100 * (1 - self.alpha):g} % CI"
        rows = tuple((f.label, f.mcgraw_wong, fmt(f.icc), fmt_interval(f.ci), fmt(f.F),
                      f"{fmt(f.df1)}, {fmt(f.df2)}", fmt(f.p)) for f in self.forms)
        notes = (
            f"{self.n_targets} targets × {self.k_raters} raters, complete design; "
            f"MSB = {fmt(self.ms_between)}, MSJ = {fmt(self.ms_raters)}, "
            f"MSE = {fmt(self.ms_error)}, MSW = {fmt(self.ms_within)}.",
            "ICC(1,·): one-way random model, F = MSB/MSW; ICC(2,·): two-way random, absolute "
            "agreement; ICC(3,·): two-way mixed, consistency; ICC(2,·) and ICC(3,·) use "
            "F = MSB/MSE.",
            f"CIs: {self.ci_method}.",
            "Assumes normal, independent target effects and errors with equal variance.",
        )
        return SummaryTable("Intraclass correlation (Shrout & Fleiss forms)",
                            ("form", "McGraw-Wong", "ICC", pct, "F", "df", "p"),
                            rows, notes).render(format)


def icc_matrix(ratings, *, alpha: float = 0.05) -> ICCResult:
    """Six ICC forms from a complete ratings matrix.

    Parameters
    ----------
    ratings : array_like (n_targets, k_raters), float64
        ``ratings[i, j]`` is the score of target i by rater j; no missing values; n ≥ 3, k ≥ 2.
    alpha : float, default 0.05
        CIs are two-sided ``1 − alpha``.

    Returns
    -------
    ICCResult

    Raises
    ------
    ValueError
        Wrong shape, non-finite values, n < 3 or k < 2.

    Notes
    -----
    With grand mean ȳ, row means ȳ_i· and column means ȳ_·j:
    MSB = k Σ(ȳ_i· − ȳ)²/(n − 1); MSJ = n Σ(ȳ_·j − ȳ)²/(k − 1);
    MSE = (SST − SSB − SSJ)/((n − 1)(k − 1)); MSW = (SST − SSB)/(n(k − 1)).

    ====== ==================================================== =====================
    form   estimate                                             F test (df)
    ====== ==================================================== =====================
    (1,1)  (MSB − MSW)/(MSB + (k − 1)MSW)                        MSB/MSW (n−1, n(k−1))
    (2,1)  (MSB − MSE)/(MSB + (k − 1)MSE + k(MSJ − MSE)/n)       MSB/MSE (n−1,(n−1)(k−1))
    (3,1)  (MSB − MSE)/(MSB + (k − 1)MSE)                        MSB/MSE
    (1,k)  (MSB − MSW)/MSB                                       MSB/MSW
    (2,k)  (MSB − MSE)/(MSB + (MSJ − MSE)/n)                     MSB/MSE
    (3,k)  (MSB − MSE)/MSB                                       MSB/MSE
    ====== ==================================================== =====================

    CIs of (1,·) and (3,·): F_L = F/F_{1−α/2}(df1, df2), F_U = F·F_{1−α/2}(df2, df1), bounds
    (F − 1)/(F + k − 1) (single) or 1 − 1/F (average). CI of (2,1) (McGraw & Wong 1996, table 7):
    with ρ = ICC(2,1), F_J = MSJ/MSE and
    v = (n−1)(k−1)[kρF_J + n(1 + (k−1)ρ) − kρ]² / [(n−1)k²ρ²F_J² + (n(1 + (k−1)ρ) − kρ)²],
    F* = F_{1−α/2}(n − 1, v), F** = F_{1−α/2}(v, n − 1):
    lower = n(MSB − F*·MSE)/(F*(k·MSJ + (kn − k − n)MSE) + n·MSB),
    upper = n(F**·MSB − MSE)/(k·MSJ + (kn − k − n)MSE + n·F**·MSB);
    (2,k) bounds are their Spearman-Brown steps k·b/(1 + (k − 1)b). When MSE or MSW is 0
    (perfectly consistent ratings) F is inf and some bounds are NaN or inf; no warning is raised.

    References
    ----------
    Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability.
    Psychol Bull 1979;86(2):420-428.
    McGraw KO, Wong SP. Forming inferences about some intraclass correlation coefficients.
    Psychol Methods 1996;1(1):30-46.

    Examples
    --------
    Shrout & Fleiss (1979), Table 2 (6 targets × 4 judges):

    >>> y = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> res = icc_matrix(y)
    >>> [round(res[lab].icc, 2) for lab in ICC_LABELS]
    [0.17, 0.29, 0.71, 0.44, 0.62, 0.91]
    """
    where = "icc_matrix"
    alpha = check_alpha(alpha, where=where)
    y = np.asarray(ratings)
    if y.dtype.kind not in "biuf":
        raise ValueError(f"{where}: `ratings` must hold numbers; got dtype {y.dtype}")
    if y.ndim != 2:
        raise ValueError(f"{where}: `ratings` must be 2-D (n_targets, k_raters); "
                         f"got shape {y.shape}")
    as_vector(y.ravel(), name="ratings", where=where)
    y = y.astype(np.float64)
    n, k = y.shape
    if n < 3 or k < 2:
        raise ValueError(f"{where}: at least 3 targets and 2 raters are needed; "
                         f"got {n} targets × {k} raters")
    grand = y.mean()
    ss_total = float(np.sum((y - grand) ** 2))
    ss_rows = float(k * np.sum((y.mean(axis=1) - grand) ** 2))
    ss_cols = float(n * np.sum((y.mean(axis=0) - grand) ** 2))
    ss_err = max(ss_total - ss_rows - ss_cols, 0.0)
    msb = ss_rows / (n - 1)
    msj = ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    msw = max(ss_total - ss_rows, 0.0) / (n * (k - 1))
    return ICCResult(forms=_forms(msb, msj, mse, msw, n, k, alpha), n_targets=int(n),
                     k_raters=int(k), ms_between=msb, ms_raters=msj, ms_error=mse,
                     ms_within=msw, alpha=alpha)


def icc(target, rater, score, *, data=None, alpha: float = 0.05) -> ICCResult:
    """Six ICC forms from long-format ratings (one row per target × rater).

    Parameters
    ----------
    target, rater : array_like (N,) or str
        Target (subject) and rater (reader/method) label of each row; column names if ``data``
        is given.
    score : array_like (N,), float64, or str
        The rating; finite numbers.
    data : pandas.DataFrame, optional
        Long table holding the three columns.
    alpha : float, default 0.05
        CIs are two-sided ``1 − alpha``.

    Returns
    -------
    ICCResult
        See :func:`icc_matrix` for the formulas.

    Raises
    ------
    ValueError
        Missing columns, non-finite scores, a (target, rater) cell missing or repeated (the
        first cells are named), fewer than 3 targets or 2 raters.

    Examples
    --------
    >>> res = icc(["a", "a", "b", "b", "c", "c"], ["r1", "r2"] * 3, [1.0, 1.5, 3.0, 3.2, 5.0, 4.6])
    >>> round(res["ICC(3,1)"].icc, 4)
    0.9672
    """
    where = "icc"
    if data is not None:
        missing = [c for c in (target, rater, score) if c not in data.columns]
        if missing:
            raise ValueError(f"{where}: column(s) {missing} not in `data`; "
                             f"available: {list(data.columns)}")
        target, rater, score = data[target].to_numpy(), data[rater].to_numpy(), data[score]
    y = as_vector(score, name="score", where=where)
    t, r = np.asarray(target), np.asarray(rater)
    if not (t.shape == r.shape == y.shape):
        raise ValueError(f"{where}: `target`, `rater` and `score` must have the same length; "
                         f"got {t.size}, {r.size}, {y.size}")
    tl, ti = np.unique(t, return_inverse=True)
    rl, ri = np.unique(r, return_inverse=True)
    n, k = tl.size, rl.size
    counts = np.bincount(ti * k + ri, minlength=n * k).reshape(n, k)
    if np.any(counts != 1):
        bad = np.argwhere(counts != 1)[:5]
        cells = ", ".join(f"(target={tl[i]!r}, rater={rl[j]!r}: {counts[i, j]} rows)"
                          for i, j in bad)
        n_bad = int(np.sum(counts != 1))
        raise ValueError(f"{where}: the design must be complete, one score per target and "
                         f"rater; {n_bad} cell(s) are missing or repeated, e.g. {cells}. "
                         "Remove targets with missing ratings or average repeated ones first")
    matrix = np.empty((n, k))
    matrix[ti, ri] = y
    return icc_matrix(matrix, alpha=alpha)
