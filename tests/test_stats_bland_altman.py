"""Bland-Altman against the 1986 Lancet worked example, hand formulas and exact-CI references."""

import json
import math
import warnings

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtr

from suite.stats import (
    bland_altman, bland_altman_log_ratio, bland_altman_percent, bland_altman_repeated,
    loa_intervals, one_sided_tolerance_factor, two_sided_tolerance_factor,
)

# Bland & Altman, Lancet 1986, Table 1: PEFR (l/min), first Wright and first mini Wright reading.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]


def test_lancet_1986_worked_example():
    # Published (rounded intermediates, 2 SD limits, SE(LoA) = sqrt(3 s²/n), t16 = 2.12):
    # bias −2.1, SD 38.8, limits −79.7 and 75.5, bias CI −22.0 to 17.8,
    # lower limit CI −114.3 to −45.1, upper limit CI 40.9 to 110.1.
    r = bland_altman(WRIGHT, MINI, multiplier=2.0, ci_method="approximate_1986")
    assert r.n == 17 and r.direction == "test - reference"
    assert r.bias == pytest.approx(-2.1, abs=0.05)
    assert r.sd == pytest.approx(38.8, abs=0.05)
    assert r.loa_lower == pytest.approx(-79.7, abs=0.1)
    assert r.loa_upper == pytest.approx(75.5, abs=0.15)
    assert r.bias_ci == pytest.approx((-22.0, 17.8), abs=0.1)
    assert r.loa_lower_ci == pytest.approx((-114.3, -45.1), abs=0.25)
    assert r.loa_upper_ci == pytest.approx((40.9, 110.1), abs=0.25)


def test_bland_altman_1999_formulas_by_hand():
    rng = np.random.default_rng(3)
    ref = rng.normal(60, 8, 25)
    test = ref + 1.5 + rng.normal(0, 3, 25)
    r = bland_altman(test, ref)
    d = test - ref
    n, dbar, s = 25, d.mean(), d.std(ddof=1)
    t = stats.t.ppf(0.975, n - 1)
    se = s * math.sqrt(1 / n + 1.96**2 / (2 * (n - 1)))
    assert r.bias == pytest.approx(dbar, rel=1e-12)
    assert r.sd == pytest.approx(s, rel=1e-12)
    assert r.loa_lower == pytest.approx(dbar - 1.96 * s, rel=1e-12)
    assert r.bias_ci == pytest.approx((dbar - t * s / 5, dbar + t * s / 5), rel=1e-12)
    assert r.loa_lower_ci == pytest.approx((dbar - 1.96 * s - t * se, dbar - 1.96 * s + t * se))
    assert r.loa_upper_ci == pytest.approx((dbar + 1.96 * s - t * se, dbar + 1.96 * s + t * se))
    # proportional bias: slope of d on the means, against numpy polyfit / scipy linregress
    lr = stats.linregress((test + ref) / 2, d)
    assert r.proportional_bias.slope == pytest.approx(lr.slope, rel=1e-10)
    assert r.proportional_bias.slope_p == pytest.approx(lr.pvalue, rel=1e-8)
    tq = stats.t.ppf(0.975, n - 2)
    assert r.proportional_bias.slope_ci == pytest.approx(
        (lr.slope - tq * lr.stderr, lr.slope + tq * lr.stderr), rel=1e-8)


def test_direction_sign_and_conf_int_level():
    r = bland_altman([2.0, 3.0, 4.5, 5.0], [1.0, 2.0, 3.0, 4.0])
    assert r.bias > 0  # test − reference
    wide, narrow = r.conf_int(0.01), r.conf_int(0.2)
    assert wide["bias"][0] < r.bias_ci[0] < narrow["bias"][0]
    assert r.conf_int() == {"bias": r.bias_ci, "loa_lower": r.loa_lower_ci,
                            "loa_upper": r.loa_upper_ci}


# pyCompare tests/referenceCIs.csv (jaketmp/pyCompare @ 7e9f505f): two-sided tolerance factors
# K for LoA multiplier 1.96, by degrees of freedom v = n − 1 and confidence γ, computed by
# pyCompare's own port of Carkeet's integration (Simpson rule). Its column labelled 0.5 is not
# used: a Monte-Carlo check shows those values have γ ≈ 0.05, not 0.5.
PYCOMPARE_K = {  # v: (γ=0.025, γ=0.95, γ=0.975)
    1: (0.9744, 36.5192, 73.0772), 5: (1.2825, 4.4222, 5.1983), 9: (1.3915, 3.3934, 3.7706),
    20: (1.5255, 2.7312, 2.9075), 29: (1.5808, 2.5549, 2.6854), 74: (1.6982, 2.2862, 2.3534),
}


@pytest.mark.parametrize("v", sorted(PYCOMPARE_K))
def test_two_sided_tolerance_factor_matches_pycompare_table(v):
    p = 2 * ndtr(1.96) - 1
    got = [two_sided_tolerance_factor(v + 1, p, g) for g in (0.025, 0.95, 0.975)]
    assert got == pytest.approx(PYCOMPARE_K[v], rel=1.5e-4, abs=1e-4)


def test_two_sided_tolerance_factor_monte_carlo_coverage():
    # Defining property: Pr[content of d̄ ± K s ≥ P] = γ. Fixed seed, 40 000 samples of n = 12.
    n, p, gamma = 12, 2 * ndtr(1.96) - 1, 0.9
    k = two_sided_tolerance_factor(n, p, gamma)
    x = np.random.default_rng(11).standard_normal((40_000, n))
    m, s = x.mean(1), x.std(1, ddof=1)
    cover = np.mean(ndtr(m + k * s) - ndtr(m - k * s) >= p)
    assert cover == pytest.approx(gamma, abs=4 * math.sqrt(gamma * (1 - gamma) / 40_000))


def test_one_sided_factor_published_table_and_nct():
    # One-sided normal tolerance factor, P = 0.95 (z = 1.645), γ = 0.95: n = 10 → 2.911,
    # n = 20 → 2.396 (standard tables, e.g. NIST/SEMATECH e-Handbook §7.2.6.3).
    z = stats.norm.ppf(0.95)
    assert one_sided_tolerance_factor(10, z, 0.95) == pytest.approx(2.911, abs=1e-3)
    assert one_sided_tolerance_factor(20, z, 0.95) == pytest.approx(2.396, abs=1e-3)
    # closed form k = t'_{γ}(n − 1, z√n)/√n
    assert one_sided_tolerance_factor(30, 1.96, 0.975) == pytest.approx(
        stats.nct.ppf(0.975, 29, 1.96 * math.sqrt(30)) / math.sqrt(30), rel=1e-12)


def test_exact_individual_coverage_monte_carlo():
    # Each limit's CI should cover μ + 1.96σ (and μ − 1.96σ) in 95 % of samples.
    n, reps = 15, 20_000
    x = np.random.default_rng(5).standard_normal((reps, n))
    m, s = x.mean(1), x.std(1, ddof=1)
    _, lo_ci, hi_ci = loa_intervals(0.0, 1.0, n, ci_method="exact_individual")
    # the CI ends are d̄ + k·s; with bias 0 and sd 1 the stored ends are the factors
    k_lo, k_hi = hi_ci
    cover_upper = np.mean((m + k_lo * s <= 1.96) & (1.96 <= m + k_hi * s))
    cover_lower = np.mean((m - k_hi * s <= -1.96) & (-1.96 <= m - k_lo * s))
    se = math.sqrt(0.95 * 0.05 / reps)
    assert cover_upper == pytest.approx(0.95, abs=4 * se)
    assert cover_lower == pytest.approx(0.95, abs=4 * se)


def test_exact_pair_uses_two_sided_factors():
    r = bland_altman(WRIGHT, MINI, ci_method="exact")
    p = 2 * ndtr(1.96) - 1
    k_in = two_sided_tolerance_factor(17, p, 0.025)
    k_out = two_sided_tolerance_factor(17, p, 0.975)
    assert r.loa_upper_ci == pytest.approx((r.bias + k_in * r.sd, r.bias + k_out * r.sd))
    assert r.loa_lower_ci == pytest.approx((r.bias - k_out * r.sd, r.bias - k_in * r.sd))
    # exact limits are wider outward than the 1999 approximation for small n (Carkeet & Goh)
    a = bland_altman(WRIGHT, MINI)
    assert r.loa_upper_ci[1] > a.loa_upper_ci[1]


def test_percent_and_log_ratio_by_hand():
    t = np.array([110.0, 95.0, 102.0, 130.0, 80.0])
    r = np.array([100.0, 100.0, 100.0, 120.0, 85.0])
    pc = bland_altman_percent(t, r)
    p = 100 * (t - r) / ((t + r) / 2)
    assert pc.bias == pytest.approx(p.mean()) and pc.sd == pytest.approx(p.std(ddof=1))
    assert pc.scale == "percent"
    lr = bland_altman_log_ratio(t, r)
    l = np.log(t / r)
    assert lr.ratio_bias == pytest.approx(math.exp(l.mean()))
    assert lr.ratio_loa_upper == pytest.approx(math.exp(l.mean() + 1.96 * l.std(ddof=1)))
    assert lr.ratio_loa_lower_ci[0] == pytest.approx(math.exp(lr.log_result.loa_lower_ci[0]))
    with pytest.raises(ValueError, match="reference.*> 0"):
        bland_altman_log_ratio([1.0, 2.0, 3.0], [1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="pair 1"):
        bland_altman_percent([1.0, -1.0, 2.0], [1.0, 1.0, 2.0])


def test_repeated_measurements_formula_by_hand():
    # 4 subjects with 2, 3, 3 and 4 pairs (unequal m_i).
    subj = np.array([1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 4])
    d_true = np.array([1.0, 2.0, -1.0, 0.0, 0.5, 3.0, 2.5, 4.0, 0.0, 1.0, -0.5, 0.5])
    ref = np.arange(12.0) * 3 + 40
    res = bland_altman_repeated(subj, ref + d_true, ref)
    groups = [d_true[subj == g] for g in (1, 2, 3, 4)]
    N, n = 12, 4
    grand = d_true.mean()
    ssb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups)
    ssw = sum(((g - g.mean()) ** 2).sum() for g in groups)
    msb, msw = ssb / (n - 1), ssw / (N - n)
    divisor = (N**2 - sum(len(g) ** 2 for g in groups)) / ((n - 1) * N)
    sd = math.sqrt((msb - msw) / divisor + msw)
    assert res.bias == pytest.approx(grand)
    assert res.ms_within == pytest.approx(msw) and res.ms_between == pytest.approx(msb)
    assert res.divisor == pytest.approx(divisor)
    assert res.sd == pytest.approx(sd)
    assert (res.loa_lower, res.loa_upper) == pytest.approx((grand - 1.96 * sd, grand + 1.96 * sd))
    assert not res.between_variance_truncated
    # one-way ANOVA mean squares agree with scipy's F statistic
    f = stats.f_oneway(*groups).statistic
    assert msb / msw == pytest.approx(f)


def test_repeated_balanced_divisor_is_m_and_dataframe_input():
    import pandas as pd

    df = pd.DataFrame({"s": np.repeat(["a", "b", "c"], 2), "t": [1.0, 2, 3, 5, 4, 4],
                       "r": [0.5, 1.5, 2, 2, 3, 3.5]})
    res = bland_altman_repeated("s", "t", "r", data=df)
    assert res.divisor == pytest.approx(2.0)
    assert res.n_subjects == 3 and res.n_pairs == 6
    with pytest.raises(ValueError, match="one pair"):
        bland_altman_repeated([1, 2, 3], [1.0, 2, 3], [1.0, 2, 4])


def test_edge_cases_small_n_and_zero_variance():
    with pytest.raises(ValueError, match="at least 3 pairs.*n = 2"):
        bland_altman([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="reference.*shape"):
        bland_altman([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="non-finite"):
        bland_altman([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="did you mean 'exact'"):
        bland_altman([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], ci_method="exakt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for m in ("approximate", "exact", "exact_individual"):
            r = bland_altman([2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0], ci_method=m)
            assert r.sd == 0.0 and r.loa_lower == r.loa_upper == 1.0
            assert r.loa_upper_ci == (1.0, 1.0) and r.bias_ci == (1.0, 1.0)
        assert math.isnan(r.proportional_bias.slope_p)


def test_results_object_contract():
    r = bland_altman(WRIGHT, MINI, ci_method="exact")
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    for key in ("direction", "ddof", "multiplier", "ci_method", "n", "bias_ci", "loa_lower_ci"):
        assert key in d
    assert d["ddof"] == 1 and d["direction"] == "test - reference"
    assert "differences" not in d
    for fmt in ("text", "markdown", "html"):
        s = r.summary(format=fmt)
        assert "limit of agreement" in s and "Carkeet" in s
    assert "confidence interval" not in r.summary().split("Notes")[0].lower()
    with pytest.raises(Exception):
        r.bias = 0.0  # frozen
    with pytest.raises(ValueError):
        r.differences[0] = 1.0  # read-only
