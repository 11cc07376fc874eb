"""Deming against closed form and SVD orthogonal regression; Passing-Bablok by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from suite.stats import deming, passing_bablok


def _data(seed=0, n=30):
    rng = np.random.default_rng(seed)
    truth = rng.uniform(20, 80, n)
    return 2.0 + 1.05 * truth + rng.normal(0, 2, n), truth + rng.normal(0, 1.5, n)


def _deming_closed_form(y, x, lam):
    sxx = np.sum((x - x.mean()) ** 2)
    syy = np.sum((y - y.mean()) ** 2)
    sxy = np.sum((x - x.mean()) * (y - y.mean()))
    b = (syy - lam * sxx + math.sqrt((syy - lam * sxx) ** 2 + 4 * lam * sxy**2)) / (2 * sxy)
    return b, y.mean() - b * x.mean()


@pytest.mark.parametrize("lam", [0.25, 1.0, 4.0])
def test_deming_closed_form_and_jackknife(lam):
    y, x = _data()
    res = deming(y, x, error_ratio=lam)
    b, a = _deming_closed_form(y, x, lam)
    assert res.slope == pytest.approx(b, rel=1e-10)
    assert res.intercept == pytest.approx(a, rel=1e-9)
    # jackknife by explicit leave-one-out loop
    n = x.size
    loo = np.array([_deming_closed_form(np.delete(y, i), np.delete(x, i), lam)
                    for i in range(n)])
    pseudo = n * np.array([b, a]) - (n - 1) * loo
    se = pseudo.std(axis=0, ddof=1) / math.sqrt(n)
    t = stats.t.ppf(0.975, n - 2)
    assert res.slope_ci == pytest.approx((b - t * se[0], b + t * se[0]), rel=1e-7)
    assert res.intercept_ci == pytest.approx((a - t * se[1], a + t * se[1]), rel=1e-6)


def test_deming_lambda_one_is_orthogonal_regression_svd():
    y, x = _data(2)
    pts = np.column_stack([x - x.mean(), y - y.mean()])
    _, _, vt = np.linalg.svd(pts, full_matrices=False)
    direction = vt[0]  # first principal axis
    slope = direction[1] / direction[0]
    res = deming(y, x, error_ratio=1.0)
    assert res.slope == pytest.approx(slope, rel=1e-10)
    assert res.intercept == pytest.approx(y.mean() - slope * x.mean(), rel=1e-9)


def _pb_by_hand(y, x, alpha=0.05):
    """Passing & Bablok 1983 written as explicit loops."""
    slopes = []
    n = len(x)
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[j] - x[i], y[j] - y[i]
            if dx == 0 and dy == 0:
                continue
            s = (math.inf if dy > 0 else -math.inf) if dx == 0 else dy / dx
            if s != -1:
                slopes.append(s)
    slopes.sort()
    N = len(slopes)
    K = sum(s < -1 for s in slopes)
    if N % 2:
        b = slopes[(N + 1) // 2 + K - 1]
    else:
        b = 0.5 * (slopes[N // 2 + K - 1] + slopes[N // 2 + K])
    C = stats.norm.ppf(1 - alpha / 2) * math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    M1 = int(math.floor((N - C) / 2 + 0.5))
    M2 = N - M1 + 1
    bl, bu = slopes[M1 + K - 1], slopes[M2 + K - 1]
    med = lambda s: float(np.median(np.asarray(y) - s * np.asarray(x)))  # noqa: E731
    return b, med(b), (bl, bu), (med(bu), med(bl)), K


def test_passing_bablok_small_dataset_by_hand():
    # includes a tie in x (slope ±inf), a duplicated point (dropped), and negative slopes < −1
    x = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.0, 10.0, 11.0, 12.0]
    y = [1.2, 2.1, 2.6, 2.9, 4.4, 4.8, 6.5, 6.8, 8.3, 9.6, 9.6, 9.9, 11.8, 8.0]
    b, a, bci, aci, K = _pb_by_hand(y, x)
    res = passing_bablok(y, x)
    assert K > 0
    assert res.details["K"] == K
    assert res.slope == pytest.approx(b)
    assert res.intercept == pytest.approx(a)
    assert res.slope_ci == pytest.approx(bci)
    assert res.intercept_ci == pytest.approx(aci)


def test_passing_bablok_perfect_line_and_random_data():
    x = np.linspace(1, 20, 15)
    res = passing_bablok(3.0 + 0.8 * x, x)
    assert res.slope == pytest.approx(0.8) and res.intercept == pytest.approx(3.0)
    assert res.slope_ci == pytest.approx((0.8, 0.8))
    y, x = _data(5, 25)
    b, a, bci, aci, _ = _pb_by_hand(list(y), list(x))
    res = passing_bablok(y, x)
    assert (res.slope, res.intercept) == pytest.approx((b, a))
    assert res.slope_ci == pytest.approx(bci) and res.intercept_ci == pytest.approx(aci)


def test_regression_contract():
    y, x = _data()
    res = deming(y, x)
    d = res.to_dict()
    assert d["details"]["error_ratio"] == 1.0 and "reference" not in d
    assert res.conf_int() == {"slope": res.slope_ci, "intercept": res.intercept_ci}
    with pytest.raises(ValueError, match="refit"):
        res.conf_int(0.1)
    assert "Deming" in res.summary() and "Passing" in passing_bablok(y, x).summary("html")
    with pytest.raises(ValueError, match="error_ratio"):
        deming(y, x, error_ratio=0)
