"""Scoring helpers of the segmentation stage, shared by its jobs and its experiments."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from suite.case import Case
from suite.stages.base import spacing_3d

__all__ = ["segment", "segmentation_rows", "segmentation_settings", "check_labels",
           "EMPTY_POLICIES"]

EMPTY_POLICIES = ("worst", "acdc", "mnms", "nan")


def segmentation_settings(settings: Mapping[str, Any]) -> dict:
    """``metrics.segmentation`` as a dict (``true``/absent → defaults)."""
    seg = settings.get("segmentation")
    return dict(seg) if isinstance(seg, dict) else {}


def segment(method, images, case: Case, label: str = "") -> np.ndarray:
    """Labels of ``images`` by a segmentation ``method`` (called as the stage calls it),
    checked to be uint8 of the case's image shape."""
    labels = np.asarray(method(np.abs(np.asarray(images)).astype(np.float32),
                               case.meta.pixel_spacing_mm))
    return check_labels(labels, case, label)


def check_labels(labels, case: Case, label: str) -> np.ndarray:
    """``labels`` if uint8 of the case's image shape; else a ValueError naming the method."""
    if labels.shape != case.image_shape or labels.dtype != np.uint8:
        raise ValueError(f"segmentation method {label!r} returned {labels.dtype} "
                         f"{labels.shape}; expected uint8 {case.image_shape}")
    return labels


def _given(cfg: Mapping[str, Any], key: str, default):
    """``cfg[key]``, or ``default`` when it is absent or null (not given)."""
    value = cfg.get(key)
    return default if value is None else value


def segmentation_rows(case: Case, labels, settings: Mapping[str, Any], *,
                      metrics: tuple[str, ...] | None = None) -> list:
    """Metric rows of ``labels`` against the case's reference labels (``[]`` without them)."""
    from suite.metrics.segmentation import evaluate

    if case.labels is None:
        return []
    cfg = segmentation_settings(settings)
    res = evaluate(case.labels, labels, spacing_3d(case), ed_frame=case.meta.ed_frame,
                   es_frame=case.meta.es_frame, tolerance_mm=_given(cfg, "tolerance_mm", 2.0),
                   empty=_given(cfg, "empty", "worst"), annotated_frames=case.meta.annotated_frames)
    rows = res.metric_rows()
    return rows if metrics is None else [r for r in rows if r.metric in metrics]
