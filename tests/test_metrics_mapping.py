"""Mapping metrics against hand-computed values and the published definitions."""

import math

import numpy as np
import pytest

from suite.metrics.contract import registered_families, registered_metrics
from suite.metrics.mapping import (map_accuracy, map_scores, mapping_rows, repeatability_rows,
                                   segmental_rows)
from suite.metrics.repeatability import REPEATABILITY_FACTOR, repeatability


def test_accuracy_and_precision_by_hand():
    ref = np.array([1000.0, 1000.0, 1200.0, 1200.0, 5.0])
    pred = np.array([1010.0, 1030.0, 1190.0, np.nan, 9999.0])
    roi = np.array([True, True, True, True, False])
    acc = map_accuracy(ref, pred, roi, quantity="t1")
    d = np.array([10.0, 30.0, -10.0])
    assert acc.n_pixels == 4 and acc.n_failed == 1 and acc.failure_fraction == 0.25
    assert acc.bias == pytest.approx(10.0)
    assert acc.reference_mean == pytest.approx(3200.0 / 3)
    assert acc.relative_bias_pct == pytest.approx(100 * 10.0 / (3200.0 / 3))
    assert acc.rmse == pytest.approx(math.sqrt((100 + 900 + 100) / 3))
    assert acc.error_sd == pytest.approx(math.sqrt(np.sum((d - 10.0) ** 2) / 2))
    p = np.array([1010.0, 1030.0, 1190.0])
    assert acc.mean == pytest.approx(p.mean())
    assert acc.roi_sd == pytest.approx(math.sqrt(np.sum((p - p.mean()) ** 2) / 2))
    assert acc.roi_cov_pct == pytest.approx(100 * acc.roi_sd / acc.mean)
    assert "1/4 pixels failed" in acc.summary() and acc.to_dict()["failure_fraction"] == 0.25


def test_failed_mask_and_empty_roi():
    ref = np.full(4, 50.0)
    acc = map_accuracy(ref, ref, np.ones(4, bool), quantity="t2",
                       failed=np.array([True, False, False, False]))
    assert acc.n_failed == 1 and acc.bias == 0.0 and acc.unit == "ms"
    empty = map_accuracy(ref, ref, np.zeros(4, bool), quantity="t2")
    assert math.isnan(empty.bias) and math.isnan(empty.failure_fraction)
    with pytest.raises(ValueError, match="quantity must be one of"):
        map_accuracy(ref, ref, np.ones(4, bool), quantity="t3")


def test_map_scores_normalise_each_slice_by_its_maximum():
    rng = np.random.default_rng(0)
    ref = 800.0 + 400.0 * rng.random((2, 9, 9))
    pred = ref.copy()
    pred[1, 4, 4] += 100.0
    s = map_scores(ref, pred)
    a, b = ref[1] / ref[1].max(), pred[1] / pred[1].max()
    nmse1 = np.sum((a - b) ** 2) / np.sum(a ** 2)
    assert s.nmse == pytest.approx(nmse1 / 2)  # slice 0 is perfect (NMSE 0)
    assert s.psnr == math.inf  # the mean with a perfect slice
    assert 0 < s.ssim < 1 and s.n_slices == 2
    # scaling a slice does not change the score (max normalisation)
    assert map_scores(ref, pred * 3.0).nmse == pytest.approx(s.nmse)
    with pytest.raises(ValueError, match="no positive value"):
        map_scores(np.zeros((9, 9)), np.zeros((9, 9)))


def test_repeatability_follows_qiba():
    values = np.array([[1000.0, 1010.0, 990.0], [1200.0, 1230.0, 1215.0]])
    r = repeatability(values)
    var = [np.var(v, ddof=1) for v in values]  # 100, 225
    assert r.wsd == pytest.approx(math.sqrt((100.0 + 225.0) / 2))
    assert REPEATABILITY_FACTOR == pytest.approx(2.77, abs=0.002)
    assert r.rc == pytest.approx(1.96 * math.sqrt(2) * r.wsd)
    assert r.wcv_pct == pytest.approx(100 * r.wsd / values.mean())
    assert var == pytest.approx([100.0, 225.0])
    with pytest.raises(ValueError, match="at least 2"):
        repeatability([[1.0], [2.0]])
    with pytest.raises(ValueError, match="NaN"):
        repeatability([[1.0, np.nan]])
    rows = repeatability_rows(values, quantity="t1")
    assert [r.metric for r in rows] == ["t1_wsd", "t1_rc", "t1_wcv_pct"]
    assert rows[0].unit == "ms" and rows[2].unit == "%"


def test_rows_carry_units_reference_and_source():
    yy, xx = np.mgrid[:9, :9]
    ref = np.stack([1000.0 + yy, 1100.0 + xx]).astype(float)
    pred = ref + 10.0
    roi = np.ones_like(ref, bool)
    rows = {r.metric: r for r in mapping_rows(ref, pred, roi=roi, quantity="t1",
                                              reference_source="reference-fit")}
    assert rows["t1_mean"].reference_value == pytest.approx(ref.mean())
    assert rows["t1_bias"].value == pytest.approx(10.0) and rows["t1_bias"].reference_value == 0
    assert rows["t1_bias"].unit == "ms" and rows["t1_relative_bias_pct"].unit == "%"
    assert {r.profile for r in rows.values()} == {"reference-fit"}
    assert rows["map_failure_fraction"].value == 0.0
    assert rows["map_ssim"].value < 1.0
    ecv = mapping_rows(ref / 40, ref / 40, roi=roi, quantity="ecv", scores=False)
    assert {r.metric for r in ecv} >= {"ecv_mean", "ecv_bias"} and "map_ssim" not in {
        r.metric for r in ecv}
    # an implausible mean (T1 <= 0) is excluded from averages
    bad = {r.metric: r for r in mapping_rows(ref, -ref, roi=roi, quantity="t1", scores=False)}
    assert bad["t1_mean"].exclusion == "implausible"
    # a reference that cannot be normalised gives undefined map scores, not an exception
    zero = {r.metric: r for r in mapping_rows(np.zeros((9, 9)), np.zeros((9, 9)),
                                              roi=np.ones((9, 9), bool), quantity="t2")}
    assert zero["map_nmse"].status == "undefined"


def test_mapping_family_is_registered():
    assert "mapping" in registered_families()
    specs = registered_metrics()
    for q, unit in (("t1", "ms"), ("t2", "ms"), ("ecv", "%")):
        assert specs[f"{q}_bias"].unit == unit and specs[f"{q}_rc"].unit == unit


def test_segmental_rows_carry_segment_and_convention():
    from suite.metrics.aha import aha_segments
    from tests.test_metrics_aha import stack

    lab = stack(3)
    aha = aha_segments(lab, convention="cmrxrecon")
    truth = np.where(lab == 2, 1000.0, 0.0) + aha.segments  # 1000 + segment number in myo
    pred = truth + 10.0
    rows = segmental_rows(truth, pred, aha, quantity="t1")
    by = {(r.metric, r.segment): r for r in rows}
    assert {r.convention for r in rows} == {"cmrxrecon"}
    assert by[("t1_bias", "1")].value == pytest.approx(10.0)
    assert by[("t1_mean", "5")].reference_value == pytest.approx(1005.0)
    assert by[("t1_mean", "global")].reference_value == pytest.approx(
        truth[aha.segments > 0].mean())
    assert ("map_ssim", "1") not in by


def test_ecv_from_the_partition_coefficient():
    from suite.metrics.mapping import ecv_pct

    # native myo 1000 ms, post 450 ms; blood 1600 -> 280 ms; Hct 0.45 (hand computed)
    lam = (1 / 450 - 1 / 1000) / (1 / 280 - 1 / 1600)
    assert float(ecv_pct(1000.0, 450.0, 1600.0, 280.0, 0.45)) == pytest.approx(100 * 0.55 * lam)
    maps = ecv_pct(np.array([1000.0, 1100.0]), np.array([450.0, 450.0]), 1600.0, 280.0, 0.45)
    assert maps.shape == (2,) and maps[1] > maps[0]  # longer native T1, same post: higher ECV
    assert np.isnan(ecv_pct(1000.0, 450.0, 1600.0, 1600.0, 0.45))
    with pytest.raises(ValueError, match="fraction"):
        ecv_pct(1000.0, 450.0, 1600.0, 280.0, 45.0)
