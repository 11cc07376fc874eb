"""T2-prepared single-shot bSSFP T2 mapping.

One image per T2-prep duration (0 = no preparation), each followed by ``recovery_beats`` beats
without acquisition; the T2 preparation (90°x–180°y–90°−x, hard pulses) ends where the readout
starts. Prep durations 0/24/55 ms as in JCMR 2013;15:27 (the 0/25/55 ms set often quoted is
unconfirmed); an optional saturation-prepared image (saturation just before the readout) gives
the "very long TE" point of the 3-parameter fit (Akçakaya et al., MRM 2015;74:93,
doi 10.1002/mrm.25377).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from suite.mr.sequences.readouts import BSSFPReadout
from suite.mr.sequences.schedule import Block, TriggeredSequence

__all__ = ["T2PrepBSSFP"]


@dataclass(frozen=True)
class T2PrepBSSFP(TriggeredSequence):
    """T2-prepared bSSFP acquisition.

    Attributes
    ----------
    prep_te_ms : tuple of float
        T2-prep durations, ms (0 = no preparation).
    recovery_beats : int
        Beats without acquisition between images (3 assumed; vendor values unconfirmed).
    saturation_image : bool
        Append an image with saturation immediately before the readout.
    readout : BSSFPReadout
    trigger_delay_ms : float or None
    """

    prep_te_ms: tuple = (0.0, 24.0, 55.0)
    recovery_beats: int = 3
    saturation_image: bool = False
    readout: BSSFPReadout = field(default_factory=lambda: BSSFPReadout(70.0, 2.5, 65, 28, 5))
    trigger_delay_ms: float | None = None

    @property
    def n_images(self) -> int:
        return len(self.prep_te_ms) + int(self.saturation_image)

    def blocks(self) -> list[Block]:
        out = []
        for i, te in enumerate(self.prep_te_ms):
            wait = 0 if i == 0 else self.recovery_beats
            out.append(Block(self.readout, "t2prep" if te > 0 else "none", float(te), wait))
        if self.saturation_image:
            out.append(Block(self.readout, "saturation", self.readout.centre_offset_ms,
                             self.recovery_beats))
        return out

