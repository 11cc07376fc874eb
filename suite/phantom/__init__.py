"""Numerical cardiac phantom: a 3-D beating heart in scanner coordinates with exact truth
(DESIGN.md, "The built-in phantom"; docs/phantom.md).

Public API::

    simulate(seed=0, preset="siemens-1.5t", pathology="normal", view="sax", contrast="cine",
             **overrides) -> Case
    simulate_views(seed, preset, pathology, views=VIEWS, contrast="cine", **overrides)
        -> {view: Case}
    cohort(n, seed, preset=None, pathology=None) -> list[SubjectSpec]
    write_cohort(out_dir, n_subjects, seed, preset=None, pathology=None, views=("sax",))
        -> Path (truth.csv)
    displacement_field(case, moving_frame, fixed_frame) -> DisplacementField
    convert_labels(extended, convention) -> labels

Tables (presets, pathologies, tissues, SNR definition) are in docs/phantom.md.
"""

from suite.phantom.cohort import SubjectSpec, cohort
from suite.phantom.labels import CONVENTIONS, EXTENDED_LABELS, convert_labels
from suite.phantom.motion_truth import DisplacementField, displacement_field, landmarks_in_view
from suite.phantom.pathology import PATHOLOGIES, PathologyRanges
from suite.phantom.presets import PRESETS, VENDOR_PRESETS, Preset
from suite.phantom.signal import bssfp_signal
from suite.phantom.simulate import CONTRASTS, OVERRIDES, PHANTOM_VERSION, simulate, simulate_views
from suite.phantom.tissue import TISSUE_TABLE, tissue_properties
from suite.phantom.views import VIEWS
from suite.phantom.writer import write_cohort

__all__ = [
    "simulate", "simulate_views", "cohort", "write_cohort", "SubjectSpec", "PRESETS",
    "VENDOR_PRESETS", "Preset", "PATHOLOGIES", "PathologyRanges", "TISSUE_TABLE",
    "tissue_properties", "bssfp_signal", "OVERRIDES", "PHANTOM_VERSION", "VIEWS", "CONTRASTS",
    "EXTENDED_LABELS", "CONVENTIONS", "convert_labels", "displacement_field",
    "DisplacementField", "landmarks_in_view",
]
