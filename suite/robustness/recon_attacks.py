"""Worst-case and random perturbations of reconstruction methods.

Reconstruction (``f``: undersampled k-space → complex images)
-------------------------------------------------------------
``y`` is the acquired k-space of the Case (``case.kspace`` with ``case.mask`` applied),
complex ``(slice, frame, coil, ky, kx)``; ``f(y)`` the clean reconstruction. For a budget ε:

* ``kspace-pgd`` (Darestani, Chaudhari & Heckel 2021): maximise ``||f(y + e) − f(y)||₂`` over
  perturbations ``e`` supported on the **sampled** k-space locations with
  ``||e||₂ ≤ ε·||y||₂``;
* ``image-pgd`` (Antun et al. 2020): the perturbation ``r`` is added to the image before
  sampling, ``y' = M F S (x + r) = y + M F S r`` with fixed coil maps ``S``, and
  ``||r||₂ ≤ ε·||x||₂``; ``x`` is ``case.reference`` when present, otherwise ``f(y)``;
* ``kspace-random`` / ``image-random``: a complex Gaussian perturbation (i.i.d. real and
  imaginary parts on the same support) scaled to exactly the budget norm;
* ``random-search`` (black-box methods): the worst of ``n_queries`` such random perturbations
  at the budget, found by calling the method ``n_queries`` times (a query-based search, not a
  gradient attack).

Projected gradient ascent (white-box,
:func:`~suite.robustness.perturbation.is_differentiable`): the objective
``L(v) = ||f(y + e(v)) − f(y)||₂²``; start at the random perturbation of the same budget (the
one :func:`random_recon` reports, so the worst case is at least as bad as the random one);
``steps`` normalised-gradient steps ``v ← P(v + α ∇L / ||∇L||)`` with ``α = 2.5 ρ / steps``
(ρ = the budget radius; the L2 step rule of Madry et al. 2018), ``P`` the projection onto the
support and the L2 ball of radius ρ; the iterate with the largest deviation is kept.
The gradient is computed slice by slice (every reference method reconstructs slices
independently; the loss is a sum over slices), so memory holds one slice's graph.

**Coil maps** are estimated once from the clean data (``case.coil_maps`` if given, otherwise
the method's own estimator ``method.maps`` on the clean Case, as ``method(case)`` would) and
held fixed during the attack: the attack differentiates the reconstruction given the maps, not
the map estimation. ``method.reconstruct`` receives them. The image-domain synthesis
``M F S r`` uses the physical maps: ``case.coil_maps`` if given, else the phantom's true maps
(``case.truth["coil_maps"]``), else ESPIRiT maps of the clean data.

Results are :class:`~suite.robustness.perturbation.PerturbationResult` objects; every random
draw comes from :func:`~suite.robustness.perturbation.stream_rng` with the domain as stream, so
results are deterministic for a seed and do not depend on the order of the budgets.

References
----------
Antun V, Renna F, Poon C, Adcock B, Hansen AC. On instabilities of deep learning in image
reconstruction and the potential costs of AI. PNAS 117(48):30088–30095, 2020.
Darestani MZ, Chaudhari AS, Heckel R. Measuring robustness in deep learning based compressive
sensing. ICML 2021, PMLR 139:2433–2444 (arXiv 2102.06103).
Madry A, Makelov A, Schmidt L, Tsipras D, Vladu A. Towards deep learning models resistant to
adversarial attacks. ICLR 2018 (arXiv 1706.06083).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from suite._validation import check_option
from suite.robustness.perturbation import (
    PerturbationResult, check_budgets, check_count, stream_rng,
)

__all__ = ["RECON_KINDS", "DOMAINS", "attack_recon", "random_recon", "recon_perturbations"]

RECON_KINDS = ("kspace-pgd", "image-pgd", "kspace-random", "image-random", "random-search")
DOMAINS = ("kspace", "image")


def _norm(t: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(t.to(torch.complex128 if t.is_complex()
                                                else torch.float64)))


def _all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of ``t`` is finite. A sum with a NaN or an infinite term is NaN
    or infinite, so a finite sum proves it in one pass; otherwise the entries are checked."""
    flat = torch.view_as_real(t) if t.is_complex() else t
    return bool(torch.isfinite(flat.sum())) or bool(torch.isfinite(flat).all())


class _ReconProblem:
    """Clean data, forward map and perturbation parametrisation for one (method, case, domain).

    The perturbation variable ``v`` is ``e`` (k-space, zero off the mask) or ``r`` (image,
    ``(slice, frame, y, x)``); ``ref_norm`` is ``||y||`` or ``||x||``.
    """

    def __init__(self, method, case, domain: str, white_box: bool, where: str):
        check_option(domain, DOMAINS, name="domain", where=where)
        if case.kspace is None:
            raise ValueError(f"{where}: case {case.case_id!r} has no k-space; reconstruction "
                             "attacks need raw data")
        self.method, self.case, self.domain, self.white_box = method, case, domain, white_box
        self.keep = False
        full = np.broadcast_to(case.mask, case.kspace.shape)
        self.mask = torch.from_numpy(np.ascontiguousarray(full))
        self.mask_f = self.mask.to(torch.float32)
        self.y = torch.from_numpy(np.ascontiguousarray(case.kspace)) * self.mask_f
        self.base_notes: list[str] = []
        self.notes: list[str] = []
        if white_box:
            from reference_impls.recon.coil_maps import estimate_coil_maps

            self.method_mask = torch.from_numpy(np.ascontiguousarray(case.mask))
            if case.coil_maps is not None or hasattr(method, "maps"):
                maps, used = estimate_coil_maps(case, getattr(method, "maps", "espirit"))
                self.method_maps = torch.from_numpy(np.ascontiguousarray(maps))
                self.base_notes.append(f"coil maps: {used}, estimated once from the clean "
                                       "data and held fixed")
            else:
                self.method_maps = None  # e.g. zero-filled RSS: no maps, as method(case)
        self.f0 = self.evaluate(None)
        self.f0_norm = _norm(self.f0)
        if self.f0_norm == 0:
            raise ValueError(f"{where}: the clean reconstruction of {case.case_id!r} is all "
                             "zeros, so the relative deviation is undefined; check the data")
        if domain == "kspace":
            self.ref_norm = _norm(self.y)
        else:
            self.synth_maps = torch.from_numpy(np.ascontiguousarray(_synthesis_maps(case)))
            ref = case.reference
            self.ref_norm = _norm(torch.from_numpy(np.ascontiguousarray(ref))) \
                if ref is not None else self.f0_norm
        if self.ref_norm == 0:
            raise ValueError(f"{where}: the {'acquired k-space' if domain == 'kspace' else 'image'}"
                             f" of {case.case_id!r} is all zeros; relative budgets are undefined")

    # ---------------------------------------------------------------- perturbation space
    def _slice_mask(self, s: int) -> torch.Tensor:
        m = self.method_mask
        return m[s:s + 1] if m.shape[0] > 1 else m

    def e_of(self, v: torch.Tensor, s: slice | None = None) -> torch.Tensor:
        """k-space perturbation of ``v`` (slices ``s``)."""
        if self.domain == "kspace":
            return v
        from suite.mr import sense_forward

        sl = s if s is not None else slice(None)
        return sense_forward(v, self.synth_maps[sl], self.mask_f[sl])

    def shape(self) -> tuple[int, ...]:
        if self.domain == "kspace":
            return tuple(self.y.shape)
        ns, nf, _, ny, nx = self.y.shape
        return (ns, nf, ny, nx)

    def project(self, v: torch.Tensor, radius: float) -> torch.Tensor:
        if self.domain == "kspace":
            v = v * self.mask_f
        n = _norm(v)
        return v * (radius / n) if n > radius else v

    def random_direction(self, rng: np.random.Generator) -> torch.Tensor:
        shape = self.shape()
        # the same draws and values as (re + 1j·im).astype(complex64), without the complex128
        # temporaries: each part rounded once to float32
        z = np.empty(shape, np.complex64)
        z.real = rng.standard_normal(shape)
        z.imag = rng.standard_normal(shape)
        v = torch.from_numpy(z)
        if self.domain == "kspace":
            v = v * self.mask_f
        return v / _norm(v)

    # ---------------------------------------------------------------- forward map
    def evaluate(self, v: torch.Tensor | None) -> torch.Tensor:
        """``f(y + e(v))`` as a complex tensor ``(slice, frame, y, x)`` (no gradient)."""
        k = self.y if v is None else self.y + self.e_of(v)
        if not self.white_box:
            out = self.method(self.case.replace(kspace=k.numpy().astype(np.complex64)))
            return torch.from_numpy(np.asarray(out, dtype=np.complex64))
        with torch.no_grad():
            return torch.cat([self._reconstruct_slice(k[s:s + 1], s)
                              for s in range(k.shape[0])]).to(torch.complex64)

    def _reconstruct_slice(self, k: torch.Tensor, s: int) -> torch.Tensor:
        maps = None if self.method_maps is None else self.method_maps[s:s + 1]
        return self.method.reconstruct(k, self._slice_mask(s), maps)

    def value_and_grad(self, v: torch.Tensor):
        """``(L, ∇L, f(y + e(v)))`` with ``L = ||f(y+e) − f(y)||²``, slice by slice."""
        grads, outs, loss = [], [], 0.0
        for s in range(v.shape[0]):
            vs = v[s:s + 1].detach().clone().requires_grad_(True)
            ks = self.y[s:s + 1] + self.e_of(vs, slice(s, s + 1))
            out = self._reconstruct_slice(ks, s)
            diff = out - self.f0[s:s + 1].to(out.dtype)
            ls = (diff.real ** 2 + diff.imag ** 2).sum() if diff.is_complex() else (diff ** 2).sum()
            if not ls.requires_grad:
                name = getattr(self.method, "name", type(self.method).__name__)
                raise ValueError(
                    f"attack_recon: {name}.reconstruct returned a tensor with no gradient path "
                    "to the k-space (detached, no_grad or computed in numpy); make it "
                    "differentiable, or remove `reconstruct` so the method is attacked "
                    "black-box by random search")
            (g,) = torch.autograd.grad(ls, vs)
            if not _all_finite(g):
                self.notes.append(f"non-finite gradient entries in slice {s} set to 0")
                g = torch.nan_to_num(g, nan=0.0, posinf=0.0, neginf=0.0)
            grads.append(g.detach())
            outs.append(out.detach().to(torch.complex64))
            loss += float(ls.detach())
        return loss, torch.cat(grads), torch.cat(outs)

    def deviation(self, out: torch.Tensor) -> float:
        return _norm(out - self.f0) / self.f0_norm


def _synthesis_maps(case) -> np.ndarray:
    """Maps of the physical forward model ``M F S`` (module docstring)."""
    if case.coil_maps is not None:
        return case.coil_maps
    truth = case.truth or {}
    if truth.get("coil_maps") is not None:
        return np.asarray(truth["coil_maps"], dtype=np.complex64)
    from reference_impls.recon.coil_maps import estimate_coil_maps

    return estimate_coil_maps(case, "espirit")[0]


def _random_v(problem: _ReconProblem, radius: float, rng) -> torch.Tensor:
    return problem.random_direction(rng) * radius


def _pgd_recon(problem: _ReconProblem, budget: float, steps: int, seed: int):
    radius = budget * problem.ref_norm
    v = _random_v(problem, radius, stream_rng(seed, problem.domain, budget))
    alpha = 2.5 * radius / steps
    best = (-1.0, v, None)
    for _ in range(steps):
        loss, g, out = problem.value_and_grad(v)
        dev = math.sqrt(loss) / problem.f0_norm
        if dev > best[0]:
            best = (dev, v, out)
        if problem.domain == "kspace":
            g = g * problem.mask_f
        gn = _norm(g)
        if gn == 0:
            problem.notes.append("zero gradient: ascent stopped")
            break
        v = problem.project(v + (alpha / gn) * g, radius)
    out = problem.evaluate(v)
    dev = problem.deviation(out)
    if dev > best[0]:
        best = (dev, v, out)
    return best


def _result(problem: _ReconProblem, kind: str, budget: float, v, out, *, white_box: bool,
            steps: int = 0, queries: int = 0, notes=()) -> PerturbationResult:
    return PerturbationResult(
        kind=kind, budget=budget, norm_reached=_norm(v) / problem.ref_norm,
        deviation=problem.deviation(out), output=out.numpy().astype(np.complex64),
        white_box=white_box, domain=problem.domain, norm="l2", steps=steps, queries=queries,
        perturbation=v.numpy().astype(np.complex64) if problem.keep else None,
        notes=tuple(dict.fromkeys(notes)))


def attack_recon(method, case, budgets, *, domain: str = "kspace", steps: int = 10,
                 seed: int = 0, n_queries: int = 8,
                 keep_perturbation: bool = False) -> list[PerturbationResult]:
    """Worst-case perturbation of a reconstruction method at each budget.

    Parameters
    ----------
    method : reconstruction method
        ``method(case) -> complex (slice, frame, y, x)``; white-box when it has
        ``reconstruct(kspace, mask, coil_maps) -> Tensor``
        (:func:`~suite.robustness.perturbation.is_differentiable`).
    case : Case
        The undersampled Case the method sees (``kspace`` with ``mask`` applied).
    budgets : float or sequence of float
        Relative L2 budgets ε ≥ 0 (module docstring).
    domain : {"kspace", "image"}
        Where the perturbation enters (Darestani 2021 / Antun 2020).
    steps : int, default 10
        Projected gradient-ascent steps (white-box).
    seed : int
    n_queries : int, default 8
        Random directions tried per budget by the black-box random search.
    keep_perturbation : bool, default False
        Return the perturbation in ``PerturbationResult.perturbation`` (memory: one k-space
        or image array per budget).

    Returns
    -------
    list of PerturbationResult, one per budget, kind ``"<domain>-pgd"`` (white-box) or
    ``"random-search"`` (black-box), ``norm_reached ≤ budget``.

    Notes
    -----
    ``method.reconstruct`` receives ``case.coil_maps`` when given, else maps estimated once
    from the clean Case with ``method.maps`` (``"espirit"``/``"lowres"``); a method with
    neither gets ``coil_maps=None`` (as the zero-filled RSS). Cost: about ``steps + 2``
    forward and ``steps`` backward passes per budget (``benchmarks/bench_robustness.py``).

    Raises
    ------
    ValueError
        Bad budgets, steps or domain, a Case without k-space, or an all-zero clean output.
    """
    where = "attack_recon"
    budgets = check_budgets(budgets, where)
    steps = check_count(steps, "steps", where)
    problem = _problem(method, case, domain, keep_perturbation, where)
    return _attack_results(problem, budgets, steps, seed, n_queries)


def _problem(method, case, domain: str, keep_perturbation: bool, where: str) -> _ReconProblem:
    white = callable(getattr(method, "reconstruct", None))
    problem = _ReconProblem(method, case, domain, white, where)
    problem.keep = bool(keep_perturbation)
    return problem


def _attack_results(problem: _ReconProblem, budgets, steps: int, seed: int,
                    n_queries: int) -> list[PerturbationResult]:
    domain, white = problem.domain, problem.white_box
    results = []
    for b in budgets:
        problem.notes = list(problem.base_notes)
        if b == 0:
            zero = torch.zeros(problem.shape(), dtype=torch.complex64)
            results.append(_result(problem, f"{domain}-pgd" if white else "random-search", b,
                                   zero, problem.f0, white_box=white, notes=problem.notes))
            continue
        if white:
            _, v, out = _pgd_recon(problem, b, steps, seed)
            results.append(_result(problem, f"{domain}-pgd", b, v, out, white_box=True,
                                   steps=steps, queries=steps + 1, notes=problem.notes))
        else:
            results.append(_random_search_recon(problem, b, seed, n_queries))
    return results


def _random_search_recon(problem: _ReconProblem, budget: float, seed: int,
                         n_queries: int) -> PerturbationResult:
    check_count(n_queries, "n_queries", "attack_recon")
    rng = stream_rng(seed, problem.domain, budget)
    radius = budget * problem.ref_norm
    best = None
    for _ in range(int(n_queries)):
        v = _random_v(problem, radius, rng)
        out = problem.evaluate(v)
        dev = problem.deviation(out)
        if best is None or dev > best[0]:
            best = (dev, v, out)
    return _result(problem, "random-search", budget, best[1], best[2], white_box=False,
                   queries=int(n_queries), notes=[f"black-box: worst of {n_queries} random "
                                                  "perturbations at the budget"])


def random_recon(method, case, budgets, *, domain: str = "kspace", seed: int = 0,
                 keep_perturbation: bool = False) -> list[PerturbationResult]:
    """Random complex Gaussian perturbation of exactly the budget norm, at each budget.

    Same support, norm and forward map as :func:`attack_recon` (fixed coil maps for
    white-box methods), so ``attack / random`` is the instability ratio. Kind
    ``"kspace-random"`` or ``"image-random"``; the draw for a budget is the starting point of
    the gradient attack and the first candidate of the random search at that budget.
    """
    where = "random_recon"
    budgets = check_budgets(budgets, where)
    problem = _problem(method, case, domain, keep_perturbation, where)
    return _random_results(problem, budgets, seed)


def _random_results(problem: _ReconProblem, budgets, seed: int) -> list[PerturbationResult]:
    results = []
    for b in budgets:
        v = _random_v(problem, b * problem.ref_norm, stream_rng(seed, problem.domain, b)) \
            if b > 0 else torch.zeros(problem.shape(), dtype=torch.complex64)
        out = problem.evaluate(v) if b > 0 else problem.f0
        results.append(_result(problem, f"{problem.domain}-random", b, v, out, white_box=False,
                               queries=1 if b > 0 else 0, notes=problem.base_notes))
    return results


def recon_perturbations(method, case, budgets, *, domain: str = "kspace", steps: int = 10,
                        seed: int = 0, n_queries: int = 8, keep_perturbation: bool = False
                        ) -> tuple[list[PerturbationResult], list[PerturbationResult]]:
    """:func:`attack_recon` and :func:`random_recon` of the same method, case and budgets.

    The same results as the two calls, with the shared work done once: the clean
    reconstruction ``f(y)`` and the coil maps the attack holds fixed.

    Returns
    -------
    (adversarial, random) : two lists of PerturbationResult, one entry per budget each.
    """
    where = "recon_perturbations"
    budgets = check_budgets(budgets, where)
    steps = check_count(steps, "steps", where)
    problem = _problem(method, case, domain, keep_perturbation, where)
    adversarial = _attack_results(problem, budgets, steps, seed, n_queries)
    return adversarial, _random_results(problem, budgets, seed)
