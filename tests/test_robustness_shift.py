"""Domain-shift analysis (suite.robustness.shift) against scipy/statsmodels computed directly.

Independent references: subject means by numpy, ``scipy.stats.ttest_rel`` / ``wilcoxon`` /
``ttest_ind(equal_var=False)`` on them, ``statsmodels`` MixedLM fitted here, Holm by hand; and
a phantom cohort where one stratum has a lower SNR by construction.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from suite.robustness.shift import shift_analyses, strata_frame, stratum_analysis


def _paired_frame(seed=0, n_subj=7, reps=2):
    rng = np.random.default_rng(seed)
    rows = []
    effects = {"ref": 0.0, "mild": -0.01, "severe": -0.08}
    for i in range(n_subj):
        base = 0.85 + 0.04 * rng.standard_normal()
        for st, eff in effects.items():
            for _ in range(reps):
                rows.append({"subject": f"s{i}", "cond": st,
                             "value": base + eff + 0.02 * rng.standard_normal()})
    return pd.DataFrame(rows)


def _subject_means(df, stratum):
    g = df[df["cond"] == stratum].groupby("subject")["value"].mean()
    return g.sort_index().to_numpy()


def test_paired_against_scipy_and_holm_by_hand():
    df = _paired_frame()
    res = stratum_analysis(df, stratum_col="cond", reference="ref", n_resamples=300, seed=1)
    ref_m = _subject_means(df, "ref")
    p = {}
    for st in ("mild", "severe"):
        row = res.row(st)
        m = _subject_means(df, st)
        t = stats.ttest_rel(m, ref_m, alternative="less")
        w = stats.wilcoxon(m - ref_m, alternative="less")
        assert row["design"] == "paired" and row["n_pairs"] == 7
        assert row["statistic"] == pytest.approx(t.statistic, rel=1e-10)
        assert row["p_value"] == pytest.approx(t.pvalue, rel=1e-10)
        assert row["p_value_alt"] == pytest.approx(w.pvalue, rel=1e-10)
        gap = df[df.cond == st]["value"].mean() - df[df.cond == "ref"]["value"].mean()
        assert row["gap"] == pytest.approx(gap, rel=1e-12)
        assert row["gap_ci_low"] <= row["gap"] <= row["gap_ci_high"]
        assert row["mean"] == pytest.approx(df[df.cond == st]["value"].mean())
        p[st] = t.pvalue
    # Holm with m = 2: smallest p times 2, the other max(its p, previous), capped at 1
    lo, hi = sorted(p, key=p.get)
    assert res.row(lo)["p_holm"] == pytest.approx(min(1, 2 * p[lo]))
    assert res.row(hi)["p_holm"] == pytest.approx(min(1, max(2 * p[lo], p[hi])))
    assert res.significant_strata == ("severe",)
    assert res.row("ref")["design"] == "reference"
    # Wilcoxon as the primary test swaps the columns
    res_w = stratum_analysis(df, stratum_col="cond", reference="ref", n_resamples=300,
                             paired_test="wilcoxon")
    assert res_w.row("severe")["p_value"] == pytest.approx(res.row("severe")["p_value_alt"])
    assert "Wilcoxon" in res_w.row("severe")["test"]


def test_direction_lower_tests_the_other_tail():
    df = _paired_frame()
    df["value"] = 1 - df["value"]  # an error metric: lower is better, degradation = increase
    res = stratum_analysis(df, stratum_col="cond", reference="ref", n_resamples=200,
                           direction="lower")
    t = stats.ttest_rel(_subject_means(df, "severe"), _subject_means(df, "ref"),
                        alternative="greater")
    assert res.row("severe")["p_value"] == pytest.approx(t.pvalue, rel=1e-10)
    assert res.row("severe")["significant"]
    res_wrong = stratum_analysis(df, stratum_col="cond", reference="ref", n_resamples=200,
                                 direction="higher")
    assert not res_wrong.row("severe")["significant"]  # an increase is no degradation here


def test_unpaired_repeated_cases_match_mixedlm():
    import statsmodels.formula.api as smf

    rng = np.random.default_rng(4)
    rows = []
    for site, eff, n in (("A", 0.0, 6), ("B", -0.05, 5)):
        for i in range(n):
            u = 0.05 * rng.standard_normal()
            for _ in range(3):
                rows.append({"subject": f"{site}{i}", "site": site,  # Dice in %
                             "value": 100 * (0.8 + eff + u + 0.02 * rng.standard_normal())})
    df = pd.DataFrame(rows)
    res = stratum_analysis(df, stratum_col="site", reference="A", n_resamples=300)
    row = res.row("B")
    d = df.assign(in_stratum=(df.site == "B").astype(float))
    fit = smf.mixedlm("value ~ in_stratum", d, groups=d["subject"]).fit(reml=True)
    z = fit.tvalues["in_stratum"]
    assert row["design"] == "unpaired" and row["test"].startswith("MixedLM")
    assert row["statistic"] == pytest.approx(z, rel=1e-6)
    assert row["p_value"] == pytest.approx(stats.norm.cdf(z), rel=1e-6)
    ms = df[df.site == "B"].groupby("subject")["value"].mean()
    mr = df[df.site == "A"].groupby("subject")["value"].mean()
    welch = stats.ttest_ind(ms, mr, equal_var=False, alternative="less")
    assert row["p_value_alt"] == pytest.approx(welch.pvalue, rel=1e-10)
    assert row["gap_ci_low"] < row["gap"] < row["gap_ci_high"]


def test_unpaired_one_reading_per_subject_is_welch():
    df = pd.DataFrame({"subject": [f"s{i}" for i in range(9)],
                       "vendor": ["GE"] * 4 + ["Philips"] * 5,
                       "value": [0.9, 0.85, 0.88, 0.91, 0.7, 0.75, 0.8, 0.72, 0.78]})
    res = stratum_analysis(df, stratum_col="vendor", reference="GE", n_resamples=200)
    row = res.row("Philips")
    w = stats.ttest_ind(df.value[4:], df.value[:4], equal_var=False, alternative="less")
    assert row["test"] == "Welch t on subject means"
    assert row["p_value"] == pytest.approx(w.pvalue, rel=1e-10)
    assert row["statistic"] == pytest.approx(w.statistic, rel=1e-10)


def test_single_subject_stratum_has_no_ci_and_no_test():
    df = pd.DataFrame({"subject": ["a", "b", "c", "d", "z", "z"],
                       "fs": [1.5, 1.5, 1.5, 1.5, 3.0, 3.0],
                       "value": [0.8, 0.82, 0.79, 0.81, 0.5, 0.52]})
    res = stratum_analysis(df, stratum_col="fs", reference="1.5", n_resamples=200)
    row = res.row("3.0")
    assert res.reference == "1.5"
    assert row["n_subjects"] == 1 and np.isnan(row["mean_ci_low"]) and np.isnan(row["p_value"])
    assert "one subject" in row["note"] and not row["significant"]
    assert row["mean"] == pytest.approx(0.51)
    text = res.summary()
    assert "one subject" in text and "reference" in text
    d = res.to_dict()
    json.dumps(d)
    assert d["rows"][1]["p_value"] is None  # NaN → None in JSON


def test_errors_name_the_problem():
    df = _paired_frame()
    with pytest.raises(ValueError, match="levels are"):
        stratum_analysis(df, stratum_col="cond", reference="nope")
    with pytest.raises(ValueError, match="lacks columns"):
        stratum_analysis(df, stratum_col="vendor", reference="x")
    with pytest.raises(ValueError, match="direction"):
        stratum_analysis(df, stratum_col="cond", reference="ref", direction="up")


# ---------------------------------------------------------------- phantom cohort
def test_phantom_lower_snr_is_a_significant_gap_and_equal_snr_is_not():
    from suite.metrics.image import score
    from suite.mr.coils import rss
    from suite.mr.fft import ifft2c
    from suite.phantom import simulate
    from suite.phantom.noise import myocardial_signal

    rows = []
    for seed in range(6):
        case = simulate(seed=seed, preset="tiny", snr=None, n_frames=2, n_slices=2)
        coil_img = ifft2c(case.kspace)
        clean = rss(coil_img, dim=2)
        # the phantom's SNR definition: mean noise-free RSS over myocardium at ED / sigma
        tot = [myocardial_signal(coil_img[s, case.meta.ed_frame], case.labels[s, case.meta.ed_frame])
               for s in range(case.n_slices)]
        s_myo = sum(t[0] for t in tot) / max(1, sum(t[1] for t in tot))
        for name, snr, stream in (("snr20", 20.0, 1), ("snr20-repeat", 20.0, 2),
                                  ("snr6", 6.0, 3)):
            rng = np.random.default_rng([seed, stream])
            sigma = s_myo / snr
            noise = sigma * (rng.standard_normal(case.kspace.shape)
                             + 1j * rng.standard_normal(case.kspace.shape))
            noisy = rss(ifft2c((case.kspace + noise).astype(np.complex64)), dim=2)
            rows.append({"subject": case.meta.subject, "condition": name,
                         "value": score(clean, noisy, profile="fastmri").ssim})
    df = pd.DataFrame(rows)
    res = stratum_analysis(df, stratum_col="condition", reference="snr20", n_resamples=500)
    low, same = res.row("snr6"), res.row("snr20-repeat")
    assert low["design"] == "paired" and low["significant"] and low["gap"] < -0.02
    assert low["gap_ci_high"] < 0
    assert not same["significant"]
    assert same["gap_ci_low"] < 0 < same["gap_ci_high"]
    assert res.significant_strata == ("snr6",)


# ---------------------------------------------------------------- strata from a run's store
def test_strata_frame_from_store_and_cards(tmp_path):
    from suite.store import ResultStore

    store = ResultStore(tmp_path / "results.sqlite")
    rng = np.random.default_rng(0)
    for i in range(8):
        vendor = "Siemens" if i < 4 else "GE"
        meta = {"subject": f"p{i}", "dataset": "acdc", "vendor": vendor,
                "field_strength_t": 1.5, "site": "S", "strata": {"group": "NOR" if i % 2 else
                                                                  "DCM"}}
        store.record_case(f"acdc/p{i}/cine", meta, None)
        dice = 0.9 - (0.1 if vendor == "GE" else 0.0) + 0.01 * rng.standard_normal()
        rows = [{"job_id": f"j{i}", "case_id": f"acdc/p{i}/cine", "subject": f"p{i}",
                 "dataset": "acdc", "condition": "fully-sampled", "recon": "images",
                 "segmentation": "unet", "stage": "segmentation", "metric": "dice",
                 "structure": "LV", "phase": "ED", "value": dice, "unit": "1",
                 "direction": "higher is better", "status": "ok"},
                {"job_id": f"j{i}", "case_id": f"acdc/p{i}/cine", "subject": f"p{i}",
                 "dataset": "acdc", "condition": "fully-sampled", "recon": "images",
                 "segmentation": "unet", "stage": "segmentation", "metric": "dice",
                 "structure": "RV", "phase": "ED", "value": None, "unit": "1",
                 "direction": "higher is better", "status": "empty-reference"}]
        store.record_success(f"j{i}", rows, 0.1)
    results, cases = store.frame("results"), store.frame("cases")
    store.close()
    frame = strata_frame(results, cases, metric="dice", structure="LV", phase="ED")
    assert len(frame) == 8
    assert list(frame["vendor"]) == ["Siemens"] * 4 + ["GE"] * 4
    assert set(frame["group"]) == {"NOR", "DCM"}  # from datasets/acdc.yaml strata
    with pytest.raises(ValueError, match="no results"):
        strata_frame(results, cases, metric="hd95")
    out = shift_analyses(results, cases, strata=["vendor", "group"],
                         reference={"vendor": "Siemens"},
                         metrics=[{"metric": "dice", "structure": "LV", "phase": "ED"}],
                         n_resamples=200)
    by = {r.stratum_col: r for r in out}
    assert by["vendor"].reference == "Siemens" and by["vendor"].direction == "higher"
    assert by["vendor"].row("GE")["design"] == "unpaired"
    assert by["vendor"].row("GE")["significant"]
    assert by["vendor"].metric == "dice [images unet]"
    assert by["group"].reference == "DCM"  # tie 4/4: the first level in sort order


def test_mnms_vendor_codes_from_meta(tmp_path):
    """M&Ms vendors A-D live in meta.strata["vendor_code"] (suite.data.mnms); shift by them."""
    from suite.store import ResultStore

    store = ResultStore(tmp_path / "results.sqlite")
    rng = np.random.default_rng(2)
    names = {"A": "Siemens", "B": "Philips", "C": "GE", "D": "Canon"}
    for i in range(16):
        code = "ABCD"[i % 4]
        meta = {"subject": f"m{i}", "dataset": "mnms", "vendor": names[code], "site": str(i % 5),
                "strata": {"vendor": names[code], "vendor_code": code, "centre": i % 5}}
        store.record_case(f"mnms/m{i}/cine", meta, None)
        dice = 0.9 - (0.15 if code == "D" else 0.0) + 0.01 * rng.standard_normal()
        store.record_success(f"j{i}", [{
            "job_id": f"j{i}", "case_id": f"mnms/m{i}/cine", "subject": f"m{i}",
            "dataset": "mnms", "condition": "fully-sampled", "recon": "images",
            "segmentation": "unet", "stage": "segmentation", "metric": "dice", "structure": "LV",
            "phase": "ED", "value": dice, "direction": "higher is better", "status": "ok"}], 0.1)
    results, cases = store.frame("results"), store.frame("cases")
    store.close()
    frame = strata_frame(results, cases, metric="dice", fields=("vendor_code",))
    expected = ["ABCD"[int(subj[1:]) % 4] for subj in frame["subject"]]
    assert list(frame["vendor_code"]) == expected
    (res,) = shift_analyses(results, cases, strata=["vendor_code"],
                            reference={"vendor_code": "A"}, metrics=[{"metric": "dice"}],
                            n_resamples=200)
    assert [r["stratum"] for r in res.rows] == ["A", "B", "C", "D"]
    assert res.significant_strata == ("D",)
    # Holm over the three non-reference vendors, by hand
    p = {r["stratum"]: r["p_value"] for r in res.rows[1:]}
    order = sorted(p, key=p.get)
    running = 0.0
    for rank, st in enumerate(order):
        running = max(running, min(1.0, (3 - rank) * p[st]))
        assert res.row(st)["p_holm"] == pytest.approx(running)


def test_worst_policy_failure_counts_and_mnms_sentinel_does_not(tmp_path):
    """An empty prediction scored Dice 0 under the ``worst`` policy is a failure, so it enters
    the stratum's mean (status ``prediction_empty``, no exclusion); the M&Ms ``-1`` of a
    both-empty HD95 is a sentinel: left out of the mean and counted."""
    import suite.metrics.segmentation  # noqa: F401  (declares dice and hd95)
    from suite.metrics.contract import metric_row
    from suite.store import ResultStore, RunView

    store = ResultStore(tmp_path / "results.sqlite")
    dice = {"p0": 0.91, "p1": 0.88, "p2": 0.90, "p3": 0.93,  # Siemens
            "p4": 0.80, "p5": 0.0, "p6": 0.82, "p7": 0.79}  # GE; p5: empty prediction
    hd95 = {"p0": 3.0, "p1": 4.0, "p2": -1.0, "p3": 5.0,  # p2: both empty, M&Ms sentinel
            "p4": 6.0, "p5": 7.5, "p6": 6.5, "p7": 8.0}
    for i, subj in enumerate(dice):
        vendor = "Siemens" if i < 4 else "GE"
        cid = f"acdc/{subj}/cine"
        store.record_case(cid, {"subject": subj, "dataset": "acdc", "vendor": vendor}, None)
        ident = {"job_id": f"j{i}", "case_id": cid, "subject": subj, "dataset": "acdc",
                 "condition": "fully-sampled", "recon": "images", "segmentation": "unet",
                 "stage": "segmentation"}
        rows = [metric_row("dice", dice[subj], structure="LV", phase="ED", profile="worst",
                           status="prediction_empty" if subj == "p5" else "ok"),
                metric_row("hd95", hd95[subj], structure="LV", phase="ED", profile="mnms",
                           status="both_empty" if subj == "p2" else "ok")]
        store.record_success(f"j{i}", [ident | r.to_dict() for r in rows], 0.1)
    store.close()
    view = RunView(tmp_path)
    frame = strata_frame(view.results, view.cases, metric="dice", profile="worst")
    assert frame.set_index("subject").loc["p5", "usable"]  # the failure is a value
    frame = strata_frame(view.results, view.cases, metric="hd95", profile="mnms")
    assert not frame.set_index("subject").loc["p2", "usable"]  # the sentinel is not
    out = shift_analyses(view.results, view.cases, strata=["vendor"],
                         reference={"vendor": "Siemens"},
                         metrics=[{"metric": "dice"}, {"metric": "hd95"}], n_resamples=200)
    d, h = out
    assert d.row("GE")["mean"] == pytest.approx(np.mean([0.80, 0.0, 0.82, 0.79]))
    assert d.row("GE")["n_cases"] == 4 and d.n_excluded == 0
    assert h.direction == "lower"
    assert h.row("Siemens")["mean"] == pytest.approx(np.mean([3.0, 4.0, 5.0]))
    assert h.row("Siemens")["n_cases"] == 3 and h.row("Siemens")["n_subjects"] == 3
    assert h.row("Siemens")["n_excluded"] == 1 and h.row("Siemens")["excluded"] == "1 sentinel"
    assert h.n_excluded == 1 and h.excluded_by == (("sentinel", 1),)
    assert h.row("GE")["gap"] == pytest.approx(np.mean([6.0, 7.5, 6.5, 8.0]) - 4.0)
    assert "1 rows excluded, never averaged (1 sentinel)" in h.summary()


def test_subject_level_mean_with_unbalanced_readings():
    """Each subject's readings are averaged first: a subject with three readings weighs as much
    as a subject with one (the mean over readings would not)."""
    df = pd.DataFrame({"subject": ["a", "a", "a", "b", "c", "c", "d"],
                       "site": ["X", "X", "X", "X", "Y", "Y", "Y"],
                       "value": [0.9, 0.8, 0.7, 0.5, 0.6, 0.4, 0.3],
                       "exclusion": [None, None, None, None, None, "implausible", None]})
    res = stratum_analysis(df, stratum_col="site", reference="X", n_resamples=200)
    x, y = res.row("X"), res.row("Y")
    assert x["mean"] == pytest.approx(np.mean([np.mean([0.9, 0.8, 0.7]), 0.5]))
    assert y["mean"] == pytest.approx(np.mean([0.6, 0.3]))  # 0.4 is excluded
    assert y["n_cases"] == 2 and y["n_excluded"] == 1 and y["excluded"] == "1 implausible"
    assert y["gap"] == pytest.approx(y["mean"] - x["mean"])
