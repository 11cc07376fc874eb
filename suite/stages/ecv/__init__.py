"""The ECV stage (:class:`EcvStage`, derived from the mapping outputs of a subject's native
and post-contrast T1 series)."""

from suite.stages.ecv.stage import ECV_SETTINGS, EcvStage, ecv_map_pct, haematocrit_of

__all__ = ["EcvStage", "ECV_SETTINGS", "ecv_map_pct", "haematocrit_of"]
