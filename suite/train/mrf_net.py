"""Train the cardiac-MRF regression network ``mrf-net`` on simulated fingerprints.

Training data (:data:`MRF_NET_RECIPE`, every number recorded in ``mrf-net.json``): series of
``pixels_per_series`` pixels simulated with the suite's own signal model (the cardiac MRF
sequence :class:`suite.mr.sequences.CardiacMRF`, EPG with 20 states, the model the phantom and
the dictionary use), each series with its own RR series from
:func:`suite.phantom.mapping.rr.rr_series`: mean heart rate uniform in 40–120 bpm, beat-to-beat
SD uniform in 0–60 ms, and a rhythm drawn from sinus (60 %), ectopic beats (20 %) and atrial
fibrillation (20 %) — so the network sees the RR input vary within and between scans. Per pixel:
T1 log-uniform in 100–3000 ms and T2 log-uniform in 10–300 ms with T2 < T1 (native and
post-contrast myocardium, blood, fat, liver and muscle at 1.5 T and 3 T lie inside:
:data:`suite.phantom.tissue.TISSUE_TABLE`), B1 = 1 and ideal inversion (as the dictionary
assumes), complex Gaussian noise of SD ``max_k |s_k| / SNR`` with SNR log-uniform in 10–400
(10 % noise-free), magnitude of the 45 images (three means of consecutive repetitions per
block, as the phantom writes them).

Loss: mean absolute error of ``log T1`` and ``log T2`` (relative error, the MAE loss of
MyoMapNet and DRONE's L2 on normalised parameters, in log form), Adam with a cosine decay
(:func:`suite.train.loop.train_steps`).

Determinism: NumPy ``SeedSequence([seed, 17, stream])`` for the data, ``torch.manual_seed``,
one intra-op thread and deterministic algorithms: the same configuration gives byte-identical
weights (tested).

References
----------
Cohen O, Zhu B, Rosen MS. MR fingerprinting deep reconstruction network (DRONE). Magn Reson
Med 2018;80:885-894, doi 10.1002/mrm.27198.
Hamilton JI et al. MR fingerprinting for rapid quantification of myocardial T1, T2, and proton
spin density. Magn Reson Med 2017;77:1446-1458, doi 10.1002/mrm.26216.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from reference_impls.mapping.mrf_net import (RETRAIN_HINT, T1_SCALE_MS, T2_SCALE_MS,
                                             WEIGHTS_NAME, MRFNet, MRFNetMethod, network_inputs)
from reference_impls.weights_io import TrainedWeights, TrainingResult, save_weights
from suite.train.loop import training_record
from suite.train.simulated import (config_record, fit_per_pixel, log_uniform, noisy_magnitude,
                                   relative_error_summary, uniform)

__all__ = ["MRF_NET_RECIPE", "MRFNetConfig", "SimulatedFingerprints", "simulate_fingerprints",
           "fit_mrf_net", "evaluate_mrf_net", "train_mrf_net", "IMAGES_PER_BLOCK"]

#: Images per block of the training fingerprints (as the phantom writes cardiac MRF series).
IMAGES_PER_BLOCK = 3

#: How the training fingerprints are simulated (module docstring); every key is recorded.
MRF_NET_RECIPE = {
    "sequence": "cardiac-mrf (suite.mr.sequences.CardiacMRF defaults), 3 images per block",
    "simulator": "suite.mr.sequences.simulate_epg, 20 states, float32",
    "n_series": 200,
    "pixels_per_series": 1024,
    "t1_ms": [100.0, 3000.0],            # log-uniform
    "t2_ms": [10.0, 300.0],              # log-uniform below min(300 ms, T1)
    "heart_rate_bpm": [40.0, 120.0],     # uniform
    "hrv_sd_ms": [0.0, 60.0],            # uniform
    "arrhythmia": {"none": 0.6, "ectopic": 0.2, "af": 0.2},
    "b1": 1.0,
    "inversion_efficiency": 1.0,
    "snr": [10.0, 400.0],                # log-uniform; SD = max_k |s_k| / SNR
    "noise_free_fraction": 0.1,
}


@dataclass(frozen=True)
class MRFNetConfig:
    """Hyper-parameters (recorded in ``mrf-net.json``)."""

    seed: int = 0
    steps: int = 8000
    batch_size: int = 1024
    learning_rate: float = 2e-3
    hidden: tuple[int, ...] = (128, 128, 64)

    def to_dict(self) -> dict:
        return config_record(self)


@dataclass(frozen=True)
class SimulatedFingerprints:
    """Simulated per-pixel cardiac-MRF fingerprints with their truth.

    Attributes
    ----------
    images : ndarray ``(n, n_images)`` float64
        Magnitude images (noise included), arbitrary units.
    intervals_ms : ndarray ``(n, n_blocks − 1)`` float64
        RR intervals between the block triggers of each pixel's scan.
    t1_ms, t2_ms : ndarray ``(n,)``
        Truth.
    snr : ndarray ``(n,)``
        SNR of each pixel (``inf``: noise-free).
    series : ndarray ``(n,)`` int
        Index of the scan (RR series) of each pixel.
    rr_ms : list of ndarray
        The RR series (ms, per beat) of each scan.
    """

    images: np.ndarray
    intervals_ms: np.ndarray
    t1_ms: np.ndarray
    t2_ms: np.ndarray
    snr: np.ndarray
    series: np.ndarray
    rr_ms: list
    recipe: dict = field(default_factory=dict)


def simulate_fingerprints(seed: int, recipe: dict | None = None, *,
                          stream: int = 0) -> SimulatedFingerprints:
    """Simulate the fingerprints of :data:`MRF_NET_RECIPE` (or ``recipe``).

    Parameters
    ----------
    seed : int
    recipe : dict, optional
        Keys of :data:`MRF_NET_RECIPE` (missing keys from it).
    stream : int
        Independent stream of the same seed (0 training, 1 held-out evaluation).
    """
    from suite.mr.sequences import CardiacMRF, Tissue, simulate_epg, window_matrix
    from suite.phantom.mapping.rr import rr_series

    r = {**MRF_NET_RECIPE, **(recipe or {})}
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 17, int(stream)]))
    seq = CardiacMRF()
    matrix = window_matrix(seq.image_windows(IMAGES_PER_BLOCK), seq.n_samples).T
    first = np.arange(seq.n_blocks) * (seq.n_ramp + seq.n_flat)
    rhythms = list(r["arrhythmia"])
    p = np.array([float(r["arrhythmia"][k]) for k in rhythms])
    m = int(r["pixels_per_series"])
    out = {k: [] for k in ("images", "intervals", "t1", "t2", "snr", "series")}
    rrs = []
    for i in range(int(r["n_series"])):
        rr = rr_series(40, float(uniform(rng, r["heart_rate_bpm"])), rng,
                       hrv_sd_ms=float(uniform(rng, r["hrv_sd_ms"])),
                       arrhythmia=rhythms[int(rng.choice(len(rhythms), p=p / p.sum()))])
        t1 = log_uniform(rng, r["t1_ms"], m)
        t2 = log_uniform(rng, (r["t2_ms"][0], np.minimum(r["t2_ms"][1], 0.999 * t1)))
        sim = simulate_epg(seq.program(rr), Tissue(t1, t2, b1=float(r["b1"]),
                                                   inversion_efficiency=float(
                                                       r["inversion_efficiency"])),
                           n_states=20, dtype=torch.float32, n_threads=1)
        s = sim.signal.numpy().astype(np.complex128) @ matrix
        noisy, snr = noisy_magnitude(rng, s, r["snr"], r["noise_free_fraction"])
        gaps = np.diff(sim.timings.trigger_ms[first])
        out["images"].append(noisy)
        out["intervals"].append(np.broadcast_to(gaps[None, :], (m, gaps.size)))
        out["t1"].append(t1)
        out["t2"].append(t2)
        out["snr"].append(snr)
        out["series"].append(np.full(m, i))
        rrs.append(np.asarray(rr))
    return SimulatedFingerprints(*(np.concatenate(out[k]) for k in
                                   ("images", "intervals", "t1", "t2", "snr", "series")),
                                 rr_ms=rrs, recipe=r)


def _targets(data: SimulatedFingerprints) -> torch.Tensor:
    return torch.from_numpy(np.stack([np.log(data.t1_ms / T1_SCALE_MS),
                                      np.log(data.t2_ms / T2_SCALE_MS)], 1)).float()


def fit_mrf_net(data: SimulatedFingerprints, config: MRFNetConfig, log=None) -> TrainingResult:
    """Train :class:`MRFNet` on ``data`` (module docstring); deterministic."""
    if len(data.t1_ms) == 0:
        raise ValueError("fit_mrf_net: no training fingerprints")
    x = network_inputs(torch.from_numpy(data.images),
                       torch.from_numpy(np.ascontiguousarray(data.intervals_ms))).float()
    return fit_per_pixel(
        lambda: MRFNet(data.images.shape[1], data.intervals_ms.shape[1], config.hidden),
        x, _targets(data), lambda pred, target: torch.abs(pred - target), config, stream=18,
        log=log)


def evaluate_mrf_net(method: MRFNetMethod, data: SimulatedFingerprints, *,
                     dictionary: bool = True) -> dict:
    """The network, the network fed a constant (mean) RR, and dictionary matching of the same
    fingerprints against the known T1 and T2.

    Parameters
    ----------
    method : MRFNetMethod
    data : SimulatedFingerprints
        Held-out fingerprints (e.g. ``simulate_fingerprints(seed, stream=1)``).
    dictionary : bool
        Also match with a dictionary simulated per scan from its true RR series (the default
        grid of ``mrf-dictionary``, :func:`reference_impls.mapping.mrf.mrf_grid`: T1 50–3000 ms
        × T2 10–300 ms in 5 % steps), as ``mrf-dictionary`` does.

    Returns
    -------
    dict
        Per estimator (``network``, ``network_nominal_rr``, ``dictionary``), per quantity
        (``t1``, ``t2``) and per band (``all``; ``myocardium_like``: T1 800–1500 ms and T2
        30–70 ms): median and 95th percentile of ``|Δ|/truth`` in %, median signed relative
        error in %, failure fraction.
    """
    from reference_impls.mapping.mrf import build_dictionary, match, mrf_grid
    from suite.mr.sequences import CardiacMRF, window_matrix

    def net(intervals):
        with torch.no_grad():
            x = network_inputs(torch.from_numpy(data.images),
                               torch.from_numpy(np.ascontiguousarray(intervals)))
            t1, t2 = MRFNet.relaxation_ms(method.module(x.to(torch.float32)))
        return {"t1": t1.double().numpy(), "t2": t2.double().numpy()}

    estimates = {"network": net(data.intervals_ms),
                 "network_nominal_rr": net(np.broadcast_to(
                     data.intervals_ms.mean(axis=1, keepdims=True), data.intervals_ms.shape))}
    if dictionary:
        seq = CardiacMRF()
        matrix = window_matrix(seq.image_windows(IMAGES_PER_BLOCK), seq.n_samples)
        grid = mrf_grid()
        d_est = {"t1": np.full(len(data.t1_ms), np.nan), "t2": np.full(len(data.t1_ms), np.nan)}
        for i, rr in enumerate(data.rr_ms):
            sel = data.series == i
            m = match(build_dictionary(rr, *grid, sequence=seq, image_matrix=matrix,
                                       magnitude=True), data.images[sel])
            d_est["t1"][sel], d_est["t2"][sel] = m.maps["t1_ms"], m.maps["t2_ms"]
        estimates["dictionary"] = d_est
    truth = {"t1": data.t1_ms, "t2": data.t2_ms}
    bands = {"all": np.ones(len(data.t1_ms), bool),
             "myocardium_like": (data.t1_ms >= 800) & (data.t1_ms <= 1500)
             & (data.t2_ms >= 30) & (data.t2_ms <= 70)}
    out = {"n_pixels": int(len(data.t1_ms)), "n_series": len(data.rr_ms),
           "n_myocardium_like": int(bands["myocardium_like"].sum())}
    for name, est in estimates.items():
        out[name] = {q: {band: relative_error_summary(est[q], truth[q], sel)
                         for band, sel in bands.items()} for q in ("t1", "t2")}
    return out


def train_mrf_net(*, seed: int = 0, steps: int = 8000, out_dir=None, log=None,
                  recipe: dict | None = None, config: MRFNetConfig | None = None,
                  held_out_series: int | None = None, command: str = "") -> TrainedWeights:
    """Simulate the training fingerprints, train the network, evaluate it on held-out
    fingerprints next to dictionary matching, and write ``mrf-net.pt`` / ``.json``.

    Parameters
    ----------
    seed : int, default 0
        Seeds the fingerprints, the initial weights and the mini-batches.
    steps : int, default 8000
        Optimiser steps.
    out_dir : path, optional
        Default ``reference_impls/weights``.
    log : callable(str), optional
        Progress messages (the CLI passes ``print``).
    recipe : dict, optional
        Overrides of :data:`MRF_NET_RECIPE`.
    config : MRFNetConfig, optional
        Other hyper-parameters (``seed`` and ``steps`` still come from the arguments).
    held_out_series : int, optional
        Scans of the held-out evaluation (default a tenth of the training scans, at least 1).
    command : str, optional
        Command line recorded in the JSON (default: the equivalent ``cmrsuite train``).

    Returns
    -------
    TrainedWeights
        Paths, SHA-256 and final loss (mean of the last 200 steps).
    """
    base = config or MRFNetConfig()
    config = MRFNetConfig(seed=seed, steps=steps, batch_size=base.batch_size,
                          learning_rate=base.learning_rate, hidden=base.hidden)
    t0 = time.process_time()
    data = simulate_fingerprints(seed, recipe)
    sim_seconds = time.process_time() - t0
    if log:
        log(f"simulated {len(data.t1_ms)} fingerprints in {sim_seconds:.0f} CPU-s; training")
    result = fit_mrf_net(data, config, log=log)
    net = MRFNet(data.images.shape[1], data.intervals_ms.shape[1], config.hidden)
    net.load_state_dict(result.state_dict)
    method = MRFNetMethod(module=net.eval())
    n_held = held_out_series or max(1, int(data.recipe["n_series"]) // 10)
    held_recipe = {**data.recipe, "n_series": n_held}
    held_out = evaluate_mrf_net(method, simulate_fingerprints(seed, held_recipe, stream=1))
    meta = {
        "config": net.config,
        "sequence": method.weights_meta["sequence"],
        "input": "45 magnitudes / their per-pixel RMS, then the 14 block-trigger RR intervals "
                 "in s",
        "output": f"T1 = {T1_SCALE_MS:g} ms x exp(o1), T2 = {T2_SCALE_MS:g} ms x exp(o2)",
        "training": config.to_dict(),
        "command": command or f"cmrsuite train {WEIGHTS_NAME} --seed {seed} --steps {steps}",
        "retrain": RETRAIN_HINT,
        "seed": seed,
        "steps": steps,
        "data": {"source": "suite.mr.sequences simulation (suite.train.mrf_net)",
                 "n_signals": int(len(data.t1_ms)), "seed_stream": [seed, 17, 0],
                 **data.recipe},
        "held_out": {"seed_stream": [seed, 17, 1], **held_out},
        **training_record(result, sim_seconds),
    }
    meta["cpu_seconds_total"] = round(time.process_time() - t0, 1)
    pt, meta_path, digest = save_weights(result.state_dict, meta, WEIGHTS_NAME, out_dir)
    return TrainedWeights(pt, meta_path, digest, result.final_loss)
