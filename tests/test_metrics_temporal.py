"""Temporal-fidelity metrics against constructed cases whose answers are known in closed form.

The beating "LV" below is built here with numpy (not with ``suite.phantom``): a disc of blood
whose radius follows a known periodic curve, a ring of myocardium of constant area, a static RV
disc, background, and a small square feature that switches intensity at a known frame. Temporal
blurring is a circular convolution along frames written out with ``np.roll``; the expected
values come from the kernel's frequency response H(m) = Σ_j h_j cos(2π m j / n) or from the
geometry of a sampled ramp, never from earlier outputs of the code under test.
"""

from __future__ import annotations

import dataclasses
import doctest
import functools
import json
import math

import numpy as np
import pytest

from suite.metrics.image import ssim_per_image
from suite.metrics.temporal import (
    StepFeature, lv_curve_error, parabolic_minimum, rise_width, step_response_width,
    temporal_fidelity, temporal_frequency_retention, xt_profile_error,
)

NS, NF, NY, NX = 2, 20, 64, 64
SPACING = (1.5, 1.5)          # mm
DT = 40.0                     # ms
CENTRE = (32.0, 30.0)         # LV centre, pixels (y, x)
R_ED, R_ES = 12.0, 8.0        # blood-pool radius at ED / ES on slice 0, pixels
MYO_AREA = 17.0**2 - 12.0**2  # myocardial ring area (px²), constant over the cycle
BLOOD, MYO, BG, RV = 1.0, 0.3, 0.15, 0.9
FEATURE_OFF, FEATURE_ON = 0.15, 0.8
SUPER = 8                     # supersampling per axis for partial-volume rendering


def radius(f, ed_phase=0.0, scale=1.0):
    """Blood-pool radius (px) at frame f: max at ``ed_phase``, min half a cycle later."""
    c = 0.5 * (1.0 + np.cos(2.0 * np.pi * (f - ed_phase) / NF))
    return scale * (R_ES + (R_ED - R_ES) * c)


def _coverage(dist2, r2):
    """Area fraction of each pixel inside radius² ``r2`` from supersampled squared distances."""
    return (dist2 < r2).reshape(NY, SUPER, NX, SUPER).mean(axis=(1, 3))


@functools.lru_cache(maxsize=None)
def beating_lv(ed_phase=0.0, feature_frames=(5, 15)):
    """Images (slice, frame, y, x), labels and the feature mask of the constructed case.

    Cached and returned read-only: tests copy before changing anything.
    """
    sub = (np.arange(NY * SUPER) + 0.5) / SUPER - 0.5
    yy, xx = np.meshgrid(sub, (np.arange(NX * SUPER) + 0.5) / SUPER - 0.5, indexing="ij")
    d2 = (yy - CENTRE[0]) ** 2 + (xx - CENTRE[1]) ** 2
    cy, cx = np.mgrid[0:NY, 0:NX].astype(float)
    c2 = (cy - CENTRE[0]) ** 2 + (cx - CENTRE[1]) ** 2
    rv_sub = (yy - CENTRE[0]) ** 2 + (xx - 54.0) ** 2 < 25.0
    rv_cov = rv_sub.reshape(NY, SUPER, NX, SUPER).mean(axis=(1, 3))
    rv_lab = (cy - CENTRE[0]) ** 2 + (cx - 54.0) ** 2 < 25.0
    img = np.empty((NS, NF, NY, NX))
    lab = np.zeros((NS, NF, NY, NX), np.uint8)
    for s, scale in enumerate((1.0, 0.8)):
        for f in range(NF):
            r = radius(f, ed_phase, scale)
            r_out2 = r * r + MYO_AREA * scale * scale
            blood = _coverage(d2, r * r)
            heart = _coverage(d2, r_out2)
            base = BLOOD * blood + MYO * (heart - blood) + BG * (1.0 - heart)
            img[s, f] = base * (1.0 - rv_cov) + RV * rv_cov
            lab[s, f][rv_lab] = 1
            lab[s, f][c2 < r_out2] = 2
            lab[s, f][c2 < r * r] = 3
    feature = np.zeros((NY, NX), bool)
    feature[2:6, 2:6] = True
    on = np.zeros(NF, bool)
    a, b = feature_frames
    on[np.arange(a, a + (b - a) % NF) % NF] = True
    img[0][:, feature] = np.where(on, FEATURE_ON, FEATURE_OFF)[:, None]
    for a_ in (img, lab, feature):
        a_.setflags(write=False)
    return img, lab, StepFeature(mask=feature, slice_index=0, step_frame=a)


def circular_blur(x, taps):
    """Centred circular convolution along frames (axis 1) with odd-length ``taps``."""
    taps = np.asarray(taps, float)
    half = taps.size // 2
    return sum(t * np.roll(x, j - half, axis=1) for j, t in enumerate(taps))


def response(taps, m, n=NF):
    """Frequency response H(m) of a centred symmetric kernel (real)."""
    taps = np.asarray(taps, float)
    half = taps.size // 2
    return float(sum(t * np.cos(2 * np.pi * m * (j - half) / n) for j, t in enumerate(taps)))


BOX = {w: np.full(w, 1.0 / w) for w in (1, 3, 5)}
TRI = np.array([0.25, 0.5, 0.25])


@pytest.fixture(scope="module")
def case():
    return beating_lv()


# ---------------------------------------------------------------------------------------------
# perfect prediction and the constructed reference


def test_perfect_prediction_scores_best(case):
    img, lab, feat = case
    r = temporal_fidelity(img, img.copy(), lab, SPACING, DT, feature=feat)
    assert r.profile.profile_error == 0.0 and r.profile.derivative_error == 0.0
    assert r.spectrum.high_frequency_retention == pytest.approx(1.0, abs=1e-12)
    assert r.spectrum.retention_error_db == pytest.approx(0.0, abs=1e-9)
    assert r.spectrum.xf_error == 0.0
    assert r.lv_curve.curve_error == 0.0 and r.lv_curve.es_timing_error_ms == 0.0
    assert r.step.rise_width_frames == pytest.approx(0.8, abs=1e-12)   # ideal sampled step
    assert r.step.reference_rise_width_frames == pytest.approx(0.8, abs=1e-12)
    assert r.step.step_delay_frames == 0.0
    for res in (r.profile, r.spectrum, r.lv_curve, r.step):
        assert res.intensity_gain == pytest.approx(1.0)


def test_reference_curve_matches_analytic_disc_area(case):
    img, lab, _ = case
    r = lv_curve_error(img, img, lab, SPACING, DT)
    f = np.arange(NF)
    expected = np.pi * (radius(f) ** 2 + radius(f, scale=0.8) ** 2) * SPACING[0] * SPACING[1]
    np.testing.assert_allclose(r.reference_curve_mm2, expected, rtol=0.01)
    assert r.es_frame_reference == NF // 2 and r.es_time_reference_frames == pytest.approx(10.0)
    fac = 100 * (expected.max() - expected.min()) / expected.max()
    assert r.fac_reference_pct == pytest.approx(fac, rel=0.02)
    assert (r.blood_level, r.myocardium_level) == pytest.approx((BLOOD, MYO), abs=0.02)


def test_profile_line_goes_through_lv_centroid_of_mid_slice_at_ed(case):
    img, lab, _ = case
    r = xt_profile_error(img, img, lab, SPACING)
    assert (r.slice_index, r.ed_frame) == (0, 0)
    np.testing.assert_allclose(r.centroid_yx_mm, np.array(CENTRE) * 1.5, atol=0.1)
    assert r.reference_profiles.shape == (2, NF, r.positions_mm.size)
    # the line reaches the farthest LV pixel (~12 px = 18 mm) plus the 10 mm margin
    assert r.positions_mm.max() == pytest.approx(28.5, abs=1.6)
    # the horizontal profile at the centre is blood (1.0) in every frame
    centre = np.argmin(np.abs(r.positions_mm))
    np.testing.assert_allclose(r.reference_profiles[0, :, centre], BLOOD, atol=0.02)


def test_anisotropic_spacing_keeps_the_line_in_mm(case):
    img, lab, _ = case
    r = xt_profile_error(img, img, lab, (2.0, 1.0), angles_deg=(0.0, 45.0, 90.0))
    np.testing.assert_allclose(r.centroid_yx_mm, (CENTRE[0] * 2.0, CENTRE[1] * 1.0), atol=0.1)
    assert np.diff(r.positions_mm) == pytest.approx(1.0)     # samples every min(spacing) mm
    assert r.per_line_profile_error.shape == (3,)


# ---------------------------------------------------------------------------------------------
# closed forms for a single temporal frequency


def flicker_case(m0, amplitude=0.3):
    """Whole images oscillating at temporal frequency m0: 1 + A cos(2π m0 f / n)."""
    _, lab, _ = beating_lv()
    f = np.arange(NF)
    sig = 1.0 + amplitude * np.cos(2 * np.pi * m0 * f / NF)
    img = np.broadcast_to(sig[None, :, None, None], (NS, NF, NY, NX)).copy()
    return img, lab


@pytest.mark.parametrize("m0", [3, 5, 7])
@pytest.mark.parametrize("taps", [TRI, BOX[3], BOX[5]], ids=["tri", "box3", "box5"])
def test_retention_of_a_pure_frequency_is_squared_kernel_response(m0, taps):
    img, lab = flicker_case(m0)
    h = response(taps, m0)
    r = temporal_frequency_retention(img, circular_blur(img, taps), lab, SPACING, DT)
    assert r.high_frequency_retention == pytest.approx(h * h, rel=1e-9)
    assert r.per_frequency_retention[m0 - 1] == pytest.approx(h * h, rel=1e-9)
    assert r.xf_error == pytest.approx(abs(1 - h), rel=1e-9)
    assert r.frequencies_hz[m0 - 1] == pytest.approx(m0 * 1000 / (NF * DT))
    assert r.retention_error_db == pytest.approx(abs(10 * np.log10(h * h)), rel=1e-9)


def test_tri_kernel_at_quarter_nyquist_retains_a_quarter():
    img, lab = flicker_case(5)   # H = cos²(π·5/20) = 1/2 → |H|² = 1/4
    r = temporal_frequency_retention(img, circular_blur(img, TRI), lab, SPACING, DT)
    assert r.high_frequency_retention == pytest.approx(0.25, rel=1e-12)


def test_low_band_frequency_is_outside_the_high_band():
    img, lab = flicker_case(2)   # 2 ≤ 0.25 · 20 / 2 = 2.5: low band only
    r = temporal_frequency_retention(img, circular_blur(img, TRI), lab, SPACING, DT)
    assert math.isnan(r.high_frequency_retention)      # not applicable, documented
    assert r.band_retention[0] == pytest.approx(response(TRI, 2) ** 2)
    assert r.cutoff_hz == pytest.approx(0.25 * 1000 / (2 * DT))


@pytest.mark.parametrize("m0", [3, 5])
def test_profile_errors_of_a_pure_frequency(m0):
    a = 0.3
    img, lab = flicker_case(m0, a)
    h = response(TRI, m0)
    r = xt_profile_error(img, circular_blur(img, TRI), lab, SPACING)
    assert r.derivative_error == pytest.approx(abs(1 - h), rel=1e-9)
    # ||(1 − H) A cos|| / ||1 + A cos|| over frames: sqrt(n/2) A |1 − H| / sqrt(n (1 + A²/2))
    expected = abs(1 - h) * a * math.sqrt(0.5) / math.sqrt(1 + a * a / 2)
    assert r.profile_error == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# the beating LV under temporal blur, shift, scaling and flicker


@pytest.fixture(scope="module")
def blurred(case):
    img, lab, feat = case
    kernels = [BOX[1], TRI, BOX[3], BOX[5]]
    return [temporal_fidelity(img, circular_blur(img, k), lab, SPACING, DT, feature=feat)
            for k in kernels]


def test_stronger_blur_is_ranked_worse_on_every_metric(blurred):
    def series(get):
        return [get(r) for r in blurred]

    for get in (lambda r: r.profile.profile_error, lambda r: r.profile.derivative_error,
                lambda r: r.spectrum.xf_error, lambda r: r.spectrum.retention_error_db,
                lambda r: r.lv_curve.curve_error, lambda r: r.step.rise_width_frames):
        v = series(get)
        assert v[0] == pytest.approx(min(v), abs=1e-12) and np.all(np.diff(v) > 0), v
    ret = series(lambda r: r.spectrum.high_frequency_retention)
    assert ret[0] == pytest.approx(1.0) and np.all(np.diff(ret) < 0) and ret[-1] < 0.5
    fac = series(lambda r: r.lv_curve.fac_prediction_pct)
    assert np.all(np.diff(fac) < 0)     # blur flattens the area curve


def test_per_frequency_retention_of_the_lv_follows_the_kernel(case):
    img, lab, _ = case
    r = temporal_frequency_retention(img, circular_blur(img, BOX[3]), lab, SPACING, DT)
    m = np.arange(1, NF // 2 + 1)
    expected = np.array([response(BOX[3], k) ** 2 for k in m])
    ok = r.reference_energy > 1e-12 * r.reference_energy.max()
    np.testing.assert_allclose(r.per_frequency_retention[ok], expected[ok], rtol=1e-9)
    # and the high-band retention is the energy-weighted mean of |H|² over the high band
    high = m > 2.5
    w = r.reference_energy[high]
    assert r.high_frequency_retention == pytest.approx((expected[high] * w).sum() / w.sum())


def test_blurred_curve_is_the_blurred_reference_curve_and_es_timing_is_kept(case):
    img, lab, _ = case
    for taps in (TRI, BOX[3], BOX[5]):
        r = lv_curve_error(img, circular_blur(img, taps), lab, SPACING, DT)
        expected = circular_blur(r.reference_curve_mm2[None], taps)[0]
        np.testing.assert_allclose(r.prediction_curve_mm2, expected, rtol=1e-9)
        assert r.es_timing_error_frames == pytest.approx(0.0, abs=1e-9)  # symmetric kernel
        assert r.curve_error > 0 and r.fac_difference_pct < 0


@pytest.mark.parametrize("w", [1, 3, 5])
def test_box_blur_step_width_is_0p8_w(case, w):
    img, lab, feat = case
    r = step_response_width(img, circular_blur(img, BOX[w]), feat, DT)
    assert r.rise_width_frames == pytest.approx(0.8 * w, abs=1e-9)
    assert r.rise_width_ms == pytest.approx(0.8 * w * DT, abs=1e-6)
    assert r.step_delay_frames == pytest.approx(0.0, abs=1e-9) and r.reached


def test_tri_kernel_step_width_closed_form(case):
    img, _, feat = case
    # ramp values 0, 1/4, 3/4, 1: 10 % at 0.4 frame, 90 % at 2.6 frames → 2.2 frames
    r = step_response_width(img, circular_blur(img, TRI), feat, DT)
    assert r.rise_width_frames == pytest.approx(2.2, abs=1e-9)


@pytest.mark.parametrize("frames", [(0, 10), (18, 6)], ids=["step-at-0", "wraps"])
def test_step_width_handles_wrap_around(frames):
    img, _, feat = beating_lv(feature_frames=frames)
    assert feat.step_frame == frames[0]
    r = step_response_width(img, circular_blur(img, BOX[3]), feat, DT)
    assert r.rise_width_frames == pytest.approx(2.4, abs=1e-9)
    assert r.reference_rise_width_frames == pytest.approx(0.8, abs=1e-9)


def test_step_that_is_never_recovered_gets_the_worst_case_width(case):
    img, _, feat = case
    flat = img.copy()
    flat[0][:, feat.mask] = img[0][:, feat.mask].mean(axis=0)   # feature frozen at its mean
    r = step_response_width(img, flat, feat, DT)
    assert not r.reached and r.rise_width_frames == NF and math.isnan(r.step_delay_frames)


def test_one_frame_shift_gives_one_frame_es_timing_error(case):
    img, lab, feat = case
    shifted = np.roll(img, 1, axis=1)
    r = temporal_fidelity(img, shifted, lab, SPACING, DT, feature=feat)
    assert r.lv_curve.es_timing_difference_frames == pytest.approx(1.0, abs=1e-9)
    assert r.lv_curve.es_timing_error_ms == pytest.approx(DT, abs=1e-6)
    assert r.lv_curve.es_frame_prediction == NF // 2 + 1
    assert r.step.step_delay_frames == pytest.approx(1.0, abs=1e-9)
    assert r.step.rise_width_frames == pytest.approx(0.8, abs=1e-9)
    # a shift keeps every temporal-frequency magnitude: retention 1, but x-f error > 0
    assert r.spectrum.high_frequency_retention == pytest.approx(1.0, rel=1e-9)
    assert r.spectrum.xf_error > 0.1 and r.profile.profile_error > 0


def test_sub_frame_es_timing(case):
    img, lab, _ = case
    for phase in (0.2, 0.3, 0.5):
        late, _, _ = beating_lv(ed_phase=phase)
        r = lv_curve_error(img, late, lab, SPACING, DT)
        # parabolic refinement: exact for a parabola, here limited by the rendering (~0.02)
        assert r.es_timing_difference_frames == pytest.approx(phase, abs=0.03)
        assert r.es_timing_error_ms == pytest.approx(phase * DT, abs=0.03 * DT)


def test_parabolic_minimum_wraps_around():
    y = np.array([(((f - 0.2 + 10) % 20) - 10) ** 2 for f in range(20)], float)
    k, t = parabolic_minimum(y)
    assert k == 0 and t == pytest.approx(0.2)
    k, t = parabolic_minimum(np.roll(y, -1))       # minimum now at −0.8 ≡ 19.2
    assert k == 19 and t == pytest.approx(19.2)


@pytest.mark.parametrize("gain", [0.5, 1.7])
def test_global_intensity_scale_creates_no_temporal_error(case, gain):
    img, lab, feat = case
    r = temporal_fidelity(img, gain * img, lab, SPACING, DT, feature=feat)
    assert r.profile.derivative_error == pytest.approx(0, abs=1e-12)
    assert r.profile.profile_error == pytest.approx(0, abs=1e-12)
    assert r.spectrum.high_frequency_retention == pytest.approx(1.0, abs=1e-12)
    assert r.spectrum.xf_error == pytest.approx(0, abs=1e-12)
    assert r.lv_curve.curve_error == pytest.approx(0, abs=1e-12)
    assert r.lv_curve.es_timing_error_frames == 0.0
    assert r.step.rise_width_frames == pytest.approx(0.8, abs=1e-9)
    assert r.spectrum.intensity_gain == pytest.approx(1 / gain)
    # and scaling a blurred prediction changes none of its temporal numbers
    b = circular_blur(img, BOX[3])
    one = temporal_fidelity(img, b, lab, SPACING, DT, feature=feat)
    two = temporal_fidelity(img, gain * b, lab, SPACING, DT, feature=feat)
    for a_res, b_res in zip(one.results().values(), two.results().values()):
        for name, v in a_res.scalars().items():
            if name != "intensity_gain":
                assert b_res.scalars()[name] == pytest.approx(v, rel=1e-9, abs=1e-12), name


def test_temporal_flicker_raises_retention_above_one(case):
    img, lab, _ = case
    rng = np.random.default_rng(7)
    noisy = img + 0.02 * rng.standard_normal(img.shape)
    r = temporal_frequency_retention(img, noisy, lab, SPACING, DT)
    assert r.high_frequency_retention > 1.0
    assert r.retention_error_db > 0


def test_blur_that_ssim_forgives_is_caught(case):
    img, lab, _ = case
    b = circular_blur(img, BOX[5])
    assert ssim_per_image(img, b, data_range=img.max()).min() > 0.95
    r = temporal_frequency_retention(img, b, lab, SPACING, DT)
    assert r.high_frequency_retention < 0.1


# ---------------------------------------------------------------------------------------------
# label-based curves


def test_prediction_labels_give_exact_label_curves(case):
    img, lab, _ = case
    same = lv_curve_error(img, img, lab, SPACING, DT, prediction_labels=lab)
    assert same.source == "labels" and same.curve_error == 0.0
    np.testing.assert_array_equal(same.reference_curve_mm2,
                                  (lab == 3).sum(axis=(0, 2, 3)) * 2.25)
    late = lv_curve_error(img, img, lab, SPACING, DT, prediction_labels=np.roll(lab, 1, axis=1))
    assert late.es_timing_difference_frames == pytest.approx(1.0)
    assert late.es_timing_error_ms == pytest.approx(DT)


# ---------------------------------------------------------------------------------------------
# results objects


def test_results_are_json_safe_and_declare_units_and_directions(blurred):
    r = blurred[2]
    d = json.loads(json.dumps(r.to_dict()))
    assert d["spectrum"]["directions"]["high_frequency_retention"] == "closer is better"
    assert d["spectrum"]["targets"]["high_frequency_retention"] == 1.0
    assert d["lv_curve"]["units"]["es_timing_error_ms"] == "ms"
    assert d["profile"]["directions"]["derivative_error"] == "lower is better"
    assert d["step"]["headline"] == "rise_width_ms"
    assert len(d["profile"]["per_frame_derivative_error"]) == NF
    assert d["headline"]["lv_curve"]["direction"] == "lower is better"
    for res in r.results().values():
        assert res.CONVENTION and res.unit in {"1", "ms"}
        assert res.direction in {"lower is better", "closer is better"}
    text, md = r.summary(), r.summary(format="markdown")
    assert "spectrum.high_frequency_retention" in text and "Notes:" in text
    assert md.startswith("**Temporal fidelity**") and "| quantity |" in md
    with pytest.raises(ValueError, match="format"):
        r.summary(format="latex")


def test_nan_becomes_null_and_missing_step_is_none(case):
    img, lab = flicker_case(2)
    d = temporal_frequency_retention(img, img, lab, SPACING, DT).to_dict()
    assert d["high_frequency_retention"] is None
    img, lab, _ = case
    r = temporal_fidelity(img, img, lab, SPACING, DT)
    assert r.step is None and r.to_dict()["step"] is None and "not measured" in r.summary()


def test_per_frame_arrays_recombine_to_the_scalars(blurred):
    r = blurred[3]
    p = r.profile
    assert math.sqrt(np.mean(p.per_frame_profile_error**2)) == pytest.approx(p.profile_error)
    assert math.sqrt(np.mean(p.per_frame_derivative_error**2)) == pytest.approx(
        p.derivative_error)
    s = r.spectrum
    assert math.sqrt(np.sum(s.per_frequency_xf_error**2)) == pytest.approx(s.xf_error)


def test_results_are_frozen_with_read_only_arrays(blurred):
    r = blurred[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.profile.profile_error = 0.0
    with pytest.raises(ValueError):
        r.lv_curve.reference_curve_mm2[0] = 0.0


@pytest.mark.parametrize("module", ["step", "lv_curve", "spectrum"])
def test_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module(f"suite.metrics.temporal.{module}")
    assert doctest.testmod(mod).failed == 0


def test_rise_width_on_hand_made_ramps():
    w, t50, ok = rise_width([0, 0, 0, 0.5, 1, 1, 1, 1], 3)   # ramp over 2 frames → 1.6
    assert (w, t50, ok) == (pytest.approx(1.6), pytest.approx(3.0), True)


# ---------------------------------------------------------------------------------------------
# input validation


@pytest.mark.parametrize("fn", ["profile", "spectrum", "curve", "step", "bundle"])
def test_shape_mismatch_names_the_prediction(case, fn):
    img, lab, feat = case
    bad = img[:, :, :, :-1]
    call = {
        "profile": lambda: xt_profile_error(img, bad, lab, SPACING),
        "spectrum": lambda: temporal_frequency_retention(img, bad, lab, SPACING, DT),
        "curve": lambda: lv_curve_error(img, bad, lab, SPACING, DT),
        "step": lambda: step_response_width(img, bad, feat, DT),
        "bundle": lambda: temporal_fidelity(img, bad, lab, SPACING, DT, feature=feat),
    }[fn]
    with pytest.raises(ValueError, match="`prediction` must match `reference` in shape"):
        call()


def test_labels_without_lv_are_rejected(case):
    img, lab, _ = case
    no_lv = np.where(lab == 3, 2, lab).astype(np.uint8)
    for call in (lambda: xt_profile_error(img, img, no_lv, SPACING),
                 lambda: temporal_frequency_retention(img, img, no_lv, SPACING, DT),
                 lambda: lv_curve_error(img, img, no_lv, SPACING, DT)):
        with pytest.raises(ValueError, match="`labels` holds no LV blood pool"):
            call()
    with pytest.raises(ValueError, match="`prediction_labels` holds no LV"):
        lv_curve_error(img, img, lab, SPACING, DT, prediction_labels=no_lv)


def test_label_shape_and_dtype_are_checked(case):
    img, lab, _ = case
    with pytest.raises(ValueError, match="`labels` must match `reference` in shape"):
        xt_profile_error(img, img, lab[:, :5], SPACING)
    with pytest.raises(ValueError, match="`labels` must be integer"):
        xt_profile_error(img, img, lab.astype(float), SPACING)


def test_empty_feature_mask_is_rejected(case):
    img, _, feat = case
    empty = StepFeature(np.zeros((NY, NX), bool), 0, 5)
    with pytest.raises(ValueError, match="`feature.mask` is empty"):
        step_response_width(img, img, empty, DT)
    with pytest.raises(ValueError, match="`feature.mask` must be a bool array"):
        step_response_width(img, img, StepFeature(np.ones((3, 3), bool), 0, 5), DT)
    with pytest.raises(ValueError, match="`feature` must be a StepFeature"):
        step_response_width(img, img, {"mask": feat.mask}, DT)
    with pytest.raises(ValueError, match="`feature.step_frame` must mark a step"):
        step_response_width(img, img, StepFeature(feat.mask, 0, 7), DT)
    with pytest.raises(ValueError, match="`feature.slice_index`"):
        step_response_width(img, img, StepFeature(feat.mask, 2, 5), DT)
    with pytest.raises(ValueError, match="`feature.step_frame` must be an int"):
        step_response_width(img, img, StepFeature(feat.mask, 0, NF), DT)


@pytest.mark.parametrize("bad, match", [
    (lambda x: x.astype(np.complex64), "`reference` must be real"),
    (lambda x: x[0], "`reference` must have 4 dimensions"),
    (lambda x: x[:, :3], "at least 4 frames"),
])
def test_reference_layout_is_checked(case, bad, match):
    img, lab, _ = case
    ref = bad(img)
    pred = ref.copy()
    labs = lab[:, :3] if ref.ndim == 4 and ref.shape[1] == 3 else lab
    with pytest.raises(ValueError, match=match):
        temporal_frequency_retention(ref, pred, labs, SPACING, DT)


def test_non_finite_and_bad_scalars_are_rejected(case):
    img, lab, _ = case
    nan = img.copy()
    nan[1, 3, 4, 5] = np.nan
    with pytest.raises(ValueError, match="`prediction` holds 1 non-finite"):
        lv_curve_error(img, nan, lab, SPACING, DT)
    for dt in (0.0, -40.0, float("nan"), "fast"):
        with pytest.raises(ValueError, match="`temporal_resolution_ms`"):
            lv_curve_error(img, img, lab, SPACING, dt)
    with pytest.raises(ValueError, match="`spacing_mm`"):
        xt_profile_error(img, img, lab, (1.5,))
    with pytest.raises(ValueError, match="`cutoff_fraction`"):
        temporal_frequency_retention(img, img, lab, SPACING, DT, cutoff_fraction=1.0)
    with pytest.raises(ValueError, match="`n_bands`"):
        temporal_frequency_retention(img, img, lab, SPACING, DT, n_bands=0)
    with pytest.raises(ValueError, match="`slice_index`"):
        xt_profile_error(img, img, lab, SPACING, slice_index=5)
    with pytest.raises(ValueError, match="`angles_deg`"):
        xt_profile_error(img, img, lab, SPACING, angles_deg=())


def test_proxy_needs_myocardium_and_bright_blood(case):
    img, lab, _ = case
    no_myo = np.where(lab == 2, 0, lab).astype(np.uint8)
    with pytest.raises(ValueError, match="no myocardium"):
        lv_curve_error(img, img, no_myo, SPACING, DT)
    with pytest.raises(ValueError, match="not brighter"):
        lv_curve_error(2.0 - img, 2.0 - img, lab, SPACING, DT)


def test_zero_prediction_and_static_reference_are_rejected(case):
    img, lab, _ = case
    with pytest.raises(ValueError, match="`prediction` is zero"):
        temporal_frequency_retention(img, np.zeros_like(img), lab, SPACING, DT)
    static = np.repeat(img[:, :1], NF, axis=1)
    with pytest.raises(ValueError, match="does not change over frames"):
        temporal_frequency_retention(static, static, lab, SPACING, DT)
