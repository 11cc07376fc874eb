"""Worst-case and random perturbations of a stage's input, for any stage.

The reconstruction and segmentation attacks (:mod:`suite.robustness.recon_attacks`,
:mod:`suite.robustness.seg_attacks`) know their stage's physics (k-space masks, normalised
images). Every other stage gets the same experiment from what it declares about itself, an
:class:`AttackSurface`: its clean input ``x`` (a real array of any shape) and its method as a
map ``forward`` of that input, differentiable with torch when the method allows it (white box)
or a black box otherwise. The perturbation is relative L2, ``‖e‖₂ ≤ ε·‖x‖₂``, the output
deviation ``‖f(x+e) − f(x)‖₂ / ‖f(x)‖₂`` (Antun et al. 2020, as for reconstructions).

Kinds (:data:`INPUT_KINDS`):

``input-pgd``
    projected gradient ascent of ``‖f(x+e) − f(x)‖²`` over the ε-ball, from a random start on
    its surface, step ``2.5 ε‖x‖ / steps`` along the normalised gradient (Madry et al. 2018),
    keeping the best iterate; white-box methods only.
``input-random-search``
    the largest deviation over ``n_queries`` random directions on the ε-sphere (black box).
``input-random``
    one Gaussian direction scaled to ``‖e‖ = ε‖x‖``: the random counterpart at equal budget.

Randomness: :func:`suite.robustness.perturbation.stream_rng` with stream ``"input"``.

References
----------
Antun V, Renna F, Poon C, Adcock B, Hansen AC. On instabilities of deep learning in image
reconstruction and the potential costs of AI. PNAS 2020;117(48):30088-30095.
Madry A, Makelov A, Schmidt L, Tsipras D, Vladu A. Towards deep learning models resistant to
adversarial attacks. ICLR 2018.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from suite.robustness.perturbation import (PerturbationResult, check_budgets, check_count,
                                           stream_rng)

__all__ = ["AttackSurface", "attack_input", "random_input", "INPUT_KINDS"]

INPUT_KINDS = ("input-pgd", "input-random-search", "input-random")


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


def _result(kind, budget, e, out, clean, x_norm, clean_norm, *, white_box, steps=0,
            queries=0, notes=()) -> PerturbationResult:
    torch = _torch()
    return PerturbationResult(
        kind=kind, budget=budget,
        norm_reached=float(torch.linalg.vector_norm(e)) / x_norm if x_norm else 0.0,
        deviation=_deviation(out, clean, clean_norm), output=out.detach().numpy(),
        white_box=white_box, domain="input", norm="l2", steps=steps, queries=queries,
        notes=tuple(notes))


def _sphere(shape, radius: float, rng):
    torch = _torch()
    d = torch.from_numpy(rng.standard_normal(shape))
    n = float(torch.linalg.vector_norm(d))
    return d * (radius / n) if n else d


def _prepare(surface: AttackSurface, budgets, where: str):
    torch = _torch()
    budgets = check_budgets(budgets, where)
    x = torch.from_numpy(np.asarray(surface.x, dtype=np.float64).copy())
    with torch.no_grad():
        clean = surface.forward(x).detach().to(torch.float64)
    return budgets, x, clean, float(torch.linalg.vector_norm(x)), \
        float(torch.linalg.vector_norm(clean))


def attack_input(surface: AttackSurface, budgets, *, steps: int = 10, seed: int = 0,
                 n_queries: int = 8) -> list[PerturbationResult]:
    """The worst-case perturbation of a stage's input at each budget.

    Parameters
    ----------
    surface : AttackSurface
    budgets : float or sequence of float
        Relative L2 budgets ε (``‖e‖ ≤ ε‖x‖``).
    steps : int
        Gradient steps (white box).
    seed : int
    n_queries : int
        Random directions tried by the black-box random search.

    Returns
    -------
    list of PerturbationResult
        One per budget, kind ``input-pgd`` (white box) or ``input-random-search``.
    """
    torch = _torch()
    where = "attack_input"
    budgets, x, clean, x_norm, clean_norm = _prepare(surface, budgets, where)
    steps = check_count(steps, "steps", where)
    n_queries = check_count(n_queries, "n_queries", where)
    out = []
    for budget in budgets:
        radius = budget * x_norm
        rng = stream_rng(seed, "input", budget)
        if not surface.differentiable:
            best = None
            for _ in range(n_queries):
                e = _sphere(x.shape, radius, rng)
                with torch.no_grad():
                    y = surface.forward(x + e).to(torch.float64)
                dev = _deviation(y, clean, clean_norm)
                if best is None or dev > best[0]:
                    best = (dev, e, y)
            out.append(_result("input-random-search", budget, best[1], best[2], clean, x_norm,
                               clean_norm, white_box=False, queries=n_queries))
            continue
        e = _sphere(x.shape, radius, rng)
        alpha = 2.5 * radius / steps
        best, notes = None, []
        for _ in range(steps + 1):
            v = e.clone().requires_grad_(True)
            y = surface.forward(x + v).to(torch.float64)
            loss = torch.sum((y - clean) ** 2)
            dev = math.sqrt(float(loss.detach())) / clean_norm if clean_norm else math.inf
            if best is None or dev > best[0]:
                best = (dev, e.clone(), y.detach())
            if _ == steps:
                break
            (g,) = torch.autograd.grad(loss, v)
            gn = float(torch.linalg.vector_norm(g))
            if not math.isfinite(gn) or gn == 0:
                notes.append("zero or non-finite gradient: ascent stopped")
                break
            e = e + (alpha / gn) * g
            n = float(torch.linalg.vector_norm(e))
            if n > radius:
                e = e * (radius / n)
        out.append(_result("input-pgd", budget, best[1], best[2], clean, x_norm, clean_norm,
                           white_box=True, steps=steps, notes=notes))
    return out


def random_input(surface: AttackSurface, budgets, *, seed: int = 0) -> list[PerturbationResult]:
    """A Gaussian perturbation of norm ``ε‖x‖`` at each budget (kind ``input-random``)."""
    torch = _torch()
    budgets, x, clean, x_norm, clean_norm = _prepare(surface, budgets, "random_input")
    out = []
    for budget in budgets:
        e = _sphere(x.shape, budget * x_norm, stream_rng(seed, "input", budget, extra=1))
        with torch.no_grad():
            y = surface.forward(x + e).to(torch.float64)
        out.append(_result("input-random", budget, e, y, clean, x_norm, clean_norm,
                           white_box=surface.differentiable))
    return out
