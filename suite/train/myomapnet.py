"""Training of the neural T1 estimator (:mod:`reference_impls.mapping.neural`) on simulated
MOLLI signals with known T1.

Data (:data:`MYOMAPNET_RECIPE`, recorded in ``myomapnet.json``): per-pixel signals of the first
inversion of MOLLI 5(3)3 simulated with the suite's sequence simulator
(:func:`suite.mr.sequences.simulate_epg`, one EPG state: exact for the bSSFP readout of
:class:`suite.mr.sequences.BSSFPReadout`, 35°, 5 ramp pulses, centre line 28). Each of
``n_series`` series has its own RR intervals (:func:`suite.phantom.mapping.rr.rr_series`: heart
rate U(40, 120) bpm, beat-to-beat SD U(0, 40) ms, 3 % respiratory modulation; the trigger delay
is the default mid-diastolic one of that RR series) and a first TI U(90, 130) ms; each of its
``pixels_per_series`` pixels draws

* T1 log-uniform in [150, 2500] ms (post-contrast blood to native blood at 3 T and beyond) and
  T2 log-uniform in [25, 300] ms (capped at T1),
* B1 scale U(0.8, 1.2), inversion efficiency U(0.88, 1.0), off-resonance U(−50, 50) Hz,
* noise: complex Gaussian of SD ``max_k |s_k| / SNR`` with SNR log-uniform in [15, 300] (one
  pixel in ten noise-free); the network sees the magnitude (Rician), as MOLLI magnitude
  images carry.

The target is the **true** T1 of the simulation (not a MOLLI fit). Loss: mean absolute
relative error ``|T1_net − T1| / T1`` (the MyoMapNet preprint trains with the mean absolute
error; the relative error weighs post-contrast and native T1 alike). Adam, cosine learning
rate, ``steps`` mini-batches of ``batch_size`` samples.

Held-out evaluation (:func:`evaluate_myomapnet`) simulates signals with another seed stream
and compares the network and the conventional 3-parameter Look-Locker fit
(:func:`reference_impls.mapping.fit_molli`) of the **same** five images against the known T1.

Determinism: NumPy ``SeedSequence([seed, 13])`` for the data, ``torch.manual_seed(seed)``, one
intra-op thread and deterministic algorithms: the same configuration gives byte-identical
weights (tested).

References
----------
Guo et al. Accelerated cardiac T1 mapping in four heartbeats with inline MyoMapNet: a deep
learning-based T1 estimation approach. J Cardiovasc Magn Reson, doi 10.1186/s12968-021-00834-0
(PMC8734349); preprint "MyoMapNet: accelerated modified Look-Locker inversion recovery
myocardial T1 mapping via neural networks", arXiv 2104.00143.
Messroghli DR et al. Modified Look-Locker inversion recovery (MOLLI) for high-resolution T1
mapping of the heart. Magn Reson Med 2004;52:141-146, doi 10.1002/mrm.20110.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reference_impls.mapping.neural import (RETRAIN_HINT, T1_SCALE_MS, WEIGHTS_NAME, MyoMapNet,
                                            MyoMapNetT1, network_inputs)
from reference_impls.weights_io import TrainedWeights, TrainingResult, save_weights
from suite.train.loop import training_record
from suite.train.simulated import (config_record, fit_per_pixel, log_uniform, noisy_magnitude,
                                   relative_error_summary, uniform)

__all__ = ["MYOMAPNET_RECIPE", "MyoMapNetConfig", "SimulatedSignals", "simulate_signals",
           "fit_myomapnet", "train_myomapnet", "evaluate_myomapnet"]

#: How the training signals are simulated (module docstring); every key is recorded.
MYOMAPNET_RECIPE = {
    "sequence": "molli-5(3)3, first inversion only (the first n_images images)",
    "simulator": "suite.mr.sequences.simulate_epg (1 state), BSSFPReadout defaults",
    "n_series": 400,
    "pixels_per_series": 256,
    "t1_ms": [150.0, 2500.0],            # log-uniform
    "t2_ms": [25.0, 300.0],              # log-uniform, capped at T1
    "heart_rate_bpm": [40.0, 120.0],     # uniform
    "hrv_sd_ms": [0.0, 40.0],            # uniform
    "first_ti_ms": [90.0, 130.0],        # uniform
    "b1": [0.8, 1.2],                    # uniform
    "inversion_efficiency": [0.88, 1.0],  # uniform
    "off_resonance_hz": [-50.0, 50.0],   # uniform
    "snr": [15.0, 300.0],                # log-uniform; SD = max_k |s_k| / SNR
    "noise_free_fraction": 0.1,
}


@dataclass(frozen=True)
class MyoMapNetConfig:
    """Hyper-parameters (recorded in ``myomapnet.json``)."""

    seed: int = 0
    steps: int = 6000
    batch_size: int = 512
    learning_rate: float = 2e-3
    n_images: int = 5
    hidden: tuple[int, ...] = (128, 128, 64, 64)

    def to_dict(self) -> dict:
        return config_record(self)


@dataclass(frozen=True)
class SimulatedSignals:
    """Simulated per-pixel MOLLI signals with their truth.

    Attributes
    ----------
    signals : ndarray ``(n, n_images)`` float64
        Magnitude signals (noise included), arbitrary units.
    ti_ms : ndarray ``(n, n_images)`` float64
        Inversion times (acquisition order, increasing).
    t1_ms, t2_ms : ndarray ``(n,)``
        Truth.
    snr : ndarray ``(n,)``
        SNR of each pixel (``inf``: noise-free).
    """

    signals: np.ndarray
    ti_ms: np.ndarray
    t1_ms: np.ndarray
    t2_ms: np.ndarray
    snr: np.ndarray
    recipe: dict = field(default_factory=dict)


def simulate_signals(seed: int, recipe: dict | None = None, *, n_images: int = 5,
                     stream: int = 0) -> SimulatedSignals:
    """Simulate the signals of :data:`MYOMAPNET_RECIPE` (or ``recipe``).

    Parameters
    ----------
    seed : int
    recipe : dict, optional
        Keys of :data:`MYOMAPNET_RECIPE` (missing keys from it).
    n_images : int
        Images of the first inversion kept (the MOLLI 5(3)3 first inversion has 5).
    stream : int
        Independent stream of the same seed (0 training, 1 held-out evaluation).
    """
    from suite.mr.sequences import MOLLI, Tissue, simulate_epg
    from suite.phantom.mapping.rr import rr_series

    r = {**MYOMAPNET_RECIPE, **(recipe or {})}
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 13, int(stream)]))
    m = int(r["pixels_per_series"])
    out = {k: [] for k in ("signals", "ti", "t1", "t2", "snr")}
    for _ in range(int(r["n_series"])):
        rr = rr_series(40, float(uniform(rng, r["heart_rate_bpm"])), rng,
                       hrv_sd_ms=float(uniform(rng, r["hrv_sd_ms"])))
        seq = MOLLI(images=(int(n_images),), recovery_beats=(),
                    first_ti_ms=(float(uniform(rng, r["first_ti_ms"])),))
        t1 = log_uniform(rng, r["t1_ms"], m)
        t2 = np.minimum(log_uniform(rng, r["t2_ms"], m), t1)
        tissue = Tissue(t1, t2, b1=uniform(rng, r["b1"], m),
                        off_resonance_hz=uniform(rng, r["off_resonance_hz"], m),
                        inversion_efficiency=uniform(rng, r["inversion_efficiency"], m))
        sim = simulate_epg(seq.program(rr), tissue, n_states=1)
        s = sim.signal.numpy()
        noisy, snr = noisy_magnitude(rng, s, r["snr"], r["noise_free_fraction"])
        out["signals"].append(noisy)
        out["ti"].append(np.broadcast_to(sim.timings.ti_ms[None, :], s.shape))
        out["t1"].append(t1)
        out["t2"].append(t2)
        out["snr"].append(snr)
    return SimulatedSignals(np.concatenate(out["signals"]), np.concatenate(out["ti"]),
                            np.concatenate(out["t1"]), np.concatenate(out["t2"]),
                            np.concatenate(out["snr"]), recipe=r)


def fit_myomapnet(data: SimulatedSignals, config: MyoMapNetConfig, log=None) -> TrainingResult:
    """Train :class:`MyoMapNet` on ``data`` (module docstring); deterministic."""
    if len(data.t1_ms) == 0:
        raise ValueError("fit_myomapnet: no training signals")
    x = network_inputs(torch.from_numpy(data.signals[:, :config.n_images]),
                       torch.from_numpy(np.ascontiguousarray(data.ti_ms[:, :config.n_images]))
                       ).float()
    return fit_per_pixel(lambda: MyoMapNet(config.n_images, config.hidden), x,
                         torch.from_numpy(data.t1_ms / T1_SCALE_MS).float(),
                         lambda pred, target: torch.abs(pred - target) / target, config,
                         stream=14, log=log)


def evaluate_myomapnet(method, data: SimulatedSignals) -> dict:
    """Network and 3-parameter fit of the same images against the known T1.

    Parameters
    ----------
    method : MyoMapNetT1
    data : SimulatedSignals
        Held-out signals (e.g. ``simulate_signals(seed, stream=1)``).

    Returns
    -------
    dict
        For ``"network"`` and ``"fit"`` (``molli-3p``, exhaustive polarity, on the same
        ``n_images``): median and 95th percentile of ``|ΔT1| / T1`` in %, median signed
        relative error in %, failure fraction; per T1 band (``< 800`` ms post-contrast-like,
        ``≥ 800`` ms native-like).
    """
    from reference_impls.mapping import fit_molli

    n = method.n_images
    sig, ti = data.signals[:, :n], data.ti_ms[:, :n]
    maps = {"network": method(sig, ti)["t1_ms"],
            "fit": fit_molli(sig, ti, polarity="exhaustive")["t1_ms"]}
    out = {"n_pixels": int(len(data.t1_ms)), "n_images": n}
    bands = {"all": np.ones(len(data.t1_ms), bool), "t1_below_800ms": data.t1_ms < 800,
             "t1_from_800ms": data.t1_ms >= 800}
    for name, t1 in maps.items():
        out[name] = {band: relative_error_summary(t1, data.t1_ms, sel)
                     for band, sel in bands.items()}
    return out


def train_myomapnet(*, seed: int = 0, steps: int = 6000, out_dir=None, log=None,
                    recipe: dict | None = None, command: str = "") -> TrainedWeights:
    """Simulate the training signals, train the network and write ``myomapnet.pt`` / ``.json``.

    Parameters
    ----------
    seed : int, default 0
        Seeds the signals, the initial weights and the mini-batches.
    steps : int, default 6000
        Optimiser steps.
    out_dir : path, optional
        Default ``reference_impls/weights``.
    log : callable(str), optional
        Progress messages (the CLI passes ``print``).
    recipe : dict, optional
        Overrides of :data:`MYOMAPNET_RECIPE`.
    command : str, optional
        Command line recorded in the JSON (default: the equivalent ``cmrsuite train``).

    Returns
    -------
    TrainedWeights
        Paths, SHA-256 and final loss (mean of the last 200 steps).
    """
    config = MyoMapNetConfig(seed=seed, steps=steps)
    t0 = time.perf_counter()
    data = simulate_signals(seed, recipe, n_images=config.n_images)
    sim_seconds = time.perf_counter() - t0
    if log:
        log(f"simulated {len(data.t1_ms)} signals in {sim_seconds:.0f} s; training")
    result = fit_myomapnet(data, config, log=log)
    n_held = max(1, int(data.recipe["n_series"]) // 10)
    held_out = evaluate_myomapnet(MyoMapNetT1(module=_module(result, config)),
                                  simulate_signals(seed, {**data.recipe, "n_series": n_held},
                                                   n_images=config.n_images, stream=1))
    meta = {
        "config": MyoMapNet(config.n_images, config.hidden).config,
        "input": "first n_images magnitudes / their per-pixel maximum, then TIs in s",
        "output": f"T1 = {T1_SCALE_MS:g} ms x output",
        "training": config.to_dict(),
        "command": command or f"cmrsuite train {WEIGHTS_NAME} --seed {seed} --steps {steps}",
        "retrain": RETRAIN_HINT,
        "seed": seed,
        "steps": steps,
        "data": {"source": "suite.mr.sequences simulation (suite.train.myomapnet)",
                 "n_signals": int(len(data.t1_ms)), "seed_stream": [seed, 13, 0],
                 **{k: v for k, v in data.recipe.items()}},
        "held_out": {"seed_stream": [seed, 13, 1], "n_series": n_held, **held_out},
        **training_record(result, sim_seconds),
    }
    pt, meta_path, digest = save_weights(result.state_dict, meta, WEIGHTS_NAME, out_dir)
    return TrainedWeights(pt, meta_path, digest, result.final_loss)


def _module(result: TrainingResult, config: MyoMapNetConfig) -> MyoMapNet:
    net = MyoMapNet(config.n_images, config.hidden)
    net.load_state_dict(result.state_dict)
    return net.eval()
