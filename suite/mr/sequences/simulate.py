"""Run a :class:`Program` on the EPG or the Bloch engine, vectorised over pixels."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch

from suite.mr.sequences.bloch import BlochEngine
from suite.mr.sequences.epg import EPGEngine
from suite.mr.sequences.events import Delay, Inversion, Program, Saturation, T2Prep, Timings, Train
from suite.mr.sequences.tissue import Tissue

__all__ = ["SimulatedSignal", "simulate_epg", "simulate_bloch", "run_program", "torch_threads"]


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` torch intra-op threads (restored afterwards); None: unchanged.

    The per-pulse tensors of a simulation are small, so thread synchronisation can cost more
    than it gains on a shared machine (measured: an MRF dictionary of 5,177 atoms took 46 s
    with two busy threads and 1.5 s with one).
    """
    before = torch.get_num_threads()
    try:
        if n is not None:
            torch.set_num_threads(int(n))
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class SimulatedSignal:
    """Simulated k-space-centre signals of a program.

    Attributes
    ----------
    signal : Tensor, complex, ``(n_pixels, n_samples)``
        ``m0 ×`` demodulated echo (receiver phase such that exciting ``+Mz`` with a pulse of
        phase φ gives a positive real signal: the echo is multiplied by ``i·exp(−iφ)``).
    timings : Timings
    engine : str
        ``"epg"`` or ``"bloch"``, with its size (states or isochromats).
    """

    signal: torch.Tensor
    timings: Timings
    engine: str

    def to_dict(self) -> dict:
        return {"engine": self.engine, "n_pixels": int(self.signal.shape[0]),
                "timings": self.timings.to_dict()}

    def summary(self) -> str:
        """One line: engine, pixels, samples and the TI/TS range."""
        t = self.timings
        return (f"{self.engine}: {self.signal.shape[0]} pixels × {self.signal.shape[1]} samples "
                f"over {len(set(t.beat.tolist()))} beats")


def run_program(program: Program, engine, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Execute ``program`` on an engine (``EPGEngine`` or ``BlochEngine``); ``(n, n_samples)``."""
    out = []
    for ev in program.events:
        if isinstance(ev, Delay):
            engine.free(ev.ms)
        elif isinstance(ev, Inversion):
            engine.scale_longitudinal(-params["inversion_efficiency"])
        elif isinstance(ev, Saturation):
            engine.scale_longitudinal(1.0 - ev.efficiency)
        elif isinstance(ev, T2Prep):
            engine.pulse(math.pi / 2, 0.0)
            engine.free(ev.te_ms / 2)
            engine.pulse(math.pi, math.pi / 2)
            engine.free(ev.te_ms / 2)
            engine.pulse(math.pi / 2, math.pi)
            engine.spoil()
        elif isinstance(ev, Train):
            rec = set(ev.record)
            for k, (a, ph) in enumerate(zip(ev.flips_rad, ev.phases_rad)):
                engine.pulse(a, ph)
                engine.free(ev.te_ms)
                if k in rec:
                    out.append(engine.signal() * (1j * complex(math.cos(ph), -math.sin(ph))))
                engine.free(ev.tr_ms - ev.te_ms)
                if ev.dephase:
                    engine.dephase()
                if ev.spoil:
                    engine.spoil()
        else:
            raise TypeError(f"run_program: unknown event {ev!r}")
    n = params["t1_ms"].shape[0]
    if not out:
        return torch.zeros(n, 0, dtype=engine.signal().dtype)
    return torch.stack(out, 1) * params["m0"][:, None]


def simulate_epg(program: Program, tissue: Tissue, n_states: int = 20,
                 dtype: torch.dtype = torch.float64, n_threads: int | None = 1) -> SimulatedSignal:
    """Simulate ``program`` for every pixel of ``tissue`` with the EPG engine.

    Parameters
    ----------
    program : Program
        From a sequence description's ``program(rr_ms)``.
    tissue : Tissue
        ``n`` pixels (T1/T2 in ms, m0, b1, off-resonance in Hz, inversion efficiency).
    n_states : int
        EPG orders kept; 1 is exact for bSSFP and ideally spoiled readouts (no dephasing).
    dtype : torch.dtype
        Real precision (float64 default; float32 for large dictionaries).
    n_threads : int or None
        torch intra-op threads during the run (:func:`torch_threads`; None: unchanged).

    Returns
    -------
    SimulatedSignal
        ``signal`` ``(n, n_samples)`` complex and the program's timings.
    """
    params = tissue.tensors(dtype)
    with torch_threads(n_threads):
        sig = run_program(program, EPGEngine(params, n_states), params)
    return SimulatedSignal(sig, program.timings, f"epg({n_states} states)")


def simulate_bloch(program: Program, tissue: Tissue, n_isochromats: int = 1,
                   dtype: torch.dtype = torch.float64, n_threads: int | None = 1) -> SimulatedSignal:
    """Simulate ``program`` with the isochromat Bloch engine (see :func:`simulate_epg`).

    ``n_isochromats`` spins per pixel model intra-voxel dephasing of unbalanced gradients
    (use several hundred for a FISP/MRF train; 1 suffices for bSSFP and ideal spoiling).
    """
    params = tissue.tensors(dtype)
    with torch_threads(n_threads):
        sig = run_program(program, BlochEngine(params, n_isochromats), params)
    return SimulatedSignal(sig, program.timings, f"bloch({n_isochromats} isochromats)")
