"""Phantom v2 motion truth: base descent in the published range, dense displacement fields
that warp one frame onto another, landmarks per frame."""

from __future__ import annotations

import numpy as np
import pytest

from suite.phantom import displacement_field, simulate
from suite.phantom.model import build_model
from suite.phantom.motion_truth import pixel_points
from suite.phantom.subject import draw_subject
from suite.phantom.tissue import CLASS

#: Atrioventricular plane displacement by cine MR (Carlsson et al., Am J Physiol Heart Circ
#: Physiol 2007;292:H1452): healthy 16 ± 0 mm, dilated cardiomyopathy 7 ± 1 mm (mean ± SE,
#: n = 12 each, so SD ≈ SE·√12). The phantom must lie within mean ± 2 SD.
CARLSSON = {"normal": (16.0, 0.5 * np.sqrt(12)), "dilated": (7.0, 1.0 * np.sqrt(12))}


def _base_height(model, frame: int) -> float:
    """Spatial height of the LV base measured by classification: the most basal height at
    which the LV myocardium appears on the half-plane through the axis towards the lateral
    wall (0.1 mm steps along the axis, 0.2 mm across)."""
    geo = model.heart.geo
    th = geo.rv_angle + np.pi                     # lateral wall, away from the RV
    r = np.arange(0.0, model.heart.reach_mm, 0.2)
    w = np.arange(-geo.z_base - 30.0, -geo.z_base + 30.0, 0.1)
    rr, ww = np.meshgrid(r, w)
    codes = model.heart.classify(rr * np.cos(th), rr * np.sin(th), ww, frame)
    myo = np.isin(codes, (CLASS["lv_myo"], CLASS["scar"], CLASS["mvo"])).any(axis=1)
    return float(w[np.flatnonzero(myo)[0]])


@pytest.mark.parametrize("pathology", ["normal", "dilated"])
def test_base_descent_in_published_range(pathology):
    """Acceptance (issue 15): through-plane motion of the base in the published range."""
    mean, sd = CARLSSON[pathology]
    for seed in range(6):
        model = build_model(draw_subject(seed, pathology), 20)
        es = int(model.motion.es_frame)
        measured = _base_height(model, es) - _base_height(model, 0)
        assert measured == pytest.approx(model.heart.geo.base_descent_mm(es), abs=0.15)
        assert mean - 2 * sd <= measured <= mean + 2 * sd
        # the mitral valve landmark moves with the base, along the long axis
        mv = model.landmarks(es)["mitral_valve"] - model.landmarks(0)["mitral_valve"]
        assert np.linalg.norm(mv) == pytest.approx(measured, abs=0.2)
        assert mv @ model.frame.ez == pytest.approx(np.linalg.norm(mv), rel=1e-6)


@pytest.fixture(scope="module")
def moving_case():
    return simulate(seed=4, preset="tiny", pathology="infarcted", n_frames=6, snr=None,
                    n_slices=5, slice_spacing_mm=20.0, respiration="free-breathing")


@pytest.mark.parametrize("frames", [(0, 2), (2, 0), (1, 4)])
def test_displacement_field_warps_frame_a_onto_frame_b(moving_case, frames):
    """Acceptance (issue 15): warping frame A with the field gives frame B. Tissue classes
    looked up at x + u(x) in frame A equal those at x in frame B wherever the field is valid
    (3-D, respiration included)."""
    a, b = frames
    case, t = moving_case, moving_case.truth
    model, shifts = t["model"], t["respiratory_shift_mm"]
    field = displacement_field(case, moving_frame=a, fixed_frame=b)
    assert field.valid.any() and field.plane_mm.shape == (5, 3, 60, 72)
    n_tissue = 0
    for s in range(case.n_slices):
        x = pixel_points(case, s)
        ok = field.valid[s]
        xb = model.frame.to_heart(x[ok]) - np.array([*shifts[s, b], 0.0])
        xa = model.frame.to_heart(x[ok] + field.scanner_mm[s][ok]) - np.array([*shifts[s, a], 0.0])
        cb = model.heart.classify(xb[:, 0], xb[:, 1], xb[:, 2], b)
        ca = model.heart.classify(xa[:, 0], xa[:, 1], xa[:, 2], a)
        tissue = np.isin(cb, [CLASS[k] for k in ("lv_myo", "scar", "mvo", "lv_papillary",
                                                  "rv_wall", "lv_trabeculae")])
        n_tissue += int(tissue.sum())
        if tissue.any():
            assert (ca[tissue] == cb[tissue]).mean() > 0.999
        # the static body does not move
        assert np.all(field.scanner_mm[s][~ok] == 0)
    assert n_tissue > 100
    # the field moves tissue by millimetres, through-plane included (base descent)
    assert np.abs(field.plane_mm[:, 2][field.valid]).max() > 1.0


def test_identity_and_inverse(moving_case):
    f00 = displacement_field(moving_case, 1, 1)
    assert np.abs(f00.scanner_mm).max() < 1e-6
    ab = displacement_field(moving_case, 0, 3)
    assert "pull-back" in ab.summary() and ab.to_dict()["moving_frame"] == 0
    with pytest.raises(ValueError, match="moving_frame must be in 0..5"):
        displacement_field(moving_case, 6, 0)


def test_landmarks_per_frame(moving_case):
    marks = moving_case.truth["landmarks_mm"]
    nf = moving_case.n_frames
    for name in ("lv_apex", "mitral_valve", "aortic_valve", "tricuspid_valve",
                 "pulmonary_valve", "rv_insertion_anterior", "rv_insertion_inferior",
                 "rv_acute_margin", "lv_base_centre"):
        assert marks[name].shape == (nf, 3)
    np.testing.assert_allclose(marks["lv_apex"], marks["lv_apex"][:1].repeat(nf, 0))  # fixed
    base = moving_case.truth["base_descent_mm"]
    np.testing.assert_allclose(np.linalg.norm(marks["mitral_valve"] - marks["mitral_valve"][0],
                                              axis=1), base, atol=1e-9)
