"""Cartesian phase-encode sampling masks, seeded (STYLE R10).

Every pattern takes ``(shape, acceleration, acs_lines, rng)`` where ``shape`` is the k-space
shape ``(slice, frame, coil, ky, kx)`` and returns a :class:`Sampling` whose ``mask`` is a bool
array with singleton axes where the pattern does not vary (DESIGN.md): ``(1, 1, 1, ky, 1)`` for
a pattern shared by all frames, ``(1, frame, 1, ky, 1)`` for k-t patterns. Readout (kx) is always
fully sampled (Cartesian).

Conventions for the nominal acceleration ``R``:

* ``equispaced`` (CMRxRecon 2023/2024 ``UniformSampling.m``): every R-th ky line starting at
  index 0, **plus** a centred block of ``acs_lines`` lines; ACS lines are not counted in R, so
  the effective acceleration is below R.
* ``kt-interleaved`` (CMRxRecon 2024 ``ktUniform``): as ``equispaced`` but frame t starts at
  ``t mod R``, so the union over R frames is fully sampled.
* ``variable-density`` and ``kt-gaussian``: ``round(ny / R)`` lines per frame in total, the ACS
  block included, the others drawn without replacement with a density that decays away from the
  centre (polynomial ``(1 - |k|/k_max)^power`` and Gaussian with sigma = ny/5 as in CMRxRecon
  2024 ``ktMaskGenerator_Task2.m``). Here effective and nominal acceleration agree.

The effective acceleration ``ny / (mean sampled lines per frame)`` is always reported beside the
nominal one (STYLE R3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from suite._validation import check_option

__all__ = [
    "Sampling",
    "PATTERNS",
    "make_mask",
    "equispaced_mask",
    "variable_density_mask",
    "kt_interleaved_mask",
    "kt_gaussian_mask",
]


@dataclass(frozen=True)
class Sampling:
    """A sampling mask and what it means.

    Attributes
    ----------
    mask : ndarray, bool, ``(1, frame|1, 1, ky, 1)``
    pattern : str
    n_acs : int
        Number of fully sampled central ky lines.
    nominal_acceleration : float
        The R asked for (see the module docstring for its convention per pattern).
    effective_acceleration : float
        ``ny / mean(sampled lines per frame)``.
    """

    mask: np.ndarray
    pattern: str
    n_acs: int
    nominal_acceleration: float
    effective_acceleration: float

    def to_dict(self) -> dict:
        return {
            "pattern": self.pattern,
            "mask_shape": list(self.mask.shape),
            "n_acs": self.n_acs,
            "nominal_acceleration": self.nominal_acceleration,
            "effective_acceleration": self.effective_acceleration,
        }


def _check(shape, acceleration, acs_lines, where):
    if len(shape) != 5:
        raise ValueError(
            f"{where}: `shape` must be the k-space shape (slice, frame, coil, ky, kx); got {shape}"
        )
    ny = int(shape[3])
    if not (acceleration >= 1):
        raise ValueError(f"{where}: `acceleration` must be >= 1; got {acceleration}")
    if not 0 <= acs_lines <= ny:
        raise ValueError(f"{where}: `acs_lines` must be in 0..{ny}; got {acs_lines}")
    return int(shape[1]), ny


def _acs_indices(ny: int, acs_lines: int) -> np.ndarray:
    """Centred ACS block: ``acs_lines`` lines around the DC line ``ny // 2``."""
    start = ny // 2 - acs_lines // 2
    return np.arange(start, start + acs_lines)


def _finish(lines: np.ndarray, pattern: str, n_acs: int, acceleration: float) -> Sampling:
    """``lines``: bool (frame|1, ky) → Sampling with mask (1, frame|1, 1, ky, 1)."""
    mask = lines[None, :, None, :, None].copy()
    per_frame = lines.sum(axis=-1).mean()
    return Sampling(
        mask=mask,
        pattern=pattern,
        n_acs=n_acs,
        nominal_acceleration=float(acceleration),
        effective_acceleration=float(lines.shape[-1] / per_frame),
    )


def equispaced_mask(shape, acceleration: int, acs_lines: int = 24, rng=None) -> Sampling:
    """Every R-th ky line from index 0 plus ``acs_lines`` centred lines; same for all frames.

    ``rng`` is accepted for a uniform signature and unused (the pattern is deterministic).

    Examples
    --------
    >>> s = equispaced_mask((1, 1, 1, 16, 8), 4, acs_lines=4)
    >>> np.flatnonzero(s.mask[0, 0, 0, :, 0]).tolist()
    [0, 4, 6, 7, 8, 9, 12]
    """
    _, ny = _check(shape, acceleration, acs_lines, "equispaced_mask")
    r = int(round(acceleration))
    lines = np.zeros((1, ny), bool)
    lines[0, ::r] = True
    lines[0, _acs_indices(ny, acs_lines)] = True
    return _finish(lines, "equispaced", acs_lines, acceleration)


def kt_interleaved_mask(shape, acceleration: int, acs_lines: int = 24, rng=None) -> Sampling:
    """Equispaced lines shifted by one line per frame (``t mod R``) plus the ACS block."""
    nf, ny = _check(shape, acceleration, acs_lines, "kt_interleaved_mask")
    r = int(round(acceleration))
    lines = np.zeros((nf, ny), bool)
    for t in range(nf):
        lines[t, t % r :: r] = True
    lines[:, _acs_indices(ny, acs_lines)] = True
    return _finish(lines, "kt-interleaved", acs_lines, acceleration)


def _random_lines(ny, n_total, acs, density, rng):
    lines = np.zeros(ny, bool)
    lines[acs] = True
    n_extra = max(int(n_total) - len(acs), 0)
    p = density.copy()
    p[acs] = 0.0
    candidates = np.flatnonzero(p > 0)
    n_extra = min(n_extra, candidates.size)
    if n_extra:
        pick = rng.choice(candidates, size=n_extra, replace=False, p=p[candidates] / p[candidates].sum())
        lines[pick] = True
    return lines


def _rng(rng, where):
    if rng is None:
        raise ValueError(
            f"{where}: a seeded `rng` (numpy.random.Generator) is required for random patterns"
        )
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    return rng


def variable_density_mask(
    shape, acceleration: float, acs_lines: int = 24, rng=None, power: float = 2.0
) -> Sampling:
    """Random ky lines with density ``(1 - |k|/k_max)^power``, shared by all frames.

    ``round(ny / R)`` lines in total, the centred ACS block included.
    """
    _, ny = _check(shape, acceleration, acs_lines, "variable_density_mask")
    rng = _rng(rng, "variable_density_mask")
    k = np.abs(np.arange(ny) - ny // 2) / (ny / 2)
    density = np.clip(1.0 - k, 1e-3, None) ** power
    acs = _acs_indices(ny, acs_lines)
    lines = _random_lines(ny, round(ny / acceleration), acs, density, rng)[None]
    return _finish(lines, "variable-density", acs_lines, acceleration)


def kt_gaussian_mask(shape, acceleration: float, acs_lines: int = 24, rng=None) -> Sampling:
    """Per-frame random ky lines with a Gaussian density (sigma = ny/5), ACS block included."""
    nf, ny = _check(shape, acceleration, acs_lines, "kt_gaussian_mask")
    rng = _rng(rng, "kt_gaussian_mask")
    k = np.arange(ny) - ny // 2
    density = np.exp(-0.5 * (k / (ny / 5.0)) ** 2)
    acs = _acs_indices(ny, acs_lines)
    lines = np.stack(
        [_random_lines(ny, round(ny / acceleration), acs, density, rng) for _ in range(nf)]
    )
    return _finish(lines, "kt-gaussian", acs_lines, acceleration)


PATTERNS: dict[str, Callable[..., Sampling]] = {
    "equispaced": equispaced_mask,
    "variable-density": variable_density_mask,
    "kt-interleaved": kt_interleaved_mask,
    "kt-gaussian": kt_gaussian_mask,
}


def make_mask(pattern: str, shape, acceleration: float, acs_lines: int = 24, rng=None) -> Sampling:
    """Dispatch to the pattern named ``pattern`` (one of :data:`PATTERNS`)."""
    check_option(pattern, PATTERNS, name="pattern", where="make_mask")
    return PATTERNS[pattern](shape, acceleration, acs_lines=acs_lines, rng=rng)
