"""ECG-triggered scheduling of prepared readouts on the actual R waves of a subject.

Every sequence of this package is a list of :class:`Block` s (an optional preparation and a
readout, triggered by an R wave); :func:`schedule` places them on the R waves given by the RR
intervals and returns the :class:`~.events.Program`. Rules (stated, not taken from a vendor):

* R wave ``k`` is at ``sum(rr_ms[:k])`` (R wave 0 at t = 0); each block's k-space centre echo is
  at ``R_k + trigger_delay_ms`` (fixed for the whole scan, as prospective triggering is).
* A block waits ``wait_beats`` R waves after the previous block's beat (MOLLI recovery beats).
* A trigger that arrives before the previous readout has ended (premature beat, arrhythmia),
  or whose preparation would start before that, is ignored and the block takes the next R
  wave, as scanners skip triggers during acquisition; TI/TS then follow the real times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suite.mr.sequences.events import Delay, Inversion, Program, Saturation, T2Prep, Timings

__all__ = ["Block", "schedule", "r_wave_times", "default_trigger_delay_ms", "TriggeredSequence"]


@dataclass(frozen=True)
class Block:
    """One triggered readout and its preparation.

    Attributes
    ----------
    readout : BSSFPReadout | SpoiledGREReadout | FISPReadout
    prep : str
        ``"none"``, ``"inversion"``, ``"saturation"`` or ``"t2prep"``.
    prep_ms : float
        Inversion: TI from the inversion to the block's first recorded echo; saturation: TS
        from the saturation to that echo; T2 prep: the prep duration TE (it ends where the
        readout starts). Ignored for ``"none"``.
    wait_beats : int
        R waves left without acquisition before this block (after the previous block's beat).
    saturation_efficiency : float
        Saturation efficiency (1 = ideal) for ``prep="saturation"``.
    """

    readout: object
    prep: str = "none"
    prep_ms: float = 0.0
    wait_beats: int = 0
    saturation_efficiency: float = 1.0


def r_wave_times(rr_ms) -> np.ndarray:
    """R-wave times ``(n_rr + 1,)`` in ms from RR intervals ``(n_rr,)`` (first R wave at 0)."""
    rr = np.asarray(rr_ms, dtype=np.float64).reshape(-1)
    if rr.size == 0 or not np.all(np.isfinite(rr)) or np.any(rr <= 0):
        raise ValueError(f"rr_ms: need a non-empty series of finite RR intervals > 0 ms; got {rr}")
    return np.concatenate([[0.0], np.cumsum(rr)])


def default_trigger_delay_ms(rr_ms, readout) -> float:
    """Trigger delay (R wave → k-space centre) chosen once from the median RR, ms.

    Centre at mid-diastole, ``(T_sys + RR)/2`` with ``T_sys = 380·log10(10·(RR/1000 + 0.07))`` ms,
    the systole model of the HMS-CardiacMR/ImprovingMyoMapNetT1Estimation simulator
    (``MolliSimulation/MOLLI53Sim.m``), then moved earlier if the readout would not end 10 ms
    before the next R wave (and never before the readout can start at the R wave).
    """
    rr = float(np.median(np.asarray(rr_ms, dtype=np.float64)))
    t_sys = 380.0 * math.log10(10.0 * (rr / 1000.0 + 0.07))
    centre = 0.5 * (t_sys + rr)
    after = readout.duration_ms - readout.centre_offset_ms
    centre = min(centre, rr - after - 10.0)
    return max(centre, readout.centre_offset_ms)


def schedule(blocks, rr_ms, trigger_delay_ms: float) -> Program:
    """Place ``blocks`` on the R waves of ``rr_ms``; see the module docstring for the rules.

    Raises
    ------
    ValueError
        If the RR series is too short for the blocks (the message gives the beats needed), or
        an inversion/saturation would fall inside its own readout (TI/TS shorter than the time
        from the readout start to its first recorded echo).
    """
    r = r_wave_times(rr_ms)
    events, rows = [], []
    t = None
    busy = -math.inf
    beat = 0
    last_inv = last_sat = math.nan
    for i, b in enumerate(blocks):
        ro = b.readout
        if b.prep in ("inversion", "saturation") and b.prep_ms < ro.centre_offset_ms:
            raise ValueError(f"schedule: block {i}: {b.prep} {b.prep_ms} ms before the echo lies "
                             f"inside the readout (its first echo is {ro.centre_offset_ms} ms "
                             "after the readout starts)")
        beat += b.wait_beats
        while True:
            if beat >= len(r):
                raise ValueError(f"schedule: the RR series has {len(r)} R waves but block {i} "
                                 f"of {len(blocks)} needs R wave {beat}; give more RR intervals")
            echo = r[beat] + trigger_delay_ms
            start = echo - ro.centre_offset_ms
            prep_at = {"inversion": echo - b.prep_ms, "saturation": echo - b.prep_ms,
                       "t2prep": start - b.prep_ms}.get(b.prep, start)
            if r[beat] >= busy and prep_at >= busy:
                break
            beat += 1
        if t is None:
            t = prep_at
        if b.prep != "none":
            events.append(Delay(prep_at - t))
            if b.prep == "inversion":
                events.append(Inversion())
                last_inv = prep_at
            elif b.prep == "saturation":
                events.append(Saturation(b.saturation_efficiency))
                last_sat = prep_at
            elif b.prep == "t2prep":
                events.append(T2Prep(b.prep_ms))
            else:
                raise ValueError(f"schedule: block {i}: unknown prep {b.prep!r}; use none, "
                                 "inversion, saturation or t2prep")
            t = prep_at + (b.prep_ms if b.prep == "t2prep" else 0.0)
        events.append(Delay(start - t))
        train = ro.train()
        events.append(train)
        for k in train.record:
            tk = start + k * train.tr_ms + train.te_ms
            rows.append((tk, r[beat], beat, tk - last_inv, tk - last_sat,
                         b.prep_ms if b.prep == "t2prep" else 0.0))
        t = busy = start + train.duration_ms
        beat += 1
    a = np.array(rows, dtype=np.float64).reshape(-1, 6)
    timings = Timings(a[:, 0], a[:, 1], a[:, 2].astype(np.int64), a[:, 3], a[:, 4], a[:, 5],
                      np.arange(len(a), dtype=np.int64))
    return Program(tuple(e for e in events if not (isinstance(e, Delay) and e.ms == 0)), timings)


class TriggeredSequence:
    """Base of the sequence descriptions: ``program(rr_ms)`` from ``blocks()``.

    Subclasses (frozen dataclasses) provide ``blocks()``, ``readout`` and ``trigger_delay_ms``
    (None: :func:`default_trigger_delay_ms` of the RR series for ``readout``).
    """

    def program(self, rr_ms) -> Program:
        """Events and timings for the RR series ``rr_ms`` (ms, one entry per beat)."""
        delay = self.trigger_delay_ms
        if delay is None:
            delay = default_trigger_delay_ms(np.asarray(rr_ms), self.readout)
        return schedule(self.blocks(), rr_ms, delay)
