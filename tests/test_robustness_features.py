"""Small-feature insertion and recovery (suite.robustness.features).

Independent references: the inserted k-space recomputed with numpy's FFT from the feature
description (template × amplitude × phase of the clean image) and the phantom's true coil
maps; an exact reconstruction (fully sampled, Roemer combination with the true maps) must
give contrast recovery 1 and zero window error; for the noise-free RSS image, which equals
``sqrt(Σ_c |S_c|²) · |x|`` exactly (closed form), the relative contrast is recomputed with a
numpy least-squares fit; zero-filled reconstruction at R = 8 loses the features.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import reference_impls
from suite.mr import make_mask
from suite.phantom import simulate
from suite.robustness import feature_recovery, insert_features


@pytest.fixture(scope="module")
def case():
    return simulate(seed=3, preset="tiny", n_slices=2)


@pytest.fixture(scope="module")
def featured(case):
    return insert_features(case, n_features=3, radius_px=1.5, contrast=0.3, seed=0)


def np_fft2c(x):
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=ax), axes=ax, norm="ortho"),
                           axes=ax)


def feature_image(case, fset):
    """d = A · coverage · exp(i phase(reference)), rebuilt from the FeatureSet description."""
    d = np.zeros(case.reference.shape, complex)
    for f in fset.features:
        y0, y1, x0, x1 = f.window
        phase = np.exp(1j * np.angle(case.reference[f.slice, :, y0:y1, x0:x1]))
        d[f.slice, :, y0:y1, x0:x1] += f.amplitude * fset.template * phase
    return d


def test_insertion_resynthesises_kspace_consistently(case, featured):
    fc, fset = featured
    d = feature_image(case, fset)
    maps = case.truth["coil_maps"].astype(np.complex128)
    expected = np_fft2c(maps[:, None] * d[:, :, None])                 # F S d, all frames
    np.testing.assert_allclose(fc.kspace - case.kspace, expected, atol=1e-5 * np.abs(expected).max())
    # the magnitude grows by exactly A·coverage inside the windows, nothing else changes
    dmag = np.abs(fc.reference).astype(np.float64) - np.abs(case.reference)
    np.testing.assert_allclose(dmag, np.abs(d), atol=1e-5)
    np.testing.assert_array_equal(fc.labels, case.labels)
    assert len(fc.truth["inserted_features"]) == 3
    # the disc template: coverage of a radius-1.5 disc, area ≈ π r²
    assert fset.template.sum() == pytest.approx(np.pi * 1.5**2, rel=0.02)
    for f in fset.features:  # relative to the slice maximum
        assert f.amplitude == pytest.approx(0.3 * np.abs(case.reference[f.slice]).max(), rel=1e-6)
        assert f.tissue in ("rv", "myo", "lv")


def test_insertion_respects_the_case_mask(case):
    s = make_mask("equispaced", case.kspace.shape, 4, 8, np.random.default_rng(0))
    under = case.replace(kspace=(case.kspace * s.mask).astype(np.complex64), mask=s.mask)
    fc, _ = insert_features(under, seed=1)
    assert not np.any(fc.kspace[~np.broadcast_to(s.mask, fc.kspace.shape)])


def test_local_contrast_and_dark_features(case):
    fc, fset = insert_features(case, n_features=2, contrast=-0.4, relative_to="local", seed=2)
    for f in fset.features:
        y0, y1, x0, x1 = f.window
        core = fset.template >= 0.5
        level = np.abs(case.reference[f.slice, :, y0:y1, x0:x1])[:, core].mean()
        assert f.amplitude == pytest.approx(-0.4 * level, rel=1e-6)
    zf = reference_impls.get("recon", "zero-filled")
    rec = feature_recovery(zf(fc.replace(coil_maps=case.truth["coil_maps"])), fset)
    assert rec.mean["contrast_recovery"] == pytest.approx(1.0, abs=1e-4)
    assert rec.mean["detected_fraction"] == 1.0  # the sign makes dark features positive


def test_exact_reconstruction_recovers_every_feature(case, featured):
    """Fully sampled data, Roemer combination with the true maps = the featured reference."""
    fc, fset = featured
    zf = reference_impls.get("recon", "zero-filled")
    rec = feature_recovery(zf(fc.replace(coil_maps=case.truth["coil_maps"])), fset)
    for row in rec.rows:
        assert row["contrast_recovery"] == pytest.approx(1.0, abs=1e-4)
        assert row["nrmse_window"] < 1e-3
        assert row["detected"]
    json.dumps(rec.to_dict())
    assert "detected" in rec.summary()


def _kappa(window, template):
    """Relative contrast a / b of window ≈ a·template + b (numpy least squares)."""
    design = np.stack([template.ravel(), np.ones(template.size)], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, window.ravel(), rcond=None)
    return a / b


def test_rss_closed_form():
    """Noise-free data: RSS of the coil images is w·|x| with w = sqrt(Σ_c |S_c|²) (true maps),
    so the expected recovery follows from the analytic images; it is ≈ 1 because w varies
    slowly (the relative contrast cancels the RSS intensity scale)."""
    clean = simulate(seed=3, preset="tiny", n_slices=2, snr=None)
    fc, fset = insert_features(clean, n_features=3, seed=0)
    zf = reference_impls.get("recon", "zero-filled")  # no maps: RSS
    rec = feature_recovery(zf(fc), fset, reference_without=zf(clean))
    maps = clean.truth["coil_maps"].astype(np.complex128)
    w = np.sqrt((np.abs(maps) ** 2).sum(axis=1))                        # (slice, y, x)
    x0 = np.abs(clean.reference).astype(np.float64)
    x1 = np.abs(fc.reference).astype(np.float64)
    for f, row in zip(fset.features, rec.rows):
        y0, y1, xa, xb = f.window
        ww = w[f.slice, y0:y1, xa:xb]
        got = [_kappa(ww * x1[f.slice, t, y0:y1, xa:xb], fset.template)
               - _kappa(ww * x0[f.slice, t, y0:y1, xa:xb], fset.template)
               for t in range(x0.shape[1])]
        ins = [_kappa(x1[f.slice, t, y0:y1, xa:xb], fset.template)
               - _kappa(x0[f.slice, t, y0:y1, xa:xb], fset.template) for t in range(x0.shape[1])]
        assert row["contrast_recovery"] == pytest.approx(np.mean(got) / np.mean(ins), rel=1e-3)
        assert row["contrast_recovery"] == pytest.approx(1.0, abs=0.1)


def test_zero_filled_at_high_acceleration_loses_the_features(case, featured):
    fc, fset = featured
    zf = reference_impls.get("recon", "zero-filled")
    recovery = {}
    for r in (4, 8):
        s = make_mask("kt-gaussian", case.kspace.shape, r, 8, np.random.default_rng(r))

        def under(c):
            return c.replace(kspace=(c.kspace * s.mask).astype(np.complex64), mask=s.mask)

        rec = feature_recovery(zf(under(fc)), fset, reference_without=zf(under(case)))
        recovery[r] = rec.mean["contrast_recovery"]
        if r == 8:
            assert rec.mean["detected_fraction"] == 0.0
            assert rec.mean["nrmse_window"] > 0.3
    full = feature_recovery(zf(fc), fset, reference_without=zf(case)).mean["contrast_recovery"]
    assert recovery[8] < 0.5
    assert recovery[8] < recovery[4] < full


def test_explicit_positions_and_errors(case):
    f0 = insert_features(case, n_features=3, seed=0)[1].features
    pos = [(f.slice, *f.centre) for f in f0[:2]]
    _, fset = insert_features(case, positions=pos, contrast=0.5)
    assert [(f.slice, *f.centre) for f in fset.features] == pos
    with pytest.raises(ValueError, match="room for only"):
        insert_features(case, n_features=3, region="myo")
    with pytest.raises(ValueError, match="border"):
        insert_features(case, positions=[(0, 1, 1)])
    with pytest.raises(ValueError, match="contrast"):
        insert_features(case, contrast=0.0)
    with pytest.raises(ValueError, match="shape"):
        feature_recovery(np.zeros((1, 2, 3, 4)), fset)
