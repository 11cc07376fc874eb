"""The segmentation stage (:class:`SegmentationStage`) and its scoring helpers."""

from suite.stages.segmentation.scoring import segment, segmentation_rows
from suite.stages.segmentation.stage import SegmentationStage

__all__ = ["SegmentationStage", "segment", "segmentation_rows"]
