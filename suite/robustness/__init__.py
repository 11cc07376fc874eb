"""Robustness: worst-case and random perturbations, small-feature recovery (issue 6).

* :mod:`suite.robustness.recon_attacks`: projected gradient ascent on reconstructions in
  k-space (Darestani et al. 2021) and in the image domain (Antun et al. 2020), random
  perturbations of the same norm and black-box random search;
* :mod:`suite.robustness.seg_attacks`: torchattacks FGSM / PGD / PGD-L2 on segmentation
  networks, random perturbations of the same norm and black-box random search;
* :mod:`suite.robustness.input_attacks`: the same for any stage, from the attack surface it
  declares (its input and its method as a map of it; white box when differentiable);
* :mod:`suite.robustness.instability`: the instability ratio (adversarial over random
  degradation);
* :mod:`suite.robustness.perturbation`: what these share (:class:`PerturbationResult`,
  :func:`is_differentiable`, budget checks, seeded random streams);
* :mod:`suite.robustness.features`: small structures inserted into fully sampled data and
  their recovery by a reconstruction (window error, contrast, detectability).

The stages' robustness experiments (:mod:`suite.stages`) and the domain-shift analysis
(:mod:`suite.robustness.shift`) build on these; see docs/robustness.md.
"""

from suite.robustness.features import FeatureRecovery, FeatureSet, feature_recovery, insert_features
from suite.robustness.input_attacks import AttackSurface, attack_input, random_input
from suite.robustness.instability import instability_ratio, instability_ratios
from suite.robustness.perturbation import PerturbationResult, is_differentiable
from suite.robustness.recon_attacks import attack_recon, random_recon, recon_perturbations
from suite.robustness.seg_attacks import attack_segmentation, random_segmentation

__all__ = ["PerturbationResult", "attack_recon", "random_recon", "recon_perturbations",
           "attack_segmentation",
           "random_segmentation", "is_differentiable", "instability_ratio", "instability_ratios",
           "FeatureSet", "FeatureRecovery", "insert_features", "feature_recovery",
           "AttackSurface", "attack_input", "random_input"]
