"""JSON-safe conversion shared by every results object (metrics, statistics, runner)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(value: Any) -> Any:
    """Convert ``value`` to JSON-safe Python types at full precision.

    numpy scalars become ``float``/``int``, tuples and arrays become lists, and non-finite floats
    (NaN, ±inf) become ``None`` (JSON has no NaN); objects with ``to_dict`` are expanded.

    Examples
    --------
    >>> jsonable({"a": np.float32(1.5), "b": (np.nan, 2)})
    {'a': 1.5, 'b': [None, 2]}
    """
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value
