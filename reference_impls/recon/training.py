"""Deterministic training of the unrolled cine network: supervised and self-supervised (SSDU).

Data: fully sampled multi-coil cine Cases (the suite's phantom cohort; any fully sampled data
works). Each step draws one slice, one acceleration, an ACS size and one k-t sampling mask
from seeded generators. The ACS size is drawn uniformly in ``acs_min .. acs_max(R)`` with
``acs_max(R) = min(acs_lines, n_R − max(2, ⌈outer_fraction · n_R⌉))`` and
``n_R = round(ny / R)`` the lines per frame, so **every trained acceleration keeps sampled
lines outside the ACS block** (the first shipped weights saw ACS-only masks at R = 8:
12 ACS lines of 10 per frame at ny = 80) and the evaluation settings of the protocols (12 ACS
lines at R = 4, 8 at R = 8 for ny = 80) lie inside the training range.

* ``supervised``: loss ``||f(y_Ω) − x_ref||² / ||x_ref||²`` against the fully sampled image
  combined with the same coil maps, ``x_ref = Σ_c conj(S_c) F^H k_c``.
* ``ssdu`` (Yaman et al., "Self-supervised learning of physics-guided reconstruction neural
  networks without fully sampled reference data", MRM 84:3172–3191, 2020): the acquired
  ky lines Ω of each frame are split into disjoint sets Θ (data consistency, network input) and
  Λ (loss), ``|Λ| ≈ ρ |Ω \\ ACS|`` drawn with a Gaussian density around the k-space centre, ACS
  lines always in Θ; loss ``||y_Λ − M_Λ A f(y_Θ)||₂ / ||y_Λ||₂ + ||·||₁ / ||y_Λ||₁``
  (the normalised ℓ2–ℓ1 loss of the paper). No fully sampled data are used (the fully sampled
  Case is undersampled first, and only y_Ω enters).

Determinism: ``torch.manual_seed(seed)``, a fixed number of intra-op threads (``threads``,
default 2) and deterministic algorithms during training, so the same configuration on the same
machine type gives byte-identical weights. Other CPUs may select other convolution kernels and
round differently; the shipped weights are therefore verified by their SHA-256, and a retrained
copy is compared by its evaluation, not its bytes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from reference_impls.recon.coil_maps import estimate_coil_maps
from reference_impls.recon.unrolled import CineUnrolledNet
from reference_impls.weights_io import TrainingResult
from suite.mr import SenseOperator, ifft2c, make_mask

__all__ = ["TrainingConfig", "TrainingResult", "train_unrolled", "ssdu_split", "acs_range"]


@dataclass(frozen=True)
class TrainingConfig:
    """Training hyper-parameters (all recorded in the weights' JSON)."""

    mode: str = "supervised"  # or "ssdu"
    seed: int = 0
    steps: int = 300
    learning_rate: float = 1e-3
    accelerations: tuple[int, ...] = (4, 8)
    pattern: str = "kt-gaussian"
    acs_lines: int = 12
    acs_min: int = 4
    outer_fraction: float = 0.2
    cascades: int = 5
    features: int = 16
    depth: int = 3
    ssdu_rho: float = 0.4
    threads: int = 2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["accelerations"] = list(self.accelerations)
        return d


def acs_range(ny: int, acceleration: float, config: "TrainingConfig") -> tuple[int, int]:
    """ACS sizes ``(lo, hi)`` (inclusive) that keep outer lines at ``acceleration``.

    Raises
    ------
    ValueError
        When no ACS size in ``acs_min .. acs_lines`` leaves outer lines (matrix too small for
        the acceleration).

    Examples
    --------
    >>> acs_range(80, 8, TrainingConfig())
    (4, 8)
    >>> acs_range(80, 4, TrainingConfig())
    (4, 12)
    """
    n = int(round(ny / acceleration))
    hi = min(int(config.acs_lines), n - max(2, int(np.ceil(config.outer_fraction * n))))
    lo = int(config.acs_min)
    if hi < lo:
        raise ValueError(f"train_unrolled: at R = {acceleration:g} a frame of {ny} lines has "
                         f"{n} sampled lines, too few to keep {config.acs_min} ACS lines and "
                         "outer lines; lower acs_min or the acceleration")
    return lo, hi


def ssdu_split(mask_lines: np.ndarray, acs: np.ndarray, rho: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Split acquired lines ``(frame, ky)`` into disjoint (Θ, Λ); ACS lines stay in Θ.

    Λ takes ``round(rho · n)`` of the ``n`` acquired non-ACS lines of each frame, drawn without
    replacement with a Gaussian density (σ = ny/4) around the centre.
    """
    nf, ny = mask_lines.shape
    theta = mask_lines.copy()
    lam = np.zeros_like(mask_lines)
    centre = np.exp(-0.5 * ((np.arange(ny) - ny // 2) / (ny / 4.0)) ** 2)
    for t in range(nf):
        cand = np.flatnonzero(mask_lines[t] & ~acs)
        n = int(round(rho * cand.size))
        if n == 0:
            continue
        p = centre[cand] / centre[cand].sum()
        pick = rng.choice(cand, size=n, replace=False, p=p)
        lam[t, pick] = True
        theta[t, pick] = False
    return theta, lam


def _prepare_slices(cases, acs_lines: int):
    """Per slice: full k-space (frame, coil, ky, kx), ESPIRiT maps from the ACS, SENSE target."""
    from suite.case import Case

    slices = []
    for case in cases:
        ns, nf, nc, ny, nx = case.kspace.shape
        acs_mask = np.zeros((1, 1, 1, ny, 1), bool)
        acs_mask[..., ny // 2 - acs_lines // 2: ny // 2 - acs_lines // 2 + acs_lines, :] = True
        calib_case = Case(kspace=case.kspace, mask=np.broadcast_to(acs_mask, (1, 1, 1, ny, 1)).copy(),
                          meta=case.meta)
        maps, _ = estimate_coil_maps(calib_case, "espirit")
        for s in range(ns):
            k = torch.from_numpy(case.kspace[s].astype(np.complex64))
            m = torch.from_numpy(maps[s])
            target = (m.conj().unsqueeze(0) * ifft2c(k)).sum(dim=1)
            slices.append({"kspace": k, "maps": m, "target": target, "shape": (nf, ny, nx)})
    return slices


def train_unrolled(cases, config: TrainingConfig, log=None) -> TrainingResult:
    """Train :class:`CineUnrolledNet` on fully sampled ``cases`` (see the module docstring).

    Parameters
    ----------
    cases : list of suite.case.Case with fully sampled ``kspace``
    config : TrainingConfig
    log : callable(str) or None
        Progress messages (the CLI passes ``print``); the library itself prints nothing.
    """
    if config.mode not in ("supervised", "ssdu"):
        raise ValueError(f"train_unrolled: mode must be 'supervised' or 'ssdu'; got {config.mode!r}")
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, 2020]))
        slices = _prepare_slices(cases, config.acs_lines)
        if not slices:
            raise ValueError("train_unrolled: no training slices (empty cohort)")
        net = CineUnrolledNet(config.cascades, config.features, config.depth)
        opt = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
        losses: list[float] = []
        t0 = time.perf_counter()
        for step in range(config.steps):
            item = slices[int(rng.integers(len(slices)))]
            nf, ny, nx = item["shape"]
            r = int(config.accelerations[int(rng.integers(len(config.accelerations)))])
            lo, hi = acs_range(ny, r, config)
            n_acs = int(rng.integers(lo, hi + 1))
            sampling = make_mask(config.pattern, (1, nf, 1, ny, nx), r, n_acs, rng)
            lines = sampling.mask[0, :, 0, :, 0]
            k_full, maps = item["kspace"], item["maps"]
            if config.mode == "supervised":
                mask = torch.from_numpy(sampling.mask[0].astype(np.float32))  # (F, 1, ky, 1)
                out = net(k_full * mask, mask, maps)
                target = item["target"]
                loss = (out - target).abs().pow(2).sum() / target.abs().pow(2).sum()
            else:
                acs = np.zeros(ny, bool)
                a0 = ny // 2 - n_acs // 2
                acs[a0: a0 + n_acs] = True
                theta, lam = ssdu_split(lines, acs, config.ssdu_rho, rng)
                if not lam.any():  # only ACS acquired: nothing to hold out for the loss
                    continue
                m_theta = torch.from_numpy(theta[:, None, :, None].astype(np.float32))
                m_lam = torch.from_numpy(lam[:, None, :, None].astype(np.float32))
                out = net(k_full * m_theta, m_theta, maps)
                y_lam = k_full * m_lam
                pred = SenseOperator(maps, m_lam).forward(out)
                diff = torch.view_as_real(pred - y_lam)  # real view: smooth gradients at 0
                loss = (torch.linalg.vector_norm(diff) / torch.linalg.vector_norm(y_lam)
                        + diff.abs().sum() / torch.view_as_real(y_lam).abs().sum())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            if log is not None and (step + 1) % 50 == 0:
                log(f"step {step + 1}/{config.steps}  loss {np.mean(losses[-50:]):.4f}")
        state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        return TrainingResult(state, config, losses, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)
