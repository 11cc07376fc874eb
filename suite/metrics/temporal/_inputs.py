"""Input checks and label geometry shared by the temporal metrics (STYLE R6).

Arrays follow the Case layout ``(slice, frame, y, x)``; labels follow ACDC (0 background,
1 RV blood pool, 2 LV myocardium, 3 LV blood pool). Frames without annotation are all zero and
are harmless to every rule here (unions over frames, maxima of LV area).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from suite._validation import (
    check_dtype_kind, check_finite, check_ndim, check_same_shape, check_spacing,
)

AXES = "(slice, frame, y, x)"
LV, MYO = 3, 2
MIN_FRAMES = 4


def check_images(reference, prediction, *, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate two real magnitude series ``(slice, frame, y, x)``; return float64 copies."""
    ref, pred = np.asarray(reference), np.asarray(prediction)
    for name, a in (("reference", ref), ("prediction", pred)):
        check_dtype_kind(a, "biuf", name=name, where=where, expected="real magnitude images")
        check_ndim(a, 4, name=name, where=where, axes=AXES)
    check_same_shape(ref, pred, names=("reference", "prediction"), where=where, axes=AXES)
    if ref.shape[1] < MIN_FRAMES:
        raise ValueError(f"{where}: `reference` must have at least {MIN_FRAMES} frames on axis 1 "
                         f"{AXES}; got {ref.shape[1]}")
    for name, a in (("reference", ref), ("prediction", pred)):
        check_finite(a, name=name, where=where)
    return ref.astype(np.float64), pred.astype(np.float64)


def check_labels(labels, shape, *, where: str, name: str = "labels") -> np.ndarray:
    """Validate an ACDC label array of ``shape`` that contains LV blood pool (3) somewhere."""
    lab = np.asarray(labels)
    check_dtype_kind(lab, "biu", name=name, where=where, expected="integer ACDC labels (uint8)")
    check_ndim(lab, 4, name=name, where=where, axes=AXES)
    if tuple(lab.shape) != tuple(shape):
        raise ValueError(f"{where}: `{name}` must match `reference` in shape {AXES}; "
                         f"got {tuple(lab.shape)}, expected {tuple(shape)}")
    if not np.any(lab == LV):
        raise ValueError(f"{where}: `{name}` holds no LV blood pool (label 3, ACDC convention) "
                         f"in any slice or frame; the LV cannot be located")
    return lab


def check_temporal_resolution(value, *, where: str) -> float:
    """Return the temporal resolution as a positive finite float (ms) or raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `temporal_resolution_ms` must be a positive number of ms; "
                         f"got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{where}: `temporal_resolution_ms` must be positive and finite (ms); "
                         f"got {value!r}")
    return v


def check_pixel_spacing(spacing_mm, *, where: str) -> tuple[float, float]:
    """Return in-plane spacing ``(dy, dx)`` in mm."""
    return check_spacing(spacing_mm, 2, where=where, name="spacing_mm")


def check_nonnegative(value, *, name: str, where: str) -> float:
    """Return ``value`` as a finite float ≥ 0 or raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `{name}` must be a number >= 0; got {value!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{where}: `{name}` must be finite and >= 0; got {value!r}")
    return v


def ed_frame(labels: np.ndarray) -> int:
    """End-diastolic frame: the frame of largest LV blood-pool (label 3) count over all slices.

    Ties go to the lowest frame index; unannotated (all-zero) frames never win.
    """
    return int(np.argmax((labels == LV).sum(axis=(0, 2, 3))))


def mid_ventricular_slice(labels: np.ndarray, frame: int) -> int:
    """Middle of the slices holding LV blood pool at ``frame``: ``lv_slices[(n - 1) // 2]``."""
    lv_slices = np.flatnonzero((labels[:, frame] == LV).any(axis=(1, 2)))
    return int(lv_slices[(lv_slices.size - 1) // 2])


def dilate_mm(mask: np.ndarray, margin_mm: float, spacing_mm) -> np.ndarray:
    """Dilate a bool ``(..., y, x)`` mask in-plane by an ellipse of ``margin_mm`` (mm) radius.

    The structuring element holds the pixels whose centre lies within ``margin_mm`` of the
    centre pixel in physical units (spacing ``(dy, dx)`` mm); margin 0 returns a copy.
    """
    dy, dx = spacing_mm
    ry, rx = int(math.floor(margin_mm / dy)), int(math.floor(margin_mm / dx))
    if ry == 0 and rx == 0:
        return mask.copy()
    yy, xx = np.mgrid[-ry:ry + 1, -rx:rx + 1]
    disc = (yy * dy) ** 2 + (xx * dx) ** 2 <= margin_mm**2 + 1e-9
    structure = disc.reshape((1,) * (mask.ndim - 2) + disc.shape)
    return ndimage.binary_dilation(mask, structure=structure)


def intensity_gain(reference: np.ndarray, prediction: np.ndarray, support: np.ndarray,
                   *, where: str) -> float:
    """Least-squares gain of the prediction's temporal mean onto the reference's, on ``support``.

    ``g = Σ m_ref·m_pred / Σ m_pred²`` with ``m = mean over frames`` (axis 1 of a
    ``(slice, frame, ...)`` array) restricted to ``support`` (bool, the array without its frame
    axis). A circular temporal filter or shift leaves the temporal mean unchanged, so ``g`` is
    1 for a blurred or shifted copy and ``1/c`` for a copy scaled by ``c``.
    """
    m_ref = reference.mean(axis=1)[support]
    m_pred = prediction.mean(axis=1)[support]
    den = float(np.sum(m_pred * m_pred))
    if den == 0.0:
        raise ValueError(f"{where}: `prediction` is zero over the measurement region for every "
                         f"frame; its intensity cannot be matched to the reference")
    return float(np.sum(m_ref * m_pred) / den)


def circular_offset(a: float, b: float, n: int) -> float:
    """Signed circular difference ``a − b`` on a cycle of ``n`` frames, in ``[−n/2, n/2)``."""
    return float((a - b + n / 2.0) % n - n / 2.0)
