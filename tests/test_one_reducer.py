"""One reducer: no policy's sentinel ever reaches a mean.

A synthetic run folder (written with ``suite.store.ResultStore``) holds Dice and HD95 rows of a
few subjects under every empty-mask policy of ``suite.metrics.segmentation.EMPTY_POLICIES``
(ok cases and the three empty-mask situations, so the ``mnms`` −1 sentinel and the NaN of the
``worst``/``nan`` policies occur), for two segmentation methods, and clinical LV EF rows of
which one is implausible (−42 %). Through the public functions — the run summary
(``metric_summary``), the protocol's acceptance (``check_acceptance``), the release gate
(``run_gate``: floors and non-inferiority), the domain-shift analysis (``shift_analyses``) and
the leaderboard's aggregation (``segmentation_case_value``, ``aggregate_then_rank``) — every mean
equals the mean computed here with numpy over the usable values only (each subject's mean
first where the function is subject-level), and the excluded values are counted by reason.

The usable values are decided here independently of the suite's contract: a value counts when
it is a number, it is not −1 under the ``mnms`` profile (the M&Ms organisers' sentinel for a
missed structure, vicmancr/mnms_example ``metrics_mnms.py``) and it is not an ejection fraction
outside 0–100 %.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pandas as pd
import pytest

import suite.metrics.clinical  # noqa: F401  (declares lv_ef_pct)
import suite.metrics.segmentation  # noqa: F401  (declares dice and hd95)
from suite.analysis.summary import check_acceptance, load_results, metric_summary
from suite.gate import parse_criteria, run_gate
from suite.leaderboard import aggregate_then_rank
from suite.leaderboard.ranking import team_statistic
from suite.leaderboard.submission import segmentation_case_value
from suite.metrics.contract import metric_row
from suite.metrics.segmentation import EMPTY_POLICIES
from suite.metrics.segmentation.empty import empty_values
from suite.robustness.shift import shift_analyses
from suite.store import ResultStore, RunView

W = 300.0  # the stated worst-case distance of the `worst` policy (mm)
METHODS = ("m1", "m2")
#: (subject, vendor, LV status of each of its cases): unequal numbers of cases per subject
SUBJECTS = {
    "s0": ("A", ["ok", "prediction_empty"]),
    "s1": ("A", ["both_empty", "ok", "ok"]),
    "s2": ("A", ["ok"]),
    "s3": ("A", ["reference_empty", "ok"]),
    "s4": ("B", ["ok", "both_empty"]),
    "s5": ("B", ["prediction_empty"]),
    "s6": ("B", ["ok", "ok"]),
    "s7": ("B", ["both_empty", "ok"]),
}
IMPLAUSIBLE_CASE = "d/s6-1"


def _is_usable(value, profile, metric) -> bool:
    """The test's own rule (module docstring)."""
    if value is None or math.isnan(value):
        return False
    if profile == "mnms" and value == -1.0:
        return False
    if metric == "lv_ef_pct" and not 0.0 <= value <= 100.0:
        return False
    return True


def _reason(value, profile, metric) -> str:
    if value is None or math.isnan(value):
        return "missing"
    return "implausible" if metric == "lv_ef_pct" else "sentinel"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The run folder and the records written to it (one dict per stored value)."""
    path = tmp_path_factory.mktemp("one-reducer")
    plan = {"name": "one-reducer", "seed": 0, "datasets": [{"name": "d", "root": "."}],
            "methods": {"segmentation": list(METHODS)}}
    (path / "protocol.json").write_text(json.dumps({"name": "one-reducer", "sha256": "b" * 64,
                                                    "protocol": plan}))
    rng = np.random.default_rng(7)
    records = []
    with ResultStore(path / "results.sqlite") as store:
        for subj, (vendor, statuses) in SUBJECTS.items():
            for k, lv_status in enumerate(statuses):
                cid = f"d/{subj}-{k}"
                store.record_case(cid, {"subject": subj, "dataset": "d", "vendor": vendor}, None)
                ok_values = {"dice": rng.uniform(0.7, 0.95), "hd95": rng.uniform(2.0, 9.0)}
                ef_ref = rng.uniform(45.0, 65.0)
                for j, method in enumerate(METHODS):
                    rows = []
                    for structure, status in (("LV", lv_status), ("RV", "ok")):
                        for policy in EMPTY_POLICIES:
                            for metric in ("dice", "hd95"):
                                if status == "ok":  # m2 a little worse than m1
                                    v = ok_values[metric] + (0.02 * j if metric == "hd95"
                                                             else -0.01 * j)
                                    v += 0.001 * rng.standard_normal()
                                else:
                                    v = empty_values(policy, status, W)[metric]
                                rows.append(metric_row(metric, v, status=status, profile=policy,
                                                       structure=structure, phase="ED"))
                    ef = -42.0 if cid == IMPLAUSIBLE_CASE else ef_ref + rng.normal(0, 3)
                    rows.append(metric_row("lv_ef_pct", ef, reference_value=ef_ref))
                    ident = {"job_id": f"{cid}/{method}", "case_id": cid, "subject": subj,
                             "dataset": "d", "condition": "c", "recon": "reference",
                             "segmentation": method}
                    store.record_success(
                        f"{cid}/{method}",
                        [r.to_dict() | ident | {"stage": "clinical" if r.metric == "lv_ef_pct"
                                                else "segmentation"} for r in rows], 0.0)
                    records += [{"case": cid, "subject": subj, "vendor": vendor,
                                 "method": method, "metric": r.metric, "profile": r.profile,
                                 "structure": r.structure, "value": r.value,
                                 "reference": r.reference_value} for r in rows]
    recs = pd.DataFrame(records)
    recs["usable"] = [_is_usable(v, p, m) for v, p, m in
                      zip(recs["value"], recs["profile"], recs["metric"])]
    return path, recs


def _select(recs, *, method="m1", **where):
    sel = recs[recs["method"] == method]
    for col, val in where.items():
        sel = sel[sel[col] == val]
    return sel


def _subject_mean(sel, col="value") -> float:
    """By hand: each subject's mean of its usable values, then the mean over subjects."""
    use = sel[sel["usable"]]
    per = [np.mean(use.loc[use["subject"] == s, col].to_numpy(float))
           for s in sorted(set(use["subject"]))]
    return float(np.mean(per))


def _excluded(sel) -> dict:
    bad = sel[~sel["usable"]]
    return dict(Counter(_reason(v, p, m) for v, p, m in
                        zip(bad["value"], bad["profile"], bad["metric"])))


def _text(counts: dict) -> str:
    return ", ".join(f"{n} {r}" for r, n in sorted(counts.items()))


SEGMENTATION_GROUPS = [(p, m, s) for p in EMPTY_POLICIES for m in ("dice", "hd95")
                       for s in ("LV",)]


def test_the_synthetic_run_holds_every_kind_of_exclusion(run):
    _, recs = run
    hd = _select(recs, metric="hd95", profile="mnms", structure="LV")
    assert (hd["value"] == -1.0).sum() >= 4  # the M&Ms sentinel (prediction and both empty)
    assert _select(recs, metric="hd95", profile="worst", structure="LV")["value"].isna().any()
    assert _select(recs, metric="dice", profile="nan", structure="LV")["value"].isna().any()
    assert not _select(recs, metric="lv_ef_pct")["usable"].all()  # the −42 % EF
    # under `worst` an empty prediction is a failure that counts: Dice 0 and distance W
    worst = _select(recs, metric="hd95", profile="worst", structure="LV")
    assert (worst["value"] == W).sum() >= 2 and worst.loc[worst["value"] == W, "usable"].all()


@pytest.mark.parametrize("policy, metric, structure", SEGMENTATION_GROUPS)
def test_run_summary_means_use_the_usable_values_only(run, policy, metric, structure):
    path, recs = run
    summ = metric_summary(load_results(path), n_resamples=200)
    row = summ[(summ["metric"] == metric) & (summ["profile"] == policy)
               & (summ["structure"] == structure) & (summ["segmentation"] == "m1")]
    assert len(row) == 1
    sel = _select(recs, metric=metric, profile=policy, structure=structure)
    excluded = _excluded(sel)
    assert row["mean"].iloc[0] == pytest.approx(_subject_mean(sel), rel=1e-12)
    assert row["n_excluded"].iloc[0] == sum(excluded.values())
    assert row["excluded"].iloc[0] == _text(excluded)


def test_run_summary_and_acceptance_leave_out_the_implausible_ef(run):
    path, recs = run
    df = load_results(path)
    sel = _select(recs, metric="lv_ef_pct")
    summ = metric_summary(df, n_resamples=200)
    row = summ[(summ["metric"] == "lv_ef_pct") & (summ["segmentation"] == "m1")]
    assert row["mean"].iloc[0] == pytest.approx(_subject_mean(sel), rel=1e-12)
    assert row["excluded"].iloc[0] == "1 implausible"
    (acc,) = check_acceptance(df, [{"metric": "lv_ef_pct", "segmentation": "m1", "min": 0.0}])
    assert acc["value"] == pytest.approx(_subject_mean(sel), rel=1e-12)
    assert acc["n_excluded"] == 1 and "1 values excluded (1 implausible)" in acc["description"]


@pytest.mark.parametrize("policy", EMPTY_POLICIES)
def test_acceptance_statistic_uses_the_usable_values_only(run, policy):
    path, recs = run
    crit = {"metric": "hd95", "profile": policy, "structure": "LV", "segmentation": "m1",
            "max": 1000.0}
    (acc,) = check_acceptance(load_results(path), [crit])
    sel = _select(recs, metric="hd95", profile=policy, structure="LV")
    excluded = _excluded(sel)
    assert acc["value"] == pytest.approx(_subject_mean(sel), rel=1e-12)
    assert acc["n_excluded"] == sum(excluded.values()) and acc["excluded"] == _text(excluded)


def _gate(path, criteria):
    settings, crits = parse_criteria({"gate": {"n_resamples": 200, "criteria": criteria}})
    return run_gate(path, path, crits, settings=settings,
                    candidate_method={"segmentation": "m1"},
                    baseline_method={"segmentation": "m2"})


@pytest.mark.parametrize("policy", EMPTY_POLICIES)
def test_gate_floor_and_noninferiority_use_the_usable_values_only(run, policy):
    path, recs = run
    res = _gate(path, [
        {"name": f"{m}-floor", "metric": m, "where": {"profile": policy, "structure": "LV"},
         "floor": {"max": 1000.0} if m == "hd95" else {"min": 0.0}} for m in ("dice", "hd95")]
        + [{"name": f"{m}-ni", "metric": m, "where": {"profile": policy, "structure": "LV"},
            "noninferiority": {"relative_margin": 0.5, "method": "t"}}
           for m in ("dice", "hd95")])
    v = {x.name: x for x in res.verdicts}
    for metric in ("dice", "hd95"):
        cand = _select(recs, metric=metric, profile=policy, structure="LV")
        base = _select(recs, method="m2", metric=metric, profile=policy, structure="LV")
        floor = v[f"{metric}-floor"]
        excluded = _excluded(cand)
        assert floor.estimate == pytest.approx(_subject_mean(cand), rel=1e-12)
        assert floor.n_cases == int(cand["usable"].sum())
        if excluded:
            assert (f"{sum(excluded.values())} candidate value(s) undefined for the gate and "
                    f"excluded ({_text(excluded)})") in floor.message
        else:
            assert "excluded" not in floor.message
        # paired differences over the cases usable in both runs; the baseline mean over them
        pairs = cand[["case", "subject", "value", "usable"]].merge(
            base[["case", "value", "usable"]], on="case", suffixes=("", "_b"))
        both = pairs[pairs["usable"] & pairs["usable_b"]]
        diff = both.assign(value=both["value"] - both["value_b"], usable=True)
        ni = v[f"{metric}-ni"]
        assert ni.estimate == pytest.approx(_subject_mean(diff), rel=1e-9)
        base_mean = _subject_mean(both.assign(value=both["value_b"]))
        assert abs(ni.limit) == pytest.approx(0.5 * abs(base_mean), rel=1e-12)
        dropped = _excluded(base[~base["usable"]])
        if dropped:
            assert (f"{sum(dropped.values())} case(s) without a defined baseline value left "
                    f"out of the pairs ({_text(dropped)})") in ni.message


def test_gate_floor_on_ef_error_leaves_out_the_implausible_value(run):
    path, recs = run
    (v,) = _gate(path, [{"name": "ef", "metric": "lv_ef_pct", "floor": {"max": 50.0}}]).verdicts
    sel = _select(recs, metric="lv_ef_pct")
    err = sel.assign(value=(sel["value"] - sel["reference"]).abs())
    assert v.estimate == pytest.approx(_subject_mean(err), rel=1e-12)
    assert "1 candidate value(s) undefined for the gate and excluded (1 implausible)" in v.message


@pytest.mark.parametrize("policy", EMPTY_POLICIES)
def test_shift_means_use_the_usable_values_only(run, policy):
    path, recs = run
    view = RunView(path)
    results = [r for r in shift_analyses(view.results, view.cases, strata=["vendor"],
                                         reference={"vendor": "A"},
                                         metrics=[{"metric": "hd95", "profile": policy,
                                                   "structure": "LV"}], n_resamples=200)
               if r.metric == "hd95 [reference m1]"]
    (res,) = results
    sel = _select(recs, metric="hd95", profile=policy, structure="LV")
    for vendor in ("A", "B"):
        part = sel[sel["vendor"] == vendor]
        row = res.row(vendor)
        excluded = _excluded(part)
        assert row["mean"] == pytest.approx(_subject_mean(part), rel=1e-12)
        assert row["n_cases"] == int(part["usable"].sum())
        assert row["n_excluded"] == sum(excluded.values()) and row["excluded"] == _text(excluded)
    assert res.row("B")["gap"] == pytest.approx(
        _subject_mean(sel[sel["vendor"] == "B"]) - _subject_mean(sel[sel["vendor"] == "A"]),
        rel=1e-12)
    assert dict(res.excluded_by) == _excluded(sel)


@pytest.mark.parametrize("policy", EMPTY_POLICIES)
def test_leaderboard_case_values_and_team_means_use_the_usable_values_only(run, policy):
    path, recs = run
    res = RunView(path).results
    seg = res[(res["metric"] == "hd95") & (res["profile"] == policy)]
    cases = sorted(set(seg["case_id"]))
    mat = np.full((len(cases), len(METHODS)), np.nan)
    for i, case in enumerate(cases):
        for j, method in enumerate(METHODS):
            rows = seg[(seg["case_id"] == case) & (seg["segmentation"] == method)]
            agg = segmentation_case_value(rows.itertuples(), "hd95", ["LV", "RV"], ["ED"])
            mine = _select(recs, method=method, metric="hd95", profile=policy)
            mine = mine[mine["case"] == case]
            use = mine.loc[mine["usable"], "value"].to_numpy(float)
            assert agg.n_excluded == int((~mine["usable"]).sum())
            assert dict(agg.excluded_by) == _excluded(mine)
            if use.size:
                assert agg.value == pytest.approx(np.mean(use), rel=1e-12)
            else:
                assert math.isnan(agg.value)
            mat[i, j] = agg.value
    # a missing case value takes the case's worst value (HD95: the largest), never averaged
    mat[0, 1] = np.nan  # team m2 did not submit the first case
    filled = mat[~np.all(np.isnan(mat), axis=1)].copy()
    worst = np.nanmax(filled, axis=1)
    for j in range(filled.shape[1]):
        filled[np.isnan(filled[:, j]), j] = worst[np.isnan(filled[:, j])]
    ranking = aggregate_then_rank(mat, "lower")
    assert ranking.score == pytest.approx(filled.mean(axis=0), rel=1e-12)
    with pytest.raises(ValueError, match="1 missing value"):  # never averaged unfilled
        team_statistic(np.array([[1.0, np.nan], [2.0, 3.0]]))


def test_cli_summary_shows_agreement_with_the_excluded_value_counted(run, capsys):
    """``cmrsuite summary`` prints the bias and limits of agreement against the reference (not
    the mean of the raw EF values) and counts the implausible value it left out."""
    from suite.cli import main

    path, recs = run
    ef_rows = recs[recs["metric"] == "lv_ef_pct"]
    implausible = int((~ef_rows["usable"] & ef_rows["value"].notna()).sum())
    assert implausible >= 1
    assert main(["summary", str(path), "--resamples", "100"]) == 0
    text = capsys.readouterr().out
    section = text.split("== Clinical agreement")[1].split("==")[0]
    header, *lines = [ln for ln in section.splitlines()[1:] if ln.strip()]
    cols = header.split()
    assert {"bias", "loa_lower", "loa_upper", "n_excluded"} <= set(cols)
    ef = [dict(zip(cols, ln.split())) for ln in lines if "lv_ef_pct" in ln]
    assert ef and sum(int(r["n_excluded"]) for r in ef) == implausible
    assert "== Segmentation" in text and "hd95" in text
