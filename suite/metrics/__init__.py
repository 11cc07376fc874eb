"""Metrics: pure functions of (reference, prediction, meta) returning per-case values.

``image`` (NMSE/PSNR/SSIM with scoring profiles), ``temporal`` (temporal fidelity),
``segmentation`` (Dice, HD, HD95, ASSD, NSD with empty-mask policies), ``clinical`` (volumes,
EF, mass) and ``reduce`` (the one aggregation of the suite).
"""

from suite.metrics import clinical, image, reduce, segmentation, temporal

__all__ = ["image", "temporal", "segmentation", "clinical", "reduce"]
