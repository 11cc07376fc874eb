"""Private helpers shared by the statistics modules: input checks and JSON conversion.

Every public statistic validates its inputs once, at the top, through these helpers, which in
turn use :mod:`suite._validation`, so every message names the function, the argument, what was
expected and what was received (STYLE R6).
"""

from __future__ import annotations

import math

import numpy as np

from suite._serialise import jsonable  # noqa: F401  (re-exported)

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


def check_alpha(alpha: float, *, where: str) -> float:
    """Return ``alpha`` as a float in (0, 1) or raise."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `alpha` must be a number in (0, 1); got {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise ValueError(f"{where}: `alpha` must be in (0, 1); got {alpha!r}")
    return a


def check_positive(value: float, *, name: str, where: str) -> float:
    """Return ``value`` as a finite float > 0 or raise."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `{name}` must be a positive number; got {value!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{where}: `{name}` must be a positive finite number; got {value!r}")
    return v


def readonly(a: np.ndarray) -> np.ndarray:
    """Return a read-only copy of ``a`` (results objects are frozen, their arrays too)."""
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


def fmt(x: float | None, digits: int = 4) -> str:
    """Format a number for a summary table (rendering is the only place that rounds)."""
    if x is None:
        return "n/a"
    x = float(x)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}g}"


def fmt_interval(iv) -> str:
    """Format a (lower, upper) pair as ``[lo, hi]``."""
    if iv is None:
        return ""
    return f"[{fmt(iv[0])}, {fmt(iv[1])}]"
