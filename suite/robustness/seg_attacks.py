"""Worst-case and random perturbations of segmentation methods.

Segmentation (``g``: magnitude images → labels)
------------------------------------------------
Images ``(slice, frame, y, x)`` are mapped per image to [0, 1] by ``u = (x − min)/(max − min)``
(torchattacks clamps its inputs to [0, 1]); the wrapped model de-normalises before
``method.logits`` (:class:`UNetSegmenter.logits` normalises intensities itself). Budgets are in
units of that [0, 1] scale: L∞ for ``fgsm``, ``pgd``, ``random-linf``; per-image L2 for
``pgd-l2``, ``random-l2``. torchattacks FGSM, PGD (random start, ``α = 2.5 ε / steps``) and
PGDL2 maximise the pixel-wise cross-entropy against ``labels`` (the ground truth when given,
else the clean prediction). APGD and CW do not support ``(N, C, H, W)`` outputs in
torchattacks 3.5.1. The perturbed output is the method's own ``__call__`` on the de-normalised
images, and ``deviation`` is the fraction of pixels whose label changed.

Results are :class:`~suite.robustness.perturbation.PerturbationResult` objects. Every random
draw comes from :func:`~suite.robustness.perturbation.stream_rng` with the norm as stream, and
torchattacks' random starts from a forked torch generator seeded by
:func:`~suite.robustness.perturbation.torch_seed` (one seed per batch), so results are
deterministic for a seed and do not depend on the order of the budgets.

References
----------
Madry A, Makelov A, Schmidt L, Tsipras D, Vladu A. Towards deep learning models resistant to
adversarial attacks. ICLR 2018 (arXiv 1706.06083).
Kim H. Torchattacks: a PyTorch repository for adversarial attacks. arXiv 2010.01950, 2020.
"""

from __future__ import annotations

import numpy as np
import torch

from suite._validation import check_option
from suite.robustness.perturbation import (
    PerturbationResult, check_budgets, check_count, stream_rng, torch_seed,
)

__all__ = ["SEG_KINDS", "SEG_ATTACKS", "attack_segmentation", "random_segmentation"]

SEG_KINDS = ("fgsm", "pgd", "pgd-l2", "random-linf", "random-l2", "random-search")
#: White-box segmentation attacks (torchattacks classes).
SEG_ATTACKS = ("fgsm", "pgd", "pgd-l2")


def _seg_inputs(method, images, spacing_mm, where, clean_labels=None):
    """Checked images as ``(n, y, x)`` images in [0, 1] with their mapping, and the clean labels.

    Returns ``(shape, spacing, unit, lo, scale, clean)``: the original shape
    ``(slice, frame, y, x)``, the checked spacing, the [0, 1] images ``(n, y, x)``, the
    per-image offset and scale of that mapping, and the method's labels of the clean input
    (``clean_labels`` when the caller has them, otherwise one evaluation of the method).
    """
    from reference_impls.segmentation.checks import check_images, check_spacing

    arr = check_images(images, where)
    spacing = check_spacing(spacing_mm, where)
    shape = arr.shape
    flat = arr.reshape(-1, *shape[-2:])
    lo, scale = _unit_scale(flat)
    unit = _to_unit(flat, lo, scale)
    if clean_labels is None:
        clean = _labels_of(method, flat, shape, spacing)
    else:
        clean = np.asarray(clean_labels, dtype=np.uint8)
        if clean.shape != shape:
            raise ValueError(f"{where}: clean_labels shape {clean.shape} does not match images "
                             f"(slice, frame, y, x) = {shape}")
    return shape, spacing, unit, lo, scale, clean


def _unit_scale(flat: np.ndarray):
    """Per-image ``(lo, scale)`` of the [0, 1] mapping; ``scale = 1`` for constant images."""
    lo = flat.min(axis=(1, 2)).astype(np.float32)
    hi = flat.max(axis=(1, 2)).astype(np.float32)
    scale = np.where(hi > lo, hi - lo, np.float32(1.0)).astype(np.float32)
    return lo, scale


def _to_unit(flat, lo, scale):
    return np.clip((flat - lo[:, None, None]) / scale[:, None, None], 0.0, 1.0).astype(np.float32)


def _from_unit(u, lo, scale):
    return (lo[:, None, None] + u * scale[:, None, None]).astype(np.float32)


class _UnitModel(torch.nn.Module):
    """``(N, 1, H, W)`` in [0, 1] → logits ``(N, C, H, W)``: de-normalise, then ``logits``."""

    def __init__(self, method, lo, scale, spacing):
        super().__init__()
        module = getattr(method, "module", None)
        self.net = module if isinstance(module, torch.nn.Module) else None
        # torchattacks reads the device from the first parameter; a method without one
        # still needs it.
        self.anchor = torch.nn.Parameter(torch.zeros(0), requires_grad=False)
        self._method = method
        self.register_buffer("lo", torch.from_numpy(lo).view(-1, 1, 1))
        self.register_buffer("scale", torch.from_numpy(scale).view(-1, 1, 1))
        self.spacing = spacing

    def forward(self, u):
        x = self.lo + u[:, 0] * self.scale
        return self._method.logits(x, self.spacing)


def _labels_of(method, flat_images, shape, spacing) -> np.ndarray:
    return np.asarray(method(flat_images.reshape(shape), spacing), dtype=np.uint8)


def _seg_result(kind, budget, norm, unit_clean, unit_adv, lo, scale, shape, method, spacing,
                clean_labels, *, white_box, steps=0, queries=0, notes=()):
    delta = (unit_adv - unit_clean).reshape(unit_clean.shape[0], -1).astype(np.float64)
    if norm == "linf":
        reached = float(np.abs(delta).max()) if delta.size else 0.0
    else:
        reached = float(np.sqrt((delta ** 2).sum(axis=1)).max()) if delta.size else 0.0
    perturbed = _from_unit(unit_adv, lo, scale).reshape(shape)
    labels = _labels_of(method, perturbed, shape, spacing)
    return PerturbationResult(
        kind=kind, budget=budget, norm_reached=reached,
        deviation=float(np.mean(labels != clean_labels)), output=labels, white_box=white_box,
        domain="image", norm=norm, steps=steps, queries=queries, perturbed=perturbed,
        notes=tuple(notes))


def _random_unit(unit, budget, norm, rng):
    n = unit.shape[0]
    if norm == "linf":
        delta = budget * rng.choice(np.array([-1.0, 1.0], np.float32), size=unit.shape)
    else:
        g = rng.standard_normal(unit.shape).astype(np.float32)
        g /= np.sqrt((g.reshape(n, -1).astype(np.float64) ** 2).sum(axis=1)).astype(
            np.float32)[:, None, None]
        delta = budget * g
    return np.clip(unit + delta, 0.0, 1.0).astype(np.float32)


def attack_segmentation(method, images, spacing_mm, budgets, *, attack: str = "pgd",
                        steps: int = 10, labels=None, seed: int = 0, batch_size: int = 16,
                        n_queries: int = 8, clean_labels=None) -> list[PerturbationResult]:
    """Worst-case perturbation of a segmentation method's input images at each budget.

    Parameters
    ----------
    method : segmentation method
        ``method(images, spacing_mm) -> uint8 labels``; white-box when it has
        ``logits(images, spacing_mm) -> Tensor (..., C, y, x)``.
    images : array, float, ``(slice, frame, y, x)``
        Magnitude images (arbitrary units).
    spacing_mm : (dy, dx), mm
    budgets : float or sequence of float
        ε in units of the per-image [0, 1] scale: L∞ for ``fgsm``/``pgd``, per-image L2 for
        ``pgd-l2``.
    attack : {"fgsm", "pgd", "pgd-l2"}
        torchattacks FGSM, PGD or PGDL2 (white-box). A method without ``logits`` gets the
        black-box random search (kind ``"random-search"``, ``n_queries`` random sign (L∞) or
        Gaussian (L2) perturbations at the budget, the worst kept).
    steps : int, default 10
        PGD iterations (FGSM is one step).
    labels : uint8 ``(slice, frame, y, x)``, optional
        Targets of the cross-entropy; default the clean prediction.
    seed : int
    batch_size : int, default 16
        Images per attack batch (memory; each batch has its own seeded random start).
    clean_labels : uint8 ``(slice, frame, y, x)``, optional
        ``method(images, spacing_mm)`` when the caller already has it (e.g. from the run's
        cache): saves one evaluation of the method; it must be exactly that output.

    Returns
    -------
    list of PerturbationResult, one per budget, ``output`` = the method's labels of the
    perturbed images, ``perturbed`` = those images, ``deviation`` = fraction of pixels
    whose label changed against the clean prediction.
    """
    where = "attack_segmentation"
    check_option(attack, SEG_ATTACKS, name="attack", where=where)
    budgets = check_budgets(budgets, where)
    steps = check_count(steps, "steps", where)
    shape, spacing, unit, lo, scale, clean = _seg_inputs(method, images, spacing_mm, where,
                                                         clean_labels)
    norm = "l2" if attack == "pgd-l2" else "linf"
    if labels is not None:
        targets = np.asarray(labels)
        if targets.shape != shape:
            raise ValueError(f"{where}: labels shape {targets.shape} does not match images "
                             f"(slice, frame, y, x) = {shape}")
        targets = targets.reshape(unit.shape).astype(np.int64)
    else:
        targets = clean.reshape(unit.shape).astype(np.int64)
    white = callable(getattr(method, "logits", None))
    results = []
    for b in budgets:
        if b == 0:
            results.append(_seg_result(attack if white else "random-search", b, norm, unit, unit,
                                       lo, scale, shape, method, spacing, clean,
                                       white_box=white))
            continue
        if not white:
            results.append(_random_search_seg(method, unit, lo, scale, shape, spacing, clean,
                                              b, norm, seed, n_queries))
            continue
        adv = np.empty_like(unit)
        for i0 in range(0, unit.shape[0], int(batch_size)):
            sl = slice(i0, i0 + int(batch_size))
            adv[sl] = _torchattack(method, attack, unit[sl], targets[sl], lo[sl], scale[sl],
                                   spacing, b, steps, seed, i0)
        results.append(_seg_result(attack, b, norm, unit, adv, lo, scale, shape, method,
                                   spacing, clean, white_box=True,
                                   steps=1 if attack == "fgsm" else steps,
                                   queries=1 if attack == "fgsm" else steps))
    return results


def _torchattack(method, attack, unit, targets, lo, scale, spacing, budget, steps, seed, chunk):
    import torchattacks

    model = _UnitModel(method, lo, scale, spacing)
    alpha = 2.5 * budget / steps
    if attack == "fgsm":
        atk = torchattacks.FGSM(model, eps=budget)
    elif attack == "pgd":
        atk = torchattacks.PGD(model, eps=budget, alpha=alpha, steps=steps, random_start=True)
    else:
        atk = torchattacks.PGDL2(model, eps=budget, alpha=alpha, steps=steps, random_start=True)
    seed_int = torch_seed(seed, "l2" if attack == "pgd-l2" else "linf", budget, chunk)
    # torchattacks restores train() after the call if the model was training; a fresh module
    # is, so put it in eval first and give the method's network back its own mode afterwards.
    was_training = model.net.training if model.net is not None else None
    model.eval()
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed_int)
            adv = atk(torch.from_numpy(unit).unsqueeze(1), torch.from_numpy(targets))
    finally:
        if model.net is not None:
            model.net.train(was_training)
    return adv[:, 0].detach().numpy().astype(np.float32)


def _random_search_seg(method, unit, lo, scale, shape, spacing, clean, budget, norm, seed,
                       n_queries):
    check_count(n_queries, "n_queries", "attack_segmentation")
    rng = stream_rng(seed, norm, budget)
    best = None
    for _ in range(int(n_queries)):
        adv = _random_unit(unit, budget, norm, rng)
        res = _seg_result("random-search", budget, norm, unit, adv,
                          lo, scale, shape, method, spacing, clean, white_box=False,
                          queries=int(n_queries),
                          notes=[f"black-box: worst of {n_queries} random perturbations"])
        if best is None or res.deviation > best.deviation:
            best = res
    return best


def random_segmentation(method, images, spacing_mm, budgets, *, norm: str = "linf",
                        seed: int = 0, clean_labels=None) -> list[PerturbationResult]:
    """Random perturbation of the budget norm (uniform signs for L∞, Gaussian for L2).

    Units as :func:`attack_segmentation` (per-image [0, 1] scale); the perturbed image is
    clamped to [0, 1] as torchattacks does, and ``norm_reached`` is measured after the clamp.
    Kind ``"random-linf"`` or ``"random-l2"``. The draw at a budget is the first candidate
    of the black-box random search at that budget. ``clean_labels`` as in
    :func:`attack_segmentation`.
    """
    where = "random_segmentation"
    check_option(norm, ("linf", "l2"), name="norm", where=where)
    budgets = check_budgets(budgets, where)
    shape, spacing, unit, lo, scale, clean = _seg_inputs(method, images, spacing_mm, where,
                                                         clean_labels)
    out = []
    for b in budgets:
        adv = _random_unit(unit, b, norm, stream_rng(seed, norm, b)) if b > 0 else unit
        out.append(_seg_result(f"random-{norm}", b, norm, unit, adv, lo, scale, shape, method,
                               spacing, clean, white_box=False, queries=1 if b > 0 else 0))
    return out
