"""Clinical parameters against constructed stacks with known volumes.

Rectangular blocks have exact voxel counts; stacked discs and annuli have areas known in
closed form (π r², π (R² − r²)), met within a partial-volume tolerance; EF, SV and mass follow
from those by the DESIGN.md formulas written out here.
"""

from __future__ import annotations

import doctest
import json
import math

import numpy as np
import pytest

import suite.metrics.clinical as clinical_mod
from suite.case import CaseMeta
from suite.metrics.clinical import (
    MYOCARDIAL_DENSITY_G_PER_ML, clinical_parameters, detect_ed_es, volume_curve_ml,
)

SPACING = (8.0, 1.25, 1.5)                 # dz, dy, dx (mm)
VOXEL_ML = 8.0 * 1.25 * 1.5 / 1000.0


def blocks(nf=3):
    """LV, MYO, RV blocks with known voxel counts; ED frame 0, ES frame 2."""
    lab = np.zeros((6, nf, 40, 50), np.uint8)
    # ED: LV 4x10x12, MYO 4x10x3 (beside it), RV 4x8x9
    lab[1:5, 0, 10:20, 10:22] = 3
    lab[1:5, 0, 10:20, 22:25] = 2
    lab[1:5, 0, 25:33, 30:39] = 1
    # ES: LV 4x6x8, RV 3x8x6
    lab[1:5, 2, 10:16, 10:18] = 3
    lab[1:5, 2, 10:20, 22:25] = 2
    lab[2:5, 2, 25:33, 30:36] = 1
    if nf > 3:
        lab[1:5, 3:, 10:18, 10:20] = 3
    lab[1:5, 1, 10:18, 10:20] = 3       # in between: 4x8x10
    return lab


def test_block_volumes_are_exact_voxel_counts():
    p = clinical_parameters(blocks(), SPACING, ed_frame=0, es_frame=2)
    assert p.lv_edv_ml == pytest.approx(4 * 10 * 12 * VOXEL_ML, rel=1e-12)
    assert p.lv_esv_ml == pytest.approx(4 * 6 * 8 * VOXEL_ML, rel=1e-12)
    assert p.rv_edv_ml == pytest.approx(4 * 8 * 9 * VOXEL_ML, rel=1e-12)
    assert p.rv_esv_ml == pytest.approx(3 * 8 * 6 * VOXEL_ML, rel=1e-12)
    assert p.voxel_volume_ml == pytest.approx(VOXEL_ML)


def test_ef_sv_of_constructed_ed_es_pair():
    p = clinical_parameters(blocks(), SPACING, ed_frame=0, es_frame=2)
    edv, esv = 480 * VOXEL_ML, 192 * VOXEL_ML
    assert p.lv_sv_ml == pytest.approx(edv - esv, rel=1e-12)
    assert p.lv_ef_pct == pytest.approx((480 - 192) / 480 * 100, rel=1e-12)   # 60 %
    assert p.rv_ef_pct == pytest.approx((288 - 144) / 288 * 100, rel=1e-12)   # 50 %
    assert p.lv.status == p.rv.status == "ok" and not p.implausible


def test_lv_mass_is_1_05_times_myocardial_volume_at_ed():
    p = clinical_parameters(blocks(), SPACING, ed_frame=0, es_frame=2)
    myo = 4 * 10 * 3 * VOXEL_ML
    assert MYOCARDIAL_DENSITY_G_PER_ML == 1.05
    assert p.myo_volume_ed_ml == pytest.approx(myo, rel=1e-12)
    assert p.lv_mass_g == pytest.approx(1.05 * myo, rel=1e-12)


def test_stacked_discs_and_annuli_match_analytic_areas():
    n, px, dz, ns = 128, 0.5, 6.0, 7
    # supersampled partial-volume-free rendering: a pixel belongs to the disc when its centre
    # does; the error of the pixel count is O(perimeter) and shrinks with radius
    yy, xx = np.mgrid[0:n, 0:n]
    d = np.hypot(yy - 63.3, xx - 64.1) * px                 # mm
    r_lv, r_epi = 20.0, 26.0                                  # mm
    lab = np.zeros((ns, 1, n, n), np.uint8)
    lab[:, 0][:, d <= r_epi] = 2
    lab[:, 0][:, d <= r_lv] = 3
    p = clinical_parameters(lab, (dz, px, px), ed_frame=0, es_frame=0)
    lv_true = math.pi * r_lv**2 * dz * ns / 1000
    myo_true = math.pi * (r_epi**2 - r_lv**2) * dz * ns / 1000
    assert p.lv_edv_ml == pytest.approx(lv_true, rel=0.01)
    assert p.myo_volume_ed_ml == pytest.approx(myo_true, rel=0.02)
    assert p.lv_mass_g == pytest.approx(1.05 * myo_true, rel=0.02)
    assert p.lv_ef_pct == 0.0 and p.lv.status == "ok"


def beating(nf=12, ed=3):
    """LV disc whose radius follows a cosine with its maximum at frame ``ed``."""
    n = 64
    yy, xx = np.mgrid[0:n, 0:n]
    d = np.hypot(yy - 32, xx - 32)
    radius = 10 + 5 * np.cos(2 * np.pi * (np.arange(nf) - ed) / nf)
    lab = np.zeros((3, nf, n, n), np.uint8)
    for f in range(nf):
        lab[:, f][:, d <= radius[f]] = 3
    return lab, radius


def test_ed_es_detection_on_constructed_volume_curve():
    lab, radius = beating(nf=12, ed=3)
    p = clinical_parameters(lab, (8.0, 1.0, 1.0))
    assert (p.ed_frame, p.es_frame) == (3, 9)                # max / min of the radius curve
    assert (p.ed_source, p.es_source) == ("detected", "detected")
    assert np.argmax(p.lv.volume_curve_ml) == 3 and np.argmin(p.lv.volume_curve_ml) == 9
    # only annotated frames are candidates
    q = clinical_parameters(lab, (8.0, 1.0, 1.0), annotated_frames=[0, 5, 7])
    # radii 10, 12.5, 7.5 px at frames 0, 5, 7
    assert radius[[0, 5, 7]] == pytest.approx([10.0, 12.5, 7.5])
    assert (q.ed_frame, q.es_frame) == (5, 7)
    curve = q.lv.volume_curve_ml
    assert np.isnan(curve[[1, 2, 3, 4, 6, 8, 9, 10, 11]]).all()
    assert np.isfinite(curve[[0, 5, 7]]).all()


def test_detect_ed_es_on_a_curve_first_on_ties_and_nan_ignored():
    r = detect_ed_es([50.0, 120.0, 120.0, 40.0, 40.0, math.nan])
    assert (r.ed_frame, r.es_frame) == (1, 3)
    with pytest.raises(ValueError, match="no annotated frame"):
        detect_ed_es([math.nan, math.nan])


def test_one_frame_given_the_other_detected():
    lab, _ = beating(nf=12, ed=3)
    p = clinical_parameters(lab, (8.0, 1.0, 1.0), ed_frame=2)
    assert (p.ed_frame, p.ed_source, p.es_frame, p.es_source) == (2, "given", 9, "detected")


def test_esv_above_edv_is_computed_and_flagged_implausible():
    lab = blocks()
    p = clinical_parameters(lab, SPACING, ed_frame=2, es_frame=0)        # swapped on purpose
    assert p.lv_esv_ml > p.lv_edv_ml
    assert p.lv_ef_pct == pytest.approx((192 - 480) / 192 * 100, rel=1e-12)   # −150 %
    assert p.lv_sv_ml < 0
    assert p.lv.status == "implausible" and p.lv.implausible and p.implausible
    assert "implausible" in p.summary()


def test_edv_zero_gives_nan_ef_with_status():
    lab = blocks()
    lab[lab == 1] = 0                           # no RV anywhere
    p = clinical_parameters(lab, SPACING, ed_frame=0, es_frame=2)
    assert p.rv_edv_ml == 0.0 and math.isnan(p.rv_ef_pct)
    assert p.rv.status == "edv_zero" and not p.rv.implausible
    lab2 = blocks()
    lab2[:, 0][lab2[:, 0] == 1] = 0             # RV only at ES: EDV 0 and ESV > EDV
    q = clinical_parameters(lab2, SPACING, ed_frame=0, es_frame=2)
    assert math.isnan(q.rv_ef_pct) and q.rv.status == "edv_zero" and q.rv.implausible


def test_spacing_matches_case_meta_voxel_volume():
    meta = CaseMeta(pixel_spacing_mm=(1.25, 1.5), slice_spacing_mm=8.0)
    p = clinical_parameters(blocks(), (meta.slice_spacing_mm, *meta.pixel_spacing_mm),
                            ed_frame=0, es_frame=2)
    assert p.voxel_volume_ml == pytest.approx(meta.voxel_volume_ml, rel=1e-15)


def test_volume_curve_and_unannotated_frames():
    lab = blocks(nf=5)
    c = volume_curve_ml(lab, SPACING, 3, annotated_frames=[0, 2])
    assert c[0] == pytest.approx(480 * VOXEL_ML) and np.isnan(c[1]) and np.isnan(c[3])
    full = volume_curve_ml(lab, SPACING, 3)
    assert full[1] == pytest.approx(320 * VOXEL_ML)
    with pytest.raises(ValueError, match="not an annotated frame"):
        clinical_parameters(lab, SPACING, ed_frame=1, es_frame=2, annotated_frames=[0, 2])


def test_to_dict_and_summary():
    p = clinical_parameters(blocks(), SPACING, ed_frame=0, es_frame=2)
    d = p.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["lv_ef_pct"] == pytest.approx(60.0)
    assert d["units"]["lv_mass_g"] == "g" and d["lv_status"] == "ok"
    assert len(d["lv_volume_curve_ml"]) == 3
    text = p.summary()
    assert "lv_mass_g" in text and "1.05" in text
    assert p.summary("markdown").startswith("**Clinical parameters**")


def test_result_pickles():
    import pickle

    p = clinical_parameters(blocks(), SPACING, ed_frame=0, es_frame=2)
    back = pickle.loads(pickle.dumps(p))
    assert back.to_dict() == p.to_dict()


def test_input_errors():
    lab = blocks()
    with pytest.raises(ValueError, match="4 dimensions"):
        clinical_parameters(lab[:, 0], SPACING)
    with pytest.raises(ValueError, match="integer labels"):
        clinical_parameters(lab.astype(np.float32), SPACING)
    with pytest.raises(ValueError, match="spacing"):
        clinical_parameters(lab, (1.0, 1.0))
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        clinical_parameters(lab, SPACING, ed_frame=3)
    bad = lab.copy()
    bad[0, 0, 0, 0] = 7
    with pytest.raises(ValueError, match="ACDC labels 0..3"):
        clinical_parameters(bad, SPACING)
    with pytest.raises(ValueError, match="empty"):
        clinical_parameters(lab, SPACING, annotated_frames=[])


def test_input_not_modified_and_doctests():
    lab = blocks()
    before = lab.copy()
    clinical_parameters(lab, SPACING)
    np.testing.assert_array_equal(lab, before)
    assert doctest.testmod(clinical_mod, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
