"""What every results object shares to hand out its values: JSON-safe conversion and read-only
array copies (metrics, statistics, runner, reports)."""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

__all__ = ["jsonable", "readonly"]


def jsonable(value: Any) -> Any:
    """Convert ``value`` to JSON-safe Python types at full precision.

    numpy scalars become ``float``/``int``/``bool``, tuples, sets (sorted by their ``str``) and
    arrays become lists, and non-finite floats (NaN, ±inf) and pandas' missing values
    (``pd.NA``, ``pd.NaT``) become ``None`` (JSON has no NaN); objects with ``to_dict`` are
    expanded.

    Examples
    --------
    >>> jsonable({"a": np.float32(1.5), "b": (np.nan, 2), "c": {"y", "x"}})
    {'a': 1.5, 'b': [None, 2], 'c': ['x', 'y']}
    """
    t = type(value)  # the exact built-in types first (no ``to_dict``): most values of a report
    if t is str or value is None or t is int or t is bool:
        return value
    if t is float:
        return value if math.isfinite(value) else None
    if t is dict:
        return {k if type(k) is str else str(k): jsonable(v) for k, v in value.items()}
    if t is list:
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return value.to_dict()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return [jsonable(v) for v in sorted(value, key=str)]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    pd = sys.modules.get("pandas")  # a pandas missing value exists only once pandas is loaded
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    return value


def readonly(a, dtype=np.float64) -> np.ndarray:
    """A read-only copy of ``a`` as ``dtype`` (results objects are frozen, their arrays too).

    Examples
    --------
    >>> r = readonly([1, 2])
    >>> r.dtype, r.flags.writeable
    (dtype('float64'), False)
    """
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out
