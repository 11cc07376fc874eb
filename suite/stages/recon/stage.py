"""The reconstruction stage: (k-space, mask, meta) → magnitude images, scored against the fully
sampled reference with the image-quality profiles and the temporal-fidelity metrics.

Methods are called as ``method(case) -> images (slice, frame, y, x)`` (complex or magnitude;
the magnitude is kept as float32) or, for a predictions folder, ``method.predict(case,
condition)``. A fully sampled condition of a k-space case runs the pseudo-method ``reference``
instead of the protocol's methods (its output is the scoring reference itself), and an
image-only case runs ``images`` (its stored images) under fully sampled conditions only, so
that later stages (segmentation, mapping, motion) always consume this stage's output.

Rows: ``stage = "recon"`` (NMSE, PSNR, SSIM per profile of ``metrics.image``), ``stage =
"temporal"`` (``metrics.temporal: true``, cases with labels and at least 4 frames).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from suite.stages.base import ExperimentCall, Stage, StageCall
from suite.stages.recon.reference import PSEUDO_METHODS, image_profiles, reference_magnitude

__all__ = ["ReconStage", "ATTACK_CONDITION_TYPES"]

#: Condition types whose k-space ``robustness.adversarial.recon`` perturbs (the protocol's
#: validation and the experiment's expansion read this one tuple).
ATTACK_CONDITION_TYPES = ("as-acquired", "undersample", "noise")


def _rows(rows, stage: str, **extra) -> list[dict]:
    return [{**r.to_dict(), "stage": stage, **extra} for r in rows]


class ReconStage(Stage):
    """See the module docstring."""

    name = "recon"
    consumes = ()
    produces = "magnitude images float32 (slice, frame, y, x)"
    interface = ("method(case) -> images (slice, frame, y, x), complex or magnitude; "
                 "predictions: DIR/<dataset>/<subject>/<condition>.npy")
    metric_groups = ("image", "temporal")
    experiment_kinds = ("recon-attack", "features", "crime")
    chain_experiments = ("recon-attack",)  # reads the chain's cached clean segmentation
    row_stages = ("recon", "temporal")

    def accepts(self, case_ref, condition: Mapping[str, Any]) -> bool:
        return bool(case_ref.has_kspace) or condition["type"] == "fully-sampled"

    def method_entries(self, protocol_entries: Sequence[dict], case_ref,
                       condition: Mapping[str, Any]) -> list[dict]:
        if not case_ref.has_kspace:
            return [{"name": "images", "params": {}}]
        if condition["type"] == "fully-sampled":
            return [{"name": "reference", "params": {}}]
        return list(protocol_entries)

    def builtin_methods(self):
        return PSEUDO_METHODS

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        from suite.metrics.image import PROFILES

        img = metrics.get("image")
        if img is not None:
            validator.mapping(img, "metrics.image")
            validator.unknown_keys(img, {"profiles"}, "metrics.image")
            validator.list_of_strings(img, "profiles", options=PROFILES, non_empty=True,
                                      prefix="metrics.image")
        if metrics.get("temporal") is not None:
            validator.boolean(metrics, "temporal", prefix="metrics")

    def produce(self, call: StageCall, method) -> np.ndarray:
        if getattr(method, "needs_case", False):
            return method.predict(call.conditioned, call.condition.name)
        return method(call.conditioned)

    def check_output(self, call: StageCall, output, method_label: str) -> np.ndarray:
        out = np.asarray(output)
        if out.shape != call.case.image_shape:
            raise ValueError(f"recon method {method_label!r} returned shape {out.shape}; "
                             f"expected (slice, frame, y, x) = {call.case.image_shape}")
        if not np.isfinite(out).all():
            raise ValueError(f"recon method {method_label!r} returned non-finite values")
        return np.abs(out).astype(np.float32)

    def score(self, call: StageCall, output) -> list[dict]:
        from suite.metrics.image import image_rows
        from suite.metrics.temporal import temporal_rows

        if call.entry.get("name") in PSEUDO_METHODS:
            return []  # the reference itself: nothing to score
        reference = reference_magnitude(call.condition.reference_case(call.case))
        if reference is None:
            return []
        images = np.asarray(output, np.float64)
        rows = []
        for profile in image_profiles(call.settings):
            rows += _rows(image_rows(reference, images, profile=profile), "recon")
        case = call.case
        if call.settings.get("temporal") and case.labels is not None and case.n_frames >= 4:
            rows += _rows(temporal_rows(reference, images, case.labels,
                                        case.meta.pixel_spacing_mm,
                                        case.meta.temporal_resolution_ms), "temporal")
        return rows

    def artifacts(self, call: StageCall, output) -> dict[str, np.ndarray]:
        if call.entry.get("name") in PSEUDO_METHODS:
            return {}
        reference = reference_magnitude(call.condition.reference_case(call.case))
        return {} if reference is None else {"reference": reference.astype(np.float32)}

    def expand_experiments(self, robustness, protocol, case_ref, upstream=()) -> list:
        """``robustness.adversarial.recon`` (one job per condition, method and domain, every
        budget), ``robustness.features`` and ``robustness.crimes``; k-space cases only."""
        if not case_ref.has_kspace:
            return []
        from suite.stages.entries import method_label

        recon_methods = protocol.methods("recon", case_ref.dataset)
        seg_methods = protocol.methods("segmentation", case_ref.dataset)

        def pick(methods, names):  # folders of predictions cannot run on perturbed inputs
            return [m for m in methods if "predictions" not in m
                    and (names is None or method_label(m) in names)]

        def conds(section, types):
            names = section.get("conditions")
            return [c for c in protocol.conditions_of(case_ref.dataset)
                    if c["type"] in types and (names is None or c["name"] in names)]

        out = []
        sec = (robustness.get("adversarial") or {}).get("recon")
        if sec:
            seg_name = sec.get("segmentation",
                               method_label(seg_methods[0]) if seg_methods else None)
            seg_entry = next((m for m in seg_methods if method_label(m) == seg_name), None)
            for cond in conds(sec, ATTACK_CONDITION_TYPES):
                for rec in pick(recon_methods, sec.get("methods")):
                    for domain in sec.get("domains") or ["kspace"]:
                        out.append((cond, [("recon", rec), ("segmentation", seg_entry)], {
                            "kind": "recon-attack", "domain": domain,
                            "budgets": [float(b) for b in sec["budgets"]],
                            "steps": int(sec.get("steps") or 10)}))
        feat = robustness.get("features")
        if feat:
            for cond in conds(feat, ("undersample", "noise")):
                for rec in pick(recon_methods, feat.get("methods")):
                    out.append((cond, [("recon", rec), ("segmentation", None)], {
                        "kind": "features",
                        "contrasts": [float(c) for c in feat.get("contrasts") or [0.3]],
                        "n_features": int(feat.get("n_features") or 3),
                        "radius_px": float(feat.get("radius_px") or 1.5)}))
        crimes = robustness.get("crimes")
        if crimes:
            from suite.conditions import CRIMES

            for cond in conds(crimes, ("undersample",)):
                for rec in pick(recon_methods, crimes.get("methods")):
                    for crime in crimes.get("crimes") or list(CRIMES):
                        out.append((cond, [("recon", rec), ("segmentation", None)],
                                    {"kind": "crime", "crime": crime}))
        return out

    def experiment(self, kind: str, exp: ExperimentCall) -> list[dict]:
        from suite.stages.recon import experiments

        run = {"recon-attack": experiments.recon_attack, "features": experiments.features,
               "crime": experiments.crime}.get(kind)
        if run is None:
            return super().experiment(kind, exp)
        return run(exp)
