"""ECG-triggered cardiac MR fingerprinting (cMRF): 15 blocks of a FISP train, one per beat.

Block preparations repeat ``(inversion, none, T2 prep, T2 prep, T2 prep)`` three times;
every block is a FISP train of 47 pulses, flips ``linspace(4°, max, 16)`` then 31 × max,
with the maxima (12.5, 18.75, 25, 25, 25)° of the five blocks of each group: 705 samples.
These parameters follow the description of PTB-MR/mrpro ``CardiacFingerprinting``
(``src/mrpro/operators/models/cMRF.py``) and PTB-MR/cMRF ``write_spiral_cMRF.py`` (inversion
21 ms before the train, T2-prep 30/50/100 ms, trigger delay 400 ms); the method is Hamilton et
al., MRM 2017;77:1446 (doi 10.1002/mrm.26216), where a dictionary is simulated per scan from
the subject's RR intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.mr.sequences.readouts import FISPReadout
from suite.mr.sequences.schedule import Block, TriggeredSequence

__all__ = ["CardiacMRF"]


@dataclass(frozen=True)
class CardiacMRF(TriggeredSequence):
    """Cardiac MRF acquisition description.

    Attributes
    ----------
    preps : tuple of str
        Preparation of each block (``"inversion"``, ``"none"``, ``"t2prep"``).
    t2prep_te_ms : tuple of float
        Durations of the T2 preps, used in order within each group of five blocks.
    max_flip_deg : tuple of float
        Maximum flip of each block of a group.
    n_ramp, n_flat : int
        Pulses of the linear flip ramp from ``min_flip_deg`` and at the maximum.
    inversion_lead_ms : float
        Inversion → first pulse of the train.
    tr_ms, te_ms, trigger_delay_ms : float
        Trigger delay: R wave → first echo of the block.
    """

    preps: tuple = ("inversion", "none", "t2prep", "t2prep", "t2prep") * 3
    t2prep_te_ms: tuple = (30.0, 50.0, 100.0)
    max_flip_deg: tuple = (12.5, 18.75, 25.0, 25.0, 25.0)
    min_flip_deg: float = 4.0
    n_ramp: int = 16
    n_flat: int = 31
    inversion_lead_ms: float = 21.0
    tr_ms: float = 5.0
    te_ms: float = 1.0
    trigger_delay_ms: float = 400.0

    @property
    def n_blocks(self) -> int:
        return len(self.preps)

    @property
    def n_samples(self) -> int:
        return self.n_blocks * (self.n_ramp + self.n_flat)

    def readout(self, block: int) -> FISPReadout:
        mx = self.max_flip_deg[block % len(self.max_flip_deg)]
        flips = tuple(float(f) for f in np.linspace(self.min_flip_deg, mx, self.n_ramp))
        return FISPReadout(flips + (float(mx),) * self.n_flat, self.tr_ms, self.te_ms)

    def image_windows(self, images_per_block: int) -> tuple:
        """Sample indices of each image when every block is reconstructed as
        ``images_per_block`` images of consecutive repetitions (``numpy.array_split`` of the
        block's samples: 3 per block gives 16, 16 and 15 repetitions)."""
        per = self.n_ramp + self.n_flat
        if not 1 <= int(images_per_block) <= per:
            raise ValueError(f"CardiacMRF.image_windows: images_per_block must be in [1, {per}]; "
                             f"got {images_per_block}")
        return tuple(tuple(int(i) for i in part) for b in range(self.n_blocks)
                     for part in np.array_split(np.arange(b * per, (b + 1) * per),
                                                int(images_per_block)))

    def blocks(self) -> list[Block]:
        out, i_t2 = [], 0
        for b, prep in enumerate(self.preps):
            ro = self.readout(b)
            if prep == "inversion":
                out.append(Block(ro, prep, self.inversion_lead_ms + ro.centre_offset_ms))
            elif prep == "t2prep":
                te = self.t2prep_te_ms[i_t2 % len(self.t2prep_te_ms)]
                i_t2 += 1
                out.append(Block(ro, prep, te))
            else:
                out.append(Block(ro))
        return out

