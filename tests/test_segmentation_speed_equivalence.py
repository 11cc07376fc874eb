"""The speed-ups of the segmentation reference methods compute the same values as the library
calls they replace (issue 17; docs/performance.md).

* ``image_quantiles`` (partial sort) against ``torch.quantile`` (full sort): identical values.
* ``_component_features`` / ``_stack_features`` (features of all components of many images
  at once) against ``skimage.measure.regionprops`` and the per-component morphology they
  replaced, image by image: identical features, compared exactly; the motion bands and the
  perimeter codes also on label images the opening never produces (single pixels, components
  a pixel apart, more than 255 components).
* ``_search_slice`` (exact means only for thresholds whose bound can win) against the
  exhaustive search it replaced; ``_rv_candidates`` against the per-component loop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from skimage.measure import label as cc_label, perimeter, regionprops
from skimage.morphology import disk

from reference_impls.segmentation import classical
from reference_impls.segmentation.unet import image_quantiles, normalise_intensity


@pytest.mark.parametrize("n", [1, 2, 3, 100, 101, 26496])
@pytest.mark.parametrize("kind", ["uniform", "ties", "half-zero", "float64"])
def test_image_quantiles_equal_torch_quantile(n, kind):
    gen = torch.Generator().manual_seed(n)
    x = torch.rand(4, n, generator=gen)
    if kind == "ties":
        x = (x * 4).round()
    elif kind == "half-zero":
        x[:, : n // 2] = 0
    elif kind == "float64":
        x = torch.randn(4, n, generator=gen, dtype=torch.float64)
    for q in ([0.01, 0.99], [0.0, 1.0], [0.5, 0.25, 0.3]):
        qt = torch.tensor(q, dtype=x.dtype)
        ref = torch.quantile(x, qt, dim=1)
        got = image_quantiles(x, qt)
        assert got.dtype == ref.dtype
        assert torch.equal(got, ref)


def test_image_quantiles_keep_torch_quantile_gradient():
    """With autograd, ``torch.quantile`` itself: the same gradient as before."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(3, 500, generator=gen) * 5).round().requires_grad_(True)
    qt = torch.tensor([0.01, 0.99])
    g_ref, = torch.autograd.grad(torch.quantile(x, qt, dim=1).sum(), x)
    g, = torch.autograd.grad(image_quantiles(x, qt).sum(), x)
    assert torch.equal(g, g_ref)


def test_normalise_intensity_same_with_and_without_autograd():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(5, 40, 30, generator=gen)
    with torch.no_grad():
        fast = normalise_intensity(x)
    x_req = x.clone().requires_grad_(True)
    assert torch.equal(fast, normalise_intensity(x_req).detach())


def _reference_features(img2d, thr, motion, spacing):
    """The features as computed before issue 17's change: regionprops per component and the
    band by two iterations of the cross (the code this test holds the new one to)."""
    dy, dx = spacing
    bright = ndi.binary_opening(img2d > thr, structure=disk(1))
    lab = cc_label(bright, connectivity=1)
    out = []
    for p in regionprops(lab):
        area = p.area * dy * dx
        if not 20.0 <= area <= 8000.0:
            continue
        r0, c0, r1, c1 = p.bbox
        r0, c0 = max(r0 - 3, 0), max(c0 - 3, 0)
        sub = lab[r0:r1 + 3, c0:c1 + 3] == p.label
        band = ndi.binary_dilation(sub, iterations=2) & ~ndi.binary_erosion(sub, iterations=2)
        out.append({"label": p.label, "area": area, "centroid": p.centroid,
                    "circ": min(1.0, 4 * np.pi * p.area / max(p.perimeter, 1.0) ** 2),
                    "sol": float(p.solidity),
                    "mot": float(motion[r0:r1 + 3, c0:c1 + 3][band].mean())})
    return out, lab, bright


def _blobs(rng, ny, nx):
    """Smooth noise: blobs of many shapes and sizes, touching each other and the edges."""
    return ndi.gaussian_filter(rng.standard_normal((ny, nx)), rng.uniform(0.8, 3.0))


def _assert_features_equal(got, ref):
    (g_feats, g_lab, g_bright), (r_feats, r_lab, r_bright) = got, ref
    assert g_lab.dtype == r_lab.dtype and np.array_equal(g_lab, r_lab)
    assert np.array_equal(g_bright, r_bright)
    assert len(g_feats) == len(r_feats)
    for g, r in zip(g_feats, r_feats):
        assert g.keys() == r.keys() - {"sol"} | {"count", "mask"}
        for key in r.keys() - {"sol"}:
            assert np.array_equal(np.asarray(g[key]), np.asarray(r[key])), key
        # the convex hull is computed on demand (classical._best)
        assert classical._solidity(g) == r["sol"]


@pytest.mark.parametrize("seed", range(12))
def test_component_features_equal_regionprops(seed):
    rng = np.random.default_rng(seed)
    ny, nx = rng.integers(20, 60, 2)
    img = _blobs(rng, ny, nx)
    motion = rng.random((ny, nx)) * 5
    spacing = (float(rng.uniform(1.0, 4.0)),) * 2
    for thr in np.percentile(img, [30, 50, 70, 90, 90]):
        _assert_features_equal(classical._component_features(img, thr, motion, spacing),
                               _reference_features(img, thr, motion, spacing))


@pytest.mark.parametrize("seed", range(6))
def test_stack_features_equal_each_image(seed):
    """Many images labelled as one: the same features, labels and masks as each image alone,
    with images without any component (threshold above the maximum), covered by one
    component touching every edge (below the minimum), and components at the top and bottom
    rows next to the neighbouring images of the stack."""
    rng = np.random.default_rng(100 + seed)
    ny, nx = rng.integers(12, 40, 2)
    imgs = [_blobs(rng, ny, nx) for _ in range(5)]
    imgs[1][[0, -1], :] = 10.0  # bright top and bottom rows: next to the gaps
    motion = rng.random((ny, nx)) * 5
    spacing = (float(rng.uniform(1.0, 3.0)),) * 2
    images = [imgs[j % 5] for j in range(12)]
    thrs = [np.percentile(images[j], q) for j, q in enumerate(
        [30, 50, 70, 90, 95, 60, 40, 80, 50, 75, 100, 0])]
    thrs[4] = 1e9    # nothing bright
    thrs[11] = -1e9  # all bright: one component touching every edge
    got = classical._stack_features(images, thrs, motion, spacing)
    for j in range(len(images)):
        _assert_features_equal(got[j], _reference_features(images[j], thrs[j], motion, spacing))


def test_stack_features_more_than_255_components():
    """Grids of crosses (each survives the opening), 300 components in the stack: the 16-bit
    label path."""
    cross = np.zeros((40, 40))
    for y in range(1, 40, 4):
        for x in range(1, 40, 4):
            cross[y, x - 1:x + 2] = cross[y - 1:y + 2, x] = 1.0
    rng = np.random.default_rng(7)
    motion = rng.random(cross.shape)
    images, thrs = [cross, cross * 0.5, cross, cross], [0.5, 0.1, 2.0, 0.5]
    got = classical._stack_features(images, thrs, motion, (2.0, 2.0))
    assert [len(g[0]) for g in got] == [100, 100, 0, 100]
    for j in range(4):
        _assert_features_equal(got[j], _reference_features(images[j], thrs[j], motion,
                                                           (2.0, 2.0)))


def _random_labels(rng):
    """Label images the opening never produces: sparse random pixels (single-pixel
    components, components one or two pixels apart, touching the edges)."""
    mask = rng.random(tuple(rng.integers(1, 25, 2))) < rng.uniform(0.05, 0.7)
    lab, n = ndi.label(mask, structure=classical._CROSS)
    return lab, n


@pytest.mark.parametrize("seed", range(60))
def test_band_pairs_equal_per_component_morphology(seed):
    """Each component's band (dilation minus erosion with two iterations of the cross,
    scipy, zeros outside) in row-major order, against the keys of all components at once."""
    lab, n = _random_labels(np.random.default_rng(seed))
    keys = classical._band_pairs(classical._padded_labels(lab, n))
    ref = []
    for k in range(1, n + 1):
        comp = lab == k
        band = ndi.binary_dilation(comp, iterations=2) & ~ndi.binary_erosion(comp, iterations=2)
        ref.extend(k * lab.size + np.flatnonzero(band))
    assert np.array_equal(keys, np.array(ref, np.int64))


@pytest.mark.parametrize("seed", range(60))
def test_perimeter_codes_equal_skimage_perimeter(seed):
    lab, n = _random_labels(np.random.default_rng(seed))
    codes = classical._perimeter_codes(classical._padded_labels(lab, n), n)
    for p in regionprops(lab):
        assert float(codes[p.label] @ classical._PERIMETER_WEIGHTS) == p.perimeter
        assert p.perimeter == perimeter(p.image, neighborhood=4)


@pytest.mark.parametrize("seed", range(200))
def test_diamond_equals_two_cross_iterations(seed):
    rng = np.random.default_rng(seed)
    sub = rng.random(tuple(rng.integers(1, 15, 2))) < rng.random()
    two = ndi.binary_dilation(sub, iterations=2) & ~ndi.binary_erosion(sub, iterations=2)
    one = (ndi.binary_dilation(sub, classical._DIAMOND2)
           & ~ndi.binary_erosion(sub, classical._DIAMOND2))
    assert np.array_equal(one, two)


@pytest.mark.parametrize("seed", range(100))
def test_shifted_masks_equal_scipy_morphology(seed):
    rng = np.random.default_rng(seed)
    sub = rng.random(tuple(rng.integers(1, 15, 2))) < rng.random()
    for offsets, structure in ((classical._CROSS_OFFSETS, disk(1)),
                               (classical._DIAMOND2_OFFSETS, classical._DIAMOND2)):
        assert np.array_equal(classical._shift_or(sub, offsets),
                              ndi.binary_dilation(sub, structure))
        assert np.array_equal(classical._shift_and(sub, offsets),
                              ndi.binary_erosion(sub, structure))
    assert np.array_equal(classical._bright_mask(sub.astype(float), 0.5),
                          ndi.binary_opening(sub, structure=disk(1)))


@pytest.mark.parametrize("seed", range(20))
def test_best_equals_argmax_of_all_scores(seed):
    """The bounded search of classical._best picks numpy.argmax of every candidate's score
    (the first of equal maxima), with the same score."""
    rng = np.random.default_rng(seed)
    hulls: dict = {}
    cands = []
    for _ in range(int(rng.integers(1, 12))):
        mask = rng.random(tuple(rng.integers(2, 9, 2))) < 0.6
        mask[0, 0] = True
        cands.append({"area": float(rng.uniform(20, 4000)), "circ": float(rng.uniform(0.1, 1)),
                      "mot": float(rng.uniform(0, 5)), "dist": float(rng.uniform(0, 60)),
                      "count": float(mask.sum()), "mask": mask})
    if seed % 3 == 0:  # exact ties: the first one wins
        cands.append(dict(cands[0]))
        cands.insert(0, dict(cands[-1]))
    for scale, ref in ((50.0, 2000.0), (10.0, 0.0)):
        scores = [classical._score(c, scale, ref, classical._solidity(c)) for c in cands]
        best, score = classical._best(cands, scale, ref, hulls)
        assert best is cands[int(np.argmax(scores))] and score == max(scores)


@pytest.mark.parametrize("n, shape, sigma", [(16, (64, 80), 7.0), (5, (100, 80), 15.0),
                                             (1, (144, 184), 3.3), (3, (37, 53), 15.0),
                                             (17, (37, 53), 0.7)])
def test_smoothing_equals_per_image_convolution_and_its_gradient(n, shape, sigma):
    """The U-Net's smoothing gives the values of torch's convolution of each image and the
    gradient autograd computes through it, bit for bit (fast paths where they are identical,
    the library's convolution elsewhere)."""
    import torch.nn.functional as F

    from reference_impls.segmentation.smoothing import gaussian_smooth

    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, *shape, generator=g)
    x[:, : shape[0] // 4] = 0
    w = torch.randn(n, *shape, generator=g)
    r = int(np.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()

    def library(v):
        return F.conv2d(F.conv2d(v[:, None], k.view(1, 1, 1, -1), padding=(0, r)),
                        k.view(1, 1, -1, 1), padding=(r, 0))[:, 0]

    with torch.inference_mode():
        fast = gaussian_smooth(x, sigma)
    assert fast.is_contiguous() and torch.equal(fast, library(x))
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (ga,) = torch.autograd.grad((gaussian_smooth(xa, sigma) * w).sum(), xa)
    (gb,) = torch.autograd.grad((library(xb) * w).sum(), xb)
    assert torch.equal(ga, gb)


def _exhaustive_search(corr_s, motion_s, thresholds, frames, centre, spacing, params, refine):
    """classical._search_slice as it was before the bounded search: every threshold's mean of
    every frame's best score (``numpy.argmax`` of all scores), the first strictly best; its
    result (and threshold refinement) by the module's unchanged ``_search_result``."""
    max_dist, scale, area_ref = params
    best = (0.0, float(thresholds[0]), [])
    for t in thresholds:
        total, picks = 0.0, []
        for f in frames:
            feats, lab, _ = classical._component_features(corr_s[f], t, motion_s, spacing)
            cands = classical._near(feats, centre, spacing, max_dist)
            if cands:
                scores = [classical._score(c, scale, area_ref, classical._solidity(c))
                          for c in cands]
                i = int(np.argmax(scores))
                total += scores[i]
                picks.append((f, cands[i], lab))
        total /= len(frames)
        if total > best[0]:
            best = (total, float(t), picks)
    return classical._search_result(corr_s, *best, refine)  # unchanged code: the refinement


@pytest.mark.parametrize("seed", range(16))
def test_search_slice_equals_exhaustive_search(seed):
    """The same score, threshold and centroid as scoring every threshold, with identical
    frames, distinct thresholds giving the same masks (exactly equal means: the first wins)
    and thresholds with no candidate at all."""
    rng = np.random.default_rng(300 + seed)
    ny, nx = rng.integers(20, 36, 2)
    corr_s = np.stack([_blobs(rng, ny, nx) for _ in range(3)])
    if seed % 4 == 1:
        corr_s[2] = corr_s[0]  # identical frames
    motion = rng.random((ny, nx)) * rng.uniform(0.5, 8)
    thresholds = np.percentile(corr_s, np.linspace(40, 97, 8))
    if seed % 4 == 2:  # pairs of thresholds in one gap between intensities: equal means
        v = np.unique(corr_s)
        k = (np.linspace(0.4, 0.97, 4) * (v.size - 2)).astype(int)
        thresholds = np.sort(np.concatenate([v[k] + 0.25 * (v[k + 1] - v[k]),
                                             v[k] + 0.75 * (v[k + 1] - v[k])]))
    if seed % 4 == 3:
        thresholds = np.full(6, corr_s.max() + 1.0)  # no candidate anywhere
    frames = np.array([0, 1, 2]) if seed % 2 else np.array([0, 2])
    spacing = (float(rng.uniform(1.5, 3.0)),) * 2
    centre = (float(rng.uniform(0, ny - 1)), float(rng.uniform(0, nx - 1)))
    for params, refine in ((classical.PASS1, False), (classical.PASS2, True)):
        got = classical._search_slice(corr_s, motion, thresholds, frames, centre, spacing,
                                      params, refine, {}, {})
        ref = _exhaustive_search(corr_s, motion, thresholds, frames, centre, spacing, params,
                                 refine)
        assert got == ref


@pytest.mark.parametrize("seed", range(20))
def test_rv_candidates_equal_per_component_loop(seed):
    rng = np.random.default_rng(500 + seed)
    lab, n = _random_labels(rng)
    d_lv = rng.random(lab.shape) * 50.0
    d_lv[rng.random(lab.shape) < 0.3] = classical.RV_MAX_MM  # at the limit: kept
    spacing = (float(rng.uniform(1.0, 4.0)),) * 2
    lv_label = int(rng.integers(0, n + 1))
    ref = []
    for p in regionprops(lab):
        if p.label == lv_label or p.area * spacing[0] * spacing[1] < 30.0:
            continue
        comp = lab == p.label
        dmin = float(d_lv[comp].min())
        if dmin <= classical.RV_MAX_MM:
            ref.append((dmin, comp))
    got = classical._rv_candidates(lab, lv_label, d_lv, spacing)
    assert len(got) == len(ref)
    for (gd, gm), (rd, rm) in zip(got, ref):
        assert gd == rd and np.array_equal(gm, rm)
