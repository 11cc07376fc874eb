"""The phantom's temporal step feature (suite.phantom.feature) and the step metric on it."""

import numpy as np
import pytest

from suite.metrics.temporal import StepFeature, step_response_width
from suite.mr.fft import ifft2c
from suite.phantom import simulate
from suite.phantom.feature import step_feature_of
from suite.phantom.kspace import fine_to_kspace
from suite.phantom.simulate import OVERRIDES

TINY = dict(preset="tiny", n_frames=12, n_slices=3)


@pytest.fixture(scope="module")
def pair():
    """The same tiny subject without and with the default feature (noisy)."""
    return simulate(seed=2, **TINY), simulate(seed=2, step_feature=True, **TINY)


def _curve(case):
    t = case.truth["step_feature"]
    return np.abs(case.reference[t["slice_index"]])[:, t["mask"]].mean(axis=1)


def test_override_is_declared_and_truth_is_complete(pair):
    assert "step_feature" in OVERRIDES
    _, case = pair
    t = case.truth["step_feature"]
    ns, nf, ny, nx = case.labels.shape
    assert t["mask"].dtype == bool and t["mask"].shape == (ny, nx) and t["mask"].any()
    assert t["slice_index"] == ns // 2 and t["step_frame"] == nf // 2
    assert t["radius_mm"] == 3.5 and t["contrast"] == 1.0 and t["amplitude"] > 0
    feat = step_feature_of(case)
    assert isinstance(feat, StepFeature) and feat.step_frame == t["step_frame"]
    assert case.meta.extra["step_feature"]["step_frame"] == t["step_frame"]
    with pytest.raises(ValueError, match="step_feature=True"):
        step_feature_of(pair[0])


def test_feature_changes_nothing_but_its_slice_from_the_step_on(pair):
    plain, case = pair
    t = case.truth["step_feature"]
    s, k = t["slice_index"], t["step_frame"]
    assert np.array_equal(plain.labels, case.labels)          # labels untouched
    assert plain.truth["noise_sigma"] == case.truth["noise_sigma"]
    other = [i for i in range(case.kspace.shape[0]) if i != s]
    assert np.array_equal(plain.kspace[other], case.kspace[other])
    assert np.array_equal(plain.kspace[s, :k], case.kspace[s, :k])   # off before the step
    assert not np.array_equal(plain.kspace[s, k:], case.kspace[s, k:])
    # the disc is background (label 0) in every frame, clear of the heart
    assert not case.labels[s][:, t["mask"]].any()


def test_deterministic(pair):
    again = simulate(seed=2, step_feature=True, **TINY)
    assert np.array_equal(pair[1].kspace, again.kspace)
    assert np.array_equal(pair[1].truth["step_feature"]["mask"],
                          again.truth["step_feature"]["mask"])


def test_step_height_matches_band_limited_disc_without_noise():
    """Noise-free: the jump of the feature mean equals amplitude × the mean over the mask of the
    disc indicator band-limited to the acquired k-space (computed here by plain FFT cropping,
    independently of the coil path)."""
    case = simulate(seed=2, snr=None, step_feature=True, **TINY)
    t = case.truth["step_feature"]
    c = _curve(case)
    k = t["step_frame"]
    from suite.phantom.feature import disc_patch
    from suite.phantom.grid import SimGrid

    ny, nx = case.labels.shape[-2:]
    grid = SimGrid.make((ny, nx), case.meta.pixel_spacing_mm[0], case.truth["fov_centre_mm"], 3)
    sy, sx, patch = disc_patch(grid, t["centre_mm"], t["radius_mm"])
    fine = np.zeros((3 * ny, 3 * nx), np.complex64)
    fine[sy, sx] = patch
    disc = ifft2c(fine_to_kspace(fine, (ny, nx), 3)).real
    expected = t["amplitude"] * disc[t["mask"]].mean()
    jump = c[k] - c[k - 1]
    # plateaus flat up to the Gibbs ringing of the beating heart (no noise here; at the tiny
    # preset's 5 mm pixels the moving epicardial fat rings up to a few % of the jump)
    assert np.ptp(c[:k]) < 0.04 * jump and np.ptp(c[k:]) < 0.04 * jump
    assert jump == pytest.approx(expected, rel=0.02)


def test_reference_step_is_ideal_and_jumps_at_step_frame(pair):
    _, case = pair
    t = case.truth["step_feature"]
    c = _curve(case)
    k = t["step_frame"]
    jump = c[k] - c[k - 1]
    assert jump > 0.5 * t["amplitude"]
    # plateaus: off and on levels flat to a few % of the jump (noise and the ringing of the
    # moving epicardial fat at 5 mm pixels)
    assert np.ptp(c[:k]) < 0.08 * jump and np.ptp(c[k:]) < 0.08 * jump
    ref = np.abs(case.reference)
    r = step_response_width(ref, ref, step_feature_of(case), case.meta.temporal_resolution_ms)
    assert r.reached and r.reference_rise_width_frames == pytest.approx(0.8, abs=0.02)
    assert r.rise_width_frames == pytest.approx(0.8, abs=0.02)
    assert r.step_delay_frames == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("w", [3, 5])
def test_box_blur_width_is_0p8_w(pair, w):
    _, case = pair
    ref = np.abs(case.reference)
    blurred = sum(np.roll(ref, j, axis=1) for j in range(-(w // 2), w // 2 + 1)) / w
    r = step_response_width(ref, blurred, step_feature_of(case),
                            case.meta.temporal_resolution_ms)
    assert r.reached and r.rise_width_frames == pytest.approx(0.8 * w, abs=0.1)


def test_parameters_and_errors(pair):
    case = simulate(seed=2, step_feature={"step_frame": 2, "slice_index": 0, "contrast": -0.5,
                                          "radius_mm": 6.0}, **TINY)
    t = case.truth["step_feature"]
    assert (t["step_frame"], t["slice_index"], t["contrast"]) == (2, 0, -0.5)
    c = _curve(case)
    assert c[2] < c[1]                                         # a dark step
    with pytest.raises(ValueError, match="did you mean 'step_frame'"):
        simulate(seed=2, step_feature={"step_fram": 2}, **TINY)
    with pytest.raises(ValueError, match="step_frame must be an int in 1..11"):
        simulate(seed=2, step_feature={"step_frame": 0}, **TINY)
    with pytest.raises(ValueError, match="contrast"):
        simulate(seed=2, step_feature={"contrast": 0}, **TINY)
    hx, hy = pair[0].truth["heart_centre_mm"]
    with pytest.raises(ValueError, match="overlaps the region the heart can reach"):
        simulate(seed=2, step_feature={"centre_mm": (hx + 20.0, hy)}, **TINY)
    with pytest.raises(ValueError, match="leaves the FOV"):
        simulate(seed=2, step_feature={"centre_mm": (500.0, 0.0)}, **TINY)
