"""Segmentation metrics against shapes with analytic answers and independent implementations.

Expected values come from geometry worked out by hand (shifted boxes, rectangles, discs), from
a brute-force reference written here (boundary by explicit face-neighbour tests, distances by
a k-d tree over physical coordinates: no erosion, no distance transform), from scikit-image
and scipy point-set Hausdorff distances, and, when installed, from medpy and DeepMind's
``surface-distance`` package. The empty-mask table is written out here, row by row, from the
policy definitions in the docs; nothing is compared with an earlier output of the code.
"""

from __future__ import annotations

import doctest
import importlib.metadata
import json
import math

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree
from scipy.spatial.distance import directed_hausdorff

from suite.metrics.reduce import aggregate
from suite.metrics.segmentation import (
    EMPTY_SENTINELS, METRICS, evaluate, mask_boundary, score_masks, surface_distances,
    volume_diagonal_mm,
)

DIST = ("hd", "hd95", "assd", "masd")


# ----------------------------------------------------------------------------- references
def ref_boundary(mask: np.ndarray) -> np.ndarray:
    """Mask voxels with at least one face neighbour outside (outside the array = outside)."""
    p = np.pad(mask, 1)
    core = tuple(slice(1, -1) for _ in range(mask.ndim))
    exposed = np.zeros_like(mask)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            sl = list(core)
            sl[axis] = slice(1 + step, p.shape[axis] - 1 + step)
            exposed |= ~p[tuple(sl)]
    return mask & exposed


def ref_directed(a: np.ndarray, b: np.ndarray, spacing) -> np.ndarray:
    """Distances (mm) from each boundary voxel of a to the nearest boundary voxel of b."""
    pa = np.argwhere(ref_boundary(a)) * np.asarray(spacing)
    pb = np.argwhere(ref_boundary(b)) * np.asarray(spacing)
    return cKDTree(pb).query(pa)[0]


def ref_metrics(a, b, spacing, tol):
    dab, dba = ref_directed(a, b, spacing), ref_directed(b, a, spacing)
    pooled = np.concatenate([dab, dba])
    return {
        "dice": 2 * np.sum(a & b) / (a.sum() + b.sum()),
        "hd": max(dab.max(), dba.max()),
        "hd95": np.percentile(pooled, 95),
        "hd95_max_directed": max(np.percentile(dab, 95), np.percentile(dba, 95)),
        "assd": pooled.mean(),
        "masd": (dab.mean() + dba.mean()) / 2,
        "nsd": (np.sum(dab <= tol) + np.sum(dba <= tol)) / (dab.size + dba.size),
    }


def box(shape, z, y, x):
    m = np.zeros(shape, bool)
    m[z[0]:z[1], y[0]:y[1], x[0]:x[1]] = True
    return m


def blobs(rng, shape, sigma=2.0, level=0.5):
    return ndimage.gaussian_filter(rng.random(shape), sigma) > level


# ----------------------------------------------------------------------------- boundary
def test_boundary_is_face_connected_erosion_and_counts_the_array_edge():
    m = box((5, 7, 7), (1, 4), (1, 6), (1, 6))
    b = mask_boundary(m)
    # interior of a 3x5x5 box: 1x3x3 voxels
    assert b.sum() == 3 * 5 * 5 - 1 * 3 * 3
    np.testing.assert_array_equal(b, ref_boundary(m))
    # a diagonal (edge/corner) neighbour outside does not make a voxel a boundary voxel
    full = np.ones((3, 3, 3), bool)
    assert mask_boundary(full).sum() == 26          # the array edge counts as outside
    one_slice = box((1, 6, 6), (0, 1), (1, 5), (1, 5))
    assert mask_boundary(one_slice).sum() == 16     # every voxel of a one-slice mask


def test_boundary_of_empty_mask_and_bad_dtype():
    assert not mask_boundary(np.zeros((2, 4, 4), bool)).any()
    with pytest.raises(ValueError, match="bool"):
        mask_boundary(np.zeros((2, 4, 4), np.uint8))


# ----------------------------------------------------------------------------- analytic shapes
@pytest.mark.parametrize("k", [1, 2, 3])
def test_hd_of_box_shifted_along_x_is_k_dx(k):
    spacing = (7.0, 1.3, 0.9)
    a = box((8, 20, 24), (2, 6), (4, 14), (4, 14))
    b = np.roll(a, k, axis=2)
    s = score_masks(a, b, spacing)
    assert s.hd == pytest.approx(k * 0.9, abs=1e-12)
    # spacing order (dz, dy, dx): a shift along x is never measured with dz or dy
    s2 = score_masks(a, np.roll(a, k, axis=1), spacing)
    assert s2.hd == pytest.approx(k * 1.3, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_shift_along_slices_counts_dz(k):
    spacing = (8.0, 1.25, 1.25)
    a = box((10, 16, 16), (2, 7), (4, 12), (4, 12))
    b = np.roll(a, k, axis=0)
    s = score_masks(a, b, spacing)
    assert s.hd == pytest.approx(k * 8.0, abs=1e-12)
    # Dice of a box shifted by k of its 5 slices: 2(5-k)/10
    assert s.dice == pytest.approx((5 - k) / 5)


@pytest.mark.parametrize("k, w, h, dx", [(1, 10, 6, 1.0), (2, 10, 4, 0.5), (3, 8, 5, 1.5)])
def test_assd_masd_hd95_of_shifted_one_slice_rectangle_by_hand(k, w, h, dx):
    # One slice: every voxel is a boundary voxel (both z faces are exposed). A voxel in column
    # c (0..w-1) of the reference lies in the prediction when c >= k, else (k - c) dx away.
    a = box((1, h + 4, w + k + 4), (0, 1), (2, 2 + h), (2, 2 + w))
    b = np.roll(a, k, axis=2)
    s = score_masks(a, b, (5.0, 0.8, dx), tolerance_mm=0.0)
    per_row = np.concatenate([np.zeros(w - k), dx * np.arange(1, k + 1)])
    pooled = np.tile(per_row, 2 * h)
    assert s.n_reference_boundary == s.n_prediction_boundary == h * w
    assert s.assd == pytest.approx(dx * k * (k + 1) / (2 * w), rel=1e-12)
    assert s.masd == pytest.approx(dx * k * (k + 1) / (2 * w), rel=1e-12)
    assert s.hd == pytest.approx(k * dx)
    assert s.hd95 == pytest.approx(np.percentile(pooled, 95), rel=1e-12)
    assert s.dice == pytest.approx((w - k) / w)


@pytest.mark.parametrize("tol_factor, expected", [
    (0.0, lambda k, w: (w - k) / w),          # τ below the first nonzero distance
    (0.5, lambda k, w: (w - k) / w),
    (1.0, lambda k, w: (w - k + 1) / w),      # τ = dx: one more column per row
    (2.5, lambda k, w: (w - k + 2) / w),
    (3.0, lambda k, w: 1.0),                  # τ = k dx: everything within
    (10.0, lambda k, w: 1.0),
])
def test_nsd_closed_form_below_and_above_the_shift(tol_factor, expected):
    k, w, h, dx = 3, 12, 5, 0.75
    a = box((1, h + 4, w + k + 4), (0, 1), (2, 2 + h), (2, 2 + w))
    b = np.roll(a, k, axis=2)
    s = score_masks(a, b, (5.0, 0.8, dx), tolerance_mm=tol_factor * dx)
    # NSD = [(w - k) + #{j in 1..k : j dx <= τ}] / w per row and direction
    assert s.nsd == pytest.approx(expected(k, w), rel=1e-12)


def test_dice_of_two_overlapping_rectangles_closed_form():
    shape = (6, 40, 50)
    a = box(shape, (0, 4), (5, 25), (3, 33))       # 4 x 20 x 30
    b = box(shape, (1, 6), (12, 30), (10, 45))     # 5 x 18 x 35
    overlap = (4 - 1) * (25 - 12) * (33 - 10)
    expected = 2 * overlap / (4 * 20 * 30 + 5 * 18 * 35)
    assert score_masks(a, b, (8.0, 1.0, 1.0)).dice == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("r1, r2", [(14.0, 10.0), (12.0, 11.0), (9.0, 15.0)])
def test_hd_of_concentric_cylinders_is_radius_difference_within_a_pixel(r1, r2):
    n, px = 48, 0.8
    yy, xx = np.mgrid[0:n, 0:n]
    d = np.hypot(yy - 23.5, xx - 23.7) * px
    a = np.zeros((4, n, n), bool)
    b = np.zeros((4, n, n), bool)
    a[:] = d <= r1 * px
    b[:] = d <= r2 * px
    s = score_masks(a, b, (10.0, px, px))
    assert abs(s.hd - abs(r1 - r2) * px) <= px
    assert s.hd95 <= s.hd + 1e-12


def test_perfect_prediction_and_symmetry_and_inputs_untouched():
    rng = np.random.default_rng(3)
    a = blobs(rng, (5, 30, 30))
    b = blobs(rng, (5, 30, 30))
    a0, b0 = a.copy(), b.copy()
    perfect = score_masks(a, a, (6.0, 1.1, 0.9))
    assert (perfect.dice, perfect.hd, perfect.hd95, perfect.assd, perfect.masd, perfect.nsd) \
        == (1.0, 0.0, 0.0, 0.0, 0.0, 1.0)
    ab = score_masks(a, b, (6.0, 1.1, 0.9)).values()
    ba = score_masks(b, a, (6.0, 1.1, 0.9)).values()
    for m in METRICS:
        assert ab[m] == pytest.approx(ba[m], rel=1e-12)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


# ------------------------------------------------------------------------ independent references
@pytest.mark.parametrize("seed", range(6))
def test_all_metrics_match_brute_force_reference(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(3, 9)), int(rng.integers(20, 40)), int(rng.integers(20, 40)))
    a, b = blobs(rng, shape), blobs(rng, shape)
    spacing = tuple(rng.uniform(0.6, 9.0, 3))
    tol = float(rng.uniform(0.5, 5.0))
    want = ref_metrics(a, b, spacing, tol)
    pooled = score_masks(a, b, spacing, tolerance_mm=tol)
    directed = score_masks(a, b, spacing, tolerance_mm=tol, hd95_definition="max_directed")
    for m in ("dice", "hd", "hd95", "assd", "masd", "nsd"):
        assert getattr(pooled, m) == pytest.approx(want[m], rel=1e-10, abs=1e-12), m
    assert directed.hd95 == pytest.approx(want["hd95_max_directed"], rel=1e-10)
    sd = surface_distances(a, b, spacing)
    np.testing.assert_allclose(np.sort(sd.reference_to_prediction_mm),
                               np.sort(ref_directed(a, b, spacing)), rtol=1e-12)


def test_hd95_definitions_differ_when_one_direction_holds_the_outliers():
    # prediction = reference + a far blob: only prediction -> reference has large distances
    a = box((3, 40, 60), (0, 3), (10, 30), (5, 25))
    # 64 voxels far away: ~7 % of ∂P, ~3.5 % of the pooled distances
    b = a | box((3, 40, 60), (1, 2), (12, 20), (45, 53))
    spacing = (5.0, 1.0, 1.0)
    want = ref_metrics(a, b, spacing, 2.0)
    p = score_masks(a, b, spacing).hd95
    d = score_masks(a, b, spacing, hd95_definition="max_directed").hd95
    assert p == pytest.approx(want["hd95"]) and d == pytest.approx(want["hd95_max_directed"])
    assert d > p


def test_hd_matches_skimage_and_scipy_point_set_hausdorff():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(11)
    for _ in range(3):
        a, b = blobs(rng, (6, 32, 32)), blobs(rng, (6, 32, 32))
        ba, bb = ref_boundary(a), ref_boundary(b)
        iso = 1.7    # isotropic: skimage works in index units
        assert score_masks(a, b, (iso,) * 3).hd == pytest.approx(
            skm.hausdorff_distance(ba, bb) * iso, rel=1e-12)
        spacing = np.array([9.0, 1.2, 0.7])   # anisotropic: scaled coordinates for scipy
        pa, pb = np.argwhere(ba) * spacing, np.argwhere(bb) * spacing
        want = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
        assert score_masks(a, b, tuple(spacing)).hd == pytest.approx(want, rel=1e-12)


def test_matches_medpy_when_installed():
    mb = pytest.importorskip("medpy.metric.binary")
    medpy_version = importlib.metadata.version("medpy")
    rng = np.random.default_rng(5)
    for _ in range(4):
        a, b = blobs(rng, (7, 36, 36)), blobs(rng, (7, 36, 36))
        spacing = tuple(rng.uniform(0.7, 9.0, 3))
        s = score_masks(a, b, spacing)
        assert s.hd == pytest.approx(mb.hd(b, a, voxelspacing=spacing, connectivity=1))
        assert s.hd95 == pytest.approx(mb.hd95(b, a, voxelspacing=spacing, connectivity=1))
        assert s.dice == pytest.approx(mb.dc(b, a))
        # MASD is medpy <= 0.4's assd: the mean of the two directed asd
        masd = 0.5 * (mb.asd(b, a, voxelspacing=spacing, connectivity=1)
                      + mb.asd(a, b, voxelspacing=spacing, connectivity=1))
        assert s.masd == pytest.approx(masd)
        medpy_assd = mb.assd(b, a, voxelspacing=spacing, connectivity=1)
        if tuple(int(p) for p in medpy_version.split(".")[:2]) >= (0, 5):
            assert s.assd == pytest.approx(medpy_assd)     # pooled mean since 0.5
        else:
            assert s.masd == pytest.approx(medpy_assd)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_translation_agrees_with_deepmind_surface_distance_when_installed():
    sd = pytest.importorskip("surface_distance")
    a = box((8, 30, 30), (2, 6), (5, 20), (5, 20))
    spacing = (6.0, 1.0, 0.8)
    for k in (1, 3):
        b = np.roll(a, k, axis=2)
        d = sd.compute_surface_distances(a, b, spacing)
        # for a pure translation both surface models give the shift as HD
        assert score_masks(a, b, spacing).hd == pytest.approx(
            sd.compute_robust_hausdorff(d, 100), abs=1e-9)


# ----------------------------------------------------------------------------- empty-mask table
SHAPE, SPACING = (4, 20, 30), (8.0, 1.5, 1.25)
W = math.sqrt((4 * 8.0) ** 2 + (20 * 1.5) ** 2 + (30 * 1.25) ** 2)
NAN = math.nan

# (policy, status) -> expected dice, nsd, distance (HD = HD95 = ASSD = MASD)
EMPTY_EXPECTED = {
    ("worst", "reference_empty"): (0.0, 0.0, W),
    ("worst", "prediction_empty"): (0.0, 0.0, W),
    ("worst", "both_empty"): (1.0, 1.0, NAN),
    ("acdc", "reference_empty"): (0.0, 0.0, 1.0),
    ("acdc", "prediction_empty"): (0.0, 0.0, 1.0),
    ("acdc", "both_empty"): (1.0, 1.0, 0.0),
    ("mnms", "reference_empty"): (0.0, 0.0, NAN),
    ("mnms", "prediction_empty"): (0.0, 0.0, -1.0),
    ("mnms", "both_empty"): (1.0, 1.0, -1.0),
    ("nan", "reference_empty"): (0.0, 0.0, NAN),
    ("nan", "prediction_empty"): (0.0, 0.0, NAN),
    ("nan", "both_empty"): (NAN, NAN, NAN),
}


def _same(x, y):
    return (math.isnan(x) and math.isnan(y)) or x == pytest.approx(y, rel=1e-12)


def _pair(status):
    full = box(SHAPE, (1, 3), (5, 12), (5, 14))
    empty = np.zeros(SHAPE, bool)
    return {"reference_empty": (empty, full), "prediction_empty": (full, empty),
            "both_empty": (empty, empty)}[status]


@pytest.mark.parametrize("policy, status", sorted(EMPTY_EXPECTED))
def test_empty_mask_table_row(policy, status):
    dice, nsd, dist = EMPTY_EXPECTED[(policy, status)]
    ref, pred = _pair(status)
    for definition in ("pooled", "max_directed"):
        s = score_masks(ref, pred, SPACING, empty=policy, hd95_definition=definition)
        assert s.status == status
        assert _same(s.dice, dice) and _same(s.nsd, nsd)
        for m in DIST:
            assert _same(getattr(s, m), dist), (m, getattr(s, m))


@pytest.mark.parametrize("policy, status", sorted(EMPTY_EXPECTED))
def test_empty_mask_table_row_through_evaluate(policy, status):
    dice, nsd, dist = EMPTY_EXPECTED[(policy, status)]
    ref3, pred3 = _pair(status)
    ref = np.zeros((SHAPE[0], 2) + SHAPE[1:], np.uint8)
    pred = np.zeros_like(ref)
    ref[:, 1][ref3] = 3                     # LV at ES only, frame 1
    pred[:, 1][pred3] = 3
    r = evaluate(ref, pred, SPACING, ed_frame=0, es_frame=1, empty=policy)
    s = r.get("LV", "ES")
    assert s.status == status
    assert _same(s.dice, dice) and _same(s.nsd, nsd)
    assert all(_same(getattr(s, m), dist) for m in DIST)
    assert r.worst_distance_mm == pytest.approx(W)


def test_worst_case_is_volume_diagonal_and_exceeds_any_distance():
    assert volume_diagonal_mm(SHAPE, SPACING) == pytest.approx(W)
    corner_a = np.zeros(SHAPE, bool); corner_a[0, 0, 0] = True
    corner_b = np.zeros(SHAPE, bool); corner_b[-1, -1, -1] = True
    assert score_masks(corner_a, corner_b, SPACING).hd < W


def test_both_empty_is_excluded_not_failed_by_the_reduction():
    full = box(SHAPE, (1, 3), (5, 12), (5, 14))
    empty = np.zeros(SHAPE, bool)
    cases = {"ok": (full, np.roll(full, 1, axis=2)), "missed": (full, empty),
             "absent": (empty, empty)}
    hd = {k: score_masks(r, p, SPACING).hd for k, (r, p) in cases.items()}
    agg = aggregate(list(hd.values()), ids=list(hd))
    assert agg.n_used == 2 and agg.excluded_ids == ("absent",)
    assert agg.value == pytest.approx((1.25 + W) / 2)       # the failure counts at W
    mn = {k: score_masks(r, p, SPACING, empty="mnms").hd for k, (r, p) in cases.items()}
    agg = aggregate(list(mn.values()), ids=list(mn), sentinels=EMPTY_SENTINELS["mnms"])
    assert agg.excluded_ids == ("missed", "absent") and agg.value == pytest.approx(1.25)


# ----------------------------------------------------------------------------- evaluate
def make_stack():
    """(slice, frame, y, x) with LV/MYO/RV at ED (frame 1) and ES (frame 3)."""
    ns, nf, n = 5, 4, 48
    yy, xx = np.mgrid[0:n, 0:n]
    lab = np.zeros((ns, nf, n, n), np.uint8)
    for f, (r_lv, r_epi) in {1: (10, 14), 3: (7, 12)}.items():
        d = np.hypot(yy - 24, xx - 20)
        lab[1:4, f][:, (d > r_lv) & (d <= r_epi)] = 2
        lab[1:4, f][:, d <= r_lv] = 3
        lab[1:4, f][:, (np.hypot(yy - 24, xx - 38) <= 6) & (d > r_epi)] = 1
    return lab


def test_evaluate_scores_each_structure_at_each_phase_in_3d():
    ref = make_stack()
    pred = ref.copy()
    pred[:, 1] = np.roll(ref[:, 1], 2, axis=2)         # ED shifted 2 columns
    spacing = (8.0, 1.25, 1.5)
    r = evaluate(ref, pred, spacing, ed_frame=1, es_frame=3, tolerance_mm=1.0)
    for st, label in (("LV", 3), ("MYO", 2), ("RV", 1)):
        ed = r.get(st, "ED")
        want = ref_metrics(ref[:, 1] == label, pred[:, 1] == label, spacing, 1.0)
        for m in METRICS:
            assert getattr(ed, m) == pytest.approx(want[m], rel=1e-10), (st, m)
        es = r.get(st, "ES")
        assert (es.dice, es.hd, es.nsd, es.status) == (1.0, 0.0, 1.0, "ok")
    assert r.value("LV", "ED", "hd") == pytest.approx(2 * 1.5)
    assert r.shape == (5, 48, 48) and r.spacing_mm == spacing


def test_evaluate_rows_to_dict_and_summary():
    ref = make_stack()
    pred = ref.copy()
    pred[pred == 1] = 0                                   # RV missed at both phases
    r = evaluate(ref, pred, (8.0, 1.25, 1.25), ed_frame=1, es_frame=3)
    rows = r.rows()
    assert len(rows) == 3 * 2 * 6
    assert set(rows[0]) == {"structure", "phase", "frame", "metric", "value", "unit",
                            "direction", "status", "empty", "convention"}
    rv_hd = [x for x in rows if x["structure"] == "RV" and x["metric"] == "hd"]
    assert [x["status"] for x in rv_hd] == ["prediction_empty"] * 2
    assert all(x["value"] == pytest.approx(r.worst_distance_mm) for x in rv_hd)
    by_metric = {x["metric"]: x for x in rows}
    assert by_metric["dice"]["direction"] == "higher is better" and by_metric["dice"]["unit"] == "1"
    assert by_metric["hd95"]["direction"] == "lower is better" and by_metric["hd95"]["unit"] == "mm"
    assert {x["frame"] for x in rows if x["phase"] == "ES"} == {3}
    json.dumps(rows, allow_nan=False)
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["scores"]["RV_ED"]["status"] == "prediction_empty"
    assert d["empty"] == "worst" and d["hd95_definition"] == "pooled"
    text = r.summary()
    assert "prediction_empty" in text and "W =" in text
    assert r.summary("markdown").startswith("**Segmentation metrics**")
    assert "<table>" in r.summary("html")


def test_results_pickle_for_process_pools():
    import pickle

    ref = make_stack()
    r = evaluate(ref, ref, (8.0, 1.25, 1.25), ed_frame=1, es_frame=3)
    back = pickle.loads(pickle.dumps(r))
    assert back == r and back.rows() == r.rows()


def test_hd95_definition_is_named_in_rows():
    ref = make_stack()
    r = evaluate(ref, ref, (8.0, 1.25, 1.25), ed_frame=1, es_frame=3,
                 hd95_definition="max_directed")
    names = {x["metric"] for x in r.rows()}
    assert "hd95_max_directed" in names and "hd95" not in names


def test_evaluate_both_empty_under_worst_reports_nan_not_applicable():
    ref = make_stack()
    ref[ref == 1] = 0
    r = evaluate(ref, ref.copy(), (8.0, 1.25, 1.25), ed_frame=1, es_frame=3)
    s = r.get("RV", "ED")
    assert s.status == "both_empty" and s.dice == 1.0 and math.isnan(s.hd)
    row = [x for x in r.rows() if (x["structure"], x["phase"], x["metric"]) == ("RV", "ED", "hd")]
    assert row[0]["value"] is None and row[0]["status"] == "both_empty"


def test_evaluate_annotated_frames_guard_unannotated_ed():
    ref = make_stack()
    r = evaluate(ref, ref, (8.0, 1.0, 1.0), ed_frame=1, es_frame=3, annotated_frames=[1, 3])
    assert r.get("LV", "ED").status == "ok"
    with pytest.raises(ValueError, match="not an annotated frame"):
        evaluate(ref, ref, (8.0, 1.0, 1.0), ed_frame=0, es_frame=3, annotated_frames=[1, 3])
    with pytest.raises(ValueError, match="annotated_frames"):
        evaluate(ref, ref, (8.0, 1.0, 1.0), ed_frame=1, es_frame=3, annotated_frames=[1, 3.5])


@pytest.mark.parametrize("kwargs, match", [
    ({"empty": "worse"}, "did you mean 'worst'"),
    ({"hd95_definition": "pool"}, "did you mean 'pooled'"),
    ({"tolerance_mm": -1.0}, "tolerance_mm"),
    ({"tolerance_mm": float("nan")}, "tolerance_mm"),
    ({"ed_frame": 9}, r"ed_frame` must be in \[0, 3\]"),
    ({"es_frame": 1.0}, "integer frame index"),
])
def test_evaluate_option_errors(kwargs, match):
    ref = make_stack()
    args = dict(ed_frame=1, es_frame=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        evaluate(ref, ref, (8.0, 1.0, 1.0), **args)


def test_evaluate_input_errors():
    ref = make_stack()
    with pytest.raises(ValueError, match="must match `reference` in shape"):
        evaluate(ref, ref[:, :, :-1], (8.0, 1.0, 1.0), ed_frame=1, es_frame=3)
    with pytest.raises(ValueError, match="integer labels"):
        evaluate(ref, ref.astype(float), (8.0, 1.0, 1.0), ed_frame=1, es_frame=3)
    with pytest.raises(ValueError, match="4 dimensions"):
        evaluate(ref[:, 1], ref[:, 1], (8.0, 1.0, 1.0), ed_frame=1, es_frame=3)
    with pytest.raises(ValueError, match="spacing"):
        evaluate(ref, ref, (1.0, 1.0), ed_frame=1, es_frame=3)
    bad = ref.copy()
    bad[0, 1, 0, 0] = 4
    with pytest.raises(ValueError, match="ACDC labels 0..3"):
        evaluate(ref, bad, (8.0, 1.0, 1.0), ed_frame=1, es_frame=3)


def test_score_masks_errors():
    a = np.zeros((2, 4, 4), bool)
    with pytest.raises(ValueError, match="bool"):
        score_masks(a.astype(np.uint8), a, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="spacing"):
        score_masks(a, a, (1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="worst_distance_mm"):
        score_masks(a, a, (1.0, 1.0, 1.0), worst_distance_mm=0.0)


def test_doctests():
    import suite.metrics.segmentation.masks as masks
    import suite.metrics.segmentation.stack as stack
    import suite.metrics.segmentation.surface as surface
    for mod in (masks, stack, surface):
        assert doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
