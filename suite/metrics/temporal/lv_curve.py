"""LV blood-pool area curve over the cycle and end-systolic timing error."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from suite._serialise import readonly
from suite.metrics.temporal._inputs import (
    LV, MYO, check_images, check_labels, check_nonnegative, check_pixel_spacing,
    check_temporal_resolution, circular_offset, dilate_mm, ed_frame, intensity_gain,
)
from suite.metrics.temporal._result import DESCRIPTIVE, LOWER, SIGNED, TemporalResult, declare

__all__ = ["lv_curve_error", "LVCurveResult", "parabolic_minimum"]

SOURCES = ("image_proxy", "labels")


@dataclass(frozen=True)
class LVCurveResult(TemporalResult):
    """LV blood-pool curves and end-systolic timing of one case (see :func:`lv_curve_error`).

    Attributes
    ----------
    curve_error : float
        ``||A_pred − A_ref||₂ / ||A_ref||₂`` over frames (unitless, lower is better).
    es_timing_error_frames, es_timing_error_ms : float
        Absolute circular difference of the sub-frame ES times (lower is better).
    es_timing_difference_frames : float
        Signed circular difference ``t_ES,pred − t_ES,ref`` in ``[−n/2, n/2)`` frames.
    es_frame_reference, es_frame_prediction : int
        Frames of minimum area (first on ties).
    es_time_reference_frames, es_time_prediction_frames : float
        Sub-frame ES by a parabola through the minimum and its circular neighbours.
    fac_reference_pct, fac_prediction_pct : float
        Fractional area change ``(max − min) / max × 100`` of each curve, %.
    fac_difference_pct : float
        ``fac_prediction_pct − fac_reference_pct`` (temporal blurring makes it negative).
    reference_curve_mm2, prediction_curve_mm2 : ndarray (frame,), float64
        Blood-pool area summed over slices, mm² (proportional to volume for equally spaced
        slices).
    per_frame_relative_difference : ndarray (frame,), float64
        ``(A_pred − A_ref) / max(A_ref)``: signed, relative to the reference ED area.
    source : {"image_proxy", "labels"}
        How the curves were obtained.
    intensity_gain, blood_level, myocardium_level : float
        Gain applied to the prediction and the reference levels of the proxy; NaN (JSON
        ``null``) for ``source = "labels"``, where no intensity is used.
    """

    curve_error: float
    es_timing_error_frames: float
    es_timing_error_ms: float
    es_timing_difference_frames: float
    es_frame_reference: int
    es_frame_prediction: int
    es_time_reference_frames: float
    es_time_prediction_frames: float
    fac_reference_pct: float
    fac_prediction_pct: float
    fac_difference_pct: float
    source: str
    intensity_gain: float
    blood_level: float
    myocardium_level: float
    temporal_resolution_ms: float
    roi_margin_mm: float
    reference_curve_mm2: np.ndarray = field(repr=False, compare=False)
    prediction_curve_mm2: np.ndarray = field(repr=False, compare=False)
    per_frame_relative_difference: np.ndarray = field(repr=False, compare=False)

    METRIC = "LV blood-pool curve and ES timing"
    HEADLINE = "es_timing_error_ms"
    CONVENTION = (
        "image_proxy: ROI = union of LV blood pool (label 3) over frames, per slice, dilated by "
        "the margin; each ROI pixel counts its blood fraction clip((I - myo) / (blood - myo), "
        "0, 1) with blood/myo = median reference intensity of labels 3/2 at ED (soft "
        "threshold midway between them); prediction scaled by the least-squares gain of its "
        "temporal-mean ROI image. labels: area of label 3 in `labels` and `prediction_labels`. ES = frame of "
        "minimum area, refined by a parabola through it and its circular neighbours; timing "
        "differences are circular."
    )
    QUANTITIES = declare(
        ("curve_error", "1", LOWER, "relative L2 error of the area curve"),
        ("es_timing_error_frames", "frames", LOWER, "|ES time difference|"),
        ("es_timing_error_ms", "ms", LOWER, "|ES time difference|"),
        ("es_timing_difference_frames", "frames", SIGNED, "ES time difference"),
        ("es_time_reference_frames", "frames", DESCRIPTIVE, "sub-frame ES, reference"),
        ("es_time_prediction_frames", "frames", DESCRIPTIVE, "sub-frame ES, prediction"),
        ("fac_reference_pct", "%", DESCRIPTIVE, "fractional area change, reference"),
        ("fac_prediction_pct", "%", DESCRIPTIVE, "fractional area change, prediction"),
        ("fac_difference_pct", "%", SIGNED, "FAC difference"),
    )


    def _notes(self) -> list[str]:
        return [f"Curve source: {self.source}.", self.CONVENTION]


def parabolic_minimum(curve) -> tuple[int, float]:
    """Frame of the minimum of a periodic curve and its sub-frame position.

    Parameters
    ----------
    curve : array_like (frame,), float
        One value per frame of a periodic cycle (≥ 3 frames).

    Returns
    -------
    (int, float)
        ``argmin`` (first on ties) and ``argmin + δ`` with
        ``δ = (y₋ − y₊) / (2 (y₋ − 2y₀ + y₊))`` from the parabola through the minimum and its
        circular neighbours y₋, y₊, clipped to [−0.5, 0.5]; δ = 0 when the three are collinear.
        The position lies in ``[−0.5, n − 0.5)``.

    Examples
    --------
    >>> parabolic_minimum([4.0, 1.0, 0.0, 1.0, 4.0])
    (2, 2.0)
    >>> k, t = parabolic_minimum([(f - 1.3) ** 2 for f in range(6)])
    >>> k, round(t, 6)
    (1, 1.3)
    """
    y = np.asarray(curve, dtype=np.float64)
    n = y.size
    k = int(np.argmin(y))
    ym, y0, yp = y[(k - 1) % n], y[k], y[(k + 1) % n]
    den = ym - 2.0 * y0 + yp
    delta = 0.0 if den <= 0 else float(np.clip(0.5 * (ym - yp) / den, -0.5, 0.5))
    return k, k + delta


def _fac(curve: np.ndarray) -> float:
    top = float(curve.max())
    return 100.0 * (top - float(curve.min())) / top if top > 0 else math.nan


def lv_curve_error(reference, prediction, labels, spacing_mm, temporal_resolution_ms, *,
                   prediction_labels=None, roi_margin_mm: float = 3.0) -> LVCurveResult:
    """LV blood-pool area curve error and end-systolic (ES) timing error.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Bright-blood magnitude images (cine bSSFP) over one periodic cycle, ≥ 4 frames.
    labels : ndarray, integer, ``(slice, frame, y, x)``
        Reference ACDC labels. The image proxy needs LV blood pool (3) and myocardium (2) at
        ED (frame of largest LV count); the label source needs every frame annotated.
    spacing_mm : (float, float)
        In-plane pixel spacing ``(dy, dx)``, mm.
    temporal_resolution_ms : float
        Frame interval, ms.
    prediction_labels : ndarray, integer, ``(slice, frame, y, x)``, optional
        Labels segmented on the prediction. When given, both curves are exact label-3 areas
        (``source = "labels"``) and the images are only validated.
    roi_margin_mm : float, default 3
        Dilation of the LV union for the image proxy, mm; keep it below the myocardial
        thickness so the ROI holds no RV blood.

    Returns
    -------
    LVCurveResult
        Headline ``es_timing_error_ms`` (lower is better) with ``curve_error`` and FAC.

    Raises
    ------
    ValueError
        Invalid shapes or values, labels without LV; for the proxy, no myocardium at ED or
        blood not brighter than myocardium in the reference; a prediction zero on the ROI.

    Notes
    -----
    The proxy area ``A[f] = dy·dx·Σ_slices Σ_ROI clip((I − μ_myo) / (μ_blood − μ_myo), 0, 1)``,
    with μ the *median* reference intensity of label 3 (blood) and 2 (myocardium) over all
    slices at ED (the median resists partial-volume pixels at label borders), counts each pixel
    by its blood fraction: a soft threshold at the midway level (μ_blood + μ_myo)/2. It is
    linear in intensity between the two levels, so it follows partial-volume boundaries
    smoothly; while all ROI intensities stay between the levels it commutes with a temporal
    filter (the curve of a blurred series is the blurred curve). The gain makes it invariant
    to a global intensity scale of the prediction. A circular shift by one frame moves ES by
    exactly one frame; a symmetric filter leaves the ES of a curve symmetric about ES unchanged.

    References
    ----------
    Schlemper J, et al. IEEE TMI 2018;37:491-503; Küstner T, et al. Sci Rep 2020;10:13710
    (LV function from deep cine reconstructions). Parabolic peak interpolation: e.g. Smith JO,
    Spectral Audio Signal Processing, "Quadratic interpolation of spectral peaks" (2011).
    """
    where = "lv_curve_error"
    ref, pred = check_images(reference, prediction, where=where)
    lab = check_labels(labels, ref.shape, where=where)
    dy, dx = check_pixel_spacing(spacing_mm, where=where)
    dt = check_temporal_resolution(temporal_resolution_ms, where=where)
    roi_margin_mm = check_nonnegative(roi_margin_mm, name="roi_margin_mm", where=where)
    n = ref.shape[1]
    pixel_mm2 = dy * dx
    if prediction_labels is not None:
        plab = check_labels(prediction_labels, ref.shape, where=where, name="prediction_labels")
        a_ref = (lab == LV).sum(axis=(0, 2, 3)) * pixel_mm2
        a_pred = (plab == LV).sum(axis=(0, 2, 3)) * pixel_mm2
        source, gain, mu_b, mu_m = "labels", math.nan, math.nan, math.nan
    else:
        ed = ed_frame(lab)
        if not np.any(lab[:, ed] == MYO):
            raise ValueError(f"{where}: `labels` hold no myocardium (label 2) at the ED "
                             f"frame {ed}; the image proxy needs blood and myocardium levels "
                             f"(or pass `prediction_labels`)")
        mu_b = float(np.median(ref[:, ed][lab[:, ed] == LV]))
        mu_m = float(np.median(ref[:, ed][lab[:, ed] == MYO]))
        if not mu_b > mu_m:
            raise ValueError(f"{where}: in `reference` the LV blood pool ({mu_b:.4g}) is not "
                             f"brighter than the myocardium ({mu_m:.4g}) at ED; the proxy assumes "
                             f"bright-blood cine (or pass `prediction_labels`)")
        roi = dilate_mm((lab == LV).any(axis=1), roi_margin_mm, (dy, dx))   # (slice, y, x)
        gain = intensity_gain(ref, pred, roi, where=where)

        def area(img):
            frac = np.clip((np.moveaxis(img, 1, 0)[:, roi] - mu_m) / (mu_b - mu_m), 0.0, 1.0)
            return frac.sum(axis=1) * pixel_mm2

        a_ref, a_pred = area(ref), area(pred * gain)
        source = "image_proxy"
    a_ref, a_pred = a_ref.astype(np.float64), a_pred.astype(np.float64)
    top = float(a_ref.max())
    if top == 0.0:
        raise ValueError(f"{where}: the reference LV curve is zero in every frame")
    k_ref, t_ref = parabolic_minimum(a_ref)
    k_pred, t_pred = parabolic_minimum(a_pred)
    diff = circular_offset(t_pred, t_ref, n)
    fac_ref, fac_pred = _fac(a_ref), _fac(a_pred)
    return LVCurveResult(
        curve_error=float(np.linalg.norm(a_pred - a_ref) / np.linalg.norm(a_ref)),
        es_timing_error_frames=abs(diff), es_timing_error_ms=abs(diff) * dt,
        es_timing_difference_frames=diff, es_frame_reference=k_ref, es_frame_prediction=k_pred,
        es_time_reference_frames=t_ref, es_time_prediction_frames=t_pred,
        fac_reference_pct=fac_ref, fac_prediction_pct=fac_pred,
        fac_difference_pct=fac_pred - fac_ref, source=source, intensity_gain=gain,
        blood_level=mu_b, myocardium_level=mu_m, temporal_resolution_ms=dt,
        roi_margin_mm=roi_margin_mm,
        reference_curve_mm2=readonly(a_ref), prediction_curve_mm2=readonly(a_pred),
        per_frame_relative_difference=readonly((a_pred - a_ref) / top),
    )
