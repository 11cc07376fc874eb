"""Coil combination: root-sum-of-squares and sensitivity-weighted combination.

Coil axis convention: images ``(..., coil, y, x)`` with the coil axis given by ``dim``
(default -3, matching the Case layout ``(slice, frame, coil, ky, kx)`` after the inverse FFT).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["rss", "combine_coils"]


def rss(images, dim: int = -3):
    """Root-sum-of-squares over the coil axis: ``sqrt(sum_c |x_c|^2)``.

    Parameters
    ----------
    images : torch.Tensor or numpy.ndarray, complex or real, coil axis at ``dim``
    dim : int
        The coil axis (default -3 for ``(..., coil, y, x)``).

    Returns
    -------
    Real magnitude of the same type, with the coil axis removed.

    Notes
    -----
    As fastMRI ``fastmri/coil_combine.py`` (``rss``) and CMRxRecon's SOS; the magnitude
    reference of DESIGN.md when no coil maps are given.
    """
    if isinstance(images, torch.Tensor):
        return torch.sqrt((images.abs() ** 2).sum(dim=dim))
    arr = np.asarray(images)
    return np.sqrt((np.abs(arr) ** 2).sum(axis=dim))


def combine_coils(images, coil_maps, dim: int = -3, eps: float = 1e-12):
    """Sensitivity-weighted (Roemer) combination ``sum_c conj(S_c) x_c / sum_c |S_c|^2``.

    Parameters
    ----------
    images : complex, ``(..., coil, y, x)`` with the coil axis at ``dim``
    coil_maps : complex, broadcastable to ``images`` (e.g. ``(coil, y, x)``)
    eps : float
        Added to the denominator; pixels with no sensitivity give 0.

    Returns
    -------
    Complex image with the coil axis removed. For maps normalised so that
    ``sum_c |S_c|^2 = 1`` this is the SENSE adjoint of a fully sampled acquisition.
    """
    if isinstance(images, torch.Tensor):
        maps = torch.as_tensor(coil_maps, device=images.device)
        num = (maps.conj() * images).sum(dim=dim)
        den = (maps.abs() ** 2).sum(dim=dim)
        return num / (den + eps)
    maps = np.asarray(coil_maps)
    num = (np.conj(maps) * images).sum(axis=dim)
    den = (np.abs(maps) ** 2).sum(axis=dim)
    return num / (den + eps)
