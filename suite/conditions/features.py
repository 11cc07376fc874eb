"""Small-feature insertion as a condition: features of known size and contrast placed in the
fully sampled data before the acquisition condition (Antun et al. 2020; Darestani et al. 2021).

:class:`FeatureInsertion` wraps :func:`suite.robustness.features.insert_features`; ``info``
carries the :class:`~suite.robustness.features.FeatureSet` the recovery is scored against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suite.case import Case
from suite.conditions.base import Condition

__all__ = ["FeatureInsertion"]


class FeatureInsertion(Condition):
    """Insert ``n_features`` discs of radius ``radius_px`` and relative ``contrast``."""

    type = "features"

    def __init__(self, name: str, *, contrast: float, n_features: int = 3,
                 radius_px: float = 1.5, seed: int = 0):
        super().__init__(name)
        self.contrast, self.n_features = float(contrast), int(n_features)
        self.radius_px, self.seed = float(radius_px), int(seed)

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        from suite.robustness.features import insert_features

        featured, feature_set = insert_features(case, n_features=self.n_features,
                                                radius_px=self.radius_px,
                                                contrast=self.contrast, seed=self.seed)
        return featured, {"feature_set": feature_set}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "contrast": self.contrast, "n_features": self.n_features,
                "radius_px": self.radius_px, "seed": self.seed}
