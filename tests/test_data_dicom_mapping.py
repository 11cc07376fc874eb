"""DICOM mapping series: MOLLI weighted images with their TIs, scanner-made T1/T2 maps.

Series are written here with pydicom (the writer of tests/test_data_dicom.py); the expected
TIs and map values are the ones written.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import generate_uid

from suite.data.dicom import read_dicom_series
from suite.data.dicom_mapping import comment_ti_ms
from tests.test_data_dicom import INTERCEPT, SLOPE, _rotation, _write

# 5(3)3 at RR 1000 ms, per slice shifted by 20 ms (slices are acquired in different beats)
TI = np.array([100.0, 1100.0, 2100.0, 3100.0, 4100.0, 180.0, 1180.0, 2180.0])


def _molli(folder, *, how, ns=2, constant_inversion_tag=False):
    rng = np.random.default_rng(0)
    rot = _rotation()
    r, c, n = rot[:, 0], rot[:, 1], rot[:, 2]
    vol = rng.integers(0, 3000, (ns, len(TI), 6, 5)).astype(np.uint16)
    series, study = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(s, f) for s in range(ns) for f in range(len(TI))]
    for i in rng.permutation(len(jobs)):
        s, f = jobs[i]
        ti = float(TI[f] + 20.0 * s)
        tags = {"InversionTime": ti} if how == "tag" else {"ImageComments": f"TI: {ti:g}"}
        if constant_inversion_tag:
            tags["InversionTime"] = 100.0  # nominal TI only: the comments hold each image's
        _write(folder / f"im{i:03d}.dcm", vol[s, f], ipp=list(n * 10.0 * s), iop=list(r) + list(c),
               trigger=400.0, instance=int(i) + 1, series_uid=series, study_uid=study,
               description="MOLLI_5(3)3_MOCO", **tags)
    return vol


@pytest.mark.parametrize("how", ["tag", "comments"])
def test_molli_weighted_images_get_every_frame_its_ti(tmp_path, how):
    vol = _molli(tmp_path, how=how, constant_inversion_tag=how == "comments")
    case = read_dicom_series(tmp_path)
    order = np.argsort(TI, kind="stable")  # frames are ordered by TI within each slice
    ti = case.meta.timings_ms["TI"]
    assert [len(row) for row in ti] == [len(TI), len(TI)]
    np.testing.assert_allclose(ti[0], TI[order])
    np.testing.assert_allclose(ti[1], TI[order] + 20.0)
    np.testing.assert_array_equal(case.reference, vol[:, order] * SLOPE + INTERCEPT)
    assert case.meta.extra["content"] == "weighted"
    assert case.meta.extra["ti_source"].startswith(
        "InversionTime" if how == "tag" else "ImageComments")


@pytest.mark.parametrize("rule", ["image_type", "description"])
def test_scanner_t1_map_is_read_as_a_map(tmp_path, rule):
    rot = _rotation()
    r, c, n = rot[:, 0], rot[:, 1], rot[:, 2]
    t1 = np.array([[[1000, 1200], [1500, 900]], [[1100, 1250], [1600, 950]]], np.uint16)
    series, study = generate_uid(), generate_uid()
    for s in range(2):
        tags = {"ImageType": ["DERIVED", "PRIMARY", "T1 MAP", "T1"]} if rule == "image_type" \
            else {}
        _write(tmp_path / f"map{s}.dcm", t1[s], ipp=list(n * 8.0 * s), iop=list(r) + list(c),
               trigger=400.0, instance=s + 1, series_uid=series, study_uid=study,
               description="MOLLI_MOCO_T1MAP" if rule == "description" else "MOLLI_MOCO",
               RescaleSlope=1, RescaleIntercept=0, **tags)
    case = read_dicom_series(tmp_path)
    assert case.meta.extra["content"] == "map" and case.meta.extra["map_quantity"] == "T1"
    assert case.meta.extra["map_unit"] == "ms" and "map_unit_assumed" in case.meta.audit_flags
    np.testing.assert_array_equal(case.reference[:, 0], t1)
    assert case.meta.timings_ms == {}


def test_comment_ti_parsing():
    assert comment_ti_ms("TI: 180") == 180.0
    assert comment_ti_ms("ti=95.5ms") == 95.5
    assert comment_ti_ms("MOCO, TI 2100") == 2100.0
    assert comment_ti_ms("T1 MAP") is None and comment_ti_ms(None) is None
    assert comment_ti_ms("TIME 5") is None
