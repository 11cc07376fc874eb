"""x-t profile error: a line through the LV followed over the cardiac cycle."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from suite._serialise import readonly
from suite.metrics.temporal._inputs import (
    LV, check_images, check_labels, check_nonnegative, check_pixel_spacing, ed_frame,
    intensity_gain, mid_ventricular_slice,
)
from suite.metrics.temporal._result import DESCRIPTIVE, LOWER, TemporalResult, declare

__all__ = ["xt_profile_error", "XTProfileResult"]


@dataclass(frozen=True)
class XTProfileResult(TemporalResult):
    """x-t profile errors of one case (see :func:`xt_profile_error`).

    Attributes
    ----------
    profile_error, derivative_error : float
        Relative L2 errors of the x-t profiles and of their temporal differences (unitless,
        lower is better, 0 for a perfect prediction). ``derivative_error`` is NaN when the
        reference profile does not change over time (not applicable).
    per_line_profile_error : ndarray (line,), float64
        ``profile_error`` of each line.
    per_frame_profile_error, per_frame_derivative_error : ndarray (frame,), float64
        Per-frame error norms divided by the RMS-over-frames norm of the reference, so that
        ``sqrt(mean(per_frame**2))`` equals the scalar. The derivative error of frame f is the
        one of the difference frame f+1 − f (circular).
    reference_profiles, prediction_profiles : ndarray (line, frame, position), float64
        Sampled x-t profiles; the prediction already multiplied by ``intensity_gain``.
    positions_mm : ndarray (position,), float64
        Signed distance of each sample from the centroid along the line, mm.
    """

    profile_error: float
    derivative_error: float
    intensity_gain: float
    slice_index: int
    ed_frame: int
    centroid_yx_mm: tuple[float, float]
    angles_deg: tuple[float, ...]
    margin_mm: float
    per_line_profile_error: np.ndarray = field(repr=False, compare=False)
    per_frame_profile_error: np.ndarray = field(repr=False, compare=False)
    per_frame_derivative_error: np.ndarray = field(repr=False, compare=False)
    reference_profiles: np.ndarray = field(repr=False, compare=False)
    prediction_profiles: np.ndarray = field(repr=False, compare=False)
    positions_mm: np.ndarray = field(repr=False, compare=False)

    METRIC = "x-t profile error"
    HEADLINE = "derivative_error"
    CONVENTION = (
        "Lines through the LV blood-pool (label 3) centroid of the mid-ventricular slice at ED "
        "(ED = frame of largest LV count; mid slice = middle of the LV slices at ED), at the "
        "stated angles (0 deg = +x, 90 deg = +y), reaching the farthest LV pixel of any frame "
        "plus the margin; bilinear samples every min(spacing) mm. Prediction scaled by the "
        "least-squares gain of its temporal-mean profile (scale-invariant). Errors are relative "
        "L2 norms over lines, frames and positions; the derivative is the circular difference "
        "of consecutive frames."
    )
    QUANTITIES = declare(
        ("profile_error", "1", LOWER, "relative L2 error of the x-t profiles"),
        ("derivative_error", "1", LOWER, "relative L2 error of the temporal differences"),
        ("intensity_gain", "1", DESCRIPTIVE, "gain applied to the prediction"),
    )


def _bilinear(images: np.ndarray, yi: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """Sample ``images (frame, y, x)`` at fractional indices ``(yi, xi)`` → ``(frame, point)``."""
    ny, nx = images.shape[-2:]
    y0 = np.clip(np.floor(yi).astype(int), 0, max(ny - 2, 0))
    x0 = np.clip(np.floor(xi).astype(int), 0, max(nx - 2, 0))
    y1, x1 = np.minimum(y0 + 1, ny - 1), np.minimum(x0 + 1, nx - 1)
    wy, wx = yi - y0, xi - x0
    return ((1 - wy) * (1 - wx) * images[:, y0, x0] + (1 - wy) * wx * images[:, y0, x1]
            + wy * (1 - wx) * images[:, y1, x0] + wy * wx * images[:, y1, x1])


def _rel(err: np.ndarray, ref: np.ndarray) -> float:
    den = float(np.sqrt(np.sum(ref * ref)))
    return float(np.sqrt(np.sum(err * err)) / den) if den > 0 else math.nan


def _per_frame(err: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per-frame norms of ``err (line, frame, pos)`` over the RMS-over-frames reference norm."""
    n = ref.shape[1]
    den = math.sqrt(float(np.sum(ref * ref)) / n)
    num = np.sqrt(np.sum(err * err, axis=(0, 2)))
    return num / den if den > 0 else np.full(n, math.nan)


def xt_profile_error(reference, prediction, labels, spacing_mm, *,
                     angles_deg=(0.0, 90.0), margin_mm: float = 10.0,
                     slice_index: int | None = None) -> XTProfileResult:
    """Relative L2 error of x-t profiles (and of their temporal differences) through the LV.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Magnitude images, same shape, ≥ 4 frames forming one periodic cardiac cycle.
    labels : ndarray, integer, ``(slice, frame, y, x)``
        Reference labels (ACDC: 3 = LV blood pool); frames without annotation are all zero.
    spacing_mm : (float, float)
        In-plane pixel spacing ``(dy, dx)`` in mm.
    angles_deg : sequence of float, default ``(0, 90)``
        Line orientations in the image plane, degrees from +x towards +y (0 = horizontal,
        90 = vertical), measured in mm so anisotropic pixels keep the angle.
    margin_mm : float, default 10
        How far the line reaches beyond the farthest LV pixel (any frame) from the centroid,
        to cover the moving myocardium. Samples outside the image are dropped.
    slice_index : int, optional
        Slice of the profile; default the mid-ventricular slice at ED.

    Returns
    -------
    XTProfileResult
        ``derivative_error`` is the headline (lower is better): temporal blurring removes
        frame-to-frame change, which the difference of consecutive frames isolates.

    Raises
    ------
    ValueError
        Shapes differ, arrays not 4-D or not real, < 4 frames, non-finite values, labels
        without LV blood pool, a slice without LV at ED, or a prediction that is zero along the
        lines.

    Notes
    -----
    With P the reference and Q the gain-scaled prediction profiles (line, frame, position),
    ``profile_error = ||Q − P|| / ||P||`` and ``derivative_error = ||ΔQ − ΔP|| / ||ΔP||`` with
    ``ΔP[f] = P[(f + 1) mod n] − P[f]``. The gain ``g = Σ p̄·q̄ / Σ q̄²`` (p̄, q̄ temporal means of
    the profiles) makes both errors invariant to a global intensity scale of the prediction;
    because a circular temporal filter keeps temporal means, a blurred copy gets g = 1 and, for
    a sequence oscillating at one temporal frequency, ``derivative_error = |1 − H(f)|`` with
    H the filter's frequency response.

    References
    ----------
    Tsao J, Boesiger P, Pruessmann KP. k-t BLAST and k-t SENSE: dynamic MRI with high frame rate
    exploiting spatiotemporal correlations. Magn Reson Med 2003;50:1031-1042 (x-t / x-f views).
    Schlemper J, Caballero J, Hajnal JV, Price AN, Rueckert D. A deep cascade of convolutional
    neural networks for dynamic MR image reconstruction. IEEE TMI 2018;37:491-503 (x-t profiles
    to show temporal blurring).
    Küstner T, et al. CINENet: deep learning-based 3D cardiac CINE MRI reconstruction with
    multi-coil complex-valued 4D spatio-temporal convolutions. Sci Rep 2020;10:13710.
    """
    where = "xt_profile_error"
    ref, pred = check_images(reference, prediction, where=where)
    lab = check_labels(labels, ref.shape, where=where)
    dy, dx = check_pixel_spacing(spacing_mm, where=where)
    margin_mm = check_nonnegative(margin_mm, name="margin_mm", where=where)
    try:
        angles = tuple(float(a) for a in np.atleast_1d(np.asarray(angles_deg, dtype=float)))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `angles_deg` must be a sequence of angles in degrees; "
                         f"got {angles_deg!r}") from None
    if not angles or not all(math.isfinite(a) for a in angles):
        raise ValueError(f"{where}: `angles_deg` must hold at least one finite angle; got {angles}")
    ed = ed_frame(lab)
    if slice_index is None:
        s = mid_ventricular_slice(lab, ed)
    else:
        s = slice_index
        if (isinstance(s, bool) or not isinstance(s, (int, np.integer))
                or not 0 <= s < ref.shape[0] or not np.any(lab[s, ed] == LV)):
            raise ValueError(f"{where}: `slice_index` must be a slice with LV blood pool at the ED "
                             f"frame {ed}; got {slice_index!r}")
        s = int(s)
    ys, xs = np.nonzero(lab[s, ed] == LV)
    cy, cx = float(ys.mean()) * dy, float(xs.mean()) * dx
    uy, ux = np.nonzero((lab[s] == LV).any(axis=0))
    reach = float(np.sqrt(((uy * dy - cy) ** 2 + (ux * dx - cx) ** 2).max())) + margin_mm
    step = min(dy, dx)
    t = np.arange(-math.floor(reach / step), math.floor(reach / step) + 1) * step
    ny, nx = ref.shape[-2:]
    ref_lines, pred_lines = [], []
    for a in angles:
        yi = (cy + t * math.sin(math.radians(a))) / dy
        xi = (cx + t * math.cos(math.radians(a))) / dx
        inside = (yi >= 0) & (yi <= ny - 1) & (xi >= 0) & (xi <= nx - 1)
        ref_lines.append(np.where(inside, _bilinear(ref[s], yi, xi), np.nan))
        pred_lines.append(np.where(inside, _bilinear(pred[s], yi, xi), np.nan))
    p = np.stack(ref_lines)           # (line, frame, position); NaN outside the image
    q = np.stack(pred_lines)
    valid = np.isfinite(p[:, 0, :])   # (line, position)
    p, q = np.where(np.isfinite(p), p, 0.0), np.where(np.isfinite(q), q, 0.0)
    if float(np.sum(p * p)) == 0.0:
        raise ValueError(f"{where}: `reference` is zero along every profile line; "
                         f"the relative error is undefined")
    gain = intensity_gain(p.transpose(1, 0, 2)[None], q.transpose(1, 0, 2)[None],
                          valid[None], where=where)
    q = q * gain
    dp = np.roll(p, -1, axis=1) - p
    dq = np.roll(q, -1, axis=1) - q
    return XTProfileResult(
        profile_error=_rel(q - p, p),
        derivative_error=_rel(dq - dp, dp),
        intensity_gain=gain, slice_index=s, ed_frame=ed, centroid_yx_mm=(cy, cx),
        angles_deg=angles, margin_mm=margin_mm,
        per_line_profile_error=readonly([_rel(q[i] - p[i], p[i]) for i in range(len(angles))]),
        per_frame_profile_error=readonly(_per_frame(q - p, p)),
        per_frame_derivative_error=readonly(_per_frame(dq - dp, dp)),
        reference_profiles=readonly(np.where(valid[:, None, :], p, np.nan)),
        prediction_profiles=readonly(np.where(valid[:, None, :], q, np.nan)),
        positions_mm=readonly(t),
    )
