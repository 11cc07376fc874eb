"""Phantom mapping acquisitions with exact truth: MOLLI/ShMOLLI/SASHA T1, T2-prep T2, cardiac
MRF, native and post-contrast with a known ECV (docs/mapping-physics.md).

Public API::

    simulate_mapping(seed, pathology="normal", ...) -> MappingSubject
    write_mapping_subject(folder, subject) -> dict of written paths
"""

from suite.phantom.mapping.acquire import (
    SEQUENCES, Imperfections, MappingSeries, acquire_series, majority_regions, truth_maps,
)
from suite.phantom.mapping.anatomy import REGIONS, MappingAnatomy, mapping_anatomy
from suite.phantom.mapping.relaxation import (
    MAPPING_PATHOLOGIES, MYOCARDIAL_STATES, ContrastModel, MyocardialState, RelaxationMaps,
    relaxation_maps,
)
from suite.phantom.mapping.rr import ARRHYTHMIAS, rr_series
from suite.phantom.mapping.segments import SEGMENT_TRUTH_MAPS, segment_truth_table
from suite.phantom.mapping.subject import MappingSubject, simulate_mapping
from suite.phantom.mapping.writer import write_mapping_subject

__all__ = [
    "simulate_mapping", "MappingSubject", "write_mapping_subject", "SEQUENCES", "Imperfections",
    "MappingSeries", "acquire_series", "truth_maps", "majority_regions", "REGIONS",
    "MappingAnatomy", "mapping_anatomy", "MAPPING_PATHOLOGIES", "MYOCARDIAL_STATES",
    "ContrastModel", "MyocardialState", "RelaxationMaps", "relaxation_maps", "ARRHYTHMIAS",
    "rr_series", "segment_truth_table", "SEGMENT_TRUTH_MAPS",
]
