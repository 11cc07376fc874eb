"""Worst-case and random perturbations of a stage's input, for any stage.

The reconstruction and segmentation attacks (:mod:`suite.robustness.recon_attacks`,
:mod:`suite.robustness.seg_attacks`) know their stage's physics (k-space masks, normalised
images). Every other stage gets the same experiment from what it declares about itself, an
:class:`AttackSurface`: its clean input ``x`` (a real array of any shape) and its method as a
map ``forward`` of that input, differentiable with torch when the method allows it (white box)
or a black box otherwise. The output deviation is ``‖f(x+e) − f(x)‖₂ / ‖f(x)‖₂`` (Antun et al.
2020, as for reconstructions). Two budget norms, each relative to the signal scale of ``x``:

* ``norm="l2"``: ``‖e‖₂ ≤ ε·‖x‖₂`` (the default, as for reconstructions);
* ``norm="linf"``: ``‖e‖∞ ≤ ε·max|x|`` (every sample moves by at most ε times the largest input
  value, as the segmentation attacks' budgets on the [0, 1]-scaled image).

Kinds (:data:`INPUT_KINDS`; the random counterpart of each is in
:data:`INPUT_RANDOM_COUNTERPART`):

``input-pgd`` (L2), ``input-pgd-linf`` (L∞)
    projected gradient ascent of ``‖f(x+e) − f(x)‖²`` over the ε-ball (Madry et al. 2018):
    L2 from a random start on the sphere, steps ``2.5 ε‖x‖ / steps`` along the normalised
    gradient; L∞ from a uniform random start in the box, steps ``2.5 r / steps`` along the
    gradient's sign, clipped to the box; the best iterate is kept; white-box methods only.
``input-fgsm`` (L∞)
    the fast gradient sign method with a random step first (R+FGSM, Tramèr et al. 2018):
    ``e₀ = (r/2)·sign(N(0, I))``, ``e = e₀ + (r/2)·sign(∇L(e₀))``. The deviation loss has a
    zero gradient at ``e = 0`` (its minimum), so plain FGSM from the clean input has no
    direction; the random half step gives it one.
``input-random-search``, ``input-random-search-linf``
    the largest deviation over ``n_queries`` random perturbations at the budget (black box).
``input-random``, ``input-random-linf``
    one random perturbation at the budget (Gaussian direction scaled to ``‖e‖₂ = ε‖x‖₂``;
    uniform random signs ``±ε·max|x|``): the random counterpart at equal budget and norm.

Randomness: :func:`suite.robustness.perturbation.stream_rng` with stream ``"input"`` (L2) or
``"input-linf"``.

References
----------
Antun V, Renna F, Poon C, Adcock B, Hansen AC. On instabilities of deep learning in image
reconstruction and the potential costs of AI. PNAS 2020;117(48):30088-30095.
Madry A, Makelov A, Schmidt L, Tsipras D, Vladu A. Towards deep learning models resistant to
adversarial attacks. ICLR 2018.
Goodfellow IJ, Shlens J, Szegedy C. Explaining and harnessing adversarial examples. ICLR 2015
(arXiv 1412.6572).
Tramèr F, Kurakin A, Papernot N, Goodfellow I, Boneh D, McDaniel P. Ensemble adversarial
training: attacks and defenses. ICLR 2018 (arXiv 1705.07204).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from suite._validation import check_option
from suite.robustness.perturbation import (PerturbationResult, check_budgets, check_count,
                                           stream_rng)

__all__ = ["AttackSurface", "attack_input", "random_input", "INPUT_KINDS", "INPUT_ATTACKS",
           "INPUT_NORMS", "INPUT_RANDOM_COUNTERPART", "STAGE_ATTACKS", "input_attack_kind"]

INPUT_KINDS = ("input-pgd", "input-pgd-linf", "input-fgsm", "input-random-search",
               "input-random-search-linf", "input-random", "input-random-linf")
#: Attacks of :func:`attack_input` and the norm of each: ``pgd`` under either norm, ``fgsm``
#: under L∞ only.
INPUT_ATTACKS = ("pgd", "fgsm")
INPUT_NORMS = ("l2", "linf")
#: The attacks a protocol names under ``robustness.adversarial.<stage>.attacks`` → (attack,
#: norm) of :func:`attack_input` (names as the segmentation attacks': ``pgd`` is L∞).
STAGE_ATTACKS = {"pgd-l2": ("pgd", "l2"), "pgd": ("pgd", "linf"), "fgsm": ("fgsm", "linf")}
#: The random perturbation each input attack kind is compared with (same norm and budget).
INPUT_RANDOM_COUNTERPART = {"input-pgd": "input-random", "input-random-search": "input-random",
                            "input-pgd-linf": "input-random-linf",
                            "input-fgsm": "input-random-linf",
                            "input-random-search-linf": "input-random-linf"}


def input_attack_kind(attack: str, norm: str, white_box: bool) -> str:
    """The kind (:data:`INPUT_KINDS`) of ``attack`` under ``norm`` for a white- or black-box
    method.

    Raises
    ------
    ValueError
        An unknown attack or norm, or ``fgsm`` under L2.
    """
    check_option(attack, INPUT_ATTACKS, name="attack", where="input attack")
    check_option(norm, INPUT_NORMS, name="norm", where="input attack")
    if attack == "fgsm" and norm != "linf":
        raise ValueError("input attack: fgsm is an L-infinity attack (norm 'linf'); use pgd "
                         "for an L2 budget")
    suffix = "-linf" if norm == "linf" else ""
    if not white_box:
        return "input-random-search" + suffix
    return "input-fgsm" if attack == "fgsm" else "input-pgd" + suffix


@dataclass(frozen=True)
class AttackSurface:
    """What a stage exposes to the generic input attack.

    Attributes
    ----------
    x : ndarray, real
        The clean input of the stage's method (any shape).
    forward : callable
        ``forward(t: torch.Tensor) -> torch.Tensor``: the method as a function of its input
        (same shape and dtype as ``x``, float64); differentiable when ``differentiable``.
    differentiable : bool
        White-box access (gradients of ``forward``).
    """

    x: np.ndarray
    forward: Callable
    differentiable: bool


def _torch():
    import torch

    return torch


def _deviation(out, clean, clean_norm: float) -> float:
    torch = _torch()
    return float(torch.linalg.vector_norm(out - clean)) / clean_norm if clean_norm else math.inf


def _size(t, norm: str) -> float:
    """``‖t‖₂`` or ``‖t‖∞``."""
    torch = _torch()
    if norm == "linf":
        return float(t.abs().max()) if t.numel() else 0.0
    return float(torch.linalg.vector_norm(t))


def _result(kind, budget, e, out, clean, x_scale, clean_norm, *, white_box, norm="l2", steps=0,
            queries=0, notes=()) -> PerturbationResult:
    return PerturbationResult(
        kind=kind, budget=budget,
        norm_reached=_size(e, norm) / x_scale if x_scale else 0.0,
        deviation=_deviation(out, clean, clean_norm), output=out.detach().numpy(),
        white_box=white_box, domain="input", norm=norm, steps=steps, queries=queries,
        notes=tuple(notes))


def _sphere(shape, radius: float, rng):
    torch = _torch()
    d = torch.from_numpy(rng.standard_normal(shape))
    n = float(torch.linalg.vector_norm(d))
    return d * (radius / n) if n else d


def _signs(shape, radius: float, rng):
    """Uniform random signs ``±radius`` (a vertex of the L∞ ball)."""
    torch = _torch()
    return torch.from_numpy(rng.choice(np.array([-radius, radius]), size=shape))


def _random_draw(shape, radius: float, norm: str, rng):
    return _signs(shape, radius, rng) if norm == "linf" else _sphere(shape, radius, rng)


def _prepare(surface: AttackSurface, budgets, where: str, norm: str = "l2"):
    """Budgets, input, clean output, the input's scale under ``norm`` (``‖x‖₂`` or ``max|x|``)
    and the clean output's L2 norm."""
    torch = _torch()
    check_option(norm, INPUT_NORMS, name="norm", where=where)
    budgets = check_budgets(budgets, where)
    x = torch.from_numpy(np.asarray(surface.x, dtype=np.float64).copy())
    with torch.no_grad():
        clean = surface.forward(x).detach().to(torch.float64)
    return budgets, x, clean, _size(x, norm), float(torch.linalg.vector_norm(clean))


def _stream(norm: str) -> str:
    return "input-linf" if norm == "linf" else "input"


def attack_input(surface: AttackSurface, budgets, *, steps: int = 10, seed: int = 0,
                 n_queries: int = 8, norm: str = "l2", attack: str = "pgd"
                 ) -> list[PerturbationResult]:
    """The worst-case perturbation of a stage's input at each budget.

    Parameters
    ----------
    surface : AttackSurface
    budgets : float or sequence of float
        Relative budgets ε: ``‖e‖₂ ≤ ε‖x‖₂`` (``norm="l2"``) or ``‖e‖∞ ≤ ε·max|x|``
        (``norm="linf"``).
    steps : int
        Gradient steps of ``pgd`` (white box).
    seed : int
    n_queries : int
        Random perturbations tried by the black-box random search.
    norm : {"l2", "linf"}
    attack : {"pgd", "fgsm"}
        ``fgsm`` (R+FGSM, one gradient step) under ``linf`` only.

    Returns
    -------
    list of PerturbationResult
        One per budget, kind :func:`input_attack_kind` (``input-pgd``, ``input-pgd-linf``,
        ``input-fgsm``, or ``input-random-search[-linf]`` for a black box).
    """
    torch = _torch()
    where = "attack_input"
    kind = input_attack_kind(attack, norm, surface.differentiable)
    budgets, x, clean, x_scale, clean_norm = _prepare(surface, budgets, where, norm)
    steps = check_count(steps, "steps", where)
    n_queries = check_count(n_queries, "n_queries", where)
    out = []
    for budget in budgets:
        radius = budget * x_scale
        rng = stream_rng(seed, _stream(norm), budget)
        common = dict(white_box=surface.differentiable, norm=norm)
        if not surface.differentiable:
            best = None
            for _ in range(n_queries):
                e = _random_draw(x.shape, radius, norm, rng)
                with torch.no_grad():
                    y = surface.forward(x + e).to(torch.float64)
                dev = _deviation(y, clean, clean_norm)
                if best is None or dev > best[0]:
                    best = (dev, e, y)
            out.append(_result(kind, budget, best[1], best[2], clean, x_scale, clean_norm,
                               queries=n_queries, **common))
            continue
        if attack == "fgsm":
            e = _signs(x.shape, radius / 2, rng)
            g, _loss = _gradient(surface, x, e, clean)
            e = e + (radius / 2) * torch.sign(g)
            with torch.no_grad():
                y = surface.forward(x + e).to(torch.float64)
            out.append(_result(kind, budget, e, y, clean, x_scale, clean_norm, steps=1,
                               queries=1, **common))
            continue
        e = (torch.from_numpy(rng.uniform(-radius, radius, x.shape)) if norm == "linf"
             else _sphere(x.shape, radius, rng))
        alpha = 2.5 * radius / steps
        best, notes = None, []
        for i in range(steps + 1):
            g, (loss, y) = _gradient(surface, x, e, clean, last=i == steps)
            dev = math.sqrt(loss) / clean_norm if clean_norm else math.inf
            if best is None or dev > best[0]:
                best = (dev, e.clone(), y)
            if i == steps:
                break
            if norm == "linf":
                e = torch.clamp(e + alpha * torch.sign(g), -radius, radius)
                continue
            gn = float(torch.linalg.vector_norm(g))
            if not math.isfinite(gn) or gn == 0:
                notes.append("zero or non-finite gradient: ascent stopped")
                break
            e = e + (alpha / gn) * g
            n = float(torch.linalg.vector_norm(e))
            if n > radius:
                e = e * (radius / n)
        out.append(_result(kind, budget, best[1], best[2], clean, x_scale, clean_norm,
                           steps=steps, notes=notes, **common))
    return out


def _gradient(surface: AttackSurface, x, e, clean, last: bool = False):
    """``∇_e ‖f(x+e) − f(x)‖²`` (None when ``last``), with the loss and ``f(x+e)``."""
    torch = _torch()
    v = e.clone().requires_grad_(not last)
    y = surface.forward(x + v).to(torch.float64)
    loss = torch.sum((y - clean) ** 2)
    g = None if last else torch.autograd.grad(loss, v)[0]
    return g, (float(loss.detach()), y.detach())


def random_input(surface: AttackSurface, budgets, *, seed: int = 0, norm: str = "l2"
                 ) -> list[PerturbationResult]:
    """A random perturbation at each budget: Gaussian of norm ``ε‖x‖₂`` (kind
    ``input-random``) or uniform random signs ``±ε·max|x|`` (``norm="linf"``, kind
    ``input-random-linf``)."""
    torch = _torch()
    budgets, x, clean, x_scale, clean_norm = _prepare(surface, budgets, "random_input", norm)
    kind = "input-random-linf" if norm == "linf" else "input-random"
    out = []
    for budget in budgets:
        e = _random_draw(x.shape, budget * x_scale, norm,
                         stream_rng(seed, _stream(norm), budget, extra=1))
        with torch.no_grad():
            y = surface.forward(x + e).to(torch.float64)
        out.append(_result(kind, budget, e, y, clean, x_scale, clean_norm,
                           white_box=surface.differentiable, norm=norm))
    return out
