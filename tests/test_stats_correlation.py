"""CCC, Pearson and Spearman against closed forms written in the test and a coverage check."""

import math

import numpy as np
import pytest
from scipy import stats

from suite.stats import ccc, pearson, spearman


def _data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    ref = rng.normal(100, 15, n)
    return 0.95 * ref + 8 + rng.normal(0, 6, n), ref


def test_ccc_closed_form():
    x, y = _data()
    n = x.size
    sx2, sy2 = x.var(), y.var()  # 1/n moments (Lin 1989)
    sxy = np.mean((x - x.mean()) * (y - y.mean()))
    rc = 2 * sxy / (sx2 + sy2 + (x.mean() - y.mean()) ** 2)
    r = np.corrcoef(x, y)[0, 1]
    u = (x.mean() - y.mean()) / math.sqrt(math.sqrt(sx2 * sy2))
    # Lin 2000 variance of rc (as in epiR), then the z-transform interval
    var_rc = ((1 - r**2) * rc**2 * (1 - rc**2) / r**2 + 2 * rc**3 * (1 - rc) * u**2 / r
              - rc**4 * u**4 / (2 * r**2)) / (n - 2)
    se_z = math.sqrt(var_rc) / (1 - rc**2)
    z = stats.norm.ppf(0.975)
    res = ccc(x, y)
    assert res.ccc == pytest.approx(rc, rel=1e-12)
    assert res.pearson_r == pytest.approx(r, rel=1e-12)
    assert res.bias_correction == pytest.approx(rc / r, rel=1e-12)
    v = math.sqrt(sx2 / sy2)
    assert res.bias_correction == pytest.approx(2 / (v + 1 / v + u**2), rel=1e-12)
    assert res.ci == pytest.approx((math.tanh(math.atanh(rc) - z * se_z),
                                    math.tanh(math.atanh(rc) + z * se_z)), rel=1e-10)


def test_ccc_ci_coverage_monte_carlo():
    # Bivariate normal with known ρc; 1500 samples of n = 60, fixed seed.
    rng = np.random.default_rng(4)
    mu = np.array([1.0, 0.0])
    cov = np.array([[1.2, 0.8], [0.8, 1.0]])
    true = 2 * 0.8 / (1.2 + 1.0 + 1.0)
    hits = 0
    reps = 1500
    for _ in range(reps):
        s = rng.multivariate_normal(mu, cov, size=60)
        lo, hi = ccc(s[:, 0], s[:, 1]).ci
        hits += lo <= true <= hi
    assert hits / reps == pytest.approx(0.95, abs=0.025)


def test_pearson_spearman_closed_forms():
    x, y = _data(1, 30)
    n = x.size
    z = stats.norm.ppf(0.975)
    r = np.corrcoef(x, y)[0, 1]
    res = pearson(x, y)
    assert res.estimate == pytest.approx(r, rel=1e-12)
    h = z / math.sqrt(n - 3)
    assert res.ci == pytest.approx((math.tanh(math.atanh(r) - h), math.tanh(math.atanh(r) + h)))
    rho = np.corrcoef(stats.rankdata(x), stats.rankdata(y))[0, 1]
    sp = spearman(x, y)
    assert sp.estimate == pytest.approx(rho, rel=1e-12)
    h = z * math.sqrt((1 + rho**2 / 2) / (n - 3))  # Bonett & Wright 2000
    assert sp.ci == pytest.approx((math.tanh(math.atanh(rho) - h),
                                   math.tanh(math.atanh(rho) + h)))
    assert sp.conf_int(0.05) == pytest.approx(sp.ci)


def test_edge_cases():
    with pytest.raises(ValueError, match="constant"):
        pearson([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="at least 4"):
        spearman([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="undefined"):
        ccc([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])
    perfect = ccc([1.0, 2.0, 3.0, 5.0], [1.0, 2.0, 3.0, 5.0])
    assert perfect.ccc == pytest.approx(1.0) and perfect.ci == pytest.approx((1.0, 1.0))
    assert "Lin" in perfect.summary("markdown")
