"""Numerical cardiac phantom: short-axis bSSFP cine with exact truth (DESIGN.md).

Public API::

    simulate(seed=0, preset="siemens-1.5t", pathology="normal", **overrides) -> Case
    cohort(n, seed, preset=None, pathology=None) -> list[SubjectSpec]
    write_cohort(out_dir, n_subjects, seed, preset=None, pathology=None) -> Path (truth.csv)

Tables (presets, pathologies, tissues, SNR definition) are in docs/phantom.md.
"""

from suite.phantom.cohort import SubjectSpec, cohort
from suite.phantom.pathology import PATHOLOGIES, PathologyRanges
from suite.phantom.presets import PRESETS, VENDOR_PRESETS, Preset
from suite.phantom.signal import bssfp_signal
from suite.phantom.simulate import OVERRIDES, PHANTOM_VERSION, simulate
from suite.phantom.tissue import TISSUE_TABLE, tissue_properties
from suite.phantom.writer import write_cohort

__all__ = [
    "simulate", "cohort", "write_cohort", "SubjectSpec", "PRESETS", "VENDOR_PRESETS", "Preset",
    "PATHOLOGIES", "PathologyRanges", "TISSUE_TABLE", "tissue_properties", "bssfp_signal",
    "OVERRIDES", "PHANTOM_VERSION",
]
