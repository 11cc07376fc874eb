"""The clinical-parameter stage (derived): labels → LV/RV volumes, EF, LV mass, each stored with
the reference value it is compared with and its physiological validity.

It has no methods: it is evaluated in the job of the segmentation it consumes. The reference of
a case is the phantom's analytic truth when the case carries it (``truth`` holds every stored
parameter), else the parameters of the case's reference labels, else none (``profile`` of the
rows says which: ``truth``, ``reference-labels``, ``none``). ``metrics.clinical: false``
switches the stage off.
"""

from __future__ import annotations

from typing import Any, Mapping

from suite.case import Case
from suite.stages.base import Stage, StageCall, spacing_3d

__all__ = ["ClinicalStage", "clinical_case_rows", "clinical_robustness_rows"]


def clinical_case_rows(case: Case, labels, *, stage: str = "clinical") -> list[dict]:
    """Rows of the clinical parameters of ``labels`` against the case's reference."""
    from suite.metrics.clinical import STORED, clinical_parameters, clinical_rows

    spacing = spacing_3d(case)
    frames = dict(ed_frame=case.meta.ed_frame, es_frame=case.meta.es_frame,
                  annotated_frames=case.meta.annotated_frames)
    if case.truth is not None and all(k in case.truth for k in STORED):
        ref, source = case.truth, "truth"
    elif case.labels is not None:
        ref, source = clinical_parameters(case.labels, spacing, **frames).scalars(), \
            "reference-labels"
    else:
        ref, source = None, "none"
    rows = clinical_rows(labels, spacing, reference=ref, reference_source=source, **frames)
    return [{**r.to_dict(), "stage": stage} for r in rows]


def clinical_robustness_rows(case: Case, labels, attack, budget) -> list[dict]:
    """Clinical parameters of perturbed labels (``stage = "robustness-clinical"``), tagged with
    the perturbation, kept apart from the unperturbed agreement tables."""
    return [{**r, "attack": attack, "budget": budget}
            for r in clinical_case_rows(case, labels, stage="robustness-clinical")]


class ClinicalStage(Stage):
    """See the module docstring."""

    name = "clinical"
    consumes = ("segmentation",)
    produces = "LV/RV EDV, ESV, SV, EF, LV mass (rows only)"
    has_methods = False
    metric_groups = ("clinical",)

    def enabled(self, metrics: Mapping[str, Any]) -> bool:
        return bool(metrics.get("clinical", True))

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        if metrics.get("clinical") is not None:
            validator.boolean(metrics, "clinical", prefix="metrics")

    def score(self, call: StageCall, output) -> list[dict]:
        return clinical_case_rows(call.case, output)
