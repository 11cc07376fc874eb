"""One call for every temporal-fidelity metric of a case."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.metrics.contract import MetricFamily, MetricRow, metric_row, register_family
from suite._serialise import jsonable
from suite._table import SummaryTable, fmt
from suite.metrics.temporal._result import HEADER
from suite.metrics.temporal.lv_curve import LVCurveResult, lv_curve_error
from suite.metrics.temporal.profile import XTProfileResult, xt_profile_error
from suite.metrics.temporal.spectrum import TemporalSpectrumResult, temporal_frequency_retention
from suite.metrics.temporal.step import StepFeature, StepResponseResult, step_response_width

__all__ = ["temporal_fidelity", "TemporalFidelity"]


@dataclass(frozen=True)
class TemporalFidelity:
    """All temporal-fidelity results of one case.

    Attributes
    ----------
    profile : XTProfileResult
    spectrum : TemporalSpectrumResult
    lv_curve : LVCurveResult
    step : StepResponseResult or None
        ``None`` when no feature was given (not measured, not a failure).
    """

    profile: XTProfileResult
    spectrum: TemporalSpectrumResult
    lv_curve: LVCurveResult
    step: StepResponseResult | None = None

    def results(self) -> dict:
        """The component results by name (``step`` only when measured)."""
        out = {"profile": self.profile, "spectrum": self.spectrum, "lv_curve": self.lv_curve}
        if self.step is not None:
            out["step"] = self.step
        return out

    def headline(self) -> dict[str, dict]:
        """Headline scalar of each component with its unit and direction."""
        return {name: {"quantity": r.HEADLINE, "value": getattr(r, r.HEADLINE),
                       "unit": r.unit, "direction": r.direction}
                for name, r in self.results().items()}

    def to_dict(self) -> dict:
        """JSON-safe nested dict of every component (``step`` is ``None`` when not measured)."""
        return jsonable({"profile": self.profile, "spectrum": self.spectrum,
                         "lv_curve": self.lv_curve, "step": self.step,
                         "headline": self.headline()})

    def summary(self, format: str = "text") -> str:
        """One table of every declared scalar, prefixed by component, with each convention.

        Parameters
        ----------
        format : {"text", "markdown", "html"}
        """
        rows, notes = [], []
        for name, r in self.results().items():
            rows += [(f"{name}.{k}", fmt(getattr(r, k)), q.unit, q.direction_text)
                     for k, q in r.QUANTITIES.items()]
            notes.append(f"{name} ({r.METRIC}): " + " ".join(r._notes()))
        if self.step is None:
            notes.append("step: not measured (no feature given).")
        return SummaryTable("Temporal fidelity", HEADER, tuple(rows), tuple(notes)).render(format)


def temporal_fidelity(reference, prediction, labels, spacing_mm, temporal_resolution_ms,
                      feature: StepFeature | None = None, *,
                      prediction_labels=None) -> TemporalFidelity:
    """Every temporal-fidelity metric of one case with default settings.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Magnitude images over one periodic cardiac cycle (≥ 4 frames), same shape.
    labels : ndarray, integer, ``(slice, frame, y, x)``
        Reference ACDC labels (3 = LV blood pool, 2 = myocardium).
    spacing_mm : (float, float)
        In-plane pixel spacing ``(dy, dx)``, mm.
    temporal_resolution_ms : float
        Frame interval, ms.
    feature : StepFeature, optional
        Switching feature for :func:`step_response_width`; without it ``step`` is ``None``.
    prediction_labels : ndarray, integer, ``(slice, frame, y, x)``, optional
        Passed to :func:`lv_curve_error` for exact label-area curves.

    Returns
    -------
    TemporalFidelity

    Raises
    ------
    ValueError
        As the component functions (the first failing one raises).

    See Also
    --------
    xt_profile_error, temporal_frequency_retention, lv_curve_error, step_response_width
    """
    step = None
    if feature is not None:
        step = step_response_width(reference, prediction, feature, temporal_resolution_ms)
    return TemporalFidelity(
        profile=xt_profile_error(reference, prediction, labels, spacing_mm),
        spectrum=temporal_frequency_retention(reference, prediction, labels, spacing_mm,
                                              temporal_resolution_ms),
        lv_curve=lv_curve_error(reference, prediction, labels, spacing_mm,
                                temporal_resolution_ms, prediction_labels=prediction_labels),
        step=step,
    )


#: The parts of :func:`temporal_fidelity` stored by :func:`temporal_rows`, in order.
STORED_PARTS = ("profile", "spectrum", "lv_curve")


def temporal_rows(reference, prediction, labels, spacing_mm,
                  temporal_resolution_ms) -> list[MetricRow]:
    """The declared scalars of :func:`temporal_fidelity` as stored rows.

    One row per scalar of the x-t profile, spectrum and LV-curve results, with ``profile`` =
    the part (``"profile"``, ``"spectrum"``, ``"lv_curve"``); the step response needs a
    switching feature and is not stored. Non-finite inputs give ``undefined`` rows.

    Parameters
    ----------
    reference, prediction, labels, spacing_mm, temporal_resolution_ms
        As :func:`temporal_fidelity`.

    Returns
    -------
    list of MetricRow
    """
    ref, pred = np.asarray(reference), np.asarray(prediction)
    results = {"profile": XTProfileResult, "spectrum": TemporalSpectrumResult,
               "lv_curve": LVCurveResult}
    if not (np.isfinite(ref).all() and np.isfinite(pred).all()):
        return [metric_row(k, None, status="undefined", profile=part)
                for part in STORED_PARTS for k in results[part].QUANTITIES]
    res = temporal_fidelity(ref, pred, labels, spacing_mm, temporal_resolution_ms)
    rows = []
    for part in STORED_PARTS:
        r = getattr(res, part)
        for k in r.QUANTITIES:
            v = getattr(r, k)
            rows.append(metric_row(k, None if v is None else float(v), profile=part))
    return rows


def _example(rng):
    """A beating disc (LV) in a ring (myocardium); the prediction is blurred over time."""
    nf, n = 8, 32
    yy, xx = np.mgrid[:n, :n] - n / 2
    r = np.hypot(yy, xx)
    ref = np.zeros((1, nf, n, n))
    labels = np.zeros((1, nf, n, n), np.uint8)
    for t in range(nf):
        radius = 6 + 2 * np.cos(2 * np.pi * t / nf)
        labels[0, t][r <= radius] = 3
        labels[0, t][(r > radius) & (r <= radius + 3)] = 2
        ref[0, t] = np.where(r <= radius, 1.0, np.where(r <= radius + 3, 0.3, 0.1))
    ref += 0.01 * rng.random(ref.shape)
    pred = 0.5 * ref + 0.25 * (np.roll(ref, 1, axis=1) + np.roll(ref, -1, axis=1))
    return ref, pred, {"labels": labels, "spacing_mm": (1.5, 1.5), "temporal_resolution_ms": 40.0}


def _family_rows(reference, prediction, *, labels, spacing_mm, temporal_resolution_ms):
    return temporal_rows(reference, prediction, labels, spacing_mm, temporal_resolution_ms)


register_family(MetricFamily(
    "temporal", tuple(k for part in (XTProfileResult, TemporalSpectrumResult, LVCurveResult)
                      for k in part.QUANTITIES), _family_rows, _example))
