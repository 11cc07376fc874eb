"""Agreement of any stage's parameters with their reference (issue 13: global and segmental T1,
T2, ECV against truth and against the conventional fit), split by region and AHA convention.

Synthetic mapping rows with known values; the expected Bland-Altman bias and limits are the
closed forms (mean difference, ± 1.96 SD with ddof 1) computed here by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from suite.analysis.agreement import agreement_results


def _rows():
    rows, rid = [], 0
    for s, subject in enumerate(("a", "b", "c")):
        for contrast, t1 in (("native", 1000.0), ("post", 450.0)):
            case = f"d/{subject}/{contrast}"
            for structure, offset in (("myocardium", 10.0 * (s + 1)), ("lv_blood", -5.0)):
                rows.append({"row_id": rid, "stage": "mapping", "metric": "t1_mean",
                             "structure": structure, "segment": None, "convention": None,
                             "case_id": case, "subject": subject, "condition": "full",
                             "mapping": "molli-3p", "profile": "truth", "unit": "ms",
                             "value": t1 + offset, "reference_value": t1, "exclusion": None})
                rid += 1
            for seg in ("1", "2"):
                rows.append({"row_id": rid, "stage": "mapping", "metric": "t1_mean",
                             "structure": "myocardium", "segment": seg,
                             "convention": "insertion", "case_id": case, "subject": subject,
                             "condition": "full", "mapping": "molli-3p", "profile": "truth",
                             "unit": "ms", "value": t1 + int(seg) * (s + 1),
                             "reference_value": t1, "exclusion": None})
                rid += 1
    rows.append({"row_id": rid, "stage": "clinical", "metric": "lv_ef_pct", "structure": None,
                 "segment": None, "convention": None, "case_id": "x", "subject": "a",
                 "condition": "full", "mapping": "", "profile": "truth", "unit": "%",
                 "value": 50.0, "reference_value": 55.0, "exclusion": None})
    df = pd.DataFrame(rows)
    df.attrs["method_stages"] = ["mapping"]
    return df


def test_named_parameters_of_any_stage_split_by_region_and_segments():
    results = {(r.keys.get("structure"), r.keys.get("convention"), r.keys.get("segment")): r
               for r in agreement_results(_rows(), parameters=["t1_mean"])}
    assert set(results) == {("myocardium", None, None), ("lv_blood", None, None),
                            ("myocardium", "insertion", "per segment")}
    myo = results[("myocardium", None, None)]
    diff = np.array([10, 10, 20, 20, 30, 30], float)  # subjects a, b, c; native and post
    assert myo.n == 6 and myo.bland_altman.bias == pytest.approx(diff.mean())
    assert myo.bland_altman.loa_upper == pytest.approx(diff.mean() + 1.96 * diff.std(ddof=1))
    seg = results[("myocardium", "insertion", "per segment")]
    assert seg.n == 12  # 3 subjects x 2 contrasts x 2 segments, pooled
    assert seg.bland_altman.bias == pytest.approx(np.mean([1, 2, 2, 4, 3, 6]))
    assert myo.icc is not None and np.isfinite(myo.icc.icc)  # repeated subjects: pairs as targets


def test_without_parameters_only_the_clinical_stage():
    [r] = agreement_results(_rows())
    assert r.keys["metric"] == "lv_ef_pct" and "structure" not in r.keys and r.n == 1


def test_the_stage_is_named_when_parameters_come_from_several_stages():
    df = _rows()
    other = df[df["stage"] == "mapping"].assign(stage="mapseg", row_id=lambda d: d["row_id"] + 1000)
    both = pd.concat([df, other], ignore_index=True)
    both.attrs["method_stages"] = ["mapping"]
    stages = {r.keys.get("stage") for r in agreement_results(both, parameters=["t1_mean"])}
    assert stages == {"mapping", "mapseg"}
    assert all("stage" not in r.keys for r in agreement_results(df, parameters=["t1_mean"]))


def test_agreement_asked_again_is_the_statistics_of_its_pairs():
    """The statistics of a set of pairs are remembered: a second analysis of the same rows,
    and of rows with one value changed, each give the closed form of their own pairs."""
    df = _rows()
    changed = df.copy()
    first = changed.index[changed["structure"].eq("lv_blood")][0]
    changed.loc[first, "value"] += 7.0
    for frame in (df, changed, df, changed):
        [blood] = [r for r in agreement_results(frame, parameters=["t1_mean"])
                   if r.keys.get("structure") == "lv_blood"]
        diff = blood.test - blood.reference
        assert blood.bland_altman.bias == pytest.approx(diff.mean(), abs=1e-12)
        assert blood.bland_altman.loa_upper == pytest.approx(
            diff.mean() + 1.96 * diff.std(ddof=1), abs=1e-12)
        assert np.array_equal(blood.bland_altman.differences, diff)
