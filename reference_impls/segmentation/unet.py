"""Small 2-D U-Net for short-axis cine segmentation (LV blood pool, myocardium, RV).

Architecture (Ronneberger et al. 2015): an encoder of ``len(features)`` levels, each two
``3×3`` convolutions with GroupNorm and ReLU, 2×2 max pooling between levels; a decoder with
2×2 transposed convolutions, skip concatenation and two ``3×3`` convolutions per level; a
``1×1`` convolution to 4 class logits (ACDC order: 0 background, 1 RV, 2 MYO, 3 LV). Default
``features = (16, 32, 64, 128)``: three poolings, receptive field ≈ 96 px ≈ 190 mm at the
working spacing, 483 204 parameters (1.9 MB of float32). GroupNorm, not BatchNorm, so a
prediction does not depend on the other images of a batch and training equals inference.
Each image is segmented on its own (2-D, per slice and frame), as in Bai et al. 2018.

Input pipeline (:func:`prepare`, fully differentiable, used by training and inference alike):

1. **Resampling** to the working spacing ``spacing_mm`` (default 2.0 mm): bilinear
   ``torch.nn.functional.interpolate`` (``align_corners=False``, ``antialias=True`` when
   shrinking) to ``round(n · native / working)`` pixels per axis.
2. **Intensity normalisation per image**: when the weights record ``field_sigma_mm``, the
   image is first divided by its receive-field estimate (:func:`flatten_receive_field`);
   then ``(x − p1) / (p99 − p1)`` with p1, p99 the 1st and 99th percentiles of that image
   (``torch.quantile``, linear interpolation); no clipping, so the gradient is exact almost
   everywhere.
3. **Zero padding** (bottom/right) to a multiple of ``2^(levels−1)``.

Logits are cropped back and resampled to the native grid bilinearly (``align_corners=False``);
labels are the arg-max of the native-grid logits (equivalent to resampling the class scores,
not the labels, back). Training data (:mod:`suite.train.segmentation`) are
simulated directly at the working spacing, so training labels are resampled only by the
geometric augmentation (nearest neighbour).

References
----------
Ronneberger O, Fischer P, Brox T. U-Net: convolutional networks for biomedical image
segmentation. MICCAI 2015, LNCS 9351:234–241 (arXiv 1505.04597).
Bai W et al. Automated cardiovascular magnetic resonance image analysis with fully
convolutional networks. J Cardiovasc Magn Reson 20:65, 2018.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reference_impls.registry import register
from reference_impls.segmentation.checks import check_images, check_spacing
from reference_impls.segmentation.smoothing import gaussian_smooth
from reference_impls.weights_io import WeightsError, load_verified_state

__all__ = ["SegUNet", "UNetSegmenter", "prepare", "normalise_intensity", "flatten_receive_field",
           "FIELD_SIGMA_MM", "load_seg_unet", "image_quantiles",
           "WEIGHTS_NAME", "RETRAIN_HINT", "WeightsError"]

WEIGHTS_NAME = "seg-unet"
#: Gaussian σ (mm) of the receive-field estimate of :func:`flatten_receive_field` used by
#: training (the classical baseline's ``BIAS_SIGMA_MM``); weights record the value they were
#: trained with as ``field_sigma_mm`` (absent: no correction).
FIELD_SIGMA_MM = 30.0
RETRAIN_HINT = ("`cmrsuite train seg-unet` (or, from Python, "
                "`suite.train.segmentation.train_seg_unet()`)")


def _block(c_in: int, c_out: int) -> nn.Sequential:
    groups = min(8, c_out)
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(groups, c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1), nn.GroupNorm(groups, c_out), nn.ReLU(inplace=True),
    )


class SegUNet(nn.Module):
    """2-D U-Net, ``(batch, 1, y, x)`` normalised image → ``(batch, n_classes, y, x)`` logits.

    Parameters
    ----------
    features : tuple of int, default (16, 32, 64, 128)
        Channels per level; ``y`` and ``x`` must be multiples of ``2^(len(features) − 1)``.
    n_classes : int, default 4
        Output classes (ACDC order).
    """

    def __init__(self, features: tuple[int, ...] = (16, 32, 64, 128), n_classes: int = 4):
        super().__init__()
        features = tuple(int(f) for f in features)
        self.config = {"features": list(features), "n_classes": int(n_classes)}
        self.down = nn.ModuleList()
        c = 1
        for f in features:
            self.down.append(_block(c, f))
            c = f
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for f in reversed(features[:-1]):
            self.up.append(nn.ConvTranspose2d(c, f, 2, stride=2))
            self.dec.append(_block(2 * f, f))
            c = f
        self.head = nn.Conv2d(c, n_classes, 1)

    @property
    def multiple(self) -> int:
        """Spatial sizes must be multiples of this (``2^(levels − 1)``)."""
        return 2 ** (len(self.down) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            x = dec(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)


def image_quantiles(flat: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """``torch.quantile(flat, q, dim=1)`` (linear interpolation), ``(len(q), n)``.

    ``flat`` float ``(n, pixels)`` on the CPU, ``q`` 1-D of the same dtype. Without autograd
    and with finite values, the order statistics around each quantile's rank are found by one
    partial sort (``numpy.partition``, introselect: 5x faster than the full sort of
    ``torch.quantile`` on a 144 × 184 image) and interpolated exactly as ``torch.quantile``
    does (rank ``q · (pixels − 1)`` in the dtype of ``q``, ``lerp`` of the values below and
    above): the same values to the last bit (tested). With gradients required,
    ``torch.quantile`` itself, so the gradient goes to the pixels its sort picks (ties could
    otherwise send it to another pixel of the same value).
    """
    if ((torch.is_grad_enabled() and flat.requires_grad) or flat.device.type != "cpu"
            or not bool(torch.isfinite(flat).all())):
        return torch.quantile(flat, q, dim=1)
    ranks = q * (flat.shape[1] - 1)
    below, above = ranks.to(torch.long), ranks.ceil().to(torch.long)
    kth = sorted({int(k) for k in below} | {int(k) for k in above})
    part = torch.from_numpy(np.partition(flat.detach().numpy(), kth, axis=1))
    v_below, v_above = part[:, below].T, part[:, above].T  # (len(q), n)
    return v_below.lerp(v_above, (ranks - below.to(q.dtype))[:, None].expand_as(v_below))


def normalise_intensity(x: torch.Tensor, low: float = 0.01, high: float = 0.99) -> torch.Tensor:
    """Per-image linear normalisation ``(x − p_low) / (p_high − p_low)``.

    ``x`` float ``(n, y, x)``; percentiles over each image's pixels (``torch.quantile``,
    linear interpolation); the denominator is clamped at 1e-8 · (1 + |p_high|). No clipping.
    """
    flat = x.reshape(x.shape[0], -1)
    q = image_quantiles(flat, torch.tensor([low, high], dtype=x.dtype))  # (2, n)
    lo, hi = q[0].view(-1, 1, 1), q[1].view(-1, 1, 1)
    return (x - lo) / (hi - lo).clamp_min(1e-8 * (1.0 + hi.abs().max().item()))


def _otsu_threshold(v: torch.Tensor, bins: int = 128) -> torch.Tensor:
    """Otsu's threshold of the values ``v`` (1-D): the histogram split of maximal between-class
    variance (Otsu, IEEE Trans SMC 9:62, 1979)."""
    lo, hi = v.min(), v.max()
    if not bool(hi > lo):
        return lo
    hist = torch.histc(v, bins=bins, min=float(lo), max=float(hi))
    centres = lo + (hi - lo) * (torch.arange(bins, dtype=v.dtype) + 0.5) / bins
    w0 = torch.cumsum(hist, 0)
    w1 = w0[-1] - w0
    m0 = torch.cumsum(hist * centres, 0)
    mu0 = m0 / w0.clamp_min(1)
    mu1 = (m0[-1] - m0) / w1.clamp_min(1)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return centres[int(torch.argmax(between[:-1]))] + (hi - lo) / (2 * bins)


def flatten_receive_field(x: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Divide each image of ``x`` ``(n, y, x)`` by its estimated receive (bias) field.

    Per image: the signal pixels are those above Otsu's threshold of the log intensity (air,
    lungs and the RSS noise floor fall below it); the log field is the normalised convolution
    (Knutsson & Westin, CVPR 1993) of the log intensity over the signal pixels with a Gaussian
    of σ = ``sigma_px`` pixels, so dark regions do not pull it down; the image is divided by
    ``exp`` of it (homomorphic correction: Axel, Costantini & Listerud, AJR 148:418, 1987).
    Tissue comes out at a level of about 1 whether the image is a root-sum-of-squares with
    strong coil shading or a flat coil-combined image. The same correction, per slice on the
    time-mean image, is step 1 of the classical baseline
    (:func:`reference_impls.segmentation.classical.correct_receive_field`); here it is per
    image and differentiable almost everywhere (the mask is piecewise constant).
    """
    tiny = 1e-12 * float(x.detach().abs().max().clamp_min(1e-30))
    logx = torch.log(x.clamp_min(tiny))
    mask = torch.zeros_like(x)
    for i in range(x.shape[0]):
        mask[i] = (logx[i] > _otsu_threshold(logx[i].detach().reshape(-1))).to(x.dtype)
    num = gaussian_smooth(logx * mask, sigma_px)
    den = gaussian_smooth(mask, sigma_px)
    logf = num / den.clamp_min(1e-3)
    return x / torch.exp(logf)


def _resample(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """``x`` ``(n, c, y, x)`` → ``(n, c, *size)``; bilinear with antialias when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode=mode, align_corners=False,
                         antialias=bool(shrink and mode == "bilinear"))


def working_size(shape: tuple[int, int], spacing_mm, working_mm: float) -> tuple[int, int]:
    """Grid size ``(ny, nx)`` of a native ``shape`` at pixel spacing ``working_mm``."""
    dy, dx = spacing_mm
    return (max(1, int(round(shape[0] * dy / working_mm))),
            max(1, int(round(shape[1] * dx / working_mm))))


def prepare(images: torch.Tensor, spacing_mm, working_mm: float, multiple: int,
            field_sigma_mm: float | None = None) -> tuple[torch.Tensor, tuple[int, int]]:
    """Native magnitude images → network input (module docstring, steps 1–3).

    Parameters
    ----------
    images : Tensor, float, ``(n, y, x)``
        Magnitude images at native spacing (arbitrary units).
    spacing_mm : (dy, dx), mm
    working_mm : float
        Working pixel spacing.
    multiple : int
        Pad to a multiple of this.
    field_sigma_mm : float, optional
        When given, each image is divided by its receive-field estimate
        (:func:`flatten_receive_field`, σ in mm) before the normalisation; None (the weights
        trained on phantom version 1) skips it. Weights record it (``field_sigma_mm``).

    Returns
    -------
    (input ``(n, 1, Y', X')``, working size ``(Y, X)`` before padding)
    """
    size = working_size(tuple(images.shape[-2:]), spacing_mm, working_mm)
    x = _resample(images.unsqueeze(1), size, "bilinear")[:, 0]
    if field_sigma_mm is not None:
        x = flatten_receive_field(x, float(field_sigma_mm) / working_mm)
    x = normalise_intensity(x).unsqueeze(1)
    py = (-size[0]) % multiple
    px = (-size[1]) % multiple
    if py or px:
        x = F.pad(x, (0, px, 0, py))
    return x, size


def load_seg_unet(weights_dir: Path | str | None = None) -> tuple[SegUNet, dict]:
    """Build :class:`SegUNet` from the shipped ``seg-unet.pt`` after verifying its SHA-256.

    Raises
    ------
    WeightsError
        Missing files or a hash mismatch; the message names the file and the retraining
        command.
    """
    state, meta = load_verified_state(WEIGHTS_NAME, Path(weights_dir) if weights_dir else None,
                                      retrain_hint=RETRAIN_HINT)
    cfg = meta["config"]
    net = SegUNet(tuple(cfg["features"]), cfg.get("n_classes", 4))
    net.load_state_dict(state)
    net.eval()
    return net, meta


@register("segmentation", "unet")
class UNetSegmenter:
    """2-D U-Net segmentation of cine stacks (shipped weights ``seg-unet``).

    Called as ``method(images, spacing_mm) -> labels``.

    Parameters
    ----------
    weights_dir : path, optional
        Folder with ``seg-unet.pt`` / ``seg-unet.json``; default ``reference_impls/weights``.
    module : SegUNet, optional
        Use this network instead of loading weights (e.g. fresh from training).
    working_spacing_mm : float, optional
        Default: the spacing recorded with the weights (2.0 mm).
    batch_size : int, default 16
        Images per forward pass (memory only; results do not depend on it).
    field_sigma_mm : float, optional
        Receive-field correction before the normalisation (:func:`flatten_receive_field`);
        default: the value recorded with the weights (``field_sigma_mm``; absent in the
        weights trained on phantom version 1, which take no correction).

    Attributes
    ----------
    module : SegUNet
        The ``torch.nn.Module`` (white-box access for adversarial tests).

    Notes
    -----
    ``images`` are magnitude float ``(slice, frame, y, x)``; ``spacing_mm = (dy, dx)`` in mm;
    the output is uint8 ``(slice, frame, y, x)`` in the ACDC convention. The input pipeline
    (resampling, per-image percentile normalisation, padding) is in the module docstring and
    is part of :meth:`logits`, so gradients flow from the logits to the native-grid pixels.

    Measured accuracy on held-out phantom subjects is in ``docs/segmentation-methods.md``.
    Trained on the phantom only (version 2: papillary muscles, trabeculae, atria and outflow
    tracts included): real anatomy, flow and artefacts vary more than the phantom's.
    """

    name = "unet"
    # 1.1: channels-last layout (float32 rounding: a label may flip at a tie); 2.0: weights
    # trained on phantom version 2 (receive-field correction, sqrt-median-frequency weights)
    version = "2.0"
    stage = "segmentation"

    def __init__(self, weights_dir: str | Path | None = None, module: SegUNet | None = None,
                 working_spacing_mm: float | None = None, batch_size: int = 16,
                 field_sigma_mm: float | None = None):
        if module is None:
            module, self.weights_meta = load_seg_unet(weights_dir)
            # channels-last weights: oneDNN's convolutions are 1.4-1.6x faster on CPU than with
            # the default layout (the same arithmetic in another order: logits agree to
            # float32 rounding; docs/performance.md)
            module = module.to(memory_format=torch.channels_last)
        else:
            self.weights_meta = {"sha256": None, "config": module.config,
                                 "working_spacing_mm": 2.0}
        self.module = module
        self.working_spacing_mm = float(working_spacing_mm if working_spacing_mm is not None
                                        else self.weights_meta.get("working_spacing_mm", 2.0))
        self.batch_size = int(batch_size)
        self.field_sigma_mm = (field_sigma_mm if field_sigma_mm is not None
                               else self.weights_meta.get("field_sigma_mm"))

    def params(self) -> dict:
        """Parameters that identify this method's output (for provenance)."""
        out = {"weights_sha256": self.weights_meta.get("sha256"),
               "working_spacing_mm": self.working_spacing_mm, **self.module.config}
        if self.field_sigma_mm is not None:
            out["field_sigma_mm"] = self.field_sigma_mm
        return out

    def logits(self, images: torch.Tensor, spacing_mm=(2.0, 2.0)) -> torch.Tensor:
        """Differentiable class logits on the native grid.

        Parameters
        ----------
        images : Tensor, float, ``(..., y, x)``
            Magnitude images at native spacing (any leading axes, e.g. ``(slice, frame)``).
        spacing_mm : (dy, dx), mm, default (2.0, 2.0)

        Returns
        -------
        Tensor, float32, ``(..., 4, y, x)``
            Logits of background, RV, MYO, LV (ACDC order), resampled bilinearly to the input
            grid. Normalisation (per-image 1st–99th percentile) happens inside, so the
            gradient is with respect to the raw ``images``.
        """
        lead, (ny, nx) = images.shape[:-2], images.shape[-2:]
        x = images.reshape(-1, ny, nx).to(torch.float32)
        inp, (wy, wx) = prepare(x, spacing_mm, self.working_spacing_mm, self.module.multiple,
                                self.field_sigma_mm)
        out = self.module(inp)[..., :wy, :wx]
        out = _resample(out, (ny, nx), "bilinear")
        return out.reshape(*lead, out.shape[1], ny, nx)

    def __call__(self, images, spacing_mm) -> np.ndarray:
        arr = check_images(images, "UNetSegmenter")
        dy, dx = check_spacing(spacing_mm, "UNetSegmenter")
        ns, nf, ny, nx = arr.shape
        flat = torch.from_numpy(arr.reshape(-1, ny, nx))
        out = np.empty(flat.shape, np.uint8)
        self.module.eval()
        # inference mode: no autograd graph and no version counters (identical values)
        with torch.inference_mode():
            for i in range(0, flat.shape[0], self.batch_size):
                lg = self.logits(flat[i:i + self.batch_size], (dy, dx))
                out[i:i + self.batch_size] = lg.argmax(dim=1).to(torch.uint8).numpy()
        return out.reshape(ns, nf, ny, nx)

