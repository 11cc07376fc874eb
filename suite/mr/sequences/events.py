"""Timed events of a sequence program and the timings of its recorded samples.

A sequence description (MOLLI, SASHA, ...) turns a series of RR intervals into a
:class:`Program`: a flat tuple of events executed one after the other (no overlap) and a
:class:`Timings` table with one row per recorded sample (the k-space centre of each image, or
every repetition of an MRF train).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Delay", "Inversion", "Saturation", "T2Prep", "Train", "Program", "Timings"]


@dataclass(frozen=True)
class Delay:
    """Free relaxation and precession for ``ms`` milliseconds."""

    ms: float


@dataclass(frozen=True)
class Inversion:
    """Adiabatic inversion (instantaneous): transverse spoiled, ``Mz → −η·Mz``.

    ``η`` is the per-pixel ``Tissue.inversion_efficiency``.
    """


@dataclass(frozen=True)
class Saturation:
    """Saturation (instantaneous) with crusher: transverse spoiled, ``Mz → (1 − efficiency)·Mz``."""

    efficiency: float = 1.0


@dataclass(frozen=True)
class T2Prep:
    """T2 preparation ``90°x – TE/2 – 180°y – TE/2 – 90°(−x)`` + spoiler (hard pulses × b1).

    With ideal pulses and no T1 relaxation it leaves ``Mz = exp(−TE/T2)·Mz``, whatever the
    off-resonance (the 180°y refocuses it). Duration ``te_ms``.
    """

    te_ms: float


@dataclass(frozen=True)
class Train:
    """A train of hard pulses with constant TR; one repetition is

    pulse(flip_k, phase_k) – free(TE) – [record] – free(TR − TE) – [dephase] – [spoil].

    Attributes
    ----------
    flips_rad, phases_rad : tuple of float
        Nominal flip angle and RF phase of each pulse (rad).
    tr_ms, te_ms : float
    record : tuple of int
        Indices of the pulses whose echo (at TE) is recorded.
    dephase : bool
        An unbalanced gradient moment per TR (FISP / gradient-spoiled readout).
    spoil : bool
        Ideal RF spoiling per TR (transverse magnetisation destroyed).
    """

    flips_rad: tuple
    phases_rad: tuple
    tr_ms: float
    te_ms: float
    record: tuple
    dephase: bool = False
    spoil: bool = False

    @property
    def duration_ms(self) -> float:
        return len(self.flips_rad) * self.tr_ms


@dataclass(frozen=True)
class Timings:
    """Timings of each recorded sample, ``(n_samples,)`` arrays, ms from the first R wave.

    Attributes
    ----------
    time_ms : float64
        Absolute time of the sample (echo of the k-space centre line).
    trigger_ms : float64
        Time of the R wave that triggered the sample's readout.
    beat : int64
        Index of that R wave (0 = first).
    ti_ms : float64
        Time since the last inversion (NaN if none before the sample).
    ts_ms : float64
        Time since the last saturation (NaN if none).
    t2prep_ms : float64
        Duration of the T2 preparation that precedes this readout (0 if none).
    image : int64
        Image index of the sample (MRF: the sample index).
    """

    time_ms: np.ndarray
    trigger_ms: np.ndarray
    beat: np.ndarray
    ti_ms: np.ndarray
    ts_ms: np.ndarray
    t2prep_ms: np.ndarray
    image: np.ndarray

    def to_dict(self) -> dict:
        """JSON-safe lists (NaN kept as ``None``)."""
        def clean(a):
            return [None if (isinstance(v, float) and np.isnan(v)) else v for v in a.tolist()]
        return {k: clean(getattr(self, k)) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Program:
    """Events executed in order, and the timings of the samples the trains record."""

    events: tuple
    timings: Timings

    @property
    def duration_ms(self) -> float:
        """Total duration (sum of the delays and trains and T2 preparations)."""
        total = 0.0
        for e in self.events:
            if isinstance(e, Delay):
                total += e.ms
            elif isinstance(e, Train):
                total += e.duration_ms
            elif isinstance(e, T2Prep):
                total += e.te_ms
        return total
