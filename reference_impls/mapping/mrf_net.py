"""A neural cardiac-MRF estimator: fingerprint + the scan's RR timing → (T1, T2) per pixel.

The network is of the kind of DRONE (Cohen, Zhu & Rosen, "MR fingerprinting deep
reconstruction network (DRONE)", Magn Reson Med 2018;80:885-894, doi 10.1002/mrm.27198): a
small fully connected network regressing T1 and T2 from one pixel's normalised fingerprint,
trained on simulated fingerprints instead of matched against a dictionary. The sequence is the
suite's ECG-triggered cardiac MRF (:class:`suite.mr.sequences.CardiacMRF`, after Hamilton et
al., MRM 2017;77:1446, doi 10.1002/mrm.26216), whose fingerprint depends on the heart rate:
Hamilton et al. simulate a dictionary **per scan** from the subject's RR intervals. A network
trained for one constant RR would carry the bias of a nominal-RR dictionary under heart-rate
variability; this one instead takes the scan's timing as an **input** (the choice of NN
regression for cardiac MRF with the RR times as input, Hamilton et al. 2023, PMC10250104):

* the fingerprint: the ``n_images`` magnitude images of the series (default 45, three images of
  consecutive repetitions per block, :meth:`~suite.mr.sequences.CardiacMRF.image_windows`),
  each divided by the pixel's root-mean-square over the images (``s_k / sqrt(mean_j s_j²)``:
  the proton density and the receive gain cancel);
* the RR timing: the ``n_blocks − 1`` intervals between the R waves that triggered consecutive
  blocks (14 for 15 blocks), in seconds, from the acquisition's trigger times
  (:meth:`~suite.mr.sequences.MappingAcquisition.rr_ms`; with ``rr="nominal"`` every interval is
  the mean one, what a method without the subject's ECG would assume);
* the network's input is their concatenation, ``n_images + n_blocks − 1`` numbers per pixel.

Network (:class:`MRFNet`): fully connected, ``hidden`` widths with ReLU and a linear output
``(o₁, o₂)``; ``T1 = 1000 ms · exp(o₁)``, ``T2 = 100 ms · exp(o₂)`` (always positive; the
training loss is the mean absolute error of the logarithms, i.e. of the relative error).
Pixels are independent: a map costs one batched matrix product per layer.

Failures (:attr:`~reference_impls.mapping.result.MapFit.failed`): non-finite or constant
fingerprints, and outputs outside ``t1_range_ms`` / ``t2_range_ms`` (default the training
range widened, 50–4000 ms and 5–400 ms). There is no residual (the network does not simulate
the fingerprint it predicts): ``rmse`` and ``r2`` are NaN.

The weights belong to one acquisition: the sequence parameters (TR, TE, trigger delay, images
per block) recorded with them must equal the series' headers, otherwise the method refuses the
series with a one-line ``ValueError``. Not in the training distribution (docs/mapping-neural.md):
B1 ≠ 1, imperfect inversion, off-resonance, magnetisation transfer, slice profile, flow, motion,
undersampling artefacts, and real scanners.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from reference_impls.mapping.methods import MappingMethod
from reference_impls.mapping.neural import mlp
from reference_impls.mapping.result import MapFit, check_choice, prepare_pixels
from reference_impls.registry import register
from reference_impls.weights_io import WeightsError, load_verified_state
from suite.mr.sequences import RR_MODES, CardiacMRF

__all__ = ["MRFNet", "MRFNetMethod", "network_inputs", "load_mrf_net", "block_intervals_ms",
           "WEIGHTS_NAME", "RETRAIN_HINT", "T1_SCALE_MS", "T2_SCALE_MS", "SEQUENCE_KEYS"]

WEIGHTS_NAME = "mrf-net"
RETRAIN_HINT = ("`cmrsuite train mrf-net` (or, from Python, "
                "`suite.train.mrf_net.train_mrf_net()`)")
#: Output units: ``T1 = T1_SCALE_MS · exp(o₁)``, ``T2 = T2_SCALE_MS · exp(o₂)``.
T1_SCALE_MS, T2_SCALE_MS = 1000.0, 100.0
#: Acquisition fields the weights were trained for (recorded in ``mrf-net.json``).
SEQUENCE_KEYS = ("tr_ms", "te_ms", "trigger_delay_ms", "images_per_block")


class MRFNet(nn.Module):
    """Fully connected per-pixel network ``(N, n_images + n_intervals)`` → ``(N, 2)``
    (log-scaled T1 and T2, module docstring).

    Parameters
    ----------
    n_images : int, default 45
        Images of the fingerprint.
    n_intervals : int, default 14
        RR intervals between block triggers.
    hidden : tuple of int, default (128, 128, 64)
        Widths of the hidden layers (ReLU).
    """

    def __init__(self, n_images: int = 45, n_intervals: int = 14,
                 hidden: tuple[int, ...] = (128, 128, 64)):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        self.config = {"n_images": int(n_images), "n_intervals": int(n_intervals),
                       "hidden": list(hidden)}
        self.layers = mlp(int(n_images) + int(n_intervals), hidden, 2)

    @property
    def n_images(self) -> int:
        return int(self.config["n_images"])

    @property
    def n_intervals(self) -> int:
        return int(self.config["n_intervals"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    @staticmethod
    def relaxation_ms(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(T1, T2)`` in ms of the network output ``(..., 2)``."""
        return T1_SCALE_MS * torch.exp(output[..., 0]), T2_SCALE_MS * torch.exp(output[..., 1])


def network_inputs(fingerprints: torch.Tensor, intervals_ms: torch.Tensor) -> torch.Tensor:
    """The network input of magnitude ``fingerprints`` ``(..., n)`` and the block-trigger RR
    intervals ``intervals_ms`` ``(..., k)`` (broadcastable).

    Returns ``(..., n + k)``: the fingerprint divided by its RMS over the ``n`` images, then the
    intervals in seconds. Differentiable in ``fingerprints``.
    """
    mag = fingerprints.abs()
    rms = torch.sqrt(torch.mean(mag * mag, dim=-1, keepdim=True))
    floor = 1e-12 * float(rms.detach().max()) if rms.numel() else 1e-12
    norm = mag / rms.clamp_min(max(floor, 1e-30))
    rr = intervals_ms.to(norm.dtype) / 1000.0
    rr = torch.broadcast_to(rr, (*norm.shape[:-1], rr.shape[-1]))
    return torch.cat([norm, rr], dim=-1)


def block_intervals_ms(acquisition, sequence: CardiacMRF, slice_index: int = 0,
                       mode: str = "actual", heart_rate_bpm: float | None = None) -> np.ndarray:
    """The ``n_blocks − 1`` RR intervals between consecutive block triggers, ms, of one slice
    of ``acquisition`` (``mode="nominal"``: each the mean interval, or ``60000/heart_rate_bpm``)."""
    rr = acquisition.rr_ms(sequence, slice_index=slice_index, mode=mode,
                           heart_rate_bpm=heart_rate_bpm)
    waits = np.array([b.wait_beats + 1 for b in sequence.blocks()[1:]], np.float64)
    if mode == "actual":
        # rr_ms spreads a gap over the block's wait beats: sum them back into the gap
        return np.add.reduceat(rr[:int(waits.sum())], np.r_[0, np.cumsum(waits)[:-1]].astype(int))
    return rr[0] * waits


def load_mrf_net(weights_dir: Path | str | None = None) -> tuple[MRFNet, dict]:
    """Build :class:`MRFNet` from the shipped ``mrf-net.pt`` after its SHA-256 check.

    Raises
    ------
    WeightsError
        Missing files, a hash mismatch, or weights that do not fit the recorded configuration
        (one line naming the file and the retraining command).
    """
    state, meta = load_verified_state(WEIGHTS_NAME, Path(weights_dir) if weights_dir else None,
                                      retrain_hint=RETRAIN_HINT)
    try:
        cfg = meta["config"]
        net = MRFNet(int(cfg["n_images"]), int(cfg["n_intervals"]), tuple(cfg["hidden"]))
        net.load_state_dict(state)
        for key in SEQUENCE_KEYS:
            float(meta["sequence"][key])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{WEIGHTS_NAME}.pt: the weights do not match the configuration "
                           f"recorded in {WEIGHTS_NAME}.json ({first}); retrain with "
                           f"{RETRAIN_HINT}") from None
    net.eval()
    return net, meta


@register("mapping", "mrf-net")
class MRFNetMethod(MappingMethod):
    """Neural T1 and T2 from a cardiac MRF series (shipped weights ``mrf-net``).

    Called by the mapping stage as ``method(images, timings_ms, acquisition) -> MapFit`` like
    ``mrf-dictionary``: ``images`` ``(slice, y, x, n_images)`` (magnitude is taken),
    ``acquisition`` the series' :class:`~suite.mr.sequences.MappingAcquisition` (its trigger
    times give the RR input of each slice).

    Parameters
    ----------
    rr : str, default "actual"
        ``"actual"``: the series' RR intervals; ``"nominal"``: a constant RR (the mean, or
        ``60000/heart_rate_bpm``), to measure what the RR input is worth.
    heart_rate_bpm : float, optional
        ``rr="nominal"``: the stated heart rate.
    weights_dir : path, optional
        Folder with ``mrf-net.pt`` / ``.json``; default ``reference_impls/weights``.
    module : MRFNet, optional
        Use this network instead of loading weights (fresh from training).
    sequence : dict, optional
        With ``module``: the acquisition fields it was trained for (:data:`SEQUENCE_KEYS`;
        default those of ``CardiacMRF()`` with 3 images per block, the training recipe's).
    t1_range_ms, t2_range_ms : (float, float)
        Outputs outside are failures (default 50–4000 ms and 5–400 ms).

    Attributes
    ----------
    module : MRFNet
        The ``torch.nn.Module`` (white-box access: :meth:`differentiable_map`).
    """

    name = "mrf-net"
    timing = "TI+TE"   # the stage runs it on cardiac MRF series only
    needs_acquisition = True

    def __init__(self, rr: str = "actual", heart_rate_bpm: float | None = None,
                 weights_dir: str | Path | None = None, module: MRFNet | None = None,
                 sequence: dict | None = None, t1_range_ms=(50.0, 4000.0),
                 t2_range_ms=(5.0, 400.0)):
        check_choice(rr, RR_MODES, name="rr", where=self.name)
        ranges = []
        for label, rng in (("t1_range_ms", t1_range_ms), ("t2_range_ms", t2_range_ms)):
            lo, hi = (float(v) for v in rng)
            if not 0 <= lo < hi:
                raise ValueError(f"{self.name}: {label} must be (low, high) with 0 <= low < "
                                 f"high; got {rng}")
            ranges.append([lo, hi])
        if module is None:
            module, meta = load_mrf_net(weights_dir)
        else:
            seq = CardiacMRF()
            meta = {"sha256": None, "sequence": sequence or {
                "tr_ms": seq.tr_ms, "te_ms": seq.te_ms,
                "trigger_delay_ms": seq.trigger_delay_ms, "images_per_block": 3}}
        self.module = module.eval()
        self.weights_meta = meta
        super().__init__(rr=rr, heart_rate_bpm=heart_rate_bpm, t1_range_ms=ranges[0],
                         t2_range_ms=ranges[1], weights_sha256=meta.get("sha256"),
                         **module.config)

    # ------------------------------------------------------------------ inputs
    def _check(self, shape: tuple, acquisition) -> CardiacMRF:
        """The sequence of ``acquisition``, after checking it is the one of the weights."""
        if acquisition.sequence != "cardiac-mrf":
            raise ValueError(f"{self.name}: needs a cardiac MRF series; got sequence "
                             f"{acquisition.sequence!r}")
        seq = acquisition.sequence_description(who=self.name)
        trained = self.weights_meta["sequence"]
        got = {"tr_ms": seq.tr_ms, "te_ms": seq.te_ms, "trigger_delay_ms": seq.trigger_delay_ms,
               "images_per_block": acquisition.images_per_block}
        for key in SEQUENCE_KEYS:
            if got[key] is None or float(got[key]) != float(trained[key]):
                raise ValueError(f"{self.name}: the weights were trained for {key} = "
                                 f"{trained[key]}; the series has {got[key]} (retrain with "
                                 f"{RETRAIN_HINT} for this acquisition)")
        n_int = len(seq.blocks()) - 1
        if shape[-1] != self.module.n_images or n_int != self.module.n_intervals:
            raise ValueError(f"{self.name}: the weights take {self.module.n_images} images and "
                             f"{self.module.n_intervals} RR intervals; got {shape[-1]} images "
                             f"and {n_int} intervals")
        return seq

    def intervals_ms(self, acquisition, n_slices: int) -> np.ndarray:
        """RR input ``(n_slices, n_intervals)`` in ms (module docstring)."""
        seq = acquisition.sequence_description(who=self.name)
        o = self._options
        return np.stack([block_intervals_ms(acquisition, seq, s, o["rr"], o["heart_rate_bpm"])
                         for s in range(n_slices)])

    # ------------------------------------------------------------------ maps
    def differentiable_map(self, images: torch.Tensor, timings_ms, acquisition) -> torch.Tensor:
        """``(T1, T2)`` in ms, ``(2, slice, ...)``, of ``images`` ``(slice, ..., n_images)``
        (float tensor), differentiable with respect to the images: the white-box access of
        adversarial tests (called like the method; ``timings_ms`` is not used, the RR input
        comes from ``acquisition``). No failure mask."""
        self._check(tuple(images.shape), acquisition)
        rr = torch.from_numpy(self.intervals_ms(acquisition, images.shape[0]))
        rr = rr.reshape(rr.shape[0], *([1] * (images.dim() - 2)), rr.shape[1])
        dtype = next(self.module.parameters()).dtype
        out = self.module(network_inputs(images, rr).to(dtype))
        t1, t2 = MRFNet.relaxation_ms(out)
        return torch.stack([t1, t2]).to(images.dtype)

    def __call__(self, images, timings_ms, acquisition) -> MapFit:
        where = self.name
        y = np.asarray(images)
        if np.iscomplexobj(y):
            y = np.abs(y)
        if y.ndim < 2:
            raise ValueError(f"{where}: `images` must be (slice, ..., n_images); got shape "
                             f"{y.shape}")
        self._check(y.shape, acquisition)
        pix = prepare_pixels(y, np.zeros(y.shape[-1]), where=where, min_images=y.shape[-1])
        rr = np.broadcast_to(self.intervals_ms(acquisition, y.shape[0]).reshape(
            y.shape[0], *([1] * (y.ndim - 2)), -1), (*y.shape[:-1], self.module.n_intervals))
        rr = rr.reshape(-1, self.module.n_intervals)[pix.ok]
        dtype = next(self.module.parameters()).dtype
        with torch.no_grad():
            x = network_inputs(torch.from_numpy(pix.y), torch.from_numpy(np.ascontiguousarray(rr)))
            t1, t2 = (v.double().numpy() for v in MRFNet.relaxation_ms(self.module(x.to(dtype))))
        (l1, h1), (l2, h2) = self._options["t1_range_ms"], self._options["t2_range_ms"]
        bad = ~(np.isfinite(t1) & np.isfinite(t2) & (t1 >= l1) & (t1 <= h1) & (t2 >= l2)
                & (t2 <= h2))
        failed = pix.attempted.copy()
        failed[pix.ok] = bad
        maps = {}
        for name, v in (("t1_ms", t1), ("t2_ms", t2)):
            full = np.full(pix.ok.shape, np.nan)
            full[pix.ok] = np.where(bad, np.nan, v)
            maps[name] = full.reshape(pix.shape)
        nan = np.full(pix.shape, np.nan)
        return MapFit(model=self.name, maps=maps, rmse=nan, r2=nan.copy(),
                      failed=failed.reshape(pix.shape),
                      attempted=pix.attempted.reshape(pix.shape),
                      timings_ms=np.asarray(timings_ms) if timings_ms is not None else
                      np.zeros(0), options=self.params())
