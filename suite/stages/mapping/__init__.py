"""The mapping stage (:class:`MappingStage`): weighted images + timings → T1/T2 maps, scored
against the phantom's truth maps and against the fit of the fully sampled images."""

from suite.stages.mapping.acquisition import case_acquisition
from suite.stages.mapping.inputs import (QUANTITY_OF_TIMING, case_quantities, case_quantity,
                                         timing_key, timing_keys, timings_array,
                                         weighted_images)
from suite.stages.mapping.scoring import MAPPING_SETTINGS, mapping_settings, map_rows
from suite.stages.mapping.stage import MappingStage

__all__ = ["MappingStage", "QUANTITY_OF_TIMING", "case_quantity", "case_quantities",
           "timing_key", "timing_keys", "case_acquisition", "timings_array",
           "weighted_images", "MAPPING_SETTINGS", "mapping_settings", "map_rows"]
