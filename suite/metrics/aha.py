"""AHA 16/17-segment model of a short-axis label stack, and segment means of a map.

The model (AHA writing group, Cerqueira et al., Circulation 2002;105:539,
doi 10.1161/hc0402.102975): the LV is cut perpendicular to its long axis into basal, mid and
apical thirds; basal and mid slices have six 60° segments (1/7 anterior, 2/8 anteroseptal,
3/9 inferoseptal, 4/10 inferior, 5/11 inferolateral, 6/12 anterolateral), apical slices four
(13 anterior, 14 septal, 15 inferior, 16 lateral); segment 17 is the apical cap beyond the
cavity. The RV attachment to the septum fixes the circumferential origin.

Geometry (no I/O; image arrays ``(slice, y, x)``):

* angles are measured about the slice's LV cavity centroid in the display frame (x to the
  right, y **up**, i.e. ``v = −(row − centre)``), counterclockwise positive. The segments run
  counterclockwise 1 → 6 when the septum is on the image left and anterior up (standard
  short-axis display, viewed from the apex); pass ``mirrored=True`` for stacks stored
  left-right mirrored.
* RV contact: the epicardial boundary pixels of (LV ∪ myocardium) reached by the RV mask
  dilated with a 3 × 3 kernel (1, 2, … up to 10 times, until they touch, as CMRxRecon's
  ``cardiac_utils.py`` does). Their angles form an arc (the complement of the largest angular
  gap); going counterclockwise its start is the **anterior** and its end the **inferior** RV
  insertion point.

Profiles (``convention``):

``"insertion"`` (default)
    per slice, the two insertion points: the septal arc between them is split in two
    (2/3, 8/9), the free wall into four equal arcs (4, 5, 6, 1 going on counterclockwise);
    apical slices use 90° sectors centred on the septal arc's midpoint (14 septal). A slice
    without RV contact takes the insertion angles of the nearest slice with contact.
``"cmrxrecon"``
    the CMRxRecon 2023 evaluation (Wenjia Bai's code, CmrxRecon/CMRxRecon
    ``Mapping/Toolbox/cardiac_utils.py`` and ``Mapping/CalEvalMap.py`` ``EvalMyo``): one septal
    point, the middle of the RV contact arc of the **mid-cavity slice** (the slice nearest the
    LV centroid), used for every slice; with φ the angle from the anterior direction (septum at
    +90°): basal/mid [−30, 30) → 1, [30, 90) → 2, [90, 150) → 3, ≥ 150 or < −150 → 4,
    [−150, −90) → 5, [−90, −30) → 6 (+6 for mid); apical [−45, 45) → 13, [45, 135) → 14,
    ≥ 135 or < −135 → 15, [−135, −45) → 16. The septal segments therefore span a fixed ±60°
    around the septal point whatever the septum's width. (Their "middle of the contact points"
    is taken here as the angular midpoint of the contact arc.)

Levels: slices with at least ``min_pixels`` (10) LV-cavity and myocardium pixels, ordered base
to apex (by ``slice_positions_mm``, larger = more basal, else slice 0 is the most basal), are
split with ``i1 = ceil(n/3)``, ``i2 = ceil(2n/3)`` into basal, mid and apical (the CMRxRecon
rule). With ``include_apex``, slices apical to them with myocardium but no cavity are segment
17. Segment means (:func:`segment_means`) average the map's finite pixels per segment; the
``global`` value is the mean over all assigned pixels (not the mean of the segment means), as
CMRxRecon reports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from suite._validation import check_ndim, check_option, check_same_shape

__all__ = ["AhaSegments", "aha_segments", "segment_means", "segment_masks", "CONVENTIONS",
           "SEGMENT_NAMES", "assign_cmrxrecon", "assign_insertion"]

CONVENTIONS = ("insertion", "cmrxrecon")

#: AHA segment names (1-17).
SEGMENT_NAMES = {
    1: "basal anterior", 2: "basal anteroseptal", 3: "basal inferoseptal", 4: "basal inferior",
    5: "basal inferolateral", 6: "basal anterolateral", 7: "mid anterior",
    8: "mid anteroseptal", 9: "mid inferoseptal", 10: "mid inferior", 11: "mid inferolateral",
    12: "mid anterolateral", 13: "apical anterior", 14: "apical septal", 15: "apical inferior",
    16: "apical lateral", 17: "apex"}


@dataclass(frozen=True, eq=False)
class AhaSegments:
    """AHA segment labels of a short-axis stack.

    Attributes
    ----------
    segments : ndarray of uint8 ``(slice, y, x)``
        1-17 on assigned myocardial pixels, 0 elsewhere.
    levels : tuple of str
        Per slice: ``"basal"``, ``"mid"``, ``"apical"``, ``"apex"`` or ``""`` (not used).
    anterior_insertion_deg, inferior_insertion_deg : ndarray ``(slice,)``
        Insertion-point angles in the display frame (NaN where not determined).
    septal_deg : ndarray ``(slice,)``
        The septal direction used (midpoint of the contact arc, or the mid-cavity slice's
        under the ``cmrxrecon`` convention).
    convention : str
    """

    segments: np.ndarray
    levels: tuple[str, ...]
    anterior_insertion_deg: np.ndarray
    inferior_insertion_deg: np.ndarray
    septal_deg: np.ndarray
    convention: str

    @property
    def n_segments(self) -> int:
        return 17 if "apex" in self.levels else 16

    def to_dict(self) -> dict:
        counts = np.bincount(self.segments.ravel(), minlength=18)[1:]
        return {"convention": self.convention, "levels": list(self.levels),
                "pixels_per_segment": {str(i + 1): int(c) for i, c in enumerate(counts)},
                "septal_deg": [None if math.isnan(a) else float(a) for a in self.septal_deg]}

    def summary(self) -> str:
        counts = self.to_dict()["pixels_per_segment"]
        empty = [k for k, v in counts.items() if v == 0 and (k != "17" or self.n_segments == 17)]
        used = [lv for lv in self.levels if lv]
        return (f"AHA {self.n_segments}-segment model ({self.convention}): "
                f"{len(used)} slices ({', '.join(used)}); empty segments: "
                f"{', '.join(empty) if empty else 'none'}")


def _angles(shape, centre, mirrored):
    rows, cols = np.indices(shape)
    u = cols - centre[1]
    v = -(rows - centre[0])
    if mirrored:
        u = -u
    return np.degrees(np.arctan2(v, u))


def _contact_arc(lv, myo, rv, centre, mirrored, max_dilations=10):
    """(start, end) angles (deg) of the RV contact arc, counterclockwise, or None."""
    if not rv.any():
        return None
    epi = lv | myo
    boundary = epi & ~ndimage.binary_erosion(epi)
    grown = rv
    for _ in range(max_dilations):
        grown = ndimage.binary_dilation(grown, structure=np.ones((3, 3), bool))
        touch = boundary & grown
        if touch.any():
            break
    else:
        return None
    ang = np.sort(_angles(lv.shape, centre, mirrored)[touch] % 360.0)
    if ang.size == 1:
        return float(ang[0]), float(ang[0])
    gaps = np.diff(np.r_[ang, ang[0] + 360.0])
    k = int(np.argmax(gaps))
    return float(ang[(k + 1) % ang.size]), float(ang[k])


def assign_insertion(phi_from_anterior_insertion, septal_width, level):
    """Segment numbers of angles (deg, counterclockwise from the anterior insertion point)
    under the two-insertion-point rule; ``septal_width`` is the arc to the inferior insertion.

    Examples
    --------
    >>> assign_insertion(np.array([10.0, 100.0, 130.0, 350.0]), 120.0, "basal")
    array([2, 3, 4, 1], dtype=uint8)
    """
    psi = np.asarray(phi_from_anterior_insertion, float) % 360.0
    w = float(septal_width)
    if level == "apical":
        phi = (psi - w / 2.0 + 90.0 + 180.0) % 360.0 - 180.0  # 0 = anterior, +90 = septum
        return assign_cmrxrecon(phi, "apical")
    free = (psi - w) / (360.0 - w)
    quarter = np.clip(np.floor(free * 4).astype(int), 0, 3)
    seg = np.where(psi < w, np.where(psi < w / 2.0, 2, 3), np.array([4, 5, 6, 1])[quarter])
    return (seg + (6 if level == "mid" else 0)).astype(np.uint8)


def assign_cmrxrecon(phi, level):
    """Segment numbers of angles φ (deg, from the anterior direction, septum at +90°) under the
    CMRxRecon 2023 fixed-sector rule (see the module docstring).

    Examples
    --------
    >>> assign_cmrxrecon(np.array([0.0, 45.0, 100.0, 170.0, -100.0, -45.0]), "mid")
    array([ 7,  8,  9, 10, 11, 12], dtype=uint8)
    >>> assign_cmrxrecon(np.array([0.0, 90.0, 180.0, -90.0]), "apical")
    array([13, 14, 15, 16], dtype=uint8)
    """
    phi = (np.asarray(phi, float) + 180.0) % 360.0 - 180.0
    if level == "apical":
        idx = np.floor((phi + 45.0) % 360.0 / 90.0).astype(int)  # 0: [-45,45), 1: [45,135)...
        return np.array([13, 14, 15, 16], np.uint8)[idx]
    idx = np.floor((phi + 30.0) % 360.0 / 60.0).astype(int)  # 0: [-30,30), 1: [30,90)...
    base = np.array([1, 2, 3, 4, 5, 6])[idx]
    return (base + (6 if level == "mid" else 0)).astype(np.uint8)


def _levels(valid, order, include_apex, myo_counts, min_pixels):
    levels = [""] * len(valid)
    used = [z for z in order if valid[z]]
    n = len(used)
    i1, i2 = math.ceil(n / 3), math.ceil(2 * n / 3)
    for i, z in enumerate(used):
        levels[z] = "basal" if i < i1 else ("mid" if i < i2 else "apical")
    if include_apex and used:
        last = list(order).index(used[-1])
        for z in order[last + 1:]:
            if myo_counts[z] >= min_pixels and not valid[z]:
                levels[z] = "apex"
    return levels


def aha_segments(labels, *, lv: int = 3, myo: int = 2, rv: int = 1,
                 convention: str = "insertion", slice_positions_mm=None,
                 include_apex: bool = False, mirrored: bool = False,
                 min_pixels: int = 10) -> AhaSegments:
    """AHA segments of the myocardium of a short-axis label stack.

    Parameters
    ----------
    labels : ndarray of int ``(slice, y, x)``
        One frame of a short-axis stack (e.g. the frame of the map).
    lv, myo, rv : int
        Label values of the LV cavity, LV myocardium and RV cavity. The defaults are the
        suite's ACDC convention (3, 2, 1); CMRxRecon mapping labels are ``lv=1, myo=2, rv=3``.
    convention : {"insertion", "cmrxrecon"}
        See the module docstring.
    slice_positions_mm : array ``(slice,)``, optional
        Position of each slice along the long axis, larger = more basal. Default: slice 0 is
        the most basal.
    include_apex : bool
        Assign segment 17 to myocardium-only slices apical to the cavity (17-segment model).
    mirrored : bool
        The stack is stored left-right mirrored relative to the standard display.
    min_pixels : int
        Minimum LV-cavity and myocardium pixels of a slice to be segmented.

    Returns
    -------
    AhaSegments

    Raises
    ------
    ValueError
        ``labels`` not 3-D, an unknown convention, or positions of the wrong length.
    """
    check_option(convention, CONVENTIONS, name="convention", where="aha_segments")
    lab = np.asarray(labels)
    check_ndim(lab, 3, name="labels", where="aha_segments", axes="(slice, y, x)")
    ns = lab.shape[0]
    if slice_positions_mm is None:
        order = list(range(ns))
    else:
        pos = np.asarray(slice_positions_mm, float)
        if pos.shape != (ns,):
            raise ValueError(f"aha_segments: `slice_positions_mm` must have one value per slice "
                             f"({ns}); got shape {pos.shape}")
        order = [int(i) for i in np.argsort(-pos, kind="stable")]
    lv_m, myo_m, rv_m = lab == lv, lab == myo, lab == rv
    lv_counts = lv_m.sum(axis=(1, 2))
    myo_counts = myo_m.sum(axis=(1, 2))
    valid = (lv_counts >= min_pixels) & (myo_counts >= min_pixels)
    levels = _levels(valid, order, include_apex, myo_counts, min_pixels)
    centres = [ndimage.center_of_mass(lv_m[z]) if lv_counts[z] else
               (ndimage.center_of_mass(myo_m[z]) if myo_counts[z] else None) for z in range(ns)]
    nan = np.full(ns, np.nan)
    ant, inf_, sep = nan.copy(), nan.copy(), nan.copy()
    for z in range(ns):
        if valid[z]:
            arc = _contact_arc(lv_m[z], myo_m[z], rv_m[z], centres[z], mirrored)
            if arc is not None:
                ant[z], inf_[z] = arc
                sep[z] = (arc[0] + ((arc[1] - arc[0]) % 360.0) / 2.0) % 360.0
    have = np.flatnonzero(np.isfinite(sep))
    if convention == "cmrxrecon" and have.size:
        zc = np.average(np.arange(ns), weights=lv_counts) if lv_counts.sum() else 0.0
        mid = int(have[np.argmin(np.abs(have - zc))])  # nearest slice (with contact) to the LV
        sep[:] = sep[mid]                              # centroid: the mid-cavity slice
    elif have.size:
        for z in range(ns):
            if not np.isfinite(sep[z]):
                near = int(have[np.argmin(np.abs(have - z))])
                ant[z], inf_[z], sep[z] = ant[near], inf_[near], sep[near]
    segments = np.zeros(lab.shape, np.uint8)
    for z in range(ns):
        if not levels[z] or centres[z] is None:
            continue
        if levels[z] == "apex":
            segments[z][myo_m[z]] = 17
            continue
        if not np.isfinite(sep[z]):
            continue
        theta = _angles(lab.shape[1:], centres[z], mirrored)[myo_m[z]]
        if convention == "cmrxrecon":
            seg = assign_cmrxrecon(theta - (sep[z] - 90.0), levels[z])
        else:
            seg = assign_insertion(theta - ant[z], (inf_[z] - ant[z]) % 360.0, levels[z])
        segments[z][myo_m[z]] = seg
    return AhaSegments(segments=segments, levels=tuple(levels), anterior_insertion_deg=ant,
                       inferior_insertion_deg=inf_, septal_deg=sep, convention=convention)


def segment_masks(aha: AhaSegments) -> dict[str, np.ndarray]:
    """Boolean masks ``"1"`` … ``"16"`` (``"17"`` in the 17-segment model) and ``"global"``."""
    masks = {str(i): aha.segments == i for i in range(1, aha.n_segments + 1)}
    masks["global"] = aha.segments > 0
    return masks


def segment_means(values, aha: AhaSegments) -> dict[str, float]:
    """Mean of a map per AHA segment and over all assigned pixels (``"global"``).

    ``values`` ``(slice, y, x)`` like the labels; non-finite (failed) pixels are ignored; an
    empty segment gives NaN (as CMRxRecon's ``np.mean`` of an empty selection).
    """
    v = np.asarray(values, dtype=float)
    check_same_shape(aha.segments, v, names=("segments", "values"), where="segment_means")
    out = {}
    for name, mask in segment_masks(aha).items():
        sel = v[mask & np.isfinite(v)]
        out[name] = float(sel.mean()) if sel.size else float("nan")
    return out
