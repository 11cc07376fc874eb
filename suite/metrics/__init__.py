"""Metrics: pure functions of (reference, prediction, meta) returning per-case values.

``image`` (NMSE/PSNR/SSIM with scoring profiles), ``cmrxrecon_profile`` (the CMRxRecon
ranking selection those profiles and the submission files share, with
:func:`~suite.metrics.cmrxrecon_profile.prepare_for_ranking`), ``temporal`` (temporal
fidelity), ``segmentation`` (Dice, HD, HD95, ASSD, NSD with empty-mask policies), ``clinical``
(volumes, EF, mass) and ``reduce`` (the one aggregation of the suite).
"""

from suite.metrics import clinical, cmrxrecon_profile, image, reduce, segmentation, temporal
from suite.metrics.cmrxrecon_profile import prepare_for_ranking

__all__ = ["image", "cmrxrecon_profile", "prepare_for_ranking", "temporal", "segmentation",
           "clinical", "reduce"]
