"""SASHA: saturation-recovery single-shot bSSFP T1 mapping (one beat per image).

Ten ECG-triggered images: ``n_non_prepared`` without preparation, then one saturation-recovery
image per saturation time TS (saturation → k-space centre). Defaults follow the SASHA-VFA
abstract (JCMR 2014;16(Suppl 1):M9, doi 10.1186/1532-429X-16-S1-M9: 70°, TR 2.44 ms, nine TS
equally spaced 165–780 ms after the saturation, one non-saturated image); SASHA itself is
MRM 2014;71:2082 (doi 10.1002/mrm.24878). Here TS is measured to the k-space centre; some
implementations measure it to the readout start (kspaceKelvin/mSASHA-MRD-App) — convert with
``readout.centre_offset_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suite.mr.sequences.readouts import BSSFPReadout
from suite.mr.sequences.schedule import Block, TriggeredSequence

__all__ = ["SASHA"]


@dataclass(frozen=True)
class SASHA(TriggeredSequence):
    """SASHA acquisition.

    Attributes
    ----------
    ts_ms : tuple of float
        Saturation → k-space centre time of each saturation-recovery image, ms.
    saturation_efficiency : float
        1 = ideal saturation; ``Mz → (1 − efficiency)·Mz``.
    n_non_prepared : int
        Images without preparation acquired first (from equilibrium).
    readout : BSSFPReadout
    trigger_delay_ms : float or None
        None: the latest trigger delay the longest TS fits into at the median RR (at least
        the default mid-diastolic delay).
    """

    ts_ms: tuple = tuple(float(x) for x in np.linspace(165.0, 780.0, 9))
    saturation_efficiency: float = 1.0
    n_non_prepared: int = 1
    readout: BSSFPReadout = field(default_factory=lambda: BSSFPReadout(70.0, 2.44, 66, 30, 5))
    trigger_delay_ms: float | None = None

    @property
    def n_images(self) -> int:
        return self.n_non_prepared + len(self.ts_ms)

    def blocks(self) -> list[Block]:
        out = [Block(self.readout) for _ in range(self.n_non_prepared)]
        out += [Block(self.readout, "saturation", ts, 0, self.saturation_efficiency)
                for ts in self.ts_ms]
        return out

