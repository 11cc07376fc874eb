"""TOST / non-inferiority against statsmodels; clustered bootstrap properties."""

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import DescrStatsW, ttost_paired

from suite.stats import bootstrap_ci, noninferiority_paired, tost_paired


def _pairs(seed=0, n=25, shift=0.4):
    rng = np.random.default_rng(seed)
    ref = rng.normal(55, 8, n)
    return ref + shift + rng.normal(0, 1.5, n), ref


@pytest.mark.parametrize("margins", [(-1.0, 1.0), (-0.5, 2.0), (0.0, 0.3)])
def test_tost_matches_statsmodels(margins):
    t, r = _pairs()
    low, upp = margins
    p, (t1, p1, df1), (t2, p2, df2) = ttost_paired(t, r, low, upp)
    res = tost_paired(t, r, low=low, upp=upp)
    assert res.p == pytest.approx(p, rel=1e-10)
    assert (res.t_lower, res.p_lower) == pytest.approx((t1, p1), rel=1e-10)
    assert (res.t_upper, res.p_upper) == pytest.approx((t2, p2), rel=1e-10)
    assert res.df == df1 == df2
    assert res.rejected == (p < 0.05)
    # equivalence ⇔ the 1 − 2α CI inside the margins
    assert res.rejected == (low < res.ci[0] and res.ci[1] < upp)
    json.dumps(res.to_dict(), allow_nan=False)


@pytest.mark.parametrize("better", ["higher", "lower"])
def test_noninferiority_matches_statsmodels_one_sided(better):
    t, r = _pairs(1)
    ds = DescrStatsW(t - r)
    if better == "higher":
        tstat, p, _ = ds.ttest_mean(value=-0.5, alternative="larger")
    else:
        tstat, p, _ = ds.ttest_mean(value=0.5, alternative="smaller")
    res = noninferiority_paired(t, r, margin=0.5, better=better)
    assert res.p == pytest.approx(p, rel=1e-10)
    assert (res.t_lower if better == "higher" else res.t_upper) == pytest.approx(tstat)
    with pytest.raises(ValueError, match="did you mean 'higher'"):
        noninferiority_paired(t, r, margin=0.5, better="hihger")


def test_bootstrap_deterministic_with_seed():
    x = np.random.default_rng(0).normal(size=30)
    a = bootstrap_ci(x, np.mean, seed=123, n_resamples=300)
    b = bootstrap_ci(x, np.mean, seed=123, n_resamples=300)
    c = bootstrap_ci(x, np.mean, seed=124, n_resamples=300)
    assert a.ci == b.ci and np.array_equal(a.distribution, b.distribution)
    assert a.ci != c.ci
    bca = bootstrap_ci(x, np.mean, seed=np.random.default_rng(5), n_resamples=300, method="bca")
    assert abs(bca.acceleration) < 0.1 and bca.method == "bca"


def test_bootstrap_coverage_of_known_mean():
    rng = np.random.default_rng(99)
    reps, hits = 150, 0
    for i in range(reps):
        x = rng.normal(10.0, 2.0, 40)
        lo, hi = bootstrap_ci(x, np.mean, seed=i, n_resamples=400).ci
        hits += lo <= 10.0 <= hi
    assert 0.88 <= hits / reps <= 0.99  # nominal 0.95; percentile is slightly liberal


def test_clustering_widens_ci_with_correlated_readings():
    rng = np.random.default_rng(8)
    subj = np.repeat(np.arange(20), 6)
    y = rng.normal(0, 1, 20)[subj] + 0.2 * rng.normal(size=subj.size)  # ICC ≈ 0.96
    df = pd.DataFrame({"subject": subj, "y": y})
    naive = bootstrap_ci(df, lambda d: d["y"].mean(), seed=1, n_resamples=400)
    clus = bootstrap_ci(df, lambda d: d["y"].mean(), seed=1, cluster="subject", n_resamples=400)
    width = lambda r: r.ci[1] - r.ci[0]  # noqa: E731
    assert width(clus) > 1.8 * width(naive)
    assert clus.n_clusters == 20 and clus.clustered
    # duplicates of a subject become distinct clusters inside each resample
    seen = []
    bootstrap_ci(df, lambda d: seen.append(d["subject"].nunique()) or 0.0, seed=2,
                 cluster="subject", n_resamples=100)
    assert set(seen[1:]) == {20}


def test_bootstrap_errors():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="resample"):
        bootstrap_ci(x, lambda v: np.nan if v[0] == v[1] else 0.0, seed=0, n_resamples=200)
    with pytest.raises(ValueError, match="one label per row"):
        bootstrap_ci(x, np.mean, seed=0, cluster=[1, 2])
    with pytest.raises(ValueError, match="did you mean 'bca'"):
        bootstrap_ci(x, np.mean, seed=0, method="bcaa")


def test_vectorised_mean_path_matches_the_general_loop():
    """The fast path for np.mean gives the same interval as an equivalent statistic that takes
    the general (looped) path with the same seed."""
    import numpy as np

    from suite.stats import bootstrap_ci

    x = np.random.default_rng(5).normal(10, 2, 40)
    fast = bootstrap_ci(x, np.mean, seed=7, n_resamples=500)
    slow = bootstrap_ci(x, lambda v: float(np.sum(v) / v.size), seed=7, n_resamples=500)
    np.testing.assert_allclose(fast.ci, slow.ci, rtol=1e-12)
    np.testing.assert_allclose(fast.distribution, slow.distribution, rtol=1e-12)
