"""A toy stage declared outside the harness (the way a new stage is added: one module with its
metrics, its methods and its declaration; the protocol names it under ``stages:``).

Stage ``toy`` consumes the recon stage's images and produces each frame's mean intensity,
``(slice, frame)`` float64. It is scored against the same means of the fully sampled reference
(metric ``frame_mean_error``, the relative L1 error, lower is better). Its two methods are
``frame-means`` (exact) and ``biased-means`` (10 % too high), so a release gate can tell them
apart.
"""

import numpy as np

from suite.metrics.contract import LOWER, MetricSpec, metric_row, register_metric
from suite.stages import Stage

FRAME_MEAN_ERROR = register_metric(MetricSpec(
    "frame_mean_error", "1", LOWER, "relative L1 error of the per-frame mean intensity", "toy",
    "sum |m_pred - m_ref| / sum |m_ref| over (slice, frame)", optimum=0.0))


class FrameMeans:
    name = "frame-means"
    version = "1"
    stage = "toy"
    scale = 1.0

    def params(self):
        return {}

    def __call__(self, images):
        return self.scale * np.asarray(images, np.float64).mean(axis=(-2, -1))


class BiasedMeans(FrameMeans):
    name = "biased-means"
    scale = 1.1


class ToyStage(Stage):
    name = "toy"
    consumes = ("recon",)
    produces = "per-frame mean intensity (slice, frame) float64"
    interface = "method(images) -> (slice, frame) means"

    def builtin_methods(self):
        return {"frame-means": FrameMeans, "biased-means": BiasedMeans}

    def produce(self, call, method):
        return method(call.upstream["recon"])

    def check_output(self, call, output, method_label):
        out = np.asarray(output, np.float64)
        if out.shape != call.case.image_shape[:2]:
            raise ValueError(f"toy method {method_label!r} returned shape {out.shape}")
        return out

    def attack_surface(self, call, method):
        """White box: the method is a torch-friendly map of the recon images."""
        from suite.robustness import AttackSurface

        return AttackSurface(x=np.asarray(call.upstream["recon"], np.float64),
                             forward=lambda t: method.scale * t.mean(dim=(-2, -1)),
                             differentiable=True)

    def score(self, call, output):
        from suite.stages.recon import reference_magnitude

        ref = reference_magnitude(call.case)
        if ref is None:
            return []
        m_ref = ref.mean(axis=(-2, -1))
        err = np.abs(output - m_ref).sum() / np.abs(m_ref).sum()
        return [{**metric_row("frame_mean_error", err).to_dict(), "stage": "toy"}]
