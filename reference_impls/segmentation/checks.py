"""Input checks of the segmentation methods (one message form for all); public, because the
segmentation attacks of :mod:`suite.robustness.seg_attacks` check their inputs the same way."""

from __future__ import annotations

import numpy as np

__all__ = ["check_images", "check_spacing"]


def check_images(images, where: str) -> np.ndarray:
    """``images`` → float32 ndarray ``(slice, frame, y, x)``; complex input is refused.

    Raises
    ------
    ValueError
        Not 4-D, complex, or not finite; the message names the caller and the shape.
    """
    arr = np.asarray(images)
    if arr.ndim != 4:
        raise ValueError(f"{where}: images must be 4-D (slice, frame, y, x); got shape {arr.shape}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{where}: images must be real magnitude images; got {arr.dtype} "
                         "(pass np.abs(case.reference))")
    arr = arr.astype(np.float32, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{where}: images contain NaN or inf")
    return arr


def check_spacing(spacing_mm, where: str) -> tuple[float, float]:
    """``spacing_mm`` → ``(dy, dx)`` floats > 0 (mm)."""
    try:
        dy, dx = (float(v) for v in spacing_mm)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: spacing_mm must be (dy, dx) in mm; got {spacing_mm!r}") from exc
    if not (dy > 0 and dx > 0 and np.isfinite(dy) and np.isfinite(dx)):
        raise ValueError(f"{where}: spacing_mm must be positive and finite; got {(dy, dx)}")
    return dy, dx
