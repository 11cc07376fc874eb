"""Temporal point spread: the 10-90 % width of a recovered intensity step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from suite._serialise import readonly
from suite.metrics.temporal._inputs import (
    check_images, check_temporal_resolution, circular_offset, intensity_gain,
)
from suite.metrics.temporal._result import DESCRIPTIVE, LOWER, SIGNED, TemporalResult, declare

__all__ = ["StepFeature", "step_response_width", "StepResponseResult", "rise_width"]


@dataclass(frozen=True)
class StepFeature:
    """A small region whose intensity switches abruptly in the reference.

    Attributes
    ----------
    mask : ndarray, bool, ``(y, x)``
        Pixels of the feature on one slice (non-empty).
    slice_index : int
        Slice holding the feature.
    step_frame : int
        First frame at the new level: the step lies between frames ``step_frame − 1`` and
        ``step_frame`` (circularly, so ``step_frame = 0`` means between the last and first).
    """

    mask: np.ndarray
    slice_index: int
    step_frame: int


def rise_width(curve, step_frame: int) -> tuple[float, float, bool]:
    """10-90 % rise width and 50 % time of a normalised periodic step response.

    Parameters
    ----------
    curve : array_like (frame,), float
        Response normalised so the pre-step level is 0 and the post-step level 1.
    step_frame : int
        First frame after the nominal step.

    Returns
    -------
    (width_frames, t50_frames, reached)
        The 50 % crossing is the upward crossing nearest ``step_frame − 0.5`` within half a
        cycle either side (frames unwrapped around the step, linear interpolation between
        frames). From it the curve is followed backwards to its last value ≤ 0.1 and forwards
        to its first value ≥ 0.9 (linear interpolation). ``reached`` is False when any of the
        three crossings is missing within the window; the width is then ``n`` frames (finite
        worst case: a full cycle) and ``t50`` NaN.

    Examples
    --------
    >>> w, t50, ok = rise_width([0, 0, 0, 1, 1, 1], 3)  # ideal step: 0.8 frames
    >>> round(w, 9), round(t50, 9), ok
    (0.8, 2.5, True)
    >>> w, t50, ok = rise_width([0, 0, 1/3, 2/3, 1, 1, 1, 0], 2)  # box blur of width 3
    >>> round(w, 9), round(t50, 9), ok
    (2.4, 2.5, True)
    """
    y = np.asarray(curve, dtype=np.float64)
    n = y.size
    pos = np.arange(step_frame - n // 2, step_frame - n // 2 + n)     # unwrapped frames
    v = y[pos % n]
    b = step_frame - 0.5
    ups = np.flatnonzero((v[:-1] < 0.5) & (v[1:] >= 0.5))
    if ups.size == 0:
        return float(n), math.nan, False

    def cross(i, level):  # crossing of `level` between samples i and i + 1
        return pos[i] + (level - v[i]) / (v[i + 1] - v[i])

    c50 = np.array([cross(i, 0.5) for i in ups])
    i = int(ups[np.argmin(np.abs(c50 - b))])
    t50 = float(c50[np.argmin(np.abs(c50 - b))])
    lo = np.flatnonzero(v[: i + 1] <= 0.1)
    hi = np.flatnonzero(v[i + 1:] >= 0.9)
    if lo.size == 0 or hi.size == 0:
        return float(n), math.nan, False
    j = int(lo[-1])            # v[j] <= 0.1 < v[j + 1]
    k = i + 1 + int(hi[0])     # v[k - 1] < 0.9 <= v[k]
    return float(cross(k - 1, 0.9) - cross(j, 0.1)), t50, True


@dataclass(frozen=True)
class StepResponseResult(TemporalResult):
    """Recovered step of a feature (see :func:`step_response_width`).

    Attributes
    ----------
    rise_width_frames, rise_width_ms : float
        10-90 % width of the prediction's transition (lower is better; an ideal sampled step
        gives 0.8 frames, a box filter of w frames 0.8·w). ``n_frames`` when not reached.
    reference_rise_width_frames : float
        The same rule on the reference (0.8 for an ideal step).
    step_delay_frames, step_delay_ms : float
        Signed circular difference of the 50 % times, prediction − reference (NaN when not
        reached).
    reached : bool
        Whether the prediction crossed 10, 50 and 90 % within half a cycle of the step.
    reference_curve, prediction_curve : ndarray (frame,), float64
        Mean feature intensity per frame normalised by the reference levels:
        ``(c − pre) / (post − pre)``; the prediction after the intensity gain.
    """

    rise_width_frames: float
    rise_width_ms: float
    reference_rise_width_frames: float
    step_delay_frames: float
    step_delay_ms: float
    reached: bool
    intensity_gain: float
    pre_level: float
    post_level: float
    slice_index: int
    step_frame: int
    temporal_resolution_ms: float
    reference_curve: np.ndarray = field(repr=False, compare=False)
    prediction_curve: np.ndarray = field(repr=False, compare=False)

    METRIC = "temporal step response"
    HEADLINE = "rise_width_ms"
    CONVENTION = (
        "Mean intensity in the feature mask per frame; prediction scaled so its temporal mean "
        "matches the reference's; normalised by the reference levels at frames step_frame - 1 "
        "(0) and step_frame (1). Frames unwrapped over the cycle around the step; 10-90 % width "
        "by linear interpolation around the 50 % crossing nearest the step; not reached within "
        "half a cycle -> width = n_frames."
    )
    QUANTITIES = declare(
        ("rise_width_frames", "frames", LOWER, "10-90 % rise width"),
        ("rise_width_ms", "ms", LOWER, "10-90 % rise width"),
        ("reference_rise_width_frames", "frames", DESCRIPTIVE, "reference width"),
        ("step_delay_frames", "frames", SIGNED, "50 % time difference"),
        ("step_delay_ms", "ms", SIGNED, "50 % time difference"),
        ("reached", "-", DESCRIPTIVE, "10/50/90 % levels reached"),
    )


def step_response_width(reference, prediction, feature: StepFeature,
                        temporal_resolution_ms) -> StepResponseResult:
    """Temporal point spread as the 10-90 % width of a recovered intensity step.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Magnitude images over one periodic cycle, ≥ 4 frames, same shape.
    feature : StepFeature
        Mask ``(y, x)``, slice and step frame of a region that switches intensity abruptly
        in the reference (e.g. the phantom's switching feature).
    temporal_resolution_ms : float
        Frame interval, ms.

    Returns
    -------
    StepResponseResult
        Headline ``rise_width_ms`` (lower is better).

    Raises
    ------
    ValueError
        Invalid images, ``feature`` not a :class:`StepFeature`, an empty or mis-shaped mask,
        a slice or frame out of range, no step in the reference at ``step_frame``, or a
        prediction whose feature mean is zero.

    Notes
    -----
    c(f) = mean of the feature pixels at frame f. The prediction is multiplied by
    ``g = mean_f c_ref / mean_f c_pred`` (scale invariance; 1 for a circularly filtered or
    shifted copy). A box filter of w frames turns an ideal step into a linear ramp over w
    frames, whose 10-90 % width is 0.8·w; the ideal step itself is 0.8 frames (w = 1).

    References
    ----------
    Frahm J, et al. On the temporal fidelity of nonlinear inverse reconstructions for
    real-time MRI - the motion challenge. Open Med Imaging J 2014;8:1-7.
    Schlemper J, et al. IEEE TMI 2018;37:491-503 (temporal blurring of deep cine
    reconstruction).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.zeros((1, 8, 4, 4))
    >>> ref[:, 2:6] = 1.0                       # on at frames 2-5
    >>> feat = StepFeature(np.ones((4, 4), bool), slice_index=0, step_frame=2)
    >>> box3 = sum(np.roll(ref, j, axis=1) for j in (-1, 0, 1)) / 3
    >>> r = step_response_width(ref, box3, feat, temporal_resolution_ms=40.0)
    >>> round(r.rise_width_frames, 9), round(r.rise_width_ms, 6), r.reached
    (2.4, 96.0, True)
    """
    where = "step_response_width"
    ref, pred = check_images(reference, prediction, where=where)
    dt = check_temporal_resolution(temporal_resolution_ms, where=where)
    if not isinstance(feature, StepFeature):
        raise ValueError(f"{where}: `feature` must be a StepFeature(mask, slice_index, "
                         f"step_frame); got {type(feature).__name__}")
    ns, n, ny, nx = ref.shape
    mask = np.asarray(feature.mask)
    if mask.dtype != bool or mask.shape != (ny, nx):
        raise ValueError(f"{where}: `feature.mask` must be a bool array of shape (y, x) = "
                         f"{(ny, nx)}; got dtype {mask.dtype}, shape {mask.shape}")
    if not mask.any():
        raise ValueError(f"{where}: `feature.mask` is empty; the feature needs at least one pixel")
    s, k = feature.slice_index, feature.step_frame
    if not isinstance(s, (int, np.integer)) or not 0 <= s < ns:
        raise ValueError(f"{where}: `feature.slice_index` must be an int in [0, {ns}); got {s!r}")
    if not isinstance(k, (int, np.integer)) or not 0 <= k < n:
        raise ValueError(f"{where}: `feature.step_frame` must be an int in [0, {n}); got {k!r}")
    s, k = int(s), int(k)
    c_ref = ref[s][:, mask].mean(axis=1)
    c_pred = pred[s][:, mask].mean(axis=1)
    gain = intensity_gain(c_ref[None, :, None], c_pred[None, :, None],
                          np.ones((1, 1), dtype=bool), where=where)
    pre, post = float(c_ref[(k - 1) % n]), float(c_ref[k])
    if post == pre:
        raise ValueError(f"{where}: the reference feature has the same mean intensity at frames "
                         f"{(k - 1) % n} and {k} ({pre:.4g}); `feature.step_frame` must mark "
                         f"a step")
    r_curve = (c_ref - pre) / (post - pre)
    p_curve = (c_pred * gain - pre) / (post - pre)
    w_ref, t50_ref, _ = rise_width(r_curve, k)
    w_pred, t50_pred, ok = rise_width(p_curve, k)
    delay = circular_offset(t50_pred, t50_ref, n) if ok else math.nan
    return StepResponseResult(
        rise_width_frames=w_pred, rise_width_ms=w_pred * dt, reference_rise_width_frames=w_ref,
        step_delay_frames=delay, step_delay_ms=delay * dt, reached=ok, intensity_gain=gain,
        pre_level=pre, post_level=post, slice_index=s, step_frame=k, temporal_resolution_ms=dt,
        reference_curve=readonly(r_curve), prediction_curve=readonly(p_curve),
    )
