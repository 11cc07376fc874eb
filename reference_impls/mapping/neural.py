"""A MyoMapNet-style neural T1 estimator: the first images of a MOLLI 5(3)3 series → T1.

MyoMapNet (Guo et al., "Accelerated cardiac T1 mapping in four heartbeats with inline
MyoMapNet", J Cardiovasc Magn Reson, doi 10.1186/s12968-021-00834-0; preprint arXiv
2104.00143) estimates myocardial T1 pixel by pixel with a small fully connected network
from the T1-weighted images acquired after **one** inversion (4 or 5 heartbeats instead of
MOLLI's 11) and their inversion times. This module is a network of that kind, trained on the
suite's own sequence simulation (:mod:`suite.train.myomapnet`) rather than on in-vivo MOLLI
maps, so its target is the **true** T1 of the simulated tissue, not the MOLLI fit with its
Look-Locker bias (the approach of "Improving accuracy of myocardial T1 estimation in
MyoMapNet", HMS-CardiacMR/ImprovingMyoMapNetT1Estimation).

Input convention (:func:`network_inputs`, differentiable, shared by training and inference):

* the first ``n_images`` weighted images **in acquisition order** (default 5: the images after
  the first inversion of MOLLI 5(3)3; their TIs must increase), magnitude;
* per pixel, each signal divided by the pixel's largest of those ``n_images`` magnitudes
  (``s_k / max_j s_j``, so the proton density and the receive gain cancel; the divisor is
  clamped at 1e-12 of the image maximum);
* inversion times in seconds (``TI / 1000 ms``);
* the network's input is the concatenation ``(s_1/s_max … s_n/s_max, TI_1 … TI_n)``,
  ``2·n_images`` numbers per pixel.

Network (:class:`MyoMapNet`): fully connected, ``hidden`` widths with ReLU (default
``(128, 128, 64, 64)``: five linear layers as the preprint's network, 30 k parameters) and a
linear output in seconds; ``T1 = 1000 ms × output``. Pixels are independent (no spatial
context), so a map costs one batched matrix product per layer.

Failures (:attr:`~reference_impls.mapping.result.MapFit.failed`): non-finite or constant
samples (as the conventional fits) and outputs that are not finite or outside ``t1_range_ms``
(default 100–3000 ms, the training range widened: the network was never shown a T1 beyond
it). There is no fit residual: ``rmse`` and ``r2`` are NaN.

What it does not generalise to (docs/mapping-neural.md): other schemes or first TIs outside
the training recipe, images sorted by TI rather than acquisition order, magnetisation
transfer, slice profile, flow and motion (none simulated), and real scanners (never seen).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from reference_impls.mapping.result import MapFit, prepare_pixels
from reference_impls.registry import register
from reference_impls.weights_io import WeightsError, load_verified_state

__all__ = ["MyoMapNet", "MyoMapNetT1", "mlp", "network_inputs", "load_myomapnet", "WEIGHTS_NAME",
           "RETRAIN_HINT", "T1_SCALE_MS", "WeightsError"]

WEIGHTS_NAME = "myomapnet"
RETRAIN_HINT = ("`cmrsuite train myomapnet` (or, from Python, "
                "`suite.train.myomapnet.train_myomapnet()`)")
#: The network's output unit: ``T1 = T1_SCALE_MS × output``.
T1_SCALE_MS = 1000.0


def mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    """Fully connected network ``n_in → hidden… → n_out``: linear layers with ReLU between
    them and a linear output (the per-pixel networks ``myomapnet`` and ``mrf-net``)."""
    layers: list[nn.Module] = []
    c = int(n_in)
    for h in hidden:
        layers += [nn.Linear(c, int(h)), nn.ReLU()]
        c = int(h)
    layers.append(nn.Linear(c, int(n_out)))
    return nn.Sequential(*layers)


class MyoMapNet(nn.Module):
    """Fully connected per-pixel network ``(N, 2·n_images)`` → T1 ``(N,)`` in seconds.

    Parameters
    ----------
    n_images : int, default 5
        Weighted images per pixel.
    hidden : tuple of int, default (128, 128, 64, 64)
        Widths of the hidden layers (ReLU).
    """

    def __init__(self, n_images: int = 5, hidden: tuple[int, ...] = (128, 128, 64, 64)):
        super().__init__()
        hidden = tuple(int(h) for h in hidden)
        self.config = {"n_images": int(n_images), "hidden": list(hidden)}
        self.layers = mlp(2 * int(n_images), hidden, 1)

    @property
    def n_images(self) -> int:
        return int(self.config["n_images"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)[..., 0]


def network_inputs(signals: torch.Tensor, ti_ms: torch.Tensor) -> torch.Tensor:
    """The network input of magnitude ``signals`` ``(..., n)`` and ``ti_ms`` (broadcastable).

    Returns ``(..., 2n)``: ``signals / max`` per pixel and ``TI`` in seconds (module
    docstring). Differentiable in ``signals`` (the maximum's subgradient included).
    """
    mag = signals.abs()
    peak = mag.amax(dim=-1, keepdim=True)
    floor = 1e-12 * float(peak.detach().max()) if peak.numel() else 1e-12
    norm = mag / peak.clamp_min(max(floor, 1e-30))
    ti = torch.broadcast_to(ti_ms.to(norm.dtype), norm.shape) / 1000.0
    return torch.cat([norm, ti], dim=-1)


def load_myomapnet(weights_dir: Path | str | None = None) -> tuple[MyoMapNet, dict]:
    """Build :class:`MyoMapNet` from the shipped ``myomapnet.pt`` after its SHA-256 check.

    Raises
    ------
    WeightsError
        Missing files or a hash mismatch (the message names the file and the retraining
        command).
    """
    state, meta = load_verified_state(WEIGHTS_NAME, Path(weights_dir) if weights_dir else None,
                                      retrain_hint=RETRAIN_HINT)
    cfg = meta["config"]
    net = MyoMapNet(int(cfg["n_images"]), tuple(cfg["hidden"]))
    net.load_state_dict(state)
    net.eval()
    return net, meta


@register("mapping", "myomapnet")
class MyoMapNetT1:
    """Neural T1 from the first images of a MOLLI series (shipped weights ``myomapnet``).

    Called as ``method(images, timings_ms) -> MapFit`` like the conventional fits: ``images``
    ``(..., n_total)`` real (magnitude is taken), ``timings_ms`` the inversion times
    broadcastable to them (e.g. ``(slice, 1, 1, n_total)``), in acquisition order; the first
    ``n_images`` are used.

    Parameters
    ----------
    weights_dir : path, optional
        Folder with ``myomapnet.pt`` / ``.json``; default ``reference_impls/weights``.
    module : MyoMapNet, optional
        Use this network instead of loading weights (e.g. fresh from training).
    t1_range_ms : (float, float), default (100, 3000)
        Outputs outside are failures.
    batch_size : int, default 65536
        Pixels per forward pass (memory only).

    Attributes
    ----------
    module : MyoMapNet
        The ``torch.nn.Module`` (white-box access for adversarial tests).
    timing : str
        ``"TI"``: the mapping stage runs it on inversion-recovery series only.
    """

    name = "myomapnet"
    version = "1.0"
    stage = "mapping"
    timing = "TI"

    def __init__(self, weights_dir: str | Path | None = None, module: MyoMapNet | None = None,
                 t1_range_ms=(100.0, 3000.0), batch_size: int = 65536):
        if module is None:
            module, self.weights_meta = load_myomapnet(weights_dir)
        else:
            self.weights_meta = {"sha256": None, "config": module.config}
        self.module = module.eval()
        lo, hi = (float(v) for v in t1_range_ms)
        if not 0 <= lo < hi:
            raise ValueError(f"MyoMapNetT1: t1_range_ms must be (low, high) with 0 <= low < "
                             f"high; got {t1_range_ms}")
        self.t1_range_ms = (lo, hi)
        self.batch_size = int(batch_size)

    @property
    def n_images(self) -> int:
        return self.module.n_images

    def params(self) -> dict:
        """Parameters that identify this method's output (for provenance)."""
        return {"weights_sha256": self.weights_meta.get("sha256"),
                "t1_range_ms": list(self.t1_range_ms), **self.module.config}

    def _first_timings(self, timings_ms, shape: tuple, where: str) -> np.ndarray:
        """The TIs of the first ``n_images`` of images of ``shape`` ``(..., n_total)``, checked."""
        n = self.n_images
        if len(shape) < 1 or shape[-1] < n:
            raise ValueError(f"{where}: needs at least {n} weighted images on the last axis; "
                             f"got shape {tuple(shape)}")
        try:
            t = np.broadcast_to(np.asarray(timings_ms, dtype=np.float64), shape)[..., :n]
        except ValueError:
            raise ValueError(f"{where}: timings_ms of shape {np.shape(timings_ms)} do not "
                             f"broadcast to the images {tuple(shape)}") from None
        if n > 1 and not np.all(np.diff(t, axis=-1) > 0):
            raise ValueError(f"{where}: the first {n} inversion times must increase (images in "
                             f"acquisition order, all after the first inversion, as in MOLLI "
                             f"5(3)3); got {np.unique(t.reshape(-1, n), axis=0)[:3].tolist()}")
        return t

    def differentiable_map(self, images: torch.Tensor, timings_ms) -> torch.Tensor:
        """T1 in ms ``(...)`` of ``images`` ``(..., n_total)`` (float tensor), differentiable
        with respect to the images: the white-box access of the robustness experiments. No
        failure mask (out-of-range outputs are returned as they are)."""
        t = self._first_timings(timings_ms, tuple(images.shape), "MyoMapNetT1.differentiable_map")
        x = network_inputs(images[..., :self.n_images], torch.from_numpy(np.ascontiguousarray(t)))
        dtype = next(self.module.parameters()).dtype
        return T1_SCALE_MS * self.module(x.to(dtype)).to(images.dtype)

    def __call__(self, images, timings_ms, mask=None) -> MapFit:
        where = "MyoMapNetT1"
        img = np.asarray(images)
        t = self._first_timings(timings_ms, img.shape, where)
        pix = prepare_pixels(img[..., :self.n_images], t, where=where,
                             min_images=self.n_images, mask=mask)
        t1 = np.full(len(pix.y), np.nan)
        with torch.inference_mode():
            for i0 in range(0, len(pix.y), self.batch_size):
                sl = slice(i0, i0 + self.batch_size)
                x = network_inputs(torch.from_numpy(pix.y[sl]), torch.from_numpy(pix.t[sl]))
                t1[sl] = T1_SCALE_MS * self.module(x.float()).double().numpy()
        lo, hi = self.t1_range_ms
        bad = ~np.isfinite(t1) | (t1 < lo) | (t1 > hi)
        failed = pix.attempted.copy()
        failed[pix.ok] = bad
        full = np.full(pix.ok.shape, np.nan)
        full[pix.ok] = np.where(bad, np.nan, t1)
        nan = np.full(pix.shape, np.nan)
        return MapFit(model="myomapnet", maps={"t1_ms": full.reshape(pix.shape)}, rmse=nan,
                      r2=nan.copy(), failed=failed.reshape(pix.shape),
                      attempted=pix.attempted.reshape(pix.shape), timings_ms=pix.timings,
                      options={"n_images": self.n_images, "t1_range_ms": list(self.t1_range_ms),
                               "weights_sha256": self.weights_meta.get("sha256")})

    def __repr__(self) -> str:
        return f"MyoMapNetT1(n_images={self.n_images}, t1_range_ms={self.t1_range_ms})"
