"""Private helpers shared by the statistics modules: input checks of measurement vectors.

Every public statistic validates its inputs once, at the top, through these helpers and
:mod:`suite._validation` (``check_alpha``), so every message names the function, the argument,
what was expected and what was received (STYLE R6). Results objects take their JSON
conversion and read-only arrays from :mod:`suite._serialise` and their tables from
:mod:`suite._table`.
"""

from __future__ import annotations

import math

import numpy as np

from suite._validation import check_finite, check_ndim, check_same_shape

DIRECTION = "test - reference"


def as_vector(x, *, name: str, where: str) -> np.ndarray:
    """Return ``x`` as a finite 1-D float64 array (a copy), or raise naming ``name``."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - numpy raises rarely here
        raise ValueError(f"{where}: `{name}` must be array-like of numbers; got {type(x)}") from exc
    if arr.dtype.kind not in "biuf":
        raise ValueError(
            f"{where}: `{name}` must hold real numbers (int or float); got dtype {arr.dtype}"
        )
    check_ndim(arr, 1, name=name, where=where, axes="(n,)")
    arr = arr.astype(np.float64, copy=True)
    check_finite(arr, name=name, where=where)
    return arr


def as_pair(test, reference, *, where: str, min_n: int = 3,
            names: tuple[str, str] = ("test", "reference")) -> tuple[np.ndarray, np.ndarray]:
    """Validate two paired measurement vectors: 1-D, same length, finite, at least ``min_n``."""
    t = as_vector(test, name=names[0], where=where)
    r = as_vector(reference, name=names[1], where=where)
    check_same_shape(t, r, names=names, where=where, axes="(n,)")
    if t.size < min_n:
        raise ValueError(
            f"{where}: at least {min_n} pairs are needed; got n = {t.size}"
        )
    return t, r


def check_positive(value: float, *, name: str, where: str) -> float:
    """Return ``value`` as a finite float > 0 or raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `{name}` must be a positive number; got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{where}: `{name}` must be a positive finite number; got {value!r}")
    return v
