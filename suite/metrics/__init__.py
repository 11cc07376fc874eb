"""Metrics: pure functions of (reference, prediction, meta) returning per-case values."""

from suite.metrics import image, temporal

__all__ = ["image", "temporal"]
