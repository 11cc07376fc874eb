"""The mapping stage's attack surface: the weighted images of the scored pixels.

The generic input attack (:mod:`suite.robustness.input_attacks`,
``robustness.adversarial.mapping`` in a protocol) perturbs what a mapping method is given, the
weighted images ``(slice, y, x, n_images)``, **inside the regions the stage scores** (the union
of ``metrics.mapping.regions`` of the case's truth regions, restricted to the pixels
``metrics.mapping.roi`` scores — by default those free of partial volume; every pixel when
the case has no regions or none of them is scored).
The perturbation is therefore measured against the signal scale of those pixels (relative L2
``‖e‖₂ ≤ ε‖x‖₂`` or L∞ ``‖e‖∞ ≤ ε·max x`` over the region's weighted-image samples), and
the deviation ``‖f(x+e) − f(x)‖ / ‖f(x)‖`` is that of the map over the same pixels; pixels
outside keep their clean values. A per-pixel method (the conventional fits, ``myomapnet``) sees
exactly the perturbation of each of its pixels. A series that maps T1 and T2 at once (cardiac
MRF) offers no surface (one map per job is perturbed).

White box: a method with ``differentiable_map(images: Tensor (..., n), timings_ms) -> Tensor
(...)`` (the map of the series' quantity in ms, e.g.
:meth:`reference_impls.mapping.neural.MyoMapNetT1.differentiable_map`). Any other method is
a black box called as in the stage (``method(images, timings_ms)``, with the acquisition
description for a method that ``needs_acquisition``); a failed pixel (NaN) is
0 ms in the forward map, and a value that is not finite or not > 0 is NaN in the scored map
(:func:`perturbed_map`).
"""

from __future__ import annotations

import numpy as np

from suite.stages.mapping.acquisition import case_acquisition
from suite.stages.mapping.inputs import (case_quantities, case_quantity, timings_array,
                                         weighted_images)
from suite.stages.mapping.scoring import mapping_settings, region_masks, scoring_pixels

__all__ = ["attack_pixels", "mapping_attack_surface", "perturbed_map"]


def attack_pixels(call) -> np.ndarray:
    """Boolean ``(slice, y, x)``: the pixels the attack perturbs (module docstring)."""
    truth = call.case.truth or {}
    shape = (call.case.n_slices, *call.case.image_shape[2:])
    if "regions" not in truth:
        return np.ones(shape, bool)
    cfg = mapping_settings(call.settings)
    masks = region_masks(truth, cfg["regions"], scoring_pixels(truth, cfg.get("roi", "pure")))
    union = np.logical_or.reduce(list(masks.values())) if masks else np.zeros(shape, bool)
    return union if union.any() else np.ones(shape, bool)


def mapping_attack_surface(call, method, as_map):
    """The :class:`suite.robustness.AttackSurface` of a mapping job (module docstring).

    ``as_map(output, quantity)`` turns a method's output into the map (the stage's reader of
    MapFits, mappings and arrays).
    """
    import torch

    from suite.robustness import AttackSurface

    if len(case_quantities(call.case)) != 1:
        return None  # a series mapping T1 and T2 (cardiac MRF) has no single map to perturb
    images = weighted_images(call.upstream["recon"])
    roi = attack_pixels(call)
    timings = np.broadcast_to(timings_array(call.case), images.shape)[roi]
    x = images[roi]
    if callable(getattr(method, "differentiable_map", None)):
        def forward(t):
            return method.differentiable_map(t, timings)

        return AttackSurface(x=x, forward=forward, differentiable=True)
    quantity = case_quantity(call.case)

    extra = (case_acquisition(call.case),) if getattr(method, "needs_acquisition", False) else ()

    def black_box(t):
        m = np.asarray(as_map(method(t.detach().numpy(), timings, *extra), quantity), np.float64)
        return torch.from_numpy(np.where(np.isfinite(m), m, 0.0))

    return AttackSurface(x=x, forward=black_box, differentiable=False)


def perturbed_map(call, forward_output) -> np.ndarray:
    """The map ``(slice, y, x)`` of a perturbed input: the clean output with the attacked pixels
    replaced by ``forward_output`` (values not finite or not > 0 are NaN)."""
    out = np.array(call.cached(), dtype=np.float64)
    values = np.asarray(forward_output, dtype=np.float64)
    out[attack_pixels(call)] = np.where(np.isfinite(values) & (values > 0), values, np.nan)
    return out
