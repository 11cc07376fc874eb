"""Metrics: pure functions of (reference, prediction, meta) returning per-case values.

``contract`` (the one metric declaration, direction vocabulary and row type, with the
registry every consumer reads), ``image`` (NMSE/PSNR/SSIM with scoring profiles),
``cmrxrecon_profile`` (the CMRxRecon ranking selection those profiles and the submission files
share, with :func:`~suite.metrics.cmrxrecon_profile.prepare_for_ranking`), ``temporal``
(temporal fidelity), ``segmentation`` (Dice, HD, HD95, ASSD, NSD with empty-mask policies),
``clinical`` (volumes, EF, mass, with physiological validity), ``mapping`` (T1/T2/ECV map
accuracy, precision, map scoring), ``repeatability`` (QIBA wSD, RC, wCV of repeated
measurements), ``aha`` (AHA 16/17-segment model of a short-axis label stack and segment
means), ``robustness`` (declarations of
the perturbation and feature measures) and ``reduce`` (the one aggregation of the suite).
Importing this package declares every built-in metric.
"""

from suite.metrics import (aha, clinical, cmrxrecon_profile, contract, image, mapping,
                           reduce, repeatability, robustness, segmentation, temporal)
from suite.metrics.cmrxrecon_profile import prepare_for_ranking

__all__ = ["contract", "image", "cmrxrecon_profile", "prepare_for_ranking", "temporal",
           "segmentation", "clinical", "mapping", "repeatability", "aha", "robustness", "reduce"]
