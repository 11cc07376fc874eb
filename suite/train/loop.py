"""The deterministic training loop shared by the networks ``cmrsuite train`` makes.

:func:`deterministic` runs a block with one torch intra-op thread, deterministic algorithms and
``torch.manual_seed(seed)`` (restored afterwards); :func:`train_steps` runs Adam with a cosine
learning-rate decay to a floor over ``steps`` mini-batches whose loss a callback computes, and
returns the :class:`~reference_impls.weights_io.TrainingResult`. The same configuration gives
byte-identical weights.
"""

from __future__ import annotations

import contextlib
import platform
import time
from typing import Callable

import numpy as np
import torch

from reference_impls.weights_io import TrainingResult

__all__ = ["deterministic", "train_steps", "training_record"]


@contextlib.contextmanager
def deterministic(seed: int):
    """One intra-op thread, deterministic algorithms and ``torch.manual_seed(seed)`` inside
    the block; the thread count and the algorithm setting are restored on exit."""
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)


def train_steps(net: torch.nn.Module, batch_loss: Callable[[int], torch.Tensor], *, steps: int,
                learning_rate: float, config, floor: float, log=None, log_every: int = 50,
                tail: int = 50) -> TrainingResult:
    """Train ``net`` for ``steps`` Adam steps on ``batch_loss(step)`` (a scalar tensor).

    The learning rate is ``learning_rate × (floor + (1 − floor)·½(1 + cos(π·step/steps)))``.
    ``log(str)`` gets the mean loss of the last ``log_every`` steps every ``log_every`` steps.
    Returns the final state dict (``net`` left in eval mode), ``config``, the loss per step,
    the wall time and ``tail`` (steps averaged by ``final_loss``).
    """
    opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: floor + (1.0 - floor) * 0.5 * (1 + np.cos(np.pi * min(s, steps)
                                                                  / max(steps, 1))))
    losses: list[float] = []
    t0 = time.perf_counter()
    net.train()
    for step in range(steps):
        loss = batch_loss(step)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log is not None and (step + 1) % log_every == 0:
            log(f"step {step + 1}/{steps}  loss {np.mean(losses[-log_every:]):.4f}  "
                f"({time.perf_counter() - t0:.0f} s)")
    net.eval()
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    return TrainingResult(state, config, losses, time.perf_counter() - t0, tail=tail)


def training_record(result: TrainingResult, simulation_seconds: float) -> dict:
    """The provenance tail of a weights record: losses, steps run, times, versions, platform."""
    return {
        "final_loss": result.final_loss,
        "loss_first": result.losses[0] if result.losses else None,
        "steps_run": len(result.losses),
        "simulation_seconds": round(simulation_seconds, 1),
        "training_seconds": round(result.seconds, 1),
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "platform": platform.platform(),
    }
