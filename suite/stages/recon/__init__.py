"""The reconstruction stage (:class:`ReconStage`) and its scoring reference."""

from suite.stages.recon.reference import PSEUDO_METHODS, image_profiles, reference_magnitude
from suite.stages.recon.stage import ReconStage

__all__ = ["ReconStage", "reference_magnitude", "image_profiles", "PSEUDO_METHODS"]
