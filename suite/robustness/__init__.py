"""Robustness: worst-case and random perturbations, small-feature recovery (issue 6).

* :mod:`suite.robustness.adversarial`: projected gradient ascent on reconstructions in k-space
  (Darestani et al. 2021) and in the image domain (Antun et al. 2020), torchattacks FGSM / PGD /
  PGD-L2 on segmentation networks, random perturbations of the same norm, black-box random
  search, and the instability ratio;
* :mod:`suite.robustness.features`: small structures inserted into fully sampled data and
  their recovery by a reconstruction (window error, contrast, detectability).

The lead's runner phase and the domain-shift analysis (:mod:`suite.robustness.shift`) build on
these; see docs/robustness.md.
"""

from suite.robustness.adversarial import (
    PerturbationResult, attack_recon, attack_segmentation, instability_ratio, instability_ratios,
    is_differentiable, random_recon, random_segmentation,
)
from suite.robustness.features import FeatureRecovery, FeatureSet, feature_recovery, insert_features

__all__ = ["PerturbationResult", "attack_recon", "random_recon", "attack_segmentation",
           "random_segmentation", "is_differentiable", "instability_ratio", "instability_ratios",
           "FeatureSet", "FeatureRecovery", "insert_features", "feature_recovery"]
