"""The mapping stage (:class:`MappingStage`): weighted images + timings → T1/T2 maps, scored
against the phantom's truth maps and against the fit of the fully sampled images; and the
``mapseg`` stage (:class:`MapSegmentationStage`): a segmentation of the fitted map → global
and AHA segmental values read in the predicted labels."""

from suite.stages.mapping.acquisition import case_acquisition
from suite.stages.mapping.inputs import (QUANTITY_OF_TIMING, case_quantities, case_quantity,
                                         timing_key, timing_keys, timings_array,
                                         weighted_images)
from suite.stages.mapping.scoring import MAPPING_SETTINGS, mapping_settings, map_rows
from suite.stages.mapping.stage import MappingStage
from suite.stages.mapping.segmental import MapSegmentationStage

__all__ = ["MappingStage", "MapSegmentationStage", "QUANTITY_OF_TIMING", "case_quantity", "case_quantities",
           "timing_key", "timing_keys", "case_acquisition", "timings_array",
           "weighted_images", "MAPPING_SETTINGS", "mapping_settings", "map_rows"]
