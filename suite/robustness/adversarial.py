"""Worst-case and random perturbations of reconstruction and segmentation methods.

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

Projected gradient ascent (white-box, :func:`is_differentiable`): the objective
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

Instability
-----------
``instability_ratio = adversarial degradation / random degradation`` at the same budget: 1
means the worst case is no worse than noise, large values mean the method is unstable in
the sense of Antun et al. 2020.

Randomness: every draw comes from ``numpy.random.default_rng(SeedSequence([seed, stream,
budget bits]))``, and torchattacks' random starts from a forked torch generator seeded the same
way, so results are deterministic for a seed and do not depend on the order of the budgets.

References
----------
Antun V, Renna F, Poon C, Adcock B, Hansen AC. On instabilities of deep learning in image
reconstruction and the potential costs of AI. PNAS 117(48):30088–30095, 2020.
Darestani MZ, Chaudhari AS, Heckel R. Measuring robustness in deep learning based compressive
sensing. ICML 2021, PMLR 139:2433–2444 (arXiv 2102.06103).
Madry A, Makelov A, Schmidt L, Tsipras D, Vladu A. Towards deep learning models resistant to
adversarial attacks. ICLR 2018 (arXiv 1706.06083).
Kim H. Torchattacks: a PyTorch repository for adversarial attacks. arXiv 2010.01950, 2020.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import torch

from suite._serialise import jsonable
from suite._validation import check_option

__all__ = ["PerturbationResult", "RECON_KINDS", "SEG_KINDS", "SEG_ATTACKS", "is_differentiable",
           "attack_recon", "random_recon", "attack_segmentation", "random_segmentation",
           "instability_ratio", "instability_ratios"]

RECON_KINDS = ("kspace-pgd", "image-pgd", "kspace-random", "image-random", "random-search")
SEG_KINDS = ("fgsm", "pgd", "pgd-l2", "random-linf", "random-l2", "random-search")
#: White-box segmentation attacks (torchattacks classes).
SEG_ATTACKS = ("fgsm", "pgd", "pgd-l2")
DOMAINS = ("kspace", "image")
_STREAMS = {"kspace": 1, "image": 2, "linf": 3, "l2": 4}


@dataclass(frozen=True)
class PerturbationResult:
    """One perturbation of one method at one budget.

    Attributes
    ----------
    kind : str
        One of :data:`RECON_KINDS` or :data:`SEG_KINDS`.
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


# ============================================================================ helpers
def is_differentiable(method) -> bool:
    """True if ``method`` offers white-box access.

    Reconstruction: a ``reconstruct(kspace, mask, coil_maps) -> Tensor`` method;
    segmentation: a ``logits(images, spacing_mm) -> Tensor`` method.
    """
    return callable(getattr(method, "reconstruct", None)) or callable(
        getattr(method, "logits", None))


def _budgets(budgets, where: str) -> list[float]:
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


def _steps(steps, where: str) -> int:
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{where}: steps must be an int >= 1; got {steps!r}")
    return int(steps)


def _rng(seed: int, stream: str, budget: float, extra: int = 0) -> np.random.Generator:
    bits = int(np.float64(budget).view(np.uint64))
    return np.random.default_rng(np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, _STREAMS[stream], bits & 0xFFFFFFFF, bits >> 32, int(extra)]))


def _norm(t: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(t.to(torch.complex128 if t.is_complex()
                                                else torch.float64)))


# ============================================================================ reconstruction
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
        z = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
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
            if not torch.isfinite(g).all():
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
    v = _random_v(problem, radius, _rng(seed, problem.domain, budget))
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
        ``reconstruct(kspace, mask, coil_maps) -> Tensor`` (:func:`is_differentiable`).
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
    budgets = _budgets(budgets, where)
    steps = _steps(steps, where)
    white = callable(getattr(method, "reconstruct", None))
    problem = _ReconProblem(method, case, domain, white, where)
    problem.keep = bool(keep_perturbation)
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
    if not isinstance(n_queries, (int, np.integer)) or n_queries < 1:
        raise ValueError(f"attack_recon: n_queries must be an int >= 1; got {n_queries!r}")
    rng = _rng(seed, problem.domain, budget)
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
    budgets = _budgets(budgets, where)
    white = callable(getattr(method, "reconstruct", None))
    problem = _ReconProblem(method, case, domain, white, where)
    problem.keep = bool(keep_perturbation)
    results = []
    for b in budgets:
        v = _random_v(problem, b * problem.ref_norm, _rng(seed, domain, b)) if b > 0 else \
            torch.zeros(problem.shape(), dtype=torch.complex64)
        out = problem.evaluate(v) if b > 0 else problem.f0
        results.append(_result(problem, f"{domain}-random", b, v, out, white_box=False,
                               queries=1 if b > 0 else 0, notes=problem.base_notes))
    return results


# ============================================================================ segmentation
def _seg_inputs(method, images, spacing_mm, where):
    """Checked images as ``(n, y, x)`` images in [0, 1] with their mapping, and the clean labels.

    Returns ``(shape, spacing, unit, lo, scale, clean)``: the original shape
    ``(slice, frame, y, x)``, the checked spacing, the [0, 1] images ``(n, y, x)``, the
    per-image offset and scale of that mapping, and the method's labels of the clean input.
    """
    from reference_impls.segmentation._checks import check_images, check_spacing

    arr = check_images(images, where)
    spacing = check_spacing(spacing_mm, where)
    shape = arr.shape
    flat = arr.reshape(-1, *shape[-2:])
    lo, scale = _unit_scale(flat)
    unit = _to_unit(flat, lo, scale)
    return shape, spacing, unit, lo, scale, _labels_of(method, flat, shape, spacing)


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
                        n_queries: int = 8) -> list[PerturbationResult]:
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

    Returns
    -------
    list of PerturbationResult, one per budget, ``output`` = the method's labels of the
    perturbed images, ``perturbed`` = those images, ``deviation`` = fraction of pixels
    whose label changed against the clean prediction.
    """
    where = "attack_segmentation"
    check_option(attack, SEG_ATTACKS, name="attack", where=where)
    budgets = _budgets(budgets, where)
    steps = _steps(steps, where)
    shape, spacing, unit, lo, scale, clean = _seg_inputs(method, images, spacing_mm, where)
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
    seed_int = int(np.random.SeedSequence(
        [int(seed) & 0xFFFFFFFF, _STREAMS["l2" if attack == "pgd-l2" else "linf"], chunk,
         int(np.float64(budget).view(np.uint64)) & 0xFFFFFFFF]).generate_state(1)[0])
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
    if not isinstance(n_queries, (int, np.integer)) or n_queries < 1:
        raise ValueError(f"attack_segmentation: n_queries must be an int >= 1; got {n_queries!r}")
    rng = _rng(seed, norm, budget)
    best = None
    for _ in range(int(n_queries)):
        res = _seg_result("random-search", budget, norm, unit, _random_unit(unit, budget, norm, rng),
                          lo, scale, shape, method, spacing, clean, white_box=False,
                          queries=int(n_queries),
                          notes=[f"black-box: worst of {n_queries} random perturbations"])
        if best is None or res.deviation > best.deviation:
            best = res
    return best


def random_segmentation(method, images, spacing_mm, budgets, *, norm: str = "linf",
                        seed: int = 0) -> list[PerturbationResult]:
    """Random perturbation of the budget norm (uniform signs for L∞, Gaussian for L2).

    Units as :func:`attack_segmentation` (per-image [0, 1] scale); the perturbed image is
    clamped to [0, 1] as torchattacks does, and ``norm_reached`` is measured after the clamp.
    Kind ``"random-linf"`` or ``"random-l2"``. The draw at a budget is the first candidate
    of the black-box random search at that budget.
    """
    where = "random_segmentation"
    check_option(norm, ("linf", "l2"), name="norm", where=where)
    budgets = _budgets(budgets, where)
    shape, spacing, unit, lo, scale, clean = _seg_inputs(method, images, spacing_mm, where)
    out = []
    for b in budgets:
        adv = _random_unit(unit, b, norm, _rng(seed, norm, b)) if b > 0 else unit
        out.append(_seg_result(f"random-{norm}", b, norm, unit, adv, lo, scale, shape, method,
                               spacing, clean, white_box=False, queries=1 if b > 0 else 0))
    return out


# ============================================================================ instability
def instability_ratio(adversarial_degradation, random_degradation):
    """Worst-case over random degradation at the same budget (Antun et al. 2020).

    Parameters
    ----------
    adversarial_degradation, random_degradation : float or array of float, ≥ 0
        The same degradation measure (e.g. ``deviation``, NMSE increase, EF error) for the
        adversarial and the random perturbation of equal norm.

    Returns
    -------
    float or ndarray: ``adversarial / random``; ``inf`` where the random degradation is 0 and
    the adversarial one is not, NaN where both are 0 (no degradation: not applicable).

    Examples
    --------
    >>> instability_ratio(0.3, 0.01)
    30.0
    >>> instability_ratio([0.0, 0.2], [0.0, 0.0]).tolist()
    [nan, inf]
    """
    a = np.asarray(adversarial_degradation, dtype=np.float64)
    r = np.asarray(random_degradation, dtype=np.float64)
    if a.shape != r.shape:
        raise ValueError(f"instability_ratio: adversarial shape {a.shape} differs from random "
                         f"shape {r.shape}; pair the values budget by budget")
    if np.any(a < 0) or np.any(r < 0) or not (np.isfinite(a).all() and np.isfinite(r).all()):
        raise ValueError("instability_ratio: degradations must be finite and >= 0 (a "
                         "degradation, not a score: use e.g. NMSE increase or 1 - Dice)")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(r > 0, a / np.where(r > 0, r, 1.0), np.where(a > 0, np.inf, np.nan))
    return float(out) if out.ndim == 0 else out


def instability_ratios(adversarial: Sequence[PerturbationResult],
                       random: Sequence[PerturbationResult]) -> dict[float, float]:
    """``{budget: instability_ratio(deviation)}`` for budgets present in both lists."""
    rand = {r.budget: r.deviation for r in random}
    return {a.budget: instability_ratio(a.deviation, rand[a.budget])
            for a in adversarial if a.budget in rand}
