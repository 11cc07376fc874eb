"""Reference segmentation methods: ``method(images, spacing_mm) -> labels``.

``images`` magnitude float ``(slice, frame, y, x)``, ``spacing_mm = (dy, dx)`` in mm; the
output is uint8 ``(slice, frame, y, x)`` in the ACDC convention (0 background, 1 RV blood pool,
2 LV myocardium, 3 LV blood pool). Registered methods: ``"classical"`` (no learning),
``"unet"`` (2-D U-Net with shipped weights ``seg-unet``), both for cine, accuracy on the phantom
in ``docs/segmentation-methods.md``; and ``"map-classical"`` (no learning) for T1/T2 maps
(:mod:`reference_impls.segmentation.maps`, docs/mapping-stage.md).
"""

from reference_impls.segmentation.classical import ClassicalSegmenter, segment_classical
from reference_impls.segmentation.maps import MapSegmenter, segment_map
from reference_impls.segmentation.unet import SegUNet, UNetSegmenter, load_seg_unet

__all__ = ["ClassicalSegmenter", "segment_classical", "MapSegmenter", "segment_map", "SegUNet",
           "UNetSegmenter", "load_seg_unet"]
