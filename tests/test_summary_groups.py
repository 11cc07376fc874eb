"""The run summary's groups and CIs: identical to one group at a time through the generic tools.

:func:`suite.analysis.summary.metric_summary` takes its groups as row positions and reuses the
resample indices of a seed for every group of the same size (issue 17: the summary of a run has
thousands of groups). Here every row of its output is recomputed the plain way: pandas'
``groupby`` one group at a time, :func:`suite.metrics.reduce.reduce_subjects` on the group's
rows and :func:`suite.stats.bootstrap_ci` with ``np.mean`` on the subject means, and must be
equal to the last bit.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from suite.analysis.summary import bootstrap_mean_ci, metric_summary, stratum_summary
from suite.metrics.reduce import reduce_subjects
from suite.stats import bootstrap_ci


def _frame(seed: int = 0) -> pd.DataFrame:
    """Rows of several metrics, methods, budgets (NaN and numbers), subjects with one or more
    values, excluded values, a group with a single subject and a group of equal values."""
    rng = np.random.default_rng(seed)
    rows = []
    subjects = [f"s{i}" for i in range(11)]
    for metric in ("ssim", "dice", "psnr"):
        for method in ("a", "b", ""):
            for budget in (math.nan, 0.01, 0.05):
                n_subj = int(rng.integers(1, len(subjects) + 1))
                for s in rng.choice(subjects, size=n_subj, replace=False):
                    for _ in range(int(rng.integers(1, 4))):
                        v = float(rng.normal())
                        excl = None
                        u = rng.random()
                        if u < 0.08:
                            v, excl = math.nan, None
                        elif u < 0.15:
                            excl = "implausible"
                        elif u < 0.2:
                            v, excl = -1.0, "sentinel"
                        rows.append({"stage": "recon", "metric": metric, "structure": "",
                                     "phase": "", "segment": "", "convention": "",
                                     "profile": "p", "condition": "c", "recon": method,
                                     "segmentation": "", "attack": "", "budget": budget,
                                     "subject": s, "value": v, "exclusion": excl,
                                     "unit": "1", "direction": "higher is better",
                                     "vendor": "A" if s < "s5" else "B"})
    for s in ("s0", "s1", "s2"):  # equal values: the CI is the value itself
        rows.append({**rows[0], "metric": "flat", "subject": s, "value": 0.5, "exclusion": None})
    df = pd.DataFrame(rows)
    df.attrs["method_stages"] = ["recon", "segmentation"]
    return df


def _reference(df: pd.DataFrame, keys, seed, n_resamples, alpha) -> pd.DataFrame:
    out = []
    for key, g in df.groupby(keys, sort=True, dropna=False):
        excl = [None if (e is None or e != e) else e for e in g["exclusion"]]
        agg = reduce_subjects(g["value"].tolist(), g["subject"].tolist(), exclusions=excl)
        vals = agg.values()
        if vals.size < 2:
            lo = hi = math.nan
        elif np.allclose(vals, vals[0]):
            lo = hi = float(vals[0])
        else:
            lo, hi = bootstrap_ci(vals, np.mean, seed=seed, n_resamples=n_resamples,
                                  alpha=alpha).ci
        out.append(dict(zip(keys, key)) | {
            "mean": agg.value, "ci_low": lo, "ci_high": hi, "n_subjects": agg.n_subjects,
            "n_excluded": agg.n_excluded,
            "excluded": ", ".join(f"{n} {r}" for r, n in agg.excluded_by),
            "unit": g["unit"].iloc[0], "direction": g["direction"].iloc[0]})
    return pd.DataFrame(out)


KEYS = ["stage", "metric", "structure", "phase", "segment", "convention", "profile",
        "condition", "recon", "segmentation", "attack", "budget"]


@pytest.mark.parametrize("seed,n_resamples,alpha", [(0, 1000, 0.05), (7, 200, 0.1)])
def test_metric_summary_equals_one_group_at_a_time(seed, n_resamples, alpha):
    df = _frame(seed)
    got = metric_summary(df, seed=seed, n_resamples=n_resamples, alpha=alpha)
    want = _reference(df, KEYS, seed, n_resamples, alpha)
    assert len(got) > 20 and got["budget"].isna().any() and (got["n_subjects"] == 1).any()
    assert (got["n_excluded"] > 0).any()
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_stratum_summary_equals_one_group_at_a_time():
    df = _frame(3)
    got = stratum_summary(df, "vendor", seed=0, n_resamples=500, alpha=0.05)
    want = _reference(df.assign(vendor=df["vendor"].astype(str)), KEYS + ["vendor"], 0, 500, 0.05)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("n", [2, 3, 4, 7, 8, 9, 16, 33])
def test_bootstrap_mean_ci_is_the_generic_bootstrap(n):
    vals = np.random.default_rng(n).gamma(2.0, size=n)
    for seed in (0, 5):
        want = bootstrap_ci(vals, np.mean, seed=seed, n_resamples=1000, alpha=0.05).ci
        assert bootstrap_mean_ci(vals, seed, 1000, 0.05) == want
    # a seed that is not an integer takes the generic path (same numbers)
    ss = np.random.SeedSequence(11)
    assert bootstrap_mean_ci(vals, ss, 300, 0.1) == \
        bootstrap_ci(vals, np.mean, seed=np.random.SeedSequence(11), n_resamples=300, alpha=0.1).ci


def test_a_remembered_interval_is_the_generic_bootstrap_of_its_values():
    """Intervals are remembered by the values' bytes: asking again, with another array of the
    same values or other seed/alpha types, gives the generic bootstrap of those values; values
    one ulp apart are not mixed up."""
    vals = np.random.default_rng(3).gamma(2.0, size=5)
    near = vals.copy()
    near[-1] = np.nextafter(near[-1], np.inf)
    for v in (vals, near):
        want = bootstrap_ci(v, np.mean, seed=2, n_resamples=400, alpha=0.1).ci
        for again in (v, v.copy(), list(v)):
            assert bootstrap_mean_ci(again, 2, 400, 0.1) == want
            assert bootstrap_mean_ci(again, np.int64(2), np.int64(400), np.float64(0.1)) == want
    for _ in range(2):  # an error is raised each time, never remembered
        with pytest.raises(ValueError, match="alpha"):
            bootstrap_mean_ci(vals, 0, 1000, 1.5)


def test_bootstrap_mean_ci_keeps_the_generic_checks():
    vals = np.array([1.0, 2.0, 4.0])
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_mean_ci(vals, 0, 50, 0.05)
    with pytest.raises(ValueError, match="alpha"):
        bootstrap_mean_ci(vals, 0, 1000, 1.5)
    with pytest.raises(ValueError, match="not finite"):
        bootstrap_mean_ci(np.array([1.0, math.inf, 2.0]), 0, 1000, 0.05)
    assert all(math.isnan(v) for v in bootstrap_mean_ci(np.array([1.0]), 0, 1000, 0.05))


def test_the_same_subject_id_in_two_datasets_is_two_subjects():
    """Two phantom cohorts both number their subjects from 000: the summary and the acceptance
    reduce per (dataset, subject), as the gate clusters, never merging two people."""
    from suite.analysis.summary import check_acceptance

    df = pd.DataFrame({"stage": "recon", "metric": "ssim", "condition": "c", "recon": "m",
                       "dataset": ["a", "a", "b"], "subject": ["s0", "s0", "s0"],
                       "value": [0.2, 0.4, 0.9], "exclusion": None, "row_id": [1, 2, 3],
                       "budget": np.nan, "structure": "", "phase": "", "segment": "",
                       "convention": "", "profile": "", "attack": "", "unit": "",
                       "direction": "higher is better"})
    df.attrs["method_stages"] = ["recon"]
    [row] = metric_summary(df, n_resamples=100).to_dict("records")
    assert row["n_subjects"] == 2 and row["mean"] == pytest.approx((0.3 + 0.9) / 2)
    [acc] = check_acceptance(df, [{"metric": "ssim", "min": 0.0}])
    assert acc["n_subjects"] == 2 and acc["value"] == pytest.approx(0.6)


def test_equal_values_give_the_value_as_interval_as_numpy_allclose_decides():
    """The interval is the value itself exactly where ``np.allclose(values, values[0])`` (the
    reference) holds: at and around its tolerance, with infinities and NaN."""
    base = 1000.0
    tol = 1e-08 + 1e-05 * base
    for d in (0.0, tol * 0.5, tol, np.nextafter(tol, 0.0), np.nextafter(tol, 1.0), tol * 2):
        for v in (np.array([base, base + d, base - d]), np.array([base, base - d])):
            same = np.allclose(v, v[0])
            lo, hi = bootstrap_mean_ci(v, 0, 1000, 0.05)
            assert (lo == hi == base) == same, (d, v)
    assert np.allclose([math.inf, math.inf], math.inf)  # equal infinities are "close"
    assert bootstrap_mean_ci(np.array([math.inf, math.inf]), 0, 1000, 0.05) == (math.inf,) * 2
    with pytest.raises(ValueError, match="not finite"):  # else the generic path raises
        bootstrap_mean_ci(np.array([1.0, math.nan]), 0, 1000, 0.05)
