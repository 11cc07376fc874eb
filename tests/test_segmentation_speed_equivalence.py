"""The speed-ups of the segmentation reference methods compute the same values as the library
calls they replace (issue 17; docs/performance.md).

* ``image_quantiles`` (partial sort) against ``torch.quantile`` (full sort): identical values.
* ``_component_features`` (features of all components at once) against
  ``skimage.measure.regionprops`` and the per-component morphology it replaced: identical
  features, compared exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi
from skimage.measure import label as cc_label, regionprops
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


@pytest.mark.parametrize("seed", range(12))
def test_component_features_equal_regionprops(seed):
    rng = np.random.default_rng(seed)
    ny, nx = rng.integers(20, 60, 2)
    # blobs of many shapes and sizes, touching each other and the image edges
    img = ndi.gaussian_filter(rng.standard_normal((ny, nx)), rng.uniform(0.8, 3.0))
    motion = rng.random((ny, nx)) * 5
    spacing = (float(rng.uniform(1.0, 4.0)),) * 2
    hulls: dict = {}  # shared by the thresholds, as in one segmentation
    for thr in np.percentile(img, [30, 50, 70, 90, 90]):
        got, lab, bright = classical._component_features(img, thr, motion, spacing, hulls)
        ref, lab_ref, bright_ref = _reference_features(img, thr, motion, spacing)
        assert np.array_equal(lab, lab_ref) and np.array_equal(bright, bright_ref)
        assert len(got) == len(ref)
        for g, r in zip(got, ref):
            assert g.keys() == r.keys() - {"sol"} | {"count", "mask"}
            for key in r.keys() - {"sol"}:
                assert np.array_equal(np.asarray(g[key]), np.asarray(r[key])), key
            # the convex hull is computed on demand (classical._best)
            assert classical._solidity(g, hulls) == r["sol"]


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
