"""The clinical-parameter stage (:class:`ClinicalStage`, derived from segmentation)."""

from suite.stages.clinical.stage import (ClinicalStage, clinical_case_rows,
                                         clinical_robustness_rows)

__all__ = ["ClinicalStage", "clinical_case_rows", "clinical_robustness_rows"]
