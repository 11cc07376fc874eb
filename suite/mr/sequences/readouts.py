"""Single-shot readouts: balanced SSFP with ramp-up, ideally spoiled GRE, and FISP (MRF).

Each readout is a small frozen description that makes one :class:`~.events.Train` and knows
when, after its first pulse, its k-space centre echo occurs (``centre_offset_ms``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from suite.mr.sequences.events import Train

__all__ = ["BSSFPReadout", "SpoiledGREReadout", "FISPReadout"]


def _check_lines(name, n_lines, centre_line, tr_ms, te_ms):
    if n_lines < 1 or not 0 <= centre_line < n_lines:
        raise ValueError(f"{name}: need n_lines >= 1 and 0 <= centre_line < n_lines; got "
                         f"n_lines={n_lines}, centre_line={centre_line}")
    if not 0 <= te_ms <= tr_ms:
        raise ValueError(f"{name}: need 0 <= TE <= TR; got TE={te_ms} ms, TR={tr_ms} ms")


@dataclass(frozen=True)
class BSSFPReadout:
    """Balanced SSFP single-shot readout with linear ramp-up pulses.

    Pulses alternate in phase (0, π, 0, ...), TE = TR/2. ``n_ramp`` ramp-up pulses of flip
    ``flip·(k+1)/(n_ramp+1)`` (k = 0 … n_ramp−1) precede the ``n_lines`` imaging pulses; the
    k-space centre is imaging line ``centre_line`` (0-based; linear ordering, partial Fourier
    moves it towards the start). Defaults follow the MOLLI simulator of
    HMS-CardiacMR/ImprovingMyoMapNetT1Estimation (``MolliSimulation/MOLLI53Sim.m``: 35°,
    TR ≈ 2.5 ms, 65 lines after 7/8 partial Fourier and GRAPPA 2, 5 linear ramp pulses,
    centre line 28).
    """

    flip_deg: float = 35.0
    tr_ms: float = 2.5
    n_lines: int = 65
    centre_line: int = 28
    n_ramp: int = 5

    def __post_init__(self):
        _check_lines("BSSFPReadout", self.n_lines, self.centre_line, self.tr_ms, self.tr_ms / 2)

    @property
    def n_pulses(self) -> int:
        return self.n_ramp + self.n_lines

    @property
    def centre_offset_ms(self) -> float:
        """Time from the first pulse to the centre-line echo, ms."""
        return (self.n_ramp + self.centre_line) * self.tr_ms + self.tr_ms / 2

    @property
    def duration_ms(self) -> float:
        return self.n_pulses * self.tr_ms

    def train(self) -> Train:
        a = math.radians(self.flip_deg)
        flips = [a * (k + 1) / (self.n_ramp + 1) for k in range(self.n_ramp)]
        flips += [a] * self.n_lines
        phases = tuple(math.pi * (k % 2) for k in range(self.n_pulses))
        return Train(tuple(flips), phases, self.tr_ms, self.tr_ms / 2,
                     (self.n_ramp + self.centre_line,))


@dataclass(frozen=True)
class SpoiledGREReadout:
    """Spoiled gradient echo (FLASH) with ideal RF spoiling (transverse destroyed every TR)."""

    flip_deg: float = 12.0
    tr_ms: float = 3.0
    te_ms: float = 1.5
    n_lines: int = 65
    centre_line: int = 28

    def __post_init__(self):
        _check_lines("SpoiledGREReadout", self.n_lines, self.centre_line, self.tr_ms, self.te_ms)

    @property
    def n_pulses(self) -> int:
        return self.n_lines

    @property
    def centre_offset_ms(self) -> float:
        return self.centre_line * self.tr_ms + self.te_ms

    @property
    def duration_ms(self) -> float:
        return self.n_lines * self.tr_ms

    def train(self) -> Train:
        a = math.radians(self.flip_deg)
        return Train((a,) * self.n_lines, (0.0,) * self.n_lines, self.tr_ms, self.te_ms,
                     (self.centre_line,), spoil=True)


@dataclass(frozen=True)
class FISPReadout:
    """Unbalanced (FISP) train with variable flip angles; every echo is recorded (MRF).

    One unbalanced gradient moment per TR, no RF spoiling, RF phase 0.
    """

    flips_deg: tuple
    tr_ms: float = 5.0
    te_ms: float = 1.0

    def __post_init__(self):
        _check_lines("FISPReadout", len(self.flips_deg), 0, self.tr_ms, self.te_ms)

    @property
    def n_pulses(self) -> int:
        return len(self.flips_deg)

    @property
    def centre_offset_ms(self) -> float:
        """Time from the first pulse to the first recorded echo."""
        return self.te_ms

    @property
    def duration_ms(self) -> float:
        return self.n_pulses * self.tr_ms

    def train(self) -> Train:
        n = self.n_pulses
        return Train(tuple(math.radians(f) for f in self.flips_deg), (0.0,) * n, self.tr_ms,
                     self.te_ms, tuple(range(n)), dephase=True)
