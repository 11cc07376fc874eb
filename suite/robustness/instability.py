"""Instability ratio: worst-case over random degradation at the same budget.

``instability_ratio = adversarial degradation / random degradation`` at the same budget: 1
means the worst case is no worse than noise, large values mean the method is unstable in
the sense of Antun et al. 2020. The adversarial and random perturbations come from
:mod:`suite.robustness.recon_attacks` and :mod:`suite.robustness.seg_attacks`, with equal norm
at each budget.

References
----------
Antun V, Renna F, Poon C, Adcock B, Hansen AC. On instabilities of deep learning in image
reconstruction and the potential costs of AI. PNAS 117(48):30088–30095, 2020.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from suite.robustness.perturbation import PerturbationResult

__all__ = ["instability_ratio", "instability_ratios"]


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
