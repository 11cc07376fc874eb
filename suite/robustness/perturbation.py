"""Shared pieces of the perturbation analyses: the result object, argument checks, random streams.

* :mod:`suite.robustness.recon_attacks`: worst-case and random perturbations of
  reconstruction methods (kinds ``kspace-pgd``, ``image-pgd``, ``kspace-random``,
  ``image-random``, ``random-search``);
* :mod:`suite.robustness.seg_attacks`: the same for segmentation methods (``fgsm``, ``pgd``,
  ``pgd-l2``, ``random-linf``, ``random-l2``, ``random-search``);
* :mod:`suite.robustness.instability`: adversarial over random degradation.

All of them return :class:`PerturbationResult` objects, validate ``budgets`` and counts with
:func:`check_budgets` and :func:`check_count`, and decide white-box access with
:func:`is_differentiable`.

Randomness: every draw comes from ``numpy.random.default_rng(SeedSequence([seed, stream,
budget bits]))`` (:func:`stream_rng`), and torchattacks' random starts from a forked torch
generator seeded the same way (:func:`torch_seed`), so results are deterministic for a seed
and do not depend on the order of the budgets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from suite._serialise import jsonable

__all__ = ["PerturbationResult", "is_differentiable", "check_budgets", "check_count",
           "stream_rng", "torch_seed"]

#: Seed-stream number of each perturbation family (reconstruction domains, segmentation norms).
_STREAMS = {"kspace": 1, "image": 2, "linf": 3, "l2": 4, "input": 5, "input-linf": 6}


@dataclass(frozen=True)
class PerturbationResult:
    """One perturbation of one method at one budget.

    Attributes
    ----------
    kind : str
        One of :data:`suite.robustness.recon_attacks.RECON_KINDS`,
        :data:`suite.robustness.seg_attacks.SEG_KINDS` or
        :data:`suite.robustness.input_attacks.INPUT_KINDS`.
    budget : float
        Requested ε. Reconstruction: relative L2, ``||e|| ≤ ε·||y||`` (k-space) or
        ``||r|| ≤ ε·||x||`` (image). Segmentation: units of the [0, 1]-normalised image, L∞
        (``fgsm``, ``pgd``, ``random-linf``) or L2 per image (``pgd-l2``, ``random-l2``).
    norm_reached : float
        The norm actually applied, same units as ``budget`` (segmentation: the largest over
        images, after torchattacks' clamp to [0, 1]).
    deviation : float
        Reconstruction: ``||f(y+e) − f(y)||₂ / ||f(y)||₂`` (complex images, all slices and
        frames). Segmentation: fraction of pixels whose label differs from the clean
        prediction.
    output : ndarray
        Reconstruction: complex64 ``(slice, frame, y, x)``; segmentation: uint8 labels
        ``(slice, frame, y, x)``.
    white_box : bool
        True when gradients of the method were used.
    domain : str
        ``"kspace"`` or ``"image"`` (reconstruction), ``"image"`` (segmentation).
    norm : str
        ``"l2"`` or ``"linf"``.
    steps : int
        Gradient steps (0 for random perturbations and random search).
    queries : int
        Calls of the method's forward map made by the attack (cost; clean call excluded).
    perturbed : ndarray or None
        Segmentation: the perturbed magnitude images float32 ``(slice, frame, y, x)``.
    perturbation : ndarray or None
        Reconstruction with ``keep_perturbation=True``: the perturbation itself, complex64,
        ``e`` ``(slice, frame, coil, ky, kx)`` (k-space domain, zero off the mask) or ``r``
        ``(slice, frame, y, x)`` (image domain).
    notes : tuple of str
        Anything that happened on the way (e.g. non-finite gradients replaced by 0).
    """

    kind: str
    budget: float
    norm_reached: float
    deviation: float
    output: np.ndarray
    white_box: bool
    domain: str = "kspace"
    norm: str = "l2"
    steps: int = 0
    queries: int = 0
    perturbed: np.ndarray | None = field(default=None, repr=False)
    perturbation: np.ndarray | None = field(default=None, repr=False)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe scalars (no arrays)."""
        return jsonable({"kind": self.kind, "budget": self.budget,
                         "norm_reached": self.norm_reached, "deviation": self.deviation,
                         "white_box": self.white_box, "domain": self.domain, "norm": self.norm,
                         "steps": self.steps, "queries": self.queries, "notes": list(self.notes)})

    def summary(self) -> str:
        """One line: kind, budget, norm reached, deviation, access."""
        unit = "label change" if self.output.dtype == np.uint8 else "relative deviation"
        access = "white-box" if self.white_box else "black-box"
        text = (f"{self.kind} ({access}, {self.norm.upper()} in the {self.domain} domain): "
                f"budget {self.budget:g}, norm reached {self.norm_reached:.4g}, "
                f"{unit} {self.deviation:.4g}")
        return text + (f" [{'; '.join(self.notes)}]" if self.notes else "")


def is_differentiable(method) -> bool:
    """True if ``method`` offers white-box access.

    Reconstruction: a ``reconstruct(kspace, mask, coil_maps) -> Tensor`` method;
    segmentation: a ``logits(images, spacing_mm) -> Tensor`` method.
    """
    return callable(getattr(method, "reconstruct", None)) or callable(
        getattr(method, "logits", None))


def check_budgets(budgets, where: str) -> list[float]:
    """``budgets`` (a number or a sequence) as a non-empty list of finite floats ≥ 0.

    Raises
    ------
    ValueError
        Naming ``where`` and the offending value: not a number, negative or non-finite, or
        an empty sequence.
    """
    values = [budgets] if np.isscalar(budgets) else list(budgets)
    out = []
    for b in values:
        try:
            v = float(b)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: budgets must be numbers; got {b!r}") from None
        if not (math.isfinite(v) and v >= 0):
            raise ValueError(f"{where}: every budget must be finite and >= 0; got {b!r}")
        out.append(v)
    if not out:
        raise ValueError(f"{where}: budgets is empty; give at least one ε, e.g. [0.01, 0.05]")
    return out


def check_count(value, name: str, where: str) -> int:
    """``value`` (e.g. ``steps``, ``n_queries``) as an int ≥ 1; ValueError naming it otherwise."""
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{where}: {name} must be an int >= 1; got {value!r}")
    return int(value)


def stream_rng(seed: int, stream: str, budget: float, extra: int = 0) -> np.random.Generator:
    """The generator of one perturbation family at one budget.

    Parameters
    ----------
    seed : int
        The caller's seed (its low 32 bits are used).
    stream : {"kspace", "image", "linf", "l2", "input", "input-linf"}
        The family: reconstruction domain, segmentation norm, or a stage's input under the L2
        or the L∞ norm (:mod:`suite.robustness.input_attacks`).
    budget : float
        ε; its float64 bit pattern enters the seed, so each budget has its own stream
        whatever the order of the budgets.
    extra : int, default 0
        A further entry of the seed sequence.

    Returns
    -------
    numpy.random.Generator
        ``default_rng(SeedSequence([seed, stream number, budget bits low, budget bits high,
        extra]))``.
    """
    bits = int(np.float64(budget).view(np.uint64))
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, _STREAMS[stream], bits & 0xFFFFFFFF, bits >> 32, int(extra)]))


def torch_seed(seed: int, stream: str, budget: float, chunk: int) -> int:
    """Seed of the forked torch generator for torchattacks' random start on one batch.

    ``SeedSequence([seed, stream number, chunk, low 32 bits of the budget's float64 bit
    pattern]).generate_state(1)[0]``; ``chunk`` is the index of the batch's first image, so
    each batch has its own random start.
    """
    return int(np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, _STREAMS[stream], chunk,
         int(np.float64(budget).view(np.uint64)) & 0xFFFFFFFF]).generate_state(1)[0])
