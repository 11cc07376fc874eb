"""Classical (no learning) short-axis segmentation: shading-corrected, motion-guided blood-pool
thresholding with a per-slice threshold search.

Pipeline for a stack ``(slice, frame, y, x)``:

1. **Receive-field (bias) correction per slice**, in the log domain and on the body only. The
   time-mean image is split into signal and air/lung/noise floor by Otsu's threshold on its
   log intensity; the body is the largest signal component with its holes filled. The bias
   field is a normalised convolution (Knutsson & Westin 1993) of the log intensity over the
   signal pixels of the body (Gaussian, σ = 30 mm), so air, lungs and the RSS noise floor do
   not pull it down; each frame is divided by ``exp`` of it (a homomorphic correction in the
   spirit of Axel, Costantini & Listerud 1987). The tissue level becomes ~1 everywhere, so one
   threshold can hold across the heart whether the image is a root-sum-of-squares (RSS) with
   coil shading or a flat coil-combined image.
2. **Heart centre from temporal change.** The temporal SD of each corrected slice is divided by
   its median over the body's signal pixels (static tissue: the noise level), set to 0 outside
   the body, and the excess over 2 is summed over slices and smoothed (σ = 8 mm); its arg-max
   is the centre. With one frame, the image centre. Everything after works in a box of
   ±90 mm around it.
3. **Per-slice threshold search.** For 12 thresholds (percentiles 40–97 of the corrected
   intensities within 60 mm of the centre) and up to 3 frames spread over the cycle, the
   bright connected components (1-px opening) of 20–8000 mm² are scored by
   ``solidity⁴ × circularity × log(1 + motion) / (1 + distance / scale) × size``, where
   solidity is area / convex area, circularity ``4π·area / perimeter²``, motion the mean
   relative temporal SD on a 2-px band around the component (the static round aorta scores
   low) and size ``min(1, area / 2000 mm²)^½`` (small round fragments of the RV at high
   thresholds must not beat the LV). The threshold whose best component scores highest
   (mean over the frames) wins. The LV is round and convex only near the right threshold:
   below it the pool merges with the RV or the surroundings (low solidity), above it breaks up.
   Pass 1 searches within 80 mm of the motion centre (scale 50 mm); the score-weighted median
   of the slices' LV centroids is the LV centre of the stack (the RV moves more than the LV,
   so the motion centre itself can sit on the RV). Pass 2 searches again within 25 mm of that
   centre (scale 10 mm, no size term, so apical pools count), and the chosen threshold is
   refined to the midpoint of the median blood intensity of the component and the median of a
   ring 1–3 px outside it (myocardium).
4. **LV blood pool per frame**: at the slice's threshold, the best-scoring component within
   25 mm of the slice's LV centre; components with less than 35 % of the median LV motion of
   the stack are rejected (static liver, fat, aorta, slices beyond the apex). Holes filled and
   convex hull taken (papillary muscles count as blood pool, the ACDC convention).
5. **RV candidates**: the other bright components of area ≥ 30 mm² within 35 mm of the LV
   (35 rather than 25 mm: the septum of a hypertrophic heart at end-systole is thicker than
   25 mm).
6. **Myocardium (dark-ring model)**: the epicardium is invisible where the heart borders
   muscle-like tissue, so the wall thickness is measured where it is visible, across the
   septum: the smallest distance from the LV pool to an RV candidate (Euclidean distance
   transform in mm) plus half a pixel, clipped to 3–35 mm. The median over the slices of a
   frame, ``t``, is used for every slice of that frame (``default_wall_mm`` when no slice shows
   an RV). The myocardium is the ring ``0 < d_LV ≤ t`` minus blood pixels.
7. RV candidates farther than ``t + 3 px`` from the LV are dropped (not adjacent to the
   septum); the others, holes filled, are the RV.

Limits (measured in ``docs/segmentation-methods.md``): the wall thickness is uniform around the
LV (regional thinning of an infarct or asymmetric hypertrophy is not followed); the apical cap
(myocardium without a blood pool) is missed; the bias correction assumes that the shading
varies slowly relative to 30 mm and that the tissue around the heart has roughly one
intensity, so a very large bright structure (a huge LV) is partly flattened; basal slices with
outflow tracts or atria, papillary muscles touching the wall, poor blood-myocardium contrast,
flow artefacts, or another moving bright structure near the heart (real images) break steps
2–4. With few frames (2–3) the motion terms are noisy and the shape terms carry the detection.
It was designed on the phantom, whose heart is surrounded by muscle-like tissue and whose
blood is uniformly bright: a floor to beat, not a method to use.

References
----------
Otsu N. A threshold selection method from gray-level histograms. IEEE Trans Syst Man Cybern
9(1):62–66, 1979.
Axel L, Costantini J, Listerud J. Intensity correction in surface-coil MR imaging. AJR Am J
Roentgenol 148(2):418–420, 1987.
Knutsson H, Westin C-F. Normalized and differential convolution. Proc IEEE CVPR 1993:515–523.
Petitjean C, Dacher J-N. A review of segmentation methods in short axis cardiac MR images.
Med Image Anal 15(2):169–184, 2011.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu
from skimage.morphology import convex_hull_image, disk

from reference_impls.registry import register
from reference_impls.segmentation.checks import check_images, check_spacing

__all__ = ["ClassicalSegmenter", "segment_classical", "heart_centre", "correct_receive_field"]

RV, MYO, LV = 1, 2, 3

BIAS_SIGMA_MM = 30.0     # smoothing of the log-intensity bias field
BOX_MM = 90.0            # half-size of the working box around the motion centre
RV_MAX_MM = 35.0         # RV candidates and wall thickness up to this distance from the LV
N_THRESHOLDS = 12        # thresholds tried per slice (percentiles 40-97 of the heart region)
N_SEARCH_FRAMES = 3      # frames (spread over the cycle) used by the threshold search
PASS1 = (80.0, 50.0, 2000.0)   # max distance, distance scale (mm), size reference (mm^2)
PASS2 = (25.0, 10.0, 0.0)


def _body_masks(mean_img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(signal, body)``: pixels above Otsu's threshold of the log intensity (not air, lung
    or noise floor) within the largest such component, and that component with holes filled."""
    full = np.ones(mean_img.shape, bool)
    top = float(mean_img.max())
    if not top > 0:
        return full, full
    logm = np.log(np.maximum(mean_img, 1e-12 * top))
    try:
        t = threshold_otsu(logm)
    except ValueError:  # constant image
        return full, full
    sig = ndi.binary_opening(logm > t, iterations=2)
    lab, n = ndi.label(sig)
    if n == 0:
        return full, full
    sizes = ndi.sum(np.ones(lab.shape), lab, index=np.arange(1, n + 1))
    body = ndi.binary_fill_holes(lab == 1 + int(np.argmax(sizes)))
    return sig & body, body


def correct_receive_field(images, spacing_mm, sigma_mm: float = BIAS_SIGMA_MM):
    """Divide every slice of ``images`` ``(slice, frame, y, x)`` by its estimated receive field.

    The field is ``exp`` of the normalised convolution (Gaussian, σ = ``sigma_mm``) of the log
    time-mean intensity over the body's signal pixels (module docstring, step 1).

    Returns ``(corrected float64, signal masks (slice, y, x), body masks (slice, y, x))``.
    """
    arr = np.asarray(images, np.float64)
    ns = arr.shape[0]
    dy, dx = spacing_mm
    sig = (sigma_mm / dy, sigma_mm / dx)
    out = np.empty(arr.shape, np.float64)
    signal = np.zeros((ns,) + arr.shape[2:], bool)
    body = np.zeros_like(signal)
    for s in range(ns):
        mean = arr[s].mean(axis=0)
        signal[s], body[s] = _body_masks(mean)
        logm = np.where(signal[s], np.log(np.maximum(mean, 1e-30)), 0.0)
        num = ndi.gaussian_filter(logm, sig, mode="constant")
        den = ndi.gaussian_filter(signal[s].astype(np.float64), sig, mode="constant")
        ok = den > 1e-3
        logf = np.where(ok, num / np.maximum(den, 1e-3), 0.0)
        if ok.any():
            logf[~ok] = logf[ok].min()
        out[s] = arr[s] / np.exp(logf)
    return out, signal, body


def _relative_motion(corr: np.ndarray, signal: np.ndarray, body: np.ndarray) -> np.ndarray:
    """Temporal SD per slice over its median on the body's signal pixels (≈ the noise level of
    static tissue); 0 outside the body. ``(slice, y, x)``; ones with a single frame."""
    ns, nf = corr.shape[:2]
    if nf < 2:
        return np.ones((ns,) + corr.shape[2:])
    sd = corr.std(axis=1)
    rel = np.zeros_like(sd)
    for s in range(ns):
        pix = sd[s][signal[s]] if signal[s].any() else sd[s].ravel()
        rel[s] = np.where(body[s], sd[s] / max(float(np.median(pix)), 1e-12), 0.0)
    return rel


def heart_centre(motion: np.ndarray, spacing_mm, sigma_mm: float = 8.0):
    """Pixel ``(y, x)`` of the maximum of the smoothed excess relative motion (over 2) summed
    over slices, or None when nothing moves. ``motion`` ``(slice, y, x)`` from
    :func:`_relative_motion`."""
    excess = np.clip(motion - 2.0, 0.0, None).sum(axis=0)
    sm = ndi.gaussian_filter(excess, (sigma_mm / spacing_mm[0], sigma_mm / spacing_mm[1]))
    if not sm.max() > 0:
        return None
    y, x = np.unravel_index(int(np.argmax(sm)), sm.shape)
    return float(y), float(x)


#: 2-step iteration of the 4-connected cross: one dilation or erosion with it equals two with
#: the cross (Minkowski sum; the same pixels at the box edges, tested)
_DIAMOND2 = ndi.iterate_structure(ndi.generate_binary_structure(2, 1), 2)
#: 4-connectivity of the components (``skimage.measure.label(..., connectivity=1)``, which
#: calls ``scipy.ndimage.label`` with this structure for a boolean image)
_CROSS = ndi.generate_binary_structure(2, 1)
#: skimage.measure.perimeter (4-neighbourhood): weights of the codes of the border-pixel
#: convolution below (Benkrid & Crookes; the values of scikit-image's implementation)
_PERIMETER_WEIGHTS = np.zeros(50, np.float64)
_PERIMETER_WEIGHTS[[5, 7, 15, 17, 25, 27]] = 1
_PERIMETER_WEIGHTS[[21, 33]] = np.sqrt(2)
_PERIMETER_WEIGHTS[[13, 23]] = (1 + np.sqrt(2)) / 2


def _padded_labels(lab: np.ndarray, n: int) -> np.ndarray:
    """``lab`` (labels ``0..n``) with a margin of 2 zeros, in the smallest unsigned type that
    holds ``n + 1`` values with one to spare (uint8 below 255 components): the shifted views
    of :func:`_perimeter_codes` and :func:`_band_pairs` read it."""
    dtype = np.uint8 if n < 255 else np.uint16 if n < 65535 else np.uint64
    ny, nx = lab.shape
    pad = np.zeros((ny + 4, nx + 4), dtype)
    pad[2:2 + ny, 2:2 + nx] = lab
    return pad


def _perimeter_codes(pad: np.ndarray, n: int) -> np.ndarray:
    """Per-label histograms ``(n + 1, 50)`` of the border codes of
    :func:`skimage.measure.perimeter` (``neighborhood=4``) for every component of the label
    image padded by :func:`_padded_labels` at once: a pixel of component ``k`` is a border
    pixel when one of its 4-neighbours is not in ``k``; its code is 1 + 2 × its
    4-neighbouring and 10 × its diagonal border pixels of the same component (the
    convolution of scikit-image, restricted to the component as ``regionprops`` crops it).
    ``codes[k] @ _PERIMETER_WEIGHTS`` is ``regionprops``' perimeter to the last bit (the
    non-zero terms of the same 50-term dot product)."""
    ny, nx = pad.shape[0] - 4, pad.shape[1] - 4

    def shifted(a, dy, dx, r=2):
        return a[r + dy:r + dy + ny, r + dx:r + dx + nx]

    lab = shifted(pad, 0, 0)
    inside = lab > 0
    interior = inside.copy()
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        interior &= shifted(pad, dy, dx) == lab
    border = inside & ~interior
    bpad = np.zeros((ny + 2, nx + 2), bool)
    bpad[1:1 + ny, 1:1 + nx] = border
    code = np.ones(lab.shape, np.uint8)  # at most 1 + 4 × 2 + 4 × 10 = 49
    for (dy, dx), w in (((-1, 0), 2), ((1, 0), 2), ((0, -1), 2), ((0, 1), 2),
                        ((-1, -1), 10), ((-1, 1), 10), ((1, -1), 10), ((1, 1), 10)):
        same = shifted(bpad, dy, dx, 1) & (shifted(pad, dy, dx) == lab)
        code += same.view(np.uint8) * np.uint8(w)
    idx = lab[border].astype(np.int64) * 50 + code[border]
    return np.bincount(idx, minlength=(n + 1) * 50).reshape(n + 1, 50)


def _shifted(mask: np.ndarray, offsets):
    """Views of ``mask`` (``(..., y, x)``: each image on its own) shifted by each
    ``(dy, dx)`` of ``offsets``, zeros outside the image."""
    ny, nx = mask.shape[-2:]
    r = _radius(offsets)
    pad = np.zeros(mask.shape[:-2] + (ny + 2 * r, nx + 2 * r), bool)
    pad[..., r:r + ny, r:r + nx] = mask
    return (pad[..., r + dy:r + dy + ny, r + dx:r + dx + nx] for dy, dx in offsets)


def _shift_or(mask: np.ndarray, offsets) -> np.ndarray:
    """Binary dilation of ``mask`` by the structuring element whose pixels are ``offsets``
    (``(dy, dx)`` pairs, a symmetric element), with zeros outside the array: the OR of the
    shifted masks, the same pixels as ``scipy.ndimage.binary_dilation``."""
    out = np.zeros_like(mask)
    for view in _shifted(mask, offsets):
        out |= view
    return out


def _shift_and(mask: np.ndarray, offsets) -> np.ndarray:
    """Binary erosion of ``mask`` by the symmetric element of ``offsets`` with zeros outside
    the array (``scipy.ndimage.binary_erosion``'s default ``border_value=0``): the AND of
    the shifted masks."""
    out = mask.copy()
    for view in _shifted(mask, offsets):
        out &= view
    return out


@functools.lru_cache(maxsize=None)
def _radius(offsets: tuple[tuple[int, int], ...]) -> int:
    """The largest offset of a structuring element (the padding its shifts need)."""
    return max(max(abs(dy), abs(dx)) for dy, dx in offsets)


def _offsets(structure: np.ndarray) -> tuple[tuple[int, int], ...]:
    """The ``(dy, dx)`` offsets of the pixels of a centred structuring element."""
    cy, cx = structure.shape[0] // 2, structure.shape[1] // 2
    return tuple((int(y) - cy, int(x) - cx) for y, x in np.argwhere(structure))


#: pixels of the opening's element (``disk(1)``, the 4-connected cross) and of the motion
#: band's element (:data:`_DIAMOND2`), as offsets for :func:`_shift_or` / :func:`_shift_and`
_CROSS_OFFSETS = _offsets(disk(1))
_DIAMOND2_OFFSETS = _offsets(_DIAMOND2)


def _opened(mask: np.ndarray) -> np.ndarray:
    """``mask`` (``(..., y, x)``: each image on its own) opened with ``disk(1)`` (erosion
    then dilation, zeros outside): the pixels of ``scipy.ndimage.binary_opening(mask,
    structure=disk(1))``."""
    return _shift_or(_shift_and(mask, _CROSS_OFFSETS), _CROSS_OFFSETS)


def _bright_mask(img2d, thr) -> np.ndarray:
    """``img2d > thr`` opened with ``disk(1)`` (:func:`_opened`)."""
    return _opened(img2d > thr)


def _cross_twice(pad: np.ndarray, op) -> np.ndarray:
    """``op`` (``numpy.maximum`` or ``numpy.minimum``) over the diamond of radius 2
    (:data:`_DIAMOND2`) around every pixel of the image padded by 2 in ``pad``: twice over the
    4-connected cross (the diamond is the cross's Minkowski sum with itself), the first time
    on the image and its 1-pixel margin, so the margin holds what the second pass needs."""
    out = pad
    for _ in range(2):
        c = out[1:-1, 1:-1]
        red = op(c, out[:-2, 1:-1])
        op(red, out[2:, 1:-1], out=red)
        op(red, out[1:-1, :-2], out=red)
        op(red, out[1:-1, 2:], out=red)
        out = red
    return out


def _band_pairs(pad: np.ndarray) -> np.ndarray:
    """The motion bands of all components of the label image padded by
    :func:`_padded_labels` at once, as sorted keys ``label × size + pixel`` (pixel: the
    raveled index in the image, ``size`` its number of pixels).

    The band of component ``k`` is its dilation minus its erosion by :data:`_DIAMOND2`
    (zeros outside the image): the pixels whose diamond of radius 2 holds a pixel of ``k``,
    except those whose whole diamond lies in ``k``. Over each pixel's diamond, its largest
    label ``hi``, smallest label ``lo0`` and smallest non-zero label ``lo`` decide it: no
    component near (``hi`` = 0), inside one component (``lo0`` = ``hi``), near one component
    only (``lo`` = ``hi``: in the band of ``hi``) or near several (rare: its distinct labels
    listed). Sorted by label then pixel, each component's band pixels come in row-major
    order, the order of ``window[band]`` in the per-component code."""
    ny, nx = pad.shape[0] - 4, pad.shape[1] - 4
    hi = _cross_twice(pad, np.maximum)
    lo0 = _cross_twice(pad, np.minimum)
    one = pad.dtype.type(1)
    lo = _cross_twice(pad - one, np.minimum) + one  # 0 wraps to the largest value: ignored
    near = hi > 0
    single = (near & (lo == hi) & (lo0 != hi)).ravel()
    size = ny * nx
    keys = hi.ravel()[single].astype(np.int64) * size + np.flatnonzero(single)
    several = np.flatnonzero((near & (lo != hi)).ravel())
    if several.size:
        dy, dx = np.array(_DIAMOND2_OFFSETS).T
        labs = pad[several // nx + 2 + dy[:, None], several % nx + 2 + dx[:, None]]
        labs = labs.astype(np.int64)
        keys = np.concatenate([keys, np.unique((labs * size + several)[labs > 0])])
    return np.sort(keys)


#: zero rows between the images stacked by :func:`_stack_features`: more than the band's
#: radius (2), so no band, border code or component reaches from one image into the next
_GAP = 3


@functools.lru_cache(maxsize=8)
def _stack_coordinates(m: int, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray]:
    """Row (within its image) and column of every pixel of ``m`` images of ``ny × nx``
    stacked with :data:`_GAP` rows after each, raveled, float64, read-only."""
    idx = np.indices((m, ny + _GAP, nx))
    out = (idx[1].ravel().astype(np.float64), idx[2].ravel().astype(np.float64))
    for a in out:
        a.flags.writeable = False
    return out


def _stack_features(images, thresholds, motion, spacing):
    """:func:`_component_features` of each image ``images[j]`` at ``thresholds[j]`` (2-D
    images of one shape, one motion map ``(y, x)``), computed for all of them at once.

    The opened masks are stacked into one image, :data:`_GAP` zero rows after each, and
    labelled once: ``scipy.ndimage.label`` numbers components in the raster order of their
    first pixel, so image ``j``'s components are the labels after those of the images above
    it, in its own order; the label ``k`` of its own labelling is the stacked label minus
    their number. Pixel counts, coordinate sums (rows within the image), border codes and
    bands (:func:`_band_pairs`) of the stacked image are those of each image (the gap is
    wider than their reach; band pixels falling in the gap are dropped: outside the image).

    Returns a list of ``(features, label image, opened mask)``, one per image.
    """
    dy, dx = spacing
    m = len(images)
    ny, nx = np.shape(images[0])
    rows = ny + _GAP
    raw = np.zeros((m, ny, nx), bool)
    for j in range(m):
        raw[j] = images[j] > thresholds[j]
    bright = _opened(raw)
    stacked = np.zeros((m, rows, nx), bool)
    stacked[:, :ny] = bright
    lab2, n = ndi.label(stacked.reshape(m * rows, nx), structure=_CROSS)
    lab3 = lab2.reshape(m, rows, nx)[:, :ny]
    last = np.maximum.accumulate(lab3.reshape(m, -1).max(axis=1))  # last label of image j
    first = np.concatenate([[0], last[:-1]])  # labels of image j are first[j] + 1 ...
    labs = [np.where(lab3[j] > 0, lab3[j] - lab3.dtype.type(first[j]), 0).astype(lab2.dtype)
            for j in range(m)]
    out = [([], labs[j], bright[j]) for j in range(m)]
    if n == 0:
        return out
    flat = lab2.ravel()
    count = np.bincount(flat, minlength=n + 1)
    area = count.astype(np.float64) * dy * dx
    keep = np.flatnonzero((area >= 20.0) & (area <= 8000.0))
    keep = keep[keep > 0]
    if not keep.size:
        return out
    yy, xx = _stack_coordinates(m, ny, nx)
    # regionprops' centroid: the mean of the (integer) pixel coordinates; float sums of
    # integers are exact, so sum / count is the same value
    sum_y = np.bincount(flat, weights=yy, minlength=n + 1)
    sum_x = np.bincount(flat, weights=xx, minlength=n + 1)
    pad = _padded_labels(lab2, n)
    codes = _perimeter_codes(pad, n)
    boxes = ndi.find_objects(lab2)
    size = lab2.size
    keys = _band_pairs(pad)
    pix = keys % size
    inside = pix % (rows * nx) < ny * nx  # not in a gap
    keys, pix = keys[inside], pix[inside]
    starts = np.searchsorted(keys, keep * size)
    stops = np.searchsorted(keys, (keep + 1) * size)
    mot_stack = np.zeros((m, rows, nx), np.asarray(motion).dtype)
    mot_stack[:, :ny] = motion
    mot = mot_stack.ravel()[pix]
    image_of = np.searchsorted(last, keep)
    for k, j, a, b in zip(keep.tolist(), image_of.tolist(), starts.tolist(), stops.tolist()):
        rs, cs = boxes[k - 1]
        perimeter = float(codes[k] @ _PERIMETER_WEIGHTS)
        out[j][0].append({
            "label": k - int(first[j]), "area": float(area[k]),
            "centroid": (sum_y[k] / count[k], sum_x[k] / count[k]),
            "circ": min(1.0, 4 * np.pi * float(count[k]) / max(perimeter, 1.0) ** 2),
            "count": float(count[k]), "mask": lab2[rs, cs] == k,
            "mot": float(mot[a:b].mean())})
    return out


def _component_features(img2d, thr, motion, spacing, hulls=None):
    """Bright components (1-px opening) of 20-8000 mm² with the shape and motion features of
    the LV score (everything but the distance to a centre); the label image; the opened mask.

    The features are those of ``skimage.measure.regionprops`` (area, centroid, perimeter,
    solidity), computed for all components at once where that gives the same values to the
    last bit (pixel counts and coordinate sums by ``bincount``, perimeters by
    :func:`_perimeter_codes`, the motion bands by :func:`_band_pairs`, each band's mean by
    ``numpy.mean`` of its pixels in row-major order, as before); the convex hull per
    component as ``regionprops`` does it, and only when a score needs it (:func:`_solidity`,
    :func:`_best`): the cropped mask is kept under ``"mask"``. A component's convex area
    depends only on its cropped mask, so ``hulls`` (a dict, shared by the calls of one
    segmentation) keeps it per mask: a third of the components of a stack recur unchanged at
    other thresholds and frames. One image of :func:`_stack_features`, which computes many
    at once.
    """
    return _stack_features([img2d], [thr], motion, spacing)[0]


def _solidity(c, hulls=None) -> float:
    """Area / convex area of a component of :func:`_component_features` (``regionprops``'
    solidity: the convex hull of its cropped mask by ``convex_hull_image``), kept in
    ``hulls`` per mask."""
    image = c["mask"]
    key = (image.shape, image.tobytes())
    hull = None if hulls is None else hulls.get(key)
    if hull is None:
        hull = float(np.sum(convex_hull_image(image)))
        if hulls is not None:
            hulls[key] = hull
    return c["count"] / hull


def _near(features, centre, spacing, max_dist_mm):
    """The components of :func:`_component_features` within ``max_dist_mm`` of ``centre``
    (in their order), each with its distance ``dist`` (mm)."""
    dy, dx = spacing
    out = []
    for c in features:
        cy, cx = c["centroid"]
        dist = float(np.hypot((cy - centre[0]) * dy, (cx - centre[1]) * dx))
        if dist <= max_dist_mm:
            out.append({**c, "dist": dist})
    return out


def _components(img2d, thr, motion, centre, spacing, max_dist_mm, memo=None, key=None,
                hulls=None):
    """Components of :func:`_component_features` near ``centre`` (:func:`_near`), the label
    image and the opened mask. With ``memo`` (a dict) and ``key`` (what identifies ``img2d``
    and ``thr``), the features are computed once per key: they do not depend on the centre,
    so both passes of the threshold search share them (:func:`segment_classical` fills a
    slice's memo at once with :func:`_stack_features`). ``hulls``: see
    :func:`_component_features`."""
    if memo is not None and key in memo:
        features, lab, bright = memo[key]
    else:
        features, lab, bright = _component_features(img2d, thr, motion, spacing, hulls)
        if memo is not None:
            memo[key] = (features, lab, bright)
    return _near(features, centre, spacing, max_dist_mm), lab, bright


def _score(c, scale_mm, area_ref_mm2, sol):
    """The LV score of a component with solidity ``sol`` (module docstring, step 3)."""
    size = min(1.0, c["area"] / area_ref_mm2) ** 0.5 if area_ref_mm2 > 0 else 1.0
    return sol ** 4 * c["circ"] * np.log1p(c["mot"]) / (1.0 + c["dist"] / scale_mm) * size


def _best(cands, scale_mm, area_ref_mm2, hulls=None, bounds=None):
    """The best-scoring candidate and its score: ``numpy.argmax`` of the scores (the first of
    equal maxima).

    A score is at most its value with solidity 1 (the convex hull holds the component, so
    the solidity is at most 1, every other factor is non-negative and each floating-point
    step is monotonic), so the convex hull (:func:`_solidity`) is computed only for the
    candidates whose bound reaches the best exact score found so far, in decreasing order of
    the bound: the same winner and score as scoring every candidate."""
    if bounds is None:
        bounds = [_score(c, scale_mm, area_ref_mm2, 1.0) for c in cands]
    if not np.all(np.isfinite(bounds)):  # NaN (no band) or inf: score all, as argmax does
        scores = [_score(c, scale_mm, area_ref_mm2, _solidity(c, hulls)) for c in cands]
        i = int(np.argmax(scores))
        return cands[i], scores[i]
    best_i, best_s = -1, None
    for i in sorted(range(len(cands)), key=lambda j: -bounds[j]):  # stable: ties by index
        if best_s is not None and bounds[i] < best_s:
            break
        sc = _score(cands[i], scale_mm, area_ref_mm2, _solidity(cands[i], hulls))
        if best_s is None or sc > best_s or (sc == best_s and i < best_i):
            best_i, best_s = i, sc
    return cands[best_i], best_s


def _search_slice(corr_s, motion_s, thresholds, frames, centre, spacing, params, refine,
                  memo=None, hulls=None):
    """Threshold search on one slice: ``(score, threshold, LV centroid or None)``. ``memo``:
    a dict shared by the searches of one slice (:func:`_components`).

    The threshold whose mean over the frames of the best candidate's score is highest wins
    (the first of equal means; none unless above 0). The mean with every candidate's
    solidity set to 1 bounds a threshold's mean from above (:func:`_best`; a floating-point
    sum in the same order and the division are monotonic in each term), so the exact means
    (:func:`_best`, which needs convex hulls) are computed in decreasing order of the bound
    (stable: ties by index) until the bound falls below the best exact mean found: the same
    winner and mean as computing every threshold's mean in order."""
    max_dist, scale, area_ref = params
    found, bounds = [], []
    for i, t in enumerate(thresholds):
        per_frame, bound = [], 0.0
        for f in frames:
            cands, lab, _ = _components(corr_s[f], t, motion_s, centre, spacing, max_dist,
                                        memo, (i, int(f)), hulls)
            if cands:
                ub = [_score(c, scale, area_ref, 1.0) for c in cands]
                bound = bound + max(ub) if np.all(np.isfinite(ub)) else np.inf
                per_frame.append((f, cands, lab, ub))
        found.append(per_frame)
        bounds.append(bound / len(frames))
    best = (0.0, float(thresholds[0]), [])
    best_i = None
    for i in sorted(range(len(thresholds)), key=lambda j: -bounds[j]):
        if bounds[i] < best[0] or (bounds[i] == best[0] and (best_i is None or i > best_i)):
            break  # neither this threshold nor any after it can win
        total, picks = 0.0, []
        for f, cands, lab, ub in found[i]:
            c, sc = _best(cands, scale, area_ref, hulls, ub)
            total += sc
            picks.append((f, c, lab))
        total /= len(frames)
        if total > best[0] or (total == best[0] and best_i is not None and i < best_i):
            best, best_i = (total, float(thresholds[i]), picks), i
    return _search_result(corr_s, *best, refine)


def _search_result(corr_s, score, t, picks, refine):
    """What :func:`_search_slice` returns for the winning threshold ``t`` (mean ``score``)
    and its ``picks`` (``(frame, component, label image)`` per frame with a candidate):
    ``(score, t, None)`` without picks, else ``(score, t or its refinement, the median of the
    picks' centroids)``. ``refine``: ``t`` becomes the median over the picks of the midpoint
    of the blood's median intensity and that of the ring 1-3 px outside it, where the blood
    is brighter."""
    if not picks:
        return score, t, None
    cen = np.median(np.array([c["centroid"] for _, c, _ in picks]), axis=0)
    if refine:  # midpoint of blood and surrounding-myocardium medians
        ts = []
        for f, c, lab in picks:
            pool = ndi.binary_fill_holes(lab == c["label"])
            ring = (ndi.binary_dilation(pool, iterations=3)
                    & ~ndi.binary_dilation(pool, iterations=1))
            b, r = np.median(corr_s[f][pool]), np.median(corr_s[f][ring])
            if b > r:
                ts.append(0.5 * (b + r))
        if ts:
            t = float(np.median(ts))
    return score, t, (float(cen[0]), float(cen[1]))


def _rv_candidates(lab, lv_label, d_lv, spacing) -> list[tuple[float, np.ndarray]]:
    """RV candidates (module docstring, step 5): the components of ``lab`` other than the
    LV's (``lv_label``) of at least 30 mm² whose smallest distance to the LV (``d_lv``, mm)
    is at most :data:`RV_MAX_MM`, in label order, as ``(distance, mask)``. The smallest
    distance of every component at once (``scipy.ndimage.minimum`` per label: a minimum is
    exact, so the same value as per component)."""
    dy, dx = spacing
    count = np.bincount(lab.ravel())
    others = [k for k in range(1, count.size)
              if k != lv_label and not float(count[k]) * dy * dx < 30.0]
    if not others:
        return []
    dmins = ndi.minimum(d_lv, lab, others)
    return [(float(dmin), lab == k) for k, dmin in zip(others, dmins) if dmin <= RV_MAX_MM]


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    o = np.argsort(x)
    cw = np.cumsum(w[o])
    return float(x[o][np.searchsorted(cw, cw[-1] / 2.0)])


def segment_classical(images, spacing_mm, *, roi_mm: float = 60.0, default_wall_mm: float = 8.0
                      ) -> np.ndarray:
    """Segment LV blood pool, myocardium and RV blood pool without learning (module docstring).

    Parameters
    ----------
    images : array_like, float, ``(slice, frame, y, x)``
        Magnitude cine stack (arbitrary units): RSS or coil-combined.
    spacing_mm : (dy, dx), mm
        In-plane pixel spacing.
    roi_mm : float, default 60
        Radius around the heart centre whose intensities set the thresholds tried.
    default_wall_mm : float, default 8
        Wall thickness when no slice of a frame shows an RV.

    Returns
    -------
    ndarray, uint8, ``(slice, frame, y, x)``
        ACDC labels: 0 background, 1 RV, 2 MYO, 3 LV.
    """
    arr = check_images(images, "segment_classical")
    dy, dx = check_spacing(spacing_mm, "segment_classical")
    sp = (dy, dx)
    ns, nf, ny_full, nx_full = arr.shape
    result = np.zeros(arr.shape, np.uint8)
    corr, signal, body = correct_receive_field(arr, sp)
    motion = _relative_motion(corr, signal, body)
    centre = heart_centre(motion, sp) if nf > 1 else None
    if centre is None:
        centre = ((ny_full - 1) / 2.0, (nx_full - 1) / 2.0)
    # working box around the centre
    y0 = max(0, int(centre[0] - BOX_MM / dy))
    y1 = min(ny_full, int(centre[0] + BOX_MM / dy) + 1)
    x0 = max(0, int(centre[1] - BOX_MM / dx))
    x1 = min(nx_full, int(centre[1] + BOX_MM / dx) + 1)
    corr, motion = corr[:, :, y0:y1, x0:x1], motion[:, y0:y1, x0:x1]
    centre = (centre[0] - y0, centre[1] - x0)
    ny, nx = y1 - y0, x1 - x0
    yy, xx = np.mgrid[:ny, :nx]
    roi = np.hypot((yy - centre[0]) * dy, (xx - centre[1]) * dx) <= roi_mm
    frames = np.unique(np.linspace(0, nf - 1, min(nf, N_SEARCH_FRAMES)).round().astype(int))
    pct = np.linspace(40.0, 97.0, N_THRESHOLDS)
    thresholds = [np.percentile(corr[s][:, roi], pct) for s in range(ns)]

    # pass 1: LV centre of the stack; pass 2: per-slice threshold near it
    # component features per (threshold, frame), both passes: each slice's at once
    memos = []
    for s in range(ns):
        grid = [(i, int(f)) for i in range(len(thresholds[s])) for f in frames]
        feats = _stack_features([corr[s, f] for _, f in grid],
                                [thresholds[s][i] for i, _ in grid], motion[s], sp)
        memos.append(dict(zip(grid, feats)))
    hulls: dict = {}  # convex area per component mask (_component_features)
    seeds = [_search_slice(corr[s], motion[s], thresholds[s], frames, centre, sp, PASS1, False,
                           memos[s], hulls) for s in range(ns)]
    good = [(sc, c) for sc, _, c in seeds if c is not None and sc > 0]
    if not good:
        return result
    w = np.array([g[0] for g in good])
    cs = np.array([g[1] for g in good])
    lv_centre = (_weighted_median(cs[:, 0], w), _weighted_median(cs[:, 1], w))
    seeds = [_search_slice(corr[s], motion[s], thresholds[s], frames, lv_centre, sp, PASS2, True,
                           memos[s], hulls) for s in range(ns)]
    del memos

    # LV per frame at the slice's threshold
    max_dist, scale, area_ref = PASS2
    picks, bright_all = {}, np.zeros((ns, nf, ny, nx), bool)
    for s in range(ns):
        _, thr, cen = seeds[s]
        cen = lv_centre if cen is None else cen
        feats = _stack_features(corr[s], [thr] * nf, motion[s], sp)
        for f, (features, lab, bright_all[s, f]) in enumerate(feats):
            cands = _near(features, cen, sp, max_dist)
            if cands:
                picks[s, f] = (_best(cands, scale, area_ref, hulls)[0], lab)
    if not picks:
        return result
    min_motion = 0.35 * float(np.median([c["mot"] for c, _ in picks.values()]))

    px = 0.5 * (dy + dx)
    out = np.zeros((ns, nf, ny, nx), np.uint8)
    lv_masks = np.zeros((ns, nf, ny, nx), bool)
    rv_cands: dict[tuple[int, int], list[tuple[float, np.ndarray]]] = {}
    walls = np.full((ns, nf), np.nan)
    d_lvs = {}  # distance (mm) to each frame's LV, for the myocardium below
    for (s, f), (c, lab) in picks.items():
        if c["mot"] < min_motion:
            continue
        lv = convex_hull_image(ndi.binary_fill_holes(lab == c["label"]))
        lv_masks[s, f] = lv
        d_lv = d_lvs[s, f] = ndi.distance_transform_edt(~lv, sampling=sp)
        cands = _rv_candidates(lab, c["label"], d_lv, sp)
        if cands:
            walls[s, f] = float(np.clip(min(d for d, _ in cands) + 0.5 * px, 3.0, RV_MAX_MM))
            rv_cands[s, f] = cands
    for f in range(nf):
        have = np.flatnonzero(np.isfinite(walls[:, f]))
        t = float(np.median(walls[have, f])) if have.size else default_wall_mm
        for s in range(ns):
            lv = lv_masks[s, f]
            if not lv.any():
                continue
            d_lv = d_lvs[s, f]
            rv = np.zeros((ny, nx), bool)
            for dmin, comp in rv_cands.get((s, f), []):
                if dmin <= t + 3 * px:
                    rv |= ndi.binary_fill_holes(comp)
            myo = (d_lv > 0) & (d_lv <= t) & ~rv & ~bright_all[s, f]
            out[s, f][myo] = MYO
            out[s, f][rv] = RV
            out[s, f][lv] = LV
    result[:, :, y0:y1, x0:x1] = out
    return result


@register("segmentation", "classical")
class ClassicalSegmenter:
    """Classical baseline (no learning): see :func:`segment_classical`.

    Called as ``method(images, spacing_mm) -> labels`` with magnitude ``images`` float
    ``(slice, frame, y, x)`` and ``spacing_mm = (dy, dx)`` in mm; returns uint8 ACDC labels
    ``(slice, frame, y, x)``.

    Parameters
    ----------
    roi_mm : float, default 60
    default_wall_mm : float, default 8
    """

    name = "classical"
    version = "2.0"
    stage = "segmentation"

    def __init__(self, roi_mm: float = 60.0, default_wall_mm: float = 8.0):
        self.roi_mm = float(roi_mm)
        self.default_wall_mm = float(default_wall_mm)

    def params(self) -> dict:
        """Parameters that identify this method's output (for provenance)."""
        return {"roi_mm": self.roi_mm, "default_wall_mm": self.default_wall_mm}

    def __call__(self, images, spacing_mm) -> np.ndarray:
        return segment_classical(images, spacing_mm, roi_mm=self.roi_mm,
                                 default_wall_mm=self.default_wall_mm)
