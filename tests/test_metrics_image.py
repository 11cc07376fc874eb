"""Image metrics against scikit-image and closed forms (fastmri profile)."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from suite.metrics.image import nmse, psnr, score, ssim_per_image


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    ref = rng.random((2, 3, 40, 36)) * 5.0
    pred = ref + 0.3 * rng.standard_normal(ref.shape)
    return ref, pred


def test_ssim_equals_skimage_per_image(pair):
    ref, pred = pair
    dr = ref.max()
    mine = ssim_per_image(ref, pred, data_range=dr)
    expected = np.array([
        [structural_similarity(ref[s, f], pred[s, f], win_size=7, data_range=dr, K1=0.01,
                               K2=0.03, use_sample_covariance=True, gaussian_weights=False)
         for f in range(3)] for s in range(2)])
    np.testing.assert_allclose(mine, expected, atol=1e-9)


def test_psnr_nmse_closed_forms(pair):
    ref, pred = pair
    assert psnr(ref, pred) == pytest.approx(peak_signal_noise_ratio(ref, pred, data_range=ref.max()))
    assert nmse(ref, pred) == pytest.approx(((ref - pred) ** 2).sum() / (ref**2).sum())
    assert nmse(np.ones(4), np.full(4, 1.5)) == pytest.approx(0.25)
    assert psnr(np.full(4, 2.0), np.full(4, 2.0)) == float("inf")


def test_score_fastmri_profile_uses_volume_max(pair):
    ref, pred = pair
    s = score(ref, pred, profile="fastmri")
    vol_ref, vol_pred = ref.reshape(-1, 40, 36), pred.reshape(-1, 40, 36)
    dr = vol_ref.max()
    expected_ssim = np.mean([structural_similarity(a, b, win_size=7, data_range=dr)
                             for a, b in zip(vol_ref, vol_pred)])
    assert s.ssim == pytest.approx(expected_ssim, abs=1e-9)
    assert s.psnr == pytest.approx(peak_signal_noise_ratio(vol_ref, vol_pred, data_range=dr))
    assert s.n_images == 6
    perfect = score(ref, ref)
    assert perfect.ssim == pytest.approx(1.0) and perfect.nmse == 0.0


def test_errors(pair):
    ref, pred = pair
    with pytest.raises(ValueError, match="did you mean 'fastmri'"):
        score(ref, pred, profile="fastmr")
    with pytest.raises(ValueError, match="shape"):
        score(ref, pred[..., :-1])
    with pytest.raises(ValueError, match="real magnitude"):
        score(ref + 0j, pred)
