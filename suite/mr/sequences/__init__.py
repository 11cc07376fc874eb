"""Signal physics of cardiac mapping sequences: EPG and Bloch engines, ECG-triggered schedules.

Inputs are per-pixel arrays (:class:`Tissue`: T1, T2 in ms, M0, B1 scale, off-resonance in Hz,
inversion efficiency); a sequence description (MOLLI, ShMOLLI, SASHA, T2-prepared bSSFP,
cardiac MRF) turns a subject's RR intervals into a :class:`Program` (events + timings), which
:func:`simulate_epg` or :func:`simulate_bloch` runs for all pixels at once (torch; autograd
flows through for model-based fits). Physics and known biases: docs/mapping-physics.md.
"""

from suite.mr.sequences.acquisition import (
    RR_MODES, SEQUENCE_NAMES, MappingAcquisition, window_matrix,
)
from suite.mr.sequences.events import (
    Delay, Inversion, Program, Saturation, T2Prep, Timings, Train,
)
from suite.mr.sequences.molli import MOLLI, molli_3_3_3_3_5, molli_4_1_3_1_2, molli_5_3_3, shmolli
from suite.mr.sequences.mrf import CardiacMRF
from suite.mr.sequences.readouts import BSSFPReadout, FISPReadout, SpoiledGREReadout
from suite.mr.sequences.sasha import SASHA
from suite.mr.sequences.schedule import Block, default_trigger_delay_ms, r_wave_times, schedule
from suite.mr.sequences.simulate import (
    SimulatedSignal, simulate_bloch, simulate_epg, torch_threads,
)
from suite.mr.sequences.t2prep_bssfp import T2PrepBSSFP
from suite.mr.sequences.tissue import Tissue

__all__ = [
    "Tissue", "Program", "Timings", "Delay", "Inversion", "Saturation", "T2Prep", "Train",
    "BSSFPReadout", "SpoiledGREReadout", "FISPReadout", "Block", "schedule", "r_wave_times",
    "default_trigger_delay_ms", "MOLLI", "molli_5_3_3", "molli_4_1_3_1_2", "molli_3_3_3_3_5",
    "shmolli", "SASHA", "T2PrepBSSFP", "CardiacMRF", "SimulatedSignal", "simulate_epg",
    "simulate_bloch", "torch_threads", "MappingAcquisition", "SEQUENCE_NAMES", "RR_MODES",
    "window_matrix",
]
