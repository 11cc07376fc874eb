"""ICC against Shrout & Fleiss (1979) Table 2 and an independent statsmodels ANOVA."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from suite.stats import ICC_LABELS, icc, icc_matrix

# Shrout & Fleiss 1979, Table 2: 6 targets (rows) × 4 judges (columns).
SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
               [6, 2, 4, 7]], dtype=float)
PUBLISHED = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71,
             "ICC(1,k)": 0.44, "ICC(2,k)": 0.62, "ICC(3,k)": 0.91}


def _long(y):
    n, k = y.shape
    return pd.DataFrame({"target": np.repeat(np.arange(n), k), "rater": np.tile(
        [f"j{j}" for j in range(k)], n), "score": y.ravel()})


def test_shrout_fleiss_table_2_estimates():
    res = icc("target", "rater", "score", data=_long(SF))
    assert [f.label for f in res.forms] == list(ICC_LABELS)
    for label, value in PUBLISHED.items():
        assert res[label].icc == pytest.approx(value, abs=0.005), label


def _mean_squares_statsmodels(y):
    """MSB, MSJ, MSE from statsmodels two-way ANOVA; MSW from a one-way ANOVA."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    df = _long(y)
    two = anova_lm(smf.ols("score ~ C(target) + C(rater)", data=df).fit())
    one = anova_lm(smf.ols("score ~ C(target)", data=df).fit())
    return (two.loc["C(target)", "mean_sq"], two.loc["C(rater)", "mean_sq"],
            two.loc["Residual", "mean_sq"], one.loc["Residual", "mean_sq"])


def _expected(y, alpha=0.05):
    """Shrout-Fleiss / McGraw-Wong formulas written out independently from the mean squares."""
    n, k = y.shape
    msb, msj, mse, msw = _mean_squares_statsmodels(y)
    q = 1 - alpha / 2
    out = {}
    f1, d1, d2 = msb / msw, n - 1, n * (k - 1)
    fl, fu = f1 / stats.f.ppf(q, d1, d2), f1 * stats.f.ppf(q, d2, d1)
    out["ICC(1,1)"] = ((msb - msw) / (msb + (k - 1) * msw), (fl - 1) / (fl + k - 1),
                       (fu - 1) / (fu + k - 1), f1, d1, d2)
    out["ICC(1,k)"] = ((msb - msw) / msb, 1 - 1 / fl, 1 - 1 / fu, f1, d1, d2)
    f3, d2 = msb / mse, (n - 1) * (k - 1)
    fl, fu = f3 / stats.f.ppf(q, d1, d2), f3 * stats.f.ppf(q, d2, d1)
    out["ICC(3,1)"] = ((msb - mse) / (msb + (k - 1) * mse), (fl - 1) / (fl + k - 1),
                       (fu - 1) / (fu + k - 1), f3, d1, d2)
    out["ICC(3,k)"] = ((msb - mse) / msb, 1 - 1 / fl, 1 - 1 / fu, f3, d1, d2)
    rho = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    fj = msj / mse
    v = ((n - 1) * (k - 1) * (k * rho * fj + n * (1 + (k - 1) * rho) - k * rho) ** 2
         / ((n - 1) * k**2 * rho**2 * fj**2 + (n * (1 + (k - 1) * rho) - k * rho) ** 2))
    fs, fss = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
    lo = n * (msb - fs * mse) / (fs * (k * msj + (k * n - k - n) * mse) + n * msb)
    hi = n * (fss * msb - mse) / (k * msj + (k * n - k - n) * mse + n * fss * msb)
    out["ICC(2,1)"] = (rho, lo, hi, f3, d1, d2)
    # McGraw & Wong table 7, ICC(A,k) written directly (not via Spearman-Brown)
    lo_k = n * (msb - fs * mse) / (fs * (msj - mse) + n * msb)
    hi_k = n * (fss * msb - mse) / (msj - mse + n * fss * msb)
    out["ICC(2,k)"] = ((msb - mse) / (msb + (msj - mse) / n), lo_k, hi_k, f3, d1, d2)
    return out


@pytest.mark.parametrize("seed", [None, 7])
def test_ci_f_p_against_independent_anova(seed):
    if seed is None:
        y = SF
    else:
        rng = np.random.default_rng(seed)
        y = rng.normal(50, 10, (15, 1)) + rng.normal(0, 2, (1, 3)) + rng.normal(0, 4, (15, 3))
    res = icc_matrix(y)
    for label, (est, lo, hi, f, d1, d2) in _expected(y).items():
        form = res[label]
        assert form.icc == pytest.approx(est, rel=1e-9), label
        assert form.ci == pytest.approx((lo, hi), rel=1e-7, abs=1e-9), label
        assert (form.F, form.df1, form.df2) == pytest.approx((f, d1, d2), rel=1e-9), label
        assert form.p == pytest.approx(stats.f.sf(f, d1, d2), rel=1e-7), label


def test_shrout_fleiss_against_r_psych_output():
    # R psych::ICC(sf) help-page output for the same data (printed to 2-3 decimals):
    # F 1.8 (5, 18, p .165) for ICC1/ICC1k; F 11 (5, 15, p .00013) for the two-way forms;
    # bounds ICC1 [-0.133, 0.72], ICC2 [0.019, 0.76], ICC3 [0.342, 0.95],
    # ICC1k [-0.884, 0.91], ICC2k [0.071, 0.93], ICC3k [0.676, 0.99].
    res = icc_matrix(SF)
    bounds = {"ICC(1,1)": (-0.133, 0.72), "ICC(2,1)": (0.019, 0.76), "ICC(3,1)": (0.342, 0.95),
              "ICC(1,k)": (-0.884, 0.91), "ICC(2,k)": (0.071, 0.93), "ICC(3,k)": (0.676, 0.99)}
    for label, (lo, hi) in bounds.items():
        assert res[label].ci[0] == pytest.approx(lo, abs=0.0015), label
        assert res[label].ci[1] == pytest.approx(hi, abs=0.006), label
    assert res["ICC(1,1)"].F == pytest.approx(1.8, abs=0.05)
    assert res["ICC(1,1)"].p == pytest.approx(0.165, abs=0.001)
    assert res["ICC(3,1)"].F == pytest.approx(11.0, abs=0.05)
    assert res["ICC(3,1)"].p == pytest.approx(0.00013, abs=0.000006)


def test_incomplete_design_names_missing_cell():
    df = _long(SF).drop(index=5)  # target 1, rater j1
    with pytest.raises(ValueError, match=r"target=np.int64\(1\)|target=1") as exc:
        icc("target", "rater", "score", data=df)
    assert "rater='j1'" in str(exc.value) and "missing or repeated" in str(exc.value)
    with pytest.raises(ValueError, match="not in `data`"):
        icc("subject", "rater", "score", data=_long(SF))


def test_results_contract_and_conf_int():
    res = icc_matrix(SF)
    d = res.to_dict()
    json.dumps(d, allow_nan=False)
    assert set(ICC_LABELS) <= set(d)
    assert res.conf_int()["ICC(3,1)"] == res["ICC(3,1)"].ci
    lo99 = res.conf_int(0.01)["ICC(3,1)"]
    assert lo99[0] < res["ICC(3,1)"].ci[0]
    for fmt in ("text", "markdown", "html"):
        assert "ICC(2,k)" in res.summary(fmt)
    with pytest.raises(KeyError):
        res["ICC2"]
