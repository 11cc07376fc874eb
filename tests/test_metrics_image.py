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


@pytest.mark.parametrize("win_size", [3, 7, 11])
@pytest.mark.parametrize("shape", [(2, 16, 15), (1, 11, 64), (3, 33, 20)])
def test_ssim_equals_skimage_for_window_sizes_and_odd_shapes(win_size, shape):
    """The window sums by doubling over flat rows equal scikit-image's uniform filter."""
    rng = np.random.default_rng(win_size)
    ref = rng.random(shape) * 3.0
    pred = np.abs(ref + 0.2 * rng.standard_normal(shape))
    dr = ref.max()
    mine = ssim_per_image(ref, pred, data_range=dr, win_size=win_size)
    expected = [structural_similarity(a, b, win_size=win_size, data_range=dr)
                for a, b in zip(ref, pred)]
    np.testing.assert_allclose(mine, expected, atol=1e-12)


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


def _official_2023(gt4, pred4):
    """Independent re-statement of the CMRxRecon 2023 pipeline with skimage, written from the
    challenge's MATLAB/Python text: MATLAB 1-based index arithmetic done explicitly."""
    import math

    ns, nf, ny, nx = gt4.shape
    mround = lambda v: int(math.floor(v + 0.5))  # noqa: E731  (positive values only here)
    sl = [mround(ns / 2) - 1, mround(ns / 2)] if ns >= 3 else list(range(1, ns + 1))  # 1-based
    cy, cx = mround(ny / 2), mround(nx / 3)
    ys = list(range(ny // 2 + 1 + math.ceil(-cy / 2), ny // 2 + math.ceil(cy / 2) + 1))  # 1-based
    xs = list(range(nx // 2 + 1 + math.ceil(-cx / 2), nx // 2 + math.ceil(cx / 2) + 1))
    out = []
    for s in sl:
        for f in range(min(nf, 3)):
            g = gt4[s - 1, f][np.ix_([y - 1 for y in ys], [x - 1 for x in xs])]
            p = pred4[s - 1, f][np.ix_([y - 1 for y in ys], [x - 1 for x in xs])]
            g, p = g / g.max(), p / p.max()
            out.append((
                np.linalg.norm(g - p) ** 2 / np.linalg.norm(g) ** 2,
                peak_signal_noise_ratio(g, p, data_range=g.max()),
                structural_similarity(g, p, data_range=g.max()),
            ))
    return np.mean(out, axis=0)


@pytest.mark.parametrize("shape", [(10, 12, 64, 75), (9, 2, 61, 80), (2, 5, 40, 42)])
def test_cmrxrecon2023_profile_matches_restated_pipeline(shape):
    rng = np.random.default_rng(sum(shape))
    gt = rng.random(shape) + 0.5
    pred = gt + 0.2 * rng.standard_normal(shape)
    pred = np.abs(pred)
    s = score(gt, pred, profile="cmrxrecon2023")
    ref = _official_2023(gt, pred)
    assert s.nmse == pytest.approx(ref[0], rel=1e-9)
    assert s.psnr == pytest.approx(ref[1], rel=1e-9)
    assert s.ssim == pytest.approx(ref[2], abs=1e-9)
    assert s.n_images == (2 if shape[0] >= 3 else shape[0]) * min(shape[1], 3)


def test_cmrxrecon2024_and_2025_normalisations():
    rng = np.random.default_rng(3)
    gt = rng.random((4, 3, 48, 48)) + 0.1
    pred = np.abs(gt + 0.1 * rng.standard_normal(gt.shape))
    # 2024: z-score per image, data range = max of normalised reference
    s = score(gt, pred, profile="cmrxrecon2024")
    g = gt[0:2, :3, 12:36, 16:32]  # ns=4 -> slices 1,2 (1-based); crop 24 x 16 centred
    p = pred[0:2, :3, 12:36, 16:32]
    zs = lambda a: (a - a.mean()) / (a.std() + 1e-8)  # noqa: E731
    vals = [structural_similarity(zs(a), zs(b), data_range=zs(a).max())
            for a, b in zip(g.reshape(-1, 24, 16), p.reshape(-1, 24, 16))]
    assert s.ssim == pytest.approx(np.mean(vals), abs=1e-9)
    # 2025: divide by 99.5th percentile
    s = score(gt, pred, profile="cmrxrecon2025")
    pc = lambda a: a / np.percentile(a, 99.5)  # noqa: E731
    vals = [peak_signal_noise_ratio(pc(a), pc(b), data_range=pc(a).max())
            for a, b in zip(g.reshape(-1, 24, 16), p.reshape(-1, 24, 16))]
    assert s.psnr == pytest.approx(np.mean(vals), rel=1e-9)


def test_per_image_max_normalisation_hides_a_global_scale_error():
    """A known pitfall (CMRxRecon#11): a prediction off by a global scale scores perfectly under
    cmrxrecon2023 but not under fastmri."""
    rng = np.random.default_rng(0)
    gt = rng.random((4, 3, 32, 33)) + 0.1
    assert score(gt, 0.5 * gt, profile="cmrxrecon2023").ssim == pytest.approx(1.0)
    assert score(gt, 0.5 * gt, profile="fastmri").ssim < 0.99


@pytest.mark.parametrize("case, atol", [
    ("offset", 1e-9), ("tiny range", 1e-12), ("zeros", 1e-12), ("prediction zero", 1e-12),
    ("constant", 1e-12), ("prediction offset", 1e-8)])
def test_ssim_equals_skimage_on_adversarial_inputs(case, atol):
    """Large constant offsets (the local variances cancel against the squared means), a tiny
    data range, zero regions and constant images: the same values as scikit-image. With the
    prediction 10⁶ data ranges away, scikit-image's own running sums differ in the 9th digit."""
    rng = np.random.default_rng(5)
    base = rng.random((2, 24, 20))
    noise = rng.standard_normal(base.shape)
    ref, pred = {
        "offset": (1e6 + 1e-3 * base, 1e6 + 1e-3 * base + 1e-4 * noise),
        "tiny range": (1e-12 * base, 1e-12 * (base + 0.1 * noise)),
        "zeros": (np.where(base > 0.5, base, 0.0), np.where(base > 0.4, base, 0.0)),
        "prediction zero": (base, np.zeros_like(base)),
        "constant": (np.full(base.shape, 3.0), np.full(base.shape, 3.0)),
        "prediction offset": (base, base + 1e6),
    }[case]
    dr = ref.max()
    expected = [structural_similarity(a, b, data_range=dr) for a, b in zip(ref, pred)]
    np.testing.assert_allclose(ssim_per_image(ref, pred, data_range=dr), expected, rtol=0,
                               atol=atol)
    s = score(ref, pred)
    assert s.ssim == pytest.approx(np.mean(expected), rel=0, abs=atol)
    assert s.nmse == pytest.approx(((ref - pred) ** 2).sum() / (ref ** 2).sum(), rel=1e-12)


@pytest.mark.parametrize("which", ["reference", "prediction"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_refused(which, bad):
    from suite.metrics.image import image_rows

    rng = np.random.default_rng(0)
    ref = rng.random((2, 1, 12, 12))
    pred = ref.copy()
    (ref if which == "reference" else pred)[1, 0, 5, 7] = bad
    for profile in ("fastmri", "cmrxrecon2023"):
        with pytest.raises(ValueError, match=f"`{which}` holds 1 non-finite"):
            score(ref, pred, profile=profile)
        rows = image_rows(ref, pred, profile=profile)
        assert [r.value for r in rows] == [None] * 3
        assert {r.status for r in rows} == {"undefined"}
