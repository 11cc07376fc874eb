"""Temporal-fidelity metrics of cine reconstructions (one module per measure).

Deep cine reconstructions can blur motion over time while each frame still scores well on
SSIM. These metrics compare a prediction with its reference *over frames*; arrays follow the
Case layout ``(slice, frame, y, x)``, labels the ACDC convention, units mm and ms, and every
series is one periodic cardiac cycle (filters, shifts and timings are circular).

| function | result | headline (direction) |
|---|---|---|
| :func:`xt_profile_error` | :class:`XTProfileResult` | ``derivative_error`` (lower) |
| :func:`temporal_frequency_retention` | :class:`TemporalSpectrumResult` | ``high_frequency_retention`` (closer to 1 is better) |
| :func:`lv_curve_error` | :class:`LVCurveResult` | ``es_timing_error_ms`` (lower) |
| :func:`step_response_width` | :class:`StepResponseResult` | ``rise_width_ms`` (lower) |
| :func:`temporal_fidelity` | :class:`TemporalFidelity` | all of the above |

All four are invariant to a global intensity scale of the prediction: each first multiplies
the prediction by the least-squares gain that matches its temporal-mean image to the
reference's on the metric's own support (which a circular temporal filter or shift leaves at
1) and reports that gain. Intensity accuracy is the image metrics' job.
"""

from suite.metrics.temporal.bundle import TemporalFidelity, temporal_fidelity, temporal_rows
from suite.metrics.temporal.lv_curve import LVCurveResult, lv_curve_error, parabolic_minimum
from suite.metrics.temporal.profile import XTProfileResult, xt_profile_error
from suite.metrics.temporal.spectrum import TemporalSpectrumResult, temporal_frequency_retention
from suite.metrics.temporal.step import (
    StepFeature, StepResponseResult, rise_width, step_response_width,
)

__all__ = [
    "xt_profile_error", "XTProfileResult",
    "temporal_frequency_retention", "TemporalSpectrumResult",
    "lv_curve_error", "LVCurveResult", "parabolic_minimum",
    "step_response_width", "StepResponseResult", "StepFeature", "rise_width",
    "temporal_fidelity", "TemporalFidelity", "temporal_rows",
]
