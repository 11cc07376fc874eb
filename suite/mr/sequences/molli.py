"""MOLLI and ShMOLLI: ECG-triggered Look-Locker inversion-recovery schemes with bSSFP readouts.

Notation ``n1(r1)n2(r2)n3``: ``n`` single-shot images after each inversion, one per beat, and
``r`` recovery beats without acquisition (Messroghli et al., MRM 2004;52:141,
doi 10.1002/mrm.20110). TI of an image is the time from its inversion to its k-space centre;
with a fixed trigger delay it is ``TI_min,j + Σ RR`` of the beats elapsed in that inversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from suite.mr.sequences.readouts import BSSFPReadout
from suite.mr.sequences.schedule import Block, TriggeredSequence

__all__ = ["MOLLI", "molli_5_3_3", "molli_4_1_3_1_2", "molli_3_3_3_3_5", "shmolli"]

_SCHEME = re.compile(r"^\d+(\(\d+\)\d+)*$")


@dataclass(frozen=True)
class MOLLI(TriggeredSequence):
    """A MOLLI-type scheme (also ShMOLLI, which differs only in its scheme and fit).

    Attributes
    ----------
    images : tuple of int
        Images per inversion (``(5, 3)`` for 5(3)3).
    recovery_beats : tuple of int
        Beats without acquisition between inversions (``len(images) − 1`` entries).
    first_ti_ms : tuple of float
        TI of the first image after each inversion (inversion → k-space centre), ms.
    readout : BSSFPReadout
    trigger_delay_ms : float or None
        R wave → k-space centre; None: :func:`~.schedule.default_trigger_delay_ms` of the series.
    """

    images: tuple
    recovery_beats: tuple
    first_ti_ms: tuple
    readout: BSSFPReadout = field(default_factory=BSSFPReadout)
    trigger_delay_ms: float | None = None

    def __post_init__(self):
        n = len(self.images)
        if n < 1 or len(self.recovery_beats) != n - 1 or len(self.first_ti_ms) != n:
            raise ValueError("MOLLI: need len(recovery_beats) == len(images) - 1 == "
                             f"len(first_ti_ms) - 1; got images={self.images}, recovery_beats="
                             f"{self.recovery_beats}, first_ti_ms={self.first_ti_ms}")
        if any(i < 1 for i in self.images) or any(r < 0 for r in self.recovery_beats):
            raise ValueError(f"MOLLI: images must be >= 1 and recovery beats >= 0; got "
                             f"{self.images}, {self.recovery_beats}")

    @classmethod
    def from_scheme(cls, scheme: str, first_ti_ms, **kwargs) -> "MOLLI":
        """Build from the usual notation, e.g. ``MOLLI.from_scheme("4(1)3(1)2", (120, 200, 280))``."""
        s = scheme.replace("-", "").replace(" ", "")
        if not _SCHEME.match(s):
            raise ValueError(f"MOLLI.from_scheme: `scheme` must look like '5(3)3' or "
                             f"'4(1)3(1)2'; got {scheme!r}")
        nums = [int(x) for x in re.findall(r"\d+", s)]
        return cls(tuple(nums[0::2]), tuple(nums[1::2]), tuple(float(t) for t in first_ti_ms),
                   **kwargs)

    @property
    def scheme(self) -> str:
        out = str(self.images[0])
        for r, n in zip(self.recovery_beats, self.images[1:]):
            out += f"({r}){n}"
        return out

    @property
    def n_images(self) -> int:
        return int(sum(self.images))

    @property
    def n_beats(self) -> int:
        """Heartbeats the scheme needs when no trigger is skipped."""
        return int(sum(self.images) + sum(self.recovery_beats))

    def blocks(self) -> list[Block]:
        out = []
        for j, n in enumerate(self.images):
            for k in range(n):
                prep = "inversion" if k == 0 else "none"
                wait = self.recovery_beats[j - 1] if (k == 0 and j > 0) else 0
                out.append(Block(self.readout, prep, self.first_ti_ms[j], wait))
        return out


def molli_5_3_3(**kwargs) -> MOLLI:
    """Native MOLLI 5(3)3, TI 100/180 ms (ckolbPTB/mrseq ``t1_molli_bssfp.py`` timings)."""
    return MOLLI.from_scheme("5(3)3", (100.0, 180.0), **kwargs)


def molli_4_1_3_1_2(**kwargs) -> MOLLI:
    """Post-contrast MOLLI 4(1)3(1)2, TI 120/200/280 ms (HMS-CardiacMR ``MOLLI432Sim.m``)."""
    return MOLLI.from_scheme("4(1)3(1)2", (120.0, 200.0, 280.0), **kwargs)


def molli_3_3_3_3_5(**kwargs) -> MOLLI:
    """Original MOLLI 3(3)3(3)5 (17 beats; Messroghli 2004), TI 100/180/260 ms (assumed)."""
    return MOLLI.from_scheme("3(3)3(3)5", (100.0, 180.0, 260.0), **kwargs)


def shmolli(**kwargs) -> MOLLI:
    """ShMOLLI 5(1)1(1)1 in 9 beats (Piechnik et al., JCMR 2010;12:69,
    doi 10.1186/1532-429X-12-69); TI 100/180/260 ms assumed (not confirmed in a stored source).

    The conditional use of images 6-7 is a fitting rule, not part of the acquisition.
    """
    return MOLLI.from_scheme("5(1)1(1)1", (100.0, 180.0, 260.0), **kwargs)
