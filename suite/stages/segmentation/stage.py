"""The segmentation stage: magnitude images → ACDC labels, scored against the reference labels.

Methods are called as ``method(images, spacing_mm) -> uint8 labels (slice, frame, y, x)``
(``images`` float32 magnitude from the recon stage, ``spacing_mm = (dy, dx)``), ACDC
convention (0 background, 1 RV, 2 myocardium, 3 LV blood pool); a predictions folder as
``method.predict(case, condition, recon_label)``. Rows (``stage = "segmentation"``): Dice,
HD, HD95, ASSD, MASD and NSD per structure at ED and ES with the protocol's empty-mask policy
(``metrics.segmentation: {tolerance_mm, empty}``), when the case has reference labels.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from suite.stages.base import ExperimentCall, Stage, StageCall
from suite.stages.segmentation.scoring import (EMPTY_POLICIES, check_labels,
                                               segmentation_rows)

__all__ = ["SegmentationStage", "ATTACK_CONDITION_TYPES"]

#: Condition types whose images ``robustness.adversarial.segmentation`` may attack when it names
#: its conditions (every type; without names, the fully sampled conditions).
ATTACK_CONDITION_TYPES = ("fully-sampled", "as-acquired", "undersample", "noise")

class SegmentationStage(Stage):
    """See the module docstring."""

    name = "segmentation"
    consumes = ("recon",)
    produces = "uint8 labels (slice, frame, y, x), ACDC convention"
    interface = ("method(images, spacing_mm) -> uint8 labels (slice, frame, y, x); "
                 "predictions: DIR/<dataset>/<subject>/<condition>__<recon>.npy")
    metric_groups = ("segmentation",)
    experiment_kinds = ("seg-attack",)

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        seg = metrics.get("segmentation")
        if isinstance(seg, dict):
            validator.unknown_keys(seg, {"tolerance_mm", "empty"}, "metrics.segmentation")
            validator.number(seg, "tolerance_mm", minimum=0.0, prefix="metrics.segmentation")
            validator.option(seg, "empty", EMPTY_POLICIES, prefix="metrics.segmentation")
        elif seg is not None:
            validator.boolean(metrics, "segmentation", prefix="metrics")

    def produce(self, call: StageCall, method) -> np.ndarray:
        if getattr(method, "needs_case", False):
            return method.predict(call.case, call.condition.name, call.labels.get("recon"))
        images = call.upstream["recon"]
        return method(images, call.case.meta.pixel_spacing_mm)

    def check_output(self, call: StageCall, output, method_label: str) -> np.ndarray:
        return check_labels(np.asarray(output), call.case, method_label)

    def score(self, call: StageCall, output) -> list[dict]:
        if call.settings.get("segmentation", True) is False:
            return []
        return [{**r.to_dict(), "stage": "segmentation"}
                for r in segmentation_rows(call.case, output, call.settings)]

    def expand_experiments(self, robustness, protocol, case_ref, upstream=()) -> list:
        """``robustness.adversarial.segmentation``: one job per condition (default: the fully
        sampled ones), images (the reference, or each reconstruction) and segmentation method."""
        from suite.stages.entries import method_label

        sec = (robustness.get("adversarial") or {}).get("segmentation")
        if not sec:
            return []
        names = sec.get("methods")
        seg_methods = [m for m in protocol.methods("segmentation", case_ref.dataset)
                       if "predictions" not in m
                       and (names is None or method_label(m) in names)]
        if sec.get("conditions"):
            conds = [c for c in protocol.conditions_of(case_ref.dataset)
                     if c["type"] in ATTACK_CONDITION_TYPES and c["name"] in sec["conditions"]]
        else:
            conds = [c for c in protocol.conditions_of(case_ref.dataset)
                     if c["type"] == "fully-sampled"]
        out = []
        for cond in conds:
            if not case_ref.has_kspace and cond["type"] != "fully-sampled":
                continue
            if cond["type"] == "fully-sampled":
                recs = [{"name": "reference" if case_ref.has_kspace else "images",
                         "params": {}}]
            else:
                recs = protocol.methods("recon", case_ref.dataset)
            for rec in recs:
                for seg in seg_methods:
                    out.append((cond, [("recon", rec), ("segmentation", seg)], {
                        "kind": "seg-attack",
                        "attacks": list(sec.get("attacks") or ["fgsm", "pgd"]),
                        "budgets": [float(b) for b in sec.get("budgets") or []],
                        "l2_budgets": [float(b) for b in sec.get("l2_budgets") or []],
                        "steps": int(sec.get("steps") or 10)}))
        return out

    def experiment(self, kind: str, exp: ExperimentCall) -> list[dict]:
        if kind != "seg-attack":
            return super().experiment(kind, exp)
        from suite.stages.segmentation.experiments import seg_attack

        return seg_attack(exp)
