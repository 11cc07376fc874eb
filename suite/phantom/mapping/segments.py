"""Truth per AHA segment of a mapping subject: T1/T2 native and post-contrast and ECV.

The truth maps (:func:`suite.phantom.mapping.acquire.truth_maps`, reconstruction grid) are
divided into AHA segments by the one segment model of the suite,
:func:`suite.metrics.aha.aha_segments` (16/17 segments from the RV insertion points, or the
CMRxRecon single-septal-point profile), applied to ACDC-convention labels made from the
regions (RV blood 1, LV wall = myocardium and scar 2, LV blood 3) — the same labels the mapping
stage segments its maps with. Each row is one segment of one convention: its pixel count and
the mean of every truth map over its pixels (NaN for a segment the slices do not cover; one
mid-ventricular phantom slice is a basal level, segments 1–6); ``global`` is every assigned
pixel.
"""

from __future__ import annotations

import numpy as np

from suite.phantom.mapping.anatomy import REGIONS

__all__ = ["SEGMENT_TRUTH_MAPS", "aha_labels_of_regions", "segment_truth_table"]

#: Truth maps averaged per segment (ms, ms, ms, ms, fraction).
SEGMENT_TRUTH_MAPS = ("t1_native_ms", "t2_native_ms", "t1_post_ms", "t2_post_ms", "ecv")


def aha_labels_of_regions(regions) -> np.ndarray:
    """ACDC-convention labels (1 RV blood, 2 LV wall incl. scar, 3 LV blood) of region codes
    (:data:`~suite.phantom.mapping.anatomy.REGIONS`), same shape."""
    reg = np.asarray(regions)
    lab = np.zeros(reg.shape, np.uint8)
    lab[reg == REGIONS.index("rv_blood")] = 1
    lab[np.isin(reg, [REGIONS.index("myocardium"), REGIONS.index("scar")])] = 2
    lab[reg == REGIONS.index("lv_blood")] = 3
    return lab


def segment_truth_table(truth: dict, conventions=("insertion", "cmrxrecon")) -> list[dict]:
    """Rows ``{convention, segment, n_pixels, <map>: mean, ...}`` per AHA segment (``"1"`` …
    ``"16"``, ``"global"``) of each convention.

    Parameters
    ----------
    truth : dict
        :func:`~suite.phantom.mapping.acquire.truth_maps`: ``regions`` and the maps of
        :data:`SEGMENT_TRUTH_MAPS`, ``(y, x)`` (one slice) or ``(slice, y, x)``.
    conventions : iterable of str
        :data:`suite.metrics.aha.CONVENTIONS`.
    """
    from suite.metrics.aha import aha_segments, segment_masks

    def stack(a):
        a = np.asarray(a)
        return a[None] if a.ndim == 2 else a

    labels = aha_labels_of_regions(stack(truth["regions"]))
    maps = {name: stack(truth[name]).astype(np.float64) for name in SEGMENT_TRUTH_MAPS}
    rows = []
    for convention in conventions:
        aha = aha_segments(labels, convention=convention)
        for segment, mask in segment_masks(aha).items():
            n = int(mask.sum())
            rows.append({"convention": convention, "segment": segment, "n_pixels": n,
                         **{name: float(m[mask].mean()) if n else float("nan")
                            for name, m in maps.items()}})
    return rows
