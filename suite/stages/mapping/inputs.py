"""What a mapping method is given: the weighted images and their timings, from a Case.

A mapping Case holds one frame per weighted image (``(slice, frame, y, x)``) and its timings in
``meta.timings_ms`` under one key — ``TI`` (inversion times, MOLLI/ShMOLLI), ``TS``
(saturation-recovery times, SASHA; ``None`` for an image without saturation) or ``TE``
(T2-preparation durations) — either one list per slice or one list for every slice (ms).
``trigger`` (trigger times) may sit beside it and is not a fitting timing. A series with
several fitting timings maps several quantities (cardiac MRF: ``TI`` and ``TE`` → T1 and T2;
:func:`case_quantities`).
"""

from __future__ import annotations

import numpy as np

from suite.case import Case

__all__ = ["QUANTITY_OF_TIMING", "timing_key", "timing_keys", "case_quantity",
           "case_quantities", "timings_array", "weighted_images"]

#: The quantity a timing key maps (``t1`` from inversion/saturation recovery, ``t2`` from
#: T2 preparation).
QUANTITY_OF_TIMING = {"TI": "t1", "TS": "t1", "TE": "t2"}


def timing_keys(case: Case) -> tuple[str, ...]:
    """The case's fitting timing keys in ``TI``, ``TS``, ``TE`` order.

    Raises
    ------
    ValueError
        No fitting timing (not a mapping series).
    """
    keys = tuple(k for k in QUANTITY_OF_TIMING if k in case.meta.timings_ms)
    if not keys:
        raise ValueError(f"case {case.case_id!r}: a mapping series needs one of "
                         f"{sorted(QUANTITY_OF_TIMING)} in meta.timings_ms; it has "
                         f"{sorted(case.meta.timings_ms)}")
    return keys


def case_quantities(case: Case) -> tuple[str, ...]:
    """The quantities the case's series maps, ``("t1",)``, ``("t2",)`` or ``("t1", "t2")``
    (cardiac MRF)."""
    return tuple(dict.fromkeys(QUANTITY_OF_TIMING[k] for k in timing_keys(case)))


def timing_key(case: Case) -> str:
    """The case's fitting timing key (``TI``, ``TS`` or ``TE``).

    Raises
    ------
    ValueError
        No fitting timing (not a mapping series), or more than one.
    """
    keys = [k for k in case.meta.timings_ms if k in QUANTITY_OF_TIMING]
    if len(keys) != 1:
        raise ValueError(f"case {case.case_id!r}: a mapping series needs exactly one of "
                         f"{sorted(QUANTITY_OF_TIMING)} in meta.timings_ms; it has "
                         f"{sorted(case.meta.timings_ms)}")
    return keys[0]


def case_quantity(case: Case) -> str:
    """``"t1"`` or ``"t2"``: the quantity the case's series maps."""
    return QUANTITY_OF_TIMING[timing_key(case)]


def timings_array(case: Case, key: str | None = None) -> np.ndarray:
    """Timings ``(slice, 1, 1, n_images)`` float64 ms, broadcastable to
    :func:`weighted_images`; a missing timing (``None``: an image without preparation) is
    ``+inf`` (fully recovered). ``key``: default the case's only fitting timing, or its first
    (:func:`timing_keys`) for a series with several.

    Raises
    ------
    ValueError
        The timings do not give one value per frame (and per slice).
    """
    key = key or timing_keys(case)[0]
    raw = case.meta.timings_ms[key]
    rows = raw if raw and isinstance(raw[0], (list, tuple)) else [raw] * case.n_slices
    if len(rows) == 1 and case.n_slices > 1:
        rows = list(rows) * case.n_slices
    t = np.array([[np.inf if v is None else float(v) for v in r] for r in rows], np.float64)
    if t.shape != (case.n_slices, case.n_frames):
        raise ValueError(f"case {case.case_id!r}: meta.timings_ms[{key!r}] gives {t.shape} "
                         f"(slice, image) timings for {case.n_slices} slices of "
                         f"{case.n_frames} images")
    return t[:, None, None, :]


def weighted_images(images) -> np.ndarray:
    """Recon output ``(slice, frame, y, x)`` as fit input ``(slice, y, x, n_images)`` float64
    magnitude."""
    return np.moveaxis(np.abs(np.asarray(images)).astype(np.float64), 1, -1)
