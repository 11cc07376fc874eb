"""Robustness experiment of the segmentation stage.

``seg-attack``
    :func:`suite.robustness.attack_segmentation` for each attack and
    :func:`suite.robustness.random_segmentation` (L∞ and L2) at every budget on the job's
    images (the reference, or a reconstruction). Rows (``stage = "robustness"``): ``dice`` and
    ``hd95`` per structure and phase, ``label_change`` (fraction of pixels whose label
    changed), ``norm_reached``, and the clinical parameters of the perturbed labels (``stage =
    "robustness-clinical"``). A worst-case example is saved for the report.
"""

from __future__ import annotations

import numpy as np

from suite.stages.base import ExperimentCall, example_index
from suite.stages.clinical.stage import clinical_robustness_rows
from suite.stages.segmentation.scoring import segment, segmentation_rows

__all__ = ["seg_attack"]


def seg_attack(exp: ExperimentCall) -> list[dict]:
    from suite.metrics.contract import metric_row
    from suite.metrics.robustness import PERTURBATION_METRICS  # noqa: F401  (declarations)
    from suite.robustness import attack_segmentation, random_segmentation

    call, spec = exp.call, exp.experiment
    label = call.labels.get("segmentation", "")
    method = call.resolve(call.entries["segmentation"], "segmentation")
    if getattr(method, "needs_case", False):
        raise ValueError(f"segmentation method {label!r} is a predictions folder: it "
                         "cannot be evaluated on perturbed images; remove it from "
                         "robustness.adversarial.segmentation.methods")
    case = call.case
    spacing = case.meta.pixel_spacing_mm
    images = np.asarray(call.upstream["recon"], np.float32)
    # the job's own clean labels: the segmentation stage's cached output of these images
    clean = call.upstream.get("segmentation")
    clean = segment(method, images, case, label) if clean is None else clean
    results = []
    for attack in spec["attacks"]:
        budgets = spec["l2_budgets"] if attack == "pgd-l2" else spec["budgets"]
        results += attack_segmentation(method, images, spacing, budgets, attack=attack,
                                       steps=spec["steps"], labels=case.labels, seed=call.seed,
                                       clean_labels=clean)
    if spec["budgets"]:
        results += random_segmentation(method, images, spacing, spec["budgets"], norm="linf",
                                       seed=call.seed, clean_labels=clean)
    if spec["l2_budgets"]:
        results += random_segmentation(method, images, spacing, spec["l2_budgets"], norm="l2",
                                       seed=call.seed, clean_labels=clean)

    def label_rows(labels, attack, budget):
        out = [{**r.to_dict(), "stage": "robustness", "attack": attack, "budget": budget}
               for r in segmentation_rows(case, labels, call.settings, metrics=("dice", "hd95"))]
        return out + clinical_robustness_rows(case, labels, attack, budget)

    rows = label_rows(clean, "none", 0.0)
    for res in results:
        profile = "white-box" if res.white_box else "black-box"
        for name, value in (("label_change", res.deviation), ("norm_reached", res.norm_reached)):
            rows.append({**metric_row(name, value, profile=profile).to_dict(),
                         "stage": "robustness", "attack": res.kind, "budget": res.budget})
        rows += label_rows(res.output, res.kind, res.budget)
    adversarial = [r for r in results if not r.kind.startswith("random")]
    if adversarial:
        worst = max(adversarial,
                    key=lambda r: (r.budget if r.kind != "pgd-l2" else -1, r.deviation))
        s, f = example_index(case)
        exp.save_example(image=images[s, f], clean_labels=clean[s, f],
                         adversarial_labels=worst.output[s, f],
                         reference_labels=None if case.labels is None else case.labels[s, f],
                         budget=worst.budget, kind=worst.kind, deviation=worst.deviation)
    return rows
