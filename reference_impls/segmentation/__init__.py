"""Reference segmentation methods: ``method(images, spacing_mm) -> labels``.

``images`` magnitude float ``(slice, frame, y, x)``, ``spacing_mm = (dy, dx)`` in mm; the
output is uint8 ``(slice, frame, y, x)`` in the ACDC convention (0 background, 1 RV blood pool,
2 LV myocardium, 3 LV blood pool). Registered methods: ``"classical"`` (no learning) and
``"unet"`` (2-D U-Net with shipped weights ``seg-unet``); accuracy on the phantom is in
``docs/segmentation-methods.md``.
"""

from reference_impls.segmentation.classical import ClassicalSegmenter, segment_classical
from reference_impls.segmentation.unet import SegUNet, UNetSegmenter, load_seg_unet

__all__ = ["ClassicalSegmenter", "segment_classical", "SegUNet", "UNetSegmenter",
           "load_seg_unet"]
