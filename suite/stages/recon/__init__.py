"""The reconstruction stage (:class:`ReconStage`) and its scoring reference."""

from suite.stages.recon.reference import PSEUDO_METHODS, reference_magnitude
from suite.stages.recon.stage import ReconStage, image_profiles

__all__ = ["ReconStage", "reference_magnitude", "image_profiles", "PSEUDO_METHODS"]
