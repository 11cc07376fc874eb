"""The segmentation stage (:class:`SegmentationStage`)."""

from suite.stages.segmentation.stage import (SegmentationStage, segment, segmentation_rows,
                                             spacing_3d)

__all__ = ["SegmentationStage", "segment", "segmentation_rows", "spacing_3d"]
