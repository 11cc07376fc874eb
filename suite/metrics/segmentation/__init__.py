"""Segmentation metrics: Dice, HD, HD95, ASSD, MASD and NSD per structure and phase.

Arrays follow the Case layout: label stacks ``(slice, frame, y, x)``, ACDC labels (0 bg,
1 RV, 2 MYO, 3 LV), spacing ``(dz, dy, dx)`` in mm (slice spacing, then row and column pixel
spacing). Every metric is 3-D on the ``(slice, y, x)`` volume of a phase. Reference first,
prediction second.

| function | returns |
|---|---|
| :func:`evaluate` (label stacks, ED and ES) | :class:`SegmentationResult` |
| :func:`score_masks` (one pair of bool masks, any ndim) | :class:`MaskScores` |
| :func:`surface_distances` | :class:`SurfaceDistances` (directed, mm) |
| :func:`mask_boundary` | bool boundary mask |

Definitions, directions and units: :data:`METRICS`; empty-mask policies: :data:`EMPTY_TABLE`
(documented in :mod:`suite.metrics.segmentation.empty` and ``docs/metrics-segmentation.md``).
Values are per case; averages come only from :func:`suite.metrics.reduce.aggregate`.
"""

from suite.metrics.segmentation.empty import (
    DISTANCE_METRICS, EMPTY_POLICIES, EMPTY_SENTINELS, EMPTY_TABLE, HD95_DEFINITIONS, METRICS,
    STATUSES, HD95_MAX_DIRECTED,
)
from suite.metrics.segmentation.masks import MaskScores, score_masks, volume_diagonal_mm
from suite.metrics.segmentation.stack import PHASES, STRUCTURES, SegmentationResult, evaluate
from suite.metrics.segmentation.surface import SurfaceDistances, mask_boundary, surface_distances

__all__ = [
    "evaluate", "SegmentationResult", "STRUCTURES", "PHASES",
    "score_masks", "MaskScores", "volume_diagonal_mm",
    "surface_distances", "SurfaceDistances", "mask_boundary",
    "METRICS", "HD95_MAX_DIRECTED", "DISTANCE_METRICS", "STATUSES",
    "EMPTY_POLICIES", "EMPTY_TABLE", "EMPTY_SENTINELS", "HD95_DEFINITIONS",
]
