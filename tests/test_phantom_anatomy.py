"""Phantom v2 anatomy: analytic volumes against labels counted at high resolution, label
conventions, papillary muscles and trabeculae.

The independent reference is brute-force counting of the classified geometry on a 0.5 mm
lattice in heart coordinates (no quadrature, no image grid): the analytic volumes
(quadrature of closed-form radii, suite.phantom.volumes) must match within 2 %.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from suite.phantom import CONVENTIONS, EXTENDED_LABELS, convert_labels, simulate
from suite.phantom.model import build_model
from suite.phantom.subject import draw_subject
from suite.phantom.tissue import ACDC_LABEL, CLASS, EXTENDED_LABEL, N_CLASSES
from suite.phantom.volumes import chamber_volumes_ml, detail_volumes_ml

H = 0.5  # lattice spacing, mm


def _count(model, frame: int) -> np.ndarray:
    """Volume (mL) of every rendering class, counted on a 0.5 mm lattice at ``frame``."""
    geo = model.heart.geo
    reach = model.heart.reach_mm
    xs = np.arange(-reach, reach, H) + H / 2
    xx, yy = np.meshgrid(xs, xs)
    inside = np.hypot(xx, yy) < reach
    px, py = xx[inside], yy[inside]
    top = geo.spatial_w(-geo.z_base, frame)
    counts = np.zeros(N_CLASSES)
    for w in np.arange(top - 2.0, geo.M + 2.0, H) + H / 2:
        codes = model.heart.classify(px, py, np.full(px.shape, w), frame)
        counts += np.bincount(codes, minlength=N_CLASSES)
    return counts * H**3 / 1000.0


@pytest.fixture(scope="module", params=[("infarcted", 11), ("normal", 3)])
def counted(request):
    """The subject's model and a function giving its class volumes counted at ED and ES (the
    count, ~15 CPU-s, made on the first call only: the CI-only test below needs it)."""
    pathology, seed = request.param
    model = build_model(draw_subject(seed, pathology), 8)
    frames = (0, int(model.motion.es_frame))
    return model, functools.cache(lambda: {f: _count(model, f) for f in frames})


@pytest.mark.ci  # the 0.5 mm lattice count; make test checks the analytic volumes against the
# voxel labels of the default preset (test_phantom.py)
def test_analytic_volumes_match_high_resolution_labels(counted):
    """Acceptance (issue 15): analytic volumes match labels within 2 % at high resolution."""
    model, count = counted
    counts = count()
    geo = model.heart.geo
    for f, vol in counts.items():
        lv, myo, rv = chamber_volumes_ml(geo, f)
        det = detail_volumes_ml(model.heart, [f])
        pm = float(det["lv_papillary_ml"][0])
        c = {name: vol[CLASS[name]] for name in ("lv_blood", "lv_papillary", "lv_trabeculae",
                                                 "lv_myo", "scar", "mvo", "rv_blood",
                                                 "rv_trabeculae")}
        assert c["lv_blood"] + c["lv_papillary"] + c["lv_trabeculae"] == pytest.approx(lv, rel=0.02)
        assert c["lv_blood"] == pytest.approx(lv - pm - det["lv_trabeculae_ml"], rel=0.02)
        assert c["lv_papillary"] == pytest.approx(pm, rel=0.02)
        assert c["lv_myo"] + c["scar"] + c["mvo"] == pytest.approx(myo, rel=0.02)
        assert c["rv_blood"] + c["rv_trabeculae"] == pytest.approx(rv, rel=0.02)
        assert c["rv_trabeculae"] == pytest.approx(det["rv_trabeculae_ml"], rel=0.05)
        assert c["lv_trabeculae"] == pytest.approx(det["lv_trabeculae_ml"], rel=0.05)
        if model.heart.scar is not None:
            assert c["scar"] + c["mvo"] == pytest.approx(det["scar_ml"], rel=0.02)
            assert c["mvo"] == pytest.approx(det["mvo_ml"], rel=0.05)


def test_incompressible_structures_keep_their_volume(counted):
    model, _ = counted
    geo = model.heart.geo
    frames = list(range(model.n_frames))
    myo = [chamber_volumes_ml(geo, f)[1] for f in frames]
    assert np.ptp(myo) < 1e-9 * np.mean(myo)
    pm = detail_volumes_ml(model.heart, frames)["lv_papillary_ml"]
    exact = sum(m.volume_ml() for m in model.heart.papillary)
    if model.heart.scar is None:        # discs inside the cavity: closed form at every frame
        np.testing.assert_allclose(pm, exact, rtol=1e-6)


def test_label_conventions():
    ext = np.arange(len(EXTENDED_LABELS), dtype=np.uint8)
    assert convert_labels(ext, "acdc").tolist() == [0, 1, 2, 3, 3, 3, 1, 0, 0, 0, 0]
    assert convert_labels(ext, "mnms").tolist() == [0, 3, 2, 1, 1, 1, 3, 0, 0, 0, 0]
    assert convert_labels(ext, "papillary-myocardium").tolist() == [0, 1, 2, 3, 2, 2, 0, 0, 0, 0, 0]
    # the rendering tables agree: ACDC label of a class = ACDC conversion of its extended label
    np.testing.assert_array_equal(CONVENTIONS["acdc"][EXTENDED_LABEL], ACDC_LABEL)
    with pytest.raises(ValueError, match="did you mean"):
        convert_labels(ext, "acdcc")


def test_case_labels_are_acdc_and_extended_labels_separate_papillary_muscles():
    case = simulate(seed=3, preset="tiny", n_frames=4, snr=None, respiration="none")
    ext = case.truth["labels_extended"]
    assert ext.shape == case.labels.shape and ext.dtype == np.uint8
    assert case.truth["label_convention"] == "acdc" == case.meta.extra["label_convention"]
    assert set(np.unique(case.labels)) <= {0, 1, 2, 3}
    assert 4 in np.unique(ext)                                  # papillary muscles present
    agree = (convert_labels(ext, "acdc") == case.labels).mean()
    assert agree > 0.995                                        # differ only where votes tie
    assert (case.labels[ext == 4] == 3).mean() > 0.9            # ACDC: papillary in the cavity
