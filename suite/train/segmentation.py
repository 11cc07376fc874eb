"""Deterministic training of the segmentation U-Net on a phantom cohort (all presets, all classes).

Data: :func:`suite.phantom.simulate` subjects, two per (vendor preset × pathology) cell by
default (:data:`SEG_TRAINING_COHORT`, 40 subjects), simulated directly at the working spacing
(2 mm; matrix 144 × 180, FOV 288 × 360 mm as the presets) with 8 frames (ED, ES and six
others). The receive array cycles over the preset's own coil count (8-16) and 4, 8, 12 and 16
coils, so the root-sum-of-squares renditions carry the shading of small and large arrays
alike. Subject seeds are ``seed_offset + 1000·seed + index`` (20 000 and up): disjoint from
the held-out evaluation seeds (500–999) used in the tests and ``docs/segmentation-methods.md``.

Each step draws ``batch_size`` images (slice, frame) uniformly and augments each one:

* **geometry** (one bilinear resampling for the image, nearest for the labels) onto a
  full-size grid: rotation U(−30°, 30°), isotropic scale U(0.85, 1.15), left-right and
  up-down flips (p = 0.5 each), centred on the heart ± 28 px (p = 0.85) or anywhere
  (p = 0.15);
* **intensity** (Chen et al. 2020; on the raw magnitude, before normalisation): the RSS
  receive field of a random virtual loop array (:func:`_virtual_array_shading`, p = 0.5), a
  smooth multiplicative bias field ``exp(quadratic polynomial)`` with coefficients
  N(0, 0.35²) (p = 0.8), Gaussian blur σ U(0.3, 1.0) px (p = 0.3), additive Gaussian noise of SD
  U(0, 0.06)·p99 taken in magnitude (Rician-like, p = 0.5); then the receive-field
  correction (:func:`reference_impls.segmentation.unet.flatten_receive_field`, σ =
  ``field_sigma_mm``, 30 mm; skipped when None) and the standard per-image normalisation
  (:func:`reference_impls.segmentation.unet.normalise_intensity`), a gamma
  ``x^γ`` with ``log γ ~ U(−0.5, 0.5)`` (p = 0.8) and renormalisation, and a residual
  contrast/brightness jitter ``a·x + b``, a ~ U(0.9, 1.1), b ~ U(−0.05, 0.05).

The network is trained on **whole images** (144 × 176 after cutting the width to a multiple
of 8; ``patch = 0``), exactly the geometry and normalisation it meets at inference. Training
on 96 × 96 heart-centred patches reached a lower loss but generalised poorly to whole images
(held-out myocardial Dice ≈ 0.6 on whole images against ≈ 0.93 on heart-centred crops of the
same images), most likely because with zero padding the network can learn where the patch
border lies relative to the heart, a cue that whole images do not give. ``patch > 0`` keeps the option of a central
square crop (normalised on the whole augmented image first).

Loss: cross-entropy with the square root of the median-frequency class weights
(:func:`class_weights`, ``class_weighting = "sqrt-median-frequency"``; ``"none"`` is the
version-1 recipe) + (1 − mean soft Dice of RV, MYO, LV over the batch). Adam (2e-3), cosine
learning-rate decay to 5 % of the initial rate, batches of 4 images, 2 200 steps.

Why this recipe: the first shipped weights (20 subjects with 4 coils each, bias SD 0.25,
1 200 steps) scored well on coil-combined images but fell to Dice 0.25-0.55 on RSS images of
the presets' own 12-16-coil arrays (hypertrophic hearts and 3 T presets worst): the RSS
shading of a large array was outside what the network had seen. More subjects, the presets'
arrays, the virtual-array shading and a stronger bias field target exactly that shift.

Why the receive-field correction (phantom version 2): trained on version 2 with the recipe
above but no correction, the network did not learn to split the heart (a 1 200-step run ended
at loss 0.87 labelling the whole heart myocardium; a 300-step diagnostic run on two subjects
still labelled every heart pixel background). Version 2 has a bright chest wall and
subcutaneous fat close to the receive coils: in the root-sum-of-squares images (half the
training images, and what the harness feeds segmentation) the 99th percentile is set there,
and after augmentation and normalisation the median LV-blood minus myocardium contrast was
0.10 of the normalised range (10th percentile 0.04, about the blood pool's own SD), against
0.37 in the coil-combined images. The classical baseline divides by a receive-field estimate
first (its step 1) and was not affected. With the same correction in the U-Net's input
pipeline the RSS contrast is 0.15 and the two renditions agree (coil-combined 0.22).
The correction alone did not end the plateau: heart pixels are 3-4 % of a whole image, and
with the unweighted cross-entropy the heart-class probabilities fall within the first 40
steps and the soft Dice term does not recover them (short runs on two subjects, 320 images,
seed 0: every heart pixel still labelled background after 300 steps without and 400 steps
with the correction). With median-frequency class weights the heart classes are predicted
from step 20 and the batch Dice of RV/MYO/LV reached 0.26/0.33/0.31 at step 300, rising; but
the full 2 200-step run (background weight 1/70 of a heart class) over-segmented the rare
classes: held-out Dice (``benchmarks/measure_segmentation.py --frames 3``) LV 0.86 / MYO 0.53
/ RV 0.56 against 0.80 / 0.72 / 0.66 for the version-1 weights. The square root of those
weights (background 1/8) gave LV 0.89 / MYO 0.83 / RV 0.83: the shipped weights 2.0
(``docs/segmentation-methods.md``, "Training recipes on phantom version 2").

Determinism: ``torch.manual_seed(seed)`` for the initial weights, a NumPy generator seeded with
``SeedSequence([seed, 2018])`` for every draw, one intra-op thread and
``torch.use_deterministic_algorithms(True)``: the same configuration gives byte-identical
weights (tested).

References
----------
Chen C et al. Improving the generalizability of convolutional neural network-based
segmentation on CMR images. Front Cardiovasc Med 7:105, 2020.
Chen C et al. Realistic adversarial data augmentation for MR image segmentation. MICCAI 2020,
LNCS 12261:667–677.
Milletari F, Navab N, Ahmadi S-A. V-Net (soft Dice loss). 3DV 2016:565–571.
Eigen D, Fergus R. Predicting depth, surface normals and semantic labels with a common
multi-scale convolutional architecture. ICCV 2015:2650–2658 (median frequency balancing).
Mahajan D et al. Exploring the limits of weakly supervised pretraining. ECCV 2018 (square-root
re-balancing of class frequencies).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from reference_impls.segmentation.unet import (FIELD_SIGMA_MM, RETRAIN_HINT, WEIGHTS_NAME,
                                               SegUNet, flatten_receive_field,
                                               normalise_intensity)
from reference_impls.weights_io import TrainedWeights, TrainingResult, save_weights
from suite._serialise import jsonable
from suite.train.loop import deterministic, train_steps, training_record

__all__ = ["SEG_TRAINING_COHORT", "SegTrainingConfig", "SegTrainingResult", "SegTrainedWeights",
           "train_seg_unet", "fit_seg_unet", "training_cases", "images_and_labels",
           "class_weights"]

_CLASS_WEIGHTINGS = ("sqrt-median-frequency", "median-frequency")
_PATHOLOGIES = ("normal", "dilated", "hypertrophic", "infarcted", "abnormal-rv")
_VENDOR_PRESETS = ("siemens-1.5t", "siemens-3t", "philips-3t", "ge-1.5t")

#: Default training cohort: every vendor preset × every pathology, two subjects per cell,
#: simulated at the working spacing; the receive-coil count cycles over ``coil_counts``
#: ("preset" = the preset's own array, 8-16 coils) so that the RSS renditions carry the
#: shading of small and large arrays alike.
SEG_TRAINING_COHORT = {
    "presets": _VENDOR_PRESETS,
    "pathologies": _PATHOLOGIES,
    "subjects_per_cell": 2,
    "seed_offset": 20_000,
    "coil_counts": ("preset", 4, 8, 12, 16),
    "overrides": {"matrix": (144, 180), "pixel_spacing_mm": 2.0, "n_frames": 8},
}


@dataclass(frozen=True)
class SegTrainingConfig:
    """Hyper-parameters (all recorded in ``seg-unet.json``)."""

    seed: int = 0
    steps: int = 2200
    batch_size: int = 4
    patch: int = 0  # 0: whole image (cut to a multiple of 8); > 0: central square crop
    learning_rate: float = 2e-3
    features: tuple[int, ...] = (16, 32, 64, 128)
    working_spacing_mm: float = 2.0
    dice_weight: float = 1.0
    #: receive-field correction before the normalisation (σ, mm; None: none, version-1 recipe)
    field_sigma_mm: float | None = FIELD_SIGMA_MM
    #: cross-entropy class weights (:func:`class_weights`): "sqrt-median-frequency" (the
    #: square root of the median-frequency weights), "median-frequency" (Eigen & Fergus
    #: 2015) or "none" (the version-1 recipe)
    class_weighting: str = "sqrt-median-frequency"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["features"] = list(self.features)
        return d


#: What :func:`fit_seg_unet` returns (shared record; ``final_loss`` over the last 50 steps).
SegTrainingResult = TrainingResult


#: What :func:`train_seg_unet` wrote (shared record of every training command).
SegTrainedWeights = TrainedWeights


def training_cases(seed: int, cohort: dict):
    """Simulate the cohort lazily: ``subjects_per_cell`` Cases per (preset, pathology)."""
    from suite.phantom import simulate

    coil_counts = tuple(cohort.get("coil_counts") or ("preset",))
    index = 0
    for preset in cohort["presets"]:
        for pathology in cohort["pathologies"]:
            for _ in range(int(cohort["subjects_per_cell"])):
                subject_seed = int(cohort["seed_offset"]) + 1000 * seed + index
                overrides = dict(cohort.get("overrides", {}))
                coils = coil_counts[index % len(coil_counts)]
                if coils != "preset" and "n_coils" not in overrides:
                    overrides["n_coils"] = int(coils)
                index += 1
                yield simulate(seed=subject_seed, preset=preset, pathology=pathology,
                               **overrides)


def images_and_labels(cases, working_mm: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Magnitude images and labels ``(n, y, x)`` of every slice and frame, at ``working_mm``.

    ``cases`` may be any iterable (e.g. the generator :func:`training_cases`; only the
    magnitude images and labels are kept). Cases at another spacing are resampled (images
    bilinear, labels nearest) and all are zero-padded, centred, to the largest grid.
    """
    from suite.mr import ifft2c, rss

    imgs, labs = [], []
    for case in cases:
        # Two renditions of every image: the root-sum-of-squares of the fully sampled k-space
        # (what the harness feeds segmentation; it keeps the receive-coil shading and the noise
        # floor) and the magnitude of the coil-map-combined reference (flat shading, as SENSE-type
        # reconstructions give). A network trained on the second alone fails on the first.
        rss_mag = np.asarray(rss(ifft2c(case.kspace), dim=2), np.float32)
        both = np.concatenate([rss_mag, np.abs(case.reference).astype(np.float32)], axis=0)
        mag = torch.from_numpy(both)
        lab = torch.from_numpy(np.concatenate([case.labels, case.labels], axis=0).astype(np.int64))
        ns, nf, ny, nx = mag.shape
        mag, lab = mag.reshape(-1, ny, nx), lab.reshape(-1, ny, nx)
        dy, dx = case.meta.pixel_spacing_mm
        size = (int(round(ny * dy / working_mm)), int(round(nx * dx / working_mm)))
        if size != (ny, nx):
            mag = F.interpolate(mag[:, None], size=size, mode="bilinear", align_corners=False,
                                antialias=size[0] < ny)[:, 0]
            lab = F.interpolate(lab[:, None].float(), size=size, mode="nearest")[:, 0].long()
        imgs.append(mag)
        labs.append(lab)
    hy = max(m.shape[-2] for m in imgs)
    hx = max(m.shape[-1] for m in imgs)
    out_i = torch.zeros(sum(m.shape[0] for m in imgs), hy, hx)
    out_l = torch.zeros(out_i.shape, dtype=torch.int64)
    k = 0
    for m, lab in zip(imgs, labs):
        n, y, x = m.shape
        oy, ox = (hy - y) // 2, (hx - x) // 2
        out_i[k:k + n, oy:oy + y, ox:ox + x] = m
        out_l[k:k + n, oy:oy + y, ox:ox + x] = lab
        k += n
    return out_i, out_l


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    r = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.conv2d(F.pad(x[None, None], (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return x[0, 0]


def _augment(image: torch.Tensor, label: torch.Tensor, centre: np.ndarray, patch: int, rng,
             field_sigma_px: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One augmented sample (module docstring); all draws from ``rng``.

    The transform is applied to a **full-size** output grid centred on the chosen point and
    the intensity normalisation uses that whole image; then the central ``(patch, patch)``
    square (``patch > 0``) or the whole image cut to a multiple of 8 (``patch = 0``) is
    returned.
    """
    ny, nx = image.shape
    # -- geometry: output offsets q (pixels from the output centre) → input p = c + A q
    if rng.random() < 0.85:
        c = centre + rng.uniform(-28, 28, size=2)
    else:
        c = np.array([rng.uniform(0, ny - 1), rng.uniform(0, nx - 1)])
    theta = np.deg2rad(rng.uniform(-30, 30))
    scale = rng.uniform(0.85, 1.15)
    flip = np.where(rng.random(2) < 0.5, -1.0, 1.0)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    a = scale * rot @ np.diag(flip)
    qy, qx = np.meshgrid(np.arange(ny) - (ny - 1) / 2.0, np.arange(nx) - (nx - 1) / 2.0,
                         indexing="ij")
    py = c[0] + a[0, 0] * qy + a[0, 1] * qx
    px = c[1] + a[1, 0] * qy + a[1, 1] * qx
    grid = torch.from_numpy(np.stack([(2 * px + 1) / nx - 1, (2 * py + 1) / ny - 1], -1)
                            .astype(np.float32))[None]
    img = F.grid_sample(image[None, None], grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False)[0, 0]
    lab = F.grid_sample(label[None, None].float(), grid, mode="nearest", padding_mode="zeros",
                        align_corners=False)[0, 0].round().long()
    # -- intensity, raw magnitude
    if rng.random() < 0.5:
        img = img * _virtual_array_shading(ny, nx, rng)
    if rng.random() < 0.8:
        coef = rng.normal(0, 0.35, size=5)
        u = torch.from_numpy(qy / (ny / 2)).float()
        v = torch.from_numpy(qx / (nx / 2)).float()
        img = img * torch.exp(coef[0] * u + coef[1] * v + coef[2] * u * u + coef[3] * v * v
                              + coef[4] * u * v)
    if rng.random() < 0.3:
        img = _gaussian_blur(img, rng.uniform(0.3, 1.0))
    if rng.random() < 0.5:
        sd = rng.uniform(0, 0.06) * float(torch.quantile(img.flatten(), 0.99))
        noise = torch.from_numpy(rng.standard_normal((2, ny, nx)).astype(np.float32)) * sd
        img = torch.sqrt((img + noise[0]) ** 2 + noise[1] ** 2)
    if field_sigma_px is not None:
        img = flatten_receive_field(img[None], field_sigma_px)[0]
    img = normalise_intensity(img[None])[0]
    if rng.random() < 0.8:
        gamma = float(np.exp(rng.uniform(-0.5, 0.5)))
        img = normalise_intensity(img.clamp_min(0).pow(gamma)[None])[0]
    img = img * rng.uniform(0.9, 1.1) + rng.uniform(-0.05, 0.05)
    if patch > 0:
        py, px_ = patch, patch
    else:  # the whole image, cut to a multiple of 8 (the U-Net's stride)
        py, px_ = ny - ny % 8, nx - nx % 8
    y0, x0 = (ny - py) // 2, (nx - px_) // 2
    return img[y0:y0 + py, x0:x0 + px_], lab[y0:y0 + py, x0:x0 + px_]


def _virtual_array_shading(ny: int, nx: int, rng) -> torch.Tensor:
    """Root-sum-of-squares receive field of a random virtual loop array, ``(ny, nx)``, max 1.

    ``n`` ∈ {4, ..., 16} loops of radius ``a`` (U(20, 45) px, i.e. 40-90 mm at the working
    spacing) sit on an ellipse around a point near the image centre, semi-axes U(0.35, 0.55)
    of the image height/width, at a random start angle. Each loop's field magnitude is the
    on-axis Biot-Savart fall-off ``a² / (a² + d²)^{3/2}`` with ``d`` the in-plane distance from
    the loop centre (a 2-D stand-in for :mod:`suite.phantom.coils`); the RSS over loops is the
    shading an RSS image of that array carries, from nearly flat (many coils far away) to a
    strong centre-dark, edge-bright profile (few close coils).
    """
    n = int(rng.integers(4, 17))
    a = rng.uniform(20, 45)
    cy = (ny - 1) / 2.0 + rng.uniform(-0.1, 0.1) * ny
    cx = (nx - 1) / 2.0 + rng.uniform(-0.1, 0.1) * nx
    ry, rx = rng.uniform(0.35, 0.55) * ny, rng.uniform(0.35, 0.55) * nx
    phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(n) / n
    yy, xx = np.mgrid[:ny, :nx].astype(np.float64)
    total = np.zeros((ny, nx))
    for p in phi:
        d2 = (yy - cy - ry * np.sin(p)) ** 2 + (xx - cx - rx * np.cos(p)) ** 2
        total += (a * a / (a * a + d2) ** 1.5) ** 2
    shade = np.sqrt(total)
    return torch.from_numpy((shade / shade.max()).astype(np.float32))


def _heart_centres(labels: torch.Tensor) -> np.ndarray:
    """Centroid ``(y, x)`` of the heart labels per image; image centre when there are none."""
    n, ny, nx = labels.shape
    out = np.tile([(ny - 1) / 2.0, (nx - 1) / 2.0], (n, 1))
    yy, xx = np.mgrid[:ny, :nx]
    lab = labels.numpy()
    for i in range(n):
        m = lab[i] > 0
        if m.any():
            out[i] = (yy[m].mean(), xx[m].mean())
    return out


def class_weights(labels: torch.Tensor, n_classes: int, how: str) -> torch.Tensor | None:
    """Cross-entropy class weights from the training labels (None for ``how = "none"``).

    ``"median-frequency"``: ``w_k = median(f) / f_k`` with ``f_k`` the share of pixels of class
    ``k`` over all training images and the median interpolated between the middle two for an
    even number of classes (median frequency balancing, Eigen & Fergus, ICCV 2015:
    2650–2658); classes absent from the labels get weight 0.

    ``"sqrt-median-frequency"``: ``sqrt(w_k)``, a milder balance (the square-root
    re-balancing of class frequencies that Mahajan et al., ECCV 2018, used for hashtag
    sampling). On the default cohort (class shares 0.959 / 0.0135 / 0.0149 / 0.0126) the
    weights are 0.122 / 1.02 / 0.98 / 1.06: the background weighs 1/8 of a heart class instead
    of 1/70.

    Examples
    --------
    >>> class_weights(torch.tensor([0, 0, 0, 0, 0, 0, 1, 2]), 3, "median-frequency").tolist()
    [0.1666666716337204, 1.0, 1.0]
    >>> class_weights(torch.tensor([0, 0, 0, 0, 1, 2, 2, 2]), 3, "sqrt-median-frequency").tolist()
    [0.8660253882408142, 1.7320507764816284, 1.0]
    """
    if how == "none":
        return None
    if how not in _CLASS_WEIGHTINGS:
        choices = ", ".join(map(repr, _CLASS_WEIGHTINGS))
        raise ValueError(f"class_weights: how must be one of {choices} or 'none'; got {how!r}")
    freq = torch.bincount(labels.reshape(-1), minlength=n_classes).double()
    freq = freq / freq.sum()
    w = torch.where(freq > 0, torch.quantile(freq, 0.5) / freq.clamp_min(1e-30),
                    torch.zeros_like(freq))
    if how == "sqrt-median-frequency":
        w = w.sqrt()
    return w.float()


def _loss(logits: torch.Tensor, target: torch.Tensor, dice_weight: float,
          weight: torch.Tensor | None = None) -> torch.Tensor:
    ce = F.cross_entropy(logits, target, weight=weight)
    prob = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2).float()
    inter = (prob * onehot).sum(dim=(0, 2, 3))[1:]
    denom = (prob + onehot).sum(dim=(0, 2, 3))[1:]
    dice = (2 * inter + 1.0) / (denom + 1.0)
    return ce + dice_weight * (1.0 - dice.mean())


def fit_seg_unet(images: torch.Tensor, labels: torch.Tensor, config: SegTrainingConfig,
                 log=None) -> SegTrainingResult:
    """Train :class:`SegUNet` on images/labels ``(n, y, x)`` at the working spacing.

    Parameters
    ----------
    images : Tensor, float32, ``(n, y, x)``
        Magnitude images (raw intensities; normalisation happens per sample).
    labels : Tensor, int64, ``(n, y, x)``
        ACDC labels.
    config : SegTrainingConfig
    log : callable(str), optional
        Progress every 50 steps; the library itself prints nothing.
    """
    if images.shape[0] == 0:
        raise ValueError("fit_seg_unet: no training images (empty cohort)")
    with deterministic(config.seed):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2018]))
        centres = _heart_centres(labels)
        weight = class_weights(labels, 4, config.class_weighting)
        sigma_px = (None if config.field_sigma_mm is None
                    else config.field_sigma_mm / config.working_spacing_mm)
        net = SegUNet(config.features)

        def batch_loss(step: int) -> torch.Tensor:
            idx = rng.integers(images.shape[0], size=config.batch_size)
            pairs = [_augment(images[i], labels[i], centres[i], config.patch, rng, sigma_px)
                     for i in idx]
            x = torch.stack([p[0] for p in pairs])[:, None]
            y = torch.stack([p[1] for p in pairs])
            return _loss(net(x), y, config.dice_weight, weight)

        return train_steps(net, batch_loss, steps=config.steps,
                           learning_rate=config.learning_rate, config=config, floor=0.05,
                           log=log, log_every=50, tail=50)


def train_seg_unet(*, seed: int = 0, steps: int = 2200, out_dir=None, log=None,
                   cohort: dict | None = None, batch_size: int = 4, command: str = ""
                   ) -> SegTrainedWeights:
    """Simulate the training cohort, train the U-Net and write ``seg-unet.pt`` / ``.json``.

    Parameters
    ----------
    seed : int, default 0
        Seeds the cohort subjects, the initial weights and every augmentation draw.
    steps : int, default 2200
        Optimiser steps (batches of ``batch_size`` augmented whole images).
    out_dir : path, optional
        Default ``reference_impls/weights``.
    log : callable(str), optional
        Progress messages (the CLI passes ``print``).
    cohort : dict, optional
        Same keys as :data:`SEG_TRAINING_COHORT` (default).
    batch_size : int, default 4
    command : str, optional
        Command line recorded in the JSON (default: the equivalent ``cmrsuite train``).

    Returns
    -------
    SegTrainedWeights
        Paths, SHA-256 and final loss (mean of the last 50 steps).
    """
    cohort = dict(SEG_TRAINING_COHORT if cohort is None else cohort)
    config = SegTrainingConfig(seed=seed, steps=steps, batch_size=batch_size)
    n_subjects = (len(cohort["presets"]) * len(cohort["pathologies"])
                  * int(cohort["subjects_per_cell"]))
    t0 = time.perf_counter()
    if log:
        log(f"simulating the training cohort ({n_subjects} phantom subjects)")
    images, labels = images_and_labels(training_cases(seed, cohort), config.working_spacing_mm)
    sim_seconds = time.perf_counter() - t0
    if log:
        log(f"{images.shape[0]} images {tuple(images.shape[1:])} in {sim_seconds:.0f} s; training")
    result = fit_seg_unet(images, labels, config, log=log)
    meta = {
        "config": SegUNet(config.features).config,
        "working_spacing_mm": config.working_spacing_mm,
        "normalisation": ("per image (x - p1) / (p99 - p1), no clipping"
                          + ("" if config.field_sigma_mm is None else
                             ", after dividing by the receive-field estimate")),
        "field_sigma_mm": config.field_sigma_mm,
        "training": config.to_dict(),
        "command": command or f"cmrsuite train {WEIGHTS_NAME} --seed {seed} --steps {steps}",
        "retrain": RETRAIN_HINT,
        "seed": seed,
        "steps": steps,
        "data": {"source": "cmrsuite phantom (suite.phantom.simulate)",
                 "n_subjects": n_subjects, "n_images": int(images.shape[0]),
                 "image_shape": list(images.shape[1:]),
                 "subject_seeds": f"{cohort['seed_offset']} + 1000*seed + index",
                 **jsonable(cohort)},
        **training_record(result, sim_seconds),
    }
    pt, meta_path, digest = save_weights(result.state_dict, meta, WEIGHTS_NAME, out_dir)
    return SegTrainedWeights(pt, meta_path, digest, result.final_loss)
