"""Classical (no learning) segmentation of a short-axis **T1 or T2 map**: blood pool by an
intensity threshold search, myocardium as a ring of the wall thickness measured across the
septum, RV from the other blood components beside the septum.

Why a separate method: the suite's cine segmenters (the U-Net trained on bSSFP cine, the
motion-guided classical baseline of :mod:`reference_impls.segmentation.classical`) expect cine
contrast and motion; a map has one frame and its contrast depends on the quantity (native T1
and T2: blood brighter than myocardium; post-contrast T1: blood darker, e.g. 1820 vs 1170 ms
native and 508 vs 645 ms post-contrast at 3 T, MyoMapNet, doi 10.1186/s12968-021-00834-0).
Segmenting on the map itself follows the fitted-map workflow of Fahmy et al., JCMR 2019;21:7
(doi 10.1186/s12968-018-0516-1), who segment the myocardium of T1 data before taking
segment values; their method is a trained FCN on the weighted images, this one is a
documented classical floor.

Per slice of ``maps`` ``(slice, frame, y, x)`` (the frame axis is the segmentation stage's
interface; every frame is segmented alone):

1. **Candidates.** Finite, positive pixels within ``search_mm`` of the image centre (a
   short-axis map is planned with the heart near the centre; there is no motion to find it).
   For each polarity (``blood="auto"``: both) and each of 12 thresholds (percentiles 40–97 of
   the candidate values for a bright pool, 3–60 for a dark pool), the connected components
   (1-px opening) of 20–5000 mm² above (below) the threshold are scored by
   ``solidity⁴ × circularity × size / (1 + distance / 30 mm)`` with ``size = min(1, area /
   700 mm²)^½`` (solidity = area / convex area of the component as found, before holes are
   filled, so a ring — the myocardium of the wrong polarity — scores low; circularity
   ``4π·area / perimeter²``). The best component is replaced by the best candidate nested in
   it (≥ 95 % of its pixels inside, ≤ 60 % of its area, ≥ half its score) as long as there is
   one: at a loose threshold the whole heart (pools and wall) is one round blob, the LV pool
   is the round component inside it. The pool found fixes the polarity.
2. **Refinement.** The threshold becomes the midpoint of the pool's median and the median of a
   ring 1–3 px outside it; the pool is the component of the blood-like pixels at that
   threshold holding the first pool's centroid, holes filled (papillary muscles count as blood
   pool, the ACDC convention).
3. **RV** candidates: the other blood-like components of ≥ 30 mm² within 35 mm of the pool.
4. **Myocardium (ring model).** On a map the epicardium is often invisible (myocardium and the
   surrounding muscle have similar T1 and T2), so the wall thickness is measured where it is
   visible, across the septum: the smallest distance from the pool to an RV candidate (plus
   half a pixel), clipped to 3–20 mm; ``default_wall_mm`` on a slice without one. The
   myocardium is the ring ``0 < d_LV ≤ t`` minus blood-like pixels; RV candidates farther
   than ``t + 3 px`` from the pool are dropped, the others (holes filled) are the RV.

Limits (measured on the phantom in docs/mapping-stage.md): the heart must lie near the image
centre; the wall is uniform around the LV (regional thinning or hypertrophy is not followed,
so the epicardial border is a prior, not a measurement, away from the septum); a post-contrast
T1 map with little blood–myocardium contrast (the phantom's post-contrast MOLLI map: ≈ 15 ms)
is often not segmented (a slice without a pool gets background only); no apical cap, no
atria or outflow tracts, no bright artefacts near the heart.

References
----------
Petitjean C, Dacher J-N. A review of segmentation methods in short axis cardiac MR images.
Med Image Anal 15(2):169–184, 2011.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import label as cc_label, regionprops

from reference_impls.registry import register
from reference_impls.segmentation.checks import check_images, check_spacing

__all__ = ["MapSegmenter", "segment_map", "BLOOD_POLARITIES"]

RV, MYO, LV = 1, 2, 3
#: ``blood`` options: the blood pool is brighter or darker than the myocardium, or either.
BLOOD_POLARITIES = ("auto", "bright", "dark")
N_THRESHOLDS = 12
PERCENTILES = {"bright": (40.0, 97.0), "dark": (3.0, 60.0)}
AREA_MM2 = (20.0, 5000.0)     # blood-pool candidate area range
SIZE_REF_MM2 = 700.0          # a component this large gets the full size term
DIST_SCALE_MM = 30.0
RV_MAX_MM = 35.0
RV_MIN_MM2 = 30.0
WALL_MM = (3.0, 20.0)
NEST_SCORE = 0.5              # a nested candidate scoring at least this fraction of the best
NEST_AREA = 0.6               # and at most this fraction of its area replaces it


def _blood_like(img, thr, polarity, valid):
    return valid & ((img > thr) if polarity == "bright" else (img < thr))


def _best_component(img, valid, polarity, centre, spacing):
    """``(score, mask, threshold)`` of the pool candidate of one polarity: the best-scoring
    component, or the best one nested inside it (module docstring, step 1)."""
    cands = _candidates(img, valid, polarity, centre, spacing)
    if not cands:
        return (0.0, None, None)
    best = max(cands, key=lambda c: c[0])
    while True:
        area = best[1].sum()
        inner = [c for c in cands if c[0] >= NEST_SCORE * best[0]
                 and c[1].sum() <= NEST_AREA * area and (c[1] & best[1]).sum() >= 0.95 * c[1].sum()]
        if not inner:
            return best
        best = max(inner, key=lambda c: c[0])


def _candidates(img, valid, polarity, centre, spacing):
    """``[(score, mask, threshold)]``: every scored blood-pool candidate of one polarity."""
    dy, dx = spacing
    px_area = dy * dx
    lo, hi = PERCENTILES[polarity]
    values = img[valid]
    out = []
    if values.size < 10:
        return out
    for thr in np.percentile(values, np.linspace(lo, hi, N_THRESHOLDS)):
        mask = ndi.binary_opening(_blood_like(img, thr, polarity, valid))
        lab = cc_label(mask, connectivity=1)
        for p in regionprops(lab):
            area = p.area * px_area
            if not AREA_MM2[0] <= area <= AREA_MM2[1] or p.perimeter <= 0:
                continue
            cy, cx = p.centroid
            dist = float(np.hypot((cy - centre[0]) * dy, (cx - centre[1]) * dx))
            circ = min(1.0, 4.0 * np.pi * p.area / p.perimeter ** 2)
            size = min(1.0, area / SIZE_REF_MM2) ** 0.5
            score = p.solidity ** 4 * circ * size / (1.0 + dist / DIST_SCALE_MM)
            out.append((float(score), lab == p.label, float(thr)))
    return out


def _segment_slice(img, spacing, blood, default_wall_mm, search_mm):
    ny, nx = img.shape
    dy, dx = spacing
    out = np.zeros((ny, nx), np.uint8)
    yy, xx = np.mgrid[:ny, :nx]
    centre = ((ny - 1) / 2.0, (nx - 1) / 2.0)
    near = np.hypot((yy - centre[0]) * dy, (xx - centre[1]) * dx) <= search_mm
    valid = np.isfinite(img) & (img > 0) & near
    polarities = ("bright", "dark") if blood == "auto" else (blood,)
    found = max((_best_component(img, valid, p, centre, spacing) + (p,) for p in polarities),
                key=lambda t: t[0])
    score, pool, thr, polarity = found
    if pool is None:
        return out
    d_out = ndi.distance_transform_edt(~pool, sampling=spacing)
    px = min(dy, dx)
    ring = valid & (d_out > 0.5 * px) & (d_out <= 3 * px)
    if ring.any():
        thr = 0.5 * (float(np.median(img[pool])) + float(np.median(img[ring])))
    blood_all = _blood_like(img, thr, polarity, valid)
    lab, _ = ndi.label(blood_all)
    cy, cx = (int(round(c)) for c in ndi.center_of_mass(pool))
    if lab[cy, cx]:
        refined = ndi.binary_fill_holes(lab == lab[cy, cx])
        if refined.sum() * dy * dx <= AREA_MM2[1]:
            pool = refined
    pool = ndi.binary_fill_holes(pool)
    d_lv = ndi.distance_transform_edt(~pool, sampling=spacing)
    cands = []
    others = cc_label(blood_all & ~pool, connectivity=1)
    for p in regionprops(others):
        if p.area * dy * dx < RV_MIN_MM2:
            continue
        comp = others == p.label
        dmin = float(d_lv[comp].min())
        if dmin <= RV_MAX_MM:
            cands.append((dmin, comp))
    if cands:
        t = float(np.clip(min(c[0] for c in cands) + 0.5 * px, *WALL_MM))
    else:
        t = float(default_wall_mm)
    rv = np.zeros((ny, nx), bool)
    for dmin, comp in cands:
        if dmin <= t + 3 * px:
            rv |= ndi.binary_fill_holes(comp)
    myo = (d_lv > 0) & (d_lv <= t) & ~rv & ~blood_all
    out[myo] = MYO
    out[rv] = RV
    out[pool] = LV
    return out


def segment_map(maps, spacing_mm, *, blood: str = "auto", default_wall_mm: float = 8.0,
                search_mm: float = 60.0) -> np.ndarray:
    """ACDC labels of T1/T2 maps (module docstring).

    Parameters
    ----------
    maps : ndarray ``(slice, frame, y, x)``
        Maps in ms (any positive quantity); NaN or ≤ 0 marks failed pixels.
    spacing_mm : (float, float)
        ``(dy, dx)`` pixel spacing in mm.
    blood : {"auto", "bright", "dark"}
        Blood pool brighter (native T1, T2) or darker (post-contrast T1) than the myocardium;
        ``"auto"`` keeps the polarity whose best candidate scores higher.
    default_wall_mm : float
        Wall thickness of a slice without a visible septum (mm).
    search_mm : float
        Radius around the image centre searched for the LV blood pool (mm).

    Returns
    -------
    ndarray of uint8 ``(slice, frame, y, x)``
        0 background, 1 RV blood pool, 2 LV myocardium, 3 LV blood pool.
    """
    if blood not in BLOOD_POLARITIES:
        raise ValueError(f"segment_map: `blood` must be one of {BLOOD_POLARITIES}; got "
                         f"{blood!r}")
    arr = np.asarray(maps, np.float64)
    check_images(np.nan_to_num(arr), where="segment_map")
    spacing = check_spacing(spacing_mm, where="segment_map")
    out = np.zeros(arr.shape, np.uint8)
    for s in range(arr.shape[0]):
        for f in range(arr.shape[1]):
            out[s, f] = _segment_slice(arr[s, f], spacing, blood, float(default_wall_mm),
                                       float(search_mm))
    return out


@register("segmentation", "map-classical")
class MapSegmenter:
    """Classical segmenter of T1/T2 maps (no learning): see :func:`segment_map`.

    Called as ``method(maps, spacing_mm) -> labels`` with maps float ``(slice, frame, y, x)``
    in ms (the segmentation stage's interface; the ``mapseg`` stage passes each map as one
    frame) and ``spacing_mm = (dy, dx)``; returns uint8 ACDC labels ``(slice, frame, y, x)``.

    Parameters
    ----------
    blood : {"auto", "bright", "dark"}, default "auto"
    default_wall_mm : float, default 8
    search_mm : float, default 60
    """

    name = "map-classical"
    version = "1.0"
    stage = "segmentation"

    def __init__(self, blood: str = "auto", default_wall_mm: float = 8.0,
                 search_mm: float = 60.0):
        if blood not in BLOOD_POLARITIES:
            raise ValueError(f"MapSegmenter: `blood` must be one of {BLOOD_POLARITIES}; got "
                             f"{blood!r}")
        self.blood = blood
        self.default_wall_mm = float(default_wall_mm)
        self.search_mm = float(search_mm)

    def params(self) -> dict:
        """Parameters that identify this method's output (for provenance)."""
        return {"blood": self.blood, "default_wall_mm": self.default_wall_mm,
                "search_mm": self.search_mm}

    def __call__(self, maps, spacing_mm) -> np.ndarray:
        return segment_map(maps, spacing_mm, blood=self.blood,
                           default_wall_mm=self.default_wall_mm, search_mm=self.search_mm)
