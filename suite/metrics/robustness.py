"""Declarations of the robustness measures (adversarial and random perturbations, small
features), in the one metric contract (:mod:`suite.metrics.contract`).

The values are computed by :mod:`suite.robustness` (perturbation results, feature recovery);
this module only declares what each stored value means, so that no consumer guesses a
direction from a metric's name.

References
----------
Antun V, Renna F, Poon C, Adcock B, Hansen AC. On instabilities of deep learning in image
reconstruction and the potential costs of AI. PNAS 2020;117(48):30088-30095.
Darestani MZ, Chaudhari AS, Heckel R. Measuring robustness in deep learning based compressive
sensing. ICML 2021.
"""

from __future__ import annotations

from typing import Any, Mapping

from suite.metrics.contract import (CLOSER, HIGHER, LOWER, NONE, MetricRow, MetricSpec,
                                    metric_row, register_metric)

__all__ = ["PERTURBATION_METRICS", "FEATURE_METRICS", "feature_rows"]

PERTURBATION_METRICS = (
    register_metric(MetricSpec(
        "deviation", "1", LOWER, "relative output deviation under a perturbation",
        "robustness", "||f(y + e) - f(y)|| / ||f(y)|| (Antun et al. 2020)", optimum=0.0)),
    register_metric(MetricSpec(
        "label_change", "1", LOWER, "fraction of pixels whose label a perturbation changed",
        "robustness", "mean over pixels of [f(x + e) != f(x)]", optimum=0.0)),
    register_metric(MetricSpec(
        "norm_reached", "1", NONE, "size of the perturbation actually applied, relative to "
        "the budget's norm", "robustness")),
)

#: The means of :func:`suite.robustness.features.feature_recovery` that a run stores.
FEATURE_METRICS = (
    register_metric(MetricSpec(
        "nrmse_window", "1", LOWER, "normalised RMS error in a window around each feature "
        "(z-scored)", "robustness", optimum=0.0)),
    register_metric(MetricSpec(
        "contrast_recovery", "1", CLOSER, "recovered / inserted feature contrast",
        "robustness", "against the same method's output without the features", target=1.0,
        optimum=1.0)),
    register_metric(MetricSpec(
        "contrast_error", "1", LOWER, "|1 - contrast recovery|", "robustness", optimum=0.0)),
    register_metric(MetricSpec(
        "cnr", "1", HIGHER, "contrast-to-noise ratio of the recovered features", "robustness")),
    register_metric(MetricSpec(
        "detected_fraction", "1", HIGHER, "fraction of features with CNR above the threshold "
        "(Rose criterion, 5)", "robustness", optimum=1.0)),
    register_metric(MetricSpec(
        "n_nonfinite_cnr", "1", NONE, "features whose CNR was not finite (left out of the "
        "mean CNR)", "robustness")),
)


def feature_rows(mean: Mapping[str, Any]) -> list[MetricRow]:
    """Rows of the ``mean`` dict of a feature-recovery result, one per declared measure."""
    return [metric_row(m.name, mean.get(m.name)) for m in FEATURE_METRICS if m.name in mean]
